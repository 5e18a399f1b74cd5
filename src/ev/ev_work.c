/* ev_work: see ev_work.h.
 *
 * Two lists under one mutex: `queue` (submitted, waiting for a worker) and
 * `done` (work finished, waiting for the loop).  A worker that finishes a
 * job appends it to `done` and writes the eventfd; the loop's ev_io reads
 * the eventfd, takes the whole `done` list and runs the callbacks in the
 * order the jobs finished (not the order they were submitted in), without
 * the mutex held (a done() may submit again). */
#include "ev/ev_work.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "ev/ev.h"

struct ev_work {
	struct ev_loop *loop;
	struct ev_io io;             /* the eventfd: completions are ready */
	pthread_mutex_t lock;        /* everything below */
	pthread_cond_t cond;         /* signalled on submit and on stop */
	struct ev_work_job *queue, *queue_tail;
	struct ev_work_job *done, *done_tail;
	size_t queued, max_queued;
	unsigned running;            /* jobs in work() now */
	bool held;                   /* an exclusive job is out: start nothing */
	bool stop;
	unsigned nthreads;
	pthread_t threads[EV_WORK_MAX_THREADS];
	struct ev_work_stats stats;
};

static __thread const struct ev_work *work_current; /* set on worker threads */

static void list_append(struct ev_work_job **head, struct ev_work_job **tail,
			struct ev_work_job *job)
{
	job->next = NULL;
	if (*tail)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void *worker_main(void *arg)
{
	struct ev_work *w = arg;
	struct ev_work_job *job;
	uint64_t one = 1;

	work_current = w;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && (!w->queue || w->held ||
				    (w->queue->exclusive && w->running > 0)))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break; /* ev_work_free cancels what is still queued */
		job = w->queue;
		w->queue = job->next;
		if (!w->queue)
			w->queue_tail = NULL;
		w->queued--;
		w->running++;
		if (job->exclusive)
			w->held = true; /* until its done() ran on the loop */
		pthread_mutex_unlock(&w->lock);

		if (job->work)
			job->work(job);

		pthread_mutex_lock(&w->lock);
		w->running--;
		/* Another worker may wait for running == 0 (an exclusive job). */
		pthread_cond_broadcast(&w->cond);
		list_append(&w->done, &w->done_tail, job);
		/* Wake the loop with the lock released, or it wakes only to wait
		 * for the lock (a context switch more per job, measured). */
		pthread_mutex_unlock(&w->lock);
		/* Cannot fail short of a counter overflow (2^64 - 1 posts). */
		if (write(w->io.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("work", "eventfd write: %d", errno);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Run the done() of every finished job, in the order they finished. */
static void work_complete(struct ev_work *w)
{
	struct ev_work_job *list, *next;
	uint64_t n;

	if (read(w->io.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("work", "eventfd read: %d", errno);
	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; list; list = next) {
		bool exclusive = list->exclusive;
		next = list->next;
		w->stats.completed++;
		list->done(list, false);
		if (exclusive) {
			pthread_mutex_lock(&w->lock);
			w->held = false;
			pthread_cond_broadcast(&w->cond);
			pthread_mutex_unlock(&w->lock);
		}
	}
}

static void on_complete(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	work_complete(io->data);
}

int ev_work_new(struct ev_loop *loop, unsigned threads, size_t max_queued, struct ev_work **out)
{
	struct ev_work *w;
	int fd, r;

	*out = NULL;
	if (!loop || threads < 1 || threads > EV_WORK_MAX_THREADS || max_queued < 1)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		goto err_free;
	}
	w->loop = loop;
	w->max_queued = max_queued;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	ev_io_init(&w->io, fd, on_complete, w);
	r = ev_io_start(loop, &w->io, EV_READ);
	if (r < 0)
		goto err_close;
	/* Workers block every signal: the loop takes them through its
	 * signalfd, and one delivered to a worker (SIGHUP before main's
	 * ev_signal_add) would take its default action. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; w->nthreads < threads; w->nthreads++) {
		r = -pthread_create(&w->threads[w->nthreads], NULL, worker_main, w);
		if (r < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		ev_work_free(w);
		return r;
	}
	*out = w;
	return 0;

err_close:
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	close(fd);
err_free:
	free(w);
	return r;
}

void ev_work_free(struct ev_work *w)
{
	struct ev_work_job *queued, *next;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	queued = w->queue;
	w->queue = w->queue_tail = NULL;
	w->queued = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* A running job finishes (it may hold the database); then its done()
	 * runs below like any other completion. */
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	work_complete(w);
	for (; queued; queued = next) {
		next = queued->next;
		queued->done(queued, true);
	}
	ev_io_stop(w->loop, &w->io);
	close(w->io.fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void ev_work_job_init(struct ev_work_job *job, ev_work_fn work, ev_work_done_fn done, void *data)
{
	job->work = work;
	job->done = done;
	job->data = data;
	job->next = NULL;
	job->exclusive = false;
}

static int work_submit(struct ev_work *w, struct ev_work_job *job, bool exclusive)
{
	int r = 0;
	job->exclusive = exclusive;
	pthread_mutex_lock(&w->lock);
	if (w->stop) {
		r = -ESHUTDOWN;
	} else if (w->queued >= w->max_queued) {
		w->stats.rejected++;
		r = -EAGAIN;
	} else {
		list_append(&w->queue, &w->queue_tail, job);
		w->queued++;
		w->stats.submitted++;
	}
	pthread_mutex_unlock(&w->lock);
	/* Signalled with the lock released, so that the worker does not wake
	 * only to wait for it. */
	if (r == 0)
		pthread_cond_broadcast(&w->cond);
	return r;
}

int ev_work_submit(struct ev_work *w, struct ev_work_job *job)
{
	return work_submit(w, job, false);
}

int ev_work_submit_exclusive(struct ev_work *w, struct ev_work_job *job)
{
	return work_submit(w, job, true);
}

void ev_work_stats(struct ev_work *w, struct ev_work_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	out->queued = w->queued;
	out->max_queued = w->max_queued;
	pthread_mutex_unlock(&w->lock);
}

unsigned ev_work_threads(const struct ev_work *w)
{
	return w->nthreads;
}

bool ev_work_on_worker(const struct ev_work *w)
{
	return work_current == w;
}

#include "tftp/tftp_file.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ev/ev.h"

#define MOD "tftp"
#define WARM_BUF (256 * 1024) /* a worker's pread buffer */

struct tftp_file_job {
	struct tftp_file_job *next;
	struct tftp_file *file;    /* referenced while the job lives */
	uint64_t off, len;
	tftp_file_done_cb done;    /* NULL once cancelled; under the mutex */
	bool cancelled;            /* under the mutex: skip the read */
	void *arg;
	int err;
};

/* The list of files is searched linearly: a boot server hands out tens of
 * distinct files (boot programs, kernels, images), not thousands, and the
 * search runs once per request, not per packet. */
struct tftp_file_cache {
	struct ev_loop *loop;
	struct tftp_file *files;
	unsigned n_files;
	struct ev_timer sweep;         /* closes lingering unused entries */
	struct ev_io done_io;          /* eventfd: workers finished jobs */
	pthread_t workers[TFTP_FILE_WORKERS];
	unsigned n_workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tftp_file_job *queue, **queue_tail; /* waiting for a worker */
	struct tftp_file_job *done;    /* finished, for the loop */
	bool stopping;
};

static void file_close(struct tftp_file *f)
{
	if (f->map)
		munmap((void *)f->map, f->size);
	close(f->fd);
	free(f);
}

static void cache_unlink(struct tftp_file_cache *c, struct tftp_file *f)
{
	for (struct tftp_file **pp = &c->files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			c->n_files--;
			return;
		}
}

static void cache_sweep_cb(struct ev_loop *loop, struct ev_timer *t)
{
	struct tftp_file_cache *c = t->data;
	uint64_t now = now_ms();
	struct tftp_file **pp = &c->files;
	while (*pp) {
		struct tftp_file *f = *pp;
		if (f->refs == 0 && now - f->unused_since_ms >= TFTP_FILE_LINGER_MS) {
			*pp = f->next;
			c->n_files--;
			file_close(f);
		} else {
			pp = &f->next;
		}
	}
	if (c->files)
		ev_timer_start(loop, &c->sweep, TFTP_FILE_LINGER_MS / 2);
}

int tftp_file_get(struct tftp_file_cache *c, int fd, struct tftp_file **out)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	for (struct tftp_file *f = c->files; f; f = f->next) {
		if (f->dev != st.st_dev || f->ino != st.st_ino || f->stale)
			continue;
		if (f->mtime_ns == mtime && f->size == (uint64_t)st.st_size) {
			close(fd);
			f->refs++;
			*out = f;
			return 0;
		}
		/* Same inode, new version (written in place): new transfers
		 * get a fresh entry; the old one goes when unused. */
		f->stale = true;
	}
	struct tftp_file *f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mtime_ns = mtime;
	f->refs = 1;
	if (f->size > 0) {
		void *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			int r = -errno;
			close(fd);
			free(f);
			return r;
		}
		/* Transfers read front to back; the kernel reads ahead more
		 * and drops pages behind sooner. */
		madvise(m, f->size, MADV_SEQUENTIAL);
		f->map = m;
	}
	f->next = c->files;
	c->files = f;
	c->n_files++;
	if (!ev_timer_active(&c->sweep))
		ev_timer_start(c->loop, &c->sweep, TFTP_FILE_LINGER_MS / 2);
	*out = f;
	return 0;
}

void tftp_file_put(struct tftp_file_cache *c, struct tftp_file *f)
{
	if (!f || --f->refs > 0)
		return;
	if (f->stale) {
		cache_unlink(c, f);
		file_close(f);
		return;
	}
	f->unused_since_ms = now_ms();
}

bool tftp_file_ready(const struct tftp_file *f, uint64_t off, uint64_t len)
{
	if (off >= f->size || len == 0)
		return true;
	if (len > f->size - off)
		len = f->size - off;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t lo = off & ~(uint64_t)(page - 1), hi = off + len;
	size_t npages = (size_t)((hi - lo + page - 1) / page);
	unsigned char vec[1024];
	/* Checked in slices so the vector stays on the stack. */
	for (size_t done = 0; done < npages;) {
		size_t n = npages - done < sizeof(vec) ? npages - done : sizeof(vec);
		size_t bytes = n * page;
		if (lo + done * page + bytes > f->size)
			bytes = (size_t)(f->size - (lo + done * page));
		if (mincore((void *)(f->map + lo + done * page), bytes, vec) < 0)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!(vec[i] & 1))
				return false;
		done += n;
	}
	return true;
}

/* ---- workers ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
	struct tftp_file_cache *c = arg;
	uint8_t *buf = malloc(WARM_BUF);
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->queue && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stopping)
			break;
		struct tftp_file_job *j = c->queue;
		c->queue = j->next;
		if (!c->queue)
			c->queue_tail = &c->queue;
		bool wanted = !j->cancelled;
		pthread_mutex_unlock(&c->mu);

		/* pread, not touching the mapping: it blocks here until the
		 * pages are in the page cache, and a file truncated meanwhile
		 * gives a short read rather than a SIGBUS. */
		int err = 0;
		if (wanted && buf) {
			uint64_t off = j->off, end = j->off + j->len;
			while (off < end) {
				size_t want = end - off < WARM_BUF ? (size_t)(end - off) : WARM_BUF;
				/* Many transfers of one cold file ask for the same
				 * range at about the same time: after the first,
				 * the pages are there and a mincore is all it
				 * costs. */
				if (tftp_file_ready(j->file, off, want)) {
					off += want;
					continue;
				}
				ssize_t n = pread(j->file->fd, buf, want, (off_t)off);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					err = -errno;
					break;
				}
				if (n == 0) {
					/* Before the end the file had when
					 * opened: it was truncated in place. */
					err = -ENODATA;
					break;
				}
				off += (uint64_t)n;
			}
		}
		j->err = buf ? err : -ENOMEM;

		pthread_mutex_lock(&c->mu);
		j->next = c->done;
		c->done = j;
		uint64_t one = 1;
		if (write(c->done_io.fd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow at our rates; nothing to do. */
		}
	}
	pthread_mutex_unlock(&c->mu);
	free(buf);
	return NULL;
}

static void cache_done_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct tftp_file_cache *c = io->data;
	uint64_t n;
	if (read(io->fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake-up already drained it. */
	}
	pthread_mutex_lock(&c->mu);
	struct tftp_file_job *j = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->mu);
	while (j) {
		struct tftp_file_job *next = j->next;
		/* Read done under the mutex: tftp_file_cancel runs on the
		 * loop too, so it cannot race with this call. */
		if (j->done)
			j->done(j->arg, j->err);
		tftp_file_put(c, j->file);
		free(j);
		j = next;
	}
}

struct tftp_file_job *tftp_file_prefetch(struct tftp_file_cache *c, struct tftp_file *f,
					 uint64_t off, uint64_t len,
					 tftp_file_done_cb done, void *arg)
{
	if (c->n_workers == 0)
		return NULL;
	struct tftp_file_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->file = f;
	f->refs++;
	j->off = off;
	j->len = off >= f->size ? 0 : len < f->size - off ? len : f->size - off;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&c->mu);
	*c->queue_tail = j;
	c->queue_tail = &j->next;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return j;
}

void tftp_file_cancel(struct tftp_file_cache *c, struct tftp_file_job *job)
{
	if (!job)
		return;
	pthread_mutex_lock(&c->mu);
	job->done = NULL;
	job->cancelled = true;
	pthread_mutex_unlock(&c->mu);
}

unsigned tftp_file_cache_count(const struct tftp_file_cache *c)
{
	return c->n_files;
}

int tftp_file_cache_new(struct ev_loop *loop, struct tftp_file_cache **out)
{
	struct tftp_file_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->queue_tail = &c->queue;
	ev_timer_init(&c->sweep, cache_sweep_cb, c);
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		free(c);
		return -errno;
	}
	ev_io_init(&c->done_io, fd, cache_done_cb, c);
	int r = ev_io_start(loop, &c->done_io, EV_READ);
	if (r < 0) {
		close(fd);
		free(c);
		return r;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* Workers take no signals: the loop gets them through signalfd,
	 * and a signal it blocks later must not land on a worker, whose
	 * mask would still let it through (SIGTERM would kill pxed). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < TFTP_FILE_WORKERS; i++) {
		if ((r = pthread_create(&c->workers[i], NULL, worker_main, c)) != 0) {
			/* Fewer workers still work; none means sends may
			 * block on the disk, which the log says. */
			log_warn(MOD, "file warm-up worker: %s", strerror(r));
			break;
		}
		c->n_workers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*out = c;
	return 0;
}

/* At shutdown: the files go right after, whatever their count. */
static void jobs_drop(struct tftp_file_job *j)
{
	while (j) {
		struct tftp_file_job *next = j->next;
		j->file->refs--;
		free(j);
		j = next;
	}
}

void tftp_file_cache_free(struct tftp_file_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (unsigned i = 0; i < c->n_workers; i++)
		pthread_join(c->workers[i], NULL);
	jobs_drop(c->queue);
	jobs_drop(c->done);
	while (c->files) {
		struct tftp_file *f = c->files;
		c->files = f->next;
		file_close(f);
	}
	ev_timer_stop(c->loop, &c->sweep);
	ev_io_stop(c->loop, &c->done_io);
	close(c->done_io.fd);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

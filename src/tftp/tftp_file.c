#include "tftp/tftp_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ev/ev.h"
#include "ev/ev_work.h"

#define MOD "tftp"
#define WARM_BUF (256 * 1024) /* a worker's pread buffer */

struct tftp_file_job {
	struct ev_work_job job;
	struct tftp_file_cache *cache;
	struct tftp_file *file;    /* referenced while the job lives */
	uint64_t off, len;
	tftp_file_done_cb done;    /* NULL once cancelled; loop only */
	bool cancelled;            /* atomic: set on the loop, read on the worker */
	void *arg;
	int err;                   /* written by work(), read by done() */
};

/* The list of files is searched linearly: a boot server hands out tens of
 * distinct files (boot programs, kernels, images), not thousands, and the
 * search runs once per request, not per packet. */
struct tftp_file_cache {
	struct ev_loop *loop;
	struct tftp_file *files;
	unsigned n_files;
	struct ev_timer sweep;         /* closes lingering unused entries */
	struct ev_work *work;          /* the disk reads */
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

/* ---- disk reads, on the cache's ev_work ---------------------------------- */

/* On a worker. */
static void job_work(struct ev_work_job *wj)
{
	struct tftp_file_job *j = wj->data;
	uint8_t *buf = NULL;
	int err = 0;

	if (__atomic_load_n(&j->cancelled, __ATOMIC_ACQUIRE) || j->len == 0)
		goto done;
	size_t bufsz = j->len < WARM_BUF ? (size_t)j->len : WARM_BUF;
	buf = malloc(bufsz);
	if (!buf) {
		err = -ENOMEM;
		goto done;
	}
	/* pread, not touching the mapping: it blocks here until the pages
	 * are in the page cache, and a file truncated meanwhile gives a
	 * short read rather than a SIGBUS. */
	uint64_t off = j->off, end = j->off + j->len;
	while (off < end) {
		size_t want = end - off < bufsz ? (size_t)(end - off) : bufsz;
		/* Many transfers of one cold file ask for the same range at
		 * about the same time: after the first, the pages are there
		 * and a mincore is all it costs. */
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
			/* Before the end the file had when opened: it was
			 * truncated in place. */
			err = -ENODATA;
			break;
		}
		off += (uint64_t)n;
	}
done:
	free(buf);
	j->err = err;
}

/* On the loop, once per job: after it ran, or when the cache is freed
 * with the job still queued (cancelled). */
static void job_done(struct ev_work_job *wj, bool cancelled)
{
	struct tftp_file_job *j = wj->data;
	/* done is NULL once tftp_file_cancel() ran, on this thread too. */
	if (j->done && !cancelled)
		j->done(j->arg, j->err);
	tftp_file_put(j->cache, j->file);
	free(j);
}

struct tftp_file_job *tftp_file_prefetch(struct tftp_file_cache *c, struct tftp_file *f,
					 uint64_t off, uint64_t len,
					 tftp_file_done_cb done, void *arg)
{
	if (!c->work)
		return NULL;
	struct tftp_file_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->cache = c;
	j->file = f;
	j->off = off;
	j->len = off >= f->size ? 0 : len < f->size - off ? len : f->size - off;
	j->done = done;
	j->arg = arg;
	ev_work_job_init(&j->job, job_work, job_done, j);
	if (ev_work_submit(c->work, &j->job) < 0) {
		/* The queue is full (every transfer already waits for a
		 * read): the caller sends without waiting, as with no
		 * memory. */
		free(j);
		return NULL;
	}
	f->refs++;
	return j;
}

void tftp_file_cancel(struct tftp_file_cache *c, struct tftp_file_job *job)
{
	if (!job)
		return;
	job->done = NULL;
	/* Read by the worker: a job not started yet skips its read. */
	__atomic_store_n(&job->cancelled, true, __ATOMIC_RELEASE);
}

unsigned tftp_file_cache_count(const struct tftp_file_cache *c)
{
	return c->n_files;
}

int tftp_file_cache_new(struct ev_loop *loop, unsigned workers, size_t max_queued,
			struct tftp_file_cache **out)
{
	struct tftp_file_cache *c = calloc(1, sizeof(*c));
	int r;
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	ev_timer_init(&c->sweep, cache_sweep_cb, c);
	r = ev_work_new(loop, workers, max_queued, &c->work);
	if (r < 0) {
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

void tftp_file_cache_free(struct tftp_file_cache *c)
{
	if (!c)
		return;
	/* Waits for the reads in progress; their done() and the cancelled
	 * jobs' drop their references before the files are closed. */
	ev_work_free(c->work);
	while (c->files) {
		struct tftp_file *f = c->files;
		c->files = f->next;
		file_close(f);
	}
	ev_timer_stop(c->loop, &c->sweep);
	free(c);
}

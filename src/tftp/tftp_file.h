/* tftp_file: the TFTP engine's shared open-file cache and its page-cache
 * warm-up workers.
 *
 * A file requested by many clients at once (a hundred machines fetching
 * the same boot.wim after a power cut) is opened and mapped once: every
 * transfer of that version holds a reference to one struct tftp_file.  The
 * key is the file's identity (device, inode) and version (mtime, size),
 * taken with fstat on the descriptor that content_open just resolved, so
 * the name is looked up again for every request: a file replaced on disk
 * (new inode, or a new mtime/size) gets a new entry for new transfers,
 * while running transfers finish the version they started with.  Nothing
 * stale is ever served.  (A file rewritten in place, same inode, is seen by
 * running transfers as it changes, as with every read-based server: replace
 * boot images with rename(2).)  An unused entry lingers TFTP_FILE_LINGER_MS
 * so clients fetching one after the other do not reopen it each time.
 *
 * The data is sent from a read-only MAP_SHARED mapping: sendmsg copies
 * straight from the page cache into the socket buffer, no read() copy.  The
 * event loop never touches the mapping itself (a page beyond a truncated
 * end makes sendmsg fail with EFAULT, where a user-space access would be a
 * SIGBUS).
 *
 * Disk reads never stall the loop: before a window is sent the engine asks
 * tftp_file_ready (mincore) whether its pages are resident; when they are
 * not, tftp_file_prefetch hands the range to a worker, which reads it with
 * pread (so it blocks, not the loop); the transfer's callback then runs on
 * the loop.  The workers are an ev_work instance of the cache's own
 * ([tftp] Workers threads): the same mechanism as the store's worker, a
 * separate queue, so a cold read of a large image never delays a
 * decision, and a slow database never delays a boot file.  Reads complete
 * in any order; each callback gets its own transfer (arg).  Why not a
 * library (libuv's fs pool, liburing): pxed's loop is its own (src/ev),
 * the job is one pread loop per range, and io_uring is often disabled in
 * containers.  Why not O_DIRECT or AIO: both bypass or complicate the page
 * cache that makes serving one image to many clients cheap. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ev_loop;
struct tftp_file_cache;

#define TFTP_FILE_LINGER_MS 10000

struct tftp_file {
	struct tftp_file *next;    /* the cache's list */
	unsigned refs;             /* transfers and jobs holding it */
	int fd;                    /* O_RDONLY, for netascii pread and warm-up */
	const uint8_t *map;        /* whole file, PROT_READ MAP_SHARED; NULL if empty */
	uint64_t size;
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	bool stale;                /* a newer version exists: drop when unused */
	uint64_t unused_since_ms;  /* when refs fell to 0 */
};

/* Called on the loop when a prefetch finished (err: 0 or negative errno). */
typedef void (*tftp_file_done_cb)(void *arg, int err);

/* workers: threads reading from disk (1 to EV_WORK_MAX_THREADS);
 * max_queued: reads waiting at most (beyond, tftp_file_prefetch says
 * NULL). */
int tftp_file_cache_new(struct ev_loop *loop, unsigned workers, size_t max_queued,
			struct tftp_file_cache **out);
/* Waits for the reads in progress; reads still queued are dropped (no
 * callback).  Accepts NULL. */
void tftp_file_cache_free(struct tftp_file_cache *c);

/* Get the shared entry for an open regular file.  Takes fd in every case
 * (closed when an entry for the same version already exists, or on error).
 * 0 or a negative errno. */
int tftp_file_get(struct tftp_file_cache *c, int fd, struct tftp_file **out);
/* Drop a reference.  Accepts NULL. */
void tftp_file_put(struct tftp_file_cache *c, struct tftp_file *f);

/* Are the pages of [off, off+len) in the page cache now? */
bool tftp_file_ready(const struct tftp_file *f, uint64_t off, uint64_t len);

/* Read [off, off+len) into the page cache on a worker; done(arg, err) is
 * called on the loop afterwards, unless cancelled.  err is -ENODATA when
 * the file ended before off+len (truncated since it was opened).  done may be NULL (a
 * read-ahead hint).  Returns a job handle (for tftp_file_cancel) or NULL
 * when no memory or the queue is full (the caller may then go on: the
 * send only blocks). */
struct tftp_file_job *tftp_file_prefetch(struct tftp_file_cache *c, struct tftp_file *f,
					 uint64_t off, uint64_t len,
					 tftp_file_done_cb done, void *arg);
/* The callback of job will not be called.  Accepts NULL. */
void tftp_file_cancel(struct tftp_file_cache *c, struct tftp_file_job *job);

/* Entries open now (for logs and tests). */
unsigned tftp_file_cache_count(const struct tftp_file_cache *c);

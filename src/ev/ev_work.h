/* ev_work: slow work (the database, the disk) off the event loop.
 *
 * A bounded FIFO queue served by worker threads.  A job's work() runs on a
 * worker; its done() then runs on the loop thread, posted back through an
 * eventfd registered as an ev_io, so everything network-facing stays on
 * the loop and never waits for the database.
 *
 * Jobs are owned by the caller (embed struct ev_work_job in your own
 * struct); the facility never allocates per job.  done() is where the
 * caller frees it.
 *
 * The contract on order: jobs start in submission order, but nothing is
 * promised about the order they complete in.  With several workers a
 * short job submitted later finishes before a long one submitted first,
 * and its done() runs first.  Each done() is called exactly once with its
 * own job, so a caller finds its context through job->data (or the
 * struct the job is embedded in), never by assuming the completion is
 * for "the oldest pending" request.
 *
 * pxed runs several instances of this one mechanism, each with its own
 * queue so that one kind of slow work never delays another: the store
 * worker(s) (decisions, API calls, events), the PXEPassword hashing
 * (http_server.c) and the TFTP disk reads (tftp_file.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct ev_work;
struct ev_work_job;

/* On a worker thread: must not touch loop-owned state. */
typedef void (*ev_work_fn)(struct ev_work_job *job);
/* On the loop thread.  cancelled = true when the job was dropped from
 * the queue by ev_work_free() without running. */
typedef void (*ev_work_done_fn)(struct ev_work_job *job, bool cancelled);

struct ev_work_job {
	ev_work_fn work;
	ev_work_done_fn done;
	void *data;                /* the owner's context */
	struct ev_work_job *next;  /* internal: queue link */
	bool exclusive;            /* internal: see ev_work_submit_exclusive() */
};

struct ev_work_stats {
	uint64_t submitted;
	uint64_t completed;        /* done() called after work() ran */
	uint64_t rejected;         /* ev_work_submit() refused: queue full */
	size_t queued;             /* waiting for a worker now */
	size_t max_queued;
};

/* threads: 1 to EV_WORK_MAX_THREADS; max_queued: jobs waiting (not
 * counting running ones). */
#define EV_WORK_MAX_THREADS 16
int ev_work_new(struct ev_loop *loop, unsigned threads, size_t max_queued, struct ev_work **out);
/* Clean shutdown, from the loop thread: queued jobs are cancelled
 * (done(job, true)), running jobs are waited for and their done() runs
 * (cancelled = false), then the threads are joined.  Accepts NULL. */
void ev_work_free(struct ev_work *w);

void ev_work_job_init(struct ev_work_job *job, ev_work_fn work, ev_work_done_fn done, void *data);
/* Queue a job.  0, or -EAGAIN when max_queued jobs are waiting (the
 * caller drops the job or answers "busy"), -ESHUTDOWN while freeing. */
int ev_work_submit(struct ev_work *w, struct ev_work_job *job);
/* A barrier, for changing on the loop what jobs read (the settings): the
 * job waits until no other job runs, and no job starts until its done()
 * has returned.  work may be NULL; done() makes the change.  The loop
 * never waits for it: everything else keeps running meanwhile. */
int ev_work_submit_exclusive(struct ev_work *w, struct ev_work_job *job);
void ev_work_stats(struct ev_work *w, struct ev_work_stats *out);
/* How many worker threads w runs. */
unsigned ev_work_threads(const struct ev_work *w);
/* True on one of w's worker threads. */
bool ev_work_on_worker(const struct ev_work *w);

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev/ev.h"
#include "ev/ev_work.h"

/* What the jobs of one test record, all read on the loop thread. */
struct rec {
	struct ev_loop *loop;
	struct ev_work *w;
	pthread_t loop_thread;
	int order[64];       /* job ids in the order done() ran */
	int n_done, n_cancelled, n_ran, stop_after;
	bool all_on_loop;    /* every done() ran on the loop thread */
	bool all_on_worker;  /* every work() ran on a worker thread */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	bool gate_open;      /* jobs with `gated` wait for this */
};

struct tjob {
	struct ev_work_job job;
	struct rec *rec;
	int id;
	bool gated;
	bool ran;
};

static void tjob_work(struct ev_work_job *j)
{
	struct tjob *t = j->data;
	struct rec *rc = t->rec;
	if (!ev_work_on_worker(rc->w) || pthread_equal(pthread_self(), rc->loop_thread))
		rc->all_on_worker = false;
	if (t->gated) {
		pthread_mutex_lock(&rc->gate_lock);
		while (!rc->gate_open)
			pthread_cond_wait(&rc->gate_cond, &rc->gate_lock);
		pthread_mutex_unlock(&rc->gate_lock);
	}
	t->ran = true;
}

static void tjob_done(struct ev_work_job *j, bool cancelled)
{
	struct tjob *t = j->data;
	struct rec *rc = t->rec;
	if (!pthread_equal(pthread_self(), rc->loop_thread))
		rc->all_on_loop = false;
	if (cancelled) {
		assert_false(t->ran);
		rc->n_cancelled++;
	} else {
		assert_true(t->ran);
		rc->order[rc->n_done++] = t->id;
	}
	free(t);
	if (rc->stop_after && rc->n_done == rc->stop_after)
		ev_stop(rc->loop);
}

static struct tjob *tjob_new(struct rec *rc, int id, bool gated)
{
	struct tjob *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->rec = rc;
	t->id = id;
	t->gated = gated;
	ev_work_job_init(&t->job, tjob_work, tjob_done, t);
	return t;
}

static void rec_init(struct rec *rc, unsigned threads, size_t max_queued)
{
	memset(rc, 0, sizeof(*rc));
	rc->loop_thread = pthread_self();
	rc->all_on_loop = rc->all_on_worker = true;
	pthread_mutex_init(&rc->gate_lock, NULL);
	pthread_cond_init(&rc->gate_cond, NULL);
	assert_int_equal(ev_loop_new(&rc->loop), 0);
	assert_int_equal(ev_work_new(rc->loop, threads, max_queued, &rc->w), 0);
}

static void gate_open(struct rec *rc)
{
	pthread_mutex_lock(&rc->gate_lock);
	rc->gate_open = true;
	pthread_cond_broadcast(&rc->gate_cond);
	pthread_mutex_unlock(&rc->gate_lock);
}

static void rec_free(struct rec *rc)
{
	ev_work_free(rc->w);
	ev_loop_free(rc->loop);
	pthread_cond_destroy(&rc->gate_cond);
	pthread_mutex_destroy(&rc->gate_lock);
}

static void on_deadline(struct ev_loop *loop, struct ev_timer *t)
{
	fail_msg("jobs did not complete in time");
}

/* One worker: jobs start in submission order (the contract), so with a
 * single thread they also complete in it; done() on the loop thread,
 * work() on the worker.  With more threads see test_out_of_order. */
static void test_order(void **state)
{
	struct rec rc;
	struct ev_timer deadline;
	rec_init(&rc, 1, 64);
	ev_timer_init(&deadline, on_deadline, NULL);
	ev_timer_start(rc.loop, &deadline, 5000);
	rc.stop_after = 50;
	for (int i = 0; i < 50; i++)
		assert_int_equal(ev_work_submit(rc.w, &tjob_new(&rc, i, false)->job), 0);
	assert_int_equal(ev_run(rc.loop), 0);
	ev_timer_stop(rc.loop, &deadline);
	assert_int_equal(rc.n_done, 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(rc.order[i], i);
	assert_true(rc.all_on_loop);
	assert_true(rc.all_on_worker);
	assert_false(ev_work_on_worker(rc.w));
	struct ev_work_stats st;
	ev_work_stats(rc.w, &st);
	assert_int_equal(st.submitted, 50);
	assert_int_equal(st.completed, 50);
	assert_int_equal(st.queued, 0);
	rec_free(&rc);
}

/* While the worker is held, at most max_queued jobs wait; the next is
 * refused with -EAGAIN and counted, and the queue takes jobs again once
 * it drains. */
static void test_bounded(void **state)
{
	struct rec rc;
	struct ev_work_stats st;
	rec_init(&rc, 1, 4);
	struct tjob *first = tjob_new(&rc, 0, true);
	assert_int_equal(ev_work_submit(rc.w, &first->job), 0);
	/* Wait until the worker took the gated job off the queue. */
	for (int i = 0; i < 2000; i++) {
		ev_work_stats(rc.w, &st);
		if (st.queued == 0)
			break;
		usleep(1000);
	}
	for (int i = 1; i <= 4; i++)
		assert_int_equal(ev_work_submit(rc.w, &tjob_new(&rc, i, false)->job), 0);
	struct tjob *extra = tjob_new(&rc, 99, false);
	assert_int_equal(ev_work_submit(rc.w, &extra->job), -EAGAIN);
	free(extra);
	ev_work_stats(rc.w, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.queued, 4);
	gate_open(&rc);
	rc.stop_after = 5;
	assert_int_equal(ev_run(rc.loop), 0);
	assert_int_equal(rc.n_done, 5);
	assert_int_equal(ev_work_submit(rc.w, &tjob_new(&rc, 5, false)->job), 0);
	rc.stop_after = 6;
	assert_int_equal(ev_run(rc.loop), 0);
	assert_int_equal(rc.order[5], 5);
	rec_free(&rc);
}

static void *open_later(void *arg)
{
	usleep(50 * 1000);
	gate_open(arg);
	return NULL;
}

/* Freeing with jobs pending: the running one finishes and completes, the
 * queued ones are cancelled; every done() runs once (ASan: no leak). */
static void test_shutdown(void **state)
{
	struct rec rc;
	struct ev_work_stats st;
	pthread_t opener;
	rec_init(&rc, 2, 16);
	assert_int_equal(ev_work_submit(rc.w, &tjob_new(&rc, 0, true)->job), 0);
	assert_int_equal(ev_work_submit(rc.w, &tjob_new(&rc, 1, true)->job), 0);
	for (int i = 0; i < 2000; i++) {
		ev_work_stats(rc.w, &st);
		if (st.queued == 0)
			break;
		usleep(1000);
	}
	for (int i = 2; i < 10; i++)
		assert_int_equal(ev_work_submit(rc.w, &tjob_new(&rc, i, false)->job), 0);
	assert_int_equal(pthread_create(&opener, NULL, open_later, &rc), 0);
	ev_work_free(rc.w);
	rc.w = NULL;
	pthread_join(opener, NULL);
	assert_int_equal(rc.n_done, 2);
	assert_int_equal(rc.n_cancelled, 8);
	assert_true(rc.all_on_loop);
	rec_free(&rc);
}

/* A done() may submit the next job (the HTTP boot path does). */
struct chain {
	struct ev_work_job job;
	struct ev_loop *loop;
	struct ev_work *w;
	int left;
};

static void chain_work(struct ev_work_job *j) { }

static void chain_done(struct ev_work_job *j, bool cancelled)
{
	struct chain *c = j->data;
	if (--c->left == 0) {
		ev_stop(c->loop);
		return;
	}
	assert_int_equal(ev_work_submit(c->w, &c->job), 0);
}

static void test_resubmit(void **state)
{
	struct chain c = { .left = 20 };
	assert_int_equal(ev_loop_new(&c.loop), 0);
	assert_int_equal(ev_work_new(c.loop, 1, 1, &c.w), 0);
	ev_work_job_init(&c.job, chain_work, chain_done, &c);
	assert_int_equal(ev_work_submit(c.w, &c.job), 0);
	assert_int_equal(ev_run(c.loop), 0);
	assert_int_equal(c.left, 0);
	ev_work_free(c.w);
	ev_loop_free(c.loop);
}

/* An exclusive job waits for the running one, and nothing starts until
 * its done() returned on the loop. */
struct excl {
	struct ev_work_job job;
	struct rec *rc;
	int kind;          /* 0 = gated first job, 1 = exclusive, 2 = after */
};
static int excl_state; /* 0 start, 1 first done, 2 exclusive done; atomics */
static int excl_seen_by_after = -1;

static void excl_work(struct ev_work_job *j)
{
	struct excl *x = j->data;
	if (x->kind == 0) {
		struct rec *rc = x->rc;
		pthread_mutex_lock(&rc->gate_lock);
		while (!rc->gate_open)
			pthread_cond_wait(&rc->gate_cond, &rc->gate_lock);
		pthread_mutex_unlock(&rc->gate_lock);
	} else if (x->kind == 2) {
		excl_seen_by_after = __atomic_load_n(&excl_state, __ATOMIC_SEQ_CST);
	}
}

static void excl_done(struct ev_work_job *j, bool cancelled)
{
	struct excl *x = j->data;
	assert_false(cancelled);
	if (x->kind == 0) {
		__atomic_store_n(&excl_state, 1, __ATOMIC_SEQ_CST);
	} else if (x->kind == 1) {
		/* The first job finished before this ran. */
		assert_int_equal(__atomic_load_n(&excl_state, __ATOMIC_SEQ_CST), 1);
		usleep(20 * 1000); /* a worker that wrongly started now would see 1 */
		__atomic_store_n(&excl_state, 2, __ATOMIC_SEQ_CST);
	} else {
		ev_stop(x->rc->loop);
	}
}

static void test_exclusive(void **state)
{
	struct rec rc;
	struct excl x[3];
	pthread_t opener;
	rec_init(&rc, 2, 8);
	for (int i = 0; i < 3; i++) {
		x[i].rc = &rc;
		x[i].kind = i;
		ev_work_job_init(&x[i].job, i == 1 ? NULL : excl_work, excl_done, &x[i]);
	}
	assert_int_equal(ev_work_submit(rc.w, &x[0].job), 0);
	assert_int_equal(ev_work_submit_exclusive(rc.w, &x[1].job), 0);
	assert_int_equal(ev_work_submit(rc.w, &x[2].job), 0);
	assert_int_equal(pthread_create(&opener, NULL, open_later, &rc), 0);
	assert_int_equal(ev_run(rc.loop), 0);
	pthread_join(opener, NULL);
	assert_int_equal(excl_seen_by_after, 2);
	rec_free(&rc);
}

/* Several workers, jobs finishing out of submission order: job 0 is held
 * until every other job has completed, and the others sleep for times
 * that do not follow their order.  Each completion must reach its own
 * context, exactly once, whatever order they arrive in. */
#define OOO_JOBS 24
struct ooo_ctx {
	struct ev_work_job job;
	struct rec *rec;
	int id;
	unsigned sleep_us;
	int ran;                 /* work() calls, on a worker */
	int done;                /* done() calls, on the loop */
	bool own_job;            /* done() got this context's own job */
};
static int ooo_remaining;

static void ooo_work(struct ev_work_job *j)
{
	struct ooo_ctx *c = j->data;
	if (c->id == 0) {
		struct rec *rc = c->rec;
		pthread_mutex_lock(&rc->gate_lock);
		while (!rc->gate_open)
			pthread_cond_wait(&rc->gate_cond, &rc->gate_lock);
		pthread_mutex_unlock(&rc->gate_lock);
	} else {
		usleep(c->sleep_us);
	}
	c->ran++;
}

static void ooo_done(struct ev_work_job *j, bool cancelled)
{
	struct ooo_ctx *c = j->data;
	struct rec *rc = c->rec;
	assert_false(cancelled);
	c->done++;
	c->own_job = j == &c->job;
	rc->order[rc->n_done++] = c->id;
	/* Job 0 may finish only after all the others completed here. */
	if (--ooo_remaining == 1)
		gate_open(rc);
	if (ooo_remaining == 0)
		ev_stop(rc->loop);
}

static void test_out_of_order(void **state)
{
	struct rec rc;
	struct ev_timer deadline;
	struct ooo_ctx ctx[OOO_JOBS];
	rec_init(&rc, 4, 64);
	ev_timer_init(&deadline, on_deadline, NULL);
	ev_timer_start(rc.loop, &deadline, 10000);
	ooo_remaining = OOO_JOBS;
	for (int i = 0; i < OOO_JOBS; i++) {
		memset(&ctx[i], 0, sizeof(ctx[i]));
		ctx[i].rec = &rc;
		ctx[i].id = i;
		/* Later jobs of each group of four sleep less. */
		ctx[i].sleep_us = (unsigned)(4 - i % 4) * 7000;
		ev_work_job_init(&ctx[i].job, ooo_work, ooo_done, &ctx[i]);
		assert_int_equal(ev_work_submit(rc.w, &ctx[i].job), 0);
	}
	assert_int_equal(ev_run(rc.loop), 0);
	ev_timer_stop(rc.loop, &deadline);
	assert_int_equal(rc.n_done, OOO_JOBS);
	for (int i = 0; i < OOO_JOBS; i++) {
		assert_int_equal(ctx[i].ran, 1);
		assert_int_equal(ctx[i].done, 1);
		assert_true(ctx[i].own_job);
	}
	/* The first submitted completed last: the order really differed. */
	assert_int_equal(rc.order[OOO_JOBS - 1], 0);
	assert_true(rc.all_on_loop);
	struct ev_work_stats st;
	ev_work_stats(rc.w, &st);
	assert_int_equal(st.completed, OOO_JOBS);
	rec_free(&rc);
}

static void test_bad_args(void **state)
{
	struct ev_loop *loop;
	struct ev_work *w;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(ev_work_new(loop, 0, 4, &w), -EINVAL);
	assert_int_equal(ev_work_new(loop, EV_WORK_MAX_THREADS + 1, 4, &w), -EINVAL);
	assert_int_equal(ev_work_new(loop, 1, 0, &w), -EINVAL);
	ev_work_free(NULL);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_resubmit),
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests_name("ev_work", tests, NULL, NULL);
}

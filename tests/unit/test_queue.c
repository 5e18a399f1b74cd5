/* The decider's bounded FIFO (src/decide/queue.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "decide/queue.h"

struct item {
	int64_t a;
	int b;
};

static void push_n(struct queue *q, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		struct item it = { i, -i };
		assert_int_equal(queue_push(q, &it), 0);
	}
}

/* Up to max, in order; beyond it refused and counted. */
static void test_bounded(void **state)
{
	struct queue q;
	void *items;
	(void)state;
	queue_init(&q, sizeof(struct item), 40);
	push_n(&q, 0, 40);
	struct item extra = { 99, 99 };
	assert_int_equal(queue_push(&q, &extra), -ENOBUFS);
	assert_int_equal(queue_push(&q, &extra), -ENOBUFS);
	assert_int_equal(q.dropped, 2);
	assert_int_equal(q.n, 40);
	assert_true(q.cap <= 40);
	for (int i = 0; i < 40; i++)
		assert_int_equal(((struct item *)queue_at(&q, (size_t)i))->a, i);
	assert_int_equal(queue_take(&q, &items), 40);
	assert_int_equal(q.n, 0);
	assert_int_equal(((struct item *)items)[39].b, -39);
	free(items);
	assert_int_equal(queue_take(&q, &items), 0);
	assert_null(items);
	queue_clear(&q);
}

/* A batch that could not be written goes back in front of what came
 * since; when it does not fit, it is dropped and counted. */
static void test_requeue(void **state)
{
	struct queue q;
	void *batch, *items;
	(void)state;
	queue_init(&q, sizeof(struct item), 10);
	push_n(&q, 0, 4);
	assert_int_equal(queue_take(&q, &batch), 4);
	push_n(&q, 4, 3);
	assert_true(queue_requeue(&q, batch, 4));
	assert_int_equal(q.n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(((struct item *)queue_at(&q, (size_t)i))->a, i);
	push_n(&q, 7, 3); /* full now */
	assert_int_equal(queue_take(&q, &batch), 10);
	push_n(&q, 10, 1);
	assert_false(queue_requeue(&q, batch, 10));
	assert_int_equal(q.dropped, 10);
	assert_int_equal(q.n, 1);
	assert_true(queue_requeue(&q, NULL, 0));
	assert_int_equal(queue_take(&q, &items), 1);
	assert_int_equal(((struct item *)items)[0].a, 10);
	free(items);
	queue_clear(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_requeue),
	};
	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}

/* queue: see queue.h. */
#include "decide/queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation; it doubles from there up to max. */
#define QUEUE_FIRST_CAP 16

void queue_init(struct queue *q, size_t item_size, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->size = item_size;
	q->max = max;
}

void queue_clear(struct queue *q)
{
	free(q->items);
	q->items = NULL;
	q->n = q->cap = 0;
}

int queue_push(struct queue *q, const void *item)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : QUEUE_FIRST_CAP;
		void *m;
		if (q->n >= q->max) {
			q->dropped++;
			return -ENOBUFS;
		}
		if (cap > q->max)
			cap = q->max;
		m = realloc(q->items, cap * q->size);
		if (!m) {
			q->dropped++;
			return -ENOMEM;
		}
		q->items = m;
		q->cap = cap;
	}
	memcpy(queue_at(q, q->n), item, q->size);
	q->n++;
	return 0;
}

size_t queue_take(struct queue *q, void **items)
{
	size_t n = q->n;
	*items = q->items;
	q->items = NULL;
	q->n = q->cap = 0;
	return n;
}

bool queue_requeue(struct queue *q, void *items, size_t n)
{
	void *m;
	if (!n) {
		free(items);
		return true;
	}
	if (n > q->max || q->n > q->max - n || !(m = realloc(items, (n + q->n) * q->size))) {
		q->dropped += n;
		free(items);
		return false;
	}
	if (q->n)
		memcpy((char *)m + n * q->size, q->items, q->n * q->size);
	free(q->items);
	q->items = m;
	q->n += n;
	q->cap = q->n;
	return true;
}

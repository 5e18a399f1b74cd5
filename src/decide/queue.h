/* queue: a bounded FIFO of fixed-size items that counts what it drops.
 *
 * The decider queues two kinds of writes it owes the store -- boot events
 * and last-seen times -- so that the event loop never writes and a burst
 * becomes one transaction.  Both are this one type; only their limits
 * differ.  The items live in one array, taken out whole by the writer
 * (queue_take()) and put back in front when the write has to wait
 * (queue_requeue()).
 *
 * Not thread-safe: the owner holds its own lock around every call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue {
	void *items;          /* n items of size bytes; NULL when empty */
	size_t size;          /* bytes an item */
	size_t n, cap;        /* items queued, room allocated */
	size_t max;           /* never more than this many queued */
	uint64_t dropped;     /* items refused (full, out of memory) or lost on requeue */
};

void queue_init(struct queue *q, size_t item_size, size_t max);
/* Free the items; the queue is empty (and usable) again. */
void queue_clear(struct queue *q);
/* Append a copy of *item.  0, or -ENOBUFS (full) / -ENOMEM, both counted
 * in dropped. */
int queue_push(struct queue *q, const void *item);
/* Take every item out: *items is the caller's to free (NULL when none).
 * Returns how many. */
size_t queue_take(struct queue *q, void **items);
/* Put n items taken out before back in front of those queued since, in
 * their order; takes items over either way.  False when they do not fit
 * (they are dropped and counted). */
bool queue_requeue(struct queue *q, void *items, size_t n);
/* The i-th item from the front (i < n). */
static inline void *queue_at(const struct queue *q, size_t i)
{
	return (char *)q->items + i * q->size;
}

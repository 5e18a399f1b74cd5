/* http_stream: /api/v1/events/stream, every decision as it is made, as
 * Server-Sent Events (HTML Living Standard §9.2) for the console's Live
 * page.
 *
 *   decide (worker or loop) --http_stream_publish()--> ring (mutex, O(1))
 *        --eventfd--> loop: resume the suspended subscribers
 *        --MHD content reader (loop)--> "data: {...}\n\n" to each
 *
 * The ring holds the last HTTP_STREAM_RING decisions, already written as
 * JSON; each subscriber keeps its place in it.  Publishing never waits
 * for a subscriber: one that falls more than the ring behind (a slow or
 * stalled client) loses the oldest events, is told how many with an
 * "event: dropped" message, and the loss is counted in /metrics.  An idle
 * subscriber's connection is suspended (MHD_suspend_connection) until the
 * next decision or the keep-alive comment every HTTP_STREAM_PING_MS.
 * At most [http] MaxEventStreams subscribers at once; more get 503. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define HTTP_STREAM_RING 1024      /* decisions kept for subscribers */
#define HTTP_STREAM_ITEM 1536      /* bytes of one decision's JSON, at most */
#define HTTP_STREAM_PING_MS 15000  /* keep-alive comment; also notices a sign-out */

struct ev_loop;
struct http_server;
struct http_stream_hub;
struct store_event;
struct decision;

int http_stream_hub_new(struct http_server *s, struct http_stream_hub **out);
/* End every stream (resuming them, so MHD can close them): before the
 * MHD daemons stop. */
void http_stream_close_all(struct http_stream_hub *h);
void http_stream_hub_free(struct http_stream_hub *h); /* accepts NULL */

/* A decider_publish_fn: any thread, never blocks on a subscriber. */
void http_stream_publish(void *hub, const struct store_event *ev, const struct decision *dec);

struct http_stream_stats {
	unsigned subscribers;      /* streams open now */
	uint64_t published;        /* decisions put in the ring */
	uint64_t dropped;          /* decisions a slow subscriber missed */
	uint64_t refused;          /* streams refused: MaxEventStreams */
	uint64_t too_large;        /* decisions whose JSON did not fit an item */
};
void http_stream_get_stats(struct http_stream_hub *h, struct http_stream_stats *out);

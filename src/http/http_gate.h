/* http_gate: how many HTTP connections pxed holds, in all and per client
 * address, and the decision to take one more.
 *
 * libmicrohttpd has limits of its own, but reaching them in the external
 * epoll mode pxed runs it in takes its listening socket out of its epoll
 * set, and nothing counts what it turns away.  pxed keeps MHD's limits
 * out of reach and applies these ones in MHD's accept policy callback
 * instead: a connection over a limit is closed at once (the client sees
 * the connection closed and tries again later) and counted by reason.
 *
 * Pure bookkeeping, no sockets: one slot per held connection; the
 * per-address count scans the slots (a few hundred), once per accept. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum http_gate_verdict {
	HTTP_GATE_ADMIT = 0,
	HTTP_GATE_FULL,          /* MaxConnections held */
	HTTP_GATE_PER_ADDRESS,   /* MaxConnectionsPerAddress held by this address */
};

struct http_gate {
	struct http_gate_slot {
		uint8_t addr[16];    /* IPv4 as ::ffff:a.b.c.d */
		bool used;
	} *slot;
	unsigned n_slots;        /* the limit in all */
	unsigned held;           /* used slots */
	unsigned per_address;    /* the limit per address; 0 = none */
	uint64_t refused[3];     /* by verdict (index 0 unused) */
};

/* 0 or -ENOMEM.  max_total >= 1. */
int http_gate_init(struct http_gate *g, unsigned max_total, unsigned per_address);
void http_gate_fini(struct http_gate *g); /* accepts a zeroed gate */

/* May a connection from sa be taken now?  Counts a refusal. */
enum http_gate_verdict http_gate_check(struct http_gate *g, const struct sockaddr *sa,
				       socklen_t len);
/* A connection from sa was taken: its slot index (>= 0) to give back
 * with http_gate_leave(), or -ENOSPC (never after an ADMIT). */
int http_gate_enter(struct http_gate *g, const struct sockaddr *sa, socklen_t len);
void http_gate_leave(struct http_gate *g, int slot);

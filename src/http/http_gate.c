#include "http/http_gate.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The address as 16 bytes: IPv6 as is, IPv4 mapped (RFC 4291 §2.5.5.2),
 * so that a client reaching both listeners is one client.  Anything else
 * (no address) is all zeros: one shared bucket. */
static void addr_key(const struct sockaddr *sa, socklen_t len, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6 &&
		   len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

int http_gate_init(struct http_gate *g, unsigned max_total, unsigned per_address)
{
	memset(g, 0, sizeof(*g));
	g->slot = calloc(max_total ? max_total : 1, sizeof(*g->slot));
	if (!g->slot)
		return -ENOMEM;
	g->n_slots = max_total ? max_total : 1;
	g->per_address = per_address;
	return 0;
}

void http_gate_fini(struct http_gate *g)
{
	free(g->slot);
	g->slot = NULL;
	g->n_slots = g->held = 0;
}

enum http_gate_verdict http_gate_check(struct http_gate *g, const struct sockaddr *sa,
				       socklen_t len)
{
	uint8_t key[16];
	unsigned same = 0;

	if (g->held >= g->n_slots) {
		g->refused[HTTP_GATE_FULL]++;
		return HTTP_GATE_FULL;
	}
	if (!g->per_address)
		return HTTP_GATE_ADMIT;
	addr_key(sa, len, key);
	for (unsigned i = 0; i < g->n_slots; i++)
		if (g->slot[i].used && !memcmp(g->slot[i].addr, key, 16) && ++same >= g->per_address) {
			g->refused[HTTP_GATE_PER_ADDRESS]++;
			return HTTP_GATE_PER_ADDRESS;
		}
	return HTTP_GATE_ADMIT;
}

int http_gate_enter(struct http_gate *g, const struct sockaddr *sa, socklen_t len)
{
	for (unsigned i = 0; i < g->n_slots; i++) {
		if (g->slot[i].used)
			continue;
		addr_key(sa, len, g->slot[i].addr);
		g->slot[i].used = true;
		g->held++;
		return (int)i;
	}
	return -ENOSPC;
}

void http_gate_leave(struct http_gate *g, int slot)
{
	if (slot < 0 || (unsigned)slot >= g->n_slots || !g->slot[slot].used)
		return;
	g->slot[slot].used = false;
	g->held--;
}

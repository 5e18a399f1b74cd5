#include "wake/wol.h"

#include "common/log.h"
#include "ev/ev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void wol_build(const uint8_t mac[MAC_LEN], uint8_t out[WOL_PACKET_LEN])
{
	memset(out, 0xff, 6);
	for (int i = 0; i < 16; i++)
		memcpy(out + 6 + i * MAC_LEN, mac, MAC_LEN);
}

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || strchr(", \t", p[-1])) && (p[n] == '\0' || strchr(", \t", p[n])))
			return true;
	return false;
}

int wol_ifaces_find(const char *list, struct wol_ifaces *out)
{
	struct ifaddrs *ifa, *i;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && out->n < WOL_MAX_IFACES; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    !(i->ifa_flags & IFF_BROADCAST) || (i->ifa_flags & IFF_LOOPBACK) ||
		    !i->ifa_broadaddr)
			continue;
		if (list && *list && !listed(list, i->ifa_name))
			continue;
		out->bcast[out->n++] = ((const struct sockaddr_in *)i->ifa_broadaddr)->sin_addr;
		if (pos + strlen(i->ifa_name) + 2 < sizeof(out->names))
			pos += (size_t)snprintf(out->names + pos, sizeof(out->names) - pos, "%s%s",
						pos ? "," : "", i->ifa_name);
	}
	freeifaddrs(ifa);
	return (int)out->n;
}

in_addr_t wol_directed(in_addr_t addr, unsigned prefix)
{
	uint32_t a = ntohl(addr), host;

	if (!a || prefix < 8 || prefix > 30)
		return 0;
	host = (1u << (32 - prefix)) - 1;
	return htonl(a | host);
}

/* ---- batches and the sender ----------------------------------------------- */

#define RELAY_SLOTS 16384 /* power of two; 10 bytes a slot */

struct wol_machine {
	uint8_t mac[MAC_LEN];
	in_addr_t directed;        /* 0 = none */
};

struct wol_batch {
	struct wol_batch *prev, *next; /* the sender's list */
	struct wol_sched *w;
	struct ev_timer timer;
	struct wol_ifaces ifaces;
	char what[96];             /* for the log line: "collection 'x'" */
	unsigned round;            /* 0 .. WOL_REPEAT-1 */
	size_t at;                 /* next machine of this round */
	uint64_t round_ms;         /* when this round started */
	uint64_t errors;
	int last_err;
	size_t n, max;
	struct wol_machine m[];
};

struct wol_relay_slot {
	uint8_t mac[MAC_LEN];
	in_addr_t giaddr;          /* 0 = empty */
};

struct wol_sched {
	struct ev_loop *loop;
	int fd;
	struct wol_batch *head;
	size_t pending;            /* atomic: reserved or in batches */
	struct wol_stats st;       /* packets, directed, errors: loop; busy: atomic */
	struct wol_relay_slot relay[RELAY_SLOTS];
};

struct wol_batch *wol_batch_new(size_t max, const struct wol_ifaces *ifaces, const char *what)
{
	struct wol_batch *b;

	if (max > WOL_MAX_DEVICES)
		return NULL;
	b = calloc(1, sizeof(*b) + max * sizeof(b->m[0]));
	if (!b)
		return NULL;
	b->max = max;
	b->ifaces = *ifaces;
	str_copy(b->what, sizeof(b->what), what);
	return b;
}

void wol_batch_free(struct wol_batch *b)
{
	free(b);
}

int wol_batch_add(struct wol_batch *b, const uint8_t mac[MAC_LEN])
{
	if (b->n >= b->max)
		return -ENOSPC;
	memcpy(b->m[b->n++].mac, mac, MAC_LEN);
	return 0;
}

size_t wol_batch_count(const struct wol_batch *b)
{
	return b->n;
}

const char *wol_batch_ifaces(const struct wol_batch *b)
{
	return b->ifaces.names;
}

const char *wol_batch_what(const struct wol_batch *b)
{
	return b->what;
}

static size_t relay_slot(const uint8_t mac[MAC_LEN])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < MAC_LEN; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h & (RELAY_SLOTS - 1);
}

void wol_sched_note_relay(struct wol_sched *w, const uint8_t mac[MAC_LEN], struct in_addr giaddr)
{
	struct wol_relay_slot *r = &w->relay[relay_slot(mac)];
	memcpy(r->mac, mac, MAC_LEN);
	r->giaddr = giaddr.s_addr;
}

bool wol_sched_relay(const struct wol_sched *w, const uint8_t mac[MAC_LEN], struct in_addr *giaddr)
{
	const struct wol_relay_slot *r = &w->relay[relay_slot(mac)];
	if (!r->giaddr || memcmp(r->mac, mac, MAC_LEN) != 0)
		return false;
	giaddr->s_addr = r->giaddr;
	return true;
}

int wol_sched_new(struct ev_loop *loop, struct wol_sched **out)
{
	struct wol_sched *w = calloc(1, sizeof(*w));
	int one = 1, err;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (w->fd < 0 || setsockopt(w->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) {
		err = -errno;
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

static void batch_unlink(struct wol_sched *w, struct wol_batch *b)
{
	ev_timer_stop(w->loop, &b->timer);
	if (b->prev)
		b->prev->next = b->next;
	else
		w->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	__atomic_sub_fetch(&w->pending, b->n, __ATOMIC_RELAXED);
}

void wol_sched_free(struct wol_sched *w)
{
	if (!w)
		return;
	while (w->head) {
		struct wol_batch *b = w->head;
		batch_unlink(w, b);
		free(b);
	}
	close(w->fd);
	free(w);
}

int wol_sched_reserve(struct wol_sched *w, size_t n, size_t max)
{
	size_t cur = __atomic_load_n(&w->pending, __ATOMIC_RELAXED);
	do {
		if (cur + n > max) {
			__atomic_add_fetch(&w->st.busy, 1, __ATOMIC_RELAXED);
			return -EBUSY;
		}
	} while (!__atomic_compare_exchange_n(&w->pending, &cur, cur + n, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 0;
}

void wol_sched_release(struct wol_sched *w, size_t n)
{
	__atomic_sub_fetch(&w->pending, n, __ATOMIC_RELAXED);
}

static void send_one(struct wol_sched *w, struct wol_batch *b, const uint8_t *pkt, in_addr_t to_addr,
		     bool directed)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(WOL_PORT) };

	to.sin_addr.s_addr = to_addr;
	if (sendto(w->fd, pkt, WOL_PACKET_LEN, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		b->errors++;
		b->last_err = errno;
		w->st.errors++;
		return;
	}
	w->st.packets++;
	if (directed)
		w->st.directed++;
}

/* One loop turn of a batch: up to WOL_BURST machines of the current
 * round; then the rest of the round at the next turn, or the next round
 * WOL_REPEAT_GAP_MS after this one started, or the end. */
static void on_batch_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct wol_batch *b = t->data;
	struct wol_sched *w = b->w;
	uint8_t pkt[WOL_PACKET_LEN];
	size_t end = b->at + WOL_BURST < b->n ? b->at + WOL_BURST : b->n;
	uint64_t now = ev_now(loop), gap;

	if (b->at == 0)
		b->round_ms = now;
	for (; b->at < end; b->at++) {
		wol_build(b->m[b->at].mac, pkt);
		for (unsigned i = 0; i < b->ifaces.n; i++)
			send_one(w, b, pkt, b->ifaces.bcast[i].s_addr, false);
		if (b->m[b->at].directed)
			send_one(w, b, pkt, b->m[b->at].directed, true);
	}
	/* 1 ms, not 0: the rest of the round after the loop's next poll. */
	if (b->at < b->n && ev_timer_start(loop, t, 1) == 0)
		return;
	if (b->at < b->n)
		b->round = WOL_REPEAT; /* cannot be re-armed (no memory): give up */
	if (++b->round < WOL_REPEAT) {
		b->at = 0;
		gap = now - b->round_ms;
		if (ev_timer_start(loop, t, gap >= WOL_REPEAT_GAP_MS ? 1 : WOL_REPEAT_GAP_MS - gap) == 0)
			return;
	}
	if (b->errors)
		log_warn("wol", "%s: %llu of the Wake-on-LAN packets not sent: %s", b->what,
			 (unsigned long long)b->errors, strerror(b->last_err));
	batch_unlink(w, b);
	free(b);
}

size_t wol_sched_start(struct wol_sched *w, struct wol_batch *b, unsigned relay_prefix)
{
	size_t directed = 0;
	struct in_addr gi;

	for (size_t i = 0; relay_prefix && i < b->n; i++)
		if (wol_sched_relay(w, b->m[i].mac, &gi) &&
		    (b->m[i].directed = wol_directed(gi.s_addr, relay_prefix)))
			directed++;
	b->w = w;
	b->next = w->head;
	if (w->head)
		w->head->prev = b;
	w->head = b;
	ev_timer_init(&b->timer, on_batch_timer, b);
	/* The first round now, in this loop turn; the timer keeps the rest. */
	on_batch_timer(w->loop, &b->timer);
	return directed;
}

void wol_sched_stats(struct wol_sched *w, struct wol_stats *out)
{
	*out = w->st;
	out->busy = __atomic_load_n(&w->st.busy, __ATOMIC_RELAXED);
	out->pending = __atomic_load_n(&w->pending, __ATOMIC_RELAXED);
}

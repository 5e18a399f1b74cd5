/* wol: Wake-on-LAN magic packets.
 *
 * A magic packet is 6 bytes 0xFF then the target MAC 16 times (AMD's
 * "Magic Packet Technology" white paper, 1995), sent here as a UDP
 * datagram to port 9 (discard) at the IPv4 broadcast address of each
 * chosen interface, so it reaches a powered-off NIC on that segment.
 * A plain UDP socket with SO_BROADCAST: no extra capability. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct ev_loop;

#define WOL_PACKET_LEN 102
#define WOL_PORT 9
#define WOL_REPEAT 3          /* packets per request */
#define WOL_REPEAT_GAP_MS 100 /* between them */
#define WOL_MAX_DEVICES 100000 /* most machines one batch may hold ([pxe] WakeMaxDevices) */
#define WOL_MAX_IFACES 16     /* broadcast interfaces used */
#define WOL_BURST 256         /* machines per round sent in one loop turn */

/* Pure: the magic packet for mac. */
void wol_build(const uint8_t mac[MAC_LEN], uint8_t out[WOL_PACKET_LEN]);

/* The broadcast addresses of the interfaces named in list (comma or
 * space separated; NULL or "" = every up, non-loopback interface with an
 * IPv4 broadcast address), at most WOL_MAX_IFACES; names lists them
 * ("eth0,eth1").  Returns how many (0: none matched), or a negative errno. */
struct wol_ifaces {
	unsigned n;
	struct in_addr bcast[WOL_MAX_IFACES];
	char names[256];
};
int wol_ifaces_find(const char *list, struct wol_ifaces *out);

/* The directed broadcast address of the subnet of addr with prefix length
 * prefix (8..30); 0 (INADDR_ANY) for another prefix or no address. */
in_addr_t wol_directed(in_addr_t addr, unsigned prefix);

/* One request's machines: their MACs, sent to every address of ifaces,
 * and to the directed broadcast of the relayed subnet each was last seen
 * on (filled by wol_sched_start). */
struct wol_batch;
struct wol_batch *wol_batch_new(size_t max, const struct wol_ifaces *ifaces, const char *what);
void wol_batch_free(struct wol_batch *b); /* accepts NULL */
int wol_batch_add(struct wol_batch *b, const uint8_t mac[MAC_LEN]); /* -ENOSPC when full */
size_t wol_batch_count(const struct wol_batch *b);
const char *wol_batch_ifaces(const struct wol_batch *b); /* "eth0,eth1" */
const char *wol_batch_what(const struct wol_batch *b);

/* The sender: WOL_REPEAT rounds per batch, WOL_REPEAT_GAP_MS apart, from
 * the loop's timers (no thread ever sleeps), at most WOL_BURST machines
 * per loop turn so a large batch does not hold the loop up. */
struct wol_sched;
struct wol_stats {
	uint64_t packets;     /* magic packets sent */
	uint64_t directed;    /* of them, to a relayed subnet's directed broadcast */
	uint64_t errors;      /* sends that failed */
	uint64_t busy;        /* requests refused: WOL_MAX_PENDING machines pending */
	size_t pending;       /* machines in batches not finished */
};
int wol_sched_new(struct ev_loop *loop, struct wol_sched **out);
void wol_sched_free(struct wol_sched *w); /* accepts NULL; drops pending batches */
/* Any thread: reserve room for n machines before a batch is built and its
 * events recorded; -EBUSY (counted) when more than max would be pending. */
int wol_sched_reserve(struct wol_sched *w, size_t n, size_t max);
void wol_sched_release(struct wol_sched *w, size_t n);
/* Loop thread: the relay (DHCP giaddr) a machine's last relayed request
 * came through; kept in memory only, in a fixed table (a MAC whose slot
 * another takes is forgotten). */
void wol_sched_note_relay(struct wol_sched *w, const uint8_t mac[MAC_LEN], struct in_addr giaddr);
bool wol_sched_relay(const struct wol_sched *w, const uint8_t mac[MAC_LEN], struct in_addr *giaddr);
/* Loop thread: send b (its reservation of wol_batch_count(b) machines
 * becomes the batch's), the first round at once.  relay_prefix: the prefix
 * length of relayed subnets for their directed broadcast (0 = none).
 * Takes b.  Returns how many machines get a directed broadcast too. */
size_t wol_sched_start(struct wol_sched *w, struct wol_batch *b, unsigned relay_prefix);
void wol_sched_stats(struct wol_sched *w, struct wol_stats *out);

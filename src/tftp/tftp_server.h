/* tftp_server: read-only TFTP server on the event loop (RFC 1350 with the
 * RFC 2347/2348/2349/7440 options).
 *
 * One listening socket on conf->tftp_port receives requests; each accepted
 * RRQ gets its own ephemeral UDP socket (the server's TID, RFC 1350 §4),
 * bound to the local address the request was sent to (IP_PKTINFO) and
 * connected to the client.  Write requests are refused: pxed never stores
 * what a client sends.
 *
 * Files come from the shared cache in tftp_file.h (opened and mapped once
 * however many clients read them, warmed by worker threads so the loop
 * never waits for the disk).  A window of DATA leaves in one sendmmsg,
 * in UDP GSO trains where the route allows, straight from the mapping.
 * The window adapts to loss and the retransmission timeout to the
 * measured round trip; see tftp_server.c for the rules and the memory
 * per transfer. */
#pragma once
#include <stdint.h>

struct ev_loop;
struct pxed_conf;
struct content;
struct tftp_server;

struct tftp_stats {
	uint64_t active;      /* transfers running now */
	uint64_t completed;   /* last block acknowledged */
	uint64_t failed;      /* timed out, client error, or I/O error */
	uint64_t aborted;     /* client ended it after the OACK (EDK2 tsize probe) */
	uint64_t refused;     /* requests answered with an ERROR (name, WRQ, ...) */
	uint64_t busy;        /* requests refused (ERROR) at MaxTransfers */
	uint64_t busy_per_address; /* ... at MaxTransfersPerAddress */
	uint64_t unacknowledged; /* transfers given up without any ACK */
	uint64_t bytes;       /* file bytes sent in DATA, first sends only */
	uint64_t retransmits; /* DATA/OACK packets sent again */
};

/* conf and content must outlive the server.  0 or negative errno. */
int tftp_server_new(struct ev_loop *loop, const struct pxed_conf *conf,
		    const struct content *content, struct tftp_server **out);
/* Ends running transfers (without counting them) and closes all sockets.
 * Accepts NULL. */
void tftp_server_free(struct tftp_server *s);
void tftp_server_stats(const struct tftp_server *s, struct tftp_stats *out);

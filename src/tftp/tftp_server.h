/* tftp_server: read-only TFTP server on the event loop (RFC 1350 with the
 * RFC 2347/2348/2349/7440 options).
 *
 * One listening socket on conf->tftp_port receives requests; each accepted
 * RRQ gets its own ephemeral UDP socket (the server's TID, RFC 1350 §4),
 * bound to the local address the request was sent to (IP_PKTINFO) and
 * connected to the client.  Write requests are refused: pxed never stores
 * what a client sends.
 *
 * Admission (who may start a transfer) is tftp_admit.h; the transfer
 * engine is tftp_xfer.c.  Files come from the shared cache in tftp_file.h
 * (opened and mapped once however many clients read them, warmed by
 * worker threads so the loop never waits for the disk).  A window of DATA leaves in one sendmmsg,
 * in UDP GSO trains where the route allows, straight from the mapping.
 * The window adapts to loss and the retransmission timeout to the
 * measured round trip; see tftp_xfer.c for the rules and the memory
 * per transfer. */
#pragma once
#include <netinet/in.h>
#include <stddef.h>
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

/* ---- generated files --------------------------------------------------
 * Some names are not files but made per request (the per-machine GRUB
 * configuration).  A generator is asked first about every read request;
 * it says -ENOENT for a name that is not its own, or takes the request
 * (0) and later, maybe after a database round trip on the worker, calls
 * tftp_gen_reply() once with a file descriptor holding the content
 * (tftp_gen_memfd()) or a negative errno (-ENOENT: "File not found").
 * The transfer then runs like any other.  At most TFTP_GEN_MAX requests
 * wait for a generator at once (more are refused as busy and counted). */
#define TFTP_GEN_MAX 256

struct tftp_gen_req;
/* name: as the client sent it, checked to be printable ASCII without
 * NUL; peer: the client's address. */
typedef int (*tftp_gen_fn)(void *ctx, const char *name, struct in_addr peer,
			   struct in_addr local, struct tftp_gen_req *req);
void tftp_server_set_generator(struct tftp_server *s, tftp_gen_fn fn, void *ctx);
/* Takes fd (>= 0) or an error; req is gone afterwards.  Safe after the
 * server was freed (the request is then dropped). */
void tftp_gen_reply(struct tftp_gen_req *req, int fd_or_err);
/* A sealed in-memory file holding len bytes of data: its fd, or a
 * negative errno. */
int tftp_gen_memfd(const char *data, size_t len);

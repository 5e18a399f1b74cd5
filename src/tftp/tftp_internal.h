/* What tftp_server.c (the listening socket, requests, admission's calls)
 * and tftp_xfer.c (the transfer engine) share: the server object and the
 * engine's entry points.  Not for other modules. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/content.h"
#include "tftp/tftp_addr.h"
#include "tftp/tftp_admit.h"
#include "tftp/tftp_packet.h"
#include "tftp/tftp_server.h"

#define MOD "tftp"

/* The biggest datagram we read; any UDP payload fits. */
#define TFTP_RX_MAX 65536
#define TFTP_NAME_LOG_MAX (CONTENT_NAME_MAX * 4 + 4) /* escaped name */

struct tftp_xfer;
struct tftp_file;
struct tftp_file_cache;

struct tftp_server {
	tftp_gen_fn gen;               /* generated files, or NULL */
	void *gen_ctx;
	struct tftp_gen_req *gen_reqs; /* waiting for the generator */
	unsigned n_gen;
	struct ev_loop *loop;
	const struct pxed_conf *conf;
	const struct content *content;
	struct tftp_file_cache *files;
	struct ev_io io;               /* the listening socket */
	struct tftp_admit admit;       /* slots: every running transfer */
	unsigned max_blksize, max_window, max_transfers;
	/* The engine's counters; active, busy, refused and unacknowledged
	 * are admission's (tftp_server_stats adds them). */
	struct tftp_stats stats;
	/* One window being built, shared by all transfers (max_window
	 * entries each): DATA headers, netascii packets, iovecs, messages. */
	uint8_t (*hdr)[TFTP_HDR_LEN];
	uint8_t *nbuf;                 /* netascii: nbuf_blocks x (4 + max_blksize) */
	unsigned nbuf_blocks;          /* the largest netascii window */
	struct iovec *iov;             /* 2 per block */
	struct mmsghdr *msgs;
	unsigned *pkts_upto;           /* packets in messages 0..m, per m */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} *gso_ctl;                    /* one UDP_SEGMENT per message */
	uint8_t rx[TFTP_RX_MAX];
};

/* ---- the engine (tftp_xfer.c) ---- */

/* The shared window buffers, for s->max_window and s->max_blksize. */
int tftp_xfer_buffers_new(struct tftp_server *s);
void tftp_xfer_buffers_free(struct tftp_server *s);

/* Start an admitted transfer: its socket (bound to local, connected to
 * peer), the options (RFC 2347), then the OACK or the first DATA.  Takes
 * the file reference.  0 (the transfer runs; it may already have ended,
 * e.g. the client was gone), or a negative errno when it could not be set
 * up (nothing sent; the caller answers the client). */
int tftp_xfer_start(struct tftp_server *s, const struct tftp_addr *peer,
		    const struct tftp_addr *local, const struct tftp_packet *req,
		    const struct tftp_req_opts *o, struct tftp_file *file);
/* End every transfer without counting it (shutdown). */
void tftp_xfer_free_all(struct tftp_server *s);

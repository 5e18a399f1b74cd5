#include "tftp/tftp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/content.h"
#include "common/log.h"
#include "common/util.h"
#include "conf/conf.h"
#include "ev/ev.h"
#include "tftp/tftp_packet.h"

#define MOD "tftp"

/* Used when the settings leave a limit at 0. */
#define TFTP_DEFAULT_MAX_BLKSIZE 1468 /* fills a 1500-byte Ethernet MTU */
#define TFTP_DEFAULT_MAX_WINDOW 64
#define TFTP_DEFAULT_MAX_TRANSFERS 256

/* Retransmission: the first timeout is the negotiated one (RFC 2349) or
 * 1 s, doubling per retry up to TFTP_RTO_CAP_MS; after TFTP_MAX_TRIES
 * timeouts in a row without progress (1+2+4+8+8 = 23 s at the default)
 * the transfer is given up.  RFC 1123 §4.2.3.2 asks for adaptive timeouts;
 * exponential backoff bounded by a deadline is the usual simplification. */
#define TFTP_RTO_MS 1000
#define TFTP_RTO_CAP_MS 8000
#define TFTP_MAX_TRIES 5

/* The biggest datagram we read; any UDP payload fits. */
#define TFTP_RX_MAX 65536
#define TFTP_NAME_LOG_MAX (CONTENT_NAME_MAX * 4 + 4) /* escaped name */

/* Where a block starts in the file: enough to rebuild the block for a
 * retransmission, in netascii too (where blocks do not map to fixed file
 * offsets). */
struct tftp_block_state {
	uint64_t off; /* file offset of the block's first input byte */
	int pending;  /* netascii: second byte of a pair still owed, or -1 */
};

/* One read transfer.  States: OACK sent and waiting for ACK 0
 * (oack_pending), then sending windows of DATA: each window is blocks
 * acked+1 .. acked+windowsize, sent back to back, then the timer waits for
 * the ACK of the window's last block.  It ends on the ACK of the final
 * (short) block, a client ERROR, a send error, or TFTP_MAX_TRIES timeouts. */
struct tftp_xfer {
	struct tftp_server *srv;
	struct tftp_xfer *prev, *next; /* the server's list of transfers */
	struct ev_io io;
	struct ev_timer timer;
	int file_fd;
	uint64_t size;                 /* file size at open */
	struct sockaddr_in peer;       /* the client's address and TID */
	char peer_str[INET_ADDRSTRLEN + 8];
	char name[TFTP_NAME_LOG_MAX];  /* requested name, escaped for logs */
	enum tftp_mode mode;
	unsigned blksize, windowsize;
	unsigned rto_ms;               /* base retransmission timeout */
	unsigned tries;                /* timeouts in a row without progress */
	bool oack_pending;             /* OACK sent, waiting for ACK 0 */
	uint8_t *oack;                 /* the OACK, kept for retransmission */
	size_t oack_len;
	/* Blocks are counted from 1 without wrapping; the wire carries the
	 * low 16 bits (see xfer_on_ack for the rollover). */
	uint64_t acked;                /* highest block acknowledged */
	uint64_t sent;                 /* highest block of the current window sent */
	uint64_t gen;                  /* highest block ever built */
	uint64_t last;                 /* the final (short) block, 0 until known */
	struct tftp_block_state next_state; /* where block gen + 1 starts */
	struct tftp_block_state *ring; /* start of blocks acked+1..gen, by block % ring_n */
	size_t ring_n;
	uint64_t start_ms;
	uint64_t bytes;                /* payload bytes sent, counted once */
	uint8_t *buf;                  /* one DATA packet: header + blksize */
	uint8_t *scratch;              /* netascii: file bytes before conversion */
};

struct tftp_server {
	struct ev_loop *loop;
	const struct pxed_conf *conf;
	const struct content *content;
	struct ev_io io;               /* the listening socket */
	struct tftp_xfer *xfers;       /* running transfers */
	unsigned max_blksize, max_window, max_transfers;
	struct tftp_stats stats;
	uint64_t busy_logged_ms;       /* last "MaxTransfers reached" warning */
	uint64_t busy_since_log;       /* requests dropped since that warning */
	uint8_t rx[TFTP_RX_MAX];
};

static void peer_format(const struct sockaddr_in *sin, char *out, size_t outlen)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	snprintf(out, outlen, "%s:%u", ip, ntohs(sin->sin_port));
}

/* ---- transfers ---------------------------------------------------------- */

enum xfer_result { XFER_DONE, XFER_ABORTED, XFER_FAILED };

static void xfer_free(struct tftp_xfer *x)
{
	struct tftp_server *s = x->srv;
	ev_io_stop(s->loop, &x->io);
	ev_timer_stop(s->loop, &x->timer);
	if (x->io.fd >= 0)
		close(x->io.fd);
	if (x->file_fd >= 0)
		close(x->file_fd);
	if (x->prev)
		x->prev->next = x->next;
	else
		s->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	s->stats.active--;
	free(x->oack);
	free(x->ring);
	free(x->buf);
	free(x->scratch);
	free(x);
}

/* End a transfer: one log line, the counters, and the teardown. */
static void xfer_finish(struct tftp_xfer *x, enum xfer_result res, const char *why)
{
	struct tftp_server *s = x->srv;
	uint64_t ms = now_ms() - x->start_ms;
	enum log_level lvl = LOG_LVL_INFO;
	const char *word = "done";
	switch (res) {
	case XFER_DONE:
		s->stats.completed++;
		break;
	case XFER_ABORTED:
		s->stats.aborted++;
		word = "aborted";
		break;
	case XFER_FAILED:
		s->stats.failed++;
		word = "failed";
		lvl = LOG_LVL_WARN;
		break;
	}
	log_msg(lvl, MOD, "%s \"%s\" %s%s%s: %" PRIu64 " bytes sent of %" PRIu64 ", blksize %u, windowsize %u, %s, %" PRIu64 " ms",
		x->peer_str, x->name, word, why ? ": " : "", why ? why : "", x->bytes, x->size,
		x->blksize, x->windowsize, x->mode == TFTP_MODE_NETASCII ? "netascii" : "octet", ms);
	xfer_free(x);
}

/* Read up to len bytes at off.  The one place the server reads file data,
 * so a shared cache or asynchronous reads can replace it.  Returns bytes
 * read (short only at end of file) or a negative errno. */
static ssize_t xfer_read(struct tftp_xfer *x, uint64_t off, uint8_t *dst, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(x->file_fd, dst + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Build block k's payload in x->buf + TFTP_HDR_LEN.  k is at most gen + 1
 * (a new block) and at least acked + 1 (a retransmission). */
static int xfer_fill_block(struct tftp_xfer *x, uint64_t k, size_t *len_out)
{
	struct tftp_block_state st = k > x->gen ? x->next_state : x->ring[k % x->ring_n];
	uint8_t *out = x->buf + TFTP_HDR_LEN;
	size_t len = 0;

	if (x->mode == TFTP_MODE_OCTET) {
		ssize_t n = xfer_read(x, st.off, out, x->blksize);
		if (n < 0)
			return (int)n;
		len = (size_t)n;
		st.off += len;
	} else {
		/* Each input byte yields one or two output bytes, so reading
		 * what is left of the block is never too much. */
		while (len < x->blksize) {
			size_t want = x->blksize - len, used = 0;
			ssize_t n = 0;
			if (st.pending < 0) {
				n = xfer_read(x, st.off, x->scratch, want);
				if (n < 0)
					return (int)n;
				if (n == 0)
					break;
			}
			len += tftp_netascii_encode(x->scratch, (size_t)n, &used, out + len, want, &st.pending);
			st.off += used;
		}
	}
	if (k > x->gen) {
		x->ring[k % x->ring_n] = k > 1 ? x->next_state : (struct tftp_block_state){ 0, -1 };
		x->gen = k;
		x->next_state = st;
		x->bytes += len;
		x->srv->stats.bytes += len;
		/* RFC 1350 §6: a block shorter than blksize ends the transfer,
		 * so a file of an exact multiple of blksize ends with an empty
		 * block. */
		if (len < x->blksize)
			x->last = k;
	}
	*len_out = len;
	return 0;
}

/* The current retransmission timeout: the base doubled per timeout in a
 * row, at most TFTP_RTO_CAP_MS (or the base, when a client negotiated a
 * longer one). */
static unsigned xfer_rto(const struct tftp_xfer *x)
{
	uint64_t rto = (uint64_t)x->rto_ms << (x->tries < 8 ? x->tries : 8);
	uint64_t cap = x->rto_ms > TFTP_RTO_CAP_MS ? x->rto_ms : TFTP_RTO_CAP_MS;
	return (unsigned)(rto < cap ? rto : cap);
}

/* Send one window starting at block `from` (RFC 7440 §4: windowsize
 * blocks, then wait for the ACK of the last one).  Returns 0, or -1 when
 * the transfer ended (x is freed). */
static int xfer_send_window(struct tftp_xfer *x, uint64_t from)
{
	struct tftp_server *s = x->srv;
	uint64_t k;
	for (k = from; k < from + x->windowsize; k++) {
		size_t len = 0;
		if (k <= x->gen)
			s->stats.retransmits++;
		int r = xfer_fill_block(x, k, &len);
		if (r < 0) {
			xfer_finish(x, XFER_FAILED, strerror(-r));
			return -1;
		}
		/* Block numbers wrap from 65535 to 0, as tftp-hpa, atftp,
		 * curl and busybox expect; RFC 1350 has no rule past 65535
		 * blocks, and wrapping to 0 (not 1) is the common practice. */
		int plen = tftp_build_data(x->buf, TFTP_HDR_LEN + x->blksize, (uint16_t)k,
					   x->buf + TFTP_HDR_LEN, len);
		if (send(x->io.fd, x->buf, (size_t)plen, 0) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
				break; /* the socket buffer is full: the timer resends */
			xfer_finish(x, XFER_FAILED, errno == ECONNREFUSED ? "client gone" : strerror(errno));
			return -1;
		}
		if (x->last && k == x->last) {
			k++;
			break;
		}
	}
	x->sent = k - 1;
	ev_timer_start(s->loop, &x->timer, xfer_rto(x));
	return 0;
}

/* Returns 0, or -1 when the transfer ended (x is freed). */
static int xfer_on_ack(struct tftp_xfer *x, uint16_t wire)
{
	if (x->oack_pending) {
		/* RFC 2347: the client acknowledges the OACK with ACK 0. */
		if (wire != 0)
			return 0;
		x->oack_pending = false;
		x->tries = 0;
		return xfer_send_window(x, 1);
	}
	/* Map the 16-bit number onto our count: the ACK can only be for a
	 * block in acked..sent, so take the one with these low bits at or
	 * after acked (block numbers roll over past 65535). */
	uint64_t k = x->acked + (uint16_t)(wire - (uint16_t)x->acked);
	if (k == x->acked || k > x->sent) {
		/* A duplicate ACK, or one from before a rollover.  Answering
		 * it would send the window twice and double the traffic on
		 * every later block: the Sorcerer's Apprentice syndrome
		 * (RFC 1123 §4.2.3.1).  Only the timer retransmits. */
		return 0;
	}
	x->acked = k;
	x->tries = 0;
	if (x->last && k == x->last) {
		xfer_finish(x, XFER_DONE, NULL);
		return -1;
	}
	/* An ACK of the window's last block moves on; an ACK of an earlier
	 * one means the client lost the block after it, and the next window
	 * starts there (RFC 7440 §4). */
	return xfer_send_window(x, k + 1);
}

static void xfer_on_error(struct tftp_xfer *x, const struct tftp_packet *p)
{
	char msg[128], why[200];
	log_escape(msg, sizeof(msg), p->error_msg, strlen(p->error_msg));
	snprintf(why, sizeof(why), "client sent error %u \"%s\"", p->error_code, msg);
	/* EDK2 asks for tsize to learn the file size, then answers the OACK
	 * with ERROR 8 ("User aborted the transfer") and sends a new RRQ
	 * for the download: a normal end, not a failure (RFC 2347 allows
	 * the client to refuse an OACK with error 8). */
	if (x->oack_pending && p->error_code == TFTP_ERR_OPTION)
		xfer_finish(x, XFER_ABORTED, why);
	else
		xfer_finish(x, XFER_FAILED, why);
}

static void xfer_io_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct tftp_xfer *x = io->data;
	struct tftp_server *s = x->srv;
	for (;;) {
		ssize_t n = recv(io->fd, s->rx, sizeof(s->rx), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* ICMP port unreachable: the client has gone away. */
			xfer_finish(x, XFER_FAILED, errno == ECONNREFUSED ? "client gone" : strerror(errno));
			return;
		}
		struct tftp_packet p;
		if (tftp_parse(s->rx, (size_t)n, &p) < 0) {
			log_debug(MOD, "%s: malformed packet ignored", x->peer_str);
			continue;
		}
		if (p.opcode == TFTP_ACK) {
			if (xfer_on_ack(x, p.block) < 0)
				return; /* the transfer ended */
		} else if (p.opcode == TFTP_ERROR) {
			xfer_on_error(x, &p);
			return;
		} else {
			log_debug(MOD, "%s: unexpected %s ignored", x->peer_str, tftp_opcode_name(p.opcode));
		}
	}
}

static void xfer_timer_cb(struct ev_loop *loop, struct ev_timer *t)
{
	struct tftp_xfer *x = t->data;
	struct tftp_server *s = x->srv;
	if (++x->tries > TFTP_MAX_TRIES) {
		xfer_finish(x, XFER_FAILED, "timed out");
		return;
	}
	if (x->oack_pending) {
		s->stats.retransmits++;
		if (send(x->io.fd, x->oack, x->oack_len, 0) < 0 && errno == ECONNREFUSED) {
			xfer_finish(x, XFER_FAILED, "client gone");
			return;
		}
		ev_timer_start(loop, &x->timer, xfer_rto(x));
		return;
	}
	/* RFC 7440 §4: on timeout the sender resends the whole window
	 * after the last acknowledged block. */
	xfer_send_window(x, x->acked + 1);
}

/* ---- requests ----------------------------------------------------------- */

/* Answer a request with an ERROR from the listening socket, sourced from
 * the address the request was sent to. */
static void server_send_error(struct tftp_server *s, const struct sockaddr_in *peer,
			      const struct in_addr *local, uint16_t code, const char *msg)
{
	uint8_t pkt[256];
	int len = tftp_build_error(pkt, sizeof(pkt), code, msg);
	if (len < 0)
		return;
	struct iovec iov = { pkt, (size_t)len };
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = {
		.msg_name = (void *)peer, .msg_namelen = sizeof(*peer),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi = { .ipi_spec_dst = *local };
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	if (sendmsg(s->io.fd, &mh, 0) < 0)
		log_debug(MOD, "sending error to client: %s", strerror(errno));
}

static void server_refuse(struct tftp_server *s, const struct sockaddr_in *peer,
			  const struct in_addr *local, const char *peer_str, const char *name,
			  uint16_t code, const char *msg, const char *why)
{
	s->stats.refused++;
	log_info(MOD, "%s \"%s\" refused: %s", peer_str, name, why);
	server_send_error(s, peer, local, code, msg);
}

static uint16_t content_err_code(int err)
{
	switch (err) {
	case -ENOENT:
		return TFTP_ERR_NOT_FOUND;
	case -EACCES: case -EXDEV: case -ELOOP: case -EISDIR: case -EPERM:
	case -EINVAL: case -ENAMETOOLONG:
		return TFTP_ERR_ACCESS;
	default:
		return TFTP_ERR_UNDEF;
	}
}

static bool server_has_peer(const struct tftp_server *s, const struct sockaddr_in *peer)
{
	for (const struct tftp_xfer *x = s->xfers; x; x = x->next)
		if (x->peer.sin_port == peer->sin_port && x->peer.sin_addr.s_addr == peer->sin_addr.s_addr)
			return true;
	return false;
}

/* Negotiate the options (RFC 2347): acknowledge what we accept, at most
 * our limits (RFC 2348 and RFC 7440 let the server answer a smaller
 * value), and build the OACK.  No OACK when nothing was accepted. */
static int xfer_negotiate(struct tftp_xfer *x, const struct tftp_req_opts *o)
{
	struct tftp_server *s = x->srv;
	struct tftp_option acc[4];
	char v_blk[12], v_tmo[12], v_tsize[24], v_win[12];
	size_t n = 0;

	x->blksize = TFTP_DEFAULT_BLKSIZE;
	x->windowsize = 1;
	x->rto_ms = TFTP_RTO_MS;
	if (o->has_blksize) {
		x->blksize = o->blksize < s->max_blksize ? o->blksize : s->max_blksize;
		snprintf(v_blk, sizeof(v_blk), "%u", x->blksize);
		acc[n++] = (struct tftp_option){ "blksize", v_blk };
	}
	if (o->has_timeout) {
		/* RFC 2349: the server uses the client's timeout as is. */
		x->rto_ms = o->timeout * 1000u;
		snprintf(v_tmo, sizeof(v_tmo), "%u", o->timeout);
		acc[n++] = (struct tftp_option){ "timeout", v_tmo };
	}
	/* RFC 2349: tsize is the file's size in octets.  In netascii the
	 * transferred size differs and is unknown before conversion, so the
	 * option is not acknowledged there (as tftp-hpa does).
	 * Nor for an empty file: curl (7.88, lib/tftp.c) takes "tsize 0" in
	 * an OACK as invalid and gives up; omitted, it just reads the empty
	 * last block. */
	if (o->has_tsize && x->mode == TFTP_MODE_OCTET && x->size > 0) {
		snprintf(v_tsize, sizeof(v_tsize), "%" PRIu64, x->size);
		acc[n++] = (struct tftp_option){ "tsize", v_tsize };
	}
	if (o->has_windowsize) {
		x->windowsize = o->windowsize < s->max_window ? o->windowsize : s->max_window;
		snprintf(v_win, sizeof(v_win), "%u", x->windowsize);
		acc[n++] = (struct tftp_option){ "windowsize", v_win };
	}
	if (n == 0)
		return 0;
	uint8_t tmp[256];
	int len = tftp_build_oack(tmp, sizeof(tmp), acc, n);
	if (len < 0)
		return len;
	x->oack = malloc((size_t)len);
	if (!x->oack)
		return -ENOMEM;
	memcpy(x->oack, tmp, (size_t)len);
	x->oack_len = (size_t)len;
	x->oack_pending = true;
	return 0;
}

/* Set up the transfer's socket and buffers.  Takes the file fd. */
static int xfer_new(struct tftp_server *s, const struct sockaddr_in *peer, const struct in_addr *local,
		    const struct tftp_packet *req, int file_fd, uint64_t size, struct tftp_xfer **out)
{
	struct tftp_xfer *x = calloc(1, sizeof(*x));
	if (!x) {
		close(file_fd);
		return -ENOMEM;
	}
	x->srv = s;
	x->file_fd = file_fd;
	x->size = size;
	x->peer = *peer;
	x->mode = req->mode;
	x->start_ms = now_ms();
	x->next_state.pending = -1;
	ev_io_init(&x->io, -1, xfer_io_cb, x);
	ev_timer_init(&x->timer, xfer_timer_cb, x);
	peer_format(peer, x->peer_str, sizeof(x->peer_str));
	log_escape(x->name, sizeof(x->name), req->filename, req->filename_len);
	x->next = s->xfers;
	if (s->xfers)
		s->xfers->prev = x;
	s->xfers = x;
	s->stats.active++;

	struct tftp_req_opts o;
	tftp_parse_options(req, &o);
	int r = xfer_negotiate(x, &o);
	if (r < 0)
		goto fail;
	x->ring_n = x->windowsize + 1u;
	x->ring = calloc(x->ring_n, sizeof(*x->ring));
	x->buf = malloc(TFTP_HDR_LEN + x->blksize);
	if (x->mode == TFTP_MODE_NETASCII)
		x->scratch = malloc(x->blksize);
	if (!x->ring || !x->buf || (x->mode == TFTP_MODE_NETASCII && !x->scratch)) {
		r = -ENOMEM;
		goto fail;
	}

	/* The transfer's own socket is the server's TID (RFC 1350 §4),
	 * bound to the address the client sent the request to: with several
	 * addresses on the host, replies from another one would be dropped
	 * by the client as coming from a stranger. */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	x->io.fd = fd;
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr = *local };
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0) {
		r = -errno;
		goto fail;
	}
	r = ev_io_start(s->loop, &x->io, EV_READ);
	if (r < 0)
		goto fail;
	*out = x;
	return 0;
fail:
	xfer_free(x);
	return r;
}

static void server_on_request(struct tftp_server *s, const struct sockaddr_in *peer,
			      const struct in_addr *local, const uint8_t *pkt, size_t len)
{
	char peer_str[INET_ADDRSTRLEN + 8];
	char name[TFTP_NAME_LOG_MAX];
	struct tftp_packet p;
	peer_format(peer, peer_str, sizeof(peer_str));

	int r = tftp_parse(pkt, len, &p);
	if (p.opcode != TFTP_RRQ && p.opcode != TFTP_WRQ) {
		/* Stray DATA/ACK/ERROR on port 69, or garbage: no answer. */
		log_debug(MOD, "%s: %s on the request port ignored", peer_str, tftp_opcode_name(p.opcode));
		return;
	}
	if (p.filename)
		log_escape(name, sizeof(name), p.filename, p.filename_len);
	else
		str_copy(name, sizeof(name), "");
	if (r == -EPROTONOSUPPORT) {
		server_refuse(s, peer, local, peer_str, name, TFTP_ERR_ILLEGAL_OP,
			      "Unsupported mode", "mode not netascii or octet");
		return;
	}
	if (r == -E2BIG) {
		server_refuse(s, peer, local, peer_str, name, TFTP_ERR_OPTION,
			      "Too many options", "too many options");
		return;
	}
	if (r < 0) {
		server_refuse(s, peer, local, peer_str, name, TFTP_ERR_ILLEGAL_OP,
			      "Malformed request", "malformed request");
		return;
	}
	if (p.opcode == TFTP_WRQ) {
		server_refuse(s, peer, local, peer_str, name, TFTP_ERR_ILLEGAL_OP,
			      "Write requests are refused: server is read-only", "write request");
		return;
	}
	/* A client repeating its RRQ before our first answer arrived: the
	 * running transfer answers it (its timer retransmits). */
	if (server_has_peer(s, peer)) {
		log_debug(MOD, "%s: repeated request for \"%s\" ignored", peer_str, name);
		return;
	}
	if (s->stats.active >= s->max_transfers) {
		/* Dropped without an answer: the client repeats its RRQ and
		 * gets served when a slot frees, which an ERROR would prevent. */
		s->stats.busy++;
		s->busy_since_log++;
		uint64_t t = now_ms();
		if (t - s->busy_logged_ms >= 1000 || s->busy_logged_ms == 0) {
			log_warn(MOD, "MaxTransfers (%u) reached: %" PRIu64 " request(s) dropped, latest %s \"%s\"",
				 s->max_transfers, s->busy_since_log, peer_str, name);
			s->busy_logged_ms = t;
			s->busy_since_log = 0;
		}
		return;
	}
	/* The filename length comes from the packet: content_check_name sees
	 * any embedded NUL (tftp_parse stops the string at the first one, so
	 * here the lengths always agree; the check stays for other callers). */
	r = content_check_name(p.filename, p.filename_len);
	int fd = -1;
	uint64_t size = 0;
	if (r == 0)
		r = content_open(s->content, p.filename, &fd, &size);
	if (r < 0) {
		uint16_t code = content_err_code(r);
		server_refuse(s, peer, local, peer_str, name, code,
			      code == TFTP_ERR_NOT_FOUND ? "File not found" :
			      code == TFTP_ERR_ACCESS ? "Access violation" : "Cannot open file",
			      content_strerror(r));
		return;
	}
	struct tftp_xfer *x = NULL;
	r = xfer_new(s, peer, local, &p, fd, size, &x);
	if (r < 0) {
		s->stats.failed++;
		log_warn(MOD, "%s \"%s\" failed to start: %s", peer_str, name, strerror(-r));
		server_send_error(s, peer, local, TFTP_ERR_UNDEF, "Server error");
		return;
	}
	log_debug(MOD, "%s \"%s\" started: blksize %u, windowsize %u%s", peer_str, name,
		  x->blksize, x->windowsize, x->oack_pending ? ", OACK" : "");
	if (x->oack_pending) {
		if (send(x->io.fd, x->oack, x->oack_len, 0) < 0 && errno == ECONNREFUSED) {
			xfer_finish(x, XFER_FAILED, "client gone");
			return;
		}
		ev_timer_start(s->loop, &x->timer, xfer_rto(x));
		return;
	}
	xfer_send_window(x, 1);
}

static void server_io_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct tftp_server *s = io->data;
	/* Bounded so a flood on port 69 cannot starve running transfers. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		union {
			char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { s->rx, sizeof(s->rx) };
		struct msghdr mh = {
			.msg_name = &peer, .msg_namelen = sizeof(peer),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(io->fd, &mh, 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug(MOD, "recvmsg: %s", strerror(errno));
			return;
		}
		if (mh.msg_namelen != sizeof(peer) || peer.sin_family != AF_INET || peer.sin_port == 0)
			continue;
		struct in_addr local = { 0 };
		bool have_local = false;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				/* ipi_spec_dst: the address a reply should come
				 * from (the interface's own address even when the
				 * request was broadcast). */
				local = pi.ipi_spec_dst;
				have_local = true;
			}
		}
		if (!have_local)
			continue;
		server_on_request(s, &peer, &local, s->rx, (size_t)n);
	}
}

/* ---- server ------------------------------------------------------------- */

static unsigned clamp_u(unsigned v, unsigned dflt, unsigned lo, unsigned hi)
{
	if (v == 0)
		v = dflt;
	return v < lo ? lo : v > hi ? hi : v;
}

int tftp_server_new(struct ev_loop *loop, const struct pxed_conf *conf,
		    const struct content *content, struct tftp_server **out)
{
	struct tftp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->conf = conf;
	s->content = content;
	s->max_blksize = clamp_u(conf->tftp_max_block_size, TFTP_DEFAULT_MAX_BLKSIZE,
				 TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX);
	s->max_window = clamp_u(conf->tftp_max_window_size, TFTP_DEFAULT_MAX_WINDOW,
				TFTP_WINDOWSIZE_MIN, TFTP_WINDOWSIZE_MAX);
	s->max_transfers = clamp_u(conf->tftp_max_transfers, TFTP_DEFAULT_MAX_TRANSFERS, 1, 1u << 20);

	int r, one = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto err_free;
	}
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(conf->tftp_port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		r = -errno;
		goto err_close;
	}
	ev_io_init(&s->io, fd, server_io_cb, s);
	r = ev_io_start(loop, &s->io, EV_READ);
	if (r < 0)
		goto err_close;
	*out = s;
	return 0;
err_close:
	close(fd);
err_free:
	free(s);
	return r;
}

void tftp_server_free(struct tftp_server *s)
{
	if (!s)
		return;
	while (s->xfers)
		xfer_free(s->xfers);
	ev_io_stop(s->loop, &s->io);
	close(s->io.fd);
	free(s);
}

void tftp_server_stats(const struct tftp_server *s, struct tftp_stats *out)
{
	*out = s->stats;
}

/* One file for now (about 1,450 lines): admission and the transfer
 * engine share the server's packet buffers and transfer list; splitting
 * admission out is planned work. */
#include "tftp/tftp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/content.h"
#include "common/log.h"
#include "common/util.h"
#include "conf/conf.h"
#include "ev/ev.h"
#include "ev/ev_work.h"
#include "tftp/tftp_file.h"
#include "tftp/tftp_packet.h"

#define MOD "tftp"

/* Used when the settings leave a limit at 0. */
#define TFTP_DEFAULT_MAX_BLKSIZE 1468 /* fills a 1500-byte Ethernet MTU */
#define TFTP_DEFAULT_MAX_WINDOW 64
#define TFTP_DEFAULT_MAX_TRANSFERS 2000
#define TFTP_DEFAULT_WORKERS 2

/* Retransmission (RFC 1123 §4.2.3.2 asks for an adaptive timeout).  The
 * timeout follows the measured round trip as TCP's does (RFC 6298: srtt +
 * 4 x rttvar, sampled only on windows sent once, Karn's rule), between
 * TFTP_RTO_MIN_MS and TFTP_RTO_CAP_MS, starting at TFTP_RTO_MS before the
 * first sample.  A client that negotiated `timeout` gets exactly that
 * (RFC 2349).  Each timeout in a row doubles it, up to the cap; a transfer
 * that makes no progress for TFTP_STALL_MS (or 5 x the negotiated timeout,
 * if longer) is given up: the overall deadline. */
#define TFTP_RTO_MS 1000
#define TFTP_RTO_MIN_MS 100
#define TFTP_RTO_CAP_MS 8000
#define TFTP_STALL_MS 25000
/* Before the client has acknowledged anything, the request may be forged
 * (UDP has no handshake: a 17-byte RRQ with a victim's source address).
 * Until the first ACK (ACK 0 of the OACK, or ACK 1), a transfer sends
 * only its first packet -- the OACK, or DATA 1 when no option was
 * accepted; never a window, as RFC 7440 §4 starts windows after the OACK
 * is acknowledged anyway -- and at most TFTP_FIRST_TRIES retransmissions
 * of it, 1 s then 2 s apart whatever `timeout` the request asked for, and
 * is given up TFTP_FIRST_ACK_MS after it started.  So a forged request
 * costs its victim at most 3 packets of at most 516 bytes (1 + 2
 * retransmissions; a larger blksize is only used after the OACK's ACK)
 * within 6 s, and holds a slot no longer. */
#define TFTP_FIRST_TRIES 2
#define TFTP_FIRST_ACK_MS 6000
/* Gap between the bursts of one window after a loss (see xfer_push). */
#define TFTP_PACE_MS 1

/* Bound on the shared netascii window buffer (MaxWindowSize x
 * MaxBlockSize could otherwise ask for gigabytes). */
#define TFTP_NETASCII_BUF (4u << 20)

/* The listening socket's receive buffer: room for a few thousand RRQs. */
#define TFTP_LISTEN_RCVBUF (4 << 20)

/* The biggest datagram we read; any UDP payload fits. */
#define TFTP_RX_MAX 65536
#define TFTP_NAME_LOG_MAX (CONTENT_NAME_MAX * 4 + 4) /* escaped name */

/* UDP segmentation offload (Linux 4.18): one sendmsg carries up to
 * TFTP_GSO_SEGS DATA packets of one size and the kernel (or the NIC)
 * cuts them, so a window costs one pass down the stack instead of one per
 * packet.  A datagram holds at most 65507 payload bytes. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define TFTP_GSO_SEGS 64
#define TFTP_GSO_BYTES 65000

/* Residency is checked (mincore) and warmed (worker pread) in ranges of at
 * least this much, so a transfer asks about once per 2 MiB. */
#define TFTP_WARM_CHUNK (2u << 20)

/* Where a block starts in the file, for netascii, where blocks do not map
 * to fixed file offsets: enough to rebuild the block for a
 * retransmission. */
struct tftp_block_state {
	uint64_t off; /* file offset of the block's first input byte */
	int pending;  /* netascii: second byte of a pair still owed, or -1 */
};

/* One read transfer.  States: OACK sent and waiting for ACK 0
 * (oack_pending), then sending windows of DATA: each window is blocks
 * acked+1 .. acked+windowsize, sent in bursts of cwnd blocks (the whole
 * window in one sendmmsg until a loss is seen), then the timer waits for
 * the ACK of the window's last block.  Two waits can interrupt a window:
 * its pages are being read from disk by a worker (job), or the socket
 * buffer is full (EV_WRITE, send_next..send_to still owed).  It ends on
 * the ACK of the final (short) block, a client ERROR, a send error, or
 * TFTP_STALL_MS without progress.
 *
 * Memory per transfer: this struct (1,392 bytes on x86-64, 1 KiB of it
 * the escaped name)
 * + the netascii ring ((windowsize + 1) x 16 bytes, netascii only) + the
 * OACK (under 100 bytes), and one socket whose kernel buffers hold at
 * most one window in flight.  Packet buffers are the server's, shared:
 * only one window is built at a time on the loop. */
struct tftp_xfer {
	struct tftp_server *srv;
	struct tftp_xfer *prev, *next; /* the server's list of transfers */
	struct ev_io io;
	struct ev_timer timer;
	struct tftp_file *file;        /* shared, referenced */
	struct tftp_file_job *job;     /* disk read in progress, or NULL */
	uint64_t size;                 /* file size at open */
	struct sockaddr_in peer;       /* the client's address and TID */
	char peer_str[INET_ADDRSTRLEN + 8];
	char name[TFTP_NAME_LOG_MAX];  /* requested name, escaped for logs */
	enum tftp_mode mode;
	bool oack_pending;             /* OACK sent, waiting for ACK 0 */
	bool no_gso;                   /* the path refused UDP_SEGMENT */
	bool win_clean;                /* window sent once: its ACK is an RTT sample */
	bool refused;                  /* a send met ICMP port unreachable */
	bool verified;                 /* the client acknowledged something */
	unsigned blksize;
	unsigned windowsize;           /* negotiated (RFC 7440) */
	unsigned cwnd;                 /* blocks per burst now, 1..windowsize */
	unsigned tries;                /* timeouts in a row without progress */
	unsigned fixed_rto_ms;         /* negotiated timeout (RFC 2349), or 0 */
	uint32_t srtt_us, rttvar_us;   /* RFC 6298 estimators, 0 before a sample */
	uint8_t *oack;                 /* the OACK, kept for retransmission */
	size_t oack_len;
	/* Blocks are counted from 1 without wrapping; the wire carries the
	 * low 16 bits (see xfer_on_ack for the rollover). */
	uint64_t acked;                /* highest block acknowledged */
	uint64_t sent;                 /* last block of the current window */
	uint64_t send_next;            /* next block to send of the current window */
	uint64_t burst_end;            /* last block of the burst being sent */
	struct ev_timer pace;          /* sends the window's next burst */
	uint64_t gen;                  /* highest block ever built */
	uint64_t last;                 /* the final (short) block, 0 until known */
	uint64_t warm_lo, warm_hi;     /* file range known to be in the page cache */
	uint64_t job_lo, job_hi;       /* the range job is reading */
	uint64_t win_sent_us;          /* when the current window went out */
	uint64_t progress_ms;          /* last ACK that moved acked (or start) */
	struct tftp_block_state next_state; /* netascii: where block gen + 1 starts */
	struct tftp_block_state *ring; /* netascii: blocks acked+1..gen, by block % ring_n */
	size_t ring_n;
	uint64_t start_ms;
	uint64_t bytes;                /* payload bytes sent, counted once */
};

/* A read request waiting for its generator (tftp_server.h). */
struct tftp_gen_req {
	struct tftp_server *srv;       /* NULL once the server is gone */
	struct tftp_gen_req *prev, *next;
	struct sockaddr_in peer;
	struct in_addr local;
	size_t len;
	uint8_t pkt[];                 /* the request, parsed again on reply */
};

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
	struct tftp_xfer *xfers;       /* running transfers */
	unsigned max_blksize, max_window, max_transfers;
	struct tftp_stats stats;
	uint64_t busy_logged_ms;       /* last "MaxTransfers reached" warning */
	uint64_t busy_since_log;       /* requests refused since that warning */
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
	ev_timer_stop(s->loop, &x->pace);
	if (x->io.fd >= 0)
		close(x->io.fd);
	tftp_file_cancel(s->files, x->job);
	tftp_file_put(s->files, x->file);
	if (x->prev)
		x->prev->next = x->next;
	else
		s->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	s->stats.active--;
	free(x->oack);
	free(x->ring);
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

/* End a transfer with an ERROR to the client (RFC 1350 §7), so that it
 * stops waiting at once instead of timing out. */
static void xfer_abort(struct tftp_xfer *x, uint16_t code, const char *msg, const char *why)
{
	uint8_t pkt[128];
	int len = tftp_build_error(pkt, sizeof(pkt), code, msg);
	if (len > 0 && send(x->io.fd, pkt, (size_t)len, 0) < 0)
		log_debug(MOD, "%s: sending error: %s", x->peer_str, strerror(errno));
	xfer_finish(x, XFER_FAILED, why);
}

/* netascii only: read up to len bytes at off with pread.  Called only for
 * ranges xfer_warm found in the page cache, so it copies from memory and
 * does not wait for the disk.  Bytes read (short at end of file) or a
 * negative errno. */
static ssize_t xfer_read(struct tftp_xfer *x, uint64_t off, uint8_t *dst, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(x->file->fd, dst + got, len - got, (off_t)(off + got));
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

/* netascii: build block k's packet payload at out (blksize bytes of room).
 * k is at most gen + 1 (a new block) and at least acked + 1. */
static int xfer_fill_netascii(struct tftp_xfer *x, uint64_t k, uint8_t *out, size_t *len_out)
{
	struct tftp_block_state st = k > x->gen ? x->next_state : x->ring[k % x->ring_n];
	uint8_t scratch[512];
	size_t len = 0;
	/* Each input byte yields one or two output bytes, so reading what
	 * is left of the block is never too much. */
	while (len < x->blksize) {
		size_t want = x->blksize - len, used = 0;
		ssize_t n = 0;
		if (want > sizeof(scratch))
			want = sizeof(scratch);
		if (st.pending < 0) {
			n = xfer_read(x, st.off, scratch, want);
			if (n < 0)
				return (int)n;
			if (n == 0 && st.off < x->size)
				return -ENODATA; /* the file shrank under the transfer */
			if (n == 0)
				break;
		}
		len += tftp_netascii_encode(scratch, (size_t)n, &used, out + len, x->blksize - len, &st.pending);
		st.off += used;
	}
	if (k > x->gen) {
		x->ring[k % x->ring_n] = k > 1 ? x->next_state : (struct tftp_block_state){ 0, -1 };
		x->next_state = st;
	}
	*len_out = len;
	return 0;
}

/* The file offset where block k's data starts. */
static uint64_t xfer_block_off(const struct tftp_xfer *x, uint64_t k)
{
	if (x->mode == TFTP_MODE_OCTET)
		return (k - 1) * x->blksize;
	return k > x->gen ? x->next_state.off : x->ring[k % x->ring_n].off;
}

/* The current retransmission timeout. */
static unsigned xfer_rto(const struct tftp_xfer *x)
{
	uint64_t base;
	if (!x->verified) {
		/* See TFTP_FIRST_TRIES: never the negotiated timeout, never
		 * past TFTP_FIRST_ACK_MS. */
		uint64_t el = now_ms() - x->start_ms;
		uint64_t left = el < TFTP_FIRST_ACK_MS ? TFTP_FIRST_ACK_MS - el : 1;
		uint64_t r = (uint64_t)TFTP_RTO_MS << (x->tries < 8 ? x->tries : 8);
		return (unsigned)(r < left ? r : left);
	}
	if (x->fixed_rto_ms)
		base = x->fixed_rto_ms;
	else if (x->srtt_us == 0)
		base = TFTP_RTO_MS;
	else {
		base = (x->srtt_us + 4ull * x->rttvar_us) / 1000;
		if (base < TFTP_RTO_MIN_MS)
			base = TFTP_RTO_MIN_MS;
	}
	uint64_t rto = base << (x->tries < 8 ? x->tries : 8);
	uint64_t cap = base > TFTP_RTO_CAP_MS ? base : TFTP_RTO_CAP_MS;
	return (unsigned)(rto < cap ? rto : cap);
}

/* RFC 6298 §2, in microseconds. */
static void xfer_rtt_sample(struct tftp_xfer *x, uint64_t us)
{
	if (us > UINT32_MAX / 8)
		us = UINT32_MAX / 8;
	uint32_t r = (uint32_t)us;
	if (x->srtt_us == 0) {
		x->srtt_us = r ? r : 1;
		x->rttvar_us = r / 2;
		return;
	}
	uint32_t d = x->srtt_us > r ? x->srtt_us - r : r - x->srtt_us;
	x->rttvar_us = x->rttvar_us - x->rttvar_us / 4 + d / 4;
	x->srtt_us = x->srtt_us - x->srtt_us / 8 + r / 8;
	if (x->srtt_us == 0)
		x->srtt_us = 1;
}

static int xfer_send_window(struct tftp_xfer *x, uint64_t from);

static void xfer_warm_done(void *arg, int err)
{
	struct tftp_xfer *x = arg;
	x->job = NULL;
	if (err == -ENODATA) {
		xfer_abort(x, TFTP_ERR_UNDEF, "File changed on the server",
			   "the file shrank under the transfer");
		return;
	}
	if (err < 0) {
		xfer_abort(x, TFTP_ERR_UNDEF, "Read error on the server", strerror(-err));
		return;
	}
	/* The worker read the whole range: send it, without asking mincore
	 * again.  Pages it reports absent after a successful read (a hole in
	 * a sparse file on tmpfs reads as zeros without a page) would
	 * otherwise be read again forever. */
	x->warm_lo = x->job_lo;
	x->warm_hi = x->job_hi;
	xfer_send_window(x, x->acked + 1);
}

/* Make sure the window's file range [off, off+len) is in the page cache
 * before the loop sends from it.  Returns 1 when it is, 0 when a worker is
 * reading it (the window is sent from xfer_warm_done).  Pages found
 * resident here could be evicted before the send; then that one send
 * waits for the disk, a rare and bounded stall.  The chunk after the one
 * checked is handed to a worker ahead of need, so a transfer reading a
 * cold file rarely waits. */
static int xfer_warm(struct tftp_xfer *x, uint64_t off, uint64_t len)
{
	struct tftp_server *s = x->srv;
	if (off >= x->size)
		return 1;
	if (off + len > x->size)
		len = x->size - off;
	if (off >= x->warm_lo && off + len <= x->warm_hi)
		return 1;
	uint64_t chunk = len > TFTP_WARM_CHUNK ? len : TFTP_WARM_CHUNK;
	uint64_t hi = off + chunk > x->size ? x->size : off + chunk;
	bool ready = tftp_file_ready(x->file, off, hi - off);
	if (hi < x->size && !tftp_file_ready(x->file, hi, chunk))
		tftp_file_prefetch(s->files, x->file, hi, chunk, NULL, NULL);
	if (!ready) {
		x->job = tftp_file_prefetch(s->files, x->file, off, hi - off, xfer_warm_done, x);
		if (x->job) {
			/* The timer keeps running: a read that never ends
			 * still meets the transfer's deadlines. */
			x->job_lo = off;
			x->job_hi = hi;
			return 0;
		}
		/* No worker or no memory: send anyway, the loop may wait. */
	}
	x->warm_lo = off;
	x->warm_hi = hi;
	return 1;
}

/* Send blocks x->send_next..x->sent in as few system calls as the path
 * allows: one sendmmsg of the whole window, each message a GSO train of
 * up to TFTP_GSO_SEGS packets (or one packet when the path has no GSO).
 * Octet data goes from the file mapping to the socket without a copy of
 * our own.  Returns 0 when all were sent, 1 when the socket buffer is full
 * (EV_WRITE is armed), or -1 when the transfer ended (x is freed). */
static int xfer_send_blocks(struct tftp_xfer *x)
{
	struct tftp_server *s = x->srv;
	for (;;) {
		uint64_t from = x->send_next;
		uint64_t upto = x->burst_end < x->sent ? x->burst_end : x->sent;
		if (from > upto)
			return 0;
		unsigned n = (unsigned)(upto - from + 1), niov = 0, nmsg = 0;
		size_t seg = TFTP_HDR_LEN + x->blksize;
		unsigned per_msg = 1;
		if (!x->no_gso) {
			per_msg = TFTP_GSO_BYTES / seg;
			if (per_msg > TFTP_GSO_SEGS)
				per_msg = TFTP_GSO_SEGS;
			if (per_msg == 0)
				per_msg = 1;
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t k = from + i;
			size_t len;
			/* Block numbers wrap from 65535 to 0, as tftp-hpa,
			 * atftp, curl and busybox expect; RFC 1350 has no rule
			 * past 65535 blocks, and wrapping to 0 (not 1) is the
			 * common practice. */
			if (x->mode == TFTP_MODE_OCTET) {
				uint64_t off = (k - 1) * x->blksize;
				len = off >= x->size ? 0 : x->size - off < x->blksize ? (size_t)(x->size - off) : x->blksize;
				tftp_build_data(s->hdr[i], TFTP_HDR_LEN, (uint16_t)k, NULL, 0);
				s->iov[niov++] = (struct iovec){ s->hdr[i], TFTP_HDR_LEN };
				if (len)
					s->iov[niov++] = (struct iovec){ (void *)(x->file->map + off), len };
			} else {
				uint8_t *pkt = s->nbuf + (size_t)i * seg;
				int r = xfer_fill_netascii(x, k, pkt + TFTP_HDR_LEN, &len);
				if (r == -ENODATA) {
					xfer_abort(x, TFTP_ERR_UNDEF, "File changed on the server",
						   "the file shrank under the transfer");
					return -1;
				}
				if (r < 0) {
					xfer_finish(x, XFER_FAILED, strerror(-r));
					return -1;
				}
				tftp_build_data(pkt, seg, (uint16_t)k, pkt + TFTP_HDR_LEN, len);
				s->iov[niov++] = (struct iovec){ pkt, TFTP_HDR_LEN + len };
			}
			if (k > x->gen) {
				x->gen = k;
				x->bytes += len;
				s->stats.bytes += len;
				/* RFC 1350 §6: a block shorter than blksize ends
				 * the transfer, so a file of an exact multiple of
				 * blksize ends with an empty block. */
				if (len < x->blksize)
					x->last = k;
			} else {
				s->stats.retransmits++;
			}
			/* Close a message after per_msg packets, and after a
			 * short one (only the last block is short, and GSO cuts
			 * every segment but the last at the full size). */
			bool end = (i + 1) % per_msg == 0 || i + 1 == n || len < x->blksize;
			if (end) {
				struct msghdr *mh = &s->msgs[nmsg].msg_hdr;
				unsigned first = nmsg ? (unsigned)(s->msgs[nmsg - 1].msg_hdr.msg_iov - s->iov) +
					(unsigned)s->msgs[nmsg - 1].msg_hdr.msg_iovlen : 0;
				memset(mh, 0, sizeof(*mh));
				mh->msg_iov = s->iov + first;
				mh->msg_iovlen = niov - first;
				unsigned pkts = i + 1 - (nmsg ? s->pkts_upto[nmsg - 1] : 0);
				if (pkts > 1) {
					mh->msg_control = s->gso_ctl[nmsg].buf;
					mh->msg_controllen = sizeof(s->gso_ctl[nmsg].buf);
					struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
					cm->cmsg_level = SOL_UDP;
					cm->cmsg_type = UDP_SEGMENT;
					cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
					uint16_t gso = (uint16_t)seg;
					memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
				}
				s->pkts_upto[nmsg] = i + 1;
				nmsg++;
			}
			if (len < x->blksize) {
				n = i + 1;
				x->sent = k;
				break;
			}
		}
		int r = sendmmsg(x->io.fd, s->msgs, nmsg, 0);
		if (r < 0 && (errno == EINVAL || errno == EIO || errno == EMSGSIZE) && !x->no_gso && nmsg < n) {
			/* The route cannot segment (no checksum offload, IPsec,
			 * or a blksize over the MTU): one packet per message. */
			log_debug(MOD, "%s: UDP GSO refused (%s), sending packet by packet", x->peer_str, strerror(errno));
			x->no_gso = true;
			continue;
		}
		if (r < 0 && errno == ECONNREFUSED) {
			/* An ICMP port unreachable from an earlier send.  The
			 * client may have closed right after its final ACK,
			 * which may be queued unread: the timer decides, and
			 * an ACK arriving first clears it. */
			x->refused = true;
			x->send_next = x->sent + 1;
			return 0;
		}
		if (r < 0 && errno == EFAULT) {
			/* Pages of the mapping past the file's end now: it was
			 * truncated in place (the kernel says EFAULT where our
			 * own access would be a SIGBUS). */
			xfer_abort(x, TFTP_ERR_UNDEF, "File changed on the server",
				   "the file shrank under the transfer");
			return -1;
		}
		if (r < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
			xfer_finish(x, XFER_FAILED, strerror(errno));
			return -1;
		}
		unsigned done = r > 0 ? s->pkts_upto[r - 1] : 0;
		if (r >= 0 && (unsigned)r == nmsg) {
			x->send_next = from + n;
			return 0;
		}
		/* The socket buffer is full: wait until it drains. */
		x->send_next = from + done;
		ev_io_modify(s->loop, &x->io, EV_READ | EV_WRITE);
		return 1;
	}
}

/* Send the current burst; when the window has blocks left after it, the
 * next burst goes out TFTP_PACE_MS later.  With cwnd = windowsize (no
 * loss seen) the burst is the whole window.  Pacing, not a shorter
 * window, is how a client whose receive buffer overflowed (atftp with
 * blksize 8192 and windowsize 16 loses every full burst with Linux's
 * default 208 KiB) gets the window it negotiated.  Returns as
 * xfer_send_blocks. */
static int xfer_push(struct tftp_xfer *x)
{
	int r = xfer_send_blocks(x);
	if (r == 0 && x->send_next <= x->sent)
		ev_timer_start(x->srv->loop, &x->pace, TFTP_PACE_MS);
	return r;
}

static void xfer_pace_cb(struct ev_loop *loop, struct ev_timer *t)
{
	struct tftp_xfer *x = t->data;
	if (x->job || x->send_next > x->sent)
		return;
	x->burst_end = x->send_next + x->cwnd - 1;
	xfer_push(x);
}

/* Send one window starting at block `from` (RFC 7440 §4: cwnd blocks,
 * then wait for the ACK of the last one).  Returns 0, or -1 when the
 * transfer ended (x is freed). */
static int xfer_send_window(struct tftp_xfer *x, uint64_t from)
{
	struct tftp_server *s = x->srv;
	if (x->job)
		return 0; /* a disk read is under way; it sends when done */
	/* Always the whole negotiated window: RFC 7440 §4 receivers (EDK2's
	 * MTFTP among them) acknowledge only after windowsize blocks, so a
	 * shorter window would wait for their timeout.  After a loss, cwnd
	 * limits how many of its blocks go out at once instead (see
	 * xfer_push). */
	uint64_t to = from + x->windowsize - 1;
	if (x->last && to > x->last)
		to = x->last;
	if (x->mode == TFTP_MODE_OCTET && to > x->size / x->blksize + 1)
		to = x->size / x->blksize + 1;
	if (!xfer_warm(x, xfer_block_off(x, from), (to - from + 1) * x->blksize))
		return 0;
	x->send_next = from;
	x->sent = to;
	x->burst_end = from + x->cwnd - 1;
	ev_timer_stop(s->loop, &x->pace);
	x->win_clean = from > x->gen;
	x->win_sent_us = now_us();
	if (x->io.events & EV_WRITE)
		ev_io_modify(s->loop, &x->io, EV_READ);
	int r = xfer_push(x);
	if (r < 0)
		return -1;
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
		x->verified = true;
		x->tries = 0;
		x->progress_ms = now_ms();
		return xfer_send_window(x, 1);
	}
	/* Map the 16-bit number onto our count: the ACK can only be for a
	 * block in acked..gen (gen, not sent: a block of an earlier, wider
	 * window may be acknowledged after the window shrank), so take the
	 * one with these low bits at or after acked (block numbers roll over
	 * past 65535; gen - acked is at most one window, under 65536). */
	uint64_t k = x->acked + (uint16_t)(wire - (uint16_t)x->acked);
	if (k == x->acked || k > x->gen) {
		/* A duplicate ACK, or one from before a rollover.  Answering
		 * it would send the window twice and double the traffic on
		 * every later block: the Sorcerer's Apprentice syndrome
		 * (RFC 1123 §4.2.3.1).  Only the timer retransmits. */
		return 0;
	}
	x->acked = k;
	x->verified = true;
	x->tries = 0;
	x->refused = false;
	x->progress_ms = now_ms();
	if (x->last && k == x->last) {
		xfer_finish(x, XFER_DONE, NULL);
		return -1;
	}
	if (k >= x->sent) {
		/* A whole window arrived.  The window grows back by one
		 * block per clean window, up to the negotiated size (TCP's
		 * congestion avoidance, RFC 5681 §3.1). */
		if (x->win_clean && k == x->sent && !x->fixed_rto_ms)
			xfer_rtt_sample(x, now_us() - x->win_sent_us);
		if (x->cwnd < x->windowsize)
			x->cwnd++;
	} else if (x->send_next > k + 1) {
		/* An ACK of an earlier block: the client lost the block
		 * after it (RFC 7440 §4).  A burst of windowsize packets can
		 * overrun a client's receive buffer (atftp with blksize 8192
		 * and windowsize 16 loses every window with Linux's default
		 * 208 KiB), so the burst halves, as TCP's window does on
		 * loss, and grows back on clean windows; the window itself
		 * stays what was negotiated (see xfer_push). */
		x->cwnd = x->cwnd > 1 ? x->cwnd / 2 : 1;
	}
	/* The next window starts after the acknowledged block (RFC 7440
	 * §4).  A window still being pushed out (socket buffer full) is cut
	 * short there too. */
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
	if ((events & EV_WRITE) && !x->job) {
		ev_io_modify(loop, &x->io, EV_READ);
		if (x->send_next <= x->sent && xfer_push(x) < 0)
			return;
	}
	if (!(events & EV_READ))
		return;
	bool gone = false;
	for (;;) {
		ssize_t n = recv(io->fd, s->rx, sizeof(s->rx), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED && !gone) {
				/* ICMP port unreachable: the client has gone away.
				 * Linux reports the error before datagrams already
				 * queued, and one may be the final ACK (a client
				 * that closed right after it, while we resent the
				 * last block): read on before deciding. */
				gone = true;
				continue;
			}
			if (gone)
				xfer_finish(x, XFER_FAILED, "client gone");
			else if (errno != EAGAIN)
				xfer_finish(x, XFER_FAILED, strerror(errno));
			return;
		}
		struct tftp_packet p;
		if (tftp_parse(s->rx, (size_t)n, &p) < 0) {
			log_debug(MOD, "%s: malformed packet ignored", x->peer_str);
			continue;
		}
		if (p.opcode == TFTP_ACK) {
			/* One ACK per wake-up: the loop is level-triggered and
			 * comes back if more is queued, and in lockstep
			 * (windowsize 1) this saves the recv that would only
			 * say EAGAIN, a third of the system calls per block. */
			xfer_on_ack(x, p.block);
			return;
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
	uint64_t stall = TFTP_STALL_MS;
	if (x->fixed_rto_ms && 5ull * x->fixed_rto_ms > stall)
		stall = 5ull * x->fixed_rto_ms;
	if (now_ms() - x->progress_ms >= stall) {
		xfer_finish(x, XFER_FAILED, "timed out");
		return;
	}
	if (!x->verified &&
	    (x->tries >= TFTP_FIRST_TRIES || now_ms() - x->start_ms >= TFTP_FIRST_ACK_MS)) {
		s->stats.unacknowledged++;
		xfer_finish(x, XFER_FAILED, "never acknowledged");
		return;
	}
	if (x->job) {
		/* A disk read is under way: nothing to resend yet, only the
		 * deadlines above to keep. */
		ev_timer_start(loop, &x->timer, xfer_rto(x));
		return;
	}
	if (x->refused) {
		xfer_finish(x, XFER_FAILED, "client gone");
		return;
	}
	x->tries++;
	if (x->oack_pending) {
		s->stats.retransmits++;
		if (send(x->io.fd, x->oack, x->oack_len, 0) < 0 && errno == ECONNREFUSED) {
			xfer_finish(x, XFER_FAILED, "client gone");
			return;
		}
		ev_timer_start(loop, &x->timer, xfer_rto(x));
		return;
	}
	/* A lost window: halve the burst (see xfer_on_ack), and, as RFC 7440
	 * §4 says, resend from the block after the last acknowledged one. */
	x->cwnd = x->cwnd > 1 ? x->cwnd / 2 : 1;
	xfer_send_window(x, x->acked + 1);
}

/* ---- requests ----------------------------------------------------------- */

static void server_on_request_gen(struct tftp_server *s, const struct sockaddr_in *peer,
				  const struct in_addr *local, const uint8_t *pkt, size_t len,
				  int given_fd);

/* Names a boot loader asks for only in case they exist: shim 15.x looks
 * for revocations_sku.efi, revocations_sbat.efi and shim_certificate_0.efi
 * beside itself before loading GRUB. */
static bool tftp_name_optional(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	return (strncmp(base, "revocations_", 12) == 0 && strlen(base) > 16 &&
		strcmp(base + strlen(base) - 4, ".efi") == 0) ||
	       strcmp(base, "shim_certificate_0.efi") == 0;
}

/* Offer the request to the generator.  0 when it took it; -ENOENT when
 * the name is not a generated one; -EBUSY at TFTP_GEN_MAX or out of
 * memory. */
static int server_gen_take(struct tftp_server *s, const struct sockaddr_in *peer,
			   const struct in_addr *local, const struct tftp_packet *p,
			   const uint8_t *pkt, size_t len)
{
	struct tftp_gen_req *g;
	int r;

	/* One request per client TID at a time: a retransmitted RRQ while
	 * the first is being generated is answered by the first. */
	for (g = s->gen_reqs; g; g = g->next)
		if (g->peer.sin_addr.s_addr == peer->sin_addr.s_addr && g->peer.sin_port == peer->sin_port)
			return 0;
	if (s->n_gen >= TFTP_GEN_MAX) {
		s->stats.busy++;
		return -EBUSY;
	}
	g = malloc(sizeof(*g) + len);
	if (!g)
		return -EBUSY;
	g->srv = s;
	g->peer = *peer;
	g->local = *local;
	g->len = len;
	memcpy(g->pkt, pkt, len);
	g->prev = NULL;
	g->next = s->gen_reqs;
	if (s->gen_reqs)
		s->gen_reqs->prev = g;
	s->gen_reqs = g;
	s->n_gen++;
	r = s->gen(s->gen_ctx, p->filename, peer->sin_addr, *local, g);
	if (r < 0) {
		/* Not its name (or it refused at once): back to the files. */
		if (g->srv) {
			if (g->prev)
				g->prev->next = g->next;
			else
				s->gen_reqs = g->next;
			if (g->next)
				g->next->prev = g->prev;
			s->n_gen--;
		}
		free(g);
		return r == -ENOENT ? -ENOENT : -EBUSY;
	}
	return 0;
}

void tftp_gen_reply(struct tftp_gen_req *g, int fd_or_err)
{
	struct tftp_server *s = g->srv;
	if (s) {
		if (g->prev)
			g->prev->next = g->next;
		else
			s->gen_reqs = g->next;
		if (g->next)
			g->next->prev = g->prev;
		s->n_gen--;
		server_on_request_gen(s, &g->peer, &g->local, g->pkt, g->len,
				      fd_or_err >= 0 ? fd_or_err : fd_or_err == -1 ? -EIO : fd_or_err);
	} else if (fd_or_err >= 0) {
		close(fd_or_err);
	}
	free(g);
}

int tftp_gen_memfd(const char *data, size_t len)
{
	int fd = memfd_create("pxed-generated", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;
	size_t off = 0;
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			return r;
		}
		off += (size_t)n;
	}
	/* What a transfer maps cannot change under it. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

void tftp_server_set_generator(struct tftp_server *s, tftp_gen_fn fn, void *ctx)
{
	s->gen = fn;
	s->gen_ctx = ctx;
}

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

/* Transfers from the address of peer; *same_peer: one of them is with
 * this very address and port. */
static unsigned server_count_peer(const struct tftp_server *s, const struct sockaddr_in *peer,
				  bool *same_peer)
{
	unsigned n = 0;
	*same_peer = false;
	for (const struct tftp_xfer *x = s->xfers; x; x = x->next) {
		if (x->peer.sin_addr.s_addr != peer->sin_addr.s_addr)
			continue;
		n++;
		if (x->peer.sin_port == peer->sin_port)
			*same_peer = true;
	}
	return n;
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
	if (o->has_blksize) {
		x->blksize = o->blksize < s->max_blksize ? o->blksize : s->max_blksize;
		snprintf(v_blk, sizeof(v_blk), "%u", x->blksize);
		acc[n++] = (struct tftp_option){ "blksize", v_blk };
	}
	if (o->has_timeout) {
		/* RFC 2349: the server uses the client's timeout as is. */
		x->fixed_rto_ms = o->timeout * 1000u;
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
		unsigned cap = x->mode == TFTP_MODE_NETASCII ? s->nbuf_blocks : s->max_window;
		x->windowsize = o->windowsize < cap ? o->windowsize : cap;
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

/* Set up the transfer's socket.  Takes the file reference. */
static int xfer_new(struct tftp_server *s, const struct sockaddr_in *peer, const struct in_addr *local,
		    const struct tftp_packet *req, const struct tftp_req_opts *o,
		    struct tftp_file *file, struct tftp_xfer **out)
{
	struct tftp_xfer *x = calloc(1, sizeof(*x));
	if (!x) {
		tftp_file_put(s->files, file);
		return -ENOMEM;
	}
	x->srv = s;
	x->file = file;
	x->size = file->size;
	x->peer = *peer;
	x->mode = req->mode;
	x->start_ms = x->progress_ms = now_ms();
	x->next_state.pending = -1;
	ev_io_init(&x->io, -1, xfer_io_cb, x);
	ev_timer_init(&x->timer, xfer_timer_cb, x);
	ev_timer_init(&x->pace, xfer_pace_cb, x);
	peer_format(peer, x->peer_str, sizeof(x->peer_str));
	log_escape(x->name, sizeof(x->name), req->filename, req->filename_len);
	x->next = s->xfers;
	if (s->xfers)
		s->xfers->prev = x;
	s->xfers = x;
	s->stats.active++;

	int r = xfer_negotiate(x, o);
	if (r < 0)
		goto fail;
	x->cwnd = x->windowsize;
	if (x->mode == TFTP_MODE_NETASCII) {
		x->ring_n = x->windowsize + 1u;
		x->ring = calloc(x->ring_n, sizeof(*x->ring));
		if (!x->ring) {
			r = -ENOMEM;
			goto fail;
		}
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
	/* Room for two windows in the send buffer, so a window leaves in
	 * one call (the kernel caps it at net.core.wmem_max; a full buffer
	 * only means the rest waits for EV_WRITE). */
	int snd = 0;
	socklen_t sl = sizeof(snd);
	uint64_t want = 2ull * x->windowsize * (x->blksize + 64u);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &sl) == 0 && (uint64_t)snd < want) {
		snd = want > (1u << 24) ? (1 << 24) : (int)want;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	}
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

/* given_fd: -1 for a request off the wire; else the generator's answer
 * to this (same) request: its content (>= 0) or an error (< -1: -errno). */

static void server_on_request(struct tftp_server *s, const struct sockaddr_in *peer,
			      const struct in_addr *local, const uint8_t *pkt, size_t len)
{
	server_on_request_gen(s, peer, local, pkt, len, -1);
}

static void server_on_request_gen(struct tftp_server *s, const struct sockaddr_in *peer,
				  const struct in_addr *local, const uint8_t *pkt, size_t len,
				  int given_fd)
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
	bool same_peer;
	unsigned from_addr = server_count_peer(s, peer, &same_peer);
	if (same_peer) {
		log_debug(MOD, "%s: repeated request for \"%s\" ignored", peer_str, name);
		if (given_fd >= 0)
			close(given_fd);
		return;
	}
	/* Full, in all or for this address: say so with an ERROR (RFC 1350
	 * §7, code 0 and a message), so the client fails over or tells its
	 * user now rather than after its own timeouts.  One address may not
	 * take every slot (MaxTransfersPerAddress); unacknowledged requests
	 * free theirs within TFTP_FIRST_ACK_MS. */
	unsigned per_addr = s->conf->tftp_max_per_address ? s->conf->tftp_max_per_address
							   : s->max_transfers;
	if (s->stats.active >= s->max_transfers || from_addr >= per_addr) {
		bool all = s->stats.active >= s->max_transfers;
		if (all)
			s->stats.busy++;
		else
			s->stats.busy_per_address++;
		s->busy_since_log++;
		uint64_t t = now_ms();
		if (t - s->busy_logged_ms >= 1000 || s->busy_logged_ms == 0) {
			log_warn(MOD, "%s (%u) reached: %" PRIu64 " request(s) refused, latest %s \"%s\"",
				 all ? "MaxTransfers" : "MaxTransfersPerAddress",
				 all ? s->max_transfers : per_addr, s->busy_since_log, peer_str, name);
			s->busy_logged_ms = t;
			s->busy_since_log = 0;
		}
		server_send_error(s, peer, local, TFTP_ERR_UNDEF,
				  all ? "Server busy: too many transfers, try again later"
				      : "Too many transfers from your address, try again later");
		if (given_fd >= 0)
			close(given_fd);
		return;
	}
	/* The filename length comes from the packet: content_check_name sees
	 * any embedded NUL (tftp_parse stops the string at the first one, so
	 * here the lengths always agree; the check stays for other callers). */
	struct tftp_req_opts o;
	tftp_parse_options(&p, &o);
	if (o.invalid) {
		char opt[64], msg[96];
		log_escape(opt, sizeof(opt), o.invalid, strlen(o.invalid));
		snprintf(msg, sizeof(msg), "Invalid %s value", opt);
		server_refuse(s, peer, local, peer_str, name, TFTP_ERR_OPTION, msg, msg);
		if (given_fd >= 0)
			close(given_fd);
		return;
	}
	int fd = -1;
	uint64_t size = 0;
	struct tftp_file *file = NULL;
	if (given_fd == -1 && s->gen) {
		r = server_gen_take(s, peer, local, &p, pkt, len);
		if (r == 0)
			return; /* tftp_gen_reply() comes back here */
		if (r != -ENOENT) {
			server_send_error(s, peer, local, TFTP_ERR_UNDEF,
					  "Server busy, try again later");
			return;
		}
	}
	if (given_fd >= 0) {
		fd = given_fd;
		r = 0;
	} else if (given_fd < -1) {
		r = given_fd;
	} else {
		r = content_check_name(p.filename, p.filename_len);
		if (r == 0 && content_is_private(p.filename))
			r = -ENOENT; /* answer file templates: only rendered, over HTTP */
		if (r == 0)
			r = content_open(s->content, p.filename, &fd, &size);
	}
	if (r == 0)
		r = tftp_file_get(s->files, fd, &file);
	if (r < 0) {
		uint16_t code = content_err_code(r);
		const char *msg = code == TFTP_ERR_NOT_FOUND ? "File not found" :
				  code == TFTP_ERR_ACCESS ? "Access violation" : "Cannot open file";
		/* Files a client asks for only in case they exist (shim's
		 * revocation lists and extra certificate): "not found" is
		 * the normal answer, not worth a line. */
		if (r == -ENOENT && tftp_name_optional(p.filename)) {
			s->stats.refused++;
			log_debug(MOD, "%s \"%s\" not found (optional file)", peer_str, name);
			server_send_error(s, peer, local, code, msg);
			return;
		}
		server_refuse(s, peer, local, peer_str, name, code, msg, content_strerror(r));
		return;
	}
	struct tftp_xfer *x = NULL;
	r = xfer_new(s, peer, local, &p, &o, file, &x);
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

static void server_free_buffers(struct tftp_server *s)
{
	tftp_file_cache_free(s->files);
	free(s->hdr);
	free(s->nbuf);
	free(s->iov);
	free(s->msgs);
	free(s->pkts_upto);
	free(s->gso_ctl);
}

/* Each transfer holds one socket; shared files add one descriptor per
 * distinct file.  Many distributions start daemons with a soft limit of
 * 1024, which 1,000 concurrent transfers would exhaust: raise the soft
 * limit to the hard one, and say so when even that is too low. */
static void server_raise_nofile(unsigned max_transfers)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t need = (rlim_t)max_transfers + 256;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info(MOD, "open file limit raised from %llu to %llu for MaxTransfers %u",
				 (unsigned long long)old, (unsigned long long)rl.rlim_cur, max_transfers);
	}
	if (rl.rlim_cur < need)
		log_warn(MOD, "open file limit %llu is below MaxTransfers %u + 256: transfers may fail to start",
			 (unsigned long long)rl.rlim_cur, max_transfers);
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
	server_raise_nofile(s->max_transfers);

	int r, one = 1, fd = -1;
	size_t w = s->max_window;
	s->hdr = calloc(w, sizeof(*s->hdr));
	/* netascii windows are built in nbuf; its size is bounded whatever
	 * the limits say, and netascii windows are capped to fit. */
	s->nbuf_blocks = (unsigned)(TFTP_NETASCII_BUF / (TFTP_HDR_LEN + s->max_blksize));
	if (s->nbuf_blocks > s->max_window)
		s->nbuf_blocks = s->max_window;
	if (s->nbuf_blocks == 0)
		s->nbuf_blocks = 1;
	s->nbuf = malloc((size_t)s->nbuf_blocks * (TFTP_HDR_LEN + s->max_blksize));
	s->iov = calloc(2 * w, sizeof(*s->iov));
	s->msgs = calloc(w, sizeof(*s->msgs));
	s->pkts_upto = calloc(w, sizeof(*s->pkts_upto));
	s->gso_ctl = calloc(w, sizeof(*s->gso_ctl));
	if (!s->hdr || !s->nbuf || !s->iov || !s->msgs || !s->pkts_upto || !s->gso_ctl) {
		r = -ENOMEM;
		goto err_free;
	}
	/* A transfer waits for at most one read and hints at one more
	 * ahead; beyond that a transfer sends without waiting. */
	r = tftp_file_cache_new(loop, clamp_u(conf->tftp_workers, TFTP_DEFAULT_WORKERS, 1,
					      EV_WORK_MAX_THREADS),
				2 * (size_t)s->max_transfers + 64, &s->files);
	if (r < 0)
		goto err_free;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
	/* A power cut brings a thousand RRQs within milliseconds; Linux's
	 * default 208 KiB receive buffer holds about 200 of them and the rest
	 * would be dropped (and repeated by the clients a second later).
	 * SO_RCVBUFFORCE passes net.core.rmem_max when we are root. */
	int rcv = TFTP_LISTEN_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	ev_io_init(&s->io, fd, server_io_cb, s);
	r = ev_io_start(loop, &s->io, EV_READ);
	if (r < 0)
		goto err_close;
	*out = s;
	return 0;
err_close:
	close(fd);
err_free:
	server_free_buffers(s);
	free(s);
	return r;
}

void tftp_server_free(struct tftp_server *s)
{
	if (!s)
		return;
	while (s->xfers)
		xfer_free(s->xfers);
	/* Their generator still answers them; tftp_gen_reply() then only
	 * frees them. */
	for (struct tftp_gen_req *g = s->gen_reqs; g; g = g->next)
		g->srv = NULL;
	ev_io_stop(s->loop, &s->io);
	close(s->io.fd);
	server_free_buffers(s);
	free(s);
}

void tftp_server_stats(const struct tftp_server *s, struct tftp_stats *out)
{
	*out = s->stats;
}

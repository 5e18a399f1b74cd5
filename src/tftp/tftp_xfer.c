/* tftp_xfer: the TFTP transfer engine, on the event loop.
 *
 * A read transfer after admission (tftp_admit.h) let it start: option
 * negotiation (RFC 2347 OACK; RFC 2348 blksize, RFC 2349 timeout and
 * tsize, RFC 7440 windowsize), DATA in windows (RFC 1350 §6, RFC 7440 §4)
 * built in the server's shared buffers and sent in one sendmmsg with UDP
 * GSO trains straight from the file's mapping, ACKs (with block-number
 * rollover), retransmission with an adaptive timeout, a burst size that
 * halves on loss and grows back, and the end of a transfer: its last
 * block acknowledged, a client ERROR, a send error or a stall.  Pages not
 * yet in memory are read by tftp_file's workers first, so the loop never
 * waits for the disk.  Everything here runs on the loop thread. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ev/ev.h"
#include "tftp/tftp_file.h"
#include "tftp/tftp_internal.h"

/* Retransmission (RFC 1123 §4.2.3.2 asks for an adaptive timeout).  The
 * timeout follows the measured round trip as TCP's does (RFC 6298: srtt +
 * 4 x rttvar, sampled only on windows sent once, Karn's rule), between
 * TFTP_RTO_MIN_MS and TFTP_RTO_CAP_MS, starting at TFTP_RTO_MS before the
 * first sample.  A client that negotiated `timeout` gets exactly that
 * (RFC 2349).  Each timeout in a row doubles it, up to the cap; a transfer
 * that makes no progress for TFTP_STALL_MS (or 5 x the negotiated timeout,
 * if longer) is given up: the overall deadline.  Before the first ACK,
 * admission's tighter rules apply instead (tftp_admit.h). */
#define TFTP_RTO_MS 1000
#define TFTP_RTO_MIN_MS 100
#define TFTP_RTO_CAP_MS 8000
#define TFTP_STALL_MS 25000
/* Gap between the bursts of one window after a loss (see xfer_push). */
#define TFTP_PACE_MS 1

/* Bound on the shared netascii window buffer (MaxWindowSize x
 * MaxBlockSize could otherwise ask for gigabytes). */
#define TFTP_NETASCII_BUF (4u << 20)

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
 * Memory per transfer: this struct (1,568 bytes on x86-64, 1 KiB of it
 * the escaped name)
 * + the netascii ring ((windowsize + 1) x 16 bytes, netascii only) + the
 * OACK (under 100 bytes), and one socket whose kernel buffers hold at
 * most one window in flight.  Packet buffers are the server's, shared:
 * only one window is built at a time on the loop. */
struct tftp_xfer {
	struct tftp_server *srv;
	struct tftp_slot slot;         /* admission's: peer, start, verified */
	struct ev_io io;
	struct ev_timer timer;
	struct tftp_file *file;        /* shared, referenced */
	struct tftp_file_job *job;     /* disk read in progress, or NULL */
	uint64_t size;                 /* file size at open */
	char peer_str[TFTP_ADDR_STRLEN];
	char name[TFTP_NAME_LOG_MAX];  /* requested name, escaped for logs */
	enum tftp_mode mode;
	bool oack_pending;             /* OACK sent, waiting for ACK 0 */
	bool no_gso;                   /* the path refused UDP_SEGMENT */
	bool win_clean;                /* window sent once: its ACK is an RTT sample */
	bool refused;                  /* a send met ICMP port unreachable */
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
	uint64_t bytes;                /* payload bytes sent, counted once */
};

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
	tftp_admit_release(&s->admit, &x->slot);
	free(x->oack);
	free(x->ring);
	free(x);
}

/* End a transfer: one log line, the counters, and the teardown. */
static void xfer_finish(struct tftp_xfer *x, enum xfer_result res, const char *why)
{
	struct tftp_server *s = x->srv;
	uint64_t ms = now_ms() - x->slot.start_ms;
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
	if (!x->slot.verified)
		return tftp_admit_first_rto(&x->slot, x->tries, now_ms());
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
		x->slot.verified = true;
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
	x->slot.verified = true;
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
	if (tftp_admit_first_expired(&s->admit, &x->slot, x->tries, now_ms())) {
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
static int xfer_new(struct tftp_server *s, const struct tftp_addr *peer, const struct tftp_addr *local,
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
	x->mode = req->mode;
	tftp_admit_take(&s->admit, &x->slot, peer);
	x->progress_ms = x->slot.start_ms;
	x->next_state.pending = -1;
	ev_io_init(&x->io, -1, xfer_io_cb, x);
	ev_timer_init(&x->timer, xfer_timer_cb, x);
	ev_timer_init(&x->pace, xfer_pace_cb, x);
	tftp_addr_format(peer, x->peer_str, sizeof(x->peer_str));
	log_escape(x->name, sizeof(x->name), req->filename, req->filename_len);

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
	int fd = socket(local->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
	/* local carries port 0: the kernel picks the TID. */
	if (bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0 ||
	    connect(fd, (const struct sockaddr *)&peer->ss, peer->len) < 0) {
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

/* ---- starting and stopping ----------------------------------------------- */

int tftp_xfer_start(struct tftp_server *s, const struct tftp_addr *peer,
		    const struct tftp_addr *local, const struct tftp_packet *req,
		    const struct tftp_req_opts *o, struct tftp_file *file)
{
	struct tftp_xfer *x = NULL;
	int r = xfer_new(s, peer, local, req, o, file, &x);
	if (r < 0)
		return r;
	log_debug(MOD, "%s \"%s\" started: blksize %u, windowsize %u%s", x->peer_str, x->name,
		  x->blksize, x->windowsize, x->oack_pending ? ", OACK" : "");
	if (x->oack_pending) {
		if (send(x->io.fd, x->oack, x->oack_len, 0) < 0 && errno == ECONNREFUSED) {
			xfer_finish(x, XFER_FAILED, "client gone");
			return 0;
		}
		ev_timer_start(s->loop, &x->timer, xfer_rto(x));
		return 0;
	}
	xfer_send_window(x, 1);
	return 0;
}

void tftp_xfer_free_all(struct tftp_server *s)
{
	while (s->admit.slots) {
		struct tftp_xfer *x = (struct tftp_xfer *)((char *)s->admit.slots -
							   offsetof(struct tftp_xfer, slot));
		xfer_free(x);
	}
}

int tftp_xfer_buffers_new(struct tftp_server *s)
{
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
	if (!s->hdr || !s->nbuf || !s->iov || !s->msgs || !s->pkts_upto || !s->gso_ctl)
		return -ENOMEM;
	return 0;
}

void tftp_xfer_buffers_free(struct tftp_server *s)
{
	free(s->hdr);
	free(s->nbuf);
	free(s->iov);
	free(s->msgs);
	free(s->pkts_upto);
	free(s->gso_ctl);
}

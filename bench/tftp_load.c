/* tftp_load: TFTP load generator for benchmarking pxed and its peers.
 *
 *   build/bench/tftp_load [options] HOST[:PORT] FILE
 *
 * N concurrent clients each read FILE (N x repeat transfers in all), from
 * one thread with epoll and one non-blocking UDP socket per transfer, as a
 * rack of machines booting at once would.  The client is a correct one:
 *  - options blksize (RFC 2348), windowsize (RFC 7440) and tsize (RFC 2349)
 *    are negotiated through RFC 2347's OACK; a server that ignores them and
 *    answers with DATA 1 is served with the RFC 1350 defaults;
 *  - the last block of each window is acknowledged (RFC 7440 §4); a gap or
 *    a duplicate is answered with one ACK of the last in-order block, not
 *    one per stray packet, so a lost packet does not make the server resend
 *    the window several times over;
 *  - with no progress for -t seconds the last packet sent is sent again, at
 *    most -r times before the transfer fails;
 *  - block numbers roll over past 65535 to 0 (the common convention: tftp-hpa,
 *    atftp, dnsmasq, iPXE);
 *  - with -V LOCALFILE every block is compared with the local copy, and the
 *    length with its size; tsize from the OACK is checked against the length.
 *
 * Prints one line on stdout:
 *   clients=N ok=N failed=N bytes=N seconds=F mbps=F transfers=N retransmits=N
 * where bytes counts the payload of complete transfers only and mbps is
 * bytes / seconds / 10^6.  Each failure gets one line on stderr with its
 * reason.  Exit status 0 when every transfer succeeded, 1 when some failed,
 * 2 on usage or setup errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

enum { OP_RRQ = 1, OP_WRQ, OP_DATA, OP_ACK, OP_ERROR, OP_OACK };

#define TFTP_DEF_BLKSIZE 512
#define TFTP_MAX_BLKSIZE 65464 /* RFC 2348 §2 */
#define TFTP_MAX_WINDOW 65535  /* RFC 7440 §3 */
#define PKT_MAX 65536
#define RECV_BURST 64 /* packets read from one socket before moving on */
#define SCAN_MS 20    /* how often timeouts are looked for */

struct opts {
	const char *host;
	const char *port;
	const char *file;
	const char *verify;	/* local copy to compare with, or NULL */
	unsigned clients;
	unsigned repeat;	/* transfers per client, one after the other */
	unsigned blksize;	/* 0: do not ask */
	unsigned windowsize;	/* 0: do not ask */
	bool tsize;
	double timeout_s;	/* no progress for this long: retransmit */
	unsigned retries;	/* retransmits of one packet before giving up */
	double deadline_s;	/* whole run */
	bool verbose;
	unsigned loss_pm;	/* drop this many received packets per 1000 (tests) */
};

enum xfer_state { X_IDLE, X_RRQ, X_DATA, X_DONE };

struct xfer {
	int fd;
	unsigned id;		/* client number, for messages */
	unsigned left;		/* transfers this client still has to start */
	enum xfer_state state;
	bool connected;		/* socket connected to the server's TID */
	bool gap_acked;		/* re-ACK sent since the last in-order block */
	unsigned blksize;	/* negotiated */
	unsigned window;	/* negotiated */
	unsigned in_window;	/* in-order blocks since the last ACK we sent */
	uint64_t next;		/* next block expected, not wrapped: 1, 2, ... */
	uint64_t bytes;		/* in-order payload received */
	int64_t tsize;		/* from OACK, -1 if none */
	unsigned tries;		/* retransmits of the current packet */
	uint64_t last_ms;	/* last progress or (re)transmission */
	uint8_t last_pkt[516];	/* last packet sent: RRQ or ACK */
	size_t last_len;
};

struct run {
	struct opts o;
	struct sockaddr_storage srv;
	socklen_t srvlen;
	const uint8_t *ref;	/* mmap of the verify file */
	uint64_t ref_len;
	int ep;
	struct xfer *x;
	unsigned active;
	bool restart;		/* some client has finished and has transfers left */
	unsigned long ok, failed, retransmits;
	uint64_t ok_bytes;
	uint8_t rrq[516];
	size_t rrq_len;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: tftp_load [options] HOST[:PORT] FILE\n"
"  -c N      concurrent clients (1)\n"
"  -n N      transfers per client, one after the other (1)\n"
"  -b N      ask for blksize N, 8..65464 (0: do not ask; 512 is used)\n"
"  -w N      ask for windowsize N, 1..65535 (0: do not ask)\n"
"  -T        do not ask for tsize (asked by default, as PXE firmware does)\n"
"  -t S      retransmit after S seconds without progress (1.0)\n"
"  -r N      retransmits of one packet before the transfer fails (5)\n"
"  -d S      deadline for the whole run in seconds (300)\n"
"  -V LOCAL  compare every block with LOCAL and the length with its size\n"
"  -p PORT   server port (69; or HOST:PORT)\n"
"  -v        one line per transfer on stderr\n"
"  -L N      drop N per 1000 received packets at random, to exercise the\n"
"            gap and retransmit paths on loopback (0)\n"
"  -h, --help\n"
"Prints: clients=N ok=N failed=N bytes=N seconds=F mbps=F transfers=N retransmits=N\n"
"(bytes: payload of complete transfers; mbps: 10^6 bytes per second).\n");
}

static int parse_num(const char *s, unsigned long long min, unsigned long long max,
		     unsigned *out, const char *what)
{
	unsigned long long v;

	if (parse_uint(s, min, max, &v) < 0) {
		fprintf(stderr, "tftp_load: %s: expected %llu..%llu, got '%s'\n",
			what, min, max, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_secs(const char *s, double *out, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400) {
		fprintf(stderr, "tftp_load: %s: expected seconds > 0, got '%s'\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

static void xfer_fail(struct run *r, struct xfer *x, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tftp_load: client %u: failed after %llu bytes: ", x->id,
		(unsigned long long)x->bytes);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->failed++;
	x->state = X_DONE;
}

static int xfer_send(struct run *r, struct xfer *x, const void *buf, size_t len)
{
	ssize_t n;

	if (len <= sizeof(x->last_pkt) && buf != x->last_pkt) {
		memcpy(x->last_pkt, buf, len);
		x->last_len = len;
	}
	if (x->connected)
		n = send(x->fd, buf, len, 0);
	else
		n = sendto(x->fd, buf, len, 0, (struct sockaddr *)&r->srv, r->srvlen);
	/* A full send buffer or a refused port (ICMP from an earlier packet)
	 * is left to the retransmit timer: a real client cannot do better. */
	if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED)
		return -errno;
	return 0;
}

static int xfer_ack(struct run *r, struct xfer *x, uint64_t block)
{
	uint8_t p[4] = { 0, OP_ACK, (uint8_t)((block >> 8) & 0xff), (uint8_t)(block & 0xff) };

	return xfer_send(r, x, p, sizeof(p));
}

static void xfer_close(struct run *r, struct xfer *x)
{
	if (x->fd >= 0) {
		epoll_ctl(r->ep, EPOLL_CTL_DEL, x->fd, NULL);
		close(x->fd);
		x->fd = -1;
	}
}

/* Start the client's next transfer: new socket (new TID), RRQ. */
static int xfer_start(struct run *r, struct xfer *x)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = x };

	x->fd = socket(r->srv.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0)
		return -errno;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, x->fd, &ev) < 0) {
		int e = -errno;
		close(x->fd);
		x->fd = -1;
		return e;
	}
	x->left--;
	x->state = X_RRQ;
	x->connected = false;
	x->gap_acked = false;
	x->blksize = TFTP_DEF_BLKSIZE;
	x->window = 1;
	x->in_window = 0;
	x->next = 1;
	x->bytes = 0;
	x->tsize = -1;
	x->tries = 0;
	x->last_ms = now_ms();
	r->active++;
	return xfer_send(r, x, r->rrq, r->rrq_len);
}

static void xfer_finish(struct run *r, struct xfer *x)
{
	xfer_close(r, x);
	r->active--;
	x->state = X_DONE;
	if (x->left > 0)
		r->restart = true;
}

static bool xfer_ok(struct run *r, struct xfer *x)
{
	if (x->tsize >= 0 && (uint64_t)x->tsize != x->bytes) {
		xfer_fail(r, x, "size mismatch: tsize %lld, received %llu",
			  (long long)x->tsize, (unsigned long long)x->bytes);
		return false;
	}
	if (r->ref && x->bytes != r->ref_len) {
		xfer_fail(r, x, "size mismatch: local %llu, received %llu",
			  (unsigned long long)r->ref_len, (unsigned long long)x->bytes);
		return false;
	}
	r->ok++;
	r->ok_bytes += x->bytes;
	if (r->o.verbose)
		fprintf(stderr, "tftp_load: client %u: ok, %llu bytes, blksize %u, windowsize %u\n",
			x->id, (unsigned long long)x->bytes, x->blksize, x->window);
	return true;
}

/* OACK: "name\0value\0" pairs.  Only options we asked for may come back,
 * with values no larger than asked (RFC 2347 §3, RFC 2348, RFC 7440). */
static int parse_oack(struct run *r, struct xfer *x, const uint8_t *p, size_t len,
		      char *why, size_t whylen)
{
	size_t i = 0;

	while (i < len) {
		const char *name = (const char *)p + i, *val;
		const uint8_t *z = memchr(p + i, 0, len - i);
		unsigned long long v;

		if (!z)
			goto bad;
		i = (size_t)(z - p) + 1;
		if (i >= len)
			goto bad;
		val = (const char *)p + i;
		z = memchr(p + i, 0, len - i);
		if (!z)
			goto bad;
		i = (size_t)(z - p) + 1;
		if (parse_uint(val, 0, INT64_MAX, &v) < 0) {
			snprintf(why, whylen, "OACK option %.32s: bad value", name);
			return -1;
		}
		if (!strcasecmp(name, "blksize") && r->o.blksize) {
			if (v < 8 || v > r->o.blksize)
				goto refused;
			x->blksize = (unsigned)v;
		} else if (!strcasecmp(name, "windowsize") && r->o.windowsize) {
			if (v < 1 || v > r->o.windowsize)
				goto refused;
			x->window = (unsigned)v;
		} else if (!strcasecmp(name, "tsize") && r->o.tsize) {
			x->tsize = (int64_t)v;
		} else {
			snprintf(why, whylen, "OACK has option %.32s, not asked", name);
			return -1;
		}
		continue;
refused:
		snprintf(why, whylen, "OACK %.32s=%llu out of range", name, v);
		return -1;
	}
	return 0;
bad:
	snprintf(why, whylen, "malformed OACK");
	return -1;
}

/* Returns true when the transfer is over (either way). */
static bool xfer_rx(struct run *r, struct xfer *x, const uint8_t *p, size_t len)
{
	unsigned op;
	char why[128];

	if (len < 4) {
		/* Ignored, like any stray packet: the timer covers a real loss. */
		return false;
	}
	op = (unsigned)(p[0] << 8 | p[1]);
	if (op == OP_ERROR) {
		char msg[128];
		size_t ml = len - 4 < sizeof(msg) - 1 ? len - 4 : sizeof(msg) - 1;
		size_t k;

		memcpy(msg, p + 4, ml);
		msg[ml] = 0;
		for (k = 0; k < ml && msg[k]; k++)
			if (msg[k] < 32 || msg[k] > 126)
				msg[k] = '?';
		xfer_fail(r, x, "error packet code %u: %s", (unsigned)(p[2] << 8 | p[3]), msg);
		return true;
	}
	if (op == OP_OACK) {
		if (x->state != X_RRQ)
			return false; /* duplicate OACK: our ACK 0 will be resent by the timer */
		if (parse_oack(r, x, p + 2, len - 2, why, sizeof(why)) < 0) {
			static const uint8_t err[] = { 0, OP_ERROR, 0, 8, 'o', 'p', 't', 0 };
			xfer_send(r, x, err, sizeof(err));
			xfer_fail(r, x, "%s", why);
			return true;
		}
		x->state = X_DATA;
		x->tries = 0;
		x->last_ms = now_ms();
		xfer_ack(r, x, 0);
		return false;
	}
	if (op != OP_DATA)
		return false;

	if (x->state == X_RRQ) {
		/* No OACK: the server ignored every option (RFC 2347 §3). */
		x->state = X_DATA;
		x->blksize = TFTP_DEF_BLKSIZE;
		x->window = 1;
	}
	{
		uint16_t blk = (uint16_t)(p[2] << 8 | p[3]);
		int16_t d = (int16_t)(blk - (uint16_t)x->next);
		size_t dl = len - 4;

		if (d != 0) {
			/* Gap (d > 0) or duplicate of an old block (d < 0): tell
			 * the server where we are, once until progress resumes. */
			if (!x->gap_acked) {
				x->gap_acked = true;
				x->in_window = 0;
				xfer_ack(r, x, x->next - 1);
			}
			return false;
		}
		if (dl > x->blksize) {
			xfer_fail(r, x, "block %llu has %zu bytes, blksize %u",
				  (unsigned long long)x->next, dl, x->blksize);
			return true;
		}
		if (r->ref) {
			if (x->bytes + dl > r->ref_len) {
				xfer_fail(r, x, "size mismatch: more than the local %llu bytes",
					  (unsigned long long)r->ref_len);
				return true;
			}
			if (memcmp(r->ref + x->bytes, p + 4, dl)) {
				xfer_fail(r, x, "content mismatch in block %llu (offset %llu)",
					  (unsigned long long)x->next, (unsigned long long)x->bytes);
				return true;
			}
		}
		x->bytes += dl;
		x->gap_acked = false;
		x->tries = 0;
		x->last_ms = now_ms();
		if (dl < x->blksize) {
			xfer_ack(r, x, x->next);
			xfer_ok(r, x);
			return true;
		}
		if (++x->in_window >= x->window) {
			x->in_window = 0;
			xfer_ack(r, x, x->next);
		}
		x->next++;
	}
	return false;
}

static void xfer_readable(struct run *r, struct xfer *x)
{
	static uint8_t buf[PKT_MAX];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < RECV_BURST && x->fd >= 0; i++) {
		fl = sizeof(from);
		n = recvfrom(x->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNREFUSED)
				continue; /* ICMP for an earlier packet; timer handles it */
			xfer_fail(r, x, "recv: %s", strerror(errno));
			xfer_finish(r, x);
			return;
		}
		if (r->o.loss_pm && (unsigned)(random() % 1000) < r->o.loss_pm)
			continue;
		if (!x->connected) {
			/* The first answer fixes the server's TID (RFC 1350 §4);
			 * connecting filters out every other source from here on. */
			if (connect(x->fd, (struct sockaddr *)&from, fl) < 0) {
				xfer_fail(r, x, "connect: %s", strerror(errno));
				xfer_finish(r, x);
				return;
			}
			x->connected = true;
		}
		if (xfer_rx(r, x, buf, (size_t)n)) {
			xfer_finish(r, x);
			return;
		}
	}
}

static void check_timeouts(struct run *r, uint64_t now)
{
	uint64_t to = (uint64_t)(r->o.timeout_s * 1000);
	unsigned i;

	for (i = 0; i < r->o.clients; i++) {
		struct xfer *x = &r->x[i];

		if (x->fd < 0 || now - x->last_ms < to)
			continue;
		if (x->tries >= r->o.retries) {
			xfer_fail(r, x, "timeout: no answer to %s after %u retransmits",
				  x->state == X_RRQ ? "RRQ" : "ACK", x->tries);
			xfer_finish(r, x);
			continue;
		}
		x->tries++;
		x->last_ms = now;
		x->gap_acked = false;
		r->retransmits++;
		xfer_send(r, x, x->last_pkt, x->last_len);
	}
}

static int build_rrq(struct run *r)
{
	uint8_t *p = r->rrq, *end = r->rrq + sizeof(r->rrq);
	char num[16];
	int n;

#define PUT(s)                                              \
	do {                                                \
		size_t l_ = strlen(s) + 1;                  \
		if ((size_t)(end - p) < l_)                 \
			return -ENOBUFS;                    \
		memcpy(p, s, l_);                           \
		p += l_;                                    \
	} while (0)
	*p++ = 0;
	*p++ = OP_RRQ;
	PUT(r->o.file);
	PUT("octet");
	if (r->o.blksize) {
		PUT("blksize");
		n = snprintf(num, sizeof(num), "%u", r->o.blksize);
		(void)n;
		PUT(num);
	}
	if (r->o.windowsize) {
		PUT("windowsize");
		snprintf(num, sizeof(num), "%u", r->o.windowsize);
		PUT(num);
	}
	if (r->o.tsize) {
		PUT("tsize");
		PUT("0");
	}
#undef PUT
	r->rrq_len = (size_t)(p - r->rrq);
	return 0;
}

static int resolve(struct run *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	int e = getaddrinfo(r->o.host, r->o.port, &hints, &ai);

	if (e) {
		fprintf(stderr, "tftp_load: %s:%s: %s\n", r->o.host, r->o.port, gai_strerror(e));
		return -1;
	}
	memcpy(&r->srv, ai->ai_addr, ai->ai_addrlen);
	r->srvlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int map_reference(struct run *r)
{
	struct stat st;
	int fd = open(r->o.verify, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "tftp_load: %s: %s\n", r->o.verify, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r->ref_len = (uint64_t)st.st_size;
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			fprintf(stderr, "tftp_load: mmap %s: %s\n", r->o.verify, strerror(errno));
			close(fd);
			return -1;
		}
		r->ref = m;
	} else {
		r->ref = (const uint8_t *)""; /* non-NULL: verification on */
	}
	close(fd);
	return 0;
}

static void raise_fd_limit(unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need + 16) {
		rl.rlim_cur = rl.rlim_max < need + 16 ? rl.rlim_max : need + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = { .o = { .port = "69", .clients = 1, .repeat = 1, .tsize = true,
				.timeout_s = 1.0, .retries = 5, .deadline_s = 300 } };
	struct epoll_event evs[256];
	uint64_t t0, t_end, deadline, next_scan;
	char *hostarg, *colon;
	unsigned i;
	int c;

	while ((c = getopt_long(argc, argv, "c:n:b:w:Tt:r:d:V:p:vL:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'c': if (parse_num(optarg, 1, 100000, &r.o.clients, "-c") < 0) return 2; break;
		case 'n': if (parse_num(optarg, 1, 1000000, &r.o.repeat, "-n") < 0) return 2; break;
		case 'b':
			if (parse_num(optarg, 0, TFTP_MAX_BLKSIZE, &r.o.blksize, "-b") < 0)
				return 2;
			if (r.o.blksize && r.o.blksize < 8) {
				fprintf(stderr, "tftp_load: -b: blksize is 8..65464\n");
				return 2;
			}
			break;
		case 'w': if (parse_num(optarg, 0, TFTP_MAX_WINDOW, &r.o.windowsize, "-w") < 0) return 2; break;
		case 'T': r.o.tsize = false; break;
		case 't': if (parse_secs(optarg, &r.o.timeout_s, "-t") < 0) return 2; break;
		case 'r': if (parse_num(optarg, 0, 1000, &r.o.retries, "-r") < 0) return 2; break;
		case 'd': if (parse_secs(optarg, &r.o.deadline_s, "-d") < 0) return 2; break;
		case 'V': r.o.verify = optarg; break;
		case 'p': r.o.port = optarg; break;
		case 'v': r.o.verbose = true; break;
		case 'L': if (parse_num(optarg, 0, 999, &r.o.loss_pm, "-L") < 0) return 2; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	hostarg = argv[optind];
	r.o.file = argv[optind + 1];
	/* HOST:PORT, unless HOST is a bare IPv6 address ("::1"). */
	colon = strrchr(hostarg, ':');
	if (colon && strchr(hostarg, ':') == colon) {
		*colon = 0;
		r.o.port = colon + 1;
	}
	r.o.host = hostarg;
	if (build_rrq(&r) < 0) {
		fprintf(stderr, "tftp_load: file name too long for one RRQ\n");
		return 2;
	}
	if (resolve(&r) < 0)
		return 2;
	if (r.o.verify && map_reference(&r) < 0)
		return 2;
	raise_fd_limit(r.o.clients);
	srandom((unsigned)now_us());
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	r.x = calloc(r.o.clients, sizeof(*r.x));
	if (r.ep < 0 || !r.x) {
		fprintf(stderr, "tftp_load: setup: %s\n", strerror(errno));
		return 2;
	}

	t0 = now_us();
	deadline = now_ms() + (uint64_t)(r.o.deadline_s * 1000);
	next_scan = now_ms() + SCAN_MS;
	for (i = 0; i < r.o.clients; i++) {
		struct xfer *x = &r.x[i];

		x->id = i;
		x->fd = -1;
		x->left = r.o.repeat;
		if (xfer_start(&r, x) < 0) {
			fprintf(stderr, "tftp_load: client %u: cannot start: %s\n", i, strerror(errno));
			return 2;
		}
	}

	while (r.active > 0) {
		uint64_t now = now_ms();
		int n, k;
		int wait = now >= next_scan ? 0 : (int)(next_scan - now);

		n = epoll_wait(r.ep, evs, (int)ARRAY_SIZE(evs), wait);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "tftp_load: epoll_wait: %s\n", strerror(errno));
			return 2;
		}
		for (k = 0; k < n; k++)
			xfer_readable(&r, evs[k].data.ptr);
		now = now_ms();
		if (now >= next_scan) {
			check_timeouts(&r, now);
			next_scan = now + SCAN_MS;
		}
		if (now >= deadline) {
			for (i = 0; i < r.o.clients; i++) {
				struct xfer *x = &r.x[i];
				if (x->fd >= 0) {
					xfer_fail(&r, x, "deadline of %.1f s reached", r.o.deadline_s);
					xfer_finish(&r, x);
				}
				if (x->left) {
					fprintf(stderr, "tftp_load: client %u: %u transfers not started "
						"before the deadline\n", x->id, x->left);
					r.failed += x->left;
					x->left = 0;
				}
			}
			r.restart = false;
		}
		/* Clients with transfers left start the next one. */
		if (r.restart) {
			r.restart = false;
			for (i = 0; i < r.o.clients; i++) {
				struct xfer *x = &r.x[i];
				if (x->fd < 0 && x->left > 0 && xfer_start(&r, x) < 0) {
					xfer_fail(&r, x, "cannot start: %s", strerror(errno));
					r.failed += x->left;
					x->left = 0;
				}
			}
		}
	}
	t_end = now_us();
	{
		double secs = (double)(t_end - t0) / 1e6;
		printf("clients=%u ok=%lu failed=%lu bytes=%llu seconds=%.3f mbps=%.2f "
		       "transfers=%llu retransmits=%lu\n",
		       r.o.clients, r.ok, r.failed, (unsigned long long)r.ok_bytes, secs,
		       secs > 0 ? (double)r.ok_bytes / secs / 1e6 : 0.0,
		       (unsigned long long)r.o.clients * r.o.repeat, r.retransmits);
	}
	free(r.x);
	close(r.ep);
	return r.failed ? 1 : 0;
}

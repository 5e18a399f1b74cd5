/* tftp_server: the TFTP server's listening side, on the event loop.
 *
 * One request, in order:
 *   1. server_io_cb: recvmsg on port 69, the client's address and the
 *      local address it was sent to (IP_PKTINFO), as struct tftp_addr;
 *   2. parse (tftp_packet.c): garbage and stray DATA/ACK/ERROR dropped,
 *      malformed requests, unknown modes and write requests refused with
 *      an ERROR (counted by admission as refused);
 *   3. admission (tftp_admit.c): a repeated request ignored, MaxTransfers
 *      and MaxTransfersPerAddress answered "busy";
 *   4. the options (a bad value refused), then a generated file (the GRUB
 *      configurations, maybe after a round trip to the worker) or a file
 *      beneath the root (content.c), shared through tftp_file.c;
 *   5. the transfer engine (tftp_xfer.c) takes it from there.
 * The engine and this file share struct tftp_server (tftp_internal.h). */
#include "tftp/tftp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
#include "tftp/tftp_internal.h"
#include "tftp/tftp_packet.h"

/* Used when the settings leave a limit at 0. */
#define TFTP_DEFAULT_MAX_BLKSIZE 1468 /* fills a 1500-byte Ethernet MTU */
#define TFTP_DEFAULT_MAX_WINDOW 64
#define TFTP_DEFAULT_MAX_TRANSFERS 2000
#define TFTP_DEFAULT_WORKERS 2

/* The listening socket's receive buffer: room for a few thousand RRQs. */
#define TFTP_LISTEN_RCVBUF (4 << 20)

/* A read request waiting for its generator (tftp_server.h). */
struct tftp_gen_req {
	struct tftp_server *srv;       /* NULL once the server is gone */
	struct tftp_gen_req *prev, *next;
	struct tftp_addr peer;
	struct tftp_addr local;
	size_t len;
	uint8_t pkt[];                 /* the request, parsed again on reply */
};


/* ---- requests ----------------------------------------------------------- */

static void server_on_request_gen(struct tftp_server *s, const struct tftp_addr *peer,
				  const struct tftp_addr *local, const uint8_t *pkt, size_t len,
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
static int server_gen_take(struct tftp_server *s, const struct tftp_addr *peer,
			   const struct tftp_addr *local, const struct tftp_packet *p,
			   const uint8_t *pkt, size_t len)
{
	struct tftp_gen_req *g;
	int r;

	/* One request per client TID at a time: a retransmitted RRQ while
	 * the first is being generated is answered by the first. */
	for (g = s->gen_reqs; g; g = g->next)
		if (tftp_addr_equal(&g->peer, peer))
			return 0;
	/* The generator's interface speaks IPv4 (it matches the DHCP
	 * exchange of the same machine): other families get files only. */
	if (peer->ss.ss_family != AF_INET || local->ss.ss_family != AF_INET)
		return -ENOENT;
	if (s->n_gen >= TFTP_GEN_MAX) {
		tftp_admit_busy(&s->admit);
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
	r = s->gen(s->gen_ctx, p->filename, ((const struct sockaddr_in *)&peer->ss)->sin_addr,
		   ((const struct sockaddr_in *)&local->ss)->sin_addr, g);
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
static void server_send_error(struct tftp_server *s, const struct tftp_addr *peer,
			      const struct tftp_addr *local, uint16_t code, const char *msg)
{
	uint8_t pkt[256];
	int len = tftp_build_error(pkt, sizeof(pkt), code, msg);
	if (len < 0)
		return;
	struct iovec iov = { pkt, (size_t)len };
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = {
		.msg_name = (void *)&peer->ss, .msg_namelen = peer->len,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	/* Set to the family's size below, once the header is found. */
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (local->ss.ss_family == AF_INET6) {
		struct in6_pktinfo pi = {
			.ipi6_addr = ((const struct sockaddr_in6 *)&local->ss)->sin6_addr,
			.ipi6_ifindex = ((const struct sockaddr_in6 *)&local->ss)->sin6_scope_id,
		};
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in_pktinfo pi = {
			.ipi_spec_dst = ((const struct sockaddr_in *)&local->ss)->sin_addr,
		};
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	if (sendmsg(s->io.fd, &mh, 0) < 0)
		log_debug(MOD, "sending error to client: %s", strerror(errno));
}

static void server_refuse(struct tftp_server *s, const struct tftp_addr *peer,
			  const struct tftp_addr *local, const char *peer_str, const char *name,
			  uint16_t code, const char *msg, const char *why)
{
	tftp_admit_refused(&s->admit);
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

/* given_fd: -1 for a request off the wire; else the generator's answer
 * to this (same) request: its content (>= 0) or an error (< -1: -errno). */

static void server_on_request(struct tftp_server *s, const struct tftp_addr *peer,
			      const struct tftp_addr *local, const uint8_t *pkt, size_t len)
{
	server_on_request_gen(s, peer, local, pkt, len, -1);
}

static void server_on_request_gen(struct tftp_server *s, const struct tftp_addr *peer,
				  const struct tftp_addr *local, const uint8_t *pkt, size_t len,
				  int given_fd)
{
	char peer_str[TFTP_ADDR_STRLEN];
	char name[TFTP_NAME_LOG_MAX];
	struct tftp_packet p;
	tftp_addr_format(peer, peer_str, sizeof(peer_str));

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
	/* Admission (tftp_admit.h).  A client repeating its RRQ before our
	 * first answer arrived: the running transfer answers it (its timer
	 * retransmits).  Full, in all or for this address: say so with an
	 * ERROR (RFC 1350 §7, code 0 and a message), so the client fails
	 * over or tells its user now rather than after its own timeouts. */
	enum tftp_admit_verdict v = tftp_admit_check(&s->admit, peer, peer_str, name);
	if (v == TFTP_ADMIT_REPEAT) {
		log_debug(MOD, "%s: repeated request for \"%s\" ignored", peer_str, name);
		if (given_fd >= 0)
			close(given_fd);
		return;
	}
	if (v != TFTP_ADMIT_OK) {
		server_send_error(s, peer, local, TFTP_ERR_UNDEF, tftp_admit_busy_message(v));
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
			tftp_admit_refused(&s->admit);
			log_debug(MOD, "%s \"%s\" not found (optional file)", peer_str, name);
			server_send_error(s, peer, local, code, msg);
			return;
		}
		server_refuse(s, peer, local, peer_str, name, code, msg, content_strerror(r));
		return;
	}
	r = tftp_xfer_start(s, peer, local, &p, &o, file);
	if (r < 0) {
		s->stats.failed++;
		log_warn(MOD, "%s \"%s\" failed to start: %s", peer_str, name, strerror(-r));
		server_send_error(s, peer, local, TFTP_ERR_UNDEF, "Server error");
	}
}

static void server_io_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct tftp_server *s = io->data;
	/* Bounded so a flood on port 69 cannot starve running transfers. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { s->rx, sizeof(s->rx) };
		struct msghdr mh = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(io->fd, &mh, 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug(MOD, "recvmsg: %s", strerror(errno));
			return;
		}
		struct tftp_addr peer, local = { .len = 0 };
		if (tftp_addr_set(&peer, (const struct sockaddr *)&from, mh.msg_namelen) < 0 ||
		    tftp_addr_port(&peer) == 0)
			continue;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				/* ipi_spec_dst: the address a reply should come
				 * from (the interface's own address even when the
				 * request was broadcast). */
				struct sockaddr_in *sin = (struct sockaddr_in *)&local.ss;
				sin->sin_family = AF_INET;
				sin->sin_addr = pi.ipi_spec_dst;
				local.len = sizeof(*sin);
			} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&local.ss;
				sin6->sin6_family = AF_INET6;
				sin6->sin6_addr = pi.ipi6_addr;
				sin6->sin6_scope_id = (uint32_t)pi.ipi6_ifindex;
				local.len = sizeof(*sin6);
			}
		}
		if (local.len == 0 || local.ss.ss_family != peer.ss.ss_family)
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
	tftp_xfer_buffers_free(s);
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

	tftp_admit_init(&s->admit, conf, s->max_transfers);

	int r, one = 1, fd = -1;
	r = tftp_xfer_buffers_new(s);
	if (r < 0)
		goto err_free;
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
	tftp_xfer_free_all(s);
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
	const struct tftp_admit_stats *a = &s->admit.stats;
	*out = s->stats;
	out->active = a->active;
	out->refused = a->refused;
	out->busy = a->busy;
	out->busy_per_address = a->busy_per_address;
	out->unacknowledged = a->unacknowledged;
}


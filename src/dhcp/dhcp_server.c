/* dhcp_server: see dhcp_server.h.
 *
 * One request, in order:
 *   1. recvmsg with IP_PKTINFO: the receiving interface and our address;
 *   2. dhcp_parse_request (malformed: counted, one rate-limited log line);
 *   3. no "PXEClient" or "HTTPClient" vendor class: counted, dropped
 *      silently;
 *   4. message type: DISCOVER on 67, REQUEST on 67 (only when it selects
 *      us) or on 4011, INFORM on 4011; anything else dropped.  UEFI HTTP
 *      boot clients ("HTTPClient") have no 4011 step: only 67;
 *   5. facts, then the decision (its settings rules include BindPolicy):
 *      decide_cached() on the loop; when the cache cannot answer, the
 *      request is copied into a job and decide() runs on a worker, so a
 *      slow or locked database never holds up other clients or TFTP;
 *   6. boot file, one decision log line, and unless "not serviced": build
 *      the OFFER/ACK and route it (on the loop, when the job completes). */
#include "dhcp/dhcp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wol.h"
#include "conf/conf.h"
#include "decide/boot_token.h"
#include "decide/decide.h"
#include "dhcp/pxe.h"
#include "ev/ev.h"
#include "ev/ev_work.h"

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
/* Datagrams read per wakeup: the socket is level-triggered, so stopping
 * here only lets the other fds of the loop have their turn. */
#define DHCP_RX_BURST 256
/* At most one malformed-packet log line per this many ms. */
#define DHCP_MALFORMED_LOG_MS 1000
/* Requests waiting for the database at once.  A PXE client retries a
 * DISCOVER after 4, 8, 16 s (PXE 2.1 §2.2.4), so dropping one costs it a
 * retry, while an unbounded queue behind a locked database would only
 * answer clients that gave up long ago. */
#define DHCP_MAX_PENDING 256
/* At most one "busy" log line per this many ms. */
#define DHCP_BUSY_LOG_MS 5000

struct dhcp_port {
	struct dhcp_server *srv;
	struct ev_io io;
	bool pxe;      /* the 4011 boot server port */
	uint16_t port;
};

struct dhcp_job;

struct dhcp_server {
	struct ev_loop *loop;
	const struct pxed_conf *conf;
	struct decider *dec;
	struct ev_work *work;      /* NULL: decide inline */
	struct boot_tokens *tokens; /* script URL tokens for iPXE; NULL = none */
	struct wol_sched *wol;      /* notes relays for Wake-on-LAN; NULL = none */
	struct dhcp_job *pending;  /* requests being decided on the worker */
	size_t n_pending;
	uint64_t busy_log_ms;      /* when the last "busy" line was written */
	struct dhcp_port dhcp;  /* 67 */
	struct dhcp_port pxe;   /* 4011 */
	struct dhcp_stats stats;
	uint64_t malformed_log_ms; /* when the last malformed line was written */
	uint64_t malformed_quiet;  /* malformed packets not logged since */
};

/* What recvmsg told us about one datagram. */
struct dhcp_rx {
	const struct dhcp_port *port;
	struct sockaddr_in src;
	int ifindex;               /* 0 when unknown */
	char ifname[IF_NAMESIZE];  /* "" when unknown */
	struct in_addr local;      /* ipi_spec_dst: our address for replies */
};

/* A request waiting for decide() on the worker: everything needed to
 * answer it afterwards, copied (the receive buffer is reused). */
struct dhcp_job {
	struct ev_work_job job;
	struct dhcp_server *s;
	struct dhcp_job *next;     /* s->pending */
	struct dhcp_rx rx;
	struct dhcp_msg req;
	struct pxe_facts facts;
	const char *ctx;           /* static string: "dhcp DISCOVER", ... */
	uint8_t reply_type;
	struct decision dec;       /* filled on the worker */
	uint64_t queued_ms;
};

static void log_malformed(struct dhcp_server *s, const struct dhcp_rx *rx, const char *why)
{
	uint64_t now = now_ms();
	char ip[INET_ADDRSTRLEN];

	if (s->malformed_log_ms && now - s->malformed_log_ms < DHCP_MALFORMED_LOG_MS) {
		s->malformed_quiet++;
		return;
	}
	inet_ntop(AF_INET, &rx->src.sin_addr, ip, sizeof(ip));
	log_debug("dhcp", "dropped malformed packet from %s:%u on %s port %u: %s"
		  " (%llu more not logged)", ip, (unsigned)ntohs(rx->src.sin_port),
		  rx->ifname[0] ? rx->ifname : "?", (unsigned)rx->port->port, why,
		  (unsigned long long)s->malformed_quiet);
	s->malformed_log_ms = now;
	s->malformed_quiet = 0;
}

/* The interface's primary IPv4 address, for a broadcast request whose
 * IP_PKTINFO gave no usable local address. */
static int iface_address(int fd, const char *ifname, struct in_addr *out)
{
	struct ifreq ifr;

	if (!ifname[0])
		return -ENODEV;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IF_NAMESIZE - 1));
	ifr.ifr_addr.sa_family = AF_INET;
	if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
		return -errno;
	*out = ((struct sockaddr_in *)(void *)&ifr.ifr_addr)->sin_addr;
	return 0;
}

/* Send one reply.  Routing, RFC 2131 §4.1:
 *
 *   "If the 'giaddr' field in a DHCP message from a client is non-zero,
 *    the server sends any return messages to the 'DHCP server' port on the
 *    BOOTP relay agent whose address appears in 'giaddr'.  If the 'giaddr'
 *    field is zero and the 'ciaddr' field is nonzero, then the server
 *    unicasts DHCPOFFER and DHCPACK messages to the address in 'ciaddr'.
 *    If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is
 *    set, then the server broadcasts DHCPOFFER and DHCPACK messages to
 *    0xffffffff.  If the broadcast bit is not set and 'giaddr' is zero and
 *    'ciaddr' is zero, then the server unicasts DHCPOFFER and DHCPACK
 *    messages to the client's hardware address and 'yiaddr' address."
 *
 * pxed never sets yiaddr, so the last case is a broadcast too.  A request
 * on the PXE port 4011 is a unicast from a client that has its address
 * (PXE 2.1 §2.2.6); it is answered to its source address and port. */
static int send_reply(struct dhcp_server *s, const struct dhcp_rx *rx,
		      const struct dhcp_msg *req, const uint8_t *buf, size_t len)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &dst, .msg_namelen = sizeof(dst),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	bool broadcast = false;

	if (rx->port->pxe) {
		dst = rx->src;
	} else if (req->hdr.giaddr.s_addr) {
		dst.sin_addr = req->hdr.giaddr;
		dst.sin_port = htons(DHCP_SERVER_PORT);
	} else if (req->hdr.ciaddr.s_addr) {
		dst.sin_addr = req->hdr.ciaddr;
		dst.sin_port = htons(DHCP_CLIENT_PORT);
	} else {
		dst.sin_addr.s_addr = htonl(INADDR_BROADCAST);
		dst.sin_port = htons(DHCP_CLIENT_PORT);
		broadcast = true;
	}

	/* Source address = the one we put in siaddr/option 54; a broadcast
	 * leaves by the interface the request came in on. */
	memset(&ctl, 0, sizeof(ctl));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi = { .ipi_ifindex = broadcast ? rx->ifindex : 0,
				 .ipi_spec_dst = rx->local };
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));

	if (sendmsg(rx->port->io.fd, &mh, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static void answer(struct dhcp_server *s, const struct dhcp_rx *rx, const struct dhcp_msg *req,
		   const struct pxe_facts *f, struct decision *dec, const char *ctx,
		   uint8_t reply_type);
static void defer_request(struct dhcp_server *s, const struct dhcp_rx *rx,
			  const struct dhcp_msg *req, const struct pxe_facts *f, const char *ctx,
			  uint8_t reply_type);

static void handle_request(struct dhcp_server *s, struct dhcp_rx *rx,
			   const uint8_t *pkt, size_t len)
{
	struct dhcp_msg req;
	struct pxe_facts facts;
	struct decision dec;
	const char *ctx;
	uint8_t reply_type;
	bool http;
	int r;

	r = dhcp_parse_request(pkt, len, &req);
	if (r < 0) {
		s->stats.malformed++;
		if (-r < (int)ARRAY_SIZE(s->stats.malformed_by_reason))
			s->stats.malformed_by_reason[-r]++;
		log_malformed(s, rx, dhcp_parse_strerror(r));
		return;
	}
	http = pxe_is_http_client(&req);
	if (!http && !pxe_is_client(&req)) {
		s->stats.not_pxe++; /* ordinary DHCP traffic: the site server's */
		return;
	}
	if (http && rx->port->pxe) {
		s->stats.not_handled++;
		return;
	}
	/* A relayed PXE request: giaddr is the relay's address on the
	 * client's subnet (RFC 2131 §4.1), where a directed broadcast can
	 * wake it later. */
	if (s->wol && req.hdr.giaddr.s_addr)
		wol_sched_note_relay(s->wol, req.hdr.chaddr, req.hdr.giaddr);

	if (!rx->port->pxe && req.msg_type == DHCPDISCOVER) {
		ctx = "dhcp DISCOVER";
		reply_type = DHCPOFFER;
	} else if (!rx->port->pxe && req.msg_type == DHCPREQUEST) {
		ctx = "dhcp REQUEST";
		reply_type = DHCPACK;
	} else if (rx->port->pxe && req.msg_type == DHCPREQUEST) {
		ctx = "pxe REQUEST:4011";
		reply_type = DHCPACK;
	} else if (rx->port->pxe && req.msg_type == DHCPINFORM) {
		/* Some PXE ROMs ask the boot server with INFORM; RFC 2131
		 * §4.3.5 answers INFORM with ACK. */
		ctx = "pxe INFORM:4011";
		reply_type = DHCPACK;
	} else {
		s->stats.not_handled++;
		return;
	}

	if (!rx->local.s_addr && iface_address(rx->port->io.fd, rx->ifname, &rx->local) < 0) {
		s->stats.no_address++;
		log_debug("dhcp", "no IPv4 address on interface %s to answer from",
			  rx->ifname[0] ? rx->ifname : "?");
		return;
	}

	/* RFC 2131 §4.3.2: a DHCPREQUEST carrying another server's id means
	 * the client chose that server's offer.  It is the lease request to
	 * the site's DHCP server, not ours to answer (as the ProxyDHCP
	 * servers in both fixtures keep quiet); the PXE request comes to
	 * 4011 or names us. */
	if (!rx->port->pxe && req.msg_type == DHCPREQUEST &&
	    (!req.has_server_id || req.server_id.s_addr != rx->local.s_addr)) {
		s->stats.other_server++;
		return;
	}

	if (pxe_facts_from_msg(&req, &facts) < 0) {
		s->stats.malformed++;
		return;
	}
	memcpy(facts.ifname, rx->ifname, sizeof(facts.ifname));
	facts.via = PXE_VIA_DHCP;
	/* Only a DISCOVER may be held back by ResponseDelay: a REQUEST to
	 * 4011 or naming us comes after our OFFER, and EDK2 sends it with
	 * secs 0 (tests/fixtures/edk2-uefi-pxe-proxydhcp-tftp.pcap). */
	facts.chose_us = req.msg_type != DHCPDISCOVER;

	/* BindPolicy is one of decide()'s settings rules (the interface is in
	 * the facts), so it is checked in the documented order and recorded
	 * as a boot event like every other decision. */
	if (!s->work) {
		decide(s->dec, &facts, false, &dec);
	} else if (!decide_cached(s->dec, &facts, &dec)) {
		defer_request(s, rx, &req, &facts, ctx, reply_type);
		return;
	}
	answer(s, rx, &req, &facts, &dec, ctx, reply_type);
}

/* Boot file, the decision log line, and the reply unless "not serviced". */
static void answer(struct dhcp_server *s, const struct dhcp_rx *rx, const struct dhcp_msg *req,
		   const struct pxe_facts *f, struct decision *dec, const char *ctx,
		   uint8_t reply_type)
{
	char file[PXE_BOOTFILE_MAX], token[BOOT_TOKEN_STR_LEN] = "";
	uint8_t out[DHCP_MAX_LEN];
	int r;

	if (dec->outcome != DECISION_IGNORE) {
		/* iPXE's script URL carries a token for this exchange: only a
		 * fetch with it may commit a hand-out (boot_token.h).  iPXE
		 * DHCPs again once chained, so this is its own request. */
		if (f->is_ipxe && s->tokens &&
		    boot_token_issue(s->tokens, f, now_ms(),
				     (uint64_t)s->conf->boot_token_lifetime * 1000, token) < 0)
			log_warn("dhcp", "no random bytes for a boot token; script URL without one");
		/* Same decision either way; only how the client fetches its
		 * boot program differs (TFTP name or HTTP URI). */
		if (pxe_is_http_client(req))
			r = pxe_http_boot_file(s->conf, f, rx->local, token, file, sizeof(file));
		else
			r = pxe_boot_file(s->conf, f, rx->local, token, file, sizeof(file));
		if (r == -ENOENT) {
			dec->outcome = DECISION_IGNORE;
			snprintf(dec->reason, sizeof(dec->reason),
				 "not serviced: no boot program for architecture %u",
				 (unsigned)f->arch);
		} else if (r < 0) {
			dec->outcome = DECISION_IGNORE;
			snprintf(dec->reason, sizeof(dec->reason),
				 "not serviced: boot file name too long for the reply");
		}
	}
	decision_log(f, dec, ctx);
	if (dec->outcome == DECISION_IGNORE) {
		s->stats.ignored++;
		return;
	}

	r = pxe_build_reply(req, f, reply_type, rx->local, file, out, sizeof(out));
	if (r < 0) {
		/* Cannot happen with a full-size buffer; count, don't crash. */
		s->stats.send_errors++;
		log_warn("dhcp", "cannot build reply: %s", strerror(-r));
		return;
	}
	r = send_reply(s, rx, req, out, (size_t)r);
	if (r < 0) {
		s->stats.send_errors++;
		log_debug("dhcp", "send on %s failed: %s", rx->ifname[0] ? rx->ifname : "?",
			  strerror(-r));
		return;
	}
	s->stats.answered++;
}

/* ---- requests decided on the worker ------------------------------------- */

static void job_work(struct ev_work_job *j)
{
	struct dhcp_job *job = j->data;
	decide(job->s->dec, &job->facts, false, &job->dec);
}

static void job_unlink(struct dhcp_server *s, struct dhcp_job *job)
{
	for (struct dhcp_job **p = &s->pending; *p; p = &(*p)->next) {
		if (*p == job) {
			*p = job->next;
			s->n_pending--;
			return;
		}
	}
}

static void job_done(struct ev_work_job *j, bool cancelled)
{
	struct dhcp_job *job = j->data;
	struct dhcp_server *s = job->s;
	uint64_t waited = now_ms() - job->queued_ms;

	job_unlink(s, job);
	if (!cancelled) {
		/* The client may have given up on this answer; it is still the
		 * right one for its next retry, and it says in the log why the
		 * reply was late. */
		if (waited >= 1000) {
			char mac[MAC_STR_LEN];
			mac_format(job->facts.mac, mac);
			log_info("dhcp", "%s: %s decided after %llu ms waiting for the database",
				 mac, job->ctx, (unsigned long long)waited);
		}
		answer(s, &job->rx, &job->req, &job->facts, &job->dec, job->ctx, job->reply_type);
	}
	free(job);
}

static void log_busy(struct dhcp_server *s, const uint8_t mac[MAC_LEN], const char *why)
{
	uint64_t now = now_ms();
	char m[MAC_STR_LEN];
	if (s->busy_log_ms && now - s->busy_log_ms < DHCP_BUSY_LOG_MS)
		return;
	s->busy_log_ms = now;
	mac_format(mac, m);
	log_warn("dhcp", "%s: request dropped, %s (%zu waiting for the database; "
		 "%llu dropped so far); the client retries", m, why, s->n_pending,
		 (unsigned long long)s->stats.busy);
}

/* Copy the request into a job and decide it on the worker.  One request
 * per client at a time: a retry while its predecessor is still being
 * decided is dropped (the answer to the first one serves it). */
static void defer_request(struct dhcp_server *s, const struct dhcp_rx *rx,
			  const struct dhcp_msg *req, const struct pxe_facts *f, const char *ctx,
			  uint8_t reply_type)
{
	struct dhcp_job *job;
	int r;

	for (job = s->pending; job; job = job->next) {
		if (!memcmp(job->facts.mac, f->mac, MAC_LEN)) {
			s->stats.coalesced++;
			return;
		}
	}
	if (s->n_pending >= DHCP_MAX_PENDING) {
		s->stats.busy++;
		log_busy(s, f->mac, "too many requests waiting");
		return;
	}
	job = malloc(sizeof(*job));
	if (!job) {
		s->stats.busy++;
		log_busy(s, f->mac, "out of memory");
		return;
	}
	job->s = s;
	job->rx = *rx;
	job->req = *req;
	job->facts = *f;
	job->ctx = ctx;
	job->reply_type = reply_type;
	job->queued_ms = now_ms();
	ev_work_job_init(&job->job, job_work, job_done, job);
	r = ev_work_submit(s->work, &job->job);
	if (r < 0) {
		free(job);
		s->stats.busy++;
		log_busy(s, f->mac, "the worker queue is full");
		return;
	}
	job->next = s->pending;
	s->pending = job;
	s->n_pending++;
	s->stats.deferred++;
}

static void on_readable(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct dhcp_port *port = io->data;
	struct dhcp_server *s = port->srv;
	/* One byte over the largest message we accept, to see truncation. */
	uint8_t pkt[DHCP_MAX_LEN + 1];

	for (int n = 0; n < DHCP_RX_BURST; n++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct dhcp_rx rx = { .port = port };
		struct iovec iov = { .iov_base = pkt, .iov_len = sizeof(pkt) };
		struct msghdr mh = {
			.msg_name = &rx.src, .msg_namelen = sizeof(rx.src),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t len = recvmsg(io->fd, &mh, MSG_DONTWAIT);
		if (len < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug("dhcp", "recvmsg on port %u: %s", (unsigned)port->port,
					  strerror(errno));
			return;
		}
		s->stats.received++;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				rx.ifindex = pi.ipi_ifindex;
				rx.local = pi.ipi_spec_dst;
			}
		}
		if (rx.ifindex <= 0 || !if_indextoname((unsigned)rx.ifindex, rx.ifname))
			rx.ifname[0] = '\0';
		if (mh.msg_flags & MSG_TRUNC || (size_t)len > DHCP_MAX_LEN) {
			s->stats.malformed++;
			log_malformed(s, &rx, "larger than a DHCP message may be here");
			continue;
		}
		handle_request(s, &rx, pkt, (size_t)len);
	}
}

static int open_port(struct dhcp_server *s, struct dhcp_port *p, uint16_t port, bool pxe)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, fd, r;

	p->srv = s;
	p->pxe = pxe;
	p->port = port;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	ev_io_init(&p->io, fd, on_readable, p);
	r = ev_io_start(s->loop, &p->io, EV_READ);
	if (r < 0) {
		close(fd);
		p->io.fd = -1;
		return r;
	}
	return 0;
}

static void close_port(struct dhcp_server *s, struct dhcp_port *p)
{
	if (p->io.fd < 0)
		return;
	ev_io_stop(s->loop, &p->io);
	close(p->io.fd);
	p->io.fd = -1;
}

int dhcp_server_new(struct ev_loop *loop, const struct pxed_conf *conf,
		    struct decider *dec, struct ev_work *work, struct dhcp_server **out)
{
	struct dhcp_server *s;
	int r;

	*out = NULL;
	if (!loop || !conf || !dec)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->conf = conf;
	s->dec = dec;
	s->work = work;
	s->dhcp.io.fd = -1;
	s->pxe.io.fd = -1;

	r = open_port(s, &s->dhcp, conf->dhcp_port, false);
	if (r < 0)
		goto err_free;
	r = open_port(s, &s->pxe, conf->pxe_port, true);
	if (r < 0)
		goto err_dhcp;
	log_info("dhcp", "ProxyDHCP listening on UDP %u and %u", (unsigned)conf->dhcp_port,
		 (unsigned)conf->pxe_port);
	*out = s;
	return 0;

err_dhcp:
	close_port(s, &s->dhcp);
err_free:
	free(s);
	return r;
}

void dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return;
	close_port(s, &s->pxe);
	close_port(s, &s->dhcp);
	/* No job is pending: ev_work_free() ran first and completed them. */
	free(s);
}

void dhcp_server_set_wol(struct dhcp_server *s, struct wol_sched *wol)
{
	s->wol = wol;
}

void dhcp_server_set_tokens(struct dhcp_server *s, struct boot_tokens *tokens)
{
	s->tokens = tokens;
}

void dhcp_server_stats(const struct dhcp_server *s, struct dhcp_stats *out)
{
	*out = s->stats;
}

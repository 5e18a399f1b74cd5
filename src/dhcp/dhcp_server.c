/* dhcp_server: see dhcp_server.h.
 *
 * One request, in order:
 *   1. recvmmsg with IP_PKTINFO, up to DHCP_RX_BATCH datagrams a call: the
 *      receiving interface and our address;
 *   2. dhcp_parse_request (malformed: counted, one rate-limited log line);
 *   3. no "PXEClient" or "HTTPClient" vendor class: counted, dropped
 *      silently;
 *   4. message type: DISCOVER on 67, REQUEST on 67 (only when it selects
 *      us) or on 4011, INFORM on 4011; anything else dropped.  UEFI HTTP
 *      boot clients ("HTTPClient") have no 4011 step: only 67;
 *   5. facts, then the decision (its settings rules include BindPolicy):
 *      decide_cached() on the loop; when the cache cannot answer, the
 *      request is copied and queued (at most DHCPMaxPending), and the
 *      queue goes to the worker in batches: decide_batch() decides up to
 *      DHCP_BATCH_MAX requests with one read of the database, up to one
 *      batch per worker thread at once, so a
 *      slow or locked database never holds up other clients or TFTP, and a
 *      storm of cold requests pays the database's locking (SQLite) or
 *      round trip (PostgreSQL) and the thread hand-off once per batch,
 *      not per request;
 *   6. boot file (no boot program, the GRUB rules: the decider's
 *      overrides), the decision's one event (decide_record(), with what
 *      the client gets), one decision log line, and unless "not serviced": build
 *      the OFFER/ACK and route it (on the loop, when the batch completes);
 *      "local" to plain PXE firmware is a boot menu that sends it to its
 *      disk at once (pxe_build_local_reply).  The log lines of one burst
 *      are written together (log_hold()). */
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
#include "wake/wol.h"
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
/* Datagrams per recvmmsg() call. */
#define DHCP_RX_BATCH 32
/* Requests decided per worker job: large enough that a storm pays the
 * hand-off and the database's locking rarely, small enough that the first
 * answers of a batch are not held up long (about 10 ms at 100,000
 * devices). */
#define DHCP_BATCH_MAX 256
/* Batches on the worker at once, at most: one per worker thread (one for
 * SQLite, which serialises its calls; one per pooled connection for a
 * database server, so that it decides several batches at once and one
 * slow batch does not hold up the requests behind it). */
#define DHCP_BATCHES_MAX 4
/* An interface name is looked up again after this many ms (it may be
 * renamed; if_indextoname() costs three system calls a packet). */
#define DHCP_IFNAME_MS 1000
/* At most one malformed-packet log line per this many ms. */
#define DHCP_MALFORMED_LOG_MS 1000
/* At most one "busy" log line per this many ms. */
#define DHCP_BUSY_LOG_MS 5000

struct dhcp_port {
	struct dhcp_server *srv;
	struct ev_io io;
	bool pxe;      /* the 4011 boot server port */
	uint16_t port;
	uint32_t drops; /* the kernel's SO_RXQ_OVFL count last seen */
};

struct dhcp_job;

/* The requests on the worker now: one ev_work job for many requests. */
struct dhcp_batch {
	struct ev_work_job job;
	struct dhcp_server *s;
	bool out;                  /* submitted, done() not yet run */
	size_t n;
	struct dhcp_job *jobs[DHCP_BATCH_MAX];
	const struct pxe_facts *facts[DHCP_BATCH_MAX]; /* &jobs[i]->facts */
	struct decision *dec[DHCP_BATCH_MAX];         /* &jobs[i]->dec */
};

/* Buckets of the pending requests by MAC (a retry finds its first try). */
#define DHCP_PENDING_BUCKETS 1024

struct dhcp_server {
	struct ev_loop *loop;
	const struct pxed_conf *conf;
	struct decider *dec;
	struct ev_work *work;      /* NULL: decide inline */
	struct boot_tokens *tokens; /* script URL tokens for iPXE; NULL = none */
	/* Requests the cache could not answer, waiting for the database.  A
	 * PXE client retries a DISCOVER after 4, 8, 16 s (PXE 2.1 §2.2.4), so
	 * dropping one costs it a retry, while an unbounded queue behind a
	 * locked database would only answer clients that gave up long ago:
	 * at most conf->dhcp_max_pending, queued and in the batch together. */
	struct dhcp_job *queue, *queue_tail; /* not yet on the worker, FIFO */
	struct dhcp_job *by_mac[DHCP_PENDING_BUCKETS]; /* every pending request */
	struct wol_sched *wol;      /* notes relays for Wake-on-LAN; NULL = none */
	size_t n_pending;
	struct dhcp_batch batch[DHCP_BATCHES_MAX];
	unsigned nbatch;           /* of batch[] in use: the worker's threads */
	uint64_t busy_log_ms;      /* when the last "busy" line was written */
	int ifname_index;          /* if_indextoname() cache: index, name, when */
	char ifname[IF_NAMESIZE];
	uint64_t ifname_ms;
	struct dhcp_port dhcp;  /* 67 */
	struct dhcp_port pxe;   /* 4011 */
	struct dhcp_stats stats;
	uint64_t malformed_log_ms; /* when the last malformed line was written */
	uint64_t malformed_quiet;  /* malformed packets not logged since */
	struct dhcp_recent recent; /* GRUB-family clients' last exchanges */
	bool grub_x64, grub_arm64; /* the GRUB files are there to serve */
};

/* What recvmsg told us about one datagram. */
struct dhcp_rx {
	const struct dhcp_port *port;
	struct sockaddr_in src;
	int ifindex;               /* 0 when unknown */
	char ifname[IF_NAMESIZE];  /* "" when unknown */
	struct in_addr local;      /* ipi_spec_dst: our address for replies */
};

/* A request waiting for a decision on the worker: everything needed to
 * answer it afterwards, copied (the receive buffer is reused). */
struct dhcp_job {
	struct dhcp_job *next;     /* s->queue */
	struct dhcp_job *hnext;    /* s->by_mac bucket */
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
static void grub_rules(struct dhcp_server *s, const struct dhcp_rx *rx, const struct pxe_facts *f,
		       struct decision *dec);
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

	/* BindPolicy is one of the decider's settings rules (the interface is
	 * in the facts), so it is checked in the documented order and recorded
	 * as a boot event like every other decision (by answer()). */
	if (!s->work) {
		decide_open(s->dec, &facts, false, DECIDE_CHOICE_NONE, &dec);
	} else if (!decide_cached(s->dec, &facts, &dec)) {
		defer_request(s, rx, &req, &facts, ctx, reply_type);
		return;
	}
	answer(s, rx, &req, &facts, &dec, ctx, reply_type);
}

/* The GRUB family's own rules, after the decision (docs/bootloaders.md),
 * applied as the decider's overrides so that the event says them: its
 * files must be installed; GRUB asks PXEPassword only with PXEPasswordGRUB
 * (it is sent the hash it checks), else such a machine goes local; a
 * machine GRUB just sent to its disk goes there.  Then its facts are kept
 * for its GRUB configuration (dhcp_recent.h). */
static void grub_rules(struct dhcp_server *s, const struct dhcp_rx *rx, const struct pxe_facts *f,
		       struct decision *dec)
{
	uint64_t now = now_ms();
	bool x64 = f->arch_class == PXE_ARCH_UEFI_X64;

	if (x64 ? !s->grub_x64 : !s->grub_arm64) {
		decide_override(dec, f, DECIDE_OVR_GRUB_MISSING,
				x64 ? "shim-signed and grub-efi-amd64-signed" : "grub-efi-arm64-bin");
		return;
	}
	if (dec->outcome == DECISION_BOOT && s->conf->pxe_password_hash[0] &&
	    !conf_grub_password(s->conf)) {
		decide_override(dec, f, DECIDE_OVR_GRUB_PASSWORD, NULL);
		return;
	}
	if (dec->outcome == DECISION_BOOT && dhcp_recent_local(&s->recent, f->mac, now)) {
		decide_override(dec, f, DECIDE_OVR_GRUB_WENT_LOCAL, NULL);
		return;
	}
	/* A request to 4011 comes from the address the site server leased
	 * (PXE 2.1 §2.2.6); GRUB's requests come from the same one. */
	dhcp_recent_note(&s->recent, f, rx->port->pxe ? rx->src.sin_addr : (struct in_addr){ 0 },
			 now);
}

/* Boot file (and the overrides it brings), the decision's event and log
 * line, and the reply unless "not serviced". */
static void answer(struct dhcp_server *s, const struct dhcp_rx *rx, const struct dhcp_msg *req,
		   const struct pxe_facts *f, struct decision *dec, const char *ctx,
		   uint8_t reply_type)
{
	char file[PXE_BOOTFILE_MAX], token[BOOT_TOKEN_STR_LEN] = "";
	uint8_t out[DHCP_MAX_LEN];
	bool menu;
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
		if (pxe_is_http_client(req)) {
			r = pxe_http_boot_file(s->conf, f, rx->local, token, file, sizeof(file));
			/* Served or not is the boot program's question; what
			 * "local" sends is a URI with nothing behind it. */
			if (r == 0 && dec->outcome == DECISION_LOCAL && !f->is_ipxe)
				r = pxe_http_local_file(s->conf, rx->local, file, sizeof(file));
		} else {
			r = pxe_boot_file_for(s->conf, f, dec->loader, rx->local, token, file,
					      sizeof(file));
		}
		if (r == -ENOENT)
			decide_override(dec, f, DECIDE_OVR_NO_BOOT_PROGRAM, NULL);
		else if (r < 0)
			decide_override(dec, f, DECIDE_OVR_BOOT_FILE_LONG, NULL);
		else if (!pxe_is_http_client(req) && pxe_loader_grub_for(s->conf, f, dec->loader))
			grub_rules(s, rx, f, dec);
	}
	/* What the client gets is settled: its one event (queued only). */
	decide_record(s->dec, f, dec);
	decision_log(f, dec, ctx);
	if (dec->outcome == DECISION_IGNORE) {
		s->stats.ignored++;
		return;
	}

	/* "local" to plain PXE firmware: its own boot menu's local-disk item,
	 * not a boot program that would only exit again (pxe.h). */
	menu = dec->outcome == DECISION_LOCAL && pxe_local_by_menu(req, f);
	if (menu) {
		r = pxe_build_local_reply(req, reply_type, rx->local, out, sizeof(out));
	} else {
		r = pxe_build_reply(req, f, reply_type, rx->local, file, out, sizeof(out));
	}
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
	if (menu)
		s->stats.local_menu++;
}

/* ---- requests decided on the worker ------------------------------------- */

static size_t mac_bucket(const uint8_t mac[MAC_LEN])
{
	/* The last bytes of a MAC vary most (the first three name the maker). */
	return ((size_t)mac[3] << 16 ^ (size_t)mac[4] << 8 ^ mac[5] ^ (size_t)mac[2] << 4) %
	       DHCP_PENDING_BUCKETS;
}

static struct dhcp_job *pending_find(struct dhcp_server *s, const uint8_t mac[MAC_LEN])
{
	for (struct dhcp_job *j = s->by_mac[mac_bucket(mac)]; j; j = j->hnext)
		if (!memcmp(j->facts.mac, mac, MAC_LEN))
			return j;
	return NULL;
}

static void pending_remove(struct dhcp_server *s, struct dhcp_job *job)
{
	for (struct dhcp_job **p = &s->by_mac[mac_bucket(job->facts.mac)]; *p; p = &(*p)->hnext) {
		if (*p == job) {
			*p = job->hnext;
			s->n_pending--;
			return;
		}
	}
}

static void batch_work(struct ev_work_job *j)
{
	struct dhcp_batch *b = j->data;
	decide_batch(b->s->dec, b->facts, b->dec, b->n);
}

static void batch_submit(struct dhcp_server *s);

static void batch_done(struct ev_work_job *j, bool cancelled)
{
	struct dhcp_batch *b = j->data;
	struct dhcp_server *s = b->s;
	struct dhcp_job *done[DHCP_BATCH_MAX];
	size_t n = b->n;
	uint64_t now = now_ms();

	/* The next batch goes to the worker first, so that it decides while
	 * the loop sends these answers. */
	memcpy(done, b->jobs, n * sizeof(*done));
	b->n = 0;
	b->out = false;
	if (!cancelled)
		batch_submit(s);

	log_hold();
	for (size_t i = 0; i < n; i++) {
		struct dhcp_job *job = done[i];
		uint64_t waited = now - job->queued_ms;
		pending_remove(s, job);
		if (!cancelled) {
			/* The client may have given up on this answer; it is still
			 * the right one for its next retry, and it says in the log
			 * why the reply was late. */
			if (waited >= 1000) {
				char mac[MAC_STR_LEN];
				mac_format(job->facts.mac, mac);
				log_info("dhcp", "%s: %s decided after %llu ms waiting for the database",
					 mac, job->ctx, (unsigned long long)waited);
			}
			answer(s, &job->rx, &job->req, &job->facts, &job->dec, job->ctx,
			       job->reply_type);
		}
		free(job);
	}
	log_release();
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

/* Hand the oldest queued requests to the worker as one batch, unless
 * every batch is there already: a completion sends the next one, so the
 * requests that arrive while the worker decides are decided together. */
static void batch_submit_one(struct dhcp_server *s, struct dhcp_batch *b)
{
	int r;

	while (s->queue && b->n < DHCP_BATCH_MAX) {
		struct dhcp_job *job = s->queue;
		s->queue = job->next;
		b->jobs[b->n] = job;
		b->facts[b->n] = &job->facts;
		b->dec[b->n] = &job->dec;
		b->n++;
	}
	if (!s->queue)
		s->queue_tail = NULL;
	b->s = s;
	ev_work_job_init(&b->job, batch_work, batch_done, b);
	r = ev_work_submit(s->work, &b->job);
	if (r == 0) {
		b->out = true;
		return;
	}
	/* The worker's queue is full (or shutting down): these requests
	 * are dropped, each counted; their clients retry. */
	for (size_t i = 0; i < b->n; i++) {
		s->stats.busy++;
		log_busy(s, b->jobs[i]->facts.mac, "the worker queue is full");
		pending_remove(s, b->jobs[i]);
		free(b->jobs[i]);
	}
	b->n = 0;
}

static void batch_submit(struct dhcp_server *s)
{
	for (unsigned i = 0; i < s->nbatch && s->queue; i++)
		if (!s->batch[i].out)
			batch_submit_one(s, &s->batch[i]);
}

/* Copy the request into a job and queue it for the worker.  One request
 * per client at a time: a retry while its predecessor is still waiting is
 * dropped (the answer to the first one serves it). */
static void defer_request(struct dhcp_server *s, const struct dhcp_rx *rx,
			  const struct dhcp_msg *req, const struct pxe_facts *f, const char *ctx,
			  uint8_t reply_type)
{
	struct dhcp_job *job;

	if (pending_find(s, f->mac)) {
		s->stats.coalesced++;
		return;
	}
	if (s->n_pending >= s->conf->dhcp_max_pending) {
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
	job->rx = *rx;
	job->req = *req;
	job->facts = *f;
	job->ctx = ctx;
	job->reply_type = reply_type;
	job->queued_ms = now_ms();
	job->next = NULL;
	if (s->queue_tail)
		s->queue_tail->next = job;
	else
		s->queue = job;
	s->queue_tail = job;
	size_t h = mac_bucket(f->mac);
	job->hnext = s->by_mac[h];
	s->by_mac[h] = job;
	s->n_pending++;
	s->stats.deferred++;
}

/* The name of interface ifindex, "" when unknown; cached for
 * DHCP_IFNAME_MS. */
static void rx_ifname(struct dhcp_server *s, struct dhcp_rx *rx, uint64_t now)
{
	if (rx->ifindex <= 0) {
		rx->ifname[0] = '\0';
		return;
	}
	if (rx->ifindex != s->ifname_index || now - s->ifname_ms >= DHCP_IFNAME_MS) {
		if (!if_indextoname((unsigned)rx->ifindex, s->ifname))
			s->ifname[0] = '\0';
		s->ifname_index = rx->ifindex;
		s->ifname_ms = now;
	}
	memcpy(rx->ifname, s->ifname, sizeof(rx->ifname));
}

static void on_readable(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct dhcp_port *port = io->data;
	struct dhcp_server *s = port->srv;
	union ctl {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	};
	/* One byte over the largest message we accept, to see truncation. */
	static uint8_t pkt[DHCP_RX_BATCH][DHCP_MAX_LEN + 1];
	struct sockaddr_in src[DHCP_RX_BATCH];
	union ctl ctl[DHCP_RX_BATCH];
	struct iovec iov[DHCP_RX_BATCH];
	struct mmsghdr mm[DHCP_RX_BATCH];
	uint64_t now = now_ms();
	int total = 0;

	log_hold();
	while (total < DHCP_RX_BURST) {
		for (int i = 0; i < DHCP_RX_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = pkt[i], .iov_len = sizeof(pkt[i]) };
			mm[i].msg_hdr = (struct msghdr){
				.msg_name = &src[i], .msg_namelen = sizeof(src[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = ctl[i].buf, .msg_controllen = sizeof(ctl[i].buf),
			};
		}
		int n = recvmmsg(io->fd, mm, DHCP_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug("dhcp", "recvmmsg on port %u: %s", (unsigned)port->port,
					  strerror(errno));
			break;
		}
		decide_cached_begin(s->dec);
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &mm[i].msg_hdr;
			size_t len = mm[i].msg_len;
			struct dhcp_rx rx = { .port = port, .src = src[i] };
			s->stats.received++;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
				if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
					struct in_pktinfo pi;
					memcpy(&pi, CMSG_DATA(c), sizeof(pi));
					rx.ifindex = pi.ipi_ifindex;
					rx.local = pi.ipi_spec_dst;
				} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
					/* The socket's drops so far (wraps at 2^32). */
					uint32_t d;
					memcpy(&d, CMSG_DATA(c), sizeof(d));
					s->stats.socket_drops += (uint32_t)(d - port->drops);
					port->drops = d;
				}
			}
			rx_ifname(s, &rx, now);
			if (mh->msg_flags & MSG_TRUNC || len > DHCP_MAX_LEN) {
				s->stats.malformed++;
				log_malformed(s, &rx, "larger than a DHCP message may be here");
				continue;
			}
			handle_request(s, &rx, pkt[i], len);
		}
		decide_cached_end(s->dec);
		total += n;
		if (n < DHCP_RX_BATCH)
			break; /* drained */
	}
	if (s->work)
		batch_submit(s);
	log_release();
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
	    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* A boot storm's DISCOVERs come faster than cold decisions are made;
	 * what the socket cannot hold is lost until the client retries 4 s
	 * later (PXE 2.1 §2.2.4).  As root the rmem_max cap does not apply. */
	int rcvbuf = (int)(s->conf->dhcp_rcvbuf_kib * 1024u), got = 0;
	socklen_t gl = sizeof(got);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* Linux reports twice what was set (its bookkeeping overhead). */
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got / 2 < rcvbuf)
		log_warn("dhcp", "port %u: receive buffer is %d KiB, not the %u KiB of "
			 "DHCPReceiveBuffer (not root: net.core.rmem_max caps it)", (unsigned)port,
			 got / 2048, s->conf->dhcp_rcvbuf_kib);
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
	if (work) {
		s->nbatch = ev_work_threads(work);
		if (s->nbatch > DHCP_BATCHES_MAX)
			s->nbatch = DHCP_BATCHES_MAX;
	}
	s->dhcp.io.fd = -1;
	s->pxe.io.fd = -1;
	r = dhcp_recent_init(&s->recent, DHCP_RECENT_MAX, DHCP_RECENT_TTL_MS);
	if (r < 0)
		goto err_free;

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
	dhcp_recent_free(&s->recent);
	free(s);
	return r;
}

void dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return;
	close_port(s, &s->pxe);
	close_port(s, &s->dhcp);
	/* ev_work_free() ran first and completed or cancelled the batches;
	 * what is still queued never reached the worker. */
	while (s->queue) {
		struct dhcp_job *next = s->queue->next;
		free(s->queue);
		s->queue = next;
	}
	dhcp_recent_free(&s->recent);
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

void dhcp_server_set_grub(struct dhcp_server *s, bool x64, bool arm64)
{
	s->grub_x64 = x64;
	s->grub_arm64 = arm64;
}

bool dhcp_server_recent(const struct dhcp_server *s, const uint8_t mac[MAC_LEN],
			struct dhcp_recent_entry *out)
{
	return dhcp_recent_find(&s->recent, mac, now_ms(), out);
}

bool dhcp_server_recent_by_addr(const struct dhcp_server *s, struct in_addr addr,
				struct dhcp_recent_entry *out)
{
	return dhcp_recent_find_addr(&s->recent, addr, now_ms(), out);
}

void dhcp_server_send_local(struct dhcp_server *s, const uint8_t mac[MAC_LEN], unsigned ms)
{
	uint64_t now = now_ms();
	dhcp_recent_set_local(&s->recent, mac, now + ms, now);
}

void dhcp_server_stats(const struct dhcp_server *s, struct dhcp_stats *out)
{
	*out = s->stats;
}

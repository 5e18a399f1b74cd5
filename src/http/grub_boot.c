/* grub_boot: see grub_boot.h. */
#include "http/grub_boot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "dhcp/dhcp_server.h"
#include "dhcp/pxe.h"
#include "ev/ev.h"
#include "ev/ev_work.h"
#include "http/boot_image.h"
#include "http/grub_script.h"
#include "http/http_report.h"
#include "store/store.h"
#include "tftp/tftp_server.h"

#define MOD "grub"
#define GRUB_CFG_MAX 8192

/* An address GRUB was served to, waiting for its grub/ requests. */
struct grub_watch {
	struct in_addr addr;
	uint64_t at_ms;
	bool used;
	bool has_mac;              /* the machine whose 4011 request came from addr */
	struct dhcp_recent_entry who;
};

/* A menu pxed served (an available deployment's, or any behind
 * PXEPassword), for its entries' files: see menu_find(). */
struct grub_menu {
	struct in_addr addr;       /* the address that read the menu */
	uint64_t at_ms;
	bool used;
	struct dhcp_recent_entry who; /* the exchange it was decided for */
};

struct grub_boot {
	struct ev_loop *loop;
	const struct pxed_conf *conf;
	struct decider *dec;
	struct store *store;
	struct ev_work *work;
	struct dhcp_server *dhcp;
	struct tftp_server *tftp;
	struct ev_timer timer;
	struct grub_watch watch[GRUB_WATCH_MAX];
	struct grub_menu menus[GRUB_MENU_MAX];
	struct grub_boot_stats stats;
	unsigned pending;          /* jobs on the worker */
};

/* A per-machine configuration being decided on the worker. */
struct grub_job {
	struct ev_work_job job;
	struct grub_boot *g;
	struct tftp_gen_req *req;
	enum grub_cfg_kind kind;
	struct pxe_facts facts;
	struct dhcp_recent_entry who; /* the DHCP exchange the facts come from */
	struct in_addr peer;       /* the address that asked */
	struct in_addr local;
	struct decision d;
	int rc;
	bool handed_out;
	bool need_pw;              /* PXEPassword was set when the request came */
	bool menu;                 /* a deployment became the password menu */
	struct boot_image img;     /* the command line's template; sent local, and why */
	char token[STORE_REPORT_TOKEN_MAX + 1];
	/* http://HOST:PORT, pxed's HTTP side as this machine reaches it
	 * (http_base()): the report URL and the built-ins server and http */
	char base[INET6_ADDRSTRLEN + 16];
	/* conf_grub_password() when the request came, "" = GRUB machines
	 * are not asked PXEPassword */
	char grub_pw[sizeof(((struct pxed_conf *)0)->pxe_password_grub_hash)];
};

/* A next-server event, written on the worker. */
struct grub_event_job {
	struct ev_work_job job;
	struct grub_boot *g;
	struct store_event ev;
};

/* ---- the check that keeps a bare TFTP read from committing ------------- */

/* Whether a request for mac's configuration from peer may be answered with
 * a committing decision: the same machine did its DHCP exchange with pxed
 * within DHCP_RECENT_TTL_MS, and when that exchange showed the address it
 * leased (its port-4011 request), the request comes from that address.
 * Anyone else reading grub/mac-MAC.cfg gets "not serviced" and commits
 * nothing.  A menu's entry files may also stand on the menu (menu_find()).
 * One place, so that a per-boot token can replace it. */
static bool grub_fetch_allowed(const struct dhcp_recent_entry *e, bool found, struct in_addr peer)
{
	if (!found)
		return false;
	return e->addr.s_addr == 0 || e->addr.s_addr == peer.s_addr;
}

/* ---- menus waiting for a choice ----------------------------------------- */

/* A person at a menu -- the more so one typing PXEPassword, which GRUB
 * then checks with 100,000 rounds of PBKDF2 -- may take longer than a DHCP
 * exchange vouches for (DHCP_RECENT_TTL_MS).  So the menu's own files
 * (deploy-MAC.cfg, local-MAC.cfg) are also answered for GRUB_MENU_TTL_MS
 * after mac-MAC.cfg served the menu, to the address that read it, with
 * that exchange's facts; once, the choice uses the record up.  (The local
 * entry chosen that late restarts the machine before DHCP marks it
 * "local", as the exchange's record is gone: it sees the menu once more,
 * whose countdown then ends on the disk.) */
static void menu_add(struct grub_boot *g, struct in_addr addr, const struct dhcp_recent_entry *who)
{
	struct grub_menu *m = NULL, *oldest = NULL;
	for (size_t i = 0; i < GRUB_MENU_MAX; i++) {
		struct grub_menu *x = &g->menus[i];
		if (x->used && !memcmp(x->who.mac, who->mac, MAC_LEN)) {
			m = x;
			break;
		}
		if (!x->used && !m)
			m = x;
		else if (x->used && (!oldest || x->at_ms < oldest->at_ms))
			oldest = x;
	}
	if (!m)
		m = oldest;
	m->addr = addr;
	m->at_ms = now_ms();
	m->who = *who;
	m->used = true;
}

static struct grub_menu *menu_find(struct grub_boot *g, const uint8_t mac[MAC_LEN],
				   struct in_addr peer)
{
	uint64_t now = now_ms();
	for (size_t i = 0; i < GRUB_MENU_MAX; i++) {
		struct grub_menu *m = &g->menus[i];
		if (m->used && !memcmp(m->who.mac, mac, MAC_LEN) && m->addr.s_addr == peer.s_addr &&
		    now - m->at_ms < GRUB_MENU_TTL_MS)
			return m;
	}
	return NULL;
}

/* ---- next-server watch --------------------------------------------------- */

static void watch_add(struct grub_boot *g, struct in_addr addr)
{
	struct grub_watch *w = NULL, *oldest = NULL;
	for (size_t i = 0; i < GRUB_WATCH_MAX; i++) {
		struct grub_watch *x = &g->watch[i];
		if (x->used && x->addr.s_addr == addr.s_addr) {
			w = x;
			break;
		}
		if (!x->used && !w)
			w = x;
		else if (x->used && (!oldest || x->at_ms < oldest->at_ms))
			oldest = x;
	}
	if (!w)
		w = oldest;
	w->addr = addr;
	w->at_ms = now_ms();
	w->used = true;
	w->has_mac = dhcp_server_recent_by_addr(g->dhcp, addr, &w->who);
	if (!ev_timer_active(&g->timer))
		ev_timer_start(g->loop, &g->timer, GRUB_NEXT_SERVER_WAIT_MS / 6);
}

static void watch_clear(struct grub_boot *g, struct in_addr addr)
{
	for (size_t i = 0; i < GRUB_WATCH_MAX; i++)
		if (g->watch[i].used && g->watch[i].addr.s_addr == addr.s_addr)
			g->watch[i].used = false;
}

static void event_work(struct ev_work_job *j)
{
	struct grub_event_job *e = j->data;
	if (store_event_add(e->g->store, &e->ev) < 0)
		log_warn(MOD, "cannot record the next-server event: %s", store_last_error(e->g->store));
}

static void event_done(struct ev_work_job *j, bool cancelled)
{
	struct grub_event_job *e = j->data;
	e->g->pending--;
	free(e);
}

static const char NEXT_SERVER_REASON[] =
	"GRUB got no configuration: the site DHCP server must name pxed as next-server "
	"(or option 66), see docs/bootloaders.md";

static void next_server_missed(struct grub_boot *g, const struct grub_watch *w)
{
	char ip[INET_ADDRSTRLEN], pxe[INET_ADDRSTRLEN] = "this server", mac[MAC_STR_LEN] = "";
	struct grub_event_job *e;

	inet_ntop(AF_INET, &w->addr, ip, sizeof(ip));
	g->stats.next_server++;
	if (w->has_mac)
		mac_format(w->who.mac, mac);
	log_warn(MOD, "%s%s%s: GRUB was loaded %u s ago but asked pxed for no grub/ file: the site "
		      "DHCP server's ACK names another TFTP server, or none.  Set its next-server "
		      "(siaddr) or option 66 to %s's address for PXE clients (docs/bootloaders.md)",
		 w->has_mac ? mac : "", w->has_mac ? " at " : "", ip, GRUB_NEXT_SERVER_WAIT_MS / 1000, pxe);
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->g = g;
	e->ev.time_ms = (int64_t)time(NULL) * 1000;
	e->ev.arch = -1;
	snprintf(e->ev.via, sizeof(e->ev.via), "tftp");
	snprintf(e->ev.outcome, sizeof(e->ev.outcome), "ignore");
	snprintf(e->ev.reason, sizeof(e->ev.reason), "%s (client %s)", NEXT_SERVER_REASON, ip);
	/* The MAC is the one whose recent exchange came from that address,
	 * when known; else the event stands for the address alone. */
	if (w->has_mac) {
		memcpy(e->ev.mac, w->who.mac, MAC_LEN);
		e->ev.has_guid = w->who.has_guid;
		memcpy(e->ev.guid, w->who.guid, GUID_LEN);
		e->ev.arch = w->who.has_arch ? w->who.arch : -1;
	}
	ev_work_job_init(&e->job, event_work, event_done, e);
	if (ev_work_submit(g->work, &e->job) < 0) {
		free(e);
		return;
	}
	g->pending++;
}

static void on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct grub_boot *g = t->data;
	uint64_t now = now_ms();
	bool any = false;
	for (size_t i = 0; i < GRUB_WATCH_MAX; i++) {
		struct grub_watch *w = &g->watch[i];
		if (!w->used)
			continue;
		if (now - w->at_ms >= GRUB_NEXT_SERVER_WAIT_MS) {
			w->used = false;
			next_server_missed(g, w);
		} else {
			any = true;
		}
	}
	if (any)
		ev_timer_start(loop, t, GRUB_NEXT_SERVER_WAIT_MS / 6);
}

/* ---- the configurations -------------------------------------------------- */

static void reply_text(struct tftp_gen_req *req, const char *text, size_t len)
{
	int fd = tftp_gen_memfd(text, len);
	tftp_gen_reply(req, fd);
}

/* PXEPassword (docs/bootloaders.md): GRUB checks it on the machine, so
 * mac-MAC.cfg never commits while it is set -- a deployment becomes the
 * menu whose start entry GRUB runs only after the right password, and
 * that entry's file, deploy-MAC.cfg, commits the hand-out.  When GRUB
 * machines are not to be asked (PXEPasswordGRUB = no; the DHCP answer
 * already sends them to their disk, this is for a setting changed in
 * between), nothing commits and the machine goes local, as there. */
static void job_work(struct ev_work_job *j)
{
	struct grub_job *job = j->data;
	struct grub_boot *g = job->g;
	struct decision *d = &job->d;
	struct store_report rep;
	bool commit = job->kind == GRUB_CFG_MAC ? !job->need_pw : !job->need_pw || job->grub_pw[0];

	/* Recorded by job_done(), once the configuration is made. */
	job->rc = decide_open(g->dec, &job->facts, commit,
			      job->kind == GRUB_CFG_MAC      ? DECIDE_CHOICE_NONE
			      : job->kind == GRUB_CFG_DEPLOY ? DECIDE_CHOICE_DEPLOY
							     : DECIDE_CHOICE_LOCAL,
			      d);
	if (job->rc >= 0 && d->outcome == DECISION_BOOT && job->need_pw && !job->grub_pw[0]) {
		decide_override(d, &job->facts, DECIDE_OVR_GRUB_PASSWORD, NULL);
		return;
	}
	if (job->rc < 0 || d->outcome != DECISION_BOOT)
		return;
	/* The same steps as /boot.ipxe's (boot_image.h): the command line
	 * rendered for this machine, then the rules grub_script_build()
	 * applies (boot_script_check()).  An image no configuration can
	 * carry sends the machine to its disk, and a committed hand-out is
	 * taken back here, where the store may be written, so that a
	 * required deployment stays due. */
	if (boot_image_check(g->dec, g->store, d, &job->facts, job->base, &job->img) < 0)
		return;
	job->menu = job->kind == GRUB_CFG_MAC && job->need_pw;
	/* A kernel handed out now: its installer's report token, and the
	 * command line rendered again with it. */
	if (commit && (d->required || job->kind == GRUB_CFG_DEPLOY) && !d->nbp[0]) {
		if (http_report_handout(g->store, d->device_id,
					d->device_name[0] ? d->device_name : "-", d->deployment_id,
					d->deployment_name, job->facts.mac,
					(uint64_t)time(NULL) * 1000, &rep) == 0) {
			str_copy(job->token, sizeof(job->token), rep.token);
			job->handed_out = true;
		}
		boot_image_render(g->dec, g->store, d, &job->facts, job->base,
				  job->handed_out ? job->token : NULL, &job->img);
	}
}

/* http://HOST:PORT, pxed's HTTP side for a GRUB machine: [http] Address
 * when it names one address, else the address GRUB reached pxed's TFTP
 * side on (url_http_host()).  On the loop: it reads the settings. */
static void http_base(const struct pxed_conf *conf, struct in_addr local, char *out, size_t len)
{
	struct sockaddr_storage ss = { .ss_family = AF_INET };
	char host[INET6_ADDRSTRLEN + 8] = "";
	((struct sockaddr_in *)&ss)->sin_addr = local;
	url_http_host(conf->http_address, &ss, conf->http_port, host, sizeof(host));
	snprintf(out, len, "http://%s", host);
}

/* base: the request's http_base(), which the report URL of a hand-out
 * (token) starts with; NULL when there is no hand-out. */
static void send_config(struct grub_boot *g, struct tftp_gen_req *req, struct decision *d,
			const struct pxe_facts *f, struct in_addr local, bool confirmed,
			const char *base, const char *token, const char *password_hash,
			bool unservable)
{
	char server[INET_ADDRSTRLEN], mac[MAC_STR_LEN], report[200];
	struct grub_script_opts o = { .server = server, .mac = mac, .confirmed = confirmed,
				      .password_hash = password_hash };
	char *cfg = malloc(GRUB_CFG_MAX);
	int n;

	if (!cfg) {
		tftp_gen_reply(req, -ENOMEM);
		return;
	}
	inet_ntop(AF_INET, &local, server, sizeof(server));
	mac_format(f->mac, mac);
	if (token && base) {
		snprintf(report, sizeof(report), "%s/api/v1/report?token=%s", base, token);
		o.report_url = report;
	}
	n = grub_script_build(d, &o, cfg, GRUB_CFG_MAX);
	if (n < 0 || unservable) {
		/* Found on the worker (unservable) or, for what only the
		 * configuration itself finds, here. */
		char dep[80];
		log_escape(dep, sizeof(dep), d->deployment_name, strnlen(d->deployment_name, 64));
		log_warn(MOD, "%s: deployment '%s' cannot be written as a GRUB configuration (%s); "
			      "sending local", mac, dep, strerror(n < 0 ? -n : EINVAL));
	}
	if (n < 0) {
		decide_override(d, f, DECIDE_OVR_UNSERVABLE, NULL);
		o.report_url = NULL;
		o.password_hash = NULL;
		n = grub_script_build(d, &o, cfg, GRUB_CFG_MAX);
	}
	if (d->outcome == DECISION_LOCAL)
		dhcp_server_send_local(g->dhcp, f->mac, GRUB_LOCAL_MS);
	if (n < 0)
		tftp_gen_reply(req, n);
	else
		reply_text(req, cfg, (size_t)n);
	free(cfg);
}

static void job_done(struct ev_work_job *j, bool cancelled)
{
	struct grub_job *job = j->data;
	struct grub_boot *g = job->g;
	struct decision *d = &job->d;

	g->pending--;
	if (cancelled) {
		tftp_gen_reply(job->req, -ESHUTDOWN);
		free(job);
		return;
	}
	if (job->rc < 0) {
		/* The event keeps the store's words, for the admin. */
		decide_record(g->dec, &job->facts, d);
		log_warn(MOD, "decision failed, machine sent to local disk: %s", d->reason);
		snprintf(d->reason, sizeof(d->reason), "not serviced: server error, see the server log");
	}
	if (job->img.render_failed) {
		char mac[MAC_STR_LEN], why[240];
		mac_format(job->facts.mac, mac);
		log_escape(why, sizeof(why), d->reason, strlen(d->reason));
		log_warn(MOD, "%s: GRUB configuration: %s; sending local", mac, why);
		g->stats.cmdline_refused++;
	}
	if (d->outcome == DECISION_BOOT && !job->menu &&
	    (d->required || job->kind == GRUB_CFG_DEPLOY))
		g->stats.configs++;
	send_config(g, job->req, d, &job->facts, job->local, job->kind == GRUB_CFG_DEPLOY,
		    job->base, job->handed_out ? job->token : NULL,
		    job->menu ? job->grub_pw : NULL, job->img.unservable);
	/* After the configuration: the event and the line say what it is. */
	decide_record(g->dec, &job->facts, d);
	decision_log(&job->facts, d,
		     job->kind == GRUB_CFG_DEPLOY  ? "tftp grub choice=deploy"
		     : job->kind == GRUB_CFG_LOCAL ? "tftp grub choice=local"
		     : job->menu		   ? "tftp grub, asks PXE password"
						   : "tftp grub");
	/* what grub_script_build() writes as a menu (still BOOT: it was
	 * written) */
	if (job->kind == GRUB_CFG_MAC && d->outcome == DECISION_BOOT && (job->menu || !d->required))
		menu_add(g, job->peer, &job->who);
	explicit_bzero(job->grub_pw, sizeof(job->grub_pw));
	free(job);
}

static bool is_grub_image(const char *name)
{
	if (name[0] == '/')
		name++;
	return !strcmp(name, PXE_GRUB_X64) || !strcmp(name, PXE_GRUB_ARM64);
}

static int on_request(void *ctx, const char *name, struct in_addr peer, struct in_addr local,
		      struct tftp_gen_req *req)
{
	struct grub_boot *g = ctx;
	struct dhcp_recent_entry e;
	enum grub_cfg_kind kind;
	uint8_t mac[MAC_LEN];
	struct grub_job *job;
	struct grub_menu *menu = NULL;
	bool found;
	char buf[512];
	int n;

	if (is_grub_image(name))
		watch_add(g, peer);
	else if (!strncmp(name[0] == '/' ? name + 1 : name, "grub/", 5))
		watch_clear(g, peer);
	if (grub_cfg_name_parse(name, &kind, mac) < 0)
		return -ENOENT;
	if (kind == GRUB_CFG_ENTRY) {
		n = grub_script_entry(buf, sizeof(buf));
		if (n < 0)
			return n;
		reply_text(req, buf, (size_t)n);
		return 0;
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->g = g;
	job->req = req;
	job->kind = kind;
	job->local = local;
	memcpy(job->facts.mac, mac, MAC_LEN);
	/* the settings as this request found them (the worker does not read
	 * g->conf, which the loop may change meanwhile) */
	job->need_pw = g->conf->pxe_password_hash[0] != '\0';
	http_base(g->conf, local, job->base, sizeof(job->base));
	if (conf_grub_password(g->conf))
		str_copy(job->grub_pw, sizeof(job->grub_pw), conf_grub_password(g->conf));
	job->facts.via = PXE_VIA_HTTP; /* a boot loader's request, like /boot.ipxe */
	job->facts.arch_class = PXE_ARCH_OTHER;
	job->peer = peer;
	found = dhcp_server_recent(g->dhcp, mac, &e);
	if (kind != GRUB_CFG_MAC)
		menu = menu_find(g, mac, peer);
	if (menu) {
		/* the choice uses the menu up */
		menu->used = false;
		if (!grub_fetch_allowed(&e, found, peer)) {
			e = menu->who;
			found = true;
		}
	}
	if (!grub_fetch_allowed(&e, found, peer)) {
		char ip[INET_ADDRSTRLEN], m[MAC_STR_LEN];
		inet_ntop(AF_INET, &peer, ip, sizeof(ip));
		mac_format(mac, m);
		g->stats.refused++;
		log_warn(MOD, "%s: GRUB configuration asked for by %s without a DHCP exchange from "
			      "that machine in the last %d s: not serviced, nothing handed out",
			 m, ip, DHCP_RECENT_TTL_MS / 1000);
		job->d.outcome = DECISION_IGNORE;
		snprintf(job->d.reason, sizeof(job->d.reason),
			 "not serviced: no recent DHCP exchange from this machine");
		send_config(g, req, &job->d, &job->facts, local, false, NULL, NULL, NULL, false);
		free(job);
		return 0;
	}
	job->who = e;
	job->facts.has_guid = e.has_guid;
	memcpy(job->facts.guid, e.guid, GUID_LEN);
	job->facts.has_arch = e.has_arch;
	job->facts.arch = e.arch;
	job->facts.arch_class = e.has_arch ? vocab_arch_classify(e.arch) : PXE_ARCH_OTHER;
	ev_work_job_init(&job->job, job_work, job_done, job);
	if (ev_work_submit(g->work, &job->job) < 0) {
		free(job);
		return -EBUSY;
	}
	g->pending++;
	return 0;
}

int grub_boot_new(struct ev_loop *loop, const struct pxed_conf *conf, struct decider *dec,
		  struct store *store, struct ev_work *work, struct dhcp_server *dhcp,
		  struct tftp_server *tftp, struct grub_boot **out)
{
	struct grub_boot *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->loop = loop;
	g->conf = conf;
	g->dec = dec;
	g->store = store;
	g->work = work;
	g->dhcp = dhcp;
	g->tftp = tftp;
	ev_timer_init(&g->timer, on_timer, g);
	tftp_server_set_generator(tftp, on_request, g);
	*out = g;
	return 0;
}

void grub_boot_free(struct grub_boot *g)
{
	if (!g)
		return;
	ev_timer_stop(g->loop, &g->timer);
	tftp_server_set_generator(g->tftp, NULL, NULL);
	free(g);
}

void grub_boot_stats(const struct grub_boot *g, struct grub_boot_stats *out)
{
	*out = g->stats;
}

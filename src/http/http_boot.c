/* http_boot: GET /boot.ipxe, the iPXE script of one boot.
 *
 * One request, in order:
 *   1. the query (mac, guid, arch, choice) and the exchange's boot token
 *      (boot_token.h), on the loop; without a valid token: local disk at
 *      once, no database, no event (boot_refuse_untokened());
 *   2. on the worker: decide_open() -- committing, unless PXEPassword
 *      must be typed first --, the image checked for a script with its
 *      command line rendered for this machine (also before the password
 *      is asked), and for a hand-out the command line's variables and the
 *      installer's report token (boot_decide());
 *   3. on the loop: PXEPassword (enum boot_pw_state; the hash runs on its
 *      own thread, then this step again; a right password sends the
 *      request back to step 2 to commit);
 *   4. the script (boot_script.h), then the decision's one event
 *      (decide_record()) and log line, saying what the script does.
 * Whatever changes the answer after the rules -- the password, a command
 * line that does not render, an image that cannot be written into a
 * script -- is the decider's override (decide.h), so the event is the
 * answer the client got. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "conf/conf.h"
#include "decide/boot_token.h"
#include "decide/decide.h"
#include "http/boot_image.h"
#include "http/boot_script.h"
#include "http/http_internal.h"
#include "store/store.h"

#define MOD "http"
/* At most one "boot.ipxe refused" line per this long (a flood is counted). */
#define HTTP_TOKEN_LOG_MS 10000

/* ?mac=&guid=&arch= into facts; NULL on success, else the bad field. */
static const char *boot_facts_parse(struct MHD_Connection *c, struct pxe_facts *f)
{
	const char *mac = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mac");
	const char *guid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "guid");
	const char *arch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "arch");
	unsigned long long a;

	memset(f, 0, sizeof(*f));
	f->via = PXE_VIA_HTTP;
	f->is_ipxe = true;
	f->arch_class = PXE_ARCH_OTHER;
	if (!mac || mac_parse(mac, f->mac) < 0)
		return "mac";
	/* iPXE expands an unset ${uuid} to nothing: treat "" as absent. */
	if (guid && *guid) {
		if (guid_parse(guid, f->guid) < 0)
			return "guid";
		f->has_guid = true;
	}
	if (arch && *arch) {
		if (parse_uint(arch, 0, 65535, &a) < 0)
			return "arch";
		f->has_arch = true;
		f->arch = (uint16_t)a;
		f->arch_class = vocab_arch_classify(f->arch);
	}
	return NULL;
}

/* The URL the script chains to for its follow-ups (the prompt's answer,
 * the password): mac and the exchange's token, which stands for the guid
 * and arch (boot_token.h). */
static void boot_again_url(const char *base, const struct pxe_facts *f, const char *token,
			   char *out, size_t len)
{
	char mac[MAC_STR_LEN];
	mac_format(f->mac, mac);
	snprintf(out, len, "%s/boot.ipxe?mac=%s&t=%s", base, mac, token);
}

/* /boot.ipxe in steps: the decision (commit = true, so never the cache),
 * for a committed hand-out the report token's row, and the PXEPassword
 * hash (yescrypt, deliberately slow) run on the worker; the lockout state
 * (the loop's) and the script are looked at and made on the loop. */
struct boot_state {
	struct pxe_facts facts;
	struct decision d;
	struct boot_script_opts opts;
	enum decide_choice choice; /* the answer to an available deployment's prompt */
	bool use_choice;           /* record the choice with the next decision */
	bool first_done;           /* the first decision's result was looked at */
	bool need_pw;
	bool commit;               /* for the decision on the worker */
	bool committed;            /* the committing decision ran */
	bool handed_out;           /* a report token was recorded (token) */
	struct boot_image img;     /* the command line's template; sent local, and why */
	bool claimed;              /* token is busy for this request's commit */
	struct boot_tokens *tokens; /* to release it with */
	uint8_t src_key[HTTP_PW_KEY_LEN]; /* the client's address, for the limiter */
	bool has_src;
	bool pw_verified;          /* the typed password went through the worker */
	bool pw_ok;                /* ... and matched PXEPassword */
	int rc;
	uint64_t t0;
	uint64_t pw_us;            /* time of the hash, for the debug log */
	char pw[256];              /* the typed password, wiped once verified */
	char pw_hash[sizeof(((struct pxed_conf *)0)->pxe_password_hash)];
	char token[STORE_REPORT_TOKEN_MAX + 1];
	char boot_token[BOOT_TOKEN_STR_LEN]; /* the exchange's (t=), once checked */
	char base[300], again[600], report[400];
};

/* A committing decision is about to run: hold the exchange's token so
 * that no other request commits with it meanwhile.  False when it is no
 * longer valid (used or expired since the script asked). */
static bool boot_token_claim(struct http_server *s, struct boot_state *b)
{
	if (!s->tokens || boot_token_check(s->tokens, b->boot_token, &b->facts, now_ms(),
					   (uint64_t)s->conf->boot_token_lifetime * 1000,
					   true) != BOOT_TOKEN_OK)
		return false;
	b->claimed = true;
	b->tokens = s->tokens;
	return true;
}

static void boot_token_done(struct boot_state *b, bool spent)
{
	if (b->claimed)
		boot_token_release(b->tokens, b->boot_token, spent);
	b->claimed = false;
}

static void boot_decide(struct http_server *s, struct MHD_Connection *c, struct http_request *r)
{
	struct boot_state *b = r->state;
	struct decision *d = &b->d;
	struct store_report rep;

	/* Recorded by boot_finish(), with what the script says, or never
	 * when a committing decision replaces it (the password was right). */
	b->rc = decide_open(s->dec, &b->facts, b->commit,
			    b->use_choice ? b->choice : DECIDE_CHOICE_NONE, d);
	if (!b->first_done) {
		b->first_done = true;
		if (b->rc >= 0 && b->choice == DECIDE_CHOICE_DEPLOY && d->outcome == DECISION_BOOT &&
		    !d->required) {
			b->opts.confirmed = true; /* the password chain keeps the choice */
			if (strlen(b->again) + sizeof("&choice=deploy") <= sizeof(b->again))
				strcat(b->again, "&choice=deploy");
		}
	}
	if (b->rc < 0 || d->outcome != DECISION_BOOT)
		return;
	/* Can the image be written into a script for this machine, its
	 * command line rendered (boot_image.h)?  Before a hand-out's report
	 * token exists and before PXEPassword is asked. */
	if (boot_image_check(s->dec, s->store, d, &b->facts, b->base, &b->img) < 0)
		return;
	/* A deployment handed out now (only a committing decision hands out:
	 * without one, PXEPassword is still to be typed): a report token for
	 * its installer, recorded here so that the loop only writes it into
	 * the script.  A failure leaves the script without a report URL. */
	if (b->commit && (d->required || b->opts.confirmed) && !d->nbp[0]) {
		if (http_report_handout(s->store, d->device_id,
					d->device_name[0] ? d->device_name : "-", d->deployment_id,
					d->deployment_name, b->facts.mac,
					(uint64_t)time(NULL) * 1000, &rep) == 0) {
			str_copy(b->token, sizeof(b->token), rep.token);
			b->handed_out = true;
		}
		boot_image_render(s->dec, s->store, d, &b->facts, b->base,
				  b->handed_out ? b->token : NULL, &b->img);
	}
}

static void boot_state_free(void *state)
{
	struct boot_state *b = state;
	if (b) {
		/* a commit that never ran (busy, stopping, connection gone) */
		boot_token_done(b, false);
		explicit_bzero(b->pw, sizeof(b->pw));
	}
	free(b);
}

/* On the worker: the hash of the typed password, compared in constant
 * time with PXEPassword's (conf_password_verify()).  The copy is wiped as
 * soon as it has been hashed. */
static void boot_password_verify(struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r)
{
	struct boot_state *b = r->state;
	uint64_t t = now_us();
	b->pw_ok = conf_password_verify(b->pw_hash, b->pw);
	explicit_bzero(b->pw, sizeof(b->pw));
	b->pw_us = now_us() - t;
	b->pw_verified = true;
}

static enum MHD_Result boot_finish(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url);

/* Where a BOOT decision's request stands with PXEPassword. */
enum boot_pw_state {
	BOOT_PW_ASK,    /* no password typed: the script asks (opts filled) */
	BOOT_PW_HASH,   /* typed: copied into b for boot_password_verify() on
			 * its thread; look again when it is back */
	BOOT_PW_RIGHT,  /* verified: hand the deployment out */
	BOOT_PW_WRONG,  /* wrong: the script asks again, with a notice */
	BOOT_PW_LOCKED, /* the MAC or the source address is locked out */
};

/* PXEPassword for a BOOT decision, on the loop (the lockout state is the
 * loop's). */
static enum boot_pw_state boot_password_check(struct http_server *s, struct MHD_Connection *c,
					      struct boot_state *b)
{
	const char *pw;
	char mac[MAC_STR_LEN];
	uint8_t mkey[HTTP_PW_KEY_LEN];
	uint64_t left, now = now_ms();

	mac_format(b->facts.mac, mac);
	http_pw_key_mac(mkey, b->facts.mac);
	/* Looked at again when the hash is back: an attempt that was hashing
	 * while others brought on the lockout tells nothing, right or wrong.
	 * The source address is the check the client cannot choose. */
	left = http_pw_locked(s->pw, mkey, now);
	if (!left && b->has_src)
		left = http_pw_locked(s->pw_src, b->src_key, now);
	if (left) {
		log_warn(MOD, "%s: PXE password refused: locked out for %llu more s", mac,
			 (unsigned long long)(left / 1000 + 1));
		return BOOT_PW_LOCKED;
	}
	b->opts.password_url = b->again;
	if (!b->pw_verified) {
		pw = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "password");
		if (!pw)
			return BOOT_PW_ASK; /* first visit */
		if (pw[0] && str_copy(b->pw, sizeof(b->pw), pw) == 0) {
			str_copy(b->pw_hash, sizeof(b->pw_hash), s->conf->pxe_password_hash);
			return BOOT_PW_HASH;
		}
		/* empty or too long: wrong without hashing */
	} else {
		log_debug(MOD, "%s: PXE password hashed in %llu ms", mac,
			  (unsigned long long)((b->pw_us + 500) / 1000));
	}
	if (b->pw_ok) {
		http_pw_succeeded(s->pw, mkey);
		if (b->has_src)
			http_pw_succeeded(s->pw_src, b->src_key);
		log_info(MOD, "%s: PXE password accepted", mac);
		b->opts.password_url = NULL;
		b->opts.confirmed = true;
		return BOOT_PW_RIGHT;
	}
	/* Never the typed text: it may be the real password mistyped by one
	 * character, or another system's password. */
	if (b->has_src && http_pw_failed(s->pw_src, b->src_key, now)) {
		char ip[INET6_ADDRSTRLEN + 8];
		http_client_addr(c, ip, sizeof(ip));
		log_warn(MOD, "%s: wrong PXE password; %s locked out for %d s after %d failures "
			      "from it",
			 mac, ip, HTTP_PW_LOCKOUT_MS / 1000, HTTP_PW_SOURCE_MAX_FAILURES);
		http_pw_failed(s->pw, mkey, now);
		return BOOT_PW_LOCKED;
	}
	if (http_pw_failed(s->pw, mkey, now)) {
		log_warn(MOD, "%s: wrong PXE password; locked out for %d s after %d failures", mac,
			 HTTP_PW_LOCKOUT_MS / 1000, HTTP_PW_MAX_FAILURES);
		return BOOT_PW_LOCKED;
	}
	log_warn(MOD, "%s: wrong PXE password", mac);
	b->opts.notice = "wrong password, try again";
	return BOOT_PW_WRONG;
}

/* The hash on its own thread (s->pw_work), so that 50 clients guessing at
 * once never hold up DHCP decisions and the API on the worker; at most
 * HTTP_PW_QUEUE wait for it, and an attempt beyond that is refused at once
 * without hashing (1: queued; 0: refused, asked again). */
static int boot_password_submit(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	struct boot_state *b = r->state;
	if (http_defer_on(s, s->pw_work, c, r, boot_password_verify, boot_finish) == 0)
		return 1;
	explicit_bzero(b->pw, sizeof(b->pw));
	s->pw_busy++;
	b->opts.notice = "pxed is busy checking passwords, try again";
	return 0;
}

static enum MHD_Result boot_finish(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url)
{
	struct boot_state *b = r->state;
	struct decision *d = &b->d;
	char script[4096];
	struct MHD_Response *resp;
	int n, rc = b->rc;

	explicit_bzero(b->pw, sizeof(b->pw)); /* a verify cancelled by the stop */
	if (r->cancelled)
		return http_reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
	/* commit: this script is the hand-out of a required deployment --
	 * unless PXEPassword must be typed first: then look without
	 * committing, and commit on the request that brings the password.
	 * The answer to an available deployment's prompt is recorded once,
	 * on the request that brings it (and with the hand-out it brings).
	 * Each way, the decider's override makes the event say what the
	 * script does. */
	if (!b->committed && rc >= 0 && b->need_pw && d->outcome == DECISION_BOOT &&
	    (d->required || b->opts.confirmed)) {
		switch (boot_password_check(s, c, b)) {
		case BOOT_PW_ASK:
			decide_override(d, &b->facts, DECIDE_OVR_PASSWORD_ASKED, NULL);
			break;
		case BOOT_PW_HASH:
			if (!s->pw_work) {
				boot_password_verify(s, c, r); /* no threads: inline */
				return boot_finish(s, c, r, url);
			}
			if (boot_password_submit(s, c, r, url))
				return MHD_YES;
			/* refused: asked again, with the notice */
			decide_override(d, &b->facts, DECIDE_OVR_PASSWORD_BUSY, NULL);
			break;
		case BOOT_PW_RIGHT:
			if (!boot_token_claim(s, b)) {
				decide_override(d, &b->facts, DECIDE_OVR_TOKEN_GONE, NULL);
				break;
			}
			/* The committing decision replaces this look, unrecorded:
			 * one request, one event.  An available deployment's
			 * chain still says choice=deploy: the hand-out records
			 * the user's choice. */
			b->commit = b->committed = true;
			b->use_choice = b->choice == DECIDE_CHOICE_DEPLOY;
			return http_defer(s, c, r, url, boot_decide, boot_finish);
		case BOOT_PW_WRONG:
			decide_override(d, &b->facts, DECIDE_OVR_PASSWORD_WRONG, NULL);
			break;
		case BOOT_PW_LOCKED:
			decide_override(d, &b->facts, DECIDE_OVR_PASSWORD_LOCKED, NULL);
			break;
		}
	}
	/* The exchange's token is spent by the hand-out it committed. */
	boot_token_done(b, b->commit && rc >= 0 && d->outcome == DECISION_BOOT &&
				   (d->required || b->opts.confirmed));
	s->counters.store_calls++;
	s->counters.store_us += now_us() - b->t0;
	if (rc < 0) {
		/* The store's own message (SQLite's text, paths) is for the
		 * log and the event (the admin's); the client, whoever it is,
		 * sees only that it failed. */
		decide_record(s->dec, &b->facts, d);
		log_warn(MOD, "boot.ipxe: decision failed, client sent to local disk: %s", d->reason);
		snprintf(d->reason, sizeof(d->reason), "not serviced: server error, see the server log");
	}
	if (b->img.render_failed) {
		char mac[MAC_STR_LEN], why[240];
		mac_format(b->facts.mac, mac);
		log_escape(why, sizeof(why), d->reason, strlen(d->reason));
		log_warn(MOD, "%s: boot.ipxe: %s; sending local", mac, why);
		s->counters.cmdline_refused++;
	}
	/* A deployment handed out now: its installer's report URL. */
	if (b->handed_out) {
		snprintf(b->report, sizeof(b->report), "%s/api/v1/report?token=%s", b->base, b->token);
		b->opts.report_url = b->report;
		s->counters.reports[HTTP_REPORT_HANDED_OUT]++;
	}
	n = boot_script_build_opts(d, b->base, &b->opts, script, sizeof(script));
	if (n < 0 || b->img.unservable) {
		/* A stored field that cannot be written safely: refuse the boot,
		 * send the machine to its disk, say why in the log.  Found on
		 * the worker (b->img.unservable, a hand-out already taken back) or,
		 * for what only the script itself finds, here. */
		char mac[MAC_STR_LEN], dep[80], img[80];
		mac_format(b->facts.mac, mac);
		log_escape(dep, sizeof(dep), d->deployment_name, strnlen(d->deployment_name, 64));
		log_escape(img, sizeof(img), d->image_name, strnlen(d->image_name, 64));
		log_warn(MOD, "%s: boot.ipxe: deployment '%s' image '%s' cannot be written as an "
			      "iPXE script (%s); sending local",
			 mac, dep, img, strerror(n < 0 ? -n : EINVAL));
		if (n < 0) {
			decide_override(d, &b->facts, DECIDE_OVR_UNSERVABLE, NULL);
			n = boot_script_build(d, "http://127.0.0.1", script, sizeof(script));
		}
	}
	/* The script is made: its one event, and the line, say what it does. */
	decide_record(s->dec, &b->facts, d);
	decision_log(&b->facts, d,
		     b->choice == DECIDE_CHOICE_DEPLOY  ? "http /boot.ipxe choice=deploy"
		     : b->choice == DECIDE_CHOICE_LOCAL ? "http /boot.ipxe choice=local"
							: "http /boot.ipxe");
	if ((unsigned)d->outcome < ARRAY_SIZE(s->counters.decisions))
		s->counters.decisions[d->outcome]++;
	if (n < 0)
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	resp = MHD_create_response_from_buffer((size_t)n, script, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	return http_queue(c, r, MHD_HTTP_OK, resp);
}

/* A script request without a valid token for its exchange: local disk,
 * at once, with no database work -- anything on the LAN (or a web page,
 * through the browser) can send one, and it must not spend a deployment,
 * learn a report token or record a machine.  Logged once per
 * HTTP_TOKEN_LOG_MS with the number of refusals left out. */
static enum MHD_Result boot_refuse_untokened(struct http_server *s, struct MHD_Connection *c,
					     struct http_request *r, struct boot_state *b,
					     enum boot_token_status st)
{
	struct decision d = { .outcome = DECISION_LOCAL };
	char script[1024], mac[MAC_STR_LEN];
	struct MHD_Response *resp;
	uint64_t now = now_ms();
	int n;

	s->counters.decisions[DECISION_LOCAL]++;
	mac_format(b->facts.mac, mac);
	snprintf(d.reason, sizeof(d.reason),
		 "boot token %s: boot the machine from the network again",
		 boot_token_status_name(st));
	if (!s->token_log_ms || now - s->token_log_ms >= HTTP_TOKEN_LOG_MS) {
		if (s->token_quiet)
			log_warn(MOD, "%s: boot.ipxe refused, %s (and %llu more refusals in the "
				      "last %llu s)",
				 mac, d.reason, (unsigned long long)s->token_quiet,
				 (unsigned long long)((now - s->token_log_ms) / 1000));
		else
			log_warn(MOD, "%s: boot.ipxe refused, %s", mac, d.reason);
		s->token_log_ms = now;
		s->token_quiet = 0;
	} else {
		s->token_quiet++;
	}
	n = boot_script_build(&d, b->base, script, sizeof(script));
	if (n < 0)
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	resp = MHD_create_response_from_buffer((size_t)n, script, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	return http_queue(c, r, MHD_HTTP_OK, resp);
}

enum MHD_Result http_boot_ipxe(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url)
{
	struct boot_state *b = calloc(1, sizeof(*b));
	const char *bad, *choice, *tok;
	enum boot_token_status st;
	bool pw_given;

	if (!b)
		return MHD_NO;
	r->state = b;
	r->state_free = boot_state_free;
	bad = boot_facts_parse(c, &b->facts);
	if (bad)
		return http_reply_text(c, r, MHD_HTTP_BAD_REQUEST,
				       !strcmp(bad, "mac") ? "bad or missing mac\n"
				       : !strcmp(bad, "guid") ? "bad guid\n"
							      : "bad arch\n");
	choice = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "choice");
	if (choice && strcmp(choice, "deploy") && strcmp(choice, "local"))
		return http_reply_text(c, r, MHD_HTTP_BAD_REQUEST, "bad choice\n");
	b->choice = !choice ? DECIDE_CHOICE_NONE
		    : !strcmp(choice, "deploy") ? DECIDE_CHOICE_DEPLOY : DECIDE_CHOICE_LOCAL;
	pw_given = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "password") != NULL;
	b->use_choice = b->choice != DECIDE_CHOICE_NONE && !pw_given;
	http_request_base_url(c, r->via, b->base, sizeof(b->base));
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		b->has_src = ci && http_pw_key_addr(b->src_key, ci->client_addr) == 0;
	}
	b->need_pw = s->conf->pxe_password_hash[0] != '\0';
	b->commit = b->committed = !b->need_pw;
	/* Only the boot pxed answered over DHCP may commit: its script URL
	 * carries the exchange's token (boot_token.h), which also says the
	 * GUID and arch pxed saw. */
	tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "t");
	st = !s->tokens ? BOOT_TOKEN_MISSING
			: boot_token_check(s->tokens, tok, &b->facts, now_ms(),
					   (uint64_t)s->conf->boot_token_lifetime * 1000, b->commit);
	if (st != BOOT_TOKEN_OK)
		return boot_refuse_untokened(s, c, r, b, st);
	str_copy(b->boot_token, sizeof(b->boot_token), tok);
	if (b->commit) {
		b->claimed = true;
		b->tokens = s->tokens;
	}
	boot_again_url(b->base, &b->facts, b->boot_token, b->again, sizeof(b->again));
	b->opts.choice_url = b->again;
	b->t0 = now_us();
	return http_defer(s, c, r, url, boot_decide, boot_finish);
}


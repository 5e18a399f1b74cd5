#include "http/http_answers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/content.h"
#include "common/log.h"
#include "common/template.h"
#include "common/util.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "decide/machine_vars.h"
#include "http/http_report.h"
#include "store/store.h"

#define MOD "http"

/* The built-in variables of one boot (docs/unattended.md). */
struct boot_builtins {
	const uint8_t *mac;
	bool has_guid;
	const uint8_t *guid;
	int arch;                  /* option 93, -1 = unknown */
	const char *device, *image, *deployment;
	const char *base;          /* http://HOST[:PORT] */
	const char *token;         /* report token, NULL = none */
};

static int builtins_add(struct machine_vars *mv, const struct boot_builtins *b)
{
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN], arch[8], server[300], url[400];
	const char *host, *end;
	int r = 0;

	mac_format(b->mac, mac);
	if (b->has_guid)
		guid_format(b->guid, guid);
	snprintf(arch, sizeof(arch), "%d", b->arch);
	/* server: the host the client reached, without port or brackets */
	host = strstr(b->base, "://");
	host = host ? host + 3 : b->base;
	if (*host == '[') {
		host++;
		end = strchr(host, ']');
	} else {
		end = strrchr(host, ':');
	}
	snprintf(server, sizeof(server), "%.*s", (int)(end ? (size_t)(end - host) : strlen(host)),
		 host);
	r = machine_vars_builtin(mv, "mac", mac);
	if (!r)
		r = machine_vars_builtin(mv, "guid", b->has_guid ? guid : NULL);
	if (!r)
		r = machine_vars_builtin(mv, "arch", b->arch >= 0 ? arch : NULL);
	if (!r)
		r = machine_vars_builtin(mv, "device", b->device && *b->device ? b->device : NULL);
	if (!r)
		r = machine_vars_builtin(mv, "image", b->image);
	if (!r)
		r = machine_vars_builtin(mv, "deployment", b->deployment);
	if (!r)
		r = machine_vars_builtin(mv, "server", server);
	if (!r)
		r = machine_vars_builtin(mv, "http", b->base);
	if (!r && b->token) {
		snprintf(url, sizeof(url), "%s/api/v1/report?token=%s", b->base, b->token);
		r = machine_vars_builtin(mv, "report_url", url);
		snprintf(url, sizeof(url), "%s/answers/%s/", b->base, b->token);
		if (!r)
			r = machine_vars_builtin(mv, "answers", url);
	}
	return r;
}

int http_answers_cmdline(struct store *st, struct decision *d, const struct pxe_facts *f,
			 const char *base, const char *token, char *why, size_t whylen)
{
	struct store_image im;
	struct machine_vars mv;
	struct template_error err;
	char out[sizeof(d->cmdline)], msg[160];
	int64_t image_id = 0;
	int r;

	if (!strstr(d->cmdline, "${"))
		return 0; /* nothing to render ("$${" included) */
	if (store_image_by_name(st, d->image_name, &im) == 0)
		image_id = im.id;
	r = machine_vars_load(st, d->device_id, d->deployment_id, image_id, &mv);
	if (r < 0) {
		snprintf(why, whylen, "variables could not be read: %s", store_last_error(st));
		return r;
	}
	struct boot_builtins b = { .mac = f->mac, .has_guid = f->has_guid, .guid = f->guid,
				   .arch = f->has_arch ? f->arch : -1, .device = d->device_name,
				   .image = d->image_name, .deployment = d->deployment_name,
				   .base = base, .token = token };
	r = builtins_add(&mv, &b);
	if (r == 0)
		r = template_render(d->cmdline, strlen(d->cmdline), TEMPLATE_CMDLINE, mv.v, mv.n, out,
				    sizeof(out), NULL, &err);
	machine_vars_free(&mv);
	if (r == -ENOMEM) {
		snprintf(why, whylen, "out of memory");
		return r;
	}
	if (r < 0) {
		template_error_format(&err, msg, sizeof(msg));
		snprintf(why, whylen, "image '%s' command line: %s", d->image_name, msg);
		return r;
	}
	memcpy(d->cmdline, out, sizeof(out));
	return 0;
}

/* ---- GET /answers/TOKEN/NAME ---------------------------------------------- */

enum answer_status {
	ANSWER_OK,
	ANSWER_FORBIDDEN,   /* no valid token: 403, never says more */
	ANSWER_NOT_FOUND,   /* valid token, no such template: 404 */
	ANSWER_FAILED,      /* valid token, the template cannot be rendered: 500 */
};

struct answer_state {
	char token[HTTP_REPORT_TOKEN_LEN + 1];
	char name[CONTENT_NAME_MAX + 1];
	char base[300];
	char why[200];             /* for the log line */
	enum answer_status status;
	enum template_kind kind;
	char *body;                /* the rendered file */
	size_t body_len;
	struct store_report rep;
	bool has_rep;
	char src[48];              /* the client's address */
	bool speak;                /* a refusal to log and record (refusal_speak) */
	char quiet[96];            /* "; N more ... not logged" for that line */
	uint64_t quiet_n;          /* N */
};

static void answer_state_free(void *p)
{
	struct answer_state *a = p;
	if (a)
		free(a->body);
	free(a);
}

static bool token_shape(const char *t, size_t n)
{
	if (n != HTTP_REPORT_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return true;
}

/* NAME: a content name (content.h rules) with at most one '/' inside
 * (ubuntu/user-data), and no leading one. */
static bool answer_name_ok(const char *n)
{
	size_t len = strnlen(n, CONTENT_NAME_MAX + 1), slashes = 0;
	if (len == 0 || len > CONTENT_NAME_MAX - sizeof(HTTP_ANSWER_DIR) || n[0] == '/' ||
	    n[len - 1] == '/' || content_check_name(n, len) < 0)
		return false;
	for (size_t i = 0; i < len; i++)
		slashes += n[i] == '/';
	return slashes <= 1;
}

/* Read Root/templates/NAME (at most HTTP_ANSWER_MAX bytes) into *out. */
static int template_read(const struct content *ct, const char *name, char **out, size_t *len)
{
	char path[CONTENT_NAME_MAX + 1];
	uint64_t size;
	ssize_t n;
	size_t got = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", HTTP_ANSWER_DIR, name);
	r = content_open(ct, path, &fd, &size);
	if (r < 0)
		return r;
	if (size > HTTP_ANSWER_MAX) {
		close(fd);
		return -EFBIG;
	}
	*out = malloc(size + 1);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	while (got < size && (n = read(fd, *out + got, size - got)) > 0)
		got += (size_t)n;
	close(fd);
	(*out)[got] = '\0';
	*len = got;
	return 0;
}

/* Whether a refusal from src gets its log line and event: the first from
 * each source per HTTP_ANSWER_REFUSE_LOG_MS does, saying in *quiet how
 * many before it went unlogged; the rest are counted only (in
 * pxed_answer_files_total they all are).  So a machine retrying a bad
 * token in a loop, or someone guessing, writes one line per interval. */
static bool refusal_speak(struct http_server *s, const char *src, char *quiet, size_t len,
			  uint64_t *quiet_n)
{
	struct http_answer_refusals *t = &s->answer_refusals;
	uint64_t now = now_ms(), h = 14695981039346656037ull; /* FNV-1a */
	bool speak = true;

	quiet[0] = '\0';
	for (const char *p = src; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	pthread_mutex_lock(&t->lock);
	__typeof__(t->slot[0]) *sl = &t->slot[h % HTTP_ANSWER_REFUSE_SLOTS];
	if (strcmp(sl->src, src) != 0) {
		str_copy(sl->src, sizeof(sl->src), src);
		sl->quiet = 0;
	} else if (now - sl->log_ms < HTTP_ANSWER_REFUSE_LOG_MS) {
		sl->quiet++;
		speak = false;
	} else if (sl->quiet) {
		*quiet_n = sl->quiet;
		snprintf(quiet, len, "; %llu more refused from %s in the last %llu s not logged",
			 (unsigned long long)sl->quiet, src,
			 (unsigned long long)((now - sl->log_ms) / 1000));
	}
	if (speak) {
		sl->log_ms = now;
		sl->quiet = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return speak;
}

static void answer_event(struct store *st, const struct answer_state *a)
{
	struct store_event ev = { .time_ms = (int64_t)time(NULL) * 1000, .arch = -1 };
	snprintf(ev.via, sizeof(ev.via), "http");
	snprintf(ev.outcome, sizeof(ev.outcome), "%s", a->status == ANSWER_OK ? "answer" : "refused");
	char more[32] = "", reason[400];
	if (a->quiet_n) /* the refusals from this source not recorded before it */
		snprintf(more, sizeof(more), " (+%llu more)", (unsigned long long)a->quiet_n);
	/* The source and the count matter more than the end of the name. */
	snprintf(reason, sizeof(reason), "answer file %.40s: %.100s (from %.46s)%s", a->name, a->why,
		 a->src, more);
	str_copy(ev.reason, sizeof(ev.reason), reason);
	if (a->has_rep) {
		memcpy(ev.mac, a->rep.mac, MAC_LEN);
		ev.device_id = a->rep.device_id;
		ev.deployment_id = a->rep.deployment_id;
		snprintf(ev.deployment_name, sizeof(ev.deployment_name), "%s", a->rep.deployment_name);
	}
	store_event_add(st, &ev); /* history only: a failed write changes no answer */
}

/* On the worker: the token's boot, its variables, the template. */
static void answer_work(struct http_server *s, struct MHD_Connection *c, struct http_request *r)
{
	struct answer_state *a = r->state;
	struct store_device dev;
	struct store_deployment dep;
	struct machine_vars mv;
	struct template_error err;
	char *tmpl = NULL, msg[160];
	size_t tlen = 0;
	int64_t image_id = 0, age_ms;
	int rc;
	bool has_dev = false;

	a->status = ANSWER_FORBIDDEN;
	rc = http_report_find(s->store, a->token, &a->rep);
	if (rc < 0) {
		snprintf(a->why, sizeof(a->why), "refused: %s",
			 rc == -ENOENT ? "no boot has this token (or a newer boot replaced it)"
				       : "the database failed");
		goto done;
	}
	a->has_rep = true;
	age_ms = (int64_t)time(NULL) * 1000 - a->rep.handed_out_ms;
	if (age_ms > (int64_t)s->conf->answer_token_lifetime * 1000) {
		snprintf(a->why, sizeof(a->why), "refused: the boot's token expired %lld s ago",
			 (long long)(age_ms / 1000 - s->conf->answer_token_lifetime));
		goto done;
	}
	/* the token names the device and deployment of one boot: the
	 * variables are theirs, whoever asks */
	if (a->rep.device_id && store_device_by_id(s->store, a->rep.device_id, &dev) == 0)
		has_dev = true;
	if (store_deployment_by_name(s->store, a->rep.deployment_name, &dep) < 0 ||
	    dep.id != a->rep.deployment_id) {
		snprintf(a->why, sizeof(a->why), "refused: the boot's deployment is gone");
		goto done;
	}
	image_id = dep.image_id;
	a->status = ANSWER_NOT_FOUND;
	if (!answer_name_ok(a->name)) {
		snprintf(a->why, sizeof(a->why), "not a valid answer file name");
		goto done;
	}
	rc = template_read(s->content, a->name, &tmpl, &tlen);
	if (rc < 0) {
		if (rc != -ENOENT && rc != -ENOTDIR && rc != -EISDIR)
			a->status = ANSWER_FAILED;
		snprintf(a->why, sizeof(a->why), "template %s/%s: %s", HTTP_ANSWER_DIR, a->name,
			 rc == -EFBIG ? "larger than 256 KiB" : content_strerror(rc));
		goto done;
	}
	a->status = ANSWER_FAILED;
	rc = machine_vars_load(s->store, a->rep.device_id, dep.id, image_id, &mv);
	if (rc < 0) {
		snprintf(a->why, sizeof(a->why), "variables could not be read");
		goto done;
	}
	struct boot_builtins b = { .mac = a->rep.mac, .has_guid = has_dev && dev.has_guid,
				   .guid = dev.guid, .arch = has_dev ? dev.arch : -1,
				   .device = a->rep.device_id ? a->rep.device_name : NULL,
				   .image = dep.image_name, .deployment = dep.name, .base = a->base,
				   .token = a->token };
	a->kind = template_kind_for_file(a->name);
	a->body = malloc(HTTP_ANSWER_MAX + 1);
	rc = a->body ? builtins_add(&mv, &b) : -ENOMEM;
	if (rc == 0)
		rc = template_render(tmpl, tlen, a->kind, mv.v, mv.n, a->body, HTTP_ANSWER_MAX + 1,
				     &a->body_len, &err);
	machine_vars_free(&mv);
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(msg, sizeof(msg), "out of memory");
		else
			template_error_format(&err, msg, sizeof(msg));
		snprintf(a->why, sizeof(a->why), "cannot be rendered (%s): %s",
			 template_kind_name(a->kind), msg);
		goto done;
	}
	a->status = ANSWER_OK;
	snprintf(a->why, sizeof(a->why), "served (%s, %zu bytes)", template_kind_name(a->kind),
		 a->body_len);
done:
	free(tmpl);
	/* Only refusals without a valid token are thinned out: a fetch with
	 * one names a real boot, and there are only as many as machines
	 * installing. */
	a->speak = a->status != ANSWER_FORBIDDEN ||
		   refusal_speak(s, a->src, a->quiet, sizeof(a->quiet), &a->quiet_n);
	if (a->speak)
		answer_event(s->store, a);
}

static enum MHD_Result answer_reply(struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r, const char *url)
{
	struct answer_state *a = r->state;
	struct MHD_Response *resp;
	char mac[MAC_STR_LEN] = "-", name[120], why[240];

	if (r->cancelled)
		return http_reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
	if (a->has_rep)
		mac_format(a->rep.mac, mac);
	log_escape(name, sizeof(name), a->name, strlen(a->name));
	log_escape(why, sizeof(why), a->why, strlen(a->why));
	switch (a->status) {
	case ANSWER_OK:
		s->counters.answers[HTTP_ANSWER_SERVED]++;
		log_info(MOD, "%s: answer file %s for device '%s' deployment '%s' %s", mac, name,
			 a->rep.device_name, a->rep.deployment_name, why);
		resp = MHD_create_response_from_buffer(a->body_len, a->body, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			return MHD_NO;
		a->body = NULL; /* the response owns it */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					a->kind == TEMPLATE_YAML ? "text/yaml" : "text/plain");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		return http_queue(c, r, MHD_HTTP_OK, resp);
	case ANSWER_NOT_FOUND:
		s->counters.answers[HTTP_ANSWER_REFUSED]++;
		log_warn(MOD, "%s: answer file %s: %s (from %s)", mac, name, why, a->src);
		return http_reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
	case ANSWER_FAILED:
		s->counters.answers[HTTP_ANSWER_REFUSED]++;
		log_warn(MOD, "%s: answer file %s for deployment '%s' %s (from %s)", mac, name,
			 a->rep.deployment_name, why, a->src);
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "answer file cannot be rendered, see the server log\n");
	case ANSWER_FORBIDDEN:
	default:
		s->counters.answers[HTTP_ANSWER_REFUSED]++;
		if (a->speak)
			log_warn(MOD, "%s: answer file %s %s (from %s)%s", mac, name, why, a->src,
				 a->quiet);
		return http_reply_text(c, r, MHD_HTTP_FORBIDDEN, "forbidden\n");
	}
}

enum MHD_Result http_answers_route(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url)
{
	const char *p = r->url_full + strlen("/answers/"), *slash = strchr(p, '/');
	struct answer_state *a = calloc(1, sizeof(*a));
	char esc[80];

	if (!a)
		return MHD_NO;
	r->state = a;
	r->state_free = answer_state_free;
	http_client_addr(c, a->src, sizeof(a->src));
	/* A malformed token is refused here, without the database; like any
	 * other bad token it says nothing about the file. */
	if (!slash || !token_shape(p, (size_t)(slash - p)) ||
	    strlen(slash + 1) > CONTENT_NAME_MAX) {
		s->counters.answers[HTTP_ANSWER_REFUSED]++;
		if (refusal_speak(s, a->src, a->quiet, sizeof(a->quiet), &a->quiet_n)) {
			log_escape(esc, sizeof(esc), p, strnlen(p, 60));
			log_warn(MOD, "answer file refused: malformed token in /answers/%s (from %s)%s",
				 esc, a->src, a->quiet);
		}
		return http_reply_text(c, r, MHD_HTTP_FORBIDDEN, "forbidden\n");
	}
	memcpy(a->token, p, HTTP_REPORT_TOKEN_LEN);
	str_copy(a->name, sizeof(a->name), slash + 1);
	http_request_base_url(c, r->via, a->base, sizeof(a->base));
	return http_defer(s, c, r, url, answer_work, answer_reply);
}

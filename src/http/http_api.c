/* One file for now (about 2,700 lines): every resource shares the
 * api_call machinery and JSON helpers kept static here; the split into a
 * core and one file per resource is planned work. */
/* The JSON admin API under /api/v1/ (docs/pxed.8.md, ADMIN API AND ACCESS).
 *
 * Each handler is an api_fn: it returns the HTTP status of its success
 * (200, 201) with *out set, or -1 with *e filled; api_run() turns either
 * into a response.  Errors have one shape, {"error": code, "detail": text}:
 *   400 invalid_json | missing_field | invalid_field | unknown_field
 *   404 not_found   409 exists, in_use, needs_restart   405 method_not_allowed
 *   413 too_large   503 unavailable (settings cannot be changed)
 *   500 store_error */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "common/vocab.h"
#include "conf/conf.h"
#include "common/template.h"
#include "common/wol.h"
#include "decide/decide.h"
#include "decide/machine_vars.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "store/store.h"

#define MOD "http"
#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 10000

struct api_err {
	unsigned status;
	const char *code;
	char detail[256];
	json_t *extra;             /* more members for the error body (import: "lines") */
};

typedef int (*api_fn)(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e);

static int api_fail(struct api_err *e, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int api_fail(struct api_err *e, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* A store error as the client should see it; the store's message is the
 * detail ("device 'lab-01' already exists"). */
static int api_store_fail(struct http_server *s, int rc, struct api_err *e, const char *what)
{
	const char *msg = store_last_error(s->store);
	if (!msg || !*msg)
		msg = strerror(-rc);
	switch (rc) {
	case -EEXIST:
		return api_fail(e, MHD_HTTP_CONFLICT, "exists", "%s", msg);
	case -ENOENT:
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "%s", msg);
	case -EINVAL:
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", msg);
	case -ENOSPC:
		/* RFC 4918 §11.5: the change cannot be stored, nothing was */
		log_warn(MOD, "store failed to %s: %s", what, msg);
		return api_fail(e, MHD_HTTP_INSUFFICIENT_STORAGE, "insufficient_storage",
				"the database failed to %s: the disk is full", what);
	case -ENOTCONN:
		/* The database server is down; the store says so once in the
		 * log and reconnects by itself. */
		return api_fail(e, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				"the database cannot be reached now; try again later");
	default:
		log_warn(MOD, "store failed to %s: %s", what, msg);
		return api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_error",
				"the database failed to %s", what);
	}
}

static enum MHD_Result api_reply_json_hdr(struct MHD_Connection *c, struct http_request *r,
					  unsigned status, json_t *o, const char *hname,
					  const char *hvalue);
static enum MHD_Result api_reply_json(struct MHD_Connection *c, struct http_request *r,
				      unsigned status, json_t *o)
{
	return api_reply_json_hdr(c, r, status, o, NULL, NULL);
}

static enum MHD_Result api_reply_json_hdr(struct MHD_Connection *c, struct http_request *r,
					  unsigned status, json_t *o, const char *hname,
					  const char *hvalue)
{
	char *txt = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY), *nl;
	struct MHD_Response *resp;
	size_t n;
	json_decref(o);
	if (!txt)
		return MHD_NO;
	/* one trailing newline: friendlier for curl in a terminal */
	n = strlen(txt);
	nl = realloc(txt, n + 2);
	if (!nl) {
		free(txt);
		return MHD_NO;
	}
	txt = nl;
	txt[n++] = '\n';
	txt[n] = '\0';
	resp = MHD_create_response_from_buffer(n, txt, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(txt);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (hname)
		MHD_add_response_header(resp, hname, hvalue);
	return http_queue(c, r, status, resp);
}

struct api_call;
/* The loop's part of a split handler (api_run_split): after fn ran on the
 * worker, it reads or changes what the loop owns (counters, settings) and
 * may set a->st, a->out and a->e for the reply. */
typedef void (*api_finish_fn)(struct http_server *s, struct MHD_Connection *c,
			      struct http_request *r, struct api_call *a);

/* One API call: fn runs on the worker (api_run, api_run_split) or on the
 * loop (api_run_here, for handlers that need no store and read loop-owned
 * state: the settings), the reply is made on the loop. */
struct api_call {
	api_fn fn;
	api_finish_fn finish;      /* api_run_split: on the loop, after fn */
	bool list;                 /* api_run_list: page the array */
	unsigned long long lim, off;
	bool paged;                /* fn paged in the store: out is the page */
	uint64_t total;            /* ... of this many */
	json_t *out;
	struct api_err e;
	int st;
	uint64_t us;               /* fn's run time */
	/* What fn found for finish: */
	union {
		struct {           /* GET /api/v1/status */
			json_int_t devices, images, deployments;
			uint64_t generation;
		} status;
		struct {           /* POST /api/v1/report */
			bool bad_token;    /* an auth failure to count */
			int state;         /* a report to count, -1 = none */
		} report;
	} u;
	/* Wake-on-LAN (device, collection, deploy --wake): machines found and
	 * recorded on the worker, sent from the loop (wake_finish). */
	struct wol_batch *wake;
	size_t wake_reserved;      /* room held in wake_to for it */
	struct wol_sched *wake_to;
};

static void api_call_free(void *p)
{
	struct api_call *a = p;
	if (a->wake_reserved)
		wol_sched_release(a->wake_to, a->wake_reserved);
	wol_batch_free(a->wake);
	json_decref(a->out);
	if (a->e.extra)
		json_decref(a->e.extra);
	free(a);
}

static void api_call_work(struct http_server *s, struct MHD_Connection *c, struct http_request *r)
{
	struct api_call *a = r->state;
	uint64_t t0 = now_us();
	a->st = a->fn(s, c, r, &a->out, &a->e);
	a->us = now_us() - t0;
}

static enum MHD_Result api_call_reply(struct http_server *s, struct MHD_Connection *c,
				      struct http_request *r, const char *url);

static enum MHD_Result api_defer(api_fn fn, struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r, bool list, unsigned long long lim,
				 unsigned long long off)
{
	struct api_call *a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->fn = fn;
	a->list = list;
	a->lim = lim;
	a->off = off;
	r->state = a;
	r->state_free = api_call_free;
	return http_defer(s, c, r, r->url_full, api_call_work, api_call_reply);
}

static enum MHD_Result api_run(api_fn fn, struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r)
{
	return api_defer(fn, s, c, r, false, 0, 0);
}

/* fn (the store work) on the worker, then finish on the loop. */
static enum MHD_Result api_run_split(api_fn fn, api_finish_fn finish, struct http_server *s,
				     struct MHD_Connection *c, struct http_request *r)
{
	struct api_call *a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->fn = fn;
	a->finish = finish;
	r->state = a;
	r->state_free = api_call_free;
	return http_defer(s, c, r, r->url_full, api_call_work, api_call_reply);
}

static enum MHD_Result api_reply_list(struct MHD_Connection *c, struct http_request *r,
				      struct api_call *a);

/* For handlers that change what worker jobs read (the settings): fn runs
 * on the loop while no job runs. */
static enum MHD_Result api_run_exclusive(api_fn fn, struct http_server *s,
					 struct MHD_Connection *c, struct http_request *r)
{
	struct api_call *a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->fn = fn;
	r->state = a;
	r->state_free = api_call_free;
	return http_defer_exclusive(s, c, r, r->url_full, api_call_work, api_call_reply);
}

/* For handlers that read loop-owned state and need no store (the
 * settings): fn runs on the loop, so it must never call the store; a
 * handler that needs both uses api_run_split(). */
static enum MHD_Result api_run_here(api_fn fn, struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r)
{
	struct api_call *a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->fn = fn;
	r->state = a;
	r->state_free = api_call_free;
	api_call_work(s, c, r);
	return api_call_reply(s, c, r, r->url_full);
}

static enum MHD_Result api_call_reply(struct http_server *s, struct MHD_Connection *c,
				      struct http_request *r, const char *url)
{
	struct api_call *a = r->state;
	json_t *out;
	struct api_err e;
	int st;

	if (r->cancelled)
		return http_reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping",
					"pxed is stopping");
	if (a->finish)
		a->finish(s, c, r, a);
	out = a->out;
	e = a->e;
	st = a->st;
	s->counters.store_calls++;
	s->counters.store_us += a->us;
	if (a->list && st >= 0 && out)
		return api_reply_list(c, r, a);
	a->out = NULL;
	a->e.extra = NULL;
	if (st < 0) {
		json_decref(out);
		if (e.extra) {
			json_t *o = json_pack("{s:s, s:s}", "error", e.code, "detail", e.detail);
			json_object_update(o, e.extra);
			json_decref(e.extra);
			return api_reply_json(c, r, e.status, o);
		}
		return http_reply_error(c, r, e.status, e.code, "%s", e.detail);
	}
	if (!out)
		return http_reply_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
					"out of memory");
	return api_reply_json(c, r, (unsigned)st, out);
}

/* ---- request bodies ------------------------------------------------------ */

/* The POST body as a JSON object with only the allowed keys. */
static json_t *body_object(struct http_request *r, const char *const *allowed,
			   struct api_err *e)
{
	json_error_t jerr;
	json_t *o;
	const char *key;
	json_t *v;

	if (!r->body_len) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json", "request body is empty");
		return NULL;
	}
	o = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json", "bad JSON at line %d column %d: %s",
			 jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json", "request body must be a JSON object");
		return NULL;
	}
	json_object_foreach(o, key, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			char esc[80];
			log_escape(esc, sizeof(esc), key, strlen(key));
			api_fail(e, MHD_HTTP_BAD_REQUEST, "unknown_field", "unknown field '%s'", esc);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A string field; absent or null gives NULL when optional. */
static int field_str(json_t *o, const char *key, bool required, const char **out,
		     struct api_err *e)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return api_fail(e, MHD_HTTP_BAD_REQUEST, "missing_field",
					"field '%s' is required", key);
		return 0;
	}
	if (!json_is_string(v))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' contains a NUL character", key);
	*out = json_string_value(v);
	return 0;
}

static int field_name(json_t *o, const char *key, bool required, const char **out,
		      struct api_err *e)
{
	if (field_str(o, key, required, out, e) < 0)
		return -1;
	if (*out && !vocab_name_valid(*out))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ -", key,
				HTTP_NAME_MAX);
	return 0;
}

static int field_path(json_t *o, const char *key, bool required, const char **out,
		      struct api_err *e)
{
	if (field_str(o, key, required, out, e) < 0)
		return -1;
	if (*out && !vocab_path_valid(*out))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' must be a relative path of A-Z a-z 0-9 . _ - + / "
				"without '..' (at most 255 characters)", key);
	return 0;
}

static int time_parse_ms(const char *s, int64_t *ms);

/* ---- JSON views of store rows ------------------------------------------- */

static json_t *time_json(int64_t ms)
{
	char buf[80];
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (ms <= 0)
		return json_null();
	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

/* A stored string as JSON.  jansson refuses invalid UTF-8, and one odd byte
 * in one row (a reason or interface name recorded from a packet) must not
 * turn a whole listing into a 500: such strings are shown escaped. */
static json_t *str_json(const char *s)
{
	char esc[1024];
	json_t *v = json_string(s);
	if (v)
		return v;
	log_escape(esc, sizeof(esc), s, strlen(s));
	return json_string(esc);
}

static json_t *mac_json(const uint8_t mac[MAC_LEN])
{
	char m[MAC_STR_LEN];
	mac_format(mac, m);
	return json_string(m);
}

static json_t *guid_json(bool has, const uint8_t guid[GUID_LEN])
{
	char g[GUID_STR_LEN];
	if (!has)
		return json_null();
	guid_format(guid, g);
	return json_string(g);
}

static json_t *device_json(const struct store_device *d)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)d->id, "name",
			 str_json(d->name), "mac", mac_json(d->mac), "guid", guid_json(d->has_guid, d->guid),
			 "arch", d->arch >= 0 ? json_integer(d->arch) : json_null(), "last_seen",
			 time_json(d->last_seen * 1000), "created", time_json(d->created * 1000));
}

static json_t *image_json(const struct store_image *im)
{
	json_t *o = json_pack("{s:I, s:o, s:o}", "id", (json_int_t)im->id, "name", str_json(im->name),
			      "created", time_json(im->created * 1000));
	if (!o)
		return NULL;
	if (im->arch[0])
		json_object_set_new(o, "arch", str_json(im->arch));
	if (im->loader[0])
		json_object_set_new(o, "loader", str_json(im->loader));
	if (im->nbp[0]) {
		json_object_set_new(o, "nbp", str_json(im->nbp));
	} else {
		json_object_set_new(o, "kernel", str_json(im->kernel));
		json_object_set_new(o, "initrd", str_json(im->initrd));
		json_object_set_new(o, "cmdline", str_json(im->cmdline));
	}
	return o;
}

/* "device:NAME", "collection:NAME", "unknown:ARCH" */
static void deployment_target_text(const struct store_deployment *d, char *buf, size_t len)
{
	switch (d->target) {
	case STORE_TARGET_COLLECTION:
		snprintf(buf, len, "collection:%s", d->collection_name);
		break;
	case STORE_TARGET_UNKNOWN:
		snprintf(buf, len, "unknown:%s",
			 vocab_arch_targetable(d->unknown_arch)
				 ? vocab_arch_name((enum pxe_arch_class)d->unknown_arch)
				 : "?");
		break;
	default:
		snprintf(buf, len, "device:%s", d->device_name);
	}
}

static json_t *deployment_json(const struct store_deployment *d)
{
	char target[160];
	json_t *o;
	deployment_target_text(d, target, sizeof(target));
	o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:s, s:b, s:o, s:o, s:o}", "id",
		      (json_int_t)d->id, "name", str_json(d->name), "image", str_json(d->image_name),
		      "target", str_json(target), "device",
		      d->target == STORE_TARGET_DEVICE ? str_json(d->device_name) : json_null(),
		      "collection",
		      d->target == STORE_TARGET_COLLECTION ? str_json(d->collection_name) : json_null(),
		      "purpose", d->purpose == STORE_REQUIRED ? "required" : "available", "enabled",
		      d->enabled, "available_from", time_json(d->available_from * 1000), "expires",
		      time_json(d->expires * 1000), "created", time_json(d->created * 1000));
	if (o)
		json_object_set_new(o, "unknown_arch",
				    d->target == STORE_TARGET_UNKNOWN &&
						    vocab_arch_targetable(d->unknown_arch)
					    ? json_string(vocab_arch_name(
						      (enum pxe_arch_class)d->unknown_arch))
					    : json_null());
	return o;
}

/* ---- list callbacks ------------------------------------------------------ */

static int add_device(void *ctx, const struct store_device *d)
{
	return json_array_append_new(ctx, device_json(d)) < 0 ? -ENOMEM : 0;
}

static int add_image(void *ctx, const struct store_image *im)
{
	return json_array_append_new(ctx, image_json(im)) < 0 ? -ENOMEM : 0;
}

static int add_deployment(void *ctx, const struct store_deployment *d)
{
	return json_array_append_new(ctx, deployment_json(d)) < 0 ? -ENOMEM : 0;
}

static int add_deployment_handout(void *ctx, const struct store_deployment *d)
{
	json_t *o = deployment_json(d);
	json_object_set_new(o, "handed_out",
			    d->handed_out_at ? time_json(d->handed_out_at * 1000) : json_null());
	return json_array_append_new(ctx, o) < 0 ? -ENOMEM : 0;
}

/* ---- /api/v1/devices ----------------------------------------------------- */

#define LIST_DEFAULT_LIMIT 1000
#define LIST_MAX_LIMIT 10000

/* The page of a list call's full array (see api_run_list). */
static enum MHD_Result api_reply_list(struct MHD_Connection *c, struct http_request *r,
				      struct api_call *a)
{
	json_t *out = a->out, *page;
	unsigned long long lim = a->lim, off = a->off;
	char total[24];
	size_t n;

	a->out = NULL;
	if (a->paged) {
		snprintf(total, sizeof(total), "%llu", (unsigned long long)a->total);
		return api_reply_json_hdr(c, r, (unsigned)a->st, out, "X-Total-Count", total);
	}
	n = json_array_size(out);
	snprintf(total, sizeof(total), "%zu", n);
	page = json_array();
	for (size_t i = (size_t)off; page && i < n && i < off + lim; i++)
		json_array_append(page, json_array_get(out, i));
	json_decref(out);
	if (!page)
		return MHD_NO;
	return api_reply_json_hdr(c, r, (unsigned)a->st, page, "X-Total-Count", total);
}

/* ?limit=&offset= over a list handler's full array.  The reply stays a
 * JSON array (what clients of the first API version parse); the total
 * before paging is in the X-Total-Count header. */
static enum MHD_Result api_run_list(api_fn fn, struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r)
{
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *offset = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "offset");
	unsigned long long lim = LIST_DEFAULT_LIMIT, off = 0;

	if (limit && parse_uint(limit, 1, LIST_MAX_LIMIT, &lim) < 0)
		return http_reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_field",
					"parameter 'limit' must be a number from 1 to %d",
					LIST_MAX_LIMIT);
	if (offset && parse_uint(offset, 0, INT32_MAX, &off) < 0)
		return http_reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_field",
					"parameter 'offset' must be a number from 0 to %d",
					INT32_MAX);
	return api_defer(fn, s, c, r, true, lim, off);
}

/* ?q= (part of a name, MAC or GUID), ?limit=, ?offset=: one page, found
 * and paged in SQL; the number of matches in X-Total-Count. */
static int devices_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_device_query q = {
		.q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q"),
		.limit = (unsigned)a->lim,
		.offset = (unsigned)a->off,
	};
	unsigned total = 0;
	int rc;

	if (q.q && strlen(q.q) > 128)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'q' is longer than 128 characters");
	/* Found and paged in SQL: a call reads the rows it returns, not the
	 * table. */
	*out = json_array();
	rc = store_device_search(s->store, &q, &total, add_device, *out);
	a->total = total;
	a->paged = true;
	return rc < 0 ? api_store_fail(s, rc, e, "list devices") : MHD_HTTP_OK;
}

static int devices_add(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "mac", "guid", NULL };
	struct store_device d = { .arch = -1 };
	const char *name, *mac, *guid;
	json_t *o = body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (field_name(o, "name", true, &name, e) < 0 || field_str(o, "mac", true, &mac, e) < 0 ||
	    field_str(o, "guid", false, &guid, e) < 0)
		goto done;
	if (mac_parse(mac, d.mac) < 0) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'mac' is not a MAC address (like 52:54:00:12:34:56)");
		goto done;
	}
	if (guid) {
		if (guid_parse(guid, d.guid) < 0) {
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				 "field 'guid' is not an SMBIOS GUID "
				 "(like 8a3c1f2e-0000-4000-8000-525400123456)");
			goto done;
		}
		d.has_guid = true;
	}
	str_copy(d.name, sizeof(d.name), name);
	rc = store_device_add(s->store, &d);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a device");
		goto done;
	}
	log_info(MOD, "device '%s' added", d.name);
	*out = device_json(&d);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

enum MHD_Result http_api_devices(struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r, const char *url)
{
	if (r->method == HTTP_POST)
		return api_run(devices_add, s, c, r);
	return api_run_list(devices_list, s, c, r);
}

/* ---- /api/v1/images ------------------------------------------------------ */

static int images_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_image_list(s->store, add_image, *out);
	return rc < 0 ? api_store_fail(s, rc, e, "list images") : MHD_HTTP_OK;
}

static int images_add(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "kernel", "initrd", "cmdline", "nbp",
					    "arch", "loader", NULL };
	struct store_image im = { 0 };
	const char *name, *kernel, *initrd, *cmdline, *nbp, *arch, *loader;
	json_t *o = body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (field_name(o, "name", true, &name, e) < 0 ||
	    field_path(o, "kernel", false, &kernel, e) < 0 ||
	    field_path(o, "initrd", false, &initrd, e) < 0 ||
	    field_str(o, "cmdline", false, &cmdline, e) < 0 ||
	    field_path(o, "nbp", false, &nbp, e) < 0 ||
	    field_str(o, "arch", false, &arch, e) < 0 ||
	    field_str(o, "loader", false, &loader, e) < 0)
		goto done;
	/* Without arch an image is for x86 (BIOS and UEFI x64), as before. */
	if (arch && !vocab_image_arch_valid(arch)) {
		char names[128];

		vocab_list(VOCAB_IMAGE_ARCH, " or ", names, sizeof(names));
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'arch' must be %s (or absent: %s, BIOS and UEFI x64)", names,
			 VOCAB_IMAGE_ARCH_DEFAULT_WORD);
		goto done;
	}
	if (loader && loader[0] && vocab_loader_parse(loader, 0) < 0) {
		char names[128];

		vocab_list(VOCAB_LOADER, " or ", names, sizeof(names));
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'loader' must be %s (or absent: the setting)", names);
		goto done;
	}
	if (nbp && (kernel || initrd || cmdline)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'nbp' excludes 'kernel', 'initrd' and 'cmdline'");
		goto done;
	}
	if (!nbp && !kernel) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "missing_field",
			 "field 'kernel' (or 'nbp') is required");
		goto done;
	}
	/* The cmdline goes into an iPXE script verbatim: see boot_script.h. */
	if (cmdline && !http_cmdline_template_valid(cmdline)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'cmdline' must be at most 511 printable ASCII characters without "
			 "\" ' \\ | & # { } ` or a lone ;, and $ only in ${name} or "
			 "${name:-default}");
		goto done;
	}
	str_copy(im.name, sizeof(im.name), name);
	str_copy(im.kernel, sizeof(im.kernel), kernel ? kernel : "");
	str_copy(im.initrd, sizeof(im.initrd), initrd ? initrd : "");
	str_copy(im.cmdline, sizeof(im.cmdline), cmdline ? cmdline : "");
	str_copy(im.nbp, sizeof(im.nbp), nbp ? nbp : "");
	str_copy(im.arch, sizeof(im.arch), arch ? arch : "");
	str_copy(im.loader, sizeof(im.loader), loader ? loader : "");
	rc = store_image_add(s->store, &im);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add an image");
		goto done;
	}
	log_info(MOD, "image '%s' added", im.name);
	*out = image_json(&im);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

enum MHD_Result http_api_images(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	if (r->method == HTTP_POST)
		return api_run(images_add, s, c, r);
	return api_run_list(images_list, s, c, r);
}

/* ---- /api/v1/deployments ------------------------------------------------- */

static int deployments_list(struct http_server *s, struct MHD_Connection *c,
			    struct http_request *r, json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_deployment_list(s->store, add_deployment, *out);
	return rc < 0 ? api_store_fail(s, rc, e, "list deployments") : MHD_HTTP_OK;
}

/* A deployment time: unix seconds (a JSON number or a string of digits)
 * or a UTC time "2026-11-26T14:00:00Z"; absent or null = none (0). */
static int field_time(json_t *o, const char *key, int64_t *out, struct api_err *e)
{
	json_t *v = json_object_get(o, key);
	const char *t;
	int64_t ms;
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			goto bad;
		*out = json_integer_value(v);
		return 0;
	}
	if (field_str(o, key, false, &t, e) < 0)
		goto bad;
	if (t[0] >= '0' && t[0] <= '9' && !strchr(t, '-')) {
		unsigned long long n;
		if (parse_uint(t, 0, INT64_MAX / 1000, &n) < 0)
			goto bad;
		*out = (int64_t)n;
		return 0;
	}
	if (time_parse_ms(t, &ms) < 0)
		goto bad;
	*out = ms / 1000;
	return 0;
bad:
	return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			"field '%s' must be unix seconds or a UTC time like 2026-11-26T14:00:00Z",
			key);
}

/* Wake-on-LAN (below, with the devices). */
static int wake_prepare(struct http_server *s, struct api_call *a, const char *what, size_t n,
			struct api_err *e);
static int wake_fill(struct http_server *s, struct api_call *a, const struct store_device *dev,
		     const char *collection, const char *what, struct api_err *e);
static json_t *wake_json(const struct api_call *a, int n);
static void wake_finish(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			struct api_call *a);

static int deployments_add(struct http_server *s, struct MHD_Connection *c,
			   struct http_request *r, json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name",	      "image",	 "device", "collection",
					    "unknown_arch",   "purpose", "available_from",
					    "expires",	      "wake",	 NULL };
	struct store_deployment dep = { .enabled = true, .unknown_arch = -1 };
	struct store_image im;
	struct store_device dev;
	struct store_collection col;
	const char *name, *image, *device, *collection, *unknown, *purpose;
	char target[160];
	json_t *o = body_object(r, keys, e), *wake;
	int rc = -1, n;

	if (!o)
		return -1;
	wake = json_object_get(o, "wake");
	if (wake && !json_is_boolean(wake)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field", "field 'wake' must be true or false");
		goto done;
	}
	if (field_name(o, "name", true, &name, e) < 0 || field_name(o, "image", true, &image, e) < 0 ||
	    field_name(o, "device", false, &device, e) < 0 ||
	    field_name(o, "collection", false, &collection, e) < 0 ||
	    field_str(o, "unknown_arch", false, &unknown, e) < 0 ||
	    field_str(o, "purpose", true, &purpose, e) < 0 ||
	    field_time(o, "available_from", &dep.available_from, e) < 0 ||
	    field_time(o, "expires", &dep.expires, e) < 0)
		goto done;
	if (!!device + !!collection + !!unknown != 1) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, device || collection || unknown ? "invalid_field"
										   : "missing_field",
			 "give exactly one target: field 'device', 'collection' or 'unknown_arch'");
		goto done;
	}
	if (!strcmp(purpose, "required"))
		dep.purpose = STORE_REQUIRED;
	else if (!strcmp(purpose, "available"))
		dep.purpose = STORE_AVAILABLE;
	else {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'purpose' must be \"required\" or \"available\"");
		goto done;
	}
	if (dep.available_from && dep.expires && dep.expires <= dep.available_from) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'expires' must be later than 'available_from'");
		goto done;
	}
	if (unknown && json_is_true(wake)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'wake' needs a device or collection target: unknown machines have no "
			 "MAC to wake");
		goto done;
	}
	if (unknown) {
		dep.unknown_arch = vocab_arch_parse(unknown, VOCAB_ANY_CASE);
		if (dep.unknown_arch < 0) {
			char names[128];

			vocab_list(VOCAB_ARCH_TARGET, " or ", names, sizeof(names));
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				 "field 'unknown_arch' must be %s", names);
			goto done;
		}
		dep.target = STORE_TARGET_UNKNOWN;
	}
	rc = store_image_by_name(s->store, image, &im);
	if (rc == -ENOENT) {
		rc = api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "image '%s' does not exist", image);
		goto done;
	}
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "look up an image");
		goto done;
	}
	if (device) {
		rc = store_device_by_name(s->store, device, &dev);
		if (rc == -ENOENT) {
			rc = api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "device '%s' does not exist",
				      device);
			goto done;
		}
		if (rc < 0) {
			rc = api_store_fail(s, rc, e, "look up a device");
			goto done;
		}
		dep.target = STORE_TARGET_DEVICE;
		dep.device_id = dev.id;
		str_copy(dep.device_name, sizeof(dep.device_name), dev.name);
	}
	if (collection) {
		rc = store_collection_by_name(s->store, collection, &col);
		if (rc == -ENOENT) {
			rc = api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
				      "collection '%s' does not exist", collection);
			goto done;
		}
		if (rc < 0) {
			rc = api_store_fail(s, rc, e, "look up a collection");
			goto done;
		}
		dep.target = STORE_TARGET_COLLECTION;
		dep.collection_id = col.id;
		str_copy(dep.collection_name, sizeof(dep.collection_name), col.name);
	}
	str_copy(dep.name, sizeof(dep.name), name);
	dep.image_id = im.id;
	str_copy(dep.image_name, sizeof(dep.image_name), im.name);
	deployment_target_text(&dep, target, sizeof(target));
	/* Refused before the deployment exists: no interface, too many, busy. */
	if (json_is_true(wake) &&
	    (rc = wake_prepare(s, r->state, target, device ? 1 : col.members, e)) < 0)
		goto done;
	rc = store_deployment_add(s->store, &dep);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a deployment");
		goto done;
	}
	log_info(MOD, "deployment '%s': %s image '%s' to %s", dep.name, purpose, dep.image_name,
		 target);
	*out = deployment_json(&dep);
	rc = MHD_HTTP_CREATED;
	if (json_is_true(wake)) {
		/* The deployment is made: a failure to list the members is the
		 * wake's, reported in its part of the answer. */
		struct api_err we = { 0 };
		n = wake_fill(s, r->state, device ? &dev : NULL, collection, target, &we);
		json_object_set_new(*out, "wake", n < 0 ? json_pack("{s:s}", "error", we.detail)
						       : wake_json(r->state, n));
	}
done:
	json_decref(o);
	return rc;
}

enum MHD_Result http_api_deployments(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url)
{
	if (r->method == HTTP_POST)
		return api_run_split(deployments_add, wake_finish, s, c, r);
	return api_run_list(deployments_list, s, c, r);
}

/* ---- /api/v1/events ------------------------------------------------------ */

/* ?since= as unix milliseconds, or RFC 3339 UTC "2026-11-26T14:00:00[.123]Z". */
static int since_parse(const char *s, int64_t *ms)
{
	unsigned long long v;

	if (parse_uint(s, 0, INT64_MAX, &v) == 0) {
		*ms = (int64_t)v;
		return 0;
	}
	return time_parse_ms(s, ms);
}

/* RFC 3339 UTC "2026-11-26T14:00:00[.123]Z" as unix milliseconds. */
static int time_parse_ms(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p;
	int frac = 0;

	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -EINVAL;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

struct events_ctx {
	struct http_server *s;
	json_t *arr;
	json_t *names; /* device id (text) -> name, or null when gone */
	struct store *store;
};

/* The name of an event's device, looked up once per device in the page
 * (not the whole device table for every events call). */
static json_t *event_device_name(struct events_ctx *x, int64_t device_id)
{
	struct store_device d;
	char id[24];
	json_t *name;
	snprintf(id, sizeof(id), "%lld", (long long)device_id);
	name = json_object_get(x->names, id);
	if (name)
		return json_is_null(name) ? NULL : name;
	name = store_device_by_id(x->store, device_id, &d) == 0 ? str_json(d.name) : json_null();
	if (json_object_set_new(x->names, id, name) < 0)
		return NULL;
	return json_is_null(name) ? NULL : name;
}

static int add_event(void *ctx, const struct store_event *ev)
{
	struct events_ctx *x = ctx;
	json_t *name, *o;
	name = ev->device_id ? event_device_name(x, ev->device_id) : NULL;
	o = json_pack("{s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:O, s:o}", "id",
		      (json_int_t)ev->id, "time", time_json(ev->time_ms), "time_ms",
		      (json_int_t)ev->time_ms, "mac", mac_json(ev->mac), "guid",
		      guid_json(ev->has_guid, ev->guid), "arch",
		      ev->arch >= 0 ? json_integer(ev->arch) : json_null(), "ifname",
		      str_json(ev->ifname), "via", str_json(ev->via), "outcome", str_json(ev->outcome),
		      "reason", str_json(ev->reason), "device", name ? name : json_null(),
		      "deployment", str_json(ev->deployment_name));
	return json_array_append_new(x->arr, o) < 0 ? -ENOMEM : 0;
}

static int events_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	const char *device = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device");
	const char *mac = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mac");
	const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	struct events_ctx x = { 0 };
	struct store_device dev = { 0 };
	struct store_event_filter f = { 0 };
	unsigned long long lim = EVENTS_DEFAULT_LIMIT;
	int rc;

	if (device && !vocab_name_valid(device))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'device' is not a valid name");
	if (mac && mac_parse(mac, f.mac) < 0)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'mac' is not a MAC address (like 52:54:00:12:34:56)");
	f.has_mac = mac != NULL;
	if (since && since_parse(since, &f.since_ms) < 0)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'since' must be unix milliseconds or a UTC time like "
				"2026-11-26T14:00:00Z");
	if (limit && parse_uint(limit, 1, EVENTS_MAX_LIMIT, &lim) < 0)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'limit' must be a number from 1 to %d", EVENTS_MAX_LIMIT);
	f.limit = (unsigned)lim;
	if (device) {
		rc = store_device_by_name(s->store, device, &dev);
		if (rc == -ENOENT)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					"device '%s' does not exist", device);
		if (rc < 0)
			return api_store_fail(s, rc, e, "look up a device");
		f.device_id = dev.id;
	}
	/* Decisions queue their events in batches: write what is queued so
	 * the list includes the decision that just happened. */
	decider_events_flush(s->dec);
	x.s = s;
	x.names = json_object();
	x.store = s->store;
	x.arr = *out = json_array();
	if (f.device_id && !f.has_mac && !f.since_ms)
		rc = store_event_recent_device(s->store, f.device_id, f.limit, add_event, &x);
	else
		rc = store_event_find(s->store, &f, add_event, &x);
	json_decref(x.names);
	return rc < 0 ? api_store_fail(s, rc, e, "list events") : MHD_HTTP_OK;
}

enum MHD_Result http_api_events(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	return api_run(events_list, s, c, r);
}

/* ---- /api/v1/status ------------------------------------------------------ */

/* The settings in force, as the admin API shows them: PXEPassword only as
 * whether one is set. */
static json_t *settings_json(const struct pxed_conf *c, const struct http_server *s)
{
	json_t *ifs = json_array();
	for (unsigned i = 0; i < c->n_bind_ifaces; i++)
		json_array_append_new(ifs, str_json(c->bind_ifaces[i]));
	return json_pack("{s:b, s:b, s:o, s:i, s:i, s:s, s:o, s:o, s:b, s:i, s:i, s:b, s:i, s:i, "
			 "s:i, s:o, s:o, s:s}",
			 "IsActive", c->is_active, "SupportUnknownMachines", c->support_unknown,
			 "MACIgnoreListFile", str_json(c->mac_ignore_file), "ResponseDelay",
			 (int)c->response_delay, "CacheExpire", (int)c->cache_expire, "BindPolicy",
			 c->bind_policy == BIND_INCLUDE ? "include" : "exclude", "BindInterfaces", ifs,
			 "PXEGUID", str_json(c->pxe_guid), "PXEPassword",
			 c->pxe_password_hash[0] != '\0', "HTTPPort", (int)s->plain.port, "HTTPSPort",
			 (int)s->https.port, "AdminHTTPSOnly", c->http_admin_https_only,
			 "TFTPMaxBlockSize", (int)c->tftp_max_block_size, "TFTPMaxWindowSize",
			 (int)c->tftp_max_window_size, "TFTPMaxTransfers", (int)c->tftp_max_transfers,
			 "TFTPRoot", str_json(c->tftp_root), "StoreURL", str_json(c->store_url),
			 "LogLevel", c->log_level);
}

/* On the worker: the row counts and the generation. */
static int status_count(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_row_counts n;
	int rc = store_row_counts(s->store, &n);
	if (rc < 0)
		return api_store_fail(s, rc, e, "count rows");
	a->u.status.devices = n.devices;
	a->u.status.images = n.images;
	a->u.status.deployments = n.deployments;
	a->u.status.generation = store_generation(s->store);
	return MHD_HTTP_OK;
}

/* On the loop: the counters, the connections and the settings are its. */
static void status_finish(struct http_server *s, struct MHD_Connection *c,
			  struct http_request *r, struct api_call *a)
{
	const union MHD_DaemonInfo *info;

	if (a->st < 0)
		return;
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	a->out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "status", "ok", "version",
			   s->src.version ? s->src.version : "unknown", "uptime_s",
			   (json_int_t)((now_ms() - s->started_ms) / 1000), "http_requests",
			   (json_int_t)s->n_requests, "http_connections",
			   (json_int_t)(info ? info->num_connections : 0), "store_generation",
			   (json_int_t)a->u.status.generation, "devices", a->u.status.devices,
			   "images", a->u.status.images, "deployments", a->u.status.deployments);
	if (a->out) {
		struct decider_cache_stats cs;
		decider_cache_stats(s->dec, &cs);
		json_object_set_new(a->out, "settings", settings_json(s->conf, s));
		json_object_set_new(a->out, "cache",
				    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hits",
					      (json_int_t)cs.hits, "misses", (json_int_t)cs.misses,
					      "invalidations", (json_int_t)cs.invalidations,
					      "expirations", (json_int_t)cs.expirations, "evictions",
					      (json_int_t)cs.evictions, "entries", (json_int_t)cs.entries,
					      "max_entries", (json_int_t)cs.max_entries));
	}
}

enum MHD_Result http_api_status(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	return api_run_split(status_count, status_finish, s, c, r);
}

/* ---- /api/v1/{devices,images,deployments}/NAME --------------------------- */

/* The NAME after prefix, into name; *rest = what follows a '/' ("clear"),
 * or "" when nothing does.  -1 with *e filled when NAME is not valid. */
static int url_name(const char *url, const char *prefix, char name[HTTP_NAME_MAX + 1],
		    const char **rest, struct api_err *e)
{
	const char *p = url + strlen(prefix), *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	*rest = slash ? slash + 1 : "";
	if (n == 0 || n > HTTP_NAME_MAX)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such name in the URL");
	memcpy(name, p, n);
	name[n] = '\0';
	if (!vocab_name_valid(name))
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
				"a name is 1 to %d characters of A-Z a-z 0-9 . _ -", HTTP_NAME_MAX);
	return 0;
}

static int device_lookup(struct http_server *s, const char *name, struct store_device *d,
			 struct api_err *e)
{
	int rc = store_device_by_name(s->store, name, d);
	if (rc == -ENOENT)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "device '%s' does not exist",
				name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "look up a device");
	return 0;
}

static int add_collection(void *ctx, const struct store_collection *col);

/* ?detail=1: the collections the device is in and the deployments that
 * apply to it, each with whether it was handed out to it. */
static int device_detail(struct http_server *s, const struct store_device *d, json_t *o,
			 struct api_err *e)
{
	json_t *cols = json_array(), *deps = json_array();
	int rc;

	json_object_set_new(o, "collections", cols);
	json_object_set_new(o, "deployments", deps);
	rc = store_device_collections(s->store, d->id, add_collection, cols);
	if (rc >= 0)
		rc = store_deployments_applicable(s->store, d->id,
						  d->arch >= 0 ? (int)vocab_arch_classify((uint16_t)d->arch)
							       : -1,
						  add_deployment_handout, deps);
	if (rc < 0)
		return api_store_fail(s, rc, e, "read the device's deployments");
	return MHD_HTTP_OK;
}

static int device_vars_json(struct http_server *s, const struct store_device *d, json_t *o,
			    struct api_err *e);

/* ---- Wake-on-LAN -----------------------------------------------------------
 *
 * On the worker: find the machines and the interfaces, hold room in the
 * sender, record one event per machine (via "wol", outcome "wake"); then
 * on the loop (wake_finish) the sender takes the batch and sends
 * WOL_REPEAT magic packets per machine WOL_REPEAT_GAP_MS apart from the
 * loop's timers (a NIC may miss one while its link comes up).  No thread
 * waits between them. */

/* Room for n machines and the interfaces; on success a->wake is an empty
 * batch for them (filled by wake_add). */
static int wake_prepare(struct http_server *s, struct api_call *a, const char *what, size_t n,
			struct api_err *e)
{
	size_t max = s->conf->wake_max_devices;
	struct wol_ifaces ifs;
	int rc;

	if (!s->wol)
		return api_fail(e, MHD_HTTP_CONFLICT, "not_sent", "Wake-on-LAN is not available");
	if (n > max)
		return api_fail(e, MHD_HTTP_CONFLICT, "too_many",
				"%s has %zu devices; Wake-on-LAN wakes at most %zu at once "
				"(WakeMaxDevices): wake them by smaller collections", what, n, max);
	rc = wol_ifaces_find(s->conf->wake_interfaces, &ifs);
	if (rc <= 0) {
		log_warn(MOD, "%s: Wake-on-LAN not sent: %s", what,
			 rc == 0 ? "no interface matches WakeInterfaces" : strerror(-rc));
		return api_fail(e, MHD_HTTP_CONFLICT, "not_sent", "Wake-on-LAN not sent: %s",
				rc == 0 ? "no interface matches WakeInterfaces" : strerror(-rc));
	}
	/* Two requests' worth at once: their packets take 200 ms each. */
	if (wol_sched_reserve(s->wol, n, 2 * max) < 0)
		return api_fail(e, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				"more than %zu machines are being woken; try again in a second",
				2 * max);
	a->wake_to = s->wol;
	a->wake_reserved = n;
	a->wake = wol_batch_new(n, &ifs, what);
	if (!a->wake)
		return api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
	return 0;
}

struct wake_ctx {
	struct wol_batch *b;
	struct store_event *evs;
	size_t n, max;
	const char *ifaces;
	const char *what;
};

static int wake_add(void *ctx, const struct store_device *d)
{
	struct wake_ctx *w = ctx;
	struct store_event *ev;

	if (w->n >= w->max || wol_batch_add(w->b, d->mac) < 0)
		return 0; /* members added since they were counted: not these */
	ev = &w->evs[w->n++];
	memset(ev, 0, sizeof(*ev));
	ev->arch = -1;
	ev->time_ms = (int64_t)time(NULL) * 1000;
	memcpy(ev->mac, d->mac, MAC_LEN);
	snprintf(ev->via, sizeof(ev->via), "wol");
	snprintf(ev->outcome, sizeof(ev->outcome), "wake");
	snprintf(ev->reason, sizeof(ev->reason), "Wake-on-LAN magic packet sent on %.100s%s%.60s",
		 w->ifaces, w->what ? " for " : "", w->what ? w->what : "");
	ev->device_id = d->id;
	return 0;
}

/* Fill a->wake with one device, or the members of a collection, and
 * record their events.  Returns how many, or -1 with *e. */
static int wake_fill(struct http_server *s, struct api_call *a, const struct store_device *dev,
		     const char *collection, const char *what, struct api_err *e)
{
	struct wake_ctx w = { .b = a->wake, .max = a->wake_reserved,
			      .ifaces = wol_batch_ifaces(a->wake), .what = collection ? what : NULL };
	int rc = 0;

	w.evs = calloc(w.max ? w.max : 1, sizeof(*w.evs));
	if (!w.evs)
		return api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
	if (dev)
		wake_add(&w, dev);
	else
		rc = store_collection_members(s->store, collection, wake_add, &w);
	if (rc < 0) {
		free(w.evs);
		return api_store_fail(s, rc, e, "list a collection's members");
	}
	if (w.n && (rc = store_event_add_many(s->store, w.evs, w.n)) < 0)
		log_warn(MOD, "%s: Wake-on-LAN events not recorded: %s", what,
			 store_last_error(s->store));
	free(w.evs);
	return (int)w.n;
}

/* On the loop, after a wake (or a deployment with "wake") ran on the
 * worker: hand the batch to the sender; it sends the first round now. */
static void wake_finish(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			struct api_call *a)
{
	size_t n, directed;
	json_t *o;

	if (!a->wake || a->st < 0 || !a->out)
		return;
	n = wol_batch_count(a->wake);
	o = json_object_get(a->out, "wake");
	if (!o)
		o = a->out;
	if (!n) {
		wol_batch_free(a->wake);
		a->wake = NULL;
		return; /* the reservation goes with the call */
	}
	log_info(MOD, "%s: Wake-on-LAN for %zu device(s), %d times on %s", wol_batch_what(a->wake),
		 n, WOL_REPEAT, wol_batch_ifaces(a->wake));
	/* The sender now holds the reservation. */
	a->wake_reserved -= n;
	directed = wol_sched_start(s->wol, a->wake, s->conf->wake_relay_prefix);
	a->wake = NULL;
	s->counters.wake_sent++;
	json_object_set_new(o, "directed", json_integer((json_int_t)directed));
}

/* A reply's wake part: what wake_fill found. */
static json_t *wake_json(const struct api_call *a, int n)
{
	return json_pack("{s:i, s:s, s:i}", "devices", n, "interfaces", wol_batch_ifaces(a->wake),
			 "packets", WOL_REPEAT);
}

static int device_wake(struct http_server *s, struct http_request *r,
		       const struct store_device *d, json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	char mac[MAC_STR_LEN], what[96];
	int n;

	snprintf(what, sizeof(what), "device '%s'", d->name);
	if (wake_prepare(s, a, what, 1, e) < 0 || (n = wake_fill(s, a, d, NULL, what, e)) < 0)
		return -1;
	mac_format(d->mac, mac);
	*out = json_pack("{s:s, s:s, s:s, s:i}", "device", d->name, "mac", mac, "interfaces",
			 wol_batch_ifaces(a->wake), "packets", WOL_REPEAT);
	return MHD_HTTP_OK;
}

static int device_one(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "mac", "guid", NULL };
	char name[HTTP_NAME_MAX + 1];
	const char *rest, *nn, *mac, *guid;
	struct store_device d;
	json_t *o;
	int rc;

	if (url_name(r->url_full, "/api/v1/devices/", name, &rest, e) < 0)
		return -1;
	if (*rest && strcmp(rest, "clear") != 0 && strcmp(rest, "wake") != 0)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	if ((*rest != '\0') != (r->method == HTTP_POST))
		return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				"%s is not allowed here; use %s", r->method_name,
				*rest ? "POST" : "GET, PATCH, DELETE");
	if (device_lookup(s, name, &d, e) < 0)
		return -1;
	switch (r->method) {
	case HTTP_GET:
		*out = device_json(&d);
		if (*out && (rc = device_vars_json(s, &d, *out, e)) < 0) {
			json_decref(*out);
			*out = NULL;
			return rc;
		}
		if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "detail"))
			return device_detail(s, &d, *out, e);
		return MHD_HTTP_OK;
	case HTTP_POST: /* NAME/wake: Wake-on-LAN */
		if (!strcmp(rest, "wake"))
			return device_wake(s, r, &d, out, e);
		/* NAME/clear: "Clear Required PXE Deployments" */
		rc = store_handout_clear_device(s->store, d.id);
		if (rc < 0)
			return api_store_fail(s, rc, e, "clear a device");
		log_info(MOD, "device '%s': %d required deployment hand-out(s) cleared", d.name, rc);
		*out = json_pack("{s:s, s:i}", "device", d.name, "cleared", rc);
		return MHD_HTTP_OK;
	case HTTP_DELETE:
		rc = store_device_delete(s->store, name);
		if (rc == -EBUSY)
			return api_fail(e, MHD_HTTP_CONFLICT, "in_use",
					"device '%s' is the target of a deployment; remove that first",
					name);
		if (rc < 0)
			return api_store_fail(s, rc, e, "delete a device");
		log_info(MOD, "device '%s' deleted", name);
		*out = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
		return MHD_HTTP_OK;
	case HTTP_PATCH:
		o = body_object(r, keys, e);
		if (!o)
			return -1;
		rc = -1;
		if (field_name(o, "name", false, &nn, e) < 0 || field_str(o, "mac", false, &mac, e) < 0 ||
		    field_str(o, "guid", false, &guid, e) < 0)
			goto done;
		if (nn)
			str_copy(d.name, sizeof(d.name), nn);
		if (mac && mac_parse(mac, d.mac) < 0) {
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				 "field 'mac' is not a MAC address (like 52:54:00:12:34:56)");
			goto done;
		}
		if (json_is_null(json_object_get(o, "guid"))) {
			d.has_guid = false; /* "guid": null forgets it */
		} else if (guid) {
			if (guid_parse(guid, d.guid) < 0) {
				api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
					 "field 'guid' is not an SMBIOS GUID");
				goto done;
			}
			d.has_guid = true;
		}
		rc = store_device_update(s->store, &d);
		if (rc < 0) {
			rc = api_store_fail(s, rc, e, "update a device");
			goto done;
		}
		log_info(MOD, "device '%s' updated", d.name);
		*out = device_json(&d);
		rc = MHD_HTTP_OK;
	done:
		json_decref(o);
		return rc;
	default:
		return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				"%s is not allowed here", r->method_name);
	}
}

enum MHD_Result http_api_device_one(struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r, const char *url)
{
	return api_run_split(device_one, wake_finish, s, c, r);
}

static int image_one(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		     json_t **out, struct api_err *e)
{
	char name[HTTP_NAME_MAX + 1];
	const char *rest;
	struct store_image im;
	int rc;

	if (url_name(r->url_full, "/api/v1/images/", name, &rest, e) < 0)
		return -1;
	if (*rest)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	rc = store_image_by_name(s->store, name, &im);
	if (rc == -ENOENT)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "image '%s' does not exist", name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "look up an image");
	if (r->method == HTTP_GET) {
		*out = image_json(&im);
		return MHD_HTTP_OK;
	}
	rc = store_image_delete(s->store, name);
	if (rc == -EBUSY)
		return api_fail(e, MHD_HTTP_CONFLICT, "in_use",
				"image '%s' is used by a deployment; remove that first", name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "delete an image");
	log_info(MOD, "image '%s' deleted", name);
	*out = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
	return MHD_HTTP_OK;
}

enum MHD_Result http_api_image_one(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url)
{
	return api_run(image_one, s, c, r);
}

/* A deployment with its installer reports: counts like ConfigMgr's
 * deployment status, and per device the last state. */
struct report_devices {
	json_t *devs;
};

static int report_device_json(void *ctx, const struct store_report *b)
{
	struct report_devices *rd = ctx;
	json_array_append_new(rd->devs,
			      json_pack("{s:o, s:o, s:s, s:o, s:o, s:o}", "device",
					str_json(b->device_name), "mac", mac_json(b->mac), "state",
					http_report_state_name((enum http_report_state)b->state),
					"message", str_json(b->message), "handed_out",
					time_json(b->handed_out_ms), "updated",
					time_json(b->updated_ms)));
	return 0;
}

static json_t *deployment_status_json(struct http_server *s, const struct store_deployment *d,
				      struct api_err *e)
{
	struct report_devices rd = { .devs = json_array() };
	struct store_report_counts n;
	json_t *o;
	int rc;

	rc = store_report_counts(s->store, d->id, &n);
	if (rc >= 0)
		rc = store_report_list(s->store, d->id, report_device_json, &rd);
	if (rc < 0) {
		json_decref(rd.devs);
		api_store_fail(s, rc, e, "read the deployment's reports");
		return NULL;
	}
	o = deployment_json(d);
	/* handed_out counts every device the deployment went to; the others
	 * are devices by their last reported state. */
	json_object_set_new(o, "status",
			    json_pack("{s:I, s:I, s:I, s:I}", "handed_out", (json_int_t)n.handed_out,
				      "started", (json_int_t)n.started, "succeeded",
				      (json_int_t)n.succeeded, "failed", (json_int_t)n.failed));
	json_object_set_new(o, "devices", rd.devs);
	return o;
}

static int deployment_one(struct http_server *s, struct MHD_Connection *c,
			  struct http_request *r, json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "enabled", NULL };
	char name[HTTP_NAME_MAX + 1];
	const char *rest;
	struct store_deployment d;
	json_t *o, *en;
	int rc;

	if (url_name(r->url_full, "/api/v1/deployments/", name, &rest, e) < 0)
		return -1;
	if (*rest)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	rc = store_deployment_by_name(s->store, name, &d);
	if (rc == -ENOENT)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "deployment '%s' does not exist",
				name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "look up a deployment");
	switch (r->method) {
	case HTTP_GET:
		*out = deployment_status_json(s, &d, e);
		return *out ? MHD_HTTP_OK : -1;
	case HTTP_DELETE:
		rc = store_deployment_delete(s->store, name);
		if (rc < 0)
			return api_store_fail(s, rc, e, "delete a deployment");
		log_info(MOD, "deployment '%s' deleted", name);
		*out = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
		return MHD_HTTP_OK;
	default: /* PATCH {"enabled": bool} */
		o = body_object(r, keys, e);
		if (!o)
			return -1;
		en = json_object_get(o, "enabled");
		if (!json_is_boolean(en)) {
			json_decref(o);
			return api_fail(e, MHD_HTTP_BAD_REQUEST, en ? "invalid_field" : "missing_field",
					"field 'enabled' must be true or false");
		}
		rc = store_deployment_set_enabled(s->store, name, json_is_true(en));
		json_decref(o);
		if (rc < 0)
			return api_store_fail(s, rc, e, "change a deployment");
		d.enabled = json_is_true(en);
		log_info(MOD, "deployment '%s' %s", name, d.enabled ? "enabled" : "disabled");
		*out = deployment_json(&d);
		return MHD_HTTP_OK;
	}
}

enum MHD_Result http_api_deployment_one(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url)
{
	return api_run(deployment_one, s, c, r);
}

/* ---- POST /api/v1/devices/import ---------------------------------------- */

#define IMPORT_MAX_ERRORS 100 /* reported; counting goes on */
#define IMPORT_LINE_MAX 1024  /* longer is a bad line (a valid one is < 200) */

static int bad_line(json_t *lines, unsigned *nbad, unsigned lineno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad_line(json_t *lines, unsigned *nbad, unsigned lineno, const char *fmt, ...)
{
	char msg[200], full[240];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (++*nbad <= IMPORT_MAX_ERRORS) {
		snprintf(full, sizeof(full), "line %u: %s", lineno, msg);
		json_array_append_new(lines, json_string(full));
	}
	return 0;
}

static unsigned line_of(json_t *v)
{
	return (unsigned)strtoul(json_string_value(v) + 5, NULL, 10); /* "line N: ..." */
}

static int line_cmp(const void *a, const void *b)
{
	unsigned x = line_of(*(json_t *const *)a), y = line_of(*(json_t *const *)b);
	return x < y ? -1 : x > y;
}

/* File order: the database checks come after the per-line ones. */
static void lines_sort(json_t *lines)
{
	size_t n = json_array_size(lines);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(lines, i));
	qsort(v, n, sizeof(*v), line_cmp);
	json_array_clear(lines);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(lines, v[i]);
	free(v);
}

/* The import as it arrives: the line being read, the good rows so far,
 * and three hash sets over them (name, MAC, GUID) so that a line is
 * checked against every earlier one in constant time. */
struct import_stream {
	char line[IMPORT_LINE_MAX + 1];
	size_t line_len;
	bool line_long;            /* the current line passed IMPORT_LINE_MAX */
	unsigned lineno;
	size_t bytes;
	struct http_csv_device *rows;
	unsigned *row_line;
	size_t nrows, cap;
	uint32_t *h_name, *h_mac, *h_guid; /* row index + 1; 0 = empty */
	size_t hcap;               /* a power of two, > 2 * nrows */
	json_t *lines;             /* "line N: why", the first IMPORT_MAX_ERRORS */
	unsigned nbad;
	bool failed;               /* out of memory or over the caps */
};

static void import_stream_free(void *p)
{
	struct import_stream *st = p;
	if (!st)
		return;
	free(st->rows);
	free(st->row_line);
	free(st->h_name);
	free(st->h_mac);
	free(st->h_guid);
	json_decref(st->lines);
	free(st);
}

static uint64_t fnv(const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ULL;
	return h;
}

enum import_key { KEY_NAME, KEY_MAC, KEY_GUID };

static uint64_t row_hash(const struct http_csv_device *r, enum import_key k)
{
	return k == KEY_NAME ? fnv(r->name, strlen(r->name))
	       : k == KEY_MAC ? fnv(r->mac, MAC_LEN) : fnv(r->guid, GUID_LEN);
}

static bool row_same(const struct http_csv_device *a, const struct http_csv_device *b,
		     enum import_key k)
{
	return k == KEY_NAME ? !strcmp(a->name, b->name)
	       : k == KEY_MAC ? !memcmp(a->mac, b->mac, MAC_LEN) : !memcmp(a->guid, b->guid, GUID_LEN);
}

static uint32_t *import_table(struct import_stream *st, enum import_key k)
{
	return k == KEY_NAME ? st->h_name : k == KEY_MAC ? st->h_mac : st->h_guid;
}

/* The earlier row with the same key as r, or NULL. */
static const struct http_csv_device *import_find(struct import_stream *st,
						 const struct http_csv_device *r, enum import_key k,
						 size_t *at)
{
	uint32_t *t = import_table(st, k);
	for (size_t i = row_hash(r, k) & (st->hcap - 1);; i = (i + 1) & (st->hcap - 1)) {
		if (!t[i])
			return NULL;
		if (row_same(&st->rows[t[i] - 1], r, k)) {
			*at = t[i] - 1;
			return &st->rows[t[i] - 1];
		}
	}
}

static void import_insert(struct import_stream *st, size_t row, enum import_key k)
{
	uint32_t *t = import_table(st, k);
	size_t i = row_hash(&st->rows[row], k) & (st->hcap - 1);
	while (t[i])
		i = (i + 1) & (st->hcap - 1);
	t[i] = (uint32_t)row + 1;
}

static int import_grow(struct import_stream *st)
{
	size_t cap = st->cap ? st->cap * 2 : 1024, hcap = cap * 4;
	struct http_csv_device *rows = realloc(st->rows, cap * sizeof(*rows));
	unsigned *rl;
	if (!rows)
		return -ENOMEM;
	st->rows = rows;
	rl = realloc(st->row_line, cap * sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	st->row_line = rl;
	st->cap = cap;
	/* rehash into tables twice the rows' room: probes stay short */
	free(st->h_name);
	free(st->h_mac);
	free(st->h_guid);
	st->h_name = calloc(hcap, sizeof(uint32_t));
	st->h_mac = calloc(hcap, sizeof(uint32_t));
	st->h_guid = calloc(hcap, sizeof(uint32_t));
	if (!st->h_name || !st->h_mac || !st->h_guid)
		return -ENOMEM;
	st->hcap = hcap;
	for (size_t i = 0; i < st->nrows; i++) {
		import_insert(st, i, KEY_NAME);
		import_insert(st, i, KEY_MAC);
		if (st->rows[i].has_guid)
			import_insert(st, i, KEY_GUID);
	}
	return 0;
}

/* One whole line: on its own, and against the lines before it. */
static int import_line(struct import_stream *st, const char *p, size_t len, bool too_long)
{
	struct http_csv_device row;
	const struct http_csv_device *o;
	char why[160];
	size_t at;
	int pr;

	st->lineno++;
	if (too_long) {
		bad_line(st->lines, &st->nbad, st->lineno, "longer than %d bytes", IMPORT_LINE_MAX);
		return 0;
	}
	pr = http_csv_device_parse(p, len, &row, why, sizeof(why));
	/* an optional header line */
	if (st->lineno == 1 && pr < 0 && len >= 8 && !strncasecmp(p, "name,mac", 8))
		return 0;
	if (pr == 1)
		return 0;
	if (pr < 0)
		return bad_line(st->lines, &st->nbad, st->lineno, "%s", why);
	if (st->nrows == HTTP_IMPORT_MAX_DEVICES)
		return -EFBIG;
	if (st->nrows == st->cap && import_grow(st) < 0)
		return -ENOMEM;
	if ((o = import_find(st, &row, KEY_NAME, &at)))
		return bad_line(st->lines, &st->nbad, st->lineno, "name '%s' is also on line %u",
				row.name, st->row_line[at]);
	if ((o = import_find(st, &row, KEY_MAC, &at)))
		return bad_line(st->lines, &st->nbad, st->lineno, "mac is also on line %u",
				st->row_line[at]);
	if (row.has_guid && (o = import_find(st, &row, KEY_GUID, &at)))
		return bad_line(st->lines, &st->nbad, st->lineno, "guid is also on line %u",
				st->row_line[at]);
	st->row_line[st->nrows] = st->lineno;
	st->rows[st->nrows] = row;
	import_insert(st, st->nrows, KEY_NAME);
	import_insert(st, st->nrows, KEY_MAC);
	if (row.has_guid)
		import_insert(st, st->nrows, KEY_GUID);
	st->nrows++;
	return 0;
}

int http_api_import_chunk(struct http_request *r, const char *data, size_t n)
{
	struct import_stream *st = r->stream;
	int rc;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st || !(st->lines = json_array())) {
			free(st);
			return -ENOMEM;
		}
		r->stream = st;
		r->stream_free = import_stream_free;
	}
	if (st->failed)
		return -EFBIG;
	st->bytes += n;
	if (st->bytes > HTTP_IMPORT_MAX_BODY) {
		st->failed = true;
		return -EFBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if (data[i] != '\n') {
			if (st->line_len < IMPORT_LINE_MAX)
				st->line[st->line_len++] = data[i];
			else
				st->line_long = true;
			continue;
		}
		rc = import_line(st, st->line, st->line_len, st->line_long);
		st->line_len = 0;
		st->line_long = false;
		if (rc < 0) {
			st->failed = true;
			return rc;
		}
	}
	return 0;
}

static int devices_import(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			  json_t **out, struct api_err *e)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	struct import_stream *st = r->stream;
	unsigned nbad;
	json_t *lines;
	int rc;

	if (ct && strncasecmp(ct, "text/csv", 8) && strncasecmp(ct, "text/plain", 10) &&
	    strncasecmp(ct, "application/octet-stream", 24))
		return api_fail(e, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
				"send the file as text/csv: one name,mac[,guid] per line");
	if (!st || !st->bytes)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_csv", "the file is empty");
	/* the last line, without its newline */
	if (st->line_len || st->line_long) {
		rc = import_line(st, st->line, st->line_len, st->line_long);
		st->line_len = 0;
		st->line_long = false;
		if (rc < 0)
			return api_fail(e, rc == -EFBIG ? MHD_HTTP_CONTENT_TOO_LARGE
							: MHD_HTTP_INTERNAL_SERVER_ERROR,
					rc == -EFBIG ? "too_large" : "internal",
					rc == -EFBIG ? "more than %d devices in one import"
						     : "out of memory (%d)",
					HTTP_IMPORT_MAX_DEVICES);
	}
	lines = st->lines;
	nbad = st->nbad;
	/* Against the database, and in: one transaction for the whole file,
	 * so that it is all or nothing and 100,000 rows cost one commit. */
	rc = store_bulk_begin(s->store);
	if (rc < 0)
		return api_store_fail(s, rc, e, "import devices");
	for (size_t i = 0; i < st->nrows; i++) {
		const struct http_csv_device *row = &st->rows[i];
		struct store_device d;
		char m[MAC_STR_LEN];
		if (store_device_by_name(s->store, row->name, &d) == 0)
			bad_line(lines, &nbad, st->row_line[i], "device '%s' already exists", row->name);
		else if (store_device_by_mac(s->store, row->mac, &d) == 0)
			bad_line(lines, &nbad, st->row_line[i], "mac %s already belongs to device '%s'",
				 (mac_format(row->mac, m), m), d.name);
		else if (row->has_guid && store_device_by_guid(s->store, row->guid, &d) == 0)
			bad_line(lines, &nbad, st->row_line[i], "guid already belongs to device '%s'",
				 d.name);
		else if (!nbad) {
			struct store_device nd = { .arch = -1 };
			str_copy(nd.name, sizeof(nd.name), row->name);
			memcpy(nd.mac, row->mac, MAC_LEN);
			nd.has_guid = row->has_guid;
			memcpy(nd.guid, row->guid, GUID_LEN);
			rc = store_device_add(s->store, &nd);
			if (rc < 0) {
				const char *msg = store_last_error(s->store);
				bad_line(lines, &nbad, st->row_line[i], "%s",
					 msg && *msg ? msg : strerror(-rc));
				store_bulk_end(s->store, false);
				rc = api_fail(e, rc == -EEXIST ? MHD_HTTP_CONFLICT
						 : rc == -ENOSPC ? MHD_HTTP_INSUFFICIENT_STORAGE
								 : MHD_HTTP_INTERNAL_SERVER_ERROR,
					      rc == -EEXIST ? "exists"
					      : rc == -ENOSPC ? "insufficient_storage" : "store_error",
					      "line %u could not be added; nothing was imported",
					      st->row_line[i]);
				e->extra = json_pack("{s:O}", "lines", lines);
				return rc;
			}
		}
	}
	if (nbad) {
		store_bulk_end(s->store, false);
		lines_sort(lines);
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_csv",
			 "%u bad line(s); nothing was imported", nbad);
		e->extra = json_pack("{s:O}", "lines", lines);
		return -1;
	}
	if (!st->nrows) {
		store_bulk_end(s->store, false);
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_csv", "no devices in the file");
	}
	rc = store_bulk_end(s->store, true);
	if (rc < 0)
		return api_store_fail(s, rc, e, "import devices");
	log_info(MOD, "%zu device(s) imported", st->nrows);
	*out = json_pack("{s:I}", "imported", (json_int_t)st->nrows);
	return MHD_HTTP_CREATED;
}

enum MHD_Result http_api_devices_import(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url)
{
	return api_run(devices_import, s, c, r);
}

/* ---- POST /api/v1/report -------------------------------------------------- */

/* ?token=T&state=S&message=M, or the token in the query and
 * {"state": S, "message": M} as the body (wget --post-data, curl -d). */
static int report_post(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "token", "state", "message", NULL };
	const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	const char *state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
	const char *msg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "message");
	struct api_call *a = r->state;
	enum http_report_state st;
	struct store_report b;
	json_t *o = NULL;
	char mac[MAC_STR_LEN], esc[HTTP_REPORT_MSG_MAX * 4 + 1];
	int rc = -1;

	a->u.report.state = -1;
	if (r->body_len) {
		const char *bt = NULL, *bs = NULL, *bm = NULL;
		o = body_object(r, keys, e);
		if (!o)
			return -1;
		if (field_str(o, "token", false, &bt, e) < 0 || field_str(o, "state", false, &bs, e) < 0 ||
		    field_str(o, "message", false, &bm, e) < 0)
			goto done;
		token = bt ? bt : token;
		state = bs ? bs : state;
		msg = bm ? bm : msg;
	}
	if (!token) {
		api_fail(e, MHD_HTTP_UNAUTHORIZED, "unauthorized", "a report needs its boot's token");
		goto done;
	}
	if (!state || http_report_state_parse(state, &st) < 0) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, state ? "invalid_field" : "missing_field",
			 "field 'state' must be started, succeeded or failed");
		goto done;
	}
	if (msg && strlen(msg) > HTTP_REPORT_MSG_MAX) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'message' is longer than %d bytes", HTTP_REPORT_MSG_MAX);
		goto done;
	}
	rc = http_report_find(s->store, token, &b);
	if (rc == -ENOENT) {
		a->u.report.bad_token = true;
		api_fail(e, MHD_HTTP_UNAUTHORIZED, "unauthorized",
			 "no deployment boot has this token (a newer boot replaced it)");
		rc = -1;
		goto done;
	}
	if (rc < 0) {
		api_store_fail(s, rc, e, "look up a report token");
		rc = -1;
		goto done;
	}
	log_escape(esc, sizeof(esc), msg ? msg : "", msg ? strlen(msg) : 0);
	rc = store_report_update(s->store, b.id, (enum store_report_state)st, esc,
				 (int64_t)time(NULL) * 1000);
	if (rc < 0) {
		if (rc == -ENOENT)
			api_fail(e, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				 "no deployment boot has this token (a newer boot replaced it)");
		else
			api_store_fail(s, rc, e, "record a report");
		rc = -1;
		goto done;
	}
	a->u.report.state = (int)st;
	mac_format(b.mac, mac);
	log_info(MOD, "%s: device '%s' deployment '%s' reports %s%s%s", mac, b.device_name,
		 b.deployment_name, http_report_state_name(st), *esc ? ": " : "", esc);
	*out = json_pack("{s:s, s:s, s:s}", "device", b.device_name, "deployment", b.deployment_name,
			 "state", http_report_state_name(st));
	rc = MHD_HTTP_OK;
done:
	json_decref(o);
	return rc;
}

/* On the loop: the counters are its. */
static void report_count(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			 struct api_call *a)
{
	if (a->u.report.bad_token)
		s->counters.auth_failures++;
	if (a->u.report.state >= 0 && (unsigned)a->u.report.state < ARRAY_SIZE(s->counters.reports))
		s->counters.reports[a->u.report.state]++;
}

enum MHD_Result http_api_report(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	return api_run_split(report_post, report_count, s, c, r);
}

/* ---- /api/v1/collections ------------------------------------------------- */

static json_t *collection_json(const struct store_collection *col)
{
	return json_pack("{s:I, s:o, s:I, s:o}", "id", (json_int_t)col->id, "name",
			 str_json(col->name), "members", (json_int_t)col->members, "created",
			 time_json(col->created * 1000));
}

static int add_collection(void *ctx, const struct store_collection *col)
{
	return json_array_append_new(ctx, collection_json(col)) < 0 ? -ENOMEM : 0;
}

static int collections_list(struct http_server *s, struct MHD_Connection *c,
			    struct http_request *r, json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_collection_list(s->store, add_collection, *out);
	return rc < 0 ? api_store_fail(s, rc, e, "list collections") : MHD_HTTP_OK;
}

static int collections_add(struct http_server *s, struct MHD_Connection *c,
			   struct http_request *r, json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", NULL };
	struct store_collection col = { 0 };
	const char *name;
	json_t *o = body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (field_name(o, "name", true, &name, e) < 0)
		goto done;
	str_copy(col.name, sizeof(col.name), name);
	rc = store_collection_add(s->store, &col);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a collection");
		goto done;
	}
	log_info(MOD, "collection '%s' added", col.name);
	*out = collection_json(&col);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

enum MHD_Result http_api_collections(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url)
{
	if (r->method == HTTP_POST)
		return api_run(collections_add, s, c, r);
	return api_run_list(collections_list, s, c, r);
}

static int collection_lookup(struct http_server *s, const char *name, struct store_collection *col,
			     struct api_err *e)
{
	int rc = store_collection_by_name(s->store, name, col);
	if (rc == -ENOENT)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "collection '%s' does not exist",
				name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "look up a collection");
	return 0;
}

static int collection_members_add(struct http_server *s, struct http_request *r,
				  const struct store_collection *col, json_t **out,
				  struct api_err *e)
{
	static const char *const keys[] = { "device", NULL };
	struct store_device d;
	const char *device;
	json_t *o = body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (field_name(o, "device", true, &device, e) < 0 || device_lookup(s, device, &d, e) < 0)
		goto done;
	rc = store_collection_add_device(s->store, col->name, d.name);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a device to a collection");
		goto done;
	}
	if (rc == 0) {
		rc = api_fail(e, MHD_HTTP_CONFLICT, "exists",
			      "device '%s' is already in collection '%s'", d.name, col->name);
		goto done;
	}
	log_info(MOD, "collection '%s': device '%s' added", col->name, d.name);
	*out = json_pack("{s:s, s:s}", "collection", col->name, "device", d.name);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

/* POST /api/v1/collections/NAME/wake: every member (each has a MAC). */
static int collection_wake(struct http_server *s, struct http_request *r,
			   const struct store_collection *col, json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	char what[96];
	int n;

	snprintf(what, sizeof(what), "collection '%s'", col->name);
	if (wake_prepare(s, a, what, col->members, e) < 0 ||
	    (n = wake_fill(s, a, NULL, col->name, what, e)) < 0)
		return -1;
	*out = json_pack("{s:s, s:i, s:s, s:i}", "collection", col->name, "devices", n,
			 "interfaces", wol_batch_ifaces(a->wake), "packets", WOL_REPEAT);
	return MHD_HTTP_OK;
}

static int collection_one(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			  json_t **out, struct api_err *e)
{
	char name[HTTP_NAME_MAX + 1], dev[HTTP_NAME_MAX + 1];
	const char *rest, *sub;
	struct store_collection col;
	struct store_device d;
	json_t *members;
	int rc;

	if (url_name(r->url_full, "/api/v1/collections/", name, &rest, e) < 0)
		return -1;
	/* NAME, NAME/clear, NAME/devices, NAME/devices/DEVICE, NAME/wake */
	if (!*rest) {
		if (r->method == HTTP_POST)
			return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
					"POST is not allowed here; use GET, DELETE");
	} else if (!strcmp(rest, "clear") || !strcmp(rest, "devices") || !strcmp(rest, "wake")) {
		if (r->method != HTTP_POST)
			return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
					"%s is not allowed here; use POST", r->method_name);
	} else if (!strncmp(rest, "devices/", 8)) {
		if (url_name(r->url_full + (rest - r->url_full), "devices/", dev, &sub, e) < 0)
			return -1;
		if (*sub)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
		if (r->method != HTTP_DELETE)
			return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
					"%s is not allowed here; use DELETE", r->method_name);
	} else {
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	}
	if (collection_lookup(s, name, &col, e) < 0)
		return -1;

	if (!strcmp(rest, "devices"))
		return collection_members_add(s, r, &col, out, e);
	if (!strcmp(rest, "wake"))
		return collection_wake(s, r, &col, out, e);
	if (!strncmp(rest, "devices/", 8)) {
		if (device_lookup(s, dev, &d, e) < 0)
			return -1;
		rc = store_collection_remove_device(s->store, col.name, d.name);
		if (rc < 0)
			return api_store_fail(s, rc, e, "remove a device from a collection");
		log_info(MOD, "collection '%s': device '%s' removed", col.name, d.name);
		*out = json_pack("{s:s, s:s, s:b}", "collection", col.name, "device", d.name,
				 "removed", 1);
		return MHD_HTTP_OK;
	}
	if (!strcmp(rest, "clear")) {
		/* ConfigMgr's "Clear Required PXE Deployments" on a collection */
		rc = store_handout_clear_collection(s->store, col.name);
		if (rc < 0)
			return api_store_fail(s, rc, e, "clear a collection");
		log_info(MOD, "collection '%s': %d required deployment hand-out(s) cleared", col.name,
			 rc);
		*out = json_pack("{s:s, s:i}", "name", col.name, "cleared", rc);
		return MHD_HTTP_OK;
	}
	if (r->method == HTTP_DELETE) {
		rc = store_collection_delete(s->store, col.name);
		if (rc == -EBUSY)
			return api_fail(e, MHD_HTTP_CONFLICT, "in_use",
					"collection '%s' is the target of a deployment; remove that "
					"first", col.name);
		if (rc < 0)
			return api_store_fail(s, rc, e, "delete a collection");
		log_info(MOD, "collection '%s' deleted", col.name);
		*out = json_pack("{s:s, s:b}", "name", col.name, "deleted", 1);
		return MHD_HTTP_OK;
	}
	*out = collection_json(&col);
	members = json_array();
	rc = store_collection_members(s->store, col.name, add_device, members);
	if (rc < 0) {
		json_decref(members);
		return api_store_fail(s, rc, e, "list a collection's members");
	}
	json_object_set_new(*out, "devices", members);
	return MHD_HTTP_OK;
}

enum MHD_Result http_api_collection_one(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url)
{
	return api_run_split(collection_one, wake_finish, s, c, r);
}

/* ---- /api/v1/cache ------------------------------------------------------- */

static int add_cache_entry(void *ctx, const struct decider_cache_entry *ce)
{
	json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:o, s:I, s:I, s:I, s:b}", "mac",
			      mac_json(ce->mac), "guid", guid_json(ce->has_guid, ce->guid), "arch",
			      ce->has_arch ? json_string(vocab_arch_name(ce->arch_class))
					   : json_null(),
			      "outcome", decision_outcome_name(ce->outcome), "reason",
			      str_json(ce->reason), "age_s", (json_int_t)(ce->age_ms / 1000),
			      "device_id", (json_int_t)ce->device_id, "deployment_id",
			      (json_int_t)ce->deployment_id, "valid", ce->valid);
	return json_array_append_new(ctx, o) < 0 ? -ENOMEM : 0;
}

static int cache_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = decider_cache_list(s->dec, add_cache_entry, *out);
	if (rc < 0)
		return api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				"cannot list the decision cache: %s", strerror(-rc));
	return MHD_HTTP_OK;
}

enum MHD_Result http_api_cache(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url)
{
	return api_run_list(cache_list, s, c, r);
}

static int cache_flush(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	int n = decider_cache_flush(s->dec);
	log_info(MOD, "decision cache flushed by API: %d entr%s dropped", n, n == 1 ? "y" : "ies");
	*out = json_pack("{s:i}", "flushed", n);
	return MHD_HTTP_OK;
}

enum MHD_Result http_api_cache_flush(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url)
{
	return api_run(cache_flush, s, c, r);
}

/* ---- /api/v1/settings ---------------------------------------------------- */

static void add_setting(void *ctx, const struct conf_setting *st, const char *value)
{
	char key[96];
	snprintf(key, sizeof(key), "%s.%s", st->section, st->name);
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:o, s:b, s:b}", "key", key, "section",
					     st->section, "name", st->name, "value",
					     str_json(value), "restart", st->restart, "secret",
					     st->secret));
}

static int settings_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			json_t **out, struct api_err *e)
{
	*out = json_array();
	conf_settings_foreach(s->conf, add_setting, *out);
	return MHD_HTTP_OK;
}

/* A JSON value as the text a line of the file would hold. */
static int setting_text(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
		return snprintf(buf, len, "%s", json_string_value(v)) < (int)len ? 0 : -1;
	if (json_is_integer(v))
		return snprintf(buf, len, "%lld", (long long)json_integer_value(v)), 0;
	if (json_is_boolean(v))
		return snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no"), 0;
	return -1;
}

/* PUT/PATCH {"KEY": "VALUE", ...}: all or nothing, each value checked by
 * the config file's own code (conf_set_value()).  Changes live in memory
 * only: SIGHUP reads the file again and so undoes them (docs/pxed.8.md). */
static int settings_set(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			json_t **out, struct api_err *e)
{
	json_error_t jerr;
	json_t *o = NULL, *v, *changed = NULL;
	struct pxed_conf *next = NULL;
	const char *key;
	char err[CONF_ERR_LEN], text[1024], old[1024], now[1024];
	int rc = -1;

	if (!s->conf_rw)
		return api_fail(e, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				"settings cannot be changed on this server");
	if (!r->body_len)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json", "request body is empty");
	o = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json",
				"bad JSON at line %d column %d: %s", jerr.line, jerr.column,
				jerr.text);
	if (!json_is_object(o) || json_object_size(o) == 0) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json",
			 "request body must be a JSON object of one or more \"Setting\": \"value\"");
		goto done;
	}
	/* Every key first: an unknown or restart-only one refuses the lot. */
	json_object_foreach(o, key, v) {
		struct conf_setting st;
		char esc[80];
		log_escape(esc, sizeof(esc), key, strlen(key));
		if (conf_setting_find(key, &st, err, sizeof(err)) < 0) {
			log_escape(esc, sizeof(esc), err, strlen(err));
			api_fail(e, MHD_HTTP_BAD_REQUEST, "unknown_field", "%s", esc);
			goto done;
		}
		if (st.restart) {
			api_fail(e, MHD_HTTP_CONFLICT, "needs_restart",
				 "%s needs a restart: change it in the configuration file and "
				 "restart pxed", st.label);
			goto done;
		}
		if (setting_text(v, text, sizeof(text)) < 0) {
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				 "%s: the value must be a string, a number or true/false", st.name);
			goto done;
		}
	}
	next = malloc(sizeof(*next));
	changed = json_array();
	if (!next || !changed) {
		api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
		goto done;
	}
	memcpy(next, s->conf_rw, sizeof(*next));
	json_object_foreach(o, key, v) {
		setting_text(v, text, sizeof(text));
		if (conf_set_value(next, key, text, err, sizeof(err)) < 0) {
			char esc[CONF_ERR_LEN];
			log_escape(esc, sizeof(esc), err, strlen(err));
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", esc);
			goto done;
		}
	}
	/* Every value passed: log each change, then swap the settings in. */
	json_object_foreach(o, key, v) {
		struct conf_setting st;
		conf_setting_find(key, &st, err, sizeof(err));
		conf_get_value(s->conf_rw, key, old, sizeof(old));
		conf_get_value(next, key, now, sizeof(now));
		if (st.secret) {
			/* the hash changes even for the same password: always a change */
			log_info("conf", "settings: %s changed by API (now %s)", st.name, now);
		} else if (strcmp(old, now) != 0) {
			log_info("conf", "settings: %s changed from %s to %s by API", st.name, old, now);
		} else {
			log_info("conf", "settings: %s set to %s by API (unchanged)", st.name, now);
		}
		json_array_append_new(changed, json_pack("{s:s, s:o, s:o}", "name", st.name, "old",
							 str_json(old), "value", str_json(now)));
	}
	memcpy(s->conf_rw, next, sizeof(*next));
	if (s->settings_applied)
		s->settings_applied(s->settings_ctx, "settings changed by API");
	*out = json_pack("{s:O}", "changed", changed);
	rc = MHD_HTTP_OK;
done:
	if (next) {
		explicit_bzero(next, sizeof(*next));
		free(next);
	}
	/* the body may hold a PXEPassword */
	if (r->body)
		explicit_bzero(r->body, r->body_len);
	json_decref(changed);
	json_decref(o);
	return rc;
}

enum MHD_Result http_api_settings(struct http_server *s, struct MHD_Connection *c,
				  struct http_request *r, const char *url)
{
	if (r->method == HTTP_GET)
		return api_run_here(settings_get, s, c, r);
	return api_run_exclusive(settings_set, s, c, r);
}

/* ---- /api/v1/events/summary ---------------------------------------------- */

/* Decisions per outcome since ?since= (default: the last hour), counted
 * in SQL over the time index: the Live page's figures. */
static int events_summary(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			  json_t **out, struct api_err *e)
{
	const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	struct store_event_counts n;
	int64_t since_ms = (int64_t)time(NULL) * 1000 - 3600 * 1000;
	int rc;

	if (since && since_parse(since, &since_ms) < 0)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'since' must be unix milliseconds or a UTC time like "
				"2026-11-26T14:00:00Z");
	decider_events_flush(s->dec);
	rc = store_event_count(s->store, since_ms, &n);
	if (rc < 0)
		return api_store_fail(s, rc, e, "count events");
	*out = json_pack("{s:I, s:I, s:I, s:I, s:I}", "since_ms", (json_int_t)since_ms, "boot",
			 (json_int_t)n.boot, "local", (json_int_t)n.local, "ignore",
			 (json_int_t)n.ignore, "total", (json_int_t)(n.boot + n.local + n.ignore));
	return MHD_HTTP_OK;
}

enum MHD_Result http_api_events_summary(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url)
{
	return api_run(events_summary, s, c, r);
}

/* ---- variables: /api/v1/vars/LEVEL[/NAME][/KEY] --------------------------
 * GET lists an owner's variables (or one with KEY), PUT KEY sets one from
 * {"value": "..."}, DELETE KEY removes one.  LEVEL is global (no NAME),
 * device, collection, image or deployment. */

struct vars_path {
	enum store_var_level level;
	char owner[HTTP_NAME_MAX + 1]; /* "" for global */
	char key[STORE_VAR_KEY_MAX + 1]; /* "" = none */
};

/* Split the URL; 404 for anything that is not a level, a valid name and
 * a valid key. */
static int vars_path_parse(const char *url, struct vars_path *p, struct api_err *e)
{
	const char *seg[4];
	size_t len[4], n = 0;
	const char *q = url + strlen("/api/v1/vars/");
	char level[16];

	memset(p, 0, sizeof(*p));
	while (*q && n < 4) {
		const char *slash = strchr(q, '/');
		seg[n] = q;
		len[n] = slash ? (size_t)(slash - q) : strlen(q);
		n++;
		if (!slash)
			break;
		q = slash + 1;
		if (!*q)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	}
	if (n == 0 || (*q && n == 4))
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	if (len[0] >= sizeof(level))
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such variable level");
	memcpy(level, seg[0], len[0]);
	level[len[0]] = '\0';
	if (store_var_level_parse(level, &p->level) < 0)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
				"variable level is one of global, device, collection, image, "
				"deployment");
	size_t k = 1;
	if (p->level != STORE_VAR_GLOBAL) {
		if (n < 2 || len[1] == 0 || len[1] > HTTP_NAME_MAX)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "%s variables need a name",
					level);
		memcpy(p->owner, seg[1], len[1]);
		p->owner[len[1]] = '\0';
		if (!vocab_name_valid(p->owner))
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					"a name is 1 to %d characters of A-Z a-z 0-9 . _ -",
					HTTP_NAME_MAX);
		k = 2;
	}
	if (n > k + 1)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	if (n == k + 1) {
		if (!template_name_valid(seg[k], len[k]))
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					"a variable name is 1 to %d characters of A-Z a-z 0-9 _, "
					"not starting with a digit", STORE_VAR_KEY_MAX);
		memcpy(p->key, seg[k], len[k]);
		p->key[len[k]] = '\0';
	}
	return 0;
}

struct vars_list_ctx {
	json_t *obj;
	const char *only; /* one key, or NULL */
	bool found;
};

static int vars_add(void *ctx, const struct store_var *v)
{
	struct vars_list_ctx *l = ctx;
	if (l->only && strcmp(l->only, v->key))
		return 0;
	l->found = true;
	json_object_set_new(l->obj, v->key, json_string(v->value));
	return 0;
}

static int vars_one(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		    json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "value", NULL };
	struct vars_path p;
	struct vars_list_ctx l = { 0 };
	const char *value;
	json_t *o;
	int rc;

	if (vars_path_parse(r->url_full, &p, e) < 0)
		return -1;
	if (r->method != HTTP_GET && !p.key[0])
		return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				"%s needs a variable name at the end of the URL", r->method_name);
	switch (r->method) {
	case HTTP_GET:
		l.obj = json_object();
		l.only = p.key[0] ? p.key : NULL;
		rc = store_var_list(s->store, p.level, p.owner, vars_add, &l);
		if (rc < 0) {
			json_decref(l.obj);
			return api_store_fail(s, rc, e, "list variables");
		}
		if (l.only && !l.found) {
			json_decref(l.obj);
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no variable %s", p.key);
		}
		*out = json_pack("{s:s, s:o, s:o}", "level", store_var_level_name(p.level), "name",
				 p.owner[0] ? json_string(p.owner) : json_null(), "vars", l.obj);
		return MHD_HTTP_OK;
	case HTTP_PUT:
		o = body_object(r, keys, e);
		if (!o)
			return -1;
		if (field_str(o, "value", true, &value, e) < 0) {
			json_decref(o);
			return -1;
		}
		rc = store_var_set(s->store, p.level, p.owner, p.key, value);
		json_decref(o);
		if (rc == -ENOSPC)
			return api_fail(e, MHD_HTTP_CONFLICT, "too_many", "%s",
					store_last_error(s->store));
		if (rc < 0)
			return api_store_fail(s, rc, e, "set a variable");
		log_info(MOD, "variable %s set on %s%s%s", p.key, store_var_level_name(p.level),
			 p.owner[0] ? " " : "", p.owner);
		*out = json_pack("{s:s, s:o, s:s, s:b}", "level", store_var_level_name(p.level), "name",
				 p.owner[0] ? json_string(p.owner) : json_null(), "key", p.key, "set",
				 1);
		return MHD_HTTP_OK;
	case HTTP_DELETE:
		rc = store_var_unset(s->store, p.level, p.owner, p.key);
		if (rc < 0)
			return api_store_fail(s, rc, e, "unset a variable");
		log_info(MOD, "variable %s unset on %s%s%s", p.key, store_var_level_name(p.level),
			 p.owner[0] ? " " : "", p.owner);
		*out = json_pack("{s:s, s:o, s:s, s:b}", "level", store_var_level_name(p.level), "name",
				 p.owner[0] ? json_string(p.owner) : json_null(), "key", p.key,
				 "deleted", 1);
		return MHD_HTTP_OK;
	default:
		return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				"%s is not allowed here", r->method_name);
	}
}

enum MHD_Result http_api_vars(struct http_server *s, struct MHD_Connection *c,
			      struct http_request *r, const char *url)
{
	return api_run(vars_one, s, c, r);
}

/* The first deployment that applies to d (decision order), for the
 * variables a device shows. */
static int first_dep(void *ctx, const struct store_deployment *d)
{
	*(struct store_deployment *)ctx = *d;
	return 1;
}

/* "vars": the stored variables a boot of d would get with the first
 * deployment that applies to it now ({"key": {"value", "from"}}), and
 * "vars_deployment": that deployment (null: none; then no deployment or
 * image variables).  Built-ins are set per boot and not shown. */
static int device_vars_json(struct http_server *s, const struct store_device *d, json_t *o,
			    struct api_err *e)
{
	struct store_deployment dep = { 0 };
	struct machine_vars mv;
	json_t *vars;
	int rc, ac = d->arch >= 0 ? (int)vocab_arch_classify((uint16_t)d->arch) : -1;

	rc = store_deployments_applicable(s->store, d->id, ac, first_dep, &dep);
	if (rc < 0)
		return api_store_fail(s, rc, e, "find a device's deployments");
	rc = machine_vars_load(s->store, d->id, dep.id, dep.image_id, &mv);
	if (rc < 0)
		return api_store_fail(s, rc, e, "read a device's variables");
	vars = json_object();
	for (size_t i = 0; i < mv.n; i++)
		json_object_set_new(vars, mv.v[i].name,
				    json_pack("{s:s, s:s}", "value", mv.v[i].value, "from",
					      mv.v[i].source));
	machine_vars_free(&mv);
	json_object_set_new(o, "vars", vars);
	json_object_set_new(o, "vars_deployment", dep.id ? json_string(dep.name) : json_null());
	return 0;
}

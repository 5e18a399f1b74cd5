/* The JSON admin API under /api/v1/ (docs/pxed.8.md, ADMIN API AND ACCESS):
 * its core.  The resources' handlers are in api_*.c; api.h says what they
 * share.  A request goes:
 *
 *   1. the server finds the path's gate (http_api_gates, below): a wrong
 *      method for the whole path is 405 before any token is read; then
 *      the token (http_server.c);
 *   2. http_api_route() finds the route (api_routes, below) by the path
 *      pattern and the method: a name in the path that is not a name is
 *      404, an unknown sub-path 404, a method another route of the same
 *      path takes 405;
 *   3. the handler runs where its route says (enum api_run), usually on
 *      the worker; then, on the loop, the route's finish function, and the
 *      reply: the handler's JSON, or the error shape.
 *
 * To add a route: write the handler in its resource's file, declare it in
 * api.h, add a row to api_routes; a path outside every gate also needs a
 * gate row (docs/architecture.md, HTTP). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/vocab.h"
#include "http/api.h"

#define LIST_DEFAULT_LIMIT 1000
#define LIST_MAX_LIMIT 10000

/* ---- the tables ------------------------------------------------------------ */

/* The gates: what the server checks before the token (route_find in
 * http_server.c: first match wins, a path ending in '/' is a prefix).  A
 * path that matches with a method outside methods is 405 with allow. */
#define API_ONE (HTTP_GET | HTTP_PATCH | HTTP_DELETE)
const struct http_route http_api_gates[] = {
	{ .path = "/api/v1/devices", .methods = HTTP_GET | HTTP_POST, .allow = "GET, POST",
	  .json = true, .handler = http_api_route },
	/* Its own gate: the server streams this body into the import
	 * (http_api_import_chunk) instead of keeping it. */
	{ .path = "/api/v1/devices/import", .methods = HTTP_POST, .allow = "POST", .json = true,
	  .handler = http_api_devices_import },
	{ .path = "/api/v1/devices/", .methods = API_ONE | HTTP_POST,
	  .allow = "GET, PATCH, DELETE, POST", .json = true, .handler = http_api_route },
	{ .path = "/api/v1/images", .methods = HTTP_GET | HTTP_POST, .allow = "GET, POST",
	  .json = true, .handler = http_api_route },
	{ .path = "/api/v1/images/", .methods = HTTP_GET | HTTP_DELETE, .allow = "GET, DELETE",
	  .json = true, .handler = http_api_route },
	{ .path = "/api/v1/deployments", .methods = HTTP_GET | HTTP_POST, .allow = "GET, POST",
	  .json = true, .handler = http_api_route },
	{ .path = "/api/v1/deployments/", .methods = API_ONE, .allow = "GET, PATCH, DELETE",
	  .json = true, .handler = http_api_route },
	{ .path = "/api/v1/events", .methods = HTTP_GET, .allow = "GET", .json = true,
	  .handler = http_api_route },
	/* the live decision stream (http_stream.c) */
	{ .path = "/api/v1/events/stream", .methods = HTTP_GET, .allow = "GET", .json = true,
	  .handler = http_stream_events },
	{ .path = "/api/v1/events/summary", .methods = HTTP_GET, .allow = "GET", .json = true,
	  .handler = http_api_route },
	/* the console's sign-in (http_ui.c): POST takes a token, so no token
	 * is needed */
	{ .path = "/api/v1/session", .methods = HTTP_GET | HTTP_POST | HTTP_DELETE,
	  .allow = "GET, POST, DELETE", .json = true, .open = true, .handler = http_ui_session },
	{ .path = "/api/v1/status", .methods = HTTP_GET, .allow = "GET", .json = true,
	  .handler = http_api_route },
	{ .path = "/api/v1/collections", .methods = HTTP_GET | HTTP_POST, .allow = "GET, POST",
	  .json = true, .handler = http_api_route },
	{ .path = "/api/v1/collections/", .methods = HTTP_GET | HTTP_POST | HTTP_DELETE,
	  .allow = "GET, POST, DELETE", .json = true, .handler = http_api_route },
	{ .path = "/api/v1/cache", .methods = HTTP_GET, .allow = "GET", .json = true,
	  .handler = http_api_route },
	{ .path = "/api/v1/cache/flush", .methods = HTTP_POST, .allow = "POST", .json = true,
	  .handler = http_api_route },
	{ .path = "/api/v1/settings", .methods = HTTP_GET | HTTP_PUT | HTTP_PATCH,
	  .allow = "GET, PUT, PATCH", .json = true, .handler = http_api_route },
	{ .path = "/api/v1/vars/", .methods = HTTP_GET | HTTP_PUT | HTTP_DELETE,
	  .allow = "GET, PUT, DELETE", .json = true, .handler = http_api_route },
	/* the installer's callback: its per-boot token is its credential */
	{ .path = "/api/v1/report", .methods = HTTP_POST, .allow = "POST", .json = true,
	  .open = true, .handler = http_api_route },
};
const size_t http_api_n_gates = ARRAY_SIZE(http_api_gates);

/* The routes: one handler per method and path.  The first row whose path
 * fits and whose method is the request's wins. */
static const struct api_route api_routes[] = {
	/* devices */
	{ .method = HTTP_GET, .path = "/api/v1/devices", .handler = api_devices_list,
	  .run = API_RUN_LIST },
	{ .method = HTTP_POST, .path = "/api/v1/devices", .handler = api_devices_add },
	{ .method = HTTP_POST, .path = "/api/v1/devices/import", .handler = api_devices_import },
	{ .method = HTTP_GET, .path = "/api/v1/devices/{name}", .handler = api_device_get },
	{ .method = HTTP_PATCH, .path = "/api/v1/devices/{name}", .handler = api_device_update },
	{ .method = HTTP_DELETE, .path = "/api/v1/devices/{name}", .handler = api_device_delete },
	/* "Clear Required PXE Deployments" */
	{ .method = HTTP_POST, .path = "/api/v1/devices/{name}/clear", .handler = api_device_clear },
	{ .method = HTTP_POST, .path = "/api/v1/devices/{name}/wake", .handler = api_device_wake,
	  .finish = api_wake_finish },
	/* images */
	{ .method = HTTP_GET, .path = "/api/v1/images", .handler = api_images_list,
	  .run = API_RUN_LIST },
	{ .method = HTTP_POST, .path = "/api/v1/images", .handler = api_images_add },
	{ .method = HTTP_GET, .path = "/api/v1/images/{name}", .handler = api_image_get },
	{ .method = HTTP_DELETE, .path = "/api/v1/images/{name}", .handler = api_image_delete },
	/* deployments */
	{ .method = HTTP_GET, .path = "/api/v1/deployments", .handler = api_deployments_list,
	  .run = API_RUN_LIST },
	{ .method = HTTP_POST, .path = "/api/v1/deployments", .handler = api_deployments_add,
	  .finish = api_wake_finish },
	{ .method = HTTP_GET, .path = "/api/v1/deployments/{name}", .handler = api_deployment_get },
	{ .method = HTTP_PATCH, .path = "/api/v1/deployments/{name}",
	  .handler = api_deployment_update },
	{ .method = HTTP_DELETE, .path = "/api/v1/deployments/{name}",
	  .handler = api_deployment_delete },
	/* collections */
	{ .method = HTTP_GET, .path = "/api/v1/collections", .handler = api_collections_list,
	  .run = API_RUN_LIST },
	{ .method = HTTP_POST, .path = "/api/v1/collections", .handler = api_collections_add },
	{ .method = HTTP_GET, .path = "/api/v1/collections/{name}", .handler = api_collection_get },
	{ .method = HTTP_DELETE, .path = "/api/v1/collections/{name}",
	  .handler = api_collection_delete },
	{ .method = HTTP_POST, .path = "/api/v1/collections/{name}/clear",
	  .handler = api_collection_clear },
	{ .method = HTTP_POST, .path = "/api/v1/collections/{name}/devices",
	  .handler = api_collection_members_add },
	{ .method = HTTP_DELETE, .path = "/api/v1/collections/{name}/devices/{name}",
	  .handler = api_collection_member_remove },
	{ .method = HTTP_POST, .path = "/api/v1/collections/{name}/wake",
	  .handler = api_collection_wake, .finish = api_wake_finish },
	/* events */
	{ .method = HTTP_GET, .path = "/api/v1/events", .handler = api_events_list },
	{ .method = HTTP_GET, .path = "/api/v1/events/summary", .handler = api_events_summary },
	/* status, the decision cache, the settings */
	{ .method = HTTP_GET, .path = "/api/v1/status", .handler = api_status_count,
	  .finish = api_status_finish },
	{ .method = HTTP_GET, .path = "/api/v1/cache", .handler = api_cache_list,
	  .run = API_RUN_LIST },
	{ .method = HTTP_POST, .path = "/api/v1/cache/flush", .handler = api_cache_flush },
	{ .method = HTTP_GET, .path = "/api/v1/settings", .handler = api_settings_get,
	  .run = API_RUN_LOOP },
	{ .method = HTTP_PUT, .path = "/api/v1/settings", .handler = api_settings_set,
	  .run = API_RUN_EXCLUSIVE },
	{ .method = HTTP_PATCH, .path = "/api/v1/settings", .handler = api_settings_set,
	  .run = API_RUN_EXCLUSIVE },
	/* variables: LEVEL[/NAME][/KEY], parsed by the handlers (api_vars.c) */
	{ .method = HTTP_GET, .path = "/api/v1/vars/*", .handler = api_vars_get },
	{ .method = HTTP_PUT, .path = "/api/v1/vars/*", .handler = api_vars_set },
	{ .method = HTTP_DELETE, .path = "/api/v1/vars/*", .handler = api_vars_unset },
	/* the installer's report */
	{ .method = HTTP_POST, .path = "/api/v1/report", .handler = api_report_post,
	  .finish = api_report_count },
};

/* ---- errors ---------------------------------------------------------------- */

int api_fail(struct api_err *e, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	return -1;
}

int api_store_fail(struct http_server *s, int rc, struct api_err *e, const char *what)
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

/* ---- replies --------------------------------------------------------------- */

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

static enum MHD_Result api_reply_json(struct MHD_Connection *c, struct http_request *r,
				      unsigned status, json_t *o)
{
	return api_reply_json_hdr(c, r, status, o, NULL, NULL);
}

/* The page of a list call's full array (API_RUN_LIST).  The reply stays a
 * JSON array (what clients of the first API version parse); the total
 * before paging is in the X-Total-Count header. */
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

/* ---- running a call -------------------------------------------------------- */

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

/* Run a->fn where run says, then reply on the loop. */
static enum MHD_Result api_call_start(struct http_server *s, struct MHD_Connection *c,
				      struct http_request *r, struct api_call *a, enum api_run run)
{
	r->state = a;
	r->state_free = api_call_free;
	switch (run) {
	case API_RUN_LOOP:
		/* fn runs on the loop, so it must never call the store */
		api_call_work(s, c, r);
		return api_call_reply(s, c, r, r->url_full);
	case API_RUN_EXCLUSIVE:
		return http_defer_exclusive(s, c, r, r->url_full, api_call_work, api_call_reply);
	case API_RUN_WORKER:
	case API_RUN_LIST:
		break;
	}
	return http_defer(s, c, r, r->url_full, api_call_work, api_call_reply);
}

/* ---- routing --------------------------------------------------------------- */

enum route_fit {
	FIT_NO,                    /* another path */
	FIT_YES,
	FIT_BAD_NAME,              /* a {name} part is not a name: *e says why */
};

/* Does url fit path (struct api_route)?  The {name} parts go to names[];
 * a name that is not one is found left to right, before whatever follows
 * it is looked at. */
static enum route_fit route_fit(const char *path, const char *url,
				char names[2][HTTP_NAME_MAX + 1], struct api_err *e)
{
	unsigned nth = 0;

	while (*path) {
		if (*path == '*')
			return FIT_YES; /* the rest, for the handler */
		if (!strncmp(path, "{name}", 6) && nth < 2) {
			const char *slash = strchr(url, '/');
			size_t n = slash ? (size_t)(slash - url) : strlen(url);
			char *name = names[nth++];
			if (n == 0 || n > HTTP_NAME_MAX) {
				api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such name in the URL");
				return FIT_BAD_NAME;
			}
			memcpy(name, url, n);
			name[n] = '\0';
			if (!vocab_name_valid(name)) {
				api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					 "a name is 1 to %d characters of A-Z a-z 0-9 . _ -",
					 HTTP_NAME_MAX);
				return FIT_BAD_NAME;
			}
			url += n;
			path += 6;
			/* "NAME/" at the end of the URL is NAME */
			if (!*path && url[0] == '/' && !url[1])
				url++;
			continue;
		}
		if (*path != *url)
			return FIT_NO;
		path++;
		url++;
	}
	return *url ? FIT_NO : FIT_YES;
}

static const char *method_text(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return MHD_HTTP_METHOD_GET;
	case HTTP_HEAD: return MHD_HTTP_METHOD_HEAD;
	case HTTP_POST: return MHD_HTTP_METHOD_POST;
	case HTTP_PUT: return MHD_HTTP_METHOD_PUT;
	case HTTP_PATCH: return MHD_HTTP_METHOD_PATCH;
	case HTTP_DELETE: return MHD_HTTP_METHOD_DELETE;
	case HTTP_OTHER: break;
	}
	return "?";
}

static int route_refused(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			 json_t **out, struct api_err *e)
{
	return -1; /* *e was filled when the route was looked for */
}

/* A path no route takes, or a method none of its routes takes: answered
 * like any call, from the worker, so that /metrics counts every API
 * answer alike (pxed_store_call_seconds_count). */
static enum MHD_Result route_refuse(struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r, const struct api_err *e)
{
	struct api_call *a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->fn = route_refused;
	a->e = *e;
	return api_call_start(s, c, r, a, API_RUN_WORKER);
}

enum MHD_Result http_api_route(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url)
{
	char names[2][HTTP_NAME_MAX + 1] = { "", "" }, allow[64] = "";
	const struct api_route *rt = NULL;
	struct api_err e = { 0 }, bad = { 0 };
	unsigned seen = 0;
	bool fits = false;
	struct api_call *a;
	unsigned long long lim = LIST_DEFAULT_LIMIT, off = 0;

	for (size_t i = 0; i < ARRAY_SIZE(api_routes) && !rt; i++) {
		const struct api_route *t = &api_routes[i];
		switch (route_fit(t->path, r->url_full, names, &e)) {
		case FIT_YES:
			fits = true;
			if (t->method == r->method) {
				rt = t;
			} else if (!(seen & t->method)) {
				seen |= t->method;
				snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
					 allow[0] ? ", " : "", method_text(t->method));
			}
			break;
		case FIT_BAD_NAME:
			if (!bad.code)
				bad = e;
			break;
		case FIT_NO:
			break;
		}
	}
	if (!rt) {
		if (fits)
			api_fail(&e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				 "%s is not allowed here; use %s", r->method_name, allow);
		else if (bad.code)
			e = bad;
		else
			api_fail(&e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
		return route_refuse(s, c, r, &e);
	}
	route_fit(rt->path, r->url_full, names, &e); /* its names, not a later row's */

	if (rt->run == API_RUN_LIST) {
		const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
		const char *offset = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "offset");
		if (limit && parse_uint(limit, 1, LIST_MAX_LIMIT, &lim) < 0)
			return http_reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_field",
						"parameter 'limit' must be a number from 1 to %d",
						LIST_MAX_LIMIT);
		if (offset && parse_uint(offset, 0, INT32_MAX, &off) < 0)
			return http_reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_field",
						"parameter 'offset' must be a number from 0 to %d",
						INT32_MAX);
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return MHD_NO;
	a->fn = rt->handler;
	a->finish = rt->finish;
	a->list = rt->run == API_RUN_LIST;
	a->lim = lim;
	a->off = off;
	memcpy(a->name, names[0], sizeof(a->name));
	memcpy(a->name2, names[1], sizeof(a->name2));
	return api_call_start(s, c, r, a, rt->run);
}

/* The import's gate has its own handler: the server knows the import by
 * it (its body is streamed, not kept). */
enum MHD_Result http_api_devices_import(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url)
{
	return http_api_route(s, c, r, url);
}

/* ---- request bodies -------------------------------------------------------- */

json_t *api_body_object(struct http_request *r, const char *const *allowed, struct api_err *e)
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

int api_field_str(json_t *o, const char *key, bool required, const char **out,
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

int api_field_name(json_t *o, const char *key, bool required, const char **out,
		   struct api_err *e)
{
	if (api_field_str(o, key, required, out, e) < 0)
		return -1;
	if (*out && !vocab_name_valid(*out))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ -", key,
				HTTP_NAME_MAX);
	return 0;
}

int api_field_path(json_t *o, const char *key, bool required, const char **out,
		   struct api_err *e)
{
	if (api_field_str(o, key, required, out, e) < 0)
		return -1;
	if (*out && !vocab_path_valid(*out))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' must be a relative path of A-Z a-z 0-9 . _ - + / "
				"without '..' (at most 255 characters)", key);
	return 0;
}

int api_field_time(json_t *o, const char *key, int64_t *out, struct api_err *e)
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
	if (api_field_str(o, key, false, &t, e) < 0)
		goto bad;
	if (t[0] >= '0' && t[0] <= '9' && !strchr(t, '-')) {
		unsigned long long n;
		if (parse_uint(t, 0, INT64_MAX / 1000, &n) < 0)
			goto bad;
		*out = (int64_t)n;
		return 0;
	}
	if (api_time_parse_ms(t, &ms) < 0)
		goto bad;
	*out = ms / 1000;
	return 0;
bad:
	return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			"field '%s' must be unix seconds or a UTC time like 2026-11-26T14:00:00Z",
			key);
}

int api_time_parse_ms(const char *s, int64_t *ms)
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

/* ---- JSON views ------------------------------------------------------------ */

json_t *api_time_json(int64_t ms)
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

/* jansson refuses invalid UTF-8, and one odd byte in one row (a reason or
 * interface name recorded from a packet) must not turn a whole listing
 * into a 500: such strings are shown escaped. */
json_t *api_str_json(const char *s)
{
	char esc[1024];
	json_t *v = json_string(s);
	if (v)
		return v;
	log_escape(esc, sizeof(esc), s, strlen(s));
	return json_string(esc);
}

json_t *api_mac_json(const uint8_t mac[MAC_LEN])
{
	char m[MAC_STR_LEN];
	mac_format(mac, m);
	return json_string(m);
}

json_t *api_guid_json(bool has, const uint8_t guid[GUID_LEN])
{
	char g[GUID_STR_LEN];
	if (!has)
		return json_null();
	guid_format(guid, g);
	return json_string(g);
}

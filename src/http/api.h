/* The JSON admin API's insides, shared by its core (api.c: the gates and
 * the route table, how a call runs, replies, request bodies and fields)
 * and its resource files (api_devices.c, api_devices_import.c,
 * api_images.c, api_deployments.c, api_collections.c, api_events.c,
 * api_status.c, api_cache.c, api_settings.c, api_vars.c, api_report.c,
 * api_wake.c).  Not a public interface: the server sees only the gates
 * and their handlers (http_internal.h).
 *
 * Each handler is an api_fn: it returns the HTTP status of its success
 * (200, 201) with *out set, or -1 with *e filled; the core turns either
 * into a response.  Errors have one shape, {"error": code, "detail": text}:
 *   400 invalid_json | missing_field | invalid_field | unknown_field
 *   404 not_found   409 exists, in_use, needs_restart   405 method_not_allowed
 *   413 too_large   503 unavailable (settings cannot be changed)
 *   500 store_error
 *
 * Threads: a handler runs on the worker unless its route says otherwise
 * (enum api_run), so it may call the store and must not touch what the
 * loop owns (counters, settings, the Wake-on-LAN sender): that is the
 * route's finish function's, which runs on the loop afterwards. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/util.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "store/store.h"

#define MOD "http"

struct api_err {
	unsigned status;
	const char *code;
	char detail[256];
	json_t *extra;             /* more members for the error body (import: "lines") */
};

typedef int (*api_fn)(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e);

struct api_call;
/* The loop's part of a split call: after fn ran on the worker, it reads
 * or changes what the loop owns (counters, settings) and may set a->st,
 * a->out and a->e for the reply. */
typedef void (*api_finish_fn)(struct http_server *s, struct MHD_Connection *c,
			      struct http_request *r, struct api_call *a);

/* One API call (r->state): fn runs where its route says, the reply is
 * made on the loop. */
struct api_call {
	api_fn fn;
	api_finish_fn finish;      /* on the loop, after fn */
	bool list;                 /* API_RUN_LIST: page the array */
	unsigned long long lim, off;
	bool paged;                /* fn paged in the store: out is the page */
	uint64_t total;            /* ... of this many */
	json_t *out;
	struct api_err e;
	int st;
	uint64_t us;               /* fn's run time */
	/* The route's {name} parameters, in URL order (valid names). */
	char name[HTTP_NAME_MAX + 1];
	char name2[HTTP_NAME_MAX + 1];
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
	 * recorded on the worker, sent from the loop (api_wake_finish). */
	struct wol_batch *wake;
	size_t wake_reserved;      /* room held in wake_to for it */
	struct wol_sched *wake_to;
};

/* Where a route's handler runs. */
enum api_run {
	API_RUN_WORKER,            /* on the worker (the store's calls) */
	API_RUN_LIST,              /* on the worker, the array paged by ?limit=&offset= */
	API_RUN_LOOP,              /* on the loop: no store, reads loop-owned state */
	API_RUN_EXCLUSIVE,         /* on the loop while no worker job runs: changes
				    * what jobs read (the settings) */
};

/* One row of the route table (api.c).  path is literal text, with
 * "{name}" for one path segment holding a name (HTTP_NAME_MAX characters
 * of A-Z a-z 0-9 . _ -, into a->name then a->name2; a '/' may follow it at
 * the end of the URL) or a final "*" for whatever follows (the handler
 * parses it). */
struct api_route {
	enum http_method method;
	const char *path;
	api_fn handler;
	api_finish_fn finish;      /* NULL: none */
	enum api_run run;
};

/* Fill *e; returns -1 (what a handler returns). */
int api_fail(struct api_err *e, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A store error as the client should see it; the store's message is the
 * detail ("device 'lab-01' already exists").  Returns -1. */
int api_store_fail(struct http_server *s, int rc, struct api_err *e, const char *what);

/* ---- request bodies and fields (api.c) ---- */

/* The body as a JSON object with only the allowed keys; NULL with *e. */
json_t *api_body_object(struct http_request *r, const char *const *allowed, struct api_err *e);
/* A string field; absent or null gives NULL when optional.  0 or -1. */
int api_field_str(json_t *o, const char *key, bool required, const char **out,
		  struct api_err *e);
/* ... that must be a name (vocab_name_valid) */
int api_field_name(json_t *o, const char *key, bool required, const char **out,
		   struct api_err *e);
/* ... that must be a relative path (vocab_path_valid) */
int api_field_path(json_t *o, const char *key, bool required, const char **out,
		   struct api_err *e);
/* A time: unix seconds (a JSON number or a string of digits) or a UTC
 * time "2026-11-26T14:00:00Z"; absent or null = none (0). */
int api_field_time(json_t *o, const char *key, int64_t *out, struct api_err *e);
/* RFC 3339 UTC "2026-11-26T14:00:00[.123]Z" as unix milliseconds. */
int api_time_parse_ms(const char *s, int64_t *ms);

/* ---- JSON views (api.c) ---- */

json_t *api_time_json(int64_t ms);   /* ISO 8601 UTC; null for 0 */
json_t *api_str_json(const char *s); /* escaped when not UTF-8 */
json_t *api_mac_json(const uint8_t mac[MAC_LEN]);
json_t *api_guid_json(bool has, const uint8_t guid[GUID_LEN]);

/* ---- shared by resources ---- */

/* api_devices.c */
json_t *api_device_json(const struct store_device *d);
int api_add_device(void *ctx, const struct store_device *d); /* to a JSON array */
/* The device NAME, or 404 / a store error in *e (-1). */
int api_device_lookup(struct http_server *s, const char *name, struct store_device *d,
		      struct api_err *e);
/* api_deployments.c */
json_t *api_deployment_json(const struct store_deployment *d);
/* ... with "handed_out", to a JSON array */
int api_add_deployment_handout(void *ctx, const struct store_deployment *d);
/* api_collections.c */
int api_add_collection(void *ctx, const struct store_collection *col); /* to a JSON array */

/* Wake-on-LAN (api_wake.c): on the worker, api_wake_prepare() holds room
 * for n machines and api_wake_fill() finds them and records their events;
 * then api_wake_finish (a route's finish, on the loop) hands them to the
 * sender. */
int api_wake_prepare(struct http_server *s, struct api_call *a, const char *what, size_t n,
		     struct api_err *e);
/* One device, or the members of a collection: how many, or -1 with *e. */
int api_wake_fill(struct http_server *s, struct api_call *a, const struct store_device *dev,
		  const char *collection, const char *what, struct api_err *e);
/* A reply's wake part: what api_wake_fill() found. */
json_t *api_wake_json(const struct api_call *a, int n);
void api_wake_finish(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		     struct api_call *a);

/* ---- handlers, by resource (the route table in api.c names them) ---- */

#define API_HANDLER(fn)                                                                        \
	int fn(struct http_server *s, struct MHD_Connection *c, struct http_request *r,            \
	       json_t **out, struct api_err *e)

/* api_devices.c */
API_HANDLER(api_devices_list);
API_HANDLER(api_devices_add);
API_HANDLER(api_devices_import);
API_HANDLER(api_device_get);
API_HANDLER(api_device_update);
API_HANDLER(api_device_delete);
API_HANDLER(api_device_clear);
API_HANDLER(api_device_wake);
/* api_images.c */
API_HANDLER(api_images_list);
API_HANDLER(api_images_add);
API_HANDLER(api_image_get);
API_HANDLER(api_image_delete);
/* api_deployments.c */
API_HANDLER(api_deployments_list);
API_HANDLER(api_deployments_add);
API_HANDLER(api_deployment_get);
API_HANDLER(api_deployment_update);
API_HANDLER(api_deployment_delete);
/* api_collections.c */
API_HANDLER(api_collections_list);
API_HANDLER(api_collections_add);
API_HANDLER(api_collection_get);
API_HANDLER(api_collection_delete);
API_HANDLER(api_collection_clear);
API_HANDLER(api_collection_members_add);
API_HANDLER(api_collection_member_remove);
API_HANDLER(api_collection_wake);
/* api_events.c */
API_HANDLER(api_events_list);
API_HANDLER(api_events_summary);
/* api_status.c */
API_HANDLER(api_status_count);
void api_status_finish(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       struct api_call *a);
/* api_cache.c */
API_HANDLER(api_cache_list);
API_HANDLER(api_cache_flush);
/* api_settings.c */
API_HANDLER(api_settings_get);
API_HANDLER(api_settings_set);
/* api_vars.c */
API_HANDLER(api_vars_get);
API_HANDLER(api_vars_set);
API_HANDLER(api_vars_unset);
/* api_report.c */
API_HANDLER(api_report_post);
void api_report_count(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      struct api_call *a);

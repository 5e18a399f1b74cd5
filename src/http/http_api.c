/* The JSON admin API under /api/v1/ (PRODUCT.md "Interfaces").
 *
 * Each handler is an api_fn: it returns the HTTP status of its success
 * (200, 201) with *out set, or -1 with *e filled; api_run() turns either
 * into a response.  Errors have one shape, {"error": code, "detail": text}:
 *   400 invalid_json | missing_field | invalid_field | unknown_field
 *   404 not_found   409 exists   405 method_not_allowed   413 too_large
 *   500 store_error */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "decide/decide.h"
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
	default:
		log_warn(MOD, "store failed to %s: %s", what, msg);
		return api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_error",
				"the database failed to %s", what);
	}
}

static enum MHD_Result api_reply_json(struct MHD_Connection *c, struct http_request *r,
				      unsigned status, json_t *o)
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
	return http_queue(c, r, status, resp);
}

static enum MHD_Result api_run(api_fn fn, struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r)
{
	json_t *out = NULL;
	struct api_err e = { 0 };
	int st = fn(s, c, r, &out, &e);
	if (st < 0) {
		json_decref(out);
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
	if (*out && !http_name_valid(*out))
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
	if (*out && !http_path_valid(*out))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"field '%s' must be a relative path of A-Z a-z 0-9 . _ - + / "
				"without '..' (at most 255 characters)", key);
	return 0;
}

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
	if (im->nbp[0]) {
		json_object_set_new(o, "nbp", str_json(im->nbp));
	} else {
		json_object_set_new(o, "kernel", str_json(im->kernel));
		json_object_set_new(o, "initrd", str_json(im->initrd));
		json_object_set_new(o, "cmdline", str_json(im->cmdline));
	}
	return o;
}

static json_t *deployment_json(const struct store_deployment *d)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:s, s:b, s:o}", "id", (json_int_t)d->id, "name",
			 str_json(d->name), "image", str_json(d->image_name), "device",
			 str_json(d->device_name), "purpose",
			 d->purpose == STORE_REQUIRED ? "required" : "available", "enabled",
			 d->enabled, "created", time_json(d->created * 1000));
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

/* ---- /api/v1/devices ----------------------------------------------------- */

static int devices_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_device_list(s->store, add_device, *out);
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
	return api_run(r->method == HTTP_POST ? devices_add : devices_list, s, c, r);
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
	static const char *const keys[] = { "name", "kernel", "initrd", "cmdline", "nbp", NULL };
	struct store_image im = { 0 };
	const char *name, *kernel, *initrd, *cmdline, *nbp;
	json_t *o = body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (field_name(o, "name", true, &name, e) < 0 ||
	    field_path(o, "kernel", false, &kernel, e) < 0 ||
	    field_path(o, "initrd", false, &initrd, e) < 0 ||
	    field_str(o, "cmdline", false, &cmdline, e) < 0 ||
	    field_path(o, "nbp", false, &nbp, e) < 0)
		goto done;
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
	if (cmdline && !http_cmdline_valid(cmdline)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'cmdline' must be at most 511 printable ASCII characters without "
			 "$ \" ' \\ | & ; # { } `");
		goto done;
	}
	str_copy(im.name, sizeof(im.name), name);
	str_copy(im.kernel, sizeof(im.kernel), kernel ? kernel : "");
	str_copy(im.initrd, sizeof(im.initrd), initrd ? initrd : "");
	str_copy(im.cmdline, sizeof(im.cmdline), cmdline ? cmdline : "");
	str_copy(im.nbp, sizeof(im.nbp), nbp ? nbp : "");
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
	return api_run(r->method == HTTP_POST ? images_add : images_list, s, c, r);
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

static int deployments_add(struct http_server *s, struct MHD_Connection *c,
			   struct http_request *r, json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "image", "device", "purpose", NULL };
	struct store_deployment dep = { .enabled = true };
	struct store_image im;
	struct store_device dev;
	const char *name, *image, *device, *purpose;
	json_t *o = body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (field_name(o, "name", true, &name, e) < 0 || field_name(o, "image", true, &image, e) < 0 ||
	    field_name(o, "device", true, &device, e) < 0 ||
	    field_str(o, "purpose", true, &purpose, e) < 0)
		goto done;
	if (!strcmp(purpose, "required"))
		dep.purpose = STORE_REQUIRED;
	else if (!strcmp(purpose, "available"))
		dep.purpose = STORE_AVAILABLE;
	else {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'purpose' must be \"required\" or \"available\"");
		goto done;
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
	str_copy(dep.name, sizeof(dep.name), name);
	dep.image_id = im.id;
	str_copy(dep.image_name, sizeof(dep.image_name), im.name);
	dep.device_id = dev.id;
	str_copy(dep.device_name, sizeof(dep.device_name), dev.name);
	rc = store_deployment_add(s->store, &dep);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a deployment");
		goto done;
	}
	log_info(MOD, "deployment '%s': %s image '%s' to device '%s'", dep.name, purpose,
		 dep.image_name, dep.device_name);
	*out = deployment_json(&dep);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

enum MHD_Result http_api_deployments(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url)
{
	return api_run(r->method == HTTP_POST ? deployments_add : deployments_list, s, c, r);
}

/* ---- /api/v1/events ------------------------------------------------------ */

/* ?since= as unix milliseconds, or RFC 3339 UTC "2026-11-26T14:00:00[.123]Z". */
static int since_parse(const char *s, int64_t *ms)
{
	unsigned long long v;
	struct tm tm = { 0 };
	const char *p;
	int frac = 0;

	if (parse_uint(s, 0, INT64_MAX, &v) == 0) {
		*ms = (int64_t)v;
		return 0;
	}
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
	json_t *arr;
	json_t *names; /* device id (text) -> name */
};

static int add_device_name(void *ctx, const struct store_device *d)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)d->id);
	return json_object_set_new(ctx, id, str_json(d->name)) < 0 ? -ENOMEM : 0;
}

static int add_event(void *ctx, const struct store_event *ev)
{
	struct events_ctx *x = ctx;
	char id[24];
	json_t *name, *o;
	snprintf(id, sizeof(id), "%lld", (long long)ev->device_id);
	name = ev->device_id ? json_object_get(x->names, id) : NULL;
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
	const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	struct events_ctx x = { 0 };
	struct store_device dev = { 0 };
	unsigned long long lim = EVENTS_DEFAULT_LIMIT;
	int64_t since_ms = 0;
	int rc;

	if (device && !http_name_valid(device))
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'device' is not a valid name");
	if (since && since_parse(since, &since_ms) < 0)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'since' must be unix milliseconds or a UTC time like "
				"2026-11-26T14:00:00Z");
	if (limit && parse_uint(limit, 1, EVENTS_MAX_LIMIT, &lim) < 0)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				"parameter 'limit' must be a number from 1 to %d", EVENTS_MAX_LIMIT);
	if (device) {
		rc = store_device_by_name(s->store, device, &dev);
		if (rc == -ENOENT)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					"device '%s' does not exist", device);
		if (rc < 0)
			return api_store_fail(s, rc, e, "look up a device");
	}
	/* Decisions queue their events in batches: write what is queued so
	 * the list includes the decision that just happened. */
	decider_events_flush(s->dec);
	x.names = json_object();
	rc = store_device_list(s->store, add_device_name, x.names);
	if (rc >= 0) {
		x.arr = *out = json_array();
		rc = store_event_list(s->store, dev.id, since_ms, (unsigned)lim, add_event, &x);
	}
	json_decref(x.names);
	return rc < 0 ? api_store_fail(s, rc, e, "list events") : MHD_HTTP_OK;
}

enum MHD_Result http_api_events(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	return api_run(events_list, s, c, r);
}

/* ---- /api/v1/status ------------------------------------------------------ */

static int count_device(void *ctx, const struct store_device *d)
{
	(*(json_int_t *)ctx)++;
	return 0;
}

static int count_image(void *ctx, const struct store_image *im)
{
	(*(json_int_t *)ctx)++;
	return 0;
}

static int count_deployment(void *ctx, const struct store_deployment *d)
{
	(*(json_int_t *)ctx)++;
	return 0;
}

static int status_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e)
{
	json_int_t nd = 0, ni = 0, np = 0;
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	int rc = store_device_list(s->store, count_device, &nd);
	if (rc >= 0)
		rc = store_image_list(s->store, count_image, &ni);
	if (rc >= 0)
		rc = store_deployment_list(s->store, count_deployment, &np);
	if (rc < 0)
		return api_store_fail(s, rc, e, "count rows");
	*out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "status", "ok", "uptime_s",
			 (json_int_t)((now_ms() - s->started_ms) / 1000), "http_requests",
			 (json_int_t)s->n_requests, "http_connections",
			 (json_int_t)(info ? info->num_connections : 0), "store_generation",
			 (json_int_t)store_generation(s->store), "devices", nd, "images", ni,
			 "deployments", np);
	return MHD_HTTP_OK;
}

enum MHD_Result http_api_status(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	return api_run(status_get, s, c, r);
}

/* /api/v1/events: the decisions and other events, filtered
 * (?device=, ?mac=, ?since=, ?limit=), and /api/v1/events/summary, the
 * decisions per outcome.  The live stream is in http_stream.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decide/decide.h"
#include "common/vocab.h"
#include "http/api.h"

#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 10000

/* ?since= as unix milliseconds, or RFC 3339 UTC "2026-11-26T14:00:00[.123]Z". */
static int since_parse(const char *s, int64_t *ms)
{
	unsigned long long v;

	if (parse_uint(s, 0, INT64_MAX, &v) == 0) {
		*ms = (int64_t)v;
		return 0;
	}
	return api_time_parse_ms(s, ms);
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
	name = store_device_by_id(x->store, device_id, &d) == 0 ? api_str_json(d.name) : json_null();
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
		      (json_int_t)ev->id, "time", api_time_json(ev->time_ms), "time_ms",
		      (json_int_t)ev->time_ms, "mac", api_mac_json(ev->mac), "guid",
		      api_guid_json(ev->has_guid, ev->guid), "arch",
		      ev->arch >= 0 ? json_integer(ev->arch) : json_null(), "ifname",
		      api_str_json(ev->ifname), "via", api_str_json(ev->via), "outcome",
		      api_str_json(ev->outcome),
		      "reason", api_str_json(ev->reason), "device", name ? name : json_null(),
		      "deployment", api_str_json(ev->deployment_name));
	return json_array_append_new(x->arr, o) < 0 ? -ENOMEM : 0;
}

int api_events_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
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

/* ---- /api/v1/events/summary ---------------------------------------------- */

/* Decisions per outcome since ?since= (default: the last hour), counted
 * in SQL over the time index: the Live page's figures. */
int api_events_summary(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
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

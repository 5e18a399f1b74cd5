/* Wake-on-LAN for the API: POST /api/v1/devices/NAME/wake,
 * POST /api/v1/collections/NAME/wake and a deployment's "wake"
 * (api_devices.c, api_collections.c, api_deployments.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "wake/wol.h"
#include "conf/conf.h"
#include "http/api.h"

/* ---- Wake-on-LAN -----------------------------------------------------------
 *
 * On the worker: find the machines and the interfaces, hold room in the
 * sender, record one event per machine (via "wol", outcome "wake"); then
 * on the loop (api_wake_finish) the sender takes the batch and sends
 * WOL_REPEAT magic packets per machine WOL_REPEAT_GAP_MS apart from the
 * loop's timers (a NIC may miss one while its link comes up).  No thread
 * waits between them. */

/* Room for n machines and the interfaces; on success a->wake is an empty
 * batch for them (filled by wake_add). */
int api_wake_prepare(struct http_server *s, struct api_call *a, const char *what, size_t n,
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
int api_wake_fill(struct http_server *s, struct api_call *a, const struct store_device *dev,
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
void api_wake_finish(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
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

/* A reply's wake part: what api_wake_fill found. */
json_t *api_wake_json(const struct api_call *a, int n)
{
	return json_pack("{s:i, s:s, s:i}", "devices", n, "interfaces", wol_batch_ifaces(a->wake),
			 "packets", WOL_REPEAT);
}

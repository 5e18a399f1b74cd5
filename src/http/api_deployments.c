/* /api/v1/deployments: an image for a device, a collection or unknown
 * machines of one architecture, required or available, in a time window;
 * the one deployment with its installers' reports. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "wake/wol.h"
#include "common/vocab.h"
#include "http/api.h"

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

json_t *api_deployment_json(const struct store_deployment *d)
{
	char target[160];
	json_t *o;
	deployment_target_text(d, target, sizeof(target));
	o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:s, s:b, s:o, s:o, s:o}", "id",
		      (json_int_t)d->id, "name", api_str_json(d->name), "image",
		      api_str_json(d->image_name), "target", api_str_json(target), "device",
		      d->target == STORE_TARGET_DEVICE ? api_str_json(d->device_name) : json_null(),
		      "collection",
		      d->target == STORE_TARGET_COLLECTION ? api_str_json(d->collection_name)
							   : json_null(),
		      "purpose", d->purpose == STORE_REQUIRED ? "required" : "available", "enabled",
		      d->enabled, "available_from", api_time_json(d->available_from * 1000),
		      "expires", api_time_json(d->expires * 1000), "created",
		      api_time_json(d->created * 1000));
	if (o)
		json_object_set_new(o, "unknown_arch",
				    d->target == STORE_TARGET_UNKNOWN &&
						    vocab_arch_targetable(d->unknown_arch)
					    ? json_string(vocab_arch_name(
						      (enum pxe_arch_class)d->unknown_arch))
					    : json_null());
	return o;
}

static int add_deployment(void *ctx, const struct store_deployment *d)
{
	return json_array_append_new(ctx, api_deployment_json(d)) < 0 ? -ENOMEM : 0;
}

int api_add_deployment_handout(void *ctx, const struct store_deployment *d)
{
	json_t *o = api_deployment_json(d);
	json_object_set_new(o, "handed_out",
			    d->handed_out_at ? api_time_json(d->handed_out_at * 1000) : json_null());
	return json_array_append_new(ctx, o) < 0 ? -ENOMEM : 0;
}

/* ---- /api/v1/deployments ----------------------------------------------------- */

int api_deployments_list(struct http_server *s, struct MHD_Connection *c,
			 struct http_request *r, json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_deployment_list(s->store, add_deployment, *out);
	return rc < 0 ? api_store_fail(s, rc, e, "list deployments") : MHD_HTTP_OK;
}

int api_deployments_add(struct http_server *s, struct MHD_Connection *c,
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
	json_t *o = api_body_object(r, keys, e), *wake;
	int rc = -1, n;

	if (!o)
		return -1;
	wake = json_object_get(o, "wake");
	if (wake && !json_is_boolean(wake)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field", "field 'wake' must be true or false");
		goto done;
	}
	if (api_field_name(o, "name", true, &name, e) < 0 ||
	    api_field_name(o, "image", true, &image, e) < 0 ||
	    api_field_name(o, "device", false, &device, e) < 0 ||
	    api_field_name(o, "collection", false, &collection, e) < 0 ||
	    api_field_str(o, "unknown_arch", false, &unknown, e) < 0 ||
	    api_field_str(o, "purpose", true, &purpose, e) < 0 ||
	    api_field_time(o, "available_from", &dep.available_from, e) < 0 ||
	    api_field_time(o, "expires", &dep.expires, e) < 0)
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
	    (rc = api_wake_prepare(s, r->state, target, device ? 1 : col.members, e)) < 0)
		goto done;
	rc = store_deployment_add(s->store, &dep);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a deployment");
		goto done;
	}
	log_info(MOD, "deployment '%s': %s image '%s' to %s", dep.name, purpose, dep.image_name,
		 target);
	*out = api_deployment_json(&dep);
	rc = MHD_HTTP_CREATED;
	if (json_is_true(wake)) {
		/* The deployment is made: a failure to list the members is the
		 * wake's, reported in its part of the answer. */
		struct api_err we = { 0 };
		n = api_wake_fill(s, r->state, device ? &dev : NULL, collection, target, &we);
		json_object_set_new(*out, "wake", n < 0 ? json_pack("{s:s}", "error", we.detail)
						       : api_wake_json(r->state, n));
	}
done:
	json_decref(o);
	return rc;
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
					api_str_json(b->device_name), "mac", api_mac_json(b->mac), "state",
					http_report_state_name((enum http_report_state)b->state),
					"message", api_str_json(b->message), "handed_out",
					api_time_json(b->handed_out_ms), "updated",
					api_time_json(b->updated_ms)));
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
	o = api_deployment_json(d);
	/* handed_out counts every device the deployment went to; the others
	 * are devices by their last reported state. */
	json_object_set_new(o, "status",
			    json_pack("{s:I, s:I, s:I, s:I}", "handed_out", (json_int_t)n.handed_out,
				      "started", (json_int_t)n.started, "succeeded",
				      (json_int_t)n.succeeded, "failed", (json_int_t)n.failed));
	json_object_set_new(o, "devices", rd.devs);
	return o;
}

/* ---- /api/v1/deployments/NAME ------------------------------------------------ */

static int deployment_lookup(struct http_server *s, const char *name, struct store_deployment *d,
			     struct api_err *e)
{
	int rc = store_deployment_by_name(s->store, name, d);
	if (rc == -ENOENT)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "deployment '%s' does not exist",
				name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "look up a deployment");
	return 0;
}

int api_deployment_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_deployment d;

	if (deployment_lookup(s, a->name, &d, e) < 0)
		return -1;
	*out = deployment_status_json(s, &d, e);
	return *out ? MHD_HTTP_OK : -1;
}

int api_deployment_delete(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			  json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	const char *name = a->name;
	struct store_deployment d;
	int rc;

	if (deployment_lookup(s, name, &d, e) < 0)
		return -1;
	rc = store_deployment_delete(s->store, name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "delete a deployment");
	log_info(MOD, "deployment '%s' deleted", name);
	*out = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
	return MHD_HTTP_OK;
}

/* PATCH NAME {"enabled": bool} */
int api_deployment_update(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			  json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "enabled", NULL };
	struct api_call *a = r->state;
	const char *name = a->name;
	struct store_deployment d;
	json_t *o, *en;
	int rc;

	if (deployment_lookup(s, name, &d, e) < 0)
		return -1;
	o = api_body_object(r, keys, e);
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
	*out = api_deployment_json(&d);
	return MHD_HTTP_OK;
}

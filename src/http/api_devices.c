/* /api/v1/devices: the inventory of machines (docs/pxed.8.md).  The list
 * and the one device with what applies to it (its collections, its
 * deployments, its variables), changes, "clear" and Wake-on-LAN.  The CSV
 * import is in api_devices_import.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "wake/wol.h"
#include "decide/machine_vars.h"
#include "common/vocab.h"
#include "http/api.h"

json_t *api_device_json(const struct store_device *d)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)d->id, "name",
			 api_str_json(d->name), "mac", api_mac_json(d->mac), "guid",
			 api_guid_json(d->has_guid, d->guid), "arch",
			 d->arch >= 0 ? json_integer(d->arch) : json_null(), "last_seen",
			 api_time_json(d->last_seen * 1000), "created",
			 api_time_json(d->created * 1000));
}

int api_add_device(void *ctx, const struct store_device *d)
{
	return json_array_append_new(ctx, api_device_json(d)) < 0 ? -ENOMEM : 0;
}

int api_device_lookup(struct http_server *s, const char *name, struct store_device *d,
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

/* ---- /api/v1/devices --------------------------------------------------------- */

/* ?q= (part of a name, MAC or GUID), ?limit=, ?offset=: one page, found
 * and paged in SQL; the number of matches in X-Total-Count. */
int api_devices_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
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
	rc = store_device_search(s->store, &q, &total, api_add_device, *out);
	a->total = total;
	a->paged = true;
	return rc < 0 ? api_store_fail(s, rc, e, "list devices") : MHD_HTTP_OK;
}

int api_devices_add(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		    json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "mac", "guid", NULL };
	struct store_device d = { .arch = -1 };
	const char *name, *mac, *guid;
	json_t *o = api_body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (api_field_name(o, "name", true, &name, e) < 0 ||
	    api_field_str(o, "mac", true, &mac, e) < 0 ||
	    api_field_str(o, "guid", false, &guid, e) < 0)
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
	*out = api_device_json(&d);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

/* ?detail=1: the collections the device is in and the deployments that
 * apply to it, each with whether it was handed out to it. */
static int device_detail(struct http_server *s, const struct store_device *d, json_t *o,
			 struct api_err *e)
{
	json_t *cols = json_array(), *deps = json_array();
	int rc;

	json_object_set_new(o, "collections", cols);
	json_object_set_new(o, "deployments", deps);
	rc = store_device_collections(s->store, d->id, api_add_collection, cols);
	if (rc >= 0)
		rc = store_deployments_applicable(s->store, d->id,
						  d->arch >= 0 ? (int)vocab_arch_classify((uint16_t)d->arch)
							       : -1,
						  api_add_deployment_handout, deps);
	if (rc < 0)
		return api_store_fail(s, rc, e, "read the device's deployments");
	return MHD_HTTP_OK;
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

/* ---- /api/v1/devices/NAME ---------------------------------------------------- */

/* GET NAME, ?detail=1 */
int api_device_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		   json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_device d;
	int rc;

	if (api_device_lookup(s, a->name, &d, e) < 0)
		return -1;
	*out = api_device_json(&d);
	if (*out && (rc = device_vars_json(s, &d, *out, e)) < 0) {
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "detail"))
		return device_detail(s, &d, *out, e);
	return MHD_HTTP_OK;
}

/* PATCH NAME {"name", "mac", "guid"}: "guid": null forgets it */
int api_device_update(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "mac", "guid", NULL };
	struct api_call *a = r->state;
	const char *nn, *mac, *guid;
	struct store_device d;
	json_t *o;
	int rc = -1;

	if (api_device_lookup(s, a->name, &d, e) < 0)
		return -1;
	o = api_body_object(r, keys, e);
	if (!o)
		return -1;
	if (api_field_name(o, "name", false, &nn, e) < 0 ||
	    api_field_str(o, "mac", false, &mac, e) < 0 ||
	    api_field_str(o, "guid", false, &guid, e) < 0)
		goto done;
	if (nn)
		str_copy(d.name, sizeof(d.name), nn);
	if (mac && mac_parse(mac, d.mac) < 0) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'mac' is not a MAC address (like 52:54:00:12:34:56)");
		goto done;
	}
	if (json_is_null(json_object_get(o, "guid"))) {
		d.has_guid = false;
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
	*out = api_device_json(&d);
	rc = MHD_HTTP_OK;
done:
	json_decref(o);
	return rc;
}

/* DELETE NAME */
int api_device_delete(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	const char *name = a->name;
	struct store_device d;
	int rc;

	if (api_device_lookup(s, name, &d, e) < 0)
		return -1;
	rc = store_device_delete(s->store, name);
	if (rc == -EBUSY)
		return api_fail(e, MHD_HTTP_CONFLICT, "in_use",
				"device '%s' is the target of a deployment; remove that first", name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "delete a device");
	log_info(MOD, "device '%s' deleted", name);
	*out = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
	return MHD_HTTP_OK;
}

/* POST NAME/clear: "Clear Required PXE Deployments" */
int api_device_clear(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		     json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_device d;
	int rc;

	if (api_device_lookup(s, a->name, &d, e) < 0)
		return -1;
	rc = store_handout_clear_device(s->store, d.id);
	if (rc < 0)
		return api_store_fail(s, rc, e, "clear a device");
	log_info(MOD, "device '%s': %d required deployment hand-out(s) cleared", d.name, rc);
	*out = json_pack("{s:s, s:i}", "device", d.name, "cleared", rc);
	return MHD_HTTP_OK;
}

/* POST NAME/wake: Wake-on-LAN (sent by api_wake_finish, on the loop) */
int api_device_wake(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		    json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	char mac[MAC_STR_LEN], what[96];
	struct store_device d;
	int n;

	if (api_device_lookup(s, a->name, &d, e) < 0)
		return -1;
	snprintf(what, sizeof(what), "device '%s'", d.name);
	if (api_wake_prepare(s, a, what, 1, e) < 0 ||
	    (n = api_wake_fill(s, a, &d, NULL, what, e)) < 0)
		return -1;
	mac_format(d.mac, mac);
	*out = json_pack("{s:s, s:s, s:s, s:i}", "device", d.name, "mac", mac, "interfaces",
			 wol_batch_ifaces(a->wake), "packets", WOL_REPEAT);
	return MHD_HTTP_OK;
}

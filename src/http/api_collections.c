/* /api/v1/collections: named groups of devices that a deployment can
 * target; membership, "clear" and Wake-on-LAN for all members. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "wake/wol.h"
#include "http/api.h"

static json_t *collection_json(const struct store_collection *col)
{
	return json_pack("{s:I, s:o, s:I, s:o}", "id", (json_int_t)col->id, "name",
			 api_str_json(col->name), "members", (json_int_t)col->members, "created",
			 api_time_json(col->created * 1000));
}

int api_add_collection(void *ctx, const struct store_collection *col)
{
	return json_array_append_new(ctx, collection_json(col)) < 0 ? -ENOMEM : 0;
}

int api_collections_list(struct http_server *s, struct MHD_Connection *c,
			 struct http_request *r, json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_collection_list(s->store, api_add_collection, *out);
	return rc < 0 ? api_store_fail(s, rc, e, "list collections") : MHD_HTTP_OK;
}

int api_collections_add(struct http_server *s, struct MHD_Connection *c,
			struct http_request *r, json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", NULL };
	struct store_collection col = { 0 };
	const char *name;
	json_t *o = api_body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (api_field_name(o, "name", true, &name, e) < 0)
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

/* ---- /api/v1/collections/NAME ------------------------------------------------ */

int api_collection_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_collection col;
	json_t *members;
	int rc;

	if (collection_lookup(s, a->name, &col, e) < 0)
		return -1;
	*out = collection_json(&col);
	members = json_array();
	rc = store_collection_members(s->store, col.name, api_add_device, members);
	if (rc < 0) {
		json_decref(members);
		return api_store_fail(s, rc, e, "list a collection's members");
	}
	json_object_set_new(*out, "devices", members);
	return MHD_HTTP_OK;
}

int api_collection_delete(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			  json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_collection col;
	int rc;

	if (collection_lookup(s, a->name, &col, e) < 0)
		return -1;
	rc = store_collection_delete(s->store, col.name);
	if (rc == -EBUSY)
		return api_fail(e, MHD_HTTP_CONFLICT, "in_use",
				"collection '%s' is the target of a deployment; remove that first",
				col.name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "delete a collection");
	log_info(MOD, "collection '%s' deleted", col.name);
	*out = json_pack("{s:s, s:b}", "name", col.name, "deleted", 1);
	return MHD_HTTP_OK;
}

/* POST NAME/clear: ConfigMgr's "Clear Required PXE Deployments" on a
 * collection */
int api_collection_clear(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			 json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_collection col;
	int rc;

	if (collection_lookup(s, a->name, &col, e) < 0)
		return -1;
	rc = store_handout_clear_collection(s->store, col.name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "clear a collection");
	log_info(MOD, "collection '%s': %d required deployment hand-out(s) cleared", col.name, rc);
	*out = json_pack("{s:s, s:i}", "name", col.name, "cleared", rc);
	return MHD_HTTP_OK;
}

/* POST NAME/devices {"device": DEVICE} */
int api_collection_members_add(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "device", NULL };
	struct api_call *a = r->state;
	struct store_collection col;
	struct store_device d;
	const char *device;
	json_t *o;
	int rc = -1;

	if (collection_lookup(s, a->name, &col, e) < 0)
		return -1;
	o = api_body_object(r, keys, e);
	if (!o)
		return -1;
	if (api_field_name(o, "device", true, &device, e) < 0 ||
	    api_device_lookup(s, device, &d, e) < 0)
		goto done;
	rc = store_collection_add_device(s->store, col.name, d.name);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add a device to a collection");
		goto done;
	}
	if (rc == 0) {
		rc = api_fail(e, MHD_HTTP_CONFLICT, "exists",
			      "device '%s' is already in collection '%s'", d.name, col.name);
		goto done;
	}
	log_info(MOD, "collection '%s': device '%s' added", col.name, d.name);
	*out = json_pack("{s:s, s:s}", "collection", col.name, "device", d.name);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

/* DELETE NAME/devices/DEVICE */
int api_collection_member_remove(struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r, json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_collection col;
	struct store_device d;
	int rc;

	if (collection_lookup(s, a->name, &col, e) < 0 || api_device_lookup(s, a->name2, &d, e) < 0)
		return -1;
	rc = store_collection_remove_device(s->store, col.name, d.name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "remove a device from a collection");
	log_info(MOD, "collection '%s': device '%s' removed", col.name, d.name);
	*out = json_pack("{s:s, s:s, s:b}", "collection", col.name, "device", d.name, "removed", 1);
	return MHD_HTTP_OK;
}

/* POST NAME/wake: every member (each has a MAC); sent by api_wake_finish,
 * on the loop. */
int api_collection_wake(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_collection col;
	char what[96];
	int n;

	if (collection_lookup(s, a->name, &col, e) < 0)
		return -1;
	snprintf(what, sizeof(what), "collection '%s'", col.name);
	if (api_wake_prepare(s, a, what, col.members, e) < 0 ||
	    (n = api_wake_fill(s, a, NULL, col.name, what, e)) < 0)
		return -1;
	*out = json_pack("{s:s, s:i, s:s, s:i}", "collection", col.name, "devices", n,
			 "interfaces", wol_batch_ifaces(a->wake), "packets", WOL_REPEAT);
	return MHD_HTTP_OK;
}

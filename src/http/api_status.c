/* GET /api/v1/status: what pxed is and holds: version, uptime, requests,
 * rows, the store's generation, the settings in force and the decision
 * cache's counters. */
#include <stdio.h>

#include "conf/conf.h"
#include "decide/decide.h"
#include "http/api.h"

/* The settings in force, as the admin API shows them: PXEPassword only as
 * whether one is set. */
static json_t *settings_json(const struct pxed_conf *c, const struct http_server *s)
{
	json_t *ifs = json_array();
	for (unsigned i = 0; i < c->n_bind_ifaces; i++)
		json_array_append_new(ifs, api_str_json(c->bind_ifaces[i]));
	return json_pack("{s:b, s:b, s:o, s:i, s:i, s:s, s:o, s:o, s:b, s:i, s:i, s:b, s:i, s:i, "
			 "s:i, s:o, s:o, s:s}",
			 "IsActive", c->is_active, "SupportUnknownMachines", c->support_unknown,
			 "MACIgnoreListFile", api_str_json(c->mac_ignore_file), "ResponseDelay",
			 (int)c->response_delay, "CacheExpire", (int)c->cache_expire, "BindPolicy",
			 c->bind_policy == BIND_INCLUDE ? "include" : "exclude", "BindInterfaces", ifs,
			 "PXEGUID", api_str_json(c->pxe_guid), "PXEPassword",
			 c->pxe_password_hash[0] != '\0', "HTTPPort", (int)s->plain.port, "HTTPSPort",
			 (int)s->https.port, "AdminHTTPSOnly", c->http_admin_https_only,
			 "TFTPMaxBlockSize", (int)c->tftp_max_block_size, "TFTPMaxWindowSize",
			 (int)c->tftp_max_window_size, "TFTPMaxTransfers", (int)c->tftp_max_transfers,
			 "TFTPRoot", api_str_json(c->tftp_root), "StoreURL", api_str_json(c->store_url),
			 "LogLevel", c->log_level);
}

/* On the worker: the row counts and the generation. */
int api_status_count(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
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
void api_status_finish(struct http_server *s, struct MHD_Connection *c,
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

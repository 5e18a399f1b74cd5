/* /api/v1/cache: the decision cache's entries, and POST
 * /api/v1/cache/flush to drop them. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "decide/decide.h"
#include "common/vocab.h"
#include "http/api.h"

static int add_cache_entry(void *ctx, const struct decider_cache_entry *ce)
{
	json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:o, s:I, s:I, s:I, s:b}", "mac",
			      api_mac_json(ce->mac), "guid", api_guid_json(ce->has_guid, ce->guid),
			      "arch",
			      ce->has_arch ? json_string(vocab_arch_name(ce->arch_class))
					   : json_null(),
			      "outcome", decision_outcome_name(ce->outcome), "reason",
			      api_str_json(ce->reason), "age_s", (json_int_t)(ce->age_ms / 1000),
			      "device_id", (json_int_t)ce->device_id, "deployment_id",
			      (json_int_t)ce->deployment_id, "valid", ce->valid);
	return json_array_append_new(ctx, o) < 0 ? -ENOMEM : 0;
}

int api_cache_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
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

int api_cache_flush(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		    json_t **out, struct api_err *e)
{
	int n = decider_cache_flush(s->dec);
	log_info(MOD, "decision cache flushed by API: %d entr%s dropped", n, n == 1 ? "y" : "ies");
	*out = json_pack("{s:i}", "flushed", n);
	return MHD_HTTP_OK;
}

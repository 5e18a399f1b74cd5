/* POST /api/v1/report: an installer says how its deployment went
 * (started, succeeded, failed), with its boot's token as the credential. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "http/api.h"

/* ?token=T&state=S&message=M, or the token in the query and
 * {"state": S, "message": M} as the body (wget --post-data, curl -d). */
int api_report_post(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		    json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "token", "state", "message", NULL };
	const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	const char *state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
	const char *msg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "message");
	struct api_call *a = r->state;
	enum http_report_state st;
	struct store_report b;
	json_t *o = NULL;
	char mac[MAC_STR_LEN], esc[HTTP_REPORT_MSG_MAX * 4 + 1];
	int rc = -1;

	a->u.report.state = -1;
	if (r->body_len) {
		const char *bt = NULL, *bs = NULL, *bm = NULL;
		o = api_body_object(r, keys, e);
		if (!o)
			return -1;
		if (api_field_str(o, "token", false, &bt, e) < 0 ||
		    api_field_str(o, "state", false, &bs, e) < 0 ||
		    api_field_str(o, "message", false, &bm, e) < 0)
			goto done;
		token = bt ? bt : token;
		state = bs ? bs : state;
		msg = bm ? bm : msg;
	}
	if (!token) {
		api_fail(e, MHD_HTTP_UNAUTHORIZED, "unauthorized", "a report needs its boot's token");
		goto done;
	}
	if (!state || http_report_state_parse(state, &st) < 0) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, state ? "invalid_field" : "missing_field",
			 "field 'state' must be started, succeeded or failed");
		goto done;
	}
	if (msg && strlen(msg) > HTTP_REPORT_MSG_MAX) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'message' is longer than %d bytes", HTTP_REPORT_MSG_MAX);
		goto done;
	}
	rc = http_report_find(s->store, token, &b);
	if (rc == -ENOENT) {
		a->u.report.bad_token = true;
		api_fail(e, MHD_HTTP_UNAUTHORIZED, "unauthorized",
			 "no deployment boot has this token (a newer boot replaced it)");
		rc = -1;
		goto done;
	}
	if (rc < 0) {
		api_store_fail(s, rc, e, "look up a report token");
		rc = -1;
		goto done;
	}
	log_escape(esc, sizeof(esc), msg ? msg : "", msg ? strlen(msg) : 0);
	rc = store_report_update(s->store, b.id, (enum store_report_state)st, esc,
				 (int64_t)time(NULL) * 1000);
	if (rc < 0) {
		if (rc == -ENOENT)
			api_fail(e, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				 "no deployment boot has this token (a newer boot replaced it)");
		else
			api_store_fail(s, rc, e, "record a report");
		rc = -1;
		goto done;
	}
	a->u.report.state = (int)st;
	mac_format(b.mac, mac);
	log_info(MOD, "%s: device '%s' deployment '%s' reports %s%s%s", mac, b.device_name,
		 b.deployment_name, http_report_state_name(st), *esc ? ": " : "", esc);
	*out = json_pack("{s:s, s:s, s:s}", "device", b.device_name, "deployment", b.deployment_name,
			 "state", http_report_state_name(st));
	rc = MHD_HTTP_OK;
done:
	json_decref(o);
	return rc;
}

/* On the loop: the counters are its. */
void api_report_count(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		      struct api_call *a)
{
	if (a->u.report.bad_token)
		s->counters.auth_failures++;
	if (a->u.report.state >= 0 && (unsigned)a->u.report.state < ARRAY_SIZE(s->counters.reports))
		s->counters.reports[a->u.report.state]++;
}

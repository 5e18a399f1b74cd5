#include "http/http_report.h"

#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "http/http_auth.h"

static const char *const state_names[] = { "handed_out", "started", "succeeded", "failed" };

const char *http_report_state_name(enum http_report_state s)
{
	return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

int http_report_state_parse(const char *s, enum http_report_state *out)
{
	/* handed_out is ours to set, not the installer's */
	for (unsigned i = HTTP_REPORT_STARTED; s && i < ARRAY_SIZE(state_names); i++)
		if (!strcmp(s, state_names[i])) {
			*out = (enum http_report_state)i;
			return 0;
		}
	return -EINVAL;
}

int http_report_handout(struct store *st, int64_t device_id, const char *device,
			int64_t deployment_id, const char *deployment, const uint8_t mac[6],
			uint64_t now_ms, struct store_report *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = http_token_random(out->token, HTTP_REPORT_TOKEN_LEN / 2);
	if (r < 0)
		return r;
	out->device_id = device_id;
	str_copy(out->device_name, sizeof(out->device_name), device);
	out->deployment_id = deployment_id;
	str_copy(out->deployment_name, sizeof(out->deployment_name), deployment);
	memcpy(out->mac, mac, 6);
	out->handed_out_ms = (int64_t)now_ms;
	return store_report_create(st, out);
}

int http_report_find(struct store *st, const char *token, struct store_report *out)
{
	if (!token || strnlen(token, HTTP_REPORT_TOKEN_LEN + 1) != HTTP_REPORT_TOKEN_LEN)
		return -ENOENT;
	return store_report_by_token(st, token, out);
}

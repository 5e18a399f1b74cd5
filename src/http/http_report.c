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

int http_report_handout(struct http_reports *t, const char *device, const char *deployment,
			const uint8_t mac[6], uint64_t now_ms, const struct http_report_boot **out)
{
	struct http_report_boot *b = NULL, *oldest = NULL;
	int r;

	for (size_t i = 0; i < HTTP_REPORT_SLOTS && !b; i++) {
		struct http_report_boot *c = &t->boot[i];
		if (c->used && !strcmp(c->device, device) && !strcmp(c->deployment, deployment))
			b = c;
	}
	for (size_t i = 0; i < HTTP_REPORT_SLOTS && !b; i++) {
		struct http_report_boot *c = &t->boot[i];
		if (!c->used)
			b = c;
		else if (!oldest || c->updated_ms < oldest->updated_ms)
			oldest = c;
	}
	if (!b)
		b = oldest; /* full: forget the boot that was quiet longest */
	memset(b, 0, sizeof(*b));
	r = http_token_random(b->token, HTTP_REPORT_TOKEN_LEN / 2);
	if (r < 0)
		return r;
	b->used = true;
	str_copy(b->device, sizeof(b->device), device);
	str_copy(b->deployment, sizeof(b->deployment), deployment);
	memcpy(b->mac, mac, 6);
	b->state = HTTP_REPORT_HANDED_OUT;
	b->handed_ms = b->updated_ms = now_ms;
	*out = b;
	return 0;
}

struct http_report_boot *http_report_find(struct http_reports *t, const char *token)
{
	struct http_report_boot *hit = NULL;
	if (!token || strlen(token) != HTTP_REPORT_TOKEN_LEN)
		return NULL;
	for (size_t i = 0; i < HTTP_REPORT_SLOTS; i++)
		if (t->boot[i].used && http_token_equal(token, t->boot[i].token))
			hit = &t->boot[i];
	return hit;
}

/* http_report: installer reports for deployment boots.
 *
 * When /boot.ipxe hands out a deployment whose image is a kernel, it
 * makes a per-boot token and puts
 *   pxed.report=http://HOST:PORT/api/v1/report?token=TOKEN
 * on the kernel command line; the installer POSTs state=started |
 * succeeded | failed (and a message) there.  The token is the only
 * credential a report needs, and it names one device and one deployment.
 *
 * The table lives in memory (one slot per device and deployment, the last
 * boot wins): reports are lost on restart until the store keeps them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_metrics.h"

enum http_report_state {
	HTTP_REPORT_HANDED_OUT = 0,
	HTTP_REPORT_STARTED,
	HTTP_REPORT_SUCCEEDED,
	HTTP_REPORT_FAILED,
};

#define HTTP_REPORT_SLOTS 4096
#define HTTP_REPORT_TOKEN_LEN 32   /* hex characters */
#define HTTP_REPORT_MSG_MAX 200

struct http_report_boot {
	bool used;
	char token[HTTP_REPORT_TOKEN_LEN + 1];
	char device[64];
	char deployment[64];
	uint8_t mac[6];
	enum http_report_state state;
	char message[HTTP_REPORT_MSG_MAX + 1];
	uint64_t handed_ms, updated_ms;  /* unix milliseconds */
};

struct http_reports {
	struct http_report_boot boot[HTTP_REPORT_SLOTS];
};

/* "handed_out", "started", "succeeded", "failed"; parse: 0 or -EINVAL. */
const char *http_report_state_name(enum http_report_state s);
int http_report_state_parse(const char *s, enum http_report_state *out);

/* A deployment was handed to a device: a new token in the device's slot
 * for that deployment (replacing an older boot's), returned in *out. */
int http_report_handout(struct http_reports *t, const char *device, const char *deployment,
			const uint8_t mac[6], uint64_t now_ms, const struct http_report_boot **out);
/* The boot a token names, or NULL; compared in constant time. */
struct http_report_boot *http_report_find(struct http_reports *t, const char *token);

/* http_report: installer reports for deployment boots.
 *
 * When /boot.ipxe hands out a deployment whose image is a kernel, it
 * makes a per-boot token and puts
 *   pxed.report=http://HOST:PORT/api/v1/report?token=TOKEN
 * on the kernel command line; the installer POSTs state=started |
 * succeeded | failed (and a message) there.  The token is the only
 * credential a report needs, and it names one device and one deployment.
 *
 * Tokens and states live in the store (schema v3, store_report_*): one
 * row per device and deployment, the last boot wins, and a report sent
 * after a pxed restart (or to another server on the same database) still
 * finds its boot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_metrics.h"
#include "store/store.h"

enum http_report_state {
	HTTP_REPORT_HANDED_OUT = STORE_REPORT_HANDED_OUT,
	HTTP_REPORT_STARTED = STORE_REPORT_STARTED,
	HTTP_REPORT_SUCCEEDED = STORE_REPORT_SUCCEEDED,
	HTTP_REPORT_FAILED = STORE_REPORT_FAILED,
};

#define HTTP_REPORT_TOKEN_LEN 32   /* hex characters */
#define HTTP_REPORT_MSG_MAX 200

/* "handed_out", "started", "succeeded", "failed"; parse: 0 or -EINVAL. */
const char *http_report_state_name(enum http_report_state s);
int http_report_state_parse(const char *s, enum http_report_state *out);

/* A deployment was handed to a device (device_id 0 = an unknown machine,
 * named by its MAC): a new token replacing the older boot's, recorded in
 * the store; *out is the row (out->token is the token).  Store errors as
 * store_report_create(). */
int http_report_handout(struct store *st, int64_t device_id, const char *device,
			int64_t deployment_id, const char *deployment, const uint8_t mac[6],
			uint64_t now_ms, struct store_report *out);
/* The boot a token names: 0 and *out, -ENOENT for none (or a token that
 * is not 32 hex digits), or a store error. */
int http_report_find(struct store *st, const char *token, struct store_report *out);

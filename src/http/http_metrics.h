/* http_metrics: /metrics in the Prometheus text exposition format 0.0.4.
 *
 * The HTTP server counts its own requests (by status), its boot-script
 * decisions (by outcome), PXEPassword failures and installer reports; the
 * DHCP and TFTP servers' counters are read through their *_stats()
 * functions when main has handed them over (http_server_set_sources()).
 * http_metrics_format() is pure: a snapshot in, text out. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wake/wol.h"
#include "decide/boot_token.h"
#include "decide/decide.h"
#include "http/http_stream.h"
#include "dhcp/dhcp_server.h"
#include "tftp/tftp_server.h"
#include "http/grub_boot.h"

#define HTTP_STATUS_MAX 600

/* Installer report states (see http_report.h), as counted. */
#define HTTP_REPORT_STATES 4

struct http_counters {
	uint64_t requests[HTTP_STATUS_MAX]; /* completed requests by status */
	uint64_t decisions[3];      /* /boot.ipxe decisions: boot, local, ignore */
	uint64_t store_calls;       /* database-bound calls (decide, API handlers) */
	uint64_t store_us;          /* their total time, microseconds */
	uint64_t auth_failures;     /* 401s: missing or wrong API token */
	uint64_t reports[HTTP_REPORT_STATES]; /* handed_out, started, succeeded, failed */
	uint64_t answers[2];        /* answer files: HTTP_ANSWER_SERVED, HTTP_ANSWER_REFUSED */
	uint64_t cmdline_refused;   /* hand-outs sent local: the command line did not render */
	uint64_t wake_sent;         /* Wake-on-LAN requests (each a burst of magic packets) */
};
enum { HTTP_ANSWER_SERVED = 0, HTTP_ANSWER_REFUSED = 1 };

struct http_metrics_view {
	const struct http_counters *http;
	uint64_t uptime_s;
	uint64_t pw_failures, pw_lockouts;
	uint64_t conns_held;        /* HTTP(S) connections open now */
	uint64_t conns_refused_limit, conns_refused_per_address; /* see http_gate.h */
	struct http_stream_stats stream; /* /api/v1/events/stream */
	uint64_t sessions;          /* console sessions live now */
	uint64_t session_logins, session_failures, session_evicted, session_refused;
	uint64_t pw_busy;           /* attempts refused: too many hashes at once */
	bool has_dhcp;
	struct dhcp_stats dhcp;
	bool has_tftp;
	struct tftp_stats tftp;
	bool has_store;
	uint64_t store_rows_read;   /* rows read by store lists and lookups */
	bool has_tokens;
	struct boot_token_stats tokens; /* script URL tokens */
	bool has_wol;
	struct wol_stats wol;       /* Wake-on-LAN packets */
	bool has_cache;
	struct decider_cache_stats cache; /* the decision cache */
	bool has_grub;
	struct grub_boot_stats grub;
};

/* Write the exposition text; 0, or -EIO when out failed. */
int http_metrics_format(const struct http_metrics_view *v, FILE *out);

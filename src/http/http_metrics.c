#include "http/http_metrics.h"

#include <errno.h>

static void head(FILE *o, const char *name, const char *type, const char *help)
{
	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *o, const char *name, const char *type, const char *help, uint64_t v)
{
	head(o, name, type, help);
	fprintf(o, "%s %llu\n", name, (unsigned long long)v);
}

int http_metrics_format(const struct http_metrics_view *v, FILE *o)
{
	static const char *const outcomes[] = { "boot", "local", "ignore" };
	static const char *const states[] = { "handed_out", "started", "succeeded", "failed" };
	static const char *const token_reasons[BOOT_TOKEN_STATUSES] = {
		[BOOT_TOKEN_MISSING] = "missing",   [BOOT_TOKEN_MALFORMED] = "malformed",
		[BOOT_TOKEN_UNKNOWN] = "unknown",   [BOOT_TOKEN_EXPIRED] = "expired",
		[BOOT_TOKEN_OTHER_MACHINE] = "other_machine",
		[BOOT_TOKEN_SPENT] = "spent",       [BOOT_TOKEN_BUSY] = "busy",
	};
	const struct http_counters *h = v->http;

	one(o, "pxed_uptime_seconds", "gauge", "Seconds since pxed started.", v->uptime_s);

	head(o, "pxed_http_requests_total", "counter", "HTTP requests completed, by status code.");
	for (unsigned s = 0; s < HTTP_STATUS_MAX; s++)
		if (h->requests[s])
			fprintf(o, "pxed_http_requests_total{code=\"%u\"} %llu\n", s,
				(unsigned long long)h->requests[s]);

	one(o, "pxed_http_connections", "gauge", "HTTP(S) connections open now.", v->conns_held);
	head(o, "pxed_http_connections_refused_total", "counter",
	     "HTTP(S) connections closed at once: MaxConnections (limit) or "
	     "MaxConnectionsPerAddress (per_address) reached.");
	fprintf(o, "pxed_http_connections_refused_total{reason=\"limit\"} %llu\n",
		(unsigned long long)v->conns_refused_limit);
	fprintf(o, "pxed_http_connections_refused_total{reason=\"per_address\"} %llu\n",
		(unsigned long long)v->conns_refused_per_address);

	head(o, "pxed_decisions_total", "counter",
	     "Decisions handed to clients, by path and outcome.");
	for (unsigned i = 0; i < 3; i++)
		fprintf(o, "pxed_decisions_total{via=\"http\",outcome=\"%s\"} %llu\n", outcomes[i],
			(unsigned long long)h->decisions[i]);
	if (v->has_dhcp) {
		/* The DHCP server counts replies and not-serviced requests;
		 * a reply is a boot or local decision. */
		fprintf(o, "pxed_decisions_total{via=\"dhcp\",outcome=\"answered\"} %llu\n",
			(unsigned long long)v->dhcp.answered);
		fprintf(o, "pxed_decisions_total{via=\"dhcp\",outcome=\"ignore\"} %llu\n",
			(unsigned long long)v->dhcp.ignored);
	}

	head(o, "pxed_store_call_seconds", "summary",
	     "Time spent in database-bound calls (decisions and API requests).");
	fprintf(o, "pxed_store_call_seconds_sum %llu.%06llu\n",
		(unsigned long long)(h->store_us / 1000000), (unsigned long long)(h->store_us % 1000000));
	fprintf(o, "pxed_store_call_seconds_count %llu\n", (unsigned long long)h->store_calls);

	if (v->has_store)
		one(o, "pxed_store_rows_read_total", "counter",
		    "Rows read from the database by lists and lookups.", v->store_rows_read);

	one(o, "pxed_api_auth_failures_total", "counter",
	    "API requests refused for a missing, wrong or read-only token.", h->auth_failures);
	one(o, "pxed_pxe_password_failures_total", "counter", "Wrong PXEPassword attempts.",
	    v->pw_failures);
	one(o, "pxed_pxe_password_lockouts_total", "counter",
	    "Clients locked out after too many wrong PXEPassword attempts.", v->pw_lockouts);
	one(o, "pxed_pxe_password_busy_total", "counter",
	    "PXEPassword attempts refused unhashed: too many hashes waiting.", v->pw_busy);

	if (v->has_tokens) {
		const struct boot_token_stats *t = &v->tokens;
		one(o, "pxed_boot_tokens_issued_total", "counter",
		    "Script URL tokens given to iPXE in DHCP answers.", t->issued);
		one(o, "pxed_boot_tokens_spent_total", "counter",
		    "Script URL tokens spent by the hand-out they committed.", t->spent);
		one(o, "pxed_boot_tokens_forgotten_total", "counter",
		    "Unused, unexpired script URL tokens dropped to make room (BootTokens).",
		    t->forgotten);
		head(o, "pxed_boot_tokens_refused_total", "counter",
		     "/boot.ipxe requests answered local disk for want of a valid token, by why.");
		for (unsigned i = BOOT_TOKEN_MISSING; i < BOOT_TOKEN_STATUSES; i++)
			fprintf(o, "pxed_boot_tokens_refused_total{reason=\"%s\"} %llu\n",
				token_reasons[i], (unsigned long long)t->refused[i]);
	}

	one(o, "pxed_console_sessions", "gauge", "Console sessions signed in now.", v->sessions);
	one(o, "pxed_console_logins_total", "counter", "Console sign-ins.", v->session_logins);
	one(o, "pxed_console_login_failures_total", "counter",
	    "Console sign-ins refused for a wrong token.", v->session_failures);
	one(o, "pxed_console_sessions_evicted_total", "counter",
	    "Console sessions ended early because the session table was full.",
	    v->session_evicted);
	one(o, "pxed_console_csrf_refused_total", "counter",
	    "Console requests refused for a missing or wrong CSRF token or a foreign Origin.",
	    v->session_refused);
	one(o, "pxed_event_streams", "gauge", "Live decision streams open now.",
	    v->stream.subscribers);
	one(o, "pxed_event_stream_published_total", "counter",
	    "Decisions published to the live stream.", v->stream.published);
	one(o, "pxed_event_stream_dropped_total", "counter",
	    "Decisions a slow live-stream client missed (it fell a whole buffer behind).",
	    v->stream.dropped + v->stream.too_large);
	one(o, "pxed_event_stream_refused_total", "counter",
	    "Live streams refused: MaxEventStreams open.", v->stream.refused);

	head(o, "pxed_reports_total", "counter",
	     "Deployment boots handed out with a report token, and installer reports by state.");
	for (unsigned i = 0; i < HTTP_REPORT_STATES; i++)
		fprintf(o, "pxed_reports_total{state=\"%s\"} %llu\n", states[i],
			(unsigned long long)h->reports[i]);
	head(o, "pxed_answer_files_total", "counter",
	     "Answer file requests (/answers/): served, or refused (bad token, no template, "
	     "render error).");
	fprintf(o, "pxed_answer_files_total{result=\"served\"} %llu\n",
		(unsigned long long)h->answers[HTTP_ANSWER_SERVED]);
	fprintf(o, "pxed_answer_files_total{result=\"refused\"} %llu\n",
		(unsigned long long)h->answers[HTTP_ANSWER_REFUSED]);
	head(o, "pxed_cmdline_render_failures_total", "counter",
	     "Deployment hand-outs sent to the local disk because the command line did not render.");
	fprintf(o, "pxed_cmdline_render_failures_total %llu\n",
		(unsigned long long)(h->cmdline_refused +
				     (v->has_grub ? v->grub.cmdline_refused : 0)));
	head(o, "pxed_wake_requests_total", "counter", "Wake-on-LAN requests sent.");
	fprintf(o, "pxed_wake_requests_total %llu\n", (unsigned long long)h->wake_sent);
	if (v->has_wol) {
		head(o, "pxed_wake_packets_total", "counter",
		     "Wake-on-LAN magic packets sent: to an interface's broadcast address, or to "
		     "a relayed subnet's directed broadcast.");
		fprintf(o, "pxed_wake_packets_total{to=\"broadcast\"} %llu\n",
			(unsigned long long)(v->wol.packets - v->wol.directed));
		fprintf(o, "pxed_wake_packets_total{to=\"directed\"} %llu\n",
			(unsigned long long)v->wol.directed);
		one(o, "pxed_wake_send_errors_total", "counter",
		    "Wake-on-LAN magic packets that failed to send.", v->wol.errors);
		one(o, "pxed_wake_refused_total", "counter",
		    "Wake-on-LAN requests refused: too many machines being woken at once.",
		    v->wol.busy);
		one(o, "pxed_wake_pending", "gauge", "Machines being woken now.", v->wol.pending);
	}

	if (v->has_dhcp) {
		const struct dhcp_stats *d = &v->dhcp;
		one(o, "pxed_dhcp_received_total", "counter", "DHCP datagrams received.", d->received);
		one(o, "pxed_dhcp_answered_total", "counter", "ProxyDHCP replies sent.", d->answered);
		one(o, "pxed_dhcp_local_boot_total", "counter",
		    "Replies that sent plain PXE firmware to its local disk (boot menu).",
		    d->local_menu);
		one(o, "pxed_dhcp_ignored_total", "counter",
		    "PXE requests decided not serviced.", d->ignored);
		one(o, "pxed_dhcp_malformed_total", "counter", "Malformed DHCP datagrams.",
		    d->malformed);
		one(o, "pxed_dhcp_send_errors_total", "counter", "DHCP replies that failed to send.",
		    d->send_errors);
		one(o, "pxed_dhcp_deferred_total", "counter",
		    "PXE requests not in the cache, decided on the worker.", d->deferred);
		one(o, "pxed_dhcp_coalesced_total", "counter",
		    "Retries dropped while the same client's request was being decided.",
		    d->coalesced);
		one(o, "pxed_dhcp_busy_total", "counter",
		    "PXE requests dropped: too many waiting for the database.", d->busy);
		one(o, "pxed_dhcp_socket_drops_total", "counter",
		    "DHCP datagrams the kernel dropped: the socket's receive buffer was full.",
		    d->socket_drops);
	}
	if (v->has_cache) {
		const struct decider_cache_stats *k = &v->cache;
		one(o, "pxed_decisions_repeated_total", "counter",
		    "Decisions repeating one recorded within DecisionRepeatWindow: counted "
		    "into its summary, not recorded or logged each.", k->events_coalesced);
		one(o, "pxed_unknown_machines_refused_total", "counter",
		    "Unknown machines not recorded: more than UnknownMachinesPerMinute.",
		    k->unknown_refused);
		one(o, "pxed_decision_cache_hits_total", "counter",
		    "Decisions answered from the cache.", k->hits);
		one(o, "pxed_decision_cache_misses_total", "counter",
		    "Decisions computed from the store.", k->misses);
		one(o, "pxed_decision_cache_invalidations_total", "counter",
		    "Cached answers found stale: the store or the settings changed.",
		    k->invalidations);
		one(o, "pxed_decision_cache_expirations_total", "counter",
		    "Cached answers older than CacheExpire or a deployment window edge.",
		    k->expirations);
		one(o, "pxed_decision_cache_evictions_total", "counter",
		    "Cached answers dropped to stay within the limit.", k->evictions);
		one(o, "pxed_decision_cache_entries", "gauge", "Answers in the cache now.",
		    k->entries);
		one(o, "pxed_decision_events_queued", "gauge",
		    "Boot events waiting to be written (the database slow or down).",
		    k->events_queued);
		one(o, "pxed_decision_events_dropped_total", "counter",
		    "Boot events dropped: the queue was full while the database failed.",
		    k->events_dropped);
	}
	if (v->has_tftp) {
		const struct tftp_stats *t = &v->tftp;
		one(o, "pxed_tftp_transfers_active", "gauge", "TFTP transfers running now.",
		    t->active);
		head(o, "pxed_tftp_transfers_total", "counter", "TFTP transfers ended, by result.");
		fprintf(o, "pxed_tftp_transfers_total{result=\"completed\"} %llu\n",
			(unsigned long long)t->completed);
		fprintf(o, "pxed_tftp_transfers_total{result=\"failed\"} %llu\n",
			(unsigned long long)t->failed);
		fprintf(o, "pxed_tftp_transfers_total{result=\"aborted\"} %llu\n",
			(unsigned long long)t->aborted);
		one(o, "pxed_tftp_requests_refused_total", "counter",
		    "TFTP requests answered with an error.", t->refused);
		one(o, "pxed_tftp_requests_busy_total", "counter",
		    "TFTP requests refused with an error at MaxTransfers.", t->busy);
		one(o, "pxed_tftp_requests_busy_per_address_total", "counter",
		    "TFTP requests refused with an error at MaxTransfersPerAddress.",
		    t->busy_per_address);
		one(o, "pxed_tftp_transfers_unacknowledged_total", "counter",
		    "TFTP transfers given up because the client never acknowledged "
		    "(forged or lost requests).", t->unacknowledged);
		one(o, "pxed_tftp_sent_bytes_total", "counter", "File bytes sent over TFTP.",
		    t->bytes);
		one(o, "pxed_tftp_retransmissions_total", "counter",
		    "TFTP DATA/OACK packets sent again.", t->retransmits);
	}
	if (v->has_grub) {
		one(o, "pxed_grub_configs_total", "counter",
		    "Per-machine GRUB configurations that started a deployment.", v->grub.configs);
		one(o, "pxed_grub_configs_refused_total", "counter",
		    "Per-machine GRUB configurations refused: no recent DHCP exchange from "
		    "that machine at that address.", v->grub.refused);
		one(o, "pxed_grub_next_server_missing_total", "counter",
		    "Machines whose GRUB never asked pxed for its configuration (the site "
		    "DHCP server does not name pxed as next-server).", v->grub.next_server);
	}
	return ferror(o) ? -EIO : 0;
}

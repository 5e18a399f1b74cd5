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

	one(o, "pxed_api_auth_failures_total", "counter",
	    "API requests refused for a missing, wrong or read-only token.", h->auth_failures);
	one(o, "pxed_pxe_password_failures_total", "counter", "Wrong PXEPassword attempts.",
	    v->pw_failures);
	one(o, "pxed_pxe_password_lockouts_total", "counter",
	    "Clients locked out after too many wrong PXEPassword attempts.", v->pw_lockouts);

	head(o, "pxed_reports_total", "counter",
	     "Deployment boots handed out with a report token, and installer reports by state.");
	for (unsigned i = 0; i < HTTP_REPORT_STATES; i++)
		fprintf(o, "pxed_reports_total{state=\"%s\"} %llu\n", states[i],
			(unsigned long long)h->reports[i]);

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
	}
	if (v->has_cache) {
		const struct decider_cache_stats *k = &v->cache;
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
	return ferror(o) ? -EIO : 0;
}

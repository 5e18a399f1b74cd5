/* http_server: the transport (MHD on pxed's loop, both listeners),
 * routing and deferring to the worker.  The routes live beside it: the
 * plain ones in http_routes.c, the admin API in api.c and api_*.c, the
 * /boot.ipxe flow in http_boot.c, the console in http_ui.c. */
#include "http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/content.h"
#include "common/log.h"
#include "common/util.h"
#include "conf/conf.h"
#include "decide/boot_token.h"
#include "decide/decide.h"
#include "http/grub_script.h"
#include "http/http_answers.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/http_stream.h"
#include "http/http_ui.h"
#include "dhcp/dhcp_server.h"
#include "tftp/tftp_server.h"

#define MOD "http"
/* PXEPassword hashes waiting for their thread at most (one more runs). */
#define HTTP_PW_QUEUE 4

/* ---- responses ---------------------------------------------------------- */

enum MHD_Result http_queue(struct MHD_Connection *c, struct http_request *r, unsigned status,
			   struct MHD_Response *resp)
{
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	r->status = status;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result http_reply_text(struct MHD_Connection *c, struct http_request *r,
				unsigned status, const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	return http_queue(c, r, status, resp);
}

enum MHD_Result http_reply_error(struct MHD_Connection *c, struct http_request *r,
				 unsigned status, const char *code, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	json_t *o;
	char *txt, *nl;
	size_t n;
	struct MHD_Response *resp;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s, s:s}", "error", code, "detail", detail);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!txt)
		return MHD_NO;
	n = strlen(txt);
	nl = realloc(txt, n + 2); /* end with a newline, as every API reply */
	if (!nl) {
		free(txt);
		return MHD_NO;
	}
	txt = nl;
	txt[n] = '\n';
	txt[n + 1] = '\0';
	resp = MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(txt);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return http_queue(c, r, status, resp);
}

/* ---- the URLs scripts carry ----------------------------------------------- */

/* Host header as the client wrote it, if it is a plain host[:port];
 * otherwise the address the client connected to.  The result goes into a
 * script the client executes, so nothing else passes (boot_script_build
 * checks again). */
static void request_base_url(struct MHD_Connection *c, const struct http_listener *via, char *out,
			     size_t len)
{
	const char *scheme = via->tls ? "https" : "http";
	uint16_t port = via->port;
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char authority[INET6_ADDRSTRLEN + 8];

	if (host && *host && strlen(host) <= 255 &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
		    strlen(host)) {
		snprintf(out, len, "%s://%s", scheme, host);
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    url_host_format(&ss, port, authority, sizeof(authority)) < 0)
		snprintf(authority, sizeof(authority), "127.0.0.1:%u", port);
	snprintf(out, len, "%s://%s", scheme, authority);
}

void http_request_base_url(struct MHD_Connection *c, const struct http_listener *via, char *out,
			   size_t len)
{
	request_base_url(c, via, out, len);
}

void http_client_addr(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, len, "?");
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
			  (socklen_t)len);
	else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
			  (socklen_t)len);
}


/* ---- work on the worker --------------------------------------------------- */

static void mhd_drive(struct http_listener *l);

static void defer_work(struct ev_work_job *job)
{
	struct http_request *r = job->data;
	r->work(r->srv, r->conn, r);
}

static void defer_done(struct ev_work_job *job, bool cancelled)
{
	struct http_request *r = job->data;
	r->suspended = false;
	r->resumed = true;
	r->cancelled = cancelled;
	if (r->exclusive && !cancelled)
		r->work(r->srv, r->conn, r); /* no job runs now */
	MHD_resume_connection(r->conn);
	/* MHD calls the access handler again from its next run: now. */
	mhd_drive(r->via);
}

/* Queue work on w with the connection suspended; 0, or what
 * ev_work_submit() refused with (nothing queued, nothing answered). */
static int defer_on(struct http_server *s, struct ev_work *w, struct MHD_Connection *c,
		    struct http_request *r, http_work_fn work, http_handler resume)
{
	int rc;
	r->srv = s;
	r->conn = c;
	r->work = work;
	r->resume = resume;
	r->exclusive = false;
	ev_work_job_init(&r->job, defer_work, defer_done, r);
	rc = ev_work_submit(w, &r->job);
	if (rc < 0)
		return rc;
	MHD_suspend_connection(c);
	r->suspended = true;
	return 0;
}

static enum MHD_Result defer(struct http_server *s, struct MHD_Connection *c,
			     struct http_request *r, const char *url, http_work_fn work,
			     http_handler resume, bool exclusive)
{
	int rc;
	if (!s->work) {
		work(s, c, r);
		return resume(s, c, r, url);
	}
	if (exclusive) {
		r->srv = s;
		r->conn = c;
		r->work = work;
		r->resume = resume;
		r->exclusive = true;
		ev_work_job_init(&r->job, NULL, defer_done, r);
		rc = ev_work_submit_exclusive(s->work, &r->job);
		if (rc == 0) {
			MHD_suspend_connection(c);
			r->suspended = true;
		}
	} else {
		rc = defer_on(s, s->work, c, r, work, resume);
	}
	if (rc < 0) {
		struct MHD_Response *resp;
		log_warn(MOD, "%s %s: refused, %s", r->method_name, r->url_log,
			 rc == -EAGAIN ? "too many requests waiting for the database" : "stopping");
		if (r->route && r->route->json)
			return http_reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
						"too many requests waiting for the database");
		resp = MHD_create_response_from_buffer(5, (void *)"busy\n", MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return http_queue(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
	}
	return MHD_YES;
}

int http_defer_on(struct http_server *s, struct ev_work *w, struct MHD_Connection *c,
		  struct http_request *r, http_work_fn work, http_handler resume)
{
	return defer_on(s, w, c, r, work, resume);
}

enum MHD_Result http_defer(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			   const char *url, http_work_fn work, http_handler resume)
{
	return defer(s, c, r, url, work, resume, false);
}

enum MHD_Result http_defer_exclusive(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url, http_work_fn work,
				     http_handler resume)
{
	return defer(s, c, r, url, work, resume, true);
}

void http_server_kick(struct http_server *s)
{
	if (s->plain.mhd)
		mhd_drive(&s->plain);
	if (s->https.mhd)
		mhd_drive(&s->https);
}

/* ---- routing ------------------------------------------------------------- */

/* First match wins; a path that matches with the wrong method is 405. */
static const struct http_route routes[] = {
	{ .path = "/healthz", .methods = HTTP_GET | HTTP_HEAD, .allow = "GET, HEAD",
	  .handler = http_route_healthz },
	{ .path = "/boot.ipxe", .methods = HTTP_GET, .allow = "GET", .handler = http_boot_ipxe },
	{ .path = "/grub/grub.cfg", .methods = HTTP_GET, .allow = "GET",
	  .handler = http_route_grub_cfg },
	{ .path = "/files/", .methods = HTTP_GET | HTTP_HEAD, .allow = "GET, HEAD",
	  .handler = http_route_files },
	{ .path = "/metrics", .methods = HTTP_GET, .allow = "GET", .handler = http_route_metrics },
	{ .path = "/ui", .methods = HTTP_GET | HTTP_HEAD, .allow = "GET, HEAD",
	  .handler = http_ui_static },
	{ .path = "/ui/", .methods = HTTP_GET | HTTP_HEAD, .allow = "GET, HEAD",
	  .handler = http_ui_static },
	/* TOKEN/NAME: a boot's answer files; its report token is the credential */
	{ .path = "/answers/", .methods = HTTP_GET, .allow = "GET", .handler = http_answers_route },
};

static const struct http_route *route_find_in(const struct http_route *t, size_t n_t,
					      const char *url)
{
	for (size_t i = 0; i < n_t; i++) {
		const char *p = t[i].path;
		size_t n = strlen(p);
		if (p[n - 1] == '/' ? strncmp(url, p, n) == 0 : strcmp(url, p) == 0)
			return &t[i];
	}
	return NULL;
}

/* The API's paths are in its own table (http_api_gates, api.c). */
static const struct http_route *route_find(const char *url)
{
	if (!strncmp(url, "/api/", 5))
		return route_find_in(http_api_gates, http_api_n_gates, url);
	return route_find_in(routes, ARRAY_SIZE(routes), url);
}

static enum http_method method_parse(const char *m)
{
	if (!strcmp(m, MHD_HTTP_METHOD_GET))
		return HTTP_GET;
	if (!strcmp(m, MHD_HTTP_METHOD_HEAD))
		return HTTP_HEAD;
	if (!strcmp(m, MHD_HTTP_METHOD_POST))
		return HTTP_POST;
	if (!strcmp(m, MHD_HTTP_METHOD_PUT))
		return HTTP_PUT;
	if (!strcmp(m, MHD_HTTP_METHOD_PATCH))
		return HTTP_PATCH;
	if (!strcmp(m, MHD_HTTP_METHOD_DELETE))
		return HTTP_DELETE;
	return HTTP_OTHER;
}

/* First call for a request: state, and the refusals that need no body. */
static enum MHD_Result request_begin(struct http_listener *l, struct MHD_Connection *c,
				     const char *url, const char *method, struct http_request *r)
{
	struct http_server *s = l->s;
	const char *cl;
	unsigned long long len;

	r->via = l;
	r->start_ms = now_ms();
	r->method = method_parse(method);
	log_escape(r->method_name, sizeof(r->method_name), method, strlen(method));
	log_escape(r->url_log, sizeof(r->url_log), url, strlen(url));
	str_copy(r->url_full, sizeof(r->url_full), url); /* a longer one fails the name check */
	r->route = route_find(url);
	if (!r->route) {
		if (!strncmp(url, "/api/", 5))
			return http_reply_error(c, r, MHD_HTTP_NOT_FOUND, "not_found",
						"no such API endpoint");
		return http_reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	if (!(r->route->methods & r->method)) {
		struct MHD_Response *resp;
		if (r->route->json)
			return http_reply_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED,
						"method_not_allowed", "%s is not allowed here; use %s",
						r->method_name, r->route->allow);
		resp = MHD_create_response_from_buffer(19, (void *)"method not allowed\n",
						       MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->route->allow);
		return http_queue(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	if (r->route->json && !r->route->open && !l->tls && s->conf->http_admin_https_only)
		return http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "https_required",
					"the admin API is served over HTTPS only (port %u)",
					s->https.port);
	/* The API, reads included: the inventory (devices, MACs, events,
	 * settings) is nobody's business on the LAN.  The admin token reads
	 * and changes; the read-only token only reads. */
	if (r->route->json && !r->route->open) {
		const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_AUTHORIZATION);
		const char *tok = http_bearer_token(a);
		enum MHD_Result reply;
		int by_cookie = a ? 0 : http_ui_cookie_auth(s, c, r, &reply);
		if (by_cookie < 0)
			return reply;
		if (by_cookie > 0)
			goto authorized;
		bool admin = http_token_equal(tok, s->token);
		bool reader = !admin && http_token_equal(tok, s->read_token);
		bool change = (r->method & HTTP_CHANGES) != 0;
		if (!admin && (change || !reader)) {
			const union MHD_ConnectionInfo *ci =
				MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			char addr[INET6_ADDRSTRLEN] = "?";
			if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr,
					  addr, sizeof(addr));
			else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
				inet_ntop(AF_INET6,
					  &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, addr,
					  sizeof(addr));
			s->counters.auth_failures++;
			log_warn(MOD, "%s %s from %s: refused, %s API token", r->method_name, r->url_log,
				 addr, reader ? "read-only" : tok ? "wrong" : "no");
			if (reader)
				return http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "read_only",
							"the read-only API token cannot change "
							"anything; use the admin token");
			return http_reply_error(c, r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
						"%s", tok ? "the API token is wrong"
							  : "the API needs 'Authorization: Bearer TOKEN' "
							    "(the admin token is in [http] TokenFile, the "
							    "read-only one in ReadTokenFile)");
		}
	}
authorized:
	/* Refuse an announced oversized body before reading any of it. */
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && parse_uint(cl, 0, ULLONG_MAX, &len) == 0 &&
	    len > (r->route->handler == http_api_devices_import ? HTTP_IMPORT_MAX_BODY
								 : HTTP_MAX_BODY)) {
		log_warn(MOD, "%s %s: body of %llu bytes refused (limit %d)", r->method_name,
			 r->url_log, len,
			 r->route->handler == http_api_devices_import ? HTTP_IMPORT_MAX_BODY
								      : HTTP_MAX_BODY);
		return http_reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					"request body is larger than %d bytes",
					r->route->handler == http_api_devices_import
						? HTTP_IMPORT_MAX_BODY
						: HTTP_MAX_BODY);
	}
	return MHD_YES;
}

/* Append a piece of the body; past the cap, remember and drop the rest. */
static void request_body_add(struct http_request *r, const char *data, size_t n)
{
	size_t cap;
	char *nb;
	if (r->body_too_large || !(r->method & HTTP_CHANGES))
		return;
	if (r->route && r->route->handler == http_api_devices_import) {
		if (http_api_import_chunk(r, data, n) < 0)
			r->body_too_large = true;
		return;
	}
	if (n > HTTP_MAX_BODY - r->body_len) {
		r->body_too_large = true;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		cap = r->body_cap ? r->body_cap : 1024;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (!nb) {
			r->body_too_large = true;
			return;
		}
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_listener *l = cls;
	struct http_server *s = l->s;
	struct http_request *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		return request_begin(l, c, url, method, r);
	}
	if (r->resumed) {
		/* Back from the worker (http_defer()). */
		r->resumed = false;
		return r->resume(s, c, r, url);
	}
	if (r->status)
		return MHD_YES; /* already answered (early refusal) */
	if (*upload_data_size) {
		request_body_add(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->body_too_large) {
		if (r->route->handler == http_api_devices_import) {
			log_warn(MOD, "%s %s: import refused, over %d bytes or %d devices",
				 r->method_name, r->url_log, HTTP_IMPORT_MAX_BODY,
				 HTTP_IMPORT_MAX_DEVICES);
			return http_reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
						"an import is at most %d bytes and %d devices",
						HTTP_IMPORT_MAX_BODY, HTTP_IMPORT_MAX_DEVICES);
		}
		log_warn(MOD, "%s %s: body refused, over %d bytes", r->method_name, r->url_log,
			 HTTP_MAX_BODY);
		return http_reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					"request body is larger than %d bytes", HTTP_MAX_BODY);
	}
	return r->route->handler(s, c, r, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_listener *l = cls;
	struct http_server *s = l->s;
	struct http_request *r = *con_cls;
	if (!r)
		return;
	s->n_requests++;
	if (r->status >= 100 && r->status < HTTP_STATUS_MAX) /* 0: aborted before an answer */
		s->counters.requests[r->status]++;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_debug(MOD, "%s %s %u %llu ms", r->method_name, r->url_log, r->status,
			  (unsigned long long)(now_ms() - r->start_ms));
	else
		log_debug(MOD, "%s %s %u aborted (%d)", r->method_name, r->url_log, r->status,
			  (int)toe);
	if (r->state_free)
		r->state_free(r->state);
	if (r->stream_free)
		r->stream_free(r->stream);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* MHD's own diagnostics (connection limit reached, accept errors...). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn(MOD, "%s", msg);
}

/* Percent-decoding for the URL and query arguments (RFC 3986 §2.1).  Like
 * MHD's own, except that %00 becomes \x01: a NUL would silently end the
 * name early ("a.efi%00.txt"), a control byte is refused by the handlers. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		int hi, lo;
		if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
			char v = (char)(hi << 4 | lo);
			*w++ = v ? v : '\x01';
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* ---- the loop ------------------------------------------------------------ */

static unsigned mhd_connections(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return i ? i->num_connections : 0;
}

static void mhd_drive(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG t;
	unsigned before = mhd_connections(l->mhd);
	if (MHD_run(l->mhd) != MHD_YES)
		log_warn(MOD, "MHD_run failed");
	/* MHD (0.9.75, epoll mode) puts its listening socket back into its
	 * epoll set only at the start of a run, and frees closed connections
	 * at the end of one.  When a run closed connections after MHD had
	 * stopped accepting (its own limit, or out of descriptors), nothing
	 * else may ever wake it: with no connection left, it has no timeout
	 * and its epoll fd has nothing to report.  Run it again at once, so
	 * it listens again. */
	if (mhd_connections(l->mhd) < before) {
		ev_timer_start(l->s->loop, &l->timer, 0);
		return;
	}
	/* MHD_get_timeout is 0 when it still has buffered work to do. */
	if (MHD_get_timeout(l->mhd, &t) == MHD_YES)
		ev_timer_start(l->s->loop, &l->timer, t);
	else
		ev_timer_stop(l->s->loop, &l->timer);
}

/* MHD's accept policy: the connection limits (http_gate.h).  Refused
 * connections are closed by MHD at once; the log says so at most once a
 * second. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http_listener *l = cls;
	struct http_server *s = l->s;
	enum http_gate_verdict v;
	uint64_t t;

	s->gate.per_address = s->conf->http_max_per_address; /* changes at run time */
	v = http_gate_check(&s->gate, sa, len);
	if (v == HTTP_GATE_ADMIT)
		return MHD_YES;
	s->gate_since_log++;
	t = now_ms();
	if (s->gate_logged_ms == 0 || t - s->gate_logged_ms >= 1000) {
		char addr[INET6_ADDRSTRLEN] = "?";
		if (sa && sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa && sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
		log_warn(MOD, "%s: %llu connection(s) refused, latest from %s (%u held)",
			 v == HTTP_GATE_FULL ? "MaxConnections reached"
					     : "MaxConnectionsPerAddress reached",
			 (unsigned long long)s->gate_since_log, addr, s->gate.held);
		s->gate_logged_ms = t;
		s->gate_since_log = 0;
	}
	return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_listener *l = cls;
	struct http_server *s = l->s;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = ci ? ci->client_addr : NULL;
		socklen_t len = !sa ? 0 : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								 : sizeof(struct sockaddr_in);
		int slot = http_gate_enter(&s->gate, sa, len);
		*socket_context = (void *)(intptr_t)(slot + 1); /* 0: none */
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_gate_leave(&s->gate, (int)(intptr_t)*socket_context - 1);
		*socket_context = NULL;
	}
}

static void on_mhd_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	mhd_drive(io->data);
}

static void on_mhd_timer(struct ev_loop *loop, struct ev_timer *t)
{
	mhd_drive(t->data);
}

/* sendfile() raises SIGPIPE when a client goes away mid-file, so MHD uses
 * it only when told SIGPIPE cannot kill us: ignored or blocked. */
static int sigpipe_handled(void)
{
	struct sigaction sa;
	sigset_t cur;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		return 1;
	if (sigprocmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGPIPE) == 1)
		return 1;
	return 0;
}

/* conf->http_address into a socket address; "" is every address. */
static int listen_addr(const struct pxed_conf *conf, uint16_t port, struct sockaddr_storage *ss,
		       unsigned *flags)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (!conf->http_address[0] || !strcmp(conf->http_address, "0.0.0.0")) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET, conf->http_address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, conf->http_address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*flags |= MHD_USE_IPv6;
		return 0;
	}
	return -EINVAL;
}

/* A whole PEM file into memory, NUL-terminated (MHD wants a string). */
static int pem_read(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, n;
	int r = 0;
	if (!f)
		return -errno;
	buf = malloc(65536);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, 65535, f);
	if (ferror(f))
		r = -EIO;
	else if (!feof(f))
		r = -EFBIG; /* no PEM key or chain is this large */
	len = n;
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* A private key others can read is a key others have: refuse it (-EPERM)
 * rather than serve with it.  The file is the admin's: pxed does not
 * change its mode. */
static int key_file_check(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

static int listener_start(struct http_server *s, struct http_listener *l,
			  const struct pxed_conf *conf, uint16_t port, bool tls)
{
	struct sockaddr_storage ss;
	/* Suspend/resume: a request whose store call runs on the worker
	 * waits suspended, so the loop serves everyone else meanwhile. */
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	const union MHD_DaemonInfo *info;
	const char *what = tls ? "HTTPS" : "HTTP";
	/* MHD's own limit stays out of reach (see http_gate.h); the gate,
	 * shared by both listeners, refuses first. */
	unsigned mhd_limit = conf->http_max_connections + 16;
	int r;

	if (listen_addr(conf, port, &ss, &flags) < 0) {
		log_error(MOD, "[http] Address '%s' is not an IPv4 or IPv6 address",
			  conf->http_address);
		return -EINVAL;
	}
	l->s = s;
	l->tls = tls;
	l->port = port;
	ev_io_init(&l->io, -1, on_mhd_io, l);
	ev_timer_init(&l->timer, on_mhd_timer, l);
	errno = 0;
	if (tls) {
		flags |= MHD_USE_TLS;
		l->mhd = MHD_start_daemon(
			flags, port, on_accept, l, on_request, l,
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert,
			MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
			/* TLS 1.2 and 1.3 only: 1.0 and 1.1 are deprecated
			 * (RFC 8996). */
			MHD_OPTION_HTTPS_PRIORITIES, HTTP_TLS_PRIORITIES,
			MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
			MHD_OPTION_SIGPIPE_HANDLED_BY_APP, sigpipe_handled(),
			MHD_OPTION_END);
	} else {
		l->mhd = MHD_start_daemon(
			flags, port, on_accept, l, on_request, l,
			/* first, so MHD's option errors reach our log too */
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
			MHD_OPTION_SIGPIPE_HANDLED_BY_APP, sigpipe_handled(),
			MHD_OPTION_END);
	}
	if (!l->mhd) {
		r = errno == EADDRINUSE || errno == EACCES ? -errno : -EIO;
		log_error(MOD, "cannot listen for %s on %s:%u: %s%s", what,
			  conf->http_address[0] ? conf->http_address : "*", port, strerror(-r),
			  tls && r == -EIO ? " (check TLSCertificate and TLSKey)" : "");
		return r;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		log_error(MOD, "libmicrohttpd has no epoll fd");
		return -EIO;
	}
	ev_io_init(&l->io, info->epoll_fd, on_mhd_io, l);
	if (!port) { /* port 0: let the kernel choose (tests) */
		const union MHD_DaemonInfo *pi = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
		if (pi)
			l->port = pi->port;
	}
	r = ev_io_start(s->loop, &l->io, EV_READ);
	if (r < 0) {
		log_error(MOD, "cannot watch libmicrohttpd: %s", strerror(-r));
		return r;
	}
	log_info(MOD, "listening for %s on %s:%u", what,
		 conf->http_address[0] ? conf->http_address : "*", l->port);
	return 0;
}

static void listener_stop(struct http_server *s, struct http_listener *l)
{
	if (!l->mhd)
		return;
	ev_io_stop(s->loop, &l->io);
	ev_timer_stop(s->loop, &l->timer);
	MHD_stop_daemon(l->mhd);
	l->mhd = NULL;
}

int http_server_new(struct ev_loop *loop, const struct pxed_conf *conf, struct decider *dec,
		    struct store *store, const struct content *content, struct ev_work *work,
		    struct http_server **out)
{
	struct http_server *s;
	bool created;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->conf = conf;
	s->dec = dec;
	s->store = store;
	s->content = content;
	s->work = work;
	s->port = conf->http_port;
	s->started_ms = now_ms();
	pthread_mutex_init(&s->answer_refusals.lock, NULL);
	s->pw = calloc(1, sizeof(*s->pw));
	s->pw_src = calloc(1, sizeof(*s->pw_src));
	if (!s->pw || !s->pw_src) {
		r = -ENOMEM;
		goto err;
	}
	if ((r = http_gate_init(&s->gate, conf->http_max_connections,
				conf->http_max_per_address)) < 0)
		goto err;
	s->pw_src->max_failures = HTTP_PW_SOURCE_MAX_FAILURES;
	/* PXEPassword hashes (yescrypt, ~25 ms each by design) on a thread
	 * of their own: the same ev_work mechanism, a separate instance and
	 * queue, so slow hashing never delays decisions or the API. */
	if (work && (r = ev_work_new(loop, 1, HTTP_PW_QUEUE, &s->pw_work)) < 0)
		goto err;
	r = http_token_load(conf->http_token_file, s->token, &created);
	if (r < 0) {
		log_error(MOD, "API token file %s: %s%s", conf->http_token_file, strerror(-r),
			  r == -EPERM ? " (it must be a regular file of mode 0600 or stricter)"
			  : r == -EINVAL ? " (it holds no token)" : "");
		goto err;
	}
	if (created)
		log_info(MOD, "API token created in %s (mode 0600)", conf->http_token_file);
	else
		log_info(MOD, "API token read from %s", conf->http_token_file);
	r = http_token_load(conf->http_read_token_file, s->read_token, &created);
	if (r < 0) {
		log_error(MOD, "read-only API token file %s: %s%s", conf->http_read_token_file,
			  strerror(-r),
			  r == -EPERM ? " (it must be a regular file of mode 0600 or stricter)"
			  : r == -EINVAL ? " (it holds no token)" : "");
		goto err;
	}
	if (!strcmp(s->read_token, s->token)) {
		log_error(MOD, "read-only API token file %s holds the admin token",
			  conf->http_read_token_file);
		r = -EINVAL;
		goto err;
	}
	if (created)
		log_info(MOD, "read-only API token created in %s (mode 0600)",
			 conf->http_read_token_file);
	else
		log_info(MOD, "read-only API token read from %s", conf->http_read_token_file);
	if (conf->http_https_port) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			log_error(MOD, "HTTPSPort: this libmicrohttpd has no TLS support");
			r = -ENOTSUP;
			goto err;
		}
		if ((r = pem_read(conf->http_tls_cert, &s->tls_cert)) < 0) {
			log_error(MOD, "TLSCertificate %s: %s", conf->http_tls_cert, strerror(-r));
			goto err;
		}
		if ((r = key_file_check(conf->http_tls_key)) < 0) {
			log_error(MOD, "TLSKey %s: %s%s", conf->http_tls_key, strerror(-r),
				  r == -EPERM ? " (a private key must not be readable by group or "
						"others: chmod 600 it)" : "");
			goto err;
		}
		if ((r = pem_read(conf->http_tls_key, &s->tls_key)) < 0) {
			log_error(MOD, "TLSKey %s: %s", conf->http_tls_key, strerror(-r));
			goto err;
		}
	}
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		str_copy(s->hostname, sizeof(s->hostname), "pxed");
	if ((r = http_stream_hub_new(s, &s->hub)) < 0) {
		log_error(MOD, "live event stream: %s", strerror(-r));
		goto err;
	}
	if (dec)
		decider_set_publish(dec, http_stream_publish, s->hub);
	if ((r = listener_start(s, &s->plain, conf, conf->http_port, false)) < 0)
		goto err;
	s->mhd = s->plain.mhd;
	s->port = s->plain.port;
	if (conf->http_https_port &&
	    (r = listener_start(s, &s->https, conf, (uint16_t)conf->http_https_port, true)) < 0)
		goto err;
	if (!sigpipe_handled())
		log_info(MOD, "SIGPIPE is not ignored: files are sent without sendfile()");
	*out = s;
	return 0;
err:
	http_server_free(s);
	return r;
}

void http_server_set_sources(struct http_server *s, const struct http_metrics_sources *src)
{
	s->src = *src;
}

void http_server_set_tokens(struct http_server *s, struct boot_tokens *tokens)
{
	s->tokens = tokens;
}

void http_server_set_wol(struct http_server *s, struct wol_sched *wol)
{
	s->wol = wol;
}

void http_server_set_settings(struct http_server *s, struct pxed_conf *conf,
			      void (*applied)(void *ctx, const char *what), void *ctx)
{
	s->conf_rw = conf;
	s->settings_applied = applied;
	s->settings_ctx = ctx;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->dec && s->hub)
		decider_set_publish(s->dec, NULL, NULL);
	/* MHD refuses to stop while a connection is suspended. */
	http_stream_close_all(s->hub);
	/* First: its completions resume connections of the listeners. */
	ev_work_free(s->pw_work);
	listener_stop(s, &s->https);
	listener_stop(s, &s->plain);
	http_stream_hub_free(s->hub);
	explicit_bzero(&s->sessions, sizeof(s->sessions));
	if (s->tls_key) {
		explicit_bzero(s->tls_key, strlen(s->tls_key));
		free(s->tls_key);
	}
	free(s->tls_cert);
	explicit_bzero(s->token, sizeof(s->token));
	explicit_bzero(s->read_token, sizeof(s->read_token));
	free(s->pw);
	http_gate_fini(&s->gate);
	free(s->pw_src);
	pthread_mutex_destroy(&s->answer_refusals.lock);
	free(s);
}

/* http_ui: the console's files and its sign-in (see http_ui.h).
 *
 * A request to /api/v1/ without an Authorization header is looked at
 * here (http_ui_cookie_auth()):
 *   1. the pxed_session cookie must name a live session (else 401);
 *   2. a change (POST, PUT, PATCH, DELETE) needs the admin role, an
 *      X-CSRF-Token header equal to the session's, and an Origin header
 *      naming this server: a page elsewhere can neither read the token
 *      nor send the header, and SameSite=Strict already keeps the cookie
 *      off its requests (RFC 6265bis §8.8);
 *   3. a read needs only the session. */
#include "http/http_ui.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "conf/conf.h"
#include "http/http_internal.h"

#define MOD "http"

/* No inline script or style, nothing from elsewhere; the console may not
 * be framed (clickjacking) and its forms post only here. */
#define UI_CSP                                                                          \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const struct http_ui_file *http_ui_file_find(const char *name)
{
	if (!*name)
		name = "index.html";
	for (size_t i = 0; i < http_ui_n_files; i++)
		if (!strcmp(http_ui_files[i].name, name))
			return &http_ui_files[i];
	return NULL;
}

static void ui_security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static bool ui_https_refused(struct http_server *s, struct http_request *r)
{
	return !r->via->tls && s->conf->http_admin_https_only;
}

/* GET /ui/NAME: the built-in files.  Revalidated on each use (no-cache)
 * with the ETag, so a new pxed's console replaces the old at once. */
enum MHD_Result http_ui_static(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url)
{
	const struct http_ui_file *f;
	const char *inm;
	struct MHD_Response *resp;
	unsigned status = MHD_HTTP_OK;

	if (ui_https_refused(s, r))
		return http_reply_text(c, r, MHD_HTTP_FORBIDDEN,
				       "the console is served over HTTPS only (AdminHTTPSOnly)\n");
	if (!strcmp(url, "/ui")) {
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/ui/");
		return http_queue(c, r, MHD_HTTP_FOUND, resp);
	}
	f = http_ui_file_find(url + strlen("/ui/"));
	if (!f)
		return http_reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && strstr(inm, f->etag)) {
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_MODIFIED;
	} else {
		resp = MHD_create_response_from_buffer(f->len, (void *)f->data,
						       MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
	}
	if (resp) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		ui_security_headers(resp);
	}
	return http_queue(c, r, status, resp);
}

static void client_addr(struct MHD_Connection *c, char *out, size_t len)
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

static struct http_session *session_of(struct http_server *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
	char id[HTTP_SESSION_ID_LEN + 2];
	if (!h || http_cookie_get(h, HTTP_SESSION_COOKIE, id, sizeof(id)) < 0)
		return NULL;
	return http_session_find(&s->sessions, id, now_ms());
}

static bool origin_ok(struct MHD_Connection *c, struct http_request *r)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	return http_origin_same(origin, host, r->via->tls);
}

int http_ui_cookie_auth(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			enum MHD_Result *reply)
{
	struct http_session *sess = session_of(s, c);
	const char *csrf;
	char addr[INET6_ADDRSTRLEN];

	if (!sess)
		return 0;
	r->session = sess;
	if (!(r->method & HTTP_CHANGES))
		return 1;
	client_addr(c, addr, sizeof(addr));
	if (!sess->admin) {
		s->counters.auth_failures++;
		log_warn(MOD, "%s %s from %s: refused, read-only console session", r->method_name,
			 r->url_log, addr);
		*reply = http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "read_only",
					  "signed in with the read-only token: nothing can be "
					  "changed");
		return -1;
	}
	csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, HTTP_CSRF_HEADER);
	if (!http_token_equal(csrf, sess->csrf) || !origin_ok(c, r)) {
		s->sessions.refused_total++;
		log_warn(MOD, "%s %s from %s: refused, %s", r->method_name, r->url_log, addr,
			 !http_token_equal(csrf, sess->csrf) ? "no or wrong CSRF token"
							     : "Origin is not this server");
		*reply = http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "csrf",
					  "a change made with the console's cookie needs its "
					  "X-CSRF-Token header and this server's Origin");
		return -1;
	}
	return 1;
}

static void iso_time(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum MHD_Result session_reply(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, unsigned status,
				     const struct http_session *sess, const char *cookie)
{
	char exp[32], *txt;
	json_t *o;
	struct MHD_Response *resp;

	/* Sessions run on the monotonic clock; the console shows wall time. */
	uint64_t wall = (uint64_t)time(NULL) * 1000 + (sess->expires_ms - now_ms());
	iso_time(wall, exp, sizeof(exp));
	o = json_pack("{s:s, s:s, s:s, s:I}", "role", sess->admin ? "admin" : "read-only", "csrf",
		      sess->csrf, "expires", exp, "expires_ms", (json_int_t)wall);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!txt)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(txt);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (cookie)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	return http_queue(c, r, status, resp);
}

/* The cookie: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's request carries it), Secure over HTTPS, gone at expiry. */
static void cookie_make(char *out, size_t len, const char *id, unsigned max_age, bool tls)
{
	snprintf(out, len, "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s",
		 HTTP_SESSION_COOKIE, id, max_age, tls ? "; Secure" : "");
}

static enum MHD_Result session_login(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r)
{
	json_error_t je;
	json_t *o = r->body ? json_loads(r->body, 0, &je) : NULL;
	const char *tok = json_string_value(json_object_get(o, "token"));
	bool admin = http_token_equal(tok, s->token);
	bool reader = !admin && http_token_equal(tok, s->read_token);
	struct http_session *sess;
	char addr[INET6_ADDRSTRLEN], cookie[200];
	uint64_t ttl = (uint64_t)s->conf->http_console_session_minutes * 60000;
	enum MHD_Result ret;

	json_decref(o); /* tok is not used past here */
	client_addr(c, addr, sizeof(addr));
	if (!origin_ok(c, r) &&
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin") != NULL) {
		s->sessions.refused_total++;
		log_warn(MOD, "console sign-in from %s refused: Origin is not this server", addr);
		return http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "csrf",
					"sign-in from another site's page is refused");
	}
	if (!admin && !reader) {
		s->sessions.failed_total++;
		s->counters.auth_failures++;
		log_warn(MOD, "console sign-in from %s refused: wrong token", addr);
		return http_reply_error(c, r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					"the token is wrong: use the admin token ([http] TokenFile) "
					"or the read-only one (ReadTokenFile)");
	}
	if (http_session_new(&s->sessions, admin, now_ms(), ttl, &sess) < 0)
		return http_reply_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
					"no random numbers for a session");
	log_info(MOD, "console sign-in from %s (%s)", addr, admin ? "admin" : "read-only");
	cookie_make(cookie, sizeof(cookie), sess->id, (unsigned)(ttl / 1000), r->via->tls);
	ret = session_reply(s, c, r, MHD_HTTP_CREATED, sess, cookie);
	explicit_bzero(cookie, sizeof(cookie));
	return ret;
}

/* /api/v1/session: POST {"token": T} signs in, GET tells the role and the
 * CSRF token of the cookie's session, DELETE signs out. */
enum MHD_Result http_ui_session(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url)
{
	struct http_session *sess;
	char cookie[200];

	if (ui_https_refused(s, r))
		return http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "https_required",
					"the console is served over HTTPS only (port %u)",
					s->https.port);
	if (r->method == HTTP_POST)
		return session_login(s, c, r);
	sess = session_of(s, c);
	/* "Am I signed in?" is a question, not a failure: the console asks
	 * it on every load. */
	if (!sess && r->method == HTTP_GET) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
			14, (void *)"{\"role\":null}\n", MHD_RESPMEM_PERSISTENT);
		if (resp) {
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		}
		return http_queue(c, r, MHD_HTTP_OK, resp);
	}
	if (!sess) {
		s->counters.auth_failures++;
		return http_reply_error(c, r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					"not signed in");
	}
	if (r->method == HTTP_GET)
		return session_reply(s, c, r, MHD_HTTP_OK, sess, NULL);
	/* DELETE: sign-out is a change too (a forged one would be a nuisance),
	 * for either role. */
	if (!http_token_equal(MHD_lookup_connection_value(c, MHD_HEADER_KIND, HTTP_CSRF_HEADER),
			      sess->csrf) ||
	    !origin_ok(c, r)) {
		s->sessions.refused_total++;
		return http_reply_error(c, r, MHD_HTTP_FORBIDDEN, "csrf",
					"sign-out needs the X-CSRF-Token header and this server's "
					"Origin");
	}
	http_session_end(sess);
	r->session = NULL;
	cookie_make(cookie, sizeof(cookie), "", 0, r->via->tls);
	{
		struct MHD_Response *resp =
			MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
		return http_queue(c, r, MHD_HTTP_NO_CONTENT, resp);
	}
}

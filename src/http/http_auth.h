/* http_auth: who may change things through the admin API, and who may
 * start a deployment.
 *
 *   - The API tokens: 32 random bytes as 64 hex characters each,
 *     generated at the first start into [http] TokenFile (admin) and
 *     ReadTokenFile (read-only), mode 0600, and read from them after.
 *     Every request under /api/v1/ (but the installers' report) must carry
 *     "Authorization: Bearer TOKEN": the admin token for anything, the
 *     read-only one for GET/HEAD.  The boot paths stay open.
 *   - PXEPassword attempts: a count of wrong passwords per MAC and per
 *     source address with a lockout window, so a client cannot guess at
 *     network speed, nor by changing the MAC it names.
 *
 * Pure helpers except http_token_load(), which touches one file. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct sockaddr;

#define HTTP_TOKEN_LEN 64          /* hex characters */

/* Compare a presented token with the real one in time that depends only
 * on the length of the real one.  NULL presented is false. */
bool http_token_equal(const char *presented, const char *real);

/* The token of an "Authorization: Bearer TOKEN" header value, or NULL.
 * The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces. */
const char *http_bearer_token(const char *authorization);

/* Read the token from path, or create the file (O_EXCL, mode 0600) with a
 * new random token when it does not exist.  *created says which.  Refuses
 * (-EPERM) a file others can read or write, -EINVAL one that holds no
 * token. */
int http_token_load(const char *path, char out[HTTP_TOKEN_LEN + 1], bool *created);

/* A fresh random token (hex) of 2*nbytes characters into out. */
int http_token_random(char *out, size_t nbytes);

/* ---- PXEPassword attempts ---------------------------------------------- */

#define HTTP_PW_MAX_FAILURES 5      /* wrong passwords before the lockout */
/* Per source address: a client that types a new MAC into each attempt
 * (the MAC is the client's word) still comes from one address. */
#define HTTP_PW_SOURCE_MAX_FAILURES 20
#define HTTP_PW_LOCKOUT_MS 300000   /* 5 minutes */
#define HTTP_PW_SLOTS 1024          /* clients tracked at once (oldest reused) */
#define HTTP_PW_KEY_LEN 17          /* a MAC or an IP address (see http_pw_key_*) */

struct http_pw_slot {
	uint8_t key[HTTP_PW_KEY_LEN];
	bool used;
	unsigned failures;         /* since the last success or lockout end */
	uint64_t last_ms;          /* last failure, to pick a slot to reuse */
	uint64_t locked_until_ms;  /* 0 = not locked */
};

struct http_pw_limiter {
	struct http_pw_slot slot[HTTP_PW_SLOTS];
	unsigned max_failures;     /* before a lockout; 0 = HTTP_PW_MAX_FAILURES */
	uint64_t failures_total;   /* for /metrics */
	uint64_t lockouts_total;
};

/* The limiter key of a MAC, and of a client's address (IPv4, IPv6, or
 * IPv4-mapped IPv6 as IPv4).  -EAFNOSUPPORT for another family. */
void http_pw_key_mac(uint8_t key[HTTP_PW_KEY_LEN], const uint8_t mac[MAC_LEN]);
int http_pw_key_addr(uint8_t key[HTTP_PW_KEY_LEN], const struct sockaddr *sa);

/* ms left in the lockout of key at now_ms, 0 when it may try. */
uint64_t http_pw_locked(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN],
			uint64_t now_ms);
/* A wrong password from key; returns true when this one started a lockout. */
bool http_pw_failed(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN],
		    uint64_t now_ms);
/* The right password: forget the client's failures. */
void http_pw_succeeded(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN]);

/* ---- console sessions ------------------------------------------------------
 *
 * The web console (/ui/) signs in once with an API token and then carries
 * an HttpOnly, SameSite=Strict cookie naming a session here.  A session
 * remembers only whether the token was the admin or the read-only one,
 * its CSRF token (sent back by the console in a header with every change)
 * and when it expires.  The table is bounded: when every slot is taken
 * the session used least recently is ended.  Loop-only, no locking. */

#define HTTP_SESSION_COOKIE "pxed_session"
#define HTTP_CSRF_HEADER "X-CSRF-Token"
#define HTTP_SESSIONS_MAX 64
#define HTTP_SESSION_ID_LEN 64     /* hex characters: 256 random bits */

struct http_session {
	bool used;
	bool admin;                /* signed in with the admin token */
	char id[HTTP_SESSION_ID_LEN + 1];
	char csrf[HTTP_SESSION_ID_LEN + 1];
	uint64_t created_ms, expires_ms, last_ms;
};

struct http_sessions {
	struct http_session slot[HTTP_SESSIONS_MAX];
	uint64_t created_total;    /* sign-ins */
	uint64_t evicted_total;    /* ended early: the table was full */
	uint64_t refused_total;    /* changes refused for a bad CSRF token or Origin */
	uint64_t failed_total;     /* sign-ins with a wrong token */
};

/* A new session (fresh random id and CSRF token) valid for ttl_ms. */
int http_session_new(struct http_sessions *t, bool admin, uint64_t now_ms, uint64_t ttl_ms,
		     struct http_session **out);
/* The live session with this id (compared in constant time), or NULL; an
 * expired one is freed on the way. */
struct http_session *http_session_find(struct http_sessions *t, const char *id, uint64_t now_ms);
void http_session_end(struct http_session *sess);
/* How many sessions are live at now_ms. */
unsigned http_session_count(const struct http_sessions *t, uint64_t now_ms);

/* The value of cookie `name` in a Cookie header (RFC 6265 §4.2.1:
 * "a=b; c=d") into out.  0, -ENOENT when absent, -ENOBUFS when longer
 * than len - 1. */
int http_cookie_get(const char *header, const char *name, char *out, size_t len);

/* Whether an Origin header names this server: "http(s)://" + the Host
 * header, exactly (RFC 6454 §7: the serialised origin).  A missing Host,
 * a missing Origin and "null" never match. */
bool http_origin_same(const char *origin, const char *host, bool tls);

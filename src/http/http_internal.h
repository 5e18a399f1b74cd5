/* Shared between http_server.c (transport, routing, files) and the other
 * parts of the HTTP server: the /boot.ipxe flow (http_boot.c), the JSON
 * admin API (api.c, api_*.c), the console, the live stream, answer files.
 * Not a public interface. */
#pragma once
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev/ev.h"
#include "ev/ev_work.h"
#include "http/http_auth.h"
#include "http/http_gate.h"
#include "http/http_metrics.h"
#include "http/http_report.h"
#include "http/http_server.h"

/* Refused answer file fetches, per source address: one log line and one
 * event per source per HTTP_ANSWER_REFUSE_LOG_MS, the rest counted
 * (http_answers.c).  A fixed table: a source whose slot another takes
 * starts over.  Used from the loop and the worker, so it has a lock. */
#define HTTP_ANSWER_REFUSE_SLOTS 256
#define HTTP_ANSWER_REFUSE_LOG_MS 10000
struct http_answer_refusals {
	pthread_mutex_t lock;
	struct {
		char src[48];      /* "" = free */
		uint64_t log_ms;   /* when its last line was written */
		uint64_t quiet;    /* its refusals not logged since */
	} slot[HTTP_ANSWER_REFUSE_SLOTS];
};

/* One MHD daemon on pxed's loop: plain HTTP, or HTTPS (GnuTLS). */
struct http_stream_hub;

struct http_listener {
	struct http_server *s;
	struct MHD_Daemon *mhd;
	struct ev_io io;           /* MHD's epoll fd */
	struct ev_timer timer;     /* MHD_get_timeout() */
	bool tls;
	uint16_t port;
};

struct http_server {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;    /* the plain listener's, for status */
	struct http_listener plain, https;
	const struct pxed_conf *conf; /* read per request: SIGHUP changes apply */
	struct pxed_conf *conf_rw;  /* the same, for PUT /api/v1/settings; NULL = refused */
	void (*settings_applied)(void *ctx, const char *what);
	void *settings_ctx;
	char token[HTTP_TOKEN_LEN + 1]; /* the admin API token: read and change */
	char read_token[HTTP_TOKEN_LEN + 1]; /* the read-only API token */
	char *tls_cert, *tls_key;  /* PEM text for the HTTPS listener */
	struct http_counters counters;
	struct http_pw_limiter *pw; /* PXEPassword attempts, per MAC */
	struct http_pw_limiter *pw_src; /* ... and per source address */
	struct ev_work *pw_work;   /* PXEPassword hashes: their own thread, small queue */
	uint64_t pw_busy;          /* attempts refused: too many hashes at once */
	struct boot_tokens *tokens; /* script URL tokens (main's); NULL = none valid */
	struct wol_sched *wol;     /* Wake-on-LAN sender (main's); NULL = none */
	uint64_t token_log_ms;     /* when the last "no valid boot token" line was written */
	uint64_t token_quiet;      /* such refusals not logged since */
	struct http_answer_refusals answer_refusals;
	struct http_metrics_sources src;
	struct decider *dec;
	struct store *store;
	const struct content *content;
	struct ev_work *work;      /* store calls run here; NULL = inline */
	uint16_t port;
	uint64_t started_ms;       /* now_ms() at start, for uptime */
	uint64_t n_requests;       /* completed requests */
	struct http_gate gate;     /* connections held, both listeners */
	uint64_t gate_logged_ms;   /* last "connection refused" warning */
	uint64_t gate_since_log;   /* refusals since that warning */
	struct http_sessions sessions; /* the console's sign-ins */
	struct http_stream_hub *hub; /* /api/v1/events/stream subscribers */
	char hostname[64];         /* this server, as the live stream names it */
};

enum http_method {
	HTTP_GET = 1,
	HTTP_HEAD = 2,
	HTTP_POST = 4,
	HTTP_PUT = 8,
	HTTP_PATCH = 16,
	HTTP_DELETE = 32,
	HTTP_OTHER = 64,
};
/* Methods that change something: they need the admin API token; the
 * others need it or the read-only one. */
#define HTTP_CHANGES (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)

/* Run MHD now (both listeners): after resuming a connection. */
void http_server_kick(struct http_server *s);

struct http_request;
/* A route's handler queues exactly one response. */
typedef enum MHD_Result (*http_handler)(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url);
/* The part of a handler that runs on the worker: store calls only, no
 * loop-owned state; reads of the connection (arguments, headers) are safe
 * because MHD does not touch a suspended connection. */
typedef void (*http_work_fn)(struct http_server *s, struct MHD_Connection *c,
			     struct http_request *r);

/* One request, from the first access callback to "completed". */
struct http_request {
	enum http_method method;
	const struct http_route *route;
	struct http_listener *via; /* the listener it came in on */
	char *body;                /* request body so far, NUL-terminated */
	size_t body_len, body_cap;
	bool body_too_large;       /* more than HTTP_MAX_BODY arrived */
	unsigned status;           /* for the log line */
	uint64_t start_ms;
	char method_name[8];
	char url_log[160];         /* escaped URL, for the log line */
	char url_full[512];        /* the decoded path, for handlers of NAME routes */
	/* Deferred to the worker (http_defer()): */
	struct ev_work_job job;
	struct http_server *srv;
	struct MHD_Connection *conn;
	http_work_fn work;
	http_handler resume;       /* called on the loop when the work is back */
	bool suspended;            /* waiting for the worker */
	bool resumed;              /* back: the next access callback calls resume */
	bool cancelled;            /* pxed is stopping: the work did not run */
	bool exclusive;            /* http_defer_exclusive(): work runs on the loop */
	struct http_session *session; /* signed in with the console's cookie */
	void *state;               /* the handler's, freed with state_free */
	void (*state_free)(void *state);
	/* A body parsed as it arrives instead of kept (the CSV import):
	 * freed with stream_free. */
	void *stream;
	void (*stream_free)(void *stream);
};

struct http_route {
	const char *path;          /* exact path, or prefix when it ends in '/' */
	unsigned methods;          /* mask of enum http_method */
	const char *allow;         /* Allow header for 405 */
	bool json;                 /* errors in the JSON shape; admin API */
	bool open;                 /* API route without a token (report) */
	http_handler handler;
};

/* Run work on the worker with the connection suspended (MHD_suspend_-
 * connection); when it is back, MHD calls the access handler again, which
 * calls resume on the loop to queue the answer (r->cancelled: pxed is
 * stopping, answer 503).  Without a worker, both run at once.  A full
 * queue answers 503 with Retry-After. */
enum MHD_Result http_defer(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			   const char *url, http_work_fn work, http_handler resume);

/* Run work on w (another ev_work than the worker: the password hashes)
 * with the connection suspended, as http_defer() does; 0, or what
 * ev_work_submit() refused with (nothing queued, nothing answered). */
int http_defer_on(struct http_server *s, struct ev_work *w, struct MHD_Connection *c,
		  struct http_request *r, http_work_fn work, http_handler resume);

/* For a change to what worker jobs read (the settings): work runs on the
 * loop once no job is running, and none starts until it returned
 * (ev_work_submit_exclusive()); the loop does not wait meanwhile. */
enum MHD_Result http_defer_exclusive(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url, http_work_fn work,
				     http_handler resume);

/* "http://HOST[:PORT]" as the client reached this server (its Host header
 * when that is a plain host[:port]), for URLs written into scripts. */
void http_request_base_url(struct MHD_Connection *c, const struct http_listener *via, char *out,
			   size_t len);

/* The client's address as text ("?" when unknown), for log lines. */
void http_client_addr(struct MHD_Connection *c, char *out, size_t len);

/* Queue a response and record its status for the log line.  Takes the
 * response's reference. */
enum MHD_Result http_queue(struct MHD_Connection *c, struct http_request *r, unsigned status,
			   struct MHD_Response *resp);
enum MHD_Result http_reply_text(struct MHD_Connection *c, struct http_request *r,
				unsigned status, const char *text);
/* The one error shape: {"error": code, "detail": detail}. */
enum MHD_Result http_reply_error(struct MHD_Connection *c, struct http_request *r,
				 unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The plain routes (http_routes.c): /healthz, /grub/grub.cfg, /metrics,
 * /files/. */
enum MHD_Result http_route_healthz(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url);
enum MHD_Result http_route_grub_cfg(struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r, const char *url);
enum MHD_Result http_route_metrics(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url);
enum MHD_Result http_route_files(struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r, const char *url);

/* GET /boot.ipxe, the iPXE script of a boot (http_boot.c). */
enum MHD_Result http_boot_ipxe(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url);

/* The JSON admin API (api.c; its resources in api_*.c).  The gates: the
 * routes of every /api/v1/ path, for route_find() in http_server.c. */
extern const struct http_route http_api_gates[];
extern const size_t http_api_n_gates;
/* Every API gate's handler: finds the route for the method and path. */
enum MHD_Result http_api_route(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url);
/* The import's gate's handler (the same, but the server streams its body
 * into http_api_import_chunk()). */
enum MHD_Result http_api_devices_import(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url);
/* The import's body, a piece at a time as MHD delivers it: parsed line
 * by line on the loop (no database), so a 100,000-line file is never held
 * whole.  0, or -EFBIG past HTTP_IMPORT_MAX_BODY / the device cap,
 * -ENOMEM. */
int http_api_import_chunk(struct http_request *r, const char *data, size_t n);
#define HTTP_IMPORT_MAX_BODY (64 * 1024 * 1024)
#define HTTP_IMPORT_MAX_DEVICES 1000000

/* The console (http_ui.c). */
enum MHD_Result http_ui_static(struct http_server *s, struct MHD_Connection *c,
			       struct http_request *r, const char *url);
enum MHD_Result http_ui_session(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url);
/* For an /api/v1/ request without Authorization: 1 when the cookie's
 * session allows it (r->session set), 0 when there is no live session,
 * -1 when refused (the reply is queued, its result in *reply). */
int http_ui_cookie_auth(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
			enum MHD_Result *reply);

/* The live decision stream (http_stream.c). */
enum MHD_Result http_stream_events(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url);

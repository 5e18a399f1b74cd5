/* Shared between http_server.c (transport, routing, files, boot script)
 * and http_api.c (the JSON admin API).  Not a public interface. */
#pragma once
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev/ev.h"

struct http_server {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;
	struct ev_io io;           /* MHD's epoll fd */
	struct ev_timer timer;     /* MHD_get_timeout() */
	struct decider *dec;
	struct store *store;
	const struct content *content;
	uint16_t port;
	uint64_t started_ms;       /* now_ms() at start, for uptime */
	uint64_t n_requests;       /* completed requests */
};

enum http_method { HTTP_GET = 1, HTTP_HEAD = 2, HTTP_POST = 4, HTTP_OTHER = 8 };

/* One request, from the first access callback to "completed". */
struct http_request {
	enum http_method method;
	const struct http_route *route;
	char *body;                /* POST body so far, NUL-terminated */
	size_t body_len, body_cap;
	bool body_too_large;       /* more than HTTP_MAX_BODY arrived */
	unsigned status;           /* for the log line */
	uint64_t start_ms;
	char method_name[8];
	char url_log[160];         /* escaped URL, for the log line */
};

/* A route's handler queues exactly one response. */
typedef enum MHD_Result (*http_handler)(struct http_server *s, struct MHD_Connection *c,
					struct http_request *r, const char *url);

struct http_route {
	const char *path;          /* exact path, or prefix when it ends in '/' */
	unsigned methods;          /* mask of enum http_method */
	const char *allow;         /* Allow header for 405 */
	bool json;                 /* errors in the JSON shape */
	http_handler handler;
};

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

/* JSON API handlers (http_api.c). */
enum MHD_Result http_api_devices(struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r, const char *url);
enum MHD_Result http_api_images(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url);
enum MHD_Result http_api_deployments(struct http_server *s, struct MHD_Connection *c,
				     struct http_request *r, const char *url);
enum MHD_Result http_api_events(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url);
enum MHD_Result http_api_status(struct http_server *s, struct MHD_Connection *c,
				struct http_request *r, const char *url);

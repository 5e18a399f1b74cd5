/* http_server: pxed's HTTP service on its HTTP port (docs/pxed.8.md).
 *
 * libmicrohttpd runs inside pxed's ev loop, single-threaded: MHD is started
 * with MHD_USE_EPOLL and no thread of its own; its epoll fd is one ev_io,
 * and an ev_timer armed from MHD_get_timeout() drives its time-outs and the
 * work it has left buffered.  Every callback below runs on the loop.
 * What may wait for the database -- the /boot.ipxe decision, the API's
 * store calls -- runs on the worker (ev_work) while MHD keeps the
 * connection suspended (MHD_ALLOW_SUSPEND_RESUME); see http_defer().
 *
 * Routes:
 *   GET|HEAD /healthz               "ok"
 *   GET      /boot.ipxe?mac=&guid=&arch=   the client's iPXE script
 *   GET|HEAD /files/PATH            content root, with single Range (RFC 9110 §14)
 *   GET      /metrics               Prometheus text format 0.0.4
 *   /api/v1/...                     JSON admin API (api.c, api_*.c); every
 *                                   request needs "Authorization: Bearer
 *                                   TOKEN" (admin, or read-only for reads)
 *
 * With [http] HTTPSPort, a second MHD daemon serves the same routes over
 * TLS (GnuTLS) on the same loop; AdminHTTPSOnly then refuses /api/v1/ on
 * plain HTTP, except the installers' /api/v1/report.
 *
 * The process must ignore SIGPIPE (main does): MHD sends files with
 * sendfile(), which raises it when a client goes away mid-transfer. */
#pragma once

struct ev_loop;
struct ev_work;
struct pxed_conf;
struct decider;
struct store;
struct content;
struct http_server;

/* Limits on what one client can make us hold.  Connections in all and
 * per address are the settings [http] MaxConnections (256) and
 * MaxConnectionsPerAddress (64), applied by http_gate.h. */
#define HTTP_CONN_TIMEOUT_S 30      /* idle connection */
#define HTTP_MAX_BODY (1024 * 1024) /* request body; more is 413 */
/* GnuTLS priorities of the HTTPS listener: TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* /boot.ipxe and the API's store calls run on work (NULL = inline) with
 * the connection suspended; work must be freed before the server. */
/* Bind conf->http_address ("" = every address) : conf->http_port and
 * register with loop.  dec, store and content are borrowed and must
 * outlive the server.  0 or a negative errno (-EADDRINUSE, -EINVAL for a
 * bad address, -EIO when MHD refuses to start). */
int http_server_new(struct ev_loop *loop, const struct pxed_conf *conf, struct decider *dec,
		    struct store *store, const struct content *content, struct ev_work *work,
		    struct http_server **out);
void http_server_free(struct http_server *s); /* accepts NULL */

/* What /metrics and /api/v1/status read from the rest of pxed; main sets
 * it once everything is up.  Pointers are borrowed; NULL = not shown. */
struct dhcp_server;
struct tftp_server;
struct grub_boot;
struct http_metrics_sources {
	const struct dhcp_server *dhcp;
	const struct tftp_server *tftp;
	const struct grub_boot *grub;
	const char *version;
};
void http_server_set_sources(struct http_server *s, const struct http_metrics_sources *src);

/* The tokens iPXE's script URLs carry (boot_token.h), shared with the
 * DHCP side and outliving the server.  Until set, no /boot.ipxe request
 * commits a hand-out. */
struct boot_tokens;
void http_server_set_tokens(struct http_server *s, struct boot_tokens *tokens);
/* The Wake-on-LAN sender (loop-owned, shared with the DHCP server). */
struct wol_sched;
void http_server_set_wol(struct http_server *s, struct wol_sched *wol);

/* `pxectl settings set`: conf is the struct the server was made with, now
 * writable; after the API changed it, applied(ctx, what) runs (main tells
 * the decider, applies the log level, logs the settings block).  Until
 * this is called, PUT /api/v1/settings answers 503. */
void http_server_set_settings(struct http_server *s, struct pxed_conf *conf,
			      void (*applied)(void *ctx, const char *what), void *ctx);

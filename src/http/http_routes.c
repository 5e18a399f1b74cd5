/* http_routes: the plain routes of pxed's HTTP side, neither the admin
 * API (api.c, api_*.c), the console (http_ui.c), the live stream
 * (http_stream.c) nor the /boot.ipxe flow (http_boot.c): /healthz,
 * /grub/grub.cfg, /metrics and /files/ (boot files with Range, RFC 9110
 * §14).  They run on the loop; none touches the database but through the
 * store's cached flags. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/content.h"
#include "common/log.h"
#include "common/util.h"
#include "decide/boot_token.h"
#include "decide/decide.h"
#include "dhcp/dhcp_server.h"
#include "http/grub_boot.h"
#include "http/grub_script.h"
#include "http/http_internal.h"
#include "http/http_metrics.h"
#include "http/http_parse.h"
#include "http/http_stream.h"
#include "store/store.h"
#include "tftp/tftp_server.h"
#include "wake/wol.h"

#define MOD "http"

/* ---- /healthz ------------------------------------------------------------ */

/* "ok", or 503 "degraded: ..." while the store cannot be written (the
 * last batch of boot events failed: disk full, read-only file system...),
 * so a monitor sees what a boot would only log.  A later write that goes
 * through makes it "ok" again.  Also degraded while the database server
 * cannot be reached (PostgreSQL), until the store has reconnected. */
enum MHD_Result http_route_healthz(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url)
{
	char why[160], text[256], esc[200];
	/* Degraded, not down: pxed still answers what it needs no write for
	 * (a hand-out it cannot record it refuses).  Two witnesses: the
	 * store's own flag (a commit failed for the disk) and the event
	 * writer's last batch.  The store lock is taken only while degraded,
	 * and then only to copy the words. */
	if (s->store && !store_reachable(s->store))
		return http_reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
				       "degraded: database unreachable\n");
	if (s->store && !store_writable(s->store, why, sizeof(why))) {
		snprintf(text, sizeof(text), "degraded: the database cannot be written (%s)\n", why);
		return http_reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	}
	if (s->dec && decider_store_write_error(s->dec, why, sizeof(why)) < 0) {
		log_escape(esc, sizeof(esc), why, strlen(why));
		snprintf(text, sizeof(text), "degraded: the database cannot be written (%s)\n", esc);
		return http_reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	}
	return http_reply_text(c, r, MHD_HTTP_OK, "ok\n");
}

/* ---- /grub/grub.cfg -------------------------------------------------------- */

/* The same for every machine (grub_script_entry()), as over TFTP, for a
 * GRUB that can reach pxed over HTTP (not Debian's signed one). */
enum MHD_Result http_route_grub_cfg(struct http_server *s, struct MHD_Connection *c,
				    struct http_request *r, const char *url)
{
	char cfg[512];
	int n = grub_script_entry(cfg, sizeof(cfg));
	if (n < 0)
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	return http_reply_text(c, r, MHD_HTTP_OK, cfg);
}

/* ---- /metrics ------------------------------------------------------------ */

enum MHD_Result http_route_metrics(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url)
{
	struct http_metrics_view v = { .http = &s->counters };
	struct MHD_Response *resp;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	v.uptime_s = (now_ms() - s->started_ms) / 1000;
	v.pw_failures = s->pw->failures_total;
	v.pw_lockouts = s->pw->lockouts_total + s->pw_src->lockouts_total;
	v.conns_held = s->gate.held;
	v.conns_refused_limit = s->gate.refused[HTTP_GATE_FULL];
	v.conns_refused_per_address = s->gate.refused[HTTP_GATE_PER_ADDRESS];
	http_stream_get_stats(s->hub, &v.stream);
	v.sessions = http_session_count(&s->sessions, now_ms());
	v.session_logins = s->sessions.created_total;
	v.session_failures = s->sessions.failed_total;
	v.session_evicted = s->sessions.evicted_total;
	v.session_refused = s->sessions.refused_total;
	v.pw_busy = s->pw_busy;
	if (s->store) {
		v.has_store = true;
		v.store_rows_read = store_rows_read(s->store);
	}
	if (s->tokens) {
		v.has_tokens = true;
		boot_tokens_stats(s->tokens, &v.tokens);
	}
	if (s->wol) {
		v.has_wol = true;
		wol_sched_stats(s->wol, &v.wol);
	}
	if (s->src.dhcp) {
		v.has_dhcp = true;
		dhcp_server_stats(s->src.dhcp, &v.dhcp);
	}
	if (s->src.tftp) {
		v.has_tftp = true;
		tftp_server_stats(s->src.tftp, &v.tftp);
	}
	if (s->src.grub) {
		v.has_grub = true;
		grub_boot_stats(s->src.grub, &v.grub);
	}
	if (s->dec) {
		v.has_cache = true;
		decider_cache_stats(s->dec, &v.cache);
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	rc = http_metrics_format(&v, f);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	}
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	return http_queue(c, r, MHD_HTTP_OK, resp);
}

/* ---- /files/ ------------------------------------------------------------- */

static void http_date(time_t t, char *out, size_t len)
{
	struct tm tm;
	/* IMF-fixdate, RFC 9110 §5.6.7; strftime's %a/%b are English in the
	 * C locale, which pxed never changes. */
	gmtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static enum MHD_Result reply_file(struct MHD_Connection *c, struct http_request *r, int fd,
				  uint64_t size, const char *lastmod)
{
	const char *range = NULL, *if_range;
	uint64_t start = 0, end = 0;
	int rr = HTTP_RANGE_IGNORE;
	unsigned status = MHD_HTTP_OK;
	struct MHD_Response *resp;
	char cr[80];

	/* §14.2: Range is defined for GET only. */
	if (r->method == HTTP_GET)
		range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	/* §13.1.5: a stale If-Range validator means "send it all". */
	if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
	if (range && if_range && strcmp(if_range, lastmod) != 0)
		range = NULL;
	if (range)
		rr = http_range_parse(range, size, &start, &end);

	if (rr == HTTP_RANGE_UNSATISFIABLE) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
	} else if (size == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	} else {
		if (rr != HTTP_RANGE_PARTIAL) {
			start = 0;
			end = size - 1;
		}
		/* The response owns fd from here and sends it with sendfile(). */
		resp = MHD_create_response_from_fd_at_offset64(end - start + 1, fd, start);
		if (!resp)
			close(fd);
		if (resp && rr == HTTP_RANGE_PARTIAL) {
			snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
				 (unsigned long long)end, (unsigned long long)size);
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
			status = MHD_HTTP_PARTIAL_CONTENT;
		}
	}
	if (resp) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lastmod);
	}
	return http_queue(c, r, status, resp);
}

enum MHD_Result http_route_files(struct http_server *s, struct MHD_Connection *c,
				 struct http_request *r, const char *url)
{
	const char *path = url + strlen("/files/");
	char lastmod[64], esc[200];
	uint64_t size;
	struct stat st;
	int fd, rc;

	/* MHD has percent-decoded the URL; our unescaper turns %00 into \x01
	 * so an embedded NUL cannot cut the name short unseen. */
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return http_reply_text(c, r, MHD_HTTP_BAD_REQUEST, "bad file name\n");
	if (!*path)
		return http_reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
	/* answer file templates only go out rendered, to their boot */
	if (content_is_private(path))
		return http_reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
	rc = content_open(s->content, path, &fd, &size);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
	case -ENOTDIR:
	case -EISDIR:
		return http_reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
	case -EACCES:       /* hostile name: .., backslash, odd bytes */
	case -EXDEV:        /* a symlink leading out of the root */
	case -ELOOP:        /* magic link or symlink loop */
	case -EPERM:        /* not a regular file */
	case -EINVAL:       /* empty name */
	case -ENAMETOOLONG:
		log_escape(esc, sizeof(esc), path, strlen(path));
		log_warn(MOD, "refused file name '%s': %s", esc, strerror(-rc));
		return http_reply_text(c, r, MHD_HTTP_FORBIDDEN, "forbidden\n");
	default:
		log_escape(esc, sizeof(esc), path, strlen(path));
		log_warn(MOD, "cannot open '%s': %s", esc, strerror(-rc));
		return http_reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	}
	if (fstat(fd, &st) < 0)
		st.st_mtime = 0;
	http_date(st.st_mtime, lastmod, sizeof(lastmod));
	return reply_file(c, r, fd, size, lastmod);
}


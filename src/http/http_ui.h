/* http_ui: the web console.  Its files (ui/ in the source tree) are built
 * into pxed (scripts/ui_embed.sh) and served under /ui/ with a strict
 * Content-Security-Policy; /api/v1/session signs in with an API token
 * into a cookie session (http_auth.h), which the rest of /api/v1/
 * accepts in place of the Bearer token, with a CSRF token header and a
 * same Origin for every change. */
#pragma once
#include <stddef.h>

struct http_ui_file {
	const char *name;          /* "index.html": the part after /ui/ */
	const char *type;          /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag;          /* strong validator, quoted */
};

/* build/gen/ui_files.c */
extern const struct http_ui_file http_ui_files[];
extern const size_t http_ui_n_files;

/* The file served for /ui/NAME ("" = index.html), or NULL. */
const struct http_ui_file *http_ui_file_find(const char *name);

/* POST /api/v1/devices/import: a CSV file of name,mac[,guid] lines, all
 * added or none.  The body is parsed as it arrives (http_api_import_chunk,
 * on the loop) and checked line by line against the lines before it; the
 * handler then checks it against the database and adds it in one
 * transaction (on the worker). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "http/api.h"

#define IMPORT_MAX_ERRORS 100 /* reported; counting goes on */
#define IMPORT_LINE_MAX 1024  /* longer is a bad line (a valid one is < 200) */

static int bad_line(json_t *lines, unsigned *nbad, unsigned lineno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad_line(json_t *lines, unsigned *nbad, unsigned lineno, const char *fmt, ...)
{
	char msg[200], full[240];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (++*nbad <= IMPORT_MAX_ERRORS) {
		snprintf(full, sizeof(full), "line %u: %s", lineno, msg);
		json_array_append_new(lines, json_string(full));
	}
	return 0;
}

static unsigned line_of(json_t *v)
{
	return (unsigned)strtoul(json_string_value(v) + 5, NULL, 10); /* "line N: ..." */
}

static int line_cmp(const void *a, const void *b)
{
	unsigned x = line_of(*(json_t *const *)a), y = line_of(*(json_t *const *)b);
	return x < y ? -1 : x > y;
}

/* File order: the database checks come after the per-line ones. */
static void lines_sort(json_t *lines)
{
	size_t n = json_array_size(lines);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(lines, i));
	qsort(v, n, sizeof(*v), line_cmp);
	json_array_clear(lines);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(lines, v[i]);
	free(v);
}

/* The import as it arrives: the line being read, the good rows so far,
 * and three hash sets over them (name, MAC, GUID) so that a line is
 * checked against every earlier one in constant time. */
struct import_stream {
	char line[IMPORT_LINE_MAX + 1];
	size_t line_len;
	bool line_long;            /* the current line passed IMPORT_LINE_MAX */
	unsigned lineno;
	size_t bytes;
	struct http_csv_device *rows;
	unsigned *row_line;
	size_t nrows, cap;
	uint32_t *h_name, *h_mac, *h_guid; /* row index + 1; 0 = empty */
	size_t hcap;               /* a power of two, > 2 * nrows */
	json_t *lines;             /* "line N: why", the first IMPORT_MAX_ERRORS */
	unsigned nbad;
	bool failed;               /* out of memory or over the caps */
};

static void import_stream_free(void *p)
{
	struct import_stream *st = p;
	if (!st)
		return;
	free(st->rows);
	free(st->row_line);
	free(st->h_name);
	free(st->h_mac);
	free(st->h_guid);
	json_decref(st->lines);
	free(st);
}

static uint64_t fnv(const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ULL;
	return h;
}

enum import_key { KEY_NAME, KEY_MAC, KEY_GUID };

static uint64_t row_hash(const struct http_csv_device *r, enum import_key k)
{
	return k == KEY_NAME ? fnv(r->name, strlen(r->name))
	       : k == KEY_MAC ? fnv(r->mac, MAC_LEN) : fnv(r->guid, GUID_LEN);
}

static bool row_same(const struct http_csv_device *a, const struct http_csv_device *b,
		     enum import_key k)
{
	return k == KEY_NAME ? !strcmp(a->name, b->name)
	       : k == KEY_MAC ? !memcmp(a->mac, b->mac, MAC_LEN) : !memcmp(a->guid, b->guid, GUID_LEN);
}

static uint32_t *import_table(struct import_stream *st, enum import_key k)
{
	return k == KEY_NAME ? st->h_name : k == KEY_MAC ? st->h_mac : st->h_guid;
}

/* The earlier row with the same key as r, or NULL. */
static const struct http_csv_device *import_find(struct import_stream *st,
						 const struct http_csv_device *r, enum import_key k,
						 size_t *at)
{
	uint32_t *t = import_table(st, k);
	for (size_t i = row_hash(r, k) & (st->hcap - 1);; i = (i + 1) & (st->hcap - 1)) {
		if (!t[i])
			return NULL;
		if (row_same(&st->rows[t[i] - 1], r, k)) {
			*at = t[i] - 1;
			return &st->rows[t[i] - 1];
		}
	}
}

static void import_insert(struct import_stream *st, size_t row, enum import_key k)
{
	uint32_t *t = import_table(st, k);
	size_t i = row_hash(&st->rows[row], k) & (st->hcap - 1);
	while (t[i])
		i = (i + 1) & (st->hcap - 1);
	t[i] = (uint32_t)row + 1;
}

static int import_grow(struct import_stream *st)
{
	size_t cap = st->cap ? st->cap * 2 : 1024, hcap = cap * 4;
	struct http_csv_device *rows = realloc(st->rows, cap * sizeof(*rows));
	unsigned *rl;
	if (!rows)
		return -ENOMEM;
	st->rows = rows;
	rl = realloc(st->row_line, cap * sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	st->row_line = rl;
	st->cap = cap;
	/* rehash into tables twice the rows' room: probes stay short */
	free(st->h_name);
	free(st->h_mac);
	free(st->h_guid);
	st->h_name = calloc(hcap, sizeof(uint32_t));
	st->h_mac = calloc(hcap, sizeof(uint32_t));
	st->h_guid = calloc(hcap, sizeof(uint32_t));
	if (!st->h_name || !st->h_mac || !st->h_guid)
		return -ENOMEM;
	st->hcap = hcap;
	for (size_t i = 0; i < st->nrows; i++) {
		import_insert(st, i, KEY_NAME);
		import_insert(st, i, KEY_MAC);
		if (st->rows[i].has_guid)
			import_insert(st, i, KEY_GUID);
	}
	return 0;
}

/* One whole line: on its own, and against the lines before it. */
static int import_line(struct import_stream *st, const char *p, size_t len, bool too_long)
{
	struct http_csv_device row;
	const struct http_csv_device *o;
	char why[160];
	size_t at;
	int pr;

	st->lineno++;
	if (too_long) {
		bad_line(st->lines, &st->nbad, st->lineno, "longer than %d bytes", IMPORT_LINE_MAX);
		return 0;
	}
	pr = http_csv_device_parse(p, len, &row, why, sizeof(why));
	/* an optional header line */
	if (st->lineno == 1 && pr < 0 && len >= 8 && !strncasecmp(p, "name,mac", 8))
		return 0;
	if (pr == 1)
		return 0;
	if (pr < 0)
		return bad_line(st->lines, &st->nbad, st->lineno, "%s", why);
	if (st->nrows == HTTP_IMPORT_MAX_DEVICES)
		return -EFBIG;
	if (st->nrows == st->cap && import_grow(st) < 0)
		return -ENOMEM;
	if ((o = import_find(st, &row, KEY_NAME, &at)))
		return bad_line(st->lines, &st->nbad, st->lineno, "name '%s' is also on line %u",
				row.name, st->row_line[at]);
	if ((o = import_find(st, &row, KEY_MAC, &at)))
		return bad_line(st->lines, &st->nbad, st->lineno, "mac is also on line %u",
				st->row_line[at]);
	if (row.has_guid && (o = import_find(st, &row, KEY_GUID, &at)))
		return bad_line(st->lines, &st->nbad, st->lineno, "guid is also on line %u",
				st->row_line[at]);
	st->row_line[st->nrows] = st->lineno;
	st->rows[st->nrows] = row;
	import_insert(st, st->nrows, KEY_NAME);
	import_insert(st, st->nrows, KEY_MAC);
	if (row.has_guid)
		import_insert(st, st->nrows, KEY_GUID);
	st->nrows++;
	return 0;
}

int http_api_import_chunk(struct http_request *r, const char *data, size_t n)
{
	struct import_stream *st = r->stream;
	int rc;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st || !(st->lines = json_array())) {
			free(st);
			return -ENOMEM;
		}
		r->stream = st;
		r->stream_free = import_stream_free;
	}
	if (st->failed)
		return -EFBIG;
	st->bytes += n;
	if (st->bytes > HTTP_IMPORT_MAX_BODY) {
		st->failed = true;
		return -EFBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if (data[i] != '\n') {
			if (st->line_len < IMPORT_LINE_MAX)
				st->line[st->line_len++] = data[i];
			else
				st->line_long = true;
			continue;
		}
		rc = import_line(st, st->line, st->line_len, st->line_long);
		st->line_len = 0;
		st->line_long = false;
		if (rc < 0) {
			st->failed = true;
			return rc;
		}
	}
	return 0;
}

int api_devices_import(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		       json_t **out, struct api_err *e)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	struct import_stream *st = r->stream;
	unsigned nbad;
	json_t *lines;
	int rc;

	if (ct && strncasecmp(ct, "text/csv", 8) && strncasecmp(ct, "text/plain", 10) &&
	    strncasecmp(ct, "application/octet-stream", 24))
		return api_fail(e, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
				"send the file as text/csv: one name,mac[,guid] per line");
	if (!st || !st->bytes)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_csv", "the file is empty");
	/* the last line, without its newline */
	if (st->line_len || st->line_long) {
		rc = import_line(st, st->line, st->line_len, st->line_long);
		st->line_len = 0;
		st->line_long = false;
		if (rc < 0)
			return api_fail(e, rc == -EFBIG ? MHD_HTTP_CONTENT_TOO_LARGE
							: MHD_HTTP_INTERNAL_SERVER_ERROR,
					rc == -EFBIG ? "too_large" : "internal",
					rc == -EFBIG ? "more than %d devices in one import"
						     : "out of memory (%d)",
					HTTP_IMPORT_MAX_DEVICES);
	}
	lines = st->lines;
	nbad = st->nbad;
	/* Against the database, and in: one transaction for the whole file,
	 * so that it is all or nothing and 100,000 rows cost one commit. */
	rc = store_bulk_begin(s->store);
	if (rc < 0)
		return api_store_fail(s, rc, e, "import devices");
	for (size_t i = 0; i < st->nrows; i++) {
		const struct http_csv_device *row = &st->rows[i];
		struct store_device d;
		char m[MAC_STR_LEN];
		if (store_device_by_name(s->store, row->name, &d) == 0)
			bad_line(lines, &nbad, st->row_line[i], "device '%s' already exists", row->name);
		else if (store_device_by_mac(s->store, row->mac, &d) == 0)
			bad_line(lines, &nbad, st->row_line[i], "mac %s already belongs to device '%s'",
				 (mac_format(row->mac, m), m), d.name);
		else if (row->has_guid && store_device_by_guid(s->store, row->guid, &d) == 0)
			bad_line(lines, &nbad, st->row_line[i], "guid already belongs to device '%s'",
				 d.name);
		else if (!nbad) {
			struct store_device nd = { .arch = -1 };
			str_copy(nd.name, sizeof(nd.name), row->name);
			memcpy(nd.mac, row->mac, MAC_LEN);
			nd.has_guid = row->has_guid;
			memcpy(nd.guid, row->guid, GUID_LEN);
			rc = store_device_add(s->store, &nd);
			if (rc < 0) {
				const char *msg = store_last_error(s->store);
				bad_line(lines, &nbad, st->row_line[i], "%s",
					 msg && *msg ? msg : strerror(-rc));
				store_bulk_end(s->store, false);
				rc = api_fail(e, rc == -EEXIST ? MHD_HTTP_CONFLICT
						 : rc == -ENOSPC ? MHD_HTTP_INSUFFICIENT_STORAGE
								 : MHD_HTTP_INTERNAL_SERVER_ERROR,
					      rc == -EEXIST ? "exists"
					      : rc == -ENOSPC ? "insufficient_storage" : "store_error",
					      "line %u could not be added; nothing was imported",
					      st->row_line[i]);
				e->extra = json_pack("{s:O}", "lines", lines);
				return rc;
			}
		}
	}
	if (nbad) {
		store_bulk_end(s->store, false);
		lines_sort(lines);
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_csv",
			 "%u bad line(s); nothing was imported", nbad);
		e->extra = json_pack("{s:O}", "lines", lines);
		return -1;
	}
	if (!st->nrows) {
		store_bulk_end(s->store, false);
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_csv", "no devices in the file");
	}
	rc = store_bulk_end(s->store, true);
	if (rc < 0)
		return api_store_fail(s, rc, e, "import devices");
	log_info(MOD, "%zu device(s) imported", st->nrows);
	*out = json_pack("{s:I}", "imported", (json_int_t)st->nrows);
	return MHD_HTTP_CREATED;
}

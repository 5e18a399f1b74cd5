/* One file for now (about 1,700 lines): a table of commands, each a short
 * client of the API, sharing the argument and output helpers here. */
/* pxectl: the admin CLI for pxed.  A client of the HTTP API (it never
 * opens the database), so it works the same against a local or a remote
 * server -- except `store copy`, which moves a whole database between two
 * store URLs on this machine (store_copy.c).  Exit codes: 0 ok, 1 error (the API's detail message is printed),
 * 2 usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/util.h"
#include "common/template.h"
#include "common/vocab.h"
#include "http/http_parse.h"
#include "pxectl/store_copy.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"
/* pxed's default [http] TokenFile: beside the default database,
 * StateDir/pxed.db with StateDir = pxed-state (relative to pxed's cwd). */
#define DEFAULT_TOKEN_FILE "pxed-state/api.token"
/* ... and the packaged daemon's (StateDir /var/lib/pxed), tried when the
 * first is not there, so an admin on the server needs no option. */
#ifndef PACKAGE_TOKEN_FILE
#define PACKAGE_TOKEN_FILE "/var/lib/pxed/api.token"
#endif
#define MAX_REPLY (64u << 20)
#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2

static const char *server = DEFAULT_SERVER;
static bool opt_json;
static const char *token_file; /* --token-file, $PXED_TOKEN_FILE, else NULL: the defaults */
static const char *cacert;     /* --cacert: CA bundle for an https:// server */
static char token[256];        /* $PXED_TOKEN, or read from token_file on first need */

/* ---- usage --------------------------------------------------------------- */

struct command {
	const char *noun, *verb; /* verb NULL: the noun alone is the command */
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command commands[];
static const size_t n_commands;

static void usage_global(FILE *f)
{
	fprintf(f, "usage: pxectl [--server URL] [--token-file FILE] [--cacert FILE] [--json] COMMAND [ARGS]\n\n"
		   "Administer a pxed server over its HTTP API.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < n_commands; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\noptions:\n"
		   "  --server URL       pxed's API (default $PXED_SERVER, else " DEFAULT_SERVER ")\n"
		   "  --token-file FILE  the API token (default $PXED_TOKEN_FILE, else\n"
		   "                     " DEFAULT_TOKEN_FILE ", else " PACKAGE_TOKEN_FILE ");\n"
		   "                     the admin token, or for reads the read-only\n"
		   "                     api-read.token; $PXED_TOKEN wins over both\n"
		   "  --cacert FILE      CA certificate(s) to trust for an https:// server\n"
		   "  --json             print the API's JSON instead of a table\n"
		   "  --help             this text; `pxectl COMMAND --help` for one command\n"
		   "\nexit status: 0 ok, 1 error, 2 usage\n");
}

static int usage_error(const struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pxectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: pxectl %s\n", c->usage);
	return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pxectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERR;
}

/* ---- options ------------------------------------------------------------- */

struct opt {
	const char *name;      /* "--kernel" */
	const char **value;    /* takes an argument */
	bool *flag;            /* or is a flag */
};

/* Options of one command, anywhere after it; up to max_pos positionals. */
static int opts_parse(const struct command *c, int argc, char **argv, const struct opt *opts,
		      const char **pos, size_t max_pos, size_t *n_pos)
{
	*n_pos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct opt *o = NULL;
		if (a[0] != '-' || a[1] == '\0') {
			if (*n_pos == max_pos)
				return usage_error(c, "unexpected argument '%s'", a);
			pos[(*n_pos)++] = a;
			continue;
		}
		for (const struct opt *p = opts; p && p->name; p++)
			if (!strcmp(a, p->name))
				o = p;
		if (!o)
			return usage_error(c, "unknown option '%s'", a);
		if (o->flag) {
			*o->flag = true;
			continue;
		}
		if (i + 1 >= argc)
			return usage_error(c, "option '%s' needs a value", a);
		*o->value = argv[++i];
	}
	return 0;
}

/* A command that takes no arguments. */
static int no_args(const struct command *c, int argc, char **argv)
{
	const char *pos[1];
	size_t np;
	return opts_parse(c, argc, argv, NULL, pos, 0, &np);
}

/* ---- HTTP ---------------------------------------------------------------- */

struct reply {
	char *buf;
	size_t len;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	size_t add = size * n;
	char *nb;
	if (r->len + add + 1 > MAX_REPLY) {
		r->too_big = true;
		return 0;
	}
	nb = realloc(r->buf, r->len + add + 1);
	if (!nb)
		return 0;
	r->buf = nb;
	memcpy(r->buf + r->len, p, add);
	r->len += add;
	r->buf[r->len] = '\0';
	return add;
}

/* A libcurl handle for server + path, the reply collected in r. */
static CURL *curl_for(const char *path, struct reply *r)
{
	char url[2048];
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", server, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	return c;
}

/* The API token: $PXED_TOKEN, else the first line of the token
 * file.  "" when there is none (the server then answers 401). */
static const char *token_get(void)
{
	const char *env = getenv("PXED_TOKEN");
	FILE *f;
	if (token[0])
		return token;
	if (env && *env) {
		snprintf(token, sizeof(token), "%s", env);
		return token;
	}
	const char *path = token_file ? token_file : DEFAULT_TOKEN_FILE;
	f = fopen(path, "re");
	if (!f && !token_file && errno == ENOENT) {
		path = PACKAGE_TOKEN_FILE;
		f = fopen(path, "re");
	}
	if (!f) {
		fprintf(stderr, "pxectl: cannot read the API token from %s: %s "
				"(use --token-file or $PXED_TOKEN)\n", path, strerror(errno));
		return "";
	}
	if (fgets(token, sizeof(token), f))
		token[strcspn(token, "\r\n")] = '\0';
	fclose(f);
	return token;
}

static int api_call_raw(const char *method, const char *path, const char *ctype,
			const char *data, size_t len, json_t **out);

/* One API call.  Returns EXIT_OK with *out (the parsed reply) on 2xx; on an
 * API error prints its detail and returns EXIT_ERR. */
static int api_call(const char *method, const char *path, json_t *body, json_t **out)
{
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;
	if (body && !txt)
		return fail("%s", "out of memory");
	rc = api_call_raw(method, path, body ? "application/json" : NULL, txt,
			  txt ? strlen(txt) : 0, out);
	free(txt);
	return rc;
}

/* A change whose reply needs no reading: the call (body, which may be
 * NULL, is released), then unless --json the message, formatted as by
 * printf. */
static int api_change(const char *method, const char *path, json_t *body, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int api_change(const char *method, const char *path, json_t *body, const char *fmt, ...)
{
	va_list ap;
	json_t *j;
	int rc = api_call(method, path, body, &j);
	json_decref(body);
	if (rc)
		return rc;
	if (!opt_json) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	json_decref(j);
	return EXIT_OK;
}

static int api_call_raw(const char *method, const char *path, const char *ctype,
			const char *data, size_t len, json_t **out)
{
	struct reply r = { 0 };
	CURL *c = curl_for(path, &r);
	struct curl_slist *hdr = NULL;
	char hbuf[320];
	long status = 0;
	CURLcode cc;
	int rc = EXIT_ERR;
	json_t *j = NULL;
	json_error_t jerr;

	*out = NULL;
	if (!c)
		return fail("%s", "cannot initialise libcurl");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pxectl");
	/* Every API call, reads included, needs a token: the admin one, or
	 * for reads the read-only one. */
	snprintf(hbuf, sizeof(hbuf), "Authorization: Bearer %s", token_get());
	hdr = curl_slist_append(hdr, hbuf);
	if (ctype) {
		snprintf(hbuf, sizeof(hbuf), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, hbuf);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data ? data : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	if (hdr)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "pxectl: cannot reach pxed at %s: %s\n", server,
			r.too_big ? "reply too large" : curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (opt_json) /* raw, even for errors: scripts parse it */
		fputs(r.buf ? r.buf : "", stdout);
	j = r.buf ? json_loads(r.buf, JSON_DECODE_ANY, &jerr) : NULL;
	if (status < 200 || status > 299) {
		const char *detail = json_string_value(json_object_get(j, "detail"));
		if (!opt_json) {
			json_t *lines = json_object_get(j, "lines"), *l;
			size_t i;
			if (detail)
				fprintf(stderr, "pxectl: %s\n", detail);
			json_array_foreach(lines, i, l)
				if (json_is_string(l))
					fprintf(stderr, "pxectl: %s\n", json_string_value(l));
			else
				fprintf(stderr, "pxectl: %s answered HTTP %ld\n", server, status);
		}
		goto done;
	}
	if (!j) {
		fprintf(stderr, "pxectl: %s sent a reply that is not JSON\n", server);
		goto done;
	}
	*out = j;
	j = NULL;
	rc = EXIT_OK;
done:
	json_decref(j);
	free(r.buf);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc;
}

/* ---- tables -------------------------------------------------------------- */

#define MAX_COLS 8

struct table {
	size_t ncols, nrows;
	const char *head[MAX_COLS];
	char **cells; /* nrows * ncols */
	size_t width[MAX_COLS];
};

static void table_add(struct table *t, const char *const *row)
{
	char **nc = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	if (!nc)
		exit(EXIT_ERR);
	t->cells = nc;
	for (size_t i = 0; i < t->ncols; i++) {
		char *v = strdup(row[i] ? row[i] : "-");
		if (!v)
			exit(EXIT_ERR);
		/* one line per row: a control character never reaches the terminal */
		for (char *p = v; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		t->cells[t->nrows * t->ncols + i] = v;
	}
	t->nrows++;
}

static void table_print(struct table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		t->width[i] = strlen(t->head[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t n = strlen(t->cells[r * t->ncols + i]);
			if (n > t->width[i])
				t->width[i] = n;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *v = r == 0 ? t->head[i] : t->cells[(r - 1) * t->ncols + i];
			if (i + 1 == t->ncols)
				printf("%s\n", v);
			else
				printf("%-*s  ", (int)t->width[i], v);
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* A field as text: strings as-is, numbers in decimal, null/absent NULL. */
static const char *field(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	return NULL;
}

/* ---- commands ------------------------------------------------------------ */

static const struct command *cur; /* the running command, for usage errors */

static int check_name(const char *what, const char *v)
{
	if (vocab_name_valid(v))
		return 0;
	fprintf(stderr, "pxectl: %s '%s' is not valid: use 1 to %d characters of A-Z a-z 0-9 . _ -\n",
		what, v, VOCAB_NAME_MAX);
	return EXIT_ERR;
}

static int check_path(const char *what, const char *v)
{
	if (vocab_path_valid(v))
		return 0;
	fprintf(stderr, "pxectl: %s '%s' is not valid: give a path relative to the content root, "
			"without '..'\n", what, v);
	return EXIT_ERR;
}

static int print_added(json_t *j, const char *what)
{
	if (!opt_json)
		printf("%s '%s' added\n", what, json_string_value(json_object_get(j, "name")));
	json_decref(j);
	return EXIT_OK;
}

static int cmd_image_add(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *cmdline = NULL, *nbp = NULL, *pos[1];
	const char *arch = NULL, *loader = NULL;
	char names[128];
	const struct opt opts[] = { { "--kernel", &kernel, NULL }, { "--initrd", &initrd, NULL },
				    { "--cmdline", &cmdline, NULL }, { "--nbp", &nbp, NULL },
				    { "--arch", &arch, NULL }, { "--loader", &loader, NULL },
				    { NULL, NULL, NULL } };
	size_t np;
	json_t *body, *j;
	int rc = opts_parse(cur, argc, argv, opts, pos, 1, &np);
	if (rc)
		return rc;
	if (np != 1)
		return usage_error(cur, "the image NAME is required");
	if (nbp && (kernel || initrd || cmdline))
		return usage_error(cur, "--nbp excludes --kernel, --initrd and --cmdline");
	if (!nbp && !kernel)
		return usage_error(cur, "--kernel FILE (or --nbp FILE) is required");
	if ((rc = check_name("image name", pos[0])) || (kernel && (rc = check_path("kernel", kernel))) ||
	    (initrd && (rc = check_path("initrd", initrd))) || (nbp && (rc = check_path("nbp", nbp))))
		return rc;
	if (cmdline && !http_cmdline_template_valid(cmdline))
		return fail("the command line must be printable ASCII without \" ' \\ | & # { } ` or a "
			    "lone ;, and $ only in ${name} or ${name:-default}");
	/* The default arch is stored as "", which says it as "x86". */
	if (arch && (!arch[0] || (strcmp(arch, VOCAB_IMAGE_ARCH_DEFAULT_WORD) &&
				  !vocab_image_arch_valid(arch)))) {
		vocab_list(VOCAB_IMAGE_ARCH, " or ", names, sizeof(names));
		return usage_error(cur, "--arch '%s': ARCH is %s (or %s, the default)", arch, names,
				   VOCAB_IMAGE_ARCH_DEFAULT_WORD);
	}
	if (loader && vocab_loader_parse(loader, 0) < 0) {
		vocab_list(VOCAB_LOADER, " or ", names, sizeof(names));
		return usage_error(cur, "--loader '%s': LOADER is %s", loader, names);
	}
	body = json_pack("{s:s}", "name", pos[0]);
	if (arch && strcmp(arch, VOCAB_IMAGE_ARCH_DEFAULT_WORD))
		json_object_set_new(body, "arch", json_string(arch));
	if (loader)
		json_object_set_new(body, "loader", json_string(loader));
	if (nbp)
		json_object_set_new(body, "nbp", json_string(nbp));
	if (kernel)
		json_object_set_new(body, "kernel", json_string(kernel));
	if (initrd)
		json_object_set_new(body, "initrd", json_string(initrd));
	if (cmdline)
		json_object_set_new(body, "cmdline", json_string(cmdline));
	rc = api_call("POST", "/api/v1/images", body, &j);
	json_decref(body);
	return rc ? rc : print_added(j, "image");
}

static int cmd_device_add(int argc, char **argv)
{
	const char *mac = NULL, *guid = NULL, *pos[1];
	const struct opt opts[] = { { "--mac", &mac, NULL }, { "--guid", &guid, NULL },
				    { NULL, NULL, NULL } };
	uint8_t m[MAC_LEN], g[GUID_LEN];
	size_t np;
	json_t *body, *j;
	int rc = opts_parse(cur, argc, argv, opts, pos, 1, &np);
	if (rc)
		return rc;
	if (np != 1)
		return usage_error(cur, "the device NAME is required");
	if (!mac)
		return usage_error(cur, "--mac MAC is required");
	if ((rc = check_name("device name", pos[0])))
		return rc;
	if (mac_parse(mac, m) < 0)
		return fail("'%s' is not a MAC address (like 52:54:00:12:34:56)", mac);
	if (guid && guid_parse(guid, g) < 0)
		return fail("'%s' is not an SMBIOS GUID (like 8a3c1f2e-0000-4000-8000-525400123456)",
			    guid);
	body = json_pack("{s:s, s:s}", "name", pos[0], "mac", mac);
	if (guid)
		json_object_set_new(body, "guid", json_string(guid));
	rc = api_call("POST", "/api/v1/devices", body, &j);
	json_decref(body);
	return rc ? rc : print_added(j, "device");
}

/* "on IFACES[, and N relayed subnet(s) directed]" of a wake answer. */
static void print_wake(const char *what, json_t *w)
{
	json_int_t directed = json_integer_value(json_object_get(w, "directed"));
	if (json_object_get(w, "error")) {
		printf("%s: Wake-on-LAN not sent: %s\n", what,
		       json_string_value(json_object_get(w, "error")));
		return;
	}
	printf("%s: Wake-on-LAN sent", what);
	if (json_object_get(w, "devices"))
		printf(" for %lld device(s)", (long long)json_integer_value(json_object_get(w, "devices")));
	printf(" on %s", json_string_value(json_object_get(w, "interfaces")));
	if (directed)
		printf(" (and to %lld relayed subnet(s))", (long long)directed);
	printf("\n");
}

static int cmd_deploy(int argc, char **argv)
{
	const char *image = NULL, *device = NULL, *collection = NULL, *unknown = NULL;
	const char *from = NULL, *expires = NULL, *pos[1];
	bool required = false, available = false, wake = false;
	char names[128];
	const struct opt opts[] = { { "--image", &image, NULL },
				    { "--device", &device, NULL },
				    { "--collection", &collection, NULL },
				    { "--unknown", &unknown, NULL },
				    { "--required", NULL, &required },
				    { "--available", NULL, &available },
				    { "--available-from", &from, NULL },
				    { "--expires", &expires, NULL },
				    { "--wake", NULL, &wake },
				    { NULL, NULL, NULL } };
	char target[160];
	size_t np;
	json_t *body, *j;
	int rc = opts_parse(cur, argc, argv, opts, pos, 1, &np);
	if (rc)
		return rc;
	if (np != 1)
		return usage_error(cur, "the deployment NAME is required");
	if (!image)
		return usage_error(cur, "--image IMAGE is required");
	if (!!device + !!collection + !!unknown != 1)
		return usage_error(cur, "give exactly one of --device, --collection and --unknown");
	if (required == available)
		return usage_error(cur, "give exactly one of --required and --available");
	if ((rc = check_name("deployment name", pos[0])) || (rc = check_name("image name", image)) ||
	    (device && (rc = check_name("device name", device))) ||
	    (collection && (rc = check_name("collection name", collection))))
		return rc;
	if (unknown && vocab_arch_parse(unknown, 0) < 0) {
		vocab_list(VOCAB_ARCH_TARGET, " or ", names, sizeof(names));
		return usage_error(cur, "--unknown '%s': ARCH is %s", unknown, names);
	}
	body = json_pack("{s:s, s:s, s:s}", "name", pos[0], "image", image, "purpose",
			 required ? "required" : "available");
	if (device) {
		json_object_set_new(body, "device", json_string(device));
		snprintf(target, sizeof(target), "device '%s'", device);
	} else if (collection) {
		json_object_set_new(body, "collection", json_string(collection));
		snprintf(target, sizeof(target), "collection '%s'", collection);
	} else {
		json_object_set_new(body, "unknown_arch", json_string(unknown));
		snprintf(target, sizeof(target), "unknown %s machines", unknown);
	}
	if (from)
		json_object_set_new(body, "available_from", json_string(from));
	if (expires)
		json_object_set_new(body, "expires", json_string(expires));
	if (wake && unknown)
		return json_decref(body), usage_error(cur, "--wake needs --device or --collection");
	if (!wake)
		return api_change("POST", "/api/v1/deployments", body,
				  "deployment '%s' added: %s image '%s' for %s\n", pos[0],
				  required ? "required" : "available", image, target);
	json_object_set_new(body, "wake", json_true());
	rc = api_call("POST", "/api/v1/deployments", body, &j);
	json_decref(body);
	if (rc)
		return rc;
	if (!opt_json) {
		printf("deployment '%s' added: %s image '%s' for %s\n", pos[0],
		       required ? "required" : "available", image, target);
		print_wake(target, json_object_get(j, "wake"));
	}
	/* The deployment is made either way; a wake that failed is an error. */
	rc = json_object_get(json_object_get(j, "wake"), "error") ? EXIT_ERR : EXIT_OK;
	json_decref(j);
	return rc;
}

/* The objects of array rows as a table: one column per key, under heads. */
static void print_rows(json_t *rows, const char *const *heads, const char *const *keys,
		       size_t ncols)
{
	struct table t = { .ncols = ncols };
	json_t *row;
	size_t i;
	for (i = 0; i < ncols; i++)
		t.head[i] = heads[i];
	json_array_foreach(rows, i, row) {
		char bufs[MAX_COLS][32];
		const char *cells[MAX_COLS];
		for (size_t k = 0; k < ncols; k++)
			cells[k] = field(row, keys[k], bufs[k], sizeof(bufs[k]));
		table_add(&t, cells);
	}
	table_print(&t);
}

/* The options of a list command: --names prints only the names, one a
 * line, with no header (for scripts and shell completion). */
static int list_opts(int argc, char **argv, bool *names)
{
	const struct opt opts[] = { { "--names", NULL, names }, { NULL, NULL, NULL } };
	const char *pos[1];
	size_t np;
	*names = false;
	return opts_parse(cur, argc, argv, opts, pos, 0, &np);
}

static void print_names(json_t *rows)
{
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		if (name)
			printf("%s\n", name);
	}
}

/* GET a list and print it as a table of the given columns. */
static int list(int argc, char **argv, const char *path, const char *const *heads,
		const char *const *keys, size_t ncols)
{
	json_t *j;
	bool names;
	int rc = list_opts(argc, argv, &names);
	if (rc)
		return rc;
	if ((rc = api_call("GET", path, NULL, &j)))
		return rc;
	if (opt_json) {
		json_decref(j);
		return EXIT_OK;
	}
	if (!json_is_array(j)) {
		json_decref(j);
		return fail("%s sent something that is not a list", server);
	}
	if (names)
		print_names(j);
	else
		print_rows(j, heads, keys, ncols);
	json_decref(j);
	return EXIT_OK;
}

static int cmd_device_list(int argc, char **argv)
{
	static const char *const h[] = { "NAME", "MAC", "GUID", "ARCH", "LAST SEEN" };
	static const char *const k[] = { "name", "mac", "guid", "arch", "last_seen" };
	return list(argc, argv, "/api/v1/devices", h, k, ARRAY_SIZE(h));
}

static int cmd_image_list(int argc, char **argv)
{
	static const char *const h[] = { "NAME", "KERNEL", "INITRD", "NBP", "CMDLINE" };
	static const char *const k[] = { "name", "kernel", "initrd", "nbp", "cmdline" };
	return list(argc, argv, "/api/v1/images", h, k, ARRAY_SIZE(h));
}

/* "from T", "until T", "T .. T", or "-" */
static void window_text(json_t *d, char *buf, size_t len)
{
	const char *from = json_string_value(json_object_get(d, "available_from"));
	const char *until = json_string_value(json_object_get(d, "expires"));
	if (from && until)
		snprintf(buf, len, "%s .. %s", from, until);
	else if (from)
		snprintf(buf, len, "from %s", from);
	else if (until)
		snprintf(buf, len, "until %s", until);
	else
		snprintf(buf, len, "-");
}

static int cmd_deployment_list(int argc, char **argv)
{
	struct table t = { .ncols = 6,
			   .head = { "NAME", "IMAGE", "TARGET", "PURPOSE", "ENABLED", "WINDOW" } };
	size_t i;
	json_t *j, *row;
	bool names;
	int rc = list_opts(argc, argv, &names);
	if (rc)
		return rc;
	if ((rc = api_call("GET", "/api/v1/deployments", NULL, &j)))
		return rc;
	if (!opt_json && names && json_is_array(j))
		print_names(j);
	else if (!opt_json && json_is_array(j)) {
		json_array_foreach(j, i, row) {
			char b[3][32], win[128];
			const char *cells[6];
			cells[0] = field(row, "name", b[0], sizeof(b[0]));
			cells[1] = field(row, "image", b[1], sizeof(b[1]));
			cells[2] = field(row, "target", b[2], sizeof(b[2]));
			cells[3] = json_string_value(json_object_get(row, "purpose"));
			cells[4] = json_is_true(json_object_get(row, "enabled")) ? "yes" : "no";
			window_text(row, win, sizeof(win));
			cells[5] = win;
			table_add(&t, cells);
		}
		table_print(&t);
	}
	json_decref(j);
	return EXIT_OK;
}

/* --since: "30s", "15m", "2h", "7d" back from now, else passed as given
 * (unix milliseconds or 2026-11-26T14:00:00Z). */
static void since_arg(const char *s, char *out, size_t len)
{
	unsigned long long n;
	char num[32];
	size_t l = strlen(s);
	struct timeval tv;
	unsigned long long mult = 0;
	if (l >= 2 && l < sizeof(num)) {
		switch (s[l - 1]) {
		case 's': mult = 1000; break;
		case 'm': mult = 60000; break;
		case 'h': mult = 3600000; break;
		case 'd': mult = 86400000; break;
		}
		memcpy(num, s, l - 1);
		num[l - 1] = '\0';
		if (mult && parse_uint(num, 0, 100000000, &n) == 0) {
			gettimeofday(&tv, NULL);
			snprintf(out, len, "%lld",
				 (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000 - (long long)(n * mult));
			return;
		}
	}
	snprintf(out, len, "%s", s);
}

static int cmd_events(int argc, char **argv)
{
	static const char *const h[] = { "TIME", "MAC", "DEVICE", "VIA", "OUTCOME", "DEPLOYMENT",
					 "REASON" };
	static const char *const k[] = { "time", "mac", "device", "via", "outcome", "deployment",
					 "reason" };
	const char *device = NULL, *mac = NULL, *since = NULL, *limit = NULL, *pos[1];
	const struct opt opts[] = { { "--device", &device, NULL }, { "--mac", &mac, NULL },
				    { "--since", &since, NULL }, { "--limit", &limit, NULL },
				    { NULL, NULL, NULL } };
	uint8_t m[MAC_LEN];
	char ms[MAC_STR_LEN];
	unsigned long long lim;
	char path[512] = "/api/v1/events", s[64];
	char *argv2[1];
	size_t np;
	int rc = opts_parse(cur, argc, argv, opts, pos, 0, &np);
	if (rc)
		return rc;
	if (device && (rc = check_name("device name", device)))
		return rc;
	if (limit && parse_uint(limit, 1, 10000, &lim) < 0)
		return usage_error(cur, "--limit '%s' must be a number from 1 to 10000", limit);
	if (since) {
		char *esc;
		since_arg(since, s, sizeof(s));
		esc = curl_easy_escape(NULL, s, 0);
		if (!esc)
			return EXIT_ERR;
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%csince=%s",
			 strchr(path, '?') ? '&' : '?', esc);
		curl_free(esc);
	}
	if (device)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%cdevice=%s",
			 strchr(path, '?') ? '&' : '?', device);
	if (mac) {
		if (mac_parse(mac, m) < 0)
			return usage_error(cur, "--mac '%s' is not a MAC address (like 52:54:00:12:34:56)",
					   mac);
		mac_format(m, ms);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%cmac=%s",
			 strchr(path, '?') ? '&' : '?', ms);
	}
	if (limit)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%climit=%llu",
			 strchr(path, '?') ? '&' : '?', lim);
	return list(0, argv2, path, h, k, ARRAY_SIZE(h));
}

static int cmd_status(int argc, char **argv)
{
	static const char *const keys[] = { "status", "version", "uptime_s", "http_requests", "http_connections",
					    "store_generation", "devices", "images", "deployments" };
	json_t *j;
	char buf[32];
	int rc = no_args(cur, argc, argv);
	if (rc)
		return rc;
	if ((rc = api_call("GET", "/api/v1/status", NULL, &j)))
		return rc;
	if (!opt_json) {
		printf("%-19s: %s\n", "server", server);
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			const char *v = field(j, keys[i], buf, sizeof(buf));
			printf("%-19s: %s\n", keys[i], v ? v : "-");
		}
		json_t *cache = json_object_get(j, "cache");
		if (json_is_object(cache)) {
			static const char *const ck[] = { "hits", "misses", "invalidations",
							  "expirations", "evictions", "entries" };
			for (size_t i = 0; i < ARRAY_SIZE(ck); i++) {
				char k[40];
				const char *v = field(cache, ck[i], buf, sizeof(buf));
				snprintf(k, sizeof(k), "cache %s", ck[i]);
				printf("%-19s: %s\n", k, v ? v : "-");
			}
		}
	}
	json_decref(j);
	return EXIT_OK;
}

/* ---- commands on one row ------------------------------------------------ */

/* Exactly one NAME positional, of a noun ("device"), and the given
 * options. */
static int one_name(int argc, char **argv, const struct opt *opts, const char *noun,
		    const char **name)
{
	const char *pos[1];
	char what[32];
	size_t np;
	int rc = opts_parse(cur, argc, argv, opts, pos, 1, &np);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "%s name", noun);
	if (np != 1)
		return usage_error(cur, "the %s NAME is required", what);
	*name = pos[0];
	return check_name(what, pos[0]);
}

/* The scalar members of an object as "key : value" lines. */
static void print_object(json_t *j)
{
	const char *k;
	json_t *v;
	char buf[32];
	json_object_foreach(j, k, v) {
		const char *t;
		if (json_is_object(v) || json_is_array(v))
			continue;
		t = field(j, k, buf, sizeof(buf));
		printf("%-12s: %s\n", k, t ? t : "-");
	}
}

/* `NOUN show NAME`: GET /api/v1/KIND/NAME. */
static int get_one(int argc, char **argv, const char *kind, const char *noun)
{
	const char *name;
	char path[256];
	json_t *j;
	int rc = one_name(argc, argv, NULL, noun, &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/%s/%s", kind, name);
	if ((rc = api_call("GET", path, NULL, &j)))
		return rc;
	if (!opt_json)
		print_object(j);
	json_decref(j);
	return EXIT_OK;
}

/* `NOUN rm NAME`: DELETE /api/v1/KIND/NAME. */
static int rm_one(int argc, char **argv, const char *kind, const char *noun)
{
	const char *name;
	char path[256];
	int rc = one_name(argc, argv, NULL, noun, &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/%s/%s", kind, name);
	return api_change("DELETE", path, NULL, "%s '%s' removed\n", noun, name);
}

/* `NOUN clear NAME`: POST /api/v1/KIND/NAME/clear; says how many of what
 * (COUNTED) were cleared. */
static int clear_one(int argc, char **argv, const char *kind, const char *noun,
		     const char *counted)
{
	const char *name;
	char path[256];
	json_t *j;
	int rc = one_name(argc, argv, NULL, noun, &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/%s/%s/clear", kind, name);
	if ((rc = api_call("POST", path, NULL, &j)))
		return rc;
	if (!opt_json)
		printf("%s '%s': %lld %s cleared\n", noun, name,
		       (long long)json_integer_value(json_object_get(j, "cleared")), counted);
	json_decref(j);
	return EXIT_OK;
}

static int cmd_device_show(int argc, char **argv)
{
	const char *name, *k;
	char path[256];
	json_t *j, *v, *vars;
	int rc = one_name(argc, argv, NULL, "device", &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/devices/%s", name);
	if ((rc = api_call("GET", path, NULL, &j)))
		return rc;
	if (!opt_json) {
		print_object(j);
		/* the variables a boot would get, and where each comes from */
		vars = json_object_get(j, "vars");
		if (json_object_size(vars))
			printf("variables (deployment %s):\n",
			       json_string_value(json_object_get(j, "vars_deployment"))
				       ? json_string_value(json_object_get(j, "vars_deployment"))
				       : "-");
		json_object_foreach(vars, k, v)
			printf("  %s=%s  (%s)\n", k, json_string_value(json_object_get(v, "value")),
			       json_string_value(json_object_get(v, "from")));
	}
	json_decref(j);
	return EXIT_OK;
}

static int cmd_device_rm(int argc, char **argv)
{
	return rm_one(argc, argv, "devices", "device");
}

static int cmd_device_clear(int argc, char **argv)
{
	return clear_one(argc, argv, "devices", "device", "required deployment(s)");
}

static int cmd_device_set(int argc, char **argv)
{
	const char *name, *nn = NULL, *mac = NULL, *guid = NULL;
	bool no_guid = false;
	const struct opt opts[] = { { "--name", &nn, NULL }, { "--mac", &mac, NULL },
				    { "--guid", &guid, NULL }, { "--no-guid", NULL, &no_guid },
				    { NULL, NULL, NULL } };
	uint8_t m[MAC_LEN], g[GUID_LEN];
	char path[256];
	json_t *body, *j;
	int rc = one_name(argc, argv, opts, "device", &name);
	if (rc)
		return rc;
	if (!nn && !mac && !guid && !no_guid)
		return usage_error(cur, "give at least one of --name, --mac, --guid, --no-guid");
	if (guid && no_guid)
		return usage_error(cur, "--guid and --no-guid exclude each other");
	if (nn && (rc = check_name("new name", nn)))
		return rc;
	if (mac && mac_parse(mac, m) < 0)
		return fail("'%s' is not a MAC address (like 52:54:00:12:34:56)", mac);
	if (guid && guid_parse(guid, g) < 0)
		return fail("'%s' is not an SMBIOS GUID", guid);
	body = json_object();
	if (nn)
		json_object_set_new(body, "name", json_string(nn));
	if (mac)
		json_object_set_new(body, "mac", json_string(mac));
	if (guid)
		json_object_set_new(body, "guid", json_string(guid));
	if (no_guid)
		json_object_set_new(body, "guid", json_null());
	snprintf(path, sizeof(path), "/api/v1/devices/%s", name);
	rc = api_call("PATCH", path, body, &j);
	json_decref(body);
	if (rc)
		return rc;
	if (!opt_json)
		printf("device '%s' updated\n", json_string_value(json_object_get(j, "name")));
	json_decref(j);
	return EXIT_OK;
}

static int cmd_device_import(int argc, char **argv)
{
	const char *pos[1];
	size_t np, len = 0, cap = 0, n;
	char *buf = NULL, chunk[65536];
	FILE *f;
	json_t *j;
	int rc = opts_parse(cur, argc, argv, NULL, pos, 1, &np);
	if (rc)
		return rc;
	if (np != 1)
		return usage_error(cur, "the FILE to import is required (- for standard input)");
	f = strcmp(pos[0], "-") ? fopen(pos[0], "re") : stdin;
	if (!f)
		return fail("cannot read %s: %s", pos[0], strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n > (64u << 20)) {
			rc = fail("%s is larger than the 64 MiB an import may be", pos[0]);
			break;
		}
		if (len + n > cap) {
			char *nb;
			cap = (len + n) * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = fail("%s", "out of memory");
				break;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (f != stdin)
		fclose(f);
	if (!rc)
		rc = api_call_raw("POST", "/api/v1/devices/import", "text/csv", buf ? buf : "", len,
				  &j);
	free(buf);
	if (rc)
		return rc;
	if (!opt_json)
		printf("%lld device(s) imported\n",
		       (long long)json_integer_value(json_object_get(j, "imported")));
	json_decref(j);
	return EXIT_OK;
}

static int cmd_image_show(int argc, char **argv)
{
	return get_one(argc, argv, "images", "image");
}

static int cmd_image_rm(int argc, char **argv)
{
	return rm_one(argc, argv, "images", "image");
}

static int cmd_deployment_show(int argc, char **argv)
{
	static const char *const h[] = { "DEVICE", "MAC", "STATE", "UPDATED", "MESSAGE" };
	static const char *const k[] = { "device", "mac", "state", "updated", "message" };
	const char *name;
	char path[256];
	json_t *j, *st;
	int rc = one_name(argc, argv, NULL, "deployment", &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/deployments/%s", name);
	if ((rc = api_call("GET", path, NULL, &j)))
		return rc;
	if (opt_json) {
		json_decref(j);
		return EXIT_OK;
	}
	print_object(j);
	st = json_object_get(j, "status");
	printf("%-12s: handed out %lld, started %lld, succeeded %lld, failed %lld\n", "status",
	       (long long)json_integer_value(json_object_get(st, "handed_out")),
	       (long long)json_integer_value(json_object_get(st, "started")),
	       (long long)json_integer_value(json_object_get(st, "succeeded")),
	       (long long)json_integer_value(json_object_get(st, "failed")));
	if (json_array_size(json_object_get(j, "devices"))) {
		printf("\n");
		print_rows(json_object_get(j, "devices"), h, k, ARRAY_SIZE(h));
	}
	json_decref(j);
	return EXIT_OK;
}

static int cmd_deployment_rm(int argc, char **argv)
{
	return rm_one(argc, argv, "deployments", "deployment");
}

static int deployment_enable(int argc, char **argv, bool on)
{
	const char *name;
	char path[256];
	int rc = one_name(argc, argv, NULL, "deployment", &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/deployments/%s", name);
	return api_change("PATCH", path, json_pack("{s:b}", "enabled", on), "deployment '%s' %s\n",
			  name, on ? "enabled" : "disabled");
}

static int cmd_deployment_enable(int argc, char **argv)
{
	return deployment_enable(argc, argv, true);
}

static int cmd_deployment_disable(int argc, char **argv)
{
	return deployment_enable(argc, argv, false);
}

/* /metrics is text, not JSON: fetched and printed as it is. */
static int cmd_metrics(int argc, char **argv)
{
	CURL *c;
	struct reply r = { 0 };
	long status = 0;
	CURLcode cc;
	int rc = no_args(cur, argc, argv);
	if (rc)
		return rc;
	c = curl_for("/metrics", &r);
	if (!c)
		return fail("%s", "cannot initialise libcurl");
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		rc = fail("cannot reach pxed at %s: %s", server, curl_easy_strerror(cc));
	else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			rc = fail("%s answered HTTP %ld", server, status);
		else
			fputs(r.buf ? r.buf : "", stdout);
	}
	free(r.buf);
	curl_easy_cleanup(c);
	return rc;
}

/* ---- collections --------------------------------------------------------- */

static int cmd_collection_add(int argc, char **argv)
{
	const char *name;
	json_t *body, *j;
	int rc = one_name(argc, argv, NULL, "collection", &name);
	if (rc)
		return rc;
	body = json_pack("{s:s}", "name", name);
	rc = api_call("POST", "/api/v1/collections", body, &j);
	json_decref(body);
	return rc ? rc : print_added(j, "collection");
}

/* COLLECTION DEVICE, both names. */
static int two_names(int argc, char **argv, const char **coll, const char **dev)
{
	const char *pos[2];
	size_t np;
	int rc = opts_parse(cur, argc, argv, NULL, pos, 2, &np);
	if (rc)
		return rc;
	if (np != 2)
		return usage_error(cur, "COLLECTION and DEVICE are required");
	*coll = pos[0];
	*dev = pos[1];
	if ((rc = check_name("collection name", pos[0])) || (rc = check_name("device name", pos[1])))
		return rc;
	return 0;
}

static int cmd_collection_add_device(int argc, char **argv)
{
	const char *coll, *dev;
	char path[256];
	int rc = two_names(argc, argv, &coll, &dev);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/collections/%s/devices", coll);
	return api_change("POST", path, json_pack("{s:s}", "device", dev),
			  "device '%s' added to collection '%s'\n", dev, coll);
}

static int cmd_collection_remove_device(int argc, char **argv)
{
	const char *coll, *dev;
	char path[256];
	int rc = two_names(argc, argv, &coll, &dev);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/collections/%s/devices/%s", coll, dev);
	return api_change("DELETE", path, NULL, "device '%s' removed from collection '%s'\n", dev,
			  coll);
}

static int cmd_collection_list(int argc, char **argv)
{
	static const char *const h[] = { "NAME", "MEMBERS", "CREATED" };
	static const char *const k[] = { "name", "members", "created" };
	return list(argc, argv, "/api/v1/collections", h, k, ARRAY_SIZE(h));
}

static int cmd_collection_show(int argc, char **argv)
{
	static const char *const h[] = { "DEVICE", "MAC", "GUID", "LAST SEEN" };
	static const char *const k[] = { "name", "mac", "guid", "last_seen" };
	const char *name;
	char path[256];
	json_t *j;
	int rc = one_name(argc, argv, NULL, "collection", &name);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/collections/%s", name);
	if ((rc = api_call("GET", path, NULL, &j)))
		return rc;
	if (!opt_json) {
		print_object(j);
		printf("\n");
		print_rows(json_object_get(j, "devices"), h, k, ARRAY_SIZE(h));
	}
	json_decref(j);
	return EXIT_OK;
}

static int cmd_collection_rm(int argc, char **argv)
{
	return rm_one(argc, argv, "collections", "collection");
}

static int cmd_collection_clear(int argc, char **argv)
{
	return clear_one(argc, argv, "collections", "collection",
			 "required deployment hand-out(s)");
}

/* ---- decision cache ------------------------------------------------------ */

static int cmd_cache_list(int argc, char **argv)
{
	struct table t = { .ncols = 7,
			   .head = { "MAC", "GUID", "ARCH", "OUTCOME", "AGE", "VALID", "REASON" } };
	static const char *const k[] = { "mac", "guid", "arch", "outcome", NULL, "valid", "reason" };
	size_t i;
	json_t *j, *row;
	int rc = no_args(cur, argc, argv);
	if (rc)
		return rc;
	if ((rc = api_call("GET", "/api/v1/cache?limit=10000", NULL, &j)))
		return rc;
	if (!opt_json && json_is_array(j)) {
		json_array_foreach(j, i, row) {
			char b[7][32];
			const char *cells[7];
			for (size_t c = 0; c < 7; c++)
				cells[c] = k[c] ? field(row, k[c], b[c], sizeof(b[c])) : NULL;
			snprintf(b[4], sizeof(b[4]), "%llds",
				 (long long)json_integer_value(json_object_get(row, "age_s")));
			cells[4] = b[4];
			table_add(&t, cells);
		}
		table_print(&t);
	}
	json_decref(j);
	return EXIT_OK;
}

static int cmd_cache_flush(int argc, char **argv)
{
	json_t *j;
	int rc = no_args(cur, argc, argv);
	if (rc)
		return rc;
	if ((rc = api_call("POST", "/api/v1/cache/flush", NULL, &j)))
		return rc;
	if (!opt_json)
		printf("decision cache flushed: %lld entr%s dropped\n",
		       (long long)json_integer_value(json_object_get(j, "flushed")),
		       json_integer_value(json_object_get(j, "flushed")) == 1 ? "y" : "ies");
	json_decref(j);
	return EXIT_OK;
}

/* ---- settings ------------------------------------------------------------ */

static int cmd_settings_get(int argc, char **argv)
{
	struct table t = { .ncols = 3, .head = { "SETTING", "VALUE", "CHANGE" } };
	const char *pos[1];
	size_t np, i;
	json_t *j, *row;
	bool found = false;
	int rc = opts_parse(cur, argc, argv, NULL, pos, 1, &np);
	if (rc)
		return rc;
	if ((rc = api_call("GET", "/api/v1/settings", NULL, &j)))
		return rc;
	if (!json_is_array(j)) {
		json_decref(j);
		return fail("%s sent something that is not a list", server);
	}
	json_array_foreach(j, i, row) {
		const char *key = json_string_value(json_object_get(row, "key"));
		const char *name = json_string_value(json_object_get(row, "name"));
		const char *cells[3];
		if (!key || !name)
			continue;
		if (np && strcasecmp(pos[0], key) != 0 && strcasecmp(pos[0], name) != 0)
			continue;
		found = true;
		if (opt_json)
			continue;
		cells[0] = key;
		cells[1] = json_string_value(json_object_get(row, "value"));
		cells[2] = json_is_true(json_object_get(row, "restart")) ? "restart" : "at once";
		table_add(&t, cells);
	}
	if (!opt_json)
		table_print(&t);
	json_decref(j);
	if (np && !found)
		return fail("no setting '%s'", pos[0]);
	return EXIT_OK;
}

static int cmd_settings_set(int argc, char **argv)
{
	const char *pos[2];
	size_t np, i;
	json_t *body, *j, *ch;
	int rc = opts_parse(cur, argc, argv, NULL, pos, 2, &np);
	if (rc)
		return rc;
	if (np != 2)
		return usage_error(cur, "KEY and VALUE are required");
	body = json_object();
	json_object_set_new(body, pos[0], json_string(pos[1]));
	rc = api_call("PUT", "/api/v1/settings", body, &j);
	json_decref(body);
	if (rc)
		return rc;
	if (!opt_json)
		json_array_foreach(json_object_get(j, "changed"), i, ch)
			printf("%s: %s (was %s)\n", json_string_value(json_object_get(ch, "name")),
			       json_string_value(json_object_get(ch, "value")),
			       json_string_value(json_object_get(ch, "old")));
	json_decref(j);
	return EXIT_OK;
}

static int cmd_wake(int argc, char **argv)
{
	const char *pos[1], *collection = NULL;
	const struct opt opts[] = { { "--collection", &collection, NULL }, { NULL, NULL, NULL } };
	char path[256], what[128];
	size_t np;
	json_t *j;
	int rc = opts_parse(cur, argc, argv, opts, pos, 1, &np);
	if (rc)
		return rc;
	if ((np == 1) == !!collection)
		return usage_error(cur, "give a DEVICE or --collection NAME");
	if (collection) {
		if ((rc = check_name("collection name", collection)))
			return rc;
		snprintf(path, sizeof(path), "/api/v1/collections/%s/wake", collection);
		snprintf(what, sizeof(what), "collection '%s'", collection);
	} else {
		if ((rc = check_name("device name", pos[0])))
			return rc;
		snprintf(path, sizeof(path), "/api/v1/devices/%s/wake", pos[0]);
		snprintf(what, sizeof(what), "device '%s'", pos[0]);
	}
	if ((rc = api_call("POST", path, NULL, &j)))
		return rc;
	if (!opt_json)
		print_wake(what, j);
	json_decref(j);
	return EXIT_OK;
}

/* ---- variables ------------------------------------------------------------ */

/* LEVEL [NAME] then what is left (KEY=VALUE or KEY, or nothing): the
 * variables' API path /api/v1/vars/LEVEL[/NAME] into path, the rest in
 * *rest (NULL when none). */
static int var_args(int argc, char **argv, bool want_rest, char *path, size_t len,
		    const char **rest)
{
	const char *pos[3];
	size_t np, need;
	int rc = opts_parse(cur, argc, argv, NULL, pos, 3, &np);
	if (rc)
		return rc;
	if (np < 1)
		return usage_error(cur, "LEVEL is required (global, device, collection, image, "
					"deployment)");
	if (strcmp(pos[0], "global") && strcmp(pos[0], "device") && strcmp(pos[0], "collection") &&
	    strcmp(pos[0], "image") && strcmp(pos[0], "deployment"))
		return usage_error(cur, "LEVEL '%s' is not global, device, collection, image or "
					"deployment", pos[0]);
	need = (strcmp(pos[0], "global") ? 2 : 1) + (want_rest ? 1 : 0);
	if (np != need)
		return usage_error(cur, "%s", strcmp(pos[0], "global") ? "LEVEL NAME is required, once"
								    : "global takes no NAME");
	if (need - want_rest == 2) {
		if ((rc = check_name(pos[0], pos[1])))
			return rc;
		snprintf(path, len, "/api/v1/vars/%s/%s", pos[0], pos[1]);
	} else {
		snprintf(path, len, "/api/v1/vars/global");
	}
	*rest = want_rest ? pos[np - 1] : NULL;
	return 0;
}

static int check_var_name(const char *k, size_t n)
{
	if (template_name_valid(k, n))
		return 0;
	fprintf(stderr, "pxectl: variable name '%.*s' is not valid: use 1 to %d characters of "
			"A-Z a-z 0-9 _, not starting with a digit\n", (int)n, k, TEMPLATE_NAME_MAX);
	return EXIT_ERR;
}

static int cmd_var_set(int argc, char **argv)
{
	char path[256], full[340];
	const char *kv, *eq;
	json_t *body;
	int rc = var_args(argc, argv, true, path, sizeof(path), &kv);
	if (rc)
		return rc;
	eq = strchr(kv, '=');
	if (!eq)
		return usage_error(cur, "KEY=VALUE is required");
	if ((rc = check_var_name(kv, (size_t)(eq - kv))))
		return rc;
	snprintf(full, sizeof(full), "%s/%.*s", path, (int)(eq - kv), kv);
	body = json_pack("{s:s}", "value", eq + 1);
	return api_change("PUT", full, body, "%.*s set\n", (int)(eq - kv), kv);
}

static int cmd_var_unset(int argc, char **argv)
{
	char path[256], full[340];
	const char *k;
	int rc = var_args(argc, argv, true, path, sizeof(path), &k);
	if (rc)
		return rc;
	if ((rc = check_var_name(k, strlen(k))))
		return rc;
	snprintf(full, sizeof(full), "%s/%s", path, k);
	return api_change("DELETE", full, NULL, "%s unset\n", k);
}

static int cmd_var_list(int argc, char **argv)
{
	char path[256];
	const char *none, *k;
	json_t *j, *v;
	int rc = var_args(argc, argv, false, path, sizeof(path), &none);
	if (rc)
		return rc;
	if ((rc = api_call("GET", path, NULL, &j)))
		return rc;
	if (!opt_json)
		json_object_foreach(json_object_get(j, "vars"), k, v)
			printf("%s=%s\n", k, json_string_value(v));
	json_decref(j);
	return EXIT_OK;
}

static const struct command commands[] = {
	{ "image", "add", cmd_image_add,
	  "image add NAME (--kernel FILE [--initrd FILE] [--cmdline TEXT] | --nbp FILE)\n"
	  "         [--arch uefi-arm64] [--loader ipxe|grub]",
	  "Add a boot image.  FILEs are paths relative to pxed's content root\n"
	  "(served at /files/).  --nbp names a boot program to chain instead.\n"
	  "--arch uefi-arm64: the image is for ARM64 UEFI machines (without it: x86,\n"
	  "BIOS and UEFI x64); a deployment is offered only to machines of its image's\n"
	  "architecture.  --loader: the boot loader family UEFI x64 machines get for\n"
	  "this image (default: the BootLoaderUEFIx64 setting; grub for Secure Boot)." },
	{ "image", "list", cmd_image_list, "image list [--names]",
	  "List boot images (--names: only their names, one a line)." },
	{ "image", "show", cmd_image_show, "image show NAME", "Show one boot image." },
	{ "image", "rm", cmd_image_rm, "image rm NAME",
	  "Remove a boot image (refused while a deployment uses it)." },
	{ "device", "add", cmd_device_add, "device add NAME --mac MAC [--guid GUID]",
	  "Add a device, known by its MAC and, optionally, its SMBIOS GUID." },
	{ "device", "list", cmd_device_list, "device list [--names]",
	  "List devices (--names: only their names, one a line)." },
	{ "device", "show", cmd_device_show, "device show NAME", "Show one device." },
	{ "device", "set", cmd_device_set,
	  "device set NAME [--name NEW] [--mac MAC] [--guid GUID | --no-guid]",
	  "Change a device's name, MAC or SMBIOS GUID." },
	{ "device", "rm", cmd_device_rm, "device rm NAME",
	  "Remove a device (refused while a deployment targets it)." },
	{ "device", "clear", cmd_device_clear, "device clear NAME",
	  "Clear Required PXE Deployments: the device's required deployments run\n"
	  "again at its next network boot." },
	{ "device", "import", cmd_device_import, "device import FILE",
	  "Add devices from a CSV file (- = standard input), one name,mac[,guid] per\n"
	  "line; an optional first line name,mac,guid, blank lines and # comments\n"
	  "are skipped.  All or nothing: if any line is bad, every bad line is\n"
	  "listed and no device is added." },
	{ "collection", "add", cmd_collection_add, "collection add NAME",
	  "Add a collection: a named set of devices that deployments can target." },
	{ "collection", "add-device", cmd_collection_add_device,
	  "collection add-device COLLECTION DEVICE", "Make DEVICE a member of COLLECTION." },
	{ "collection", "remove-device", cmd_collection_remove_device,
	  "collection remove-device COLLECTION DEVICE",
	  "Take DEVICE out of COLLECTION; its next network boot no longer gets the\n"
	  "collection's deployments." },
	{ "collection", "list", cmd_collection_list, "collection list [--names]",
	  "List collections with their member counts (--names: only their names,\n"
	  "one a line)." },
	{ "collection", "show", cmd_collection_show, "collection show NAME",
	  "Show a collection and its member devices." },
	{ "collection", "rm", cmd_collection_rm, "collection rm NAME",
	  "Remove a collection (refused while a deployment targets it); its devices\n"
	  "stay." },
	{ "collection", "clear", cmd_collection_clear, "collection clear NAME",
	  "Clear Required PXE Deployments for every member: their required\n"
	  "deployments run again at their next network boot." },
	{ "deploy", NULL, cmd_deploy,
	  "deploy NAME --image IMAGE (--device DEVICE | --collection COLLECTION | --unknown ARCH)\n"
	  "         (--required|--available) [--available-from TIME] [--expires TIME] [--wake]",
	  "Deploy IMAGE to a device, to every member of a collection, or to unknown\n"
	  "machines (not in the database) of one architecture: ARCH is bios,\n"
	  "uefi-x86, uefi-x64 or uefi-arm64 (unknown machines are answered only\n"
	  "with SupportUnknownMachines on).  A required deployment starts at the\n"
	  "next network boot without a key press, once per device; an available one\n"
	  "asks first.  TIME is unix seconds or a UTC time like 2026-11-26T14:00:00Z:\n"
	  "the deployment is offered from --available-from and no longer from\n"
	  "--expires.  --wake: then wake the device or the collection's members\n"
	  "(as `wake`); nothing is added when the wake would be refused." },
	{ "deployment", "list", cmd_deployment_list, "deployment list [--names]",
	  "List deployments: target (device:NAME, collection:NAME or unknown:ARCH),\n"
	  "purpose, whether enabled, and the availability window (--names: only\n"
	  "their names, one a line)." },
	{ "deployment", "show", cmd_deployment_show, "deployment show NAME",
	  "Show a deployment and its status: how many devices it was handed out to,\n"
	  "how many installers reported started, succeeded, failed, and per device\n"
	  "the last state." },
	{ "deployment", "enable", cmd_deployment_enable, "deployment enable NAME",
	  "Enable a deployment." },
	{ "deployment", "disable", cmd_deployment_disable, "deployment disable NAME",
	  "Disable a deployment (kept, but no client gets it)." },
	{ "deployment", "rm", cmd_deployment_rm, "deployment rm NAME", "Remove a deployment." },
	{ "wake", NULL, cmd_wake, "wake DEVICE | wake --collection NAME",
	  "Send Wake-on-LAN magic packets for a device, or every device of a\n"
	  "collection (at most 10000), 3 each, 100 ms apart, out of pxed's\n"
	  "WakeInterfaces (default: every broadcast interface), and to the\n"
	  "directed broadcast of the relayed subnet a device was last seen on." },
	{ "var", "set", cmd_var_set, "var set LEVEL [NAME] KEY=VALUE",
	  "Set a variable for command lines and answer files.  LEVEL is global\n"
	  "(no NAME), device, collection, image or deployment.  A boot gets the\n"
	  "most specific: device > deployment > collection > image > global." },
	{ "var", "unset", cmd_var_unset, "var unset LEVEL [NAME] KEY", "Remove a variable." },
	{ "var", "list", cmd_var_list, "var list LEVEL [NAME]",
	  "List the variables of one level (and owner)." },
	{ "events", NULL, cmd_events,
	  "events [--device NAME] [--mac MAC] [--since TIME] [--limit N]",
	  "Show boot decisions, oldest first (the newest N, default 100).  --device\n"
	  "and --mac keep one machine's; TIME is 30s/15m/2h/7d ago, unix\n"
	  "milliseconds, or a UTC time like 2026-11-26T14:00:00Z." },
	{ "cache", "list", cmd_cache_list, "cache list",
	  "List the decision cache: per client (MAC, GUID, architecture) the cached\n"
	  "answer, its age, whether it would still be served (VALID: no answer is\n"
	  "served once a change to the database or the settings made it stale)." },
	{ "cache", "flush", cmd_cache_flush, "cache flush",
	  "Drop every cached decision (never needed for correctness: changes already\n"
	  "make stale answers unused)." },
	{ "settings", "get", cmd_settings_get, "settings get [KEY]",
	  "Show the settings in force (secrets as <non empty>/<empty>) and whether a\n"
	  "change takes effect at once or needs a restart." },
	{ "settings", "set", cmd_settings_set, "settings set KEY VALUE",
	  "Change a setting in the running server, checked like the configuration\n"
	  "file.  KEY is Name or section.Name (CacheExpire, pxe.CacheExpire).\n"
	  "Settings that need a restart are refused.  The change is not written to\n"
	  "the file: a SIGHUP or a restart goes back to the file's values." },
	{ "status", NULL, cmd_status, "status", "Show the server's status." },
	{ "store", "copy", store_copy_main, "store copy FROM_URL TO_URL [--force]",
	  "Copy a whole deployment database from one store URL to another, locally\n"
	  "(not through a server; stop pxed first): e.g. sqlite:/var/lib/pxed/pxed.db\n"
	  "to postgresql://pxed@db/pxed, or back.  All or nothing, then verified table\n"
	  "by table (row counts and a digest of the rows' content).  A target that\n"
	  "holds anything is refused unless --force." },
	{ "metrics", NULL, cmd_metrics, "metrics",
	  "Print the server's Prometheus metrics (text format, also with --json)." },
};
static const size_t n_commands = ARRAY_SIZE(commands);

int main(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	int n = 0, rc;
	bool help = false;
	const char *env = getenv("PXED_SERVER");
	const char *tf = getenv("PXED_TOKEN_FILE");
	char srv[1024];

	if (!args)
		return EXIT_ERR;
	if (env && *env)
		server = env;
	token_file = tf && *tf ? tf : NULL;
	/* global options, anywhere on the line */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			opt_json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			help = true;
		else if (!strcmp(argv[i], "--server")) {
			if (++i >= argc) {
				fprintf(stderr, "pxectl: option '--server' needs a value\n");
				free(args);
				return EXIT_USAGE;
			}
			server = argv[i];
		} else if (!strncmp(argv[i], "--server=", 9))
			server = argv[i] + 9;
		else if (!strcmp(argv[i], "--token-file") || !strcmp(argv[i], "--cacert")) {
			const char **dst = argv[i][2] == 't' ? &token_file : &cacert;
			if (++i >= argc) {
				fprintf(stderr, "pxectl: option '%s' needs a value\n", argv[i - 1]);
				free(args);
				return EXIT_USAGE;
			}
			*dst = argv[i];
		} else if (!strncmp(argv[i], "--token-file=", 13))
			token_file = argv[i] + 13;
		else if (!strncmp(argv[i], "--cacert=", 9))
			cacert = argv[i] + 9;
		else
			args[n++] = argv[i];
	}
	snprintf(srv, sizeof(srv), "%s", server);
	while (*srv && srv[strlen(srv) - 1] == '/')
		srv[strlen(srv) - 1] = '\0';
	server = srv;

	if (n == 0 || !strcmp(args[0], "help")) {
		usage_global(help || n ? stdout : stderr);
		free(args);
		return help || n ? EXIT_OK : EXIT_USAGE;
	}
	for (size_t i = 0; i < n_commands; i++) {
		const struct command *c = &commands[i];
		bool has_verb = c->verb != NULL;
		if (strcmp(args[0], c->noun) != 0)
			continue;
		if (has_verb && (n < 2 || strcmp(args[1], c->verb) != 0))
			continue;
		cur = c;
		if (help) {
			printf("usage: pxectl %s\n\n%s\n", c->usage, c->help);
			free(args);
			return EXIT_OK;
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = c->run(n - 1 - has_verb, args + 1 + has_verb);
		curl_global_cleanup();
		free(args);
		return rc;
	}
	if (help) {
		usage_global(stdout);
		free(args);
		return EXIT_OK;
	}
	fprintf(stderr, "pxectl: unknown command '%s%s%s'; see pxectl --help\n", args[0],
		n > 1 ? " " : "", n > 1 ? args[1] : "");
	free(args);
	return EXIT_USAGE;
}

/* pxectl: the admin CLI for pxed.  A client of the HTTP API only (it never
 * opens the database), so it works the same against a local or a remote
 * server.  Exit codes: 0 ok, 1 error (the API's detail message is printed),
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
#include "http/http_parse.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"
#define MAX_REPLY (64u << 20)
#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2

static const char *server = DEFAULT_SERVER;
static bool opt_json;

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
	fprintf(f, "usage: pxectl [--server URL] [--json] COMMAND [ARGS]\n\n"
		   "Administer a pxed server over its HTTP API.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < n_commands; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\noptions:\n"
		   "  --server URL  pxed's API (default $PXED_SERVER, else " DEFAULT_SERVER ")\n"
		   "  --json        print the API's JSON instead of a table\n"
		   "  --help        this text; `pxectl COMMAND --help` for one command\n"
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

/* One API call.  Returns EXIT_OK with *out (the parsed reply) on 2xx; on an
 * API error prints its detail and returns EXIT_ERR. */
static int api_call(const char *method, const char *path, json_t *body, json_t **out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct reply r = { 0 };
	char url[2048], *txt = NULL;
	long status = 0;
	CURLcode cc;
	int rc = EXIT_ERR;
	json_t *j = NULL;
	json_error_t jerr;

	*out = NULL;
	if (!c)
		return fail("%s", "cannot initialise libcurl");
	snprintf(url, sizeof(url), "%s%s", server, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pxectl");
	if (body) {
		txt = json_dumps(body, JSON_COMPACT);
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, txt ? txt : "");
	}
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
			if (detail)
				fprintf(stderr, "pxectl: %s\n", detail);
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
	free(txt);
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
	if (http_name_valid(v))
		return 0;
	fprintf(stderr, "pxectl: %s '%s' is not valid: use 1 to %d characters of A-Z a-z 0-9 . _ -\n",
		what, v, HTTP_NAME_MAX);
	return EXIT_ERR;
}

static int check_path(const char *what, const char *v)
{
	if (http_path_valid(v))
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
	const struct opt opts[] = { { "--kernel", &kernel, NULL }, { "--initrd", &initrd, NULL },
				    { "--cmdline", &cmdline, NULL }, { "--nbp", &nbp, NULL },
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
	if (cmdline && !http_cmdline_valid(cmdline))
		return fail("the command line must be printable ASCII without $ \" ' \\ | & ; # { } `");
	body = json_pack("{s:s}", "name", pos[0]);
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

static int cmd_deploy(int argc, char **argv)
{
	const char *image = NULL, *device = NULL, *pos[1];
	bool required = false, available = false;
	const struct opt opts[] = { { "--image", &image, NULL }, { "--device", &device, NULL },
				    { "--required", NULL, &required },
				    { "--available", NULL, &available }, { NULL, NULL, NULL } };
	size_t np;
	json_t *body, *j;
	int rc = opts_parse(cur, argc, argv, opts, pos, 1, &np);
	if (rc)
		return rc;
	if (np != 1)
		return usage_error(cur, "the deployment NAME is required");
	if (!image || !device)
		return usage_error(cur, "--image IMAGE and --device DEVICE are required");
	if (required == available)
		return usage_error(cur, "give exactly one of --required and --available");
	if ((rc = check_name("deployment name", pos[0])) || (rc = check_name("image name", image)) ||
	    (rc = check_name("device name", device)))
		return rc;
	body = json_pack("{s:s, s:s, s:s, s:s}", "name", pos[0], "image", image, "device", device,
			 "purpose", required ? "required" : "available");
	rc = api_call("POST", "/api/v1/deployments", body, &j);
	json_decref(body);
	if (rc)
		return rc;
	if (!opt_json)
		printf("deployment '%s' added: %s image '%s' for device '%s'\n", pos[0],
		       required ? "required" : "available", image, device);
	json_decref(j);
	return EXIT_OK;
}

/* GET a list and print it as a table of the given columns. */
static int list(int argc, char **argv, const char *path, const char *const *heads,
		const char *const *keys, size_t ncols)
{
	struct table t = { .ncols = ncols };
	size_t np, i;
	const char *pos[1];
	json_t *j, *row;
	int rc = opts_parse(cur, argc, argv, NULL, pos, 0, &np);
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
	for (i = 0; i < ncols; i++)
		t.head[i] = heads[i];
	json_array_foreach(j, i, row) {
		char bufs[MAX_COLS][32];
		const char *cells[MAX_COLS];
		for (size_t k = 0; k < ncols; k++)
			cells[k] = field(row, keys[k], bufs[k], sizeof(bufs[k]));
		table_add(&t, cells);
	}
	table_print(&t);
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

static int cmd_deployment_list(int argc, char **argv)
{
	static const char *const h[] = { "NAME", "IMAGE", "DEVICE", "PURPOSE", "ENABLED" };
	static const char *const k[] = { "name", "image", "device", "purpose", "enabled" };
	return list(argc, argv, "/api/v1/deployments", h, k, ARRAY_SIZE(h));
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
	const char *device = NULL, *since = NULL, *limit = NULL, *pos[1];
	const struct opt opts[] = { { "--device", &device, NULL }, { "--since", &since, NULL },
				    { "--limit", &limit, NULL }, { NULL, NULL, NULL } };
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
	if (limit)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%climit=%llu",
			 strchr(path, '?') ? '&' : '?', lim);
	return list(0, argv2, path, h, k, ARRAY_SIZE(h));
}

static int cmd_status(int argc, char **argv)
{
	static const char *const keys[] = { "status", "uptime_s", "http_requests", "http_connections",
					    "store_generation", "devices", "images", "deployments" };
	const char *pos[1];
	size_t np;
	json_t *j;
	char buf[32];
	int rc = opts_parse(cur, argc, argv, NULL, pos, 0, &np);
	if (rc)
		return rc;
	if ((rc = api_call("GET", "/api/v1/status", NULL, &j)))
		return rc;
	if (!opt_json) {
		printf("%-17s: %s\n", "server", server);
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			const char *v = field(j, keys[i], buf, sizeof(buf));
			printf("%-17s: %s\n", keys[i], v ? v : "-");
		}
	}
	json_decref(j);
	return EXIT_OK;
}

static const struct command commands[] = {
	{ "image", "add", cmd_image_add,
	  "image add NAME --kernel FILE [--initrd FILE] [--cmdline TEXT] | --nbp FILE",
	  "Add a boot image.  FILEs are paths relative to pxed's content root\n"
	  "(served at /files/).  --nbp names a boot program to chain instead." },
	{ "image", "list", cmd_image_list, "image list", "List boot images." },
	{ "device", "add", cmd_device_add, "device add NAME --mac MAC [--guid GUID]",
	  "Add a device, known by its MAC and, optionally, its SMBIOS GUID." },
	{ "device", "list", cmd_device_list, "device list", "List devices." },
	{ "deploy", NULL, cmd_deploy,
	  "deploy NAME --image IMAGE --device DEVICE (--required|--available)",
	  "Deploy IMAGE to DEVICE.  A required deployment starts at the next network\n"
	  "boot without a key press, once; an available one asks first." },
	{ "deployment", "list", cmd_deployment_list, "deployment list", "List deployments." },
	{ "events", NULL, cmd_events, "events [--device NAME] [--since TIME] [--limit N]",
	  "Show boot decisions, oldest first.  TIME is 30s/15m/2h/7d ago, unix\n"
	  "milliseconds, or a UTC time like 2026-11-26T14:00:00Z." },
	{ "status", NULL, cmd_status, "status", "Show the server's status." },
};
static const size_t n_commands = ARRAY_SIZE(commands);

int main(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	int n = 0, rc;
	bool help = false;
	const char *env = getenv("PXED_SERVER");
	char srv[1024];

	if (!args)
		return EXIT_ERR;
	if (env && *env)
		server = env;
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

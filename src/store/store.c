/* store: the front of the store.  It picks the backend by the URL's
 * scheme, validates what callers hand in (once, for every backend) and
 * calls the backend through its struct store_ops (store_backend.h). */
#include "store/store_backend.h"

#include "common/template.h"
#include "common/vocab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A handle: the backend and its own state. */
struct store {
	const struct store_ops *ops;
	struct store_impl *impl;
};

/* Error messages are per thread: the HTTP workers and the event loop may
 * share a handle, and each must read its own call's message. */
__thread char store_errbuf[STORE_ERR_LEN];

int store_errorf(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store_errbuf, sizeof(store_errbuf), fmt, ap);
	va_end(ap);
	return err;
}

const char *store_last_error(const struct store *s)
{
	(void)s;
	return store_errbuf;
}

const char *store_open_error(void)
{
	return store_errbuf;
}

/* ---- URLs ------------------------------------------------------------- */

static const struct store_ops *const backends[] = { &store_sqlite_ops, &store_pg_ops };

/* The backend for url's scheme ("sqlite:PATH", "postgresql://...", and
 * libpq's short form "postgres://..."), or NULL. */
static const struct store_ops *backend_of(const char *url)
{
	if (!url)
		return NULL;
	if (strncmp(url, "postgres://", 11) == 0)
		return &store_pg_ops;
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		size_t n = strlen(backends[i]->scheme);
		if (strncmp(url, backends[i]->scheme, n) == 0 && url[n] == ':')
			return backends[i];
	}
	return NULL;
}

int store_url_check(const char *url, char *why, size_t len)
{
	const struct store_ops *ops = backend_of(url);
	if (!ops) {
		snprintf(why, len, "'%s' is not a supported store URL (sqlite:PATH or "
				   "postgresql://...)", url ? url : "");
		return -EINVAL;
	}
	if (ops == &store_sqlite_ops && url[7] == '\0') {
		snprintf(why, len, "sqlite: needs a path");
		return -EINVAL;
	}
	if (ops == &store_pg_ops && !strchr(url, '/')) {
		snprintf(why, len, "postgresql: needs a connection URI (postgresql://...)");
		return -EINVAL;
	}
	return 0;
}

const char *store_url_file(const char *url)
{
	return backend_of(url) == &store_sqlite_ops && url[7] ? url + 7 : NULL;
}

/* ---- open, close -------------------------------------------------------- */

int store_open(const char *url, struct store **out)
{
	const struct store_ops *ops;
	struct store *s;
	char why[STORE_ERR_LEN];
	int r;

	*out = NULL;
	if ((r = store_url_check(url, why, sizeof(why))) < 0)
		return store_errorf(r, "%s", why);
	ops = backend_of(url);
	s = calloc(1, sizeof(*s));
	if (!s)
		return store_errorf(-ENOMEM, "out of memory");
	s->ops = ops;
	r = ops->open(url, &s->impl);
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->impl);
	free(s);
}

const char *store_backend_name(const struct store *s)
{
	return s->ops->scheme;
}

unsigned store_parallel(const struct store *s)
{
	return s->ops->parallel;
}

bool store_reachable(struct store *s)
{
	return !s->ops->reachable || s->ops->reachable(s->impl);
}

/* ---- validation ------------------------------------------------------- */

static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

/* Names show up in log lines, URLs and CLI output: the store's own rule
 * (vocab_name_check(), VOCAB_NAME_STORED).  Every name field is
 * char[VOCAB_NAME_MAX + 1]. */
_Static_assert(sizeof(((struct store_device *)0)->name) == VOCAB_NAME_MAX + 1, "name size");
_Static_assert(sizeof(((struct store_image *)0)->kernel) == VOCAB_PATH_MAX + 1, "path size");
static int check_name(const char *what, const char *name)
{
	switch (vocab_name_check(name, name ? strnlen(name, VOCAB_NAME_MAX + 1) : 0,
				 VOCAB_NAME_STORED)) {
	case VOCAB_OK:
		return 0;
	case VOCAB_EMPTY:
		return store_errorf(-EINVAL, "%s name is empty", what);
	case VOCAB_TOO_LONG:
		return store_errorf(-EINVAL, "%s name is longer than %d characters", what,
				    VOCAB_NAME_MAX);
	default:
		return store_errorf(-EINVAL,
				    "%s name may hold letters, digits and punctuation other "
				    "than quotes, slashes and spaces", what);
	}
}

static int check_text(const char *what, const char *v, size_t max)
{
	size_t n = strnlen(v, max);
	if (n >= max)
		return store_errorf(-EINVAL, "%s is longer than %zu characters", what, max - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return store_errorf(-EINVAL, "%s holds a control character", what);
	return 0;
}

/* Boot file paths are relative to the content root and served over TFTP
 * and HTTP: the store's own rule (vocab_path_check(), VOCAB_PATH_STORED).
 * Every path field is char[VOCAB_PATH_MAX + 1]. */
static int check_path(const char *what, const char *v)
{
	switch (vocab_path_check(v, strnlen(v, VOCAB_PATH_MAX + 1), VOCAB_PATH_STORED)) {
	case VOCAB_OK:
		return 0;
	case VOCAB_TOO_LONG:
		return store_errorf(-EINVAL, "%s is longer than %d characters", what,
				    VOCAB_PATH_MAX);
	case VOCAB_CONTROL:
	case VOCAB_NUL:
		return store_errorf(-EINVAL, "%s holds a control character", what);
	default:
		return store_errorf(-EINVAL,
				    "%s '%s' must be a path relative to the content root, without "
				    "'..', backslashes or spaces", what, v);
	}
}

static bool bytes_all(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* A device's name, MAC and GUID; fills in created and a sane arch. */
static int check_device(struct store_device *d)
{
	int r = check_name("device", d->name);
	if (r < 0)
		return r;
	if (bytes_all(d->mac, MAC_LEN, 0) || bytes_all(d->mac, MAC_LEN, 0xff) || (d->mac[0] & 1))
		return store_errorf(-EINVAL, "device '%s': MAC must be a unicast address", d->name);
	/* Firmware without a real SMBIOS UUID sends all zeros or all ones;
	 * such a value would match every such machine. */
	if (d->has_guid &&
	    (bytes_all(d->guid, GUID_LEN, 0) || bytes_all(d->guid, GUID_LEN, 0xff)))
		return store_errorf(-EINVAL, "device '%s': GUID is a placeholder, not an identity",
				    d->name);
	if (d->created == 0)
		d->created = unix_now();
	if (d->arch < -1 || d->arch > 0xffff)
		d->arch = -1;
	return 0;
}

/* Which one target dep names (see enum store_target). */
static int deployment_target(struct store_deployment *dep)
{
	bool dev = dep->device_id || dep->device_name[0];
	bool coll = dep->collection_id || dep->collection_name[0];
	if (dep->target == STORE_TARGET_UNKNOWN) {
		if (dev || coll)
			return store_errorf(-EINVAL, "deployment '%s' targets unknown machines and "
					    "must name no device or collection", dep->name);
		if (!vocab_arch_targetable(dep->unknown_arch)) {
			char names[128];
			vocab_list(VOCAB_ARCH_TARGET, ", ", names, sizeof(names));
			return store_errorf(-EINVAL, "deployment '%s': unknown machines' architecture "
					    "class %d is not one of %s", dep->name, dep->unknown_arch,
					    names);
		}
		return 0;
	}
	/* STORE_TARGET_DEVICE is the zero value: callers written before
	 * collections existed name a device and leave the rest zero.  One
	 * that names only a collection means the collection. */
	if (dev && coll)
		return store_errorf(-EINVAL, "deployment '%s' names both a device and a "
				    "collection; a deployment has one target", dep->name);
	if (dep->target == STORE_TARGET_COLLECTION || coll) {
		if (!coll)
			return store_errorf(-EINVAL, "deployment '%s' names no target collection",
					    dep->name);
		dep->target = STORE_TARGET_COLLECTION;
		return 0;
	}
	if (dep->target != STORE_TARGET_DEVICE)
		return store_errorf(-EINVAL, "deployment '%s': unknown target kind %d", dep->name,
				    (int)dep->target);
	if (!dev)
		return store_errorf(-EINVAL, "deployment '%s' names no target device", dep->name);
	return 0;
}

static int check_window(const char *name, int64_t from, int64_t expires)
{
	if (from < 0 || expires < 0)
		return store_errorf(-EINVAL, "deployment '%s': times must be unix seconds (0 = none)",
				    name);
	if (from && expires && expires <= from)
		return store_errorf(-EINVAL, "deployment '%s' expires before it becomes available",
				    name);
	return 0;
}

static bool report_token_valid(const char *t)
{
	size_t n = t ? strnlen(t, STORE_REPORT_TOKEN_MAX + 1) : 0;
	if (n == 0 || n > STORE_REPORT_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return true;
}

/* ---- calls that validate first ------------------------------------------ */

int store_device_add(struct store *s, struct store_device *d)
{
	int r = check_device(d);
	return r < 0 ? r : s->ops->device_add(s->impl, d);
}

int store_device_update(struct store *s, struct store_device *d)
{
	int r = check_device(d);
	return r < 0 ? r : s->ops->device_update(s->impl, d);
}

int store_device_add_discovered(struct store *s, struct store_device *d, int64_t deployment_id,
				int64_t when)
{
	int r;
	d->discovered = true;
	if (d->last_seen == 0)
		d->last_seen = when;
	if ((r = check_device(d)) < 0)
		return r;
	return s->ops->device_add_discovered(s->impl, d, deployment_id, when);
}

int store_image_add(struct store *s, struct store_image *im)
{
	char names[128];
	int r;
	if ((r = check_name("image", im->name)) < 0 ||
	    (r = check_path("kernel", im->kernel)) < 0 ||
	    (r = check_path("initrd", im->initrd)) < 0 ||
	    (r = check_text("cmdline", im->cmdline, sizeof(im->cmdline))) < 0 ||
	    (r = check_path("nbp", im->nbp)) < 0)
		return r;
	if (!im->kernel[0] == !im->nbp[0])
		return store_errorf(-EINVAL, "image '%s' needs either a kernel or an nbp (not both)",
				    im->name);
	if (im->nbp[0] && (im->initrd[0] || im->cmdline[0]))
		return store_errorf(-EINVAL, "image '%s': an nbp image takes no initrd or cmdline",
				    im->name);
	if (strnlen(im->arch, sizeof(im->arch)) >= sizeof(im->arch) ||
	    !vocab_image_arch_valid(im->arch)) {
		vocab_list(VOCAB_IMAGE_ARCH, " or ", names, sizeof(names));
		return store_errorf(-EINVAL, "image '%s': arch must be empty (%s) or %s", im->name,
				    VOCAB_IMAGE_ARCH_DEFAULT_WORD, names);
	}
	if (strnlen(im->loader, sizeof(im->loader)) >= sizeof(im->loader) ||
	    (im->loader[0] && vocab_loader_parse(im->loader, 0) < 0)) {
		vocab_list(VOCAB_LOADER, " or ", names, sizeof(names));
		return store_errorf(-EINVAL, "image '%s': loader must be empty, %s", im->name,
				    names);
	}
	if (im->created == 0)
		im->created = unix_now();
	return s->ops->image_add(s->impl, im);
}

int store_deployment_add(struct store *s, struct store_deployment *dep)
{
	int r = check_name("deployment", dep->name);
	if (r < 0)
		return r;
	if (dep->purpose != STORE_REQUIRED && dep->purpose != STORE_AVAILABLE)
		return store_errorf(-EINVAL, "deployment '%s': purpose must be required or available",
				    dep->name);
	if (!dep->image_id && !dep->image_name[0])
		return store_errorf(-EINVAL, "deployment '%s' names no image", dep->name);
	if ((r = deployment_target(dep)) < 0 ||
	    (r = check_window(dep->name, dep->available_from, dep->expires)) < 0)
		return r;
	if (dep->created == 0)
		dep->created = unix_now();
	if (dep->target != STORE_TARGET_UNKNOWN)
		dep->unknown_arch = -1;
	return s->ops->deployment_add(s->impl, dep);
}

int store_deployment_set_window(struct store *s, const char *name, int64_t available_from,
				int64_t expires)
{
	int r = check_window(name, available_from, expires);
	return r < 0 ? r : s->ops->deployment_set_window(s->impl, name, available_from, expires);
}

int store_collection_add(struct store *s, struct store_collection *c)
{
	int r = check_name("collection", c->name);
	if (r < 0)
		return r;
	if (c->created == 0)
		c->created = unix_now();
	return s->ops->collection_add(s->impl, c);
}

int store_deployments_for_device(struct store *s, int64_t device_id,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx)
{
	if (device_id <= 0)
		return store_errorf(-EINVAL, "no device id given");
	return s->ops->deployments_for_device(s->impl, device_id, cb, ctx);
}

int store_deployments_applicable(struct store *s, int64_t device_id, int arch_class,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx)
{
	if (device_id < 0)
		return store_errorf(-EINVAL, "device id %lld is negative", (long long)device_id);
	return s->ops->deployments_applicable(s->impl, device_id, arch_class, cb, ctx);
}

/* each() for the plain path: no image read alongside. */
struct decide_each {
	const struct store_decide_query *q;
};

static int decide_each_plain(void *ctx, const struct store_deployment *d)
{
	const struct decide_each *e = ctx;
	return e->q->each(e->q->ctx, d, NULL);
}

int store_decide_read(struct store *s, const struct store_decide_query *q)
{
	struct store_device by_mac, by_guid;
	struct decide_each e = { q };
	int64_t id;
	int rm, rg, r;

	if (s->ops->decide_read)
		return s->ops->decide_read(s->impl, q);
	/* Two queries, in one read transaction (nested in the caller's, if
	 * any): SQLite takes its file locks once, not once per statement.
	 * Without one each still reads on its own. */
	int snap = s->ops->read_begin(s->impl);
	r = s->ops->device_by_mac_guid(s->impl, q->mac, q->guid, &by_mac, &rm, &by_guid, &rg);
	if (r >= 0) {
		id = q->choose(q->ctx, &by_mac, rm, &by_guid, rg);
		if (id >= 0)
			r = s->ops->deployments_applicable(s->impl, id, q->arch_class,
							   decide_each_plain, &e);
	}
	if (snap == 0)
		s->ops->read_end(s->impl);
	return r < 0 ? r : 0;
}

int store_decide_read_batch(struct store *s, const struct store_decide_query q[], int r[],
			    size_t n)
{
	int first = 0, snap;

	if (s->ops->decide_read_batch) {
		for (size_t i = 0; i < n; i++)
			r[i] = 0;
		return s->ops->decide_read_batch(s->impl, q, r, n);
	}
	/* One read transaction for all (each read nests in it). */
	snap = n > 1 ? s->ops->read_begin(s->impl) : -1;
	for (size_t i = 0; i < n; i++) {
		r[i] = store_decide_read(s, &q[i]);
		if (r[i] < 0 && !first)
			first = r[i];
	}
	if (snap == 0)
		s->ops->read_end(s->impl);
	return first;
}

bool store_decide_batch_native(const struct store *s)
{
	return s->ops->decide_read_batch != NULL;
}

int store_device_collections(struct store *s, int64_t device_id,
			     int (*cb)(void *ctx, const struct store_collection *c), void *ctx)
{
	if (device_id <= 0)
		return store_errorf(-EINVAL, "no device id given");
	return s->ops->device_collections(s->impl, device_id, cb, ctx);
}

int store_report_create(struct store *s, struct store_report *rep)
{
	int r;
	if (!report_token_valid(rep->token))
		return store_errorf(-EINVAL, "report token must be 1-%d lower-case hex digits",
				    STORE_REPORT_TOKEN_MAX);
	if ((r = check_text("device name", rep->device_name, sizeof(rep->device_name))) < 0 ||
	    (r = check_text("deployment name", rep->deployment_name,
			    sizeof(rep->deployment_name))) < 0)
		return r;
	return s->ops->report_create(s->impl, rep);
}

int store_report_by_token(struct store *s, const char *token, struct store_report *out)
{
	if (!report_token_valid(token))
		return store_errorf(-ENOENT, "no report with this token");
	return s->ops->report_by_token(s->impl, token, out);
}

int store_report_update(struct store *s, int64_t id, enum store_report_state state,
			const char *message, int64_t when_ms)
{
	int r;
	if ((unsigned)state > STORE_REPORT_FAILED)
		return store_errorf(-EINVAL, "report state %d is not one of 0-3", (int)state);
	if (!message)
		message = "";
	if ((r = check_text("report message", message, STORE_REPORT_MSG_MAX + 1)) < 0)
		return r;
	return s->ops->report_update(s->impl, id, state, message, when_ms);
}

/* ---- calls made of other calls ------------------------------------------ */

int store_handout_list(struct store *s, int (*cb)(void *ctx, const struct store_handout *h),
		       void *ctx)
{
	return s->ops->handout_list(s->impl, cb, ctx);
}

int store_handout_done(struct store *s, int64_t device_id, int64_t deployment_id)
{
	return s->ops->handout_get(s->impl, device_id, deployment_id, NULL);
}

int store_event_list(struct store *s, int64_t device_id, int64_t since_ms, unsigned limit,
		     int (*cb)(void *ctx, const struct store_event *ev), void *ctx)
{
	const struct store_event_filter f = {
		.device_id = device_id, .since_ms = since_ms, .limit = limit,
	};
	return s->ops->event_find(s->impl, &f, cb, ctx);
}

/* ---- calls passed straight to the backend ------------------------------- */

uint64_t store_generation(struct store *s)
{
	return s->ops->generation(s->impl);
}

int store_generation_peek(struct store *s, uint64_t *out)
{
	return s->ops->generation_peek(s->impl, out);
}

int store_device_by_name(struct store *s, const char *name, struct store_device *out)
{
	return s->ops->device_by_name(s->impl, name, out);
}

int store_device_by_mac(struct store *s, const uint8_t mac[MAC_LEN], struct store_device *out)
{
	return s->ops->device_by_mac(s->impl, mac, out);
}

int store_device_by_guid(struct store *s, const uint8_t guid[GUID_LEN], struct store_device *out)
{
	return s->ops->device_by_guid(s->impl, guid, out);
}

int store_device_by_id(struct store *s, int64_t id, struct store_device *out)
{
	return s->ops->device_by_id(s->impl, id, out);
}

int store_device_seen(struct store *s, int64_t id, int arch, int64_t when)
{
	return s->ops->device_seen(s->impl, id, arch, when);
}

int store_device_delete(struct store *s, const char *name)
{
	return s->ops->device_delete(s->impl, name);
}

int store_device_list(struct store *s, int (*cb)(void *ctx, const struct store_device *d), void *ctx)
{
	return s->ops->device_list(s->impl, cb, ctx);
}

int store_image_by_name(struct store *s, const char *name, struct store_image *out)
{
	return s->ops->image_by_name(s->impl, name, out);
}

int store_image_by_id(struct store *s, int64_t id, struct store_image *out)
{
	return s->ops->image_by_id(s->impl, id, out);
}

int store_image_list(struct store *s, int (*cb)(void *ctx, const struct store_image *im), void *ctx)
{
	return s->ops->image_list(s->impl, cb, ctx);
}

int store_image_delete(struct store *s, const char *name)
{
	return s->ops->image_delete(s->impl, name);
}

int store_deployment_by_name(struct store *s, const char *name, struct store_deployment *out)
{
	return s->ops->deployment_by_name(s->impl, name, out);
}

int store_deployment_set_enabled(struct store *s, const char *name, bool enabled)
{
	return s->ops->deployment_set_enabled(s->impl, name, enabled);
}

int store_deployment_delete(struct store *s, const char *name)
{
	return s->ops->deployment_delete(s->impl, name);
}

int store_deployment_list(struct store *s, int (*cb)(void *ctx, const struct store_deployment *d), void *ctx)
{
	return s->ops->deployment_list(s->impl, cb, ctx);
}

int store_collection_by_name(struct store *s, const char *name, struct store_collection *out)
{
	return s->ops->collection_by_name(s->impl, name, out);
}

int store_collection_list(struct store *s, int (*cb)(void *ctx, const struct store_collection *c), void *ctx)
{
	return s->ops->collection_list(s->impl, cb, ctx);
}

int store_collection_delete(struct store *s, const char *name)
{
	return s->ops->collection_delete(s->impl, name);
}

int store_collection_add_device(struct store *s, const char *collection, const char *device)
{
	return s->ops->collection_add_device(s->impl, collection, device);
}

int store_collection_remove_device(struct store *s, const char *collection, const char *device)
{
	return s->ops->collection_remove_device(s->impl, collection, device);
}

int store_collection_members(struct store *s, const char *collection, int (*cb)(void *ctx, const struct store_device *d), void *ctx)
{
	return s->ops->collection_members(s->impl, collection, cb, ctx);
}

int store_handout_record(struct store *s, int64_t device_id, int64_t deployment_id, int64_t when)
{
	return s->ops->handout_record(s->impl, device_id, deployment_id, when);
}

int store_handout_get(struct store *s, int64_t device_id, int64_t deployment_id, int64_t *when)
{
	return s->ops->handout_get(s->impl, device_id, deployment_id, when);
}

int store_handout_clear_device(struct store *s, int64_t device_id)
{
	return s->ops->handout_clear_device(s->impl, device_id);
}

int store_handout_clear_collection(struct store *s, const char *collection)
{
	return s->ops->handout_clear_collection(s->impl, collection);
}

int store_event_add(struct store *s, struct store_event *ev)
{
	return s->ops->event_add(s->impl, ev);
}

int store_event_prune(struct store *s, int64_t before_ms)
{
	return s->ops->event_prune(s->impl, before_ms);
}

int store_event_add_many(struct store *s, struct store_event *evs, size_t n)
{
	return s->ops->event_add_many(s->impl, evs, n);
}

int store_event_find(struct store *s, const struct store_event_filter *f, int (*cb)(void *ctx, const struct store_event *ev), void *ctx)
{
	return s->ops->event_find(s->impl, f, cb, ctx);
}

int store_report_counts(struct store *s, int64_t deployment_id, struct store_report_counts *out)
{
	return s->ops->report_counts(s->impl, deployment_id, out);
}

int store_report_list(struct store *s, int64_t deployment_id, int (*cb)(void *ctx, const struct store_report *r), void *ctx)
{
	return s->ops->report_list(s->impl, deployment_id, cb, ctx);
}

int store_bulk_begin(struct store *s)
{
	return s->ops->bulk_begin(s->impl);
}

int store_bulk_end(struct store *s, bool commit)
{
	return s->ops->bulk_end(s->impl, commit);
}

int store_device_by_mac_guid(struct store *s, const uint8_t mac[MAC_LEN], const uint8_t *guid,
			     struct store_device *by_mac, int *rm, struct store_device *by_guid,
			     int *rg)
{
	return s->ops->device_by_mac_guid(s->impl, mac, guid, by_mac, rm, by_guid, rg);
}

int store_device_seen_many(struct store *s, const struct store_seen *v, size_t n)
{
	return n ? s->ops->device_seen_many(s->impl, v, n) : 0;
}

int store_writable(struct store *s, char *why, size_t len)
{
	return s->ops->writable(s->impl, why, len);
}

uint64_t store_rows_read(struct store *s)
{
	return s->ops->rows_read(s->impl);
}

int store_handout_forget(struct store *s, int64_t device_id, int64_t deployment_id)
{
	return s->ops->handout_forget(s->impl, device_id, deployment_id);
}

int store_event_cap(struct store *s, unsigned max_rows)
{
	return s->ops->event_cap(s->impl, max_rows);
}

int store_read_begin(struct store *s)
{
	return s->ops->read_begin(s->impl);
}

void store_read_end(struct store *s)
{
	s->ops->read_end(s->impl);
}

int store_device_search(struct store *s, const struct store_device_query *q, unsigned *total,
			int (*cb)(void *ctx, const struct store_device *d), void *ctx)
{
	/* the backends escape it for LIKE into twice its length */
	if (q->q && strnlen(q->q, 129) > 128)
		return store_errorf(-EINVAL, "search text is too long");
	return s->ops->device_search(s->impl, q, total, cb, ctx);
}

int store_event_count(struct store *s, int64_t since_ms, struct store_event_counts *out)
{
	return s->ops->event_count(s->impl, since_ms, out);
}

int store_row_counts(struct store *s, struct store_row_counts *out)
{
	return s->ops->row_counts(s->impl, out);
}

int store_event_recent_device(struct store *s, int64_t device_id, unsigned limit,
			      int (*cb)(void *ctx, const struct store_event *ev), void *ctx)
{
	return s->ops->event_recent_device(s->impl, device_id, limit, cb, ctx);
}

/* ---- variables ---------------------------------------------------------- */

static const char *const var_level_names[] = { "global", "image", "collection", "deployment",
					       "device" };

/* The built-in variables pxed sets per boot; an admin cannot set them. */
static const char *const var_builtins[] = { "mac",    "guid",   "arch",       "device",
					    "image",  "deployment", "server", "http",
					    "report_url", "answers" };

const char *store_var_level_name(enum store_var_level l)
{
	return (unsigned)l < ARRAY_SIZE(var_level_names) ? var_level_names[l] : "?";
}

int store_var_level_parse(const char *s, enum store_var_level *out)
{
	for (unsigned i = 0; s && i < ARRAY_SIZE(var_level_names); i++)
		if (!strcmp(s, var_level_names[i])) {
			*out = (enum store_var_level)i;
			return 0;
		}
	return -EINVAL;
}

bool store_var_builtin(const char *key)
{
	for (size_t i = 0; key && i < ARRAY_SIZE(var_builtins); i++)
		if (!strcmp(key, var_builtins[i]))
			return true;
	return false;
}

/* The level and, for every level but global, an owner name. */
static int var_check_owner(enum store_var_level level, const char *owner)
{
	if ((unsigned)level > STORE_VAR_DEVICE)
		return store_errorf(-EINVAL, "variable level %d is not one of 0-4", (int)level);
	if (level == STORE_VAR_GLOBAL)
		return owner && *owner ? store_errorf(-EINVAL, "global variables have no owner name")
				       : 0;
	if (!owner || !*owner)
		return store_errorf(-EINVAL, "%s variables need the %s's name",
				    var_level_names[level], var_level_names[level]);
	return 0;
}

static int var_check_key(const char *key)
{
	_Static_assert(STORE_VAR_KEY_MAX == TEMPLATE_NAME_MAX, "one name rule");
	if (!key || !template_name_valid(key, strnlen(key, STORE_VAR_KEY_MAX + 1)))
		return store_errorf(-EINVAL, "variable name must be 1-%d letters, digits and '_', "
				    "not starting with a digit", STORE_VAR_KEY_MAX);
	return 0;
}

int store_var_set(struct store *s, enum store_var_level level, const char *owner, const char *key,
		  const char *value)
{
	int r;
	if ((r = var_check_owner(level, owner)) < 0 || (r = var_check_key(key)) < 0)
		return r;
	if (store_var_builtin(key))
		return store_errorf(-EINVAL, "'%s' is a built-in variable pxed sets for each boot",
				    key);
	if (!value || strnlen(value, STORE_VAR_VALUE_MAX + 1) > STORE_VAR_VALUE_MAX)
		return store_errorf(-EINVAL, "variable value is longer than %d bytes",
				    STORE_VAR_VALUE_MAX);
	return s->ops->var_set(s->impl, level, owner, key, value);
}

int store_var_unset(struct store *s, enum store_var_level level, const char *owner,
		    const char *key)
{
	int r;
	if ((r = var_check_owner(level, owner)) < 0 || (r = var_check_key(key)) < 0)
		return r;
	return s->ops->var_unset(s->impl, level, owner, key);
}

int store_var_list(struct store *s, enum store_var_level level, const char *owner,
		   int (*cb)(void *ctx, const struct store_var *v), void *ctx)
{
	int r = var_check_owner(level, owner);
	return r < 0 ? r : s->ops->var_list(s->impl, level, owner, cb, ctx);
}

int store_vars_applicable(struct store *s, int64_t device_id, int64_t deployment_id,
			  int64_t image_id, int (*cb)(void *ctx, const struct store_var *v),
			  void *ctx)
{
	return s->ops->vars_applicable(s->impl, device_id, deployment_id, image_id, cb, ctx);
}

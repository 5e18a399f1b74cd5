/* pxectl store copy FROM_URL TO_URL [--force]: move a whole store from one
 * backend to another (SQLite to PostgreSQL and back), locally, through the
 * store interface -- the one place of pxectl that opens a database rather
 * than calling the HTTP API.
 *
 * 1. Open both; refuse a target that holds anything unless --force.
 * 2. Copy in dependency order in one bulk load on the target (all or
 *    nothing): images, devices, collections and their members,
 *    deployments, hand-outs, boot events, installer reports, variables.  Row ids may
 *    differ in the target: references are carried by name (and an id map
 *    for events and hand-outs).
 * 3. Verify table by table: the row count and a digest of every row's
 *    content, read back from both stores with ids replaced by names, must
 *    be equal. */
#include "pxectl/store_copy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* ---- id maps (FROM id -> TO id, and id -> name for digests) ------------- */

struct idmap_entry {
	int64_t from, to;
	char name[64];
};

struct idmap {
	struct idmap_entry *v;
	size_t n, cap;
	bool sorted;
};

static int map_add(struct idmap *m, int64_t from, int64_t to, const char *name)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct idmap_entry *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n].from = from;
	m->v[m->n].to = to;
	snprintf(m->v[m->n].name, sizeof(m->v[m->n].name), "%s", name);
	m->n++;
	m->sorted = false;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct idmap_entry *)a)->from, y = ((const struct idmap_entry *)b)->from;
	return x < y ? -1 : x > y;
}

/* Lists come in name order, not id order: sort once, then search, so that
 * a copy of 100,000 devices is not quadratic. */
static const struct idmap_entry *map_find(struct idmap *m, int64_t from)
{
	struct idmap_entry key = { .from = from };
	if (!from)
		return NULL;
	if (!m->sorted) {
		qsort(m->v, m->n, sizeof(*m->v), entry_cmp);
		m->sorted = true;
	}
	return m->n ? bsearch(&key, m->v, m->n, sizeof(*m->v), entry_cmp) : NULL;
}

static void map_free(struct idmap *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- digests -------------------------------------------------------------- */

struct digest {
	uint64_t h;              /* FNV-1a 64 over every row's text */
	unsigned rows;
};

static void digest_row(struct digest *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void digest_row(struct digest *d, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->rows == 0 && d->h == 0)
		d->h = 0xcbf29ce484222325ULL;
	for (const char *p = buf; *p; p++)
		d->h = (d->h ^ (unsigned char)*p) * 0x100000001b3ULL;
	d->h = (d->h ^ '\n') * 0x100000001b3ULL;
	d->rows++;
}

enum table { T_IMAGES, T_DEVICES, T_COLLECTIONS, T_MEMBERS, T_DEPLOYMENTS, T_HANDOUTS,
	     T_EVENTS, T_REPORTS, T_VARS, T__COUNT };
static const char *const table_name[T__COUNT] = {
	"images", "devices", "collections", "collection members", "deployments",
	"hand-outs", "events", "reports", "variables",
};

/* Everything one store holds, read for copying and digesting. */
struct snapshot {
	struct store *s;
	struct digest dg[T__COUNT];
	struct idmap dev, dep;   /* id -> name */
	/* rows kept for the copy */
	struct store_image *im; size_t n_im;
	struct store_device *devs; size_t n_dev;
	struct store_collection *col; size_t n_col;
	struct store_deployment *deps; size_t n_dep;
	struct store_handout *ho; size_t n_ho;
	struct store_event *ev; size_t n_ev;
	struct store_var *vars; size_t n_var;
};

#define PUSH(arr, n, row)                                                              \
	({                                                                             \
		__typeof__(arr) p_ = realloc((arr), ((n) + 1) * sizeof(*(arr)));       \
		int ok_ = p_ != NULL;                                                  \
		if (ok_) {                                                             \
			(arr) = p_;                                                    \
			(arr)[(n)++] = *(row);                                         \
		}                                                                      \
		ok_ ? 0 : 1;                                                           \
	})

static int snap_image(void *ctx, const struct store_image *im)
{
	struct snapshot *sn = ctx;
	digest_row(&sn->dg[T_IMAGES], "%s|%s|%s|%s|%s|%" PRId64 "|%s|%s", im->name, im->kernel,
		   im->initrd, im->cmdline, im->nbp, im->created, im->arch, im->loader);
	return PUSH(sn->im, sn->n_im, im);
}

static int snap_device(void *ctx, const struct store_device *d)
{
	struct snapshot *sn = ctx;
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN] = "";
	mac_format(d->mac, mac);
	if (d->has_guid)
		guid_format(d->guid, guid);
	digest_row(&sn->dg[T_DEVICES], "%s|%s|%s|%d|%" PRId64 "|%" PRId64 "|%d", d->name, mac, guid,
		   d->arch, d->last_seen, d->created, d->discovered);
	if (map_add(&sn->dev, d->id, 0, d->name) < 0)
		return 1;
	return PUSH(sn->devs, sn->n_dev, d);
}

struct member_ctx {
	struct snapshot *sn;
	const char *collection;
};

static int snap_member(void *ctx, const struct store_device *d)
{
	struct member_ctx *m = ctx;
	digest_row(&m->sn->dg[T_MEMBERS], "%s|%s", m->collection, d->name);
	return 0;
}

static int snap_collection(void *ctx, const struct store_collection *c)
{
	struct snapshot *sn = ctx;
	digest_row(&sn->dg[T_COLLECTIONS], "%s|%" PRId64 "|%u", c->name, c->created, c->members);
	return PUSH(sn->col, sn->n_col, c);
}

static int snap_deployment(void *ctx, const struct store_deployment *d)
{
	struct snapshot *sn = ctx;
	digest_row(&sn->dg[T_DEPLOYMENTS],
		   "%s|%s|%s|%s|%d|%d|%" PRId64 "|%d|%" PRId64 "|%" PRId64, d->name, d->image_name,
		   d->device_name, d->collection_name, (int)d->purpose, d->enabled, d->created,
		   d->unknown_arch, d->available_from, d->expires);
	if (map_add(&sn->dep, d->id, 0, d->name) < 0)
		return 1;
	return PUSH(sn->deps, sn->n_dep, d);
}

static const char *name_of(struct idmap *m, int64_t id)
{
	const struct idmap_entry *e = map_find(m, id);
	return e ? e->name : "";
}

static int snap_handout(void *ctx, const struct store_handout *h)
{
	struct snapshot *sn = ctx;
	return PUSH(sn->ho, sn->n_ho, h);
}

static int snap_event(void *ctx, const struct store_event *ev)
{
	struct snapshot *sn = ctx;
	return PUSH(sn->ev, sn->n_ev, ev);
}

static int snap_report(void *ctx, const struct store_report *r)
{
	struct snapshot *sn = ctx;
	char mac[MAC_STR_LEN];
	mac_format(r->mac, mac);
	digest_row(&sn->dg[T_REPORTS], "%s|%s|%s|%s|%" PRId64 "|%d|%s|%" PRId64, r->token,
		   r->device_name, mac, r->deployment_name, r->handed_out_ms, (int)r->state,
		   r->message, r->updated_ms);
	return 0;
}

static int snap_var(void *ctx, const struct store_var *v)
{
	struct snapshot *sn = ctx;
	digest_row(&sn->dg[T_VARS], "%d|%s|%s|%s", (int)v->level, v->owner, v->key, v->value);
	return PUSH(sn->vars, sn->n_var, v);
}

/* Every owner's variables: global, then each image, collection,
 * deployment and device in name order. */
static int snap_vars(struct snapshot *sn)
{
	int r = store_var_list(sn->s, STORE_VAR_GLOBAL, NULL, snap_var, sn);
	for (size_t i = 0; r >= 0 && i < sn->n_im; i++)
		r = store_var_list(sn->s, STORE_VAR_IMAGE, sn->im[i].name, snap_var, sn);
	for (size_t i = 0; r >= 0 && i < sn->n_col; i++)
		r = store_var_list(sn->s, STORE_VAR_COLLECTION, sn->col[i].name, snap_var, sn);
	for (size_t i = 0; r >= 0 && i < sn->n_dep; i++)
		r = store_var_list(sn->s, STORE_VAR_DEPLOYMENT, sn->deps[i].name, snap_var, sn);
	for (size_t i = 0; r >= 0 && i < sn->n_dev; i++)
		r = store_var_list(sn->s, STORE_VAR_DEVICE, sn->devs[i].name, snap_var, sn);
	return r < 0 ? r : 0;
}

static void snap_free(struct snapshot *sn)
{
	map_free(&sn->dev);
	map_free(&sn->dep);
	free(sn->im);
	free(sn->devs);
	free(sn->col);
	free(sn->deps);
	free(sn->ho);
	free(sn->ev);
	free(sn->vars);
}

/* Read everything of sn->s, digesting as it goes.  0 or a negative errno. */
static int snap_read(struct snapshot *sn)
{
	struct store_event_filter all = { 0 };
	int r;
	if ((r = store_image_list(sn->s, snap_image, sn)) < 0 ||
	    (r = store_device_list(sn->s, snap_device, sn)) < 0 ||
	    (r = store_collection_list(sn->s, snap_collection, sn)) < 0 ||
	    (r = store_deployment_list(sn->s, snap_deployment, sn)) < 0 ||
	    (r = store_handout_list(sn->s, snap_handout, sn)) < 0 ||
	    (r = store_event_find(sn->s, &all, snap_event, sn)) < 0)
		return r;
	for (size_t i = 0; i < sn->n_col; i++) {
		struct member_ctx m = { sn, sn->col[i].name };
		if ((r = store_collection_members(sn->s, sn->col[i].name, snap_member, &m)) < 0)
			return r;
	}
	/* Hand-outs and events refer by id: digest them by name. */
	for (size_t i = 0; i < sn->n_ho; i++)
		digest_row(&sn->dg[T_HANDOUTS], "%s|%s|%" PRId64, name_of(&sn->dev, sn->ho[i].device_id),
			   name_of(&sn->dep, sn->ho[i].deployment_id), sn->ho[i].handed_out_at);
	for (size_t i = 0; i < sn->n_ev; i++) {
		const struct store_event *e = &sn->ev[i];
		char mac[MAC_STR_LEN], guid[GUID_STR_LEN] = "";
		mac_format(e->mac, mac);
		if (e->has_guid)
			guid_format(e->guid, guid);
		digest_row(&sn->dg[T_EVENTS], "%" PRId64 "|%s|%s|%d|%.16s|%.8s|%.8s|%.192s|%s|%s|%.64s",
			   e->time_ms, mac, guid, e->arch, e->ifname, e->via, e->outcome, e->reason,
			   name_of(&sn->dev, e->device_id), name_of(&sn->dep, e->deployment_id),
			   e->deployment_name);
	}
	for (size_t i = 0; i < sn->n_dep; i++)
		if ((r = store_report_list(sn->s, sn->deps[i].id, snap_report, sn)) < 0)
			return r;
	return snap_vars(sn);
}

/* ---- the copy -------------------------------------------------------------- */

struct copy {
	struct store *to;
	struct snapshot *from;
	struct idmap *devmap, *depmap; /* from id -> to id */
	int err;
};

static int64_t to_id(struct idmap *m, int64_t from)
{
	const struct idmap_entry *e = map_find(m, from);
	return e ? e->to : 0;
}

static int copy_reports_of(void *ctx, const struct store_report *r)
{
	struct copy *c = ctx;
	struct store_report n = *r;
	n.device_id = to_id(c->devmap, r->device_id);
	n.deployment_id = to_id(c->depmap, r->deployment_id);
	if ((c->err = store_report_create(c->to, &n)) < 0)
		return 1;
	if (r->state != STORE_REPORT_HANDED_OUT || r->message[0] ||
	    r->updated_ms != r->handed_out_ms)
		if ((c->err = store_report_update(c->to, n.id, r->state, r->message,
						  r->updated_ms)) < 0)
			return 1;
	return 0;
}

/* Members by name, read from the source again. */
struct member_copy {
	struct store *to;
	const char *coll;
	int err;
};

static int copy_member(void *ctx, const struct store_device *d)
{
	struct member_copy *m = ctx;
	m->err = store_collection_add_device(m->to, m->coll, d->name);
	return m->err < 0;
}

/* Copy every row of sn into to; 0 or a negative errno, *what = the row kind. */
static int copy_rows(struct snapshot *sn, struct store *to, const char **what)
{
	struct idmap devmap = { 0 }, depmap = { 0 };
	int r = 0;

	*what = "images";
	for (size_t i = 0; r >= 0 && i < sn->n_im; i++) {
		struct store_image im = sn->im[i];
		r = store_image_add(to, &im);
	}
	*what = "devices";
	for (size_t i = 0; r >= 0 && i < sn->n_dev; i++) {
		struct store_device d = sn->devs[i];
		if ((r = store_device_add(to, &d)) >= 0)
			r = map_add(&devmap, sn->devs[i].id, d.id, d.name);
	}
	*what = "collections";
	for (size_t i = 0; r >= 0 && i < sn->n_col; i++) {
		struct store_collection c = sn->col[i];
		r = store_collection_add(to, &c);
	}
	*what = "collection members";
	for (size_t i = 0; r >= 0 && i < sn->n_col; i++) {
		struct member_copy mc = { to, sn->col[i].name, 0 };
		r = store_collection_members(sn->s, sn->col[i].name, copy_member, &mc);
		if (r >= 0 && mc.err < 0)
			r = mc.err;
	}
	*what = "deployments";
	for (size_t i = 0; r >= 0 && i < sn->n_dep; i++) {
		struct store_deployment d = sn->deps[i];
		d.image_id = d.device_id = d.collection_id = 0; /* by name in the target */
		if ((r = store_deployment_add(to, &d)) >= 0)
			r = map_add(&depmap, sn->deps[i].id, d.id, d.name);
	}
	*what = "hand-outs";
	for (size_t i = 0; r >= 0 && i < sn->n_ho; i++)
		r = store_handout_record(to, to_id(&devmap, sn->ho[i].device_id),
					 to_id(&depmap, sn->ho[i].deployment_id),
					 sn->ho[i].handed_out_at);
	*what = "events";
	for (size_t i = 0; r >= 0 && i < sn->n_ev; i++) {
		struct store_event e = sn->ev[i];
		e.device_id = to_id(&devmap, e.device_id);
		e.deployment_id = to_id(&depmap, e.deployment_id);
		sn->ev[i] = e;
	}
	for (size_t i = 0; r >= 0 && i < sn->n_ev; i += 1000)
		r = store_event_add_many(to, sn->ev + i, sn->n_ev - i < 1000 ? sn->n_ev - i : 1000);
	*what = "reports";
	for (size_t i = 0; r >= 0 && i < sn->n_dep; i++) {
		struct copy c = { to, sn, &devmap, &depmap, 0 };
		r = store_report_list(sn->s, sn->deps[i].id, copy_reports_of, &c);
		if (r >= 0 && c.err < 0)
			r = c.err;
	}
	*what = "variables";
	for (size_t i = 0; r >= 0 && i < sn->n_var; i++)
		r = store_var_set(to, sn->vars[i].level, sn->vars[i].owner, sn->vars[i].key,
				  sn->vars[i].value);
	map_free(&devmap);
	map_free(&depmap);
	return r < 0 ? r : 0;
}

static unsigned snap_total(const struct snapshot *sn)
{
	unsigned n = 0;
	for (int t = 0; t < T__COUNT; t++)
		n += sn->dg[t].rows;
	return n;
}

int store_copy_main(int argc, char **argv)
{
	struct snapshot from = { 0 }, to = { 0 }, check = { 0 };
	const char *src = NULL, *dst = NULL, *what = "";
	bool force = false;
	int r, rc = 1;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (!src)
			src = argv[i];
		else if (!dst)
			dst = argv[i];
		else {
			fprintf(stderr, "pxectl: store copy takes two URLs\n");
			return 2;
		}
	}
	if (!src || !dst) {
		fprintf(stderr, "usage: pxectl store copy FROM_URL TO_URL [--force]\n");
		return 2;
	}
	if ((r = store_open(src, &from.s)) < 0) {
		fprintf(stderr, "pxectl: %s: %s\n", src, store_open_error());
		return 1;
	}
	if ((r = store_open(dst, &to.s)) < 0) {
		fprintf(stderr, "pxectl: %s: %s\n", dst, store_open_error());
		goto out;
	}
	if ((r = snap_read(&from)) < 0 || (r = snap_read(&to)) < 0) {
		fprintf(stderr, "pxectl: reading the stores: %s\n", store_last_error(from.s));
		goto out;
	}
	if (snap_total(&to) > 0 && !force) {
		fprintf(stderr, "pxectl: %s is not empty (%u rows); --force copies into it anyway\n",
			dst, snap_total(&to));
		goto out;
	}
	if ((r = store_bulk_begin(to.s)) < 0) {
		fprintf(stderr, "pxectl: %s: %s\n", dst, store_last_error(to.s));
		goto out;
	}
	r = copy_rows(&from, to.s, &what);
	if (r < 0) {
		fprintf(stderr, "pxectl: copying %s: %s; nothing copied\n", what,
			store_last_error(to.s));
		store_bulk_end(to.s, false);
		goto out;
	}
	if ((r = store_bulk_end(to.s, true)) < 0) {
		fprintf(stderr, "pxectl: %s: commit: %s\n", dst, store_last_error(to.s));
		goto out;
	}
	/* Verify: read the target back and compare table by table (with
	 * --force, the target's earlier rows are part of what is read). */
	check.s = to.s;
	if ((r = snap_read(&check)) < 0) {
		fprintf(stderr, "pxectl: reading %s back: %s\n", dst, store_last_error(to.s));
		goto out;
	}
	rc = 0;
	for (int t = 0; t < T__COUNT; t++) {
		bool same = from.dg[t].rows == check.dg[t].rows && from.dg[t].h == check.dg[t].h;
		printf("%-19s %7u rows  digest %016" PRIx64 "  %s\n", table_name[t], check.dg[t].rows,
		       check.dg[t].h, same ? "same" : "DIFFERENT");
		if (!same)
			rc = 1;
	}
	printf(rc ? "copy NOT verified: the target differs from the source\n"
		  : "copied and verified: %u rows\n", snap_total(&check));
out:
	check.s = NULL;
	snap_free(&check);
	store_close(from.s);
	store_close(to.s);
	snap_free(&from);
	snap_free(&to);
	return rc;
}

/* decide_cache: the glue between the decider and its cache (cache.c, the
 * data structure): the key, when an entry may still be given, the one
 * lookup every path takes (decide_open() on a worker, decide_cached() on
 * the loop), keeping a fresh answer, and the admin side (stats, list,
 * flush, limit).  The rules that make an entry stale are in decide.h
 * ("the cache"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "decide/decide_int.h"
#include "store/store.h"

/* What an entry is worth now. */
enum cache_entry_state {
	CACHE_ENTRY_VALID,   /* may be given */
	CACHE_ENTRY_STALE,   /* the store or the settings changed since */
	CACHE_ENTRY_EXPIRED, /* older than CacheExpire or a deployment window edge */
};

/* The cache key: what decide_rules() reads from the request.  ifname and
 * secs are read only by the settings rules (before the cache), via and
 * is_ipxe change no answer (decide.h), and the raw option 93 value only
 * matters through its class. */
static void key_make(const struct pxe_facts *f, struct dcache_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->mac, f->mac, MAC_LEN);
	k->has_guid = f->has_guid;
	if (f->has_guid)
		memcpy(k->guid, f->guid, GUID_LEN);
	k->arch_class = f->has_arch ? (uint8_t)f->arch_class : 0xff;
}

/* Both generations must be the ones the entry was computed under -- any
 * store change (in this process or another sharing the database) or
 * settings reload makes it stale -- and it must be younger than
 * CacheExpire and than the next deployment window edge. */
static enum cache_entry_state entry_state(const struct decider *d, const struct dcache_entry *e,
					  uint64_t gen, int64_t now)
{
	if (e->meta.store_gen != gen || e->meta.settings_gen != d->settings_gen ||
	    e->meta.support_unknown != d->conf->support_unknown)
		return CACHE_ENTRY_STALE;
	if (now < e->meta.computed_ms || now >= e->meta.valid_until_ms ||
	    now - e->meta.computed_ms >= (int64_t)d->conf->cache_expire * 1000)
		return CACHE_ENTRY_EXPIRED;
	return CACHE_ENTRY_VALID;
}

bool cache_lookup(struct decider *d, const struct pxe_facts *f, uint64_t gen, int64_t now,
		  enum cache_lookup_mode mode, struct decision *out, int64_t *seen_id)
{
	struct dcache_key key;
	struct dcache_entry *e;
	int arch = f->has_arch ? f->arch : -1;
	int64_t t = now / 1000;

	*seen_id = 0;
	key_make(f, &key);
	e = dcache_find(d->cache, &key);
	if (e) {
		enum cache_entry_state st = entry_state(d, e, gen, now);
		if (st == CACHE_ENTRY_VALID) {
			dcache_entry_decision(e, out);
			d->stats.hits++;
			if (e->device_id &&
			    seen_due(e->meta.dev_last_seen, e->meta.dev_arch, arch, t)) {
				e->meta.dev_last_seen = t;
				if (arch >= 0)
					e->meta.dev_arch = arch;
				*seen_id = e->device_id;
			}
			return true;
		}
		/* The loop leaves it to the worker to count and drop. */
		if (mode == CACHE_SETTLE) {
			if (st == CACHE_ENTRY_STALE)
				d->stats.invalidations++;
			else
				d->stats.expirations++;
			dcache_remove(d->cache, e);
		}
	}
	if (mode == CACHE_SETTLE)
		d->stats.misses++;
	return false;
}

void cache_keep(struct decider *d, const struct pxe_facts *f, uint64_t gen, uint64_t sgen,
		int64_t now, const struct decide_todo *todo, const struct decision *dec)
{
	const struct pxed_conf *conf = d->conf;
	struct dcache_key key;
	int64_t until = now + (int64_t)conf->cache_expire * 1000;

	if (todo->edge_s && todo->edge_s * 1000 < until)
		until = todo->edge_s * 1000;
	struct dcache_meta m = { .store_gen = gen, .settings_gen = sgen, .computed_ms = now,
				 .valid_until_ms = until, .dev_last_seen = todo->dev.last_seen,
				 .dev_arch = todo->dev.arch,
				 .support_unknown = conf->support_unknown };
	key_make(f, &key);
	if (dcache_put(d->cache, &key, &m, dec) > 0)
		d->stats.evictions++;
}

/* ---- the admin side ------------------------------------------------------- */

void decider_cache_stats(struct decider *d, struct decider_cache_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->stats;
	out->entries = dcache_count(d->cache);
	out->max_entries = dcache_limit(d->cache);
	out->events_queued = d->events.n;
	out->events_dropped = d->events.dropped;
	out->events_coalesced = d->events_coalesced;
	out->unknown_refused = d->unknown_refused;
	pthread_mutex_unlock(&d->lock);
}

int decider_cache_flush(struct decider *d)
{
	size_t n;
	pthread_mutex_lock(&d->lock);
	n = dcache_clear(d->cache);
	pthread_mutex_unlock(&d->lock);
	return (int)n;
}

int decider_cache_set_limit(struct decider *d, size_t max_entries)
{
	struct dcache *c, *old;
	int r = dcache_new(max_entries ? max_entries : CACHE_DEFAULT_MAX, &c);
	if (r < 0)
		return r;
	pthread_mutex_lock(&d->lock);
	old = d->cache;
	d->cache = c;
	pthread_mutex_unlock(&d->lock);
	dcache_free(old);
	return 0;
}

struct list_copy {
	struct decider *d;
	struct decider_cache_entry *v;
	size_t n;
	int64_t now;
	uint64_t store_gen;
};

static int list_copy_one(void *ctx, const struct dcache_entry *e)
{
	struct list_copy *lc = ctx;
	struct decider_cache_entry *o = &lc->v[lc->n++];
	memset(o, 0, sizeof(*o));
	memcpy(o->mac, e->key.mac, MAC_LEN);
	o->has_guid = e->key.has_guid;
	memcpy(o->guid, e->key.guid, GUID_LEN);
	o->has_arch = e->key.arch_class != 0xff;
	o->arch_class = o->has_arch ? (enum pxe_arch_class)e->key.arch_class : PXE_ARCH_OTHER;
	o->outcome = e->outcome;
	memcpy(o->reason, e->strs, e->len[0] + 1u);
	o->device_id = e->device_id;
	o->deployment_id = e->deployment_id;
	o->age_ms = lc->now > e->meta.computed_ms ? lc->now - e->meta.computed_ms : 0;
	/* The lookup's own judgement: "valid" is what it would give now. */
	o->valid = lc->d->conf->cache_expire > 0 &&
		   entry_state(lc->d, e, lc->store_gen, lc->now) == CACHE_ENTRY_VALID;
	return 0;
}

int decider_cache_list(struct decider *d, int (*cb)(void *ctx, const struct decider_cache_entry *e),
		       void *ctx)
{
	struct list_copy lc = { .d = d };
	uint64_t gen = store_generation(d->store);
	size_t n;
	pthread_mutex_lock(&d->lock);
	n = dcache_count(d->cache);
	lc.v = n ? malloc(n * sizeof(*lc.v)) : NULL;
	if (n && !lc.v) {
		pthread_mutex_unlock(&d->lock);
		return -ENOMEM;
	}
	lc.now = d->clock(d->clock_ctx);
	lc.store_gen = gen;
	dcache_foreach(d->cache, list_copy_one, &lc);
	pthread_mutex_unlock(&d->lock);
	/* Callbacks run unlocked, so they may call into the decider. */
	for (size_t i = 0; i < lc.n; i++)
		if (cb(ctx, &lc.v[i]))
			break;
	free(lc.v);
	return (int)n;
}

/* decide: boot / local / ignore for one PXE request -- the core of the
 * decide module (its files: decide_int.h).
 *
 * A decision runs in five steps:
 *   1. settings_rules(): IsActive, MACIgnoreListFile, BindPolicy,
 *      ResponseDelay -- read on every request, never cached.
 *   2. the cache (decide_cache.c): an answer computed under the same store
 *      and settings generations, younger than CacheExpire and than the
 *      next deployment window edge, is given again without touching the
 *      store.
 *   3. decide_rules() (decide_rules.c): identity, unknown machines, the
 *      deployments; the answer goes into the cache.  Then the side effects
 *      of handing it out: the hand-out record of a required deployment and
 *      the discovery of an unknown machine (commit only), the device's
 *      last-seen time.
 *   4. what the caller did with the answer: decide_override() (the
 *      overrides live in the decider too, decide_rules.c).
 *   5. the boot event, once, for every answer, cached or not, with what
 *      the client got: decide_record() (decide_events.c: queued, written
 *      in batches).
 * Steps 1-3 are decide_open() (a worker: it may read the store) or
 * decide_cached() (the loop: memory only). */
#include "decide/decide.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide_int.h"
#include "store/store.h"

/* The MACIgnoreListFile is stat()ed at most this often. */
#define IGNORE_CHECK_MS 1000

static int64_t clock_realtime_ms(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int decider_new(const struct pxed_conf *conf, struct store *store, struct decider **out)
{
	struct decider *d;
	int r;
	*out = NULL;
	if (!conf || !store)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = dcache_new(CACHE_DEFAULT_MAX, &d->cache);
	if (r < 0) {
		free(d);
		return r;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->conf = conf;
	d->store = store;
	d->clock = clock_realtime_ms;
	events_init(d);
	pthread_mutex_lock(&d->lock);
	ignore_list_check(d, d->clock(d->clock_ctx), true);
	pthread_mutex_unlock(&d->lock);
	*out = d;
	return 0;
}

void decider_free(struct decider *d)
{
	if (!d)
		return;
	events_fini(d);
	dcache_free(d->cache);
	mac_list_clear(&d->ignore);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void decider_set_clock(struct decider *d, int64_t (*clock_ms)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&d->lock);
	d->clock = clock_ms ? clock_ms : clock_realtime_ms;
	d->clock_ctx = clock_ms ? ctx : NULL;
	pthread_mutex_unlock(&d->lock);
}

void decider_settings_changed(struct decider *d)
{
	pthread_mutex_lock(&d->lock);
	d->settings_gen++;
	/* The ignore file's name may have changed with the settings: the next
	 * check (decide() or decider_maintain(), both off the event loop)
	 * reads it, rather than this call, which main makes on the loop. */
	d->ignore_checked_ms = 0;
	pthread_mutex_unlock(&d->lock);
}

/* ---- MACIgnoreListFile ------------------------------------------------ */

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Keep d->ignore in step with conf->mac_ignore_file: a stat() at most once
 * a second (or now, when forced), a re-read when the file's identity
 * (device, inode, size, mtime) changed -- an editor's rename and an
 * in-place write both show.  A file that cannot be read or parsed keeps
 * the previous list, logged once per version of the file.  The list is
 * consulted before the cache, so no cache invalidation is needed.
 * Inside d->lock. */
void ignore_list_check(struct decider *d, int64_t now, bool force)
{
	const char *path = d->conf->mac_ignore_file;
	struct stat st;
	char err[PATH_MAX + 64];
	struct mac_list fresh = { 0 };
	bool renamed = strcmp(path, d->ignore_path) != 0;

	if (!force && !renamed && now - d->ignore_checked_ms < IGNORE_CHECK_MS &&
	    now >= d->ignore_checked_ms)
		return;
	d->ignore_checked_ms = now;
	if (!path[0]) {
		if (d->ignore_path[0]) {
			mac_list_clear(&d->ignore);
			d->ignore_path[0] = '\0';
			d->ignore_st_valid = false;
		}
		return;
	}
	if (stat(path, &st) < 0) {
		if (renamed || d->ignore_st_valid)
			log_warn("decide", "MACIgnoreListFile %s: %s; keeping the previous list "
				 "(%zu MACs)", path, strerror(errno), d->ignore.n);
		d->ignore_st_valid = false;
		snprintf(d->ignore_path, sizeof(d->ignore_path), "%s", path);
		return;
	}
	if (!renamed && d->ignore_st_valid && same_file(&st, &d->ignore_st))
		return;
	d->ignore_st = st;
	d->ignore_st_valid = true;
	snprintf(d->ignore_path, sizeof(d->ignore_path), "%s", path);
	if (mac_list_load(path, &fresh, err, sizeof(err)) < 0) {
		/* Once per version of the file: the identity is remembered. */
		log_warn("decide", "MACIgnoreListFile %s; keeping the previous list (%zu MACs)",
			 err, d->ignore.n);
		mac_list_clear(&fresh);
		return;
	}
	mac_list_clear(&d->ignore);
	d->ignore = fresh;
	log_info("decide", "MACIgnoreListFile %s: %zu MACs", path, d->ignore.n);
}


const char *decision_outcome_name(enum decision_outcome o)
{
	switch (o) {
	case DECISION_BOOT:
		return "boot";
	case DECISION_LOCAL:
		return "local";
	case DECISION_IGNORE:
		return "ignore";
	}
	return "?";
}

/* The event-to-be of a decision made now (decide_record()).  Inside
 * d->lock. */
static void rec_set(struct decision *out, bool own_event, bool committed, bool flush,
		    int64_t now, uint64_t gen)
{
	out->rec = (struct decision_rec){ .pending = true, .own_event = own_event,
					  .committed = committed, .flush = flush,
					  .made_ms = now, .store_gen = gen };
	out->repeated = false;
}

/* One decision's steps 1-3, in three parts around the rules' read of the
 * store, so that decide_batch() can read for many at once.  inline_io is
 * false inside decide_batch(), where nothing may be written: last-seen
 * times are only queued, and so will the event be. */
struct run {
	bool commit, use_cache, inline_io, recorded;
	uint64_t gen, sgen;
	int64_t now, t, seen_id;
	int arch;
	int r;
	struct decide_todo todo;
};

/* Steps 1 and 2.  True when the settings or the cache answered (*out
 * filled): then d->lock is held for run_end().  False: the rules must
 * read the store (st->now is their clock); the lock is not held. */
static bool run_begin(struct decider *d, const struct pxe_facts *f, bool commit, bool batch,
		      struct run *st, struct decision *out)
{
	memset(st, 0, sizeof(*st));
	st->commit = commit;
	st->use_cache = d->conf->cache_expire > 0;
	st->arch = f->has_arch ? f->arch : -1;
	/* Read before computing: a change that lands while the rules run
	 * makes the entry stale at once rather than hiding behind it. */
	if (st->use_cache)
		st->gen = store_generation(d->store);

	pthread_mutex_lock(&d->lock);
	st->now = d->clock(d->clock_ctx);
	st->t = st->now / 1000;
	st->inline_io = d->flush_inline && !batch;
	if (settings_rules(d, f, st->now, true, out))
		return true;
	st->sgen = d->settings_gen;
	/* commit = true never takes the cache: that answer is being handed
	 * out now and must record the hand-out (and discover an unknown
	 * machine) from a fresh read of the store. */
	if (st->use_cache && commit)
		d->stats.misses++;
	else if (st->use_cache && cache_lookup(d, f, st->gen, st->now, CACHE_SETTLE, out,
					       &st->seen_id))
		return true;
	pthread_mutex_unlock(&d->lock);
	return false;
}

/* Step 3 after the rules answered (st->r their return): the hand-out or
 * discovery of a committing answer, the last-seen time, the cache.
 * Returns with d->lock held for run_end(). */
static void run_rules_done(struct decider *d, const struct pxe_facts *f, struct run *st,
			   struct decision *out)
{
	struct decide_todo *todo = &st->todo;
	int w;

	if (st->r == 0 && st->commit && (todo->handout || todo->discover)) {
		st->r = commit_record(d, f, todo, out, st->t);
		st->recorded = true;
	}
	if (todo->dev.id && seen_due(todo->dev.last_seen, todo->dev.arch, st->arch, st->t)) {
		if (st->inline_io) {
			w = store_device_seen(d->store, todo->dev.id, st->arch, st->t);
			if (w < 0)
				log_warn("decide", "device '%s': could not record last seen: %s",
					 todo->dev.name, store_last_error(d->store));
		} else {
			st->seen_id = todo->dev.id; /* queued in run_end() */
		}
		todo->dev.last_seen = st->t;
		if (st->arch >= 0)
			todo->dev.arch = st->arch;
	}

	pthread_mutex_lock(&d->lock);
	/* A recorded hand-out bumped the generation: the answer just given is
	 * already stale, so it is not cached.  Store errors are not cached. */
	if (st->r == 0 && st->use_cache && !st->recorded)
		cache_keep(d, f, st->gen, st->sgen, st->now, todo, out);
}

/* The decision's event-to-be and its last-seen time.  Called with
 * d->lock held; releases it. */
static int run_end(struct decider *d, struct run *st, enum decide_choice choice,
		   struct decision *out)
{
	int64_t seen_id = st->seen_id;
	int w;

	if (choice != DECIDE_CHOICE_NONE)
		choice_apply(out, choice);
	rec_set(out, st->commit || choice != DECIDE_CHOICE_NONE, st->commit, st->inline_io,
		st->now, st->gen);
	if (seen_id && !st->inline_io) {
		seen_push(d, seen_id, st->arch, st->t);
		seen_id = 0;
	}
	pthread_mutex_unlock(&d->lock);
	if (seen_id) {
		w = store_device_seen(d->store, seen_id, st->arch, st->t);
		if (w < 0)
			log_warn("decide", "device %lld: could not record last seen: %s",
				 (long long)seen_id, store_last_error(d->store));
	}
	return st->r;
}

/* Steps 1-3 for one request. */
static int decide_run(struct decider *d, const struct pxe_facts *f, bool commit,
		      enum decide_choice choice, bool batch, struct decision *out)
{
	struct run st;

	if (!run_begin(d, f, commit, batch, &st, out)) {
		st.r = decide_rules(d, f, st.now, out, &st.todo);
		run_rules_done(d, f, &st, out);
	}
	return run_end(d, &st, choice, out);
}

int decide_open(struct decider *d, const struct pxe_facts *f, bool commit,
		enum decide_choice choice, struct decision *out)
{
	if (choice == DECIDE_CHOICE_LOCAL)
		commit = false; /* nothing is handed out */
	return decide_run(d, f, commit, choice, false, out);
}

int decide(struct decider *d, const struct pxe_facts *f, bool commit, struct decision *out)
{
	int r = decide_open(d, f, commit, DECIDE_CHOICE_NONE, out);
	decide_record(d, f, out);
	return r;
}

int decide_choice(struct decider *d, const struct pxe_facts *f, enum decide_choice choice,
		  bool commit, struct decision *out)
{
	int r = decide_open(d, f, commit, choice, out);
	decide_record(d, f, out);
	return r;
}

/* decide_batch()'s bookkeeping for one request. */
struct batch_item {
	struct run st;
	bool later;  /* decided after the others (same MAC as one read) */
};

/* The requests the settings or the cache cannot answer have their reads
 * made together (store_decide_read_batch(): one round trip on a database
 * server), then each runs its rules on its rows.  A request whose MAC is
 * already being read for is decided after the others, as in a loop of
 * decide_run(): the cache then answers it as it would have. */
static int batch_run(struct decider *d, const struct pxe_facts *const f[],
		     struct decision *const out[], size_t n)
{
	struct batch_item *it = calloc(n, sizeof(*it));
	const struct pxe_facts **rf = calloc(n, sizeof(*rf));
	struct decision **rout = calloc(n, sizeof(*rout));
	struct decide_todo **rtodo = calloc(n, sizeof(*rtodo));
	int64_t *rnow = calloc(n, sizeof(*rnow));
	int *rr = calloc(n, sizeof(*rr));
	size_t *ri = calloc(n, sizeof(*ri));
	size_t m = 0;
	int ret = -ENOMEM;

	if (!it || !rf || !rout || !rtodo || !rnow || !rr || !ri)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool same = false;
		for (size_t k = 0; k < m && d->conf->cache_expire > 0 && !same; k++)
			same = !memcmp(f[ri[k]]->mac, f[i]->mac, MAC_LEN);
		if (same) {
			it[i].later = true;
			continue;
		}
		if (run_begin(d, f[i], false, true, &it[i].st, out[i])) {
			run_end(d, &it[i].st, DECIDE_CHOICE_NONE, out[i]);
			continue;
		}
		ri[m] = i;
		rf[m] = f[i];
		rout[m] = out[i];
		rtodo[m] = &it[i].st.todo;
		rnow[m] = it[i].st.now;
		m++;
	}
	if (m)
		decide_rules_batch(d, rf, rnow, rout, rtodo, rr, m);
	for (size_t k = 0; k < m; k++) {
		struct run *st = &it[ri[k]].st;
		st->r = rr[k];
		run_rules_done(d, f[ri[k]], st, out[ri[k]]);
		run_end(d, st, DECIDE_CHOICE_NONE, out[ri[k]]);
	}
	for (size_t i = 0; i < n; i++)
		if (it[i].later)
			decide_run(d, f[i], false, DECIDE_CHOICE_NONE, true, out[i]);
	ret = 0;
out:
	free(it);
	free(rf);
	free(rout);
	free(rtodo);
	free(rnow);
	free(rr);
	free(ri);
	return ret;
}

void decide_batch(struct decider *d, const struct pxe_facts *const f[], struct decision *const out[],
		  size_t n)
{
	/* Where the store reads a batch in one round trip without a snapshot
	 * (PostgreSQL), a snapshot's BEGIN and ROLLBACK would be two more.
	 * Elsewhere (SQLite) the snapshot makes the batch take the store's
	 * locks once.  Without it (the store failed to open one) each
	 * decision still reads; a failed read is its IGNORE.  One decision
	 * reads as decide_open() does. */
	bool native = store_decide_batch_native(d->store);
	int r = n > 1 && !native ? store_read_begin(d->store) : -1;
	if (n < 2 || batch_run(d, f, out, n) < 0)
		for (size_t i = 0; i < n; i++)
			decide_run(d, f[i], false, DECIDE_CHOICE_NONE, true, out[i]);
	if (r == 0)
		store_read_end(d->store);
}

int decide_cached(struct decider *d, const struct pxe_facts *f, struct decision *out)
{
	const struct pxed_conf *conf = d->conf;
	uint64_t gen = 0;
	int64_t now, seen_id;
	bool peeked = false;

	/* Peek before locking, as decide_open() reads the generation first. */
	if (conf->cache_expire > 0 && d->peek_held) {
		if (!d->peek_done) {
			d->peek_ok = store_generation_peek(d->store, &d->peek_gen) == 0;
			d->peek_done = true;
		}
		peeked = d->peek_ok;
		gen = d->peek_gen;
	} else if (conf->cache_expire > 0) {
		peeked = store_generation_peek(d->store, &gen) == 0;
	}
	pthread_mutex_lock(&d->lock);
	now = d->clock(d->clock_ctx);
	/* The ignore list as last read: the file is checked by
	 * decider_maintain() and decide_open(), off the loop. */
	if (settings_rules(d, f, now, false, out))
		goto decided;
	/* A stale or expired entry is left for decide_open() to count and
	 * drop. */
	if (!peeked || !cache_lookup(d, f, gen, now, CACHE_PEEK, out, &seen_id)) {
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	if (seen_id)
		seen_push(d, seen_id, f->has_arch ? f->arch : -1, now / 1000);
decided:
	rec_set(out, false, false, false, now, gen);
	pthread_mutex_unlock(&d->lock);
	return 1;
}

void decider_set_publish(struct decider *d, decider_publish_fn fn, void *ctx)
{
	d->publish = fn;
	d->publish_ctx = ctx;
}

void decide_cached_begin(struct decider *d)
{
	d->peek_held = true;
	d->peek_done = false;
}

void decide_cached_end(struct decider *d)
{
	d->peek_held = false;
}

void decision_log(const struct pxe_facts *f, const struct decision *d, const char *context)
{
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN] = "-";
	char what[96], where[IF_NAMESIZE + 8] = "", arch[32];

	if (d->repeated)
		return; /* counted; the summary line comes with its count */
	mac_format(f->mac, mac);
	if (f->has_guid)
		guid_format(f->guid, guid);
	/* The reason already says required or available and names the image
	 * and device; the head only names what boots, as grep targets. */
	if (d->outcome == DECISION_BOOT)
		snprintf(what, sizeof(what), "boot '%s'", d->deployment_name);
	else
		snprintf(what, sizeof(what), "%s", decision_outcome_name(d->outcome));
	if (f->ifname[0])
		snprintf(where, sizeof(where), " on %.*s", IF_NAMESIZE - 1, f->ifname);
	if (f->has_arch)
		snprintf(arch, sizeof(arch), "%s(%u)", vocab_arch_name(f->arch_class),
			 (unsigned)f->arch);
	else
		snprintf(arch, sizeof(arch), "not sent");
	log_info("decide", "%s, %s: %s (%s) [%s%s, arch %s, %s]", mac, guid, what, d->reason,
		 context && context[0] ? context : (f->via == PXE_VIA_HTTP ? "http" : "dhcp"),
		 where, arch, f->is_ipxe ? "ipxe" : "pxe");
}

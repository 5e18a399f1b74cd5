/* One file for now (about 1,600 lines): the rules, the event and last-seen
 * queues, repeat counting and the cache glue share the decider's lock and
 * state; the split into rules / queues / cache glue is planned work. */
/* decide: boot / local / ignore for one PXE request.
 *
 * decide() runs in four steps:
 *   1. settings_rules(): IsActive, MACIgnoreListFile, BindPolicy,
 *      ResponseDelay -- read on every request, never cached.
 *   2. the cache (cache.c): an answer computed under the same store and
 *      settings generations, younger than CacheExpire and than the next
 *      deployment window edge, is given again without touching the store.
 *   3. decide_rules(): identity, unknown machines, the deployments; the
 *      answer goes into the cache.  Then the side effects of handing it
 *      out: the hand-out record of a required deployment and the discovery
 *      of an unknown machine (commit only), the device's last-seen time.
 *   4. the boot event, for every decision, cached or not (queued, written
 *      in batches).
 * Each rule sets one reason string that names it, so an admin reading the
 * log knows which one fired. */
#include "decide/decide.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "conf/conf.h"
#include "conf/mac_list.h"
#include "decide/cache.h"
#include "store/store.h"

/* A device's last-seen time is rewritten at most this often (unless its
 * architecture changed), so a PXE storm does not turn into a write storm. */
#define SEEN_REFRESH_S 60
/* The MACIgnoreListFile is stat()ed at most this often. */
#define IGNORE_CHECK_MS 1000
#define CACHE_DEFAULT_MAX 100000
/* Events are queued and written in one transaction per batch.  Measured
 * with bench_decide (100,000 devices): an autocommit INSERT in WAL mode
 * costs 30-80 us, ten times a whole cached decision (2-3 us), and on a PXE
 * storm every DHCP retry is an event; in batches of 256 a row costs
 * 2.5 us.  The price: an event reaches the table up to EVENT_BATCH_MS
 * late (main calls decider_maintain() on a timer so a quiet server
 * flushes too), and a crash loses at most that much. */
#define EVENT_BATCH_ROWS 256
#define EVENT_BATCH_MS 100
#define EVENT_QUEUE_MAX 65536   /* beyond this (store failing), drop and say so */
#define PRUNE_EVERY_MS (3600 * 1000)

struct decider {
	const struct pxed_conf *conf; /* read on every call: SIGHUP may change it */
	struct store *store;          /* not owned */
	pthread_mutex_t lock;         /* cache, ignore list, event queue, stats */

	int64_t (*clock)(void *ctx);  /* unix ms; injectable for tests */
	void *clock_ctx;

	/* Bumped by decider_settings_changed(): cached answers computed under
	 * other settings are stale. */
	uint64_t settings_gen;

	/* MACIgnoreListFile, re-read when its stat() identity changes. */
	struct mac_list ignore;
	char ignore_path[PATH_MAX];   /* the file `ignore` came from ("" = none) */
	struct stat ignore_st;        /* identity of the file last tried */
	bool ignore_st_valid;         /* ignore_st describes an existing file */
	int64_t ignore_checked_ms;    /* last stat(), clock ms; 0 = never */

	struct dcache *cache;
	struct decider_cache_stats stats;

	/* The last event write: 0 when it went through, else its error,
	 * for /healthz (under lock; written on the worker, read on the loop). */
	int write_err;
	char write_err_text[160];
	struct store_event *evq;      /* events not yet written */
	size_t evq_n, evq_cap;
	int64_t evq_first_ms;         /* when the oldest queued event was made */
	unsigned batch_rows, batch_ms;
	bool flush_inline;            /* decide() writes a due batch itself */
	uint64_t events_dropped;
	int64_t last_prune_ms;

	/* decide_cached_begin(): requests received together share one peek
	 * at the store generation (loop thread only, no lock). */
	bool peek_held, peek_done, peek_ok;
	uint64_t peek_gen;

	/* Last-seen writes due for answers given by decide_cached(), which
	 * never touches the store: written with the next event batch. */
	struct store_seen *seenq;
	size_t seen_n, seen_cap;

	/* Told of every decision (decider_set_publish()); set before
	 * decisions start, so read without the lock. */
	decider_publish_fn publish;
	void *publish_ctx;
	/* Repeats of one decision for one client (DecisionRepeatWindow):
	 * recorded and logged once, then counted (see repeat_check()). */
	struct repeat_slot *repeat;   /* REPEAT_SLOTS, allocated at first use */
	uint64_t events_coalesced;
	/* Unknown machines recorded (UnknownMachinesPerMinute). */
	int64_t unknown_window_ms;    /* start of the current minute */
	unsigned unknown_recorded;    /* in it */
	uint64_t unknown_refused;
	/* EventMaxRows: rows written since the last cap check. */
	uint64_t events_since_cap;
	int64_t last_cap_ms;
};

/* Direct-mapped: a new key takes its slot over, writing the summary of
 * the repeats it held first, so the table never grows. */
#define REPEAT_SLOTS 4096

struct repeat_slot {
	bool used;
	uint64_t key;                 /* repeat_key() */
	int64_t first_ms;             /* the recorded decision: the window's start */
	uint64_t count;               /* repeats since, neither recorded nor logged */
	struct store_event ev;        /* the recorded one, for the summary */
	char guid[GUID_STR_LEN];
};

static void repeat_flush(struct decider *d, struct repeat_slot *r, int64_t now);

#define SEEN_QUEUE_MAX 4096       /* beyond this, drop: the next refresh is a minute away */

static int64_t clock_realtime_ms(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ignore_list_check(struct decider *d, int64_t now, bool force);

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
	d->batch_rows = EVENT_BATCH_ROWS;
	d->batch_ms = EVENT_BATCH_MS;
	d->flush_inline = true;
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
	if (d->repeat) {
		/* the counts not yet written, as their summaries */
		pthread_mutex_lock(&d->lock);
		int64_t now = d->clock(d->clock_ctx);
		for (size_t i = 0; i < REPEAT_SLOTS; i++)
			if (d->repeat[i].used)
				repeat_flush(d, &d->repeat[i], now);
		pthread_mutex_unlock(&d->lock);
	}
	decider_events_flush(d);
	free(d->repeat);
	free(d->seenq);
	dcache_free(d->cache);
	mac_list_clear(&d->ignore);
	free(d->evq);
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
static void ignore_list_check(struct decider *d, int64_t now, bool force)
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

/* ---- the event queue ---------------------------------------------------- */

void decider_set_event_flush_inline(struct decider *d, bool inline_flush)
{
	pthread_mutex_lock(&d->lock);
	d->flush_inline = inline_flush;
	pthread_mutex_unlock(&d->lock);
}

void decider_set_event_batch(struct decider *d, unsigned max_rows, unsigned max_delay_ms)
{
	pthread_mutex_lock(&d->lock);
	d->batch_rows = max_rows;
	d->batch_ms = max_delay_ms;
	pthread_mutex_unlock(&d->lock);
	if (max_rows <= 1)
		decider_events_flush(d);
}

/* Take the queue out under the lock; the caller writes it without. */
static struct store_event *evq_take(struct decider *d, size_t *n)
{
	struct store_event *q = d->evq;
	*n = d->evq_n;
	d->evq = NULL;
	d->evq_n = d->evq_cap = 0;
	return q;
}

/* Put a batch that could not be written back in front of the queue, for
 * the next flush; false when there is no room (then it is dropped). */
static bool evq_requeue(struct decider *d, struct store_event *q, size_t n)
{
	struct store_event *m;
	bool ok = false;
	pthread_mutex_lock(&d->lock);
	if (n + d->evq_n <= EVENT_QUEUE_MAX && (m = realloc(q, (n + d->evq_n) * sizeof(*q)))) {
		if (d->evq_n)
			memcpy(m + n, d->evq, d->evq_n * sizeof(*m));
		free(d->evq);
		d->evq = m;
		d->evq_n += n;
		d->evq_cap = d->evq_n;
		d->evq_first_ms = m[0].time_ms;
		ok = true;
	} else {
		d->events_dropped += n;
	}
	pthread_mutex_unlock(&d->lock);
	if (!ok)
		free(q);
	return ok;
}

static int evq_write(struct decider *d, struct store_event *q, size_t n)
{
	int r = 0;
	if (n) {
		r = store_event_add_many(d->store, q, n);
		if (r == -ENOTCONN && evq_requeue(d, q, n))
			return r; /* the database is down: the store said so once */
		if (r == -EBUSY && evq_requeue(d, q, n)) {
			/* Another process holds the write lock: the next flush
			 * (decider_maintain, on the worker) tries again. */
			log_warn("decide", "could not record %zu boot events yet: %s; kept for the "
				 "next try", n, store_last_error(d->store));
			return r;
		}
		if (r < 0)
			log_warn("decide", "could not record %zu boot events: %s", n,
				 store_last_error(d->store));
		pthread_mutex_lock(&d->lock);
		d->write_err = r < 0 ? r : 0;
		if (r < 0)
			snprintf(d->write_err_text, sizeof(d->write_err_text), "%s",
				 store_last_error(d->store));
		pthread_mutex_unlock(&d->lock);
	}
	free(q);
	return r < 0 ? r : (int)n;
}

/* The queued last-seen writes; taken under the lock, written without. */
static struct store_seen *seenq_take(struct decider *d, size_t *n)
{
	struct store_seen *q = d->seenq;
	*n = d->seen_n;
	d->seenq = NULL;
	d->seen_n = d->seen_cap = 0;
	return q;
}

/* Put writes that could not be made back in front of the queue. */
static void seenq_requeue(struct decider *d, struct store_seen *q, size_t n)
{
	struct store_seen *m;
	pthread_mutex_lock(&d->lock);
	if (n + d->seen_n <= SEEN_QUEUE_MAX && (m = malloc((n + d->seen_n) * sizeof(*m)))) {
		memcpy(m, q, n * sizeof(*m));
		if (d->seen_n)
			memcpy(m + n, d->seenq, d->seen_n * sizeof(*m));
		free(d->seenq);
		d->seenq = m;
		d->seen_n += n;
		d->seen_cap = d->seen_n;
	}
	pthread_mutex_unlock(&d->lock);
}

/* busy: another process holds the write lock (an event batch just waited
 * the whole busy timeout for it), so keep them all for the next try
 * rather than wait once more per device. */
static void seenq_write(struct decider *d, struct store_seen *q, size_t n, bool busy)
{
	/* One transaction for the lot: a storm of first-seen machines made an
	 * autocommit UPDATE per device the worker's largest cost. */
	int w = busy || !n ? 0 : store_device_seen_many(d->store, q, n);
	/* -ENOTCONN: the database is down: keep them for later. */
	if (busy || w == -EBUSY || w == -ENOTCONN) {
		if (w == -EBUSY || w == -ENOTCONN)
			log_warn("decide", "could not record %zu last-seen times yet: %s; kept "
				 "for the next try", n, store_last_error(d->store));
		seenq_requeue(d, q, n);
	} else if (w < 0) {
		log_warn("decide", "could not record %zu last-seen times: %s", n,
			 store_last_error(d->store));
	}
	free(q);
}

/* Inside d->lock. */
static void seenq_push(struct decider *d, int64_t device_id, int arch, int64_t t)
{
	if (d->seen_n == d->seen_cap) {
		size_t cap = d->seen_cap ? d->seen_cap * 2 : 16;
		struct store_seen *q;
		if (cap > SEEN_QUEUE_MAX || !(q = realloc(d->seenq, cap * sizeof(*q))))
			return; /* last seen is advisory: the next refresh comes */
		d->seenq = q;
		d->seen_cap = cap;
	}
	d->seenq[d->seen_n++] = (struct store_seen){ device_id, arch, t };
}

int decider_events_flush(struct decider *d)
{
	size_t n, sn;
	struct store_event *q;
	struct store_seen *sq;
	pthread_mutex_lock(&d->lock);
	q = evq_take(d, &n);
	sq = seenq_take(d, &sn);
	pthread_mutex_unlock(&d->lock);
	int r = evq_write(d, q, n);
	seenq_write(d, sq, sn, r == -EBUSY || r == -ENOTCONN);
	return r;
}

/* Queue one event; *flush = the queue to write now (after unlocking).
 * Inside d->lock. */
static struct store_event *evq_push(struct decider *d, const struct store_event *ev, int64_t now,
				    size_t *flush_n, bool may_flush)
{
	*flush_n = 0;
	if (d->evq_n == d->evq_cap) {
		if (d->evq_cap >= EVENT_QUEUE_MAX) {
			if (d->events_dropped++ == 0)
				log_warn("decide", "boot event queue full (%d); dropping events",
					 EVENT_QUEUE_MAX);
			return NULL;
		}
		size_t cap = d->evq_cap ? d->evq_cap * 2 : 64;
		struct store_event *q = realloc(d->evq, cap * sizeof(*q));
		if (!q) {
			d->events_dropped++;
			return NULL;
		}
		d->evq = q;
		d->evq_cap = cap;
	}
	if (d->evq_n == 0)
		d->evq_first_ms = now;
	d->evq[d->evq_n++] = *ev;
	if (!may_flush)
		return NULL;
	if (d->evq_n >= d->batch_rows || now - d->evq_first_ms >= (int64_t)d->batch_ms ||
	    now < d->evq_first_ms)
		return evq_take(d, flush_n);
	return NULL;
}

/* ---- repeated decisions ------------------------------------------------ */

/* FNV-1a over what makes two decisions "the same" for coalescing: the
 * client (its MAC; for an unknown machine none, so that a flood of
 * made-up MACs is one decision), the path (DHCP or HTTP, first request or
 * follow-up, firmware or iPXE, architecture), the outcome and the reason -- under the same settings and
 * database (gen), so that after any change the next decision is logged
 * even when it is the one from before the change. */
static uint64_t repeat_key(const struct pxe_facts *f, const struct store_event *ev, uint64_t gen)
{
	uint64_t h = 1469598103934665603ULL ^ gen;
	uint8_t head[MAC_LEN + 7];
	memset(head, 0, sizeof(head));
	if (ev->device_id)
		memcpy(head, f->mac, MAC_LEN);
	head[MAC_LEN] = (uint8_t)f->via;
	head[MAC_LEN + 1] = f->chose_us;
	head[MAC_LEN + 2] = (uint8_t)ev->outcome[0];
	head[MAC_LEN + 3] = f->is_ipxe;
	head[MAC_LEN + 4] = f->has_arch;
	head[MAC_LEN + 5] = (uint8_t)(f->arch >> 8);
	head[MAC_LEN + 6] = (uint8_t)f->arch;
	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 1099511628211ULL;
	for (const char *p = ev->reason; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h;
}

/* The summary of a slot's repeats: one event and one log line.  Inside
 * d->lock. */
static void repeat_flush(struct decider *d, struct repeat_slot *r, int64_t now)
{
	struct store_event ev = r->ev;
	char mac[MAC_STR_LEN], suffix[96], what[96];
	size_t flushn, room;
	int n;

	if (!r->count)
		return;
	n = snprintf(suffix, sizeof(suffix), " (repeated %llu times in the last %lld s%s)",
		     (unsigned long long)r->count, (long long)((now - r->first_ms + 500) / 1000),
		     r->ev.device_id ? "" : ", by unknown machines");
	mac_format(ev.mac, mac);
	if (!strcmp(ev.outcome, "boot"))
		snprintf(what, sizeof(what), "boot '%s'", ev.deployment_name);
	else
		snprintf(what, sizeof(what), "%s", ev.outcome);
	log_info("decide", "%s, %s: %s (%s) [%s]%s", mac, r->guid, what, ev.reason, ev.via,
		 suffix);
	/* The event says it in its reason, cut to fit. */
	room = sizeof(ev.reason) - 1;
	if (n > 0 && (size_t)n < room) {
		size_t keep = strnlen(ev.reason, room);
		if (keep > room - (size_t)n)
			keep = room - (size_t)n;
		memcpy(ev.reason + keep, suffix, (size_t)n + 1);
	}
	ev.time_ms = now;
	r->count = 0;
	evq_push(d, &ev, now, &flushn, false);
}

/* Whether this decision repeats one recorded less than
 * DecisionRepeatWindow ago: then it is only counted (true), and its
 * event and log line are left out.  Inside d->lock. */
static bool repeat_check(struct decider *d, const struct pxe_facts *f,
			 const struct store_event *ev, uint64_t store_gen, int64_t now)
{
	int64_t window = (int64_t)d->conf->decision_repeat_window * 1000;
	struct repeat_slot *r;
	uint64_t key;

	if (window <= 0)
		return false;
	if (!d->repeat && !(d->repeat = calloc(REPEAT_SLOTS, sizeof(*d->repeat))))
		return false;
	key = repeat_key(f, ev, d->settings_gen * 0x9e3779b97f4a7c15ULL ^ store_gen);
	r = &d->repeat[key % REPEAT_SLOTS];
	if (r->used && r->key == key && now >= r->first_ms && now - r->first_ms < window) {
		r->count++;
		d->events_coalesced++;
		return true;
	}
	if (r->used)
		repeat_flush(d, r, now);
	r->used = true;
	r->key = key;
	r->first_ms = now;
	r->count = 0;
	r->ev = *ev;
	if (f->has_guid)
		guid_format(f->guid, r->guid);
	else
		snprintf(r->guid, sizeof(r->guid), "-");
	return false;
}

/* Summaries whose window is over.  Inside d->lock. */
static void repeat_flush_due(struct decider *d, int64_t now)
{
	int64_t window = (int64_t)d->conf->decision_repeat_window * 1000;
	if (!d->repeat)
		return;
	for (size_t i = 0; i < REPEAT_SLOTS; i++) {
		struct repeat_slot *r = &d->repeat[i];
		if (r->used && r->count && (window <= 0 || now - r->first_ms >= window ||
					    now < r->first_ms))
			repeat_flush(d, r, now);
	}
}

/* EventMaxRows: the oldest rows beyond it are deleted once enough have
 * been written to matter (a tenth of the cap), or once an hour. */
static void events_cap(struct decider *d, int64_t now)
{
	unsigned max = d->conf->event_max_rows;
	int64_t r;
	if (!max || (d->events_since_cap < max / 10 + 1 && now - d->last_cap_ms < PRUNE_EVERY_MS &&
		     now >= d->last_cap_ms))
		return;
	d->events_since_cap = 0;
	d->last_cap_ms = now;
	r = store_event_cap(d->store, max);
	if (r < 0)
		log_warn("decide", "could not cap boot events at %u rows: %s", max,
			 store_last_error(d->store));
	else if (r > 0)
		log_info("decide", "deleted the %lld oldest boot events: more than EventMaxRows %u",
			 (long long)r, max);
}

int decider_maintain(struct decider *d, unsigned retention_days)
{
	int64_t now;
	size_t n = 0, sn;
	struct store_event *q = NULL;
	struct store_seen *sq;
	bool prune = false;
	int next;

	pthread_mutex_lock(&d->lock);
	now = d->clock(d->clock_ctx);
	repeat_flush_due(d, now);
	if (d->evq_n && (now - d->evq_first_ms >= (int64_t)d->batch_ms || now < d->evq_first_ms ||
			 d->evq_n >= d->batch_rows))
		q = evq_take(d, &n);
	d->events_since_cap += n;
	sq = seenq_take(d, &sn);
	if (retention_days && (d->last_prune_ms == 0 || now - d->last_prune_ms >= PRUNE_EVERY_MS ||
			       now < d->last_prune_ms)) {
		d->last_prune_ms = now;
		prune = true;
	}
	ignore_list_check(d, now, false);
	int64_t wait = d->evq_n ? (int64_t)d->batch_ms - (now - d->evq_first_ms) : d->batch_ms;
	next = wait < 1 ? 1 : wait > 1000 ? 1000 : (int)wait;
	pthread_mutex_unlock(&d->lock);
	int r = evq_write(d, q, n);
	seenq_write(d, sq, sn, r == -EBUSY || r == -ENOTCONN);
	if (prune && r != -EBUSY)
		decider_events_prune(d, retention_days);
	if (r != -EBUSY)
		events_cap(d, now);
	return next;
}

int decider_events_prune(struct decider *d, unsigned retention_days)
{
	int64_t now, r;
	pthread_mutex_lock(&d->lock);
	now = d->clock(d->clock_ctx);
	pthread_mutex_unlock(&d->lock);
	if (retention_days == 0)
		return 0;
	r = store_event_prune(d->store, now - (int64_t)retention_days * 86400 * 1000);
	if (r < 0)
		log_warn("decide", "could not prune boot events: %s", store_last_error(d->store));
	else if (r > 0)
		log_info("decide", "pruned %lld boot events older than %u days", (long long)r,
			 retention_days);
	return (int)r;
}

/* ---- the cache, public side ------------------------------------------- */

int decider_store_write_error(struct decider *d, char *text, size_t len)
{
	int r;
	pthread_mutex_lock(&d->lock);
	r = d->write_err;
	if (r < 0 && len)
		snprintf(text, len, "%s", d->write_err_text);
	pthread_mutex_unlock(&d->lock);
	return r;
}

void decider_cache_stats(struct decider *d, struct decider_cache_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->stats;
	out->entries = dcache_count(d->cache);
	out->max_entries = dcache_limit(d->cache);
	out->events_queued = d->evq_n;
	out->events_dropped = d->events_dropped;
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
	struct decider_cache_entry *v;
	size_t n;
	int64_t now;
	uint64_t store_gen, settings_gen;
	unsigned expire_s;
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
	o->valid = e->meta.store_gen == lc->store_gen && e->meta.settings_gen == lc->settings_gen &&
		   lc->now < e->meta.valid_until_ms && lc->now >= e->meta.computed_ms &&
		   lc->expire_s > 0;
	return 0;
}

int decider_cache_list(struct decider *d, int (*cb)(void *ctx, const struct decider_cache_entry *e),
		       void *ctx)
{
	struct list_copy lc = { 0 };
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
	lc.settings_gen = d->settings_gen;
	lc.expire_s = d->conf->cache_expire;
	dcache_foreach(d->cache, list_copy_one, &lc);
	pthread_mutex_unlock(&d->lock);
	/* Callbacks run unlocked, so they may call into the decider. */
	for (size_t i = 0; i < lc.n; i++)
		if (cb(ctx, &lc.v[i]))
			break;
	free(lc.v);
	return (int)n;
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

/* Local copy of pxe_arch_class_name() (src/dhcp/pxe.c) so this module
 * links on its own; the names must stay the same. */
static const char *arch_class_name(enum pxe_arch_class a)
{
	switch (a) {
	case PXE_ARCH_BIOS:
		return "bios";
	case PXE_ARCH_UEFI_X86:
		return "uefi-x86";
	case PXE_ARCH_UEFI_X64:
		return "uefi-x64";
	case PXE_ARCH_UEFI_ARM64:
		return "uefi-arm64";
	case PXE_ARCH_UEFI_HTTP:
		return "uefi-http";
	case PXE_ARCH_OTHER:
		break;
	}
	return "other";
}

__attribute__((format(printf, 2, 3)))
static void reason_set(struct decision *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

static void decision_reset(struct decision *out, enum decision_outcome o)
{
	memset(out, 0, sizeof(*out));
	out->outcome = o;
}

/* Any store failure: nothing is sent, and the reason says why. */
static int store_failed(struct decider *d, struct decision *out, int err, const char *what)
{
	decision_reset(out, DECISION_IGNORE);
	reason_set(out, "not serviced: store error: %s%s", what, store_last_error(d->store));
	return err;
}

static void format_utc(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, 32, "%lld", (long long)t);
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Side effects decide() owes the store after the rules answered. */
struct decide_todo {
	bool handout;            /* a required deployment is being handed out */
	bool discover;           /* an unknown machine boots: record it as a device */
	struct store_device dev; /* the known device (dev.id 0 = unknown) */
	int64_t edge_s;          /* next deployment window edge (unix s), 0 = none:
				  * the answer may change then, so the cache must not
				  * outlive it */
};

/* The settings rules, in order, each with its own reason.  They read only
 * the request and the settings (no store), so they run on every request
 * before the cache: ifname and secs, which only they read, stay out of the
 * cache key.  True when one fired (*out filled).  Inside d->lock. */
static bool settings_rules(struct decider *d, const struct pxe_facts *f, int64_t now,
			   bool check_file, struct decision *out)
{
	const struct pxed_conf *conf = d->conf;
	if (!conf->is_active) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: IsActive is off");
		return true;
	}
	if (check_file)
		ignore_list_check(d, now, false);
	if (mac_list_contains(&d->ignore, f->mac)) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: MAC on the ignore list %.150s", d->ignore_path);
		return true;
	}
	if (f->ifname[0] && !conf_iface_allowed(conf, f->ifname)) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: interface %.*s excluded by BindPolicy",
			   (int)strnlen(f->ifname, IF_NAMESIZE), f->ifname);
		return true;
	}
	/* ResponseDelay (seconds) is compared with the client's secs field
	 * (RFC 2131 §2: seconds since it began acquiring): staying silent makes
	 * the firmware retry with a larger secs, and the retry at or past the
	 * delay is answered -- so another PXE server gets the first chance.
	 * Once the client chose our OFFER, its follow-up is answered at once:
	 * holding it back only fails the boot. */
	if (f->via == PXE_VIA_DHCP && !f->chose_us && f->secs < conf->response_delay) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced yet: secs %u below ResponseDelay %u", (unsigned)f->secs,
			   conf->response_delay);
		return true;
	}
	return false;
}

/* Firmware without a real SMBIOS UUID sends all zeros or all ones: such a
 * value names no machine. */
static bool guid_is_real(const uint8_t g[GUID_LEN])
{
	bool zero = true, ones = true;
	for (size_t i = 0; i < GUID_LEN; i++) {
		zero = zero && g[i] == 0;
		ones = ones && g[i] == 0xff;
	}
	return !zero && !ones;
}

/* The GUID the client sent, NULL unless it is a real one. */
static const uint8_t *client_guid(const struct pxe_facts *f)
{
	return f->has_guid && guid_is_real(f->guid) ? f->guid : NULL;
}

/* Which device is this client?  A PXE client names itself twice: the MAC
 * (chaddr) belongs to the NIC, the SMBIOS GUID (option 97) to the machine.
 * They disagree when a NIC moves -- a USB or dock NIC carried from laptop
 * to laptop, a NIC swapped between servers -- and then the machine is what
 * the admin deployed to, so the rule is:
 *   1. the client sent a real GUID (not an all-0 / all-FF placeholder)
 *      that a device holds: that device, even if the MAC belongs to
 *      another one (logged, naming both);
 *   2. else the device holding the MAC -- unless that device has a GUID of
 *      its own and the client sent a different real one: the NIC is in
 *      another machine, which is unknown (logged; *mac_owner names the
 *      device, since the MAC cannot be recorded for a new device);
 *   3. else an unknown machine.
 * by_mac / by_guid are the devices holding the MAC and the GUID (rm, rg 0:
 * found), as the store read them (store_decide_read(), asked for the GUID
 * only when client_guid() gives one).  Returns 0 (found, *dev filled) or
 * -ENOENT (unknown). */
static int identify(const struct pxe_facts *f, const struct store_device *by_mac, int rm,
		    const struct store_device *by_guid, int rg, struct store_device *dev,
		    char mac_owner[64])
{
	bool real_guid = client_guid(f) != NULL;
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN], other[GUID_STR_LEN];

	mac_owner[0] = '\0';
	mac_format(f->mac, mac);
	if (real_guid)
		guid_format(f->guid, guid);
	if (rg == 0) {
		if (rm == 0 && by_mac->id != by_guid->id)
			log_warn("decide", "%s, %s: identity conflict: MAC belongs to device '%s', "
				 "GUID to device '%s'; the GUID names the machine, so it is '%s'",
				 mac, guid, by_mac->name, by_guid->name, by_guid->name);
		*dev = *by_guid;
		return 0;
	}
	if (rm == 0) {
		if (real_guid && by_mac->has_guid) {
			guid_format(by_mac->guid, other);
			log_warn("decide", "%s, %s: identity conflict: MAC belongs to device '%s' "
				 "whose GUID is %s; the GUID names the machine, so it is unknown",
				 mac, guid, by_mac->name, other);
			snprintf(mac_owner, 64, "%s", by_mac->name);
			return -ENOENT;
		}
		*dev = *by_mac;
		return 0;
	}
	return -ENOENT;
}

/* store_deployments_applicable() callback: sort rows into the three that
 * matter, skipping those outside their availability window. */
struct pick {
	int64_t now_s;
	int64_t edge_s;                 /* nearest window edge after now, 0 = none */
	bool has_req, has_avail, has_done;
	struct store_deployment req;    /* first required not yet handed out */
	struct store_deployment avail;  /* first available */
	/* Their images, when the store read them with the rows. */
	bool has_req_im, has_avail_im;
	struct store_image req_im, avail_im;
	struct store_deployment done;   /* first required already handed out */
	int arch_class;                 /* the machine's, -1 = not sent */
	bool has_mismatch;              /* a deployment skipped: its image's arch */
	struct store_deployment mismatch; /* the first of those */
};

static void edge_min(struct pick *p, int64_t t)
{
	if (t > p->now_s && (p->edge_s == 0 || t < p->edge_s))
		p->edge_s = t;
}

static int pick_one(void *ctx, const struct store_deployment *dep, const struct store_image *im)
{
	struct pick *p = ctx;
	if (dep->available_from && p->now_s < dep->available_from) {
		edge_min(p, dep->available_from);
		return 0;
	}
	if (dep->expires) {
		if (p->now_s >= dep->expires)
			return 0;
		edge_min(p, dep->expires);
	}
	/* An image runs on one architecture: an arm64 kernel is no use to an
	 * x86 machine and the other way round. */
	if (!store_image_arch_fits(dep->image_arch, p->arch_class, PXE_ARCH_UEFI_ARM64)) {
		if (!p->has_mismatch) {
			p->mismatch = *dep;
			p->has_mismatch = true;
		}
		return 0;
	}
	if (dep->purpose == STORE_REQUIRED) {
		if (dep->handed_out_at) {
			if (!p->has_done) {
				p->done = *dep;
				p->has_done = true;
			}
		} else if (!p->has_req) {
			p->req = *dep;
			p->has_req = true;
			if ((p->has_req_im = im != NULL))
				p->req_im = *im;
		}
	} else if (!p->has_avail) {
		p->avail = *dep;
		p->has_avail = true;
		if ((p->has_avail_im = im != NULL))
			p->avail_im = *im;
	}
	return 0;
}

/* store_decide_read()'s choose(): who the client is (identify()), and
 * whose deployments apply: the device's, or for an unknown machine those
 * for unknown machines of its arch, when it may get any. */
struct rules_read {
	struct decider *d;
	const struct pxe_facts *f;
	int arch_class;
	struct store_device *dev;
	char *mac_owner;
	int found;                      /* identify()'s answer; -EAGAIN: not asked */
	struct pick *p;
};

static int64_t rules_choose(void *ctx, const struct store_device *by_mac, int rm,
			    const struct store_device *by_guid, int rg)
{
	struct rules_read *rr = ctx;
	rr->found = identify(rr->f, by_mac, rm, by_guid, rg, rr->dev, rr->mac_owner);
	if (rr->found == 0)
		return rr->dev->id;
	memset(rr->dev, 0, sizeof(*rr->dev));
	/* The rules below answer these without deployments. */
	if (!rr->d->conf->support_unknown || rr->mac_owner[0])
		return -1;
	if (rr->arch_class < 0 || rr->arch_class > STORE_UNKNOWN_ARCH_MAX)
		return -1;
	return 0;
}

static int rules_each(void *ctx, const struct store_deployment *dep, const struct store_image *im)
{
	struct rules_read *rr = ctx;
	return pick_one(rr->p, dep, im);
}

/* "device 'vm1'", "collection 'lab' (device 'vm1')", "unknown machines of
 * arch bios": what the deployment targets, as the reason names it. */
static void target_words(const struct store_deployment *dep, const char *device, char *buf,
			 size_t len)
{
	if (dep->target == STORE_TARGET_COLLECTION)
		snprintf(buf, len, "collection '%.64s' (device '%.64s')", dep->collection_name,
			 device);
	else if (dep->target == STORE_TARGET_UNKNOWN && device[0])
		snprintf(buf, len, "unknown machines of arch %s (device '%.64s')",
			 arch_class_name((enum pxe_arch_class)dep->unknown_arch), device);
	else if (dep->target == STORE_TARGET_UNKNOWN)
		snprintf(buf, len, "unknown machines of arch %s",
			 arch_class_name((enum pxe_arch_class)dep->unknown_arch));
	else
		snprintf(buf, len, "device '%.64s'", device);
}

/* The rules after the settings: identity, then the deployments.  Reads
 * only; fills *out and *todo.  Returns 0 or a negative errno from the
 * store (then *out is an IGNORE naming the error).
 *
 * Among the deployments that apply (store_deployments_applicable(), in
 * order: required before available, then newest), the first required one
 * not yet handed out wins; else the first available one; else, if a
 * required one was handed out, LOCAL saying when; else LOCAL.  A required
 * deployment already handed out never hides another that applies: a new
 * required deployment runs at the next boot. */
static int decide_rules(struct decider *d, const struct pxe_facts *f, int64_t now_ms,
			struct decision *out, struct decide_todo *todo)
{
	const struct pxed_conf *conf = d->conf;
	struct pick p = { .now_s = now_ms / 1000,
			  .arch_class = f->has_arch ? (int)f->arch_class : -1 };
	const struct store_deployment *win;
	struct store_image im;
	char mac_owner[64], target[160];
	int arch_class = f->has_arch ? (int)f->arch_class : -1;
	const char *arch_words = f->has_arch ? arch_class_name(f->arch_class) : "not sent";
	int r;

	memset(todo, 0, sizeof(*todo));
	mac_owner[0] = '\0';
	struct rules_read rr = { .d = d, .f = f, .arch_class = arch_class, .dev = &todo->dev,
				 .mac_owner = mac_owner, .found = -EAGAIN, .p = &p };
	struct store_decide_query q = { .mac = f->mac, .guid = client_guid(f),
					.arch_class = arch_class, .choose = rules_choose,
					.each = rules_each, .ctx = &rr };
	r = store_decide_read(d->store, &q);
	if (r < 0 || rr.found == -EAGAIN) {
		memset(&todo->dev, 0, sizeof(todo->dev));
		return store_failed(d, out, r < 0 ? r : -EIO, "");
	}
	if (rr.found == -ENOENT) {
		if (!conf->support_unknown) {
			decision_reset(out, DECISION_IGNORE);
			reason_set(out, "not serviced: unknown machine and SupportUnknownMachines is off");
			return 0;
		}
		if (mac_owner[0]) {
			/* Its MAC is taken, so it could not be recorded as a device,
			 * and an unrecorded required deployment would loop. */
			decision_reset(out, DECISION_LOCAL);
			reason_set(out, "unknown machine with the MAC of device '%.64s' (another "
					"GUID); no deployment for unknown machines", mac_owner);
			return 0;
		}
	}
	todo->edge_s = p.edge_s;

	decision_reset(out, DECISION_LOCAL);
	out->device_id = todo->dev.id;
	snprintf(out->device_name, sizeof(out->device_name), "%s", todo->dev.name);
	win = p.has_req ? &p.req : p.has_avail ? &p.avail : p.has_done ? &p.done : NULL;
	if (!win && p.has_mismatch) {
		reason_set(out, "%s, no deployment for its architecture %s: deployment '%s' "
				"(image '%s') is for %s", todo->dev.id ? "known device" : "unknown machine",
			   arch_words, p.mismatch.name, p.mismatch.image_name,
			   p.mismatch.image_arch[0] ? p.mismatch.image_arch : "x86");
		return 0;
	}
	if (!win) {
		if (todo->dev.id)
			reason_set(out, "known device '%s', no deployment", todo->dev.name);
		else
			reason_set(out, "unknown machine, no deployment for unknown machines of "
					"arch %s", arch_words);
		return 0;
	}

	out->deployment_id = win->id;
	out->required = win->purpose == STORE_REQUIRED;
	snprintf(out->deployment_name, sizeof(out->deployment_name), "%s", win->name);
	snprintf(out->image_name, sizeof(out->image_name), "%s", win->image_name);

	if (win == &p.done) {
		/* The machine already got it: a reboot during the install must
		 * not start it again (docs/pxed.8.md, DECISIONS). */
		char at[32];
		format_utc(win->handed_out_at, at);
		reason_set(out, "required deployment '%s' already handed out at %s; "
				"clear it to run again", win->name, at);
		return 0;
	}

	if (win == &p.req && p.has_req_im)
		im = p.req_im;
	else if (win == &p.avail && p.has_avail_im)
		im = p.avail_im;
	else if ((r = store_image_by_id(d->store, win->image_id, &im)) < 0)
		return store_failed(d, out, r, "");
	out->outcome = DECISION_BOOT;
	snprintf(out->kernel, sizeof(out->kernel), "%s", im.kernel);
	snprintf(out->initrd, sizeof(out->initrd), "%s", im.initrd);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", im.cmdline);
	snprintf(out->nbp, sizeof(out->nbp), "%s", im.nbp);
	snprintf(out->loader, sizeof(out->loader), "%s", im.loader);
	todo->discover = todo->dev.id == 0;
	target_words(win, todo->dev.name, target, sizeof(target));
	if (out->required) {
		todo->handout = true;
		reason_set(out, "required deployment '%s' (image '%s') for %s, not yet handed out",
			   win->name, im.name, target);
	} else {
		reason_set(out, "available deployment '%s' (image '%s') for %s, boots after a "
				"key press", win->name, im.name, target);
	}
	return 0;
}

static void event_fill(struct store_event *ev, const struct pxe_facts *f,
		       const struct decision *dec, int64_t time_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ms = time_ms;
	memcpy(ev->mac, f->mac, MAC_LEN);
	ev->has_guid = f->has_guid;
	if (f->has_guid)
		memcpy(ev->guid, f->guid, GUID_LEN);
	ev->arch = f->has_arch ? f->arch : -1;
	/* ifname comes from the kernel, not the client, but cap it anyway. */
	snprintf(ev->ifname, sizeof(ev->ifname), "%.*s", (int)sizeof(ev->ifname) - 1, f->ifname);
	snprintf(ev->via, sizeof(ev->via), "%s", f->via == PXE_VIA_HTTP ? "http" : "dhcp");
	snprintf(ev->outcome, sizeof(ev->outcome), "%s", decision_outcome_name(dec->outcome));
	memcpy(ev->reason, dec->reason, sizeof(ev->reason));
	ev->reason[sizeof(ev->reason) - 1] = '\0';
	ev->device_id = dec->device_id;
	ev->deployment_id = dec->deployment_id;
	memcpy(ev->deployment_name, dec->deployment_name, sizeof(ev->deployment_name));
	ev->deployment_name[sizeof(ev->deployment_name) - 1] = '\0';
}

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

/* Whether a cached answer may still be given.  Both generations must be
 * the ones it was computed under -- any store change (in this process or
 * another sharing the database) or settings reload makes it stale -- and it
 * must be younger than CacheExpire and than the next deployment window
 * edge.  0 valid, 1 stale, 2 expired. */
static int entry_state(const struct decider *d, const struct dcache_entry *e, uint64_t gen,
		       int64_t now)
{
	if (e->meta.store_gen != gen || e->meta.settings_gen != d->settings_gen ||
	    e->meta.support_unknown != d->conf->support_unknown)
		return 1;
	if (now < e->meta.computed_ms || now >= e->meta.valid_until_ms ||
	    now - e->meta.computed_ms >= (int64_t)d->conf->cache_expire * 1000)
		return 2;
	return 0;
}

/* Whether the device's last-seen time is due for a write. */
static bool seen_due(int64_t last_seen, int stored_arch, int arch, int64_t t)
{
	return (arch >= 0 && arch != stored_arch) || t - last_seen >= SEEN_REFRESH_S;
}

/* UnknownMachinesPerMinute: each unknown machine that commits becomes a
 * device for good, so a client making up MACs must not add them at
 * network speed. */
static bool unknown_record_allowed(struct decider *d, int64_t now_ms)
{
	unsigned max = d->conf->unknown_machines_per_minute;
	bool ok;
	if (!max)
		return true;
	pthread_mutex_lock(&d->lock);
	if (now_ms - d->unknown_window_ms >= 60000 || now_ms < d->unknown_window_ms) {
		d->unknown_window_ms = now_ms;
		d->unknown_recorded = 0;
	}
	ok = d->unknown_recorded < max;
	if (ok)
		d->unknown_recorded++;
	else
		d->unknown_refused++;
	pthread_mutex_unlock(&d->lock);
	return ok;
}

/* Another server sharing the database handed this required deployment
 * out to the same machine first (store_handout_record() said so): it
 * boots from that server, this one sends it to its disk. */
static void handout_lost(struct decision *out, const char *name)
{
	out->outcome = DECISION_LOCAL;
	out->required = false;
	out->image_name[0] = out->kernel[0] = out->initrd[0] = '\0';
	out->cmdline[0] = out->nbp[0] = '\0';
	reason_set(out, "required deployment '%.64s' was just handed out by another server: "
			"local disk", name);
}

/* Record what committing this answer means: a discovered unknown machine
 * (with its hand-out) or a required deployment's hand-out.  On failure
 * *out becomes an IGNORE: if the hand-out is not recorded the install
 * would restart on every reboot, so nothing is sent. */
static int commit_record(struct decider *d, const struct pxe_facts *f, struct decide_todo *todo,
			 struct decision *out, int64_t t)
{
	char name[64];
	int w;
	memcpy(name, out->deployment_name, sizeof(name));
	if (todo->discover && !unknown_record_allowed(d, t * 1000)) {
		reason_set(out, "not serviced: more than %u unknown machines recorded in the last "
				"minute (UnknownMachinesPerMinute); try later",
			   d->conf->unknown_machines_per_minute);
		out->outcome = DECISION_IGNORE;
		return -EAGAIN;
	}
	if (todo->discover) {
		struct store_device nd = { .arch = f->has_arch ? f->arch : -1 };
		snprintf(nd.name, sizeof(nd.name), "unknown-%02x%02x%02x%02x%02x%02x", f->mac[0],
			 f->mac[1], f->mac[2], f->mac[3], f->mac[4], f->mac[5]);
		memcpy(nd.mac, f->mac, MAC_LEN);
		if (f->has_guid && guid_is_real(f->guid)) {
			nd.has_guid = true;
			memcpy(nd.guid, f->guid, GUID_LEN);
		}
		w = store_device_add_discovered(d->store, &nd, todo->handout ? out->deployment_id : 0,
						t);
		if (w == -EEXIST) {
			/* Another server recorded this machine (and its
			 * hand-out) a moment ago. */
			if (todo->handout)
				handout_lost(out, name);
			return 0;
		}
		if (w < 0) {
			store_failed(d, out, w, "");
			reason_set(out, "not serviced: store error: could not record unknown machine "
					"as device '%s': %.100s", nd.name, store_last_error(d->store));
			return w;
		}
		log_info("decide", "unknown machine recorded as device '%s' (deployment '%s')",
			 nd.name, name);
		out->device_id = nd.id;
		snprintf(out->device_name, sizeof(out->device_name), "%s", nd.name);
		return 0;
	}
	w = store_handout_record(d->store, todo->dev.id, out->deployment_id, t);
	if (w < 0) {
		store_failed(d, out, w, "");
		reason_set(out, "not serviced: store error: could not record hand-out of "
				"'%.64s': %s", name, store_last_error(d->store));
		return w;
	}
	if (w == 0)
		handout_lost(out, name);
	return 0;
}

/* What the user answered at an available deployment's prompt, applied
 * to the fresh decision before its event is made, so that the event and
 * the log line say what was chosen.  Deploy: only a decision that is
 * still an available deployment becomes the user's choice; anything else
 * (disabled since, now required, gone) stands as decided.  Local: always
 * the local disk -- the user did not ask for a network boot. */
static void choice_apply(struct decision *out, enum decide_choice choice)
{
	bool avail = out->outcome == DECISION_BOOT && !out->required;
	char name[sizeof(out->deployment_name)];

	memcpy(name, out->deployment_name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if (choice == DECIDE_CHOICE_DEPLOY) {
		if (avail)
			reason_set(out, "available deployment '%s': user chose to deploy", name);
		return;
	}
	if (avail) {
		/* The event keeps naming the device and the declined
		 * deployment; nothing of the image is left to boot. */
		out->outcome = DECISION_LOCAL;
		out->image_name[0] = out->kernel[0] = out->initrd[0] = '\0';
		out->cmdline[0] = out->nbp[0] = '\0';
		reason_set(out, "available deployment '%s': user let the prompt time out: "
				"local disk", name);
		return;
	}
	if (out->outcome == DECISION_BOOT) {
		/* now required: it starts at the next boot, not now */
		out->outcome = DECISION_LOCAL;
		out->image_name[0] = out->kernel[0] = out->initrd[0] = '\0';
		out->cmdline[0] = out->nbp[0] = '\0';
		reason_set(out, "user let the prompt time out: local disk (deployment '%s' is "
				"required now; it starts at the next boot)", name);
		return;
	}
	if (out->outcome == DECISION_LOCAL)
		reason_set(out, "user let the prompt time out: local disk");
}

/* batch: inside decide_batch()'s read snapshot, where nothing may be
 * written: events and last-seen times are only queued. */
static int decide_run(struct decider *d, const struct pxe_facts *f, bool commit,
		      enum decide_choice choice, bool batch, struct decision *out)
{
	const struct pxed_conf *conf = d->conf;
	struct decide_todo todo = { 0 };
	struct dcache_key key;
	struct dcache_entry *e;
	struct store_event ev, *flushq;
	bool use_cache = conf->cache_expire > 0, recorded = false, inline_io;
	uint64_t gen = 0, sgen;
	int64_t now, t, seen_id = 0;
	int arch = f->has_arch ? f->arch : -1;
	size_t flushn;
	int r = 0, w;

	/* Read before computing: a change that lands while the rules run
	 * makes the entry stale at once rather than hiding behind it. */
	if (use_cache)
		gen = store_generation(d->store);

	pthread_mutex_lock(&d->lock);
	now = d->clock(d->clock_ctx);
	t = now / 1000;
	inline_io = d->flush_inline && !batch;
	if (settings_rules(d, f, now, true, out))
		goto event;
	sgen = d->settings_gen;
	if (use_cache) {
		key_make(f, &key);
		/* commit = true never takes the cache: that answer is being
		 * handed out now and must record the hand-out (and discover an
		 * unknown machine) from a fresh read of the store. */
		e = commit ? NULL : dcache_find(d->cache, &key);
		if (e) {
			int st = entry_state(d, e, gen, now);
			if (st == 0) {
				dcache_entry_decision(e, out);
				d->stats.hits++;
				if (e->device_id && seen_due(e->meta.dev_last_seen, e->meta.dev_arch,
							     arch, t)) {
					e->meta.dev_last_seen = t;
					if (arch >= 0)
						e->meta.dev_arch = arch;
					seen_id = e->device_id;
				}
				goto event;
			}
			if (st == 1)
				d->stats.invalidations++;
			else
				d->stats.expirations++;
			dcache_remove(d->cache, e);
		}
		d->stats.misses++;
	}
	pthread_mutex_unlock(&d->lock);

	r = decide_rules(d, f, now, out, &todo);
	if (r == 0 && commit && (todo.handout || todo.discover)) {
		r = commit_record(d, f, &todo, out, t);
		recorded = true;
	}
	if (todo.dev.id && seen_due(todo.dev.last_seen, todo.dev.arch, arch, t)) {
		if (inline_io) {
			w = store_device_seen(d->store, todo.dev.id, arch, t);
			if (w < 0)
				log_warn("decide", "device '%s': could not record last seen: %s",
					 todo.dev.name, store_last_error(d->store));
		} else {
			seen_id = todo.dev.id; /* queued below, like the event */
		}
		todo.dev.last_seen = t;
		if (arch >= 0)
			todo.dev.arch = arch;
	}

	pthread_mutex_lock(&d->lock);
	/* A recorded hand-out bumped the generation: the answer just given is
	 * already stale, so it is not cached.  Store errors are not cached. */
	if (r == 0 && use_cache && !recorded) {
		int64_t until = now + (int64_t)conf->cache_expire * 1000;
		if (todo.edge_s && todo.edge_s * 1000 < until)
			until = todo.edge_s * 1000;
		struct dcache_meta m = { .store_gen = gen, .settings_gen = sgen, .computed_ms = now,
					 .valid_until_ms = until, .dev_last_seen = todo.dev.last_seen,
					 .dev_arch = todo.dev.arch,
					 .support_unknown = conf->support_unknown };
		w = dcache_put(d->cache, &key, &m, out);
		if (w > 0)
			d->stats.evictions++;
	}
event:
	/* Every decision is an event, cached or not; the queue writes them in
	 * batches (see EVENT_BATCH_MS).  Losing one is worth a warning, never a
	 * client left without a reply. */
	if (choice != DECIDE_CHOICE_NONE)
		choice_apply(out, choice);
	event_fill(&ev, f, out, now);
	/* A hand-out or a prompt's answer is always its own event. */
	out->repeated = !commit && choice == DECIDE_CHOICE_NONE &&
			repeat_check(d, f, &ev, gen, now);
	flushq = out->repeated ? NULL : evq_push(d, &ev, now, &flushn, inline_io);
	if (seen_id && !inline_io) {
		seenq_push(d, seen_id, arch, t);
		seen_id = 0;
	}
	pthread_mutex_unlock(&d->lock);
	if (d->publish)
		d->publish(d->publish_ctx, &ev, out);
	if (seen_id) {
		w = store_device_seen(d->store, seen_id, arch, t);
		if (w < 0)
			log_warn("decide", "device %lld: could not record last seen: %s",
				 (long long)seen_id, store_last_error(d->store));
	}
	if (flushq)
		evq_write(d, flushq, flushn);
	return r;
}

int decide(struct decider *d, const struct pxe_facts *f, bool commit, struct decision *out)
{
	return decide_run(d, f, commit, DECIDE_CHOICE_NONE, false, out);
}

void decide_batch(struct decider *d, const struct pxe_facts *const f[], struct decision *const out[],
		  size_t n)
{
	/* Without the snapshot (the store failed to open one) each decision
	 * still reads the store on its own; a failed read is its IGNORE.  One
	 * decision needs none: its read is one store_decide_read(), and on a
	 * database server the snapshot's BEGIN and ROLLBACK would be two
	 * round trips more than that read. */
	int r = n > 1 ? store_read_begin(d->store) : -1;
	for (size_t i = 0; i < n; i++)
		decide_run(d, f[i], false, DECIDE_CHOICE_NONE, true, out[i]);
	if (r == 0)
		store_read_end(d->store);
}

int decide_choice(struct decider *d, const struct pxe_facts *f, enum decide_choice choice,
		  bool commit, struct decision *out)
{
	if (choice == DECIDE_CHOICE_LOCAL)
		commit = false; /* nothing is handed out */
	return decide_run(d, f, commit, choice, false, out);
}

int decide_cached(struct decider *d, const struct pxe_facts *f, struct decision *out)
{
	const struct pxed_conf *conf = d->conf;
	struct dcache_key key;
	struct dcache_entry *e;
	struct store_event ev;
	uint64_t gen = 0;
	int64_t now;
	int arch = f->has_arch ? f->arch : -1;
	size_t flushn;
	bool peeked = false;

	/* Peek before locking, as decide() reads the generation first. */
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
	 * decider_maintain() and decide(), off the loop. */
	if (settings_rules(d, f, now, false, out))
		goto event;
	if (!peeked)
		goto miss;
	key_make(f, &key);
	e = dcache_find(d->cache, &key);
	/* A stale or expired entry is left for decide() to count and drop. */
	if (!e || entry_state(d, e, gen, now) != 0)
		goto miss;
	dcache_entry_decision(e, out);
	d->stats.hits++;
	if (e->device_id && seen_due(e->meta.dev_last_seen, e->meta.dev_arch, arch, now / 1000)) {
		e->meta.dev_last_seen = now / 1000;
		if (arch >= 0)
			e->meta.dev_arch = arch;
		seenq_push(d, e->device_id, arch, now / 1000);
	}
event:
	event_fill(&ev, f, out, now);
	out->repeated = repeat_check(d, f, &ev, gen, now);
	if (!out->repeated)
		evq_push(d, &ev, now, &flushn, false);
	pthread_mutex_unlock(&d->lock);
	if (d->publish)
		d->publish(d->publish_ctx, &ev, out);
	return 1;
miss:
	pthread_mutex_unlock(&d->lock);
	return 0;
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
		snprintf(arch, sizeof(arch), "%s(%u)", arch_class_name(f->arch_class),
			 (unsigned)f->arch);
	else
		snprintf(arch, sizeof(arch), "not sent");
	log_info("decide", "%s, %s: %s (%s) [%s%s, arch %s, %s]", mac, guid, what, d->reason,
		 context && context[0] ? context : (f->via == PXE_VIA_HTTP ? "http" : "dhcp"),
		 where, arch, f->is_ipxe ? "ipxe" : "pxe");
}

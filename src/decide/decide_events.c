/* decide_events: recording decisions.  Every answer is a boot event
 * (decide_record()), queued and written in batches with the last-seen
 * times the answers owe, so the event loop never writes; a decision that
 * repeats one recorded moments ago is only counted (DecisionRepeatWindow).
 * Both queues are a struct queue (queue.h), bounded, their drops counted.
 * The writes run where decider_maintain() and decider_events_flush() run
 * -- pxed's worker -- or, with decider_set_event_flush_inline() on, in
 * the decide() call that finds a batch due. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide_int.h"
#include "store/store.h"

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
#define SEEN_QUEUE_MAX 4096       /* beyond this, drop: the next refresh is a minute away */

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

void events_init(struct decider *d)
{
	queue_init(&d->events, sizeof(struct store_event), EVENT_QUEUE_MAX);
	queue_init(&d->seen, sizeof(struct store_seen), SEEN_QUEUE_MAX);
	d->batch_rows = EVENT_BATCH_ROWS;
	d->batch_ms = EVENT_BATCH_MS;
	d->flush_inline = true;
}

void events_fini(struct decider *d)
{
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
	d->repeat = NULL;
	queue_clear(&d->seen);
	queue_clear(&d->events);
}

/* ---- the queues ------------------------------------------------------------ */

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

/* Take the event queue out under the lock; the caller writes it without. */
static struct store_event *events_take(struct decider *d, size_t *n)
{
	void *q;
	*n = queue_take(&d->events, &q);
	return q;
}

/* Put a batch that could not be written back in front of the queue, for
 * the next flush; false when there is no room (then it is dropped). */
static bool events_requeue(struct decider *d, struct store_event *q, size_t n)
{
	bool ok;
	pthread_mutex_lock(&d->lock);
	ok = queue_requeue(&d->events, q, n);
	if (ok)
		d->events_first_ms = ((struct store_event *)queue_at(&d->events, 0))->time_ms;
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static int events_write(struct decider *d, struct store_event *q, size_t n)
{
	int r = 0;
	if (n) {
		r = store_event_add_many(d->store, q, n);
		if (r == -ENOTCONN && events_requeue(d, q, n))
			return r; /* the database is down: the store said so once */
		if (r == -EBUSY && events_requeue(d, q, n)) {
			/* Another process holds the write lock: the next flush
			 * (decider_maintain, on the worker) tries again. */
			log_warn("decide", "could not record %zu boot events yet: %s; kept for the "
				 "next try", n, store_last_error(d->store));
			return r;
		}
		if (r == -ENOTCONN || r == -EBUSY)
			q = NULL; /* dropped and freed by the requeue */
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

/* busy: another process holds the write lock (an event batch just waited
 * the whole busy timeout for it), so keep them all for the next try
 * rather than wait once more per device. */
static void seen_write(struct decider *d, struct store_seen *q, size_t n, bool busy)
{
	/* One transaction for the lot: a storm of first-seen machines made an
	 * autocommit UPDATE per device the worker's largest cost. */
	int w = busy || !n ? 0 : store_device_seen_many(d->store, q, n);
	/* -ENOTCONN: the database is down: keep them for later. */
	if (busy || w == -EBUSY || w == -ENOTCONN) {
		if (w == -EBUSY || w == -ENOTCONN)
			log_warn("decide", "could not record %zu last-seen times yet: %s; kept "
				 "for the next try", n, store_last_error(d->store));
		pthread_mutex_lock(&d->lock);
		queue_requeue(&d->seen, q, n); /* last seen is advisory: dropped if no room */
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (w < 0)
		log_warn("decide", "could not record %zu last-seen times: %s", n,
			 store_last_error(d->store));
	free(q);
}

void seen_push(struct decider *d, int64_t device_id, int arch, int64_t t)
{
	struct store_seen s = { device_id, arch, t };
	queue_push(&d->seen, &s); /* full: the next refresh comes */
}

int decider_events_flush(struct decider *d)
{
	size_t n, sn;
	struct store_event *q;
	void *sq;
	pthread_mutex_lock(&d->lock);
	q = events_take(d, &n);
	sn = queue_take(&d->seen, &sq);
	pthread_mutex_unlock(&d->lock);
	int r = events_write(d, q, n);
	seen_write(d, sq, sn, r == -EBUSY || r == -ENOTCONN);
	return r;
}

/* Queue one event; returns the queue to write now (after unlocking),
 * *flush_n long, when may_flush and a batch is due.  Inside d->lock. */
static struct store_event *events_push(struct decider *d, const struct store_event *ev,
				       int64_t now, size_t *flush_n, bool may_flush)
{
	uint64_t dropped = d->events.dropped;
	int r;

	*flush_n = 0;
	if (d->events.n == 0)
		d->events_first_ms = now;
	r = queue_push(&d->events, ev);
	if (r == -ENOBUFS && dropped == 0)
		log_warn("decide", "boot event queue full (%d); dropping events", EVENT_QUEUE_MAX);
	if (r < 0 || !may_flush)
		return NULL;
	if (d->events.n >= d->batch_rows || now - d->events_first_ms >= (int64_t)d->batch_ms ||
	    now < d->events_first_ms)
		return events_take(d, flush_n);
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
	events_push(d, &ev, now, &flushn, false);
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
	void *sq;
	bool prune = false;
	int next;

	pthread_mutex_lock(&d->lock);
	now = d->clock(d->clock_ctx);
	repeat_flush_due(d, now);
	if (d->events.n && (now - d->events_first_ms >= (int64_t)d->batch_ms ||
			    now < d->events_first_ms || d->events.n >= d->batch_rows))
		q = events_take(d, &n);
	d->events_since_cap += n;
	sn = queue_take(&d->seen, &sq);
	if (retention_days && (d->last_prune_ms == 0 || now - d->last_prune_ms >= PRUNE_EVERY_MS ||
			       now < d->last_prune_ms)) {
		d->last_prune_ms = now;
		prune = true;
	}
	ignore_list_check(d, now, false);
	int64_t wait = d->events.n ? (int64_t)d->batch_ms - (now - d->events_first_ms) : d->batch_ms;
	next = wait < 1 ? 1 : wait > 1000 ? 1000 : (int)wait;
	pthread_mutex_unlock(&d->lock);
	int r = events_write(d, q, n);
	seen_write(d, sq, sn, r == -EBUSY || r == -ENOTCONN);
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

/* ---- recording one decision ------------------------------------------------ */

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

void decide_record(struct decider *d, const struct pxe_facts *f, struct decision *dec)
{
	struct store_event ev, *flushq = NULL;
	size_t flushn = 0;
	int64_t now;

	if (!dec->rec.pending)
		return;
	dec->rec.pending = false;
	/* The event says what the decision says now, overrides included; its
	 * time is when it was decided. */
	event_fill(&ev, f, dec, dec->rec.made_ms);
	pthread_mutex_lock(&d->lock);
	now = d->clock(d->clock_ctx);
	/* A hand-out or a prompt's answer is always its own event. */
	dec->repeated = !dec->rec.own_event && repeat_check(d, f, &ev, dec->rec.store_gen, now);
	/* Every decision is an event; the queue writes them in batches (see
	 * EVENT_BATCH_MS).  Losing one is worth a warning, never a client
	 * left without a reply. */
	if (!dec->repeated)
		flushq = events_push(d, &ev, now, &flushn, dec->rec.flush);
	pthread_mutex_unlock(&d->lock);
	if (d->publish)
		d->publish(d->publish_ctx, &ev, dec);
	if (flushq)
		events_write(d, flushq, flushn);
}

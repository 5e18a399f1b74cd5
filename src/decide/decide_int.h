/* decide_int: the decider's state and the functions its files share;
 * internal to src/decide/.
 *
 * The decide module, by file:
 *   decide.c        the core: the decider's life, the MACIgnoreListFile,
 *                   decide_open() / decide_cached() / decide_batch() (the
 *                   steps of a decision, under the lock), decision_log();
 *   decide_rules.c  the rules themselves (settings, identity, deployments),
 *                   what committing means (hand-out, discovery), the
 *                   prompt's answer and the overrides -- what a decision
 *                   is, apart from where it is kept;
 *   decide_cache.c  the cache glue: one lookup for every caller, the
 *                   validity of an entry, the cache's admin side;
 *   decide_events.c recording: the event and last-seen queues (queue.h),
 *                   repeat counting, batched writes, pruning;
 *   cache.c, queue.c the data structures under them.
 * One lock (decider.lock) guards the state below; functions marked
 * "inside d->lock" expect it held. */
#pragma once
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conf/mac_list.h"
#include "decide/cache.h"
#include "decide/decide.h"
#include "decide/queue.h"
#include "store/store.h"

/* A device's last-seen time is rewritten at most this often (unless its
 * architecture changed), so a PXE storm does not turn into a write storm. */
#define SEEN_REFRESH_S 60
#define CACHE_DEFAULT_MAX 100000

struct repeat_slot;

struct decider {
	const struct pxed_conf *conf; /* read on every call: SIGHUP may change it */
	struct store *store;          /* not owned */
	pthread_mutex_t lock;         /* cache, ignore list, queues, stats */

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
	 * for /healthz (written on the worker, read on the loop). */
	int write_err;
	char write_err_text[160];
	struct queue events;          /* struct store_event, not yet written */
	int64_t events_first_ms;      /* when the oldest queued event was made */
	unsigned batch_rows, batch_ms;
	bool flush_inline;            /* decide() writes a due batch itself */
	int64_t last_prune_ms;
	/* Last-seen writes due for answers that did not write them
	 * themselves: written with the next event batch. */
	struct queue seen;            /* struct store_seen */

	/* decide_cached_begin(): requests received together share one peek
	 * at the store generation (loop thread only, no lock). */
	bool peek_held, peek_done, peek_ok;
	uint64_t peek_gen;

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

/* ---- decide.c ---- */
/* Keep d->ignore in step with the MACIgnoreListFile.  Inside d->lock. */
void ignore_list_check(struct decider *d, int64_t now, bool force);

/* ---- decide_rules.c ---- */
/* Side effects a decision owes the store after the rules answered. */
struct decide_todo {
	bool handout;            /* a required deployment is being handed out */
	bool discover;           /* an unknown machine boots: record it as a device */
	struct store_device dev; /* the known device (dev.id 0 = unknown) */
	int64_t edge_s;          /* next deployment window edge (unix s), 0 = none:
				  * the answer may change then, so the cache must not
				  * outlive it */
};
/* IsActive, MACIgnoreListFile, BindPolicy, ResponseDelay: true when one
 * fired (*out filled).  Inside d->lock. */
bool settings_rules(struct decider *d, const struct pxe_facts *f, int64_t now, bool check_file,
		    struct decision *out);
/* Identity, unknown machines, the deployments: reads the store only.
 * 0 or a negative errno (then *out is an IGNORE naming it).  Without the
 * lock. */
int decide_rules(struct decider *d, const struct pxe_facts *f, int64_t now_ms,
		 struct decision *out, struct decide_todo *todo);
/* decide_rules(f[i], now_ms[i], out[i], todo[i]) for n requests, r[i] its
 * return, their reads in one store_decide_read_batch().  Without the
 * lock. */
void decide_rules_batch(struct decider *d, const struct pxe_facts *const f[],
			const int64_t now_ms[], struct decision *const out[],
			struct decide_todo *const todo[], int r[], size_t n);
/* Record what committing *out means (hand-out, discovered machine); on
 * failure *out becomes an IGNORE.  Without the lock. */
int commit_record(struct decider *d, const struct pxe_facts *f, struct decide_todo *todo,
		  struct decision *out, int64_t t);
/* The answer to an available deployment's prompt, applied to a fresh
 * decision. */
void choice_apply(struct decision *out, enum decide_choice choice);

/* ---- decide_cache.c ---- */
/* Whether the device's last-seen time is due for a write. */
static inline bool seen_due(int64_t last_seen, int stored_arch, int arch, int64_t t)
{
	return (arch >= 0 && arch != stored_arch) || t - last_seen >= SEEN_REFRESH_S;
}
enum cache_lookup_mode {
	CACHE_PEEK,   /* the loop: leave a stale entry for the worker to drop */
	CACHE_SETTLE, /* the worker: count and drop a stale entry, count the miss */
};
/* The cache's answer for f under store generation gen: true and *out
 * filled (a hit, counted), or false.  *seen_id is the device whose
 * last-seen time is due (0 = none; the entry now says it was written).
 * Inside d->lock. */
bool cache_lookup(struct decider *d, const struct pxe_facts *f, uint64_t gen, int64_t now,
		  enum cache_lookup_mode mode, struct decision *out, int64_t *seen_id);
/* Keep a freshly computed answer.  Inside d->lock. */
void cache_keep(struct decider *d, const struct pxe_facts *f, uint64_t gen, uint64_t sgen,
		int64_t now, const struct decide_todo *todo, const struct decision *dec);

/* ---- decide_events.c ---- */
void events_init(struct decider *d);
/* Write what is queued and free the queues (decider_free()). */
void events_fini(struct decider *d);
/* Queue a last-seen write; dropped when full (the next refresh comes).
 * Inside d->lock. */
void seen_push(struct decider *d, int64_t device_id, int arch, int64_t t);

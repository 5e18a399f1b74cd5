/* decide: the rules that say, for one PXE request, boot / local / ignore.
 *
 * The DHCP responder and the HTTP boot-script handler both build a
 * struct pxe_facts and call the same decide function, so a machine can
 * never get two different answers for the same state. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "common/vocab.h" /* enum pxe_arch_class */

struct pxed_conf;
struct store;

/* Where a request came from; the decision is the same either way. */
enum pxe_via { PXE_VIA_DHCP, PXE_VIA_HTTP };

struct pxe_facts {
	uint8_t mac[MAC_LEN];      /* chaddr (DHCP) or ?mac= (HTTP) */
	bool has_guid;
	uint8_t guid[GUID_LEN];    /* SMBIOS GUID in text byte order (see util.h) */
	bool has_arch;
	uint16_t arch;             /* option 93 raw value */
	enum pxe_arch_class arch_class;
	bool is_ipxe;              /* user class "iPXE" (77) or option 175 */
	uint16_t secs;             /* DHCP secs field, for ResponseDelay */
	bool chose_us;             /* a follow-up (REQUEST/INFORM) to this server's
				    * OFFER: ResponseDelay no longer applies */
	char ifname[IF_NAMESIZE];  /* interface the request arrived on, "" if unknown */
	enum pxe_via via;
};

enum decision_outcome {
	DECISION_BOOT,   /* a deployment applies: network boot */
	DECISION_LOCAL,  /* boot from the local disk at once */
	DECISION_IGNORE, /* not serviced: send nothing */
};

struct decision {
	enum decision_outcome outcome;
	char reason[192];          /* human words: why, for the log line and events */
	bool required;             /* the deployment's purpose */
	int64_t device_id;         /* 0 = unknown machine */
	char device_name[64];
	int64_t deployment_id;     /* 0 when none */
	char deployment_name[64];
	char image_name[64];
	char kernel[256];          /* paths relative to the content root */
	char initrd[256];
	char cmdline[512];
	char nbp[256];             /* image that is a boot program instead */
	bool repeated;             /* a repeat within DecisionRepeatWindow: counted,
				    * not recorded; decision_log() is silent */
	char loader[8];            /* the image's boot loader family for UEFI x64:
				    * "" (the setting), "ipxe", "grub" */
	/* What decide_record() needs, filled by the decider; callers leave
	 * it alone (see "Recording a decision" below). */
	struct decision_rec {
		bool pending;      /* decided, its event not yet recorded */
		bool own_event;    /* a hand-out or a prompt's answer: never a repeat */
		bool committed;    /* decided with commit = true */
		bool flush;        /* decide_record() may write a due batch itself */
		int64_t made_ms;   /* when it was decided: the event's time */
		uint64_t store_gen; /* the generation it was decided under */
	} rec;
};

/* "boot", "local", "ignore" */
const char *decision_outcome_name(enum decision_outcome o);

struct decider; /* owned by the decide module; see decide_int.h */

/* ---- Recording a decision ----------------------------------------------
 * Every answer a client gets is one boot event, and the event says what
 * the client got.  What the rules decide is not always what is sent: the
 * DHCP responder may find no boot program, the GRUB rules may send a
 * machine to its disk, the /boot.ipxe flow asks for PXEPassword, finds a
 * command line that does not render or an image it cannot write into a
 * script.  So deciding and recording are two steps:
 *   1. decide_open(), decide_cached() or decide_batch() decide; the
 *      event waits in the decision (rec.pending);
 *   2. the caller applies what happened since with decide_override()
 *      (or decide_withdraw(), which also takes back a recorded hand-out);
 *   3. decide_record() records the event once, with the final outcome and
 *      reason, before the caller logs the decision (decision_log()).
 * A decision that is superseded by another for the same request (the
 * look before a password, then the committing decision) is never
 * recorded.  decide() and decide_choice() are open + record in one, for
 * callers with nothing to override. */

/* Decide for one request.  Pure with respect to the network: reads
 * settings and the store, never sends anything.  `commit` = true when the
 * answer is being handed to the client now (the HTTP boot script), which
 * records a required deployment's hand-out; the DHCP path passes false.
 * Always fills *out; returns 0, or a negative errno when the store failed
 * (then *out is an IGNORE with the reason).  Records the event. */
int decide(struct decider *d, const struct pxe_facts *f, bool commit, struct decision *out);

/* decide_open(f[i], commit = false, out[i]) for n requests, the same
 * answers: the store is read once for all that the settings and the cache
 * do not answer (store_decide_read_batch(): on SQLite in one read
 * transaction, so a storm of cold requests costs the store's locking once
 * per batch, not once per query; on PostgreSQL in one round trip), then
 * each one's rules run on its rows.  A batch of one reads as decide_open()
 * does.
 * Nothing is written meanwhile: last-seen times are queued for
 * decider_maintain() whatever decider_set_event_flush_inline() says, and
 * decide_record() of these decisions only queues their events.  What the
 * DHCP responder runs on its worker for the requests decide_cached() could
 * not answer. */
void decide_batch(struct decider *d, const struct pxe_facts *const f[], struct decision *const out[],
		  size_t n);

/* The answer to an available deployment's prompt (boot_script.h). */
enum decide_choice {
	DECIDE_CHOICE_NONE = 0,
	DECIDE_CHOICE_DEPLOY, /* Enter: start the deployment */
	DECIDE_CHOICE_LOCAL,  /* timeout: boot the local disk */
};

/* Decide again for a client coming back with its choice, and record the
 * choice as that decision's event (the request names no deployment, so
 * the rules run afresh):
 *   deploy: a decision that is still an available deployment keeps its
 *           outcome, reason "available deployment 'X': user chose to
 *           deploy"; any other decision stands as it is (it is not the
 *           prompt the user answered);
 *   local:  always DECISION_LOCAL, reason "available deployment 'X': user
 *           let the prompt time out: local disk"; never commits.
 * Same return and commit meaning as decide(). */
int decide_choice(struct decider *d, const struct pxe_facts *f, enum decide_choice choice,
		  bool commit, struct decision *out);
/* decide_choice() (DECIDE_CHOICE_NONE: decide()) without recording: the
 * event waits in *out for decide_record().  Same return as decide(). */
int decide_open(struct decider *d, const struct pxe_facts *f, bool commit,
		enum decide_choice choice, struct decision *out);

/* The same answer when it needs no store and no disk, for the event loop:
 * the settings rules (with the MACIgnoreListFile as last read), then a
 * valid cache entry, checked against the store generation with
 * store_generation_peek().  1 when *out is the answer (its event waits
 * for decide_record(), which only queues it; a last-seen refresh is
 * queued in memory; both are written by decider_maintain() or
 * decider_events_flush()); 0 when decide_open() must run, on a worker. */
int decide_cached(struct decider *d, const struct pxe_facts *f, struct decision *out);
/* Requests that arrived together (one recvmmsg()) share one look at the
 * store generation: between begin and end decide_cached() peeks at most
 * once, at its first call.  Every request of the group had arrived before
 * that peek, so each answer is still as new as the store was when its
 * request arrived -- the peek per request cost more than the cache lookup.
 * Loop thread only. */
void decide_cached_begin(struct decider *d);
void decide_cached_end(struct decider *d);

/* What happened to a decision after the rules, each with its own outcome
 * and reason (the words the log and the events have always used):
 *   DHCP responder:
 *     NO_BOOT_PROGRAM  ignore "not serviced: no boot program for
 *                      architecture N"
 *     BOOT_FILE_LONG   ignore "not serviced: boot file name too long for
 *                      the reply"
 *   GRUB machines (docs/bootloaders.md):
 *     GRUB_MISSING     ignore "not serviced: GRUB boot loader not
 *                      installed (Debian packages DETAIL)"
 *     GRUB_PASSWORD    boot -> local: PXEPassword, which GRUB cannot ask
 *     GRUB_WENT_LOCAL  boot -> local: GRUB sent it to its disk moments ago
 *   boot scripts (iPXE and GRUB):
 *     UNSERVABLE       -> local "image cannot be served, see server log"
 *     RENDER_FAILED    -> local "deployment 'X' not started: DETAIL"
 *   PXEPassword (/boot.ipxe); the script still names the deployment, so
 *   the first three stay boot and say, after the reason, what was asked:
 *     PASSWORD_ASKED   "...: PXEPassword asked"
 *     PASSWORD_WRONG   "...: wrong PXE password, asked again"
 *     PASSWORD_BUSY    "...: PXE password not checked (busy), asked again"
 *     PASSWORD_LOCKED  -> local "too many wrong PXE passwords, try later"
 *     TOKEN_GONE       -> local "boot token used or expired meanwhile, boot
 *                      again"
 * Every one keeps the device and deployment, so the event says who did
 * not get what. */
enum decide_override {
	DECIDE_OVR_NO_BOOT_PROGRAM,
	DECIDE_OVR_BOOT_FILE_LONG,
	DECIDE_OVR_GRUB_MISSING,
	DECIDE_OVR_GRUB_PASSWORD,
	DECIDE_OVR_GRUB_WENT_LOCAL,
	DECIDE_OVR_UNSERVABLE,
	DECIDE_OVR_RENDER_FAILED,
	DECIDE_OVR_PASSWORD_ASKED,
	DECIDE_OVR_PASSWORD_WRONG,
	DECIDE_OVR_PASSWORD_BUSY,
	DECIDE_OVR_PASSWORD_LOCKED,
	DECIDE_OVR_TOKEN_GONE,
};
/* Apply one to a decision not yet recorded (detail: see above, else
 * NULL).  Pure: no store, no lock. */
void decide_override(struct decision *dec, const struct pxe_facts *f, enum decide_override why,
		     const char *detail);
/* decide_override(), and when dec handed a required deployment out
 * (committed), take the hand-out back in the store, so that the
 * deployment stays due.  Store work: not on the event loop. */
void decide_withdraw(struct decider *d, struct decision *dec, const struct pxe_facts *f,
		     enum decide_override why, const char *detail);
/* Record dec's event -- the outcome and reason it has now -- once: a
 * decision already recorded is left alone.  Sets dec->repeated (then the
 * event is only counted, see DecisionRepeatWindow) and tells the live
 * watchers.  Queues only, unless dec came from decide_open() with
 * decider_set_event_flush_inline() on: then a due batch is written.  Any
 * thread. */
void decide_record(struct decider *d, const struct pxe_facts *f, struct decision *dec);

/* The one decision log line, prefixed "MAC, GUID: " (docs/pxed.8.md, DECISIONS), e.g.
 *   52:54:00:12:34:56, 8a3c...: boot 'win11' (required deployment for
 *   device 'lab-01', not yet handed out) [dhcp DISCOVER on br0, arch bios, pxe]
 * `context` names the request ("dhcp DISCOVER", "dhcp REQUEST:4011",
 * "http /boot.ipxe"). */
void decision_log(const struct pxe_facts *f, const struct decision *d, const char *context);

/* The decider reads *conf on every call; it must outlive the decider.
 * decider_free() writes the queued events first. */
int decider_new(const struct pxed_conf *conf, struct store *store, struct decider **out);
void decider_free(struct decider *d); /* accepts NULL */

/* ---- the order of the rules -------------------------------------------
 * 1. IsActive off                      -> ignore
 * 2. MAC on the MACIgnoreListFile      -> ignore (file re-read when it changes)
 * 3. interface excluded by BindPolicy  -> ignore (when the ifname is known)
 * 4. DHCP secs below ResponseDelay     -> ignore ("not serviced yet"); a
 *    DISCOVER only, not the follow-up of a client that chose this server
 *    -- the cache answers from here on --
 * 5. identity: MAC and SMBIOS GUID (conflicts: see identify() in decide_rules.c)
 * 6. unknown machine: ignore if SupportUnknownMachines is off, else the
 *    deployments for unknown machines of its architecture class
 * 7. the deployments that apply (device, its collections, unknown-machine
 *    ones for devices pxed discovered), inside their window: the first
 *    required one not handed out, else the first available one, else
 *    local ("already handed out at ...") or local ("no deployment").
 *
 * ---- the cache -----------------------------------------------------------
 * Answers of rules 5-7 are cached per (MAC, GUID as sent, architecture
 * class) for at most CacheExpire seconds (0 = no cache), and only while
 * the store generation (any change to devices, collections, deployments,
 * hand-outs, in any process sharing the database) and the settings
 * generation are those it was computed under, and no deployment window
 * opened or closed since.  commit = true never reads the cache.  Events are
 * written for cached answers too, batched (see decider_maintain()). */

/* Call after the settings behind conf changed (SIGHUP, pxectl settings
 * set): every cached answer becomes stale, the MACIgnoreListFile is
 * checked again at once. */
void decider_settings_changed(struct decider *d);

struct decider_cache_stats {
	uint64_t hits;
	uint64_t misses;         /* computed from the store (commit = true included) */
	uint64_t invalidations;  /* entries found stale: store or settings changed */
	uint64_t expirations;    /* entries found older than CacheExpire or a window edge */
	uint64_t evictions;      /* oldest entries dropped to stay within the limit */
	size_t entries, max_entries;
	size_t events_queued;    /* boot events not yet written */
	uint64_t events_dropped; /* events lost (queue full or out of memory) */
	uint64_t events_coalesced; /* repeats counted into one event (DecisionRepeatWindow) */
	uint64_t unknown_refused;  /* unknown machines not recorded (UnknownMachinesPerMinute) */
};
void decider_cache_stats(struct decider *d, struct decider_cache_stats *out);

struct decider_cache_entry {
	uint8_t mac[MAC_LEN];
	bool has_guid;
	uint8_t guid[GUID_LEN];
	bool has_arch;
	enum pxe_arch_class arch_class;
	enum decision_outcome outcome;
	char reason[192];
	int64_t device_id;
	int64_t deployment_id;
	uint64_t age_ms;
	bool valid;              /* would be served now (not stale or expired) */
};
/* Every entry, oldest first (for `pxectl cache list`); cb runs without the
 * decider's lock.  Returns the number of entries. */
int decider_cache_list(struct decider *d,
		       int (*cb)(void *ctx, const struct decider_cache_entry *e), void *ctx);
/* Drop every entry (`pxectl cache flush`); returns how many there were. */
int decider_cache_flush(struct decider *d);
/* At most max_entries (0 = the default 100,000); the oldest is evicted.
 * Drops the current entries. */
int decider_cache_set_limit(struct decider *d, size_t max_entries);

/* The clock for cache ages, deployment windows, hand-out and event times
 * (unix milliseconds); NULL = CLOCK_REALTIME.  For tests. */
void decider_set_clock(struct decider *d, int64_t (*clock_ms)(void *ctx), void *ctx);

/* Each decision's event as it is made, for live watchers (the console's
 * stream): fn is called once per decision, after the decider's lock is
 * released, on whichever thread decided (the loop for decide_cached(),
 * a worker for decide()); it must not block and must not call back into
 * the decider.  Set it before decisions start and clear it (NULL) after
 * they stop. */
struct store_event;
typedef void (*decider_publish_fn)(void *ctx, const struct store_event *ev,
				   const struct decision *dec);
void decider_set_publish(struct decider *d, decider_publish_fn fn, void *ctx);

/* Boot events are queued and written in one transaction per batch: when
 * max_rows are queued or the oldest is max_delay_ms old (defaults 256 and
 * 100 ms), by the decide() call that finds it due, or decider_maintain().
 * max_rows <= 1 writes each event at once.  To keep every write off the
 * event loop, as pxed does, answer on the loop with decide_cached() only,
 * turn decider_set_event_flush_inline() off, and run decider_maintain()
 * on a worker (the queue holds at most 65,536 events; a batch refused
 * because another process holds the write lock is kept for the next
 * try). */
void decider_set_event_batch(struct decider *d, unsigned max_rows, unsigned max_delay_ms);
/* inline_flush = false: decide() never writes a due batch itself (its
 * caller waits for the answer, and another process may hold the write
 * lock); only decider_maintain() and decider_events_flush() write.  pxed
 * runs those on its worker. */
void decider_set_event_flush_inline(struct decider *d, bool inline_flush);
/* Write the queued events now; returns how many, or a negative errno. */
int decider_events_flush(struct decider *d);

/* The outcome of the last write of boot events (every decision writes
 * one, in batches on the worker): 0 when it went through (or none was
 * made yet), else its negative errno, with the store's message in text.
 * Cheap, takes the lock only: /healthz asks it on the loop.  A write that
 * had to wait for another process's lock (-EBUSY, retried) does not
 * count. */
int decider_store_write_error(struct decider *d, char *text, size_t len);
/* Delete events older than retention_days (0 = keep all); returns how many. */
int decider_events_prune(struct decider *d, unsigned retention_days);
/* Housekeeping for main's timer: writes queued events that are due,
 * prunes events older than retention_days (0 = never) once an hour,
 * checks the MACIgnoreListFile.  Returns the ms until it wants to run
 * again. */
int decider_maintain(struct decider *d, unsigned retention_days);

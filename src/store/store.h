/* store: pxed's deployment database behind one interface.  The backend is
 * chosen by URL: "sqlite:PATH" (a file, the embedded default) or
 * "postgresql://..." (any libpq connection URI; several pxed may share
 * one database).  Every function returns 0 (or a
 * positive count) on success and a negative errno on failure:
 *   -ENOENT  no such row          -EEXIST  duplicate name/MAC/GUID
 *   -EINVAL  a field is invalid    -EIO     the database failed
 *   -EBUSY   another process held the write lock past the busy timeout
 *   -EBUSY   a row is still in use (delete of an image a deployment uses)
 *   -ENOTCONN the database server cannot be reached now (PostgreSQL); the
 *            backend reconnects by itself, the caller may keep the write
 *            for later
 * with a human message in store_last_error() (kept per thread: it is the
 * message of the calling thread's last failed store call).
 *
 * Every change that can alter a PXE decision (devices, images, deployments,
 * hand-outs, deletes) bumps the store's generation (store_generation()) in
 * the same transaction, which caches compare against so that no answer is
 * older than the last change.  Two writes do not bump it, because they
 * happen on every PXE request and never change an answer: store_device_seen()
 * and store_event_add().
 *
 * The generation lives in the database (meta row 'generation'), so every
 * process sharing the database sees the same counter.  Reading it is
 * cheap: over SQLite, store_generation() asks PRAGMA data_version whether
 * any other connection committed since the last read, and only then reads
 * the row; over PostgreSQL every commit that bumps it also sends NOTIFY,
 * and a listener thread keeps the value in memory, so reading it never
 * touches the network.  While the listener has lost its connection the
 * generation cannot be known: store_generation() then returns a value
 * never returned before on every call (so every cached answer is stale)
 * and store_generation_peek() says -EIO.
 *
 * A store handle may be used from several threads (calls are serialised).
 * List callbacks run after the query finished and the lock was released,
 * so a callback may call into the store again. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct store;

struct store_device {
	int64_t id;
	char name[64];
	uint8_t mac[MAC_LEN];
	bool has_guid;
	uint8_t guid[GUID_LEN];  /* text byte order */
	int arch;                /* last seen option 93 value, -1 = never */
	int64_t last_seen;       /* unix seconds, 0 = never */
	int64_t created;
	bool discovered;         /* pxed recorded it as an unknown machine (schema v2) */
};

/* A collection: a named set of devices with static membership (schema v2).
 * A device may be in many. */
struct store_collection {
	int64_t id;
	char name[64];
	int64_t created;
	unsigned members;        /* how many devices it holds (read only) */
};

struct store_image {
	int64_t id;
	char name[64];
	char kernel[256];        /* relative to the content root; "" if nbp */
	char initrd[256];
	char cmdline[512];
	char nbp[256];           /* boot program image instead of kernel */
	int64_t created;
	/* "" = x86 (BIOS, UEFI x86/x64), "uefi-arm64" (common/vocab.h) */
	char arch[16];
	/* Boot loader family for UEFI x64 machines getting this image: ""
	 * (the BootLoaderUEFIx64 setting), "ipxe" or "grub". */
	char loader[8];
};

enum store_purpose { STORE_AVAILABLE = 0, STORE_REQUIRED = 1 };

/* What a deployment targets.  DEVICE is the zero value so that callers
 * written before collections existed keep working; store_deployment_add()
 * also takes a struct naming only a collection as a collection target.
 * UNKNOWN must be said explicitly, with unknown_arch. */
enum store_target {
	STORE_TARGET_DEVICE = 0,
	STORE_TARGET_COLLECTION = 1,
	STORE_TARGET_UNKNOWN = 2,  /* unknown machines of one architecture class */
};

/* unknown_arch holds an enum pxe_arch_class (common/vocab.h) value, one
 * that vocab_arch_targetable() accepts: bios (0), uefi-x86 (1), uefi-x64
 * (2), uefi-arm64 (3). */
struct store_deployment {
	int64_t id;
	char name[64];
	int64_t image_id;
	char image_name[64];
	char image_arch[16];     /* the image's arch (store_image) */
	int64_t device_id;       /* target device */
	char device_name[64];
	enum store_purpose purpose;
	bool enabled;
	int64_t created;
	/* schema v2 */
	int64_t collection_id;   /* target collection, 0 = none */
	char collection_name[64];
	int unknown_arch;        /* target: unknown machines of this arch class, -1 = none */
	int64_t available_from;  /* unix seconds; not offered before; 0 = no start */
	int64_t expires;         /* unix seconds; not offered from then on; 0 = never */
	enum store_target target; /* which of the three targets is set */
	int64_t handed_out_at;   /* store_deployments_applicable() only: hand-out time
				  * to the device asked about, 0 = not handed out */
};

struct store_event {
	int64_t id;
	int64_t time_ms;         /* unix milliseconds */
	uint8_t mac[MAC_LEN];
	bool has_guid;
	uint8_t guid[GUID_LEN];
	int arch;                /* -1 = not sent */
	char ifname[16];
	char via[8];             /* "dhcp" or "http" */
	char outcome[8];         /* "boot", "local", "ignore" */
	char reason[192];
	int64_t device_id;       /* 0 = unknown */
	int64_t deployment_id;   /* 0 = none */
	char deployment_name[64];
};

/* Open (creating and migrating the schema as needed). */
int store_open(const char *url, struct store **out);
/* Whether url names a backend and has its form, without opening it:
 * 0, or -EINVAL with the reason in why. */
int store_url_check(const char *url, char *why, size_t len);
/* The local file that holds the store (for permissions and the files
 * kept beside it), or NULL when it lives on a server. */
const char *store_url_file(const char *url);
/* "sqlite" or "postgresql". */
const char *store_backend_name(const struct store *s);
/* How many calls the handle serves at once (1 for SQLite, which
 * serialises them; the connection pool's size for PostgreSQL): worth as
 * many worker threads. */
unsigned store_parallel(const struct store *s);
/* False while the database cannot be reached (a PostgreSQL server down);
 * the backend reconnects by itself.  Always true for SQLite. */
bool store_reachable(struct store *s);
void store_close(struct store *s); /* accepts NULL */
const char *store_last_error(const struct store *s);
/* Why the last store_open() failed (there is no handle to ask then). */
const char *store_open_error(void);
uint64_t store_generation(struct store *s);
/* The same without ever waiting: on its own read-only connection (busy
 * timeout 0), so neither a call in progress on this handle nor another
 * process's write lock holds it up.  0 with *out, -EBUSY when it would
 * have had to wait, -EIO; *out is then the last value seen. */
int store_generation_peek(struct store *s, uint64_t *out);

/* Devices */
int store_device_add(struct store *s, struct store_device *d); /* sets d->id */
/* Change name, MAC and GUID of the device d->id (arch, last_seen and
 * created are not written).  -ENOENT, -EEXIST as for add. */
int store_device_update(struct store *s, struct store_device *d);
int store_device_by_name(struct store *s, const char *name, struct store_device *out);
int store_device_by_mac(struct store *s, const uint8_t mac[MAC_LEN], struct store_device *out);
int store_device_by_guid(struct store *s, const uint8_t guid[GUID_LEN], struct store_device *out);
int store_device_by_id(struct store *s, int64_t id, struct store_device *out);
/* store_device_by_mac() and store_device_by_guid() (guid NULL: not asked)
 * in one query, for identifying a PXE client: *rm and *rg are 0 (found,
 * *by_mac / *by_guid filled) or -ENOENT.  Returns 0 or a database error. */
int store_device_by_mac_guid(struct store *s, const uint8_t mac[MAC_LEN],
			     const uint8_t *guid, struct store_device *by_mac, int *rm,
			     struct store_device *by_guid, int *rg);
/* Record that the device was seen now; arch < 0 keeps the stored one.  Does
 * not bump the generation (see above). */
int store_device_seen(struct store *s, int64_t id, int arch, int64_t when);
/* A last-seen write for store_device_seen_many(). */
struct store_seen {
	int64_t device_id;
	int arch;                /* -1 = keep the stored one */
	int64_t t;               /* unix seconds */
};
/* store_device_seen() for n devices in one transaction (devices removed
 * since are skipped).  Returns how many were written, or a negative errno
 * (-EBUSY: another process held the write lock; nothing was written). */
int store_device_seen_many(struct store *s, const struct store_seen *v, size_t n);
/* Remove a device, its deployments' hand-out history with it.  -EBUSY while a
 * deployment targets it. */
int store_device_delete(struct store *s, const char *name);
/* List: calls cb for each row in name order; cb returning non-zero stops.
 * Lists return the number of rows read (not only those cb saw). */
int store_device_list(struct store *s, int (*cb)(void *ctx, const struct store_device *d), void *ctx);
/* 1 while writes go through; 0 when the last one failed for the disk
 * (full, I/O error, read-only) and no commit has succeeded since, with
 * SQLite's words in why.  Takes the store's lock only in the 0 case. */
int store_writable(struct store *s, char *why, size_t len);
/* Rows read by lists and lookups since open: what a call cost (/metrics). */
uint64_t store_rows_read(struct store *s);

/* Images */
int store_image_add(struct store *s, struct store_image *im);
int store_image_by_name(struct store *s, const char *name, struct store_image *out);
int store_image_by_id(struct store *s, int64_t id, struct store_image *out);
int store_image_list(struct store *s, int (*cb)(void *ctx, const struct store_image *im), void *ctx);
/* -EBUSY while a deployment uses it. */
int store_image_delete(struct store *s, const char *name);

/* Deployments */
/* image_id / device_id 0 = look them up by image_name / device_name.
 * Sets dep->id, both ids and both names. */
int store_deployment_add(struct store *s, struct store_deployment *dep);
int store_deployment_by_name(struct store *s, const char *name, struct store_deployment *out);
int store_deployment_set_enabled(struct store *s, const char *name, bool enabled);
int store_deployment_delete(struct store *s, const char *name);
int store_deployment_list(struct store *s, int (*cb)(void *ctx, const struct store_deployment *d), void *ctx);
/* The deployments that target device_id, enabled ones only, in decision
 * order: required before available, then newest first. */
int store_deployments_for_device(struct store *s, int64_t device_id,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx);

/* Every enabled deployment that applies to one client, in decision order
 * (required before available, then newest first), each with
 * handed_out_at for that device:
 *   - device_id > 0: those targeting the device, those targeting any
 *     collection it is in, and, if pxed discovered it as an unknown
 *     machine, those for unknown machines of arch_class;
 *   - device_id 0 (an unknown machine): those for unknown machines of
 *     arch_class (-1 = none).
 * The availability window is not applied: the caller compares
 * available_from / expires with its clock (so it also knows when the
 * answer changes next). */
int store_deployments_applicable(struct store *s, int64_t device_id, int arch_class,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx);
/* What one decision reads (store_decide_read()), in one query where the
 * backend can (PostgreSQL: one round trip instead of three).  The store
 * calls choose() once with the devices holding mac and guid (as
 * store_device_by_mac_guid(); guid NULL: not asked); it returns whose
 * deployments to read: the id of one of those two devices, 0 for an
 * unknown machine, or -1 for none.  Then each() gets, in order, every deployment
 * store_deployments_applicable(id, arch_class) gives, with its image when
 * the backend read it in the same query (else NULL: the caller reads the
 * one it needs with store_image_by_id()).  A nonzero return from each()
 * stops the rows. */
struct store_decide_query {
	const uint8_t *mac;
	const uint8_t *guid;
	int arch_class;
	int64_t (*choose)(void *ctx, const struct store_device *by_mac, int rm,
			  const struct store_device *by_guid, int rg);
	int (*each)(void *ctx, const struct store_deployment *d, const struct store_image *im);
	void *ctx;
};
/* 0 or a database error. */
int store_decide_read(struct store *s, const struct store_decide_query *q);
/* store_decide_read(q[i]) for n queries, r[i] its return, in one round
 * trip where the backend can (PostgreSQL: one statement taking the n
 * requests as arrays; SQLite: the reads in one read transaction).  The callbacks of
 * q[i] run in order, query by query, after the database answered: they
 * may not call the store meanwhile.  Returns 0 when every read went
 * through, else the first r[i] that failed. */
int store_decide_read_batch(struct store *s, const struct store_decide_query q[], int r[],
			    size_t n);
/* Whether store_decide_read_batch() reads in one round trip without a read
 * snapshot around it (store_read_begin() would add two). */
bool store_decide_batch_native(const struct store *s);
/* Change the availability window (unix seconds, 0 = none). */
int store_deployment_set_window(struct store *s, const char *name, int64_t available_from,
				int64_t expires);

/* Collections (schema v2).  Delete is -EBUSY while a deployment targets
 * the collection; memberships go with it. */
int store_collection_add(struct store *s, struct store_collection *c); /* sets c->id */
int store_collection_by_name(struct store *s, const char *name, struct store_collection *out);
int store_collection_list(struct store *s,
			  int (*cb)(void *ctx, const struct store_collection *c), void *ctx);
int store_collection_delete(struct store *s, const char *name);
/* Membership by names.  Add returns 1 when added, 0 when the device was
 * already a member (no change, no bump); remove returns 1, or -ENOENT when
 * it was not a member. */
int store_collection_add_device(struct store *s, const char *collection, const char *device);
int store_collection_remove_device(struct store *s, const char *collection, const char *device);
/* The member devices, in name order; -ENOENT for no such collection. */
int store_collection_members(struct store *s, const char *collection,
			     int (*cb)(void *ctx, const struct store_device *d), void *ctx);
/* The collections one device is in, in name order. */
int store_device_collections(struct store *s, int64_t device_id,
			     int (*cb)(void *ctx, const struct store_collection *c), void *ctx);

/* Record an unknown machine pxed is handing a deployment to, as a device
 * with discovered = true, and (deployment_id > 0) that deployment's
 * hand-out at `when`, in one transaction: a reboot during the install must
 * find both or neither.  Sets d->id.  -EEXIST as store_device_add(). */
int store_device_add_discovered(struct store *s, struct store_device *d, int64_t deployment_id,
				int64_t when);

/* PXE history: the last required deployment handed to a device.  Claims
 * the hand-out: 1 when this call recorded it, 0 when it was recorded
 * already (another server sharing the database answered the same machine
 * first; its time is kept), so that a required deployment is handed out
 * once however many servers answer. */
int store_handout_record(struct store *s, int64_t device_id, int64_t deployment_id, int64_t when);
/* Withdraw one hand-out (the boot did not start after all); 0 also when
 * there was none. */
int store_handout_forget(struct store *s, int64_t device_id, int64_t deployment_id);
/* 1 if that deployment was handed to that device (and not cleared), 0 if not. */
int store_handout_done(struct store *s, int64_t device_id, int64_t deployment_id);
/* Like store_handout_done(), and *when = the hand-out time (unix seconds). */
int store_handout_get(struct store *s, int64_t device_id, int64_t deployment_id, int64_t *when);
/* Every hand-out recorded, by device id then deployment id (what a copy
 * of the whole store reads). */
struct store_handout {
	int64_t device_id, deployment_id, handed_out_at;
};
int store_handout_list(struct store *s, int (*cb)(void *ctx, const struct store_handout *h),
		       void *ctx);
/* "Clear Required PXE Deployments" for one device: forget every hand-out,
 * so its required deployments run again.  Returns how many were cleared. */
int store_handout_clear_device(struct store *s, int64_t device_id);
/* The same for every member of a collection (ConfigMgr's "Clear Required
 * PXE Deployments" on a collection).  Returns how many were cleared;
 * -ENOENT for no such collection. */
int store_handout_clear_collection(struct store *s, const char *collection);

/* Events: every decision. */
int store_event_add(struct store *s, struct store_event *ev);
/* Newest last; device_id 0 = all; since_ms 0 = all; the newest `limit`
 * rows (0 = no limit).  Returns the number of rows. */
int store_event_list(struct store *s, int64_t device_id, int64_t since_ms, unsigned limit,
		     int (*cb)(void *ctx, const struct store_event *ev), void *ctx);
/* Retention: delete events older than before_ms; returns how many. */
int store_event_prune(struct store *s, int64_t before_ms);
/* Size cap: delete all but the newest max_rows events; returns how many. */
int store_event_cap(struct store *s, unsigned max_rows);
/* Write n events in one transaction (sets each id); returns n.  What the
 * decider's event queue uses: one commit per batch, not per packet. */
int store_event_add_many(struct store *s, struct store_event *evs, size_t n);

struct store_event_filter {
	int64_t device_id;       /* 0 = any */
	const char *device_name; /* NULL or "" = any; -ENOENT if no such device */
	bool has_mac;            /* only events of this client MAC */
	uint8_t mac[MAC_LEN];
	int64_t since_ms;        /* 0 = all */
	unsigned limit;          /* the newest `limit` rows, 0 = no limit */
};
/* Like store_event_list() with more filters; newest last. */
int store_event_find(struct store *s, const struct store_event_filter *f,
		     int (*cb)(void *ctx, const struct store_event *ev), void *ctx);

/* Installer reports (schema v3): one row per deployment boot handed out
 * with a report token.  None of these bump the generation (a report
 * never changes a PXE answer). */
enum store_report_state {
	STORE_REPORT_HANDED_OUT = 0,
	STORE_REPORT_STARTED = 1,
	STORE_REPORT_SUCCEEDED = 2,
	STORE_REPORT_FAILED = 3,
};
#define STORE_REPORT_TOKEN_MAX 64  /* lower-case hex digits */
#define STORE_REPORT_MSG_MAX 1000

struct store_report {
	int64_t id;
	char token[STORE_REPORT_TOKEN_MAX + 1];
	int64_t device_id;       /* 0 = an unknown machine */
	char device_name[64];    /* as it was at hand-out */
	uint8_t mac[MAC_LEN];
	int64_t deployment_id;
	char deployment_name[64];
	int64_t handed_out_ms;   /* unix milliseconds */
	enum store_report_state state;
	char message[STORE_REPORT_MSG_MAX + 1]; /* the installer's last words, "" = none */
	int64_t updated_ms;      /* last report, or the hand-out */
};

struct store_report_counts {
	unsigned handed_out;     /* every boot handed out, whatever it reported since */
	unsigned started, succeeded, failed; /* boots by their last reported state */
};

/* A boot handed out now: token (lower-case hex), device_id (0 = unknown,
 * then the MAC names it), device_name, mac, deployment_id,
 * deployment_name and handed_out_ms are read; the row replaces the
 * earlier boot of that device and deployment (its token stops working).
 * Sets id, state = handed out, updated_ms.  -ENOENT for no such
 * deployment, -EEXIST when the token is taken, -EINVAL for a bad field. */
int store_report_create(struct store *s, struct store_report *r);
/* The boot a token names; -ENOENT if none (or a malformed token). */
int store_report_by_token(struct store *s, const char *token, struct store_report *out);
/* The installer's report: state, message (NULL = "") and its time.
 * -ENOENT when the row is gone (a newer boot replaced it). */
int store_report_update(struct store *s, int64_t id, enum store_report_state state,
			const char *message, int64_t when_ms);
/* Counts for one deployment (zeros for none). */
int store_report_counts(struct store *s, int64_t deployment_id, struct store_report_counts *out);
/* Each device's last boot of one deployment, in device name order. */
int store_report_list(struct store *s, int64_t deployment_id,
		      int (*cb)(void *ctx, const struct store_report *r), void *ctx);

/* A read snapshot: every call between begin and end on this thread reads
 * the database as it was at the first read, in one transaction, and other
 * threads' calls on the handle wait until end (keep it short: the DHCP
 * responder's batch of cold decisions).  No writes in between (they fail
 * with -EINVAL).  Nests; each begin that returned 0 needs its end. */
int store_read_begin(struct store *s);
void store_read_end(struct store *s);
/* Variables (schema v5): name=value pairs of one device, collection,
 * image or deployment, or global, rendered into image command lines and
 * answer files (src/decide/machine_vars.h puts them together for a boot).
 * The enum's order is the precedence: a higher level wins.  None of these
 * bump the generation (a variable never changes a DHCP answer). */
enum store_var_level {
	STORE_VAR_GLOBAL = 0,
	STORE_VAR_IMAGE = 1,
	STORE_VAR_COLLECTION = 2,
	STORE_VAR_DEPLOYMENT = 3,
	STORE_VAR_DEVICE = 4,
};
#define STORE_VAR_KEY_MAX 64      /* A-Z a-z 0-9 _, not starting with a digit */
#define STORE_VAR_VALUE_MAX 1024  /* bytes */
#define STORE_VARS_PER_OWNER 64   /* per device, collection, ..., and global */

struct store_var {
	enum store_var_level level;
	int64_t owner_id;                  /* 0 for global */
	char owner[64];                    /* its name, "" for global */
	char key[STORE_VAR_KEY_MAX + 1];
	char value[STORE_VAR_VALUE_MAX + 1];
};

/* "global", "image", "collection", "deployment", "device"; parse: 0 or -EINVAL. */
const char *store_var_level_name(enum store_var_level l);
int store_var_level_parse(const char *s, enum store_var_level *out);
/* True for the names pxed sets itself per boot (mac, guid, arch, device,
 * image, deployment, server, http, report_url, answers): not settable. */
bool store_var_builtin(const char *key);
/* Set (add or replace) one variable; owner is the name of the device,
 * collection, image or deployment (NULL or "" for global).  -ENOENT for no
 * such owner, -EINVAL for a bad name or value or a built-in name, -ENOSPC
 * when the owner has STORE_VARS_PER_OWNER others already. */
int store_var_set(struct store *s, enum store_var_level level, const char *owner, const char *key,
		  const char *value);
/* -ENOENT for no such owner or no such variable. */
int store_var_unset(struct store *s, enum store_var_level level, const char *owner,
		    const char *key);
/* One owner's variables in key order; -ENOENT for no such owner. */
int store_var_list(struct store *s, enum store_var_level level, const char *owner,
		   int (*cb)(void *ctx, const struct store_var *v), void *ctx);
/* Every variable that may apply to a boot of device_id (0 = an unknown
 * machine) with deployment_id and image_id (0 = none): the device's, the
 * deployment's, those of each collection the device is in, the image's
 * and the global ones, most specific level first, collections by name,
 * then by key.  The first row of a key is the one that applies. */
int store_vars_applicable(struct store *s, int64_t device_id, int64_t deployment_id,
			  int64_t image_id, int (*cb)(void *ctx, const struct store_var *v),
			  void *ctx);

/* Bulk load (imports, benchmarks): every write between begin and end runs
 * in one transaction, each as a savepoint (a failed write undoes only
 * itself and returns its error as usual), and the generation is bumped
 * once at the end.  Only the calling thread may use the handle meanwhile.
 * end(commit = false) rolls the whole load back. */
int store_bulk_begin(struct store *s);
int store_bulk_end(struct store *s, bool commit);

/* The console's queries: paged and counted in SQL. */
struct store_device_query {
	const char *q;           /* part of a name, MAC or GUID; NULL or "" = all */
	unsigned limit, offset;  /* the page, in name order */
};
/* One page of devices; *total = how many match in all. */
int store_device_search(struct store *s, const struct store_device_query *q, unsigned *total,
			int (*cb)(void *ctx, const struct store_device *d), void *ctx);
struct store_event_counts {
	unsigned boot, local, ignore;
};
/* Events since since_ms by outcome. */
int store_event_count(struct store *s, int64_t since_ms, struct store_event_counts *out);
struct store_row_counts {
	unsigned devices, images, deployments, collections;
};
int store_row_counts(struct store *s, struct store_row_counts *out);
/* The newest `limit` events of one device, newest last (by its index). */
int store_event_recent_device(struct store *s, int64_t device_id, unsigned limit,
			      int (*cb)(void *ctx, const struct store_event *ev), void *ctx);

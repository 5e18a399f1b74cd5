/* store: pxed's deployment database behind one interface.  The backend is
 * chosen by URL ("sqlite:PATH" today).  Every function returns 0 (or a
 * positive count) on success and a negative errno on failure:
 *   -ENOENT  no such row          -EEXIST  duplicate name/MAC/GUID
 *   -EINVAL  a field is invalid    -EIO     the database failed
 *   -EBUSY   a row is still in use (delete of an image a deployment uses)
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
 * process sharing the file sees the same counter.  Reading it is cheap:
 * store_generation() asks SQLite's PRAGMA data_version whether any other
 * connection committed since the last read, and only then reads the row.
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
};

struct store_image {
	int64_t id;
	char name[64];
	char kernel[256];        /* relative to the content root; "" if nbp */
	char initrd[256];
	char cmdline[512];
	char nbp[256];           /* boot program image instead of kernel */
	int64_t created;
};

enum store_purpose { STORE_AVAILABLE = 0, STORE_REQUIRED = 1 };

struct store_deployment {
	int64_t id;
	char name[64];
	int64_t image_id;
	char image_name[64];
	int64_t device_id;       /* target device */
	char device_name[64];
	enum store_purpose purpose;
	bool enabled;
	int64_t created;
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
void store_close(struct store *s); /* accepts NULL */
const char *store_last_error(const struct store *s);
/* Why the last store_open() failed (there is no handle to ask then). */
const char *store_open_error(void);
uint64_t store_generation(struct store *s);

/* Devices */
int store_device_add(struct store *s, struct store_device *d); /* sets d->id */
/* Change name, MAC and GUID of the device d->id (arch, last_seen and
 * created are not written).  -ENOENT, -EEXIST as for add. */
int store_device_update(struct store *s, struct store_device *d);
int store_device_by_name(struct store *s, const char *name, struct store_device *out);
int store_device_by_mac(struct store *s, const uint8_t mac[MAC_LEN], struct store_device *out);
int store_device_by_guid(struct store *s, const uint8_t guid[GUID_LEN], struct store_device *out);
int store_device_by_id(struct store *s, int64_t id, struct store_device *out);
/* Record that the device was seen now; arch < 0 keeps the stored one.  Does
 * not bump the generation (see above). */
int store_device_seen(struct store *s, int64_t id, int arch, int64_t when);
/* Remove a device, its deployments' hand-out history with it.  -EBUSY while a
 * deployment targets it. */
int store_device_delete(struct store *s, const char *name);
/* List: calls cb for each row in name order; cb returning non-zero stops.
 * Lists return the number of rows read (not only those cb saw). */
int store_device_list(struct store *s, int (*cb)(void *ctx, const struct store_device *d), void *ctx);

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

/* PXE history: the last required deployment handed to a device. */
int store_handout_record(struct store *s, int64_t device_id, int64_t deployment_id, int64_t when);
/* 1 if that deployment was handed to that device (and not cleared), 0 if not. */
int store_handout_done(struct store *s, int64_t device_id, int64_t deployment_id);
/* Like store_handout_done(), and *when = the hand-out time (unix seconds). */
int store_handout_get(struct store *s, int64_t device_id, int64_t deployment_id, int64_t *when);
/* "Clear Required PXE Deployments" for one device: forget every hand-out,
 * so its required deployments run again.  Returns how many were cleared. */
int store_handout_clear_device(struct store *s, int64_t device_id);

/* Events: every decision. */
int store_event_add(struct store *s, struct store_event *ev);
/* Newest last; device_id 0 = all; since_ms 0 = all; the newest `limit`
 * rows (0 = no limit).  Returns the number of rows. */
int store_event_list(struct store *s, int64_t device_id, int64_t since_ms, unsigned limit,
		     int (*cb)(void *ctx, const struct store_event *ev), void *ctx);
/* Retention: delete events older than before_ms; returns how many. */
int store_event_prune(struct store *s, int64_t before_ms);

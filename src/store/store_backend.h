/* store_backend: what a store backend implements, and what store.c (the
 * front every caller uses) does before calling it.
 *
 * store.c validates every field a caller hands in (names, MACs, GUIDs,
 * boot file paths, deployment targets and windows, report tokens and
 * texts) and then calls the backend chosen by the URL's scheme through
 * its struct store_ops.  A backend may therefore assume valid input; it
 * still maps its own constraint failures to -EEXIST / -ENOENT / -EBUSY as
 * store.h says.
 *
 * Each backend defines its own struct store_impl; nothing outside the
 * backend's file sees inside it.  Failure messages go to the calling
 * thread's buffer store_errbuf (store_last_error() returns it). */
#pragma once
#include "store/store.h"

#define STORE_ERR_LEN 320

struct store_impl;

/* The calling thread's last failure message. */
extern __thread char store_errbuf[STORE_ERR_LEN];
/* Set it; returns err. */
__attribute__((format(printf, 2, 3))) int store_errorf(int err, const char *fmt, ...);

struct store_ops {
	const char *scheme;      /* "sqlite", "postgresql" */
	unsigned parallel;       /* calls one handle serves at once */
	int (*open)(const char *url, struct store_impl **out);
	void (*close)(struct store_impl *s);
	/* Whether the backend reaches its database now (false while a
	 * server is down); NULL = always. */
	bool (*reachable)(struct store_impl *s);
	uint64_t (*generation)(struct store_impl *s);
	int (*generation_peek)(struct store_impl *s, uint64_t *out);
	int (*device_add)(struct store_impl *s, struct store_device *d);
	int (*device_update)(struct store_impl *s, struct store_device *d);
	int (*device_by_name)(struct store_impl *s, const char *name, struct store_device *out);
	int (*device_by_mac)(struct store_impl *s, const uint8_t mac[MAC_LEN], struct store_device *out);
	int (*device_by_guid)(struct store_impl *s, const uint8_t guid[GUID_LEN], struct store_device *out);
	int (*device_by_id)(struct store_impl *s, int64_t id, struct store_device *out);
	int (*device_seen)(struct store_impl *s, int64_t id, int arch, int64_t when);
	int (*device_delete)(struct store_impl *s, const char *name);
	int (*device_list)(struct store_impl *s, int (*cb)(void *ctx, const struct store_device *d), void *ctx);
	int (*image_add)(struct store_impl *s, struct store_image *im);
	int (*image_by_name)(struct store_impl *s, const char *name, struct store_image *out);
	int (*image_by_id)(struct store_impl *s, int64_t id, struct store_image *out);
	int (*image_list)(struct store_impl *s, int (*cb)(void *ctx, const struct store_image *im), void *ctx);
	int (*image_delete)(struct store_impl *s, const char *name);
	int (*deployment_add)(struct store_impl *s, struct store_deployment *dep);
	int (*deployment_by_name)(struct store_impl *s, const char *name, struct store_deployment *out);
	int (*deployment_set_enabled)(struct store_impl *s, const char *name, bool enabled);
	int (*deployment_delete)(struct store_impl *s, const char *name);
	int (*deployment_list)(struct store_impl *s, int (*cb)(void *ctx, const struct store_deployment *d), void *ctx);
	int (*deployments_for_device)(struct store_impl *s, int64_t device_id, int (*cb)(void *ctx, const struct store_deployment *d), void *ctx);
	int (*deployments_applicable)(struct store_impl *s, int64_t device_id, int arch_class, int (*cb)(void *ctx, const struct store_deployment *d), void *ctx);
	int (*deployment_set_window)(struct store_impl *s, const char *name, int64_t available_from, int64_t expires);
	int (*collection_add)(struct store_impl *s, struct store_collection *c);
	int (*collection_by_name)(struct store_impl *s, const char *name, struct store_collection *out);
	int (*collection_list)(struct store_impl *s, int (*cb)(void *ctx, const struct store_collection *c), void *ctx);
	int (*collection_delete)(struct store_impl *s, const char *name);
	int (*collection_add_device)(struct store_impl *s, const char *collection, const char *device);
	int (*collection_remove_device)(struct store_impl *s, const char *collection, const char *device);
	int (*collection_members)(struct store_impl *s, const char *collection, int (*cb)(void *ctx, const struct store_device *d), void *ctx);
	int (*device_collections)(struct store_impl *s, int64_t device_id, int (*cb)(void *ctx, const struct store_collection *c), void *ctx);
	int (*device_add_discovered)(struct store_impl *s, struct store_device *d, int64_t deployment_id, int64_t when);
	int (*handout_record)(struct store_impl *s, int64_t device_id, int64_t deployment_id, int64_t when);
	int (*handout_get)(struct store_impl *s, int64_t device_id, int64_t deployment_id, int64_t *when);
	int (*handout_list)(struct store_impl *s,
			    int (*cb)(void *ctx, const struct store_handout *h), void *ctx);
	int (*handout_clear_device)(struct store_impl *s, int64_t device_id);
	int (*handout_clear_collection)(struct store_impl *s, const char *collection);
	int (*event_add)(struct store_impl *s, struct store_event *ev);
	int (*event_prune)(struct store_impl *s, int64_t before_ms);
	int (*event_add_many)(struct store_impl *s, struct store_event *evs, size_t n);
	int (*event_find)(struct store_impl *s, const struct store_event_filter *f, int (*cb)(void *ctx, const struct store_event *ev), void *ctx);
	int (*report_create)(struct store_impl *s, struct store_report *r);
	int (*report_by_token)(struct store_impl *s, const char *token, struct store_report *out);
	int (*report_update)(struct store_impl *s, int64_t id, enum store_report_state state, const char *message, int64_t when_ms);
	int (*report_counts)(struct store_impl *s, int64_t deployment_id, struct store_report_counts *out);
	int (*report_list)(struct store_impl *s, int64_t deployment_id, int (*cb)(void *ctx, const struct store_report *r), void *ctx);
	int (*bulk_begin)(struct store_impl *s);
	int (*bulk_end)(struct store_impl *s, bool commit);
	int (*device_by_mac_guid)(struct store_impl *s, const uint8_t mac[MAC_LEN],
				  const uint8_t *guid, struct store_device *by_mac, int *rm,
				  struct store_device *by_guid, int *rg);
	int (*device_seen_many)(struct store_impl *s, const struct store_seen *v, size_t n);
	int (*writable)(struct store_impl *s, char *why, size_t len);
	uint64_t (*rows_read)(struct store_impl *s);
	int (*handout_forget)(struct store_impl *s, int64_t device_id, int64_t deployment_id);
	int (*event_cap)(struct store_impl *s, unsigned max_rows);
	int (*read_begin)(struct store_impl *s);
	void (*read_end)(struct store_impl *s);
	/* The variables: level, key and value are valid (store.c). */
	int (*var_set)(struct store_impl *s, enum store_var_level level, const char *owner,
		       const char *key, const char *value);
	int (*var_unset)(struct store_impl *s, enum store_var_level level, const char *owner,
			 const char *key);
	int (*var_list)(struct store_impl *s, enum store_var_level level, const char *owner,
			int (*cb)(void *ctx, const struct store_var *v), void *ctx);
	int (*vars_applicable)(struct store_impl *s, int64_t device_id, int64_t deployment_id,
			       int64_t image_id, int (*cb)(void *ctx, const struct store_var *v),
			       void *ctx);
	int (*device_search)(struct store_impl *s, const struct store_device_query *q,
			     unsigned *total, int (*cb)(void *ctx, const struct store_device *d),
			     void *ctx);
	int (*event_count)(struct store_impl *s, int64_t since_ms, struct store_event_counts *out);
	int (*row_counts)(struct store_impl *s, struct store_row_counts *out);
	int (*event_recent_device)(struct store_impl *s, int64_t device_id, unsigned limit,
				   int (*cb)(void *ctx, const struct store_event *ev), void *ctx);
	/* NULL: store.c makes it of device_by_mac_guid and
	 * deployments_applicable. */
	int (*decide_read)(struct store_impl *s, const struct store_decide_query *q);
	/* NULL: store.c loops decide_read in one read transaction. */
	int (*decide_read_batch)(struct store_impl *s, const struct store_decide_query q[],
				 int r[], size_t n);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Store tests against a real SQLite file in a temporary directory. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/vocab.h"
#include "store/store.h"
#include "tmpdb.h"

struct fx {
	struct tmpdb t;
	struct store *s;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx || tmpdb_make(&fx->t) < 0)
		return -1;
	if (store_open(fx->t.url, &fx->s) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	store_close(fx->s);
	tmpdb_remove(&fx->t);
	free(fx);
	return 0;
}

static void mk_device(struct store_device *d, const char *name, uint8_t last_mac_byte,
		      const char *guid)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, last_mac_byte };
	memcpy(d->mac, mac, MAC_LEN);
	if (guid) {
		d->has_guid = true;
		assert_int_equal(guid_parse(guid, d->guid), 0);
	}
	d->arch = -1;
}

static int64_t add_device(struct store *s, const char *name, uint8_t b, const char *guid)
{
	struct store_device d;
	mk_device(&d, name, b, guid);
	assert_int_equal(store_device_add(s, &d), 0);
	assert_true(d.id > 0);
	return d.id;
}

static int64_t add_image(struct store *s, const char *name)
{
	struct store_image im = { 0 };
	snprintf(im.name, sizeof(im.name), "%s", name);
	snprintf(im.kernel, sizeof(im.kernel), "%s/vmlinuz", name);
	snprintf(im.initrd, sizeof(im.initrd), "%s/initrd.gz", name);
	snprintf(im.cmdline, sizeof(im.cmdline), "auto=true");
	assert_int_equal(store_image_add(s, &im), 0);
	return im.id;
}

static int64_t add_dep(struct store *s, const char *name, const char *image, const char *device,
		       enum store_purpose p, bool enabled, int64_t created)
{
	struct store_deployment dep = { 0 };
	snprintf(dep.name, sizeof(dep.name), "%s", name);
	snprintf(dep.image_name, sizeof(dep.image_name), "%s", image);
	snprintf(dep.device_name, sizeof(dep.device_name), "%s", device);
	dep.purpose = p;
	dep.enabled = enabled;
	dep.created = created;
	assert_int_equal(store_deployment_add(s, &dep), 0);
	assert_true(dep.id > 0 && dep.image_id > 0 && dep.device_id > 0);
	return dep.id;
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* ---- open and migrations ---------------------------------------------- */

static void test_open_bad_url(void **state)
{
	struct store *s = (void *)1;
	assert_int_equal(store_open("mysql://x", &s), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(store_open_error(), "sqlite:PATH or postgresql://"));
	assert_int_equal(store_open("postgresql:x", &s), -EINVAL);
	assert_int_equal(store_open("sqlite:", &s), -EINVAL);
	assert_int_equal(store_open(NULL, &s), -EINVAL);
}

static void test_open_missing_dir(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct store *s;
	assert_int_equal(store_open("sqlite:/nonexistent-pxed-dir/x/pxed.db", &s), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(store_open_error(), "/nonexistent-pxed-dir/x does not exist"));
}

static void test_migrate_empty_file_and_reopen(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct tmpdb t;
	struct store *s;
	FILE *f;
	assert_int_equal(tmpdb_make(&t), 0);
	/* An existing empty file, as `touch` leaves it. */
	f = fopen(t.path, "w");
	assert_non_null(f);
	fclose(f);

	assert_int_equal(store_open(t.url, &s), 0);
	assert_int_equal(store_generation(s), 0);
	add_device(s, "vm1", 1, NULL);
	uint64_t g = store_generation(s);
	assert_true(g > 0);
	store_close(s);
	assert_int_equal(user_version(t.path), 5);

	/* Re-opening applies nothing twice and keeps data and generation. */
	for (int i = 0; i < 2; i++) {
		struct store_device d;
		assert_int_equal(store_open(t.url, &s), 0);
		assert_int_equal(store_generation(s), g);
		assert_int_equal(store_device_by_name(s, "vm1", &d), 0);
		store_close(s);
		assert_int_equal(user_version(t.path), 5);
	}
	tmpdb_remove(&t);
}

static void test_open_wal_and_fk(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct fx *fx = *state;
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(fx->t.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_open_newer_schema(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct tmpdb t;
	struct store *s;
	assert_int_equal(tmpdb_make(&t), 0);
	raw_exec(t.path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(t.url, &s), -EINVAL);
	assert_non_null(strstr(store_open_error(), "schema version 99 is newer"));
	tmpdb_remove(&t);
}

static void test_open_not_a_database(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct tmpdb t;
	struct store *s;
	FILE *f;
	assert_int_equal(tmpdb_make(&t), 0);
	f = fopen(t.path, "w");
	fputs("this is not an SQLite database, but long enough to have a header......\n", f);
	fclose(f);
	assert_int_equal(store_open(t.url, &s), -EIO);
	assert_non_null(strstr(store_open_error(), t.path));
	tmpdb_remove(&t);
}

/* ---- devices ------------------------------------------------------------ */

static int collect_names(void *ctx, const struct store_device *d)
{
	char *buf = ctx;
	strcat(buf, d->name);
	strcat(buf, ",");
	return 0;
}

static void test_device_crud(void **state)
{
	struct fx *fx = *state;
	struct store_device d, got;
	const char *guid = "8A3C0F2E-1B2C-4D5E-8F90-0123456789AB";
	mk_device(&d, "vm1", 1, guid);
	assert_int_equal(store_device_add(fx->s, &d), 0);
	assert_true(d.created > 0);
	add_device(fx->s, "alpha", 2, NULL);

	assert_int_equal(store_device_by_name(fx->s, "vm1", &got), 0);
	assert_int_equal(got.id, d.id);
	assert_memory_equal(got.mac, d.mac, MAC_LEN);
	assert_true(got.has_guid);
	assert_memory_equal(got.guid, d.guid, GUID_LEN);
	assert_int_equal(got.arch, -1);
	assert_int_equal(got.last_seen, 0);

	memset(&got, 0, sizeof(got));
	assert_int_equal(store_device_by_mac(fx->s, d.mac, &got), 0);
	assert_string_equal(got.name, "vm1");
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_device_by_guid(fx->s, d.guid, &got), 0);
	assert_string_equal(got.name, "vm1");
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_device_by_id(fx->s, d.id, &got), 0);
	assert_string_equal(got.name, "vm1");
	assert_int_equal(store_device_by_name(fx->s, "alpha", &got), 0);
	assert_false(got.has_guid);

	/* MAC stored in lower-case colon form. */
	if (!tmpdb_is_pg()) {
		sqlite3 *db;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_open(fx->t.path, &db), SQLITE_OK);
		sqlite3_prepare_v2(db, "SELECT mac, guid FROM devices WHERE name = 'vm1'", -1, &st,
				   NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "52:54:00:12:34:01");
		assert_string_equal((const char *)sqlite3_column_text(st, 1),
				    "8a3c0f2e-1b2c-4d5e-8f90-0123456789ab");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}

	/* seen: arch and time; arch -1 keeps the stored one. */
	assert_int_equal(store_device_seen(fx->s, d.id, 7, 1000), 0);
	assert_int_equal(store_device_by_id(fx->s, d.id, &got), 0);
	assert_int_equal(got.arch, 7);
	assert_int_equal(got.last_seen, 1000);
	assert_int_equal(store_device_seen(fx->s, d.id, -1, 2000), 0);
	assert_int_equal(store_device_by_id(fx->s, d.id, &got), 0);
	assert_int_equal(got.arch, 7);
	assert_int_equal(got.last_seen, 2000);
	assert_int_equal(store_device_seen(fx->s, 9999, 7, 1), -ENOENT);

	char names[64] = "";
	assert_int_equal(store_device_list(fx->s, collect_names, names), 2);
	assert_string_equal(names, "alpha,vm1,");

	/* Edit: new name, new NIC, GUID dropped; the old MAC is free again. */
	uint64_t g = store_generation(fx->s);
	struct store_device ed = got;
	snprintf(ed.name, sizeof(ed.name), "vm1-renamed");
	ed.mac[5] = 0x77;
	ed.has_guid = false;
	assert_int_equal(store_device_update(fx->s, &ed), 0);
	assert_int_equal(store_generation(fx->s), g + 1);
	assert_int_equal(store_device_by_mac(fx->s, ed.mac, &got), 0);
	assert_string_equal(got.name, "vm1-renamed");
	assert_false(got.has_guid);
	assert_int_equal(got.arch, 7);
	assert_int_equal(store_device_by_mac(fx->s, d.mac, &got), -ENOENT);
	snprintf(ed.name, sizeof(ed.name), "alpha");
	assert_int_equal(store_device_update(fx->s, &ed), -EEXIST);
	assert_string_equal(store_last_error(fx->s), "a device named 'alpha' already exists");
	ed.id = 9999;
	snprintf(ed.name, sizeof(ed.name), "ghost");
	assert_int_equal(store_device_update(fx->s, &ed), -ENOENT);
	assert_int_equal(store_generation(fx->s), g + 1);

	assert_int_equal(store_device_delete(fx->s, "alpha"), 0);
	assert_int_equal(store_device_by_name(fx->s, "alpha", &got), -ENOENT);
	assert_int_equal(store_device_delete(fx->s, "alpha"), -ENOENT);
}

static void test_device_duplicates(void **state)
{
	struct fx *fx = *state;
	struct store_device d;
	const char *guid = "8a3c0f2e-1b2c-4d5e-8f90-0123456789ab";
	add_device(fx->s, "vm1", 1, guid);
	uint64_t g = store_generation(fx->s);

	mk_device(&d, "vm1", 2, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EEXIST);
	assert_string_equal(store_last_error(fx->s), "a device named 'vm1' already exists");

	mk_device(&d, "vm2", 1, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EEXIST);
	assert_string_equal(store_last_error(fx->s),
			    "a device with MAC 52:54:00:12:34:01 already exists");

	mk_device(&d, "vm2", 2, guid);
	assert_int_equal(store_device_add(fx->s, &d), -EEXIST);
	assert_string_equal(store_last_error(fx->s), "a device with GUID " "8a3c0f2e-1b2c-4d5e-8f90-0123456789ab already exists");

	/* Failed changes leave the generation alone. */
	assert_int_equal(store_generation(fx->s), g);
	/* And the transaction was rolled back: a good add still works. */
	mk_device(&d, "vm2", 2, NULL);
	assert_int_equal(store_device_add(fx->s, &d), 0);
}

static void test_device_unknown_and_invalid(void **state)
{
	struct fx *fx = *state;
	struct store_device d, got;
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, 9 }, guid[GUID_LEN] = { 1 };

	assert_int_equal(store_device_by_name(fx->s, "nope", &got), -ENOENT);
	assert_string_equal(store_last_error(fx->s), "no device with name 'nope'");
	assert_int_equal(store_device_by_mac(fx->s, mac, &got), -ENOENT);
	assert_string_equal(store_last_error(fx->s), "no device with MAC 52:54:00:00:00:09");
	assert_int_equal(store_device_by_guid(fx->s, guid, &got), -ENOENT);
	assert_int_equal(store_device_by_id(fx->s, 42, &got), -ENOENT);

	mk_device(&d, "", 1, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	assert_string_equal(store_last_error(fx->s), "device name is empty");
	mk_device(&d, "has space", 1, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	assert_string_equal(store_last_error(fx->s), "device name may hold letters, digits and "
			    "punctuation other than quotes, slashes and spaces");
	mk_device(&d, "quote'", 1, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	mk_device(&d, "vm1", 1, NULL);
	memset(d.mac, 0, MAC_LEN);
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	d.mac[0] = 1; /* multicast */
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	mk_device(&d, "vm1", 1, "00000000-0000-0000-0000-000000000000");
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	assert_non_null(strstr(store_last_error(fx->s), "placeholder"));
	mk_device(&d, "vm1", 1, "ffffffff-ffff-ffff-ffff-ffffffffffff");
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	assert_int_equal(store_generation(fx->s), 0);
}

/* ---- images ------------------------------------------------------------- */

static int count_images(void *ctx, const struct store_image *im)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_image_crud(void **state)
{
	struct fx *fx = *state;
	struct store_image im = { 0 }, got;
	int64_t id = add_image(fx->s, "debian");

	assert_int_equal(store_image_by_name(fx->s, "debian", &got), 0);
	assert_int_equal(got.id, id);
	assert_string_equal(got.kernel, "debian/vmlinuz");
	assert_string_equal(got.initrd, "debian/initrd.gz");
	assert_string_equal(got.cmdline, "auto=true");
	assert_string_equal(got.nbp, "");
	assert_int_equal(store_image_by_id(fx->s, id, &got), 0);
	assert_string_equal(got.name, "debian");
	assert_int_equal(store_image_by_name(fx->s, "nope", &got), -ENOENT);
	assert_int_equal(store_image_by_id(fx->s, 999, &got), -ENOENT);

	snprintf(im.name, sizeof(im.name), "memtest");
	snprintf(im.nbp, sizeof(im.nbp), "memtest.efi");
	assert_int_equal(store_image_add(fx->s, &im), 0);

	snprintf(im.name, sizeof(im.name), "debian");
	assert_int_equal(store_image_add(fx->s, &im), -EEXIST);
	assert_string_equal(store_last_error(fx->s), "an image named 'debian' already exists");

	memset(&im, 0, sizeof(im));
	snprintf(im.name, sizeof(im.name), "empty");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	snprintf(im.kernel, sizeof(im.kernel), "k");
	snprintf(im.nbp, sizeof(im.nbp), "n");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	im.nbp[0] = '\0';
	snprintf(im.kernel, sizeof(im.kernel), "../etc/passwd");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	snprintf(im.kernel, sizeof(im.kernel), "/boot/vmlinuz");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	snprintf(im.kernel, sizeof(im.kernel), "k");
	snprintf(im.cmdline, sizeof(im.cmdline), "a\nb");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);

	int n = 0;
	assert_int_equal(store_image_list(fx->s, count_images, &n), 2);
	assert_int_equal(n, 2);

	assert_int_equal(store_image_delete(fx->s, "memtest"), 0);
	assert_int_equal(store_image_delete(fx->s, "memtest"), -ENOENT);
}

/* ---- deployments --------------------------------------------------------- */

struct dep_names {
	char buf[256];
	int stop_after; /* 0 = never */
	int seen;
};

static int collect_deps(void *ctx, const struct store_deployment *d)
{
	struct dep_names *n = ctx;
	strcat(n->buf, d->name);
	strcat(n->buf, ",");
	n->seen++;
	return n->stop_after && n->seen >= n->stop_after;
}

static void test_deployment_order(void **state)
{
	struct fx *fx = *state;
	add_device(fx->s, "vm1", 1, NULL);
	add_device(fx->s, "vm2", 2, NULL);
	add_image(fx->s, "debian");

	add_dep(fx->s, "avail-old", "debian", "vm1", STORE_AVAILABLE, true, 100);
	add_dep(fx->s, "req-old", "debian", "vm1", STORE_REQUIRED, true, 100);
	add_dep(fx->s, "avail-new", "debian", "vm1", STORE_AVAILABLE, true, 200);
	add_dep(fx->s, "req-new", "debian", "vm1", STORE_REQUIRED, true, 200);
	add_dep(fx->s, "req-same-second", "debian", "vm1", STORE_REQUIRED, true, 200);
	add_dep(fx->s, "req-disabled", "debian", "vm1", STORE_REQUIRED, false, 300);
	add_dep(fx->s, "other-device", "debian", "vm2", STORE_REQUIRED, true, 300);

	struct store_device d;
	assert_int_equal(store_device_by_name(fx->s, "vm1", &d), 0);
	struct dep_names n = { 0 };
	assert_int_equal(store_deployments_for_device(fx->s, d.id, collect_deps, &n), 5);
	assert_string_equal(n.buf, "req-same-second,req-new,req-old,avail-new,avail-old,");

	/* A callback returning non-zero stops the walk. */
	struct dep_names first = { .stop_after = 1 };
	assert_true(store_deployments_for_device(fx->s, d.id, collect_deps, &first) >= 0);
	assert_string_equal(first.buf, "req-same-second,");

	/* Disabling takes a deployment out of the decision order. */
	assert_int_equal(store_deployment_set_enabled(fx->s, "req-same-second", false), 0);
	assert_int_equal(store_deployment_set_enabled(fx->s, "req-disabled", true), 0);
	memset(&n, 0, sizeof(n));
	assert_int_equal(store_deployments_for_device(fx->s, d.id, collect_deps, &n), 5);
	assert_string_equal(n.buf, "req-disabled,req-new,req-old,avail-new,avail-old,");
	assert_int_equal(store_deployment_set_enabled(fx->s, "nope", true), -ENOENT);

	memset(&n, 0, sizeof(n));
	assert_int_equal(store_deployment_list(fx->s, collect_deps, &n), 7);
	assert_string_equal(n.buf, "avail-new,avail-old,other-device,req-disabled,req-new,req-old,"
				   "req-same-second,");

	struct store_deployment dep;
	assert_int_equal(store_deployment_by_name(fx->s, "req-old", &dep), 0);
	assert_string_equal(dep.image_name, "debian");
	assert_string_equal(dep.device_name, "vm1");
	assert_int_equal(dep.device_id, d.id);
	assert_int_equal(dep.purpose, STORE_REQUIRED);
	assert_true(dep.enabled);
	assert_int_equal(dep.created, 100);
	assert_int_equal(store_deployment_by_name(fx->s, "nope", &dep), -ENOENT);
}

static void test_deployment_errors(void **state)
{
	struct fx *fx = *state;
	struct store_deployment dep = { 0 };
	int64_t dev = add_device(fx->s, "vm1", 1, NULL);
	int64_t img = add_image(fx->s, "debian");
	add_dep(fx->s, "D1", "debian", "vm1", STORE_REQUIRED, true, 0);

	snprintf(dep.name, sizeof(dep.name), "D1");
	dep.image_id = img;
	dep.device_id = dev;
	dep.purpose = STORE_REQUIRED;
	assert_int_equal(store_deployment_add(fx->s, &dep), -EEXIST);
	assert_string_equal(store_last_error(fx->s), "a deployment named 'D1' already exists");

	snprintf(dep.name, sizeof(dep.name), "D2");
	dep.image_id = 0;
	snprintf(dep.image_name, sizeof(dep.image_name), "nope");
	assert_int_equal(store_deployment_add(fx->s, &dep), -ENOENT);
	assert_string_equal(store_last_error(fx->s), "no image named 'nope'");
	dep.image_id = img;
	dep.device_id = 999;
	assert_int_equal(store_deployment_add(fx->s, &dep), -ENOENT);
	assert_string_equal(store_last_error(fx->s), "no device with id 999");
	dep.device_id = 0;
	dep.device_name[0] = '\0';
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);
	dep.device_id = dev;
	dep.purpose = 7;
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);

	/* Images and devices in use cannot go; the deployment can. */
	assert_int_equal(store_image_delete(fx->s, "debian"), -EBUSY);
	assert_string_equal(store_last_error(fx->s),
			    "image 'debian' is used by deployment 'D1'; delete that first");
	assert_int_equal(store_device_delete(fx->s, "vm1"), -EBUSY);
	assert_int_equal(store_handout_record(fx->s, dev, 1, 5), 1);
	assert_int_equal(store_deployment_delete(fx->s, "D1"), 0);
	assert_int_equal(store_deployment_delete(fx->s, "D1"), -ENOENT);
	/* The hand-out went with it (ON DELETE CASCADE). */
	assert_int_equal(store_handout_done(fx->s, dev, 1), 0);
	assert_int_equal(store_image_delete(fx->s, "debian"), 0);
	assert_int_equal(store_device_delete(fx->s, "vm1"), 0);
}

/* ---- PXE history ---------------------------------------------------------- */

static void test_handout(void **state)
{
	struct fx *fx = *state;
	int64_t dev = add_device(fx->s, "vm1", 1, NULL);
	int64_t dev2 = add_device(fx->s, "vm2", 2, NULL);
	add_image(fx->s, "debian");
	int64_t d1 = add_dep(fx->s, "D1", "debian", "vm1", STORE_REQUIRED, true, 0);
	int64_t d2 = add_dep(fx->s, "D2", "debian", "vm1", STORE_REQUIRED, true, 0);
	int64_t when = -1;

	assert_int_equal(store_handout_done(fx->s, dev, d1), 0);
	assert_int_equal(store_handout_get(fx->s, dev, d1, &when), 0);
	assert_int_equal(when, 0);
	assert_int_equal(store_handout_record(fx->s, dev, d1, 1700000000), 1);
	assert_int_equal(store_handout_done(fx->s, dev, d1), 1);
	assert_int_equal(store_handout_get(fx->s, dev, d1, &when), 1);
	assert_int_equal(when, 1700000000);
	assert_int_equal(store_handout_done(fx->s, dev, d2), 0);
	assert_int_equal(store_handout_done(fx->s, dev2, d1), 0);

	/* Recording again is a lost claim: 0, and the first time stays. */
	assert_int_equal(store_handout_record(fx->s, dev, d1, 1700000100), 0);
	assert_int_equal(store_handout_get(fx->s, dev, d1, &when), 1);
	assert_int_equal(when, 1700000000);
	assert_int_equal(store_handout_record(fx->s, dev, d2, 1700000200), 1);

	assert_int_equal(store_handout_record(fx->s, 999, d1, 1), -ENOENT);
	assert_int_equal(store_handout_record(fx->s, dev, 999, 1), -ENOENT);

	assert_int_equal(store_handout_clear_device(fx->s, dev2), 0);
	assert_int_equal(store_handout_clear_device(fx->s, dev), 2);
	assert_int_equal(store_handout_done(fx->s, dev, d1), 0);
	assert_int_equal(store_handout_done(fx->s, dev, d2), 0);
}

/* ---- events ----------------------------------------------------------------- */

struct ev_seen {
	int n;
	int64_t ids[16];
	struct store_event last;
};

static int collect_events(void *ctx, const struct store_event *ev)
{
	struct ev_seen *s = ctx;
	if (s->n < 16)
		s->ids[s->n] = ev->device_id * 1000 + ev->time_ms;
	s->n++;
	s->last = *ev;
	return 0;
}

static void add_event(struct store *s, int64_t device_id, int64_t time_ms)
{
	struct store_event ev = { 0 };
	ev.time_ms = time_ms;
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, (uint8_t)device_id };
	memcpy(ev.mac, mac, MAC_LEN);
	ev.arch = 7;
	snprintf(ev.ifname, sizeof(ev.ifname), "br0");
	snprintf(ev.via, sizeof(ev.via), "dhcp");
	snprintf(ev.outcome, sizeof(ev.outcome), "local");
	snprintf(ev.reason, sizeof(ev.reason), "reason %lld", (long long)time_ms);
	ev.device_id = device_id;
	assert_int_equal(store_event_add(s, &ev), 0);
	assert_true(ev.id > 0);
}

static void test_events(void **state)
{
	struct fx *fx = *state;
	struct ev_seen seen = { 0 };
	uint64_t g = store_generation(fx->s);

	add_event(fx->s, 1, 10);
	add_event(fx->s, 2, 20);
	add_event(fx->s, 1, 30);
	add_event(fx->s, 0, 40);
	/* Events are no change to decisions. */
	assert_int_equal(store_generation(fx->s), g);

	assert_int_equal(store_event_list(fx->s, 0, 0, 0, collect_events, &seen), 4);
	assert_int_equal(seen.ids[0], 1010);
	assert_int_equal(seen.ids[3], 40);
	assert_string_equal(seen.last.reason, "reason 40");
	assert_string_equal(seen.last.ifname, "br0");
	assert_string_equal(seen.last.via, "dhcp");
	assert_string_equal(seen.last.outcome, "local");
	assert_int_equal(seen.last.arch, 7);
	assert_false(seen.last.has_guid);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_event_list(fx->s, 1, 0, 0, collect_events, &seen), 2);
	assert_int_equal(seen.ids[0], 1010);
	assert_int_equal(seen.ids[1], 1030);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_event_list(fx->s, 0, 25, 0, collect_events, &seen), 2);
	assert_int_equal(seen.ids[0], 1030);

	/* The newest two, oldest first. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_event_list(fx->s, 0, 0, 2, collect_events, &seen), 2);
	assert_int_equal(seen.ids[0], 1030);
	assert_int_equal(seen.ids[1], 40);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_event_list(fx->s, 2, 25, 0, collect_events, &seen), 0);
	assert_int_equal(seen.n, 0);

	assert_int_equal(store_event_prune(fx->s, 30), 2);
	assert_int_equal(store_event_prune(fx->s, 30), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, collect_events, &seen), 2);
	assert_int_equal(seen.ids[0], 1030);
	assert_int_equal(store_generation(fx->s), g);
}

/* ---- generation ------------------------------------------------------------- */

/* The generation of s once it reaches want (at most 2 s): at once over
 * SQLite; over PostgreSQL another handle learns of a commit through
 * NOTIFY, a moment later. */
static uint64_t gen_wait(struct store *s, uint64_t want)
{
	uint64_t g = store_generation(s);
	for (int i = 0; i < 2000 && g != want; i++) {
		usleep(1000);
		g = store_generation(s);
	}
	return g;
}

static void test_generation(void **state)
{
	struct fx *fx = *state;
	struct store *other;
	uint64_t g = store_generation(fx->s);
	assert_int_equal(g, 0);

	/* A second connection, as another pxed process would have. */
	assert_int_equal(store_open(fx->t.url, &other), 0);
	assert_int_equal(store_generation(other), 0);

#define BUMPS(expr)                                                                    \
	do {                                                                           \
		assert_true((expr) >= 0);                                              \
		assert_int_equal(store_generation(fx->s), g + 1);                      \
		assert_int_equal(gen_wait(other, g + 1), g + 1);                       \
		g++;                                                                   \
	} while (0)
#define KEEPS(expr)                                                                    \
	do {                                                                           \
		(void)(expr);                                                          \
		if (tmpdb_is_pg())                                                     \
			usleep(50000); /* a NOTIFY, if one came, has arrived */        \
		assert_int_equal(store_generation(fx->s), g);                          \
		assert_int_equal(store_generation(other), g);                          \
	} while (0)

	struct store_device d;
	mk_device(&d, "vm1", 1, NULL);
	BUMPS(store_device_add(fx->s, &d));
	struct store_image im = { .name = "debian", .kernel = "k" };
	BUMPS(store_image_add(fx->s, &im));
	struct store_deployment dep = { .name = "D1", .image_id = im.id, .device_id = d.id,
					.purpose = STORE_REQUIRED, .enabled = true };
	BUMPS(store_deployment_add(fx->s, &dep));
	BUMPS(store_handout_record(fx->s, d.id, dep.id, 5));
	BUMPS(store_handout_clear_device(fx->s, d.id));
	BUMPS(store_deployment_set_enabled(fx->s, "D1", false));
	KEEPS(store_device_seen(fx->s, d.id, 7, 10));
	KEEPS(add_event(fx->s, d.id, 10));
	KEEPS(store_device_add(fx->s, &d)); /* duplicate: fails */
	KEEPS(store_image_delete(fx->s, "debian")); /* in use: fails */
	/* Changes through the other connection count the same. */
	g = store_generation(other);
	assert_true(store_deployment_delete(other, "D1") >= 0);
	assert_int_equal(store_generation(other), g + 1);
	assert_int_equal(gen_wait(fx->s, g + 1), g + 1);
	g++;
	BUMPS(store_image_delete(fx->s, "debian"));
	BUMPS(store_device_delete(fx->s, "vm1"));
#undef BUMPS
#undef KEEPS
	store_close(other);
}

/* A list callback may call into the store (rows are read before it runs). */
static int reenter(void *ctx, const struct store_device *d)
{
	struct store *s = ctx;
	struct store_device again;
	assert_int_equal(store_device_by_name(s, d->name, &again), 0);
	assert_int_equal(again.id, d->id);
	return 0;
}

static void test_list_reentrant(void **state)
{
	struct fx *fx = *state;
	add_device(fx->s, "a", 1, NULL);
	add_device(fx->s, "b", 2, NULL);
	assert_int_equal(store_device_list(fx->s, reenter, fx->s), 2);
}

/* Several threads on one handle and a second handle (another process's
 * connection) writing at once: every write lands, none sees "busy". */
struct writer {
	struct store *s;
	int id;
	int failures;
};

static void *writer_run(void *p)
{
	struct writer *w = p;
	for (int i = 0; i < 50; i++) {
		struct store_device d;
		char name[32];
		snprintf(name, sizeof(name), "w%d-%d", w->id, i);
		mk_device(&d, name, 0, NULL);
		d.mac[3] = (uint8_t)w->id;
		d.mac[4] = (uint8_t)i;
		if (store_device_add(w->s, &d) < 0)
			w->failures++;
		struct store_event ev = { .time_ms = i, .arch = -1, .via = "dhcp",
					  .outcome = "local", .reason = "r" };
		if (store_event_add(w->s, &ev) < 0)
			w->failures++;
		(void)store_generation(w->s);
	}
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	struct fx *fx = *state;
	struct store *other;
	pthread_t th[4];
	struct writer w[4];
	assert_int_equal(store_open(fx->t.url, &other), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ .s = i % 2 ? other : fx->s, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(gen_wait(fx->s, 200), 200);
	assert_int_equal(gen_wait(other, 200), 200);
	store_close(other);
}

/* ---- schema v2 ------------------------------------------------------------- */

/* A file written by pxed with schema v1 (the v1 migration, verbatim in
 * shape) migrates to v2 keeping its rows. */
static void test_migrate_v1_file(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct tmpdb t;
	struct store *s;
	struct store_deployment dep;
	struct store_device dev;
	assert_int_equal(tmpdb_make(&t), 0);
	raw_exec(t.path,
		 "PRAGMA journal_mode = WAL;"
		 "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
		 "INSERT INTO meta (key, value) VALUES ('generation', 7);"
		 "CREATE TABLE devices (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
		 " mac TEXT NOT NULL UNIQUE, guid TEXT UNIQUE, arch INTEGER NOT NULL DEFAULT -1,"
		 " last_seen INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
		 "CREATE TABLE images (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
		 " kernel TEXT NOT NULL DEFAULT '', initrd TEXT NOT NULL DEFAULT '',"
		 " cmdline TEXT NOT NULL DEFAULT '', nbp TEXT NOT NULL DEFAULT '',"
		 " created INTEGER NOT NULL);"
		 "CREATE TABLE deployments (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
		 " image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE RESTRICT,"
		 " device_id INTEGER REFERENCES devices(id) ON DELETE RESTRICT,"
		 " purpose INTEGER NOT NULL CHECK (purpose IN (0, 1)),"
		 " enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
		 " created INTEGER NOT NULL);"
		 "CREATE INDEX deployments_device ON deployments (device_id);"
		 "CREATE INDEX deployments_image ON deployments (image_id);"
		 "CREATE TABLE pxe_history (device_id INTEGER NOT NULL REFERENCES devices(id)"
		 " ON DELETE CASCADE, deployment_id INTEGER NOT NULL REFERENCES deployments(id)"
		 " ON DELETE CASCADE, handed_out_at INTEGER NOT NULL,"
		 " PRIMARY KEY (device_id, deployment_id));"
		 "CREATE INDEX pxe_history_deployment ON pxe_history (deployment_id);"
		 "CREATE TABLE events (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
		 " mac TEXT NOT NULL, guid TEXT, arch INTEGER NOT NULL DEFAULT -1,"
		 " ifname TEXT NOT NULL DEFAULT '', via TEXT NOT NULL, outcome TEXT NOT NULL,"
		 " reason TEXT NOT NULL, device_id INTEGER NOT NULL DEFAULT 0,"
		 " deployment_id INTEGER NOT NULL DEFAULT 0,"
		 " deployment_name TEXT NOT NULL DEFAULT '');"
		 "CREATE INDEX events_device ON events (device_id, id);"
		 "CREATE INDEX events_time ON events (time_ms);"
		 "INSERT INTO devices (name, mac, created) VALUES ('vm1', '52:54:00:12:34:01', 1);"
		 "INSERT INTO images (name, kernel, created) VALUES ('debian', 'k', 1);"
		 "INSERT INTO deployments (name, image_id, device_id, purpose, created)"
		 " VALUES ('D1', 1, 1, 1, 5);"
		 "INSERT INTO pxe_history VALUES (1, 1, 42);"
		 "PRAGMA user_version = 1;");
	assert_int_equal(store_open(t.url, &s), 0);
	assert_int_equal(user_version(t.path), 5);
	assert_int_equal(store_generation(s), 7);
	assert_int_equal(store_deployment_by_name(s, "D1", &dep), 0);
	assert_int_equal(dep.target, STORE_TARGET_DEVICE);
	assert_string_equal(dep.device_name, "vm1");
	assert_int_equal(dep.collection_id, 0);
	assert_string_equal(dep.collection_name, "");
	assert_int_equal(dep.unknown_arch, -1);
	assert_int_equal(dep.available_from, 0);
	assert_int_equal(dep.expires, 0);
	assert_int_equal(store_device_by_name(s, "vm1", &dev), 0);
	assert_false(dev.discovered);
	assert_int_equal(store_handout_done(s, dev.id, dep.id), 1);
	/* And v2 works on it. */
	struct store_collection c = { .name = "lab" };
	assert_int_equal(store_collection_add(s, &c), 0);
	assert_int_equal(store_collection_add_device(s, "lab", "vm1"), 1);
	assert_int_equal(store_handout_clear_collection(s, "lab"), 1);
	store_close(s);
	tmpdb_remove(&t);
}

/* ---- schema v3: installer reports ---------------------------------------- */

static struct store_report mk_report(const char *token, int64_t dev_id, const char *dev,
				     uint8_t macb, int64_t dep_id, const char *dep, int64_t t)
{
	struct store_report r = { .device_id = dev_id, .deployment_id = dep_id,
				  .handed_out_ms = t };
	const uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0x12, 0x34, macb };
	snprintf(r.token, sizeof(r.token), "%s", token);
	snprintf(r.device_name, sizeof(r.device_name), "%s", dev);
	snprintf(r.deployment_name, sizeof(r.deployment_name), "%s", dep);
	memcpy(r.mac, mac, MAC_LEN);
	return r;
}

/* A v2 file (what pxed wrote before reports were kept) migrates to v3
 * with its rows, and reports work on it. */
static void test_migrate_v2_file(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* SQLite files only */
	struct tmpdb t;
	struct store *s;
	struct store_report r, got;
	struct store_report_counts n;
	int64_t dev, dep;
	assert_int_equal(tmpdb_make(&t), 0);
	assert_int_equal(store_open(t.url, &s), 0);
	dev = add_device(s, "vm1", 1, NULL);
	add_image(s, "debian");
	dep = add_dep(s, "D1", "debian", "vm1", STORE_REQUIRED, true, 5);
	uint64_t g = store_generation(s);
	store_close(s);
	/* back to exactly what the v2 schema had */
	raw_exec(t.path, "DROP TABLE reports; ALTER TABLE images DROP COLUMN arch;"
			 " ALTER TABLE images DROP COLUMN loader; DROP TABLE vars;"
			 " DROP TRIGGER vars_device_gone; DROP TRIGGER vars_deployment_gone;"
			 " DROP TRIGGER vars_collection_gone; DROP TRIGGER vars_image_gone;"
			 " PRAGMA user_version = 2;");
	assert_int_equal(user_version(t.path), 2);

	assert_int_equal(store_open(t.url, &s), 0);
	assert_int_equal(user_version(t.path), 5);
	assert_int_equal(store_generation(s), g);
	r = mk_report("00112233445566778899aabbccddeeff", dev, "vm1", 1, dep, "D1", 1000);
	assert_int_equal(store_report_create(s, &r), 0);
	assert_int_equal(store_generation(s), g); /* reports change no answer */
	store_close(s);
	/* and it is still there after a reopen, as after a pxed restart */
	assert_int_equal(store_open(t.url, &s), 0);
	assert_int_equal(store_report_by_token(s, "00112233445566778899aabbccddeeff", &got), 0);
	assert_int_equal(got.id, r.id);
	assert_string_equal(got.deployment_name, "D1");
	assert_int_equal(store_report_counts(s, dep, &n), 0);
	assert_int_equal(n.handed_out, 1);
	store_close(s);
	tmpdb_remove(&t);
}

static int report_line(void *ctx, const struct store_report *r)
{
	char *buf = ctx, mac[MAC_STR_LEN];
	mac_format(r->mac, mac);
	snprintf(buf + strlen(buf), 512 - strlen(buf), "%s/%s/%d/%s;", r->device_name, mac,
		 (int)r->state, r->message);
	return 0;
}

static void test_report_lifecycle(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_report r1, r2, r3, u1, u2, got;
	struct store_report_counts n;
	char buf[512] = "";
	int64_t a = add_device(s, "a", 1, NULL), b = add_device(s, "b", 2, NULL);
	int64_t dep, other;

	add_image(s, "debian");
	dep = add_dep(s, "D1", "debian", "a", STORE_REQUIRED, true, 5);
	other = add_dep(s, "D2", "debian", "b", STORE_AVAILABLE, true, 5);
	assert_int_equal(store_report_counts(s, dep, &n), 0);
	assert_int_equal(n.handed_out + n.started + n.succeeded + n.failed, 0);

	/* hand-out: state handed out, look-up by token */
	r1 = mk_report("aaaa0000aaaa0000aaaa0000aaaa0000", a, "a", 1, dep, "D1", 1000);
	assert_int_equal(store_report_create(s, &r1), 0);
	assert_true(r1.id > 0);
	assert_int_equal(r1.state, STORE_REPORT_HANDED_OUT);
	assert_int_equal(store_report_by_token(s, r1.token, &got), 0);
	assert_int_equal(got.device_id, a);
	assert_string_equal(got.device_name, "a");
	assert_int_equal(got.handed_out_ms, 1000);
	assert_int_equal(got.updated_ms, 1000);
	assert_int_equal(got.state, STORE_REPORT_HANDED_OUT);
	r2 = mk_report("bbbb0000bbbb0000bbbb0000bbbb0000", b, "b", 2, dep, "D1", 1100);
	assert_int_equal(store_report_create(s, &r2), 0);
	/* two unknown machines (device 0) are told apart by MAC */
	u1 = mk_report("cccc0000cccc0000cccc0000cccc0000", 0, "-", 7, dep, "D1", 1200);
	u2 = mk_report("dddd0000dddd0000dddd0000dddd0000", 0, "-", 8, dep, "D1", 1200);
	assert_int_equal(store_report_create(s, &u1), 0);
	assert_int_equal(store_report_create(s, &u2), 0);
	r3 = mk_report("eeee0000eeee0000eeee0000eeee0000", b, "b", 2, other, "D2", 1300);
	assert_int_equal(store_report_create(s, &r3), 0);

	/* reports */
	assert_int_equal(store_report_update(s, r1.id, STORE_REPORT_STARTED, "partitioning", 2000), 0);
	assert_int_equal(store_report_update(s, r1.id, STORE_REPORT_SUCCEEDED, NULL, 3000), 0);
	assert_int_equal(store_report_update(s, r2.id, STORE_REPORT_FAILED, "no disk", 2500), 0);
	assert_int_equal(store_report_update(s, u1.id, STORE_REPORT_STARTED, "", 2600), 0);
	assert_int_equal(store_report_by_token(s, r1.token, &got), 0);
	assert_int_equal(got.state, STORE_REPORT_SUCCEEDED);
	assert_int_equal(got.updated_ms, 3000);
	assert_string_equal(got.message, "");
	assert_int_equal(store_report_counts(s, dep, &n), 0);
	assert_int_equal(n.handed_out, 4);
	assert_int_equal(n.started, 1);
	assert_int_equal(n.succeeded, 1);
	assert_int_equal(n.failed, 1);
	assert_int_equal(store_report_list(s, dep, report_line, buf), 4);
	assert_string_equal(buf, "-/52:54:00:12:34:07/1/;-/52:54:00:12:34:08/0/;a/52:54:00:12:34:01/2/;"
				 "b/52:54:00:12:34:02/3/no disk;");
	assert_int_equal(store_report_counts(s, other, &n), 0);
	assert_int_equal(n.handed_out, 1);

	/* the next boot of b with D1 replaces its row: the old token is dead */
	r2 = mk_report("ffff0000ffff0000ffff0000ffff0000", b, "b", 2, dep, "D1", 4000);
	assert_int_equal(store_report_create(s, &r2), 0);
	assert_int_equal(store_report_by_token(s, "bbbb0000bbbb0000bbbb0000bbbb0000", &got), -ENOENT);
	assert_int_equal(store_report_update(s, got.id = 0, STORE_REPORT_FAILED, "", 1), -ENOENT);
	assert_int_equal(store_report_counts(s, dep, &n), 0);
	assert_int_equal(n.handed_out, 4);
	assert_int_equal(n.failed, 0);

	/* refused: bad tokens, taken token, bad state, no such deployment */
	assert_int_equal(store_report_by_token(s, "", &got), -ENOENT);
	assert_int_equal(store_report_by_token(s, NULL, &got), -ENOENT);
	assert_int_equal(store_report_by_token(s, "AAAA0000AAAA0000AAAA0000AAAA0000", &got), -ENOENT);
	assert_int_equal(store_report_by_token(s, "' OR 1=1 --", &got), -ENOENT);
	r3 = mk_report("aaaa0000aaaa0000aaaa0000aaaa0000", b, "b", 2, other, "D2", 5000);
	assert_int_equal(store_report_create(s, &r3), -EEXIST);
	/* the failed create left b's D2 row as it was */
	assert_int_equal(store_report_by_token(s, "eeee0000eeee0000eeee0000eeee0000", &got), 0);
	r3 = mk_report("x", b, "b", 2, other, "D2", 5000);
	assert_int_equal(store_report_create(s, &r3), -EINVAL);
	r3 = mk_report("1234", b, "b", 2, 9999, "D9", 5000);
	assert_int_equal(store_report_create(s, &r3), -ENOENT);
	assert_int_equal(store_report_update(s, r1.id, (enum store_report_state)4, "", 1), -EINVAL);
	assert_int_equal(store_report_update(s, r1.id, STORE_REPORT_FAILED, "a\nb", 1), -EINVAL);

	/* a deleted deployment takes its reports with it */
	assert_int_equal(store_deployment_delete(s, "D2"), 0);
	assert_int_equal(store_report_by_token(s, "eeee0000eeee0000eeee0000eeee0000", &got), -ENOENT);
}

static int coll_names(void *ctx, const struct store_collection *c)
{
	char *buf = ctx;
	char one[96];
	snprintf(one, sizeof(one), "%s:%u,", c->name, c->members);
	strcat(buf, one);
	return 0;
}

static void test_collections(void **state)
{
	struct fx *fx = *state;
	struct store_collection c = { .name = "lab" }, got;
	char buf[256] = "";
	int64_t vm1 = add_device(fx->s, "vm1", 1, NULL);
	add_device(fx->s, "vm2", 2, NULL);
	add_image(fx->s, "debian");

	assert_int_equal(store_collection_add(fx->s, &c), 0);
	assert_true(c.id > 0);
	assert_int_equal(store_collection_add(fx->s, &c), -EEXIST);
	assert_string_equal(store_last_error(fx->s), "a collection named 'lab' already exists");
	struct store_collection bad = { .name = "a b" };
	assert_int_equal(store_collection_add(fx->s, &bad), -EINVAL);
	struct store_collection c2 = { .name = "empty" };
	assert_int_equal(store_collection_add(fx->s, &c2), 0);

	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm1"), 1);
	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm2"), 1);
	uint64_t g = store_generation(fx->s);
	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm2"), 0);
	assert_int_equal(store_generation(fx->s), g); /* no change, no bump */
	assert_int_equal(store_collection_add_device(fx->s, "lab", "nope"), -ENOENT);
	assert_int_equal(store_collection_add_device(fx->s, "nope", "vm1"), -ENOENT);
	assert_string_equal(store_last_error(fx->s), "no collection named 'nope'");

	assert_int_equal(store_collection_by_name(fx->s, "lab", &got), 0);
	assert_int_equal(got.members, 2);
	assert_int_equal(store_collection_list(fx->s, coll_names, buf), 2);
	assert_string_equal(buf, "empty:0,lab:2,");
	buf[0] = '\0';
	assert_int_equal(store_collection_members(fx->s, "lab", collect_names, buf), 2);
	assert_string_equal(buf, "vm1,vm2,");
	buf[0] = '\0';
	assert_int_equal(store_device_collections(fx->s, vm1, coll_names, buf), 1);
	assert_string_equal(buf, "lab:2,");

	assert_int_equal(store_collection_remove_device(fx->s, "lab", "vm2"), 1);
	assert_int_equal(store_collection_remove_device(fx->s, "lab", "vm2"), -ENOENT);
	assert_string_equal(store_last_error(fx->s), "device 'vm2' is not in collection 'lab'");

	/* A deployment for the collection keeps it. */
	struct store_deployment dep = { .name = "CD", .image_name = "debian",
					.collection_name = "lab", .purpose = STORE_REQUIRED,
					.enabled = true };
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	assert_int_equal(dep.target, STORE_TARGET_COLLECTION);
	assert_int_equal(dep.collection_id, c.id);
	assert_int_equal(dep.unknown_arch, -1);
	struct store_deployment back;
	assert_int_equal(store_deployment_by_name(fx->s, "CD", &back), 0);
	assert_int_equal(back.target, STORE_TARGET_COLLECTION);
	assert_string_equal(back.collection_name, "lab");
	assert_int_equal(back.device_id, 0);
	assert_int_equal(store_collection_delete(fx->s, "lab"), -EBUSY);
	assert_string_equal(store_last_error(fx->s),
			    "collection 'lab' is used by deployment 'CD'; delete that first");

	/* Clear by collection: only its members' hand-outs. */
	int64_t vm2 = add_device(fx->s, "vm3", 3, NULL);
	assert_int_equal(store_handout_record(fx->s, vm1, dep.id, 5), 1);
	assert_int_equal(store_handout_record(fx->s, vm2, dep.id, 5), 1);
	assert_int_equal(store_handout_clear_collection(fx->s, "lab"), 1);
	assert_int_equal(store_handout_done(fx->s, vm1, dep.id), 0);
	assert_int_equal(store_handout_done(fx->s, vm2, dep.id), 1);
	assert_int_equal(store_handout_clear_collection(fx->s, "nope"), -ENOENT);

	assert_int_equal(store_deployment_delete(fx->s, "CD"), 0);
	assert_int_equal(store_collection_delete(fx->s, "lab"), 0);
	assert_int_equal(store_collection_members(fx->s, "lab", collect_names, buf), -ENOENT);
	/* Deleting a device drops its memberships. */
	assert_int_equal(store_collection_add_device(fx->s, "empty", "vm1"), 1);
	assert_int_equal(store_device_delete(fx->s, "vm1"), 0);
	assert_int_equal(store_collection_by_name(fx->s, "empty", &got), 0);
	assert_int_equal(got.members, 0);
}

static void test_deployment_targets(void **state)
{
	struct fx *fx = *state;
	struct store_collection c = { .name = "lab" };
	add_device(fx->s, "vm1", 1, NULL);
	add_image(fx->s, "debian");
	assert_int_equal(store_collection_add(fx->s, &c), 0);
	struct store_deployment dep = { .name = "X", .image_name = "debian", .device_name = "vm1",
					.collection_name = "lab", .purpose = STORE_REQUIRED };
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);
	assert_string_equal(store_last_error(fx->s),
			    "deployment 'X' names both a device and a collection; a deployment "
			    "has one target");
	dep.device_name[0] = '\0';
	snprintf(dep.collection_name, sizeof(dep.collection_name), "nope");
	assert_int_equal(store_deployment_add(fx->s, &dep), -ENOENT);
	dep.collection_name[0] = '\0';
	dep.target = STORE_TARGET_UNKNOWN;
	dep.unknown_arch = 4;
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);
	assert_non_null(strstr(store_last_error(fx->s), "architecture class 4 is not one of bios, "
							"uefi-x86, uefi-x64, uefi-arm64"));
	dep.unknown_arch = -1;
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);
	dep.unknown_arch = 3;
	dep.available_from = 200;
	dep.expires = 100;
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);
	assert_string_equal(store_last_error(fx->s),
			    "deployment 'X' expires before it becomes available");
	dep.expires = 300;
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	struct store_deployment back;
	assert_int_equal(store_deployment_by_name(fx->s, "X", &back), 0);
	assert_int_equal(back.target, STORE_TARGET_UNKNOWN);
	assert_int_equal(back.unknown_arch, 3);
	assert_int_equal(back.available_from, 200);
	assert_int_equal(back.expires, 300);
	assert_int_equal(back.device_id, 0);
	dep.target = 9;
	snprintf(dep.name, sizeof(dep.name), "Y");
	assert_int_equal(store_deployment_add(fx->s, &dep), -EINVAL);
}

struct seen_deps {
	char names[256];
	int64_t handed[8];
	int n;
};

static int collect_applicable(void *ctx, const struct store_deployment *d)
{
	struct seen_deps *sd = ctx;
	strcat(sd->names, d->name);
	strcat(sd->names, ",");
	if (sd->n < 8)
		sd->handed[sd->n++] = d->handed_out_at;
	return 0;
}

static void test_applicable(void **state)
{
	struct fx *fx = *state;
	struct store_collection c = { .name = "lab" };
	struct seen_deps sd = { 0 };
	int64_t vm1 = add_device(fx->s, "vm1", 1, NULL);
	add_device(fx->s, "vm2", 2, NULL);
	add_image(fx->s, "debian");
	assert_int_equal(store_collection_add(fx->s, &c), 0);
	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm1"), 1);
	int64_t d1 = add_dep(fx->s, "dev-req", "debian", "vm1", STORE_REQUIRED, true, 100);
	add_dep(fx->s, "dev-av", "debian", "vm1", STORE_AVAILABLE, true, 500);
	add_dep(fx->s, "dev-off", "debian", "vm1", STORE_REQUIRED, false, 600);
	add_dep(fx->s, "vm2-req", "debian", "vm2", STORE_REQUIRED, true, 700);
	struct store_deployment cd = { .name = "coll-req", .image_name = "debian",
				       .collection_name = "lab", .purpose = STORE_REQUIRED,
				       .enabled = true, .created = 200 };
	assert_int_equal(store_deployment_add(fx->s, &cd), 0);
	struct store_deployment ud = { .name = "unk-bios", .image_name = "debian",
				       .target = STORE_TARGET_UNKNOWN, .unknown_arch = 0,
				       .purpose = STORE_REQUIRED, .enabled = true, .created = 300 };
	assert_int_equal(store_deployment_add(fx->s, &ud), 0);
	assert_int_equal(store_handout_record(fx->s, vm1, d1, 77), 1);

	assert_int_equal(store_deployments_applicable(fx->s, vm1, 0, collect_applicable, &sd), 3);
	assert_string_equal(sd.names, "coll-req,dev-req,dev-av,");
	assert_int_equal(sd.handed[0], 0);
	assert_int_equal(sd.handed[1], 77);
	memset(&sd, 0, sizeof(sd));
	assert_int_equal(store_deployments_applicable(fx->s, 0, 0, collect_applicable, &sd), 1);
	assert_string_equal(sd.names, "unk-bios,");
	memset(&sd, 0, sizeof(sd));
	assert_int_equal(store_deployments_applicable(fx->s, 0, 2, collect_applicable, &sd), 0);
	/* A discovered device also gets the unknown-machine deployments. */
	struct store_device u = { .name = "unknown-x", .arch = 0 };
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 9, 9, 9 };
	memcpy(u.mac, mac, MAC_LEN);
	assert_int_equal(store_device_add_discovered(fx->s, &u, ud.id, 88), 0);
	assert_true(u.discovered);
	memset(&sd, 0, sizeof(sd));
	assert_int_equal(store_deployments_applicable(fx->s, u.id, 0, collect_applicable, &sd), 1);
	assert_string_equal(sd.names, "unk-bios,");
	assert_int_equal(sd.handed[0], 88);
	/* A duplicate discovery adds neither row. */
	uint64_t g = store_generation(fx->s);
	assert_int_equal(store_device_add_discovered(fx->s, &u, ud.id, 99), -EEXIST);
	assert_int_equal(store_generation(fx->s), g);
}

/* store_decide_read(): choose() sees the devices of the MAC and of the
 * GUID; each() gets what store_deployments_applicable() gives for the id
 * choose() returned, in the same order, each with its image when the
 * backend read it along (then the same as store_image_by_id()'s). */
struct decide_q {
	int64_t pick;          /* what choose() returns: a device id, 0, -1 */
	bool pick_mac;         /* return the MAC's device */
	int rm, rg, chosen, stop_after;
	char mac_name[64], guid_name[64];
	struct seen_deps sd;
	struct store_image want_im;
};

static int64_t dq_choose(void *ctx, const struct store_device *by_mac, int rm,
			 const struct store_device *by_guid, int rg)
{
	struct decide_q *q = ctx;
	q->chosen++;
	q->rm = rm;
	q->rg = rg;
	snprintf(q->mac_name, sizeof(q->mac_name), "%s", rm == 0 ? by_mac->name : "");
	snprintf(q->guid_name, sizeof(q->guid_name), "%s", rg == 0 ? by_guid->name : "");
	return q->pick_mac ? by_mac->id : q->pick;
}

static int dq_each(void *ctx, const struct store_deployment *d, const struct store_image *im)
{
	struct decide_q *q = ctx;
	collect_applicable(&q->sd, d);
	if (im) {
		assert_int_equal(im->id, d->image_id);
		assert_string_equal(im->name, q->want_im.name);
		assert_string_equal(im->kernel, q->want_im.kernel);
		assert_string_equal(im->initrd, q->want_im.initrd);
		assert_string_equal(im->cmdline, q->want_im.cmdline);
		assert_string_equal(im->nbp, q->want_im.nbp);
		assert_string_equal(im->arch, q->want_im.arch);
		assert_string_equal(im->loader, q->want_im.loader);
	}
	return q->stop_after && q->sd.n >= q->stop_after;
}

static void test_decide_read(void **state)
{
	struct fx *fx = *state;
	struct store_collection c = { .name = "lab" };
	struct store_device a, b;
	struct decide_q dq;
	struct store_decide_query q = { .arch_class = 0, .choose = dq_choose, .each = dq_each,
					.ctx = &dq };
	mk_device(&a, "vm1", 1, "8a3c0f2e-1b2c-4d5e-8f90-0123456789aa");
	assert_int_equal(store_device_add(fx->s, &a), 0);
	mk_device(&b, "vm2", 2, "8a3c0f2e-1b2c-4d5e-8f90-0123456789bb");
	assert_int_equal(store_device_add(fx->s, &b), 0);
	int64_t imid = add_image(fx->s, "debian");
	assert_int_equal(store_collection_add(fx->s, &c), 0);
	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm1"), 1);
	int64_t d1 = add_dep(fx->s, "dev-req", "debian", "vm1", STORE_REQUIRED, true, 100);
	add_dep(fx->s, "dev-av", "debian", "vm1", STORE_AVAILABLE, true, 500);
	add_dep(fx->s, "dev-off", "debian", "vm1", STORE_REQUIRED, false, 600);
	add_dep(fx->s, "vm2-req", "debian", "vm2", STORE_REQUIRED, true, 700);
	struct store_deployment cd = { .name = "coll-req", .image_name = "debian",
				       .collection_name = "lab", .purpose = STORE_REQUIRED,
				       .enabled = true, .created = 200 };
	assert_int_equal(store_deployment_add(fx->s, &cd), 0);
	struct store_deployment ud = { .name = "unk-bios", .image_name = "debian",
				       .target = STORE_TARGET_UNKNOWN, .unknown_arch = 0,
				       .purpose = STORE_REQUIRED, .enabled = true, .created = 300 };
	assert_int_equal(store_deployment_add(fx->s, &ud), 0);
	assert_int_equal(store_handout_record(fx->s, a.id, d1, 77), 1);

	/* The MAC of vm1, the GUID of vm2: both seen; vm1's deployments. */
	memset(&dq, 0, sizeof(dq));
	assert_int_equal(store_image_by_id(fx->s, imid, &dq.want_im), 0);
	struct store_image want = dq.want_im;
	dq.pick_mac = true;
	q.mac = a.mac;
	q.guid = b.guid;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_int_equal(dq.chosen, 1);
	assert_int_equal(dq.rm, 0);
	assert_int_equal(dq.rg, 0);
	assert_string_equal(dq.mac_name, "vm1");
	assert_string_equal(dq.guid_name, "vm2");
	assert_string_equal(dq.sd.names, "coll-req,dev-req,dev-av,");
	assert_int_equal(dq.sd.handed[0], 0);
	assert_int_equal(dq.sd.handed[1], 77);
	/* vm2's instead */
	memset(&dq, 0, sizeof(dq));
	dq.want_im = want;
	dq.pick = b.id;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_string_equal(dq.sd.names, "vm2-req,");
	/* each() stops the rows */
	memset(&dq, 0, sizeof(dq));
	dq.want_im = want;
	dq.pick_mac = true;
	dq.stop_after = 1;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_string_equal(dq.sd.names, "coll-req,");
	/* No GUID asked: only the MAC's device. */
	memset(&dq, 0, sizeof(dq));
	dq.want_im = want;
	dq.pick = -1;
	q.guid = NULL;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_int_equal(dq.rm, 0);
	assert_int_equal(dq.rg, -ENOENT);
	assert_string_equal(dq.sd.names, ""); /* -1: no rows */
	/* An unknown machine: neither device; the unknown-machine rows of
	 * its arch, none of another arch. */
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, 0x77 };
	memset(&dq, 0, sizeof(dq));
	dq.want_im = want;
	q.mac = mac;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_int_equal(dq.chosen, 1);
	assert_int_equal(dq.rm, -ENOENT);
	assert_int_equal(dq.rg, -ENOENT);
	assert_string_equal(dq.sd.names, "unk-bios,");
	memset(&dq, 0, sizeof(dq));
	q.arch_class = 2;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_string_equal(dq.sd.names, "");
	/* A discovered device also gets them; an undiscovered one does not. */
	struct store_device u = { .name = "unknown-x", .arch = 0 };
	memcpy(u.mac, mac, MAC_LEN);
	assert_int_equal(store_device_add_discovered(fx->s, &u, ud.id, 88), 0);
	memset(&dq, 0, sizeof(dq));
	dq.want_im = want;
	dq.pick_mac = true;
	q.arch_class = 0;
	assert_int_equal(store_decide_read(fx->s, &q), 0);
	assert_string_equal(dq.mac_name, "unknown-x");
	assert_string_equal(dq.sd.names, "unk-bios,");
	assert_int_equal(dq.sd.handed[0], 88);
}

/* store_decide_read_batch(): per query, exactly what store_decide_read()
 * gives for it alone -- what choose() sees, the rows and images each()
 * gets -- whatever the others in the batch are.  The recorder writes
 * both into one line to compare. */
static struct store *fx_store; /* br_each()'s store */

struct batch_rec {
	int how;               /* what choose() returns: 0 the MAC's device, 1 the
				* GUID's, 2 an unknown machine (0), 3 none (-1) */
	int stop_after;
	int rows;
	char log[1024];
};

static void rec_add(struct batch_rec *br, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rec_add(struct batch_rec *br, const char *fmt, ...)
{
	size_t len = strlen(br->log);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(br->log + len, sizeof(br->log) - len, fmt, ap);
	va_end(ap);
}

static int64_t br_choose(void *ctx, const struct store_device *by_mac, int rm,
			 const struct store_device *by_guid, int rg)
{
	struct batch_rec *br = ctx;
	rec_add(br, "mac %d %s guid %d %s|", rm, rm == 0 ? by_mac->name : "-", rg,
		rg == 0 ? by_guid->name : "-");
	switch (br->how) {
	case 0:
		return rm == 0 ? by_mac->id : -1;
	case 1:
		return rg == 0 ? by_guid->id : -1;
	case 2:
		return 0;
	}
	return -1;
}

static int br_each(void *ctx, const struct store_deployment *d, const struct store_image *im)
{
	struct batch_rec *br = ctx;
	struct store_image by_id;
	/* A backend that did not read the image along: the caller reads it. */
	if (!im) {
		assert_int_equal(store_image_by_id(fx_store, d->image_id, &by_id), 0);
		im = &by_id;
	}
	rec_add(br, "%s %lld %s %s %s;", d->name, (long long)d->handed_out_at, im->name,
		im->kernel, im->cmdline);
	br->rows++;
	return br->stop_after && br->rows >= br->stop_after;
}

static void test_decide_read_batch(void **state)
{
	struct fx *fx = *state;
	struct store_collection c = { .name = "lab" };
	struct store_device a, b;
	uint8_t unknown[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, 0x77 };
	enum { N = 7 };
	struct batch_spec {
		const uint8_t *mac, *guid;
		int arch, how, stop;
	} spec[N];
	struct batch_rec one[N], many[N];
	struct store_decide_query q[N];
	int r[N];

	fx_store = fx->s;
	mk_device(&a, "vm1", 1, "8a3c0f2e-1b2c-4d5e-8f90-0123456789aa");
	assert_int_equal(store_device_add(fx->s, &a), 0);
	mk_device(&b, "vm2", 2, "8a3c0f2e-1b2c-4d5e-8f90-0123456789bb");
	assert_int_equal(store_device_add(fx->s, &b), 0);
	add_image(fx->s, "debian");
	assert_int_equal(store_collection_add(fx->s, &c), 0);
	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm1"), 1);
	int64_t d1 = add_dep(fx->s, "dev-req", "debian", "vm1", STORE_REQUIRED, true, 100);
	add_dep(fx->s, "dev-av", "debian", "vm1", STORE_AVAILABLE, true, 500);
	add_dep(fx->s, "vm2-req", "debian", "vm2", STORE_REQUIRED, true, 700);
	struct store_deployment cd = { .name = "coll-req", .image_name = "debian",
				       .collection_name = "lab", .purpose = STORE_REQUIRED,
				       .enabled = true, .created = 200 };
	assert_int_equal(store_deployment_add(fx->s, &cd), 0);
	struct store_deployment ud = { .name = "unk-bios", .image_name = "debian",
				       .target = STORE_TARGET_UNKNOWN, .unknown_arch = 0,
				       .purpose = STORE_REQUIRED, .enabled = true, .created = 300 };
	assert_int_equal(store_deployment_add(fx->s, &ud), 0);
	assert_int_equal(store_handout_record(fx->s, a.id, d1, 77), 1);

	/* vm1 by its MAC and GUID; the conflict (vm1's MAC, vm2's GUID) read
	 * both ways; an unknown machine of arch 0 and of arch 2 (no rows);
	 * vm1 read for none (an empty result); vm1 cut after one row. */
	spec[0] = (struct batch_spec){ a.mac, a.guid, 0, 0, 0 };
	spec[1] = (struct batch_spec){ a.mac, b.guid, 0, 0, 0 };
	spec[2] = (struct batch_spec){ a.mac, b.guid, 0, 1, 0 };
	spec[3] = (struct batch_spec){ unknown, NULL, 0, 2, 0 };
	spec[4] = (struct batch_spec){ unknown, NULL, 2, 2, 0 };
	spec[5] = (struct batch_spec){ a.mac, NULL, 0, 3, 0 };
	spec[6] = (struct batch_spec){ a.mac, a.guid, 0, 0, 1 };
	for (int i = 0; i < N; i++) {
		memset(&one[i], 0, sizeof(one[i]));
		one[i].how = spec[i].how;
		one[i].stop_after = spec[i].stop;
		many[i] = one[i];
		q[i] = (struct store_decide_query){ .mac = spec[i].mac, .guid = spec[i].guid,
						    .arch_class = spec[i].arch,
						    .choose = br_choose, .each = br_each,
						    .ctx = &one[i] };
		assert_int_equal(store_decide_read(fx->s, &q[i]), 0);
		q[i].ctx = &many[i];
		r[i] = -1;
	}
	assert_int_equal(store_decide_read_batch(fx->s, q, r, N), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i], 0);
		assert_string_equal(many[i].log, one[i].log);
	}
	/* What the single reads said, so that equal cannot mean equally
	 * wrong. */
	assert_string_equal(one[1].log, "mac 0 vm1 guid 0 vm2|"
			    "coll-req 0 debian debian/vmlinuz auto=true;"
			    "dev-req 77 debian debian/vmlinuz auto=true;"
			    "dev-av 0 debian debian/vmlinuz auto=true;");
	assert_string_equal(one[2].log, "mac 0 vm1 guid 0 vm2|"
			    "vm2-req 0 debian debian/vmlinuz auto=true;");
	assert_string_equal(one[3].log, "mac -2 - guid -2 -|"
			    "unk-bios 0 debian debian/vmlinuz auto=true;");
	assert_string_equal(one[4].log, "mac -2 - guid -2 -|");
	assert_string_equal(one[5].log, "mac 0 vm1 guid -2 -|");
	assert_int_equal(one[6].rows, 1);
	/* A batch of one and an empty batch. */
	memset(&many[3], 0, sizeof(many[3]));
	many[3].how = 2;
	assert_int_equal(store_decide_read_batch(fx->s, &q[3], r, 1), 0);
	assert_string_equal(many[3].log, one[3].log);
	assert_int_equal(store_decide_read_batch(fx->s, q, r, 0), 0);
}

/* PostgreSQL: a batch whose connection the server ended (the one that
 * read the first batch; not the listener's, whose loss would renew every
 * connection first) fails as a whole, every read saying so (no callback
 * runs), and the next batch reads on a new connection. */
static void test_decide_read_batch_lost(void **state)
{
	struct fx *fx = *state;
	struct store_device a;
	struct batch_rec br[3];
	struct store_decide_query q[3];
	char sql[256];
	int r[3], tries = 0, got;

	if (!tmpdb_is_pg())
		skip();
	fx_store = fx->s;
	mk_device(&a, "vm1", 1, NULL);
	assert_int_equal(store_device_add(fx->s, &a), 0);
	for (int i = 0; i < 3; i++) {
		memset(&br[i], 0, sizeof(br[i]));
		q[i] = (struct store_decide_query){ .mac = a.mac, .choose = br_choose,
						    .each = br_each, .ctx = &br[i] };
	}
	assert_int_equal(store_decide_read_batch(fx->s, q, r, 3), 0);
	assert_string_equal(br[2].log, "mac 0 vm1 guid -2 -|");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		 " WHERE datname = '%s' AND query LIKE 'WITH r AS%%'", fx->t.pgname);
	assert_int_equal(tmpdb_pg_exec(fx->t.admin, sql), 0);
	usleep(200 * 1000);
	for (int i = 0; i < 3; i++)
		memset(&br[i], 0, sizeof(br[i]));
	got = store_decide_read_batch(fx->s, q, r, 3);
	assert_true(got < 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i], got);
		assert_string_equal(br[i].log, "");
	}
	/* A new connection (after the reconnect backoff, if one applies). */
	do {
		usleep(100 * 1000);
		got = store_decide_read_batch(fx->s, q, r, 3);
	} while (got < 0 && ++tries < 60);
	assert_int_equal(got, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i], 0);
		assert_string_equal(br[i].log, "mac 0 vm1 guid -2 -|");
	}
}

static int count_ev(void *ctx, const struct store_event *ev)
{
	(void)ev;
	++*(int *)ctx;
	return 0;
}

static void test_event_batch_and_find(void **state)
{
	struct fx *fx = *state;
	struct store_event evs[3];
	int64_t vm1 = add_device(fx->s, "vm1", 1, NULL);
	uint64_t g = store_generation(fx->s);
	for (int i = 0; i < 3; i++) {
		evs[i] = (struct store_event){ .time_ms = 1000 * (i + 1), .arch = -1, .via = "dhcp",
					       .outcome = "local", .reason = "r",
					       .device_id = i < 2 ? vm1 : 0 };
		uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0x12, 0x34, (uint8_t)(i < 2 ? 1 : 9) };
		memcpy(evs[i].mac, mac, MAC_LEN);
	}
	assert_int_equal(store_event_add_many(fx->s, evs, 3), 3);
	assert_true(evs[2].id > evs[0].id);
	assert_int_equal(store_generation(fx->s), g);

	int n = 0;
	struct store_event_filter f = { .device_name = "vm1" };
	assert_int_equal(store_event_find(fx->s, &f, count_ev, &n), 2);
	f.since_ms = 2000;
	assert_int_equal(store_event_find(fx->s, &f, count_ev, &n), 1);
	f = (struct store_event_filter){ .has_mac = true };
	uint8_t mac9[MAC_LEN] = { 0x52, 0x54, 0, 0x12, 0x34, 9 };
	memcpy(f.mac, mac9, MAC_LEN);
	assert_int_equal(store_event_find(fx->s, &f, count_ev, &n), 1);
	f = (struct store_event_filter){ .limit = 2 };
	assert_int_equal(store_event_find(fx->s, &f, count_ev, &n), 2);
	f = (struct store_event_filter){ .device_name = "nope" };
	assert_int_equal(store_event_find(fx->s, &f, count_ev, &n), -ENOENT);
	/* Real times are milliseconds since 1970: beyond 32 bits. */
	f = (struct store_event_filter){ .since_ms = 1700000000000, .has_mac = true };
	memcpy(f.mac, mac9, MAC_LEN);
	assert_int_equal(store_event_find(fx->s, &f, count_ev, &n), 0);
	assert_int_equal(store_event_prune(fx->s, 2500), 2);
}

/* Events written as a batch come back as they were, whatever their text
 * holds (quotes, backslashes, braces, commas, the word NULL, a string
 * that fills its field), with ids in the batch's order. */
struct ev_keep {
	struct store_event ev[8];
	int n;
};

static int keep_ev(void *ctx, const struct store_event *ev)
{
	struct ev_keep *k = ctx;
	if (k->n < 8)
		k->ev[k->n++] = *ev;
	return 0;
}

static void test_event_text_roundtrip(void **state)
{
	struct fx *fx = *state;
	static const char *const reasons[] = {
		"a \"quoted\" {brace}, back\\slash 'single'", "NULL", "", "}{,\\\"",
		"unicode: caf\xc3\xa9",
	};
	enum { N = sizeof(reasons) / sizeof(reasons[0]) + 1 };
	struct store_event evs[N];
	struct ev_keep k = { .n = 0 };
	struct store_event_filter f = { .has_mac = true };
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef };

	memset(evs, 0, sizeof(evs));
	for (int i = 0; i < N; i++) {
		evs[i].time_ms = 5000 + i;
		evs[i].arch = i - 1;
		memcpy(evs[i].mac, mac, MAC_LEN);
		snprintf(evs[i].via, sizeof(evs[i].via), "http");
		snprintf(evs[i].outcome, sizeof(evs[i].outcome), "boot");
		if (i < N - 1) {
			snprintf(evs[i].reason, sizeof(evs[i].reason), "%s", reasons[i]);
			snprintf(evs[i].deployment_name, sizeof(evs[i].deployment_name), "%s", reasons[i]);
		} else {
			/* Fields filled to their last byte, no terminator. */
			memset(evs[i].reason, '"', sizeof(evs[i].reason));
			memset(evs[i].ifname, '\\', sizeof(evs[i].ifname));
		}
		evs[i].has_guid = i % 2;
		memset(evs[i].guid, 0x40 + i, GUID_LEN);
		evs[i].deployment_id = i;
	}
	assert_int_equal(store_event_add_many(fx->s, evs, N), N);
	for (int i = 1; i < N; i++)
		assert_true(evs[i].id > evs[i - 1].id);
	memcpy(f.mac, mac, MAC_LEN);
	assert_int_equal(store_event_find(fx->s, &f, keep_ev, &k), N);
	assert_int_equal(k.n, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(k.ev[i].id, evs[i].id);
		assert_int_equal(k.ev[i].time_ms, evs[i].time_ms);
		assert_int_equal(k.ev[i].arch, evs[i].arch);
		assert_int_equal(k.ev[i].has_guid, evs[i].has_guid);
		if (evs[i].has_guid)
			assert_memory_equal(k.ev[i].guid, evs[i].guid, GUID_LEN);
		assert_int_equal(k.ev[i].deployment_id, evs[i].deployment_id);
		assert_memory_equal(k.ev[i].reason, evs[i].reason, sizeof(evs[i].reason) - 1);
		assert_memory_equal(k.ev[i].ifname, evs[i].ifname, sizeof(evs[i].ifname) - 1);
		assert_string_equal(k.ev[i].deployment_name, evs[i].deployment_name);
	}
}

static void test_bulk(void **state)
{
	struct fx *fx = *state;
	struct store_device d;
	uint64_t g = store_generation(fx->s);
	assert_int_equal(store_bulk_begin(fx->s), 0);
	assert_int_equal(store_bulk_begin(fx->s), -EBUSY);
	add_device(fx->s, "a", 1, NULL);
	mk_device(&d, "a", 2, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EEXIST); /* undoes only itself */
	add_device(fx->s, "b", 2, NULL);
	assert_int_equal(store_bulk_end(fx->s, true), 0);
	assert_int_equal(store_generation(fx->s), g + 1);
	assert_int_equal(store_device_list(fx->s, collect_names, (char[64]){ 0 }), 2);
	/* Rolled back: nothing stays. */
	assert_int_equal(store_bulk_begin(fx->s), 0);
	add_device(fx->s, "c", 3, NULL);
	assert_int_equal(store_bulk_end(fx->s, false), 0);
	assert_int_equal(store_device_by_name(fx->s, "c", &d), -ENOENT);
	assert_int_equal(store_generation(fx->s), g + 1);
	assert_int_equal(store_bulk_end(fx->s, true), -EINVAL);
}

/* Identity in one query: the device of the MAC and the device of the
 * GUID, the same or two, either missing; no GUID asked. */
static void test_device_by_mac_guid(void **state)
{
	struct fx *fx = *state;
	struct store_device a, b, m, g;
	int rm, rg;
	mk_device(&a, "a", 1, "8a3c0f2e-1b2c-4d5e-8f90-0123456789aa");
	assert_int_equal(store_device_add(fx->s, &a), 0);
	mk_device(&b, "b", 2, "8a3c0f2e-1b2c-4d5e-8f90-0123456789bb");
	assert_int_equal(store_device_add(fx->s, &b), 0);

	/* one device holds both */
	assert_int_equal(store_device_by_mac_guid(fx->s, a.mac, a.guid, &m, &rm, &g, &rg), 0);
	assert_int_equal(rm, 0);
	assert_int_equal(rg, 0);
	assert_int_equal(m.id, a.id);
	assert_int_equal(g.id, a.id);
	/* the MAC of one, the GUID of the other */
	assert_int_equal(store_device_by_mac_guid(fx->s, a.mac, b.guid, &m, &rm, &g, &rg), 0);
	assert_int_equal(rm, 0);
	assert_int_equal(rg, 0);
	assert_string_equal(m.name, "a");
	assert_string_equal(g.name, "b");
	/* no GUID asked: only the MAC is looked up */
	assert_int_equal(store_device_by_mac_guid(fx->s, b.mac, NULL, &m, &rm, &g, &rg), 0);
	assert_int_equal(rm, 0);
	assert_int_equal(rg, -ENOENT);
	assert_string_equal(m.name, "b");
	/* neither known */
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, 0x77 }, guid[GUID_LEN] = { 1 };
	assert_int_equal(store_device_by_mac_guid(fx->s, mac, guid, &m, &rm, &g, &rg), 0);
	assert_int_equal(rm, -ENOENT);
	assert_int_equal(rg, -ENOENT);
	/* the GUID only */
	assert_int_equal(store_device_by_mac_guid(fx->s, mac, b.guid, &m, &rm, &g, &rg), 0);
	assert_int_equal(rm, -ENOENT);
	assert_int_equal(rg, 0);
	assert_int_equal(g.id, b.id);
}

/* Last-seen times in one transaction; a removed device is skipped; no
 * generation bump. */
static void test_device_seen_many(void **state)
{
	struct fx *fx = *state;
	struct store_device got;
	int64_t a = add_device(fx->s, "a", 1, NULL), b = add_device(fx->s, "b", 2, NULL);
	uint64_t g = store_generation(fx->s);
	struct store_seen v[] = { { a, 7, 1000 }, { 9999, 0, 1000 }, { b, -1, 2000 } };
	assert_int_equal(store_device_seen_many(fx->s, v, 3), 2);
	assert_int_equal(store_device_by_id(fx->s, a, &got), 0);
	assert_int_equal(got.arch, 7);
	assert_int_equal(got.last_seen, 1000);
	assert_int_equal(store_device_by_id(fx->s, b, &got), 0);
	assert_int_equal(got.arch, -1);
	assert_int_equal(got.last_seen, 2000);
	assert_int_equal(store_generation(fx->s), g);
	assert_int_equal(store_device_seen_many(fx->s, v, 0), 0);
	/* One device twice in a batch: its last time, and its last arch
	 * that is not -1, as one update after the other would leave it. */
	struct store_seen w[] = { { a, 9, 3000 }, { b, 6, 3000 }, { a, -1, 4000 } };
	assert_true(store_device_seen_many(fx->s, w, 3) >= 2);
	assert_int_equal(store_device_by_id(fx->s, a, &got), 0);
	assert_int_equal(got.arch, 9);
	assert_int_equal(got.last_seen, 4000);
	assert_int_equal(store_device_by_id(fx->s, b, &got), 0);
	assert_int_equal(got.arch, 6);
	assert_int_equal(got.last_seen, 3000);
}

/* A read snapshot: lookups inside see the database as at its first read,
 * even after another connection commits; a write inside is refused, and
 * after the end both work again. */
static void test_read_snapshot(void **state)
{
	struct fx *fx = *state;
	struct store_device d;
	add_device(fx->s, "a", 1, NULL);
	assert_int_equal(store_read_begin(fx->s), 0);
	assert_int_equal(store_read_begin(fx->s), 0); /* nests */
	assert_int_equal(store_device_by_name(fx->s, "a", &d), 0);
	/* another server (handle) commits meanwhile */
	struct store *other;
	struct store_device x;
	assert_int_equal(store_open(fx->t.url, &other), 0);
	mk_device(&x, "x", 0x99, NULL);
	assert_int_equal(store_device_add(other, &x), 0);
	store_close(other);
	assert_int_equal(store_device_by_name(fx->s, "x", &d), -ENOENT);
	mk_device(&d, "b", 2, NULL);
	assert_int_equal(store_device_add(fx->s, &d), -EINVAL);
	store_read_end(fx->s);
	assert_int_equal(store_device_by_name(fx->s, "x", &d), -ENOENT); /* still inside */
	store_read_end(fx->s);
	assert_int_equal(store_device_by_name(fx->s, "x", &d), 0);
	mk_device(&d, "b", 2, NULL);
	assert_int_equal(store_device_add(fx->s, &d), 0);
}

/* ---- calls of schema versions 4 and 5, on every backend ---------------------- */

static int count_var(void *ctx, const struct store_var *v)
{
	char *out = ctx;
	size_t n = strlen(out);
	snprintf(out + n, 512 - n, "%s%s=%s@%s", n ? "," : "", v->key, v->value, v->owner);
	return 0;
}

static int count_dev(void *ctx, const struct store_device *d)
{
	char *out = ctx;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%s%s", n ? "," : "", d->name);
	return 0;
}

static int ev_oldest_first(void *ctx, const struct store_event *ev)
{
	int64_t *last = ctx;
	assert_true(ev->id > *last); /* oldest first */
	*last = ev->id;
	return 0;
}

/* Image arch and loader; variables with their owners, precedence, cap and
 * removal with the owner; the console's paged search (LIKE's own
 * characters taken literally), counts and a device's newest events; the
 * event cap; a withdrawn hand-out; rows read counted. */
static void test_v4_v5_calls(void **state)
{
	struct fx *fx = *state;
	struct store_image im = { 0 }, got;
	struct store_collection c = { .name = "rack1" };
	char out[512] = "";
	unsigned total = 0;
	uint64_t rows0 = store_rows_read(fx->s);

	snprintf(im.name, sizeof(im.name), "arm");
	snprintf(im.kernel, sizeof(im.kernel), "arm/Image");
	snprintf(im.arch, sizeof(im.arch), VOCAB_IMAGE_ARCH_ARM64);
	snprintf(im.loader, sizeof(im.loader), "grub");
	assert_int_equal(store_image_add(fx->s, &im), 0);
	assert_int_equal(store_image_by_name(fx->s, "arm", &got), 0);
	assert_string_equal(got.arch, "uefi-arm64");
	assert_string_equal(got.loader, "grub");
	snprintf(im.name, sizeof(im.name), "bad");
	snprintf(im.loader, sizeof(im.loader), "lilo");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	/* The messages, now built from the vocabulary's tables, keep their
	 * words. */
	assert_string_equal(store_last_error(fx->s), "image 'bad': loader must be empty, ipxe or grub");
	snprintf(im.loader, sizeof(im.loader), "grub");
	snprintf(im.arch, sizeof(im.arch), "x86");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	assert_string_equal(store_last_error(fx->s),
			    "image 'bad': arch must be empty (x86) or uefi-arm64");
	im.arch[0] = '\0';
	snprintf(im.kernel, sizeof(im.kernel), "a..b");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	assert_string_equal(store_last_error(fx->s),
			    "kernel 'a..b' must be a path relative to the content root, without "
			    "'..', backslashes or spaces");
	snprintf(im.kernel, sizeof(im.kernel), "a\tb");
	assert_int_equal(store_image_add(fx->s, &im), -EINVAL);
	assert_string_equal(store_last_error(fx->s), "kernel holds a control character");
	snprintf(im.kernel, sizeof(im.kernel), "arm/Image");
	assert_true(store_rows_read(fx->s) > rows0);

	int64_t a = add_device(fx->s, "web_1", 1, NULL), b = add_device(fx->s, "webx1", 2, NULL);
	add_device(fx->s, "db1", 3, NULL);
	add_image(fx->s, "debian");
	int64_t dep = add_dep(fx->s, "D1", "debian", "web_1", STORE_REQUIRED, true, 0);
	assert_int_equal(store_collection_add(fx->s, &c), 0);
	assert_true(store_collection_add_device(fx->s, "rack1", "web_1") >= 0);

	/* variables */
	assert_int_equal(store_var_set(fx->s, STORE_VAR_GLOBAL, NULL, "tz", "UTC"), 0);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_COLLECTION, "rack1", "tz", "CET"), 0);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", "role", "web"), 0);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", "role", "www"), 0);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEPLOYMENT, "D1", "disk", "sda"), 0);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "nosuch", "a", "b"), -ENOENT);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", "mac", "x"), -EINVAL);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", "1x", "x"), -EINVAL);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_GLOBAL, "web_1", "x", "x"), -EINVAL);
	assert_int_equal(store_vars_applicable(fx->s, a, dep, 0, count_var, out), 4);
	assert_string_equal(out, "role=www@web_1,disk=sda@D1,tz=CET@rack1,tz=UTC@");
	out[0] = '\0';
	assert_int_equal(store_var_list(fx->s, STORE_VAR_DEVICE, "web_1", count_var, out), 1);
	assert_int_equal(store_var_list(fx->s, STORE_VAR_DEVICE, "nosuch", count_var, out), -ENOENT);
	for (int i = 0; i < STORE_VARS_PER_OWNER - 1; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", k, "v"), 0);
	}
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", "one_more", "v"), -ENOSPC);
	assert_int_equal(store_var_set(fx->s, STORE_VAR_DEVICE, "web_1", "role", "db"), 0);
	assert_int_equal(store_var_unset(fx->s, STORE_VAR_DEVICE, "web_1", "role"), 0);
	assert_int_equal(store_var_unset(fx->s, STORE_VAR_DEVICE, "web_1", "role"), -ENOENT);
	/* the owner's variables go with it */
	assert_int_equal(store_deployment_delete(fx->s, "D1"), 0);
	out[0] = '\0';
	assert_int_equal(store_vars_applicable(fx->s, 0, dep, 0, count_var, out), 1);
	assert_string_equal(out, "tz=UTC@");

	/* search: '_' is a character, not LIKE's wildcard */
	struct store_device_query q = { .q = "web_", .limit = 10 };
	out[0] = '\0';
	assert_true(store_device_search(fx->s, &q, &total, count_dev, out) >= 0);
	assert_int_equal(total, 1);
	assert_string_equal(out, "web_1");
	q = (struct store_device_query){ .q = "", .limit = 1, .offset = 1 };
	out[0] = '\0';
	assert_int_equal(store_device_search(fx->s, &q, &total, count_dev, out), 1);
	assert_int_equal(total, 3);
	assert_string_equal(out, "web_1"); /* db1, [web_1], webx1 */

	struct store_row_counts rc;
	assert_int_equal(store_row_counts(fx->s, &rc), 0);
	assert_int_equal(rc.devices, 3);
	assert_int_equal(rc.images, 2);
	assert_int_equal(rc.deployments, 0);
	assert_int_equal(rc.collections, 1);

	/* events: counts, a device's newest, the cap */
	struct store_event ev[6];
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 6; i++) {
		ev[i].time_ms = 1000 + i;
		ev[i].mac[5] = 1;
		ev[i].arch = -1;
		ev[i].device_id = i < 4 ? b : a;
		snprintf(ev[i].via, sizeof(ev[i].via), "proxy");
		snprintf(ev[i].outcome, sizeof(ev[i].outcome), "%s", i % 2 ? "boot" : "local");
		snprintf(ev[i].reason, sizeof(ev[i].reason), "r%d", i);
	}
	assert_int_equal(store_event_add_many(fx->s, ev, 6), 6);
	struct store_event_counts ec;
	assert_int_equal(store_event_count(fx->s, 1001, &ec), 0);
	assert_int_equal(ec.boot, 3);
	assert_int_equal(ec.local, 2);
	assert_int_equal(ec.ignore, 0);
	int64_t last = 0;
	assert_int_equal(store_event_recent_device(fx->s, b, 3, ev_oldest_first, &last), 3);
	assert_int_equal(last, ev[3].id);
	assert_int_equal(store_event_cap(fx->s, 2), 4);
	assert_int_equal(store_event_count(fx->s, 0, &ec), 0);
	assert_int_equal(ec.boot + ec.local, 2);

	/* a withdrawn hand-out is due again and bumps the generation */
	int64_t dep2 = add_dep(fx->s, "D2", "debian", "webx1", STORE_REQUIRED, true, 0);
	assert_int_equal(store_handout_record(fx->s, b, dep2, 5), 1);
	uint64_t g = store_generation(fx->s);
	assert_int_equal(store_handout_forget(fx->s, b, dep2), 0);
	assert_int_equal(store_handout_done(fx->s, b, dep2), 0);
	assert_int_equal(store_handout_forget(fx->s, b, dep2), 0);
	for (int i = 0; i < 200 && store_generation(fx->s) == g; i++)
		usleep(10000); /* PostgreSQL: the generation comes by NOTIFY */
	assert_true(store_generation(fx->s) != g);
	char why[64];
	assert_int_equal(store_writable(fx->s, why, sizeof(why)), 1);
}

/* ---- exactly once --------------------------------------------------------- */

/* Several servers answering the same machine at the same moment: each
 * with its own handle (connection), several threads each, all claiming
 * the same required hand-out at once.  Exactly one claim wins. */
#define RACE_HANDLES 2
#define RACE_THREADS 3 /* per handle */
#define RACE_ROUNDS 20

struct racer {
	struct store *s;
	int64_t dev, dep;
	pthread_barrier_t *go;
	int wins[RACE_ROUNDS];
	int errors;
};

static void *racer_run(void *p)
{
	struct racer *r = p;
	for (int round = 0; round < RACE_ROUNDS; round++) {
		pthread_barrier_wait(r->go); /* the claims of one round start together */
		int w = store_handout_record(r->s, r->dev, r->dep, 1000 + round);
		if (w < 0)
			r->errors++;
		else
			r->wins[round] = w;
		pthread_barrier_wait(r->go); /* the main thread clears between rounds */
		pthread_barrier_wait(r->go);
	}
	return NULL;
}

static void test_handout_race(void **state)
{
	struct fx *fx = *state;
	struct store *h[RACE_HANDLES];
	struct racer r[RACE_HANDLES * RACE_THREADS];
	pthread_t th[RACE_HANDLES * RACE_THREADS];
	pthread_barrier_t go;
	const int n = RACE_HANDLES * RACE_THREADS;
	int64_t dev = add_device(fx->s, "vm1", 1, NULL);
	add_image(fx->s, "debian");
	int64_t dep = add_dep(fx->s, "D1", "debian", "vm1", STORE_REQUIRED, true, 0);

	h[0] = fx->s;
	for (int i = 1; i < RACE_HANDLES; i++)
		assert_int_equal(store_open(fx->t.url, &h[i]), 0);
	assert_int_equal(pthread_barrier_init(&go, NULL, (unsigned)n + 1), 0);
	for (int i = 0; i < n; i++) {
		r[i] = (struct racer){ .s = h[i % RACE_HANDLES], .dev = dev, .dep = dep, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
	}
	for (int round = 0; round < RACE_ROUNDS; round++) {
		int64_t when = 0;
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&go); /* every claim of the round returned */
		int wins = 0;
		for (int i = 0; i < n; i++)
			wins += r[i].wins[round];
		assert_int_equal(wins, 1);
		/* The one recorded time is the winner's. */
		assert_int_equal(store_handout_get(fx->s, dev, dep, &when), 1);
		assert_int_equal(when, 1000 + round);
		assert_int_equal(store_handout_clear_device(fx->s, dev), 1);
		pthread_barrier_wait(&go);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].errors, 0);
	}
	pthread_barrier_destroy(&go);
	for (int i = 1; i < RACE_HANDLES; i++)
		store_close(h[i]);
}

/* Two servers recording the same unknown machine with its hand-out at
 * once: one records both, the other is told the device exists. */
struct discoverer {
	struct store *s;
	int64_t dep;
	pthread_barrier_t *go;
	int r;
};

static void *discoverer_run(void *p)
{
	struct discoverer *d = p;
	struct store_device nd;
	mk_device(&nd, "unknown-525400123499", 0x99, NULL);
	pthread_barrier_wait(d->go);
	d->r = store_device_add_discovered(d->s, &nd, d->dep, 5);
	return NULL;
}

static void test_discovered_race(void **state)
{
	struct fx *fx = *state;
	struct store *other;
	struct store_deployment dep = { .name = "U1", .image_name = "debian",
					.purpose = STORE_REQUIRED, .enabled = true,
					.target = STORE_TARGET_UNKNOWN, .unknown_arch = 0 };
	struct discoverer d[2];
	pthread_t th[2];
	pthread_barrier_t go;
	struct store_device got;

	add_image(fx->s, "debian");
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	assert_int_equal(store_open(fx->t.url, &other), 0);
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		d[i] = (struct discoverer){ .s = i ? other : fx->s, .dep = dep.id, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, discoverer_run, &d[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_true((d[0].r == 0 && d[1].r == -EEXIST) || (d[0].r == -EEXIST && d[1].r == 0));
	assert_int_equal(store_device_by_name(fx->s, "unknown-525400123499", &got), 0);
	assert_true(got.discovered);
	assert_int_equal(store_handout_done(fx->s, got.id, dep.id), 1);
	pthread_barrier_destroy(&go);
	store_close(other);
}

/* ---- PostgreSQL only -------------------------------------------------------- */

/* Re-opening applies no migration twice and keeps data and generation;
 * a schema newer than this pxed is refused. */
static void test_pg_reopen_and_newer_schema(void **state)
{
	struct fx *fx = *state;
	struct store *s;
	struct store_device d;
	if (!tmpdb_is_pg())
		skip();
	add_device(fx->s, "vm1", 1, NULL);
	uint64_t g = store_generation(fx->s);
	assert_true(g > 0);
	assert_string_equal(store_backend_name(fx->s), "postgresql");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_open(fx->t.url, &s), 0);
		assert_int_equal(store_generation(s), g);
		assert_int_equal(store_device_by_name(s, "vm1", &d), 0);
		store_close(s);
	}
	assert_int_equal(tmpdb_pg_exec(fx->t.url, "UPDATE meta SET value = 99"
					       " WHERE key = 'schema_version'"), 0);
	assert_int_equal(store_open(fx->t.url, &s), -EINVAL);
	assert_non_null(strstr(store_open_error(), "schema version 99 is newer"));
}

/* Servers starting together on a new database: one migrates, the others
 * wait for its lock and find the schema done. */
static void *opener_run(void *p)
{
	const char *url = p;
	struct store *s;
	int r = store_open(url, &s);
	if (r == 0)
		store_close(s);
	return (void *)(intptr_t)r;
}

static void test_pg_migrate_concurrent(void **state)
{
	struct tmpdb t;
	pthread_t th[4];
	if (!tmpdb_is_pg())
		skip();
	assert_int_equal(tmpdb_make(&t), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, opener_run, t.url), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		assert_int_equal((intptr_t)r, 0);
	}
	tmpdb_remove(&t);
}

static void test_pg_unreachable(void **state)
{
	struct store *s;
	if (!tmpdb_is_pg())
		skip();
	assert_int_equal(store_open("postgresql:///none?host=/nonexistent-pxed-dir", &s), -EIO);
	assert_non_null(strstr(store_open_error(), "cannot connect"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_bad_url),
		cmocka_unit_test(test_open_missing_dir),
		cmocka_unit_test(test_migrate_empty_file_and_reopen),
		cmocka_unit_test(test_open_newer_schema),
		cmocka_unit_test(test_open_not_a_database),
		cmocka_unit_test_setup_teardown(test_open_wal_and_fk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_unknown_and_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deployment_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deployment_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_reentrant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test(test_migrate_v1_file),
		cmocka_unit_test_setup_teardown(test_collections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deployment_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_applicable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_read_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_read_batch_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_batch_and_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_text_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_by_mac_guid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_seen_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_v5_calls, setup, teardown),
		cmocka_unit_test(test_migrate_v2_file),
		cmocka_unit_test_setup_teardown(test_report_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handout_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovered_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_reopen_and_newer_schema, setup, teardown),
		cmocka_unit_test(test_pg_migrate_concurrent),
		cmocka_unit_test(test_pg_unreachable),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

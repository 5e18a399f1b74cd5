/* The decision cache against a real SQLite store: the seed's scenario
 * (a second deployment within CacheExpire of the first), changes made by
 * another process, settings changes, expiry, bounds, commit. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "decide_fx.h"

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct store_image im = { .name = "win10", .kernel = "wimboot" };
	struct store_image im2 = { .name = "win11", .kernel = "wimboot11" };
	if (!fx)
		return -1;
	/* The seed's settings block: CacheExpire 3600. */
	fx->conf.cache_expire = 3600;
	fx->now_ms = 1795701600000; /* 2026-11-26T14:00:00Z */
	if (fx_open(fx) < 0 || store_image_add(fx->s, &im) < 0 ||
	    store_image_add(fx->s, &im2) < 0)
		return -1;
	decider_set_clock(fx->d, fx_clock, fx);
	*state = fx;
	return 0;
}

static void facts_for(struct pxe_facts *f, const uint8_t mac[MAC_LEN])
{
	memset(f, 0, sizeof(*f));
	memcpy(f->mac, mac, MAC_LEN);
	f->has_guid = true;
	guid_parse(GUID1, f->guid);
	f->has_arch = true;
	f->arch = 0;
	f->arch_class = PXE_ARCH_BIOS;
	snprintf(f->ifname, sizeof(f->ifname), "br0");
	f->via = PXE_VIA_DHCP;
	f->secs = 4;
}

static void add_dep(struct store *s, const char *name, const char *image, enum store_purpose p,
		    int64_t created)
{
	struct store_deployment dep = { .purpose = p, .enabled = true, .created = created };
	snprintf(dep.name, sizeof(dep.name), "%s", name);
	snprintf(dep.image_name, sizeof(dep.image_name), "%s", image);
	snprintf(dep.device_name, sizeof(dep.device_name), "vm1");
	assert_int_equal(store_deployment_add(s, &dep), 0);
}

static struct decision ask(struct fx *fx, bool commit)
{
	struct pxe_facts f;
	struct decision d;
	facts_for(&f, MAC1);
	if (commit) {
		f.via = PXE_VIA_HTTP;
		f.is_ipxe = true;
	}
	assert_int_equal(decide(fx->d, &f, commit, &d), 0);
	return d;
}

static struct decider_cache_stats stats(struct fx *fx)
{
	struct decider_cache_stats st;
	decider_cache_stats(fx->d, &st);
	return st;
}

static int count_cb(void *ctx, const struct store_event *ev)
{
	(void)ev;
	++*(int *)ctx;
	return 0;
}

#define ASSERT_DECISION(dec, o, dep)                                                   \
	do {                                                                           \
		struct decision d_ = (dec);                                            \
		assert_int_equal(d_.outcome, (o));                                     \
		assert_string_equal(d_.deployment_name, (dep));                        \
	} while (0)

/* The seed: a machine deployed once could not be deployed again within
 * CacheExpire because the answer "local" was cached.  Here the change
 * reaches the very next decision, with the cache warm. */
static void seed_scenario(struct fx *fx, struct store *writer)
{
	add_dep(fx->s, "D1", "win10", STORE_REQUIRED, 100);

	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D1");   /* DHCP: computed */
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D1");   /* DHCP: cached */
	assert_int_equal(stats(fx).hits, 1);
	ASSERT_DECISION(ask(fx, true), DECISION_BOOT, "D1");    /* boot script: hand-out */
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, 1), 1);

	/* The reboot during the install, then again from the cache. */
	fx->now_ms += 60000;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "D1");
	uint64_t hits = stats(fx).hits;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "D1");
	assert_int_equal(stats(fx).hits, hits + 1);

	/* Ten minutes later, well within CacheExpire: a new required
	 * deployment for the same device, made by `writer`. */
	fx->now_ms += 600000;
	struct store_deployment d2 = { .name = "D2", .image_name = "win11",
				       .device_name = "vm1", .purpose = STORE_REQUIRED,
				       .enabled = true, .created = 200 };
	assert_int_equal(store_deployment_add(writer, &d2), 0);
	uint64_t inval = stats(fx).invalidations;
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D2");
	assert_int_equal(stats(fx).invalidations, inval + 1);
	ASSERT_DECISION(ask(fx, true), DECISION_BOOT, "D2");
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "D2");
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "D2");

	/* "Clear Required PXE Deployments": both run again, newest first. */
	assert_int_equal(store_handout_clear_device(writer, fx->dev_id), 2);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D2");
	ASSERT_DECISION(ask(fx, true), DECISION_BOOT, "D2");
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D1");
	ASSERT_DECISION(ask(fx, true), DECISION_BOOT, "D1");
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "D2");

	/* Every decision, cached or not, is an event. */
	struct decider_cache_stats st = stats(fx);
	assert_true(st.hits >= 3);
	int n = 0;
	assert_true(decider_events_flush(fx->d) >= 0);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_cb, &n), 14);
}

static void test_seed_same_handle(void **state)
{
	struct fx *fx = *state;
	seed_scenario(fx, fx->s);
}

/* The same, with every change made through a second connection to the
 * file, as another pxed process (or pxectl's server) would. */
static void test_seed_other_process(void **state)
{
	struct fx *fx = *state;
	struct store *other;
	assert_int_equal(store_open(fx->t.url, &other), 0);
	seed_scenario(fx, other);
	store_close(other);
}

/* Every kind of store change invalidates a warm entry at once. */
static void test_changes_invalidate(void **state)
{
	struct fx *fx = *state;
	struct store *other;
	struct store_collection c = { .name = "lab" };
	assert_int_equal(store_open(fx->t.url, &other), 0);

	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(stats(fx).hits, 1);

	/* A collection deployment, then membership edits. */
	assert_int_equal(store_collection_add(other, &c), 0);
	struct store_deployment dep = { .name = "C1", .image_name = "win10",
					.collection_name = "lab", .purpose = STORE_AVAILABLE,
					.enabled = true };
	assert_int_equal(store_deployment_add(other, &dep), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(store_collection_add_device(other, "lab", "vm1"), 1);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "C1");
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "C1");
	assert_int_equal(store_collection_remove_device(other, "lab", "vm1"), 1);
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(store_collection_add_device(other, "lab", "vm1"), 1);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "C1");
	/* Disable, enable, window, delete. */
	assert_int_equal(store_deployment_set_enabled(other, "C1", false), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(store_deployment_set_enabled(other, "C1", true), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "C1");
	assert_int_equal(store_deployment_set_window(other, "C1", fx->now_ms / 1000 + 60, 0), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(store_deployment_set_window(other, "C1", 0, 0), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "C1");
	/* A device edit: its MAC changes, so MAC1 is unknown now. */
	struct store_device dev;
	assert_int_equal(store_device_by_name(other, "vm1", &dev), 0);
	dev.mac[5] ^= 1;
	dev.has_guid = false;
	assert_int_equal(store_device_update(other, &dev), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_IGNORE, "");
	assert_int_equal(store_deployment_delete(other, "C1"), 0);
	assert_true(stats(fx).invalidations >= 9);
	store_close(other);
}

static void test_settings_invalidate(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc };
	facts_for(&f, mac);
	f.has_guid = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced: unknown machine and SupportUnknownMachines is off");
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).hits, 1);
	/* pxectl settings set SupportUnknownMachines yes */
	fx->conf.support_unknown = true;
	decider_settings_changed(fx->d);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason,
			    "unknown machine, no deployment for unknown machines of arch bios");
	assert_int_equal(stats(fx).invalidations, 1);
	/* A settings change alone (no other edit) also invalidates. */
	decider_settings_changed(fx->d);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).invalidations, 2);
	/* The settings rules never come from the cache: IsActive off is
	 * obeyed at once, even without the call. */
	fx->conf.is_active = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced: IsActive is off");
}

static void test_expiry(void **state)
{
	struct fx *fx = *state;
	fx->conf.cache_expire = 5;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	fx->now_ms += 4999;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(stats(fx).hits, 1);
	fx->now_ms += 1;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(stats(fx).hits, 1);
	assert_int_equal(stats(fx).expirations, 1);
	/* A clock that steps back does not make an entry live forever. */
	fx->now_ms -= 10000;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	assert_int_equal(stats(fx).expirations, 2);
	/* CacheExpire 0: no cache at all. */
	fx->conf.cache_expire = 0;
	struct decider_cache_stats before = stats(fx);
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	struct decider_cache_stats after = stats(fx);
	assert_int_equal(after.hits, before.hits);
	assert_int_equal(after.misses, before.misses);
}

/* An entry never outlives the deployment window edge it depends on. */
static void test_window_edge(void **state)
{
	struct fx *fx = *state;
	int64_t now = fx->now_ms / 1000;
	struct store_deployment dep = { .name = "W", .image_name = "win10", .device_name = "vm1",
					.purpose = STORE_REQUIRED, .enabled = true,
					.available_from = now + 30, .expires = now + 90 };
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	fx->now_ms += 29000;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
	fx->now_ms += 1000;
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "W");
	fx->now_ms += 59000;
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "W");
	fx->now_ms += 1000;
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "");
}

/* commit = true is never answered from the cache: the hand-out is always
 * recorded, even with a warm BOOT entry. */
static void test_commit_records(void **state)
{
	struct fx *fx = *state;
	add_dep(fx->s, "D1", "win10", STORE_REQUIRED, 100);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D1");
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D1");
	assert_int_equal(stats(fx).hits, 1);
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, 1), 0);
	ASSERT_DECISION(ask(fx, true), DECISION_BOOT, "D1");
	assert_int_equal(stats(fx).hits, 1);
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, 1), 1);
	/* And the BOOT entry is gone: the next answer is LOCAL. */
	ASSERT_DECISION(ask(fx, false), DECISION_LOCAL, "D1");
	/* A committed LOCAL or available answer records nothing and may be
	 * cached for the DHCP path. */
	ASSERT_DECISION(ask(fx, true), DECISION_LOCAL, "D1");
}

static void test_bounded(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct decider_cache_stats st;
	fx->conf.support_unknown = true;
	assert_int_equal(decider_cache_set_limit(fx->d, 10), 0);
	for (int i = 0; i < 25; i++) {
		uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 1, 0, (uint8_t)i };
		facts_for(&f, mac);
		f.has_guid = false;
		assert_int_equal(decide(fx->d, &f, false, &d), 0);
		assert_int_equal(d.outcome, DECISION_LOCAL);
	}
	st = stats(fx);
	assert_int_equal(st.entries, 10);
	assert_int_equal(st.max_entries, 10);
	assert_int_equal(st.evictions, 15);
	/* The newest ten are kept: the last MAC hits, the first misses. */
	uint8_t last[MAC_LEN] = { 0x52, 0x54, 0, 1, 0, 24 };
	facts_for(&f, last);
	f.has_guid = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).hits, 1);
	uint8_t first[MAC_LEN] = { 0x52, 0x54, 0, 1, 0, 0 };
	facts_for(&f, first);
	f.has_guid = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).hits, 1);
	assert_int_equal(stats(fx).entries, 10);
}

struct listed {
	int n;
	struct decider_cache_entry last;
};

static int list_cb(void *ctx, const struct decider_cache_entry *e)
{
	struct listed *l = ctx;
	l->n++;
	l->last = *e;
	return 0;
}

static void test_list_and_flush(void **state)
{
	struct fx *fx = *state;
	struct listed l = { 0 };
	add_dep(fx->s, "D1", "win10", STORE_REQUIRED, 100);
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "D1");
	fx->now_ms += 1500;
	assert_int_equal(decider_cache_list(fx->d, list_cb, &l), 1);
	assert_int_equal(l.n, 1);
	assert_memory_equal(l.last.mac, MAC1, MAC_LEN);
	assert_true(l.last.has_guid);
	assert_int_equal(l.last.outcome, DECISION_BOOT);
	assert_int_equal(l.last.arch_class, PXE_ARCH_BIOS);
	assert_int_equal(l.last.age_ms, 1500);
	assert_true(l.last.valid);
	assert_non_null(strstr(l.last.reason, "required deployment 'D1'"));
	/* A change shows as a stale entry until the next request drops it. */
	assert_int_equal(store_deployment_set_enabled(fx->s, "D1", false), 0);
	l.n = 0;
	assert_int_equal(decider_cache_list(fx->d, list_cb, &l), 1);
	assert_false(l.last.valid);
	assert_int_equal(decider_cache_flush(fx->d), 1);
	assert_int_equal(stats(fx).entries, 0);
	l.n = 0;
	assert_int_equal(decider_cache_list(fx->d, list_cb, &l), 0);
	assert_int_equal(l.n, 0);
}

/* The key: GUID and architecture class are part of it; the settings-only
 * facts (ifname, secs) and via are not. */
static void test_key(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	f.secs = 9;
	snprintf(f.ifname, sizeof(f.ifname), "br1");
	f.via = PXE_VIA_HTTP;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).hits, 1);
	f.arch = 7;
	f.arch_class = PXE_ARCH_UEFI_X64;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).hits, 1);
	f.has_guid = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(stats(fx).hits, 1);
	assert_int_equal(stats(fx).entries, 3);
}

/* An unknown machine with a required deployment for its architecture:
 * boots, is recorded on commit, and the next boot goes local. */
static void test_unknown_machine_cached(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_device dev;
	uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x99 };
	fx->conf.support_unknown = true;
	decider_settings_changed(fx->d);
	struct store_deployment dep = { .name = "U", .image_name = "win10",
					.target = STORE_TARGET_UNKNOWN,
					.unknown_arch = PXE_ARCH_BIOS, .purpose = STORE_REQUIRED,
					.enabled = true };
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	facts_for(&f, mac);
	f.has_guid = false;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(decide(fx->d, &f, false, &d), 0);
		assert_int_equal(d.outcome, DECISION_BOOT);
	}
	assert_int_equal(stats(fx).hits, 1);
	assert_int_equal(store_device_by_mac(fx->s, mac, &dev), -ENOENT);
	f.via = PXE_VIA_HTTP;
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(store_device_by_mac(fx->s, mac, &dev), 0);
	assert_string_equal(dev.name, "unknown-525400123499");
	f.via = PXE_VIA_DHCP;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_int_equal(d.device_id, dev.id);
}

/* DHCP and HTTP threads share one decider while another process edits
 * the store: no torn entries, and the last answer sees the last change. */
struct asker {
	struct fx *fx;
	int bad;
};

static void *ask_run(void *p)
{
	struct asker *a = p;
	for (int i = 0; i < 400; i++) {
		struct pxe_facts f;
		struct decision d;
		uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i % 2) };
		facts_for(&f, mac);
		if (decide(a->fx->d, &f, false, &d) < 0)
			a->bad++;
		if (d.outcome == DECISION_BOOT && strncmp(d.deployment_name, "T", 1) != 0)
			a->bad++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *fx = *state;
	struct store *other;
	pthread_t th[3];
	struct asker a[3];
	char name[16];
	fx->conf.support_unknown = true;
	decider_set_clock(fx->d, NULL, NULL);
	assert_int_equal(store_open(fx->t.url, &other), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct asker){ .fx = fx };
		assert_int_equal(pthread_create(&th[i], NULL, ask_run, &a[i]), 0);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "T%d", i);
		add_dep(other, name, "win10", STORE_AVAILABLE, 100 + i);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
	ASSERT_DECISION(ask(fx, false), DECISION_BOOT, "T19");
	store_close(other);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_seed_same_handle),
		T(test_seed_other_process),
		T(test_changes_invalidate),
		T(test_settings_invalidate),
		T(test_expiry),
		T(test_window_edge),
		T(test_commit_records),
		T(test_bounded),
		T(test_list_and_flush),
		T(test_key),
		T(test_unknown_machine_cached),
		T(test_threads),
	};
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}

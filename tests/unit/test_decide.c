/* Decision rules against a real SQLite store. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "decide_fx.h"

static const uint8_t MAC_UNKNOWN[MAC_LEN] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx || fx_open(fx) < 0)
		return -1;
	*state = fx;
	return 0;
}

static void facts_for(struct pxe_facts *f, const uint8_t mac[MAC_LEN])
{
	memset(f, 0, sizeof(*f));
	memcpy(f->mac, mac, MAC_LEN);
	f->has_arch = true;
	f->arch = 7;
	f->arch_class = PXE_ARCH_UEFI_X64;
	snprintf(f->ifname, sizeof(f->ifname), "br0");
	f->via = PXE_VIA_DHCP;
}

static void add_image(struct store *s, const char *name)
{
	struct store_image im = { 0 };
	snprintf(im.name, sizeof(im.name), "%s", name);
	snprintf(im.kernel, sizeof(im.kernel), "%s/linux", name);
	snprintf(im.initrd, sizeof(im.initrd), "%s/initrd.gz", name);
	snprintf(im.cmdline, sizeof(im.cmdline), "auto=true priority=critical");
	assert_int_equal(store_image_add(s, &im), 0);
}

static int64_t add_dep(struct store *s, const char *name, const char *image,
		       enum store_purpose p, int64_t created)
{
	struct store_deployment dep = { 0 };
	snprintf(dep.name, sizeof(dep.name), "%s", name);
	snprintf(dep.image_name, sizeof(dep.image_name), "%s", image);
	snprintf(dep.device_name, sizeof(dep.device_name), "vm1");
	dep.purpose = p;
	dep.enabled = true;
	dep.created = created;
	assert_int_equal(store_deployment_add(s, &dep), 0);
	return dep.id;
}

static int count_events(void *ctx, const struct store_event *ev)
{
	struct store_event *last = ctx;
	*last = *ev;
	return 0;
}

/* ---- the rules, in order ------------------------------------------------ */

static void test_inactive(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	fx->conf.is_active = false;
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_string_equal(d.reason, "not serviced: IsActive is off");
	assert_int_equal(d.device_id, 0);
}

static void test_unknown_not_supported(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	facts_for(&f, MAC_UNKNOWN);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_string_equal(d.reason,
			    "not serviced: unknown machine and SupportUnknownMachines is off");
	assert_int_equal(d.device_id, 0);
}

static void test_unknown_supported(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	fx->conf.support_unknown = true;
	facts_for(&f, MAC_UNKNOWN);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason,
			    "unknown machine, no deployment for unknown machines of arch uefi-x64");
}

static void test_known_by_guid(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	/* Same machine, another NIC: found by its SMBIOS GUID. */
	facts_for(&f, MAC_UNKNOWN);
	f.has_guid = true;
	guid_parse(GUID1, f.guid);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "known device 'vm1', no deployment");
	assert_int_equal(d.device_id, fx->dev_id);
	assert_string_equal(d.device_name, "vm1");
}

#define NB 9
static const char *GUID_B2 = "8a3c0f2e-1b2c-4d5e-8f90-0123456789cd";
static const char *GUID_B3 = "8a3c0f2e-1b2c-4d5e-8f90-0123456789ef";

/* decide_batch() reads for all its requests at once; each must get
 * exactly what decide_open() gives it alone: a known device with a
 * required deployment, one found by its GUID, a MAC/GUID conflict either
 * way, an unknown machine with and without a deployment for its arch, one
 * the settings answer (excluded interface), the same client twice (the
 * second answered by the cache when it is on). */
static void batch_requests(struct pxe_facts f[NB])
{
	static const uint8_t mac2[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };
	static const uint8_t mac3[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x58 };
	for (int i = 0; i < NB; i++)
		facts_for(&f[i], MAC1);
	f[1].has_guid = true; /* vm1 by its GUID, on another NIC */
	guid_parse(GUID1, f[1].guid);
	memcpy(f[1].mac, mac3, MAC_LEN);
	memcpy(f[2].mac, mac2, MAC_LEN); /* vm2's MAC, vm1's GUID: vm1 */
	f[2].has_guid = true;
	guid_parse(GUID1, f[2].guid);
	memcpy(f[3].mac, MAC_UNKNOWN, MAC_LEN); /* unknown, uefi-x64: a deployment */
	memcpy(f[4].mac, MAC_UNKNOWN, MAC_LEN); /* unknown, bios: none */
	f[4].mac[5] ^= 1;
	f[4].arch = 0;
	f[4].arch_class = PXE_ARCH_BIOS;
	snprintf(f[5].ifname, sizeof(f[5].ifname), "eth9"); /* BindPolicy */
	memcpy(f[6].mac, mac2, MAC_LEN); /* vm2 plainly */
	memcpy(f[8].mac, mac2, MAC_LEN); /* vm2's MAC, another real GUID: unknown */
	f[8].has_guid = true;
	guid_parse(GUID_B2, f[8].guid);
}

static void assert_same_decision(const struct decision *a, const struct decision *b)
{
	assert_int_equal(a->outcome, b->outcome);
	assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->required, b->required);
	assert_int_equal(a->device_id, b->device_id);
	assert_string_equal(a->device_name, b->device_name);
	assert_int_equal(a->deployment_id, b->deployment_id);
	assert_string_equal(a->deployment_name, b->deployment_name);
	assert_string_equal(a->image_name, b->image_name);
	assert_string_equal(a->kernel, b->kernel);
	assert_string_equal(a->initrd, b->initrd);
	assert_string_equal(a->cmdline, b->cmdline);
	assert_int_equal(a->rec.pending, b->rec.pending);
	assert_int_equal(a->rec.own_event, b->rec.own_event);
	assert_int_equal(a->rec.committed, b->rec.committed);
	assert_int_equal(a->rec.made_ms, b->rec.made_ms);
	assert_int_equal(a->rec.store_gen, b->rec.store_gen);
}

static void test_batch_same_as_single(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f[NB];
	const struct pxe_facts *fp[NB];
	struct decision one[NB], many[NB], *mp[NB];
	struct decider_cache_stats st1, st2;
	struct store_device vm2 = { .name = "vm2", .arch = -1 };

	fx->conf.support_unknown = true;
	fx->conf.bind_policy = BIND_EXCLUDE;
	snprintf(fx->conf.bind_ifaces[0], IF_NAMESIZE, "eth9");
	fx->conf.n_bind_ifaces = 1;
	fx->now_ms = 1700000000000;
	decider_set_clock(fx->d, fx_clock, fx);
	memcpy(vm2.mac, (uint8_t[MAC_LEN]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 }, MAC_LEN);
	vm2.has_guid = true;
	guid_parse(GUID_B3, vm2.guid);
	assert_int_equal(store_device_add(fx->s, &vm2), 0);
	add_image(fx->s, "debian");
	add_dep(fx->s, "deb", "debian", STORE_REQUIRED, 100);
	struct store_deployment ud = { .name = "unk-x64", .image_name = "debian",
				       .target = STORE_TARGET_UNKNOWN,
				       .unknown_arch = PXE_ARCH_UEFI_X64,
				       .purpose = STORE_AVAILABLE, .enabled = true, .created = 300 };
	assert_int_equal(store_deployment_add(fx->s, &ud), 0);
	batch_requests(f);
	for (int i = 0; i < NB; i++) {
		fp[i] = &f[i];
		mp[i] = &many[i];
	}
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0: no cache; pass 1: a cache, empty at the start of
		 * each run */
		fx->conf.cache_expire = pass ? 60 : 0;
		assert_true(decider_cache_flush(fx->d) >= 0);
		decider_cache_stats(fx->d, &st1);
		for (int i = 0; i < NB; i++)
			decide_open(fx->d, &f[i], false, DECIDE_CHOICE_NONE, &one[i]);
		decider_cache_stats(fx->d, &st2);
		uint64_t hits = st2.hits - st1.hits, misses = st2.misses - st1.misses;
		assert_true(decider_cache_flush(fx->d) >= 0);
		decider_cache_stats(fx->d, &st1);
		decide_batch(fx->d, fp, mp, NB);
		decider_cache_stats(fx->d, &st2);
		for (int i = 0; i < NB; i++)
			assert_same_decision(&many[i], &one[i]);
		assert_int_equal(st2.hits - st1.hits, hits);
		assert_int_equal(st2.misses - st1.misses, misses);
		assert_int_equal(hits, pass ? 1 : 0);
	}
	/* What they were, so that equal cannot mean equally wrong. */
	assert_string_equal(one[0].reason, "required deployment 'deb' (image 'debian') for "
			    "device 'vm1', not yet handed out");
	assert_string_equal(one[1].device_name, "vm1");
	assert_string_equal(one[2].device_name, "vm1");
	assert_string_equal(one[3].reason, "available deployment 'unk-x64' (image 'debian') "
			    "for unknown machines of arch uefi-x64, boots after a key press");
	assert_string_equal(one[4].reason, "unknown machine, no deployment for unknown "
			    "machines of arch bios");
	assert_int_equal(one[5].outcome, DECISION_IGNORE);
	assert_string_equal(one[6].reason, "known device 'vm2', no deployment");
	assert_int_equal(one[7].outcome, DECISION_BOOT);
	assert_string_equal(one[8].reason, "unknown machine with the MAC of device 'vm2' "
			    "(another GUID); no deployment for unknown machines");
	decider_set_clock(fx->d, NULL, NULL);
}

static void test_known_no_deployment(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_device dev;
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "known device 'vm1', no deployment");
	assert_int_equal(d.deployment_id, 0);

	/* The device was seen, with its architecture. */
	assert_int_equal(store_device_by_name(fx->s, "vm1", &dev), 0);
	assert_int_equal(dev.arch, 7);
	assert_true(dev.last_seen >= time(NULL) - 5);
}

static void test_required_commit(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	add_image(fx->s, "debian");
	int64_t dep = add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	facts_for(&f, MAC1);

	/* DHCP path: boot, but nothing recorded yet. */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_true(d.required);
	assert_string_equal(d.reason,
			    "required deployment 'D1' (image 'debian') for device 'vm1', "
			    "not yet handed out");
	assert_int_equal(d.deployment_id, dep);
	assert_string_equal(d.deployment_name, "D1");
	assert_string_equal(d.image_name, "debian");
	assert_string_equal(d.device_name, "vm1");
	assert_string_equal(d.kernel, "debian/linux");
	assert_string_equal(d.initrd, "debian/initrd.gz");
	assert_string_equal(d.cmdline, "auto=true priority=critical");
	assert_string_equal(d.nbp, "");
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, dep), 0);

	/* Again without commit: same answer. */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);

	/* The boot script hands it out: recorded. */
	f.via = PXE_VIA_HTTP;
	f.is_ipxe = true;
	uint64_t g = store_generation(fx->s);
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, dep), 1);
	assert_true(store_generation(fx->s) > g);

	/* The reboot during the install goes to the local disk. */
	f.via = PXE_VIA_DHCP;
	f.is_ipxe = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_int_equal(d.deployment_id, dep);
	assert_non_null(strstr(d.reason, "required deployment 'D1' already handed out at "));
	assert_non_null(strstr(d.reason, "Z; clear it to run again"));

	/* A fixed time shows in ISO 8601 UTC. */
	assert_true(store_handout_clear_device(fx->s, fx->dev_id) == 1);
	assert_int_equal(store_handout_record(fx->s, fx->dev_id, dep, 1795701600), 1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "required deployment 'D1' already handed out at "
				      "2026-11-26T14:00:00Z; clear it to run again");

	/* Clear: it runs again. */
	assert_int_equal(store_handout_clear_device(fx->s, fx->dev_id), 1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
}

static void test_available(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_image im = { .name = "memtest", .nbp = "memtest/memtest.efi" };
	assert_int_equal(store_image_add(fx->s, &im), 0);
	add_dep(fx->s, "D2", "memtest", STORE_AVAILABLE, 0);
	facts_for(&f, MAC1);

	/* Available deployments are never recorded: the user chooses each time. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(decide(fx->d, &f, true, &d), 0);
		assert_int_equal(d.outcome, DECISION_BOOT);
		assert_false(d.required);
		assert_string_equal(d.reason,
				    "available deployment 'D2' (image 'memtest') for device 'vm1', "
				    "boots after a key press");
		assert_string_equal(d.nbp, "memtest/memtest.efi");
		assert_string_equal(d.kernel, "");
	}
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, d.deployment_id), 0);
}

/* The answer to an available deployment's prompt: recorded as the event
 * of a fresh decision; deploy only while the deployment still applies. */
static void test_available_choice(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_event ev;
	add_image(fx->s, "debian");
	int64_t dep = add_dep(fx->s, "D2", "debian", STORE_AVAILABLE, 0);
	facts_for(&f, MAC1);
	f.via = PXE_VIA_HTTP;

	assert_int_equal(decide_choice(fx->d, &f, DECIDE_CHOICE_DEPLOY, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_false(d.required);
	assert_int_equal(d.deployment_id, dep);
	assert_string_equal(d.kernel, "debian/linux");
	assert_string_equal(d.reason, "available deployment 'D2': user chose to deploy");
	assert_int_equal(decider_events_flush(fx->d), 1);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 1);
	assert_string_equal(ev.outcome, "boot");
	assert_string_equal(ev.reason, "available deployment 'D2': user chose to deploy");
	assert_int_equal(ev.deployment_id, dep);
	/* an available deployment is never recorded as handed out */
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, dep), 0);

	assert_int_equal(decide_choice(fx->d, &f, DECIDE_CHOICE_LOCAL, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.kernel, "");
	assert_string_equal(d.reason,
			    "available deployment 'D2': user let the prompt time out: local disk");
	assert_int_equal(decider_events_flush(fx->d), 1);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 2);
	assert_string_equal(ev.outcome, "local");
	assert_int_equal(ev.device_id, fx->dev_id);
	assert_int_equal(ev.deployment_id, dep);
	assert_string_equal(ev.deployment_name, "D2");
	/* the cache kept the plain decision, not the choice */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);

	/* disabled since the prompt: choice=deploy deploys nothing */
	assert_int_equal(store_deployment_set_enabled(fx->s, "D2", false), 0);
	assert_int_equal(decide_choice(fx->d, &f, DECIDE_CHOICE_DEPLOY, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_null(strstr(d.reason, "user chose"));

	/* now required: the timeout still means the local disk, and nothing
	 * is recorded as handed out */
	int64_t req = add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	assert_int_equal(decide_choice(fx->d, &f, DECIDE_CHOICE_LOCAL, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, req), 0);
	/* and choice=deploy gets the required deployment, as any request would */
	assert_int_equal(decide_choice(fx->d, &f, DECIDE_CHOICE_DEPLOY, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_true(d.required);
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, req), 1);
}

static void test_required_before_available(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	add_image(fx->s, "debian");
	add_image(fx->s, "ubuntu");
	add_dep(fx->s, "avail-new", "ubuntu", STORE_AVAILABLE, 300);
	add_dep(fx->s, "req-old", "debian", STORE_REQUIRED, 100);
	add_dep(fx->s, "req-new", "ubuntu", STORE_REQUIRED, 200);
	facts_for(&f, MAC1);

	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_string_equal(d.deployment_name, "req-new");
	assert_string_equal(d.kernel, "ubuntu/linux");
	/* A required deployment already handed out does not hide the next
	 * one that applies: req-old boots next, then the available one
	 * (never recorded, so offered every time), and when nothing else is
	 * left, LOCAL naming the newest handed-out one. */
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.deployment_name, "req-old");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(decide(fx->d, &f, true, &d), 0);
		assert_int_equal(d.outcome, DECISION_BOOT);
		assert_string_equal(d.deployment_name, "avail-new");
	}
	assert_int_equal(store_deployment_set_enabled(fx->s, "avail-new", false), 0);
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.deployment_name, "req-new");
	assert_non_null(strstr(d.reason, "required deployment 'req-new' already handed out at "));
	assert_int_equal(store_deployment_set_enabled(fx->s, "req-new", false), 0);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.deployment_name, "req-old");
	/* Clear: the newest required one runs again. */
	assert_int_equal(store_deployment_set_enabled(fx->s, "req-new", true), 0);
	assert_int_equal(store_handout_clear_device(fx->s, fx->dev_id), 2);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.deployment_name, "req-new");
}

static void test_events_recorded(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_event ev;
	add_image(fx->s, "debian");
	int64_t dep = add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	facts_for(&f, MAC1);
	f.has_guid = true;
	guid_parse(GUID1, f.guid);
	f.via = PXE_VIA_HTTP;

	int64_t before = (int64_t)time(NULL) * 1000;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	/* Events are queued and written in batches. */
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 0);
	assert_int_equal(decider_events_flush(fx->d), 1);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 1);
	assert_true(ev.time_ms >= before);
	assert_memory_equal(ev.mac, MAC1, MAC_LEN);
	assert_true(ev.has_guid);
	assert_int_equal(ev.arch, 7);
	assert_string_equal(ev.ifname, "br0");
	assert_string_equal(ev.via, "http");
	assert_string_equal(ev.outcome, "boot");
	assert_string_equal(ev.reason, d.reason);
	assert_int_equal(ev.device_id, fx->dev_id);
	assert_int_equal(ev.deployment_id, dep);
	assert_string_equal(ev.deployment_name, "D1");

	/* Ignored requests are events too. */
	facts_for(&f, MAC_UNKNOWN);
	f.has_arch = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(decider_events_flush(fx->d), 1);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 2);
	assert_string_equal(ev.outcome, "ignore");
	assert_int_equal(ev.arch, -1);
	assert_int_equal(ev.device_id, 0);
	assert_string_equal(ev.via, "dhcp");
}

static void test_store_error(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* reaches into the SQLite file */
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	sqlite3 *db;
	add_image(fx->s, "debian");
	add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	/* Break the schema behind the store's back. */
	assert_int_equal(sqlite3_open(fx->t.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE pxe_history", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	facts_for(&f, MAC1);
	assert_true(decide(fx->d, &f, false, &d) < 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_non_null(strstr(d.reason, "not serviced: store error: "));
	assert_non_null(strstr(d.reason, "pxe_history"));
}

/* ---- the log line ------------------------------------------------------- */

static void capture_log(const struct pxe_facts *f, const struct decision *d, const char *ctx,
			char *out, size_t len)
{
	char path[] = "/tmp/pxed-log-XXXXXX";
	int fd = mkstemp(path), saved;
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	decision_log(f, d, ctx);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, out, len - 1);
	assert_true(n > 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
}

static void test_decision_log(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	char line[1024];
	add_image(fx->s, "debian");
	add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	facts_for(&f, MAC1);
	f.arch = 0;
	f.arch_class = PXE_ARCH_BIOS;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	capture_log(&f, &d, "dhcp DISCOVER", line, sizeof(line));
	assert_non_null(strstr(line, " info  decide: 52:54:00:12:34:56, -: boot 'D1' "
				     "(required deployment 'D1' (image 'debian') for device 'vm1', "
				     "not yet handed out) [dhcp DISCOVER on br0, arch bios(0), pxe]\n"));

	f.has_guid = true;
	guid_parse(GUID1, f.guid);
	f.is_ipxe = true;
	f.has_arch = false;
	f.ifname[0] = '\0';
	f.via = PXE_VIA_HTTP;
	fx->conf.is_active = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	capture_log(&f, &d, "http /boot.ipxe", line, sizeof(line));
	assert_non_null(strstr(line, "decide: 52:54:00:12:34:56, "
				     "8a3c0f2e-1b2c-4d5e-8f90-0123456789ab: ignore "
				     "(not serviced: IsActive is off) "
				     "[http /boot.ipxe, arch not sent, ipxe]\n"));
}

/* ---- settings rules --------------------------------------------------- */

static int64_t test_clock_ms;
static int64_t test_clock(void *ctx)
{
	(void)ctx;
	return test_clock_ms;
}

static void write_file(const char *path, const char *text)
{
	/* Write to a temporary name and rename, as editors do: a new inode. */
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_ignore_list(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	char path[200], want[300];
	snprintf(path, sizeof(path), "%s/ignore.txt", fx->t.dir);
	write_file(path, "# lab switches\n52:54:00:12:34:56\n");
	snprintf(fx->conf.mac_ignore_file, sizeof(fx->conf.mac_ignore_file), "%s", path);
	test_clock_ms = 1795701600000;
	decider_set_clock(fx->d, test_clock, NULL);
	decider_settings_changed(fx->d);
	facts_for(&f, MAC1);
	snprintf(want, sizeof(want), "not serviced: MAC on the ignore list %s", path);

	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_string_equal(d.reason, want);

	/* Edited: the MAC is gone.  Seen within a second, with no SIGHUP. */
	write_file(path, "52-54-00-aa-bb-cc\n");
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE); /* not re-checked yet */
	test_clock_ms += 1000;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	facts_for(&f, MAC_UNKNOWN);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason + strlen("not serviced: MAC on the ignore list "), path);

	/* A bad file keeps the previous list. */
	write_file(path, "52:54:00:12:34:56\nnot a mac\n");
	test_clock_ms += 1000;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	/* Fixed again: read again. */
	write_file(path, "52:54:00:12:34:56\n");
	test_clock_ms += 1000;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	/* A missing file keeps the list too; no file named: no list. */
	unlink(path);
	test_clock_ms += 1000;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	fx->conf.mac_ignore_file[0] = '\0';
	decider_settings_changed(fx->d);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	decider_set_clock(fx->d, NULL, NULL);
}

static void test_bind_policy(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	facts_for(&f, MAC1);
	fx->conf.bind_policy = BIND_EXCLUDE;
	snprintf(fx->conf.bind_ifaces[0], IF_NAMESIZE, "br0");
	fx->conf.n_bind_ifaces = 1;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_string_equal(d.reason, "not serviced: interface br0 excluded by BindPolicy");
	/* The interface is unknown (HTTP behind a proxy): not a reason. */
	f.ifname[0] = '\0';
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	fx->conf.bind_policy = BIND_INCLUDE;
	snprintf(f.ifname, sizeof(f.ifname), "eth1");
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced: interface eth1 excluded by BindPolicy");
	snprintf(f.ifname, sizeof(f.ifname), "br0");
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
}

static void test_response_delay(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	fx->conf.response_delay = 3;
	facts_for(&f, MAC1);
	f.secs = 0;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_string_equal(d.reason, "not serviced yet: secs 0 below ResponseDelay 3");
	f.secs = 2;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced yet: secs 2 below ResponseDelay 3");
	/* The retry at the delay is answered. */
	f.secs = 3;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	/* A follow-up to our OFFER (REQUEST to 4011) is never held back:
	 * EDK2 sends it with secs 0 and would get no boot file. */
	f.secs = 0;
	f.chose_us = true;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	f.chose_us = false;
	/* HTTP has no secs: the delay is for DHCP only. */
	f.secs = 0;
	f.via = PXE_VIA_HTTP;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
}

/* Rules are checked in order: the first that fires names the reason. */
static void test_rule_order(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	char path[200];
	snprintf(path, sizeof(path), "%s/ignore.txt", fx->t.dir);
	write_file(path, "52:54:00:12:34:56\n");
	snprintf(fx->conf.mac_ignore_file, sizeof(fx->conf.mac_ignore_file), "%s", path);
	fx->conf.bind_policy = BIND_INCLUDE;
	fx->conf.n_bind_ifaces = 0;
	fx->conf.response_delay = 5;
	fx->conf.is_active = false;
	decider_settings_changed(fx->d);
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced: IsActive is off");
	fx->conf.is_active = true;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_non_null(strstr(d.reason, "not serviced: MAC on the ignore list "));
	fx->conf.mac_ignore_file[0] = '\0';
	decider_settings_changed(fx->d);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced: interface br0 excluded by BindPolicy");
	fx->conf.bind_policy = BIND_EXCLUDE;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "not serviced yet: secs 0 below ResponseDelay 5");
	fx->conf.response_delay = 0;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "known device 'vm1', no deployment");
	unlink(path);
}

/* ---- targets ----------------------------------------------------------- */

static void add_coll_dep(struct store *s, const char *name, const char *image,
			 const char *coll, enum store_purpose p, int64_t created)
{
	struct store_deployment dep = { .purpose = p, .enabled = true, .created = created };
	snprintf(dep.name, sizeof(dep.name), "%s", name);
	snprintf(dep.image_name, sizeof(dep.image_name), "%s", image);
	snprintf(dep.collection_name, sizeof(dep.collection_name), "%s", coll);
	assert_int_equal(store_deployment_add(s, &dep), 0);
	assert_int_equal(dep.target, STORE_TARGET_COLLECTION);
}

static void test_collection_target(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_collection lab = { .name = "lab" }, win = { .name = "win" };
	add_image(fx->s, "debian");
	add_image(fx->s, "windows");
	assert_int_equal(store_collection_add(fx->s, &lab), 0);
	assert_int_equal(store_collection_add(fx->s, &win), 0);
	add_coll_dep(fx->s, "lab-debian", "debian", "lab", STORE_REQUIRED, 100);
	add_coll_dep(fx->s, "win-avail", "windows", "win", STORE_AVAILABLE, 300);
	facts_for(&f, MAC1);

	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "known device 'vm1', no deployment");
	assert_int_equal(store_collection_add_device(fx->s, "win", "vm1"), 1);
	assert_int_equal(store_collection_add_device(fx->s, "win", "vm1"), 0);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "available deployment 'win-avail' (image 'windows') for "
				      "collection 'win' (device 'vm1'), boots after a key press");
	/* In both: required before available, though older. */
	assert_int_equal(store_collection_add_device(fx->s, "lab", "vm1"), 1);
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.reason, "required deployment 'lab-debian' (image 'debian') for "
				      "collection 'lab' (device 'vm1'), not yet handed out");
	/* Handed out: the available one is offered, not hidden. */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.deployment_name, "win-avail");
	assert_int_equal(store_collection_remove_device(fx->s, "win", "vm1"), 1);
	assert_int_equal(store_collection_remove_device(fx->s, "win", "vm1"), -ENOENT);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.deployment_name, "lab-debian");
	/* Clear the collection: it runs again. */
	assert_int_equal(store_handout_clear_collection(fx->s, "lab"), 1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.deployment_name, "lab-debian");
	/* A device deployment, newer, wins over the collection one. */
	add_dep(fx->s, "dev-debian", "debian", STORE_REQUIRED, 200);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.deployment_name, "dev-debian");
	assert_int_equal(store_collection_delete(fx->s, "lab"), -EBUSY);
}

static const uint8_t MAC2[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };
static const char *GUID2 = "11111111-2222-4333-8444-555555555555";
static const char *GUID3 = "99999999-2222-4333-8444-555555555555";

/* Images carry an architecture: an arm64 image is offered to ARM64 UEFI
 * machines only, an x86 one (no arch) never to them; the reason says why.
 * The image's boot loader reaches the decision (and the cache). */
static void test_image_arch(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_image im = { 0 };
	snprintf(im.name, sizeof(im.name), "deb-arm64");
	snprintf(im.kernel, sizeof(im.kernel), "arm64/linux");
	snprintf(im.arch, sizeof(im.arch), "uefi-arm64");
	snprintf(im.loader, sizeof(im.loader), "grub");
	assert_int_equal(store_image_add(fx->s, &im), 0);
	struct store_image bad = im;
	snprintf(bad.name, sizeof(bad.name), "bad");
	snprintf(bad.arch, sizeof(bad.arch), "mips");
	assert_int_equal(store_image_add(fx->s, &bad), -EINVAL);
	snprintf(bad.arch, sizeof(bad.arch), "%s", "");
	snprintf(bad.loader, sizeof(bad.loader), "pxe");
	assert_int_equal(store_image_add(fx->s, &bad), -EINVAL);
	add_dep(fx->s, "arm-req", "deb-arm64", STORE_REQUIRED, 10);

	facts_for(&f, MAC1); /* UEFI x64 */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "known device, no deployment for its architecture uefi-x64: "
				      "deployment 'arm-req' (image 'deb-arm64') is for uefi-arm64");
	f.arch = 11;
	f.arch_class = PXE_ARCH_UEFI_ARM64;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.deployment_name, "arm-req");
	assert_string_equal(d.loader, "grub");
	/* an x86 image is not for the ARM64 machine */
	add_image(fx->s, "deb-x86");
	add_dep(fx->s, "x86-req", "deb-x86", STORE_REQUIRED, 20);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.deployment_name, "arm-req");
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.deployment_name, "x86-req");
	assert_string_equal(d.loader, "");
}

static void test_unknown_machine(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_device dev;
	add_image(fx->s, "winpe");
	struct store_deployment dep = { .name = "unknown-x64", .image_name = "winpe",
					.target = STORE_TARGET_UNKNOWN,
					.unknown_arch = PXE_ARCH_UEFI_X64,
					.purpose = STORE_REQUIRED, .enabled = true };
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	facts_for(&f, MAC_UNKNOWN);
	f.has_guid = true;
	guid_parse(GUID3, f.guid);

	/* SupportUnknownMachines off: not serviced, deployment or not. */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason,
			    "not serviced: unknown machine and SupportUnknownMachines is off");
	fx->conf.support_unknown = true;
	/* Another architecture class: no deployment for it. */
	f.arch = 0;
	f.arch_class = PXE_ARCH_BIOS;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "unknown machine, no deployment for unknown machines of arch bios");
	f.arch = 7;
	f.arch_class = PXE_ARCH_UEFI_X64;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.reason, "required deployment 'unknown-x64' (image 'winpe') for "
				      "unknown machines of arch uefi-x64, not yet handed out");
	assert_int_equal(d.device_id, 0);
	assert_int_equal(store_device_by_mac(fx->s, MAC_UNKNOWN, &dev), -ENOENT);

	/* Handed out: recorded as a discovered device with the hand-out. */
	f.via = PXE_VIA_HTTP;
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(store_device_by_mac(fx->s, MAC_UNKNOWN, &dev), 0);
	assert_string_equal(dev.name, "unknown-525400aabbcc");
	assert_true(dev.discovered);
	assert_true(dev.has_guid);
	assert_int_equal(dev.arch, 7);
	assert_int_equal(d.device_id, dev.id);
	assert_string_equal(d.device_name, "unknown-525400aabbcc");
	assert_int_equal(store_handout_done(fx->s, dev.id, dep.id), 1);

	/* The reboot during the install: a known device now, loop protected. */
	f.via = PXE_VIA_DHCP;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_int_equal(d.device_id, dev.id);
	assert_non_null(strstr(d.reason, "required deployment 'unknown-x64' already handed out"));
	/* Clear: it runs again, as the discovered device. */
	assert_int_equal(store_handout_clear_device(fx->s, dev.id), 1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.reason, "required deployment 'unknown-x64' (image 'winpe') for "
				      "unknown machines of arch uefi-x64 (device "
				      "'unknown-525400aabbcc'), not yet handed out");
	/* Known devices that were not discovered never get it. */
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.reason, "known device 'vm1', no deployment");
	/* An available unknown-machine deployment records the device too,
	 * without a hand-out. */
	struct store_deployment av = { .name = "unknown-bios", .image_name = "winpe",
				       .target = STORE_TARGET_UNKNOWN, .unknown_arch = PXE_ARCH_BIOS,
				       .purpose = STORE_AVAILABLE, .enabled = true };
	assert_int_equal(store_deployment_add(fx->s, &av), 0);
	uint8_t mac3[MAC_LEN] = { 0x52, 0x54, 0, 3, 3, 3 };
	facts_for(&f, mac3);
	f.arch = 0;
	f.arch_class = PXE_ARCH_BIOS;
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(store_device_by_mac(fx->s, mac3, &dev), 0);
	assert_false(dev.has_guid);
	assert_int_equal(store_handout_done(fx->s, dev.id, av.id), 0);
	assert_int_equal(decide(fx->d, &f, true, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(d.device_id, dev.id);
}

/* Identity conflicts: the SMBIOS GUID, when real, names the machine. */
static void test_identity_conflict(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_device vm2 = { .name = "vm2", .arch = -1, .has_guid = true };
	memcpy(vm2.mac, MAC2, MAC_LEN);
	guid_parse(GUID2, vm2.guid);
	assert_int_equal(store_device_add(fx->s, &vm2), 0);

	/* vm1's USB NIC in vm2: vm2, by its GUID. */
	facts_for(&f, MAC1);
	f.has_guid = true;
	guid_parse(GUID2, f.guid);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.device_name, "vm2");
	/* vm1's NIC in a machine nobody knows: unknown, not vm1. */
	guid_parse(GUID3, f.guid);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_int_equal(d.device_id, 0);
	/* ... and with unknown support on, it is not offered unknown-machine
	 * deployments: its MAC cannot be recorded for a new device. */
	fx->conf.support_unknown = true;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "unknown machine with the MAC of device 'vm1' (another "
				      "GUID); no deployment for unknown machines");
	/* Placeholder GUIDs name nothing: the MAC decides. */
	memset(f.guid, 0, GUID_LEN);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.device_name, "vm1");
	memset(f.guid, 0xff, GUID_LEN);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.device_name, "vm1");
	f.has_guid = false;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.device_name, "vm1");
	/* A device without a GUID keeps its MAC whatever GUID is sent. */
	struct store_device vm1;
	assert_int_equal(store_device_by_name(fx->s, "vm1", &vm1), 0);
	vm1.has_guid = false;
	assert_int_equal(store_device_update(fx->s, &vm1), 0);
	f.has_guid = true;
	guid_parse(GUID3, f.guid);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_string_equal(d.device_name, "vm1");
}

static void test_window(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	int64_t now = (int64_t)time(NULL);
	add_image(fx->s, "debian");
	struct store_deployment dep = { .name = "later", .image_name = "debian",
					.device_name = "vm1", .purpose = STORE_REQUIRED,
					.enabled = true, .available_from = now + 3600 };
	assert_int_equal(store_deployment_add(fx->s, &dep), 0);
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_int_equal(store_deployment_set_window(fx->s, "later", now - 10, now + 3600), 0);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(store_deployment_set_window(fx->s, "later", 0, now - 1), 0);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_int_equal(store_deployment_set_window(fx->s, "later", now, now - 1), -EINVAL);
	assert_int_equal(store_deployment_set_window(fx->s, "nope", 0, 0), -ENOENT);
}

static void test_maintain_prunes(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_event ev = { .time_ms = 1000, .arch = -1, .via = "dhcp", .outcome = "local",
				  .reason = "old" };
	assert_int_equal(store_event_add(fx->s, &ev), 0);
	facts_for(&f, MAC1);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 1);
	/* Queued events older than the batch delay go out; old ones are
	 * pruned (once an hour). */
	usleep(120 * 1000);
	assert_true(decider_maintain(fx->d, 30) > 0);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 1);
	assert_string_equal(ev.reason, "known device 'vm1', no deployment");
	assert_int_equal(decider_events_prune(fx->d, 0), 0);
	/* Batching off: written at once. */
	decider_set_event_batch(fx->d, 1, 0);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(store_event_list(fx->s, 0, 0, 0, count_events, &ev), 2);
}

/* decide_cached(): the loop's answer.  With another connection holding
 * the write lock, a cached answer still comes at once, from memory; its
 * event waits in the queue.  A miss, a store change or a settings rule
 * behave as the loop needs. */
static void test_decide_cached(void **state)
{
	if (tmpdb_is_pg())
		skip(); /* reaches into the SQLite file */
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d, c;
	struct decider_cache_stats st;
	sqlite3 *other;
	add_image(fx->s, "debian");
	add_dep(fx->s, "D1", "debian", STORE_AVAILABLE, 0);
	fx->conf.cache_expire = 3600;
	facts_for(&f, MAC1);

	assert_int_equal(decide_cached(fx->d, &f, &c), 0); /* not decided yet */
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(decider_events_flush(fx->d), 1);

	assert_int_equal(sqlite3_open(fx->t.path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	uint64_t t0 = now_ms();
	assert_int_equal(decide_cached(fx->d, &f, &c), 1);
	decide_record(fx->d, &f, &c);
	assert_true(now_ms() - t0 < 100);
	assert_int_equal(c.outcome, DECISION_BOOT);
	assert_string_equal(c.reason, d.reason);
	assert_string_equal(c.deployment_name, "D1");
	decider_cache_stats(fx->d, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.events_queued, 1);
	/* The settings rules answer without the cache. */
	fx->conf.is_active = false;
	facts_for(&f, MAC_UNKNOWN);
	assert_int_equal(decide_cached(fx->d, &f, &c), 1);
	decide_record(fx->d, &f, &c);
	assert_int_equal(c.outcome, DECISION_IGNORE);
	fx->conf.is_active = true;
	assert_int_equal(decide_cached(fx->d, &f, &c), 0); /* unknown: the store decides */
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(decider_events_flush(fx->d), 2);

	/* A change to the store: the entry is stale, decide() must run. */
	facts_for(&f, MAC1);
	add_dep(fx->s, "D2", "debian", STORE_AVAILABLE, 1);
	assert_int_equal(decide_cached(fx->d, &f, &c), 0);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(decide_cached(fx->d, &f, &c), 1);
}

/* ---- deciding, then recording ------------------------------------------- */

static int events_in_store(struct fx *fx, struct store_event *last)
{
	decider_events_flush(fx->d);
	return store_event_list(fx->s, 0, 0, 0, count_events, last);
}

/* decide_open() leaves the event to decide_record(), which records the
 * decision as it is then -- overrides included -- and only once; a
 * decision never recorded leaves no event. */
static void test_record_after_override(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_event ev;
	add_image(fx->s, "debian");
	add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	facts_for(&f, MAC1);

	assert_int_equal(decide_open(fx->d, &f, false, DECIDE_CHOICE_NONE, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_true(d.rec.pending);
	assert_int_equal(events_in_store(fx, &ev), 0);
	decide_override(&d, &f, DECIDE_OVR_GRUB_PASSWORD, NULL);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	decide_record(fx->d, &f, &d);
	assert_false(d.rec.pending);
	assert_int_equal(events_in_store(fx, &ev), 1);
	assert_string_equal(ev.outcome, "local");
	assert_string_equal(ev.reason, "deployment 'D1' needs PXEPassword, which GRUB machines "
				       "are asked only with PXEPasswordGRUB = yes: local");
	assert_string_equal(ev.deployment_name, "D1");
	decide_record(fx->d, &f, &d); /* once */
	assert_int_equal(events_in_store(fx, &ev), 1);

	/* Superseded, never recorded: no event. */
	f.via = PXE_VIA_HTTP;
	assert_int_equal(decide_open(fx->d, &f, false, DECIDE_CHOICE_NONE, &d), 0);
	assert_int_equal(events_in_store(fx, &ev), 1);
	/* The loop's answer waits the same way. */
	if (tmpdb_is_pg())
		return; /* the generation peek is SQLite's */
	fx->conf.cache_expire = 3600;
	f.via = PXE_VIA_DHCP;
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(events_in_store(fx, &ev), 2);
	assert_int_equal(decide_cached(fx->d, &f, &d), 1);
	decide_override(&d, &f, DECIDE_OVR_NO_BOOT_PROGRAM, NULL);
	decide_record(fx->d, &f, &d);
	assert_int_equal(events_in_store(fx, &ev), 3);
	assert_string_equal(ev.outcome, "ignore");
	assert_string_equal(ev.reason, "not serviced: no boot program for architecture 7");
}

/* A hand-out the client does not get is taken back: the event says
 * local, and the deployment is still due at the next boot. */
static void test_withdraw(void **state)
{
	struct fx *fx = *state;
	struct pxe_facts f;
	struct decision d;
	struct store_event ev;
	add_image(fx->s, "debian");
	int64_t dep = add_dep(fx->s, "D1", "debian", STORE_REQUIRED, 0);
	facts_for(&f, MAC1);
	f.via = PXE_VIA_HTTP;
	f.is_ipxe = true;

	assert_int_equal(decide_open(fx->d, &f, true, DECIDE_CHOICE_NONE, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, dep), 1);
	decide_withdraw(fx->d, &d, &f, DECIDE_OVR_RENDER_FAILED,
			"image 'debian' command line: variable 'x' is not defined");
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "deployment 'D1' not started: image 'debian' command line: "
				      "variable 'x' is not defined");
	assert_int_equal(store_handout_done(fx->s, fx->dev_id, dep), 0);
	decide_record(fx->d, &f, &d);
	assert_int_equal(events_in_store(fx, &ev), 1);
	assert_string_equal(ev.outcome, "local");
	assert_string_equal(ev.reason, d.reason);
	assert_int_equal(decide(fx->d, &f, false, &d), 0);
	assert_int_equal(d.outcome, DECISION_BOOT);
}

/* The overrides' words: the password ones keep the decision and say what
 * was asked after its reason (cutting the reason, not the words). */
static void test_overrides(void **state)
{
	struct pxe_facts f;
	struct decision d = { .outcome = DECISION_BOOT, .required = true };
	(void)state;
	facts_for(&f, MAC1);
	snprintf(d.deployment_name, sizeof(d.deployment_name), "D1");
	snprintf(d.reason, sizeof(d.reason), "required deployment 'D1', not yet handed out");
	decide_override(&d, &f, DECIDE_OVR_PASSWORD_ASKED, NULL);
	assert_int_equal(d.outcome, DECISION_BOOT);
	assert_string_equal(d.reason, "required deployment 'D1', not yet handed out: PXEPassword asked");
	memset(d.reason, 'x', sizeof(d.reason) - 1);
	d.reason[sizeof(d.reason) - 1] = '\0';
	decide_override(&d, &f, DECIDE_OVR_PASSWORD_WRONG, NULL);
	assert_int_equal(strlen(d.reason), sizeof(d.reason) - 1);
	assert_non_null(strstr(d.reason, "x: wrong PXE password, asked again"));
	decide_override(&d, &f, DECIDE_OVR_PASSWORD_LOCKED, NULL);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "too many wrong PXE passwords, try later");
	assert_string_equal(d.deployment_name, "D1");
	d.outcome = DECISION_BOOT;
	decide_override(&d, &f, DECIDE_OVR_UNSERVABLE, NULL);
	assert_int_equal(d.outcome, DECISION_LOCAL);
	assert_string_equal(d.reason, "image cannot be served, see server log");
	decide_override(&d, &f, DECIDE_OVR_GRUB_MISSING, "grub-efi-arm64-bin");
	assert_int_equal(d.outcome, DECISION_IGNORE);
	assert_string_equal(d.reason, "not serviced: GRUB boot loader not installed (Debian "
				      "packages grub-efi-arm64-bin)");
}

static void test_names(void **state)
{
	assert_string_equal(decision_outcome_name(DECISION_BOOT), "boot");
	assert_string_equal(decision_outcome_name(DECISION_LOCAL), "local");
	assert_string_equal(decision_outcome_name(DECISION_IGNORE), "ignore");
	struct decider *d = (void *)1;
	struct pxed_conf c = { 0 };
	assert_int_equal(decider_new(&c, NULL, &d), -EINVAL);
	assert_null(d);
	decider_free(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_inactive),
		T(test_unknown_not_supported),
		T(test_unknown_supported),
		T(test_known_by_guid),
		T(test_batch_same_as_single),
		T(test_known_no_deployment),
		T(test_required_commit),
		T(test_available),
		T(test_available_choice),
		T(test_required_before_available),
		T(test_events_recorded),
		T(test_store_error),
		T(test_decision_log),
		T(test_ignore_list),
		T(test_bind_policy),
		T(test_response_delay),
		T(test_rule_order),
		T(test_collection_target),
		T(test_image_arch),
		T(test_unknown_machine),
		T(test_identity_conflict),
		T(test_window),
		T(test_maintain_prunes),
		T(test_decide_cached),
		T(test_record_after_override),
		T(test_withdraw),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_names),
	};
#undef T
	return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}

/* bench_decide: decision times at fleet scale, uncached and cached, and
 * what a boot event costs written alone or in a batch.
 *   build/bench/bench_decide [DIR | postgresql://...] [N]
 * Creates DIR/bench.db (default /tmp), or fills the given (empty)
 * PostgreSQL database, holding 100,000 devices, 1,000
 * collections (each device in 1-3 of them), 50 images and 10,000
 * deployments (half for single devices, half for collections, a few for
 * unknown machines), loaded in one transaction; then times N random
 * decisions (default 20,000) without the cache and with a warm cache, and
 * prints median and p99 of each; uncached decisions also in batches of 32
 * and 64 (decide_batch(), as the DHCP responder's worker; BENCH_BATCH=0
 * skips them; BENCH_ONLY=batch runs only the batches of 64). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "store/store.h"

#define DEVICES 100000
#define COLLECTIONS 1000
#define IMAGES 50
#define DEPLOYMENTS 10000
#define UNKNOWN_DEPS 8

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void dev_mac(uint32_t i, uint8_t mac[MAC_LEN])
{
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(i >> 16);
	mac[4] = (uint8_t)(i >> 8);
	mac[5] = (uint8_t)i;
}

static void dev_guid(uint32_t i, uint8_t guid[GUID_LEN])
{
	memset(guid, 0x11, GUID_LEN);
	guid[12] = (uint8_t)(i >> 24);
	guid[13] = (uint8_t)(i >> 16);
	guid[14] = (uint8_t)(i >> 8);
	guid[15] = (uint8_t)i;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int load(struct store *s)
{
	char name[64], coll[64];
	int r;
	uint64_t t0 = now_us();
	if ((r = store_bulk_begin(s)) < 0)
		return r;
	for (int i = 0; i < IMAGES; i++) {
		struct store_image im = { 0 };
		snprintf(im.name, sizeof(im.name), "image-%02d", i);
		snprintf(im.kernel, sizeof(im.kernel), "image-%02d/linux", i);
		snprintf(im.initrd, sizeof(im.initrd), "image-%02d/initrd.gz", i);
		snprintf(im.cmdline, sizeof(im.cmdline), "auto=true priority=critical");
		if ((r = store_image_add(s, &im)) < 0)
			return r;
	}
	for (int i = 0; i < COLLECTIONS; i++) {
		struct store_collection c = { 0 };
		snprintf(c.name, sizeof(c.name), "coll-%04d", i);
		if ((r = store_collection_add(s, &c)) < 0)
			return r;
	}
	for (uint32_t i = 0; i < DEVICES; i++) {
		struct store_device dev = { .arch = -1, .has_guid = true };
		snprintf(dev.name, sizeof(dev.name), "dev-%06u", i);
		dev_mac(i, dev.mac);
		dev_guid(i, dev.guid);
		if ((r = store_device_add(s, &dev)) < 0)
			return r;
		int in = 1 + (int)rnd(3);
		for (int k = 0; k < in; k++) {
			snprintf(coll, sizeof(coll), "coll-%04u", rnd(COLLECTIONS));
			if ((r = store_collection_add_device(s, coll, dev.name)) < 0)
				return r;
		}
	}
	for (int i = 0; i < DEPLOYMENTS; i++) {
		struct store_deployment dep = { .enabled = true, .created = 1000 + i };
		snprintf(dep.name, sizeof(dep.name), "dep-%05d", i);
		snprintf(dep.image_name, sizeof(dep.image_name), "image-%02u", rnd(IMAGES));
		dep.purpose = rnd(3) ? STORE_REQUIRED : STORE_AVAILABLE;
		if (i < UNKNOWN_DEPS) {
			dep.target = STORE_TARGET_UNKNOWN;
			dep.unknown_arch = i % 4;
		} else if (i % 2) {
			snprintf(dep.collection_name, sizeof(dep.collection_name), "coll-%04u",
				 rnd(COLLECTIONS));
		} else {
			snprintf(dep.device_name, sizeof(dep.device_name), "dev-%06u", rnd(DEVICES));
		}
		if ((r = store_deployment_add(s, &dep)) < 0)
			return r;
	}
	/* Some devices already ran a required deployment. */
	for (int i = 0; i < 2000; i++) {
		struct store_device dev;
		snprintf(name, sizeof(name), "dev-%06u", rnd(DEVICES));
		if (store_device_by_name(s, name, &dev) == 0)
			store_handout_record(s, dev.id, 1 + rnd(DEPLOYMENTS), 1000);
	}
	if ((r = store_bulk_end(s, true)) < 0)
		return r;
	printf("load: %d devices, %d collections, %d deployments in one transaction: %.2f s\n",
	       DEVICES, COLLECTIONS, DEPLOYMENTS, (double)(now_us() - t0) / 1e6);
	return 0;
}

/* Time n decisions for random devices (1 in 50 an unknown MAC). */
static bool loop_path; /* time decide_cached(), pxed's event-loop answer */
/* Writes queued, as on pxed's workers: the boot events and last-seen
 * times written every QUEUED_FLUSH decisions (decider_events_flush()),
 * outside a decision's time, inside the per-second figure. */
static bool queued;
#define QUEUED_FLUSH 256

static int run(struct decider *d, long n, uint64_t *lat, const char *what)
{
	int counts[3] = { 0 };
	long misses = 0;
	for (long i = 0; i < n; i++) {
		struct pxe_facts f = { .has_arch = true, .arch = 7, .arch_class = PXE_ARCH_UEFI_X64,
				       .ifname = "br0", .has_guid = true, .secs = 4 };
		struct decision dec;
		uint32_t dev = rnd(DEVICES);
		dev_mac(dev, f.mac);
		dev_guid(dev, f.guid);
		if (rnd(50) == 0) {
			f.mac[2] = 0x01; /* unknown */
			f.has_guid = false;
		}
		uint64_t t0 = now_us();
		int r = 0;
		if (!loop_path)
			r = decide(d, &f, false, &dec);
		else if (!decide_cached(d, &f, &dec)) {
			misses++; /* would go to the worker */
			dec.outcome = DECISION_IGNORE;
		} else {
			decide_record(d, &f, &dec); /* the event, as the responder does */
		}
		lat[i] = now_us() - t0;
		if (queued && i % QUEUED_FLUSH == QUEUED_FLUSH - 1)
			decider_events_flush(d);
		if (r < 0) {
			fprintf(stderr, "bench: %s: decision failed: %s\n", what, dec.reason);
			return -1;
		}
		counts[dec.outcome]++;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	uint64_t sum = 0;
	for (long i = 0; i < n; i++)
		sum += lat[i];
	printf("%-36s %ld decisions: median %llu us, p99 %llu us, p99.9 %llu us, mean %.1f us, "
	       "max %llu us (boot %d, local %d, ignore %d)\n",
	       what, n, (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100],
	       (unsigned long long)lat[n * 999 / 1000], (double)sum / (double)n,
	       (unsigned long long)lat[n - 1], counts[DECISION_BOOT],
	       counts[DECISION_LOCAL], counts[DECISION_IGNORE]);
	if (misses)
		printf("%-36s %ld not answered from the cache\n", "", misses);
	return 0;
}

/* Uncached decisions from `threads` threads at once, as pxed's workers
 * make them: decisions per second. */
struct par {
	struct decider *d;
	long n;
	uint64_t seed;
	int failed;
};

static void *par_run(void *p)
{
	struct par *a = p;
	uint64_t x = a->seed;
	for (long i = 0; i < a->n; i++) {
		struct pxe_facts f = { .has_arch = true, .arch = 7, .arch_class = PXE_ARCH_UEFI_X64,
				       .ifname = "br0", .has_guid = true, .secs = 4 };
		struct decision dec;
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t dev = (uint32_t)((x >> 33) % DEVICES);
		dev_mac(dev, f.mac);
		dev_guid(dev, f.guid);
		if (decide(a->d, &f, false, &dec) < 0)
			a->failed++;
		if (queued && i % QUEUED_FLUSH == QUEUED_FLUSH - 1)
			decider_events_flush(a->d);
	}
	if (queued)
		decider_events_flush(a->d);
	return NULL;
}

static void run_parallel(struct decider *d, long n, unsigned threads)
{
	pthread_t th[16];
	struct par a[16];
	uint64_t t0 = now_us();
	int failed = 0;
	for (unsigned i = 0; i < threads; i++) {
		a[i] = (struct par){ d, n / threads, 1234567 + i, 0 };
		pthread_create(&th[i], NULL, par_run, &a[i]);
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		failed += a[i].failed;
	}
	double s = (double)(now_us() - t0) / 1e6;
	printf("%-36s %ld decisions in %.2f s: %.0f decisions/s%s\n",
	       queued ? "uncached, writes queued, parallel:" : "uncached, parallel:",
	       n / threads * threads, s, (double)(n / threads * threads) / s,
	       failed ? " (some failed)" : "");
	printf("%-36s %u threads (as many as the store serves at once)\n", "", threads);
}

/* Uncached decisions in batches of `batch`, as the DHCP responder's
 * worker makes them (decide_batch(): one read for the batch, writes
 * queued), from `threads` threads at once: per decision, the batch's time
 * over its size (median, p99), and decisions per second overall. */
struct bat {
	struct decider *d;
	long n;
	size_t batch;
	uint64_t seed;
	uint64_t *lat; /* per batch: its time / batch */
	long batches;
	int failed;
};

static void *bat_run(void *p)
{
	struct bat *a = p;
	uint64_t x = a->seed;
	struct pxe_facts *f = calloc(a->batch, sizeof(*f));
	struct decision *dec = calloc(a->batch, sizeof(*dec));
	const struct pxe_facts **fp = calloc(a->batch, sizeof(*fp));
	struct decision **dp = calloc(a->batch, sizeof(*dp));
	if (!f || !dec || !fp || !dp) {
		a->failed++;
		goto out;
	}
	for (long done = 0; done + (long)a->batch <= a->n; done += (long)a->batch) {
		for (size_t i = 0; i < a->batch; i++) {
			f[i] = (struct pxe_facts){ .has_arch = true, .arch = 7,
						   .arch_class = PXE_ARCH_UEFI_X64,
						   .ifname = "br0", .has_guid = true, .secs = 4 };
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			uint32_t dev = (uint32_t)((x >> 33) % DEVICES);
			dev_mac(dev, f[i].mac);
			dev_guid(dev, f[i].guid);
			if ((x >> 20) % 50 == 0) {
				f[i].mac[2] = 0x01; /* unknown */
				f[i].has_guid = false;
			}
			fp[i] = &f[i];
			dp[i] = &dec[i];
		}
		uint64_t t0 = now_us();
		decide_batch(a->d, fp, dp, a->batch);
		a->lat[a->batches++] = (now_us() - t0) / a->batch;
		for (size_t i = 0; i < a->batch; i++) {
			if (!strncmp(dec[i].reason, "not serviced: store error", 25))
				a->failed++;
			decide_record(a->d, &f[i], &dec[i]);
		}
		if (a->batches % (QUEUED_FLUSH / (long)a->batch + 1) == 0)
			decider_events_flush(a->d);
	}
	decider_events_flush(a->d);
out:
	free(f);
	free(dec);
	free(fp);
	free(dp);
	return NULL;
}

static void run_batched(struct decider *d, long n, size_t batch, unsigned threads)
{
	pthread_t th[16];
	struct bat a[16];
	uint64_t *lat = calloc((size_t)n / batch + threads, sizeof(*lat));
	long nb = 0, done = 0;
	int failed = 0;
	char what[64];
	if (!lat)
		return;
	uint64_t t0 = now_us();
	for (unsigned i = 0; i < threads; i++) {
		a[i] = (struct bat){ .d = d, .n = n / threads, .batch = batch, .seed = 7654321 + i,
				     .lat = lat + nb };
		nb += a[i].n / (long)batch;
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, bat_run, &a[i]);
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		failed += a[i].failed;
		done += a[i].batches * (long)batch;
	}
	double s = (double)(now_us() - t0) / 1e6;
	nb = done / (long)batch;
	qsort(lat, (size_t)nb, sizeof(*lat), cmp_u64);
	snprintf(what, sizeof(what), "uncached, batches of %zu, %u thread%s:", batch, threads,
		 threads > 1 ? "s" : "");
	printf("%-36s %ld decisions in %.2f s: %.0f decisions/s; per decision median %llu us, "
	       "p99 %llu us%s\n", what, done, s, (double)done / s,
	       (unsigned long long)lat[nb / 2], (unsigned long long)lat[nb * 99 / 100],
	       failed ? " (some failed)" : "");
	free(lat);
}

/* Cross-server invalidation: a change through one handle, then the time
 * until a second handle (another server) reports the new generation --
 * from then on its cache answers nothing older.  Median and p99 of n. */
static void bench_invalidation(struct store *a, const char *url, int n)
{
	struct store *b;
	uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	if (!lat || store_open(url, &b) < 0) {
		fprintf(stderr, "bench: second handle: %s\n", store_open_error());
		free(lat);
		return;
	}
	for (int i = 0; i < n; i++) {
		if (store_deployment_set_enabled(a, "dep-00000", i % 2) < 0)
			break;
		uint64_t want = store_generation(a), t0 = now_us();
		while (store_generation(b) < want && now_us() - t0 < 5000000)
			;
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	printf("%-36s %d changes: median %llu us, p99 %llu us, max %llu us\n",
	       "invalidation, change on A -> B:", n, (unsigned long long)lat[n / 2],
	       (unsigned long long)lat[n * 99 / 100], (unsigned long long)lat[n - 1]);
	store_close(b);
	free(lat);
}

/* The cost the event queue saves: one autocommit INSERT per event against
 * one transaction per batch. */
static void bench_events(struct store *s)
{
	enum { N = 2000, BATCH = 256 };
	static struct store_event evs[BATCH];
	uint64_t t0 = now_us();
	for (int i = 0; i < N; i++) {
		struct store_event ev = { .time_ms = i, .arch = 7, .via = "dhcp",
					  .outcome = "local", .reason = "known device, no deployment" };
		store_event_add(s, &ev);
	}
	double single = (double)(now_us() - t0) / N;
	for (int i = 0; i < BATCH; i++)
		evs[i] = (struct store_event){ .time_ms = i, .arch = 7, .via = "dhcp",
					       .outcome = "local",
					       .reason = "known device, no deployment" };
	t0 = now_us();
	for (int i = 0; i < N / BATCH; i++)
		store_event_add_many(s, evs, BATCH);
	double batched = (double)(now_us() - t0) / (double)(N / BATCH * BATCH);
	printf("event write: %.1f us each alone (autocommit), %.2f us each in batches of %d\n",
	       single, batched, BATCH);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long n = argc > 2 ? atol(argv[2]) : 20000;
	char path[512], url[600], p2[600];
	struct store *s;
	struct decider *d;
	struct pxed_conf conf;
	uint64_t *lat;

	bool pg = strncmp(dir, "postgresql:", 11) == 0;
	/* BENCH_KEEP=1: keep the database for the next run, and use one
	 * that holds the whole load already (runs of two builds on the
	 * same data, taking turns). */
	bool keep = getenv("BENCH_KEEP") && !strcmp(getenv("BENCH_KEEP"), "1");
	if (n < 100)
		n = 100;
	log_set_level(LOG_LVL_ERROR);
	snprintf(path, sizeof(path), "%s/bench.db", pg ? "/nonexistent" : dir);
	if (!keep) {
		unlink(path);
		snprintf(p2, sizeof(p2), "%s-wal", path);
		unlink(p2);
		snprintf(p2, sizeof(p2), "%s-shm", path);
		unlink(p2);
	}
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if (pg)
		snprintf(url, sizeof(url), "%s", dir);
	printf("store: %s\n", pg ? "postgresql" : "sqlite");
	if (store_open(url, &s) < 0) {
		fprintf(stderr, "bench: %s\n", store_open_error());
		return 1;
	}
	struct store_deployment last;
	char lastname[64];
	snprintf(lastname, sizeof(lastname), "dep-%05d", DEPLOYMENTS - 1);
	if (keep && store_deployment_by_name(s, lastname, &last) == 0) {
		printf("load: the database of an earlier run\n");
	} else if (load(s) < 0) {
		fprintf(stderr, "bench: load: %s\n", store_last_error(s));
		return 1;
	}
	memset(&conf, 0, sizeof(conf));
	conf.is_active = true;
	conf.support_unknown = true;
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat || decider_new(&conf, s, &d) < 0)
		return 1;

	conf.cache_expire = 0;
	/* BENCH_ONLY=batch: the DHCP batches alone (for a profiler). */
	if (getenv("BENCH_ONLY") && !strcmp(getenv("BENCH_ONLY"), "batch")) {
		unsigned par = store_parallel(s) > 1 ? store_parallel(s) : 1;
		decider_set_event_flush_inline(d, false);
		queued = true;
		run_batched(d, n, 64, 1);
		if (par > 1)
			run_batched(d, n, 64, par);
		decider_events_flush(d);
		decider_free(d);
		store_close(s);
		free(lat);
		return 0;
	}
	if (run(d, n, lat, "uncached (CacheExpire 0):") < 0)
		return 1;
	run_parallel(d, n, store_parallel(s) > 1 ? store_parallel(s) : 1);
	/* The same as pxed's workers decide: no write waits in a decision. */
	decider_set_event_flush_inline(d, false);
	queued = true;
	if (run(d, n, lat, "uncached, writes queued:") < 0)
		return 1;
	run_parallel(d, n, store_parallel(s) > 1 ? store_parallel(s) : 1);
	queued = false;
	decider_events_flush(d);
	/* The DHCP responder's worker: decide_batch() (BENCH_BATCH=0: skip). */
	if (!getenv("BENCH_BATCH") || strcmp(getenv("BENCH_BATCH"), "0")) {
		unsigned par = store_parallel(s) > 1 ? store_parallel(s) : 1;
		run_batched(d, n, 32, 1);
		run_batched(d, n, 64, 1);
		if (par > 1)
			run_batched(d, n, 64, par);
	}
	decider_set_event_flush_inline(d, true);

	/* Warm: the same n clients asked twice, as DHCP DISCOVER then
	 * REQUEST (and firmware retries) do. */
	conf.cache_expire = 3600;
	decider_settings_changed(d);
	uint64_t seed = rng;
	if (run(d, n, lat, "cache cold (first ask):") < 0)
		return 1;
	rng = seed;
	if (run(d, n, lat, "cached (CacheExpire 3600, warm):") < 0)
		return 1;
	/* The decision alone: events queued, written afterwards (as a worker
	 * thread would, see decider_set_event_batch()). */
	decider_set_event_batch(d, UINT_MAX, UINT_MAX);
	rng = seed;
	if (run(d, n, lat, "cached, events written by a worker:") < 0)
		return 1;
	/* What pxed's loop does: decide_cached(), no store call but the
	 * generation probe (the worker writes the events). */
	decider_set_event_flush_inline(d, false);
	loop_path = true;
	rng = seed;
	if (run(d, n, lat, "loop path, decide_cached() (warm):") < 0)
		return 1;
	loop_path = false;
	decider_events_flush(d);
	struct decider_cache_stats st;
	decider_cache_stats(d, &st);
	printf("cache: %zu entries, %llu hits, %llu misses, %llu invalidations\n", st.entries,
	       (unsigned long long)st.hits, (unsigned long long)st.misses,
	       (unsigned long long)st.invalidations);

	decider_free(d);
	bench_invalidation(s, url, 200);
	bench_events(s);
	free(lat);
	store_close(s);
	if (keep)
		return 0;
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	return 0;
}

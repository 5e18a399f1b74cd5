/* bench_decide: how long one uncached decision takes on SQLite.
 *   build/bench/bench_decide [DIR] [N]
 * Creates DIR/bench.db (default /tmp) with 100 devices, each with a
 * required and an available deployment, then times N decisions spread over
 * the devices, as a hundred machines booting at once would ask. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "store/store.h"

#define DEVICES 100

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long n = argc > 2 ? atol(argv[2]) : 20000;
	char path[512], url[600], p2[600];
	struct store *s;
	struct decider *d;
	struct pxed_conf conf;
	struct store_image im = { .name = "debian", .kernel = "debian/linux",
				  .initrd = "debian/initrd.gz" };

	snprintf(path, sizeof(path), "%s/bench.db", dir);
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if (store_open(url, &s) < 0) {
		fprintf(stderr, "bench: %s\n", store_open_error());
		return 1;
	}
	memset(&conf, 0, sizeof(conf));
	conf.is_active = true;
	if (decider_new(&conf, s, &d) < 0 || store_image_add(s, &im) < 0)
		return 1;
	for (int i = 0; i < DEVICES; i++) {
		struct store_device dev = { .arch = -1 };
		struct store_deployment dep = { .image_id = im.id, .enabled = true };
		snprintf(dev.name, sizeof(dev.name), "lab-%03d", i);
		uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, (uint8_t)i };
		memcpy(dev.mac, mac, MAC_LEN);
		if (store_device_add(s, &dev) < 0)
			return 1;
		dep.device_id = dev.id;
		snprintf(dep.name, sizeof(dep.name), "req-%03d", i);
		dep.purpose = STORE_REQUIRED;
		if (store_deployment_add(s, &dep) < 0)
			return 1;
		snprintf(dep.name, sizeof(dep.name), "avail-%03d", i);
		dep.purpose = STORE_AVAILABLE;
		if (store_deployment_add(s, &dep) < 0)
			return 1;
	}

	uint64_t t0 = now_us();
	for (long i = 0; i < n; i++) {
		struct pxe_facts f = { .has_arch = true, .arch = 7, .arch_class = PXE_ARCH_UEFI_X64,
				       .ifname = "br0" };
		struct decision dec;
		uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0, 0, 0, (uint8_t)(i % DEVICES) };
		memcpy(f.mac, mac, MAC_LEN);
		if (decide(d, &f, false, &dec) < 0 || dec.outcome != DECISION_BOOT) {
			fprintf(stderr, "bench: unexpected decision: %s\n", dec.reason);
			return 1;
		}
	}
	uint64_t dt = now_us() - t0;
	printf("decide (uncached, SQLite, event per decision): %ld decisions in %.1f ms, "
	       "%.1f us each, %.0f/s\n",
	       n, dt / 1000.0, (double)dt / (double)n, n * 1e6 / (double)dt);
	decider_free(d);
	store_close(s);
	return 0;
}

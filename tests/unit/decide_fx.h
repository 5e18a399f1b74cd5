/* decide_fx: the fixture of the decide and cache tests, a decider with PXE
 * active over a fresh SQLite store that holds one device, "vm1" (MAC1,
 * GUID1). */
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "decide/decide.h"
#include "store/store.h"
#include "tmpdb.h"

static const uint8_t MAC1[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const char *GUID1 = "8a3c0f2e-1b2c-4d5e-8f90-0123456789ab";

struct fx {
	struct tmpdb t;
	struct store *s;
	struct pxed_conf conf;
	struct decider *d;
	int64_t dev_id; /* vm1 */
	int64_t now_ms; /* the decider's clock, for a test that sets fx_clock */
};

static inline int64_t fx_clock(void *ctx)
{
	return ((struct fx *)ctx)->now_ms;
}

/* Open the store, start the decider on fx->conf (the caller's settings,
 * with PXE active) and add vm1.  -1 on failure. */
static inline int fx_open(struct fx *fx)
{
	struct store_device dev = { .name = "vm1", .arch = -1 };
	if (tmpdb_make(&fx->t) < 0 || store_open(fx->t.url, &fx->s) < 0)
		return -1;
	fx->conf.is_active = true;
	if (decider_new(&fx->conf, fx->s, &fx->d) < 0)
		return -1;
	memcpy(dev.mac, MAC1, MAC_LEN);
	dev.has_guid = true;
	guid_parse(GUID1, dev.guid);
	if (store_device_add(fx->s, &dev) < 0)
		return -1;
	fx->dev_id = dev.id;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *fx = *state;
	decider_free(fx->d);
	store_close(fx->s);
	tmpdb_remove(&fx->t);
	free(fx);
	return 0;
}

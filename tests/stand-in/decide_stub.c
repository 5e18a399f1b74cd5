/* STAND-IN, delete at merge: a tiny decide() with the announced rules --
 * unknown machine: ignore; required deployment not yet handed out: boot
 * (and record the hand-out when commit); then available: boot; else local.
 * Records one event per decision. */
#include "decide/decide.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "store/store.h"

struct decider {
	struct store *store;
};

const char *decision_outcome_name(enum decision_outcome o)
{
	return o == DECISION_BOOT ? "boot" : o == DECISION_LOCAL ? "local" : "ignore";
}

const char *pxe_arch_class_name(enum pxe_arch_class a)
{
	static const char *const n[] = { "bios", "uefi-x86", "uefi-x64", "uefi-arm64", "uefi-http",
					  "other" };
	return n[a];
}

enum pxe_arch_class pxe_arch_classify(uint16_t arch)
{
	switch (arch) {
	case 0: return PXE_ARCH_BIOS;
	case 6: return PXE_ARCH_UEFI_X86;
	case 7: case 9: return PXE_ARCH_UEFI_X64;
	case 11: return PXE_ARCH_UEFI_ARM64;
	case 16: return PXE_ARCH_UEFI_HTTP;
	default: return PXE_ARCH_OTHER;
	}
}

int decider_new(const struct pxed_conf *conf, struct store *store, struct decider **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->store = store;
	return 0;
}

void decider_free(struct decider *d) { free(d); }

struct pick {
	struct store *store;
	int64_t device_id;
	struct store_deployment dep;
	bool found, handed;
};

static int pick_cb(void *ctx, const struct store_deployment *d)
{
	struct pick *p = ctx;
	if (d->purpose == STORE_REQUIRED && store_handout_done(p->store, p->device_id, d->id) == 1) {
		p->handed = true;
		return 0;
	}
	p->dep = *d;
	p->found = true;
	return 1;
}

int decide(struct decider *dc, const struct pxe_facts *f, bool commit, struct decision *out)
{
	struct store_device dev;
	struct store_image im;
	struct pick p = { .store = dc->store };
	struct store_event ev = { 0 };
	struct timeval tv;

	memset(out, 0, sizeof(*out));
	if (store_device_by_mac(dc->store, f->mac, &dev) < 0) {
		out->outcome = DECISION_IGNORE;
		snprintf(out->reason, sizeof(out->reason), "unknown machine");
		goto event;
	}
	out->device_id = dev.id;
	snprintf(out->device_name, sizeof(out->device_name), "%s", dev.name);
	p.device_id = dev.id;
	store_deployments_for_device(dc->store, dev.id, pick_cb, &p);
	if (!p.found || store_image_by_id(dc->store, p.dep.image_id, &im) < 0) {
		out->outcome = DECISION_LOCAL;
		snprintf(out->reason, sizeof(out->reason), "%s",
			 p.handed ? "required deployment already handed out" : "no deployment");
		goto event;
	}
	out->outcome = DECISION_BOOT;
	out->required = p.dep.purpose == STORE_REQUIRED;
	out->deployment_id = p.dep.id;
	snprintf(out->deployment_name, sizeof(out->deployment_name), "%s", p.dep.name);
	snprintf(out->image_name, sizeof(out->image_name), "%s", im.name);
	snprintf(out->kernel, sizeof(out->kernel), "%s", im.kernel);
	snprintf(out->initrd, sizeof(out->initrd), "%s", im.initrd);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", im.cmdline);
	snprintf(out->nbp, sizeof(out->nbp), "%s", im.nbp);
	snprintf(out->reason, sizeof(out->reason), "%s deployment for device '%s'",
		 out->required ? "required" : "available", dev.name);
	if (commit && out->required)
		store_handout_record(dc->store, dev.id, p.dep.id, 0);
event:
	gettimeofday(&tv, NULL);
	ev.time_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	memcpy(ev.mac, f->mac, MAC_LEN);
	ev.has_guid = f->has_guid;
	memcpy(ev.guid, f->guid, GUID_LEN);
	ev.arch = f->has_arch ? f->arch : -1;
	snprintf(ev.via, sizeof(ev.via), "%s", f->via == PXE_VIA_HTTP ? "http" : "dhcp");
	snprintf(ev.outcome, sizeof(ev.outcome), "%s", decision_outcome_name(out->outcome));
	snprintf(ev.reason, sizeof(ev.reason), "%s", out->reason);
	ev.device_id = out->device_id;
	ev.deployment_id = out->deployment_id;
	snprintf(ev.deployment_name, sizeof(ev.deployment_name), "%s", out->deployment_name);
	store_event_add(dc->store, &ev);
	return 0;
}

void decision_log(const struct pxe_facts *f, const struct decision *d, const char *context)
{
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN] = "-";
	mac_format(f->mac, mac);
	if (f->has_guid)
		guid_format(f->guid, guid);
	log_info("decide", "%s, %s: %s (%s) [%s]", mac, guid, decision_outcome_name(d->outcome),
		 d->reason, context);
}

/* decide: boot / local / ignore for one PXE request.
 *
 * decide() runs in three steps:
 *   1. decide_rules(): read settings and the store, fill the decision.
 *      This is the part a generation-checked cache can answer instead.
 *   2. the side effects of handing the answer out: the hand-out record of
 *      a required deployment (commit only), the device's last-seen time.
 *   3. the boot event, for every decision.
 * The rules are checked in the order below; each sets one reason string
 * that names the rule, so an admin reading the log knows which one fired. */
#include "decide/decide.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "conf/conf.h"
#include "store/store.h"

/* A device's last-seen time is rewritten at most this often (unless its
 * architecture changed), so a PXE storm does not turn into a write storm. */
#define SEEN_REFRESH_S 60

struct decider {
	const struct pxed_conf *conf; /* read on every call: SIGHUP may change it */
	struct store *store;          /* not owned */
};

int decider_new(const struct pxed_conf *conf, struct store *store, struct decider **out)
{
	struct decider *d;
	*out = NULL;
	if (!conf || !store)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->conf = conf;
	d->store = store;
	*out = d;
	return 0;
}

void decider_free(struct decider *d)
{
	free(d);
}

const char *decision_outcome_name(enum decision_outcome o)
{
	switch (o) {
	case DECISION_BOOT:
		return "boot";
	case DECISION_LOCAL:
		return "local";
	case DECISION_IGNORE:
		return "ignore";
	}
	return "?";
}

/* Local copy of pxe_arch_class_name() (src/dhcp/pxe.c) so this module
 * links on its own; the names must stay the same. */
static const char *arch_class_name(enum pxe_arch_class a)
{
	switch (a) {
	case PXE_ARCH_BIOS:
		return "bios";
	case PXE_ARCH_UEFI_X86:
		return "uefi-x86";
	case PXE_ARCH_UEFI_X64:
		return "uefi-x64";
	case PXE_ARCH_UEFI_ARM64:
		return "uefi-arm64";
	case PXE_ARCH_UEFI_HTTP:
		return "uefi-http";
	case PXE_ARCH_OTHER:
		break;
	}
	return "other";
}

__attribute__((format(printf, 2, 3)))
static void reason_set(struct decision *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

static void decision_reset(struct decision *out, enum decision_outcome o)
{
	memset(out, 0, sizeof(*out));
	out->outcome = o;
}

/* Any store failure: nothing is sent, and the reason says why. */
static int store_failed(struct decider *d, struct decision *out, int err, const char *what)
{
	decision_reset(out, DECISION_IGNORE);
	reason_set(out, "not serviced: store error: %s%s", what, store_last_error(d->store));
	return err;
}

static void format_utc(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, 32, "%lld", (long long)t);
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* store_deployments_for_device() callback: keep the first row only. */
struct first_dep {
	bool found;
	struct store_deployment dep;
};

static int take_first(void *ctx, const struct store_deployment *dep)
{
	struct first_dep *fd = ctx;
	fd->dep = *dep;
	fd->found = true;
	return 1;
}

/* Side effects decide() owes the store after the rules answered. */
struct decide_todo {
	bool handout;           /* a required deployment is being handed out */
	struct store_device dev; /* the known device (dev.id 0 = unknown) */
};

/* The rules.  Reads only; fills *out and *todo.  Returns 0 or a negative
 * errno from the store (then *out is an IGNORE naming the error). */
static int decide_rules(struct decider *d, const struct pxe_facts *f, struct decision *out,
			struct decide_todo *todo)
{
	const struct pxed_conf *conf = d->conf;
	struct first_dep fd = { 0 };
	struct store_image im;
	int64_t when = 0;
	int r;

	memset(todo, 0, sizeof(*todo));

	if (!conf->is_active) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: IsActive is off");
		return 0;
	}

	/* MAC first: it is what the firmware is sure of.  The SMBIOS GUID
	 * finds a known machine that came back with another NIC. */
	r = store_device_by_mac(d->store, f->mac, &todo->dev);
	if (r == -ENOENT && f->has_guid)
		r = store_device_by_guid(d->store, f->guid, &todo->dev);
	if (r == -ENOENT) {
		memset(&todo->dev, 0, sizeof(todo->dev));
		if (!conf->support_unknown) {
			decision_reset(out, DECISION_IGNORE);
			reason_set(out, "not serviced: unknown machine and SupportUnknownMachines is off");
		} else {
			decision_reset(out, DECISION_LOCAL);
			reason_set(out, "unknown machine, no deployment for it");
		}
		return 0;
	}
	if (r < 0) {
		memset(&todo->dev, 0, sizeof(todo->dev));
		return store_failed(d, out, r, "");
	}

	r = store_deployments_for_device(d->store, todo->dev.id, take_first, &fd);
	if (r < 0)
		return store_failed(d, out, r, "");

	decision_reset(out, DECISION_LOCAL);
	out->device_id = todo->dev.id;
	snprintf(out->device_name, sizeof(out->device_name), "%s", todo->dev.name);
	if (!fd.found) {
		reason_set(out, "known device '%s', no deployment", todo->dev.name);
		return 0;
	}

	out->deployment_id = fd.dep.id;
	out->required = fd.dep.purpose == STORE_REQUIRED;
	snprintf(out->deployment_name, sizeof(out->deployment_name), "%s", fd.dep.name);
	snprintf(out->image_name, sizeof(out->image_name), "%s", fd.dep.image_name);

	if (out->required) {
		r = store_handout_get(d->store, todo->dev.id, fd.dep.id, &when);
		if (r < 0)
			return store_failed(d, out, r, "");
		if (r > 0) {
			/* The machine already got it: a reboot during the install
			 * must not start it again (PRODUCT.md, "last PXE deployment"). */
			char at[32];
			format_utc(when, at);
			reason_set(out, "required deployment '%s' already handed out at %s; "
					"clear it to run again", fd.dep.name, at);
			return 0;
		}
	}

	r = store_image_by_id(d->store, fd.dep.image_id, &im);
	if (r < 0)
		return store_failed(d, out, r, "");
	out->outcome = DECISION_BOOT;
	snprintf(out->kernel, sizeof(out->kernel), "%s", im.kernel);
	snprintf(out->initrd, sizeof(out->initrd), "%s", im.initrd);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", im.cmdline);
	snprintf(out->nbp, sizeof(out->nbp), "%s", im.nbp);
	if (out->required) {
		todo->handout = true;
		reason_set(out, "required deployment '%s' (image '%s') for device '%s', "
				"not yet handed out", fd.dep.name, im.name, todo->dev.name);
	} else {
		reason_set(out, "available deployment '%s' (image '%s') for device '%s', "
				"boots after a key press", fd.dep.name, im.name, todo->dev.name);
	}
	return 0;
}

static int64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void event_fill(struct store_event *ev, const struct pxe_facts *f,
		       const struct decision *dec, int64_t time_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ms = time_ms;
	memcpy(ev->mac, f->mac, MAC_LEN);
	ev->has_guid = f->has_guid;
	if (f->has_guid)
		memcpy(ev->guid, f->guid, GUID_LEN);
	ev->arch = f->has_arch ? f->arch : -1;
	/* ifname comes from the kernel, not the client, but cap it anyway. */
	snprintf(ev->ifname, sizeof(ev->ifname), "%.*s", (int)sizeof(ev->ifname) - 1, f->ifname);
	snprintf(ev->via, sizeof(ev->via), "%s", f->via == PXE_VIA_HTTP ? "http" : "dhcp");
	snprintf(ev->outcome, sizeof(ev->outcome), "%s", decision_outcome_name(dec->outcome));
	memcpy(ev->reason, dec->reason, sizeof(ev->reason));
	ev->reason[sizeof(ev->reason) - 1] = '\0';
	ev->device_id = dec->device_id;
	ev->deployment_id = dec->deployment_id;
	memcpy(ev->deployment_name, dec->deployment_name, sizeof(ev->deployment_name));
	ev->deployment_name[sizeof(ev->deployment_name) - 1] = '\0';
}

int decide(struct decider *d, const struct pxe_facts *f, bool commit, struct decision *out)
{
	struct decide_todo todo;
	struct store_event ev;
	int64_t t_ms = unix_ms(), t = t_ms / 1000;
	int r, w;

	r = decide_rules(d, f, out, &todo);

	if (r == 0 && commit && todo.handout) {
		/* Record before the client gets the answer: if this fails the
		 * install would restart on every reboot, so send nothing. */
		w = store_handout_record(d->store, todo.dev.id, out->deployment_id, t);
		if (w < 0) {
			char name[64];
			memcpy(name, out->deployment_name, sizeof(name));
			r = store_failed(d, out, w, "");
			reason_set(out, "not serviced: store error: could not record hand-out of "
					"'%.64s': %s", name, store_last_error(d->store));
		}
	}

	if (todo.dev.id) {
		int arch = f->has_arch ? f->arch : -1;
		bool arch_changed = arch >= 0 && arch != todo.dev.arch;
		if (arch_changed || t - todo.dev.last_seen >= SEEN_REFRESH_S) {
			w = store_device_seen(d->store, todo.dev.id, arch, t);
			if (w < 0)
				log_warn("decide", "device '%s': could not record last seen: %s",
					 todo.dev.name, store_last_error(d->store));
		}
	}

	/* The event is the record, not the answer: losing it is worth a
	 * warning, never a client left without a reply. */
	event_fill(&ev, f, out, t_ms);
	w = store_event_add(d->store, &ev);
	if (w < 0)
		log_warn("decide", "could not record boot event: %s", store_last_error(d->store));
	return r;
}

void decision_log(const struct pxe_facts *f, const struct decision *d, const char *context)
{
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN] = "-";
	char what[96], where[IF_NAMESIZE + 8] = "", arch[32];

	mac_format(f->mac, mac);
	if (f->has_guid)
		guid_format(f->guid, guid);
	/* The reason already says required or available and names the image
	 * and device; the head only names what boots, as grep targets. */
	if (d->outcome == DECISION_BOOT)
		snprintf(what, sizeof(what), "boot '%s'", d->deployment_name);
	else
		snprintf(what, sizeof(what), "%s", decision_outcome_name(d->outcome));
	if (f->ifname[0])
		snprintf(where, sizeof(where), " on %.*s", IF_NAMESIZE - 1, f->ifname);
	if (f->has_arch)
		snprintf(arch, sizeof(arch), "%s(%u)", arch_class_name(f->arch_class),
			 (unsigned)f->arch);
	else
		snprintf(arch, sizeof(arch), "not sent");
	log_info("decide", "%s, %s: %s (%s) [%s%s, arch %s, %s]", mac, guid, what, d->reason,
		 context && context[0] ? context : (f->via == PXE_VIA_HTTP ? "http" : "dhcp"),
		 where, arch, f->is_ipxe ? "ipxe" : "pxe");
}

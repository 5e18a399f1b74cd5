/* decide_rules: what a decision is -- the rules that say boot / local /
 * ignore for one PXE request, what committing an answer means, the
 * answer to a prompt, and what happened to the answer afterwards (the
 * overrides).  The order of the rules is in decide.h; each rule sets one
 * reason string that names it, so an admin reading the log knows which
 * one fired.  No event, cache or queue here (decide.c, decide_cache.c,
 * decide_events.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide_int.h"
#include "store/store.h"

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


/* The settings rules, in order, each with its own reason.  They read only
 * the request and the settings (no store), so they run on every request
 * before the cache: ifname and secs, which only they read, stay out of the
 * cache key.  True when one fired (*out filled).  Inside d->lock. */
bool settings_rules(struct decider *d, const struct pxe_facts *f, int64_t now, bool check_file,
		    struct decision *out)
{
	const struct pxed_conf *conf = d->conf;
	if (!conf->is_active) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: IsActive is off");
		return true;
	}
	if (check_file)
		ignore_list_check(d, now, false);
	if (mac_list_contains(&d->ignore, f->mac)) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: MAC on the ignore list %.150s", d->ignore_path);
		return true;
	}
	if (f->ifname[0] && !conf_iface_allowed(conf, f->ifname)) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced: interface %.*s excluded by BindPolicy",
			   (int)strnlen(f->ifname, IF_NAMESIZE), f->ifname);
		return true;
	}
	/* ResponseDelay (seconds) is compared with the client's secs field
	 * (RFC 2131 §2: seconds since it began acquiring): staying silent makes
	 * the firmware retry with a larger secs, and the retry at or past the
	 * delay is answered -- so another PXE server gets the first chance.
	 * Once the client chose our OFFER, its follow-up is answered at once:
	 * holding it back only fails the boot. */
	if (f->via == PXE_VIA_DHCP && !f->chose_us && f->secs < conf->response_delay) {
		decision_reset(out, DECISION_IGNORE);
		reason_set(out, "not serviced yet: secs %u below ResponseDelay %u", (unsigned)f->secs,
			   conf->response_delay);
		return true;
	}
	return false;
}

/* Firmware without a real SMBIOS UUID sends all zeros or all ones: such a
 * value names no machine. */
static bool guid_is_real(const uint8_t g[GUID_LEN])
{
	bool zero = true, ones = true;
	for (size_t i = 0; i < GUID_LEN; i++) {
		zero = zero && g[i] == 0;
		ones = ones && g[i] == 0xff;
	}
	return !zero && !ones;
}

/* The GUID the client sent, NULL unless it is a real one. */
static const uint8_t *client_guid(const struct pxe_facts *f)
{
	return f->has_guid && guid_is_real(f->guid) ? f->guid : NULL;
}

/* Which device is this client?  A PXE client names itself twice: the MAC
 * (chaddr) belongs to the NIC, the SMBIOS GUID (option 97) to the machine.
 * They disagree when a NIC moves -- a USB or dock NIC carried from laptop
 * to laptop, a NIC swapped between servers -- and then the machine is what
 * the admin deployed to, so the rule is:
 *   1. the client sent a real GUID (not an all-0 / all-FF placeholder)
 *      that a device holds: that device, even if the MAC belongs to
 *      another one (logged, naming both);
 *   2. else the device holding the MAC -- unless that device has a GUID of
 *      its own and the client sent a different real one: the NIC is in
 *      another machine, which is unknown (logged; *mac_owner names the
 *      device, since the MAC cannot be recorded for a new device);
 *   3. else an unknown machine.
 * by_mac / by_guid are the devices holding the MAC and the GUID (rm, rg 0:
 * found), as the store read them (store_decide_read(), asked for the GUID
 * only when client_guid() gives one).  Returns 0 (found, *dev filled) or
 * -ENOENT (unknown). */
static int identify(const struct pxe_facts *f, const struct store_device *by_mac, int rm,
		    const struct store_device *by_guid, int rg, struct store_device *dev,
		    char mac_owner[64])
{
	bool real_guid = client_guid(f) != NULL;
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN], other[GUID_STR_LEN];

	mac_owner[0] = '\0';
	mac_format(f->mac, mac);
	if (real_guid)
		guid_format(f->guid, guid);
	if (rg == 0) {
		if (rm == 0 && by_mac->id != by_guid->id)
			log_warn("decide", "%s, %s: identity conflict: MAC belongs to device '%s', "
				 "GUID to device '%s'; the GUID names the machine, so it is '%s'",
				 mac, guid, by_mac->name, by_guid->name, by_guid->name);
		*dev = *by_guid;
		return 0;
	}
	if (rm == 0) {
		if (real_guid && by_mac->has_guid) {
			guid_format(by_mac->guid, other);
			log_warn("decide", "%s, %s: identity conflict: MAC belongs to device '%s' "
				 "whose GUID is %s; the GUID names the machine, so it is unknown",
				 mac, guid, by_mac->name, other);
			snprintf(mac_owner, 64, "%s", by_mac->name);
			return -ENOENT;
		}
		*dev = *by_mac;
		return 0;
	}
	return -ENOENT;
}

/* store_deployments_applicable() callback: sort rows into the three that
 * matter, skipping those outside their availability window. */
struct pick {
	int64_t now_s;
	int64_t edge_s;                 /* nearest window edge after now, 0 = none */
	bool has_req, has_avail, has_done;
	struct store_deployment req;    /* first required not yet handed out */
	struct store_deployment avail;  /* first available */
	/* Their images, when the store read them with the rows. */
	bool has_req_im, has_avail_im;
	struct store_image req_im, avail_im;
	struct store_deployment done;   /* first required already handed out */
	int arch_class;                 /* the machine's, -1 = not sent */
	bool has_mismatch;              /* a deployment skipped: its image's arch */
	struct store_deployment mismatch; /* the first of those */
};

static void edge_min(struct pick *p, int64_t t)
{
	if (t > p->now_s && (p->edge_s == 0 || t < p->edge_s))
		p->edge_s = t;
}

static int pick_one(void *ctx, const struct store_deployment *dep, const struct store_image *im)
{
	struct pick *p = ctx;
	if (dep->available_from && p->now_s < dep->available_from) {
		edge_min(p, dep->available_from);
		return 0;
	}
	if (dep->expires) {
		if (p->now_s >= dep->expires)
			return 0;
		edge_min(p, dep->expires);
	}
	/* An image runs on one architecture: an arm64 kernel is no use to an
	 * x86 machine and the other way round. */
	if (!vocab_image_arch_fits(dep->image_arch, p->arch_class)) {
		if (!p->has_mismatch) {
			p->mismatch = *dep;
			p->has_mismatch = true;
		}
		return 0;
	}
	if (dep->purpose == STORE_REQUIRED) {
		if (dep->handed_out_at) {
			if (!p->has_done) {
				p->done = *dep;
				p->has_done = true;
			}
		} else if (!p->has_req) {
			p->req = *dep;
			p->has_req = true;
			if ((p->has_req_im = im != NULL))
				p->req_im = *im;
		}
	} else if (!p->has_avail) {
		p->avail = *dep;
		p->has_avail = true;
		if ((p->has_avail_im = im != NULL))
			p->avail_im = *im;
	}
	return 0;
}

/* store_decide_read()'s choose(): who the client is (identify()), and
 * whose deployments apply: the device's, or for an unknown machine those
 * for unknown machines of its arch, when it may get any. */
struct rules_read {
	struct decider *d;
	const struct pxe_facts *f;
	int arch_class;
	struct store_device *dev;
	char *mac_owner;
	int found;                      /* identify()'s answer; -EAGAIN: not asked */
	struct pick *p;
};

static int64_t rules_choose(void *ctx, const struct store_device *by_mac, int rm,
			    const struct store_device *by_guid, int rg)
{
	struct rules_read *rr = ctx;
	rr->found = identify(rr->f, by_mac, rm, by_guid, rg, rr->dev, rr->mac_owner);
	if (rr->found == 0)
		return rr->dev->id;
	memset(rr->dev, 0, sizeof(*rr->dev));
	/* The rules below answer these without deployments. */
	if (!rr->d->conf->support_unknown || rr->mac_owner[0])
		return -1;
	if (!vocab_arch_targetable(rr->arch_class))
		return -1;
	return 0;
}

static int rules_each(void *ctx, const struct store_deployment *dep, const struct store_image *im)
{
	struct rules_read *rr = ctx;
	return pick_one(rr->p, dep, im);
}

/* "device 'vm1'", "collection 'lab' (device 'vm1')", "unknown machines of
 * arch bios": what the deployment targets, as the reason names it. */
static void target_words(const struct store_deployment *dep, const char *device, char *buf,
			 size_t len)
{
	if (dep->target == STORE_TARGET_COLLECTION)
		snprintf(buf, len, "collection '%.64s' (device '%.64s')", dep->collection_name,
			 device);
	else if (dep->target == STORE_TARGET_UNKNOWN && device[0])
		snprintf(buf, len, "unknown machines of arch %s (device '%.64s')",
			 vocab_arch_name((enum pxe_arch_class)dep->unknown_arch), device);
	else if (dep->target == STORE_TARGET_UNKNOWN)
		snprintf(buf, len, "unknown machines of arch %s",
			 vocab_arch_name((enum pxe_arch_class)dep->unknown_arch));
	else
		snprintf(buf, len, "device '%.64s'", device);
}

/* One decision's rules, around its read: rules_start() says what to read,
 * the store hands the rows to rules_choose() / rules_each(), and
 * rules_finish() makes the answer of what they kept. */
struct rules_job {
	struct decider *d;
	const struct pxe_facts *f;
	struct decide_todo *todo;
	struct pick p;
	struct rules_read rr;
	char mac_owner[64];
};

static void rules_start(struct rules_job *j, struct decider *d, const struct pxe_facts *f,
			int64_t now_ms, struct decide_todo *todo, struct store_decide_query *q)
{
	int arch_class = f->has_arch ? (int)f->arch_class : -1;

	memset(j, 0, sizeof(*j));
	memset(todo, 0, sizeof(*todo));
	j->d = d;
	j->f = f;
	j->todo = todo;
	j->p = (struct pick){ .now_s = now_ms / 1000, .arch_class = arch_class };
	j->rr = (struct rules_read){ .d = d, .f = f, .arch_class = arch_class, .dev = &todo->dev,
				     .mac_owner = j->mac_owner, .found = -EAGAIN, .p = &j->p };
	*q = (struct store_decide_query){ .mac = f->mac, .guid = client_guid(f),
					  .arch_class = arch_class, .choose = rules_choose,
					  .each = rules_each, .ctx = &j->rr };
}

/* The rules after the settings: identity, then the deployments.  Reads
 * only; fills *out and *todo.  Returns 0 or a negative errno from the
 * store (then *out is an IGNORE naming the error); r is the read's
 * return.
 *
 * Among the deployments that apply (store_deployments_applicable(), in
 * order: required before available, then newest), the first required one
 * not yet handed out wins; else the first available one; else, if a
 * required one was handed out, LOCAL saying when; else LOCAL.  A required
 * deployment already handed out never hides another that applies: a new
 * required deployment runs at the next boot. */
static int rules_finish(struct rules_job *j, int r, struct decision *out)
{
	struct decider *d = j->d;
	const struct pxe_facts *f = j->f;
	struct decide_todo *todo = j->todo;
	const struct pxed_conf *conf = d->conf;
	const struct pick *p = &j->p;
	const struct store_deployment *win;
	struct store_image im;
	const char *mac_owner = j->mac_owner;
	char target[160];
	const char *arch_words = f->has_arch ? vocab_arch_name(f->arch_class) : "not sent";

	if (r < 0 || j->rr.found == -EAGAIN) {
		memset(&todo->dev, 0, sizeof(todo->dev));
		return store_failed(d, out, r < 0 ? r : -EIO, "");
	}
	if (j->rr.found == -ENOENT) {
		if (!conf->support_unknown) {
			decision_reset(out, DECISION_IGNORE);
			reason_set(out, "not serviced: unknown machine and SupportUnknownMachines is off");
			return 0;
		}
		if (mac_owner[0]) {
			/* Its MAC is taken, so it could not be recorded as a device,
			 * and an unrecorded required deployment would loop. */
			decision_reset(out, DECISION_LOCAL);
			reason_set(out, "unknown machine with the MAC of device '%.64s' (another "
					"GUID); no deployment for unknown machines", mac_owner);
			return 0;
		}
	}
	todo->edge_s = p->edge_s;

	decision_reset(out, DECISION_LOCAL);
	out->device_id = todo->dev.id;
	snprintf(out->device_name, sizeof(out->device_name), "%s", todo->dev.name);
	win = p->has_req ? &p->req : p->has_avail ? &p->avail : p->has_done ? &p->done : NULL;
	if (!win && p->has_mismatch) {
		reason_set(out, "%s, no deployment for its architecture %s: deployment '%s' "
				"(image '%s') is for %s", todo->dev.id ? "known device" : "unknown machine",
			   arch_words, p->mismatch.name, p->mismatch.image_name,
			   p->mismatch.image_arch[0] ? p->mismatch.image_arch : "x86");
		return 0;
	}
	if (!win) {
		if (todo->dev.id)
			reason_set(out, "known device '%s', no deployment", todo->dev.name);
		else
			reason_set(out, "unknown machine, no deployment for unknown machines of "
					"arch %s", arch_words);
		return 0;
	}

	out->deployment_id = win->id;
	out->required = win->purpose == STORE_REQUIRED;
	snprintf(out->deployment_name, sizeof(out->deployment_name), "%s", win->name);
	snprintf(out->image_name, sizeof(out->image_name), "%s", win->image_name);

	if (win == &p->done) {
		/* The machine already got it: a reboot during the install must
		 * not start it again (docs/pxed.8.md, DECISIONS). */
		char at[32];
		format_utc(win->handed_out_at, at);
		reason_set(out, "required deployment '%s' already handed out at %s; "
				"clear it to run again", win->name, at);
		return 0;
	}

	if (win == &p->req && p->has_req_im)
		im = p->req_im;
	else if (win == &p->avail && p->has_avail_im)
		im = p->avail_im;
	else if ((r = store_image_by_id(d->store, win->image_id, &im)) < 0)
		return store_failed(d, out, r, "");
	out->outcome = DECISION_BOOT;
	snprintf(out->kernel, sizeof(out->kernel), "%s", im.kernel);
	snprintf(out->initrd, sizeof(out->initrd), "%s", im.initrd);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", im.cmdline);
	snprintf(out->nbp, sizeof(out->nbp), "%s", im.nbp);
	snprintf(out->loader, sizeof(out->loader), "%s", im.loader);
	todo->discover = todo->dev.id == 0;
	target_words(win, todo->dev.name, target, sizeof(target));
	if (out->required) {
		todo->handout = true;
		reason_set(out, "required deployment '%s' (image '%s') for %s, not yet handed out",
			   win->name, im.name, target);
	} else {
		reason_set(out, "available deployment '%s' (image '%s') for %s, boots after a "
				"key press", win->name, im.name, target);
	}
	return 0;
}

int decide_rules(struct decider *d, const struct pxe_facts *f, int64_t now_ms,
		 struct decision *out, struct decide_todo *todo)
{
	struct rules_job j;
	struct store_decide_query q;

	rules_start(&j, d, f, now_ms, todo, &q);
	return rules_finish(&j, store_decide_read(d->store, &q), out);
}

void decide_rules_batch(struct decider *d, const struct pxe_facts *const f[],
			const int64_t now_ms[], struct decision *const out[],
			struct decide_todo *const todo[], int r[], size_t n)
{
	struct rules_job *j = calloc(n, sizeof(*j));
	struct store_decide_query *q = calloc(n, sizeof(*q));

	if (!j || !q) {
		/* Each reads on its own, as without a batch. */
		for (size_t i = 0; i < n; i++)
			r[i] = decide_rules(d, f[i], now_ms[i], out[i], todo[i]);
	} else {
		for (size_t i = 0; i < n; i++)
			rules_start(&j[i], d, f[i], now_ms[i], todo[i], &q[i]);
		store_decide_read_batch(d->store, q, r, n);
		for (size_t i = 0; i < n; i++)
			r[i] = rules_finish(&j[i], r[i], out[i]);
	}
	free(j);
	free(q);
}

/* UnknownMachinesPerMinute: each unknown machine that commits becomes a
 * device for good, so a client making up MACs must not add them at
 * network speed. */
static bool unknown_record_allowed(struct decider *d, int64_t now_ms)
{
	unsigned max = d->conf->unknown_machines_per_minute;
	bool ok;
	if (!max)
		return true;
	pthread_mutex_lock(&d->lock);
	if (now_ms - d->unknown_window_ms >= 60000 || now_ms < d->unknown_window_ms) {
		d->unknown_window_ms = now_ms;
		d->unknown_recorded = 0;
	}
	ok = d->unknown_recorded < max;
	if (ok)
		d->unknown_recorded++;
	else
		d->unknown_refused++;
	pthread_mutex_unlock(&d->lock);
	return ok;
}

/* Another server sharing the database handed this required deployment
 * out to the same machine first (store_handout_record() said so): it
 * boots from that server, this one sends it to its disk. */
static void handout_lost(struct decision *out, const char *name)
{
	out->outcome = DECISION_LOCAL;
	out->required = false;
	out->image_name[0] = out->kernel[0] = out->initrd[0] = '\0';
	out->cmdline[0] = out->nbp[0] = '\0';
	reason_set(out, "required deployment '%.64s' was just handed out by another server: "
			"local disk", name);
}

/* Record what committing this answer means: a discovered unknown machine
 * (with its hand-out) or a required deployment's hand-out.  On failure
 * *out becomes an IGNORE: if the hand-out is not recorded the install
 * would restart on every reboot, so nothing is sent. */
int commit_record(struct decider *d, const struct pxe_facts *f, struct decide_todo *todo,
		  struct decision *out, int64_t t)
{
	char name[64];
	int w;
	memcpy(name, out->deployment_name, sizeof(name));
	if (todo->discover && !unknown_record_allowed(d, t * 1000)) {
		reason_set(out, "not serviced: more than %u unknown machines recorded in the last "
				"minute (UnknownMachinesPerMinute); try later",
			   d->conf->unknown_machines_per_minute);
		out->outcome = DECISION_IGNORE;
		return -EAGAIN;
	}
	if (todo->discover) {
		struct store_device nd = { .arch = f->has_arch ? f->arch : -1 };
		snprintf(nd.name, sizeof(nd.name), "unknown-%02x%02x%02x%02x%02x%02x", f->mac[0],
			 f->mac[1], f->mac[2], f->mac[3], f->mac[4], f->mac[5]);
		memcpy(nd.mac, f->mac, MAC_LEN);
		if (f->has_guid && guid_is_real(f->guid)) {
			nd.has_guid = true;
			memcpy(nd.guid, f->guid, GUID_LEN);
		}
		w = store_device_add_discovered(d->store, &nd, todo->handout ? out->deployment_id : 0,
						t);
		if (w == -EEXIST) {
			/* Another server recorded this machine (and its
			 * hand-out) a moment ago. */
			if (todo->handout)
				handout_lost(out, name);
			return 0;
		}
		if (w < 0) {
			store_failed(d, out, w, "");
			reason_set(out, "not serviced: store error: could not record unknown machine "
					"as device '%s': %.100s", nd.name, store_last_error(d->store));
			return w;
		}
		log_info("decide", "unknown machine recorded as device '%s' (deployment '%s')",
			 nd.name, name);
		out->device_id = nd.id;
		snprintf(out->device_name, sizeof(out->device_name), "%s", nd.name);
		return 0;
	}
	w = store_handout_record(d->store, todo->dev.id, out->deployment_id, t);
	if (w < 0) {
		store_failed(d, out, w, "");
		reason_set(out, "not serviced: store error: could not record hand-out of "
				"'%.64s': %s", name, store_last_error(d->store));
		return w;
	}
	if (w == 0)
		handout_lost(out, name);
	return 0;
}

/* What the user answered at an available deployment's prompt, applied
 * to the fresh decision before its event is made, so that the event and
 * the log line say what was chosen.  Deploy: only a decision that is
 * still an available deployment becomes the user's choice; anything else
 * (disabled since, now required, gone) stands as decided.  Local: always
 * the local disk -- the user did not ask for a network boot. */
void choice_apply(struct decision *out, enum decide_choice choice)
{
	bool avail = out->outcome == DECISION_BOOT && !out->required;
	char name[sizeof(out->deployment_name)];

	memcpy(name, out->deployment_name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if (choice == DECIDE_CHOICE_DEPLOY) {
		if (avail)
			reason_set(out, "available deployment '%s': user chose to deploy", name);
		return;
	}
	if (avail) {
		/* The event keeps naming the device and the declined
		 * deployment; nothing of the image is left to boot. */
		out->outcome = DECISION_LOCAL;
		out->image_name[0] = out->kernel[0] = out->initrd[0] = '\0';
		out->cmdline[0] = out->nbp[0] = '\0';
		reason_set(out, "available deployment '%s': user let the prompt time out: "
				"local disk", name);
		return;
	}
	if (out->outcome == DECISION_BOOT) {
		/* now required: it starts at the next boot, not now */
		out->outcome = DECISION_LOCAL;
		out->image_name[0] = out->kernel[0] = out->initrd[0] = '\0';
		out->cmdline[0] = out->nbp[0] = '\0';
		reason_set(out, "user let the prompt time out: local disk (deployment '%s' is "
				"required now; it starts at the next boot)", name);
		return;
	}
	if (out->outcome == DECISION_LOCAL)
		reason_set(out, "user let the prompt time out: local disk");
}

/* ---- after the rules ------------------------------------------------------ */

/* Say after the reason what the client was asked, cutting the reason
 * rather than the words that say it. */
static void reason_append(struct decision *out, const char *suffix)
{
	size_t room = sizeof(out->reason) - 1, n = strlen(suffix);
	size_t keep = strnlen(out->reason, room);
	if (n > room)
		n = room;
	if (keep > room - n)
		keep = room - n;
	memcpy(out->reason + keep, suffix, n);
	out->reason[keep + n] = '\0';
}

void decide_override(struct decision *dec, const struct pxe_facts *f, enum decide_override why,
		     const char *detail)
{
	char name[sizeof(dec->deployment_name)];

	memcpy(name, dec->deployment_name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	switch (why) {
	case DECIDE_OVR_NO_BOOT_PROGRAM:
		dec->outcome = DECISION_IGNORE;
		reason_set(dec, "not serviced: no boot program for architecture %u",
			   (unsigned)f->arch);
		break;
	case DECIDE_OVR_BOOT_FILE_LONG:
		dec->outcome = DECISION_IGNORE;
		reason_set(dec, "not serviced: boot file name too long for the reply");
		break;
	case DECIDE_OVR_GRUB_MISSING:
		dec->outcome = DECISION_IGNORE;
		reason_set(dec, "not serviced: GRUB boot loader not installed (Debian packages %s)",
			   detail ? detail : "?");
		break;
	case DECIDE_OVR_GRUB_PASSWORD:
		dec->outcome = DECISION_LOCAL;
		reason_set(dec, CONF_GRUB_NO_PASSWORD_REASON, name);
		break;
	case DECIDE_OVR_GRUB_WENT_LOCAL:
		dec->outcome = DECISION_LOCAL;
		reason_set(dec, "GRUB sent it to its local disk moments ago (deployment '%.64s')",
			   name);
		break;
	case DECIDE_OVR_UNSERVABLE:
		dec->outcome = DECISION_LOCAL;
		reason_set(dec, "image cannot be served, see server log");
		break;
	case DECIDE_OVR_RENDER_FAILED:
		dec->outcome = DECISION_LOCAL;
		reason_set(dec, "deployment '%.40s' not started: %.120s", name,
			   detail ? detail : "?");
		break;
	case DECIDE_OVR_PASSWORD_ASKED:
		reason_append(dec, ": PXEPassword asked");
		break;
	case DECIDE_OVR_PASSWORD_WRONG:
		reason_append(dec, ": wrong PXE password, asked again");
		break;
	case DECIDE_OVR_PASSWORD_BUSY:
		reason_append(dec, ": PXE password not checked (busy), asked again");
		break;
	case DECIDE_OVR_PASSWORD_LOCKED:
		dec->outcome = DECISION_LOCAL;
		reason_set(dec, "too many wrong PXE passwords, try later");
		break;
	case DECIDE_OVR_TOKEN_GONE:
		dec->outcome = DECISION_LOCAL;
		reason_set(dec, "boot token used or expired meanwhile, boot again");
		break;
	}
}

void decide_withdraw(struct decider *d, struct decision *dec, const struct pxe_facts *f,
		     enum decide_override why, const char *detail)
{
	/* A required deployment whose hand-out this decision recorded: the
	 * machine does not get it, so it stays due (and runs once whatever
	 * stopped it is fixed). */
	if (dec->rec.committed && dec->outcome == DECISION_BOOT && dec->required &&
	    dec->device_id)
		store_handout_forget(d->store, dec->device_id, dec->deployment_id);
	decide_override(dec, f, why, detail);
}

/* tftp_admit: see tftp_admit.h. */
#include "tftp/tftp_admit.h"

#include <inttypes.h>

#include "common/log.h"
#include "common/util.h"
#include "conf/conf.h"

#define MOD "tftp"

void tftp_admit_init(struct tftp_admit *a, const struct pxed_conf *conf, unsigned max_transfers)
{
	*a = (struct tftp_admit){ .conf = conf, .max_transfers = max_transfers };
}

/* Transfers from the address of peer; *same_tid: one of them is with
 * this very address and port.  Linear: at most MaxTransfers, once per
 * request, not per packet. */
static unsigned admit_count_peer(const struct tftp_admit *a, const struct tftp_addr *peer,
				 bool *same_tid)
{
	unsigned n = 0;
	*same_tid = false;
	for (const struct tftp_slot *sl = a->slots; sl; sl = sl->next) {
		if (!tftp_addr_same_host(&sl->peer, peer))
			continue;
		n++;
		if (tftp_addr_port(&sl->peer) == tftp_addr_port(peer))
			*same_tid = true;
	}
	return n;
}

enum tftp_admit_verdict tftp_admit_check(struct tftp_admit *a, const struct tftp_addr *peer,
					 const char *peer_str, const char *name)
{
	bool same_tid;
	unsigned from_addr = admit_count_peer(a, peer, &same_tid);
	if (same_tid)
		return TFTP_ADMIT_REPEAT;
	/* Unacknowledged requests free their slots within
	 * TFTP_FIRST_ACK_MS, so forged ones cannot hold them long. */
	unsigned per_addr = a->conf->tftp_max_per_address ? a->conf->tftp_max_per_address
							   : a->max_transfers;
	bool all = a->stats.active >= a->max_transfers;
	if (!all && from_addr < per_addr)
		return TFTP_ADMIT_OK;
	if (all)
		a->stats.busy++;
	else
		a->stats.busy_per_address++;
	a->busy_since_log++;
	uint64_t t = now_ms();
	if (t - a->busy_logged_ms >= 1000 || a->busy_logged_ms == 0) {
		log_warn(MOD, "%s (%u) reached: %" PRIu64 " request(s) refused, latest %s \"%s\"",
			 all ? "MaxTransfers" : "MaxTransfersPerAddress",
			 all ? a->max_transfers : per_addr, a->busy_since_log, peer_str, name);
		a->busy_logged_ms = t;
		a->busy_since_log = 0;
	}
	return all ? TFTP_ADMIT_BUSY : TFTP_ADMIT_BUSY_ADDRESS;
}

const char *tftp_admit_busy_message(enum tftp_admit_verdict v)
{
	return v == TFTP_ADMIT_BUSY_ADDRESS ? "Too many transfers from your address, try again later"
					    : "Server busy: too many transfers, try again later";
}

void tftp_admit_refused(struct tftp_admit *a)
{
	a->stats.refused++;
}

void tftp_admit_busy(struct tftp_admit *a)
{
	a->stats.busy++;
}

void tftp_admit_take(struct tftp_admit *a, struct tftp_slot *slot, const struct tftp_addr *peer)
{
	slot->peer = *peer;
	slot->start_ms = now_ms();
	slot->verified = false;
	slot->prev = NULL;
	slot->next = a->slots;
	if (a->slots)
		a->slots->prev = slot;
	a->slots = slot;
	a->stats.active++;
}

void tftp_admit_release(struct tftp_admit *a, struct tftp_slot *slot)
{
	if (slot->prev)
		slot->prev->next = slot->next;
	else
		a->slots = slot->next;
	if (slot->next)
		slot->next->prev = slot->prev;
	slot->prev = slot->next = NULL;
	a->stats.active--;
}

unsigned tftp_admit_first_rto(const struct tftp_slot *slot, unsigned tries, uint64_t now)
{
	uint64_t el = now - slot->start_ms;
	uint64_t left = el < TFTP_FIRST_ACK_MS ? TFTP_FIRST_ACK_MS - el : 1;
	uint64_t r = (uint64_t)TFTP_FIRST_RTO_MS << (tries < 8 ? tries : 8);
	return (unsigned)(r < left ? r : left);
}

bool tftp_admit_first_expired(struct tftp_admit *a, const struct tftp_slot *slot, unsigned tries,
			      uint64_t now)
{
	if (slot->verified)
		return false;
	if (tries < TFTP_FIRST_TRIES && now - slot->start_ms < TFTP_FIRST_ACK_MS)
		return false;
	a->stats.unacknowledged++;
	return true;
}

/* tftp_admit: who may start a TFTP transfer, and what a transfer that no
 * one has acknowledged yet may cost.  Runs on the loop.
 *
 * A request off the wire is admitted by tftp_admit_check(), in order:
 *   1. a request from the TID (address and port) of a running transfer is
 *      a repeat: the running transfer answers it (its timer retransmits);
 *   2. MaxTransfers in all;
 *   3. MaxTransfersPerAddress from one address (read from the settings at
 *      every request: a reload takes effect at once), so that one address
 *      cannot take every slot.
 * Each refusal is counted and logged at most once a second with the count
 * since the last line.  An admitted transfer holds a slot (struct
 * tftp_slot, embedded in the transfer) from tftp_admit_take() to
 * tftp_admit_release().  Requests refused for what they ask (a write, a
 * malformed request, a bad option, a missing file) are counted with
 * tftp_admit_refused().
 *
 * Reflection bounds.  Before the client has acknowledged anything the
 * request may be forged (UDP has no handshake: a 17-byte RRQ with a
 * victim's source address).  Until the first ACK (ACK 0 of the OACK, or
 * ACK 1), a transfer sends only its first packet -- the OACK, or DATA 1
 * when no option was accepted; never a window, as RFC 7440 §4 starts
 * windows after the OACK is acknowledged anyway -- and at most
 * TFTP_FIRST_TRIES retransmissions of it, 1 s then 2 s apart whatever
 * `timeout` the request asked for (tftp_admit_first_rto()), and is given
 * up TFTP_FIRST_ACK_MS after it started (tftp_admit_first_expired()).  So
 * a forged request costs its victim at most 3 packets of at most 516 bytes
 * (1 + 2 retransmissions; a larger blksize is only used after the OACK's
 * ACK) within 6 s, and holds a slot no longer. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "tftp/tftp_addr.h"

struct pxed_conf;

#define TFTP_FIRST_TRIES 2
#define TFTP_FIRST_ACK_MS 6000
#define TFTP_FIRST_RTO_MS 1000

struct tftp_admit_stats {
	uint64_t active;           /* slots held now */
	uint64_t refused;          /* requests answered with an ERROR for what they asked */
	uint64_t busy;             /* refused at MaxTransfers (or no room for a generator) */
	uint64_t busy_per_address; /* refused at MaxTransfersPerAddress */
	uint64_t unacknowledged;   /* transfers given up without any ACK */
};

/* A running transfer's claim.  Owned by the transfer, linked by admission. */
struct tftp_slot {
	struct tftp_slot *prev, *next;
	struct tftp_addr peer;     /* the client's address and TID */
	uint64_t start_ms;         /* when admitted */
	bool verified;             /* the client acknowledged something */
};

struct tftp_admit {
	const struct pxed_conf *conf; /* MaxTransfersPerAddress, read live */
	unsigned max_transfers;
	struct tftp_slot *slots;   /* every running transfer */
	struct tftp_admit_stats stats;
	uint64_t busy_logged_ms;   /* last "MaxTransfers reached" warning */
	uint64_t busy_since_log;   /* requests refused since that warning */
};

enum tftp_admit_verdict {
	TFTP_ADMIT_OK,
	TFTP_ADMIT_REPEAT,         /* the TID already has a transfer: ignore */
	TFTP_ADMIT_BUSY,           /* MaxTransfers */
	TFTP_ADMIT_BUSY_ADDRESS,   /* MaxTransfersPerAddress */
};

/* conf must outlive a. */
void tftp_admit_init(struct tftp_admit *a, const struct pxed_conf *conf, unsigned max_transfers);
/* May peer start a transfer?  peer_str and name (escaped) are for the log
 * line of a refusal, which this counts. */
enum tftp_admit_verdict tftp_admit_check(struct tftp_admit *a, const struct tftp_addr *peer,
					 const char *peer_str, const char *name);
/* The text of the TFTP ERROR (code 0) for a BUSY verdict. */
const char *tftp_admit_busy_message(enum tftp_admit_verdict v);
/* Count a request refused for another reason: what it asked, or busy
 * (no room to wait for a generated file). */
void tftp_admit_refused(struct tftp_admit *a);
void tftp_admit_busy(struct tftp_admit *a);

void tftp_admit_take(struct tftp_admit *a, struct tftp_slot *slot, const struct tftp_addr *peer);
void tftp_admit_release(struct tftp_admit *a, struct tftp_slot *slot);

/* The retransmission timeout of an unverified transfer after `tries`
 * timeouts: never the negotiated one, never past TFTP_FIRST_ACK_MS. */
unsigned tftp_admit_first_rto(const struct tftp_slot *slot, unsigned tries, uint64_t now);
/* True (and counted) when an unverified transfer must be given up. */
bool tftp_admit_first_expired(struct tftp_admit *a, const struct tftp_slot *slot, unsigned tries,
			      uint64_t now);

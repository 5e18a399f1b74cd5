/* boot_token: one-time tokens that tie a boot script fetch to the PXE
 * exchange it belongs to.
 *
 * /boot.ipxe hands out a machine's required deployment (and its
 * installer's report token).  A bare GET of /boot.ipxe?mac=... can come
 * from anything on the LAN, or from a browser through an <img> tag; only
 * the iPXE that pxed answered over DHCP should be able to spend the
 * deployment.  So each DHCP answer to iPXE carries a fresh random token
 * in its script URL (/boot.ipxe?mac=MAC&t=TOKEN), bound to the MAC and to
 * the GUID and architecture pxed saw, expiring after a few minutes; a hand-out
 * is committed only on a request that brings a valid one, and spends it.
 *
 * The tokens live in memory on the loop, in a ring of a fixed size: when
 * it is full the oldest token is forgotten.  A pxed that shares its
 * database with another would need the token seen by both (the DHCP answer
 * from one, the script fetch from the other); everything outside goes
 * through these few calls, so that store can change behind them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decide/decide.h"

#define BOOT_TOKEN_BYTES 16                        /* 128 random bits */
#define BOOT_TOKEN_STR_LEN (2 * BOOT_TOKEN_BYTES + 1) /* hex + NUL */

/* What a token presented with a script request turned out to be. */
enum boot_token_status {
	BOOT_TOKEN_OK,
	BOOT_TOKEN_MISSING,        /* no t= at all */
	BOOT_TOKEN_MALFORMED,      /* not 32 hex digits */
	BOOT_TOKEN_UNKNOWN,        /* never issued, or forgotten (ring full) */
	BOOT_TOKEN_EXPIRED,
	BOOT_TOKEN_OTHER_MACHINE,  /* issued for another MAC, GUID or arch */
	BOOT_TOKEN_SPENT,          /* its hand-out was already committed */
	BOOT_TOKEN_BUSY,           /* another request with it is committing now */
	BOOT_TOKEN_STATUSES
};

struct boot_token_stats {
	uint64_t issued;
	uint64_t forgotten;        /* overwritten while still unused and unexpired */
	uint64_t refused[BOOT_TOKEN_STATUSES]; /* by status; [OK] unused */
	uint64_t spent;
};

struct boot_tokens;

/* A ring of max tokens (at least 1).  0 or -ENOMEM. */
int boot_tokens_new(size_t max, struct boot_tokens **out);
/* Accepts NULL. */
void boot_tokens_free(struct boot_tokens *t);

/* A new token for the machine in f (its MAC, and GUID and arch when f has
 * them), valid for lifetime_ms from now_ms, into out as hex.  0, or
 * negative errno when no random bytes could be had. */
int boot_token_issue(struct boot_tokens *t, const struct pxe_facts *f, uint64_t now_ms,
		     uint64_t lifetime_ms, char out[BOOT_TOKEN_STR_LEN]);

/* Check text (may be NULL) for the machine f->mac.  On BOOT_TOKEN_OK the
 * GUID and arch the token was issued for are written into f (facts the
 * request also states must agree: pass them in f, has_guid / has_arch
 * set), and the token's life starts again from now_ms (someone typing a
 * password).  With claim, an OK token is marked busy until
 * boot_token_release(): a second request with it meanwhile is refused.
 * Every refusal is counted. */
enum boot_token_status boot_token_check(struct boot_tokens *t, const char *text,
					struct pxe_facts *f, uint64_t now_ms,
					uint64_t lifetime_ms, bool claim);

/* The claimed token's request is done: spent = its hand-out was
 * committed, and then every token issued to the same MAC (the OFFER's
 * and the ACK's of one exchange) is spent too.  A token forgotten
 * meanwhile is nothing to release. */
void boot_token_release(struct boot_tokens *t, const char *text, bool spent);

void boot_tokens_stats(const struct boot_tokens *t, struct boot_token_stats *out);

/* A word for the log line ("expired", "for another machine"). */
const char *boot_token_status_name(enum boot_token_status s);

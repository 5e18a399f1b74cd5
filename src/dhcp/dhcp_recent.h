/* dhcp_recent: what the ProxyDHCP exchange told pxed about a machine in
 * the last moments, by MAC, for the boot loaders that cannot say it
 * themselves.  GRUB knows no SMBIOS GUID and sends no architecture: the
 * per-machine GRUB configuration is decided with the GUID and arch the
 * same machine sent in its DHCP exchange seconds before, and only for a
 * request from the address it then used (docs/bootloaders.md).
 *
 * A fixed table (no allocation after init), entries expire; when full,
 * the entry seen longest ago is replaced.  Pure: the caller passes the
 * time. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decide/decide.h"

/* Entries kept by pxed (a boot storm's worth of machines between their
 * DHCP exchange and their boot loader's first request). */
#define DHCP_RECENT_MAX 4096
/* How long a DHCP exchange vouches for a boot loader's request: shim and
 * GRUB ask within seconds (20 s under emulation); a minute leaves room. */
#define DHCP_RECENT_TTL_MS 60000

struct dhcp_recent_entry {
	uint8_t mac[MAC_LEN];
	bool has_guid;
	uint8_t guid[GUID_LEN];
	bool has_arch;
	uint16_t arch;             /* option 93 */
	struct in_addr addr;       /* source of its port-4011 request (the
				    * leased address); 0.0.0.0 when unknown */
	uint64_t seen_ms;          /* its last DHCP request */
	uint64_t local_until_ms;   /* its boot loader sent it to its disk: DHCP
				    * answers "local" until then (0: no) */
	bool used;
};

struct dhcp_recent {
	struct dhcp_recent_entry *e;
	size_t cap;
	uint64_t ttl_ms;
};

/* 0 or -ENOMEM / -EINVAL (cap 0). */
int dhcp_recent_init(struct dhcp_recent *t, size_t cap, uint64_t ttl_ms);
void dhcp_recent_free(struct dhcp_recent *t); /* accepts a zeroed table */

/* Record f's MAC, GUID, arch at now; addr (0.0.0.0: unknown) replaces the
 * one kept only when known. */
void dhcp_recent_note(struct dhcp_recent *t, const struct pxe_facts *f, struct in_addr addr,
		      uint64_t now);

/* The live entry for mac (copied into *out), or false when none or
 * expired. */
bool dhcp_recent_find(const struct dhcp_recent *t, const uint8_t mac[MAC_LEN], uint64_t now,
		      struct dhcp_recent_entry *out);

/* The live entry whose port-4011 request came from addr (the newest), or
 * false. */
bool dhcp_recent_find_addr(const struct dhcp_recent *t, struct in_addr addr, uint64_t now,
			   struct dhcp_recent_entry *out);

/* Say "local" to mac's DHCP requests until until_ms (an entry that is
 * gone is not created: -ENOENT). */
int dhcp_recent_set_local(struct dhcp_recent *t, const uint8_t mac[MAC_LEN], uint64_t until_ms,
			  uint64_t now);

/* Whether mac is to be sent to its disk now (dhcp_recent_set_local). */
bool dhcp_recent_local(const struct dhcp_recent *t, const uint8_t mac[MAC_LEN], uint64_t now);

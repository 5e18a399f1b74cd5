/* dhcp_server: pxed's ProxyDHCP responder (PXE 2.1 §2.2, RFC 2131).
 *
 * Listens on UDP conf->dhcp_port (67) for DHCPDISCOVER/DHCPREQUEST and on
 * conf->pxe_port (4011) for the PXE boot server request, asks the decision
 * engine about each PXE client, and answers with a reply that names a boot
 * file but never an address (yiaddr 0): the site's DHCP server leases
 * addresses, pxed only says what to boot. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dhcp/dhcp_recent.h"

#include "dhcp/dhcp_packet.h"

struct ev_loop;
struct ev_work;
struct pxed_conf;
struct decider;
struct dhcp_server;
struct boot_tokens;

/* Counters since start; read with dhcp_server_stats(). */
struct dhcp_stats {
	uint64_t received;     /* datagrams read on either port */
	uint64_t answered;     /* replies sent */
	uint64_t local_menu;   /* of them, "local" as a PXE boot menu that
				* sends the firmware to its disk */
	uint64_t ignored;      /* PXE requests decided "not serviced" (IGNORE,
				* BindPolicy, no boot program for the arch) */
	uint64_t malformed;    /* failed dhcp_parse_request() */
	uint64_t not_pxe;      /* no "PXEClient" option 60: not ours */
	uint64_t not_handled;  /* message types a ProxyDHCP does not answer */
	uint64_t other_server; /* DHCPREQUEST on 67 selecting another server */
	uint64_t no_address;   /* no IPv4 address on the receiving interface */
	uint64_t send_errors;  /* sendmsg failed */
	uint64_t deferred;     /* decided on a worker: not in the cache */
	uint64_t coalesced;    /* retries dropped: that client's request was
				* still being decided */
	uint64_t busy;         /* dropped: too many requests waiting for the
				* database (the client retries) */
	uint64_t socket_drops; /* datagrams the kernel dropped because the
				* socket's receive buffer was full (SO_RXQ_OVFL;
				* counted when the next datagram is read) */
	/* malformed, by parse error: index -err (enum dhcp_parse_error) */
	uint64_t malformed_by_reason[-DHCP_ERR_MSG_TYPE + 1];
};

/* Open and bind both sockets and register them on loop.  conf and dec
 * must outlive the server; conf is read on every request, so settings
 * changed in place apply at once (ports excepted).  A request the cache
 * cannot answer (decide_cached()) is decided on work and answered when
 * that completes; work = NULL decides inline.  work must be freed before
 * the server (its completions send the replies).  0 or negative errno. */
int dhcp_server_new(struct ev_loop *loop, const struct pxed_conf *conf,
		    struct decider *dec, struct ev_work *work, struct dhcp_server **out);
void dhcp_server_free(struct dhcp_server *s); /* accepts NULL */

/* The token store for iPXE's script URLs (shared with the HTTP side,
 * outliving the server); without one the URLs carry no token and their
 * scripts never hand out a required deployment. */
void dhcp_server_set_tokens(struct dhcp_server *s, struct boot_tokens *tokens);
/* Where relayed PXE requests come from, for Wake-on-LAN's directed
 * broadcast (the relay's giaddr per MAC). */
struct wol_sched;
void dhcp_server_set_wol(struct dhcp_server *s, struct wol_sched *wol);
void dhcp_server_stats(const struct dhcp_server *s, struct dhcp_stats *out);

/* ---- the GRUB boot loader family (docs/bootloaders.md) ---------------- */

/* Which GRUB files pxed can serve (main looks at the content at start):
 * without them, machines that would get GRUB are not serviced, with the
 * missing package in the reason. */
void dhcp_server_set_grub(struct dhcp_server *s, bool x64, bool arm64);

/* What mac's DHCP exchange said within DHCP_RECENT_TTL_MS (GUID, arch,
 * the address of its port-4011 request).  false when nothing recent. */
bool dhcp_server_recent(const struct dhcp_server *s, const uint8_t mac[MAC_LEN],
			struct dhcp_recent_entry *out);

/* The same by the address of its port-4011 request. */
bool dhcp_server_recent_by_addr(const struct dhcp_server *s, struct in_addr addr,
				struct dhcp_recent_entry *out);

/* mac's boot loader sent it to its local disk: answer its DHCP requests
 * in the next ms milliseconds with "local" (GRUB cannot return to the
 * firmware's next boot option by itself; it restarts the machine). */
void dhcp_server_send_local(struct dhcp_server *s, const uint8_t mac[MAC_LEN], unsigned ms);

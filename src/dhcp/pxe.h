/* pxe: what a parsed DHCP message says about a PXE client, and the
 * ProxyDHCP reply pxed sends it (PXE 2.1 spec §2.2, RFC 4578).  Pure:
 * no sockets, no globals, no allocation. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decide/decide.h"
#include "dhcp/dhcp_packet.h"

struct pxed_conf;

/* PXE 2.1 §2.2.5 option 43 sub-options pxed writes. */
#define PXE_DISCOVERY_CONTROL 6
#define PXE_MENU_PROMPT       10
/* PXE_DISCOVERY_CONTROL bit 3: "if a boot file name is present in the
 * (Proxy)DHCP offer, download it directly" -- no boot server discovery. */
#define PXE_DC_USE_BOOTFILE   0x08

/* Room for the longest URL pxed puts in the file field (113 chars). */
#define PXE_BOOTFILE_MAX DHCP_FILE_LEN

/* Option 60 starts with "PXEClient" (PXE 2.1 §2.2.1).  Plain DHCP clients
 * are not ProxyDHCP's business. */
bool pxe_is_client(const struct dhcp_msg *m);
/* Option 60 starts with "HTTPClient": UEFI 2.5+ HTTP boot firmware (EDK2
 * HttpBootDxe sends "HTTPClient:Arch:xxxxx:UNDI:yyyzzz"). */
bool pxe_is_http_client(const struct dhcp_msg *m);
/* User class "iPXE" in option 77, or iPXE's option 175 present. */
bool pxe_is_ipxe(const struct dhcp_msg *m);

/* Facts from a parsed request: MAC from chaddr, GUID from option 97 (text
 * byte order), arch from option 93, is_ipxe, secs.  ifname is left ""
 * and via PXE_VIA_DHCP; the responder fills the interface.  0, or
 * -EINVAL when chaddr is not an Ethernet address. */
int pxe_facts_from_msg(const struct dhcp_msg *m, struct pxe_facts *f);

/* The boot file for a client that is to be answered: iPXE gets the URL of
 * its per-client script on pxed's HTTP side,
 *   http://SERVER:PORT/boot.ipxe?mac=MAC&t=TOKEN
 * with token (boot_token.h: it stands for the GUID and arch), or without
 * one (token NULL or "")
 *   http://SERVER:PORT/boot.ipxe?mac=MAC[&guid=GUID][&arch=N]
 * (SERVER: the [http] Address when it is one IPv4 address, else `server`),
 * plain PXE firmware the boot program for its architecture class.
 * 0, -ENOENT when pxed has no boot program for that architecture, or
 * -ENOBUFS when out is too small. */
int pxe_boot_file(const struct pxed_conf *conf, const struct pxe_facts *f,
		  struct in_addr server, const char *token, char *out, size_t outlen);

/* The boot file for a UEFI HTTP boot client ("HTTPClient"): an absolute
 * URI, since that firmware fetches it over HTTP, not TFTP.  x64 UEFI HTTP
 * (arch 16) gets the UEFI x64 boot program from pxed's HTTP side,
 *   http://SERVER:PORT/files/NAME   (NAME percent-encoded)
 * and iPXE, should it say HTTPClient, its script URL (with token) as in
 * pxe_boot_file.
 * 0, -ENOENT when pxed has no boot program for that architecture, or
 * -ENOBUFS when out is too small. */
int pxe_http_boot_file(const struct pxed_conf *conf, const struct pxe_facts *f,
		       struct in_addr server, const char *token, char *out, size_t outlen);

/* Build the ProxyDHCP reply to req: reply_type DHCPOFFER (to a DISCOVER on
 * port 67) or DHCPACK (to a REQUEST/INFORM on 67 or 4011).  yiaddr is
 * always 0: pxed never hands out an address.  Option 60 is "HTTPClient"
 * when req's is (no option 43 then), else "PXEClient".  Returns the length, or
 * -ENOBUFS / -ENAMETOOLONG / -EINVAL. */
int pxe_build_reply(const struct dhcp_msg *req, const struct pxe_facts *f,
		    uint8_t reply_type, struct in_addr server, const char *bootfile,
		    uint8_t *buf, size_t cap);

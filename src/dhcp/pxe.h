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
#define PXE_BOOT_MENU         9
#define PXE_MENU_PROMPT       10
/* PXE_DISCOVERY_CONTROL bits 0-2: no broadcast, no multicast discovery,
 * only servers from PXE_BOOT_SERVERS (of which pxed sends none). */
#define PXE_DC_NO_DISCOVERY   0x07
/* PXE_DISCOVERY_CONTROL bit 3: "if a boot file name is present in the
 * (Proxy)DHCP offer, download it directly" -- no boot server discovery. */
#define PXE_DC_USE_BOOTFILE   0x08
/* Boot server type 0 in a PXE_BOOT_MENU item: the local disk.  Chosen, the
 * PXE firmware stops network boot and returns to its boot manager, which
 * goes on to the next boot device (PXE 2.1 §2.2.5, table 2-1). */
#define PXE_BOOT_TYPE_LOCAL   0

/* The path of pxe_http_local_file()'s URI. */
#define PXE_HTTP_LOCAL_PATH "/local-disk"

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

/* The GRUB family's boot files (docs/bootloaders.md).  UEFI x64 gets
 * Debian's signed shim, which loads the signed GRUB as "grubx64.efi" from
 * the same server; ARM64 gets Debian's GRUB for arm64 itself (package
 * grub-efi-arm64-bin, not signed: no Secure Boot there). */
#define PXE_SHIM_X64   "shimx64.efi"
#define PXE_GRUB_X64   "grubx64.efi"
#define PXE_GRUB_ARM64 "grubaa64.efi"

/* Whether plain PXE firmware of f's architecture gets the GRUB family
 * rather than iPXE: BootLoaderUEFIx64 = grub for UEFI x64 (arch 7 and 9),
 * always for ARM64 UEFI (arch 11, RFC 4578 §2.1); never for iPXE itself
 * or BIOS. */
bool pxe_loader_grub(const struct pxed_conf *conf, const struct pxe_facts *f);
/* The same where the deployment's image names its loader ("ipxe" or
 * "grub"; NULL or "" = the setting): it wins for UEFI x64. */
bool pxe_loader_grub_for(const struct pxed_conf *conf, const struct pxe_facts *f,
			 const char *image_loader);

/* The boot file for a client that is to be answered: iPXE gets the URL of
 * its per-client script on pxed's HTTP side,
 *   http://SERVER:PORT/boot.ipxe?mac=MAC&t=TOKEN
 * with token (boot_token.h: it stands for the GUID and arch), or without
 * one (token NULL or "")
 *   http://SERVER:PORT/boot.ipxe?mac=MAC[&guid=GUID][&arch=N]
 * (SERVER: the [http] Address when it is one IPv4 address, else `server`),
 * plain PXE firmware the boot program for its architecture class (for
 * the GRUB family, shim or GRUB: pxe_loader_grub).
 * 0, -ENOENT when pxed has no boot program for that architecture, or
 * -ENOBUFS when out is too small. */
int pxe_boot_file(const struct pxed_conf *conf, const struct pxe_facts *f,
		  struct in_addr server, const char *token, char *out, size_t outlen);
/* The same with the image's loader (pxe_loader_grub_for). */
int pxe_boot_file_for(const struct pxed_conf *conf, const struct pxe_facts *f,
		      const char *image_loader, struct in_addr server, const char *token,
		      char *out, size_t outlen);

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

/* The boot file that sends a UEFI HTTP boot client to its local disk:
 *   http://SERVER:PORT/local-disk
 * a path pxed's HTTP side answers with 404.  EDK2's HTTP boot then fails
 * at once ("Could not retrieve NBP file size") and its boot manager goes
 * on to the next boot option, where silence would cost it its DHCP
 * timeouts and a boot program would cost a download only to exit again.
 * 0, or -ENOBUFS when out is too small. */
int pxe_http_local_file(const struct pxed_conf *conf, struct in_addr server, char *out,
			size_t outlen);

/* Build the ProxyDHCP reply to req: reply_type DHCPOFFER (to a DISCOVER on
 * port 67) or DHCPACK (to a REQUEST/INFORM on 67 or 4011).  yiaddr is
 * always 0: pxed never hands out an address.  Option 60 is "HTTPClient"
 * when req's is (no option 43 then), else "PXEClient".  Returns the length, or
 * -ENOBUFS / -ENAMETOOLONG / -EINVAL. */
int pxe_build_reply(const struct dhcp_msg *req, const struct pxe_facts *f,
		    uint8_t reply_type, struct in_addr server, const char *bootfile,
		    uint8_t *buf, size_t cap);

/* Whether a "local" decision is answered with pxe_build_local_reply():
 * plain PXE firmware (not iPXE, which runs pxed's script and leaves it
 * with `exit`; not UEFI HTTP boot, which has no boot menu). */
bool pxe_local_by_menu(const struct dhcp_msg *req, const struct pxe_facts *f);

/* The ProxyDHCP reply that sends plain PXE firmware to its local disk: no
 * boot file, and option 43 with a boot menu of one item, boot server type
 * 0 ("local boot"), chosen at once (PXE_MENU_PROMPT timeout 0).  The
 * firmware stops network boot without downloading anything and its boot
 * manager goes on to the next device in the boot order.  Same header and
 * options 54/60/97 as pxe_build_reply.  Returns the length, or -ENOBUFS /
 * -EINVAL. */
int pxe_build_local_reply(const struct dhcp_msg *req, uint8_t reply_type,
			  struct in_addr server, uint8_t *buf, size_t cap);

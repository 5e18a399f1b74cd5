/* pxe: see pxe.h.
 *
 * What the replies carry is copied from real ProxyDHCP behaviour seen in
 * tests/fixtures (dnsmasq as ProxyDHCP, answering SeaBIOS' iPXE ROM and
 * EDK2/OVMF):
 *  - op BOOTREPLY, yiaddr 0, siaddr and option 54 = this server, option 60
 *    "PXEClient" (PXE 2.1 §2.2.3: a ProxyDHCP offer is recognised by it),
 *    option 97 echoed when the client sent one;
 *  - BIOS PXE ROMs and iPXE: option 43 with PXE_DISCOVERY_CONTROL bit 3,
 *    so the ROM downloads `file` directly instead of running boot server
 *    discovery (PXE 2.1 §2.2.5, table 2-1);
 *  - EDK2 (UEFI): no option 43.  It classifies a ProxyDHCP offer without
 *    a boot menu as "BINL" and asks again by DHCPREQUEST to port 4011,
 *    where the DHCPACK carries the file (the edk2 capture);
 *  - "local" for plain PXE firmware: a boot menu whose only item is the
 *    local disk, chosen at once (pxe_build_local_reply). */
#include "dhcp/pxe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"

/* "[IPv6]:PORT" at most. */
#define PXE_URL_HOST_LEN (INET6_ADDRSTRLEN + 8)

bool pxe_is_client(const struct dhcp_msg *m)
{
	static const char pxe[] = "PXEClient";
	const struct dhcp_blob *vc = &m->vendor_class;
	return vc->present && vc->len >= sizeof(pxe) - 1 &&
	       memcmp(vc->data, pxe, sizeof(pxe) - 1) == 0;
}

bool pxe_is_http_client(const struct dhcp_msg *m)
{
	static const char http[] = "HTTPClient";
	const struct dhcp_blob *vc = &m->vendor_class;
	return vc->present && vc->len >= sizeof(http) - 1 &&
	       memcmp(vc->data, http, sizeof(http) - 1) == 0;
}

bool pxe_is_ipxe(const struct dhcp_msg *m)
{
	return m->ipxe_encap.present || dhcp_user_class_has(m, "iPXE");
}

int pxe_facts_from_msg(const struct dhcp_msg *m, struct pxe_facts *f)
{
	memset(f, 0, sizeof(*f));
	if (m->hdr.htype != DHCP_HTYPE_ETHER || m->hdr.hlen != MAC_LEN)
		return -EINVAL;
	memcpy(f->mac, m->hdr.chaddr, MAC_LEN);
	if (m->has_uuid) {
		guid_from_wire(m->uuid_wire, f->guid);
		f->has_guid = true;
	}
	if (m->has_arch) {
		f->arch = m->arch;
		f->has_arch = true;
		f->arch_class = vocab_arch_classify(m->arch);
	} else {
		/* PXE 2.1 §2.2.1: option 93 is mandatory for PXE clients; a
		 * client without it is not guessed to be BIOS. */
		f->arch_class = PXE_ARCH_OTHER;
	}
	f->is_ipxe = pxe_is_ipxe(m);
	f->secs = m->hdr.secs;
	f->ifname[0] = '\0';
	f->via = PXE_VIA_DHCP;
	return 0;
}

/* HOST:PORT of URLs on pxed's HTTP side (url_http_host(): HTTP bound to
 * one address listens there only, so the URL must name it, not the
 * address the DHCP request came in on).  server is an IPv4 address: this
 * is DHCPv4. */
static int http_host(const struct pxed_conf *conf, struct in_addr server, char *out, size_t len)
{
	struct sockaddr_storage ss = { .ss_family = AF_INET };
	((struct sockaddr_in *)&ss)->sin_addr = server;
	return url_http_host(conf->http_address, &ss, conf->http_port, out, len);
}

static int script_url(const struct pxed_conf *conf, const struct pxe_facts *f,
		      struct in_addr server, const char *token, char *out, size_t outlen)
{
	char host[PXE_URL_HOST_LEN], mac[MAC_STR_LEN], guid[GUID_STR_LEN];
	char extra[64] = "";
	size_t el = 0;
	int n;

	if ((n = http_host(conf, server, host, sizeof(host))) < 0)
		return n;
	mac_format(f->mac, mac);
	/* The token stands for the GUID and arch pxed saw (boot_token.h):
	 * with them as well the URL would not fit the 128-byte file field
	 * (RFC 2131 §2). */
	if (token && *token) {
		n = snprintf(out, outlen, "http://%s/boot.ipxe?mac=%s&t=%s", host, mac, token);
		if (n < 0 || (size_t)n >= outlen)
			return -ENOBUFS;
		return 0;
	}
	if (f->has_guid) {
		guid_format(f->guid, guid);
		el += (size_t)snprintf(extra + el, sizeof(extra) - el, "&guid=%s", guid);
	}
	if (f->has_arch)
		snprintf(extra + el, sizeof(extra) - el, "&arch=%u", (unsigned)f->arch);
	n = snprintf(out, outlen, "http://%s/boot.ipxe?mac=%s%s", host, mac, extra);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOBUFS;
	return 0;
}

bool pxe_loader_grub(const struct pxed_conf *conf, const struct pxe_facts *f)
{
	return pxe_loader_grub_for(conf, f, NULL);
}

bool pxe_loader_grub_for(const struct pxed_conf *conf, const struct pxe_facts *f,
			 const char *image_loader)
{
	if (f->is_ipxe)
		return false;
	switch (f->arch_class) {
	case PXE_ARCH_UEFI_X64:
		return conf_loader_grub(image_loader && image_loader[0] ? image_loader
									: conf->loader_uefi_x64);
	/* Debian has no arm64 iPXE: GRUB is the only loader there. */
	case PXE_ARCH_UEFI_ARM64: return true;
	default: return false;
	}
}

int pxe_boot_file(const struct pxed_conf *conf, const struct pxe_facts *f,
		  struct in_addr server, const char *token, char *out, size_t outlen)
{
	return pxe_boot_file_for(conf, f, NULL, server, token, out, outlen);
}

int pxe_boot_file_for(const struct pxed_conf *conf, const struct pxe_facts *f,
		      const char *image_loader, struct in_addr server, const char *token,
		      char *out, size_t outlen)
{
	const char *nbp;
	int n;

	if (f->is_ipxe) {
		return script_url(conf, f, server, token, out, outlen);
	} else {
		switch (f->arch_class) {
		case PXE_ARCH_BIOS: nbp = conf->boot_bios; break;
		case PXE_ARCH_UEFI_X64:
			nbp = pxe_loader_grub_for(conf, f, image_loader) ? PXE_SHIM_X64
									  : conf->boot_uefi_x64;
			break;
		case PXE_ARCH_UEFI_ARM64: nbp = PXE_GRUB_ARM64; break;
		default: return -ENOENT;
		}
		if (!nbp[0])
			return -ENOENT;
		n = snprintf(out, outlen, "%s", nbp);
	}
	if (n < 0 || (size_t)n >= outlen)
		return -ENOBUFS;
	return 0;
}

int pxe_http_boot_file(const struct pxed_conf *conf, const struct pxe_facts *f,
		       struct in_addr server, const char *token, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char host[PXE_URL_HOST_LEN];
	const char *nbp;
	size_t o;
	int n;

	/* Not sent by iPXE, which says "PXEClient"; should a client say both,
	 * the script URL keeps it from chain-loading iPXE again. */
	if (f->is_ipxe)
		return script_url(conf, f, server, token, out, outlen);
	switch (f->arch_class) {
	case PXE_ARCH_UEFI_HTTP: nbp = conf->boot_uefi_x64; break;
	default: return -ENOENT;
	}
	if (!nbp[0])
		return -ENOENT;
	if ((n = http_host(conf, server, host, sizeof(host))) < 0)
		return n;
	n = snprintf(out, outlen, "http://%s/files/", host);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOBUFS;
	/* The name is a plain file name (conf.c), yet may hold bytes a URI
	 * cannot carry as they are: percent-encode all but RFC 3986 §2.3
	 * unreserved characters (the HTTP side decodes them again). */
	o = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)nbp; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			     *p == '_' || *p == '~';
		size_t need = plain ? 1 : 3;
		if (outlen - o <= need)
			return -ENOBUFS;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int pxe_http_local_file(const struct pxed_conf *conf, struct in_addr server, char *out,
			size_t outlen)
{
	char host[PXE_URL_HOST_LEN];
	int n;

	if ((n = http_host(conf, server, host, sizeof(host))) < 0)
		return n;
	n = snprintf(out, outlen, "http://%s" PXE_HTTP_LOCAL_PATH, host);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOBUFS;
	return 0;
}

/* What every reply starts with: the header (RFC 2131 §4.3.1 table 3: xid,
 * flags, giaddr, chaddr from the client; ciaddr 0 in an OFFER, the
 * client's in an ACK; yiaddr never set), options 53, 54, 60 and 97. */
static int reply_start(struct dhcp_builder *b, const struct dhcp_msg *req, uint8_t reply_type,
		       struct in_addr server, const char *bootfile, uint8_t *buf, size_t cap)
{
	static const char pxeclient[] = "PXEClient", httpclient[] = "HTTPClient";
	struct dhcp_header h;
	uint8_t uuid[17];

	if (reply_type != DHCPOFFER && reply_type != DHCPACK)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.op = BOOTREPLY;
	h.htype = DHCP_HTYPE_ETHER;
	h.hlen = MAC_LEN;
	h.xid = req->hdr.xid;
	h.flags = req->hdr.flags;
	if (reply_type == DHCPACK)
		h.ciaddr = req->hdr.ciaddr;
	h.yiaddr.s_addr = 0; /* never hand out an address */
	h.siaddr = server;   /* next server: TFTP for the boot program */
	h.giaddr = req->hdr.giaddr;
	memcpy(h.chaddr, req->hdr.chaddr, DHCP_CHADDR_LEN);
	inet_ntop(AF_INET, &server, h.sname, sizeof(h.sname));
	if (strlen(bootfile) >= DHCP_FILE_LEN)
		return -ENAMETOOLONG;
	memcpy(h.file, bootfile, strlen(bootfile) + 1);

	dhcp_build_start(b, buf, cap, &h);
	dhcp_build_option(b, DHCP_OPT_MSG_TYPE, &reply_type, 1);
	dhcp_build_option(b, DHCP_OPT_SERVER_ID, &server.s_addr, 4);
	/* UEFI 2.5+ HTTP boot (EDK2 HttpBootDhcp4.c) takes an offer for HTTP
	 * boot only when it carries option 60 "HTTPClient"; with yiaddr 0 and
	 * an IPv4 URI in `file` it is a "proxy IP URI" offer, used beside the
	 * site server's address offer, with no 4011 step. */
	if (pxe_is_http_client(req))
		dhcp_build_option(b, DHCP_OPT_VENDOR_CLASS, httpclient, sizeof(httpclient) - 1);
	else
		dhcp_build_option(b, DHCP_OPT_VENDOR_CLASS, pxeclient, sizeof(pxeclient) - 1);
	if (req->has_uuid) {
		/* PXE 2.1 §2.2.3: the ProxyDHCP reply echoes the client UUID. */
		uuid[0] = 0;
		memcpy(uuid + 1, req->uuid_wire, 16);
		dhcp_build_option(b, DHCP_OPT_CLIENT_UUID, uuid, sizeof(uuid));
	}
	return 0;
}

int pxe_build_reply(const struct dhcp_msg *req, const struct pxe_facts *f,
		    uint8_t reply_type, struct in_addr server, const char *bootfile,
		    uint8_t *buf, size_t cap)
{
	struct dhcp_builder b;
	int r;

	if ((r = reply_start(&b, req, reply_type, server, bootfile, buf, cap)) < 0)
		return r;
	if (!pxe_is_http_client(req) && (f->is_ipxe || f->arch_class == PXE_ARCH_BIOS)) {
		const uint8_t vendor[] = { PXE_DISCOVERY_CONTROL, 1, PXE_DC_USE_BOOTFILE,
					   DHCP_OPT_END };
		dhcp_build_option(&b, DHCP_OPT_VENDOR, vendor, sizeof(vendor));
	}
	return dhcp_build_finish(&b);
}

bool pxe_local_by_menu(const struct dhcp_msg *req, const struct pxe_facts *f)
{
	return !f->is_ipxe && !pxe_is_http_client(req);
}

int pxe_build_local_reply(const struct dhcp_msg *req, uint8_t reply_type,
			  struct in_addr server, uint8_t *buf, size_t cap)
{
	/* Why a boot menu and not a boot program that exits: it works the
	 * same whatever the firmware would refuse to run (Secure Boot) and
	 * whichever iPXE build it would need, costs no download, and EDK2 --
	 * the firmware of most UEFI machines -- returns from it to its boot
	 * manager, which goes on to the next boot option (its PxeBcDxe
	 * aborts on boot server type 0, "PXE-E21: Remote boot cancelled").
	 * Debian's ipxe.efi chained by EDK2 never returns to the firmware
	 * after `exit` at all.
	 *
	 * PXE 2.1 §2.2.5 table 2-1: PXE_BOOT_MENU is a list of (type, 16
	 * bits; description length; description); PXE_MENU_PROMPT is
	 * (timeout in seconds; prompt), where timeout 0 chooses the first
	 * item at once without showing the menu.  No discovery: the one
	 * item needs no boot server. */
	static const char item[] = "Boot from local disk", prompt[] = "pxed";
	uint8_t v[3 + 2 + 3 + sizeof(item) - 1 + 2 + 1 + sizeof(prompt) - 1 + 1];
	struct dhcp_builder b;
	size_t o = 0;
	int r;

	if ((r = reply_start(&b, req, reply_type, server, "", buf, cap)) < 0)
		return r;
	v[o++] = PXE_DISCOVERY_CONTROL;
	v[o++] = 1;
	v[o++] = PXE_DC_NO_DISCOVERY;
	v[o++] = PXE_BOOT_MENU;
	v[o++] = (uint8_t)(3 + sizeof(item) - 1);
	v[o++] = (uint8_t)(PXE_BOOT_TYPE_LOCAL >> 8);
	v[o++] = (uint8_t)(PXE_BOOT_TYPE_LOCAL & 0xff);
	v[o++] = (uint8_t)(sizeof(item) - 1);
	memcpy(v + o, item, sizeof(item) - 1);
	o += sizeof(item) - 1;
	v[o++] = PXE_MENU_PROMPT;
	v[o++] = (uint8_t)(1 + sizeof(prompt) - 1);
	v[o++] = 0; /* timeout: choose the first item now */
	memcpy(v + o, prompt, sizeof(prompt) - 1);
	o += sizeof(prompt) - 1;
	v[o++] = DHCP_OPT_END;
	dhcp_build_option(&b, DHCP_OPT_VENDOR, v, o);
	return dhcp_build_finish(&b);
}

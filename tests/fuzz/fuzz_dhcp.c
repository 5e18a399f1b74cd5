/* libFuzzer harness for the DHCP parser, the PXE facts extraction and
 * the reply builder: build with `make fuzz`, run build/fuzz/fuzz_dhcp. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dhcp/dhcp_packet.h"
#include "dhcp/pxe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `make fuzz` links every module's source directly.  Until the decide and
 * conf modules are in the tree, these weak stand-ins let the harness
 * link; the real definitions win as soon as they exist.  The harness
 * never calls them (it exercises the pure parser and builder only). */
__attribute__((weak)) int decide(struct decider *d, const struct pxe_facts *f, bool commit,
				 struct decision *out)
{
	abort();
}
__attribute__((weak)) void decision_log(const struct pxe_facts *f, const struct decision *d,
					const char *context)
{
	abort();
}
__attribute__((weak)) bool conf_iface_allowed(const struct pxed_conf *c, const char *ifname)
{
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pxed_conf conf;
	struct dhcp_msg m;
	struct pxe_facts f;
	char file[PXE_BOOTFILE_MAX];
	uint8_t out[DHCP_MAX_LEN];
	struct in_addr srv = { .s_addr = htonl(0x0a63000a) };

	strcpy(conf.boot_bios, "undionly.kpxe");
	strcpy(conf.boot_uefi_x64, "ipxe.efi");
	conf.http_port = 8080;

	if (dhcp_parse(data, size, &m) < 0)
		return 0;
	(void)dhcp_user_class_has(&m, "iPXE");
	(void)pxe_is_client(&m);
	if (pxe_facts_from_msg(&m, &f) < 0)
		abort(); /* the parser already checked htype/hlen */
	if (pxe_boot_file(&conf, &f, srv, file, sizeof(file)) < 0)
		strcpy(file, "x");
	int len = pxe_build_reply(&m, &f, DHCPOFFER, srv, file, out, sizeof(out));
	if (len < 0)
		abort(); /* a reply always fits a full-size buffer */
	struct dhcp_msg back;
	if (dhcp_parse(out, (size_t)len, &back) != 0 || back.hdr.yiaddr.s_addr != 0 ||
	    back.hdr.xid != m.hdr.xid || strcmp(back.hdr.file, file) != 0)
		abort();
	return 0;
}

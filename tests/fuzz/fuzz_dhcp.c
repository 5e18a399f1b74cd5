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
	/* Both boot file builders, as the responder picks by vendor class. */
	char url[PXE_BOOTFILE_MAX];
	(void)pxe_http_boot_file(&conf, &f, srv, NULL, url, sizeof(url));
	if (pxe_boot_file(&conf, &f, srv, NULL, file, sizeof(file)) < 0)
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

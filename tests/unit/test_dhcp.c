/* DHCP/PXE packet tests: real firmware captures (tests/fixtures), built
 * replies parsed back, every truncation, and hostile vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dhcp/dhcp_packet.h"
#include "dhcp/pxe.h"
#include "test_dhcp_pcap.h"

#define EDK2_PCAP FIXTURES "/edk2-uefi-pxe-proxydhcp-tftp.pcap"
#define IPXE_PCAP FIXTURES "/ipxe-bios-dhcp-two-proxies.pcap"

static struct pxed_conf conf;

static void conf_for_tests(void)
{
	memset(&conf, 0, sizeof(conf));
	strcpy(conf.boot_bios, "undionly.kpxe");
	strcpy(conf.boot_uefi_x64, "ipxe.efi");
	conf.dhcp_port = 67;
	conf.pxe_port = 4011;
	conf.http_port = 8080;
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* A client packet: is it sent by the client (to 67 from 68, or to 4011
 * with op BOOTREQUEST)? */
static bool from_client(const struct pcap_udp *u)
{
	if (u->sport == 68 && u->dport == 67)
		return true;
	return u->dport == 4011 && u->len > 0 && u->data[0] == BOOTREQUEST;
}

static bool from_server(const struct pcap_udp *u)
{
	return (u->sport == 67 && u->dport == 68) ||
	       (u->sport == 4011 && u->len > 0 && u->data[0] == BOOTREPLY);
}

/* Offset of the END option in the options field (test-side walk of a
 * known-good packet), or len when there is none. */
static size_t end_offset(const uint8_t *p, size_t len)
{
	size_t i = DHCP_MIN_LEN;
	while (i < len) {
		if (p[i] == DHCP_OPT_END)
			return i;
		if (p[i] == DHCP_OPT_PAD) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return len;
		i += 2u + p[i + 1];
	}
	return len;
}

static void check_facts(const struct dhcp_msg *m, const char *mac, const char *guid,
			uint16_t arch, bool ipxe)
{
	struct pxe_facts f;
	char s[GUID_STR_LEN];

	assert_true(pxe_is_client(m));
	assert_int_equal(pxe_facts_from_msg(m, &f), 0);
	mac_format(f.mac, s);
	assert_string_equal(s, mac);
	assert_true(f.has_guid);
	guid_format(f.guid, s);
	/* The text QEMU was given with -smbios type=1,uuid=... */
	assert_string_equal(s, guid);
	assert_true(f.has_arch);
	assert_int_equal(f.arch, arch);
	assert_int_equal(f.arch_class, vocab_arch_classify(arch));
	assert_int_equal(f.is_ipxe, ipxe);
	assert_int_equal(f.secs, m->hdr.secs);
	assert_int_equal(f.via, PXE_VIA_DHCP);
}

/* Build our reply to req and parse it back. */
static void check_reply(const struct dhcp_msg *req, uint8_t type, const char *server,
			const char *want_file, bool want_43)
{
	struct pxe_facts f;
	struct dhcp_msg rep;
	char file[PXE_BOOTFILE_MAX];
	uint8_t buf[DHCP_MAX_LEN];
	struct in_addr srv = ip4(server);
	int len;

	assert_int_equal(pxe_facts_from_msg(req, &f), 0);
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, file, sizeof(file)), 0);
	assert_string_equal(file, want_file);
	len = pxe_build_reply(req, &f, type, srv, file, buf, sizeof(buf));
	assert_true(len >= DHCP_MIN_REPLY_LEN);
	assert_int_equal(dhcp_parse(buf, (size_t)len, &rep), 0);
	assert_int_equal(dhcp_parse_request(buf, (size_t)len, &rep), DHCP_ERR_NOT_REQUEST);
	assert_int_equal(dhcp_parse(buf, (size_t)len, &rep), 0);
	assert_int_equal(rep.hdr.op, BOOTREPLY);
	assert_int_equal(rep.msg_type, type);
	assert_int_equal(rep.hdr.xid, req->hdr.xid);
	assert_int_equal(rep.hdr.flags, req->hdr.flags);
	assert_memory_equal(rep.hdr.chaddr, req->hdr.chaddr, DHCP_CHADDR_LEN);
	assert_int_equal(rep.hdr.giaddr.s_addr, req->hdr.giaddr.s_addr);
	assert_int_equal(rep.hdr.yiaddr.s_addr, 0);
	assert_int_equal(rep.hdr.siaddr.s_addr, srv.s_addr);
	assert_string_equal(rep.hdr.file, want_file);
	assert_string_equal(rep.hdr.sname, server);
	assert_true(rep.has_server_id);
	assert_int_equal(rep.server_id.s_addr, srv.s_addr);
	assert_true(rep.vendor_class.present);
	assert_int_equal(rep.vendor_class.len, 9);
	assert_memory_equal(rep.vendor_class.data, "PXEClient", 9);
	assert_int_equal(rep.has_uuid, req->has_uuid);
	if (req->has_uuid)
		assert_memory_equal(rep.uuid_wire, req->uuid_wire, 16);
	assert_int_equal(rep.vendor_opts.present, want_43);
	if (want_43) {
		const uint8_t v[] = { 6, 1, 8, 255 };
		assert_int_equal(rep.vendor_opts.len, sizeof(v));
		assert_memory_equal(rep.vendor_opts.data, v, sizeof(v));
	}
	/* Every shorter buffer is refused, never truncated. */
	for (size_t cap = 0; cap < (size_t)end_offset(buf, (size_t)len) + 1; cap++)
		assert_int_equal(pxe_build_reply(req, &f, type, srv, file, buf, cap), -ENOBUFS);
}

static void test_fixture_edk2(void **state)
{
	struct pcap_capture cap;
	struct dhcp_msg m;
	unsigned n_plain = 0, n_4011 = 0, n_ipxe = 0, n_replies = 0;
	const char *mac = "52:54:00:aa:00:02", *guid = "aaaaaaaa-0000-0000-0000-000000000002";

	assert_int_equal(pcap_load(EDK2_PCAP, &cap), 0);
	for (size_t i = 0; i < cap.n; i++) {
		struct pcap_udp *u = &cap.pkt[i];
		if (from_client(u)) {
			assert_int_equal(dhcp_parse_request(u->data, u->len, &m), 0);
			bool ipxe = m.ipxe_encap.present;
			check_facts(&m, mac, guid, 7, ipxe);
			if (u->dport == 4011) {
				/* EDK2's PXE request to the proxy after its OFFER */
				n_4011++;
				assert_int_equal(m.msg_type, DHCPREQUEST);
				assert_false(ipxe);
				check_reply(&m, DHCPACK, "10.99.0.10", "ipxe.efi", false);
			} else if (ipxe) {
				/* snponly.efi's own DHCP: iPXE gets its script URL */
				n_ipxe++;
				assert_true(dhcp_user_class_has(&m, "iPXE"));
				check_reply(&m, m.msg_type == DHCPDISCOVER ? DHCPOFFER : DHCPACK,
					    "10.99.0.10",
					    "http://10.99.0.10:8080/boot.ipxe?mac=52:54:00:aa:00:02"
					    "&guid=aaaaaaaa-0000-0000-0000-000000000002&arch=7",
					    true);
			} else {
				n_plain++;
				assert_false(m.user_class.present);
				check_reply(&m, m.msg_type == DHCPDISCOVER ? DHCPOFFER : DHCPACK,
					    "10.99.0.10", "ipxe.efi", false);
			}
		} else if (from_server(u)) {
			n_replies++;
			assert_int_equal(dhcp_parse(u->data, u->len, &m), 0);
			assert_int_equal(m.hdr.op, BOOTREPLY);
			if (pxe_is_client(&m)) { /* the ProxyDHCP's replies */
				assert_int_equal(m.hdr.yiaddr.s_addr, 0);
				assert_true(m.has_uuid);
			}
			if (u->sport == 4011) {
				assert_int_equal(m.msg_type, DHCPACK);
				assert_string_equal(m.hdr.file, "snponly.efi");
				assert_string_equal(m.hdr.sname, "10.99.0.10");
			}
		}
	}
	assert_int_equal(n_plain, 2);
	assert_int_equal(n_4011, 1);
	assert_int_equal(n_ipxe, 2);
	assert_int_equal(n_replies, 9);
	pcap_free(&cap);
}

static void test_fixture_ipxe_bios(void **state)
{
	struct pcap_capture cap;
	struct dhcp_msg m;
	unsigned n_req = 0, n_replies = 0, n_43 = 0;

	assert_int_equal(pcap_load(IPXE_PCAP, &cap), 0);
	for (size_t i = 0; i < cap.n; i++) {
		struct pcap_udp *u = &cap.pkt[i];
		if (from_client(u)) {
			n_req++;
			assert_int_equal(dhcp_parse_request(u->data, u->len, &m), 0);
			/* iPXE sends user class "iPXE" without RFC 3004 framing */
			assert_int_equal(m.user_class.len, 4);
			assert_true(dhcp_user_class_has(&m, "iPXE"));
			check_facts(&m, "52:54:00:aa:00:01",
				    "aaaaaaaa-0000-0000-0000-000000000001", 0, true);
			check_reply(&m, m.msg_type == DHCPDISCOVER ? DHCPOFFER : DHCPACK,
				    "10.99.0.10",
				    "http://10.99.0.10:8080/boot.ipxe?mac=52:54:00:aa:00:01"
				    "&guid=aaaaaaaa-0000-0000-0000-000000000001&arch=0",
				    true);
		} else if (from_server(u)) {
			n_replies++;
			assert_int_equal(dhcp_parse(u->data, u->len, &m), 0);
			if (m.vendor_opts.present)
				n_43++;
		}
	}
	assert_int_equal(n_req, 2);
	assert_int_equal(n_replies, 4);
	assert_int_equal(n_43, 2); /* both proxies send PXE vendor options */
	pcap_free(&cap);
}

/* Every prefix of every fixture packet: no crash (each prefix is an exact
 * heap copy, so ASan flags any over-read), and rejected while it ends
 * before the END option. */
static void truncate_all(const char *path)
{
	struct pcap_capture cap;
	struct dhcp_msg m;

	assert_int_equal(pcap_load(path, &cap), 0);
	assert_true(cap.n > 0);
	for (size_t i = 0; i < cap.n; i++) {
		struct pcap_udp *u = &cap.pkt[i];
		if (!from_client(u) && !from_server(u))
			continue;
		size_t end = end_offset(u->data, u->len);
		assert_true(end < u->len);
		for (size_t k = 0; k < u->len; k++) {
			uint8_t *p = malloc(k ? k : 1);
			memcpy(p, u->data, k);
			int r = dhcp_parse(p, k, &m);
			if (k <= end)
				assert_true(r < 0);
			else
				assert_int_equal(r, 0); /* only padding cut */
			free(p);
		}
	}
	pcap_free(&cap);
}

static void test_truncation(void **state)
{
	truncate_all(EDK2_PCAP);
	truncate_all(IPXE_PCAP);
}

/* Hand-made client packets: header + cookie + opts. */
static size_t mk(uint8_t *buf, size_t cap, const uint8_t *opts, size_t optlen)
{
	assert_true(DHCP_MIN_LEN + optlen <= cap);
	memset(buf, 0, DHCP_MIN_LEN);
	buf[0] = BOOTREQUEST;
	buf[1] = 1;
	buf[2] = 6;
	buf[4] = 0x12, buf[5] = 0x34, buf[6] = 0x56, buf[7] = 0x78;
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	memcpy(buf + 28, mac, 6);
	buf[236] = 99, buf[237] = 130, buf[238] = 83, buf[239] = 99;
	memcpy(buf + DHCP_MIN_LEN, opts, optlen);
	return DHCP_MIN_LEN + optlen;
}

/* Parse from an exact-size heap copy. */
static int parse_exact(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
	uint8_t *p = malloc(len ? len : 1);
	memcpy(p, buf, len);
	int r = dhcp_parse_request(p, len, m);
	free(p);
	return r;
}

struct vector {
	const char *name;
	uint8_t opts[300];
	size_t len;
	int want;
};

#define V(name, want, ...) \
	{ name, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), want }

static const struct vector vectors[] = {
	V("minimal discover", 0, 53, 1, 1, 255),
	V("pad before and after", 0, 0, 0, 53, 1, 1, 255, 0, 0, 7),
	V("zero-length unknown option", 0, 53, 1, 1, 80, 0, 255),
	V("no end", DHCP_ERR_NO_END, 53, 1, 1),
	V("no end after pad", DHCP_ERR_NO_END, 53, 1, 1, 0, 0),
	V("option header cut", DHCP_ERR_OPT_TRUNC, 53, 1, 1, 60),
	V("overlong option length", DHCP_ERR_OPT_TRUNC, 53, 1, 1, 60, 200, 'P', 'X', 'E', 255),
	V("option past end", DHCP_ERR_OPT_TRUNC, 53, 1, 1, 97, 17, 0, 1, 2, 3),
	V("msg type len 0", DHCP_ERR_OPT_LEN, 53, 0, 255),
	V("msg type len 2", DHCP_ERR_OPT_LEN, 53, 2, 1, 1, 255),
	V("msg type 0", DHCP_ERR_MSG_TYPE, 53, 1, 0, 255),
	V("msg type 9", DHCP_ERR_MSG_TYPE, 53, 1, 9, 255),
	V("msg type twice", DHCP_ERR_OPT_DUP, 53, 1, 1, 53, 1, 3, 255),
	V("no msg type", DHCP_ERR_NO_MSG_TYPE, 60, 3, 'P', 'X', 'E', 255),
	V("arch len 0", DHCP_ERR_OPT_LEN, 53, 1, 1, 93, 0, 255),
	V("arch len 3", DHCP_ERR_OPT_LEN, 53, 1, 1, 93, 3, 0, 7, 0, 255),
	V("arch list", 0, 53, 1, 1, 93, 4, 0, 7, 0, 0, 255),
	V("arch twice", DHCP_ERR_OPT_DUP, 53, 1, 1, 93, 2, 0, 7, 93, 2, 0, 0, 255),
	V("uuid len 16", DHCP_ERR_OPT_LEN, 53, 1, 1, 97, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	  10, 11, 12, 13, 14, 15, 255),
	V("uuid len 0", DHCP_ERR_OPT_LEN, 53, 1, 1, 97, 0, 255),
	V("uuid type 1", DHCP_ERR_UUID_TYPE, 53, 1, 1, 97, 17, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	  10, 11, 12, 13, 14, 15, 16, 255),
	V("vendor class len 0", DHCP_ERR_OPT_LEN, 53, 1, 1, 60, 0, 255),
	V("user class len 0", DHCP_ERR_OPT_LEN, 53, 1, 1, 77, 0, 255),
	V("client id len 1", DHCP_ERR_OPT_LEN, 53, 1, 1, 61, 1, 1, 255),
	V("server id len 3", DHCP_ERR_OPT_LEN, 53, 1, 3, 54, 3, 10, 0, 0, 255),
	V("max size len 1", DHCP_ERR_OPT_LEN, 53, 1, 1, 57, 1, 5, 255),
	V("overload len 2", DHCP_ERR_OPT_LEN, 53, 1, 1, 52, 2, 1, 1, 255),
	V("overload 0", DHCP_ERR_OVERLOAD, 53, 1, 1, 52, 1, 0, 255),
	V("overload 4", DHCP_ERR_OVERLOAD, 53, 1, 1, 52, 1, 4, 255),
	V("hostile user class", 0, 53, 1, 1, 77, 6, 0xff, 'i', 0, 0x1b, '\n', 0x80, 255),
	V("ipxe encap empty", 0, 53, 1, 1, 175, 0, 255),
};

static void test_vectors(void **state)
{
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_msg m;

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		size_t len = mk(buf, sizeof(buf), v->opts, v->len);
		int r = parse_exact(buf, len, &m);
		if (r != v->want)
			fail_msg("%s: got %d (%s), want %d", v->name, r, dhcp_parse_strerror(r),
				 v->want);
		if (r < 0)
			assert_string_not_equal(dhcp_parse_strerror(r), "?");
	}
}

static void test_header_rules(void **state)
{
	const uint8_t opts[] = { 53, 1, 1, 255 };
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_msg m;
	size_t len;

	len = mk(buf, sizeof(buf), opts, sizeof(opts));
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(parse_exact(buf, DHCP_MIN_LEN - 1, &m), DHCP_ERR_SHORT);
	assert_int_equal(dhcp_parse(NULL, 0, &m), DHCP_ERR_SHORT);
	buf[2] = 16; /* hlen 16 */
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_HWTYPE);
	buf[2] = 6, buf[1] = 6; /* IEEE 802 */
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_HWTYPE);
	buf[1] = 1, buf[0] = 3;
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_OP);
	buf[0] = BOOTREPLY;
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_NOT_REQUEST);
	buf[0] = BOOTREQUEST, buf[239] = 0x62; /* bad cookie */
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_COOKIE);
	buf[239] = 99;
	/* Only the cookie, no options at all: no END */
	assert_int_equal(parse_exact(buf, DHCP_MIN_LEN, &m), DHCP_ERR_NO_END);
	/* Fixed header fields come through. */
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(m.hdr.xid, 0x12345678);
	assert_int_equal(m.msg_type, DHCPDISCOVER);
	assert_false(pxe_is_client(&m));
}

/* RFC 2132 §9.3 option overload: file then sname carry options. */
static void test_overload(void **state)
{
	const uint8_t opts[] = { 53, 1, 1, 52, 1, 3, 255 };
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_msg m;
	size_t len = mk(buf, sizeof(buf), opts, sizeof(opts));
	const uint8_t file_opts[] = { 60, 9, 'P', 'X', 'E', 'C', 'l', 'i', 'e', 'n', 't', 255 };
	const uint8_t sname_opts[] = { 93, 2, 0, 7 }; /* no END: runs to the field's end */

	memcpy(buf + 108, file_opts, sizeof(file_opts));
	memcpy(buf + 44, sname_opts, sizeof(sname_opts));
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(m.overload, 3);
	assert_true(pxe_is_client(&m));
	assert_true(m.has_arch);
	assert_int_equal(m.arch, 7);
	assert_string_equal(m.hdr.file, "");
	assert_string_equal(m.hdr.sname, "");

	/* An option in file that runs past the field is caught. */
	buf[108 + sizeof(file_opts) - 1] = DHCP_OPT_PAD;
	buf[108 + 126] = 60, buf[108 + 127] = 10;
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_OPT_TRUNC);
	buf[108 + 126] = 0, buf[108 + 127] = 0;
	/* Overload inside an overloaded field is refused. */
	buf[44 + 4] = 52, buf[44 + 5] = 1, buf[44 + 6] = 1;
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_OVERLOAD);

	/* Without option 52, the fields are names, cut at their size. */
	const uint8_t plain[] = { 53, 1, 1, 255 };
	len = mk(buf, sizeof(buf), plain, sizeof(plain));
	memset(buf + 44, 'A', 64);
	memset(buf + 108, 'B', 128);
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(strlen(m.hdr.sname), 64);
	assert_int_equal(strlen(m.hdr.file), 128);
}

/* RFC 3396: split options are concatenated. */
static void test_concatenation(void **state)
{
	const uint8_t opts[] = { 53, 1, 1, 60, 5, 'P', 'X', 'E', 'C', 'l', 60, 4, 'i', 'e', 'n', 't',
				 255 };
	uint8_t buf[DHCP_MAX_LEN], big[2 + 200 + 2 + 100 + 4];
	struct dhcp_msg m;
	size_t len = mk(buf, sizeof(buf), opts, sizeof(opts));

	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(m.vendor_class.len, 9);
	assert_true(pxe_is_client(&m));

	size_t o = 0;
	big[o++] = 53, big[o++] = 1, big[o++] = 1;
	big[o++] = 60, big[o++] = 200;
	memset(big + o, 'x', 200), o += 200;
	big[o++] = 60, big[o++] = 100;
	memset(big + o, 'y', 100), o += 100;
	big[o++] = 255;
	len = mk(buf, sizeof(buf), big, o);
	assert_int_equal(parse_exact(buf, len, &m), DHCP_ERR_OPT_TOO_LONG);
}

static void test_user_class(void **state)
{
	struct dhcp_msg m;
	struct {
		const char *bytes;
		size_t len;
		bool want;
	} t[] = {
		{ "iPXE", 4, true },                 /* iPXE's bare string */
		{ "\x04iPXE", 5, true },             /* RFC 3004 */
		{ "\x03" "foo\x04iPXE", 9, true },   /* RFC 3004, second instance */
		{ "\x04iPXF", 5, false },
		{ "iPXEx", 5, false },
		{ "iP\0XE", 5, false },
		{ "\xff" "iPXE", 5, false },         /* instance longer than the option */
		{ "\x00\x04iPXE", 6, false },        /* zero-length instance */
		{ "\x05iPXE", 5, false },
		{ "\x04", 1, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		memset(&m, 0, sizeof(m));
		m.user_class.present = true;
		m.user_class.len = (uint8_t)t[i].len;
		memcpy(m.user_class.data, t[i].bytes, t[i].len);
		assert_int_equal(dhcp_user_class_has(&m, "iPXE"), t[i].want);
		assert_int_equal(pxe_is_ipxe(&m), t[i].want);
	}
	memset(&m, 0, sizeof(m));
	assert_false(dhcp_user_class_has(&m, "iPXE"));
	m.ipxe_encap.present = true;
	assert_true(pxe_is_ipxe(&m));
}

static void test_vendor_class(void **state)
{
	struct dhcp_msg m;
	const char *yes[] = { "PXEClient", "PXEClient:Arch:00007:UNDI:003000" };
	const char *no[] = { "PXECl", "HTTPClient:Arch:00016", "pxeclient", "MSFT 5.0" };

	memset(&m, 0, sizeof(m));
	assert_false(pxe_is_client(&m));
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		m.vendor_class.present = true;
		m.vendor_class.len = (uint8_t)strlen(yes[i]);
		memcpy(m.vendor_class.data, yes[i], m.vendor_class.len);
		assert_true(pxe_is_client(&m));
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		m.vendor_class.len = (uint8_t)strlen(no[i]);
		memcpy(m.vendor_class.data, no[i], m.vendor_class.len);
		assert_false(pxe_is_client(&m));
	}
	/* "HTTPClient" as a prefix, case and all, as EDK2 sends it. */
	const char *http_yes[] = { "HTTPClient", "HTTPClient:Arch:00016:UNDI:003000" };
	const char *http_no[] = { "HTTPClien", "httpclient", "HTTP", "PXEClient:Arch:00016",
				  "xHTTPClient", "HTTP\0Client" };
	for (size_t i = 0; i < ARRAY_SIZE(http_yes); i++) {
		m.vendor_class.len = (uint8_t)strlen(http_yes[i]);
		memcpy(m.vendor_class.data, http_yes[i], m.vendor_class.len);
		assert_true(pxe_is_http_client(&m));
		assert_false(pxe_is_client(&m));
	}
	for (size_t i = 0; i < ARRAY_SIZE(http_no); i++) {
		m.vendor_class.len = (uint8_t)(i == ARRAY_SIZE(http_no) - 1 ? 11 : strlen(http_no[i]));
		memcpy(m.vendor_class.data, http_no[i], m.vendor_class.len);
		assert_false(pxe_is_http_client(&m));
	}
	m.vendor_class.present = false;
	memcpy(m.vendor_class.data, "HTTPClient", 10);
	m.vendor_class.len = 10;
	assert_false(pxe_is_http_client(&m));
}

static void test_arch_classify(void **state)
{
	struct {
		uint16_t arch;
		enum pxe_arch_class c;
		const char *name;
	} t[] = {
		{ 0, PXE_ARCH_BIOS, "bios" },          { 6, PXE_ARCH_UEFI_X86, "uefi-x86" },
		{ 7, PXE_ARCH_UEFI_X64, "uefi-x64" },  { 9, PXE_ARCH_UEFI_X64, "uefi-x64" },
		{ 11, PXE_ARCH_UEFI_ARM64, "uefi-arm64" }, { 16, PXE_ARCH_UEFI_HTTP, "uefi-http" },
		{ 1, PXE_ARCH_OTHER, "other" },        { 10, PXE_ARCH_OTHER, "other" },
		{ 0xffff, PXE_ARCH_OTHER, "other" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(vocab_arch_classify(t[i].arch), t[i].c);
		assert_string_equal(vocab_arch_name(t[i].c), t[i].name);
	}
	assert_string_equal(vocab_arch_name((enum pxe_arch_class)99), "other");
}

static void test_boot_file(void **state)
{
	struct pxe_facts f;
	char out[PXE_BOOTFILE_MAX];
	struct in_addr srv = ip4("192.168.1.5");

	memset(&f, 0, sizeof(f));
	mac_parse("52:54:00:12:34:56", f.mac);
	f.has_arch = true;

	f.arch = 0, f.arch_class = PXE_ARCH_BIOS;
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "undionly.kpxe");
	f.arch = 9, f.arch_class = PXE_ARCH_UEFI_X64;
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "ipxe.efi");
	const uint16_t unserved[] = { 6, 16, 2, 1000 };
	for (size_t i = 0; i < ARRAY_SIZE(unserved); i++) {
		f.arch = unserved[i], f.arch_class = vocab_arch_classify(unserved[i]);
		assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOENT);
	}
	/* ARM64 UEFI (RFC 4578 §2.1: 11): GRUB, whatever the settings. */
	f.arch = 11, f.arch_class = PXE_ARCH_UEFI_ARM64;
	assert_true(pxe_loader_grub(&conf, &f));
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "grubaa64.efi");
	/* BootLoaderUEFIx64 = grub: UEFI x64 (7 and 9) gets shim, BIOS
	 * keeps iPXE, and so does iPXE itself. */
	strcpy(conf.loader_uefi_x64, "grub");
	const uint16_t x64[] = { 7, 9 };
	for (size_t i = 0; i < ARRAY_SIZE(x64); i++) {
		f.arch = x64[i], f.arch_class = vocab_arch_classify(x64[i]);
		assert_true(pxe_loader_grub(&conf, &f));
		assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
		assert_string_equal(out, "shimx64.efi");
	}
	f.arch = 0, f.arch_class = PXE_ARCH_BIOS;
	assert_false(pxe_loader_grub(&conf, &f));
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "undionly.kpxe");
	f.arch = 9, f.arch_class = PXE_ARCH_UEFI_X64, f.is_ipxe = true;
	assert_false(pxe_loader_grub(&conf, &f));
	f.is_ipxe = false;
	strcpy(conf.loader_uefi_x64, "ipxe");
	assert_false(pxe_loader_grub(&conf, &f));
	f.arch = 1000, f.arch_class = PXE_ARCH_OTHER;
	/* iPXE gets the script URL whatever its architecture */
	f.is_ipxe = true;
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://192.168.1.5:8080/boot.ipxe?mac=52:54:00:12:34:56&arch=1000");
	f.has_arch = false;
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://192.168.1.5:8080/boot.ipxe?mac=52:54:00:12:34:56");
	/* HTTP bound to one address: the URL names it, an IPv6 one in
	 * brackets (RFC 3986 §3.2.2); a wildcard Address leaves the
	 * receiving interface's address. */
	snprintf(conf.http_address, sizeof(conf.http_address), "2001:db8::7");
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://[2001:db8::7]:8080/boot.ipxe?mac=52:54:00:12:34:56");
	snprintf(conf.http_address, sizeof(conf.http_address), "10.9.8.7");
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.9.8.7:8080/boot.ipxe?mac=52:54:00:12:34:56");
	snprintf(conf.http_address, sizeof(conf.http_address), "0.0.0.0");
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://192.168.1.5:8080/boot.ipxe?mac=52:54:00:12:34:56");
	snprintf(conf.http_address, sizeof(conf.http_address), "::");
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://192.168.1.5:8080/boot.ipxe?mac=52:54:00:12:34:56");
	conf.http_address[0] = '\0';
	/* Longest possible URL still fits the file field. */
	f.has_arch = true, f.arch = 65535, f.has_guid = true;
	memset(f.guid, 0xab, sizeof(f.guid));
	conf.http_port = 65535;
	srv = ip4("255.255.255.255");
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_true(strlen(out) < DHCP_FILE_LEN);
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, 20), -ENOBUFS);
	conf_for_tests();
	/* No boot program configured */
	f.is_ipxe = false, f.arch = 0, f.arch_class = PXE_ARCH_BIOS;
	conf.boot_bios[0] = '\0';
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOENT);
	conf_for_tests();
}

static void test_builder(void **state)
{
	struct dhcp_builder b;
	struct dhcp_header h;
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_msg m;
	uint8_t t = DHCPOFFER, big[255];

	memset(&h, 0, sizeof(h));
	h.op = BOOTREPLY, h.htype = 1, h.hlen = 6;
	/* Too small for header + cookie + END */
	assert_int_equal(dhcp_build_start(&b, buf, DHCP_MIN_LEN, &h), -ENOBUFS);
	assert_int_equal(dhcp_build_option(&b, 53, &t, 1), -ENOBUFS);
	assert_int_equal(dhcp_build_finish(&b), -ENOBUFS);
	assert_int_equal(dhcp_build_start(&b, NULL, 0, &h), -ENOBUFS);
	/* Exactly header + cookie + option + END */
	assert_int_equal(dhcp_build_start(&b, buf, DHCP_MIN_LEN + 3 + 1, &h), 0);
	assert_int_equal(dhcp_build_option(&b, 53, &t, 1), 0);
	assert_int_equal(dhcp_build_finish(&b), DHCP_MIN_LEN + 4);
	assert_int_equal(dhcp_parse(buf, DHCP_MIN_LEN + 4, &m), 0);
	assert_int_equal(m.msg_type, DHCPOFFER);
	/* One byte short: the option no longer fits beside END */
	assert_int_equal(dhcp_build_start(&b, buf, DHCP_MIN_LEN + 3, &h), 0);
	assert_int_equal(dhcp_build_option(&b, 53, &t, 1), -ENOBUFS);
	assert_int_equal(dhcp_build_finish(&b), -ENOBUFS);
	/* Bad options */
	assert_int_equal(dhcp_build_start(&b, buf, sizeof(buf), &h), 0);
	assert_int_equal(dhcp_build_option(&b, 43, big, 256), -EINVAL);
	assert_int_equal(dhcp_build_start(&b, buf, sizeof(buf), &h), 0);
	assert_int_equal(dhcp_build_option(&b, 255, big, 0), -EINVAL);
	/* A file name that fills the field leaves no NUL: refused */
	memset(h.file, 'f', DHCP_FILE_LEN);
	assert_int_equal(dhcp_build_start(&b, buf, sizeof(buf), &h), -ENAMETOOLONG);
	memset(h.file, 0, sizeof(h.file));
	memset(h.sname, 's', DHCP_SNAME_LEN);
	assert_int_equal(dhcp_build_start(&b, buf, sizeof(buf), &h), -ENAMETOOLONG);
	memset(h.sname, 0, sizeof(h.sname));
	/* Padding to the BOOTP minimum */
	assert_int_equal(dhcp_build_start(&b, buf, sizeof(buf), &h), 0);
	assert_int_equal(dhcp_build_option(&b, 53, &t, 1), 0);
	memset(big, 0x41, sizeof(big));
	assert_int_equal(dhcp_build_option(&b, 43, big, 255), 0);
	assert_int_equal(dhcp_build_finish(&b), DHCP_MIN_LEN + 3 + 257 + 1);
	assert_int_equal(dhcp_build_start(&b, buf, sizeof(buf), &h), 0);
	assert_int_equal(dhcp_build_finish(&b), DHCP_MIN_REPLY_LEN);
	/* The reply builder refuses a bad type and an overlong file */
	struct pxe_facts f;
	memset(&f, 0, sizeof(f));
	memset(&m, 0, sizeof(m));
	m.hdr.htype = 1, m.hdr.hlen = 6;
	assert_int_equal(pxe_build_reply(&m, &f, DHCPNAK, ip4("10.0.0.1"), "x", buf, sizeof(buf)),
			 -EINVAL);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pxe_build_reply(&m, &f, DHCPACK, ip4("10.0.0.1"), longname, buf,
					 sizeof(buf)), -ENAMETOOLONG);
}

/* A DISCOVER laid out as EDK2's HttpBootDxe builds it (HttpBootDhcp4.c
 * HttpBootBuildDhcp4Options): parameter list, max size, UUID, UNDI, arch
 * 16 and "HTTPClient:Arch:00016:UNDI:003000". */
#define HTTP_VC 'H', 'T', 'T', 'P', 'C', 'l', 'i', 'e', 'n', 't', ':', 'A', 'r', 'c', 'h', \
		':', '0', '0', '0', '1', '6', ':', 'U', 'N', 'D', 'I', ':', '0', '0', '3', '0', \
		'0', '0'
static const uint8_t http_discover[] = {
	53, 1, 1,
	55, 6, 1, 3, 6, 15, 60, 67,
	57, 2, 0x05, 0xc0,
	97, 17, 0, 0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03,
	94, 3, 1, 3, 0,
	93, 2, 0, 16,
	60, 33, HTTP_VC,
	255,
};

/* Build the reply to an HTTPClient request and parse it back. */
static void check_http_reply(const struct dhcp_msg *req, const struct pxe_facts *f,
			     const char *file)
{
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_msg rep;
	struct in_addr srv = ip4("10.99.0.10");
	int len = pxe_build_reply(req, f, DHCPOFFER, srv, file, buf, sizeof(buf));

	assert_true(len >= DHCP_MIN_REPLY_LEN);
	assert_int_equal(dhcp_parse(buf, (size_t)len, &rep), 0);
	assert_int_equal(rep.hdr.op, BOOTREPLY);
	assert_int_equal(rep.msg_type, DHCPOFFER);
	assert_int_equal(rep.hdr.xid, req->hdr.xid);
	assert_memory_equal(rep.hdr.chaddr, req->hdr.chaddr, DHCP_CHADDR_LEN);
	/* EDK2: yiaddr 0 makes it a proxy offer, "HTTPClient" an HTTP one,
	 * and the URI is read from `file` when option 67 is absent. */
	assert_int_equal(rep.hdr.yiaddr.s_addr, 0);
	assert_true(rep.vendor_class.present);
	assert_int_equal(rep.vendor_class.len, 10);
	assert_memory_equal(rep.vendor_class.data, "HTTPClient", 10);
	assert_false(pxe_is_client(&rep));
	assert_true(pxe_is_http_client(&rep));
	assert_int_equal(rep.overload, 0);
	assert_string_equal(rep.hdr.file, file);
	assert_true(rep.has_server_id);
	assert_int_equal(rep.server_id.s_addr, srv.s_addr);
	assert_false(rep.vendor_opts.present); /* no PXE option 43 */
	assert_int_equal(rep.has_uuid, req->has_uuid);
	if (req->has_uuid)
		assert_memory_equal(rep.uuid_wire, req->uuid_wire, 16);
	for (size_t cap = 0; cap < end_offset(buf, (size_t)len) + 1; cap++)
		assert_int_equal(pxe_build_reply(req, f, DHCPOFFER, srv, file, buf, cap), -ENOBUFS);
}

static void test_http_boot(void **state)
{
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_msg m;
	struct pxe_facts f;
	char out[PXE_BOOTFILE_MAX], s[GUID_STR_LEN];
	struct in_addr srv = ip4("10.99.0.10");
	size_t len = mk(buf, sizeof(buf), http_discover, sizeof(http_discover));

	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_true(pxe_is_http_client(&m));
	assert_false(pxe_is_client(&m));
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	mac_format(f.mac, s);
	assert_string_equal(s, "52:54:00:12:34:56");
	assert_true(f.has_arch);
	assert_int_equal(f.arch, 16);
	assert_int_equal(f.arch_class, PXE_ARCH_UEFI_HTTP);
	assert_string_equal(vocab_arch_name(f.arch_class), "uefi-http");
	assert_true(f.has_guid);
	assert_false(f.is_ipxe);
	/* The x64 boot program over HTTP; over TFTP there is none for 16. */
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.99.0.10:8080/files/ipxe.efi");
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	check_http_reply(&m, &f, out);
	/* Every output size: refused, never truncated, until it fits. */
	size_t need = strlen(out) + 1;
	for (size_t cap = 0; cap < need; cap++)
		assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, cap), -ENOBUFS);
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, need), 0);

	/* Every prefix that cuts before END is rejected (exact heap copies). */
	for (size_t l = 0; l < len; l++)
		assert_true(parse_exact(buf, l, &m) < 0);

	/* HTTP bound to one address: the URI names it. */
	assert_int_equal(parse_exact(buf, len, &m), 0);
	snprintf(conf.http_address, sizeof(conf.http_address), "10.9.8.7");
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.9.8.7:8080/files/ipxe.efi");
	snprintf(conf.http_address, sizeof(conf.http_address), "2001:db8::7");
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://[2001:db8::7]:8080/files/ipxe.efi");
	conf.http_address[0] = '\0';
	/* A configured name with bytes a URI cannot carry is percent-encoded. */
	snprintf(conf.boot_uefi_x64, sizeof(conf.boot_uefi_x64), "my boot%%#?\xe9.efi");
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.99.0.10:8080/files/my%20boot%25%23%3F%E9.efi");
	/* Too long for the file field: refused. */
	memset(conf.boot_uefi_x64, '%', 40);
	conf.boot_uefi_x64[40] = '\0';
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOBUFS);
	conf.boot_uefi_x64[0] = '\0';
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOENT);
	conf_for_tests();

	/* Other architectures, named or not: no boot program, "not serviced".
	 * 15 x86 UEFI HTTP, 19 ARM 64-bit UEFI HTTP (IANA registry). */
	const uint16_t unserved[] = { 15, 19, 17, 0, 6, 7, 9, 11, 0xffff };
	for (size_t i = 0; i < ARRAY_SIZE(unserved); i++) {
		uint8_t o[sizeof(http_discover)];
		memcpy(o, http_discover, sizeof(o));
		uint8_t *a = memchr(o, 93, sizeof(o)); /* first 93 is the option code */
		assert_non_null(a);
		assert_int_equal(a[1], 2);
		a[2] = (uint8_t)(unserved[i] >> 8), a[3] = (uint8_t)unserved[i];
		len = mk(buf, sizeof(buf), o, sizeof(o));
		assert_int_equal(parse_exact(buf, len, &m), 0);
		assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
		assert_int_equal(f.arch, unserved[i]);
		assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOENT);
	}
	/* No option 93: not guessed. */
	const uint8_t noarch[] = { 53, 1, 1, 60, 10, 'H', 'T', 'T', 'P', 'C', 'l', 'i', 'e',
				   'n', 't', 255 };
	len = mk(buf, sizeof(buf), noarch, sizeof(noarch));
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_true(pxe_is_http_client(&m));
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	assert_false(f.has_arch);
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), -ENOENT);
	/* An arch list whose first entry is 16 is served like 16. */
	const uint8_t list[] = { 53, 1, 1, 93, 4, 0, 16, 0, 7, 60, 33, HTTP_VC, 255 };
	len = mk(buf, sizeof(buf), list, sizeof(list));
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	assert_int_equal(f.arch_class, PXE_ARCH_UEFI_HTTP);
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.99.0.10:8080/files/ipxe.efi");
	check_http_reply(&m, &f, out); /* no UUID sent: none echoed */
	/* Saying iPXE too: its script URL, never ipxe.efi again. */
	const uint8_t ipxe[] = { 53, 1, 1, 93, 2, 0, 16, 77, 4, 'i', 'P', 'X', 'E',
				 60, 33, HTTP_VC, 255 };
	len = mk(buf, sizeof(buf), ipxe, sizeof(ipxe));
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	assert_true(f.is_ipxe);
	assert_int_equal(pxe_http_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.99.0.10:8080/boot.ipxe?mac=52:54:00:12:34:56&arch=16");

	/* The same client as PXEClient is answered as before: TFTP name,
	 * option 60 "PXEClient". */
	const uint8_t pxe[] = { 53, 1, 1, 93, 2, 0, 7, 60, 9, 'P', 'X', 'E', 'C', 'l', 'i',
				'e', 'n', 't', 255 };
	len = mk(buf, sizeof(buf), pxe, sizeof(pxe));
	assert_int_equal(parse_exact(buf, len, &m), 0);
	assert_false(pxe_is_http_client(&m));
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "ipxe.efi");
	int rl = pxe_build_reply(&m, &f, DHCPOFFER, srv, out, buf, sizeof(buf));
	assert_true(rl > 0);
	struct dhcp_msg rep;
	assert_int_equal(dhcp_parse(buf, (size_t)rl, &rep), 0);
	assert_int_equal(rep.vendor_class.len, 9);
	assert_memory_equal(rep.vendor_class.data, "PXEClient", 9);
	assert_string_equal(rep.hdr.file, "ipxe.efi");

	/* Hostile HTTPClient packets: malformed options are rejected as for
	 * any client. */
	static const struct vector bad[] = {
		V("http vc len 0", DHCP_ERR_OPT_LEN, 53, 1, 1, 60, 0, 255),
		V("http vc past end", DHCP_ERR_OPT_TRUNC, 53, 1, 1, 60, 33, 'H', 'T', 'T', 'P', 255),
		V("http arch len 1", DHCP_ERR_OPT_LEN, 53, 1, 1, 93, 1, 16, 60, 10, 'H', 'T', 'T',
		  'P', 'C', 'l', 'i', 'e', 'n', 't', 255),
		V("http arch twice", DHCP_ERR_OPT_DUP, 53, 1, 1, 93, 2, 0, 16, 93, 2, 0, 7, 60, 10,
		  'H', 'T', 'T', 'P', 'C', 'l', 'i', 'e', 'n', 't', 255),
		V("http no end", DHCP_ERR_NO_END, 53, 1, 1, 93, 2, 0, 16, 60, 10, 'H', 'T', 'T',
		  'P', 'C', 'l', 'i', 'e', 'n', 't'),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		len = mk(buf, sizeof(buf), bad[i].opts, bad[i].len);
		if (parse_exact(buf, len, &m) != bad[i].want)
			fail_msg("vector '%s'", bad[i].name);
	}
}

static void test_facts_edge(void **state)
{
	struct dhcp_msg m;
	struct pxe_facts f;

	memset(&m, 0, sizeof(m));
	m.hdr.htype = 1, m.hdr.hlen = 16;
	assert_int_equal(pxe_facts_from_msg(&m, &f), -EINVAL);
	m.hdr.hlen = 6, m.hdr.secs = 7;
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	assert_false(f.has_arch);
	assert_int_equal(f.arch_class, PXE_ARCH_OTHER);
	assert_false(f.has_guid);
	assert_false(f.is_ipxe);
	assert_int_equal(f.secs, 7);
	assert_string_equal(f.ifname, "");
}

/* Real ARM64 UEFI firmware (AAVMF, EDK2): its DISCOVER and port-4011
 * REQUEST say arch 11 (RFC 4578 §2.1, "ARM 64-bit UEFI"); pxed answers
 * both with GRUB, whatever BootLoaderUEFIx64 says. */
static void test_arm64_capture(void **state)
{
	struct pcap_capture cap;
	struct in_addr srv = ip4("10.77.0.2");
	char file[PXE_BOOTFILE_MAX];
	size_t seen = 0;
	assert_int_equal(pcap_load(FIXTURES "/aavmf-arm64-pxe.pcap", &cap), 0);
	for (size_t i = 0; i < cap.n; i++) {
		struct pcap_udp *u = &cap.pkt[i];
		struct dhcp_msg m;
		struct pxe_facts f;
		/* requests only: EDK2 sends its 4011 request from port 4011,
		 * and the reply comes back to it */
		if ((u->dport != 67 && u->dport != 4011) || u->len < 1 || u->data[0] != BOOTREQUEST)
			continue;
		assert_int_equal(dhcp_parse_request(u->data, u->len, &m), 0);
		if (!pxe_is_client(&m))
			continue;
		assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
		assert_true(f.has_arch);
		assert_int_equal(f.arch, 11);
		assert_int_equal(f.arch_class, PXE_ARCH_UEFI_ARM64);
		assert_false(f.is_ipxe);
		assert_true(pxe_loader_grub(&conf, &f));
		assert_int_equal(pxe_boot_file(&conf, &f, srv, NULL, file, sizeof(file)), 0);
		assert_string_equal(file, "grubaa64.efi");
		seen++;
	}
	assert_true(seen >= 2); /* the DISCOVER and the 4011 REQUEST */
	pcap_free(&cap);
}

static int setup(void **state)
{
	conf_for_tests();
	return 0;
}

/* "local" to plain PXE firmware: the reply to each of EDK2's requests in
 * the capture is a boot menu whose one item, chosen at once, is the local
 * disk; iPXE and UEFI HTTP boot clients are not answered that way. */
static void test_local_menu(void **state)
{
	/* PXE 2.1 §2.2.5: discovery control 7, boot menu [type 0, "Boot from
	 * local disk"], menu prompt [timeout 0, "pxed"], END. */
	static const uint8_t want43[] = {
		6, 1, 7,
		9, 23, 0, 0, 20, 'B', 'o', 'o', 't', ' ', 'f', 'r', 'o', 'm', ' ', 'l', 'o', 'c',
		'a', 'l', ' ', 'd', 'i', 's', 'k',
		10, 5, 0, 'p', 'x', 'e', 'd',
		255 };
	struct pcap_capture cap;
	struct dhcp_msg m, rep;
	struct pxe_facts f;
	uint8_t buf[DHCP_MAX_LEN];
	struct in_addr srv = ip4("10.99.0.10");
	unsigned n_menu = 0, n_ipxe = 0;

	assert_int_equal(pcap_load(EDK2_PCAP, &cap), 0);
	for (size_t i = 0; i < cap.n; i++) {
		struct pcap_udp *u = &cap.pkt[i];
		if (!from_client(u))
			continue;
		assert_int_equal(dhcp_parse_request(u->data, u->len, &m), 0);
		assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
		if (f.is_ipxe) {
			/* iPXE runs pxed's script, which ends in `exit 1`. */
			assert_false(pxe_local_by_menu(&m, &f));
			n_ipxe++;
			continue;
		}
		assert_true(pxe_local_by_menu(&m, &f));
		uint8_t type = m.msg_type == DHCPDISCOVER ? DHCPOFFER : DHCPACK;
		int len = pxe_build_local_reply(&m, type, srv, buf, sizeof(buf));
		assert_true(len >= DHCP_MIN_REPLY_LEN);
		assert_int_equal(dhcp_parse(buf, (size_t)len, &rep), 0);
		assert_int_equal(rep.hdr.op, BOOTREPLY);
		assert_int_equal(rep.msg_type, type);
		assert_int_equal(rep.hdr.xid, m.hdr.xid);
		assert_memory_equal(rep.hdr.chaddr, m.hdr.chaddr, DHCP_CHADDR_LEN);
		assert_int_equal(rep.hdr.yiaddr.s_addr, 0);
		assert_string_equal(rep.hdr.file, ""); /* nothing to download */
		assert_true(rep.has_server_id);
		assert_int_equal(rep.server_id.s_addr, srv.s_addr);
		assert_int_equal(rep.vendor_class.len, 9);
		assert_memory_equal(rep.vendor_class.data, "PXEClient", 9);
		assert_true(rep.has_uuid);
		assert_memory_equal(rep.uuid_wire, m.uuid_wire, 16);
		assert_true(rep.vendor_opts.present);
		assert_int_equal(rep.vendor_opts.len, sizeof(want43));
		assert_memory_equal(rep.vendor_opts.data, want43, sizeof(want43));
		for (size_t c = 0; c < (size_t)end_offset(buf, (size_t)len) + 1; c++)
			assert_int_equal(pxe_build_local_reply(&m, type, srv, buf, c), -ENOBUFS);
		assert_int_equal(pxe_build_local_reply(&m, DHCPNAK, srv, buf, sizeof(buf)), -EINVAL);
		n_menu++;
	}
	assert_int_equal(n_menu, 3); /* DISCOVER, REQUEST, the 4011 REQUEST */
	assert_int_equal(n_ipxe, 2);
	pcap_free(&cap);

	/* UEFI HTTP boot has no PXE boot menu: "local" is a URI with
	 * nothing behind it, bound to the HTTP address when there is one. */
	char uri[PXE_BOOTFILE_MAX];
	assert_int_equal(pxe_http_local_file(&conf, srv, uri, sizeof(uri)), 0);
	assert_string_equal(uri, "http://10.99.0.10:8080/local-disk");
	for (size_t c = 0; c <= strlen(uri); c++)
		assert_int_equal(pxe_http_local_file(&conf, srv, uri, c), -ENOBUFS);
	snprintf(conf.http_address, sizeof(conf.http_address), "10.9.8.7");
	assert_int_equal(pxe_http_local_file(&conf, srv, uri, sizeof(uri)), 0);
	assert_string_equal(uri, "http://10.9.8.7:8080/local-disk");
	conf_for_tests();
	const uint8_t http[] = { 53, 1, 1, 93, 2, 0, 16, 60, 10, 'H', 'T', 'T', 'P', 'C', 'l',
				 'i', 'e', 'n', 't', 255 };
	size_t hl = mk(buf, sizeof(buf), http, sizeof(http));
	assert_int_equal(parse_exact(buf, hl, &m), 0);
	assert_int_equal(pxe_facts_from_msg(&m, &f), 0);
	assert_false(pxe_local_by_menu(&m, &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fixture_edk2, setup),
		cmocka_unit_test_setup(test_fixture_ipxe_bios, setup),
		cmocka_unit_test_setup(test_truncation, setup),
		cmocka_unit_test_setup(test_vectors, setup),
		cmocka_unit_test_setup(test_header_rules, setup),
		cmocka_unit_test_setup(test_overload, setup),
		cmocka_unit_test_setup(test_concatenation, setup),
		cmocka_unit_test_setup(test_user_class, setup),
		cmocka_unit_test_setup(test_vendor_class, setup),
		cmocka_unit_test_setup(test_arch_classify, setup),
		cmocka_unit_test_setup(test_boot_file, setup),
		cmocka_unit_test_setup(test_builder, setup),
		cmocka_unit_test_setup(test_http_boot, setup),
		cmocka_unit_test_setup(test_facts_edge, setup),
		cmocka_unit_test_setup(test_local_menu, setup),
		cmocka_unit_test_setup(test_arm64_capture, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

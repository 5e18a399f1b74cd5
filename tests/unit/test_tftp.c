/* Unit tests: TFTP packet parse/build, option validation, netascii, and
 * content_open's name rules against a real temporary tree. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/content.h"
#include "ev/ev.h"
#include "tftp/tftp_file.h"
#include "tftp/tftp_packet.h"

/* Real bytes from tests/fixtures/edk2-uefi-pxe-proxydhcp-tftp.pcap: OVMF's
 * tsize probe, its answer to our OACK (ERROR 8), and the real download. */
static const uint8_t edk2_probe[] = {
	0x00, 0x01, 's', 'n', 'p', 'o', 'n', 'l', 'y', '.', 'e', 'f', 'i', 0,
	'o', 'c', 't', 'e', 't', 0, 't', 's', 'i', 'z', 'e', 0, '0', 0,
	'b', 'l', 'k', 's', 'i', 'z', 'e', 0, '1', '4', '6', '8', 0,
	'w', 'i', 'n', 'd', 'o', 'w', 's', 'i', 'z', 'e', 0, '4', 0,
};
static const uint8_t edk2_abort[] = {
	0x00, 0x05, 0x00, 0x08, 'U', 's', 'e', 'r', ' ', 'a', 'b', 'o', 'r', 't', 'e', 'd',
	' ', 't', 'h', 'e', ' ', 't', 'r', 'a', 'n', 's', 'f', 'e', 'r', 0,
};

/* Copy len bytes so they end exactly at a guard page: any read past the
 * end faults (picohttpparser's trick). */
static uint8_t *guard_page;
static size_t page_sz;
static const uint8_t *at_guard(const void *p, size_t len)
{
	if (!guard_page) {
		page_sz = (size_t)sysconf(_SC_PAGESIZE);
		guard_page = mmap(NULL, 2 * page_sz * 32, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(guard_page != MAP_FAILED);
		/* 32 pages of data, then a guard */
		assert_int_equal(mprotect(guard_page + 32 * page_sz, page_sz, PROT_NONE), 0);
	}
	assert_true(len <= 32 * page_sz);
	uint8_t *dst = guard_page + 32 * page_sz - len;
	memcpy(dst, p, len);
	return dst;
}

static void test_parse_edk2_rrq(void **state)
{
	struct tftp_packet p;
	assert_int_equal(tftp_parse(at_guard(edk2_probe, sizeof(edk2_probe)), sizeof(edk2_probe), &p), 0);
	assert_int_equal(p.opcode, TFTP_RRQ);
	assert_string_equal(p.filename, "snponly.efi");
	assert_int_equal(p.filename_len, 11);
	assert_int_equal(p.mode, TFTP_MODE_OCTET);
	assert_int_equal(p.n_opts, 3);
	struct tftp_req_opts o;
	tftp_parse_options(&p, &o);
	assert_true(o.has_tsize && o.tsize == 0);
	assert_true(o.has_blksize && o.blksize == 1468);
	assert_true(o.has_windowsize && o.windowsize == 4);
	assert_false(o.has_timeout);
	assert_int_equal(o.n_ignored, 0);
}

static void test_parse_edk2_error8(void **state)
{
	struct tftp_packet p;
	assert_int_equal(tftp_parse(at_guard(edk2_abort, sizeof(edk2_abort)), sizeof(edk2_abort), &p), 0);
	assert_int_equal(p.opcode, TFTP_ERROR);
	assert_int_equal(p.error_code, TFTP_ERR_OPTION);
	assert_string_equal(p.error_msg, "User aborted the transfer");
}

/* Every strict prefix of a valid request is refused without reading past
 * its end (the guard page catches over-reads). */
static void test_parse_truncated_prefixes(void **state)
{
	struct tftp_packet p;
	for (size_t n = 0; n < sizeof(edk2_probe); n++) {
		int r = tftp_parse(at_guard(edk2_probe, n), n, &p);
		/* A prefix that ends right after a complete name/value pair is
		 * itself a valid request with fewer options. */
		bool pair_end = n == 20 || n == 28 || n == 41;
		if (pair_end)
			assert_int_equal(r, 0);
		else
			assert_int_equal(r, -EBADMSG);
	}
	for (size_t n = 0; n < sizeof(edk2_abort); n++) {
		int r = tftp_parse(at_guard(edk2_abort, n), n, &p);
		if (n == 4)
			assert_int_equal(r, 0); /* bare ERROR without message */
		else
			assert_int_equal(r, -EBADMSG);
	}
}

static void test_parse_modes(void **state)
{
	uint8_t buf[128];
	struct tftp_packet p;
	int n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "a", "OcTeT", NULL, 0);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.mode, TFTP_MODE_OCTET);
	n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "a", "NETASCII", NULL, 0);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.mode, TFTP_MODE_NETASCII);
	n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "a", "mail", NULL, 0);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), -EPROTONOSUPPORT);
	n = tftp_build_request(buf, sizeof(buf), TFTP_WRQ, "up", "octet", NULL, 0);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.opcode, TFTP_WRQ);
}

static void test_parse_malformed(void **state)
{
	struct tftp_packet p;
	static const struct { const char *what; const char *b; size_t len; int r; } v[] = {
		{ "empty", "", 0, -EBADMSG },
		{ "one byte", "\0", 1, -EBADMSG },
		{ "unknown opcode", "\0\x09x\0octet\0", 10, -EOPNOTSUPP },
		{ "opcode 0", "\0\0", 2, -EOPNOTSUPP },
		{ "no NUL after name", "\0\x01" "abc", 5, -EBADMSG },
		{ "no mode", "\0\x01" "abc\0", 6, -EBADMSG },
		{ "mode without NUL", "\0\x01" "abc\0octet", 11, -EBADMSG },
		{ "option without value", "\0\x01" "a\0octet\0blksize\0", 18, -EBADMSG },
		{ "value without NUL", "\0\x01" "a\0octet\0blksize\0" "512", 21, -EBADMSG },
		{ "empty option name", "\0\x01" "a\0octet\0\0" "512\0", 14, -EBADMSG },
		{ "short ACK", "\0\x04\0", 3, -EBADMSG },
		{ "short DATA", "\0\x03\0", 3, -EBADMSG },
		{ "ERROR code only half", "\0\x05\0", 3, -EBADMSG },
		{ "ERROR msg without NUL", "\0\x05\0\x01oops", 8, -EBADMSG },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int r = tftp_parse(at_guard(v[i].b, v[i].len), v[i].len, &p);
		if (r != v[i].r)
			fail_msg("%s: got %d, want %d", v[i].what, r, v[i].r);
	}
	/* An embedded NUL ends the filename: the rest is parsed as the mode
	 * and what follows, so "ok\0../etc" is refused, never read as "ok". */
	static const char emb[] = "\0\x01ok\0../etc\0octet\0";
	assert_int_equal(tftp_parse((const uint8_t *)emb, sizeof(emb) - 1, &p), -EBADMSG);
	static const char emb2[] = "\0\x01ok\0../etc\0octet\0x\0";
	assert_int_equal(tftp_parse((const uint8_t *)emb2, sizeof(emb2) - 1, &p), -EPROTONOSUPPORT);
}

static void test_parse_too_many_options(void **state)
{
	uint8_t buf[1024];
	struct tftp_option o[TFTP_MAX_OPTIONS + 1];
	char names[TFTP_MAX_OPTIONS + 1][8];
	for (size_t i = 0; i <= TFTP_MAX_OPTIONS; i++) {
		snprintf(names[i], sizeof(names[i]), "x%zu", i);
		o[i] = (struct tftp_option){ names[i], "1" };
	}
	struct tftp_packet p;
	int n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "f", "octet", o, TFTP_MAX_OPTIONS);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), 0);
	assert_int_equal(p.n_opts, TFTP_MAX_OPTIONS);
	n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "f", "octet", o, TFTP_MAX_OPTIONS + 1);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), -E2BIG);
}

/* What tftp_parse_options makes of one option: used (acknowledged),
 * invalid (the request is refused with ERROR 8), or ignored (unknown). */
enum opt_fate { OPT_USED, OPT_INVALID, OPT_IGNORED };

static void check_opt_in(uint16_t opcode, const char *name, const char *value, enum opt_fate want)
{
	uint8_t buf[256];
	struct tftp_option o = { name, value };
	struct tftp_packet p;
	struct tftp_req_opts ro;
	int n = tftp_build_request(buf, sizeof(buf), opcode, "f", "octet", &o, 1);
	assert_int_equal(tftp_parse(at_guard(buf, (size_t)n), (size_t)n, &p), 0);
	tftp_parse_options(&p, &ro);
	bool used = ro.has_blksize || ro.has_timeout || ro.has_tsize || ro.has_windowsize;
	enum opt_fate got = used ? OPT_USED : ro.invalid ? OPT_INVALID : OPT_IGNORED;
	if (got != want)
		fail_msg("%s=%s: fate %d, want %d", name, value, got, want);
	if (got == OPT_INVALID)
		assert_string_equal(ro.invalid, name);
	assert_int_equal(ro.n_ignored, want == OPT_IGNORED ? 1 : 0);
}

static void check_opts(const char *name, const char *value, enum opt_fate want)
{
	check_opt_in(TFTP_RRQ, name, value, want);
}

static void test_option_values(void **state)
{
	/* RFC 2348: 8..65464 */
	check_opts("blksize", "8", OPT_USED);
	check_opts("BlkSize", "65464", OPT_USED);
	check_opts("blksize", "7", OPT_INVALID);
	check_opts("blksize", "65465", OPT_INVALID);
	check_opts("blksize", "0", OPT_INVALID);
	check_opts("blksize", "", OPT_INVALID);
	check_opts("blksize", "-1", OPT_INVALID);
	check_opts("blksize", "+512", OPT_INVALID);
	check_opts("blksize", " 512", OPT_INVALID);
	check_opts("blksize", "512x", OPT_INVALID);
	check_opts("blksize", "99999999999999999999999", OPT_INVALID);
	/* RFC 2349 */
	check_opts("timeout", "1", OPT_USED);
	check_opts("TIMEOUT", "255", OPT_USED);
	check_opts("timeout", "0", OPT_INVALID);
	check_opts("timeout", "256", OPT_INVALID);
	check_opts("timeout", "1.5", OPT_INVALID);
	/* tsize: 0 in a RRQ, the size in a WRQ */
	check_opts("tsize", "0", OPT_USED);
	check_opts("tsize", "123456789", OPT_INVALID);
	check_opts("tsize", "abc", OPT_INVALID);
	check_opt_in(TFTP_WRQ, "tsize", "123456789", OPT_USED);
	/* RFC 7440 */
	check_opts("windowsize", "1", OPT_USED);
	check_opts("WindowSize", "65535", OPT_USED);
	check_opts("windowsize", "0", OPT_INVALID);
	check_opts("windowsize", "65536", OPT_INVALID);
	/* unknown: ignored whatever the value (RFC 2347) */
	check_opts("multicast", "", OPT_IGNORED);
	check_opts("rollover", "0", OPT_IGNORED);
	check_opts("blksize2", "junk", OPT_IGNORED);

	/* first occurrence wins */
	uint8_t buf[256];
	struct tftp_option o[2] = { { "blksize", "1024" }, { "BLKSIZE", "1468" } };
	struct tftp_packet p;
	struct tftp_req_opts ro;
	int n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "f", "octet", o, 2);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), 0);
	tftp_parse_options(&p, &ro);
	assert_int_equal(ro.blksize, 1024);
	assert_int_equal(ro.n_ignored, 1);
	assert_null(ro.invalid);

	/* one bad value among good ones names the bad one */
	struct tftp_option o3[3] = { { "blksize", "1468" }, { "windowsize", "0" }, { "timeout", "300" } };
	n = tftp_build_request(buf, sizeof(buf), TFTP_RRQ, "f", "octet", o3, 3);
	assert_int_equal(tftp_parse(buf, (size_t)n, &p), 0);
	tftp_parse_options(&p, &ro);
	assert_string_equal(ro.invalid, "windowsize");
}

static void test_build(void **state)
{
	uint8_t buf[64];
	assert_int_equal(tftp_build_ack(buf, sizeof(buf), 0x1234), 4);
	assert_memory_equal(buf, "\0\x04\x12\x34", 4);
	assert_int_equal(tftp_build_ack(buf, 3, 1), -ENOBUFS);
	assert_int_equal(tftp_build_error(buf, sizeof(buf), 1, "File not found"), 19);
	assert_memory_equal(buf, "\0\x05\0\x01" "File not found", 19);
	assert_int_equal(tftp_build_error(buf, 18, 1, "File not found"), -ENOBUFS);
	assert_int_equal(tftp_build_data(buf, sizeof(buf), 65535, "abc", 3), 7);
	assert_memory_equal(buf, "\0\x03\xff\xff" "abc", 7);
	assert_int_equal(tftp_build_data(buf, 6, 1, "abc", 3), -ENOBUFS);
	assert_int_equal(tftp_build_data(buf, sizeof(buf), 1, NULL, 0), 4);
	struct tftp_option o[2] = { { "blksize", "1468" }, { "tsize", "173792" } };
	/* Exactly the OACK in the EDK2 capture */
	static const uint8_t want[] = { 0, 6, 'b', 'l', 'k', 's', 'i', 'z', 'e', 0, '1', '4', '6', '8', 0,
					't', 's', 'i', 'z', 'e', 0, '1', '7', '3', '7', '9', '2', 0 };
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), o, 2), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(tftp_build_oack(buf, sizeof(want) - 1, o, 2), -ENOBUFS);
	struct tftp_packet p;
	assert_int_equal(tftp_parse(want, sizeof(want), &p), 0);
	assert_int_equal(p.opcode, TFTP_OACK);
	assert_int_equal(p.n_opts, 2);
	assert_string_equal(p.opts[1].value, "173792");
}

static void test_netascii(void **state)
{
	const uint8_t in[] = "a\nb\rc\r\nd";
	uint8_t out[32];
	size_t used;
	int pending = -1;
	size_t n = tftp_netascii_encode(in, sizeof(in) - 1, &used, out, sizeof(out), &pending);
	assert_int_equal(used, sizeof(in) - 1);
	assert_int_equal(pending, -1);
	assert_int_equal(n, 12);
	assert_memory_equal(out, "a\r\nb\r\0c\r\0\r\nd", 12);

	/* One byte of output at a time: pairs straddle "blocks" and the
	 * concatenation is the same. */
	uint8_t acc[32];
	size_t an = 0, off = 0;
	pending = -1;
	while (off < sizeof(in) - 1 || pending >= 0) {
		n = tftp_netascii_encode(in + off, sizeof(in) - 1 - off, &used, acc + an, 1, &pending);
		assert_true(n == 1);
		an += n;
		off += used;
	}
	assert_int_equal(an, 12);
	assert_memory_equal(acc, out, 12);

	/* A block ending between CR and LF leaves the LF pending. */
	pending = -1;
	n = tftp_netascii_encode((const uint8_t *)"x\n", 2, &used, out, 2, &pending);
	assert_int_equal(n, 2);
	assert_int_equal(used, 2);
	assert_int_equal(pending, '\n');
	n = tftp_netascii_encode(NULL, 0, &used, out, 4, &pending);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '\n');
	assert_int_equal(pending, -1);
}

/* ---- content ------------------------------------------------------------ */

static char tmpdir[64];

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static int content_setup(void **state)
{
	char p[256];
	strcpy(tmpdir, "/tmp/pxed-content.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(p, sizeof(p), "%s/root", tmpdir); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/root/boot", tmpdir); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/prog", tmpdir); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/root/pxelinux.0", tmpdir); write_file(p, "PXE");
	snprintf(p, sizeof(p), "%s/root/boot/vmlinuz", tmpdir); write_file(p, "KERNEL");
	snprintf(p, sizeof(p), "%s/root/ipxe.efi", tmpdir); write_file(p, "LOCAL");
	snprintf(p, sizeof(p), "%s/secret", tmpdir); write_file(p, "SECRET");
	snprintf(p, sizeof(p), "%s/prog/undionly.kpxe", tmpdir); write_file(p, "UNDI");
	snprintf(p, sizeof(p), "%s/prog/ipxe.efi", tmpdir); write_file(p, "SYSTEM");
	snprintf(p, sizeof(p), "%s/prog/other.bin", tmpdir); write_file(p, "OTHER");
	snprintf(p, sizeof(p), "%s/root/out", tmpdir); assert_int_equal(symlink("../secret", p), 0);
	snprintf(p, sizeof(p), "%s/root/abs", tmpdir); assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/root/kernel", tmpdir); assert_int_equal(symlink("boot/vmlinuz", p), 0);
	snprintf(p, sizeof(p), "%s/root/bootdir", tmpdir); assert_int_equal(symlink("boot", p), 0);
	snprintf(p, sizeof(p), "%s/root/self", tmpdir); assert_int_equal(symlink("/proc/self/root/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/root/fifo", tmpdir); assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/root/dev", tmpdir); assert_int_equal(symlink("/dev/null", p), 0);
	return 0;
}

static int content_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int open_read(const struct content *c, const char *name, char *out, size_t outlen)
{
	int fd;
	uint64_t size;
	int r = content_open(c, name, &fd, &size);
	if (r < 0)
		return r;
	ssize_t n = read(fd, out, outlen - 1);
	close(fd);
	assert_true(n >= 0 && (uint64_t)n == size);
	out[n] = '\0';
	return 0;
}

/* The boot loaders' package files under the names shim and GRUB ask for:
 * an exact name maps to another file name, a prefix to a directory, where
 * names stay beneath it; the root still wins; a missing directory is an
 * error the caller may ignore. */
static void test_content_maps(void **state)
{
	char root[128], pkg[160], mods[160], p[200], got[64];
	struct content *c;
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(pkg, sizeof(pkg), "%s/pkg", tmpdir);
	snprintf(mods, sizeof(mods), "%s/pkg/mods", tmpdir);
	mkdir(pkg, 0755);
	mkdir(mods, 0755);
	snprintf(p, sizeof(p), "%s/shimx64.efi.signed", pkg); write_file(p, "SHIM");
	snprintf(p, sizeof(p), "%s/command.lst", mods); write_file(p, "LST");
	assert_int_equal(content_new(root, NULL, NULL, &c), 0);
	assert_int_equal(content_map_add(c, "shimx64.efi", pkg, "shimx64.efi.signed"), 0);
	assert_int_equal(content_map_add(c, "grub/x86_64-efi/", mods, NULL), 0);
	assert_int_equal(content_map_add(c, "pxelinux.0", pkg, "shimx64.efi.signed"), 0);
	assert_int_equal(content_map_add(c, "grubx64.efi", "/nonexistent/dir", "x"), -ENOENT);
	assert_int_equal(content_map_add(c, "../x", pkg, "x"), -EINVAL);
	assert_int_equal(content_map_add(c, "dir/", pkg, "x"), -EINVAL);  /* prefix with a file */
	assert_int_equal(content_map_add(c, "name", pkg, NULL), -EINVAL); /* file without a prefix */

	assert_int_equal(open_read(c, "shimx64.efi", got, sizeof(got)), 0);
	assert_string_equal(got, "SHIM");
	assert_int_equal(open_read(c, "/shimx64.efi", got, sizeof(got)), 0);
	assert_int_equal(open_read(c, "/grub/x86_64-efi/command.lst", got, sizeof(got)), 0);
	assert_string_equal(got, "LST");
	assert_int_equal(open_read(c, "pxelinux.0", got, sizeof(got)), 0);
	assert_string_equal(got, "PXE"); /* the root wins */
	assert_int_equal(open_read(c, "grub/x86_64-efi/../shimx64.efi.signed", got, sizeof(got)), -EACCES);
	assert_int_equal(open_read(c, "grub/x86_64-efi/", got, sizeof(got)), -ENOENT);
	assert_int_equal(open_read(c, "grub/x86_64-efi//etc/passwd", got, sizeof(got)), -ENOENT);
	assert_int_equal(open_read(c, "grub/x86_64-efi/missing.lst", got, sizeof(got)), -ENOENT);
	assert_int_equal(open_read(c, "grubx64.efi", got, sizeof(got)), -ENOENT);
	assert_true(content_exists(c, "shimx64.efi"));
	assert_false(content_exists(c, "grubx64.efi"));
	content_free(c);
}

static void test_content_open(void **state)
{
	char root[128], prog[128], got[64];
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(prog, sizeof(prog), "%s/prog", tmpdir);
	const char *const programs[] = { "undionly.kpxe", "ipxe.efi", NULL };
	struct content *c;
	assert_int_equal(content_new(root, prog, programs, &c), 0);

	static const struct { const char *name; int r; const char *data; } v[] = {
		{ "pxelinux.0", 0, "PXE" },
		{ "/pxelinux.0", 0, "PXE" },          /* one leading '/' stripped */
		{ "boot/vmlinuz", 0, "KERNEL" },
		{ "./boot/vmlinuz", 0, "KERNEL" },
		{ "kernel", 0, "KERNEL" },            /* symlink inside the root */
		{ "bootdir/vmlinuz", 0, "KERNEL" },   /* symlinked directory inside */
		{ "undionly.kpxe", 0, "UNDI" },       /* from the program dir */
		{ "ipxe.efi", 0, "LOCAL" },           /* the root wins */
		{ "other.bin", -ENOENT, NULL },       /* not a listed program */
		{ "missing", -ENOENT, NULL },
		{ "", -EINVAL, NULL },
		{ "/", -EINVAL, NULL },
		{ "//etc/passwd", -EACCES, NULL },
		{ "../secret", -EACCES, NULL },
		{ "boot/../../secret", -EACCES, NULL },
		{ "boot/..", -EACCES, NULL },
		{ "..", -EACCES, NULL },
		{ "boot\\vmlinuz", -EACCES, NULL },
		{ "boot/vml\x01nuz", -EACCES, NULL },
		{ "a b", -EACCES, NULL },
		{ "caf\xc3\xa9", -EACCES, NULL },
		{ "C:pxelinux.0", -EACCES, NULL },
		{ "out", -EXDEV, NULL },              /* symlink leading out */
		{ "abs", -EXDEV, NULL },              /* absolute symlink */
		{ "self", -EXDEV, NULL },
		{ "boot", -EISDIR, NULL },
		{ "boot/", -EISDIR, NULL },
		{ "fifo", -EPERM, NULL },
		{ "dev", -EXDEV, NULL },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int r = open_read(c, v[i].name, got, sizeof(got));
		if (r != v[i].r)
			fail_msg("\"%s\": got %d (%s), want %d", v[i].name, r, content_strerror(r), v[i].r);
		if (r == 0)
			assert_string_equal(got, v[i].data);
	}
	char longname[300];
	memset(longname, 'a', 256);
	longname[256] = '\0';
	assert_int_equal(open_read(c, longname, got, sizeof(got)), -ENAMETOOLONG);
	longname[255] = '\0';
	assert_int_equal(open_read(c, longname, got, sizeof(got)), -ENOENT);

	/* Lengths from the packet: an embedded NUL is hostile. */
	assert_int_equal(content_check_name("ok\0../x", 7), -EACCES);
	assert_int_equal(content_check_name("ok", 2), 0);
	content_free(c);

	/* No program dir: no fallback, no error. */
	assert_int_equal(content_new(root, "/nonexistent-pxed", programs, &c), 0);
	assert_int_equal(open_read(c, "undionly.kpxe", got, sizeof(got)), -ENOENT);
	content_free(c);
	/* A program name must itself be a safe name. */
	const char *const bad[] = { "../x", NULL };
	assert_int_equal(content_new(root, prog, bad, &c), -EINVAL);
	assert_int_equal(content_new("/nonexistent-pxed", NULL, NULL, &c), -ENOENT);
	content_free(NULL);
}

/* The shared file cache: one entry per file version, a replaced file is a
 * new entry while the old one keeps its data, and a warm-up job reports
 * back on the loop. */
static void warm_done(void *arg, int err)
{
	int *res = arg;
	*res = err == 0 ? 1 : err;
}

static void stop_when_done(struct ev_loop *loop, struct ev_timer *t)
{
	int *res = t->data;
	if (*res)
		ev_stop(loop);
	else
		ev_timer_start(loop, t, 5);
}

static int open_ro(const char *p)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_file_cache(void **state)
{
	char p[256], tmp[256];
	struct ev_loop *loop;
	struct tftp_file_cache *c;
	struct tftp_file *a, *b, *n, *e;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(tftp_file_cache_new(loop, 2, 64, &c), 0);
	snprintf(p, sizeof(p), "%s/root/boot/vmlinuz", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s/root/boot/vmlinuz.new", tmpdir);

	/* the same version twice: one shared entry */
	assert_int_equal(tftp_file_get(c, open_ro(p), &a), 0);
	assert_int_equal(tftp_file_get(c, open_ro(p), &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(a->refs, 2);
	assert_int_equal(tftp_file_cache_count(c), 1);
	assert_int_equal(a->size, 6);
	assert_memory_equal(a->map, "KERNEL", 6);

	/* replaced by rename: a new entry; the old one still has its data */
	write_file(tmp, "NEWER KERNEL");
	assert_int_equal(rename(tmp, p), 0);
	assert_int_equal(tftp_file_get(c, open_ro(p), &n), 0);
	assert_ptr_not_equal(n, a);
	assert_int_equal(n->size, 12);
	assert_memory_equal(n->map, "NEWER KERNEL", 12);
	assert_memory_equal(a->map, "KERNEL", 6);
	assert_int_equal(tftp_file_cache_count(c), 2);

	/* written in place (same inode, new size): the old entry is stale */
	tftp_file_put(c, a);
	tftp_file_put(c, b);
	FILE *f = fopen(p, "a");
	assert_non_null(f);
	fputs(" PLUS", f);
	fclose(f);
	assert_int_equal(tftp_file_get(c, open_ro(p), &e), 0);
	assert_ptr_not_equal(e, n);
	assert_int_equal(e->size, 17);
	assert_true(n->stale);
	tftp_file_put(c, n); /* stale and unused: closed now */
	assert_int_equal(tftp_file_cache_count(c), 2); /* e, and a lingering */

	/* a warm-up job: the file is in the page cache afterwards */
	int res = 0;
	struct ev_timer t;
	ev_timer_init(&t, stop_when_done, &res);
	ev_timer_start(loop, &t, 1);
	assert_non_null(tftp_file_prefetch(c, e, 0, 1 << 20, warm_done, &res));
	assert_int_equal(ev_run(loop), 0);
	assert_int_equal(res, 1);
	assert_true(tftp_file_ready(e, 0, e->size));
	assert_true(tftp_file_ready(e, e->size, 10)); /* past the end: nothing to read */

	/* a cancelled job never calls back */
	res = 0;
	struct tftp_file_job *j = tftp_file_prefetch(c, e, 0, 100, warm_done, &res);
	tftp_file_cancel(c, j);
	tftp_file_put(c, e);
	tftp_file_cache_free(c); /* joins the workers, drops entries and jobs */
	assert_int_equal(res, 0);
	ev_timer_stop(loop, &t);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_edk2_rrq),
		cmocka_unit_test(test_parse_edk2_error8),
		cmocka_unit_test(test_parse_truncated_prefixes),
		cmocka_unit_test(test_parse_modes),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_too_many_options),
		cmocka_unit_test(test_option_values),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_netascii),
		cmocka_unit_test_setup_teardown(test_content_open, content_setup, content_teardown),
		cmocka_unit_test_setup_teardown(test_content_maps, content_setup, content_teardown),
		cmocka_unit_test_setup_teardown(test_file_cache, content_setup, content_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

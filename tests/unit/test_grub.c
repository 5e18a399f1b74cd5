/* Unit tests for the GRUB family's pure parts: the per-machine GRUB
 * configuration (every outcome, hostile stored values), the entry
 * grub.cfg, the generated names, and the table of recent DHCP facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "common/util.h"
#include "decide/decide.h"
#include "dhcp/dhcp_recent.h"
#include "http/grub_script.h"

#define SRV "10.0.0.5"
#define MAC "52:54:00:12:34:56"

static struct decision boot_decision(void)
{
	struct decision d;
	memset(&d, 0, sizeof(d));
	d.outcome = DECISION_BOOT;
	d.required = true;
	snprintf(d.reason, sizeof(d.reason), "required deployment for device 'lab-01'");
	snprintf(d.deployment_name, sizeof(d.deployment_name), "d1");
	snprintf(d.image_name, sizeof(d.image_name), "deb");
	snprintf(d.kernel, sizeof(d.kernel), "lab/vmlinuz");
	snprintf(d.initrd, sizeof(d.initrd), "lab/initrd.gz");
	snprintf(d.cmdline, sizeof(d.cmdline), "console=ttyS0 quiet");
	return d;
}

static const struct grub_script_opts opts = { .server = SRV, .mac = MAC };

static void test_required(void **state)
{
	struct decision d = boot_decision();
	struct grub_script_opts o = opts;
	char buf[4096];
	o.report_url = "http://10.0.0.5:8080/api/v1/report?token=abc123";
	int n = grub_script_build(&d, &o, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "set pxed_ok=1\n"));
	assert_non_null(strstr(buf,
		"linux '(tftp,10.0.0.5)/lab/vmlinuz' 'console=ttyS0' 'quiet' "
		"'pxed.report=http://10.0.0.5:8080/api/v1/report?token=abc123'\n"
		"initrd '(tftp,10.0.0.5)/lab/initrd.gz'\nboot\n"));
	/* when the kernel is refused (bad shim signature): say so, restart */
	assert_non_null(strstr(buf, "did not start"));
	assert_non_null(strstr(buf, "reboot\n"));
	/* no initrd, no cmdline */
	d.initrd[0] = d.cmdline[0] = '\0';
	assert_true(grub_script_build(&d, &opts, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "linux '(tftp,10.0.0.5)/lab/vmlinuz'\nboot\n"));
	assert_null(strstr(buf, "initrd"));
	/* a boot program image */
	d = boot_decision();
	snprintf(d.nbp, sizeof(d.nbp), "wds/bootmgfw.efi");
	assert_true(grub_script_build(&d, &opts, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "chainloader '(tftp,10.0.0.5)/wds/bootmgfw.efi'\nboot\n"));
	assert_null(strstr(buf, "linux"));
}

static void test_available(void **state)
{
	struct decision d = boot_decision();
	struct grub_script_opts o = opts;
	char buf[4096];
	d.required = false;
	assert_true(grub_script_build(&d, &o, buf, sizeof(buf)) > 0);
	/* a menu, the local disk first and the default after 10 s */
	assert_non_null(strstr(buf, "set default=0\nset timeout=10\n"));
	const char *local = strstr(buf, "menuentry 'Boot from local disk'");
	const char *start = strstr(buf, "menuentry 'Start deployment d1 (image deb)'");
	assert_non_null(local);
	assert_non_null(start);
	assert_true(local < start);
	assert_non_null(strstr(buf, "source '(tftp,10.0.0.5)/grub/local-52:54:00:12:34:56.cfg'"));
	assert_non_null(strstr(buf, "source '(tftp,10.0.0.5)/grub/deploy-52:54:00:12:34:56.cfg'"));
	assert_null(strstr(buf, "linux"));
	/* without the MAC the menu cannot be written */
	o.mac = NULL;
	assert_int_equal(grub_script_build(&d, &o, buf, sizeof(buf)), -EINVAL);
	o.mac = "52:54:00:12:34:56' ; reboot '";
	assert_int_equal(grub_script_build(&d, &o, buf, sizeof(buf)), -EINVAL);
	/* confirmed (the deploy entry's file): the image */
	o.mac = MAC;
	o.confirmed = true;
	assert_true(grub_script_build(&d, &o, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "starting available deployment d1"));
	assert_non_null(strstr(buf, "linux '(tftp,10.0.0.5)/lab/vmlinuz'"));
}

static void test_local_ignore(void **state)
{
	struct decision d;
	char buf[2048];
	memset(&d, 0, sizeof(d));
	d.outcome = DECISION_LOCAL;
	snprintf(d.reason, sizeof(d.reason), "required deployment 'd1' already handed out");
	assert_true(grub_script_build(&d, &opts, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "echo 'pxed: booting from local disk (required deployment d1 already handed out)'"));
	assert_non_null(strstr(buf, "reboot\n"));
	assert_null(strstr(buf, "linux"));
	assert_null(strstr(buf, "exit"));
	d.outcome = DECISION_IGNORE;
	snprintf(d.reason, sizeof(d.reason), "not serviced: unknown machine");
	assert_true(grub_script_build(&d, &opts, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "echo 'pxed: not serviced: unknown machine'\n"));
	assert_non_null(strstr(buf, "exit\n"));
	assert_null(strstr(buf, "reboot"));
	d.outcome = (enum decision_outcome)7;
	assert_int_equal(grub_script_build(&d, &opts, buf, sizeof(buf)), -EINVAL);
}

/* Stored values that would be GRUB commands if written as they are. */
static void test_hostile(void **state)
{
	struct decision d = boot_decision();
	char buf[4096];
	const char *bad_cmdlines[] = { "quiet'; reboot; echo '", "a $(x)", "a\nreboot", "a ; b", "x`y`",
				       "a\\", "a}b", "a{b", "a#b", "a|b", "a&b", "a\"b" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_cmdlines); i++) {
		d = boot_decision();
		snprintf(d.cmdline, sizeof(d.cmdline), "%s", bad_cmdlines[i]);
		assert_int_equal(grub_script_build(&d, &opts, buf, sizeof(buf)), -EINVAL);
		assert_string_equal(buf, "");
	}
	/* A ';' inside one argument (Ubuntu's ds=nocloud-net;s=URL) is text:
	 * the word is single-quoted, so GRUB never sees a separator. */
	d = boot_decision();
	snprintf(d.cmdline, sizeof(d.cmdline), "ds=nocloud-net;s=http://x/");
	assert_true(grub_script_build(&d, &opts, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'ds=nocloud-net;s=http://x/'"));
	d = boot_decision();
	snprintf(d.kernel, sizeof(d.kernel), "lab/x' ; reboot ; '");
	assert_int_equal(grub_script_build(&d, &opts, buf, sizeof(buf)), -EINVAL);
	d = boot_decision();
	snprintf(d.kernel, sizeof(d.kernel), "../etc/shadow");
	assert_int_equal(grub_script_build(&d, &opts, buf, sizeof(buf)), -EINVAL);
	d = boot_decision();
	snprintf(d.deployment_name, sizeof(d.deployment_name), "d1'\nreboot");
	assert_int_equal(grub_script_build(&d, &opts, buf, sizeof(buf)), -EINVAL);
	/* free text (the reason) is reduced, and quoted */
	memset(&d, 0, sizeof(d));
	d.outcome = DECISION_LOCAL;
	snprintf(d.reason, sizeof(d.reason), "x'\n; reboot $root `id` \\ {}");
	assert_true(grub_script_build(&d, &opts, buf, sizeof(buf)) > 0);
	const char *echo = strstr(buf, "echo '");
	assert_non_null(echo);
	const char *end = strchr(echo + 6, '\'');
	assert_non_null(end);
	assert_int_equal(end[1], '\n'); /* one quoted word per echo */
	for (const char *p = echo + 6; p < end; p++)
		assert_null(strchr("$`\\{};\n'", *p));
	/* bad server or report URL */
	struct grub_script_opts o = opts;
	d = boot_decision();
	o.server = "10.0.0.5) ; reboot";
	assert_int_equal(grub_script_build(&d, &o, buf, sizeof(buf)), -EINVAL);
	o = opts;
	o.report_url = "http://x/'$y";
	assert_int_equal(grub_script_build(&d, &o, buf, sizeof(buf)), -EINVAL);
	/* never truncated */
	for (size_t len = 1; len < 200; len++)
		assert_int_equal(grub_script_build(&d, &opts, buf, len), -ENOBUFS);
}

static void test_entry_and_names(void **state)
{
	char buf[512];
	enum grub_cfg_kind k;
	uint8_t mac[MAC_LEN], want[MAC_LEN];
	int n = grub_script_entry(buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "source \"$prefix/mac-$net_default_mac.cfg\"\n"));
	assert_non_null(strstr(buf, "if [ \"$pxed_ok\" != 1 ]"));
	assert_int_equal(grub_script_entry(buf, 20), -ENOBUFS);

	mac_parse(MAC, want);
	assert_int_equal(grub_cfg_name_parse("/grub/grub.cfg", &k, mac), 0);
	assert_int_equal(k, GRUB_CFG_ENTRY);
	assert_int_equal(grub_cfg_name_parse("grub/grub.cfg", &k, mac), 0);
	assert_int_equal(grub_cfg_name_parse("/grub/mac-52:54:00:12:34:56.cfg", &k, mac), 0);
	assert_int_equal(k, GRUB_CFG_MAC);
	assert_memory_equal(mac, want, MAC_LEN);
	assert_int_equal(grub_cfg_name_parse("/grub/deploy-52:54:00:12:34:56.cfg", &k, mac), 0);
	assert_int_equal(k, GRUB_CFG_DEPLOY);
	assert_int_equal(grub_cfg_name_parse("/grub/local-52:54:00:12:34:56.cfg", &k, mac), 0);
	assert_int_equal(k, GRUB_CFG_LOCAL);
	const char *not_ours[] = { "/grub/mac-52:54:00:12:34:5.cfg", "/grub/mac-52:54:00:12:34:56.cfgx",
				   "/grub/mac-zz:54:00:12:34:56.cfg", "/grub/mac-.cfg", "/grub/x86_64-efi/command.lst",
				   "grubx64.efi", "//grub/grub.cfg", "/grub/grub.cfg.bak", "" };
	for (size_t i = 0; i < ARRAY_SIZE(not_ours); i++)
		assert_int_equal(grub_cfg_name_parse(not_ours[i], &k, mac), -ENOENT);
}

static struct pxe_facts facts_for(const char *mac, uint16_t arch)
{
	struct pxe_facts f;
	memset(&f, 0, sizeof(f));
	mac_parse(mac, f.mac);
	f.has_arch = true;
	f.arch = arch;
	f.has_guid = true;
	f.guid[0] = (uint8_t)arch;
	return f;
}

static void test_recent(void **state)
{
	struct dhcp_recent t;
	struct dhcp_recent_entry e;
	struct pxe_facts a = facts_for("52:54:00:00:00:01", 7), b = facts_for("52:54:00:00:00:02", 11),
			 c = facts_for("52:54:00:00:00:03", 9);
	struct in_addr none = { 0 }, ip = { htonl(0x0a000064) };

	assert_int_equal(dhcp_recent_init(&t, 0, 1000), -EINVAL);
	assert_int_equal(dhcp_recent_init(&t, 2, 1000), 0);
	assert_false(dhcp_recent_find(&t, a.mac, 1, &e));
	dhcp_recent_note(&t, &a, none, 100);
	assert_true(dhcp_recent_find(&t, a.mac, 200, &e));
	assert_int_equal(e.arch, 7);
	assert_int_equal(e.addr.s_addr, 0);
	/* the 4011 request brings the address; a later DISCOVER keeps it */
	dhcp_recent_note(&t, &a, ip, 300);
	dhcp_recent_note(&t, &a, none, 400);
	assert_true(dhcp_recent_find(&t, a.mac, 500, &e));
	assert_int_equal(e.addr.s_addr, ip.s_addr);
	/* expiry: ttl after the last exchange */
	assert_true(dhcp_recent_find(&t, a.mac, 1399, &e));
	assert_false(dhcp_recent_find(&t, a.mac, 1400, &e));
	/* full: the entry seen longest ago goes */
	dhcp_recent_note(&t, &a, none, 2000);
	dhcp_recent_note(&t, &b, none, 2100);
	dhcp_recent_note(&t, &c, none, 2200);
	assert_false(dhcp_recent_find(&t, a.mac, 2300, &e));
	assert_true(dhcp_recent_find(&t, b.mac, 2300, &e));
	assert_int_equal(e.arch, 11);
	assert_true(dhcp_recent_find(&t, c.mac, 2300, &e));
	/* local: set for a live entry only, kept past the facts' expiry,
	 * until its own end */
	assert_int_equal(dhcp_recent_set_local(&t, a.mac, 9000, 2300), -ENOENT);
	assert_int_equal(dhcp_recent_set_local(&t, b.mac, 5000, 2300), 0);
	assert_true(dhcp_recent_local(&t, b.mac, 4000));
	assert_false(dhcp_recent_find(&t, b.mac, 4000, &e)); /* facts expired */
	assert_false(dhcp_recent_local(&t, b.mac, 5000));
	assert_false(dhcp_recent_local(&t, c.mac, 2300));
	/* by the address of the 4011 request */
	struct in_addr ip2 = { htonl(0x0a000065) };
	dhcp_recent_note(&t, &c, ip2, 2400);
	assert_true(dhcp_recent_find_addr(&t, ip2, 2500, &e));
	assert_memory_equal(e.mac, c.mac, MAC_LEN);
	assert_false(dhcp_recent_find_addr(&t, ip, 2500, &e));
	assert_false(dhcp_recent_find_addr(&t, none, 2500, &e));
	assert_false(dhcp_recent_find_addr(&t, ip2, 3400, &e)); /* expired */
	dhcp_recent_free(&t);
	dhcp_recent_free(&t); /* twice: harmless */
}

/* PXEPassword for GRUB: every deployment becomes the menu, its start entry
 * open only to GRUB's superuser with the password; nothing of the image
 * before the start entry's file; the hash is checked before it is written. */
static void test_password(void **state)
{
	static const char hash[] =
		"grub.pbkdf2.sha512.1.73616C74."
		"867F70CF1ADE02CFF3752599A3A53DC4AF34C7A669815AE5D513554E1C8CF252"
		"C02D470A285A0501BAD999BFE943C08F050235D7D68B1DA55E63F73B60A57FCE";
	struct decision d = boot_decision();
	struct grub_script_opts o = opts;
	char buf[4096];
	const char *users, *local, *start, *pw;

	o.password_hash = hash;
	o.report_url = "http://10.0.0.5:8080/api/v1/report?token=abc123";
	for (int required = 1; required >= 0; required--) {
		d.required = required;
		assert_true(grub_script_build(&d, &o, buf, sizeof(buf)) > 0);
		users = strstr(buf, "set superusers=pxe\n");
		pw = strstr(buf, "password_pbkdf2 pxe 'grub.pbkdf2.sha512.1.73616C74.867F70CF");
		local = strstr(buf, "menuentry 'Boot from local disk' --unrestricted {\n"
				    "\tsource '(tftp,10.0.0.5)/grub/local-52:54:00:12:34:56.cfg'\n}\n");
		start = strstr(buf, required ? "menuentry 'Start required deployment d1 (image deb): "
					       "user pxe, then the PXE password' --users pxe {\n"
					     : "menuentry 'Start deployment d1 (image deb): "
					       "user pxe, then the PXE password' --users pxe {\n");
		assert_non_null(users);
		assert_non_null(pw);
		assert_non_null(local);
		assert_non_null(start);
		assert_non_null(strstr(pw, hash));
		/* the user and password before the entries; local is the default */
		assert_true(users < local && pw < local && local < start);
		assert_non_null(strstr(buf, "set default=0\nset timeout=10\n"));
		assert_non_null(strstr(start, "\tsource '(tftp,10.0.0.5)/grub/deploy-52:54:00:12:34:56.cfg'\n}\n"));
		/* nothing of the image, no report URL */
		assert_null(strstr(buf, "linux"));
		assert_null(strstr(buf, "vmlinuz"));
		assert_null(strstr(buf, "pxed.report"));
		/* one protected entry: the start entry */
		assert_true(strstr(buf, "--users") > start);
		assert_null(strstr(strstr(buf, "--users") + 1, "--users"));
	}
	/* the start entry's file: the image, nothing about passwords */
	d.required = true;
	o.confirmed = true;
	assert_true(grub_script_build(&d, &o, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "linux '(tftp,10.0.0.5)/lab/vmlinuz'"));
	assert_null(strstr(buf, "superusers"));
	assert_null(strstr(buf, "password_pbkdf2"));
	/* local and ignore are untouched by a password */
	o.confirmed = false;
	d.outcome = DECISION_LOCAL;
	assert_true(grub_script_build(&d, &o, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "password"));
	assert_null(strstr(buf, "menuentry"));
	/* a hash of another shape is never written */
	static const char *bad[] = {
		"grub.pbkdf2.sha512.1.AB.CD'\nset superusers=\n'",
		"grub.pbkdf2.sha512.1.AB.CD; reboot",
		"grub.pbkdf2.sha256.1.AB.CD",
		"$y$j9T$abc$def",
		"",
	};
	d = boot_decision();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.password_hash = bad[i];
		assert_int_equal(grub_script_build(&d, &o, buf, sizeof(buf)), -EINVAL);
		assert_string_equal(buf, "");
	}
	/* without a password: the required deployment starts at once */
	o.password_hash = NULL;
	assert_true(grub_script_build(&d, &o, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "linux '(tftp,10.0.0.5)/lab/vmlinuz'"));
	assert_null(strstr(buf, "superusers"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_available),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_local_ignore),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_entry_and_names),
		cmocka_unit_test(test_recent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

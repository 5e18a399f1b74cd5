/* conf: defaults, every error path with FILE:LINE, the printed block, and
 * the shipped example config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static char tmp_path[64];

static const char *write_conf(const char *text)
{
	strcpy(tmp_path, "/tmp/pxed-conf-XXXXXX");
	int fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

static void test_defaults(void **state)
{
	struct pxed_conf c;
	char err[CONF_ERR_LEN];
	assert_int_equal(conf_load(&c, NULL, err), 0);
	assert_true(c.is_active);
	assert_false(c.support_unknown);
	assert_int_equal(c.cache_expire, 3600);
	assert_int_equal(c.response_delay, 0);
	assert_int_equal(c.http_port, 8080);
	assert_int_equal(c.tftp_port, 69);
	assert_int_equal(c.tftp_workers, 2);
	assert_string_equal(c.tftp_root, "pxed-state/root");
	assert_string_equal(c.store_url, "sqlite:pxed-state/pxed.db");
	assert_string_equal(c.boot_bios, "undionly.kpxe");
}

static void test_values(void **state)
{
	struct pxed_conf c;
	char err[CONF_ERR_LEN];
	const char *p = write_conf("; comment\n[pxe]\nIsActive = no\nsupportunknownmachines=YES\n"
				   "ResponseDelay=5\nBindPolicy=include\nBindInterfaces=eth0, br0\n"
				   "PXEGUID={FAB8BFCC-3B15-431A-828D-FBFD184C3813}\nPXEPassword=s3cret\n"
				   "[tftp]\nRoot=/srv/tftp\nMaxWindowSize=16\nWorkers=16\n[http]\nPort=80\n"
				   "[store]\nURL=sqlite:/var/lib/pxed/x.db\n");
	assert_int_equal(conf_load(&c, p, err), 0);
	unlink(p);
	assert_false(c.is_active);
	assert_true(c.support_unknown);
	assert_int_equal(c.response_delay, 5);
	assert_int_equal(c.bind_policy, BIND_INCLUDE);
	assert_int_equal(c.n_bind_ifaces, 2);
	assert_true(conf_iface_allowed(&c, "br0"));
	assert_false(conf_iface_allowed(&c, "eth1"));
	assert_string_equal(c.pxe_guid, "fab8bfcc-3b15-431a-828d-fbfd184c3813");
	assert_string_equal(c.tftp_root, "/srv/tftp");
	assert_int_equal(c.tftp_max_window_size, 16);
	assert_int_equal(c.tftp_workers, 16);
	assert_int_equal(c.http_port, 80);
	assert_string_equal(c.store_url, "sqlite:/var/lib/pxed/x.db");

	/* The block shows the seed's names and hides the password. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_print_block(&c, f);
	fclose(f);
	assert_non_null(strstr(buf, "Loaded PXE settings from /tmp/pxed-conf-"));
	assert_non_null(strstr(buf, "\nPXE Settings:\n"));
	assert_non_null(strstr(buf, "\n    IsActive: No\n"));
	assert_non_null(strstr(buf, "\n    SupportUnknownMachines: Yes\n"));
	assert_non_null(strstr(buf, "\n    MACIgnoreListFile: <empty>\n"));
	assert_non_null(strstr(buf, "\n    CacheExpire: 3600\n"));
	assert_non_null(strstr(buf, "\n    HTTP Port: 80\n"));
	assert_non_null(strstr(buf, "\n    BindPolicy: Include eth0,br0\n"));
	assert_non_null(strstr(buf, "\n    PXE GUID: fab8bfcc-3b15-431a-828d-fbfd184c3813\n"));
	assert_non_null(strstr(buf, "\n    PXEPassword: <non empty>\n"));
	assert_null(strstr(buf, "s3cret"));
	free(buf);
}

struct bad_case {
	const char *text;
	const char *expect; /* substring of the error, after FILE: */
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "[pxe]\nIsActive = maybe\n", ":2: IsActive: 'maybe' is not yes/no" },
		{ "[pxe]\nCacheExpire = -1\n", ":2: CacheExpire: '-1' is not a whole number" },
		{ "[pxe]\nCacheExpire = 99999999\n", ":2: CacheExpire: '99999999' is out of range" },
		{ "[pxe]\nCacheExpire = 10s\n", ":2: CacheExpire: '10s' is not a whole number" },
		{ "[pxe]\nDHCPReceiveBuffer = 63\n", ":2: DHCPReceiveBuffer: '63' is out of range" },
		{ "[pxe]\nDHCPMaxPending = 0\n", ":2: DHCPMaxPending: '0' is out of range" },
		{ "[pxe]\n\nNoSuchThing = 1\n", ":3: unknown setting 'NoSuchThing' in [pxe]" },
		{ "[nope]\nx=1\n", ":2: unknown section [nope]" },
		{ "IsActive = yes\n", ":1: unknown section []" },
		{ "[pxe]\nthis is not ini\n", ":2: syntax error" },
		{ "[pxe]\nBindPolicy = sometimes\n", ":2: BindPolicy: 'sometimes' is neither include nor exclude" },
		{ "[pxe]\nPXEGUID = 1234\n", ":2: PXEGUID: '1234' is not a GUID" },
		{ "[tftp]\nPort = 0\n", ":2: Port: '0' is out of range" },
		{ "[tftp]\nPort = 65536\n", ":2: Port: '65536' is out of range" },
		{ "[tftp]\nMaxBlockSize = 70000\n", ":2: MaxBlockSize: '70000' is out of range" },
		{ "[tftp]\nWorkers = 0\n", ":2: Workers: '0' is out of range" },
		{ "[tftp]\nWorkers = 17\n", ":2: Workers: '17' is out of range" },
		{ "[store]\nURL = mysql://x\n", ":2: URL: 'mysql://x' is not a supported store URL" },
		{ "[pxe]\nBootProgramBIOS = ../../etc/passwd\n", ":2: BootProgramBIOS: '../../etc/passwd' must be a plain file name" },
		{ "[log]\nLevel = loud\n", ":2: Level: 'loud' is not error, warn, info or debug" },
		{ "[pxe]\nBindPolicy = include\n", "BindPolicy include with no BindInterfaces" },
		{ "[pxe]\nIsActive = yes\nIsActive = bad\n", ":3: IsActive" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pxed_conf c;
		char err[CONF_ERR_LEN];
		const char *p = write_conf(cases[i].text);
		int r = conf_load(&c, p, err);
		unlink(p);
		if (r >= 0 || !strstr(err, cases[i].expect) || strncmp(err, p, strlen(p)) != 0)
			fail_msg("case %zu: r=%d err='%s', expected '%s'", i, r, err, cases[i].expect);
	}
}

static void test_missing_file(void **state)
{
	struct pxed_conf c;
	char err[CONF_ERR_LEN];
	assert_true(conf_load(&c, "/nonexistent/pxed.conf", err) < 0);
	assert_non_null(strstr(err, "/nonexistent/pxed.conf: No such file"));
}

/* The shipped example parses, and its block lists every setting. */
static void test_example(void **state)
{
	struct pxed_conf c, d;
	char err[CONF_ERR_LEN];
	int r = conf_load(&c, SRCDIR "/docs/pxed.conf.example", err);
	if (r < 0)
		fail_msg("%s", err);
	conf_defaults(&d);
	assert_int_equal(c.cache_expire, d.cache_expire);
	assert_string_equal(c.boot_uefi_x64, d.boot_uefi_x64);
}

/* conf_set_value(): the file's parsing for one key at run time. */
static void test_set_value(void **state)
{
	struct pxed_conf c, before;
	char err[CONF_ERR_LEN], val[256];
	struct conf_setting st;

	assert_int_equal(conf_load(&c, NULL, err), 0);
	strcpy(c.pxe_guid, "fab8bfcc-3b15-431a-828d-fbfd184c3813");
	/* Name, section.Name, printed label: case-insensitive */
	assert_int_equal(conf_set_value(&c, "CacheExpire", "60", err, sizeof(err)), 0);
	assert_int_equal(c.cache_expire, 60);
	assert_int_equal(conf_set_value(&c, "pxe.cacheexpire", "0", err, sizeof(err)), 0);
	assert_int_equal(c.cache_expire, 0);
	assert_int_equal(conf_set_value(&c, "SUPPORTUNKNOWNMACHINES", "on", err, sizeof(err)), 0);
	assert_true(c.support_unknown);
	assert_int_equal(conf_set_value(&c, "http.Port", "8081", err, sizeof(err)), 0);
	assert_int_equal(c.http_port, 8081);
	assert_int_equal(conf_set_value(&c, "TFTP MaxBlockSize", "1024", err, sizeof(err)), 0);
	assert_int_equal(c.tftp_max_block_size, 1024);
	assert_int_equal(conf_set_value(&c, "BindInterfaces", "eth0 br0", err, sizeof(err)), 0);
	assert_int_equal(c.n_bind_ifaces, 2);
	assert_int_equal(conf_set_value(&c, "BindPolicy", "include", err, sizeof(err)), 0);
	assert_int_equal(c.bind_policy, BIND_INCLUDE);

	/* Refusals leave every setting as it was, and say why like the file. */
	memcpy(&before, &c, sizeof(c));
	static const struct {
		const char *key, *value, *expect;
		int r;
	} bad[] = {
		{ "CacheExpire", "soon", "CacheExpire: 'soon' is not a whole number (0 to 86400)", -EINVAL },
		{ "CacheExpire", "86401", "CacheExpire: '86401' is out of range (0 to 86400)", -ERANGE },
		{ "IsActive", "maybe", "IsActive: 'maybe' is not yes/no", -EINVAL },
		{ "Colour", "blue", "unknown setting 'Colour'", -ENOENT },
		{ "pxe.Port", "1", "unknown setting 'pxe.Port'", -ENOENT },
		{ "Port", "1", "'Port' is ambiguous", -ENOENT },
		{ "PXEGUID", "1234", "PXEGUID: '1234' is not a GUID", -EINVAL },
		{ "PXEGUID", "", "PXEGUID: cannot be emptied", -EINVAL },
		{ "BindInterfaces", "", "BindPolicy include with no BindInterfaces", -EINVAL },
		{ "BindInterfaces", "ok0 bad/1", "'bad/1' is not an interface name", -EINVAL },
		{ "Level", "loud", "Level: 'loud' is not error, warn, info or debug", -EINVAL },
		{ "AdminHTTPSOnly", "yes", "AdminHTTPSOnly needs HTTPSPort", -EINVAL },
		{ "BootProgramBIOS", "../x", "must be a plain file name", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = conf_set_value(&c, bad[i].key, bad[i].value, err, sizeof(err));
		if (r != bad[i].r || !strstr(err, bad[i].expect))
			fail_msg("case %zu (%s = %s): r=%d err='%s', expected '%s'", i, bad[i].key,
				 bad[i].value, r, err, bad[i].expect);
		if (memcmp(&before, &c, sizeof(c)) != 0)
			fail_msg("case %zu (%s = %s) changed the settings", i, bad[i].key, bad[i].value);
	}

	/* PXEPassword: hashed like conf_load(), the clear text kept nowhere. */
	assert_int_equal(conf_set_value(&c, "PXEPassword", "hunter2", err, sizeof(err)), 0);
	assert_string_equal(c.pxe_password, "");
	assert_true(strncmp(c.pxe_password_hash, "$y$", 3) == 0);
	assert_true(conf_password_verify(c.pxe_password_hash, "hunter2"));
	assert_int_equal(conf_get_value(&c, "PXEPassword", val, sizeof(val)), 0);
	assert_string_equal(val, "<non empty>");
	assert_int_equal(conf_set_value(&c, "PXEPassword", "", err, sizeof(err)), 0);
	assert_string_equal(c.pxe_password_hash, "");
	assert_int_equal(conf_get_value(&c, "PXEPassword", val, sizeof(val)), 0);
	assert_string_equal(val, "<empty>");

	/* What needs a restart, and lookups */
	assert_int_equal(conf_setting_find("http.port", &st, err, sizeof(err)), 0);
	assert_true(st.restart);
	assert_string_equal(st.label, "HTTP Port");
	assert_int_equal(conf_setting_find("CacheExpire", &st, err, sizeof(err)), 0);
	assert_false(st.restart);
	assert_string_equal(st.section, "pxe");
	assert_int_equal(conf_setting_find("PXEPassword", &st, err, sizeof(err)), 0);
	assert_true(st.secret);
	assert_int_equal(conf_setting_find("Port", &st, err, sizeof(err)), -EINVAL);
	assert_int_equal(conf_setting_find("nope", &st, err, sizeof(err)), -ENOENT);
	static const char *const restart[] = { "DHCPPort", "PXEPort", "tftp.Root", "tftp.Port",
					       "http.Port", "Address", "HTTPSPort", "TLSCertificate",
					       "TLSKey", "TokenFile", "store.URL", "StateDir",
					       "BootProgramDir", "DHCPReceiveBuffer", "DHCPMaxPending" };
	for (size_t i = 0; i < sizeof(restart) / sizeof(restart[0]); i++) {
		assert_int_equal(conf_setting_find(restart[i], &st, err, sizeof(err)), 0);
		if (!st.restart)
			fail_msg("%s should need a restart", restart[i]);
	}
}

static void count_setting(void *ctx, const struct conf_setting *st, const char *value)
{
	char **seen = ctx;
	if (!strcmp(st->name, "BindInterfaces"))
		seen[0] = strdup(value);
	if (!strcmp(st->name, "BindPolicy"))
		seen[1] = strdup(value);
	if (!strcmp(st->name, "PXEPassword"))
		seen[2] = strdup(value);
}

/* Values from conf_settings_foreach() set back unchanged. */
static void test_settings_round_trip(void **state)
{
	struct pxed_conf c;
	char err[CONF_ERR_LEN];
	char *seen[3] = { NULL, NULL, NULL };
	const char *p = write_conf("[pxe]\nBindPolicy=include\nBindInterfaces=eth0, br0\n"
				   "PXEPassword=x\n");
	assert_int_equal(conf_load(&c, p, err), 0);
	unlink(p);
	conf_settings_foreach(&c, count_setting, seen);
	assert_string_equal(seen[0], "eth0,br0");
	assert_string_equal(seen[1], "include");
	assert_string_equal(seen[2], "<non empty>");
	assert_int_equal(conf_set_value(&c, "BindInterfaces", seen[0], err, sizeof(err)), 0);
	assert_int_equal(c.n_bind_ifaces, 2);
	assert_string_equal(c.bind_ifaces[1], "br0");
	for (int i = 0; i < 3; i++)
		free(seen[i]);
}

/* SIGHUP keeps the settings that need a restart. */
static void test_keep_restart(void **state)
{
	struct pxed_conf cur, next;
	char err[CONF_ERR_LEN];
	assert_int_equal(conf_load(&cur, NULL, err), 0);
	memcpy(&next, &cur, sizeof(next));
	next.http_port = 9000;
	next.cache_expire = 5;
	strcpy(next.tftp_root, "/elsewhere");
	assert_int_equal(conf_keep_restart(&next, &cur, NULL, NULL), 2);
	assert_int_equal(next.http_port, cur.http_port);
	assert_string_equal(next.tftp_root, cur.tftp_root);
	assert_int_equal(next.cache_expire, 5);
}

/* Parse a GRUB hash's salt back into bytes (upper-case hex). */
static size_t grub_salt_of(const char *h, uint8_t *salt, size_t max)
{
	const char *p = strchr(h + strlen("grub.pbkdf2.sha512."), '.');
	size_t n = 0;
	assert_non_null(p);
	for (p++; *p != '.' && n < max; p += 2) {
		unsigned v;
		assert_int_equal(sscanf(p, "%2X", &v), 1);
		salt[n++] = (uint8_t)v;
	}
	return n;
}

/* PXEPassword for GRUB: PBKDF2-HMAC-SHA512 in grub-mkpasswd-pbkdf2's shape,
 * the shape check that guards what goes into a GRUB configuration, and the
 * setting that lets GRUB machines be asked. */
static void test_grub_password(void **state)
{
	/* the usual PBKDF2-HMAC-SHA512 vectors: P="password", S="salt" */
	static const char v1[] =
		"grub.pbkdf2.sha512.1.73616C74."
		"867F70CF1ADE02CFF3752599A3A53DC4AF34C7A669815AE5D513554E1C8CF252"
		"C02D470A285A0501BAD999BFE943C08F050235D7D68B1DA55E63F73B60A57FCE";
	static const char v2[] =
		"grub.pbkdf2.sha512.2.73616C74."
		"E1D9C16AA681708A45F5C7C4E215CEB66E011A2E9F0040713F18AEFDB866D53C"
		"F76CAB2868A39B9F7840EDCE4FEF5A82BE67335C77A6068E04112754F27CCF4E";
	char out[CONF_ERR_LEN], again[CONF_ERR_LEN], err[CONF_ERR_LEN];
	uint8_t salt[CONF_GRUB_SALT_BYTES];
	struct pxed_conf c;
	size_t n;

	assert_int_equal(conf_grub_pbkdf2("password", (const uint8_t *)"salt", 4, 1, out, sizeof(out)), 0);
	assert_string_equal(out, v1);
	assert_int_equal(conf_grub_pbkdf2("password", (const uint8_t *)"salt", 4, 2, out, sizeof(out)), 0);
	assert_string_equal(out, v2);
	assert_int_equal(conf_grub_pbkdf2("password", (const uint8_t *)"salt", 4, 2, out, 100), -ENOBUFS);
	assert_int_equal(conf_grub_pbkdf2("password", (const uint8_t *)"salt", 4, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(conf_grub_pbkdf2("password", (const uint8_t *)"salt", 0, 1, out, sizeof(out)), -EINVAL);

	/* a random 64-byte salt each time, the fixed count, a 64-byte hash */
	assert_int_equal(conf_grub_password_hash("hunter2", out, sizeof(out)), 0);
	assert_int_equal(conf_grub_password_hash("hunter2", again, sizeof(again)), 0);
	assert_string_not_equal(out, again);
	assert_true(strncmp(out, "grub.pbkdf2.sha512.100000.", 26) == 0);
	assert_int_equal(strlen(out), 26 + 128 + 1 + 128);
	assert_true(conf_grub_hash_valid(out));
	/* what GRUB computes from the typed password and the salt: the same
	 * string for the right one, another for a wrong one */
	n = grub_salt_of(out, salt, sizeof(salt));
	assert_int_equal(n, CONF_GRUB_SALT_BYTES);
	assert_int_equal(conf_grub_pbkdf2("hunter2", salt, n, CONF_GRUB_PBKDF2_ITERATIONS, again, sizeof(again)), 0);
	assert_string_equal(out, again);
	assert_int_equal(conf_grub_pbkdf2("hunter3", salt, n, CONF_GRUB_PBKDF2_ITERATIONS, again, sizeof(again)), 0);
	assert_string_not_equal(out, again);

	/* the shape check */
	static const char *good[] = {
		v1, v2,
		"grub.pbkdf2.sha512.10000.ab.cd",
		"grub.pbkdf2.sha512.2147483647.00.FF",
	};
	static const char *bad[] = {
		"", "grub.pbkdf2.sha512.", "grub.pbkdf2.sha256.10000.AB.CD",
		"GRUB.pbkdf2.sha512.10000.AB.CD", "grub.pbkdf2.sha512.010000.AB.CD",
		"grub.pbkdf2.sha512.0.AB.CD", "grub.pbkdf2.sha512.2147483648.AB.CD",
		"grub.pbkdf2.sha512.99999999999.AB.CD", "grub.pbkdf2.sha512.-1.AB.CD",
		"grub.pbkdf2.sha512.10000.ABC.CD", "grub.pbkdf2.sha512.10000.AB.CDE",
		"grub.pbkdf2.sha512.10000.AB", "grub.pbkdf2.sha512.10000..CD",
		"grub.pbkdf2.sha512.10000.AB.", "grub.pbkdf2.sha512.10000.AG.CD",
		"grub.pbkdf2.sha512.10000.AB.CD ", "grub.pbkdf2.sha512.10000.AB.CD\n",
		"grub.pbkdf2.sha512.10000.AB.CD.EF", "grub.pbkdf2.sha512.10000.AB.CD'; reboot '",
		"grub.pbkdf2.sha512. 10000.AB.CD", "grub.pbkdf2.sha512.1e4.AB.CD",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!conf_grub_hash_valid(good[i]))
			fail_msg("refused: '%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (conf_grub_hash_valid(bad[i]))
			fail_msg("accepted: '%s'", bad[i]);
	assert_false(conf_grub_hash_valid(NULL));
	/* a salt or hash longer than 64 bytes */
	memset(out, 0, sizeof(out));
	strcpy(out, "grub.pbkdf2.sha512.1.");
	memset(out + strlen(out), 'A', 130);
	strcat(out, ".CD");
	assert_false(conf_grub_hash_valid(out));
	out[21 + 128] = '\0';
	strcat(out, ".CD");
	assert_true(conf_grub_hash_valid(out));

	/* the setting: GRUB machines are asked only with PXEPasswordGRUB = yes */
	assert_int_equal(conf_load(&c, write_conf("[pxe]\nPXEPassword = hunter2\n"), err), 0);
	unlink(tmp_path);
	assert_false(c.pxe_password_grub);
	assert_null(conf_grub_password(&c));
	assert_true(conf_grub_hash_valid(c.pxe_password_grub_hash));
	assert_int_equal(conf_load(&c, write_conf("[pxe]\nPXEPassword = hunter2\nPXEPasswordGRUB = yes\n"), err), 0);
	unlink(tmp_path);
	assert_string_equal(c.pxe_password, "");
	assert_non_null(conf_grub_password(&c));
	assert_true(conf_grub_hash_valid(conf_grub_password(&c)));
	n = grub_salt_of(conf_grub_password(&c), salt, sizeof(salt));
	assert_int_equal(conf_grub_pbkdf2("hunter2", salt, n, CONF_GRUB_PBKDF2_ITERATIONS, again, sizeof(again)), 0);
	assert_string_equal(conf_grub_password(&c), again);
	/* at run time: off, on again (no clear text needed), a new password,
	 * none */
	assert_int_equal(conf_set_value(&c, "PXEPasswordGRUB", "no", err, sizeof(err)), 0);
	assert_null(conf_grub_password(&c));
	assert_int_equal(conf_set_value(&c, "PXEPasswordGRUB", "yes", err, sizeof(err)), 0);
	assert_string_equal(conf_grub_password(&c), again);
	assert_int_equal(conf_set_value(&c, "PXEPassword", "swordfish", err, sizeof(err)), 0);
	assert_non_null(conf_grub_password(&c));
	assert_string_not_equal(conf_grub_password(&c), again);
	n = grub_salt_of(conf_grub_password(&c), salt, sizeof(salt));
	assert_int_equal(conf_grub_pbkdf2("swordfish", salt, n, CONF_GRUB_PBKDF2_ITERATIONS, again, sizeof(again)), 0);
	assert_string_equal(conf_grub_password(&c), again);
	assert_int_equal(conf_set_value(&c, "PXEPassword", "", err, sizeof(err)), 0);
	assert_null(conf_grub_password(&c));
	assert_string_equal(c.pxe_password_grub_hash, "");
	assert_true(c.pxe_password_grub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_set_value),
		cmocka_unit_test(test_settings_round_trip),
		cmocka_unit_test(test_keep_restart),
		cmocka_unit_test(test_grub_password),
	};
	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}

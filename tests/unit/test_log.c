/* log: held lines are written together at release, all of them, in order;
 * nesting holds until the outermost release; more than the hold buffer is
 * written as it fills, never lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

static char path[] = "/tmp/pxed-test-log.XXXXXX";
static int saved = -1;

static int setup(void **state)
{
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	unlink(path);
	return 0;
}

/* Lines written to the file so far. */
static size_t lines(void)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_hold_release(void **state)
{
	size_t n0 = lines();
	log_info("test", "one");
	assert_int_equal(lines(), n0 + 1);
	log_hold();
	log_hold();
	log_info("test", "two");
	log_warn("test", "three");
	assert_int_equal(lines(), n0 + 1);
	log_release();
	assert_int_equal(lines(), n0 + 1); /* still held by the outer hold */
	log_release();
	assert_int_equal(lines(), n0 + 3);
	log_release(); /* unbalanced: ignored */
	log_info("test", "four");
	assert_int_equal(lines(), n0 + 4);

	FILE *f = fopen(path, "r");
	char buf[4096] = "";
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *a = strstr(buf, "test: one"), *b = strstr(buf, "test: two");
	char *c = strstr(buf, "test: three"), *d = strstr(buf, "test: four");
	assert_true(a && b && c && d && a < b && b < c && c < d);
	assert_non_null(strstr(buf, "warn  test: three\n"));
}

/* 2,000 lines of ~200 bytes: several times the hold buffer. */
static void test_hold_overflow(void **state)
{
	char pad[180];
	size_t n0 = lines();
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	log_hold();
	for (int i = 0; i < 2000; i++)
		log_info("test", "%04d %s", i, pad);
	log_release();
	assert_int_equal(lines(), n0 + 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_release),
		cmocka_unit_test(test_hold_overflow),
	};
	log_set_level(LOG_LVL_INFO);
	/* cmocka reports on stdout; stderr is the file under test. */
	return cmocka_run_group_tests(tests, setup, teardown);
}

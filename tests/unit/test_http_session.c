/* Console sessions, the session cookie and the Origin check
 * (http_auth.h): pure helpers, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "http/http_auth.h"

static void test_cookie_get(void **st)
{
	char v[16];
	assert_int_equal(http_cookie_get("pxed_session=abc", "pxed_session", v, sizeof(v)), 0);
	assert_string_equal(v, "abc");
	assert_int_equal(http_cookie_get("a=1; pxed_session=xyz; b=2", "pxed_session", v, sizeof(v)), 0);
	assert_string_equal(v, "xyz");
	/* a name that only starts with ours is another cookie */
	assert_int_equal(http_cookie_get("pxed_session2=no; x_pxed_session=no", "pxed_session", v,
					 sizeof(v)), -ENOENT);
	assert_int_equal(http_cookie_get("", "pxed_session", v, sizeof(v)), -ENOENT);
	assert_int_equal(http_cookie_get(";;; ;", "pxed_session", v, sizeof(v)), -ENOENT);
	assert_int_equal(http_cookie_get("pxed_session=", "pxed_session", v, sizeof(v)), -ENOENT);
	/* longer than the buffer: refused, never cut */
	assert_int_equal(http_cookie_get("pxed_session=0123456789abcdef0", "pxed_session", v,
					 sizeof(v)), -ENOBUFS);
	assert_int_equal(http_cookie_get("pxed_session=v ; c=d", "pxed_session", v, sizeof(v)), 0);
	assert_string_equal(v, "v");
}

static void test_origin_same(void **st)
{
	assert_true(http_origin_same("http://127.0.0.1:8080", "127.0.0.1:8080", false));
	assert_true(http_origin_same("https://pxe.lab:8443", "pxe.lab:8443", true));
	assert_true(http_origin_same("HTTP://PXE.LAB", "pxe.lab", false));
	assert_false(http_origin_same("http://127.0.0.1:9999", "127.0.0.1:8080", false));
	assert_false(http_origin_same("https://127.0.0.1:8080", "127.0.0.1:8080", false));
	assert_false(http_origin_same("http://127.0.0.1:8080", "127.0.0.1:8080", true));
	assert_false(http_origin_same("null", "127.0.0.1:8080", false));
	assert_false(http_origin_same(NULL, "127.0.0.1:8080", false));
	assert_false(http_origin_same("http://", "", false));
	assert_false(http_origin_same("http://evil.example/127.0.0.1:8080", "127.0.0.1:8080", false));
}

static void test_sessions(void **st)
{
	static struct http_sessions t;
	struct http_session *a, *b, *f;
	char id[HTTP_SESSION_ID_LEN + 1];

	memset(&t, 0, sizeof(t));
	assert_int_equal(http_session_new(&t, true, 1000, 60000, &a), 0);
	assert_int_equal(strlen(a->id), HTTP_SESSION_ID_LEN);
	assert_int_equal(strlen(a->csrf), HTTP_SESSION_ID_LEN);
	assert_string_not_equal(a->id, a->csrf);
	assert_int_equal(http_session_new(&t, false, 1000, 60000, &b), 0);
	assert_string_not_equal(a->id, b->id);
	f = http_session_find(&t, a->id, 2000);
	assert_ptr_equal(f, a);
	assert_true(f->admin);
	assert_false(http_session_find(&t, b->id, 2000)->admin);
	/* a wrong, short or empty id finds nothing */
	memcpy(id, a->id, sizeof(id));
	id[0] = id[0] == 'a' ? 'b' : 'a';
	assert_null(http_session_find(&t, id, 2000));
	assert_null(http_session_find(&t, "abc", 2000));
	assert_null(http_session_find(&t, "", 2000));
	assert_null(http_session_find(&t, NULL, 2000));
	assert_int_equal(http_session_count(&t, 2000), 2);
	/* expiry */
	assert_null(http_session_find(&t, a->id, 61000));
	assert_int_equal(http_session_count(&t, 61000), 0);
	/* sign-out */
	assert_int_equal(http_session_new(&t, true, 70000, 60000, &a), 0);
	memcpy(id, a->id, sizeof(id));
	http_session_end(a);
	assert_null(http_session_find(&t, id, 70001));
}

static void test_sessions_full(void **st)
{
	static struct http_sessions t;
	struct http_session *s, *first = NULL;
	char first_id[HTTP_SESSION_ID_LEN + 1], second_id[HTTP_SESSION_ID_LEN + 1];

	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < HTTP_SESSIONS_MAX; i++) {
		assert_int_equal(http_session_new(&t, true, 1000 + i, 3600000, &s), 0);
		if (i == 0) {
			first = s;
			memcpy(first_id, s->id, sizeof(first_id));
		} else if (i == 1) {
			memcpy(second_id, s->id, sizeof(second_id));
		}
	}
	assert_int_equal(t.evicted_total, 0);
	/* the first is used again, so the second is now the least recently used */
	assert_ptr_equal(http_session_find(&t, first_id, 5000), first);
	assert_int_equal(http_session_new(&t, true, 6000, 3600000, &s), 0);
	assert_int_equal(t.evicted_total, 1);
	assert_null(http_session_find(&t, second_id, 6001));
	assert_non_null(http_session_find(&t, first_id, 6001));
	assert_int_equal(http_session_count(&t, 6001), HTTP_SESSIONS_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_get),
		cmocka_unit_test(test_origin_same),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_sessions_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

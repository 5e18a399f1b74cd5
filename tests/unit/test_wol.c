#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "wake/wol.h"
#include "ev/ev.h"

static in_addr_t ip(const char *s)
{
	return inet_addr(s);
}

static void test_build(void **state)
{
	const uint8_t mac[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	uint8_t p[WOL_PACKET_LEN];
	wol_build(mac, p);
	for (int i = 0; i < 6; i++)
		assert_int_equal(p[i], 0xff);
	for (int i = 0; i < 16; i++)
		assert_memory_equal(p + 6 + i * MAC_LEN, mac, MAC_LEN);
}

static void test_directed(void **state)
{
	assert_int_equal(wol_directed(ip("10.88.5.1"), 24), ip("10.88.5.255"));
	assert_int_equal(wol_directed(ip("10.88.5.1"), 23), ip("10.88.5.255"));
	assert_int_equal(wol_directed(ip("10.88.4.1"), 23), ip("10.88.5.255"));
	assert_int_equal(wol_directed(ip("172.16.9.1"), 16), ip("172.16.255.255"));
	assert_int_equal(wol_directed(ip("10.0.0.1"), 30), ip("10.0.0.3"));
	/* No directed broadcast: no relay, a prefix without one, or off. */
	assert_int_equal(wol_directed(0, 24), 0);
	assert_int_equal(wol_directed(ip("10.0.0.1"), 31), 0);
	assert_int_equal(wol_directed(ip("10.0.0.1"), 0), 0);
	assert_int_equal(wol_directed(ip("10.0.0.1"), 7), 0);
}

static void test_relays_and_reserve(void **state)
{
	const uint8_t a[MAC_LEN] = { 2, 0, 0, 0, 0, 1 }, b[MAC_LEN] = { 2, 0, 0, 0, 0, 2 };
	struct ev_loop *loop;
	struct wol_sched *w;
	struct wol_stats st;
	struct in_addr g = { .s_addr = ip("10.1.2.1") }, got;

	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(wol_sched_new(loop, &w), 0);
	assert_false(wol_sched_relay(w, a, &got));
	wol_sched_note_relay(w, a, g);
	assert_true(wol_sched_relay(w, a, &got));
	assert_int_equal(got.s_addr, g.s_addr);
	assert_false(wol_sched_relay(w, b, &got));
	/* Room is bounded across requests; refusals are counted. */
	assert_int_equal(wol_sched_reserve(w, 3, 4), 0);
	assert_int_equal(wol_sched_reserve(w, 2, 4), -EBUSY);
	assert_int_equal(wol_sched_reserve(w, 1, 4), 0);
	wol_sched_release(w, 4);
	wol_sched_stats(w, &st);
	assert_int_equal(st.busy, 1);
	assert_int_equal(st.pending, 0);
	wol_sched_free(w);
	ev_loop_free(loop);
}

static void test_batch_bounded(void **state)
{
	const uint8_t a[MAC_LEN] = { 2, 0, 0, 0, 0, 1 };
	struct wol_ifaces ifs = { .n = 0 };
	struct wol_batch *b = wol_batch_new(1, &ifs, "device 'x'");

	assert_non_null(b);
	assert_int_equal(wol_batch_add(b, a), 0);
	assert_int_equal(wol_batch_add(b, a), -ENOSPC);
	assert_int_equal(wol_batch_count(b), 1);
	assert_string_equal(wol_batch_what(b), "device 'x'");
	wol_batch_free(b);
	assert_null(wol_batch_new(WOL_MAX_DEVICES + 1, &ifs, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_directed),
		cmocka_unit_test(test_relays_and_reserve),
		cmocka_unit_test(test_batch_bounded),
	};
	return cmocka_run_group_tests_name("wol", tests, NULL, NULL);
}

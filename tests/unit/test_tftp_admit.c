/* tftp_admit: who may start a TFTP transfer (tftp_admit.h), and the
 * address helpers it compares with (tftp_addr.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "conf/conf.h"
#include "tftp/tftp_addr.h"
#include "tftp/tftp_admit.h"

static struct tftp_addr v4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct tftp_addr a;
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	assert_int_equal(tftp_addr_set(&a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return a;
}

static struct tftp_addr v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct tftp_addr a;
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	assert_int_equal(tftp_addr_set(&a, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	return a;
}

static void test_addr(void **state)
{
	char buf[TFTP_ADDR_STRLEN];
	struct tftp_addr a = v4("192.0.2.7", 1234), b = v4("192.0.2.7", 999);
	struct tftp_addr c = v6("2001:db8::1", 1234);
	tftp_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7:1234");
	tftp_addr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:1234");
	/* a v4-mapped address (an IPv4 client on a dual-stack socket) is
	 * written as the IPv4 address it is, as in URLs */
	struct tftp_addr l = v6("::ffff:255.255.255.255", 65535);
	tftp_addr_format(&l, buf, sizeof(buf));
	assert_string_equal(buf, "255.255.255.255:65535");
	assert_true(tftp_addr_same_host(&a, &b));
	assert_false(tftp_addr_equal(&a, &b));
	assert_true(tftp_addr_equal(&a, &a));
	assert_false(tftp_addr_same_host(&a, &c));
	assert_int_equal(tftp_addr_port(&c), 1234);
	/* a length that does not match the family, or an unknown family */
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct tftp_addr x;
	assert_int_equal(tftp_addr_set(&x, (struct sockaddr *)&sin, sizeof(sin) - 1), -EAFNOSUPPORT);
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	assert_int_equal(tftp_addr_set(&x, (struct sockaddr *)&ss, sizeof(ss)), -EAFNOSUPPORT);
}

static void test_limits(void **state)
{
	struct pxed_conf conf;
	struct tftp_admit a;
	struct tftp_slot slots[5];
	conf_defaults(&conf);
	conf.tftp_max_per_address = 2;
	tftp_admit_init(&a, &conf, 4);

	struct tftp_addr p1 = v4("192.0.2.1", 1001), p2 = v4("192.0.2.1", 1002),
			 p3 = v4("192.0.2.1", 1003), q1 = v6("2001:db8::2", 1001),
			 q2 = v6("2001:db8::3", 1001), q3 = v6("2001:db8::4", 1001);
	assert_int_equal(tftp_admit_check(&a, &p1, "p1", "f"), TFTP_ADMIT_OK);
	tftp_admit_take(&a, &slots[0], &p1);
	/* the same TID again: a repeat, not counted */
	assert_int_equal(tftp_admit_check(&a, &p1, "p1", "f"), TFTP_ADMIT_REPEAT);
	assert_int_equal(tftp_admit_check(&a, &p2, "p2", "f"), TFTP_ADMIT_OK);
	tftp_admit_take(&a, &slots[1], &p2);
	/* a third from one address */
	assert_int_equal(tftp_admit_check(&a, &p3, "p3", "f"), TFTP_ADMIT_BUSY_ADDRESS);
	assert_int_equal(a.stats.busy_per_address, 1);
	/* the same port on another host (and family) is another client */
	assert_int_equal(tftp_admit_check(&a, &q1, "q1", "f"), TFTP_ADMIT_OK);
	tftp_admit_take(&a, &slots[2], &q1);
	assert_int_equal(tftp_admit_check(&a, &q2, "q2", "f"), TFTP_ADMIT_OK);
	tftp_admit_take(&a, &slots[3], &q2);
	assert_int_equal(a.stats.active, 4);
	/* MaxTransfers */
	assert_int_equal(tftp_admit_check(&a, &q3, "q3", "f"), TFTP_ADMIT_BUSY);
	assert_int_equal(a.stats.busy, 1);
	assert_string_equal(tftp_admit_busy_message(TFTP_ADMIT_BUSY),
			    "Server busy: too many transfers, try again later");
	/* a slot freed is a slot taken again */
	tftp_admit_release(&a, &slots[0]);
	assert_int_equal(a.stats.active, 3);
	assert_int_equal(tftp_admit_check(&a, &p3, "p3", "f"), TFTP_ADMIT_OK);
	/* the per-address limit is read at every request (a reload) */
	tftp_admit_take(&a, &slots[4], &p3);
	tftp_admit_release(&a, &slots[2]);
	conf.tftp_max_per_address = 0; /* 0 = up to MaxTransfers */
	assert_int_equal(tftp_admit_check(&a, &p1, "p1", "f"), TFTP_ADMIT_OK);
	conf.tftp_max_per_address = 1;
	assert_int_equal(tftp_admit_check(&a, &p1, "p1", "f"), TFTP_ADMIT_BUSY_ADDRESS);
	tftp_admit_release(&a, &slots[1]);
	tftp_admit_release(&a, &slots[3]);
	tftp_admit_release(&a, &slots[4]);
	assert_int_equal(a.stats.active, 0);
	assert_null(a.slots);
}

/* An unacknowledged transfer: 1 s, then 2 s, never past 6 s in all, and
 * given up after TFTP_FIRST_TRIES timeouts (counted once). */
static void test_first_ack(void **state)
{
	struct pxed_conf conf;
	struct tftp_admit a;
	struct tftp_slot s;
	struct tftp_addr p = v4("192.0.2.9", 2000);
	conf_defaults(&conf);
	tftp_admit_init(&a, &conf, 10);
	tftp_admit_take(&a, &s, &p);
	uint64_t t0 = s.start_ms;
	assert_int_equal(tftp_admit_first_rto(&s, 0, t0), 1000);
	assert_int_equal(tftp_admit_first_rto(&s, 1, t0 + 1000), 2000);
	assert_int_equal(tftp_admit_first_rto(&s, 2, t0 + 5500), 500);
	assert_int_equal(tftp_admit_first_rto(&s, 3, t0 + 7000), 1);
	assert_false(tftp_admit_first_expired(&a, &s, 1, t0 + 1000));
	assert_true(tftp_admit_first_expired(&a, &s, TFTP_FIRST_TRIES, t0 + 3000));
	assert_true(tftp_admit_first_expired(&a, &s, 0, t0 + TFTP_FIRST_ACK_MS));
	assert_int_equal(a.stats.unacknowledged, 2);
	/* acknowledged: no longer admission's concern */
	s.verified = true;
	assert_false(tftp_admit_first_expired(&a, &s, 5, t0 + 60000));
	assert_int_equal(a.stats.unacknowledged, 2);
	tftp_admit_release(&a, &s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_first_ack),
	};
	return cmocka_run_group_tests_name("tftp_admit", tests, NULL, NULL);
}

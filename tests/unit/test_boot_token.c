/* Unit tests for the script URL tokens (src/decide/boot_token.c): bound to
 * the MAC, GUID and arch of the exchange, one commit each, expiry, a full
 * ring forgetting the oldest, hostile text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "decide/boot_token.h"

static struct pxe_facts facts(uint8_t last, bool guid, int arch)
{
	struct pxe_facts f = { .mac = { 0x52, 0x54, 0, 0, 0, last } };
	if (guid) {
		f.has_guid = true;
		memset(f.guid, last, GUID_LEN);
	}
	if (arch >= 0) {
		f.has_arch = true;
		f.arch = (uint16_t)arch;
	}
	return f;
}

/* The facts an HTTP request states: only the MAC. */
static struct pxe_facts asked(uint8_t last)
{
	return facts(last, false, -1);
}

static void test_issue_check(void **state)
{
	struct boot_tokens *t;
	struct pxe_facts f = facts(1, true, 7), q;
	char tok[BOOT_TOKEN_STR_LEN], tok2[BOOT_TOKEN_STR_LEN];
	struct boot_token_stats st;

	assert_int_equal(boot_tokens_new(16, &t), 0);
	assert_int_equal(boot_token_issue(t, &f, 1000, 60000, tok), 0);
	assert_int_equal(strlen(tok), 32);
	assert_int_equal(strspn(tok, "0123456789abcdef"), 32);
	assert_int_equal(boot_token_issue(t, &f, 1000, 60000, tok2), 0);
	assert_string_not_equal(tok, tok2);

	/* the token says the GUID and arch pxed saw */
	q = asked(1);
	assert_int_equal(boot_token_check(t, tok, &q, 2000, 60000, false), BOOT_TOKEN_OK);
	assert_true(q.has_guid && q.has_arch);
	assert_int_equal(q.arch, 7);
	assert_memory_equal(q.guid, f.guid, GUID_LEN);
	assert_int_equal(q.arch_class, PXE_ARCH_UEFI_X64);
	/* another MAC, or facts that disagree */
	q = asked(2);
	assert_int_equal(boot_token_check(t, tok, &q, 2000, 60000, false),
			 BOOT_TOKEN_OTHER_MACHINE);
	q = asked(1);
	q.has_arch = true;
	q.arch = 0;
	assert_int_equal(boot_token_check(t, tok, &q, 2000, 60000, false),
			 BOOT_TOKEN_OTHER_MACHINE);
	/* hostile and absent text */
	q = asked(1);
	assert_int_equal(boot_token_check(t, NULL, &q, 2000, 60000, false), BOOT_TOKEN_MISSING);
	assert_int_equal(boot_token_check(t, "", &q, 2000, 60000, false), BOOT_TOKEN_MISSING);
	assert_int_equal(boot_token_check(t, "xyz", &q, 2000, 60000, false), BOOT_TOKEN_MALFORMED);
	assert_int_equal(boot_token_check(t, "0123456789abcdef0123456789abcdeg", &q, 2000, 60000,
					  false),
			 BOOT_TOKEN_MALFORMED);
	assert_int_equal(boot_token_check(t, "0123456789abcdef0123456789abcdef0", &q, 2000, 60000,
					  false),
			 BOOT_TOKEN_MALFORMED);
	assert_int_equal(boot_token_check(t, "0123456789abcdef0123456789abcdef", &q, 2000, 60000,
					  false),
			 BOOT_TOKEN_UNKNOWN);
	boot_tokens_stats(t, &st);
	assert_int_equal(st.issued, 2);
	assert_int_equal(st.refused[BOOT_TOKEN_OTHER_MACHINE], 2);
	assert_int_equal(st.refused[BOOT_TOKEN_MALFORMED], 3);
	boot_tokens_free(t);
}

static void test_claim_spend(void **state)
{
	struct boot_tokens *t;
	struct pxe_facts f = facts(1, false, 0), q = asked(1);
	char offer[BOOT_TOKEN_STR_LEN], ack[BOOT_TOKEN_STR_LEN], other[BOOT_TOKEN_STR_LEN];
	struct pxe_facts g = facts(2, false, 0), qg = asked(2);

	assert_int_equal(boot_tokens_new(16, &t), 0);
	assert_int_equal(boot_token_issue(t, &f, 0, 60000, offer), 0);
	assert_int_equal(boot_token_issue(t, &f, 0, 60000, ack), 0);
	assert_int_equal(boot_token_issue(t, &g, 0, 60000, other), 0);
	/* a commit holds the token: a second request meanwhile is refused */
	assert_int_equal(boot_token_check(t, ack, &q, 10, 60000, true), BOOT_TOKEN_OK);
	q = asked(1);
	assert_int_equal(boot_token_check(t, ack, &q, 10, 60000, true), BOOT_TOKEN_BUSY);
	/* a commit that handed nothing out gives it back */
	boot_token_release(t, ack, false);
	q = asked(1);
	assert_int_equal(boot_token_check(t, ack, &q, 20, 60000, true), BOOT_TOKEN_OK);
	/* the hand-out spends it, and the OFFER's token of the same exchange */
	boot_token_release(t, ack, true);
	q = asked(1);
	assert_int_equal(boot_token_check(t, ack, &q, 30, 60000, true), BOOT_TOKEN_SPENT);
	q = asked(1);
	assert_int_equal(boot_token_check(t, offer, &q, 30, 60000, true), BOOT_TOKEN_SPENT);
	/* another machine's token is untouched */
	assert_int_equal(boot_token_check(t, other, &qg, 30, 60000, false), BOOT_TOKEN_OK);
	/* releasing what is not held does nothing */
	boot_token_release(t, other, true);
	qg = asked(2);
	assert_int_equal(boot_token_check(t, other, &qg, 30, 60000, false), BOOT_TOKEN_OK);
	boot_token_release(t, "nonsense", true);
	boot_token_release(t, NULL, true);
	boot_tokens_free(t);
}

static void test_expiry_and_ring(void **state)
{
	struct boot_tokens *t;
	struct pxe_facts f = facts(1, false, -1), q = asked(1);
	char tok[BOOT_TOKEN_STR_LEN], first[BOOT_TOKEN_STR_LEN];
	struct boot_token_stats st;

	assert_int_equal(boot_tokens_new(4, &t), 0);
	assert_int_equal(boot_token_issue(t, &f, 1000, 500, tok), 0);
	assert_int_equal(boot_token_check(t, tok, &q, 1499, 500, false), BOOT_TOKEN_OK);
	/* each use starts its life again (someone typing a password) */
	q = asked(1);
	assert_int_equal(boot_token_check(t, tok, &q, 1998, 500, false), BOOT_TOKEN_OK);
	q = asked(1);
	assert_int_equal(boot_token_check(t, tok, &q, 2498, 500, false), BOOT_TOKEN_EXPIRED);

	/* a full ring forgets the oldest, and counts it when still usable */
	boot_tokens_free(t);
	assert_int_equal(boot_tokens_new(4, &t), 0);
	assert_int_equal(boot_token_issue(t, &f, 0, 60000, first), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(boot_token_issue(t, &f, 0, 60000, tok), 0);
	q = asked(1);
	assert_int_equal(boot_token_check(t, first, &q, 1, 60000, false), BOOT_TOKEN_UNKNOWN);
	q = asked(1);
	assert_int_equal(boot_token_check(t, tok, &q, 1, 60000, false), BOOT_TOKEN_OK);
	boot_tokens_stats(t, &st);
	assert_int_equal(st.forgotten, 1);
	boot_tokens_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_check),
		cmocka_unit_test(test_claim_spend),
		cmocka_unit_test(test_expiry_and_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * Presence across three brokers: a user with sessions on two brokers is
 * online once with both counted, stays online while one session is left,
 * and goes offline everywhere when the last one ends, also when the broker
 * that held it is killed (its counts expire: no stale online:true).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "9x-util.h"

static struct mesh M;

#define P_ALICE "chat/presence/alice"

/* Waits for alice's presence on c to show want (e.g. "\"sessions\":2"). */
static void expect_presence(struct tc *c, const char *want, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	char last[256] = "(nothing)";
	while (h_now_ms() < deadline) {
		struct tc_msg *m = tc_wait(c, P_ALICE, (int)(deadline - h_now_ms()) + 1);
		if (!m) break;
		snprintf(last, sizeof(last), "%s", m->payload);
		bool ok = strstr(m->payload, want) != NULL;
		tc_msg_free(m);
		if (ok) return;
	}
	fail_msg("alice's presence never showed %s (last %s)", want, last);
}

static void test_presence(void **state)
{
	(void)state;
	m_start(&M, "92-scale-presence", 3, false, NULL);
	struct tc *bob = m_open(&M, 0, "p-bob", "bob", TC_V5);
	struct tc *carol = m_open(&M, 2, "p-carol", "carol", TC_V5);
	assert_int_equal(tc_subscribe(bob, P_ALICE, 1), 1);
	assert_int_equal(tc_subscribe(carol, P_ALICE, 1), 1);

	struct tc *a1 = m_open(&M, 1, "p-alice-1", "alice", TC_V5);
	expect_presence(bob, "\"online\":true,\"sessions\":1", 2000);
	expect_presence(carol, "\"online\":true,\"sessions\":1", 2000);
	struct tc *a2 = m_open(&M, 2, "p-alice-2", "alice", TC_V311);
	expect_presence(bob, "\"online\":true,\"sessions\":2", 2000);
	expect_presence(carol, "\"online\":true,\"sessions\":2", 2000);
	tc_close(a2);
	expect_presence(bob, "\"online\":true,\"sessions\":1", 2000);
	expect_presence(carol, "\"online\":true,\"sessions\":1", 2000);

	/* The broker holding her last session dies: she is offline on the
	 * others within the expiry (3 s) and a tick. */
	long long t0 = h_now_ms();
	h_stop(&M.b[1], SIGKILL, 1000);
	expect_presence(bob, "\"online\":false,\"sessions\":0", 6000);
	expect_presence(carol, "\"online\":false,\"sessions\":0", 6000);
	print_message("n1 killed: alice offline on n0 and n2 after %lld ms\n", h_now_ms() - t0);
	/* A fresh reader sees the retained offline, not a stale online. */
	struct tc *dave = m_open(&M, 0, "p-dave", "dave", TC_V5);
	assert_int_equal(tc_subscribe(dave, P_ALICE, 1), 1);
	struct tc_msg *m = tc_wait(dave, P_ALICE, TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"online\":false"));
	tc_msg_free(m);
	tc_close(a1);
	tc_close(dave);
	tc_close(bob);
	tc_close(carol);
}

static int teardown(void **state)
{
	(void)state;
	assert_true(m_finish(&M, false));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presence),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}

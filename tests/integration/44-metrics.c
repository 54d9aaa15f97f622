/* SPDX-License-Identifier: MIT */
/*
 * The chat counters: $SYS/broker/chat/<name> is published every
 * plugin_opt_sys_interval seconds and moves with the traffic (accepted
 * messages, refusals by reason, ACL denials, rooms, online users);
 * getStats answers the same names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "4x-util.h"

#define SYS "$SYS/broker/chat/"
#define GENERAL "chat/rooms/general/messages"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "44-metrics");
	h_start_broker(&H, X_BASE_CONF "plugin_opt_sys_interval 1\n");
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "member");
	x_add_member(admin, "general", "bob", "member");
	tc_close(admin);
	return 0;
}

/* The next published value of counter name. */
static long long next_value(struct tc *c, const char *name)
{
	char topic[128];
	snprintf(topic, sizeof(topic), SYS "%s", name);
	struct tc_msg *m = tc_wait(c, topic, 3000);
	if (!m) fail_msg("no %s within 3 s", topic);
	long long v = strtoll(m->payload, NULL, 10);
	tc_msg_free(m);
	return v;
}

/* Waits (through the periodic publications) until name reaches at least want. */
static long long wait_at_least(struct tc *c, const char *name, long long want)
{
	long long deadline = h_now_ms() + 10000, v = -1;
	while (h_now_ms() < deadline) {
		v = next_value(c, name);
		if (v >= want) return v;
	}
	fail_msg("%s stayed at %lld, want >= %lld", name, v, want);
	return v;
}

static void test_sys_counters_move(void **state)
{
	(void)state;
	struct tc *admin = tc_open(&H, "m-admin", "admin", TC_V5);
	struct tc *alice = tc_open(&H, "m-alice", "alice", TC_V5);
	struct tc *dave = tc_open(&H, "m-dave", "dave", TC_V5);
	assert_int_equal(tc_subscribe(admin, SYS "#", 0), 0);
	long long accepted = next_value(admin, "messages/accepted");
	long long utf8 = next_value(admin, "messages/rejected/invalid_utf8");
	long long not_member = next_value(admin, "messages/rejected/not_member");
	long long denied_sub = next_value(admin, "acl/denied/subscribe");
	assert_int_equal(next_value(admin, "rooms/count"), 1);

	for (int i = 0; i < 3; i++) {
		char text[32];
		snprintf(text, sizeof(text), "counted %d", i); /* identical ones would be refused as repeats */
		assert_true(tc_pub(alice, GENERAL, text, 1) < 0x80);
	}
	assert_int_equal(tc_publish(alice, GENERAL, "\xC0\xAF", 2, 1, false, NULL), 0x87);
	assert_int_equal(tc_pub(dave, GENERAL, "outsider", 1), 0x87);
	assert_int_equal(tc_subscribe(dave, GENERAL, 1), 0x87);

	wait_at_least(admin, "messages/accepted", accepted + 3);
	wait_at_least(admin, "messages/rejected/invalid_utf8", utf8 + 1);
	wait_at_least(admin, "messages/rejected/not_member", not_member + 1);
	wait_at_least(admin, "acl/denied/subscribe", denied_sub + 1);
	/* admin, alice and dave, each with one session. */
	wait_at_least(admin, "users/online", 3);
	wait_at_least(admin, "sessions/online", 3);
	tc_close(admin);
	tc_close(alice);
	tc_close(dave);
}

static void test_get_stats(void **state)
{
	(void)state;
	struct tc *admin = x_admin(&H, "m-admin-stats");
	char *reply = x_cmd_reply(admin, "{\"command\":\"getStats\"}");
	assert_null(strstr(reply, "\"error\""));
	assert_non_null(strstr(reply, "\"messages/accepted\":"));
	assert_non_null(strstr(reply, "\"messages/rejected/not_member\":"));
	assert_non_null(strstr(reply, "\"rooms/count\":1"));
	free(reply);
	tc_close(admin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sys_counters_move),
		cmocka_unit_test(test_get_stats),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

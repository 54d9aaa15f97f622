/* SPDX-License-Identifier: MIT */
/*
 * plugin_opt_other_topics for topics outside chat/ and $CONTROL/chat/:
 * allow and deny decide them in the plugin; defer leaves them to the
 * broker's acl_file (which also opens $SYS/broker/chat/ to whoever it
 * lets read $SYS), while the chat tree stays the plugin's even when the
 * acl_file says nothing about it.
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

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "45-acl-other-topics");
	return 0;
}

static void start(const char *extra)
{
	char conf[1024];
	snprintf(conf, sizeof(conf), X_BASE_CONF "%s", extra);
	h_start_broker(&H, conf);
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "bob", "member");
	tc_close(admin);
}

static void test_allow(void **state)
{
	(void)state;
	start("plugin_opt_other_topics allow\n");
	struct tc *bob = tc_open(&H, "al-bob", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "al-carol", "carol", TC_V311);
	assert_int_equal(tc_subscribe(bob, "other/topic", 1), 1);
	assert_true(tc_pub(carol, "other/topic", "hello", 1) == 0);
	struct tc_msg *m = tc_wait(bob, "other/topic", TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	/* allow is about other topics only: the chat tree keeps its rules. */
	assert_int_equal(tc_subscribe(bob, "chat/#", 1), 0x87);
	assert_int_equal(tc_subscribe(bob, "$SYS/broker/chat/rooms/count", 1), 1);
	tc_close(bob);
	tc_close(carol);
}

static void test_deny_overrides_acl_file(void **state)
{
	(void)state;
	char acl[700], line[800];
	snprintf(acl, sizeof(acl), "%s/acl", H.dir);
	h_write_file(acl, "user bob\ntopic readwrite other/#\n");
	snprintf(line, sizeof(line), "plugin_opt_other_topics deny\nacl_file %s\n", acl);
	start(line);
	struct tc *bob = tc_open(&H, "dn-bob", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "other/topic", 1), 0x87);
	assert_int_equal(tc_pub(bob, "other/topic", "x", 1), 0x87);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/general/messages", 1), 1);
	tc_close(bob);
}

/* Under defer the acl_file decides other topics. Mosquitto 2.0's acl_file
 * does not check SUBSCRIBE (it grants every subscription and checks each
 * delivery), so a client it does not list subscribes but receives nothing. */
static void test_defer_to_acl_file(void **state)
{
	(void)state;
	char acl[700], line[800];
	snprintf(acl, sizeof(acl), "%s/acl", H.dir);
	h_write_file(acl, "user bob\ntopic readwrite other/#\ntopic read $SYS/#\n");
	snprintf(line, sizeof(line), "plugin_opt_sys_interval 1\nacl_file %s\n", acl); /* defer is the default */
	start(line);
	struct tc *admin = x_admin(&H, "df-admin");
	x_add_member(admin, "general", "carol", "member");
	tc_close(admin);
	struct tc *bob = tc_open(&H, "df-bob", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "df-carol", "carol", TC_V5);
	struct tc *dave = tc_open(&H, "df-dave", "dave", TC_V5);
	const char *room = "chat/rooms/general/messages";
	assert_int_equal(tc_subscribe(bob, "other/topic", 1), 1);
	assert_int_equal(tc_subscribe(carol, "other/topic", 1), 1);
	assert_int_equal(tc_subscribe(carol, room, 1), 1);
	assert_int_equal(tc_pub(carol, "other/topic", "x", 1), 0x87);
	assert_true(tc_pub(bob, "other/topic", "mine", 1) < 0x80);
	struct tc_msg *m = tc_wait(bob, "other/topic", TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	/* The acl_file names no chat topic, and would refuse bob's write there:
	 * the plugin answers the chat tree before the acl_file is asked. */
	assert_true(x_not_before_marker(carol, "other/topic", bob, room, "marker-df"));
	assert_int_equal(tc_subscribe(dave, room, 1), 0x87);
	/* $SYS/broker/chat/: the acl_file lets bob read $SYS, not carol. */
	const char *sys = "$SYS/broker/chat/messages/accepted";
	assert_int_equal(tc_subscribe(bob, sys, 1), 1);
	assert_int_equal(tc_subscribe(carol, sys, 1), 1);
	for (int i = 0; i < 2; i++) {
		m = tc_wait(bob, sys, 3000);
		assert_non_null(m);
		tc_msg_free(m);
	}
	/* Each publication went to both subscribers in the same loop turn. */
	assert_true(tc_quiet(carol, sys, 200));
	tc_close(bob);
	tc_close(carol);
	tc_close(dave);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_deny_overrides_acl_file),
		cmocka_unit_test(test_defer_to_acl_file),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

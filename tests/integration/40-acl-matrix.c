/* SPDX-License-Identifier: MIT */
/*
 * The topic table of topics.md, row by row, for an owner, a room admin, a
 * member, a reader, a non-member, a broker admin, a service user and an
 * anonymous client, over MQTT 5 and 3.1.1: subscribe refusals show in SUBACK codes,
 * publish refusals in v5 PUBACK codes, read refusals as no delivery.
 * Filters reaching more than one room or user tree, $share by non-service
 * users and retained chat publishes are refused; a filter reaching one room
 * is that room's, and one reaching no chat topic an other topic.
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

/* The columns of every expectation string, in this order. */
enum { U_OWNER, U_MEMBER, U_READER, U_OUTSIDER, U_ADMIN, U_SERVICE, U_ANON, U_ROOM_ADMIN, U_COUNT };
static const char *const users[U_COUNT] = {"alice", "bob", "carol", "dave", "admin", "bridge", NULL, "eve"};

struct sub_row {
	const char *filter;
	const char *expect; /* 'Y' granted, 'N' refused, per column */
};

static const struct sub_row sub_rows[] = {
	{"chat/rooms/general/messages", "YYYNNYNY"},
	{"chat/rooms/general/events", "YYYNNYNY"},
	{"chat/rooms/general/history", "NNNNNYNN"},
	{"chat/rooms/general/read", "NNNNNYNN"},
	{"chat/rooms/general/#", "YYYNNYNY"},
	{"chat/rooms/general/+", "YYYNNYNY"},
	{"chat/rooms/nosuch/messages", "NNNNNYNN"},
	{"chat/users/bob/rooms", "NYNNNYNN"},
	{"chat/users/bob/inbox", "NYNNNNNN"},
	{"chat/users/bob/devices", "NNNNNYNN"},
	{"chat/users/bob/#", "NYNNNYNN"},
	{"chat/presence/bob", "YYYYYYNY"},
	{"chat/presence/+", "YYYYYYNY"},
	{"$CONTROL/chat/v1", "NNNNNNNN"},
	{"$CONTROL/chat/v1/response", "NNNNYNNN"},
	{"$CONTROL/chat/other", "NNNNNNNN"},
	{"$SYS/broker/chat/messages/accepted", "NNNNYYNN"},
	{"chat/rooms/+/messages", "NNNNNYNN"},
	{"chat/rooms/+/history", "NNNNNYNN"},
	{"chat/users/+/devices", "NNNNNYNN"},
	{"chat/users/+/inbox", "NNNNNNNN"},
	{"chat/#", "NNNNNNNN"},
	{"#", "NNNNNNNN"},
	{"+/+/+/+", "NNNNNNNN"},
	{"+/rooms/+/messages", "NNNNNNNN"},
	{"chat/+/general/messages", "NNNNNNNN"}, /* room general and user general's tree */
	/* A filter that can reach one room or user tree only is that one's. */
	{"+/rooms/general/messages", "YYYNNYNY"},
	{"+/rooms/general/history", "NNNNNYNN"},
	{"chat/rooms/general/messages/#", "YYYNNYNY"},
	{"+/users/bob/#", "NYNNNYNN"},
	{"chat/+/bob", "YYYYYYNY"}, /* only chat/presence/bob is a chat topic */
	{"+/+/+", "YYYYYYNY"},     /* presence of everyone, as chat/presence/+ */
	/* Reaching no chat topic: other topics (refused here, under defer). */
	{"+/+", "NNNNNNNN"},
	{"chat/bogus/+", "NNNNNNNN"}, /* only unused names under chat/ */
	{"$share/g/chat/rooms/general/messages", "NNNNNYNN"},
	{"$share/g/chat/rooms/+/messages", "NNNNNYNN"},
	{"$share/g/chat/#", "NNNNNNNN"},
	{"chat/bogus/x", "NNNNNNNN"},
	{"other/topic", "NNNNNNNN"}, /* other_topics defer, and no acl_file: the broker denies */
};

struct pub_row {
	const char *topic;
	const char *payload;
	bool retain;
	const char *expect;
};

static const struct pub_row pub_rows[] = {
	{"chat/rooms/general/messages", "hi", false, "YYNNNNNY"},
	{"chat/rooms/general/messages", "hi", true, "NNNNNNNN"},
	{"chat/rooms/general/events", "{}", false, "NNNNNNNN"},
	{"chat/rooms/general/history", "{\"limit\":1}", false, "YYYNNNNY"},
	{"chat/rooms/general/history", "{\"limit\":1}", true, "NNNNNNNN"},
	{"chat/rooms/general/read", "{\"upto\":\"x\"}", false, "YYYNNNNY"},
	{"chat/rooms/nosuch/messages", "hi", false, "NNNNNNNN"},
	{"chat/users/bob/inbox", "{}", false, "NNNNNYNN"},
	{"chat/users/bob/reply-1", "{}", false, "NNNNNYNN"},
	{"chat/users/bob/devices", "{\"op\":\"unregister\",\"device\":\"d\"}", false, "NYNNNNNN"},
	{"chat/users/bob/rooms", "[]", false, "NNNNNNNN"},
	{"chat/presence/bob", "{}", false, "NNNNNNNN"},
	{"$CONTROL/chat/v1", "{\"commands\":[]}", false, "NNNNYNNN"},
	{"$CONTROL/chat/v1/response", "{}", false, "NNNNNNNN"},
	{"$SYS/broker/chat/messages/accepted", "1", false, "NNNNNNNN"},
	{"chat/bogus", "x", false, "NNNNNNNN"},
	{"other/topic", "x", false, "NNNNNNNN"},
};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "40-acl-matrix");
	h_start_broker(&H, X_BASE_CONF "allow_anonymous true\n");
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "owner");
	x_add_member(admin, "general", "bob", "member");
	x_add_member(admin, "general", "carol", "reader");
	x_add_member(admin, "general", "eve", "admin");
	tc_close(admin);
	return 0;
}

/* One client per column; the anonymous one may be refused at CONNECT by
 * the authentication in front (then it can reach no topic at all). */
static void open_all(struct tc **c, int protocol)
{
	char id[64];
	for (int u = 0; u < U_COUNT; u++) {
		snprintf(id, sizeof(id), "m-%s-%d", users[u] ? users[u] : "anon", protocol);
		if (users[u]) c[u] = tc_open(&H, id, users[u], protocol);
		else c[u] = tc_connect(&H, id, NULL, NULL, protocol, NULL);
	}
}

static void close_all(struct tc **c)
{
	for (int u = 0; u < U_COUNT; u++) tc_close(c[u]);
}

static void sub_matrix(int protocol)
{
	struct tc *c[U_COUNT];
	int failures = 0;
	open_all(c, protocol);
	for (size_t i = 0; i < sizeof(sub_rows) / sizeof(sub_rows[0]); i++) {
		for (int u = 0; u < U_COUNT; u++) {
			if (!c[u]) continue; /* anonymous refused at CONNECT: nothing to check */
			int code = tc_subscribe(c[u], sub_rows[i].filter, 1);
			bool want = sub_rows[i].expect[u] == 'Y';
			int refused = protocol == TC_V5 ? 0x87 : 0x80;
			if ((want && code != 1) || (!want && code != refused)) {
				fprintf(stderr, "v%d SUBSCRIBE %s as %s: got %d, want %s\n", protocol,
					sub_rows[i].filter, users[u] ? users[u] : "anonymous", code,
					want ? "granted" : "refused");
				failures++;
			}
		}
	}
	close_all(c);
	assert_int_equal(failures, 0);
}

static void test_subscribe_v5(void **state)
{
	(void)state;
	sub_matrix(TC_V5);
}

static void test_subscribe_v311(void **state)
{
	(void)state;
	sub_matrix(TC_V311);
}

static void test_publish_v5(void **state)
{
	(void)state;
	struct tc *c[U_COUNT];
	int failures = 0;
	open_all(c, TC_V5);
	for (size_t i = 0; i < sizeof(pub_rows) / sizeof(pub_rows[0]); i++) {
		const struct pub_row *r = &pub_rows[i];
		for (int u = 0; u < U_COUNT; u++) {
			if (!c[u]) continue;
			int code = tc_publish(c[u], r->topic, r->payload, (int)strlen(r->payload), 1, r->retain, NULL);
			bool want = r->expect[u] == 'Y';
			/* Accepted: 0, or 16 "no matching subscribers". */
			if ((want && (code < 0 || code >= 0x80)) || (!want && code != 0x87)) {
				fprintf(stderr, "v5 PUBLISH %s%s as %s: got %d, want %s\n", r->topic,
					r->retain ? " (retained)" : "", users[u] ? users[u] : "anonymous", code,
					want ? "accepted" : "135");
				failures++;
			}
		}
	}
	close_all(c);
	assert_int_equal(failures, 0);
}

/* MQTT 3.1.1 has no PUBACK reason: a refused publish is simply not
 * delivered. A reader's message and a retained one never reach bob; the
 * member's marker after them does. */
static void test_publish_v311_not_delivered(void **state)
{
	(void)state;
	const char *topic = "chat/rooms/general/messages";
	struct tc *bob = tc_open(&H, "r311-bob", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "r311-carol", "carol", TC_V311);
	struct tc *alice = tc_open(&H, "r311-alice", "alice", TC_V311);
	assert_int_equal(tc_subscribe(bob, topic, 1), 1);
	assert_int_equal(tc_pub(carol, topic, "from a reader", 1), 0);
	assert_int_equal(tc_publish(alice, topic, "retained", 8, 1, true, NULL), 0);
	/* carol's refused message would have come before alice's retained
	 * one; alice's retained one before her marker. */
	assert_true(x_not_before_marker(bob, topic, alice, topic, "marker-311"));
	assert_true(tc_connected(carol) && tc_connected(alice));
	tc_close(bob);
	tc_close(carol);
	tc_close(alice);
}

/* Read checks: a per-room wildcard of a member passes messages and events
 * but not the history requests of the same room; a user's own chat/users/
 * tree passes the inbox but not the devices topic (the bridge's), which
 * the service user does receive. */
static void test_read_denied(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "rd-bob", "bob", TC_V5);
	struct tc *alice = tc_open(&H, "rd-alice", "alice", TC_V5);
	struct tc *svc = tc_open(&H, "rd-bridge", "bridge", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/general/#", 1), 1);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/#", 1), 1);
	assert_int_equal(tc_subscribe(svc, "chat/users/+/devices", 1), 1);
	assert_int_equal(tc_subscribe(svc, "$share/bridges/chat/rooms/+/messages", 1), 1);

	assert_true(tc_pub(alice, "chat/rooms/general/history", "{\"limit\":5}", 1) < 0x80);
	assert_true(x_not_before_marker(bob, "chat/rooms/general/history", alice, "chat/rooms/general/messages",
					"marker-1"));
	struct tc_msg *m = tc_wait(svc, "chat/rooms/general/messages", TC_WAIT_MS);
	assert_non_null(m); /* the service user reads every room through $share */
	assert_non_null(strstr(m->payload, "marker-1"));
	tc_msg_free(m);

	const char *reg = "{\"op\":\"register\",\"device\":\"p1\",\"platform\":\"webhook\",\"token\":\"t\"}";
	assert_true(tc_pub(bob, "chat/users/bob/devices", reg, 1) < 0x80);
	assert_true(x_not_before_marker(bob, "chat/users/bob/devices", bob, "chat/rooms/general/messages", "marker-2"));
	m = tc_wait(svc, "chat/users/bob/devices", TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	tc_close(bob);
	tc_close(alice);
	tc_close(svc);
}

/* Under other_topics allow, the filters of the Paho interoperability suite
 * that reach no chat topic are other topics, for members and anonymous
 * clients alike, and deliver; filters reaching more than one room or user
 * tree stay refused, and `+/+/+` (presence) is not for anonymous clients.
 * Restarts the broker: the last test. */
static void test_subscribe_other_allow(void **state)
{
	(void)state;
	h_start_broker(&H, X_BASE_CONF "allow_anonymous true\nplugin_opt_other_topics allow\n");
	struct tc *admin = x_admin(&H, "oa-admin");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "bob", "member");
	tc_close(admin);
	struct tc *bob = tc_open(&H, "oa-bob", "bob", TC_V5);
	struct tc *anon = tc_connect(&H, "oa-anon", NULL, NULL, TC_V311, NULL);
	assert_non_null(anon);
	const char *granted[] = {"+", "+/+", "+/C"};
	for (size_t i = 0; i < sizeof(granted) / sizeof(granted[0]); i++) {
		if (tc_subscribe(bob, granted[i], 1) != 1) fail_msg("bob: %s refused", granted[i]);
		if (tc_subscribe(anon, granted[i], 1) != 1) fail_msg("anonymous: %s refused", granted[i]);
	}
	const char *refused[] = {"#", "+/+/+/+", "chat/#", "+/rooms/+/messages"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (tc_subscribe(bob, refused[i], 1) != 0x87) fail_msg("bob: %s granted", refused[i]);
		if (tc_subscribe(anon, refused[i], 1) != 0x80) fail_msg("anonymous: %s granted", refused[i]);
	}
	assert_int_equal(tc_subscribe(bob, "+/+/+", 1), 1);
	assert_int_equal(tc_subscribe(anon, "+/+/+", 1), 0x80);
	assert_int_equal(tc_pub(anon, "TopicA/C", "hello", 1), 0);
	struct tc_msg *m = tc_wait(bob, "TopicA/C", TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	m = tc_wait(anon, "TopicA/C", TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	tc_close(bob);
	tc_close(anon);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subscribe_v5),
		cmocka_unit_test(test_subscribe_v311),
		cmocka_unit_test(test_publish_v5),
		cmocka_unit_test(test_publish_v311_not_delivered),
		cmocka_unit_test(test_read_denied),
		cmocka_unit_test(test_subscribe_other_allow),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

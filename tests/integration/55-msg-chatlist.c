/* SPDX-License-Identifier: MIT */
/*
 * The chat list on chat/users/{me}/chats, over MQTT 5 (Response Topic,
 * Correlation Data) and 3.1.1 (the inbox): the user's rooms with kind,
 * the other party of a DM, title, role, member count, last message,
 * unread count and mute, newest activity first, paged; a read marker that
 * moves sends the user one {"type":"unread"} notice; muting a room; and
 * the cost of keeping lists current in a room of 1,000 members: no
 * publish of the bridge per message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mqtt_protocol.h>

#include "4y-util.h"

#define DM "dm:alice:bob"

static struct harness H;
static char last_a[27];

static int setup(void **state)
{
	(void)state;
	h_init(&H, "55-msg-chatlist");
	h_start_mongo(&H);
	h_start_broker(&H, Y_UNTHROTTLED "plugin_opt_dm_policy shared\n");
	h_start_bridge(&H, NULL);
	struct tc *admin = c_admin(&H, "admin-55", TC_V5);
	c_do(admin, "{\"command\":\"createRoom\",\"room\":\"r55a\",\"title\":\"Team A\"}");
	c_do(admin, "{\"command\":\"addRoomMember\",\"room\":\"r55a\",\"user\":\"alice\",\"role\":\"owner\"}");
	c_do(admin, "{\"command\":\"addRoomMember\",\"room\":\"r55a\",\"user\":\"bob\"}");
	c_do(admin, "{\"command\":\"addRoomMember\",\"room\":\"r55a\",\"user\":\"carol\"}");
	tc_close(admin);
	const char *const b[] = {"alice", "bob", NULL}, *const c[] = {"alice", "dave", NULL};
	assert_true(h_setup_room(&H, "r55b", b));
	assert_true(h_setup_room(&H, "r55c", c));
	struct tc *alice = tc_open(&H, "alice-55s", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-55s", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "carol-55s", "carol", TC_V5);
	char id[27];
	assert_int_equal(tc_subscribe(alice, "chat/rooms/r55a/messages", 1), 1);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/r55b/messages", 1), 1);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" DM "/messages", 1), 1);
	cJSON_Delete(y_post(bob, alice, "r55a", "a1", id));
	cJSON_Delete(y_post(alice, alice, "r55b", "b1", id));
	cJSON_Delete(y_post(carol, alice, "r55a", "a2", last_a));
	cJSON_Delete(y_post(bob, alice, DM, "hi alice", id));
	bson_t *doc = y_stored(&H, DM, id, "");
	assert_non_null(doc);
	bson_destroy(doc);
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
	return 0;
}

/* A chat list request as c (v5: Response Topic and Correlation Data), whose
 * answer topic (v5: chat/users/{user}/chats-1, else the inbox) the caller
 * has subscribed, once: mosquitto 2.0.11 leaks the entry of a filter
 * subscribed again. */
static cJSON *list(struct tc *c, const char *user, int proto, const char *request)
{
	char topic[128], reply[128];
	snprintf(topic, sizeof(topic), "chat/users/%s/chats", user);
	snprintf(reply, sizeof(reply), "chat/users/%s/%s", user, proto == TC_V5 ? "chats-1" : "inbox");
	mosquitto_property *props = NULL;
	if (proto == TC_V5) {
		mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, reply);
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "k55", 3);
	}
	assert_int_equal(tc_publish(c, topic, request, (int)strlen(request), 1, false, props) & 0x80, 0);
	mosquitto_property_free_all(&props);
	for (;;) {
		struct tc_msg *m = tc_wait(c, reply, TC_WAIT_MS);
		if (!m) fail_msg("no answer to %s", request);
		if (proto == TC_V5) assert_memory_equal(m->correlation, "k55", 3);
		cJSON *a = cJSON_Parse(m->payload);
		tc_msg_free(m);
		const char *type = c_str(a, "type");
		if (type && (strcmp(type, "chats") == 0 || strcmp(type, "mute") == 0)) return a;
		cJSON_Delete(a);
	}
}

static const cJSON *entry(const cJSON *a, int i)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chats"), i);
	if (!e) fail_msg("no entry %d", i);
	return e;
}

static void test_list_v5(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-55", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/users/alice/chats-1", 1), 1);
	cJSON *a = list(alice, "alice", TC_V5, "{\"cid\":\"l1\"}");
	m_expect(a, "cid", "l1");
	assert_int_equal((int)c_num(a, "total"), 4);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(a, "more")));
	const cJSON *dm = entry(a, 0), *ra = entry(a, 1), *rb = entry(a, 2), *rc = entry(a, 3);
	m_expect(dm, "room", DM);
	m_expect(dm, "kind", "dm");
	m_expect(dm, "with", "bob");
	assert_int_equal((int)c_num(dm, "members"), 2);
	m_expect(cJSON_GetObjectItem(dm, "last"), "text", "hi alice");
	assert_int_equal((int)c_num(dm, "unread"), 1);
	m_expect(ra, "room", "r55a");
	m_expect(ra, "kind", "room");
	m_expect(ra, "title", "Team A");
	m_expect(ra, "role", "owner");
	assert_int_equal((int)c_num(ra, "members"), 3);
	m_expect(cJSON_GetObjectItem(ra, "last"), "id", last_a);
	m_expect(cJSON_GetObjectItem(ra, "last"), "from", "carol");
	assert_int_equal((int)c_num(ra, "unread"), 2);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(ra, "muted")));
	m_expect(rb, "room", "r55b");
	assert_int_equal((int)c_num(rb, "unread"), 0); /* her own message */
	m_expect(rc, "room", "r55c");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(rc, "last")));
	cJSON_Delete(a);
	/* Pages. */
	a = list(alice, "alice", TC_V5, "{\"limit\":2}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "chats")), 2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "more")));
	cJSON_Delete(a);
	a = list(alice, "alice", TC_V5, "{\"limit\":2,\"offset\":2}");
	m_expect(entry(a, 0), "room", "r55b");
	m_expect(entry(a, 1), "room", "r55c");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(a, "more")));
	cJSON_Delete(a);
	a = list(alice, "alice", TC_V5, "{\"limit\":0}");
	assert_non_null(c_str(a, "error"));
	cJSON_Delete(a);
	tc_close(alice);
}

static void test_read_marker_and_mute_v311(void **state)
{
	(void)state;
	char marker[96];
	struct tc *alice = tc_open(&H, "alice-55r", "alice", TC_V311);
	m_inbox_sub(alice, "alice");
	snprintf(marker, sizeof(marker), "{\"upto\":\"%s\"}", last_a);
	assert_int_equal(tc_pub(alice, "chat/rooms/r55a/read", marker, 1), 0);
	cJSON *n = m_notice(alice, "alice");
	m_expect(n, "type", "unread");
	m_expect(n, "room", "r55a");
	m_expect(n, "upto", last_a);
	assert_int_equal((int)c_num(n, "unread"), 0);
	cJSON_Delete(n);
	/* The same marker again moves nothing: no notice. */
	assert_int_equal(tc_pub(alice, "chat/rooms/r55a/read", marker, 1), 0);
	cJSON *a = list(alice, "alice", TC_V311, "{\"op\":\"mute\",\"room\":\"r55b\",\"muted\":true}");
	m_expect(a, "room", "r55b");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "ok")));
	cJSON_Delete(a);
	a = list(alice, "alice", TC_V311, "{\"op\":\"mute\",\"room\":\"elsewhere\",\"muted\":true}");
	m_expect(a, "error", "not a member of that room");
	cJSON_Delete(a);
	a = list(alice, "alice", TC_V311, "{}");
	m_expect(entry(a, 1), "room", "r55a");
	assert_int_equal((int)c_num(entry(a, 1), "unread"), 0);
	m_expect(entry(a, 2), "room", "r55b");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(a, 2), "muted")));
	cJSON_Delete(a);
	tc_close(alice);
}

static void test_only_self_and_bridge(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "bob-55o", "bob", TC_V5);
	assert_int_equal(tc_pub(bob, "chat/users/alice/chats", "{}", 1), 135);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/chats", 1), 135);
	assert_int_equal(tc_pub(bob, "chat/users/bob/chats", "not json", 1), 135);
	tc_close(bob);
}

/* A room of 1,000 members; n messages into it; the bridge's publishes. */
static void test_cost_in_a_large_room(void **state)
{
	(void)state;
	char cmd[16384];
	struct tc *admin = c_admin(&H, "admin-55c", TC_V5);
	c_do(admin, "{\"command\":\"createRoom\",\"room\":\"r55big\"}");
	for (int batch = 0; batch < 10; batch++) {
		int n = snprintf(cmd, sizeof(cmd), "{\"commands\":[");
		for (int i = 0; i < 100; i++) {
			char user[32];
			if (batch == 0 && i == 0) snprintf(user, sizeof(user), "alice");
			else snprintf(user, sizeof(user), "u%04d", batch * 100 + i);
			n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
				      "%s{\"command\":\"addRoomMember\",\"room\":\"r55big\",\"user\":\"%s\"}", i ? "," : "", user);
		}
		snprintf(cmd + n, sizeof(cmd) - (size_t)n, "]}");
		cJSON_Delete(c_request(admin, cmd));
	}
	tc_close(admin);
	struct tc *alice = tc_open(&H, "alice-55c", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/r55big/messages", 1), 1);
	long long before = h_metric(&H.bridge, "chat_bridge_replies_total");
	long long stored = h_metric(&H.bridge, "chat_bridge_messages_stored_total");
	char id[27];
	for (int i = 0; i < 20; i++) cJSON_Delete(y_post(alice, alice, "r55big", "to everyone", id));
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_stored_total", stored + 20, 10000));
	long long per_messages = h_metric(&H.bridge, "chat_bridge_replies_total") - before;
	char marker[96];
	snprintf(marker, sizeof(marker), "{\"upto\":\"%s\"}", id);
	assert_int_equal(tc_pub(alice, "chat/rooms/r55big/read", marker, 1), 0);
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_replies_total", before + per_messages + 1, 10000));
	long long per_read = h_metric(&H.bridge, "chat_bridge_replies_total") - before - per_messages;
	printf("# chat list upkeep in a room of 1000 members: %lld bridge publishes for 20 messages, %lld for one read marker\n",
	       per_messages, per_read);
	assert_int_equal(per_messages, 0);
	assert_int_equal(per_read, 1);
	tc_close(alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_v5),
		cmocka_unit_test(test_read_marker_and_mute_v311),
		cmocka_unit_test(test_only_self_and_bridge),
		cmocka_unit_test(test_cost_in_a_large_room),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

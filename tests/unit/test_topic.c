/* SPDX-License-Identifier: MIT */
/* Unit tests of common/topic: every row of the topic table, ids, filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

struct row {
	const char *topic;
	enum topic_kind kind;
	const char *id;
};

static void test_table(void **state)
{
	(void)state;
	const struct row rows[] = {
		{"chat/rooms/general/messages", TOPIC_ROOM_MESSAGES, "general"},
		{"chat/rooms/general/events", TOPIC_ROOM_EVENTS, "general"},
		{"chat/rooms/general/history", TOPIC_ROOM_HISTORY, "general"},
		{"chat/rooms/general/read", TOPIC_ROOM_READ, "general"},
		{"chat/rooms/general/+", TOPIC_ROOM_ANY, "general"},
		{"chat/rooms/general/#", TOPIC_ROOM_ANY, "general"},
		{"chat/rooms/dm:alice:bob/messages", TOPIC_ROOM_MESSAGES, "dm:alice:bob"},
		{"chat/rooms/dm:bob:alice/messages", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/gen eral/messages", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/general/messages/x", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/general", TOPIC_CHAT_INVALID, NULL},
		{"chat/rooms/+/messages", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/rooms/#", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/#", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/+/general/messages", TOPIC_CHAT_WILDCARD, NULL},
		{"#", TOPIC_CHAT_WILDCARD, NULL},
		{"+/rooms/general/messages", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/users/alice/rooms", TOPIC_USER_ROOMS, "alice"},
		{"chat/users/alice/devices", TOPIC_USER_DEVICES, "alice"},
		{"chat/users/alice/inbox", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/alice/responses/42", TOPIC_USER_PRIVATE, "alice"},
		{"chat/users/alice/#", TOPIC_USER_ANY, "alice"},
		{"chat/users/+/inbox", TOPIC_CHAT_WILDCARD, NULL},
		{"chat/users/alice", TOPIC_CHAT_INVALID, NULL},
		{"chat/presence/alice", TOPIC_PRESENCE, "alice"},
		{"chat/presence/+", TOPIC_PRESENCE, NULL},
		{"chat/presence/alice/x", TOPIC_CHAT_INVALID, NULL},
		{"chat/other", TOPIC_CHAT_INVALID, NULL},
		{"chat", TOPIC_CHAT_INVALID, NULL},
		{"$CONTROL/chat/v1", TOPIC_CONTROL, NULL},
		{"$CONTROL/chat/v1/response", TOPIC_CONTROL_RESPONSE, NULL},
		{"$CONTROL/chat/v2", TOPIC_CHAT_INVALID, NULL},
		{"$CONTROL/dynamic-security/v1", TOPIC_OTHER, NULL},
		{"$SYS/broker/chat/messages/accepted", TOPIC_SYS_CHAT, NULL},
		{"sensors/kitchen/temp", TOPIC_OTHER, NULL},
		{"chatroom/x", TOPIC_OTHER, NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct topic_ref t;
		topic_parse(rows[i].topic, &t);
		if (t.kind != rows[i].kind) fail_msg("%s: kind %d, want %d", rows[i].topic, t.kind, rows[i].kind);
		if (rows[i].id) {
			assert_int_equal(t.id_len, strlen(rows[i].id));
			assert_memory_equal(t.id, rows[i].id, t.id_len);
		}
	}
}

static void test_ids(void **state)
{
	(void)state;
	char long_id[66];
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_true(topic_user_valid("a.b-c_9", 7));
	assert_false(topic_user_valid("", 0));
	assert_false(topic_user_valid(long_id, 65));
	assert_true(topic_user_valid(long_id, 64));
	assert_false(topic_user_valid("a/b", 3));
	assert_false(topic_user_valid("한", 3));
	assert_true(topic_room_valid("dm:a:b", 6));
	assert_false(topic_room_valid("dm:b:a", 6));
	assert_false(topic_room_valid("dm:a:a", 6));
	assert_false(topic_room_valid("dm:a", 4));
	const char *a, *b;
	size_t la, lb;
	assert_false(topic_dm_users("dm:bob:alice", 12, &a, &la, &b, &lb)); /* not in byte order */
	assert_false(topic_dm_users("dm:Bob:alice", 12, &a, &la, &b, &lb) == false); /* 'B' < 'a' */
	assert_true(topic_dm_users("dm:alice:bob", 12, &a, &la, &b, &lb));
	assert_int_equal(la, 5);
	assert_memory_equal(b, "bob", 3);
	assert_true(topic_is_shared("$share/g/chat/rooms/+/messages"));
	assert_false(topic_is_shared("chat/rooms/x/messages"));
}

/* The memo gives topic_parse's answer for every topic, repeated or not,
 * with ids pointing into the caller's string, never into an older one. */
static void test_memo(void **state)
{
	(void)state;
	char long_topic[300];
	memset(long_topic, 'a', sizeof(long_topic) - 1);
	memcpy(long_topic, "chat/rooms/", 11);
	long_topic[sizeof(long_topic) - 1] = '\0';
	const char *seq[] = {
		"chat/rooms/general/messages", "chat/rooms/general/messages", "chat/rooms/other/messages",
		"chat/rooms/general/messages", "chat/users/alice/inbox",     "chat/presence/bob",
		"chat/presence/bob",           "other/topic",                long_topic,
		long_topic,                    "chat/rooms/dm:a:b/messages", "$CONTROL/chat/v1",
	};
	struct topic_memo memo;
	memset(&memo, 0, sizeof(memo));
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		char copy[sizeof(long_topic)]; /* same text, another address */
		snprintf(copy, sizeof(copy), "%s", seq[i]);
		struct topic_ref want, got;
		topic_parse(copy, &want);
		topic_parse_memo(&memo, copy, &got);
		assert_int_equal(got.kind, want.kind);
		assert_int_equal(got.id_len, want.id_len);
		assert_int_equal(got.wildcard, want.wildcard);
		assert_ptr_equal(got.id, want.id);
	}
	/* The same buffer reused for other text is parsed anew. */
	char buf[64] = "chat/rooms/one/messages";
	struct topic_ref t;
	topic_parse_memo(&memo, buf, &t);
	assert_int_equal(t.kind, TOPIC_ROOM_MESSAGES);
	snprintf(buf, sizeof(buf), "chat/rooms/two/events");
	topic_parse_memo(&memo, buf, &t);
	assert_int_equal(t.kind, TOPIC_ROOM_EVENTS);
	assert_int_equal(t.id_len, 3);
	assert_memory_equal(t.id, "two", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_memo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

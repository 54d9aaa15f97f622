/* SPDX-License-Identifier: MIT */
/* Unit tests of common/rooms: rooms, members, roles, the reverse index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "rooms.h"

static void test_create_find_delete(void **state)
{
	(void)state;
	struct rooms rs;
	struct room *r;
	rooms_init(&rs);
	assert_int_equal(rooms_create(&rs, "general", "General", &r), CHAT_OK);
	assert_string_equal(r->title, "General");
	assert_int_equal(rooms_create(&rs, "general", NULL, NULL), CHAT_ERR_EXISTS);
	assert_int_equal(rooms_create(&rs, "bad id", NULL, NULL), CHAT_ERR_INVAL);
	assert_int_equal(rooms_create(&rs, "dm:b:a", NULL, NULL), CHAT_ERR_INVAL);
	assert_int_equal(rooms_create(&rs, "dm:a:b", NULL, NULL), CHAT_OK);
	assert_ptr_equal(rooms_find(&rs, "general/messages", 7), r); /* a span out of a topic */
	assert_null(rooms_find(&rs, "gen", 3));
	assert_int_equal(rs.count, 2);
	assert_int_equal(rooms_delete(&rs, "general"), CHAT_OK);
	assert_int_equal(rooms_delete(&rs, "general"), CHAT_ERR_NOTFOUND);
	assert_int_equal(rs.count, 1);
	rooms_clear(&rs);
}

static void test_members_and_index(void **state)
{
	(void)state;
	struct rooms rs;
	struct room *a, *b;
	rooms_init(&rs);
	assert_int_equal(rooms_create(&rs, "a", NULL, &a), CHAT_OK);
	assert_int_equal(rooms_create(&rs, "b", NULL, &b), CHAT_OK);
	assert_int_equal(rooms_set_member(&rs, a, "alice", ROLE_OWNER), CHAT_OK);
	assert_int_equal(rooms_set_member(&rs, a, "bob", ROLE_MEMBER), CHAT_OK);
	assert_int_equal(rooms_set_member(&rs, b, "bob", ROLE_READER), CHAT_OK);
	assert_int_equal(rooms_set_member(&rs, b, "carol", ROLE_MEMBER), CHAT_OK);
	assert_int_equal(rooms_set_member(&rs, b, "no/slash", ROLE_MEMBER), CHAT_ERR_INVAL);
	assert_int_equal(rooms_set_member(&rs, b, "dave", ROLE_NONE), CHAT_ERR_INVAL);
	assert_int_equal(rooms_role(a, "alice", 5), ROLE_OWNER);
	assert_int_equal(rooms_role(b, "bob", 3), ROLE_READER);
	assert_int_equal(rooms_role(b, "alice", 5), ROLE_NONE);
	assert_int_equal(rooms_set_member(&rs, b, "bob", ROLE_ADMIN), CHAT_OK); /* role change */
	assert_int_equal(rooms_role(b, "bob", 3), ROLE_ADMIN);
	assert_int_equal(b->member_count, 2);
	assert_int_equal(rooms_of_user(&rs, "bob", 3)->room_count, 2);
	assert_true(rooms_share(&rs, "alice", 5, "bob", 3));
	assert_true(rooms_share(&rs, "carol", 5, "bob", 3));
	assert_false(rooms_share(&rs, "alice", 5, "carol", 5));
	assert_int_equal(rooms_remove_member(&rs, a, "bob"), CHAT_OK);
	assert_int_equal(rooms_remove_member(&rs, a, "bob"), CHAT_ERR_NOTFOUND);
	assert_false(rooms_share(&rs, "alice", 5, "bob", 3));
	assert_int_equal(rooms_delete(&rs, "b"), CHAT_OK);
	assert_null(rooms_of_user(&rs, "bob", 3));
	assert_null(rooms_of_user(&rs, "carol", 5));
	assert_non_null(rooms_of_user(&rs, "alice", 5));
	rooms_clear(&rs);
	assert_null(rs.by_user);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(rooms_role_parse("reader"), ROLE_READER);
	assert_int_equal(rooms_role_parse("none"), -1);
	assert_int_equal(rooms_role_parse(NULL), -1);
	assert_string_equal(rooms_role_name(ROLE_ADMIN), "admin");
	assert_int_equal(rooms_words_action_parse("flag"), WORDS_FLAG);
	assert_int_equal(rooms_dm_policy_parse("shared"), DM_SHARED);
	assert_int_equal(rooms_dm_policy_parse("bogus"), -1);
}

static void test_many_rooms(void **state)
{
	(void)state;
	struct rooms rs;
	char id[32];
	rooms_init(&rs);
	for (int i = 0; i < 20000; i++) {
		struct room *r;
		snprintf(id, sizeof(id), "room-%d", i);
		assert_int_equal(rooms_create(&rs, id, NULL, &r), CHAT_OK);
		assert_int_equal(rooms_set_member(&rs, r, "alice", ROLE_MEMBER), CHAT_OK);
	}
	assert_int_equal(rooms_of_user(&rs, "alice", 5)->room_count, 20000);
	assert_int_equal(rooms_role(rooms_find(&rs, "room-12345", 10), "alice", 5), ROLE_MEMBER);
	rooms_clear(&rs);
}

/* The memo's compare agrees with memcmp at every length an id can have,
 * for a difference at every place (and none). */
static void test_id_equal(void **state)
{
	(void)state;
	char a[TOPIC_ROOM_MAX + 8], b[TOPIC_ROOM_MAX + 8];
	for (size_t i = 0; i < sizeof(a); i++) a[i] = (char)('a' + i % 26);
	for (size_t len = 0; len <= TOPIC_ROOM_MAX; len++) {
		memcpy(b, a, sizeof(b));
		assert_true(rooms_id_equal(a, b, len));
		for (size_t k = 0; k < len; k++) {
			b[k] = 'Z';
			assert_false(rooms_id_equal(a, b, len));
			assert_false(rooms_id_equal(b, a, len));
			b[k] = a[k];
		}
		b[len] = 'Z'; /* past the span: not compared */
		assert_true(rooms_id_equal(a, b, len));
	}
}

/* The memoized lookups answer as the plain ones after every kind of
 * change: a room created where none was, a role changed, a member
 * removed, a room deleted, more users than the memo has slots. */
static void test_memo(void **state)
{
	(void)state;
	struct rooms rs;
	struct room *r;
	char user[8];
	rooms_init(&rs);
	assert_null(rooms_lookup(&rs, "dm:a:b", 6));
	assert_int_equal(rooms_create(&rs, "dm:a:b", NULL, &r), CHAT_OK);
	assert_ptr_equal(rooms_lookup(&rs, "dm:a:b/messages", 6), r);
	assert_int_equal(rooms_member_role(&rs, r, "a", 1), ROLE_NONE);
	assert_int_equal(rooms_set_member(&rs, r, "a", ROLE_MEMBER), CHAT_OK);
	assert_int_equal(rooms_member_role(&rs, r, "a", 1), ROLE_MEMBER);
	assert_int_equal(rooms_member_role(&rs, r, "ab", 1), ROLE_MEMBER); /* a span */
	assert_int_equal(rooms_member_role(&rs, r, "ab", 2), ROLE_NONE);
	assert_int_equal(rooms_set_member(&rs, r, "a", ROLE_READER), CHAT_OK);
	assert_int_equal(rooms_member_role(&rs, r, "a", 1), ROLE_READER);
	for (int i = 0; i < 2 * ROOMS_MEMO_ROLES; i++) { /* more users than slots */
		snprintf(user, sizeof(user), "u%d", i);
		assert_int_equal(rooms_set_member(&rs, r, user, i % 2 ? ROLE_ADMIN : ROLE_MEMBER), CHAT_OK);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 2 * ROOMS_MEMO_ROLES; i++) {
			snprintf(user, sizeof(user), "u%d", i);
			assert_int_equal(rooms_member_role(&rs, r, user, strlen(user)), i % 2 ? ROLE_ADMIN : ROLE_MEMBER);
		}
	}
	assert_int_equal(rooms_remove_member(&rs, r, "a"), CHAT_OK);
	assert_int_equal(rooms_member_role(&rs, r, "a", 1), ROLE_NONE);
	assert_int_equal(rooms_member_role(&rs, NULL, "u0", 2), ROLE_NONE);
	assert_int_equal(rooms_delete(&rs, "dm:a:b"), CHAT_OK);
	assert_null(rooms_lookup(&rs, "dm:a:b", 6));
	assert_int_equal(rooms_create(&rs, "dm:a:b", NULL, &r), CHAT_OK);
	assert_ptr_equal(rooms_lookup(&rs, "dm:a:b", 6), r);
	assert_int_equal(rooms_member_role(&rs, r, "u1", 2), ROLE_NONE); /* a new room has no members */
	rooms_clear(&rs);
	assert_null(rooms_lookup(&rs, "dm:a:b", 6));
	rooms_clear(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_find_delete),
		cmocka_unit_test(test_members_and_index),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_many_rooms),
		cmocka_unit_test(test_id_equal),
		cmocka_unit_test(test_memo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

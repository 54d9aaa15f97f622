/* SPDX-License-Identifier: MIT */
/*
 * Admin API, room commands: every command done right and done wrong, a
 * malformed command changing nothing, listRooms paging, and the side
 * effects of membership changes that clients see (the retained rooms list
 * of the user, events on the room's events topic), with MQTT 3.1.1 and 5
 * clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "5x-util.h"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "50-control-rooms");
	h_start_broker(&H, C_ADMIN_CONF);
	return 0;
}

static void test_create_get_delete(void **state)
{
	(void)state;
	/* No state file configured: the log says the state is not kept. */
	assert_true(h_wait_log(H.broker.log, "no plugin_opt_state_file: rooms, members, bans and mutes are kept in "
					     "memory only", TC_WAIT_MS));
	struct tc *a = c_admin(&H, "admin-50a", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"general\",\"title\":\"General chat 한국어\"}");
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"general\"}");
	assert_string_equal(c_str(room, "room"), "general");
	assert_string_equal(c_str(room, "title"), "General chat 한국어");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(room, "members")), 0);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(room, "policy")));
	cJSON_Delete(room);

	c_fails(a, "{\"command\":\"createRoom\",\"room\":\"general\"}", "already exists");
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"untitled\"}");
	room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"untitled\"}");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(room, "title")));
	cJSON_Delete(room);

	c_do(a, "{\"command\":\"deleteRoom\",\"room\":\"general\"}");
	c_fails(a, "{\"command\":\"getRoom\",\"room\":\"general\"}", "room not found");
	c_fails(a, "{\"command\":\"deleteRoom\",\"room\":\"general\"}", "room not found");
	tc_close(a);
}

/* The observable state malformed commands must leave alone. */
static cJSON *snapshot(struct tc *a)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddItemToObject(s, "stable", c_ok(a, "{\"command\":\"getRoom\",\"room\":\"stable\"}"));
	cJSON_AddItemToObject(s, "list", c_ok(a, "{\"command\":\"listRooms\"}"));
	return s;
}

static void test_malformed_commands_change_nothing(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"{\"command\":\"createRoom\"}", "room: missing"},
		{"{\"command\":\"createRoom\",\"room\":5}", "room: must be a string"},
		{"{\"command\":\"createRoom\",\"room\":\"bad room\"}", "not a valid room id"},
		{"{\"command\":\"createRoom\",\"room\":\"x/y\"}", "not a valid room id"},
		{"{\"command\":\"createRoom\",\"room\":\"\"}", "not a valid room id"},
		{"{\"command\":\"createRoom\",\"room\":\"a123456789012345678901234567890123456789012345678901234567890123"
		 "4\"}", "not a valid room id"},
		{"{\"command\":\"createRoom\",\"room\":\"dm:bob:alice\"}", "not a valid room id"},
		{"{\"command\":\"addRoomMember\",\"room\":\"dm:alice:bob\",\"user\":\"carol\"}", "DM room"},
		{"{\"command\":\"createRoom\",\"room\":\"x1\",\"title\":7}", "title: must be a string"},
		{"{\"command\":\"createRoom\",\"room\":\"x2\",\"titel\":\"typo\"}", "titel: unknown field"},
		{"{\"command\":\"deleteRoom\",\"room\":\"nope\"}", "room not found"},
		{"{\"command\":\"deleteRoom\"}", "room: missing"},
		{"{\"command\":\"getRoom\"}", "room: missing"},
		{"{\"command\":\"getRoom\",\"room\":[\"stable\"]}", "must be a string"},
		{"{\"command\":\"addRoomMember\",\"room\":\"stable\",\"user\":\"bob\",\"role\":\"boss\"}", "role"},
		{"{\"command\":\"addRoomMember\",\"room\":\"stable\",\"user\":\"bob\",\"role\":\"none\"}", "role"},
		{"{\"command\":\"addRoomMember\",\"room\":\"stable\",\"user\":\"b/c\"}", "not a valid user id"},
		{"{\"command\":\"addRoomMember\",\"room\":\"stable\"}", "user: missing"},
		{"{\"command\":\"addRoomMember\",\"room\":\"stable\",\"user\":\"alice\"}", "already a member"},
		{"{\"command\":\"addRoomMember\",\"room\":\"nope\",\"user\":\"bob\"}", "room not found"},
		{"{\"command\":\"removeRoomMember\",\"room\":\"stable\",\"user\":\"bob\"}", "not a member"},
		{"{\"command\":\"setRoomMemberRole\",\"room\":\"stable\",\"user\":\"bob\",\"role\":\"admin\"}",
		 "not a member"},
		{"{\"command\":\"setRoomMemberRole\",\"room\":\"stable\",\"user\":\"alice\"}", "role: missing"},
		{"{\"command\":\"setRoomPolicy\",\"room\":\"stable\"}", "no policy field"},
		{"{\"command\":\"setRoomPolicy\",\"room\":\"stable\",\"bannedWordsAction\":\"burn\"}", "bannedWordsAction"},
		{"{\"command\":\"setRoomPolicy\",\"room\":\"stable\",\"floodRate\":-1}", "floodRate"},
		{"{\"command\":\"setRoomPolicy\",\"room\":\"stable\",\"floodRate\":2,\"floodBurst\":\"x\"}", "floodBurst"},
		{"{\"command\":\"setRoomPolicy\",\"room\":\"stable\",\"dmPolicy\":\"everyone\"}", "dmPolicy"},
		{"{\"command\":\"setRoomPolicy\",\"room\":\"stable\",\"dmPolicy\":\"shared\",\"colour\":\"red\"}",
		 "unknown field"},
		{"{\"command\":\"listRooms\",\"count\":-1}", "count"},
		{"{\"command\":\"listRooms\",\"offset\":1.5}", "offset"},
		{"{\"command\":\"listRooms\",\"count\":\"3\"}", "count"},
		{"{\"command\":\"frobnicate\",\"room\":\"stable\"}", "unknown command"},
		{"{\"room\":\"stable\"}", "command: missing"},
		{"{\"command\":7}", "command: missing"},
		{"\"createRoom\"", "must be a JSON object"},
		{"{\"command\":\"getRoom\",\"room\":\"stable\",\"correlationData\":5}", "correlationData"},
	};
	struct tc *a = c_admin(&H, "admin-50b", TC_V311);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"stable\",\"title\":\"Stable\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"stable\",\"user\":\"alice\",\"role\":\"owner\"}");
	/* Admins may create a DM room; only its two users may join it. */
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"dm:alice:bob\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"dm:alice:bob\",\"user\":\"bob\"}");
	cJSON *before = snapshot(a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c_fails(a, cases[i][0], cases[i][1]);
		cJSON *after = snapshot(a);
		if (!cJSON_Compare(before, after, true)) fail_msg("state changed after %s", cases[i][0]);
		cJSON_Delete(after);
	}
	/* One audit line per command, naming the admin and the error. */
	assert_true(c_log_count(H.broker.log, "admin-50b/admin | frobnicate | error=\"unknown command\"") == 1);
	cJSON_Delete(before);
	tc_close(a);
}

static void test_list_rooms_paging(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-50c", TC_V5);
	/* 25 rooms in one request, created in reverse order. */
	char req[4096];
	int n = snprintf(req, sizeof(req), "{\"commands\":[");
	for (int i = 24; i >= 0; i--)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "%s{\"command\":\"createRoom\",\"room\":\"p%02d\"}",
			      i == 24 ? "" : ",", i);
	snprintf(req + n, sizeof(req) - (size_t)n, "]}");
	cJSON *reply = c_request(a, req);
	cJSON *resp;
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "responses")), 25);
	cJSON_ArrayForEach(resp, cJSON_GetObjectItem(reply, "responses")) assert_null(c_error(resp));
	cJSON_Delete(reply);

	cJSON *all = c_ok(a, "{\"command\":\"listRooms\"}");
	cJSON *ids = cJSON_GetObjectItem(all, "rooms");
	int total = (int)c_num(all, "totalCount");
	assert_int_equal(cJSON_GetArraySize(ids), total);
	assert_true(total >= 25);
	for (int i = 1; i < total; i++) {
		assert_true(strcmp(cJSON_GetArrayItem(ids, i - 1)->valuestring, cJSON_GetArrayItem(ids, i)->valuestring) <
			    0);
	}
	/* Pages of 10 put back together are the whole list. */
	cJSON *joined = cJSON_CreateArray();
	for (int offset = 0; offset < total; offset += 10) {
		char cmd[96];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"listRooms\",\"count\":10,\"offset\":%d}", offset);
		cJSON *page = c_ok(a, cmd);
		cJSON *pids = cJSON_GetObjectItem(page, "rooms"), *id;
		assert_int_equal((int)c_num(page, "totalCount"), total);
		assert_int_equal(cJSON_GetArraySize(pids), total - offset < 10 ? total - offset : 10);
		cJSON_ArrayForEach(id, pids) cJSON_AddItemToArray(joined, cJSON_CreateString(id->valuestring));
		cJSON_Delete(page);
	}
	assert_true(cJSON_Compare(joined, ids, true));
	cJSON_Delete(joined);

	cJSON *past = c_ok(a, "{\"command\":\"listRooms\",\"offset\":100000}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(past, "rooms")), 0);
	assert_int_equal((int)c_num(past, "totalCount"), total);
	cJSON_Delete(past);
	cJSON *none = c_ok(a, "{\"command\":\"listRooms\",\"count\":0}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(none, "rooms")), 0);
	cJSON_Delete(none);
	cJSON_Delete(all);
	tc_close(a);
}

/* Waits for a rooms list of c on topic in which room has role (NULL =
 * room absent); earlier lists (e.g. the retained one) are skipped. */
static void wait_rooms_list(struct tc *c, const char *topic, const char *room, const char *role)
{
	long long deadline = h_now_ms() + TC_WAIT_MS;
	while (h_now_ms() < deadline) {
		struct tc_msg *m = tc_wait(c, topic, (int)(deadline - h_now_ms()));
		if (!m) break;
		cJSON *list = cJSON_Parse(m->payload), *e;
		const char *found = NULL;
		assert_true(cJSON_IsArray(list));
		cJSON_ArrayForEach(e, list) {
			if (strcmp(c_str(e, "room"), room) == 0) found = c_str(e, "role");
		}
		bool match = role ? found && strcmp(found, role) == 0 : found == NULL;
		cJSON_Delete(list);
		tc_msg_free(m);
		if (match) return;
	}
	fail_msg("no rooms list on %s with %s as %s", topic, room, role ? role : "(absent)");
}

/* The next event on the room's events topic must have this type and user. */
static void expect_event(struct tc *c, const char *room, const char *type, const char *user, const char *role)
{
	char topic[128];
	snprintf(topic, sizeof(topic), "chat/rooms/%s/events", room);
	cJSON *ev = c_wait_json(c, topic);
	assert_string_equal(c_str(ev, "type"), type);
	assert_string_equal(c_str(ev, "room"), room);
	if (user) assert_string_equal(c_str(ev, "user"), user);
	if (role) assert_string_equal(c_str(ev, "role"), role);
	cJSON_Delete(ev);
}

static void test_membership_changes_publish_lists_and_events(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-50d", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"lobby\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"lobby\",\"user\":\"dave\",\"role\":\"owner\"}");
	struct tc *dave = tc_open(&H, "dave-50", "dave", TC_V5);
	struct tc *carol = tc_open(&H, "carol-50", "carol", TC_V311);
	assert_true(tc_subscribe(dave, "chat/users/dave/rooms", 1) <= 2);
	wait_rooms_list(dave, "chat/users/dave/rooms", "lobby", "owner");
	assert_int_equal(tc_subscribe(dave, "chat/rooms/lobby/events", 1), 1);
	assert_true(tc_subscribe(carol, "chat/users/carol/rooms", 1) <= 2);
	struct tc *bridge = tc_open(&H, "bridge-50", "bridge", TC_V5);
	assert_int_equal(tc_subscribe(bridge, "chat/rooms/+/events", 1), 1);

	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"lobby\",\"user\":\"carol\"}");
	wait_rooms_list(carol, "chat/users/carol/rooms", "lobby", "member");
	expect_event(dave, "lobby", "member_added", "carol", "member");

	c_do(a, "{\"command\":\"setRoomMemberRole\",\"room\":\"lobby\",\"user\":\"carol\",\"role\":\"reader\"}");
	wait_rooms_list(carol, "chat/users/carol/rooms", "lobby", "reader");
	expect_event(dave, "lobby", "member_role_changed", "carol", "reader");

	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"lobby\"}");
	cJSON *m;
	int seen = 0;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(room, "members")) {
		if (strcmp(c_str(m, "user"), "carol") == 0 && strcmp(c_str(m, "role"), "reader") == 0) seen++;
		if (strcmp(c_str(m, "user"), "dave") == 0 && strcmp(c_str(m, "role"), "owner") == 0) seen++;
	}
	assert_int_equal(seen, 2);
	cJSON_Delete(room);

	c_do(a, "{\"command\":\"removeRoomMember\",\"room\":\"lobby\",\"user\":\"carol\"}");
	wait_rooms_list(carol, "chat/users/carol/rooms", "lobby", NULL);
	expect_event(dave, "lobby", "member_removed", "carol", NULL);

	/* deleteRoom republishes the lists of all its former members. */
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"lobby\",\"user\":\"carol\",\"role\":\"admin\"}");
	wait_rooms_list(carol, "chat/users/carol/rooms", "lobby", "admin");
	expect_event(dave, "lobby", "member_added", "carol", "admin");
	c_do(a, "{\"command\":\"deleteRoom\",\"room\":\"lobby\"}");
	/* Members cannot read the events of a room that no longer exists;
	 * a service user (the bridge) sees room_deleted. */
	cJSON *ev;
	do {
		ev = c_wait_json(bridge, "chat/rooms/lobby/events");
		bool deleted = strcmp(c_str(ev, "type"), "room_deleted") == 0;
		cJSON_Delete(ev);
		if (deleted) break;
	} while (true);
	wait_rooms_list(carol, "chat/users/carol/rooms", "lobby", NULL);
	wait_rooms_list(dave, "chat/users/dave/rooms", "lobby", NULL);
	tc_close(bridge);
	tc_close(carol);
	tc_close(dave);
	tc_close(a);
}

static void test_set_room_policy(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-50e", TC_V311);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"policed\"}");
	c_do(a, "{\"command\":\"setRoomPolicy\",\"room\":\"policed\",\"bannedWordsAction\":\"reject\",\"floodRate\":2.5,"
		"\"floodBurst\":10,\"dmPolicy\":\"nobody\"}");
	c_do(a, "{\"command\":\"setRoomPolicy\",\"room\":\"policed\",\"floodRate\":0.5}");
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"policed\"}");
	cJSON *p = cJSON_GetObjectItem(room, "policy");
	assert_string_equal(c_str(p, "bannedWordsAction"), "reject");
	assert_string_equal(c_str(p, "dmPolicy"), "nobody");
	assert_true(c_num(p, "floodRate") == 0.5);
	assert_true(c_num(p, "floodBurst") == 10);
	cJSON_Delete(room);
	tc_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get_delete),
		cmocka_unit_test(test_malformed_commands_change_nothing),
		cmocka_unit_test(test_list_rooms_paging),
		cmocka_unit_test(test_membership_changes_publish_lists_and_events),
		cmocka_unit_test(test_set_room_policy),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

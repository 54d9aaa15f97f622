/* SPDX-License-Identifier: MIT */
/*
 * Edits and deletes through the real broker, bridge and stand-in, over
 * MQTT 5 and 3.1.1: members get an envelope naming the original id;
 * MongoDB and history show the latest text, or a tombstone without the
 * text; only the sender edits, within plugin_opt_edit_window; owners and
 * admins delete any message; an edit passes the banned-word filter like a
 * new message; an edit sends no second push notification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "4y-util.h"
#include "http_receiver.h"

#define ROOM "r48"
#define WINDOW_S 2

static struct harness H;
static struct hr *R;
static const char *const members[] = {"alice", "bob", "carol", "dave", NULL};

static int setup(void **state)
{
	(void)state;
	char conf[1024], url[256];
	h_init(&H, "48-msg-edit");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, Y_UNTHROTTLED "plugin_opt_edit_window 2\n");
	snprintf(conf, sizeof(conf), "push_coalesce_ms 100\npush_allow_private true\npush_allow_http true\n"
		 "webhook_url %s\n", hr_url(R, "/push", url, sizeof(url)));
	h_start_bridge(&H, conf);
	assert_true(h_setup_room(&H, ROOM, members));
	struct tc *admin = c_admin(&H, "admin-48", TC_V5);
	c_do(admin, "{\"command\":\"setRoomMemberRole\",\"room\":\"" ROOM "\",\"user\":\"alice\",\"role\":\"owner\"}");
	c_do(admin, "{\"command\":\"addBannedWords\",\"room\":\"" ROOM "\",\"words\":[\"pineapple\"]}");
	tc_close(admin);
	/* dave is offline with a device: every new message pushes to him. */
	struct tc *dave = tc_open(&H, "dave-48", "dave", TC_V5);
	char reg[512], inbox[] = "chat/users/dave/inbox";
	assert_int_equal(tc_subscribe(dave, inbox, 1), 1);
	snprintf(reg, sizeof(reg), "{\"op\":\"register\",\"device\":\"d\",\"platform\":\"webhook\"}");
	assert_int_equal(tc_pub(dave, "chat/users/dave/devices", reg, 1), 0);
	struct tc_msg *ack = tc_wait(dave, inbox, TC_WAIT_MS);
	assert_non_null(ack);
	assert_non_null(strstr(ack->payload, "\"ok\":true"));
	tc_msg_free(ack);
	tc_close(dave);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hr_stop(R);
	return 0;
}

static void edit_as(int tx_proto, int rx_proto, const char *cid)
{
	char id[27], payload[256], extra[96];
	struct tc *alice = tc_open(&H, "alice-48", "alice", tx_proto);
	struct tc *bob = tc_open(&H, "bob-48", "bob", rx_proto);
	m_inbox_sub(bob, "bob");
	assert_int_equal(tc_subscribe(bob, "chat/rooms/" ROOM "/messages", 1), 1);
	int pushes = hr_count(R, "/push");
	snprintf(payload, sizeof(payload), "{\"text\":\"frist\",\"cid\":\"%s\"}", cid);
	cJSON_Delete(y_post(alice, bob, ROOM, payload, id));
	assert_true(hr_wait(R, "/push", pushes + 1, 10000));
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"first\",\"id\":\"forged\"}", id);
	cJSON *env = m_deliver(alice, bob, ROOM, payload);
	m_expect(env, "edit", id);
	m_expect(env, "text", "first");
	m_expect(env, "from", "alice");
	assert_string_not_equal(c_str(env, "id"), id);
	cJSON_Delete(env);
	/* MongoDB: the message holds the new text; the edit is no message. */
	bson_t *doc = y_stored(&H, ROOM, id, "\"text\":\"first\"");
	assert_non_null(doc);
	bson_iter_t it;
	assert_true(bson_iter_init_find(&it, doc, "edited") && BSON_ITER_HOLDS_DATE_TIME(&it));
	bson_destroy(doc);
	snprintf(extra, sizeof(extra), "{\"room\":\"" ROOM "\",\"cid\":\"%s\"}", cid);
	assert_int_equal(h_mongo_count(&H, "messages", extra), 1);
	/* History serves the latest text with the time of the edit. */
	cJSON *h = y_history(bob, "bob", ROOM, "{\"limit\":5}");
	const cJSON *m = y_find(h, id);
	assert_non_null(m);
	m_expect(m, "text", "first");
	assert_true(c_num(m, "edited") > 0);
	cJSON_Delete(h);
	/* No second notification for the edit (the first came long before). */
	h_sleep_ms(400);
	assert_int_equal(hr_count(R, "/push"), pushes + 1);
	tc_close(alice);
	tc_close(bob);
}

static void test_edit_v5_to_v311(void **state)
{
	(void)state;
	edit_as(TC_V5, TC_V311, "e48-a");
}

static void test_edit_v311_to_v5(void **state)
{
	(void)state;
	edit_as(TC_V311, TC_V5, "e48-b");
}

static void test_edit_refused(void **state)
{
	(void)state;
	char id[27], payload[256];
	struct tc *alice = tc_open(&H, "alice-48r", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-48r", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "carol-48r", "carol", TC_V311);
	m_inbox_sub(bob, "bob");
	m_inbox_sub(carol, "carol");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(carol, alice, ROOM, "{\"text\":\"carol's\"}", id));
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"bob was here\"}", id);
	assert_int_equal(m_send(bob, ROOM, payload), 135);
	y_refused(bob, "bob", "not_allowed");
	/* Owners delete others' messages, but edit only their own. */
	assert_int_equal(m_send(alice, ROOM, payload), 135);
	/* An id of a message that was never sent (same time, other bits). */
	char ghost[27];
	memcpy(ghost, id, 27);
	ghost[25] = ghost[25] == 'Z' ? 'Y' : 'Z';
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"ghost\"}", ghost);
	assert_int_equal(m_send(carol, ROOM, payload), 0); /* 3.1.1: no reason code, a notice */
	y_refused(carol, "carol", "not_found");
	/* Malformed changes. */
	assert_int_equal(m_send(bob, ROOM, "{\"edit\":\"nonsense\",\"text\":\"x\"}"), 135);
	y_refused(bob, "bob", "malformed_json");
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\"}", id);
	assert_int_equal(m_send(bob, ROOM, payload), 135);
	y_refused(bob, "bob", "empty");
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"delete\":\"%s\",\"text\":\"x\"}", id, id);
	assert_int_equal(m_send(bob, ROOM, payload), 135);
	y_refused(bob, "bob", "malformed_json");
	assert_true(m_nothing_before_marker(carol, alice, ROOM, "marker-48r"));
	bson_t *doc = y_stored(&H, ROOM, id, "\"text\":\"carol's\"");
	assert_non_null(doc);
	bson_destroy(doc);
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

static void test_edit_moderated(void **state)
{
	(void)state;
	char id[27], payload[256];
	struct tc *alice = tc_open(&H, "alice-48m", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-48m", "bob", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(bob, alice, ROOM, "{\"text\":\"i like apples\"}", id));
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"i like pineapple\"}", id);
	cJSON *env = m_deliver(bob, alice, ROOM, payload);
	m_expect(env, "text", "i like *********");
	cJSON_Delete(env);
	bson_t *doc = y_stored(&H, ROOM, id, "\"text\":\"i like *********\"");
	assert_non_null(doc);
	bson_destroy(doc);
	tc_close(alice);
	tc_close(bob);
}

static void test_delete_own_and_by_owner(void **state)
{
	(void)state;
	char mine[27], theirs[27], payload[256];
	struct tc *alice = tc_open(&H, "alice-48d", "alice", TC_V311);
	struct tc *bob = tc_open(&H, "bob-48d", "bob", TC_V5);
	struct tc *carol = tc_open(&H, "carol-48d", "carol", TC_V5);
	m_inbox_sub(bob, "bob");
	m_inbox_sub(carol, "carol");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(bob, alice, ROOM, "{\"text\":\"oops, secret\",\"data\":{\"k\":1}}", mine));
	cJSON_Delete(y_post(bob, alice, ROOM, "{\"text\":\"rude\"}", theirs));
	snprintf(payload, sizeof(payload), "{\"delete\":\"%s\"}", mine);
	cJSON *env = m_deliver(bob, alice, ROOM, payload);
	m_expect(env, "type", "delete");
	m_expect(env, "delete", mine);
	assert_null(cJSON_GetObjectItem(env, "text"));
	cJSON_Delete(env);
	/* carol is a member: not hers to delete; alice owns the room. */
	snprintf(payload, sizeof(payload), "{\"delete\":\"%s\"}", theirs);
	assert_int_equal(m_send(carol, ROOM, payload), 135);
	y_refused(carol, "carol", "not_allowed");
	env = m_deliver(alice, alice, ROOM, payload);
	m_expect(env, "delete", theirs);
	m_expect(env, "from", "alice");
	cJSON_Delete(env);
	/* Tombstones: no text, no data, in MongoDB and in history. */
	const char *ids[] = {mine, theirs};
	for (int i = 0; i < 2; i++) {
		bson_t *doc = y_stored(&H, ROOM, ids[i], "\"deleted\":true");
		assert_non_null(doc);
		bson_iter_t it;
		assert_false(bson_iter_init_find(&it, doc, "text"));
		assert_false(bson_iter_init_find(&it, doc, "data"));
		bson_destroy(doc);
	}
	cJSON *h = y_history(bob, "bob", ROOM, "{\"limit\":5}");
	const cJSON *m = y_find(h, mine);
	assert_non_null(m);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "deleted")));
	assert_null(cJSON_GetObjectItem(m, "text"));
	assert_null(cJSON_GetObjectItem(m, "data"));
	char *text = cJSON_PrintUnformatted(h);
	assert_null(strstr(text, "secret"));
	assert_null(strstr(text, "rude"));
	free(text);
	cJSON_Delete(h);
	/* A deleted message can be neither edited nor deleted again. */
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"back\"}", mine);
	assert_int_equal(m_send(bob, ROOM, payload), 135);
	y_refused(bob, "bob", "not_found");
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

static void test_edit_window(void **state)
{
	(void)state;
	char id[27], payload[256];
	struct tc *alice = tc_open(&H, "alice-48w", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-48w", "bob", TC_V5);
	m_inbox_sub(bob, "bob");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(bob, alice, ROOM, "{\"text\":\"old news\"}", id));
	h_sleep_ms(WINDOW_S * 1000 + 500);
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"new news\"}", id);
	assert_int_equal(m_send(bob, ROOM, payload), 135);
	y_refused(bob, "bob", "edit_window");
	snprintf(payload, sizeof(payload), "{\"delete\":\"%s\"}", id);
	assert_int_equal(m_send(bob, ROOM, payload), 135);
	y_refused(bob, "bob", "edit_window");
	/* The owner's delete has no window. */
	cJSON *env = m_deliver(alice, alice, ROOM, payload);
	m_expect(env, "delete", id);
	cJSON_Delete(env);
	bson_t *doc = y_stored(&H, ROOM, id, "\"deleted\":true");
	assert_non_null(doc);
	bson_destroy(doc);
	tc_close(alice);
	tc_close(bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_v5_to_v311),
		cmocka_unit_test(test_edit_v311_to_v5),
		cmocka_unit_test(test_edit_refused),
		cmocka_unit_test(test_edit_moderated),
		cmocka_unit_test(test_delete_own_and_by_owner),
		cmocka_unit_test(test_edit_window),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	return h_finish(&H, failed != 0) ? failed : 1;
}

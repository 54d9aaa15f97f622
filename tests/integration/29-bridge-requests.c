/* SPDX-License-Identifier: MIT */
/*
 * What the bridge takes from a request (history, read marker, device
 * registration), through the real broker and bridge.
 *
 * Strings with an escaped NUL: "before":"<id>\u0000x" is not the message
 * id <id>, "device":"phone\u0000x" is not the device "phone". A C string
 * stops at the NUL, so a bridge reading it as one would act on the part
 * before it; each such request is refused (history: an error reply; read
 * marker: dropped; device: ok:false), nothing is stored.
 *
 * The requester: the bridge trusts only exactly one v5 user property
 * `from` holding a valid user id. The plugin always sets one; to see what
 * the bridge itself does with none, two or an invalid one, the second half
 * runs on the same broker restarted without the plugin (mosquitto's own
 * password_file, no ACL), where clients send whatever properties they
 * like. Such requests are dropped with a log line; one with a single valid
 * `from` is answered.
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

#include "client.h"
#include "harness.h"

#define ROOM     "r29"
#define DROPPED  "without exactly one valid `from` user property: dropped"
#define REPLY_MS 10000

static struct harness H;
static char msg_id[40];

static int setup(void **state)
{
	(void)state;
	h_init(&H, "29-bridge-requests");
	h_start_mongo(&H);
	h_start_broker(&H, NULL);
	/* Registrations only: no notification is due while the test runs. */
	h_start_bridge(&H, "push_allow_http true\nwebhook_url http://127.0.0.1:9/hook\n"
			   "push_coalesce_ms 600000\n");
	const char *const members[] = {"alice", "bob", "carol", NULL};
	assert_true(h_setup_room(&H, ROOM, members));
	struct tc *c = tc_open(&H, "alice-29-msg", "alice", TC_V5);
	assert_int_equal(tc_pub(c, "chat/rooms/" ROOM "/messages", "{\"text\":\"hi\",\"cid\":\"m1\"}", 1), 0);
	bson_t *doc = h_mongo_wait_one(&H, "messages", "{\"room\":\"" ROOM "\",\"cid\":\"m1\"}", REPLY_MS);
	assert_non_null(doc);
	bson_iter_t it;
	assert_true(bson_iter_init_find(&it, doc, "id"));
	snprintf(msg_id, sizeof(msg_id), "%s", bson_iter_utf8(&it, NULL));
	bson_destroy(doc);
	tc_close(c);
	return 0;
}

/* Publishes payload to topic as c and returns the next message on inbox
 * whose payload contains type (free it), or NULL. */
static char *ask(struct tc *c, const char *topic, const char *payload, const char *inbox, const char *type,
		 const mosquitto_property *props)
{
	assert_int_equal(tc_publish(c, topic, payload, (int)strlen(payload), 1, false, props), 0);
	for (;;) {
		struct tc_msg *m = tc_wait(c, inbox, REPLY_MS);
		if (!m) return NULL;
		if (strstr(m->payload, type)) {
			char *out = m->payload;
			m->payload = NULL;
			tc_msg_free(m);
			return out;
		}
		tc_msg_free(m);
	}
}

#define BAD_ID "\"error\":\"before and after must be message ids\""

static void history_refused(struct tc *alice, const char *fmt, const char *error)
{
	char payload[256];
	snprintf(payload, sizeof(payload), fmt, msg_id);
	char *reply = ask(alice, "chat/rooms/" ROOM "/history", payload, "chat/users/alice/inbox",
			  "\"type\":\"history\"", NULL);
	if (!reply || !strstr(reply, error)) fail_msg("%s -> %s", payload, reply ? reply : "(no reply)");
	assert_null(strstr(reply, "\"cid\":\"c1\""));
	free(reply);
}

static void test_history_nul_refused(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-29-h", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/users/alice/inbox", 1), 1);
	history_refused(alice, "{\"after\":\"%s\\u0000x\"}", BAD_ID);
	history_refused(alice, "{\"before\":\"%s\\u0000\"}", BAD_ID);
	history_refused(alice, "{\"cid\":\"c1\\u0000x\",\"x\":\"%s\"}", "\"error\":\"cid must be");
	/* The same request without the NUL is answered with the message. */
	char *reply = ask(alice, "chat/rooms/" ROOM "/history", "{\"cid\":\"c1\"}", "chat/users/alice/inbox",
			  "\"type\":\"history\"", NULL);
	assert_non_null(reply);
	assert_null(strstr(reply, "\"error\""));
	assert_non_null(strstr(reply, msg_id));
	free(reply);
	tc_close(alice);
}

static void test_read_marker_nul_dropped(void **state)
{
	(void)state;
	char payload[128], filter[160];
	struct tc *alice = tc_open(&H, "alice-29-r", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-29-r", "bob", TC_V5);
	snprintf(payload, sizeof(payload), "{\"upto\":\"%s\\u0000x\"}", msg_id);
	assert_int_equal(tc_pub(alice, "chat/rooms/" ROOM "/read", payload, 1), 0);
	/* bob's good marker, sent after alice's, is the barrier. */
	snprintf(payload, sizeof(payload), "{\"upto\":\"%s\"}", msg_id);
	assert_int_equal(tc_pub(bob, "chat/rooms/" ROOM "/read", payload, 1), 0);
	snprintf(filter, sizeof(filter), "{\"user\":\"bob\",\"room\":\"" ROOM "\",\"upto\":\"%s\"}", msg_id);
	assert_true(h_mongo_wait_count(&H, "reads", filter, 1, REPLY_MS));
	assert_int_equal(h_mongo_count(&H, "reads", "{\"user\":\"alice\"}"), 0);
	tc_close(bob);
	tc_close(alice);
}

#define REGISTER(device) "{\"op\":\"register\",\"device\":\"" device "\",\"platform\":\"webhook\"}"

static char *device_request(struct tc *c, const char *user, const char *json, const mosquitto_property *props)
{
	char topic[96], inbox[96];
	snprintf(topic, sizeof(topic), "chat/users/%s/devices", user);
	snprintf(inbox, sizeof(inbox), "chat/users/%s/inbox", user);
	return ask(c, topic, json, inbox, "\"type\":\"device\"", props);
}

static void test_device_nul_refused(void **state)
{
	(void)state;
	static const struct {
		const char *json, *field;
	} cases[] = {
	    {"{\"op\":\"register\",\"device\":\"phone\\u0000x\",\"platform\":\"webhook\"}", "device"},
	    {"{\"op\":\"register\\u0000x\",\"device\":\"d2\",\"platform\":\"webhook\"}", "op"},
	    {"{\"op\":\"register\",\"device\":\"d3\",\"platform\":\"webhook\\u0000x\"}", "platform"},
	    {"{\"op\":\"register\",\"device\":\"d4\",\"platform\":\"webhook\","
	     "\"token\":\"t\\u0000x\"}",
	     "token"},
	    {"{\"op\":\"register\",\"device\":\"d5\",\"platform\":\"webhook\","
	     "\"endpoint\":\"http://127.0.0.1:9/a\\u0000b\"}",
	     "endpoint"},
	    {"{\"op\":\"unregister\",\"device\":\"d5\\u0000\"}", "device"},
	};
	struct tc *bob = tc_open(&H, "bob-29-d", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/inbox", 1), 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[96];
		snprintf(want, sizeof(want), "\"error\":\"%s must be a string", cases[i].field);
		char *reply = device_request(bob, "bob", cases[i].json, NULL);
		bool refused = reply && strstr(reply, "\"ok\":false") && strstr(reply, want);
		if (!refused || !strstr(reply, "U+0000"))
			fail_msg("%s -> %s", cases[i].json, reply ? reply : "(no reply)");
		free(reply);
	}
	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"bob\"}"), 0);
	/* Without the NUL it registers. */
	char *reply = device_request(bob, "bob", REGISTER("phone"), NULL);
	assert_non_null(reply);
	assert_non_null(strstr(reply, "\"ok\":true"));
	free(reply);
	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"bob\"}"), 1);
	tc_close(bob);
}

/* Restarts the broker on the same port with its own password_file
 * instead of the plugin and waits until the bridge has subscribed again. */
static void restart_without_plugin(void)
{
	char *conf = h_read_file(H.broker_conf, NULL);
	assert_non_null(conf);
	size_t cap = strlen(conf) + 700, n = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	for (char *line = conf, *next; *line; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		if (strncmp(line, "plugin", 6) == 0) continue;
		n += (size_t)snprintf(out + n, cap - n, "%.*s", (int)(next - line), line);
	}
	snprintf(out + n, cap - n, "password_file %s\n", H.passwd_file);
	h_write_file(H.broker_conf, out);
	free(out);
	free(conf);
	int subscribed = h_log_count(H.bridge.log, "subscribed to");
	h_restart_broker(&H);
	assert_true(h_wait_log_count(H.bridge.log, "subscribed to", subscribed + 1, 20000));
}

/* User properties "from" = each of values (NULL-terminated). */
static mosquitto_property *from_props(const char *const *values)
{
	mosquitto_property *props = NULL;
	for (size_t i = 0; values[i]; i++) {
		int rc =
			mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "from", values[i]);
		assert_int_equal(rc, MOSQ_ERR_SUCCESS);
	}
	return props;
}

/* Publishes payload to chat/rooms/ROOM/<what> (QoS 1) with props. */
static void room_request(struct tc *c, const char *what, const char *payload, const mosquitto_property *props)
{
	char topic[64];
	snprintf(topic, sizeof(topic), "chat/rooms/" ROOM "/%s", what);
	assert_int_equal(tc_publish(c, topic, payload, (int)strlen(payload), 1, false, props), 0);
}

static void test_from_must_be_one_valid_user(void **state)
{
	(void)state;
	restart_without_plugin();
	int dropped = h_log_count(H.bridge.log, DROPPED);
	const char *const none[] = {NULL}, *const twice[] = {"carol", "carol", NULL};
	const char *const other_first[] = {"carol", "alice", NULL}, *const invalid[] = {"carol/x", NULL};
	const char *const once[] = {"carol", NULL};
	const char *const *bad[] = {none, twice, other_first, invalid};
	struct tc *carol = tc_open(&H, "carol-29-f", "carol", TC_V5);
	assert_int_equal(tc_subscribe(carol, "chat/users/carol/inbox", 1), 1);
	char payload[128];
	snprintf(payload, sizeof(payload), "{\"upto\":\"%s\"}", msg_id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mosquitto_property *props = from_props(bad[i]);
		const char *json = REGISTER("bad");
		int rc =
			tc_publish(carol, "chat/users/carol/devices", json, (int)strlen(json), 1, false, props);
		assert_int_equal(rc, 0);
		room_request(carol, "history", "{}", props);
		room_request(carol, "read", payload, props);
		mosquitto_property_free_all(&props);
	}
	/* Exactly one valid `from`: answered, and behind the bad ones. */
	mosquitto_property *props = from_props(once);
	char *reply = device_request(carol, "carol", REGISTER("good"), props);
	assert_non_null(reply);
	assert_non_null(strstr(reply, "\"ok\":true"));
	free(reply);
	reply = ask(carol, "chat/rooms/" ROOM "/history", "{}", "chat/users/carol/inbox",
		    "\"type\":\"history\"", props);
	assert_non_null(reply);
	assert_non_null(strstr(reply, msg_id));
	free(reply);
	room_request(carol, "read", payload, props);
	mosquitto_property_free_all(&props);
	assert_true(h_mongo_wait_count(&H, "reads", "{\"user\":\"carol\"}", 1, REPLY_MS));

	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"carol\"}"), 1);
	assert_int_equal(h_mongo_count(&H, "devices", "{\"device\":\"good\"}"), 1);
	/* The good marker moved carol's: one unread notice (chats_read_moved). */
	struct tc_msg *unread = tc_wait(carol, "chat/users/carol/inbox", REPLY_MS);
	assert_non_null(unread);
	assert_non_null(strstr(unread->payload, "\"type\":\"unread\""));
	tc_msg_free(unread);
	assert_true(tc_quiet(carol, "chat/users/carol/inbox", 300)); /* the bad requests got no answer */
	/* Each bad case on each of the three topics, one line each. */
	int lines = h_log_count(H.bridge.log, DROPPED) - dropped;
	assert_int_equal(lines, 3 * (int)(sizeof(bad) / sizeof(bad[0])));
	tc_close(carol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history_nul_refused),
		cmocka_unit_test(test_read_marker_nul_dropped),
		cmocka_unit_test(test_device_nul_refused),
		/* last: the broker runs without the plugin from here on */
		cmocka_unit_test(test_from_must_be_one_valid_user),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

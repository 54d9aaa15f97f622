/* SPDX-License-Identifier: MIT */
/*
 * The message path beyond the envelope of 01: a JSON message with its own
 * type and data keeps them while every server field a client forges is
 * replaced; each refusal reason gives a v5 PUBACK 135 and a notice on the
 * sender's inbox; requests to the bridge (history, read markers, devices)
 * carry the v5 user property from = the authenticated user, never the
 * client's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <mqtt_protocol.h>

#include "4x-util.h"
#include "envelope.h"

#define GENERAL "chat/rooms/general/messages"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "42-message");
	h_start_broker(&H, X_BASE_CONF "plugin_opt_max_payload 256\nplugin_opt_dm_policy shared\n");
	struct tc *admin = x_admin(&H, "admin-setup");
	x_create_room(admin, "general");
	x_add_member(admin, "general", "alice", "owner");
	x_add_member(admin, "general", "bob", "member");
	x_add_member(admin, "general", "carol", "reader");
	tc_close(admin);
	return 0;
}

static void test_forged_fields_ignored_json_kept(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "fj-bob", "bob", TC_V311);
	struct tc *alice = tc_open(&H, "fj-alice", "alice", TC_V5);
	assert_int_equal(tc_subscribe(bob, GENERAL, 1), 1);
	const char *p = "{\"type\":\"image\",\"data\":{\"url\":\"https://x/y.png\",\"w\":640,\"tags\":[\"a\",null]},"
			"\"cid\":\"c-7\",\"from\":\"mallory\",\"id\":\"01ZZZZZZZZZZZZZZZZZZZZZZZZ\",\"ts\":1,"
			"\"room\":\"elsewhere\",\"flagged\":true}";
	assert_true(tc_pub(alice, GENERAL, p, 1) < 0x80);
	struct tc_msg *m = tc_wait(bob, GENERAL, TC_WAIT_MS);
	assert_non_null(m);
	struct envelope_view v;
	char buf[256];
	assert_int_equal(envelope_read(m->payload, strlen(m->payload), &v), 0);
	assert_true(json_string_decode(&v.from, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "alice");
	assert_true(json_string_decode(&v.room, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "general");
	assert_true(json_string_decode(&v.type, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "image");
	assert_true(json_string_decode(&v.id, buf, sizeof(buf)) >= 0);
	assert_string_not_equal(buf, "01ZZZZZZZZZZZZZZZZZZZZZZZZ");
	assert_true(v.ts > 1000);
	assert_false(v.flagged);
	assert_true(v.has_data);
	assert_int_equal(v.data.len, strlen("{\"url\":\"https://x/y.png\",\"w\":640,\"tags\":[\"a\",null]}"));
	assert_memory_equal(v.data.p, "{\"url\":\"https://x/y.png\",\"w\":640,\"tags\":[\"a\",null]}", v.data.len);
	tc_msg_free(m);
	tc_close(bob);
	tc_close(alice);
}

struct refusal {
	const char *user;
	const char *topic;
	const char *payload;
	bool retain;
	const char *reason;
	const char *cid; /* expected in the notice, or NULL */
};

/* Expects 135 and then the notice with this reason on the sender's inbox. */
static void refused_with_notice(const struct refusal *r)
{
	char id[64], inbox[96], want[64];
	snprintf(id, sizeof(id), "rf-%s-%s", r->user, r->reason);
	snprintf(inbox, sizeof(inbox), "chat/users/%s/inbox", r->user);
	struct tc *c = tc_open(&H, id, r->user, TC_V5);
	assert_int_equal(tc_subscribe(c, inbox, 1), 1);
	int code = tc_publish(c, r->topic, r->payload, (int)strlen(r->payload), 1, r->retain, NULL);
	if (code != 0x87) fail_msg("%s: PUBACK %d, want 135", r->reason, code);
	struct tc_msg *m = tc_wait(c, inbox, TC_WAIT_MS);
	if (!m) fail_msg("%s: no notice on %s", r->reason, inbox);
	snprintf(want, sizeof(want), "\"reason\":\"%s\"", r->reason);
	if (!strstr(m->payload, want) || !strstr(m->payload, "\"type\":\"error\"")) {
		fail_msg("%s: notice %s", r->reason, m->payload);
	}
	if (r->cid) {
		snprintf(want, sizeof(want), "\"cid\":\"%s\"", r->cid);
		if (!strstr(m->payload, want)) fail_msg("%s: no %s in %s", r->reason, want, m->payload);
	}
	tc_msg_free(m);
	assert_true(tc_connected(c));
	tc_close(c);
}

static void test_each_refusal_has_its_notice(void **state)
{
	(void)state;
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const struct refusal cases[] = {
		{"alice", GENERAL, "bad \xC0\xAF bytes", false, "invalid_utf8", NULL},
		{"alice", GENERAL, "{\"text\":\"unterminated", false, "malformed_json", NULL},
		{"alice", GENERAL, big, false, "too_large", NULL},
		{"alice", GENERAL, "{\"cid\":\"c-empty\"}", false, "empty", "c-empty"},
		{"alice", GENERAL, "{\"text\":\"kept\",\"cid\":\"c-ret\"}", true, "retained", "c-ret"},
		{"dave", GENERAL, "{\"text\":\"let me in\",\"cid\":\"c-out\"}", false, "not_member", "c-out"},
		{"carol", GENERAL, "{\"text\":\"I only read\",\"cid\":\"c-ro\"}", false, "read_only", "c-ro"},
		{"alice", "chat/rooms/nosuch/messages", "hello?", false, "no_room", NULL},
		{"dave", "chat/rooms/dm:dave:eve/messages", "hi eve", false, "dm_not_allowed", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) refused_with_notice(&cases[i]);
}

static void test_muted_notice_says_until(void **state)
{
	(void)state;
	struct tc *admin = x_admin(&H, "admin-mute");
	x_cmd(admin, "{\"command\":\"muteUser\",\"user\":\"bob\",\"room\":\"general\",\"seconds\":600}");
	struct refusal r = {"bob", GENERAL, "{\"text\":\"shh\",\"cid\":\"c-mute\"}", false, "muted", "c-mute"};
	refused_with_notice(&r);
	/* The notice carries when the mute ends. */
	struct tc *bob = tc_open(&H, "mute-bob", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/inbox", 1), 1);
	long long now = (long long)time(NULL) * 1000;
	assert_int_equal(tc_pub(bob, GENERAL, "again", 1), 0x87);
	struct tc_msg *m = tc_wait(bob, "chat/users/bob/inbox", TC_WAIT_MS);
	assert_non_null(m);
	const char *u = strstr(m->payload, "\"until\":");
	assert_non_null(u);
	long long until = strtoll(u + 8, NULL, 10);
	assert_true(until > now + 500000 && until < now + 700000);
	tc_msg_free(m);
	x_cmd(admin, "{\"command\":\"unmuteUser\",\"user\":\"bob\",\"room\":\"general\"}");
	assert_true(tc_pub(bob, GENERAL, "free again", 1) < 0x80);
	tc_close(bob);
	tc_close(admin);
}

/* Client user properties on a chat topic are refused, with a notice: they
 * would reach subscribers (or the bridge) next to the server's facts. */
static void test_user_properties_refused(void **state)
{
	(void)state;
	mosquitto_property *forged = NULL;
	const char *keys[] = {"from", "id", "ts", "room"};
	for (int i = 0; i < 4; i++)
		assert_int_equal(mosquitto_property_add_string_pair(&forged, MQTT_PROP_USER_PROPERTY, keys[i], "alice"), 0);
	struct tc *bob = tc_open(&H, "up-bob", "bob", TC_V5);
	struct tc *alice = tc_open(&H, "up-alice", "alice", TC_V5);
	assert_int_equal(tc_subscribe(bob, GENERAL, 1), 1);
	assert_true(tc_subscribe(bob, "chat/users/bob/inbox", 1) < 0x80);
	const char *text = "{\"text\":\"I am alice\"}", *hist = "{\"limit\":10}";
	const char *dev = "{\"op\":\"unregister\",\"device\":\"d1\"}";
	assert_int_equal(tc_publish(bob, GENERAL, text, (int)strlen(text), 1, false, forged), 0x87);
	assert_int_equal(tc_publish(bob, "chat/rooms/general/history", hist, (int)strlen(hist), 1, false, forged), 0x87);
	assert_int_equal(tc_publish(bob, "chat/users/bob/devices", dev, (int)strlen(dev), 1, false, forged), 0x87);
	for (int i = 0; i < 3; i++) {
		struct tc_msg *m = tc_wait(bob, "chat/users/bob/inbox", TC_WAIT_MS);
		assert_non_null(m);
		assert_non_null(strstr(m->payload, "\"reason\":\"user_properties\""));
		tc_msg_free(m);
	}
	assert_true(tc_quiet(bob, GENERAL, 300));
	mosquitto_property_free_all(&forged);
	tc_close(alice);
	tc_close(bob);
}

/* The bridge's view: mosquitto_sub as the service user prints each
 * request's topic and user properties: exactly one, from = the sender. */
static void test_from_property_on_requests(void **state)
{
	(void)state;
	char port[16], out[600], pw[80];
	snprintf(port, sizeof(port), "%d", H.broker_port);
	snprintf(out, sizeof(out), "%s/from.out", H.dir);
	char *sub[] = {(char *)MOSQUITTO_SUB_BIN, "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-u", "bridge",
		       "-P", (char *)h_password("bridge", pw, sizeof(pw)), "-t", "chat/rooms/+/history", "-t",
		       "chat/rooms/+/read", "-t", "chat/users/+/devices", "-F", "%t|%P", "-C", "4", "-W", "20",
		       "-i", "sub-from", NULL};
	pid_t pid = h_spawn(sub, out);
	assert_true(h_wait_log(H.broker.log, "Sending SUBACK to sub-from", 10000));

	mosquitto_property *rt = NULL;
	assert_int_equal(mosquitto_property_add_string(&rt, MQTT_PROP_RESPONSE_TOPIC, "chat/users/alice/h1"), 0);
	struct tc *alice = tc_open(&H, "from-alice", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "from-bob", "bob", TC_V311);
	const char *hist = "{\"limit\":10}";
	assert_true(tc_publish(alice, "chat/rooms/general/history", hist, (int)strlen(hist), 1, false, rt) < 0x80);
	assert_true(tc_pub(bob, "chat/rooms/general/read", "{\"upto\":\"x\"}", 1) == 0);
	const char *dev = "{\"op\":\"unregister\",\"device\":\"d1\"}";
	assert_true(tc_publish(alice, "chat/users/alice/devices", dev, (int)strlen(dev), 1, false, NULL) < 0x80);
	assert_true(tc_pub(bob, "chat/users/bob/devices", dev, 1) == 0);
	mosquitto_property_free_all(&rt);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	char *text = h_read_file(out, NULL);
	assert_non_null(text);
	fprintf(stderr, "%s", text);
	/* One line per request, each with its sender and nothing else. */
	const char *want[] = {"chat/rooms/general/history|", "chat/rooms/general/read|", "chat/users/alice/devices|",
			      "chat/users/bob/devices|"};
	const char *who[] = {"from:alice", "from:bob", "from:alice", "from:bob"};
	for (int i = 0; i < 4; i++) {
		char *line = strstr(text, want[i]);
		assert_non_null(line);
		size_t n = strcspn(line, "\n");
		char saved = line[n];
		line[n] = '\0';
		char *at = strstr(line, who[i]);
		assert_non_null(at);
		assert_null(strstr(at + 1, "from:"));
		line[n] = saved;
	}
	free(text);
	tc_close(alice);
	tc_close(bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_fields_ignored_json_kept),
		cmocka_unit_test(test_each_refusal_has_its_notice),
		cmocka_unit_test(test_muted_notice_says_until),
		cmocka_unit_test(test_user_properties_refused),
		cmocka_unit_test(test_from_property_on_requests),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * Admin API, the request itself: only admins are served (anyone else gets
 * no reply and changes nothing, MQTT 3.1.1 and 5); malformed requests get
 * an error and change nothing; replies go to $CONTROL/chat/v1/response and
 * to an allowed v5 Response Topic with the Correlation Data echoed; the real
 * mosquitto_rr works against it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <mqtt_protocol.h>

#include "5x-util.h"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "52-control-access");
	h_start_broker(&H, C_ADMIN_CONF);
	return 0;
}

static int room_count(struct tc *a)
{
	cJSON *l = c_ok(a, "{\"command\":\"listRooms\"}");
	int n = (int)c_num(l, "totalCount");
	cJSON_Delete(l);
	return n;
}

/* The next reply on the admin's response topic must be the answer to this
 * getRoom, proving that nothing was published there before it. */
static void next_reply_is_get_room(struct tc *a, const char *room, const char *want_error)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"getRoom\",\"room\":\"%s\",\"correlationData\":\"probe\"}", room);
	cJSON *resp = c_run(a, cmd);
	assert_string_equal(c_str(resp, "correlationData"), "probe");
	if (want_error) assert_non_null(strstr(c_error(resp) ? c_error(resp) : "", want_error));
	cJSON_Delete(resp);
}

static void test_non_admin_gets_nothing_and_changes_nothing(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-52a", TC_V5);
	const int protocols[] = {TC_V5, TC_V311};
	for (size_t i = 0; i < 2; i++) {
		struct tc *alice = tc_open(&H, protocols[i] == TC_V5 ? "alice-52-5" : "alice-52-3", "alice", protocols[i]);
		assert_int_equal(tc_subscribe(alice, "chat/users/alice/inbox", 1), 1);
		mosquitto_property *props = NULL;
		if (protocols[i] == TC_V5)
			mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "chat/users/alice/inbox");
		const char *req = "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"hijack\"},"
				  "{\"command\":\"banUser\",\"user\":\"bob\"}]}";
		int rc = tc_publish(alice, C_REQUEST, req, (int)strlen(req), 1, false, props);
		mosquitto_property_free_all(&props);
		/* Either the broker's ACL refuses the publish (v5: 135) or the
		 * plugin drops it after the PUBACK; never a served request. */
		assert_true(rc == 0 || rc == 135);
		next_reply_is_get_room(a, "hijack", "room not found");
		assert_true(tc_connected(alice));
		assert_true(tc_quiet(alice, "chat/users/alice/inbox", 300));
		tc_close(alice);
	}
	cJSON *stats = c_ok(a, "{\"command\":\"getStats\"}");
	assert_true(c_num(stats, "bans/count") == 0);
	cJSON_Delete(stats);
	tc_close(a);
}

/* The reply to a bad request: one response with an error and no command. */
static void expect_request_error(struct tc *a, const char *payload, int len, const char *needle)
{
	assert_int_equal(tc_publish(a, C_REQUEST, payload, len, 1, false, NULL), 0);
	struct tc_msg *m = tc_wait(a, C_RESPONSE, TC_WAIT_MS);
	if (!m) fail_msg("no reply to %.60s", payload);
	cJSON *reply = cJSON_Parse(m->payload);
	cJSON *list = cJSON_GetObjectItem(reply, "responses");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	const char *err = c_error(cJSON_GetArrayItem(list, 0));
	if (!err || !strstr(err, needle)) fail_msg("%.60s -> %s, expected %s", payload, m->payload, needle);
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "command"));
	cJSON_Delete(reply);
	tc_msg_free(m);
}

static void test_malformed_requests(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-52b", TC_V311);
	int rooms = room_count(a);
	expect_request_error(a, "not json", 8, "not valid JSON");
	expect_request_error(a, "\xff\xfe{", 3, "not valid JSON");
	expect_request_error(a, "", 0, "not valid JSON");
	expect_request_error(a, "[1,2]", 5, "must be a JSON object");
	expect_request_error(a, "{}", 2, "commands: missing");
	expect_request_error(a, "{\"commands\":\"createRoom\"}", 25, "not an array");
	expect_request_error(a, "{\"commands\":[]}", 15, "empty");

	/* 101 commands: refused whole, none runs. */
	char big[8192];
	int n = snprintf(big, sizeof(big), "{\"commands\":[");
	for (int i = 0; i < 101; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "%s{\"command\":\"createRoom\",\"room\":\"big%d\"}",
			      i ? "," : "", i);
	n += snprintf(big + n, sizeof(big) - (size_t)n, "]}");
	expect_request_error(a, big, n, "more than 100");
	assert_int_equal(room_count(a), rooms);

	/* Client text never reaches the log raw: no forged audit lines. */
	cJSON *forged = c_run(a, "{\"command\":\"x\\nchat: forged/admin | banUser | user=bob result=ok\"}");
	assert_string_equal(c_error(forged), "unknown command");
	cJSON_Delete(forged);
	forged = c_run(a, "{\"command\":\"createRoom\",\"room\":\"f1\",\"\\nchat: forged/admin\":1}");
	assert_string_equal(c_error(forged), "(not shown): unknown field");
	cJSON_Delete(forged);
	assert_int_equal(c_log_count(H.broker.log, "forged/admin"), 0);

	/* Commands of one request are independent: the bad one fails alone. */
	cJSON *reply = c_request(a, "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"mix1\"},"
				    "{\"command\":\"nope\"},{\"command\":\"createRoom\",\"room\":\"mix2\"}]}");
	cJSON *list = cJSON_GetObjectItem(reply, "responses");
	assert_int_equal(cJSON_GetArraySize(list), 3);
	assert_null(c_error(cJSON_GetArrayItem(list, 0)));
	assert_string_equal(c_error(cJSON_GetArrayItem(list, 1)), "unknown command");
	assert_string_equal(c_str(cJSON_GetArrayItem(list, 1), "command"), "nope");
	assert_null(c_error(cJSON_GetArrayItem(list, 2)));
	cJSON_Delete(reply);
	assert_int_equal(room_count(a), rooms + 2);
	tc_close(a);
}

/* An escaped U+0000 must not shorten a name: cJSON alone reads
 * "general\u0000x" as "general", "bob\u0000" as "bob". A request holding
 * such a string anywhere (a value, a member name, a list entry) runs
 * nothing. */
static void test_nul_in_strings(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-52n", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"general\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"general\",\"user\":\"alice\"}");
	int rooms = room_count(a);
	static const char *const attacks[] = {
		"{\"commands\":[{\"command\":\"addRoomMember\",\"room\":\"general\\u0000x\",\"user\":\"carol\"}]}",
		"{\"commands\":[{\"command\":\"banUser\",\"user\":\"bob\\u0000\"}]}",
		"{\"commands\":[{\"command\":\"createRoom\",\"room\":\"tnul\\u0000x\"}]}",
		"{\"commands\":[{\"command\":\"createRoom\",\"room\":\"tnul2\",\"title\\u0000\":\"x\"}]}",
		"{\"commands\":[{\"command\":\"createRoom\\u0000\",\"room\":\"tnul3\"}]}",
		"{\"commands\":[{\"command\":\"addBannedWords\",\"words\":[\"fine\",\"bad\\u0000word\"]}]}",
		"{\"commands\":[{\"command\":\"muteUser\",\"user\":\"alice\",\"room\":\"general\\u0000\",\"seconds\":60}]}",
	};
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		expect_request_error(a, attacks[i], (int)strlen(attacks[i]), "a string holds U+0000");
	assert_int_equal(room_count(a), rooms);
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"general\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(room, "members")), 1);
	cJSON_Delete(room);
	cJSON *stats = c_ok(a, "{\"command\":\"getStats\"}");
	assert_true(c_num(stats, "bans/count") == 0 && c_num(stats, "mutes/count") == 0);
	cJSON_Delete(stats);
	cJSON *words = c_ok(a, "{\"command\":\"listBannedWords\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(words, "words")), 0);
	cJSON_Delete(words);
	tc_close(tc_open(&H, "bob-52n", "bob", TC_V5)); /* not banned */
	/* An escaped backslash before "u0000" is no NUL: a plain bad id. */
	c_fails(a, "{\"command\":\"createRoom\",\"room\":\"tnul\\\\u0000x\"}", "not a valid room id");
	tc_close(a);
}

/* Publishes req with a v5 Response Topic and Correlation Data. */
static void publish_rr(struct tc *a, const char *req, const char *response_topic, const void *corr, uint16_t len)
{
	mosquitto_property *props = NULL;
	if (response_topic) mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, response_topic);
	if (corr) mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, len);
	assert_int_equal(tc_publish(a, C_REQUEST, req, (int)strlen(req), 1, false, props), 0);
	mosquitto_property_free_all(&props);
}

static void test_response_topic_and_correlation_data(void **state)
{
	(void)state;
	static const char corr[] = {'c', 0, 'o', 1, 'r'};
	struct tc *a = c_admin(&H, "admin-52c", TC_V5);
	assert_int_equal(tc_subscribe(a, "chat/users/admin/replies", 1), 1);
	const char *req = "{\"commands\":[{\"command\":\"listRooms\",\"correlationData\":\"json-corr\"}]}";
	publish_rr(a, req, "chat/users/admin/replies", corr, sizeof(corr));
	struct tc_msg *m = tc_wait(a, "chat/users/admin/replies", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"correlationData\":\"json-corr\""));
	assert_int_equal(m->correlation_len, sizeof(corr));
	assert_memory_equal(m->correlation, corr, sizeof(corr));
	tc_msg_free(m);
	m = tc_wait(a, C_RESPONSE, TC_WAIT_MS); /* the standard topic gets it too */
	assert_non_null(m);
	assert_int_equal(m->correlation_len, sizeof(corr));
	tc_msg_free(m);

	/* Response Topic = the standard one: one reply, not two. */
	publish_rr(a, "{\"commands\":[{\"command\":\"getStats\",\"correlationData\":\"1\"}]}", C_RESPONSE, "k", 1);
	m = tc_wait(a, C_RESPONSE, TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"correlationData\":\"1\""));
	tc_msg_free(m);
	next_reply_is_get_room(a, "nowhere", "room not found");

	/* A Response Topic inside a room would forge room traffic: refused,
	 * the reply still comes on the standard topic. */
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"r52\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"r52\",\"user\":\"bob\"}");
	struct tc *bob = tc_open(&H, "bob-52", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/r52/messages", 1), 1);
	publish_rr(a, "{\"commands\":[{\"command\":\"getStats\"}]}", "chat/rooms/r52/messages", NULL, 0);
	m = tc_wait(a, C_RESPONSE, TC_WAIT_MS);
	assert_non_null(m);
	tc_msg_free(m);
	/* bob's next message in the room is his own marker, not a reply. */
	assert_int_equal(tc_pub(bob, "chat/rooms/r52/messages", "marker", 1), 0);
	m = tc_wait(bob, "chat/rooms/r52/messages", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"text\":\"marker\""));
	tc_msg_free(m);
	assert_true(c_log_count(H.broker.log, "response topic 'chat/rooms/r52/messages' refused") == 1);
	tc_close(bob);
	tc_close(a);
}

/* Runs the real mosquitto_rr as admin; returns its output (free it). */
static char *run_rr(const char *response_topic, const char *payload)
{
	char port[16], out[600], pw[80];
	snprintf(port, sizeof(port), "%d", H.broker_port);
	snprintf(out, sizeof(out), "%s/rr-%lld.out", H.dir, h_now_ms());
	char *argv[] = {(char *)MOSQUITTO_RR_BIN, "-h", "127.0.0.1", "-p", port, "-u", "admin", "-P",
			(char *)h_password("admin", pw, sizeof(pw)), "-t", C_REQUEST, "-e", (char *)response_topic,
			"-m", (char *)payload, "-W", "10", NULL};
	assert_int_equal(h_run(argv, out, 15000), 0);
	char *text = h_read_file(out, NULL);
	assert_non_null(text);
	return text;
}

static void test_real_mosquitto_rr(void **state)
{
	(void)state;
	char *out = run_rr(C_RESPONSE, "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"rr-room\","
				       "\"title\":\"made by mosquitto_rr\"}]}");
	assert_non_null(strstr(out, "{\"responses\":[{\"command\":\"createRoom\"}]}"));
	free(out);
	out = run_rr("chat/users/admin/rr", "{\"commands\":[{\"command\":\"getRoom\",\"room\":\"rr-room\"}]}");
	assert_non_null(strstr(out, "\"title\":\"made by mosquitto_rr\""));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_non_admin_gets_nothing_and_changes_nothing),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_response_topic_and_correlation_data),
		cmocka_unit_test(test_real_mosquitto_rr),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

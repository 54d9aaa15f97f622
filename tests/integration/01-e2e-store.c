/* SPDX-License-Identifier: MIT */
/*
 * End to end, the walking skeleton: a message published with the real
 * mosquitto_pub reaches the real mosquitto_sub as a server envelope, and the
 * bridge stores the same envelope in MongoDB. Invalid input is refused
 * while the broker keeps serving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "client.h"
#include "envelope.h"
#include "harness.h"
#include "id.h"

#define ROOM_TOPIC "chat/rooms/general/messages"

static struct harness H;

/* The room and its members, through the admin API (the ACL lets only
 * members read and write a room). */
static void create_general(void)
{
	const char *req = "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"general\"},"
			  "{\"command\":\"addRoomMember\",\"room\":\"general\",\"user\":\"alice\"},"
			  "{\"command\":\"addRoomMember\",\"room\":\"general\",\"user\":\"bob\"}]}";
	struct tc *admin = tc_open(&H, "admin-01", "admin", TC_V5);
	assert_int_equal(tc_subscribe(admin, "$CONTROL/chat/v1/response", 1), 1);
	assert_int_equal(tc_pub(admin, "$CONTROL/chat/v1", req, 1), 0);
	struct tc_msg *m = tc_wait(admin, "$CONTROL/chat/v1/response", TC_WAIT_MS);
	assert_non_null(m);
	assert_null(strstr(m->payload, "\"error\""));
	tc_msg_free(m);
	tc_close(admin);
}

static int setup(void **state)
{
	(void)state;
	h_init(&H, "01-e2e-store");
	h_start_mongo(&H);
	h_start_broker(&H, NULL);
	create_general();
	h_start_bridge(&H, NULL);
	return 0;
}

/* Decodes a string field of an envelope view into buf. */
static const char *field(const struct json_span *s, char *buf, size_t cap)
{
	assert_true(json_string_decode(s, buf, cap) >= 0);
	return buf;
}

static void test_publish_deliver_store(void **state)
{
	(void)state;
	char port[16], out[600], pw_a[80], pw_b[80];
	snprintf(port, sizeof(port), "%d", H.broker_port);
	snprintf(out, sizeof(out), "%s/sub.out", H.dir);
	char *sub[] = {(char *)MOSQUITTO_SUB_BIN, "-h", "127.0.0.1", "-p", port, "-u", "bob", "-P",
		       (char *)h_password("bob", pw_b, sizeof(pw_b)), "-t", ROOM_TOPIC, "-C", "1", "-W", "20",
		       "-i", "sub-e2e", NULL};
	pid_t sub_pid = h_spawn(sub, out);
	/* mosquitto_sub's own output is buffered: the broker's log says when. */
	assert_true(h_wait_log(H.broker.log, "Sending SUBACK to sub-e2e", 10000));

	long long before = (long long)time(NULL) * 1000;
	/* The client tries to forge the server's fields: they must be ignored. */
	const char *payload = "{\"text\":\"안녕하세요, hello\",\"cid\":\"c-42\",\"from\":\"mallory\","
			      "\"id\":\"ZZZZ\",\"ts\":1,\"room\":\"elsewhere\"}";
	char *pub[] = {(char *)MOSQUITTO_PUB_BIN, "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P",
		       (char *)h_password("alice", pw_a, sizeof(pw_a)), "-t", ROOM_TOPIC, "-q", "1", "-m",
		       (char *)payload, NULL};
	assert_int_equal(h_run(pub, NULL, 10000), 0);
	int status;
	assert_int_equal(waitpid(sub_pid, &status, 0), sub_pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The envelope is the last line mosquitto_sub printed. */
	char *text = h_read_file(out, NULL);
	assert_non_null(text);
	char *line = strstr(text, "{\"id\":");
	assert_non_null(line);
	line[strcspn(line, "\n")] = '\0';
	struct envelope_view v;
	assert_int_equal(envelope_read(line, strlen(line), &v), 0);
	char id[64], buf[128];
	field(&v.id, id, sizeof(id));
	assert_true(id_valid(id, strlen(id)));
	assert_string_equal(field(&v.from, buf, sizeof(buf)), "alice");
	assert_string_equal(field(&v.room, buf, sizeof(buf)), "general");
	assert_string_equal(field(&v.text, buf, sizeof(buf)), "안녕하세요, hello");
	assert_string_equal(field(&v.cid, buf, sizeof(buf)), "c-42");
	assert_true(v.ts >= before - 1000 && v.ts <= before + 60000);

	char filter[160];
	snprintf(filter, sizeof(filter), "{\"room\":\"general\",\"id\":\"%s\"}", id);
	bson_t *doc = h_mongo_wait_one(&H, "messages", filter, 10000);
	assert_non_null(doc);
	bson_iter_t it;
	assert_true(bson_iter_init_find(&it, doc, "from") && strcmp(bson_iter_utf8(&it, NULL), "alice") == 0);
	assert_true(bson_iter_init_find(&it, doc, "text") &&
		    strcmp(bson_iter_utf8(&it, NULL), "안녕하세요, hello") == 0);
	assert_true(bson_iter_init_find(&it, doc, "ts") && BSON_ITER_HOLDS_DATE_TIME(&it) &&
		    bson_iter_date_time(&it) == v.ts);
	bson_destroy(doc);
	free(text);
}

static void test_invalid_utf8_refused_broker_keeps_serving(void **state)
{
	(void)state;
	struct tc *sub = tc_open(&H, "bob-2", "bob", TC_V5);
	struct tc *pub = tc_open(&H, "alice-2", "alice", TC_V5);
	assert_int_equal(tc_subscribe(sub, ROOM_TOPIC, 1), 1);

	const char bad[] = "bad \xC0\xAF bytes";
	int rc = tc_publish(pub, ROOM_TOPIC, bad, (int)sizeof(bad) - 1, 1, false, NULL);
	assert_true(rc >= 0x80); /* a v5 PUBACK failure reason code */
	assert_true(tc_quiet(sub, ROOM_TOPIC, 300));

	/* Same client, same connection: the next good message goes through. */
	assert_true(tc_connected(pub));
	assert_int_equal(tc_pub(pub, ROOM_TOPIC, "still here", 1), 0);
	struct tc_msg *m = tc_wait(sub, ROOM_TOPIC, TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"text\":\"still here\""));
	tc_msg_free(m);
	assert_true(h_alive(&H.broker));
	tc_close(sub);
	tc_close(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_deliver_store),
		cmocka_unit_test(test_invalid_utf8_refused_broker_keeps_serving),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

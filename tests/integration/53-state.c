/* SPDX-License-Identifier: MIT */
/*
 * The state file: rooms, members, policies, bans and mutes survive a broker
 * restart; a burst of 200 commands is written in a few batches, not 200
 * times; SIGHUP re-reads an operator's edit, refuses a corrupt one and keeps
 * running; a corrupt file at start stops the broker with a line naming the
 * file and the problem.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "5x-util.h"

#define SAVED "chat: state saved to "

static struct harness H;

static int setup(void **state)
{
	char conf[1024];
	(void)state;
	h_init(&H, "53-state");
	snprintf(conf, sizeof(conf), C_ADMIN_CONF "plugin_opt_state_file %s\n", H.state_file);
	h_start_broker(&H, conf);
	return 0;
}

static bool can_login(const char *client_id, const char *user)
{
	struct tc *c = tc_connect(&H, client_id, user, NULL, TC_V5, NULL);
	tc_close(c);
	return c != NULL;
}

/* Waits until the state file contains needle (it is written in batches). */
static void wait_file_has(const char *needle)
{
	if (!h_wait_log(H.state_file, needle, TC_WAIT_MS)) fail_msg("state file never got %s", needle);
}

static void test_state_survives_restart(void **state)
{
	(void)state;
	assert_true(h_wait_log(H.broker.log, "does not exist yet: starting empty", TC_WAIT_MS));
	struct tc *a = c_admin(&H, "admin-53a", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"kept\",\"title\":\"Kept 방\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"kept\",\"user\":\"alice\",\"role\":\"owner\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"kept\",\"user\":\"bob\",\"role\":\"reader\"}");
	c_do(a, "{\"command\":\"setRoomPolicy\",\"room\":\"kept\",\"bannedWordsAction\":\"flag\",\"floodRate\":3}");
	c_do(a, "{\"command\":\"banUser\",\"user\":\"eve\"}");
	c_do(a, "{\"command\":\"muteUser\",\"user\":\"carol\",\"room\":\"kept\",\"seconds\":3600}");
	cJSON *before = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"kept\"}");
	wait_file_has("\"carol\"");
	tc_close(a);

	h_restart_broker(&H);
	assert_true(h_wait_log(H.broker.log, "state loaded from", TC_WAIT_MS));
	a = c_admin(&H, "admin-53b", TC_V311);
	cJSON *after = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"kept\"}");
	assert_true(cJSON_Compare(before, after, true));
	cJSON *stats = c_ok(a, "{\"command\":\"getStats\"}");
	assert_true(c_num(stats, "bans/count") == 1 && c_num(stats, "mutes/count") == 1);
	cJSON_Delete(stats);
	assert_false(can_login("eve-53", "eve")); /* the ban survived too */
	c_do(a, "{\"command\":\"unbanUser\",\"user\":\"eve\"}");
	c_do(a, "{\"command\":\"unmuteUser\",\"user\":\"carol\",\"room\":\"kept\"}");
	assert_true(can_login("eve-53b", "eve"));
	cJSON_Delete(before);
	cJSON_Delete(after);
	tc_close(a);
}

static void test_burst_is_saved_in_batches(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-53c", TC_V5);
	int saves_before = c_log_count(H.broker.log, SAVED);
	long long t0 = h_now_ms();
	for (int i = 0; i < 200; i++) {
		char req[128];
		snprintf(req, sizeof(req), "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"burst%03d\"}]}", i);
		assert_int_equal(tc_pub(a, C_REQUEST, req, 1), 0);
	}
	for (int i = 0; i < 200; i++) {
		struct tc_msg *m = tc_wait(a, C_RESPONSE, TC_WAIT_MS);
		assert_non_null(m);
		assert_null(strstr(m->payload, "\"error\""));
		tc_msg_free(m);
	}
	long long burst_ms = h_now_ms() - t0;
	wait_file_has("\"burst199\"");
	int saves = c_log_count(H.broker.log, SAVED) - saves_before;
	fprintf(stderr, "53-state: 200 commands in %lld ms -> %d state file writes\n", burst_ms, saves);
	assert_true(saves >= 1);
	/* At most one write per 500 ms interval, plus the one after the burst. */
	assert_true(saves <= burst_ms / 500 + 2);
	assert_true(saves <= 20);
	tc_close(a);
}

/* Replaces the state file by text (a new file: new inode, like an editor)
 * and sends SIGHUP. */
static void edit_and_reload(const char *text)
{
	char tmp[700];
	snprintf(tmp, sizeof(tmp), "%s.edit", H.state_file);
	h_write_file(tmp, text);
	assert_int_equal(rename(tmp, H.state_file), 0);
	assert_int_equal(kill(H.broker.pid, SIGHUP), 0);
}

static void test_reload_reads_edits_and_refuses_corrupt_ones(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-53d", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"before-reload\"}");
	wait_file_has("\"before-reload\"");

	/* Unchanged file: not re-read. */
	int unchanged = c_log_count(H.broker.log, "unchanged since written, not re-read");
	assert_int_equal(kill(H.broker.pid, SIGHUP), 0);
	assert_true(c_wait_log_count(H.broker.log, "unchanged since written, not re-read", unchanged + 1, TC_WAIT_MS));

	/* Corrupt edit: refused, the running state stays and is served. */
	edit_and_reload("{\"version\":1,\"rooms\":[{\"room\":\"half");
	assert_true(h_wait_log(H.broker.log, "is corrupt: not valid JSON", TC_WAIT_MS));
	assert_true(h_wait_log(H.broker.log, "keeping the running state", TC_WAIT_MS));
	assert_true(h_alive(&H.broker));
	cJSON_Delete(c_ok(a, "{\"command\":\"getRoom\",\"room\":\"before-reload\"}"));

	/* A valid edit: re-read, and the users whose rooms changed get their
	 * lists again. */
	struct tc *dave = tc_open(&H, "dave-53", "dave", TC_V311);
	assert_true(tc_subscribe(dave, "chat/users/dave/rooms", 1) <= 2);
	edit_and_reload("{\"version\":1,\"rooms\":[{\"room\":\"edited\",\"title\":\"by hand\","
			"\"members\":[{\"user\":\"dave\",\"role\":\"admin\"}]}],\"bans\":[],\"mutes\":[]}");
	assert_true(h_wait_log(H.broker.log, "changed on disk, re-read: 1 rooms", TC_WAIT_MS));
	cJSON *list = c_wait_json(dave, "chat/users/dave/rooms");
	assert_string_equal(c_str(cJSON_GetArrayItem(list, 0), "room"), "edited");
	assert_string_equal(c_str(cJSON_GetArrayItem(list, 0), "role"), "admin");
	cJSON_Delete(list);
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"edited\"}");
	assert_string_equal(c_str(room, "title"), "by hand");
	cJSON_Delete(room);
	c_fails(a, "{\"command\":\"getRoom\",\"room\":\"before-reload\"}", "room not found");
	tc_close(dave);
	tc_close(a);
}

/* Starts mosquitto on the run's config with the state file holding text;
 * returns its exit status (it must not keep running). */
static int start_with_state(const char *text)
{
	h_write_file(H.state_file, text);
	return h_run_broker(H.broker_conf, 20000);
}

static void test_corrupt_file_at_start_stops_broker(void **state)
{
	(void)state;
	char line[900];
	h_stop(&H.broker, SIGTERM, 10000);
	assert_true(start_with_state("{\"version\":1,\"rooms\":[{\"room\":\"ok\"},{\"room\":\"bad id!\"}]}") > 0);
	snprintf(line, sizeof(line), "chat: state file %s is corrupt: rooms[1].room: not a valid room id; refusing to start",
		 H.state_file);
	assert_true(h_wait_log(H.broker.log, line, TC_WAIT_MS));

	assert_true(start_with_state("not json at all") > 0);
	snprintf(line, sizeof(line), "chat: state file %s is corrupt: not valid JSON", H.state_file);
	assert_true(h_wait_log(H.broker.log, line, TC_WAIT_MS));

	assert_true(start_with_state("{\"version\":1,\"bans\":[{\"user\":\"eve\",\"until\":\"soon\"}]}") > 0);
	assert_true(h_wait_log(H.broker.log, "bans[0].until: not a time in unix ms", TC_WAIT_MS));

	/* An escaped U+0000 would make "tnul\u0000x" the room tnul, and a
	 * ban of "bob\u0000" one of bob: refused, with where it is. */
	assert_true(start_with_state("{\"version\":1,\"rooms\":[{\"room\":\"tnul\\u0000x\"}]}") > 0);
	snprintf(line, sizeof(line), "chat: state file %s is corrupt: a string holds U+0000 (line 1, byte 35); "
		 "refusing to start", H.state_file);
	assert_true(h_wait_log(H.broker.log, line, TC_WAIT_MS));
	assert_true(start_with_state("{\"version\":1,\n\"bans\":[{\"user\":\"bob\\u0000\"}]}") > 0);
	assert_true(h_wait_log(H.broker.log, "is corrupt: a string holds U+0000 (line 2, byte 34)", TC_WAIT_MS));

	/* A good file again: the broker starts and serves it. */
	h_write_file(H.state_file, "{\"version\":1,\"rooms\":[{\"room\":\"again\"}]}");
	h_restart_broker(&H);
	struct tc *a = c_admin(&H, "admin-53e", TC_V5);
	cJSON_Delete(c_ok(a, "{\"command\":\"getRoom\",\"room\":\"again\"}"));
	tc_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_survives_restart),
		cmocka_unit_test(test_burst_is_saved_in_batches),
		cmocka_unit_test(test_reload_reads_edits_and_refuses_corrupt_ones),
		cmocka_unit_test(test_corrupt_file_at_start_stops_broker),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

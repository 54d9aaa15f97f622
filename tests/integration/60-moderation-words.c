/* SPDX-License-Identifier: MIT */
/*
 * Banned words through the real broker: a words file and an allowlist file
 * at start; English and Korean disguises masked in delivered envelopes (a
 * v5 sender, a 3.1.1 reader); reject (v5 PUBACK 135, inbox notice naming
 * the reason and not the words, reject event) and flag per room through
 * setRoomPolicy; live edits through addBannedWords / removeBannedWords /
 * listBannedWords that apply to the very next message; global and room
 * lists and allowlists; the lists surviving a restart (state file); SIGHUP
 * re-reading the words file, keeping the old lists when it is bad; and a
 * bad words file stopping the broker at start with file:line in the log.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "6x-util.h"

static struct harness H;
static char words_path[600], allowed_path[600];

#define WORDS_FILE "# banned words, one per line\nbad\n=ass\n시발\nㅅㅂ\n"

static int setup(void **state)
{
	char conf[2048];
	(void)state;
	h_init(&H, "60-moderation-words");
	snprintf(words_path, sizeof(words_path), "%s/banned.txt", H.dir);
	snprintf(allowed_path, sizeof(allowed_path), "%s/allowed.txt", H.dir);
	h_write_file(words_path, WORDS_FILE);
	h_write_file(allowed_path, "badminton\nclass\n  assistant  \n");
	snprintf(conf, sizeof(conf),
		 C_ADMIN_CONF "plugin_opt_state_file %s\nplugin_opt_banned_words_file %s\n"
			      "plugin_opt_allowed_words_file %s\nplugin_opt_flood_rate 1000\nplugin_opt_flood_burst 1000\n"
			      "plugin_opt_flood_repeat 0\n",
		 H.state_file, words_path, allowed_path);
	h_start_broker(&H, conf);
	struct tc *admin = c_admin(&H, "admin-setup", TC_V5);
	const char *rooms[] = {"general", "strict", "review", "gaming"};
	for (int i = 0; i < 4; i++) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"createRoom\",\"room\":\"%s\"}", rooms[i]);
		c_do(admin, cmd);
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"alice\",\"role\":\"owner\"}",
			 rooms[i]);
		c_do(admin, cmd);
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"bob\"}", rooms[i]);
		c_do(admin, cmd);
	}
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"strict\",\"bannedWordsAction\":\"reject\"}");
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"review\",\"bannedWordsAction\":\"flag\"}");
	tc_close(admin);
	return 0;
}

/* alice (v5) writes, bob (3.1.1) reads room's messages (and events). */
static void open_pair(struct tc **alice, struct tc **bob, const char *tag, const char *room)
{
	char id[64], topic[160];
	snprintf(id, sizeof(id), "%s-alice", tag);
	*alice = tc_open(&H, id, "alice", TC_V5);
	snprintf(id, sizeof(id), "%s-bob", tag);
	*bob = tc_open(&H, id, "bob", TC_V311);
	assert_int_equal(tc_subscribe(*bob, m_topic(topic, sizeof(topic), room, "messages"), 1), 1);
	assert_int_equal(tc_subscribe(*bob, m_topic(topic, sizeof(topic), room, "events"), 1), 1);
}

static void expect_text(struct tc *tx, struct tc *rx, const char *room, const char *payload, const char *want)
{
	char got[512];
	m_text(tx, rx, room, payload, got, sizeof(got));
	if (strcmp(got, want) != 0) fail_msg("'%s' in %s delivered as '%s', expected '%s'", payload, room, got, want);
}

static void test_mask_disguises(void **state)
{
	static const char *const cases[][2] = {
		{"you are B A D", "you are *****"},   {"ｂａｄ idea", "*** idea"},
		{"시이이발 뭐야", "**** 뭐야"},       {"시ㅂ ㅏㄹ", "*****"},
		{"ㅅ.ㅣ.ㅂ.ㅏ.ㄹ", "*********"},      {"kick his ass", "kick his ***"},
		{"b😀a😀d!", "*****!"},               {"{\"text\":\"so BAAAD\",\"cid\":\"m1\"}", "so *****"},
		{"b4d 시1발", "*** ***"},
	};
	/* Clean, or beyond what normalization sees through (topics.md). */
	static const char *const clean[] = {"I am a dog", "badminton class assistant", "세 시 발전소", "see you 4ever at 10:30, $5 ㅋㅋ"};
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "mask", "general");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *env = m_deliver(alice, bob, "general", cases[i][0]);
		m_expect(env, "text", cases[i][1]);
		assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(env, "flagged")));
		cJSON *ev = m_event(bob, "general");
		m_expect(ev, "type", "moderation");
		m_expect(ev, "action", "mask");
		m_expect(ev, "user", "alice");
		m_expect(ev, "id", c_str(env, "id"));
		cJSON_Delete(ev);
		cJSON_Delete(env);
	}
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) expect_text(alice, bob, "general", clean[i], clean[i]);
	assert_true(tc_quiet(bob, "chat/rooms/general/events", 200));
	tc_close(alice);
	tc_close(bob);
}

static void test_reject_v5_and_v311(void **state)
{
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "reject", "strict");
	m_inbox_sub(alice, "alice");
	m_inbox_sub(bob, "bob");
	/* v5: PUBACK 135, a notice naming the reason (not the words), an event. */
	assert_int_equal(m_send(alice, "strict", "{\"text\":\"that is so B-A-D\",\"cid\":\"r-1\"}"), 135);
	cJSON *n = m_refusal(alice, "alice");
	m_expect(n, "type", "error");
	m_expect(n, "reason", "banned_words");
	m_expect(n, "room", "strict");
	m_expect(n, "cid", "r-1");
	char *text = cJSON_PrintUnformatted(n);
	assert_null(strstr(text, "B-A-D"));
	free(text);
	cJSON_Delete(n);
	cJSON *ev = m_event(bob, "strict");
	m_expect(ev, "action", "reject");
	m_expect(ev, "user", "alice");
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "id"));
	cJSON_Delete(ev);
	assert_true(m_nothing_before_marker(alice, bob, "strict", "marker-1"));
	/* 3.1.1 has no reason code: the notice is what the sender gets. */
	assert_int_equal(tc_subscribe(alice, "chat/rooms/strict/messages", 1), 1);
	assert_int_equal(m_send(bob, "strict", "시발"), 0);
	n = m_refusal(bob, "bob");
	m_expect(n, "reason", "banned_words");
	cJSON_Delete(n);
	assert_true(m_nothing_before_marker(bob, alice, "strict", "marker-3"));
	tc_close(alice);
	tc_close(bob);
}

static void test_flag(void **state)
{
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "flag", "review");
	cJSON *env = m_deliver(alice, bob, "review", "a bad idea");
	m_expect(env, "text", "a bad idea");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(env, "flagged")));
	cJSON *ev = m_event(bob, "review");
	m_expect(ev, "action", "flag");
	m_expect(ev, "id", c_str(env, "id"));
	cJSON_Delete(ev);
	cJSON_Delete(env);
	env = m_deliver(alice, bob, "review", "a good idea");
	assert_null(cJSON_GetObjectItemCaseSensitive(env, "flagged"));
	cJSON_Delete(env);
	tc_close(alice);
	tc_close(bob);
}

/* data.words of listBannedWords with the given extra fields. */
static cJSON *list_words(struct tc *admin, const char *fields)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "{\"command\":\"listBannedWords\"%s}", fields);
	cJSON *data = c_ok(admin, cmd);
	cJSON *words = cJSON_DetachItemFromObjectCaseSensitive(data, "words");
	assert_true(cJSON_IsArray(words));
	cJSON_Delete(data);
	return words;
}

static void test_live_edit_next_message(void **state)
{
	struct tc *alice, *bob, *admin = c_admin(&H, "edit-admin", TC_V5);
	(void)state;
	open_pair(&alice, &bob, "edit", "general");
	expect_text(alice, bob, "general", "pineapple pizza", "pineapple pizza");
	cJSON *data = c_ok(admin, "{\"command\":\"addBannedWords\",\"words\":[\"pineapple\",\" bad \"]}");
	assert_int_equal((int)c_num(data, "added"), 2); /* "bad" is also in the file: listed once */
	cJSON_Delete(data);
	expect_text(alice, bob, "general", "pineapple pizza", "********* pizza");
	data = c_ok(admin, "{\"command\":\"addBannedWords\",\"words\":[\"pineapple\"]}");
	assert_int_equal((int)c_num(data, "added"), 0);
	cJSON_Delete(data);
	cJSON *words = list_words(admin, "");
	assert_true(m_has_string(words, "pineapple"));
	assert_true(m_has_string(words, "시발"));
	assert_int_equal(cJSON_GetArraySize(words), 5);
	cJSON_Delete(words);
	data = c_ok(admin, "{\"command\":\"removeBannedWords\",\"words\":[\"pineapple\",\"durian\"]}");
	assert_int_equal((int)c_num(data, "removed"), 1);
	cJSON_Delete(data);
	expect_text(alice, bob, "general", "pineapple pizza", "pineapple pizza");
	/* A word of the file stays until the file changes; nothing changes. */
	c_fails(admin, "{\"command\":\"removeBannedWords\",\"words\":[\"bad\"]}", "banned_words_file");
	c_fails(admin, "{\"command\":\"addBannedWords\",\"words\":[\"kiwi\",\"!!!\"]}", "words[1]");
	c_fails(admin, "{\"command\":\"addBannedWords\",\"words\":[]}", "words");
	c_fails(admin, "{\"command\":\"addBannedWords\",\"words\":[\"x\"],\"room\":\"nowhere\"}", "room not found");
	expect_text(alice, bob, "general", "kiwi", "kiwi");
	/* The allowlist, live. */
	expect_text(alice, bob, "general", "nice badge", "nice ***ge");
	data = c_ok(admin, "{\"command\":\"addBannedWords\",\"words\":[\"badge\"],\"allow\":true}");
	assert_int_equal((int)c_num(data, "added"), 1);
	cJSON_Delete(data);
	expect_text(alice, bob, "general", "nice badge", "nice badge");
	words = list_words(admin, ",\"allow\":true");
	assert_true(m_has_string(words, "badge"));
	assert_true(m_has_string(words, "assistant"));
	cJSON_Delete(words);
	for (;;) { /* the mask events of this test */
		struct tc_msg *m = tc_wait(bob, "chat/rooms/general/events", 100);
		if (!m) break;
		tc_msg_free(m);
	}
	tc_close(admin);
	tc_close(alice);
	tc_close(bob);
}

static void test_room_list_and_action(void **state)
{
	struct tc *alice, *bob, *admin = c_admin(&H, "room-admin", TC_V5);
	(void)state;
	open_pair(&alice, &bob, "room", "gaming");
	assert_int_equal(tc_subscribe(bob, "chat/rooms/general/messages", 1), 1);
	cJSON *data = c_ok(admin, "{\"command\":\"addBannedWords\",\"room\":\"gaming\",\"words\":[\"noob\"]}");
	assert_int_equal((int)c_num(data, "added"), 1);
	cJSON_Delete(data);
	expect_text(alice, bob, "gaming", "you noob", "you ****");
	expect_text(alice, bob, "general", "you noob", "you noob");
	expect_text(alice, bob, "gaming", "bad noob", "*** ****"); /* global and room words together */
	expect_text(alice, bob, "gaming", "noobish", "****ish");
	c_do(admin, "{\"command\":\"addBannedWords\",\"room\":\"gaming\",\"allow\":true,\"words\":[\"noobish\"]}");
	expect_text(alice, bob, "gaming", "noobish", "noobish");
	cJSON *words = list_words(admin, ",\"room\":\"gaming\"");
	assert_int_equal(cJSON_GetArraySize(words), 1);
	assert_true(m_has_string(words, "noob"));
	cJSON_Delete(words);
	words = list_words(admin, "");
	assert_false(m_has_string(words, "noob"));
	cJSON_Delete(words);
	/* The room's action changes with setRoomPolicy, for the next message. */
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"gaming\",\"bannedWordsAction\":\"reject\"}");
	assert_int_equal(m_send(alice, "gaming", "noob"), 135);
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"gaming\",\"bannedWordsAction\":\"mask\"}");
	expect_text(alice, bob, "gaming", "noob", "****");
	/* The counters ($SYS/broker/chat/... and getStats) since the start. */
	cJSON *stats = c_ok(admin, "{\"command\":\"getStats\"}");
	assert_true(c_num(stats, "moderation/masked") >= 8);
	assert_true(c_num(stats, "moderation/flagged") >= 1);
	assert_true(c_num(stats, "messages/rejected/banned_words") >= 3);
	cJSON_Delete(stats);
	tc_close(admin);
	tc_close(alice);
	tc_close(bob);
}

/* After the two tests above: live lists are in the state file. */
static void test_lists_survive_restart(void **state)
{
	struct tc *alice, *bob;
	(void)state;
	h_restart_broker(&H);
	open_pair(&alice, &bob, "restart", "gaming");
	assert_int_equal(tc_subscribe(bob, "chat/rooms/general/messages", 1), 1);
	expect_text(alice, bob, "gaming", "noob noobish", "**** noobish");
	expect_text(alice, bob, "general", "badge, bad", "badge, ***");
	tc_close(alice);
	tc_close(bob);
}

static void test_reload_words_file(void **state)
{
	char needle[700];
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "reload", "general");
	h_write_file(words_path, WORDS_FILE "kiwi\n...\n");
	assert_int_equal(kill(H.broker.pid, SIGHUP), 0);
	snprintf(needle, sizeof(needle), "%s:7:", words_path);
	assert_true(h_wait_log(H.broker.log, needle, TC_WAIT_MS));
	assert_true(h_wait_log(H.broker.log, "keeping the previous word lists", TC_WAIT_MS));
	expect_text(alice, bob, "general", "bad kiwi", "*** kiwi");
	h_write_file(words_path, WORDS_FILE "kiwi\n");
	assert_int_equal(kill(H.broker.pid, SIGHUP), 0);
	assert_true(h_wait_log(H.broker.log, "word files re-read: 5 banned", TC_WAIT_MS));
	expect_text(alice, bob, "general", "bad kiwi", "*** ****");
	tc_close(alice);
	tc_close(bob);
}

static void test_bad_words_file_stops_broker(void **state)
{
	char conf_path[800], log_path[800], bad_path[800], conf[2048], needle[900];
	(void)state;
	snprintf(conf_path, sizeof(conf_path), "%s/bad.conf", H.dir);
	snprintf(log_path, sizeof(log_path), "%s/bad-broker.log", H.dir);
	snprintf(bad_path, sizeof(bad_path), "%s/bad-words.txt", H.dir);
	h_write_file(bad_path, "# fine so far\nbad\n\n!!!\nworse\n");
	snprintf(conf, sizeof(conf),
		 "user root\nlistener 0 127.0.0.1\nlog_dest file %s\nplugin %s\nplugin_opt_banned_words_file %s\n",
		 log_path, CHAT_PLUGIN_PATH, bad_path);
	h_write_file(conf_path, conf);
	int status = h_run_broker(conf_path, 10000);
	assert_true(status > 0);
	snprintf(needle, sizeof(needle), "%s:4:", bad_path);
	assert_true(h_wait_log(log_path, needle, 1000));
	assert_true(h_wait_log(log_path, "refusing to start", 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_disguises),
		cmocka_unit_test(test_reject_v5_and_v311),
		cmocka_unit_test(test_flag),
		cmocka_unit_test(test_live_edit_next_message),
		cmocka_unit_test(test_room_list_and_action),
		cmocka_unit_test(test_lists_survive_restart),
		cmocka_unit_test(test_reload_words_file),
		cmocka_unit_test(test_bad_words_file_stops_broker),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * The disguises that need context, and text inside data, through the real
 * broker: digits and symbols for letters ("1d10t", "$cam", "f*ck"),
 * Cyrillic look-alikes inside Latin words, Korean typed on the two-set
 * layout ("tlqkf"), a Latin letter or digit for a jamo or between
 * syllables ("ㅅl발", "바1보"), all masked in the delivered envelope, while
 * numbers, prices, times, code and ㅋㅋ pass untouched. The string values
 * of a message's data object, at any depth, are masked, rejected or
 * flagged like its text, member names and other values left as they are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "6x-util.h"

static struct harness H;

static int setup(void **state)
{
	char conf[2048], words[600];
	(void)state;
	h_init(&H, "62-moderation-disguises");
	snprintf(words, sizeof(words), "%s/banned.txt", H.dir);
	h_write_file(words, "idiot\nscam\nfuck\nmoron\n시발\n바보\n멍청이\n");
	snprintf(conf, sizeof(conf),
		 C_ADMIN_CONF "plugin_opt_state_file %s\nplugin_opt_banned_words_file %s\n"
			      "plugin_opt_flood_rate 1000\nplugin_opt_flood_burst 1000\nplugin_opt_flood_repeat 0\n",
		 H.state_file, words);
	h_start_broker(&H, conf);
	struct tc *admin = c_admin(&H, "admin-setup", TC_V5);
	const char *rooms[] = {"general", "strict", "review"};
	for (int i = 0; i < 3; i++) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"createRoom\",\"room\":\"%s\"}", rooms[i]);
		c_do(admin, cmd);
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"alice\"}", rooms[i]);
		c_do(admin, cmd);
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"bob\"}", rooms[i]);
		c_do(admin, cmd);
	}
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"strict\",\"bannedWordsAction\":\"reject\"}");
	c_do(admin, "{\"command\":\"setRoomPolicy\",\"room\":\"review\",\"bannedWordsAction\":\"flag\"}");
	tc_close(admin);
	return 0;
}

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

/* Sends text as a JSON payload and fails unless bob reads want. */
static void expect_text(struct tc *alice, struct tc *bob, const char *text, const char *want)
{
	char payload[512], got[512];
	cJSON *s = cJSON_CreateString(text);
	char *js = cJSON_PrintUnformatted(s);
	snprintf(payload, sizeof(payload), "{\"text\":%s}", js);
	cJSON_free(js);
	cJSON_Delete(s);
	m_text(alice, bob, "general", payload, got, sizeof(got));
	if (strcmp(got, want) != 0) fail_msg("'%s' delivered as '%s', expected '%s'", text, got, want);
}

static void test_disguises_masked(void **state)
{
	static const char *const cases[][2] = {
		{"you are an 1d10t", "you are an *****"},
		{"total $cam here", "total **** here"},
		{"what the f*ck", "what the ****"},
		{"oh f**k", "oh ****"},                     /* a star for each of u and c */
		{"m0r0n!", "*****!"},
		{"\xd1\x96" "diot", "*****"},              /* Cyrillic і */
		{"sc\xd0\xb0m alert", "**** alert"},       /* Cyrillic а */
		{"tlqkf 진짜", "***** 진짜"},                /* 시발 on the two-set layout */
		{"qkqh", "****"},                           /* 바보 */
		{"ㅅl발 뭐야", "*** 뭐야"},
		{"넌 바1보", "넌 ***"},
		{"시1발", "***"},
	};
	static const char *const clean[] = {
		"see you at 10:30", "it costs $5.99, 2 for $10", "x = a*b + c; // 3 pass", "ㅋㅋㅋㅋ",
		"3시에 만나요 ㅎㅎ", "mp3, 4K and the 2nd try", "printf(\"%4$s\")",
	};
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "mask", "general");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_text(alice, bob, cases[i][0], cases[i][1]);
		cJSON *ev = m_event(bob, "general");
		m_expect(ev, "action", "mask");
		cJSON_Delete(ev);
	}
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) expect_text(alice, bob, clean[i], clean[i]);
	assert_true(tc_quiet(bob, "chat/rooms/general/events", 200));
	tc_close(alice);
	tc_close(bob);
}

/* The data member of an envelope, printed compactly (free it). */
static char *data_of(const cJSON *env)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(env, "data");
	assert_non_null(d);
	return cJSON_PrintUnformatted(d);
}

static void test_data_masked(void **state)
{
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "data", "general");
	cJSON *env = m_deliver(alice, bob, "general",
			       "{\"type\":\"image\",\"data\":{\"caption\":\"what an idiot\",\"idiot\":\"k\",\"w\":640,"
			       "\"tags\":[\"sc4m\",\"cat\",{\"note\":\"시1발 \\\"quoted\\\"\"}]}}");
	char *d = data_of(env);
	assert_string_equal(d, "{\"caption\":\"what an *****\",\"idiot\":\"k\",\"w\":640,"
			       "\"tags\":[\"****\",\"cat\",{\"note\":\"*** \\\"quoted\\\"\"}]}");
	cJSON_free(d);
	cJSON_Delete(env);
	cJSON *ev = m_event(bob, "general");
	m_expect(ev, "action", "mask");
	cJSON_Delete(ev);
	/* A clean data object is delivered byte for byte. */
	env = m_deliver(alice, bob, "general", "{\"data\":{\"idiot\":1,\"s\":\"fine \\u00e9\",\"n\":[1,2]}}");
	d = data_of(env);
	assert_string_equal(d, "{\"idiot\":1,\"s\":\"fine \xc3\xa9\",\"n\":[1,2]}");
	cJSON_free(d);
	cJSON_Delete(env);
	assert_true(tc_quiet(bob, "chat/rooms/general/events", 200));
	tc_close(alice);
	tc_close(bob);
}

static void test_data_reject_and_flag(void **state)
{
	struct tc *alice, *bob;
	(void)state;
	open_pair(&alice, &bob, "strict", "strict");
	m_inbox_sub(alice, "alice");
	assert_int_equal(m_send(alice, "strict", "{\"text\":\"hi\",\"cid\":\"d-1\",\"data\":{\"x\":\"tlqkf\"}}"), 135);
	cJSON *n = m_refusal(alice, "alice");
	m_expect(n, "reason", "banned_words");
	m_expect(n, "cid", "d-1");
	cJSON_Delete(n);
	cJSON *ev = m_event(bob, "strict");
	m_expect(ev, "action", "reject");
	cJSON_Delete(ev);
	assert_true(m_nothing_before_marker(alice, bob, "strict", "marker-strict"));
	tc_close(alice);
	tc_close(bob);

	open_pair(&alice, &bob, "review", "review");
	cJSON *env = m_deliver(alice, bob, "review", "{\"data\":{\"x\":[\"m0r0n\"]}}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(env, "flagged")));
	char *d = data_of(env);
	assert_string_equal(d, "{\"x\":[\"m0r0n\"]}"); /* flagged, not masked */
	cJSON_free(d);
	cJSON_Delete(env);
	ev = m_event(bob, "review");
	m_expect(ev, "action", "flag");
	cJSON_Delete(ev);
	tc_close(alice);
	tc_close(bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disguises_masked),
		cmocka_unit_test(test_data_masked),
		cmocka_unit_test(test_data_reject_and_flag),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}

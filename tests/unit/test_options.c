/* SPDX-License-Identifier: MIT */
/*
 * Unit test of plugin/options.c, linked on its own with stand-ins for the
 * broker's log and the two functions it borrows from other plugin files.
 * Checks the defaults, that a good value of each kind lands in its field,
 * and that a bad one stops the load with the log line README promises:
 * the option's name, the value, and what it must be.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat.h"
#include "live.h"

static char last_log[512];
static int last_level;

void mosquitto_log_printf(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	last_level = level;
}

/* Loads the one option key=value into cfg; returns the load's code. */
static int load1(struct chat_config *cfg, const char *key, const char *value)
{
	struct mosquitto_opt opt = {(char *)key, (char *)value};
	last_log[0] = '\0';
	return chat_config_load(cfg, &opt, 1);
}

/* key=value must be refused with exactly this log line. */
static void refused(const char *key, const char *value, const char *log)
{
	struct chat_config cfg;
	assert_int_equal(load1(&cfg, key, value), MOSQ_ERR_INVAL);
	assert_string_equal(last_log, log);
	assert_int_equal(last_level, MOSQ_LOG_ERR);
	chat_config_free(&cfg);
}

static void test_defaults(void **state)
{
	(void)state;
	struct chat_config cfg;
	assert_int_equal(chat_config_load(&cfg, NULL, 0), MOSQ_ERR_SUCCESS);
	assert_int_equal(cfg.limits.max_payload, 8192);
	assert_int_equal(cfg.limits.max_data, 4096);
	assert_int_equal(cfg.state_save_ms, 500);
	assert_int_equal(cfg.other_topics, OTHER_DEFER);
	assert_int_equal(cfg.dm_policy, DM_SHARED);
	assert_int_equal(cfg.sys_interval, 10);
	assert_true(cfg.require_store);
	assert_int_equal(cfg.spool_keep_ms, 3600u * 1000);
	assert_int_equal(cfg.spool_max_bytes, 64u * 1024 * 1024);
	assert_null(cfg.spool_file);
	assert_int_equal(cfg.mod.action, WORDS_MASK);
	assert_true(cfg.mod.flood_rate == 5 && cfg.mod.flood_burst == 10);
	assert_int_equal(cfg.mod.flood_repeat, 3);
	assert_int_equal(cfg.mod.flood_window_s, 30);
	assert_int_equal(cfg.mod.flood_mute_after, 3);
	assert_int_equal(cfg.mod.mute_decay_s, 3600);
	assert_int_equal(cfg.msgr.edit_window_ms, 900000);
	assert_int_equal(cfg.live.interval_ms, LIVE_INTERVAL_DEFAULT_MS);
	assert_int_equal(cfg.auth.methods, 0);
	chat_config_free(&cfg);
}

static void test_good_values(void **state)
{
	(void)state;
	struct mosquitto_opt opts[] = {
		{"node_id", ""}, {"max_payload", "1024"}, {"admins", "zed, amy,bob"}, {"state_file", "/tmp/s"},
		{"other_topics", "deny"}, {"dm_policy", "nobody"}, {"require_store", "false"},
		{"spool_keep", "60"}, {"auth", "jwt, password_file"}, {"jwt_alg", "ES256"},
		{"presence", "rooms"}, {"jwt_issuer", ""}, {"banned_words_action", "flag"},
		{"flood_rate", "0.5"}, {"flood_repeat", "7.0"}, {"flood_mute_ladder", "5,50"},
		{"edit_window", "2"}, {"edit_recent_max", "9"}, {"read_receipts_max_members", "12"},
		{"live_interval_ms", "50"}, {"live_shard_size", "0"}, {"peers", "anything: peer.c's"},
	};
	struct chat_config cfg;
	assert_int_equal(chat_config_load(&cfg, opts, (int)(sizeof(opts) / sizeof(opts[0]))), MOSQ_ERR_SUCCESS);
	assert_string_equal(cfg.node_id, "");
	assert_int_equal(cfg.limits.max_payload, 1024);
	assert_int_equal(cfg.admins.count, 3);
	assert_string_equal(cfg.admins.users[0], "amy");
	assert_true(user_list_has(&cfg.admins, "zed"));
	assert_string_equal(cfg.spool_file, "/tmp/s.spool");
	assert_int_equal(cfg.other_topics, OTHER_DENY);
	assert_int_equal(cfg.dm_policy, DM_NOBODY);
	assert_false(cfg.require_store);
	assert_int_equal(cfg.spool_keep_ms, 60000);
	assert_int_equal(cfg.auth.methods, CHAT_AUTH_JWT | CHAT_AUTH_PASSWORD_FILE);
	assert_int_equal(cfg.auth.jwt_alg, CHAT_JWT_ES256);
	assert_int_equal(cfg.auth.presence, CHAT_PRESENCE_ROOMS);
	assert_null(cfg.auth.jwt_issuer);
	assert_int_equal(cfg.mod.action, WORDS_FLAG);
	assert_true(cfg.mod.flood_rate == 0.5);
	assert_int_equal(cfg.mod.flood_repeat, 7);
	assert_int_equal(cfg.mod.mute_steps, 2);
	assert_int_equal(cfg.mod.mute_ladder[1], 50);
	assert_int_equal(cfg.msgr.edit_window_ms, 2000);
	assert_int_equal(cfg.msgr.recent_max, 9);
	assert_int_equal(cfg.msgr.receipts_max_members, 12);
	assert_int_equal(cfg.live.interval_ms, 50);
	assert_int_equal(cfg.live.shard_size, 0);
	chat_config_free(&cfg);
}

/* A short list is scanned, a long one searched by halves: both answer the
 * same for members, near misses and NULL. */
static void test_user_list(void **state)
{
	(void)state;
	struct mosquitto_opt opts[] = {
		{"admins", "bob,amy"},
		{"service_users", "s9,s1,s2,s3,s4,s5,s6,s7,s8,bridge,b"},
	};
	struct chat_config cfg;
	assert_int_equal(chat_config_load(&cfg, opts, (int)(sizeof(opts) / sizeof(opts[0]))), MOSQ_ERR_SUCCESS);
	const struct user_list *lists[] = {&cfg.admins, &cfg.service_users};
	const char *in[][11] = {
		{"amy", "bob"},
		{"b", "bridge", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"},
	};
	const char *out[] = {"", "a", "am", "amyx", "bo", "bobb", "bri", "bridge2", "s", "s10", "s0", "zed"};
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < 11 && in[l][i]; i++) assert_true(user_list_has(lists[l], in[l][i]));
		for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
			assert_false(user_list_has(lists[l], out[i]));
		}
		assert_false(user_list_has(lists[l], NULL));
	}
	chat_config_free(&cfg);
}

static void test_spool(void **state)
{
	(void)state;
	struct mosquitto_opt opts[] = {{"state_file", "/tmp/s"}, {"spool_file", "none"}};
	struct chat_config cfg;
	assert_int_equal(chat_config_load(&cfg, opts, 2), MOSQ_ERR_SUCCESS);
	assert_null(cfg.spool_file);
	chat_config_free(&cfg);
	opts[1].value = "/tmp/other";
	assert_int_equal(chat_config_load(&cfg, opts, 2), MOSQ_ERR_SUCCESS);
	assert_string_equal(cfg.spool_file, "/tmp/other");
	chat_config_free(&cfg);
}

static void test_unknown(void **state)
{
	(void)state;
	struct chat_config cfg;
	assert_int_equal(load1(&cfg, "no_such", "1"), MOSQ_ERR_SUCCESS);
	assert_string_equal(last_log, "chat: unknown option plugin_opt_no_such ignored");
	assert_int_equal(last_level, MOSQ_LOG_WARNING);
	chat_config_free(&cfg);
}

static void test_bad_values(void **state)
{
	(void)state;
	refused("max_payload", "63", "chat: plugin_opt_max_payload: '63' is not a number in 64..16777216");
	refused("max_data", "-1", "chat: plugin_opt_max_data: '-1' is not a number in 2..16777216");
	refused("spool_max_bytes", "1", "chat: plugin_opt_spool_max_bytes: '1' is not a number in 65536..17179869184");
	refused("state_save_interval", "x", "chat: plugin_opt_state_save_interval: 'x' is not a number in 0..3600000");
	refused("spool_keep", "0", "chat: plugin_opt_spool_keep: '0' is not a number in 1..604800");
	refused("edit_window", "604801", "chat: plugin_opt_edit_window: '604801' is not a number in 0..604800");
	refused("typing_interval", "99", "chat: plugin_opt_typing_interval: '99' is not a number in 100..60000");
	refused("live_interval_ms", "+50", "chat: plugin_opt_live_interval_ms: '+50' is not a number in 10..10000");
	refused("live_shard_size", "1000001", "chat: plugin_opt_live_shard_size: '1000001' is not a number in 0..1000000");
	refused("admins", "ok, b/d", "chat: plugin_opt_admins: 'b/d' is not a valid user id");
	refused("other_topics", "yes", "chat: plugin_opt_other_topics: 'yes' is not allow, deny or defer");
	refused("dm_policy", "inherit", "chat: plugin_opt_dm_policy: 'inherit' is not anyone, shared or nobody");
	refused("require_store", "1", "chat: plugin_opt_require_store: '1' is not true or false");
	refused("auth", "jwt,ldap", "chat: plugin_opt_auth: 'jwt,ldap' is not password_file, jwt or both, comma-separated");
	refused("jwt_alg", "none", "chat: plugin_opt_jwt_alg: 'none' is not HS256, RS256 or ES256");
	refused("presence", "some", "chat: plugin_opt_presence: 'some' is not all, rooms or none");
	refused("banned_words_action", "drop", "chat: plugin_opt_banned_words_action: 'drop' is not mask, reject or flag");
	refused("flood_burst", "0.5", "chat: plugin_opt_flood_burst: '0.5' is not a number in 1..1e+06");
	refused("flood_window", "1.5", "chat: plugin_opt_flood_window: '1.5' is not an integer in 1..86400");
	refused("flood_mute_decay", "2592001", "chat: plugin_opt_flood_mute_decay: '2592001' is not an integer in 0..2.592e+06");
	refused("flood_mute_ladder", "10,,60", "chat: plugin_opt_flood_mute_ladder: '10,,60' is not a list of up to 16 "
		"mute durations in seconds (e.g. 10,60,300,3600)");
	refused("flood_mute_ladder", "", "chat: plugin_opt_flood_mute_ladder: '' is not a list of mute durations in seconds");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults), cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_user_list), cmocka_unit_test(test_spool),
		cmocka_unit_test(test_unknown), cmocka_unit_test(test_bad_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

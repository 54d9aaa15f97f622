/* SPDX-License-Identifier: MIT */
/*
 * Unit test of plugin/edit.c's record of recent messages: what it holds
 * across its blocks as it grows, as eviction by the bound and by the edit
 * window frees them, and what a change check then says (a deleted message
 * the record holds refuses a reaction; one it forgot does not).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat.h"
#include "messenger_int.h"

#define SENT 1000

static struct chat c;
static char ids[SENT][ID_LEN + 1];

static void setup_chat(size_t max, uint64_t window_ms)
{
	memset(&c, 0, sizeof(c));
	rooms_init(&c.rooms);
	struct room *r = NULL;
	assert_int_equal(rooms_create(&c.rooms, "lobby", NULL, &r), 0);
	assert_int_equal(rooms_set_member(&c.rooms, r, "ann", ROLE_MEMBER), 0);
	assert_int_equal(rooms_set_member(&c.rooms, r, "bob", ROLE_MEMBER), 0);
	id_gen_init(&c.ids, "test", 1);
	c.messenger = calloc(1, sizeof(*c.messenger));
	assert_non_null(c.messenger);
	c.cfg.msgr.recent_max = max;
	c.cfg.msgr.edit_window_ms = window_ms;
}

static void teardown_chat(void)
{
	chat_recent_free(c.messenger);
	free(c.messenger);
	rooms_clear(&c.rooms);
}

/* A post by user at now, recorded; its id in ids[i]. */
static void post(size_t i, const char *user, uint64_t now)
{
	struct chat_msg m = {.op = ENVELOPE_POST};
	id_next(&c.ids, now, ids[i]);
	chat_change_record(&c, "lobby", 5, user, ids[i], &m, now);
}

static int change(enum envelope_op op, const char *user, const char *ref, uint64_t now)
{
	struct chat_msg m = {.op = op};
	memcpy(m.ref, ref, ID_LEN + 1);
	if (op == ENVELOPE_REACT) memcpy(m.reaction, "+1", 3);
	return chat_change_check(&c, user, "lobby", 5, &m, now);
}

static void delete(const char *ref, uint64_t now)
{
	struct chat_msg m = {.op = ENVELOPE_DELETE};
	memcpy(m.ref, ref, ID_LEN + 1);
	chat_change_record(&c, "lobby", 5, "ann", ref, &m, now);
}

/* Past the bound the oldest go first: the newest max are held, across
 * block boundaries, and the ones before are forgotten. */
static void test_bound(void **state)
{
	(void)state;
	const size_t max = 300;
	uint64_t now = 1700000000000ull;
	setup_chat(max, 3600u * 1000);
	c.messenger->horizon_ms = now;
	for (size_t i = 0; i < SENT; i++) post(i, i % 2 ? "bob" : "ann", now + i);
	assert_int_equal(c.messenger->recent_count, max);
	for (size_t i = 0; i < SENT; i += 7) delete(ids[i], now + SENT);
	for (size_t i = 0; i < SENT; i++) {
		bool held = i >= SENT - max;
		const char *own = i % 2 ? "bob" : "ann", *other = i % 2 ? "ann" : "bob";
		int react = change(ENVELOPE_REACT, other, ids[i], now + SENT);
		int edit = change(ENVELOPE_EDIT, own, ids[i], now + SENT);
		if (held && i % 7 == 0) {
			assert_int_equal(react, REJECT_NOT_FOUND); /* deleted */
		} else {
			assert_int_equal(react, REJECT_COUNT);
		}
		if (held && i % 7 != 0) assert_int_equal(edit, REJECT_COUNT);
		else assert_int_not_equal(edit, REJECT_COUNT); /* deleted, or older than the record */
		if (held && i % 7 != 0) {
			assert_int_equal(change(ENVELOPE_EDIT, other, ids[i], now + SENT), REJECT_NOT_ALLOWED);
		}
	}
	teardown_chat();
}

/* Past the window everything goes, whole blocks at once; the record then
 * grows again from where it stopped. */
static void test_window(void **state)
{
	(void)state;
	uint64_t now = 1700000000000ull, window = 10000;
	setup_chat(65536, window);
	c.messenger->horizon_ms = now;
	for (size_t i = 0; i < 500; i++) post(i, "ann", now + i);
	assert_int_equal(c.messenger->recent_count, 500);
	now += 500 + window + 1;
	for (size_t i = 500; i < SENT; i++) post(i, "ann", now + i);
	assert_int_equal(c.messenger->recent_count, 500);
	for (size_t i = 0; i < SENT; i++) {
		int edit = change(ENVELOPE_EDIT, "ann", ids[i], now + SENT);
		if (i >= 500) assert_int_equal(edit, REJECT_COUNT);
		else assert_int_not_equal(edit, REJECT_COUNT);
	}
	teardown_chat();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

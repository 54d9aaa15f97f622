/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of plugin/moderation_verdict.c, the pure moderation verdict:
 * rate limits per sender and per room, repeats and their window, offences
 * escalating into automatic mutes along the ladder and decaying with quiet
 * time, the word actions, service clients, and records going idle. The
 * record a verdict returns is fed into the next one, as flood.c does, and
 * the clock is the test's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "moderation_verdict.h"

static const uint32_t ladder_s[] = {10, 60, 300};
static const struct ratelimit_ladder ladder = {ladder_s, 3, 3600 * 1000};

static struct verdict_policy policy(void)
{
	struct verdict_policy p = {
		.flood_rate = 1, .flood_repeat = 0, .flood_window_s = 60, .flood_mute_after = 0,
		.ladder = &ladder, .action = WORDS_MASK,
	};
	return p;
}

/* One message at now: decides, keeps the record, returns the reason. */
static enum verdict_reason send(const struct verdict_policy *p, struct flood_record *rec, uint64_t print,
				int hits, int64_t now, struct verdict *v)
{
	struct verdict_message m = {.fingerprint = print, .word_hits = hits};
	verdict_decide(p, rec, &m, now, v);
	if (v->store_record) *rec = v->record;
	return v->reason;
}

static void test_rate_limit(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	verdict_record_init(&rec, &p, 3, 0, 0, 0);
	for (int i = 0; i < 3; i++) assert_int_equal(send(&p, &rec, 0, 0, 100, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, 0, 0, 100, &v), VERDICT_RATE_LIMITED);
	assert_int_equal(v.until_ms, 1100); /* one token a second after the bucket ran dry */
	assert_false(v.mute);
	assert_int_equal(send(&p, &rec, 0, 0, 1100, &v), VERDICT_PASS);
	(void)state;
}

static void test_escalation_and_decay(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	p.flood_mute_after = 3;
	verdict_record_init(&rec, &p, 1, 0, 0, 0);
	assert_int_equal(send(&p, &rec, 0, 0, 0, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, 0, 0, 10, &v), VERDICT_RATE_LIMITED);
	assert_int_equal(send(&p, &rec, 0, 0, 20, &v), VERDICT_RATE_LIMITED);
	assert_int_equal(send(&p, &rec, 0, 0, 30, &v), VERDICT_MUTED);
	assert_true(v.mute && v.mute_everywhere);
	assert_int_equal(v.mute_secs, 10);
	assert_int_equal(v.mute_end_ms, 10030);
	assert_int_equal(v.until_ms, 10030);
	assert_int_equal(v.mute_reason, VERDICT_RATE_LIMITED);
	/* Three offences in a new window: each time the next step of the ladder. */
	static const uint32_t steps[] = {60, 300};
	for (int round = 0; round < 2; round++) {
		int64_t t = 100000 * (round + 1);
		assert_int_equal(send(&p, &rec, 0, 0, t, &v), VERDICT_PASS);
		assert_int_equal(send(&p, &rec, 0, 0, t + 10, &v), VERDICT_RATE_LIMITED);
		assert_int_equal(send(&p, &rec, 0, 0, t + 20, &v), VERDICT_RATE_LIMITED);
		assert_int_equal(send(&p, &rec, 0, 0, t + 30, &v), VERDICT_MUTED);
		assert_int_equal(v.mute_secs, steps[round]);
	}
	/* Two quiet hours forgive two of the three levels: the next mute is the
	 * ladder's second step again. */
	int64_t t = 200030 + 2 * 3600 * 1000 + 1000;
	assert_int_equal(send(&p, &rec, 0, 0, t, &v), VERDICT_PASS);
	send(&p, &rec, 0, 0, t + 1, &v);
	send(&p, &rec, 0, 0, t + 2, &v);
	assert_int_equal(send(&p, &rec, 0, 0, t + 3, &v), VERDICT_MUTED);
	assert_int_equal(v.mute_secs, 60);
	/* Offences further apart than the window never add up to a mute. */
	t += 100000;
	for (int i = 0; i < 6; i++, t += 61000) {
		assert_int_equal(send(&p, &rec, 0, 0, t, &v), VERDICT_PASS);
		assert_int_equal(send(&p, &rec, 0, 0, t + 1, &v), VERDICT_RATE_LIMITED);
	}
	(void)state;
}

static void test_repeats_expire(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	p.flood_rate = 0;
	p.flood_repeat = 3;
	verdict_record_init(&rec, &p, 1, 0, 0, 0);
	uint64_t a = verdict_fingerprint("general", 7, "hello", 5, 42);
	uint64_t b = verdict_fingerprint("general", 7, "other", 5, 43);
	assert_int_not_equal(a, b);
	assert_int_equal(verdict_fingerprint("general", 7, NULL, 0, 0), 0);
	assert_int_not_equal(verdict_fingerprint("other", 5, "hello", 5, 42), a);
	assert_int_equal(send(&p, &rec, a, 0, 0, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, b, 0, 1, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, a, 0, 2, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, b, 0, 3, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, a, 0, 4, &v), VERDICT_REPEATED);
	assert_int_equal(v.until_ms, 60000); /* the end of a's window */
	/* After the window the same text starts afresh. */
	assert_int_equal(send(&p, &rec, a, 0, 60000, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, a, 0, 60001, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, a, 0, 60002, &v), VERDICT_REPEATED);
	/* A message without text is no repeat of anything. */
	for (int i = 0; i < 5; i++) assert_int_equal(send(&p, &rec, 0, 0, 60003 + i, &v), VERDICT_PASS);
	(void)state;
}

/* The slot choice as first written (a fresh slot in the first free one,
 * else the oldest; expired slots freed on the way): the model the verdict
 * must agree with, slot for slot. */
static bool model_repeated(struct flood_recent *rs, uint64_t h, int64_t now, int64_t window, unsigned repeat,
			   uint64_t *until)
{
	struct flood_recent *victim = &rs[0], *found = NULL;
	for (int i = 0; i < FLOOD_RECENT && !found; i++) {
		struct flood_recent *s = &rs[i];
		if (s->count && now - s->start_ms >= window) s->count = 0;
		if (s->count && s->hash == h) found = s;
		else if (victim->count && (s->count == 0 || s->start_ms < victim->start_ms)) victim = s;
	}
	if (!found) {
		found = victim;
		found->hash = h;
		found->start_ms = now;
		found->count = 0;
	}
	*until = (uint64_t)(found->start_ms + window);
	return ++found->count >= repeat;
}

/* Many senders' worth of texts (a few prints, uneven steps of the clock
 * across the window): the same answers and the same slots as the model. */
static void test_repeats_model(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	struct flood_recent model[FLOOD_RECENT];
	p.flood_rate = 0;
	p.flood_repeat = 3;
	p.flood_window_s = 1;
	verdict_record_init(&rec, &p, 1, 0, 0, 0);
	memcpy(model, rec.recent, sizeof(model));
	uint32_t x = 12345;
	int64_t now = 0;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		uint64_t print = 1 + (x >> 16) % 7;
		now += (x >> 8) % 97;
		uint64_t until = 0;
		bool refused = model_repeated(model, print, now, 1000, p.flood_repeat, &until);
		assert_int_equal(send(&p, &rec, print, 0, now, &v), refused ? VERDICT_REPEATED : VERDICT_PASS);
		if (refused) assert_int_equal(v.until_ms, until);
		for (int k = 0; k < FLOOD_RECENT; k++) {
			assert_int_equal(rec.recent[k].count, model[k].count);
			if (!model[k].count) continue;
			assert_int_equal(rec.recent[k].hash, model[k].hash);
			assert_int_equal(rec.recent[k].start_ms, model[k].start_ms);
		}
	}
	(void)state;
}

static void test_room_bucket_mutes_in_room(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	p.flood_rate = 100;
	p.room_limited = true;
	p.flood_mute_after = 2;
	verdict_record_init(&rec, &p, 100, 0.5, 1, 0);
	assert_int_equal(send(&p, &rec, 0, 0, 0, &v), VERDICT_PASS);
	assert_int_equal(send(&p, &rec, 0, 0, 1, &v), VERDICT_RATE_LIMITED);
	assert_int_equal(v.until_ms, 2000);
	assert_int_equal(send(&p, &rec, 0, 0, 2, &v), VERDICT_MUTED);
	assert_false(v.mute_everywhere); /* the room's bucket, not the sender's */
	(void)state;
}

static void test_word_actions(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	verdict_record_init(&rec, &p, 100, 0, 0, 0);
	assert_int_equal(send(&p, &rec, 0, 2, 0, &v), VERDICT_PASS);
	assert_true(v.masked);
	assert_int_equal(v.event, VEVENT_MASK);
	p.action = WORDS_FLAG;
	assert_int_equal(send(&p, &rec, 0, 1, 1, &v), VERDICT_PASS);
	assert_true(v.flagged && !v.masked);
	assert_int_equal(v.event, VEVENT_FLAG);
	p.action = WORDS_REJECT;
	assert_int_equal(send(&p, &rec, 0, 1, 2, &v), VERDICT_BANNED_WORDS);
	assert_int_equal(v.event, VEVENT_REJECT);
	assert_int_equal(send(&p, &rec, 0, 0, 3, &v), VERDICT_PASS);
	assert_int_equal(v.event, VEVENT_NONE);
	/* Flood control decides first: a refused flood is no word event. */
	p.flood_rate = 1;
	verdict_record_init(&rec, &p, 1, 0, 0, 10);
	send(&p, &rec, 0, 0, 10, &v);
	assert_int_equal(send(&p, &rec, 0, 1, 11, &v), VERDICT_RATE_LIMITED);
	assert_int_equal(v.event, VEVENT_NONE);
	(void)state;
}

static void test_service_and_purity(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec, before;
	struct verdict v;
	p.service = true;
	verdict_record_init(&rec, &p, 1, 0, 0, 0);
	for (int i = 0; i < 10; i++) assert_int_equal(send(&p, &rec, 7, 0, i, &v), VERDICT_PASS);
	assert_false(v.store_record);
	/* The same inputs give the same verdict: rec is never written. */
	p.service = false;
	memcpy(&before, &rec, sizeof(rec));
	struct verdict_message m = {.fingerprint = 7, .word_hits = 0};
	struct verdict v1, v2;
	verdict_decide(&p, &rec, &m, 5, &v1);
	verdict_decide(&p, &rec, &m, 5, &v2);
	assert_memory_equal(&rec, &before, sizeof(rec));
	assert_int_equal(v1.reason, v2.reason);
	assert_memory_equal(&v1.record, &v2.record, sizeof(v1.record));
	(void)state;
}

static void test_idle(void **state)
{
	struct verdict_policy p = policy();
	struct flood_record rec;
	struct verdict v;
	p.flood_mute_after = 1;
	verdict_record_init(&rec, &p, 1, 0, 0, 0);
	assert_true(verdict_record_idle(&p, &rec, 0));
	send(&p, &rec, 0, 0, 0, &v);
	assert_false(verdict_record_idle(&p, &rec, 10)); /* bucket not full */
	assert_int_equal(send(&p, &rec, 0, 0, 10, &v), VERDICT_MUTED);
	assert_false(verdict_record_idle(&p, &rec, 70000)); /* strike not forgiven yet */
	assert_true(verdict_record_idle(&p, &rec, 10 + 3600 * 1000));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_escalation_and_decay),
		cmocka_unit_test(test_repeats_expire),
		cmocka_unit_test(test_repeats_model),
		cmocka_unit_test(test_room_bucket_mutes_in_room),
		cmocka_unit_test(test_word_actions),
		cmocka_unit_test(test_service_and_purity),
		cmocka_unit_test(test_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

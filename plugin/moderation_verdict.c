/* SPDX-License-Identifier: MIT */
/*
 * The pure verdict of moderation_verdict.h. Flood control: a token bucket
 * per sender (all rooms) and one per sender and room for rooms whose
 * policy limits floods (a room can be stricter than the broker, not
 * looser); repeats: the Nth identical message (same room, same normalized
 * text) within the window is refused, also with other messages between
 * (the last FLOOD_RECENT distinct ones are remembered). Each refusal is an
 * offence; flood_mute_after offences within the window mute the sender
 * for the next step of the ladder (common/ratelimit.h): everywhere when the
 * per-sender bucket ran dry, in the room otherwise. Then banned words: the
 * room's action says reject, mask or flag.
 */
#include "moderation_verdict.h"

#include <string.h>

#include "fnv.h"

void verdict_record_init(struct flood_record *rec, const struct verdict_policy *p, double burst,
			 double room_rate, double room_burst, int64_t now_ms)
{
	memset(rec, 0, sizeof(*rec));
	if (p->flood_rate > 0) ratelimit_init(&rec->bucket, p->flood_rate, burst, now_ms);
	if (room_rate > 0) ratelimit_init(&rec->room, room_rate, room_burst, now_ms);
	rec->offence_start_ms = INT64_MIN / 2;
}

uint64_t verdict_fingerprint(const char *room, size_t room_len, const char *text, size_t len, uint64_t print)
{
	if (!text || len == 0) return 0;
	/* The room and a NUL after it, so that no room is a prefix of another. */
	uint64_t h = fnv64_step(fnv64(FNV64_OFFSET, room, room_len), 0);
	/* The print in one step: it is a hash already, no need to go byte by byte. */
	h = print == 0 ? fnv64(h ^ 1, text, len) : fnv64_step(h, print);
	return h ? h : 1;
}

/* The slot of fingerprint h among the recent messages (expired ones are
 * freed first), or a fresh one in place of a free or the oldest slot. */
static struct flood_recent *recent_slot(struct flood_record *r, uint64_t h, int64_t now, int64_t window)
{
	/* The fresh slot is the first free one, else the oldest (the first
	 * of equals); the slots up to the one found are expired on the way. */
	struct flood_recent *victim = NULL, *oldest = &r->recent[0];
	for (int i = 0; i < FLOOD_RECENT; i++) {
		struct flood_recent *s = &r->recent[i];
		if (s->count) {
			if (now - s->start_ms < window) {
				if (s->hash == h) return s;
				if (s->start_ms < oldest->start_ms) oldest = s;
				continue;
			}
			s->count = 0;
		}
		if (!victim) victim = s;
	}
	if (!victim) victim = oldest;
	victim->hash = h;
	victim->start_ms = now;
	victim->count = 0;
	return victim;
}

/* Counts the message among the recent ones; true when it is one repeat
 * too many, with *until_ms the end of its window. */
static bool repeated(const struct verdict_policy *p, struct flood_record *r, uint64_t print, int64_t now,
		     uint64_t *until_ms)
{
	int64_t window = (int64_t)p->flood_window_s * 1000;
	if (p->flood_repeat < 2 || print == 0) return false;
	struct flood_recent *s = recent_slot(r, print, now, window);
	*until_ms = (uint64_t)(s->start_ms + window);
	return ++s->count >= p->flood_repeat;
}

/* A refusal for why; the offence that reaches flood_mute_after in the
 * window turns it into a mute for the ladder's next step. */
static void offence(const struct verdict_policy *p, bool everywhere, enum verdict_reason why, uint64_t until_ms,
		    int64_t now, struct verdict *v)
{
	struct flood_record *r = &v->record;
	int64_t window = (int64_t)p->flood_window_s * 1000;
	v->reason = why;
	v->until_ms = until_ms;
	if (p->flood_mute_after == 0) return;
	if (now - r->offence_start_ms >= window) {
		r->offence_start_ms = now;
		r->offences = 0;
	}
	if (++r->offences < p->flood_mute_after) return;
	r->offences = 0;
	uint32_t secs = ratelimit_strike(&r->strikes, p->ladder, now);
	v->mute = true;
	v->mute_everywhere = everywhere;
	v->mute_secs = secs;
	v->mute_end_ms = (uint64_t)now + (uint64_t)secs * 1000u;
	v->mute_reason = why;
	v->reason = VERDICT_MUTED;
	v->until_ms = v->mute_end_ms;
}

/* When a bucket has a token again, as a time for the notice. */
static uint64_t retry_at(int64_t now, int64_t wait)
{
	if (wait == INT64_MAX || wait > 86400000) wait = 86400000;
	return (uint64_t)(now + wait);
}

/* Flood control; true when it refused the message (v filled in). */
static bool flood_decide(const struct verdict_policy *p, const struct verdict_message *m, int64_t now,
			 struct verdict *v)
{
	struct flood_record *r = &v->record;
	struct ratelimit user = r->bucket, room = r->room; /* then with this message's token taken */
	int64_t wait_user = p->flood_rate > 0 ? ratelimit_wait_take(&r->bucket, 1, now, &user) : 0;
	int64_t wait_room = p->room_limited ? ratelimit_wait_take(&r->room, 1, now, &room) : 0;
	if (wait_user > 0 || wait_room > 0) {
		int64_t wait = wait_user > wait_room ? wait_user : wait_room;
		offence(p, wait_user > 0, VERDICT_RATE_LIMITED, retry_at(now, wait), now, v);
		return true;
	}
	/* Both have a token: take them (a refused message takes none). */
	if (p->flood_rate > 0) r->bucket = user;
	if (p->room_limited) r->room = room;
	uint64_t until = 0;
	if (!repeated(p, r, m->fingerprint, now, &until)) return false;
	offence(p, false, VERDICT_REPEATED, until, now, v);
	return true;
}

void verdict_decide(const struct verdict_policy *p, const struct flood_record *rec, const struct verdict_message *m,
		    int64_t now_ms, struct verdict *out)
{
	/* Field by field: the record is most of the struct and is copied anyway. */
	out->reason = VERDICT_PASS;
	out->until_ms = 0;
	out->masked = out->flagged = false;
	out->event = VEVENT_NONE;
	out->mute = out->mute_everywhere = false;
	out->mute_end_ms = 0;
	out->mute_secs = 0;
	out->mute_reason = VERDICT_PASS;
	out->record = *rec;
	out->store_record = !p->service;
	if (!p->service && flood_decide(p, m, now_ms, out)) return;
	if (m->word_hits <= 0) return;
	switch (p->action) {
	case WORDS_REJECT:
		out->reason = VERDICT_BANNED_WORDS;
		out->event = VEVENT_REJECT;
		break;
	case WORDS_FLAG:
		out->flagged = true;
		out->event = VEVENT_FLAG;
		break;
	default:
		out->masked = true;
		out->event = VEVENT_MASK;
		break;
	}
}

bool verdict_record_idle(const struct verdict_policy *p, const struct flood_record *rec, int64_t now_ms)
{
	int64_t window = (int64_t)p->flood_window_s * 1000;
	if (p->flood_rate > 0 && ratelimit_wait_ms(&rec->bucket, rec->bucket.burst, now_ms) > 0) return false;
	if (now_ms - rec->offence_start_ms < window) return false;
	for (int i = 0; i < FLOOD_RECENT; i++) {
		if (rec->recent[i].count && now_ms - rec->recent[i].start_ms < window) return false;
	}
	return ratelimit_strike_level(&rec->strikes, p->ladder, now_ms) == 0;
}

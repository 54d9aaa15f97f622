/* SPDX-License-Identifier: MIT */
/*
 * Flood control on the message path: a token bucket per user (all rooms,
 * plugin_opt_flood_rate / flood_burst), one per user and room for rooms
 * whose policy sets floodRate or floodBurst (in addition: a room can be
 * stricter than the broker, not looser), and repeats: the Nth identical
 * message (same room, same text after normalization) within the
 * window is refused, also when other messages come between (the last
 * FLOOD_RECENT distinct messages are remembered). Each refusal is an offence; flood_mute_after offences
 * within the window mute the sender automatically, through the sanctions
 * table, for the next step of the ladder (common/ratelimit.h): everywhere
 * when the per-user bucket ran dry, in the room otherwise.
 *
 * State lives in two uthash tables keyed by "user" and "user/room". A
 * lookup builds its key on the stack; an entry is allocated on a user's
 * first message and then reused, so the steady state allocates nothing. A
 * sweep on the tick forgets entries that carry no information any more
 * (bucket full again, no repeat or offence in the window, strikes decayed).
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "chat.h"
#include "normalize.h"
#include "ratelimit.h"

#define FLOOD_SWEEP_MS 10000
/* Entries a sweep looks at per call: a pass over a million users is spread
 * over many ticks and messages instead of stalling one of them. */
#define FLOOD_SWEEP_BATCH 2048
/* Distinct recent messages remembered per user for repeats: enough to
 * catch a spammer alternating a few texts, small enough to stay cheap. */
#define FLOOD_RECENT 4

/* One recent message: its fingerprint, how often it came since start_ms. */
struct flood_recent {
	uint64_t hash;
	int64_t start_ms;
	unsigned count; /* 0 = free */
};

struct flood_user {
	char user[TOPIC_ID_MAX + 1];
	struct ratelimit bucket; /* unused when flood_rate is 0 */
	struct ratelimit_strikes strikes;
	struct flood_recent recent[FLOOD_RECENT];
	unsigned offences;       /* refusals since offence_start_ms */
	int64_t offence_start_ms;
	UT_hash_handle hh;
};

struct flood_room {
	char key[SANCTION_KEY_MAX + 1]; /* "user/room" */
	struct ratelimit bucket;
	UT_hash_handle hh;
};

struct flood {
	struct flood_user *users;
	struct flood_room *rooms;
	struct ratelimit_ladder ladder;
	int64_t last_sweep_ms;
	bool sweeping;                  /* a pass is under way */
	struct flood_user *user_cursor; /* next entries the pass looks at */
	struct flood_room *room_cursor;
	size_t forgot_users, forgot_rooms;
};

int flood_init(struct chat *c)
{
	const struct moderation_config *cfg = &c->cfg.mod;
	struct flood *f = calloc(1, sizeof(*f));
	if (!f) return MOSQ_ERR_NOMEM;
	c->flood = f;
	f->ladder = ratelimit_ladder_default;
	if (cfg->mute_ladder) {
		f->ladder.mute_s = cfg->mute_ladder;
		f->ladder.nsteps = cfg->mute_steps;
	}
	f->ladder.decay_ms = (int64_t)cfg->mute_decay_s * 1000;
	return MOSQ_ERR_SUCCESS;
}

void flood_free(struct chat *c)
{
	struct flood *f = c->flood;
	struct flood_user *u, *ut;
	struct flood_room *r, *rt;
	if (!f) return;
	HASH_ITER(hh, f->users, u, ut) {
		HASH_DEL(f->users, u);
		free(u);
	}
	HASH_ITER(hh, f->rooms, r, rt) {
		HASH_DEL(f->rooms, r);
		free(r);
	}
	free(f);
	c->flood = NULL;
}

size_t flood_tracked(const struct chat *c)
{
	const struct flood *f = c->flood;
	return f ? HASH_COUNT(f->users) + HASH_COUNT(f->rooms) : 0;
}

/* The sender's entry, created on first use; NULL on out of memory or an
 * id too long to be a user id (then no flood state: let it through). */
static struct flood_user *user_entry(struct chat *c, const char *user, int64_t now)
{
	struct flood *f = c->flood;
	struct flood_user *u;
	size_t len = strlen(user);
	HASH_FIND(hh, f->users, user, len, u);
	if (u || len > TOPIC_ID_MAX) return u;
	u = calloc(1, sizeof(*u));
	if (!u) return NULL;
	memcpy(u->user, user, len + 1);
	if (c->cfg.mod.flood_rate > 0) ratelimit_init(&u->bucket, c->cfg.mod.flood_rate, c->cfg.mod.flood_burst, now);
	u->offence_start_ms = INT64_MIN / 2;
	HASH_ADD(hh, f->users, user, len, u);
	return u;
}

/* The user's bucket in room r when r's policy limits floods; NULL when it
 * does not (or out of memory). Follows policy edits at once. */
static struct flood_room *room_entry(struct chat *c, const char *user, const char *room, const struct room *r,
				     int64_t now)
{
	struct flood *f = c->flood;
	struct flood_room *fr;
	char key[SANCTION_KEY_MAX + 1];
	if (!r || (r->policy.flood_rate <= 0 && r->policy.flood_burst <= 0)) return NULL;
	double rate = r->policy.flood_rate > 0 ? r->policy.flood_rate : c->cfg.mod.flood_rate;
	double burst = r->policy.flood_burst > 0 ? r->policy.flood_burst : c->cfg.mod.flood_burst;
	int n = snprintf(key, sizeof(key), "%s/%s", user, room);
	if (rate <= 0 || n < 0 || (size_t)n >= sizeof(key)) return NULL;
	HASH_FIND(hh, f->rooms, key, (size_t)n, fr);
	if (fr) {
		if (fr->bucket.rate != rate || fr->bucket.burst != burst) ratelimit_configure(&fr->bucket, rate, burst, now);
		return fr;
	}
	fr = calloc(1, sizeof(*fr));
	if (!fr) return NULL;
	memcpy(fr->key, key, (size_t)n + 1);
	ratelimit_init(&fr->bucket, rate, burst, now);
	HASH_ADD(hh, f->rooms, key, (size_t)n, fr);
	return fr;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* What makes two messages "identical": the room and the normalized text
 * (letters only, case and width folded, repeats collapsed), whose hash
 * print (normalize_print) the word filter's pass computed already; the raw
 * text when it has no letters at all (print 0: emoji, punctuation). */
static uint64_t fingerprint(const char *room, const char *text, size_t len, uint64_t print)
{
	uint64_t h = fnv(NORM_FNV_OFFSET, room, strlen(room) + 1);
	if (print == 0) return fnv(h ^ 1, text, len);
	return fnv(h, (const char *)&print, sizeof(print));
}

/* The slot of fingerprint h among u's recent messages (expired ones are
 * freed first), or a fresh one in place of a free or the oldest slot. */
static struct flood_recent *recent_slot(struct flood_user *u, uint64_t h, int64_t now, int64_t window)
{
	struct flood_recent *victim = &u->recent[0];
	for (int i = 0; i < FLOOD_RECENT; i++) {
		struct flood_recent *r = &u->recent[i];
		if (r->count && now - r->start_ms >= window) r->count = 0;
		if (r->count && r->hash == h) return r;
		if (victim->count && (r->count == 0 || r->start_ms < victim->start_ms)) victim = r;
	}
	victim->hash = h;
	victim->start_ms = now;
	victim->count = 0;
	return victim;
}

/* Counts this message among the sender's recent ones; true when it is one
 * repeat too many, with *until_ms the end of its window. */
static bool repeated(struct chat *c, struct flood_user *u, const char *room, const char *text, size_t len,
		     uint64_t print, int64_t now, uint64_t *until_ms)
{
	const struct moderation_config *cfg = &c->cfg.mod;
	int64_t window = (int64_t)cfg->flood_window_s * 1000;
	if (cfg->flood_repeat < 2 || !text || len == 0) return false;
	struct flood_recent *r = recent_slot(u, fingerprint(room, text, len, print), now, window);
	*until_ms = (uint64_t)(r->start_ms + window);
	return ++r->count >= cfg->flood_repeat;
}

/* Mutes user (in room, or everywhere) until end_ms, tells the room. */
static void auto_mute(struct chat *c, const char *user, const char *room, bool everywhere, uint64_t end_ms,
		      uint32_t secs, int why)
{
	char extra[160];
	if (sanctions_mute(&c->sanctions, user, everywhere ? NULL : room, end_ms) != CHAT_OK) return;
	chat_state_dirty(c);
	c->stats.auto_mutes++;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "automatic mute of %s %s%s for %u s (%s)", user,
			     everywhere ? "everywhere" : "in ", everywhere ? "" : room, secs,
			     chat_reject_name((enum chat_reject)why));
	int n = snprintf(extra, sizeof(extra), ",\"reason\":\"%s\",\"scope\":\"%s\",\"seconds\":%u,\"until\":%llu",
			 chat_reject_name((enum chat_reject)why), everywhere ? "all" : "room", secs,
			 (unsigned long long)end_ms);
	if (n > 0 && (size_t)n < sizeof(extra)) moderation_event(c, room, "mute", user, extra, (size_t)n);
}

/* Records a refusal (why, until_ms for the notice); the offence that
 * reaches flood_mute_after in the window turns it into a mute. Returns true
 * (refused) for the caller's convenience. */
static bool offence(struct chat *c, struct flood_user *u, const char *room, bool everywhere, int why,
		    uint64_t until_ms, int64_t now, struct moderation_verdict *v)
{
	const struct moderation_config *cfg = &c->cfg.mod;
	int64_t window = (int64_t)cfg->flood_window_s * 1000;
	v->reason = why;
	v->until_ms = until_ms;
	if (cfg->flood_mute_after == 0) return true;
	if (now - u->offence_start_ms >= window) {
		u->offence_start_ms = now;
		u->offences = 0;
	}
	if (++u->offences < cfg->flood_mute_after) return true;
	u->offences = 0;
	uint32_t secs = ratelimit_strike(&u->strikes, &c->flood->ladder, now);
	uint64_t end = (uint64_t)now + (uint64_t)secs * 1000u;
	auto_mute(c, u->user, room, everywhere, end, secs, why);
	v->reason = REJECT_MUTED;
	v->until_ms = end;
	return true;
}

/* When a bucket has a token again, as a time for the notice. */
static uint64_t retry_at(int64_t now, int64_t wait)
{
	if (wait == INT64_MAX || wait > 86400000) wait = 86400000;
	return (uint64_t)(now + wait);
}

bool flood_refuses(struct chat *c, const char *user, const char *room, const struct room *r, const char *text,
		   size_t len, uint64_t print, uint64_t now_ms, struct moderation_verdict *v)
{
	int64_t now = (int64_t)now_ms;
	flood_sweep(c, now_ms); /* also here: a broker with per_listener_settings true has no ticks */
	struct flood_user *u = user_entry(c, user, now);
	if (!u) return false;
	struct flood_room *fr = room_entry(c, user, room, r, now);
	int64_t wait_user = c->cfg.mod.flood_rate > 0 ? ratelimit_wait_ms(&u->bucket, 1, now) : 0;
	int64_t wait_room = fr ? ratelimit_wait_ms(&fr->bucket, 1, now) : 0;
	if (wait_user > 0 || wait_room > 0) {
		int64_t wait = wait_user > wait_room ? wait_user : wait_room;
		return offence(c, u, room, wait_user > 0, REJECT_RATE_LIMITED, retry_at(now, wait), now, v);
	}
	if (c->cfg.mod.flood_rate > 0) ratelimit_allow(&u->bucket, now);
	if (fr) ratelimit_allow(&fr->bucket, now);
	uint64_t until = 0;
	if (repeated(c, u, room, text, len, print, now, &until))
		return offence(c, u, room, false, REJECT_REPEATED, until, now, v);
	return false;
}

/* True when forgetting u changes nothing: a new entry would be the same. */
static bool user_idle(const struct chat *c, const struct flood_user *u, int64_t now)
{
	const struct flood *f = c->flood;
	int64_t window = (int64_t)c->cfg.mod.flood_window_s * 1000;
	if (c->cfg.mod.flood_rate > 0 && ratelimit_wait_ms(&u->bucket, u->bucket.burst, now) > 0) return false;
	if (now - u->offence_start_ms < window) return false;
	for (int i = 0; i < FLOOD_RECENT; i++) {
		if (u->recent[i].count && now - u->recent[i].start_ms < window) return false;
	}
	return ratelimit_strike_level(&u->strikes, &f->ladder, now) == 0;
}

/* Looks at up to budget entries from the cursors on; returns what is left
 * of the budget. Only the sweep deletes entries and new ones are appended,
 * so a cursor stays valid between calls. */
static size_t sweep_some(struct chat *c, int64_t now, size_t budget)
{
	struct flood *f = c->flood;
	while (f->user_cursor && budget > 0) {
		struct flood_user *u = f->user_cursor;
		f->user_cursor = u->hh.next;
		budget--;
		if (!user_idle(c, u, now)) continue;
		HASH_DEL(f->users, u);
		free(u);
		f->forgot_users++;
	}
	while (f->room_cursor && budget > 0) {
		struct flood_room *r = f->room_cursor;
		f->room_cursor = r->hh.next;
		budget--;
		if (ratelimit_wait_ms(&r->bucket, r->bucket.burst, now) > 0) continue;
		HASH_DEL(f->rooms, r);
		free(r);
		f->forgot_rooms++;
	}
	return budget;
}

void flood_sweep(struct chat *c, uint64_t now_ms)
{
	struct flood *f = c->flood;
	int64_t now = (int64_t)now_ms;
	if (!f) return;
	if (!f->sweeping) {
		if (now - f->last_sweep_ms < FLOOD_SWEEP_MS) return;
		f->last_sweep_ms = now;
		f->sweeping = true;
		f->user_cursor = f->users;
		f->room_cursor = f->rooms;
		f->forgot_users = f->forgot_rooms = 0;
	}
	if (sweep_some(c, now, FLOOD_SWEEP_BATCH) == 0 && (f->user_cursor || f->room_cursor)) return;
	f->sweeping = false;
	if (f->forgot_users || f->forgot_rooms)
		mosquitto_log_printf(MOSQ_LOG_DEBUG, CHAT_LOG_PREFIX "flood sweep: forgot %zu users and %zu room "
				     "buckets, %u and %u tracked", f->forgot_users, f->forgot_rooms,
				     HASH_COUNT(f->users), HASH_COUNT(f->rooms));
}

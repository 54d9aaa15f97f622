/* SPDX-License-Identifier: MIT */
/*
 * Flood control's state on the message path: the sender's record
 * (moderation_verdict.h: buckets, recent messages, offences, strikes) kept
 * in two uthash tables keyed by "user" and "user/room", the gathering of a
 * record for the pure verdict, the storing of the record it returns, and
 * the automatic mute it may ask for (through the sanctions table). The
 * decisions themselves are in moderation_verdict.c.
 *
 * A lookup builds its key on the stack; an entry is allocated on a
 * sender's first stored record and then reused, so the steady state
 * allocates nothing. A sweep on the tick (and on messages, for brokers
 * without ticks) forgets entries that carry no information any more.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "chat.h"
#include "flood.h"
#include "fnv.h"

/* The tables hash their keys (short ids) with the project's FNV-1a
 * (common/fnv.h) instead of uthash's default: fewer instructions for a
 * key of a few bytes, on every message. Only this file touches them. */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = fnv32(FNV32_OFFSET, (keyptr), (keylen)))

#define FLOOD_SWEEP_MS 10000
/* Entries a sweep looks at per call: a pass over a million users is spread
 * over many ticks and messages instead of stalling one of them. */
#define FLOOD_SWEEP_BATCH 2048
struct flood_user {
	char user[TOPIC_ID_MAX + 1];
	struct flood_record rec; /* rec.room unused: room buckets live in flood_room */
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
	struct flood_user *last;        /* the sender found last: mostly the next one too */
	struct flood_user *user_cursor; /* next entries the pass looks at */
	struct flood_room *room_cursor;
	size_t forgot_users, forgot_rooms;
};

int flood_init(struct chat *c)
{
	const struct moderation_config *cfg = &c->cfg.mod;
	struct flood *f = mosquitto_calloc(1, sizeof(*f));
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
		mosquitto_free(u);
	}
	HASH_ITER(hh, f->rooms, r, rt) {
		HASH_DEL(f->rooms, r);
		mosquitto_free(r);
	}
	mosquitto_free(f);
	c->flood = NULL;
}

size_t flood_tracked(const struct chat *c)
{
	const struct flood *f = c->flood;
	return f ? HASH_COUNT(f->users) + HASH_COUNT(f->rooms) : 0;
}

void flood_policy(const struct chat *c, const struct room *r, bool service, struct verdict_policy *p)
{
	const struct moderation_config *cfg = &c->cfg.mod;
	p->flood_rate = cfg->flood_rate;
	p->room_limited = r && (r->policy.flood_rate > 0 || r->policy.flood_burst > 0) &&
			  (r->policy.flood_rate > 0 || cfg->flood_rate > 0);
	p->flood_repeat = cfg->flood_repeat;
	p->flood_window_s = cfg->flood_window_s;
	p->flood_mute_after = cfg->flood_mute_after;
	p->ladder = &c->flood->ladder;
	p->service = service;
}

/* The rate and burst of r's bucket (the broker's where the room sets none). */
static void room_limits(const struct chat *c, const struct room *r, double *rate, double *burst)
{
	*rate = r->policy.flood_rate > 0 ? r->policy.flood_rate : c->cfg.mod.flood_rate;
	*burst = r->policy.flood_burst > 0 ? r->policy.flood_burst : c->cfg.mod.flood_burst;
}

/* "user/room" into key; false when it does not fit. */
static bool room_key(char key[SANCTION_KEY_MAX + 1], const char *user, const char *room, size_t *n)
{
	int k = snprintf(key, SANCTION_KEY_MAX + 1, "%s/%s", user, room);
	if (k < 0 || (size_t)k > SANCTION_KEY_MAX) return false;
	*n = (size_t)k;
	return true;
}

const struct flood_record *flood_gather(const struct chat *c, const char *user, const char *room,
					const struct room *r, const struct verdict_policy *p, int64_t now,
					struct flood_record *rec, void **entry)
{
	const struct flood *f = c->flood;
	struct flood_user *u;
	double rate = 0, burst = 0;
	u = f->last;
	if (!u || strcmp(u->user, user) != 0) {
		HASH_FIND(hh, f->users, user, strlen(user), u);
		if (u) c->flood->last = u;
	}
	*entry = u;
	/* Without a room bucket the stored record is the whole record: no copy. */
	if (u && !p->room_limited) return &u->rec;
	if (u) *rec = u->rec;
	else verdict_record_init(rec, p, c->cfg.mod.flood_burst, 0, 0, now);
	if (!p->room_limited) return rec;
	room_limits(c, r, &rate, &burst);
	char key[SANCTION_KEY_MAX + 1];
	size_t n;
	struct flood_room *fr = NULL;
	if (room_key(key, user, room, &n)) HASH_FIND(hh, f->rooms, key, n, fr);
	if (!fr) {
		ratelimit_init(&rec->room, rate, burst, now);
		return rec;
	}
	rec->room = fr->bucket;
	/* A policy edit applies at once, keeping the tokens saved. */
	if (rec->room.rate != rate || rec->room.burst != burst) ratelimit_configure(&rec->room, rate, burst, now);
	return rec;
}

/* The sender's entry, created on first use; NULL on out of memory or an
 * id too long to be a user id (then no flood state is kept). */
static struct flood_user *user_entry(struct chat *c, const char *user)
{
	struct flood *f = c->flood;
	struct flood_user *u;
	size_t len = strlen(user);
	HASH_FIND(hh, f->users, user, len, u);
	if (u || len > TOPIC_ID_MAX) return u;
	u = mosquitto_calloc(1, sizeof(*u));
	if (!u) return NULL;
	memcpy(u->user, user, len + 1);
	HASH_ADD(hh, f->users, user, len, u);
	return u;
}

static struct flood_room *room_entry(struct chat *c, const char *user, const char *room)
{
	struct flood *f = c->flood;
	struct flood_room *fr;
	char key[SANCTION_KEY_MAX + 1];
	size_t n;
	if (!room_key(key, user, room, &n)) return NULL;
	HASH_FIND(hh, f->rooms, key, n, fr);
	if (fr) return fr;
	fr = mosquitto_calloc(1, sizeof(*fr));
	if (!fr) return NULL;
	memcpy(fr->key, key, n + 1);
	HASH_ADD(hh, f->rooms, key, n, fr);
	return fr;
}

void flood_store(struct chat *c, void *entry, const char *user, const char *room, const struct verdict_policy *p,
		 const struct flood_record *rec, uint64_t now_ms)
{
	struct flood_user *u = entry ? entry : user_entry(c, user);
	if (u) u->rec = *rec;
	if (p->room_limited) {
		struct flood_room *fr = room_entry(c, user, room);
		if (fr) fr->bucket = rec->room;
	}
	flood_sweep(c, now_ms);
}

void flood_mute(struct chat *c, const char *user, const char *room, const struct verdict *v, const char *why)
{
	if (sanctions_mute(&c->sanctions, user, v->mute_everywhere ? NULL : room, v->mute_end_ms) != CHAT_OK) return;
	chat_state_dirty(c);
	c->stats.auto_mutes++;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "automatic mute of %s %s%s for %u s (%s)", user,
			     v->mute_everywhere ? "everywhere" : "in ", v->mute_everywhere ? "" : room, v->mute_secs,
			     why);
}

/* True when forgetting u changes nothing: a new entry would be the same. */
static bool user_idle(const struct chat *c, const struct flood_user *u, int64_t now)
{
	struct verdict_policy p;
	flood_policy(c, NULL, false, &p);
	return verdict_record_idle(&p, &u->rec, now);
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
		if (f->last == u) f->last = NULL;
		HASH_DEL(f->users, u);
		mosquitto_free(u);
		f->forgot_users++;
	}
	while (f->room_cursor && budget > 0) {
		struct flood_room *r = f->room_cursor;
		f->room_cursor = r->hh.next;
		budget--;
		if (ratelimit_wait_ms(&r->bucket, r->bucket.burst, now) > 0) continue;
		HASH_DEL(f->rooms, r);
		mosquitto_free(r);
		f->forgot_rooms++;
	}
	return budget;
}

/* A pass, once FLOOD_SWEEP_MS after the last: out of line, so that the
 * answer of nearly every call (every tick and every message), "not yet",
 * costs a compare and no saving of registers. */
CHAT_OUT_OF_LINE static void sweep_pass(struct chat *c, int64_t now)
{
	struct flood *f = c->flood;
	if (!f->sweeping) {
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

void flood_sweep(struct chat *c, uint64_t now_ms)
{
	const struct flood *f = c->flood;
	if (!f || (!f->sweeping && (int64_t)now_ms - f->last_sweep_ms < FLOOD_SWEEP_MS)) return;
	sweep_pass(c, (int64_t)now_ms);
}

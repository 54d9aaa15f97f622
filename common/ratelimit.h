/* SPDX-License-Identifier: MIT */
/*
 * Flood control arithmetic: a token bucket and an escalation ladder for
 * automatic mutes. Pure functions over small structs the caller owns (one
 * per user, one per user and room); the caller passes the clock in
 * milliseconds, so tests drive time and nothing here reads a clock,
 * allocates or locks.
 */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat_err.h"

/* A token bucket: refills at rate tokens per second, holds at most burst. */
struct ratelimit {
	double rate;
	double burst;
	double tokens;
	int64_t last_ms; /* time of the last refill */
};

/*
 * Sets up a full bucket at now_ms. rate >= 0 (0: never refills), burst >= 1,
 * both finite; returns 0 or CHAT_ERR_INVAL.
 */
int ratelimit_init(struct ratelimit *rl, double rate, double burst, int64_t now_ms);

/*
 * Changes rate and burst (a room policy edit) keeping the tokens saved,
 * capped at the new burst. Returns 0 or CHAT_ERR_INVAL as ratelimit_init.
 */
int ratelimit_configure(struct ratelimit *rl, double rate, double burst, int64_t now_ms);

/*
 * Takes cost tokens at now_ms if the bucket has them and returns true;
 * otherwise takes nothing and returns false. A clock that goes back is
 * treated as standing still.
 */
bool ratelimit_take(struct ratelimit *rl, double cost, int64_t now_ms);

/* ratelimit_take with a cost of 1: one message. */
bool ratelimit_allow(struct ratelimit *rl, int64_t now_ms);

/*
 * Milliseconds from now_ms until cost tokens will be there (0 if they are
 * now), for telling a sender when to retry; INT64_MAX if never (rate 0, or
 * cost above burst). Does not change the bucket.
 */
int64_t ratelimit_wait_ms(const struct ratelimit *rl, double cost, int64_t now_ms);
/*
 * ratelimit_wait_ms, and when that is 0, *after gets rl as ratelimit_take
 * would leave it (cost tokens taken at now_ms): the check and the take in
 * one refill, for a caller that takes only once every bucket has tokens.
 * rl is not changed; *after only on 0.
 */
int64_t ratelimit_wait_take(const struct ratelimit *rl, double cost, int64_t now_ms, struct ratelimit *after);

/*
 * Repeat offences of one sender. Each offence raises the level by one and
 * returns the mute for that level from a ladder (by default 10 s, 60 s,
 * 300 s, 3600 s, then 3600 s again); each full quiet period since the last
 * offence (by default one hour) lowers the level by one first.
 */
struct ratelimit_strikes {
	uint32_t level;  /* offences still counted, 0 = clean */
	int64_t last_ms; /* time of the last offence */
};

/* An escalation policy: mute seconds per level and the quiet period. */
struct ratelimit_ladder {
	const uint32_t *mute_s; /* mute_s[0] for the first offence, ... */
	size_t nsteps;          /* >= 1; later offences reuse the last step */
	int64_t decay_ms;       /* quiet time that forgives one level; <= 0: never */
};

/* The default ladder described above. */
extern const struct ratelimit_ladder ratelimit_ladder_default;

/*
 * Records an offence at now_ms and returns the mute in seconds. ladder NULL
 * means the default.
 */
uint32_t ratelimit_strike(struct ratelimit_strikes *s, const struct ratelimit_ladder *ladder, int64_t now_ms);

/* The level at now_ms after decay, without recording anything. */
uint32_t ratelimit_strike_level(const struct ratelimit_strikes *s, const struct ratelimit_ladder *ladder,
				int64_t now_ms);

#endif

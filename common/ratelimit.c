/* SPDX-License-Identifier: MIT */
/*
 * Token buckets and mute escalation. Tokens are kept as a double and
 * refilled lazily from the elapsed time at each call, so an idle bucket
 * costs nothing and needs no timer.
 */
#include "ratelimit.h"

#include <math.h> /* isfinite, a macro: no libm */

static const uint32_t default_steps[] = {10, 60, 300, 3600};

const struct ratelimit_ladder ratelimit_ladder_default = {
	.mute_s = default_steps,
	.nsteps = sizeof(default_steps) / sizeof(default_steps[0]),
	.decay_ms = 3600 * 1000,
};

static bool params_ok(double rate, double burst)
{
	return isfinite(rate) && isfinite(burst) && rate >= 0 && burst >= 1;
}

int ratelimit_init(struct ratelimit *rl, double rate, double burst, int64_t now_ms)
{
	if (!rl || !params_ok(rate, burst)) return CHAT_ERR_INVAL;
	rl->rate = rate;
	rl->burst = burst;
	rl->tokens = burst;
	rl->last_ms = now_ms;
	return 0;
}

static void refill(struct ratelimit *rl, int64_t now_ms)
{
	if (now_ms <= rl->last_ms) return; /* clock went back or stood still */
	double add = (double)(now_ms - rl->last_ms) * rl->rate / 1000.0;
	rl->tokens = rl->tokens + add < rl->burst ? rl->tokens + add : rl->burst;
	rl->last_ms = now_ms;
}

int ratelimit_configure(struct ratelimit *rl, double rate, double burst, int64_t now_ms)
{
	if (!rl || !params_ok(rate, burst)) return CHAT_ERR_INVAL;
	refill(rl, now_ms);
	rl->rate = rate;
	rl->burst = burst;
	if (rl->tokens > burst) rl->tokens = burst;
	return 0;
}

bool ratelimit_take(struct ratelimit *rl, double cost, int64_t now_ms)
{
	if (!rl || !(cost >= 0)) return false;
	refill(rl, now_ms);
	/* A little slack so that 0.1 added ten times still buys a token. */
	if (rl->tokens + 1e-9 < cost) return false;
	rl->tokens = rl->tokens > cost ? rl->tokens - cost : 0;
	return true;
}

bool ratelimit_allow(struct ratelimit *rl, int64_t now_ms)
{
	return ratelimit_take(rl, 1.0, now_ms);
}

/* The wait of a refilled bucket without cost tokens. */
static int64_t wait_for(const struct ratelimit *rl, double cost)
{
	if (rl->rate <= 0) return INT64_MAX;
	double ms = (cost - rl->tokens) * 1000.0 / rl->rate;
	if (ms >= 9e18) return INT64_MAX;
	int64_t whole = (int64_t)ms;
	return (double)whole < ms ? whole + 1 : whole;
}

int64_t ratelimit_wait_ms(const struct ratelimit *rl, double cost, int64_t now_ms)
{
	if (!rl || !(cost >= 0) || cost > rl->burst) return INT64_MAX;
	struct ratelimit copy = *rl;
	refill(&copy, now_ms);
	if (copy.tokens + 1e-9 >= cost) return 0;
	return wait_for(&copy, cost);
}

int64_t ratelimit_wait_take(const struct ratelimit *rl, double cost, int64_t now_ms, struct ratelimit *after)
{
	if (!rl || !(cost >= 0) || cost > rl->burst) return INT64_MAX;
	struct ratelimit copy = *rl;
	refill(&copy, now_ms);
	if (copy.tokens + 1e-9 < cost) return wait_for(&copy, cost);
	/* What ratelimit_take does after the same refill. */
	copy.tokens = copy.tokens > cost ? copy.tokens - cost : 0;
	*after = copy;
	return 0;
}

uint32_t ratelimit_strike_level(const struct ratelimit_strikes *s, const struct ratelimit_ladder *ladder,
				int64_t now_ms)
{
	if (!s) return 0;
	if (!ladder) ladder = &ratelimit_ladder_default;
	if (s->level == 0 || ladder->decay_ms <= 0 || now_ms <= s->last_ms) return s->level;
	int64_t quiet = (now_ms - s->last_ms) / ladder->decay_ms;
	return quiet >= (int64_t)s->level ? 0 : s->level - (uint32_t)quiet;
}

uint32_t ratelimit_strike(struct ratelimit_strikes *s, const struct ratelimit_ladder *ladder, int64_t now_ms)
{
	if (!s) return 0;
	if (!ladder || !ladder->mute_s || ladder->nsteps == 0) ladder = &ratelimit_ladder_default;
	uint32_t level = ratelimit_strike_level(s, ladder, now_ms);
	if (level < UINT32_MAX) level++;
	s->level = level;
	if (level == 1 || now_ms > s->last_ms) s->last_ms = now_ms;
	size_t step = level - 1 < ladder->nsteps ? level - 1 : ladder->nsteps - 1;
	return ladder->mute_s[step];
}

/* SPDX-License-Identifier: MIT */
/*
 * Log-linear histogram; the bucket layout is described in hist.h. Bucket
 * block 0 holds the values 0..HIST_SUB_COUNT-1 one per bucket; block b >= 1
 * holds [HIST_SUB_COUNT << (b-1), HIST_SUB_COUNT << b) in HIST_SUB_COUNT
 * buckets of width 2^(b-1). So the index is a shift and a subtraction, and
 * a bucket's width over its lower bound is at most 1/HIST_SUB_COUNT.
 */
#include "hist.h"

#include <stdlib.h>
#include <string.h>

/* Position of the highest set bit; v must not be 0. */
static unsigned top_bit(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

unsigned hist_bucket_index(uint64_t value)
{
	unsigned shift;

	if (value < HIST_SUB_COUNT)
		return (unsigned)value;
	shift = top_bit(value) - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB_COUNT +
	       (unsigned)((value >> shift) - HIST_SUB_COUNT);
}

uint64_t hist_bucket_low(unsigned index)
{
	unsigned block = index / HIST_SUB_COUNT;
	unsigned offset = index % HIST_SUB_COUNT;

	if (block == 0)
		return offset;
	return (uint64_t)(HIST_SUB_COUNT + offset) << (block - 1);
}

uint64_t hist_bucket_high(unsigned index)
{
	unsigned block = index / HIST_SUB_COUNT;

	if (block == 0)
		return hist_bucket_low(index);
	return hist_bucket_low(index) + ((UINT64_C(1) << (block - 1)) - 1);
}

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

struct hist *hist_new(void)
{
	struct hist *h = malloc(sizeof(*h));

	if (h)
		hist_reset(h);
	return h;
}

void hist_free(struct hist *h)
{
	free(h);
}

void hist_record(struct hist *h, uint64_t value)
{
	uint64_t tracked = value;

	if (value > HIST_MAX_VALUE) {
		tracked = HIST_MAX_VALUE;
		h->clamped++;
	}
	h->counts[hist_bucket_index(tracked)]++;
	h->count++;
	h->sum += (double)tracked;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned i;

	if (src->count == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* How many values must lie at or below the answer for percentile p. */
static uint64_t rank_for(const struct hist *h, double p)
{
	double want;
	uint64_t rank;

	want = p / 100.0 * (double)h->count;
	rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	return rank < 1 ? 1 : rank;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0, value;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (p <= 0.0)
		return h->min;
	if (p >= 100.0)
		return h->max;
	rank = rank_for(h, p);
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return h->max;
	value = hist_bucket_high(i);
	if (value > h->max)
		value = h->max;
	if (value < h->min)
		value = h->min;
	return value;
}

double hist_mean(const struct hist *h)
{
	if (h->count == 0)
		return 0.0;
	return h->sum / (double)h->count;
}

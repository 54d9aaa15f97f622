/* SPDX-License-Identifier: MIT */
/*
 * Shard dealing and merging, and the batch buffer, for live rooms: the
 * decisions live.c acts on, kept apart from the broker so that a unit test
 * can walk them through every join and leave.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "live_shard.h"

void live_shards_init(struct live_shards *s, unsigned size)
{
	memset(s, 0, sizeof(*s));
	s->size = size;
}

void live_shards_free(struct live_shards *s)
{
	free(s->count);
	free(s->open);
	live_shards_init(s, s->size);
}

static bool grow(struct live_shards *s)
{
	unsigned cap = s->cap ? s->cap * 2 : 4;
	if (cap > LIVE_SHARDS_MAX) cap = LIVE_SHARDS_MAX;
	unsigned *count = realloc(s->count, cap * sizeof(*count));
	if (!count) return false;
	s->count = count;
	bool *open = realloc(s->open, cap * sizeof(*open));
	if (!open) return false;
	s->open = open;
	memset(count + s->cap, 0, (cap - s->cap) * sizeof(*count));
	memset(open + s->cap, 0, (cap - s->cap) * sizeof(*open));
	s->cap = cap;
	return true;
}

unsigned live_shards_least(const struct live_shards *s)
{
	unsigned best = 0;
	for (unsigned i = 0; i < s->cap; i++) {
		if (s->open[i] && (best == 0 || s->count[i] < s->count[best - 1])) best = i + 1;
	}
	return best;
}

/* Opens the lowest closed slot (growing the table); 0 when none can be. */
static unsigned open_shard(struct live_shards *s)
{
	for (unsigned i = 0; i < s->cap; i++) {
		if (!s->open[i]) {
			s->open[i] = true;
			s->opened++;
			return i + 1;
		}
	}
	if (s->cap >= LIVE_SHARDS_MAX || !grow(s)) return 0;
	return open_shard(s);
}

static unsigned count_in(struct live_shards *s, unsigned shard)
{
	if (shard == 0) return 0;
	s->count[shard - 1]++;
	s->total++;
	return shard;
}

unsigned live_shards_join(struct live_shards *s)
{
	unsigned least = live_shards_least(s);
	if (least && (s->size == 0 || s->count[least - 1] < s->size)) return count_in(s, least);
	unsigned fresh = open_shard(s);
	return count_in(s, fresh ? fresh : least);
}

void live_shards_leave(struct live_shards *s, unsigned shard)
{
	if (shard == 0 || shard > s->cap || !s->open[shard - 1] || s->count[shard - 1] == 0) return;
	s->count[shard - 1]--;
	s->total--;
}

unsigned live_shards_to_close(const struct live_shards *s)
{
	if (s->opened < 2) return 0;
	/* The shards that stay, each filled to three quarters, must hold all. */
	uint64_t room = (uint64_t)(s->opened - 1) * s->size * 3u / 4u;
	if (s->size > 0 && s->total > room) return 0;
	return live_shards_least(s);
}

void live_shards_close(struct live_shards *s, unsigned shard)
{
	if (shard == 0 || shard > s->cap || !s->open[shard - 1]) return;
	s->total -= s->count[shard - 1];
	s->count[shard - 1] = 0;
	s->open[shard - 1] = false;
	s->opened--;
}

unsigned live_shards_move(struct live_shards *s)
{
	return count_in(s, live_shards_least(s));
}

unsigned live_shards_count(const struct live_shards *s, unsigned shard)
{
	if (shard == 0 || shard > s->cap || !s->open[shard - 1]) return 0;
	return s->count[shard - 1];
}

void live_shards_resize(struct live_shards *s, unsigned size)
{
	s->size = size;
}

/* ---- the batch buffer ------------------------------------------------- */

void live_batch_init(struct live_batch *b)
{
	strbuf_init(&b->items);
	b->n = 0;
}

void live_batch_free(struct live_batch *b)
{
	strbuf_free(&b->items);
	b->n = 0;
}

int live_batch_add(struct live_batch *b, const char *env, size_t len)
{
	if (strbuf_reserve(&b->items, len + 1) != CHAT_OK) return CHAT_ERR_NOMEM;
	if (b->n) strbuf_putc(&b->items, ',');
	strbuf_append(&b->items, env, len);
	b->n++;
	return CHAT_OK;
}

/* The fixed text of a payload: keys, a room id, numbers. */
#define BATCH_OVERHEAD (64 + 136 + 2 * 20)

size_t live_batch_bytes(const struct live_batch *b)
{
	return b->items.len + BATCH_OVERHEAD;
}

int live_batch_take(struct live_batch *b, const char *room, unsigned shard, uint64_t viewers, struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_puts(out, "{\"type\":\"batch\",\"room\":\"");
	strbuf_puts(out, room);
	strbuf_puts(out, "\",\"shard\":");
	strbuf_append_u64(out, shard);
	if (viewers != UINT64_MAX) {
		strbuf_puts(out, ",\"viewers\":");
		strbuf_append_u64(out, viewers);
	}
	strbuf_puts(out, ",\"messages\":[");
	strbuf_append(out, b->items.buf ? b->items.buf : "", b->items.len);
	strbuf_puts(out, "]}");
	strbuf_reset(&b->items);
	b->n = 0;
	return strbuf_status(out);
}

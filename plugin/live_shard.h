/* SPDX-License-Identifier: MIT */
/*
 * The pure half of live rooms (live.c): how viewers are dealt into shards
 * and when shards merge, and the batch buffer that gathers the envelopes
 * of one interval into one payload. No broker header here, so the unit
 * test (tests/unit/test_live_shard.c) links it alone.
 */
#ifndef CHAT_PLUGIN_LIVE_SHARD_H
#define CHAT_PLUGIN_LIVE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* plugin_opt_live_interval_ms and plugin_opt_live_shard_size: defaults of
 * rooms that are live without their own values. */
struct live_config {
	unsigned interval_ms; /* between two batches of a shard */
	unsigned shard_size;  /* viewers per shard before a new one opens; 0 = never split */
};

#define LIVE_INTERVAL_DEFAULT_MS 200u
#define LIVE_INTERVAL_MIN_MS 10u
#define LIVE_INTERVAL_MAX_MS 10000u
#define LIVE_SHARD_SIZE_MAX 1000000u
#define LIVE_SHARDS_MAX 9999u /* TOPIC_SHARD_MAX: shard numbers are 1..9999 */

/*
 * The viewers per shard of one room. Shards are numbered from 1; slot i of
 * count holds shard i + 1, 0 viewers and !open when it is closed. A shard
 * opens when every open one holds `size` viewers, and the one with the
 * fewest viewers closes once the rest could take them all with a quarter
 * of their room to spare (so a room at the boundary does not flap).
 */
struct live_shards {
	unsigned *count; /* viewers per slot */
	bool *open;
	unsigned cap;    /* slots allocated */
	unsigned size;   /* 0 = one shard whatever the number of viewers */
	unsigned opened; /* open shards */
	unsigned total;  /* viewers in all shards */
};

void live_shards_init(struct live_shards *s, unsigned size);
void live_shards_free(struct live_shards *s);

/* The shard a joining viewer goes to (counted in): the open shard with the
 * fewest viewers when it has room, else a new shard (the lowest closed
 * number). Returns the shard number, or 0 when out of memory or at
 * LIVE_SHARDS_MAX shards that are all full (then the fullest rule gives
 * way: the least full shard takes the viewer). */
unsigned live_shards_join(struct live_shards *s);

/* A viewer of shard leaves (uncounted). */
void live_shards_leave(struct live_shards *s, unsigned shard);

/* The shard that should close now, or 0 for none (see struct live_shards). */
unsigned live_shards_to_close(const struct live_shards *s);

/* Closes shard; its viewers must then be moved with live_shards_move. */
void live_shards_close(struct live_shards *s, unsigned shard);

/* Where one viewer of a closed shard goes: the open shard with the fewest
 * viewers (counted in). 0 when none is open. */
unsigned live_shards_move(struct live_shards *s);

/* The open shard with the fewest viewers, without counting anyone in (a
 * member who writes without watching): 0 when none is open. */
unsigned live_shards_least(const struct live_shards *s);

/* The viewers of shard (0 when closed or out of range). */
unsigned live_shards_count(const struct live_shards *s, unsigned shard);

/* Changes the shard size; existing shards stay as they are until viewers
 * join or leave. */
void live_shards_resize(struct live_shards *s, unsigned size);

/*
 * One shard's batch: the envelopes accepted since the last one, in the
 * order they were accepted, comma-joined.
 */
struct live_batch {
	struct strbuf items; /* env,env,... */
	unsigned n;          /* envelopes in items */
};

void live_batch_init(struct live_batch *b);
void live_batch_free(struct live_batch *b);
/* Appends one envelope (JSON object). 0 or CHAT_ERR_NOMEM (b unchanged). */
int live_batch_add(struct live_batch *b, const char *env, size_t len);
/* Bytes the payload of b would take with no viewer count: for the size cap. */
size_t live_batch_bytes(const struct live_batch *b);
/*
 * Writes the batch's payload into out (reset first):
 *   {"type":"batch","room":R,"shard":K,"viewers":V,"messages":[env,...]}
 * room is a valid room id (no escaping needed); viewers is left out when
 * it is UINT64_MAX. Then empties b. Returns strbuf_status(out).
 */
int live_batch_take(struct live_batch *b, const char *room, unsigned shard, uint64_t viewers, struct strbuf *out);

#endif

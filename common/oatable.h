/* SPDX-License-Identifier: MIT */
/*
 * The one open-addressing hash index of the project: an array of uint32
 * references (0 = empty slot) that the caller resolves to its own entries,
 * e.g. an index into an array of pointers or an offset into a packed blob.
 * The table never sees a key: the caller passes each key's hash and, to
 * look up, an equality test on a reference; to move entries (growing,
 * deleting) the table asks the caller's hash of a reference.
 *
 * Linear probing, at most half full, deletion by backward shift (no
 * tombstones, so a lookup's probe run never grows with churn). With the
 * hash of common/fnv.h, which an attacker can collide, a run of colliding
 * keys costs probes in proportion to its length but never correctness.
 * A slot is 4 bytes: the password table's index of 10,000 users is 128 KiB.
 *
 * Memory comes from the allocator passed to oatable_init (NULL = libc):
 * the plugin passes the broker's, so its memory_limit sees the index.
 */
#ifndef CHAT_OATABLE_H
#define CHAT_OATABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat_err.h"

/* The hash of the entry ref stands for (the hash it was inserted with). */
typedef uint32_t (*oatable_hash_fn)(uint32_t ref, const void *ctx);
/* True when the entry ref stands for has key key. */
typedef bool (*oatable_eq_fn)(uint32_t ref, const void *key, const void *ctx);

/* Where the slot array's memory comes from; free_fn(NULL) must be a no-op. */
struct oatable_alloc {
	void *(*calloc_fn)(size_t nmemb, size_t size);
	void (*free_fn)(void *p);
};

struct oatable {
	uint32_t *slots; /* mask + 1 of them; a shared all-empty slot before the first insert */
	size_t mask;     /* slot count - 1, the slot count a power of two */
	size_t count;    /* references in the table */
	oatable_hash_fn hash;
	const void *ctx; /* passed to hash and eq */
	const struct oatable_alloc *alloc;
};

/* An empty table that allocates nothing until its first reserve; hash and
 * ctx as above, alloc NULL for libc (the struct must outlive the table). */
void oatable_init(struct oatable *t, oatable_hash_fn hash, const void *ctx, const struct oatable_alloc *alloc);
/* Frees the slot array and leaves t empty (usable again); NULL ok. */
void oatable_free(struct oatable *t);

/* Makes room for n more references, so that the next n inserts cannot
 * fail; growth rehashes every entry through t->hash. Returns 0 or
 * CHAT_ERR_NOMEM (then t is unchanged). */
int oatable_reserve(struct oatable *t, size_t n);
/* Adds ref (nonzero) under hash h; whether the key is there already is
 * the caller's question (oatable_find). Returns 0 or CHAT_ERR_NOMEM, and
 * cannot fail after a reserve that made room. */
int oatable_insert(struct oatable *t, uint32_t h, uint32_t ref);
/* Removes ref, inserted under hash h; false when it is not there. */
bool oatable_remove(struct oatable *t, uint32_t h, uint32_t ref);
/* Makes the slot of old_ref (hash h) hold new_ref (nonzero, same hash):
 * an entry that moved or was replaced in place. False when old_ref is not
 * there. */
bool oatable_replace(struct oatable *t, uint32_t h, uint32_t old_ref, uint32_t new_ref);

/* The first reference under hash h whose entry eq says has key, or 0.
 * Inline so that a caller's static eq is inlined into its lookups. */
static inline uint32_t oatable_find(const struct oatable *t, uint32_t h, oatable_eq_fn eq, const void *key)
{
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t ref = t->slots[i];
		if (ref == 0 || eq(ref, key, t->ctx)) return ref;
	}
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The open-addressing index (oatable.h): growth by doubling, insertion at
 * the end of a probe run, deletion by shifting the rest of the run back.
 */
#include <stdlib.h>

#include "oatable.h"

/* The slot every empty table points at, so that a lookup needs no test
 * for "no array yet": it is only read (reserve allocates before a write). */
static const uint32_t no_slots[1];

/* The smallest array a table allocates. */
#define OATABLE_MIN_SLOTS 16

static const struct oatable_alloc libc_alloc = {calloc, free};

void oatable_init(struct oatable *t, oatable_hash_fn hash, const void *ctx, const struct oatable_alloc *alloc)
{
	*t = (struct oatable){(uint32_t *)no_slots, 0, 0, hash, ctx, alloc ? alloc : &libc_alloc};
}

void oatable_free(struct oatable *t)
{
	if (!t) return;
	if (t->slots != no_slots) t->alloc->free_fn(t->slots);
	t->slots = (uint32_t *)no_slots;
	t->mask = 0;
	t->count = 0;
}

/* Puts ref in the first empty slot from h's home on (one is there). */
static void place(uint32_t *slots, size_t mask, uint32_t h, uint32_t ref)
{
	size_t i = h & mask;
	while (slots[i]) i = (i + 1) & mask;
	slots[i] = ref;
}

int oatable_reserve(struct oatable *t, size_t n)
{
	size_t slots = t->slots == no_slots ? 0 : t->mask + 1;
	if (n > SIZE_MAX / 4 - t->count) return CHAT_ERR_NOMEM;
	size_t need = (t->count + n) * 2; /* at most half full */
	if (need <= slots) return CHAT_OK;
	size_t size = slots ? slots * 2 : OATABLE_MIN_SLOTS;
	while (size < need) size *= 2;
	uint32_t *fresh = t->alloc->calloc_fn(size, sizeof(*fresh));
	if (!fresh) return CHAT_ERR_NOMEM;
	for (size_t i = 0; i < slots; i++) {
		if (t->slots[i]) place(fresh, size - 1, t->hash(t->slots[i], t->ctx), t->slots[i]);
	}
	if (slots) t->alloc->free_fn(t->slots);
	t->slots = fresh;
	t->mask = size - 1;
	return CHAT_OK;
}

int oatable_insert(struct oatable *t, uint32_t h, uint32_t ref)
{
	int rc = oatable_reserve(t, 1);
	if (rc != CHAT_OK) return rc;
	place(t->slots, t->mask, h, ref);
	t->count++;
	return CHAT_OK;
}

/* The slot holding ref on h's probe run, or the empty slot ending it. */
static size_t slot_of(const struct oatable *t, uint32_t h, uint32_t ref)
{
	size_t i = h & t->mask;
	while (t->slots[i] && t->slots[i] != ref) i = (i + 1) & t->mask;
	return i;
}

bool oatable_remove(struct oatable *t, uint32_t h, uint32_t ref)
{
	size_t i = slot_of(t, h, ref);
	if (!t->slots[i]) return false;
	/* Close the hole at i: an entry later in the run moves back into it
	 * unless its home lies cyclically in (i, j], where the hole would not
	 * cut its probe path; the moved entry's slot is the new hole. */
	for (size_t j = (i + 1) & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
		size_t home = t->hash(t->slots[j], t->ctx) & t->mask;
		bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays) continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = 0;
	t->count--;
	return true;
}

bool oatable_replace(struct oatable *t, uint32_t h, uint32_t old_ref, uint32_t new_ref)
{
	size_t i = slot_of(t, h, old_ref);
	if (!t->slots[i]) return false;
	t->slots[i] = new_ref;
	return true;
}

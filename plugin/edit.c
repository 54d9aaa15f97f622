/* SPDX-License-Identifier: MIT */
/*
 * Edits, deletes, reactions and replies: may this user change, or point
 * at, that message? Decided from the record of recent messages (why a
 * record and not MongoDB: messenger.h). The decision is a pure function of
 * what the record says about the target (common/change_rule.h); the record
 * is kept by chat_change_record() once the message has its id.
 *
 * The rules:
 *   edit      your own message, not deleted, within plugin_opt_edit_window
 *   delete    the same; a room's owners and admins delete any message
 *   react     any message of the room that is not deleted
 *   reply     the same
 * A target the record does not hold is either newer than its horizon
 * (then it does not exist: not_found) or older (then only the rules that
 * need no sender or time pass: a moderator's delete, a reaction, a reply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change_rule.h"
#include "chat.h"
#include "messenger_int.h"

/* Slots per block of the record. A block is taken when the record grows
 * past its last one and given back when eviction empties its oldest (one
 * is kept for the next growth), so no slot is ever copied: the message
 * path pays no reallocation, and a broker holds at most a block and a
 * spare beyond what it remembers. 128 slots are 22 KiB. */
#define RECENT_BLOCK 128

/* The slot i places after the oldest. */
static struct recent_msg *slot(const struct messenger *ms, size_t i)
{
	size_t k = ms->recent_head + i;
	struct recent_msg *b = ms->blocks[(ms->block_head + k / RECENT_BLOCK) & (ms->block_cap - 1)];
	return &b[k % RECENT_BLOCK];
}

/* The oldest slot (slot(ms, 0)): recent_head is always inside the oldest
 * block, which eviction gives back when recent_head reaches its end. */
static struct recent_msg *oldest(const struct messenger *ms)
{
	return &ms->blocks[ms->block_head][ms->recent_head];
}

/* The recorded message with id ref, or NULL: a search by halves, the ring
 * being in id order. */
static struct recent_msg *find(const struct messenger *ms, const char *ref)
{
	size_t lo = 0, hi = ms->recent_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct recent_msg *r = slot(ms, mid);
		int cmp = memcmp(r->id, ref, ID_LEN);
		if (cmp == 0) return r;
		if (cmp < 0) lo = mid + 1;
		else hi = mid;
	}
	return NULL;
}

static struct change_target look_up(const struct messenger *ms, const char *ref, const char *room, const char *user,
			     uint64_t now)
{
	struct change_target t = {0};
	const struct recent_msg *r = find(ms, ref);
	uint64_t when = id_time_ms(ref);
	t.age_ms = now > when ? now - when : 0;
	t.known = r != NULL;
	t.vouched = t.known || when >= ms->horizon_ms;
	if (r) {
		t.same_room = strcmp(r->room, room) == 0;
		t.deleted = r->deleted;
		t.own = strcmp(r->from, user) == 0;
	}
	return t;
}

int chat_change_check(struct chat *c, const char *user, const char *room, size_t room_len, const struct chat_msg *m,
		      uint64_t now)
{
	const char *ref = m->op != ENVELOPE_POST ? m->ref : m->reply;
	if (!ref[0]) return REJECT_COUNT; /* a plain post */
	const struct room *r = rooms_lookup(&c->rooms, room, room_len);
	if (!r) return REJECT_NOT_FOUND;  /* a DM room's first message points at nothing */
	bool moderator = rooms_member_role(&c->rooms, r, user, strlen(user)) >= ROLE_ADMIN;
	static const int reasons[] = {[CHANGE_OK] = REJECT_COUNT, [CHANGE_NOT_FOUND] = REJECT_NOT_FOUND,
				      [CHANGE_NOT_ALLOWED] = REJECT_NOT_ALLOWED, [CHANGE_TOO_OLD] = REJECT_EDIT_WINDOW};
	struct change_target t = look_up(c->messenger, ref, r->id, user, now);
	return reasons[change_rule_decide(m->op, moderator, c->cfg.msgr.edit_window_ms, &t)];
}

/* The oldest block is empty: it becomes the spare (or is freed, one
 * spare being enough: a block is needed once per RECENT_BLOCK messages). */
static void drop_oldest_block(struct messenger *ms)
{
	struct recent_msg *b = ms->blocks[ms->block_head];
	ms->block_head = (ms->block_head + 1) & (ms->block_cap - 1);
	ms->block_count--;
	ms->recent_head = 0;
	if (ms->spare) free(b);
	else ms->spare = b;
}

/* Forgets the oldest entries: past the window, or over the bound. What is
 * forgotten moves the horizon. */
static void evict(struct messenger *ms, uint64_t window_ms, size_t max, uint64_t now)
{
	while (ms->recent_count > 0) {
		const struct recent_msg *old = oldest(ms);
		if (ms->recent_count <= max && old->t + window_ms >= now) break;
		if (old->t + 1 > ms->horizon_ms) ms->horizon_ms = old->t + 1;
		ms->recent_count--;
		if (++ms->recent_head == RECENT_BLOCK) drop_oldest_block(ms);
	}
}

/* Doubles the ring of block pointers, which is full: the pointers before
 * the head (the newest) move to just past the old end, which keeps the
 * order. A few pointers, once per doubling of the record. */
static bool grow_blocks(struct messenger *ms)
{
	size_t old = ms->block_cap, cap = old ? 2 * old : 4;
	struct recent_msg **ring = realloc(ms->blocks, cap * sizeof(*ring));
	if (!ring) return false;
	memcpy(ring + old, ring, ms->block_head * sizeof(*ring));
	ms->blocks = ring;
	ms->block_cap = cap;
	return true;
}

/* Makes room for one more entry (up to max in all); false when the record
 * holds max or out of memory. */
static bool reserve(struct messenger *ms, size_t max)
{
	if (ms->recent_count >= max) return false;
	if (ms->recent_head + ms->recent_count < ms->block_count * RECENT_BLOCK) return true;
	if (ms->block_count == ms->block_cap && !grow_blocks(ms)) return false;
	struct recent_msg *b = ms->spare ? ms->spare : malloc(RECENT_BLOCK * sizeof(*b));
	if (!b) return false;
	ms->spare = NULL;
	ms->blocks[(ms->block_head + ms->block_count) & (ms->block_cap - 1)] = b;
	ms->block_count++;
	return true;
}

void chat_change_record(struct chat *c, const char *room, size_t room_len, const char *user, const char *id,
			const struct chat_msg *m, uint64_t now)
{
	struct messenger *ms = c->messenger;
	if (m->op == ENVELOPE_DELETE) {
		struct recent_msg *r = find(ms, m->ref);
		if (r) r->deleted = true;
		return;
	}
	if (m->op != ENVELOPE_POST) return;
	size_t max = c->cfg.msgr.recent_max;
	evict(ms, c->cfg.msgr.edit_window_ms, max > 0 ? max - 1 : 0, now);
	/* The id was made just now: its time is the generator's last. The
	 * message path pays for this record: no copying as it grows (a block
	 * per RECENT_BLOCK messages, the spare once it is full), no zeroing,
	 * no formatting. */
	uint64_t t = c->ids.last_ms;
	size_t user_len = strlen(user);
	if (room_len > TOPIC_ROOM_MAX || user_len > TOPIC_ID_MAX || !reserve(ms, max)) {
		ms->horizon_ms = t + 1; /* unrecorded: it must not pass for absent */
		return;
	}
	struct recent_msg *r = slot(ms, ms->recent_count);
	memcpy(r->id, id, ID_LEN + 1);
	memcpy(r->room, room, room_len);
	r->room[room_len] = '\0';
	memcpy(r->from, user, user_len + 1);
	r->t = t;
	r->deleted = false;
	ms->recent_count++;
}

/* A delete or a reaction has no content of its own: its type says what it is. */
void chat_change_stamp(const struct chat_msg *m, struct envelope *e)
{
	static const char *const types[] = {[ENVELOPE_DELETE] = "delete", [ENVELOPE_REACT] = "reaction"};
	if (m->op == ENVELOPE_EDIT) e->edit = m->ref;
	if (m->op == ENVELOPE_DELETE) e->del = m->ref;
	if (m->op == ENVELOPE_REACT) {
		e->react = m->ref;
		e->reaction = m->reaction;
	}
	if (m->op == ENVELOPE_DELETE || m->op == ENVELOPE_REACT) e->type = types[m->op];
	if (m->reply[0]) e->reply = m->reply;
}

void chat_recent_free(struct messenger *ms)
{
	for (size_t i = 0; i < ms->block_count; i++) {
		free(ms->blocks[(ms->block_head + i) & (ms->block_cap - 1)]);
	}
	free(ms->blocks);
	free(ms->spare);
	ms->blocks = NULL;
	ms->spare = NULL;
	ms->block_cap = ms->block_head = ms->block_count = 0;
	ms->recent_head = ms->recent_count = 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The rule for edits, deletes, reactions and replies, as a pure function:
 * given what the server knows about the message a change names, may the
 * sender make it? The plugin (plugin/edit.c) fills the target from its
 * record of recent messages and applies the verdict.
 */
#ifndef CHAT_CHANGE_RULE_H
#define CHAT_CHANGE_RULE_H

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"

/* What the server knows about the message a change names. */
struct change_target {
	bool known;      /* in the record of recent messages */
	bool vouched;    /* known, or newer than the record's horizon (so surely absent) */
	bool same_room;  /* known: in the room of the change */
	bool deleted;    /* known: deleted already */
	bool own;        /* known: sent by the sender of the change */
	uint64_t age_ms; /* now - the time in the target's id */
};

enum change_verdict { CHANGE_OK = 0, CHANGE_NOT_FOUND, CHANGE_NOT_ALLOWED, CHANGE_TOO_OLD };

/*
 * op is the change (ENVELOPE_POST: a reply); moderator: the sender is an
 * owner or admin of the room; window_ms: how long a sender may edit or
 * delete their own message. Edits: own, not deleted, within the window.
 * Deletes: the same, or any message for a moderator. Reactions and
 * replies: any message of the room that is not deleted. A target older
 * than the record (not vouched for) passes only where neither sender nor
 * age matters: a moderator's delete, a reaction, a reply.
 */
enum change_verdict change_rule_decide(enum envelope_op op, bool moderator, uint64_t window_ms,
				       const struct change_target *t);

#endif

/* SPDX-License-Identifier: MIT */
/* The rule of change_rule.h. */
#include "change_rule.h"

enum change_verdict change_rule_decide(enum envelope_op op, bool moderator, uint64_t window_ms,
				       const struct change_target *t)
{
	bool needs_owner = op == ENVELOPE_EDIT || (op == ENVELOPE_DELETE && !moderator);
	if (!t->known) {
		if (t->vouched) return CHANGE_NOT_FOUND;
		if (!needs_owner) return CHANGE_OK;
		return t->age_ms > window_ms ? CHANGE_TOO_OLD : CHANGE_NOT_FOUND;
	}
	if (!t->same_room || t->deleted) return CHANGE_NOT_FOUND;
	if (!needs_owner) return CHANGE_OK;
	if (!t->own) return CHANGE_NOT_ALLOWED;
	return t->age_ms > window_ms ? CHANGE_TOO_OLD : CHANGE_OK;
}

/* SPDX-License-Identifier: MIT */
/*
 * freezeRoom and unfreezeRoom: a frozen room is read only for everyone but
 * its owners and admins, who may still speak to it (an announcement, the
 * end of a match). Without "room" the freeze covers every room at once,
 * direct messages included. The message path reads the freezes
 * (chat_room_frozen); a freeze of one room is also told on its events
 * topic, so open clients can grey out their input. A freeze of every room
 * is told to each sender by the refusal alone: announcing it on every
 * room's topic would be one publish per room.
 */
#include "chat_err.h"
#include "control.h"

/* {"type":type,"room":room[,"until":ms]} on the room's events topic. */
static void freeze_event(struct chat *c, const char *type, const char *room, const uint64_t *until)
{
	struct strbuf sb;
	ctl_event_begin(&sb, type, room);
	if (until) {
		strbuf_puts(&sb, ",\"until\":");
		strbuf_append_u64(&sb, *until);
	}
	ctl_event_end(c, room, &sb);
}

/* The optional room, which must exist when given. */
static bool optional_room(struct control_req *r, const char **room)
{
	if (!ctl_room_id(r, "room", false, room)) return false;
	ctl_audit(r, "room", *room ? *room : "*");
	return !*room || ctl_find_room(r, *room) != NULL;
}

void control_freeze_room(struct control_req *r)
{
	const char *room = NULL;
	uint64_t seconds = 0;
	if (!optional_room(r, &room) || !ctl_uint(r, "seconds", false, 0, CTL_MAX_SECONDS, &seconds)) return;
	ctl_audit_u64(r, "seconds", seconds);
	uint64_t until = ctl_until(seconds);
	int rc = sanctions_freeze(&r->c->sanctions, room, until);
	if (rc != CHAT_OK) {
		ctl_fail(r, "%s", chat_strerror(rc));
		return;
	}
	chat_state_dirty(r->c);
	if (room) freeze_event(r->c, "frozen", room, &until);
}

void control_unfreeze_room(struct control_req *r)
{
	const char *room = NULL;
	if (!optional_room(r, &room)) return;
	if (sanctions_unfreeze(&r->c->sanctions, room) == CHAT_ERR_NOTFOUND) {
		ctl_fail(r, room ? "room is not frozen" : "rooms are not frozen");
		return;
	}
	chat_state_dirty(r->c);
	if (room) freeze_event(r->c, "unfrozen", room, NULL);
}

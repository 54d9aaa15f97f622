/* SPDX-License-Identifier: MIT */
/*
 * Admin commands on users: mutes, bans, kicks, and the counters of
 * getStats. A ban takes effect twice: the user's live sessions are kicked
 * now, and the login check (chat_user_banned) refuses them until the ban
 * ends. A mute is read on the message path (chat_user_muted). An admin
 * cannot ban or kick themself: the request would tear down the very
 * connection it arrived on.
 */
#include <string.h>

#include "chat_err.h"
#include "control.h"

uint64_t ctl_until(uint64_t seconds)
{
	return seconds ? chat_now_ms() + seconds * 1000u : 0;
}

static bool not_self(struct control_req *r, const char *user)
{
	if (r->user && strcmp(r->user, user) == 0) return ctl_fail(r, "user: an admin cannot ban or kick themself");
	return true;
}

/* {"type":type,"user":user,"room":room?,"until":ms?} to the user's inbox,
 * and to the room's events when the sanction is about one room. */
static void sanction_notice(struct chat *c, const char *type, const char *user, const char *room, uint64_t until,
			    bool with_until)
{
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_puts(&sb, "{\"type\":\"");
	strbuf_puts(&sb, type);
	strbuf_puts(&sb, "\",\"user\":");
	strbuf_append_json_string(&sb, user, strlen(user));
	if (room) {
		strbuf_puts(&sb, ",\"room\":");
		strbuf_append_json_string(&sb, room, strlen(room));
	}
	if (with_until) {
		strbuf_puts(&sb, ",\"until\":");
		strbuf_append_u64(&sb, until);
	}
	strbuf_putc(&sb, '}');
	if (strbuf_status(&sb) == CHAT_OK) {
		chat_notify_user(c, user, sb.buf, sb.len);
		if (room) chat_publish_event(c, room, sb.buf, sb.len);
	}
	strbuf_free(&sb);
}

/* user, and an optional room that must exist. */
static bool user_and_room(struct control_req *r, const char **user, const char **room)
{
	if (!ctl_user_id(r, "user", true, user) || !ctl_room_id(r, "room", false, room)) return false;
	ctl_audit(r, "user", *user);
	if (*room) ctl_audit(r, "room", *room);
	return !*room || ctl_find_room(r, *room) != NULL;
}

void control_mute_user(struct control_req *r)
{
	const char *user = NULL, *room = NULL;
	uint64_t seconds = 0;
	if (!user_and_room(r, &user, &room) || !ctl_uint(r, "seconds", true, 0, CTL_MAX_SECONDS, &seconds)) return;
	ctl_audit_u64(r, "seconds", seconds);
	uint64_t until = ctl_until(seconds);
	int rc = sanctions_mute(&r->c->sanctions, user, room, until);
	if (rc != CHAT_OK) {
		ctl_fail(r, "%s", chat_strerror(rc));
		return;
	}
	chat_state_dirty(r->c);
	sanction_notice(r->c, "muted", user, room, until, true);
}

void control_unmute_user(struct control_req *r)
{
	const char *user = NULL, *room = NULL;
	if (!user_and_room(r, &user, &room)) return;
	int rc = sanctions_unmute(&r->c->sanctions, user, room);
	if (rc == CHAT_ERR_NOTFOUND) {
		ctl_fail(r, room ? "user is not muted in this room" : "user is not muted");
		return;
	}
	chat_state_dirty(r->c);
	sanction_notice(r->c, "unmuted", user, room, 0, false);
}

void control_ban_user(struct control_req *r)
{
	const char *user = NULL;
	uint64_t seconds = 0;
	if (!ctl_user_id(r, "user", true, &user) || !ctl_uint(r, "seconds", false, 0, CTL_MAX_SECONDS, &seconds)) return;
	ctl_audit(r, "user", user);
	ctl_audit_u64(r, "seconds", seconds);
	if (!not_self(r, user)) return;
	int rc = sanctions_ban(&r->c->sanctions, user, ctl_until(seconds));
	if (rc != CHAT_OK) {
		ctl_fail(r, "%s", chat_strerror(rc));
		return;
	}
	chat_state_dirty(r->c);
	mosquitto_kick_client_by_username(user, false);
}

void control_unban_user(struct control_req *r)
{
	const char *user = NULL;
	if (!ctl_user_id(r, "user", true, &user)) return;
	ctl_audit(r, "user", user);
	if (sanctions_unban(&r->c->sanctions, user) == CHAT_ERR_NOTFOUND) {
		ctl_fail(r, "user is not banned");
		return;
	}
	chat_state_dirty(r->c);
}

void control_kick_user(struct control_req *r)
{
	const char *user = NULL;
	if (!ctl_user_id(r, "user", true, &user)) return;
	ctl_audit(r, "user", user);
	if (!not_self(r, user)) return;
	mosquitto_kick_client_by_username(user, false);
}

/* Adds the counters kept here (bans, mutes, state writes) to the traffic
 * counters of metrics.c. */
static void add_own_counters(const struct chat *c, cJSON *data)
{
	cJSON_AddNumberToObject(data, "bans/count", HASH_COUNT(c->sanctions.bans));
	cJSON_AddNumberToObject(data, "mutes/count", HASH_COUNT(c->sanctions.mutes));
	cJSON_AddNumberToObject(data, "state/saves", c->state.saves);
}

void control_get_stats(struct control_req *r)
{
	struct strbuf sb;
	strbuf_init(&sb);
	int rc = chat_stats_json(r->c, &sb);
	cJSON *data = rc == CHAT_OK ? cJSON_ParseWithLength(sb.buf, sb.len) : NULL;
	strbuf_free(&sb);
	if (!cJSON_IsObject(data)) {
		cJSON_Delete(data);
		ctl_fail(r, "%s", chat_strerror(CHAT_ERR_NOMEM));
		return;
	}
	add_own_counters(r->c, data);
	r->data = data;
}

/* SPDX-License-Identifier: MIT */
/*
 * The admin side of live rooms: setRoomLive
 *
 *   {"command":"setRoomLive","room":R,"live":true,"intervalMs":200,"shardSize":500}
 *
 * (intervalMs and shardSize optional; 0 = the plugin_opt_live_* default),
 * the same fields in getRoom's policy, and in the state file's room policy
 * as "live", "liveIntervalMs" and "shardSize".
 */
#include <stdio.h>
#include <string.h>

#include "chat_err.h"
#include "live.h"

void control_set_room_live(struct control_req *r)
{
	const char *id = NULL;
	uint64_t interval = 0, size = 0;
	if (!ctl_room_id(r, "room", true, &id)) return;
	ctl_audit(r, "room", id);
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(r->cmd, "live");
	if (!cJSON_IsBool(live)) {
		ctl_fail(r, "live: missing or not true or false");
		return;
	}
	if (!ctl_uint(r, "shardSize", false, 0, LIVE_SHARD_SIZE_MAX, &size)) return;
	if (ctl_has(r, "intervalMs") &&
	    !ctl_uint(r, "intervalMs", false, LIVE_INTERVAL_MIN_MS, LIVE_INTERVAL_MAX_MS, &interval))
		return;
	struct room *room = ctl_find_room(r, id);
	if (!room) return;
	if (strchr(room->id, ':')) { /* only DM room ids hold a colon */
		ctl_fail(r, "room: a DM room cannot be live");
		return;
	}
	room->policy.live = cJSON_IsTrue(live);
	if (ctl_has(r, "intervalMs")) room->policy.live_interval_ms = (unsigned)interval;
	if (ctl_has(r, "shardSize")) room->policy.shard_size = (unsigned)size;
	ctl_audit(r, "live", room->policy.live ? "true" : "false");
	ctl_audit_u64(r, "intervalMs", room->policy.live_interval_ms);
	ctl_audit_u64(r, "shardSize", room->policy.shard_size);
	chat_live_changed(r->c, room);
	chat_state_dirty(r->c);
}

void chat_live_policy_json(const struct room_policy *p, cJSON *policy)
{
	if (!p->live && !p->live_interval_ms && !p->shard_size) return;
	cJSON_AddBoolToObject(policy, "live", p->live);
	if (p->live_interval_ms) cJSON_AddNumberToObject(policy, "liveIntervalMs", p->live_interval_ms);
	if (p->shard_size) cJSON_AddNumberToObject(policy, "shardSize", p->shard_size);
}

/* A whole number in [min, max] under key of policy (absent: *out stays). */
static bool load_uint(const cJSON *policy, const char *key, unsigned min, unsigned max, unsigned *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(policy, key);
	if (!v) return true;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(unsigned)v->valuedouble || v->valuedouble < min ||
	    v->valuedouble > max)
		return false;
	*out = (unsigned)v->valuedouble;
	return true;
}

int chat_live_policy_load(struct room_policy *p, const cJSON *policy, char *why, size_t cap)
{
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(policy, "live");
	if (live && !cJSON_IsBool(live)) {
		snprintf(why, cap, "policy.live: not true or false");
		return CHAT_ERR_INVAL;
	}
	p->live = cJSON_IsTrue(live);
	if (!load_uint(policy, "liveIntervalMs", LIVE_INTERVAL_MIN_MS, LIVE_INTERVAL_MAX_MS, &p->live_interval_ms)) {
		snprintf(why, cap, "policy.liveIntervalMs: not a number in %u..%u", LIVE_INTERVAL_MIN_MS, LIVE_INTERVAL_MAX_MS);
		return CHAT_ERR_INVAL;
	}
	if (!load_uint(policy, "shardSize", 0, LIVE_SHARD_SIZE_MAX, &p->shard_size)) {
		snprintf(why, cap, "policy.shardSize: not a number in 0..%u", LIVE_SHARD_SIZE_MAX);
		return CHAT_ERR_INVAL;
	}
	return CHAT_OK;
}

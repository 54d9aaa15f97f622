/* SPDX-License-Identifier: MIT */
/*
 * Direct-message rooms dm:{a}:{b}. The ACL lets a or b write to a DM room
 * that does not exist yet when the DM policy allows it; the room itself is
 * created here, from the message path, only once that first message has
 * passed every check, so a refused message never leaves a room behind.
 * Only a and b are ever members; nobody is owner (admins of the broker
 * still manage the room through $CONTROL).
 */
#include <string.h>

#include "chat.h"
#include "chat_err.h"
#include "topic.h"

/* Adds the user span as a member of r. */
static int add_party(struct chat *c, struct room *r, const char *user, size_t len)
{
	char id[TOPIC_ID_MAX + 1];
	memcpy(id, user, len);
	id[len] = '\0';
	return rooms_set_member(&c->rooms, r, id, ROLE_MEMBER);
}

static void republish(struct chat *c, const char *user, size_t len)
{
	char id[TOPIC_ID_MAX + 1];
	memcpy(id, user, len);
	id[len] = '\0';
	chat_publish_rooms_list(c, id);
}

int chat_dm_open(struct chat *c, const char *room, size_t len)
{
	const char *a, *b;
	size_t alen, blen;
	if (rooms_find(&c->rooms, room, len)) return MOSQ_ERR_SUCCESS;
	if (!topic_dm_users(room, len, &a, &alen, &b, &blen)) return MOSQ_ERR_INVAL;
	char id[TOPIC_ROOM_MAX + 1];
	memcpy(id, room, len);
	id[len] = '\0';
	struct room *r = NULL;
	int rc = rooms_create(&c->rooms, id, NULL, &r);
	if (rc == CHAT_OK) rc = add_party(c, r, a, alen);
	if (rc == CHAT_OK) rc = add_party(c, r, b, blen);
	if (rc != CHAT_OK) {
		if (r) rooms_delete(&c->rooms, id);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot create DM room %s: %s", id, chat_strerror(rc));
		return MOSQ_ERR_NOMEM;
	}
	c->stats.dm_created++;
	chat_state_dirty(c);
	republish(c, a, alen);
	republish(c, b, blen);
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "DM room %s created", id);
	return MOSQ_ERR_SUCCESS;
}

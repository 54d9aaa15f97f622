/* SPDX-License-Identifier: MIT */
/*
 * Live rooms at stadium scale. In an ordinary room the broker sends one
 * PUBLISH per member per message; at 100 messages a second that tops out
 * near a thousand viewers on one core. A live room's messages still pass
 * the envelope, moderation and flood control (message.c) and still reach
 * the bridge on chat/rooms/{room}/messages, which only service users may
 * read in a live room; viewers instead get one batch per interval on
 * their shard's topic, chat/rooms/{room}/live/{shard}:
 *
 *   {"type":"batch","room":R,"shard":K,"viewers":V,"messages":[env,...]}
 *
 * so the broker's cost grows with batches, not messages.
 *
 * A viewer joins by subscribing to chat/rooms/{room}/live (nothing is ever
 * published there) and is dealt into a shard (live_shard.c); its retained
 * rooms list then names the shard's topic. A viewer's messages reach its
 * shard; the room's owners' and admins' messages reach every shard. As
 * viewers leave, shards merge, and the moved viewers' rooms lists name
 * their new shard. Viewers are users: a user's sessions share one shard.
 *
 * Batches go out from MOSQ_EVT_TICK (every loop of a busy broker, every
 * 100 ms of an idle 2.0 broker; on 2.1 the tick asks to come back when the
 * next batch is due) and from the message path once an interval is over.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "chat_err.h"
#include "live.h"

/* A batch is sent early once it would pass this many bytes. */
#define LIVE_BATCH_MAX (128u * 1024u)
/* A changed viewer count goes out at least this often, batch or not. */
#define LIVE_COUNT_MS 1000u

struct live_viewer {
	char user[TOPIC_ID_MAX + 1];
	unsigned shard;
	unsigned sessions; /* the user's sessions subscribed to the join topic */
	UT_hash_handle hh;
};

struct live_session {
	char *client_id; /* owned */
	struct live_viewer *viewer;
	UT_hash_handle hh;
};

struct live_counters {
	uint64_t in;      /* envelopes accepted */
	uint64_t batches; /* batch publishes */
	uint64_t refused[REJECT_COUNT];
};

struct live_room {
	char id[TOPIC_ROOM_MAX + 1];
	struct live_viewer *viewers;   /* uthash by user */
	struct live_session *sessions; /* uthash by client id */
	struct live_shards shards;
	struct live_batch *batches;    /* slot i: shard i + 1 */
	unsigned nbatches;
	uint64_t last_flush_ms;
	uint64_t sent_viewers;         /* the count the last batches carried */
	uint64_t count_ms;             /* when a count last went out */
	uint64_t prune_ms;             /* when viewers who left the room were last dropped */
	struct live_counters n;
	UT_hash_handle hh;
};

struct chat_live {
	struct live_room *rooms; /* uthash by room id */
	struct strbuf out;       /* one batch payload */
};

/* ---- rooms ------------------------------------------------------------ */

static struct live_room *find_room(const struct chat *c, const char *id, size_t len)
{
	struct live_room *lr = NULL;
	if (c->live) HASH_FIND(hh, c->live->rooms, id, len, lr);
	return lr;
}

static unsigned shard_size_of(const struct chat *c, const struct room *room)
{
	return room->policy.shard_size ? room->policy.shard_size : c->cfg.live.shard_size;
}

static unsigned interval_of(const struct chat *c, const struct room *room)
{
	return room->policy.live_interval_ms ? room->policy.live_interval_ms : c->cfg.live.interval_ms;
}

/* The live state of room, made when missing; NULL when out of memory. */
static struct live_room *room_state(struct chat *c, const struct room *room)
{
	size_t len = strlen(room->id);
	struct live_room *lr = find_room(c, room->id, len);
	if (lr) return lr;
	lr = mosquitto_calloc(1, sizeof(*lr));
	if (!lr) return NULL;
	memcpy(lr->id, room->id, len + 1);
	live_shards_init(&lr->shards, shard_size_of(c, room));
	lr->sent_viewers = UINT64_MAX;
	HASH_ADD(hh, c->live->rooms, id, len, lr);
	return lr;
}

static void room_free(struct chat *c, struct live_room *lr)
{
	struct live_viewer *v, *vt;
	struct live_session *s, *st;
	HASH_DEL(c->live->rooms, lr);
	HASH_ITER(hh, lr->sessions, s, st) {
		HASH_DEL(lr->sessions, s);
		mosquitto_free(s->client_id);
		mosquitto_free(s);
	}
	HASH_ITER(hh, lr->viewers, v, vt) {
		HASH_DEL(lr->viewers, v);
		mosquitto_free(v);
	}
	for (unsigned i = 0; i < lr->nbatches; i++) live_batch_free(&lr->batches[i]);
	mosquitto_free(lr->batches);
	live_shards_free(&lr->shards);
	mosquitto_free(lr);
}

int chat_live_init(struct chat *c)
{
	c->live = mosquitto_calloc(1, sizeof(*c->live));
	if (!c->live) return MOSQ_ERR_NOMEM;
	strbuf_init(&c->live->out);
	return MOSQ_ERR_SUCCESS;
}

void chat_live_free(struct chat *c)
{
	if (!c->live) return;
	struct live_room *lr, *tmp;
	HASH_ITER(hh, c->live->rooms, lr, tmp) room_free(c, lr);
	strbuf_free(&c->live->out);
	mosquitto_free(c->live);
	c->live = NULL;
}

bool chat_live_active(const struct chat *c)
{
	return c->live && c->live->rooms;
}

bool chat_live_is(const struct chat *c, const char *room, size_t len)
{
	const struct room *r = rooms_find(&c->rooms, room, len);
	return r && r->policy.live;
}

/* ---- batches ---------------------------------------------------------- */

/* The batch of shard, the table grown to it; NULL when out of memory. */
static struct live_batch *batch_of(struct live_room *lr, unsigned shard)
{
	if (shard == 0) return NULL;
	if (shard > lr->nbatches) {
		unsigned n = shard < 8 ? 8 : shard * 2;
		struct live_batch *b = mosquitto_realloc(lr->batches, n * sizeof(*b));
		if (!b) return NULL;
		for (unsigned i = lr->nbatches; i < n; i++) live_batch_init(&b[i]);
		lr->batches = b;
		lr->nbatches = n;
	}
	return &lr->batches[shard - 1];
}

/* Publishes shard's batch (QoS 1; a viewer's subscription may lower it). */
static void send_batch(struct chat *c, struct live_room *lr, unsigned shard, uint64_t viewers)
{
	char topic[32 + TOPIC_ROOM_MAX];
	struct live_batch *b = batch_of(lr, shard);
	if (!b) return;
	if (live_batch_take(b, lr->id, shard, viewers, &c->live->out) != CHAT_OK) return;
	snprintf(topic, sizeof(topic), "chat/rooms/%s/live/%u", lr->id, shard);
	if (chat_publish(topic, c->live->out.buf, c->live->out.len, false) == MOSQ_ERR_SUCCESS) lr->n.batches++;
}

/* Sends every shard's batch that holds envelopes, and an empty one to
 * each open shard when the viewer count changed and has not gone out for
 * LIVE_COUNT_MS. */
static void flush_room(struct chat *c, struct live_room *lr, uint64_t now)
{
	uint64_t viewers = lr->shards.total;
	bool count_due = viewers != lr->sent_viewers && now - lr->count_ms >= LIVE_COUNT_MS;
	lr->last_flush_ms = now;
	for (unsigned k = 1; k <= lr->shards.cap && k <= LIVE_SHARDS_MAX; k++) {
		if (!lr->shards.open[k - 1]) continue;
		struct live_batch *b = k <= lr->nbatches ? &lr->batches[k - 1] : NULL;
		if ((b && b->n > 0) || count_due) send_batch(c, lr, k, viewers);
	}
	if (count_due || lr->sent_viewers == UINT64_MAX) {
		lr->sent_viewers = viewers;
		lr->count_ms = now;
	}
}

static void add_to_shard(struct chat *c, struct live_room *lr, unsigned shard, const char *env, size_t len)
{
	struct live_batch *b = batch_of(lr, shard);
	if (!b) return;
	if (b->n > 0 && live_batch_bytes(b) + len > LIVE_BATCH_MAX) send_batch(c, lr, shard, lr->shards.total);
	live_batch_add(b, env, len);
}

unsigned chat_live_shard(struct chat *c, const char *room, size_t len, const char *user)
{
	const struct room *r = rooms_find(&c->rooms, room, len);
	if (!r || !r->policy.live) return 0;
	if (rooms_role(r, user, strlen(user)) >= ROLE_ADMIN) return 0; /* room-wide */
	struct live_room *lr = find_room(c, room, len);
	if (!lr) return 0;
	struct live_viewer *v = NULL;
	HASH_FIND_STR(lr->viewers, user, v);
	return v ? v->shard : live_shards_least(&lr->shards);
}

void chat_live_accepted(struct chat *c, const char *room, size_t len, unsigned shard, const char *env, size_t env_len)
{
	const struct room *r = rooms_find(&c->rooms, room, len);
	if (!r || !r->policy.live) return;
	struct live_room *lr = room_state(c, r);
	if (!lr) return;
	lr->n.in++;
	if (shard) {
		if (live_shards_count(&lr->shards, shard) > 0) add_to_shard(c, lr, shard, env, env_len);
	} else {
		for (unsigned k = 1; k <= lr->shards.cap; k++) {
			if (lr->shards.open[k - 1]) add_to_shard(c, lr, k, env, env_len);
		}
	}
	/* A broker that sends no tick (2.0 with per_listener_settings) still
	 * sends batches while messages come. */
	uint64_t now = chat_now_ms();
	if (now - lr->last_flush_ms >= interval_of(c, r)) flush_room(c, lr, now);
}

void chat_live_refused(struct chat *c, const char *room, size_t len, enum chat_reject why)
{
	struct live_room *lr = room ? find_room(c, room, len) : NULL;
	if (lr && why < REJECT_COUNT) lr->n.refused[why]++;
}

static void session_leaves(struct chat *c, struct live_room *lr, struct live_session *s);

/* Drops the sessions of users no longer members of room (removed while
 * watching: the read check already withholds their batches), so that
 * they stop counting as viewers. Once a second: it walks every session. */
static void prune_leavers(struct chat *c, struct live_room *lr, const struct room *room, uint64_t now)
{
	struct live_session *s, *tmp;
	if (now - lr->prune_ms < LIVE_COUNT_MS) return;
	lr->prune_ms = now;
	HASH_ITER(hh, lr->sessions, s, tmp) {
		const char *user = s->viewer->user;
		if (rooms_role(room, user, strlen(user)) == ROLE_NONE) session_leaves(c, lr, s);
	}
}

/* chat_live_tick for a broker with live rooms. */
CHAT_OUT_OF_LINE static uint64_t tick_rooms(struct chat *c, uint64_t now)
{
	struct live_room *lr, *tmp;
	uint64_t next = UINT64_MAX;
	HASH_ITER(hh, c->live->rooms, lr, tmp) {
		const struct room *r = rooms_find(&c->rooms, lr->id, strlen(lr->id));
		if (!r || !r->policy.live) {
			room_free(c, lr); /* deleted, or no longer live (chat_live_changed told its viewers) */
			continue;
		}
		uint64_t interval = interval_of(c, r);
		prune_leavers(c, lr, r, now);
		if (now - lr->last_flush_ms >= interval) flush_room(c, lr, now);
		if (lr->last_flush_ms + interval - now < next) next = lr->last_flush_ms + interval - now;
	}
	return next;
}

uint64_t chat_live_tick(struct chat *c, uint64_t now)
{
	return c->live->rooms ? tick_rooms(c, now) : UINT64_MAX;
}

/* ---- viewers ---------------------------------------------------------- */

/* The room of a join filter chat/rooms/{room}/live (NULL for any other). */
static const struct room *join_room(const struct chat *c, const char *filter)
{
	struct topic_ref t;
	if (strncmp(filter, "chat/rooms/", 11) != 0) return NULL;
	topic_parse(filter, &t);
	if (t.kind != TOPIC_ROOM_LIVE || t.wildcard || strcmp(t.id + t.id_len, "/live") != 0) return NULL;
	const struct room *r = rooms_find(&c->rooms, t.id, t.id_len);
	return r && r->policy.live ? r : NULL;
}

static void viewer_moved(struct chat *c, const struct live_viewer *v)
{
	chat_publish_rooms_list(c, v->user);
}

/* Merges shards while live_shards_to_close says so: the closing shard's
 * viewers are dealt into the others and told through their rooms lists. */
static void merge(struct chat *c, struct live_room *lr)
{
	unsigned closing;
	while ((closing = live_shards_to_close(&lr->shards)) != 0) {
		live_shards_close(&lr->shards, closing);
		struct live_batch *b = batch_of(lr, closing);
		if (b) live_batch_take(b, lr->id, closing, UINT64_MAX, &c->live->out); /* nobody listens there now */
		for (struct live_viewer *v = lr->viewers; v; v = v->hh.next) {
			if (v->shard != closing) continue;
			v->shard = live_shards_move(&lr->shards);
			viewer_moved(c, v);
		}
	}
}

/* The viewer entry of user, dealt into a shard when new (its rooms list
 * then names the shard); NULL when out of memory. */
static struct live_viewer *viewer_of(struct chat *c, struct live_room *lr, const char *user)
{
	struct live_viewer *v = NULL;
	HASH_FIND_STR(lr->viewers, user, v);
	if (v) return v;
	v = mosquitto_calloc(1, sizeof(*v));
	if (!v) return NULL;
	v->shard = live_shards_join(&lr->shards);
	if (v->shard == 0) {
		mosquitto_free(v);
		return NULL;
	}
	snprintf(v->user, sizeof(v->user), "%s", user);
	HASH_ADD_STR(lr->viewers, user, v);
	chat_publish_rooms_list(c, user);
	return v;
}

void chat_live_subscribed(struct chat *c, const struct mosquitto *client, const char *filter)
{
	const char *id = mosquitto_client_id(client), *user = mosquitto_client_username(client);
	const struct room *r = id && user ? join_room(c, filter) : NULL;
	struct live_room *lr = r ? room_state(c, r) : NULL;
	struct live_session *s = NULL;
	if (!lr) return;
	HASH_FIND_STR(lr->sessions, id, s);
	if (s) return; /* subscribed again */
	s = mosquitto_calloc(1, sizeof(*s));
	if (s) s->client_id = mosquitto_strdup(id);
	if (s && s->client_id) s->viewer = viewer_of(c, lr, user);
	if (!s || !s->viewer) {
		if (s) mosquitto_free(s->client_id);
		mosquitto_free(s);
		return;
	}
	s->viewer->sessions++;
	HASH_ADD_KEYPTR(hh, lr->sessions, s->client_id, strlen(s->client_id), s);
}

/* The session leaves; its user leaves with its last session. */
static void session_leaves(struct chat *c, struct live_room *lr, struct live_session *s)
{
	struct live_viewer *v = s->viewer;
	HASH_DEL(lr->sessions, s);
	mosquitto_free(s->client_id);
	mosquitto_free(s);
	if (--v->sessions > 0) return;
	HASH_DEL(lr->viewers, v);
	live_shards_leave(&lr->shards, v->shard);
	char user[TOPIC_ID_MAX + 1];
	memcpy(user, v->user, sizeof(user));
	mosquitto_free(v);
	merge(c, lr);
	chat_publish_rooms_list(c, user);
}

void chat_live_unsubscribed(struct chat *c, const struct mosquitto *client, const char *filter)
{
	const char *id = mosquitto_client_id(client);
	struct topic_ref t;
	if (!id || strncmp(filter, "chat/rooms/", 11) != 0) return;
	topic_parse(filter, &t);
	if (t.kind != TOPIC_ROOM_LIVE || t.wildcard || strcmp(t.id + t.id_len, "/live") != 0) return;
	struct live_room *lr = find_room(c, t.id, t.id_len);
	struct live_session *s = NULL;
	if (lr) HASH_FIND_STR(lr->sessions, id, s);
	if (s) session_leaves(c, lr, s);
}

void chat_live_disconnected(struct chat *c, const struct mosquitto *client)
{
	const char *id = mosquitto_client_id(client);
	struct live_room *lr, *tmp;
	if (!id || !c->live) return;
	HASH_ITER(hh, c->live->rooms, lr, tmp) {
		struct live_session *s = NULL;
		HASH_FIND_STR(lr->sessions, id, s);
		if (s) session_leaves(c, lr, s);
	}
}

void chat_live_rooms_entry(struct chat *c, const struct room *room, const char *user, struct strbuf *sb)
{
	if (!room->policy.live) return;
	strbuf_puts(sb, ",\"live\":true");
	struct live_room *lr = find_room(c, room->id, strlen(room->id));
	struct live_viewer *v = NULL;
	if (lr) HASH_FIND_STR(lr->viewers, user, v);
	if (!v) return;
	strbuf_puts(sb, ",\"shard\":");
	strbuf_append_u64(sb, v->shard);
	strbuf_puts(sb, ",\"shardTopic\":\"chat/rooms/");
	strbuf_puts(sb, room->id);
	strbuf_puts(sb, "/live/");
	strbuf_append_u64(sb, v->shard);
	strbuf_putc(sb, '"');
}

void chat_live_changed(struct chat *c, const struct room *room)
{
	struct live_room *lr = find_room(c, room->id, strlen(room->id));
	if (lr && !room->policy.live) {
		room_free(c, lr); /* viewers subscribe again when it is live again */
	} else if (lr) {
		live_shards_resize(&lr->shards, shard_size_of(c, room));
		merge(c, lr);
	} else if (room->policy.live) {
		room_state(c, room); /* from now on the read check refuses members the messages topic */
	}
	for (const struct room_member *m = room->members; m; m = m->hh.next) chat_publish_rooms_list(c, m->user);
}

/* ---- figures ---------------------------------------------------------- */

static void member_u64(struct strbuf *out, const char *name, uint64_t v)
{
	strbuf_putc(out, '"');
	strbuf_puts(out, name);
	strbuf_puts(out, "\":");
	strbuf_append_u64(out, v);
}

void chat_live_stats_json(struct chat *c, struct strbuf *out)
{
	strbuf_puts(out, "\"live\":{");
	for (struct live_room *lr = c->live ? c->live->rooms : NULL; lr; lr = lr->hh.next) {
		if (lr != c->live->rooms) strbuf_putc(out, ',');
		strbuf_append_json_string(out, lr->id, strlen(lr->id));
		strbuf_puts(out, ":{");
		member_u64(out, "viewers", lr->shards.total);
		strbuf_putc(out, ',');
		member_u64(out, "shards", lr->shards.opened);
		strbuf_putc(out, ',');
		member_u64(out, "messages/in", lr->n.in);
		strbuf_putc(out, ',');
		member_u64(out, "batches/out", lr->n.batches);
		for (int i = 0; i < REJECT_COUNT; i++) {
			char name[64];
			snprintf(name, sizeof(name), "messages/rejected/%s", chat_reject_name((enum chat_reject)i));
			strbuf_putc(out, ',');
			member_u64(out, name, lr->n.refused[i]);
		}
		strbuf_putc(out, '}');
	}
	strbuf_putc(out, '}');
}

static void sys_value(const struct live_room *lr, const char *name, uint64_t v)
{
	char topic[128 + TOPIC_ROOM_MAX], payload[24];
	snprintf(topic, sizeof(topic), "$SYS/broker/chat/live/%s/%s", lr->id, name);
	int n = snprintf(payload, sizeof(payload), "%llu", (unsigned long long)v);
	chat_publish(topic, payload, (size_t)n, false);
}

void chat_live_publish_sys(struct chat *c)
{
	for (struct live_room *lr = c->live ? c->live->rooms : NULL; lr; lr = lr->hh.next) {
		sys_value(lr, "viewers", lr->shards.total);
		sys_value(lr, "shards", lr->shards.opened);
		sys_value(lr, "messages/in", lr->n.in);
		sys_value(lr, "batches/out", lr->n.batches);
		for (int i = 0; i < REJECT_COUNT; i++) {
			char name[64];
			snprintf(name, sizeof(name), "messages/rejected/%s", chat_reject_name((enum chat_reject)i));
			sys_value(lr, name, lr->n.refused[i]);
		}
	}
}

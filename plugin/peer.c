/* SPDX-License-Identifier: MIT */
/*
 * Scale-out roles and rules (peer.h, docs/scale-out.md): the peer options,
 * recognising this broker's links and other brokers' peers, the ACL that
 * lets a peer receive only what originated here, and the tick that drives
 * catch-up, state snapshots and presence heartbeats.
 *
 * Why at the serving side: Mosquitto grants a bridge's own context every
 * ACL check without asking plugins, so what a link brings in cannot be
 * filtered where it arrives; the broker it comes from filters what it
 * hands out.
 */
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "live.h"
#include "peer_int.h"
#include "topic.h"

#define DEFAULT_SYNC_TIMEOUT_MS 10000u
#define ENVELOPE_ID_AT 7 /* {"id":" */
#define NODE_AT 10       /* the id's node part: 4 chars (id.h) */
#define NODE_LEN 4

/* Filters a peer may subscribe to (the topic lines of a link). */
static const char *const peer_filters[] = {
	"chat/rooms/+/messages",
	PEER_FWD "chat/#",
	PEER_OUT "state",
	PEER_OUT "presence",
};

static const char *const peer_options[] = {
	"peer_users", "peer_links", "peers", "peer_sync_timeout", NULL,
};

bool chat_peer_option_known(const char *key)
{
	for (int i = 0; peer_options[i]; i++) {
		if (strcmp(key, peer_options[i]) == 0) return true;
	}
	return false;
}

bool peer_list_has(const struct peer_list *l, const char *s)
{
	if (!s) return false;
	for (size_t i = 0; i < l->count; i++) {
		if (strcmp(l->items[i], s) == 0) return true;
	}
	return false;
}

static void peer_list_free(struct peer_list *l)
{
	for (size_t i = 0; i < l->count; i++) free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* "a, b,c" into l; each item must be a valid id (user, client or node). */
static int parse_list(const char *key, const char *value, struct peer_list *l)
{
	peer_list_free(l);
	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n == 0) break;
		if (!topic_user_valid(p, n)) {
			mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%.*s' is not a valid id", key,
					     (int)n, p);
			return MOSQ_ERR_INVAL;
		}
		char **items = realloc(l->items, (l->count + 1) * sizeof(*items));
		if (!items) return MOSQ_ERR_NOMEM;
		l->items = items;
		l->items[l->count] = strndup(p, n);
		if (!l->items[l->count]) return MOSQ_ERR_NOMEM;
		l->count++;
		p += n;
	}
	return MOSQ_ERR_SUCCESS;
}

static int parse_timeout(const char *value, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v = strtoull(value, &end, 10);
	if (end == value || *end || value[0] == '-' || v > 600000) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
				     CHAT_LOG_PREFIX "plugin_opt_peer_sync_timeout: '%s' is not 0..600000 ms", value);
		return MOSQ_ERR_INVAL;
	}
	*out = v;
	return MOSQ_ERR_SUCCESS;
}

static int apply_option(struct chat_peer *p, const char *k, const char *v)
{
	if (strcmp(k, "peer_users") == 0) return parse_list(k, v, &p->users);
	if (strcmp(k, "peer_links") == 0) return parse_list(k, v, &p->links);
	if (strcmp(k, "peers") == 0) return parse_list(k, v, &p->peers);
	return parse_timeout(v, &p->sync_timeout_ms);
}

/* A scale-out broker needs its node id to be its own: ids and records
 * name it. */
static int check_config(struct chat *c, struct chat_peer *p)
{
	if (!c->cfg.node_id || !*c->cfg.node_id) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_peer_*: needs plugin_opt_node_id");
		return MOSQ_ERR_INVAL;
	}
	if (peer_list_has(&p->peers, c->cfg.node_id)) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_peers: lists this broker's own node id");
		return MOSQ_ERR_INVAL;
	}
	/* A message's origin is the node part of its id: two brokers whose node
	 * ids hash alike could not tell their messages apart. */
	for (size_t i = 0; i < p->peers.count; i++) {
		struct id_gen g;
		id_gen_init(&g, p->peers.items[i], 0);
		if (g.node != c->ids.node) continue;
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_peers: node id %s hashes like this "
				     "broker's %s in message ids; choose another", p->peers.items[i], c->cfg.node_id);
		return MOSQ_ERR_INVAL;
	}
	p->node = strdup(c->cfg.node_id);
	p->synced = calloc(p->peers.count + 1, sizeof(*p->synced));
	return p->node && p->synced ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
}

int chat_peer_init(struct chat *c, struct mosquitto_opt *opts, int opt_count)
{
	struct chat_peer *p = calloc(1, sizeof(*p));
	bool any = false;
	int rc = p ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
	if (p) p->sync_timeout_ms = DEFAULT_SYNC_TIMEOUT_MS;
	for (int i = 0; rc == MOSQ_ERR_SUCCESS && i < opt_count; i++) {
		if (!chat_peer_option_known(opts[i].key)) continue;
		any = true;
		rc = apply_option(p, opts[i].key, opts[i].value ? opts[i].value : "");
	}
	if (rc == MOSQ_ERR_SUCCESS && any) rc = check_config(c, p);
	if (rc != MOSQ_ERR_SUCCESS || !any) {
		c->peer = p;
		chat_peer_free(c);
		return rc;
	}
	p->started_ms = chat_now_ms();
	p->sync_done = p->peers.count == 0;
	p->presence_expire_ms = 3000;
	c->peer = p;
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "scale-out: node %s, %zu peer(s), %zu link(s)", p->node,
			     p->peers.count, p->links.count);
	return MOSQ_ERR_SUCCESS;
}

void chat_peer_free(struct chat *c)
{
	struct chat_peer *p = c->peer;
	if (!p) return;
	peer_state_free(p);
	peer_presence_free(p);
	peer_list_free(&p->users);
	peer_list_free(&p->links);
	peer_list_free(&p->peers);
	peer_list_free(&p->inbound);
	free(p->synced);
	free(p->node);
	free(p);
	c->peer = NULL;
}

bool chat_peer_link_id(const struct chat *c, const char *client_id)
{
	return c->peer && peer_list_has(&c->peer->links, client_id);
}

/* A link is a bridge context: the broker never asks the plugin to
 * authenticate it, and network clients may not take its client id
 * (auth.c refuses them), so the id names it. */
bool chat_peer_is_link(const struct chat *c, const struct mosquitto *client)
{
	return c->peer && peer_list_has(&c->peer->links, mosquitto_client_id(client));
}

/* A live room's viewers here read batches, not the messages topic: a
 * message stamped on another broker joins the batch of the shard its
 * envelope names (shards are numbered room-wide, each broker deals its own
 * viewers into them), or of every shard when it names none. */
static void live_relay(struct chat *c, const struct mosquitto_evt_message *ed)
{
	struct topic_ref t;
	struct envelope_view v;
	if (!chat_live_active(c)) return;
	topic_parse_memo(&c->topics, ed->topic, &t);
	if (t.kind != TOPIC_ROOM_MESSAGES || !chat_live_is(c, t.id, t.id_len)) return;
	if (envelope_read(ed->payload, ed->payloadlen, &v) != CHAT_OK) return;
	chat_live_accepted(c, t.id, t.id_len, v.shard, ed->payload, ed->payloadlen);
}

int chat_peer_on_link_message(struct chat *c, struct mosquitto_evt_message *ed)
{
	const char *t = ed->topic;
	if (strncmp(t, PEER_IN, sizeof(PEER_IN) - 1) != 0) { /* chat traffic, as it came */
		live_relay(c, ed);
		return MOSQ_ERR_SUCCESS;
	}
	t += sizeof(PEER_IN) - 1;
	if (strcmp(t, "state") == 0) peer_state_on_record(c, ed->payload, ed->payloadlen);
	else if (strcmp(t, "presence") == 0) peer_presence_on_record(c, ed->payload, ed->payloadlen, chat_now_ms());
	return MOSQ_ERR_SUCCESS;
}

bool chat_peer_stamped_here(const struct chat *c, const void *payload, uint32_t len)
{
	const char *s = payload;
	if (!s || len < ENVELOPE_ID_AT + ID_LEN || memcmp(s, "{\"id\":\"", ENVELOPE_ID_AT) != 0) return false;
	return memcmp(s + ENVELOPE_ID_AT + NODE_AT, c->ids.head + NODE_AT, NODE_LEN) == 0;
}

/* Remembers a peer's link that subscribed here (its last filter). */
static void inbound_add(struct chat_peer *p, const char *client_id)
{
	if (!client_id || peer_list_has(&p->inbound, client_id)) return;
	char **items = realloc(p->inbound.items, (p->inbound.count + 1) * sizeof(*items));
	if (!items) return;
	p->inbound.items = items;
	items[p->inbound.count] = strdup(client_id);
	if (items[p->inbound.count]) p->inbound.count++;
}

static int peer_subscribe(struct chat *c, const struct mosquitto *client, const char *filter)
{
	for (size_t i = 0; i < sizeof(peer_filters) / sizeof(peer_filters[0]); i++) {
		if (strcmp(filter, peer_filters[i]) != 0) continue;
		/* A peer that comes (back) gets the whole state and presence. */
		if (strcmp(filter, PEER_OUT "state") == 0) c->peer->snapshot_due = true;
		if (strcmp(filter, PEER_OUT "presence") == 0) {
			c->peer->presence_snapshot_due = true;
			inbound_add(c->peer, mosquitto_client_id(client));
		}
		return MOSQ_ERR_SUCCESS;
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* What a peer (another broker's link) may do here. */
static int peer_rule(struct chat *c, const struct mosquitto_evt_acl_check *ed, bool ns)
{
	struct topic_ref t;
	switch (ed->access) {
	case MOSQ_ACL_SUBSCRIBE: return peer_subscribe(c, ed->client, ed->topic);
	case MOSQ_ACL_UNSUBSCRIBE: return MOSQ_ERR_SUCCESS;
	case MOSQ_ACL_READ:
		if (ns) return strncmp(ed->topic, PEER_OUT, sizeof(PEER_OUT) - 1) == 0 ? MOSQ_ERR_SUCCESS
										       : MOSQ_ERR_ACL_DENIED;
		topic_parse_memo(&c->topics, ed->topic, &t);
		if (t.kind == TOPIC_ROOM_MESSAGES && chat_peer_stamped_here(c, ed->payload, ed->payloadlen))
			return MOSQ_ERR_SUCCESS;
		return MOSQ_ERR_ACL_DENIED;
	default: return MOSQ_ERR_ACL_DENIED; /* links are `in` only: a peer never publishes here */
	}
}

/* chat_peer_acl of a broker with peers. */
CHAT_OUT_OF_LINE static bool peer_acl(struct chat *c, const struct mosquitto_evt_acl_check *ed, int *rc)
{
	struct chat_peer *p = c->peer;
	bool ns = strncmp(ed->topic, "chatpeer/", 9) == 0;
	if (peer_list_has(&p->users, mosquitto_client_username(ed->client))) {
		*rc = peer_rule(c, ed, ns);
		return true;
	}
	if (ns) { /* nobody else reads or writes the peers' namespace */
		*rc = MOSQ_ERR_ACL_DENIED;
		return true;
	}
	/* A storer here stores what was stamped here: a message that came over
	 * a link is stored at its origin. */
	if (ed->access != MOSQ_ACL_READ) return false;
	struct topic_ref t;
	topic_parse_memo(&c->topics, ed->topic, &t);
	if (t.kind != TOPIC_ROOM_MESSAGES || chat_peer_stamped_here(c, ed->payload, ed->payloadlen)) return false;
	if (!chat_is_service(c, ed->client)) return false;
	*rc = MOSQ_ERR_ACL_DENIED;
	return true;
}

/* Every ACL check asks, mostly on a broker without peers. */
bool chat_peer_acl(struct chat *c, const struct mosquitto_evt_acl_check *ed, int *rc)
{
	return c->peer && peer_acl(c, ed, rc);
}

void chat_peer_forward(struct chat *c, const char *topic, const char *payload, size_t len)
{
	char fwd[sizeof(PEER_FWD) + 32 + TOPIC_ROOM_MAX];
	if (!c->peer) return;
	int n = snprintf(fwd, sizeof(fwd), PEER_FWD "%s", topic);
	if (n > 0 && (size_t)n < sizeof(fwd)) chat_publish(fwd, payload, len, false);
}

/* Catch-up: done when every listed peer sent a snapshot and as many
 * peers' links have subscribed here (what is accepted from now on reaches
 * them), or on timeout. */
static void sync_check(struct chat_peer *p, uint64_t now)
{
	if (p->sync_done) return;
	size_t have = 0;
	for (size_t i = 0; i < p->peers.count; i++) have += p->synced[i] ? 1u : 0u;
	if (have == p->peers.count && p->inbound.count >= p->peers.count) {
		p->sync_done = true;
		mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "scale-out: caught up with %zu peer(s)", have);
	} else if (now - p->started_ms >= p->sync_timeout_ms) {
		p->sync_done = true;
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				     CHAT_LOG_PREFIX "scale-out: caught up with %zu of %zu peer(s), %zu peer link(s) "
						     "subscribed, before the timeout; accepting chat logins",
				     have, p->peers.count, p->inbound.count);
	}
}

bool chat_peer_syncing(struct chat *c)
{
	if (!c->peer) return false;
	sync_check(c->peer, chat_now_ms());
	return !c->peer->sync_done;
}

bool chat_peer_refuses_login(struct chat *c, const char *client_id, const char *user)
{
	if (!c->peer) return false;
	const char *why = NULL;
	if (peer_list_has(&c->peer->links, client_id)) why = "that client id is a scale-out link's";
	else if (user && !peer_list_has(&c->peer->users, user) && !user_list_has(&c->cfg.service_users, user) && chat_peer_syncing(c))
		why = "still catching up with its peers";
	if (why) mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "client %s refused: %s", client_id, why);
	return why != NULL;
}

CHAT_OUT_OF_LINE static void peer_tick(struct chat *c, uint64_t now)
{
	sync_check(c->peer, now);
	peer_state_tick(c, now);
	peer_presence_tick(c, now);
}

void chat_peer_tick(struct chat *c, uint64_t now)
{
	if (c->peer) peer_tick(c, now);
}

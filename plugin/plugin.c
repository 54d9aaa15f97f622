/* SPDX-License-Identifier: MIT */
/*
 * Entry points of mosquitto_chat.so: version negotiation, init (options,
 * state, callback registration) and cleanup. Every broker event the plugin
 * takes is registered once, from the table below; the events that several
 * modules share (TICK, RELOAD, DISCONNECT) have one callback here that
 * calls them in an order written in one place. Everything else happens in
 * the callbacks registered here.
 */
#include <stdlib.h>
#ifdef __GLIBC__ /* malloc_trim */
#include <malloc.h>
#endif
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "chat.h"
#include "live.h"
#include "sessions.h"

uint64_t chat_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t boot_salt(void)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
	}
	return v;
}

/* ---- the events ------------------------------------------------------ */

/*
 * Once per broker loop. Auth first: the login seen in the last loop is
 * over (on_disconnect reads it) and expired tokens are kicked before
 * anything is published to them. Moderation rebuilds the word filter
 * before the state is saved, then the batched save, the $SYS counters,
 * read receipts and the peers. Live last: it tells 2.1 how soon it wants
 * the next tick.
 */
static int on_tick(int event, void *event_data, void *userdata)
{
	struct chat *c = userdata;
	uint64_t now = chat_now_ms();
	(void)event;
	chat_auth_tick(c, now);
	moderation_tick(c, now);
	chat_state_tick(c, now);
	chat_metrics_tick(c, now);
	chat_receipts_tick(c, now);
	chat_peer_tick(c, now);
	uint64_t next = chat_live_tick(c, now);
#if __has_include(<mosquitto/broker.h>)
	/* 2.1 sleeps until the soonest event any tick callback asks for. */
	struct mosquitto_evt_tick *ed = event_data;
	if (next != UINT64_MAX && next < 1000u) ed->next_ms = (long)next;
#else
	(void)event_data;
	(void)next;
#endif
	return MOSQ_ERR_SUCCESS;
}

/*
 * SIGHUP. Credentials, then the word files, then the state file last:
 * a state that changed republishes rooms lists and kicks the users it
 * bans, against the credentials and words now in force. Each keeps what
 * runs when its file does not load, so the reload as a whole succeeds:
 * Mosquitto 2.0.11 stops at the first RELOAD callback that returns
 * anything but MOSQ_ERR_PLUGIN_DEFER and returns that, 2.1 at the first
 * that returns anything but MOSQ_ERR_SUCCESS (logged as an error). Only
 * SUCCESS means "done" to both, as the state's reload, which was
 * registered last, used to return.
 */
static int on_reload(int event, void *event_data, void *userdata)
{
	struct chat *c = userdata;
	(void)event;
	(void)event_data;
	chat_auth_reload(c);
	moderation_reload(c);
	chat_state_reload(c);
	return MOSQ_ERR_SUCCESS;
}

/* A session ends: every module forgets the client. */
static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct chat *c = userdata;
	(void)event;
	/* A login that takes this client id over and resumes its session moves
	 * the session, subscriptions included, even though the broker ends the
	 * old connection as if it were clean. */
	const struct mosquitto *next = c->sessions->connecting;
	bool moving = next && sessions_taken_over(c->sessions, ed->client) && !mosquitto_client_clean_session(next);
	chat_storers_disconnected(c, ed->client, moving);
	chat_typing_disconnected(c, ed->client);
	chat_live_disconnected(c, ed->client);
	sessions_remove(c, ed->client);
	c->sessions->connecting = NULL;
	return MOSQ_ERR_SUCCESS;
}

/* Mosquitto 2.1 sends MOSQ_EVT_DISCONNECT only when a session ends, and
 * this event (its number there) when a client with a persistent session
 * goes; its data starts like the DISCONNECT event's. 2.0.x has neither the
 * event nor the name, and refuses to register it. */
enum { CHAT_EVT_CLIENT_OFFLINE = 28 };

/* Every event of the plugin, each once. event_data is what the broker
 * files the callback under (CONTROL: its topic), passed again to
 * unregister; an optional event may be unknown to the broker. */
static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
	const void *event_data;
	bool optional;
} chat_events[] = {
	{MOSQ_EVT_BASIC_AUTH, chat_on_basic_auth, NULL, false},
	{MOSQ_EVT_ACL_CHECK, chat_on_acl_check, NULL, false},
	{MOSQ_EVT_MESSAGE, chat_on_message, NULL, false},
	{MOSQ_EVT_CONTROL, chat_on_control, CONTROL_TOPIC, false},
	{MOSQ_EVT_DISCONNECT, on_disconnect, NULL, false},
	{CHAT_EVT_CLIENT_OFFLINE, on_disconnect, NULL, true},
	{MOSQ_EVT_TICK, on_tick, NULL, false},
	{MOSQ_EVT_RELOAD, on_reload, NULL, false},
};

#define CHAT_EVENT_COUNT (sizeof(chat_events) / sizeof(chat_events[0]))

static int register_events(struct chat *c)
{
	for (size_t i = 0; i < CHAT_EVENT_COUNT; i++) {
		int rc = mosquitto_callback_register(c->pid, chat_events[i].event, chat_events[i].cb,
						     chat_events[i].event_data, c);
		if (rc == MOSQ_ERR_NOT_SUPPORTED && chat_events[i].optional) continue;
		if (rc == MOSQ_ERR_SUCCESS) continue;
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot register event %d: %s", chat_events[i].event,
				     mosquitto_strerror(rc));
		return rc;
	}
	return MOSQ_ERR_SUCCESS;
}

/* Safe for events never registered (a failed init): the broker answers
 * those with MOSQ_ERR_NOT_FOUND or MOSQ_ERR_NOT_SUPPORTED. */
static void unregister_events(struct chat *c)
{
	for (size_t i = 0; i < CHAT_EVENT_COUNT; i++)
		mosquitto_callback_unregister(c->pid, chat_events[i].event, chat_events[i].cb, chat_events[i].event_data);
}

static void chat_free(struct chat *c)
{
	if (!c) return;
	chat_auth_free(c);
	rooms_clear(&c->rooms);
	moderation_free(c);
	sanctions_clear(&c->sanctions);
	slowmode_clear(&c->slow);
	chat_storers_free(c);
	chat_spool_close(c);
	chat_peer_free(c);
	messenger_free(c);
	chat_live_free(c);
	strbuf_free(&c->out);
	mosquitto_free(c->scratch);
	chat_config_free(&c->cfg);
	mosquitto_free(c);
}

/* The plugin and chat_common are built with hidden visibility (see
 * plugin/CMakeLists.txt): only these three entry points are exported. */
#define CHAT_EXPORT __attribute__((visibility("default")))

CHAT_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) return 5;
	}
	return -1;
}

CHAT_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data,
				      struct mosquitto_opt *opts, int opt_count)
{
	struct chat *c = mosquitto_calloc(1, sizeof(*c));
	if (!c) return MOSQ_ERR_NOMEM;
	c->pid = identifier;
	chat_props_init(c);
	strbuf_init(&c->out);
	c->spool.fd = -1;
	rooms_init(&c->rooms);
	int rc = chat_config_load(&c->cfg, opts, opt_count);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_live_init(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	c->scratch = mosquitto_malloc(c->cfg.limits.max_payload + 1);
	if (!c->scratch) {
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	id_gen_init(&c->ids, c->cfg.node_id, boot_salt());
	rc = chat_peer_init(c, opts, opt_count);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	/* Before the state: it sets rooms.ext_free and takes the word lists. */
	rc = moderation_init(c);
	if (rc == MOSQ_ERR_SUCCESS) rc = messenger_init(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_state_load(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_spool_open(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_auth_init(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = register_events(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	*user_data = c;
	/* Building the word filter and the password table freed much more than
	 * they keep: hand the free pages back before the clients come. */
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "plugin loaded (max_payload %zu)",
			     c->cfg.limits.max_payload);
	return MOSQ_ERR_SUCCESS;
fail:
	unregister_events(c);
	chat_free(c);
	return rc;
}

CHAT_EXPORT int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
	struct chat *c = user_data;
	(void)opts;
	(void)opt_count;
	if (c) {
		unregister_events(c);
		chat_state_flush(c); /* nothing changes it any more */
	}
	chat_free(c);
	return MOSQ_ERR_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * The push thread: its settings, the queue that the MQTT and store threads
 * fill, the loop, and the counters. Why a thread of its own rather than
 * curl driven from the MQTT loop: sending a notification needs MongoDB
 * (devices, read markers, the outbox) as well as HTTP, and neither may ever
 * hold up the broker connection or the message store. The loop sleeps in
 * curl_multi_poll() until a transfer, a coalescing deadline, an outbox scan
 * or a queued event (curl_multi_wakeup) needs it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "push.h"
#include "push_int.h"

#define QUEUE_MAX     200000 /* stored messages waiting; beyond, drop */
#define STOP_GRACE_MS 3000   /* in-flight requests at shutdown */

static const char *const platform_names[PUSH_PLATFORMS] = {"webhook", "unifiedpush", "fcm", "apns"};
static const char *const outcome_names[PUSH_OUTCOMES] = {"ok", "retry", "dead_token", "failed", "blocked"};

const char *push_platform_name(enum push_platform pf)
{
	return (unsigned)pf < PUSH_PLATFORMS ? platform_names[pf] : "?";
}

int push_platform_parse(const char *s, enum push_platform *out)
{
	for (int i = 0; i < PUSH_PLATFORMS; i++) {
		if (strcmp(s, platform_names[i]) == 0) {
			*out = (enum push_platform)i;
			return 0;
		}
	}
	return -1;
}

const struct push_provider *push_provider_of(enum push_platform pf)
{
	static const struct push_provider *const table[PUSH_PLATFORMS] = {
	    &push_webhook_provider, &push_unifiedpush_provider, &push_fcm_provider, &push_apns_provider};
	return table[pf];
}

void push_note_free(struct push_note *n)
{
	free(n->user);
	free(n->room);
	free(n->from);
	free(n->title);
	free(n->text);
	free(n->msg_id);
	memset(n, 0, sizeof(*n));
}

/* ---- settings ---- */

enum skind { S_BOOL, S_LONG, S_STR, S_URL /* an operator's http(s) URL */ };

struct setting {
	const char *key;
	size_t soff; /* in struct push_settings */
	enum skind kind;
	size_t coff; /* in struct push_cfg */
	const char *def;
	long min, max;
};

#define SET(k, field, kind, cfield, def, min, max)                                                           \
	{                                                                                                    \
		k, offsetof(struct push_settings, field), kind, offsetof(struct push_cfg, cfield), def, min, \
		    max                                                                                      \
	}

static const struct setting settings[] = {
    SET("push_preview", preview, S_BOOL, preview, "true", 0, 0),
    SET("push_coalesce_ms", coalesce_ms, S_LONG, coalesce_ms, "2000", 0, 600000),
    SET("push_allow_private", allow_private, S_BOOL, allow_private, "false", 0, 0),
    SET("push_allow_http", allow_http, S_BOOL, allow_http, "false", 0, 0),
    SET("push_max_attempts", max_attempts, S_LONG, max_attempts, "10", 1, 1000),
    SET("push_retry_base_ms", retry_base_ms, S_LONG, retry_base_ms, "2000", 10, 86400000),
    SET("push_retry_max_ms", retry_max_ms, S_LONG, retry_max_ms, "600000", 10, 86400000),
    SET("push_timeout_ms", timeout_ms, S_LONG, timeout_ms, "10000", 100, 600000),
    SET("push_title", title, S_STR, title, NULL, 0, 0),
    SET("webhook_url", webhook_url, S_URL, webhook_url, NULL, 0, 0),
    SET("webhook_secret", webhook_secret, S_STR, webhook_secret, NULL, 0, 0),
    SET("unifiedpush_ttl", unifiedpush_ttl, S_LONG, up_ttl, "86400", 0, 2419200),
    SET("fcm_service_account", fcm_service_account, S_STR, fcm_file, NULL, 0, 0),
    SET("fcm_project", fcm_project, S_STR, fcm_project, NULL, 0, 0),
    SET("fcm_base_url", fcm_base_url, S_URL, fcm_base_url, "https://fcm.googleapis.com", 0, 0),
    SET("fcm_token_url", fcm_token_url, S_URL, fcm_token_url, NULL, 0, 0),
    SET("apns_key_file", apns_key_file, S_STR, apns_key_file, NULL, 0, 0),
    SET("apns_key_id", apns_key_id, S_STR, apns_key_id, NULL, 0, 0),
    SET("apns_team_id", apns_team_id, S_STR, apns_team_id, NULL, 0, 0),
    SET("apns_topic", apns_topic, S_STR, apns_topic, NULL, 0, 0),
    SET("apns_base_url", apns_base_url, S_URL, apns_base_url, "https://api.push.apple.com", 0, 0),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "on", "yes", "1"}, *const no[] = {"false", "off", "no",
	                                                                            "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0) return *out = true, 0;
		if (strcmp(v, no[i]) == 0) return *out = false, 0;
	}
	return -1;
}

/* Operator URLs must at least be http(s) URLs that curl can use. */
static int check_operator_url(const char *key, const char *url, char *why, size_t whylen)
{
	struct push_url u;
	const char *bad = url ? ssrf_url_parse(url, &u) : NULL;
	if (!bad) return 0;
	snprintf(why, whylen, "%s %s: '%s'", key, bad, url);
	return -1;
}

static int parse_one(const struct setting *s, const char *v, struct push_cfg *cfg, char *why, size_t whylen)
{
	char *slot = (char *)cfg + s->coff;
	if (s->kind == S_STR || s->kind == S_URL) {
		if (s->kind == S_URL && check_operator_url(s->key, v, why, whylen) != 0) return -1;
		*(char **)(void *)slot = v ? xstrdup(v) : NULL;
		return 0;
	}
	if (s->kind == S_BOOL) {
		if (parse_bool(v, (bool *)(void *)slot) == 0) return 0;
		snprintf(why, whylen, "%s must be true or false, not '%s'", s->key, v);
		return -1;
	}
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < s->min || n > s->max) {
		snprintf(why, whylen, "%s must be a whole number %ld..%ld, not '%s'", s->key, s->min, s->max,
		         v);
		return -1;
	}
	*(long *)(void *)slot = n;
	return 0;
}

static bool is_text(const struct setting *s)
{
	return s->kind == S_STR || s->kind == S_URL;
}

static void cfg_free(struct push_cfg *cfg)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (!is_text(&settings[i])) continue;
		char **slot = (char **)(void *)((char *)cfg + settings[i].coff);
		free(*slot);
		*slot = NULL;
	}
	free(cfg->fcm_email);
	free(cfg->fcm_key_id);
	cfg->fcm_email = cfg->fcm_key_id = NULL;
}

int push_check_setting(const char *key, const char *value, char *why, size_t whylen)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (strcmp(settings[i].key, key) != 0) continue;
		struct push_cfg scratch;
		memset(&scratch, 0, sizeof(scratch));
		int rc = parse_one(&settings[i], value, &scratch, why, whylen);
		cfg_free(&scratch);
		return rc;
	}
	return 0;
}

/* On failure *key names the setting that is wrong. */
static int parse_settings(const struct push_settings *ps, struct push_cfg *cfg, char *why, size_t whylen,
                          const char **key)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *v = *(char *const *)(const void *)((const char *)ps + settings[i].soff);
		if (!v) v = settings[i].def;
		*key = settings[i].key;
		if ((v || is_text(&settings[i])) && parse_one(&settings[i], v, cfg, why, whylen) != 0)
			return -1;
	}
	if (cfg->retry_max_ms < cfg->retry_base_ms) cfg->retry_max_ms = cfg->retry_base_ms;
	*key = "apns_key_file";
	if (cfg->apns_key_file && (!cfg->apns_key_id || !cfg->apns_team_id || !cfg->apns_topic)) {
		snprintf(why, whylen, "apns_key_file needs apns_key_id, apns_team_id and apns_topic");
		return -1;
	}
	return 0;
}

/* Loads the keys of the providers cfg configures into p (checks them);
 * on failure *key names the setting. */
static int load_keys(struct push *p, char *why, size_t whylen, const char **key)
{
	for (int pf = 0; pf < PUSH_PLATFORMS; pf++) {
		const struct push_provider *pv = push_provider_of((enum push_platform)pf);
		*key = pv->setting;
		if (pv->load && pv->load(p, why, whylen) != 0) return -1;
	}
	return 0;
}

static void push_free(struct push *p)
{
	if (!p) return;
	for (int pf = 0; pf < PUSH_PLATFORMS; pf++) {
		const struct push_provider *pv = push_provider_of((enum push_platform)pf);
		if (pv->free) pv->free(p);
	}
	cfg_free(&p->cfg);
	free(p->owner);
	free(p);
}

int push_check_settings(const struct push_settings *s, char *why, size_t whylen, const char **key)
{
	struct push *p = xcalloc(1, sizeof(*p));
	int rc = parse_settings(s, &p->cfg, why, whylen, key);
	if (rc == 0) rc = load_keys(p, why, whylen, key);
	push_free(p);
	return rc;
}

/* ---- the queue ---- */

static void event_free(struct push_event *e)
{
	free(e->topic);
	free(e->from);
	free(e->data);
	free(e);
}

static void enqueue(struct push *p, struct push_event *e)
{
	pthread_mutex_lock(&p->lock);
	if (e->kind == EV_STORED && p->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&p->lock);
		METRIC_ADD(p->b, push_dropped, 1);
		event_free(e);
		return;
	}
	bool was_empty = p->head == NULL;
	if (p->tail)
		p->tail->next = e;
	else
		p->head = e;
	p->tail = e;
	p->queued++;
	pthread_mutex_unlock(&p->lock);
	/* drain_events takes the whole queue, so one wake-up per batch of
	 * events is enough: the first into an empty queue. */
	if (was_empty) curl_multi_wakeup(p->multi);
}

static struct push_event *event_new(enum push_event_kind kind, const char *topic, const void *data, size_t len)
{
	struct push_event *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->topic = topic ? xstrdup(topic) : NULL;
	e->data = xmalloc(len + 1);
	if (len) memcpy(e->data, data, len);
	e->data[len] = '\0';
	e->len = len;
	return e;
}

void push_on_stored(struct bridge *b, const char *json, size_t len)
{
	if (b->push) enqueue(b->push, event_new(EV_STORED, NULL, json, len));
}

bool push_on_mqtt(struct bridge *b, const struct mosquitto_message *msg, const mosquitto_property *props)
{
	struct topic_ref t;
	topic_parse(msg->topic, &t);
	int kind = t.kind == TOPIC_PRESENCE       ? EV_PRESENCE
	           : t.kind == TOPIC_USER_ROOMS   ? EV_ROOMS
	           : t.kind == TOPIC_USER_DEVICES ? EV_DEVICES
	                                          : -1;
	if (kind < 0 || t.wildcard) return false;
	if (!b->push) return true;
	char from[TOPIC_ID_MAX + 1];
	if (kind == EV_DEVICES && !request_sender(msg, props, from, sizeof(from))) return true;
	struct push_event *e =
	    event_new((enum push_event_kind)kind, msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
	if (kind == EV_DEVICES) e->from = xstrdup(from);
	enqueue(b->push, e);
	return true;
}

/* ---- the thread ---- */

/* The user segment of chat/presence/{user} or chat/users/{user}/... */
static bool topic_user(const char *topic, char *out)
{
	struct topic_ref t;
	topic_parse(topic, &t);
	if (!t.id || t.id_len == 0 || t.id_len > TOPIC_ID_MAX) return false;
	memcpy(out, t.id, t.id_len);
	out[t.id_len] = '\0';
	return true;
}

static void handle_event(struct push *p, struct push_event *e)
{
	char user[TOPIC_ID_MAX + 1];
	if (e->kind == EV_STORED) {
		push_notify_stored(p, e->data, e->len);
		return;
	}
	if (!topic_user(e->topic, user)) return;
	if (e->kind == EV_PRESENCE)
		push_index_presence(p, user, e->data, e->len);
	else if (e->kind == EV_ROOMS)
		push_index_rooms(p, user, e->data, e->len);
	else
		devices_on_message(p, e->topic, e->from, e->data, e->len);
}

static void drain_events(struct push *p)
{
	pthread_mutex_lock(&p->lock);
	struct push_event *e = p->head;
	p->head = p->tail = NULL;
	p->queued = 0;
	pthread_mutex_unlock(&p->lock);
	while (e) {
		struct push_event *next = e->next;
		handle_event(p, e);
		event_free(e);
		e = next;
	}
}

static long scan_period_ms(const struct push *p)
{
	long v = p->cfg.retry_base_ms / 2;
	return v < 100 ? 100 : v > 1000 ? 1000 : v;
}

static void maybe_scan(struct push *p, long long now)
{
	/* With a backlog of our own, claiming more only adds to it, and a
	 * queued job whose lease ran out must not be claimed by us again. */
	if (now < p->next_scan_ms || p->npending > 0) return;
	p->next_scan_ms = now + scan_period_ms(p);
	if (!p->indexes_ok && push_outbox_indexes(p) != 0) return;
	push_outbox_scan(p, 64);
}

static void shutdown_drain(struct push *p)
{
	drain_events(p);
	push_notify_flush(p, true, 0);
	long long deadline = bridge_now_ms() + STOP_GRACE_MS;
	while ((p->inflight > 0 || p->pending) && bridge_now_ms() < deadline) {
		push_http_run(p);
		curl_multi_poll(p->multi, NULL, 0, 50, NULL);
	}
	push_http_run(p);
}

static void *push_main(void *arg)
{
	struct push *p = arg;
	push_snapshot(p);
	while (!atomic_load(&p->stop)) {
		drain_events(p);
		long wait = push_notify_flush(p, false, 1000);
		long long now = bridge_now_ms();
		maybe_scan(p, now);
		push_http_run(p);
		long until_scan = (long)(p->next_scan_ms - bridge_now_ms());
		if (until_scan < wait) wait = until_scan;
		if (wait < 0) wait = 0;
		curl_multi_poll(p->multi, NULL, 0, (int)wait, NULL);
	}
	shutdown_drain(p);
	return NULL;
}

static int open_mongo(struct push *p)
{
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(p->b->cfg.mongo_uri, &err);
	if (!uri) {
		blog(BLOG_ERR, "push: mongo_uri: %s", err.message);
		return -1;
	}
	p->mongo = mongoc_client_new_from_uri_with_error(uri, &err);
	mongoc_uri_destroy(uri);
	if (!p->mongo) {
		blog(BLOG_ERR, "push: mongo client: %s", err.message);
		return -1;
	}
	mongoc_client_set_appname(p->mongo, "chat-bridge-push");
	const char *db = p->b->cfg.mongo_database;
	p->devices = mongoc_client_get_collection(p->mongo, db, "devices");
	p->outbox = mongoc_client_get_collection(p->mongo, db, "push_outbox");
	p->dead = mongoc_client_get_collection(p->mongo, db, "push_dead");
	p->messages = mongoc_client_get_collection(p->mongo, db, "messages");
	p->reads = mongoc_client_get_collection(p->mongo, db, "reads");
	return 0;
}

static void close_mongo(struct push *p)
{
	mongoc_collection_t **colls[] = {&p->devices, &p->outbox, &p->dead, &p->messages, &p->reads};
	for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
		if (*colls[i]) mongoc_collection_destroy(*colls[i]);
		*colls[i] = NULL;
	}
	if (p->mongo) mongoc_client_destroy(p->mongo);
	p->mongo = NULL;
}

static void remember_trusted(struct push *p)
{
	const char *urls[] = {p->cfg.webhook_url, p->cfg.fcm_base_url, p->cfg.fcm_token_url,
	                      p->cfg.apns_base_url};
	_Static_assert(sizeof(urls) == sizeof(p->trusted) / sizeof(p->trusted[0]) * sizeof(urls[0]), "trusted[]");
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		if (urls[i] && !ssrf_url_parse(urls[i], &p->trusted[p->ntrusted])) p->ntrusted++;
	}
}

int push_start(struct bridge *b)
{
	char why[512];
	struct push *p = xcalloc(1, sizeof(*p));
	p->b = b;
	const char *key;
	if (parse_settings(&b->cfg.push, &p->cfg, why, sizeof(why), &key) != 0 ||
	    load_keys(p, why, sizeof(why), &key) != 0) {
		blog(BLOG_ERR, "push: %s", why);
		push_free(p);
		return -1;
	}
	if (p->cfg.webhook_url && !p->cfg.webhook_secret)
		blog(BLOG_WARN, "push: webhook_url without webhook_secret: webhooks go out unsigned");
	p->owner = xstrdup(b->cfg.mqtt_client_id ? b->cfg.mqtt_client_id : "chat-bridge");
	remember_trusted(p);
	pthread_mutex_init(&p->lock, NULL);
	if (open_mongo(p) != 0 || push_http_init(p) != 0) goto fail;
	b->push = p;
	if (pthread_create(&p->thread, NULL, push_main, p) != 0) {
		b->push = NULL;
		goto fail;
	}
	p->running = true;
	blog(BLOG_INFO, "push: started (coalesce %ld ms, preview %s, private endpoints %s)",
	     p->cfg.coalesce_ms, p->cfg.preview ? "on" : "off", p->cfg.allow_private ? "allowed" : "refused");
	return 0;
fail:
	blog(BLOG_ERR, "push: could not start");
	push_http_cleanup(p);
	close_mongo(p);
	pthread_mutex_destroy(&p->lock);
	push_free(p);
	return -1;
}

void push_stop(struct bridge *b)
{
	struct push *p = b->push;
	if (!p) return;
	atomic_store(&p->stop, true);
	curl_multi_wakeup(p->multi);
	if (p->running) pthread_join(p->thread, NULL);
	b->push = NULL;
	push_http_cleanup(p);
	push_notify_free(p);
	push_index_free(p);
	for (struct push_event *e = p->head, *n; e; e = n) {
		n = e->next;
		event_free(e);
	}
	close_mongo(p);
	pthread_mutex_destroy(&p->lock);
	push_free(p);
}

/* ---- counters ---- */

_Static_assert(sizeof(((struct bridge_metrics *)0)->push) / sizeof(metric_t) ==
                   PUSH_PLATFORMS * PUSH_OUTCOMES,
               "metrics.h: push[][] must be [PUSH_PLATFORMS][PUSH_OUTCOMES]");

void push_metrics_write(struct bridge *b, struct strbuf *out)
{
	const struct bridge_metrics *m = &b->metrics;
	strbuf_puts(out, "# HELP chat_bridge_push_total Push requests by provider and outcome.\n"
	                 "# TYPE chat_bridge_push_total counter\n");
	for (int pf = 0; pf < PUSH_PLATFORMS; pf++) {
		for (int o = 0; o < PUSH_OUTCOMES; o++) {
			strbuf_puts(out, "chat_bridge_push_total{provider=\"");
			strbuf_puts(out, platform_names[pf]);
			strbuf_puts(out, "\",outcome=\"");
			strbuf_puts(out, outcome_names[o]);
			strbuf_puts(out, "\"} ");
			strbuf_append_u64(out, atomic_load(&m->push[pf][o]));
			strbuf_putc(out, '\n');
		}
	}
	strbuf_puts(
	    out,
	    "# HELP chat_bridge_push_notifications_total Coalesced notifications created.\n"
	    "# TYPE chat_bridge_push_notifications_total counter\nchat_bridge_push_notifications_total ");
	strbuf_append_u64(out, atomic_load(&m->push_notifications));
	strbuf_puts(
	    out,
	    "\n# HELP chat_bridge_push_dropped_total Stored messages not considered for push "
	    "(queue full).\n# TYPE chat_bridge_push_dropped_total counter\nchat_bridge_push_dropped_total ");
	strbuf_append_u64(out, atomic_load(&m->push_dropped));
	strbuf_puts(
	    out,
	    "\n# HELP chat_bridge_push_registrations_total Device registrations handled.\n"
	    "# TYPE chat_bridge_push_registrations_total counter\nchat_bridge_push_registrations_total ");
	strbuf_append_u64(out, atomic_load(&m->push_registrations));
	strbuf_putc(out, '\n');
}

/* SPDX-License-Identifier: MIT */
/*
 * The plugin's figures per live room (topics.md, "Counters of live rooms"),
 * relayed to Prometheus. The plugin publishes them every sys_interval
 * seconds on $SYS/broker/chat/live/{room}/{name}; the bridge, a service
 * user, reads them on the MQTT thread and /metrics renders the last value
 * of each on the HTTP thread, as
 *
 *   chat_live_viewers{room="stadium"} 18734
 *   chat_live_messages_rejected{room="stadium",reason="rate_limited"} 12
 *
 * A small table under one lock: a few live rooms, each about twenty
 * figures. Figures of a room the plugin stops publishing (deleted, no
 * longer live, broker restarted) stay at their last value until the
 * bridge restarts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "strbuf.h"
#include "topic.h"

#define LIVE_PREFIX "$SYS/broker/chat/live/"
#define LIVE_FIGURES_MAX 4096
#define REJECTED "messages/rejected/"

/* The figures, in the order /metrics shows them. */
static const struct {
	const char *sys;  /* name below the room; REJECTED ends in a reason */
	const char *name; /* Prometheus name */
	const char *type;
	const char *help;
} kinds[] = {
	{"viewers", "chat_live_viewers", "gauge", "Users watching the live room."},
	{"shards", "chat_live_shards", "gauge", "Open shards of the live room."},
	{"messages/in", "chat_live_messages_in", "counter", "Messages accepted in the live room."},
	{"batches/out", "chat_live_batches_out", "counter", "Batch publishes to the live room's shards."},
	{REJECTED, "chat_live_messages_rejected", "counter", "Refused messages in the live room, by reason."},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

void live_figures_init(struct bridge *b)
{
	pthread_mutex_init(&b->metrics.live.lock, NULL);
	b->metrics.live.v = NULL;
	b->metrics.live.n = b->metrics.live.cap = 0;
}

void live_figures_free(struct bridge *b)
{
	free(b->metrics.live.v);
	b->metrics.live.v = NULL;
	pthread_mutex_destroy(&b->metrics.live.lock);
}

/* The kind of a name below the room, or -1; *reason gets what follows
 * REJECTED. */
static int kind_of(const char *name, const char **reason)
{
	for (size_t i = 0; i < NKINDS; i++) {
		size_t n = strlen(kinds[i].sys);
		bool prefix = kinds[i].sys[n - 1] == '/';
		if (prefix ? strncmp(name, kinds[i].sys, n) == 0 && name[n] : strcmp(name, kinds[i].sys) == 0) {
			*reason = prefix ? name + n : NULL;
			return (int)i;
		}
	}
	return -1;
}

/* A reason is a lower-case word with underscores (no escaping needed). */
static bool reason_ok(const char *s)
{
	if (!*s || strlen(s) > 40) return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || *s == '_')) return false;
	}
	return true;
}

static bool parse_value(const void *payload, int len, unsigned long long *v)
{
	char buf[24], *end = NULL;
	if (len <= 0 || len >= (int)sizeof(buf)) return false;
	memcpy(buf, payload, (size_t)len);
	buf[len] = '\0';
	if (buf[0] < '0' || buf[0] > '9') return false;
	*v = strtoull(buf, &end, 10);
	return end && *end == '\0';
}

void live_figures_on_mqtt(struct bridge *b, const struct mosquitto_message *msg)
{
	const char *room = msg->topic + strlen(LIVE_PREFIX), *slash, *reason;
	unsigned long long value;
	if (strncmp(msg->topic, LIVE_PREFIX, strlen(LIVE_PREFIX)) != 0) return;
	slash = strchr(room, '/');
	if (!slash || !topic_room_valid(room, (size_t)(slash - room)) || (size_t)(slash - room) > TOPIC_ROOM_MAX) return;
	if (kind_of(slash + 1, &reason) < 0 || (reason && !reason_ok(reason))) return;
	if (!parse_value(msg->payload, msg->payloadlen, &value)) return;
	struct live_figures *f = &b->metrics.live;
	size_t rlen = (size_t)(slash - room);
	pthread_mutex_lock(&f->lock);
	size_t i = 0;
	while (i < f->n && !(strlen(f->v[i].room) == rlen && memcmp(f->v[i].room, room, rlen) == 0 &&
			     strcmp(f->v[i].name, slash + 1) == 0))
		i++;
	if (i == f->n && f->n < LIVE_FIGURES_MAX) {
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 32;
			f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
		}
		snprintf(f->v[i].room, sizeof(f->v[i].room), "%.*s", (int)rlen, room);
		snprintf(f->v[i].name, sizeof(f->v[i].name), "%s", slash + 1);
		f->n++;
	}
	if (i < f->n) f->v[i].value = value;
	pthread_mutex_unlock(&f->lock);
}

void live_figures_write(struct bridge *b, struct strbuf *out)
{
	struct live_figures *f = &b->metrics.live;
	char line[256];
	pthread_mutex_lock(&f->lock);
	for (size_t k = 0; k < NKINDS && f->n > 0; k++) {
		bool header = false;
		for (size_t i = 0; i < f->n; i++) {
			const char *reason;
			if (kind_of(f->v[i].name, &reason) != (int)k) continue;
			if (!header) {
				snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", kinds[k].name, kinds[k].help,
					 kinds[k].name, kinds[k].type);
				strbuf_puts(out, line);
				header = true;
			}
			if (reason)
				snprintf(line, sizeof(line), "%s{room=\"%s\",reason=\"%s\"} %llu\n", kinds[k].name, f->v[i].room,
					 reason, f->v[i].value);
			else
				snprintf(line, sizeof(line), "%s{room=\"%s\"} %llu\n", kinds[k].name, f->v[i].room, f->v[i].value);
			strbuf_puts(out, line);
		}
	}
	pthread_mutex_unlock(&f->lock);
}

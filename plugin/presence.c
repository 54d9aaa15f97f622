/* SPDX-License-Identifier: MIT */
/*
 * Presence: chat/presence/{user}, retained,
 * {"user":"...","online":true|false,"sessions":N,"since":<unix ms>}, published
 * whenever the user's count of authenticated sessions changes; `since` is
 * when `online` last changed.
 *
 * Stale presence after a restart. With broker persistence on, retained
 * messages outlive the broker, and the broker saves them before the
 * plugin is told anything at shutdown (and not at all after a crash), so an
 * online:true can outlive its sessions. The plugin cannot read retained
 * messages back, so it keeps a ledger: a file with every user it showed
 * online since the last clean stop, appended (one write, no fsync) before
 * the online message is published. At start it publishes online:false for
 * every user in the ledger; the broker delivers these before it reads any
 * client packet, so they replace whatever it restored. At a clean stop the
 * ledger is rewritten (atomically) with just the users the broker may
 * still have saved as online: those with sessions, and those whose last
 * message the broker had not yet taken from the plugin queue (published
 * less than two ticks ago).
 *
 * The ledger also holds the client ids users hold (clientid.c), one line
 * `user "id"` each (the id as a JSON string), next to the lines of bare
 * users above. Those lines pile up with short-lived ids, so the file is
 * rewritten (compacted) once it has grown well past what it must hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "chat_err.h"
#include "json.h"
#include "sessions.h"

static struct presence_user *find_user(const struct chat_sessions *s, const char *user)
{
	struct presence_user *u = NULL;
	HASH_FIND_STR(s->users, user, u);
	return u;
}

struct presence_user *presence_user_get(struct chat_sessions *s, const char *user)
{
	struct presence_user *u = find_user(s, user);
	if (u) return u;
	size_t n = strnlen(user, TOPIC_ID_MAX);
	u = mosquitto_calloc(1, sizeof(*u) + n + 1);
	if (!u) return NULL;
	memcpy(u->user, user, n);
	u->user[n] = '\0';
	HASH_ADD_STR(s->users, user, u);
	return u;
}

static void publish(struct chat *c, struct presence_user *u)
{
	char topic[32 + TOPIC_ID_MAX], json[160 + TOPIC_ID_MAX];
	unsigned shown = u->sessions + chat_peer_sessions(c, u->user); /* peer_presence.c: other brokers' */
	snprintf(topic, sizeof(topic), "chat/presence/%s", u->user);
	int n = snprintf(json, sizeof(json), "{\"user\":\"%s\",\"online\":%s,\"sessions\":%u,\"since\":%llu}", u->user,
			 shown ? "true" : "false", shown, (unsigned long long)u->since);
	u->pub_tick = c->sessions->ticks;
	chat_publish(topic, json, (size_t)n, true);
}

static int ledger_rewrite(struct chat_sessions *s, bool stopping);

/* One write of a whole line; false (logged) when it did not go through. */
static bool ledger_write(struct chat_sessions *s, const char *line, size_t len)
{
	if (s->ledger_fd < 0) return false;
	if (write(s->ledger_fd, line, len) != (ssize_t)len) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot append to %s: %s", s->ledger_path,
				     strerror(errno));
		return false;
	}
	s->ledger_lines++;
	return true;
}

/* The file is rewritten with what it should hold once it has more than
 * twice that many lines (client ids of short sessions pile up), and never
 * for fewer than this many appends. */
#define LEDGER_SLACK 1024

void presence_ledger_append(struct chat_sessions *s, const char *line, size_t len)
{
	if (!ledger_write(s, line, len)) return;
	size_t held = HASH_COUNT(s->users) + HASH_COUNT(s->owners);
	if (s->ledger_lines <= 2 * held + LEDGER_SLACK) return;
	if (ledger_rewrite(s, false) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot compact presence file %s: %s",
				     s->ledger_path, strerror(errno));
		s->ledger_lines = 0; /* try again after as many appends */
	}
}

/* Appends user to the ledger before it is first shown online. */
static void ledger_add(struct chat_sessions *s, struct presence_user *u)
{
	if (u->in_ledger || s->ledger_fd < 0) return;
	char line[TOPIC_ID_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", u->user);
	if (ledger_write(s, line, (size_t)n)) u->in_ledger = true;
}

void presence_update(struct chat *c, const char *user, int delta)
{
	struct chat_sessions *s = c->sessions;
	struct presence_user *u = delta > 0 ? presence_user_get(s, user) : find_user(s, user);
	if (!u || (delta < 0 && u->sessions == 0)) return;
	unsigned before = u->sessions;
	u->sessions = delta < 0 ? u->sessions - 1 : u->sessions + 1;
	if ((before == 0) != (u->sessions == 0) && chat_peer_sessions(c, user) == 0) u->since = chat_now_ms();
	chat_peer_presence_changed(c, user, u->sessions);
	if (c->cfg.auth.presence == CHAT_PRESENCE_NONE) return;
	if (u->sessions) ledger_add(s, u);
	publish(c, u);
}

/* A ledger line with just a user: a user shown online by an earlier run,
 * now marked and shown offline. */
static int replay_user(struct chat *c, const char *line, size_t n, uint64_t now, unsigned *count)
{
	if (!topic_user_valid(line, n)) return MOSQ_ERR_SUCCESS;
	char user[TOPIC_ID_MAX + 1];
	memcpy(user, line, n);
	user[n] = '\0';
	struct presence_user *u = presence_user_get(c->sessions, user);
	if (!u) return MOSQ_ERR_NOMEM;
	if (u->in_ledger) return MOSQ_ERR_SUCCESS;
	u->in_ledger = true;
	u->since = now;
	publish(c, u);
	(*count)++;
	return MOSQ_ERR_SUCCESS;
}

/* A ledger line `user "client id"` (clientid.c). A line that is not one
 * (bad user, not a JSON string, an id holding U+0000) is skipped. */
static int replay_owner(struct chat *c, const char *line, size_t n, const char *sp)
{
	size_t ulen = (size_t)(sp - line), rest = n - ulen - 1;
	struct json_span span;
	if (!topic_user_valid(line, ulen) || json_check(sp + 1, rest, &span) != CHAT_OK || span.type != JSON_STRING)
		return MOSQ_ERR_SUCCESS;
	char user[TOPIC_ID_MAX + 1], *id = mosquitto_malloc(rest + 1);
	if (!id) return MOSQ_ERR_NOMEM;
	memcpy(user, line, ulen);
	user[ulen] = '\0';
	long len = json_string_decode(&span, id, rest + 1);
	int rc = MOSQ_ERR_SUCCESS;
	if (len > 0 && !memchr(id, '\0', (size_t)len)) rc = clientid_restore(c, user, id, (size_t)len);
	mosquitto_free(id);
	return rc;
}

/* Reads the ledger: users shown online are marked and shown offline, and
 * the client ids users hold are restored. */
static int ledger_replay(struct chat *c, FILE *f)
{
	struct chat_sessions *s = c->sessions;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned count = 0;
	uint64_t now = chat_now_ms();
	int rc = MOSQ_ERR_SUCCESS;
	while (rc == MOSQ_ERR_SUCCESS && (got = getline(&line, &cap, f)) >= 0) {
		size_t n = (size_t)got;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
		s->ledger_lines++;
		const char *sp = memchr(line, ' ', n);
		rc = sp ? replay_owner(c, line, n, sp) : replay_user(c, line, n, now, &count);
	}
	free(line);
	if (rc != MOSQ_ERR_SUCCESS) return rc;
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "presence: %u users from %s shown offline, %u client ids "
			     "held", count, s->ledger_path, HASH_COUNT(s->owners));
	return MOSQ_ERR_SUCCESS;
}

int presence_start(struct chat *c, const char *ledger_path)
{
	struct chat_sessions *s = c->sessions;
	if (!ledger_path) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				     CHAT_LOG_PREFIX "presence: no plugin_opt_presence_file or state_file; with broker "
						     "persistence, a crash can leave users shown online");
		return MOSQ_ERR_SUCCESS;
	}
	s->ledger_path = mosquitto_strdup(ledger_path);
	if (!s->ledger_path) return MOSQ_ERR_NOMEM;
	FILE *f = fopen(ledger_path, "r");
	int rc = MOSQ_ERR_SUCCESS;
	if (f) {
		rc = ledger_replay(c, f);
		fclose(f);
	}
	if (rc != MOSQ_ERR_SUCCESS) return rc;
	s->ledger_fd = open(ledger_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (s->ledger_fd < 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot open presence file %s: %s", ledger_path,
				     strerror(errno));
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

/* The users a rewrite keeps: at a clean stop those the broker may hold as
 * online (with sessions, or published less than two ticks ago); while
 * running every user already in the file, so none is appended twice. */
static bool keep_user(const struct chat_sessions *s, const struct presence_user *u, bool stopping)
{
	if (!u->in_ledger) return false;
	return !stopping || u->sessions > 0 || s->ticks < u->pub_tick + 2;
}

/* Writes what the ledger should hold to path.tmp, then renames it over
 * the file; returns the lines written or -1. */
static long write_ledger_file(const struct chat_sessions *s, bool stopping)
{
	size_t n = strlen(s->ledger_path) + sizeof(".tmp");
	char *tmp = mosquitto_malloc(n);
	if (!tmp) return -1;
	snprintf(tmp, n, "%s.tmp", s->ledger_path);
	FILE *f = fopen(tmp, "w");
	bool ok = f != NULL;
	long lines = 0;
	const struct presence_user *u, *t;
	HASH_ITER(hh, s->users, u, t) {
		if (!ok || !keep_user(s, u, stopping)) continue;
		ok = fprintf(f, "%s\n", u->user) > 0;
		lines++;
	}
	ok = ok && clientid_write(s, f);
	if (f) {
		ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
		ok = fclose(f) == 0 && ok;
	}
	ok = ok && rename(tmp, s->ledger_path) == 0;
	if (ok) {
		char *dir = mosquitto_strdup(s->ledger_path);
		int dfd = dir ? open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		mosquitto_free(dir);
	} else {
		unlink(tmp);
	}
	mosquitto_free(tmp);
	return ok ? lines + (long)HASH_COUNT(s->owners) : -1;
}

/* Rewrites the ledger; while running, appends go on in the new file. */
static int ledger_rewrite(struct chat_sessions *s, bool stopping)
{
	long lines = write_ledger_file(s, stopping);
	if (lines < 0) return -1;
	s->ledger_lines = (size_t)lines;
	if (stopping) return 0;
	int fd = open(s->ledger_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) return -1;
	close(s->ledger_fd);
	s->ledger_fd = fd;
	return 0;
}

void presence_stop(struct chat *c)
{
	struct chat_sessions *s = c->sessions;
	if (!s || s->ledger_fd < 0) return;
	close(s->ledger_fd);
	s->ledger_fd = -1;
	if (ledger_rewrite(s, true) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot rewrite presence file %s: %s (it is kept)",
				     s->ledger_path, strerror(errno));
	}
}

unsigned chat_user_sessions(const struct chat *c, const char *user)
{
	const struct presence_user *u = c->sessions && user ? find_user(c->sessions, user) : NULL;
	return u ? u->sessions : 0;
}

bool chat_presence_readable(const struct chat *c, const struct mosquitto *client, const char *user, size_t len)
{
	const char *me = mosquitto_client_username(client);
	if (!me) return false;
	switch (c->cfg.auth.presence) {
	case CHAT_PRESENCE_ALL:
		return true;
	case CHAT_PRESENCE_ROOMS:
		if (chat_is_service(c, client)) return true;
		if (strlen(me) == len && memcmp(me, user, len) == 0) return true;
		return rooms_share(&c->rooms, me, strlen(me), user, len);
	case CHAT_PRESENCE_NONE:
		/* Nothing is published; service users, who read all chat
		 * traffic, may still subscribe. */
		return chat_is_service(c, client);
	}
	return false;
}

void chat_presence_refresh(struct chat *c, const char *user, bool flipped)
{
	if (!c->sessions || c->cfg.auth.presence == CHAT_PRESENCE_NONE) return;
	struct presence_user *u = presence_user_get(c->sessions, user);
	if (!u) return;
	if (flipped) u->since = chat_now_ms();
	if (u->sessions + chat_peer_sessions(c, user)) ledger_add(c->sessions, u);
	publish(c, u);
}

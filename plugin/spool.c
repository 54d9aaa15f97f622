/* SPDX-License-Identifier: MIT */
/*
 * The spool: a write-ahead copy of every chat message the broker is about
 * to acknowledge, so that a broker killed before its bridge had the message
 * loses nothing. Mosquitto sends the PUBACK as soon as it has queued the
 * message for the bridge's session, in memory; its persistence file is
 * written only every autosave_interval and at a clean stop. The plugin
 * appends the envelope of each accepted QoS 1/2 message to the spool with
 * one writev() before the broker acknowledges it (page cache: a killed
 * process loses nothing written; no fsync, so the broker never waits on
 * the disk), and after a restart hands everything the spool holds straight
 * to the first bridge that subscribes. The bridge stores a message once
 * however often it gets it (unique on room and id), so replaying more than
 * was lost costs a duplicate insert, nothing else.
 *
 * Two files, <spool_file> and <spool_file>.old: the current one becomes
 * .old (replacing the previous .old) once it is spool_keep seconds old or
 * holds half of spool_max_bytes, so the spool covers at least the last
 * spool_keep seconds or spool_max_bytes / 2, whichever is less. Records
 * are common/jrec frames of one envelope each; a torn record at the end
 * (a power cut mid-write) is cut off when the file is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "chat.h"
#include "chat_err.h"
#include "jrec.h"

#define SPOOL_KIND 1

static char *old_path(const char *path)
{
	size_t n = strlen(path);
	char *p = mosquitto_malloc(n + 5);
	if (p) {
		memcpy(p, path, n);
		memcpy(p + n, ".old", 5);
	}
	return p;
}

/* Reads path whole (NULL and *len 0 when it does not exist). */
static uint8_t *read_all(const char *path, size_t *len)
{
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return NULL;
	struct stat st;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (buf = mosquitto_malloc((size_t)st.st_size)) != NULL) {
		ssize_t n = read(fd, buf, (size_t)st.st_size);
		*len = n > 0 ? (size_t)n : 0;
	}
	close(fd);
	return buf;
}

/* Opens the current file for appending, cut to its valid records. */
static int open_current(struct chat_spool *s)
{
	size_t len, count;
	uint8_t *buf = read_all(s->path, &len);
	size_t valid = buf ? jrec_valid_prefix(buf, len, &count) : 0;
	mosquitto_free(buf);
	s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0) return -1;
	if (valid < len) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "spool %s: %zu bytes of torn tail dropped",
				     s->path, len - valid);
		if (ftruncate(s->fd, (off_t)valid) != 0) return -1;
	}
	s->bytes = valid;
	return 0;
}

int chat_spool_open(struct chat *c)
{
	struct chat_spool *s = &c->spool;
	s->fd = -1;
	if (!c->cfg.spool_file) return MOSQ_ERR_SUCCESS;
	s->path = mosquitto_strdup(c->cfg.spool_file);
	s->old = old_path(c->cfg.spool_file);
	if (!s->path || !s->old) return MOSQ_ERR_NOMEM;
	if (open_current(s) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "spool %s: %s", s->path, strerror(errno));
		return MOSQ_ERR_UNKNOWN;
	}
	struct stat st;
	s->replay = s->bytes > 0 || (stat(s->old, &st) == 0 && st.st_size > 0);
	s->since_ms = chat_now_ms();
	return MOSQ_ERR_SUCCESS;
}

void chat_spool_close(struct chat *c)
{
	struct chat_spool *s = &c->spool;
	if (s->fd >= 0) close(s->fd);
	s->fd = -1;
	mosquitto_free(s->path);
	mosquitto_free(s->old);
	s->path = s->old = NULL;
}

int chat_spool_append(struct chat *c, const char *env, size_t len)
{
	struct chat_spool *s = &c->spool;
	if (s->fd < 0) return c->cfg.spool_file ? CHAT_ERR_INVAL : CHAT_OK;
	uint8_t head[JREC_HEADER], trail[JREC_TRAILER];
	if (jrec_frame(SPOOL_KIND, env, len, head, trail) != CHAT_OK) return CHAT_ERR_TOO_LARGE;
	struct iovec iov[3] = {{head, sizeof(head)}, {(void *)env, len}, {trail, sizeof(trail)}};
	size_t size = jrec_size(len);
	ssize_t n = writev(s->fd, iov, 3);
	if (n != (ssize_t)size) {
		/* A short write leaves a torn record: cut it, so later ones count. */
		if (n > 0 && ftruncate(s->fd, (off_t)s->bytes) != 0) {
			close(s->fd);
			s->fd = -1;
		}
		return CHAT_ERR_INVAL;
	}
	s->bytes += size;
	return CHAT_OK;
}

/* Makes the current file .old and starts an empty one. */
CHAT_OUT_OF_LINE static void rotate(struct chat *c, uint64_t now)
{
	struct chat_spool *s = &c->spool;
	if (rename(s->path, s->old) != 0) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "spool %s: %s", s->path, strerror(errno));
		return;
	}
	close(s->fd);
	s->fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0)
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "spool %s: %s; chat messages are refused",
				     s->path, strerror(errno));
	s->bytes = 0;
	s->since_ms = now;
}

void chat_spool_tick(struct chat *c, uint64_t now)
{
	struct chat_spool *s = &c->spool;
	if (!s->path) return;
	if (s->fd < 0 || s->bytes >= c->cfg.spool_max_bytes / 2 || now - s->since_ms >= c->cfg.spool_keep_ms)
		rotate(c, now);
}

/* Publishes each envelope of buf to client_id, on its room's topic. */
static size_t replay_buffer(const char *client_id, const uint8_t *buf, size_t len)
{
	size_t sent = 0, count, valid = jrec_valid_prefix(buf, len, &count);
	char topic[32 + TOPIC_ROOM_MAX];
	for (size_t off = 0; off < valid;) {
		struct jrec r;
		struct envelope_view v;
		if (jrec_decode(buf + off, valid - off, &r) != CHAT_OK) break;
		off += r.size;
		if (envelope_read((const char *)r.payload, r.len, &v) != CHAT_OK) continue;
		/* The plugin wrote the room: an id that needs no unescaping. */
		if (v.room.len < 3 || v.room.len > TOPIC_ROOM_MAX + 2) continue; /* with its quotes */
		snprintf(topic, sizeof(topic), "chat/rooms/%.*s/messages", (int)v.room.len - 2, v.room.p + 1);
		if (mosquitto_broker_publish_copy(client_id, topic, (int)r.len, r.payload, 1, false, NULL) ==
		    MOSQ_ERR_SUCCESS)
			sent++;
	}
	return sent;
}

void chat_spool_replay(struct chat *c, const char *client_id)
{
	struct chat_spool *s = &c->spool;
	if (!s->replay) return;
	s->replay = false;
	size_t olen, clen, sent = 0;
	uint8_t *old = read_all(s->old, &olen), *cur = read_all(s->path, &clen);
	if (old) sent += replay_buffer(client_id, old, olen);
	if (cur) sent += replay_buffer(client_id, cur, clen);
	mosquitto_free(old);
	mosquitto_free(cur);
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "spool: %zu messages handed to %s again", sent, client_id);
}

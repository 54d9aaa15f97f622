/* SPDX-License-Identifier: MIT */
/*
 * The state file: rooms (title, policy, members with roles), bans, mutes
 * and freezes, as one JSON document (see README, "State file"; its JSON is
 * state_json.c's). This file decides when it is written and read; the
 * plugin is its only writer:
 *
 * - Commands only mark the state dirty; a tick writes it at most once per
 *   state_save_interval, and cleanup writes what is left, so a burst of
 *   commands costs a few writes, not one each.
 * - A write is atomic: a temporary file in the same directory, fsync,
 *   rename over the old file, fsync of the directory. A crash leaves the
 *   old file or the new one, never a mix.
 * - At start a missing file is an empty state; a corrupt one stops the
 *   broker (the plugin refuses to start open, with no rooms).
 * - On reload (SIGHUP) the file is read again only when it is not the file
 *   the plugin last wrote (device, inode, size or mtime differ): an
 *   operator's edit. A corrupt edit is refused and the running state kept.
 *
 * Loading fills a fresh `struct state_parts` (state_json.c reads the
 * document into it) and swaps it in only when the whole file was valid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "chat_err.h"
#include "state_int.h"

#define SWEEP_EVERY_MS 1000
/* No tick for this long: the broker sends none (2.0.11 with
 * per_listener_settings true), so commands save the state themselves. */
#define NO_TICK_MS 5000

/* ---- the file --------------------------------------------------------- */

static void remember_identity(struct chat *c, const struct stat *st)
{
	c->state.have_identity = true;
	c->state.dev = (unsigned long long)st->st_dev;
	c->state.ino = (unsigned long long)st->st_ino;
	c->state.size = (unsigned long long)st->st_size;
	c->state.mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static bool same_identity(const struct chat *c, const struct stat *st)
{
	return c->state.have_identity && c->state.dev == (unsigned long long)st->st_dev &&
	       c->state.ino == (unsigned long long)st->st_ino &&
	       c->state.size == (unsigned long long)st->st_size &&
	       c->state.mtime_ns == (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static int sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash) snprintf(dir, sizeof(dir), ".");
	else if (slash == path) snprintf(dir, sizeof(dir), "/");
	else snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Writes text to path atomically; returns 0 or -1 with errno, *what says
 * which step failed. */
static int write_atomic(const char *path, const char *text, size_t len, const char **what)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		*what = "name";
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		*what = "create temporary file";
		return -1;
	}
	int rc = write_all(fd, text, len);
	*what = "write";
	if (rc == 0) {
		rc = fsync(fd);
		*what = "fsync";
	}
	if (close(fd) != 0 && rc == 0) rc = -1;
	if (rc == 0) {
		rc = rename(tmp, path);
		*what = "rename";
	}
	if (rc != 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	*what = "fsync directory";
	return sync_dir_of(path);
}

CHAT_OUT_OF_LINE static int save_now(struct chat *c)
{
	const char *path = c->cfg.state_file, *what = "serialise";
	cJSON *root = state_to_json(c);
	char *text = root ? cJSON_Print(root) : NULL;
	cJSON_Delete(root);
	int rc = text ? write_atomic(path, text, strlen(text), &what) : -1;
	const char *reason = text ? strerror(errno) : "out of memory";
	free(text);
	if (rc != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot save state to %s (%s: %s); will retry",
				     path, what, reason);
		return MOSQ_ERR_UNKNOWN;
	}
	struct stat st;
	if (stat(path, &st) == 0) remember_identity(c, &st);
	c->state.dirty = false;
	c->state.saves++;
	mosquitto_log_printf(MOSQ_LOG_DEBUG, CHAT_LOG_PREFIX "state saved to %s (%u rooms, write %u)", path,
			     c->rooms.count, c->state.saves);
	return MOSQ_ERR_SUCCESS;
}

/* Reads and checks the whole file into p. Returns CHAT_OK,
 * CHAT_ERR_NOTFOUND (no file), or another error with w filled in. */
static int read_parts(const char *path, struct state_parts *p, struct stat *st, struct why *w)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) return CHAT_ERR_NOTFOUND;
	if (fd < 0 || fstat(fd, st) != 0) {
		if (fd >= 0) close(fd);
		return state_fail(w, "cannot open: %s", strerror(errno));
	}
	size_t len = (size_t)st->st_size, got = 0;
	char *buf = malloc(len + 1);
	while (buf && got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != len) {
		free(buf);
		return state_fail(w, "cannot read: %s", buf ? "short read" : "out of memory");
	}
	buf[len] = '\0';
	int rc = state_from_text(buf, len, p, w);
	free(buf);
	return rc;
}

int chat_state_load(struct chat *c)
{
	const char *path = c->cfg.state_file;
	struct state_parts p;
	struct stat st;
	struct why w = {{0}};
	if (!path) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "no plugin_opt_state_file: rooms, members, bans "
				     "and mutes are kept in memory only and lost when the broker stops");
		return MOSQ_ERR_SUCCESS;
	}
	state_parts_init(&p, c);
	int rc = read_parts(path, &p, &st, &w);
	if (rc == CHAT_ERR_NOTFOUND) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "state file %s does not exist yet: starting empty",
				     path);
		return MOSQ_ERR_SUCCESS;
	}
	if (rc != CHAT_OK) {
		state_parts_free(&p);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "state file %s is corrupt: %s; refusing to start "
				     "(fix or move the file away)", path, w.text);
		return MOSQ_ERR_INVAL;
	}
	state_parts_adopt(c, &p);
	remember_identity(c, &st);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "state loaded from %s: %u rooms", path, c->rooms.count);
	return MOSQ_ERR_SUCCESS;
}

void chat_state_dirty(struct chat *c)
{
	uint64_t now = chat_now_ms();
	c->state.dirty = true;
	chat_peer_state_changed(c); /* peer_state.c: tell the other brokers */
	if (!c->cfg.state_file || now - c->state.last_tick_ms < NO_TICK_MS) return;
	if (now - c->state.last_save_ms < c->cfg.state_save_ms) return;
	c->state.last_save_ms = now;
	save_now(c);
}

void chat_state_flush(struct chat *c)
{
	if (c->cfg.state_file && c->state.dirty) save_now(c);
}

/* Expired sanctions and slow mode's old entries, every SWEEP_EVERY_MS. */
CHAT_OUT_OF_LINE static void sweep_sanctions(struct chat *c, uint64_t now)
{
	c->state.last_sweep_ms = now;
	if (sanctions_sweep(&c->sanctions, now) > 0) chat_state_dirty(c);
	slowmode_sweep(&c->slow, now); /* not saved: nothing to write */
}

void chat_state_tick(struct chat *c, uint64_t now)
{
	c->state.last_tick_ms = now;
	chat_spool_tick(c, now);
	if (now - c->state.last_sweep_ms >= SWEEP_EVERY_MS) sweep_sanctions(c, now);
	if (!c->cfg.state_file || !c->state.dirty) return;
	if (now - c->state.last_save_ms < c->cfg.state_save_ms) return;
	c->state.last_save_ms = now;
	save_now(c);
}

/* After a reload changed the state: every user whose rooms may have
 * changed gets a fresh rooms list, and newly banned users are kicked. */
static void after_reload(struct chat *c, char **old_users, size_t n_old)
{
	for (size_t i = 0; i < n_old; i++) chat_publish_rooms_list(c, old_users[i]);
	for (const struct user_entry *u = c->rooms.by_user; u; u = u->hh.next) chat_publish_rooms_list(c, u->user);
	for (const struct sanction *b = c->sanctions.bans; b; b = b->hh.next)
		mosquitto_kick_client_by_username(b->key, false);
}

/* The users of the running state, copied before it is replaced. */
static char **users_of(const struct chat *c, size_t *n)
{
	size_t count = HASH_COUNT(c->rooms.by_user), i = 0;
	char **users = calloc(count + 1, sizeof(*users));
	for (const struct user_entry *u = c->rooms.by_user; users && u; u = u->hh.next) {
		users[i] = strdup(u->user);
		if (users[i]) i++;
	}
	*n = i;
	return users;
}

static void reload_from_file(struct chat *c, const char *path)
{
	struct state_parts p;
	struct stat st;
	struct why w = {{0}};
	state_parts_init(&p, c);
	int rc = read_parts(path, &p, &st, &w);
	if (rc != CHAT_OK) {
		state_parts_free(&p);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "reload: state file %s %s: %s; keeping the running "
				     "state", path, rc == CHAT_ERR_NOTFOUND ? "is missing" : "is corrupt",
				     rc == CHAT_ERR_NOTFOUND ? "it will be written again" : w.text);
		if (rc == CHAT_ERR_NOTFOUND) chat_state_dirty(c);
		return;
	}
	size_t n_old = 0;
	char **old_users = users_of(c, &n_old);
	state_parts_adopt(c, &p);
	remember_identity(c, &st);
	c->state.dirty = false;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "reload: state file %s changed on disk, re-read: %u rooms",
			     path, c->rooms.count);
	after_reload(c, old_users, n_old);
	for (size_t i = 0; i < n_old; i++) free(old_users[i]);
	free(old_users);
}

void chat_state_reload(struct chat *c)
{
	const char *path = c->cfg.state_file;
	struct stat st;
	if (!path) return;
	if (stat(path, &st) == 0 && same_identity(c, &st)) {
		mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "reload: state file %s unchanged since written, "
				     "not re-read", path);
		return;
	}
	reload_from_file(c, path);
}

cJSON *chat_state_json(const struct chat *c)
{
	return state_to_json(c);
}

int chat_state_adopt_json(struct chat *c, const cJSON *root)
{
	struct state_parts p;
	struct why w = {{0}};
	state_parts_init(&p, c);
	int rc = state_load_sections(&p, root, &w);
	if (rc != CHAT_OK) {
		state_parts_free(&p);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "state from a peer refused: %s", w.text);
		return MOSQ_ERR_INVAL;
	}
	size_t n_old = 0;
	char **old_users = users_of(c, &n_old);
	state_parts_adopt(c, &p);
	after_reload(c, old_users, n_old);
	for (size_t i = 0; i < n_old; i++) free(old_users[i]);
	free(old_users);
	chat_state_dirty(c);
	return MOSQ_ERR_SUCCESS;
}

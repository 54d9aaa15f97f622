/* SPDX-License-Identifier: MIT */
/*
 * The state file: rooms (title, policy, members with roles), bans, mutes
 * and freezes, as one JSON document (see README, "State file"). The plugin
 * is its only writer:
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
 * Loading fills a fresh `struct state_parts` and swaps it in only when the
 * whole file was valid. Each top-level key is a row in `sections`; word
 * lists join as one more row.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "chat_err.h"
#include "json.h"
#include "live.h"

#define STATE_VERSION 1
#define SWEEP_EVERY_MS 1000
/* No tick for this long: the broker sends none (2.0.11 with
 * per_listener_settings true), so commands save the state themselves. */
#define NO_TICK_MS 5000

/* Everything a state file holds, loaded aside before it replaces the
 * running state. (Word lists: add their tables here.) */
struct state_parts {
	struct rooms rooms;
	struct sanctions sanctions;
	struct moderation_global *words; /* moderation.h: the live global word lists */
};

/* Why a file was refused, with the JSON path of the bad value. */
struct why {
	char text[256];
};

static int fail(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct why *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
	return CHAT_ERR_INVAL;
}

/* ---- reading ---------------------------------------------------------- */

static int load_policy(struct room *r, const cJSON *p, const char *at, struct why *w)
{
	const cJSON *v;
	if (!p) return CHAT_OK;
	if (!cJSON_IsObject(p)) return fail(w, "%s.policy: not an object", at);
	v = cJSON_GetObjectItemCaseSensitive(p, "bannedWordsAction");
	if (v) {
		int a = cJSON_IsString(v) ? rooms_words_action_parse(v->valuestring) : -1;
		if (a < 0) return fail(w, "%s.policy.bannedWordsAction: not mask, reject or flag", at);
		r->policy.words_action = (enum words_action)a;
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "dmPolicy");
	if (v) {
		int d = cJSON_IsString(v) ? rooms_dm_policy_parse(v->valuestring) : -1;
		if (d < 0) return fail(w, "%s.policy.dmPolicy: not anyone, shared or nobody", at);
		r->policy.dm_policy = (enum dm_policy)d;
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "floodRate");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble)))
		return fail(w, "%s.policy.floodRate: not a positive number", at);
	if (v) r->policy.flood_rate = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(p, "floodBurst");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 1) || !isfinite(v->valuedouble)))
		return fail(w, "%s.policy.floodBurst: not a number >= 1", at);
	if (v) r->policy.flood_burst = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(p, "slowMode");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= SLOWMODE_MAX_S) ||
		  v->valuedouble != (double)(unsigned)v->valuedouble))
		return fail(w, "%s.policy.slowMode: not a whole number of seconds in [0, %u]", at, SLOWMODE_MAX_S);
	if (v) r->policy.slow_mode_s = (unsigned)v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(p, "readReceipts");
	int rr = cJSON_IsString(v) ? chat_receipts_parse(v->valuestring) : -1;
	if (v && rr < 0) return fail(w, "%s.policy.readReceipts: not auto, on or off", at);
	if (v) r->policy.read_receipts = (enum read_receipts)rr;
	char why[128];
	if (chat_live_policy_load(&r->policy, p, why, sizeof(why)) != CHAT_OK) return fail(w, "%s.%s", at, why);
	return CHAT_OK;
}

static int load_members(struct rooms *rs, struct room *r, const cJSON *list, const char *at, struct why *w)
{
	int i = 0;
	const cJSON *m;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return fail(w, "%s.members: not an array", at);
	cJSON_ArrayForEach(m, list) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(m, "user");
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		int ro = cJSON_IsString(role) ? rooms_role_parse(role->valuestring) : -1;
		if (!cJSON_IsString(user) || !topic_user_valid(user->valuestring, strlen(user->valuestring)))
			return fail(w, "%s.members[%d].user: not a valid user id", at, i);
		if (ro <= ROLE_NONE) return fail(w, "%s.members[%d].role: not owner, admin, member or reader", at, i);
		if (rooms_role(r, user->valuestring, strlen(user->valuestring)) != ROLE_NONE)
			return fail(w, "%s.members[%d]: %s is listed twice", at, i, user->valuestring);
		int rc = rooms_set_member(rs, r, user->valuestring, (enum room_role)ro);
		if (rc != CHAT_OK) return fail(w, "%s.members[%d]: %s", at, i, chat_strerror(rc));
		i++;
	}
	return CHAT_OK;
}

static int load_room(struct state_parts *p, const cJSON *o, int i, struct why *w)
{
	char at[32];
	struct room *r = NULL;
	snprintf(at, sizeof(at), "rooms[%d]", i);
	if (!cJSON_IsObject(o)) return fail(w, "%s: not an object", at);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "room");
	const cJSON *title = cJSON_GetObjectItemCaseSensitive(o, "title");
	if (!cJSON_IsString(id) || !topic_room_valid(id->valuestring, strlen(id->valuestring)))
		return fail(w, "%s.room: not a valid room id", at);
	if (title && !cJSON_IsString(title) && !cJSON_IsNull(title)) return fail(w, "%s.title: not a string", at);
	int rc = rooms_create(&p->rooms, id->valuestring, cJSON_IsString(title) ? title->valuestring : NULL, &r);
	if (rc == CHAT_ERR_EXISTS) return fail(w, "%s: room %s is listed twice", at, id->valuestring);
	if (rc != CHAT_OK) return fail(w, "%s: %s", at, chat_strerror(rc));
	rc = load_policy(r, cJSON_GetObjectItemCaseSensitive(o, "policy"), at, w);
	if (rc != CHAT_OK) return rc;
	return load_members(&p->rooms, r, cJSON_GetObjectItemCaseSensitive(o, "members"), at, w);
}

static int load_rooms(struct state_parts *p, const cJSON *list, struct why *w)
{
	int i = 0;
	const cJSON *o;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return fail(w, "rooms: not an array");
	cJSON_ArrayForEach(o, list) {
		int rc = load_room(p, o, i++, w);
		if (rc != CHAT_OK) return rc;
	}
	return CHAT_OK;
}

/* An "until" in unix ms; 0 = until lifted. */
static bool read_until(const cJSON *o, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "until");
	if (!v) {
		*out = 0;
		return true;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0) return false;
	*out = (uint64_t)v->valuedouble;
	return true;
}

/* Bans and mutes share one shape: {"user", optional "room" (mutes), "until"}. */
static int load_sanction_list(struct state_parts *p, const cJSON *list, const char *name, bool mutes,
			      struct why *w)
{
	int i = 0;
	const cJSON *o;
	uint64_t now = chat_now_ms();
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return fail(w, "%s: not an array", name);
	cJSON_ArrayForEach(o, list) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(o, "user");
		const cJSON *room = mutes ? cJSON_GetObjectItemCaseSensitive(o, "room") : NULL;
		uint64_t until;
		if (!cJSON_IsString(user)) return fail(w, "%s[%d].user: not a string", name, i);
		if (room && !cJSON_IsString(room)) return fail(w, "%s[%d].room: not a string", name, i);
		if (!read_until(o, &until)) return fail(w, "%s[%d].until: not a time in unix ms", name, i);
		int rc = mutes ? sanctions_mute(&p->sanctions, user->valuestring, room ? room->valuestring : NULL, until)
			       : sanctions_ban(&p->sanctions, user->valuestring, until);
		if (rc == CHAT_ERR_INVAL) return fail(w, "%s[%d]: invalid user or room id", name, i);
		if (rc != CHAT_OK) return fail(w, "%s[%d]: %s", name, i, chat_strerror(rc));
		i++;
	}
	sanctions_sweep(&p->sanctions, now);
	return CHAT_OK;
}

static int load_bans(struct state_parts *p, const cJSON *list, struct why *w)
{
	return load_sanction_list(p, list, "bans", false, w);
}

static int load_mutes(struct state_parts *p, const cJSON *list, struct why *w)
{
	return load_sanction_list(p, list, "mutes", true, w);
}

/* Freezes: {"room" (absent: every room), "until"}. */
static int load_freezes(struct state_parts *p, const cJSON *list, struct why *w)
{
	int i = 0;
	const cJSON *o;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) return fail(w, "freezes: not an array");
	cJSON_ArrayForEach(o, list) {
		const cJSON *room = cJSON_GetObjectItemCaseSensitive(o, "room");
		uint64_t until;
		if (room && !cJSON_IsString(room)) return fail(w, "freezes[%d].room: not a string", i);
		if (!read_until(o, &until)) return fail(w, "freezes[%d].until: not a time in unix ms", i);
		int rc = sanctions_freeze(&p->sanctions, room ? room->valuestring : NULL, until);
		if (rc == CHAT_ERR_INVAL) return fail(w, "freezes[%d].room: invalid room id", i);
		if (rc != CHAT_OK) return fail(w, "freezes[%d]: %s", i, chat_strerror(rc));
		i++;
	}
	sanctions_sweep(&p->sanctions, chat_now_ms());
	return CHAT_OK;
}

/* ---- writing ---------------------------------------------------------- */

static cJSON *save_room(const struct room *r)
{
	cJSON *o = cJSON_CreateObject(), *members = cJSON_CreateArray(), *policy = cJSON_CreateObject();
	if (!o || !members || !policy) goto nomem;
	cJSON_AddStringToObject(o, "room", r->id);
	if (r->title) cJSON_AddStringToObject(o, "title", r->title);
	if (r->policy.words_action != WORDS_INHERIT)
		cJSON_AddStringToObject(policy, "bannedWordsAction", rooms_words_action_name(r->policy.words_action));
	if (r->policy.flood_rate > 0) cJSON_AddNumberToObject(policy, "floodRate", r->policy.flood_rate);
	if (r->policy.flood_burst > 0) cJSON_AddNumberToObject(policy, "floodBurst", r->policy.flood_burst);
	if (r->policy.dm_policy != DM_INHERIT)
		cJSON_AddStringToObject(policy, "dmPolicy", rooms_dm_policy_name(r->policy.dm_policy));
	if (r->policy.slow_mode_s) cJSON_AddNumberToObject(policy, "slowMode", r->policy.slow_mode_s);
	if (r->policy.read_receipts != RECEIPTS_AUTO)
		cJSON_AddStringToObject(policy, "readReceipts", chat_receipts_name((int)r->policy.read_receipts));
	chat_live_policy_json(&r->policy, policy); /* live.h */
	for (const struct room_member *m = r->members; m; m = m->hh.next) {
		cJSON *e = cJSON_CreateObject();
		if (!e) goto nomem;
		cJSON_AddItemToArray(members, e);
		cJSON_AddStringToObject(e, "user", m->user);
		cJSON_AddStringToObject(e, "role", rooms_role_name(m->role));
	}
	cJSON_AddItemToObject(o, "policy", policy);
	cJSON_AddItemToObject(o, "members", members);
	return o;
nomem:
	cJSON_Delete(o);
	cJSON_Delete(members);
	cJSON_Delete(policy);
	return NULL;
}

static cJSON *save_rooms(const struct chat *c)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct room *r = c->rooms.by_id; list && r; r = r->hh.next) {
		cJSON *o = save_room(r);
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

static cJSON *save_sanctions(const struct sanction *table, bool mutes)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct sanction *e = table; list && e; e = e->hh.next) {
		char user[TOPIC_ID_MAX + 1], room[TOPIC_ROOM_MAX + 1];
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		sanctions_key_split(e->key, user, room);
		cJSON_AddStringToObject(o, "user", user);
		if (mutes && room[0]) cJSON_AddStringToObject(o, "room", room);
		cJSON_AddNumberToObject(o, "until", (double)e->until_ms);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

static cJSON *save_bans(const struct chat *c)
{
	return save_sanctions(c->sanctions.bans, false);
}

static cJSON *save_mutes(const struct chat *c)
{
	return save_sanctions(c->sanctions.mutes, true);
}

static cJSON *save_freezes(const struct chat *c)
{
	cJSON *list = cJSON_CreateArray();
	for (const struct sanction *e = c->sanctions.freezes; list && e; e = e->hh.next) {
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			cJSON_Delete(list);
			return NULL;
		}
		if (strcmp(e->key, SANCTION_EVERY_ROOM) != 0) cJSON_AddStringToObject(o, "room", e->key);
		cJSON_AddNumberToObject(o, "until", (double)e->until_ms);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

/* Word lists: global ones into parts, a room's onto its room (moderation.c). */
static int load_words(struct state_parts *p, const cJSON *item, struct why *w)
{
	return moderation_state_load(&p->rooms, item, &p->words, w->text, sizeof(w->text));
}

static cJSON *save_words(const struct chat *c)
{
	return moderation_state_save(c);
}

/* One top-level key of the file: how to read it into parts (item is NULL
 * when the key is absent) and how to write it from the running state. */
struct state_section {
	const char *name;
	int (*load)(struct state_parts *p, const cJSON *item, struct why *w);
	cJSON *(*save)(const struct chat *c);
};

static const struct state_section sections[] = {
	{"rooms", load_rooms, save_rooms},
	{"bans", load_bans, save_bans},
	{"mutes", load_mutes, save_mutes},
	{"freezes", load_freezes, save_freezes},
	/* After "rooms": a room's word lists hang off its room. */
	{"bannedWords", load_words, save_words},
};

#define SECTION_COUNT (sizeof(sections) / sizeof(sections[0]))

static cJSON *state_to_json(const struct chat *c)
{
	cJSON *root = cJSON_CreateObject();
	if (!root || !cJSON_AddNumberToObject(root, "version", STATE_VERSION)) goto nomem;
	for (size_t i = 0; i < SECTION_COUNT; i++) {
		cJSON *item = sections[i].save(c);
		if (!item) goto nomem;
		cJSON_AddItemToObject(root, sections[i].name, item);
	}
	return root;
nomem:
	cJSON_Delete(root);
	return NULL;
}

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

static int save_now(struct chat *c)
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

/* The file's text as a tree. The project's scanner checks it first, so a
 * string that decodes to hold U+0000 ("bob\u0000") is an error rather
 * than a shorter name: cJSON keeps C strings and would cut it there. */
static int parse_text(const char *buf, size_t len, cJSON **root, struct why *w)
{
	size_t off = 0, line = 1;
	int rc = json_check_cstrings(buf, len, &off);
	for (size_t i = 0; rc != CHAT_OK && i < off; i++) line += buf[i] == '\n';
	if (rc == CHAT_ERR_INVAL) return fail(w, "a string holds U+0000 (line %zu, byte %zu)", line, off);
	if (rc != CHAT_OK) return fail(w, "not valid JSON (near line %zu, byte %zu)", line, off);
	*root = cJSON_ParseWithLength(buf, len);
	return *root ? CHAT_OK : fail(w, "out of memory");
}

static int load_sections(struct state_parts *p, const cJSON *root, struct why *w)
{
	int rc = CHAT_OK;
	for (size_t i = 0; rc == CHAT_OK && i < SECTION_COUNT; i++)
		rc = sections[i].load(p, cJSON_GetObjectItemCaseSensitive(root, sections[i].name), w);
	return rc;
}

/* Reads and checks the whole file into p. Returns CHAT_OK,
 * CHAT_ERR_NOTFOUND (no file), or another error with w filled in. */
static int read_parts(const char *path, struct state_parts *p, struct stat *st, struct why *w)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) return CHAT_ERR_NOTFOUND;
	if (fd < 0 || fstat(fd, st) != 0) {
		if (fd >= 0) close(fd);
		return fail(w, "cannot open: %s", strerror(errno));
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
		return fail(w, "cannot read: %s", buf ? "short read" : "out of memory");
	}
	buf[len] = '\0';
	cJSON *root = NULL;
	int rc = parse_text(buf, len, &root, w);
	free(buf);
	if (root && !cJSON_IsObject(root)) rc = fail(w, "not a JSON object");
	const cJSON *version = root ? cJSON_GetObjectItemCaseSensitive(root, "version") : NULL;
	if (rc == CHAT_OK && (!cJSON_IsNumber(version) || version->valuedouble != STATE_VERSION))
		rc = fail(w, "version: expected %d", STATE_VERSION);
	if (rc == CHAT_OK) rc = load_sections(p, root, w);
	cJSON_Delete(root);
	return rc;
}

static void parts_init(struct state_parts *p, const struct chat *c)
{
	memset(p, 0, sizeof(*p));
	rooms_init(&p->rooms);
	p->rooms.ext_free = c->rooms.ext_free;
}

static void parts_free(struct state_parts *p)
{
	rooms_clear(&p->rooms);
	sanctions_clear(&p->sanctions);
	moderation_global_free(p->words);
}

/* Replaces the running state with p (which is left empty). */
static void parts_adopt(struct chat *c, struct state_parts *p)
{
	rooms_clear(&c->rooms);
	sanctions_clear(&c->sanctions);
	c->rooms = p->rooms;
	c->sanctions = p->sanctions;
	moderation_state_adopt(c, p->words);
	memset(p, 0, sizeof(*p));
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
	parts_init(&p, c);
	int rc = read_parts(path, &p, &st, &w);
	if (rc == CHAT_ERR_NOTFOUND) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "state file %s does not exist yet: starting empty",
				     path);
		return MOSQ_ERR_SUCCESS;
	}
	if (rc != CHAT_OK) {
		parts_free(&p);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "state file %s is corrupt: %s; refusing to start "
				     "(fix or move the file away)", path, w.text);
		return MOSQ_ERR_INVAL;
	}
	parts_adopt(c, &p);
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

void chat_state_tick(struct chat *c, uint64_t now)
{
	c->state.last_tick_ms = now;
	chat_spool_tick(c, now);
	if (now - c->state.last_sweep_ms >= SWEEP_EVERY_MS) {
		c->state.last_sweep_ms = now;
		if (sanctions_sweep(&c->sanctions, now) > 0) chat_state_dirty(c);
		slowmode_sweep(&c->slow, now); /* not saved: nothing to write */
	}
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
	parts_init(&p, c);
	int rc = read_parts(path, &p, &st, &w);
	if (rc != CHAT_OK) {
		parts_free(&p);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "reload: state file %s %s: %s; keeping the running "
				     "state", path, rc == CHAT_ERR_NOTFOUND ? "is missing" : "is corrupt",
				     rc == CHAT_ERR_NOTFOUND ? "it will be written again" : w.text);
		if (rc == CHAT_ERR_NOTFOUND) chat_state_dirty(c);
		return;
	}
	size_t n_old = 0;
	char **old_users = users_of(c, &n_old);
	parts_adopt(c, &p);
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
	parts_init(&p, c);
	int rc = load_sections(&p, root, &w);
	if (rc != CHAT_OK) {
		parts_free(&p);
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "state from a peer refused: %s", w.text);
		return MOSQ_ERR_INVAL;
	}
	size_t n_old = 0;
	char **old_users = users_of(c, &n_old);
	parts_adopt(c, &p);
	after_reload(c, old_users, n_old);
	for (size_t i = 0; i < n_old; i++) free(old_users[i]);
	free(old_users);
	chat_state_dirty(c);
	return MOSQ_ERR_SUCCESS;
}

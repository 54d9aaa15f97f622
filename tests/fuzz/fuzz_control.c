/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the admin API on $CONTROL/chat/v1 (plugin/control*.c)
 * with the whole plugin behind the broker stubs. Each input starts a fresh
 * plugin (mosquitto_plugin_init) on a fixed state file (rooms, members,
 * policies, bans, mutes, word lists) and a fixed words file, then forgets
 * the state file's name so that nothing is written back. The first byte
 * picks the mode:
 *
 *   0  the rest is one request from an admin, as is;
 *   1  the same from a user who is not an admin;
 *   2, 3  the rest is a program: per command a byte naming it (or an
 *      unknown name, or none), a byte of flags (correlationData, an unknown
 *      field, U+0000 in a value or a name), and a byte per field of the
 *      command choosing its value from good and bad ones; each command is
 *      sent as a request of its own.
 *
 * Oracle. The handler never asks the broker to drop the client. A
 * request from a non-admin gets no reply and changes nothing. An admin's
 * request gets exactly one reply on $CONTROL/chat/v1/response (JSON by RFC
 * 8259 when the request was UTF-8): {"responses":[...]} with one response
 * per command, in order, naming its command and echoing its
 * correlationData, or one error when the request itself is not
 * {"commands":[1 to 100 commands]}. A command answered with an error
 * changes nothing (a snapshot of rooms, titles, members, roles, policies,
 * bans, mutes and word lists, taken before and after, is the same) and
 * publishes nothing but the reply; a command that only reads changes
 * nothing either. In program mode the target also knows what it sent: a malformed
 * command (a missing required field, an unknown field or command, a value
 * of the wrong type, an id outside the grammar of PRODUCT.md, a role,
 * action, policy or number outside its set) must get an error, and a
 * command that succeeds must have done what it says (the room exists, the
 * member has the role, the ban is there, ...). After every request the
 * room model is consistent: valid ids, DM rooms holding only their two
 * users, member counts and the user -> rooms index matching the rooms.
 * A command holding U+0000 in any string, value or name must get an error
 * too. Every input ends
 * with mosquitto_plugin_cleanup, which must unregister every callback and
 * leave no leak for LeakSanitizer.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_stubs.h"
#include "chat.h"
#include "chat_err.h"
#include "refjson.h"

#define RESPONSE_TOPIC "$CONTROL/chat/v1/response"
#define MAX_PROGRAM_COMMANDS 64
/* A sanction ending within this many ms of a snapshot is left out of it,
 * so one that runs out while a command runs does not count as a change. */
#define SNAPSHOT_HORIZON_MS 5000

static struct mosquitto admin = {"admin-client", "admin1"}, non_admin = {"bob-client", "bob"};
static char state_path[64], words_path[64];

static const char fixture_state[] =
	"{\"version\":1,\"rooms\":["
	"{\"room\":\"general\",\"title\":\"General\",\"members\":[{\"user\":\"alice\",\"role\":\"owner\"},"
	"{\"user\":\"bob\",\"role\":\"member\"},{\"user\":\"carol\",\"role\":\"reader\"}]},"
	"{\"room\":\"team\",\"policy\":{\"bannedWordsAction\":\"reject\",\"floodRate\":2,\"dmPolicy\":\"nobody\"},"
	"\"members\":[{\"user\":\"alice\",\"role\":\"admin\"},{\"user\":\"dave\",\"role\":\"member\"}]},"
	"{\"room\":\"dm:alice:bob\",\"members\":[{\"user\":\"alice\",\"role\":\"member\"},"
	"{\"user\":\"bob\",\"role\":\"member\"}]}],"
	"\"bans\":[{\"user\":\"mallory\",\"until\":0}],"
	"\"mutes\":[{\"user\":\"bob\",\"room\":\"general\",\"until\":0},{\"user\":\"dave\",\"until\":0}],"
	"\"bannedWords\":{\"banned\":[\"spam\"],\"allowed\":[\"spamalot\"],"
	"\"rooms\":[{\"room\":\"team\",\"banned\":[\"bad\"]}]}}";

/* ---- set-up ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) abort();
}

static char fixture_dir[] = "/tmp/fuzz_control.XXXXXX";

static void remove_fixtures(void)
{
	unlink(state_path);
	unlink(words_path);
	rmdir(fixture_dir);
}

/* The fixture files, once per process, in a directory of their own that
 * goes at exit. */
static void make_fixtures(void)
{
	if (state_path[0]) return;
	char *dir = mkdtemp(fixture_dir);
	if (!dir || atexit(remove_fixtures) != 0) abort();
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	snprintf(words_path, sizeof(words_path), "%s/banned.txt", dir);
	write_file(state_path, fixture_state);
	write_file(words_path, "fileword\n");
}

static struct chat *start_plugin(void)
{
	struct mosquitto_opt opts[] = {
		{"admins", "admin1"},         {"node_id", "fuzz"}, {"state_file", state_path},
		{"banned_words_file", words_path}, {"sys_interval", "0"},
	};
	void *ud = NULL;
	make_fixtures();
	if (mosquitto_plugin_init(NULL, &ud, opts, (int)(sizeof(opts) / sizeof(opts[0]))) != MOSQ_ERR_SUCCESS) abort();
	struct chat *c = ud;
	/* Loaded: from here on the state lives in memory only. */
	free(c->cfg.state_file);
	c->cfg.state_file = NULL;
	return c;
}

static void stop_plugin(struct chat *c)
{
	if (mosquitto_plugin_cleanup(c, NULL, 0) != MOSQ_ERR_SUCCESS || stubs.callback_count != 0) abort();
	stubs_forget_messages();
}

/* ---- the snapshot ---- */

static void put_word(const char *word, void *ud)
{
	strbuf_puts(ud, word);
	strbuf_putc(ud, ',');
}

static void put_words(const struct chat *c, const struct room *r, struct strbuf *sb)
{
	strbuf_puts(sb, " banned:");
	moderation_words_each(c, r, false, put_word, sb);
	strbuf_puts(sb, " allowed:");
	moderation_words_each(c, r, true, put_word, sb);
}

static void put_sanctions(const struct sanction *table, uint64_t horizon, struct strbuf *sb)
{
	for (const struct sanction *e = table; e; e = e->hh.next) {
		if (e->until_ms != 0 && e->until_ms <= horizon) continue;
		strbuf_puts(sb, e->key);
		strbuf_putc(sb, '=');
		strbuf_append_u64(sb, e->until_ms);
		strbuf_putc(sb, ' ');
	}
}

/* Everything a command may change, as text to compare. */
static void snapshot(const struct chat *c, uint64_t horizon, struct strbuf *sb)
{
	char num[64];
	strbuf_reset(sb);
	for (const struct room *r = c->rooms.by_id; r; r = r->hh.next) {
		snprintf(num, sizeof(num), " %d %.17g %.17g %d %u", (int)r->policy.words_action, r->policy.flood_rate,
			 r->policy.flood_burst, (int)r->policy.dm_policy, r->policy.slow_mode_s);
		strbuf_puts(sb, "\nroom ");
		strbuf_puts(sb, r->id);
		strbuf_puts(sb, r->title ? " title=" : " untitled");
		if (r->title) strbuf_puts(sb, r->title);
		strbuf_puts(sb, num);
		for (const struct room_member *m = r->members; m; m = m->hh.next) {
			snprintf(num, sizeof(num), " %s:%d", m->user, (int)m->role);
			strbuf_puts(sb, num);
		}
		put_words(c, r, sb);
	}
	strbuf_puts(sb, "\nglobal");
	put_words(c, NULL, sb);
	strbuf_puts(sb, "\nbans ");
	put_sanctions(c->sanctions.bans, horizon, sb);
	strbuf_puts(sb, "\nmutes ");
	put_sanctions(c->sanctions.mutes, horizon, sb);
	strbuf_puts(sb, "\nfreezes ");
	put_sanctions(c->sanctions.freezes, horizon, sb);
	if (strbuf_status(sb) != CHAT_OK) abort();
}

/* ---- the room model's invariants ---- */

static bool dm_party(const struct room *r, const char *user)
{
	const char *a, *b;
	size_t la, lb, n = strlen(user);
	if (!topic_dm_users(r->id, strlen(r->id), &a, &la, &b, &lb)) return true;
	return (n == la && memcmp(user, a, n) == 0) || (n == lb && memcmp(user, b, n) == 0);
}

static void check_model(const struct chat *c)
{
	size_t rooms = 0, memberships = 0, indexed = 0;
	for (const struct room *r = c->rooms.by_id; r; r = r->hh.next, rooms++) {
		if (!topic_room_valid(r->id, strlen(r->id)) || r->member_count != HASH_COUNT(r->members)) abort();
		for (const struct room_member *m = r->members; m; m = m->hh.next, memberships++) {
			if (!topic_user_valid(m->user, strlen(m->user))) abort();
			if (m->role < ROLE_READER || m->role > ROLE_OWNER) abort();
			if (!dm_party(r, m->user)) abort();
			const struct user_entry *u = rooms_of_user(&c->rooms, m->user, strlen(m->user));
			/* A walk, not HASH_FIND: rooms.c hashes its tables with its own
			 * function (FNV-1a), which this file does not define. */
			const struct user_room *ur = NULL;
			for (ur = u ? u->rooms : NULL; ur && ur->room != r; ur = ur->hh.next) {
			}
			if (!ur) abort();
		}
	}
	for (const struct user_entry *u = c->rooms.by_user; u; u = u->hh.next) {
		if (u->room_count != HASH_COUNT(u->rooms) || u->room_count == 0) abort();
		for (const struct user_room *ur = u->rooms; ur; ur = ur->hh.next, indexed++) {
			if (rooms_role(ur->room, u->user, strlen(u->user)) == ROLE_NONE) abort();
		}
	}
	if (rooms != c->rooms.count || memberships != indexed) abort();
}

/* ---- one request ---- */

/* Sends payload as a publish on $CONTROL/chat/v1 from client. */
static void send_request(struct mosquitto *client, const char *payload, size_t len)
{
	struct mosquitto_evt_control ed = {.client = client, .topic = "$CONTROL/chat/v1", .payload = payload,
					   .payloadlen = (uint32_t)len, .qos = 1};
	stubs_forget_messages();
	if (stubs_call(MOSQ_EVT_CONTROL, &ed) != MOSQ_ERR_SUCCESS) abort();
}

/* The one reply on the response topic, parsed; NULL when none was sent.
 * A request in UTF-8 gets a reply that is JSON by RFC 8259, not only to
 * cJSON. (The plugin echoes a command's name and correlationData as they
 * came, so a request that is not UTF-8 may get a reply that is not.) */
static cJSON *the_reply(bool request_utf8)
{
	const struct stubs_message *reply = NULL;
	for (size_t i = 0; i < stubs.message_count; i++) {
		const struct stubs_message *m = &stubs.messages[i];
		if (strcmp(m->topic, RESPONSE_TOPIC) != 0) continue;
		if (reply || m->retain) abort();
		reply = m;
	}
	if (!reply) return NULL;
	struct refjson *strict = request_utf8 ? refjson_parse(reply->payload, reply->len, 1000) : NULL;
	if (request_utf8 && !strict) abort();
	refjson_free(strict);
	cJSON *root = cJSON_ParseWithLength(reply->payload, reply->len);
	if (!cJSON_IsObject(root) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "responses"))) abort();
	return root;
}

static const cJSON *responses_of(const cJSON *reply)
{
	return cJSON_GetObjectItemCaseSensitive(reply, "responses");
}

static bool has_error(const cJSON *resp)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
	if (e && (!cJSON_IsString(e) || !e->valuestring[0])) abort();
	if (e && cJSON_GetObjectItemCaseSensitive(resp, "data")) abort();
	return e != NULL;
}

static bool read_only(const char *command)
{
	static const char *const names[] = {"getRoom", "listRooms", "listBannedWords", "getStats", "kickUser"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (command && strcmp(command, names[i]) == 0) return true;
	}
	return false;
}

/* A response answers cmd: its name ("" when it has none) and its
 * correlationData when that is a string. */
static void check_response(const cJSON *resp, const cJSON *cmd)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(cmd, "command");
	const cJSON *corr = cJSON_GetObjectItemCaseSensitive(cmd, "correlationData");
	const cJSON *rname = cJSON_GetObjectItemCaseSensitive(resp, "command");
	const cJSON *rcorr = cJSON_GetObjectItemCaseSensitive(resp, "correlationData");
	const char *want = cJSON_IsObject(cmd) && cJSON_IsString(name) ? name->valuestring : "";
	if (!cJSON_IsObject(resp) || !cJSON_IsString(rname) || strcmp(rname->valuestring, want) != 0) abort();
	if (cJSON_IsObject(cmd) && cJSON_IsString(corr)) {
		if (!cJSON_IsString(rcorr) || strcmp(rcorr->valuestring, corr->valuestring) != 0) abort();
	} else if (rcorr) {
		abort();
	}
	if (cJSON_IsObject(cmd) && corr && !cJSON_IsString(corr) && !has_error(resp)) abort();
}

/* Only the reply was published (a refused command tells nobody else). */
static void check_only_reply(void)
{
	for (size_t i = 0; i < stubs.message_count; i++) {
		if (strcmp(stubs.messages[i].topic, RESPONSE_TOPIC) != 0) abort();
	}
}

/* ---- mode 0 and 1: a request as it comes ---- */

/* Command i of the request, as the reference parser reads it, holds no
 * U+0000 or was refused. */
static void check_nul_refused(const char *payload, size_t len, const cJSON *responses)
{
	struct refjson *doc = refjson_parse(payload, len, 1000);
	const struct refjson *list = NULL;
	for (size_t i = 0; doc && doc->type == REFJSON_OBJECT && !list && i < doc->count; i++) {
		if (strcmp(doc->items[i].key, "commands") == 0) list = &doc->items[i]; /* the one cJSON takes */
	}
	for (size_t i = 0; list && list->type == REFJSON_ARRAY && i < list->count; i++) {
		if (refjson_has_nul(&list->items[i]) && !has_error(cJSON_GetArrayItem(responses, (int)i))) abort();
	}
	refjson_free(doc);
}

/* The handler reads a request only when it is strict JSON (as the
 * reference parser reads it, within json.c's depth) holding no U+0000
 * anywhere; anything else it refuses whole. */
static bool readable(const char *payload, size_t len)
{
	struct refjson *strict = refjson_parse(payload, len, JSON_MAX_DEPTH);
	bool ok = strict && !refjson_has_nul(strict);
	refjson_free(strict);
	return ok;
}

static void run_raw(struct chat *c, bool from_admin, const char *payload, size_t len, struct strbuf *before,
		    struct strbuf *after)
{
	uint64_t horizon = chat_now_ms() + SNAPSHOT_HORIZON_MS;
	snapshot(c, horizon, before);
	send_request(from_admin ? &admin : &non_admin, payload, len);
	cJSON *reply = the_reply(refjson_utf8_valid(payload, len));
	bool changes = false;
	if (!from_admin) {
		if (reply || stubs.message_count) abort();
	} else {
		cJSON *req = readable(payload, len) ? cJSON_ParseWithLength(payload, len) : NULL;
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(req, "commands"), *responses = responses_of(reply);
		int n = cJSON_GetArraySize(list);
		if (!reply) abort();
		if (!cJSON_IsObject(req) || !cJSON_IsArray(list) || n < 1 || n > 100) {
			const cJSON *only = cJSON_GetArrayItem(responses, 0);
			if (cJSON_GetArraySize(responses) != 1 || !has_error(only)) abort();
			if (cJSON_GetObjectItemCaseSensitive(only, "command")) abort();
			check_only_reply();
		} else {
			if (cJSON_GetArraySize(responses) != n) abort();
			for (int i = 0; i < n; i++) {
				const cJSON *resp = cJSON_GetArrayItem(responses, i), *cmd = cJSON_GetArrayItem(list, i);
				const cJSON *name = cJSON_GetObjectItemCaseSensitive(resp, "command");
				check_response(resp, cmd);
				changes = changes || (!has_error(resp) && !read_only(name->valuestring));
			}
			check_nul_refused(payload, len, responses);
		}
		cJSON_Delete(req);
	}
	cJSON_Delete(reply);
	snapshot(c, horizon, after);
	if (!changes && strcmp(before->buf, after->buf) != 0) abort();
	check_model(c);
}

/* ---- mode 2 and 3: a program of commands ---- */

enum field_kind {
	F_ROOM, F_USER, F_ROLE, F_TITLE, F_UINT, F_SECONDS, F_ACTION, F_DM, F_RATE, F_BURST, F_WORDS, F_BOOL, F_SLOW
};

/* A value a field may be given: its JSON text, whether it is malformed for
 * the field, and what it means (the decoded string, or the number). */
struct value {
	const char *json;
	bool bad;
	const char *s;
	double d;
};

#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define T50 "tttttttttttttttttttttttttttttttttttttttttttttttttt"
#define T200 T50 T50 T50 T50

static const struct value rooms_pool[] = {
	{"\"general\"", false, "general", 0}, {"\"team\"", false, "team", 0},
	{"\"dm:alice:bob\"", false, "dm:alice:bob", 0}, {"\"new1\"", false, "new1", 0},
	{"\"dm:bob:carol\"", false, "dm:bob:carol", 0}, {"\"nosuch\"", false, "nosuch", 0},
	{"\"" X64 "\"", false, X64, 0}, {"\"gen\\u0065ral\"", false, "general", 0},
	{"\"dm:bob:alice\"", true, NULL, 0}, {"\"dm:alice:alice\"", true, NULL, 0}, {"\"\"", true, NULL, 0},
	{"\"bad room\"", true, NULL, 0}, {"\"" X64 "x\"", true, NULL, 0}, {"\"\xc3\xbcn\"", true, NULL, 0},
	{"5", true, NULL, 0}, {"null", true, NULL, 0}, {"[\"general\"]", true, NULL, 0}, {"\"a/b\"", true, NULL, 0},
};
static const struct value users_pool[] = {
	{"\"alice\"", false, "alice", 0}, {"\"bob\"", false, "bob", 0}, {"\"carol\"", false, "carol", 0},
	{"\"dave\"", false, "dave", 0}, {"\"admin1\"", false, "admin1", 0}, {"\"mallory\"", false, "mallory", 0},
	{"\"" X64 "\"", false, X64, 0}, {"\"al\\u0069ce\"", false, "alice", 0}, {"\"\"", true, NULL, 0},
	{"\"bad user\"", true, NULL, 0}, {"\"" X64 "x\"", true, NULL, 0}, {"\"a:b\"", true, NULL, 0},
	{"5", true, NULL, 0}, {"{}", true, NULL, 0},
};
static const struct value roles_pool[] = {
	{"\"owner\"", false, "owner", 0}, {"\"admin\"", false, "admin", 0}, {"\"member\"", false, "member", 0},
	{"\"reader\"", false, "reader", 0}, {"\"none\"", true, NULL, 0}, {"\"\"", true, NULL, 0},
	{"\"Owner\"", true, NULL, 0}, {"1", true, NULL, 0},
};
static const struct value titles_pool[] = {
	{"\"Team\"", false, "Team", 0}, {"\"\"", false, "", 0}, {"\"" T200 "\"", false, T200, 0},
	{"\"\xed\x95\x9c\xea\xb5\xad\"", false, "\xed\x95\x9c\xea\xb5\xad", 0}, {"\"" T200 "t\"", true, NULL, 0},
	{"\"\xff\"", true, NULL, 0}, {"5", true, NULL, 0}, {"null", true, NULL, 0},
};
static const struct value uints_pool[] = {
	{"0", false, NULL, 0}, {"1", false, NULL, 1}, {"2", false, NULL, 2}, {"4294967295", false, NULL, 4294967295.0},
	{"1e3", false, NULL, 1000}, {"-1", true, NULL, 0}, {"1.5", true, NULL, 0}, {"4294967296", true, NULL, 0},
	{"\"1\"", true, NULL, 0},
};
static const struct value seconds_pool[] = {
	{"0", false, NULL, 0}, {"1", false, NULL, 1}, {"60", false, NULL, 60}, {"315360000", false, NULL, 315360000},
	{"315360001", true, NULL, 0}, {"-1", true, NULL, 0}, {"2.5", true, NULL, 0}, {"\"60\"", true, NULL, 0},
	{"true", true, NULL, 0},
};
static const struct value actions_pool[] = {
	{"\"mask\"", false, "mask", 0}, {"\"reject\"", false, "reject", 0}, {"\"flag\"", false, "flag", 0},
	{"\"default\"", true, NULL, 0}, {"\"\"", true, NULL, 0}, {"3", true, NULL, 0},
};
static const struct value dms_pool[] = {
	{"\"anyone\"", false, "anyone", 0}, {"\"shared\"", false, "shared", 0}, {"\"nobody\"", false, "nobody", 0},
	{"\"default\"", true, NULL, 0}, {"\"x\"", true, NULL, 0},
};
static const struct value rates_pool[] = {
	{"0.5", false, NULL, 0.5}, {"1", false, NULL, 1}, {"1000000", false, NULL, 1000000}, {"0.001", false, NULL, 0.001},
	{"0", true, NULL, 0}, {"-1", true, NULL, 0}, {"1000001", true, NULL, 0}, {"\"1\"", true, NULL, 0},
	{"1e999", true, NULL, 0},
};
static const struct value bursts_pool[] = {
	{"1", false, NULL, 1}, {"5", false, NULL, 5}, {"1000000", false, NULL, 1000000}, {"0.5", true, NULL, 0},
	{"0", true, NULL, 0}, {"\"3\"", true, NULL, 0},
};
static const struct value words_pool[] = {
	{"[\"spam\"]", false, "spam", 0}, {"[\"bad\",\"new\"]", false, "bad", 0}, {"[\"fileword\"]", false, "fileword", 0},
	{"[\"\xec\x8b\x9c\xeb\xb0\x9c\"]", false, "\xec\x8b\x9c\xeb\xb0\x9c", 0}, {"[\" spamalot \"]", false, "spamalot", 0},
	{"[]", true, NULL, 0}, {"\"spam\"", true, NULL, 0}, {"[5]", true, NULL, 0}, {"[\"  \"]", true, NULL, 0},
	{"[\"ok\",null]", true, NULL, 0},
};
static const struct value slows_pool[] = {
	{"0", false, NULL, 0}, {"1", false, NULL, 1}, {"30", false, NULL, 30}, {"3600", false, NULL, 3600},
	{"3601", true, NULL, 0}, {"-1", true, NULL, 0}, {"1.5", true, NULL, 0}, {"\"5\"", true, NULL, 0},
};
static const struct value bools_pool[] = {
	{"true", false, NULL, 1}, {"false", false, NULL, 0}, {"1", true, NULL, 0}, {"\"true\"", true, NULL, 0},
	{"null", true, NULL, 0},
};

static const struct {
	const struct value *values;
	size_t n;
} pools[] = {
#define POOL(p) {p, sizeof(p) / sizeof(p[0])}
	[F_ROOM] = POOL(rooms_pool),     [F_USER] = POOL(users_pool),     [F_ROLE] = POOL(roles_pool),
	[F_TITLE] = POOL(titles_pool),   [F_UINT] = POOL(uints_pool),     [F_SECONDS] = POOL(seconds_pool),
	[F_ACTION] = POOL(actions_pool), [F_DM] = POOL(dms_pool),         [F_RATE] = POOL(rates_pool),
	[F_BURST] = POOL(bursts_pool),   [F_WORDS] = POOL(words_pool),    [F_BOOL] = POOL(bools_pool),
	[F_SLOW] = POOL(slows_pool),
#undef POOL
};

#define MAX_FIELDS 6

struct field {
	const char *name;
	enum field_kind kind;
	bool required;
};

/* The admin API of PRODUCT.md and topics.md: each command's fields. */
static const struct command {
	const char *name;
	struct field fields[MAX_FIELDS];
} api[] = {
	{"createRoom", {{"room", F_ROOM, true}, {"title", F_TITLE, false}}},
	{"deleteRoom", {{"room", F_ROOM, true}}},
	{"getRoom", {{"room", F_ROOM, true}}},
	{"listRooms", {{"count", F_UINT, false}, {"offset", F_UINT, false}}},
	{"addRoomMember", {{"room", F_ROOM, true}, {"user", F_USER, true}, {"role", F_ROLE, false}}},
	{"removeRoomMember", {{"room", F_ROOM, true}, {"user", F_USER, true}}},
	{"setRoomMemberRole", {{"room", F_ROOM, true}, {"user", F_USER, true}, {"role", F_ROLE, true}}},
	{"setRoomPolicy", {{"room", F_ROOM, true}, {"bannedWordsAction", F_ACTION, false}, {"floodRate", F_RATE, false},
			   {"floodBurst", F_BURST, false}, {"dmPolicy", F_DM, false}, {"slowMode", F_SLOW, false}}},
	{"muteUser", {{"user", F_USER, true}, {"room", F_ROOM, false}, {"seconds", F_SECONDS, true}}},
	{"unmuteUser", {{"user", F_USER, true}, {"room", F_ROOM, false}}},
	{"banUser", {{"user", F_USER, true}, {"seconds", F_SECONDS, false}}},
	{"unbanUser", {{"user", F_USER, true}}},
	{"kickUser", {{"user", F_USER, true}}},
	{"freezeRoom", {{"room", F_ROOM, false}, {"seconds", F_SECONDS, false}}},
	{"unfreezeRoom", {{"room", F_ROOM, false}}},
	{"getStats", {{NULL, F_ROOM, false}}},
	{"addBannedWords", {{"words", F_WORDS, true}, {"room", F_ROOM, false}, {"allow", F_BOOL, false}}},
	{"removeBannedWords", {{"words", F_WORDS, true}, {"room", F_ROOM, false}, {"allow", F_BOOL, false}}},
	{"listBannedWords", {{"room", F_ROOM, false}, {"allow", F_BOOL, false}}},
};

#define API_COUNT (sizeof(api) / sizeof(api[0]))

/* Flags byte of a program step. */
enum {
	STEP_CORR = 1u << 0,       /* a string correlationData */
	STEP_BAD_CORR = 1u << 1,   /* a correlationData that is a number */
	STEP_UNKNOWN = 1u << 2,    /* a field the command does not have */
	STEP_NUL_VALUE = 1u << 3,  /* \u0000 in the chosen string value */
	STEP_NUL_NAME = 1u << 4,   /* \u0000 in the chosen member name */
};

/* One command as generated: its text and what it must do. */
struct step {
	const struct command *cmd; /* NULL for an unknown or missing name */
	const struct value *given[MAX_FIELDS];
	bool malformed, nul, corr;
	struct strbuf json;
};

/* Appends the string literal lit (starting and ending with '"') with
 * \u0000 (and an 'x' when suffix) just before its closing quote. */
static void put_with_nul(struct strbuf *sb, const char *lit, bool suffix)
{
	strbuf_append(sb, lit, strlen(lit) - 1);
	strbuf_puts(sb, suffix ? "\\u0000x\"" : "\\u0000\"");
}

/* A member "name":value; NUL goes into the name or the value as asked. */
static void put_member(struct step *st, const char *name, const char *value, unsigned nul_flags, bool suffix)
{
	char lit[80];
	snprintf(lit, sizeof(lit), "\"%s\"", name);
	strbuf_putc(&st->json, st->json.len > 1 ? ',' : '{');
	if (nul_flags & STEP_NUL_NAME) put_with_nul(&st->json, lit, suffix);
	else strbuf_puts(&st->json, lit);
	strbuf_putc(&st->json, ':');
	/* In an array of strings the first element gets it. */
	const char *q1 = strchr(value, '"'), *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
	if ((nul_flags & STEP_NUL_VALUE) && q2) {
		strbuf_append(&st->json, value, (size_t)(q2 - value));
		strbuf_puts(&st->json, suffix ? "\\u0000x" : "\\u0000");
		strbuf_puts(&st->json, q2);
	} else {
		strbuf_puts(&st->json, value);
	}
	st->nul = st->nul || (nul_flags & STEP_NUL_NAME) || ((nul_flags & STEP_NUL_VALUE) && q2);
}

static size_t field_count(const struct command *cmd)
{
	size_t n = 0;
	while (n < MAX_FIELDS && cmd->fields[n].name) n++;
	return n;
}

/* The fields of st->cmd from the bytes at p (0 = absent), into st. */
static size_t put_fields(struct step *st, const uint8_t *p, size_t n, unsigned flags, bool suffix)
{
	size_t used = 0;
	bool any_policy = false, policy = strcmp(st->cmd->name, "setRoomPolicy") == 0;
	for (size_t i = 0; i < field_count(st->cmd); i++) {
		const struct field *f = &st->cmd->fields[i];
		uint8_t b = used < n ? p[used] : 0;
		used += used < n;
		if (b == 0) {
			st->malformed = st->malformed || f->required;
			continue;
		}
		st->given[i] = &pools[f->kind].values[(b - 1u) % pools[f->kind].n];
		st->malformed = st->malformed || st->given[i]->bad;
		any_policy = any_policy || (policy && i > 0);
		put_member(st, f->name, st->given[i]->json, (flags >> 5) == i + 1 ? flags : 0, suffix);
	}
	if (policy && !any_policy) st->malformed = true; /* nothing to set */
	return used;
}

/* Reads one step from p[0..n): the command's byte, the flags, then a byte
 * per field. Returns the bytes used (0 = no more). Bits 5-7 of the flags
 * say which member a NUL goes into: 0 the command's name, 1.. a field,
 * past the fields the correlationData. */
static size_t make_step(const uint8_t *p, size_t n, unsigned index, struct step *st)
{
	if (n < 2) return 0;
	size_t pick = p[0] % (API_COUNT + 2), used = 2;
	unsigned flags = p[1], at = flags >> 5;
	bool suffix = (p[0] & 0x80) != 0;
	char lit[40];
	memset(st, 0, sizeof(*st));
	strbuf_init(&st->json);
	st->cmd = pick < API_COUNT ? &api[pick] : NULL;
	st->malformed = st->cmd == NULL; /* an unknown name, or none */
	snprintf(lit, sizeof(lit), "\"%s\"", st->cmd ? st->cmd->name : "fooBar");
	if (pick <= API_COUNT) put_member(st, "command", lit, at == 0 ? flags : 0, suffix);
	else if (p[0] & 0x40) put_member(st, "command", "7", 0, false);
	if (st->cmd) used += put_fields(st, p + 2, n - 2, flags, suffix);
	if (flags & (STEP_CORR | STEP_BAD_CORR)) {
		bool bad = (flags & STEP_BAD_CORR) != 0;
		unsigned nul = st->cmd && at > field_count(st->cmd) ? flags : 0;
		snprintf(lit, sizeof(lit), "\"c%u\"", index);
		put_member(st, "correlationData", bad ? "5" : lit, nul, suffix);
		st->corr = !bad;
		st->malformed = st->malformed || bad;
	}
	if (flags & STEP_UNKNOWN) {
		put_member(st, "bogus", "1", 0, false);
		st->malformed = true;
	}
	if (st->json.len == 0) strbuf_putc(&st->json, '{');
	strbuf_putc(&st->json, '}');
	if (st->nul) st->malformed = true;
	return used;
}

/* The value given to the field called name, or NULL. */
static const struct value *given(const struct step *st, const char *name)
{
	for (size_t i = 0; st->cmd && i < field_count(st->cmd); i++) {
		if (st->given[i] && strcmp(st->cmd->fields[i].name, name) == 0) return st->given[i];
	}
	return NULL;
}

struct word_search {
	const char *word;
	bool found;
};

static void find_word(const char *word, void *ud)
{
	struct word_search *ws = ud;
	if (strcmp(word, ws->word) == 0) ws->found = true;
}

static bool word_listed(const struct chat *c, const struct room *r, bool allow, const char *word)
{
	struct word_search ws = {word, false};
	moderation_words_each(c, r, allow, find_word, &ws);
	return ws.found;
}

/* A sanction that cannot have run out by now: until lifted, or longer
 * than a command can take. */
static bool lasting(const struct step *st)
{
	const struct value *sec = given(st, "seconds");
	return !sec || sec->d == 0 || sec->d > 3;
}

/* A command that succeeded did what it says. */
static void check_effect(struct chat *c, const struct step *st)
{
	const struct value *room = given(st, "room"), *user = given(st, "user"), *role = given(st, "role");
	const struct value *words = given(st, "words"), *allow = given(st, "allow"), *title = given(st, "title");
	const struct room *r = room ? rooms_find(&c->rooms, room->s, strlen(room->s)) : NULL;
	const char *name = st->cmd->name;
	uint64_t now = chat_now_ms();
	if (strcmp(name, "createRoom") == 0) {
		if (!r || (title ? !r->title || strcmp(r->title, title->s) != 0 : r->title != NULL)) abort();
	} else if (strcmp(name, "deleteRoom") == 0) {
		if (r) abort();
	} else if (strcmp(name, "addRoomMember") == 0 || strcmp(name, "setRoomMemberRole") == 0) {
		int want = role ? rooms_role_parse(role->s) : ROLE_MEMBER;
		if (!r || (int)rooms_role(r, user->s, strlen(user->s)) != want) abort();
	} else if (strcmp(name, "removeRoomMember") == 0) {
		if (!r || rooms_role(r, user->s, strlen(user->s)) != ROLE_NONE) abort();
	} else if (strcmp(name, "banUser") == 0) {
		if (lasting(st) && !sanctions_find_ban(&c->sanctions, user->s, now, NULL)) abort();
	} else if (strcmp(name, "unbanUser") == 0) {
		if (sanctions_find_ban(&c->sanctions, user->s, now, NULL)) abort();
	} else if (strcmp(name, "muteUser") == 0) {
		if (lasting(st) && !sanctions_find_mute(&c->sanctions, user->s, room ? room->s : NULL, now, NULL)) abort();
	} else if (strcmp(name, "unmuteUser") == 0) {
		if (sanctions_find_mute(&c->sanctions, user->s, room ? room->s : NULL, now, NULL)) abort();
	} else if (strcmp(name, "freezeRoom") == 0) {
		if (lasting(st) && !sanctions_find_freeze(&c->sanctions, room ? room->s : NULL, now, NULL)) abort();
	} else if (strcmp(name, "unfreezeRoom") == 0) {
		if (sanctions_find_freeze(&c->sanctions, room ? room->s : NULL, now, NULL)) abort();
	} else if (strcmp(name, "addBannedWords") == 0 || strcmp(name, "removeBannedWords") == 0) {
		bool added = name[0] == 'a';
		if (word_listed(c, r, allow && allow->d != 0, words->s) != added) abort();
	} else if (strcmp(name, "setRoomPolicy") == 0) {
		const struct value *a = given(st, "bannedWordsAction"), *dm = given(st, "dmPolicy");
		const struct value *rate = given(st, "floodRate"), *burst = given(st, "floodBurst");
		const struct value *slow = given(st, "slowMode");
		if (!r || (a && (int)r->policy.words_action != rooms_words_action_parse(a->s)) ||
		    (dm && (int)r->policy.dm_policy != rooms_dm_policy_parse(dm->s)) ||
		    (rate && r->policy.flood_rate != rate->d) || (burst && r->policy.flood_burst != burst->d) ||
		    (slow && r->policy.slow_mode_s != (unsigned)slow->d))
			abort();
	}
}

static void run_step(struct chat *c, const struct step *st, struct strbuf *before, struct strbuf *after)
{
	char payload[8192];
	int len = snprintf(payload, sizeof(payload), "{\"commands\":[%s]}", st->json.buf);
	if (len < 0 || (size_t)len >= sizeof(payload)) abort();
	uint64_t horizon = chat_now_ms() + SNAPSHOT_HORIZON_MS;
	snapshot(c, horizon, before);
	send_request(&admin, payload, (size_t)len);
	cJSON *reply = the_reply(refjson_utf8_valid(payload, (size_t)len));
	const cJSON *responses = responses_of(reply), *resp = cJSON_GetArrayItem(responses, 0);
	if (!reply || cJSON_GetArraySize(responses) != 1) abort();
	bool whole = readable(payload, (size_t)len);
	if (st->nul && whole) abort();
	if (!whole) {
		/* Refused whole (U+0000, invalid UTF-8): one error naming no command. */
		if (!has_error(resp) || cJSON_GetObjectItemCaseSensitive(resp, "command")) abort();
	} else {
		cJSON *cmd = cJSON_Parse(st->json.buf);
		check_response(resp, cmd);
		cJSON_Delete(cmd);
	}
	bool error = has_error(resp);
	if ((st->malformed || !whole) && !error) abort();
	if (error) check_only_reply();
	snapshot(c, horizon, after);
	if ((error || (st->cmd && read_only(st->cmd->name))) && strcmp(before->buf, after->buf) != 0) abort();
	if (!error && !st->nul && st->cmd) check_effect(c, st);
	cJSON_Delete(reply);
	check_model(c);
}

static void run_program(struct chat *c, const uint8_t *p, size_t n, struct strbuf *before, struct strbuf *after)
{
	struct mosquitto_evt_tick tick = {0};
	for (unsigned k = 0; k < MAX_PROGRAM_COMMANDS; k++) {
		struct step st;
		size_t used = make_step(p, n, k, &st);
		if (used == 0) break;
		run_step(c, &st, before, after);
		strbuf_free(&st.json);
		p += used;
		n -= used;
		/* A tick between requests, as the broker sends: filters rebuilt,
		 * expired sanctions swept. */
		if (stubs_call(MOSQ_EVT_TICK, &tick) != MOSQ_ERR_SUCCESS) abort();
		stubs_forget_messages();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	struct chat *c = start_plugin();
	struct strbuf before, after;
	strbuf_init(&before);
	strbuf_init(&after);
	check_model(c);
	if (data[0] & 2) {
		run_program(c, data + 1, size - 1, &before, &after);
	} else {
		char *payload = malloc(size); /* exact size: ASan sees a read past the payload */
		if (!payload) abort();
		memcpy(payload, data + 1, size - 1);
		run_raw(c, (data[0] & 1) == 0, payload, size - 1, &before, &after);
		free(payload);
	}
	strbuf_free(&before);
	strbuf_free(&after);
	stop_plugin(c);
	return 0;
}

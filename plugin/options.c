/* SPDX-License-Identifier: MIT */
/*
 * plugin_opt_* parsing. Every option of the plugin is a row of one table
 * ({name, parser, field of struct chat_config}, README's option table in
 * code) and is read once here; a bad value stops the broker at start with
 * a log line that names the option and says what it must be, rather than
 * running with a guess. The defaults are set before the options are read.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "live.h"
#include "topic.h"

#define DEFAULT_MAX_PAYLOAD 8192
#define DEFAULT_MAX_DATA 4096
#define DEFAULT_STATE_SAVE_MS 500
#define DEFAULT_SYS_INTERVAL 10
#define DEFAULT_SPOOL_KEEP_S 3600
#define DEFAULT_SPOOL_MAX_BYTES (64u * 1024 * 1024)

struct option;
typedef int (*option_parser)(const struct option *o, struct chat_config *cfg, const char *v);

/* One plugin_opt_<name>. field is an offset in struct chat_config; min
 * and max bound a number (a choice: the values of its names), scale
 * multiplies it before it is stored; names are the words of a choice,
 * indexed by value; want says what a bad value should have been. A NULL parser: read by another file (peer.c). */
struct option {
	const char *name;
	option_parser parse;
	size_t field;
	double min, max;
	unsigned scale;
	const char *const *names;
	const char *want;
};

static void *field(struct chat_config *cfg, const struct option *o)
{
	return (char *)cfg + o->field;
}

static int bad_value(const struct option *o, const char *v, const char *want)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not %s", o->name, v, want);
	return MOSQ_ERR_INVAL;
}

/* ---- text ------------------------------------------------------------- */

/* Any text, kept as given (even empty). */
static int p_text(const struct option *o, struct chat_config *cfg, const char *v)
{
	char **p = field(cfg, o);
	free(*p);
	*p = strdup(v);
	return *p ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
}

/* A file name; empty = none (NULL). */
static int p_path(const struct option *o, struct chat_config *cfg, const char *v)
{
	char **p = field(cfg, o);
	free(*p);
	*p = *v ? strdup(v) : NULL;
	return *v && !*p ? MOSQ_ERR_NOMEM : MOSQ_ERR_SUCCESS;
}

/* The spool: a file name, or "none" (also empty) for no spool; given at
 * all, it is no longer placed beside the state file. */
static int p_spool(const struct option *o, struct chat_config *cfg, const char *v)
{
	cfg->spool_file_set = true;
	return p_path(o, cfg, strcmp(v, "none") == 0 ? "" : v);
}

/* ---- numbers ---------------------------------------------------------- */

/* A decimal integer in min..max (as strtoull reads it, minus a sign). */
static int read_count(const struct option *o, const char *v, unsigned long long *out)
{
	char *end = NULL;
	unsigned long long min = (unsigned long long)o->min, max = (unsigned long long)o->max;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not a number in %llu..%llu",
				     o->name, v, min, max);
		return MOSQ_ERR_INVAL;
	}
	*out = n * o->scale;
	return MOSQ_ERR_SUCCESS;
}

static int p_size(const struct option *o, struct chat_config *cfg, const char *v)
{
	unsigned long long n;
	int rc = read_count(o, v, &n);
	if (rc == MOSQ_ERR_SUCCESS) *(size_t *)field(cfg, o) = (size_t)n;
	return rc;
}

static int p_unsigned(const struct option *o, struct chat_config *cfg, const char *v)
{
	unsigned long long n;
	int rc = read_count(o, v, &n);
	if (rc == MOSQ_ERR_SUCCESS) *(unsigned *)field(cfg, o) = (unsigned)n;
	return rc;
}

static int p_u64(const struct option *o, struct chat_config *cfg, const char *v)
{
	unsigned long long n;
	int rc = read_count(o, v, &n);
	if (rc == MOSQ_ERR_SUCCESS) *(uint64_t *)field(cfg, o) = (uint64_t)n;
	return rc;
}

/* The live defaults: digits only (no sign, no blank before them). */
static int p_digits(const struct option *o, struct chat_config *cfg, const char *v)
{
	if (v[0] < '0' || v[0] > '9') {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not a number in %lu..%lu",
				     o->name, v, (unsigned long)o->min, (unsigned long)o->max);
		return MOSQ_ERR_INVAL;
	}
	return p_unsigned(o, cfg, v);
}

static bool read_real(const char *v, double min, double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < min || d > max) return false;
	*out = d;
	return true;
}

/* A real number in min..max (the flood rates). */
static int p_real(const struct option *o, struct chat_config *cfg, const char *v)
{
	char what[64];
	if (read_real(v, o->min, o->max, field(cfg, o))) return MOSQ_ERR_SUCCESS;
	snprintf(what, sizeof(what), "a number in %g..%g", o->min, o->max);
	return bad_value(o, v, what);
}

/* An integer written as a real ("3", "3.0") in min..max. */
static int p_whole(const struct option *o, struct chat_config *cfg, const char *v)
{
	char what[64];
	double d;
	if (read_real(v, o->min, o->max, &d) && d == floor(d)) {
		*(unsigned *)field(cfg, o) = (unsigned)d;
		return MOSQ_ERR_SUCCESS;
	}
	snprintf(what, sizeof(what), "an integer in %g..%g", o->min, o->max);
	return bad_value(o, v, what);
}

/* "10,60,300,3600": mute seconds for the first, second... offence. */
static int p_ladder(const struct option *o, struct chat_config *cfg, const char *v)
{
	uint32_t steps[16];
	size_t n = 0;
	for (const char *p = v; *p;) {
		char num[16];
		size_t len = strcspn(p, ",");
		double d;
		snprintf(num, sizeof(num), "%.*s", (int)(len < 15 ? len : 15), p);
		if (n == 16 || len == 0 || len > 10 || !read_real(num, 1, 86400 * 30.0, &d) || d != floor(d))
			return bad_value(o, v, "a list of up to 16 mute durations in seconds (e.g. 10,60,300,3600)");
		steps[n++] = (uint32_t)d;
		p += len;
		if (*p == ',') p++;
	}
	if (n == 0) return bad_value(o, v, "a list of mute durations in seconds");
	uint32_t *copy = malloc(n * sizeof(*copy));
	if (!copy) return MOSQ_ERR_NOMEM;
	memcpy(copy, steps, n * sizeof(*copy));
	free(cfg->mod.mute_ladder);
	cfg->mod.mute_ladder = copy;
	cfg->mod.mute_steps = n;
	return MOSQ_ERR_SUCCESS;
}

/* ---- choices ---------------------------------------------------------- */

static int p_bool(const struct option *o, struct chat_config *cfg, const char *v)
{
	bool *b = field(cfg, o);
	if (strcmp(v, "true") == 0) *b = true;
	else if (strcmp(v, "false") == 0) *b = false;
	else return bad_value(o, v, "true or false");
	return MOSQ_ERR_SUCCESS;
}

/* One of o->names[min..max] (indexed by value), stored as an enum. */
static int p_choice(const struct option *o, struct chat_config *cfg, const char *v)
{
	for (int i = (int)o->min; i <= (int)o->max; i++) {
		if (strcmp(v, o->names[i]) != 0) continue;
		*(int *)field(cfg, o) = i;
		return MOSQ_ERR_SUCCESS;
	}
	return bad_value(o, v, o->want);
}

static int p_dm_policy(const struct option *o, struct chat_config *cfg, const char *v)
{
	int p = rooms_dm_policy_parse(v);
	if (p <= DM_INHERIT) return bad_value(o, v, o->want);
	cfg->dm_policy = (enum dm_policy)p;
	return MOSQ_ERR_SUCCESS;
}

static int p_words_action(const struct option *o, struct chat_config *cfg, const char *v)
{
	int a = rooms_words_action_parse(v);
	if (a <= WORDS_INHERIT) return bad_value(o, v, o->want);
	cfg->mod.action = (enum words_action)a;
	return MOSQ_ERR_SUCCESS;
}

/* plugin_opt_auth: password_file, jwt or both, comma-separated. */
static int p_auth(const struct option *o, struct chat_config *cfg, const char *v)
{
	cfg->auth.methods = 0;
	for (const char *p = v; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n == 0) break;
		if (n == 13 && strncmp(p, "password_file", n) == 0) cfg->auth.methods |= CHAT_AUTH_PASSWORD_FILE;
		else if (n == 3 && strncmp(p, "jwt", n) == 0) cfg->auth.methods |= CHAT_AUTH_JWT;
		else return bad_value(o, v, o->want);
		p += n;
	}
	return MOSQ_ERR_SUCCESS;
}

/* ---- user lists ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void user_list_free(struct user_list *l)
{
	for (size_t i = 0; i < l->count; i++) free(l->users[i]);
	free(l->users);
	l->users = NULL;
	l->count = 0;
}

/* Lists this short (the bridge's user or two, a few admins) are scanned:
 * the first bytes compared inline, strcmp only on a likely match, as the
 * message path asks about every sender. Longer ones are searched by halves. */
#define USER_LIST_SCAN 8

/* The list from users[i] on, whose first byte matched: out of line, like
 * the search by halves, so that the scan for a sender on no list (the
 * common answer) saves no registers. */
CHAT_OUT_OF_LINE static bool user_list_scan_from(const struct user_list *l, size_t i, const char *user)
{
	for (; i < l->count; i++) {
		if (l->users[i][0] == user[0] && strcmp(l->users[i], user) == 0) return true;
	}
	return false;
}

CHAT_OUT_OF_LINE static bool user_list_search(const struct user_list *l, const char *user)
{
	return bsearch(&user, l->users, l->count, sizeof(*l->users), cmp_str) != NULL;
}

bool user_list_has(const struct user_list *l, const char *user)
{
	if (!user || !l->count) return false;
	if (l->count > USER_LIST_SCAN) return user_list_search(l, user);
	for (size_t i = 0; i < l->count; i++) {
		if (l->users[i][0] == user[0]) return user_list_scan_from(l, i, user);
	}
	return false;
}

/* "a, b,c" (replacing what the list held); every id must be valid. */
static int p_users(const struct option *o, struct chat_config *cfg, const char *v)
{
	struct user_list *l = field(cfg, o);
	user_list_free(l);
	for (const char *p = v; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n == 0) break;
		if (!topic_user_valid(p, n)) {
			mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%.*s' is not a valid user id",
					     o->name, (int)n, p);
			return MOSQ_ERR_INVAL;
		}
		char **users = realloc(l->users, (l->count + 1) * sizeof(*users));
		if (!users) return MOSQ_ERR_NOMEM;
		l->users = users;
		l->users[l->count] = strndup(p, n);
		if (!l->users[l->count]) return MOSQ_ERR_NOMEM;
		l->count++;
		p += n;
	}
	if (l->count) qsort(l->users, l->count, sizeof(*l->users), cmp_str);
	return MOSQ_ERR_SUCCESS;
}

/* ---- the table -------------------------------------------------------- */

static const char *const other_topics_names[] = {[OTHER_DEFER] = "defer", [OTHER_ALLOW] = "allow",
						 [OTHER_DENY] = "deny"};
static const char *const jwt_alg_names[] = {[CHAT_JWT_HS256] = "HS256", [CHAT_JWT_RS256] = "RS256",
					    [CHAT_JWT_ES256] = "ES256"};
static const char *const presence_names[] = {[CHAT_PRESENCE_ALL] = "all", [CHAT_PRESENCE_ROOMS] = "rooms",
					     [CHAT_PRESENCE_NONE] = "none"};

#define AT(member) offsetof(struct chat_config, member)
#define TEXT(name, fn, member) {name, fn, AT(member), 0, 0, 1, NULL, NULL}
#define NUMBER(name, fn, member, min, max, scale) {name, fn, AT(member), min, max, scale, NULL, NULL}
#define CHOICE(name, fn, member, names, want) {name, fn, AT(member), 0, 0, 1, names, want}
#define NAMED(name, member, names, first, last, want) {name, p_choice, AT(member), first, last, 1, names, want}
#define ELSEWHERE(name) {name, NULL, 0, 0, 0, 1, NULL, NULL}

static const struct option options[] = {
	TEXT("node_id", p_text, node_id),
	NUMBER("max_payload", p_size, limits.max_payload, 64, 16u * 1024 * 1024, 1),
	NUMBER("max_data", p_size, limits.max_data, 2, 16u * 1024 * 1024, 1),
	TEXT("admins", p_users, admins),
	TEXT("service_users", p_users, service_users),
	TEXT("state_file", p_path, state_file),
	NUMBER("state_save_interval", p_unsigned, state_save_ms, 0, 3600u * 1000, 1),
	NAMED("other_topics", other_topics, other_topics_names, OTHER_DEFER, OTHER_DENY, "allow, deny or defer"),
	CHOICE("dm_policy", p_dm_policy, dm_policy, NULL, "anyone, shared or nobody"),
	NUMBER("sys_interval", p_unsigned, sys_interval, 0, 86400, 1),
	CHOICE("require_store", p_bool, require_store, NULL, NULL),
	TEXT("spool_file", p_spool, spool_file),
	NUMBER("spool_keep", p_u64, spool_keep_ms, 1, 7u * 86400, 1000),
	NUMBER("spool_max_bytes", p_size, spool_max_bytes, 64u * 1024, (double)((size_t)1 << 34), 1),
	/* auth.c */
	CHOICE("auth", p_auth, auth.methods, NULL, "password_file, jwt or both, comma-separated"),
	TEXT("password_file", p_path, auth.password_file),
	NAMED("jwt_alg", auth.jwt_alg, jwt_alg_names, CHAT_JWT_HS256, CHAT_JWT_ES256, "HS256, RS256 or ES256"),
	TEXT("jwt_key_file", p_path, auth.jwt_key_file),
	TEXT("jwt_issuer", p_path, auth.jwt_issuer),
	TEXT("jwt_audience", p_path, auth.jwt_audience),
	TEXT("jwt_admin_claim", p_path, auth.jwt_admin_claim),
	NAMED("presence", auth.presence, presence_names, CHAT_PRESENCE_ALL, CHAT_PRESENCE_NONE, "all, rooms or none"),
	TEXT("presence_file", p_path, auth.presence_file),
	/* moderation */
	TEXT("banned_words_file", p_path, mod.banned_file),
	TEXT("allowed_words_file", p_path, mod.allowed_file),
	CHOICE("banned_words_action", p_words_action, mod.action, NULL, "mask, reject or flag"),
	NUMBER("flood_rate", p_real, mod.flood_rate, 0, 1e6, 1),
	NUMBER("flood_burst", p_real, mod.flood_burst, 1, 1e6, 1),
	NUMBER("flood_repeat", p_whole, mod.flood_repeat, 0, 1000, 1),
	NUMBER("flood_window", p_whole, mod.flood_window_s, 1, 86400, 1),
	NUMBER("flood_mute_after", p_whole, mod.flood_mute_after, 0, 1000, 1),
	TEXT("flood_mute_ladder", p_ladder, mod.mute_ladder),
	NUMBER("flood_mute_decay", p_whole, mod.mute_decay_s, 0, 86400 * 30.0, 1),
	/* messenger */
	NUMBER("edit_window", p_u64, msgr.edit_window_ms, 0, 7u * 86400, 1000),
	NUMBER("edit_recent_max", p_size, msgr.recent_max, 0, 10u * 1000 * 1000, 1),
	NUMBER("typing_interval", p_u64, msgr.typing_interval_ms, 100, 60000, 1),
	NUMBER("read_receipts_max_members", p_unsigned, msgr.receipts_max_members, 0, 1000000, 1),
	NUMBER("read_receipts_interval", p_u64, msgr.receipts_interval_ms, 0, 60000, 1),
	/* live rooms */
	NUMBER("live_interval_ms", p_digits, live.interval_ms, LIVE_INTERVAL_MIN_MS, LIVE_INTERVAL_MAX_MS, 1),
	NUMBER("live_shard_size", p_digits, live.shard_size, 0, LIVE_SHARD_SIZE_MAX, 1),
	/* scale-out: peer.c reads them when it starts */
	ELSEWHERE("peer_users"),
	ELSEWHERE("peer_links"),
	ELSEWHERE("peers"),
	ELSEWHERE("peer_sync_timeout"),
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static const struct option *find_option(const char *name)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (strcmp(options[i].name, name) == 0) return &options[i];
	}
	return NULL;
}

/* ---- load ------------------------------------------------------------- */

#define DEFAULT_EDIT_WINDOW_S 900
#define DEFAULT_RECENT_MAX 65536
#define DEFAULT_TYPING_INTERVAL_MS 3000
#define DEFAULT_RECEIPTS_MAX_MEMBERS 100
#define DEFAULT_RECEIPTS_INTERVAL_MS 1000

static void messenger_config_defaults(struct messenger_config *cfg)
{
	cfg->edit_window_ms = DEFAULT_EDIT_WINDOW_S * 1000u;
	cfg->recent_max = DEFAULT_RECENT_MAX;
	cfg->typing_interval_ms = DEFAULT_TYPING_INTERVAL_MS;
	cfg->receipts_max_members = DEFAULT_RECEIPTS_MAX_MEMBERS;
	cfg->receipts_interval_ms = DEFAULT_RECEIPTS_INTERVAL_MS;
}

static void auth_config_free(struct chat_auth_config *cfg)
{
	free(cfg->password_file);
	free(cfg->jwt_key_file);
	free(cfg->jwt_issuer);
	free(cfg->jwt_audience);
	free(cfg->jwt_admin_claim);
	free(cfg->presence_file);
	memset(cfg, 0, sizeof(*cfg));
}

static void set_defaults(struct chat_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->limits.max_payload = DEFAULT_MAX_PAYLOAD;
	cfg->limits.max_data = DEFAULT_MAX_DATA;
	cfg->state_save_ms = DEFAULT_STATE_SAVE_MS;
	cfg->other_topics = OTHER_DEFER;
	cfg->dm_policy = DM_SHARED;
	cfg->sys_interval = DEFAULT_SYS_INTERVAL;
	cfg->require_store = true;
	cfg->spool_keep_ms = DEFAULT_SPOOL_KEEP_S * 1000u;
	cfg->spool_max_bytes = DEFAULT_SPOOL_MAX_BYTES;
	cfg->mod.action = WORDS_MASK;
	cfg->mod.flood_rate = 5;
	cfg->mod.flood_burst = 10;
	cfg->mod.flood_repeat = 3;
	cfg->mod.flood_window_s = 30;
	cfg->mod.flood_mute_after = 3;
	cfg->mod.mute_decay_s = 3600;
	messenger_config_defaults(&cfg->msgr);
	cfg->live.interval_ms = LIVE_INTERVAL_DEFAULT_MS;
}

/* Without plugin_opt_spool_file, the spool sits beside the state file. */
static int default_spool_file(struct chat_config *cfg)
{
	if (!cfg->state_file) return MOSQ_ERR_SUCCESS;
	size_t n = strlen(cfg->state_file);
	cfg->spool_file = malloc(n + sizeof(".spool"));
	if (!cfg->spool_file) return MOSQ_ERR_NOMEM;
	memcpy(cfg->spool_file, cfg->state_file, n);
	memcpy(cfg->spool_file + n, ".spool", sizeof(".spool"));
	return MOSQ_ERR_SUCCESS;
}

int chat_config_load(struct chat_config *cfg, struct mosquitto_opt *opts, int opt_count)
{
	set_defaults(cfg);
	for (int i = 0; i < opt_count; i++) {
		const char *k = opts[i].key, *v = opts[i].value ? opts[i].value : "";
		const struct option *o = find_option(k);
		if (!o) {
			mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "unknown option plugin_opt_%s ignored", k);
			continue;
		}
		int rc = o->parse ? o->parse(o, cfg, v) : MOSQ_ERR_SUCCESS;
		if (rc != MOSQ_ERR_SUCCESS) return rc;
	}
	return cfg->spool_file_set ? MOSQ_ERR_SUCCESS : default_spool_file(cfg);
}

void chat_config_free(struct chat_config *cfg)
{
	free(cfg->node_id);
	free(cfg->state_file);
	free(cfg->spool_file);
	user_list_free(&cfg->admins);
	user_list_free(&cfg->service_users);
	auth_config_free(&cfg->auth);
	free(cfg->mod.banned_file);
	free(cfg->mod.allowed_file);
	free(cfg->mod.mute_ladder);
	memset(cfg, 0, sizeof(*cfg));
}

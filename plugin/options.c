/* SPDX-License-Identifier: MIT */
/*
 * plugin_opt_* parsing. Every option is read once here into struct
 * chat_config; a bad value stops the broker at start with a log line that
 * names the option, rather than running with a guess.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "topic.h"

#define DEFAULT_MAX_PAYLOAD 8192
#define DEFAULT_MAX_DATA 4096
#define DEFAULT_STATE_SAVE_MS 500
#define DEFAULT_SYS_INTERVAL 10
#define DEFAULT_SPOOL_KEEP_S 3600
#define DEFAULT_SPOOL_MAX_BYTES (64u * 1024 * 1024)

static int parse_size(const char *key, const char *value, size_t min, size_t max, size_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < min || v > max) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not a number in %zu..%zu",
				     key, value, min, max);
		return MOSQ_ERR_INVAL;
	}
	*out = (size_t)v;
	return MOSQ_ERR_SUCCESS;
}

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

/* Parses "a, b,c" into l (replacing what it held); every id must be valid. */
static int parse_user_list(const char *key, const char *value, struct user_list *l)
{
	user_list_free(l);
	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n == 0) break;
		if (!topic_user_valid(p, n)) {
			mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%.*s' is not a valid user id",
					     key, (int)n, p);
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

static int parse_other_topics(const char *v, enum chat_other_topics *out)
{
	static const char *const names[] = {[OTHER_DEFER] = "defer", [OTHER_ALLOW] = "allow", [OTHER_DENY] = "deny"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (enum chat_other_topics)i;
			return MOSQ_ERR_SUCCESS;
		}
	}
	mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_other_topics: '%s' is not allow, deny or defer", v);
	return MOSQ_ERR_INVAL;
}

static int parse_dm_policy(const char *v, enum dm_policy *out)
{
	int p = rooms_dm_policy_parse(v);
	if (p <= DM_INHERIT) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_dm_policy: '%s' is not anyone, shared or nobody", v);
		return MOSQ_ERR_INVAL;
	}
	*out = (enum dm_policy)p;
	return MOSQ_ERR_SUCCESS;
}

bool user_list_has(const struct user_list *l, const char *user)
{
	return user && l->count && bsearch(&user, l->users, l->count, sizeof(*l->users), cmp_str);
}

static int parse_bool(const char *k, const char *v, bool *out)
{
	if (strcmp(v, "true") == 0) *out = true;
	else if (strcmp(v, "false") == 0) *out = false;
	else {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_%s: '%s' is not true or false", k, v);
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
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
	bool spool_set = false;
	moderation_config_defaults(&cfg->mod);
	messenger_config_defaults(&cfg->msgr);
	for (int i = 0; i < opt_count; i++) {
		const char *k = opts[i].key, *v = opts[i].value ? opts[i].value : "";
		int rc = MOSQ_ERR_SUCCESS;
		if (strcmp(k, "node_id") == 0) {
			free(cfg->node_id);
			cfg->node_id = strdup(v);
			if (!cfg->node_id) rc = MOSQ_ERR_NOMEM;
		} else if (strcmp(k, "max_payload") == 0) {
			rc = parse_size(k, v, 64, 16u * 1024 * 1024, &cfg->limits.max_payload);
		} else if (strcmp(k, "max_data") == 0) {
			rc = parse_size(k, v, 2, 16u * 1024 * 1024, &cfg->limits.max_data);
		} else if (strcmp(k, "admins") == 0) {
			rc = parse_user_list(k, v, &cfg->admins);
		} else if (strcmp(k, "service_users") == 0) {
			rc = parse_user_list(k, v, &cfg->service_users);
		} else if (strcmp(k, "state_file") == 0) {
			free(cfg->state_file);
			cfg->state_file = *v ? strdup(v) : NULL;
			if (*v && !cfg->state_file) rc = MOSQ_ERR_NOMEM;
		} else if (strcmp(k, "state_save_interval") == 0) {
			size_t ms = DEFAULT_STATE_SAVE_MS;
			rc = parse_size(k, v, 0, 3600u * 1000, &ms);
			cfg->state_save_ms = (unsigned)ms;
		} else if (strcmp(k, "other_topics") == 0) {
			rc = parse_other_topics(v, &cfg->other_topics);
		} else if (strcmp(k, "dm_policy") == 0) {
			rc = parse_dm_policy(v, &cfg->dm_policy);
		} else if (strcmp(k, "sys_interval") == 0) {
			size_t secs;
			rc = parse_size(k, v, 0, 86400, &secs);
			cfg->sys_interval = (unsigned)secs;
		} else if (strcmp(k, "require_store") == 0) {
			rc = parse_bool(k, v, &cfg->require_store);
		} else if (strcmp(k, "spool_file") == 0) {
			free(cfg->spool_file);
			cfg->spool_file = *v && strcmp(v, "none") != 0 ? strdup(v) : NULL;
			if (cfg->spool_file == NULL && *v && strcmp(v, "none") != 0) rc = MOSQ_ERR_NOMEM;
			spool_set = true;
		} else if (strcmp(k, "spool_keep") == 0) {
			size_t secs;
			rc = parse_size(k, v, 1, 7u * 86400, &secs);
			cfg->spool_keep_ms = (uint64_t)secs * 1000u;
		} else if (strcmp(k, "spool_max_bytes") == 0) {
			rc = parse_size(k, v, 64u * 1024, (size_t)1 << 34, &cfg->spool_max_bytes);
		} else if (moderation_option_known(k)) {
			rc = moderation_config_option(&cfg->mod, k, v);
		} else if (chat_peer_option_known(k)) {
			/* peer.c reads them */
		} else if (messenger_option_known(k)) {
			rc = messenger_config_option(&cfg->msgr, k, v);
		} else if (chat_auth_option_known(k)) {
			rc = chat_auth_config_option(&cfg->auth, k, v);
		} else {
			mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "unknown option plugin_opt_%s ignored", k);
		}
		if (rc != MOSQ_ERR_SUCCESS) return rc;
	}
	return spool_set ? MOSQ_ERR_SUCCESS : default_spool_file(cfg);
}

void chat_config_free(struct chat_config *cfg)
{
	free(cfg->node_id);
	cfg->node_id = NULL;
	free(cfg->state_file);
	cfg->state_file = NULL;
	free(cfg->spool_file);
	cfg->spool_file = NULL;
	user_list_free(&cfg->admins);
	user_list_free(&cfg->service_users);
	chat_auth_config_free(&cfg->auth);
	moderation_config_free(&cfg->mod);
}

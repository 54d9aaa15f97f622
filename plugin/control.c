/* SPDX-License-Identifier: MIT */
/*
 * The admin API on $CONTROL/chat/v1, shaped like Mosquitto's dynamic
 * security API: a request {"commands":[{"command":...}, ...]} gets one
 * response {"responses":[{"command","error"?,"data"?,"correlationData"?}]}
 * on $CONTROL/chat/v1/response, and also on the v5 Response Topic when the
 * request names one, with the v5 Correlation Data echoed.
 *
 * The broker hands $CONTROL publishes to MOSQ_EVT_CONTROL after its own
 * write check and never delivers them to subscribers. Only admins
 * (plugin_opt_admins) may run commands: anyone else's request is logged
 * and dropped without a reply, the same outcome as when the ACL refuses
 * the publish.
 *
 * Dispatch is the table `commands`: a row names a command, the fields it
 * accepts and its handler. Adding a command is adding a row.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "control.h"
#include "live.h"
#include "json.h"
#include "topic.h"
#include "utf8.h"

#define CONTROL_RESPONSE_TOPIC "$CONTROL/chat/v1/response"
#define CONTROL_MAX_COMMANDS 100

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct control_command commands[] = {
	{"createRoom", FIELDS("room", "title"), control_create_room},
	{"deleteRoom", FIELDS("room"), control_delete_room},
	{"getRoom", FIELDS("room"), control_get_room},
	{"listRooms", FIELDS("count", "offset"), control_list_rooms},
	{"addRoomMember", FIELDS("room", "user", "role"), control_add_room_member},
	{"removeRoomMember", FIELDS("room", "user"), control_remove_room_member},
	{"setRoomMemberRole", FIELDS("room", "user", "role"), control_set_room_member_role},
	{"setRoomPolicy",
	 FIELDS("room", "bannedWordsAction", "floodRate", "floodBurst", "dmPolicy", "slowMode", "readReceipts"),
	 control_set_room_policy},
	{"muteUser", FIELDS("user", "room", "seconds"), control_mute_user},
	{"unmuteUser", FIELDS("user", "room"), control_unmute_user},
	{"banUser", FIELDS("user", "seconds"), control_ban_user},
	{"unbanUser", FIELDS("user"), control_unban_user},
	{"kickUser", FIELDS("user"), control_kick_user},
	{"freezeRoom", FIELDS("room", "seconds"), control_freeze_room},
	{"unfreezeRoom", FIELDS("room"), control_unfreeze_room},
	{"getStats", FIELDS(NULL), control_get_stats},
	{"setRoomLive", FIELDS("room", "live", "intervalMs", "shardSize"), control_set_room_live},
	{"addBannedWords", FIELDS("words", "room", "allow"), control_add_banned_words},
	{"removeBannedWords", FIELDS("words", "room", "allow"), control_remove_banned_words},
	{"listBannedWords", FIELDS("room", "allow"), control_list_banned_words},
	/* Banned words (addBannedWords, removeBannedWords, listBannedWords)
	 * join here as rows of the moderation engine. */
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* ---- field readers (control.h) --------------------------------------- */

bool ctl_fail(struct control_req *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return false;
}

bool ctl_has(const struct control_req *r, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(r->cmd, key) != NULL;
}

/* The field as a string; false with the error set when missing (and
 * required) or not a string. *out stays NULL when absent. */
static bool get_string(struct control_req *r, const char *key, bool required, const cJSON **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->cmd, key);
	*out = NULL;
	if (!v) return required ? ctl_fail(r, "%s: missing", key) : true;
	if (!cJSON_IsString(v)) return ctl_fail(r, "%s: must be a string", key);
	*out = v;
	return true;
}

bool ctl_room_id(struct control_req *r, const char *key, bool required, const char **out)
{
	const cJSON *v;
	if (!get_string(r, key, required, &v)) return false;
	if (!v) return true;
	if (!topic_room_valid(v->valuestring, strlen(v->valuestring)))
		return ctl_fail(r, "%s: not a valid room id", key);
	*out = v->valuestring;
	return true;
}

bool ctl_user_id(struct control_req *r, const char *key, bool required, const char **out)
{
	const cJSON *v;
	if (!get_string(r, key, required, &v)) return false;
	if (!v) return true;
	if (!topic_user_valid(v->valuestring, strlen(v->valuestring)))
		return ctl_fail(r, "%s: not a valid user id", key);
	*out = v->valuestring;
	return true;
}

bool ctl_text(struct control_req *r, const char *key, bool required, size_t max, const char **out)
{
	const cJSON *v;
	if (!get_string(r, key, required, &v)) return false;
	if (!v) return true;
	size_t len = strlen(v->valuestring);
	if (len > max) return ctl_fail(r, "%s: longer than %zu bytes", key, max);
	if (!utf8_valid(v->valuestring, len)) return ctl_fail(r, "%s: not valid UTF-8", key);
	*out = v->valuestring;
	return true;
}

bool ctl_uint(struct control_req *r, const char *key, bool required, uint64_t min, uint64_t max, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->cmd, key);
	if (!v) return required ? ctl_fail(r, "%s: missing", key) : true;
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min || d > (double)max)
		return ctl_fail(r, "%s: must be an integer in %llu..%llu", key, (unsigned long long)min,
				(unsigned long long)max);
	*out = (uint64_t)d;
	return true;
}

bool ctl_number(struct control_req *r, const char *key, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->cmd, key);
	if (!v) return true;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min || v->valuedouble > max)
		return ctl_fail(r, "%s: must be a number in %g..%g", key, min, max);
	*out = v->valuedouble;
	return true;
}

bool ctl_enum(struct control_req *r, const char *key, bool required, int (*parse)(const char *), int min,
	      int *out)
{
	const cJSON *v;
	if (!get_string(r, key, required, &v)) return false;
	if (!v) return true;
	int x = parse(v->valuestring);
	if (x < min) return ctl_fail(r, "%s: '%s' is not allowed here", key, ctl_shown(v->valuestring));
	*out = x;
	return true;
}

struct room *ctl_find_room(struct control_req *r, const char *id)
{
	struct room *room = rooms_find(&r->c->rooms, id, strlen(id));
	if (!room) ctl_fail(r, "room not found");
	return room;
}

const char *ctl_shown(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		if (n >= 60 || s[n] < 0x20 || s[n] > 0x7e || s[n] == '"' || s[n] == '\\') return "(not shown)";
	}
	return n ? s : "(empty)";
}

static bool audit_plain(const char *s)
{
	if (!*s) return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("_.:-/", *s)) return false;
	}
	return true;
}

void ctl_audit(struct control_req *r, const char *key, const char *value)
{
	strbuf_putc(&r->audit, ' ');
	strbuf_puts(&r->audit, key);
	strbuf_putc(&r->audit, '=');
	if (audit_plain(value)) strbuf_puts(&r->audit, value);
	else strbuf_append_json_string(&r->audit, value, strlen(value));
}

void ctl_audit_u64(struct control_req *r, const char *key, uint64_t value)
{
	strbuf_putc(&r->audit, ' ');
	strbuf_puts(&r->audit, key);
	strbuf_putc(&r->audit, '=');
	strbuf_append_u64(&r->audit, value);
}

/* ---- one command ------------------------------------------------------ */

static const struct control_command *find_command(const char *name)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(commands[i].name, name) == 0) return &commands[i];
	}
	return NULL;
}

static bool field_known(const struct control_command *cc, const char *name)
{
	if (strcmp(name, "command") == 0 || strcmp(name, "correlationData") == 0) return true;
	for (const char *const *f = cc->fields; *f; f++) {
		if (strcmp(*f, name) == 0) return true;
	}
	return false;
}

/* Finds the command's row and checks the envelope of the command: an
 * object, a known name, a string correlationData, no unknown field. */
static const struct control_command *check_command(struct control_req *r, const char **name)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(r->cmd, "command");
	const cJSON *corr = cJSON_GetObjectItemCaseSensitive(r->cmd, "correlationData");
	if (!cJSON_IsObject(r->cmd)) return ctl_fail(r, "a command must be a JSON object"), NULL;
	if (!cJSON_IsString(cmd)) return ctl_fail(r, "command: missing or not a string"), NULL;
	*name = cmd->valuestring;
	const struct control_command *cc = find_command(cmd->valuestring);
	if (!cc) return ctl_fail(r, "unknown command"), NULL;
	if (corr && !cJSON_IsString(corr)) return ctl_fail(r, "correlationData: must be a string"), NULL;
	const cJSON *f;
	cJSON_ArrayForEach(f, r->cmd) {
		if (!field_known(cc, f->string)) return ctl_fail(r, "%s: unknown field", ctl_shown(f->string)), NULL;
	}
	return cc;
}

static void audit_log(const struct control_req *r, const char *name)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "%s/%s | %s |%s %s%s%s", r->client_id, r->user,
			     name, r->audit.buf ? r->audit.buf : "", r->error[0] ? "error=\"" : "result=ok",
			     r->error, r->error[0] ? "\"" : "");
}

/* Builds the response object of one command; NULL on out of memory. */
static cJSON *command_response(struct control_req *r, const char *name)
{
	cJSON *resp = cJSON_CreateObject();
	const cJSON *corr = cJSON_GetObjectItemCaseSensitive(r->cmd, "correlationData");
	if (!resp) return NULL;
	cJSON_AddStringToObject(resp, "command", name);
	if (r->error[0]) cJSON_AddStringToObject(resp, "error", r->error);
	else if (r->data) {
		cJSON_AddItemToObject(resp, "data", r->data);
		r->data = NULL;
	}
	if (cJSON_IsString(corr)) cJSON_AddStringToObject(resp, "correlationData", corr->valuestring);
	return resp;
}

static cJSON *run_command(struct chat *c, const struct mosquitto *client, const cJSON *cmd)
{
	struct control_req r = {.c = c, .cmd = cmd};
	const char *name = "";
	r.client_id = mosquitto_client_id(client);
	r.user = mosquitto_client_username(client);
	strbuf_init(&r.audit);
	const struct control_command *cc = check_command(&r, &name);
	if (cc) cc->run(&r);
	if (r.error[0]) {
		cJSON_Delete(r.data);
		r.data = NULL;
	}
	audit_log(&r, ctl_shown(name));
	cJSON *resp = command_response(&r, name);
	cJSON_Delete(r.data);
	strbuf_free(&r.audit);
	return resp;
}

/* ---- the request ------------------------------------------------------ */

/* The request as a tree, or NULL with *why set. The project's scanner
 * checks the text first: cJSON keeps strings as C strings, so it would
 * read "bob\u0000x" as "bob" and a command could act on a name it does not
 * carry. A request with such a string (a value or a member name) runs
 * nothing. */
static cJSON *parse_request(const void *payload, size_t len, const char **why)
{
	int rc = json_check_cstrings(payload, len, NULL);
	cJSON *root = rc == CHAT_OK ? cJSON_ParseWithLength(payload, len) : NULL;
	if (rc == CHAT_ERR_INVAL) *why = "a string holds U+0000 (\\u0000)";
	else if (!root) *why = "payload is not valid JSON";
	return root;
}

/* The "commands" array of the request root, or NULL with *why set. */
static const cJSON *request_commands(const cJSON *root, const char **why)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "commands");
	if (!cJSON_IsObject(root)) *why = "payload must be a JSON object";
	else if (!cJSON_IsArray(list)) *why = "commands: missing or not an array";
	else if (cJSON_GetArraySize(list) == 0) *why = "commands: empty";
	else if (cJSON_GetArraySize(list) > CONTROL_MAX_COMMANDS) *why = "commands: more than 100 in one request";
	else return list;
	return NULL;
}

static cJSON *run_request(struct chat *c, const struct mosquitto *client, const void *payload, size_t len)
{
	const char *why = NULL;
	cJSON *root = parse_request(payload, len, &why);
	cJSON *out = cJSON_CreateObject(), *responses = cJSON_CreateArray();
	const cJSON *list = root ? request_commands(root, &why) : NULL;
	const cJSON *cmd;
	if (!out || !responses) goto nomem;
	if (!list) {
		cJSON *resp = cJSON_CreateObject();
		if (!resp) goto nomem;
		cJSON_AddStringToObject(resp, "error", why);
		cJSON_AddItemToArray(responses, resp);
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "%s/%s | request | error=\"%s\"",
				     mosquitto_client_id(client), mosquitto_client_username(client), why);
	}
	cJSON_ArrayForEach(cmd, list) {
		cJSON *resp = run_command(c, client, cmd);
		if (!resp) goto nomem;
		cJSON_AddItemToArray(responses, resp);
	}
	cJSON_AddItemToObject(out, "responses", responses);
	cJSON_Delete(root);
	return out;
nomem:
	cJSON_Delete(root);
	cJSON_Delete(out);
	cJSON_Delete(responses);
	return NULL;
}

/* ---- the reply -------------------------------------------------------- */

/* A v5 Response Topic we may publish to for this admin: the standard
 * response topic, the admin's own chat/users/{user}/ tree, or a plain
 * topic outside chat/ and $-topics. Anything else could make the plugin
 * forge messages in rooms, so it is ignored (the reply still goes to
 * $CONTROL/chat/v1/response). */
static bool response_topic_allowed(const char *topic, const char *user)
{
	struct topic_ref t;
	topic_parse(topic, &t);
	if (t.wildcard) return false;
	if (t.kind == TOPIC_CONTROL_RESPONSE) return true;
	if (t.kind == TOPIC_USER_PRIVATE)
		return user && strlen(user) == t.id_len && memcmp(user, t.id, t.id_len) == 0;
	return t.kind == TOPIC_OTHER && topic[0] != '$';
}

static void publish_reply(const char *topic, const char *json, const void *corr, uint16_t corr_len)
{
	mosquitto_property *props = NULL;
	if (corr && mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, corr_len) != 0) {
		mosquitto_property_free_all(&props);
		props = NULL;
	}
	int rc = mosquitto_broker_publish_copy(NULL, topic, (int)strlen(json), json, 1, false, props);
	if (rc != MOSQ_ERR_SUCCESS) {
		mosquitto_property_free_all(&props);
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "cannot publish reply to %s: %s", topic,
				     mosquitto_strerror(rc));
	}
}

static void send_reply(const struct chat *c, const struct mosquitto_evt_control *ed, const char *json)
{
	uint16_t corr_len = 0;
	const char *user = mosquitto_client_username(ed->client);
	char *rt = chat_props_string(c, ed->properties, MQTT_PROP_RESPONSE_TOPIC);
	void *corr = chat_props_binary(c, ed->properties, MQTT_PROP_CORRELATION_DATA, &corr_len);
	publish_reply(CONTROL_RESPONSE_TOPIC, json, corr, corr_len);
	if (rt && strcmp(rt, CONTROL_RESPONSE_TOPIC) != 0) {
		if (response_topic_allowed(rt, user)) publish_reply(rt, json, corr, corr_len);
		else
			mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "%s/%s | response topic '%s' refused; "
					     "replied on " CONTROL_RESPONSE_TOPIC " only",
					     mosquitto_client_id(ed->client), user, rt);
	}
	free(rt);
	free(corr);
}

int chat_on_control(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_control *ed = event_data;
	struct chat *c = userdata;
	(void)event;
	if (!chat_is_admin(c, ed->client)) {
		const char *user = mosquitto_client_username(ed->client);
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "%s/%s | request | error=\"not an admin\" "
				     "(dropped, no reply)", mosquitto_client_id(ed->client), user ? user : "");
		return MOSQ_ERR_SUCCESS;
	}
	cJSON *reply = run_request(c, ed->client, ed->payload, ed->payloadlen);
	char *json = reply ? cJSON_PrintUnformatted(reply) : NULL;
	cJSON_Delete(reply);
	if (json) send_reply(c, ed, json);
	else mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "out of memory answering a control request");
	free(json);
	/* Any other value would make the broker drop the admin's connection. */
	return MOSQ_ERR_SUCCESS;
}

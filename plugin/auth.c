/* SPDX-License-Identifier: MIT */
/*
 * MOSQ_EVT_BASIC_AUTH and the session's life around it: each TICK kicks
 * the tokens that expired, and RELOAD (SIGHUP) re-reads the password file
 * and the JWT key. plugin.c registers the events and calls the tick and
 * reload work from here; DISCONNECT is plugin.c's too (it ends the
 * session of every module).
 *
 * Decisions (README and topics.md say the same):
 * - No username: MOSQ_ERR_PLUGIN_DEFER, so the broker's allow_anonymous
 *   decides; the ACL keeps anonymous clients out of chat topics.
 * - plugin_opt_auth unset: every login is deferred to the broker, after
 *   the client id check and with the session recorded (sessions.h says
 *   why). A username nothing else vouches for is then refused by
 *   Mosquitto, even with allow_anonymous true.
 * - A client id that belongs to another user (clientid.c) is refused, in
 *   every mode.
 * - A username is the plugin's to judge: it must be a valid user id and
 *   pass the configured method, else MOSQ_ERR_AUTH (CONNACK 135 "not
 *   authorized" for MQTT 5, 5 "not authorized" for 3.1.1).
 * - With both methods, a password shaped like a JWT is checked as a JWT
 *   only; anything else against the password file only.
 * - A banned user is refused even with the right password.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "live.h"
#include "sessions.h"
#include "topic.h"

struct auth_state {
	struct auth_passwd *passwd;
	struct auth_jwt *jwt;
};

/* ---- options (parsed by options.c) ---- */

/* ---- loading ---- */

static void auth_state_free(struct auth_state *a)
{
	if (!a) return;
	auth_passwd_free(a->passwd);
	auth_jwt_free(a->jwt);
	free(a);
}

/* Reads the password file and JWT key the options name into a new state. */
static int auth_state_load(const struct chat_auth_config *cfg, struct auth_state **out)
{
	struct auth_state *a = calloc(1, sizeof(*a));
	int rc = a ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
	if (rc == MOSQ_ERR_SUCCESS && (cfg->methods & CHAT_AUTH_PASSWORD_FILE)) {
		if (cfg->password_file) {
			rc = auth_passwd_load(cfg->password_file, &a->passwd);
		} else {
			mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_auth password_file needs "
									   "plugin_opt_password_file");
			rc = MOSQ_ERR_INVAL;
		}
	}
	if (rc == MOSQ_ERR_SUCCESS && (cfg->methods & CHAT_AUTH_JWT)) rc = auth_jwt_load(cfg, &a->jwt);
	if (rc != MOSQ_ERR_SUCCESS) {
		auth_state_free(a);
		return rc;
	}
	*out = a;
	return MOSQ_ERR_SUCCESS;
}

/* ---- events ---- */

/* True when password proves user; *claims gets the token's claims. */
static bool credentials_ok(struct chat *c, const char *user, const char *password, uint64_t now_ms,
			   struct auth_jwt_claims *claims)
{
	unsigned m = c->cfg.auth.methods;
	memset(claims, 0, sizeof(*claims));
	if (!password) return false;
	bool jwt = (m & CHAT_AUTH_JWT) && (!(m & CHAT_AUTH_PASSWORD_FILE) || auth_looks_like_jwt(password));
	if (jwt) return auth_jwt_check(c->auth->jwt, &c->cfg.auth, user, password, now_ms, claims);
	return auth_passwd_check(c->auth->passwd, user, password);
}

/* The plugin's own verdict on a login: MOSQ_ERR_SUCCESS with *claims
 * filled, MOSQ_ERR_AUTH (logged), or MOSQ_ERR_PLUGIN_DEFER when it is not
 * the plugin's to judge (no username, or the broker authenticates). */
static int verdict(struct chat *c, const struct mosquitto_evt_basic_auth *ed, const char *id,
		   struct auth_jwt_claims *claims)
{
	const char *user = ed->username;
	memset(claims, 0, sizeof(*claims));
	if (!user || c->cfg.auth.methods == 0) return MOSQ_ERR_PLUGIN_DEFER;
	if (!topic_user_valid(user, strlen(user))) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "client %s refused: username is not a valid user id",
				     id);
		return MOSQ_ERR_AUTH;
	}
	uint64_t now = chat_now_ms();
	if (!credentials_ok(c, user, ed->password, now, claims)) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "client %s refused: bad credentials for %s", id,
				     user);
		return MOSQ_ERR_AUTH;
	}
	if (chat_user_banned(c, user, now)) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "client %s refused: %s is banned", id, user);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_SUCCESS;
}

/*
 * Every login, in every auth mode: the plugin's verdict, then the client
 * id, which may not belong to another user (clientid.c; checked after the
 * credentials, so that it tells nothing to a client that cannot log in),
 * then the session is recorded. When the broker authenticates, the login
 * is deferred to it after that.
 */
int chat_on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct chat *c = userdata;
	struct auth_jwt_claims claims;
	(void)event;
	const char *id = mosquitto_client_id(ed->client);
	int rc = verdict(c, ed, id ? id : "?", &claims);
	if (rc == MOSQ_ERR_AUTH) return rc;
	if (chat_peer_refuses_login(c, id, ed->username)) return MOSQ_ERR_AUTH; /* peer.c: links, catch-up */
	const char *owner = clientid_taken(c, id, ed->username);
	if (owner) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				     CHAT_LOG_PREFIX "client %s refused for %s: that client id belongs to %s", id,
				     ed->username ? ed->username : "(anonymous)", owner);
		return MOSQ_ERR_AUTH;
	}
	if (!ed->username) return rc;
	if (sessions_add(c, ed->client, ed->username, claims.admin, claims.exp_ms) != MOSQ_ERR_SUCCESS)
		return MOSQ_ERR_AUTH;
	if (rc == MOSQ_ERR_SUCCESS && clientid_claim(c, ed->client, ed->username) != MOSQ_ERR_SUCCESS) {
		sessions_remove(c, ed->client);
		return MOSQ_ERR_AUTH;
	}
	c->sessions->connecting = ed->client;
	return rc;
}

void chat_auth_tick(struct chat *c, uint64_t now)
{
	c->sessions->ticks++;
	c->sessions->connecting = NULL;
	sessions_expire(c, now);
}

/*
 * SIGHUP: a new password file or key replaces the old only when it loads;
 * else the running one stays. Sessions already authenticated stay. With
 * the broker authenticating there is nothing to reload.
 */
void chat_auth_reload(struct chat *c)
{
	struct auth_state *fresh = NULL;
	if (c->cfg.auth.methods == 0) return;
	if (auth_state_load(&c->cfg.auth, &fresh) == MOSQ_ERR_SUCCESS) {
		auth_state_free(c->auth);
		c->auth = fresh;
		mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "credentials reloaded");
	} else {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "reload failed: keeping the previous credentials");
	}
}

/* The ledger path: the option, else next to the state file, else none. */
static char *ledger_path(const struct chat_config *cfg)
{
	if (cfg->auth.presence_file) return strdup(cfg->auth.presence_file);
	if (!cfg->state_file) return NULL;
	size_t n = strlen(cfg->state_file) + sizeof(".presence");
	char *p = malloc(n);
	if (p) snprintf(p, n, "%s.presence", cfg->state_file);
	return p;
}

/* The password file, JWT key and presence ledger, when the plugin
 * authenticates. */
static int load_plugin_auth(struct chat *c)
{
	int rc = auth_state_load(&c->cfg.auth, &c->auth);
	if (rc != MOSQ_ERR_SUCCESS) return rc;
	char *ledger = ledger_path(&c->cfg);
	rc = presence_start(c, ledger);
	free(ledger);
	return rc;
}

int chat_auth_init(struct chat *c)
{
	bool plugin = c->cfg.auth.methods != 0;
	c->sessions = sessions_new();
	if (!c->sessions) return MOSQ_ERR_NOMEM;
	if (!plugin) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "plugin_opt_auth not set: authentication is left "
				     "to the broker (each login is deferred to it), and presence is not tracked");
	}
	return plugin ? load_plugin_auth(c) : MOSQ_ERR_SUCCESS;
}

void chat_auth_free(struct chat *c)
{
	if (c->sessions) presence_stop(c);
	sessions_free(c->sessions);
	c->sessions = NULL;
	auth_state_free(c->auth);
	c->auth = NULL;
}

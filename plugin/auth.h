/* SPDX-License-Identifier: MIT */
/*
 * Authentication inside the plugin: the options that choose it, the
 * mosquitto_passwd file (auth_passwd.c), JWTs checked with OpenSSL
 * (auth_jwt.c) and the MOSQ_EVT_BASIC_AUTH callback that ties them to the
 * session table (auth.c). Only chat.h and the auth files include this;
 * other files ask chat.h's functions (chat_is_admin, chat_session_of).
 */
#ifndef CHAT_PLUGIN_AUTH_H
#define CHAT_PLUGIN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chat;
struct mosquitto;

/* Bits of plugin_opt_auth. */
#define CHAT_AUTH_PASSWORD_FILE 1u
#define CHAT_AUTH_JWT 2u

enum chat_jwt_alg { CHAT_JWT_NONE, CHAT_JWT_HS256, CHAT_JWT_RS256, CHAT_JWT_ES256 };

enum chat_presence_mode {
	CHAT_PRESENCE_ALL,   /* any authenticated user may read anyone's presence */
	CHAT_PRESENCE_ROOMS, /* only users who share a room (and the user) */
	CHAT_PRESENCE_NONE,  /* nothing is published */
};

/* The auth and presence options (plugin_opt_*), parsed by options.c. */
struct chat_auth_config {
	unsigned methods;          /* CHAT_AUTH_* bits; 0 = the plugin leaves auth to the broker */
	char *password_file;
	enum chat_jwt_alg jwt_alg;
	char *jwt_key_file;        /* HS256: the secret; RS256/ES256: a PEM public key */
	char *jwt_issuer;          /* NULL = iss not checked */
	char *jwt_audience;        /* NULL = aud not checked */
	char *jwt_admin_claim;     /* NULL = no admin by token; may be a dotted path */
	enum chat_presence_mode presence;
	char *presence_file;       /* the ledger of users shown online; NULL = <state_file>.presence */
};


/* auth.c: checks the options, loads the password file and JWT key and
 * opens the presence ledger. Returns MOSQ_ERR_*, having logged why. */
int chat_auth_init(struct chat *c);
/* Saves the presence ledger and frees everything (safe after a failed or
 * no init). */
void chat_auth_free(struct chat *c);
/* MOSQ_EVT_BASIC_AUTH (registered by plugin.c). */
int chat_on_basic_auth(int event, void *event_data, void *userdata);
/* The TICK work: the login seen is over, expired tokens are kicked. */
void chat_auth_tick(struct chat *c, uint64_t now);
/* The RELOAD work: the password file and JWT key again, when the plugin
 * authenticates; a file that does not load keeps the running one. */
void chat_auth_reload(struct chat *c);

/* auth_passwd.c: the mosquitto_passwd file ($7$ PBKDF2-SHA512 and $6$
 * salted SHA-512 entries). */
struct auth_passwd;
/* Loads path; *out gets a new table. Returns MOSQ_ERR_* after logging. */
int auth_passwd_load(const char *path, struct auth_passwd **out);
void auth_passwd_free(struct auth_passwd *p);
/* True when password matches user's entry (constant-time compare; an
 * unknown user costs the same hash). */
bool auth_passwd_check(const struct auth_passwd *p, const char *user, const char *password);

/* auth_jwt.c: verification key and checks of a JWT. */
struct auth_jwt;
int auth_jwt_load(const struct chat_auth_config *cfg, struct auth_jwt **out);
void auth_jwt_free(struct auth_jwt *j);

/* What a valid token says about its session. */
struct auth_jwt_claims {
	bool admin;        /* the admin claim was set */
	uint64_t exp_ms;   /* expiry, unix ms */
};
/*
 * Verifies token (signature with the configured algorithm only, exp, nbf,
 * and iss/aud when configured) and that sub equals user. On success fills
 * *claims and returns true; else logs the reason at notice level.
 */
bool auth_jwt_check(const struct auth_jwt *j, const struct chat_auth_config *cfg, const char *user,
		    const char *token, uint64_t now_ms, struct auth_jwt_claims *claims);
/* True when s has the shape of a JWT: three base64url parts, the first
 * starting with "eyJ" (the encoding of '{"'). */
bool auth_looks_like_jwt(const char *s);

#endif

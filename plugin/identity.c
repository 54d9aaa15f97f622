/* SPDX-License-Identifier: MIT */
/*
 * Broker-wide roles of a client: admin (may use $CONTROL/chat/v1) and
 * service (the bridge). Both come from plugin options, and admin also
 * from a JWT's admin claim (plugin_opt_jwt_admin_claim) for that session;
 * they are never implied by any room role.
 */
#include "chat.h"
#include "sessions.h"

bool chat_is_admin(const struct chat *c, const struct mosquitto *client)
{
	if (user_list_has(&c->cfg.admins, mosquitto_client_username(client))) return true;
	/* A JWT with the admin claim makes this session (not the user) admin. */
	const struct chat_session *s = chat_session_of(c, client);
	return s && s->admin;
}

bool chat_is_service_user(const struct chat *c, const char *user)
{
	return user_list_has(&c->cfg.service_users, user);
}

bool chat_is_service(const struct chat *c, const struct mosquitto *client)
{
	return chat_is_service_user(c, mosquitto_client_username(client));
}

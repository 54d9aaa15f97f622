/* SPDX-License-Identifier: MIT */
/*
 * Broker-wide roles of a client: admin (may use $CONTROL/chat/v1) and
 * service (the bridge). Both come from plugin options; they are never
 * implied by any room role.
 */
#include "chat.h"

bool chat_is_admin(const struct chat *c, const struct mosquitto *client)
{
	return user_list_has(&c->cfg.admins, mosquitto_client_username(client));
}

bool chat_is_service(const struct chat *c, const struct mosquitto *client)
{
	return user_list_has(&c->cfg.service_users, mosquitto_client_username(client));
}

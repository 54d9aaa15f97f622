/* SPDX-License-Identifier: MIT */
/*
 * The MQTT 5 properties the plugin reads, and who owns what it reads.
 *
 * Mosquitto 2.0.x built upstream exports to plugins only the property
 * writers and mosquitto_property_free_all (src/linker.syms); the readers
 * come from libmosquitto, which the plugin links. Debian's 2.0.11 and
 * 2.1 export the readers themselves, and the broker's copy wins there. The
 * readers that copy a value out allocate it with calloc() in 2.0.x (broker
 * and libmosquitto alike) but with the broker's mosquitto_calloc() in 2.1,
 * whose memory tracking would miscount if the wrong free were used; so the
 * copy is freed by whichever matches, decided once at init.
 *
 * The plugin never replaces a property list the broker handed it: 2.0.11
 * leaves the old list to the plugin, 2.0.15 and later free it themselves, so
 * any swap leaks on one or frees twice on the other. It only appends, which
 * keeps the head (and so the owner) of the list unchanged.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

/* mosquitto_plugin_set_info is a 2.1 name, absent from every 2.0.x broker. */
void chat_props_init(struct chat *c)
{
	c->prop_free = dlsym(RTLD_DEFAULT, "mosquitto_plugin_set_info") ? mosquitto_free : free;
}

bool chat_props_has_user_property(const mosquitto_property *list)
{
	/* NULL name and value: the reader only finds, it copies nothing. */
	return list && mosquitto_property_read_string_pair(list, MQTT_PROP_USER_PROPERTY, NULL, NULL, false);
}

char *chat_props_string(const struct chat *c, const mosquitto_property *list, int id)
{
	char *v = NULL;
	if (!list || !mosquitto_property_read_string(list, id, &v, false) || !v) return NULL;
	char *copy = strdup(v);
	c->prop_free(v);
	return copy;
}

void *chat_props_binary(const struct chat *c, const mosquitto_property *list, int id, uint16_t *len)
{
	void *v = NULL;
	*len = 0;
	if (!list || !mosquitto_property_read_binary(list, id, &v, len, false) || !v) return NULL;
	void *copy = malloc(*len ? *len : 1u);
	if (copy) memcpy(copy, v, *len);
	c->prop_free(v);
	if (!copy) *len = 0;
	return copy;
}

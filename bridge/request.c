/* SPDX-License-Identifier: MIT */
/*
 * What the bridge takes from a request (history, read markers, device
 * registrations), in one place so every request is read by the same rules.
 *
 * Who asks: the v5 user property `from`, which the plugin sets to the
 * authenticated user on every publish to these topics. The bridge does not
 * rely on the plugin having removed a client's own: a request counts only
 * with exactly one `from`, holding a valid user id; anything else (none,
 * two, an invalid id) is dropped with a log line, since nobody can be
 * answered or trusted.
 *
 * Strings: JSON may escape U+0000, and a C string stops there, so
 * "bob\u0000x" would be read as "bob". A string with a NUL is refused,
 * never shortened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mqtt_protocol.h>

#include "bridge.h"
#include "json.h"
#include "topic.h"

bool request_sender(const struct mosquitto_message *msg, const mosquitto_property *props, char *out,
		    size_t cap)
{
	int found = 0;
	bool skip = false;
	char *name = NULL, *value = NULL;
	const mosquitto_property *p = props;
	while ((p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, skip))) {
		if (strcmp(name, "from") == 0) {
			bool valid = topic_user_valid(value, strlen(value)) && strlen(value) < cap;
			if (valid) snprintf(out, cap, "%s", value);
			found += valid ? 1 : 2;
		}
		free(name);
		free(value);
		name = value = NULL;
		skip = true;
	}
	if (found == 1) return true;
	blog(BLOG_WARN, "request on %s without exactly one valid `from` user property: dropped", msg->topic);
	return false;
}

char *request_reply_topic(const char *user, const mosquitto_property *props)
{
	char *rt = NULL;
	if (mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rt, false) && rt) {
		struct topic_ref t;
		topic_parse(rt, &t);
		if (t.kind == TOPIC_USER_PRIVATE && !t.wildcard && t.id_len == strlen(user) &&
		    memcmp(t.id, user, t.id_len) == 0) {
			return rt;
		}
		blog(BLOG_INFO, "response topic %s is outside %s's tree; answering on the inbox", rt, user);
		free(rt);
	}
	size_t cap = sizeof("chat/users//inbox") + strlen(user);
	char *inbox = xmalloc(cap);
	snprintf(inbox, cap, "chat/users/%s/inbox", user);
	return inbox;
}

long request_string(const struct json_span *v, char *out, size_t cap)
{
	if (v->type != JSON_STRING) return -1;
	long n = json_string_decode(v, out, cap);
	if (n < 0 || memchr(out, '\0', (size_t)n)) {
		if (cap) out[0] = '\0';
		return -1;
	}
	return n;
}

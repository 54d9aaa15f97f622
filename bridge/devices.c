/* SPDX-License-Identifier: MIT */
/*
 * Device registration: a user publishes
 * {"op":"register"|"unregister","device","platform","token","endpoint"} to
 * chat/users/{user}/devices and the bridge keeps one document per
 * (user, device) in `devices`. What the bridge relies on: the plugin's ACL
 * lets only {user} publish there, and the v5 user property "from" that the
 * plugin adds names the authenticated publisher (request_sender: exactly
 * one, valid); a message whose "from" differs from the topic's user is
 * refused. A field that is not a string, is too long or holds U+0000 is
 * refused, never cut short. Unregistering also drops the notifications
 * still waiting for the device in push_outbox. The answer goes to
 * chat/users/{user}/inbox as {"type":"device","op","device","ok",
 * "error"}.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "json.h"
#include "push_int.h"

#define DEVICE_ID_MAX 128
#define TOKEN_MAX     4096
#define ENDPOINT_MAX  2048
#define CID_MAX       64
/* Devices per user: every message fans out to all of them, so a user must
 * not be able to turn one message into thousands of requests. */
#define DEVICES_MAX 20

/* A registration as sent; "" for a field that is absent. */
struct reg {
	char op[16], device[DEVICE_ID_MAX + 1], platform_name[16];
	char token[TOKEN_MAX + 1], endpoint[ENDPOINT_MAX + 1], cid[CID_MAX + 1];
	const char *bad; /* the first field that could not be read */
	enum push_platform platform;
};

static const struct reg_field {
	const char *name;
	size_t off, cap;
} reg_fields[] = {
#define REG_FIELD(f, name) {name, offsetof(struct reg, f), sizeof(((struct reg *)0)->f)}
    REG_FIELD(op, "op"),         REG_FIELD(device, "device"),     REG_FIELD(platform_name, "platform"),
    REG_FIELD(token, "token"),   REG_FIELD(endpoint, "endpoint"), REG_FIELD(cid, "cid"),
#undef REG_FIELD
};

static int on_field(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct reg *r = ud;
	for (size_t i = 0; i < sizeof(reg_fields) / sizeof(reg_fields[0]); i++) {
		const struct reg_field *f = &reg_fields[i];
		if (!json_key_is(key, f->name)) continue;
		if (request_string(v, (char *)r + f->off, f->cap) < 0 && !r->bad) r->bad = f->name;
		break;
	}
	return 0;
}

static bool chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          strchr(extra, c);
		if (!ok) return false;
	}
	return true;
}

static bool is_unregister(const struct reg *r)
{
	return strcmp(r->op, "unregister") == 0;
}

/* Checks a registration; NULL when good, else why not. */
static const char *check_reg(struct push *p, struct reg *r, char *why, size_t whylen)
{
	if (r->bad) {
		size_t cap = 0;
		for (size_t i = 0; i < sizeof(reg_fields) / sizeof(reg_fields[0]); i++)
			if (strcmp(reg_fields[i].name, r->bad) == 0) cap = reg_fields[i].cap;
		snprintf(why, whylen, "%s must be a string of at most %zu bytes, without U+0000", r->bad,
		         cap - 1);
		return why;
	}
	if (strcmp(r->op, "register") != 0 && !is_unregister(r))
		return "op must be \"register\" or \"unregister\"";
	if (!chars_ok(r->device, DEVICE_ID_MAX, "_.:-")) return "device must be 1-128 of [A-Za-z0-9_.:-]";
	if (is_unregister(r)) return NULL;
	if (push_platform_parse(r->platform_name, &r->platform) != 0)
		return "platform must be webhook, unifiedpush, fcm or apns";
	const struct push_provider *pv = push_provider_of(r->platform);
	if (r->token[0] && !chars_ok(r->token, TOKEN_MAX, "_.:-"))
		return "token must be up to 4096 of [A-Za-z0-9_.:-]";
	if (pv->needs_token && !r->token[0]) return "this platform needs a token";
	if (pv->needs_endpoint && !r->endpoint[0]) return "this platform needs an endpoint";
	if (r->platform == PUSH_WEBHOOK && !r->endpoint[0] && !p->cfg.webhook_url)
		return "no endpoint given and no webhook_url configured";
	if (pv->ready && !pv->ready(p)) return pv->not_ready;
	if (r->endpoint[0] && (!pv->needs_endpoint && !pv->endpoint_optional))
		return "this platform takes no endpoint";
	if (r->endpoint[0] && ssrf_check_url(p, r->endpoint, why, whylen) != 0) return why;
	return NULL;
}

/* True when user already has DEVICES_MAX devices and this one is new. */
static bool too_many(struct push *p, const char *user, const char *device)
{
	bson_t *q = BCON_NEW("user", BCON_UTF8(user));
	int64_t n = mongoc_collection_count_documents(p->devices, q, NULL, NULL, NULL, NULL);
	bson_destroy(q);
	if (n < DEVICES_MAX) return false;
	q = BCON_NEW("user", BCON_UTF8(user), "device", BCON_UTF8(device));
	int64_t same = mongoc_collection_count_documents(p->devices, q, NULL, NULL, NULL, NULL);
	bson_destroy(q);
	return same < 1;
}

static int store_reg(struct push *p, const char *user, const struct reg *r)
{
	bson_error_t err;
	bson_t *sel = BCON_NEW("user", BCON_UTF8(user), "device", BCON_UTF8(r->device));
	bool ok;
	if (is_unregister(r)) {
		ok = mongoc_collection_delete_one(p->devices, sel, NULL, NULL, &err);
		if (ok) push_outbox_forget_device(p, user, r->device);
	} else {
		bson_t *upd = BCON_NEW("$set", "{", "platform", BCON_UTF8(r->platform_name), "token",
		                       BCON_UTF8(r->token), "endpoint", BCON_UTF8(r->endpoint), "updated",
		                       BCON_DATE_TIME(bridge_wall_ms()), "}");
		bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
		ok = mongoc_collection_update_one(p->devices, sel, upd, opts, NULL, &err);
		bson_destroy(upd);
		bson_destroy(opts);
	}
	bson_destroy(sel);
	push_notify_forget_devices(p, user);
	if (!ok) blog(BLOG_ERR, "push: %s device %s of %s: %s", r->op, r->device, user, err.message);
	return ok ? 0 : -1;
}

static void reply(struct push *p, const char *user, const struct reg *r, const char *error)
{
	char topic[TOPIC_ID_MAX + 32];
	snprintf(topic, sizeof(topic), "chat/users/%s/inbox", user);
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_puts(&sb, "{\"type\":\"device\",\"op\":");
	strbuf_append_json_string(&sb, r->op, strlen(r->op));
	strbuf_puts(&sb, ",\"device\":");
	strbuf_append_json_string(&sb, r->device, strlen(r->device));
	if (r->cid[0]) {
		strbuf_puts(&sb, ",\"cid\":");
		strbuf_append_json_string(&sb, r->cid, strlen(r->cid));
	}
	strbuf_puts(&sb, error ? ",\"ok\":false,\"error\":" : ",\"ok\":true");
	if (error) strbuf_append_json_string(&sb, error, strlen(error));
	strbuf_putc(&sb, '}');
	if (strbuf_status(&sb) == 0) mqtt_reply(p->b, topic, sb.buf, sb.len, NULL);
	strbuf_free(&sb);
}

void devices_on_message(struct push *p, const char *topic, const char *from, const char *json, size_t len)
{
	struct topic_ref t;
	char user[TOPIC_ID_MAX + 1];
	topic_parse(topic, &t);
	if (t.kind != TOPIC_USER_DEVICES || t.id_len > TOPIC_ID_MAX) return;
	memcpy(user, t.id, t.id_len);
	user[t.id_len] = '\0';
	if (!from || strcmp(from, user) != 0) {
		blog(BLOG_WARN, "push: registration on %s published by %s: refused", topic,
		     from ? from : "nobody");
		return;
	}
	struct reg r = {0};
	bool is_object = json_object_parse(json, len, on_field, &r) == 0;
	if (!chars_ok(r.cid, CID_MAX, "_.:-")) r.cid[0] = '\0';
	char why[256];
	const char *error = is_object ? check_reg(p, &r, why, sizeof(why)) : "not a JSON object";
	if (!error && !is_unregister(&r) && too_many(p, user, r.device))
		error = "too many devices (at most 20): unregister one first";
	if (!error && store_reg(p, user, &r) != 0) error = "could not be stored; try again";
	if (!error) METRIC_ADD(p->b, push_registrations, 1);
	blog(error ? BLOG_WARN : BLOG_INFO, "push: %s %s device %s (%s)%s%s", user, r.op[0] ? r.op : "?",
	     r.device[0] ? r.device : "?", r.platform_name[0] ? r.platform_name : "-", error ? ": " : "",
	     error ? error : "");
	reply(p, user, &r, error);
}

void devices_remove(struct push *p, const char *user, const char *device)
{
	bson_error_t err;
	bson_t *sel = BCON_NEW("user", BCON_UTF8(user), "device", BCON_UTF8(device));
	push_notify_forget_devices(p, user);
	if (!mongoc_collection_delete_one(p->devices, sel, NULL, NULL, &err))
		blog(BLOG_WARN, "push: removing device %s of %s: %s", device, user, err.message);
	else
		blog(BLOG_INFO, "push: removed dead device %s of %s", device, user);
	bson_destroy(sel);
}

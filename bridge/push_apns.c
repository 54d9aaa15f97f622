/* SPDX-License-Identifier: MIT */
/*
 * Apple Push Notification service with token authentication: a provider
 * JWT (ES256, header kid = apns_key_id, claims iss = apns_team_id and iat)
 * signed with the .p8 key, reused for 50 minutes (APNs refuses one older
 * than an hour and throttles fresh ones), sent as "authorization: bearer"
 * with POST {apns_base_url}/3/device/{token} and the apns-topic header.
 * Over https libcurl speaks HTTP/2, as APNs requires, and multiplexes
 * requests on one connection; over a plain http:// test URL it speaks
 * HTTP/1.1. 410, or 400 BadDeviceToken, means the token is dead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "push_int.h"

#define JWT_REUSE_MS (50LL * 60 * 1000)
#define COLLAPSE_MAX 64

struct push_apns_state {
	EVP_PKEY *key;
	char *jwt; /* the provider token, reused for JWT_REUSE_MS */
	long long jwt_made_ms;
};

static int apns_load(struct push *p, char *why, size_t whylen)
{
	const char *path = p->cfg.apns_key_file;
	if (!path) return 0;
	p->apns = xcalloc(1, sizeof(*p->apns));
	p->apns->key = push_key_load_file(path, why, whylen);
	if (!p->apns->key) return -1;
	if (EVP_PKEY_base_id(p->apns->key) != EVP_PKEY_EC) {
		snprintf(why, whylen, "%s: APNs needs an EC (P-256) key", path);
		return -1;
	}
	return 0;
}

static bool apns_ready(const struct push *p)
{
	return p->apns && p->apns->key;
}

static void apns_free(struct push *p)
{
	if (!p->apns) return;
	EVP_PKEY_free(p->apns->key);
	free(p->apns->jwt);
	free(p->apns);
	p->apns = NULL;
}

static const char *provider_token(struct push *p)
{
	long long now = bridge_now_ms();
	if (p->apns->jwt && now - p->apns->jwt_made_ms < JWT_REUSE_MS) return p->apns->jwt;
	struct strbuf h, c, jwt;
	strbuf_init(&h);
	strbuf_init(&c);
	strbuf_init(&jwt);
	strbuf_puts(&h, "{\"alg\":\"ES256\",\"kid\":");
	strbuf_append_json_string(&h, p->cfg.apns_key_id, strlen(p->cfg.apns_key_id));
	strbuf_putc(&h, '}');
	strbuf_puts(&c, "{\"iss\":");
	strbuf_append_json_string(&c, p->cfg.apns_team_id, strlen(p->cfg.apns_team_id));
	strbuf_puts(&c, ",\"iat\":");
	strbuf_append_i64(&c, bridge_wall_ms() / 1000);
	strbuf_putc(&c, '}');
	bool ok = strbuf_status(&h) == 0 && strbuf_status(&c) == 0 &&
	          push_jwt_sign(p->apns->key, h.buf, c.buf, &jwt) == 0;
	strbuf_free(&h);
	strbuf_free(&c);
	if (!ok) {
		strbuf_free(&jwt);
		return NULL;
	}
	free(p->apns->jwt);
	p->apns->jwt = strbuf_detach(&jwt, NULL);
	p->apns->jwt_made_ms = now;
	return p->apns->jwt;
}

static bool hex_token(const char *t)
{
	size_t n = strlen(t);
	if (n < 16 || n > 200) return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static void apns_body(const struct push_note *n, struct strbuf *sb)
{
	strbuf_puts(sb, "{\"aps\":{\"alert\":{\"title\":");
	strbuf_append_json_string(sb, n->title, strlen(n->title));
	strbuf_puts(sb, ",\"body\":");
	strbuf_append_json_string(sb, n->text, strlen(n->text));
	strbuf_puts(sb, "},\"badge\":");
	strbuf_append_i64(sb, n->unread);
	strbuf_puts(sb, ",\"sound\":\"default\",\"thread-id\":");
	strbuf_append_json_string(sb, n->room, strlen(n->room));
	strbuf_puts(sb, "},\"room\":");
	strbuf_append_json_string(sb, n->room, strlen(n->room));
	strbuf_puts(sb, ",\"from\":");
	strbuf_append_json_string(sb, n->from, strlen(n->from));
	strbuf_puts(sb, ",\"id\":");
	strbuf_append_json_string(sb, n->msg_id, strlen(n->msg_id));
	strbuf_puts(sb, ",\"count\":");
	strbuf_append_i64(sb, n->count);
	strbuf_putc(sb, '}');
}

static int apns_prepare(struct push *p, struct push_job *j)
{
	if (!apns_ready(p) || !j->token || !hex_token(j->token)) {
		snprintf(j->error, sizeof(j->error), "APNs %s",
		         !apns_ready(p) ? "is not configured" : "token is not hex");
		return PREP_FAIL;
	}
	const char *jwt = provider_token(p);
	if (!jwt) {
		snprintf(j->error, sizeof(j->error), "could not sign the APNs provider token");
		return PREP_FAIL;
	}
	const char *base = p->cfg.apns_base_url;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	size_t cap = blen + strlen(j->token) + 16;
	j->url = xmalloc(cap);
	snprintf(j->url, cap, "%.*s/3/device/%s", (int)blen, base, j->token);
	size_t alen = strlen(jwt) + 8;
	char *auth = xmalloc(alen);
	snprintf(auth, alen, "bearer %s", jwt);
	push_header(j, "authorization", auth);
	free(auth);
	char collapse[COLLAPSE_MAX + 1];
	snprintf(collapse, sizeof(collapse), "%s", j->note.room);
	push_header(j, "apns-topic", p->cfg.apns_topic);
	push_header(j, "apns-push-type", "alert");
	push_header(j, "apns-priority", "10");
	push_header(j, "apns-collapse-id", collapse);
	push_header(j, "content-type", "application/json");
	apns_body(&j->note, &j->body);
	return PREP_READY;
}

static bool resp_has(const struct push_job *j, const char *needle)
{
	return j->resp.buf && strstr(j->resp.buf, needle);
}

static enum push_outcome apns_result(struct push *p, struct push_job *j, long status)
{
	if (status == 200) return PUSH_OK;
	if (status == 410 || resp_has(j, "\"Unregistered\"") || resp_has(j, "\"BadDeviceToken\""))
		return PUSH_DEAD;
	if (j->resp.len) snprintf(j->error, sizeof(j->error), "HTTP %ld: %.200s", status, j->resp.buf);
	if (status == 403 && (resp_has(j, "ExpiredProviderToken") || resp_has(j, "InvalidProviderToken"))) {
		free(p->apns->jwt);
		p->apns->jwt = NULL;
		return PUSH_RETRY;
	}
	enum push_outcome o = push_status_outcome(status);
	return o == PUSH_DEAD ? PUSH_FAILED : o;
}

const struct push_provider push_apns_provider = {
    .name = "apns",
    .needs_token = true,
    .prepare = apns_prepare,
    .result = apns_result,
    .setting = "apns_key_file",
    .load = apns_load,
    .ready = apns_ready,
    .not_ready = "APNs is not configured on this server",
    .free = apns_free,
};

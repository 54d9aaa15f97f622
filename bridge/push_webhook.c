/* SPDX-License-Identifier: MIT */
/*
 * The signed webhook: POST of the notification JSON to the device's
 * endpoint (a user-supplied URL, so behind the SSRF guard) or, without
 * one, to the operator's webhook_url. With webhook_secret set, the header
 * X-Chat-Signature: sha256=<hex HMAC-SHA256 of the exact body> lets the
 * receiver check that the bridge sent it. Also the helpers the other
 * providers share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "push_int.h"

static void put_str(struct strbuf *sb, const char *key, const char *v)
{
	strbuf_putc(sb, '"');
	strbuf_puts(sb, key);
	strbuf_puts(sb, "\":");
	strbuf_append_json_string(sb, v ? v : "", v ? strlen(v) : 0);
}

void push_note_json(const struct push_note *n, struct strbuf *sb)
{
	strbuf_puts(sb, "{\"type\":\"chat.message\",");
	put_str(sb, "user", n->user);
	strbuf_putc(sb, ',');
	put_str(sb, "room", n->room);
	strbuf_putc(sb, ',');
	put_str(sb, "from", n->from);
	strbuf_putc(sb, ',');
	put_str(sb, "title", n->title);
	strbuf_putc(sb, ',');
	put_str(sb, "body", n->text);
	strbuf_putc(sb, ',');
	put_str(sb, "id", n->msg_id);
	strbuf_puts(sb, ",\"count\":");
	strbuf_append_i64(sb, n->count);
	strbuf_puts(sb, ",\"unread\":");
	strbuf_append_i64(sb, n->unread);
	strbuf_puts(sb, ",\"ts\":");
	strbuf_append_i64(sb, n->ts);
	strbuf_putc(sb, '}');
}

enum push_outcome push_status_outcome(long status)
{
	if (status >= 200 && status < 300) return PUSH_OK;
	if (status == 404 || status == 410) return PUSH_DEAD;
	if (status == 408 || status == 425 || status == 429 || status >= 500 || status == 0)
		return PUSH_RETRY;
	return PUSH_FAILED;
}

void push_header(struct push_job *j, const char *name, const char *value)
{
	size_t cap = strlen(name) + strlen(value) + 3;
	char *line = xmalloc(cap);
	snprintf(line, cap, "%s: %s", name, value);
	struct curl_slist *l = curl_slist_append(j->headers, line);
	free(line);
	if (l) j->headers = l;
}

static int webhook_prepare(struct push *p, struct push_job *j)
{
	const char *url = j->endpoint ? j->endpoint : p->cfg.webhook_url;
	if (!url) {
		snprintf(j->error, sizeof(j->error), "no endpoint and no webhook_url");
		return PREP_FAIL;
	}
	j->url = xstrdup(url);
	j->guarded = j->endpoint != NULL;
	push_note_json(&j->note, &j->body);
	push_header(j, "Content-Type", "application/json");
	if (p->cfg.webhook_secret && strbuf_status(&j->body) == 0) {
		char sig[80];
		push_hmac_signature(p->cfg.webhook_secret, j->body.buf, j->body.len, sig, sizeof(sig));
		push_header(j, "X-Chat-Signature", sig);
	}
	return PREP_READY;
}

static enum push_outcome webhook_result(struct push *p, struct push_job *j, long status)
{
	(void)p;
	(void)j;
	return push_status_outcome(status);
}

const struct push_provider push_webhook_provider = {
    .name = "webhook",
    .endpoint_optional = true,
    .prepare = webhook_prepare,
    .result = webhook_result,
};

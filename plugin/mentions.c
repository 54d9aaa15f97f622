/* SPDX-License-Identifier: MIT */
/*
 * Mentions: "@user" in a new message's text, for a member of the room
 * other than the sender, puts the user in the envelope's "mentions" list,
 * which push honours even where that user muted the room. A mention is a
 * '@' that starts the text or follows a non-id character, then a user id
 * (a trailing '.', the end of a sentence, is not part of it). At most
 * MENTIONS_MAX users, each once; the scan costs one memchr when the text
 * has no '@'.
 */
#include <string.h>

#include "chat.h"

#define MENTIONS_MAX 16

static bool id_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
	       ch == '.' || ch == '-';
}

/* Appends "user" to the list in sb unless it is there; false when full. */
static bool add(struct strbuf *sb, const char *u, size_t n, int *count)
{
	char quoted[TOPIC_ID_MAX + 3];
	quoted[0] = '"';
	memcpy(quoted + 1, u, n);
	quoted[n + 1] = '"';
	quoted[n + 2] = '\0';
	if (sb->len && strstr(sb->buf, quoted)) return true;
	if (*count == MENTIONS_MAX) return false;
	strbuf_putc(sb, *count ? ',' : '[');
	strbuf_append(sb, quoted, n + 2);
	(*count)++;
	return true;
}

/* The scan from the first '@' on: out of line, most texts having none. */
CHAT_OUT_OF_LINE static void scan(struct chat *c, const char *sender, struct envelope *e, struct strbuf *sb,
				  const char *first)
{
	const char *t = e->text, *end = e->text + e->text_len;
	int count = 0;
	strbuf_reset(sb);
	const struct room *r = rooms_lookup(&c->rooms, e->room, strlen(e->room));
	if (!r) return;
	for (const char *at = first; at; at = memchr(at + 1, '@', (size_t)(end - at - 1))) {
		if (at > t && id_char(at[-1])) continue; /* an e-mail address, not a mention */
		const char *u = at + 1;
		size_t n = 0;
		while (u + n < end && id_char(u[n]) && n <= TOPIC_ID_MAX) n++;
		while (n > 0 && u[n - 1] == '.') n--;
		if (n == 0 || n > TOPIC_ID_MAX || (n == strlen(sender) && memcmp(u, sender, n) == 0)) continue;
		if (rooms_role(r, u, n) == ROLE_NONE) continue;
		if (!add(sb, u, n, &count)) break;
		if (at + 1 >= end) break;
	}
	if (count == 0) return;
	strbuf_putc(sb, ']');
	if (strbuf_status(sb) != 0) return;
	e->mentions = sb->buf;
	e->mentions_len = sb->len;
}

void chat_mentions(struct chat *c, const char *sender, struct envelope *e, struct strbuf *sb)
{
	const char *first = e->text ? memchr(e->text, '@', e->text_len) : NULL;
	if (first) scan(c, sender, e, sb, first);
}

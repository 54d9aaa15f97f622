/* SPDX-License-Identifier: MIT */
/*
 * The defaults of the messenger options (plugin_opt_edit_window,
 * edit_recent_max, typing_interval, read_receipts_max_members,
 * read_receipts_interval; options.c reads them) and the life of the
 * messenger state; the features are edit.c, typing.c,
 * mentions.c, receipts.c and chats.c.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "messenger_int.h"

int messenger_init(struct chat *c)
{
	c->messenger = mosquitto_calloc(1, sizeof(*c->messenger));
	if (!c->messenger) return MOSQ_ERR_NOMEM;
	c->messenger->horizon_ms = chat_now_ms();
	strbuf_init(&c->messenger->mentions);
	return MOSQ_ERR_SUCCESS;
}

struct strbuf *chat_mentions_buf(struct chat *c)
{
	return &c->messenger->mentions;
}

void messenger_free(struct chat *c)
{
	if (!c->messenger) return;
	chat_recent_free(c->messenger);
	chat_typing_free(c->messenger);
	chat_receipts_free(c->messenger);
	strbuf_free(&c->messenger->mentions);
	mosquitto_free(c->messenger);
	c->messenger = NULL;
}

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

#define DEFAULT_EDIT_WINDOW_S 900
#define DEFAULT_RECENT_MAX 65536
#define DEFAULT_TYPING_INTERVAL_MS 3000
#define DEFAULT_RECEIPTS_MAX_MEMBERS 100
#define DEFAULT_RECEIPTS_INTERVAL_MS 1000

void messenger_config_defaults(struct messenger_config *cfg)
{
	cfg->edit_window_ms = DEFAULT_EDIT_WINDOW_S * 1000u;
	cfg->recent_max = DEFAULT_RECENT_MAX;
	cfg->typing_interval_ms = DEFAULT_TYPING_INTERVAL_MS;
	cfg->receipts_max_members = DEFAULT_RECEIPTS_MAX_MEMBERS;
	cfg->receipts_interval_ms = DEFAULT_RECEIPTS_INTERVAL_MS;
}

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

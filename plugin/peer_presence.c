/* SPDX-License-Identifier: MIT */
/* Presence across brokers: placeholder until the counts are exchanged. */
#include "peer_int.h"

void peer_presence_on_record(struct chat *c, const char *payload, size_t len, uint64_t now)
{
	(void)c;
	(void)payload;
	(void)len;
	(void)now;
}

void peer_presence_tick(struct chat *c, uint64_t now)
{
	(void)c;
	(void)now;
}

void peer_presence_free(struct chat_peer *p)
{
	(void)p;
}

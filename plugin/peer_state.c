/* SPDX-License-Identifier: MIT */
/* Room state across brokers: placeholder until records are exchanged. */
#include "peer_int.h"

void peer_state_on_record(struct chat *c, const char *payload, size_t len)
{
	(void)c;
	(void)payload;
	(void)len;
}

void peer_state_tick(struct chat *c, uint64_t now)
{
	(void)c;
	(void)now;
}

void peer_state_free(struct chat_peer *p)
{
	(void)p;
}

/* SPDX-License-Identifier: MIT */
/*
 * UnifiedPush: the device's distributor gave the app an endpoint URL on a
 * push server; a POST of the message there wakes the app. The endpoint is
 * user-supplied, so it is behind the SSRF guard. The TTL header tells the
 * server how long to keep the message for an unreachable device; 404 or
 * 410 means the endpoint is gone and the device is removed.
 */
#include <stdio.h>

#include "bridge.h"
#include "push_int.h"

static int up_prepare(struct push *p, struct push_job *j)
{
	if (!j->endpoint) {
		snprintf(j->error, sizeof(j->error), "UnifiedPush device without endpoint");
		return PREP_FAIL;
	}
	j->url = xstrdup(j->endpoint);
	j->guarded = true;
	push_note_json(&j->note, &j->body);
	char ttl[32];
	snprintf(ttl, sizeof(ttl), "%ld", p->cfg.up_ttl);
	push_header(j, "Content-Type", "application/json");
	push_header(j, "TTL", ttl);
	push_header(j, "Urgency", "normal");
	return PREP_READY;
}

static enum push_outcome up_result(struct push *p, struct push_job *j, long status)
{
	(void)p;
	(void)j;
	return push_status_outcome(status);
}

const struct push_provider push_unifiedpush_provider = {
    .name = "unifiedpush",
    .needs_endpoint = true,
    .prepare = up_prepare,
    .result = up_result,
};

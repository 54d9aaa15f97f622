/* SPDX-License-Identifier: MIT */
/*
 * Entry points of mosquitto_chat.so: version negotiation, init (options,
 * state, callback registration) and cleanup. Everything else happens in the
 * callbacks registered here.
 */
#include <stdlib.h>
#ifdef __GLIBC__ /* malloc_trim */
#include <malloc.h>
#endif
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "chat.h"
#include "live.h"

uint64_t chat_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t boot_salt(void)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
	}
	return v;
}

static void chat_free(struct chat *c)
{
	if (!c) return;
	chat_auth_unregister(c);
	moderation_unregister(c);
	rooms_clear(&c->rooms);
	moderation_free(c);
	sanctions_clear(&c->sanctions);
	slowmode_clear(&c->slow);
	chat_storers_free(c);
	chat_spool_close(c);
	chat_peer_free(c);
	messenger_free(c);
	chat_live_free(c);
	strbuf_free(&c->out);
	mosquitto_free(c->scratch);
	chat_config_free(&c->cfg);
	mosquitto_free(c);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data, struct mosquitto_opt *opts,
			  int opt_count)
{
	struct chat *c = mosquitto_calloc(1, sizeof(*c));
	if (!c) return MOSQ_ERR_NOMEM;
	c->pid = identifier;
	chat_props_init(c);
	strbuf_init(&c->out);
	c->spool.fd = -1;
	rooms_init(&c->rooms);
	int rc = chat_config_load(&c->cfg, opts, opt_count);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_live_init(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	c->scratch = mosquitto_malloc(c->cfg.limits.max_payload + 1);
	if (!c->scratch) {
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	id_gen_init(&c->ids, c->cfg.node_id, boot_salt());
	rc = chat_peer_init(c, opts, opt_count);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	/* Before the state: it sets rooms.ext_free and takes the word lists. */
	rc = moderation_init(c);
	if (rc == MOSQ_ERR_SUCCESS) rc = messenger_init(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_state_load(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_spool_open(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	/* Before control: its RELOAD callback must not be the first (auth.c). */
	rc = chat_auth_register(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = moderation_register(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_control_register(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, chat_on_message, NULL, c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, chat_on_acl_check, NULL, c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_TICK, chat_metrics_on_tick, NULL, c);
	if (rc == MOSQ_ERR_SUCCESS) rc = chat_receipts_register(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = chat_peer_register(c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_TICK, chat_live_on_tick, NULL, c);
	if (rc != MOSQ_ERR_SUCCESS) goto fail;
	*user_data = c;
	/* Building the word filter and the password table freed much more than
	 * they keep: hand the free pages back before the clients come. */
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "plugin loaded (max_payload %zu)",
			     c->cfg.limits.max_payload);
	return MOSQ_ERR_SUCCESS;
fail:
	chat_free(c);
	return rc;
}

int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
	struct chat *c = user_data;
	(void)opts;
	(void)opt_count;
	if (c) mosquitto_callback_unregister(c->pid, MOSQ_EVT_MESSAGE, chat_on_message, NULL);
	if (c) chat_control_unregister(c);
	if (c) chat_state_flush(c);
	if (c) mosquitto_callback_unregister(c->pid, MOSQ_EVT_ACL_CHECK, chat_on_acl_check, NULL);
	if (c) mosquitto_callback_unregister(c->pid, MOSQ_EVT_TICK, chat_metrics_on_tick, NULL);
	if (c) chat_peer_unregister(c);
	if (c) chat_receipts_unregister(c);
	if (c) mosquitto_callback_unregister(c->pid, MOSQ_EVT_TICK, chat_live_on_tick, NULL);
	chat_free(c);
	return MOSQ_ERR_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the scale-out tests (90-99): a mesh of n brokers on
 * free loopback ports, each with the plugin and one Mosquitto bridge to
 * every other (the topology of docs/scale-out.md, the same lines docker/
 * writes), clients on a chosen broker, the admin API, and log counting.
 * Every wait has a deadline.
 */
#ifndef CHAT_TEST_9X_UTIL_H
#define CHAT_TEST_9X_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "5x-util.h"
#include "client.h"
#include "harness.h"

#define M_MAX 3

struct mesh {
	struct harness h;
	int n;
	struct h_proc b[M_MAX];
	int port[M_MAX];
	char conf[M_MAX][600];
};

/* The user the brokers' bridges log in as (password "peer-pw"). */
static inline void m_add_peer_user(struct harness *h)
{
	char *argv[] = {(char *)MOSQUITTO_PASSWD_BIN, "-b", h->passwd_file, "peer", "peer-pw", NULL};
	if (h_run(argv, NULL, 10000) != 0) fail_msg("mosquitto_passwd failed for peer");
}

/* One bridge from broker i to broker j, as docs/scale-out.md shows it. */
static inline int m_bridge_conf(const struct mesh *m, int i, int j, char *out, size_t cap)
{
	return snprintf(out, cap,
			"connection peer-%d-%d\n"
			"address 127.0.0.1:%d\n"
			"remote_username peer\n"
			"remote_password peer-pw\n"
			"local_clientid link.%d.%d\n"
			"remote_clientid link.%d.%d\n"
			"cleansession false\n"
			"bridge_protocol_version mqttv311\n"
			"try_private false\n"
			"notifications false\n"
			"restart_timeout 1\n"
			"topic chat/rooms/+/messages in 1\n"
			"topic chat/# in 1 \"\" chatpeer/out/fwd/\n"
			"topic state in 1 chatpeer/in/ chatpeer/out/\n"
			"topic presence in 1 chatpeer/in/ chatpeer/out/\n",
			i, j, m->port[j], i, j, i, j);
}

/* Broker i's whole config: the harness's base, the scale-out options,
 * extra, then its bridges (they must come last). */
static inline void m_write_conf(struct mesh *m, int i, const char *extra)
{
	char conf[8192], links[256] = "", peers[256] = "";
	for (int j = 0; j < m->n; j++) {
		if (j == i) continue;
		size_t l = strlen(links), p = strlen(peers);
		snprintf(links + l, sizeof(links) - l, "%slink.%d.%d", l ? "," : "", i, j);
		snprintf(peers + p, sizeof(peers) - p, "%sn%d", p ? "," : "", j);
	}
	int len = snprintf(conf, sizeof(conf),
			   "per_listener_settings false\n"
			   "user root\n"
			   "listener %d 127.0.0.1\n"
			   "allow_anonymous false\n"
			   "persistence false\n"
			   "log_dest file %s\n"
			   "log_type all\n"
			   "log_timestamp_format %%H:%%M:%%S\n"
			   "max_queued_messages 100000\n"
			   "plugin %s\n"
			   "plugin_opt_auth password_file\n"
			   "plugin_opt_password_file %s\n"
			   "plugin_opt_admins admin\n"
			   "plugin_opt_service_users bridge\n"
			   "plugin_opt_require_store %s\n"
			   "plugin_opt_dm_policy anyone\n"
			   "plugin_opt_node_id n%d\n"
			   "plugin_opt_state_file %s/state-n%d.json\n"
			   "plugin_opt_peer_users peer\n"
			   "plugin_opt_peer_links %s\n"
			   "plugin_opt_peers %s\n"
			   "plugin_opt_peer_sync_timeout 20000\n"
			   "%s",
			   m->port[i], m->b[i].log, CHAT_PLUGIN_PATH, m->h.passwd_file,
			   m->h.mongo_uri[0] ? "true" : "false", i, m->h.dir, i, links, peers, extra ? extra : "");
	for (int j = 0; j < m->n; j++) {
		if (j != i) len += m_bridge_conf(m, i, j, conf + len, sizeof(conf) - (size_t)len);
	}
	if ((size_t)len >= sizeof(conf)) fail_msg("broker config too long");
	snprintf(m->conf[i], sizeof(m->conf[i]), "%s/broker-n%d.conf", m->h.dir, i);
	h_write_file(m->conf[i], conf);
}

static inline void m_spawn(struct mesh *m, int i)
{
	h_spawn_broker(&m->b[i], m->conf[i], m->port[i]);
}

/* Starts broker i and waits until it has caught up with its peers (their
 * snapshots in, their links subscribed): it accepts chat logins then. The
 * log is appended to across restarts, so the lines of this start count. */
static inline const char *m_caught_up(const struct mesh *m)
{
	static char line[64];
	snprintf(line, sizeof(line), "scale-out: caught up with %d peer(s)", m->n - 1);
	return line;
}

static inline void m_spawn_synced(struct mesh *m, int i, int timeout_ms)
{
	int before = h_log_count(m->b[i].log, m_caught_up(m));
	m_spawn(m, i);
	if (!h_wait_log_count(m->b[i].log, m_caught_up(m), before + 1, timeout_ms))
		fail_msg("broker n%d never caught up (log %s)", i, m->b[i].log);
}

/* Prepares the run (h_init, ports, configs) of n brokers; the MongoDB
 * stand-in too when mongo. Starts none. */
static inline void m_prepare(struct mesh *m, const char *name, int n, bool mongo, const char *extra)
{
	memset(m, 0, sizeof(*m));
	h_init(&m->h, name);
	m_add_peer_user(&m->h);
	if (mongo) h_start_mongo(&m->h);
	m->n = n;
	for (int i = 0; i < n; i++) {
		char pname[24];
		snprintf(pname, sizeof(pname), "broker-n%d", i);
		h_proc_init(&m->b[i], &m->h, pname);
		m->port[i] = h_free_port();
	}
	for (int i = 0; i < n; i++) m_write_conf(m, i, extra);
}

/* m_prepare, then starts every broker and waits until all links are up. */
static inline void m_start(struct mesh *m, const char *name, int n, bool mongo, const char *extra)
{
	m_prepare(m, name, n, mongo, extra);
	for (int i = 0; i < n; i++) m_spawn(m, i);
	for (int i = 0; i < n; i++) {
		if (!h_wait_log(m->b[i].log, m_caught_up(m), 20000))
			fail_msg("broker n%d never caught up (log %s)", i, m->b[i].log);
	}
}

/* Points the harness's clients at broker i. */
static inline struct harness *m_at(struct mesh *m, int i)
{
	m->h.broker_port = m->port[i];
	return &m->h;
}

static inline struct tc *m_open(struct mesh *m, int i, const char *cid, const char *user, int protocol)
{
	return tc_open(m_at(m, i), cid, user, protocol);
}

/* Stops every broker; false when a log holds a sanitizer report. */
static inline bool m_finish(struct mesh *m, bool keep)
{
	bool clean = true;
	for (int i = 0; i < m->n; i++) h_stop(&m->b[i], SIGTERM, 10000);
	for (int i = 0; i < m->n; i++) clean = h_proc_clean(&m->b[i]) && clean;
	return h_finish(&m->h, keep || !clean) && clean;
}

/* Lines of the file at path holding both a and b. */
static inline int m_count_lines(const char *path, const char *a, const char *b)
{
	char *text = h_read_file(path, NULL);
	int n = 0;
	for (char *line = text; line && *line;) {
		char *end = strchr(line, '\n');
		if (end) *end = '\0';
		if (strstr(line, a) && strstr(line, b)) n++;
		line = end ? end + 1 : line + strlen(line);
	}
	free(text);
	return n;
}

/* Waits for one message on topic whose payload holds want; fails else. */
static inline char *m_expect(struct tc *c, const char *topic, const char *want)
{
	for (;;) {
		struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
		if (!m) fail_msg("nothing with %s on %s", want, topic);
		if (strstr(m->payload, want)) {
			char *p = strdup(m->payload);
			tc_msg_free(m);
			return p;
		}
		tc_msg_free(m);
	}
}

/* The "id" of an envelope (static buffer). */
static inline const char *m_env_id(const char *env)
{
	static char id[27];
	const char *p = strstr(env, "\"id\":\"");
	if (!p) fail_msg("no id in %s", env);
	memcpy(id, p + 6, 26);
	id[26] = '\0';
	return id;
}

#endif

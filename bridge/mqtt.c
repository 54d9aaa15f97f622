/* SPDX-License-Identifier: MIT */
/*
 * The bridge's MQTT side: one MQTT v5 client with a persistent session
 * (clean start off, a session expiry interval) in shared subscriptions, so
 * several bridges split the stream and a restarted bridge gets what the
 * broker queued for it meanwhile.
 *
 * The main thread runs the loop itself (loop_once). Per iteration it reads every packet
 * the socket holds (each message appended to the journal in on_message),
 * makes the iteration's appends durable with one fdatasync (group commit),
 * then writes out what libmosquitto queued meanwhile, PUBACKs included, and
 * checks the journal bound. libmosquitto builds the PUBACK before
 * on_message runs, but in threaded mode (mosquitto_threaded_set) it only
 * queues it; it goes out in the write step after the sync, so the broker
 * learns that a message arrived only once it is on disk. Replies that the
 * store thread publishes wake the loop through an eventfd.
 *
 * At journal_max_bytes the bridge stops consuming: it disconnects (its
 * session stays; the broker queues for it, within the broker's own
 * max_queued_messages / max_queued_bytes, and other bridges of the share
 * group keep taking messages) and reconnects when the journal is back under
 * three quarters of the bound. A warning is logged from 80% on. The bound
 * is checked before every packet read, not once per burst, because the
 * socket can hold far more than mqtt_receive_maximum messages: once the
 * broker (mosquitto 2.0.11) has had to queue for us, each PUBACK it gets
 * releases up to Receive Maximum queued messages rather than one (seen:
 * 1013 unacknowledged with a maximum of 100). What stays unread is not
 * acknowledged, so the session redelivers it. The journal thus passes the
 * bound by what one mosquitto_loop_read() call takes: one message, or one
 * more per reply of ours still awaiting its PUBACK.
 *
 * Routing: topics are classified with common/topic and dispatched through
 * the routes table below; a new kind of topic is one row and one handler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mqtt_protocol.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge.h"
#include "chat_err.h"
#include "id.h"
#include "json.h"
#include "topic.h"

/* Packets read per loop iteration before the group commit (fewer once the
 * journal reaches its bound). */
#define READ_BURST_MAX 1000
/* Messages in a burst above which its PUBACKs are corked (set_cork). */
#define CORK_MIN 8

typedef void (*route_handler)(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
			      const mosquitto_property *props);

struct route {
	const char *filter;   /* subscription filter */
	bool shared;          /* subscribe as $share/<mqtt_share_group>/filter */
	enum topic_kind kind; /* what topic_parse() says about a matching topic */
	route_handler handler;
};

static void on_room_message(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
			    const mosquitto_property *props)
{
	(void)t, (void)props;
	if (msg->payloadlen <= 0) return;
	if (journal_append(&b->journal, JOURNAL_MESSAGE, msg->payload, (size_t)msg->payloadlen) != 0) {
		METRIC_ADD(b, journal_errors, 1);
		return;
	}
	METRIC_ADD(b, received, 1);
}

static void on_history(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	history_on_request(b, t->id, t->id_len, msg, props);
}

static int read_upto(const struct json_span *key, const struct json_span *v, void *ud)
{
	char *upto = ud;
	if (json_key_is(key, "upto")) request_string(v, upto, ID_LEN + 1);
	return 0;
}

/* {"upto":"<id>"} from the user in the `from` property: journaled. */
static void on_read(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
		    const mosquitto_property *props)
{
	char user[TOPIC_ID_MAX + 1], upto[ID_LEN + 1] = "", rec[TOPIC_ID_MAX + TOPIC_ROOM_MAX + ID_LEN + 4];
	struct json_span obj;
	if (!request_sender(msg, props, user, sizeof(user))) return;
	if (msg->payloadlen > 0 && json_check(msg->payload, (size_t)msg->payloadlen, &obj) == CHAT_OK &&
	    obj.type == JSON_OBJECT) {
		json_object_foreach(&obj, read_upto, upto);
	}
	if (!id_valid(upto, strlen(upto))) {
		blog(BLOG_INFO, "read marker from %s on %s: no valid upto id: dropped", user, msg->topic);
		return;
	}
	int n = snprintf(rec, sizeof(rec), "%s\n%.*s\n%s", user, (int)t->id_len, t->id, upto);
	if (journal_append(&b->journal, JOURNAL_READ, rec, (size_t)n) != 0) METRIC_ADD(b, journal_errors, 1);
}

static void on_chats(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
		     const mosquitto_property *props)
{
	chats_on_request(b, t->id, t->id_len, msg, props);
}

/* Presence, rooms lists and device registrations: the push thread's. */
static void on_push_topic(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
			  const mosquitto_property *props)
{
	(void)t;
	push_on_mqtt(b, msg, props);
}

static const struct route routes[] = {
	{"chat/rooms/+/messages", true, TOPIC_ROOM_MESSAGES, on_room_message},
	{"chat/rooms/+/history", true, TOPIC_ROOM_HISTORY, on_history},
	{"chat/rooms/+/read", true, TOPIC_ROOM_READ, on_read},
	{"chat/users/+/devices", true, TOPIC_USER_DEVICES, on_push_topic},
	{"chat/users/+/chats", true, TOPIC_USER_CHATS, on_chats},
	/* Retained state every bridge needs whole: not shared. These come last
	 * (on_connect subscribes a prefix of this table). */
	{"chat/presence/+", false, TOPIC_PRESENCE, on_push_topic},
	{"chat/users/+/rooms", false, TOPIC_USER_ROOMS, on_push_topic},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Writes the subscription filters, one per line, into buf. */
static void route_filters(struct bridge *b, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NROUTES && n < cap; i++) {
		int w = snprintf(buf + n, cap - n, "%s%s%s%s\n", routes[i].shared ? "$share/" : "",
				 routes[i].shared ? b->cfg.mqtt_share_group : "", routes[i].shared ? "/" : "",
				 routes[i].filter);
		if (w < 0) break;
		n += (size_t)w;
	}
}

/* The number of shared routes, which lead the table. */
static size_t shared_routes(void)
{
	size_t n = 0;
	while (n < NROUTES && routes[n].shared) n++;
	return n;
}

/* The number of connections up, for the gauge. */
static void count_up(struct bridge *b)
{
	long long up = 0;
	for (size_t i = 0; i < b->nconns; i++) up += b->conns[i].up ? 1 : 0;
	METRIC_SET(b, mqtt_connected, up);
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct mqtt_conn *c = ud;
	struct bridge *b = c->b;
	char filters[4096], *list[NROUTES];
	(void)props;
	if (rc != 0) {
		blog(BLOG_ERR, "MQTT connection to %s:%d refused: %s", c->host, c->port, mosquitto_reason_string(rc));
		return;
	}
	c->up = true;
	c->retry_ms = 500;
	count_up(b);
	blog(BLOG_INFO, "connected to the broker %s:%d (%s session)", c->host, c->port, flags & 1 ? "resumed" : "new");
	/* The shared filters are subscribed on every connect, resumed session
	 * or not: mosquitto 2.0.11 resumes a session after a restart without
	 * its $share filters, and says nothing; until the bridge subscribes
	 * again, the plugin refuses chat messages. The others only on a new
	 * session: a resumed one holds them (every 2.0.x restores them), and
	 * 2.0.11 leaks the old entry of a plain filter subscribed again. */
	int want = (flags & 1) ? (int)shared_routes() : (int)NROUTES;
	route_filters(b, filters, sizeof(filters));
	int n = 0;
	for (char *f = filters, *nl; n < want && (nl = strchr(f, '\n')) != NULL; f = nl + 1) {
		*nl = '\0';
		list[n++] = f;
	}
	/* One SUBSCRIBE for all: one SUBACK says whether we have everything. */
	rc = mosquitto_subscribe_multiple(mosq, NULL, n, list, 1, 0, NULL);
	if (rc != MOSQ_ERR_SUCCESS) blog(BLOG_ERR, "subscribe: %s", mosquitto_strerror(rc));
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct mqtt_conn *c = ud;
	(void)mosq, (void)props;
	c->up = false;
	count_up(c->b);
	if (!c->b->stop)
		blog(rc == 0 ? BLOG_INFO : BLOG_WARN, "disconnected from the broker %s:%d (%d)", c->host, c->port, rc);
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int count, const int *granted,
			 const mosquitto_property *props)
{
	struct mqtt_conn *c = ud;
	(void)mosq, (void)mid, (void)props;
	for (int i = 0; i < count; i++) {
		if (granted[i] > 2) {
			blog(BLOG_ERR, "the broker refused the subscription to %s: %s", routes[i].filter,
			     mosquitto_reason_string(granted[i]));
			return;
		}
	}
	blog(BLOG_INFO, "subscribed to %d filters on %s:%d (shared group %s)", count, c->host, c->port,
	     c->b->cfg.mqtt_share_group);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct bridge *b = ((struct mqtt_conn *)ud)->b;
	struct topic_ref t;
	(void)mosq;
	b->mqtt_arrivals++;
	topic_parse(msg->topic, &t);
	for (size_t i = 0; i < NROUTES; i++) {
		if (routes[i].kind == t.kind) {
			routes[i].handler(b, &t, msg, props);
			return;
		}
	}
	blog(BLOG_DEBUG, "ignoring a message on %s", msg->topic);
}

/* "host:port,host:port" (mqtt_brokers) into conns; else the one broker of
 * mqtt_host and mqtt_port. 0, or -1 after a log line. */
static int parse_brokers(struct bridge *b)
{
	const char *list = b->cfg.mqtt_brokers;
	b->nconns = 0;
	if (!list || !*list) {
		snprintf(b->conns[0].host, sizeof(b->conns[0].host), "%s", b->cfg.mqtt_host);
		b->conns[0].port = b->cfg.mqtt_port;
		b->nconns = 1;
		return 0;
	}
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n == 0) break;
		const char *colon = memchr(p, ':', n);
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		size_t hl = colon ? (size_t)(colon - p) : 0;
		if (!colon || hl == 0 || hl >= sizeof(b->conns[0].host) || end != p + n || port < 1 || port > 65535 ||
		    b->nconns == BRIDGE_MAX_BROKERS) {
			blog(BLOG_ERR, "mqtt_brokers: '%.*s' is not host:port (at most %d brokers)", (int)n, p,
			     BRIDGE_MAX_BROKERS);
			return -1;
		}
		struct mqtt_conn *c = &b->conns[b->nconns++];
		memcpy(c->host, p, hl);
		c->host[hl] = '\0';
		c->port = (int)port;
		p += n;
	}
	return b->nconns ? 0 : -1;
}

static int conn_init(struct bridge *b, struct mqtt_conn *c)
{
	c->b = b;
	c->retry_ms = 500;
	c->mosq = mosquitto_new(b->cfg.mqtt_client_id, false, c);
	if (!c->mosq) {
		blog(BLOG_ERR, "mosquitto_new failed");
		return -1;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	/* PUBACKs leave only after the group commit, so the broker must be
	 * allowed many messages in flight to keep a stream flowing. */
	mosquitto_int_option(c->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, b->cfg.mqtt_receive_maximum);
	/* Other threads publish (history replies): let the loop do the writes. */
	mosquitto_threaded_set(c->mosq, true);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
	mosquitto_message_v5_callback_set(c->mosq, on_message);
	mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
	if (b->cfg.mqtt_username) mosquitto_username_pw_set(c->mosq, b->cfg.mqtt_username, b->cfg.mqtt_password);
	return 0;
}

int mqtt_init(struct bridge *b)
{
	b->mqtt_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->mqtt_wake_fd < 0) {
		blog(BLOG_ERR, "eventfd: %s", strerror(errno));
		return -1;
	}
	if (parse_brokers(b) != 0) return -1;
	for (size_t i = 0; i < b->nconns; i++) {
		if (conn_init(b, &b->conns[i]) != 0) return -1;
	}
	return 0;
}

void mqtt_close(struct bridge *b)
{
	for (size_t i = 0; i < b->nconns; i++) {
		if (b->conns[i].mosq) mosquitto_destroy(b->conns[i].mosq);
		b->conns[i].mosq = NULL;
	}
	if (b->mqtt_wake_fd >= 0) close(b->mqtt_wake_fd);
	b->mqtt_wake_fd = -1;
}

/* A reply goes out on every broker: the requester's broker and the
 * brokers of the user's other sessions deliver it, as one broker would to
 * all of a user's sessions. */
int mqtt_reply(struct bridge *b, const char *topic, const char *payload, size_t len, const mosquitto_property *props)
{
	int rc = MOSQ_ERR_NO_CONN;
	for (size_t i = 0; i < b->nconns; i++) {
		if (!b->conns[i].mosq) continue;
		int r = mosquitto_publish_v5(b->conns[i].mosq, NULL, topic, (int)len, payload, 1, false, props);
		if (r == MOSQ_ERR_SUCCESS || rc != MOSQ_ERR_SUCCESS) rc = r;
	}
	if (rc == MOSQ_ERR_SUCCESS) METRIC_ADD(b, replies, 1);
	uint64_t one = 1;
	if (rc == MOSQ_ERR_SUCCESS && b->mqtt_wake_fd >= 0 && write(b->mqtt_wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd counter cannot overflow here; the loop wakes anyway */
	}
	return rc;
}

/* Pauses consumption at the journal bound and resumes under 75%; true
 * when it has just reconnected. */
static bool check_bound(struct bridge *b, bool *paused, int *warned)
{
	size_t disk;
	journal_depth(&b->journal, NULL, NULL, &disk);
	double fill = (double)disk / (double)b->cfg.journal_max_bytes;
	int level = fill >= 1.0 ? 2 : fill >= 0.8 ? 1 : 0;
	if (level > *warned) {
		blog(level == 2 ? BLOG_ERR : BLOG_WARN, "journal at %.0f%% of journal_max_bytes (%zu of %lld bytes)%s",
		     fill * 100, disk, b->cfg.journal_max_bytes,
		     level == 2 ? ": pausing consumption until MongoDB catches up" : ": is MongoDB down?");
	}
	if (fill < 0.75) *warned = 0;
	else if (level > *warned) *warned = level;
	if (!*paused && level == 2) {
		*paused = true;
		METRIC_SET(b, consuming_paused, 1);
		for (size_t i = 0; i < b->nconns; i++)
			mosquitto_disconnect_v5(b->conns[i].mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	} else if (*paused && fill < 0.75) {
		*paused = false;
		METRIC_SET(b, consuming_paused, 0);
		blog(BLOG_INFO, "journal back under 75%%: consuming again");
		for (size_t i = 0; i < b->nconns; i++) {
			mosquitto_reconnect(b->conns[i].mosq);
			b->conns[i].rc = MOSQ_ERR_SUCCESS;
			b->conns[i].retry_at_ms = 0;
		}
		return true;
	}
	return false;
}

static int connect_first(struct mqtt_conn *c)
{
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
				     (uint32_t)c->b->cfg.mqtt_session_expiry);
	int rc = mosquitto_connect_bind_v5(c->mosq, c->host, c->port, c->b->cfg.mqtt_keepalive, NULL, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		blog(BLOG_WARN, "connect to %s:%d: %s (retrying)", c->host, c->port, mosquitto_strerror(rc));
	}
	return rc;
}

/* Sends DISCONNECT on every connection and lets the loop write it, briefly. */
static void disconnect_now(struct bridge *b)
{
	for (size_t i = 0; i < b->nconns; i++) {
		struct mosquitto *m = b->conns[i].mosq;
		mosquitto_disconnect_v5(m, MQTT_RC_NORMAL_DISCONNECTION, NULL);
		long long until = bridge_now_ms() + 1000;
		while (bridge_now_ms() < until && mosquitto_loop(m, 50, 1) == MOSQ_ERR_SUCCESS) {
		}
		b->conns[i].up = false;
	}
	METRIC_SET(b, mqtt_connected, 0);
}

static bool journal_full(struct bridge *b)
{
	size_t disk;
	journal_depth(&b->journal, NULL, NULL, &disk);
	return (double)disk >= (double)b->cfg.journal_max_bytes;
}

/*
 * Reads every packet the socket already holds (up to a bound): libmosquitto
 * 2.0 reads one QoS 1 packet per call (more only while replies of ours await
 * their PUBACK), and one fdatasync should cover the whole burst. Nothing is
 * read while the journal is at its bound: an unread message is not
 * acknowledged, so the broker keeps it in the session (check_bound then
 * disconnects).
 *
 * The burst ends at the first call that delivers no message: the socket is
 * empty (that read returned EAGAIN), a packet is incomplete, or it was not a
 * PUBLISH. Asking poll() before every read would cost a system call per
 * message; stopping early costs at most one more loop iteration.
 */
static int read_burst(struct bridge *b, struct mosquitto *mosq)
{
	int rc = MOSQ_ERR_SUCCESS;
	for (int i = 0; i < READ_BURST_MAX && rc == MOSQ_ERR_SUCCESS && !journal_full(b); i++) {
		unsigned long before = b->mqtt_arrivals;
		rc = mosquitto_loop_read(mosq, 1);
		if (b->mqtt_arrivals == before) break;
	}
	return rc;
}

/* TCP_CORK on (1) or off (0): while on, the kernel holds back partial
 * segments, so a burst's PUBACKs (4 bytes each, one write per packet in
 * libmosquitto) leave as a few full segments instead of one each. */
static void set_cork(int fd, int on)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) != 0) {
		/* not TCP (no cork): the packets simply go out one by one */
	}
}

/*
 * One loop iteration over every connection, in this order: wait for the
 * sockets (or a reply queued by another thread), read each one's burst,
 * sync the journal once for all of them, write what libmosquitto queued
 * (the PUBACKs of the bursts among it), keepalive. The bridge runs this
 * instead of mosquitto_loop(), whose write step can run in the same call
 * as its read and so send a PUBACK before the sync. Each connection's
 * result lands in its rc.
 */
static void loop_once(struct bridge *b, int timeout_ms)
{
	struct pollfd p[BRIDGE_MAX_BROKERS + 1];
	struct mqtt_conn *who[BRIDGE_MAX_BROKERS];
	unsigned long arrived[BRIDGE_MAX_BROKERS];
	nfds_t n = 0;
	for (size_t i = 0; i < b->nconns; i++) {
		struct mqtt_conn *c = &b->conns[i];
		int fd = c->rc == MOSQ_ERR_SUCCESS ? mosquitto_socket(c->mosq) : -1;
		if (fd < 0) {
			if (c->rc == MOSQ_ERR_SUCCESS) c->rc = MOSQ_ERR_NO_CONN;
			continue;
		}
		p[n] = (struct pollfd){.fd = fd, .events = (short)(POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0))};
		who[n++] = c;
	}
	p[n] = (struct pollfd){.fd = b->mqtt_wake_fd, .events = POLLIN};
	if (poll(p, n + 1, timeout_ms) < 0 && errno != EINTR) return;
	uint64_t wakes;
	if ((p[n].revents & POLLIN) && read(b->mqtt_wake_fd, &wakes, sizeof(wakes)) < 0) {
		/* EAGAIN: another iteration took it */
	}
	for (nfds_t i = 0; i < n; i++) {
		arrived[i] = b->mqtt_arrivals;
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) who[i]->rc = read_burst(b, who[i]->mosq);
		arrived[i] = b->mqtt_arrivals - arrived[i];
	}
	METRIC_ADD(b, journal_errors, journal_sync(&b->journal)); /* the group commit */
	for (nfds_t i = 0; i < n; i++) {
		struct mqtt_conn *c = who[i];
		bool cork = arrived[i] > CORK_MIN;
		if (c->rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(c->mosq)) {
			if (cork) set_cork(p[i].fd, 1);
			c->rc = mosquitto_loop_write(c->mosq, 1);
			if (cork) set_cork(p[i].fd, 0);
		}
		if (c->rc == MOSQ_ERR_SUCCESS) c->rc = mosquitto_loop_misc(c->mosq);
	}
}

/* A connection whose loop failed reconnects after a backoff (0.5 s,
 * doubling to 8 s, back to 0.5 s once connected), without holding up the
 * others. */
static void maintain(struct mqtt_conn *c, long long now)
{
	if (c->rc == MOSQ_ERR_SUCCESS || c->b->stop) return;
	if (c->retry_at_ms == 0) {
		if (c->started)
			blog(BLOG_WARN, "MQTT %s:%d: %s; reconnecting in %d ms", c->host, c->port, mosquitto_strerror(c->rc),
			     c->retry_ms);
		c->retry_at_ms = now + c->retry_ms;
		c->retry_ms = c->retry_ms * 2 > 8000 ? 8000 : c->retry_ms * 2;
		return;
	}
	if (now < c->retry_at_ms) return;
	c->retry_at_ms = 0;
	if (c->started) {
		mosquitto_reconnect(c->mosq);
	} else {
		c->started = connect_first(c) == MOSQ_ERR_SUCCESS;
	}
	c->rc = MOSQ_ERR_SUCCESS;
}

int mqtt_run(struct bridge *b)
{
	bool paused = false;
	int warned = 0;
	for (size_t i = 0; i < b->nconns; i++) {
		struct mqtt_conn *c = &b->conns[i];
		c->started = connect_first(c) == MOSQ_ERR_SUCCESS;
		c->rc = c->started ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NO_CONN;
	}
	while (!b->stop) {
		loop_once(b, 100);
		if (check_bound(b, &paused, &warned) || paused) continue;
		long long now = bridge_now_ms();
		for (size_t i = 0; i < b->nconns; i++) maintain(&b->conns[i], now);
	}
	disconnect_now(b);
	METRIC_ADD(b, journal_errors, journal_sync(&b->journal));
	return 0;
}

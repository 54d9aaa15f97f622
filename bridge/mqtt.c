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

/* Presence, rooms lists and device registrations: the push thread's. */
static void on_push_topic(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
			  const mosquitto_property *props)
{
	(void)t;
	push_on_mqtt(b, msg, props);
}

/* The plugin's figures per live room, for /metrics. */
static void on_live_figure(struct bridge *b, const struct topic_ref *t, const struct mosquitto_message *msg,
			   const mosquitto_property *props)
{
	(void)t, (void)props;
	live_figures_on_mqtt(b, msg);
}

static const struct route routes[] = {
	{"chat/rooms/+/messages", true, TOPIC_ROOM_MESSAGES, on_room_message},
	{"chat/rooms/+/history", true, TOPIC_ROOM_HISTORY, on_history},
	{"chat/rooms/+/read", true, TOPIC_ROOM_READ, on_read},
	{"chat/users/+/devices", true, TOPIC_USER_DEVICES, on_push_topic},
	/* Retained state every bridge needs whole: not shared. These come last
	 * (on_connect subscribes a prefix of this table). */
	{"chat/presence/+", false, TOPIC_PRESENCE, on_push_topic},
	{"chat/users/+/rooms", false, TOPIC_USER_ROOMS, on_push_topic},
	{"$SYS/broker/chat/live/#", false, TOPIC_SYS_CHAT, on_live_figure}, /* live_figures.c */
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

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct bridge *b = ud;
	char filters[4096], *list[NROUTES];
	(void)props;
	if (rc != 0) {
		blog(BLOG_ERR, "MQTT connection refused: %s", mosquitto_reason_string(rc));
		return;
	}
	METRIC_SET(b, mqtt_connected, 1);
	blog(BLOG_INFO, "connected to the broker (%s session)", flags & 1 ? "resumed" : "new");
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
	struct bridge *b = ud;
	(void)mosq, (void)props;
	METRIC_SET(b, mqtt_connected, 0);
	if (!b->stop) blog(rc == 0 ? BLOG_INFO : BLOG_WARN, "disconnected from the broker (%d)", rc);
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int count, const int *granted,
			 const mosquitto_property *props)
{
	(void)mosq, (void)ud, (void)mid, (void)props;
	for (int i = 0; i < count; i++) {
		if (granted[i] > 2) {
			blog(BLOG_ERR, "the broker refused the subscription to %s: %s", routes[i].filter,
			     mosquitto_reason_string(granted[i]));
			return;
		}
	}
	blog(BLOG_INFO, "subscribed to %d filters (shared group %s)", count,
	     ((struct bridge *)ud)->cfg.mqtt_share_group);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct bridge *b = ud;
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

int mqtt_init(struct bridge *b)
{
	b->mosq = mosquitto_new(b->cfg.mqtt_client_id, false, b);
	if (!b->mosq) {
		blog(BLOG_ERR, "mosquitto_new failed");
		return -1;
	}
	b->mqtt_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->mqtt_wake_fd < 0) {
		blog(BLOG_ERR, "eventfd: %s", strerror(errno));
		return -1;
	}
	mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	/* PUBACKs leave only after the group commit, so the broker must be
	 * allowed many messages in flight to keep a stream flowing. */
	mosquitto_int_option(b->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, b->cfg.mqtt_receive_maximum);
	/* Other threads publish (history replies): let the loop do the writes. */
	mosquitto_threaded_set(b->mosq, true);
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(b->mosq, on_disconnect);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
	if (b->cfg.mqtt_username) mosquitto_username_pw_set(b->mosq, b->cfg.mqtt_username, b->cfg.mqtt_password);
	return 0;
}

void mqtt_close(struct bridge *b)
{
	if (b->mosq) mosquitto_destroy(b->mosq);
	b->mosq = NULL;
	if (b->mqtt_wake_fd >= 0) close(b->mqtt_wake_fd);
	b->mqtt_wake_fd = -1;
}

int mqtt_reply(struct bridge *b, const char *topic, const char *payload, size_t len, const mosquitto_property *props)
{
	if (!b->mosq) return MOSQ_ERR_NO_CONN;
	int rc = mosquitto_publish_v5(b->mosq, NULL, topic, (int)len, payload, 1, false, props);
	uint64_t one = 1;
	if (rc == MOSQ_ERR_SUCCESS && b->mqtt_wake_fd >= 0 && write(b->mqtt_wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd counter cannot overflow here; the loop wakes anyway */
	}
	return rc;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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
		mosquitto_disconnect_v5(b->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	} else if (*paused && fill < 0.75) {
		*paused = false;
		METRIC_SET(b, consuming_paused, 0);
		blog(BLOG_INFO, "journal back under 75%%: consuming again");
		mosquitto_reconnect(b->mosq);
		return true;
	}
	return false;
}

static int connect_first(struct bridge *b)
{
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)b->cfg.mqtt_session_expiry);
	int rc = mosquitto_connect_bind_v5(b->mosq, b->cfg.mqtt_host, b->cfg.mqtt_port, b->cfg.mqtt_keepalive, NULL,
					   props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		blog(BLOG_WARN, "connect to %s:%d: %s (retrying)", b->cfg.mqtt_host, b->cfg.mqtt_port,
		     mosquitto_strerror(rc));
	}
	return rc;
}

/* Sends DISCONNECT and lets the loop write it, briefly. */
static void disconnect_now(struct bridge *b)
{
	mosquitto_disconnect_v5(b->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	long long until = bridge_now_ms() + 1000;
	while (bridge_now_ms() < until && mosquitto_loop(b->mosq, 50, 1) == MOSQ_ERR_SUCCESS) {
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
static int read_burst(struct bridge *b)
{
	int rc = MOSQ_ERR_SUCCESS;
	for (int i = 0; i < READ_BURST_MAX && rc == MOSQ_ERR_SUCCESS && !journal_full(b); i++) {
		unsigned long before = b->mqtt_arrivals;
		rc = mosquitto_loop_read(b->mosq, 1);
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
 * One loop iteration, in this order: wait for the socket (or a reply
 * queued by another thread), read the burst, sync the journal, write what
 * libmosquitto queued (the PUBACKs of the burst among it), keepalive. The
 * bridge runs this instead of mosquitto_loop(), whose write step can run in
 * the same call as its read and so send a PUBACK before the sync.
 */
static int loop_once(struct bridge *b, int timeout_ms)
{
	int fd = mosquitto_socket(b->mosq);
	if (fd < 0) return MOSQ_ERR_NO_CONN;
	struct pollfd p[2] = {
		{.fd = fd, .events = (short)(POLLIN | (mosquitto_want_write(b->mosq) ? POLLOUT : 0))},
		{.fd = b->mqtt_wake_fd, .events = POLLIN},
	};
	if (poll(p, 2, timeout_ms) < 0 && errno != EINTR) return MOSQ_ERR_ERRNO;
	uint64_t wakes;
	if ((p[1].revents & POLLIN) && read(b->mqtt_wake_fd, &wakes, sizeof(wakes)) < 0) {
		/* EAGAIN: another iteration took it */
	}
	int rc = MOSQ_ERR_SUCCESS;
	unsigned long arrived = b->mqtt_arrivals;
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) rc = read_burst(b);
	bool cork = b->mqtt_arrivals - arrived > CORK_MIN;
	METRIC_ADD(b, journal_errors, journal_sync(&b->journal)); /* the group commit */
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(b->mosq)) {
		if (cork) set_cork(fd, 1);
		rc = mosquitto_loop_write(b->mosq, 1);
		if (cork) set_cork(fd, 0);
	}
	if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(b->mosq);
	return rc;
}

int mqtt_run(struct bridge *b)
{
	bool paused = false;
	int warned = 0, retry_ms = 500;
	bool connected_once = connect_first(b) == MOSQ_ERR_SUCCESS;
	while (!b->stop) {
		int rc = loop_once(b, 100);
		if (check_bound(b, &paused, &warned)) continue;
		if (rc == MOSQ_ERR_SUCCESS || b->stop) {
			/* A refused CONNACK also loops fine: back off only on it. */
			if (atomic_load(&b->metrics.mqtt_connected)) retry_ms = 500;
			continue;
		}
		if (paused) {
			sleep_ms(100);
			continue;
		}
		blog(BLOG_WARN, "MQTT: %s; reconnecting in %d ms", mosquitto_strerror(rc), retry_ms);
		for (int waited = 0; waited < retry_ms && !b->stop; waited += 50) sleep_ms(50);
		retry_ms = retry_ms * 2 > 8000 ? 8000 : retry_ms * 2;
		if (connected_once) mosquitto_reconnect(b->mosq);
		else connected_once = connect_first(b) == MOSQ_ERR_SUCCESS;
	}
	disconnect_now(b);
	METRIC_ADD(b, journal_errors, journal_sync(&b->journal));
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Test client; see client.h. libmosquitto's callbacks run on its thread
 * and hand results to the test thread through a mutex and a condition.
 */
#include "client.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <mqtt_protocol.h>

#include "harness.h"

struct tc {
	struct mosquitto *mosq;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool connected, connack_seen, disconnected;
	int connack_rc, disconnect_reason;
	int acked_mid, acked_rc;      /* last PUBACK */
	int subacked_mid, subacked_rc; /* last SUBACK */
	int unsubacked_mid;            /* last UNSUBACK */
	struct tc_msg *head, *tail;
};

static struct timespec deadline_in(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *p)
{
	struct tc *c = ud;
	(void)m, (void)flags, (void)p;
	pthread_mutex_lock(&c->lock);
	c->connack_seen = true;
	c->connack_rc = rc;
	c->connected = rc == 0;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc, const mosquitto_property *p)
{
	struct tc *c = ud;
	(void)m, (void)p;
	pthread_mutex_lock(&c->lock);
	c->connected = false;
	c->disconnected = true;
	c->disconnect_reason = rc;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_publish(struct mosquitto *m, void *ud, int mid, int rc, const mosquitto_property *p)
{
	struct tc *c = ud;
	(void)m, (void)p;
	pthread_mutex_lock(&c->lock);
	c->acked_mid = mid;
	c->acked_rc = rc;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
			 const mosquitto_property *p)
{
	struct tc *c = ud;
	(void)m, (void)p;
	pthread_mutex_lock(&c->lock);
	c->subacked_mid = mid;
	c->subacked_rc = n > 0 ? granted[0] : -1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_unsubscribe(struct mosquitto *m, void *ud, int mid)
{
	struct tc *c = ud;
	(void)m;
	pthread_mutex_lock(&c->lock);
	c->unsubacked_mid = mid;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static char *dup_bytes(const void *p, int n)
{
	char *s = malloc((size_t)n + 1);
	if (!s) abort();
	if (n) memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct tc *c = ud;
	(void)m;
	struct tc_msg *tm = calloc(1, sizeof(*tm));
	if (!tm) abort();
	tm->topic = dup_bytes(msg->topic, (int)strlen(msg->topic));
	tm->payload = dup_bytes(msg->payload, msg->payloadlen);
	tm->payloadlen = msg->payloadlen;
	tm->qos = msg->qos;
	tm->retain = msg->retain;
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &tm->response_topic, false);
	void *corr = NULL;
	uint16_t corr_len = 0;
	if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false)) {
		tm->correlation = dup_bytes(corr, corr_len);
		tm->correlation_len = corr_len;
		free(corr);
	}
	pthread_mutex_lock(&c->lock);
	if (c->tail) c->tail->next = tm;
	else c->head = tm;
	c->tail = tm;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void tc_msg_free(struct tc_msg *m)
{
	if (!m) return;
	free(m->topic);
	free(m->payload);
	free(m->response_topic);
	free(m->correlation);
	free(m);
}

static void tc_free(struct tc *c)
{
	mosquitto_destroy(c->mosq);
	while (c->head) {
		struct tc_msg *n = c->head->next;
		tc_msg_free(c->head);
		c->head = n;
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* tc_connect, with a will (QoS 1) when will_topic is not NULL. */
static struct tc *connect_with(struct harness *h, const char *client_id, const char *user, const char *password,
			       int protocol, const char *will_topic, const char *will_payload, int *connack)
{
	static bool lib_ready;
	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	struct tc *c = calloc(1, sizeof(*c));
	char pw[80];
	if (!c) abort();
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->acked_mid = c->subacked_mid = -1;
	c->mosq = mosquitto_new(client_id, true, c);
	if (!c->mosq) fail_msg("mosquitto_new failed");
	/* No automatic reconnect during a test: a kick must stay a kick. */
	mosquitto_reconnect_delay_set(c->mosq, 3600, 3600, false);
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     protocol == TC_V5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, on_publish);
	mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(c->mosq, on_message);
	mosquitto_unsubscribe_callback_set(c->mosq, on_unsubscribe);
	if (user) mosquitto_username_pw_set(c->mosq, user, password ? password : h_password(user, pw, sizeof(pw)));
	if (will_topic && mosquitto_will_set(c->mosq, will_topic, (int)strlen(will_payload), will_payload, 1, false) !=
				  MOSQ_ERR_SUCCESS)
		fail_msg("%s: mosquitto_will_set failed", client_id);
	if (mosquitto_connect(c->mosq, "127.0.0.1", h->broker_port, 30) != MOSQ_ERR_SUCCESS) {
		/* No broker listening (e.g. one being restarted): refused, -1. */
		if (connack) *connack = -1;
		tc_free(c);
		return NULL;
	}
	mosquitto_loop_start(c->mosq);
	struct timespec dl = deadline_in(TC_WAIT_MS);
	pthread_mutex_lock(&c->lock);
	while (!c->connack_seen && !c->disconnected) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	bool ok = c->connected;
	int rc = c->connack_seen ? c->connack_rc : -1;
	pthread_mutex_unlock(&c->lock);
	if (connack) *connack = rc;
	if (!ok) {
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_stop(c->mosq, true);
		tc_free(c);
		return NULL;
	}
	return c;
}

struct tc *tc_connect(struct harness *h, const char *client_id, const char *user, const char *password,
		      int protocol, int *connack)
{
	return connect_with(h, client_id, user, password, protocol, NULL, NULL, connack);
}

struct tc *tc_open_will(struct harness *h, const char *client_id, const char *user, int protocol,
			const char *will_topic, const char *will_payload)
{
	int rc;
	struct tc *c = connect_with(h, client_id, user, NULL, protocol, will_topic, will_payload, &rc);
	if (!c) fail_msg("%s (%s) refused at CONNECT: %d", client_id, user ? user : "anonymous", rc);
	return c;
}

struct tc *tc_open(struct harness *h, const char *client_id, const char *user, int protocol)
{
	int rc;
	struct tc *c = tc_connect(h, client_id, user, NULL, protocol, &rc);
	if (!c) fail_msg("%s (%s) refused at CONNECT: %d", client_id, user ? user : "anonymous", rc);
	return c;
}

void tc_close(struct tc *c)
{
	if (!c) return;
	mosquitto_disconnect(c->mosq);
	mosquitto_loop_stop(c->mosq, false);
	tc_free(c);
}

int tc_subscribe(struct tc *c, const char *filter, int qos)
{
	int mid;
	if (mosquitto_subscribe_v5(c->mosq, &mid, filter, qos, 0, NULL) != MOSQ_ERR_SUCCESS) return -1;
	struct timespec dl = deadline_in(TC_WAIT_MS);
	pthread_mutex_lock(&c->lock);
	while (c->subacked_mid != mid && !c->disconnected) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	int rc = c->subacked_mid == mid ? c->subacked_rc : -1;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

bool tc_unsubscribe(struct tc *c, const char *filter)
{
	int mid;
	if (mosquitto_unsubscribe(c->mosq, &mid, filter) != MOSQ_ERR_SUCCESS) return false;
	struct timespec dl = deadline_in(TC_WAIT_MS);
	pthread_mutex_lock(&c->lock);
	while (c->unsubacked_mid != mid && !c->disconnected) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	bool ok = c->unsubacked_mid == mid;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

int tc_publish(struct tc *c, const char *topic, const char *payload, int len, int qos, bool retain,
	       const mosquitto_property *props)
{
	int mid;
	if (mosquitto_publish_v5(c->mosq, &mid, topic, len, payload, qos, retain, props) != MOSQ_ERR_SUCCESS)
		return -1;
	if (qos == 0) return 0;
	struct timespec dl = deadline_in(TC_WAIT_MS);
	pthread_mutex_lock(&c->lock);
	while (c->acked_mid != mid && !c->disconnected) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	int rc = c->acked_mid == mid ? c->acked_rc : -1;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int tc_pub(struct tc *c, const char *topic, const char *payload, int qos)
{
	return tc_publish(c, topic, payload, (int)strlen(payload), qos, false, NULL);
}

/* Unlinks and returns the first queued message on topic; lock held. */
static struct tc_msg *take(struct tc *c, const char *topic)
{
	struct tc_msg *prev = NULL;
	for (struct tc_msg *m = c->head; m; prev = m, m = m->next) {
		if (topic && strcmp(m->topic, topic) != 0) continue;
		if (prev) prev->next = m->next;
		else c->head = m->next;
		if (c->tail == m) c->tail = prev;
		m->next = NULL;
		return m;
	}
	return NULL;
}

struct tc_msg *tc_wait(struct tc *c, const char *topic, int timeout_ms)
{
	struct timespec dl = deadline_in(timeout_ms);
	pthread_mutex_lock(&c->lock);
	struct tc_msg *m;
	while (!(m = take(c, topic))) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	pthread_mutex_unlock(&c->lock);
	return m;
}

bool tc_quiet(struct tc *c, const char *topic, int ms)
{
	struct tc_msg *m = tc_wait(c, topic, ms);
	if (m) fprintf(stderr, "unexpected message on %s: %s\n", m->topic, m->payload);
	tc_msg_free(m);
	return m == NULL;
}

bool tc_wait_disconnect(struct tc *c, int timeout_ms, int *reason)
{
	struct timespec dl = deadline_in(timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (!c->disconnected) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	bool gone = c->disconnected;
	if (reason) *reason = c->disconnect_reason;
	pthread_mutex_unlock(&c->lock);
	return gone;
}

bool tc_connected(struct tc *c)
{
	pthread_mutex_lock(&c->lock);
	bool ok = c->connected;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

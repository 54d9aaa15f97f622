/* SPDX-License-Identifier: MIT */
/*
 * One libmosquitto client per simulated user, driven without library
 * threads: the worker's poll loop calls loop_read/loop_write/loop_misc, and
 * the callbacks here move a client through its states (connecting,
 * subscribing, ready, failed, lost) and count what went wrong. A refusal or
 * a dropped connection is a counter, never a crash.
 */
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static bool is_pending(enum lg_state s)
{
	return s == LG_ST_CONNECTING || s == LG_ST_SUBSCRIBING;
}

void lg_client_set_state(struct lg_client *c, enum lg_state s)
{
	struct lg_worker *w = c->w;
	enum lg_state old = c->state;

	if (old == s)
		return;
	c->state = s;
	c->state_ns = lg_now_ns();
	if (!is_pending(old) && is_pending(s))
		w->connecting++;
	if (is_pending(old) && !is_pending(s))
		w->connecting--;
	if ((old == LG_ST_NEW || is_pending(old)) &&
	    (s == LG_ST_READY || s == LG_ST_FAILED))
		w->settled++;
	if (c->role == LG_ROLE_SUB && s == LG_ST_READY)
		w->rooms[c->room].ready_subs++;
	else if (c->role == LG_ROLE_SUB && old == LG_ST_READY)
		w->rooms[c->room].ready_subs--;
	if (old == LG_ST_READY && s == LG_ST_LOST)
		w->st.disconnects++;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct lg_client *c = obj;
	struct lg_worker *w = c->w;

	if (c->state != LG_ST_CONNECTING)
		return;
	if (rc != 0) {
		w->st.refused++;
		lg_client_set_state(c, LG_ST_FAILED);
		return;
	}
	if (c->role != LG_ROLE_SUB) {
		c->progress_ns = lg_now_ns();
		lg_client_set_state(c, LG_ST_READY);
		return;
	}
	if (mosquitto_subscribe(mosq, NULL, w->rooms[c->room].topic,
				w->opt->qos) != MOSQ_ERR_SUCCESS) {
		w->st.connect_failed++;
		lg_client_set_state(c, LG_ST_FAILED);
		return;
	}
	lg_client_set_state(c, LG_ST_SUBSCRIBING);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid,
			 int count, const int *granted)
{
	struct lg_client *c = obj;

	(void)mid;
	if (c->state != LG_ST_SUBSCRIBING)
		return;
	if (count < 1 || granted[0] < 0 || granted[0] > 2) {
		c->w->st.sub_refused++;
		lg_client_set_state(c, LG_ST_FAILED);
		mosquitto_disconnect(mosq);
		return;
	}
	lg_client_set_state(c, LG_ST_READY);
}

static void on_message(struct mosquitto *mosq, void *obj,
		       const struct mosquitto_message *msg)
{
	(void)mosq;
	lg_traffic_receipt(obj, msg);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid,
		       int reason, const mosquitto_property *props)
{
	struct lg_client *c = obj;
	uint64_t seq = c->completed++;

	(void)mosq;
	(void)mid;
	(void)props;
	if (reason >= 0x80)
		c->w->st.rejected++;
	/* Completions come in publish order (QoS 0 packets leave in order,
	 * PUBACKs come back in order), so the count names the message. */
	if (seq >= c->win_first && seq <= c->win_last) {
		c->w->st.completed++;
		c->w->st.last_complete_ns = lg_now_ns();
	}
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct lg_client *c = obj;

	(void)mosq;
	(void)rc;
	if (c->state == LG_ST_READY) {
		lg_client_set_state(c, LG_ST_LOST);
	} else if (is_pending(c->state)) {
		c->w->st.connect_failed++;
		lg_client_set_state(c, LG_ST_FAILED);
	}
}

static int client_create(struct lg_client *c)
{
	const struct lg_options *opt = c->w->opt;
	char id[128], user[LG_NAME_MAX];

	snprintf(id, sizeof(id), "%s-%ld-%d", opt->id_prefix, (long)getpid(),
		 c->ordinal + 1);
	c->mosq = mosquitto_new(id, true, c);
	if (!c->mosq)
		return MOSQ_ERR_NOMEM;
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, opt->protocol);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (opt->max_inflight > 0)
		mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, opt->max_inflight);
	if (opt->user_fmt) {
		if (lg_format_int(user, sizeof(user), opt->user_fmt, c->ordinal + 1))
			return MOSQ_ERR_INVAL;
		mosquitto_username_pw_set(c->mosq, user, opt->password);
	}
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_message_callback_set(c->mosq, on_message);
	mosquitto_publish_v5_callback_set(c->mosq, on_publish);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	return MOSQ_ERR_SUCCESS;
}

static int create_and_connect(struct lg_client *c)
{
	const struct lg_options *opt = c->w->opt;
	int rc = client_create(c);

	int port = c->role == LG_ROLE_SUB && opt->sub_port ? opt->sub_port : opt->port;

	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_async(c->mosq, opt->host, port,
					     opt->keepalive);
	return rc;
}

static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

/*
 * libmosquitto gives every client a socketpair whose only use is to wake a
 * threaded select() after a publish. We run no library threads, so the
 * pair would only cost two descriptors per client (10,000 idle clients
 * would need 30,000 under a 20,000 limit) and a write() per outgoing
 * packet. The library carries on without it when socketpair() fails, so
 * the client is created and connected with RLIMIT_NOFILE lowered until
 * exactly one descriptor is free: too few for a pair, enough for the TCP
 * socket. The limit is process-wide, hence run->connect_lock; the other
 * threads only poll, read and write meanwhile, which opens nothing.
 */
static int connect_single_fd(struct lg_client *c)
{
	struct rlimit saved, tight;
	int fd = lowest_free_fd(), rc, err;

	if (fd < 0 || getrlimit(RLIMIT_NOFILE, &saved))
		return MOSQ_ERR_ERRNO;
	tight = saved;
	tight.rlim_cur = (rlim_t)fd + 1;
	if (tight.rlim_cur > saved.rlim_cur || setrlimit(RLIMIT_NOFILE, &tight)) {
		errno = EMFILE;
		return MOSQ_ERR_ERRNO;
	}
	rc = create_and_connect(c);
	err = errno;
	setrlimit(RLIMIT_NOFILE, &saved);
	errno = err;
	return rc;
}

static int connect_locked(struct lg_client *c)
{
	struct lg_run *run = c->w->run;
	int rc = connect_single_fd(c);

	if (rc == MOSQ_ERR_ERRNO && errno == EMFILE) {
		/* No room even for one socket, or the library needs more
		 * than one: fall back to the ordinary way. */
		mosquitto_destroy(c->mosq);
		c->mosq = NULL;
		if (!run->pair_fallback_noted) {
			run->pair_fallback_noted = true;
			fprintf(stderr, "loadgen: note: single-descriptor connect failed, "
				"using libmosquitto's default (3 descriptors per client)\n");
		}
		rc = create_and_connect(c);
	}
	return rc;
}

void lg_client_connect(struct lg_client *c)
{
	struct lg_run *run = c->w->run;
	int rc;

	pthread_mutex_lock(&run->connect_lock);
	rc = connect_locked(c);
	pthread_mutex_unlock(&run->connect_lock);
	if (rc != MOSQ_ERR_SUCCESS) {
		c->w->st.connect_failed++;
		lg_client_set_state(c, LG_ST_FAILED);
		return;
	}
	lg_client_set_state(c, LG_ST_CONNECTING);
}

void lg_client_close(struct lg_client *c)
{
	if (!c->mosq)
		return;
	if (c->state == LG_ST_READY || is_pending(c->state))
		lg_client_set_state(c, LG_ST_CLOSING);
	if (mosquitto_socket(c->mosq) >= 0)
		mosquitto_disconnect(c->mosq);
	mosquitto_destroy(c->mosq);
	c->mosq = NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * A worker thread: its clients' sockets in one epoll set, libmosquitto
 * driven by hand (loop_read on EPOLLIN, loop_write when the library wants
 * to write, loop_misc once a second for keepalives), and the phases of a
 * run:
 *
 *   connect   at most connect_inflight clients waiting for CONNACK/SUBACK
 *   ready     the last worker to settle sets the common start time t0
 *   run       warm-up [t0, t_meas), measurement [t_meas, t_end)
 *   drain     until every expected receipt came in, or `drain` seconds
 *
 * epoll_pwait2() for its nanosecond timeout: open-loop sends are due every
 * few microseconds and a millisecond timeout would delay them all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* epoll_pwait2() */
#endif
#include "loadgen.h"

#include <errno.h>
#include <time.h>

#define MS_NS INT64_C(1000000)
#define S_NS INT64_C(1000000000)
#define LG_READ_BURST 64
#define LG_TICK_NS (100 * MS_NS)

static int64_t seconds_to_ns(double s)
{
	if (s * 1e9 >= 9e18)
		return INT64_MAX / 4;
	return (int64_t)(s * 1e9);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void read_burst(struct lg_client *c)
{
	int i, rc;

	for (i = 0; i < LG_READ_BURST; i++) {
		errno = 0;
		rc = mosquitto_loop_read(c->mosq, 1);
		if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0)
			return;
		/* loop_read cannot say "nothing left"; a read that would
		 * block leaves EAGAIN behind. */
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
	}
}

static void serve(struct lg_client *c, short revents)
{
	if (revents & (POLLIN | POLLERR | POLLHUP))
		read_burst(c);
	if ((revents & POLLOUT) && c->mosq && mosquitto_socket(c->mosq) >= 0)
		mosquitto_loop_write(c->mosq, 1);
}

/* Keeps the epoll set in step with the clients: a socket that appeared
 * (connect) is added, one the library wants to write to also waits for
 * EPOLLOUT. A closed socket left the set by itself, so its number may be
 * another client's now: it is only forgotten. No system call for a client
 * whose socket and wishes did not change, which is nearly all of them. */
static void sync_set(struct lg_worker *w)
{
	struct epoll_event ev;
	int i, fd;

	for (i = 0; i < w->nclients; i++) {
		struct lg_client *c = &w->clients[i];

		fd = c->mosq ? mosquitto_socket(c->mosq) : -1;
		if (fd < 0) {
			c->reg_fd = -1;
			continue;
		}
		uint32_t want = EPOLLIN | (mosquitto_want_write(c->mosq) ? EPOLLOUT : 0);
		if (fd == c->reg_fd && want == c->reg_events)
			continue;
		ev.events = want;
		ev.data.ptr = c;
		if (fd != c->reg_fd) {
			if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) && errno == EEXIST)
				epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev);
		} else {
			epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev);
		}
		c->reg_fd = fd;
		c->reg_events = want;
	}
}

/* Waits for socket events until wake_ns at the latest and serves them.
 * epoll rather than poll: a viewer process holds thousands of sockets, of
 * which a pass finds a few ready, and poll() would look at them all. */
static void poll_once(struct lg_worker *w, int64_t wake_ns)
{
	int64_t wait = wake_ns - lg_now_ns();
	struct timespec ts;
	int n, i;

	sync_set(w);
	if (wait < 0)
		wait = 0;
	ts.tv_sec = (time_t)(wait / S_NS);
	ts.tv_nsec = (long)(wait % S_NS);
	n = epoll_pwait2(w->epfd, w->evs, w->nclients > 0 ? w->nclients : 1, &ts, NULL);
	for (i = 0; i < n; i++) {
		uint32_t e = w->evs[i].events;
		short revents = (short)(((e & EPOLLIN) ? POLLIN : 0) | ((e & EPOLLOUT) ? POLLOUT : 0) |
					((e & EPOLLERR) ? POLLERR : 0) | ((e & EPOLLHUP) ? POLLHUP : 0));
		serve(w->evs[i].data.ptr, revents);
	}
}

/* Keepalives, and clients that never got through the connect. */
static void misc_tick(struct lg_worker *w, int64_t now)
{
	int64_t timeout = seconds_to_ns(w->opt->connect_timeout);
	int i;

	for (i = 0; i < w->nclients; i++) {
		struct lg_client *c = &w->clients[i];

		if (!c->mosq)
			continue;
		if ((c->state == LG_ST_CONNECTING || c->state == LG_ST_SUBSCRIBING) &&
		    now - c->state_ns > timeout) {
			w->st.connect_failed++;
			lg_client_set_state(c, LG_ST_FAILED);
			lg_client_close(c);
			continue;
		}
		if (mosquitto_socket(c->mosq) >= 0)
			mosquitto_loop_misc(c->mosq);
	}
	w->next_misc_ns = now + S_NS;
}

static bool stop_requested(const struct lg_worker *w)
{
	return atomic_load(&w->run->stop_ns) != 0;
}

static void connect_phase(struct lg_worker *w)
{
	int limit = w->opt->connect_inflight / w->run->nworkers;
	int64_t now;

	if (limit < 1)
		limit = 1;
	while (w->settled < w->nclients && !stop_requested(w)) {
		while (w->connecting < limit && w->next_connect < w->nclients)
			lg_client_connect(&w->clients[w->next_connect++]);
		now = lg_now_ns();
		if (now >= w->next_misc_ns)
			misc_tick(w, now);
		poll_once(w, now + 10 * MS_NS);
	}
}

/* When traffic may start: soon, or at --start-at (a wall-clock time, so
 * that several processes line up). */
static int64_t start_time(const struct lg_options *opt)
{
	int64_t now = lg_now_ns(), t0 = now + LG_START_DELAY_NS;
	struct timespec real;

	if (opt->start_at <= 0)
		return t0;
	clock_gettime(CLOCK_REALTIME, &real);
	double ahead = opt->start_at - ((double)real.tv_sec + (double)real.tv_nsec / 1e9);
	if (ahead * 1e9 > (double)LG_START_DELAY_NS)
		t0 = now + (int64_t)(ahead * 1e9);
	return t0;
}

/* Counts this worker as ready; the last one fixes t0 for everybody. */
static void wait_for_start(struct lg_worker *w)
{
	struct lg_run *run = w->run;
	int i;

	for (i = 0; i < w->nclients; i++)
		w->st.ready += w->clients[i].state == LG_ST_READY;
	atomic_fetch_add(&run->ready_clients, (int)w->st.ready);
	if (atomic_fetch_add(&run->ready_workers, 1) + 1 == run->nworkers)
		atomic_store(&run->t0, (long long)start_time(w->opt));
	while (atomic_load(&run->t0) == 0)
		poll_once(w, lg_now_ns() + 5 * MS_NS);
}

static void set_timeline(struct lg_worker *w)
{
	const struct lg_options *opt = w->opt;

	w->t0 = (int64_t)atomic_load(&w->run->t0);
	if (opt->mode == LG_MODE_IDLE) {
		w->t_meas = w->t0;
		w->t_end = opt->duration > 0 ? w->t0 + seconds_to_ns(opt->duration)
					     : INT64_MAX;
		w->t_drain_end = w->t_end;
		return;
	}
	w->t_meas = w->t0 + seconds_to_ns(opt->warmup);
	w->t_end = w->t_meas + seconds_to_ns(opt->duration);
	w->t_drain_end = w->t_end + seconds_to_ns(opt->drain);
}

/* A signal ends the window early; the drain still runs after it. */
static void apply_stop(struct lg_worker *w)
{
	int64_t stop = (int64_t)atomic_load(&w->run->stop_ns);
	int64_t drain = w->opt->mode == LG_MODE_IDLE ? 0 : seconds_to_ns(w->opt->drain);

	if (stop == 0 || stop >= w->t_end)
		return;
	w->t_end = stop > w->t_meas ? stop : w->t_meas;
	w->t_drain_end = w->t_end + drain;
}

static bool drained(const struct lg_worker *w, int64_t now)
{
	if (now >= w->t_drain_end)
		return true;
	return !lg_traffic_backlog(w) && w->st.completed >= w->st.sent &&
	       w->st.received >= w->st.expected;
}

static void run_phase(struct lg_worker *w)
{
	int64_t now, next, wake;

	for (;;) {
		now = lg_now_ns();
		apply_stop(w);
		next = now < w->t_end || lg_traffic_backlog(w) ?
			lg_traffic_step(w, now) : INT64_MAX;
		if (now >= w->t_end && drained(w, now))
			return;
		if (now >= w->next_misc_ns)
			misc_tick(w, now);
		wake = min64(next, now + LG_TICK_NS);
		if (now < w->t_end)
			wake = min64(wake, w->t_end);
		wake = min64(wake, w->t_drain_end);
		poll_once(w, wake);
	}
}

void *lg_worker_main(void *arg)
{
	struct lg_worker *w = arg;
	int i;

	connect_phase(w);
	wait_for_start(w);
	set_timeline(w);
	/* Nobody connected: nothing to measure, and no reason to wait. */
	if (atomic_load(&w->run->ready_clients) == 0 && w->run->nclients > 0)
		w->t_end = w->t_meas;
	else
		run_phase(w);
	lg_traffic_finish(w);
	for (i = 0; i < w->nclients; i++)
		lg_client_close(&w->clients[i]);
	atomic_fetch_add(&w->run->done_workers, 1);
	return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * loadgen: the benchmark load generator. Many MQTT clients from one
 * process (publishers and subscribers in rooms, plus idle connections),
 * open loop at a fixed rate or closed loop to saturation, latency from the
 * intended send time into a log-linear histogram, and a check that the
 * asked-for rate was really applied. See loadgen.h for the file map and
 * `loadgen --help` for the options.
 *
 * main() lays the clients out (room by room: the publishers, then the
 * subscribers; idle clients last; user numbers follow that order from 1,
 * which --plan prints), deals the rooms to the worker threads, and then
 * only supervises: it turns SIGINT/SIGTERM into a stop time, announces on
 * stderr when every client is connected, and prints the report.
 */
#include "loadgen.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The one file-level variable: a signal handler can reach nothing else. */
static volatile sig_atomic_t signalled;

int64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * INT64_C(1000000000) + (int64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	signalled = 1;
}

static void print_plan(const struct lg_options *o)
{
	const char *fmt = o->user_fmt ? o->user_fmt : "u%d";
	char user[LG_NAME_MAX], topic[LG_NAME_MAX];
	int r, k, ordinal = 0;

	for (r = 1; r <= o->rooms; r++) {
		lg_format_int(topic, sizeof(topic), o->topic_fmt, r);
		for (k = 0; k < o->pubs_per_room + o->subs_per_room; k++) {
			lg_format_int(user, sizeof(user), fmt, ++ordinal);
			printf("%s %d %s %s\n", user, r,
			       k < o->pubs_per_room ? "pub" : "sub", topic);
		}
	}
	for (k = 0; k < o->idle_clients; k++) {
		lg_format_int(user, sizeof(user), fmt, ++ordinal);
		printf("%s 0 idle -\n", user);
	}
}

/* Allocates worker w's arrays for its share of rooms and idle clients. */
static int alloc_worker(struct lg_run *run, struct lg_worker *w, int index)
{
	const struct lg_options *o = &run->opt;
	int n = run->nworkers;
	int rooms = o->rooms / n + (index < o->rooms % n);
	int idle = o->idle_clients / n + (index < o->idle_clients % n);
	int clients = rooms * (o->pubs_per_room + o->subs_per_room) + idle;
	size_t slots = clients > 0 ? (size_t)clients : 1;

	w->index = index;
	w->run = run;
	w->opt = &run->opt;
	w->clients = calloc(slots, sizeof(*w->clients));
	w->pubs = calloc(slots, sizeof(*w->pubs));
	w->rooms = calloc(rooms > 0 ? (size_t)rooms : 1, sizeof(*w->rooms));
	w->evs = calloc(slots, sizeof(*w->evs));
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	hist_reset(&w->st.lat);
	w->t_meas = INT64_MAX;
	w->t_end = INT64_MAX;
	if (!w->clients || !w->pubs || !w->rooms || !w->evs || w->epfd < 0)
		return -1;
	return 0;
}

static struct lg_client *add_client(struct lg_worker *w, int ordinal,
				    enum lg_role role, int room)
{
	struct lg_client *c = &w->clients[w->nclients++];

	c->w = w;
	c->ordinal = ordinal;
	c->role = role;
	c->room = room;
	c->pub_index = -1;
	c->reg_fd = -1;
	c->win_first = UINT64_MAX;
	return c;
}

/* The room's --sub-topics, each %d replaced by its number (or its topic). */
static int room_sub_topics(const struct lg_options *o, int number, char *out, size_t cap)
{
	char one[LG_NAME_MAX], fmt[LG_NAME_MAX];
	const char *p = o->sub_topics;
	size_t len = 0;

	if (!p)
		return lg_format_int(out, cap, o->topic_fmt, number);
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n >= sizeof(fmt))
			return -1;
		memcpy(fmt, p, n);
		fmt[n] = '\0';
		if (lg_format_int(one, sizeof(one), fmt, number) || len + strlen(one) + 2 > cap)
			return -1;
		len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", one);
		p += n + (p[n] == ',');
	}
	return 0;
}

/* Room r (0-based) goes to worker r % threads with all its clients. */
static int place_room(struct lg_run *run, int r)
{
	const struct lg_options *o = &run->opt;
	struct lg_worker *w = &run->workers[r % run->nworkers];
	struct lg_room *room = &w->rooms[w->nrooms];
	int per_room = o->pubs_per_room + o->subs_per_room, k;

	room->number = r + 1;
	if (lg_format_int(room->topic, sizeof(room->topic), o->topic_fmt, r + 1)) {
		fprintf(stderr, "loadgen: topic for room %d is too long\n", r + 1);
		return -1;
	}
	if (room_sub_topics(o, r + 1, room->sub_topics, sizeof(room->sub_topics))) {
		fprintf(stderr, "loadgen: --sub-topics for room %d are too long\n", r + 1);
		return -1;
	}
	for (k = 0; k < per_room; k++) {
		bool pub = k < o->pubs_per_room;
		struct lg_client *c = add_client(w, r * per_room + k,
						 pub ? LG_ROLE_PUB : LG_ROLE_SUB, w->nrooms);

		if (pub) {
			c->pub_index = r * o->pubs_per_room + k;
			w->pubs[w->npubs++] = c;
			run->pub_by_index[c->pub_index] = c;
		}
	}
	w->nrooms++;
	return 0;
}

/* Per-worker share of the open-loop schedule and of the backlog budget. */
static void set_rates(struct lg_run *run)
{
	const struct lg_options *o = &run->opt;
	uint64_t backlog = run->npubs > 0 ? 200000u / (uint64_t)run->npubs : 0;
	int i;

	if (backlog < 100)
		backlog = 100;
	for (i = 0; i < run->nworkers; i++) {
		struct lg_worker *w = &run->workers[i];

		w->max_backlog = backlog;
		if (w->npubs == 0 || o->mode != LG_MODE_OPEN)
			continue;
		w->period_ns = 1e9 / (o->rate * w->npubs / run->npubs);
		w->phase_ns = w->period_ns * i / run->nworkers;
	}
}

static int setup(struct lg_run *run)
{
	const struct lg_options *o = &run->opt;
	int i, per_room = o->pubs_per_room + o->subs_per_room;

	run->nworkers = o->threads;
	run->npubs = o->rooms * o->pubs_per_room;
	run->nclients = o->rooms * per_room + o->idle_clients;
	run->workers = calloc((size_t)run->nworkers, sizeof(*run->workers));
	run->pub_by_index = calloc(run->npubs > 0 ? (size_t)run->npubs : 1,
				   sizeof(*run->pub_by_index));
	if (!run->workers || !run->pub_by_index)
		return -1;
	for (i = 0; i < run->nworkers; i++) {
		if (alloc_worker(run, &run->workers[i], i))
			return -1;
	}
	for (i = 0; i < o->rooms; i++) {
		if (place_room(run, i))
			return -1;
	}
	for (i = 0; i < o->idle_clients; i++)
		add_client(&run->workers[i % run->nworkers], o->rooms * per_room + i,
			   LG_ROLE_IDLE, -1);
	set_rates(run);
	return 0;
}

static void teardown(struct lg_run *run)
{
	int i;

	for (i = 0; run->workers && i < run->nworkers; i++) {
		free(run->workers[i].clients);
		free(run->workers[i].pubs);
		free(run->workers[i].rooms);
		free(run->workers[i].evs);
		if (run->workers[i].epfd > 0)
			close(run->workers[i].epfd);
	}
	free(run->workers);
	free(run->pub_by_index);
	pthread_mutex_destroy(&run->connect_lock);
	free(run);
}

/* Every client needs one descriptor (see loadgen_client.c). */
static void raise_fd_limit(int clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)clients + 64 > rl.rlim_cur)
		fprintf(stderr, "loadgen: warning: %d clients but only %lu descriptors; "
			"some connects will fail\n", clients, (unsigned long)rl.rlim_cur);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void announce_ready(const struct lg_run *run, int64_t ready_ns)
{
	uint64_t ready = 0;
	int i;

	for (i = 0; i < run->nworkers; i++)
		ready += run->workers[i].st.ready;
	fprintf(stderr, "loadgen: ready: %llu/%d clients connected in %.3f s%s\n",
		(unsigned long long)ready, run->nclients,
		(double)(ready_ns - run->start_ns) / 1e9,
		run->opt.mode == LG_MODE_IDLE && run->opt.duration <= 0 ?
		", holding until SIGINT/SIGTERM" : "");
}

/* User plus system CPU ticks process pid has used, or -1. */
static long long proc_ticks(int pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the command name. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2)
		return -1;
	return (long long)(utime + stime);
}

/* Samples the watched process at the start and the end of the measured
 * window (to the supervisor's 20 ms tick); idle runs have no window. */
static void watch_sample(struct lg_run *run, int64_t now)
{
	int64_t t0 = (int64_t)atomic_load(&run->t0);
	int64_t start = t0 + (int64_t)(run->opt.warmup * 1e9);
	int64_t end = start + (int64_t)(run->opt.duration * 1e9);
	int i;

	if (run->opt.watch_pid <= 0 || t0 == 0 || run->opt.mode == LG_MODE_IDLE)
		return;
	i = run->watch_ns[0] == 0 ? 0 : run->watch_ns[1] == 0 ? 1 : 2;
	if (i == 2 || now < (i == 0 ? start : end))
		return;
	run->watch_ticks[i] = proc_ticks(run->opt.watch_pid);
	run->watch_ns[i] = now;
	if (i == 1 && run->watch_ticks[0] >= 0 && run->watch_ticks[1] >= 0 && now > run->watch_ns[0])
		run->watch_busy = (double)(run->watch_ticks[1] - run->watch_ticks[0]) /
				  (double)sysconf(_SC_CLK_TCK) / ((double)(now - run->watch_ns[0]) / 1e9);
}

/* Waits for the workers; returns when all clients had settled. */
static int64_t supervise(struct lg_run *run)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	int64_t ready_ns = lg_now_ns();
	bool announced = false;

	run->watch_busy = -1;
	while (atomic_load(&run->done_workers) < run->nworkers) {
		nanosleep(&nap, NULL);
		if (signalled && atomic_load(&run->stop_ns) == 0)
			atomic_store(&run->stop_ns, (long long)lg_now_ns());
		if (!announced && atomic_load(&run->t0) != 0) {
			announced = true;
			ready_ns = (int64_t)atomic_load(&run->t0) - LG_START_DELAY_NS;
			announce_ready(run, ready_ns);
		}
		watch_sample(run, lg_now_ns());
	}
	return ready_ns;
}

/* Starts every worker with SIGINT/SIGTERM blocked, so main takes them. */
static int start_workers(struct lg_run *run)
{
	sigset_t block, old;
	int i, rc = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < run->nworkers && rc == 0; i++)
		rc = pthread_create(&run->workers[i].thread, NULL, lg_worker_main,
				    &run->workers[i]);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return 0;
	/* The started ones would wait forever for the missing: stop them. */
	fprintf(stderr, "loadgen: cannot start thread %d: %s\n", i - 1, strerror(rc));
	atomic_store(&run->stop_ns, (long long)lg_now_ns());
	atomic_store(&run->t0, (long long)lg_now_ns());
	run->nworkers = i - 1;
	for (i = 0; i < run->nworkers; i++)
		pthread_join(run->workers[i].thread, NULL);
	return -1;
}

static int run_all(struct lg_run *run)
{
	uint64_t ready = 0;
	int64_t ready_ns;
	int i;

	run->start_ns = lg_now_ns();
	if (start_workers(run))
		return 1;
	ready_ns = supervise(run);
	for (i = 0; i < run->nworkers; i++) {
		pthread_join(run->workers[i].thread, NULL);
		ready += run->workers[i].st.ready;
	}
	lg_report(run, ready_ns);
	if (run->nclients > 0 && ready == 0) {
		fprintf(stderr, "loadgen: no client could connect to %s:%d\n",
			run->opt.host, run->opt.port);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct lg_run *run = calloc(1, sizeof(*run));
	int rc;

	if (!run) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	pthread_mutex_init(&run->connect_lock, NULL);
	rc = lg_options_parse(&run->opt, argc, argv);
	if (rc == 0 && run->opt.plan)
		print_plan(&run->opt);
	if (rc != 0 || run->opt.plan) {
		teardown(run);
		return rc < 0 ? 2 : 0;
	}
	lg_texts_init(&run->texts, run->opt.lang, run->opt.text_bytes);
	if (setup(run)) {
		fprintf(stderr, "loadgen: setup failed (out of memory?)\n");
		teardown(run);
		return 1;
	}
	raise_fd_limit(run->nclients);
	install_signals();
	mosquitto_lib_init();
	rc = run_all(run);
	mosquitto_lib_cleanup();
	teardown(run);
	return rc;
}

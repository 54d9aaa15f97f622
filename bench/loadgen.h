/* SPDX-License-Identifier: MIT */
/*
 * The load generator's shared types. One `struct lg_run` per process holds
 * the options and the workers; a worker is one thread with its own clients,
 * poll set, counters and latency histogram. Rooms are dealt to workers
 * whole (a room's publishers and subscribers live in the same worker), so
 * the hot path never touches another thread's memory; the only shared
 * writes are a few atomics that move every worker from one phase to the
 * next. Files: loadgen.c (main), loadgen_opts.c (command line),
 * loadgen_text.c (payloads), loadgen_client.c (libmosquitto clients and
 * callbacks), loadgen_loop.c (the poll loop and phases), loadgen_traffic.c
 * (send schedule and receipts), loadgen_report.c (results).
 */
#ifndef CHAT_BENCH_LOADGEN_H
#define CHAT_BENCH_LOADGEN_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#include "hist.h"

#define LG_TEXT_VARIANTS 64
#define LG_TEXT_MAX 1000
#define LG_PAYLOAD_MAX (LG_TEXT_MAX + 128)
#define LG_NAME_MAX 256
/* t0 is set this long after the last client settled, so that every
 * worker sees it before its first send is due. */
#define LG_START_DELAY_NS INT64_C(20000000)

enum lg_mode { LG_MODE_OPEN, LG_MODE_CLOSED, LG_MODE_IDLE };
enum lg_lang { LG_LANG_EN, LG_LANG_KO };
enum lg_role { LG_ROLE_PUB, LG_ROLE_SUB, LG_ROLE_IDLE };

enum lg_state {
	LG_ST_NEW,        /* not yet asked to connect */
	LG_ST_CONNECTING, /* waiting for CONNACK */
	LG_ST_SUBSCRIBING, /* subscriber waiting for SUBACK */
	LG_ST_READY,      /* connected (and subscribed) */
	LG_ST_FAILED,     /* never got ready: refused, timed out, error */
	LG_ST_LOST,       /* was ready, then disconnected */
	LG_ST_CLOSING     /* we are disconnecting it on purpose */
};

/* The command line, parsed once; strings point into argv. */
struct lg_options {
	const char *host;
	int port;
	int sub_port;           /* subscribers connect here (another broker); 0 = port */
	const char *user_fmt;  /* NULL: anonymous */
	const char *password;  /* NULL: none */
	const char *topic_fmt;
	const char *id_prefix;
	int rooms;
	int pubs_per_room;
	int subs_per_room;
	int idle_clients;
	enum lg_mode mode;
	double rate;           /* open loop: messages/s, all publishers */
	int window;            /* closed loop: messages in flight per publisher */
	int qos;
	int protocol;          /* MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5 */
	enum lg_lang lang;
	int text_bytes;
	double duration;       /* s; 0 in idle mode: until signalled */
	double warmup;
	double drain;
	double connect_timeout;
	int threads;
	int connect_inflight;
	int keepalive;
	int max_inflight;      /* 0: libmosquitto's default */
	bool json;
	int watch_pid;         /* 0: none; else report its CPU share */
	bool plan;
};

/* Pre-generated message texts, exactly text_bytes of valid UTF-8 each,
 * rotated so consecutive messages from one sender differ. */
struct lg_texts {
	char text[LG_TEXT_VARIANTS][LG_TEXT_MAX + 1];
	size_t len;
};

struct lg_worker;

struct lg_client {
	struct mosquitto *mosq;
	struct lg_worker *w;
	int ordinal;          /* 0-based across the run; user number is +1 */
	int room;             /* index into w->rooms; -1 for idle clients */
	int pub_index;        /* publisher number across the run, or -1 */
	enum lg_role role;
	enum lg_state state;
	int64_t state_ns;     /* when the state last changed */
	/* publishers only */
	uint64_t seq;         /* next sequence number */
	uint64_t published;   /* accepted by mosquitto_publish() */
	uint64_t completed;   /* written (QoS 0) or acknowledged (QoS 1) */
	uint64_t owed;        /* receipts due for what it published */
	uint64_t got;         /* receipts seen */
	uint64_t win_first;   /* seq of the first window message, or UINT64_MAX */
	uint64_t win_last;    /* seq of the last window message */
	int64_t progress_ns;  /* last receipt, for the closed-loop stall guard */
};

struct lg_room {
	int number;           /* 1-based, as in the topic */
	char topic[LG_NAME_MAX];
	int ready_subs;
};

/* Counters of one worker; summed by loadgen_report.c. "Window" messages are
 * those whose intended send time lies in the measurement window. */
struct lg_stats {
	uint64_t sent;           /* window messages handed to libmosquitto */
	uint64_t completed;      /* of which written (QoS 0) or acked (QoS 1) */
	uint64_t skipped;        /* window messages never published */
	uint64_t expected;       /* receipts due for window messages */
	uint64_t received;       /* receipts of window messages */
	uint64_t publish_errors;
	uint64_t rejected;       /* v5 PUBACK with a failure reason code */
	uint64_t parse_errors;   /* received payload without our cid */
	uint64_t foreign;        /* cid of a publisher not in this room */
	uint64_t stall_resets;   /* closed loop: window given up on */
	uint64_t connect_failed; /* connect call failed or timed out */
	uint64_t refused;        /* CONNACK with a failure code */
	uint64_t sub_refused;    /* SUBACK with a failure code */
	uint64_t disconnects;    /* lost after being ready */
	uint64_t ready;          /* clients ready when traffic started */
	int64_t last_complete_ns; /* of a window message */
	int64_t last_recv_ns;
	struct hist lat;         /* ns from intended send time to receipt */
};

struct lg_run;

struct lg_worker {
	int index;
	struct lg_run *run;
	const struct lg_options *opt;
	pthread_t thread;
	struct lg_client *clients;
	int nclients;
	struct lg_client **pubs;  /* this worker's publishers, schedule order */
	int npubs;
	struct lg_room *rooms;
	int nrooms;
	struct pollfd *pfds;      /* one per client, rebuilt every pass */
	struct lg_client **pfd_clients;
	int next_connect;
	int connecting;
	int settled;              /* clients ready or failed */
	/* timeline, CLOCK_MONOTONIC ns */
	int64_t t0, t_meas, t_end, t_drain_end;
	int64_t next_misc_ns;
	/* open loop */
	double period_ns;
	double phase_ns;
	uint64_t next_msg;
	uint64_t max_backlog;     /* per publisher, messages not yet written */
	struct lg_stats st;
	char payload[LG_PAYLOAD_MAX];
};

struct lg_run {
	struct lg_options opt;
	struct lg_texts texts;
	struct lg_worker *workers;
	int nworkers;
	struct lg_client **pub_by_index; /* read-only once running */
	int npubs;
	int nclients;
	pthread_mutex_t connect_lock;    /* see loadgen_client.c */
	bool pair_fallback_noted;
	int64_t start_ns;
	atomic_int ready_workers;
	atomic_int done_workers;
	atomic_int ready_clients; /* summed as workers settle */
	atomic_llong t0;        /* 0 until every worker's clients settled */
	atomic_llong stop_ns;   /* 0 until a signal asks to stop */
	/* The watched process over the measured window: CPU ticks and wall
	 * time at its start [0] and end [1]; busy < 0 when not measured. */
	long long watch_ticks[2];
	int64_t watch_ns[2];
	double watch_busy;
};

/* loadgen.c */
int64_t lg_now_ns(void);

/* loadgen_opts.c */
/* Parses argv into opt; prints usage or an error to stderr. Returns 0 to
 * go on, 1 when the program should exit successfully (--help), -1 on a
 * usage error. */
int lg_options_parse(struct lg_options *opt, int argc, char **argv);
/* Writes fmt with its single %d replaced by value; -1 if it does not fit. */
int lg_format_int(char *out, size_t cap, const char *fmt, int value);

/* loadgen_text.c */
void lg_texts_init(struct lg_texts *t, enum lg_lang lang, int bytes);
/* Writes {"text":...,"cid":"P-S-T"} into out; returns its length. */
size_t lg_payload_build(char *out, size_t cap, const struct lg_texts *t,
			int pub_index, uint64_t seq, int64_t intended_ns);
/* Finds "cid":"P-S-T" in a payload (raw or in the server's envelope).
 * Returns 0 and fills the outputs, or -1 when there is none. */
int lg_payload_parse(const void *payload, size_t len, int *pub_index,
		     uint64_t *seq, int64_t *intended_ns);

/* loadgen_client.c */
/* Creates the libmosquitto object and starts connecting; on failure the
 * client is marked failed and counted. */
void lg_client_connect(struct lg_client *c);
/* Marks a client's new state and keeps the worker's tallies in step. */
void lg_client_set_state(struct lg_client *c, enum lg_state s);
/* Sends DISCONNECT where connected and frees the libmosquitto object. */
void lg_client_close(struct lg_client *c);

/* loadgen_loop.c */
void *lg_worker_main(void *arg);

/* loadgen_traffic.c; the window ends at w->t_end, which the loop moves
 * earlier when a signal stops the run. */
/* Publishes what is due; returns the time of the next due send, or
 * INT64_MAX when nothing more is scheduled. */
int64_t lg_traffic_step(struct lg_worker *w, int64_t now);
/* True while scheduled window messages are still unsent. */
bool lg_traffic_backlog(const struct lg_worker *w);
/* Counts the window messages that were never sent, once the run is over. */
void lg_traffic_finish(struct lg_worker *w);
/* A subscriber received msg: find its cid, count it, record latency. */
void lg_traffic_receipt(struct lg_client *sub,
			const struct mosquitto_message *msg);

/* loadgen_report.c */
/* Prints the results (text, or one JSON line with --json) once every
 * worker has finished; ready_ns is when all clients had settled. */
void lg_report(const struct lg_run *run, int64_t ready_ns);

#endif

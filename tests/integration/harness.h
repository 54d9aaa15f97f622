/* SPDX-License-Identifier: MIT */
/*
 * The integration-test harness: starts the real parts (mosquitto with the
 * plugin, the MongoDB stand-in or a real MongoDB, chat-bridge) on free
 * loopback ports in a private directory, waits until each is ready by
 * watching ports and log lines (never a fixed sleep), and stops them. The
 * directory, with every config and log, is kept when a test fails.
 *
 * Paths of the programs come from the build (compile definitions); a real
 * MongoDB is used instead of the stand-in when CHAT_TEST_MONGO_URI is set.
 */
#ifndef CHAT_TEST_HARNESS_H
#define CHAT_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <mongoc/mongoc.h>

struct h_proc {
	pid_t pid;           /* 0 when not running */
	char name[32];
	char log[320];       /* stdout+stderr of the process */
};

struct harness {
	char name[64];
	char dir[256];           /* everything of this run lives here */
	struct h_proc broker, standin, bridge;
	int broker_port;
	char mongo_uri[512];     /* with no database */
	char mongo_db[64];       /* unique per run */
	char passwd_file[600];   /* mosquitto_passwd file with the test users */
	char broker_conf[600];
	char bridge_conf[600];
	char state_file[600];
};

/* Test users, all with password "<user>-pw": see h_password(). */
extern const char *const h_users[];

/* "<user>-pw" into buf. */
const char *h_password(const char *user, char *buf, size_t cap);

/* Creates the run directory and the password file. Fails the test on error. */
void h_init(struct harness *h, const char *name);
/* Stops what runs and checks the broker's and bridge's logs for sanitizer
 * reports; returns false if there was one. Removes the run directory unless
 * keep (a test failed), a report, or CHAT_TEST_KEEP; else prints where the
 * logs are. */
bool h_finish(struct harness *h, bool keep);

/* Starts the stand-in (or adopts CHAT_TEST_MONGO_URI). */
void h_start_mongo(struct harness *h);
/* Writes the broker config (listener, plugin, the given extra lines, e.g.
 * "plugin_opt_dm_policy anyone\n") and starts mosquitto; waits for its port. */
void h_start_broker(struct harness *h, const char *extra_conf);
/* Starts chat-bridge with the given extra config lines and waits until it
 * says it has subscribed. */
void h_start_bridge(struct harness *h, const char *extra_conf);

/* Sends sig and waits for the process to exit (SIGKILL after timeout_ms). */
void h_stop(struct h_proc *p, int sig, int timeout_ms);
/* Runs mosquitto on conf until it exits (for configs that must make it
 * refuse to start); returns its exit status, or -1 on timeout. */
int h_run_broker(const char *conf, int timeout_ms);
/* Restarts the broker with the config it had. */
void h_restart_broker(struct harness *h);
/* Rewrites the broker config so that Mosquitto itself authenticates, from
 * the same password file (password_file, no plugin_opt_auth), and
 * restarts the broker. */
void h_broker_authenticates(struct harness *h);

/* Restarts chat-bridge with the config it had (SIGTERM first if it runs;
 * use h_stop(&h->bridge, SIGKILL, ..) before for a crash) and waits until
 * it has subscribed again. */
void h_restart_bridge(struct harness *h);
/* Starts one more chat-bridge in process p, with its own config, log,
 * journal and client id (all named after name), sharing the broker,
 * MongoDB and share group; waits until it has subscribed. */
void h_start_bridge_named(struct harness *h, struct h_proc *p, const char *name, const char *extra_conf);
/* The metrics port a bridge logged ("metrics on http://127.0.0.1:N"), or 0. */
int h_metrics_port(struct h_proc *p);
/* The value of an unlabelled metric from the bridge p's /metrics, or -1. */
long long h_metric(struct h_proc *p, const char *name);
/* Polls h_metric until it is at least at_least; false after timeout_ms. */
bool h_wait_metric(struct h_proc *p, const char *name, long long at_least, int timeout_ms);
/* Polls h_metric until it equals value; false after timeout_ms. */
bool h_wait_metric_eq(struct h_proc *p, const char *name, long long value, int timeout_ms);
/* True when the run uses the stand-in (which the harness can stop). */
bool h_mongo_is_standin(struct harness *h);
/* Stops the stand-in; h_restart_mongo starts it again on the same port and
 * data directory and waits until it is ready. */
void h_stop_mongo(struct harness *h);
void h_restart_mongo(struct harness *h);

/* Occurrences of needle in the file. */
int h_log_count(const char *path, const char *needle);
/* Polls the file until needle occurs at least count times. */
bool h_wait_log_count(const char *path, const char *needle, int count, int timeout_ms);
/* Polls the file until it contains needle or timeout_ms passes. */
bool h_wait_log(const char *path, const char *needle, int timeout_ms);
/* True while the process has not exited. */
bool h_alive(struct h_proc *p);

/* Runs argv to completion with a deadline; output to out (may be NULL).
 * Returns the exit status, or -1 on timeout or spawn failure. */
int h_run(char *const argv[], const char *out, int timeout_ms);
/* Starts argv in the background with output into out. */
pid_t h_spawn(char *const argv[], const char *out);

/* A MongoDB client on the run's database (caller destroys). */
mongoc_client_t *h_mongo(struct harness *h);
/* Polls `coll` until a document matches the JSON filter (timeout_ms);
 * returns a copy of it (bson_destroy) or NULL. */
bson_t *h_mongo_wait_one(struct harness *h, const char *coll, const char *filter_json, int timeout_ms);
/* Counts documents matching the JSON filter. */
long h_mongo_count(struct harness *h, const char *coll, const char *filter_json);

/* Creates room with the given members (NULL-terminated) through the admin
 * API $CONTROL/chat/v1 as user "admin" (the broker needs
 * plugin_opt_admins admin). Returns false when nothing answered within 2 s
 * (a plugin without the admin API, where rooms need no creating). */
bool h_setup_room(struct harness *h, const char *room, const char *const *members);

/* Polls until at least want documents match the JSON filter. */
bool h_mongo_wait_count(struct harness *h, const char *coll, const char *filter_json, long want, int timeout_ms);
/* Distinct values of field among documents matching the JSON filter. */
long h_mongo_distinct_count(struct harness *h, const char *coll, const char *field, const char *filter_json);

/* GET http://127.0.0.1:port<path> (HTTP/1.0); returns the body (free()) or
 * NULL when nothing answered; *status gets the HTTP status. */
char *h_http_get(int port, const char *path, int *status);

/* Several brokers (scale-out tests, 9x-util.h): a free loopback port; a
 * process record named name in the run directory; mosquitto on conf in p,
 * waiting until port accepts connections; false when p's log holds a
 * sanitizer report. */
int h_free_port(void);
void h_proc_init(struct h_proc *p, struct harness *h, const char *name);
void h_spawn_broker(struct h_proc *p, const char *conf, int port);
bool h_proc_clean(struct h_proc *p);

/* Milliseconds on a monotonic clock. */
long long h_now_ms(void);
/* Sleeps for ms milliseconds (for polling loops only). */
void h_sleep_ms(int ms);

/* Reads a whole file into a NUL-terminated malloc'd buffer (NULL if none). */
char *h_read_file(const char *path, size_t *len);
/* Writes text to path; fails the test on error. */
void h_write_file(const char *path, const char *text);

#endif

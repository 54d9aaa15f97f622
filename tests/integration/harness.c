/* SPDX-License-Identifier: MIT */
/*
 * Process management for integration tests; see harness.h. Failures here
 * are test failures (cmocka's fail_msg), reported with the log to look at.
 */
#include "harness.h"
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define START_TIMEOUT_MS 30000

const char *const h_users[] = {"alice", "bob", "carol", "dave", "eve", "admin", "bridge", NULL};

long long h_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

const char *h_password(const char *user, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s-pw", user);
	return buf;
}

char *h_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n < 2) {
			char *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf) return NULL;
	buf[n] = '\0';
	if (len) *len = n;
	return buf;
}

void h_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (!f) fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0) fail_msg("cannot write %s", path);
}

pid_t h_spawn(char *const argv[], const char *out)
{
	pid_t pid = fork();
	if (pid < 0) fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0) dup2(devnull, 0);
		setpgid(0, 0);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Waits for pid to exit within timeout_ms (then kills it): its exit
 * status, or -1. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	int status;
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (h_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		h_sleep_ms(10);
	}
}

int h_run(char *const argv[], const char *out, int timeout_ms)
{
	return wait_exit(h_spawn(argv, out), timeout_ms);
}

bool h_alive(struct h_proc *p)
{
	int status;
	if (p->pid <= 0) return false;
	if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
		p->pid = 0;
		return false;
	}
	return true;
}

void h_stop(struct h_proc *p, int sig, int timeout_ms)
{
	int status;
	if (p->pid <= 0) return;
	kill(p->pid, sig);
	long long deadline = h_now_ms() + timeout_ms;
	while (waitpid(p->pid, &status, WNOHANG) == 0) {
		if (h_now_ms() > deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			break;
		}
		h_sleep_ms(5);
	}
	p->pid = 0;
}

bool h_wait_log(const char *path, const char *needle, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	do {
		char *text = h_read_file(path, NULL);
		bool found = text && strstr(text, needle);
		free(text);
		if (found) return true;
		h_sleep_ms(20);
	} while (h_now_ms() < deadline);
	return false;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		fail_msg("no free port: %s", strerror(errno));
	}
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0) close(fd);
	return ok;
}

static void proc_init(struct h_proc *p, struct harness *h, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", h->dir, name);
}

static void die_with_log(struct h_proc *p, const char *what)
{
	char *log = h_read_file(p->log, NULL);
	fprintf(stderr, "---- %s ----\n%s\n----\n", p->log, log ? log : "(no log)");
	free(log);
	fail_msg("%s: %s (log %s)", p->name, what, p->log);
}

static void make_password_file(struct harness *h)
{
	snprintf(h->passwd_file, sizeof(h->passwd_file), "%s/passwd", h->dir);
	for (int i = 0; h_users[i]; i++) {
		char pw[80];
		char *argv[] = {(char *)MOSQUITTO_PASSWD_BIN, "-b", (char *)h->passwd_file, (char *)h_users[i],
				(char *)h_password(h_users[i], pw, sizeof(pw)), NULL};
		if (i == 0) h_write_file(h->passwd_file, "");
		if (h_run(argv, NULL, 10000) != 0) fail_msg("mosquitto_passwd failed for %s", h_users[i]);
	}
	chmod(h->passwd_file, 0600);
}

void h_init(struct harness *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	signal(SIGPIPE, SIG_IGN);
	snprintf(h->name, sizeof(h->name), "%s", name);
	const char *base = getenv("CHAT_TEST_TMPDIR");
	snprintf(h->dir, sizeof(h->dir), "%s/%s-XXXXXX", base ? base : TEST_TMP_DIR, name);
	mkdir(base ? base : TEST_TMP_DIR, 0755);
	if (!mkdtemp(h->dir)) fail_msg("mkdtemp %s: %s", h->dir, strerror(errno));
	proc_init(&h->broker, h, "broker");
	proc_init(&h->standin, h, "mongo-standin");
	proc_init(&h->bridge, h, "bridge");
	snprintf(h->mongo_db, sizeof(h->mongo_db), "chat_test_%d_%lld", (int)getpid(), h_now_ms() % 100000);
	snprintf(h->state_file, sizeof(h->state_file), "%s/state.json", h->dir);
	make_password_file(h);
}

/* True when a sanitizer reported something in the log at path. */
static bool sanitizer_report(const char *path)
{
	char *log = h_read_file(path, NULL);
	bool bad = log && (strstr(log, "AddressSanitizer") || strstr(log, "LeakSanitizer") ||
			   strstr(log, "runtime error:"));
	if (bad) fprintf(stderr, "---- sanitizer report in %s ----\n%s\n----\n", path, log);
	free(log);
	return bad;
}

bool h_finish(struct harness *h, bool keep)
{
	h_stop(&h->bridge, SIGTERM, 10000);
	h_stop(&h->broker, SIGTERM, 10000);
	h_stop(&h->standin, SIGTERM, 10000);
	bool clean = !sanitizer_report(h->broker.log) && !sanitizer_report(h->bridge.log);
	if (keep || !clean || getenv("CHAT_TEST_KEEP")) {
		fprintf(stderr, "%s: logs and configs kept in %s\n", h->name, h->dir);
		return clean;
	}
	char *argv[] = {(char *)"/bin/rm", (char *)"-rf", h->dir, NULL};
	h_run(argv, NULL, 30000);
	return clean;
}

void h_start_mongo(struct harness *h)
{
	const char *uri = getenv("CHAT_TEST_MONGO_URI");
	if (uri && *uri) {
		snprintf(h->mongo_uri, sizeof(h->mongo_uri), "%s", uri);
		return;
	}
	char listen[64], datadir[600];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
	snprintf(datadir, sizeof(datadir), "%s/mongo-data", h->dir);
	char *argv[] = {(char *)STANDIN_BIN, (char *)"-listen", listen, (char *)"-dir", datadir, NULL};
	if (access(STANDIN_BIN, X_OK) != 0) fail_msg("%s is missing: run scripts/build-standin", STANDIN_BIN);
	h->standin.pid = h_spawn(argv, h->standin.log);
	if (!h_wait_log(h->standin.log, "ready on ", START_TIMEOUT_MS)) die_with_log(&h->standin, "not ready");
	snprintf(h->mongo_uri, sizeof(h->mongo_uri), "mongodb://%s/?serverSelectionTimeoutMS=5000", listen);
}

/* The plugin to load: the build's, unless CHAT_TEST_PLUGIN names another
 * (e.g. to test a bridge change against a known-good plugin). */
static const char *plugin_path(void)
{
	const char *p = getenv("CHAT_TEST_PLUGIN");
	return p && *p ? p : CHAT_PLUGIN_PATH;
}

void h_start_broker(struct harness *h, const char *extra_conf)
{
	char conf[4096];
	h->broker_port = free_port();
	snprintf(h->broker_conf, sizeof(h->broker_conf), "%s/mosquitto.conf", h->dir);
	snprintf(conf, sizeof(conf),
		 "per_listener_settings false\n"
		 "user root\n" /* when run as root, do not drop to "mosquitto": the run dir is private */
		 "listener %d 127.0.0.1\n"
		 "allow_anonymous false\n"
		 "persistence false\n"
		 "log_dest file %s\n" /* flushed per line, unlike a redirected stdout */
		 "log_type all\n"
		 "log_timestamp_format %%H:%%M:%%S\n"
		 "plugin %s\n"
		 /* The plugin authenticates, from the same mosquitto_passwd file;
		  * extra_conf may override any of these (the last line wins). */
		 "plugin_opt_auth password_file\n"
		 "plugin_opt_password_file %s\n"
		 "plugin_opt_admins admin\n"
		 "plugin_opt_service_users bridge\n"
		 /* A test that starts no MongoDB starts no bridge either, and
		  * wants its messages accepted all the same. */
		 "plugin_opt_require_store %s\n"
		 "%s",
		 h->broker_port, h->broker.log, plugin_path(), h->passwd_file, h->mongo_uri[0] ? "true" : "false",
		 extra_conf ? extra_conf : "");
	h_write_file(h->broker_conf, conf);
	h_restart_broker(h);
}

/* Starts mosquitto on conf with output into out. mosquitto itself is not
 * instrumented: in a sanitizer build its runtime must be loaded first for
 * the plugin's checks to work. */
static pid_t spawn_broker(const char *conf, const char *out)
{
	char *argv[] = {(char *)MOSQUITTO_BIN, (char *)"-c", (char *)conf, NULL};
#ifdef CHAT_ASAN_RUNTIME
	setenv("LD_PRELOAD", CHAT_ASAN_RUNTIME, 1);
#endif
	pid_t pid = h_spawn(argv, out);
	unsetenv("LD_PRELOAD");
	return pid;
}

int h_run_broker(const char *conf, int timeout_ms)
{
	return wait_exit(spawn_broker(conf, NULL), timeout_ms);
}

void h_spawn_broker(struct h_proc *p, const char *conf, int port)
{
	p->pid = spawn_broker(conf, p->log);
	long long deadline = h_now_ms() + START_TIMEOUT_MS;
	while (!port_open(port)) {
		if (!h_alive(p)) die_with_log(p, "exited at start");
		if (h_now_ms() > deadline) die_with_log(p, "port never opened");
		h_sleep_ms(10);
	}
}

void h_restart_broker(struct harness *h)
{
	h_stop(&h->broker, SIGTERM, 10000);
	h_spawn_broker(&h->broker, h->broker_conf, h->broker_port);
}

int h_free_port(void)
{
	return free_port();
}

void h_proc_init(struct h_proc *p, struct harness *h, const char *name)
{
	proc_init(p, h, name);
}

bool h_proc_clean(struct h_proc *p)
{
	return !sanitizer_report(p->log);
}

void h_broker_authenticates(struct harness *h)
{
	static const char auth_line[] = "plugin_opt_auth password_file\n";
	char *conf = h_read_file(h->broker_conf, NULL);
	char *at = conf ? strstr(conf, auth_line) : NULL;
	if (!at) fail_msg("no plugin_opt_auth line in %s", h->broker_conf);
	memmove(at, at + sizeof(auth_line) - 1, strlen(at + sizeof(auth_line) - 1) + 1);
	size_t n = strlen(conf) + strlen(h->passwd_file) + 32;
	char *out = malloc(n);
	if (!out) fail_msg("out of memory");
	snprintf(out, n, "%spassword_file %s\n", conf, h->passwd_file);
	h_write_file(h->broker_conf, out);
	free(out);
	free(conf);
	h_restart_broker(h);
}

void h_start_bridge(struct harness *h, const char *extra_conf)
{
	char conf[4096], pw[80];
	snprintf(h->bridge_conf, sizeof(h->bridge_conf), "%s/bridge.conf", h->dir);
	snprintf(conf, sizeof(conf),
		 "mqtt_host 127.0.0.1\n"
		 "mqtt_port %d\n"
		 "mqtt_username bridge\n"
		 "mqtt_password %s\n"
		 "mqtt_client_id bridge-%s\n"
		 "mongo_uri %s\n"
		 "mongo_database %s\n"
		 "journal_dir %s/journal\n"
		 "metrics_listen 127.0.0.1:0\n"
		 "%s",
		 h->broker_port, h_password("bridge", pw, sizeof(pw)), h->name, h->mongo_uri, h->mongo_db, h->dir,
		 extra_conf ? extra_conf : "");
	h_write_file(h->bridge_conf, conf);
	char *argv[] = {(char *)CHAT_BRIDGE_PATH, (char *)"-c", h->bridge_conf, NULL};
	h->bridge.pid = h_spawn(argv, h->bridge.log);
	long long deadline = h_now_ms() + START_TIMEOUT_MS;
	while (!h_wait_log(h->bridge.log, "subscribed", 100)) {
		if (!h_alive(&h->bridge)) die_with_log(&h->bridge, "exited at start");
		if (h_now_ms() > deadline) die_with_log(&h->bridge, "never subscribed");
	}
}

mongoc_client_t *h_mongo(struct harness *h)
{
	mongoc_client_t *c = mongoc_client_new(h->mongo_uri);
	if (!c) fail_msg("bad mongo uri %s", h->mongo_uri);
	return c;
}

static bson_t *find_one(mongoc_client_t *c, struct harness *h, const char *coll, const bson_t *filter)
{
	mongoc_collection_t *col = mongoc_client_get_collection(c, h->mongo_db, coll);
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, filter, NULL, NULL);
	const bson_t *doc;
	bson_t *copy = NULL;
	if (mongoc_cursor_next(cur, &doc)) copy = bson_copy(doc);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(col);
	return copy;
}

bson_t *h_mongo_wait_one(struct harness *h, const char *coll, const char *filter_json, int timeout_ms)
{
	bson_error_t err;
	bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &err);
	if (!filter) fail_msg("bad filter %s: %s", filter_json, err.message);
	mongoc_client_t *c = h_mongo(h);
	long long deadline = h_now_ms() + timeout_ms;
	bson_t *found = NULL;
	while (!(found = find_one(c, h, coll, filter)) && h_now_ms() < deadline) h_sleep_ms(50);
	mongoc_client_destroy(c);
	bson_destroy(filter);
	return found;
}

long h_mongo_count(struct harness *h, const char *coll, const char *filter_json)
{
	bson_error_t err;
	bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &err);
	if (!filter) fail_msg("bad filter %s: %s", filter_json, err.message);
	mongoc_client_t *c = h_mongo(h);
	mongoc_collection_t *col = mongoc_client_get_collection(c, h->mongo_db, coll);
	int64_t n = mongoc_collection_count_documents(col, filter, NULL, NULL, NULL, &err);
	if (n < 0) fail_msg("count %s: %s", coll, err.message);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
	bson_destroy(filter);
	return (long)n;
}

int h_log_count(const char *path, const char *needle)
{
	char *text = h_read_file(path, NULL);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
	free(text);
	return n;
}

bool h_wait_log_count(const char *path, const char *needle, int count, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	do {
		if (h_log_count(path, needle) >= count) return true;
		h_sleep_ms(20);
	} while (h_now_ms() < deadline);
	return false;
}

/* Spawns the bridge on conf into p's log and waits for one more
 * "subscribed" line than the log had. */
static void spawn_bridge(struct h_proc *p, const char *conf)
{
	int before = h_log_count(p->log, "subscribed");
	char *argv[] = {(char *)CHAT_BRIDGE_PATH, (char *)"-c", (char *)conf, NULL};
	p->pid = h_spawn(argv, p->log);
	long long deadline = h_now_ms() + START_TIMEOUT_MS;
	while (!h_wait_log_count(p->log, "subscribed", before + 1, 100)) {
		if (!h_alive(p)) die_with_log(p, "exited at start");
		if (h_now_ms() > deadline) die_with_log(p, "never subscribed");
	}
}

void h_restart_bridge(struct harness *h)
{
	h_stop(&h->bridge, SIGTERM, 10000);
	spawn_bridge(&h->bridge, h->bridge_conf);
}

void h_start_bridge_named(struct harness *h, struct h_proc *p, const char *name, const char *extra_conf)
{
	char conf[4096], pw[80], path[600];
	proc_init(p, h, name);
	snprintf(path, sizeof(path), "%s/%s.conf", h->dir, name);
	snprintf(conf, sizeof(conf),
		 "mqtt_host 127.0.0.1\n"
		 "mqtt_port %d\n"
		 "mqtt_username bridge\n"
		 "mqtt_password %s\n"
		 "mqtt_client_id %s-%s\n"
		 "mongo_uri %s\n"
		 "mongo_database %s\n"
		 "journal_dir %s/journal-%s\n"
		 "metrics_listen 127.0.0.1:0\n"
		 "%s",
		 h->broker_port, h_password("bridge", pw, sizeof(pw)), name, h->name, h->mongo_uri, h->mongo_db, h->dir,
		 name, extra_conf ? extra_conf : "");
	h_write_file(path, conf);
	spawn_bridge(p, path);
}

int h_metrics_port(struct h_proc *p)
{
	char *log = h_read_file(p->log, NULL);
	const char *needle = "metrics on http://127.0.0.1:", *at = NULL;
	for (const char *q = log; q && (q = strstr(q, needle)) != NULL; q += strlen(needle)) at = q;
	int port = at ? (int)strtol(at + strlen(needle), NULL, 10) : 0;
	free(log);
	return port;
}

bool h_mongo_is_standin(struct harness *h)
{
	return h->standin.pid > 0;
}

void h_stop_mongo(struct harness *h)
{
	h_stop(&h->standin, SIGTERM, 10000);
}

void h_restart_mongo(struct harness *h)
{
	char listen[64], datadir[600];
	const char *host = strstr(h->mongo_uri, "://");
	if (!host) fail_msg("bad mongo uri %s", h->mongo_uri);
	host += 3;
	snprintf(listen, sizeof(listen), "%.*s", (int)strcspn(host, "/?"), host);
	snprintf(datadir, sizeof(datadir), "%s/mongo-data", h->dir);
	int before = h_log_count(h->standin.log, "ready on ");
	char *argv[] = {(char *)STANDIN_BIN, (char *)"-listen", listen, (char *)"-dir", datadir, NULL};
	h->standin.pid = h_spawn(argv, h->standin.log);
	if (!h_wait_log_count(h->standin.log, "ready on ", before + 1, START_TIMEOUT_MS)) {
		die_with_log(&h->standin, "not ready after restart");
	}
}

char *h_http_get(int port, const char *path, int *status)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {5, 0};
	*status = 0;
	if (fd < 0) return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return NULL;
	}
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	ssize_t got;
	while (buf && (got = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (cap - len < 2) {
			char *p = realloc(buf, cap * 2);
			if (!p) break;
			buf = p;
			cap *= 2;
		}
	}
	close(fd);
	if (!buf) return NULL;
	buf[len] = '\0';
	sscanf(buf, "HTTP/%*s %d", status);
	char *body = strstr(buf, "\r\n\r\n");
	char *out = strdup(body ? body + 4 : "");
	free(buf);
	return out;
}

long h_mongo_distinct_count(struct harness *h, const char *coll, const char *field, const char *filter_json)
{
	bson_error_t err;
	bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &err);
	if (!filter) fail_msg("bad filter %s: %s", filter_json, err.message);
	mongoc_client_t *c = h_mongo(h);
	mongoc_collection_t *col = mongoc_client_get_collection(c, h->mongo_db, coll);
	bson_t *cmd = BCON_NEW("distinct", BCON_UTF8(coll), "key", BCON_UTF8(field), "query", BCON_DOCUMENT(filter));
	bson_t reply;
	long n = -1;
	bson_iter_t it, arr;
	if (mongoc_collection_read_command_with_opts(col, cmd, NULL, NULL, &reply, &err) &&
	    bson_iter_init_find(&it, &reply, "values") && bson_iter_recurse(&it, &arr)) {
		n = 0;
		while (bson_iter_next(&arr)) n++;
	}
	if (n < 0) fail_msg("distinct %s.%s: %s", coll, field, err.message);
	bson_destroy(&reply);
	bson_destroy(cmd);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
	bson_destroy(filter);
	return n;
}

bool h_setup_room(struct harness *h, const char *room, const char *const *members)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "{\"commands\":[{\"command\":\"createRoom\",\"room\":\"%s\"}", room);
	for (int i = 0; members && members[i] && n > 0 && (size_t)n < sizeof(cmd); i++) {
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
			      ",{\"command\":\"addRoomMember\",\"room\":\"%s\",\"user\":\"%s\"}", room, members[i]);
	}
	if (n <= 0 || (size_t)n >= sizeof(cmd) - 3) fail_msg("room command too long");
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, "]}");
	struct tc *c = tc_open(h, "h-room-admin", "admin", TC_V5);
	tc_subscribe(c, "$CONTROL/chat/v1/response", 1);
	tc_pub(c, "$CONTROL/chat/v1", cmd, 1);
	struct tc_msg *m = tc_wait(c, "$CONTROL/chat/v1/response", 2000);
	bool answered = m != NULL;
	tc_msg_free(m);
	tc_close(c);
	return answered;
}

long long h_metric(struct h_proc *p, const char *name)
{
	int status;
	char *body = h_http_get(h_metrics_port(p), "/metrics", &status);
	long long v = -1;
	size_t n = strlen(name);
	for (const char *line = body; line && *line;) {
		if (strncmp(line, name, n) == 0 && line[n] == ' ') v = strtoll(line + n + 1, NULL, 10);
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : NULL;
	}
	free(body);
	return v;
}

bool h_wait_metric(struct h_proc *p, const char *name, long long at_least, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	while (h_metric(p, name) < at_least) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(50);
	}
	return true;
}

bool h_wait_metric_eq(struct h_proc *p, const char *name, long long value, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	while (h_metric(p, name) != value) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(50);
	}
	return true;
}

bool h_mongo_wait_count(struct harness *h, const char *coll, const char *filter_json, long want, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	while (h_mongo_count(h, coll, filter_json) < want) {
		if (h_now_ms() > deadline) return false;
		h_sleep_ms(100);
	}
	return true;
}

/* SPDX-License-Identifier: MIT */
/*
 * chat-bridge: wiring. Parses the command line and the configuration,
 * opens the journal (replaying what a previous run left), starts the
 * metrics endpoint and the store thread, and runs the MQTT loop until
 * SIGTERM or SIGINT; then drains the journal into MongoDB within
 * drain_timeout_ms and exits.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"

static struct bridge *signal_target;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_target) signal_target->stop = 1;
}

static void usage(FILE *f)
{
	fputs("usage: chat-bridge [-c FILE] [--check-config] [-v] [--help] [--version]\n"
	      "  -c, --config FILE   configuration file (key value lines)\n"
	      "      --check-config  load the configuration, report errors (file:line) and exit\n"
	      "  -v, --verbose       debug logging\n"
	      "Environment CHAT_BRIDGE_<KEY> overrides a key, e.g. CHAT_BRIDGE_MQTT_PASSWORD.\n",
	      f);
}

static void install_signals(struct bridge *b)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_target = b;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Everything between configuration and exit; returns the exit status. */
static int run(struct bridge *b)
{
	b->mqtt_wake_fd = -1;
	b->on_stored = push_on_stored; /* push notifications follow persistence */
	long replayed = journal_open(&b->journal, b->cfg.journal_dir, (size_t)b->cfg.journal_max_bytes);
	if (replayed < 0) {
		journal_close(&b->journal);
		return 1;
	}
	METRIC_ADD(b, replayed, replayed);
	if (replayed > 0) blog(BLOG_INFO, "journal: replaying %ld records from %s", replayed, b->cfg.journal_dir);
	int rc = 1;
	if (metrics_start(b) == 0 && mqtt_init(b) == 0 && push_start(b) == 0 && store_start(b) == 0) {
		blog(BLOG_INFO, "chat-bridge %s started", BRIDGE_VERSION);
		rc = mqtt_run(b) == 0 ? 0 : 1;
	}
	store_stop(b);
	push_stop(b);
	mqtt_close(b);
	metrics_stop(b);
	blog(BLOG_INFO, "stopping: %llu received, %llu stored (%llu duplicates)", atomic_load(&b->metrics.received),
	     atomic_load(&b->metrics.stored), atomic_load(&b->metrics.duplicates));
	journal_close(&b->journal);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
		{"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	int check = 0, opt;
	while ((opt = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'C': check = 1; break;
		case 'v': blog_set_level(BLOG_DEBUG); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("chat-bridge %s\n", BRIDGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	static struct bridge b; /* large; lives for the whole run */
	if (config_load(&b.cfg, path) != 0) return 1;
	if (check) {
		printf("%s: configuration ok\n", path ? path : "(defaults)");
		config_free(&b.cfg);
		return 0;
	}
	install_signals(&b);
	mongoc_init();
	mosquitto_lib_init();
	int rc = run(&b);
	config_free(&b.cfg);
	mosquitto_lib_cleanup();
	mongoc_cleanup();
	return rc;
}

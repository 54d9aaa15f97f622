/* SPDX-License-Identifier: MIT */
/*
 * chat-bridge: wiring. Parses the command line, loads the configuration,
 * opens MongoDB and runs the MQTT loop until SIGTERM or SIGINT.
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
	      "      --check-config  load the configuration, report errors and exit\n"
	      "  -v, --verbose       debug logging\n"
	      "Environment CHAT_BRIDGE_<KEY> overrides a key, e.g. CHAT_BRIDGE_MQTT_PASSWORD.\n",
	      f);
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
	struct bridge b;
	memset(&b, 0, sizeof(b));
	if (config_load(&b.cfg, path) != 0) return 1;
	if (check) {
		printf("%s: configuration ok\n", path ? path : "(defaults)");
		config_free(&b.cfg);
		return 0;
	}
	signal_target = &b;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	mongoc_init();
	mosquitto_lib_init();
	int rc = 1;
	if (store_open(&b) == 0) {
		blog(BLOG_INFO, "chat-bridge %s started", BRIDGE_VERSION);
		rc = mqtt_run(&b) == 0 ? 0 : 1;
	}
	blog(BLOG_INFO, "stopping: %lu received, %lu stored", b.received, b.stored);
	store_close(&b);
	config_free(&b.cfg);
	mosquitto_lib_cleanup();
	mongoc_cleanup();
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * The load generator's command line. Every option is long (getopt_long);
 * --smoke only changes defaults, so an explicit option still wins over it.
 * The user and topic formats are not handed to printf: they must hold
 * exactly one %d, which lg_format_int() replaces itself.
 */
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_HOST = 256, OPT_PORT, OPT_USER_FMT, OPT_PASSWORD, OPT_ROOMS,
	OPT_PUBS, OPT_SUBS, OPT_TOPIC_FMT, OPT_RATE, OPT_CLOSED, OPT_WINDOW,
	OPT_QOS, OPT_LANG, OPT_TEXT_BYTES, OPT_DURATION, OPT_WARMUP, OPT_DRAIN,
	OPT_IDLE, OPT_JSON, OPT_SMOKE, OPT_PROTOCOL, OPT_THREADS,
	OPT_CONNECT_INFLIGHT, OPT_CONNECT_TIMEOUT, OPT_WATCH_PID, OPT_KEEPALIVE,
	OPT_MAX_INFLIGHT, OPT_ID_PREFIX, OPT_PLAN, OPT_HELP, OPT_SUB_PORT
};

static const struct option long_options[] = {
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "sub-port", required_argument, NULL, OPT_SUB_PORT },
	{ "user-fmt", required_argument, NULL, OPT_USER_FMT },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "rooms", required_argument, NULL, OPT_ROOMS },
	{ "pubs-per-room", required_argument, NULL, OPT_PUBS },
	{ "subs-per-room", required_argument, NULL, OPT_SUBS },
	{ "topic-fmt", required_argument, NULL, OPT_TOPIC_FMT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "closed-loop", no_argument, NULL, OPT_CLOSED },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "qos", required_argument, NULL, OPT_QOS },
	{ "lang", required_argument, NULL, OPT_LANG },
	{ "text-bytes", required_argument, NULL, OPT_TEXT_BYTES },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "idle-clients", required_argument, NULL, OPT_IDLE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "smoke", no_argument, NULL, OPT_SMOKE },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "connect-inflight", required_argument, NULL, OPT_CONNECT_INFLIGHT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "watch-pid", required_argument, NULL, OPT_WATCH_PID },
	{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
	{ "id-prefix", required_argument, NULL, OPT_ID_PREFIX },
	{ "plan", no_argument, NULL, OPT_PLAN },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
	"usage: loadgen [options]\n"
	"Connects many MQTT clients from one process and measures end-to-end\n"
	"latency and throughput through a broker.\n"
	"\n"
	"  --host H               broker address (127.0.0.1)\n"
	"  --port P               broker port (1883)\n"
	"  --sub-port P           subscribers connect to this port instead\n"
	"                         (a second broker: cross-broker delivery)\n"
	"  --user-fmt F           username per client, one %d = client number\n"
	"                         from 1 (u%d when --password is given)\n"
	"  --password S           password for every client (none: anonymous)\n"
	"  --protocol 5|311       MQTT version (5)\n"
	"  --rooms N              rooms (10; 0 with --idle-clients alone)\n"
	"  --pubs-per-room N      publishers per room (1)\n"
	"  --subs-per-room N      subscribers per room (1)\n"
	"  --topic-fmt F          room topic, one %d = room number from 1\n"
	"                         (chat/rooms/r%d/messages)\n"
	"  --rate R               open loop: messages/s over all publishers (1000)\n"
	"  --closed-loop          closed loop instead: find saturation\n"
	"  --window N             closed loop: messages in flight per publisher (10)\n"
	"  --qos 0|1              QoS of publishes and subscriptions (0)\n"
	"  --lang en|ko           language of the message text (en)\n"
	"  --text-bytes N         bytes of UTF-8 text per message (100)\n"
	"  --duration S           measured seconds (10; idle: 0 = until signalled)\n"
	"  --warmup S             seconds of traffic before measuring (2)\n"
	"  --drain S              seconds to wait for stragglers after (3)\n"
	"  --idle-clients N       extra clients that only connect and stay (0)\n"
	"  --threads N            worker threads; rooms are dealt to them (1)\n"
	"  --connect-inflight N   connects waiting for CONNACK at once (100)\n"
	"  --connect-timeout S    give up on a client after S seconds (10)\n"
	"  --keepalive S          MQTT keepalive (60)\n"
	"  --watch-pid PID        report the share of one core PID used during\n"
	"                         the measured seconds (e.g. the broker's)\n"
	"  --max-inflight N       QoS 1 messages in flight per client (library\n"
	"                         default, 20)\n"
	"  --id-prefix S          client id prefix (lg); ids are S-PID-N\n"
	"  --json                 print one JSON line of results on stdout\n"
	"  --smoke                tiny defaults: 2 rooms x 1 pub x 2 subs,\n"
	"                         200 msg/s, 1 s\n"
	"  --plan                 print \"user room role topic\" per client, exit\n"
	"  --help                 this text\n";

static void set_defaults(struct lg_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->host = "127.0.0.1";
	opt->port = 1883;
	opt->topic_fmt = "chat/rooms/r%d/messages";
	opt->id_prefix = "lg";
	opt->rooms = 10;
	opt->pubs_per_room = 1;
	opt->subs_per_room = 1;
	opt->mode = LG_MODE_OPEN;
	opt->rate = 1000.0;
	opt->window = 10;
	opt->protocol = MQTT_PROTOCOL_V5;
	opt->lang = LG_LANG_EN;
	opt->text_bytes = 100;
	opt->duration = 10.0;
	opt->warmup = 2.0;
	opt->drain = 3.0;
	opt->connect_timeout = 10.0;
	opt->threads = 1;
	opt->connect_inflight = 100;
	opt->keepalive = 60;
}

static void set_smoke_defaults(struct lg_options *opt)
{
	opt->rooms = 2;
	opt->pubs_per_room = 1;
	opt->subs_per_room = 2;
	opt->rate = 200.0;
	opt->duration = 1.0;
	opt->warmup = 0.2;
	opt->drain = 1.0;
}

static int parse_int(const char *name, const char *arg, long lo, long hi,
		     int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi) {
		fprintf(stderr, "loadgen: --%s: expected an integer in %ld..%ld, got '%s'\n",
			name, lo, hi, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_double(const char *name, const char *arg, double lo,
			double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "loadgen: --%s: expected a number in %g..%g, got '%s'\n",
			name, lo, hi, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* A format must hold exactly one %d and no other conversion. */
static int check_fmt(const char *name, const char *fmt)
{
	int ints = 0;
	const char *p;

	for (p = fmt; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
		} else if (p[1] == 'd') {
			ints++;
			p++;
		} else {
			ints = -1;
			break;
		}
	}
	if (ints != 1) {
		fprintf(stderr, "loadgen: --%s: '%s' must contain exactly one %%d\n",
			name, fmt);
		return -1;
	}
	return 0;
}

int lg_format_int(char *out, size_t cap, const char *fmt, int value)
{
	char num[16];
	size_t n = 0, k;
	int len = snprintf(num, sizeof(num), "%d", value);

	for (; *fmt; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 'd') {
			for (k = 0; k < (size_t)len; k++) {
				if (n + 1 >= cap)
					return -1;
				out[n++] = num[k];
			}
			fmt++;
			continue;
		}
		if (fmt[0] == '%' && fmt[1] == '%')
			fmt++;
		if (n + 1 >= cap)
			return -1;
		out[n++] = *fmt;
	}
	if (cap == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static int parse_protocol(const char *arg, int *out)
{
	if (!strcmp(arg, "5")) {
		*out = MQTT_PROTOCOL_V5;
	} else if (!strcmp(arg, "311") || !strcmp(arg, "3.1.1")) {
		*out = MQTT_PROTOCOL_V311;
	} else {
		fprintf(stderr, "loadgen: --protocol: expected 5 or 311, got '%s'\n", arg);
		return -1;
	}
	return 0;
}

static int parse_lang(const char *arg, enum lg_lang *out)
{
	if (!strcmp(arg, "en")) {
		*out = LG_LANG_EN;
	} else if (!strcmp(arg, "ko")) {
		*out = LG_LANG_KO;
	} else {
		fprintf(stderr, "loadgen: --lang: expected en or ko, got '%s'\n", arg);
		return -1;
	}
	return 0;
}

/* Options that do not fit a plain int or double. Returns 0, -1 on error. */
static int apply_other(struct lg_options *opt, int c, const char *arg)
{
	switch (c) {
	case OPT_HOST:
		opt->host = arg;
		return 0;
	case OPT_USER_FMT:
		opt->user_fmt = arg;
		return check_fmt("user-fmt", arg);
	case OPT_PASSWORD:
		opt->password = arg;
		return 0;
	case OPT_TOPIC_FMT:
		opt->topic_fmt = arg;
		return check_fmt("topic-fmt", arg);
	case OPT_CLOSED:
		opt->mode = LG_MODE_CLOSED;
		return 0;
	case OPT_LANG:
		return parse_lang(arg, &opt->lang);
	case OPT_PROTOCOL:
		return parse_protocol(arg, &opt->protocol);
	case OPT_ID_PREFIX:
		opt->id_prefix = arg;
		if (strlen(arg) <= 64)
			return 0;
		fprintf(stderr, "loadgen: --id-prefix: at most 64 bytes\n");
		return -1;
	case OPT_JSON:
		opt->json = true;
		return 0;
	case OPT_PLAN:
		opt->plan = true;
		return 0;
	case OPT_SMOKE:
		return 0; /* applied before parsing */
	default:
		return -1;
	}
}

/* Integer and real options. Returns 1 when c is not one of them. */
static int apply_number(struct lg_options *opt, int c, const char *arg)
{
	switch (c) {
	case OPT_PORT: return parse_int("port", arg, 1, 65535, &opt->port);
	case OPT_SUB_PORT: return parse_int("sub-port", arg, 1, 65535, &opt->sub_port);
	case OPT_ROOMS: return parse_int("rooms", arg, 0, 1000000, &opt->rooms);
	case OPT_PUBS: return parse_int("pubs-per-room", arg, 0, 100000, &opt->pubs_per_room);
	case OPT_SUBS: return parse_int("subs-per-room", arg, 0, 100000, &opt->subs_per_room);
	case OPT_WINDOW: return parse_int("window", arg, 1, 65535, &opt->window);
	case OPT_QOS: return parse_int("qos", arg, 0, 1, &opt->qos);
	case OPT_TEXT_BYTES: return parse_int("text-bytes", arg, 1, LG_TEXT_MAX, &opt->text_bytes);
	case OPT_IDLE: return parse_int("idle-clients", arg, 0, 1000000, &opt->idle_clients);
	case OPT_THREADS: return parse_int("threads", arg, 1, 64, &opt->threads);
	case OPT_CONNECT_INFLIGHT: return parse_int("connect-inflight", arg, 1, 100000, &opt->connect_inflight);
	case OPT_KEEPALIVE: return parse_int("keepalive", arg, 5, 65535, &opt->keepalive);
	case OPT_MAX_INFLIGHT: return parse_int("max-inflight", arg, 1, 65535, &opt->max_inflight);
	case OPT_RATE: return parse_double("rate", arg, 0.001, 1e9, &opt->rate);
	case OPT_DURATION: return parse_double("duration", arg, 0, 1e6, &opt->duration);
	case OPT_WARMUP: return parse_double("warmup", arg, 0, 1e6, &opt->warmup);
	case OPT_DRAIN: return parse_double("drain", arg, 0, 1e6, &opt->drain);
	case OPT_CONNECT_TIMEOUT: return parse_double("connect-timeout", arg, 0.1, 1e6, &opt->connect_timeout);
	case OPT_WATCH_PID: return parse_int("watch-pid", arg, 1, INT_MAX, &opt->watch_pid);
	default: return 1;
	}
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], flag))
			return true;
	}
	return false;
}

/* Cross-option rules, applied once everything is read. */
static int finish(struct lg_options *opt, bool rooms_set, bool duration_set)
{
	if (opt->password && !opt->user_fmt)
		opt->user_fmt = "u%d";
	if (opt->idle_clients > 0 && !rooms_set)
		opt->rooms = 0;
	if ((long)opt->rooms * opt->pubs_per_room == 0) {
		opt->mode = LG_MODE_IDLE;
		if (!duration_set)
			opt->duration = 0;
	} else if (opt->duration <= 0) {
		fprintf(stderr, "loadgen: --duration must be > 0 when publishing\n");
		return -1;
	}
	if (opt->mode == LG_MODE_CLOSED && opt->subs_per_room < 1) {
		fprintf(stderr, "loadgen: --closed-loop needs --subs-per-room >= 1\n");
		return -1;
	}
	if ((long)opt->rooms * (opt->pubs_per_room + opt->subs_per_room) +
	    opt->idle_clients > 1000000) {
		fprintf(stderr, "loadgen: too many clients\n");
		return -1;
	}
	if (opt->threads > opt->rooms && opt->threads > 1 && opt->idle_clients == 0)
		opt->threads = opt->rooms > 0 ? opt->rooms : 1;
	return 0;
}

int lg_options_parse(struct lg_options *opt, int argc, char **argv)
{
	bool rooms_set = false, duration_set = false;
	int c, rc;

	set_defaults(opt);
	if (has_flag(argc, argv, "--smoke"))
		set_smoke_defaults(opt);
	for (;;) {
		c = getopt_long(argc, argv, "h", long_options, NULL);
		if (c == -1)
			break;
		if (c == 'h' || c == OPT_HELP) {
			fputs(usage_text, stdout);
			return 1;
		}
		if (c == '?')
			return -1;
		rooms_set |= c == OPT_ROOMS;
		duration_set |= c == OPT_DURATION;
		rc = apply_number(opt, c, optarg);
		if (rc == 1)
			rc = apply_other(opt, c, optarg);
		if (rc)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return finish(opt, rooms_set, duration_set);
}

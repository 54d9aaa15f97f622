/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers of the bridge's push notifications, kept here so they can be
 * unit-tested without curl or OpenSSL: deciding whether an IP address is
 * one the bridge must never call on a user's behalf (the SSRF guard's
 * rules; URLs are read by libcurl itself, in bridge/ssrf.c) and the retry
 * backoff. Base64url for the JWTs is in base64.h.
 */
#ifndef CHAT_PUSHUTIL_H
#define CHAT_PUSHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* Why an address may not be called. NETADDR_PUBLIC is the only good one. */
enum netaddr_class {
	NETADDR_PUBLIC = 0,
	NETADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
	NETADDR_LOOPBACK,    /* 127/8, ::1 */
	NETADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fec0::/10 */
	NETADDR_CGNAT,       /* 100.64/10 */
	NETADDR_LINKLOCAL,   /* 169.254/16, fe80::/10 */
	NETADDR_MULTICAST,   /* 224/4, ff00::/8, broadcast */
	NETADDR_ULA,         /* fc00::/7 */
	NETADDR_RESERVED,    /* documentation, benchmarking, 240/4, IETF, ::/96 */
};

/*
 * Classifies an AF_INET or AF_INET6 socket address. IPv4 addresses carried
 * in IPv6 (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are
 * classified by the IPv4 address inside. Other families: NETADDR_RESERVED.
 */
enum netaddr_class netaddr_classify(const struct sockaddr *sa);

/* The same for a numeric host string; CHAT_ERR_INVAL if it is not one. */
int netaddr_classify_text(const char *host, enum netaddr_class *out);

/* A short English name of the class ("loopback", ...). */
const char *netaddr_class_name(enum netaddr_class c);

/*
 * The delay before retry number attempt (1 = the first retry): base_ms
 * doubled per attempt, capped at max_ms, then "equal jitter": half fixed,
 * half from rnd, so bridges that failed together do not retry together.
 */
uint64_t backoff_delay_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms, uint32_t rnd);

#endif

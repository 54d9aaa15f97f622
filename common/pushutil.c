/* SPDX-License-Identifier: MIT */
/*
 * Address classification (the SSRF guard's rules) and backoff for the bridge's push notifications. See pushutil.h.
 */
#include "pushutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chat_err.h"

struct v4_rule {
	uint32_t net, mask;
	enum netaddr_class cls;
};

static const struct v4_rule v4_rules[] = {
    {0x00000000u, 0xff000000u, NETADDR_UNSPECIFIED}, /* 0/8 "this network" */
    {0x0a000000u, 0xff000000u, NETADDR_PRIVATE},     /* 10/8 */
    {0x64400000u, 0xffc00000u, NETADDR_CGNAT},       /* 100.64/10 */
    {0x7f000000u, 0xff000000u, NETADDR_LOOPBACK},    /* 127/8 */
    {0xa9fe0000u, 0xffff0000u, NETADDR_LINKLOCAL},   /* 169.254/16 */
    {0xac100000u, 0xfff00000u, NETADDR_PRIVATE},     /* 172.16/12 */
    {0xc0000000u, 0xffffff00u, NETADDR_RESERVED},    /* 192.0.0/24 IETF */
    {0xc0000200u, 0xffffff00u, NETADDR_RESERVED},    /* 192.0.2/24 TEST-NET-1 */
    {0xc0a80000u, 0xffff0000u, NETADDR_PRIVATE},     /* 192.168/16 */
    {0xc6120000u, 0xfffe0000u, NETADDR_RESERVED},    /* 198.18/15 benchmarking */
    {0xc6336400u, 0xffffff00u, NETADDR_RESERVED},    /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100u, 0xffffff00u, NETADDR_RESERVED},    /* 203.0.113/24 TEST-NET-3 */
    {0xffffffffu, 0xffffffffu, NETADDR_MULTICAST},   /* broadcast */
    {0xe0000000u, 0xf0000000u, NETADDR_MULTICAST},   /* 224/4 */
    {0xf0000000u, 0xf0000000u, NETADDR_RESERVED},    /* 240/4 */
};

static enum netaddr_class classify_v4(uint32_t a)
{
	for (size_t i = 0; i < sizeof(v4_rules) / sizeof(v4_rules[0]); i++) {
		if ((a & v4_rules[i].mask) == v4_rules[i].net) return v4_rules[i].cls;
	}
	return NETADDR_PUBLIC;
}

static uint32_t v4_at(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i]) return false;
	}
	return true;
}

static enum netaddr_class classify_v6(const unsigned char *b)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) return classify_v4(v4_at(b + 12));
	if (b[0] == 0x20 && b[1] == 0x02) return classify_v4(v4_at(b + 2)); /* 6to4 */
	if (all_zero(b, 15))
		return b[15] == 1 ? NETADDR_LOOPBACK : b[15] == 0 ? NETADDR_UNSPECIFIED : NETADDR_RESERVED;
	if (all_zero(b, 12)) return NETADDR_RESERVED; /* IPv4-compatible, deprecated */
	if (b[0] == 0xff) return NETADDR_MULTICAST;
	if ((b[0] & 0xfe) == 0xfc) return NETADDR_ULA;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return NETADDR_LINKLOCAL;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return NETADDR_PRIVATE; /* site-local */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return NETADDR_RESERVED;
	return NETADDR_PUBLIC;
}

enum netaddr_class netaddr_classify(const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return classify_v4(ntohl(in->sin_addr.s_addr));
	}
	if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return classify_v6(in6->sin6_addr.s6_addr);
	}
	return NETADDR_RESERVED;
}

int netaddr_classify_text(const char *host, enum netaddr_class *out)
{
	unsigned char b[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, host, b) == 1) {
		*out = classify_v4(v4_at(b));
		return CHAT_OK;
	}
	if (inet_pton(AF_INET6, host, b) == 1) {
		*out = classify_v6(b);
		return CHAT_OK;
	}
	return CHAT_ERR_INVAL;
}

const char *netaddr_class_name(enum netaddr_class c)
{
	static const char *const names[] = {"public",     "unspecified", "loopback",     "private", "CGNAT",
	                                    "link-local", "multicast",   "unique-local", "reserved"};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

uint64_t backoff_delay_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms, uint32_t rnd)
{
	uint64_t d = base_ms ? base_ms : 1;
	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms) d = max_ms;
	uint64_t half = d / 2;
	return d - half + (half ? rnd % (half + 1) : 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * The SSRF guard for endpoints that users supply (webhook and UnifiedPush
 * URLs): without it, registering http://127.0.0.1:27017/ or a cloud
 * metadata address would make the bridge call into its own network.
 * Checked twice: at registration (scheme, literal addresses, operator
 * hosts) for a quick answer, and at send time on the address curl is
 * about to connect to (CURLOPT_OPENSOCKETFUNCTION), after its own DNS
 * lookup, so a name that resolves, or later rebinds, to a private address
 * cannot pass. User endpoints are called directly (no proxy from the
 * environment), so the address checked is the address called. Operator
 * URLs (webhook_url, fcm_*, apns_*) are trusted; a user endpoint on one of
 * their hosts is refused, so it cannot ride on a connection to them that
 * curl would reuse. push_allow_private turns the address checks off,
 * push_allow_http allows http:// endpoints.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "bridge.h"
#include "chat_err.h"
#include "push_int.h"

int ssrf_check_url(struct push *p, const char *url, char *why, size_t whylen)
{
	struct url_parts u;
	if (url_parse(url, &u) != CHAT_OK) {
		snprintf(why, whylen, "endpoint is not an http(s) URL");
		return -1;
	}
	if (!u.https && !p->cfg.allow_http) {
		snprintf(why, whylen, "endpoint must use https");
		return -1;
	}
	if (p->cfg.allow_private) return 0;
	enum netaddr_class c;
	if (u.host_is_ip && netaddr_classify_text(u.host, &c) == CHAT_OK && c != NETADDR_PUBLIC) {
		snprintf(why, whylen, "endpoint address is %s", netaddr_class_name(c));
		return -1;
	}
	for (size_t i = 0; i < p->ntrusted; i++) {
		if (strcasecmp(p->trusted[i].host, u.host) == 0) {
			snprintf(why, whylen, "endpoint host is reserved");
			return -1;
		}
	}
	return 0;
}

static curl_socket_t open_checked(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct push_job *j = ud;
	(void)purpose;
	enum netaddr_class c = netaddr_classify(&addr->addr);
	if (c != NETADDR_PUBLIC && !j->p->cfg.allow_private) {
		j->blocked = true;
		j->blocked_class = c;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

void ssrf_guard(struct push *p, struct push_job *j)
{
	(void)p;
	j->blocked = false;
	curl_easy_setopt(j->easy, CURLOPT_OPENSOCKETFUNCTION, open_checked);
	curl_easy_setopt(j->easy, CURLOPT_OPENSOCKETDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, p->cfg.allow_http ? "http,https" : "https");
}

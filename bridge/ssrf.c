/* SPDX-License-Identifier: MIT */
/*
 * The SSRF guard for endpoints that users supply (webhook and UnifiedPush
 * URLs): without it, registering http://127.0.0.1:27017/ or a cloud
 * metadata address would make the bridge call into its own network.
 *
 * At registration the URL is read by libcurl's own parser (curl_url), so
 * the host judged is the host curl will use: percent-decoded and with
 * numeric IPv4 normalised, since to curl 127.0.0.%31, 2130706433, 0x7f.1
 * and 127.1 all are 127.0.0.1, and 012.0.0.5 is 10.0.0.5. A literal
 * address that is not public is refused, and so is a host of one of the
 * operator's URLs (webhook_url, fcm_*, apns_base_url), which get signed or
 * authenticated requests.
 *
 * At send time, for names (and anything that got into `devices` before the
 * guard was on), the address curl is about to connect to, after its own
 * DNS lookup, is checked before the socket opens
 * (CURLOPT_OPENSOCKETFUNCTION), so no packet reaches a private address;
 * and the address of the connection the request is about to go out on is
 * checked again (CURLOPT_PREREQFUNCTION), which holds even for a
 * connection this transfer did not open. There is none such: a user's
 * transfer never takes a connection from curl's pool and never leaves one
 * in it (CURLOPT_FRESH_CONNECT, CURLOPT_FORBID_REUSE), so it cannot ride on
 * the operator's keep-alive connection to the same address, nor an
 * operator request on its. User endpoints are called directly (no proxy
 * from the environment), so the address checked is the address called.
 * push_allow_private turns the address and host checks off, push_allow_http
 * allows http:// endpoints.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge.h"
#include "chat_err.h"
#include "push_int.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "the SSRF guard needs libcurl 7.85 or newer (CURLOPT_PREREQFUNCTION, CURLOPT_PROTOCOLS_STR)"
#endif

/* Printable ASCII without blanks or backslash. */
static bool url_chars_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == '\\') return false;
	}
	return true;
}

/* Copies curl's host into out: no brackets, no trailing dot, lower case;
 * only letters, digits and ".-_:" (IPv6). */
static bool copy_host(const char *host, struct push_url *out)
{
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n > 1 && host[n - 1] == '.') n--;
	if (n == 0 || n > PUSH_HOST_MAX) return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];
		if (!isalnum(c) && !strchr(".-_:", c)) return false;
		out->host[i] = (char)tolower(c);
	}
	out->host[n] = '\0';
	return true;
}

const char *ssrf_url_parse(const char *url, struct push_url *out)
{
	const char *why = "is not an http:// or https:// URL";
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL;
	memset(out, 0, sizeof(*out));
	CURLU *u = curl_url();
	if (!u) return "could not be parsed (out of memory)";
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto cleanup;
	out->https = strcmp(scheme, "https") == 0;
	if (!out->https && strcmp(scheme, "http") != 0) goto cleanup;
	out->port = strtol(port, NULL, 10);
	if (out->port < 1 || out->port > 65535) goto cleanup;
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
		why = "has a user name or password";
		goto cleanup;
	}
	why = copy_host(host, out) ? NULL : "has a host that is not ASCII letters, digits, '.', '-' or '_'";
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return why;
}

int ssrf_check_url(struct push *p, const char *url, char *why, size_t whylen)
{
	struct push_url u;
	const char *bad = url_chars_ok(url) ? ssrf_url_parse(url, &u) : "has blanks, controls or non-ASCII";
	if (bad) {
		snprintf(why, whylen, "endpoint %s", bad);
		return -1;
	}
	if (!u.https && !p->cfg.allow_http) {
		snprintf(why, whylen, "endpoint must use https");
		return -1;
	}
	if (p->cfg.allow_private) return 0;
	enum netaddr_class c;
	if (netaddr_classify_text(u.host, &c) == CHAT_OK && c != NETADDR_PUBLIC) {
		snprintf(why, whylen, "endpoint address is %s", netaddr_class_name(c));
		return -1;
	}
	for (size_t i = 0; i < p->ntrusted; i++) {
		if (strcmp(p->trusted[i].host, u.host) == 0) {
			snprintf(why, whylen, "endpoint host is reserved");
			return -1;
		}
	}
	return 0;
}

static void block(struct push_job *j, enum netaddr_class c)
{
	j->blocked = true;
	j->blocked_class = c;
}

static curl_socket_t open_checked(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct push_job *j = ud;
	(void)purpose;
	enum netaddr_class c = netaddr_classify(&addr->addr);
	if (c != NETADDR_PUBLIC && !j->p->cfg.allow_private) {
		block(j, c);
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* The connection is up (new or not): its peer must be public too. */
static int send_checked(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct push_job *j = ud;
	enum netaddr_class c;
	(void)local_ip, (void)primary_port, (void)local_port;
	if (j->p->cfg.allow_private) return CURL_PREREQFUNC_OK;
	if (netaddr_classify_text(primary_ip, &c) != CHAT_OK) c = NETADDR_RESERVED;
	if (c == NETADDR_PUBLIC) return CURL_PREREQFUNC_OK;
	block(j, c);
	return CURL_PREREQFUNC_ABORT;
}

void ssrf_guard(struct push *p, struct push_job *j)
{
	CURL *e = j->easy;
	j->blocked = false;
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_checked);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, send_checked);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, j);
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, p->cfg.allow_http ? "http,https" : "https");
}

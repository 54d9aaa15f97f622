/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the plugin's JWT checker (plugin/auth_jwt.c, with
 * the base64 decoder of auth.c), behind the broker stubs. The key is a
 * fixed HS256 secret; "now" is fixed too. The first byte picks the mode:
 *
 *   0  the rest is the token, as a client could send any password;
 *   1  the rest is header NUL claims NUL edits: both parts are signed
 *      here with the secret (jt_sign), then each edit (position, byte)
 *      overwrites one byte of the token;
 *   2  bytes pick each claim from a list of good and bad forms (sub, exp,
 *      nbf, iss, aud, the admin claim, names and values with \u0000, ...);
 *      the rest goes in raw before the closing brace; signed with the
 *      secret;
 *   3  as 2, signed with another secret.
 *
 * Bit 4 of the first byte picks the configuration: iss, aud and the admin
 * claim at a dotted path, or none of them and the admin claim "admin".
 *
 * Oracle, for every token the checker accepts: it has three parts that
 * decode (base64url or base64, padding optional, as auth.h says); the
 * HMAC-SHA256 of the first two under the secret, computed here with
 * OpenSSL's EVP_Q_mac, is the third; the header's alg is HS256 and it has
 * no crit; the claims have sub equal to the username, an exp after now, no
 * nbf after now, the configured iss and aud; the admin flag and the expiry
 * returned agree with the claims. Claims are read with the reference
 * parser (refjson.c), the first of repeated names as cJSON does; claims it
 * refuses but cJSON takes (e.g. bytes after the object) are checked with
 * cJSON instead. Strings and names are compared with their full length,
 * so a claim the checker reads (sub, iss, aud, the admin claim, alg) must
 * not hold U+0000.
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "broker_stubs.h"
#include "jwt_sign.h"
#include "refjson.h"
#include "strbuf.h"

#define SECRET "fuzz-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
#define WRONG_SECRET "fuzz-secret-0123456789-abcdefghijklmnopqrstuvwxyZ"
#define NOW_MS 1700000000000ull
#define ISSUER "https://issuer.example"
#define AUDIENCE "chat"

static struct auth_jwt *jwt;
static struct chat_auth_config cfg_full, cfg_plain;

/* ---- set-up ---- */

static void load_key(void)
{
	char dir[] = "/tmp/fuzz_jwt.XXXXXX", path[64];
	if (!mkdtemp(dir)) abort();
	snprintf(path, sizeof(path), "%s/secret", dir);
	FILE *f = fopen(path, "w");
	if (!f || fputs(SECRET "\n", f) < 0 || fclose(f) != 0) abort();
	cfg_full = (struct chat_auth_config){.methods = CHAT_AUTH_JWT, .jwt_alg = CHAT_JWT_HS256, .jwt_key_file = path,
					     .jwt_issuer = ISSUER, .jwt_audience = AUDIENCE,
					     .jwt_admin_claim = "realm_access.roles"};
	cfg_plain = (struct chat_auth_config){.methods = CHAT_AUTH_JWT, .jwt_alg = CHAT_JWT_HS256,
					      .jwt_key_file = path, .jwt_admin_claim = "admin"};
	if (auth_jwt_load(&cfg_full, &jwt) != MOSQ_ERR_SUCCESS) abort();
	unlink(path);
	rmdir(dir);
	cfg_full.jwt_key_file = cfg_plain.jwt_key_file = NULL;
}

/* ---- reading a token as the oracle ---- */

/* Names and strings as the checker must see them (see the top). */
static bool same(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* The first member named name, as cJSON's lookup finds it. */
static const struct refjson *claim(const struct refjson *obj, const char *name)
{
	for (size_t i = 0; obj && obj->type == REFJSON_OBJECT && i < obj->count; i++) {
		if (same(obj->items[i].key, obj->items[i].key_len, name)) return &obj->items[i];
	}
	return NULL;
}

static bool string_is(const struct refjson *v, const char *want)
{
	return v && v->type == REFJSON_STRING && same(v->str, v->str_len, want);
}

static int b64_value(char ch)
{
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(std, ch) : NULL;
	if (p) return (int)(p - std);
	return ch == '-' ? 62 : ch == '_' ? 63 : -1;
}

/* base64 of either alphabet, '=' padding optional: the bytes into a new
 * buffer (NUL after them), or NULL. */
static unsigned char *b64_decode(const char *s, size_t n, size_t *out_len)
{
	while (n > 0 && s[n - 1] == '=') n--;
	if (n % 4 == 1) return NULL;
	unsigned char *out = malloc(n * 3 / 4 + 1);
	size_t o = 0;
	if (!out) abort();
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;
		size_t k = 0;
		for (; k < 4 && i + k < n; k++) {
			int d = b64_value(s[i + k]);
			if (d < 0) {
				free(out);
				return NULL;
			}
			v |= (uint32_t)d << (18 - 6 * k);
		}
		for (size_t b = 0; b + 1 < k; b++) out[o++] = (unsigned char)(v >> (16 - 8 * b));
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* The signature is the HMAC of "header.claims" under the secret. */
static void check_signature(const char *token, size_t signed_len, const char *sig, size_t sig_len)
{
	size_t n = 0, mac_len = 0;
	unsigned char mac[32];
	unsigned char *want = b64_decode(sig, sig_len, &n);
	if (!want) abort();
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, SECRET, strlen(SECRET), (const unsigned char *)token,
		       signed_len, mac, sizeof(mac), &mac_len))
		abort();
	if (n != mac_len || memcmp(want, mac, n) != 0) abort();
	free(want);
}

static bool says_admin_word(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t w = 0;
		while (i + w < n && s[i + w] != ' ') w++;
		if (w == 5 && memcmp(s + i, "admin", 5) == 0) return true;
		i += w + 1;
	}
	return false;
}

/* The admin claim at a dotted path: true, a string saying admin (a word of
 * a space-separated list), or an array holding "admin". */
static bool ref_admin(const struct refjson *claims, const char *path)
{
	const struct refjson *v = claims;
	char name[64];
	for (const char *p = path; v && *p;) {
		size_t n = strcspn(p, ".");
		memcpy(name, p, n);
		name[n] = '\0';
		v = claim(v, name);
		p += n + (p[n] == '.');
	}
	if (!v) return false;
	if (v->type == REFJSON_TRUE) return true;
	if (v->type == REFJSON_STRING) return says_admin_word(v->str, v->str_len);
	for (size_t i = 0; v->type == REFJSON_ARRAY && i < v->count; i++) {
		if (string_is(&v->items[i], "admin")) return true;
	}
	return false;
}

static double number(const struct refjson *v)
{
	char text[400];
	if (v->span_len >= sizeof(text)) return strtod("1e999", NULL); /* too long to matter: huge */
	memcpy(text, v->span, v->span_len);
	text[v->span_len] = '\0';
	return strtod(text, NULL);
}

static void check_claims(const struct refjson *cl, const struct chat_auth_config *cfg, const char *user,
			 const struct auth_jwt_claims *got)
{
	const struct refjson *exp = claim(cl, "exp"), *nbf = claim(cl, "nbf"), *aud = claim(cl, "aud");
	double now = (double)NOW_MS / 1000.0;
	if (!string_is(claim(cl, "sub"), user)) abort();
	if (!exp || exp->type != REFJSON_NUMBER || !(number(exp) > now)) abort();
	if (nbf && (nbf->type != REFJSON_NUMBER || number(nbf) > now)) abort();
	if (cfg->jwt_issuer && !string_is(claim(cl, "iss"), cfg->jwt_issuer)) abort();
	if (cfg->jwt_audience) {
		bool ok = string_is(aud, cfg->jwt_audience);
		for (size_t i = 0; aud && aud->type == REFJSON_ARRAY && i < aud->count; i++)
			ok = ok || string_is(&aud->items[i], cfg->jwt_audience);
		if (!ok) abort();
	}
	if (got->admin != ref_admin(cl, cfg->jwt_admin_claim)) abort();
	if (got->exp_ms < NOW_MS) abort();
}

/* Claims the reference refuses but cJSON reads: sub, exp and nbf as cJSON
 * sees them. */
static void check_claims_cjson(const unsigned char *text, size_t len, const char *user)
{
	cJSON *cl = cJSON_ParseWithLength((const char *)text, len);
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(cl, "sub"), *exp = cJSON_GetObjectItemCaseSensitive(cl, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(cl, "nbf");
	double now = (double)NOW_MS / 1000.0;
	if (!cJSON_IsString(sub) || strcmp(sub->valuestring, user) != 0) abort();
	if (!cJSON_IsNumber(exp) || !(exp->valuedouble > now)) abort();
	if (nbf && (!cJSON_IsNumber(nbf) || nbf->valuedouble > now)) abort();
	cJSON_Delete(cl);
}

/* A header the reference refuses but cJSON reads: alg and crit as cJSON
 * sees them. */
static void check_header_cjson(const unsigned char *text, size_t len)
{
	cJSON *h = cJSON_ParseWithLength((const char *)text, len);
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0) abort();
	if (cJSON_GetObjectItemCaseSensitive(h, "crit")) abort();
	cJSON_Delete(h);
}

/* Decodes part [p, p+n) and parses it; *text gets the bytes (free them). */
static struct refjson *part_json(const char *p, size_t n, unsigned char **text, size_t *len)
{
	*text = b64_decode(p, n, len);
	if (!*text) abort();
	return refjson_parse((const char *)*text, *len, 1000);
}

/* Everything an accepted token must be (see the top). */
static void check_accepted(const char *token, const struct chat_auth_config *cfg, const char *user,
			   const struct auth_jwt_claims *got)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d2 || strchr(d2 + 1, '.') || strlen(token) > 8192) abort();
	check_signature(token, (size_t)(d2 - token), d2 + 1, strlen(d2 + 1));
	unsigned char *htext, *ctext;
	size_t hlen, clen;
	struct refjson *h = part_json(token, (size_t)(d1 - token), &htext, &hlen);
	struct refjson *cl = part_json(d1 + 1, (size_t)(d2 - d1 - 1), &ctext, &clen);
	if (h && (!string_is(claim(h, "alg"), "HS256") || claim(h, "crit"))) abort();
	if (!h) check_header_cjson(htext, hlen);
	if (cl) check_claims(cl, cfg, user, got);
	else check_claims_cjson(ctext, clen, user);
	refjson_free(h);
	refjson_free(cl);
	free(htext);
	free(ctext);
}

/* ---- building tokens ---- */

static const char *const headers[] = {
	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"alg\":\"HS256\"}", "{\"alg\":\"none\"}", "{\"alg\":\"RS256\"}",
	"{\"alg\":\"HS256\\u0000x\"}", "{\"typ\":\"JWT\"}", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
	"{\"alg\":\"hs256\"}", "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\\u0000\":\"HS256\"}",
	"{\"alg\":\"HS\\u0032\\u00356\"}", "[\"HS256\"]", "{\"alg\":\"HS256\"} x",
};

/* Each claim: the text of a member (with its leading comma) or "" for none. */
static const char *const subs[] = {
	",\"sub\":\"jwtuser\"", ",\"sub\":\"jwtuser\\u0000x\"", ",\"sub\":\"jwtuse\"", ",\"sub\":\"JWTUSER\"", "",
	",\"sub\":5", ",\"sub\":\"jwt\\u0075ser\"", ",\"sub\":\"jwtuser \"", ",\"sub\":\"other\",\"sub\":\"jwtuser\"",
	",\"sub\\u0000x\":\"jwtuser\"", ",\"sub\":\"admin1\"", ",\"sub\":[\"jwtuser\"]",
};
static const char *const exps[] = {
	",\"exp\":17000000003600", ",\"exp\":1700003600", ",\"exp\":1700000000", ",\"exp\":1699999999", "",
	",\"exp\":\"1700003600\"", ",\"exp\":0", ",\"exp\":-5", ",\"exp\":1e300", ",\"exp\":1700000000.5",
	",\"exp\":null", ",\"exp\":1e999", ",\"exp\":1700000000.0005",
};
static const char *const nbfs[] = {
	"", ",\"nbf\":1699999990", ",\"nbf\":1700000010", ",\"nbf\":1700000000", ",\"nbf\":\"x\"", ",\"nbf\":null",
	",\"nbf\":1700000000.001",
};
static const char *const isss[] = {
	"", ",\"iss\":\"" ISSUER "\"", ",\"iss\":\"" ISSUER "\\u0000x\"", ",\"iss\":\"other\"", ",\"iss\":5",
	",\"iss\":\"https:\\/\\/issuer.example\"",
};
static const char *const auds[] = {
	"", ",\"aud\":\"chat\"", ",\"aud\":[\"x\",\"chat\"]", ",\"aud\":[\"x\"]", ",\"aud\":\"chat\\u0000x\"",
	",\"aud\":[\"chat\\u0000\"]", ",\"aud\":5", ",\"aud\":[]", ",\"aud\":[5,\"chat\"]",
};
/* Values of the admin claim; placed at "admin" and "realm_access.roles". */
static const char *const admins[] = {
	NULL, "true", "\"admin\"", "\"user admin\"", "[\"admin\"]", "[\"admin\\u0000x\"]", "\"admin\\u0000x\"",
	"\"administrator\"", "false", "[\"user admin\"]", "\"  admin  \"",
};

#define PICK(list, byte) list[(byte) % (sizeof(list) / sizeof(list[0]))]

/* The claims of mode 2 and 3, into sb. */
static void template_claims(struct strbuf *sb, const uint8_t *b, const uint8_t *rest, size_t rest_len)
{
	const char *admin = PICK(admins, b[5]);
	strbuf_puts(sb, "{\"jti\":\"x\"");
	strbuf_puts(sb, PICK(subs, b[0]));
	strbuf_puts(sb, PICK(exps, b[1]));
	strbuf_puts(sb, PICK(nbfs, b[2]));
	strbuf_puts(sb, PICK(isss, b[3]));
	strbuf_puts(sb, PICK(auds, b[4]));
	if (admin) {
		char member[96];
		snprintf(member, sizeof(member), b[5] & 0x80 ? ",\"realm_access\":{\"roles\":%s}" : ",\"admin\":%s", admin);
		strbuf_puts(sb, member);
	}
	for (size_t i = 0; i < rest_len; i++) {
		if (rest[i]) strbuf_putc(sb, (char)rest[i]);
	}
	strbuf_putc(sb, '}');
}

/* Mode 1's input: header, claims and the edits after them. */
static char *signed_token(const uint8_t *d, size_t n)
{
	const uint8_t *z1 = memchr(d, 0, n), *z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - d)) : NULL;
	if (!z1) return NULL;
	char *header = strndup((const char *)d, (size_t)(z1 - d));
	char *claims = strndup((const char *)z1 + 1, z2 ? (size_t)(z2 - z1 - 1) : n - (size_t)(z1 + 1 - d));
	if (!header || !claims) abort();
	char *token = jt_sign("HS256", header, claims, NULL, SECRET, strlen(SECRET));
	size_t len = strlen(token);
	for (const uint8_t *e = z2 ? z2 + 1 : d + n; e + 1 < d + n && len > 0; e += 2) {
		if (e[1]) token[e[0] % len] = (char)e[1];
	}
	free(header);
	free(claims);
	return token;
}

static char *template_token(const uint8_t *d, size_t n, bool wrong_key)
{
	uint8_t b[7] = {0};
	memcpy(b, d, n < sizeof(b) ? n : sizeof(b));
	struct strbuf sb;
	strbuf_init(&sb);
	template_claims(&sb, b + 1, d + (n < sizeof(b) ? n : sizeof(b)), n < sizeof(b) ? 0 : n - sizeof(b));
	const char *secret = wrong_key ? WRONG_SECRET : SECRET;
	char *token = jt_sign("HS256", PICK(headers, b[0]), sb.buf, NULL, secret, strlen(secret));
	strbuf_free(&sb);
	return token;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	if (!jwt) load_key();
	const struct chat_auth_config *cfg = data[0] & 0x10 ? &cfg_plain : &cfg_full;
	const char *user = data[0] & 0x20 ? "admin1" : "jwtuser";
	char *token = NULL;
	switch (data[0] & 3) {
	case 0: token = strndup((const char *)data + 1, size - 1); break;
	case 1: token = signed_token(data + 1, size - 1); break;
	default: token = template_token(data + 1, size - 1, (data[0] & 3) == 3); break;
	}
	if (!token) return 0;
	struct auth_jwt_claims got;
	if (auth_jwt_check(jwt, cfg, user, token, NOW_MS, &got)) check_accepted(token, cfg, user, &got);
	free(token);
	return 0;
}

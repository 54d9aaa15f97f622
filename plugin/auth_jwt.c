/* SPDX-License-Identifier: MIT */
/*
 * JWTs as MQTT passwords, verified with OpenSSL directly. The algorithm
 * is the operator's (plugin_opt_jwt_alg), never the token's: a token whose
 * header names any other algorithm, "none" included, is refused before its
 * signature is looked at, which closes the classic confusion attack (an
 * HS256 token "signed" with the RS256 public key as its secret). The key
 * type is checked at load for the same reason: an HS256 secret file that
 * holds a PEM key, or an RS256 setting with an EC key, stops the broker.
 *
 * Claims: sub must equal the MQTT username; exp is required and enforced;
 * nbf is enforced when present; iss and aud when configured (aud may be a
 * string or an array). cJSON parses the header and claims: this runs once
 * per CONNECT, not per message. A header or claims text with a string
 * holding U+0000 is refused before cJSON sees it (decode_json_part).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "base64.h"
#include "chat.h"
#include "chat_err.h"
#include "json.h"

#define JWT_MAX_LEN 8192
#define JWT_SECRET_MAX 4096

struct auth_jwt {
	enum chat_jwt_alg alg;
	unsigned char *secret; /* HS256 */
	size_t secret_len;
	EVP_PKEY *pkey;        /* RS256, ES256 */
};

static const char *const alg_names[] = {
	[CHAT_JWT_NONE] = "none", [CHAT_JWT_HS256] = "HS256", [CHAT_JWT_RS256] = "RS256", [CHAT_JWT_ES256] = "ES256",
};

void auth_jwt_free(struct auth_jwt *j)
{
	if (!j) return;
	if (j->secret) OPENSSL_clear_free(j->secret, j->secret_len);
	EVP_PKEY_free(j->pkey);
	mosquitto_free(j);
}

static unsigned char *read_small_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) return NULL;
	unsigned char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (buf && n > max) {
		OPENSSL_clear_free(buf, max + 1);
		errno = EFBIG;
		return NULL;
	}
	*len = n;
	return buf;
}

/* HS256: the file's bytes, less trailing CR/LF, at least 32 bytes. */
static int load_secret(struct auth_jwt *j, const char *path)
{
	size_t len = 0;
	j->secret = read_small_file(path, JWT_SECRET_MAX, &len);
	if (!j->secret) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot read jwt_key_file %s: %s", path, strerror(errno));
		return MOSQ_ERR_INVAL;
	}
	while (len && (j->secret[len - 1] == '\n' || j->secret[len - 1] == '\r')) len--;
	j->secret_len = len;
	if (len >= 10 && memcmp(j->secret, "-----BEGIN", 10) == 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
				     CHAT_LOG_PREFIX "jwt_key_file %s holds a PEM key but jwt_alg is HS256: refusing a "
						     "setting that invites algorithm confusion",
				     path);
		return MOSQ_ERR_INVAL;
	}
	if (len < 32) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "jwt_key_file %s: an HS256 secret needs 32 bytes or more",
				     path);
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

/* RS256/ES256: a PEM public key of the matching type (P-256 for ES256). */
static int load_public_key(struct auth_jwt *j, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "cannot read jwt_key_file %s: %s", path, strerror(errno));
		return MOSQ_ERR_INVAL;
	}
	j->pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	bool ok = j->pkey != NULL;
	if (ok && j->alg == CHAT_JWT_RS256) {
		ok = EVP_PKEY_get_base_id(j->pkey) == EVP_PKEY_RSA && EVP_PKEY_get_bits(j->pkey) >= 2048;
	} else if (ok) {
		char group[32] = "";
		ok = EVP_PKEY_get_base_id(j->pkey) == EVP_PKEY_EC &&
		     EVP_PKEY_get_group_name(j->pkey, group, sizeof(group), NULL) == 1 &&
		     strcmp(group, "prime256v1") == 0;
	}
	if (!ok) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "jwt_key_file %s: not a PEM public key for %s%s", path,
				     alg_names[j->alg], j->alg == CHAT_JWT_RS256 ? " (RSA, 2048 bits or more)" : " (EC P-256)");
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

int auth_jwt_load(const struct chat_auth_config *cfg, struct auth_jwt **out)
{
	if (cfg->jwt_alg == CHAT_JWT_NONE || !cfg->jwt_key_file) {
		mosquitto_log_printf(MOSQ_LOG_ERR, CHAT_LOG_PREFIX "plugin_opt_auth jwt needs plugin_opt_jwt_alg and "
								   "plugin_opt_jwt_key_file");
		return MOSQ_ERR_INVAL;
	}
	struct auth_jwt *j = mosquitto_calloc(1, sizeof(*j));
	if (!j) return MOSQ_ERR_NOMEM;
	j->alg = cfg->jwt_alg;
	int rc = j->alg == CHAT_JWT_HS256 ? load_secret(j, cfg->jwt_key_file) : load_public_key(j, cfg->jwt_key_file);
	if (rc != MOSQ_ERR_SUCCESS) {
		auth_jwt_free(j);
		return rc;
	}
	*out = j;
	return MOSQ_ERR_SUCCESS;
}

static bool b64url_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
	       ch == '_';
}

bool auth_looks_like_jwt(const char *s)
{
	int dots = 0;
	if (!s || strncmp(s, "eyJ", 3) != 0) return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') dots++;
		else if (!b64url_char(*p)) return false;
	}
	return dots == 2;
}

/* ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER. */
static bool verify_es256(EVP_PKEY *key, const unsigned char *data, size_t len, const unsigned char *sig,
			 size_t sig_len)
{
	if (sig_len != 64) return false;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	int der_len = -1;
	if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL; /* owned by es now */
		der_len = i2d_ECDSA_SIG(es, &der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	bool ok = false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md && der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1)
		ok = EVP_DigestVerify(md, der, (size_t)der_len, data, len) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return ok;
}

static bool verify_signature(const struct auth_jwt *j, const unsigned char *data, size_t len,
			     const unsigned char *sig, size_t sig_len)
{
	if (j->alg == CHAT_JWT_HS256) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int mac_len = 0;
		if (!HMAC(EVP_sha256(), j->secret, (int)j->secret_len, data, len, mac, &mac_len)) return false;
		return sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
	}
	if (j->alg == CHAT_JWT_ES256) return verify_es256(j->pkey, data, len, sig, sig_len);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, j->pkey) == 1 &&
		  EVP_DigestVerify(md, sig, sig_len, data, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* Decodes one base64url part and parses it as a JSON object (caller
 * frees); NULL with *why set. The text must pass the project's scanner
 * first: cJSON would read "sub":"jwtuser\u0000x" as "jwtuser", and the
 * same for iss and aud. */
static cJSON *decode_json_part(const char *part, size_t len, const char **why)
{
	char buf[JWT_MAX_LEN];
	long n = base64_decode(part, len, (unsigned char *)buf, sizeof(buf) - 1, BASE64_URL);
	int rc = n < 0 ? CHAT_ERR_JSON : json_check_cstrings(buf, (size_t)n, NULL);
	if (rc == CHAT_ERR_INVAL) *why = "a string holds U+0000";
	if (rc != CHAT_OK) return NULL;
	buf[n] = '\0';
	cJSON *obj = cJSON_ParseWithLength(buf, (size_t)n);
	if (obj && !cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		obj = NULL;
	}
	return obj;
}

/* The header must name exactly the configured algorithm and no critical
 * extension we would not understand. */
static const char *check_header(const struct auth_jwt *j, const cJSON *h)
{
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!cJSON_IsString(alg)) return "no alg in header";
	if (strcmp(alg->valuestring, alg_names[j->alg]) != 0) return "alg is not the configured one";
	if (cJSON_GetObjectItemCaseSensitive(h, "crit")) return "crit header not supported";
	return NULL;
}

/* True when the string is "admin" or has "admin" as a space-separated word. */
static bool string_says_admin(const char *s)
{
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, " ");
		if (n == 5 && memcmp(p, "admin", 5) == 0) return true;
		p += n;
		while (*p == ' ') p++;
	}
	return false;
}

/* The admin claim: path is a claim name, or a dotted path into objects
 * ("realm_access.roles"). Admin when the value is true, a string saying
 * admin, or an array holding such a string. */
static bool claim_admin(const cJSON *claims, const char *path)
{
	const cJSON *v = claims;
	char name[128];
	for (const char *p = path; v && *p;) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(name)) return false;
		memcpy(name, p, n);
		name[n] = '\0';
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, name) : NULL;
		p += n;
		if (*p == '.') p++;
	}
	if (!v) return false;
	if (cJSON_IsTrue(v)) return true;
	if (cJSON_IsString(v)) return string_says_admin(v->valuestring);
	const cJSON *item;
	cJSON_ArrayForEach(item, v) {
		if (cJSON_IsString(item) && strcmp(item->valuestring, "admin") == 0) return true;
	}
	return false;
}

static bool aud_matches(const cJSON *aud, const char *want)
{
	if (cJSON_IsString(aud)) return strcmp(aud->valuestring, want) == 0;
	const cJSON *item;
	if (!cJSON_IsArray(aud)) return false;
	cJSON_ArrayForEach(item, aud) {
		if (cJSON_IsString(item) && strcmp(item->valuestring, want) == 0) return true;
	}
	return false;
}

static const char *check_claims(const struct chat_auth_config *cfg, const cJSON *cl, const char *user,
				uint64_t now_ms, struct auth_jwt_claims *out)
{
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(cl, "sub");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(cl, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(cl, "nbf");
	double now = (double)now_ms / 1000.0;
	if (!cJSON_IsString(sub) || strcmp(sub->valuestring, user) != 0) return "sub is not the username";
	if (!cJSON_IsNumber(exp) || exp->valuedouble <= 0) return "no exp";
	if (now >= exp->valuedouble) return "expired";
	if (nbf && (!cJSON_IsNumber(nbf) || now < nbf->valuedouble)) return "not valid yet (nbf)";
	if (cfg->jwt_issuer) {
		const cJSON *iss = cJSON_GetObjectItemCaseSensitive(cl, "iss");
		if (!cJSON_IsString(iss) || strcmp(iss->valuestring, cfg->jwt_issuer) != 0) return "wrong iss";
	}
	if (cfg->jwt_audience && !aud_matches(cJSON_GetObjectItemCaseSensitive(cl, "aud"), cfg->jwt_audience))
		return "wrong aud";
	out->exp_ms = exp->valuedouble >= 1.8e16 ? UINT64_MAX / 2 : (uint64_t)(exp->valuedouble * 1000.0);
	out->admin = cfg->jwt_admin_claim && claim_admin(cl, cfg->jwt_admin_claim);
	return NULL;
}

/* Checks the three parts; returns NULL or why the token is refused. */
static const char *check_token(const struct auth_jwt *j, const struct chat_auth_config *cfg, const char *user,
			       const char *token, uint64_t now_ms, struct auth_jwt_claims *claims)
{
	size_t len = strlen(token);
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (len > JWT_MAX_LEN || !dot2 || strchr(dot2 + 1, '.')) return "not a JWT";
	const char *why = "bad header";
	cJSON *h = decode_json_part(token, (size_t)(dot1 - token), &why);
	if (h) why = check_header(j, h);
	cJSON_Delete(h);
	if (why) return why;
	unsigned char sig[1024];
	long sig_len = base64_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig), BASE64_URL);
	if (sig_len <= 0) return "bad signature encoding";
	if (!verify_signature(j, (const unsigned char *)token, (size_t)(dot2 - token), sig, (size_t)sig_len))
		return "bad signature";
	why = "bad claims";
	cJSON *cl = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &why);
	if (cl) why = check_claims(cfg, cl, user, now_ms, claims);
	cJSON_Delete(cl);
	return why;
}

bool auth_jwt_check(const struct auth_jwt *j, const struct chat_auth_config *cfg, const char *user,
		    const char *token, uint64_t now_ms, struct auth_jwt_claims *claims)
{
	if (!j || !token) return false;
	memset(claims, 0, sizeof(*claims));
	const char *why = check_token(j, cfg, user, token, now_ms, claims);
	if (why) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "token of %s refused: %s", user, why);
		return false;
	}
	return true;
}

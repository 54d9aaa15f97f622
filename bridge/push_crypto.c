/* SPDX-License-Identifier: MIT */
/*
 * The signatures push needs, on OpenSSL 3 (already in the process through
 * libcurl): HMAC-SHA256 for signed webhooks, and compact JWS for the two
 * token schemes, RS256 for FCM's OAuth2 service-account assertion and
 * ES256 for APNs provider tokens. ES256 wants the raw r||s pair, not the
 * DER that OpenSSL produces, so the signature is converted.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "base64.h"
#include "bridge.h"
#include "push_int.h"

void push_hmac_signature(const char *key, const char *data, size_t len, char *out, size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)data, len, mac, &maclen);
	size_t o = (size_t)snprintf(out, cap, "sha256=");
	for (unsigned i = 0; i < maclen && o + 3 <= cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", mac[i]);
}

static EVP_PKEY *key_from_bio(BIO *bio, const char *name, char *why, size_t whylen)
{
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (!k) {
		unsigned long e = ERR_get_error();
		snprintf(why, whylen, "%s: not a PEM private key (%s)", name,
		         e ? ERR_reason_error_string(e) : "unreadable");
		ERR_clear_error();
	}
	BIO_free(bio);
	return k;
}

EVP_PKEY *push_key_load_file(const char *path, char *why, size_t whylen)
{
	return key_from_bio(BIO_new_file(path, "r"), path, why, whylen);
}

EVP_PKEY *push_key_load_pem(const char *pem, char *why, size_t whylen)
{
	return key_from_bio(BIO_new_mem_buf(pem, -1), "private_key", why, whylen);
}

static void append_b64url(struct strbuf *out, const void *data, size_t len)
{
	size_t cap = len / 3 * 4 + 8;
	if (strbuf_reserve(out, cap) != 0) return;
	long n = base64url_encode(data, len, out->buf + out->len, out->cap - out->len);
	if (n > 0) out->len += (size_t)n;
}

/* DER ECDSA signature -> 64 bytes r||s. */
static int ecdsa_raw(const unsigned char *der, size_t len, unsigned char raw[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (!sig) return -1;
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(sig, &r, &s);
	int ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok ? 0 : -1;
}

int push_jwt_sign(EVP_PKEY *key, const char *header_json, const char *claims_json, struct strbuf *out)
{
	strbuf_reset(out);
	append_b64url(out, header_json, strlen(header_json));
	strbuf_putc(out, '.');
	append_b64url(out, claims_json, strlen(claims_json));
	if (strbuf_status(out) != 0) return -1;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	         EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)out->buf, out->len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	strbuf_putc(out, '.');
	if (EVP_PKEY_base_id(key) == EVP_PKEY_EC) {
		unsigned char raw[64];
		if (ecdsa_raw(sig, siglen, raw) != 0) return -1;
		append_b64url(out, raw, sizeof(raw));
	} else {
		append_b64url(out, sig, siglen);
	}
	return strbuf_status(out) == 0 ? 0 : -1;
}

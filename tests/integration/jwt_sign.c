/* SPDX-License-Identifier: MIT */
/*
 * JWT signing for the tests; see jwt_sign.h. ES256 signatures are turned
 * from OpenSSL's DER into the JOSE form r||s.
 */
#include "jwt_sign.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

char *jt_b64url(const void *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = malloc(len * 4 / 3 + 4);
	size_t n = 0;
	if (!out) abort();
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len) v |= p[i + 2];
		out[n++] = abc[(v >> 18) & 63];
		out[n++] = abc[(v >> 12) & 63];
		if (i + 1 < len) out[n++] = abc[(v >> 6) & 63];
		if (i + 2 < len) out[n++] = abc[v & 63];
	}
	out[n] = '\0';
	return out;
}

EVP_PKEY *jt_keygen(const char *alg, const char *pub_path)
{
	EVP_PKEY *k = strcmp(alg, "RS256") == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	if (!k) fail_msg("key generation for %s failed", alg);
	FILE *f = fopen(pub_path, "w");
	if (!f || PEM_write_PUBKEY(f, k) != 1) fail_msg("cannot write %s", pub_path);
	fclose(f);
	return k;
}

/* DER ECDSA signature -> 64 bytes r||s. */
static size_t der_to_jose(const unsigned char *der, size_t len, unsigned char out[64])
{
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &der, (long)len);
	if (!s) fail_msg("bad DER signature");
	const BIGNUM *r, *sv;
	ECDSA_SIG_get0(s, &r, &sv);
	BN_bn2binpad(r, out, 32);
	BN_bn2binpad(sv, out + 32, 32);
	ECDSA_SIG_free(s);
	return 64;
}

static size_t sign_input(const char *alg, const char *input, EVP_PKEY *key, const void *secret, size_t secret_len,
			 unsigned char *sig, size_t cap)
{
	if (strcmp(alg, "none") == 0) return 0;
	if (strcmp(alg, "HS256") == 0) {
		unsigned int n = 0;
		HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input, strlen(input), sig, &n);
		return n;
	}
	unsigned char der[1024];
	size_t n = sizeof(der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &n, (const unsigned char *)input, strlen(input)) != 1)
		fail_msg("signing with %s failed", alg);
	EVP_MD_CTX_free(md);
	if (strcmp(alg, "ES256") == 0) return der_to_jose(der, n, sig);
	if (n > cap) fail_msg("signature too long");
	memcpy(sig, der, n);
	return n;
}

char *jt_sign(const char *alg, const char *header_json, const char *claims_json, EVP_PKEY *key,
	      const void *secret, size_t secret_len)
{
	char header[256];
	if (!header_json) {
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
		header_json = header;
	}
	char *h = jt_b64url(header_json, strlen(header_json));
	char *c = jt_b64url(claims_json, strlen(claims_json));
	size_t in_len = strlen(h) + strlen(c) + 2;
	char *input = malloc(in_len);
	if (!input) abort();
	snprintf(input, in_len, "%s.%s", h, c);
	unsigned char sig[1024];
	size_t sig_len = sign_input(alg, input, key, secret, secret_len, sig, sizeof(sig));
	char *s = jt_b64url(sig, sig_len);
	size_t out_len = in_len + strlen(s) + 1;
	char *out = malloc(out_len);
	if (!out) abort();
	snprintf(out, out_len, "%s.%s", input, s);
	free(h);
	free(c);
	free(input);
	free(s);
	return out;
}

/* SPDX-License-Identifier: MIT */
/*
 * Test helper: makes keys and signs JWTs with OpenSSL, so the JWT tests
 * build every token they send (good ones, and each kind of bad one)
 * instead of carrying fixed strings that expire.
 */
#ifndef CHAT_TEST_JWT_SIGN_H
#define CHAT_TEST_JWT_SIGN_H

#include <stddef.h>

#include <openssl/evp.h>

/* A new private key for "RS256" (RSA 2048) or "ES256" (P-256); its public
 * half is written as PEM to pub_path. Fails the test on error. */
EVP_PKEY *jt_keygen(const char *alg, const char *pub_path);

/*
 * header.claims.signature with base64url parts. header_json NULL means
 * {"alg":"<alg>","typ":"JWT"}. alg picks the signature: "HS256" (HMAC with
 * secret/secret_len), "RS256" / "ES256" (with key), "none" (empty
 * signature). Returns a malloc'd string.
 */
char *jt_sign(const char *alg, const char *header_json, const char *claims_json, EVP_PKEY *key,
	      const void *secret, size_t secret_len);

/* base64url without padding; returns a malloc'd string. */
char *jt_b64url(const void *data, size_t len);

#endif

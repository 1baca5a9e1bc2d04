/* crypto.h: hashing, randomness and password hashing (OpenSSL libcrypto behind this file only). */
#ifndef NETCFAX_CRYPTO_H
#define NETCFAX_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

struct crypto_sha256;

struct crypto_sha256 *crypto_sha256_new(void);
void crypto_sha256_update(struct crypto_sha256 *h, const void *p, size_t n);
/* Writes 32 bytes; the context can not be updated afterwards. */
void crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[32]);
void crypto_sha256_free(struct crypto_sha256 *h);

/* HMAC-SHA256 over the concatenation of n parts (ptr, len pairs): 0 or -1. */
int  crypto_hmac_sha256(const void *key, size_t keylen, const void *const *parts,
                        const size_t *lens, int n, uint8_t out[32]);

/* Cryptographically strong random bytes: 0 or -1. */
int  crypto_random(void *buf, size_t n);
/* Constant-time comparison: 1 equal, 0 different. */
int  crypto_equal(const void *a, const void *b, size_t n);

/* Stored hash form: "$scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>". */
#define CRYPTO_PWHASH_MAX 160
/* cost_log2: scrypt N = 2^cost_log2 (15 = 32 MiB of memory per hash). 0 or -1. */
int  crypto_password_hash(const char *pw, size_t pwlen, int cost_log2,
                          char out[CRYPTO_PWHASH_MAX]);
/* 1 match, 0 mismatch, -1 the stored string is malformed. */
int  crypto_password_verify(const char *pw, size_t pwlen, const char *stored);

#endif

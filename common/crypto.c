/* crypto.c: OpenSSL libcrypto for hashing and passwords.
 *
 * Passwords use scrypt (RFC 7914) from OpenSSL rather than argon2id from libsodium: scrypt is
 * memory-hard too, and OpenSSL is already linked for TLS, so accounts add no dependency. */
#include "crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define SCRYPT_R 8
#define SCRYPT_P 1

struct crypto_sha256 {
	EVP_MD_CTX *md;
};

struct crypto_sha256 *
crypto_sha256_new(void)
{
	struct crypto_sha256 *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->md = EVP_MD_CTX_new();
	if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		crypto_sha256_free(h);
		return NULL;
	}
	return h;
}

void
crypto_sha256_update(struct crypto_sha256 *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->md, p, n);
}

void
crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[32])
{
	unsigned int n = 32;

	EVP_DigestFinal_ex(h->md, out, &n);
}

void
crypto_sha256_free(struct crypto_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

int
crypto_hmac_sha256(const void *key, size_t keylen, const void *const *parts, const size_t *lens,
    int n, uint8_t out[32])
{
	int rc = -1;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	size_t outlen = 0;

	if (ctx && EVP_MAC_init(ctx, key, keylen, params) == 1) {
		rc = 0;
		for (int i = 0; i < n && rc == 0; i++)
			if (EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
				rc = -1;
		if (rc == 0 && (EVP_MAC_final(ctx, out, &outlen, 32) != 1 || outlen != 32))
			rc = -1;
	}
	if (rc != 0)
		crypto_random(out, 32);   /* never a predictable value on failure */
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int
crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static int
scrypt(const char *pw, size_t pwlen, const uint8_t *salt, size_t saltlen, int ln, int r, int p,
    uint8_t *out, size_t outlen)
{
	uint64_t n = UINT64_C(1) << ln;
	/* scrypt needs 128 * r * N * p bytes; allow twice that so OpenSSL's own check passes. */
	uint64_t maxmem = 2 * 128 * (uint64_t)r * n * (uint64_t)p + (1u << 20);

	return EVP_PBE_scrypt(pw, pwlen, salt, saltlen, n, (uint64_t)r, (uint64_t)p, maxmem, out,
	    outlen) == 1 ? 0 : -1;
}

int
crypto_password_hash(const char *pw, size_t pwlen, int cost_log2, char out[CRYPTO_PWHASH_MAX])
{
	uint8_t salt[SALT_LEN], hash[HASH_LEN];
	unsigned char s64[48], h64[64];

	if (cost_log2 < 10 || cost_log2 > 18 || crypto_random(salt, sizeof(salt)) < 0)
		return -1;
	if (scrypt(pw, pwlen, salt, sizeof(salt), cost_log2, SCRYPT_R, SCRYPT_P, hash,
	    sizeof(hash)) < 0)
		return -1;
	EVP_EncodeBlock(s64, salt, sizeof(salt));
	EVP_EncodeBlock(h64, hash, sizeof(hash));
	snprintf(out, CRYPTO_PWHASH_MAX, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", cost_log2, SCRYPT_R,
	    SCRYPT_P, s64, h64);
	OPENSSL_cleanse(hash, sizeof(hash));
	return 0;
}

static int
b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
	int n, pad = 0;

	if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > outcap)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
	if (n < 0)
		return -1;
	if (in[inlen - 1] == '=')
		pad++;
	if (in[inlen - 2] == '=')
		pad++;
	*outlen = (size_t)n - (size_t)pad;
	return 0;
}

int
crypto_password_verify(const char *pw, size_t pwlen, const char *stored)
{
	uint8_t salt[64], want[64], got[64];
	size_t saltlen, wantlen;
	int ln, r, p, used = 0;
	const char *s64, *h64;

	if (sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%n", &ln, &r, &p, &used) != 3 || used == 0)
		return -1;
	/* Bounds stop a corrupted or hostile row from asking for gigabytes of memory:
	 * 128 * r * N * p stays at or below 256 MiB. */
	if (ln < 10 || ln > 20 || r < 1 || r > 16 || p < 1 || p > 4 ||
	    (UINT64_C(128) * (uint64_t)r * (UINT64_C(1) << ln) * (uint64_t)p) > (UINT64_C(256) << 20))
		return -1;
	s64 = stored + used;
	h64 = strchr(s64, '$');
	if (h64 == NULL)
		return -1;
	if (b64_decode(s64, (size_t)(h64 - s64), salt, sizeof(salt), &saltlen) < 0 ||
	    b64_decode(h64 + 1, strlen(h64 + 1), want, sizeof(want), &wantlen) < 0 ||
	    wantlen < 16)
		return -1;
	if (scrypt(pw, pwlen, salt, saltlen, ln, r, p, got, wantlen) < 0)
		return -1;
	int ok = crypto_equal(got, want, wantlen);
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

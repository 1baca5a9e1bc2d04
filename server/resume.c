/* resume.c: resume tokens (see resume.h); the store keeps their hashes. */
#include "resume.h"

#include <string.h>

#include "crypto.h"
#include "store.h"

/* 256 random bits need no salt or slow hash: SHA-256 keeps a stolen database from
 * yielding usable tokens, and the lookup by hash takes the same time for any guess. */
static int
token_hash(const uint8_t token[RESUME_TOKEN_LEN], uint8_t out[32])
{
	struct crypto_sha256 *h = crypto_sha256_new();

	if (h == NULL)
		return -1;
	crypto_sha256_update(h, token, RESUME_TOKEN_LEN);
	crypto_sha256_final(h, out);
	crypto_sha256_free(h);
	return 0;
}

int
resume_issue(struct store *st, int64_t user, int64_t now, int64_t lifetime,
    uint8_t token[RESUME_TOKEN_LEN])
{
	uint8_t hash[32];

	if (lifetime <= 0 || crypto_random(token, RESUME_TOKEN_LEN) < 0 ||
	    token_hash(token, hash) < 0 || store_token_add(st, hash, user, now + lifetime) < 0) {
		memset(token, 0, RESUME_TOKEN_LEN);
		return -1;
	}
	return 0;
}

int
resume_redeem(struct store *st, int64_t user, int64_t now,
    const uint8_t token[RESUME_TOKEN_LEN])
{
	uint8_t hash[32];

	if (token_hash(token, hash) < 0)
		return -1;
	return store_token_take(st, hash, user, now);
}

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
resume_issue(struct store *st, int64_t user, int64_t cred_gen, int64_t now,
    uint8_t token[RESUME_TOKEN_LEN])
{
	uint8_t hash[32];

	if (crypto_random(token, RESUME_TOKEN_LEN) < 0 || token_hash(token, hash) < 0 ||
	    store_token_add(st, hash, user, cred_gen, now) != STORE_OK) {
		explicit_bzero(token, RESUME_TOKEN_LEN);
		return -1;
	}
	return 0;
}

int
resume_rotate(struct store *st, int64_t user, int64_t now, int64_t lifetime,
    const uint8_t old[RESUME_TOKEN_LEN], uint8_t next[RESUME_TOKEN_LEN])
{
	uint8_t old_hash[32], next_hash[32];
	int rc;

	if (token_hash(old, old_hash) < 0 || crypto_random(next, RESUME_TOKEN_LEN) < 0 ||
	    token_hash(next, next_hash) < 0)
		rc = -1;
	else
		switch (store_token_rotate(st, old_hash, next_hash, user, now - lifetime)) {
		case STORE_OK:
			rc = 1;
			break;
		case STORE_NONE:
			rc = 0;
			break;
		default:
			rc = -1;
			break;
		}
	if (rc != 1)
		explicit_bzero(next, RESUME_TOKEN_LEN);
	return rc;
}

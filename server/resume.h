/* resume.h: resume tokens. A client that keeps reconnecting (a watcher) gets a fresh random
 * token with each login and presents it, beside its password, at the next one. A valid token
 * stands in for the scrypt check, which is made slow on purpose: a server restarted under
 * thousands of watchers would otherwise spend minutes of CPU re-checking passwords it checked
 * a moment before. Tokens are single-use, expire, are stored only as their SHA-256, and end
 * with a password change or the user's removal (triggers in the store). */
#ifndef NETCFAX_RESUME_H
#define NETCFAX_RESUME_H

#include <stdint.h>

#define RESUME_TOKEN_LEN 32

struct store;

/* A new token for user, valid for lifetime seconds: 0, or -1 (no token is given). */
int resume_issue(struct store *st, int64_t user, int64_t now, int64_t lifetime,
                 uint8_t token[RESUME_TOKEN_LEN]);
/* Uses up the user's token: 1 it was valid, 0 not (unknown, expired, used, another user's),
 * -1 store error. */
int resume_redeem(struct store *st, int64_t user, int64_t now,
                  const uint8_t token[RESUME_TOKEN_LEN]);

#endif

/* resume.h: resume tokens. A client that keeps reconnecting (a watcher) gets a fresh random
 * token with each login and presents it, beside its password, at the next one. A valid token
 * stands in for the scrypt check, which is made slow on purpose: a server restarted under
 * thousands of watchers would otherwise spend minutes of CPU re-checking passwords it checked
 * a moment before. Each token is good for one login and is replaced by the next; a chain of
 * them ends resume_token_lifetime after the password login that began it, with a password
 * change or with the user's removal (triggers in the store). Only their SHA-256 is stored. */
#ifndef NETCFAX_RESUME_H
#define NETCFAX_RESUME_H

#include <stdint.h>

#define RESUME_TOKEN_LEN 32

struct store;

/* A new token for a login checked by password: the first of a chain that lasts lifetime
 * seconds from now. cred_gen is the user's, read before the password was checked: if the
 * password changed meanwhile, no token is given. 0, or -1 (no token; token is zeroed). */
int resume_issue(struct store *st, int64_t user, int64_t cred_gen, int64_t now,
                 uint8_t token[RESUME_TOKEN_LEN]);
/* A login by token: if old is the user's and its chain began less than lifetime seconds ago,
 * it is used up and next (same chain) takes its place. 1 valid, 0 not (unknown, used, too old,
 * another user's), -1 store error. */
int resume_rotate(struct store *st, int64_t user, int64_t now, int64_t lifetime,
                  const uint8_t old[RESUME_TOKEN_LEN], uint8_t next[RESUME_TOKEN_LEN]);

#endif

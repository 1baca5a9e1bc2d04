/* hashpool.h: password verification on worker threads, so a burst of logins (each scrypt
 * costs ~0.1 s and 32 MiB) never stalls the event loop that serves everyone else. */
#ifndef NETCFAX_HASHPOOL_H
#define NETCFAX_HASHPOOL_H

#include <stddef.h>

struct event_base;
struct hashpool;
struct hash_job;

/* result: 1 match, 0 mismatch, -1 unreadable stored hash. Runs on the loop thread. */
typedef void (*hashpool_done_fn)(int result, void *arg);

/* nthreads workers; at most max_queued verifications waiting or running. */
struct hashpool *hashpool_new(struct event_base *base, int nthreads, int max_queued);
void hashpool_free(struct hashpool *hp);
/* Copies pw and stored. NULL when the queue is full (the caller answers "busy"). */
struct hash_job *hashpool_verify(struct hashpool *hp, const char *pw, size_t pwlen,
                                 const char *stored, hashpool_done_fn done, void *arg);
/* done will not be called; the job is freed when its worker is finished with it. */
void hashpool_cancel(struct hash_job *job);

#endif

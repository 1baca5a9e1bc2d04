/* ackbatch.h: notification acknowledgements written to the store once per loop turn. A
 * notification to a user with a thousand sessions comes back as a thousand NOTIFY_ACKs within
 * milliseconds, all saying the same seq; written one by one, each is a statement and a
 * transaction of its own. Collected, they are one UPDATE per user in one transaction. An ack
 * lost to a crash before its turn ended only means that notification is sent again, and the
 * client drops what it has seen (protocol section 9.5). */
#ifndef NETCFAX_ACKBATCH_H
#define NETCFAX_ACKBATCH_H

#include <stdint.h>

struct event_base;
struct store;
struct ackbatch;

struct ackbatch *ackbatch_new(struct event_base *base, struct store *st);
/* Writes what is pending, then frees. */
void ackbatch_free(struct ackbatch *ab);
/* The user has everything up to seq: written at the end of this loop turn. */
void ackbatch_add(struct ackbatch *ab, int64_t user, uint64_t seq);
/* Writes what is pending now. */
void ackbatch_flush(struct ackbatch *ab);

#endif

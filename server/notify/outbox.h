/* outbox.h: the users' outboxes as the notification subsystem sees them: read through a small
 * store interface, with the last read kept for the next session of the same user, and a
 * registry of every session's delivery by user so that a new notification reaches them all. */
#ifndef NETCFAX_OUTBOX_H
#define NETCFAX_OUTBOX_H

#include <stdint.h>

#include "store.h"

/* Notifications sent but not yet acknowledged, per session: a read never needs more rows. */
#define NOTIFY_WINDOW 64

typedef int (*outbox_note_fn)(const struct store_note *n, void *arg);

/* Where notifications are kept. The daemon's wraps store_note_list and the ack batch
 * (notifier.c); a unit test gives an in-memory one. */
struct outbox_store {
	/* Calls fn for each of user's notifications after seq `after`, in order, at most limit
	 * of them (fn returning non-zero stops early): how many, or -1 on error. */
	int  (*list)(void *impl, int64_t user, uint64_t after, int limit, outbox_note_fn fn,
	             void *arg);
	/* The user has everything up to seq (cumulative). */
	void (*ack)(void *impl, int64_t user, uint64_t seq);
	/* The user's last seq and last acknowledged seq: 0, or -1 on error. */
	int  (*seqs)(void *impl, int64_t user, uint64_t *last, uint64_t *acked);
	/* The last error, for the log. */
	const char *(*errmsg)(void *impl);
	void *impl;
};

/* A member of the registry: one session's delivery (delivery.c embeds it). */
struct outbox_member {
	struct outbox_member *prev, *next;
	int64_t               user;
	int                   joined;
	void                (*pump)(void *owner);
	void                 *owner;
};

/* The last read of an outbox: the rows after `after`, `asked` of them asked for. */
struct outbox_read {
	int               valid;
	uint64_t          gen;
	int64_t           user;
	uint64_t          after;
	int               asked;          /* rows asked for; fewer got means the end */
	int               n;
	struct store_note rows[NOTIFY_WINDOW];
};

struct outbox;

/* The store is copied; what its impl points to must outlive the outbox. */
struct outbox *outbox_new(const struct outbox_store *st);
void outbox_free(struct outbox *ob);

/* Pushes new notifications to every delivery of user (0: of every user). Whoever adds to an
 * outbox calls this: it also tells kept reads that they may be short now. NULL (no outbox
 * yet, at start): nothing to do. */
void notify_user(struct outbox *ob, int64_t user);
/* Rows may have gone (pruning): a kept read may name them, so it is not used again. */
void outbox_changed(struct outbox *ob);
/* Moves whenever an outbox may have changed: a delivery that read to the end of its outbox at
 * this generation has nothing more to read until it moves. */
uint64_t outbox_gen(const struct outbox *ob);

/* notify_user reaches m (for m->user) from now on, until outbox_leave. */
void outbox_join(struct outbox *ob, struct outbox_member *m);
void outbox_leave(struct outbox *ob, struct outbox_member *m);

/* The rows after `after`, at least `limit` (<= NOTIFY_WINDOW) of them if there are: from the
 * kept read when it covers them, else from the store. NULL on error (logged). The result is
 * valid until the next outbox_read; while a caller sends from it, it marks it in use
 * (outbox_hold) and any pump inside that reads for itself (outbox_list). */
const struct outbox_read *outbox_read(struct outbox *ob, int64_t user, uint64_t after,
                                      int limit);
void outbox_hold(struct outbox *ob, int on);
int  outbox_held(const struct outbox *ob);
/* Straight from the store, past the kept read: as outbox_store.list. */
int  outbox_list(struct outbox *ob, int64_t user, uint64_t after, int limit, outbox_note_fn fn,
                 void *arg);
void outbox_ack(struct outbox *ob, int64_t user, uint64_t seq);
int  outbox_seqs(struct outbox *ob, int64_t user, uint64_t *last, uint64_t *acked);
const char *outbox_errmsg(struct outbox *ob);

#endif

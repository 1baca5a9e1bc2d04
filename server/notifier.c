/* notifier.c: the daemon's side of the notification subsystem: the outbox on the real store,
 * and its housekeeping (other writers' notifications, pruning). */
#include "notifier.h"

#include <time.h>

#include "ackbatch.h"
#include "log.h"
#include "outbox.h"
#include "server.h"
#include "store.h"

static int
real_list(void *impl, int64_t user, uint64_t after, int limit, outbox_note_fn fn, void *arg)
{
	struct server *srv = impl;

	return store_note_list(srv->store, user, after, limit, fn, arg);
}

/* Acks go through the batch: one UPDATE per user per loop turn, however many sessions ack. */
static void
real_ack(void *impl, int64_t user, uint64_t seq)
{
	struct server *srv = impl;

	ackbatch_add(srv->acks, user, seq);
}

static int
real_seqs(void *impl, int64_t user, uint64_t *last, uint64_t *acked)
{
	struct server *srv = impl;

	return store_user_seqs(srv->store, user, last, acked) == STORE_ERR ? -1 : 0;
}

static const char *
real_errmsg(void *impl)
{
	struct server *srv = impl;

	return store_errmsg(srv->store);
}

struct outbox *
notifier_outbox_new(struct server *srv)
{
	struct outbox_store st = { real_list, real_ack, real_seqs, real_errmsg, srv };

	return outbox_new(&st);
}

void
notifier_poll(struct server *srv)
{
	/* PRAGMA data_version moves only when another connection commits: one cheap query. */
	int64_t v = store_data_version(srv->store);

	if (v < 0 || v == srv->data_version)
		return;
	srv->data_version = v;
	notify_user(srv->outbox, 0);
}

void
notifier_prune(struct server *srv)
{
	int n = store_note_prune(srv->store,
	    (int64_t)time(NULL) - srv->cfg.notify_retention * 86400, srv->cfg.notify_keep_max);

	if (n > 0)
		outbox_changed(srv->outbox);     /* a kept read of an outbox may name pruned rows */
	if (n < 0)
		log_warnx("pruning notifications: %s", store_errmsg(srv->store));
	else if (n > 0)
		log_info("pruned %d notification%s (acknowledged and older than %lld days, or "
		    "beyond the newest %lld of a user)", n, n == 1 ? "" : "s",
		    srv->cfg.notify_retention, srv->cfg.notify_keep_max);
}

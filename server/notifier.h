/* notifier.h: keeps notifications moving: notices ones written by other processes
 * (netcfax-admin) and prunes acknowledged ones past their retention. */
#ifndef NETCFAX_NOTIFIER_H
#define NETCFAX_NOTIFIER_H

struct server;
struct outbox;

/* The outbox on srv's store, with acks through srv->acks (both must be open). */
struct outbox *notifier_outbox_new(struct server *srv);

/* Called every notify_poll ms: if another process committed to the store, pumps every
 * logged-in session. (Our own commits pump the user's sessions directly.) */
void notifier_poll(struct server *srv);
/* Deletes acknowledged notifications older than notify_retention days, and whatever lies
 * beyond the newest notify_keep_max of a user, so an outbox nobody reads stays bounded. */
void notifier_prune(struct server *srv);

#endif

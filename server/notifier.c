/* notifier.c: outbox housekeeping around the per-session SCP paths. */
#include "notifier.h"

#include <time.h>

#include "log.h"
#include "server.h"
#include "session.h"
#include "store.h"

void
notifier_poll(struct server *srv)
{
	/* PRAGMA data_version moves only when another connection commits: one cheap query. */
	int64_t v = store_data_version(srv->store);

	if (v < 0 || v == srv->data_version)
		return;
	srv->data_version = v;
	session_notify_user(srv, 0);
}

void
notifier_prune(struct server *srv)
{
	int n = store_note_prune(srv->store,
	    (int64_t)time(NULL) - srv->cfg.notify_retention * 86400, srv->cfg.notify_keep_max);

	if (n > 0)
		srv->outbox_gen++;               /* a kept read of an outbox may name pruned rows */
	if (n < 0)
		log_warnx("pruning notifications: %s", store_errmsg(srv->store));
	else if (n > 0)
		log_info("pruned %d notification%s (acknowledged and older than %lld days, or "
		    "beyond the newest %lld of a user)", n, n == 1 ? "" : "s",
		    srv->cfg.notify_retention, srv->cfg.notify_keep_max);
}

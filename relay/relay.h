/* relay.h: the relay path: a session's notifications carried over the client's own PCP
 * connection, for clients that no connection from outside can reach (no port mapping, CGNAT,
 * a hotel network). */
#ifndef NETCFAX_RELAY_H
#define NETCFAX_RELAY_H

#include "path.h"

struct delivery;
struct relay;

/* Makes the relay d's path: it attaches itself at once, and queues each NOTIFY on the
 * session's PCP connection through h->queue. h must outlive it. */
struct relay *relay_new(const struct notify_host *h, struct delivery *d);
/* Detaches (if still the path in use) and frees. */
void relay_free(struct relay *r);
/* Fills the relay part of np (path.h) with these. */
void relay_paths(struct notify_paths *np);

#endif

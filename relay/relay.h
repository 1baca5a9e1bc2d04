/* relay.h: the relay path: a session's notifications carried over the client's own PCP
 * connection, for clients that no connection from outside can reach (no port mapping, CGNAT,
 * a hotel network). */
#ifndef NETCFAX_RELAY_H
#define NETCFAX_RELAY_H

struct session;
struct relay;

/* Makes the relay the session's notification path (it attaches itself to the delivery). */
struct relay *relay_new(struct session *s);
/* Detaches (if still the path in use) and frees. */
void relay_free(struct relay *r);

#endif

/* listener.h: the PCP sockets netcfaxd accepts clients on. */
#ifndef NETCFAX_LISTENER_H
#define NETCFAX_LISTENER_H

#include <stddef.h>

struct server;
struct listener;

/* Binds every address in srv->cfg.listen on srv->cfg.pcp_port. NULL with err when nothing
 * could be bound or the port is taken. */
struct listener *listener_new(struct server *srv, char *err, size_t errlen);
void listener_free(struct listener *l);

#endif

/* pcpmap.h: the server's own router mapping of its PCP (setting portmap), for a server that
 * sits behind a NAT router nobody configured by hand. */
#ifndef NETCFAX_SERVER_PCPMAP_H
#define NETCFAX_SERVER_PCPMAP_H

struct server;
struct pcpmap;

/* Starts mapping when the configuration asks for it: NULL when it is off (or cannot start,
 * said in the log). */
struct pcpmap *pcpmap_start(struct server *srv);
/* Removes the mapping we made (bounded in time) and frees. */
void           pcpmap_stop(struct pcpmap *m);

#endif

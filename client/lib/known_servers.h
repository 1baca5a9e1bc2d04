/* known_servers.h: the pin file: one "host:port SHA256:..." line per server, like known_hosts. */
#ifndef NETCFAX_KNOWN_SERVERS_H
#define NETCFAX_KNOWN_SERVERS_H

#include <stddef.h>

/* 1 found (fingerprint copied), 0 not pinned or no file, -1 unreadable. */
int known_servers_lookup(const char *path, const char *hostport, char *fp, size_t fpcap);
/* Adds or replaces the line for hostport, through a temporary file and rename; creates the
 * directory (0700) if needed. 0 or -1 with err. */
int known_servers_store(const char *path, const char *hostport, const char *fp, char *err,
                        size_t errlen);

#endif

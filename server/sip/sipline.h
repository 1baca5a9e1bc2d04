/* sipline.h: a SIP trunk as a fax line (line.h): fax calls out and in, in G.711 or T.38. */
#ifndef NETCFAX_SIPLINE_H
#define NETCFAX_SIPLINE_H

#include <stddef.h>

#include "line.h"
#include "trunk.h"

struct event_base;

extern const struct line_ops sipline_ops;

struct sipline_opts {
	const struct trunk_config *trunk;   /* copied */
	int ecm;                            /* offer T.30 error correction */
	const char *state_dir;              /* transport tls: the trunk's certificate directory
	                                     * is made in it */
	int pcp_mapped_port;                /* the server's PCP port when it maps it on the
	                                     * router (TCP, portmap on), else 0: the SIP port
	                                     * of a UDP trunk is not mapped on the same number */
};

/* Starts the trunk's user agent (it registers at once) on base's loop. NULL with the reason
 * (options, password file, a port that cannot be bound). Free with sipline_ops.free. */
void *sipline_new(struct event_base *base, const struct sipline_opts *o, char *err,
                  size_t errlen);

/* Whether the provider holds our registration now: 1, 0; for status and logs. */
int sipline_registered(void *line);

#endif

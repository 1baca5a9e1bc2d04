/* scp_listener.h: binding the client's Secondary Connection Port in its three modes. */
#ifndef NETCFAX_SCP_LISTENER_H
#define NETCFAX_SCP_LISTENER_H

#include <stddef.h>
#include <stdint.h>

struct scp_listen_opts {
	int         mode;       /* NCFX_SCP_FIXED, NCFX_SCP_DYNAMIC or NCFX_SCP_RANGE */
	int         port;       /* fixed mode */
	int         port_min;   /* range mode */
	int         port_max;
	const char *bind_addr;  /* NULL or "": every address of family */
	int         family;     /* AF_INET or AF_INET6: the PCP's */
};

/* Binds and listens. Returns the socket (non-blocking) and the port, or -1 with a reason that
 * says what to do. warn gets a warning worth showing (well-known port), or "". */
int scp_listen_bind(const struct scp_listen_opts *o, uint16_t *port, char *err, size_t errlen,
                    char *warn, size_t warnlen);
/* Checks a mode's settings without binding: 0 or -1 with err. */
int scp_listen_check(const struct scp_listen_opts *o, char *err, size_t errlen);

#endif

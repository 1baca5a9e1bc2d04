/* path.h: what a notification path is to the rest of the subsystem. A path carries NOTIFY
 * frames to the client: the direct SCP (server/scp.c) or the relay over the client's own PCP
 * connection (relay/relay.c). The delivery drives either the same way (path_ops). */
#ifndef NETCFAX_PATH_H
#define NETCFAX_PATH_H

#include <stdint.h>

struct ncfx_wbuf;

/* A path as the delivery drives it. */
struct path_ops {
	int   kind;                                     /* NCFX_PATH_DIRECT or NCFX_PATH_RELAY */
	/* Queues one frame; 0, or -1 when the frame could not be queued. */
	int (*send)(void *impl, struct ncfx_wbuf *w);
	/* For a path that can sleep (delivery_sleep): there is something to send, so connect
	 * again; it attaches itself when ready, or detaches if it cannot. NULL: never sleeps. */
	void (*wake)(void *impl);
};

#endif

/* service.h: keeps one port mapped on the local router, on a worker thread: discovery,
 * mapping, renewal at half the lease, checks between renewals (the router still holds it, we
 * are still on the same network), a deterministic walk of a port range on conflicts, and
 * removal at the end. Results reach the event loop as events. */
#ifndef NETCFAX_PORTMAP_SERVICE_H
#define NETCFAX_PORTMAP_SERVICE_H

#include <stdint.h>

#include "portmap.h"

struct event_base;
struct portmap_service;

enum portmap_event_kind {
	PORTMAP_MAPPED = 1,   /* ext_addr:ext_port forwards to our int_port (new or changed) */
	PORTMAP_FAILED,       /* no mapping could be made now; why says why; retried later */
	PORTMAP_LOST,         /* the mapping went away (router restarted, network changed): why;
	                       * a MAPPED follows once it is made again, even on the same port */
};

struct portmap_event {
	int      kind;
	char     proto[8];                    /* "upnp" or "natpmp" */
	uint16_t ext_port;
	char     ext_addr[PORTMAP_ADDR_MAX];
	int      ext_class;
	long     lease;                       /* granted, seconds; 0 = permanent */
	char     why[400];
};

typedef void (*portmap_event_fn)(const struct portmap_event *ev, void *arg);

struct portmap_service_options {
	const char *protocols;    /* "auto" (UPnP, then NAT-PMP), "upnp" or "natpmp" */
	uint16_t    int_port;     /* the local port to forward to */
	uint16_t    range_lo;     /* external ports to try on conflicts (0: int_port only) */
	uint16_t    range_hi;
	long        lease;        /* asked for, seconds */
	const char *desc;         /* starts with PORTMAP_DESC_PREFIX */
};

/* Starts the worker; cb runs on base's loop thread. NULL on failure. */
struct portmap_service *portmap_service_new(struct event_base *base,
                                            const struct portmap_service_options *o,
                                            portmap_event_fn cb, void *arg);
/* Stops the worker, removes the mapping it made (bounded in time), and frees. */
void portmap_service_free(struct portmap_service *s);

#endif

/* service.h: keeps one TCP or UDP port mapped on the local router, on a worker thread: discovery,
 * mapping, renewal at half the lease, checks between renewals (the router still holds it, we
 * are still on the same network), a deterministic choice of another external port on
 * conflicts, an immediate check when the router announces a restart or the caller asks, and
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
	PORTMAP_RESTARTED,    /* the router announced that it (re)started (why says how): its
	                       * connection tracking may be gone too; a check is under way */
};

struct portmap_event {
	int      kind;
	char     proto[8];                    /* "upnp" or "natpmp" */
	int      transport;                   /* the service's: enum portmap_transport */
	uint16_t ext_port;
	char     ext_addr[PORTMAP_ADDR_MAX];
	int      ext_class;
	long     lease;                       /* granted, seconds; 0 = permanent */
	char     why[400];
	/* MAPPED on another external port than int_port: why, in words ("external port 7485 is
	 * taken by another host on this network (192.168.10.2)"; a UDP one says "external UDP
	 * port"); "" otherwise. */
	char     instead[240];
};

/* Conflicts: after int_port (and the range), this many other external ports at most, chosen
 * pseudo-randomly from 1024-65535 with a seed of the description and int_port, so that a
 * restart asks for the same ones in the same order (options.alternatives). */
#define PORTMAP_ALT_TRIES  10
#define PORTMAP_RANGE_TRIES 32     /* ports of the range tried at most, in order */
#define PORTMAP_WAKE_MIN_S 2

typedef void (*portmap_event_fn)(const struct portmap_event *ev, void *arg);

struct portmap_service_options {
	const char *protocols;    /* "auto" (UPnP, then NAT-PMP), "upnp" or "natpmp" */
	uint16_t    int_port;     /* the local port to forward to */
	uint16_t    range_lo;     /* external ports to try first on conflicts (0: none) */
	uint16_t    range_hi;
	int         alternatives; /* then up to this many seeded pseudo-random ports (at most
	                           * PORTMAP_ALT_TRIES; 0: none, for a port others are told) */
	long        lease;        /* asked for, seconds */
	const char *desc;         /* starts with PORTMAP_DESC_PREFIX */
	const char *transport;    /* "tcp" (also NULL or "") or "udp": what is forwarded. A TCP
	                           * and a UDP service of the same port are two mappings, each
	                           * made, checked and removed on its own */
};

/* Starts the worker; cb runs on base's loop thread. NULL on failure (also for a transport
 * other than those above). */
struct portmap_service *portmap_service_new(struct event_base *base,
                                            const struct portmap_service_options *o,
                                            portmap_event_fn cb, void *arg);
/* Asks the worker for a check of the mapping now (from the loop thread), for example when
 * the connection to the server came back or the server could not connect back: a failed
 * router is asked again at once, a held mapping is verified. Checks asked for this way run
 * at most every PORTMAP_WAKE_MIN_S seconds. */
void portmap_service_check_now(struct portmap_service *s);

/* Tells the worker to stop and remove the mapping it made, without waiting: a program
 * holding many mappings stops them all at once, so that taking them off the router costs
 * the time of one removal, not of each in turn. Events may still be posted until free. */
void portmap_service_stop(struct portmap_service *s);

/* Stops the worker (portmap_service_stop, if not yet done), waits while it removes the
 * mapping it made (bounded in time), and frees. */
void portmap_service_free(struct portmap_service *s);

#endif

/* portmap.h: router port mapping behind one small interface, with one backend per protocol:
 * UPnP IGD (nat/upnp.c, miniupnpc) and NAT-PMP (nat/natpmp.c, libnatpmp). The calls block (a
 * UPnP request can take seconds): callers run them off any event loop. */
#ifndef NETCFAX_PORTMAP_H
#define NETCFAX_PORTMAP_H

#include <stddef.h>
#include <stdint.h>

#define PORTMAP_ADDR_MAX 46
#define PORTMAP_DESC_MAX 80
/* Every mapping netcfax makes is described with this prefix, so we touch only our own. */
#define PORTMAP_DESC_PREFIX "netcfax"

/* The transport a mapping forwards: every call that makes, removes or checks one names it,
 * since a router holds a TCP and a UDP mapping of the same external port apart. */
enum portmap_transport {
	PORTMAP_TCP = 0,
	PORTMAP_UDP = 1,
};

/* Results of add() besides 0 and -1. */
#define PORTMAP_CONFLICT (-2)     /* another LAN host holds that external port (UPnP 718) */

enum portmap_addr_class {
	PORTMAP_ADDR_EMPTY = 0,   /* the router has no external address (not connected) */
	PORTMAP_ADDR_PUBLIC,
	PORTMAP_ADDR_PRIVATE,     /* RFC 1918, link-local, loopback: another NAT upstream */
	PORTMAP_ADDR_CGNAT,       /* 100.64.0.0/10: the provider's NAT upstream */
};

struct portmap_gateway {
	char gateway[PORTMAP_ADDR_MAX];   /* the router we talk to */
	char lan_addr[PORTMAP_ADDR_MAX];  /* our address towards it: what mappings point at */
	char ext_addr[PORTMAP_ADDR_MAX];  /* the router's external address, "" if unknown */
	int  ext_class;                   /* enum portmap_addr_class */
	int  connected;                   /* the router says its WAN is up and usable */
	char detail[200];                 /* in words, for people */
};

struct portmap_mapping {
	int      transport;               /* enum portmap_transport */
	uint16_t ext_port;
	uint16_t int_port;
	char     int_client[PORTMAP_ADDR_MAX];
	char     desc[PORTMAP_DESC_MAX];
	long     lease;                   /* seconds left; 0 = permanent */
};

struct portmap_ops {
	const char *name;                 /* "upnp" or "natpmp" */
	/* Finds the router within timeout_ms and opens a state for the other calls: 0, or -1
	 * with a reason. */
	int  (*discover)(void **state, int timeout_ms, struct portmap_gateway *gw, char *err,
	                 size_t errlen);
	/* Maps ext_port on the router to our LAN address, int_port, for lease seconds, for one
	 * transport (enum portmap_transport). The router may grant another port or lease
	 * (NAT-PMP does): *granted and *granted_lease say. 0, -1, or PORTMAP_CONFLICT. */
	int  (*add)(void *state, int transport, uint16_t int_port, uint16_t ext_port, long lease,
	            const char *desc, uint16_t *granted, long *granted_lease, char *err,
	            size_t errlen);
	/* Removes our mapping of ext_port (to int_port) for that transport only. 0 or -1. */
	int  (*remove)(void *state, int transport, uint16_t ext_port, uint16_t int_port, char *err,
	               size_t errlen);
	/* Calls cb for each TCP and UDP mapping on the router (each says which); -1 with a
	 * reason when the protocol cannot list (NAT-PMP). */
	int  (*list)(void *state, int (*cb)(const struct portmap_mapping *, void *), void *arg,
	             char *err, size_t errlen);
	/* Is our mapping of ext_port (to int_port) for that transport still on the router? 1
	 * yes, 0 gone (the router lost it, rebooted, or gave the port to another host), -1 with
	 * a reason when the router did not answer. */
	int  (*check)(void *state, int transport, uint16_t ext_port, uint16_t int_port, char *err,
	              size_t errlen);
	void (*close)(void *state);
};

extern const struct portmap_ops portmap_upnp_ops;
extern const struct portmap_ops portmap_natpmp_ops;

/* The backend called name, or NULL. */
const struct portmap_ops *portmap_backend(const char *name);

/* "TCP" or "UDP", as UPnP spells a mapping's protocol. */
const char *portmap_transport_name(int transport);
/* The transport a configuration names: "tcp" (also NULL or "") or "udp", case aside; -1
 * for anything else. */
int portmap_transport_parse(const char *name);
/* What messages put before "port": "" for TCP (a netcfax port is TCP unless said otherwise,
 * so those messages read as they always did), "UDP " for UDP. */
const char *portmap_transport_word(int transport);

/* The IPv4 default gateway and our address towards it, from the kernel's routing table:
 * 0, or -1 when there is no default route. A change of either means another network. */
int portmap_route(char gateway[PORTMAP_ADDR_MAX], char lan_addr[PORTMAP_ADDR_MAX]);

/* Classifies an IPv4 address as the router's external address. */
int portmap_classify(const char *addr);
const char *portmap_class_name(int cls);

#endif

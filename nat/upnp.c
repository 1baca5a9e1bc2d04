/* upnp.c: the UPnP IGD backend, the only file that talks to miniupnpc (2.2.x, API 17).
 * Every call blocks for up to seconds; callers keep it off event loops. */
#include "portmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#if MINIUPNPC_API_VERSION != 17
#error "nat/upnp.c is written for miniupnpc API 17 (Debian 12); API 18 renumbered UPNP_GetValidIGD"
#endif

struct upnp {
	struct UPNPUrls urls;
	struct IGDdatas data;
	char            lan[PORTMAP_ADDR_MAX];
};

/* One entry of the router's table, by external port and transport. */
struct entry {
	char client[PORTMAP_ADDR_MAX];
	char iport[8];
	char desc[80];
};

/* The router's table is written by any program on the LAN: what we quote from it (in
 * errors that reach a terminal and the status output, not only the log) keeps printable
 * ASCII and shows anything else as '?'. */
static void
printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* The router's entry for ext_port and transport: 0 with e filled, or the UPnP error code
 * (714: none). */
static int
get_entry(struct upnp *u, int transport, uint16_t ext_port, struct entry *e)
{
	char ext[8], enabled[8] = "", left[16] = "";
	int rc;

	memset(e, 0, sizeof(*e));
	snprintf(ext, sizeof(ext), "%u", ext_port);
	rc = UPNP_GetSpecificPortMappingEntry(u->urls.controlURL, u->data.first.servicetype,
	    ext, portmap_transport_name(transport), NULL, e->client, e->iport, e->desc, enabled, left);
	printable(e->client);
	printable(e->iport);
	printable(e->desc);
	return rc;
}

/* Does e forward to int_port on this host? */
static int
points_here(const struct upnp *u, const struct entry *e, uint16_t int_port)
{
	return strcmp(e->client, u->lan) == 0 && atoi(e->iport) == int_port;
}

static void
upnp_close(void *state)
{
	struct upnp *u = state;

	if (u == NULL)
		return;
	FreeUPNPUrls(&u->urls);
	free(u);
}

static int
upnp_discover(void **state, int timeout_ms, struct portmap_gateway *gw, char *err, size_t errlen)
{
	struct UPNPDev *devs;
	struct upnp *u;
	int e = 0, rc;
	char ext[40] = "";

	*state = NULL;
	memset(gw, 0, sizeof(*gw));
	devs = upnpDiscover(timeout_ms, NULL, NULL, 0, 0, 2, &e);
	if (devs == NULL) {
		snprintf(err, errlen, "no UPnP router answered within %d ms", timeout_ms);
		return -1;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		freeUPNPDevlist(devs);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = UPNP_GetValidIGD(devs, &u->urls, &u->data, u->lan, sizeof(u->lan));
	freeUPNPDevlist(devs);
	if (rc != 1 && rc != 2) {
		/* 0: nothing usable; 3: a UPnP device, but not an Internet gateway. */
		if (rc != 0)
			FreeUPNPUrls(&u->urls);
		free(u);
		snprintf(err, errlen, "%s", rc == 3 ? "a UPnP device answered, but it is not an "
		    "Internet gateway" : "no UPnP Internet gateway found");
		return -1;
	}
	/* In API 17, 2 means "not connected" but also "connected with a private external
	 * address": ask for the address and judge it ourselves. */
	if (UPNP_GetExternalIPAddress(u->urls.controlURL, u->data.first.servicetype, ext) != 0)
		ext[0] = '\0';
	snprintf(gw->lan_addr, sizeof(gw->lan_addr), "%s", u->lan);
	snprintf(gw->ext_addr, sizeof(gw->ext_addr), "%s", ext);
	/* The control URL names the router: http://ADDR:PORT/... */
	if (sscanf(u->urls.controlURL, "http://%45[^:/]", gw->gateway) != 1)
		gw->gateway[0] = '\0';
	gw->ext_class = portmap_classify(ext);
	gw->connected = rc == 1 && gw->ext_class == PORTMAP_ADDR_PUBLIC;
	snprintf(gw->detail, sizeof(gw->detail), "UPnP IGD at %s, external address %s (%s)%s",
	    gw->gateway, ext[0] ? ext : "none", portmap_class_name(gw->ext_class),
	    gw->connected ? "" : ", not usable for inbound connections");
	*state = u;
	return 0;
}

static int
upnp_add(void *state, int transport, uint16_t int_port, uint16_t ext_port, long lease,
    const char *desc, uint16_t *granted, long *granted_lease, char *err, size_t errlen)
{
	struct upnp *u = state;
	const char *proto = portmap_transport_name(transport);
	const char *word = portmap_transport_word(transport);
	char ext[8], in[8], dur[16];
	struct entry e;
	int rc;

	snprintf(ext, sizeof(ext), "%u", ext_port);
	snprintf(in, sizeof(in), "%u", int_port);
	snprintf(dur, sizeof(dur), "%ld", lease);
	rc = UPNP_AddPortMapping(u->urls.controlURL, u->data.first.servicetype, ext, in, u->lan,
	    desc, proto, NULL, dur);
	if (rc == 725) {
		/* OnlyPermanentLeasesSupported: take a permanent one (removed at exit). */
		rc = UPNP_AddPortMapping(u->urls.controlURL, u->data.first.servicetype, ext, in,
		    u->lan, desc, proto, NULL, "0");
		lease = 0;
	}
	if (rc == 718 || rc == 501) {
		/* Say who holds it, when the router tells. */
		if (get_entry(u, transport, ext_port, &e) == 0 && e.client[0] &&
		    strcmp(e.client, u->lan) != 0)
			snprintf(err, errlen, "external %sport %u is taken by another host on this "
			    "network (%s)", word, ext_port, e.client);
		else if (e.client[0])
			snprintf(err, errlen, "external %sport %u is taken by another program on "
			    "this host (internal port %s, \"%s\")", word, ext_port, e.iport, e.desc);
		else
			snprintf(err, errlen, "external %sport %u is taken by another host on this "
			    "network (UPnP %d: %s)", word, ext_port, rc, strupnperror(rc));
		return PORTMAP_CONFLICT;
	}
	if (rc < 0) {
		/* miniupnpc's own codes: the request got no usable HTTP answer. */
		snprintf(err, errlen, "the router did not answer the mapping request (UPnP %d: %s)",
		    rc, strupnperror(rc) ? strupnperror(rc) : "unknown error");
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "the router refused the mapping (UPnP %d: %s)", rc,
		    strupnperror(rc) ? strupnperror(rc) : "unknown error");
		return -1;
	}
	/* Routers have claimed success and mapped nothing: read it back. */
	if (get_entry(u, transport, ext_port, &e) != 0 || !points_here(u, &e, int_port)) {
		snprintf(err, errlen, "the router said yes, but its table does not show the "
		    "mapping of %sport %u to %s:%u", word, ext_port, u->lan, int_port);
		return -1;
	}
	*granted = ext_port;
	*granted_lease = lease;
	return 0;
}

static int
upnp_remove(void *state, int transport, uint16_t ext_port, uint16_t int_port, char *err,
    size_t errlen)
{
	struct upnp *u = state;
	const char *word = portmap_transport_word(transport);
	char ext[8];
	struct entry e;
	int rc;

	snprintf(ext, sizeof(ext), "%u", ext_port);
	/* Only ever ours: the mapping must point at this host and carry our description. */
	if (get_entry(u, transport, ext_port, &e) != 0) {
		snprintf(err, errlen, "no mapping of external %sport %u on the router", word,
		    ext_port);
		return -1;
	}
	if (!points_here(u, &e, int_port) ||
	    strncmp(e.desc, PORTMAP_DESC_PREFIX, strlen(PORTMAP_DESC_PREFIX)) != 0) {
		snprintf(err, errlen, "external %sport %u belongs to %s:%s (\"%s\"), not to netcfax "
		    "on this host: left alone", word, ext_port, e.client, e.iport, e.desc);
		return -1;
	}
	rc = UPNP_DeletePortMapping(u->urls.controlURL, u->data.first.servicetype, ext,
	    portmap_transport_name(transport), NULL);
	if (rc != 0) {
		snprintf(err, errlen, "the router refused to remove it (UPnP %d)", rc);
		return -1;
	}
	return 0;
}

static int
upnp_list(void *state, int (*cb)(const struct portmap_mapping *, void *), void *arg, char *err,
    size_t errlen)
{
	struct upnp *u = state;

	(void)err;
	(void)errlen;
	/* The table is small; the index cap stops a router that never says "end". */
	for (int i = 0; i < 1024; i++) {
		char idx[8], ext[8] = "", client[PORTMAP_ADDR_MAX] = "", in[8] = "", proto[8] = "";
		char desc[80] = "", en[8] = "", rhost[64] = "", dur[16] = "";
		struct portmap_mapping m;

		snprintf(idx, sizeof(idx), "%d", i);
		if (UPNP_GetGenericPortMappingEntry(u->urls.controlURL, u->data.first.servicetype,
		    idx, ext, client, in, proto, desc, en, rhost, dur) != 0)
			break;
		memset(&m, 0, sizeof(m));
		if (strcmp(proto, "TCP") == 0)
			m.transport = PORTMAP_TCP;
		else if (strcmp(proto, "UDP") == 0)
			m.transport = PORTMAP_UDP;
		else
			continue;
		m.ext_port = (uint16_t)atoi(ext);
		m.int_port = (uint16_t)atoi(in);
		printable(client);
		printable(desc);
		snprintf(m.int_client, sizeof(m.int_client), "%s", client);
		snprintf(m.desc, sizeof(m.desc), "%s", desc);
		m.lease = atol(dur);
		if (cb(&m, arg) != 0)
			break;
	}
	return 0;
}

static int
upnp_check(void *state, int transport, uint16_t ext_port, uint16_t int_port, char *err,
    size_t errlen)
{
	struct upnp *u = state;
	struct entry e;
	int rc = get_entry(u, transport, ext_port, &e);

	if (rc == 0)
		return points_here(u, &e, int_port);
	if (rc == 714)
		return 0;               /* NoSuchEntryInArray: the router forgot it */
	/* Negative codes are miniupnpc's own: no HTTP answer, or an unreadable one. */
	snprintf(err, errlen, "UPnP %d: %s", rc,
	    strupnperror(rc) ? strupnperror(rc) : "unknown error");
	return -1;
}

const struct portmap_ops portmap_upnp_ops = {
	"upnp", upnp_discover, upnp_add, upnp_remove, upnp_list, upnp_check, upnp_close
};

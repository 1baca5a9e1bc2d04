/* pcpmap.c: the server asks its router to forward the PCP, through the same mapping service
 * the client uses for its SCP, and says in the log what it did and what clients must use.
 * Off by default: an operator who forwards the port by hand keeps full control of it. */
#include "pcpmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "service.h"

struct pcpmap {
	struct server          *srv;
	struct portmap_service *svc;
};

static const char *
proto_words(const char *proto)
{
	return strcmp(proto, "natpmp") == 0 ? "NAT-PMP" : "UPnP";
}

static void
on_event(const struct portmap_event *ev, void *arg)
{
	struct pcpmap *m = arg;
	unsigned pcp = (unsigned)m->srv->cfg.pcp_port;

	switch (ev->kind) {
	case PORTMAP_MAPPED:
		log_info("port mapping: the router (%s) forwards %s port %u to this host's PCP port "
		    "%u; clients outside this network connect to %s port %u (%s)",
		    proto_words(ev->proto), ev->ext_addr, ev->ext_port, pcp, ev->ext_addr,
		    ev->ext_port, ev->lease ? "lease renewed at half" : "permanent mapping, removed "
		    "at shutdown");
		if (ev->ext_port != pcp)
			log_warnx("port mapping: the router gave external port %u, not %u: clients "
			    "outside this network must be set to port %u", ev->ext_port, pcp,
			    ev->ext_port);
		break;
	case PORTMAP_LOST:
		log_warnx("port mapping: %s", ev->why);
		break;
	case PORTMAP_RESTARTED:
		log_info("port mapping: %s; checking the mapping", ev->why);
		break;
	default:
		log_warnx("port mapping: the router does not forward the PCP: %s; clients outside "
		    "this network cannot connect until it does, or until a rule forwards TCP port "
		    "%u to this host (docs/firewall.md); trying again in a while", ev->why, pcp);
		break;
	}
}

/* Only loopback addresses in listen: a mapping would forward to a port nobody serves. */
static int
loopback_only(const char *listen)
{
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", listen);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (strncmp(t, "127.", 4) != 0 && strcmp(t, "::1") != 0 &&
		    strcmp(t, "localhost") != 0)
			return 0;
	return 1;
}

struct pcpmap *
pcpmap_start(struct server *srv)
{
	struct portmap_service_options o = { 0 };
	struct pcpmap *m;
	char desc[PORTMAP_DESC_MAX], host[64] = "";

	if (strcmp(srv->cfg.portmap, "off") == 0)
		return NULL;
	if (loopback_only(srv->cfg.listen)) {
		log_warnx("port mapping: not asked of the router, because the server listens only "
		    "on loopback (%s)", srv->cfg.listen);
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	gethostname(host, sizeof(host) - 1);
	snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " PCP %s", host);
	m->srv = srv;
	o.protocols = srv->cfg.portmap;
	o.int_port = (uint16_t)srv->cfg.pcp_port;
	o.lease = srv->cfg.portmap_lease;
	o.desc = desc;
	/* No range and no other ports: clients are configured with one PCP port, so another
	 * one helps nobody unless the router insists (NAT-PMP may), which the log then says. */
	if ((m->svc = portmap_service_new(srv->base, &o, on_event, m)) == NULL) {
		log_warnx("port mapping: cannot start (out of memory or threads)");
		free(m);
		return NULL;
	}
	log_info("port mapping: asking the local router (%s) to forward TCP port %u to this host",
	    strcmp(srv->cfg.portmap, "auto") == 0 ? "UPnP, then NAT-PMP" :
	    proto_words(srv->cfg.portmap), (unsigned)srv->cfg.pcp_port);
	return m;
}

void
pcpmap_stop(struct pcpmap *m)
{
	if (m == NULL)
		return;
	portmap_service_free(m->svc);
	free(m);
	log_info("port mapping: stopped; a mapping made by this server was removed from the router");
}

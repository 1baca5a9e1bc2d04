/* router.c: what the local router offers: UPnP IGD and NAT-PMP each asked (2 s each), the
 * external address and its class, netcfax's own mappings to this machine, and whether our
 * SCP's external port is held by another host; and the temporary mapping that tests what a
 * watcher would get from the router. */
#include "portcheck.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "proto.h"
#include "service.h"

#define DISCOVER_MS 2000
#define AUTOMAP_WAIT_S 15     /* both protocols' discovery and a mapping request, with room */

struct scan {
	struct portcheck *pc;
	struct pc_router *r;
};

static int
one_mapping(const struct portmap_mapping *m, void *arg)
{
	struct scan *s = arg;
	int ours = strcmp(m->int_client, s->r->gw.lan_addr) == 0 &&
	    strncmp(m->desc, PORTMAP_DESC_PREFIX, strlen(PORTMAP_DESC_PREFIX)) == 0;

	/* The SCP is TCP: a UDP mapping of the same port (a server's RTP) is another thing. */
	if (m->transport != PORTMAP_TCP)
		return 0;
	if (ours) {
		s->r->ours++;
		if (m->int_port == s->pc->scp_port)
			s->r->ours_ext = m->ext_port;
	} else if (m->ext_port == s->pc->scp_port) {
		snprintf(s->r->other_owner, sizeof(s->r->other_owner), "%s:%u (\"%s\")",
		    m->int_client, m->int_port, m->desc);
	}
	return 0;
}

static void
ask(struct portcheck *pc, const struct portmap_ops *ops, struct pc_router *r)
{
	void *st = NULL;
	char err[300];
	struct scan s = { pc, r };

	if (ops->discover(&st, DISCOVER_MS, &r->gw, r->err, sizeof(r->err)) != 0) {
		pc_add(pc, PC_ROUTER, ops->name, PC_SKIP, "", "no answer: %s", r->err);
		return;
	}
	r->found = 1;
	if (ops->list(st, one_mapping, &s, err, sizeof(err)) != 0)
		err[0] = '\0';
	ops->close(st);
	if (ops == &portmap_natpmp_ops) {
		pc_add(pc, PC_ROUTER, ops->name, PC_PASS, "", "%s; our address %s (NAT-PMP cannot "
		    "list mappings: one made by NAT-PMP on another external port is not seen here)",
		    r->gw.detail, r->gw.lan_addr);
		return;
	}
	pc_add(pc, PC_ROUTER, ops->name, r->other_owner[0] ? PC_WARN : PC_PASS,
	    r->other_owner[0] ? "another host holds the external port of our SCP: use "
	    "scp_mode = range so the client can map another one" : "",
	    "%s; our address %s; %d netcfax mapping%s to this machine%s%s", r->gw.detail,
	    r->gw.lan_addr, r->ours, r->ours == 1 ? "" : "s", r->other_owner[0] ?
	    "; external port held by " : "", r->other_owner);
}

void
pc_check_routers(struct portcheck *pc)
{
	if (strcmp(pc->cli.cfg.portmap, "off") == 0) {
		pc_add(pc, PC_ROUTER, "upnp", PC_SKIP, "", "portmap = off: the router is not asked");
		return;
	}
	pc->routers_checked = 1;
	ask(pc, &portmap_upnp_ops, &pc->upnp);
	ask(pc, &portmap_natpmp_ops, &pc->natpmp);
}

/* --open: the router rule by request, through the same backends the watcher uses; it stays
 * (like `netcfax portmap open`) until its lease ends or --close. --close removes ours. */
void
pc_open_close(struct portcheck *pc)
{
	const char *order[2] = { "upnp", "natpmp" };
	char desc[PORTMAP_DESC_MAX], host[64] = "", err[300] = "no router answered";
	struct portmap_gateway gw;

	if (!pc->open && !pc->close)
		return;
	if (pc->scp_port == 0 || (pc->open && pc->scp_mode == NCFX_SCP_DYNAMIC)) {
		pc_add(pc, PC_ROUTER, pc->open ? "open" : "close", PC_FAIL, "set scp_mode = fixed "
		    "(or range) first", "%s", pc->scp_port == 0 ? "no SCP port to map" :
		    "scp_mode = dynamic: the port changes at every start, so a mapping made now "
		    "would serve nobody");
		return;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " SCP %s@%s", pc->cli.cfg.user, host);
	for (int i = 0; i < 2; i++) {
		const struct portmap_ops *ops = portmap_backend(order[i]);
		uint16_t ext = pc->upnp.ours_ext ? (uint16_t)pc->upnp.ours_ext : pc->scp_port;
		uint16_t granted = 0;
		long lease = 0;
		void *st = NULL;
		int rc;

		if (strcmp(pc->cli.cfg.portmap, "auto") != 0 &&
		    strcmp(pc->cli.cfg.portmap, order[i]) != 0)
			continue;
		if (ops->discover(&st, DISCOVER_MS, &gw, err, sizeof(err)) != 0)
			continue;
		if (gw.ext_class != PORTMAP_ADDR_PUBLIC) {
			snprintf(err, sizeof(err), "%s", gw.detail);
			ops->close(st);
			continue;
		}
		rc = pc->open ? ops->add(st, PORTMAP_TCP, pc->scp_port, ext, 3600, desc, &granted,
		    &lease, err, sizeof(err)) : ops->remove(st, PORTMAP_TCP, ext, pc->scp_port, err,
		    sizeof(err));
		ops->close(st);
		if (rc != 0)
			break;
		if (pc->open) {
			pc->upnp.ours_ext = granted;    /* the port the server is to be told */
			pc_add(pc, PC_ROUTER, "open", PC_PASS, "", "%s mapped %s:%u to %s:%u (%s; "
			    "remove it with --close)", ops->name, gw.ext_addr, granted, gw.lan_addr,
			    pc->scp_port, lease ? "lease 3600 s" : "permanent");
		} else {
			pc->upnp.ours_ext = 0;
			pc_add(pc, PC_ROUTER, "close", PC_PASS, "", "%s removed the mapping of "
			    "external port %u", ops->name, ext);
		}
		return;
	}
	pc_add(pc, PC_ROUTER, pc->open ? "open" : "close", PC_FAIL, pc->open ? "add the forward "
	    "by hand (the fix below)" : "", "%s", err);
}

static void
on_automap(const struct portmap_event *ev, void *arg)
{
	struct portcheck *pc = arg;

	/* The first word decides; a LOST (it cannot come before a MAPPED) changes nothing. */
	if (pc->automap_state != 0 || (ev->kind != PORTMAP_MAPPED && ev->kind != PORTMAP_FAILED))
		return;
	pc->automap_state = ev->kind == PORTMAP_MAPPED ? 1 : -1;
	snprintf(pc->automap_proto, sizeof(pc->automap_proto), "%s", ev->proto);
	snprintf(pc->automap_addr, sizeof(pc->automap_addr), "%s", ev->ext_addr);
	pc->automap_port = ev->ext_port;
	pc->automap_lease = ev->lease;
	snprintf(pc->automap_why, sizeof(pc->automap_why), "%s", ev->kind == PORTMAP_MAPPED &&
	    ev->instead[0] ? ev->instead : ev->why);
	event_base_loopbreak(pc->automap_base);
}

/* The mapping a watcher would make (client/lib/watch.c start_portmap): the same service,
 * the same options, for the port this check has bound. It stays while the direct path is
 * probed through it, and pc_automap_end removes it. */
int
pc_automap_begin(struct portcheck *pc)
{
	struct portmap_service_options po = { 0 };
	struct timeval bound = { AUTOMAP_WAIT_S, 0 };
	char desc[PORTMAP_DESC_MAX], host[64] = "";

	pc->automap_state = 0;
	/* A check stopped half-way must not leave the mapping behind for its lease: signals
	 * that would end it wait until the mapping is removed (pc_automap_end), a wait bounded
	 * by the router's answers and --timeout. The mapping's thread inherits the mask. */
	if (!pc->automap_masked) {
		sigset_t hold;

		sigemptyset(&hold);
		sigaddset(&hold, SIGINT);
		sigaddset(&hold, SIGTERM);
		sigaddset(&hold, SIGHUP);
		pc->automap_masked = pthread_sigmask(SIG_BLOCK, &hold, &pc->automap_oldmask) == 0;
	}
	if ((pc->automap_base = event_base_new()) == NULL) {
		snprintf(pc->automap_why, sizeof(pc->automap_why), "out of memory");
		pc->automap_state = -1;
		return -1;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " SCP %s@%s", pc->cli.cfg.user, host);
	po.protocols = pc->cli.cfg.portmap;
	/* The watcher's first round would ask both; one that did not answer a moment ago
	 * need not be waited for again (UPnP discovery that finds nothing takes seconds). */
	if (strcmp(po.protocols, "auto") == 0 && pc->upnp.found != pc->natpmp.found)
		po.protocols = pc->upnp.found ? "upnp" : "natpmp";
	po.int_port = pc->scp_port;
	if (pc->scp_mode == NCFX_SCP_RANGE) {
		po.range_lo = (uint16_t)pc->range_lo;
		po.range_hi = (uint16_t)pc->range_hi;
	}
	po.lease = pc->cli.cfg.portmap_lease > 0 ? (long)pc->cli.cfg.portmap_lease : 3600;
	po.desc = desc;
	/* With the watcher's description and alternatives, a port another host holds gives way
	 * to the same external port the watcher would get. */
	po.alternatives = PORTMAP_ALT_TRIES;
	pc->automap = portmap_service_new(pc->automap_base, &po, on_automap, pc);
	if (pc->automap == NULL) {
		snprintf(pc->automap_why, sizeof(pc->automap_why), "cannot start the port "
		    "mapping");
		pc->automap_state = -1;
		return -1;
	}
	event_base_loopexit(pc->automap_base, &bound);
	event_base_dispatch(pc->automap_base);
	if (pc->automap_state == 0) {
		snprintf(pc->automap_why, sizeof(pc->automap_why), "no answer from the router in "
		    "%d s", AUTOMAP_WAIT_S);
		pc->automap_state = -1;
	}
	if (pc->automap_state > 0) {
		char note[sizeof(pc->automap_why) + 4] = "";

		/* Another external port than ours: the service says why (who holds ours). */
		if (pc->automap_port != pc->scp_port && pc->automap_why[0])
			snprintf(note, sizeof(note), " (%s)", pc->automap_why);
		pc_add(pc, PC_ROUTER, "automap", PC_PASS, "", "%s mapped %s:%u to this machine's "
		    "port %u for this check, as 'netcfax watch' (portmap = %s) would; removed "
		    "after%s", pc->automap_proto, pc->automap_addr, pc->automap_port, pc->scp_port,
		    pc->cli.cfg.portmap, note);
	} else
		pc_add(pc, PC_ROUTER, "automap", PC_FAIL, "the router will not forward the port by "
		    "itself: add the forward by hand (the fix below)", "asked the router for a "
		    "mapping of port %u, as 'netcfax watch' (portmap = %s) would: %s",
		    pc->scp_port, pc->cli.cfg.portmap, pc->automap_why);
	return pc->automap_state > 0 ? 0 : -1;
}

void
pc_automap_end(struct portcheck *pc)
{
	/* Removes the mapping it made (bounded in time by the router calls' own timeouts). */
	portmap_service_free(pc->automap);
	pc->automap = NULL;
	if (pc->automap_base)
		event_base_free(pc->automap_base);
	pc->automap_base = NULL;
	if (pc->automap_masked) {
		/* A signal that came meanwhile is delivered now, with nothing left behind. */
		pc->automap_masked = 0;
		pthread_sigmask(SIG_SETMASK, &pc->automap_oldmask, NULL);
	}
}

/* router.c: what the local router offers: UPnP IGD and NAT-PMP each asked (2 s each), the
 * external address and its class, netcfax's own mappings to this machine, and whether our
 * SCP's external port is held by another host. */
#include "portcheck.h"

#include <stdio.h>
#include <string.h>

#define DISCOVER_MS 2000

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

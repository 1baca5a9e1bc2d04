/* judge.c: from the findings to a verdict: the topology between this client and the server,
 * whether the relay is there, and the exact rule that makes the direct path work, with this
 * network's addresses and ports filled in. */
#include "portcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

const char *
pc_topology_name(int t)
{
	switch (t) {
	case PC_TOPO_NONE:    return "no NAT";
	case PC_TOPO_NAT:     return "NAT";
	case PC_TOPO_SINGLE:  return "single NAT";
	case PC_TOPO_DOUBLE:  return "double NAT";
	case PC_TOPO_CGNAT:   return "CGNAT";
	case PC_TOPO_DIFFERS: return "public address differs from the router's";
	default:              return "unknown";
	}
}

/* The router's view: the class of its external address, private winning over empty (the
 * UPnP side of some routers withholds a private address that NAT-PMP admits to). */
static const struct pc_router *
router_view(const struct portcheck *pc)
{
	const struct pc_router *u = &pc->upnp, *n = &pc->natpmp;

	if (n->found && n->gw.ext_class != PORTMAP_ADDR_EMPTY)
		return n;
	if (u->found)
		return u;
	return n->found ? n : NULL;
}

/* The hop at ttl (1-based) if it answered, else NULL. */
static const struct pc_hop *
hop(const struct portcheck *pc, int ttl)
{
	if (ttl < 1 || ttl > pc->nhops || !pc->hops[ttl - 1].addr[0])
		return NULL;
	return &pc->hops[ttl - 1];
}

/* The router in front of this machine: the first hop, else the default gateway; "" when the
 * server itself is the first hop (nothing routes between). */
static const char *
front_router(const struct portcheck *pc)
{
	const struct pc_hop *h = hop(pc, 1);

	if (h && h->is_server)
		return "";
	return h ? h->addr : pc->gateway;
}

/* The hop after the router in front, when it answered. */
static const struct pc_hop *
next_hop(const struct portcheck *pc)
{
	const struct pc_hop *h = hop(pc, 1);

	return h && !h->is_server ? hop(pc, 2) : NULL;
}

/* The router's own external address when it says one that is private (double NAT), else
 * NULL: miniupnpd withholds it (UPnP: empty; NAT-PMP: result 3, no address). */
static const char *
inner_wan(const struct pc_router *r)
{
	return r && r->gw.ext_class == PORTMAP_ADDR_PRIVATE && r->gw.ext_addr[0] ?
	    r->gw.ext_addr : NULL;
}

/* What the router said about its external address, in words. */
static const char *
router_said(const struct portcheck *pc, const struct pc_router *r)
{
	return r ? r->gw.detail : pc->routers_checked ? "no UPnP or NAT-PMP answer" :
	    "not asked: portmap = off";
}

static void
topology(struct portcheck *pc)
{
	const struct pc_router *r = router_view(pc);
	const struct pc_hop *h2;
	const char *front;
	char ev[600], said[300] = "";
	int t, by_hops = 0;

	if (!pc->logged_in) {
		pc_add(pc, PC_TOPOLOGY, "topology", PC_SKIP, "", "the server could not say where it "
		    "sees this client");
		return;
	}
	/* The hops matter when the router does not vouch for the address the server sees. */
	if (!(r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC && strcmp(r->gw.ext_addr,
	    pc->observed) == 0) && !(pc->direct_ok && strcmp(pc->observed, pc->local_addr) == 0))
		pc_check_hops(pc);
	h2 = next_hop(pc);
	front = front_router(pc);
	if (strcmp(pc->observed, pc->local_addr) == 0)
		t = PC_TOPO_NONE;
	else if (portmap_classify(pc->observed) == PORTMAP_ADDR_CGNAT ||
	    (r && r->gw.ext_class == PORTMAP_ADDR_CGNAT))
		t = PC_TOPO_CGNAT;
	else if (r && r->gw.ext_class == PORTMAP_ADDR_PRIVATE)
		t = PC_TOPO_DOUBLE;
	else if (r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC)
		t = strcmp(r->gw.ext_addr, pc->observed) == 0 ? PC_TOPO_SINGLE : PC_TOPO_DIFFERS;
	else if (h2 && !h2->is_server && h2->cls == PORTMAP_ADDR_PRIVATE)
		t = PC_TOPO_DOUBLE, by_hops = 1;
	else
		t = PC_TOPO_NAT;
	pc->topology = t;
	snprintf(said, sizeof(said), "%s", router_said(pc, r));
	switch (t) {
	case PC_TOPO_NONE:
		snprintf(ev, sizeof(ev), "this machine's address %s is what the server sees%s%s%s",
		    pc->local_addr, front[0] ? "; the router " : "", front, front[0] ? " routes "
		    "between, without translating" : hop(pc, 1) ? "; nothing routes between" : "");
		break;
	case PC_TOPO_SINGLE:
		snprintf(ev, sizeof(ev), "one router between: its external address %s is what the "
		    "server sees", pc->observed);
		break;
	case PC_TOPO_DOUBLE:
		if (by_hops)
			snprintf(ev, sizeof(ev), "the server sees %s; your router %s does not say its "
			    "external address (%s); the next hop %s is private: probably a second "
			    "NAT router", pc->observed, front, said, h2->addr);
		else
			snprintf(ev, sizeof(ev), "the router's own external address is private (%s): "
			    "another NAT sits upstream; the server sees %s%s%s", said, pc->observed,
			    h2 ? "; the next hop is " : "", h2 ? h2->addr : "");
		break;
	case PC_TOPO_CGNAT:
		snprintf(ev, sizeof(ev), "the provider's NAT (100.64.0.0/10) sits upstream; the "
		    "server sees %s", pc->observed);
		break;
	case PC_TOPO_DIFFERS:
		snprintf(ev, sizeof(ev), "the router says its external address is %s, but the "
		    "server sees %s: another NAT or a VPN sits upstream", r->gw.ext_addr,
		    pc->observed);
		break;
	default:
		snprintf(ev, sizeof(ev), "the server sees %s, not this machine's %s: the router %s "
		    "translates, and does not say its external address (%s); %s", pc->observed,
		    pc->local_addr, front[0] ? front : "in front", said, h2 && h2->is_server ? "the server is the next hop: no other router "
		    "between" : h2 && h2->cls == PORTMAP_ADDR_CGNAT ? "the next hop is in the range "
		    "carrier-grade NAT uses (100.64.0.0/10): if your router's WAN address is in it "
		    "too, the provider's NAT sits upstream" : h2 ? "the next hop is public: most "
		    "likely the only NAT" : "the hops past it did not answer: whether another NAT "
		    "sits upstream is not known");
		break;
	}
	pc_add(pc, PC_TOPOLOGY, "topology", t == PC_TOPO_DOUBLE || t == PC_TOPO_CGNAT ||
	    t == PC_TOPO_DIFFERS ? PC_WARN : PC_PASS, t == PC_TOPO_CGNAT ? "no rule on your "
	    "side can open a port through the provider's NAT: the relay is the answer" : "",
	    "%s: %s", pc_topology_name(t), ev);
}

static void
relay(struct portcheck *pc)
{
	if (!pc->relay_known) {
		pc_add(pc, PC_RELAY, "relay", PC_SKIP, "", "not checked: no session with the "
		    "server");
		return;
	}
	if (pc->relay_ok)
		pc_add(pc, PC_RELAY, "relay", PC_PASS, "", "the server relays notifications over "
		    "this client's own connection when it cannot connect back; round trip on it "
		    "%ld ms", pc->probe.pcp_rtt_ms);
	else
		pc_add(pc, PC_RELAY, "relay", PC_FAIL, "ask the server's operator to set relay = "
		    "yes, or make the direct path work", "the server does not relay (relay = no)");
}

/* Appends to the fix's words. */
static void __attribute__((format(printf, 2, 3)))
say(struct portcheck *pc, const char *fmt, ...)
{
	size_t n = strlen(pc->fix_words);
	va_list ap;

	if (n + 1 >= sizeof(pc->fix_words))
		return;
	va_start(ap, fmt);
	vsnprintf(pc->fix_words + n, sizeof(pc->fix_words) - n, fmt, ap);
	va_end(ap);
}

/* Names a device for people, as the rules' headings show it. */
static void __attribute__((format(printf, 3, 4)))
label(struct portcheck *pc, int device, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pc->device_label[device], sizeof(pc->device_label[0]), fmt, ap);
	va_end(ap);
}

/* What the router rules assume, and what to do when the router differs. */
#define TABLES_ASSUMED "The router rules go into the tables and chains of a Debian router " \
	"(nftables: inet nat prerouting, and the forward chain of inet filter); `nft list " \
	"ruleset` on a router shows its own: use the chains there with \"hook prerouting\" " \
	"(type nat) and \"hook forward\" (type filter) if they are named otherwise. "

/* The rule for this host's own firewall, when it drops the port. */
static void
host_rule(struct portcheck *pc, const char *port)
{
	if (pc->hostfw != 0)
		return;
	label(pc, PC_DEV_HOST, "this machine (its firewall: nftables %s)", pc->hostfw_chain);
	say(pc, "On this machine: its own firewall (nftables %s) drops TCP port %s: let it in. ",
	    pc->hostfw_chain, port);
	pc_rule_input(pc, pc->hostfw_chain, port);
}

/* No NAT: nothing to forward, but whatever filters on the way must let the server in. A
 * router filters what it forwards in its forward chain; only this host's input chain sees
 * packets addressed to this host. */
static void
fix_no_nat(struct portcheck *pc, const char *port)
{
	const char *front = front_router(pc);

	say(pc, "No NAT is in the way: the server connects straight to this machine's address "
	    "%s, so nothing needs forwarding, only letting through. ", pc->local_addr);
	if (pc->hostfw == 0) {
		host_rule(pc, port);
		say(pc, "If the next check still fails, something between filters too: run it "
		    "again after this rule, and it names the next device.");
		return;
	}
	if (pc->hostfw < 0)
		say(pc, "This machine's own firewall could not be read (run the check as root, "
		    "and it names the rule for it): if it filters input, it must let TCP port %s "
		    "in too. ", port);
	if (!front[0]) {
		say(pc, "Nothing routes between this machine and the server, and this machine's "
		    "firewall %s: a firewall on the server's side that filters outgoing "
		    "connections must let them out to TCP port %s.", pc->hostfw == 1 ?
		    "lets the port in" : "may be the one", port);
		return;
	}
	label(pc, PC_DEV_ROUTER, "the router %s (its forward filter)", front);
	say(pc, "The router %s must let the connection through: on a router that is a rule in "
	    "its forward chain (an input chain sees only what is addressed to the router "
	    "itself). The rule below assumes the router's filter is nftables' table inet filter "
	    "with a chain forward, as on Debian; `nft list ruleset` on the router shows its "
	    "own: use the chain there with \"hook forward\" if it is named otherwise. A router "
	    "that filters nothing needs no rule: then the filter is on a device further on.",
	    front);
	pc_rule_forward(pc, PC_DEV_ROUTER, pc->local_addr, port);
}

/* Two NATs: the upstream device forwards to the router's WAN address, the router to us. */
static void
fix_double(struct portcheck *pc, const struct pc_router *r, const char *port)
{
	const char *wan = inner_wan(r), *front = front_router(pc), *lan = pc->local_addr;
	const struct pc_hop *h2 = next_hop(pc);

	label(pc, PC_DEV_UPSTREAM, "the upstream device (the one the server sees as %s)",
	    pc->observed);
	label(pc, PC_DEV_ROUTER, "your router (%s)", front[0] ? front : "the default gateway");
	say(pc, "Two NAT routers are %sin the way, so both must forward TCP port %s. On the "
	    "upstream device (the one with the address the server sees, %s): forward it to your "
	    "router's WAN address", r && r->gw.ext_class == PORTMAP_ADDR_PRIVATE ? "" :
	    "probably ", port, pc->observed);
	if (wan)
		say(pc, ", %s, and let it through its forward filter. ", wan);
	else {
		say(pc, ", and let it through its forward filter. Your router does not say its WAN "
		    "address (%s): its status page shows it (WAN or Internet address%s%s); put it "
		    "in place of " PC_ROUTER_WAN " in the upstream device's rules. ",
		    router_said(pc, r), h2 ? ", probably in the same "
		    "network as " : "", h2 ? h2->addr : "");
		snprintf(pc->fill_how, sizeof(pc->fill_how), "your router's WAN address, which it "
		    "does not say: its status page shows it, as WAN or Internet address%s%s%s", h2 ?
		    " (probably in the same network as " : "", h2 ? h2->addr : "", h2 ? ", the "
		    "address the upstream device answered from)" : "");
	}
	say(pc, "On your router (%s): forward it to %s (service \"netcfax SCP\", protocol TCP, "
	    "internal address %s)%s. ", front[0] ? front : "the default gateway", lan, lan, wan ?
	    "" : "; without its WAN address, the rule below matches what is addressed to the "
	    "router itself and does not come from your LAN");
	pc_rule_dnat(pc, PC_DEV_UPSTREAM, pc->observed, NULL, port, wan ? wan : PC_ROUTER_WAN);
	pc_rule_forward(pc, PC_DEV_UPSTREAM, wan ? wan : PC_ROUTER_WAN, port);
	pc_rule_dnat(pc, PC_DEV_ROUTER, wan, pc->local_net, port, lan);
	pc_rule_forward(pc, PC_DEV_ROUTER, lan, port);
	host_rule(pc, port);
	if (!(r && r->gw.ext_class == PORTMAP_ADDR_PRIVATE))
		/* Only the hops say so: a provider may number its own routers privately without
		 * translating. The router's status page settles it. */
		say(pc, "If your router's status page shows %s as its WAN address, it is the only "
		    "NAT after all: its rules alone are enough. ", pc->observed);
	say(pc, TABLES_ASSUMED "Or put the upstream device in bridge mode, so that your router "
	    "is the only NAT.");
}

/* One NAT (or one we know of): the router forwards to us. */
static void
fix_single(struct portcheck *pc, const struct pc_router *r, const char *port)
{
	const struct pc_hop *h2 = next_hop(pc);
	const char *front = front_router(pc), *lan = pc->local_addr, *ext = NULL;

	/* The router's own word, else the address the server sees when the next hop shows
	 * that nothing translates past the router. */
	if (r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC)
		ext = r->gw.ext_addr;
	else if (h2 && (h2->is_server || h2->cls == PORTMAP_ADDR_PUBLIC))
		ext = pc->observed;
	label(pc, PC_DEV_ROUTER, "your router (%s)", front[0] ? front : "the default gateway");
	if (pc->topology == PC_TOPO_DIFFERS)
		label(pc, PC_DEV_UPSTREAM, "the device upstream (the one the server sees as %s)",
		    pc->observed);
	if (pc->topology == PC_TOPO_DIFFERS) {
		say(pc, "The server sees %s, not your router's external address %s: the device "
		    "that has %s (another NAT, or a VPN's far end) must forward TCP port %s to %s "
		    "and let it through its forward filter. ", pc->observed, ext, pc->observed,
		    port, ext);
		pc_rule_dnat(pc, PC_DEV_UPSTREAM, pc->observed, NULL, port, ext);
		pc_rule_forward(pc, PC_DEV_UPSTREAM, ext, port);
	}
	say(pc, "On your router (%s, external address %s): forward TCP port %s to %s, port %s "
	    "(a \"port forwarding\" or \"virtual server\" rule: service \"netcfax SCP\", "
	    "protocol TCP, external port %s, internal address %s, internal port %s). ",
	    front[0] ? front : "the default gateway", ext ? ext : "not known", port, lan, port,
	    port, lan, port);
	if (!ext)
		say(pc, "Your router does not say its external address, and the hops past it do "
		    "not show it: the rule below matches what is addressed to the router itself "
		    "and does not come from your LAN. If the router's status page shows a WAN "
		    "address other than %s, the device that has %s must forward the port to "
		    "that WAN address too%s. ", pc->observed, pc->observed, h2 && h2->cls ==
		    PORTMAP_ADDR_CGNAT ? "; if that WAN address is in 100.64.0.0/10, it is the "
		    "provider's NAT, which forwards nothing: the relay is the answer" : "");
	pc_rule_dnat(pc, PC_DEV_ROUTER, ext, pc->local_net, port, lan);
	pc_rule_forward(pc, PC_DEV_ROUTER, lan, port);
	host_rule(pc, port);
	say(pc, TABLES_ASSUMED);
	if (r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC && pc->scp_mode != NCFX_SCP_DYNAMIC &&
	    pc->topology == PC_TOPO_SINGLE)
		say(pc, "This router takes requests by UPnP or NAT-PMP: 'netcfax watch' with "
		    "portmap = auto asks for it by itself, and 'netcfax portmap open' does it by "
		    "hand.");
}

/* The fix for the direct path, by topology. */
static void
fix(struct portcheck *pc)
{
	const struct pc_router *r = router_view(pc);
	char port[32];

	if (pc->direct_ok || !pc->probed)
		return;
	pc->fix_words[0] = '\0';
	if (pc->scp_mode == NCFX_SCP_RANGE)
		snprintf(port, sizeof(port), "%d-%d", pc->range_lo, pc->range_hi);
	else if (pc->scp_mode == NCFX_SCP_FIXED)
		snprintf(port, sizeof(port), "%u", pc->scp_port);
	else {
		snprintf(port, sizeof(port), "7485");
		say(pc, "This client picks a new port at every start (scp_mode = dynamic), which no "
		    "rule can follow: set scp_mode = fixed (scp_port = 7485) or a range first. ");
	}
	switch (pc->topology) {
	case PC_TOPO_CGNAT:
		say(pc, "No rule can help: the provider's NAT forwards nothing to you. "
		    "Notifications come over the relay%s; ask the provider for a public address if "
		    "the direct path matters.", pc->relay_ok ? ", which works" : " (which the "
		    "server must allow: relay = yes)");
		break;
	case PC_TOPO_NONE:
		fix_no_nat(pc, port);
		break;
	case PC_TOPO_DOUBLE:
		fix_double(pc, r, port);
		break;
	default:
		fix_single(pc, r, port);
		break;
	}
}

void
pc_judge(struct portcheck *pc)
{
	topology(pc);
	relay(pc);
	fix(pc);
}

/* judge.c: from the findings to a verdict: the topology between this client and the server,
 * whether the relay is there, and the exact rule that makes the direct path work, with this
 * network's addresses and ports filled in. */
#include "portcheck.h"

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

static void
topology(struct portcheck *pc)
{
	const struct pc_router *r = router_view(pc);
	char ev[500];
	int t;

	if (!pc->logged_in) {
		pc_add(pc, PC_TOPOLOGY, "topology", PC_SKIP, "", "the server could not say where it "
		    "sees this client");
		return;
	}
	if (strcmp(pc->observed, pc->local_addr) == 0)
		t = PC_TOPO_NONE;
	else if (portmap_classify(pc->observed) == PORTMAP_ADDR_CGNAT ||
	    (r && r->gw.ext_class == PORTMAP_ADDR_CGNAT))
		t = PC_TOPO_CGNAT;
	else if (r && r->gw.ext_class == PORTMAP_ADDR_PRIVATE)
		t = PC_TOPO_DOUBLE;
	else if (r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC)
		t = strcmp(r->gw.ext_addr, pc->observed) == 0 ? PC_TOPO_SINGLE : PC_TOPO_DIFFERS;
	else
		t = PC_TOPO_NAT;
	pc->topology = t;
	switch (t) {
	case PC_TOPO_NONE:
		snprintf(ev, sizeof(ev), "this machine's address %s is what the server sees",
		    pc->local_addr);
		break;
	case PC_TOPO_SINGLE:
		snprintf(ev, sizeof(ev), "one router between: its external address %s is what the "
		    "server sees", pc->observed);
		break;
	case PC_TOPO_DOUBLE:
		snprintf(ev, sizeof(ev), "the router's own external address is private (%s): "
		    "another NAT sits upstream; the server sees %s", r->gw.detail, pc->observed);
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
		snprintf(ev, sizeof(ev), "the server sees %s, not this machine's %s: a NAT router "
		    "sits between, one that offers no UPnP or NAT-PMP (or is not asked)",
		    pc->observed, pc->local_addr);
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

/* The fix for the direct path, by topology. */
static void
fix(struct portcheck *pc)
{
	const struct pc_router *r = router_view(pc);
	char port[32], nft[300], ipt[300], ip[32], dyn[300] = "";
	const char *lan = pc->local_addr, *ext;
	size_t n;

	if (pc->direct_ok || !pc->probed)
		return;
	if (pc->scp_mode == NCFX_SCP_RANGE)
		snprintf(port, sizeof(port), "%d-%d", pc->range_lo, pc->range_hi);
	else if (pc->scp_mode == NCFX_SCP_FIXED)
		snprintf(port, sizeof(port), "%u", pc->scp_port);
	else {
		snprintf(port, sizeof(port), "7485");
		snprintf(dyn, sizeof(dyn), "This client picks a new port at every start (scp_mode "
		    "= dynamic), which no rule can follow: set scp_mode = fixed (scp_port = 7485) "
		    "or a range first. ");
	}
	ext = r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC ? r->gw.ext_addr : pc->observed;
	n = (size_t)snprintf(pc->fix_words, sizeof(pc->fix_words), "%s", dyn);
	switch (pc->topology) {
	case PC_TOPO_CGNAT:
		snprintf(pc->fix_words + n, sizeof(pc->fix_words) - n, "No rule can help: the "
		    "provider's NAT forwards nothing to you. Notifications come over the relay%s; "
		    "ask the provider for a public address if the direct path matters.",
		    pc->relay_ok ? ", which works" : " (which the server must allow: relay = yes)");
		return;
	case PC_TOPO_NONE:
		snprintf(pc->fix_words + n, sizeof(pc->fix_words) - n, "No NAT is in the way: this "
		    "machine's own firewall (or one in front of it) must let TCP port %s in from "
		    "the server %s.", port, pc->server_ip);
		snprintf(nft, sizeof(nft), "nft add rule inet filter input ip saddr %s tcp dport "
		    "%s accept", pc->server_ip, port);
		snprintf(ip, sizeof(ip), "%s", port);
		if (strchr(ip, '-'))
			*strchr(ip, '-') = ':';           /* iptables' range */
		snprintf(ipt, sizeof(ipt), "iptables -A INPUT -s %s -p tcp --dport %s -j ACCEPT",
		    pc->server_ip, ip);
		pc_rule(pc, nft, ipt);
		return;
	case PC_TOPO_DOUBLE:
		snprintf(pc->fix_words + n, sizeof(pc->fix_words) - n, "Two routers are in the way. "
		    "On the upstream device (the one with the public address %s): forward TCP port "
		    "%s to your router's WAN address. On your router (%s): forward TCP port %s to "
		    "%s (service \"netcfax SCP\", protocol TCP, internal address %s). Or connect "
		    "your router straight to the Internet (bridge mode upstream).", pc->observed,
		    port, pc->gateway, port, lan, lan);
		pc_rule_dnat(pc, pc->observed, port, "ROUTER_WAN_ADDRESS",
		    "   # on the upstream device");
		pc_rule_dnat(pc, NULL, port, lan, "   # on your router");
		break;
	default:
		snprintf(pc->fix_words + n, sizeof(pc->fix_words) - n, "On your router (%s, "
		    "external address %s): forward TCP port %s to %s, port %s (a \"port "
		    "forwarding\" or \"virtual server\" rule: service \"netcfax SCP\", protocol "
		    "TCP, external port %s, internal address %s, internal port %s).%s",
		    pc->gateway[0] ? pc->gateway : "the default gateway", ext, port, lan, port, port,
		    lan, port, pc->topology == PC_TOPO_DIFFERS ? " The server sees another address "
		    "than your router's: the device upstream must forward the port to your router "
		    "as well." : r && r->gw.ext_class == PORTMAP_ADDR_PUBLIC && pc->scp_mode !=
		    NCFX_SCP_DYNAMIC ? " This router takes requests by UPnP or NAT-PMP: 'netcfax "
		    "watch' with portmap = auto asks for it by itself, and 'netcfax portmap open' "
		    "does it by hand." : "");
		pc_rule_dnat(pc, ext, port, lan, "");
		break;
	}
	/* The router in front of this machine must also let the forwarded connection through. */
	pc_rule_forward(pc, lan, port, pc->topology == PC_TOPO_DOUBLE ? "   # on your router" :
	    "");
}

void
pc_judge(struct portcheck *pc)
{
	topology(pc);
	relay(pc);
	fix(pc);
}

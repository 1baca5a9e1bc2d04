/* rules.c: the firewall rules portcheck prints, in nftables and in iptables words, each for
 * the device it goes on, written once here for every check that suggests one (IPv6 sessions
 * get the ip6 forms). They go into the tables and chains of a Debian router (inet nat
 * prerouting, inet filter forward), or, on this host, the input chain its ruleset has. */
#include "portcheck.h"

#include <stdio.h>
#include <string.h>

/* Replaces every from in s (capacity cap) by to. */
static void
replace_all(char *s, size_t cap, const char *from, const char *to)
{
	char out[300], *p = s;
	size_t n = 0, fl = strlen(from);

	while (*p && n + 1 < sizeof(out)) {
		if (strncmp(p, from, fl) == 0) {
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", to);
			if (n >= sizeof(out))
				n = sizeof(out) - 1;
			p += fl;
		} else
			out[n++] = *p++;
	}
	out[n] = '\0';
	snprintf(s, cap, "%s", out);
}

const char *
pc_device_key(int device)
{
	switch (device) {
	case PC_DEV_HOST:     return "this-host";
	case PC_DEV_ROUTER:   return "router";
	case PC_DEV_UPSTREAM: return "upstream";
	default:              return "unknown";
	}
}

void
pc_rule(struct portcheck *pc, int device, const char *nft, const char *ipt)
{
	struct pc_rule *r;

	if (pc->nrules >= PC_MAX_RULES)
		return;
	r = &pc->rules[pc->nrules++];
	r->device = device;
	snprintf(r->nft, sizeof(r->nft), "%s", nft);
	snprintf(r->ipt, sizeof(r->ipt), "%s", ipt);
	if (pc->v6) {
		/* The same rules, in IPv6's words. */
		replace_all(r->nft, sizeof(r->nft), " ip saddr ", " ip6 saddr ");
		replace_all(r->nft, sizeof(r->nft), " ip daddr ", " ip6 daddr ");
		replace_all(r->nft, sizeof(r->nft), "dnat ip to", "dnat ip6 to");
		replace_all(r->ipt, sizeof(r->ipt), "iptables ", "ip6tables ");
	}
}

/* iptables writes a port range with a colon where nftables has a dash. */
static void
ipt_port(const char *port, char *out, size_t cap)
{
	snprintf(out, cap, "%s", port);
	if (strchr(out, '-'))
		*strchr(out, '-') = ':';
}

/* Appended, after whatever the router's nat chain already does (miniupnpd's jump, say). The
 * match without an address is for a router whose WAN address is not known: packets addressed
 * to one of its own addresses, except those from its LAN, which are the LAN's own business
 * (a LAN host reaching the router's web page on that port, say). */
void
pc_rule_dnat(struct portcheck *pc, int device, const char *daddr, const char *lan_net,
    const char *port, const char *to)
{
	char nft[300], ipt[300], ip[32];

	ipt_port(port, ip, sizeof(ip));
	if (daddr) {
		snprintf(nft, sizeof(nft), "nft add rule inet nat prerouting ip daddr %s tcp dport "
		    "%s dnat ip to %s", daddr, port, to);
		snprintf(ipt, sizeof(ipt), "iptables -t nat -A PREROUTING -d %s -p tcp --dport %s "
		    "-j DNAT --to-destination %s", daddr, ip, to);
	} else {
		snprintf(nft, sizeof(nft), "nft add rule inet nat prerouting fib daddr type local "
		    "ip saddr != %s tcp dport %s dnat ip to %s", lan_net, port, to);
		snprintf(ipt, sizeof(ipt), "iptables -t nat -A PREROUTING -m addrtype --dst-type "
		    "LOCAL ! -s %s -p tcp --dport %s -j DNAT --to-destination %s", lan_net, ip, to);
	}
	pc_rule(pc, device, nft, ipt);
}

/* Inserted, not appended: a forward chain may end in an explicit drop that an appended
 * accept would never get past. */
void
pc_rule_forward(struct portcheck *pc, int device, const char *to, const char *port)
{
	char nft[300], ipt[300], ip[32];

	ipt_port(port, ip, sizeof(ip));
	snprintf(nft, sizeof(nft), "nft insert rule inet filter forward ip daddr %s tcp dport %s "
	    "ct state new accept", to, port);
	snprintf(ipt, sizeof(ipt), "iptables -I FORWARD -d %s -p tcp --dport %s -m conntrack "
	    "--ctstate NEW -j ACCEPT", to, ip);
	pc_rule(pc, device, nft, ipt);
}

void
pc_rule_input(struct portcheck *pc, const char *chains, const char *port)
{
	char nft[300], ipt[300], ip[32], list[300], *save = NULL;

	ipt_port(port, ip, sizeof(ip));
	/* One rule per chain that drops the port: a packet must pass every one. */
	snprintf(list, sizeof(list), "%s", chains);
	for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		c += strspn(c, " ");
		snprintf(nft, sizeof(nft), "nft insert rule %s tcp dport %s accept", c, port);
		snprintf(ipt, sizeof(ipt), "iptables -I INPUT -p tcp --dport %s -j ACCEPT", ip);
		pc_rule(pc, PC_DEV_HOST, nft, ipt);
	}
}

/* The rules of a SIP trunk: proto ("udp" or "tcp") from the provider's addresses only, saddr
 * being one address or an nft set "{ A, B }" of one family (v6 says which). iptables takes the
 * same list joined by commas and makes one rule of each address. An empty saddr: from anyone. */
static void
peer_words(const char *saddr, int v6, char *nft, size_t nftlen, char *ipt, size_t iptlen)
{
	char list[256];
	size_t n = 0;

	nft[0] = ipt[0] = '\0';
	if (saddr[0] == '\0')
		return;                          /* from anyone */
	snprintf(nft, nftlen, "%s saddr %s ", v6 ? "ip6" : "ip", saddr);
	for (const char *p = saddr; *p && n + 1 < sizeof(list); p++)
		if (*p != '{' && *p != '}' && *p != ' ')
			list[n++] = *p;
	list[n] = '\0';
	snprintf(ipt, iptlen, "-s %s ", list);
}

void
pc_rule_peer_dnat(struct portcheck *pc, int device, const char *proto, const char *saddr,
    int v6, const char *daddr, const char *port, const char *to)
{
	char nft[300], ipt[300], ip[32], nsrc[280], isrc[280];

	ipt_port(port, ip, sizeof(ip));
	peer_words(saddr, v6, nsrc, sizeof(nsrc), isrc, sizeof(isrc));
	snprintf(nft, sizeof(nft), "nft add rule inet nat prerouting %s daddr %s %s%s dport %s "
	    "dnat %s to %s", v6 ? "ip6" : "ip", daddr, nsrc, proto, port, v6 ? "ip6" : "ip", to);
	snprintf(ipt, sizeof(ipt), "%s -t nat -A PREROUTING -d %s %s-p %s --dport %s -j DNAT "
	    "--to-destination %s", v6 ? "ip6tables" : "iptables", daddr, isrc, proto, ip, to);
	pc_rule(pc, device, nft, ipt);
}

void
pc_rule_peer_forward(struct portcheck *pc, int device, const char *proto, const char *saddr,
    int v6, const char *to, const char *port)
{
	char nft[300], ipt[300], ip[32], nsrc[280], isrc[280];

	ipt_port(port, ip, sizeof(ip));
	peer_words(saddr, v6, nsrc, sizeof(nsrc), isrc, sizeof(isrc));
	snprintf(nft, sizeof(nft), "nft insert rule inet filter forward %s%s daddr %s %s dport %s "
	    "ct state new accept", nsrc, v6 ? "ip6" : "ip", to, proto, port);
	snprintf(ipt, sizeof(ipt), "%s -I FORWARD %s-d %s -p %s --dport %s -m conntrack "
	    "--ctstate NEW -j ACCEPT", v6 ? "ip6tables" : "iptables", isrc, to, proto, ip);
	pc_rule(pc, device, nft, ipt);
}

void
pc_rule_peer_input(struct portcheck *pc, const char *chains, const char *proto,
    const char *saddr, int v6, const char *port)
{
	char nft[300], ipt[300], ip[32], list[300], nsrc[280], isrc[280], *save = NULL;

	ipt_port(port, ip, sizeof(ip));
	peer_words(saddr, v6, nsrc, sizeof(nsrc), isrc, sizeof(isrc));
	snprintf(list, sizeof(list), "%s", chains);
	for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		c += strspn(c, " ");
		snprintf(nft, sizeof(nft), "nft insert rule %s %s%s dport %s accept", c, nsrc, proto,
		    port);
		snprintf(ipt, sizeof(ipt), "%s -I INPUT %s-p %s --dport %s -j ACCEPT", v6 ?
		    "ip6tables" : "iptables", isrc, proto, ip);
		pc_rule(pc, PC_DEV_HOST, nft, ipt);
	}
}

/* rules.c: the firewall rules portcheck prints, in nftables and in iptables words, written
 * once here for every check that suggests one (IPv6 sessions get the ip6 forms). */
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

void
pc_rule(struct portcheck *pc, const char *nft, const char *ipt)
{
	char *n, *i;

	if (pc->nrules >= PC_MAX_RULES)
		return;
	n = pc->nft[pc->nrules];
	i = pc->ipt[pc->nrules];
	snprintf(n, sizeof(pc->nft[0]), "%s", nft);
	snprintf(i, sizeof(pc->ipt[0]), "%s", ipt);
	if (pc->v6) {
		/* The same rules, in IPv6's words. */
		replace_all(n, sizeof(pc->nft[0]), " ip saddr ", " ip6 saddr ");
		replace_all(n, sizeof(pc->nft[0]), " ip daddr ", " ip6 daddr ");
		replace_all(n, sizeof(pc->nft[0]), "dnat ip to", "dnat ip6 to");
		replace_all(i, sizeof(pc->ipt[0]), "iptables ", "ip6tables ");
	}
	pc->nrules++;
}

/* iptables writes a port range with a colon where nftables has a dash. */
static void
ipt_port(const char *port, char *out, size_t cap)
{
	snprintf(out, cap, "%s", port);
	if (strchr(out, '-'))
		*strchr(out, '-') = ':';
}

void
pc_rule_dnat(struct portcheck *pc, const char *daddr, const char *port, const char *to,
    const char *note)
{
	char nft[300], ipt[300], ip[32];

	ipt_port(port, ip, sizeof(ip));
	if (daddr) {
		snprintf(nft, sizeof(nft), "nft add rule inet nat prerouting ip daddr %s tcp dport "
		    "%s dnat ip to %s%s", daddr, port, to, note);
		snprintf(ipt, sizeof(ipt), "iptables -t nat -A PREROUTING -d %s -p tcp --dport %s "
		    "-j DNAT --to-destination %s%s", daddr, ip, to, note);
	} else {
		snprintf(nft, sizeof(nft), "nft add rule inet nat prerouting tcp dport %s dnat ip "
		    "to %s%s", port, to, note);
		snprintf(ipt, sizeof(ipt), "iptables -t nat -A PREROUTING -p tcp --dport %s -j DNAT "
		    "--to-destination %s%s", ip, to, note);
	}
	pc_rule(pc, nft, ipt);
}

void
pc_rule_forward(struct portcheck *pc, const char *lan, const char *port, const char *note)
{
	char nft[300], ipt[300], ip[32];

	ipt_port(port, ip, sizeof(ip));
	snprintf(nft, sizeof(nft), "nft add rule inet filter forward ip daddr %s tcp dport %s "
	    "ct state new accept%s", lan, port, note);
	snprintf(ipt, sizeof(ipt), "iptables -A FORWARD -d %s -p tcp --dport %s -m conntrack "
	    "--ctstate NEW -j ACCEPT%s", lan, ip, note);
	pc_rule(pc, nft, ipt);
}

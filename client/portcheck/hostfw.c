/* hostfw.c: this host's own firewall, read from `nft list ruleset`: which input chains drop a
 * TCP or UDP port (or range), and which tables and chains they are, so that the printed rules
 * name them. Both the client's check and --server read it. */
#include "portcheck.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Does the nft port expression after "dport" (a number, a range, or a { set }) cover every
 * port of lo-hi? One element must hold it all: a range split over several is not taken. */
static int
covers(const char *expr, long port, long port_hi)
{
	char buf[256], *save = NULL, *end;

	expr += strspn(expr, " ");
	snprintf(buf, sizeof(buf), "%s", expr);
	if (buf[0] == '{' && (end = strchr(buf, '}')) != NULL)
		*end = '\0';                     /* the set, and nothing after it */
	for (char *t = strtok_r(buf, "{}, ", &save); t; t = strtok_r(NULL, "{}, ", &save)) {
		long lo, hi;

		if (sscanf(t, "%ld-%ld", &lo, &hi) == 2) {
			if (port >= lo && port_hi <= hi)
				return 1;
		} else if (sscanf(t, "%ld", &lo) == 1 && lo == port && port_hi == port)
			return 1;
		if (strchr(expr, '{') == NULL)
			break;                    /* a lone number or range: only the first token */
	}
	return 0;
}

/* Does one source word (an address or an IPv4 prefix) hold peer? */
static int
word_admits(char *word, const char *peer)
{
	char *slash;
	struct in_addr a, p;
	int bits;

	if (strcmp(word, peer) == 0)
		return 1;
	if ((slash = strchr(word, '/')) == NULL)
		return 0;
	*slash = '\0';
	bits = atoi(slash + 1);
	if (bits < 0 || bits > 32 || inet_pton(AF_INET, word, &a) != 1 ||
	    inet_pton(AF_INET, peer, &p) != 1)
		return 0;
	return bits == 0 || ((ntohl(a.s_addr) ^ ntohl(p.s_addr)) >> (32 - bits)) == 0;
}

/* Does "saddr X" (or "saddr { X, Y }") in a rule admit peer? */
static int
saddr_admits(const char *line, const char *peer)
{
	const char *s = strstr(line, "saddr ");
	char buf[256], *save = NULL, *end;

	if (s == NULL)
		return 1;                         /* no source condition: everyone */
	if (peer == NULL)
		return 0;
	s += 6 + strspn(s + 6, " ");
	snprintf(buf, sizeof(buf), "%s", s);
	if (buf[0] != '{') {
		buf[strcspn(buf, " \n")] = '\0';
		return word_admits(buf, peer);
	}
	if ((end = strchr(buf, '}')) == NULL)
		return 0;
	*end = '\0';
	for (char *t = strtok_r(buf, "{}, ", &save); t; t = strtok_r(NULL, "{}, ", &save))
		if (word_admits(t, peer))
			return 1;
	return 0;
}

/* Does a table of this nftables family see the traffic of this address family? */
static int
family_applies(const char *fam, int family)
{
	if (strcmp(fam, "inet") == 0)
		return 1;
	if (strcmp(fam, "ip") == 0)
		return family != AF_INET6;
	if (strcmp(fam, "ip6") == 0)
		return family != AF_INET;
	return 0;                                 /* arp, bridge, netdev: not input for us */
}

int
pc_host_firewall(long port, int family, const char *peer, char *where, size_t wherelen,
    char *why, size_t whylen)
{
	return pc_host_firewall_proto("tcp", port, port, family, peer, where, wherelen, why,
	    whylen);
}

int
pc_host_firewall_proto(const char *proto, long port, long port_hi, int family,
    const char *peer, char *where, size_t wherelen, char *why, size_t whylen)
{
	char dport[16], ports[32], upper[8];
	FILE *p = popen("nft list ruleset 2>/dev/null", "r");
	char line[512], table[160] = "", chain[128] = "";
	int in_input = 0, drop = 0, ended = 0, accepted = 0, jumps = 0, lines = 0, rc;
	int unsure = 0, table_ok = 0;
	size_t n = 0;

	snprintf(dport, sizeof(dport), "%s dport ", proto);
	snprintf(upper, sizeof(upper), "%s", strcmp(proto, "udp") == 0 ? "UDP" : "TCP");
	if (port_hi > port)
		snprintf(ports, sizeof(ports), "ports %ld-%ld", port, port_hi);
	else
		snprintf(ports, sizeof(ports), "port %ld", port);
	where[0] = '\0';
	if (p == NULL) {
		snprintf(why, whylen, "cannot run nft");
		return -1;
	}
	while (fgets(line, sizeof(line), p)) {
		char fam[16], name[128], *d;
		const char *t = line + strspn(line, " \t");

		lines++;
		if (sscanf(line, "table %15s %127s {", fam, name) == 2) {
			snprintf(table, sizeof(table), "%s %s", fam, name);
			table_ok = family_applies(fam, family);
			continue;
		}
		if (sscanf(line, " chain %127s {", chain) == 1) {
			in_input = drop = ended = accepted = jumps = 0;
			continue;
		}
		if (strstr(line, "hook input")) {
			in_input = table_ok;
			drop = strstr(line, "policy drop") != NULL;
			continue;
		}
		if (!in_input)
			continue;
		if (*t == '}') {                              /* the chain ends */
			if (drop && !accepted && jumps)
				unsure = 1;
			else if (drop && !accepted && n + 1 < wherelen) {
				/* Every chain that drops it: a packet must pass them all. */
				n += (size_t)snprintf(where + n, wherelen - n, "%s%s %s", n ? ", " : "",
				    table, chain);
				if (n >= wherelen)
					n = wherelen - 1;
			}
			in_input = 0;
			continue;
		}
		if (ended)
			continue;                         /* after a final drop nothing matches */
		/* A chain with policy accept that ends in a bare drop or reject (firewalld's
		 * layout) drops what nothing before accepted. */
		if (strncmp(t, "drop", 4) == 0 || strncmp(t, "reject", 6) == 0) {
			drop = ended = 1;
			continue;
		}
		if ((d = strstr(line, dport)) != NULL && strstr(line, "accept") &&
		    covers(d + strlen(dport), port, port_hi) && saddr_admits(line, peer))
			accepted = 1;
		if (strstr(line, " jump ") || strstr(line, " goto "))
			jumps = 1;                    /* an accept may hide in another chain */
	}
	rc = pclose(p);
	if (lines == 0) {
		snprintf(why, whylen, rc != 0 ? "cannot read the nftables ruleset (run as root, "
		    "or nft is not installed)" : "no nftables rules: nothing filters input");
		return rc != 0 ? -1 : 1;
	}
	if (where[0]) {
		snprintf(why, whylen, "the input chain%s %s drop%s what is not let in, and let%s "
		    "nothing in for %s %s%s%s", strchr(where, ',') ? "s" : "", where,
		    strchr(where, ',') ? "" : "s", strchr(where, ',') ? "" : "s", upper, ports,
		    peer ? " from " : "", peer ? peer : "");
		return 0;
	}
	if (unsure) {
		snprintf(why, whylen, "an input chain drops by default and jumps to other chains: "
		    "cannot tell whether %s %s get%s in (the listening checks above tried it "
		    "locally)", upper, ports, port_hi > port ? "" : "s");
		return -1;
	}
	snprintf(why, whylen, "no input chain drops %s %s%s%s", upper, ports, peer ? " from " :
	    "", peer ? peer : "");
	return 1;
}

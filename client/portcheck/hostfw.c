/* hostfw.c: this host's own firewall, read from `nft list ruleset`: does an input chain drop
 * a TCP port, and which table and chain it is, so that the printed rule names them. Both the
 * client's check and --server read it. */
#include "portcheck.h"

#include <stdio.h>
#include <string.h>

/* Does the nft port expression after "dport" (a number, a range, or a { set }) cover port? */
static int
covers(const char *expr, long port)
{
	char buf[256], *save = NULL, *end;

	expr += strspn(expr, " ");
	snprintf(buf, sizeof(buf), "%s", expr);
	if (buf[0] == '{' && (end = strchr(buf, '}')) != NULL)
		*end = '\0';                     /* the set, and nothing after it */
	for (char *t = strtok_r(buf, "{}, ", &save); t; t = strtok_r(NULL, "{}, ", &save)) {
		long lo, hi;

		if (sscanf(t, "%ld-%ld", &lo, &hi) == 2) {
			if (port >= lo && port <= hi)
				return 1;
		} else if (sscanf(t, "%ld", &lo) == 1 && lo == port)
			return 1;
		if (strchr(expr, '{') == NULL)
			break;                    /* a lone number or range: only the first token */
	}
	return 0;
}

int
pc_host_firewall(long port, char *where, size_t wherelen, char *why, size_t whylen)
{
	FILE *p = popen("nft list ruleset 2>/dev/null", "r");
	char line[512], table[160] = "", chain[128] = "";
	int in_input = 0, drop = 0, accepted = 0, jumps = 0, lines = 0, rc, unsure = 0;

	where[0] = '\0';
	if (p == NULL) {
		snprintf(why, whylen, "cannot run nft");
		return -1;
	}
	while (fgets(line, sizeof(line), p)) {
		char fam[16], name[128], *d;

		lines++;
		if (sscanf(line, "table %15s %127s {", fam, name) == 2) {
			snprintf(table, sizeof(table), "%s %s", fam, name);
			continue;
		}
		if (sscanf(line, " chain %127s {", chain) == 1) {
			in_input = drop = accepted = jumps = 0;
			continue;
		}
		if (strstr(line, "hook input")) {
			in_input = 1;
			drop = strstr(line, "policy drop") != NULL;
			continue;
		}
		if (!in_input)
			continue;
		if ((d = strstr(line, "tcp dport ")) != NULL && strstr(line, "accept") &&
		    !strstr(line, "saddr") && covers(d + 10, port))
			accepted = 1;
		if (strstr(line, " jump ") || strstr(line, " goto "))
			jumps = 1;                    /* an accept may hide in another chain */
		if (line[strspn(line, " \t")] == '}') {          /* the chain ends */
			if (drop && !accepted && jumps)
				unsure = 1;
			else if (drop && !accepted && !where[0])
				snprintf(where, wherelen, "%s %s", table, chain);
			in_input = 0;
		}
	}
	rc = pclose(p);
	if (lines == 0) {
		snprintf(why, whylen, rc != 0 ? "cannot read the nftables ruleset (run as root, "
		    "or nft is not installed)" : "no nftables rules: nothing filters input");
		return rc != 0 ? -1 : 1;
	}
	if (where[0]) {
		snprintf(why, whylen, "the input chain %s drops by default and accepts nothing for "
		    "TCP port %ld", where, port);
		return 0;
	}
	if (unsure) {
		snprintf(why, whylen, "an input chain drops by default and jumps to other chains: "
		    "cannot tell whether TCP port %ld gets in (the listening checks above tried it "
		    "locally)", port);
		return -1;
	}
	snprintf(why, whylen, "no input chain drops TCP port %ld", port);
	return 1;
}

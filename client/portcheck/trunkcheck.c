/* trunkcheck.c: netcfax-portcheck --server's checks of each SIP trunk: the trunk file and its
 * password file, the SIP port held on this host, the registrar's name, the host firewall for
 * the SIP port and the RTP range from the provider, the router's RTP mappings (portmap) or the
 * forward to add, the SIP ALG; and the rules. No SIP is sent: netcfaxd does that itself. */
#include "portcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trunk.h"

#define PEERS_MAX 8                  /* provider addresses judged and written into rules */
#define MAPS_MAX  32                 /* RTP ports netcfaxd maps per trunk (sipline.c) */

/* The provider's addresses: peers, or the registrar's; resolved here. */
struct peers {
	int  n;
	char addr[PEERS_MAX][INET6_ADDRSTRLEN];
	int  family[PEERS_MAX];
	char set4[300], set6[300];       /* "A" or "{ A, B }" per family; "" when none */
};

/* The host of "host[:port]" or "[v6]:port". */
static void
host_of(const char *hostport, char *out, size_t cap)
{
	snprintf(out, cap, "%s", hostport + (hostport[0] == '['));
	if (hostport[0] == '[')
		out[strcspn(out, "]")] = '\0';
	else if (strchr(out, ':') == strrchr(out, ':'))
		out[strcspn(out, ":")] = '\0';   /* one colon: a port; more: a bare IPv6 address */
}

/* Adds name's addresses (at most PEERS_MAX in all): 0, or -1 with why. */
static int
resolve(struct peers *p, const char *name, char *why, size_t whylen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int rc;

	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(name, NULL, &hints, &res)) != 0) {
		snprintf(why, whylen, "%s: %s", name, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *a = res; a && p->n < PEERS_MAX; a = a->ai_next) {
		char s[INET6_ADDRSTRLEN];
		int dup = 0;

		if (getnameinfo(a->ai_addr, a->ai_addrlen, s, sizeof(s), NULL, 0,
		    NI_NUMERICHOST) != 0)
			continue;
		for (int i = 0; i < p->n; i++)
			dup |= strcmp(p->addr[i], s) == 0;
		if (dup)
			continue;
		snprintf(p->addr[p->n], sizeof(p->addr[0]), "%s", s);
		p->family[p->n++] = a->ai_family;
	}
	freeaddrinfo(res);
	return 0;
}

static void
make_sets(struct peers *p)
{
	for (int v6 = 0; v6 < 2; v6++) {
		char *set = v6 ? p->set6 : p->set4;
		size_t cap = sizeof(p->set4), n = 0;
		int count = 0;

		for (int i = 0; i < p->n; i++)
			count += (p->family[i] == AF_INET6) == v6;
		set[0] = '\0';
		for (int i = 0; i < p->n && n < cap; i++)
			if ((p->family[i] == AF_INET6) == v6)
				n += (size_t)snprintf(set + n, cap - n, "%s%s", n ? ", " : count > 1 ?
				    "{ " : "", p->addr[i]);
		if (count > 1 && n < cap)
			snprintf(set + n, cap - n, " }");
	}
}

/* The password file as sipua_read_password takes it: a regular file only its owner can
 * read. Its content is never read here. */
static void
check_password(struct portcheck *pc, const struct trunk_config *t)
{
	struct stat st;
	int fd = open(t->password_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		pc_add(pc, PC_SEC_TRUNK, "password", PC_FAIL, "create it with the account's "
		    "password on its first line, then chmod 600", "%s: password_file %s: %s",
		    t->name, t->password_file, strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
		pc_add(pc, PC_SEC_TRUNK, "password", PC_FAIL, "chmod 600 the file (netcfaxd "
		    "refuses a password others can read)", "%s: password_file %s is not a regular "
		    "file readable by its owner only (mode %03o)", t->name, t->password_file,
		    (unsigned)(st.st_mode & 0777));
	else
		pc_add(pc, PC_SEC_TRUNK, "password", PC_PASS, "", "%s: password_file %s is "
		    "readable by its owner only", t->name, t->password_file);
	close(fd);
}

/* The IP protocol the trunk's SIP runs on: TLS is carried by TCP. */
static const char *
sip_proto(const struct trunk_config *t)
{
	return strcmp(t->transport, "udp") == 0 ? "udp" : "tcp";
}

/* Is the trunk's SIP port held on this host: a bind of it fails when something holds it. */
static void
check_sip_port(struct portcheck *pc, const struct trunk_config *t)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[8], holder[200] = "";
	int udp = strcmp(t->transport, "udp") == 0, fd, rc, e;
	long pid = 0;

	snprintf(port, sizeof(port), "%lld", t->port);
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
	if (getaddrinfo(t->listen, port, &hints, &res) != 0) {
		pc_add(pc, PC_SEC_TRUNK, "sip_port", PC_FAIL, "give listen a numeric address",
		    "%s: listen %s is not a numeric address", t->name, t->listen);
		return;
	}
	fd = socket(res->ai_family, res->ai_socktype, 0);
	rc = fd < 0 ? -1 : bind(fd, res->ai_addr, res->ai_addrlen);
	e = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	if (rc == 0) {
		pc_add(pc, PC_SEC_TRUNK, "sip_port", PC_FAIL, "start netcfaxd with this trunk (its "
		    "log says why a trunk did not start)", "%s: nothing holds %s port %s on %s: "
		    "netcfaxd is not running with this trunk", t->name, udp ? "UDP" : "TCP", port,
		    t->listen);
		return;
	}
	if (e != EADDRINUSE) {
		pc_add(pc, PC_SEC_TRUNK, "sip_port", e == EADDRNOTAVAIL ? PC_FAIL : PC_SKIP,
		    e == EADDRNOTAVAIL ? "set listen to one of this host's addresses, or 0.0.0.0" :
		    "", "%s: cannot try %s port %s on %s: %s", t->name, udp ? "UDP" : "TCP", port,
		    t->listen, strerror(e));
		return;
	}
	pc_port_holder(sip_proto(t), (uint16_t)t->port, holder, sizeof(holder), &pid);
	if (holder[0] && strncmp(holder, "netcfaxd ", 9) != 0)
		pc_add(pc, PC_SEC_TRUNK, "sip_port", PC_FAIL, "stop that program, or give this "
		    "trunk another port", "%s: %s port %s is held by %s, not netcfaxd", t->name,
		    udp ? "UDP" : "TCP", port, holder);
	else
		pc_add(pc, PC_SEC_TRUNK, "sip_port", PC_PASS, "", "%s: %s port %s on %s is held%s%s",
		    t->name, udp ? "UDP" : "TCP", port, t->listen, holder[0] ? " by " : " (netcfaxd "
		    "holds it when it runs; which program does now cannot be told from here)",
		    holder);
}

/* The registrar's name, and the provider's addresses the rules let in. */
static void
check_registrar(struct portcheck *pc, const struct trunk_config *t, struct peers *p)
{
	char host[256], why[400], list[sizeof(t->peers)], shown[400] = "", *save = NULL;
	struct peers reg = { 0 };
	size_t n = 0;

	host_of(t->registrar, host, sizeof(host));
	if (resolve(&reg, host, why, sizeof(why)) < 0 || reg.n == 0) {
		pc_add(pc, PC_SEC_TRUNK, "registrar", PC_FAIL, "check the name with the provider, "
		    "and this host's DNS", "%s: registrar %s does not resolve: %s", t->name,
		    t->registrar, reg.n == 0 && why[0] == '\0' ? "no address" : why);
		why[0] = '\0';
	} else {
		for (int i = 0; i < reg.n && n < sizeof(shown); i++)
			n += (size_t)snprintf(shown + n, sizeof(shown) - n, "%s%s", i ? ", " : "",
			    reg.addr[i]);
		pc_add(pc, PC_SEC_TRUNK, "registrar", PC_PASS, "", "%s: registrar %s is %s "
		    "(resolved here, nothing sent: netcfaxd registers itself)", t->name, t->registrar,
		    shown);
	}
	if (t->peers[0] == '\0') {
		*p = reg;
	} else {
		snprintf(list, sizeof(list), "%s", t->peers);
		for (char *a = strtok_r(list, ", ", &save); a; a = strtok_r(NULL, ", ", &save))
			if (resolve(p, a, why, sizeof(why)) < 0)
				pc_add(pc, PC_SEC_TRUNK, "peers", PC_FAIL, "fix the name in peers",
				    "%s: peers: %s", t->name, why);
	}
	make_sets(p);
}

/* proto port(s) from every provider address through this host's input chains: 1 in, 0
 * dropped (the chains in where), -1 cannot tell. */
static int
host_fw(const char *proto, long lo, long hi, const struct peers *p, char *where,
    size_t wherelen, char *why, size_t whylen)
{
	static const int rank[3] = { 1, 0, 2 };   /* of -1, 0, 1: a drop is the worst */
	int worst = 1;

	if (p->n == 0)
		return pc_host_firewall_proto(proto, lo, hi, 0, NULL, where, wherelen, why, whylen);
	for (int i = 0; i < p->n; i++) {
		char w[300], y[400];
		int fw = pc_host_firewall_proto(proto, lo, hi, p->family[i], p->addr[i], w,
		    sizeof(w), y, sizeof(y));

		if (i == 0 || rank[fw + 1] < rank[worst + 1]) {
			worst = fw;
			snprintf(where, wherelen, "%s", w);
			snprintf(why, whylen, "%s", y);
		}
	}
	return worst;
}

static void
check_host_fw(struct portcheck *pc, const struct trunk_config *t, const struct peers *p,
    const char *id, const char *proto, long lo, long hi)
{
	char where[300], why[500], port[16];
	int fw = host_fw(proto, lo, hi, p, where, sizeof(where), why, sizeof(why));

	pc_add(pc, PC_SEC_TRUNK, id, fw == 1 ? PC_PASS : fw == 0 ? PC_FAIL : PC_SKIP, fw == 0 ?
	    "let the provider in: the rule below" : "", "%s: %s", t->name, why);
	if (fw != 0)
		return;
	if (lo == hi)
		snprintf(port, sizeof(port), "%ld", lo);
	else
		snprintf(port, sizeof(port), "%ld-%ld", lo, hi);
	if (p->n == 0)
		pc_rule_peer_input(pc, where, proto, "", 0, port);   /* from anyone */
	if (p->set4[0])
		pc_rule_peer_input(pc, where, proto, p->set4, 0, port);
	if (p->set6[0])
		pc_rule_peer_input(pc, where, proto, p->set6, 1, port);
}

/* The router's RTP mappings (portmap on), or the forward to add by hand (off). */
static void
check_rtp_router(struct portcheck *pc, const struct trunk_config *t, const struct peers *p,
    const char *lan, const char *ext, int *want_forward)
{
	/* two a channel with t38 on: the second for the UDPTL of a switch to T.38 */
	int per = strcmp(t->t38, "off") != 0 ? 2 : 1, found = 0;
	int nports = (int)(t->channels * per < MAPS_MAX ? t->channels * per : MAPS_MAX);
	char shown[400] = "";
	size_t n = 0;

	*want_forward = 0;
	if (strcmp(t->portmap, "off") == 0) {
		*want_forward = lan[0] != '\0';
		pc_add(pc, PC_SEC_TRUNK, "rtp_router", PC_WARN, "ask the provider whether it sends "
		    "media to where ours comes from (symmetric RTP, comedia); if not, add the router "
		    "rules below or set portmap = auto", "%s: portmap off: a provider that latches "
		    "needs no forward; one that sends first to the router's address needs UDP "
		    "%s forwarded to this host", t->name, t->rtp_ports);
		return;
	}
	if (!pc->maps_listed) {
		if (pc->natpmp.found && strcmp(t->portmap, "upnp") != 0)
			pc_add(pc, PC_SEC_TRUNK, "rtp_router", PC_SKIP, "", "%s: portmap %s: NAT-PMP "
			    "cannot list a router's mappings; netcfaxd's log says which RTP ports the "
			    "router forwards (\"the router (NAT-PMP) forwards UDP ...\")", t->name,
			    t->portmap);
		else {
			*want_forward = lan[0] != '\0';
			pc_add(pc, PC_SEC_TRUNK, "rtp_router", PC_WARN, "turn UPnP IGD or NAT-PMP on "
			    "in the router, or add the router rules below", "%s: portmap %s, but the "
			    "router does not answer %s: the RTP ports cannot be mapped", t->name,
			    t->portmap, strcmp(t->portmap, "auto") == 0 ? "UPnP IGD or NAT-PMP" :
			    strcmp(t->portmap, "upnp") == 0 ? "UPnP IGD" : "NAT-PMP");
		}
		return;
	}
	for (int i = 0; i < nports; i++) {
		long want = t->rtp_min + (t->rtp_min & 1) + 2 * i;

		for (int j = 0; j < pc->nhost_maps; j++) {
			const struct portmap_mapping *m = &pc->host_maps[j];

			if (m->transport != PORTMAP_UDP || m->int_port != want ||
			    strcmp(m->int_client, lan) != 0)
				continue;
			found++;
			if (n < sizeof(shown))
				n += (size_t)snprintf(shown + n, sizeof(shown) - n, "%s%u->%ld",
				    found > 1 ? ", " : "", m->ext_port, want);
			break;
		}
	}
	if (found == nports)
		pc_add(pc, PC_SEC_TRUNK, "rtp_router", PC_PASS, "", "%s: the router (UPnP) forwards "
		    "UDP %s port%s %s to this host: the %d RTP port%s of the %lld channel%s%s",
		    t->name, ext, found > 1 ? "s" : "", shown, nports, nports > 1 ? "s" : "",
		    t->channels, t->channels > 1 ? "s" : "", per == 2 ? " (two a channel: t38 "
		    "is on)" : "");
	else
		pc_add(pc, PC_SEC_TRUNK, "rtp_router", PC_WARN, "netcfaxd maps them while it runs "
		    "with this trunk (its log: \"the router (UPnP) forwards UDP ...\"); until then "
		    "calls offer this host's own address", "%s: portmap %s: the router (UPnP) "
		    "forwards %d of the %d RTP ports to this host%s%s", t->name, t->portmap, found,
		    nports, found ? ": " : "", shown);
}

/* The router's mapping of the SIP port (portmap on): netcfaxd registers the router's
 * external address and that port as its contact, so that the provider's INVITEs come in
 * whether or not the NAT binding its REGISTERs made still holds. */
static void
check_sip_router(struct portcheck *pc, const struct trunk_config *t, const char *lan,
    const char *ext)
{
	int udp = strcmp(t->transport, "udp") == 0;
	const char *tp = udp ? "UDP" : "TCP";

	if (strcmp(t->portmap, "off") == 0 || lan[0] == '\0')
		return;
	if (!pc->maps_listed) {
		pc_add(pc, PC_SEC_TRUNK, "sip_router", PC_SKIP, "", "%s: portmap %s: the router's "
		    "mappings cannot be listed (%s); netcfaxd's log says whether the SIP port is "
		    "mapped (\"forwards %s ... to SIP port\")", t->name, t->portmap,
		    pc->natpmp.found ? "NAT-PMP cannot" : "no UPnP IGD answers", tp);
		return;
	}
	for (int j = 0; j < pc->nhost_maps; j++) {
		const struct portmap_mapping *m = &pc->host_maps[j];

		if (m->transport != (udp ? PORTMAP_UDP : PORTMAP_TCP) ||
		    m->int_port != t->port || strcmp(m->int_client, lan) != 0)
			continue;
		pc_add(pc, PC_SEC_TRUNK, "sip_router", PC_PASS, "", "%s: the router (UPnP) "
		    "forwards %s %s port %u->%lld to this host: the SIP port, registered as the "
		    "contact so that calls come in without a NAT binding", t->name, tp, ext,
		    m->ext_port, t->port);
		return;
	}
	pc_add(pc, PC_SEC_TRUNK, "sip_router", PC_WARN, "netcfaxd maps it while it runs with "
	    "this trunk (its log: \"forwards ... to SIP port\"; it says why not, e.g. a TCP "
	    "mapping of the same number)", "%s: portmap %s: the router (UPnP) does not forward "
	    "%s port %lld to this host: the contact registered is the address the registrar "
	    "sees, held by keepalives", t->name, t->portmap, tp, t->port);
}

/* A SIP ALG on this host, when it routes: only then do its modules touch the trunk. */
static void
check_sip_alg(struct portcheck *pc)
{
	FILE *f = fopen("/proc/modules", "r");
	char line[256], fwd[8] = "0";
	int nat_sip = 0, ct_sip = 0, known = f != NULL, routes;

	while (f && fgets(line, sizeof(line), f)) {
		nat_sip |= strncmp(line, "nf_nat_sip ", 11) == 0;
		ct_sip |= strncmp(line, "nf_conntrack_sip ", 17) == 0;
	}
	if (f)
		fclose(f);
	else {
		/* no /proc/modules (a container): /sys/module shows the kernel's modules too, a
		 * loaded one with an initstate, a built-in one without */
		nat_sip = access("/sys/module/nf_nat_sip/initstate", F_OK) == 0;
		ct_sip = access("/sys/module/nf_conntrack_sip", F_OK) == 0 ||
		    access("/sys/module/nf_nat_sip", F_OK) == 0;
		known = access("/sys/module", F_OK) == 0;
	}
	if ((f = fopen("/proc/sys/net/ipv4/ip_forward", "r")) != NULL) {
		if (fgets(fwd, sizeof(fwd), f) == NULL)
			fwd[0] = '0';
		fclose(f);
	}
	routes = fwd[0] == '1';
	if (routes && nat_sip)
		pc_add(pc, PC_SEC_TRUNK, "sip_alg", PC_FAIL, "modprobe -r nf_nat_sip "
		    "nf_conntrack_sip; and keep them out: echo 'blacklist nf_nat_sip' > "
		    "/etc/modprobe.d/netcfax-no-sip-alg.conf", "this host routes and its SIP ALG "
		    "(nf_nat_sip) is loaded: it rewrites the SIP that netcfaxd and the provider "
		    "already fix for NAT");
	else
		pc_add(pc, PC_SEC_TRUNK, "sip_alg", PC_WARN, "turn SIP ALG (SIP passthrough) off "
		    "on the router; on a Linux router: no 'ct helper set' rule for SIP, or "
		    "modprobe -r nf_nat_sip nf_conntrack_sip", "the router's SIP ALG must be off; "
		    "it cannot be seen from this host%s%s", !known ? "" : ct_sip || nat_sip ? "; "
		    "this host's kernel has the SIP ALG (nf_conntrack_sip, nf_nat_sip), which acts "
		    "only where a rule assigns its helper" : "; this host has no SIP ALG module "
		    "(nf_conntrack_sip, nf_nat_sip) loaded", routes && (ct_sip || nat_sip) ?
		    ", and it routes" : "");
}

/* Appends to the fix's words, bounded. */
static void
words(struct portcheck *pc, const char *s)
{
	size_t n = strlen(pc->fix_words);

	snprintf(pc->fix_words + n, sizeof(pc->fix_words) - n, "%s%s", n ? " " : "", s);
}

static void
check_trunk(struct portcheck *pc, const char *path, const char *lan, const char *gw,
    const char *ext)
{
	struct trunk_config t;
	struct peers p = { 0 };
	char err[700], buf[700], range[32];
	int forward;

	if (trunk_config_load(&t, path, err, sizeof(err)) < 0) {
		pc_add(pc, PC_SEC_TRUNK, "trunk", PC_FAIL, "fix the line named, then run "
		    "netcfaxd -n", "%s", err);
		return;
	}
	pc_add(pc, PC_SEC_TRUNK, "trunk", PC_PASS, "", "%s: %s: registrar %s%s, %s port %lld on "
	    "%s, RTP %s, %lld channel%s, portmap %s", t.name, t.path, t.registrar,
	    strcmp(t.transport, "tls") != 0 ? "" : strchr(t.registrar, ':') ? " (TLS over TCP)" :
	    " (TLS: TCP port 5061)", t.transport, t.port, t.listen, t.rtp_ports, t.channels,
	    t.channels > 1 ? "s" : "", t.portmap);
	check_password(pc, &t);
	check_sip_port(pc, &t);
	check_registrar(pc, &t, &p);
	check_host_fw(pc, &t, &p, "sip_fw", sip_proto(&t), t.port, t.port);
	check_host_fw(pc, &t, &p, "rtp_fw", "udp", t.rtp_min, t.rtp_max);
	check_sip_router(pc, &t, lan, ext);
	check_rtp_router(pc, &t, &p, lan, ext, &forward);
	snprintf(range, sizeof(range), "%lld-%lld", t.rtp_min, t.rtp_max);
	if (forward) {
		/* The router's forward, from the provider's IPv4 addresses (or anyone's). */
		pc_rule_peer_dnat(pc, PC_DEV_ROUTER, "udp", p.set4, 0, ext, range, lan);
		pc_rule_peer_forward(pc, PC_DEV_ROUTER, "udp", p.set4, 0, lan, range);
		snprintf(buf, sizeof(buf), "SIP trunk %s: unless the provider latches, the router "
		    "(%s) forwards UDP %s from the provider (%s; its media may come from other "
		    "addresses: ask it) to %s, the same ports outside and in; the SIP port needs no "
		    "forward (netcfaxd's keepalives hold the way in). Turn the router's SIP ALG "
		    "off.", t.name, gw[0] ? gw : "the default gateway", range, p.set4[0] ? p.set4 :
		    "any address", lan);
	} else
		snprintf(buf, sizeof(buf), "SIP trunk %s: no router rule needed (%s); turn the "
		    "router's SIP ALG off.", t.name, strcmp(t.portmap, "off") == 0 ? "this host "
		    "has no router address to forward to" : "netcfaxd maps its RTP ports itself");
	words(pc, buf);
}

void
pc_check_trunks(struct portcheck *pc, const char *sip_trunks, const char *lan, const char *gw,
    const char *ext)
{
	char list[2048], *save = NULL;
	int n = 0;

	snprintf(list, sizeof(list), "%s", sip_trunks);
	for (char *path = strtok_r(list, ", ", &save); path; path = strtok_r(NULL, ", ", &save)) {
		if (n++ == TRUNKS_MAX) {
			pc_add(pc, PC_SEC_TRUNK, "trunk", PC_FAIL, "list at most 8 trunk files",
			    "sip_trunks: more than %d trunks", TRUNKS_MAX);
			break;
		}
		check_trunk(pc, path, lan, gw, ext);
	}
	if (n > 0)
		check_sip_alg(pc);
}

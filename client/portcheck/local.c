/* local.c: the checks that need nothing but this machine: which address and interface reach
 * the server, the default gateway, a watcher of this user already running, whether the SCP
 * port (or range) can be bound and by whom it is held if not, and interfaces (VPN,
 * containers) that may confuse port mapping. */
#include "portcheck.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "scp_listener.h"

/* Interface name prefixes of tunnels and container bridges. */
static const char *const virtual_ifs[] = {
	"tun", "tap", "wg", "ppp", "tailscale", "zt", "ipsec", "docker", "br-", "virbr", "veth",
	"lxc", "lxd", "cni", "flannel", "vxlan", "podman",
};

/* "NETWORK/PREFIX" of addr with netmask mask, both of family af. */
static void
network_of(int af, const struct sockaddr *addr, const struct sockaddr *mask, char *out,
    size_t outlen)
{
	unsigned char a[16], m[16];
	size_t len = af == AF_INET ? 4 : 16;
	char text[INET6_ADDRSTRLEN];
	int bits = 0;

	memcpy(a, af == AF_INET ? (const void *)&((const struct sockaddr_in *)addr)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)addr)->sin6_addr, len);
	memcpy(m, af == AF_INET ? (const void *)&((const struct sockaddr_in *)mask)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)mask)->sin6_addr, len);
	for (size_t i = 0; i < len; i++) {
		a[i] &= m[i];
		for (int b = 7; b >= 0 && (m[i] >> b & 1); b--)
			bits++;
	}
	if (inet_ntop(af, a, text, sizeof(text)) != NULL)
		snprintf(out, outlen, "%s/%d", text, bits);
}

/* The address we use towards the server and the interface that has it. */
static int
route_to_server(struct portcheck *pc, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ifaddrs *ifs = NULL;
	char port[8];
	int fd, rc;

	snprintf(port, sizeof(port), "%d", (int)pc->cli.cfg.port);
	if ((rc = getaddrinfo(pc->cli.cfg.server, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", pc->cli.cfg.server, gai_strerror(rc));
		return -1;
	}
	getnameinfo(res->ai_addr, res->ai_addrlen, pc->server_ip, sizeof(pc->server_ip), NULL, 0,
	    NI_NUMERICHOST);
	/* A connected UDP socket sends nothing, but the kernel picks the route and source. */
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rc = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0 ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "no route to %s (%s): %s", pc->cli.cfg.server, pc->server_ip,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	if (rc < 0)
		return -1;
	getnameinfo((struct sockaddr *)&ss, len, pc->local_addr, sizeof(pc->local_addr), NULL, 0,
	    NI_NUMERICHOST);
	pc->v6 = ss.ss_family == AF_INET6;
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
			char a[64];

			if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
			    i->ifa_addr->sa_family != AF_INET6))
				continue;
			if (getnameinfo(i->ifa_addr, i->ifa_addr->sa_family == AF_INET ?
			    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), a, sizeof(a),
			    NULL, 0, NI_NUMERICHOST) == 0 && strcmp(a, pc->local_addr) == 0) {
				snprintf(pc->local_if, sizeof(pc->local_if), "%s", i->ifa_name);
				if (i->ifa_netmask)
					network_of(i->ifa_addr->sa_family, i->ifa_addr, i->ifa_netmask,
					    pc->local_net, sizeof(pc->local_net));
				break;
			}
		}
		freeifaddrs(ifs);
	}
	if (!pc->local_net[0])              /* no netmask known: at least this machine */
		snprintf(pc->local_net, sizeof(pc->local_net), "%s/%d", pc->local_addr,
		    pc->v6 ? 128 : 32);
	return 0;
}

/* The inode of the socket listening on TCP port (or bound to UDP port, udp), from
 * /proc/net/tcp and tcp6 (udp and udp6); 0 if none. */
static unsigned long
listener_inode(uint16_t port, int udp)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6",
	                                     "/proc/net/udp", "/proc/net/udp6" };

	for (size_t f = udp ? 2 : 0; f < (udp ? 4u : 2u); f++) {
		FILE *fp = fopen(files[f], "r");
		char line[512];

		if (fp == NULL)
			continue;
		while (fgets(line, sizeof(line), fp)) {
			char local[80];
			unsigned int st;
			unsigned long inode;
			char *colon;

			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			/* TCP's LISTEN is 0A; a bound, unconnected UDP socket shows 07 */
			if (sscanf(line, " %*s %79s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
			    &inode) != 3 || st != (udp ? 0x07u : 0x0Au))
				continue;
			if ((colon = strrchr(local, ':')) != NULL &&
			    strtoul(colon + 1, NULL, 16) == port) {
				fclose(fp);
				return inode;
			}
		}
		fclose(fp);
	}
	return 0;
}

/* "PROGRAM (pid N)" for the process holding socket inode, or "", and its pid (0 if none).
 * Bounded: the first match. */
static void
inode_owner(unsigned long inode, char *out, size_t outlen, long *pid)
{
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *f;
	char want[64], path[300], link[64];

	out[0] = '\0';
	*pid = 0;
	if (proc == NULL || inode == 0) {
		if (proc)
			closedir(proc);
		return;
	}
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (out[0] == '\0' && (p = readdir(proc)) != NULL) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((f = readdir(fds)) != NULL) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				char comm[64] = "?";
				FILE *c;

				snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
				if ((c = fopen(path, "r")) != NULL) {
					if (fgets(comm, sizeof(comm), c))
						comm[strcspn(comm, "\n")] = '\0';
					fclose(c);
				}
				snprintf(out, outlen, "%s (pid %s)", comm, p->d_name);
				*pid = strtol(p->d_name, NULL, 10);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

void
pc_port_holder(const char *proto, uint16_t port, char *out, size_t outlen, long *pid)
{
	inode_owner(listener_inode(port, strcmp(proto, "udp") == 0), out, outlen, pid);
}

static void
check_scp_port(struct portcheck *pc)
{
	struct scp_listen_opts lo = { 0 };
	struct client_config *cfg = &pc->cli.cfg;
	struct watch_state_info other;
	char err[400], warn[200], todo[500], whose[400] = "";
	int lo_port = 0, hi_port = 0, status;
	long pid;

	lo.mode = strcmp(cfg->scp_mode, "fixed") == 0 ? NCFX_SCP_FIXED :
	    strcmp(cfg->scp_mode, "range") == 0 ? NCFX_SCP_RANGE : NCFX_SCP_DYNAMIC;
	lo.port = (int)cfg->scp_port;
	if (lo.mode == NCFX_SCP_RANGE && sscanf(cfg->scp_range, "%d-%d", &lo_port, &hi_port) != 2) {
		pc_add(pc, PC_LOCAL, "scp_port", PC_FAIL, "set scp_range to LOW-HIGH, e.g. 7500-7599",
		    "scp_range '%s' is not a range", cfg->scp_range);
		return;
	}
	lo.port_min = lo_port;
	lo.port_max = hi_port;
	lo.bind_addr = cfg->scp_listen;
	lo.family = strchr(pc->local_addr, ':') ? AF_INET6 : AF_INET;
	pc->scp_mode = lo.mode;
	pc->range_lo = lo_port;
	pc->range_hi = hi_port;
	if (strcmp(cfg->scp, "relay") == 0) {
		pc_add(pc, PC_LOCAL, "scp_port", PC_SKIP, "", "scp = relay: this client listens on "
		    "no port, and its notifications always come over the relay");
		return;
	}
	pc->scp_fd = scp_listen_bind(&lo, &pc->scp_port, err, sizeof(err), warn, sizeof(warn));
	if (pc->scp_fd >= 0) {
		pc_add(pc, PC_LOCAL, "scp_port", warn[0] ? PC_WARN : PC_PASS, warn[0] ?
		    "choose another scp_port, or the default dynamic mode" : "",
		    "TCP port %u can be bound (scp_mode = %s%s%s)%s%s", pc->scp_port,
		    cfg->scp_mode, lo.mode == NCFX_SCP_RANGE ? ", " : "",
		    lo.mode == NCFX_SCP_RANGE ? cfg->scp_range : "", warn[0] ? "; " : "", warn);
		return;
	}
	/* Fixed mode, or a full range: who has it? A watcher says who it is in its state file;
	 * a process name alone proves nothing. */
	pc->scp_port = lo.mode == NCFX_SCP_FIXED ? (uint16_t)lo.port : (uint16_t)lo_port;
	inode_owner(listener_inode(pc->scp_port, 0), pc->scp_holder, sizeof(pc->scp_holder), &pid);
	status = PC_FAIL;
	if (pid > 0 && pc->watchers > 0 && pid == pc->watcher.pid) {
		status = PC_WARN;
		snprintf(whose, sizeof(whose), ": this user's running watcher (session %016" PRIx64
		    ")", pc->watcher.session_id);
		snprintf(todo, sizeof(todo), "right while it runs: the direct path below is judged "
		    "by that watcher's own, and this check sends no connect-back to its port");
		/* Not the bind error's guess: we know who it is. */
		snprintf(err, sizeof(err), "TCP port %u is in use", pc->scp_port);
	} else if (pid > 0 && watch_state_by_pid(pid, &other)) {
		snprintf(whose, sizeof(whose), ": the watcher of %s at %s port %d", other.user,
		    other.host, other.port);
		snprintf(todo, sizeof(todo), "two watchers cannot share a port: give this client "
		    "another one (scp_mode = dynamic, or a range: scp_mode = range, scp_range = "
		    "7500-7599)");
	} else
		snprintf(todo, sizeof(todo), "stop %s, or give this client another port (scp_mode = "
		    "dynamic, or a range: scp_mode = range, scp_range = 7500-7599)",
		    pc->scp_holder[0] ? pc->scp_holder : "the program that holds it");
	pc_add(pc, PC_LOCAL, "scp_port", status, todo, "%s%s%s%s", err, pc->scp_holder[0] ?
	    "; held by " : "", pc->scp_holder, whose);
}

/* A `netcfax watch` of this user for this server on this machine: its own path is the
 * truth, and a connect-back to its port would only disturb it. */
static void
check_watcher(struct portcheck *pc)
{
	struct client_config *cfg = &pc->cli.cfg;
	const struct watch_state_info *w = &pc->watcher;
	char reg[120] = "";

	if (strcmp(cfg->scp, "relay") == 0)
		return;
	pc->watchers = watch_state_find(cfg->server, (int)cfg->port, cfg->user, &pc->watcher);
	if (pc->watchers == 0)
		return;
	if (w->reg_port != w->scp_port)
		snprintf(reg, sizeof(reg), ", registered as external port %u%s%s%s", w->reg_port,
		    w->mapping[0] ? " (mapped by " : "", w->mapping, w->mapping[0] ? ")" : "");
	else if (w->mapping[0])
		snprintf(reg, sizeof(reg), ", mapped by %s", w->mapping);
	if (w->scp_port == 0)
		snprintf(reg, sizeof(reg), " (none: it asked for the relay)");
	pc_add(pc, PC_LOCAL, "watcher", PC_PASS, "", "a watcher is running: pid %ld, session "
	    "%016" PRIx64 ", port %u%s; its path: %s%s%s%s%s", w->pid, w->session_id,
	    w->scp_port, reg, watch_state_path_name(w->path), w->reason[0] ? " (" : "",
	    w->reason, w->reason[0] ? ")" : "", pc->watchers > 1 ? "; the newest of several" :
	    "");
}

/* This machine's own input filter: a router's forward rule does not help a port that the
 * host drops itself. */
static void
check_firewall(struct portcheck *pc)
{
	char why[400];

	pc->hostfw = -1;
	if (pc->scp_port == 0 || strcmp(pc->cli.cfg.scp, "relay") == 0)
		return;
	pc->hostfw = pc_host_firewall(pc->scp_port, pc->v6 ? AF_INET6 : AF_INET,
	    pc->server_ip[0] ? pc->server_ip : NULL, pc->hostfw_chain, sizeof(pc->hostfw_chain),
	    why, sizeof(why));
	pc_add(pc, PC_LOCAL, "firewall", pc->hostfw == 1 ? PC_PASS : pc->hostfw == 0 ? PC_FAIL :
	    PC_SKIP, pc->hostfw == 0 ? "let the port in: the rule for this host below" : "",
	    "%s", why);
}

static void
check_interfaces(struct portcheck *pc)
{
	struct ifaddrs *ifs = NULL;
	char found[400] = "";
	size_t n = 0;

	if (getifaddrs(&ifs) != 0) {
		pc_add(pc, PC_LOCAL, "interfaces", PC_SKIP, "", "cannot list interfaces: %s",
		    strerror(errno));
		return;
	}
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		for (size_t k = 0; k < sizeof(virtual_ifs) / sizeof(virtual_ifs[0]); k++)
			if (strncmp(i->ifa_name, virtual_ifs[k], strlen(virtual_ifs[k])) == 0 &&
			    strstr(found, i->ifa_name) == NULL && n + strlen(i->ifa_name) + 3 <
			    sizeof(found)) {
				n += (size_t)snprintf(found + n, sizeof(found) - n, "%s%s", n ? ", " :
				    "", i->ifa_name);
				break;
			}
	}
	freeifaddrs(ifs);
	if (found[0])
		pc_add(pc, PC_LOCAL, "interfaces", PC_WARN, "if the server is reached through a "
		    "VPN, the VPN's far end must forward the SCP, not your router; port mapping "
		    "only talks to the default gateway", "VPN or container interfaces are up: %s%s",
		    found, strcmp(pc->local_if, "") && strstr(found, pc->local_if) ?
		    " (and the server is reached through one of them)" : "");
	else
		pc_add(pc, PC_LOCAL, "interfaces", PC_PASS, "", "no VPN or container interfaces");
}

void
pc_check_local(struct portcheck *pc)
{
	char err[400], lan[PORTMAP_ADDR_MAX];

	pc->scp_fd = -1;
	if (route_to_server(pc, err, sizeof(err)) < 0)
		pc_add(pc, PC_LOCAL, "route", PC_FAIL, "check the server name, and this machine's "
		    "network connection", "%s", err);
	else
		pc_add(pc, PC_LOCAL, "route", PC_PASS, "", "%s%s%s reaches the server %s%s%s%s",
		    pc->local_addr, pc->local_if[0] ? " on " : "", pc->local_if, pc->cli.cfg.server,
		    strcmp(pc->cli.cfg.server, pc->server_ip) ? " (" : "",
		    strcmp(pc->cli.cfg.server, pc->server_ip) ? pc->server_ip : "",
		    strcmp(pc->cli.cfg.server, pc->server_ip) ? ")" : "");
	if (portmap_route(pc->gateway, lan) < 0)
		pc_add(pc, PC_LOCAL, "gateway", PC_WARN, "without a default route only the local "
		    "network is reachable", "no IPv4 default gateway");
	else
		pc_add(pc, PC_LOCAL, "gateway", PC_PASS, "", "default gateway %s (our address "
		    "towards it %s)", pc->gateway, lan);
	check_watcher(pc);
	check_scp_port(pc);
	check_firewall(pc);
	check_interfaces(pc);
}

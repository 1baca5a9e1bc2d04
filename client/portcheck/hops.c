/* hops.c: the routers between this machine and the server, the way traceroute finds them: a
 * UDP datagram to the server with a TTL of 1, 2, 3 ..., and the senders of the ICMP errors
 * that come back, which the kernel hands to the socket's error queue (IP_RECVERR): no raw
 * socket and no root. A private address past the first router means another NAT may sit
 * upstream, which no router protocol would tell. */
#include "portcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOPS_BASE_PORT 33434      /* traceroute's: nothing listens there, the server says so */
#define HOPS_WAIT_MS   1500       /* for every answer, all TTLs at once */
#define HOPS_RESEND_MS 600        /* then once more for the TTLs still silent */

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One datagram to the server's address (and nowhere else), TTL ttl, on port BASE + ttl so
 * that the error names the TTL it answers. */
static void
send_one(int fd, const struct sockaddr_storage *srv, socklen_t len, int v6, int ttl)
{
	struct sockaddr_storage to = *srv;
	char payload[] = "netcfax-portcheck";

	if (v6) {
		((struct sockaddr_in6 *)&to)->sin6_port = htons((uint16_t)(HOPS_BASE_PORT + ttl));
		setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
	} else {
		((struct sockaddr_in *)&to)->sin_port = htons((uint16_t)(HOPS_BASE_PORT + ttl));
		setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	}
	sendto(fd, payload, sizeof(payload) - 1, 0, (struct sockaddr *)&to, len);
}

/* Drains the error queue into pc->hops; returns the TTL at which the server answered, or 0. */
static int
read_errors(struct portcheck *pc, int fd, const char *server)
{
	int reached = 0;

	for (int i = 0; i < 4 * PC_MAX_HOPS; i++) {
		struct sockaddr_storage orig;
		char data[64], ctl[512], addr[64];
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = { .msg_name = &orig, .msg_namelen = sizeof(orig), .msg_iov = &iov,
		                    .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct sock_extended_err *ee = NULL;
		struct cmsghdr *c;
		int ttl, exceeded, unreach;

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))
				ee = (struct sock_extended_err *)CMSG_DATA(c);
		if (ee == NULL)
			continue;
		exceeded = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_TIME_EXCEEDED) ||
		    (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == ICMP6_TIME_EXCEEDED);
		unreach = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_DEST_UNREACH) ||
		    (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == ICMP6_DST_UNREACH);
		ttl = ntohs(orig.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&orig)->sin6_port :
		    ((struct sockaddr_in *)&orig)->sin_port) - HOPS_BASE_PORT;
		if ((!exceeded && !unreach) || ttl < 1 || ttl > PC_MAX_HOPS)
			continue;
		if (getnameinfo(SO_EE_OFFENDER(ee), orig.ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), addr, sizeof(addr),
		    NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		snprintf(pc->hops[ttl - 1].addr, sizeof(pc->hops[0].addr), "%s", addr);
		pc->hops[ttl - 1].cls = portmap_classify(addr);
		pc->hops[ttl - 1].is_server = strcmp(addr, server) == 0;
		/* The server's "port unreachable" ends the path; so does a router's "unreachable". */
		if (unreach && (reached == 0 || ttl < reached))
			reached = ttl;
	}
	return reached;
}

static int
all_answered(const struct portcheck *pc, int upto)
{
	for (int t = 0; t < upto; t++)
		if (!pc->hops[t].addr[0])
			return 0;
	return 1;
}

void
pc_check_hops(struct portcheck *pc)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST }, *res;
	struct sockaddr_storage srv;
	socklen_t len;
	char list[400] = "";
	size_t n = 0;
	int fd, on = 1, reached = 0, done = 0, answered = 0;
	long start;

	if (pc->hops_probed || !pc->server_ip[0])
		return;
	pc->hops_probed = 1;
	if (getaddrinfo(pc->server_ip, NULL, &hints, &res) != 0)
		return;
	memcpy(&srv, res->ai_addr, res->ai_addrlen);
	len = res->ai_addrlen;
	freeaddrinfo(res);
	fd = socket(srv.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (srv.ss_family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on,
	    sizeof(on)) : setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on))) != 0) {
		pc_add(pc, PC_TOPOLOGY, "hops", PC_SKIP, "", "cannot trace the way to the server: "
		    "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	for (int ttl = 1; ttl <= PC_MAX_HOPS; ttl++)
		send_one(fd, &srv, len, srv.ss_family == AF_INET6, ttl);
	start = now_ms();
	/* Bounded: at most 2 * PC_MAX_HOPS datagrams, and HOPS_WAIT_MS in all. */
	for (int round = 0; round < 2 && !done; round++) {
		long until = start + (round == 0 ? HOPS_RESEND_MS : HOPS_WAIT_MS), left;

		if (round == 1)              /* a router may rate-limit its ICMP: ask again */
			for (int ttl = 1; ttl <= (reached ? reached : PC_MAX_HOPS); ttl++)
				if (!pc->hops[ttl - 1].addr[0])
					send_one(fd, &srv, len, srv.ss_family == AF_INET6, ttl);
		while (!done && (left = until - now_ms()) > 0) {
			struct pollfd p = { fd, POLLERR, 0 };
			int r = poll(&p, 1, (int)left), at;

			if (r < 0 && errno != EINTR)
				break;
			if (r <= 0)
				continue;
			if ((at = read_errors(pc, fd, pc->server_ip)) && (!reached || at < reached))
				reached = at;
			done = reached && all_answered(pc, reached);
		}
	}
	close(fd);
	pc->nhops = reached ? reached : PC_MAX_HOPS;
	for (int t = 0; t < pc->nhops && n < sizeof(list); t++) {
		answered += pc->hops[t].addr[0] != '\0';
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d %s%s",
		    t ? ", " : "", t + 1, pc->hops[t].addr[0] ? pc->hops[t].addr : "no answer",
		    pc->hops[t].is_server ? " (the server)" : !pc->hops[t].addr[0] ? "" :
		    pc->hops[t].cls == PORTMAP_ADDR_PUBLIC ? " (public)" :
		    pc->hops[t].cls == PORTMAP_ADDR_CGNAT ? " (CGNAT range)" : " (private)");
	}
	pc_add(pc, PC_TOPOLOGY, "hops", answered ? PC_PASS : PC_SKIP, "", "the way to the server, "
	    "by TTL: %s%s", list, !answered ? " (routers that send no ICMP errors, or a "
	    "firewall that drops them)" : reached ? "" : "; the server did not answer within "
	    "these hops");
}

/* route.c: which network we are on, as the kernel sees it: the IPv4 default gateway and our
 * source address towards it. The mapping service compares these between checks, because a
 * laptop that moved, or a DHCP lease that changed our address, leaves a mapping that points
 * at nobody. */
#include "portmap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Our address towards gw: a connected UDP socket sends nothing but gets a source address. */
static int
source_towards(struct in_addr gw, char *out, size_t outlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr = gw };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
	    inet_ntop(AF_INET, &sa.sin_addr, out, (socklen_t)outlen) != NULL)
		rc = 0;
	close(fd);
	return rc;
}

int
portmap_route(char gateway[PORTMAP_ADDR_MAX], char lan_addr[PORTMAP_ADDR_MAX])
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256];
	unsigned long best_metric = ~0UL;
	struct in_addr best = { 0 };
	int found = 0;

	gateway[0] = lan_addr[0] = '\0';
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char ifname[32];
		unsigned int dest, gw, flags, mask;
		unsigned long metric;

		/* Iface Destination Gateway Flags RefCnt Use Metric Mask ...; the header fails. */
		if (sscanf(line, "%31s %x %x %x %*d %*d %lu %x", ifname, &dest, &gw, &flags, &metric,
		    &mask) != 6)
			continue;
		if (dest != 0 || mask != 0 || !(flags & 0x1) || !(flags & 0x2))
			continue;                 /* want RTF_UP and RTF_GATEWAY default routes */
		if (!found || metric < best_metric) {
			best.s_addr = gw;         /* already in network order, as the kernel wrote */
			best_metric = metric;
			found = 1;
		}
	}
	fclose(f);
	if (!found)
		return -1;
	inet_ntop(AF_INET, &best, gateway, PORTMAP_ADDR_MAX);
	return source_towards(best, lan_addr, PORTMAP_ADDR_MAX);
}

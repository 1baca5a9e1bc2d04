/* announce.c: a router's own word that it (re)started, heard on the LAN's multicast groups.
 * A datagram costs nothing but a read: anyone on the LAN can send one, so it is believed
 * only from our default gateway, and all it can cause is a check and a restart event, each
 * of which the mapping service passes on at most every PORTMAP_WAKE_MIN_S seconds. */
#include "announce.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "portmap.h"

#define NATPMP_GROUP   "224.0.0.1"
#define NATPMP_NOTIFY  5350
#define NATPMP_SERVER  5351
#define SSDP_GROUP     "239.255.255.250"
#define SSDP_PORT      1900
#define DGRAM_MAX      2048          /* a NOTIFY is a few hundred bytes; the rest is cut */
#define READS_PER_WAKE 16            /* a flood on the LAN must not hold the loop */
#define KEY_MAX        320
#define KEYS_KEPT      4             /* a gateway may announce several root devices in turn */

struct announce {
	announce_fn   cb;
	void         *arg;
	int           fd[2];              /* NAT-PMP, SSDP */
	struct event *ev[2];
	int           have_epoch;
	uint32_t      epoch;              /* the last NAT-PMP or PCP announcement's */
	uint32_t      addr;               /* the last external address announced (not 0) */
	char          keys[KEYS_KEPT][KEY_MAX]; /* SSDP boot keys heard from the gateway, newest
	                                       * first: a restart brings one never heard */
	char          gw[PORTMAP_ADDR_MAX];
	time_t        gw_at;
};

static uint32_t
be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int
announce_natpmp_parse(const uint8_t *b, size_t n, uint32_t *epoch, uint32_t *addr)
{
	/* NAT-PMP: version 0, opcode 128 (public address reply), result 0, epoch, address. */
	if (n >= 12 && b[0] == 0 && b[1] == 128 && b[2] == 0 && b[3] == 0) {
		*epoch = be32(b + 4);
		memcpy(addr, b + 8, 4);
		return 0;
	}
	/* PCP (RFC 6887 14.1.3), which miniupnpd sends instead when it speaks PCP too: version
	 * 2, a response (R bit) to ANNOUNCE (opcode 0), result 0, lifetime, epoch. */
	if (n >= 24 && b[0] == 2 && b[1] == 0x80 && b[3] == 0) {
		*epoch = be32(b + 8);
		*addr = 0;
		return 0;
	}
	return -1;
}

int
announce_natpmp_news(int have, uint32_t last_epoch, uint32_t last_addr, uint32_t epoch,
    uint32_t addr)
{
	/* RFC 6886 repeats an announcement up to 10 times: only the first of a start (or of a
	 * new address) counts. A router that speaks both sends NAT-PMP (with its address) and
	 * PCP (with none) in turn: an address is compared only with one that was given. */
	if (!have || epoch < last_epoch)
		return 1;
	return addr != 0 && last_addr != 0 && addr != last_addr;
}

/* The value of header name in the n bytes at b (case-insensitive name), copied to out. */
static int
header(const char *b, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n; ) {
		size_t end = i, v, len;

		while (end < n && b[end] != '\n')
			end++;
		if (end - i > nl && b[i + nl] == ':' && strncasecmp(b + i, name, nl) == 0) {
			for (v = i + nl + 1; v < end && (b[v] == ' ' || b[v] == '\t'); v++)
				;
			len = end - v;
			while (len > 0 && isspace((unsigned char)b[v + len - 1]))
				len--;
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, b + v, len);
			out[len] = '\0';
			return 0;
		}
		i = end + 1;
	}
	out[0] = '\0';
	return -1;
}

int
announce_ssdp_parse(const char *b, size_t n, char *key, size_t keylen)
{
	char nts[32], loc[200], boot[24], nls[40];
	static const char start[] = "NOTIFY * HTTP/1.1";

	if (keylen == 0 || n < sizeof(start) - 1 || memcmp(b, start, sizeof(start) - 1) != 0)
		return -1;
	if (header(b, n, "NTS", nts, sizeof(nts)) != 0 || strcasecmp(nts, "ssdp:alive") != 0 ||
	    header(b, n, "LOCATION", loc, sizeof(loc)) != 0)
		return -1;
	header(b, n, "BOOTID.UPNP.ORG", boot, sizeof(boot));
	header(b, n, "01-NLS", nls, sizeof(nls));
	snprintf(key, keylen, "%s|%s|%s", loc, boot, nls);
	return 0;
}

/* Our default gateway, read again at most once a second. */
static const char *
gateway(struct announce *a)
{
	time_t now = time(NULL);
	char lan[PORTMAP_ADDR_MAX];

	if (a->gw_at != now) {
		if (portmap_route(a->gw, lan) != 0)
			a->gw[0] = '\0';
		a->gw_at = now;
	}
	return a->gw;
}

static void
heard(struct announce *a, int which, const uint8_t *b, size_t n, const struct sockaddr_in *from)
{
	char src[INET_ADDRSTRLEN], key[KEY_MAX], why[400];
	uint32_t epoch, addr;

	inet_ntop(AF_INET, &from->sin_addr, src, sizeof(src));
	if (strcmp(src, gateway(a)) != 0)
		return;
	if (which == 0) {
		int down;

		if (ntohs(from->sin_port) != NATPMP_SERVER ||
		    announce_natpmp_parse(b, n, &epoch, &addr) != 0)
			return;
		down = a->have_epoch && epoch < a->epoch;
		if (announce_natpmp_news(a->have_epoch, a->epoch, a->addr, epoch, addr)) {
			char ext[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &addr, ext, sizeof(ext));
			snprintf(why, sizeof(why), "the router %s announced over %s that it "
			    "started (epoch %u s%s%s%s)", src, b[0] == 2 ? "PCP" : "NAT-PMP", epoch,
			    down ? ", down from the last" : "", addr ? ", external address " : "",
			    addr ? ext : "");
			a->cb("natpmp", 1, why, a->arg);
		}
		a->have_epoch = 1;
		a->epoch = epoch;
		if (addr != 0)
			a->addr = addr;
		return;
	}
	if (announce_ssdp_parse((const char *)b, n, key, sizeof(key)) != 0)
		return;
	for (int i = 0; i < KEYS_KEPT; i++)
		if (strcmp(key, a->keys[i]) == 0)
			return;
	/* The first one heard may be a router that has just started, or one we only now hear
	 * repeat itself: check either way, but speak of a restart only on a new boot. */
	snprintf(why, sizeof(why), "the router %s announced over SSDP that it %s (%s)", src,
	    a->keys[0][0] ? "started again" : "is up", key);
	a->cb("upnp", a->keys[0][0] != '\0', why, a->arg);
	memmove(a->keys[1], a->keys[0], sizeof(a->keys) - sizeof(a->keys[0]));
	snprintf(a->keys[0], sizeof(a->keys[0]), "%s", key);
}

static void
readable(evutil_socket_t fd, short what, void *arg)
{
	struct announce *a = arg;
	int which = fd == a->fd[0] ? 0 : 1;

	(void)what;
	for (int i = 0; i < READS_PER_WAKE; i++) {
		uint8_t b[DGRAM_MAX];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, b, sizeof(b) - 1, MSG_DONTWAIT, (struct sockaddr *)&from,
		    &fl);

		if (n < 0)
			return;
		if (fl < sizeof(from) || from.sin_family != AF_INET)
			continue;
		b[n] = '\0';
		heard(a, which, b, (size_t)n, &from);
	}
}

/* A UDP socket bound to group:port and joined to the group, or -1. Others on this host (a
 * second netcfax, a UPnP stack) may listen on the same port: SO_REUSEADDR lets each of them
 * get its own copy. */
static int
group_socket(const char *group, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ip_mreq mr;
	int fd, one = 1;

	if (inet_pton(AF_INET, group, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&mr, 0, sizeof(mr));
	mr.imr_multiaddr = sa.sin_addr;
	mr.imr_interface.s_addr = htonl(INADDR_ANY);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0 &&
	    errno != EADDRINUSE)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct announce *
announce_new(struct event_base *base, announce_fn cb, void *arg)
{
	struct announce *a = calloc(1, sizeof(*a));
	int any = 0;

	if (a == NULL)
		return NULL;
	a->cb = cb;
	a->arg = arg;
	a->fd[0] = group_socket(NATPMP_GROUP, NATPMP_NOTIFY);
	a->fd[1] = group_socket(SSDP_GROUP, SSDP_PORT);
	for (int i = 0; i < 2; i++) {
		if (a->fd[i] < 0)
			continue;
		a->ev[i] = event_new(base, a->fd[i], EV_READ | EV_PERSIST, readable, a);
		if (a->ev[i] == NULL || event_add(a->ev[i], NULL) != 0) {
			if (a->ev[i])
				event_free(a->ev[i]);
			a->ev[i] = NULL;
			close(a->fd[i]);
			a->fd[i] = -1;
			continue;
		}
		any = 1;
	}
	if (!any) {
		announce_free(a);
		return NULL;
	}
	return a;
}

void
announce_free(struct announce *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		if (a->ev[i])
			event_free(a->ev[i]);
		if (a->fd[i] >= 0)
			close(a->fd[i]);
	}
	free(a);
}

/* addr.c: printing socket addresses and deriving per-address limit keys. */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int
mapped_v4(const struct sockaddr *sa, struct in_addr *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return 0;
	memcpy(out, &s6->sin6_addr.s6_addr[12], 4);
	return 1;
}

void
addr_format(const struct sockaddr *sa, socklen_t len, char *addr, size_t addrcap, char *peer,
    size_t peercap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	int v6 = 0;
	struct in_addr v4;

	(void)len;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (mapped_v4(sa, &v4))
			inet_ntop(AF_INET, &v4, a, sizeof(a));
		else {
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			v6 = 1;
		}
		port = ntohs(s6->sin6_port);
	}
	if (addr)
		snprintf(addr, addrcap, "%s", a);
	if (peer)
		snprintf(peer, peercap, v6 ? "[%s]:%u" : "%s:%u", a, port);
}

void
addr_limit_key(const struct sockaddr *sa, socklen_t len, char *key, size_t cap)
{
	struct in_addr v4;

	if (sa->sa_family == AF_INET6 && !mapped_v4(sa, &v4)) {
		struct in6_addr p = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		char a[INET6_ADDRSTRLEN];
		memset(&p.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &p, a, sizeof(a));
		snprintf(key, cap, "%s/64", a);
		return;
	}
	addr_format(sa, len, key, cap, NULL, 0);
}

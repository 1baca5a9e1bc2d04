/* portmap.c: what the backends share: choosing one, judging a router's external address
 * (a private or CGNAT one means another NAT upstream, where a mapping alone cannot help), and
 * naming a mapping's transport. */
#include "portmap.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

const struct portmap_ops *
portmap_backend(const char *name)
{
	if (strcmp(name, "upnp") == 0)
		return &portmap_upnp_ops;
	if (strcmp(name, "natpmp") == 0)
		return &portmap_natpmp_ops;
	return NULL;
}

int
portmap_classify(const char *addr)
{
	struct in_addr a;
	uint32_t h;

	if (addr == NULL || *addr == '\0' || inet_pton(AF_INET, addr, &a) != 1)
		return PORTMAP_ADDR_EMPTY;
	h = ntohl(a.s_addr);
	if (h == 0)
		return PORTMAP_ADDR_EMPTY;
	if ((h >> 24) == 10 || (h >> 20) == 0xac1 || (h >> 16) == 0xc0a8 ||
	    (h >> 24) == 127 || (h >> 16) == 0xa9fe)
		return PORTMAP_ADDR_PRIVATE;          /* 10/8, 172.16/12, 192.168/16, 127/8, 169.254/16 */
	if ((h >> 22) == (0x64400000u >> 22))
		return PORTMAP_ADDR_CGNAT;            /* 100.64/10 */
	return PORTMAP_ADDR_PUBLIC;
}

const char *
portmap_class_name(int cls)
{
	switch (cls) {
	case PORTMAP_ADDR_PUBLIC:  return "public";
	case PORTMAP_ADDR_PRIVATE: return "private";
	case PORTMAP_ADDR_CGNAT:   return "cgnat";
	default:                   return "empty";
	}
}

const char *
portmap_transport_name(int transport)
{
	return transport == PORTMAP_UDP ? "UDP" : "TCP";
}

int
portmap_transport_parse(const char *name)
{
	if (name == NULL || *name == '\0' || strcasecmp(name, "tcp") == 0)
		return PORTMAP_TCP;
	if (strcasecmp(name, "udp") == 0)
		return PORTMAP_UDP;
	return -1;
}

const char *
portmap_transport_word(int transport)
{
	return transport == PORTMAP_UDP ? "UDP " : "";
}

/* addr.h: socket address formatting shared by the server, the client and the tests. */
#ifndef NETCFAX_ADDR_H
#define NETCFAX_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Room for "[ipv6%zone]:port". */
#define ADDR_STR_MAX 80

/* addr gets "192.0.2.1" or "2001:db8::1"; peer gets "192.0.2.1:7488" or "[2001:db8::1]:7488".
 * IPv4-mapped IPv6 addresses are shown as IPv4. Either output may be NULL. */
void addr_format(const struct sockaddr *sa, socklen_t len, char *addr, size_t addrcap,
                 char *peer, size_t peercap);
/* The key per-address limits count under: the IPv4 address, or the IPv6 /64, because one
 * IPv6 host commonly holds a whole /64 and could otherwise rotate past every limit. */
void addr_limit_key(const struct sockaddr *sa, socklen_t len, char *key, size_t cap);

#endif

/* netopt.h: socket options netcfax sets on long-lived TCP connections. */
#ifndef NETCFAX_NETOPT_H
#define NETCFAX_NETOPT_H

/* TCP keepalive after this many idle seconds, then probes every NETOPT_KEEPINTVL seconds,
 * NETOPT_KEEPCNT of them: a second line behind the heartbeats inside TLS, which are the ones
 * that count (keepalives can be spoofed, and some NATs drop them). */
#define NETOPT_KEEPIDLE  60
#define NETOPT_KEEPINTVL 15
#define NETOPT_KEEPCNT   4

void netopt_keepalive(int fd);
/* No Nagle delay: every connection here is framed request and reply or a stream of small
 * NOTIFY frames, each written whole, and a frame held back until the peer's delayed ACK
 * (up to 40 ms on Linux) is latency a fax notification should not carry. A no-op on a socket
 * that is not TCP. */
void netopt_nodelay(int fd);

#endif

/* natpmp_reply.h: how the NAT-PMP backend (natpmp.c) reads a router's reply and judges it,
 * declared for fuzz/fuzz_natpmp.c, which feeds it arbitrary datagrams from a gateway on
 * loopback. (Not natpmp.h: that name is libnatpmp's own header.) */
#ifndef NETCFAX_NATPMP_REPLY_H
#define NETCFAX_NATPMP_REPLY_H

#include <stdint.h>
#include <time.h>

#include <natpmp.h>

/* Beyond libnatpmp's own codes: a reply that is not the answer to the pending request, and
 * one shorter than its kind of reply. */
#define NATPMP_REPLY_MISMATCH (-1001)
#define NATPMP_REPLY_SHORT    (-1002)

/* The request pending on a natpmp_t, which a reply must answer. */
struct natpmp_want {
	int      type;           /* NATPMP_RESPTYPE_PUBLICADDRESS, _UDPPORTMAPPING or
	                          * _TCPPORTMAPPING */
	uint16_t int_port;       /* a mapping's private port */
	uint32_t lifetime;       /* asked for; 0 removes the mapping */
};

/* Waits at most wait_ms for the reply to n's pending request: 0 when *r answers want, else
 * a libnatpmp error, NATPMP_REPLY_SHORT, or NATPMP_REPLY_MISMATCH when only replies that do
 * not answer it came (each is passed over: a late answer to an earlier request). */
int natpmp_reply_read(natpmp_t *n, const struct natpmp_want *want, int wait_ms,
                      natpmpresp_t *r);

/* The router's epoch (seconds since its mapping table began) and when we heard it. */
struct natpmp_epoch {
	uint32_t epoch;
	time_t   at;             /* CLOCK_MONOTONIC seconds */
	int      have;
};
/* Takes the epoch of a reply heard at now: 1 if it went down, that is, the router restarted
 * and lost our mappings (RFC 6886 3.6), else 0. */
int natpmp_epoch_went_down(struct natpmp_epoch *e, uint32_t epoch, time_t now);

#endif

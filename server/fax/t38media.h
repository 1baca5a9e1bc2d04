/* t38media.h: T.38 over UDPTL, the second media of a call (media.h): a unit is one IFP. */
#ifndef NETCFAX_T38MEDIA_H
#define NETCFAX_T38MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "media.h"
#include "udptl.h"

extern const struct media_ops t38media_ops;

#define T38MEDIA_QUIET_STEPS 10       /* steps without a packet before what is missing is
                                       * given up (200 ms), so what is held comes out */
#define T38MEDIA_KEEPALIVE_STEPS 50   /* until the far end's first packet, a keepalive once
                                       * we have sent nothing for this long (1 s) */

struct t38media_opts {
	const char *bind_addr;            /* a numeric IPv4 or IPv6 address; NULL: 0.0.0.0 */
	int         port_min, port_max;   /* a port in this range; 0, 0: any the kernel gives */
};

/* A socket bound to receive (and send) the call's UDPTL, not yet started. NULL with the
 * reason in err (a bad address, no free port in the range). Free with t38media_ops.free. */
void *t38media_new(const struct t38media_opts *o, char *err, size_t errlen);

/* The error recovery we send with and the far end's largest datagram (what the SDP agreed),
 * set before start; without it, redundancy of 3 in datagrams of up to UDPTL_DATAGRAM_MAX.
 * 0, or -1 with the reason (out of bounds, or already started). */
int t38media_set_udptl(void *m, const struct udptl_config *c, char *err, size_t errlen);

/* The sequence number of the IFP the last recv gave (what t38_core_rx_ifp_packet wants). */
uint16_t t38media_last_seq(void *m);

/* The UDPTL counts: what redundancy and FEC restored, what was lost, sent, trimmed. */
void t38media_udptl_stats(void *m, struct udptl_stats *s);

#endif

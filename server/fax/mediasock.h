/* mediasock.h: the UDP socket under a call's media (rtpaudio.c, t38media.c): bound in a port
 * range, symmetric (we send from the port we receive on, so a NAT or an SBC that latches on
 * our first packet sends back to where we listen), the 20 ms step clock, and the rule for
 * whom we listen to. Only datagrams from the peer's address and port are handed to the
 * media; all others are counted and dropped, with one exception: a far end behind a NAT that
 * picks its own source ports (most do, even for a port its router forwards to it) sends from
 * its router's address but another port. Until the peer has been heard from, a source on the
 * peer's address that sends MEDIASOCK_LATCH_RUN packets in sequence from one stream is taken
 * as the peer (for both directions); a stranger's scattered packets never are. "In sequence"
 * allows for the network the far end is behind: a run goes on past one lost packet and past
 * packets that come late or twice, and the packets of the run, held meanwhile, are handed to
 * the media in sequence when it is taken: the start of a fax call (the far end's CSI, our
 * TSI) is what comes first, and is lost for good when a latch throws it away. The same holds
 * once the peer has been silent for MEDIASOCK_RELATCH_STEPS: a NAT may move the far end's
 * packets to another port mid-call (two routers whose first packets of a call cross each
 * other's mapping, a connection tracking entry that expired), and the stream that goes on
 * from there is the far end's. Nothing here blocks beyond one step's wait, and every read is
 * capped at MEDIASOCK_DATAGRAM_MAX. */
#ifndef NETCFAX_MEDIASOCK_H
#define NETCFAX_MEDIASOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MEDIASOCK_DATAGRAM_MAX 1500  /* longer datagrams are refused, not read in part */
#define MEDIASOCK_LATCH_RUN    4     /* packets in sequence from another port of the peer's
                                      * address before it is taken as the peer */
#define MEDIASOCK_LATCH_GAP    2     /* a run goes on over a step this far ahead (one lost) */
#define MEDIASOCK_LATCH_HOLD   8     /* packets of a run held to hand on when it is taken */
#define MEDIASOCK_RELATCH_STEPS 10   /* steps (200 ms) without a packet from the peer after
                                      * which another port may be latched again */

struct mediasock;

struct mediasock_opts {
	const char *what;                /* "RTP", "UDPTL": how errors name the socket */
	const char *bind_addr;           /* a numeric IPv4 or IPv6 address; NULL: 0.0.0.0 */
	int         port_min, port_max;  /* a port in this range; 0, 0: any the kernel gives */
	int         even;                /* even ports only (RTP: RTCP takes the odd one above) */
};

/* What the media makes of the datagrams the socket reads for it. */
struct mediasock_reader {
	/* A datagram from the peer. 1 when the media took it as one of its packets (the peer
	 * has then been heard: no latching while it goes on), 0 when it did not (the media
	 * counts why: malformed, another payload). */
	int  (*take)(void *arg, const uint8_t *buf, size_t len);
	/* A datagram from another port of the peer's address while it may be latched: 0 with
	 * its stream (an RTP SSRC; 0 where the media has none) and sequence number, or -1 when
	 * it is not a packet of this media (a stranger's). */
	int  (*ident)(void *arg, const uint8_t *buf, size_t len, uint32_t *stream, uint16_t *seq);
	void *arg;
};

/* A socket bound to receive (and send) the media. NULL with the reason in err (a bad
 * address, no free port in the range). */
struct mediasock *mediasock_open(const struct mediasock_opts *o, char *err, size_t errlen);
void mediasock_free(struct mediasock *s);

void mediasock_local(const struct mediasock *s, struct sockaddr_storage *addr,
                     socklen_t *len);
int  mediasock_family(const struct mediasock *s);

/* The peer the SDP negotiated; the step clock starts at the first call. Given again (a new
 * answer), the same address and port keep a port latched on it; another peer may be
 * latched afresh. */
void mediasock_set_peer(struct mediasock *s, const struct sockaddr_storage *addr,
                        socklen_t len);

/* Waits for the next 20 ms step on the monotonic clock, handing every datagram that arrives
 * meanwhile to r. 0; -1 when abort was set or the socket failed. A worker that was not
 * scheduled for a while takes up the clock from now rather than running a burst of steps. */
int  mediasock_step(struct mediasock *s, const atomic_int *abort,
                    const struct mediasock_reader *r);

/* Sends one datagram to the peer (the latched port, once there is one). 0 or -1. */
int  mediasock_send(struct mediasock *s, const uint8_t *buf, size_t len);

/* The socket's counts: datagrams that came from elsewhere than the peer (a latched run's are
 * counted too, though handed on once it was taken), ports latched. */
void mediasock_counts(const struct mediasock *s, uint64_t *strangers, uint64_t *latched);

#endif

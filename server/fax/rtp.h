/* rtp.h: RTP packets (RFC 3550) as pure functions of bytes: a datagram read into its header
 * fields and payload, and a header written before a payload. No sockets here (rtpaudio.c). */
#ifndef NETCFAX_RTP_H
#define NETCFAX_RTP_H

#include <stddef.h>
#include <stdint.h>

/* The largest datagram read or written. G.711 at 20 ms is 172 bytes; anything beyond an
 * Ethernet frame's UDP payload is no RTP we speak, and is refused before it is looked at. */
#define RTP_DATAGRAM_MAX 1472
#define RTP_HEADER_LEN   12          /* the fixed header, without CSRCs or an extension */
#define RTP_VERSION      2

#define RTP_PT_PCMU      0           /* G.711 µ-law, static payload type (RFC 3551) */
#define RTP_PT_PCMA      8           /* G.711 A-law */

struct rtp_packet {
	int            marker;
	int            pt;               /* payload type, 0..127 */
	uint16_t       seq;
	uint32_t       ts;
	uint32_t       ssrc;
	const uint8_t *payload;          /* inside the datagram given to rtp_parse */
	size_t         payload_len;      /* without the padding */
};

/* Reads one datagram of n bytes. CSRCs and a header extension are skipped, each length
 * checked against the datagram; padding is taken off the payload. 0, or -1 with the reason in
 * err (a datagram longer than RTP_DATAGRAM_MAX, not version 2, a length beyond its end). */
int rtp_parse(const uint8_t *d, size_t n, struct rtp_packet *p, char *err, size_t errlen);

/* Writes the fixed header of p (no CSRC, extension or padding) and its payload into out:
 * the datagram's length, or -1 when it does not fit in cap or RTP_DATAGRAM_MAX, or a field is
 * out of range. */
int rtp_build(uint8_t *out, size_t cap, const struct rtp_packet *p);

#endif

/* rtp.c: reading and writing RTP packets. Every length in a header (CSRC count, extension
 * length, padding count) is a claim about the datagram, checked against its size before the
 * bytes it names are touched. */
#include "rtp.h"

#include <stdio.h>
#include <string.h>

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int
rtp_parse(const uint8_t *d, size_t n, struct rtp_packet *p, char *err, size_t errlen)
{
	size_t off, end = n;
	int cc;

	memset(p, 0, sizeof(*p));
	if (n > RTP_DATAGRAM_MAX) {
		snprintf(err, errlen, "datagram of %zu bytes, more than %d", n, RTP_DATAGRAM_MAX);
		return -1;
	}
	if (n < RTP_HEADER_LEN) {
		snprintf(err, errlen, "datagram of %zu bytes, shorter than an RTP header", n);
		return -1;
	}
	if (d[0] >> 6 != RTP_VERSION) {
		snprintf(err, errlen, "RTP version %d, not 2", d[0] >> 6);
		return -1;
	}
	cc = d[0] & 0x0f;
	off = RTP_HEADER_LEN + (size_t)cc * 4;
	if (off > n) {
		snprintf(err, errlen, "%d CSRCs do not fit in %zu bytes", cc, n);
		return -1;
	}
	if (d[0] & 0x10) {
		size_t words;

		/* 16 bits of profile, 16 bits of length in 32-bit words, then the words. */
		if (off + 4 > n) {
			snprintf(err, errlen, "header extension cut short");
			return -1;
		}
		words = (size_t)d[off + 2] << 8 | d[off + 3];
		if (words * 4 > n - off - 4) {
			snprintf(err, errlen, "header extension of %zu words beyond the datagram",
			    words);
			return -1;
		}
		off += 4 + words * 4;
	}
	if (d[0] & 0x20) {
		size_t pad = d[n - 1];

		/* The count includes itself, so 0 is no padding at all: refused. */
		if (pad == 0 || pad > n - off) {
			snprintf(err, errlen, "padding of %zu bytes in a payload of %zu", pad,
			    n - off);
			return -1;
		}
		end = n - pad;
	}
	p->marker = d[1] >> 7;
	p->pt = d[1] & 0x7f;
	p->seq = (uint16_t)(d[2] << 8 | d[3]);
	p->ts = be32(d + 4);
	p->ssrc = be32(d + 8);
	p->payload = d + off;
	p->payload_len = end - off;
	return 0;
}

int
rtp_build(uint8_t *out, size_t cap, const struct rtp_packet *p)
{
	size_t n = RTP_HEADER_LEN + p->payload_len;

	if (p->pt < 0 || p->pt > 127 || p->payload_len > RTP_DATAGRAM_MAX - RTP_HEADER_LEN ||
	    n > cap || (p->payload_len > 0 && p->payload == NULL))
		return -1;
	out[0] = RTP_VERSION << 6;
	out[1] = (uint8_t)((p->marker ? 0x80 : 0) | p->pt);
	out[2] = (uint8_t)(p->seq >> 8);
	out[3] = (uint8_t)p->seq;
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (uint8_t)(p->ts >> (24 - 8 * i));
		out[8 + i] = (uint8_t)(p->ssrc >> (24 - 8 * i));
	}
	if (p->payload_len > 0)
		memmove(out + RTP_HEADER_LEN, p->payload, p->payload_len);
	return (int)n;
}

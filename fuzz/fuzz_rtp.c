/* fuzz_rtp.c: libFuzzer harness for RTP (server/fax/rtp.c) and the jitter buffer behind it
 * (jitterbuf.c). The input is one datagram as the media socket reads it. Beyond not
 * crashing: a packet accepted has its payload inside the datagram, after the fixed header,
 * the CSRCs and the extension, and before the padding; its fields are the datagram's bytes;
 * written again with rtp_build and read back, it is the same packet. A refusal says why.
 * Then the same bytes, read as frames arriving (sequence number, length) between plays,
 * drive a jitter buffer: every arrival is counted once, every play gives one whole frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jitterbuf.h"
#include "rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_packet(const uint8_t *d, size_t n, const struct rtp_packet *p)
{
	uint8_t again[RTP_DATAGRAM_MAX];
	struct rtp_packet q;
	size_t head = RTP_HEADER_LEN + (size_t)(d[0] & 0x0f) * 4;
	char err[128];
	int len;

	if (n < RTP_HEADER_LEN || n > RTP_DATAGRAM_MAX || d[0] >> 6 != 2)
		abort();
	if (p->payload < d + head || p->payload > d + n || p->payload_len > n ||
	    p->payload + p->payload_len > d + n)
		abort();
	if (!(d[0] & 0x10) && p->payload != d + head)
		abort();                 /* no extension: the payload follows the CSRCs */
	if (!(d[0] & 0x20) && p->payload + p->payload_len != d + n)
		abort();                 /* no padding: the payload runs to the end */
	if ((d[0] & 0x20) && p->payload + p->payload_len + d[n - 1] != d + n)
		abort();
	if (p->pt != (d[1] & 0x7f) || p->marker != d[1] >> 7 || p->seq != (d[2] << 8 | d[3]) ||
	    p->ssrc != ((uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11]))
		abort();
	len = rtp_build(again, sizeof(again), p);
	if (len != (int)(RTP_HEADER_LEN + p->payload_len))
		abort();
	if (rtp_parse(again, (size_t)len, &q, err, sizeof(err)) != 0 || q.pt != p->pt ||
	    q.marker != p->marker || q.seq != p->seq || q.ts != p->ts || q.ssrc != p->ssrc ||
	    q.payload_len != p->payload_len || memcmp(q.payload, p->payload, p->payload_len) != 0)
		abort();
}

static void
jitter(const uint8_t *d, size_t n)
{
	struct jitterbuf *j = jitterbuf_new(1 + (n ? d[0] % JITTERBUF_DEPTH_MAX : 0), 160, 0xD5);
	struct jitterbuf_stats st;
	uint8_t frame[160], out[161];
	uint64_t puts = 0;

	if (j == NULL)
		abort();
	memset(frame, 0x55, sizeof(frame));
	/* Records of 3 bytes: sequence number, then a byte whose top bit says play first and
	 * whose low bits make a wrong length now and then. */
	for (size_t i = 1; i + 3 <= n && i < 3 * 4096; i += 3) {
		uint16_t seq = (uint16_t)(d[i] << 8 | d[i + 1]);
		size_t len = (d[i + 2] & 0x0f) == 0x0f ? d[i + 2] >> 4 : 160;

		if (d[i + 2] & 0x80) {
			out[160] = 0x77;
			jitterbuf_get(j, out);
			if (out[160] != 0x77)
				abort();        /* a play writes one frame, no more */
		}
		(void)jitterbuf_put(j, seq, frame, len);
		puts++;
	}
	jitterbuf_stats(j, &st);
	/* Every arrival lands in exactly one count (a resync takes the frame it was for). */
	if (st.taken + st.late + st.duplicates + st.bad != puts || st.reordered > st.taken)
		abort();
	jitterbuf_free(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_packet p;
	char err[128];

	memset(err, 'x', sizeof(err));
	if (rtp_parse(data, size, &p, err, sizeof(err)) == 0)
		check_packet(data, size, &p);
	else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	jitter(data, size);
	return 0;
}

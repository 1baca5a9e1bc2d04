/* test_rtp.c: RTP packets read and written (rtp.c): fields, CSRCs, the header extension and
 * padding skipped, every length that points beyond the datagram refused; and the jitter
 * buffer (jitterbuf.c): frames played in order after a fixed delay, gaps filled with
 * silence, duplicates and late frames dropped, a jump in numbering started afresh. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "jitterbuf.h"
#include "rtp.h"

static void
test_build_parse(void)
{
	uint8_t payload[160], buf[RTP_DATAGRAM_MAX];
	struct rtp_packet p = { 0 }, q;
	char err[100] = "";
	int n;

	for (int i = 0; i < 160; i++)
		payload[i] = (uint8_t)(i * 7);
	p.marker = 1;
	p.pt = RTP_PT_PCMA;
	p.seq = 0xfffe;
	p.ts = 0x01020304;
	p.ssrc = 0xdeadbeef;
	p.payload = payload;
	p.payload_len = sizeof(payload);
	n = rtp_build(buf, sizeof(buf), &p);
	CHECK_INT(n, 172);
	CHECK_INT(buf[0], 0x80);
	CHECK_INT(buf[1], 0x88);
	CHECK_INT(rtp_parse(buf, (size_t)n, &q, err, sizeof(err)), 0);
	CHECK_INT(q.marker, 1);
	CHECK_INT(q.pt, 8);
	CHECK_INT(q.seq, 0xfffe);
	CHECK_INT(q.ts, 0x01020304);
	CHECK_INT(q.ssrc, 0xdeadbeef);
	CHECK_INT(q.payload_len, 160);
	CHECK(q.payload == buf + 12);
	CHECK(memcmp(q.payload, payload, 160) == 0);
	/* Not enough room, a payload type beyond 7 bits, a payload beyond the datagram cap. */
	CHECK_INT(rtp_build(buf, 171, &p), -1);
	p.pt = 128;
	CHECK_INT(rtp_build(buf, sizeof(buf), &p), -1);
	p.pt = 0;
	p.payload_len = RTP_DATAGRAM_MAX;
	CHECK_INT(rtp_build(buf, sizeof(buf), &p), -1);
}

static void
test_csrc_extension_padding(void)
{
	/* V=2 P=1 X=1 CC=2, PT 0; 2 CSRCs; extension of 1 word; 3 payload bytes; 4 of padding. */
	uint8_t d[] = {
		0xb2, 0x00, 0x00, 0x07, 0, 0, 0, 160, 0x11, 0x22, 0x33, 0x44,
		1, 1, 1, 1, 2, 2, 2, 2,
		0xbe, 0xde, 0x00, 0x01, 9, 9, 9, 9,
		0xaa, 0xbb, 0xcc,
		0, 0, 0, 4,
	};
	struct rtp_packet p;
	char err[100] = "";

	CHECK_INT(rtp_parse(d, sizeof(d), &p, err, sizeof(err)), 0);
	CHECK_INT(p.pt, 0);
	CHECK_INT(p.seq, 7);
	CHECK_INT(p.ts, 160);
	CHECK_INT(p.ssrc, 0x11223344);
	CHECK_INT(p.payload_len, 3);
	CHECK(p.payload == d + 28);
	CHECK_INT(p.payload[0], 0xaa);
	/* Padding that claims more than the payload, or none at all. */
	d[sizeof(d) - 1] = 8;
	CHECK_INT(rtp_parse(d, sizeof(d), &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "padding");
	d[sizeof(d) - 1] = 0;
	CHECK_INT(rtp_parse(d, sizeof(d), &p, err, sizeof(err)), -1);
	d[sizeof(d) - 1] = 7;                /* exactly the payload and itself: empty payload */
	CHECK_INT(rtp_parse(d, sizeof(d), &p, err, sizeof(err)), 0);
	CHECK_INT(p.payload_len, 0);
	d[sizeof(d) - 1] = 4;
	/* An extension whose length runs beyond the datagram. */
	d[23] = 5;
	CHECK_INT(rtp_parse(d, sizeof(d), &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "extension");
	d[22] = 0xff;
	d[23] = 0xff;
	CHECK_INT(rtp_parse(d, sizeof(d), &p, err, sizeof(err)), -1);
	d[22] = 0;
	d[23] = 1;
	/* An extension header cut short: CSRCs end the datagram. */
	CHECK_INT(rtp_parse(d, 21, &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "extension");
	/* 15 CSRCs in a 28-byte datagram. */
	d[0] = 0x8f;
	CHECK_INT(rtp_parse(d, 28, &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "CSRC");
}

static void
test_refused(void)
{
	uint8_t d[RTP_DATAGRAM_MAX + 1];
	struct rtp_packet p;
	char err[100] = "";

	memset(d, 0, sizeof(d));
	d[0] = 0x80;
	CHECK_INT(rtp_parse(d, 11, &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "shorter");
	CHECK_INT(rtp_parse(d, 12, &p, err, sizeof(err)), 0);
	CHECK_INT(p.payload_len, 0);
	CHECK_INT(rtp_parse(d, RTP_DATAGRAM_MAX, &p, err, sizeof(err)), 0);
	CHECK_INT(rtp_parse(d, RTP_DATAGRAM_MAX + 1, &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "more than");
	d[0] = 0x40;                         /* version 1 */
	CHECK_INT(rtp_parse(d, 20, &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "version");
	d[0] = 0x00;                         /* version 0: e.g. a STUN packet on the port */
	CHECK_INT(rtp_parse(d, 20, &p, err, sizeof(err)), -1);
}

/* A frame whose every byte is its number's low byte, to tell frames apart. */
static void
frame(uint8_t *f, uint16_t seq)
{
	memset(f, (uint8_t)seq, 160);
}

static int
got(struct jitterbuf *j, int want)
{
	uint8_t f[160];

	jitterbuf_get(j, f);
	for (int i = 1; i < 160; i++)
		if (f[i] != f[0])
			return 0;
	return f[0] == (uint8_t)want;
}

static void
test_jitterbuf(void)
{
	struct jitterbuf *j = jitterbuf_new(3, 160, 0xD5);
	struct jitterbuf_stats st;
	uint8_t f[160];

	CHECK(jitterbuf_new(0, 160, 0) == NULL);
	CHECK(jitterbuf_new(JITTERBUF_DEPTH_MAX + 1, 160, 0) == NULL);
	CHECK(jitterbuf_new(3, 161, 0) == NULL);
	CHECK(j != NULL);
	if (j == NULL)
		return;
	/* Nothing came yet: silence, counted as nothing. */
	CHECK(got(j, 0xD5));
	/* 65534 then 65536 (0) and 65535 swapped, a duplicate, a frame of the wrong size. */
	frame(f, 65534);
	CHECK_INT(jitterbuf_put(j, 65534, f, 160), JITTERBUF_TAKEN);
	frame(f, 0);
	CHECK_INT(jitterbuf_put(j, 0, f, 160), JITTERBUF_TAKEN);
	frame(f, 65535);
	CHECK_INT(jitterbuf_put(j, 65535, f, 160), JITTERBUF_TAKEN);
	CHECK_INT(jitterbuf_put(j, 65535, f, 160), JITTERBUF_DUPLICATE);
	CHECK_INT(jitterbuf_put(j, 1, f, 100), JITTERBUF_BAD);
	/* The fixed delay: three silent frames from the first arrival, then in order. */
	CHECK(got(j, 0xD5));
	CHECK(got(j, 0xD5));
	CHECK(got(j, 0xD5));
	CHECK(got(j, 65534 & 0xff));
	CHECK(got(j, 65535 & 0xff));
	CHECK(got(j, 0));
	/* 1 never comes, 2 does: 1 is played as silence (lost), 2 in its turn. */
	frame(f, 2);
	CHECK_INT(jitterbuf_put(j, 2, f, 160), JITTERBUF_TAKEN);
	CHECK(got(j, 0xD5));
	CHECK(got(j, 2));
	/* 1 comes after its turn: late. */
	frame(f, 1);
	CHECK_INT(jitterbuf_put(j, 1, f, 160), JITTERBUF_LATE);
	/* The far end falls silent: underruns, not losses. */
	CHECK(got(j, 0xD5));
	CHECK(got(j, 0xD5));
	jitterbuf_stats(j, &st);
	CHECK_INT(st.taken, 4);
	CHECK_INT(st.reordered, 1);
	CHECK_INT(st.duplicates, 1);
	CHECK_INT(st.bad, 1);
	CHECK_INT(st.late, 1);
	CHECK_INT(st.lost, 1);
	CHECK_INT(st.underruns, 2);
	CHECK_INT(st.resyncs, 0);
	/* The far end's numbering jumps (a new stream): the buffer starts again, same delay. */
	frame(f, 30000 & 0xff);
	CHECK_INT(jitterbuf_put(j, 30000, f, 160), JITTERBUF_TAKEN);
	CHECK(got(j, 0xD5));
	CHECK(got(j, 0xD5));
	CHECK(got(j, 0xD5));
	CHECK(got(j, 30000 & 0xff));
	/* A stream that went back in time for good (eight late frames in a row): followed. */
	for (uint16_t s = 100; s < 108; s++) {
		frame(f, s);
		jitterbuf_put(j, s, f, 160);
	}
	jitterbuf_stats(j, &st);
	CHECK_INT(st.resyncs, 2);
	CHECK_INT(st.late, 1 + 7);
	for (int i = 0; i < 3; i++)
		CHECK(got(j, 0xD5));
	CHECK(got(j, 107));
	jitterbuf_free(j);
	jitterbuf_free(NULL);
}

int
main(void)
{
	test_build_parse();
	test_csrc_extension_padding();
	test_refused();
	test_jitterbuf();
	return check_report("rtp");
}

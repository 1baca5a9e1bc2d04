/* test_udptl.c: UDPTL (udptl.c): packets read and written byte for byte as the PER rules of
 * T.38's annex make them (written out here by hand); IFPs handed on in sequence, each once,
 * under scripted loss, bursts, reordering, duplicates and the wrap of the sequence number,
 * with what redundancy and FEC restore counted; malformed, truncated and oversized input
 * refused with a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "udptl.h"


/* The IFPs of a test stream: IFP i is len(i) bytes, each saying i. */
static size_t
ifp_of(unsigned i, int same_len, uint8_t *buf)
{
	size_t len = same_len ? 40 : 1 + (i * 37) % 300;

	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(i * 31 + j * 7 + (i >> 8));
	return len;
}


struct run {
	unsigned delivered, order_bad, content_bad;
	struct udptl_stats rx, tx;
};

/* Writes npackets IFPs with tx, then reads the datagrams in the order given (indices into
 * the stream; -1 ends) with rx, draining after each, and flushes at the end. Checks that
 * what comes out is in sequence, each once, and the IFP that was sent. */
static void
run_stream(const struct udptl_config *txc, const struct udptl_config *rxc, unsigned npackets,
           const int *order, int same_len, struct run *r)
{
	static uint8_t dg[2048][UDPTL_DATAGRAM_MAX];
	static int dglen[2048];
	struct udptl *tx = udptl_new(txc, NULL, 0), *rx = udptl_new(rxc, NULL, 0);
	uint8_t ifp[UDPTL_IFP_MAX], out[UDPTL_IFP_MAX];
	char err[160];
	long last = -1;
	uint16_t seq;
	int n;

	memset(r, 0, sizeof(*r));
	CHECK(tx != NULL && rx != NULL && npackets <= 2048);
	if (tx == NULL || rx == NULL)
		goto out;
	for (unsigned i = 0; i < npackets; i++) {
		size_t len = ifp_of(i, same_len, ifp);

		dglen[i] = udptl_write(tx, ifp, len, dg[i], sizeof(dg[i]), err, sizeof(err));
		CHECK(dglen[i] > 0);
	}
	for (const int *o = order; ; o++) {
		int end = *o < 0;

		if (!end)
			CHECK_INT(udptl_read(rx, dg[*o], (size_t)dglen[*o], err, sizeof(err)), 0);
		else
			udptl_flush(rx);
		while ((n = udptl_next(rx, out, sizeof(out), &seq)) > 0) {
			size_t len = ifp_of(seq, same_len, ifp);

			r->delivered++;
			if ((long)seq <= last)
				r->order_bad++;
			last = seq;
			/* a rebuilt IFP may be longer than the one sent: its own bytes come first */
			if ((size_t)n < len || memcmp(out, ifp, len) != 0)
				r->content_bad++;
		}
		CHECK_INT(n, 0);
		if (end)
			break;
	}
	udptl_stats(rx, &r->rx);
	udptl_stats(tx, &r->tx);
out:
	udptl_free(tx);
	udptl_free(rx);
}

/* 0..n-1 in order, without the ones listed in drop (ending -1), into order (ending -1). */
static void
order_without(int *order, int n, const int *drop)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		int skip = 0;

		for (const int *d = drop; *d >= 0; d++)
			skip |= *d == i;
		if (!skip)
			order[k++] = i;
	}
	order[k] = -1;
}

static void
test_bytes(void)
{
	static const struct udptl_config red3 = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 3 };
	static const uint8_t ifp0[] = { 0x06 }, ifp1[] = { 0x08, 0x09 },
	    ifp2[] = { 0xc0, 0x01, 0x80 }, ifp3[] = { 0x40, 0x02 };
	/* seq 0, primary of 1 byte, CHOICE 0 (redundancy), no secondary */
	static const uint8_t want0[] = { 0x00, 0x00, 0x01, 0x06, 0x00, 0x00 };
	/* seq 1, primary of 2, one secondary: IFP 0 */
	static const uint8_t want1[] = { 0x00, 0x01, 0x02, 0x08, 0x09, 0x00, 0x01, 0x01, 0x06 };
	/* seq 3, three secondaries, the most recent first: IFPs 2, 1, 0 */
	static const uint8_t want3[] = { 0x00, 0x03, 0x02, 0x40, 0x02, 0x00, 0x03,
	    0x03, 0xc0, 0x01, 0x80, 0x02, 0x08, 0x09, 0x01, 0x06 };
	struct udptl *u = udptl_new(&red3, NULL, 0);
	uint8_t out[UDPTL_DATAGRAM_MAX], big[200];
	struct udptl_packet p;
	char err[160] = "";
	int n;

	CHECK(u != NULL);
	n = udptl_write(u, ifp0, sizeof(ifp0), out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, sizeof(want0));
	CHECK(memcmp(out, want0, sizeof(want0)) == 0);
	n = udptl_write(u, ifp1, sizeof(ifp1), out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, sizeof(want1));
	CHECK(memcmp(out, want1, sizeof(want1)) == 0);
	n = udptl_write(u, ifp2, sizeof(ifp2), out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, 2 + 4 + 2 + 3 + 2);
	n = udptl_write(u, ifp3, sizeof(ifp3), out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, sizeof(want3));
	CHECK(memcmp(out, want3, sizeof(want3)) == 0);
	CHECK_INT(udptl_parse(want3, sizeof(want3), &p, err, sizeof(err)), 0);
	CHECK_INT(p.seq, 3);
	CHECK_INT(p.ec, UDPTL_EC_REDUNDANCY);
	CHECK_INT(p.ifp_len, 2);
	CHECK(p.ifp == want3 + 3);
	CHECK_INT(p.nentries, 3);
	CHECK_INT(p.entry_len[0], 3);
	CHECK_INT(p.entry[0][0], 0xc0);
	CHECK_INT(p.entry_len[2], 1);
	CHECK_INT(p.entry[2][0], 0x06);

	/* an IFP of 200 bytes: the two-byte length 0x80 | 0, 200 */
	memset(big, 0x5a, sizeof(big));
	n = udptl_write(u, big, sizeof(big), out, sizeof(out), err, sizeof(err));
	CHECK_INT(out[0], 0x00);
	CHECK_INT(out[1], 0x04);
	CHECK_INT(out[2], 0x80);
	CHECK_INT(out[3], 200);
	CHECK_INT(udptl_parse(out, (size_t)n, &p, err, sizeof(err)), 0);
	CHECK_INT(p.ifp_len, 200);
	CHECK_INT(p.nentries, 3);
	CHECK_INT(p.entry_len[0], 2);           /* IFP 3 */
	udptl_free(u);
}

static void
test_fec_bytes(void)
{
	static const struct udptl_config fec = { .ec = UDPTL_EC_FEC, .fec_span = 2,
	    .fec_entries = 1 };
	static const uint8_t a[] = { 0x11 }, b[] = { 0x22 }, c[] = { 0x44, 0x01 }, d[] = { 0x55 };
	/* seq 0 and 1: wound up, span 0 then span 2 with no entry yet (two packets to cover) */
	static const uint8_t want0[] = { 0x00, 0x00, 0x01, 0x11, 0x80, 0x01, 0x02, 0x00 };
	/* seq 2: fec-npackets 2 (length 1, value 2), one entry: IFP 0 ^ IFP 1 */
	static const uint8_t want2[] = { 0x00, 0x02, 0x02, 0x44, 0x01, 0x80, 0x01, 0x02, 0x01,
	    0x01, 0x33 };
	/* seq 3: IFP 1 ^ IFP 2, as long as the longer */
	static const uint8_t want3[] = { 0x00, 0x03, 0x01, 0x55, 0x80, 0x01, 0x02, 0x01,
	    0x02, 0x66, 0x01 };
	struct udptl *u = udptl_new(&fec, NULL, 0);
	struct udptl_packet p;
	uint8_t out[UDPTL_DATAGRAM_MAX];
	char err[160] = "";
	int n;

	CHECK(u != NULL);
	n = udptl_write(u, a, 1, out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, sizeof(want0));
	CHECK(memcmp(out, want0, sizeof(want0)) == 0);
	CHECK_INT(udptl_write(u, b, 1, out, sizeof(out), err, sizeof(err)), 8);
	n = udptl_write(u, c, 2, out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, sizeof(want2));
	CHECK(memcmp(out, want2, sizeof(want2)) == 0);
	n = udptl_write(u, d, 1, out, sizeof(out), err, sizeof(err));
	CHECK_INT(n, sizeof(want3));
	CHECK(memcmp(out, want3, sizeof(want3)) == 0);
	CHECK_INT(udptl_parse(want3, sizeof(want3), &p, err, sizeof(err)), 0);
	CHECK_INT(p.ec, UDPTL_EC_FEC);
	CHECK_INT(p.fec_span, 2);
	CHECK_INT(p.nentries, 1);
	CHECK_INT(p.entry_len[0], 2);
	udptl_free(u);

	/* The FEC packets read: IFP 1 lost, rebuilt from seq 2's parity; IFP 2 lost, rebuilt
	 * from seq 3's, longer than the one of 1 byte it covers */
	{
		static const uint8_t s1[] = { 0x00, 0x01, 0x01, 0x22, 0x80, 0x01, 0x02, 0x00 };
		struct udptl *rx = udptl_new(&fec, NULL, 0);
		uint8_t ifp[UDPTL_IFP_MAX];
		struct udptl_stats st;
		uint16_t seq;

		CHECK_INT(udptl_read(rx, want0, sizeof(want0), err, sizeof(err)), 0);
		CHECK_INT(udptl_next(rx, ifp, sizeof(ifp), &seq), 1);
		CHECK_INT(udptl_read(rx, want2, sizeof(want2), err, sizeof(err)), 0);
		CHECK_INT(udptl_next(rx, ifp, sizeof(ifp), &seq), 1);
		CHECK_INT(seq, 1);
		CHECK_INT(ifp[0], 0x22);
		CHECK_INT(udptl_next(rx, ifp, sizeof(ifp), &seq), 2);
		CHECK_INT(seq, 2);
		/* seq 1 again, late: counted, not handed on twice */
		CHECK_INT(udptl_read(rx, s1, sizeof(s1), err, sizeof(err)), 0);
		CHECK_INT(udptl_next(rx, ifp, sizeof(ifp), &seq), 0);
		udptl_stats(rx, &st);
		CHECK_INT(st.recovered_fec, 1);
		CHECK_INT(st.duplicates, 1);
		CHECK_INT(st.delivered, 3);
		udptl_free(rx);
	}
}

static void
test_refused(void)
{
	static const uint8_t good[] = { 0x00, 0x03, 0x02, 0x40, 0x02, 0x00, 0x03,
	    0x03, 0xc0, 0x01, 0x80, 0x02, 0x08, 0x09, 0x01, 0x06 };
	static const struct {
		const char *name, *reason;
		uint8_t d[24];
		size_t n;
	} bad[] = {
		{ "empty", "shorter than a sequence number", { 0 }, 0 },
		{ "seq only", "cut short before the length of the primary", { 0, 1 }, 2 },
		{ "empty primary", "primary IFP is empty", { 0, 1, 0, 0, 0 }, 5 },
		{ "primary beyond", "runs beyond the datagram", { 0, 1, 5, 1, 2 }, 5 },
		{ "two-byte length cut", "cut short in the length", { 0, 1, 0x80 }, 3 },
		{ "fragmented", "fragmented", { 0, 1, 0xc1, 0, 0 }, 5 },
		{ "primary over cap", "more than 1400", { 0, 1, 0x85, 0xdc, 1 }, 5 },
		{ "no recovery", "cut short before the error recovery", { 0, 1, 1, 6 }, 4 },
		{ "bad choice", "choice byte is 0x40", { 0, 1, 1, 6, 0x40, 0 }, 6 },
		{ "no count", "cut short before the length of the secondary", { 0, 1, 1, 6, 0 }, 5 },
		{ "17 secondaries", "17 secondary IFPs, more than 16", { 0, 1, 1, 6, 0, 17 }, 6 },
		{ "trailing", "1 bytes after the error recovery", { 0, 1, 1, 6, 0, 0, 9 }, 7 },
		{ "secondary beyond", "secondary IFP 1 of 3 bytes runs beyond",
		    { 0, 1, 1, 6, 0, 1, 3, 1 }, 8 },
		{ "negative span", "fec-npackets is negative", { 0, 1, 1, 6, 0x80, 1, 0x80, 0 }, 8 },
		{ "span of 3 bytes", "fec-npackets of 3 bytes", { 0, 1, 1, 6, 0x80, 3, 0, 0, 1, 0 },
		    10 },
		{ "17 FEC entries", "17 FEC entries", { 0, 1, 1, 6, 0x80, 1, 2, 17 }, 8 },
	};
	static uint8_t huge[UDPTL_DATAGRAM_MAX + 1];
	struct udptl_config none = { .ec = UDPTL_EC_NONE };
	struct udptl *u = udptl_new(&none, NULL, 0);
	struct udptl_packet p;
	struct udptl_stats st;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (udptl_parse(bad[i].d, bad[i].n, &p, err, sizeof(err)) != -1 ||
		    strstr(err, bad[i].reason) == NULL) {
			check_failures++;
			fprintf(stderr, "%s: refused \"%s\", expected \"%s\"\n", bad[i].name, err,
			    bad[i].reason);
		}
		check_count++;
		CHECK_INT(udptl_read(u, bad[i].d, bad[i].n, err, sizeof(err)), -1);
	}
	/* every cut of a good packet is refused, and says why */
	for (size_t n = 0; n < sizeof(good); n++) {
		err[0] = '\0';
		CHECK_INT(udptl_parse(good, n, &p, err, sizeof(err)), -1);
		CHECK(err[0] != '\0');
	}
	CHECK_INT(udptl_parse(good, sizeof(good), &p, err, sizeof(err)), 0);
	CHECK_INT(udptl_parse(huge, sizeof(huge), &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "more than 1472");
	udptl_stats(u, &st);
	CHECK_INT(st.malformed, sizeof(bad) / sizeof(bad[0]));
	CHECK_INT(st.received, 0);
	udptl_free(u);
}

static void
test_config_and_write_caps(void)
{
	struct udptl_config c = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 17 };
	struct udptl *u;
	struct udptl_packet p;
	struct udptl_stats st;
	uint8_t ifp[UDPTL_IFP_MAX + 1], out[UDPTL_DATAGRAM_MAX];
	char err[160];
	int n;

	err[0] = '\0';
	CHECK(udptl_new(&c, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "redundancy of 17");
	c = (struct udptl_config){ .ec = UDPTL_EC_FEC, .fec_span = 5, .fec_entries = 7 };
	CHECK(udptl_new(&c, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "covering 32 packets at most");
	c = (struct udptl_config){ .ec = 9 };
	CHECK(udptl_new(&c, err, sizeof(err)) == NULL);
	c = (struct udptl_config){ .ec = UDPTL_EC_NONE, .max_datagram = 4 };
	CHECK(udptl_new(&c, err, sizeof(err)) == NULL);
	c = (struct udptl_config){ .ec = UDPTL_EC_NONE, .hold = 33 };
	CHECK(udptl_new(&c, err, sizeof(err)) == NULL);

	/* a far end that takes 72 bytes: redundancy 3 of IFPs of 30 bytes is trimmed to one */
	c = (struct udptl_config){ .ec = UDPTL_EC_REDUNDANCY, .redundancy = 3, .max_datagram = 72 };
	u = udptl_new(&c, err, sizeof(err));
	CHECK(u != NULL);
	memset(ifp, 0x21, sizeof(ifp));
	for (int i = 0; i < 5; i++) {
		n = udptl_write(u, ifp, 30, out, sizeof(out), err, sizeof(err));
		CHECK(n > 0 && n <= 72);
		CHECK_INT(udptl_parse(out, (size_t)n, &p, err, sizeof(err)), 0);
		CHECK_INT(p.nentries, i == 0 ? 0 : 1);
	}
	/* an IFP that does not fit at all, an empty one, one beyond the cap, a small buffer */
	CHECK_INT(udptl_write(u, ifp, 70, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "does not fit in a datagram of 72");
	CHECK_INT(udptl_write(u, ifp, 0, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "1 to 1400");
	CHECK_INT(udptl_write(u, ifp, sizeof(ifp), out, sizeof(out), err, sizeof(err)), -1);
	CHECK_INT(udptl_write(u, ifp, 10, out, 8, err, sizeof(err)), -1);
	udptl_stats(u, &st);
	CHECK_INT(st.sent, 5);
	CHECK_INT(st.trimmed, 3);                /* the second had room for its one */
	udptl_free(u);
}

static void
test_redundancy_losses(void)
{
	static const struct udptl_config red3 = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 3 };
	static const struct udptl_config none = { .ec = UDPTL_EC_NONE };
	static int order[2100];
	struct run r;

	/* clean */
	order_without(order, 200, (const int[]){ -1 });
	run_stream(&red3, &red3, 200, order, 0, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.lost + r.rx.recovered_redundancy, 0);
	CHECK_INT(r.tx.sent, 200);

	/* one lost */
	order_without(order, 200, (const int[]){ 10, -1 });
	run_stream(&red3, &red3, 200, order, 0, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_redundancy, 1);
	CHECK_INT(r.rx.lost, 0);

	/* a burst of 3, and the first two packets of the stream */
	order_without(order, 200, (const int[]){ 0, 1, 50, 51, 52, -1 });
	run_stream(&red3, &red3, 200, order, 0, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_redundancy, 5);
	CHECK_INT(r.rx.lost, 0);

	/* a burst of 4 is one more than redundancy 3 restores: the oldest is lost */
	order_without(order, 200, (const int[]){ 50, 51, 52, 53, -1 });
	run_stream(&red3, &red3, 200, order, 0, &r);
	CHECK_INT(r.delivered, 199);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_redundancy, 3);
	CHECK_INT(r.rx.lost, 1);

	/* without error recovery every loss is one */
	order_without(order, 200, (const int[]){ 10, 100, 101, -1 });
	run_stream(&none, &none, 200, order, 0, &r);
	CHECK_INT(r.delivered, 197);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.lost, 3);

	/* the last ones lost: given up only by the flush at the end */
	order_without(order, 20, (const int[]){ 18, 19, -1 });
	run_stream(&none, &none, 20, order, 0, &r);
	CHECK_INT(r.delivered, 18);
	CHECK_INT(r.rx.lost, 0);
}

static void
test_reorder_duplicates(void)
{
	static const struct udptl_config none = { .ec = UDPTL_EC_NONE };
	static const struct udptl_config red2 = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 2 };
	/* 4 after 5, 9 after 11 (within the hold of 3), 7 twice, 2 again long after */
	static const int ord[] = { 0, 1, 2, 3, 5, 4, 6, 7, 7, 8, 10, 11, 9, 12, 13, 14, 15, 2, -1 };
	/* 5 comes 4 packets late: given up before, then late */
	static const int late[] = { 0, 1, 2, 3, 4, 6, 7, 8, 9, 5, 10, 11, -1 };
	struct run r;

	run_stream(&none, &none, 16, ord, 0, &r);
	CHECK_INT(r.delivered, 16);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.reordered, 2);
	CHECK_INT(r.rx.duplicates, 2);
	CHECK_INT(r.rx.lost, 0);

	run_stream(&none, &none, 12, late, 0, &r);
	CHECK_INT(r.delivered, 11);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.lost, 1);
	CHECK_INT(r.rx.late, 1);

	/* with redundancy a reordered packet is often already restored: a duplicate */
	run_stream(&red2, &red2, 16, ord, 0, &r);
	CHECK_INT(r.delivered, 16);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.lost, 0);
	CHECK(r.rx.recovered_redundancy >= 2);
}

static void
test_fec_losses(void)
{
	/* span 3, 2 entries: each packet's parity covers the 6 before it, interleaved */
	static const struct udptl_config fec = { .ec = UDPTL_EC_FEC, .fec_span = 3,
	    .fec_entries = 2 };
	static int order[300];
	struct run r;

	order_without(order, 200, (const int[]){ 40, -1 });
	run_stream(&fec, &fec, 200, order, 1, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_fec, 1);
	CHECK_INT(r.rx.lost, 0);

	/* a burst of 2 (one per interleaved entry) and, later, two apart */
	order_without(order, 200, (const int[]){ 60, 61, 100, 102, -1 });
	run_stream(&fec, &fec, 200, order, 1, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_fec, 4);
	CHECK_INT(r.rx.lost, 0);

	/* IFPs of different lengths: rebuilt ones start with their own bytes */
	order_without(order, 200, (const int[]){ 30, 90, 91, -1 });
	run_stream(&fec, &fec, 200, order, 0, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_fec, 3);

	/* every other packet lost over a stretch: each parity then misses one of its span
	 * after another, and repairs chain */
	order_without(order, 200, (const int[]){ 100, 102, 104, 106, 108, 110, -1 });
	run_stream(&fec, &fec, 200, order, 1, &r);
	CHECK_INT(r.delivered, 200);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.rx.recovered_fec, 6);

	/* a burst of 7 takes every packet whose parity covers the first: more than FEC
	 * restores, counted lost, the rest in order */
	order_without(order, 200, (const int[]){ 100, 101, 102, 103, 104, 105, 106, -1 });
	run_stream(&fec, &fec, 200, order, 1, &r);
	CHECK_INT(r.order_bad + r.content_bad, 0);
	CHECK_INT(r.delivered + r.rx.lost, 200);
	CHECK(r.rx.lost > 0);
}

static void
test_wrap(void)
{
	static const struct udptl_config red2 = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 2 };
	struct udptl *tx = udptl_new(&red2, NULL, 0), *rx = udptl_new(&red2, NULL, 0);
	uint8_t ifp[UDPTL_IFP_MAX], out[UDPTL_DATAGRAM_MAX], got[UDPTL_IFP_MAX];
	struct udptl_stats st;
	unsigned delivered = 0, bad = 0;
	uint16_t seq, expect = 0;
	char err[160];
	int n, m;

	CHECK(tx != NULL && rx != NULL);
	for (unsigned i = 0; i < 65536 + 100; i++) {
		size_t len = ifp_of(i & 0xffff, 0, ifp);

		n = udptl_write(tx, ifp, len, out, sizeof(out), err, sizeof(err));
		if (n <= 0) {
			bad++;
			break;
		}
		/* lost: the last before the wrap and the first after it */
		if (i == 65535 || i == 65536)
			continue;
		if (udptl_read(rx, out, (size_t)n, err, sizeof(err)) != 0)
			bad++;
		while ((m = udptl_next(rx, got, sizeof(got), &seq)) > 0) {
			size_t want = ifp_of(seq, 0, ifp);

			if (seq != expect || (size_t)m != want || memcmp(got, ifp, want) != 0)
				bad++;
			expect++;
			delivered++;
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(delivered, 65536 + 100);
	udptl_stats(rx, &st);
	CHECK_INT(st.recovered_redundancy, 2);
	CHECK_INT(st.lost, 0);
	CHECK_INT(st.jumps, 0);
	udptl_free(tx);
	udptl_free(rx);
}

static void
test_jump(void)
{
	static const struct udptl_config none = { .ec = UDPTL_EC_NONE };
	struct udptl *rx = udptl_new(&none, NULL, 0);
	uint8_t p[] = { 0x00, 0x05, 0x01, 0x06, 0x00, 0x00 }, got[UDPTL_IFP_MAX];
	struct udptl_stats st;
	uint16_t seq;
	char err[160];

	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	CHECK_INT(udptl_next(rx, got, sizeof(got), &seq), 1);
	CHECK_INT(seq, 5);
	/* one packet far away is a stray: it moves nothing */
	p[0] = 0x80;
	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	CHECK_INT(udptl_next(rx, got, sizeof(got), &seq), 0);
	p[0] = 0x00;
	p[1] = 0x06;
	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	CHECK_INT(udptl_next(rx, got, sizeof(got), &seq), 1);
	CHECK_INT(seq, 6);
	/* the far end starts again far away: the second packet there confirms it */
	p[0] = 0x80;
	p[1] = 0x05;
	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	p[1] = 0x06;
	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	CHECK_INT(udptl_next(rx, got, sizeof(got), &seq), 1);
	CHECK_INT(seq, 0x8006);
	CHECK_INT(udptl_next(rx, got, 0, &seq), 0);
	/* an old packet sent again, long after: dropped */
	p[0] = 0x00;
	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	CHECK_INT(udptl_next(rx, got, sizeof(got), &seq), 0);
	/* a buffer too small for the next IFP */
	p[0] = 0x80;
	p[1] = 0x07;
	CHECK_INT(udptl_read(rx, p, sizeof(p), err, sizeof(err)), 0);
	CHECK_INT(udptl_next(rx, got, 0, &seq), -1);
	udptl_stats(rx, &st);
	CHECK_INT(st.jumps, 1);
	CHECK_INT(st.strays, 3);
	udptl_free(rx);
}

int
main(void)
{
	test_bytes();
	test_fec_bytes();
	test_refused();
	test_config_and_write_caps();
	test_redundancy_losses();
	test_reorder_duplicates();
	test_fec_losses();
	test_wrap();
	test_jump();
	if (check_failures) {
		fprintf(stderr, "test_udptl: %d of %d checks failed\n", check_failures,
		    check_count);
		return 1;
	}
	printf("test_udptl: %d checks passed\n", check_count);
	return 0;
}

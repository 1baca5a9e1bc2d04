/* fuzz_udptl.c: libFuzzer harness for UDPTL (server/fax/udptl.c). The first byte picks the
 * error recovery and a loss pattern; the rest is read three ways. As one datagram
 * (udptl_parse): a packet accepted has its IFPs inside the datagram, in order, none empty
 * where it must not be, within the caps; a refusal says why. As a stream of datagrams (a
 * length byte, then that many bytes) read by udptl_read: every datagram lands in one count,
 * IFPs come out within the cap, in rising order between jumps, each number once. As IFPs
 * that we write and read back with some lost: what comes out is what went in (a prefix of
 * an FEC repair), in order, each once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "udptl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECORDS_MAX 512

static void
check_err(const char *err, size_t cap)
{
	const char *end = memchr(err, '\0', cap);

	if (end == NULL || end == err)
		abort();
}

static void
check_packet(const uint8_t *d, size_t n, const struct udptl_packet *p)
{
	const uint8_t *at;

	if (n < 6 || n > UDPTL_DATAGRAM_MAX || p->seq != (d[0] << 8 | d[1]))
		abort();
	if (p->ifp_len == 0 || p->ifp_len > UDPTL_IFP_MAX || p->ifp < d + 3 ||
	    p->ifp + p->ifp_len > d + n)
		abort();
	if (p->nentries < 0 || p->nentries > UDPTL_ENTRIES_MAX ||
	    (p->ec != UDPTL_EC_REDUNDANCY && p->ec != UDPTL_EC_FEC) || p->fec_span < 0)
		abort();
	at = p->ifp + p->ifp_len;
	for (int i = 0; i < p->nentries; i++) {
		if (p->entry[i] < at || p->entry_len[i] > UDPTL_IFP_MAX ||
		    p->entry[i] + p->entry_len[i] > d + n)
			abort();
		at = p->entry[i] + p->entry_len[i];
	}
	if (p->nentries > 0 ? at != d + n : at + 2 > d + n)
		abort();                /* nothing after the last entry, or the choice and count */
}

/* Drains rx; the numbers handed on rise (modulo 65536) unless a jump came between. */
static void
drain(struct udptl *rx, int *have_last, uint16_t *last, uint64_t *jumps, uint64_t *taken)
{
	uint8_t out[UDPTL_IFP_MAX];
	struct udptl_stats st;
	uint16_t seq;
	int n;

	udptl_stats(rx, &st);
	if (st.jumps != *jumps)
		*have_last = 0;
	*jumps = st.jumps;
	while ((n = udptl_next(rx, out, sizeof(out), &seq)) > 0) {
		if (n > UDPTL_IFP_MAX)
			abort();
		if (*have_last && (int16_t)(uint16_t)(seq - *last) <= 0)
			abort();
		*have_last = 1;
		*last = seq;
		(*taken)++;
	}
	if (n != 0)
		abort();
}

static void
stream(const uint8_t *d, size_t n, const struct udptl_config *c)
{
	struct udptl *rx = udptl_new(c, NULL, 0);
	struct udptl_stats st;
	uint64_t reads = 0, jumps = 0, taken = 0;
	uint16_t last = 0;
	int have_last = 0;
	char err[160];

	if (rx == NULL)
		abort();
	for (size_t i = 0; i < n && reads < RECORDS_MAX; ) {
		size_t len = d[i++];

		if (len > n - i)
			len = n - i;
		memset(err, 'x', sizeof(err));
		if (udptl_read(rx, d + i, len, err, sizeof(err)) != 0)
			check_err(err, sizeof(err));
		reads++;
		i += len;
		drain(rx, &have_last, &last, &jumps, &taken);
		if (reads % 64 == 0) {
			udptl_flush(rx);
			drain(rx, &have_last, &last, &jumps, &taken);
		}
	}
	udptl_flush(rx);
	drain(rx, &have_last, &last, &jumps, &taken);
	udptl_stats(rx, &st);
	if (st.received + st.malformed != reads || st.delivered != taken)
		abort();
	udptl_free(rx);
}

struct trip {
	uint8_t sent[RECORDS_MAX][UDPTL_IFP_MAX];
	size_t  sent_len[RECORDS_MAX];
	uint8_t seen[RECORDS_MAX];
	unsigned count;
	long    last;
	int     fec;
};

/* What rx hands on is what was written, in order, each once. */
static void
trip_drain(struct udptl *rx, struct trip *t)
{
	uint8_t out[UDPTL_IFP_MAX];
	uint16_t seq;
	int got;

	while ((got = udptl_next(rx, out, sizeof(out), &seq)) > 0) {
		if (seq >= t->count || t->seen[seq] || (long)seq <= t->last ||
		    (size_t)got < t->sent_len[seq] || memcmp(out, t->sent[seq], t->sent_len[seq]) != 0)
			abort();
		if (!t->fec && (size_t)got != t->sent_len[seq])
			abort();        /* only a rebuilt one may be longer */
		t->seen[seq] = 1;
		t->last = seq;
	}
	if (got != 0)
		abort();
}

/* The input cut into IFPs (a length byte, then the bytes), written with c, read back with
 * the packets the loss pattern picks lost. */
static void
round_trip(const uint8_t *d, size_t n, const struct udptl_config *c, uint8_t loss)
{
	static struct trip t;
	struct udptl *tx = udptl_new(c, NULL, 0), *rx = udptl_new(c, NULL, 0);
	uint8_t dg[UDPTL_DATAGRAM_MAX];
	char err[160];
	int len;

	if (tx == NULL || rx == NULL)
		abort();
	memset(t.seen, 0, sizeof(t.seen));
	t.count = 0;
	t.last = -1;
	t.fec = c->ec == UDPTL_EC_FEC;
	for (size_t i = 0; i < n && t.count < RECORDS_MAX; ) {
		size_t l = 1 + d[i++] % 200, k = t.count, have = l <= n - i ? l : n - i;

		memset(t.sent[k], 0, l);
		memcpy(t.sent[k], d + i, have);
		t.sent_len[k] = l;
		i += have;
		len = udptl_write(tx, t.sent[k], l, dg, sizeof(dg), err, sizeof(err));
		if (len <= 0)
			abort();        /* up to 200 bytes always fit, if with less recovery */
		t.count++;
		if ((loss >> (k % 8) & 1) && k % 3 != 0)
			continue;       /* lost */
		if (udptl_read(rx, dg, (size_t)len, err, sizeof(err)) != 0)
			abort();        /* what we write we read */
		trip_drain(rx, &t);
	}
	udptl_flush(rx);
	trip_drain(rx, &t);
	udptl_free(tx);
	udptl_free(rx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udptl_config c;
	struct udptl_packet p;
	char err[160];
	uint8_t sel = size > 0 ? data[0] : 0;

	if (size > 0) {
		data++;
		size--;
	}
	memset(&c, 0, sizeof(c));
	c.ec = sel % 3;
	c.redundancy = 1 + (sel >> 2) % 4;
	c.fec_span = 1 + (sel >> 2) % 4;
	c.fec_entries = 1 + (sel >> 4) % 4;
	c.hold = (sel >> 6) * 4;

	memset(err, 'x', sizeof(err));
	if (udptl_parse(data, size, &p, err, sizeof(err)) == 0)
		check_packet(data, size, &p);
	else
		check_err(err, sizeof(err));
	stream(data, size, &c);
	round_trip(data, size, &c, (uint8_t)(sel * 37));
	return 0;
}

/* udptl.c: UDPTL packets (T.38 Annex, ASN.1 aligned PER) written with redundancy or FEC, and
 * read back into IFPs in sequence with what the error recovery restores. Every length on the
 * wire is a claim about the datagram, checked against its end and a cap before use. */
#include "udptl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEC_KEEP 8                     /* FEC packets kept for repairs that need later ones */

enum { SLOT_EMPTY, SLOT_HELD, SLOT_DELIVERED, SLOT_LOST };

struct slot {
	uint16_t seq;
	uint8_t  state;                /* for seq; SLOT_EMPTY: nothing about it */
	uint16_t len;
	uint8_t *buf;                  /* UDPTL_IFP_MAX bytes of the arrays below: apart, so
	                                * that clearing the slots touches none of them */
};

struct fec_kept {
	size_t              n;         /* 0: free */
	uint8_t             d[UDPTL_DATAGRAM_MAX];
	struct udptl_packet p;         /* its pointers are into d */
};

struct udptl {
	struct udptl_config cfg;
	/* sending */
	uint16_t            tx_seq;
	uint64_t            tx_count;
	struct slot         tx[UDPTL_WINDOW];
	/* receiving */
	int                 started;
	uint16_t            next;      /* the next sequence number to hand on */
	uint16_t            newest;    /* the highest received (primaries and repairs) */
	int                 flush;     /* give up gaps up to newest */
	int                 fec_hold;  /* what the far end's FEC needs held */
	int                 stray;     /* a packet far from the stream came last: stray_seq */
	uint16_t            stray_seq;
	struct slot         rx[UDPTL_WINDOW];
	struct fec_kept     fec[FEC_KEEP];
	int                 fec_at;
	struct udptl_stats  st;
	uint8_t             tx_buf[UDPTL_WINDOW][UDPTL_IFP_MAX];
	uint8_t             rx_buf[UDPTL_WINDOW][UDPTL_IFP_MAX];
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
udptl_ec_name(int ec)
{
	return ec == UDPTL_EC_REDUNDANCY ? "t38UDPRedundancy" : ec == UDPTL_EC_FEC ? "t38UDPFEC" :
	    "none";
}

/* An unconstrained length determinant (X.691 10.9): one byte below 128, two with the top
 * bit set below 16384; the fragmented form (11xxxxxx) is refused: nothing here is that
 * long. *off moves past it. */
static int
get_length(const uint8_t *d, size_t n, size_t *off, size_t *len, const char *what, char *err,
           size_t errlen)
{
	if (*off >= n) {
		fail(err, errlen, "cut short before the length of %s", what);
		return -1;
	}
	if ((d[*off] & 0x80) == 0) {
		*len = d[(*off)++];
		return 0;
	}
	if ((d[*off] & 0xc0) == 0x80) {
		if (*off + 2 > n) {
			fail(err, errlen, "cut short in the length of %s", what);
			return -1;
		}
		*len = ((size_t)(d[*off] & 0x3f) << 8) | d[*off + 1];
		*off += 2;
		return 0;
	}
	fail(err, errlen, "the length of %s is fragmented (16384 or more): not supported", what);
	return -1;
}

/* A length and that many bytes, both within the datagram and the cap. */
static int
get_octets(const uint8_t *d, size_t n, size_t *off, const uint8_t **p, size_t *len, size_t max,
           const char *what, char *err, size_t errlen)
{
	if (get_length(d, n, off, len, what, err, errlen) != 0)
		return -1;
	if (*len > max) {
		fail(err, errlen, "%s of %zu bytes, more than %zu", what, *len, max);
		return -1;
	}
	if (*len > n - *off) {
		fail(err, errlen, "%s of %zu bytes runs beyond the datagram", what, *len);
		return -1;
	}
	*p = d + *off;
	*off += *len;
	return 0;
}

int
udptl_parse(const uint8_t *d, size_t n, struct udptl_packet *p, char *err, size_t errlen)
{
	size_t off = 2, count, len;
	char what[40];

	memset(p, 0, sizeof(*p));
	if (n > UDPTL_DATAGRAM_MAX) {
		fail(err, errlen, "datagram of %zu bytes, more than %d", n, UDPTL_DATAGRAM_MAX);
		return -1;
	}
	if (n < 2) {
		fail(err, errlen, "datagram of %zu bytes, shorter than a sequence number", n);
		return -1;
	}
	p->seq = (uint16_t)(d[0] << 8 | d[1]);
	if (get_octets(d, n, &off, &p->ifp, &p->ifp_len, UDPTL_IFP_MAX, "the primary IFP", err,
	    errlen) != 0)
		return -1;
	if (p->ifp_len == 0) {
		fail(err, errlen, "the primary IFP is empty");
		return -1;
	}
	/* The CHOICE of error recovery: one bit, padded to the octet. */
	if (off >= n) {
		fail(err, errlen, "cut short before the error recovery");
		return -1;
	}
	if ((d[off] & 0x7f) != 0) {
		fail(err, errlen, "the error recovery choice byte is 0x%02x, not 0x00 or 0x80",
		    d[off]);
		return -1;
	}
	p->ec = (d[off++] & 0x80) ? UDPTL_EC_FEC : UDPTL_EC_REDUNDANCY;
	if (p->ec == UDPTL_EC_FEC) {
		/* fec-npackets, an unconstrained INTEGER: a length, then two's complement */
		if (get_length(d, n, &off, &len, "fec-npackets", err, errlen) != 0)
			return -1;
		if (len < 1 || len > 2 || len > n - off) {
			fail(err, errlen, "fec-npackets of %zu bytes: 1 or 2 within the datagram are "
			    "taken", len);
			return -1;
		}
		if (d[off] & 0x80) {
			fail(err, errlen, "fec-npackets is negative");
			return -1;
		}
		p->fec_span = len == 1 ? d[off] : (d[off] << 8 | d[off + 1]);
		off += len;
	}
	if (get_length(d, n, &off, &count, p->ec == UDPTL_EC_FEC ? "the FEC entries" :
	    "the secondary IFPs", err, errlen) != 0)
		return -1;
	if (count > UDPTL_ENTRIES_MAX) {
		fail(err, errlen, "%zu %s, more than %d", count, p->ec == UDPTL_EC_FEC ?
		    "FEC entries" : "secondary IFPs", UDPTL_ENTRIES_MAX);
		return -1;
	}
	p->nentries = (int)count;
	for (size_t i = 0; i < count; i++) {
		snprintf(what, sizeof(what), "%s %zu", p->ec == UDPTL_EC_FEC ? "FEC entry" :
		    "secondary IFP", i + 1);
		if (get_octets(d, n, &off, &p->entry[i], &p->entry_len[i], UDPTL_IFP_MAX, what,
		    err, errlen) != 0)
			return -1;
	}
	if (off != n) {
		fail(err, errlen, "%zu bytes after the error recovery", n - off);
		return -1;
	}
	return 0;
}

struct udptl *
udptl_new(const struct udptl_config *c, char *err, size_t errlen)
{
	struct udptl *u;

	if (c->ec != UDPTL_EC_NONE && c->ec != UDPTL_EC_REDUNDANCY && c->ec != UDPTL_EC_FEC) {
		fail(err, errlen, "error recovery %d is neither none, redundancy nor FEC", c->ec);
		return NULL;
	}
	if (c->ec == UDPTL_EC_REDUNDANCY && (c->redundancy < 0 ||
	    c->redundancy > UDPTL_ENTRIES_MAX)) {
		fail(err, errlen, "redundancy of %d IFPs: 0 to %d are taken", c->redundancy,
		    UDPTL_ENTRIES_MAX);
		return NULL;
	}
	if (c->ec == UDPTL_EC_FEC && (c->fec_span < 1 || c->fec_entries < 1 ||
	    c->fec_entries > UDPTL_ENTRIES_MAX ||
	    c->fec_span * c->fec_entries > UDPTL_FEC_COVER_MAX)) {
		fail(err, errlen, "FEC of span %d and %d entries: a span of 1 or more and 1 to %d "
		    "entries, covering %d packets at most, are taken", c->fec_span, c->fec_entries,
		    UDPTL_ENTRIES_MAX, UDPTL_FEC_COVER_MAX);
		return NULL;
	}
	if (c->max_datagram != 0 && (c->max_datagram < 8 ||
	    c->max_datagram > UDPTL_DATAGRAM_MAX)) {
		fail(err, errlen, "a largest datagram of %zu bytes: 8 to %d are taken",
		    c->max_datagram, UDPTL_DATAGRAM_MAX);
		return NULL;
	}
	if (c->hold < 0 || c->hold > UDPTL_WINDOW / 2) {
		fail(err, errlen, "a hold of %d packets: 0 to %d are taken", c->hold,
		    UDPTL_WINDOW / 2);
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	u->cfg = *c;
	for (int i = 0; i < UDPTL_WINDOW; i++) {
		u->tx[i].buf = u->tx_buf[i];
		u->rx[i].buf = u->rx_buf[i];
	}
	if (u->cfg.max_datagram == 0)
		u->cfg.max_datagram = UDPTL_DATAGRAM_MAX;
	if (u->cfg.hold == 0)
		u->cfg.hold = UDPTL_HOLD_DEFAULT;
	return u;
}

void
udptl_free(struct udptl *u)
{
	free(u);
}

/* The bytes a length determinant of len takes. */
static size_t
length_size(size_t len)
{
	return len < 128 ? 1 : 2;
}

static size_t
put_octets(uint8_t *out, size_t off, const uint8_t *p, size_t len)
{
	if (len < 128)
		out[off++] = (uint8_t)len;
	else {
		out[off++] = (uint8_t)(0x80 | len >> 8);
		out[off++] = (uint8_t)len;
	}
	memcpy(out + off, p, len);
	return off + len;
}

/* FEC entry m of the packet numbered seq: the XOR of span earlier IFPs, every entries-th
 * one (seq + m - span * entries + k * entries, k below span), so that the entries of one
 * packet together cover the span * entries IFPs before it, interleaved: a burst of up to
 * entries lost packets costs each entry one. Each IFP is zero-extended to the longest; the
 * entry's length is that longest. */
static size_t
fec_entry(const struct udptl *u, uint16_t seq, int span, int entries, int m,
          uint8_t fec[UDPTL_IFP_MAX])
{
	size_t high = 0;

	for (int k = 0; k < span; k++) {
		uint16_t s = (uint16_t)(seq + m - span * entries + k * entries);
		const struct slot *t = &u->tx[s % UDPTL_WINDOW];

		for (size_t j = 0; j < t->len; j++)
			fec[j] = j < high ? fec[j] ^ t->buf[j] : t->buf[j];
		if (t->len > high)
			high = t->len;
	}
	return high;
}

int
udptl_write(struct udptl *u, const uint8_t *ifp, size_t len, uint8_t *out, size_t cap,
            char *err, size_t errlen)
{
	size_t max = u->cfg.max_datagram < cap ? u->cfg.max_datagram : cap, off, need;
	uint16_t seq = u->tx_seq;
	uint8_t fec[UDPTL_ENTRIES_MAX][UDPTL_IFP_MAX];
	size_t fec_len[UDPTL_ENTRIES_MAX];
	int n = 0, span = 0;

	if (len == 0 || len > UDPTL_IFP_MAX) {
		fail(err, errlen, "an IFP of %zu bytes: 1 to %d are carried", len, UDPTL_IFP_MAX);
		return -1;
	}
	/* sequence number, primary, the choice, an empty list: the least a packet is */
	need = 2 + length_size(len) + len + 2;
	if (need > max) {
		fail(err, errlen, "an IFP of %zu bytes does not fit in a datagram of %zu", len, max);
		return -1;
	}
	if (u->cfg.ec == UDPTL_EC_REDUNDANCY) {
		/* the previous IFPs, the most recent first, as many as were sent and fit */
		n = u->cfg.redundancy;
		if ((uint64_t)n > u->tx_count)
			n = (int)u->tx_count;
		for (int i = 0; i < n; i++) {
			const struct slot *t = &u->tx[(uint16_t)(seq - 1 - i) % UDPTL_WINDOW];

			if (need + length_size(t->len) + t->len > max) {
				n = i;
				u->st.trimmed++;
				break;
			}
			need += length_size(t->len) + t->len;
		}
	} else if (u->cfg.ec == UDPTL_EC_FEC) {
		/* wound up over the first packets, when fewer are there to cover */
		span = u->cfg.fec_span;
		n = u->cfg.fec_entries;
		if (u->tx_count < (uint64_t)(span * n))
			n = (int)(u->tx_count / (uint64_t)span);
		need += 2;
		for (int m = 0; m < n; m++) {
			fec_len[m] = fec_entry(u, seq, span, n, m, fec[m]);
			need += length_size(fec_len[m]) + fec_len[m];
		}
		if (need > max) {
			/* parity over fewer packets would not say which: none this time */
			need = 2 + length_size(len) + len + 4;
			n = 0;
			u->st.trimmed++;
			if (need > max) {
				fail(err, errlen, "an IFP of %zu bytes does not fit with FEC in a "
				    "datagram of %zu", len, max);
				return -1;
			}
		}
	}
	off = 0;
	out[off++] = (uint8_t)(seq >> 8);
	out[off++] = (uint8_t)seq;
	off = put_octets(out, off, ifp, len);
	if (u->cfg.ec == UDPTL_EC_FEC) {
		out[off++] = 0x80;
		out[off++] = 1;
		out[off++] = (uint8_t)span;
		out[off++] = (uint8_t)n;
		for (int m = 0; m < n; m++)
			off = put_octets(out, off, fec[m], fec_len[m]);
	} else {
		out[off++] = 0x00;
		out[off++] = (uint8_t)n;
		for (int i = 0; i < n; i++) {
			const struct slot *t = &u->tx[(uint16_t)(seq - 1 - i) % UDPTL_WINDOW];

			off = put_octets(out, off, t->buf, t->len);
		}
	}
	/* kept for the packets after it */
	u->tx[seq % UDPTL_WINDOW].seq = seq;
	u->tx[seq % UDPTL_WINDOW].len = (uint16_t)len;
	memcpy(u->tx[seq % UDPTL_WINDOW].buf, ifp, len);
	u->tx_seq++;
	u->tx_count++;
	u->st.sent++;
	return (int)off;
}

/* Sequence number a relative to b: negative before, positive after (modulo 65536). */
static int
seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b);
}

/* Whether the data of seq is here (held or already handed on). */
static const struct slot *
have(const struct udptl *u, uint16_t seq)
{
	const struct slot *t = &u->rx[seq % UDPTL_WINDOW];

	if (t->seq == seq && (t->state == SLOT_HELD || t->state == SLOT_DELIVERED))
		return t;
	return NULL;
}

/* Whether seq is still to be handed on and missing: a repair of it is worth making. */
static int
wanted(const struct udptl *u, uint16_t seq)
{
	int d = seq_diff(seq, u->next);
	const struct slot *t = &u->rx[seq % UDPTL_WINDOW];

	return d >= 0 && d < UDPTL_WINDOW && !(t->seq == seq && t->state == SLOT_HELD);
}

static void
hold_ifp(struct udptl *u, uint16_t seq, const uint8_t *p, size_t len)
{
	struct slot *t = &u->rx[seq % UDPTL_WINDOW];

	t->seq = seq;
	t->state = SLOT_HELD;
	t->len = (uint16_t)len;
	memcpy(t->buf, p, len);
	if (seq_diff(seq, u->newest) > 0)
		u->newest = seq;
}

/* The far end's numbering jumped beyond the window (it restarted, or a long silence): what
 * is held is given up and the stream starts again at first. */
static void
restart(struct udptl *u, uint16_t first)
{
	for (int i = 0; i < UDPTL_WINDOW; i++)
		if (u->rx[i].state == SLOT_HELD && seq_diff(u->rx[i].seq, u->next) >= 0)
			u->st.lost++;
	for (int i = 0; i < UDPTL_WINDOW; i++) {
		u->rx[i].seq = 0;
		u->rx[i].state = SLOT_EMPTY;
		u->rx[i].len = 0;
	}
	for (int i = 0; i < FEC_KEEP; i++)
		u->fec[i].n = 0;
	u->next = first;
	u->newest = (uint16_t)(first - 1);
	u->flush = 0;
}

/* Repairs from the FEC packets kept, until none helps any more: each repair can complete
 * another entry's span. */
static void
fec_repair(struct udptl *u)
{
	uint8_t buf[UDPTL_IFP_MAX];
	int progress = 1;

	for (int round = 0; progress && round <= FEC_KEEP * UDPTL_ENTRIES_MAX; round++) {
		progress = 0;
		for (int f = 0; f < FEC_KEEP; f++) {
			const struct udptl_packet *p = &u->fec[f].p;
			int span = p->fec_span, entries = p->nentries;

			if (u->fec[f].n == 0 || entries == 0)
				continue;
			for (int m = 0; m < entries; m++) {
				int missing = 0;
				uint16_t which = 0;

				for (int k = 0; k < span; k++) {
					uint16_t s = (uint16_t)(p->seq + m - span * entries + k * entries);

					if (have(u, s) == NULL) {
						missing++;
						which = s;
					}
				}
				if (missing != 1 || !wanted(u, which))
					continue;
				memcpy(buf, p->entry[m], p->entry_len[m]);
				for (int k = 0; k < span; k++) {
					uint16_t s = (uint16_t)(p->seq + m - span * entries + k * entries);
					const struct slot *t = have(u, s);

					if (t == NULL)
						continue;
					for (size_t j = 0; j < t->len && j < p->entry_len[m]; j++)
						buf[j] ^= t->buf[j];
				}
				if (p->entry_len[m] == 0)
					continue;      /* nothing to rebuild from */
				hold_ifp(u, which, buf, p->entry_len[m]);
				u->st.recovered_fec++;
				progress = 1;
			}
		}
	}
}

int
udptl_read(struct udptl *u, const uint8_t *d, size_t n, char *err, size_t errlen)
{
	struct udptl_packet p;
	struct slot *t;
	int ahead;

	if (udptl_parse(d, n, &p, err, errlen) != 0) {
		u->st.malformed++;
		return -1;
	}
	u->st.received++;
	if (!u->started) {
		/* the secondaries of the first packet still count: the ones before it may be
		 * lost */
		int back = p.ec == UDPTL_EC_REDUNDANCY ? p.nentries : 0;

		u->started = 1;
		restart(u, (uint16_t)(p.seq - back));
	}
	ahead = seq_diff(p.seq, u->next);
	if (ahead >= UDPTL_WINDOW || ahead < -(UDPTL_WINDOW * 4)) {
		/* Far ahead, or so far behind that it is no late packet of this stream: the far
		 * end numbers afresh, or was silent long; or it is one stray packet (an old one
		 * sent again), which must not move the stream. The next packet just after it
		 * says which; its secondaries then bring this one back. */
		int after = seq_diff(p.seq, u->stray_seq);

		if (!u->stray || after <= 0 || after > UDPTL_HOLD_DEFAULT + 1) {
			u->stray = 1;
			u->stray_seq = p.seq;
			u->st.strays++;
			return 0;
		}
		u->stray = 0;
		u->st.jumps++;
		restart(u, (uint16_t)(p.seq - (p.ec == UDPTL_EC_REDUNDANCY ? p.nentries : 0)));
		ahead = seq_diff(p.seq, u->next);
	}
	u->stray = 0;
	t = &u->rx[p.seq % UDPTL_WINDOW];
	if (ahead < 0) {
		if (t->seq == p.seq && t->state == SLOT_DELIVERED)
			u->st.duplicates++;
		else
			u->st.late++;
		return 0;
	}
	if (t->seq == p.seq && t->state == SLOT_HELD) {
		/* held already: sent twice, or repaired before it came */
		u->st.duplicates++;
		return 0;
	}
	if (seq_diff(p.seq, u->newest) < 0)
		u->st.reordered++;
	hold_ifp(u, p.seq, p.ifp, p.ifp_len);
	if (p.ec == UDPTL_EC_REDUNDANCY) {
		for (int i = 0; i < p.nentries; i++) {
			uint16_t s = (uint16_t)(p.seq - 1 - i);

			if (p.entry_len[i] > 0 && wanted(u, s)) {
				hold_ifp(u, s, p.entry[i], p.entry_len[i]);
				u->st.recovered_redundancy++;
			}
		}
	} else {
		struct fec_kept *k;

		if (p.nentries == 0)
			;                       /* winding up: nothing to keep */
		else if (p.fec_span * p.nentries > UDPTL_FEC_COVER_MAX || p.fec_span < 1)
			u->st.fec_unused += (uint64_t)p.nentries;
		else {
			if (p.fec_span * p.nentries + 1 > u->fec_hold)
				u->fec_hold = p.fec_span * p.nentries + 1;
			k = &u->fec[u->fec_at];
			u->fec_at = (u->fec_at + 1) % FEC_KEEP;
			memcpy(k->d, d, n);
			k->n = n;
			/* read again from our copy, so that its pointers outlive the caller's */
			if (udptl_parse(k->d, n, &k->p, NULL, 0) != 0)
				k->n = 0;
		}
		/* this primary may be the one a kept entry's span still wanted */
		fec_repair(u);
	}
	return 0;
}

int
udptl_next(struct udptl *u, uint8_t *buf, size_t cap, uint16_t *seq)
{
	int hold = u->cfg.hold;

	if (u->fec_hold > hold)
		hold = u->fec_hold < UDPTL_WINDOW / 2 ? u->fec_hold : UDPTL_WINDOW / 2;
	while (u->started) {
		struct slot *t = &u->rx[u->next % UDPTL_WINDOW];
		int ahead = seq_diff(u->newest, u->next);

		if (t->seq == u->next && t->state == SLOT_HELD) {
			if (t->len > cap)
				return -1;
			memcpy(buf, t->buf, t->len);
			*seq = u->next;
			t->state = SLOT_DELIVERED;
			u->next++;
			u->st.delivered++;
			return t->len;
		}
		if (ahead < 0) {
			u->flush = 0;
			return 0;               /* nothing held beyond */
		}
		if (ahead < hold && !u->flush)
			return 0;               /* may still come, or be repaired */
		t->seq = u->next;
		t->state = SLOT_LOST;
		t->len = 0;
		u->next++;
		u->st.lost++;
	}
	return 0;
}

void
udptl_flush(struct udptl *u)
{
	u->flush = 1;
}

void
udptl_stats(const struct udptl *u, struct udptl_stats *s)
{
	*s = u->st;
}

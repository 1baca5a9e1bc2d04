/* udptl.h: UDPTL (ITU-T T.38 Annex), the packets that carry T.38 IFPs over UDP: a sequence
 * number, the primary IFP, then either the previous IFPs again (redundancy) or parity over
 * spans of earlier packets (FEC). One udptl object is both sides of a stream: it writes our
 * packets with the error recovery configured, and takes the far end's in any order, repairs
 * what it can and hands the IFPs on in sequence, each once. No sockets here. */
#ifndef NETCFAX_UDPTL_H
#define NETCFAX_UDPTL_H

#include <stddef.h>
#include <stdint.h>

/* The largest datagram read or written: an Ethernet frame's UDP payload. Far ends announce
 * less (T38FaxMaxDatagram, commonly 72 to 400). */
#define UDPTL_DATAGRAM_MAX   1472
/* The largest IFP, primary or repaired. Lengths of 128 and more take the two-byte form of
 * the length; the fragmented form (16384 and more) is never needed below this cap. */
#define UDPTL_IFP_MAX        1400
/* Secondary IFPs or FEC entries in one packet, at most (either way, read or written). */
#define UDPTL_ENTRIES_MAX    16
/* The packets one FEC packet may cover (span times entries), at most, read or written;
 * a far end's FEC over more is not used (its primaries are). */
#define UDPTL_FEC_COVER_MAX  32
/* IFPs held for reordering and repair, and the sequence numbers a packet may be ahead of
 * the next one to hand on before it is a stray, or with the next one a jump. */
#define UDPTL_WINDOW         64
/* Packets that must have come in after a missing one before it is given up, by default
 * (redundancy; FEC waits for as many as the far end's spans cover). */
#define UDPTL_HOLD_DEFAULT   3

enum udptl_ec {                        /* T38FaxUdpEC */
	UDPTL_EC_NONE = 0,             /* an empty list of secondary IFPs */
	UDPTL_EC_REDUNDANCY,           /* t38UDPRedundancy: the previous N IFPs */
	UDPTL_EC_FEC,                  /* t38UDPFEC: XOR parity over spans of packets */
};

/* One datagram as read by udptl_parse: pointers into its bytes. */
struct udptl_packet {
	uint16_t       seq;
	const uint8_t *ifp;            /* the primary IFP */
	size_t         ifp_len;
	int            ec;             /* UDPTL_EC_REDUNDANCY (also for none: 0 entries) or FEC */
	int            fec_span;       /* FEC: packets XORed into each entry */
	int            nentries;       /* secondary IFPs, or FEC entries */
	const uint8_t *entry[UDPTL_ENTRIES_MAX];   /* redundancy: entry[i] is seq - 1 - i */
	size_t         entry_len[UDPTL_ENTRIES_MAX];
};

/* Reads one datagram of n bytes. 0, or -1 with the reason in err: longer than
 * UDPTL_DATAGRAM_MAX, a length beyond the end, an empty or over-long primary IFP, a
 * fragmented length, more than UDPTL_ENTRIES_MAX entries, bytes after the last entry. */
int udptl_parse(const uint8_t *d, size_t n, struct udptl_packet *p, char *err, size_t errlen);

struct udptl_config {
	int    ec;                     /* enum udptl_ec we send with */
	int    redundancy;             /* redundancy: previous IFPs in each packet, 0..16 */
	int    fec_span;               /* FEC: packets in each parity, 1.. */
	int    fec_entries;            /* FEC: parity entries in each packet, 1..16; span times
	                                * entries at most UDPTL_FEC_COVER_MAX */
	size_t max_datagram;           /* the far end's T38FaxMaxDatagram; 0 for
	                                * UDPTL_DATAGRAM_MAX. Error recovery is trimmed to fit */
	int    hold;                   /* see UDPTL_HOLD_DEFAULT; 0 for the default */
};

struct udptl_stats {
	uint64_t sent;                 /* packets written */
	uint64_t trimmed;              /* of those, with less error recovery to fit the far end's
	                                * datagram */
	uint64_t received;             /* packets taken */
	uint64_t malformed;            /* refused by udptl_parse */
	uint64_t duplicates;           /* a primary already held or handed on */
	uint64_t late;                 /* a primary after its place was given up, or too old */
	uint64_t reordered;            /* a primary that came after a later one */
	uint64_t recovered_redundancy; /* IFPs taken from secondary IFPs */
	uint64_t recovered_fec;        /* IFPs rebuilt from FEC parity */
	uint64_t lost;                 /* sequence numbers given up, never handed on */
	uint64_t delivered;            /* IFPs handed on */
	uint64_t strays;               /* a packet far from the stream, dropped: an old one sent
	                                * again, or the first after a jump */
	uint64_t jumps;                /* the far end's numbering jumped beyond the window (two
	                                * packets in a row there): the stream starts again */
	uint64_t fec_unused;           /* FEC entries that covered more than we keep */
};

struct udptl;

/* A stream whose packets start at sequence number 0. NULL with the reason for a
 * configuration out of bounds or no memory. */
struct udptl *udptl_new(const struct udptl_config *c, char *err, size_t errlen);
void udptl_free(struct udptl *u);

/* Writes the next packet: the IFP as primary, with the error recovery configured over the
 * IFPs written before it. The datagram's length, or -1 with the reason (an empty IFP, one
 * over UDPTL_IFP_MAX, or one that does not fit in the far end's datagram or in cap). */
int udptl_write(struct udptl *u, const uint8_t *ifp, size_t len, uint8_t *out, size_t cap,
                char *err, size_t errlen);

/* Takes one datagram from the far end: holds its IFP and what its error recovery restores.
 * 0, or -1 with the reason (malformed, counted). Drain with udptl_next after each. */
int udptl_read(struct udptl *u, const uint8_t *d, size_t n, char *err, size_t errlen);

/* The next IFP in sequence, into buf, its number in *seq: its length; 0 when the next one
 * has not come (and is not yet given up); -1 when cap is smaller than the IFP. A missing IFP
 * is given up, and counted lost, once hold packets after it have come. An IFP rebuilt from
 * FEC parity has the length of the longest in its span: a shorter one comes with bytes
 * after its end (the IFP says its own length). */
int udptl_next(struct udptl *u, uint8_t *buf, size_t cap, uint16_t *seq);

/* Gives up every missing IFP before the newest one received, so that udptl_next hands on
 * all that is held: for when the far end has gone quiet. */
void udptl_flush(struct udptl *u);

void udptl_stats(const struct udptl *u, struct udptl_stats *s);

/* "t38UDPRedundancy", "t38UDPFEC", "none". */
const char *udptl_ec_name(int ec);

#endif

/* rtpaudio.c: G.711 over RTP on one UDP socket (mediasock.c: symmetric, the peer's packets
 * only, a NAT'd far end latched by a run of one stream's packets in sequence), with a fixed
 * jitter buffer (jitterbuf.c). Every read is capped at RTP_DATAGRAM_MAX. */
#include "rtpaudio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "jitterbuf.h"
#include "mediasock.h"
#include "rtp.h"

struct rtpaudio {
	struct mediasock   *sock;
	int                 depth;       /* frames */
	struct media_peer   peer;        /* the negotiated one, as the SDP said */
	int                 started;
	struct jitterbuf   *jb;
	uint16_t            seq;
	uint32_t            ts, ssrc;
	struct media_stats  st;
};

static uint32_t
random32(void)
{
	uint32_t v = 0;

	/* Unpredictable starting numbers (RFC 3550 5.1) make a blind injection harder; the
	 * clock is a fallback that still varies from call to call. */
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		v = (uint32_t)t.tv_nsec ^ (uint32_t)t.tv_sec * 2654435761u ^ (uint32_t)getpid();
	}
	return v;
}

void *
rtpaudio_new(const struct rtpaudio_opts *o, char *err, size_t errlen)
{
	struct rtpaudio *a;
	int depth_ms = o->depth_ms ? o->depth_ms : RTPAUDIO_DEPTH_MS;

	if (depth_ms < MEDIA_TICK_MS || depth_ms > JITTERBUF_DEPTH_MAX * MEDIA_TICK_MS ||
	    depth_ms % MEDIA_TICK_MS != 0) {
		snprintf(err, errlen, "jitter buffer of %d ms: want 20 to %d in steps of 20",
		    depth_ms, JITTERBUF_DEPTH_MAX * MEDIA_TICK_MS);
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* RTP takes an even port, RTCP the odd one above it (RFC 3550 11); we send no RTCP,
	 * but a peer may, and a neighbour's RTP must not land on it. */
	a->sock = mediasock_open(&(struct mediasock_opts){ .what = "RTP",
	    .bind_addr = o->bind_addr, .port_min = o->port_min, .port_max = o->port_max,
	    .even = 1 }, err, errlen);
	if (a->sock == NULL) {
		free(a);
		return NULL;
	}
	a->depth = depth_ms / MEDIA_TICK_MS;
	a->seq = (uint16_t)random32();
	a->ts = random32();
	a->ssrc = random32();
	return a;
}

static int
ra_local(void *m, struct sockaddr_storage *addr, socklen_t *len)
{
	struct rtpaudio *a = m;

	mediasock_local(a->sock, addr, len);
	return 0;
}

static int
ra_start(void *m, const struct media_peer *peer, char *err, size_t errlen)
{
	struct rtpaudio *a = m;

	if (peer->codec != MEDIA_PCMA && peer->codec != MEDIA_PCMU) {
		snprintf(err, errlen, "RTP audio carries G.711 (PCMA, PCMU) only");
		return -1;
	}
	if (peer->pt < 0 || peer->pt > 127 || peer->addrlen == 0 ||
	    peer->addrlen > sizeof(peer->addr) ||
	    peer->addr.ss_family != mediasock_family(a->sock)) {
		snprintf(err, errlen, "RTP peer: bad payload type or address");
		return -1;
	}
	if (a->started) {
		snprintf(err, errlen, "RTP audio already started");
		return -1;
	}
	/* The silence a gap is filled with: the codec's code for zero. */
	a->jb = jitterbuf_new(a->depth, MEDIA_FRAME_BYTES, peer->codec == MEDIA_PCMA ? 0xD5 :
	    0xFF);
	if (a->jb == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->peer = *peer;
	a->started = 1;
	mediasock_set_peer(a->sock, &peer->addr, peer->addrlen);
	return 0;
}

/* A new answer (the 200 after an early one): the jitter buffer starts empty; the socket
 * keeps a port latched on the same peer, and may latch afresh on another. */
static int
ra_restart(void *m, const struct media_peer *peer, char *err, size_t errlen)
{
	struct rtpaudio *a = m;

	if (a->started) {
		jitterbuf_free(a->jb);
		a->jb = NULL;
		a->started = 0;
	}
	return ra_start(m, peer, err, errlen);
}

/* A datagram from the peer: into the jitter buffer when it is G.711 of the agreed type. */
static int
take(void *arg, const uint8_t *buf, size_t len)
{
	struct rtpaudio *a = arg;
	struct rtp_packet p;
	char why[96];

	if (rtp_parse(buf, len, &p, why, sizeof(why)) != 0) {
		a->st.malformed++;
		return 0;
	}
	if (p.pt != a->peer.pt) {
		a->st.other_payload++;      /* comfort noise, DTMF events: not fax */
		return 0;
	}
	if (jitterbuf_put(a->jb, p.seq, p.payload, p.payload_len) == JITTERBUF_TAKEN)
		a->st.received++;
	return 1;
}

/* A datagram from another port of the peer's address: its stream and sequence, when it is
 * RTP of the agreed type. */
static int
ident(void *arg, const uint8_t *buf, size_t len, uint32_t *stream, uint16_t *seq)
{
	struct rtpaudio *a = arg;
	struct rtp_packet p;
	char why[96];

	if (rtp_parse(buf, len, &p, why, sizeof(why)) != 0 || p.pt != a->peer.pt)
		return -1;
	*stream = p.ssrc;
	*seq = p.seq;
	return 0;
}

static int
ra_step(void *m, const atomic_int *abort)
{
	struct rtpaudio *a = m;

	if (!a->started)
		return -1;
	return mediasock_step(a->sock, abort, &(struct mediasock_reader){ take, ident, a });
}

static int
ra_send(void *m, const uint8_t *unit, size_t len)
{
	struct rtpaudio *a = m;
	uint8_t buf[RTP_DATAGRAM_MAX];
	struct rtp_packet p;
	int n;

	if (!a->started)
		return -1;
	memset(&p, 0, sizeof(p));
	p.marker = a->st.sent == 0;     /* the start of a talkspurt: the first packet */
	p.pt = a->peer.pt;
	p.seq = a->seq++;
	p.ts = a->ts;
	p.ssrc = a->ssrc;
	p.payload = unit;
	p.payload_len = len;
	a->ts += (uint32_t)len;         /* G.711: one byte per sample */
	if ((n = rtp_build(buf, sizeof(buf), &p)) < 0 ||
	    mediasock_send(a->sock, buf, (size_t)n) != 0) {
		a->st.send_errors++;
		return -1;
	}
	a->st.sent++;
	return 0;
}

static int
ra_recv(void *m, uint8_t *buf, size_t cap)
{
	struct rtpaudio *a = m;

	if (!a->started || cap < MEDIA_FRAME_BYTES)
		return 0;
	jitterbuf_get(a->jb, buf);
	return MEDIA_FRAME_BYTES;
}

static int
ra_codec(void *m)
{
	struct rtpaudio *a = m;

	return a->started ? a->peer.codec : 0;
}

static void
ra_stats(void *m, struct media_stats *s)
{
	struct rtpaudio *a = m;
	struct jitterbuf_stats j;

	*s = a->st;
	mediasock_counts(a->sock, &s->strangers, &s->latched);
	if (a->jb == NULL)
		return;
	jitterbuf_stats(a->jb, &j);
	s->late = j.late;
	s->duplicates = j.duplicates;
	s->reordered = j.reordered;
	s->lost = j.lost;
	s->underruns = j.underruns;
	s->resyncs = j.resyncs;
	s->malformed += j.bad;          /* a frame of another length than 20 ms */
}

static void
ra_free(void *m)
{
	struct rtpaudio *a = m;

	if (a == NULL)
		return;
	mediasock_free(a->sock);
	jitterbuf_free(a->jb);
	free(a);
}

const struct media_ops rtpaudio_ops = {
	.name = "rtp-g711",
	.kind = MEDIA_AUDIO,
	.local = ra_local,
	.start = ra_start,
	.restart = ra_restart,
	.step = ra_step,
	.send = ra_send,
	.recv = ra_recv,
	.codec = ra_codec,
	.stats = ra_stats,
	.free = ra_free,
};

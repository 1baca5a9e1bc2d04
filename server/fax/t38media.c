/* t38media.c: T.38 IFPs over UDPTL on one UDP socket (mediasock.c, as rtpaudio.c: symmetric,
 * the peer's packets only, a NAT'd far end latched by a run of packets in sequence).
 * udptl.c puts the IFPs back in order and restores what redundancy or FEC can; what is
 * missing is given up after the hold, or when the far end has been quiet for
 * T38MEDIA_QUIET_STEPS.
 *
 * Unlike audio, T.38 is silent while neither fax machine signals, and a far end behind a
 * media relay that latches (sends only once it has heard from us) or a NAT that forgets an
 * idle binding would never reach us. So until the far end's first packet we send something
 * every T38MEDIA_KEEPALIVE_STEPS that we have sent nothing: our last datagram again (a
 * duplicate its UDPTL drops), or before any a no-signal indicator, which is what a silent
 * T.38 terminal says anyway. */
#include "t38media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mediasock.h"

struct t38media {
	struct mediasock   *sock;
	struct media_peer   peer;
	struct udptl_config cfg;
	struct udptl       *u;
	int                 started;
	struct media_stats  st;
	int                 quiet;       /* steps since a packet came */
	uint16_t            last_seq;
	int                 idle;        /* steps since we last sent */
	uint8_t             last[UDPTL_DATAGRAM_MAX];   /* the datagram we last sent */
	size_t              last_len;
};

/* The IFP of a T.30 indicator "no-signal" (T.38 clause 7, any version): type-of-msg
 * t30-indicator, value 0, no data field. */
static const uint8_t ifp_no_signal[] = { 0x00 };

static int send_ifp(struct t38media *t, const uint8_t *unit, size_t len);

void *
t38media_new(const struct t38media_opts *o, char *err, size_t errlen)
{
	struct t38media *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->sock = mediasock_open(&(struct mediasock_opts){ .what = "UDPTL",
	    .bind_addr = o->bind_addr, .port_min = o->port_min, .port_max = o->port_max },
	    err, errlen);
	if (t->sock == NULL) {
		free(t);
		return NULL;
	}
	t->cfg.ec = UDPTL_EC_REDUNDANCY;
	t->cfg.redundancy = 3;
	return t;
}

int
t38media_set_udptl(void *m, const struct udptl_config *c, char *err, size_t errlen)
{
	struct t38media *t = m;
	struct udptl *probe;

	if (t->started) {
		snprintf(err, errlen, "UDPTL already started");
		return -1;
	}
	/* checked now, where the caller can still answer for it */
	if ((probe = udptl_new(c, err, errlen)) == NULL)
		return -1;
	udptl_free(probe);
	t->cfg = *c;
	return 0;
}

uint16_t
t38media_last_seq(void *m)
{
	return ((struct t38media *)m)->last_seq;
}

void
t38media_udptl_stats(void *m, struct udptl_stats *s)
{
	struct t38media *t = m;

	if (t->u != NULL)
		udptl_stats(t->u, s);
	else
		memset(s, 0, sizeof(*s));
}

static int
tm_local(void *m, struct sockaddr_storage *addr, socklen_t *len)
{
	struct t38media *t = m;

	mediasock_local(t->sock, addr, len);
	return 0;
}

static int
tm_start(void *m, const struct media_peer *peer, char *err, size_t errlen)
{
	struct t38media *t = m;

	if (peer->codec != MEDIA_T38) {
		snprintf(err, errlen, "UDPTL carries T.38 only");
		return -1;
	}
	if (peer->addrlen == 0 || peer->addrlen > sizeof(peer->addr) ||
	    peer->addr.ss_family != mediasock_family(t->sock)) {
		snprintf(err, errlen, "UDPTL peer: bad address");
		return -1;
	}
	if (t->started) {
		snprintf(err, errlen, "UDPTL already started");
		return -1;
	}
	if ((t->u = udptl_new(&t->cfg, err, errlen)) == NULL)
		return -1;
	t->peer = *peer;
	t->started = 1;
	mediasock_set_peer(t->sock, &peer->addr, peer->addrlen);
	return 0;
}

/* A datagram from the peer: into the UDPTL stream. */
static int
take(void *arg, const uint8_t *buf, size_t len)
{
	struct t38media *t = arg;
	char why[128];

	if (udptl_read(t->u, buf, len, why, sizeof(why)) != 0) {
		t->st.malformed++;
		return 0;
	}
	t->quiet = 0;
	t->st.received++;
	return 1;
}

/* A datagram from another port of the peer's address: its sequence number, when it is a
 * UDPTL packet. */
static int
ident(void *arg, const uint8_t *buf, size_t len, uint32_t *stream, uint16_t *seq)
{
	struct udptl_packet p;
	char why[128];

	(void)arg;
	if (udptl_parse(buf, len, &p, why, sizeof(why)) != 0)
		return -1;
	*stream = 0;
	*seq = p.seq;
	return 0;
}

static int
tm_step(void *m, const atomic_int *abort)
{
	struct t38media *t = m;

	if (!t->started)
		return -1;
	if (t->quiet < T38MEDIA_QUIET_STEPS)
		t->quiet++;
	if (mediasock_step(t->sock, abort, &(struct mediasock_reader){ take, ident, t }) != 0)
		return -1;
	/* the far end has gone quiet: nothing more will fill the gaps, hand on what is held */
	if (t->quiet == T38MEDIA_QUIET_STEPS)
		udptl_flush(t->u);
	if (++t->idle >= T38MEDIA_KEEPALIVE_STEPS && t->st.received == 0) {
		if (t->last_len > 0) {
			if (mediasock_send(t->sock, t->last, t->last_len) != 0)
				t->st.send_errors++;
			t->idle = 0;
		} else
			(void)send_ifp(t, ifp_no_signal, sizeof(ifp_no_signal));
		t->st.keepalives++;
	}
	return 0;
}

/* One IFP in the next datagram, which is kept for the keepalive. */
static int
send_ifp(struct t38media *t, const uint8_t *unit, size_t len)
{
	int n;

	t->idle = 0;
	if ((n = udptl_write(t->u, unit, len, t->last, sizeof(t->last), NULL, 0)) < 0) {
		t->last_len = 0;
		t->st.send_errors++;
		return -1;
	}
	t->last_len = (size_t)n;
	if (mediasock_send(t->sock, t->last, t->last_len) != 0) {
		t->st.send_errors++;
		return -1;
	}
	t->st.sent++;
	return 0;
}

static int
tm_send(void *m, const uint8_t *unit, size_t len)
{
	struct t38media *t = m;

	if (!t->started)
		return -1;
	return send_ifp(t, unit, len);
}

static int
tm_recv(void *m, uint8_t *buf, size_t cap)
{
	struct t38media *t = m;
	uint16_t seq;
	int n;

	if (!t->started)
		return 0;
	if ((n = udptl_next(t->u, buf, cap, &seq)) > 0)
		t->last_seq = seq;
	return n > 0 ? n : 0;
}

static int
tm_codec(void *m)
{
	struct t38media *t = m;

	return t->started ? MEDIA_T38 : 0;
}

static void
tm_stats(void *m, struct media_stats *s)
{
	struct t38media *t = m;
	struct udptl_stats u;

	*s = t->st;
	mediasock_counts(t->sock, &s->strangers, &s->latched);
	if (t->u == NULL)
		return;
	udptl_stats(t->u, &u);
	s->late = u.late;
	s->duplicates = u.duplicates;
	s->reordered = u.reordered;
	s->lost = u.lost;
	s->resyncs = u.jumps;
}

static void
tm_free(void *m)
{
	struct t38media *t = m;

	if (t == NULL)
		return;
	mediasock_free(t->sock);
	udptl_free(t->u);
	free(t);
}

const struct media_ops t38media_ops = {
	.name = "udptl-t38",
	.kind = MEDIA_IFP,
	.local = tm_local,
	.start = tm_start,
	.step = tm_step,
	.send = tm_send,
	.recv = tm_recv,
	.codec = tm_codec,
	.stats = tm_stats,
	.free = tm_free,
};

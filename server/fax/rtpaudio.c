/* rtpaudio.c: G.711 over RTP on one UDP socket, symmetric (we send from the port we receive
 * on, so a NAT or a provider's SBC that latches on our first packet sends back to where we
 * listen). Only packets from the negotiated peer's address and port reach the jitter buffer;
 * all others are counted and dropped, with one exception: a far end behind a NAT that picks
 * its own source ports (most do, even for a port its router forwards to it) sends from its
 * router's address but another port. Until the negotiated port has been heard from, a source
 * on the peer's address that sends LATCH_RUN packets in sequence from one stream is taken as
 * the peer (for both directions), once; a stranger's scattered packets never are. Nothing
 * here blocks beyond one step's wait, and every read is capped at RTP_DATAGRAM_MAX. */
#include "rtpaudio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "jitterbuf.h"
#include "rtp.h"

#define DRAIN_MAX     64             /* datagrams read at once: a flood cannot hold a step */
#define BEHIND_MAX_NS 200000000L     /* further behind the clock than this: start it again */
#define STEP_NS       (MEDIA_TICK_MS * 1000000L)
#define LATCH_RUN     4              /* packets in sequence from another port of the peer's
                                      * address before it is taken as the peer */

struct rtpaudio {
	int                 fd;
	int                 depth;       /* frames */
	struct sockaddr_storage local;
	socklen_t           local_len;
	struct media_peer   peer;        /* where we send: the negotiated one, or latched */
	struct media_peer   agreed;      /* the negotiated one, as the SDP said */
	int                 started;
	struct jitterbuf   *jb;
	struct timespec     next;        /* when the next step is due */
	uint16_t            seq;
	uint32_t            ts, ssrc;
	struct media_stats  st;
	int                 heard;       /* a packet from the peer was taken: no latching now */
	struct sockaddr_storage cand;    /* a source on the peer's address, another port */
	uint32_t            cand_ssrc;
	uint16_t            cand_seq;
	int                 cand_run;
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
	struct addrinfo hints, *ai = NULL;
	struct rtpaudio *a;
	int depth_ms = o->depth_ms ? o->depth_ms : RTPAUDIO_DEPTH_MS, rc, lo, hi;

	if (depth_ms < MEDIA_TICK_MS || depth_ms > JITTERBUF_DEPTH_MAX * MEDIA_TICK_MS ||
	    depth_ms % MEDIA_TICK_MS != 0) {
		snprintf(err, errlen, "jitter buffer of %d ms: want 20 to %d in steps of 20",
		    depth_ms, JITTERBUF_DEPTH_MAX * MEDIA_TICK_MS);
		return NULL;
	}
	lo = o->port_min;
	hi = o->port_max;
	if (lo < 0 || hi > 65535 || lo > hi || (lo == 0) != (hi == 0)) {
		snprintf(err, errlen, "RTP port range %d-%d", lo, hi);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if ((rc = getaddrinfo(o->bind_addr ? o->bind_addr : "0.0.0.0", "0", &hints, &ai)) != 0) {
		snprintf(err, errlen, "RTP address '%s': %s", o->bind_addr ? o->bind_addr : "",
		    gai_strerror(rc));
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->depth = depth_ms / MEDIA_TICK_MS;
	a->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		snprintf(err, errlen, "RTP socket: %s", strerror(errno));
		goto fail;
	}
	memcpy(&a->local, ai->ai_addr, ai->ai_addrlen);
	a->local_len = ai->ai_addrlen;
	/* RTP takes an even port, RTCP the odd one above it (RFC 3550 11); we send no RTCP,
	 * but a peer may, and a neighbour's RTP must not land on it. */
	rc = -1;
	errno = EADDRINUSE;             /* a range without an even port has none free */
	for (int p = lo + (lo & 1); lo == 0 || p <= hi; p += 2) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->local;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->local;

		if (a->local.ss_family == AF_INET)
			s4->sin_port = htons((uint16_t)p);
		else
			s6->sin6_port = htons((uint16_t)p);
		if ((rc = bind(a->fd, (struct sockaddr *)&a->local, a->local_len)) == 0 ||
		    errno != EADDRINUSE || lo == 0)
			break;
	}
	if (rc != 0) {
		snprintf(err, errlen, "RTP port in %d-%d: %s", lo, hi, lo == 0 || errno !=
		    EADDRINUSE ? strerror(errno) : "all taken");
		goto fail;
	}
	a->local_len = sizeof(a->local);
	if (getsockname(a->fd, (struct sockaddr *)&a->local, &a->local_len) != 0) {
		snprintf(err, errlen, "RTP socket: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	a->seq = (uint16_t)random32();
	a->ts = random32();
	a->ssrc = random32();
	return a;
fail:
	freeaddrinfo(ai);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
	return NULL;
}

static int
ra_local(void *m, struct sockaddr_storage *addr, socklen_t *len)
{
	struct rtpaudio *a = m;

	memcpy(addr, &a->local, a->local_len);
	*len = a->local_len;
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
	    peer->addrlen > sizeof(peer->addr) || peer->addr.ss_family != a->local.ss_family) {
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
	a->peer = a->agreed = *peer;
	a->started = 1;
	clock_gettime(CLOCK_MONOTONIC, &a->next);
	return 0;
}

static int same_endpoint(const struct sockaddr_storage *from, const struct sockaddr_storage *to);

static int
ra_restart(void *m, const struct media_peer *peer, char *err, size_t errlen)
{
	struct rtpaudio *a = m;
	struct media_peer latched;
	int same;

	if (!a->started)
		return ra_start(m, peer, err, errlen);
	same = same_endpoint(&peer->addr, &a->agreed.addr) && peer->codec == a->agreed.codec &&
	    peer->pt == a->agreed.pt;
	latched = a->peer;
	jitterbuf_free(a->jb);
	a->jb = NULL;
	a->started = 0;
	if (ra_start(m, peer, err, errlen) != 0)
		return -1;
	if (same)
		a->peer = latched;      /* the port the far end's NAT showed stays ours */
	else {
		a->heard = 0;           /* another far end: it may be latched afresh */
		a->cand_run = 0;
	}
	return 0;
}

/* The same address and port. */
static int
same_endpoint(const struct sockaddr_storage *from, const struct sockaddr_storage *to)
{
	if (from->ss_family != to->ss_family)
		return 0;
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)from, *y = (const void *)to;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)from, *y = (const void *)to;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

static int
same_peer(const struct rtpaudio *a, const struct sockaddr_storage *from)
{
	return same_endpoint(from, &a->peer.addr);
}

/* The peer's address, any port. */
static int
same_host(const struct rtpaudio *a, const struct sockaddr_storage *from)
{
	if (from->ss_family != a->peer.addr.ss_family)
		return 0;
	if (from->ss_family == AF_INET)
		return ((const struct sockaddr_in *)from)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)&a->peer.addr)->sin_addr.s_addr;
	return from->ss_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
	    &((const struct sockaddr_in6 *)&a->peer.addr)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* A packet of ours from another port of the peer's address, before the peer was heard: 1
 * when that source has now sent LATCH_RUN in sequence and becomes the peer. */
static int
latch(struct rtpaudio *a, const struct sockaddr_storage *from, const struct rtp_packet *p)
{
	int same = a->cand_run > 0 && same_endpoint(from, &a->cand);

	if (same && p->ssrc == a->cand_ssrc && p->seq == (uint16_t)(a->cand_seq + 1))
		a->cand_run++;
	else {
		a->cand = *from;
		a->cand_ssrc = p->ssrc;
		a->cand_run = 1;
	}
	a->cand_seq = p->seq;
	if (a->cand_run < LATCH_RUN)
		return 0;
	/* the port only: the address is the same, and addrlen stays the negotiated one's */
	if (from->ss_family == AF_INET)
		((struct sockaddr_in *)&a->peer.addr)->sin_port =
		    ((const struct sockaddr_in *)from)->sin_port;
	else
		((struct sockaddr_in6 *)&a->peer.addr)->sin6_port =
		    ((const struct sockaddr_in6 *)from)->sin6_port;
	a->st.latched++;
	return 1;
}

/* Reads what is queued, at most DRAIN_MAX datagrams: 0, or -1 when the socket failed. */
static int
drain(struct rtpaudio *a)
{
	for (int i = 0; i < DRAIN_MAX; i++) {
		uint8_t buf[RTP_DATAGRAM_MAX];
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		struct rtp_packet p;
		char why[96];
		ssize_t n;

		/* MSG_TRUNC gives the real length of a longer datagram, which is then refused. */
		n = recvfrom(a->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from,
		    &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			/* An ICMP error from an earlier send: not the socket's failure. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			return -1;
		}
		if (!same_peer(a, &from)) {
			/* the NAT'd far end (see the top): a run of ours from its address */
			if (a->heard || !same_host(a, &from) || (size_t)n > sizeof(buf) ||
			    rtp_parse(buf, (size_t)n, &p, why, sizeof(why)) != 0 ||
			    p.pt != a->peer.pt || !latch(a, &from, &p)) {
				a->st.strangers++;
				continue;
			}
		} else if ((size_t)n > sizeof(buf) || rtp_parse(buf, (size_t)n, &p, why,
		    sizeof(why)) != 0) {
			a->st.malformed++;
			continue;
		}
		if (p.pt != a->peer.pt) {
			a->st.other_payload++;      /* comfort noise, DTMF events: not fax */
			continue;
		}
		a->heard = 1;
		if (jitterbuf_put(a->jb, p.seq, p.payload, p.payload_len) == JITTERBUF_TAKEN)
			a->st.received++;
	}
	return 0;
}

static long
ns_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000000000L + (t->tv_nsec - now.tv_nsec);
}

static int
ra_step(void *m, const atomic_int *abort)
{
	struct rtpaudio *a = m;
	long left;

	if (!a->started)
		return -1;
	a->next.tv_nsec += STEP_NS;
	if (a->next.tv_nsec >= 1000000000L) {
		a->next.tv_sec++;
		a->next.tv_nsec -= 1000000000L;
	}
	/* Bounded: the wait ends at the step's time whatever arrives. */
	while ((left = ns_until(&a->next)) > 0) {
		struct pollfd pfd = { a->fd, POLLIN, 0 };

		if (abort && atomic_load(abort))
			return -1;
		if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) > 0 && drain(a) != 0)
			return -1;
	}
	if (drain(a) != 0)
		return -1;
	/* A worker that was not scheduled for a while sends one step late rather than a
	 * burst of them: the far end's jitter buffer takes a late frame, not a flood. */
	if (left < -BEHIND_MAX_NS)
		clock_gettime(CLOCK_MONOTONIC, &a->next);
	return abort && atomic_load(abort) ? -1 : 0;
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
	    sendto(a->fd, buf, (size_t)n, 0, (struct sockaddr *)&a->peer.addr,
	    a->peer.addrlen) != n) {
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
	if (a->fd >= 0)
		close(a->fd);
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

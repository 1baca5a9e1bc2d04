/* mediasock.c: the UDP socket under a call's media; see mediasock.h for whom it listens to. */
#include "mediasock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "media.h"

#define DRAIN_MAX     64             /* datagrams read at once: a flood cannot hold a step */
#define BEHIND_MAX_NS 200000000L     /* further behind the clock than this: start it again */
#define STEP_NS       (MEDIA_TICK_MS * 1000000L)

/* A packet of a candidate's run, kept until the run is taken or broken. */
struct held {
	uint16_t seq;
	uint16_t len;
	uint8_t  buf[MEDIASOCK_DATAGRAM_MAX];
};

struct mediasock {
	int                     fd;
	struct sockaddr_storage local;
	socklen_t               local_len;
	struct sockaddr_storage peer;    /* where we send: the negotiated one, or latched */
	struct sockaddr_storage agreed;  /* the negotiated one, as the SDP said */
	socklen_t               peer_len;
	int                     clock;   /* the step clock runs */
	struct timespec         next;    /* when the next step is due */
	int                     heard;   /* a packet from the peer was taken: no latching now */
	int                     silent;  /* steps since then: after MEDIASOCK_RELATCH_STEPS,
	                                  * latching again */
	struct sockaddr_storage cand;    /* a source on the peer's address, another port */
	uint32_t                cand_stream;
	uint16_t                cand_seq;        /* the highest of its run so far */
	int                     cand_run;
	struct held            *held;            /* its run's packets, allocated on first use */
	int                     nheld;
	uint64_t                strangers, latched;
};

struct mediasock *
mediasock_open(const struct mediasock_opts *o, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	struct mediasock *s;
	int rc, lo = o->port_min, hi = o->port_max, step = o->even ? 2 : 1;

	if (lo < 0 || hi > 65535 || lo > hi || (lo == 0) != (hi == 0)) {
		snprintf(err, errlen, "%s port range %d-%d", o->what, lo, hi);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if ((rc = getaddrinfo(o->bind_addr ? o->bind_addr : "0.0.0.0", "0", &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s address '%s': %s", o->what, o->bind_addr ? o->bind_addr :
		    "", gai_strerror(rc));
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(err, errlen, "%s socket: %s", o->what, strerror(errno));
		goto fail;
	}
	memcpy(&s->local, ai->ai_addr, ai->ai_addrlen);
	s->local_len = ai->ai_addrlen;
	rc = -1;
	errno = EADDRINUSE;             /* a range without an even port has none free */
	for (int p = o->even ? lo + (lo & 1) : lo; lo == 0 || p <= hi; p += step) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&s->local;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&s->local;

		if (s->local.ss_family == AF_INET)
			s4->sin_port = htons((uint16_t)p);
		else
			s6->sin6_port = htons((uint16_t)p);
		if ((rc = bind(s->fd, (struct sockaddr *)&s->local, s->local_len)) == 0 ||
		    errno != EADDRINUSE || lo == 0)
			break;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s port in %d-%d: %s", o->what, lo, hi, lo == 0 ||
		    errno != EADDRINUSE ? strerror(errno) : "all taken");
		goto fail;
	}
	s->local_len = sizeof(s->local);
	if (getsockname(s->fd, (struct sockaddr *)&s->local, &s->local_len) != 0) {
		snprintf(err, errlen, "%s socket: %s", o->what, strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	return s;
fail:
	freeaddrinfo(ai);
	mediasock_free(s);
	return NULL;
}

void
mediasock_free(struct mediasock *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->held);
	free(s);
}

void
mediasock_local(const struct mediasock *s, struct sockaddr_storage *addr, socklen_t *len)
{
	memcpy(addr, &s->local, s->local_len);
	*len = s->local_len;
}

int
mediasock_family(const struct mediasock *s)
{
	return s->local.ss_family;
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

/* The peer's address, any port. */
static int
same_host(const struct mediasock *s, const struct sockaddr_storage *from)
{
	if (from->ss_family != s->peer.ss_family)
		return 0;
	if (from->ss_family == AF_INET)
		return ((const struct sockaddr_in *)from)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)&s->peer)->sin_addr.s_addr;
	return from->ss_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
	    &((const struct sockaddr_in6 *)&s->peer)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

void
mediasock_set_peer(struct mediasock *s, const struct sockaddr_storage *addr, socklen_t len)
{
	if (!s->clock) {
		s->clock = 1;
		clock_gettime(CLOCK_MONOTONIC, &s->next);
	} else if (same_endpoint(addr, &s->agreed))
		return;                 /* the port the far end's NAT showed stays ours */
	memcpy(&s->agreed, addr, len);
	memcpy(&s->peer, addr, len);
	s->peer_len = len;
	s->heard = 0;                   /* another far end: it may be latched afresh */
	s->silent = 0;
	s->cand_run = 0;
	s->nheld = 0;
}

/* Keeps a packet of the candidate's run; the oldest gives way when the hold is full. */
static void
hold(struct mediasock *s, uint16_t seq, const uint8_t *buf, size_t len)
{
	if (s->held == NULL &&
	    (s->held = malloc(MEDIASOCK_LATCH_HOLD * sizeof(*s->held))) == NULL)
		return;                 /* the run is still taken; its start is lost */
	if (s->nheld == MEDIASOCK_LATCH_HOLD)
		memmove(&s->held[0], &s->held[1], --s->nheld * sizeof(*s->held));
	s->held[s->nheld].seq = seq;
	s->held[s->nheld].len = (uint16_t)len;
	memcpy(s->held[s->nheld].buf, buf, len);
	s->nheld++;
}

/* A packet of the media from another port of the peer's address, before the peer was heard
 * or once it has gone silent: 1 when that source has now sent MEDIASOCK_LATCH_RUN in
 * sequence from one stream and becomes the peer (its held packets are then handed on by
 * hand_held), else 0 with the packet held. A step of up to MEDIASOCK_LATCH_GAP counts (a
 * packet lost on the way); one that comes late or again neither counts nor breaks the run
 * (a network that reorders); anything else starts a new run. */
static int
latch(struct mediasock *s, const struct sockaddr_storage *from, uint32_t stream, uint16_t seq,
      const uint8_t *buf, size_t len)
{
	int same = s->cand_run > 0 && same_endpoint(from, &s->cand) &&
	    stream == s->cand_stream;
	uint16_t ahead = (uint16_t)(seq - s->cand_seq), behind = (uint16_t)(s->cand_seq - seq);

	if (same && ahead >= 1 && ahead <= MEDIASOCK_LATCH_GAP) {
		s->cand_run++;
		s->cand_seq = seq;
	} else if (!same || behind >= MEDIASOCK_LATCH_HOLD) {
		s->cand = *from;
		s->cand_stream = stream;
		s->cand_run = 1;
		s->cand_seq = seq;
		s->nheld = 0;
	}
	if (s->cand_run < MEDIASOCK_LATCH_RUN) {
		hold(s, seq, buf, len);
		return 0;
	}
	/* the port only: the address is the same, and peer_len stays the negotiated one's */
	if (from->ss_family == AF_INET)
		((struct sockaddr_in *)&s->peer)->sin_port =
		    ((const struct sockaddr_in *)from)->sin_port;
	else
		((struct sockaddr_in6 *)&s->peer)->sin6_port =
		    ((const struct sockaddr_in6 *)from)->sin6_port;
	s->latched++;
	s->cand_run = 0;
	return 1;
}

/* The run just taken, oldest sequence number first, to the media, which then has it as if
 * the peer had been heard from the start; 1 when the media took any. */
static int
hand_held(struct mediasock *s, const struct mediasock_reader *r)
{
	int took = 0;

	while (s->nheld > 0) {
		int first = 0;

		/* within MEDIASOCK_LATCH_HOLD of the highest: its distance back orders them */
		for (int i = 1; i < s->nheld; i++)
			if ((uint16_t)(s->cand_seq - s->held[i].seq) >
			    (uint16_t)(s->cand_seq - s->held[first].seq))
				first = i;
		if (r->take(r->arg, s->held[first].buf, s->held[first].len) == 1)
			took = 1;
		s->held[first] = s->held[--s->nheld];
	}
	return took;
}

/* Reads what is queued, at most DRAIN_MAX datagrams: 0, or -1 when the socket failed. */
static int
drain(struct mediasock *s, const struct mediasock_reader *r)
{
	for (int i = 0; i < DRAIN_MAX; i++) {
		uint8_t buf[MEDIASOCK_DATAGRAM_MAX];
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		uint32_t stream;
		uint16_t seq;
		ssize_t n;

		/* MSG_TRUNC gives the real length of a longer datagram, which is then refused. */
		n = recvfrom(s->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from,
		    &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			/* An ICMP error from an earlier send: not the socket's failure. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			return -1;
		}
		if (!same_endpoint(&from, &s->peer) && ((s->heard &&
		    s->silent < MEDIASOCK_RELATCH_STEPS) || !same_host(s, &from) ||
		    (size_t)n > sizeof(buf) || r->ident(r->arg, buf, (size_t)n, &stream,
		    &seq) != 0 || !latch(s, &from, stream, seq, buf, (size_t)n))) {
			s->strangers++;
			continue;
		}
		/* the NAT'd far end just latched: its run first, in sequence */
		if (s->nheld > 0 && hand_held(s, r)) {
			s->heard = 1;
			s->silent = 0;
		}
		/* from the peer (or the NAT'd far end just latched): the media's, whole or not */
		if (r->take(r->arg, buf, (size_t)n > sizeof(buf) ? 0 : (size_t)n) == 1) {
			s->heard = 1;
			s->silent = 0;
		}
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

int
mediasock_step(struct mediasock *s, const atomic_int *abort, const struct mediasock_reader *r)
{
	long left;

	if (!s->clock)
		return -1;
	s->next.tv_nsec += STEP_NS;
	if (s->next.tv_nsec >= 1000000000L) {
		s->next.tv_sec++;
		s->next.tv_nsec -= 1000000000L;
	}
	/* Bounded: the wait ends at the step's time whatever arrives. */
	while ((left = ns_until(&s->next)) > 0) {
		struct pollfd pfd = { s->fd, POLLIN, 0 };

		if (abort && atomic_load(abort))
			return -1;
		if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) > 0 && drain(s, r) != 0)
			return -1;
	}
	if (drain(s, r) != 0)
		return -1;
	if (s->silent < MEDIASOCK_RELATCH_STEPS)
		s->silent++;
	/* A worker that was not scheduled for a while sends one step late rather than a
	 * burst of them: the far end's buffer takes a late packet, not a flood. */
	if (left < -BEHIND_MAX_NS)
		clock_gettime(CLOCK_MONOTONIC, &s->next);
	return abort && atomic_load(abort) ? -1 : 0;
}

int
mediasock_send(struct mediasock *s, const uint8_t *buf, size_t len)
{
	return s->peer_len > 0 && sendto(s->fd, buf, len, 0, (struct sockaddr *)&s->peer,
	    s->peer_len) == (ssize_t)len ? 0 : -1;
}

void
mediasock_counts(const struct mediasock *s, uint64_t *strangers, uint64_t *latched)
{
	*strangers = s->strangers;
	*latched = s->latched;
}

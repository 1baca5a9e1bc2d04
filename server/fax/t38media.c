/* t38media.c: T.38 IFPs over UDPTL on one UDP socket, symmetric like rtpaudio.c: we send
 * from the port we receive on, only packets from the negotiated peer's address and port are
 * read as UDPTL, and a far end behind a NAT that picks its own source port is taken at that
 * port once it has sent LATCH_RUN packets in sequence from it before the negotiated port was
 * heard from. udptl.c puts the IFPs back in order and restores what redundancy or FEC can;
 * what is missing is given up after the hold, or when the far end has been quiet for
 * T38MEDIA_QUIET_STEPS. Nothing here blocks beyond one step's wait. */
#include "t38media.h"

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

#define DRAIN_MAX     64             /* datagrams read at once: a flood cannot hold a step */
#define BEHIND_MAX_NS 200000000L     /* further behind the clock than this: start it again */
#define STEP_NS       (MEDIA_TICK_MS * 1000000L)
#define LATCH_RUN     4              /* packets in sequence from another port of the peer's
                                      * address before it is taken as the peer */

struct t38media {
	int                 fd;
	struct sockaddr_storage local;
	socklen_t           local_len;
	struct media_peer   peer;
	struct udptl_config cfg;
	struct udptl       *u;
	int                 started;
	struct timespec     next;        /* when the next step is due */
	struct media_stats  st;
	int                 heard;       /* a packet from the peer was taken: no latching now */
	int                 quiet;       /* steps since a packet came */
	uint16_t            last_seq;
	struct sockaddr_storage cand;    /* a source on the peer's address, another port */
	uint16_t            cand_seq;
	int                 cand_run;
};

void *
t38media_new(const struct t38media_opts *o, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	struct t38media *t;
	int rc, lo = o->port_min, hi = o->port_max;

	if (lo < 0 || hi > 65535 || lo > hi || (lo == 0) != (hi == 0)) {
		snprintf(err, errlen, "UDPTL port range %d-%d", lo, hi);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if ((rc = getaddrinfo(o->bind_addr ? o->bind_addr : "0.0.0.0", "0", &hints, &ai)) != 0) {
		snprintf(err, errlen, "UDPTL address '%s': %s", o->bind_addr ? o->bind_addr : "",
		    gai_strerror(rc));
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->cfg.ec = UDPTL_EC_REDUNDANCY;
	t->cfg.redundancy = 3;
	t->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		snprintf(err, errlen, "UDPTL socket: %s", strerror(errno));
		goto fail;
	}
	memcpy(&t->local, ai->ai_addr, ai->ai_addrlen);
	t->local_len = ai->ai_addrlen;
	rc = -1;
	for (int p = lo; lo == 0 || p <= hi; p++) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->local;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->local;

		if (t->local.ss_family == AF_INET)
			s4->sin_port = htons((uint16_t)p);
		else
			s6->sin6_port = htons((uint16_t)p);
		if ((rc = bind(t->fd, (struct sockaddr *)&t->local, t->local_len)) == 0 ||
		    errno != EADDRINUSE || lo == 0)
			break;
	}
	if (rc != 0) {
		snprintf(err, errlen, "UDPTL port in %d-%d: %s", lo, hi, lo == 0 || errno !=
		    EADDRINUSE ? strerror(errno) : "all taken");
		goto fail;
	}
	t->local_len = sizeof(t->local);
	if (getsockname(t->fd, (struct sockaddr *)&t->local, &t->local_len) != 0) {
		snprintf(err, errlen, "UDPTL socket: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	return t;
fail:
	freeaddrinfo(ai);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return NULL;
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

	memcpy(addr, &t->local, t->local_len);
	*len = t->local_len;
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
	    peer->addr.ss_family != t->local.ss_family) {
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
	clock_gettime(CLOCK_MONOTONIC, &t->next);
	return 0;
}

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
same_host(const struct t38media *t, const struct sockaddr_storage *from)
{
	if (from->ss_family != t->peer.addr.ss_family)
		return 0;
	if (from->ss_family == AF_INET)
		return ((const struct sockaddr_in *)from)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)&t->peer.addr)->sin_addr.s_addr;
	return from->ss_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
	    &((const struct sockaddr_in6 *)&t->peer.addr)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* A packet from another port of the peer's address, before the peer was heard: 1 when that
 * source has now sent LATCH_RUN in sequence and becomes the peer. */
static int
latch(struct t38media *t, const struct sockaddr_storage *from, uint16_t seq)
{
	if (t->cand_run > 0 && same_endpoint(from, &t->cand) &&
	    seq == (uint16_t)(t->cand_seq + 1))
		t->cand_run++;
	else {
		t->cand = *from;
		t->cand_run = 1;
	}
	t->cand_seq = seq;
	if (t->cand_run < LATCH_RUN)
		return 0;
	if (from->ss_family == AF_INET)
		((struct sockaddr_in *)&t->peer.addr)->sin_port =
		    ((const struct sockaddr_in *)from)->sin_port;
	else
		((struct sockaddr_in6 *)&t->peer.addr)->sin6_port =
		    ((const struct sockaddr_in6 *)from)->sin6_port;
	t->st.latched++;
	return 1;
}

/* Reads what is queued, at most DRAIN_MAX datagrams: 0, or -1 when the socket failed. */
static int
drain(struct t38media *t)
{
	for (int i = 0; i < DRAIN_MAX; i++) {
		uint8_t buf[UDPTL_DATAGRAM_MAX];
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		struct udptl_packet p;
		char why[128];
		ssize_t n;

		/* MSG_TRUNC gives the real length of a longer datagram, which is then refused. */
		n = recvfrom(t->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from,
		    &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			/* An ICMP error from an earlier send: not the socket's failure. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			return -1;
		}
		if (!same_endpoint(&from, &t->peer.addr)) {
			/* the NAT'd far end (see the top): a run of ours from its address */
			if (t->heard || !same_host(t, &from) || (size_t)n > sizeof(buf) ||
			    udptl_parse(buf, (size_t)n, &p, why, sizeof(why)) != 0 ||
			    !latch(t, &from, p.seq)) {
				t->st.strangers++;
				continue;
			}
		}
		if ((size_t)n > sizeof(buf) || udptl_read(t->u, buf, (size_t)n, why,
		    sizeof(why)) != 0) {
			t->st.malformed++;
			continue;
		}
		t->heard = 1;
		t->quiet = 0;
		t->st.received++;
	}
	return 0;
}

static long
ns_until(const struct timespec *when)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (when->tv_sec - now.tv_sec) * 1000000000L + (when->tv_nsec - now.tv_nsec);
}

static int
tm_step(void *m, const atomic_int *abort)
{
	struct t38media *t = m;
	long left;

	if (!t->started)
		return -1;
	t->next.tv_nsec += STEP_NS;
	if (t->next.tv_nsec >= 1000000000L) {
		t->next.tv_sec++;
		t->next.tv_nsec -= 1000000000L;
	}
	if (t->quiet < T38MEDIA_QUIET_STEPS)
		t->quiet++;
	/* Bounded: the wait ends at the step's time whatever arrives. */
	while ((left = ns_until(&t->next)) > 0) {
		struct pollfd pfd = { t->fd, POLLIN, 0 };

		if (abort && atomic_load(abort))
			return -1;
		if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) > 0 && drain(t) != 0)
			return -1;
	}
	if (drain(t) != 0)
		return -1;
	/* the far end has gone quiet: nothing more will fill the gaps, hand on what is held */
	if (t->quiet == T38MEDIA_QUIET_STEPS)
		udptl_flush(t->u);
	if (left < -BEHIND_MAX_NS)
		clock_gettime(CLOCK_MONOTONIC, &t->next);
	return abort && atomic_load(abort) ? -1 : 0;
}

static int
tm_send(void *m, const uint8_t *unit, size_t len)
{
	struct t38media *t = m;
	uint8_t buf[UDPTL_DATAGRAM_MAX];
	int n;

	if (!t->started)
		return -1;
	if ((n = udptl_write(t->u, unit, len, buf, sizeof(buf), NULL, 0)) < 0 ||
	    sendto(t->fd, buf, (size_t)n, 0, (struct sockaddr *)&t->peer.addr,
	    t->peer.addrlen) != n) {
		t->st.send_errors++;
		return -1;
	}
	t->st.sent++;
	return 0;
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
	if (t->fd >= 0)
		close(t->fd);
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

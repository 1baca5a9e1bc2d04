/* test_t38media.c: T.38 over UDPTL as a call's media (t38media.c) on loopback UDP: IFPs both
 * ways, in order with their sequence numbers; packets from strangers counted and dropped; a
 * far end that sends from another port of its address taken there after a run, and answered
 * there; malformed and oversized datagrams counted; IFPs lost on the way restored from
 * redundancy, and those beyond it given up once the far end goes quiet; keepalives to a far
 * end that has not sent yet, and none once it has. Waits are bounded counts of 20 ms steps;
 * nothing is timed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "t38media.h"

#define STEPS_MAX 500                  /* 10 s of steps: far beyond what any wait needs */

static size_t
ifp_of(unsigned i, uint8_t *buf)
{
	size_t len = 2 + i % 50;

	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(i + j * 3);
	return len;
}

static void *
media_on(const char *addr)
{
	struct t38media_opts o = { .bind_addr = addr };
	char err[160] = "";
	void *m = t38media_new(&o, err, sizeof(err));

	if (m == NULL)
		fprintf(stderr, "t38media_new: %s\n", err);
	return m;
}

static struct media_peer
peer_of(const struct sockaddr_storage *a, socklen_t len)
{
	struct media_peer p;

	memset(&p, 0, sizeof(p));
	memcpy(&p.addr, a, len);
	p.addrlen = len;
	p.codec = MEDIA_T38;
	return p;
}

static struct media_peer
peer_of_media(void *m)
{
	struct sockaddr_storage a;
	socklen_t len;

	t38media_ops.local(m, &a, &len);
	return peer_of(&a, len);
}

/* A plain UDP socket on addr; its address in *a. */
static int
udp_on(const char *addr, struct sockaddr_storage *a, socklen_t *len)
{
	struct sockaddr_in s;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	inet_pton(AF_INET, addr, &s.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0)
		return -1;
	*len = sizeof(*a);
	getsockname(fd, (struct sockaddr *)a, len);
	return fd;
}

/* Receives what m has: checks each against what was sent (numbered from first), counts. */
static void
take(void *m, unsigned first, unsigned *got, unsigned *bad)
{
	uint8_t buf[UDPTL_IFP_MAX], want[UDPTL_IFP_MAX];
	int n;

	while ((n = t38media_ops.recv(m, buf, sizeof(buf))) > 0) {
		uint16_t seq = t38media_last_seq(m);
		size_t len = ifp_of(first + seq, want);

		if ((size_t)n != len || memcmp(buf, want, len) != 0 || seq < *got)
			(*bad)++;
		*got = seq + 1u;
	}
}

/* Steps m (at most STEPS_MAX) until IFPs up to want have been taken (see take). */
static void
step_take(void *m, unsigned want, unsigned *got, unsigned *bad)
{
	for (unsigned i = 0; i < STEPS_MAX && *got < want; i++) {
		CHECK_INT(t38media_ops.step(m, NULL), 0);
		take(m, 0, got, bad);
	}
}

static void
test_both_ways(void)
{
	void *a = media_on("127.0.0.1"), *b = media_on("127.0.0.1");
	struct media_peer pa, pb;
	struct media_stats sa, sb;
	struct udptl_stats ub;
	uint8_t ifp[UDPTL_IFP_MAX];
	unsigned got_a = 0, got_b = 0, bad = 0;
	char err[160];

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	pa = peer_of_media(a);
	pb = peer_of_media(b);
	CHECK_INT(t38media_ops.codec(a), 0);
	CHECK_INT(t38media_ops.start(a, &pb, err, sizeof(err)), 0);
	CHECK_INT(t38media_ops.start(b, &pa, err, sizeof(err)), 0);
	CHECK_INT(t38media_ops.codec(a), MEDIA_T38);
	CHECK_INT(t38media_ops.kind, MEDIA_IFP);
	for (unsigned i = 0; i < STEPS_MAX && (got_a < 60 || got_b < 60); i++) {
		if (i < 60) {
			CHECK_INT(t38media_ops.send(a, ifp, ifp_of(i, ifp)), 0);
			CHECK_INT(t38media_ops.send(b, ifp, ifp_of(1000 + i, ifp)), 0);
		}
		CHECK_INT(t38media_ops.step(a, NULL), 0);
		CHECK_INT(t38media_ops.step(b, NULL), 0);
		take(b, 0, &got_b, &bad);
		take(a, 1000, &got_a, &bad);
	}
	CHECK_INT(got_a, 60);
	CHECK_INT(got_b, 60);
	CHECK_INT(bad, 0);
	t38media_ops.stats(a, &sa);
	t38media_ops.stats(b, &sb);
	CHECK_INT(sa.sent, 60);
	CHECK_INT(sb.received, 60);
	CHECK_INT(sb.strangers + sb.malformed + sb.lost, 0);
	t38media_udptl_stats(b, &ub);
	CHECK_INT(ub.delivered, 60);
	/* started once only, and only for T.38 */
	CHECK_INT(t38media_ops.start(a, &pb, err, sizeof(err)), -1);
	t38media_ops.free(a);
	t38media_ops.free(b);
}

/* A peer we drive by hand (a plain socket writing with its own udptl): strangers, malformed
 * and oversized datagrams, losses restored from redundancy, and a gap given up once quiet. */
static void
test_raw_peer(void)
{
	struct udptl_config red2 = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 2 };
	struct udptl_config none = { .ec = UDPTL_EC_NONE };
	void *b = media_on("127.0.0.1");
	struct sockaddr_storage ra, sa, ba;
	socklen_t ralen, salen, balen;
	int r = udp_on("127.0.0.1", &ra, &ralen), s = udp_on("127.0.0.2", &sa, &salen);
	struct udptl *w;
	struct media_peer pr;
	struct media_stats st;
	struct udptl_stats us;
	uint8_t ifp[UDPTL_IFP_MAX], dg[UDPTL_DATAGRAM_MAX], big[2000];
	unsigned got = 0, bad = 0, i;
	char err[160];
	int n;

	CHECK(b != NULL && r >= 0 && s >= 0);
	if (b == NULL || r < 0 || s < 0)
		return;
	pr = peer_of(&ra, ralen);
	CHECK_INT(t38media_set_udptl(b, &(struct udptl_config){ .ec = 7 }, err, sizeof(err)), -1);
	CHECK_INT(t38media_set_udptl(b, &red2, err, sizeof(err)), 0);
	CHECK_INT(t38media_ops.start(b, &pr, err, sizeof(err)), 0);
	CHECK_INT(t38media_set_udptl(b, &red2, err, sizeof(err)), -1);
	t38media_ops.local(b, &ba, &balen);

	/* a stranger on another address sends good packets: none taken */
	w = udptl_new(&none, NULL, 0);
	for (i = 0; i < 6; i++) {
		n = udptl_write(w, ifp, ifp_of(i, ifp), dg, sizeof(dg), NULL, 0);
		CHECK(sendto(s, dg, (size_t)n, 0, (struct sockaddr *)&ba, balen) == n);
	}
	udptl_free(w);
	/* the peer sends garbage and a datagram too long */
	CHECK(sendto(r, "\x00\x01\x05", 3, 0, (struct sockaddr *)&ba, balen) == 3);
	memset(big, 0, sizeof(big));
	CHECK(sendto(r, big, sizeof(big), 0, (struct sockaddr *)&ba, balen) ==
	    (ssize_t)sizeof(big));
	/* then 40 IFPs with redundancy 2, losing 10, 20 and 21 */
	w = udptl_new(&red2, NULL, 0);
	for (i = 0; i < 40; i++) {
		n = udptl_write(w, ifp, ifp_of(i, ifp), dg, sizeof(dg), NULL, 0);
		if (i != 10 && i != 20 && i != 21)
			CHECK(sendto(r, dg, (size_t)n, 0, (struct sockaddr *)&ba, balen) == n);
	}
	udptl_free(w);
	step_take(b, 40, &got, &bad);
	CHECK_INT(got, 40);
	CHECK_INT(bad, 0);
	t38media_ops.stats(b, &st);
	CHECK_INT(st.strangers, 6);
	CHECK_INT(st.malformed, 2);
	CHECK_INT(st.received, 37);
	CHECK_INT(st.lost, 0);
	t38media_udptl_stats(b, &us);
	CHECK_INT(us.recovered_redundancy, 3);
	t38media_ops.free(b);

	/* without error recovery: 3 lost and the last two held behind it until the peer has
	 * been quiet for T38MEDIA_QUIET_STEPS */
	b = media_on("127.0.0.1");
	CHECK(b != NULL);
	if (b == NULL)
		goto out;
	CHECK_INT(t38media_ops.start(b, &pr, err, sizeof(err)), 0);
	t38media_ops.local(b, &ba, &balen);
	w = udptl_new(&none, NULL, 0);
	for (i = 0; i < 6; i++) {
		n = udptl_write(w, ifp, ifp_of(i, ifp), dg, sizeof(dg), NULL, 0);
		if (i != 3)
			CHECK(sendto(r, dg, (size_t)n, 0, (struct sockaddr *)&ba, balen) == n);
	}
	udptl_free(w);
	got = 0;
	step_take(b, 6, &got, &bad);
	CHECK_INT(got, 6);
	CHECK_INT(bad, 0);
	t38media_ops.stats(b, &st);
	CHECK_INT(st.lost, 1);
	t38media_ops.free(b);
out:
	close(r);
	close(s);
}

/* The far end's NAT sends from another port than the SDP said: after a run of packets in
 * sequence from there, taken and answered there. */
static void
test_latch(void)
{
	void *a = media_on("127.0.0.1"), *c = media_on("127.0.0.1");
	struct sockaddr_storage da;
	socklen_t dalen;
	int d = udp_on("127.0.0.1", &da, &dalen);     /* the port the SDP named: silent */
	struct media_peer pc, pd;
	struct media_stats st;
	uint8_t ifp[UDPTL_IFP_MAX];
	unsigned got_a = 0, got_c = 0, sent_c = 0, bad = 0;
	char err[160];

	CHECK(a != NULL && c != NULL && d >= 0);
	if (a == NULL || c == NULL || d < 0)
		return;
	pc = peer_of_media(c);
	pd = peer_of(&da, dalen);
	CHECK_INT(t38media_ops.start(a, &pc, err, sizeof(err)), 0);
	CHECK_INT(t38media_ops.start(c, &pd, err, sizeof(err)), 0);
	for (unsigned i = 0; i < STEPS_MAX && (got_a < 20 || got_c < 20); i++) {
		if (i < 20)
			CHECK_INT(t38media_ops.send(a, ifp, ifp_of(i, ifp)), 0);
		/* c answers once it has heard, where the packets came from */
		if (got_c > 0 && sent_c < 20)
			CHECK_INT(t38media_ops.send(c, ifp, ifp_of(500 + sent_c++, ifp)), 0);
		CHECK_INT(t38media_ops.step(a, NULL), 0);
		CHECK_INT(t38media_ops.step(c, NULL), 0);
		take(c, 0, &got_c, &bad);
		take(a, 500, &got_a, &bad);
	}
	t38media_ops.stats(c, &st);
	CHECK_INT(st.latched, 1);
	CHECK_INT(st.strangers, 3);             /* the run before it was taken */
	CHECK_INT(got_c, 20);                   /* those three from the fourth's redundancy */
	CHECK_INT(got_a, 20);
	CHECK_INT(bad, 0);
	t38media_ops.free(a);
	t38media_ops.free(c);
	close(d);
}

/* A datagram waiting on the plain socket fd (never blocks): its length, or 0. */
static ssize_t
pending(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);

	return n > 0 ? n : 0;
}

/* The same, on a network that reorders and loses: the far end's first packets come from the
 * NAT's port out of order (1 0 3 2 5 4 7 ...) and one is lost, without redundancy to bring
 * anything back. The run is taken all the same, and every packet of it reaches the fax engine
 * in sequence: the first are the start of the call (the far end's CSI), lost for good if a
 * latch throws them away. */
static void
test_latch_reordered(void)
{
	struct udptl_config none = { .ec = UDPTL_EC_NONE };
	static const unsigned order[] = { 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15 };
	void *b = media_on("127.0.0.1");
	struct sockaddr_storage da, xa, ba;
	socklen_t dalen, xalen, balen;
	int d = udp_on("127.0.0.1", &da, &dalen), x = udp_on("127.0.0.1", &xa, &xalen);
	uint8_t ifp[UDPTL_IFP_MAX], dg[16][UDPTL_DATAGRAM_MAX];
	int len[16];
	struct media_peer pd;
	struct media_stats st;
	struct udptl *w;
	unsigned got = 0, bad = 0, i;
	char err[160];

	CHECK(b != NULL && d >= 0 && x >= 0);
	if (b == NULL || d < 0 || x < 0)
		return;
	pd = peer_of(&da, dalen);        /* the SDP named d; the far end sends from x */
	CHECK_INT(t38media_set_udptl(b, &none, err, sizeof(err)), 0);
	CHECK_INT(t38media_ops.start(b, &pd, err, sizeof(err)), 0);
	t38media_ops.local(b, &ba, &balen);
	w = udptl_new(&none, NULL, 0);
	for (i = 0; i < 16; i++)
		len[i] = udptl_write(w, ifp, ifp_of(i, ifp), dg[i], sizeof(dg[i]), NULL, 0);
	udptl_free(w);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)   /* 14 is lost on the way */
		CHECK(sendto(x, dg[order[i]], (size_t)len[order[i]], 0, (struct sockaddr *)&ba,
		    balen) == len[order[i]]);
	step_take(b, 16, &got, &bad);
	CHECK_INT(got, 16);
	CHECK_INT(bad, 0);
	t38media_ops.stats(b, &st);
	CHECK_INT(st.latched, 1);
	CHECK_INT(st.lost, 1);                  /* 14, and only 14 */
	CHECK_INT(st.received, 15);
	/* and ours go to where the far end sends from */
	CHECK_INT(t38media_ops.send(b, ifp, ifp_of(0, ifp)), 0);
	{
		struct pollfd pf = { x, POLLIN, 0 };

		CHECK_INT(poll(&pf, 1, 2000), 1);
		CHECK(pending(x, dg[0], sizeof(dg[0])) > 0);
	}
	t38media_ops.free(b);
	close(d);
	close(x);
}

/* Steps m until a datagram comes to fd (at most STEPS_MAX): its length, or 0. The steps taken
 * in *steps. */
static ssize_t
step_until_sent(void *m, int fd, uint8_t *buf, size_t cap, unsigned *steps)
{
	ssize_t n = 0;

	for (*steps = 0; *steps < STEPS_MAX && (n = pending(fd, buf, cap)) == 0; (*steps)++)
		CHECK_INT(t38media_ops.step(m, NULL), 0);
	return n;
}

/* A far end that sends only once it has heard from us (a media relay that latches): our
 * keepalive reaches it though the fax engine says nothing, first a no-signal indicator, then
 * our last datagram again; once the far end has sent, no more. */
static void
test_keepalive(void)
{
	struct udptl_config none = { .ec = UDPTL_EC_NONE };
	void *a = media_on("127.0.0.1");
	struct sockaddr_storage ra, aa;
	socklen_t ralen, aalen;
	int r = udp_on("127.0.0.1", &ra, &ralen);
	struct media_peer pr;
	struct media_stats st;
	struct udptl_packet p;
	struct udptl *w;
	uint8_t dg[UDPTL_DATAGRAM_MAX], again[UDPTL_DATAGRAM_MAX], ifp[UDPTL_IFP_MAX];
	unsigned steps, i;
	ssize_t n, m;
	char err[160];

	CHECK(a != NULL && r >= 0);
	if (a == NULL || r < 0)
		return;
	pr = peer_of(&ra, ralen);
	CHECK_INT(t38media_set_udptl(a, &none, err, sizeof(err)), 0);
	CHECK_INT(t38media_ops.start(a, &pr, err, sizeof(err)), 0);
	t38media_ops.local(a, &aa, &aalen);

	/* nothing sent by the engine: a no-signal indicator, once a second's worth of steps */
	n = step_until_sent(a, r, dg, sizeof(dg), &steps);
	CHECK(n > 0);
	CHECK_INT(steps, T38MEDIA_KEEPALIVE_STEPS);
	CHECK_INT(udptl_parse(dg, (size_t)n, &p, err, sizeof(err)), 0);
	CHECK_INT(p.seq, 0);
	CHECK_INT(p.ifp_len, 1);
	CHECK_INT(p.ifp_len == 1 ? p.ifp[0] : 0xff, 0x00);
	/* the engine sends an IFP; a second later it comes again, the same datagram */
	CHECK_INT(t38media_ops.send(a, ifp, ifp_of(7, ifp)), 0);
	n = pending(r, dg, sizeof(dg));
	CHECK(n > 0);
	m = step_until_sent(a, r, again, sizeof(again), &steps);
	CHECK_INT(steps, T38MEDIA_KEEPALIVE_STEPS);
	CHECK(m == n && memcmp(dg, again, (size_t)n) == 0);
	t38media_ops.stats(a, &st);
	CHECK_INT(st.keepalives, 2);
	CHECK_INT(st.sent, 2);                 /* the indicator and the IFP; the repeat is not */

	/* the far end sends: no keepalive after it */
	w = udptl_new(&none, NULL, 0);
	n = udptl_write(w, ifp, ifp_of(1, ifp), dg, sizeof(dg), NULL, 0);
	udptl_free(w);
	CHECK(sendto(r, dg, (size_t)n, 0, (struct sockaddr *)&aa, aalen) == n);
	for (i = 0; i < STEPS_MAX && st.received == 0; i++) {
		CHECK_INT(t38media_ops.step(a, NULL), 0);
		t38media_ops.stats(a, &st);
	}
	CHECK_INT(st.received, 1);
	for (i = 0; i < 3 * T38MEDIA_KEEPALIVE_STEPS; i++)
		CHECK_INT(t38media_ops.step(a, NULL), 0);
	CHECK_INT(pending(r, dg, sizeof(dg)), 0);
	t38media_ops.stats(a, &st);
	CHECK_INT(st.keepalives, 2);
	t38media_ops.free(a);
	close(r);
}

int
main(void)
{
	test_both_ways();
	test_raw_peer();
	test_latch();
	test_latch_reordered();
	test_keepalive();
	if (check_failures) {
		fprintf(stderr, "test_t38media: %d of %d checks failed\n", check_failures,
		    check_count);
		return 1;
	}
	printf("test_t38media: %d checks passed\n", check_count);
	return 0;
}

/* test_rtpfax.c: real fax calls over RTP on loopback UDP: two spandsp endpoints, each on its
 * own thread and its own socket (rtpaudio.c), send a 3-page document in real time with PCMA
 * and with PCMU, and every received page equals the sent one pixel for pixel. While one call
 * runs, a stranger sends RTP to the receiver from other addresses: dropped and counted, the
 * fax still goes through. Another call passes through a relay that reorders and repeats
 * packets and drops some of silence: the jitter buffer puts them back in order, drops the
 * copies and fills the gaps. The three calls run at once. First the media's refusals, what
 * it drops from the peer itself, and an abort and a hangup that end a call. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "faxcall.h"
#include "faxpages.h"
#include "mediasock.h"
#include "rtp.h"
#include "rtpaudio.h"

#define PAGES      3
#define YRES       196.0f
#define CALL_MAX_S 300           /* of line time: a call that has not ended by then failed */

static char dir[] = "/tmp/ncfx-rtpfax-XXXXXX";

struct seen {
	atomic_int connected, pages, last_page;
};

static void
progress(const struct faxcall_progress *p, void *arg)
{
	struct seen *s = arg;

	if (p->event == FAXCALL_CONNECTED)
		atomic_fetch_add(&s->connected, 1);
	else if (p->event == FAXCALL_PAGE) {
		atomic_fetch_add(&s->pages, 1);
		atomic_store(&s->last_page, p->page);
	}
}

/* One side of a call: its media, its options, what came of it. */
struct end {
	void                     *media;
	struct faxcall_media_opts o;
	struct faxcall_result     r;
	int                       rc;
	struct seen               seen;
	struct media_stats        st;
};

static void *
run_end(void *arg)
{
	struct end *e = arg;

	e->rc = faxcall_media_run(&e->o, &e->r);
	rtpaudio_ops.stats(e->media, &e->st);
	return NULL;
}

static void *
new_media(void)
{
	struct rtpaudio_opts ro = { "127.0.0.1", 0, 0, 0 };
	char err[160];
	void *m = rtpaudio_new(&ro, err, sizeof(err));

	if (m == NULL)
		fprintf(stderr, "rtpaudio_new: %s\n", err);
	return m;
}

static void
addr_of(void *m, struct sockaddr_in *sa)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	rtpaudio_ops.local(m, &ss, &len);
	memcpy(sa, &ss, sizeof(*sa));
}

static int
start(void *m, const struct sockaddr_in *peer, int codec)
{
	struct media_peer p;
	char err[160] = "";

	memset(&p, 0, sizeof(p));
	memcpy(&p.addr, peer, sizeof(*peer));
	p.addrlen = sizeof(*peer);
	p.codec = codec;
	p.pt = codec == MEDIA_PCMA ? RTP_PT_PCMA : RTP_PT_PCMU;
	if (rtpaudio_ops.start(m, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "start: %s\n", err);
		return -1;
	}
	return 0;
}

/* A bound UDP socket on addr (0: any port), or -1. */
static int
udp_on(const char *addr, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sa->sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) != 0) {
		perror("udp socket");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A stranger: RTP of the call's payload type, loud, with plausible numbers, sent to the
 * receiver every 10 ms from another port of 127.0.0.1 and from 127.0.0.2, until stopped. */
struct stranger {
	struct sockaddr_in to;
	atomic_int         stop;
	int                sent;
};

static void *
stranger_run(void *arg)
{
	struct stranger *s = arg;
	struct sockaddr_in sa[2];
	int fd[2] = { udp_on("127.0.0.1", &sa[0]), udp_on("127.0.0.2", &sa[1]) };
	uint8_t noise[160], buf[RTP_DATAGRAM_MAX];

	for (int i = 0; i < 160; i++)
		noise[i] = (uint8_t)(i * 37 + 11);
	/* Bounded: at most 10 minutes of it. */
	for (int i = 0; i < 60000 && !atomic_load(&s->stop); i++) {
		struct rtp_packet p = { 0, RTP_PT_PCMA, (uint16_t)(i * 3), (uint32_t)i * 160,
		    0x5742a11e, noise, sizeof(noise) };
		int n = rtp_build(buf, sizeof(buf), &p);

		if (fd[i % 2] >= 0 && sendto(fd[i % 2], buf, (size_t)n, 0,
		    (struct sockaddr *)&s->to, sizeof(s->to)) == n)
			s->sent++;
		nanosleep(&(struct timespec){ 0, 10000000L }, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return NULL;
}

/* A relay between the two ends: each end's peer is one of its sockets. Of the packets each
 * way, every 40th is held back and sent after the next (reordered), every 70th is sent
 * twice, and every 25th that carries silence is dropped (the gap is filled with the same
 * silence). Losing a packet of modem signal is left out: T.30 over G.711 may then fail the
 * call (a lost MCF, a retrain), which the job's retry handles, but a test must not depend on
 * where the loss fell. */
struct relay {
	int                fd[2];       /* fd[0] faces end a, fd[1] end b */
	struct sockaddr_in addr[2];     /* the relay's own addresses */
	struct sockaddr_in end[2];      /* where a and b receive */
	atomic_int         stop;
	int                dropped, swapped, doubled;
};

/* A packet of A-law silence: every payload byte the code for 0. */
static int
silent(const uint8_t *d, ssize_t n)
{
	if (n != RTP_HEADER_LEN + 160)
		return 0;
	for (ssize_t i = RTP_HEADER_LEN; i < n; i++)
		if (d[i] != 0xD5)
			return 0;
	return 1;
}

static void *
relay_run(void *arg)
{
	struct relay *r = arg;
	uint8_t held[2][RTP_DATAGRAM_MAX];
	ssize_t held_len[2] = { -1, -1 };
	long count[2] = { 0, 0 };
	time_t until = time(NULL) + 600;

	while (!atomic_load(&r->stop) && time(NULL) < until) {
		struct pollfd pfd[2] = { { r->fd[0], POLLIN, 0 }, { r->fd[1], POLLIN, 0 } };

		if (poll(pfd, 2, 100) <= 0)
			continue;
		for (int in = 0; in < 2; in++) {
			uint8_t buf[RTP_DATAGRAM_MAX];
			int out = 1 - in;
			struct sockaddr *to = (struct sockaddr *)&r->end[out];
			ssize_t n;

			if (!(pfd[in].revents & POLLIN) ||
			    (n = recv(r->fd[in], buf, sizeof(buf), MSG_DONTWAIT)) < 0)
				continue;
			count[in]++;
			if (count[in] % 25 == 0 && silent(buf, n)) {
				r->dropped++;
				continue;
			}
			if (count[in] % 40 == 0) {
				memcpy(held[in], buf, (size_t)n);
				held_len[in] = n;
				continue;
			}
			sendto(r->fd[out], buf, (size_t)n, 0, to, sizeof(r->end[out]));
			if (count[in] % 70 == 0) {
				sendto(r->fd[out], buf, (size_t)n, 0, to, sizeof(r->end[out]));
				r->doubled++;
			}
			if (held_len[in] >= 0) {
				sendto(r->fd[out], held[in], (size_t)held_len[in], 0, to,
				    sizeof(r->end[out]));
				held_len[in] = -1;
				r->swapped++;
			}
		}
	}
	return NULL;
}

/* A call from a to b over codec: sets both ends up (through the relay when given). */
static int
call_setup(struct end *a, struct end *b, int codec, struct relay *via, const char *name)
{
	static char tx[PAGES][200], rx[PAGES][200];
	static int n;
	struct sockaddr_in sa, sb;
	int i = n++;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	if ((a->media = new_media()) == NULL || (b->media = new_media()) == NULL)
		return -1;
	addr_of(a->media, &sa);
	addr_of(b->media, &sb);
	if (via) {
		via->end[0] = sa;
		via->end[1] = sb;
		if (start(a->media, &via->addr[0], codec) || start(b->media, &via->addr[1], codec))
			return -1;
	} else if (start(a->media, &sb, codec) || start(b->media, &sa, codec))
		return -1;
	snprintf(tx[i], sizeof(tx[i]), "%s/%s-tx.tif", dir, name);
	snprintf(rx[i], sizeof(rx[i]), "%s/%s-rx.tif", dir, name);
	write_doc(tx[i], PAGES, YRES);
	a->o.ops = b->o.ops = &rtpaudio_ops;
	a->o.media = a->media;
	b->o.media = b->media;
	a->o.calling = 1;
	a->o.tx_tiff = tx[i];
	a->o.ident = "+1 212 555 0100";
	b->o.rx_tiff = rx[i];
	b->o.ident = "+44 20 7946 0001";
	a->o.ecm = b->o.ecm = 1;
	a->o.max_seconds = b->o.max_seconds = CALL_MAX_S;
	a->o.progress = b->o.progress = progress;
	a->o.arg = &a->seen;
	b->o.arg = &b->seen;
	return 0;
}

static void
check_call(const char *what, struct end *a, struct end *b)
{
	fprintf(stderr, "%s: sender %s (%d), %d pages at %d bit/s, %.1f s of line; receiver %s, "
	    "%d pages; rx packets %llu, strangers %llu, late %llu, dup %llu, reordered %llu, "
	    "lost %llu, underruns %llu\n", what, a->r.reason, a->r.completion, a->r.pages_sent,
	    a->r.bit_rate, a->r.line_seconds, b->r.reason, b->r.pages_received,
	    (unsigned long long)b->st.received, (unsigned long long)b->st.strangers,
	    (unsigned long long)b->st.late, (unsigned long long)b->st.duplicates,
	    (unsigned long long)b->st.reordered, (unsigned long long)b->st.lost,
	    (unsigned long long)b->st.underruns);
	CHECK_INT(a->rc, 0);
	CHECK_INT(b->rc, 0);
	CHECK_INT(a->r.completion, 0);
	CHECK_INT(b->r.completion, 0);
	CHECK_STR(a->r.reason, "sent");
	CHECK_INT(a->r.pages_sent, PAGES);
	CHECK_INT(b->r.pages_received, PAGES);
	CHECK_INT(a->r.ecm, 1);
	CHECK_STR(a->r.remote_id, "+44 20 7946 0001");
	CHECK_STR(b->r.remote_id, "+1 212 555 0100");
	CHECK_STR(b->r.caller_seen, "+1 212 555 0100");
	CHECK_INT(matching_pages(b->o.rx_tiff, PAGES, YRES), PAGES);
	CHECK_INT(atomic_load(&a->seen.connected), 1);
	CHECK_INT(atomic_load(&a->seen.pages), PAGES);
	CHECK_INT(atomic_load(&a->seen.last_page), PAGES);
	CHECK_INT(atomic_load(&b->seen.connected), 1);
	CHECK_INT(atomic_load(&b->seen.last_page), PAGES);
	/* Both ways carried the call: some 50 packets a second each. */
	CHECK(a->st.sent > 100 && b->st.sent > 100);
	CHECK(b->st.received > 100 && a->st.received > 100);
	CHECK_INT(a->st.send_errors + b->st.send_errors, 0);
	CHECK_INT(a->st.malformed + b->st.malformed, 0);
}

/* PCMA with a stranger, PCMU, and PCMA through the impaired relay, all at once. */
static void
test_three_calls(void)
{
	struct end e[6];
	struct stranger s;
	struct relay rl;
	pthread_t th[6], st, rt;
	struct timespec t0, t1;

	memset(&s, 0, sizeof(s));
	memset(&rl, 0, sizeof(rl));
	rl.fd[0] = udp_on("127.0.0.1", &rl.addr[0]);
	rl.fd[1] = udp_on("127.0.0.1", &rl.addr[1]);
	if (rl.fd[0] < 0 || rl.fd[1] < 0 ||
	    call_setup(&e[0], &e[1], MEDIA_PCMA, NULL, "pcma") != 0 ||
	    call_setup(&e[2], &e[3], MEDIA_PCMU, NULL, "pcmu") != 0 ||
	    call_setup(&e[4], &e[5], MEDIA_PCMA, &rl, "relay") != 0) {
		CHECK(!"calls set up");
		return;
	}
	addr_of(e[1].media, &s.to);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&st, NULL, stranger_run, &s);
	pthread_create(&rt, NULL, relay_run, &rl);
	for (int i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, run_end, &e[i]);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&s.stop, 1);
	atomic_store(&rl.stop, 1);
	pthread_join(st, NULL);
	pthread_join(rt, NULL);
	fprintf(stderr, "three calls at once: %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

	check_call("PCMA", &e[0], &e[1]);
	check_call("PCMU", &e[2], &e[3]);
	check_call("relay", &e[4], &e[5]);
	/* The stranger's packets all went to the drop count, none into the fax. */
	fprintf(stderr, "stranger sent %d\n", s.sent);
	CHECK(s.sent > 100);
	CHECK(e[1].st.strangers > 100);
	CHECK(e[1].st.strangers <= (uint64_t)s.sent);
	CHECK_INT(e[0].st.strangers + e[2].st.strangers + e[3].st.strangers, 0);
	/* The relay did its damage, and the jitter buffers saw it. */
	fprintf(stderr, "relay: dropped %d, reordered %d, doubled %d\n", rl.dropped, rl.swapped,
	    rl.doubled);
	CHECK(rl.dropped > 0 && rl.swapped > 0 && rl.doubled > 0);
	CHECK(e[5].st.reordered > 0 && e[4].st.reordered > 0);
	CHECK(e[5].st.duplicates > 0 && e[4].st.duplicates > 0);
	CHECK(e[5].st.lost > 0 && e[4].st.lost > 0);
	for (int i = 0; i < 6; i++)
		rtpaudio_ops.free(e[i].media);
	close(rl.fd[0]);
	close(rl.fd[1]);
}

/* What the peer itself sends that is not our audio: another payload type (comfort noise),
 * a datagram that is no RTP, one over the cap. Then one good frame, played after the
 * jitter buffer's fixed delay of 80 ms (4 steps). */
static void
test_peer_filters(void)
{
	struct sockaddr_in me, peer;
	struct media_stats st;
	uint8_t buf[2000], frame[160], out[160];
	int fd = udp_on("127.0.0.1", &peer), played = -1;
	void *m = new_media();

	if (fd < 0 || m == NULL || start(m, &peer, MEDIA_PCMA) != 0) {
		CHECK(!"media");
		return;
	}
	addr_of(m, &me);
	memset(frame, 0x2a, sizeof(frame));
	{
		struct rtp_packet cn = { 0, 13, 1, 0, 7, frame, 1 }, good = { 1, 8, 2, 160, 7, frame,
		    160 };
		static const char junk[] = "\x40 version 1, no RTP";
		int n = rtp_build(buf, sizeof(buf), &cn);

		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
		sendto(fd, junk, sizeof(junk) - 1, 0, (struct sockaddr *)&me, sizeof(me));
		memset(buf, 0, sizeof(buf));
		buf[0] = 0x80;
		buf[1] = 8;
		sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&me, sizeof(me));
		n = rtp_build(buf, sizeof(buf), &good);
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	/* Loopback delivers at once; the steps are bounded whatever happens. */
	for (int i = 0; i < 10 && played < 0; i++) {
		CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
		CHECK_INT(rtpaudio_ops.recv(m, out, sizeof(out)), 160);
		if (memcmp(out, frame, sizeof(out)) == 0)
			played = i;
	}
	rtpaudio_ops.stats(m, &st);
	CHECK_INT(st.other_payload, 1);
	CHECK_INT(st.malformed, 2);
	CHECK_INT(st.received, 1);
	CHECK_INT(st.strangers, 0);
	CHECK_INT(played, 4);
	rtpaudio_ops.free(m);
	close(fd);
}

/* A far end behind a NAT that picks its own source port: its stream comes from another port
 * of the negotiated address. Scattered packets from there are strangers; four in sequence
 * from one stream latch the media onto that port (ours then go there too); while the latched
 * port (or the negotiated one, once heard) goes on, no other port is taken; once it has been
 * silent for MEDIASOCK_RELATCH_STEPS, a run from another port moves the media there (a NAT
 * that moved the far end's packets mid-call). */
static void
test_latch(void)
{
	struct sockaddr_in me, negotiated, natted, other, got;
	struct media_stats st;
	uint8_t buf[400], frame[160], out[160];
	int fdn = udp_on("127.0.0.1", &negotiated), fdx = udp_on("127.0.0.1", &natted);
	int fdo = udp_on("127.0.0.1", &other), played = 0;
	void *m = new_media();
	socklen_t len = sizeof(got);

	if (fdn < 0 || fdx < 0 || fdo < 0 || m == NULL ||
	    start(m, &negotiated, MEDIA_PCMA) != 0) {
		CHECK(!"media");
		return;
	}
	addr_of(m, &me);
	memset(frame, 0x33, sizeof(frame));
	/* scattered numbers from the NAT's port: never a run */
	for (int i = 0; i < 6; i++) {
		struct rtp_packet p = { 0, 8, (uint16_t)(100 + 3 * i), (uint32_t)i * 160, 9, frame,
		    160 };
		int n = rtp_build(buf, sizeof(buf), &p);

		sendto(fdx, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
	rtpaudio_ops.stats(m, &st);
	CHECK_INT(st.strangers, 6);
	CHECK_INT(st.latched, 0);
	/* a run of four from it: taken */
	for (int i = 0; i < 4; i++) {
		struct rtp_packet p = { 0, 8, (uint16_t)(200 + i), (uint32_t)(200 + i) * 160, 10,
		    frame, 160 };
		int n = rtp_build(buf, sizeof(buf), &p);

		sendto(fdx, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	for (int i = 0; i < 10 && !played; i++) {
		CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
		CHECK_INT(rtpaudio_ops.recv(m, out, sizeof(out)), 160);
		played = memcmp(out, frame, sizeof(out)) == 0;
	}
	CHECK(played);
	rtpaudio_ops.stats(m, &st);
	CHECK_INT(st.latched, 1);
	/* ours now go to the NAT's port, not the negotiated one */
	CHECK_INT(rtpaudio_ops.send(m, frame, sizeof(frame)), 0);
	{
		struct pollfd pf = { fdx, POLLIN, 0 };

		CHECK_INT(poll(&pf, 1, 2000), 1);
		CHECK((int)recvfrom(fdx, buf, sizeof(buf), 0, (struct sockaddr *)&got, &len) > 0);
		CHECK(got.sin_port == me.sin_port);
	}
	/* a run from a third port after the latch: strangers */
	for (int i = 0; i < 5; i++) {
		struct rtp_packet p = { 0, 8, (uint16_t)(300 + i), (uint32_t)(300 + i) * 160, 11,
		    frame, 160 };
		int n = rtp_build(buf, sizeof(buf), &p);

		sendto(fdo, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	{
		uint64_t before;

		rtpaudio_ops.stats(m, &st);
		before = st.strangers;
		CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
		rtpaudio_ops.stats(m, &st);
		CHECK_INT(st.strangers - before, 5);
		CHECK_INT(st.latched, 1);
	}
	/* the latched port falls silent; the third port's stream goes on: taken there */
	for (int i = 0; i < MEDIASOCK_RELATCH_STEPS; i++)
		CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
	for (int i = 0; i < 4; i++) {
		struct rtp_packet p = { 0, 8, (uint16_t)(305 + i), (uint32_t)(305 + i) * 160, 11,
		    frame, 160 };
		int n = rtp_build(buf, sizeof(buf), &p);

		sendto(fdo, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
	rtpaudio_ops.stats(m, &st);
	CHECK_INT(st.latched, 2);
	CHECK_INT(rtpaudio_ops.send(m, frame, sizeof(frame)), 0);
	{
		struct pollfd pf = { fdo, POLLIN, 0 };

		CHECK_INT(poll(&pf, 1, 2000), 1);
		CHECK((int)recvfrom(fdo, buf, sizeof(buf), 0, (struct sockaddr *)&got, &len) > 0);
		CHECK(got.sin_port == me.sin_port);
	}
	rtpaudio_ops.free(m);
	close(fdn);
	close(fdx);
	close(fdo);
}

/* Early media: started towards the early answer, which sends ring-back; started again at
 * the answer. Towards the same peer: the ring-back is dropped (the buffer starts empty) and
 * ours go on in the same stream. Towards another: ours go there, in its law, and the first
 * peer is a stranger from then on. */
static void
test_restart(void)
{
	struct sockaddr_in me, early, final;
	struct media_peer p;
	struct media_stats st;
	uint8_t buf[400], ring[160], out[160];
	int fde = udp_on("127.0.0.1", &early), fdf = udp_on("127.0.0.1", &final), heard = 0;
	void *m = new_media();
	char err[160];
	uint64_t before;

	if (fde < 0 || fdf < 0 || m == NULL || start(m, &early, MEDIA_PCMA) != 0) {
		CHECK(!"media");
		return;
	}
	addr_of(m, &me);
	memset(ring, 0x44, sizeof(ring));
	for (int i = 0; i < 3; i++) {
		struct rtp_packet r = { 0, 8, (uint16_t)(50 + i), (uint32_t)i * 160, 12, ring, 160 };
		int n = rtp_build(buf, sizeof(buf), &r);

		sendto(fde, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
	CHECK_INT(rtpaudio_ops.send(m, ring, sizeof(ring)), 0);
	/* the same peer again: what came is not played */
	memset(&p, 0, sizeof(p));
	memcpy(&p.addr, &early, sizeof(early));
	p.addrlen = sizeof(early);
	p.codec = MEDIA_PCMA;
	p.pt = RTP_PT_PCMA;
	CHECK_INT(rtpaudio_ops.restart(m, &p, err, sizeof(err)), 0);
	for (int i = 0; i < 8; i++) {
		CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
		CHECK_INT(rtpaudio_ops.recv(m, out, sizeof(out)), 160);
		heard |= memcmp(out, ring, sizeof(out)) == 0;
	}
	CHECK(!heard);
	/* another peer, in mu-law: ours go there, the early one is a stranger */
	memcpy(&p.addr, &final, sizeof(final));
	p.codec = MEDIA_PCMU;
	p.pt = RTP_PT_PCMU;
	CHECK_INT(rtpaudio_ops.restart(m, &p, err, sizeof(err)), 0);
	CHECK_INT(rtpaudio_ops.codec(m), MEDIA_PCMU);
	CHECK_INT(rtpaudio_ops.send(m, ring, sizeof(ring)), 0);
	{
		struct pollfd pf = { fdf, POLLIN, 0 };

		CHECK_INT(poll(&pf, 1, 2000), 1);
		CHECK((int)recv(fdf, buf, sizeof(buf), 0) == 172);
		CHECK_INT(buf[1] & 0x7f, RTP_PT_PCMU);
	}
	rtpaudio_ops.stats(m, &st);
	before = st.strangers;
	{
		struct rtp_packet r = { 0, 8, 60, 1600, 12, ring, 160 };
		int n = rtp_build(buf, sizeof(buf), &r);

		sendto(fde, buf, (size_t)n, 0, (struct sockaddr *)&me, sizeof(me));
	}
	CHECK_INT(rtpaudio_ops.step(m, NULL), 0);
	rtpaudio_ops.stats(m, &st);
	CHECK_INT(st.strangers - before, 1);
	rtpaudio_ops.free(m);
	close(fde);
	close(fdf);
}

/* What the media refuses, and a receiver abandoned from another thread. */
static void *
set_later(void *arg)
{
	nanosleep(&(struct timespec){ 0, 300000000L }, NULL);
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

static void
test_refusals_and_abort(void)
{
	struct rtpaudio_opts ro = { "127.0.0.1", 0, 0, 0 };
	struct faxcall_media_opts o;
	struct faxcall_result r;
	struct sockaddr_in peer;
	struct media_peer p;
	char err[160] = "", rx[200], tx[200];
	atomic_int abort_flag = 0;
	pthread_t th;
	void *m;

	ro.bind_addr = "not-an-address";
	CHECK(rtpaudio_new(&ro, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "not-an-address");
	ro.bind_addr = "127.0.0.1";
	ro.depth_ms = 30;
	CHECK(rtpaudio_new(&ro, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "jitter");
	ro.depth_ms = 0;
	ro.port_min = 20000;
	ro.port_max = 10000;
	CHECK(rtpaudio_new(&ro, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "port range");
	ro.port_min = ro.port_max = 0;
	if ((m = rtpaudio_new(&ro, err, sizeof(err))) == NULL) {
		CHECK(!"media");
		return;
	}
	/* Not started: no fax on it. */
	memset(&o, 0, sizeof(o));
	snprintf(rx, sizeof(rx), "%s/abort-rx.tif", dir);
	o.ops = &rtpaudio_ops;
	o.media = m;
	o.rx_tiff = rx;
	CHECK_INT(faxcall_media_run(&o, &r), -1);
	CHECK_CONTAINS(r.reason, "not started");
	addr_of(m, &peer);
	memset(&p, 0, sizeof(p));
	memcpy(&p.addr, &peer, sizeof(peer));
	p.addrlen = sizeof(peer);
	p.codec = MEDIA_T38;
	CHECK_INT(rtpaudio_ops.start(m, &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "G.711");
	/* Started towards a port where no one answers, then abandoned: a dropped call. */
	peer.sin_port = htons(9);
	CHECK_INT(start(m, &peer, MEDIA_PCMU), 0);
	CHECK_INT(rtpaudio_ops.codec(m), MEDIA_PCMU);
	o.abort = &abort_flag;
	pthread_create(&th, NULL, set_later, &abort_flag);
	CHECK_INT(faxcall_media_run(&o, &r), 0);
	pthread_join(th, NULL);
	CHECK_INT(faxcall_class(r.completion), FAXCALL_RETRY);
	CHECK(strcmp(r.reason, "sent") != 0);
	CHECK_INT(r.pages_received, 0);
	CHECK(r.line_seconds < 60);
	/* The far end hangs up (the signalling's flag): the same, on a sending side. */
	abort_flag = 0;
	o.abort = NULL;
	o.hangup = &abort_flag;
	o.calling = 1;
	snprintf(tx, sizeof(tx), "%s/hangup-tx.tif", dir);
	write_doc(tx, 1, YRES);
	o.tx_tiff = tx;
	pthread_create(&th, NULL, set_later, &abort_flag);
	CHECK_INT(faxcall_media_run(&o, &r), 0);
	pthread_join(th, NULL);
	CHECK_INT(faxcall_class(r.completion), FAXCALL_RETRY);
	CHECK_INT(r.pages_sent, 0);
	CHECK(r.line_seconds < 60);
	rtpaudio_ops.free(m);
	rtpaudio_ops.free(NULL);
}

int
main(void)
{
	char cmd[200];
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_refusals_and_abort();
	test_peer_filters();
	test_latch();
	test_restart();
	test_three_calls();
	rc = check_report("rtpfax");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (rc == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}

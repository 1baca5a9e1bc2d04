/* test_t38fax.c: real fax calls over T.38 on loopback UDP: two spandsp T.38 terminals, each
 * on its own thread and its own UDPTL socket (t38media.c, redundancy 3), send a 3-page
 * document in real time with ECM and without, and every received page equals the sent one
 * pixel for pixel. Another call passes through a relay that drops 2% of the datagrams each
 * way (a seeded pattern): redundancy restores every one, nothing is lost, the pages are
 * exact; one more, with ECM, the same with FEC instead. A call starts in G.711 and is
 * switched to T.38 (at 9600 bit/s) while the answering side sends CED, as a re-INVITE does,
 * another once the caller has DIS: both go through on T.38. A last one is switched after
 * its first page: it ends as dropped, with that page kept. The calls run at once; nothing
 * is timed. First what the engine refuses. */
#include <arpa/inet.h>
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
#include "rtp.h"
#include "rtpaudio.h"
#include "t38media.h"

#define PAGES       3
#define YRES        196.0f
#define CALL_MAX_S  300          /* of line time: a call that has not ended by then failed */
#define SWITCH_STEP 50           /* the answering side's step at which the switch is asked:
                                  * 1 s in, well inside its CED (about 0.2 s to 3.5 s) */
#define LOSS_PERMILLE 20

static char dir[] = "/tmp/ncfx-t38fax-XXXXXX";

struct seen {
	atomic_int connected, pages, last_page, bit_rate, t38_events, g711_events;
};

static void
count(const struct faxcall_progress *p, struct seen *s)
{
	if (p->event == FAXCALL_CONNECTED)
		atomic_fetch_add(&s->connected, 1);
	else if (p->event == FAXCALL_PAGE) {
		atomic_fetch_add(&s->pages, 1);
		atomic_store(&s->last_page, p->page);
		atomic_store(&s->bit_rate, p->bit_rate);
	}
	if (strcmp(p->media, "T.38") == 0)
		atomic_fetch_add(&s->t38_events, 1);
	else if (strcmp(p->media, "G.711") == 0)
		atomic_fetch_add(&s->g711_events, 1);
}

static void
progress(const struct faxcall_progress *p, void *arg)
{
	count(p, arg);
}

/* One side of a call: its media (and the one it may switch to), its options, its result. */
struct end {
	const struct media_ops   *ops;
	void                     *media, *media2;
	struct faxcall_switch     sw;
	struct faxcall_media_opts o;
	struct faxcall_result     r;
	int                       rc;
	struct seen               seen;
	struct media_stats        st, st2;
	struct udptl_stats        us;
};

static void *
run_end(void *arg)
{
	struct end *e = arg;
	void *t38 = e->ops == &t38media_ops ? e->media : e->media2;

	e->rc = faxcall_media_run(&e->o, &e->r);
	e->ops->stats(e->media, &e->st);
	if (e->media2)
		t38media_ops.stats(e->media2, &e->st2);
	if (t38)
		t38media_udptl_stats(t38, &e->us);
	return NULL;
}

/* UDPTL with redundancy 3, or FEC: parity over spans of 3 packets, 3 in each packet. */
static void *
new_t38(int fec)
{
	struct t38media_opts to = { "127.0.0.1", 0, 0 };
	struct udptl_config uc = { .ec = UDPTL_EC_REDUNDANCY, .redundancy = 3 };
	struct udptl_config ucf = { .ec = UDPTL_EC_FEC, .fec_span = 3, .fec_entries = 3 };
	char err[160];
	void *m = t38media_new(&to, err, sizeof(err));

	if (m == NULL || t38media_set_udptl(m, fec ? &ucf : &uc, err, sizeof(err)) != 0) {
		fprintf(stderr, "t38media: %s\n", err);
		t38media_ops.free(m);
		return NULL;
	}
	return m;
}

static void *
new_audio(void)
{
	struct rtpaudio_opts ro = { "127.0.0.1", 0, 0, 0 };
	char err[160];
	void *m = rtpaudio_new(&ro, err, sizeof(err));

	if (m == NULL)
		fprintf(stderr, "rtpaudio_new: %s\n", err);
	return m;
}

static void
addr_of(const struct media_ops *ops, void *m, struct sockaddr_in *sa)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ops->local(m, &ss, &len);
	memcpy(sa, &ss, sizeof(*sa));
}

static int
start(const struct media_ops *ops, void *m, const struct sockaddr_in *peer, int codec)
{
	struct media_peer p;
	char err[160] = "";

	memset(&p, 0, sizeof(p));
	memcpy(&p.addr, peer, sizeof(*peer));
	p.addrlen = sizeof(*peer);
	p.codec = codec;
	p.pt = codec == MEDIA_PCMA ? RTP_PT_PCMA : 0;
	if (ops->start(m, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "start: %s\n", err);
		return -1;
	}
	return 0;
}

/* Two media of ops started towards each other, or through the relay's two sockets. */
static int
pair(const struct media_ops *ops, void **ma, void **mb, const struct sockaddr_in *via,
     struct sockaddr_in *at, int fec)
{
	struct sockaddr_in sa, sb;
	int codec = ops == &t38media_ops ? MEDIA_T38 : MEDIA_PCMA;

	*ma = ops == &t38media_ops ? new_t38(fec) : new_audio();
	*mb = ops == &t38media_ops ? new_t38(fec) : new_audio();
	if (*ma == NULL || *mb == NULL)
		return -1;
	addr_of(ops, *ma, &sa);
	addr_of(ops, *mb, &sb);
	if (via) {
		at[0] = sa;
		at[1] = sb;
		return start(ops, *ma, &via[0], codec) || start(ops, *mb, &via[1], codec) ? -1 : 0;
	}
	return start(ops, *ma, &sb, codec) || start(ops, *mb, &sa, codec) ? -1 : 0;
}

/* A bound UDP socket on 127.0.0.1, or -1. */
static int
udp_on(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) != 0) {
		perror("udp socket");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A relay between two ends that drops LOSS_PERMILLE of the datagrams each way, as a seeded
 * generator says: the same datagrams of each direction's stream are dropped every run. */
struct relay {
	int                fd[2];       /* fd[0] faces end a, fd[1] end b */
	struct sockaddr_in addr[2];     /* the relay's own addresses */
	struct sockaddr_in end[2];      /* where a and b receive */
	atomic_int         stop;
	int                passed, dropped;
};

static uint32_t
next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void *
relay_run(void *arg)
{
	struct relay *r = arg;
	uint32_t seed[2] = { 0x2545f491u, 0x9e3779b9u };
	time_t until = time(NULL) + 600;

	while (!atomic_load(&r->stop) && time(NULL) < until) {
		struct pollfd pfd[2] = { { r->fd[0], POLLIN, 0 }, { r->fd[1], POLLIN, 0 } };

		if (poll(pfd, 2, 100) <= 0)
			continue;
		for (int in = 0; in < 2; in++) {
			uint8_t buf[UDPTL_DATAGRAM_MAX];
			int out = 1 - in;
			ssize_t n;

			if (!(pfd[in].revents & POLLIN) ||
			    (n = recv(r->fd[in], buf, sizeof(buf), MSG_DONTWAIT)) < 0)
				continue;
			if (next_rand(&seed[in]) % 1000 < LOSS_PERMILLE) {
				r->dropped++;
				continue;
			}
			r->passed++;
			sendto(r->fd[out], buf, (size_t)n, 0, (struct sockaddr *)&r->end[out],
			    sizeof(r->end[out]));
		}
	}
	return NULL;
}

/* The answering side's media while a switch is to come: G.711 (rtpaudio) that, at its
 * SWITCH_STEP-th step, asks both ends to switch, as the signalling does on a re-INVITE. */
static struct end *switching[2];
static atomic_int audio_steps;

static int
shim_local(void *m, struct sockaddr_storage *a, socklen_t *l)
{
	return rtpaudio_ops.local(m, a, l);
}

static int
shim_start(void *m, const struct media_peer *p, char *err, size_t errlen)
{
	return rtpaudio_ops.start(m, p, err, errlen);
}

static int
shim_step(void *m, const atomic_int *abort)
{
	int rc = rtpaudio_ops.step(m, abort);

	if (atomic_fetch_add(&audio_steps, 1) + 1 == SWITCH_STEP) {
		atomic_store(&switching[0]->sw.ready, 1);
		atomic_store(&switching[1]->sw.ready, 1);
	}
	return rc;
}

static int
shim_send(void *m, const uint8_t *u, size_t len)
{
	return rtpaudio_ops.send(m, u, len);
}

static int
shim_recv(void *m, uint8_t *buf, size_t cap)
{
	return rtpaudio_ops.recv(m, buf, cap);
}

static int
shim_codec(void *m)
{
	return rtpaudio_ops.codec(m);
}

static void
shim_stats(void *m, struct media_stats *s)
{
	rtpaudio_ops.stats(m, s);
}

static const struct media_ops shim_ops = {
	.name = "rtp-switching", .kind = MEDIA_AUDIO, .local = shim_local, .start = shim_start,
	.step = shim_step, .send = shim_send, .recv = shim_recv, .codec = shim_codec,
	.stats = shim_stats, .free = NULL,
};

/* The calling side of a switch after DIS: its phase B (DIS received, DCS about to go) asks
 * both ends to switch. */
static struct end *after_dis[2];

static void
switch_on_connect(const struct faxcall_progress *p, void *arg)
{
	count(p, arg);
	if (p->event == FAXCALL_CONNECTED) {
		atomic_store(&after_dis[0]->sw.ready, 1);
		atomic_store(&after_dis[1]->sw.ready, 1);
	}
}

/* The answering side of the late switch: its first page asks for the switch. */
static void
switch_on_page(const struct faxcall_progress *p, void *arg)
{
	struct end *e = arg;

	count(p, &e->seen);
	if (p->event == FAXCALL_PAGE)
		atomic_store(&e->sw.ready, 1);
}

/* A call from a to b of pages: documents, identities, options. */
static void
call_setup(struct end *a, struct end *b, const char *name, int pages, int ecm)
{
	static char tx[8][200], rx[8][200];
	static int n;
	int i = n++;

	snprintf(tx[i], sizeof(tx[i]), "%s/%s-tx.tif", dir, name);
	snprintf(rx[i], sizeof(rx[i]), "%s/%s-rx.tif", dir, name);
	write_doc(tx[i], pages, YRES);
	a->o.ops = a->ops;
	b->o.ops = b->ops;
	a->o.media = a->media;
	b->o.media = b->media;
	a->o.calling = 1;
	a->o.tx_tiff = tx[i];
	a->o.ident = "+1 212 555 0100";
	b->o.rx_tiff = rx[i];
	b->o.ident = "+44 20 7946 0001";
	a->o.ecm = b->o.ecm = ecm;
	a->o.max_seconds = b->o.max_seconds = CALL_MAX_S;
	a->o.progress = b->o.progress = progress;
	a->o.arg = &a->seen;
	b->o.arg = &b->seen;
}

static void
report(const char *what, const struct end *a, const struct end *b)
{
	fprintf(stderr, "%s: sender %s (%d) over %s%s, %d pages at %d bit/s, ECM %d, %.1f s of "
	    "line; receiver %s, %d pages; UDPTL a->b: sent %llu, received %llu, restored %llu, "
	    "lost %llu, duplicates %llu\n", what, a->r.reason, a->r.completion, a->r.media,
	    a->r.switched ? " (switched)" : "", a->r.pages_sent, a->r.bit_rate, a->r.ecm,
	    a->r.line_seconds, b->r.reason, b->r.pages_received, (unsigned long long)a->us.sent,
	    (unsigned long long)b->us.received, (unsigned long long)b->us.recovered_redundancy,
	    (unsigned long long)b->us.lost, (unsigned long long)b->us.duplicates);
}

static void
check_call(const char *what, struct end *a, struct end *b, int pages, int ecm, int rate)
{
	report(what, a, b);
	CHECK_INT(a->rc, 0);
	CHECK_INT(b->rc, 0);
	CHECK_INT(a->r.completion, 0);
	CHECK_INT(b->r.completion, 0);
	CHECK_STR(a->r.reason, "sent");
	CHECK_STR(a->r.media, "T.38");
	CHECK_STR(b->r.media, "T.38");
	CHECK_INT(a->r.pages_sent, pages);
	CHECK_INT(b->r.pages_received, pages);
	CHECK_INT(a->r.ecm, ecm);
	CHECK_INT(b->r.ecm, ecm);
	CHECK_INT(a->r.bit_rate, rate);
	CHECK_STR(a->r.remote_id, "+44 20 7946 0001");
	CHECK_STR(b->r.caller_seen, "+1 212 555 0100");
	CHECK_INT(matching_pages(b->o.rx_tiff, pages, YRES), pages);
	CHECK_INT(atomic_load(&a->seen.connected), 1);
	CHECK_INT(atomic_load(&a->seen.pages), pages);
	CHECK_INT(atomic_load(&a->seen.last_page), pages);
	CHECK_INT(atomic_load(&a->seen.bit_rate), rate);
	CHECK_INT(atomic_load(&b->seen.last_page), pages);
	/* every event said T.38 (but the caller's phase B before a switch after DIS) */
	CHECK(atomic_load(&a->seen.g711_events) == 0 ||
	    (a->o.to != NULL && atomic_load(&a->seen.g711_events) == 1));
	CHECK_INT(atomic_load(&b->seen.g711_events), 0);
	CHECK(atomic_load(&a->seen.t38_events) >= pages);
	CHECK(atomic_load(&a->seen.t38_events) + atomic_load(&a->seen.g711_events) >= pages + 1);
	CHECK(atomic_load(&b->seen.t38_events) >= pages + 1);
	/* both ways carried IFPs, none given up */
	CHECK(a->us.sent > 20 && b->us.sent > 20);
	CHECK(a->us.received > 20 && b->us.received > 20);
	CHECK_INT(a->us.lost + b->us.lost, 0);
	CHECK_INT(a->us.malformed + b->us.malformed, 0);
	CHECK_INT(a->st.send_errors + b->st.send_errors, 0);
}

static void
test_calls(void)
{
	/* 0-1 ECM, 2-3 no ECM, 4-5 ECM through the lossy relay, 6-7 switched, 8-9 switched
	 * late, 10-11 switched after DIS, 12-13 ECM with FEC through a lossy relay */
	static struct end e[14];
	struct relay rl[2];
	pthread_t th[14], rt[2];
	struct faxcall_t38 slow = { .version = 0, .max_bit_rate = 9600 };

	memset(e, 0, sizeof(e));
	memset(rl, 0, sizeof(rl));
	for (int i = 0; i < 2; i++) {
		rl[i].fd[0] = udp_on(&rl[i].addr[0]);
		rl[i].fd[1] = udp_on(&rl[i].addr[1]);
	}
	for (int i = 0; i < 6; i++)
		e[i].ops = &t38media_ops;
	e[12].ops = e[13].ops = &t38media_ops;
	for (int i = 6; i < 12; i++)
		e[i].ops = &rtpaudio_ops;
	e[7].ops = &shim_ops;
	switching[0] = &e[6];
	switching[1] = &e[7];
	after_dis[0] = &e[10];
	after_dis[1] = &e[11];
	if (rl[0].fd[0] < 0 || rl[0].fd[1] < 0 || rl[1].fd[0] < 0 || rl[1].fd[1] < 0 ||
	    pair(&t38media_ops, &e[0].media, &e[1].media, NULL, NULL, 0) != 0 ||
	    pair(&t38media_ops, &e[2].media, &e[3].media, NULL, NULL, 0) != 0 ||
	    pair(&t38media_ops, &e[4].media, &e[5].media, rl[0].addr, rl[0].end, 0) != 0 ||
	    pair(&t38media_ops, &e[12].media, &e[13].media, rl[1].addr, rl[1].end, 1) != 0 ||
	    pair(&rtpaudio_ops, &e[6].media, &e[7].media, NULL, NULL, 0) != 0 ||
	    pair(&t38media_ops, &e[6].media2, &e[7].media2, NULL, NULL, 0) != 0 ||
	    pair(&rtpaudio_ops, &e[8].media, &e[9].media, NULL, NULL, 0) != 0 ||
	    pair(&t38media_ops, &e[8].media2, &e[9].media2, NULL, NULL, 0) != 0 ||
	    pair(&rtpaudio_ops, &e[10].media, &e[11].media, NULL, NULL, 0) != 0 ||
	    pair(&t38media_ops, &e[10].media2, &e[11].media2, NULL, NULL, 0) != 0) {
		CHECK(!"calls set up");
		return;
	}
	call_setup(&e[0], &e[1], "ecm", PAGES, 1);
	call_setup(&e[2], &e[3], "noecm", PAGES, 0);
	call_setup(&e[4], &e[5], "loss", PAGES, 0);
	call_setup(&e[6], &e[7], "switch", PAGES, 1);
	call_setup(&e[8], &e[9], "late", 2, 1);
	call_setup(&e[10], &e[11], "afterdis", 2, 0);
	call_setup(&e[12], &e[13], "fec", 2, 1);
	for (int i = 6; i < 12; i++) {
		e[i].sw.ops = &t38media_ops;
		e[i].sw.media = e[i].media2;
		e[i].o.to = &e[i].sw;
	}
	e[6].sw.t38 = e[7].sw.t38 = slow;
	e[9].o.progress = switch_on_page;
	e[9].o.arg = &e[9];
	e[10].o.progress = switch_on_connect;
	e[10].o.arg = &e[10].seen;
	/* the figures of the SDP on one call: a later version, the far end's buffer and
	 * datagram */
	e[0].o.t38 = e[1].o.t38 = (struct faxcall_t38){ .version = 2, .max_buffer = 1800,
	    .max_datagram = 400 };
	/* The late switch's sender: its far end is gone after page 1; T.30's own timers end
	 * it (its switch is never asked for). */
	for (int i = 0; i < 2; i++)
		pthread_create(&rt[i], NULL, relay_run, &rl[i]);
	for (int i = 0; i < 14; i++)
		pthread_create(&th[i], NULL, run_end, &e[i]);
	for (int i = 0; i < 14; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		atomic_store(&rl[i].stop, 1);
		pthread_join(rt[i], NULL);
	}

	check_call("T.38 ECM", &e[0], &e[1], PAGES, 1, 14400);
	check_call("T.38 no ECM", &e[2], &e[3], PAGES, 0, 14400);
	check_call("T.38 no ECM, 2% loss", &e[4], &e[5], PAGES, 0, 14400);
	fprintf(stderr, "relay: passed %d, dropped %d\n", rl[0].passed, rl[0].dropped);
	CHECK(rl[0].dropped > 0);
	CHECK(e[4].us.recovered_redundancy + e[5].us.recovered_redundancy > 0);
	CHECK_INT(e[0].us.recovered_redundancy + e[1].us.recovered_redundancy, 0);
	check_call("T.38 ECM, FEC, 2% loss", &e[12], &e[13], 2, 1, 14400);
	fprintf(stderr, "FEC relay: passed %d, dropped %d; restored by FEC %llu\n", rl[1].passed,
	    rl[1].dropped, (unsigned long long)(e[12].us.recovered_fec + e[13].us.recovered_fec));
	CHECK(rl[1].dropped > 0);
	CHECK(e[12].us.recovered_fec + e[13].us.recovered_fec > 0);

	check_call("G.711 then T.38 at 9600", &e[6], &e[7], PAGES, 1, 9600);
	CHECK_INT(e[6].r.switched, 1);
	CHECK_INT(e[7].r.switched, 1);
	CHECK_INT(atomic_load(&e[6].sw.taken), 1);
	CHECK_INT(atomic_load(&e[7].sw.taken), 1);
	/* the answering side left its audio after the step that asked for the switch */
	fprintf(stderr, "switch: audio frames sent %llu and %llu, T.38 datagrams %llu and %llu\n",
	    (unsigned long long)e[6].st.sent, (unsigned long long)e[7].st.sent,
	    (unsigned long long)e[6].st2.sent, (unsigned long long)e[7].st2.sent);
	CHECK_INT(e[7].st.sent, SWITCH_STEP);
	CHECK(e[6].st.sent > 0 && e[6].st.sent < 3 * SWITCH_STEP);

	check_call("G.711 then T.38 after DIS", &e[10], &e[11], 2, 0, 14400);
	CHECK_INT(e[10].r.switched + e[11].r.switched, 2);
	CHECK_INT(atomic_load(&e[10].seen.g711_events), 1);

	report("switched after page 1", &e[8], &e[9]);
	CHECK_INT(e[9].rc, 0);
	CHECK_INT(atomic_load(&e[9].sw.taken), -1);
	CHECK_INT(e[9].r.switched, 0);
	CHECK_STR(e[9].r.media, "G.711");
	CHECK_INT(faxcall_class(e[9].r.completion), FAXCALL_RETRY);
	CHECK_INT(e[9].r.pages_received, 1);
	CHECK_INT(matching_pages(e[9].o.rx_tiff, 1, YRES), 1);
	CHECK_INT(e[9].st2.sent, 0);
	CHECK_INT(e[8].rc, 0);
	CHECK(e[8].r.completion != 0);
	CHECK_INT(atomic_load(&e[8].sw.taken), 0);
	for (int i = 0; i < 14; i++) {
		(i < 6 || i >= 12 ? &t38media_ops : &rtpaudio_ops)->free(e[i].media);
		t38media_ops.free(e[i].media2);
	}
	for (int i = 0; i < 2; i++) {
		close(rl[i].fd[0]);
		close(rl[i].fd[1]);
	}
}

/* A T.38 media not started is refused, as is one of no known kind. */
static void
test_refusals(void)
{
	struct faxcall_media_opts o;
	struct faxcall_result r;
	char rx[200];
	void *m = new_t38(0);

	if (m == NULL) {
		CHECK(!"media");
		return;
	}
	memset(&o, 0, sizeof(o));
	snprintf(rx, sizeof(rx), "%s/refused-rx.tif", dir);
	o.ops = &t38media_ops;
	o.media = m;
	o.rx_tiff = rx;
	CHECK_INT(faxcall_media_run(&o, &r), -1);
	CHECK_CONTAINS(r.reason, "not started");
	o.ops = NULL;
	CHECK_INT(faxcall_media_run(&o, &r), -1);
	CHECK_CONTAINS(r.reason, "not started");
	t38media_ops.free(m);
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
	test_refusals();
	test_calls();
	rc = check_report("t38fax");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (rc == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}

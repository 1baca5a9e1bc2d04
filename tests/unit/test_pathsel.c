/* test_pathsel.c: a session's path policy through notify.h, on a fake session (notify_host), a
 * fake direct path and the real relay: direct failing and coming back, the client told each
 * path, SCP_REGISTER, the relay's ack deadline, probes, and that a client sees every
 * notification once (after its de-duplication) and nothing acknowledged again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "delivery.h"
#include "log.h"
#include "notify.h"
#include "notify_fakes.h"
#include "outbox.h"
#include "relay.h"

/* A direct path that does what the test tells it: comes up (attaches) or fails (detaches),
 * as scp.c does after connecting or failing. */
struct fakedirect {
	struct fakepath    path;        /* first: the delivery's impl */
	struct delivery   *d;
	struct path_events ev;
	uint16_t           port;
	long               rmin, rmax;
	int                retry_now;
	int                freed;
	int                probe;
	path_probe_fn      done;
	void              *done_arg;
};

static struct fakedirect directs[64];
static int ndirects;
static struct memstore ms;
static struct fakehost fh;

static void *
fd_new(void *env, const struct notify_host *h, struct delivery *d, uint16_t port,
    const struct path_events *ev)
{
	struct fakedirect *p = &directs[ndirects++];

	(void)env;
	(void)h;
	memset(p, 0, sizeof(*p));
	fakepath_init(&p->path, NCFX_PATH_DIRECT, 0);
	p->d = d;
	p->ev = *ev;
	p->port = port;
	p->rmin = -1;
	return p;
}

static void
fd_free(void *arg)
{
	struct fakedirect *p = arg;

	if (p->d)
		delivery_detach(p->d, p);
	p->freed = 1;
}

static void
fd_set_retry(void *arg, long min_s, long max_s)
{
	struct fakedirect *p = arg;

	p->rmin = min_s;
	p->rmax = max_s;
}

static void
fd_retry_now(void *arg)
{
	struct fakedirect *p = arg;

	p->retry_now++;
}

static void *
fd_probe(void *env, const struct notify_host *h, uint16_t port, path_probe_fn done,
    void *arg)
{
	struct fakedirect *p = fd_new(env, h, NULL, port, &(struct path_events){ 0 });

	p->probe = 1;
	p->done = done;
	p->done_arg = arg;
	return p;
}

static void
fd_up(struct fakedirect *p)
{
	delivery_attach(p->d, &p->path.ops, p);
	p->ev.up(p->ev.arg, "192.0.2.1:4000");
}

static void
fd_fail(struct fakedirect *p)
{
	delivery_detach(p->d, p);
	p->ev.failed(p->ev.arg, "192.0.2.1:4000", "refused");
}

static struct notify_paths paths;
static const struct notify_config relay_on = { 1, 30, 600 }, relay_off = { 0, 30, 600 };

static struct notify_session *
login(struct outbox *ob, uint16_t port, int pref, int wanted, const struct notify_config *cfg)
{
	struct notify_session *n;
	uint64_t seq = 99;

	fakehost_init(&fh, 1, port, pref, wanted);
	memset(&paths, 0, sizeof(paths));
	paths.direct_new = fd_new;
	paths.direct_free = fd_free;
	paths.direct_set_retry = fd_set_retry;
	paths.direct_retry_now = fd_retry_now;
	paths.probe_new = fd_probe;
	relay_paths(&paths);
	ndirects = 0;
	n = notify_session_new(ob, &fh.h, &paths, cfg);
	CHECK(n != NULL);
	if (notify_login(n, 0, 0, &seq))
		CHECK_INT(seq, ms.acked[1]);
	notify_start(n);
	return n;
}

/* The last NOTIFY_PATH the client was told: its path, or -1 if none. */
static long long
told(void)
{
	uint64_t path;

	return framelog_count(&fh.log, NCFX_MSG_NOTIFY_PATH, &path) ? (long long)path : -1;
}

/* Direct fails: an auto session on a relaying server is relayed from the last ack; direct
 * comes back: the relay goes, and the client is told each time. */
static void
test_direct_fails_then_back(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct notify_session *n;
	struct fakedirect *p;
	uint64_t last;

	mem_add(&ms, 1, 3);
	n = login(ob, 4000, NCFX_PATH_AUTO, 1, &relay_on);
	CHECK_INT(ndirects, 1);
	p = &directs[0];
	CHECK_INT(p->port, 4000);
	CHECK_INT(told(), -1);              /* nothing to say until the direct path decides */
	p->ev.state(p->ev.arg, "connecting to 192.0.2.1:4000");
	CHECK_STR(fh.row, "none yet: connecting to 192.0.2.1:4000");
	fd_up(p);
	CHECK_INT(told(), NCFX_PATH_DIRECT);
	CHECK_INT(framelog_count(&p->path.log, NCFX_MSG_NOTIFY, &last), 3);
	CHECK_INT(fh.row_path, NCFX_PATH_DIRECT);
	CHECK_INT(p->rmin, 0);
	CHECK_INT(notify_ack(n, 2), 0);
	/* The SCP goes: relayed, from 3 on, and the direct path retries patiently. */
	fd_fail(p);
	CHECK_INT(told(), NCFX_PATH_RELAY);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, &last), 1);
	CHECK_INT(last, 3);
	CHECK_INT(fh.row_path, NCFX_PATH_RELAY);
	CHECK_CONTAINS(fh.row, "relay (connect-back to 192.0.2.1:4000 failed: refused)");
	CHECK_INT(p->rmin, 30);
	CHECK_INT(p->rmax, 600);
	mem_add(&ms, 1, 2);
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, &last), 3);
	CHECK_INT(last, 5);
	/* A second failure while relayed changes nothing the client sees. */
	fd_fail(p);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY_PATH, NULL), 2);
	CHECK_INT(notify_ack(n, 3), 0);
	/* Back: the relay is freed, direct resends what was not acked (4, 5). */
	fd_up(p);
	CHECK_INT(told(), NCFX_PATH_DIRECT);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY_PATH, NULL), 3);
	CHECK_INT(framelog_count(&p->path.log, NCFX_MSG_NOTIFY, &last), 5);
	CHECK_INT(p->path.log.val[3], 4);
	CHECK_INT(last, 5);
	mem_add(&ms, 1, 1);
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, NULL), 3);   /* none relayed */
	CHECK_INT(framelog_count(&p->path.log, NCFX_MSG_NOTIFY, &last), 6);
	CHECK_INT(p->rmin, 0);
	CHECK_INT(p->rmax, 60);
	notify_session_free(n);
	CHECK_INT(p->freed, 1);
	outbox_free(ob);
}

/* Without the relay (the client wants direct only, or the server does not relay) a failure
 * leaves the session without a path, and the client is told so. */
static void
test_direct_only(void)
{
	const struct notify_config *cfg[2] = { &relay_on, &relay_off };
	int pref[2] = { NCFX_PATH_DIRECT, NCFX_PATH_AUTO };

	for (int i = 0; i < 2; i++) {
		struct outbox *ob = mem_outbox(&ms);
		struct notify_session *n;

		mem_add(&ms, 1, 2);
		n = login(ob, 4000, pref[i], 1, cfg[i]);
		fd_fail(&directs[0]);
		CHECK_INT(told(), NCFX_PATH_NONE);
		CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, NULL), 0);
		CHECK_CONTAINS(fh.row, "none yet");
		fd_up(&directs[0]);
		CHECK_INT(told(), NCFX_PATH_DIRECT);
		CHECK_INT(framelog_count(&directs[0].path.log, NCFX_MSG_NOTIFY, NULL), 2);
		/* PATH_RETRY reaches the direct path. */
		notify_retry(n);
		CHECK_INT(directs[0].retry_now, 1);
		notify_session_free(n);
		outbox_free(ob);
	}
}

/* Relay asked for, or auto with no port: relayed at once. No PATH and no port: nothing. */
static void
test_start(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct notify_session *n;
	uint64_t seq = 0;

	mem_add(&ms, 1, 2);
	n = login(ob, 4000, NCFX_PATH_RELAY, 1, &relay_on);
	CHECK_INT(ndirects, 0);
	CHECK_INT(told(), NCFX_PATH_RELAY);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, NULL), 2);
	notify_session_free(n);
	n = login(ob, 0, NCFX_PATH_AUTO, 1, &relay_on);
	CHECK_INT(told(), NCFX_PATH_RELAY);
	CHECK_CONTAINS(fh.row, "listens on no SCP port");
	notify_session_free(n);
	/* An old client (no PATH in LOGIN) without a port gets no notifications at all. */
	fakehost_init(&fh, 1, 0, NCFX_PATH_DIRECT, 0);
	n = notify_session_new(ob, &fh.h, &paths, &relay_on);
	CHECK_INT(notify_login(n, 0, 0, &seq), 0);
	notify_start(n);
	CHECK_INT(fh.log.n, 0);
	CHECK_INT(notify_ack(n, 1), -1);
	/* ... until it registers a port: then they start where a login would. */
	ndirects = 0;
	notify_scp_register(n, 5000);
	CHECK_INT(ndirects, 1);
	CHECK_INT(directs[0].port, 5000);
	fd_up(&directs[0]);
	CHECK_INT(framelog_count(&directs[0].path.log, NCFX_MSG_NOTIFY, NULL), 2);
	notify_session_free(n);
	/* The resume point: the client's SEQ, but never past the user's last. */
	ms.acked[1] = 1;
	fakehost_init(&fh, 1, 4000, NCFX_PATH_AUTO, 1);
	n = notify_session_new(ob, &fh.h, &paths, &relay_on);
	CHECK_INT(notify_login(n, 0, 0, &seq), 1);
	CHECK_INT(seq, 1);
	CHECK_INT(notify_login(n, 1, 10, &seq), 1);
	CHECK_INT(seq, 2);
	notify_session_free(n);
	outbox_free(ob);
}

/* SCP_REGISTER re-paths: a new port starts a new direct path (the relay stays until it works),
 * no port falls back to the relay. */
static void
test_register(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct notify_session *n;

	mem_add(&ms, 1, 2);
	n = login(ob, 0, NCFX_PATH_AUTO, 1, &relay_on);
	CHECK_INT(told(), NCFX_PATH_RELAY);
	notify_scp_register(n, 5000);
	CHECK_INT(ndirects, 1);
	CHECK_INT(directs[0].rmin, 0);
	CHECK_INT(directs[0].rmax, 600);
	CHECK_INT(told(), NCFX_PATH_RELAY);         /* still relayed */
	fd_up(&directs[0]);
	CHECK_INT(told(), NCFX_PATH_DIRECT);
	/* Withdrawn: the direct path goes, the relay comes back. */
	notify_scp_register(n, 0);
	CHECK_INT(directs[0].freed, 1);
	CHECK_INT(told(), NCFX_PATH_RELAY);
	CHECK_CONTAINS(fh.row, "withdrew");
	/* A port again, and again: each starts over, the earlier one freed. */
	notify_scp_register(n, 5001);
	notify_scp_register(n, 5002);
	CHECK_INT(ndirects, 3);
	CHECK_INT(directs[1].freed, 1);
	CHECK_INT(directs[2].port, 5002);
	notify_session_free(n);
	/* A client that asked for the relay stays relayed whatever port it registers. */
	n = login(ob, 0, NCFX_PATH_RELAY, 1, &relay_on);
	notify_scp_register(n, 5000);
	CHECK_INT(ndirects, 0);
	CHECK_INT(told(), NCFX_PATH_RELAY);
	notify_session_free(n);
	outbox_free(ob);
}

/* Relayed notifications unacknowledged for the deadline close the session, unless the client
 * is busy uploading; a direct path's stall is the SCP's own business. */
static void
test_relay_deadline(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct notify_session *n;
	time_t now = time(NULL);

	mem_add(&ms, 1, 2);
	n = login(ob, 0, NCFX_PATH_AUTO, 1, &relay_on);
	CHECK_INT(notify_tick(n, now + 5, 0), 0);
	CHECK_INT(notify_tick(n, now + NOTIFY_RELAY_ACK_TIMEOUT + 1, 1), 0);
	CHECK_INT(fh.closed, 0);
	CHECK_INT(notify_tick(n, now + NOTIFY_RELAY_ACK_TIMEOUT + 1, 0), 1);
	CHECK_INT(fh.closed, 1);
	CHECK_INT(fh.close_code, NCFX_E_TIMEOUT);
	CHECK_CONTAINS(fh.close_why, "unacknowledged");
	notify_session_free(n);
	/* Acknowledged: no deadline. */
	n = login(ob, 0, NCFX_PATH_AUTO, 1, &relay_on);
	CHECK_INT(notify_ack(n, 2), 0);
	CHECK_INT(notify_tick(n, now + 100, 0), 0);
	notify_session_free(n);
	n = login(ob, 4000, NCFX_PATH_DIRECT, 1, &relay_on);
	fd_up(&directs[0]);
	mem_add(&ms, 1, 1);
	notify_user(ob, 1);
	CHECK_INT(notify_tick(n, now + 100, 0), 0);
	CHECK_INT(fh.closed, 0);
	notify_session_free(n);
	outbox_free(ob);
}

/* Probes: one at a time, answered with SCP_PROBE_RESULT, and no more than 32 a session. */
static void
test_probe(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct notify_session *n = login(ob, 0, NCFX_PATH_DIRECT, 0, &relay_on);
	struct fakedirect *p;
	int i;

	CHECK(notify_probe_refused(n) == NULL);
	CHECK_INT(notify_probe(n, 6000, 7), 0);
	p = &directs[ndirects - 1];
	CHECK_INT(p->port, 6000);
	CHECK(notify_probe_refused(n) != NULL);
	p->done(p, 0, "reached and proven both ways", 5, "192.0.2.1:6000", p->done_arg);
	CHECK_INT(p->freed, 1);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_SCP_PROBE_RESULT, NULL), 1);
	for (i = 1; i < 40 && notify_probe_refused(n) == NULL; i++) {
		notify_probe(n, 6000, 8);
		p = &directs[ndirects - 1];
		p->done(p, 0, "ok", 1, "192.0.2.1:6000", p->done_arg);
	}
	CHECK_INT(i, 32);
	CHECK_CONTAINS(notify_probe_refused(n), "too many");
	notify_session_free(n);
	outbox_free(ob);
}

/* What the client receives, in order, over every path: NOTIFY seqs from the host (relayed) and
 * from the direct path. The last `lose` frames of a take never arrive: they were in flight
 * when the path died. */
static uint64_t seen[LOG_FRAMES];
static int nseen;

static void
take(struct framelog *fl, int *from, int lose)
{
	int idx[LOG_FRAMES], k = 0;

	for (; *from < fl->n; (*from)++)
		if (fl->type[*from] == NCFX_MSG_NOTIFY)
			idx[k++] = *from;
	for (int i = 0; i < k - lose; i++)
		seen[nseen++] = fl->val[idx[i]];
}

/* The client acknowledges what it has without a gap. */
static uint64_t
contiguous(uint64_t have)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i] == have + 1)
			have = seen[i];
	return have;
}

/* Switching back and forth between paths with notifications in flight (and lost with the
 * direct path that dies) loses none and repeats none the client acknowledged: after
 * de-duplication the client has 1..N without a gap, and no path sends a seq at or below the
 * last ack at its start. */
static void
test_switch_no_loss(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct notify_session *n;
	struct fakedirect *p;
	int hfrom = 0, dfrom = 0, i, round;
	uint64_t acked = 0, have = 0, a;

	nseen = 0;
	n = login(ob, 4000, NCFX_PATH_AUTO, 1, &relay_on);
	p = &directs[0];
	for (round = 0; round < 8; round++) {
		int base = nseen, direct = round % 2;

		/* Odd rounds direct, even rounds relayed (the direct path failed). */
		if (direct)
			fd_up(p);
		else
			fd_fail(p);
		mem_add(&ms, 1, 10 + round);
		notify_user(ob, 1);
		take(&fh.log, &hfrom, 0);
		take(&p->path.log, &dfrom, 0);
		/* Nothing acknowledged before the switch came again. */
		for (i = base; i < nseen; i++)
			CHECK(seen[i] > acked);
		/* The client acknowledges some of what it has, not always all. */
		have = contiguous(have);
		a = have > (uint64_t)(round % 3) ? have - (uint64_t)(round % 3) : 0;
		if (a > acked)
			acked = a;
		CHECK_INT(notify_ack(n, acked), 0);
		mem_add(&ms, 1, 4);
		notify_user(ob, 1);
		/* The direct path dies next round: its last frames are lost on the way. */
		take(&fh.log, &hfrom, 0);
		take(&p->path.log, &dfrom, direct ? 3 : 0);
		have = contiguous(have);
	}
	/* The direct path of the last round dies with frames in flight: the relay carries the
	 * rest from the last ack. */
	fd_fail(p);
	i = nseen;
	take(&fh.log, &hfrom, 0);
	CHECK(nseen > i);
	for (; i < nseen; i++)
		CHECK(seen[i] > acked);
	have = contiguous(have);
	while (have < ms.last[1]) {
		uint64_t before = have;

		CHECK_INT(notify_ack(n, have), 0);
		take(&fh.log, &hfrom, 0);
		take(&p->path.log, &dfrom, 0);
		have = contiguous(have);
		if (have == before)
			break;
	}
	CHECK_INT(have, ms.last[1]);
	/* De-duplicated, what was seen is exactly 1..last. */
	{
		char *got = calloc(ms.last[1] + 1, 1);

		for (i = 0; i < nseen; i++) {
			CHECK(seen[i] >= 1 && seen[i] <= ms.last[1]);
			got[seen[i]] = 1;
		}
		for (uint64_t q = 1; q <= ms.last[1]; q++)
			CHECK(got[q]);
		free(got);
	}
	notify_session_free(n);
	outbox_free(ob);
}

int
main(void)
{
	log_init("test_pathsel", LOG_LVL_WARN);   /* each path change is an info line */
	test_direct_fails_then_back();
	test_direct_only();
	test_start();
	test_register();
	test_relay_deadline();
	test_probe();
	test_switch_no_loss();
	return check_report("test_pathsel");
}

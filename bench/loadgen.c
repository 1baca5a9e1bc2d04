/* loadgen.c: many netcfax client sessions from one process, for the benchmarks in bench/run.
 * Each session is what a watching client is on the wire: TLS to the PCP, HELLO, LOGIN with its
 * notification path (direct: an SCP port on this process; or relay), the server's connect-back
 * answered with the session's proofs, and every notification acknowledged and timed. Sessions
 * come from many loopback addresses (127.0.1.1, 127.0.1.2, ...) as from many client machines.
 * Evented (libevent, one thread), so thousands of sessions cost file descriptors, not threads.
 *
 *   netcfax-loadgen --port P --fingerprint SHA256:... --user U [--users K] --password-file F
 *                   --sessions N [--addresses K] [--path direct|relay] [--parallel C]
 *                   [--hold S] [--expect M] [--storm] [--no-resume-token]
 *                   [--server-pid PID] [--timeout S]
 *
 * --users K spreads the sessions over the users U1..UK (same password), as many people's
 * clients would be; without it every session is user U.
 * It prints one JSON object with what it measured. --expect M waits until every session has
 * M notifications whose TEXT carries "t=<unix microseconds>" and reports their latency.
 * --storm: once all are up it prints "ready" on stderr; SIGUSR1 (sent as the server is
 * started again) starts the clock; every session reconnects as the netcfax client does (after
 * 0.5-1 s, then backing off), and the time until all are up again is reported. Each login
 * presents the resume token of the session's last one, as the watcher does; with
 * --no-resume-token every login is checked by password. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "backoff.h"
#include "clock.h"
#include "frame_io.h"
#include "password.h"
#include "proto.h"
#include "scp_bind.h"
#include "tls.h"

#define ADDRS_MAX   250
#define LAT_MAX     (4u << 20)        /* latency samples kept */

enum { S_IDLE, S_CONNECTING, S_TLS, S_HELLO, S_LOGIN, S_UP };

struct lg;

struct sess {
	struct lg          *lg;
	int                 idx;
	int                 addr;          /* source address index */
	int                 state;
	int                 fd;
	struct event       *wev;           /* TCP connect in progress */
	struct event       *retry;         /* a storm: the next connect after a refused one */
	struct bufferevent *pcp;
	uint64_t            session_id;
	uint8_t             secret[32];
	int                 up_once;       /* counted as up in this round */
	uint64_t            acked;         /* highest seq acknowledged */
	uint64_t            seen;          /* highest seq seen */
	uint64_t            got;           /* notifications received */
	int                 attempts;      /* storm: failed reconnects since it was last up */
	int                 has_token;
	uint8_t             token[32];     /* resume token from the last LOGIN_OK */
};

struct scpconn {
	struct lg          *lg;
	struct bufferevent *bev;
	struct sess        *s;
	struct scpconn     *prev, *next;   /* every open one, freed at the end */
};

struct lg {
	struct event_base     *base;
	struct tls_ctx        *tls;
	const char            *fingerprint;
	const char            *user;
	int                    users;          /* sessions spread over user1..userN */
	char                   password[256];
	int                    port;
	int                    nsess, naddr, parallel, path, expect, storm, hold, timeout;
	int                    no_token;       /* log in by password every time */
	long                   server_pid;
	struct sess           *s;
	struct sess          **byid;
	struct scpconn        *conns;           /* open addressing on session id, 2N slots */
	size_t                 nbyid;
	struct evconnlistener *lst[ADDRS_MAX];
	uint16_t               lport[ADDRS_MAX];
	int                    next;           /* next session to start */
	int                    inflight;       /* connecting, not yet up */
	int                    up;
	int                    failures;
	long                   drops;          /* storm: connections lost or refused, retried */
	char                   last_error[200];
	double                 t0, t_all_up, t_storm, t_storm_up;
	int                    storm_armed;
	long                   rss_before, rss_up;
	long                   scp_open;       /* the server's connect-backs open now */
	uint32_t              *lat;            /* microseconds */
	size_t                 nlat;
	uint64_t               notes;
	double                 t_first_note, t_last_note;
	struct event          *tick, *usr1;
	int                    ping_cursor;    /* heartbeats: a slice of the sessions per tick */
	int                    done;
};



static long
rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void start_next(struct lg *lg);
static void sess_start(struct sess *s);

static void
sess_fail(struct sess *s, const char *why)
{
	struct lg *lg = s->lg;

	/* In a storm, connections dropping and refused while the server restarts are the point,
	 * not failures. */
	if (!lg->storm_armed) {
		snprintf(lg->last_error, sizeof(lg->last_error), "session %d: %s", s->idx, why);
		lg->failures++;
	} else
		lg->drops++;
	if (s->state != S_UP && s->state != S_IDLE)
		lg->inflight--;
	if (s->wev) {
		event_free(s->wev);
		s->wev = NULL;
	}
	if (s->pcp) {
		bufferevent_free(s->pcp);
		s->pcp = NULL;
	} else if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->up_once) {
		s->up_once = 0;
		lg->up--;
	}
	s->state = S_IDLE;
	/* In a storm every session comes back as the netcfax client does: after 0.5-1 s, then
	 * 1-2, 2-4 ... (backoff.c, the watcher's own policy); otherwise a failure is counted and
	 * the next session starts. */
	if (lg->storm_armed) {
		long ms = backoff_delay_ms(s->attempts++, 60);
		struct timeval again = { ms / 1000, (ms % 1000) * 1000 };
		evtimer_add(s->retry, &again);
	} else
		start_next(lg);
}

static void
retry_now(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sess_start(arg);
}

static void
byid_put(struct lg *lg, struct sess *s)
{
	size_t i = (size_t)(s->session_id % lg->nbyid);

	/* A session that logs in again leaves its old slot behind, pointing at it with its new
	 * id: lookups of the old id pass over it. 4N slots hold a few logins a session. */
	for (size_t n = 0; n < lg->nbyid; n++, i = (i + 1) % lg->nbyid)
		if (lg->byid[i] == NULL) {
			lg->byid[i] = s;
			return;
		}
}

static struct sess *
byid_get(struct lg *lg, uint64_t id)
{
	size_t i = (size_t)(id % lg->nbyid);

	for (size_t n = 0; n < lg->nbyid && lg->byid[i] != NULL; n++, i = (i + 1) % lg->nbyid)
		if (lg->byid[i]->session_id == id)
			return lg->byid[i];
	return NULL;
}

static void
send_hello(struct sess *s)
{
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_HELLO, 0, 1);
	ncfx_put_u16(&w, NCFX_T_VERSION_MIN, NCFX_PROTO_MIN);
	ncfx_put_u16(&w, NCFX_T_VERSION_MAX, NCFX_PROTO_MAX);
	ncfx_put_str(&w, NCFX_T_SOFTWARE, "netcfax-loadgen");
	frame_send(s->pcp, &w);
	s->state = S_HELLO;
}

static void
send_login(struct sess *s)
{
	struct lg *lg = s->lg;
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_LOGIN, 0, 2);
	if (lg->users > 1) {
		char name[80];
		snprintf(name, sizeof(name), "%s%d", lg->user, s->idx % lg->users + 1);
		ncfx_put_str(&w, NCFX_T_USER, name);
	} else
		ncfx_put_str(&w, NCFX_T_USER, lg->user);
	ncfx_put_bytes(&w, NCFX_T_PASSWORD, lg->password, strlen(lg->password));
	ncfx_put_u8(&w, NCFX_T_PATH, (uint8_t)lg->path);
	if (lg->path == NCFX_PATH_DIRECT) {
		ncfx_put_u16(&w, NCFX_T_SCP_PORT, lg->lport[s->addr]);
		ncfx_put_u8(&w, NCFX_T_SCP_MODE, NCFX_SCP_DYNAMIC);
	}
	/* Resume where this session left off: after a reconnect nothing is shown twice. */
	if (s->acked)
		ncfx_put_u64(&w, NCFX_T_SEQ, s->acked);
	/* As the netcfax watcher does: the last login's token, so a reconnect costs the server
	 * no password check. */
	if (!lg->no_token)
		ncfx_put_bytes(&w, NCFX_T_RESUME_TOKEN, s->token, s->has_token ? 32 : 0);
	s->has_token = 0;
	frame_send(s->pcp, &w);
	s->state = S_LOGIN;
}

static void
mark_up(struct sess *s)
{
	struct lg *lg = s->lg;

	if (s->up_once)
		return;
	s->up_once = 1;
	s->attempts = 0;
	s->state = S_UP;
	lg->inflight--;
	lg->up++;
	if (lg->up == lg->nsess) {
		if (lg->storm_armed && lg->t_storm > 0 && lg->t_storm_up == 0)
			lg->t_storm_up = now_s();
		if (lg->t_all_up == 0) {
			lg->t_all_up = now_s();
			lg->rss_up = rss_kb(lg->server_pid);
			/* Whoever drives the next step (a restart, notifications) waits for this. */
			fprintf(stderr, "ready\n");
			if (lg->storm)
				lg->storm_armed = 1;
		}
	}
	start_next(lg);
}

/* A notification: timed by the t=<unix us> its text carries, and acknowledged. */
static void
take_note(struct sess *s, const struct ncfx_msg *m, struct bufferevent *ackbev)
{
	struct lg *lg = s->lg;
	uint64_t seq = ncfx_msg_uint(m, NCFX_T_SEQ), sent;
	char text[NCFX_STR_MAX + 1];
	const char *t;
	struct ncfx_wbuf w;

	if (seq <= s->seen)
		return;                        /* replayed after a reconnect */
	s->seen = seq;
	s->got++;
	lg->notes++;
	ncfx_msg_str(m, NCFX_T_TEXT, text, sizeof(text));
	if ((t = strstr(text, "t=")) != NULL && (sent = strtoull(t + 2, NULL, 10)) > 0) {
		uint64_t now = wall_us();
		if (lg->nlat < LAT_MAX)
			lg->lat[lg->nlat++] = now > sent ? (uint32_t)(now - sent) : 0;
	}
	if (lg->t_first_note == 0)
		lg->t_first_note = now_s();
	lg->t_last_note = now_s();
	ncfx_wbuf_begin(&w, NCFX_MSG_NOTIFY_ACK, 0, 0);
	ncfx_put_u64(&w, NCFX_T_SEQ, seq);
	frame_send(ackbev, &w);
	s->acked = seq;
}

/* The server's PING, on the PCP or an SCP connection. */
static void
pong(struct bufferevent *bev, const struct ncfx_msg *m)
{
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_PONG, 0, m->reqid);
	frame_send(bev, &w);
}

static void
pcp_read(struct bufferevent *bev, void *arg)
{
	struct sess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct ncfx_msg m;
	size_t len;
	int err;
	char why[160];

	for (;;) {
		int rc = frame_next(in, &m, &len, &err, why, sizeof(why));

		if (rc == 0)
			return;
		if (rc < 0) {
			sess_fail(s, why);
			return;
		}
		switch (m.type) {
		case NCFX_MSG_HELLO_OK:
			if (s->state == S_HELLO)
				send_login(s);
			break;
		case NCFX_MSG_LOGIN_OK: {
			size_t n, tn;
			const uint8_t *sec = ncfx_msg_bytes(&m, NCFX_T_SCP_SECRET, &n);

			const uint8_t *tok = ncfx_msg_bytes(&m, NCFX_T_RESUME_TOKEN, &tn);

			s->session_id = ncfx_msg_uint(&m, NCFX_T_SESSION_ID);
			if (sec && n == 32)
				memcpy(s->secret, sec, 32);
			if (tok && tn == 32) {
				memcpy(s->token, tok, 32);
				s->has_token = 1;
			}
			byid_put(s->lg, s);
			break;
		}
		case NCFX_MSG_NOTIFY_PATH:
			/* Up when notifications flow on the path we asked for. */
			if ((int)ncfx_msg_uint(&m, NCFX_T_PATH) == s->lg->path)
				mark_up(s);
			break;
		case NCFX_MSG_NOTIFY:
			take_note(s, &m, bev);
			break;
		case NCFX_MSG_PING:
			pong(bev, &m);
			break;
		case NCFX_MSG_ERROR:
			snprintf(why, sizeof(why), "server error %u: %s",
			    (unsigned)ncfx_msg_uint(&m, NCFX_T_ERROR_CODE),
			    ncfx_msg_str(&m, NCFX_T_REASON, (char[200]){ 0 }, 200));
			evbuffer_drain(in, len);
			sess_fail(s, why);
			return;
		default:
			break;
		}
		evbuffer_drain(in, len);
	}
}

static void
pcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct sess *s = arg;
	char why[200];

	if (what & BEV_EVENT_CONNECTED) {
		char fp[TLS_FP_LEN];

		tls_bev_peer_fingerprint(bev, fp);
		if (strcmp(fp, s->lg->fingerprint) != 0) {
			sess_fail(s, "the server's certificate is not the one given");
			return;
		}
		send_hello(s);
		return;
	}
	tls_bev_error(bev, why, sizeof(why));
	sess_fail(s, what & BEV_EVENT_EOF ? "connection closed" : why);
}

static void
tcp_connected(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)what;
	event_free(s->wev);
	s->wev = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		sess_fail(s, strerror(err ? err : errno));
		return;
	}
	s->pcp = tls_bev_connect(s->lg->base, fd, s->lg->tls, NULL);
	if (s->pcp == NULL) {
		sess_fail(s, "cannot start TLS");
		return;
	}
	s->state = S_TLS;
	bufferevent_setcb(s->pcp, pcp_read, NULL, pcp_event, s);
	bufferevent_enable(s->pcp, EV_READ | EV_WRITE);
}

static void
sess_start(struct sess *s)
{
	struct lg *lg = s->lg;
	struct sockaddr_in src = { 0 }, dst = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	lg->inflight++;
	s->state = S_CONNECTING;
	s->fd = fd;
	if (fd < 0) {
		sess_fail(s, strerror(errno));
		return;
	}
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000101u + (uint32_t)s->addr);      /* 127.0.1.x */
	dst.sin_family = AF_INET;
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)lg->port);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS)) {
		sess_fail(s, strerror(errno));
		return;
	}
	s->wev = event_new(lg->base, fd, EV_WRITE, tcp_connected, s);
	event_add(s->wev, NULL);
}

/* Keeps at most --parallel sessions between connect and up. */
static void
start_next(struct lg *lg)
{
	while (lg->next < lg->nsess && lg->inflight < lg->parallel)
		sess_start(&lg->s[lg->next++]);
}

static void
scp_close(struct scpconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->lg->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	c->lg->scp_open--;
	free(c);
}

/* SCP: the server's connect-back. The first frame names the session. */
static void
scp_read(struct bufferevent *bev, void *arg)
{
	struct scpconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct ncfx_msg m;
	size_t len;
	int err;
	char why[160];

	for (;;) {
		int rc = frame_next(in, &m, &len, &err, why, sizeof(why));

		if (rc == 0)
			return;
		if (rc < 0)
			goto drop;
		if (c->s == NULL) {
			uint64_t id = ncfx_msg_uint(&m, NCFX_T_SESSION_ID);

			c->s = id ? byid_get(c->lg, id) : NULL;
			if (c->s == NULL || scp_bind_answer(bev, &m, id, c->s->secret, why,
			    sizeof(why)) < 0)
				goto drop;
		} else if (m.type == NCFX_MSG_NOTIFY) {
			take_note(c->s, &m, bev);
		} else if (m.type == NCFX_MSG_PING) {
			pong(bev, &m);
		}
		evbuffer_drain(in, len);
	}
drop:
	scp_close(c);
}

static void
scp_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	scp_close(arg);
}

static void
scp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct lg *lg = arg;
	struct scpconn *c = calloc(1, sizeof(*c));

	(void)l;
	(void)sa;
	(void)salen;
	if (c == NULL || (c->bev = tls_bev_connect(lg->base, fd, lg->tls, NULL)) == NULL) {
		free(c);
		close(fd);
		return;
	}
	c->lg = lg;
	lg->scp_open++;
	c->next = lg->conns;
	if (lg->conns)
		lg->conns->prev = c;
	lg->conns = c;
	bufferevent_setcb(c->bev, scp_read, NULL, scp_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int
listen_all(struct lg *lg)
{
	for (int i = 0; i < lg->naddr; i++) {
		struct sockaddr_in sa = { 0 };
		socklen_t len = sizeof(sa);

		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(0x7f000101u + (uint32_t)i);
		lg->lst[i] = evconnlistener_new_bind(lg->base, scp_accept, lg,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
		    (struct sockaddr *)&sa, sizeof(sa));
		if (lg->lst[i] == NULL)
			return -1;
		getsockname(evconnlistener_get_fd(lg->lst[i]), (struct sockaddr *)&sa, &len);
		lg->lport[i] = ntohs(sa.sin_port);
	}
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;
	double t = now_s();
	int all_notes = 1;

	(void)fd;
	(void)what;
	/* A PING from every session about every 20 s (400 ticks of 50 ms), spread out, as
	 * watching clients do: the server closes a session silent for idle_timeout. */
	for (int n = lg->nsess / 400 + 1; n > 0; n--, lg->ping_cursor++) {
		struct sess *s;
		struct ncfx_wbuf w;

		if (lg->ping_cursor >= lg->nsess)
			lg->ping_cursor = 0;
		s = &lg->s[lg->ping_cursor];
		if (s->state != S_UP || s->pcp == NULL)
			continue;
		ncfx_wbuf_begin(&w, NCFX_MSG_PING, 0, 0);
		frame_send(s->pcp, &w);
	}
	if (lg->expect > 0)
		for (int i = 0; i < lg->nsess && all_notes; i++)
			if (lg->s[i].got < (uint64_t)lg->expect)
				all_notes = 0;
	if (t - lg->t0 > lg->timeout ||
	    (!lg->storm && lg->t_all_up > 0 && lg->expect == 0 && t - lg->t_all_up >= lg->hold) ||
	    (lg->expect > 0 && all_notes && lg->t_all_up > 0) ||
	    (lg->storm && lg->t_storm_up > 0))
		event_base_loopbreak(lg->base);
}

static void
on_usr1(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	(void)what;
	lg->t_storm = now_s();
	if (lg->up == lg->nsess && lg->t_storm_up == 0)
		lg->t_storm_up = lg->t_storm;     /* all back before the signal */
}

static void
report(struct lg *lg)
{
	printf("{\"sessions\":%d,\"up\":%d,\"failures\":%d", lg->nsess, lg->up, lg->failures);
	if (lg->t_all_up > 0)
		printf(",\"establish_s\":%.3f", lg->t_all_up - lg->t0);
	if (lg->rss_before >= 0 && lg->rss_up >= 0)
		printf(",\"server_rss_kb_before\":%ld,\"server_rss_kb_up\":%ld", lg->rss_before,
		    lg->rss_up);
	/* After --hold: what the server holds once the sessions have been idle that long, and
	 * how many of its connect-backs it still keeps open (scp_idle_close). */
	if (lg->hold > 0 && lg->rss_before >= 0 && !lg->storm && lg->expect == 0)
		printf(",\"server_rss_kb_held\":%ld,\"scp_open\":%ld", rss_kb(lg->server_pid),
		    lg->scp_open);
	if (lg->storm)
		printf(",\"drops\":%ld", lg->drops);
	if (lg->storm)
		printf(",\"storm_s\":%.3f", lg->t_storm_up > 0 && lg->t_storm > 0 ?
		    lg->t_storm_up - lg->t_storm : -1.0);
	if (lg->expect > 0) {
		double span = lg->t_last_note - lg->t_first_note;

		qsort(lg->lat, lg->nlat, sizeof(*lg->lat), cmp_u32);
		printf(",\"notifications\":%" PRIu64 ",\"per_s\":%.1f", lg->notes,
		    span > 0 ? lg->notes / span : 0.0);
		if (lg->nlat > 0)
			printf(",\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
			    lg->lat[lg->nlat / 2] / 1000.0, lg->lat[(lg->nlat * 99) / 100] / 1000.0,
			    lg->lat[lg->nlat - 1] / 1000.0);
	}
	if (lg->last_error[0]) {
		printf(",\"last_error\":\"");
		for (const char *p = lg->last_error; *p; p++)
			if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
				putchar(*p);
		putchar('"');
	}
	printf("}\n");
}

static void
usage(void)
{
	fprintf(stderr, "usage: netcfax-loadgen --port P --fingerprint SHA256:... --user U [--users K] "
	    "--password-file F --sessions N [--addresses K] [--path direct|relay] "
	    "[--parallel C] [--hold S] [--expect M] [--storm] [--no-resume-token] "
	    "[--server-pid PID] [--timeout S]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "user", required_argument, NULL, 'u' },
		{ "users", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'w' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "addresses", required_argument, NULL, 'a' },
		{ "path", required_argument, NULL, 'P' },
		{ "parallel", required_argument, NULL, 'c' },
		{ "hold", required_argument, NULL, 'H' },
		{ "expect", required_argument, NULL, 'e' },
		{ "storm", no_argument, NULL, 's' },
		{ "no-resume-token", no_argument, NULL, 'R' },
		{ "server-pid", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct lg lg = { 0 };
	struct timeval tick = { 0, 50 * 1000 };
	struct rlimit rl;
	char err[256];
	const char *pwfile = NULL;
	int ch, rc;

	lg.naddr = 1;
	lg.parallel = 256;
	lg.path = NCFX_PATH_DIRECT;
	lg.timeout = 600;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': lg.port = atoi(optarg); break;
		case 'f': lg.fingerprint = optarg; break;
		case 'u': lg.user = optarg; break;
		case 'U': lg.users = atoi(optarg); break;
		case 'w': pwfile = optarg; break;
		case 'n': lg.nsess = atoi(optarg); break;
		case 'a': lg.naddr = atoi(optarg); break;
		case 'P': lg.path = strcmp(optarg, "relay") == 0 ? NCFX_PATH_RELAY :
		              NCFX_PATH_DIRECT; break;
		case 'c': lg.parallel = atoi(optarg); break;
		case 'H': lg.hold = atoi(optarg); break;
		case 'e': lg.expect = atoi(optarg); break;
		case 's': lg.storm = 1; break;
		case 'R': lg.no_token = 1; break;
		case 'S': lg.server_pid = atol(optarg); break;
		case 't': lg.timeout = atoi(optarg); break;
		default: usage(); return ch == 'h' ? 0 : 64;
		}
	}
	if (lg.port <= 0 || lg.fingerprint == NULL || lg.user == NULL || pwfile == NULL ||
	    lg.nsess <= 0 || lg.nsess > 1000000 || lg.naddr < 1 || lg.naddr > ADDRS_MAX ||
	    lg.parallel < 1) {
		usage();
		return 64;
	}
	if (password_obtain(pwfile, NULL, 0, lg.password, sizeof(lg.password), err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "netcfax-loadgen: %s\n", err);
		return 66;
	}
	/* Two descriptors a session (PCP and SCP) and some to spare. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)lg.nsess * 2 + 256) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)lg.nsess * 2 + 256 ? rl.rlim_max :
		    (rlim_t)lg.nsess * 2 + 256;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	lg.base = event_base_new();
	lg.tls = tls_client_ctx_new(NULL, err, sizeof(err));
	lg.s = calloc((size_t)lg.nsess, sizeof(*lg.s));
	lg.lat = malloc(LAT_MAX * sizeof(*lg.lat));
	/* Session ids are random: a table of twice the sessions keeps probes short. Sessions
	 * of an earlier login stay in it (looked up by id, never confused). */
	lg.nbyid = (size_t)lg.nsess * 4 + 1;
	lg.byid = calloc(lg.nbyid, sizeof(*lg.byid));
	if (lg.base == NULL || lg.tls == NULL || lg.s == NULL || lg.lat == NULL ||
	    lg.byid == NULL) {
		fprintf(stderr, "netcfax-loadgen: cannot start: %s\n", lg.tls ? "out of memory" :
		    err);
		return 70;
	}
	if (listen_all(&lg) < 0) {
		fprintf(stderr, "netcfax-loadgen: cannot listen on 127.0.1.x: %s\n",
		    strerror(errno));
		return 70;
	}
	for (int i = 0; i < lg.nsess; i++) {
		lg.s[i].lg = &lg;
		lg.s[i].idx = i;
		lg.s[i].addr = i % lg.naddr;
		lg.s[i].fd = -1;
		lg.s[i].retry = evtimer_new(lg.base, retry_now, &lg.s[i]);
	}
	lg.tick = event_new(lg.base, -1, EV_PERSIST, on_tick, &lg);
	lg.usr1 = evsignal_new(lg.base, SIGUSR1, on_usr1, &lg);
	event_add(lg.tick, &tick);
	event_add(lg.usr1, NULL);
	lg.rss_before = rss_kb(lg.server_pid);
	lg.rss_up = -1;
	lg.t0 = now_s();
	start_next(&lg);
	event_base_dispatch(lg.base);
	report(&lg);
	rc = lg.up == lg.nsess ? 0 : 1;
	/* Everything freed, so a sanitizer build reports only real leaks. */
	while (lg.conns)
		scp_close(lg.conns);
	for (int i = 0; i < lg.nsess; i++) {
		struct sess *s = &lg.s[i];

		if (s->wev)
			event_free(s->wev);
		if (s->pcp)
			bufferevent_free(s->pcp);
		else if (s->fd >= 0)
			close(s->fd);
		event_free(s->retry);
	}
	for (int i = 0; i < lg.naddr; i++)
		if (lg.lst[i])
			evconnlistener_free(lg.lst[i]);
	event_free(lg.tick);
	event_free(lg.usr1);
	tls_ctx_free(lg.tls);
	event_base_free(lg.base);
	free(lg.s);
	free(lg.byid);
	free(lg.lat);
	return rc;
}

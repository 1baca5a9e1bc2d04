/* probe.c: the end-to-end check of the SCP for netcfax-portcheck. It logs in wanting no
 * notifications (so it takes none away from the user's watchers), asks the server for one
 * connect-back (SCP_PROBE), answers it on the given listener exactly as a watcher would, and
 * reports the server's verdict together with what our side saw. */
#include "netcfax/netcfax.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "client_internal.h"
#include "frame_io.h"
#include "proto.h"
#include "reply.h"
#include "scp_bind.h"
#include "tls.h"

#define PROBE_REQID 1
#define PING_REQID  2

struct probe {
	struct event_base        *base;
	struct tls_ctx           *tls;
	struct bufferevent       *pcp;
	struct evbuffer          *pending;    /* PCP bytes that came before the detach */
	struct bufferevent       *scp;        /* the one SCP connection we are answering */
	int                       scp_bound;
	char                      scp_from[80];
	const char               *host, *pinned;
	uint64_t                  session_id;
	uint8_t                   secret[32];
	uint16_t                  port;       /* probed; 0: the round trip only */
	struct timespec           ping_at;
	int                       done;
	ncfx_status               st;
	char                      err[300];
	struct ncfx_probe_result *r;
};

static void
finish(struct probe *p, ncfx_status st, const char *err)
{
	p->done = 1;
	p->st = st;
	if (err)
		snprintf(p->err, sizeof(p->err), "%s", err);
	event_base_loopbreak(p->base);
}

static void
scp_drop(struct probe *p, const char *why)
{
	if (why && !p->scp_bound)
		snprintf(p->r->dropped, sizeof(p->r->dropped), "%s", why);
	bufferevent_free(p->scp);
	p->scp = NULL;
}

static void
scp_read(struct bufferevent *bev, void *arg)
{
	struct probe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct ncfx_msg m;
	char why[160];
	size_t len = 0;
	int err = 0, rc;

	if (p->scp_bound) {
		evbuffer_drain(in, evbuffer_get_length(in));   /* a probe carries nothing more */
		return;
	}
	rc = frame_next(in, &m, &len, &err, why, sizeof(why));
	if (rc == 0)
		return;
	if (rc < 0 || scp_bind_answer(bev, &m, p->session_id, p->secret, why, sizeof(why)) < 0) {
		scp_drop(p, why);
		return;
	}
	evbuffer_drain(in, len);
	p->scp_bound = 1;
	p->r->answered = 1;
	snprintf(p->r->answered_from, sizeof(p->r->answered_from), "%s", p->scp_from);
}

static void
scp_event(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;
	char why[256];

	if (what & BEV_EVENT_CONNECTED) {
		if (scp_bind_check_peer(bev, p->pinned, why, sizeof(why)) < 0)
			scp_drop(p, why);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tls_bev_error(bev, why, sizeof(why));
		scp_drop(p, why);
	} else
		scp_drop(p, p->scp_bound ? NULL : "closed before SCP_BIND");
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct probe *p = arg;

	(void)l;
	p->r->accepted++;
	if (p->scp != NULL) {            /* one probe, one connection */
		close(fd);
		return;
	}
	addr_format(sa, (socklen_t)salen, NULL, 0, p->scp_from, sizeof(p->scp_from));
	if ((p->scp = tls_bev_connect(p->base, fd, p->tls, p->host)) == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(p->scp, scp_read, NULL, scp_event, p);
	bufferevent_setwatermark(p->scp, EV_READ, 0, 4 * NCFX_FRAME_MAX);
	bufferevent_enable(p->scp, EV_READ | EV_WRITE);
}

static void
got_result(struct probe *p, const struct ncfx_msg *m)
{
	reply_probe(m, p->r);
	finish(p, NCFX_OK, NULL);
}

static void
pcp_frames(struct probe *p, struct evbuffer *in)
{
	while (!p->done) {
		struct ncfx_msg m;
		char why[160], msg[400];
		size_t len = 0;
		int err = 0, rc = frame_next(in, &m, &len, &err, why, sizeof(why));

		if (rc == 0)
			return;
		if (rc < 0) {
			finish(p, NCFX_ERR_PROTOCOL, why);
			return;
		}
		if (m.type == NCFX_MSG_PONG && m.reqid == PING_REQID) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			p->r->pcp_rtt_ms = (now.tv_sec - p->ping_at.tv_sec) * 1000L +
			    (now.tv_nsec - p->ping_at.tv_nsec) / 1000000L;
			if (p->port == 0) {            /* nothing else was asked */
				p->r->relay = p->r->session.relay_offered;
				finish(p, NCFX_OK, NULL);
			}
		} else if (m.type == NCFX_MSG_SCP_PROBE_RESULT && m.reqid == PROBE_REQID) {
			got_result(p, &m);
		} else if (m.type == NCFX_MSG_ERROR && (m.reqid == PROBE_REQID || m.reqid == 0)) {
			char reason[300];

			snprintf(msg, sizeof(msg), "the server refused the probe: %s",
			    ncfx_msg_str(&m, NCFX_T_REASON, reason, sizeof(reason)));
			finish(p, NCFX_ERR_SERVER, msg);
		}
		/* Anything else (this session gets no notifications) is not ours to act on. */
		evbuffer_drain(in, len);
	}
}

static void
pcp_read(struct bufferevent *bev, void *arg)
{
	pcp_frames(arg, bufferevent_get_input(bev));
}

static void
pcp_event(struct bufferevent *bev, short what, void *arg)
{
	char why[256];

	if (what & BEV_EVENT_ERROR) {
		tls_bev_error(bev, why, sizeof(why));
		finish(arg, NCFX_ERR_CLOSED, why);
	} else if (what & BEV_EVENT_EOF)
		finish(arg, NCFX_ERR_CLOSED, "the server closed the connection");
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, NCFX_ERR_CONNECT, "no verdict from the server in time");
}

static ncfx_status
run(struct probe *p, ncfx_client *c, int listen_fd, uint16_t port, int timeout_s)
{
	struct evconnlistener *l = NULL;
	struct event *timer = NULL;
	struct ncfx_wbuf wb;
	struct timeval tv = { timeout_s > 0 ? timeout_s : 30, 0 };
	char err[300];

	p->tls = tls_client_ctx_new(*ncfx_client_ca_file(c) ? ncfx_client_ca_file(c) : NULL, err,
	    sizeof(err));
	if (p->tls == NULL)
		return NCFX_ERR_TLS;
	if ((p->pcp = ncfx_client_detach(c, p->base, p->pending)) == NULL)
		return NCFX_ERR_NOMEM;
	bufferevent_setcb(p->pcp, pcp_read, NULL, pcp_event, p);
	bufferevent_enable(p->pcp, EV_READ | EV_WRITE);
	if (listen_fd >= 0 &&
	    (l = evconnlistener_new(p->base, on_accept, p, 0, -1, listen_fd)) == NULL)
		return NCFX_ERR_NOMEM;
	if ((timer = evtimer_new(p->base, on_timeout, p)) == NULL) {
		if (l)
			evconnlistener_free(l);
		return NCFX_ERR_NOMEM;
	}
	evtimer_add(timer, &tv);
	/* The PCP's round trip first: it is the relay's path. */
	clock_gettime(CLOCK_MONOTONIC, &p->ping_at);
	p->r->pcp_rtt_ms = -1;
	ncfx_wbuf_begin(&wb, NCFX_MSG_PING, 0, PING_REQID);
	frame_send(p->pcp, &wb);
	if (port != 0) {
		ncfx_wbuf_begin(&wb, NCFX_MSG_SCP_PROBE, 0, PROBE_REQID);
		ncfx_put_u16(&wb, NCFX_T_SCP_PORT, port);
		frame_send(p->pcp, &wb);
	}
	/* What came before the detach goes first, in the same buffer as what follows, so a
	 * frame split between the two is read whole. */
	evbuffer_prepend_buffer(bufferevent_get_input(p->pcp), p->pending);
	pcp_frames(p, bufferevent_get_input(p->pcp));
	if (!p->done)
		event_base_dispatch(p->base);
	if (l)
		evconnlistener_free(l);
	event_free(timer);
	return p->st;
}

ncfx_status
ncfx_probe_scp(ncfx_client *c, const char *user, const char *password, int listen_fd,
    uint16_t port, int timeout_s, struct ncfx_probe_result *r)
{
	struct probe p;
	ncfx_status st;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	p.r = r;
	/* No port and no path: a session that gets no notifications. */
	st = ncfx_login_ex(c, user, password, 0, NCFX_SCP_NONE, -1, 0, 0, &r->session, p.secret);
	if (st != NCFX_OK)
		return st;
	p.session_id = r->session.session_id;
	p.port = port;
	p.host = ncfx_client_host(c);
	p.pinned = *ncfx_client_ca_file(c) ? NULL : ncfx_client_fingerprint(c);
	p.base = event_base_new();
	p.pending = evbuffer_new();
	if (p.base == NULL || p.pending == NULL)
		st = NCFX_ERR_NOMEM;
	else
		st = run(&p, c, listen_fd, port, timeout_s);
	/* Both ends close properly (close_notify), so the server logs a disconnect, not a
	 * connection cut short; the watcher does the same at its end (watch.c). */
	if (p.scp) {
		if (p.scp_bound)
			tls_bev_close_notify(p.scp);
		bufferevent_free(p.scp);
	}
	if (p.pcp) {
		tls_bev_close_notify(p.pcp);
		bufferevent_free(p.pcp);
	}
	if (p.pending)
		evbuffer_free(p.pending);
	tls_ctx_free(p.tls);
	if (p.base)
		event_base_free(p.base);
	ncfx_close(c);
	if (st != NCFX_OK)
		snprintf(r->reason, sizeof(r->reason), "%s", p.err[0] ? p.err :
		    ncfx_status_str(st));
	return st;
}

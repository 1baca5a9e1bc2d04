/* watch.c: a client instance that stays reachable. The PCP connection is made and logged in
 * with the blocking client, then handed to libevent for heartbeats; the SCP listener accepts
 * the server's connect-backs, and nothing from one is believed until the peer presented the
 * pinned certificate and proved it knows this session's secret. */
#include "netcfax/netcfax.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "backoff.h"
#include "client_internal.h"
#include "crypto.h"
#include "frame_io.h"
#include "netopt.h"
#include "notice.h"
#include "proto.h"
#include "scp_bind.h"
#include "scp_listener.h"
#include "service.h"
#include "scp_proof.h"
#include "tls.h"
#include "watch_state.h"

#define WATCH_BIND_TIMEOUT 10     /* seconds from SCP accept to a valid SCP_BIND */
#define WATCH_BACKOFF_MAX  60
#define WATCH_DEAD_AFTER   3      /* heartbeats without a word from the server */
#define WATCH_QUICK_CHECK  5      /* seconds for the server to answer a PING sent because the
                                   * router restarted (and may have lost the PCP's NAT state) */
#define WATCH_OLD_SESSIONS 4      /* our previous session ids, told apart from other clients' */

struct scpconn {
	struct ncfx_watch  *w;
	struct bufferevent *bev;
	struct event       *deadline;
	int                 bound;
	int                 closing;   /* told the server it reached another client; going */
	struct notice_acks  ack;       /* we acknowledge on a connection only what came on it */
	char                peer[ADDR_STR_MAX];
	struct scpconn     *prev, *next;
};

struct ncfx_watch {
	struct ncfx_watch_options o;
	struct event_base     *base;
	struct tls_ctx        *scp_tls;
	struct evconnlistener *listener;
	uint16_t               scp_port;       /* where we listen */
	uint16_t               reg_port;       /* what the server connects to: scp_port, or the
	                                        * external port the router granted */
	struct portmap_service *portmap;
	int                    scp_mode;      /* NCFX_SCP_* on the wire */
	ncfx_client           *client;
	struct bufferevent    *pcp;
	struct event          *timer;          /* reconnect backoff, then heartbeats */
	struct event          *sigint, *sigterm, *sigusr1;
	struct notice_acks     pcp_ack;        /* relayed notifications */
	int                    path;           /* as the server last said */
	uint32_t               reqid;          /* for requests sent on the evented PCP */
	uint32_t               reg_reqid;      /* an SCP_REGISTER awaiting its reply, 0 if none */
	uint16_t               reg_prev;       /* the port it replaces, kept if it is refused */
	int                    attempts;
	int                    logins;
	char                   fingerprint[TLS_FP_LEN];
	uint64_t               session_id;
	uint8_t                secret[32];
	struct notice_seen     seen;           /* highest notification shown */
	time_t                 last_rx;
	struct scpconn        *conns;
	uint64_t               old_sessions[WATCH_OLD_SESSIONS];
	unsigned               misdirected;    /* connect-backs for other clients that reached us */
	struct event          *pcp_check;      /* a quick PING's deadline */
	unsigned               pcp_rx;         /* reads on the PCP, to see if one came since */
	unsigned               pcp_check_rx;
	int                    stop_code;
	ncfx_status            result;
	int                    server_code;
	char                   err[600];
	struct watch_state    *state;          /* what netcfax-portcheck reads about us */
};

static void flush_acks(ncfx_watch *w);
static void conn_event(struct bufferevent *bev, short what, void *arg);
static void say_goodbye(ncfx_watch *w);
static void schedule_reconnect(ncfx_watch *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
status(ncfx_watch *w, int level, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->o.on_status)
		w->o.on_status(w, level, msg, w->o.arg);
}

static void
fatal_stop(ncfx_watch *w, ncfx_status st, int server_code, const char *msg)
{
	w->result = st;
	w->server_code = server_code;
	snprintf(w->err, sizeof(w->err), "%s", msg);
	event_base_loopbreak(w->base);
}

/* SCP connections */

static void
conn_free(struct scpconn *c)
{
	ncfx_watch *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else if (w->conns == c)
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->deadline)
		event_free(c->deadline);
	free(c);
}

static void
conn_drop(struct scpconn *c, const char *why)
{
	/* Whoever it was, they get no answer and the user sees nothing but this log line. */
	status(c->w, NCFX_WATCH_WARN, "dropped a connection to the SCP from %s: %s", c->peer, why);
	conn_free(c);
}

static void
drop_all_conns(ncfx_watch *w)
{
	while (w->conns)
		conn_free(w->conns);
}

static void
send_ack(struct bufferevent *bev, struct notice_acks *a)
{
	struct ncfx_wbuf wb;

	if (!a->due)
		return;
	ncfx_wbuf_begin(&wb, NCFX_MSG_NOTIFY_ACK, 0, 0);
	ncfx_put_u64(&wb, NCFX_T_SEQ, a->max_seq);
	frame_send(bev, &wb);
	a->due = 0;
}

/* Misdirected connect-backs: two clients behind one router registered the same external
 * port (one of them without a mapping of its own), and the router forwards it to this host.
 * The server, which checked its certificate already, is told in one ERROR frame, so that
 * it can say why the other client's direct path fails instead of reporting a closed TLS
 * connection; then the connection ends cleanly. */

static int
our_old_session(const ncfx_watch *w, uint64_t id)
{
	for (int i = 0; i < WATCH_OLD_SESSIONS; i++)
		if (id != 0 && w->old_sessions[i] == id)
			return 1;
	return 0;
}

static void
conn_told(struct bufferevent *bev, void *arg)
{
	/* The ERROR is written: now the close_notify, after it. */
	tls_bev_close_notify(bev);
	conn_free(arg);
}

static void
conn_not_ours(struct scpconn *c)
{
	ncfx_watch *w = c->w;
	struct ncfx_wbuf wb;

	/* Said once as a warning; then at doubling counts, since the server keeps trying. */
	if (++w->misdirected == 1)
		status(w, NCFX_WATCH_WARN, "the server's connect-back for another netcfax client "
		    "reached port %u from %s: that client is registered on an external port that "
		    "forwards to this host; told the server so", w->scp_port, c->peer);
	else if ((w->misdirected & (w->misdirected - 1)) == 0)
		status(w, NCFX_WATCH_INFO, "connect-backs for another netcfax client reached port "
		    "%u %u times so far; each was told so", w->scp_port, w->misdirected);
	ncfx_wbuf_begin(&wb, NCFX_MSG_ERROR, 0, 0);
	ncfx_put_u32(&wb, NCFX_T_ERROR_CODE, NCFX_E_NOT_THIS_SESSION);
	ncfx_put_str(&wb, NCFX_T_REASON, ncfx_strerror(NCFX_E_NOT_THIS_SESSION));
	frame_send(c->bev, &wb);
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, conn_told, conn_event, c);
}

/* The first frame must be SCP_BIND for our current session with the server's proof. */
static int
check_bind(ncfx_watch *w, struct scpconn *c, const struct ncfx_msg *m)
{
	char why[160];
	int rc = scp_bind_answer(c->bev, m, w->session_id, w->secret, why, sizeof(why));

	if (rc == SCP_BIND_OTHER_SESSION && !our_old_session(w, ncfx_msg_uint(m,
	    NCFX_T_SESSION_ID))) {
		conn_not_ours(c);
		return -1;
	}
	if (rc < 0) {
		conn_drop(c, why);
		return -1;
	}
	c->bound = 1;
	event_del(c->deadline);
	/* The server replaces a dead SCP with a new one: the newest bound connection wins. */
	for (struct scpconn *o = w->conns, *next; o; o = next) {
		next = o->next;
		if (o != c)
			conn_free(o);
	}
	status(w, NCFX_WATCH_INFO, "notifications connected: the server reached port %u "
	    "from %s", w->scp_port, c->peer);
	return 0;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct scpconn *c = arg;
	ncfx_watch *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct ncfx_wbuf wb;

	for (;;) {
		struct ncfx_msg m;
		struct notice nt;
		char why[160];
		size_t len = 0;
		int err = 0, rc = frame_next(in, &m, &len, &err, why, sizeof(why));

		if (rc == 0)
			break;
		if (rc < 0) {
			conn_drop(c, why);
			return;
		}
		if (!c->bound) {
			if (check_bind(w, c, &m) < 0)
				return;
		} else {
			switch (notice_scp(&c->ack, &w->seen, &m, &nt, why, sizeof(why))) {
			case NOTICE_DROP:
				conn_drop(c, why);
				return;
			case NOTICE_SHOW:
				if (w->o.on_notify)
					w->o.on_notify(w, &nt.n, w->o.arg);
				break;
			case NOTICE_PING:
				ncfx_wbuf_begin(&wb, NCFX_MSG_PONG, 0, nt.reqid);
				if (nt.has_seq)
					ncfx_put_u64(&wb, NCFX_T_SEQ, nt.seq);
				frame_send(bev, &wb);
				break;
			default:
				break;
			}
		}
		evbuffer_drain(in, len);
		if (w->stop_code >= 0)
			break;
	}
	/* One cumulative ack per batch read, never beyond what this connection carried. */
	send_ack(bev, &c->ack);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct scpconn *c = arg;
	ncfx_watch *w = c->w;
	char why[256];

	if (c->closing) {
		conn_free(c);            /* the server closed first: it read what we said */
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		/* Pinning mode: the SCP peer must present exactly the PCP's certificate. */
		if (scp_bind_check_peer(bev, w->o.conn.ca_file && *w->o.conn.ca_file ? NULL :
		    w->fingerprint, why, sizeof(why)) < 0)
			conn_drop(c, why);
		return;
	}
	if (c->bound) {
		/* Our server's connection ended; it connects again when it has more to say. */
		if (what & BEV_EVENT_ERROR) {
			tls_bev_error(bev, why, sizeof(why));
			status(w, NCFX_WATCH_INFO, "the notification connection closed: %s", why);
		}
		conn_free(c);
	} else if (what & BEV_EVENT_ERROR) {
		tls_bev_error(bev, why, sizeof(why));
		conn_drop(c, why);
	} else
		conn_drop(c, "closed before SCP_BIND");
}

static void
conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct scpconn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing)
		conn_free(c);
	else
		conn_drop(c, "no valid SCP_BIND in time");
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	ncfx_watch *w = arg;
	struct scpconn *c = calloc(1, sizeof(*c));
	struct timeval tv = { WATCH_BIND_TIMEOUT, 0 };

	(void)l;
	if (c == NULL) {
		close(fd);
		return;
	}
	c->w = w;
	addr_format(sa, (socklen_t)salen, NULL, 0, c->peer, sizeof(c->peer));
	c->bev = tls_bev_connect(w->base, fd, w->scp_tls, w->o.conn.host);
	c->deadline = evtimer_new(w->base, conn_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev == NULL)
			close(fd);
		if (c->deadline)
			event_free(c->deadline);
		if (c->bev)
			bufferevent_free(c->bev);
		free(c);
		return;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 * NCFX_FRAME_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->deadline, &tv);
}

/* PCP */

static void
pcp_close(ncfx_watch *w)
{
	if (w->session_id != 0) {
		memmove(w->old_sessions + 1, w->old_sessions, sizeof(w->old_sessions) -
		    sizeof(w->old_sessions[0]));
		w->old_sessions[0] = w->session_id;
	}
	if (w->pcp_check)
		evtimer_del(w->pcp_check);
	if (w->pcp) {
		bufferevent_free(w->pcp);
		w->pcp = NULL;
	}
	w->session_id = 0;
	explicit_bzero(w->secret, sizeof(w->secret));
	drop_all_conns(w);
	watch_state_session(w->state, 0);
}

static void
pcp_read(struct bufferevent *bev, void *arg)
{
	ncfx_watch *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	w->last_rx = time(NULL);
	w->pcp_rx++;
	for (;;) {
		struct ncfx_msg m;
		struct notice nt;
		char why[160];
		size_t len = 0;
		int err = 0, rc = frame_next(in, &m, &len, &err, why, sizeof(why));

		if (rc == 0)
			break;
		if (rc < 0) {
			schedule_reconnect(w, "the server sent %s", why);
			return;
		}
		switch (notice_pcp(&w->pcp_ack, &w->seen, &m, &nt)) {
		case NOTICE_CLOSED:
			schedule_reconnect(w, "the server closed the session: %s", nt.text);
			return;
		case NOTICE_SHOW:
			if (w->o.on_notify)
				w->o.on_notify(w, &nt.n, w->o.arg);
			break;
		case NOTICE_PATH:
			w->path = nt.path;
			watch_state_path(w->state, nt.path, nt.text);
			if (w->o.on_path)
				w->o.on_path(w, w->path, nt.text, w->o.arg);
			/* The server could not connect back: is our mapping still there? */
			if (w->path != NCFX_WATCH_PATH_DIRECT)
				portmap_service_check_now(w->portmap);
			break;
		case NOTICE_REFUSED:
			if (w->reg_reqid != 0 && nt.reqid == w->reg_reqid) {
				/* The session keeps the port it had; so must the next LOGIN, or
				 * the server would refuse the whole login for it. */
				status(w, NCFX_WATCH_WARN, "the server refused port %u (%s); keeping "
				    "port %u", w->reg_port, nt.text, w->reg_prev);
				w->reg_port = w->reg_prev;
				w->reg_reqid = 0;
				watch_state_ports(w->state, w->scp_port, w->reg_port);
			} else
				status(w, NCFX_WATCH_WARN, "the server refused a request: %s",
				    nt.text);
			break;
		case NOTICE_DONE:
			if (nt.reqid == w->reg_reqid)
				w->reg_reqid = 0;
			break;
		default:
			/* PONG and the OK replies to PATH_RETRY only keep the session alive. */
			break;
		}
		evbuffer_drain(in, len);
		if (w->pcp != bev || w->stop_code >= 0)
			break;
	}
	if (w->pcp == bev)
		send_ack(bev, &w->pcp_ack);
}

static void
pcp_event(struct bufferevent *bev, short what, void *arg)
{
	ncfx_watch *w = arg;
	char why[256];

	if (what & BEV_EVENT_ERROR) {
		tls_bev_error(bev, why, sizeof(why));
		schedule_reconnect(w, "connection to the server lost: %s", why);
	} else if (what & BEV_EVENT_EOF)
		schedule_reconnect(w, "the server closed the connection");
}

static void start_portmap(ncfx_watch *w);

static int
heartbeat_secs(const ncfx_watch *w)
{
	return w->o.heartbeat > 0 ? w->o.heartbeat : 25;
}

static int try_login(ncfx_watch *w);

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	ncfx_watch *w = arg;
	struct timeval tv = { heartbeat_secs(w), 0 };
	struct ncfx_wbuf wb;

	(void)fd;
	(void)what;
	if (w->pcp == NULL) {
		if (try_login(w) == 0)
			evtimer_add(w->timer, &tv);
		return;
	}
	if (time(NULL) - w->last_rx >= (time_t)heartbeat_secs(w) * WATCH_DEAD_AFTER) {
		schedule_reconnect(w, "no answer from the server for %d s",
		    heartbeat_secs(w) * WATCH_DEAD_AFTER);
		return;
	}
	/* The heartbeat travels inside TLS; it also keeps NAT state for the PCP alive. */
	ncfx_wbuf_begin(&wb, NCFX_MSG_PING, 0, 0);
	frame_send(w->pcp, &wb);
	evtimer_add(w->timer, &tv);
}

static void
schedule_reconnect(ncfx_watch *w, const char *fmt, ...)
{
	char why[400];
	va_list ap;
	long delay;
	struct timeval tv;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pcp_close(w);
	delay = backoff_delay_ms(w->attempts++, WATCH_BACKOFF_MAX);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_del(w->timer);
	evtimer_add(w->timer, &tv);
	status(w, NCFX_WATCH_WARN, "%s; reconnecting in %.1f s", why, (double)delay / 1000.0);
}

static void
pcp_check_due(evutil_socket_t fd, short what, void *arg)
{
	ncfx_watch *w = arg;

	(void)fd;
	(void)what;
	if (w->pcp != NULL && w->pcp_rx == w->pcp_check_rx)
		schedule_reconnect(w, "no answer from the server within %d s after the router "
		    "restarted or lost our mapping (it may have lost this connection's NAT state "
		    "too)", WATCH_QUICK_CHECK);
}

/* The router restarted or lost our mapping: its connection tracking, and with it the PCP's
 * NAT state, may be gone, and the server may already have closed its end. A PING now, with
 * a short deadline, finds that in seconds rather than at the next heartbeat's timeout. */
static void
pcp_check_soon(ncfx_watch *w)
{
	struct timeval tv = { WATCH_QUICK_CHECK, 0 };
	struct ncfx_wbuf wb;

	if (w->pcp == NULL || w->pcp_check == NULL || evtimer_pending(w->pcp_check, NULL))
		return;
	w->pcp_check_rx = w->pcp_rx;
	ncfx_wbuf_begin(&wb, NCFX_MSG_PING, 0, 0);
	frame_send(w->pcp, &wb);
	evtimer_add(w->pcp_check, &tv);
}

/* The router granted (or lost) a mapping: register the port the server should use. */
static void
on_portmap(const struct portmap_event *ev, void *arg)
{
	ncfx_watch *w = arg;
	struct ncfx_wbuf wb;

	/* A restart announcement is news of the router, not of our mapping: the check it
	 * brings says MAPPED or LOST. LOST and FAILED mean the service holds no mapping it
	 * knows of, even if the router may still have one. */
	if (ev->kind != PORTMAP_RESTARTED)
		watch_state_mapping(w->state, ev->kind == PORTMAP_MAPPED ? ev->proto : NULL);
	if (ev->kind == PORTMAP_FAILED) {
		status(w, NCFX_WATCH_WARN, "no router port mapping: %s; trying again later", ev->why);
		return;
	}
	if (ev->kind == PORTMAP_RESTARTED) {
		status(w, NCFX_WATCH_INFO, "%s: checking the mapping, and the connection to the "
		    "server", ev->why);
		pcp_check_soon(w);
		return;
	}
	if (ev->kind == PORTMAP_LOST) {
		status(w, NCFX_WATCH_WARN, "router mapping lost: %s", ev->why);
		pcp_check_soon(w);      /* what lost the mapping may have cut the PCP too */
		return;
	}
	if (ev->instead[0])
		status(w, NCFX_WATCH_INFO, "%s; mapped %s:%u instead", ev->instead, ev->ext_addr,
		    ev->ext_port);
	status(w, NCFX_WATCH_INFO, "router mapping by %s: %s:%u forwards to port %u (%s)",
	    ev->proto, ev->ext_addr, ev->ext_port, w->scp_port, ev->lease ?
	    "renewed at half its lease" : "permanent, removed at exit");
	if (ev->ext_port == w->reg_port) {
		/* Same port, newly reachable: while not direct, ask the server to try it now. */
		if (w->path != NCFX_WATCH_PATH_DIRECT)
			ncfx_watch_retry_direct(w);
		return;
	}
	w->reg_prev = w->reg_port;
	w->reg_port = ev->ext_port;
	watch_state_ports(w->state, w->scp_port, w->reg_port);
	if (w->pcp == NULL)
		return;                  /* the next login registers it */
	w->reg_reqid = ++w->reqid ? w->reqid : ++w->reqid;
	ncfx_wbuf_begin(&wb, NCFX_MSG_SCP_REGISTER, 0, w->reg_reqid);
	ncfx_put_u16(&wb, NCFX_T_SCP_PORT, w->reg_port);
	ncfx_put_u8(&wb, NCFX_T_SCP_MODE, (uint8_t)w->scp_mode);
	frame_send(w->pcp, &wb);
	status(w, NCFX_WATCH_INFO, "registered port %u with the server", w->reg_port);
}

static void
start_portmap(ncfx_watch *w)
{
	struct portmap_service_options po = { 0 };
	char desc[PORTMAP_DESC_MAX], host[64] = "";

	if (w->o.portmap == NULL || strcmp(w->o.portmap, "off") == 0)
		return;
	gethostname(host, sizeof(host) - 1);
	snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " SCP %s@%s", w->o.user, host);
	po.protocols = w->o.portmap;
	po.int_port = w->scp_port;
	if (w->scp_mode == NCFX_SCP_RANGE) {
		po.range_lo = (uint16_t)w->o.scp_port_min;
		po.range_hi = (uint16_t)w->o.scp_port_max;
	}
	/* Another external port is fine: the server is told whichever we get. */
	po.alternatives = PORTMAP_ALT_TRIES;
	po.lease = w->o.portmap_lease > 0 ? w->o.portmap_lease : 3600;
	po.desc = desc;
	w->portmap = portmap_service_new(w->base, &po, on_portmap, w);
	if (w->portmap == NULL)
		status(w, NCFX_WATCH_WARN, "cannot start the router port mapping");
	else
		status(w, NCFX_WATCH_INFO, "asking the local router to forward the SCP (%s)",
		    w->o.portmap);
}

static int
bind_listener(ncfx_watch *w, const char *peer_addr)
{
	struct scp_listen_opts lo = { 0 };
	char err[400], warn[200];
	uint16_t port = 0;
	int fd;

	lo.mode = w->scp_mode;
	lo.port = w->o.scp_port ? w->o.scp_port : NCFX_DEFAULT_SCP_PORT;
	lo.port_min = w->o.scp_port_min;
	lo.port_max = w->o.scp_port_max;
	lo.bind_addr = w->o.scp_listen;
	/* Listen in the family the server sees us in: that is where it will connect back. */
	lo.family = strchr(peer_addr, ':') ? AF_INET6 : AF_INET;
	fd = scp_listen_bind(&lo, &port, err, sizeof(err), warn, sizeof(warn));
	if (fd < 0) {
		fatal_stop(w, NCFX_ERR_USAGE, 0, err);
		return -1;
	}
	if (warn[0])
		status(w, NCFX_WATCH_WARN, "%s", warn);
	w->listener = evconnlistener_new(w->base, on_accept, w, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (w->listener == NULL) {
		close(fd);
		fatal_stop(w, NCFX_ERR_NOMEM, 0, "out of memory");
		return -1;
	}
	w->scp_port = w->reg_port = port;
	watch_state_ports(w->state, w->scp_port, w->reg_port);
	status(w, NCFX_WATCH_INFO, "listening for notifications on TCP port %u (%s)", port,
	    w->scp_mode == NCFX_SCP_FIXED ? "fixed" : w->scp_mode == NCFX_SCP_RANGE ? "range" :
	    "dynamic");
	start_portmap(w);
	return 0;
}

/* Connects and logs in (blocking), then moves the connection under the event loop.
 * 0 logged in; -1 failed (a retry is scheduled, or the loop is stopping). */
static int
try_login(ncfx_watch *w)
{
	struct ncfx_session_info info;
	struct evbuffer *pending;
	ncfx_status st;
	int code;

	st = ncfx_connect(w->client, &w->o.conn);
	if (st == NCFX_OK && w->listener == NULL && w->o.want_path != NCFX_WATCH_WANT_RELAY) {
		/* First contact: now we know which address family to listen in. */
		if (bind_listener(w, ncfx_client_peer_addr(w->client)) < 0)
			return -1;
	}
	if (st == NCFX_OK)
		st = ncfx_login_ex(w->client, w->o.user, w->o.password, w->reg_port,
		    w->scp_port ? w->scp_mode : NCFX_SCP_NONE, w->o.want_path, w->seen.has,
		    w->seen.last, &info, w->secret);
	if (st != NCFX_OK) {
		code = ncfx_client_server_code(w->client);
		/* Retrying cannot fix a wrong password, a changed identity or a refused port. */
		if (st == NCFX_ERR_IDENTITY || st == NCFX_ERR_UNTRUSTED || st == NCFX_ERR_USAGE ||
		    (st == NCFX_ERR_SERVER && (code == NCFX_E_AUTH || code == NCFX_E_BAD_REQUEST ||
		    code == NCFX_E_VERSION))) {
			fatal_stop(w, st, code, ncfx_client_errmsg(w->client));
			return -1;
		}
		schedule_reconnect(w, "%s", ncfx_client_errmsg(w->client));
		return -1;
	}
	w->reg_reqid = 0;           /* a reply still due belonged to the old connection */
	snprintf(w->fingerprint, sizeof(w->fingerprint), "%s", ncfx_client_fingerprint(w->client));
	w->session_id = info.session_id;
	watch_state_session(w->state, w->session_id);
	{
		/* The server says where the stream starts: below our last seq only when its
		 * store was reset, and then its numbers are the ones that count. */
		uint64_t from;
		if (ncfx_client_resume_point(w->client, &from)) {
			if (w->seen.has && from < w->seen.last)
				status(w, NCFX_WATCH_WARN, "the server's notifications restart at %"
				    PRIu64 " (was %" PRIu64 "): its store was reset", from + 1,
				    w->seen.last + 1);
			w->seen.has = 1;
			w->seen.last = from;
		}
	}
	w->logins++;
	status(w, NCFX_WATCH_INFO, "logged in to %s as %s (session %016" PRIx64 ", seen from %s)",
	    w->o.conn.host, info.user, info.session_id, info.observed_addr);
	/* Back after a lost connection: whatever cut it may have taken the mapping too. */
	if (w->logins > 1)
		portmap_service_check_now(w->portmap);
	if (w->o.on_login && w->o.on_login(w, w->client, w->logins == 1, w->o.arg) != 0) {
		ncfx_watch_stop(w, w->stop_code >= 0 ? w->stop_code : 0);
		return -1;
	}
	pending = evbuffer_new();
	w->pcp = pending ? ncfx_client_detach(w->client, w->base, pending) : NULL;
	if (w->pcp == NULL) {
		evbuffer_free(pending);
		schedule_reconnect(w, "cannot set up the connection");
		return -1;
	}
	memset(&w->pcp_ack, 0, sizeof(w->pcp_ack));
	bufferevent_setcb(w->pcp, pcp_read, NULL, pcp_event, w);
	bufferevent_setwatermark(w->pcp, EV_READ, 0, 4 * NCFX_FRAME_MAX);
	bufferevent_enable(w->pcp, EV_READ | EV_WRITE);
	w->last_rx = time(NULL);
	w->attempts = 0;
	if (w->logins == 1)
		status(w, NCFX_WATCH_INFO, "heartbeat every %d s inside TLS; the server counts as "
		    "gone after %d s of silence; TCP keepalive after %d s idle", heartbeat_secs(w),
		    heartbeat_secs(w) * WATCH_DEAD_AFTER, NETOPT_KEEPIDLE);
	/* What arrived during the blocking part (relayed notifications among it) comes first. */
	if (evbuffer_get_length(pending)) {
		evbuffer_prepend_buffer(bufferevent_get_input(w->pcp), pending);
		pcp_read(w->pcp, w);
	}
	evbuffer_free(pending);
	return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	ncfx_watch *w = arg;

	(void)what;
	if (sig == SIGUSR1) {
		ncfx_watch_retry_direct(w);
		return;
	}
	event_base_loopbreak(w->base);   /* stop_code stays -1: stopped by a signal */
}

void
ncfx_watch_retry_direct(ncfx_watch *w)
{
	struct ncfx_wbuf wb;

	if (w->pcp == NULL)
		return;
	/* A request like any other: its own id (the OK that answers it only keeps us alive). */
	ncfx_wbuf_begin(&wb, NCFX_MSG_PATH_RETRY, 0, ++w->reqid ? w->reqid : ++w->reqid);
	frame_send(w->pcp, &wb);
	status(w, NCFX_WATCH_INFO, "asked the server to try the direct path again");
}

ncfx_watch *
ncfx_watch_new(const struct ncfx_watch_options *o, char *err, size_t errlen)
{
	ncfx_watch *w;
	struct scp_listen_opts lo = { 0 };

	lo.mode = o->scp_mode ? o->scp_mode : NCFX_SCP_DYNAMIC;
	lo.port = o->scp_port ? o->scp_port : NCFX_DEFAULT_SCP_PORT;
	lo.port_min = o->scp_port_min;
	lo.port_max = o->scp_port_max;
	if (scp_listen_check(&lo, err, errlen) < 0)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->o = *o;
	w->scp_mode = lo.mode;
	w->stop_code = -1;
	w->base = event_base_new();
	w->client = ncfx_client_new();
	w->scp_tls = tls_client_ctx_new(o->conn.ca_file, err, errlen);
	if (w->base == NULL || w->client == NULL || w->scp_tls == NULL) {
		if (w->base == NULL || w->client == NULL)
			snprintf(err, errlen, "out of memory");
		ncfx_watch_free(w);
		return NULL;
	}
	/* netcfax-portcheck judges a running watcher by this file rather than disturb it. */
	if ((w->state = watch_state_new(o->conn.host, o->conn.port, o->user, err, errlen)) ==
	    NULL && o->on_status)
		o->on_status(w, NCFX_WATCH_WARN, err, o->arg);
	/* A watcher reconnects after every drop: its next login skips the server's password
	 * check. */
	ncfx_client_keep_resume_token(w->client);
	w->timer = evtimer_new(w->base, on_timer, w);
	w->pcp_check = evtimer_new(w->base, pcp_check_due, w);
	if (o->handle_signals) {
		signal(SIGPIPE, SIG_IGN);   /* a lost server is reported, not fatal */
		w->sigint = evsignal_new(w->base, SIGINT, on_signal, w);
		w->sigterm = evsignal_new(w->base, SIGTERM, on_signal, w);
		w->sigusr1 = evsignal_new(w->base, SIGUSR1, on_signal, w);
		evsignal_add(w->sigint, NULL);
		evsignal_add(w->sigterm, NULL);
		evsignal_add(w->sigusr1, NULL);
	}
	return w;
}

ncfx_status
ncfx_watch_run(ncfx_watch *w)
{
	struct timeval now = { 0, 0 };

	w->result = NCFX_OK;
	evtimer_add(w->timer, &now);
	event_base_dispatch(w->base);
	flush_acks(w);
	say_goodbye(w);
	pcp_close(w);
	return w->result;
}

static int
output_pending(ncfx_watch *w)
{
	if (w->pcp && evbuffer_get_length(bufferevent_get_output(w->pcp)) > 0)
		return 1;
	for (struct scpconn *c = w->conns; c; c = c->next)
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return 1;
	return 0;
}

/* The ack of the notification that made the caller stop was written just before: let it
 * go out (briefly), so the next watcher of this user is not shown it again. */
static void
flush_acks(ncfx_watch *w)
{
	for (int i = 0; i < 20 && output_pending(w); i++) {
		struct timeval tick = { 0, 10 * 1000 };

		event_base_loopexit(w->base, &tick);
		event_base_dispatch(w->base);
	}
}

/* A watcher that ends on purpose closes its TLS connections properly (close_notify), so the
 * server logs a disconnect rather than a connection cut short. (Not BYE: the server's answer,
 * closing, would reach the event handlers as a lost connection while output is flushed.) The
 * connect-backs first: the server, told on the PCP, would close them itself, but a busy one
 * may read the SCP's end before the PCP's. */
static void
say_goodbye(ncfx_watch *w)
{
	for (struct scpconn *c = w->conns; c; c = c->next)
		if (c->bev != NULL)
			tls_bev_close_notify(c->bev);
	if (w->pcp != NULL)
		tls_bev_close_notify(w->pcp);
}

void
ncfx_watch_stop(ncfx_watch *w, int code)
{
	w->stop_code = code;
	event_base_loopbreak(w->base);
}

int ncfx_watch_stop_code(const ncfx_watch *w) { return w->stop_code; }
uint16_t ncfx_watch_scp_port(const ncfx_watch *w) { return w->scp_port; }
const char *ncfx_watch_errmsg(const ncfx_watch *w) { return w->err; }
int ncfx_watch_server_code(const ncfx_watch *w) { return w->server_code; }

void
ncfx_watch_free(ncfx_watch *w)
{
	if (w == NULL)
		return;
	pcp_close(w);
	/* Removes the mapping it made (clean exit only: a crash leaves it to expire). */
	portmap_service_free(w->portmap);
	if (w->listener)
		evconnlistener_free(w->listener);
	if (w->timer)
		event_free(w->timer);
	if (w->pcp_check)
		event_free(w->pcp_check);
	if (w->sigint)
		event_free(w->sigint);
	if (w->sigterm)
		event_free(w->sigterm);
	if (w->sigusr1)
		event_free(w->sigusr1);
	ncfx_client_free(w->client);
	tls_ctx_free(w->scp_tls);
	watch_state_free(w->state);
	if (w->base)
		event_base_free(w->base);
	explicit_bzero(w->secret, sizeof(w->secret));
	free(w);
}

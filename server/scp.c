/* scp.c: one session's connect-back, the direct notification path. It connects only to the
 * address the session's own PCP connection came from, takes the TLS server role with the
 * certificate the client pinned, and sends nothing but SCP_BIND until the client has proved it
 * holds the session's secret. It knows the session only as its notify_host, and reports to the
 * path_events it was made with. */
#include "scp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
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

#include "addr.h"
#include "backoff.h"
#include "crypto.h"
#include "delivery.h"
#include "path.h"
#include "frame_io.h"
#include "keytab.h"
#include "log.h"
#include "memtrim.h"
#include "scp_proof.h"
#include "server.h"
#include "store.h"
#include "tls.h"

#define SCP_CONNECT_TIMEOUT 3    /* seconds for TCP connect */
#define SCP_BIND_TIMEOUT    10   /* TLS handshake and SCP_BIND_OK */
#define SCP_ACK_TIMEOUT     30   /* no ack (or PONG) progress this long: the SCP is dead */
#define SCP_TICK            5
#define SCP_BACKOFF_MAX     60

/* P_IDLE: connected and proven once, then closed after scp_idle_close seconds with nothing to
 * carry; still the session's path, it connects again for the next notification. */
enum scp_state { P_CONNECTING, P_HANDSHAKE, P_BINDING, P_READY, P_BACKOFF, P_DONE, P_IDLE };

struct scp {
	const struct notify_host *h;      /* the session: its address, secret, tag */
	struct delivery    *d;            /* what it carries once ready; NULL for a probe */
	struct path_events  ev;           /* whom it tells it is up, failed, or its state */
	struct server      *srv;
	enum scp_state      state;
	int                 fd;
	struct event       *conn_ev;
	struct bufferevent *bev;
	struct event       *timer;
	int                 attempts;
	int                 holds_slot;   /* counted in srv->scp_connecting */
	long                retry_min;    /* backoff bounds in seconds: short while nothing else */
	long                retry_max;    /* carries notifications, long while the relay does */
	time_t              last_rx;      /* last frame from the client */
	time_t              last_use;     /* bind, last notification sent or ack received */
	time_t              ping_sent;    /* 0: none outstanding */
	char                target[ADDR_STR_MAX];
	char                desc[200];
	uint16_t            port;         /* where we connect: the session's SCP, or a probe's */
	/* A probe (SCP_PROBE) connects once and reports instead of carrying notifications. */
	path_probe_fn       probe_done;
	void               *probe_arg;
	int                 cause;        /* enum ncfx_probe_outcome of a failure; -1: by state */
	struct timespec     started;
	char                why[160];
};

static void scp_connect(struct scp *p);
static void drop_connection(struct scp *p);

const char *
scp_describe(const struct scp *p)
{
	return p->desc;
}

static void
set_desc(struct scp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_desc(struct scp *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->desc, sizeof(p->desc), fmt, ap);
	va_end(ap);
	if (p->probe_done == NULL)
		p->ev.state(p->ev.arg, p->desc);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* A probe's end: reported from the loop, so that no caller below us runs on freed memory
 * (the report's receiver frees the probe). */
static void
probe_finish(struct scp *p, int cause, const char *why)
{
	struct timeval now = { 0, 0 };

	drop_connection(p);
	p->state = P_DONE;
	p->cause = cause;
	snprintf(p->why, sizeof(p->why), "%s", why);
	evtimer_add(p->timer, &now);
}

static void
release_slot(struct scp *p)
{
	struct keytab_entry *e;

	if (!p->holds_slot)
		return;
	p->holds_slot = 0;
	if ((e = keytab_get(p->srv->scp_connecting, p->h->addr_key, 0)) != NULL &&
	    --e->count <= 0)
		keytab_del(p->srv->scp_connecting, p->h->addr_key);
}

static void
drop_connection(struct scp *p)
{
	release_slot(p);
	if (p->conn_ev) {
		event_free(p->conn_ev);
		p->conn_ev = NULL;
	}
	if (p->bev) {
		bufferevent_free(p->bev);   /* closes fd */
		p->bev = NULL;
		p->fd = -1;
	} else if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	evtimer_del(p->timer);
}

/* Drops the connection and tries again after a jittered backoff (after a server restart,
 * thousands of connect-backs must not all retry in the same second). */
static void
retry_later(struct scp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
retry_later(struct scp *p, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	long delay;
	struct timeval tv;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->probe_done) {
		/* Before TLS, a failure is the network's; after, whatever answered is not ours. */
		probe_finish(p, p->cause >= 0 ? p->cause : p->state == P_CONNECTING ?
		    NCFX_PROBE_UNREACHABLE : NCFX_PROBE_OTHER_PEER, why);
		return;
	}
	drop_connection(p);
	delay = p->retry_min * 1000 + backoff_delay_ms(p->attempts++, p->retry_max - p->retry_min);
	p->state = P_BACKOFF;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->timer, &tv);
	set_desc(p, "no connection to %s: %s; retry in %ld s", p->target, why,
	    (delay + 999) / 1000);
	log_warnx("%s: SCP %s: %s; retrying in %ld s", p->h->tag, p->target, why,
	    (delay + 999) / 1000);
	delivery_detach(p->d, p);
	p->ev.failed(p->ev.arg, p->target, why);
}

static int
direct_send(void *impl, struct ncfx_wbuf *w)
{
	struct scp *p = impl;

	p->last_use = time(NULL);
	return p->bev ? frame_send(p->bev, w) : -1;
}

/* A notification for an idle SCP: connect back again (the client takes it as it did the
 * first time); the delivery attaches once the client has proved itself. */
static void
direct_wake(void *impl)
{
	struct scp *p = impl;

	if (p->state != P_IDLE)
		return;
	log_debug("%s: SCP connecting to %s again for a notification", p->h->tag,
	    p->target);
	p->attempts = 0;
	scp_connect(p);
}

static const struct path_ops direct_ops = { NCFX_PATH_DIRECT, direct_send, direct_wake };

/* Nothing to carry for scp_idle_close seconds: the connection goes (a TLS connection is most
 * of an idle session's memory, and half its descriptors); the path stays. */
static void
go_idle(struct scp *p)
{
	tls_bev_close_notify(p->bev);           /* the client sees a clean end, not an error */
	drop_connection(p);
	memtrim_note(p->srv->memtrim);
	p->state = P_IDLE;
	p->ping_sent = 0;
	set_desc(p, "idle: connects to %s again for the next notification", p->target);
	log_debug("%s: SCP to %s closed after %lld s with nothing to carry", p->h->tag,
	    p->target, p->srv->cfg.scp_idle_close);
	delivery_sleep(p->d, p);
}

static void
handle_frame(struct scp *p, const struct ncfx_msg *m)
{
	struct ncfx_wbuf w;
	uint8_t want[32];
	const uint8_t *proof;
	size_t len;
	uint64_t seq;

	if (p->state == P_BINDING) {
		if (m->type == NCFX_MSG_ERROR &&
		    ncfx_msg_uint(m, NCFX_T_ERROR_CODE) == NCFX_E_NOT_THIS_SESSION) {
			/* A netcfax client with its own session answered (its reason text is not
			 * repeated: ours says the same, and no peer's words reach the log). */
			p->cause = NCFX_PROBE_OTHER_PEER;
			retry_later(p, "%s (two clients behind one router on the same external "
			    "port?)", ncfx_strerror(NCFX_E_NOT_THIS_SESSION));
			return;
		}
		proof = ncfx_msg_bytes(m, NCFX_T_SCP_PROOF, &len);
		if (m->type != NCFX_MSG_SCP_BIND_OK ||
		    scp_proof(p->bev, p->h->scp_secret, p->h->session_id,
		    NCFX_SCP_LABEL_CLIENT, want) < 0 || !crypto_equal(want, proof, sizeof(want))) {
			/* Whatever listens there is not this session's client: send it nothing. */
			retry_later(p, "the program on that port is not this session's client");
			return;
		}
		if (p->probe_done) {
			probe_finish(p, NCFX_PROBE_OK, "reached and proven both ways");
			return;
		}
		p->state = P_READY;
		p->attempts = 0;
		p->last_rx = p->last_use = time(NULL);
		p->ping_sent = 0;
		set_desc(p, "connected to %s", p->target);
		log_info("%s: SCP connected to %s", p->h->tag, p->target);
		/* Notifications take this path now, from the last acknowledged one on. */
		delivery_attach(p->d, &direct_ops, p);
		p->ev.up(p->ev.arg, p->target);
		return;
	}
	switch (m->type) {
	case NCFX_MSG_NOTIFY_ACK:
		p->last_use = time(NULL);
		seq = ncfx_msg_uint(m, NCFX_T_SEQ);
		if (delivery_ack(p->d, seq) < 0)
			retry_later(p, "client acknowledged %" PRIu64 ", which was never sent", seq);
		return;
	case NCFX_MSG_PONG:
		p->ping_sent = 0;
		return;
	case NCFX_MSG_PING:
		ncfx_wbuf_begin(&w, NCFX_MSG_PONG, 0, m->reqid);
		if (ncfx_msg_has(m, NCFX_T_SEQ))
			ncfx_put_u64(&w, NCFX_T_SEQ, ncfx_msg_uint(m, NCFX_T_SEQ));
		frame_send(p->bev, &w);
		return;
	default:
		retry_later(p, "client sent %s on the SCP", ncfx_msg_type_name(m->type));
		return;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct scp *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (p->bev == bev && (p->state == P_BINDING || p->state == P_READY)) {
		struct ncfx_msg m;
		char why[160];
		size_t len = 0;
		int err = 0, rc = frame_next(in, &m, &len, &err, why, sizeof(why));

		if (rc == 0)
			return;
		if (rc < 0) {
			retry_later(p, "%s", why);
			return;
		}
		p->last_rx = time(NULL);
		handle_frame(p, &m);
		/* handle_frame may have dropped the connection (and bev with it). */
		if (p->bev != bev)
			return;
		evbuffer_drain(in, len);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct scp *p = arg;
	struct ncfx_wbuf w;
	uint8_t proof[32];
	char why[256];

	if (what & BEV_EVENT_CONNECTED) {
		/* TLS is up: prove who we are, bound to this connection. */
		if (scp_proof(bev, p->h->scp_secret, p->h->session_id,
		    NCFX_SCP_LABEL_SERVER, proof) < 0) {
			retry_later(p, "cannot derive the SCP proof");
			return;
		}
		ncfx_wbuf_begin(&w, NCFX_MSG_SCP_BIND, 0, 0);
		ncfx_put_u64(&w, NCFX_T_SESSION_ID, p->h->session_id);
		ncfx_put_bytes(&w, NCFX_T_SCP_PROOF, proof, sizeof(proof));
		frame_send(bev, &w);
		p->state = P_BINDING;
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tls_bev_error(bev, why, sizeof(why));
		retry_later(p, "%s%s", p->state == P_HANDSHAKE ? "TLS handshake failed: " : "", why);
	} else
		retry_later(p, "%s", p->state == P_HANDSHAKE ?
		    "closed during the TLS handshake (the client refused our certificate?)" :
		    "the client closed the connection");
}

static void
connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct scp *p = arg;
	struct timeval tv = { SCP_BIND_TIMEOUT, 0 };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	event_free(p->conn_ev);
	p->conn_ev = NULL;
	release_slot(p);
	if (what & EV_TIMEOUT) {
		p->cause = NCFX_PROBE_TIMEOUT;
		retry_later(p, "connect timed out after %d s (a firewall dropping the SCP port?)",
		    SCP_CONNECT_TIMEOUT);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr != 0) {
		p->cause = soerr == ECONNREFUSED ? NCFX_PROBE_REFUSED : NCFX_PROBE_UNREACHABLE;
		retry_later(p, "connect failed: %s", soerr == ECONNREFUSED ?
		    "refused (nothing listens on that port, or a firewall rejects it)" :
		    strerror(soerr));
		return;
	}
	/* We opened the TCP connection, but take the TLS server role: the client checks the
	 * same certificate it pinned on the PCP. */
	p->bev = tls_bev_accept(p->srv->base, fd, p->srv->tls);
	if (p->bev == NULL) {
		retry_later(p, "out of memory");
		return;
	}
	p->state = P_HANDSHAKE;
	bufferevent_setcb(p->bev, read_cb, NULL, event_cb, p);
	bufferevent_setwatermark(p->bev, EV_READ, 0, 4 * NCFX_FRAME_MAX);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	evtimer_add(p->timer, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct scp *p = arg;
	struct timeval tick = { SCP_TICK, 0 };
	struct ncfx_wbuf w;
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	switch (p->state) {
	case P_DONE:
		p->probe_done(p, p->cause, p->why, ms_since(&p->started), p->target, p->probe_arg);
		return;
	case P_BACKOFF:
		scp_connect(p);
		return;
	case P_HANDSHAKE:
	case P_BINDING:
		retry_later(p, "no SCP_BIND_OK within %d s", SCP_BIND_TIMEOUT);
		return;
	case P_CONNECTING:
	case P_IDLE:
		return;
	case P_READY:
		break;
	}
	if (delivery_uses(p->d, p) &&
	    delivery_stalled(p->d, now) >= SCP_ACK_TIMEOUT) {
		retry_later(p, "no acknowledgement for %d s", SCP_ACK_TIMEOUT);
		return;
	}
	if (p->ping_sent && now - p->ping_sent >= SCP_ACK_TIMEOUT) {
		retry_later(p, "no answer to PING for %d s", SCP_ACK_TIMEOUT);
		return;
	}
	/* Idle is measured from the last use, not the last frame: the keepalive's PONGs keep the
	 * path proven, they are not a reason to keep it open. */
	if (p->srv->cfg.scp_idle_close > 0 && p->probe_done == NULL && !p->ping_sent &&
	    delivery_uses(p->d, p) &&
	    delivery_stalled(p->d, now) == 0 &&
	    now - p->last_use >= p->srv->cfg.scp_idle_close) {
		go_idle(p);
		return;
	}
	if (!p->ping_sent && now - p->last_rx >= p->srv->cfg.scp_keepalive) {
		ncfx_wbuf_begin(&w, NCFX_MSG_PING, 0, 0);
		frame_send(p->bev, &w);
		p->ping_sent = now;
	}
	evtimer_add(p->timer, &tick);
}

static void
scp_connect(struct scp *p)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	struct keytab_entry *e;
	struct timeval tv = { SCP_CONNECT_TIMEOUT, 0 }, later = { 1, 0 };

	/* Rate limit per address: a terminal server with a hundred sessions gets a few
	 * connect-backs at a time, not a hundred. */
	e = keytab_get(p->srv->scp_connecting, p->h->addr_key, 1);
	if (e == NULL || e->count >= SERVER_SCP_CONNECTING_PER_ADDR) {
		if (p->state == P_IDLE)
			set_desc(p, "waiting to connect to %s (other sessions of that address are "
			    "connecting)", p->target);
		p->state = P_BACKOFF;
		evtimer_add(p->timer, &later);
		return;
	}
	e->count++;
	p->holds_slot = 1;
	/* The address is the session's observed source, never one the client named. */
	sa = *p->h->sa;
	salen = p->h->salen;
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(p->port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(p->port);
	p->state = P_CONNECTING;
	p->cause = -1;
	p->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		retry_later(p, "socket: %s", strerror(errno));
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&sa, salen) != 0 && errno != EINPROGRESS) {
		p->cause = errno == ECONNREFUSED ? NCFX_PROBE_REFUSED : NCFX_PROBE_UNREACHABLE;
		retry_later(p, "connect failed: %s", strerror(errno));
		return;
	}
	p->conn_ev = event_new(p->srv->base, p->fd, EV_WRITE, connected_cb, p);
	if (p->conn_ev == NULL || event_add(p->conn_ev, &tv) != 0) {
		retry_later(p, "out of memory");
		return;
	}
	set_desc(p, "connecting to %s", p->target);
}

void
scp_set_retry(struct scp *p, long min_s, long max_s)
{
	p->retry_min = min_s;
	p->retry_max = max_s > min_s ? max_s : min_s + 1;
}

void
scp_retry_now(struct scp *p)
{
	struct timeval now = { 0, 0 };

	if (p->state != P_BACKOFF)
		return;
	p->attempts = 0;
	evtimer_del(p->timer);
	evtimer_add(p->timer, &now);
}

int
scp_ready(const struct scp *p)
{
	return p->state == P_READY;
}

static struct scp *
scp_create(struct server *srv, const struct notify_host *h, uint16_t port)
{
	struct scp *p = calloc(1, sizeof(*p));
	struct sockaddr_storage sa;
	struct timeval now = { 0, 0 };
	socklen_t salen;

	if (p == NULL)
		return NULL;
	p->h = h;
	p->srv = srv;
	p->fd = -1;
	p->port = port;
	p->cause = -1;
	p->retry_min = 0;
	p->retry_max = SCP_BACKOFF_MAX;
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	p->timer = evtimer_new(p->srv->base, timer_cb, p);
	if (p->timer == NULL) {
		free(p);
		return NULL;
	}
	sa = *h->sa;
	salen = h->salen;
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
	addr_format((struct sockaddr *)&sa, salen, NULL, 0, p->target, sizeof(p->target));
	/* Connect from the loop, not from here: the session must hold p before any outcome
	 * (even an immediate failure) is reported to it. */
	p->state = P_BACKOFF;
	snprintf(p->desc, sizeof(p->desc), "connecting to %s", p->target);
	evtimer_add(p->timer, &now);
	return p;
}

struct scp *
scp_new(struct server *srv, const struct notify_host *h, struct delivery *d, uint16_t port,
    const struct path_events *ev)
{
	struct scp *p = scp_create(srv, h, port);

	if (p != NULL) {
		p->d = d;
		p->ev = *ev;
	}
	return p;
}

struct scp *
scp_probe_new(struct server *srv, const struct notify_host *h, uint16_t port,
    path_probe_fn done, void *arg)
{
	struct scp *p = scp_create(srv, h, port);

	if (p != NULL) {
		p->probe_done = done;
		p->probe_arg = arg;
	}
	return p;
}

void
scp_free(struct scp *p)
{
	if (p == NULL)
		return;
	/* If notifications go through us, they must stop before we are gone. */
	if (p->d)
		delivery_detach(p->d, p);
	drop_connection(p);
	event_free(p->timer);
	free(p);
}

/* The notification subsystem makes direct paths through these (path.h). */
static void *
paths_direct_new(void *env, const struct notify_host *h, struct delivery *d, uint16_t port,
    const struct path_events *ev)
{
	return scp_new(env, h, d, port, ev);
}

static void
paths_direct_free(void *p)
{
	scp_free(p);
}

static void
paths_set_retry(void *p, long min_s, long max_s)
{
	scp_set_retry(p, min_s, max_s);
}

static void
paths_retry_now(void *p)
{
	scp_retry_now(p);
}

static void *
paths_probe_new(void *env, const struct notify_host *h, uint16_t port, path_probe_fn done,
    void *arg)
{
	return scp_probe_new(env, h, port, done, arg);
}

void
scp_paths(struct notify_paths *np, struct server *srv)
{
	np->direct_new = paths_direct_new;
	np->direct_free = paths_direct_free;
	np->direct_set_retry = paths_set_retry;
	np->direct_retry_now = paths_retry_now;
	np->probe_new = paths_probe_new;
	np->direct_env = srv;
}

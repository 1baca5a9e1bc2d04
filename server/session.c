/* session.c: a PCP connection's life: TLS handshake, HELLO, LOGIN, then requests; every bad
 * peer ends here with a logged reason, never the daemon. */
#include "session.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "addr.h"
#include "crypto.h"
#include "frame_io.h"
#include "hashpool.h"
#include "inbox.h"
#include "jobs.h"
#include "keytab.h"
#include "log.h"
#include "memtrim.h"
#include "notify.h"
#include "relay.h"
#include "requests.h"
#include "resume.h"
#include "scp.h"
#include "server.h"
#include "store.h"
#include "throttle.h"
#include "tls.h"

/* Output queued beyond this stops reading from the peer until it drains (backpressure). */
#define SESSION_OUT_HIGH (4u << 20)
/* Before login a peer has earned little: its unread replies are capped much lower. */
#define SESSION_OUT_HIGH_PREAUTH (64u << 10)
/* Input buffered beyond this (e.g. while a login is checked) waits in the kernel instead. */
#define SESSION_IN_HIGH  (4 * NCFX_FRAME_MAX)
/* How long a closing session may take to flush its last ERROR. */
#define SESSION_LINGER   5
/* "session=%016x user=NAME addr=ADDR:PORT" */
#define SESSION_TAG_MAX  (32 + NCFX_USER_MAX + ADDR_STR_MAX)

enum session_state { S_HANDSHAKE, S_HELLO, S_LOGIN, S_AUTHED, S_CLOSING };

struct session {
	struct server      *srv;
	struct bufferevent *bev;
	struct event       *timer;      /* pre-auth deadline, then the linger deadline */
	struct event       *free_ev;    /* deferred free */
	enum session_state  state;
	int                 read_paused;
	int                 login_tries;
	char                peer[ADDR_STR_MAX];     /* "addr:port" */
	char                addr[ADDR_STR_MAX];     /* "addr" */
	char                addr_key[ADDR_STR_MAX]; /* per-address limits: IPv4, or IPv6 /64 */
	char                tag[SESSION_TAG_MAX];   /* what its log lines start with */
	struct sockaddr_storage sa;                 /* the peer: where connect-backs go */
	socklen_t           salen;
	uint16_t            version;
	/* after LOGIN */
	int64_t             user_id;
	char                user[NCFX_USER_MAX + 1];
	uint64_t            session_id;
	uint8_t             scp_secret[32];
	uint16_t            scp_port;
	uint8_t             scp_mode;
	time_t              last_rx;     /* last frame from the peer, for the idle timeout */
	uint64_t            resume_seq;  /* LOGIN's SEQ: the client has every notification up to it */
	int                 has_resume;
	int                 notify_wanted;
	int                 path_pref;  /* NCFX_PATH_AUTO, _DIRECT or _RELAY, from LOGIN */
	/* Its notifications, their paths and probes (server/notify), once logged in. */
	struct notify_session *notify;
	struct hash_job    *login_job;  /* password being checked on a worker thread */
	uint32_t            login_reqid;
	int                 want_token; /* LOGIN carried RESUME_TOKEN: LOGIN_OK gives a new one */
	int64_t             cred_gen;   /* the user's password generation when LOGIN came */
	struct requests    *requests;   /* uploads, conversions, fetches in progress */
	struct session     *prev, *next;
	TAILQ_ENTRY(session) wq;        /* in srv->waiting[queued] until logged in */
	TAILQ_ENTRY(session) aq;        /* and in its address's waiting[queued] (addr_waiting) */
	int                 queued;     /* enum wait_queue, or -1 */
	struct keytab_entry *conns;     /* its address's count in conns_per_addr; NULL: uncounted */
};

/* The queues of connections not logged in, in the order a full server closes them: those
 * already closing, then those that have not finished TLS (cheap for a flood to make), then
 * those that finished TLS but sent no HELLO, then those between HELLO and a password check.
 * A real client is past the first two within a couple of round trips. */
enum wait_queue { Q_CLOSING, Q_HANDSHAKE, Q_HELLO, Q_LOGIN, Q__COUNT };

/* The same queues for the connections of one address (its conns_per_addr entry's data, made
 * with the entry): what its next connection displaces at max_connections_per_address, so that
 * choice costs what it costs at max_connections, not a walk through every connection. */
struct addr_waiting {
	struct session_queue q[Q__COUNT];
};

static const char *const wait_step[Q__COUNT] = {
	"already closing", "in its TLS handshake", "no HELLO yet", "not logged in"
};

static void session_free(struct session *s);
static void login_failed(struct session *s);

static int
queue_of(enum session_state st)
{
	switch (st) {
	case S_CLOSING:   return Q_CLOSING;
	case S_HANDSHAKE: return Q_HANDSHAKE;
	case S_HELLO:     return Q_HELLO;
	case S_LOGIN:     return Q_LOGIN;
	default:          return -1;
	}
}

static void
unqueue(struct session *s)
{
	if (s->queued >= 0) {
		TAILQ_REMOVE(&s->srv->waiting[s->queued], s, wq);
		if (s->conns != NULL)
			TAILQ_REMOVE(&((struct addr_waiting *)s->conns->data)->q[s->queued], s, aq);
	}
	s->queued = -1;
}

/* Every change of state goes through here, so the waiting queues stay right. */
static void
set_state(struct session *s, enum session_state st)
{
	unqueue(s);
	s->state = st;
	if ((s->queued = queue_of(st)) >= 0) {
		TAILQ_INSERT_TAIL(&s->srv->waiting[s->queued], s, wq);
		if (s->conns != NULL)
			TAILQ_INSERT_TAIL(&((struct addr_waiting *)s->conns->data)->q[s->queued], s,
			    aq);
	}
}

/* Counts s against its address, with that address's queues made on its first connection.
 * Uncounted (conns NULL) only when memory or the table runs out, as without a limit. */
static void
count_conn(struct session *s)
{
	struct keytab *kt = s->srv->conns_per_addr;
	struct keytab_entry *e = keytab_get(kt, s->addr_key, 1);
	struct addr_waiting *aw;

	if (e == NULL)
		return;
	if (e->data == NULL) {
		if ((aw = calloc(1, sizeof(*aw))) == NULL) {
			keytab_del(kt, s->addr_key);
			return;
		}
		for (int q = 0; q < Q__COUNT; q++)
			TAILQ_INIT(&aw->q[q]);
		e->data = aw;
	}
	e->count++;
	s->conns = e;
}

/* After unqueue: the address's last connection takes its entry and queues with it. */
static void
uncount_conn(struct session *s)
{
	struct keytab_entry *e = s->conns;

	if (e == NULL)
		return;
	s->conns = NULL;
	if (--e->count <= 0) {
		free(e->data);
		keytab_del(s->srv->conns_per_addr, s->addr_key);
	}
}

void
session_queues_init(struct server *srv)
{
	for (int q = 0; q < Q__COUNT; q++)
		TAILQ_INIT(&srv->waiting[q]);
}
static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

struct server *session_server(const struct session *s) { return s->srv; }
int64_t session_user_id(const struct session *s) { return s->user_id; }
const char *session_user(const struct session *s) { return s->user; }
const char *session_tag(const struct session *s) { return s->tag; }
struct requests *session_requests(struct session *s) { return s->requests; }

/* The ids its log lines start with: the session's, its user's and the peer's once logged in,
 * else the peer's alone (a name that is only claimed is no id). */
static void
set_tag(struct session *s)
{
	if (s->state == S_AUTHED && s->session_id != 0)
		snprintf(s->tag, sizeof(s->tag), "session=%016" PRIx64 " user=%s addr=%s",
		    s->session_id, s->user, s->peer);
	else
		snprintf(s->tag, sizeof(s->tag), "addr=%s", s->peer);
}

/* Ends the logged-in part of a session: its notification path and its row in the store. */
static void
session_logout(struct session *s)
{
	if (s->state != S_AUTHED && s->session_id == 0)
		return;
	notify_session_free(s->notify);
	s->notify = NULL;
	if (s->session_id && store_session_del(s->srv->store, s->session_id) != STORE_OK)
		log_warnx("%s: its row stays in the sessions list until the next start: store: %s",
		    s->tag, store_errmsg(s->srv->store));
	s->session_id = 0;
}

/* The idle check runs a few times per idle_timeout, so a silent client goes within a
 * quarter of it after its time is up. */
static void
idle_timer(struct session *s)
{
	struct timeval tick = { s->srv->cfg.idle_timeout / 4, 0 };

	/* Often enough for the relay's ack deadline too. */
	if (tick.tv_sec > 5)
		tick.tv_sec = 5;

	evtimer_add(s->timer, &tick);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char why[96];

	(void)fd;
	(void)what;
	switch (s->state) {
	case S_HANDSHAKE:
		log_warnx("%s: closing: TLS handshake not finished within %lld s", s->tag,
		    s->srv->cfg.preauth_timeout);
		session_free(s);
		break;
	case S_HELLO:
	case S_LOGIN:
		snprintf(why, sizeof(why), "no login within %lld s", s->srv->cfg.preauth_timeout);
		session_close(s, NCFX_E_TIMEOUT, why);
		break;
	case S_CLOSING:
		log_debug("%s: gave up flushing before close", s->tag);
		session_free(s);
		break;
	case S_AUTHED:
		/* A client that stopped talking (network gone, machine asleep) loses its session
		 * and its connect-backs; it logs in again when it is back. */
		if (time(NULL) - s->last_rx >= s->srv->cfg.idle_timeout) {
			snprintf(why, sizeof(why), "no heartbeat for %lld s",
			    s->srv->cfg.idle_timeout);
			session_close(s, NCFX_E_TIMEOUT, why);
		} else if (s->notify && notify_tick(s->notify, time(NULL),
		    requests_upload(s->requests) != NULL)) {
			/* Closed: relayed notifications went unacknowledged too long. */
		} else
			idle_timer(s);
		break;
	}
}

static void
free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_free(arg);
}

struct session *
session_new(struct server *srv, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct session *s = calloc(1, sizeof(*s));
	struct timeval tv = { srv->cfg.preauth_timeout, 0 };

	if (s == NULL) {
		close(fd);
		return NULL;
	}
	s->srv = srv;
	s->state = S_HANDSHAKE;
	s->queued = -1;         /* queued once the connection is set up, below */
	addr_format(sa, salen, s->addr, sizeof(s->addr), s->peer, sizeof(s->peer));
	addr_limit_key(sa, salen, s->addr_key, sizeof(s->addr_key));
	set_tag(s);
	if (salen <= sizeof(s->sa)) {
		memcpy(&s->sa, sa, salen);
		s->salen = salen;
	}
	s->bev = tls_bev_accept(srv->base, fd, srv->tls);
	s->timer = evtimer_new(srv->base, timer_cb, s);
	s->free_ev = event_new(srv->base, -1, 0, free_cb, s);
	s->requests = requests_new();
	if (s->bev == NULL || s->timer == NULL || s->free_ev == NULL || s->requests == NULL) {
		/* Not yet counted or listed: undo by hand, not through session_free. */
		log_warnx("%s: closing: out of memory for a new connection", s->tag);
		if (s->bev)
			bufferevent_free(s->bev);
		else
			close(fd);
		if (s->timer)
			event_free(s->timer);
		if (s->free_ev)
			event_free(s->free_ev);
		requests_free(s->requests);
		free(s);
		return NULL;
	}
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, SESSION_OUT_HIGH_PREAUTH, 0);
	/* read_cb drains every whole frame, so more than this waiting means a stalled peer. */
	bufferevent_setwatermark(s->bev, EV_READ, 0, SESSION_IN_HIGH);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &tv);
	/* The listener checked the limit; this entry counts the connection until it is freed. */
	count_conn(s);
	srv->nconns++;
	set_state(s, S_HANDSHAKE);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	log_debug("%s: new connection", s->tag);
	return s;
}

static void
session_free(struct session *s)
{
	struct server *srv;

	if (s == NULL)
		return;
	srv = s->srv;
	unqueue(s);
	if (s->bev) {
		uncount_conn(s);
		srv->nconns--;
		if (s->prev)
			s->prev->next = s->next;
		else if (srv->sessions == s)
			srv->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
		bufferevent_free(s->bev);
		memtrim_note(srv->memtrim);
	}
	requests_free(s->requests);
	if (s->login_job) {
		/* The verdict will never come: end the attempt as a failure, as it would be
		 * had the peer waited (hanging up must not be a free guess). */
		hashpool_cancel(s->login_job);
		throttle_end(srv->throttle, s->user, s->addr_key, 0, time(NULL));
	}
	session_logout(s);
	if (s->timer)
		event_free(s->timer);
	if (s->free_ev)
		event_free(s->free_ev);
	explicit_bzero(s->scp_secret, sizeof(s->scp_secret));
	free(s);
}

/* At max_connections a new connection takes the place of one that has not logged in: from the
 * first non-empty waiting queue (see enum wait_queue), its oldest, leaving alone those whose
 * password is being checked. A flood of connections that never finish TLS then only displaces
 * itself, oldest first, and a real client is exposed only during its own TLS handshake, behind
 * every older stalled one. Logged-in sessions are never displaced. At
 * max_connections_per_address (key set) the same choice is made among one address's
 * connections, in its own queues (addr_waiting): an office behind one NAT address is not
 * locked out by its own stalled machines. Either costs O(1), plus one step past each candidate
 * whose password is being checked (at most the logins waiting for the hash threads; for one
 * address also at most max_connections_per_address). Called from the listener, never from
 * inside a session's own callbacks: the victim is freed at once. */
int
session_evict_preauth(struct server *srv, const char *key, char *tag, size_t len,
    const char **step)
{
	struct addr_waiting *aw = NULL;

	if (key != NULL) {
		struct keytab_entry *e = keytab_get(srv->conns_per_addr, key, 0);

		if (e == NULL || (aw = e->data) == NULL)
			return 0;
	}
	for (int q = 0; q < Q__COUNT; q++) {
		struct session *s = aw ? TAILQ_FIRST(&aw->q[q]) : TAILQ_FIRST(&srv->waiting[q]);

		while (s != NULL && s->login_job != NULL)
			s = aw ? TAILQ_NEXT(s, aq) : TAILQ_NEXT(s, wq);
		if (s == NULL)
			continue;
		snprintf(tag, len, "%s", s->tag);
		*step = wait_step[q];
		session_free(s);
		return 1;
	}
	return 0;
}

void
session_free_all(struct server *srv)
{
	while (srv->sessions)
		session_free(srv->sessions);
}

int
session_queue(struct session *s, struct ncfx_wbuf *w)
{
	if (s->state == S_CLOSING)
		return -1;
	session_send(s, w);
	return 0;
}

void
session_send(struct session *s, struct ncfx_wbuf *w)
{
	size_t n = ncfx_wbuf_end(w);

	/* session_close sends its ERROR before it marks the session closing. */
	if (s->state == S_CLOSING)
		return;
	if (n == 0) {
		/* An encoder overflow is our bug, not the peer's: say so and drop the peer. */
		log_errorx("%s: reply of type %s does not fit in a frame", s->tag,
		    ncfx_msg_type_name((uint16_t)((w->data[4] << 8) | w->data[5])));
		session_close(s, NCFX_E_INTERNAL, "internal error encoding a reply");
		return;
	}
	bufferevent_write(s->bev, w->data, n);
}

void
session_reply_error(struct session *s, uint32_t reqid, int code, const char *reason)
{
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_ERROR, 0, reqid);
	ncfx_put_u32(&w, NCFX_T_ERROR_CODE, (uint32_t)code);
	ncfx_put_str(&w, NCFX_T_REASON, reason ? reason : ncfx_strerror(code));
	session_send(s, &w);
}

void
session_close(struct session *s, int code, const char *reason)
{
	struct timeval linger = { SESSION_LINGER, 0 };

	if (s->state == S_CLOSING)
		return;
	if (code != 0) {
		log_warnx("%s: closing: %s", s->tag, reason);
		session_reply_error(s, 0, code, reason);
	} else
		log_info("%s: disconnected: %s", s->tag, reason);
	set_state(s, S_CLOSING);
	/* New notifications are no longer pushed to a session on its way out. */
	notify_quiet(s->notify);
	/* A document still being converted is not made a job for a client that will not hear. */
	requests_cancel_workers(s->requests);
	bufferevent_disable(s->bev, EV_READ);
	/* Flush the ERROR, then free from write_cb; the timer bounds a peer that never reads. */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	evtimer_add(s->timer, &linger);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		event_active(s->free_ev, 0, 0);
}

static void
reply_hello(struct session *s, const struct ncfx_msg *m)
{
	unsigned lo = (unsigned)ncfx_msg_uint(m, NCFX_T_VERSION_MIN);
	unsigned hi = (unsigned)ncfx_msg_uint(m, NCFX_T_VERSION_MAX);
	char why[160], sw[NCFX_SOFTWARE_MAX + 1];
	struct ncfx_wbuf w;

	if (lo < NCFX_PROTO_MIN)
		lo = NCFX_PROTO_MIN;
	if (hi > NCFX_PROTO_MAX)
		hi = NCFX_PROTO_MAX;
	if (hi < lo) {
		snprintf(why, sizeof(why), "no common protocol version: server speaks %d..%d, "
		    "client %u..%u", NCFX_PROTO_MIN, NCFX_PROTO_MAX,
		    (unsigned)ncfx_msg_uint(m, NCFX_T_VERSION_MIN),
		    (unsigned)ncfx_msg_uint(m, NCFX_T_VERSION_MAX));
		session_close(s, NCFX_E_VERSION, why);
		return;
	}
	s->version = (uint16_t)hi;
	log_debug("%s: HELLO from %s, protocol %u", s->tag,
	    ncfx_msg_str(m, NCFX_T_SOFTWARE, sw, sizeof(sw)), s->version);
	ncfx_wbuf_begin(&w, NCFX_MSG_HELLO_OK, 0, m->reqid);
	ncfx_put_u16(&w, NCFX_T_VERSION, s->version);
	ncfx_put_u32(&w, NCFX_T_MAX_FRAME, NCFX_FRAME_MAX);
	ncfx_put_str(&w, NCFX_T_SOFTWARE, NETCFAX_SOFTWARE);
	ncfx_put_str(&w, NCFX_T_SERVER_NAME, s->srv->cfg.server_name);
	ncfx_put_u32(&w, NCFX_T_HEARTBEAT, SERVER_HEARTBEAT);
	ncfx_put_u64(&w, NCFX_T_MAX_DOCUMENT, (uint64_t)s->srv->cfg.max_document_size);
	session_send(s, &w);
	set_state(s, S_LOGIN);
}

static void login_checked(int ok, void *arg);
static void login_accept(struct session *s, const char *how, const uint8_t *token);
static void handle_scp_register(struct session *s, const struct ncfx_msg *m);

/* The server connects back only to ports its policy allows: never below 1024. */
static int
scp_port_allowed(struct session *s, uint16_t port, uint32_t reqid)
{
	const struct server_config *c = &s->srv->cfg;
	char why[200];

	if (port < 1024)
		snprintf(why, sizeof(why), "SCP port %u refused: ports below 1024 are reserved for "
		    "system services; use the default dynamic port, or one from %lld-%lld",
		    port, c->scp_port_min, c->scp_port_max);
	else if (port < c->scp_port_min || port > c->scp_port_max)
		snprintf(why, sizeof(why), "SCP port %u refused: this server only connects back to "
		    "ports %lld-%lld (scp_ports); choose a port or range inside it", port,
		    c->scp_port_min, c->scp_port_max);
	else
		return 1;
	if (s->state == S_AUTHED)
		log_warnx("%s: %s", s->tag, why);
	else
		log_warnx("%s: login as '%s': %s", s->tag, s->user, why);
	session_reply_error(s, reqid, NCFX_E_BAD_REQUEST, why);
	if (s->state != S_AUTHED)
		s->user[0] = '\0';     /* a refused LOGIN leaves no user behind */
	return 0;
}

/* LOGIN: the throttle first, then the password on a worker thread (login_checked continues).
 * Reading from this peer pauses until the answer, so requests stay in order. */
static void
handle_login(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = s->srv;
	struct store_user u;
	struct ncfx_wbuf w;
	const uint8_t *pw, *token;
	size_t pwlen, tokenlen = 0;
	long retry;
	enum store_rc rc;
	int found;

	ncfx_msg_str(m, NCFX_T_USER, s->user, sizeof(s->user));
	pw = ncfx_msg_bytes(m, NCFX_T_PASSWORD, &pwlen);
	token = ncfx_msg_bytes(m, NCFX_T_RESUME_TOKEN, &tokenlen);
	if (throttle_check(srv->throttle, s->user, s->addr_key, time(NULL), &retry)) {
		log_warnx("%s: login as '%s' refused: locked out for %ld s after repeated "
		    "failures", s->tag, s->user, retry);
		ncfx_wbuf_begin(&w, NCFX_MSG_ERROR, 0, m->reqid);
		ncfx_put_u32(&w, NCFX_T_ERROR_CODE, NCFX_E_THROTTLED);
		ncfx_put_str(&w, NCFX_T_REASON, "too many failed logins; try again later");
		ncfx_put_u32(&w, NCFX_T_RETRY_AFTER, (uint32_t)retry);
		session_send(s, &w);
		login_failed(s);
		return;
	}
	rc = store_user_get(srv->store, s->user, &u);
	if (rc == STORE_ERR) {
		log_warnx("%s: login as '%s': store: %s", s->tag, s->user,
		    store_errmsg(srv->store));
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, store_trouble(srv->store));
		s->user[0] = '\0';
		return;
	}
	found = rc == STORE_OK;
	s->scp_port = (uint16_t)ncfx_msg_uint(m, NCFX_T_SCP_PORT);
	s->scp_mode = (uint8_t)ncfx_msg_uint(m, NCFX_T_SCP_MODE);
	s->has_resume = ncfx_msg_has(m, NCFX_T_SEQ);
	s->resume_seq = ncfx_msg_uint(m, NCFX_T_SEQ);
	/* A client that says how it wants notifications wants them, port or not; one that does
	 * not know about paths gets the direct path only, never frames it cannot expect. */
	s->notify_wanted = ncfx_msg_has(m, NCFX_T_PATH);
	s->path_pref = s->notify_wanted ? (int)ncfx_msg_uint(m, NCFX_T_PATH) : NCFX_PATH_DIRECT;
	if (s->path_pref > NCFX_PATH_RELAY) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "unknown notification PATH");
		s->user[0] = '\0';
		return;
	}
	if (s->path_pref == NCFX_PATH_RELAY && !srv->cfg.relay) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "this server does not relay "
		    "notifications (relay = no): use scp = direct or auto with a reachable port");
		s->user[0] = '\0';
		return;
	}
	if (s->scp_mode > NCFX_SCP_RANGE) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "unknown SCP_MODE");
		s->user[0] = '\0';
		return;
	}
	if (tokenlen != 0 && tokenlen != RESUME_TOKEN_LEN) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "RESUME_TOKEN must be empty "
		    "(asking for one) or the 32 bytes of the last LOGIN_OK");
		s->user[0] = '\0';
		return;
	}
	if (s->scp_port != 0 && !scp_port_allowed(s, s->scp_port, m->reqid))
		return;
	s->want_token = ncfx_msg_has(m, NCFX_T_RESUME_TOKEN) && srv->cfg.resume_token_lifetime > 0;
	s->user_id = found ? u.id : 0;
	s->login_reqid = m->reqid;
	/* A valid resume token stands in for the password check; an invalid one is no failure
	 * of its own (it may simply have grown too old): the password decides. (An unknown user
	 * is looked up too, as user 0, so both take the same path.) */
	s->cred_gen = found ? u.cred_gen : 0;
	if (tokenlen == RESUME_TOKEN_LEN && s->want_token) {
		uint8_t next[RESUME_TOKEN_LEN];
		int valid = resume_rotate(srv->store, s->user_id, (int64_t)time(NULL),
		    srv->cfg.resume_token_lifetime, token, next);

		if (valid < 0)
			log_warnx("%s: login as '%s': resume token: store: %s", s->tag,
			    s->user, store_errmsg(srv->store));
		if (valid == 1 && found) {
			throttle_begin(srv->throttle, s->user, s->addr_key);
			throttle_end(srv->throttle, s->user, s->addr_key, 1, time(NULL));
			login_accept(s, "resume token", next);
			explicit_bzero(next, sizeof(next));
			return;
		}
	}
	/* Hash even for an unknown user, so the answer takes the same time either way. */
	s->login_job = hashpool_verify(srv->hashpool, (const char *)pw, pwlen,
	    found ? u.pwhash : srv->dummy_hash, login_checked, s);
	if (s->login_job != NULL)
		throttle_begin(srv->throttle, s->user, s->addr_key);
	else {
		log_warnx("%s: login as '%s' refused: too many logins in progress", s->tag,
		    s->user);
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, "server busy with other logins; "
		    "try again in a few seconds");
		s->user[0] = '\0';
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
}

static void
login_failed(struct session *s)
{
	s->user[0] = '\0';
	s->user_id = 0;
	if (++s->login_tries >= SERVER_LOGIN_TRIES)
		session_close(s, NCFX_E_AUTH, "too many failed logins on one connection");
}

/* SCP_PROBE: a diagnostic (netcfax-portcheck) asks for one connect-back, to its own observed
 * address like every connect-back, under the same port policy, carrying nothing. */
static void
handle_scp_probe(struct session *s, const struct ncfx_msg *m)
{
	uint16_t port = (uint16_t)ncfx_msg_uint(m, NCFX_T_SCP_PORT);

	const char *busy;

	if (s->notify == NULL) {
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, "out of memory");
		return;
	}
	if ((busy = notify_probe_refused(s->notify)) != NULL) {
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, busy);
		return;
	}
	if (!scp_port_allowed(s, port, m->reqid))
		return;
	if (notify_probe(s->notify, port, m->reqid) < 0)
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, "out of memory");
}

/* SCP_REGISTER: the client listens elsewhere now (typically: its router granted it an
 * external port). The direct path starts over there; a relay in use stays until it works. */
static void
handle_scp_register(struct session *s, const struct ncfx_msg *m)
{
	struct ncfx_wbuf w;
	uint16_t port = (uint16_t)ncfx_msg_uint(m, NCFX_T_SCP_PORT);
	uint8_t mode = (uint8_t)ncfx_msg_uint(m, NCFX_T_SCP_MODE);
	uint16_t old = s->scp_port;

	if (mode > NCFX_SCP_RANGE) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "unknown SCP_MODE");
		return;
	}
	if (port != 0 && !scp_port_allowed(s, port, m->reqid))
		return;
	s->scp_port = port;
	s->scp_mode = mode;
	if (store_session_set_port(s->srv->store, s->session_id, port, mode) != STORE_OK)
		log_warnx("%s: port not updated in the sessions list: store: %s", s->tag,
		    store_errmsg(s->srv->store));
	log_info("%s: SCP now port %u (was %u)", s->tag, port, old);
	/* The notification paths follow (notify/pathsel.c). */
	if (s->notify)
		notify_scp_register(s->notify, port);
	ncfx_wbuf_begin(&w, NCFX_MSG_OK, 0, m->reqid);
	session_send(s, &w);
}

/* The session as its notifications see it (notify_host): its PCP connection, its row in the
 * operator's list, and its end. */
static int
host_queue(void *arg, struct ncfx_wbuf *w)
{
	return session_queue(arg, w);
}

static void
host_close(void *arg, int code, const char *reason)
{
	session_close(arg, code, reason);
}

static void
host_set_row(void *arg, int path, const char *row)
{
	struct session *s = arg;

	if (store_session_set_scp(s->srv->store, s->session_id, path, row) != STORE_OK)
		log_warnx("%s: path not updated in the sessions list: store: %s", s->tag,
		    store_errmsg(s->srv->store));
}

/* At login: the session's notification object, on this server's paths and settings. NULL
 * (logged) when out of memory: the session works without notifications. */
static struct notify_session *
start_notify(struct session *s)
{
	struct server *srv = s->srv;
	struct notify_host h = {
		.queue = host_queue, .close = host_close, .set_row = host_set_row, .arg = s,
		.tag = s->tag, .user = s->user_id, .session_id = s->session_id,
		.scp_secret = s->scp_secret, .addr = s->addr, .addr_key = s->addr_key,
		.sa = &s->sa, .salen = s->salen, .scp_port = s->scp_port,
		.path_pref = s->path_pref, .notify_wanted = s->notify_wanted,
	};
	struct notify_config cfg = { srv->cfg.relay, srv->cfg.direct_retry_min,
	    srv->cfg.direct_retry_max };
	struct notify_paths paths;
	struct notify_session *n;

	memset(&paths, 0, sizeof(paths));
	scp_paths(&paths, srv);
	relay_paths(&paths);
	if ((n = notify_session_new(srv->outbox, &h, &paths, &cfg)) == NULL)
		log_warnx("%s: out of memory for notifications", s->tag);
	return n;
}

static void
login_checked(int ok, void *arg)
{
	struct session *s = arg;
	struct server *srv = s->srv;

	s->login_job = NULL;
	throttle_end(srv->throttle, s->user, s->addr_key, s->user_id != 0 && ok == 1, time(NULL));
	if (s->state != S_LOGIN)
		return;                     /* closing: the answer no longer matters */
	bufferevent_enable(s->bev, EV_READ);
	if (s->user_id == 0 || ok != 1) {
		log_warnx("%s: failed login as '%s'%s", s->tag, s->user,
		    s->user_id && ok < 0 ? " (stored hash unreadable)" : "");
		session_reply_error(s, s->login_reqid, NCFX_E_AUTH, "wrong user name or password");
		login_failed(s);
	} else
		login_accept(s, "password", NULL);
	/* Frames that arrived while the password was being checked. */
	if (s->state != S_CLOSING)
		read_cb(s->bev, s);
}

/* The user is who they say (how: by password or resume token): the session begins. token:
 * the next of a resumed chain, or NULL to begin one if the client asked. */
static void
login_accept(struct session *s, const char *how, const uint8_t *token)
{
	struct server *srv = s->srv;
	struct ncfx_wbuf w;
	uint8_t first[RESUME_TOKEN_LEN];
	uint64_t seq = 0;

	crypto_random(&s->session_id, sizeof(s->session_id));
	s->session_id &= INT64_MAX;    /* stays positive in SQLite and JSON */
	crypto_random(s->scp_secret, sizeof(s->scp_secret));
	set_state(s, S_AUTHED);
	set_tag(s);
	s->last_rx = time(NULL);
	idle_timer(s);                   /* from now on the timer checks for silence */
	ncfx_wbuf_begin(&w, NCFX_MSG_LOGIN_OK, 0, s->login_reqid);
	ncfx_put_u64(&w, NCFX_T_SESSION_ID, s->session_id);
	ncfx_put_str(&w, NCFX_T_USER, s->user);
	ncfx_put_str(&w, NCFX_T_OBSERVED_ADDR, s->addr);
	ncfx_put_u8(&w, NCFX_T_RELAY, (uint8_t)(srv->cfg.relay != 0));
	ncfx_put_u16(&w, NCFX_T_OBSERVED_PORT, ntohs(s->sa.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&s->sa)->sin6_port :
	    ((struct sockaddr_in *)&s->sa)->sin_port));
	ncfx_put_bytes(&w, NCFX_T_SCP_SECRET, s->scp_secret, sizeof(s->scp_secret));
	s->notify = start_notify(s);
	/* Where the notification stream starts, if it does. */
	if (s->notify && notify_login(s->notify, s->has_resume, s->resume_seq, &seq))
		ncfx_put_u64(&w, NCFX_T_SEQ, seq);
	if (token != NULL)
		ncfx_put_bytes(&w, NCFX_T_RESUME_TOKEN, token, RESUME_TOKEN_LEN);
	else if (s->want_token) {
		if (resume_issue(srv->store, s->user_id, s->cred_gen, (int64_t)time(NULL),
		    first) == 0)
			ncfx_put_bytes(&w, NCFX_T_RESUME_TOKEN, first, sizeof(first));
		else
			log_warnx("%s: no resume token (the password changed meanwhile, or "
			    "store: %s)", s->tag, store_errmsg(srv->store));
		explicit_bzero(first, sizeof(first));
	}
	session_send(s, &w);
	log_info("%s: logged in by %s (SCP port %u)", s->tag, how, s->scp_port);
	if (store_session_add(srv->store, s->session_id, s->user_id, s->addr,
	    s->scp_port, s->scp_mode) != STORE_OK)
		log_warnx("%s: not in the sessions list (netcfax-admin sessions); it works all the "
		    "same: store: %s", s->tag, store_errmsg(srv->store));
	if (s->notify)
		notify_start(s->notify);
}

static int
client_may_send(uint16_t type)
{
	switch (type) {
	case NCFX_MSG_HELLO: case NCFX_MSG_PING: case NCFX_MSG_PONG: case NCFX_MSG_BYE:
	case NCFX_MSG_LOGIN: case NCFX_MSG_LOGOUT: case NCFX_MSG_SCP_REGISTER:
	case NCFX_MSG_SCP_PROBE:
	case NCFX_MSG_JOB_SUBMIT: case NCFX_MSG_UPLOAD_CHUNK: case NCFX_MSG_UPLOAD_END:
	case NCFX_MSG_JOB_LIST: case NCFX_MSG_JOB_CANCEL: case NCFX_MSG_NOTIFY_ACK:
	case NCFX_MSG_JOB_SUSPEND: case NCFX_MSG_JOB_RESUME:
	case NCFX_MSG_FILE_GET: case NCFX_MSG_PATH_RETRY:
	case NCFX_MSG_INBOX_LIST: case NCFX_MSG_INBOX_MARK: case NCFX_MSG_INBOX_DELETE:
		return 1;
	default:
		return 0;
	}
}

static void
dispatch(struct session *s, const struct ncfx_msg *m)
{
	char why[128];
	struct ncfx_wbuf w;

	if (!client_may_send(m->type)) {
		snprintf(why, sizeof(why), "%s is not a message a client sends",
		    ncfx_msg_type_name(m->type));
		session_close(s, NCFX_E_UNEXPECTED, why);
		return;
	}
	if (s->state == S_HELLO && m->type != NCFX_MSG_HELLO) {
		session_close(s, NCFX_E_UNEXPECTED, "expected HELLO first");
		return;
	}
	if (m->type == NCFX_MSG_PING) {
		ncfx_wbuf_begin(&w, NCFX_MSG_PONG, 0, m->reqid);
		if (ncfx_msg_has(m, NCFX_T_SEQ))
			ncfx_put_u64(&w, NCFX_T_SEQ, ncfx_msg_uint(m, NCFX_T_SEQ));
		session_send(s, &w);
		return;
	}
	if (m->type == NCFX_MSG_PONG)
		return;
	if (m->type == NCFX_MSG_BYE) {
		session_close(s, 0, "said goodbye");
		return;
	}
	switch (s->state) {
	case S_HELLO:
		if (m->type == NCFX_MSG_HELLO)
			reply_hello(s, m);
		else
			session_close(s, NCFX_E_UNEXPECTED, "expected HELLO first");
		return;
	case S_LOGIN:
		if (m->type == NCFX_MSG_LOGIN)
			handle_login(s, m);
		else if (m->type == NCFX_MSG_HELLO)
			session_close(s, NCFX_E_UNEXPECTED, "second HELLO");
		else {
			snprintf(why, sizeof(why), "%s before login", ncfx_msg_type_name(m->type));
			session_close(s, NCFX_E_NOT_LOGGED_IN, why);
		}
		return;
	case S_AUTHED:
		break;
	default:
		return;
	}
	switch (m->type) {
	case NCFX_MSG_HELLO:
	case NCFX_MSG_LOGIN:
		snprintf(why, sizeof(why), "%s after login", ncfx_msg_type_name(m->type));
		session_close(s, NCFX_E_UNEXPECTED, why);
		return;
	case NCFX_MSG_LOGOUT:
		log_info("%s: logged out", s->tag);
		session_logout(s);
		requests_cancel(s->requests);
		s->user[0] = '\0';
		s->user_id = 0;
		set_state(s, S_LOGIN);
		set_tag(s);
		ncfx_wbuf_begin(&w, NCFX_MSG_OK, 0, m->reqid);
		session_send(s, &w);
		/* Back under the pre-login rules, including the deadline. */
		{
			struct timeval tv = { s->srv->cfg.preauth_timeout, 0 };
			evtimer_add(s->timer, &tv);
		}
		return;
	case NCFX_MSG_NOTIFY_ACK:
		/* Relayed notifications are acknowledged here, on the PCP. */
		if (s->notify == NULL || notify_ack(s->notify, ncfx_msg_uint(m, NCFX_T_SEQ)) < 0)
			session_close(s, NCFX_E_PROTOCOL, "acknowledged a notification never sent");
		return;
	case NCFX_MSG_SCP_REGISTER:
		handle_scp_register(s, m);
		return;
	case NCFX_MSG_SCP_PROBE:
		handle_scp_probe(s, m);
		return;
	case NCFX_MSG_PATH_RETRY:
		if (s->notify)
			notify_retry(s->notify);
		ncfx_wbuf_begin(&w, NCFX_MSG_OK, 0, m->reqid);
		session_send(s, &w);
		return;
	case NCFX_MSG_JOB_SUBMIT:
	case NCFX_MSG_UPLOAD_CHUNK:
	case NCFX_MSG_UPLOAD_END:
	case NCFX_MSG_JOB_LIST:
	case NCFX_MSG_JOB_CANCEL:
	case NCFX_MSG_JOB_SUSPEND:
	case NCFX_MSG_JOB_RESUME:
		jobs_handle(s, m);
		return;
	case NCFX_MSG_INBOX_LIST:
	case NCFX_MSG_INBOX_MARK:
	case NCFX_MSG_INBOX_DELETE:
	case NCFX_MSG_FILE_GET:
		inbox_handle(s, m);
		return;
	default:
		/* Reserved in this version: say so, keep the connection. */
		snprintf(why, sizeof(why), "%s is not implemented by this server",
		    ncfx_msg_type_name(m->type));
		session_reply_error(s, m->reqid, NCFX_E_UNEXPECTED, why);
		return;
	}
}

/* Stops reading from a peer whose replies pile up unread, before it makes us build more. */
static int
output_full(struct session *s)
{
	size_t out = evbuffer_get_length(bufferevent_get_output(s->bev));

	if (out <= (s->state == S_AUTHED ? SESSION_OUT_HIGH : SESSION_OUT_HIGH_PREAUTH))
		return 0;
	bufferevent_disable(s->bev, EV_READ);
	s->read_paused = 1;
	return 1;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (s->state != S_CLOSING && s->login_job == NULL && !output_full(s)) {
		struct ncfx_msg m;
		char why[160];
		size_t len = 0;
		int err = 0, rc;

		rc = frame_next(in, &m, &len, &err, why, sizeof(why));
		if (rc == 0)
			break;
		if (rc < 0) {
			session_close(s, err ? err : NCFX_E_PROTOCOL, why);
			return;
		}
		s->last_rx = time(NULL);
		dispatch(s, &m);
		evbuffer_drain(in, len);
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == S_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			event_active(s->free_ev, 0, 0);
		return;
	}
	if (s->read_paused &&
	    evbuffer_get_length(bufferevent_get_output(bev)) <= SESSION_OUT_HIGH_PREAUTH) {
		s->read_paused = 0;
		bufferevent_enable(bev, EV_READ);
		read_cb(bev, s);    /* frames may be waiting in the input buffer */
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char why[256];

	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == S_HANDSHAKE)
			set_state(s, S_HELLO);
		log_debug("%s: TLS established", s->tag);
		return;
	}
	if (s->state == S_CLOSING) {
		session_free(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tls_bev_error(bev, why, sizeof(why));
		log_warnx("%s: closing: %s%s", s->tag,
		    s->state == S_HANDSHAKE ? "TLS handshake failed: " : "", why);
	} else if (what & BEV_EVENT_EOF) {
		if (s->state == S_HANDSHAKE)
			log_warnx("%s: closing: connection closed during the TLS handshake",
			    s->tag);
		else
			log_info("%s: disconnected", s->tag);
	}
	session_free(s);
}

/* listener.c: accepts PCP connections on IPv4 and IPv6, applies the connection limits before
 * any TLS work is spent (logging what they refuse as a count per address, not a line per
 * connection), and backs off instead of dying when file descriptors run out. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "keytab.h"
#include "log.h"
#include "netopt.h"
#include "server.h"
#include "session.h"
#include "tally.h"

#define LISTENER_MAX 8
#define LISTENER_BACKLOG 1024
/* Refusals and displacements are summed per address and said once this often. */
#define LISTENER_SUMMARY_INTERVAL 60
/* Addresses summed one by one; a flood from more shares one line per kind. */
#define LISTENER_SUMMARY_KEYS 4096

/* What the limits did to a connection, counted per address; DISPLACED_TOTAL, whose victims
 * come from every address, per step they were stuck at instead. */
enum limit_kind { REFUSED_ADDR, REFUSED_TOTAL, DISPLACED_ADDR, DISPLACED_TOTAL };

struct listener {
	struct server         *srv;
	struct evconnlistener *l[LISTENER_MAX];
	int                    n;
	struct event          *resume;    /* re-enables accepting after EMFILE */
	struct tally          *tally;     /* enum limit_kind, per address, since the last summary */
	struct event          *summary;   /* says the tally every LISTENER_SUMMARY_INTERVAL */
};

/* One line per address and kind for what was counted, not logged, in the interval. */
static void
say_summary(int kind, const char *key, long n, long secs, void *arg)
{
	struct listener *l = arg;
	const struct server_config *c = &l->srv->cfg;
	char who[ADDR_STR_MAX + 8];

	snprintf(who, sizeof(who), key ? "addr=%s" : "other addresses", key);
	switch (kind) {
	case REFUSED_ADDR:
		log_warnx("%s: refused %ld more connection%s in the last %ld s: "
		    "max_connections_per_address (%lld) reached, all of them logged in or checking "
		    "a password", who, n, n == 1 ? "" : "s", secs, c->max_connections_per_address);
		break;
	case REFUSED_TOTAL:
		log_warnx("%s: refused %ld more connection%s in the last %ld s: server at "
		    "max_connections (%lld), all logged in or checking a password", who, n,
		    n == 1 ? "" : "s", secs, c->max_connections);
		break;
	case DISPLACED_ADDR:
		log_warnx("%s: displaced %ld more connection%s not logged in, oldest first, in the "
		    "last %ld s: max_connections_per_address (%lld) reached", who, n,
		    n == 1 ? "" : "s", secs, c->max_connections_per_address);
		break;
	case DISPLACED_TOTAL:
		log_warnx("displaced %ld more connection%s (%s), oldest first, in the last %ld s "
		    "to make room: server at max_connections (%lld)", n, n == 1 ? "" : "s",
		    key ? key : "of other kinds", secs, c->max_connections);
		break;
	}
}

static void
summary_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	tally_summary(l->tally, time(NULL), say_summary, l);
}

/* The first of a kind from an address is logged in full at once, so an operator sees it
 * start; the rest are counted for the summary. */
static void
refuse(struct listener *l, int kind, const char *key, const char *peer)
{
	const struct server_config *c = &l->srv->cfg;

	if (!tally_note(l->tally, kind, key, time(NULL)))
		return;
	if (kind == REFUSED_ADDR)
		log_warnx("addr=%s: closing: max_connections_per_address (%lld) reached, all of "
		    "them logged in or checking a password (more from %s are counted, one line a "
		    "minute)", peer, c->max_connections_per_address, key);
	else
		log_warnx("addr=%s: closing: server at max_connections (%lld), all logged in or "
		    "checking a password (more from %s are counted, one line a minute)", peer,
		    c->max_connections, key);
}

static void
accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	struct keytab_entry *e;
	char peer[ADDR_STR_MAX], key[ADDR_STR_MAX], victim[ADDR_STR_MAX + 64];
	const char *step;

	(void)el;
	addr_format(sa, (socklen_t)salen, NULL, 0, peer, sizeof(peer));
	if (srv->stopping) {
		close(fd);
		return;
	}
	addr_limit_key(sa, (socklen_t)salen, key, sizeof(key));
	e = keytab_get(srv->conns_per_addr, key, 0);
	if (e && e->count >= srv->cfg.max_connections_per_address) {
		/* The address makes room among its own connections, as the server does at
		 * max_connections: stalled machines behind an office's NAT cannot lock out the
		 * office. */
		if (!session_evict_preauth(srv, key, victim, sizeof(victim), &step)) {
			refuse(l, REFUSED_ADDR, key, peer);
			close(fd);
			return;
		}
		if (tally_note(l->tally, DISPLACED_ADDR, key, time(NULL)))
			log_warnx("%s: closing (%s) to make room for %s: max_connections_per_address "
			    "(%lld) reached (more displaced from %s are counted, one line a minute)",
			    victim, step, peer, srv->cfg.max_connections_per_address, key);
	}
	/* Checked second, so one address at its own limit cannot displace others. */
	if (srv->nconns >= (size_t)srv->cfg.max_connections) {
		if (!session_evict_preauth(srv, NULL, victim, sizeof(victim), &step)) {
			refuse(l, REFUSED_TOTAL, key, peer);
			close(fd);
			return;
		}
		if (tally_note(l->tally, DISPLACED_TOTAL, step, time(NULL)))
			log_warnx("%s: closing (%s) to make room for %s: server at max_connections "
			    "(%lld) (more like it are counted, one line a minute)", victim, step, peer,
			    srv->cfg.max_connections);
	}
	netopt_keepalive(fd);
	session_new(srv, fd, sa, (socklen_t)salen);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < l->n; i++)
		evconnlistener_enable(l->l[i]);
}

static void
error_cb(struct evconnlistener *el, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 1, 0 };

	(void)el;
	/* EMFILE/ENFILE/ENOBUFS: pause a second rather than spin or exit (tmux does the same). */
	log_warnx("accept failed: %s; pausing new connections for 1 s", strerror(err));
	for (int i = 0; i < l->n; i++)
		evconnlistener_disable(l->l[i]);
	evtimer_add(l->resume, &tv);
}

static int
bind_one(struct listener *l, const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	struct evconnlistener *el;
	char portstr[8];
	int fd, one = 1, gai;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((gai = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen address '%s': %s", host, gai_strerror(gai));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "listen address %s: %s", host, strerror(errno));
		freeaddrinfo(res);
		return -2;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* IPv6 sockets take IPv6 only, so "0.0.0.0" and "::" can both be bound. */
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, LISTENER_BACKLOG) != 0) {
		int e = errno;
		if (e == EADDRINUSE)
			snprintf(err, errlen, "port %d on %s is already in use by another program "
			    "(see: ss -ltnp 'sport = :%d')", port, host, port);
		else
			snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port,
			    strerror(e));
		close(fd);
		freeaddrinfo(res);
		return e == EADDRINUSE ? -1 : -2;
	}
	freeaddrinfo(res);
	/* Accepted sockets close on exec: ghostscript, run for intake, must not hold them. */
	el = evconnlistener_new(l->srv->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (el == NULL) {
		snprintf(err, errlen, "cannot listen on %s: out of memory", host);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(el, error_cb);
	l->l[l->n++] = el;
	log_info("listening on %s port %d", host, port);
	return 0;
}

struct listener *
listener_new(struct server *srv, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	char list[sizeof(srv->cfg.listen)], *tok, *save = NULL;
	char why[300] = "";

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->srv = srv;
	l->resume = evtimer_new(srv->base, resume_cb, l);
	l->tally = tally_new(LISTENER_SUMMARY_KEYS);
	l->summary = event_new(srv->base, -1, EV_PERSIST, summary_cb, l);
	if (l->resume == NULL || l->tally == NULL || l->summary == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	{
		struct timeval tv = { LISTENER_SUMMARY_INTERVAL, 0 };
		evtimer_add(l->summary, &tv);
	}
	snprintf(list, sizeof(list), "%s", srv->cfg.listen);
	for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		int rc;
		if (l->n == LISTENER_MAX) {
			snprintf(err, errlen, "listen: at most %d addresses", LISTENER_MAX);
			goto fail;
		}
		rc = bind_one(l, tok, (int)srv->cfg.pcp_port, why, sizeof(why));
		if (rc == -1) {
			snprintf(err, errlen, "%s", why);
			goto fail;
		}
		/* An address family this host lacks (no IPv6) is worth a warning, not a stop. */
		if (rc == -2)
			log_warnx("%s", why);
	}
	if (l->n == 0) {
		snprintf(err, errlen, "no listen address could be bound%s%s", why[0] ? ": " : "",
		    why);
		goto fail;
	}
	return l;
fail:
	listener_free(l);
	return NULL;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++)
		evconnlistener_free(l->l[i]);
	if (l->resume)
		event_free(l->resume);
	if (l->summary)
		event_free(l->summary);
	/* At shutdown: the counts of the last interval are said, not lost. */
	tally_summary(l->tally, time(NULL), say_summary, l);
	tally_free(l->tally);
	free(l);
}

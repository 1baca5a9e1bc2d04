/* service.c: the mapping's life on its own thread, because every router call can block for
 * seconds. The thread never touches libevent: it queues events and writes a byte to a pipe
 * the loop watches (the same pattern as the server's password pool).
 *
 * What it asks of the router, at most: in steady state one check every CHECK_MAX_S seconds
 * (UPnP: one GetSpecificPortMappingEntry; NAT-PMP: a public-address request and a refresh of
 * the mapping) and a renewal at half the lease; checks asked for (a router's restart
 * announcement, the caller) at most every PORTMAP_WAKE_MIN_S seconds; after failures,
 * discovery again at 2, 4, 8, 16 s, then every RETRY_FAILED_S. A check left unanswered is
 * asked again after RECHECK_S, and only UNANSWERED_MAX in a row lose the router; the checks
 * of one host's mappings are spread over a quarter of the interval. */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "announce.h"

#define DISCOVER_MS     2000
#define RETRY_FIRST_S   2      /* after a failure, try again this much later, doubling... */
#define RETRY_FAILED_S  30     /* ...up to this */
#define RENEW_MIN_S     5
/* Verify a mapping at least this often between renewals: a router that rebooted without
 * announcing it is found within this, at the cost of one small request. */
#define CHECK_MAX_S     30
/* A check the router leaves unanswered is asked again RECHECK_S later; only UNANSWERED_MAX in
 * a row count as losing the router. A router busy for a few seconds (miniupnpd changing its
 * nftables rules for many mappings at once, on a loaded machine) still forwards what it
 * mapped, and taking the mapping for lost would make a server advertise an address no one
 * outside can reach. A router that restarted is found by the checks it does answer. */
#define RECHECK_S       2
#define UNANSWERED_MAX  3
/* Checks of services started together are spread over up to this much (per mille) of the
 * interval, so that a host holding many mappings does not ask for all at once. */
#define SPREAD_PERMILLE 250

struct queued {
	struct portmap_event ev;
	struct queued       *next;
};

struct portmap_service {
	struct portmap_service_options o;
	int               transport;    /* enum portmap_transport, from o.transport */
	char              protocols[16];
	char              desc[PORTMAP_DESC_MAX];
	pthread_t         thread;
	int               started;
	pthread_mutex_t   lock;
	pthread_cond_t    wake;
	int               stopping;
	int               woken;        /* a check was asked for (portmap_service_check_now) */
	int               restart_heard; /* the router announced a restart since the last check */
	time_t            last_woken;   /* monotonic: when the worker last acted on one */
	time_t            last_restart; /* monotonic: when a PORTMAP_RESTARTED was last passed
	                                 * on (loop thread) */
	struct announce  *announce;     /* the router's restart announcements (loop thread) */
	struct queued    *head, *tail;
	int               pipe[2];
	struct event     *ev;
	portmap_event_fn  cb;
	void             *arg;
	/* worker state */
	const struct portmap_ops *ops;
	void             *st;
	struct portmap_gateway gw;
	char              route_gw[PORTMAP_ADDR_MAX];   /* the network we found the router on */
	char              route_lan[PORTMAP_ADDR_MAX];
	uint16_t          mapped;       /* external port we hold on the router, 0 = none */
	uint16_t          prefer;       /* the port to ask for first: what we held last */
	long              lease;
	time_t            renew_at;     /* monotonic */
	long              retry;        /* seconds before the next try after a failure */
	int               unanswered;   /* checks in a row the router did not answer */
	unsigned          spread;       /* per mille taken off the check interval */
	int               remapped;     /* a lost mapping was made again: report it */
	char              instead[240]; /* why we hold another external port than int_port */
	uint16_t          told_port;    /* what the loop was last told */
	char              told_addr[PORTMAP_ADDR_MAX];
	char              told_failure[240];
};

static time_t
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
post(struct portmap_service *s, const struct portmap_event *ev)
{
	struct queued *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return;
	q->ev = *ev;
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	pthread_mutex_unlock(&s->lock);
	(void)!write(s->pipe[1], "x", 1);
}

static void
post_simple(struct portmap_service *s, int kind, const char *why)
{
	struct portmap_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.transport = s->transport;
	if (s->ops)
		snprintf(ev.proto, sizeof(ev.proto), "%s", s->ops->name);
	snprintf(ev.why, sizeof(ev.why), "%s", why);
	post(s, &ev);
}

static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct portmap_service *s = arg;
	struct queued *q, *next;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&s->lock);
	q = s->head;
	s->head = s->tail = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; q; q = next) {
		next = q->next;
		s->cb(&q->ev, s->arg);
		free(q);
	}
}

/* Takes a pending wake-up if the last was at least PORTMAP_WAKE_MIN_S ago (lock held): 1
 * taken, 0 none or too soon (then *until is brought forward to when it may be taken). */
static int
take_wake(struct portmap_service *s, struct timespec *until)
{
	time_t now = now_mono(), allowed = s->last_woken + PORTMAP_WAKE_MIN_S;

	if (!s->woken)
		return 0;
	if (s->last_woken == 0 || now >= allowed) {
		s->woken = 0;
		s->last_woken = now;
		return 1;
	}
	if (allowed < until->tv_sec) {
		until->tv_sec = allowed;
		until->tv_nsec = 0;
	}
	return 0;
}

/* Sleeps up to secs unless stopping or a check is asked for; returns 1 if stopping. */
static int
nap(struct portmap_service *s, long secs)
{
	struct timespec until;
	int stop, woke = 0;

	/* Monotonic (the condition variable is set up so): a clock set back must not stall
	 * renewals until a lease runs out. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping && !(woke = take_wake(s, &until)) &&
	    pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	/* A timeout may have been brought forward for a wake-up that was too soon. */
	if (!woke && !s->stopping)
		woke = take_wake(s, &until);
	if (woke)
		s->retry = 0;       /* asked for: a router that failed is asked again soon */
	stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Forgets the router (the next round discovers it again) and the mapping on it. */
static void
drop_state(struct portmap_service *s)
{
	if (s->st)
		s->ops->close(s->st);
	s->st = NULL;
	s->ops = NULL;
	s->mapped = 0;
}

/* Finds a router that offers a usable mapping: 0, or -1 with why. */
static int
find_router(struct portmap_service *s, char *why, size_t whylen)
{
	const char *order[2];
	int n = 0;

	/* Remember the network this router belongs to, to notice when we leave it. */
	portmap_route(s->route_gw, s->route_lan);
	if (strcmp(s->protocols, "natpmp") != 0)
		order[n++] = "upnp";
	if (strcmp(s->protocols, "upnp") != 0)
		order[n++] = "natpmp";
	snprintf(why, whylen, "no UPnP or NAT-PMP router found");
	for (int i = 0; i < n; i++) {
		const struct portmap_ops *ops = portmap_backend(order[i]);
		char err[240];

		if (ops->discover(&s->st, DISCOVER_MS, &s->gw, err, sizeof(err)) != 0) {
			snprintf(why, whylen, "%s: %s", ops->name, err);
			continue;
		}
		s->ops = ops;
		if (s->gw.ext_class == PORTMAP_ADDR_PUBLIC)
			return 0;
		/* A mapping on a router behind another NAT would not make us reachable. */
		if (s->gw.ext_class == PORTMAP_ADDR_PRIVATE)
			snprintf(why, whylen, "double NAT: %s; a mapping on this router alone would "
			    "not make this host reachable from outside", s->gw.detail);
		else if (s->gw.ext_class == PORTMAP_ADDR_CGNAT)
			snprintf(why, whylen, "the provider's NAT (CGNAT): %s; no router mapping "
			    "can make this host reachable from outside", s->gw.detail);
		else
			snprintf(why, whylen, "%s", s->gw.detail);
		drop_state(s);
	}
	return -1;
}

/* The external ports to ask for, in order: what we held last, int_port, the range (at most
 * PORTMAP_RANGE_TRIES of it), then PORTMAP_ALT_TRIES pseudo-random ports seeded by the
 * description and int_port. Nothing random is left to chance: a restart asks for the same
 * ports in the same order and so lands on the same one, and two hosts (their descriptions
 * name them) walk different sequences. Returns how many. */
static int
ports_to_try(const struct portmap_service *s, uint16_t *want, int cap)
{
	uint32_t h = 2166136261u;       /* FNV-1a of the description and int_port */
	int n = 0, alts = 0, want_alts = s->o.alternatives < PORTMAP_ALT_TRIES ?
	    s->o.alternatives : PORTMAP_ALT_TRIES;

	for (const char *c = s->desc; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ (s->o.int_port & 0xff)) * 16777619u;
	h = (h ^ (s->o.int_port >> 8)) * 16777619u;
	if (h == 0)
		h = 1;                       /* xorshift stays at 0 */
	if (s->prefer)
		want[n++] = s->prefer;
	if (s->o.int_port != s->prefer)
		want[n++] = s->o.int_port;
	for (uint32_t p = s->o.range_lo, k = 0; p && p <= s->o.range_hi &&
	    k < PORTMAP_RANGE_TRIES && n < cap; p++, k++)
		if (p != s->prefer && p != s->o.int_port)
			want[n++] = (uint16_t)p;
	/* A bounded number of draws: a duplicate is simply skipped. */
	for (int draw = 0; draw < 4 * PORTMAP_ALT_TRIES && alts < want_alts && n < cap;
	    draw++) {
		uint16_t p;
		int dup = 0;

		h ^= h << 13;                /* xorshift32: the same sequence everywhere */
		h ^= h >> 17;
		h ^= h << 5;
		p = (uint16_t)(1024 + h % (65536 - 1024));
		for (int i = 0; i < n && !dup; i++)
			dup = want[i] == p;
		if (!dup) {
			want[n++] = p;
			alts++;
		}
	}
	return n;
}

/* Maps int_port on the first external port of ports_to_try() the router grants. On another
 * port than int_port, instead says why in words. 0, or -1 with why. */
static int
map(struct portmap_service *s, char *why, size_t whylen)
{
	uint16_t want[2 + PORTMAP_RANGE_TRIES + PORTMAP_ALT_TRIES], granted = 0;
	char taken[240] = "";
	int n, rc = -1, tried_int = 0;
	long got = 0;

	n = ports_to_try(s, want, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < n; i++) {
		rc = s->ops->add(s->st, s->transport, s->o.int_port, want[i], s->o.lease, s->desc,
		    &granted, &got, why, whylen);
		if (want[i] == s->o.int_port) {
			tried_int = 1;
			if (rc == PORTMAP_CONFLICT)
				snprintf(taken, sizeof(taken), "%s", why);
		}
		if (rc != PORTMAP_CONFLICT)
			break;
	}
	if (rc == PORTMAP_CONFLICT) {
		char last[240];

		snprintf(last, sizeof(last), "%s", why);
		if (n > 1)
			snprintf(why, whylen, "%s; and the %d other external ports tried were taken "
			    "too (last: %s)", taken[0] ? taken : "the external port is taken", n - 1,
			    last);
	}
	if (rc != 0)
		return -1;
	if (granted == s->o.int_port)
		s->instead[0] = '\0';
	else if (tried_int)
		/* NAT-PMP grants another port itself, without saying why. */
		snprintf(s->instead, sizeof(s->instead), "%s", taken[0] ? taken : "");
	if (granted != s->o.int_port && s->instead[0] == '\0')
		snprintf(s->instead, sizeof(s->instead), "the router did not grant external %sport "
		    "%u (another host on this network may hold it)",
		    portmap_transport_word(s->transport), s->o.int_port);
	s->mapped = s->prefer = granted;
	s->lease = got;
	return 0;
}

static long
renew_secs(const struct portmap_service *s)
{
	/* Half the lease; a permanent mapping is renewed as often as an hour's would be. */
	long wait = (s->lease > 0 ? s->lease : 3600) / 2;

	return wait < RENEW_MIN_S ? RENEW_MIN_S : wait;
}

static void
report_failure(struct portmap_service *s, const char *why)
{
	/* Once per distinct reason: a router that stays away is not news every 30 s. */
	if (strcmp(s->told_failure, why) == 0)
		return;
	snprintf(s->told_failure, sizeof(s->told_failure), "%s", why);
	s->told_port = 0;
	s->told_addr[0] = '\0';
	post_simple(s, PORTMAP_FAILED, why);
}

static void
report_mapped(struct portmap_service *s)
{
	struct portmap_event ev;

	if (s->mapped == s->told_port && strcmp(s->gw.ext_addr, s->told_addr) == 0 &&
	    !s->remapped)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PORTMAP_MAPPED;
	ev.transport = s->transport;
	snprintf(ev.proto, sizeof(ev.proto), "%s", s->ops->name);
	ev.ext_port = s->mapped;
	snprintf(ev.ext_addr, sizeof(ev.ext_addr), "%s", s->gw.ext_addr);
	ev.ext_class = s->gw.ext_class;
	ev.lease = s->lease;
	snprintf(ev.why, sizeof(ev.why), "%s", s->gw.detail);
	snprintf(ev.instead, sizeof(ev.instead), "%s", s->instead);
	post(s, &ev);
	s->told_port = s->mapped;
	snprintf(s->told_addr, sizeof(s->told_addr), "%s", s->gw.ext_addr);
	s->told_failure[0] = '\0';
	s->remapped = 0;
}

/* Between renewals: are we on the same network, and does the router still hold our
 * mapping? Anything else sends the next round back to discovery. */
static void
verify(struct portmap_service *s)
{
	char gw[PORTMAP_ADDR_MAX], lan[PORTMAP_ADDR_MAX], err[240] = "", why[480];
	int moved, rc;

	moved = portmap_route(gw, lan) == 0 ?
	    strcmp(gw, s->route_gw) != 0 || strcmp(lan, s->route_lan) != 0 : s->route_gw[0] != 0;
	if (moved) {
		snprintf(why, sizeof(why), "the network changed (gateway %s, our address %s; was "
		    "%s, %s): looking for the router again", gw[0] ? gw : "none", lan[0] ? lan :
		    "none", s->route_gw[0] ? s->route_gw : "none", s->route_lan[0] ? s->route_lan :
		    "none");
		post_simple(s, PORTMAP_LOST, why);
		drop_state(s);
		s->remapped = 1;
		return;
	}
	rc = s->ops->check(s->st, s->transport, s->mapped, s->o.int_port, err, sizeof(err));
	if (rc >= 0)
		s->unanswered = 0;
	if (rc == 1)
		return;
	if (rc < 0 && ++s->unanswered < UNANSWERED_MAX)
		return;               /* asked again RECHECK_S later, the mapping still held */
	s->unanswered = 0;
	if (rc == 0) {
		snprintf(why, sizeof(why), "the router no longer forwards external %sport %u to us "
		    "(restarted?): mapping it again", portmap_transport_word(s->transport),
		    s->mapped);
		post_simple(s, PORTMAP_LOST, why);
		drop_state(s);        /* a restarted router may have a new address or URL */
		s->remapped = 1;
		return;
	}
	/* Unanswered, UNANSWERED_MAX times in a row: a router that restarted often listens on
	 * a new port or URL, and discovery finds it again in a moment while keeping the port we
	 * hold. */
	snprintf(why, sizeof(why), "the router did not answer %d checks in a row (%s): looking "
	    "for it again", UNANSWERED_MAX, err);
	post_simple(s, PORTMAP_LOST, why);
	drop_state(s);
	s->remapped = 1;
}

/* A router that is still starting answers soon; one that is absent need not be asked
 * every two seconds for ever. */
static long
next_retry(struct portmap_service *s)
{
	s->retry = s->retry ? s->retry * 2 : RETRY_FIRST_S;
	if (s->retry > RETRY_FAILED_S)
		s->retry = RETRY_FAILED_S;
	return s->retry;
}

static void *
worker(void *arg)
{
	struct portmap_service *s = arg;

	for (;;) {
		char why[240];
		long wait, check;
		time_t now;

		if ((s->st == NULL && find_router(s, why, sizeof(why)) < 0) ||
		    (s->mapped == 0 && map(s, why, sizeof(why)) < 0)) {
			drop_state(s);
			report_failure(s, why);
			if (nap(s, next_retry(s)))
				break;
			continue;
		}
		s->retry = 0;
		now = now_mono();
		if (s->renew_at == 0 || now >= s->renew_at) {
			/* Renewal is a new request for the port we hold. */
			if (s->renew_at != 0 && map(s, why, sizeof(why)) < 0) {
				char lost[400];

				/* Look for the router again at once; only that failing is a failure. */
				snprintf(lost, sizeof(lost), "renewing the mapping failed (%s): looking "
				    "for the router again", why);
				post_simple(s, PORTMAP_LOST, lost);
				drop_state(s);
				s->remapped = 1;
				s->renew_at = 0;
				continue;
			}
			s->renew_at = now + renew_secs(s);
		}
		report_mapped(s);
		/* Verify about twice between renewals. */
		check = renew_secs(s) / 2;
		if (check > CHECK_MAX_S)
			check = CHECK_MAX_S;
		check -= check * (long)s->spread / 1000;
		if (check < RENEW_MIN_S)
			check = RENEW_MIN_S;
		wait = s->renew_at - now;
		if (wait > check)
			wait = check;
		if (s->unanswered && wait > RECHECK_S)
			wait = RECHECK_S;
		if (nap(s, wait > 0 ? wait : 1))
			break;
		if (now_mono() < s->renew_at)
			verify(s);
		/* A NAT-PMP check asks for the mapping again, so a restarted router may already
		 * hold it anew: still report it, so that the caller can ask the server to try
		 * the (perhaps broken) direct path again at once. */
		pthread_mutex_lock(&s->lock);
		if (s->restart_heard && s->st != NULL)
			s->remapped = 1;
		s->restart_heard = 0;
		pthread_mutex_unlock(&s->lock);
		if (s->st == NULL)
			s->renew_at = 0;
	}
	/* Clean exit: remove only what we made. */
	if (s->st && s->mapped) {
		char why[240];
		s->ops->remove(s->st, s->transport, s->mapped, s->o.int_port, why, sizeof(why));
	}
	drop_state(s);
	return NULL;
}

void
portmap_service_check_now(struct portmap_service *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->woken = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* On the loop thread: the router said it (re)started. Its table, and perhaps its connection
 * tracking, went with it: tell the caller (who may check its own connections) and check.
 * Anyone on the LAN can forge the gateway's address, and a router may announce one start
 * over NAT-PMP, PCP and SSDP at once: the caller hears of a restart at most once every
 * PORTMAP_WAKE_MIN_S seconds (a log line, a state file written); one more within that time
 * still asks for the check, which finds a lost mapping and reports it as LOST. */
static void
on_announce(const char *proto, int restarted, const char *why, void *arg)
{
	struct portmap_service *s = arg;
	struct portmap_event ev;
	time_t now = now_mono();

	if (!restarted) {
		portmap_service_check_now(s);
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->restart_heard = 1;
	pthread_mutex_unlock(&s->lock);
	if (s->last_restart != 0 && now - s->last_restart < PORTMAP_WAKE_MIN_S) {
		portmap_service_check_now(s);
		return;
	}
	s->last_restart = now;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PORTMAP_RESTARTED;
	ev.transport = s->transport;
	snprintf(ev.proto, sizeof(ev.proto), "%s", proto);
	snprintf(ev.why, sizeof(ev.why), "%s", why);
	s->cb(&ev, s->arg);
	portmap_service_check_now(s);
}

/* This service's share of SPREAD_PERMILLE: from its description, port and transport, so
 * the mappings of one host (one description, many ports) land apart, the same way each
 * start. */
static unsigned
spread_of(const struct portmap_service *s)
{
	uint32_t h = 2166136261u;       /* FNV-1a */

	for (const char *c = s->desc; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ (s->o.int_port & 0xff)) * 16777619u;
	h = (h ^ (s->o.int_port >> 8)) * 16777619u;
	h = (h ^ (uint32_t)s->transport) * 16777619u;
	return h % (SPREAD_PERMILLE + 1);
}

struct portmap_service *
portmap_service_new(struct event_base *base, const struct portmap_service_options *o,
    portmap_event_fn cb, void *arg)
{
	struct portmap_service *s;
	int transport = portmap_transport_parse(o->transport);

	if (transport < 0 || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *o;
	s->o.transport = NULL;      /* the caller's string need not outlive this call */
	s->transport = transport;
	snprintf(s->protocols, sizeof(s->protocols), "%s", o->protocols ? o->protocols : "auto");
	snprintf(s->desc, sizeof(s->desc), "%s", o->desc);
	s->o.protocols = s->protocols;
	s->o.desc = s->desc;
	s->spread = spread_of(s);
	s->cb = cb;
	s->arg = arg;
	s->pipe[0] = s->pipe[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    (s->ev = event_new(base, s->pipe[0], EV_READ | EV_PERSIST, deliver, s)) == NULL ||
	    event_add(s->ev, NULL) != 0 || pthread_create(&s->thread, NULL, worker, s) != 0) {
		portmap_service_free(s);
		return NULL;
	}
	s->started = 1;
	/* Best effort: without it a restart is still found by the next check. */
	s->announce = announce_new(base, on_announce, s);
	return s;
}

void
portmap_service_stop(struct portmap_service *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void
portmap_service_free(struct portmap_service *s)
{
	struct queued *q, *next;

	if (s == NULL)
		return;
	announce_free(s->announce);
	portmap_service_stop(s);
	if (s->started)
		pthread_join(s->thread, NULL);
	for (q = s->head; q; q = next) {
		next = q->next;
		free(q);
	}
	if (s->ev)
		event_free(s->ev);
	if (s->pipe[0] >= 0)
		close(s->pipe[0]);
	if (s->pipe[1] >= 0)
		close(s->pipe[1]);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

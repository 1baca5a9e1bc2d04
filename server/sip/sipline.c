/* sipline.c: a SIP trunk as a fax line (line.h). The trunk's user agent (sipua.c) signals on
 * its own thread and reports to the loop; a call itself runs on one of the fax queue's
 * workers, which offers or answers the media (sdp.c), carries it over RTP (rtpaudio.c) and
 * runs the fax engine on it (faxcall.c). The two sides meet in a table of call slots under
 * one lock: the loop writes what the network said into a slot, the worker waits on it.
 * A call out with early media (a 18x with SDP) has its media started at the 18x and again
 * at the 200, whose answer wins; the fax engine starts at the 200. With portmap, the SIP
 * port's mapping on the router is the contact the trunk registers. T.38 (the trunk's t38):
 * a re-INVITE to it, the far end's or ours on the fax tones, hands the running fax engine
 * a UDPTL media (t38media.c) through the slot; an offer of it from the start is answered
 * with it, and with t38 = offer our INVITEs offer it.
 *
 * Outcomes follow the telephone network's: 486/600 busy, 408/480 and a ring that outlasts
 * ring_timeout no answer, 404/484/604 no such number, 5xx a failure worth another try, the
 * rest a refusal in the provider's words. */
#include "sipline.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "faxcall.h"
#include "log.h"
#include "media.h"
#include "rtpaudio.h"
#include "sdp.h"
#include "service.h"
#include "sipua.h"
#include "t38media.h"

#include <event2/event.h>

#define ACK_WAIT_S    40          /* our 200 is retransmitted for 32 s (64 * T1) */
#define END_WAIT_S    10          /* a BYE or CANCEL is answered within this, or let go */
#define TICK_MS       100         /* a waiting worker looks at its abort flag this often */
#define MAPS_MAX      32          /* ports mapped on the router: per channel, its RTP and
				   * (t38 on) its UDPTL */
#define MAP_LEASE_S   3600
#define T38_MAX_BUFFER   400      /* our T38FaxMaxBuffer and T38FaxMaxDatagram: what spandsp's */
#define T38_MAX_DATAGRAM 400      /* terminal sends fits many times over */

/* Where a call stands with T.38 (slot.t38). */
enum {
	T38_NONE = 0,
	T38_TAKING,              /* the far end's re-INVITE is being answered (the loop) */
	T38_OFFERING,            /* ours is being made (the worker) */
	T38_OFFERED,             /* ours is out, its answer awaited */
	T38_WAIT,                /* ours got 491: sent again after RFC 3261's wait, unless the
	                          * far end's comes first, which is taken */
	T38_ON,                  /* the switch is handed to the fax engine */
	T38_REFUSED,             /* ours was refused: G.711 it is, unless the far end asks */
};

/* One call, as the loop and the worker both see it (under the line's lock). */
struct slot {
	int         used;
	unsigned    id;                      /* the user agent's call id */
	int         incoming;
	int         taken;                   /* incoming: the queue took it (answer or drop
	                                      * comes) */
	int         progress;                /* the last 18x status */
	int         early;                   /* out: a 18x came with SDP (in sdp): early media */
	int         answered;                /* 200 received (out), ACK received (in) */
	int         final;                   /* CALL_FAILED: its status; CALL_ENDED: -1 */
	char        reason[SIPUA_REASON_MAX];
	char        sdp[SIPUA_SDP_MAX];      /* the far end's offer (in) or answer (out) */
	atomic_int  hangup;                  /* the far end hung up: the fax engine stops */
	char        number[SIPUA_NUMBER_MAX];
	char        user[65];
	char        from[SIPUA_NUMBER_MAX];
	/* T.38 (the worker's media and the loop's signalling meet here) */
	struct sipline *line;
	int         calling;                 /* we placed the call */
	int         running;                 /* the fax engine runs: a switch may be handed to it */
	unsigned long long session_id;       /* our o= line's, kept by every later SDP */
	char        local[SIPUA_SDP_MAX];    /* our SDP now: what a refresh is answered with */
	int         t38;                     /* T38_* */
	int         t38_tries;               /* our re-INVITEs sent (a 491 allows a second) */
	void       *t38m;                    /* the UDPTL media, freed by the worker at the end */
	int         t38map;
	struct sockaddr_storage t38adv;      /* what our T.38 SDP advertises */
	char        t38offer[SIPUA_SDP_MAX]; /* our re-INVITE's offer */
	struct faxcall_switch sw;
};

/* One RTP port (or the SIP port) kept mapped on the office router (portmap on): what it
 * maps to, as the mapping service last said (under the line's lock). */
struct rtpmap {
	struct sipline         *l;
	struct portmap_service *svc;
	uint16_t                port;        /* ours */
	int                     mapped;
	char                    ext_addr[PORTMAP_ADDR_MAX];
	uint16_t                ext_port;
	int                     in_use;      /* a call's media is bound to it */
};

struct sipline {
	struct trunk_config     t;
	struct event_base      *base;
	int                     ecm;
	struct sipua           *ua;
	struct line_host        host;
	int                     attached;
	struct sockaddr_storage advert;      /* the address our SDP gives (port set per call) */
	socklen_t               advert_len;
	unsigned long long      sdp_version;

	pthread_mutex_t         lock;
	pthread_cond_t          cond;        /* a slot changed */
	struct slot            *slots;
	int                     nslots;
	int                     registered;
	struct rtpmap           maps[MAPS_MAX];
	int                     nmaps;
	struct rtpmap           sipmap;      /* the SIP port's (svc NULL when not asked) */
	int                     pcp_mapped_port;
	char                    contact[SIPUA_CONTACT_MAX];  /* the registered one, as logged */
};

/* ---- the slot table ---- */

static struct slot *
slot_find(struct sipline *l, unsigned id)
{
	for (int i = 0; i < l->nslots; i++)
		if (l->slots[i].used && l->slots[i].id == id)
			return &l->slots[i];
	return NULL;
}

/* A free slot, cleared and marked used; NULL when all are taken. Under the lock. */
static struct slot *
slot_take(struct sipline *l, unsigned id)
{
	for (int i = 0; i < l->nslots; i++)
		if (!l->slots[i].used) {
			struct slot *s = &l->slots[i];

			memset(s, 0, sizeof(*s));
			atomic_init(&s->hangup, 0);
			atomic_init(&s->sw.ready, 0);
			atomic_init(&s->sw.taken, 0);
			s->used = 1;
			s->id = id;
			s->line = l;
			s->t38map = -1;
			return s;
		}
	return NULL;
}

static void
slot_free(struct sipline *l, struct slot *s)
{
	pthread_mutex_lock(&l->lock);
	s->used = 0;
	pthread_mutex_unlock(&l->lock);
}

/* Waits (the lock held) until done(s) or ms have passed; 1 when done, 0 on time. Wakes
 * every TICK_MS so that an abort set from another thread is seen. */
static int
wait_for(struct sipline *l, struct slot *s, int (*done)(const struct slot *, void *),
         void *arg, long ms, const atomic_int *abort)
{
	struct timespec now, end, tick;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (!done(s, arg)) {
		if (abort && atomic_load(abort))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec &&
		    now.tv_nsec >= end.tv_nsec))
			return 0;
		tick = now;
		tick.tv_nsec += TICK_MS * 1000000L;
		if (tick.tv_nsec >= 1000000000L) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->cond, &l->lock, &tick);
	}
	return 1;
}

static int
is_final(const struct slot *s, void *arg)
{
	(void)arg;
	return s->final != 0;
}

static int
is_answered_or_final(const struct slot *s, void *arg)
{
	(void)arg;
	return s->answered || s->final != 0;
}

/* Hangs up (CANCEL, BYE or a refusal, as the call stands) unless the call already ended,
 * and waits a bounded time for its end, so that the channel is free only once the network
 * says so. A call hung up by our own decision (a cancel, the server stopping, when the loop
 * that reports the end may no longer run) waits a second at most: the hang-up is on its way
 * either way, and a late report for the call finds no slot (ids are never reused). */
static void
end_call(struct sipline *l, struct slot *s, const atomic_int *abort)
{
	long ms = abort && atomic_load(abort) ? 1000L : END_WAIT_S * 1000L;

	pthread_mutex_lock(&l->lock);
	if (s->final == 0) {
		pthread_mutex_unlock(&l->lock);
		sipua_hangup(l->ua, s->id);
		pthread_mutex_lock(&l->lock);
		(void)wait_for(l, s, is_final, NULL, ms, NULL);
	}
	s->used = 0;
	pthread_mutex_unlock(&l->lock);
}

/* ---- T.38: the switch from G.711, asked by the far end or by us ---- */

static int map_take(struct sipline *l, struct sockaddr_storage *adv);
static void map_give(struct sipline *l, int i);

/* The error correction agreed, as the log says it. */
static const char *
ec_name(int ec)
{
	return ec == UDPTL_EC_FEC ? "FEC" : ec == UDPTL_EC_REDUNDANCY ? "redundancy" :
	    "no error recovery";
}

/* The T.38 we carry, as our SDP says it. */
static void
t38_ours(const struct sipline *l, struct sdp_t38 *t)
{
	memset(t, 0, sizeof(*t));
	t->version = 0;
	t->max_bit_rate = 14400;
	t->rate_management = SDP_T38_TRANSFERRED_TCF;
	t->max_buffer = T38_MAX_BUFFER;
	t->max_datagram = T38_MAX_DATAGRAM;
	if (strcmp(l->t.t38_ec, "fec") == 0)
		t->ec = UDPTL_EC_FEC;
	else
		t->ec = l->t.t38_redundancy > 0 ? UDPTL_EC_REDUNDANCY : UDPTL_EC_NONE;
}

/* Our side of a T.38 SDP on the UDPTL media at adv (sl's pointers are into adv and ours). */
static void
t38_local(const struct sipline *l, unsigned long long session_id,
          const struct sockaddr_storage *adv, const struct sdp_t38 *ours, struct sdp_local *sl)
{
	memset(sl, 0, sizeof(*sl));
	sl->addr = sl->t38_addr = (const struct sockaddr *)adv;
	sl->addrlen = sl->t38_addrlen = adv->ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	sl->codecs = l->t.codec_list;
	sl->ncodecs = l->t.ncodecs;
	sl->session_id = session_id;
	sl->version = __atomic_add_fetch(&((struct sipline *)l)->sdp_version, 1,
	    __ATOMIC_RELAXED);
	sl->t38 = ours;
}

/* A UDPTL socket in the trunk's RTP range (a mapped port, as media_new takes, when one is
 * free), its advertised address into adv. NULL with the reason. */
static void *
t38_media_new(struct sipline *l, struct sockaddr_storage *adv, int *map, char *err,
              size_t errlen)
{
	struct t38media_opts to = { 0 };
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	void *m;

	to.bind_addr = l->t.listen;
	to.port_min = (int)l->t.rtp_min;
	to.port_max = (int)l->t.rtp_max;
	if ((*map = map_take(l, adv)) >= 0)
		to.port_min = to.port_max = l->maps[*map].port;
	if ((m = t38media_new(&to, err, errlen)) == NULL ||
	    t38media_ops.local(m, &local, &len) != 0) {
		if (m != NULL)
			snprintf(err, errlen, "cannot read the UDPTL socket's address");
		t38media_ops.free(m);
		map_give(l, *map);
		*map = -1;
		return NULL;
	}
	if (*map < 0) {
		*adv = l->advert;
		if (adv->ss_family == AF_INET)
			((struct sockaddr_in *)adv)->sin_port =
			    ((struct sockaddr_in *)&local)->sin_port;
		else
			((struct sockaddr_in6 *)adv)->sin6_port =
			    ((struct sockaddr_in6 *)&local)->sin6_port;
	}
	return m;
}

/* The UDPTL media started towards peer with what was agreed: our redundancy (or FEC where
 * the far end asked for it), in datagrams the far end takes. 0, or -1 with the reason. */
static int
t38_start(struct sipline *l, void *m, const struct media_peer *peer, const struct sdp_t38 *a,
          char *err, size_t errlen)
{
	struct udptl_config uc = { 0 };

	uc.ec = a->ec;
	uc.redundancy = (int)l->t.t38_redundancy;
	if (uc.ec == UDPTL_EC_REDUNDANCY && uc.redundancy == 0)
		uc.ec = UDPTL_EC_NONE;
	uc.fec_span = 3;
	uc.fec_entries = 3;
	uc.max_datagram = a->max_datagram;
	if (t38media_set_udptl(m, &uc, err, errlen) != 0)
		return -1;
	return t38media_ops.start(m, peer, err, errlen);
}

/* Hands the started UDPTL media to the fax engine (the lock held). */
static void
t38_hand_over(struct slot *s, void *m, int map, const struct sdp_t38 *a, const char *sdp)
{
	s->t38m = m;
	s->t38map = map;
	s->sw.ops = &t38media_ops;
	s->sw.media = m;
	s->sw.t38.version = a->version;
	s->sw.t38.max_bit_rate = a->max_bit_rate;
	s->sw.t38.local_tcf = a->rate_management == SDP_T38_LOCAL_TCF;
	s->sw.t38.max_buffer = a->max_buffer;
	s->sw.t38.max_datagram = a->max_datagram;
	snprintf(s->local, sizeof(s->local), "%s", sdp);
	s->t38 = T38_ON;
	atomic_store(&s->sw.ready, 1);
}

/* 1 when an SDP offers an image stream on a port (T.38). */
static int
offers_image(const char *sdp)
{
	for (const char *p = sdp; (p = strstr(p, "m=image ")) != NULL; p += 8)
		if ((p == sdp || p[-1] == '\n') && strncmp(p + 8, "0 ", 2) != 0)
			return 1;
	return 0;
}

/* The far end's re-INVITE to T.38 on a call whose fax engine runs (the loop's thread): a
 * UDPTL media, our answer, and the switch handed over before the 200 goes. */
static void
t38_take(struct sipline *l, unsigned id, const char *offer)
{
	struct sockaddr_storage adv;
	struct sdp_local sl;
	struct sdp_t38 ours, agreed;
	struct media_peer peer;
	char answer[SDP_TEXT_MAX], err[200], e2[64];
	struct slot *s;
	void *m;
	int map = -1, ok = 0;

	t38_ours(l, &ours);
	if ((m = t38_media_new(l, &adv, &map, err, sizeof(err))) != NULL) {
		pthread_mutex_lock(&l->lock);
		s = slot_find(l, id);
		if (s != NULL)
			t38_local(l, s->session_id, &adv, &ours, &sl);
		pthread_mutex_unlock(&l->lock);
		if (s == NULL)
			snprintf(err, sizeof(err), "the call ended");
		else if (sdp_answer_t38(offer, &sl, &peer, &agreed, answer, sizeof(answer), err,
		    sizeof(err)) == 0 && peer.codec != MEDIA_T38)
			snprintf(err, sizeof(err), "no T.38 stream we can take");
		else if (peer.codec == MEDIA_T38 &&
		    t38_start(l, m, &peer, &agreed, err, sizeof(err)) == 0)
			ok = 1;
	}
	pthread_mutex_lock(&l->lock);
	s = slot_find(l, id);
	if (ok && (s == NULL || !s->running || s->t38 != T38_TAKING)) {
		ok = 0;
		snprintf(err, sizeof(err), "the fax engine ended meanwhile");
	}
	if (ok)
		t38_hand_over(s, m, map, &agreed, answer);
	else if (s != NULL && s->t38 == T38_TAKING)
		s->t38 = T38_NONE;
	pthread_mutex_unlock(&l->lock);
	if (ok) {
		log_info("trunk %s: call %u: the far end's re-INVITE to T.38 accepted: T.38 "
		    "version %d at %u bit/s, %s", l->t.name, id, agreed.version,
		    agreed.max_bit_rate ? agreed.max_bit_rate : 14400, agreed.ec ==
		    UDPTL_EC_FEC ? "FEC" : agreed.ec == UDPTL_EC_REDUNDANCY ? "redundancy" :
		    "no error recovery");
		(void)sipua_answer(l->ua, id, 200, answer, e2, sizeof(e2));
		return;
	}
	log_warnx("trunk %s: call %u: re-INVITE to T.38 refused (488): %s; the call stays on "
	    "G.711", l->t.name, id, err);
	if (m != NULL) {
		t38media_ops.free(m);
		map_give(l, map);
	}
	(void)sipua_answer(l->ua, id, 488, NULL, e2, sizeof(e2));
}

/* A re-INVITE from the far end (the loop's thread): to T.38 while our fax engine runs on
 * G.711 and the trunk takes T.38, the switch; with our T.38 on, or the audio unchanged (a
 * session timer's refresh), our SDP as it is; anything else 488, which keeps the call as
 * it stands. */
static void
on_reinvite(struct sipline *l, const struct sipua_event *ev)
{
	char answer[SIPUA_SDP_MAX], e2[64];
	int image = offers_image(ev->sdp), status = 488, take = 0, ourmap = -1;
	struct slot *s;
	void *ours = NULL;

	answer[0] = '\0';
	pthread_mutex_lock(&l->lock);
	if ((s = slot_find(l, ev->call)) == NULL || s->final != 0) {
		status = 481;
	} else if (image && (s->t38 == T38_OFFERED || s->t38 == T38_OFFERING)) {
		status = 491;                  /* ours crossed theirs: ours goes on */
	} else if (image && (s->t38 == T38_NONE || s->t38 == T38_REFUSED ||
	    s->t38 == T38_WAIT) && s->running && strcmp(l->t.t38, "off") != 0) {
		/* after a 491 the far end's came first: it is taken, ours is not sent again */
		ours = s->t38m;
		ourmap = s->t38map;
		s->t38m = NULL;
		s->t38map = -1;
		s->t38 = T38_TAKING;
		take = 1;
	} else if (s->local[0] && (ev->sdp[0] == '\0' || (image ? s->t38 == T38_ON :
	    s->t38 != T38_ON))) {
		status = 200;
		snprintf(answer, sizeof(answer), "%s", s->local);
	}
	pthread_mutex_unlock(&l->lock);
	if (ours != NULL) {
		t38media_ops.free(ours);
		map_give(l, ourmap);
	}
	if (take) {
		t38_take(l, ev->call, ev->sdp);
		return;
	}
	if (status == 200)
		log_debug("trunk %s: call %u: re-INVITE answered with the SDP as it is", l->t.name,
		    ev->call);
	else
		log_info("trunk %s: call %u: re-INVITE refused (%d)%s", l->t.name, ev->call,
		    status, status == 488 && image ? ": T.38 is off on this trunk, or the fax "
		    "has not started" : status == 488 ? ": the call stays on T.38" : "");
	(void)sipua_answer(l->ua, ev->call, status, status == 200 ? answer : NULL, e2,
	    sizeof(e2));
}

/* Sends our re-INVITE to T.38 (the offer made by t38_offer). */
static void
t38_send(struct sipline *l, struct slot *s)
{
	char err[SIPUA_ERR_MAX];

	s->t38_tries++;
	if (sipua_reinvite(l->ua, s->id, s->t38offer, err, sizeof(err)) != 0) {
		log_warnx("trunk %s: call %u: re-INVITE to T.38: %s", l->t.name, s->id, err);
		s->t38 = T38_REFUSED;
	}
}

/* The fax tones were heard (the fax engine's thread): our re-INVITE to T.38 goes out. */
static void
t38_offer(void *arg)
{
	struct slot *s = arg;
	struct sipline *l = s->line;
	struct sockaddr_storage adv;
	struct sdp_local sl;
	struct sdp_t38 ours;
	char offer[SDP_TEXT_MAX], err[200];
	void *m;
	int map = -1;

	pthread_mutex_lock(&l->lock);
	if (s->t38 != T38_NONE || s->final != 0) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	s->t38 = T38_OFFERING;
	pthread_mutex_unlock(&l->lock);
	t38_ours(l, &ours);
	if ((m = t38_media_new(l, &adv, &map, err, sizeof(err))) != NULL) {
		t38_local(l, s->session_id, &adv, &ours, &sl);
		if (sdp_t38_offer(&sl, offer, sizeof(offer), err, sizeof(err)) != 0) {
			t38media_ops.free(m);
			map_give(l, map);
			m = NULL;
		}
	}
	pthread_mutex_lock(&l->lock);
	if (m == NULL) {
		log_warnx("trunk %s: call %u: no re-INVITE to T.38: %s", l->t.name, s->id, err);
		s->t38 = T38_REFUSED;
	} else if (s->t38 == T38_OFFERING) {
		s->t38m = m;
		s->t38map = map;
		s->t38adv = adv;
		snprintf(s->t38offer, sizeof(s->t38offer), "%s", offer);
		s->t38 = T38_OFFERED;
		log_info("trunk %s: call %u: fax tones heard: re-INVITE to T.38", l->t.name, s->id);
		t38_send(l, s);
	}
	pthread_mutex_unlock(&l->lock);
}

struct t38_retry {
	struct sipline *l;
	unsigned        id;
};

/* After a 491, the wait of RFC 3261 14.1 is over: our re-INVITE once more. */
static void
on_t38_retry(evutil_socket_t fd, short what, void *arg)
{
	struct t38_retry *r = arg;
	struct slot *s;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&r->l->lock);
	if ((s = slot_find(r->l, r->id)) != NULL && s->t38 == T38_WAIT && s->running &&
	    s->final == 0) {
		s->t38 = T38_OFFERED;
		t38_send(r->l, s);
	}
	pthread_mutex_unlock(&r->l->lock);
	free(r);
}

/* The answer to our re-INVITE (the loop's thread): T.38 taken, the switch handed over; a
 * 491 tried again once after RFC 3261's wait (2.1 to 4 s when the call is ours, else up to
 * 2 s); anything else leaves the call on G.711. */
static void
on_reinvited(struct sipline *l, const struct sipua_event *ev)
{
	struct sdp_local sl;
	struct sdp_t38 ours, agreed;
	struct media_peer peer;
	char err[200];
	struct slot *s;
	void *drop = NULL;
	int dropmap = -1;

	t38_ours(l, &ours);
	pthread_mutex_lock(&l->lock);
	if ((s = slot_find(l, ev->call)) == NULL || s->t38 != T38_OFFERED) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	if (ev->status >= 200 && ev->status < 300) {
		t38_local(l, s->session_id, &s->t38adv, &ours, &sl);
		if (!s->running)
			snprintf(err, sizeof(err), "the fax engine ended meanwhile");
		else if (sdp_read_answer_t38(ev->sdp, &sl, &peer, &agreed, err, sizeof(err)) == 0 &&
		    t38_start(l, s->t38m, &peer, &agreed, err, sizeof(err)) == 0) {
			t38_hand_over(s, s->t38m, s->t38map, &agreed, s->t38offer);
			pthread_mutex_unlock(&l->lock);
			log_info("trunk %s: call %u: the far end took T.38: version %d at %u bit/s",
			    l->t.name, ev->call, agreed.version, agreed.max_bit_rate ?
			    agreed.max_bit_rate : 14400);
			return;
		}
		/* the far end switched and we cannot: the fax fails on G.711 and is retried */
		log_warnx("trunk %s: call %u: the far end's answer to our re-INVITE to T.38: %s",
		    l->t.name, ev->call, err);
	} else if (ev->status == 491 && s->t38_tries < 2) {
		struct t38_retry *r = malloc(sizeof(*r));
		struct timeval tv;
		long ms = s->calling ? 2100 + random() % 1901 : random() % 2001;

		if (r != NULL) {
			r->l = l;
			r->id = s->id;
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (ms % 1000) * 1000;
			if (event_base_once(l->base, -1, EV_TIMEOUT, on_t38_retry, r, &tv) == 0) {
				s->t38 = T38_WAIT;
				pthread_mutex_unlock(&l->lock);
				log_info("trunk %s: call %u: re-INVITE to T.38 crossed one of the far "
				    "end's (491): again in %ld ms", l->t.name, ev->call, ms);
				return;
			}
			free(r);
		}
	} else {
		log_info("trunk %s: call %u: re-INVITE to T.38 refused (%s): the fax goes on in "
		    "G.711", l->t.name, ev->call, ev->reason);
	}
	s->t38 = T38_REFUSED;
	drop = s->t38m;
	dropmap = s->t38map;
	s->t38m = NULL;
	s->t38map = -1;
	pthread_mutex_unlock(&l->lock);
	t38media_ops.free(drop);
	map_give(l, dropmap);
}

/* ---- the loop's side: what the user agent reports ---- */

static void
on_incoming(struct sipline *l, const struct sipua_event *ev)
{
	const char *user = l->attached ? l->host.number_user(l->host.arg, ev->to) : NULL;
	struct line_incoming in;
	struct slot *s;
	char err[64];

	if (user == NULL) {
		/* not one of ours: refused, nothing filed */
		log_info("trunk %s: call from %s to %s refused (404): not one of this server's "
		    "numbers", l->t.name, ev->from, ev->to);
		(void)sipua_answer(l->ua, ev->call, 404, NULL, err, sizeof(err));
		return;
	}
	pthread_mutex_lock(&l->lock);
	s = slot_take(l, ev->call);
	if (s != NULL) {
		s->incoming = 1;
		snprintf(s->number, sizeof(s->number), "%s", ev->to);
		snprintf(s->user, sizeof(s->user), "%s", user);
		snprintf(s->from, sizeof(s->from), "%s", ev->from);
		snprintf(s->sdp, sizeof(s->sdp), "%s", ev->sdp);
	}
	pthread_mutex_unlock(&l->lock);
	memset(&in, 0, sizeof(in));
	in.number = ev->to;
	in.user = user;
	in.from = ev->from;
	in.token = s;
	if (s == NULL || l->host.incoming(l->host.arg, l, &in) != 0) {
		log_info("trunk %s: call from %s to %s refused (486): every channel is busy",
		    l->t.name, ev->from, ev->to);
		(void)sipua_answer(l->ua, ev->call, 486, NULL, err, sizeof(err));
		if (s != NULL)
			slot_free(l, s);
		return;
	}
	pthread_mutex_lock(&l->lock);
	s->taken = 1;
	pthread_mutex_unlock(&l->lock);
	log_info("trunk %s: call from %s to %s for user=%s", l->t.name, ev->from[0] ?
	    ev->from : "an unknown caller", ev->to, user);
}

/* The trunk's registration came or went: the host keeps it for the operator's status. */
static void
tell_standing(struct sipline *l, int up, const char *words)
{
	if (l->attached && l->host.standing)
		l->host.standing(l->host.arg, l, up, words);
}

static void
on_event(const struct sipua_event *ev, void *arg)
{
	struct sipline *l = arg;
	struct slot *s;
	char words[SIPUA_REASON_MAX + SIPUA_CONTACT_MAX + 32];

	switch (ev->kind) {
	case SIPUA_REGISTERED:
		if (!l->registered || strcmp(l->contact, ev->contact) != 0) {
			log_info("trunk %s: registered with %s as %s for %u s", l->t.name,
			    l->t.registrar, ev->contact, ev->expires);
			snprintf(words, sizeof(words), "registered as %s", ev->contact);
			tell_standing(l, 1, words);
		}
		snprintf(l->contact, sizeof(l->contact), "%s", ev->contact);
		l->registered = 1;
		return;
	case SIPUA_REG_FAILED:
		log_warnx("trunk %s: registration with %s failed: %s; next try in %u s",
		    l->t.name, l->t.registrar, ev->reason, ev->retry_in);
		snprintf(words, sizeof(words), "%s; next try in %u s", ev->reason, ev->retry_in);
		tell_standing(l, 0, words);
		l->registered = 0;
		return;
	case SIPUA_STRANGER:
		log_warnx("trunk %s: %s", l->t.name, ev->reason);
		return;
	case SIPUA_CALL_INCOMING:
		on_incoming(l, ev);
		return;
	case SIPUA_CALL_REINVITE:
		on_reinvite(l, ev);
		return;
	case SIPUA_CALL_REINVITED:
		on_reinvited(l, ev);
		return;
	default:
		break;
	}
	pthread_mutex_lock(&l->lock);
	if ((s = slot_find(l, ev->call)) != NULL) {
		switch (ev->kind) {
		case SIPUA_CALL_PROGRESS:
			s->progress = ev->status;
			if (ev->sdp[0] && !s->incoming && !s->answered) {
				snprintf(s->sdp, sizeof(s->sdp), "%s", ev->sdp);
				s->early = 1;
			}
			break;
		case SIPUA_CALL_ANSWERED:
			s->answered = 1;
			if (ev->sdp[0] && !s->incoming)
				snprintf(s->sdp, sizeof(s->sdp), "%s", ev->sdp);
			break;
		case SIPUA_CALL_FAILED:
			s->final = ev->status > 0 ? ev->status : 500;
			snprintf(s->reason, sizeof(s->reason), "%s", ev->reason);
			atomic_store(&s->hangup, 1);
			break;
		case SIPUA_CALL_ENDED:
			s->final = -1;
			snprintf(s->reason, sizeof(s->reason), "%s", ev->reason);
			atomic_store(&s->hangup, 1);
			break;
		}
		pthread_cond_broadcast(&l->cond);
	}
	pthread_mutex_unlock(&l->lock);
}

/* ---- the worker's side ---- */

/* A failed INVITE's status as a line outcome. */
static void
outcome_of(int status, const char *reason, const char *number, struct line_result *r,
           int *rc)
{
	*rc = 0;
	switch (status) {
	case 486: case 600:
		r->outcome = LINE_BUSY;
		snprintf(r->words, sizeof(r->words), "busy (%s)", reason);
		return;
	case 408: case 480:
		r->outcome = LINE_NO_ANSWER;
		snprintf(r->words, sizeof(r->words), "no answer (%s)", reason);
		return;
	case 404: case 484: case 604:
		r->outcome = LINE_NO_SUCH_NUMBER;
		snprintf(r->words, sizeof(r->words), "number %s is not in service (%s)", number,
		    reason);
		return;
	default:
		break;
	}
	if (status >= 500 && status < 600) {
		/* the provider's trouble, or the far end's: worth another try later */
		*rc = -1;
		snprintf(r->words, sizeof(r->words), "the provider could not place it (%s)", reason);
		return;
	}
	r->outcome = LINE_REFUSED;
	snprintf(r->words, sizeof(r->words), "refused by the network (%s)", reason);
}

/* A mapped RTP port no call uses, taken: its index, or -1 when none is mapped and free. */
static int
map_take(struct sipline *l, struct sockaddr_storage *adv)
{
	int got = -1;

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < l->nmaps && got < 0; i++)
		if (l->maps[i].mapped && !l->maps[i].in_use) {
			struct addrinfo hints, *ai = NULL;

			memset(&hints, 0, sizeof(hints));
			hints.ai_flags = AI_NUMERICHOST;
			hints.ai_family = AF_INET;
			hints.ai_socktype = SOCK_DGRAM;
			if (getaddrinfo(l->maps[i].ext_addr, NULL, &hints, &ai) != 0)
				continue;
			memcpy(adv, ai->ai_addr, ai->ai_addrlen);
			((struct sockaddr_in *)adv)->sin_port = htons(l->maps[i].ext_port);
			freeaddrinfo(ai);
			l->maps[i].in_use = 1;
			got = i;
		}
	pthread_mutex_unlock(&l->lock);
	return got;
}

static void
map_give(struct sipline *l, int i)
{
	if (i < 0)
		return;
	pthread_mutex_lock(&l->lock);
	l->maps[i].in_use = 0;
	pthread_mutex_unlock(&l->lock);
}

/* The call's media: a socket in the trunk's RTP range, and our side of the SDP. With portmap,
 * the socket takes a port the router forwards and the SDP gives the router's external
 * address and port; only when none is mapped (yet) does it give our own. *map is the mapped
 * port's index, or -1. */
static void *
media_new(struct sipline *l, struct sdp_local *sl, struct sockaddr_storage *adv, int *map,
          char *err, size_t errlen)
{
	struct rtpaudio_opts ro = { 0 };
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	void *m;

	ro.bind_addr = l->t.listen;
	ro.port_min = (int)l->t.rtp_min;
	ro.port_max = (int)l->t.rtp_max;
	ro.depth_ms = (int)l->t.jitter_buffer;
	if ((*map = map_take(l, adv)) >= 0)
		ro.port_min = ro.port_max = l->maps[*map].port;
	if ((m = rtpaudio_new(&ro, err, errlen)) == NULL) {
		map_give(l, *map);
		*map = -1;
		return NULL;
	}
	if (rtpaudio_ops.local(m, &local, &len) != 0) {
		snprintf(err, errlen, "cannot read the media socket's address");
		rtpaudio_ops.free(m);
		map_give(l, *map);
		*map = -1;
		return NULL;
	}
	if (*map < 0) {
		*adv = l->advert;
		if (adv->ss_family == AF_INET)
			((struct sockaddr_in *)adv)->sin_port =
			    ((struct sockaddr_in *)&local)->sin_port;
		else
			((struct sockaddr_in6 *)adv)->sin6_port =
			    ((struct sockaddr_in6 *)&local)->sin6_port;
	}
	memset(sl, 0, sizeof(*sl));
	sl->addr = (const struct sockaddr *)adv;
	sl->addrlen = adv->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	sl->codecs = l->t.codec_list;
	sl->ncodecs = l->t.ncodecs;
	sl->session_id = (unsigned long long)time(NULL);
	sl->version = __atomic_add_fetch(&l->sdp_version, 1, __ATOMIC_RELAXED);
	return m;
}

static void
media_free(struct sipline *l, void *m, int map)
{
	rtpaudio_ops.free(m);
	map_give(l, map);
}

static const char *
codec_name(int codec)
{
	return codec == MEDIA_PCMA ? "PCMA" : codec == MEDIA_PCMU ? "PCMU" : "?";
}

/* One line on what a call's media carried, logged when its fax ends: when a fax fails,
 * this says whether the far end's packets stopped coming, came from elsewhere (a NAT that
 * changed its port), or were lost on the way. */
static void
log_media(const struct sipline *l, const struct slot *s, const char *what,
          const struct media_ops *ops, void *m)
{
	struct media_stats st;

	ops->stats(m, &st);
	log_info("trunk %s: call %u: %s: %llu packets sent, %llu received, %llu lost, %llu late, "
	    "%llu from other addresses, %llu malformed%s%s", l->t.name, s->id, what,
	    (unsigned long long)st.sent, (unsigned long long)st.received,
	    (unsigned long long)st.lost, (unsigned long long)st.late,
	    (unsigned long long)st.strangers, (unsigned long long)st.malformed,
	    st.latched ? ", latched to the port the far end's NAT chose" : "",
	    st.keepalives ? ", keepalives sent until the far end's first packet" : "");
}

/* Runs the fax on started media; the far end's hangup flag stops it. 0, or -1 when the fax
 * engine could not start (r->words says why). */
static int
run_fax(struct sipline *l, struct slot *s, void *m, const struct line_call *c, int calling,
        const char *rx, struct line_result *r)
{
	struct faxcall_media_opts fo = { 0 };
	void *t38m;
	int rc, t38map, direct, hungup;
	char tag[96];

	snprintf(tag, sizeof(tag), "trunk %s call %u", l->t.name, s->id);
	fo.ops = &rtpaudio_ops;
	fo.media = m;
	/* a call whose offer and answer agreed T.38 runs on it from the start */
	pthread_mutex_lock(&l->lock);
	if ((direct = s->t38 == T38_ON)) {
		fo.ops = &t38media_ops;
		fo.media = s->t38m;
		fo.t38 = s->sw.t38;
	}
	pthread_mutex_unlock(&l->lock);
	fo.calling = calling;
	fo.tx_tiff = c->tx_tiff;
	fo.first_page = c->first_page;
	fo.rx_tiff = rx;
	fo.ident = c->caller_id;
	fo.page_header = c->page_header;
	fo.log_tag = tag;
	fo.ecm = l->ecm;
	fo.abort = c->abort;
	fo.hangup = &s->hangup;
	fo.progress = c->progress;
	fo.arg = c->arg;
	/* T.38: the far end's re-INVITE (any mode but off) or ours on the fax tones (reinvite,
	 * offer) hands the engine a switch through the slot */
	if (!direct && strcmp(l->t.t38, "off") != 0)
		fo.to = &s->sw;
	if (!direct && (strcmp(l->t.t38, "reinvite") == 0 || strcmp(l->t.t38, "offer") == 0)) {
		fo.tones = t38_offer;
		fo.tones_arg = s;
	}
	pthread_mutex_lock(&l->lock);
	s->running = 1;
	pthread_mutex_unlock(&l->lock);
	rc = faxcall_media_run(&fo, &r->fax);
	pthread_mutex_lock(&l->lock);
	s->running = 0;
	t38m = s->t38m;
	t38map = s->t38map;
	s->t38m = NULL;
	s->t38map = -1;
	hungup = atomic_load(&s->hangup);
	pthread_mutex_unlock(&l->lock);
	if (!direct)
		log_media(l, s, "G.711", &rtpaudio_ops, m);
	if (t38m != NULL && (direct || r->fax.switched))
		log_media(l, s, "T.38", &t38media_ops, t38m);
	if (hungup && r->fax.completion != 0)
		log_info("trunk %s: call %u: the far end hung up before the fax was through",
		    l->t.name, s->id);
	if (t38m != NULL) {
		if (!r->fax.switched && !direct)
			log_info("trunk %s: call %u: the fax ended on G.711 before the switch to "
			    "T.38 was taken", l->t.name, s->id);
		t38media_ops.free(t38m);
		map_give(l, t38map);
	}
	if (rc < 0) {
		snprintf(r->words, sizeof(r->words), "the fax engine: %s", r->fax.reason);
		return -1;
	}
	r->outcome = LINE_CONNECTED;
	snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
	return 0;
}

/* Ringing is over, or an early answer came that the media has not started on. */
static int
ring_changed(const struct slot *s, void *arg)
{
	const int *tried = arg;

	return s->answered || s->final != 0 || (s->early && !*tried);
}

/* Waits (the lock held) for the answer, a final failure, the ring timeout or an abort: 1
 * when answered. Meanwhile an early answer (a 183 or 180 with SDP) starts the media at once
 * towards it: we send silence, so that the NATs on the way open and a far end that latches
 * finds us, and drop what comes in (ring-back, an announcement), which is not for the fax
 * engine: it starts at the 200. *early: 1 once the media started, with *peer where. */
static int
ring(struct sipline *l, struct slot *s, void *m, const struct sdp_local *sl,
     const struct line_call *c, int *early, struct media_peer *peer)
{
	struct timespec now, end;
	uint8_t frame[MEDIA_FRAME_BYTES];
	char sdp[SIPUA_SDP_MAX], err[200];
	int tried = 0, quiet = 0;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += l->t.ring_timeout;
	*early = 0;
	for (;;) {
		if (s->answered || s->final != 0)
			return s->answered;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((c->abort && atomic_load(c->abort)) || now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return 0;
		if (s->early && !tried) {
			snprintf(sdp, sizeof(sdp), "%s", s->sdp);
			pthread_mutex_unlock(&l->lock);
			if (sdp_read_answer(sdp, sl, peer, err, sizeof(err)) == 0 &&
			    rtpaudio_ops.start(m, peer, err, sizeof(err)) == 0)
				log_info("trunk %s: call %u rings with early media (%d): media started "
				    "towards it", l->t.name, s->id, s->progress);
			else
				log_warnx("trunk %s: call %u: the early answer's media: %s; media "
				    "starts at the answer", l->t.name, s->id, err);
			pthread_mutex_lock(&l->lock);
			tried = 1;              /* once is enough: a later 18x changes nothing */
			*early = rtpaudio_ops.codec(m) != 0;
			continue;
		}
		if (!*early || quiet) {
			(void)wait_for(l, s, ring_changed, &tried, TICK_MS, c->abort);
			continue;
		}
		/* one 20 ms step of early media, the lock released */
		pthread_mutex_unlock(&l->lock);
		memset(frame, peer->codec == MEDIA_PCMA ? 0xD5 : 0xFF, sizeof(frame));
		if (rtpaudio_ops.step(m, c->abort) != 0)
			quiet = 1;              /* the socket failed: the answer finds out */
		(void)rtpaudio_ops.send(m, frame, sizeof(frame));
		(void)rtpaudio_ops.recv(m, frame, sizeof(frame));
		pthread_mutex_lock(&l->lock);
	}
}

/* Frees a UDPTL media not handed to a slot. */
static void
t38_drop(struct sipline *l, void *m, int map)
{
	t38media_ops.free(m);
	map_give(l, map);
}

#define PLACE_AUDIO 1             /* place_call: the T.38 offer was refused; try audio */

/* Places the call and runs the fax on it: with t38, the offer is T.38 alone (t38 = offer),
 * and a refusal of it (488, 606, 415) says PLACE_AUDIO. */
static int
place_call(struct sipline *l, const struct line_call *c, struct line_result *r, int t38)
{
	struct sockaddr_storage adv, t38adv;
	struct sdp_local sl, tsl;
	struct sdp_t38 ours, agreed;
	void *t38m = NULL;
	int t38map = -1;
	struct media_peer peer, early_peer;
	char dial[SIPUA_NUMBER_MAX], offer[SDP_TEXT_MAX], err[200], reason[SIPUA_REASON_MAX];
	char sdp[SIPUA_SDP_MAX];
	struct slot *s;
	unsigned id = 0;
	void *m;
	int rc, status, answered, map = -1, early = 0;

	memset(r, 0, sizeof(*r));
	if (trunk_dial_string(&l->t, c->number, dial, sizeof(dial), err, sizeof(err)) != 0) {
		r->outcome = LINE_NO_SUCH_NUMBER;
		snprintf(r->words, sizeof(r->words), "%s", err);
		return 0;
	}
	if ((m = media_new(l, &sl, &adv, &map, err, sizeof(err))) == NULL) {
		snprintf(r->words, sizeof(r->words), "trunk %s: %s", l->t.name, err);
		return -1;
	}
	if (t38) {
		t38_ours(l, &ours);
		if ((t38m = t38_media_new(l, &t38adv, &t38map, err, sizeof(err))) != NULL) {
			t38_local(l, sl.session_id, &t38adv, &ours, &tsl);
			if (sdp_t38_offer(&tsl, offer, sizeof(offer), err, sizeof(err)) != 0) {
				t38_drop(l, t38m, t38map);
				t38m = NULL;
			}
		}
		if (t38m == NULL) {
			log_warnx("trunk %s: no T.38 offer (%s): the call offers audio", l->t.name,
			    err);
			media_free(l, m, map);
			return PLACE_AUDIO;
		}
	} else if (sdp_offer(&sl, offer, sizeof(offer), err, sizeof(err)) != 0) {
		snprintf(r->words, sizeof(r->words), "trunk %s: %s", l->t.name, err);
		media_free(l, m, map);
		return -1;
	}
	/* The slot is taken under the lock the events are delivered under: none is missed
	 * between the INVITE's queueing and the slot. */
	pthread_mutex_lock(&l->lock);
	if ((s = slot_take(l, 0)) == NULL)
		snprintf(err, sizeof(err), "no call slot free");
	else if (sipua_call(l->ua, dial, offer, &id, err, sizeof(err)) != 0) {
		s->used = 0;
		s = NULL;
	}
	if (s == NULL) {
		pthread_mutex_unlock(&l->lock);
		snprintf(r->words, sizeof(r->words), "trunk %s: %s", l->t.name, err);
		media_free(l, m, map);
		if (t38m != NULL)
			t38_drop(l, t38m, t38map);
		return -1;
	}
	s->id = id;
	s->calling = 1;
	s->session_id = sl.session_id;
	snprintf(s->local, sizeof(s->local), "%s", offer);
	snprintf(s->number, sizeof(s->number), "%s", dial);
	log_debug("trunk %s: calling %s (call %u)", l->t.name, dial, id);
	answered = ring(l, s, m, &sl, c, &early, &early_peer);
	status = s->final;
	snprintf(reason, sizeof(reason), "%s", s->reason);
	snprintf(sdp, sizeof(sdp), "%s", s->sdp);
	pthread_mutex_unlock(&l->lock);
	if (!answered) {
		int aborted = c->abort && atomic_load(c->abort);

		end_call(l, s, c->abort);
		media_free(l, m, map);
		if (t38m != NULL)
			t38_drop(l, t38m, t38map);
		if (t38m != NULL && !aborted && (status == 488 || status == 606 ||
		    status == 415)) {
			log_info("trunk %s: call to %s: the T.38 offer was refused (%s): calling "
			    "again with audio", l->t.name, dial, reason);
			return PLACE_AUDIO;
		}
		if (status > 0 && !aborted) {
			outcome_of(status, reason, c->number, r, &rc);
			return rc;
		}
		r->outcome = LINE_NO_ANSWER;
		snprintf(r->words, sizeof(r->words), aborted ? "hung up while it rang" :
		    "no answer within %lld s", l->t.ring_timeout);
		return 0;
	}
	if (t38m != NULL) {
		/* the far end took T.38 from the start */
		if (sdp_read_answer_t38(sdp, &tsl, &peer, &agreed, err, sizeof(err)) != 0 ||
		    t38_start(l, t38m, &peer, &agreed, err, sizeof(err)) != 0) {
			log_warnx("trunk %s: call to %s: the far end's T.38 answer: %s", l->t.name,
			    dial, err);
			end_call(l, s, c->abort);
			media_free(l, m, map);
			t38_drop(l, t38m, t38map);
			r->outcome = LINE_REFUSED;
			snprintf(r->words, sizeof(r->words), "the far end answered with media we "
			    "cannot use (%s)", err);
			return 0;
		}
		pthread_mutex_lock(&l->lock);
		t38_hand_over(s, t38m, t38map, &agreed, offer);
		pthread_mutex_unlock(&l->lock);
		log_info("trunk %s: call to %s answered, T.38 version %d at %u bit/s, %s",
		    l->t.name, dial, agreed.version, agreed.max_bit_rate ? agreed.max_bit_rate :
		    14400, ec_name(agreed.ec));
		rc = run_fax(l, s, m, c, 1, NULL, r);
		end_call(l, s, c->abort);
		media_free(l, m, map);
		return rc;
	}
	/* the 200's answer wins over an early one: the media is started again towards it, and
	 * what the early media brought is dropped */
	if (sdp_read_answer(sdp, &sl, &peer, err, sizeof(err)) != 0 ||
	    (early ? rtpaudio_ops.restart(m, &peer, err, sizeof(err)) :
	    rtpaudio_ops.start(m, &peer, err, sizeof(err))) != 0) {
		log_warnx("trunk %s: call to %s: the far end's media answer: %s", l->t.name, dial,
		    err);
		end_call(l, s, c->abort);
		media_free(l, m, map);
		r->outcome = LINE_REFUSED;
		snprintf(r->words, sizeof(r->words), "the far end answered with media we cannot "
		    "use (%s)", err);
		return 0;
	}
	log_info("trunk %s: call to %s answered, G.711 %s%s", l->t.name, dial,
	    codec_name(peer.codec), !early ? "" : peer.addrlen == early_peer.addrlen &&
	    memcmp(&peer.addr, &early_peer.addr, peer.addrlen) == 0 && peer.codec ==
	    early_peer.codec ? " (the early media's)" : " (media moved from the early "
	    "answer's to the answer's)");
	rc = run_fax(l, s, m, c, 1, NULL, r);
	end_call(l, s, c->abort);
	media_free(l, m, map);
	return rc;
}

static int
sipline_call(void *line, const struct line_call *c, struct line_result *r)
{
	struct sipline *l = line;
	int rc = PLACE_AUDIO;

	if (strcmp(l->t.t38, "offer") == 0)
		rc = place_call(l, c, r, 1);
	return rc == PLACE_AUDIO ? place_call(l, c, r, 0) : rc;
}

static int
sipline_answer(void *line, void *token, const struct line_call *c, struct line_result *r)
{
	struct sipline *l = line;
	struct slot *s = token;
	struct sockaddr_storage adv;
	struct sdp_local sl;
	struct media_peer peer;
	struct sockaddr_storage t38adv;
	struct sdp_t38 ours, agreed;
	char answer[SDP_TEXT_MAX], err[200], rx[PATH_MAX];
	void *m, *t38m = NULL;
	int fd, acked, map = -1, t38map = -1, rc;

	memset(r, 0, sizeof(*r));
	if ((m = media_new(l, &sl, &adv, &map, err, sizeof(err))) == NULL) {
		(void)sipua_answer(l->ua, s->id, 503, NULL, err, sizeof(err));
		snprintf(r->words, sizeof(r->words), "trunk %s: %s", l->t.name, err);
		end_call(l, s, c->abort);
		return -1;
	}
	/* an offer of T.38 (alone, or beside audio) is answered T.38 unless the trunk's is
	 * off */
	if (strcmp(l->t.t38, "off") != 0 && offers_image(s->sdp)) {
		if ((t38m = t38_media_new(l, &t38adv, &t38map, err, sizeof(err))) == NULL)
			log_warnx("trunk %s: call from %s: no UDPTL socket (%s): T.38 not taken",
			    l->t.name, s->from, err);
		else {
			t38_ours(l, &ours);
			sl.t38 = &ours;
			sl.t38_addr = (const struct sockaddr *)&t38adv;
			sl.t38_addrlen = t38adv.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6);
		}
	}
	rc = t38m != NULL ? sdp_answer_t38(s->sdp, &sl, &peer, &agreed, answer, sizeof(answer),
	    err, sizeof(err)) : sdp_answer(s->sdp, &sl, &peer, answer, sizeof(answer), err,
	    sizeof(err));
	if (rc == 0 && t38m != NULL && peer.codec != MEDIA_T38) {
		t38_drop(l, t38m, t38map);      /* audio was taken */
		t38m = NULL;
	}
	if (rc != 0) {
		char e2[64];

		if (t38m != NULL)
			t38_drop(l, t38m, t38map);
		log_warnx("trunk %s: call from %s to %s refused (488): %s", l->t.name, s->from,
		    s->number, err);
		(void)sipua_answer(l->ua, s->id, 488, NULL, e2, sizeof(e2));
		snprintf(r->words, sizeof(r->words), "the caller's media offer: %s", err);
		end_call(l, s, c->abort);
		media_free(l, m, map);
		return -1;
	}
	pthread_mutex_lock(&l->lock);
	s->session_id = sl.session_id;
	snprintf(s->local, sizeof(s->local), "%s", answer);
	pthread_mutex_unlock(&l->lock);
	if (sipua_answer(l->ua, s->id, 200, answer, err, sizeof(err)) != 0) {
		snprintf(r->words, sizeof(r->words), "trunk %s: %s", l->t.name, err);
		end_call(l, s, c->abort);
		media_free(l, m, map);
		if (t38m != NULL)
			t38_drop(l, t38m, t38map);
		return -1;
	}
	pthread_mutex_lock(&l->lock);
	acked = wait_for(l, s, is_answered_or_final, NULL, ACK_WAIT_S * 1000L, c->abort) &&
	    s->answered && s->final == 0;
	pthread_mutex_unlock(&l->lock);
	if (!acked || (t38m != NULL ? t38_start(l, t38m, &peer, &agreed, err, sizeof(err)) :
	    rtpaudio_ops.start(m, &peer, err, sizeof(err))) != 0) {
		snprintf(r->words, sizeof(r->words), "%s", !acked ? "the caller went before the "
		    "call was set up" : err);
		end_call(l, s, c->abort);
		media_free(l, m, map);
		if (t38m != NULL)
			t38_drop(l, t38m, t38map);
		return -1;
	}
	if (t38m != NULL) {
		/* run_fax runs it on T.38, and frees it */
		pthread_mutex_lock(&l->lock);
		t38_hand_over(s, t38m, t38map, &agreed, answer);
		pthread_mutex_unlock(&l->lock);
	}
	snprintf(rx, sizeof(rx), "%s/recv-XXXXXX", c->rx_dir ? c->rx_dir : "/tmp");
	if ((fd = mkstemp(rx)) < 0) {
		snprintf(r->words, sizeof(r->words), "cannot create the file to receive into: %s",
		    strerror(errno));
		pthread_mutex_lock(&l->lock);
		t38m = s->t38m;
		t38map = s->t38map;
		s->t38m = NULL;
		pthread_mutex_unlock(&l->lock);
		end_call(l, s, c->abort);
		media_free(l, m, map);
		if (t38m != NULL)
			t38_drop(l, t38m, t38map);
		return -1;
	}
	close(fd);
	if (t38m != NULL)
		log_info("trunk %s: answered the call from %s to %s, T.38 version %d at %u bit/s, "
		    "%s", l->t.name, s->from[0] ? s->from : "an unknown caller", s->number,
		    agreed.version, agreed.max_bit_rate ? agreed.max_bit_rate : 14400,
		    ec_name(agreed.ec));
	else
		log_info("trunk %s: answered the call from %s to %s, G.711 %s", l->t.name,
		    s->from[0] ? s->from : "an unknown caller", s->number, codec_name(peer.codec));
	snprintf(r->received_by, sizeof(r->received_by), "%s", s->user);
	snprintf(r->rx_tiff, sizeof(r->rx_tiff), "%s", rx);
	if (run_fax(l, s, m, c, 0, rx, r) != 0) {
		end_call(l, s, c->abort);
		media_free(l, m, map);
		unlink(rx);
		r->rx_tiff[0] = '\0';
		return -1;
	}
	end_call(l, s, c->abort);
	media_free(l, m, map);
	return 0;
}

/* What the router said of one RTP port's mapping (on the loop thread). */
static void
on_map(const struct portmap_event *ev, void *arg)
{
	struct rtpmap *mp = arg;
	struct sipline *l = mp->l;

	pthread_mutex_lock(&l->lock);
	if (ev->kind == PORTMAP_MAPPED) {
		mp->mapped = 1;
		snprintf(mp->ext_addr, sizeof(mp->ext_addr), "%s", ev->ext_addr);
		mp->ext_port = ev->ext_port;
	} else if (ev->kind == PORTMAP_LOST || ev->kind == PORTMAP_FAILED) {
		mp->mapped = 0;
	}
	pthread_mutex_unlock(&l->lock);
	if (ev->kind == PORTMAP_MAPPED)
		log_info("trunk %s: the router (%s) forwards UDP %s port %u to RTP port %u",
		    l->t.name, strcmp(ev->proto, "natpmp") == 0 ? "NAT-PMP" : "UPnP", ev->ext_addr,
		    ev->ext_port, mp->port);
	else if (ev->kind == PORTMAP_LOST || ev->kind == PORTMAP_FAILED)
		log_warnx("trunk %s: RTP port %u is not mapped on the router: %s; calls offer this "
		    "host's own address meanwhile", l->t.name, mp->port, ev->why);
}

/* The SIP port's mapping is the contact: the provider sends INVITEs to the router's
 * external address and that port, which reach us with or without a NAT binding. While it
 * is not mapped the contact is the address the registrar sees (rport, keepalives). */
static void
sip_contact(struct sipline *l)
{
	char err[SIPUA_ERR_MAX];

	if (l->ua != NULL && sipua_set_contact(l->ua, l->sipmap.mapped ? l->sipmap.ext_addr :
	    NULL, l->sipmap.mapped ? l->sipmap.ext_port : 0, err, sizeof(err)) != 0)
		log_warnx("trunk %s: the SIP contact: %s", l->t.name, err);
}

/* What the router said of the SIP port's mapping (on the loop thread, as l->ua's calls are). */
static void
on_sipmap(const struct portmap_event *ev, void *arg)
{
	struct sipline *l = arg;
	struct rtpmap *mp = &l->sipmap;
	const char *tp = strcmp(l->t.transport, "udp") == 0 ? "UDP" : "TCP";
	int was = mp->mapped, changed;

	if (ev->kind == PORTMAP_MAPPED) {
		changed = !was || mp->ext_port != ev->ext_port || strcmp(mp->ext_addr,
		    ev->ext_addr) != 0;
		pthread_mutex_lock(&l->lock);
		mp->mapped = 1;
		snprintf(mp->ext_addr, sizeof(mp->ext_addr), "%s", ev->ext_addr);
		mp->ext_port = ev->ext_port;
		pthread_mutex_unlock(&l->lock);
		if (!changed)
			return;
		log_info("trunk %s: the router (%s) forwards %s %s port %u to SIP port %u: the "
		    "contact registered is %s:%u", l->t.name, strcmp(ev->proto, "natpmp") == 0 ?
		    "NAT-PMP" : "UPnP", tp, ev->ext_addr, ev->ext_port, mp->port, ev->ext_addr,
		    ev->ext_port);
		sip_contact(l);
	} else if (ev->kind == PORTMAP_LOST || ev->kind == PORTMAP_FAILED) {
		pthread_mutex_lock(&l->lock);
		mp->mapped = 0;
		pthread_mutex_unlock(&l->lock);
		if (was || ev->kind == PORTMAP_FAILED)
			log_warnx("trunk %s: SIP port %u (%s) is not mapped on the router: %s; the "
			    "contact registered is the address the registrar sees (rport), held by "
			    "keepalives", l->t.name, mp->port, tp, ev->why);
		if (was)
			sip_contact(l);
	}
}

/* portmap on: the SIP port kept mapped (UDP or TCP, as the transport is), unless its number
 * is that of a mapping of the other protocol to this host: Debian's miniupnpd 2.3.1 removes
 * neither of a TCP and a UDP mapping of one port number cleanly. */
static int
start_sipmap(struct sipline *l, struct event_base *base, const char *host, char *err,
             size_t errlen)
{
	struct portmap_service_options po = { 0 };
	int udp = strcmp(l->t.transport, "udp") == 0;
	char desc[PORTMAP_DESC_MAX];
	long clash = 0;

	if (udp && l->pcp_mapped_port == l->t.port)
		clash = l->pcp_mapped_port;
	for (int i = 0; !udp && i < l->nmaps; i++)
		if (l->maps[i].port == l->t.port)
			clash = l->t.port;
	if (clash) {
		log_warnx("trunk %s: SIP port %lld (%s) is not mapped on the router: the router "
		    "already forwards %s port %ld to this host (%s), and a TCP and a UDP mapping of "
		    "one port number cannot both be removed again on some routers (miniupnpd "
		    "2.3.1); give the trunk another port. The contact registered is the address the "
		    "registrar sees (rport)", l->t.name, l->t.port, udp ? "UDP" : "TCP",
		    udp ? "TCP" : "UDP", clash, udp ? "the server's PCP port" : "an RTP port");
		return 0;
	}
	l->sipmap.l = l;
	l->sipmap.port = (uint16_t)l->t.port;
	snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " SIP %s %.20s", l->t.name, host);
	po.protocols = l->t.portmap;
	po.transport = udp ? "udp" : "tcp";
	po.int_port = l->sipmap.port;
	/* any external port will do: the contact says which */
	po.alternatives = PORTMAP_ALT_TRIES;
	po.lease = MAP_LEASE_S;
	po.desc = desc;
	if ((l->sipmap.svc = portmap_service_new(base, &po, on_sipmap, l)) == NULL) {
		snprintf(err, errlen, "trunk %s: cannot start the SIP port's mapping", l->t.name);
		return -1;
	}
	log_info("trunk %s: asking the router to forward SIP port %u (%s) to this host",
	    l->t.name, l->sipmap.port, udp ? "UDP" : "TCP");
	return 0;
}

/* portmap on: one RTP port per channel kept mapped, each by a mapping service of its own,
 * and the SIP port. With t38 on, two per channel: a call's switch to T.38 opens its UDPTL
 * socket while its RTP socket still holds the first, and the SDP's image stream must give
 * a port the router forwards, as its audio does. */
static int
start_maps(struct sipline *l, struct event_base *base, char *err, size_t errlen)
{
	char host[64] = "";

	if (strcmp(l->t.portmap, "off") == 0)
		return 0;
	gethostname(host, sizeof(host) - 1);
	l->nmaps = (int)l->t.channels * (strcmp(l->t.t38, "off") != 0 ? 2 : 1);
	if (l->nmaps > MAPS_MAX)
		l->nmaps = MAPS_MAX;
	for (int i = 0; i < l->nmaps; i++) {
		struct portmap_service_options po = { 0 };
		struct rtpmap *mp = &l->maps[i];
		char desc[PORTMAP_DESC_MAX];

		mp->l = l;
		mp->port = (uint16_t)(l->t.rtp_min + (l->t.rtp_min & 1) + 2 * i);
		snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " RTP %s %.20s %d", l->t.name, host,
		    i + 1);
		po.protocols = l->t.portmap;
		po.transport = "udp";
		po.int_port = mp->port;
		/* any external port will do: the SDP says which */
		po.alternatives = PORTMAP_ALT_TRIES;
		po.lease = MAP_LEASE_S;
		po.desc = desc;
		if ((mp->svc = portmap_service_new(base, &po, on_map, mp)) == NULL) {
			snprintf(err, errlen, "trunk %s: cannot start the port mapping", l->t.name);
			return -1;
		}
	}
	log_info("trunk %s: asking the router to forward RTP ports %u-%u (UDP) to this host",
	    l->t.name, l->maps[0].port, l->maps[l->nmaps - 1].port);
	return start_sipmap(l, base, host, err, errlen);
}

static void
sipline_drop(void *line, void *token)
{
	struct sipline *l = line;
	struct slot *s = token;
	char err[64];

	(void)sipua_answer(l->ua, s->id, 503, NULL, err, sizeof(err));
	slot_free(l, s);
}

static int
sipline_attach(void *line, const struct line_host *host, char *err, size_t errlen)
{
	struct sipline *l = line;

	(void)err;
	(void)errlen;
	l->host = *host;
	l->attached = 1;
	return 0;
}

static const char *
sipline_own_user(void *line, const char *number)
{
	(void)line;
	(void)number;
	return NULL;            /* our own numbers are the software line's to answer */
}

static long
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000L + (b->tv_nsec - a->tv_nsec) / 1000000L;
}

/* Each mapping's worker and the SIP thread each take a round trip or two, waiting at most a
 * few seconds when the router or the registrar does not answer: begun together, not in turn.
 * The SIP port's own mapping stays until the un-REGISTER is done (free): it goes out and its
 * answer comes back through it. */
static void
sipline_stop(void *line)
{
	struct sipline *l = line;

	if (l == NULL)
		return;
	for (int i = 0; i < l->nmaps; i++)
		portmap_service_stop(l->maps[i].svc);
	sipua_stop(l->ua);
}

static void
sipline_free(void *line)
{
	struct sipline *l = line;
	struct timespec t0, tm, tu, t1;
	int was_registered, unreg;

	if (l == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	was_registered = l->registered;
	sipline_stop(l);
	for (int i = 0; i < l->nmaps; i++)
		portmap_service_free(l->maps[i].svc);    /* removes the mapping from the router */
	clock_gettime(CLOCK_MONOTONIC, &tm);
	unreg = sipua_free(l->ua);                   /* un-REGISTERs, through the mapping */
	clock_gettime(CLOCK_MONOTONIC, &tu);
	if (l->sipmap.svc)
		portmap_service_free(l->sipmap.svc);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("trunk %s: stopping: media mappings %ld ms, SIP %ld ms, SIP mapping %ld ms",
	    l->t.name, ms_between(&t0, &tm), ms_between(&tm, &tu), ms_between(&tu, &t1));
	/* Said so that a slow stop can be told apart: a registrar that did not answer leaves
	 * the contact until it expires, and the trunk's calls fail there meanwhile. */
	if (!was_registered)
		log_info("trunk %s: stopped in %ld ms (was not registered)", l->t.name,
		    ms_between(&t0, &t1));
	else if (unreg >= 200 && unreg < 300)
		log_info("trunk %s: un-REGISTERed, stopped in %ld ms", l->t.name,
		    ms_between(&t0, &t1));
	else
		log_warnx("trunk %s: the registrar did not confirm the un-REGISTER (%s); it keeps "
		    "the contact until it expires, stopped in %ld ms", l->t.name,
		    unreg ? "refused" : "no answer", ms_between(&t0, &t1));
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l->slots);
	free(l);
}

int
sipline_registered(void *line)
{
	return ((struct sipline *)line)->registered;
}

/* The address our SDP advertises: the listen address, or when that is a wildcard, the one
 * this host sends from towards the registrar (what a connected UDP socket is given). */
static int
find_advert(struct sipline *l, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char host[256], *colon;
	const char *port = "5060";
	int fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(l->t.listen, NULL, &hints, &ai) != 0) {
		snprintf(err, errlen, "%s: listen: '%s' is not a numeric address", l->t.path,
		    l->t.listen);
		return -1;
	}
	memcpy(&l->advert, ai->ai_addr, ai->ai_addrlen);
	l->advert_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!((l->advert.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&l->advert)->sin_addr.s_addr == htonl(INADDR_ANY)) ||
	    (l->advert.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&l->advert)->sin6_addr))))
		return 0;
	/* "host", "host:port", "[v6]:port" */
	if (l->t.registrar[0] == '[') {
		snprintf(host, sizeof(host), "%s", l->t.registrar + 1);
		if ((colon = strchr(host, ']')) != NULL) {
			*colon = '\0';
			if (colon[1] == ':')
				port = l->t.registrar + (colon - host) + 3;
		}
	} else {
		snprintf(host, sizeof(host), "%s", l->t.registrar);
		if ((colon = strchr(host, ':')) != NULL && colon == strrchr(host, ':')) {
			*colon = '\0';
			port = strchr(l->t.registrar, ':') + 1;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_family = l->advert.ss_family;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: registrar '%s': %s", l->t.path, l->t.registrar,
		    gai_strerror(rc));
		return -1;
	}
	rc = -1;
	if ((fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0) {
		l->advert_len = sizeof(l->advert);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&l->advert, &l->advert_len) == 0)
			rc = 0;
		close(fd);
	}
	freeaddrinfo(ai);
	if (rc != 0)
		snprintf(err, errlen, "%s: no route to the registrar %s: %s", l->t.path,
		    l->t.registrar, strerror(errno));
	return rc;
}

void *
sipline_new(struct event_base *base, const struct sipline_opts *o, char *err, size_t errlen)
{
	struct sipline *l = calloc(1, sizeof(*l));
	struct sipua_options so = { 0 };
	pthread_condattr_t ca;
	char tls_dir[TRUNK_PATH_MAX + 64];

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->t = *o->trunk;
	l->base = base;
	l->ecm = o->ecm;
	l->pcp_mapped_port = o->pcp_mapped_port;
	/* a call that ends can hold its slot while its successor starts: twice the channels */
	l->nslots = (int)l->t.channels * 2;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((l->slots = calloc((size_t)l->nslots, sizeof(*l->slots))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (find_advert(l, err, errlen) != 0 || start_maps(l, base, err, errlen) != 0)
		goto fail;
	so.registrar = l->t.registrar;
	so.user = l->t.user;
	so.domain = l->t.domain[0] ? l->t.domain : NULL;
	so.password_file = l->t.password_file;
	so.transport = l->t.transport;
	so.bind_addr = l->t.listen;
	so.bind_port = (uint16_t)l->t.port;
	so.expires = (unsigned)l->t.expires;
	so.keepalive = (unsigned)l->t.keepalive;
	so.caller_id = l->t.caller_id;
	so.peers = l->t.peers;
	so.tls_ca = l->t.tls_ca;
	so.tls_verify = strcmp(l->t.tls_verify, "yes") == 0;
	so.tls_cert = l->t.tls_cert;
	so.tls_key = l->t.tls_key;
	snprintf(tls_dir, sizeof(tls_dir), "%s/trunk-%s.tls", o->state_dir ? o->state_dir : ".",
	    l->t.name);
	so.tls_dir = tls_dir;
	so.reinvites = 1;            /* answered here: T.38, and session refreshes */
	if ((l->ua = sipua_new(base, &so, on_event, l, err, errlen)) == NULL) {
		char why[SIPUA_ERR_MAX];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "trunk %s (%s): %s", l->t.name, l->t.path, why);
		goto fail;
	}
	if (l->sipmap.mapped)
		sip_contact(l);                  /* mapped before the user agent started */
	log_info("trunk %s: %s to %s as %s, %lld channel%s, %s%s%s", l->t.name, l->t.transport,
	    l->t.registrar, l->t.user, l->t.channels, l->t.channels == 1 ? "" : "s",
	    l->t.ncodecs == 2 ? "PCMA and PCMU" : codec_name(l->t.codec_list[0]),
	    l->t.route[0] ? ", route " : "", l->t.route);
	return l;
fail:
	sipline_free(l);
	return NULL;
}

const struct line_ops sipline_ops = {
	.name = "sip",
	.call = sipline_call,
	.free = sipline_free,
	.own_number_user = sipline_own_user,
	.attach = sipline_attach,
	.answer = sipline_answer,
	.drop = sipline_drop,
	.stop = sipline_stop,
};

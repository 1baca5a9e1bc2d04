/* natpmp.c: the NAT-PMP backend, the only file that talks to libnatpmp (20150609). Three
 * things the library does not do are done here: waits are bounded (its own schedule gives up
 * only after about 128 s), a reply must be as long as its kind, and it must match its request
 * (type and private port). */
#include "portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

/* Debian builds libnatpmp with strnatpmperr(); the header hides it behind this switch. */
#define ENABLE_STRNATPMPERR 1
#include <natpmp.h>

#include "natpmp_reply.h"

#define NATPMP_WAIT_MS 2000      /* per request */

struct npmp {
	natpmp_t n;
	char     lan[PORTMAP_ADDR_MAX];
	uint32_t ext;            /* the external address last reported */
	/* A router that restarted, and so lost our mappings, reports an epoch that went down. */
	struct natpmp_epoch epoch;
	long     lease;          /* what the router granted last, for refreshes */
};

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* RFC 6886 3.6: the epoch must have advanced by at least 7/8 of the time that passed here
 * (less 2 s of slack); less means the router lost its state. */
int
natpmp_epoch_went_down(struct natpmp_epoch *e, uint32_t epoch, time_t now)
{
	int down = 0;

	if (e->have) {
		/* A clock that went back counts as no time passed. */
		uint64_t passed = now > e->at ? (uint64_t)(now - e->at) : 0;
		uint64_t expect = (uint64_t)e->epoch + passed * 7 / 8;
		down = (uint64_t)epoch + 2 < expect;
	}
	e->epoch = epoch;
	e->at = now;
	e->have = 1;
	return down;
}

static int
epoch_went_down(struct npmp *p, uint32_t epoch)
{
	return natpmp_epoch_went_down(&p->epoch, epoch, mono_now());
}

static long
ms_since(const struct timeval *t0)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_usec - t0->tv_usec) / 1000L;
}

/* libnatpmp reads a reply into 16 bytes without looking at how many came, so the rest of a
 * short datagram would be whatever an earlier reply left there. The length is measured
 * first (peeked: the datagram stays for the library) and a short one is taken off the socket
 * here: 0, or NATPMP_REPLY_SHORT or the error the library would have reported. */
static int
reply_short(int s)
{
	uint8_t b[16];
	ssize_t n = recv(s, b, sizeof(b), MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	size_t need = 8;         /* version, opcode, result, epoch: what every reply has */

	if (n < 0) {
		/* Reading takes a pending error (an ICMP port unreachable) off the socket: say
		 * what the library would have said about it. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return errno == ECONNREFUSED ? NATPMP_ERR_NOGATEWAYSUPPORT : NATPMP_ERR_RECVFROM;
	}
	if (n >= 4 && b[2] == 0 && b[3] == 0)          /* success: the answer follows */
		need = b[1] == 128 ? 12 : b[1] == 129 || b[1] == 130 ? 16 : 8;
	if ((size_t)n >= need)
		return 0;
	(void)recv(s, b, sizeof(b), MSG_DONTWAIT);
	return NATPMP_REPLY_SHORT;
}

/* The library accepts any reply as the answer: it must be of the type asked for, for our
 * private port, and a mapping made must have a port and a lease (port 0 would be registered
 * with the server as "no SCP", and lifetime 0 is NAT-PMP's word for "deleted"). */
static int
reply_answers(const natpmpresp_t *r, const struct natpmp_want *want)
{
	if (r->type != want->type)
		return 0;
	if (want->type == NATPMP_RESPTYPE_PUBLICADDRESS)
		return 1;
	if (r->pnu.newportmapping.privateport != want->int_port)
		return 0;
	return want->lifetime == 0 ||
	    (r->pnu.newportmapping.mappedpublicport != 0 && r->pnu.newportmapping.lifetime != 0);
}

int
natpmp_reply_read(natpmp_t *n, const struct natpmp_want *want, int wait_ms, natpmpresp_t *r)
{
	struct timeval t0;
	int rc, mismatched = 0;

	gettimeofday(&t0, NULL);
	for (;;) {
		fd_set fds;
		struct timeval tv;
		long left = wait_ms - ms_since(&t0);

		if (left <= 0)
			return mismatched ? NATPMP_REPLY_MISMATCH : NATPMP_ERR_NOGATEWAYSUPPORT;
		if (getnatpmprequesttimeout(n, &tv) != 0)
			return NATPMP_ERR_NOPENDINGREQ;
		if (tv.tv_sec * 1000L + tv.tv_usec / 1000L > left) {
			tv.tv_sec = left / 1000;
			tv.tv_usec = (left % 1000) * 1000;
		}
		FD_ZERO(&fds);
		FD_SET(n->s, &fds);
		if (select(n->s + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			return NATPMP_ERR_RECVFROM;
		if ((rc = reply_short(n->s)) != 0)
			return rc;
		rc = readnatpmpresponseorretry(n, r);
		if (rc == 0 && !reply_answers(r, want)) {
			/* Most often the late second answer to an earlier request the library
			 * sent twice (a router slow under load): not ours, so keep waiting for
			 * ours, within the same time. The library forgot its request on
			 * reading a reply: it is still pending, and still resent on time. */
			mismatched = 1;
			n->has_pending_request = 1;
			continue;
		}
		if (rc != NATPMP_TRYAGAIN)
			return rc;
	}
}

/* The library resends a request every 250 ms and so may get two answers; one left over would
 * be read as the answer to the next request. Take what is queued before sending. */
static void
drain(struct npmp *p)
{
	char buf[64];

	for (int i = 0; i < 16 && recv(p->n.s, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
}

static const char *
result_text(int rc)
{
	switch (rc) {
	case NATPMP_ERR_NOGATEWAYSUPPORT: return "no NAT-PMP answer from the router";
	case NATPMP_ERR_UNSUPPORTEDVERSION: return "the router speaks another NAT-PMP version";
	case NATPMP_ERR_UNSUPPORTEDOPCODE: return "the router does not support this request";
	case NATPMP_ERR_NOTAUTHORIZED: return "the router refused (not authorised)";
	case NATPMP_ERR_NETWORKFAILURE:
		/* miniupnpd answers this when its own WAN address is private: double NAT. */
		return "the router has no usable external address (another NAT upstream?)";
	case NATPMP_ERR_OUTOFRESOURCES: return "the router is out of mappings";
	case NATPMP_REPLY_MISMATCH: return "the router's reply did not answer the request";
	case NATPMP_REPLY_SHORT: return "the router's reply was cut short";
	default: return strnatpmperr(rc);
	}
}

static void
npmp_close(void *state)
{
	struct npmp *p = state;

	if (p == NULL)
		return;
	closenatpmp(&p->n);
	free(p);
}

/* Our address towards the gateway: what the router maps to. */
static void
local_addr(struct npmp *p)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(p->n.s, (struct sockaddr *)&sa, &len) == 0)
		inet_ntop(AF_INET, &sa.sin_addr, p->lan, sizeof(p->lan));
}

static int
npmp_discover(void **state, int timeout_ms, struct portmap_gateway *gw, char *err,
    size_t errlen)
{
	struct npmp *p = calloc(1, sizeof(*p));
	struct natpmp_want want = { NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0 };
	natpmpresp_t r;
	struct in_addr g;
	int rc;

	*state = NULL;
	memset(gw, 0, sizeof(*gw));
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = initnatpmp(&p->n, 0, 0)) != 0) {
		snprintf(err, errlen, "NAT-PMP: %s", rc == NATPMP_ERR_CANNOTGETGATEWAY ?
		    "no default gateway" : strnatpmperr(rc));
		free(p);
		return -1;
	}
	g.s_addr = p->n.gateway;
	inet_ntop(AF_INET, &g, gw->gateway, sizeof(gw->gateway));
	sendpublicaddressrequest(&p->n);
	rc = natpmp_reply_read(&p->n, &want, timeout_ms, &r);
	local_addr(p);
	snprintf(gw->lan_addr, sizeof(gw->lan_addr), "%s", p->lan);
	if (rc == NATPMP_ERR_NETWORKFAILURE) {
		/* The router is there but has no usable WAN address: keep it, report why. */
		gw->ext_class = PORTMAP_ADDR_PRIVATE;
		snprintf(gw->detail, sizeof(gw->detail), "NAT-PMP router %s: %s", gw->gateway,
		    result_text(rc));
		*state = p;
		return 0;
	}
	if (rc != 0) {
		snprintf(err, errlen, "NAT-PMP at %s: %s", gw->gateway, result_text(rc));
		npmp_close(p);
		return -1;
	}
	inet_ntop(AF_INET, &r.pnu.publicaddress.addr, gw->ext_addr, sizeof(gw->ext_addr));
	p->ext = r.pnu.publicaddress.addr.s_addr;
	epoch_went_down(p, r.epoch);
	gw->ext_class = portmap_classify(gw->ext_addr);
	gw->connected = gw->ext_class == PORTMAP_ADDR_PUBLIC;
	snprintf(gw->detail, sizeof(gw->detail), "NAT-PMP router %s, external address %s (%s)",
	    gw->gateway, gw->ext_addr, portmap_class_name(gw->ext_class));
	*state = p;
	return 0;
}

/* A mapping request (lease 0: a removal) for one transport; the reply must be of the same
 * transport's kind (UDP answers are type 1, TCP ones type 2). */
static int
npmp_request(struct npmp *p, int transport, uint16_t int_port, uint16_t ext_port, long lease,
    natpmpresp_t *r)
{
	int udp = transport == PORTMAP_UDP;
	struct natpmp_want want = { udp ? NATPMP_RESPTYPE_UDPPORTMAPPING :
	    NATPMP_RESPTYPE_TCPPORTMAPPING, int_port, (uint32_t)lease };

	drain(p);
	if (sendnewportmappingrequest(&p->n, udp ? NATPMP_PROTOCOL_UDP : NATPMP_PROTOCOL_TCP,
	    int_port, ext_port, (uint32_t)lease) < 0)
		return NATPMP_ERR_SENDERR;
	return natpmp_reply_read(&p->n, &want, NATPMP_WAIT_MS, r);
}

static int
npmp_add(void *state, int transport, uint16_t int_port, uint16_t ext_port, long lease,
    const char *desc, uint16_t *granted, long *granted_lease, char *err, size_t errlen)
{
	struct npmp *p = state;
	natpmpresp_t r;
	int rc;

	(void)desc;     /* NAT-PMP mappings carry no description */
	rc = npmp_request(p, transport, int_port, ext_port, lease, &r);
	if (rc != 0) {
		snprintf(err, errlen, "NAT-PMP mapping of %sport %u: %s",
		    portmap_transport_word(transport), ext_port, result_text(rc));
		return -1;
	}
	epoch_went_down(p, r.epoch);
	p->lease = (long)r.pnu.newportmapping.lifetime;
	/* NAT-PMP may grant another external port: always report the granted one. */
	*granted = r.pnu.newportmapping.mappedpublicport;
	*granted_lease = (long)r.pnu.newportmapping.lifetime;
	return 0;
}

static int
npmp_remove(void *state, int transport, uint16_t ext_port, uint16_t int_port, char *err,
    size_t errlen)
{
	struct npmp *p = state;
	natpmpresp_t r;
	int rc;

	/* NAT-PMP deletes by private port, for the asking host only: never another's. */
	rc = npmp_request(p, transport, int_port, ext_port, 0, &r);
	if (rc != 0) {
		snprintf(err, errlen, "NAT-PMP removal of %sport %u: %s",
		    portmap_transport_word(transport), ext_port, result_text(rc));
		return -1;
	}
	return 0;
}

static int
npmp_list(void *state, int (*cb)(const struct portmap_mapping *, void *), void *arg, char *err,
    size_t errlen)
{
	(void)state;
	(void)cb;
	(void)arg;
	snprintf(err, errlen, "NAT-PMP cannot list a router's mappings (use UPnP, or the "
	    "router's own pages)");
	return -1;
}

/* NAT-PMP has no query for one mapping; what it has is the epoch (and the external address)
 * in every reply, which is what RFC 6886 says to watch. */
static int
npmp_check(void *state, int transport, uint16_t ext_port, uint16_t int_port, char *err,
    size_t errlen)
{
	struct npmp *p = state;
	struct natpmp_want want = { NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0 };
	natpmpresp_t r;
	int rc;

	drain(p);
	if (sendpublicaddressrequest(&p->n) < 0) {
		snprintf(err, errlen, "NAT-PMP: cannot send to the router");
		return -1;
	}
	rc = natpmp_reply_read(&p->n, &want, NATPMP_WAIT_MS, &r);
	if (rc != 0) {
		snprintf(err, errlen, "NAT-PMP: %s", result_text(rc));
		return -1;
	}
	if (epoch_went_down(p, r.epoch))
		return 0;              /* restarted: our mapping went with its old table */
	if (r.pnu.publicaddress.addr.s_addr != p->ext)
		return 0;              /* a new external address: map again and report it */
	/* A restart the epoch cannot prove (the router had been up only seconds) may still
	 * have cost us the mapping: asking for it again is one packet, and harmless. */
	rc = npmp_request(p, transport, int_port, ext_port, p->lease > 0 ? p->lease : 3600, &r);
	if (rc != 0) {
		snprintf(err, errlen, "NAT-PMP: %s", result_text(rc));
		return -1;
	}
	if (epoch_went_down(p, r.epoch) || r.pnu.newportmapping.mappedpublicport != ext_port)
		return 0;
	return 1;
}

const struct portmap_ops portmap_natpmp_ops = {
	"natpmp", npmp_discover, npmp_add, npmp_remove, npmp_list, npmp_check, npmp_close
};

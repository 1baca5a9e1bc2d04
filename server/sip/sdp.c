/* sdp.c: the session descriptions of a fax call, offer and answer (RFC 3264), read and written
 * with sofia-sip's SDP parser and printer; the only file that sees sofia's SDP structures.
 * G.711 audio over RTP/AVP, and T.38 over UDPTL (m=image udptl t38, T.38 Annex D). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/sdp.h>

#include "sdp.h"

#define NAME_MAX_SHOWN 24             /* a codec or address from the wire, quoted in a reason */

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A word from the wire, made safe to quote in a log line: printable ASCII, cut short. */
static void
shown(char *buf, size_t cap, const char *s)
{
	size_t i = 0;

	if (s == NULL)
		s = "";
	for (; *s != '\0' && i + 4 < cap && i < NAME_MAX_SHOWN; s++)
		buf[i++] = (*s > ' ' && *s < 0x7f) ? *s : '?';
	if (*s != '\0' && i + 4 <= cap) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
}

static const char *
codec_name(int codec)
{
	return codec == MEDIA_PCMA ? "PCMA" : codec == MEDIA_PCMU ? "PCMU" : "?";
}

/* The G.711 codec an rtpmap names (static payload types come with sofia's well-known map),
 * 0 for any other. */
static int
codec_of(const sdp_rtpmap_t *rm)
{
	if (rm->rm_any || rm->rm_encoding == NULL || rm->rm_rate != 8000 ||
	    (rm->rm_params != NULL && strcmp(rm->rm_params, "1") != 0))
		return 0;
	if (strcasecmp(rm->rm_encoding, "PCMU") == 0)
		return MEDIA_PCMU;
	if (strcasecmp(rm->rm_encoding, "PCMA") == 0)
		return MEDIA_PCMA;
	return 0;
}

static int
takes(const struct sdp_local *l, int codec)
{
	for (int i = 0; i < l->ncodecs; i++)
		if (l->codecs[i] == codec)
			return 1;
	return 0;
}

/* "PCMA or PCMU", the codecs we take in our order. */
static void
taken_list(const struct sdp_local *l, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < l->ncodecs && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i == 0 ? "" : i + 1 == l->ncodecs ?
		    " or " : ", ", codec_name(l->codecs[i]));
}

/* "G729, telephone-event": what a stream carries, for a reason. */
static void
format_list(const sdp_media_t *m, char *buf, size_t cap)
{
	char name[NAME_MAX_SHOWN + 24];
	size_t n = 0;
	int k = 0;

	buf[0] = '\0';
	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm != NULL && n + 1 < cap; rm = rm->rm_next) {
		if (rm->rm_encoding != NULL && *rm->rm_encoding != '\0') {
			shown(name, sizeof(name), rm->rm_encoding);
			/* the rate where it is not G.711's, cut short with the name */
			if (rm->rm_rate != 8000 && rm->rm_rate != 0)
				snprintf(name + strlen(name), sizeof(name) - strlen(name), "/%lu",
				    rm->rm_rate);
		} else
			snprintf(name, sizeof(name), "payload type %u", (unsigned)rm->rm_pt);
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", k++ ? ", " : "", name);
	}
	for (const sdp_list_t *f = m->m_format; f != NULL && n + 1 < cap; f = f->l_next) {
		shown(name, sizeof(name), f->l_text);
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", k++ ? ", " : "", name);
	}
	if (k == 0)
		snprintf(buf, cap, "nothing");
}

static const char *
mode_name(unsigned mode)
{
	switch (mode) {
	case sdp_inactive: return "inactive";
	case sdp_sendonly: return "sendonly";
	case sdp_recvonly: return "recvonly";
	default:           return "sendrecv";
	}
}

/* Our own T.38, checked: what we would answer or offer must be something we do. */
static int
t38_check(const struct sdp_t38 *t, char *err, size_t errlen)
{
	if (t->version < 0 || t->version > SDP_T38_VERSION_MAX) {
		fail(err, errlen, "T.38 version %d: 0 to %d are taken", t->version,
		    SDP_T38_VERSION_MAX);
		return -1;
	}
	if (t->rate_management != SDP_T38_TRANSFERRED_TCF) {
		fail(err, errlen, "T.38 over UDPTL is carried with transferredTCF only");
		return -1;
	}
	if (t->ec != UDPTL_EC_NONE && t->ec != UDPTL_EC_REDUNDANCY && t->ec != UDPTL_EC_FEC) {
		fail(err, errlen, "T.38 error correction %d is none of none, redundancy, FEC", t->ec);
		return -1;
	}
	if (t->max_datagram > UDPTL_DATAGRAM_MAX || (t->max_datagram != 0 &&
	    t->max_datagram < 8)) {
		fail(err, errlen, "a T38FaxMaxDatagram of %u: 8 to %d are taken", t->max_datagram,
		    UDPTL_DATAGRAM_MAX);
		return -1;
	}
	if (t->fill_bit_removal || t->transcoding_mmr || t->transcoding_jbig) {
		fail(err, errlen, "T.38 fill bit removal and transcoding are not done here");
		return -1;
	}
	return 0;
}

/* One of our addresses, as c= writes it, and its port. */
static int
local_addr(const struct sockaddr *addr, socklen_t addrlen, char *host, size_t hostlen,
           int *family, unsigned *port, char *err, size_t errlen)
{
	if (addr == NULL) {
		fail(err, errlen, "no local media address to advertise");
		return -1;
	}
	*family = addr->sa_family;
	if (*family == AF_INET && addrlen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;

		*port = ntohs(a->sin_port);
		if (a->sin_addr.s_addr == htonl(INADDR_ANY)) {
			fail(err, errlen, "the local media address 0.0.0.0 is no address the far "
			    "end can send to");
			return -1;
		}
		inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hostlen);
	} else if (*family == AF_INET6 && addrlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;

		*port = ntohs(a->sin6_port);
		if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) {
			fail(err, errlen, "the local media address :: is no address the far end "
			    "can send to");
			return -1;
		}
		inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hostlen);
	} else {
		fail(err, errlen, "the local media address is neither IPv4 nor IPv6");
		return -1;
	}
	if (*port == 0) {
		fail(err, errlen, "the local media port is 0");
		return -1;
	}
	return 0;
}

/* Our own address, port and codecs, checked; host is the address as c= writes it. */
static int
local_check(const struct sdp_local *l, char *host, size_t hostlen, int *family, unsigned *port,
            char *err, size_t errlen)
{
	if (l == NULL || l->addr == NULL) {
		fail(err, errlen, "no local media address to advertise");
		return -1;
	}
	if (l->t38 != NULL && t38_check(l->t38, err, errlen) != 0)
		return -1;
	if (l->codecs == NULL || l->ncodecs < 1 || l->ncodecs > SDP_CODECS_MAX) {
		fail(err, errlen, "between 1 and %d codecs are needed, not %d", SDP_CODECS_MAX,
		    l->codecs == NULL ? 0 : l->ncodecs);
		return -1;
	}
	for (int i = 0; i < l->ncodecs; i++) {
		if (l->codecs[i] != MEDIA_PCMA && l->codecs[i] != MEDIA_PCMU) {
			fail(err, errlen, "codec %d is not an audio codec (PCMA or PCMU)",
			    l->codecs[i]);
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (l->codecs[j] == l->codecs[i]) {
				fail(err, errlen, "codec %s is listed twice", codec_name(l->codecs[i]));
				return -1;
			}
	}
	return local_addr(l->addr, l->addrlen, host, hostlen, family, port, err, errlen);
}

/* Where we take UDPTL: t38_addr, or the audio's address. */
static int
local_t38(const struct sdp_local *l, char *host, size_t hostlen, int *family, unsigned *port,
          char *err, size_t errlen)
{
	int rtp_family = l->addr != NULL ? l->addr->sa_family : AF_UNSPEC;

	if (l->t38 == NULL) {
		fail(err, errlen, "T.38 is not carried on this line");
		return -1;
	}
	if (t38_check(l->t38, err, errlen) != 0)
		return -1;
	if (l->t38_addr == NULL)
		return local_addr(l->addr, l->addrlen, host, hostlen, family, port, err, errlen);
	if (local_addr(l->t38_addr, l->t38_addrlen, host, hostlen, family, port, err, errlen) != 0)
		return -1;
	if (l->addr != NULL && rtp_family != *family) {
		fail(err, errlen, "the local UDPTL address is not of the RTP address's family");
		return -1;
	}
	return 0;
}

/* The far end's address from a c= line, numeric and one it can receive on. */
static int
peer_addr(const sdp_connection_t *c, unsigned long port, int family, const char *what,
          const char *kind, struct media_peer *peer, char *err, size_t errlen)
{
	char name[NAME_MAX_SHOWN + 8];
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;

	if (c == NULL || c->c_address == NULL) {
		fail(err, errlen, "the %s's %s stream has no connection address (c=)", what, kind);
		return -1;
	}
	shown(name, sizeof(name), c->c_address);
	if (c->c_nettype != sdp_net_in) {
		fail(err, errlen, "the %s's media address %s is not an Internet (IN) address", what,
		    name);
		return -1;
	}
	if (c->c_mcast || c->c_ttl != 0 || c->c_groups > 1) {
		fail(err, errlen, "the %s's media address %s is a multicast group: a fax call "
		    "goes to one peer", what, name);
		return -1;
	}
	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (c->c_addrtype == sdp_addr_ip4) {
		if (inet_pton(AF_INET, c->c_address, &a4.sin_addr) != 1) {
			fail(err, errlen, "the %s's media address %s is not a numeric IPv4 address "
			    "(netcfax does not look up host names from the wire)", what, name);
			return -1;
		}
		if (a4.sin_addr.s_addr == htonl(INADDR_ANY)) {
			fail(err, errlen, "the %s's media address is 0.0.0.0 (a call on hold): a new "
			    "fax call needs an address to send to", what);
			return -1;
		}
		if (IN_MULTICAST(ntohl(a4.sin_addr.s_addr)) ||
		    a4.sin_addr.s_addr == htonl(INADDR_BROADCAST)) {
			fail(err, errlen, "the %s's media address %s is a multicast or broadcast "
			    "address: a fax call goes to one peer", what, name);
			return -1;
		}
	} else if (c->c_addrtype == sdp_addr_ip6) {
		if (inet_pton(AF_INET6, c->c_address, &a6.sin6_addr) != 1) {
			fail(err, errlen, "the %s's media address %s is not a numeric IPv6 address "
			    "(netcfax does not look up host names from the wire)", what, name);
			return -1;
		}
		if (IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr)) {
			fail(err, errlen, "the %s's media address is :: (a call on hold): a new fax "
			    "call needs an address to send to", what);
			return -1;
		}
		if (IN6_IS_ADDR_MULTICAST(&a6.sin6_addr)) {
			fail(err, errlen, "the %s's media address %s is a multicast group: a fax call "
			    "goes to one peer", what, name);
			return -1;
		}
	} else {
		fail(err, errlen, "the %s's media address %s is neither IP4 nor IP6", what, name);
		return -1;
	}
	if ((c->c_addrtype == sdp_addr_ip4) != (family == AF_INET)) {
		fail(err, errlen, "the %s's media address %s is %s and this line's %s is %s", what,
		    name, family == AF_INET ? "IPv6" : "IPv4", strcmp(kind, "audio") == 0 ? "RTP" :
		    "UDPTL", family == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	memset(&peer->addr, 0, sizeof(peer->addr));
	if (family == AF_INET) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)port);
		memcpy(&peer->addr, &a4, sizeof(a4));
		peer->addrlen = sizeof(a4);
	} else {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)port);
		memcpy(&peer->addr, &a6, sizeof(a6));
		peer->addrlen = sizeof(a6);
	}
	return 0;
}

/* One audio stream of the far end's SDP: taken (peer filled) when it is RTP/AVP on a port,
 * both ways, with a codec we take at an address we can send to; else -1 and why not. The
 * codec is the first in the stream's own order that we take: in an offer, the offerer's
 * preference; in an answer, the answerer's pick among ours. */
static int
take_stream(const sdp_media_t *m, const struct sdp_local *l, int family, const char *what,
            const char *verb, struct media_peer *peer, char *err, size_t errlen)
{
	char list[160], taken[32], name[NAME_MAX_SHOWN + 8];
	const sdp_rtpmap_t *rm;
	int codec = 0;

	if (m->m_rejected || m->m_port == 0) {
		fail(err, errlen, "the %s's audio stream is refused (port 0)", what);
		return -1;
	}
	if (m->m_proto != sdp_proto_rtp) {
		shown(name, sizeof(name), m->m_proto_name);
		fail(err, errlen, "the %s's audio stream is carried over %s, not RTP/AVP%s", what,
		    name, m->m_proto == sdp_proto_srtp ? " (netcfax does not encrypt media)" : "");
		return -1;
	}
	if (m->m_port > 65535 || m->m_number_of_ports > 1) {
		fail(err, errlen, "the %s's audio stream has port %lu%s: one port of 1 to 65535 is "
		    "needed", what, m->m_port, m->m_number_of_ports > 1 ? " and more" : "");
		return -1;
	}
	for (rm = m->m_rtpmaps; rm != NULL; rm = rm->rm_next)
		if ((codec = codec_of(rm)) != 0 && takes(l, codec))
			break;
	if (rm == NULL) {
		taken_list(l, taken, sizeof(taken));
		format_list(m, list, sizeof(list));
		fail(err, errlen, "the %s has no audio stream in %s (it %s: %s)", what, taken, verb,
		    list);
		return -1;
	}
	if (m->m_mode != sdp_sendrecv) {
		fail(err, errlen, "the %s's audio stream is %s: a fax needs audio both ways", what,
		    mode_name(m->m_mode));
		return -1;
	}
	if (peer_addr(sdp_media_connections(m), m->m_port, family, what, "audio", peer, err,
	    errlen) != 0)
		return -1;
	peer->codec = codec;
	peer->pt = (int)rm->rm_pt;
	return 0;
}

/* A number from an attribute: decimal digits only, at most max. */
static int
t38_number(const char *name, const char *value, unsigned long max, unsigned long *out,
           char *err, size_t errlen)
{
	char shown_value[NAME_MAX_SHOWN + 8];
	unsigned long v = 0;
	const char *c = value;

	shown(shown_value, sizeof(shown_value), value);
	if (c == NULL || *c == '\0') {
		fail(err, errlen, "a=%s has no value", name);
		return -1;
	}
	for (; *c != '\0'; c++) {
		if (*c < '0' || *c > '9') {
			fail(err, errlen, "a=%s:%s is not a number", name, shown_value);
			return -1;
		}
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > max) {
			fail(err, errlen, "a=%s:%s is more than %lu", name, shown_value, max);
			return -1;
		}
	}
	*out = v;
	return 0;
}

/* A flag: there without a value, or 0 or 1 (both are seen). */
static int
t38_flag(const char *name, const char *value, int *out, char *err, size_t errlen)
{
	char shown_value[NAME_MAX_SHOWN + 8];

	if (value == NULL || *value == '\0' || strcmp(value, "1") == 0)
		*out = 1;
	else if (strcmp(value, "0") == 0)
		*out = 0;
	else {
		shown(shown_value, sizeof(shown_value), value);
		fail(err, errlen, "a=%s:%s is neither 0 nor 1", name, shown_value);
		return -1;
	}
	return 0;
}

#define T38_NUMBER_MAX 1000000UL      /* no bit rate, buffer or datagram comes near */

int
sdp_t38_attribute(const char *name, const char *value, struct sdp_t38 *t, char *err,
                  size_t errlen)
{
	char shown_value[NAME_MAX_SHOWN + 8];
	unsigned long v;

	if (name == NULL)
		return 0;
	if (strcasecmp(name, "T38FaxVersion") == 0) {
		if (t38_number(name, value, 255, &v, err, errlen) != 0)
			return -1;
		t->version = (int)v;
	} else if (strcasecmp(name, "T38MaxBitRate") == 0) {
		if (t38_number(name, value, T38_NUMBER_MAX, &v, err, errlen) != 0)
			return -1;
		t->max_bit_rate = (unsigned)v;
	} else if (strcasecmp(name, "T38FaxMaxBuffer") == 0) {
		if (t38_number(name, value, T38_NUMBER_MAX, &v, err, errlen) != 0)
			return -1;
		t->max_buffer = (unsigned)v;
	} else if (strcasecmp(name, "T38FaxMaxDatagram") == 0) {
		if (t38_number(name, value, T38_NUMBER_MAX, &v, err, errlen) != 0)
			return -1;
		t->max_datagram = (unsigned)v;
	} else if (strcasecmp(name, "T38FaxRateManagement") == 0) {
		if (value != NULL && strcasecmp(value, "transferredTCF") == 0)
			t->rate_management = SDP_T38_TRANSFERRED_TCF;
		else if (value != NULL && strcasecmp(value, "localTCF") == 0)
			t->rate_management = SDP_T38_LOCAL_TCF;
		else {
			shown(shown_value, sizeof(shown_value), value);
			fail(err, errlen, "a=T38FaxRateManagement:%s is neither transferredTCF nor "
			    "localTCF", shown_value);
			return -1;
		}
	} else if (strcasecmp(name, "T38FaxUdpEC") == 0) {
		if (value != NULL && strcasecmp(value, "t38UDPRedundancy") == 0)
			t->ec = UDPTL_EC_REDUNDANCY;
		else if (value != NULL && strcasecmp(value, "t38UDPFEC") == 0)
			t->ec = UDPTL_EC_FEC;
		else if (value != NULL && strcasecmp(value, "t38UDPNoEC") == 0)
			t->ec = UDPTL_EC_NONE;
		else {
			shown(shown_value, sizeof(shown_value), value);
			fail(err, errlen, "a=T38FaxUdpEC:%s is neither t38UDPRedundancy nor "
			    "t38UDPFEC", shown_value);
			return -1;
		}
	} else if (strcasecmp(name, "T38FaxFillBitRemoval") == 0)
		return t38_flag(name, value, &t->fill_bit_removal, err, errlen);
	else if (strcasecmp(name, "T38FaxTranscodingMMR") == 0)
		return t38_flag(name, value, &t->transcoding_mmr, err, errlen);
	else if (strcasecmp(name, "T38FaxTranscodingJBIG") == 0)
		return t38_flag(name, value, &t->transcoding_jbig, err, errlen);
	return 0;
}

/* Whether a stream is T.38: m=image <port> udptl t38. */
static int
is_t38(const sdp_media_t *m)
{
	if (m->m_type != sdp_media_image || m->m_proto != sdp_proto_udptl)
		return 0;
	for (const sdp_list_t *f = m->m_format; f != NULL; f = f->l_next)
		if (f->l_text != NULL && strcasecmp(f->l_text, "t38") == 0)
			return 1;
	return 0;
}

/* The far end's image stream: taken (peer and t filled with what it says) when it is T.38
 * on a port, both ways, transferredTCF, at an address we can send to; else -1 and why not. */
static int
take_image(const sdp_media_t *m, int family, const char *what, struct media_peer *peer,
           struct sdp_t38 *t, char *err, size_t errlen)
{
	char why[200];

	if (!is_t38(m)) {
		fail(err, errlen, "the %s's image stream is not T.38 over UDPTL", what);
		return -1;
	}
	if (m->m_rejected || m->m_port == 0) {
		fail(err, errlen, "the %s's T.38 stream is refused (port 0)", what);
		return -1;
	}
	if (m->m_port > 65535 || m->m_number_of_ports > 1) {
		fail(err, errlen, "the %s's T.38 stream has port %lu%s: one port of 1 to 65535 is "
		    "needed", what, m->m_port, m->m_number_of_ports > 1 ? " and more" : "");
		return -1;
	}
	if (m->m_mode != sdp_sendrecv) {
		fail(err, errlen, "the %s's T.38 stream is %s: a fax needs it both ways", what,
		    mode_name(m->m_mode));
		return -1;
	}
	memset(t, 0, sizeof(*t));
	t->rate_management = SDP_T38_TRANSFERRED_TCF;
	for (const sdp_attribute_t *a = m->m_attributes; a != NULL; a = a->a_next)
		if (sdp_t38_attribute(a->a_name, a->a_value, t, why, sizeof(why)) != 0) {
			fail(err, errlen, "the %s's T.38 stream: %s", what, why);
			return -1;
		}
	if (t->rate_management != SDP_T38_TRANSFERRED_TCF) {
		fail(err, errlen, "the %s's T.38 stream asks for localTCF: over UDPTL netcfax "
		    "carries the training check (transferredTCF)", what);
		return -1;
	}
	if (t->max_datagram != 0 && t->max_datagram < 8) {
		fail(err, errlen, "the %s's T.38 stream takes datagrams of %u bytes: too small for "
		    "any IFP", what, t->max_datagram);
		return -1;
	}
	if (peer_addr(sdp_media_connections(m), m->m_port, family, what, "T.38", peer, err,
	    errlen) != 0)
		return -1;
	peer->codec = MEDIA_T38;
	peer->pt = 0;
	return 0;
}

/* Whether an m= line (after "m=", up to end) is <media> <port>[/<n>] <transport> <fmt>...,
 * each a token (the transport with '/' too) and the port digits (RFC 4566). Said before
 * sofia-sip reads the text: its parser (1.12.11) loops, allocating without end, on a format
 * of a stream other than RTP that is no token ("m=image 1 udptl \x80", "m=x 1 y /z",
 * "m=x 1 y \t"). */
static int
media_line_ok(const char *c, const char *end)
{
	static const char token[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-!#$%&'*+.^_`{|}~";
	int word = 0;

	for (;;) {
		const char *w;
		size_t n;

		while (c < end && (*c == ' ' || *c == '\t'))
			c++;
		/* no format at all (RFC 4566 wants one) only without blanks after the
		 * transport: sofia takes a tab left there for a format, and loops again */
		if (c == end)
			return word >= 4 || (word == 3 && end[-1] != ' ' && end[-1] != '\t');
		for (w = c; c < end && *c != ' ' && *c != '\t'; c++)
			;
		n = (size_t)(c - w);
		for (size_t i = 0; i < n; i++) {
			int ok;

			if (word == 1)          /* the port, and the number of ports */
				ok = (w[i] >= '0' && w[i] <= '9') || (w[i] == '/' && i > 0 &&
				    i + 1 < n && memchr(w, '/', i) == NULL);
			else
				ok = (w[i] != '\0' && strchr(token, w[i]) != NULL) ||
				    (word == 2 && w[i] == '/');
			if (!ok)
				return 0;
		}
		word++;
	}
}

/* Every m= line of a text holds only what media_line_ok allows. Lines end at CR or LF and
 * may start with blanks, as sofia reads them. */
static int
media_lines_ok(const char *text)
{
	const char *line = text;

	while (*line != '\0') {
		size_t n = strcspn(line, "\r\n");
		const char *c = line + strspn(line, " \t");

		if (c + 2 <= line + n && c[0] == 'm' && c[1] == '=' &&
		    !media_line_ok(c + 2, line + n))
			return 0;
		line += n;
		line += strspn(line, "\r\n");
	}
	return 1;
}

/* The text of an offer or answer, parsed; NULL with the reason. */
static sdp_session_t *
parse(su_home_t *home, const char *text, const char *what, char *err, size_t errlen)
{
	sdp_parser_t *p;
	sdp_session_t *s;
	size_t n;

	if (text == NULL || *text == '\0') {
		fail(err, errlen, "the %s is empty", what);
		return NULL;
	}
	if ((n = strnlen(text, SDP_TEXT_MAX)) >= SDP_TEXT_MAX) {
		fail(err, errlen, "the %s is longer than %d bytes", what, SDP_TEXT_MAX - 1);
		return NULL;
	}
	if (!media_lines_ok(text)) {
		fail(err, errlen, "the %s is not a valid session description (an m= line is not "
		    "<media> <port> <transport> <formats>, each a token)", what);
		return NULL;
	}
	p = sdp_parse(home, text, (issize_t)n, 0);
	if ((s = sdp_session(p)) == NULL) {
		char why[120];
		const char *e = sdp_parsing_error(p);

		/* sofia's words, cut to a line and kept printable */
		snprintf(why, sizeof(why), "%s", e != NULL ? e : "unknown error");
		for (char *c = why; *c != '\0'; c++)
			if (*c < ' ' || *c >= 0x7f)
				*c = '?';
		fail(err, errlen, "the %s is not a valid session description (%s)", what, why);
		return NULL;
	}
	if (s->sdp_media == NULL) {
		fail(err, errlen, "the %s has no media stream (m=)", what);
		return NULL;
	}
	return s;
}

/* The session around our one stream (o=, s=, c=, t=), printed with the media given. */
static int
print(su_home_t *home, const struct sdp_local *l, const char *host, int family,
      sdp_media_t *media, char *out, size_t cap, const char *what, char *err, size_t errlen)
{
	sdp_connection_t c;
	sdp_origin_t o;
	sdp_time_t t;
	sdp_session_t s;
	sdp_printer_t *pr;
	char buf[SDP_TEXT_MAX];
	const char *text;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.c_size = sizeof(c);
	c.c_nettype = sdp_net_in;
	c.c_addrtype = family == AF_INET ? sdp_addr_ip4 : sdp_addr_ip6;
	c.c_address = host;
	memset(&o, 0, sizeof(o));
	o.o_size = sizeof(o);
	o.o_username = "netcfax";
	o.o_id = l->session_id;
	o.o_version = l->version;
	o.o_address = &c;
	memset(&t, 0, sizeof(t));
	t.t_size = sizeof(t);
	memset(&s, 0, sizeof(s));
	s.sdp_size = sizeof(s);
	s.sdp_origin = &o;
	s.sdp_subject = "netcfax";
	s.sdp_connection = &c;
	s.sdp_time = &t;
	s.sdp_media = media;
	for (sdp_media_t *m = media; m != NULL; m = m->m_next)
		m->m_session = &s;
	/* every rtpmap written out, static ones too, and a=sendrecv said rather than implied:
	 * what we take and that it goes both ways is then plain to any reader of the trace */
	pr = sdp_print(home, &s, buf, sizeof(buf), sdp_f_all_rtpmaps | sdp_f_mode_always);
	if (pr == NULL || sdp_printing_error(pr) != NULL || (text = sdp_message(pr)) == NULL ||
	    (n = strlen(text)) >= cap || n >= SDP_TEXT_MAX) {
		fail(err, errlen, "our %s does not fit in %zu bytes", what,
		    cap < SDP_TEXT_MAX ? cap : (size_t)SDP_TEXT_MAX);
		return -1;
	}
	memcpy(out, text, n + 1);
	return 0;
}

/* Our audio stream: the codecs given (the first is the one we prefer), both ways, 20 ms. */
static sdp_media_t *
audio_media(su_home_t *home, unsigned port, const int *codecs, const int *pts, int n)
{
	sdp_media_t *m = su_zalloc(home, sizeof(*m));
	sdp_attribute_t *ptime = su_zalloc(home, sizeof(*ptime));
	sdp_rtpmap_t **tail;

	if (m == NULL || ptime == NULL)
		return NULL;
	m->m_size = sizeof(*m);
	m->m_type = sdp_media_audio;
	m->m_type_name = "audio";
	m->m_port = port;
	m->m_proto = sdp_proto_rtp;
	m->m_proto_name = "RTP/AVP";
	m->m_mode = sdp_sendrecv;
	tail = &m->m_rtpmaps;
	for (int i = 0; i < n; i++) {
		sdp_rtpmap_t *rm = su_zalloc(home, sizeof(*rm));

		if (rm == NULL)
			return NULL;
		rm->rm_size = sizeof(*rm);
		rm->rm_encoding = codec_name(codecs[i]);
		rm->rm_rate = 8000;
		rm->rm_pt = (unsigned)pts[i] & 0x7f;
		rm->rm_predef = pts[i] < 96;
		*tail = rm;
		tail = &rm->rm_next;
	}
	ptime->a_size = sizeof(*ptime);
	ptime->a_name = "ptime";
	ptime->a_value = "20";
	m->m_attributes = ptime;
	return m;
}

int
sdp_offer(const struct sdp_local *l, char *out, size_t cap, char *err, size_t errlen)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char host[INET6_ADDRSTRLEN];
	int family, pts[SDP_CODECS_MAX], rc = -1;
	unsigned port;
	sdp_media_t *m;

	if (local_check(l, host, sizeof(host), &family, &port, err, errlen) != 0)
		return -1;
	for (int i = 0; i < l->ncodecs; i++)
		pts[i] = l->codecs[i] == MEDIA_PCMA ? 8 : 0;
	if ((m = audio_media(home, port, l->codecs, pts, l->ncodecs)) == NULL)
		fail(err, errlen, "out of memory");
	else
		rc = print(home, l, host, family, m, out, cap, "offer", err, errlen);
	su_home_deinit(home);
	return rc;
}

/* A stream of the offer we refuse: its type and transport again, port 0, one format (RFC
 * 3264 section 6: the formats of a refused stream are ignored, but one must be there). */
static sdp_media_t *
refused_media(su_home_t *home, const sdp_media_t *om)
{
	sdp_media_t *m = su_zalloc(home, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->m_size = sizeof(*m);
	m->m_type = om->m_type;
	m->m_type_name = om->m_type_name;
	m->m_proto = om->m_proto;
	m->m_proto_name = om->m_proto_name;
	m->m_port = 0;
	m->m_rejected = 1;
	if (om->m_rtpmaps != NULL || om->m_format != NULL) {
		sdp_list_t *f = su_zalloc(home, sizeof(*f));

		if (f == NULL)
			return NULL;
		f->l_size = sizeof(*f);
		if (om->m_rtpmaps != NULL)
			f->l_text = om->m_rtpmaps->rm_any ? "0" :
			    su_sprintf(home, "%u", (unsigned)om->m_rtpmaps->rm_pt);
		else
			f->l_text = om->m_format->l_text;
		if (f->l_text == NULL)
			return NULL;
		m->m_format = f;
	}
	return m;
}

/* Our image stream: T.38 over UDPTL at port, both ways, saying t. Attributes with nothing
 * to say (0, none) are left out, as the far ends we have seen do. */
static sdp_media_t *
image_media(su_home_t *home, unsigned port, const struct sdp_t38 *t)
{
	sdp_media_t *m = su_zalloc(home, sizeof(*m));
	sdp_list_t *f = su_zalloc(home, sizeof(*f));
	sdp_attribute_t **tail;
	struct { const char *name; char *value; } a[6];
	int n = 0;

	if (m == NULL || f == NULL)
		return NULL;
	m->m_size = sizeof(*m);
	m->m_type = sdp_media_image;
	m->m_type_name = "image";
	m->m_port = port;
	m->m_proto = sdp_proto_udptl;
	m->m_proto_name = "udptl";
	m->m_mode = sdp_sendrecv;
	f->l_size = sizeof(*f);
	f->l_text = "t38";
	m->m_format = f;
	a[n].name = "T38FaxVersion";
	a[n++].value = su_sprintf(home, "%d", t->version);
	if (t->max_bit_rate != 0) {
		a[n].name = "T38MaxBitRate";
		a[n++].value = su_sprintf(home, "%u", t->max_bit_rate);
	}
	a[n].name = "T38FaxRateManagement";
	a[n++].value = su_strdup(home, "transferredTCF");
	if (t->max_buffer != 0) {
		a[n].name = "T38FaxMaxBuffer";
		a[n++].value = su_sprintf(home, "%u", t->max_buffer);
	}
	if (t->max_datagram != 0) {
		a[n].name = "T38FaxMaxDatagram";
		a[n++].value = su_sprintf(home, "%u", t->max_datagram);
	}
	if (t->ec != UDPTL_EC_NONE) {
		a[n].name = "T38FaxUdpEC";
		a[n++].value = su_strdup(home, udptl_ec_name(t->ec));
	}
	tail = &m->m_attributes;
	for (int i = 0; i < n; i++) {
		sdp_attribute_t *at = su_zalloc(home, sizeof(*at));

		if (at == NULL || a[i].value == NULL)
			return NULL;
		at->a_size = sizeof(*at);
		at->a_name = a[i].name;
		at->a_value = a[i].value;
		*tail = at;
		tail = &at->a_next;
	}
	return m;
}

/* What an answer to the offered T.38 agrees, by T.38 Annex D: the lower version and bit
 * rate, the far end's buffer and datagram (what we may send it), the EC it offered (we do
 * each), and none of fill bit removal or transcoding (we do neither). */
static void
t38_agree(const struct sdp_t38 *ours, const struct sdp_t38 *theirs, struct sdp_t38 *a)
{
	memset(a, 0, sizeof(*a));
	a->version = theirs->version < ours->version ? theirs->version : ours->version;
	if (theirs->max_bit_rate == 0 || ours->max_bit_rate == 0)
		a->max_bit_rate = theirs->max_bit_rate + ours->max_bit_rate;
	else
		a->max_bit_rate = theirs->max_bit_rate < ours->max_bit_rate ?
		    theirs->max_bit_rate : ours->max_bit_rate;
	a->rate_management = SDP_T38_TRANSFERRED_TCF;
	a->max_buffer = theirs->max_buffer;
	a->max_datagram = theirs->max_datagram < UDPTL_DATAGRAM_MAX ? theirs->max_datagram :
	    UDPTL_DATAGRAM_MAX;
	a->ec = theirs->ec;
}

/* A connection line of our own for a stream whose address is not the session's. */
static sdp_connection_t *
own_connection(su_home_t *home, int family, const char *host)
{
	sdp_connection_t *c = su_zalloc(home, sizeof(*c));

	if (c == NULL || (host = su_strdup(home, host)) == NULL)
		return NULL;
	c->c_size = sizeof(*c);
	c->c_nettype = sdp_net_in;
	c->c_addrtype = family == AF_INET ? sdp_addr_ip4 : sdp_addr_ip6;
	c->c_address = host;
	return c;
}

/* The answer to an offer: with want_t38, its first T.38 stream we can take, else its first
 * audio stream we can take; every other stream refused with port 0. */
static int
answer_offer(const char *offer, const struct sdp_local *l, struct media_peer *peer,
             struct sdp_t38 *t38, char *answer, size_t cap, char *err, size_t errlen)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char host[INET6_ADDRSTRLEN], t38host[INET6_ADDRSTRLEN], why[256] = "", t38why[256] = "";
	char types[120] = "";
	int family, t38family = AF_UNSPEC, rc = -1, has_t38 = 0, nstreams = 0;
	int want_t38 = t38 != NULL && l != NULL && l->t38 != NULL;
	unsigned port, t38port = 0;
	sdp_session_t *s;
	sdp_media_t *head = NULL, **tail = &head, *chosen = NULL, *image = NULL;
	struct media_peer p, ip;
	struct sdp_t38 offered, agreed;
	size_t tn = 0;

	if (local_check(l, host, sizeof(host), &family, &port, err, errlen) != 0)
		return -1;
	if (want_t38 && local_t38(l, t38host, sizeof(t38host), &t38family, &t38port, err,
	    errlen) != 0)
		return -1;
	if ((s = parse(home, offer, "offer", err, errlen)) == NULL)
		goto out;
	/* T.38 where we carry it comes first: a fax in T.38 survives what G.711 does not */
	for (sdp_media_t *om = s->sdp_media; want_t38 && om != NULL && image == NULL;
	    om = om->m_next)
		if (is_t38(om) && take_image(om, t38family, "offer", &ip, &offered,
		    t38why[0] ? NULL : t38why, sizeof(t38why)) == 0)
			image = om;
	for (sdp_media_t *om = s->sdp_media; om != NULL; om = om->m_next) {
		sdp_media_t *m = NULL;
		char name[NAME_MAX_SHOWN + 8];

		nstreams++;
		if (om == image) {
			struct sdp_t38 said;

			chosen = om;
			p = ip;
			t38_agree(l->t38, &offered, &agreed);
			/* our answer says our own buffer and datagram: what we take */
			said = agreed;
			said.max_buffer = l->t38->max_buffer;
			said.max_datagram = l->t38->max_datagram;
			if ((m = image_media(home, t38port, &said)) != NULL &&
			    strcmp(t38host, host) != 0 &&
			    (m->m_connections = own_connection(home, t38family, t38host)) == NULL)
				m = NULL;
		} else if (om->m_type == sdp_media_audio && chosen == NULL && image == NULL &&
		    take_stream(om, l, family, "offer", "offered", &p, why[0] ? NULL : why,
		    sizeof(why)) == 0) {
			chosen = om;
			m = audio_media(home, port, &p.codec, &p.pt, 1);
		} else {
			/* T.38 (m=image udptl t38) is recognised, and refused where the line does
			 * not carry it: the caller then stays in audio, or gives up */
			int t = is_t38(om);

			has_t38 |= t;
			if (om->m_type != sdp_media_audio && tn + 1 < sizeof(types)) {
				shown(name, sizeof(name), om->m_type_name);
				tn += (size_t)snprintf(types + tn, sizeof(types) - tn, "%s%s",
				    tn ? ", " : "", t ? "T.38" : name);
			}
			m = refused_media(home, om);
		}
		if (m == NULL) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		*tail = m;
		tail = &m->m_next;
	}
	if (chosen == NULL) {
		if (t38why[0] != '\0' && why[0] != '\0')
			fail(err, errlen, "%s; and %s", t38why, why);
		else if (t38why[0] != '\0')
			fail(err, errlen, "%s", t38why);
		else if (why[0] != '\0')
			fail(err, errlen, "%s", why);
		else if (has_t38)
			fail(err, errlen, "the offer has no audio stream, only T.38 (m=image udptl "
			    "t38), which this line is not set to carry");
		else
			fail(err, errlen, "the offer has no audio stream (it offered: %s)", types);
		goto out;
	}
	rc = print(home, l, host, family, head, answer, cap, "answer", err, errlen);
	if (rc == 0) {
		*peer = p;
		if (t38 != NULL && image != NULL)
			*t38 = agreed;
	}
	if (rc != 0 && nstreams > 1 && err != NULL && strlen(err) + 1 < errlen)
		snprintf(err + strlen(err), errlen - strlen(err), " (the offer has %d streams)",
		    nstreams);
out:
	su_home_deinit(home);
	return rc;
}

int
sdp_answer(const char *offer, const struct sdp_local *l, struct media_peer *peer, char *answer,
           size_t cap, char *err, size_t errlen)
{
	return answer_offer(offer, l, peer, NULL, answer, cap, err, errlen);
}

int
sdp_answer_t38(const char *offer, const struct sdp_local *l, struct media_peer *peer,
               struct sdp_t38 *t38, char *answer, size_t cap, char *err, size_t errlen)
{
	struct sdp_t38 none;

	/* with no T.38 of ours, an answer in audio as sdp_answer gives */
	return answer_offer(offer, l, peer, t38 != NULL ? t38 : &none, answer, cap, err,
	    errlen);
}

int
sdp_t38_offer(const struct sdp_local *l, char *out, size_t cap, char *err, size_t errlen)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char host[INET6_ADDRSTRLEN];
	int family, rc = -1;
	unsigned port;
	sdp_media_t *m;

	if (l == NULL || local_t38(l, host, sizeof(host), &family, &port, err, errlen) != 0)
		return -1;
	if ((m = image_media(home, port, l->t38)) == NULL)
		fail(err, errlen, "out of memory");
	else
		rc = print(home, l, host, family, m, out, cap, "offer", err, errlen);
	su_home_deinit(home);
	return rc;
}

int
sdp_read_answer_t38(const char *answer, const struct sdp_local *l, struct media_peer *peer,
                    struct sdp_t38 *t38, char *err, size_t errlen)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char host[INET6_ADDRSTRLEN], name[NAME_MAX_SHOWN + 8];
	int family, rc = -1;
	unsigned port;
	sdp_session_t *s;
	sdp_media_t *m;
	struct media_peer p;
	struct sdp_t38 said, agreed;

	if (l == NULL || local_t38(l, host, sizeof(host), &family, &port, err, errlen) != 0)
		return -1;
	if ((s = parse(home, answer, "answer", err, errlen)) == NULL)
		goto out;
	m = s->sdp_media;
	if (!is_t38(m)) {
		shown(name, sizeof(name), m->m_type_name);
		fail(err, errlen, "the answer's first stream is %s, not the T.38 we offered", name);
		goto out;
	}
	if (m->m_rejected || m->m_port == 0) {
		fail(err, errlen, "the far end refused T.38 (port 0 in its answer)");
		goto out;
	}
	if (take_image(m, family, "answer", &p, &said, err, errlen) != 0)
		goto out;
	if (said.version > l->t38->version) {
		fail(err, errlen, "the answer says T.38 version %d, above the %d we offered",
		    said.version, l->t38->version);
		goto out;
	}
	t38_agree(l->t38, &said, &agreed);
	*peer = p;
	*t38 = agreed;
	rc = 0;
out:
	su_home_deinit(home);
	return rc;
}

int
sdp_read_answer(const char *answer, const struct sdp_local *l, struct media_peer *peer,
                char *err, size_t errlen)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char host[INET6_ADDRSTRLEN], name[NAME_MAX_SHOWN + 8];
	int family, rc = -1;
	unsigned port;
	sdp_session_t *s;
	sdp_media_t *m;
	struct media_peer p;

	if (local_check(l, host, sizeof(host), &family, &port, err, errlen) != 0)
		return -1;
	if ((s = parse(home, answer, "answer", err, errlen)) == NULL)
		goto out;
	/* the first m= line answers our one audio stream; any more are the far end's mistake,
	 * and harmless */
	m = s->sdp_media;
	if (m->m_type != sdp_media_audio) {
		shown(name, sizeof(name), m->m_type_name);
		fail(err, errlen, "the answer's first stream is %s, not the audio we offered", name);
		goto out;
	}
	if (m->m_rejected || m->m_port == 0) {
		fail(err, errlen, "the far end refused our audio stream (port 0 in its answer)");
		goto out;
	}
	if ((rc = take_stream(m, l, family, "answer", "answered", &p, err, errlen)) == 0)
		*peer = p;
out:
	su_home_deinit(home);
	return rc;
}

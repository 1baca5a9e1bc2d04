/* sdp.h: the session descriptions of a fax call (offer/answer, RFC 3264), read and written
 * with sofia-sip's SDP parser and printer: G.711 audio, and T.38 (m=image udptl t38, its
 * attributes as T.38 Annex D names them). */
#ifndef NETCFAX_SDP_H
#define NETCFAX_SDP_H

#include <stddef.h>
#include <sys/socket.h>

#include "media.h"
#include "udptl.h"

#define SDP_TEXT_MAX 2048             /* the same cap as SIPUA_SDP_MAX: a text, its NUL
                                       * included, fits in this many bytes; a longer one is
                                       * refused whole, never cut */
#define SDP_CODECS_MAX 4              /* codecs in sdp_local, at most */

enum sdp_t38_tcf {                    /* T38FaxRateManagement */
	SDP_T38_TRANSFERRED_TCF = 1,  /* transferredTCF: the training check goes over the wire
	                               * (what UDPTL needs, and all netcfax does) */
	SDP_T38_LOCAL_TCF,            /* localTCF: each gateway makes its own (TCP's) */
};

/* The T.38 of an image stream (m=image PORT udptl t38), as its attributes say. In our own
 * sdp_local: what we carry. From the far end: what its offer or answer says, or, from
 * sdp_answer_t38 and sdp_read_answer_t38, what was agreed. */
struct sdp_t38 {
	int      version;             /* T38FaxVersion (0 when unsaid); agreed: the lower */
	unsigned max_bit_rate;        /* T38MaxBitRate in bit/s (0 unsaid); agreed: the lower */
	int      rate_management;     /* enum sdp_t38_tcf; transferredTCF when unsaid */
	unsigned max_buffer;          /* T38FaxMaxBuffer: bytes the side saying it buffers
	                               * (0 unsaid); agreed: the far end's */
	unsigned max_datagram;        /* T38FaxMaxDatagram: the largest UDPTL datagram the side
	                               * saying it takes (0 unsaid); agreed: the far end's, the
	                               * most we may send it */
	int      ec;                  /* enum udptl_ec, T38FaxUdpEC (none when unsaid) */
	int      fill_bit_removal;    /* T38FaxFillBitRemoval, T38FaxTranscodingMMR, */
	int      transcoding_mmr;     /* T38FaxTranscodingJBIG: offered, or agreed (never by */
	int      transcoding_jbig;    /* netcfax: it does none of them) */
};

#define SDP_T38_VERSION_MAX 3         /* the highest T.38 version there is */

/* What we advertise and take. */
struct sdp_local {
	const struct sockaddr *addr;   /* address and port to advertise in c= and m= (the
	                                * external one where a router mapping exists); numeric
	                                * IPv4 or IPv6, the same family as the RTP socket */
	socklen_t addrlen;
	const int *codecs; int ncodecs;/* enum media_codec we take, in our order of preference
	                                * (MEDIA_PCMA, MEDIA_PCMU); audio codecs only */
	unsigned long long session_id, version;   /* o= line */
	const struct sdp_t38 *t38;     /* T.38 we carry (version, bit rate, our buffer and
	                                * datagram, the EC we offer; transferredTCF), or NULL: an
	                                * offered image stream is refused with port 0 */
	const struct sockaddr *t38_addr;   /* where UDPTL is received (advertised like addr),
	                                    * or NULL: addr */
	socklen_t t38_addrlen;
};

/* Our offer: one audio stream, RTP/AVP, the codecs with rtpmap, a=ptime:20, a=sendrecv.
 * 0, or -1 with the reason (it does not fit in cap, a bad address or codec). */
int sdp_offer(const struct sdp_local *l, char *out, size_t cap, char *err, size_t errlen);

/* The far end's offer (a NUL-terminated text): takes the first audio stream that has a codec
 * we take and goes both ways, with the first such codec in the offerer's order; fills peer and
 * writes our answer (as many m= lines as the offer, each one we refuse with port 0). A stream
 * that is sendonly, recvonly or inactive is refused: a fax needs audio both ways. 0, or -1
 * with the reason in words when nothing fits or the text is malformed (the caller answers
 * 488 and quotes the reason in the log). */
int sdp_answer(const char *offer, const struct sdp_local *l, struct media_peer *peer,
               char *answer, size_t cap, char *err, size_t errlen);

/* The far end's answer to our offer: fills peer from its first m= line, which must be our
 * audio stream accepted both ways with a codec we offered (the first of those in the
 * answer's order). m= lines beyond the first are ignored. 0, or -1 with the reason. */
int sdp_read_answer(const char *answer, const struct sdp_local *l, struct media_peer *peer,
                    char *err, size_t errlen);

/* Our offer to switch to T.38 (a re-INVITE, as T.38 Annex D shows it): one image stream,
 * udptl t38, at t38_addr, with the T.38 of l->t38 (which must be there). Codecs are not
 * looked at. 0, or -1 with the reason. */
int sdp_t38_offer(const struct sdp_local *l, char *out, size_t cap, char *err, size_t errlen);

/* As sdp_answer, but with T.38 taken where l->t38 says we carry it: an image stream (udptl
 * t38, both ways, transferredTCF) is taken before any audio stream, peer gets MEDIA_T38 and
 * the port of UDPTL, and t38 what was agreed; every other stream is refused with port 0.
 * Our answer says the lower version and bit rate, our own buffer and datagram, and the EC
 * offered (netcfax does either). Where no image stream can be taken the audio is, as
 * sdp_answer does (peer->codec then says which). An offer of localTCF is refused in words
 * (the answer could only echo it, and UDPTL needs the training check carried). */
int sdp_answer_t38(const char *offer, const struct sdp_local *l, struct media_peer *peer,
                   struct sdp_t38 *t38, char *answer, size_t cap, char *err, size_t errlen);

/* The far end's answer to our T.38 offer: its first m= line must be our image stream taken
 * both ways; fills peer (MEDIA_T38) and t38 with what was agreed. A version above ours or
 * another rate management than ours is refused. 0, or -1 with the reason. */
int sdp_read_answer_t38(const char *answer, const struct sdp_local *l, struct media_peer *peer,
                        struct sdp_t38 *t38, char *err, size_t errlen);

/* The T.38 attributes of an image stream's a= lines read into t; an attribute that is not
 * T.38's is left alone. 0, or -1 with the reason (a value that is no number, or out of
 * bounds, an unknown rate management or EC). Exposed for the tests and the fuzzer. */
int sdp_t38_attribute(const char *name, const char *value, struct sdp_t38 *t, char *err,
                      size_t errlen);

#endif

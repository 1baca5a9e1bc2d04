/* sdp.h: the session descriptions of a fax call (offer/answer, RFC 3264), read and written
 * with sofia-sip's SDP parser and printer. */
#ifndef NETCFAX_SDP_H
#define NETCFAX_SDP_H

#include <stddef.h>
#include <sys/socket.h>

#include "media.h"

#define SDP_TEXT_MAX 2048             /* the same cap as SIPUA_SDP_MAX: a text, its NUL
                                       * included, fits in this many bytes; a longer one is
                                       * refused whole, never cut */
#define SDP_CODECS_MAX 4              /* codecs in sdp_local, at most */

/* What we advertise and take. */
struct sdp_local {
	const struct sockaddr *addr;   /* address and port to advertise in c= and m= (the
	                                * external one where a router mapping exists); numeric
	                                * IPv4 or IPv6, the same family as the RTP socket */
	socklen_t addrlen;
	const int *codecs; int ncodecs;/* enum media_codec we take, in our order of preference
	                                * (MEDIA_PCMA, MEDIA_PCMU); audio codecs only */
	unsigned long long session_id, version;   /* o= line */
	int t38;                       /* T.38 (m=image udptl t38) taken as well: not yet, must
	                                * be 0; an offered image stream is recognised and refused
	                                * with port 0 */
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

#endif

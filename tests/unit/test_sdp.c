/* test_sdp.c: the session descriptions of a fax call (sdp.c): offers as real equipment writes
 * them (Asterisk, FreeSWITCH, a gateway offering G.729 first, audio with T.38 beside it, IPv6,
 * c= at session or media level, dynamic payload types) answered with one codec and every other
 * stream refused with port 0; malformed or unusable offers refused with the reason in words;
 * and our own offer, answered, read back. T.38: offers as Asterisk, FreeSWITCH and Cisco
 * write them answered from what we carry, T.38 we cannot take refused in words (or the
 * audio beside it taken), our T.38 offer answered and read back. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sdp.h"

static const int alaw_first[] = { MEDIA_PCMA, MEDIA_PCMU };
/* The T.38 a line carries: version 0, up to 14400 bit/s, redundancy offered. */
static const struct sdp_t38 t38_ours = {
	.version = 0, .max_bit_rate = 14400, .rate_management = SDP_T38_TRANSFERRED_TCF,
	.max_buffer = 400, .max_datagram = 400, .ec = UDPTL_EC_REDUNDANCY,
};
static const int alaw_only[] = { MEDIA_PCMA };

static struct sockaddr_in local4;
static struct sockaddr_in6 local6;

static struct sdp_local
local_v4(const int *codecs, int n)
{
	struct sdp_local l;

	memset(&local4, 0, sizeof(local4));
	local4.sin_family = AF_INET;
	local4.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.99", &local4.sin_addr);
	memset(&l, 0, sizeof(l));
	l.addr = (const struct sockaddr *)&local4;
	l.addrlen = sizeof(local4);
	l.codecs = codecs;
	l.ncodecs = n;
	l.session_id = 7;
	l.version = 8;
	return l;
}

static struct sdp_local
local_v6(void)
{
	struct sdp_local l = local_v4(alaw_first, 2);

	memset(&local6, 0, sizeof(local6));
	local6.sin6_family = AF_INET6;
	local6.sin6_port = htons(40002);
	inet_pton(AF_INET6, "2001:db8::99", &local6.sin6_addr);
	l.addr = (const struct sockaddr *)&local6;
	l.addrlen = sizeof(local6);
	return l;
}

/* The peer's address as "a.b.c.d:port" or "[v6]:port". */
static const char *
peer_str(const struct media_peer *p)
{
	static char s[80];
	char a[INET6_ADDRSTRLEN] = "?";

	if (p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *v = (const struct sockaddr_in *)&p->addr;

		inet_ntop(AF_INET, &v->sin_addr, a, sizeof(a));
		snprintf(s, sizeof(s), "%s:%u", a, ntohs(v->sin_port));
		if (p->addrlen != sizeof(*v))
			snprintf(s, sizeof(s), "bad addrlen %u", (unsigned)p->addrlen);
	} else if (p->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v = (const struct sockaddr_in6 *)&p->addr;

		inet_ntop(AF_INET6, &v->sin6_addr, a, sizeof(a));
		snprintf(s, sizeof(s), "[%s]:%u", a, ntohs(v->sin6_port));
		if (p->addrlen != sizeof(*v))
			snprintf(s, sizeof(s), "bad addrlen %u", (unsigned)p->addrlen);
	} else
		snprintf(s, sizeof(s), "family %d", p->addr.ss_family);
	return s;
}

static int
count_lines(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p != NULL && *p != '\0'; ) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		p = strstr(p, "\r\n");
		if (p != NULL)
			p += 2;
	}
	return n;
}

/* Answers offer: 0 and the answer, with the chosen codec, pt and address checked. */
static void
answer_ok(const char *offer, const struct sdp_local *l, int codec, int pt, const char *addr,
          char *answer)
{
	struct media_peer peer;
	char err[256] = "";
	int rc;

	memset(&peer, 0x5a, sizeof(peer));
	rc = sdp_answer(offer, l, &peer, answer, SDP_TEXT_MAX, err, sizeof(err));
	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  refused: %s\n", err);
		answer[0] = '\0';
		return;
	}
	CHECK_INT(peer.codec, codec);
	CHECK_INT(peer.pt, pt);
	CHECK_STR(peer_str(&peer), addr);
	CHECK(strncmp(answer, "v=0\r\n", 5) == 0);
	CHECK(strlen(answer) < SDP_TEXT_MAX);
}

/* Refuses offer, with these words in the reason. */
static void
answer_refused(const char *offer, const struct sdp_local *l, const char *words)
{
	struct media_peer peer;
	char answer[SDP_TEXT_MAX] = "untouched", err[256] = "";

	CHECK_INT(sdp_answer(offer, l, &peer, answer, sizeof(answer), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, words);
}

static const char asterisk[] =
	"v=0\r\n"
	"o=- 1851402335 1851402335 IN IP4 198.51.100.10\r\n"
	"s=Asterisk\r\n"
	"c=IN IP4 198.51.100.10\r\n"
	"t=0 0\r\n"
	"m=audio 17132 RTP/AVP 8 0 101\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=maxptime:150\r\n"
	"a=sendrecv\r\n";

static void
test_asterisk(void)
{
	struct sdp_local l = local_v4(alaw_first, 2);
	char answer[SDP_TEXT_MAX];

	answer_ok(asterisk, &l, MEDIA_PCMA, 8, "198.51.100.10:17132", answer);
	/* the whole answer: one stream, one codec, both ways, 20 ms */
	CHECK_STR(answer,
	    "v=0\r\n"
	    "o=netcfax 7 8 IN IP4 192.0.2.99\r\n"
	    "s=netcfax\r\n"
	    "c=IN IP4 192.0.2.99\r\n"
	    "t=0 0\r\n"
	    "m=audio 40000 RTP/AVP 8\r\n"
	    "a=rtpmap:8 PCMA/8000\r\n"
	    "a=sendrecv\r\n"
	    "a=ptime:20\r\n");
}

/* FreeSWITCH puts PCMU first: the offerer's order wins over ours. Bare LF line ends. */
static void
test_freeswitch(void)
{
	static const char offer[] =
		"v=0\n"
		"o=FreeSWITCH 1701234567 1701234568 IN IP4 203.0.113.5\n"
		"s=FreeSWITCH\n"
		"c=IN IP4 203.0.113.5\n"
		"t=0 0\n"
		"m=audio 23456 RTP/AVP 0 8 101 13\n"
		"a=rtpmap:0 PCMU/8000\n"
		"a=rtpmap:8 PCMA/8000\n"
		"a=rtpmap:101 telephone-event/8000\n"
		"a=fmtp:101 0-16\n"
		"a=rtpmap:13 CN/8000\n"
		"a=ptime:20\n"
		"a=rtcp:23457 IN IP4 203.0.113.5\n";
	struct sdp_local l = local_v4(alaw_first, 2);
	char answer[SDP_TEXT_MAX];

	answer_ok(offer, &l, MEDIA_PCMU, 0, "203.0.113.5:23456", answer);
	CHECK_INT(count_lines(answer, "m="), 1);
	CHECK_CONTAINS(answer, "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
	CHECK(strstr(answer, "telephone-event") == NULL);
	CHECK(strstr(answer, "PCMA") == NULL);
}

/* A gateway (Cisco, AudioCodes) offers G.729 first, then PCMU and telephone-event, with c= at
 * both levels: the media-level one is where the audio goes. Static payload types without
 * rtpmap lines count. */
static void
test_gateway(void)
{
	static const char offer[] =
		"v=0\r\n"
		"o=CiscoSystemsSIP-GW-UserAgent 4021 2893 IN IP4 192.0.2.40\r\n"
		"s=SIP Call\r\n"
		"c=IN IP4 192.0.2.40\r\n"
		"t=0 0\r\n"
		"m=audio 16400 RTP/AVP 18 0 101\r\n"
		"c=IN IP4 192.0.2.41\r\n"
		"a=rtpmap:18 G729/8000\r\n"
		"a=fmtp:18 annexb=no\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=ptime:20\r\n";
	static const char g729_only[] =
		"v=0\r\n"
		"o=AudiocodesGW 1209 567 IN IP4 192.0.2.50\r\n"
		"s=Phone-Call\r\n"
		"c=IN IP4 192.0.2.50\r\n"
		"t=0 0\r\n"
		"m=audio 6000 RTP/AVP 18 101\r\n"
		"a=rtpmap:18 G729/8000\r\n"
		"a=fmtp:18 annexb=no\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=ptime:20\r\n"
		"a=sendrecv\r\n";
	struct sdp_local l = local_v4(alaw_first, 2), a = local_v4(alaw_only, 1);
	char answer[SDP_TEXT_MAX];

	answer_ok(offer, &l, MEDIA_PCMU, 0, "192.0.2.41:16400", answer);
	CHECK_INT(count_lines(answer, "m="), 1);
	CHECK_CONTAINS(answer, "m=audio 40000 RTP/AVP 0\r\n");
	/* a line that takes A-law only has nothing in common with it */
	answer_refused(offer, &a,
	    "the offer has no audio stream in PCMA (it offered: G729, PCMU, telephone-event)");
	answer_refused(g729_only, &l,
	    "the offer has no audio stream in PCMA or PCMU (it offered: G729, telephone-event)");
}

/* Audio with T.38 beside it, either order: the audio is taken, the image stream refused with
 * port 0 in its place. An offer of T.38 alone is refused in words. */
static void
test_t38_beside(void)
{
	static const char audio_first[] =
		"v=0\r\n"
		"o=- 3917 3917 IN IP4 198.51.100.20\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.20\r\n"
		"t=0 0\r\n"
		"m=audio 30000 RTP/AVP 8 101\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"m=image 30002 udptl t38\r\n"
		"a=T38FaxVersion:0\r\n"
		"a=T38MaxBitRate:14400\r\n"
		"a=T38FaxRateManagement:transferredTCF\r\n"
		"a=T38FaxMaxBuffer:262\r\n"
		"a=T38FaxMaxDatagram:176\r\n"
		"a=T38FaxUdpEC:t38UDPRedundancy\r\n";
	static const char image_first[] =
		"v=0\r\n"
		"o=- 3917 3918 IN IP4 198.51.100.20\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.20\r\n"
		"t=0 0\r\n"
		"m=image 30002 udptl t38\r\n"
		"a=T38FaxVersion:0\r\n"
		"a=T38FaxUdpEC:t38UDPRedundancy\r\n"
		"m=audio 30000 RTP/AVP 0\r\n"
		"m=video 30004 RTP/AVP 31\r\n";
	static const char image_only[] =
		"v=0\r\n"
		"o=- 3917 3919 IN IP4 198.51.100.20\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.20\r\n"
		"t=0 0\r\n"
		"m=image 30002 udptl t38\r\n"
		"a=T38FaxVersion:0\r\n"
		"a=T38MaxBitRate:14400\r\n";
	struct sdp_local l = local_v4(alaw_first, 2);
	char answer[SDP_TEXT_MAX];

	answer_ok(audio_first, &l, MEDIA_PCMA, 8, "198.51.100.20:30000", answer);
	CHECK_INT(count_lines(answer, "m="), 2);
	CHECK_CONTAINS(answer, "a=ptime:20\r\nm=image 0 udptl t38\r\n");
	CHECK(strstr(answer, "T38Fax") == NULL);

	answer_ok(image_first, &l, MEDIA_PCMU, 0, "198.51.100.20:30000", answer);
	CHECK_INT(count_lines(answer, "m="), 3);
	CHECK_CONTAINS(answer, "t=0 0\r\nm=image 0 udptl t38\r\nm=audio 40000 RTP/AVP 0\r\n");
	CHECK_CONTAINS(answer, "a=ptime:20\r\nm=video 0 RTP/AVP 31\r\n");
	CHECK_INT(count_lines(answer, "a=rtpmap"), 1);

	answer_refused(image_only, &l, "only T.38 (m=image udptl t38), which this line is not "
	    "set to carry");
	/* a line that carries T.38, asked by sdp_answer (which has nowhere to say what T.38
	 * was agreed): the audio, as before */
	l.t38 = &t38_ours;
	answer_ok(audio_first, &l, MEDIA_PCMA, 8, "198.51.100.20:30000", answer);
	CHECK_CONTAINS(answer, "a=ptime:20\r\nm=image 0 udptl t38\r\n");
	answer_refused(image_only, &l, "only T.38");
}

/* Answers offer with T.38 carried: 0, the answer, peer and what was agreed. */
static int
answer_t38(const char *offer, const struct sdp_local *l, struct media_peer *peer,
           struct sdp_t38 *t, char *answer, char *err, size_t errlen)
{
	int rc;

	memset(peer, 0x5a, sizeof(*peer));
	memset(t, 0x5a, sizeof(*t));
	err[0] = '\0';
	rc = sdp_answer_t38(offer, l, peer, t, answer, SDP_TEXT_MAX, err, errlen);
	if (rc != 0)
		fprintf(stderr, "  refused: %s\n", err);
	return rc;
}

/* T.38 offers as real equipment writes them (a re-INVITE with the image stream alone, as
 * Asterisk and FreeSWITCH send it; one keeping the audio line at port 0 as RFC 3264 wants;
 * a Cisco gateway saying every flag with :0), answered with what we carry. */
static void
test_t38_offers(void)
{
	static const char asterisk_reinvite[] =
		"v=0\r\n"
		"o=- 1693478913 1693478915 IN IP4 203.0.113.5\r\n"
		"s=Asterisk\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"t=0 0\r\n"
		"m=image 4392 udptl t38\r\n"
		"a=T38FaxVersion:0\r\n"
		"a=T38MaxBitRate:14400\r\n"
		"a=T38FaxRateManagement:transferredTCF\r\n"
		"a=T38FaxMaxBuffer:200\r\n"
		"a=T38FaxMaxDatagram:72\r\n"
		"a=T38FaxUdpEC:t38UDPRedundancy\r\n";
	static const char freeswitch_reinvite[] =
		"v=0\n"
		"o=FreeSWITCH 1701000000 1701000001 IN IP4 198.51.100.30\n"
		"s=FreeSWITCH\n"
		"c=IN IP4 198.51.100.30\n"
		"t=0 0\n"
		"m=image 25482 udptl t38\n"
		"a=T38FaxVersion:0\n"
		"a=T38MaxBitRate:14400\n"
		"a=T38FaxFillBitRemoval\n"
		"a=T38FaxRateManagement:transferredTCF\n"
		"a=T38FaxMaxBuffer:2000\n"
		"a=T38FaxMaxDatagram:400\n"
		"a=T38FaxUdpEC:t38UDPRedundancy\n";
	static const char cisco_audio_kept[] =
		"v=0\r\n"
		"o=CiscoSystemsSIP-GW-UserAgent 9361 2716 IN IP4 192.0.2.40\r\n"
		"s=SIP Call\r\n"
		"c=IN IP4 192.0.2.40\r\n"
		"t=0 0\r\n"
		"m=audio 0 RTP/AVP 8\r\n"
		"m=image 17010 udptl t38\r\n"
		"c=IN IP4 192.0.2.41\r\n"
		"a=T38FaxVersion:0\r\n"
		"a=T38MaxBitRate:9600\r\n"
		"a=T38FaxFillBitRemoval:0\r\n"
		"a=T38FaxTranscodingMMR:0\r\n"
		"a=T38FaxTranscodingJBIG:0\r\n"
		"a=T38FaxRateManagement:transferredTCF\r\n"
		"a=T38FaxMaxBuffer:200\r\n"
		"a=T38FaxMaxDatagram:320\r\n"
		"a=T38FaxUdpEC:t38UDPRedundancy\r\n";
	static const char fec_v3[] =
		"v=0\r\n"
		"o=- 5 5 IN IP4 198.51.100.50\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.50\r\n"
		"t=0 0\r\n"
		"m=image 6000 udptl t38\r\n"
		"a=t38faxversion:3\r\n"
		"a=T38MaxBitRate:33600\r\n"
		"a=T38FaxRateManagement:transferredTCF\r\n"
		"a=T38FaxUdpEC:t38UDPFEC\r\n";
	/* a first INVITE that offers both: T.38 taken, the audio refused */
	static const char both[] =
		"v=0\r\n"
		"o=- 6 6 IN IP4 198.51.100.60\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.60\r\n"
		"t=0 0\r\n"
		"m=audio 7000 RTP/AVP 8 0\r\n"
		"m=image 7002 udptl t38\r\n"
		"a=T38FaxVersion:0\r\n"
		"a=T38FaxRateManagement:transferredTCF\r\n";
	struct sdp_local l = local_v4(alaw_first, 2);
	struct sockaddr_in udptl;
	struct media_peer peer;
	struct sdp_t38 t;
	char answer[SDP_TEXT_MAX], err[256];

	l.t38 = &t38_ours;
	CHECK_INT(answer_t38(asterisk_reinvite, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_INT(peer.codec, MEDIA_T38);
	CHECK_STR(peer_str(&peer), "203.0.113.5:4392");
	CHECK_INT(t.version, 0);
	CHECK_INT(t.max_bit_rate, 14400);
	CHECK_INT(t.rate_management, SDP_T38_TRANSFERRED_TCF);
	CHECK_INT(t.max_buffer, 200);
	CHECK_INT(t.max_datagram, 72);
	CHECK_INT(t.ec, UDPTL_EC_REDUNDANCY);
	CHECK_INT(t.fill_bit_removal, 0);
	/* the whole answer: our buffer and datagram, the offer's EC, no audio line added */
	CHECK_STR(answer,
	    "v=0\r\n"
	    "o=netcfax 7 8 IN IP4 192.0.2.99\r\n"
	    "s=netcfax\r\n"
	    "c=IN IP4 192.0.2.99\r\n"
	    "t=0 0\r\n"
	    "m=image 40000 udptl t38\r\n"
	    "a=sendrecv\r\n"
	    "a=T38FaxVersion:0\r\n"
	    "a=T38MaxBitRate:14400\r\n"
	    "a=T38FaxRateManagement:transferredTCF\r\n"
	    "a=T38FaxMaxBuffer:400\r\n"
	    "a=T38FaxMaxDatagram:400\r\n"
	    "a=T38FaxUdpEC:t38UDPRedundancy\r\n");

	/* FreeSWITCH's fill bit removal is not done here: the answer does not say it */
	CHECK_INT(answer_t38(freeswitch_reinvite, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_STR(peer_str(&peer), "198.51.100.30:25482");
	CHECK_INT(t.max_datagram, 400);
	CHECK_INT(t.fill_bit_removal, 0);
	CHECK(strstr(answer, "FillBitRemoval") == NULL);

	/* the audio line kept at port 0 stays so; T.38 from its own c= line, on our own
	 * UDPTL port */
	memset(&udptl, 0, sizeof(udptl));
	udptl.sin_family = AF_INET;
	udptl.sin_port = htons(40010);
	inet_pton(AF_INET, "192.0.2.99", &udptl.sin_addr);
	l.t38_addr = (const struct sockaddr *)&udptl;
	l.t38_addrlen = sizeof(udptl);
	CHECK_INT(answer_t38(cisco_audio_kept, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_INT(peer.codec, MEDIA_T38);
	CHECK_STR(peer_str(&peer), "192.0.2.41:17010");
	CHECK_INT(t.max_bit_rate, 9600);
	CHECK_INT(t.max_datagram, 320);
	CHECK_CONTAINS(answer, "t=0 0\r\nm=audio 0 RTP/AVP 8\r\nm=image 40010 udptl t38\r\n");
	CHECK_CONTAINS(answer, "a=T38MaxBitRate:9600\r\n");
	/* UDPTL on another address of ours: said on the image stream's own c= line */
	inet_pton(AF_INET, "192.0.2.98", &udptl.sin_addr);
	CHECK_INT(answer_t38(cisco_audio_kept, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_CONTAINS(answer, "c=IN IP4 192.0.2.99\r\nt=0 0\r\n");
	CHECK_CONTAINS(answer, "m=image 40010 udptl t38\r\nc=IN IP4 192.0.2.98\r\n");

	/* version 3 answered with our 0, FEC as offered, the bit rate ours */
	l.t38_addr = NULL;
	CHECK_INT(answer_t38(fec_v3, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_INT(t.version, 0);
	CHECK_INT(t.max_bit_rate, 14400);
	CHECK_INT(t.ec, UDPTL_EC_FEC);
	CHECK_INT(t.max_datagram, 0);
	CHECK_CONTAINS(answer, "a=T38FaxVersion:0\r\n");
	CHECK_CONTAINS(answer, "a=T38FaxUdpEC:t38UDPFEC\r\n");

	CHECK_INT(answer_t38(both, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_INT(peer.codec, MEDIA_T38);
	CHECK_STR(peer_str(&peer), "198.51.100.60:7002");
	CHECK_CONTAINS(answer, "m=audio 0 RTP/AVP 8\r\nm=image 40000 udptl t38\r\n");
	CHECK_INT(count_lines(answer, "a=rtpmap"), 0);
	CHECK_INT(t.ec, UDPTL_EC_NONE);
	CHECK(strstr(answer, "T38FaxUdpEC") == NULL);

	/* a line that does not carry T.38, asked the same: the audio, image refused */
	l.t38 = NULL;
	CHECK_INT(answer_t38(both, &l, &peer, &t, answer, err, sizeof(err)), 0);
	CHECK_INT(peer.codec, MEDIA_PCMA);
	CHECK_CONTAINS(answer, "m=audio 40000 RTP/AVP 8\r\n");
	CHECK_CONTAINS(answer, "m=image 0 udptl t38\r\n");
	CHECK_INT(sdp_answer_t38(asterisk_reinvite, &l, &peer, &t, answer, SDP_TEXT_MAX, err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "which this line is not set to carry");
}

/* T.38 that cannot be taken, refused in words; beside audio, the audio is taken instead. */
static void
test_t38_refused(void)
{
	static const char head[] =
		"v=0\r\no=- 1 1 IN IP4 198.51.100.70\r\ns=-\r\nc=IN IP4 198.51.100.70\r\nt=0 0\r\n";
	static const struct {
		const char *media, *reason;
	} bad[] = {
		{ "m=image 5000 udptl t38\r\na=T38FaxRateManagement:localTCF\r\n",
		  "asks for localTCF" },
		{ "m=image 5000 udptl t38\r\na=T38FaxRateManagement:remoteTCF\r\n",
		  "is neither transferredTCF nor localTCF" },
		{ "m=image 5000 udptl t38\r\na=T38MaxBitRate:fast\r\n", "a=T38MaxBitRate:fast is not "
		  "a number" },
		{ "m=image 5000 udptl t38\r\na=T38FaxMaxDatagram:99999999\r\n", "is more than 1000000" },
		{ "m=image 5000 udptl t38\r\na=T38FaxMaxDatagram:4\r\n", "too small for any IFP" },
		{ "m=image 5000 udptl t38\r\na=T38FaxVersion:\r\n", "a=T38FaxVersion has no value" },
		{ "m=image 5000 udptl t38\r\na=T38FaxUdpEC:t38UDPParity\r\n",
		  "is neither t38UDPRedundancy nor t38UDPFEC" },
		{ "m=image 5000 udptl t38\r\na=T38FaxFillBitRemoval:yes\r\n", "is neither 0 nor 1" },
		{ "m=image 5000 udptl t38\r\na=recvonly\r\n", "T.38 stream is recvonly" },
		{ "m=image 0 udptl t38\r\n", "T.38 stream is refused (port 0)" },
		{ "m=image 5000/2 udptl t38\r\n", "one port of 1 to 65535" },
		{ "m=image 5000 udptl t38\r\nc=IN IP6 2001:db8::1\r\n",
		  "this line's UDPTL is IPv4" },
		{ "m=image 5000 tcp t38\r\n", "no audio stream (it offered: image)" },
	};
	struct sdp_local l = local_v4(alaw_first, 2);
	struct media_peer peer;
	struct sdp_t38 t;
	char offer[SDP_TEXT_MAX], answer[SDP_TEXT_MAX], err[256];

	l.t38 = &t38_ours;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(offer, sizeof(offer), "%s%s", head, bad[i].media);
		err[0] = '\0';
		if (sdp_answer_t38(offer, &l, &peer, &t, answer, sizeof(answer), err,
		    sizeof(err)) != -1 || strstr(err, bad[i].reason) == NULL) {
			check_failures++;
			fprintf(stderr, "%s:%d: offer %zu: \"%s\", expected \"%s\"\n", __FILE__,
			    __LINE__, i, err, bad[i].reason);
		}
		check_count++;
		/* with audio beside it, the audio is taken and the image refused */
		snprintf(offer, sizeof(offer), "%sm=audio 5002 RTP/AVP 0\r\n%s", head,
		    bad[i].media);
		CHECK_INT(sdp_answer_t38(offer, &l, &peer, &t, answer, sizeof(answer), err,
		    sizeof(err)), 0);
		CHECK_INT(peer.codec, MEDIA_PCMU);
		CHECK(strstr(answer, "T38") == NULL);
	}
	/* both refused: both reasons */
	snprintf(offer, sizeof(offer), "%sm=audio 5002 RTP/AVP 18\r\nm=image 5000 udptl t38\r\n"
	    "a=T38FaxRateManagement:localTCF\r\n", head);
	CHECK_INT(sdp_answer_t38(offer, &l, &peer, &t, answer, sizeof(answer), err, sizeof(err)),
	    -1);
	CHECK_CONTAINS(err, "localTCF");
	CHECK_CONTAINS(err, "; and the offer has no audio stream in PCMA or PCMU");
}

/* Our T.38 offer (a re-INVITE), answered by a far end (sdp_answer_t38 itself, and by hand),
 * the answer read back. */
static void
test_t38_offer_answer(void)
{
	static const struct sdp_t38 fec = {
		.version = 0, .max_bit_rate = 9600, .rate_management = SDP_T38_TRANSFERRED_TCF,
		.max_buffer = 300, .max_datagram = 160, .ec = UDPTL_EC_FEC,
	};
	static const struct sdp_t38 localtcf = { .rate_management = SDP_T38_LOCAL_TCF };
	struct sdp_local us = local_v4(alaw_first, 2), them = local_v4(alaw_first, 1);
	struct sockaddr_in a;
	struct media_peer peer, back;
	struct sdp_t38 t, u;
	char offer[SDP_TEXT_MAX], answer[SDP_TEXT_MAX], err[256];

	us.t38 = &t38_ours;
	CHECK_INT(sdp_t38_offer(&us, offer, sizeof(offer), err, sizeof(err)), 0);
	CHECK_STR(offer,
	    "v=0\r\n"
	    "o=netcfax 7 8 IN IP4 192.0.2.99\r\n"
	    "s=netcfax\r\n"
	    "c=IN IP4 192.0.2.99\r\n"
	    "t=0 0\r\n"
	    "m=image 40000 udptl t38\r\n"
	    "a=sendrecv\r\n"
	    "a=T38FaxVersion:0\r\n"
	    "a=T38MaxBitRate:14400\r\n"
	    "a=T38FaxRateManagement:transferredTCF\r\n"
	    "a=T38FaxMaxBuffer:400\r\n"
	    "a=T38FaxMaxDatagram:400\r\n"
	    "a=T38FaxUdpEC:t38UDPRedundancy\r\n");
	/* the offer of audio stays audio only */
	CHECK_INT(sdp_offer(&us, answer, sizeof(answer), err, sizeof(err)), 0);
	CHECK(strstr(answer, "image") == NULL && strstr(answer, "T38") == NULL);

	/* the far end carries FEC at 9600 from another address */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(5004);
	inet_pton(AF_INET, "198.51.100.80", &a.sin_addr);
	them.addr = (const struct sockaddr *)&a;
	them.t38 = &fec;
	CHECK_INT(sdp_answer_t38(offer, &them, &peer, &t, answer, sizeof(answer), err,
	    sizeof(err)), 0);
	CHECK_STR(peer_str(&peer), "192.0.2.99:40000");
	CHECK_INT(t.max_bit_rate, 9600);
	CHECK_INT(t.max_datagram, 400);        /* ours, what they may send us */
	CHECK_INT(t.ec, UDPTL_EC_REDUNDANCY);  /* what we offered */
	CHECK_INT(sdp_read_answer_t38(answer, &us, &back, &u, err, sizeof(err)), 0);
	CHECK_INT(back.codec, MEDIA_T38);
	CHECK_STR(peer_str(&back), "198.51.100.80:5004");
	CHECK_INT(u.version, 0);
	CHECK_INT(u.max_bit_rate, 9600);
	CHECK_INT(u.max_buffer, 300);
	CHECK_INT(u.max_datagram, 160);        /* theirs, what we may send */
	CHECK_INT(u.ec, UDPTL_EC_REDUNDANCY);

	/* answers refused */
	CHECK_INT(sdp_read_answer_t38("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=image 0 udptl t38\r\n", &us, &back, &u, err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "the far end refused T.38 (port 0 in its answer)");
	CHECK_INT(sdp_read_answer_t38("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=audio 12000 RTP/AVP 8\r\n", &us, &back, &u, err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "first stream is audio, not the T.38 we offered");
	CHECK_INT(sdp_read_answer_t38("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=image 12000 udptl t38\r\na=T38FaxVersion:2\r\n",
	    &us, &back, &u, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "T.38 version 2, above the 0 we offered");
	CHECK_INT(sdp_read_answer_t38("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=image 12000 udptl t38\r\n"
	    "a=T38FaxRateManagement:localTCF\r\n", &us, &back, &u, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "localTCF");

	/* our own T.38 must be something we do */
	us.t38 = &localtcf;
	CHECK_INT(sdp_t38_offer(&us, offer, sizeof(offer), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "transferredTCF only");
	us.t38 = NULL;
	CHECK_INT(sdp_t38_offer(&us, offer, sizeof(offer), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "T.38 is not carried on this line");

	/* the attribute reader alone: a name that is not T.38's is left alone */
	memset(&t, 0, sizeof(t));
	CHECK_INT(sdp_t38_attribute("T38VendorInfo", "0 0 0", &t, err, sizeof(err)), 0);
	CHECK_INT(sdp_t38_attribute("T38FaxTranscodingJBIG", NULL, &t, err, sizeof(err)), 0);
	CHECK_INT(t.transcoding_jbig, 1);
	CHECK_INT(sdp_t38_attribute("T38FaxVersion", "256", &t, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "is more than 255");
}

/* IPv6 both sides, c= at media level only; an IPv6 offer to an IPv4 line refused. */
static void
test_ipv6(void)
{
	static const char offer[] =
		"v=0\r\n"
		"o=- 42 42 IN IP6 2001:db8::10\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"m=audio 5004 RTP/AVP 0 8\r\n"
		"c=IN IP6 2001:db8::10\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=sendrecv\r\n";
	struct sdp_local l6 = local_v6(), l4 = local_v4(alaw_first, 2);
	char answer[SDP_TEXT_MAX];

	answer_ok(offer, &l6, MEDIA_PCMU, 0, "[2001:db8::10]:5004", answer);
	CHECK_CONTAINS(answer, "o=netcfax 7 8 IN IP6 2001:db8::99\r\n");
	CHECK_CONTAINS(answer, "c=IN IP6 2001:db8::99\r\n");
	CHECK_CONTAINS(answer, "m=audio 40002 RTP/AVP 0\r\n");
	answer_refused(offer, &l4, "is IPv6 and this line's RTP is IPv4");
}

/* Dynamic payload types: PCMA on 97 after Opus on 96 is taken on 97, and said so. */
static void
test_dynamic(void)
{
	static const char offer[] =
		"v=0\r\n"
		"o=- 9 9 IN IP4 198.51.100.30\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.30\r\n"
		"t=0 0\r\n"
		"m=audio 8000 RTP/AVP 96 97 98 101\r\n"
		"a=rtpmap:96 opus/48000/2\r\n"
		"a=rtpmap:97 pcma/8000\r\n"
		"a=rtpmap:98 PCMU/16000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n";
	static const char wideband[] =
		"v=0\r\n"
		"o=- 9 9 IN IP4 198.51.100.30\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.30\r\n"
		"t=0 0\r\n"
		"m=audio 8000 RTP/AVP 96 98 99\r\n"
		"a=rtpmap:96 opus/48000/2\r\n"
		"a=rtpmap:98 PCMU/16000\r\n";
	struct sdp_local l = local_v4(alaw_first, 2);
	char answer[SDP_TEXT_MAX];

	answer_ok(offer, &l, MEDIA_PCMA, 97, "198.51.100.30:8000", answer);
	CHECK_CONTAINS(answer, "m=audio 40000 RTP/AVP 97\r\na=rtpmap:97 PCMA/8000\r\n");
	/* PCMU at 16 kHz is not G.711; a payload type without rtpmap is named by its number */
	answer_refused(wideband, &l, "(it offered: opus/48000, PCMU/16000, payload type 99)");
}

/* Two audio streams: the first we cannot use is refused, the second taken. */
static void
test_second_audio(void)
{
	static const char offer[] =
		"v=0\r\n"
		"o=- 5 5 IN IP4 198.51.100.40\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.40\r\n"
		"t=0 0\r\n"
		"m=audio 9000 RTP/SAVP 8\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
		"m=audio 9002 RTP/AVP 8\r\n";
	struct sdp_local l = local_v4(alaw_first, 2);
	char answer[SDP_TEXT_MAX];

	answer_ok(offer, &l, MEDIA_PCMA, 8, "198.51.100.40:9002", answer);
	CHECK_INT(count_lines(answer, "m="), 2);
	CHECK_CONTAINS(answer, "t=0 0\r\nm=audio 0 RTP/SAVP 8\r\nm=audio 40000 RTP/AVP 8\r\n");
	CHECK(strstr(answer, "crypto") == NULL);
}

/* Directions: a fax needs audio both ways. */
static void
test_directions(void)
{
	static const char *const modes[] = { "sendonly", "recvonly", "inactive" };
	struct sdp_local l = local_v4(alaw_first, 2);
	char offer[SDP_TEXT_MAX], answer[SDP_TEXT_MAX], words[100];

	for (int i = 0; i < 3; i++) {
		snprintf(words, sizeof(words), "the offer's audio stream is %s: a fax needs audio "
		    "both ways", modes[i]);
		/* at media level */
		snprintf(offer, sizeof(offer), "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\n"
		    "c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=%s\r\n", modes[i]);
		answer_refused(offer, &l, words);
		/* at session level, for every stream */
		snprintf(offer, sizeof(offer), "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\n"
		    "c=IN IP4 198.51.100.1\r\nt=0 0\r\na=%s\r\nm=audio 4000 RTP/AVP 8\r\n", modes[i]);
		answer_refused(offer, &l, words);
	}
	/* session-level sendonly overridden by the stream's sendrecv */
	answer_ok("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
	    "a=sendonly\r\nm=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n", &l, MEDIA_PCMA, 8,
	    "198.51.100.1:4000", answer);
}

/* Offers that are no use, each refused with its reason. */
static void
test_malformed(void)
{
	struct sdp_local l = local_v4(alaw_first, 2);
	char big[3000];
	struct media_peer peer;
	char answer[SDP_TEXT_MAX], err[256];
	const char *head = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";

	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\n", &l, "the offer has no media stream (m=)");
	answer_refused("hello, world\r\nthis is not SDP\r\n", &l,
	    "the offer is not a valid session description");
	answer_refused("", &l, "the offer is empty");
	answer_refused(NULL, &l, "the offer is empty");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 media.example.net\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n", &l,
	    "the offer's media address media.example.net is not a numeric IPv4 address");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP6 pbx.example.net\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n", &l, "is not a numeric IPv6 address");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=audio 0 RTP/AVP 8 0\r\n", &l, "the offer's audio stream is refused (port 0)");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nt=0 0\r\n"
	    "m=audio 4000 RTP/AVP 8\r\n", &l, "No c= on either session level or all mediums");
	answer_refused("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n", &l, "0.0.0.0 (a call on hold)");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n", &l, "multicast");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=audio 70000 RTP/AVP 8\r\n", &l, "one port of 1 to 65535");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=video 4000 RTP/AVP 31\r\nm=application 4002 udp wb\r\n", &l,
	    "the offer has no audio stream (it offered: video, application)");
	/* a format that is no token, where sofia-sip's parser would loop without end */
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\nm=image 4002 udptl t38 \"x\r\n", &l,
	    "an m= line is not <media> <port> <transport> <formats>, each a token");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nt=0 0\r\n"
	    "m=audio 4000 RTP/\xd2\xacP 8\r\n", &l, "an m= line is not <media> <port>");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=audio 4000RT /APVP 8\r\n", &l, "an m= line is not <media> <port>");
	answer_refused("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
	    "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\nm=image 0 udptl \t\r\n", &l,
	    "an m= line is not <media> <port>");
	/* too long: refused whole, however good its start */
	snprintf(big, sizeof(big), "%s", head);
	for (size_t n = strlen(big); n + 20 < sizeof(big); n = strlen(big))
		strcat(big, "a=x-padding:123456\r\n");
	answer_refused(big, &l, "the offer is longer than 2047 bytes");
	/* no room for the answer */
	CHECK_INT(sdp_answer(head, &l, &peer, answer, 40, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "our answer does not fit in 40 bytes");
	/* the longest offer that fits is read */
	big[SDP_TEXT_MAX - 1] = '\0';
	CHECK_INT(sdp_answer(big, &l, &peer, answer, sizeof(answer), err, sizeof(err)), 0);
}

/* Our offer, answered by the far end (here sdp_answer itself, and by hand), read back. */
static void
test_round_trip(void)
{
	struct sdp_local us = local_v4(alaw_first, 2), them = local_v4(alaw_first, 2);
	struct sockaddr_in far;
	struct media_peer peer, back;
	char offer[SDP_TEXT_MAX], answer[SDP_TEXT_MAX], err[256] = "";

	CHECK_INT(sdp_offer(&us, offer, sizeof(offer), err, sizeof(err)), 0);
	CHECK_STR(offer,
	    "v=0\r\n"
	    "o=netcfax 7 8 IN IP4 192.0.2.99\r\n"
	    "s=netcfax\r\n"
	    "c=IN IP4 192.0.2.99\r\n"
	    "t=0 0\r\n"
	    "m=audio 40000 RTP/AVP 8 0\r\n"
	    "a=rtpmap:8 PCMA/8000\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "a=sendrecv\r\n"
	    "a=ptime:20\r\n");
	/* the far end at 198.51.100.77:50000 takes it (local4 is shared: set it after) */
	memset(&far, 0, sizeof(far));
	far.sin_family = AF_INET;
	far.sin_port = htons(50000);
	inet_pton(AF_INET, "198.51.100.77", &far.sin_addr);
	them.addr = (const struct sockaddr *)&far;
	them.addrlen = sizeof(far);
	CHECK_INT(sdp_answer(offer, &them, &peer, answer, sizeof(answer), err, sizeof(err)), 0);
	CHECK_INT(peer.codec, MEDIA_PCMA);
	CHECK_STR(peer_str(&peer), "192.0.2.99:40000");
	CHECK_INT(sdp_read_answer(answer, &us, &back, err, sizeof(err)), 0);
	CHECK_INT(back.codec, MEDIA_PCMA);
	CHECK_INT(back.pt, 8);
	CHECK_STR(peer_str(&back), "198.51.100.77:50000");

	/* answers as they come from others: both codecs kept, the answerer's first is used */
	CHECK_INT(sdp_read_answer("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=audio 12000 RTP/AVP 0 8 101\r\n"
	    "a=rtpmap:101 telephone-event/8000\r\n", &us, &back, err, sizeof(err)), 0);
	CHECK_INT(back.codec, MEDIA_PCMU);
	CHECK_INT(back.pt, 0);
	CHECK_STR(peer_str(&back), "198.51.100.8:12000");
	/* refused, a codec we did not offer, one way only, not audio, malformed */
	CHECK_INT(sdp_read_answer("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=audio 0 RTP/AVP 8\r\n", &us, &back, err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "the far end refused our audio stream");
	CHECK_INT(sdp_read_answer("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=audio 12000 RTP/AVP 18\r\n", &us, &back, err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "the answer has no audio stream in PCMA or PCMU (it answered: G729)");
	CHECK_INT(sdp_read_answer("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=audio 12000 RTP/AVP 8\r\na=recvonly\r\n", &us,
	    &back, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "the answer's audio stream is recvonly: a fax needs audio both ways");
	CHECK_INT(sdp_read_answer("v=0\r\no=- 2 2 IN IP4 198.51.100.8\r\ns=-\r\n"
	    "c=IN IP4 198.51.100.8\r\nt=0 0\r\nm=image 12000 udptl t38\r\n", &us, &back, err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "the answer's first stream is image, not the audio we offered");
	CHECK_INT(sdp_read_answer("garbage", &us, &back, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "the answer is not a valid session description");
}

/* Our own side's mistakes are ours to report too. */
static void
test_local(void)
{
	struct sdp_local l = local_v4(alaw_first, 2);
	static const int bad[] = { MEDIA_T38 }, twice[] = { MEDIA_PCMA, MEDIA_PCMA };
	char out[SDP_TEXT_MAX], err[256];

	local4.sin_port = 0;
	CHECK_INT(sdp_offer(&l, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "the local media port is 0");
	l = local_v4(alaw_first, 2);
	local4.sin_addr.s_addr = htonl(INADDR_ANY);
	CHECK_INT(sdp_offer(&l, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "0.0.0.0 is no address the far end can send to");
	l = local_v4(bad, 1);
	CHECK_INT(sdp_offer(&l, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "is not an audio codec");
	l = local_v4(twice, 2);
	CHECK_INT(sdp_offer(&l, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "codec PCMA is listed twice");
	l = local_v4(alaw_first, 0);
	CHECK_INT(sdp_offer(&l, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "between 1 and 4 codecs");
	l = local_v4(alaw_first, 2);
	CHECK_INT(sdp_offer(&l, out, 100, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "our offer does not fit in 100 bytes");
	l = local_v6();
	CHECK_INT(sdp_offer(&l, out, sizeof(out), err, sizeof(err)), 0);
	CHECK_CONTAINS(out, "c=IN IP6 2001:db8::99\r\nt=0 0\r\nm=audio 40002 RTP/AVP 8 0\r\n");
}

int
main(void)
{
	test_asterisk();
	test_freeswitch();
	test_gateway();
	test_t38_beside();
	test_t38_offers();
	test_t38_refused();
	test_t38_offer_answer();
	test_ipv6();
	test_dynamic();
	test_second_audio();
	test_directions();
	test_malformed();
	test_round_trip();
	test_local();
	return check_report("sdp");
}

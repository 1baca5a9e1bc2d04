/* fuzz_sdp.c: libFuzzer harness for the session descriptions of a fax call (server/sip/sdp.c,
 * over sofia-sip's SDP parser). The input is the SDP text of an INVITE or of a 200, read as
 * the far end's offer (sdp_answer) and as its answer to ours (sdp_read_answer). A first byte
 * below 8 is no text but picks our side: bit 0 IPv6, bit 1 PCMU preferred, bit 2 one codec
 * only; without it our side is IPv4 taking PCMA then PCMU. Beyond not crashing: a text of SDP_TEXT_MAX bytes or more
 * is refused; a refusal says why in one printable line; a peer taken is G.711 on a payload
 * type of 7 bits at a port of its own family; our answer fits, goes both ways, takes one
 * stream and refuses every other with port 0, and (when it has one stream) read back by
 * sdp_read_answer gives our own address with the codec and payload type chosen. The same
 * text is then read by a line that carries T.38 (sdp_answer_t38, sdp_read_answer_t38): a
 * T.38 peer taken comes with transferredTCF, a version no higher than ours, a datagram
 * within the cap; our answer takes one stream, and, when it is T.38 alone, read back by
 * sdp_read_answer_t38 gives our own address and what we said. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sdp_t38 ours = {
	.version = 0, .max_bit_rate = 14400, .rate_management = SDP_T38_TRANSFERRED_TCF,
	.max_buffer = 400, .max_datagram = 400, .ec = UDPTL_EC_REDUNDANCY,
};

static void
check_err(const char *err, size_t cap)
{
	const char *end = memchr(err, '\0', cap);

	if (end == NULL || end == err)
		abort();
	for (const char *c = err; c < end; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c >= 0x7f)
			abort();
}

static void
check_peer(const struct media_peer *p, int family)
{
	if (p->codec != MEDIA_PCMA && p->codec != MEDIA_PCMU && p->codec != MEDIA_T38)
		abort();
	if (p->pt < 0 || p->pt > 127 || p->addr.ss_family != family)
		abort();
	if (family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&p->addr;

		if (p->addrlen != sizeof(*a) || a->sin_port == 0 || a->sin_addr.s_addr == 0)
			abort();
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&p->addr;

		if (p->addrlen != sizeof(*a) || a->sin6_port == 0 ||
		    IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
			abort();
	}
}

/* The m= lines of our answer, all of them or those with a port other than 0. */
static int
count_m(const char *text, int taken_only)
{
	int n = 0;

	for (const char *p = strstr(text, "\r\nm="); p != NULL; p = strstr(p + 2, "\r\nm=")) {
		const char *port = strchr(p + 4, ' ');

		if (port == NULL)
			abort();
		if (!taken_only || strncmp(port, " 0 ", 3) != 0)
			n++;
	}
	return n;
}

static void
check_t38(const struct sdp_t38 *t)
{
	if (t->rate_management != SDP_T38_TRANSFERRED_TCF || t->version < 0 ||
	    t->version > ours.version || t->max_datagram > UDPTL_DATAGRAM_MAX ||
	    (t->max_datagram != 0 && t->max_datagram < 8) || t->ec < UDPTL_EC_NONE ||
	    t->ec > UDPTL_EC_FEC || t->fill_bit_removal || t->transcoding_mmr ||
	    t->transcoding_jbig)
		abort();
}

/* The text read by a line that carries T.38 too. */
static void
t38(const char *text, size_t len, struct sdp_local *l, int family)
{
	char answer[SDP_TEXT_MAX], err[256];
	struct media_peer peer, back;
	struct sdp_t38 t, u;

	l->t38 = &ours;
	memset(err, 'x', sizeof(err));
	if (sdp_answer_t38(text, l, &peer, &t, answer, sizeof(answer), err, sizeof(err)) == 0) {
		if (len >= SDP_TEXT_MAX || count_m(answer, 1) != 1)
			abort();
		check_peer(&peer, family);
		if (peer.codec == MEDIA_T38) {
			check_t38(&t);
			if (strstr(answer, " udptl t38\r\n") == NULL)
				abort();
			/* T.38 alone, read back as the answer to an offer of ours */
			memset(err, 'x', sizeof(err));
			if (count_m(answer, 0) == 1) {
				if (sdp_read_answer_t38(answer, l, &back, &u, err, sizeof(err)) != 0)
					abort();
				check_t38(&u);
				if (back.codec != MEDIA_T38 || back.addrlen != l->addrlen ||
				    memcmp(&back.addr, l->addr, l->addrlen) != 0 ||
				    u.max_datagram != ours.max_datagram || u.ec != t.ec ||
				    u.version != t.version)
					abort();
			}
		}
	} else
		check_err(err, sizeof(err));
	memset(err, 'x', sizeof(err));
	if (sdp_read_answer_t38(text, l, &peer, &t, err, sizeof(err)) == 0) {
		if (len >= SDP_TEXT_MAX || peer.codec != MEDIA_T38)
			abort();
		check_peer(&peer, family);
		check_t38(&t);
	} else
		check_err(err, sizeof(err));
	l->t38 = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int codecs[][2] = { { MEDIA_PCMA, MEDIA_PCMU }, { MEDIA_PCMU, MEDIA_PCMA } };
	static char text[4 * SDP_TEXT_MAX];
	char answer[SDP_TEXT_MAX], err[256];
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct sdp_local l;
	struct media_peer peer, back;
	int sel = size > 0 && data[0] < 8 ? data[0] : 0, six = sel & 1;
	int family = six ? AF_INET6 : AF_INET;
	size_t len;

	if (size > 0 && data[0] < 8) {
		data++;
		size--;
	}

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);

	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	a4.sin_port = htons(40000);
	a4.sin_addr.s_addr = htonl(0xc0000263);          /* 192.0.2.99 */
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	a6.sin6_port = htons(40002);
	inet_pton(AF_INET6, "2001:db8::99", &a6.sin6_addr);
	memset(&l, 0, sizeof(l));
	l.addr = six ? (const struct sockaddr *)&a6 : (const struct sockaddr *)&a4;
	l.addrlen = six ? sizeof(a6) : sizeof(a4);
	l.codecs = codecs[(sel & 2) != 0];
	l.ncodecs = sel & 4 ? 1 : 2;
	l.session_id = 1;
	l.version = 1;

	memset(err, 'x', sizeof(err));
	if (sdp_answer(text, &l, &peer, answer, sizeof(answer), err, sizeof(err)) == 0) {
		if (len >= SDP_TEXT_MAX)
			abort();
		check_peer(&peer, family);
		if (strlen(answer) >= SDP_TEXT_MAX || strncmp(answer, "v=0\r\n", 5) != 0 ||
		    strstr(answer, "\r\na=sendrecv\r\n") == NULL)
			abort();
		/* one stream taken, every other refused with port 0 */
		if (count_m(answer, 1) != 1)
			abort();
		/* our answer of one stream, read as an answer to an offer of ours: our own
		 * address again, with the codec and payload type chosen */
		memset(err, 'x', sizeof(err));
		if (count_m(answer, 0) == 1) {
			if (sdp_read_answer(answer, &l, &back, err, sizeof(err)) != 0)
				abort();
			check_peer(&back, family);
			if (back.codec != peer.codec || back.pt != peer.pt ||
			    back.addrlen != l.addrlen || memcmp(&back.addr, l.addr, l.addrlen) != 0)
				abort();
		}
	} else
		check_err(err, sizeof(err));

	memset(err, 'x', sizeof(err));
	if (sdp_read_answer(text, &l, &peer, err, sizeof(err)) == 0) {
		if (len >= SDP_TEXT_MAX || peer.codec == MEDIA_T38)
			abort();
		check_peer(&peer, family);
	} else
		check_err(err, sizeof(err));
	t38(text, len, &l, family);
	return 0;
}

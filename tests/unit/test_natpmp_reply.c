/* test_natpmp_reply.c: reading a NAT-PMP router's reply (nat/natpmp.c's natpmp_reply_read)
 * when other replies come first. A router slow under load answers a request the library sent
 * twice twice, and the second answer may arrive while the next request waits: it must be
 * passed over, not taken for "the router does not answer". A UDP socket on a loopback
 * address plays the gateway. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "natpmp_reply.h"

#define PORT 7485

static natpmp_t nat;
static int gw = -1;

/* NAT-PMP talks to port 5351 of its gateway: an address of 127/8 of our own (from the process
 * id, for parallel runs), moved on while taken. */
static int
setup(void)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(NATPMP_PORT);
	for (unsigned i = 0; i < 64; i++) {
		sa.sin_addr.s_addr = htonl(0x7f510000u |
		    (((unsigned)getpid() + i * 7919u) % 65000u + 256u));   /* 127.81.x.y */
		if ((gw = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			return -1;
		if (bind(gw, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(gw);
		gw = -1;
		if (errno != EADDRINUSE)
			return -1;
	}
	if (gw < 0 || setsockopt(gw, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 2, 0 },
	    sizeof(struct timeval)) != 0)
		return -1;
	return initnatpmp(&nat, 1, sa.sin_addr.s_addr);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A public-address reply (12 bytes) or a mapping reply of type (16 bytes), into out. */
static size_t
reply(uint8_t *out, int type, uint16_t priv, uint16_t pub, uint32_t lease)
{
	memset(out, 0, 16);
	out[1] = (uint8_t)(128 + type);
	put32(out + 4, 5000);                        /* the epoch */
	if (type == NATPMP_RESPTYPE_PUBLICADDRESS) {
		put32(out + 8, 0x0b16210a);              /* 11.22.33.10 */
		return 12;
	}
	out[8] = (uint8_t)(priv >> 8);
	out[9] = (uint8_t)priv;
	out[10] = (uint8_t)(pub >> 8);
	out[11] = (uint8_t)pub;
	put32(out + 12, lease);
	return 16;
}

/* Takes the request the library sent, then answers with the replies given, in order. */
static void
gateway_answers(const uint8_t (*replies)[16], const size_t *lens, int n)
{
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	uint8_t req[16];

	CHECK(recvfrom(gw, req, sizeof(req), 0, (struct sockaddr *)&from, &fromlen) > 0);
	for (int i = 0; i < n; i++)
		CHECK(sendto(gw, replies[i], lens[i], 0, (struct sockaddr *)&from, fromlen) ==
		    (ssize_t)lens[i]);
}

static void
drain(int fd)
{
	uint8_t buf[64];

	for (int i = 0; i < 64 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0; i++)
		;
}

/* A check (public address) after a mapping request the router answered late: the stale
 * mapping reply is passed over and the public address taken. */
static void
test_stale_mapping_reply_before_the_address(void)
{
	struct natpmp_want want = { NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0 };
	uint8_t rs[2][16];
	size_t lens[2];
	natpmpresp_t r;

	lens[0] = reply(rs[0], NATPMP_RESPTYPE_UDPPORTMAPPING, PORT, PORT, 3600);
	lens[1] = reply(rs[1], NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0, 0);
	CHECK(sendpublicaddressrequest(&nat) >= 0);
	gateway_answers((const uint8_t (*)[16])rs, lens, 2);
	memset(&r, 0, sizeof(r));
	CHECK_INT(natpmp_reply_read(&nat, &want, 2000, &r), 0);
	CHECK_INT(r.type, NATPMP_RESPTYPE_PUBLICADDRESS);
	CHECK_INT(ntohl(r.pnu.publicaddress.addr.s_addr), 0x0b16210a);
	drain(nat.s);
	drain(gw);
}

/* A mapping request answered first for another of our ports (a late duplicate from another
 * request on this socket), then for the one asked: the right one is taken. */
static void
test_reply_for_another_port_then_ours(void)
{
	struct natpmp_want want = { NATPMP_RESPTYPE_UDPPORTMAPPING, PORT, 3600 };
	uint8_t rs[2][16];
	size_t lens[2];
	natpmpresp_t r;

	lens[0] = reply(rs[0], NATPMP_RESPTYPE_UDPPORTMAPPING, PORT + 1, PORT + 1, 3600);
	lens[1] = reply(rs[1], NATPMP_RESPTYPE_UDPPORTMAPPING, PORT, 40000, 3600);
	CHECK(sendnewportmappingrequest(&nat, NATPMP_PROTOCOL_UDP, PORT, PORT, 3600) >= 0);
	gateway_answers((const uint8_t (*)[16])rs, lens, 2);
	memset(&r, 0, sizeof(r));
	CHECK_INT(natpmp_reply_read(&nat, &want, 2000, &r), 0);
	CHECK_INT(r.pnu.newportmapping.privateport, PORT);
	CHECK_INT(r.pnu.newportmapping.mappedpublicport, 40000);
	drain(nat.s);
	drain(gw);
}

/* Only replies that answer something else: said as such once the wait is over, not taken
 * for an answer and not called silence. */
static void
test_only_stale_replies_is_a_mismatch(void)
{
	struct natpmp_want want = { NATPMP_RESPTYPE_TCPPORTMAPPING, PORT, 3600 };
	uint8_t rs[2][16];
	size_t lens[2];
	natpmpresp_t r;

	lens[0] = reply(rs[0], NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0, 0);
	lens[1] = reply(rs[1], NATPMP_RESPTYPE_UDPPORTMAPPING, PORT, PORT, 3600);
	CHECK(sendnewportmappingrequest(&nat, NATPMP_PROTOCOL_TCP, PORT, PORT, 3600) >= 0);
	gateway_answers((const uint8_t (*)[16])rs, lens, 2);
	CHECK_INT(natpmp_reply_read(&nat, &want, 300, &r), NATPMP_REPLY_MISMATCH);
	drain(nat.s);
	drain(gw);
}

/* Nothing at all: silence, as before. */
static void
test_silence(void)
{
	struct natpmp_want want = { NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0 };
	natpmpresp_t r;

	CHECK(sendpublicaddressrequest(&nat) >= 0);
	CHECK_INT(natpmp_reply_read(&nat, &want, 300, &r), NATPMP_ERR_NOGATEWAYSUPPORT);
	drain(nat.s);
	drain(gw);
}

int
main(void)
{
	if (setup() != 0) {
		fprintf(stderr, "test_natpmp_reply: no gateway socket on loopback: %s\n",
		    strerror(errno));
		return 1;
	}
	test_stale_mapping_reply_before_the_address();
	test_reply_for_another_port_then_ours();
	test_only_stale_replies_is_a_mismatch();
	test_silence();
	closenatpmp(&nat);
	close(gw);
	return check_report("test_natpmp_reply");
}

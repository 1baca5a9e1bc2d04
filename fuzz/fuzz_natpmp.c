/* fuzz_natpmp.c: libFuzzer harness for NAT-PMP replies. A UDP socket on a loopback address
 * plays the gateway: for each record of the input the backend's request is sent through
 * libnatpmp, the gateway answers with the record's bytes, and libnatpmp's parsing followed by
 * netcfax's own judgement (natpmp_reply_read, then the epoch check) decide what was heard.
 *
 * Input: records of [kind][length][length bytes], at most RECORDS_MAX. kind & 3 picks the
 * request (0, 3: external address; 1: map port PORT for LEASE s; 2: remove that mapping);
 * kind >> 2 is the seconds passed since the previous record, for the epoch check. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "natpmp_reply.h"

#define RECORDS_MAX 8
#define PORT        7485
#define LEASE       3600
#define WAIT_MS     20       /* the answer is already queued when the wait starts; a
                              * reply that is not the answer is waited past until then */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static natpmp_t nat;
static int gw = -1;          /* the gateway's socket, bound to GW_ADDR:5351 */

static void
close_all(void)
{
	closenatpmp(&nat);
	close(gw);
}

/* NAT-PMP talks to port 5351 of its gateway, so the gateway needs an address of its own: one
 * of 127/8, picked from the process id (parallel runs) and moved on while taken. */
static void
setup(void)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(NATPMP_PORT);
	for (unsigned i = 0; i < 64; i++) {
		unsigned host = ((unsigned)getpid() + i * 7919u) % 65000u + 256u;

		sa.sin_addr.s_addr = htonl(0x7f500000u | host);   /* 127.80.x.y */
		if ((gw = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			break;
		if (bind(gw, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(gw);
		gw = -1;
		if (errno != EADDRINUSE)
			break;
	}
	/* Every wait is bounded: a request that never arrives fails the run, not hangs it. */
	if (gw >= 0 && setsockopt(gw, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 2, 0 },
	    sizeof(struct timeval)) != 0) {
		close(gw);
		gw = -1;
	}
	if (gw < 0 || initnatpmp(&nat, 1, sa.sin_addr.s_addr) != 0) {
		fprintf(stderr, "fuzz_natpmp: no gateway socket on loopback: %s\n",
		    strerror(errno));
		exit(2);
	}
	atexit(close_all);
}

/* Whatever is queued on a socket: a reply judged by an earlier record, a retransmission. */
static void
drain(int fd)
{
	uint8_t buf[64];

	for (int i = 0; i < 64 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0; i++)
		;
}

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* What was judged an answer must have come, whole, in the datagram the gateway sent. */
static void
check_answer(const struct natpmp_want *want, const natpmpresp_t *r, const uint8_t *d,
    size_t n)
{
	size_t need = want->type == NATPMP_RESPTYPE_PUBLICADDRESS ? 12 : 16;

	if (n < need || d[0] != 0 || d[1] != 128 + want->type || d[2] != 0 || d[3] != 0 ||
	    r->epoch != be32(d + 4))
		abort();
	if (want->type == NATPMP_RESPTYPE_PUBLICADDRESS) {
		if (memcmp(&r->pnu.publicaddress.addr.s_addr, d + 8, 4) != 0)
			abort();
		return;
	}
	if (r->pnu.newportmapping.privateport != want->int_port ||
	    r->pnu.newportmapping.privateport != (d[8] << 8 | d[9]) ||
	    r->pnu.newportmapping.mappedpublicport != (d[10] << 8 | d[11]) ||
	    r->pnu.newportmapping.lifetime != be32(d + 12))
		abort();
	if (want->lifetime > 0 && (r->pnu.newportmapping.mappedpublicport == 0 ||
	    r->pnu.newportmapping.lifetime == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natpmp_epoch ep = { 0, 0, 0 };
	time_t now = 1000;

	if (gw < 0)
		setup();
	for (int rec = 0; rec < RECORDS_MAX && size >= 2; rec++) {
		struct natpmp_want want = { NATPMP_RESPTYPE_PUBLICADDRESS, 0, 0 };
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		uint8_t req[16];
		size_t n = data[1] < size - 2 ? data[1] : size - 2;
		const uint8_t *d = data + 2;
		natpmpresp_t r;
		int kind = data[0] & 3, rc;

		now += data[0] >> 2;
		data += 2 + n;
		size -= 2 + n;
		drain(nat.s);
		drain(gw);
		if (kind == 1 || kind == 2) {
			want.type = NATPMP_RESPTYPE_TCPPORTMAPPING;
			want.int_port = PORT;
			want.lifetime = kind == 1 ? LEASE : 0;
			rc = sendnewportmappingrequest(&nat, NATPMP_PROTOCOL_TCP, PORT, PORT,
			    want.lifetime);
		} else
			rc = sendpublicaddressrequest(&nat);
		if (rc < 0 || recvfrom(gw, req, sizeof(req), 0, (struct sockaddr *)&from,
		    &fromlen) < 0)
			abort();           /* loopback lost a datagram: nothing was tested */
		if (sendto(gw, d, n, 0, (struct sockaddr *)&from, fromlen) != (ssize_t)n)
			abort();
		memset(&r, 0, sizeof(r));
		rc = natpmp_reply_read(&nat, &want, WAIT_MS, &r);
		if (rc != 0)
			continue;
		check_answer(&want, &r, d, n);
		(void)natpmp_epoch_went_down(&ep, r.epoch, now);
	}
	return 0;
}

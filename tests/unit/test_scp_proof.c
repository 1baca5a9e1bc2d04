/* test_scp_proof.c: both ends of one TLS connection derive the same SCP proof, and another
 * connection with the same secret and session derives a different one: a recorded SCP_BIND
 * cannot be replayed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check.h"
#include "proto.h"
#include "scp_proof.h"
#include "tls.h"

struct pair {
	struct bufferevent *srv, *cli;
	int                 up;
};

static struct event_base *base;

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct pair *p = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED && ++p->up == 2)
		event_base_loopbreak(base);
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		event_base_loopbreak(base);
}

static void
give_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* A TLS connection over a socketpair, the server end presenting the test certificate. */
static int
connect_pair(struct pair *p, struct tls_ctx *sctx, struct tls_ctx *cctx)
{
	int sv[2];
	struct event *guard = evtimer_new(base, give_up, base);
	struct timeval tv = { 20, 0 };

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	p->srv = tls_bev_accept(base, sv[0], sctx);
	p->cli = tls_bev_connect(base, sv[1], cctx, NULL);
	bufferevent_setcb(p->srv, NULL, NULL, on_event, p);
	bufferevent_setcb(p->cli, NULL, NULL, on_event, p);
	bufferevent_enable(p->srv, EV_READ | EV_WRITE);
	bufferevent_enable(p->cli, EV_READ | EV_WRITE);
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
	return p->up == 2 ? 0 : -1;
}

int
main(void)
{
	char dir[] = "/tmp/netcfax-proof-XXXXXX", crt[128], key[128], err[256], cmd[160];
	uint8_t secret[32], other[32], a_srv[32], a_cli[32], b_srv[32], a_client_label[32];
	struct tls_ctx *sctx, *cctx;
	struct pair a, b;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(crt, sizeof(crt), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	CHECK_INT(tls_ensure_selfsigned(crt, key, "localhost", err, sizeof(err)), 1);
	base = event_base_new();
	sctx = tls_server_ctx_new(crt, key, TLS_MIN_12, err, sizeof(err));
	cctx = tls_client_ctx_new(NULL, err, sizeof(err));
	CHECK(sctx != NULL && cctx != NULL);
	memset(secret, 0x5a, sizeof(secret));
	memset(other, 0xa5, sizeof(other));

	CHECK_INT(connect_pair(&a, sctx, cctx), 0);
	CHECK_INT(connect_pair(&b, sctx, cctx), 0);

	CHECK_INT(scp_proof(a.srv, secret, 42, NCFX_SCP_LABEL_SERVER, a_srv), 0);
	CHECK_INT(scp_proof(a.cli, secret, 42, NCFX_SCP_LABEL_SERVER, a_cli), 0);
	CHECK(memcmp(a_srv, a_cli, 32) == 0);          /* both ends agree */
	CHECK_INT(scp_proof(b.srv, secret, 42, NCFX_SCP_LABEL_SERVER, b_srv), 0);
	CHECK(memcmp(a_srv, b_srv, 32) != 0);          /* bound to the connection */
	CHECK_INT(scp_proof(a.cli, secret, 43, NCFX_SCP_LABEL_SERVER, b_srv), 0);
	CHECK(memcmp(a_srv, b_srv, 32) != 0);          /* bound to the session */
	CHECK_INT(scp_proof(a.cli, other, 42, NCFX_SCP_LABEL_SERVER, b_srv), 0);
	CHECK(memcmp(a_srv, b_srv, 32) != 0);          /* needs the secret */
	CHECK_INT(scp_proof(a.cli, secret, 42, NCFX_SCP_LABEL_CLIENT, a_client_label), 0);
	CHECK(memcmp(a_srv, a_client_label, 32) != 0); /* a proof cannot be reflected back */

	bufferevent_free(a.srv);
	bufferevent_free(a.cli);
	bufferevent_free(b.srv);
	bufferevent_free(b.cli);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
	return check_report("test_scp_proof");
}

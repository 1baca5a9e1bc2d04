/* relay.c: NOTIFY frames on the session's PCP connection. The client acknowledges them there
 * with NOTIFY_ACK, which the session hands to the same delivery the direct path uses, so the
 * numbering, window and replay do not change when a session moves between paths. */
#include "relay.h"

#include <stdlib.h>

#include "delivery.h"
#include "proto.h"
#include "session.h"

struct relay {
	struct session *s;
};

static int
relay_send(void *impl, struct ncfx_wbuf *w)
{
	struct relay *r = impl;

	return session_queue(r->s, w);
}

static const struct path_ops relay_ops = { NCFX_PATH_RELAY, relay_send, NULL };

struct relay *
relay_new(struct session *s)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->s = s;
	delivery_attach(session_delivery(s), &relay_ops, r);
	return r;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	delivery_detach(session_delivery(r->s), r);
	free(r);
}

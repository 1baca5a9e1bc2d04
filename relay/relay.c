/* relay.c: NOTIFY frames on the session's PCP connection. The client acknowledges them there
 * with NOTIFY_ACK, which the session hands to the same delivery the direct path uses, so the
 * numbering, window and replay do not change when a session moves between paths. It reaches
 * the session only through the notify_host it was given. */
#include "relay.h"

#include <stdlib.h>

#include "delivery.h"
#include "proto.h"

struct relay {
	const struct notify_host *h;
	struct delivery          *d;
};

static int
relay_send(void *impl, struct ncfx_wbuf *w)
{
	struct relay *r = impl;

	return r->h->queue(r->h->arg, w);
}

/* No wake: the PCP connection is there as long as the session is. */
static const struct path_ops relay_ops = { NCFX_PATH_RELAY, relay_send, NULL };

struct relay *
relay_new(const struct notify_host *h, struct delivery *d)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->h = h;
	r->d = d;
	delivery_attach(d, &relay_ops, r);
	return r;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	delivery_detach(r->d, r);
	free(r);
}

static void *
paths_relay_new(const struct notify_host *h, struct delivery *d)
{
	return relay_new(h, d);
}

static void
paths_relay_free(void *r)
{
	relay_free(r);
}

void
relay_paths(struct notify_paths *np)
{
	np->relay_new = paths_relay_new;
	np->relay_free = paths_relay_free;
}

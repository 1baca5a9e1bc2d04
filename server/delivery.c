/* delivery.c: the per-session cursor over the user's outbox, and the one place NOTIFY frames
 * are made. */
#include "delivery.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "frame_io.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "session.h"
#include "store.h"

#define DELIVERY_WINDOW 64   /* notifications sent but not yet acknowledged */

struct delivery {
	struct session        *s;
	const struct path_ops *ops;      /* the path in use, or NULL */
	void                  *impl;
	uint64_t               sent, acked;
	time_t                 progress;  /* last ack, or the first send into an empty window */
};

struct delivery *
delivery_new(struct session *s, uint64_t resume)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->s = s;
	d->sent = d->acked = resume;
	return d;
}

void
delivery_free(struct delivery *d)
{
	free(d);
}

void
delivery_attach(struct delivery *d, const struct path_ops *ops, void *impl)
{
	d->ops = ops;
	d->impl = impl;
	/* What an earlier path sent and nobody acknowledged goes again on this one. */
	d->sent = d->acked;
	d->progress = time(NULL);
	delivery_pump(d);
}

void
delivery_detach(struct delivery *d, void *impl)
{
	if (d->impl != impl)
		return;
	d->ops = NULL;
	d->impl = NULL;
}

int
delivery_path(const struct delivery *d)
{
	return d->ops ? d->ops->kind : NCFX_PATH_NONE;
}

int
delivery_uses(const struct delivery *d, const void *impl)
{
	return d->impl == impl && impl != NULL;
}

static int
send_one(const struct store_note *n, void *arg)
{
	struct delivery *d = arg;
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_NOTIFY, 0, 0);
	ncfx_put_u64(&w, NCFX_T_SEQ, n->seq);
	ncfx_put_u16(&w, NCFX_T_EVENT, (uint16_t)n->event);
	if (n->job)
		ncfx_put_u64(&w, NCFX_T_JOB_ID, (uint64_t)n->job);
	if (n->state)
		ncfx_put_u8(&w, NCFX_T_STATE, (uint8_t)n->state);
	/* A row that is not valid protocol text (written by an older tool, or damaged) must
	 * not make the client reject the frame and stall this user's stream. */
	if (n->text[0])
		ncfx_put_text(&w, NCFX_T_TEXT, n->text);
	ncfx_put_u64(&w, NCFX_T_CREATED, (uint64_t)n->created);
	if (n->page)
		ncfx_put_u32(&w, NCFX_T_PAGE, (uint32_t)n->page);
	if (n->pages)
		ncfx_put_u32(&w, NCFX_T_PAGES, (uint32_t)n->pages);
	if (n->bit_rate)
		ncfx_put_u32(&w, NCFX_T_BIT_RATE, (uint32_t)n->bit_rate);
	if (n->ecm)
		ncfx_put_u8(&w, NCFX_T_ECM, 1);
	if (n->remote_id[0])
		ncfx_put_text(&w, NCFX_T_REMOTE_ID, n->remote_id);
	if (n->fax)
		ncfx_put_u64(&w, NCFX_T_FAX_ID, (uint64_t)n->fax);
	if (n->dest[0])
		ncfx_put_str(&w, NCFX_T_DEST, n->dest);
	if (n->filename[0])
		ncfx_put_text(&w, NCFX_T_FILENAME, n->filename);
	if (d->ops->send(d->impl, &w) < 0) {
		log_errorx("notification %" PRIu64 " could not be queued", n->seq);
		return 1;
	}
	d->sent = n->seq;
	return 0;
}

void
delivery_pump(struct delivery *d)
{
	struct server *srv;
	uint64_t inflight;

	if (d == NULL || d->ops == NULL)
		return;
	inflight = d->sent - d->acked;
	if (inflight >= DELIVERY_WINDOW)
		return;
	if (inflight == 0)
		d->progress = time(NULL);   /* the ack clock starts with the first unacked send */
	srv = session_server(d->s);
	if (store_note_list(srv->store, session_user_id(d->s), d->sent,
	    (int)(DELIVERY_WINDOW - inflight), send_one, d) < 0)
		log_warnx("store: %s", store_errmsg(srv->store));
}

int
delivery_ack(struct delivery *d, uint64_t seq)
{
	struct server *srv = session_server(d->s);

	if (seq > d->sent)
		return -1;
	if (seq <= d->acked)
		return 0;
	d->acked = seq;
	d->progress = time(NULL);
	if (store_user_ack(srv->store, session_user_id(d->s), seq) < 0)
		log_warnx("store: %s", store_errmsg(srv->store));
	delivery_pump(d);
	return 0;
}

long
delivery_stalled(const struct delivery *d, time_t now)
{
	return d->sent > d->acked ? (long)(now - d->progress) : 0;
}

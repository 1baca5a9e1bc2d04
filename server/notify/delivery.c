/* delivery.c: the per-session cursor over the user's outbox, and the one place NOTIFY frames
 * are made. It knows its user and its log tag, not the session: the session drives it through
 * notify.h, paths through path_ops. */
#include "delivery.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "frame_io.h"
#include "log.h"
#include "outbox.h"
#include "proto.h"

#define DELIVERY_WINDOW NOTIFY_WINDOW   /* notifications sent but not yet acknowledged */

struct delivery {
	struct outbox_member   member;   /* in the outbox's registry: notify_user pumps it */
	struct outbox         *ob;
	int64_t                user;
	const char            *tag;
	const struct path_ops *ops;      /* the path in use, or NULL */
	void                  *impl;
	uint64_t               sent, acked;
	time_t                 progress;  /* last ack, or the first send into an empty window */
	int                    at_end;    /* a read reached the end of the outbox ... */
	uint64_t               end_gen;   /* ... at this outbox_gen */
	int                    failed;    /* a NOTIFY could not be queued in this read */
	unsigned               attaches;  /* counts delivery_attach: a send that re-attached */
	int                    asleep;    /* the path closed while idle: wake it to send */
	int                    waking;    /* ... and it was asked to */
};

static void
pump_cb(void *owner)
{
	delivery_pump(owner);
}

struct delivery *
delivery_new(struct outbox *ob, int64_t user, uint64_t resume, const char *tag)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->ob = ob;
	d->user = user;
	d->tag = tag;
	d->sent = d->acked = resume;
	d->member.user = user;
	d->member.pump = pump_cb;
	d->member.owner = d;
	outbox_join(ob, &d->member);
	return d;
}

void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	outbox_leave(d->ob, &d->member);
	free(d);
}

void
delivery_quiet(struct delivery *d)
{
	if (d != NULL)
		outbox_leave(d->ob, &d->member);
}

void
delivery_attach(struct delivery *d, const struct path_ops *ops, void *impl)
{
	d->ops = ops;
	d->impl = impl;
	/* What an earlier path sent and nobody acknowledged goes again on this one. */
	d->sent = d->acked;
	d->at_end = 0;
	d->attaches++;
	d->asleep = d->waking = 0;
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
	d->asleep = d->waking = 0;
}

void
delivery_sleep(struct delivery *d, void *impl)
{
	if (d->impl != impl || d->ops == NULL || d->ops->wake == NULL)
		return;
	d->asleep = 1;
	d->waking = 0;
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
	/* The row's column is read into NCFX_MEDIA_MAX bytes, within the tag's cap. */
	if (n->media[0])
		ncfx_put_text(&w, NCFX_T_MEDIA, n->media);
	if (n->fax)
		ncfx_put_u64(&w, NCFX_T_FAX_ID, (uint64_t)n->fax);
	if (n->dest[0])
		ncfx_put_str(&w, NCFX_T_DEST, n->dest);
	if (n->filename[0])
		ncfx_put_text(&w, NCFX_T_FILENAME, n->filename);
	if (d->ops->send(d->impl, &w) < 0) {
		log_errorx("%s: notification %" PRIu64 " could not be queued", d->tag,
		    n->seq);
		d->failed = 1;
		return 1;
	}
	d->sent = n->seq;
	return 0;
}

static int
count_one(const struct store_note *n, void *arg)
{
	(void)n;
	(void)arg;
	return 0;
}

void
delivery_pump(struct delivery *d)
{
	const struct outbox_read *r;
	uint64_t inflight;
	unsigned attaches;
	int limit, i;

	if (d == NULL || d->ops == NULL)
		return;
	inflight = d->sent - d->acked;
	if (inflight >= DELIVERY_WINDOW)
		return;
	/* Read to the end already, and nothing added since: an ack that opens the window need
	 * not look again. */
	if (d->at_end && d->end_gen == outbox_gen(d->ob))
		return;
	if (inflight == 0)
		d->progress = time(NULL);   /* the ack clock starts with the first unacked send */
	limit = (int)(DELIVERY_WINDOW - inflight);
	if (d->asleep) {
		/* Nothing is sent on a sleeping path: it is woken if there is something to send,
		 * and sends it from the last ack once it has attached again. */
		if (d->waking)
			return;
		if (outbox_held(d->ob)) {
			/* Inside another delivery's send loop the shared read is in use. */
			int n = outbox_list(d->ob, d->user, d->sent, 1, count_one, NULL);

			if (n > 0) {
				d->waking = 1;
				d->ops->wake(d->impl);
			}
			return;
		}
		if ((r = outbox_read(d->ob, d->user, d->sent, 1)) == NULL)
			return;
		if (r->n == 0) {
			d->at_end = 1;
			d->end_gen = outbox_gen(d->ob);
			return;
		}
		d->waking = 1;
		d->ops->wake(d->impl);
		return;
	}
	d->at_end = 0;
	d->failed = 0;
	if (outbox_held(d->ob)) {
		/* A send that tore down a path and pumped another delivery from inside this
		 * loop: the shared read is in use, so this one reads for itself. */
		if (outbox_list(d->ob, d->user, d->sent, limit, send_one, d) < 0)
			log_warnx("%s: store: %s", d->tag, outbox_errmsg(d->ob));
		return;
	}
	if ((r = outbox_read(d->ob, d->user, d->sent, limit)) == NULL)
		return;
	outbox_hold(d->ob, 1);
	attaches = d->attaches;
	for (i = 0; i < r->n && i < limit && d->ops != NULL && d->attaches == attaches; i++)
		if (send_one(&r->rows[i], d) != 0)
			break;
	outbox_hold(d->ob, 0);
	if (d->attaches != attaches)
		return;                     /* a new path started over from the last ack */
	if (i == r->n && r->n < r->asked && !d->failed && d->ops != NULL) {
		d->at_end = 1;
		d->end_gen = outbox_gen(d->ob);
	}
}

int
delivery_ack(struct delivery *d, uint64_t seq)
{
	if (seq > d->sent)
		return -1;
	if (seq <= d->acked)
		return 0;
	d->acked = seq;
	d->progress = time(NULL);
	outbox_ack(d->ob, d->user, seq);
	delivery_pump(d);
	return 0;
}

long
delivery_stalled(const struct delivery *d, time_t now)
{
	return d->sent > d->acked ? (long)(now - d->progress) : 0;
}

uint64_t
delivery_sent(const struct delivery *d)
{
	return d->sent;
}

uint64_t
delivery_acked(const struct delivery *d)
{
	return d->acked;
}

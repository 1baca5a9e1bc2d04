/* outbox.c: reads of the users' outboxes, kept for the next session that asks the same, and
 * the fan-out of a new notification to every session of its user. */
#include "outbox.h"

#include <stdlib.h>

#include "log.h"

/* Deliveries by user: a notification for one user looks at that user's bucket only, not at
 * every session of the server. */
#define OUTBOX_BUCKETS 256

struct outbox {
	struct outbox_store   st;
	uint64_t              gen;
	/* The last read. A notification to a user with many sessions pumps them one after
	 * another in one loop turn, each asking for the same rows after the same seq: one read
	 * serves them all. It holds while gen stands still (nothing can have been added, and
	 * pruning moves it too). One loop thread: one read is kept. */
	struct outbox_read   *last;
	int                   held;       /* last's rows are being sent */
	struct outbox_member *bucket[OUTBOX_BUCKETS];
};

static unsigned
bucket_of(int64_t user)
{
	return (unsigned)((uint64_t)user % OUTBOX_BUCKETS);
}

struct outbox *
outbox_new(const struct outbox_store *st)
{
	struct outbox *ob = calloc(1, sizeof(*ob));

	if (ob == NULL)
		return NULL;
	ob->st = *st;
	return ob;
}

void
outbox_free(struct outbox *ob)
{
	if (ob == NULL)
		return;
	free(ob->last);
	free(ob);
}

void
outbox_join(struct outbox *ob, struct outbox_member *m)
{
	unsigned b = bucket_of(m->user);

	if (m->joined)
		return;
	m->prev = NULL;
	m->next = ob->bucket[b];
	if (m->next)
		m->next->prev = m;
	ob->bucket[b] = m;
	m->joined = 1;
}

void
outbox_leave(struct outbox *ob, struct outbox_member *m)
{
	if (!m->joined)
		return;
	if (m->prev)
		m->prev->next = m->next;
	else
		ob->bucket[bucket_of(m->user)] = m->next;
	if (m->next)
		m->next->prev = m->prev;
	m->prev = m->next = NULL;
	m->joined = 0;
}

static void
pump_bucket(struct outbox *ob, unsigned b, int64_t user)
{
	struct outbox_member *m, *next;

	/* A pump may take its own member out (a session closing on a failed send): the next
	 * one is taken first. */
	for (m = ob->bucket[b]; m != NULL; m = next) {
		next = m->next;
		if (user == 0 || m->user == user)
			m->pump(m->owner);
	}
}

void
notify_user(struct outbox *ob, int64_t user)
{
	/* At start the daemon files the faxes and jobs a crash left before the outbox exists;
	 * no session is there yet to be told, and each reads its outbox when it logs in. */
	if (ob == NULL)
		return;
	ob->gen++;
	if (user != 0) {
		pump_bucket(ob, bucket_of(user), user);
		return;
	}
	for (unsigned b = 0; b < OUTBOX_BUCKETS; b++)
		pump_bucket(ob, b, 0);
}

void
outbox_changed(struct outbox *ob)
{
	ob->gen++;
}

uint64_t
outbox_gen(const struct outbox *ob)
{
	return ob->gen;
}

static int
collect(const struct store_note *n, void *arg)
{
	struct outbox_read *r = arg;

	if (r->n < NOTIFY_WINDOW)
		r->rows[r->n++] = *n;
	return 0;
}

const struct outbox_read *
outbox_read(struct outbox *ob, int64_t user, uint64_t after, int limit)
{
	struct outbox_read *r = ob->last;

	if (r != NULL && r->valid && r->gen == ob->gen && r->user == user &&
	    r->after == after && (r->asked >= limit || r->n < r->asked))
		return r;
	if (r == NULL && (r = ob->last = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->valid = 0;
	r->n = 0;
	if (limit > NOTIFY_WINDOW)
		limit = NOTIFY_WINDOW;
	if (ob->st.list(ob->st.impl, user, after, limit, collect, r) < 0) {
		log_warnx("store: %s", outbox_errmsg(ob));
		return NULL;
	}
	r->valid = 1;
	r->gen = ob->gen;
	r->user = user;
	r->after = after;
	r->asked = limit;
	return r;
}

void
outbox_hold(struct outbox *ob, int on)
{
	ob->held = on;
}

int
outbox_held(const struct outbox *ob)
{
	return ob->held;
}

int
outbox_list(struct outbox *ob, int64_t user, uint64_t after, int limit, outbox_note_fn fn,
    void *arg)
{
	return ob->st.list(ob->st.impl, user, after, limit, fn, arg);
}

void
outbox_ack(struct outbox *ob, int64_t user, uint64_t seq)
{
	ob->st.ack(ob->st.impl, user, seq);
}

int
outbox_seqs(struct outbox *ob, int64_t user, uint64_t *last, uint64_t *acked)
{
	return ob->st.seqs(ob->st.impl, user, last, acked);
}

const char *
outbox_errmsg(struct outbox *ob)
{
	return ob->st.errmsg ? ob->st.errmsg(ob->st.impl) : "unknown error";
}

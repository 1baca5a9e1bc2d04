/* ackbatch.c: acknowledgements collected over a loop turn (see ackbatch.h). */
#include "ackbatch.h"

#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "store.h"

/* Distinct users with an ack in one turn; one more flushes at once. */
#define ACKBATCH_MAX 256
#define ACKBATCH_RETRY 1         /* seconds, after the store refused a batch */

struct ackbatch {
	struct store *st;
	struct event *ev;                  /* activated by the first ack of a turn */
	int           n;
	int64_t       user[ACKBATCH_MAX];
	uint64_t      seq[ACKBATCH_MAX];
};

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ackbatch_flush(arg);
}

struct ackbatch *
ackbatch_new(struct event_base *base, struct store *st)
{
	struct ackbatch *ab = calloc(1, sizeof(*ab));

	if (ab == NULL)
		return NULL;
	ab->st = st;
	if ((ab->ev = event_new(base, -1, 0, on_flush, ab)) == NULL) {
		free(ab);
		return NULL;
	}
	return ab;
}

void
ackbatch_free(struct ackbatch *ab)
{
	if (ab == NULL)
		return;
	ackbatch_flush(ab);
	event_free(ab->ev);
	free(ab);
}

void
ackbatch_add(struct ackbatch *ab, int64_t user, uint64_t seq)
{
	int i;

	for (i = 0; i < ab->n && ab->user[i] != user; i++)
		;
	if (i == ab->n) {
		if (ab->n == ACKBATCH_MAX) {
			ackbatch_flush(ab);
			if (ab->n == ACKBATCH_MAX) {
				/* The store refuses and the batch is full: this one is not
				 * kept. The user's stored ack stays behind until a later one. */
				log_warnx("user_id=%lld: acknowledgement of seq %llu not saved",
				    (long long)user, (unsigned long long)seq);
				return;
			}
		}
		i = ab->n++;
		ab->user[i] = user;
		ab->seq[i] = seq;
	} else if (seq > ab->seq[i])
		ab->seq[i] = seq;
	/* Runs after the callbacks already due in this turn, the other sessions' acks among
	 * them. (Activating an active event only merges the flags.) While the store refuses,
	 * the ack waits for the next try instead, so that a long lock costs the loop one short
	 * wait a second, not one per arriving ack. */
	if (!event_pending(ab->ev, EV_TIMEOUT, NULL))
		event_active(ab->ev, EV_TIMEOUT, 0);
}

void
ackbatch_flush(struct ackbatch *ab)
{
	struct timeval retry = { ACKBATCH_RETRY, 0 };

	if (ab->n == 0)
		return;
	if (store_user_ack_batch(ab->st, ab->user, ab->seq, ab->n) == STORE_OK) {
		ab->n = 0;
		return;
	}
	/* Kept and tried again (new acks merge in): the clients will not ack these seqs again. */
	log_warnx("saving acknowledgements (user %lld up to seq %llu%s): store: %s; trying again "
	    "in %d s", (long long)ab->user[0], (unsigned long long)ab->seq[0], ab->n > 1 ?
	    ", and more users" : "", store_errmsg(ab->st), ACKBATCH_RETRY);
	/* From now: the loop's cached time is from before the store kept us waiting. */
	event_base_update_cache_time(event_get_base(ab->ev));
	event_add(ab->ev, &retry);
}

/* test_hashpool.c: password checks on worker threads come back on the loop thread, in full,
 * except the cancelled ones; a full queue says so instead of growing. */
#include <pthread.h>
#include <string.h>

#include <event2/event.h>

#include "check.h"
#include "crypto.h"
#include "hashpool.h"

#define N 6

static int results[N];
static int delivered;
static pthread_t loop_thread;
static int wrong_thread;
static struct event_base *base;

static void
done(int result, void *arg)
{
	int i = (int)(long)arg;

	if (!pthread_equal(pthread_self(), loop_thread))
		wrong_thread++;
	results[i] = result;
	if (++delivered == N - 1)   /* one of N is cancelled */
		event_base_loopbreak(base);
}

static void
give_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(void)
{
	char good[CRYPTO_PWHASH_MAX];
	struct hashpool *hp;
	struct hash_job *jobs[N];
	struct event *guard;
	struct timeval tv = { 60, 0 };

	loop_thread = pthread_self();
	base = event_base_new();
	CHECK_INT(crypto_password_hash("s3cret-pass", 11, 10, good), 0);
	hp = hashpool_new(base, 2, N);
	CHECK(hp != NULL);
	for (int i = 0; i < N; i++) {
		results[i] = 99;
		jobs[i] = hashpool_verify(hp, i % 2 ? "wrong" : "s3cret-pass", i % 2 ? 5 : 11, good,
		    done, (void *)(long)i);
		CHECK(jobs[i] != NULL);
	}
	/* the queue is full: refused, not grown */
	CHECK(hashpool_verify(hp, "x", 1, good, done, NULL) == NULL);
	hashpool_cancel(jobs[4]);
	/* a bound, so a broken pool fails the test instead of hanging it */
	guard = evtimer_new(base, give_up, base);
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	CHECK_INT(delivered, N - 1);
	CHECK_INT(wrong_thread, 0);
	CHECK_INT(results[0], 1);
	CHECK_INT(results[1], 0);
	CHECK_INT(results[2], 1);
	CHECK_INT(results[3], 0);
	CHECK_INT(results[4], 99);     /* cancelled: never called back */
	CHECK_INT(results[5], 0);
	/* delivered jobs left the queue: there is room again */
	CHECK(hashpool_verify(hp, "x", 1, "garbage", done, (void *)0L) != NULL);
	hashpool_free(hp);             /* with one job possibly still queued: no leak, no hang */
	event_free(guard);
	event_base_free(base);
	return check_report("test_hashpool");
}

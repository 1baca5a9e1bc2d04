/* hashpool.c: a fixed set of worker threads verifying passwords. Workers touch no libevent
 * state: they queue results and write one byte to a pipe that the loop thread watches. */
#include "hashpool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto.h"
#include "log.h"
#include "proto.h"

struct hash_job {
	struct hashpool *hp;
	struct hash_job *next;
	char             pw[NCFX_PASSWORD_MAX + 1];
	size_t           pwlen;
	char             stored[CRYPTO_PWHASH_MAX];
	int              result;
	int              cancelled;   /* under hp->lock */
	hashpool_done_fn done;
	void            *arg;
};

struct hashpool {
	pthread_mutex_t  lock;
	pthread_cond_t   work;
	struct hash_job *todo, *todo_tail;
	struct hash_job *finished;
	int              queued;      /* waiting + running + finished-not-delivered */
	int              max_queued;
	int              stopping;
	pthread_t       *threads;
	int              nthreads;
	int              pipe[2];
	struct event    *ev;
};

static void
job_free(struct hash_job *j)
{
	explicit_bzero(j->pw, sizeof(j->pw));
	free(j);
}

static void *
worker(void *arg)
{
	struct hashpool *hp = arg;

	pthread_mutex_lock(&hp->lock);
	for (;;) {
		struct hash_job *j;

		while (hp->todo == NULL && !hp->stopping)
			pthread_cond_wait(&hp->work, &hp->lock);
		if (hp->stopping)
			break;
		j = hp->todo;
		hp->todo = j->next;
		if (hp->todo == NULL)
			hp->todo_tail = NULL;
		if (!j->cancelled) {
			pthread_mutex_unlock(&hp->lock);
			j->result = crypto_password_verify(j->pw, j->pwlen, j->stored);
			pthread_mutex_lock(&hp->lock);
		}
		j->next = hp->finished;
		hp->finished = j;
		/* A full pipe already holds a wake-up; losing this byte loses nothing. */
		(void)!write(hp->pipe[1], "x", 1);
	}
	pthread_mutex_unlock(&hp->lock);
	return NULL;
}

static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct hashpool *hp = arg;
	struct hash_job *list, *next;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&hp->lock);
	list = hp->finished;
	hp->finished = NULL;
	pthread_mutex_unlock(&hp->lock);
	/* Callbacks run without the lock: they may queue new jobs or cancel others. */
	for (; list; list = next) {
		int cancelled;

		next = list->next;
		pthread_mutex_lock(&hp->lock);
		cancelled = list->cancelled;
		hp->queued--;
		pthread_mutex_unlock(&hp->lock);
		if (!cancelled)
			list->done(list->result, list->arg);
		job_free(list);
	}
}

struct hashpool *
hashpool_new(struct event_base *base, int nthreads, int max_queued)
{
	struct hashpool *hp = calloc(1, sizeof(*hp));

	if (hp == NULL)
		return NULL;
	pthread_mutex_init(&hp->lock, NULL);
	pthread_cond_init(&hp->work, NULL);
	hp->max_queued = max_queued;
	hp->pipe[0] = hp->pipe[1] = -1;
	if (pipe2(hp->pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		goto fail;
	hp->ev = event_new(base, hp->pipe[0], EV_READ | EV_PERSIST, deliver, hp);
	hp->threads = calloc((size_t)nthreads, sizeof(*hp->threads));
	if (hp->ev == NULL || hp->threads == NULL || event_add(hp->ev, NULL) != 0)
		goto fail;
	for (; hp->nthreads < nthreads; hp->nthreads++)
		if (pthread_create(&hp->threads[hp->nthreads], NULL, worker, hp) != 0)
			goto fail;
	return hp;
fail:
	log_warn("hashpool: cannot start %d workers", nthreads);
	hashpool_free(hp);
	return NULL;
}

void
hashpool_free(struct hashpool *hp)
{
	struct hash_job *j, *next;

	if (hp == NULL)
		return;
	pthread_mutex_lock(&hp->lock);
	hp->stopping = 1;
	pthread_cond_broadcast(&hp->work);
	pthread_mutex_unlock(&hp->lock);
	for (int i = 0; i < hp->nthreads; i++)
		pthread_join(hp->threads[i], NULL);
	for (j = hp->todo; j; j = next) {
		next = j->next;
		job_free(j);
	}
	for (j = hp->finished; j; j = next) {
		next = j->next;
		job_free(j);
	}
	if (hp->ev)
		event_free(hp->ev);
	if (hp->pipe[0] >= 0)
		close(hp->pipe[0]);
	if (hp->pipe[1] >= 0)
		close(hp->pipe[1]);
	free(hp->threads);
	pthread_cond_destroy(&hp->work);
	pthread_mutex_destroy(&hp->lock);
	free(hp);
}

struct hash_job *
hashpool_verify(struct hashpool *hp, const char *pw, size_t pwlen, const char *stored,
    hashpool_done_fn done, void *arg)
{
	struct hash_job *j;

	if (pwlen > NCFX_PASSWORD_MAX || strlen(stored) >= CRYPTO_PWHASH_MAX)
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	memcpy(j->pw, pw, pwlen);
	j->pwlen = pwlen;
	memcpy(j->stored, stored, strlen(stored) + 1);
	j->hp = hp;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&hp->lock);
	if (hp->queued >= hp->max_queued) {
		pthread_mutex_unlock(&hp->lock);
		job_free(j);
		return NULL;
	}
	hp->queued++;
	if (hp->todo_tail)
		hp->todo_tail->next = j;
	else
		hp->todo = j;
	hp->todo_tail = j;
	pthread_cond_signal(&hp->work);
	pthread_mutex_unlock(&hp->lock);
	return j;
}

void
hashpool_cancel(struct hash_job *job)
{
	if (job == NULL)
		return;
	pthread_mutex_lock(&job->hp->lock);
	job->cancelled = 1;
	pthread_mutex_unlock(&job->hp->lock);
}

/* workpool.c: the worker threads. They touch no libevent state: a finished job goes on a list
 * under the lock, and one byte written to a pipe wakes the loop thread, which delivers. */
#include "workpool.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

struct workpool_job {
	struct workpool     *wp;
	struct workpool_job *next;
	workpool_fn          work, done, release;
	void                *arg;
	int                  cancelled;   /* under wp->lock */
	int                  posted;      /* a workpool_post: done(arg) only, not counted */
};

struct workpool {
	pthread_mutex_t      lock;
	pthread_cond_t       wake;
	struct workpool_job *todo, *todo_tail;
	struct workpool_job *finished, *finished_tail;  /* in order: posts before their job */
	int                  queued;      /* waiting + running + finished-not-delivered */
	int                  max_queued;
	int                  stopping;
	pthread_t           *threads;
	int                  nthreads;
	int                  pipe[2];
	struct event        *ev;
	char                 name[32];
};

/* Under the lock. */
static void
append_finished(struct workpool *wp, struct workpool_job *j)
{
	j->next = NULL;
	if (wp->finished_tail)
		wp->finished_tail->next = j;
	else
		wp->finished = j;
	wp->finished_tail = j;
}

static void *
worker(void *arg)
{
	struct workpool *wp = arg;

	pthread_mutex_lock(&wp->lock);
	for (;;) {
		struct workpool_job *j;

		while (wp->todo == NULL && !wp->stopping)
			pthread_cond_wait(&wp->wake, &wp->lock);
		if (wp->stopping)
			break;
		j = wp->todo;
		wp->todo = j->next;
		if (wp->todo == NULL)
			wp->todo_tail = NULL;
		if (!j->cancelled) {
			pthread_mutex_unlock(&wp->lock);
			j->work(j->arg);
			pthread_mutex_lock(&wp->lock);
		}
		append_finished(wp, j);
		/* A full pipe already holds a wake-up; losing this byte loses nothing. */
		(void)!write(wp->pipe[1], "x", 1);
	}
	pthread_mutex_unlock(&wp->lock);
	return NULL;
}

static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *wp = arg;
	struct workpool_job *list, *next;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&wp->lock);
	list = wp->finished;
	wp->finished = wp->finished_tail = NULL;
	pthread_mutex_unlock(&wp->lock);
	/* Callbacks run without the lock: they may submit new jobs or cancel others. */
	for (; list; list = next) {
		int cancelled;

		next = list->next;
		if (list->posted) {
			list->done(list->arg);
			free(list);
			continue;
		}
		pthread_mutex_lock(&wp->lock);
		cancelled = list->cancelled;
		wp->queued--;
		pthread_mutex_unlock(&wp->lock);
		if (!cancelled && list->done)
			list->done(list->arg);
		if (list->release)
			list->release(list->arg);
		free(list);
	}
}

struct workpool *
workpool_new(struct event_base *base, int nthreads, int max_queued, const char *name)
{
	struct workpool *wp = calloc(1, sizeof(*wp));

	if (wp == NULL)
		return NULL;
	pthread_mutex_init(&wp->lock, NULL);
	pthread_cond_init(&wp->wake, NULL);
	snprintf(wp->name, sizeof(wp->name), "%s", name);
	wp->max_queued = max_queued;
	wp->pipe[0] = wp->pipe[1] = -1;
	if (pipe2(wp->pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		goto fail;
	wp->ev = event_new(base, wp->pipe[0], EV_READ | EV_PERSIST, deliver, wp);
	wp->threads = calloc((size_t)nthreads, sizeof(*wp->threads));
	if (wp->ev == NULL || wp->threads == NULL || event_add(wp->ev, NULL) != 0)
		goto fail;
	for (; wp->nthreads < nthreads; wp->nthreads++)
		if (pthread_create(&wp->threads[wp->nthreads], NULL, worker, wp) != 0)
			goto fail;
	return wp;
fail:
	log_warn("%s: cannot start %d workers", name, nthreads);
	workpool_free(wp);
	return NULL;
}

static void
release_list(struct workpool_job *j)
{
	struct workpool_job *next;

	for (; j; j = next) {
		next = j->next;
		if (j->posted)
			free(j->arg);
		else if (j->release)
			j->release(j->arg);
		free(j);
	}
}

static void
stop_workers(struct workpool *wp)
{
	pthread_mutex_lock(&wp->lock);
	wp->stopping = 1;
	wp->max_queued = 0;               /* no new jobs from here on */
	pthread_cond_broadcast(&wp->wake);
	pthread_mutex_unlock(&wp->lock);
	for (int i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	wp->nthreads = 0;
}

void
workpool_drain(struct workpool *wp)
{
	if (wp == NULL)
		return;
	stop_workers(wp);
	release_list(wp->todo);
	wp->todo = wp->todo_tail = NULL;
	if (wp->pipe[0] >= 0)
		deliver(wp->pipe[0], EV_READ, wp);
}

void
workpool_free(struct workpool *wp)
{
	if (wp == NULL)
		return;
	stop_workers(wp);
	release_list(wp->todo);
	release_list(wp->finished);
	if (wp->ev)
		event_free(wp->ev);
	if (wp->pipe[0] >= 0)
		close(wp->pipe[0]);
	if (wp->pipe[1] >= 0)
		close(wp->pipe[1]);
	free(wp->threads);
	pthread_cond_destroy(&wp->wake);
	pthread_mutex_destroy(&wp->lock);
	free(wp);
}

struct workpool_job *
workpool_submit(struct workpool *wp, workpool_fn work, workpool_fn done, workpool_fn release,
    void *arg)
{
	struct workpool_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->wp = wp;
	j->work = work;
	j->done = done;
	j->release = release;
	j->arg = arg;
	pthread_mutex_lock(&wp->lock);
	if (wp->queued >= wp->max_queued) {
		pthread_mutex_unlock(&wp->lock);
		free(j);
		return NULL;
	}
	wp->queued++;
	if (wp->todo_tail)
		wp->todo_tail->next = j;
	else
		wp->todo = j;
	wp->todo_tail = j;
	pthread_cond_signal(&wp->wake);
	pthread_mutex_unlock(&wp->lock);
	return j;
}

int
workpool_post(struct workpool *wp, workpool_fn fn, void *arg)
{
	struct workpool_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -1;
	j->wp = wp;
	j->done = fn;
	j->arg = arg;
	j->posted = 1;
	pthread_mutex_lock(&wp->lock);
	append_finished(wp, j);
	(void)!write(wp->pipe[1], "x", 1);
	pthread_mutex_unlock(&wp->lock);
	return 0;
}

void
workpool_cancel(struct workpool_job *job)
{
	if (job == NULL)
		return;
	pthread_mutex_lock(&job->wp->lock);
	job->cancelled = 1;
	pthread_mutex_unlock(&job->wp->lock);
}

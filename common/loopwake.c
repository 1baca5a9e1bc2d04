/* loopwake.c: see loopwake.h. */
#include "loopwake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

struct loopwake {
	int           pipe[2];
	struct event *ev;
	void        (*cb)(void *);
	void         *arg;
};

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct loopwake *w = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	w->cb(w->arg);
}

struct loopwake *
loopwake_new(struct event_base *base, void (*cb)(void *), void *arg, char *err,
             size_t errlen)
{
	struct loopwake *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->pipe[0] = w->pipe[1] = -1;
	w->cb = cb;
	w->arg = arg;
	if (pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    (w->ev = event_new(base, w->pipe[0], EV_READ | EV_PERSIST, on_read, w)) == NULL ||
	    event_add(w->ev, NULL) != 0) {
		snprintf(err, errlen, "a pipe to wake the loop: %s", strerror(errno));
		loopwake_free(w);
		return NULL;
	}
	return w;
}

void
loopwake_poke(struct loopwake *w)
{
	(void)!write(w->pipe[1], "x", 1);
}

void
loopwake_free(struct loopwake *w)
{
	if (w == NULL)
		return;
	if (w->ev != NULL)
		event_free(w->ev);
	for (int i = 0; i < 2; i++)
		if (w->pipe[i] >= 0)
			close(w->pipe[i]);
	free(w);
}

/* wakeup.c: the wake-up socket (see wakeup.h). */
#include "wakeup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#define WAKEUP_NAME "netcfaxd.wake"

struct wakeup {
	int                 fd;
	dev_t               dev;          /* the socket file we made, so that we remove only it */
	ino_t               ino;
	struct event       *ev;
	struct sockaddr_un  sun;
	void              (*cb)(void *);
	void               *arg;
};

static int
wakeup_addr(const char *state_dir, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	/* sun_path is about 100 bytes: a deeper state directory gets no socket, only the poll. */
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", state_dir,
	    WAKEUP_NAME) >= sizeof(sun->sun_path))
		return -1;
	return 0;
}

/* Is a live socket bound at this path? (A killed server's file refuses connections.) */
static int
in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct wakeup *wk = arg;
	char buf[16];

	(void)what;
	while (recv(fd, buf, sizeof(buf), 0) >= 0)
		;                                   /* many writes, one look */
	wk->cb(wk->arg);
}

struct wakeup *
wakeup_open(struct event_base *base, const char *state_dir, void (*cb)(void *), void *arg,
    char *err, size_t errlen)
{
	struct wakeup *wk = calloc(1, sizeof(*wk));
	struct stat st;

	if (wk == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	wk->fd = -1;
	wk->cb = cb;
	wk->arg = arg;
	if (wakeup_addr(state_dir, &wk->sun) < 0) {
		snprintf(err, errlen, "%s is too long a path for the wake-up socket", state_dir);
		goto fail;
	}
	wk->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (wk->fd < 0) {
		snprintf(err, errlen, "wake-up socket: %s", strerror(errno));
		goto fail;
	}
	if (in_use(&wk->sun)) {
		snprintf(err, errlen, "wake-up socket %s is another running netcfaxd's: two servers "
		    "must not share a state directory", wk->sun.sun_path);
		close(wk->fd);
		wk->fd = -1;                        /* and its socket is left alone */
		goto fail;
	}
	unlink(wk->sun.sun_path);                   /* from a server that was killed */
	if (bind(wk->fd, (struct sockaddr *)&wk->sun, sizeof(wk->sun)) != 0 ||
	    chmod(wk->sun.sun_path, 0600) != 0 || stat(wk->sun.sun_path, &st) != 0) {
		snprintf(err, errlen, "wake-up socket %s: %s", wk->sun.sun_path, strerror(errno));
		goto fail;
	}
	wk->dev = st.st_dev;
	wk->ino = st.st_ino;
	wk->ev = event_new(base, wk->fd, EV_READ | EV_PERSIST, on_readable, wk);
	if (wk->ev == NULL || event_add(wk->ev, NULL) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return wk;
fail:
	wakeup_free(wk);
	return NULL;
}

void
wakeup_free(struct wakeup *wk)
{
	if (wk == NULL)
		return;
	if (wk->ev)
		event_free(wk->ev);
	if (wk->fd >= 0) {
		struct stat st;

		close(wk->fd);
		/* Only the file we bound: a server started since may have made its own. */
		if (wk->ino != 0 && stat(wk->sun.sun_path, &st) == 0 && st.st_dev == wk->dev &&
		    st.st_ino == wk->ino)
			unlink(wk->sun.sun_path);
	}
	free(wk);
}

void
wakeup_send(const char *state_dir)
{
	struct sockaddr_un sun;
	int fd;

	if (wakeup_addr(state_dir, &sun) < 0)
		return;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, "!", 1, MSG_NOSIGNAL, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
}

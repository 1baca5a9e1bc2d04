/* loopwake.h: a thread of ours waking the libevent loop, which then calls back on the loop
 * thread: the self-pipe way, one non-blocking pipe and one persistent read event. A poke
 * carries nothing; the waker leaves what it has to say under its own lock, and the callback
 * looks at all of it, so many pokes before the loop runs cost one call. */
#ifndef NETCFAX_LOOPWAKE_H
#define NETCFAX_LOOPWAKE_H

#include <stddef.h>

struct event_base;
struct loopwake;

/* cb(arg) runs on base's thread after pokes. NULL with err filled. */
struct loopwake *loopwake_new(struct event_base *base, void (*cb)(void *), void *arg,
                              char *err, size_t errlen);
/* From any thread; never blocks (a full pipe already holds a wake-up). */
void loopwake_poke(struct loopwake *w);
/* After the threads that poke have stopped. NULL is fine. */
void loopwake_free(struct loopwake *w);

#endif

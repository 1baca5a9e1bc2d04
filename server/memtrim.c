/* memtrim.c: malloc_trim after a wave of freed connections (see memtrim.h). */
#include "memtrim.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"

#define MEMTRIM_AFTER 256        /* connections freed before a trim is worth its walk */
#define MEMTRIM_DELAY 2          /* seconds: the rest of the wave first */

struct memtrim {
	struct event *timer;
	unsigned      freed;
};

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct memtrim *mt = arg;

	(void)fd;
	(void)what;
	log_debug("returning free heap to the system after %u connections closed", mt->freed);
	mt->freed = 0;
	malloc_trim(0);
}

struct memtrim *
memtrim_new(struct event_base *base)
{
	struct memtrim *mt = calloc(1, sizeof(*mt));

	if (mt == NULL)
		return NULL;
	if ((mt->timer = evtimer_new(base, on_timer, mt)) == NULL) {
		free(mt);
		return NULL;
	}
	return mt;
}

void
memtrim_free(struct memtrim *mt)
{
	if (mt == NULL)
		return;
	event_free(mt->timer);
	free(mt);
}

void
memtrim_note(struct memtrim *mt)
{
	struct timeval delay = { MEMTRIM_DELAY, 0 };

	if (mt == NULL || ++mt->freed < MEMTRIM_AFTER || evtimer_pending(mt->timer, NULL))
		return;
	evtimer_add(mt->timer, &delay);
}

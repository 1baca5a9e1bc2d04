/* delivery.h: one session's notification stream: which notifications were sent and
 * acknowledged, and through which path they go. Sequence numbers, the window, acks and replay
 * are the same whatever the path, so switching paths can neither lose nor repeat anything the
 * user sees (the client de-duplicates by sequence number). */
#ifndef NETCFAX_DELIVERY_H
#define NETCFAX_DELIVERY_H

#include <stdint.h>
#include <time.h>

struct session;
struct delivery;
struct ncfx_wbuf;

/* A path carries NOTIFY frames to the client: the direct SCP (server/scp.c) or the relay over
 * the client's own PCP connection (relay/relay.c). */
struct path_ops {
	int   kind;                                     /* NCFX_PATH_DIRECT or NCFX_PATH_RELAY */
	/* Queues one frame; 0, or -1 when the frame could not be queued. */
	int (*send)(void *impl, struct ncfx_wbuf *w);
	/* For a path that can sleep (delivery_sleep): there is something to send, so connect
	 * again; it attaches itself when ready, or detaches if it cannot. NULL: never sleeps. */
	void (*wake)(void *impl);
};

struct delivery *delivery_new(struct session *s, uint64_t resume);
void delivery_free(struct delivery *d);
/* From now on notifications go through impl, starting again after the last acknowledged one. */
void delivery_attach(struct delivery *d, const struct path_ops *ops, void *impl);
/* impl can carry nothing more; if it was the path in use, none is until the next attach. */
void delivery_detach(struct delivery *d, void *impl);
/* impl, the path in use, closed its connection with nothing in flight to save resources while
 * idle. It stays the path (delivery_path says so); the next notification calls its wake. */
void delivery_sleep(struct delivery *d, void *impl);
/* NCFX_PATH_DIRECT, NCFX_PATH_RELAY or NCFX_PATH_NONE. */
int  delivery_path(const struct delivery *d);
int  delivery_uses(const struct delivery *d, const void *impl);
/* Sends what the window allows of what is new. */
void delivery_pump(struct delivery *d);
/* Frees the outbox read kept for the next session's pump (at shutdown). */
void delivery_forget_reads(void);
/* A cumulative ack, from whichever path it came: 0, or -1 for an ack of what was never sent. */
int  delivery_ack(struct delivery *d, uint64_t seq);
/* Seconds for which sent notifications have waited for an ack; 0 when none are waiting. */
long delivery_stalled(const struct delivery *d, time_t now);

#endif

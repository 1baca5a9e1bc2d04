/* delivery.h: one session's notification stream: which notifications were sent and
 * acknowledged, and through which path they go. Sequence numbers, the window, acks and replay
 * are the same whatever the path, so switching paths can neither lose nor repeat anything the
 * user sees (the client de-duplicates by sequence number). */
#ifndef NETCFAX_DELIVERY_H
#define NETCFAX_DELIVERY_H

#include <stdint.h>
#include <time.h>

#include "path.h"

struct delivery;
struct outbox;

/* The stream of user's outbox after seq resume. It joins the outbox's registry, so notify_user
 * pumps it. tag starts its log lines and must outlive it. */
struct delivery *delivery_new(struct outbox *ob, int64_t user, uint64_t resume,
                              const char *tag);
void delivery_free(struct delivery *d);
/* notify_user no longer pumps it (its session is closing); acks still move it. */
void delivery_quiet(struct delivery *d);
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
/* A cumulative ack, from whichever path it came: 0, or -1 for an ack of what was never sent. */
int  delivery_ack(struct delivery *d, uint64_t seq);
/* Seconds for which sent notifications have waited for an ack; 0 when none are waiting. */
long delivery_stalled(const struct delivery *d, time_t now);
/* The last seq sent and the last acknowledged. */
uint64_t delivery_sent(const struct delivery *d);
uint64_t delivery_acked(const struct delivery *d);

#endif

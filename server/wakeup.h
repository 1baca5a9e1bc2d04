/* wakeup.h: how another process that wrote to the store (netcfax-admin notify) tells netcfaxd
 * to look now rather than at its next poll: one datagram to a Unix socket in the state
 * directory, like Postfix's trigger to its pickup daemon. The datagram carries nothing; the
 * store is the message, so a lost or extra one changes only when the server looks. */
#ifndef NETCFAX_WAKEUP_H
#define NETCFAX_WAKEUP_H

#include <stddef.h>

struct event_base;
struct wakeup;

/* Binds state_dir/netcfaxd.wake (replacing one left by a server that died) and calls cb on
 * the loop when datagrams arrive, once for all that are waiting. NULL with err filled: the
 * server then relies on its poll alone. */
struct wakeup *wakeup_open(struct event_base *base, const char *state_dir,
                           void (*cb)(void *), void *arg, char *err, size_t errlen);
/* Closes and removes the socket. */
void wakeup_free(struct wakeup *wk);
/* Best effort, never blocks: no server running, or one whose queue is full (it will look
 * anyway), is not an error. */
void wakeup_send(const char *state_dir);

#endif

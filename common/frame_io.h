/* frame_io.h: protocol frames over libevent buffers: cutting the next frame from an input
 * buffer and queueing an encoded one. */
#ifndef NETCFAX_FRAME_IO_H
#define NETCFAX_FRAME_IO_H

#include <stddef.h>

#include "proto.h"

struct evbuffer;
struct bufferevent;

/* 1: *m holds the next message (valid until *len bytes are drained from in); 0: the frame is
 * not complete yet; -1: malformed, *err is the error code and why the reason. The length is
 * judged from its four bytes, before any body is waited for. */
int  frame_next(struct evbuffer *in, struct ncfx_msg *m, size_t *len, int *err, char *why,
                size_t whylen);
/* Finishes w and queues it on bev; -1 if the message did not fit in a frame. */
int  frame_send(struct bufferevent *bev, struct ncfx_wbuf *w);

#endif

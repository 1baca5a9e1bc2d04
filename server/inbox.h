/* inbox.h: the inbox requests of an authenticated session: list, mark, delete, fetch. */
#ifndef NETCFAX_INBOX_H
#define NETCFAX_INBOX_H

#include "proto.h"

struct session;
struct fetch_req;

/* Handles an INBOX_* or FILE_GET message from a logged-in session. */
void inbox_handle(struct session *s, const struct ncfx_msg *m);
/* How requests.c ends what a session holds for inbox.c: a PDF still being made is dropped. */
void inbox_fetch_cancel(struct fetch_req *r);

#endif

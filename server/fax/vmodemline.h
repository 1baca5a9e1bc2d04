/* vmodemline.h: the virtual modems as a line (line.h): a fax to one of the numbers routed to
 * them rings a fax program that has a modem device open (efax, HylaFAX), and a program that
 * dials one of this server's own numbers is received into that user's inbox, as a call from
 * outside is. A program that dials any other number is received too when the modems have an
 * account, and its fax goes out on our lines as that account's job. */
#ifndef NETCFAX_VMODEMLINE_H
#define NETCFAX_VMODEMLINE_H

#include <stddef.h>

#include "line.h"

struct event_base;

extern const struct line_ops vmodemline_ops;

#define VMODEMLINE_MAX 16            /* modems at most */

struct vmodemline_opts {
	struct event_base *base;         /* the loop a dial is handed to */
	int         modems;              /* 1..VMODEMLINE_MAX, named ttyNCFX0 and on */
	const char *numbers;             /* "5550123, +1 555 0124": the numbers that ring them */
	const char *dir;                 /* where the devices' links go */
	const char *group;               /* the group that may open them; "" none */
	int         ring_timeout;        /* seconds a call rings before it counts as no answer */
	int         ecm;                 /* error correction offered */
	const char *account;             /* the user whose jobs a program's faxes to numbers not
	                                  * ours become; NULL or "": such dials are refused */
};

/* The line and its modems, their devices made and threads started; NULL with the reason. */
void *vmodemline_new(const struct vmodemline_opts *o, char *err, size_t errlen);
/* 1 when a number is one routed to the modems (digits compared). */
int   vmodemline_routes(void *line, const char *number);

#endif

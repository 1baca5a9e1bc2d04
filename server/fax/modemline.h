/* modemline.h: a real Class 1 fax modem on a serial device as a fax line (line.h): faxes go
 * out through it (ATD, then T.30 on the host, class1.c), and with a number of ours in its
 * file, calls that ring on it are answered (ATA after rings RINGs) and received into the
 * inbox of the user the number belongs to. */
#ifndef NETCFAX_MODEMLINE_H
#define NETCFAX_MODEMLINE_H

#include <stddef.h>

#include "line.h"
#include "modemconf.h"

extern const struct line_ops modemline_ops;

struct event_base;

struct modemline_opts {
	const struct modem_config *conf;  /* copied */
	struct event_base *base;          /* the loop a ringing call is handed to */
};

/* The line, and a first look at the modem: one that cannot be opened or does not answer AT
 * is logged as a warning (the server starts; each call says the same until it is fixed).
 * NULL only when out of memory. Free with modemline_ops.free. */
void *modemline_new(const struct modemline_opts *o, char *err, size_t errlen);

/* 1 when this modem's route takes number. */
int modemline_routes(void *line, const char *number);

/* Opens the modem and brings it to fax Class 1 (init, ATE0V1, AT+FCLASS=1): the channel, or
 * NULL with the reason (no device, a lock held, a silent modem, not Class 1). */
struct atchan *modemline_open(const struct modem_config *m, char *err, size_t errlen);

#endif

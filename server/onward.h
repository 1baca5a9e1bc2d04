/* onward.h: a fax that a program on a virtual modem sent to a number not ours, received
 * whole, becomes a job of the virtual modems' account to that number, and goes out on our
 * lines as any job does. */
#ifndef NETCFAX_ONWARD_H
#define NETCFAX_ONWARD_H

#include <stddef.h>
#include <stdint.h>

struct server;

struct onward_fax {
	const char *user;                /* the account whose job it becomes */
	const char *number;              /* the number the program dialled (digits) */
	const char *doc;                 /* the received fax, in the spool: the job's document */
	int64_t     size;
	int         pages;
	int         fine;                /* received at fine resolution */
	const char *modem;               /* the virtual modem it came on, e.g. "ttyNCFX0" */
	const char *sender;              /* the program's station id (TSI), or "" */
};

/* Queues the job with its job_queued notification and kicks the queue; on the loop thread.
 * The job id, or -1 with the reason in err (the document is then still the caller's). */
int64_t onward_queue(struct server *srv, const struct onward_fax *f, char *err, size_t errlen);

#endif

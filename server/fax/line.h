/* line.h: a telephone line that places fax calls, behind one small interface. The built-in
 * software line (softline.c) is the first implementation; a modem or a SIP trunk would each be
 * another file behind the same operations. */
#ifndef NETCFAX_LINE_H
#define NETCFAX_LINE_H

#include <limits.h>

#include "faxcall.h"

enum line_outcome {
	LINE_CONNECTED = 0,      /* a fax call ran: its outcome is in fax */
	LINE_BUSY,               /* retry later */
	LINE_NO_ANSWER,          /* rang out: retry later */
	LINE_NO_SUCH_NUMBER,     /* nobody has that number: retrying will not help */
};

struct line_call {
	const char *number;              /* as dialled */
	const char *tx_tiff;             /* the fax image to send */
	const char *caller_id;           /* our station id (TSI); may be NULL */
	const char *page_header;         /* may be NULL */
	const char *rx_dir;              /* where a call to one of our own numbers is received */
	void      (*progress)(const struct faxcall_progress *p, void *arg);
	void       *arg;
	const atomic_int *abort;         /* set from another thread: hang up now */
};

struct line_result {
	int    outcome;                  /* enum line_outcome */
	char   words[200];               /* the outcome in words, for the job and the user */
	struct faxcall_result fax;       /* when LINE_CONNECTED */
	char   received_by[65];          /* a call to one of our numbers: the user it belongs to */
	char   rx_tiff[PATH_MAX];        /* and the file it was received into ("" if none) */
};

struct line_ops {
	const char *name;
	/* Places one call and runs it to its end. Blocking: called on a worker thread. 0, or -1
	 * when the call could not even be tried (words says why). */
	int  (*call)(void *line, const struct line_call *c, struct line_result *r);
	void (*free)(void *line);
	/* The user a number of ours belongs to, or NULL when it is not one of ours. Cheap, no
	 * blocking: asked on the loop thread before a call is placed. */
	const char *(*own_number_user)(void *line, const char *number);
};

#endif

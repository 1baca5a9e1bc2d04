/* line.h: a telephone line that places fax calls, and may take them, behind one small
 * interface. The built-in software line (softline.c), a SIP trunk (server/sip/sipline.c), a
 * Class 1 fax modem (modemline.c) and the virtual modems other fax programs dial on
 * (vmodemline.c) each implement it. */
#ifndef NETCFAX_LINE_H
#define NETCFAX_LINE_H

#include <limits.h>
#include <stddef.h>

#include "faxcall.h"

enum line_outcome {
	LINE_CONNECTED = 0,      /* a fax call ran: its outcome is in fax */
	LINE_BUSY,               /* retry later */
	LINE_NO_ANSWER,          /* rang out: retry later */
	LINE_NO_SUCH_NUMBER,     /* nobody has that number: retrying will not help */
	LINE_REFUSED,            /* the network refused the call for good (words says why) */
};

struct line_call {
	const char *number;              /* as dialled */
	const char *tx_tiff;             /* the fax image to send */
	int         first_page;          /* from this page (from 1; 0: 1): an earlier call to
	                                  * the same number broke off after the far end
	                                  * confirmed the pages before it */
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
	char   rx_tiff[PATH_MAX];        /* and the file it was received into ("" if none);
	                                  * when no page came the queue removes it */
};

/* An incoming call a line offers to the fax queue, on the loop thread. */
struct line_incoming {
	const char *number;              /* the number called: one of ours */
	const char *user;                /* the user it belongs to */
	const char *from;                /* the caller's number as the network gave it, or "" */
	void       *token;               /* the line's handle of the call, given back to answer() */
	int         onward;              /* a program on a virtual modem dialled number, which is
	                                  * not ours: what it sends is received for user (the
	                                  * virtual modems' account) and queued as that user's
	                                  * job to number, to go out on our lines */
};

/* What a line that takes calls may ask of the fax queue; called on the loop thread only. */
struct line_host {
	/* The user one of our numbers belongs to, or NULL when it is not ours. */
	const char *(*number_user)(void *arg, const char *number);
	/* Takes an offered call: a channel of this line is held for it and the line's answer()
	 * will run on a worker. 0; -1 when every channel of the line is busy or the queue is
	 * stopping, -2 when the call is refused for good (an onward call whose account does not
	 * exist): the line then refuses the call itself, as busy or as no such number. */
	int  (*incoming)(void *arg, void *line, const struct line_incoming *in);
	/* The line's standing with its provider changed: a trunk registered (up, and as what)
	 * or lost or never got its registration (down, and why). Kept for the operator's
	 * status. On the loop thread; NULL where the host keeps none. */
	void (*standing)(void *arg, void *line, int up, const char *words);
	void *arg;
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
	/* The rest is for lines that take calls from outside; NULL on the others. */
	/* Called once on the loop thread after the line is made: from then on the line may
	 * offer calls through host (which outlives the line). 0, or -1 with the reason. */
	int  (*attach)(void *line, const struct line_host *host, char *err, size_t errlen);
	/* Answers a call the queue took and runs it to its end. Blocking: on a worker. c has
	 * rx_dir (where the pages go), caller_id (our CSI), progress and abort; the result is as
	 * call()'s: received_by, rx_tiff, the fax's outcome. 0, or -1 when the call was lost
	 * before it could be answered (words says why). */
	int  (*answer)(void *line, void *token, const struct line_call *c, struct line_result *r);
	/* Lets go of a taken call whose answer() will never run (the queue stopped first). */
	void (*drop)(void *line, void *token);
	/* Begins stopping without waiting (un-REGISTERing, taking mappings off the router), so
	 * that every line of a server stopping stops at once; free() then waits for the end.
	 * NULL where free() is quick anyway. */
	void (*stop)(void *line);
};

#endif

/* class1.h: one fax call on a real Class 1 fax modem: spandsp's T.30 runs here, on the host,
 * and a front end of ours turns what it asks of a modem (send this HDLC frame, receive V.21,
 * send image data at 9600 bit/s, be silent 75 ms) into the modem's AT commands (+FTH, +FRH,
 * +FTM, +FRM, +FTS) over the serial channel (atchan.h), and what the modem answers back into
 * T.30's events. Non-ECM only: a Class 1 modem's ECM frames at image speed (+FTH=146) are
 * not used. Blocking, in real time: every command has a timeout, and the T.30 timers run on
 * the clock. */
#ifndef NETCFAX_CLASS1_H
#define NETCFAX_CLASS1_H

#include <stdatomic.h>

#include "atchan.h"
#include "faxcall.h"

struct class1_opts {
	struct atchan *ch;               /* the modem, off-hook with the call up */
	int         calling;             /* 1: we dialled and send tx_tiff; 0: we answered */
	int         connected;           /* the modem's CONNECT to ATD (it is receiving V.21
	                                  * HDLC) or to ATA (it is sending V.21 HDLC) was read */
	const char *tx_tiff;
	int         first_page;          /* from 1; 0: 1 */
	const char *rx_tiff;
	const char *ident;               /* our TSI or CSI; may be NULL */
	const char *page_header;         /* NULL: none */
	const char *log_tag;             /* names the call in the T.30 trace ("modem usr") */
	int         max_seconds;         /* of the call; 0: 30 minutes */
	int         max_rate;            /* bit/s: under 14400 no V.17, under 7200 V.27ter only;
	                                  * 0: any */
	const atomic_int *abort;
	void      (*progress)(const struct faxcall_progress *p, void *arg);
	void       *arg;
};

/* Runs the call to its end as faxcall_media_run does (the result's fields mean the same;
 * media is "modem"). A modem that stops answering, or answers what Class 1 does not allow,
 * ends the call as dropped, its words in r->reason. 0 when it ran, -1 when it could not
 * start. */
int class1_run(const struct class1_opts *o, struct faxcall_result *r);

/* The Class 1 modulation code (+FTM/+FRM) for a T.30 modem and bit rate: 24, 48 (V.27ter),
 * 72, 96 (V.29), 73/74, 97/98, 121/122, 145/146 (V.17, long/short training); -1 if none. */
int class1_modulation(int t30_modem, int bit_rate, int short_train);

#endif

/* vmodem.h: one virtual Class 1 fax modem on a pseudo-terminal, for fax programs (efax,
 * HylaFAX) that drive a modem device. spandsp's T.31 modem reads the AT commands and data the
 * program writes to the device and answers there; on the line side it takes and gives 8 kHz
 * linear audio, 20 ms at a time, which the call's media (vmodemmedia.c) carries to and from
 * our own fax engine. One thread per modem owns the T.31: it answers the program at once
 * when idle, and steps the modem in real time while a call is up. Everything read from the
 * device is capped (bounded buffers, a command line of at most VMODEM_LINE_MAX), and a
 * program that stops reading loses what does not fit, with a log line, never the server's
 * memory or time. A program may close the device and open it again at any time: the modem
 * is then reset as a new one, and a call it was on ends. */
#ifndef NETCFAX_VMODEM_H
#define NETCFAX_VMODEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VMODEM_SAMPLES    160        /* one step: 20 ms at 8 kHz */
#define VMODEM_LINE_MAX   96         /* a command line longer than this is refused (ERROR) */
#define VMODEM_NUMBER_MAX 64         /* digits of a number the program dials */

struct vmodem;

struct vmodem_opts {
	const char *dir;                 /* where the device's link is made (created if missing) */
	const char *name;                /* the link's name, e.g. "ttyNCFX0" */
	const char *group;               /* the group that may open the device (mode 0660);
	                                  * NULL or "": the server's own user only (0600) */
	/* The program dialled a number (ATD): called on the modem's thread, without the
	 * modem's lock; answer with vmodem_connect (from any thread) or vmodem_refuse. */
	void      (*dialled)(void *arg, struct vmodem *m, const char *number);
	void       *arg;
};

/* A modem with its device and thread, idle. NULL with the reason in err. */
struct vmodem *vmodem_new(const struct vmodem_opts *o, char *err, size_t errlen);
/* Stops the thread (a call it was on ends), removes the link, closes the device. */
void vmodem_free(struct vmodem *m);

const char *vmodem_name(const struct vmodem *m);
/* The device's stable name (the link) and the pseudo-terminal it points to. */
const char *vmodem_link(const struct vmodem *m);
const char *vmodem_pts(const struct vmodem *m);
/* A program has the device open. */
int vmodem_attached(struct vmodem *m);

enum vmodem_ring {
	VMODEM_ANSWERED = 1,             /* the program answered (ATA, or auto-answer) */
	VMODEM_RANG_OUT = 0,             /* no answer within timeout_s */
	VMODEM_ABORTED = -1,             /* abort was set */
	VMODEM_GONE = -2,                /* the program closed the device while it rang */
	VMODEM_BUSY = -3,                /* the modem is on another call (or the program is
	                                  * dialling): not rung */
	VMODEM_ABSENT = -4,              /* no program has the device open: not rung */
};

/* Rings the program (RING at once and every ring_s) until it answers; the call is then up
 * and its audio runs. Blocking: on a worker. enum vmodem_ring. */
int  vmodem_ring(struct vmodem *m, int ring_s, int timeout_s, const atomic_int *abort);
/* The program's dial is answered: CONNECT, and the call's audio runs. 0, or -1 when the
 * program is no longer waiting (it hung up, closed the device). */
int  vmodem_connect(struct vmodem *m);
/* The program's dial is refused: BUSY, or NO CARRIER. */
void vmodem_refuse(struct vmodem *m, int busy);
/* Ends a call that is up: waits up to drain_s for the program to hang up itself (the last
 * frames of the fax, DCN, still reach it meanwhile), then hangs up (NO CARRIER). Blocking. */
void vmodem_hangup(struct vmodem *m, int drain_s, const atomic_int *abort);

/* The call's audio, for its media (one step at a time, on the worker). */
/* Waits for the modem's next step: 0; -1 when the call ended (the program hung up or closed
 * the device), abort was set, or no step came for a second. *seen counts the steps taken. */
int  vmodem_audio_wait(struct vmodem *m, uint64_t *seen, const atomic_int *abort);
/* Our engine's 20 ms for the modem to hear. */
void vmodem_audio_put(struct vmodem *m, const int16_t amp[VMODEM_SAMPLES]);
/* The modem's 20 ms for our engine; silence when it has none. */
void vmodem_audio_get(struct vmodem *m, int16_t amp[VMODEM_SAMPLES]);

struct vmodem_stats {
	uint64_t steps;                  /* 20 ms steps of audio this modem ran */
	uint64_t underruns;              /* steps our engine sent nothing for in time */
	uint64_t overruns;               /* frames dropped because the other side fell behind */
	uint64_t dropped_out;            /* bytes for the program dropped: it did not read */
	uint64_t refused_lines;          /* command lines over VMODEM_LINE_MAX */
	uint64_t dropped_hdlc;           /* frame bytes over the modem's HDLC buffer */
};
void vmodem_stats(struct vmodem *m, struct vmodem_stats *s);

#endif

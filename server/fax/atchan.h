/* atchan.h: the serial channel to a real fax modem: the device opened raw under a UUCP lock
 * file, the modem's response lines read with a cap on their length, and DLE-framed data
 * (Class 1's HDLC frames and image data) stuffed on the way out and unstuffed on the way in.
 * The parsers (a response line's meaning, DLE stuffing and unstuffing, a line assembled
 * from pieces) are pure functions of bytes, so they can be unit tested and fuzzed; every
 * read and write has a timeout. */
#ifndef NETCFAX_ATCHAN_H
#define NETCFAX_ATCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATCHAN_LINE_MAX  128         /* a response line longer than this is an error */
#define ATCHAN_DLE       0x10
#define ATCHAN_ETX       0x03

/* ---- pure parsers ---- */

enum atchan_resp {
	ATCHAN_OTHER = 0,                /* a line that means none of these (an information
	                                  * text, garbage): the caller decides */
	ATCHAN_OK,
	ATCHAN_CONNECT,
	ATCHAN_NO_CARRIER,
	ATCHAN_ERROR,
	ATCHAN_FCERROR,                  /* +FCERROR: +FRM heard another modulation (V.21) */
	ATCHAN_BUSY,
	ATCHAN_NO_DIALTONE,
	ATCHAN_NO_ANSWER,
	ATCHAN_RING,
	ATCHAN_ECHO,                     /* the modem echoing a command we sent ("AT...") */
};

/* What a response line (without its CR LF) means. */
int atchan_parse(const char *line);
const char *atchan_resp_name(int resp);

/* A response line put together from the bytes as they come, across reads. */
struct atchan_line {
	char   buf[ATCHAN_LINE_MAX + 1];
	size_t len;
	int    overlong;                 /* the line went past ATCHAN_LINE_MAX */
	int    cr;                       /* the last line ended on CR: an LF next is its own */
};
/* Takes bytes from in until a line ends (CR or LF; empty lines are skipped). *used says how
 * many were taken. 1: a line is in l->buf (the next call starts a new one); 0: more bytes
 * needed; -1: the line was longer than ATCHAN_LINE_MAX (its bytes up to its end taken). */
int atchan_line_feed(struct atchan_line *l, const uint8_t *in, size_t n, size_t *used);

/* DLE unstuffing, a DLE split across two reads kept in state: DLE DLE is one 0x10, DLE ETX
 * ends the data, DLE and any other byte are dropped (the modem's in-band signals, such as
 * DLE SUB, which we do not ask for). */
struct atchan_unstuff {
	int dle;                         /* the last byte seen was a lone DLE */
};
/* Unstuffs from in into out (at most cap bytes). *used says how many of in were taken (it
 * stops after DLE ETX, or when out is full), *ended is set on DLE ETX. Returns the bytes
 * written to out. */
size_t atchan_unstuff(struct atchan_unstuff *u, const uint8_t *in, size_t n, uint8_t *out,
                      size_t cap, size_t *used, int *ended);
/* DLE stuffing: every 0x10 doubled. out must hold 2 * n bytes; returns the bytes written. */
size_t atchan_stuff(const uint8_t *in, size_t n, uint8_t *out);

/* ---- UUCP lock files ---- */

/* Takes the lock of device (its last path component) in lock_dir, "LCK..ttyACM0" holding our
 * PID in ASCII (ten characters and a newline, as UUCP and HylaFAX write it). A lock whose
 * PID is dead is stale and taken over; a live one is refused with "... is in use by PID n".
 * The lock's path goes to path. 0, or -1 with the reason. */
int atchan_lock(const char *lock_dir, const char *device, char *path, size_t cap, char *err,
                size_t errlen);
/* Removes a lock taken by atchan_lock, if it is still ours. */
void atchan_unlock(const char *path);

/* ---- the channel ---- */

struct atchan;

struct atchan_opts {
	const char *device;              /* e.g. /dev/ttyACM0 */
	long        speed;               /* bit/s of the serial line: 9600 .. 230400 */
	const char *flow;                /* "rtscts", "xonxoff" or "none" */
	const char *lock_dir;            /* NULL or "": /var/lock */
	const char *tag;                 /* names the modem in log lines */
};

/* Locks and opens the device (raw, non-blocking, no controlling terminal). NULL with the
 * reason, which says what to do (a missing device, a lock held by another process). */
struct atchan *atchan_open(const struct atchan_opts *o, char *err, size_t errlen);
/* Drops DTR (hangs the modem up), closes, unlocks. NULL is fine. */
void atchan_close(struct atchan *c);

/* Writes all of buf within timeout_ms. 0, or -1. */
int atchan_write(struct atchan *c, const void *buf, size_t n, int timeout_ms);
/* Writes a command and its CR. */
int atchan_command(struct atchan *c, const char *cmd, int timeout_ms);
/* Throws away what the modem sent and we have not read. */
void atchan_flush(struct atchan *c);

/* The next response line (echoes of our commands skipped). 1 with the line in line; 0 when
 * none came within timeout_ms; -1 on an over-long line, a device error or hangup (the
 * reason in atchan_error). */
int atchan_read_line(struct atchan *c, char *line, size_t cap, int timeout_ms);
/* DLE-framed data: unstuffed into out (up to cap), until DLE ETX or timeout_ms without a
 * byte. Returns the bytes put in out (0 and more), *ended set on DLE ETX; -1 on a device
 * error. Bytes after DLE ETX stay for atchan_read_line. */
int atchan_read_data(struct atchan *c, uint8_t *out, size_t cap, int *ended, int timeout_ms);
/* Resets the unstuffing state, before a new block of data. */
void atchan_data_start(struct atchan *c);
/* 1 when a byte from the modem is waiting (or arrives within timeout_ms), 0 if not, -1 on a
 * device error. */
int atchan_poll(struct atchan *c, int timeout_ms);

const char *atchan_error(const struct atchan *c);
const char *atchan_device(const struct atchan *c);

#endif

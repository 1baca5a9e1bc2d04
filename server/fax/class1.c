/* class1.c: host-side T.30 on a Class 1 fax modem (class1.h). spandsp's t30 is made with our
 * own front-end handlers, which only note what T.30 wants (a frame to send, a modem to
 * receive with, image data to send): they are called from inside T.30, where the modem must
 * not be waited on. The loop then does it with the modem, one AT command at a time, and
 * tells T.30 how it went (a frame sent, a frame received with its CRC verdict, carrier up
 * and down). T.30's timers run on the clock in between, so a far end that goes quiet ends
 * the call as T.30 says. Bytes pass as the modem takes them: Class 1 sends each byte least
 * significant bit first, the order of spandsp's T.4 bytes, so nothing is reversed. */
#include "class1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp.h>

#include "log.h"
#include "spanlog.h"
#include "t30quirks.h"

#define DEFAULT_MAX_S   1800
#define FRAME_MAX       260          /* a V.21 frame with its FCS; T.30 frames are far smaller */
#define CMD_MS          5000         /* an AT command's answer */
#define FRAME_MS        4000         /* the rest of a frame once it began (T.30: < 3 s) */
#define TX_END_MS       60000        /* image data the modem still holds when it has ours */
#define SLICE_MS        50           /* T.30's timers move on at least this often */
#define REFUSED_MAX     10           /* receptions refused (ERROR) in a row: the modem has
                                      * left the call */

struct fe {
	const struct class1_opts *o;
	struct atchan *ch;
	t30_state_t *t30;
	struct timespec last;            /* T.30's clock, moved on by tick() */
	/* what T.30 asked for, noted by the handlers */
	int          rx_type, rx_rate, rx_short;
	int          tx_type, tx_rate, tx_short, tx_hdlc;
	int          tx_fast;            /* image data (or TCF) to send */
	int          tx_pause_ms;        /* silence to keep (+FTS) */
	int          tx_ced;             /* CED asked for: the modem sent it at ATA */
	uint8_t      frame[FRAME_MAX];
	int          frame_len;          /* a frame to send, or 0 */
	int          frame_end;          /* end of the HDLC transmission asked for */
	int          fcerror;            /* +FRM heard V.21: receive that once instead */
	/* the modem */
	int          in_fth;             /* sending V.21 HDLC, CONNECT seen */
	int          in_frh;             /* receiving V.21 HDLC, CONNECT seen */
	int          refused;            /* receptions the modem refused since its last CONNECT */
	/* the end */
	int          done, completion, connected, pages;
	char         fail[160];          /* the modem misbehaved: why */
};

int
class1_modulation(int t30_modem, int bit_rate, int short_train)
{
	switch (t30_modem) {
	case T30_MODEM_V27TER:
		return bit_rate == 2400 ? 24 : bit_rate == 4800 ? 48 : -1;
	case T30_MODEM_V29:
		return bit_rate == 7200 ? 72 : bit_rate == 9600 ? 96 : -1;
	case T30_MODEM_V17:
		switch (bit_rate) {
		case 7200: return short_train ? 74 : 73;
		case 9600: return short_train ? 98 : 97;
		case 12000: return short_train ? 122 : 121;
		case 14400: return short_train ? 146 : 145;
		}
		return -1;
	default:
		return -1;
	}
}

/* ---- T.30's front-end handlers: note, never wait ---- */

static int fast_modem(int type);

static void
set_rx_type(void *user, int type, int bit_rate, int short_train, int use_hdlc)
{
	struct fe *f = user;

	(void)use_hdlc;
	f->rx_type = type;
	f->rx_rate = bit_rate;
	f->rx_short = short_train;
}

static void
set_tx_type(void *user, int type, int bit_rate, int short_train, int use_hdlc)
{
	struct fe *f = user;

	f->tx_type = type;
	f->tx_rate = bit_rate;
	f->tx_short = short_train;
	f->tx_hdlc = use_hdlc;
	f->tx_fast = fast_modem(type) && !use_hdlc;
	f->tx_pause_ms = type == T30_MODEM_PAUSE ? short_train : 0;
	f->tx_ced = type == T30_MODEM_CED;
}

static void
send_hdlc(void *user, const uint8_t *msg, int len)
{
	struct fe *f = user;

	if (msg == NULL || len <= 0) {
		f->frame_end = 1;
		return;
	}
	if (len > FRAME_MAX) {
		snprintf(f->fail, sizeof(f->fail), "T.30 asked for a frame of %d bytes", len);
		return;
	}
	if (f->frame_len > 0)
		log_warnx("%s: a frame to send replaced one not yet sent", f->o->log_tag);
	memcpy(f->frame, msg, (size_t)len);
	f->frame_len = len;
}

static void
report(struct fe *f, int event)
{
	struct faxcall_progress p;

	if (f->o->progress == NULL)
		return;
	faxcall_progress_of(f->t30, f->o->calling, event, "modem", &p);
	f->o->progress(&p, f->o->arg);
}

static int
phase_b(t30_state_t *t, void *user, int result)
{
	struct fe *f = user;

	(void)t;
	(void)result;
	if (!f->connected++)
		report(f, FAXCALL_CONNECTED);
	return T30_ERR_OK;
}

static int
phase_d(t30_state_t *t, void *user, int result)
{
	struct fe *f = user;

	(void)t;
	(void)result;
	f->pages++;
	report(f, FAXCALL_PAGE);
	return T30_ERR_OK;
}

static void
phase_e(t30_state_t *t, void *user, int completion)
{
	struct fe *f = user;

	(void)t;
	f->completion = completion;
	f->done = 1;
}

/* ---- the loop's work with the modem ---- */

/* T.30's timers moved on by the time since the last tick. */
static void
tick(struct fe *f)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - f->last.tv_sec) * 1000 + (now.tv_nsec - f->last.tv_nsec) / 1000000;
	if (ms <= 0)
		return;
	/* moved on by whole milliseconds, the rest kept for the next tick */
	f->last.tv_sec += ms / 1000;
	f->last.tv_nsec += (ms % 1000) * 1000000;
	if (f->last.tv_nsec >= 1000000000) {
		f->last.tv_sec++;
		f->last.tv_nsec -= 1000000000;
	}
	t30_timer_update(f->t30, (int)(ms > 10000 ? 10000 : ms) * 8);
}

static int
stopped(struct fe *f)
{
	return f->done || f->fail[0] || (f->o->abort && atomic_load(f->o->abort));
}

static void
failed(struct fe *f, const char *what)
{
	if (f->fail[0] == '\0')
		snprintf(f->fail, sizeof(f->fail), "%s", what);
}

/* The next response line within ms, T.30's timers moving meanwhile; enum atchan_resp, or
 * -1 (timeout or device error: f->fail says which). line may be NULL. */
static int
response(struct fe *f, int ms, const char *after, char *line, size_t cap)
{
	char buf[ATCHAN_LINE_MAX + 1];

	for (int waited = 0; waited < ms; waited += SLICE_MS) {
		int rc = atchan_read_line(f->ch, buf, sizeof(buf), SLICE_MS);

		tick(f);
		if (rc < 0) {
			failed(f, atchan_error(f->ch));
			return -1;
		}
		if (rc == 1) {
			if (line)
				snprintf(line, cap, "%s", buf);
			return atchan_parse(buf);
		}
		if (f->o->abort && atomic_load(f->o->abort))
			return -1;
	}
	snprintf(buf, sizeof(buf), "the modem did not answer %s within %d s", after, ms / 1000);
	failed(f, buf);
	return -1;
}

static int
command(struct fe *f, const char *cmd)
{
	if (atchan_command(f->ch, cmd, CMD_MS) < 0) {
		failed(f, atchan_error(f->ch));
		return -1;
	}
	return 0;
}

/* A command that must be answered CONNECT (or OK for +FTS). */
static int
expect(struct fe *f, const char *cmd, int want)
{
	char line[ATCHAN_LINE_MAX + 1], why[160];
	int r;

	if (command(f, cmd) < 0 || (r = response(f, CMD_MS, cmd, line, sizeof(line))) < 0)
		return -1;
	if (r == want)
		return 0;
	snprintf(why, sizeof(why), "the modem answered '%s' to %s", line, cmd);
	failed(f, why);
	return -1;
}

/* T.30 wants 75 ms of silence between one signal and the next (DCS and its TCF, CFR and
 * the page after it, the far end's last frame and our answer); a receiver listening for
 * V.21 and the image modulation at once misses the training that follows too closely.
 * spandsp's audio modem inserts it itself; over Class 1 the host asks for it (+FTS=8). */
static int
gap(struct fe *f)
{
	return expect(f, "AT+FTS=8", ATCHAN_OK);
}

/* The frame T.30 gave, sent: +FTH=3 first unless the modem is already sending V.21. After a
 * frame the modem says CONNECT (more may follow) or, after the final one, OK. */
static void
send_frame(struct fe *f)
{
	uint8_t out[2 * FRAME_MAX + 2];
	size_t n;
	int r;

	if (!f->in_fth) {
		if (gap(f) < 0 || expect(f, "AT+FTH=3", ATCHAN_CONNECT) < 0)
			return;
		f->in_fth = 1;
	}
	n = atchan_stuff(f->frame, (size_t)f->frame_len, out);
	out[n++] = ATCHAN_DLE;
	out[n++] = ATCHAN_ETX;
	f->frame_len = 0;
	if (atchan_write(f->ch, out, n, CMD_MS) < 0) {
		failed(f, atchan_error(f->ch));
		return;
	}
	r = response(f, CMD_MS, "a V.21 frame", NULL, 0);
	if (r == ATCHAN_OK)
		f->in_fth = 0;
	else if (r != ATCHAN_CONNECT) {
		if (r >= 0)
			failed(f, "the modem refused a V.21 frame");
		return;
	}
	t30_front_end_status(f->t30, T30_FRONT_END_SEND_STEP_COMPLETE);
}

/* T.30 ended its HDLC transmission. After a final frame the modem is back in command mode;
 * otherwise an empty frame ends the carrier. */
static void
end_frames(struct fe *f)
{
	f->frame_end = 0;
	if (f->in_fth) {
		uint8_t end[2] = { ATCHAN_DLE, ATCHAN_ETX };

		if (atchan_write(f->ch, end, 2, CMD_MS) < 0) {
			failed(f, atchan_error(f->ch));
			return;
		}
		(void)response(f, CMD_MS, "the end of V.21", NULL, 0);
		f->in_fth = 0;
	}
	t30_front_end_status(f->t30, T30_FRONT_END_SEND_STEP_COMPLETE);
}

/* Image data (or the training check, TCF) at the modulation T.30 chose. */
static void
send_image(struct fe *f)
{
	char cmd[32];
	uint8_t raw[256], out[2 * sizeof(raw) + 2];
	int code = class1_modulation(f->tx_type, f->tx_rate, f->tx_short), last = 0;

	f->tx_fast = 0;
	if (code < 0) {
		snprintf(f->fail, sizeof(f->fail), "no Class 1 modulation for modem %d at %d bit/s",
		    f->tx_type, f->tx_rate);
		return;
	}
	snprintf(cmd, sizeof(cmd), "AT+FTM=%d", code);
	if (gap(f) < 0 || expect(f, cmd, ATCHAN_CONNECT) < 0)
		return;
	while (!last && !stopped(f)) {
		size_t n = 0, k;

		while (n < sizeof(raw)) {
			int b = t30_non_ecm_get_byte(f->t30);

			if (b > 0xff) {
				last = 1;
				break;
			}
			raw[n++] = (uint8_t)b;
		}
		k = atchan_stuff(raw, n, out);
		if (last) {
			out[k++] = ATCHAN_DLE;
			out[k++] = ATCHAN_ETX;
		}
		/* The modem holds us back (flow control) at its own pace: the line's bit rate. */
		if (atchan_write(f->ch, out, k, TX_END_MS) < 0) {
			failed(f, atchan_error(f->ch));
			return;
		}
		tick(f);
	}
	if (stopped(f))
		return;
	if (response(f, TX_END_MS, cmd, NULL, 0) != ATCHAN_OK) {
		failed(f, "the modem did not end the image data with OK");
		return;
	}
	t30_front_end_status(f->t30, T30_FRONT_END_SEND_STEP_COMPLETE);
}

static void
send_pause(struct fe *f)
{
	char cmd[32];
	int ms = f->tx_pause_ms;

	f->tx_pause_ms = 0;
	snprintf(cmd, sizeof(cmd), "AT+FTS=%d", ms / 10 > 0 ? (ms / 10 < 255 ? ms / 10 : 255) : 1);
	if (expect(f, cmd, ATCHAN_OK) == 0)
		t30_front_end_status(f->t30, T30_FRONT_END_SEND_STEP_COMPLETE);
}

/* Something for the modem to send: T.30 speaks next, and a reception waiting is given up. */
static int
tx_wanted(const struct fe *f)
{
	return f->frame_len > 0 || f->frame_end || f->tx_fast || f->tx_pause_ms > 0 || f->tx_ced;
}

static int
fast_modem(int type)
{
	return type == T30_MODEM_V27TER || type == T30_MODEM_V29 || type == T30_MODEM_V17;
}

/* A +FRH or +FRM still waiting for a carrier is cancelled (any byte does it) when T.30 no
 * longer wants it: it has something to send (on its timer, say) or wants another modem.
 * 1 cancelled, 0 go on waiting. */
static int
cancel_wait(struct fe *f, int wanted)
{
	if (!tx_wanted(f) && wanted)
		return 0;
	if (atchan_write(f->ch, "\r", 1, CMD_MS) < 0) {
		failed(f, atchan_error(f->ch));
		return 1;
	}
	/* OK, or a CONNECT that crossed our byte and then OK or NO CARRIER */
	for (int i = 0; i < 3; i++)
		if (response(f, CMD_MS, "a cancelled receive", NULL, 0) != ATCHAN_CONNECT)
			break;
	f->in_frh = 0;
	return 1;
}

/* A command that starts a reception, and the modem's answer to it once a carrier comes:
 * enum atchan_resp into line, or -1 when cancelled, stopped or failed. */
static int
receive_command(struct fe *f, const char *cmd, int fast, int after_fcerror, char *line,
                size_t cap)
{
	if (command(f, cmd) < 0)
		return -1;
	for (;;) {
		int r = atchan_read_line(f->ch, line, cap, SLICE_MS);

		tick(f);
		if (r < 0) {
			failed(f, atchan_error(f->ch));
			return -1;
		}
		if (r == 1)
			return atchan_parse(line);
		if (stopped(f) || cancel_wait(f, fast ? fast_modem(f->rx_type) :
		    f->rx_type == T30_MODEM_V21 || after_fcerror))
			return -1;
	}
}

/* A reception that brought no frame, ended: the modem is told (any byte), and T.30 hears
 * the carrier go. */
static void
lost_frame(struct fe *f)
{
	char line[ATCHAN_LINE_MAX + 1];

	f->in_frh = 0;
	if (atchan_write(f->ch, "\r", 1, CMD_MS) < 0) {
		failed(f, atchan_error(f->ch));
		return;
	}
	/* its OK (or ERROR, NO CARRIER); a frame's bytes that crossed our byte are dropped */
	for (int i = 0; i < 4; i++) {
		int rc = atchan_read_line(f->ch, line, sizeof(line), CMD_MS / 4);

		tick(f);
		if (rc < 0) {
			failed(f, atchan_error(f->ch));
			return;
		}
		if (rc == 1 && atchan_parse(line) != ATCHAN_CONNECT &&
		    atchan_parse(line) != ATCHAN_OTHER)
			break;
	}
	t30_hdlc_accept(f->t30, NULL, SIG_STATUS_CARRIER_DOWN, 1);
}

/* A V.21 frame the modem is receiving, to its DLE ETX and the modem's verdict on its CRC
 * (OK or ERROR); handed to T.30 without its two FCS bytes. */
static void
receive_frame(struct fe *f)
{
	uint8_t buf[FRAME_MAX];
	size_t len = 0, total = 0;
	int ended = 0, waited = 0, overlong = 0, r;

	atchan_data_start(f->ch);
	while (!ended) {
		uint8_t chunk[64];
		int n = atchan_read_data(f->ch, chunk, sizeof(chunk), &ended, SLICE_MS);

		tick(f);
		if (n < 0) {
			failed(f, atchan_error(f->ch));
			return;
		}
		if (n == 0 && !ended) {
			/* A frame lost on the line leaves the modem waiting for one: T.30's timer
			 * (it wants to send its command again) or ours gives the reception up, and
			 * T.30 goes on as after any frame that did not come. */
			if ((len == 0 && tx_wanted(f)) || (waited += SLICE_MS) >= FRAME_MS) {
				log_info("%s: no V.21 frame came after the modem's CONNECT: reception "
				    "given up", f->o->log_tag);
				lost_frame(f);
				return;
			}
			continue;
		}
		waited = 0;
		/* a modem that streams bytes with no end to them: given up as a lost frame */
		if ((total += (size_t)n) > 4 * sizeof(buf)) {
			log_info("%s: a V.21 frame from the modem ran past %zu bytes: dropped",
			    f->o->log_tag, 4 * sizeof(buf));
			lost_frame(f);
			return;
		}
		if (len + (size_t)n > sizeof(buf))
			overlong = 1;
		else {
			memcpy(buf + len, chunk, (size_t)n);
			len += (size_t)n;
		}
	}
	r = response(f, CMD_MS, "a V.21 frame's end", NULL, 0);
	f->in_frh = 0;
	if (r < 0)
		return;
	if (overlong || len < 3 + 2) {
		log_info("%s: %s V.21 frame from the modem dropped", f->o->log_tag,
		    overlong ? "an over-long" : "a short");
		return;
	}
	t30_hdlc_accept(f->t30, buf, (int)len - 2, r == ATCHAN_OK);
	/* the final frame of a command or response: the carrier goes */
	if (r != ATCHAN_OK || (buf[1] & 0x10))
		t30_hdlc_accept(f->t30, NULL, SIG_STATUS_CARRIER_DOWN, 1);
}

/* A reception the modem refused (ERROR). One now and then is a modem that says so for
 * another modulation heard (+FCERROR's older word); one that refuses every reception has
 * left the call: the far end hung up and the modem went on-hook (a virtual modem does), or
 * it was reset. Each refusal waits a slice before T.30 asks again, and after REFUSED_MAX
 * in a row the call ends, rather than ask the modem as fast as it answers until T.30's
 * timers give up. */
static void
refused(struct fe *f, const char *cmd)
{
	char why[160];

	if (++f->refused < REFUSED_MAX) {
		(void)atchan_poll(f->ch, SLICE_MS);
		tick(f);
		return;
	}
	snprintf(why, sizeof(why), "the modem refused %d receptions in a row (ERROR to %s): the "
	    "far end hung up, or the modem left the call", REFUSED_MAX, cmd);
	failed(f, why);
}

static void
receive_v21(struct fe *f)
{
	char line[ATCHAN_LINE_MAX + 1], why[200];
	int after_fcerror = f->fcerror;

	f->fcerror = 0;
	if (!f->in_frh) {
		switch (receive_command(f, "AT+FRH=3", 0, after_fcerror, line, sizeof(line))) {
		case ATCHAN_CONNECT:
			f->refused = 0;
			break;
		case ATCHAN_ERROR:
			refused(f, "AT+FRH=3");
			return;
		case ATCHAN_NO_CARRIER:
		case ATCHAN_FCERROR:
			return;              /* nothing heard: T.30's timers decide */
		case -1:
			return;
		default:
			snprintf(why, sizeof(why), "the modem answered '%s' to AT+FRH=3", line);
			failed(f, why);
			return;
		}
	}
	f->in_frh = 1;
	t30_hdlc_accept(f->t30, NULL, SIG_STATUS_CARRIER_UP, 1);
	receive_frame(f);
}

/* Image data (or TCF) from the modem at the modulation T.30 expects. */
static void
receive_image(struct fe *f)
{
	char cmd[32], line[ATCHAN_LINE_MAX + 1];
	int code = class1_modulation(f->rx_type, f->rx_rate, f->rx_short), r, ended = 0;
	size_t total = 0;

	if (code < 0) {
		snprintf(f->fail, sizeof(f->fail), "no Class 1 modulation for modem %d at %d bit/s",
		    f->rx_type, f->rx_rate);
		return;
	}
	snprintf(cmd, sizeof(cmd), "AT+FRM=%d", code);
	switch ((r = receive_command(f, cmd, 1, 0, line, sizeof(line)))) {
	case -1:
		return;
	case ATCHAN_CONNECT:
		f->refused = 0;
		break;
	case ATCHAN_FCERROR:
		/* the far end is sending V.21 (a command repeated): take that frame */
		f->fcerror = 1;
		return;
	case ATCHAN_ERROR:
		refused(f, cmd);
		return;
	case ATCHAN_NO_CARRIER:
		return;                  /* nothing heard: T.30's timers decide */
	default:
		snprintf(f->fail, sizeof(f->fail), "the modem answered '%s' to %s", line, cmd);
		return;
	}
	t30_non_ecm_put_bit(f->t30, SIG_STATUS_TRAINING_SUCCEEDED);
	atchan_data_start(f->ch);
	for (int waited = 0; !ended && !stopped(f);) {
		uint8_t buf[512];
		int n = atchan_read_data(f->ch, buf, sizeof(buf), &ended, SLICE_MS);

		tick(f);
		if (n < 0) {
			failed(f, atchan_error(f->ch));
			return;
		}
		if (n > 0) {
			total += (size_t)n;
			t30_non_ecm_put_chunk(f->t30, buf, n);
			waited = 0;
		} else if (!ended && (waited += SLICE_MS) >= 10000) {
			failed(f, "image data from the modem stopped for 10 s without an end");
			return;
		}
	}
	/* NO CARRIER after the data, as T.31 says; anything else is taken as the end too */
	line[0] = '\0';
	(void)response(f, CMD_MS, "the end of image data", line, sizeof(line));
	log_debug("%s: %s: %zu bytes of image data, then '%s'", f->o->log_tag, cmd, total, line);
	t30_non_ecm_put_bit(f->t30, SIG_STATUS_CARRIER_DOWN);
}

static void
step(struct fe *f)
{
	if (f->frame_len > 0)
		send_frame(f);
	else if (f->frame_end)
		end_frames(f);
	else if (f->tx_fast)
		send_image(f);
	else if (f->tx_pause_ms > 0)
		send_pause(f);
	else if (f->tx_ced) {
		/* the modem sent CED when it answered */
		f->tx_ced = 0;
		t30_front_end_status(f->t30, T30_FRONT_END_SEND_STEP_COMPLETE);
	} else if (f->rx_type == T30_MODEM_V21 || f->fcerror || f->in_frh)
		receive_v21(f);
	else if (fast_modem(f->rx_type))
		receive_image(f);
	else {
		/* nothing asked of the modem: let the timers run */
		if (atchan_poll(f->ch, SLICE_MS) < 0)
			failed(f, atchan_error(f->ch));
		else {
			char line[ATCHAN_LINE_MAX + 1];

			if (atchan_poll(f->ch, 0) == 1 &&
			    atchan_read_line(f->ch, line, sizeof(line), 0) == 1)
				log_debug("%s: the modem said '%s' unasked", f->o->log_tag, line);
		}
		tick(f);
	}
}

int
class1_run(const struct class1_opts *o, struct faxcall_result *r)
{
	struct fe f;
	const char *file = o->calling ? o->tx_tiff : o->rx_tiff, *id;
	struct timespec t0, now;
	int max = o->max_seconds > 0 ? o->max_seconds : DEFAULT_MAX_S;
	t30_stats_t st;

	memset(r, 0, sizeof(*r));
	memset(&f, 0, sizeof(f));
	r->completion = r->callee_completion = -1;
	if (file == NULL || strlen(file) >= 256) {
		snprintf(r->reason, sizeof(r->reason), "no file, or its name too long for T.30");
		return -1;
	}
	f.o = o;
	f.ch = o->ch;
	f.completion = -1;
	f.t30 = t30_init(NULL, o->calling, set_rx_type, &f, set_tx_type, &f, send_hdlc, &f);
	if (f.t30 == NULL) {
		snprintf(r->reason, sizeof(r->reason), "out of memory for T.30");
		return -1;
	}
	spanlog_attach(t30_get_logging_state(f.t30), o->log_tag ? o->log_tag : "modem");
	t30quirks_attach(f.t30);
	if (o->ident && *o->ident)
		t30_set_tx_ident(f.t30, o->ident);
	t30_set_ecm_capability(f.t30, 0);
	t30_set_supported_compressions(f.t30, T30_SUPPORT_T4_1D_COMPRESSION |
	    T30_SUPPORT_T4_2D_COMPRESSION);
	t30_set_supported_modems(f.t30, o->max_rate > 0 && o->max_rate < 7200 ?
	    T30_SUPPORT_V27TER : o->max_rate > 0 && o->max_rate < 14400 ?
	    T30_SUPPORT_V27TER | T30_SUPPORT_V29 :
	    T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
	if (o->calling) {
		if (o->page_header && *o->page_header)
			t30_set_tx_page_header_info(f.t30, o->page_header);
		t30_set_tx_file(f.t30, file, o->first_page > 1 ? o->first_page - 1 : -1, -1);
	} else {
		t30_set_supported_resolutions(f.t30, T30_SUPPORT_STANDARD_RESOLUTION |
		    T30_SUPPORT_FINE_RESOLUTION);
		t30_set_rx_file(f.t30, file, -1);
		t30_set_rx_encoding(f.t30, T4_COMPRESSION_ITU_T6);
	}
	t30_set_phase_b_handler(f.t30, phase_b, &f);
	t30_set_phase_d_handler(f.t30, phase_d, &f);
	t30_set_phase_e_handler(f.t30, phase_e, &f);
	/* The modem's CONNECT to ATD means it is receiving V.21; to ATA, sending it. */
	if (o->connected) {
		f.in_frh = o->calling;
		f.in_fth = !o->calling;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	f.last = t0;
	while (!stopped(&f)) {
		step(&f);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= max) {
			failed(&f, "the call went on too long");
			break;
		}
	}
	if (!f.done) {
		if (f.fail[0])
			log_info("%s: %s", o->log_tag ? o->log_tag : "modem", f.fail);
		t30_terminate(f.t30);    /* closes the rx file: the pages received stay in it */
		if (!f.done || f.fail[0])
			f.completion = T30_ERR_CALLDROPPED;
	}
	t30_get_transfer_statistics(f.t30, &st);
	r->completion = f.completion;
	r->pages_sent = st.pages_tx;
	r->pages_received = st.pages_rx;
	r->bit_rate = st.bit_rate;
	r->ecm = st.error_correcting_mode;
	id = t30_get_rx_ident(f.t30);
	snprintf(r->remote_id, sizeof(r->remote_id), "%s", id ? id : "");
	if (!o->calling)
		snprintf(r->caller_seen, sizeof(r->caller_seen), "%s", id ? id : "");
	clock_gettime(CLOCK_MONOTONIC, &now);
	r->line_seconds = (double)(now.tv_sec - t0.tv_sec) +
	    (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
	if (f.fail[0] && f.completion == T30_ERR_CALLDROPPED)
		snprintf(r->reason, sizeof(r->reason), "%s: %s", faxcall_reason(f.completion),
		    f.fail);
	else
		snprintf(r->reason, sizeof(r->reason), "%s", faxcall_reason(f.completion));
	snprintf(r->media, sizeof(r->media), "modem");
	t30_free(f.t30);
	return 0;
}

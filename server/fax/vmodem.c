/* vmodem.c: one virtual Class 1 fax modem (see vmodem.h). The modem's thread owns the T.31
 * state and the pseudo-terminal's master side; workers ask for a ring, a connect or a
 * hang-up through a few fields under the lock and a byte on a pipe that wakes the thread,
 * and exchange the call's audio through two short queues of 20 ms frames. Every call into
 * spandsp is made on the modem's thread with the lock held, so its callbacks (the AT
 * responses, the modem-control operations) may touch the shared fields directly.
 *
 * spandsp 0.0.6's AT interpreter trusts its input in two places, so nothing reaches it
 * unchecked: a dial command copies its digits into a 101-byte buffer from a line of up to
 * 255 characters, and an HDLC frame from the program is stored without a length check.
 * Command lines are therefore assembled here and refused over VMODEM_LINE_MAX, and frame
 * bytes past the modem's buffer are dropped. Both need the interpreter's mode and the
 * frame's length, which 0.0.6 only shows in its internal structures. */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include "vmodem.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <spandsp.h>

#include "log.h"
#include "spanlog.h"

#define OUT_MAX      (64 * 1024)     /* bytes for the program not yet written to the device */
#define READ_CHUNK   256             /* bytes read from the device at once: the T.31 buffer
                                      * never takes more than its low tide past its high */
#define QUEUE_FRAMES 16              /* 320 ms of audio each way */
#define PRIME_FRAMES 10              /* frames our engine is ahead of the modem: a worker
                                      * scheduled late by up to 200 ms leaves no gap in
                                      * the modem's signal (a gap ends a page early);
                                      * T.30's timers are seconds, so the delay is free */
#define STEP_NS      (20 * 1000000LL)
#define BEHIND_NS    200000000LL     /* further behind the clock: start it again */
#define PROBE_MS     100             /* while no program has the device open: looked at */
#define WAIT_TICK_MS 1000            /* a worker waiting for a step gives up after this */
#define DLE 0x10
#define ETX 0x03

enum state {
	S_IDLE = 0,
	S_RINGING,                       /* we ring the program */
	S_DIALLED,                       /* the program dialled; the host decides */
	S_UP,                            /* a call is up: the audio runs */
};

/* Work for the modem's thread, asked for under the lock. */
enum {
	P_RING      = 1 << 0,            /* ring now */
	P_ANSWERED  = 1 << 1,            /* tell the T.31 the call it answered is up */
	P_CONNECTED = 1 << 2,            /* tell the T.31 the call it dialled is up */
	P_BUSY      = 1 << 3,            /* refuse the dial: BUSY */
	P_NOCARRIER = 1 << 4,            /* refuse the dial: NO CARRIER */
	P_HANGUP    = 1 << 5,            /* end the call: NO CARRIER */
	P_DIALLED   = 1 << 6,            /* tell the owner what the program dialled */
	P_RESPOND_NC = 1 << 7,           /* ATA with nothing ringing: NO CARRIER */
};

struct frameq {
	int16_t f[QUEUE_FRAMES][VMODEM_SAMPLES];
	int     head, n;
};

struct vmodem {
	struct vmodem_opts o;
	char               name[32];
	char               link[PATH_MAX];
	char               pts[64];
	char               dir[PATH_MAX];
	int                master;
	int                wake[2];
	pthread_t          thread;
	int                started;
	pthread_mutex_t    lock;
	pthread_cond_t     cond;
	/* under the lock */
	int                stop;
	int                attached;
	int                state;
	int                pending;
	int                answered;         /* the program answered our ring */
	char               number[VMODEM_NUMBER_MAX + 1];
	uint64_t           ticks;
	struct frameq      to_modem, from_modem;
	int                primed;
	struct vmodem_stats st;
	/* the modem's thread only */
	t31_state_t       *t31;
	int                cts;              /* the T.31 takes data from the program */
	uint8_t            out[OUT_MAX];
	size_t             out_len;
	uint64_t           out_dropped_logged;
	int                out_dropping;     /* dropping, said and not yet summed up */
	uint64_t           hdlc_dropped_logged;
	char               line[VMODEM_LINE_MAX + 1];
	size_t             line_len;
	int                line_over;
	int64_t            next_tick, next_ring;
	int                ring_s;
	int                ring_first;       /* the next ring begins a call: rings counted
	                                      * afresh for the program's auto-answer (S0) */
};

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void
wake(struct vmodem *m)
{
	/* A full pipe already holds a wake-up. */
	(void)!write(m->wake[1], "x", 1);
}

/* ---- the queues of 20 ms frames (under the lock) ---- */

static void
q_clear(struct frameq *q)
{
	q->head = q->n = 0;
}

/* Adds a frame; the oldest goes when full. 1 when one was dropped. */
static int
q_put(struct frameq *q, const int16_t *amp)
{
	int dropped = 0;

	if (q->n == QUEUE_FRAMES) {
		q->head = (q->head + 1) % QUEUE_FRAMES;
		q->n--;
		dropped = 1;
	}
	memcpy(q->f[(q->head + q->n) % QUEUE_FRAMES], amp, sizeof(q->f[0]));
	q->n++;
	return dropped;
}

static int
q_get(struct frameq *q, int16_t *amp)
{
	if (q->n == 0)
		return 0;
	memcpy(amp, q->f[q->head], sizeof(q->f[0]));
	q->head = (q->head + 1) % QUEUE_FRAMES;
	q->n--;
	return 1;
}

/* ---- spandsp's callbacks: on the modem's thread, the lock held ---- */

/* What the modem says to the program: kept until the device takes it; dropped past
 * OUT_MAX (a program that does not read), and when no program has the device open. */
static int
at_tx(at_state_t *s, void *user, const uint8_t *buf, size_t len)
{
	struct vmodem *m = user;

	(void)s;
	if (!m->attached)
		return 0;
	if (len > OUT_MAX - m->out_len) {
		m->st.dropped_out += len;
		return 0;
	}
	memcpy(m->out + m->out_len, buf, len);
	m->out_len += len;
	return 0;
}

static int
modem_control(t31_state_t *t, void *user, int op, const char *num)
{
	struct vmodem *m = user;

	(void)t;
	switch (op) {
	case AT_MODEM_CONTROL_CALL:
		if (m->state != S_IDLE) {
			/* dialling while we ring it: the line is taken */
			m->pending |= P_BUSY;
			break;
		}
		snprintf(m->number, sizeof(m->number), "%s", num ? num : "");
		m->state = S_DIALLED;
		m->pending |= P_DIALLED;
		break;
	case AT_MODEM_CONTROL_ANSWER:
		if (m->state == S_RINGING) {
			m->answered = 1;
			m->state = S_UP;
			m->pending |= P_ANSWERED;
			pthread_cond_broadcast(&m->cond);
		} else
			m->pending |= P_RESPOND_NC;
		break;
	case AT_MODEM_CONTROL_HANGUP:
		/* ATH, or the T.31 giving up (no carrier after dialling): the call ends */
		if (m->state != S_IDLE) {
			m->state = S_IDLE;
			pthread_cond_broadcast(&m->cond);
		}
		break;
	case AT_MODEM_CONTROL_CTS:
		m->cts = num != NULL;
		break;
	default:
		/* off- and on-hook, the V.24 circuits, caller id: nothing to do on a pty (0.0.6
		 * also passes the DTE timeout through here under an odd number) */
		break;
	}
	return 0;
}

/* A T.31 let go of whole: 0.0.6's t31_free leaves its receive queue and the AT
 * interpreter's station id (AT+FLI) behind. */
static void
t31_drop(t31_state_t *t)
{
	if (t == NULL)
		return;
	queue_free(t->rx_queue);
	at_release(&t->at_state);
	t31_free(t);
}

/* A new T.31, as a modem just switched on. 0, or -1 (the old one is kept). */
static int
t31_start(struct vmodem *m)
{
	t31_state_t *t = t31_init(NULL, at_tx, m, modem_control, m, NULL, NULL);

	if (t == NULL)
		return -1;
	t31_drop(m->t31);
	m->t31 = t;
	t31_set_transmit_on_idle(m->t31, 1);
	spanlog_attach(t31_get_logging_state(m->t31), m->name);
	m->cts = 1;
	m->line_len = 0;
	m->line_over = 0;
	return 0;
}

/* ---- the device ---- */

static void
flush_out(struct vmodem *m)
{
	ssize_t n;

	while (m->out_len > 0) {
		n = write(m->master, m->out, m->out_len);
		if (n <= 0)
			return;         /* full (the program is not reading), or gone: later */
		memmove(m->out, m->out + n, m->out_len - (size_t)n);
		m->out_len -= (size_t)n;
	}
}

/* The program closed the device: a call it was on ends, and the next program finds a new
 * modem. */
static void
detach(struct vmodem *m)
{
	m->attached = 0;
	m->out_len = 0;
	if (m->state != S_IDLE) {
		m->state = S_IDLE;
	}
	m->pending &= ~(P_RING | P_ANSWERED | P_CONNECTED | P_HANGUP);
	pthread_cond_broadcast(&m->cond);
	if (t31_start(m) != 0)
		log_warnx("virtual modem %s: out of memory for the modem", m->name);
	log_info("virtual modem %s: the program closed %s", m->name, m->link);
}

static int
mode(const struct vmodem *m)
{
	return m->t31->at_state.at_rx_mode;
}

/* A command line assembled here goes to the interpreter whole, with its end; one over
 * VMODEM_LINE_MAX is answered ERROR and never seen by it. Returns the bytes used: up to
 * the line's end, when the interpreter's mode may have changed after it. */
static size_t
take_command(struct vmodem *m, const uint8_t *b, size_t n)
{
	uint8_t cr = m->t31->at_state.p.s_regs[3];

	for (size_t i = 0; i < n; i++) {
		if (b[i] != cr) {
			if (m->line_len < VMODEM_LINE_MAX)
				m->line[m->line_len++] = (char)b[i];
			else
				m->line_over = 1;
			continue;
		}
		if (m->line_over) {
			/* logged the first times and then now and again: a program sending
			 * nothing but garbage fills no log */
			if (++m->st.refused_lines <= 3 || m->st.refused_lines % 1000 == 0)
				log_warnx("virtual modem %s: a command line over %d characters "
				    "refused (%llu so far)", m->name, VMODEM_LINE_MAX,
				    (unsigned long long)m->st.refused_lines);
			at_put_response_code(&m->t31->at_state, AT_RESPONSE_CODE_ERROR);
		} else {
			m->line[m->line_len++] = (char)cr;
			t31_at_rx(m->t31, m->line, (int)m->line_len);
		}
		m->line_len = 0;
		m->line_over = 0;
		return i + 1;
	}
	return n;
}

/* Data after AT+FTM: up to and with a DLE ETX, which ends it (the rest is commands). */
static size_t
take_stuffed(struct vmodem *m, const uint8_t *b, size_t n)
{
	int dled = m->t31->dled;
	size_t i;

	for (i = 0; i < n; i++) {
		if (dled) {
			dled = 0;
			if (b[i] == ETX) {
				i++;
				break;
			}
		} else if (b[i] == DLE)
			dled = 1;
	}
	t31_at_rx(m->t31, (const char *)b, (int)i);
	return i;
}

/* An HDLC frame after AT+FTH: byte by byte, each only while the modem's frame buffer has
 * room for what it may add (two bytes for a DLE SUB); past that only the frame's end (DLE
 * ETX) goes through, and the rest is dropped. */
static size_t
take_hdlc(struct vmodem *m, const uint8_t *b, size_t n)
{
	t31_state_t *t = m->t31;
	size_t i;

	for (i = 0; i < n && mode(m) == AT_MODE_HDLC; i++) {
		if (t->hdlc_tx.len > T31_MAX_HDLC_LEN - 2) {
			if (t->dled && b[i] != ETX) {
				t->dled = 0;            /* the escaped byte is dropped with it */
				m->st.dropped_hdlc++;
				continue;
			}
			if (!t->dled && b[i] != DLE) {
				m->st.dropped_hdlc++;
				continue;
			}
		}
		t31_at_rx(t, (const char *)&b[i], 1);
	}
	return i;
}

static void run_pending(struct vmodem *m);

/* What the program wrote, at most READ_CHUNK bytes while the modem takes data. */
static void
read_device(struct vmodem *m)
{
	uint8_t buf[READ_CHUNK];
	size_t off = 0;
	ssize_t n;

	n = read(m->master, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		detach(m);             /* EIO: the slave side is closed */
		return;
	}
	while (off < (size_t)n) {
		switch (mode(m)) {
		case AT_MODE_ONHOOK_COMMAND:
		case AT_MODE_OFFHOOK_COMMAND:
			off += take_command(m, buf + off, (size_t)n - off);
			break;
		case AT_MODE_STUFFED:
			off += take_stuffed(m, buf + off, (size_t)n - off);
			break;
		case AT_MODE_HDLC:
			off += take_hdlc(m, buf + off, (size_t)n - off);
			break;
		default:
			/* DELIVERY: any byte is an abort, which the T.31 takes whole; CONNECTED
			 * (data mode) is not ours */
			t31_at_rx(m->t31, (const char *)buf + off, (int)((size_t)n - off));
			off = (size_t)n;
			break;
		}
		run_pending(m);
	}
}

/* ---- the modem's thread ---- */

/* One 20 ms step of a call: our engine's frame in (once it is PRIME_FRAMES ahead), the
 * modem's frame out. */
static void
step(struct vmodem *m)
{
	int16_t in[VMODEM_SAMPLES], out[VMODEM_SAMPLES];
	int n;

	if (!m->primed && m->to_modem.n >= PRIME_FRAMES)
		m->primed = 1;
	if (!m->primed || !q_get(&m->to_modem, in)) {
		if (m->primed)
			m->st.underruns++;
		m->primed = 0;
		memset(in, 0, sizeof(in));
	}
	t31_rx(m->t31, in, VMODEM_SAMPLES);
	n = t31_tx(m->t31, out, VMODEM_SAMPLES);
	if (n < VMODEM_SAMPLES)
		memset(out + n, 0, sizeof(int16_t) * (size_t)(VMODEM_SAMPLES - n));
	if (q_put(&m->from_modem, out))
		m->st.overruns++;
	m->ticks++;
	m->st.steps++;
	pthread_cond_broadcast(&m->cond);
}

static void
call_up(struct vmodem *m)
{
	q_clear(&m->to_modem);
	q_clear(&m->from_modem);
	m->primed = 0;
	m->next_tick = now_ns();
}

/* The work asked for, in order; the callbacks of one may ask for more. */
static void
run_pending(struct vmodem *m)
{
	for (int rounds = 0; m->pending && rounds < 4; rounds++) {
		int p = m->pending;

		m->pending = 0;
		if (p & P_DIALLED) {
			char number[VMODEM_NUMBER_MAX + 1];

			memcpy(number, m->number, sizeof(number));
			log_info("virtual modem %s: the program dialled %s", m->name, number);
			if (m->o.dialled == NULL) {
				m->state = S_IDLE;      /* nobody to take it */
				m->pending |= P_NOCARRIER;
			} else {
				/* The owner takes its lock and may call back in: not under ours. */
				pthread_mutex_unlock(&m->lock);
				m->o.dialled(m->o.arg, m, number);
				pthread_mutex_lock(&m->lock);
			}
		}
		if (p & P_RING) {
			if (m->state == S_RINGING) {
				if (m->ring_first)
					at_reset_call_info(&m->t31->at_state);
				m->ring_first = 0;
				t31_call_event(m->t31, AT_CALL_EVENT_ALERTING);
			}
		}
		if (p & P_ANSWERED) {
			log_info("virtual modem %s: the program answered", m->name);
			call_up(m);
			t31_call_event(m->t31, AT_CALL_EVENT_ANSWERED);
		}
		if (p & P_CONNECTED) {
			call_up(m);
			t31_call_event(m->t31, AT_CALL_EVENT_CONNECTED);
		}
		if (p & P_BUSY)
			t31_call_event(m->t31, AT_CALL_EVENT_BUSY);
		if (p & (P_NOCARRIER | P_RESPOND_NC)) {
			at_set_at_rx_mode(&m->t31->at_state, AT_MODE_ONHOOK_COMMAND);
			at_put_response_code(&m->t31->at_state, AT_RESPONSE_CODE_NO_CARRIER);
		}
		if (p & P_HANGUP)
			t31_call_event(m->t31, AT_CALL_EVENT_HANGUP);
	}
}

/* Bytes a program wrote and closed the device on before the modem read them (the server
 * was stopped the whole time the program had it open, say): dropped, or the next program's
 * commands would be answered with the answers to those, one behind. Read only while the
 * other side is closed and something is there, so a program opening it now loses nothing
 * but in that rare case. */
static void
drop_stale(struct vmodem *m)
{
	char junk[256];
	size_t n = 0;
	ssize_t r;

	for (;;) {
		struct pollfd p = { m->master, POLLIN, 0 };

		if (poll(&p, 1, 0) != 1 || (p.revents & (POLLIN | POLLHUP)) != (POLLIN | POLLHUP))
			break;
		if ((r = read(m->master, junk, sizeof(junk))) <= 0)
			break;
		n += (size_t)r;
	}
	if (n > 0)
		log_info("virtual modem %s: %zu bytes a program wrote to %s and closed it on, "
		    "never read: dropped", m->name, n, m->link);
}

/* No program has the device open: while the slave side is closed the master reports a
 * hang-up at every poll. */
static int
slave_open(struct vmodem *m)
{
	struct pollfd p = { m->master, POLLIN, 0 };

	return poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP);
}

static void *
thread_main(void *arg)
{
	struct vmodem *m = arg;
	char drain[64];

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct pollfd p[2];
		int nfds = 1, timeout = -1, rc;
		int64_t now = now_ns();

		if (!m->attached && slave_open(m)) {
			m->attached = 1;
			log_info("virtual modem %s: a program opened %s", m->name, m->link);
		}
		if (!m->attached) {
			drop_stale(m);
			timeout = PROBE_MS;
		}
		if (m->state == S_UP) {
			int64_t left = m->next_tick - now;

			timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		}
		if (m->state == S_RINGING) {
			int64_t left = m->next_ring - now;
			int t = left <= 0 ? 0 : (int)((left + 999999) / 1000000);

			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		p[0].fd = m->wake[0];
		p[0].events = POLLIN;
		if (m->attached) {
			p[1].fd = m->master;
			/* Not read while the T.31 holds its data back: the program's writes wait
			 * in the pseudo-terminal, as on a modem's flow control. */
			p[1].events = (m->cts ? POLLIN : 0) | (m->out_len ? POLLOUT : 0);
			nfds = 2;
		}
		pthread_mutex_unlock(&m->lock);
		rc = poll(p, (nfds_t)nfds, timeout);
		pthread_mutex_lock(&m->lock);
		if (rc < 0 && errno != EINTR) {
			log_warn("virtual modem %s: poll", m->name);
			break;
		}
		if (rc > 0 && (p[0].revents & POLLIN))
			while (read(m->wake[0], drain, sizeof(drain)) > 0)
				;
		run_pending(m);
		if (m->attached && nfds == 2 && rc > 0) {
			if (p[1].revents & POLLIN)
				read_device(m);
			else if (p[1].revents & (POLLHUP | POLLERR))
				detach(m);
		}
		if (m->state == S_RINGING && now_ns() >= m->next_ring) {
			m->next_ring = now_ns() + (int64_t)m->ring_s * 1000000000LL;
			m->pending |= P_RING;
			run_pending(m);
		}
		if (m->state == S_UP) {
			now = now_ns();
			if (now - m->next_tick > BEHIND_NS)
				m->next_tick = now;      /* late: one step, not a burst */
			if (now >= m->next_tick) {
				step(m);
				m->next_tick += STEP_NS;
			}
		}
		if (m->attached && m->out_len)
			flush_out(m);
		/* Said once when the program stops reading and once when it reads again (or
		 * closes the device), with what it lost: a program that writes and never reads
		 * fills no log. */
		if (m->st.dropped_out > m->out_dropped_logged && !m->out_dropping) {
			log_warnx("virtual modem %s: the program does not read its device: what the "
			    "modem says to it is dropped until it does", m->name);
			m->out_dropping = 1;
		}
		if (m->out_dropping && m->out_len == 0) {
			log_info("virtual modem %s: %llu bytes for the program were dropped while it "
			    "did not read its device", m->name, (unsigned long long)(m->st.dropped_out -
			    m->out_dropped_logged));
			m->out_dropped_logged = m->st.dropped_out;
			m->out_dropping = 0;
		}
		if (m->st.dropped_hdlc > m->hdlc_dropped_logged) {
			log_warnx("virtual modem %s: an HDLC frame from the program over %d bytes: "
			    "%llu bytes of it dropped", m->name, T31_MAX_HDLC_LEN,
			    (unsigned long long)(m->st.dropped_hdlc - m->hdlc_dropped_logged));
			m->hdlc_dropped_logged = m->st.dropped_hdlc;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- the device's making ---- */

/* The slave side raw, as a modem's serial line: a program that sets nothing (or the unit
 * test) then neither has its input echoed back to the modem nor its line ends changed. The
 * setting stays with the pseudo-terminal while its master is open. */
static int
slave_raw(const char *pts, const char *group, char *err, size_t errlen)
{
	struct termios tio;
	int fd = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", pts, strerror(errno));
		return -1;
	}
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetspeed(&tio, B115200);
		tcsetattr(fd, TCSANOW, &tio);
	}
	close(fd);
	if (group != NULL && *group) {
		struct group gr, *res = NULL;
		char buf[4096];

		if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) != 0 || res == NULL) {
			snprintf(err, errlen, "no group '%s'", group);
			return -1;
		}
		if (chown(pts, (uid_t)-1, gr.gr_gid) != 0 || chmod(pts, 0660) != 0) {
			snprintf(err, errlen, "%s: cannot give it to group '%s': %s", pts, group,
			    strerror(errno));
			return -1;
		}
	} else if (chmod(pts, 0600) != 0) {
		snprintf(err, errlen, "%s: %s", pts, strerror(errno));
		return -1;
	}
	return 0;
}

/* The stable name: a link made afresh (one a stopped server left points to a pseudo-
 * terminal of the past). */
static int
make_link(struct vmodem *m, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(m->dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", m->dir, strerror(errno));
		return -1;
	}
	if (lstat(m->link, &st) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a link: not replaced", m->link);
			return -1;
		}
		unlink(m->link);
	}
	if (symlink(m->pts, m->link) != 0) {
		snprintf(err, errlen, "%s: %s", m->link, strerror(errno));
		return -1;
	}
	return 0;
}

struct vmodem *
vmodem_new(const struct vmodem_opts *o, char *err, size_t errlen)
{
	struct vmodem *m = calloc(1, sizeof(*m));
	struct termios tio;
	int flags;

	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->o = *o;
	m->master = m->wake[0] = m->wake[1] = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	snprintf(m->name, sizeof(m->name), "%s", o->name);
	snprintf(m->dir, sizeof(m->dir), "%s", o->dir);
	if (snprintf(m->link, sizeof(m->link), "%s/%s", o->dir, o->name) >= (int)sizeof(m->link)) {
		snprintf(err, errlen, "%s: path too long", o->dir);
		goto fail;
	}
	if ((m->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
	    grantpt(m->master) != 0 || unlockpt(m->master) != 0 ||
	    ptsname_r(m->master, m->pts, sizeof(m->pts)) != 0) {
		snprintf(err, errlen, "a pseudo-terminal: %s", strerror(errno));
		goto fail;
	}
	if (tcgetattr(m->master, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(m->master, TCSANOW, &tio);
	}
	if ((flags = fcntl(m->master, F_GETFL)) < 0 ||
	    fcntl(m->master, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    pipe2(m->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (slave_raw(m->pts, o->group, err, errlen) != 0 || make_link(m, err, errlen) != 0)
		goto fail;
	if (t31_start(m) != 0) {
		snprintf(err, errlen, "out of memory for the modem");
		goto fail;
	}
	if (pthread_create(&m->thread, NULL, thread_main, m) != 0) {
		snprintf(err, errlen, "cannot start the modem's thread");
		goto fail;
	}
	m->started = 1;
	return m;
fail:
	vmodem_free(m);
	return NULL;
}

void
vmodem_free(struct vmodem *m)
{
	char target[PATH_MAX];
	ssize_t n;

	if (m == NULL)
		return;
	if (m->started) {
		pthread_mutex_lock(&m->lock);
		m->stop = 1;
		m->state = S_IDLE;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		wake(m);
		pthread_join(m->thread, NULL);
	}
	/* The link goes only while it is ours: another server may have made it since. */
	if (m->link[0] && (n = readlink(m->link, target, sizeof(target) - 1)) > 0) {
		target[n] = '\0';
		if (strcmp(target, m->pts) == 0)
			unlink(m->link);
	}
	t31_drop(m->t31);
	if (m->master >= 0)
		close(m->master);
	for (int i = 0; i < 2; i++)
		if (m->wake[i] >= 0)
			close(m->wake[i]);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

const char *
vmodem_name(const struct vmodem *m)
{
	return m->name;
}

const char *
vmodem_link(const struct vmodem *m)
{
	return m->link;
}

const char *
vmodem_pts(const struct vmodem *m)
{
	return m->pts;
}

int
vmodem_attached(struct vmodem *m)
{
	int a;

	pthread_mutex_lock(&m->lock);
	a = m->attached;
	pthread_mutex_unlock(&m->lock);
	return a;
}

/* ---- the workers' side ---- */

/* Waits on the modem's condition until *until (monotonic ns) at most. */
static void
wait_until(struct vmodem *m, int64_t until)
{
	struct timespec ts;
	int64_t left = until - now_ns();

	if (left <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000000000LL);
	ts.tv_nsec += (long)(left % 1000000000LL);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&m->cond, &m->lock, &ts);
}

int
vmodem_ring(struct vmodem *m, int ring_s, int timeout_s, const atomic_int *abort)
{
	int64_t end = now_ns() + (int64_t)timeout_s * 1000000000LL;
	int rc;

	pthread_mutex_lock(&m->lock);
	if (!m->attached) {
		pthread_mutex_unlock(&m->lock);
		return VMODEM_ABSENT;
	}
	if (m->state != S_IDLE || m->stop) {
		pthread_mutex_unlock(&m->lock);
		return VMODEM_BUSY;
	}
	m->state = S_RINGING;
	m->answered = 0;
	m->ring_s = ring_s > 0 ? ring_s : 6;
	m->ring_first = 1;
	m->next_ring = now_ns();
	pthread_mutex_unlock(&m->lock);
	wake(m);
	pthread_mutex_lock(&m->lock);
	for (;;) {
		if (m->answered) {
			rc = VMODEM_ANSWERED;
			break;
		}
		if (m->state != S_RINGING) {
			rc = VMODEM_GONE;
			break;
		}
		if (abort && atomic_load(abort)) {
			rc = VMODEM_ABORTED;
			break;
		}
		if (now_ns() >= end) {
			rc = VMODEM_RANG_OUT;
			break;
		}
		/* abort is a flag, not a signal: looked at every 100 ms */
		wait_until(m, now_ns() + 100000000LL < end ? now_ns() + 100000000LL : end);
	}
	if (rc != VMODEM_ANSWERED && m->state == S_RINGING)
		m->state = S_IDLE;      /* the program hears no more rings */
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int
vmodem_connect(struct vmodem *m)
{
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if (m->state == S_DIALLED && m->attached) {
		m->state = S_UP;
		m->pending |= P_CONNECTED;
		rc = 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc == 0)
		wake(m);
	return rc;
}

void
vmodem_refuse(struct vmodem *m, int busy)
{
	int was;

	pthread_mutex_lock(&m->lock);
	if ((was = m->state == S_DIALLED)) {
		m->state = S_IDLE;
		m->pending |= busy ? P_BUSY : P_NOCARRIER;
	}
	pthread_mutex_unlock(&m->lock);
	if (was)
		wake(m);
}

void
vmodem_hangup(struct vmodem *m, int drain_s, const atomic_int *abort)
{
	int64_t end = now_ns() + (int64_t)drain_s * 1000000000LL;

	pthread_mutex_lock(&m->lock);
	/* The modem steps on meanwhile, with silence from us: the program hears the end of
	 * what our engine sent, then hangs up itself. */
	while (m->state == S_UP && now_ns() < end && !(abort && atomic_load(abort)))
		wait_until(m, now_ns() + 100000000LL < end ? now_ns() + 100000000LL : end);
	if (m->state == S_UP) {
		m->state = S_IDLE;
		m->pending |= P_HANGUP;
		log_info("virtual modem %s: hung up", m->name);
	}
	pthread_mutex_unlock(&m->lock);
	wake(m);
}

int
vmodem_audio_wait(struct vmodem *m, uint64_t *seen, const atomic_int *abort)
{
	int64_t end = now_ns() + (int64_t)WAIT_TICK_MS * 1000000LL;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	/* A media's first step (or one from an earlier call): from the modem's step now. */
	if (*seen == 0 || *seen > m->ticks)
		*seen = m->ticks;
	while (m->state != S_UP || m->ticks <= *seen) {
		if (m->state != S_UP || (abort && atomic_load(abort)) || now_ns() >= end) {
			rc = -1;
			break;
		}
		wait_until(m, now_ns() + 50000000LL < end ? now_ns() + 50000000LL : end);
	}
	if (rc == 0) {
		/* Far behind (a worker not scheduled for a while): on from the modem's step now,
		 * its queue having kept the latest frames. */
		if (m->ticks - *seen > QUEUE_FRAMES)
			*seen = m->ticks - QUEUE_FRAMES;
		(*seen)++;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void
vmodem_audio_put(struct vmodem *m, const int16_t amp[VMODEM_SAMPLES])
{
	pthread_mutex_lock(&m->lock);
	if (q_put(&m->to_modem, amp))
		m->st.overruns++;
	pthread_mutex_unlock(&m->lock);
}

void
vmodem_audio_get(struct vmodem *m, int16_t amp[VMODEM_SAMPLES])
{
	pthread_mutex_lock(&m->lock);
	if (!q_get(&m->from_modem, amp))
		memset(amp, 0, sizeof(int16_t) * VMODEM_SAMPLES);
	pthread_mutex_unlock(&m->lock);
}

void
vmodem_stats(struct vmodem *m, struct vmodem_stats *s)
{
	pthread_mutex_lock(&m->lock);
	*s = m->st;
	pthread_mutex_unlock(&m->lock);
}

/* modemline.c: a real Class 1 fax modem as a fax line (modemline.h). Each call opens the
 * device afresh (so a modem unplugged and plugged back in works again at the next call, and
 * other programs may use it between calls under the same lock file), resets it, dials, and
 * once the far machine's V.21 is heard (CONNECT) runs T.30 on the host through class1.c. The
 * modem's words for a failed dial become the line's outcome: BUSY is busy, NO CARRIER and
 * NO ANSWER are no answer (retried later), NO DIALTONE means the telephone line itself is
 * missing (the call could not be placed).
 *
 * A modem with a number of ours answers too: a thread of its own (the watcher) keeps the
 * device open between calls and counts RINGs; at the modem's rings it hands the call to the
 * loop (loopwake.h), since the queue's host is asked there only, and the queue answers it
 * on a worker (ATA, then T.30 receiving). One lock holds the device: the watcher takes it
 * for a look of 200 ms at a time, a call for its whole length (busy keeps the watcher off
 * meanwhile, so a call never waits long for it). */
#include "modemline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "atchan.h"
#include "class1.h"
#include "loopwake.h"
#include "log.h"

#define AT_MS      3000            /* a modem answers AT at once; 3 s is generous */
#define HANGUP_MS  5000
#define SLICE_MS   100
#define LOOK_MS    200             /* the watcher's look at the device */
#define REOPEN_S   5               /* a device that cannot be opened: tried again after */
#define RING_GAP_S 10              /* no RING for so long: the caller gave up */
#define ANSWER_MS  30000           /* ATA to CONNECT */

struct modemline {
	struct modem_config m;
	char tag[MODEMCONF_NAME_MAX + 8];
	struct event_base *base;
	/* answering: the watcher thread and the device it keeps open between calls */
	pthread_mutex_t lock;            /* holds ch */
	struct atchan  *ch;              /* open between calls, or NULL */
	atomic_int      busy;            /* a call wants or has the device */
	atomic_int      offered;         /* a ringing call handed to the loop, not yet over */
	atomic_int      stop;
	pthread_t       thread;
	int             thread_on;
	struct loopwake *wake;           /* the watcher's ringing call, to the loop */
	struct line_host host;
	char            user[65];        /* the loop's: whom the offered call is for */
};

int
modemline_routes(void *line, const char *number)
{
	struct modemline *l = line;

	return l != NULL && modemconf_routes(&l->m, number);
}

/* A command answered OK within AT_MS: 0, or -1 with the reason. */
static int
at_ok(struct atchan *ch, const char *dev, long speed, const char *cmd, const char *hint,
      char *err, size_t errlen)
{
	char line[ATCHAN_LINE_MAX + 1];
	int64_t waited = 0;

	if (atchan_command(ch, cmd, AT_MS) < 0) {
		snprintf(err, errlen, "%s", atchan_error(ch));
		return -1;
	}
	/* Lines before OK are information (ATI's words, say); a silent modem times out. */
	while (waited < AT_MS) {
		int rc = atchan_read_line(ch, line, sizeof(line), SLICE_MS), r;

		waited += SLICE_MS;
		if (rc < 0) {
			snprintf(err, errlen, "%s", atchan_error(ch));
			return -1;
		}
		if (rc == 0)
			continue;
		if ((r = atchan_parse(line)) == ATCHAN_OK)
			return 0;
		if (r == ATCHAN_ERROR) {
			snprintf(err, errlen, "the modem on %s answered ERROR to %s%s", dev, cmd, hint);
			return -1;
		}
	}
	/* Said with what an operator can check from here: a modem switched off, a cable out, a
	 * speed the modem does not take and another program on the device (one that takes no
	 * lock file) all look the same, a silent device. Short: the call's words are 200. */
	snprintf(err, errlen, "the modem on %s did not answer %s in %d s: is it on and cabled, "
	    "does it take %ld bit/s, is another program using it?", dev, cmd, AT_MS / 1000,
	    speed);
	return -1;
}

struct atchan *
modemline_open(const struct modem_config *m, char *err, size_t errlen)
{
	struct atchan_opts ao = { 0 };
	struct atchan *ch;

	ao.device = m->device;
	ao.speed = (long)m->speed;
	ao.flow = m->flow_control;
	ao.lock_dir = m->lock_dir;
	ao.tag = m->name;
	if ((ch = atchan_open(&ao, err, errlen)) == NULL)
		return NULL;
	if (at_ok(ch, m->device, ao.speed, m->init, "", err, errlen) < 0 ||
	    at_ok(ch, m->device, ao.speed, "ATE0V1", "", err, errlen) < 0 ||
	    at_ok(ch, m->device, ao.speed, "AT+FCLASS=1", ": it is not a Class 1 fax modem",
	    err, errlen) < 0) {
		atchan_close(ch);
		return NULL;
	}
	return ch;
}

void *
modemline_new(const struct modemline_opts *o, char *err, size_t errlen)
{
	struct modemline *l = calloc(1, sizeof(*l));
	struct atchan *ch;
	char why[512];

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->m = *o->conf;
	l->base = o->base;
	pthread_mutex_init(&l->lock, NULL);
	snprintf(l->tag, sizeof(l->tag), "modem %s", l->m.name);
	/* A first look, so that the operator hears of a missing modem at start, not at the
	 * first fax; the line stays, as the modem may be plugged in later. */
	if ((ch = modemline_open(&l->m, why, sizeof(why))) == NULL)
		log_warnx("%s: %s", l->tag, why);
	else {
		log_info("%s: %s answers as a Class 1 fax modem", l->tag, l->m.device);
		atchan_close(ch);
	}
	return l;
}

/* The modem's answer to the dial: enum atchan_resp; -1 when none came (timeout, abort) or
 * -2 on a device error, with words in r. */
static int
dial_answer(struct modemline *l, struct atchan *ch, const struct line_call *c,
            struct line_result *r, char *line, size_t cap)
{
	for (int64_t waited = 0; waited < l->m.dial_timeout * 1000; waited += SLICE_MS) {
		int rc = atchan_read_line(ch, line, cap, SLICE_MS), a;

		if (rc < 0) {
			snprintf(r->words, sizeof(r->words), "%s: %s", l->tag, atchan_error(ch));
			return -2;
		}
		if (c->abort && atomic_load(c->abort)) {
			snprintf(r->words, sizeof(r->words), "hung up while it rang");
			return -1;
		}
		if (rc == 0)
			continue;
		a = atchan_parse(line);
		if (a != ATCHAN_OTHER && a != ATCHAN_RING)
			return a;
		log_debug("%s: the modem said '%s' while dialling", l->tag, line);
	}
	snprintf(r->words, sizeof(r->words), "no answer within %lld s (dial_timeout)",
	    l->m.dial_timeout);
	return -1;
}

static void
hang_up(struct modemline *l, struct atchan *ch)
{
	char line[ATCHAN_LINE_MAX + 1];

	/* A modem still sending data (+FTM) ends it at DLE ETX, one still receiving at any
	 * byte; in command mode the bytes are a line it refuses. Then ATH. */
	if (atchan_write(ch, "\x10\x03\r", 3, HANGUP_MS) == 0)
		(void)atchan_read_line(ch, line, sizeof(line), 200);
	if (atchan_command(ch, "ATH0", HANGUP_MS) < 0 ||
	    atchan_read_line(ch, line, sizeof(line), HANGUP_MS) != 1)
		log_info("%s: the modem did not answer ATH0; dropping DTR hangs it up", l->tag);
}

/* ---- the device between the watcher and the calls ---- */

/* The device for a call: the one the watcher keeps open (set up already), else opened now.
 * The lock is held until give_device. NULL with the reason. */
static struct atchan *
take_device(struct modemline *l, char *err, size_t errlen)
{
	struct atchan *ch;

	atomic_store(&l->busy, 1);
	pthread_mutex_lock(&l->lock);
	ch = l->ch;
	l->ch = NULL;
	return ch != NULL ? ch : modemline_open(&l->m, err, errlen);
}

/* The call is over (its channel closed): the watcher opens the device again. */
static void
give_device(struct modemline *l)
{
	pthread_mutex_unlock(&l->lock);
	atomic_store(&l->busy, 0);
}

static void
nap(struct modemline *l, int ms)
{
	for (int i = 0; i < ms && !atomic_load(&l->stop); i += 50)
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
}

/* The watcher: the device open between calls, RINGs counted, a call at rings handed to the
 * loop. A device that fails is closed and opened again after REOPEN_S, its reason logged
 * when it changes. */
static void *
watch(void *arg)
{
	struct modemline *l = arg;
	char line[ATCHAN_LINE_MAX + 1], why[512], said[512] = "";
	int rings = 0;
	time_t last_ring = 0;

	while (!atomic_load(&l->stop)) {
		int rc, reopen = 0;

		if (atomic_load(&l->busy) || atomic_load(&l->offered)) {
			rings = 0;
			nap(l, 50);
			continue;
		}
		pthread_mutex_lock(&l->lock);
		if (l->ch == NULL) {
			if ((l->ch = modemline_open(&l->m, why, sizeof(why))) == NULL) {
				if (strcmp(why, said) != 0)
					log_warnx("%s: %s; tried again every %d s", l->tag, why, REOPEN_S);
				snprintf(said, sizeof(said), "%s", why);
				reopen = 1;
			} else {
				/* said at every open: at start, after each call, after the device
				 * failed; the operator sees the modem listen again */
				log_info("%s: waiting for calls to %s on %s", l->tag, l->m.number,
				    l->m.device);
				said[0] = '\0';
			}
		}
		if (l->ch != NULL) {
			rc = atchan_read_line(l->ch, line, sizeof(line), LOOK_MS);
			if (rc < 0) {
				log_warnx("%s: %s", l->tag, atchan_error(l->ch));
				atchan_close(l->ch);
				l->ch = NULL;
				rings = 0;
			} else if (rc == 1 && atchan_parse(line) == ATCHAN_RING) {
				last_ring = time(NULL);
				log_info("%s: RING %d of %lld", l->tag, rings + 1, l->m.rings);
				if (++rings >= l->m.rings) {
					rings = 0;
					atomic_store(&l->offered, 1);
					loopwake_poke(l->wake);
				}
			} else if (rc == 1)
				log_debug("%s: the modem said '%s' unasked", l->tag, line);
		}
		pthread_mutex_unlock(&l->lock);
		if (rings > 0 && time(NULL) - last_ring > RING_GAP_S) {
			log_info("%s: the caller stopped ringing after %d ring%s", l->tag, rings,
			    rings == 1 ? "" : "s");
			rings = 0;
		}
		/* let a call waiting for the lock have it */
		nap(l, reopen ? REOPEN_S * 1000 : 1);
	}
	return NULL;
}

/* A ringing call, on the loop: offered to the queue for the user the number belongs to. */
static void
on_ringing(void *arg)
{
	struct modemline *l = arg;
	struct line_incoming in;
	const char *user;

	if (!atomic_load(&l->offered))
		return;
	if ((user = l->host.number_user(l->host.arg, l->m.number)) == NULL) {
		log_warnx("%s: a call rang, but the modem's number %s is not one of fax_numbers: "
		    "not answered", l->tag, l->m.number);
		atomic_store(&l->offered, 0);
		return;
	}
	snprintf(l->user, sizeof(l->user), "%s", user);
	log_info("%s: call to %s for user=%s", l->tag, l->m.number, user);
	memset(&in, 0, sizeof(in));
	in.number = l->m.number;
	in.user = user;
	in.from = "";
	in.token = l;
	if (l->host.incoming(l->host.arg, l, &in) != 0) {
		log_info("%s: the call to %s not answered: the line is busy", l->tag, l->m.number);
		atomic_store(&l->offered, 0);
	}
}

static int
modem_attach(void *line, const struct line_host *host, char *err, size_t errlen)
{
	struct modemline *l = line;

	l->host = *host;
	if (l->m.number[0] == '\0')
		return 0;            /* dials out only: nothing to hear */
	if ((l->wake = loopwake_new(l->base, on_ringing, l, err, errlen)) == NULL)
		return -1;
	if (pthread_create(&l->thread, NULL, watch, l) != 0) {
		snprintf(err, errlen, "%s: cannot start its thread", l->tag);
		return -1;
	}
	l->thread_on = 1;
	return 0;
}

/* T.30 on the call the modem has up (its CONNECT read), sending c's document, or receiving
 * into rx; then the modem hung up and let go (the device back to the watcher). 0, or -1
 * when the engine could not start (r->words). */
static int
run_fax(struct modemline *l, struct atchan *ch, const struct line_call *c, const char *rx,
        struct line_result *r)
{
	struct class1_opts co = { 0 };
	int rc;

	co.ch = ch;
	co.calling = rx == NULL;
	co.connected = 1;
	co.tx_tiff = c->tx_tiff;
	co.first_page = c->first_page;
	co.page_header = c->page_header;
	co.rx_tiff = rx;
	co.max_rate = (int)(rx != NULL ? l->m.receive_rate : l->m.send_rate);
	co.ident = c->caller_id;
	co.log_tag = l->tag;
	co.abort = c->abort;
	co.progress = c->progress;
	co.arg = c->arg;
	rc = class1_run(&co, &r->fax);
	hang_up(l, ch);
	atchan_close(ch);
	give_device(l);
	if (rc < 0)
		snprintf(r->words, sizeof(r->words), "the fax engine: %s", r->fax.reason);
	return rc;
}

/* Answers the call that rang (ATA) and receives it. */
static int
modem_answer(void *line, void *token, const struct line_call *c, struct line_result *r)
{
	struct modemline *l = line;
	struct atchan *ch;
	char rx[PATH_MAX], resp[ATCHAN_LINE_MAX + 1];
	int fd, a = -1;

	(void)token;
	memset(r, 0, sizeof(*r));
	atomic_store(&l->busy, 1);
	pthread_mutex_lock(&l->lock);
	atomic_store(&l->offered, 0);
	ch = l->ch;
	l->ch = NULL;
	if (ch == NULL) {
		snprintf(r->words, sizeof(r->words), "%s: the modem went away before the call "
		    "was answered", l->tag);
		give_device(l);
		return -1;
	}
	snprintf(rx, sizeof(rx), "%s/recv-XXXXXX", c->rx_dir ? c->rx_dir : "/tmp");
	if ((fd = mkstemp(rx)) < 0) {
		snprintf(r->words, sizeof(r->words), "cannot create the file to receive into: %s",
		    strerror(errno));
		atchan_close(ch);
		give_device(l);
		return -1;
	}
	close(fd);
	if (atchan_command(ch, "ATA", AT_MS) == 0)
		for (int waited = 0; waited < ANSWER_MS && !(c->abort && atomic_load(c->abort));
		    waited += SLICE_MS) {
			int got = atchan_read_line(ch, resp, sizeof(resp), SLICE_MS);

			if (got < 0)
				break;
			if (got == 1 && (a = atchan_parse(resp)) != ATCHAN_OTHER &&
			    a != ATCHAN_RING)
				break;
			a = -1;
		}
	if (a != ATCHAN_CONNECT) {
		snprintf(r->words, sizeof(r->words), "%s: the modem answered but no fax machine "
		    "came (%s)", l->tag, a >= 0 ? resp : "no CONNECT");
		log_info("%s", r->words);
		hang_up(l, ch);
		atchan_close(ch);
		give_device(l);
		unlink(rx);
		return -1;
	}
	log_info("%s: answered the call to %s", l->tag, l->m.number);
	if (run_fax(l, ch, c, rx, r) < 0) {
		unlink(rx);
		return -1;
	}
	snprintf(r->received_by, sizeof(r->received_by), "%s", l->user);
	snprintf(r->rx_tiff, sizeof(r->rx_tiff), "%s", rx);
	r->outcome = LINE_CONNECTED;
	snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
	log_info("%s: call to %s: %s, %d page%s received", l->tag, l->m.number, r->fax.reason,
	    r->fax.pages_received, r->fax.pages_received == 1 ? "" : "s");
	return 0;
}

/* A taken call whose answer will never run: the caller rings on and gives up. */
static void
modem_drop(void *line, void *token)
{
	struct modemline *l = line;

	(void)token;
	atomic_store(&l->offered, 0);
}

static int
modem_call(void *line, const struct line_call *c, struct line_result *r)
{
	struct modemline *l = line;
	struct atchan *ch;
	char cmd[96], why[512], resp[ATCHAN_LINE_MAX + 1];
	int a, rc;

	memset(r, 0, sizeof(*r));
	if (modemconf_dial_command(&l->m, c->number, cmd, sizeof(cmd), why, sizeof(why)) < 0) {
		r->outcome = LINE_REFUSED;
		snprintf(r->words, sizeof(r->words), "%s", why);
		return 0;
	}
	if ((ch = take_device(l, why, sizeof(why))) == NULL) {
		log_warnx("%s: %s", l->tag, why);
		snprintf(r->words, sizeof(r->words), "%s: %s", l->tag, why);
		give_device(l);
		return -1;
	}
	log_info("%s: dialling %s", l->tag, c->number);
	if (atchan_command(ch, cmd, AT_MS) < 0) {
		snprintf(r->words, sizeof(r->words), "%s: %s", l->tag, atchan_error(ch));
		atchan_close(ch);
		give_device(l);
		return -1;
	}
	a = dial_answer(l, ch, c, r, resp, sizeof(resp));
	rc = 0;
	switch (a) {
	case ATCHAN_CONNECT:
		break;
	case ATCHAN_BUSY:
		r->outcome = LINE_BUSY;
		snprintf(r->words, sizeof(r->words), "busy (the modem said BUSY)");
		break;
	case ATCHAN_NO_CARRIER:
	case ATCHAN_NO_ANSWER:
		r->outcome = LINE_NO_ANSWER;
		snprintf(r->words, sizeof(r->words), "no answer (the modem said %s: nobody "
		    "answered, or no fax machine did)", resp);
		break;
	case -1:
		r->outcome = LINE_NO_ANSWER;     /* dial_timeout, or hung up while it rang */
		break;
	case ATCHAN_NO_DIALTONE:
		snprintf(r->words, sizeof(r->words), "%s: no dial tone: is the telephone line "
		    "plugged into the modem?", l->tag);
		rc = -1;
		break;
	case -2:
		rc = -1;
		break;
	default:
		snprintf(r->words, sizeof(r->words), "%s: the modem answered '%s' to the dial",
		    l->tag, resp);
		rc = -1;
		break;
	}
	if (a != ATCHAN_CONNECT) {
		log_info("%s: %s: %s", l->tag, c->number, r->words);
		hang_up(l, ch);
		atchan_close(ch);
		give_device(l);
		return rc;
	}
	log_info("%s: %s answered", l->tag, c->number);
	if (run_fax(l, ch, c, NULL, r) < 0)
		return -1;
	r->outcome = LINE_CONNECTED;
	snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
	log_info("%s: %s: %s, %d page%s", l->tag, c->number, r->fax.reason, r->fax.pages_sent,
	    r->fax.pages_sent == 1 ? "" : "s");
	return 0;
}

static void
modem_stop(void *line)
{
	struct modemline *l = line;

	atomic_store(&l->stop, 1);
}

static void
modem_free(void *line)
{
	struct modemline *l = line;

	if (l == NULL)
		return;
	atomic_store(&l->stop, 1);
	if (l->thread_on)
		pthread_join(l->thread, NULL);
	if (l->ch != NULL)
		atchan_close(l->ch);
	loopwake_free(l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* Its number is one of fax_numbers: the software line's to answer for. */
static const char *
modem_own_user(void *line, const char *number)
{
	(void)line;
	(void)number;
	return NULL;
}

const struct line_ops modemline_ops = {
	.name = "modem",
	.call = modem_call,
	.free = modem_free,
	.own_number_user = modem_own_user,
	.attach = modem_attach,
	.answer = modem_answer,
	.drop = modem_drop,
	.stop = modem_stop,
};

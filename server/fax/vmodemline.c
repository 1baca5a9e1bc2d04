/* vmodemline.c: the virtual modems behind line.h. A fax to a routed number rings the first
 * modem that is free and open in a fax program (RING every RING_S), and once the program
 * answers our fax engine sends to it over the modem's media (vmodemmedia.c). A program's
 * dial (ATD) comes from the modem's thread; it is handed to the loop (loopwake.h), since
 * the queue's host is asked there only: a number of ours is offered to the queue as an
 * incoming call, answered on a worker (CONNECT) and received into the user's inbox. Any
 * other number goes out on our lines by store and forward, as a fax server's queue does:
 * the program's fax is received (the program sees its fax taken, as by a fax machine) and
 * the queue sends it on as a job of the modems' account, with the retries, T.38 and
 * notifications of any job; without an account such a dial is refused with NO CARRIER. */
#include "vmodemline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dialnum.h"
#include "log.h"
#include "loopwake.h"
#include "vmodem.h"
#include "vmodemmedia.h"

#define NUMBERS_MAX 64
#define NUMBER_MAX  32
#define RING_S      6            /* between rings, as a telephone line's cadence */
#define DRAIN_S     10           /* after the fax, for the program to hang up itself */

struct slot {
	struct vmodemline *l;
	struct vmodem     *m;
	/* under the line's lock: a dial waiting for the loop */
	int                dialled;
	char               number[VMODEM_NUMBER_MAX + 1];
	/* the loop's: the call taken, whom it is for */
	char               user[65];
};

#define ACCOUNT_MAX 64

struct vmodemline {
	struct vmodemline_opts o;
	char               digits[NUMBERS_MAX][NUMBER_MAX + 1];
	int                ndigits;
	struct slot        slot[VMODEMLINE_MAX];
	int                n;
	pthread_mutex_t    lock;
	struct loopwake   *wake;             /* a program's dial, to the loop */
	struct line_host   host;
	int                attached;
	char               account[ACCOUNT_MAX + 1];   /* "": no onward calls */
};

static int
parse_numbers(struct vmodemline *l, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec ? spec : ""), *save = NULL;

	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *d;

		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		if (l->ndigits == NUMBERS_MAX) {
			snprintf(err, errlen, "more than %d numbers", NUMBERS_MAX);
			free(copy);
			return -1;
		}
		d = l->digits[l->ndigits];
		if (dialnum_digits(item, d, NUMBER_MAX + 1) < 0 || d[0] == '\0' ||
		    strspn(item, "0123456789+-() ") != strlen(item)) {
			snprintf(err, errlen, "'%s' is not a phone number", item);
			free(copy);
			return -1;
		}
		l->ndigits++;
	}
	free(copy);
	return 0;
}

int
vmodemline_routes(void *line, const char *number)
{
	struct vmodemline *l = line;
	char d[NUMBER_MAX + 1];

	if (l == NULL || dialnum_digits(number, d, sizeof(d)) < 0)
		return 0;
	for (int i = 0; i < l->ndigits; i++)
		if (strcmp(l->digits[i], d) == 0)
			return 1;
	return 0;
}

/* ---- a program's dial: from the modem's thread to the loop ---- */

static void
on_dialled(void *arg, struct vmodem *m, const char *number)
{
	struct slot *s = arg;

	(void)m;
	pthread_mutex_lock(&s->l->lock);
	s->dialled = 1;
	snprintf(s->number, sizeof(s->number), "%s", number);
	pthread_mutex_unlock(&s->l->lock);
	loopwake_poke(s->l->wake);
}

static void
take_dial(struct vmodemline *l, struct slot *s, const char *number)
{
	const char *name = vmodem_name(s->m), *user;
	struct line_incoming in;
	char digits[NUMBER_MAX + 1];
	int onward = 0, rc;

	user = l->attached ? l->host.number_user(l->host.arg, number) : NULL;
	if (user == NULL && l->attached && l->account[0] &&
	    dialnum_digits(number, digits, sizeof(digits)) == 0 && digits[0] != '\0') {
		user = l->account;
		onward = 1;
	}
	if (user == NULL) {
		log_info("virtual modem %s: the program dialled %s, which is not one of this "
		    "server's numbers: refused (NO CARRIER); set virtual_modem_account for its "
		    "faxes to go out on this server's lines", name, number[0] ? number : "nothing");
		vmodem_refuse(s->m, 0);
		return;
	}
	snprintf(s->user, sizeof(s->user), "%s", user);
	/* said before it is offered: a worker may answer it at once */
	if (onward)
		log_info("virtual modem %s: call to %s, received for user=%s and sent on as a job",
		    name, number, user);
	else
		log_info("virtual modem %s: call to %s for user=%s", name, number, user);
	memset(&in, 0, sizeof(in));
	in.number = onward ? digits : number;   /* a job's number: its digits, no dial codes */
	in.user = user;
	in.from = name;
	in.token = s;
	in.onward = onward;
	if ((rc = l->host.incoming(l->host.arg, l, &in)) == -2) {
		log_info("virtual modem %s: the program's call to %s refused (NO CARRIER)", name,
		    number);
		vmodem_refuse(s->m, 0);
	} else if (rc != 0) {
		log_info("virtual modem %s: the program's call to %s refused (BUSY): every channel "
		    "is busy", name, number);
		vmodem_refuse(s->m, 1);
	}
}

static void
on_dials(void *arg)
{
	struct vmodemline *l = arg;

	for (int i = 0; i < l->n; i++) {
		struct slot *s = &l->slot[i];
		char number[VMODEM_NUMBER_MAX + 1];
		int dialled;

		pthread_mutex_lock(&l->lock);
		dialled = s->dialled;
		s->dialled = 0;
		memcpy(number, s->number, sizeof(number));
		pthread_mutex_unlock(&l->lock);
		if (dialled)
			take_dial(l, s, number);
	}
}

/* ---- the line ---- */

void *
vmodemline_new(const struct vmodemline_opts *o, char *err, size_t errlen)
{
	struct vmodemline *l;

	if (o->modems < 1 || o->modems > VMODEMLINE_MAX) {
		snprintf(err, errlen, "%d virtual modems: want 1 to %d", o->modems, VMODEMLINE_MAX);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->o = *o;
	l->o.numbers = l->o.dir = l->o.group = l->o.account = NULL;  /* the strings are not kept */
	if (o->account != NULL && strlen(o->account) > ACCOUNT_MAX) {
		snprintf(err, errlen, "account '%s': longer than %d characters", o->account,
		    ACCOUNT_MAX);
		free(l);
		return NULL;
	}
	snprintf(l->account, sizeof(l->account), "%s", o->account ? o->account : "");
	pthread_mutex_init(&l->lock, NULL);
	if (parse_numbers(l, o->numbers, err, errlen) < 0)
		goto fail;
	if ((l->wake = loopwake_new(o->base, on_dials, l, err, errlen)) == NULL)
		goto fail;
	for (int i = 0; i < o->modems; i++) {
		struct slot *s = &l->slot[i];
		char name[32], why[256];

		snprintf(name, sizeof(name), "ttyNCFX%d", i);
		s->l = l;
		s->m = vmodem_new(&(struct vmodem_opts){ .dir = o->dir, .name = name,
		    .group = o->group, .dialled = on_dialled, .arg = s }, why, sizeof(why));
		if (s->m == NULL) {
			snprintf(err, errlen, "virtual modem %s: %s", name, why);
			goto fail;
		}
		l->n++;
		log_info("virtual modem %s: %s -> %s", name, vmodem_link(s->m), vmodem_pts(s->m));
	}
	return l;
fail:
	vmodemline_ops.free(l);
	return NULL;
}

static void
vl_free(void *line)
{
	struct vmodemline *l = line;

	if (l == NULL)
		return;
	/* The modems' threads first: none pokes the loop after this. */
	for (int i = 0; i < l->n; i++)
		vmodem_free(l->slot[i].m);
	loopwake_free(l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static int
vl_attach(void *line, const struct line_host *host, char *err, size_t errlen)
{
	struct vmodemline *l = line;

	(void)err;
	(void)errlen;
	l->host = *host;
	l->attached = 1;
	return 0;
}

static void
log_media(struct vmodem *m, void *media)
{
	struct media_stats st;

	vmodemmedia_ops.stats(media, &st);
	/* a gap is silence in the modem's signal: worth an operator's eye when a fax broke */
	if (st.underruns || st.lost)
		log_info("virtual modem %s: %llu steps without our frame in time, %llu frames "
		    "dropped (of %llu to the modem, %llu from it): the fax engine's thread was late",
		    vmodem_name(m), (unsigned long long)st.underruns, (unsigned long long)st.lost,
		    (unsigned long long)st.sent, (unsigned long long)st.received);
	else
		log_debug("virtual modem %s: %llu frames to the modem, %llu from it, none late",
		    vmodem_name(m), (unsigned long long)st.sent, (unsigned long long)st.received);
}

/* Runs our side of the fax on the modem's call, which is up. 0, or -1 when the engine could
 * not start (r->words). */
static int
run_fax(struct vmodemline *l, struct vmodem *m, const struct line_call *c, int calling,
        const char *rx, struct line_result *r)
{
	struct faxcall_media_opts fo = { 0 };
	struct media_peer peer = { 0 };
	char err[160];
	void *media;
	int rc;

	if ((media = vmodemmedia_new(m)) == NULL) {
		snprintf(r->words, sizeof(r->words), "out of memory");
		vmodem_hangup(m, 0, c->abort);
		return -1;
	}
	peer.codec = MEDIA_PCMA;
	if (vmodemmedia_ops.start(media, &peer, err, sizeof(err)) != 0) {
		snprintf(r->words, sizeof(r->words), "%s", err);
		vmodemmedia_ops.free(media);
		vmodem_hangup(m, 0, c->abort);
		return -1;
	}
	fo.ops = &vmodemmedia_ops;
	fo.media = media;
	fo.calling = calling;
	fo.tx_tiff = c->tx_tiff;
	fo.first_page = c->first_page;
	fo.rx_tiff = rx;
	fo.ident = c->caller_id;
	fo.page_header = c->page_header;
	fo.log_tag = vmodem_name(m);
	fo.ecm = l->o.ecm;
	fo.abort = c->abort;
	fo.progress = c->progress;
	fo.arg = c->arg;
	rc = faxcall_media_run(&fo, &r->fax);
	/* The program may still be taking our last frames (DCN): it hangs up itself. */
	vmodem_hangup(m, DRAIN_S, c->abort);
	log_media(m, media);
	vmodemmedia_ops.free(media);
	if (rc < 0) {
		snprintf(r->words, sizeof(r->words), "the fax engine: %s", r->fax.reason);
		return -1;
	}
	r->outcome = LINE_CONNECTED;
	snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
	return 0;
}

static int
vl_call(void *line, const struct line_call *c, struct line_result *r)
{
	struct vmodemline *l = line;
	struct vmodem *m = NULL;
	int rc = VMODEM_ABSENT, busy = 0;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < l->n; i++) {
		rc = vmodem_ring(l->slot[i].m, RING_S, l->o.ring_timeout, c->abort);
		if (rc == VMODEM_BUSY)
			busy++;
		if (rc != VMODEM_BUSY && rc != VMODEM_ABSENT) {
			m = l->slot[i].m;
			break;
		}
	}
	if (m == NULL) {
		r->outcome = busy ? LINE_BUSY : LINE_NO_ANSWER;
		snprintf(r->words, sizeof(r->words), busy ? "every virtual modem is on a call" :
		    "no fax program has a virtual modem open");
		log_info("virtual modems: a call to %s not placed: %s", c->number, r->words);
		return 0;
	}
	switch (rc) {
	case VMODEM_ANSWERED:
		log_info("virtual modem %s: the program answered the call to %s", vmodem_name(m),
		    c->number);
		return run_fax(l, m, c, 1, NULL, r);
	case VMODEM_RANG_OUT:
		snprintf(r->words, sizeof(r->words), "no answer: the fax program on %s did not "
		    "answer within %d s", vmodem_name(m), l->o.ring_timeout);
		break;
	case VMODEM_GONE:
		snprintf(r->words, sizeof(r->words), "no answer: the fax program on %s closed it "
		    "or hung up while it rang", vmodem_name(m));
		break;
	default:
		snprintf(r->words, sizeof(r->words), "hung up before the answer");
		break;
	}
	r->outcome = LINE_NO_ANSWER;
	log_info("virtual modem %s: call to %s: %s", vmodem_name(m), c->number, r->words);
	return 0;
}

static int
vl_answer(void *line, void *token, const struct line_call *c, struct line_result *r)
{
	struct vmodemline *l = line;
	struct slot *s = token;
	char rx[PATH_MAX];
	int fd;

	memset(r, 0, sizeof(*r));
	snprintf(rx, sizeof(rx), "%s/recv-XXXXXX", c->rx_dir ? c->rx_dir : "/tmp");
	if ((fd = mkstemp(rx)) < 0) {
		snprintf(r->words, sizeof(r->words), "cannot create the file to receive into: %s",
		    strerror(errno));
		vmodem_refuse(s->m, 1);
		return -1;
	}
	close(fd);
	if (vmodem_connect(s->m) != 0) {
		snprintf(r->words, sizeof(r->words), "the fax program on %s hung up before its "
		    "call was answered", vmodem_name(s->m));
		unlink(rx);
		return -1;
	}
	log_info("virtual modem %s: answered the program's call to %s", vmodem_name(s->m),
	    c->number);
	snprintf(r->received_by, sizeof(r->received_by), "%s", s->user);
	snprintf(r->rx_tiff, sizeof(r->rx_tiff), "%s", rx);
	if (run_fax(l, s->m, c, 0, rx, r) != 0) {
		unlink(rx);
		r->rx_tiff[0] = '\0';
		return -1;
	}
	return 0;
}

static void
vl_drop(void *line, void *token)
{
	struct slot *s = token;

	(void)line;
	vmodem_refuse(s->m, 1);
}

static const char *
vl_own_user(void *line, const char *number)
{
	(void)line;
	(void)number;
	return NULL;                    /* our numbers are the software line's */
}

const struct line_ops vmodemline_ops = {
	.name = "virtual-modem",
	.call = vl_call,
	.free = vl_free,
	.own_number_user = vl_own_user,
	.attach = vl_attach,
	.answer = vl_answer,
	.drop = vl_drop,
};

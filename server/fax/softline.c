/* softline.c: the software line. Dialling looks the number up: one of this server's own
 * numbers is answered by the server itself (the call is received into a file for that user);
 * a configured remote behaves as configured; anything else does not exist. Calls are real
 * T.30 sessions (faxcall.c); busy and no-answer never get that far, as on a real network. */
#include "softline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dialnum.h"

#define NUMBER_MAX  32
#define ENTRIES_MAX 256
#define RING_S      30           /* a paced no-answer rings this long */
#define NOISY_DBM0  -50.0f       /* a noisy line that still carries a fax */

enum behaviour { B_OWN, B_ANSWER, B_BUSY, B_NO_ANSWER, B_HANGUP, B_NOISY, B_NO_FINE };

struct entry {
	char digits[NUMBER_MAX + 1];
	int  behaviour;
	int  after;                       /* hangup-after-N */
	char user[65];                    /* B_OWN */
};

struct softline {
	struct softline_opts o;
	struct entry        *e;
	int                  n;
};

/* "NUMBER WORD, NUMBER WORD, ...": 0, or -1 with the entry at fault in err. */
static int
parse(struct softline *l, const char *spec, int own, char *err, size_t errlen)
{
	char *copy, *save = NULL;

	if (spec == NULL || *spec == '\0')
		return 0;
	if ((copy = strdup(spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char num[64] = "", word[65] = "", *end, *sp;
		struct entry *e;

		/* The last word is the user or behaviour; all before it is the number, spaces and
		 * all ("+44 20 7946 0001 alice"). */
		while (*item == ' ')
			item++;
		for (end = item + strlen(item); end > item && end[-1] == ' '; )
			*--end = '\0';
		if ((sp = strrchr(item, ' ')) != NULL && sp - item < (long)sizeof(num)) {
			snprintf(num, sizeof(num), "%.*s", (int)(sp - item), item);
			snprintf(word, sizeof(word), "%s", sp + 1);
		}
		if (num[0] == '\0' || word[0] == '\0') {
			snprintf(err, errlen, "'%s': want a number and %s", item, own ? "a user name" :
			    "a behaviour");
			free(copy);
			return -1;
		}
		if (l->n == ENTRIES_MAX) {
			snprintf(err, errlen, "more than %d numbers", ENTRIES_MAX);
			free(copy);
			return -1;
		}
		e = &l->e[l->n];
		memset(e, 0, sizeof(*e));
		if (dialnum_digits(num, e->digits, sizeof(e->digits)) < 0 || e->digits[0] == '\0') {
			snprintf(err, errlen, "'%s' is not a phone number", num);
			free(copy);
			return -1;
		}
		for (int i = 0; i < l->n; i++)
			if (strcmp(l->e[i].digits, e->digits) == 0) {
				snprintf(err, errlen, "number %s appears twice", num);
				free(copy);
				return -1;
			}
		if (own) {
			e->behaviour = B_OWN;
			snprintf(e->user, sizeof(e->user), "%s", word);
		} else if (strcmp(word, "answer") == 0)
			e->behaviour = B_ANSWER;
		else if (strcmp(word, "busy") == 0)
			e->behaviour = B_BUSY;
		else if (strcmp(word, "no-answer") == 0)
			e->behaviour = B_NO_ANSWER;
		else if (strcmp(word, "noisy") == 0)
			e->behaviour = B_NOISY;
		else if (strcmp(word, "no-fine") == 0)
			e->behaviour = B_NO_FINE;
		else if (strncmp(word, "hangup-after-", 13) == 0 && strlen(word + 13) <= 3 &&
		    strspn(word + 13, "0123456789") == strlen(word + 13) &&
		    (e->after = atoi(word + 13)) > 0)
			e->behaviour = B_HANGUP;
		else {
			snprintf(err, errlen, "'%s': behaviour '%s' is none of answer, busy, no-answer, "
			    "hangup-after-N, noisy, no-fine", num, word);
			free(copy);
			return -1;
		}
		l->n++;
	}
	free(copy);
	return 0;
}

void *
softline_new(const struct softline_opts *o, char *err, size_t errlen)
{
	struct softline *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->e = calloc(ENTRIES_MAX, sizeof(*l->e))) == NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->o = *o;
	l->o.own_numbers = l->o.remotes = NULL;    /* parsed now; the strings are not kept */
	if (parse(l, o->own_numbers, 1, err, errlen) < 0 ||
	    parse(l, o->remotes, 0, err, errlen) < 0) {
		free(l->e);
		free(l);
		return NULL;
	}
	return l;
}

static void
softline_free(void *line)
{
	struct softline *l = line;

	if (l == NULL)
		return;
	free(l->e);
	free(l);
}

static const struct entry *
lookup(const struct softline *l, const char *number)
{
	char d[NUMBER_MAX + 1];

	if (dialnum_digits(number, d, sizeof(d)) < 0)
		return NULL;
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->e[i].digits, d) == 0)
			return &l->e[i];
	return NULL;
}

static int
softline_call(void *line, const struct line_call *c, struct line_result *r)
{
	struct softline *l = line;
	const struct entry *e = lookup(l, c->number);
	struct faxcall_opts fo = { 0 };

	memset(r, 0, sizeof(*r));
	if (e == NULL) {
		r->outcome = LINE_NO_SUCH_NUMBER;
		snprintf(r->words, sizeof(r->words), "number %s is not in service", c->number);
		return 0;
	}
	if (e->behaviour == B_BUSY) {
		r->outcome = LINE_BUSY;
		snprintf(r->words, sizeof(r->words), "busy");
		return 0;
	}
	if (e->behaviour == B_NO_ANSWER) {
		/* It rings out, unless the call is abandoned meanwhile. */
		for (int i = 0; l->o.paced && i < RING_S * 10; i++) {
			struct timespec tick = { 0, 100 * 1000000L };
			if (c->abort && atomic_load(c->abort))
				break;
			nanosleep(&tick, NULL);
		}
		r->outcome = LINE_NO_ANSWER;
		snprintf(r->words, sizeof(r->words), "no answer");
		return 0;
	}
	fo.tx_tiff = c->tx_tiff;
	fo.first_page = c->first_page;
	fo.caller_id = c->caller_id;
	fo.page_header = c->page_header;
	fo.callee_id = c->number;
	fo.ecm = l->o.ecm;
	fo.alaw = l->o.alaw || e->behaviour == B_NOISY;
	fo.noise_dbm0 = e->behaviour == B_NOISY ? NOISY_DBM0 : 0.0f;
	fo.callee_no_fine = e->behaviour == B_NO_FINE;
	fo.hangup_after_page = e->behaviour == B_HANGUP ? e->after : 0;
	fo.paced = l->o.paced;
	fo.progress = c->progress;
	fo.arg = c->arg;
	fo.abort = c->abort;
	if (e->behaviour == B_OWN) {
		/* Received by this server: into a new file the caller hands to the user's inbox. */
		int fd;

		snprintf(r->rx_tiff, sizeof(r->rx_tiff), "%s/recv-XXXXXX", c->rx_dir ? c->rx_dir :
		    "/tmp");
		if ((fd = mkstemp(r->rx_tiff)) < 0) {
			snprintf(r->words, sizeof(r->words), "cannot create the file to receive into");
			r->rx_tiff[0] = '\0';
			return -1;
		}
		close(fd);
		snprintf(r->received_by, sizeof(r->received_by), "%s", e->user);
		fo.rx_tiff = r->rx_tiff;
	}
	if (faxcall_run(&fo, &r->fax) < 0) {
		snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
		if (r->rx_tiff[0])
			unlink(r->rx_tiff);
		r->rx_tiff[0] = '\0';
		return -1;
	}
	r->outcome = LINE_CONNECTED;
	snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
	return 0;
}

static const char *
softline_own_user(void *line, const char *number)
{
	const struct entry *e = lookup(line, number);

	return e != NULL && e->behaviour == B_OWN ? e->user : NULL;
}

const struct line_ops softline_ops = {
	.name = "software",
	.call = softline_call,
	.free = softline_free,
	.own_number_user = softline_own_user,
};

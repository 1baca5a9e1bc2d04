/* modemline.c: a real Class 1 fax modem as a fax line (modemline.h). Each call opens the
 * device afresh (so a modem unplugged and plugged back in works again at the next call, and
 * other programs may use it between calls under the same lock file), resets it, dials, and
 * once the far machine's V.21 is heard (CONNECT) runs T.30 on the host through class1.c. The
 * modem's words for a failed dial become the line's outcome: BUSY is busy, NO CARRIER and
 * NO ANSWER are no answer (retried later), NO DIALTONE means the telephone line itself is
 * missing (the call could not be placed). */
#include "modemline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atchan.h"
#include "class1.h"
#include "log.h"

#define AT_MS      3000            /* a modem answers AT at once; 3 s is generous */
#define HANGUP_MS  5000
#define SLICE_MS   100

struct modemline {
	struct modem_config m;
	char tag[MODEMCONF_NAME_MAX + 8];
};

int
modemline_routes(void *line, const char *number)
{
	struct modemline *l = line;

	return l != NULL && modemconf_routes(&l->m, number);
}

/* A command answered OK within AT_MS: 0, or -1 with the reason. */
static int
at_ok(struct atchan *ch, const char *dev, const char *cmd, const char *hint, char *err,
      size_t errlen)
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
	snprintf(err, errlen, "the modem on %s did not answer %s within %d s: is it switched on, "
	    "and is speed (the serial line's) one it takes?", dev, cmd, AT_MS / 1000);
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
	if (at_ok(ch, m->device, m->init, "", err, errlen) < 0 ||
	    at_ok(ch, m->device, "ATE0V1", "", err, errlen) < 0 ||
	    at_ok(ch, m->device, "AT+FCLASS=1", ": it is not a Class 1 fax modem", err,
	    errlen) < 0) {
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

	/* A modem still in a data mode takes any byte as the end of it, then ATH. */
	if (atchan_write(ch, "\r", 1, HANGUP_MS) == 0)
		(void)atchan_read_line(ch, line, sizeof(line), 200);
	if (atchan_command(ch, "ATH0", HANGUP_MS) < 0 ||
	    atchan_read_line(ch, line, sizeof(line), HANGUP_MS) != 1)
		log_info("%s: the modem did not answer ATH0; dropping DTR hangs it up", l->tag);
}

static int
modem_call(void *line, const struct line_call *c, struct line_result *r)
{
	struct modemline *l = line;
	struct class1_opts co = { 0 };
	struct atchan *ch;
	char cmd[96], why[512], resp[ATCHAN_LINE_MAX + 1];
	int a, rc;

	memset(r, 0, sizeof(*r));
	if (modemconf_dial_command(&l->m, c->number, cmd, sizeof(cmd), why, sizeof(why)) < 0) {
		r->outcome = LINE_REFUSED;
		snprintf(r->words, sizeof(r->words), "%s", why);
		return 0;
	}
	if ((ch = modemline_open(&l->m, why, sizeof(why))) == NULL) {
		log_warnx("%s: %s", l->tag, why);
		snprintf(r->words, sizeof(r->words), "%s: %s", l->tag, why);
		return -1;
	}
	log_info("%s: dialling %s", l->tag, c->number);
	if (atchan_command(ch, cmd, AT_MS) < 0) {
		snprintf(r->words, sizeof(r->words), "%s: %s", l->tag, atchan_error(ch));
		atchan_close(ch);
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
		return rc;
	}
	log_info("%s: %s answered", l->tag, c->number);
	co.ch = ch;
	co.calling = 1;
	co.connected = 1;
	co.tx_tiff = c->tx_tiff;
	co.first_page = c->first_page;
	co.ident = c->caller_id;
	co.page_header = c->page_header;
	co.log_tag = l->tag;
	co.abort = c->abort;
	co.progress = c->progress;
	co.arg = c->arg;
	rc = class1_run(&co, &r->fax);
	hang_up(l, ch);
	atchan_close(ch);
	if (rc < 0) {
		snprintf(r->words, sizeof(r->words), "the fax engine: %s", r->fax.reason);
		return -1;
	}
	r->outcome = LINE_CONNECTED;
	snprintf(r->words, sizeof(r->words), "%s", r->fax.reason);
	log_info("%s: %s: %s, %d page%s", l->tag, c->number, r->fax.reason, r->fax.pages_sent,
	    r->fax.pages_sent == 1 ? "" : "s");
	return 0;
}

static void
modem_free(void *line)
{
	free(line);
}

/* The modem has no numbers of its own until it takes calls. */
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
};

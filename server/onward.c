/* onward.c: store and forward for the virtual modems. A fax program dials any number, as it
 * would on a telephone line; the number is not ours, so the virtual modem's call is answered
 * by our own fax engine and the fax, received whole, is queued here as a job of the account
 * named by virtual_modem_account. From then on it is a job like one a client submitted: the
 * queue's routing picks its line (a SIP trunk, a modem, the software line), with its retries,
 * T.38 and notifications, and the account's user sees it in `netcfax jobs`. The program has
 * handed its fax over when its call ends well, as it would to a fax machine; what becomes of
 * the job is told to the account, not to the program. */
#include "onward.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "faxqueue.h"
#include "log.h"
#include "outbox.h"
#include "server.h"
#include "store.h"

int64_t
onward_queue(struct server *srv, const struct onward_fax *f, char *err, size_t errlen)
{
	struct store_user u;
	struct store_job j;
	struct store_note note;
	int64_t now = (int64_t)time(NULL);

	if (store_user_get(srv->store, f->user, &u) != STORE_OK) {
		snprintf(err, errlen, "virtual_modem_account '%s' is no user of this server "
		    "(netcfax-admin user add %s)", f->user, f->user);
		return -1;
	}
	memset(&j, 0, sizeof(j));
	j.owner = u.id;
	snprintf(j.dest, sizeof(j.dest), "%s", f->number);
	snprintf(j.filename, sizeof(j.filename), "fax from %s on virtual modem %s",
	    f->sender[0] ? f->sender : "an unidentified sender", f->modem);
	snprintf(j.doc, sizeof(j.doc), "%s", f->doc);
	j.size = f->size;
	j.pages = f->pages;
	j.format = NCFX_FMT_TIFF;
	j.fine = f->fine;
	j.priority = NCFX_PRIORITY_DEFAULT;
	j.max_tries = (int)srv->cfg.job_max_tries;
	j.max_dials = (int)srv->cfg.job_max_dials;
	j.kill_at = now + srv->cfg.job_kill_time;
	j.state = NCFX_JOB_PENDING;
	if (srv->faxq != NULL && faxqueue_off_reason(srv->faxq))
		snprintf(j.reason, sizeof(j.reason), "%s", faxqueue_off_reason(srv->faxq));
	memset(&note, 0, sizeof(note));
	note.user = u.id;
	note.event = NCFX_EV_JOB_QUEUED;
	note.state = j.state;
	note.pages = j.pages;
	snprintf(note.text, sizeof(note.text), "%s to %s queued, %d page%s", j.filename, j.dest,
	    j.pages, j.pages == 1 ? "" : "s");
	if (store_job_insert(srv->store, &j, &note) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_errmsg(srv->store));
		return -1;
	}
	log_info("user=%s job=%" PRId64 ": queued: %s to %s, %d page%s (%s)", u.name, j.id,
	    j.filename, j.dest, j.pages, j.pages == 1 ? "" : "s", j.fine ? "fine" : "standard");
	notify_user(srv->outbox, j.owner);
	if (srv->faxq != NULL)
		faxqueue_kick(srv->faxq);
	return j.id;
}

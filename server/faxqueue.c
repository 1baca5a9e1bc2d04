/* faxqueue.c: the fax queue and its lines. The loop thread owns the queue and the store; each
 * call runs on a worker of the line pool (one thread per channel) and reports back through
 * workpool posts. A job is marked active in the store before it is dialled, so a crash during
 * a call leaves it active: at the next start it is put back to be dialled again, never
 * counted as sent.
 *
 * A call that breaks off mid-fax (the far end hangs up, the line is lost) is retried from
 * the first page the far end did not confirm, as HylaFAX does: the job keeps the pages
 * confirmed over all its calls (pages_sent), and the next call starts after them. A job's
 * number and document never change; a document sent again is a new job, from page 1.
 *
 * Lines: the software line (our own numbers, simulated remotes) and each SIP trunk, with
 * channels of their own. A number of ours stays on the software line; any other goes to the
 * first trunk whose route takes it, else to the software line. A trunk also offers calls
 * from outside to our numbers: they take a channel of that trunk and are filed as faxes
 * received, as a fax to one of our numbers from inside is. The virtual modems (vmodemline.c)
 * are one more line: numbers routed to them ring a fax program on this host, and a program
 * that dials one of our numbers is an incoming call like a trunk's. Real Class 1 modems
 * (modemline.c), one channel each, carry the numbers no trunk's route takes and their own
 * route does. Each incoming call is
 * received in a directory of its own in the spool's tmp, beside a note of whom it is for:
 * the pages the far end saw confirmed are there even after a crash, and the next start files
 * them (the far end takes up after them), where the software line's calls to our own
 * numbers, whose sender is this server too, are simply made again. */
#include "faxqueue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "faxcall.h"
#include "line.h"
#include "log.h"
#include "outbox.h"
#include "modemline.h"
#include "onward.h"
#include "server.h"
#include "sipline.h"
#include "softline.h"
#include "spool.h"
#include "store.h"
#include "tiffdoc.h"
#include "vmodemline.h"
#include "workpool.h"

#define STATE_BIT(st) (1u << (st))
#define RECHECK_S 60          /* the queue is looked at least this often */
#define JOB_TAG_MAX (48 + NCFX_USER_MAX)
#define LINES_MAX   (2 + TRUNKS_MAX + MODEMS_MAX)  /* the software line, the trunks, the
                                               * virtual modems, the real modems */
#define DUE_MAX     256       /* due jobs looked at per round: past those whose line is full */
#define IN_PREFIX   "in-"     /* an incoming call's directory in the spool's tmp */
#define IN_NOTE     "call"    /* in it: the user, the number called, the caller; then "doc=" and
                               * the fax's spool name, written before the fax moves there */
#define IN_NOTE_MAX 512
#define IN_DOC      "\ndoc="
#define IN_ONWARD   "onward=1"  /* the note's fourth line: the fax is to be sent on as a job */

/* A line of the queue: the software line or a trunk, with its channels (a run of slots in
 * the queue's calls). */
struct qline {
	const struct line_ops *ops;
	void                  *line;
	char                   name[48];
	int                    first, channels, busy;
	struct trunk_config   *trunk;        /* a trunk's routes; NULL for the software line */
	int                    modem;        /* a real modem's line (modemline.c) */
};

/* One line's call: filled on the loop thread, run on a worker, finished on the loop. */
struct call {
	struct faxqueue     *q;
	struct qline        *ql;             /* the line this slot belongs to */
	int                  busy;
	int                  incoming;       /* a call from outside: no job */
	int                  onward;         /* incoming from a virtual modem to a number not ours:
	                                      * received whole, it becomes a job (onward.c) */
	int                  onward_fine;    /* and was received at fine resolution */
	void                *token;          /* incoming: the line's handle of it */
	char                 number[NCFX_DEST_MAX + 1];  /* dialled, or called (incoming) */
	char                 from[64];       /* incoming: the caller's number */
	int                  delivered;      /* call_done ran */
	struct workpool_job *wj;
	struct store_job     job;            /* as it was when dialled (state active) */
	char                 tag[JOB_TAG_MAX];  /* job_tag() of the job */
	struct store_line    shown;          /* the line as the store shows it to the operator */
	atomic_int           abort;          /* hang up: a cancel, or the server stopping */
	char                 tx_path[PATH_MAX];
	/* results, written by the worker */
	int                  rc;             /* the line's return: -1 could not even dial */
	struct line_result   res;
	int                  restandard;     /* resent at standard: the far end takes no fine */
	int                  count_pages;    /* the far end is not this server: each page it
	                                      * confirms is saved with the job at once */
	char                 fax_doc[SPOOL_NAME_MAX];  /* a fax we received, in the spool */
	int64_t              fax_size;
	char                 rx_lost[200];   /* why pages we received could not be kept */
	char                 ended[80];      /* why the call ended, when not the fax's words */
	char                 in_dir[PATH_MAX];  /* incoming: its directory in the spool's tmp */
	char                 err[200];
};

struct faxqueue {
	struct server         *srv;
	struct qline           lines[LINES_MAX];
	int                    nlines;
	struct qline          *soft;          /* the software line, NULL when off */
	struct qline          *vmodems;       /* the virtual modems, NULL when off */
	struct line_host       host;
	struct workpool       *pool;
	struct call           *calls;
	int                    ncalls;
	int                    active;
	struct event          *timer;
	char                   station_id[FAXCALL_ID_MAX];
	char                   off[200];
	int                    stopping;      /* faxqueue_free: calls hung up for a stop */
};

/* A page report from a worker, on its way to the loop thread. */
struct progress {
	struct call            *c;
	int64_t                 job;
	struct faxcall_progress p;
};

static void pump(struct faxqueue *q);
static const char *own_user(struct faxqueue *q, const char *number);

static const char *
plural(int n)
{
	return n == 1 ? "" : "s";
}

/* "page 1" or "pages 1-4": the first n pages of a document. */
static void
first_pages(int n, char *out, size_t cap)
{
	if (n == 1)
		snprintf(out, cap, "page 1");
	else
		snprintf(out, cap, "pages 1-%d", n);
}

/* "page 3" or "pages 3-5": from page `from` to the last, `to`. */
static void
last_pages(int from, int to, char *out, size_t cap)
{
	if (from >= to)
		snprintf(out, cap, "page %d", to);
	else
		snprintf(out, cap, "pages %d-%d", from, to);
}

/* Pages the far end confirmed on the job's earlier calls, for the next call to take up after;
 * 0 when the job starts from its first page. */
static int
pages_before(const struct store_job *j)
{
	return j->pages_sent > 0 && j->pages_sent < j->pages ? j->pages_sent : 0;
}

static void
clock_words(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(out, cap, "%H:%M:%S", &tm) == 0)
		snprintf(out, cap, "%" PRId64, t);
}

/* What every log line about a job starts with: "user=NAME job=ID", the order of a session's
 * lines; the owner's id stands in when the name cannot be read. */
static void
job_tag(struct faxqueue *q, const struct store_job *j, char *out, size_t cap)
{
	char name[NCFX_USER_MAX + 1];

	if (store_user_name(q->srv->store, j->owner, name, sizeof(name)) == STORE_OK)
		snprintf(out, cap, "user=%s job=%" PRId64, name, j->id);
	else
		snprintf(out, cap, "user_id=%" PRId64 " job=%" PRId64, j->owner, j->id);
}

/* The operator's view of a line (netcfax-admin status), written when a call starts, is
 * answered, confirms a page and ends: never per block of audio. */
static void
show_line(struct faxqueue *q, const struct store_line *l, const char *tag)
{
	if (store_line_set(q->srv->store, l) != STORE_OK)
		log_warnx("%s: line %d: store: %s", tag, l->line, store_errmsg(q->srv->store));
}

/* A slot's row as shown when its call starts or ends: its number, its line's name, since now. */
static void
shown_fresh(struct faxqueue *q, struct call *c)
{
	memset(&c->shown, 0, sizeof(c->shown));
	c->shown.line = (int)(c - q->calls) + 1;
	snprintf(c->shown.name, sizeof(c->shown.name), "%s", c->ql->name);
	c->shown.since = (int64_t)time(NULL);
}

/* The station id: the configured one, else the first of our own numbers. */
static void
station_id(const struct server_config *cfg, char *out, size_t cap)
{
	const char *s = cfg->fax_numbers, *comma, *sp;
	size_t n;

	if (cfg->fax_station_id[0]) {
		snprintf(out, cap, "%s", cfg->fax_station_id);
		return;
	}
	out[0] = '\0';
	while (*s == ' ')
		s++;
	comma = strchr(s, ',');
	n = comma ? (size_t)(comma - s) : strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	/* "NUMBER USER": the number is all before the last word. */
	for (sp = s + n; sp > s && sp[-1] != ' '; sp--)
		;
	n = sp > s ? (size_t)(sp - s - 1) : 0;
	if (n >= cap)
		n = cap - 1;
	snprintf(out, cap, "%.*s", (int)n, s);
}

/* Worker side */

static void on_progress(void *arg);

/* Called by faxcall on the worker: handed to the loop thread as it is. */
static void
post_progress(const struct faxcall_progress *p, void *arg)
{
	struct call *c = arg;
	struct progress *pr = malloc(sizeof(*pr));

	if (pr == NULL)
		return;                  /* a progress report is not worth failing a call over */
	pr->c = c;
	pr->job = c->job.id;
	pr->p = *p;
	if (workpool_post(c->q->pool, on_progress, pr) != 0)
		free(pr);
}

static int
dial(struct call *c, const char *tx)
{
	struct line_call lc = { 0 };

	lc.number = c->job.dest;
	lc.tx_tiff = tx;
	lc.first_page = pages_before(&c->job) + 1;
	lc.caller_id = c->q->station_id[0] ? c->q->station_id : NULL;
	lc.rx_dir = spool_tmp_dir(c->q->srv->spool);
	lc.progress = post_progress;
	lc.arg = c;
	lc.abort = &c->abort;
	return c->ql->ops->call(c->ql->line, &lc, &c->res);
}

/* A fax we received goes into the spool (fsynced) before the loop thread files it. It must
 * read back with every page the call counted: on a full disk the modem's writes fail on the
 * way, and a damaged file would be filed as a fax that can never be shown. Pages that cannot
 * be kept are reported in rx_lost, so that the call does not count as a fax delivered. */
/* A fax received in its call's directory moves into the spool under a name first written in
 * the call's note: a crash after the move and before the inbox row (written on the loop, in
 * incoming_done) still leaves whom it is for, and faxqueue_recover files it. 0 or -1. */
static int
commit_noted(struct spool *sp, struct call *c, int fd)
{
	char path[PATH_MAX + 16];
	FILE *f;

	if (fsync(fd) != 0) {
		spool_discard(c->res.rx_tiff, fd);
		return -1;
	}
	close(fd);
	if (spool_new_name("tif", c->fax_doc, sizeof(c->fax_doc)) < 0) {
		unlink(c->res.rx_tiff);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/" IN_NOTE, c->in_dir);
	if ((f = fopen(path, "a")) != NULL) {
		int bad = fprintf(f, "doc=%s\n", c->fax_doc) < 0;

		if (fclose(f) != 0 || bad)
			f = NULL;
	}
	if (f == NULL)
		log_warn("%s: cannot note the fax's name in %s (a crash before it is filed would "
		    "lose it)", c->tag, path);
	return spool_commit_as(sp, c->res.rx_tiff, c->fax_doc);
}

static void
keep_received(struct spool *sp, struct call *c)
{
	struct stat st;
	char why[160];
	int fd, pages;

	/* What arrived is kept even from a call cut short (a cancel, a stop, a hang-up), as a
	 * fax machine keeps the pages it printed; the inbox notes that the call ended early. */
	if (c->res.rx_tiff[0] == '\0')
		return;
	if (c->res.fax.pages_received == 0) {
		/* Nothing came: nothing for the inbox. Every line leaves that file to us. */
		unlink(c->res.rx_tiff);
		c->res.rx_tiff[0] = '\0';
		return;
	}
	pages = tiffdoc_inspect(c->res.rx_tiff, why, sizeof(why));
	if (pages < c->res.fax.pages_received) {
		snprintf(c->rx_lost, sizeof(c->rx_lost), "%d page%s arrived but the file holds %s "
		    "(%s; the spool's disk full?)", c->res.fax.pages_received,
		    plural(c->res.fax.pages_received), pages < 0 ? "none readable" : "fewer",
		    pages < 0 ? why : "written short");
		unlink(c->res.rx_tiff);
		return;
	}
	if ((fd = open(c->res.rx_tiff, O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(c->rx_lost, sizeof(c->rx_lost), "cannot open it: %s", strerror(errno));
		unlink(c->res.rx_tiff);
		return;
	}
	c->fax_size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
	if ((c->in_dir[0] ? commit_noted(sp, c, fd) :
	    spool_commit(sp, c->res.rx_tiff, fd, "tif", c->fax_doc, sizeof(c->fax_doc))) < 0) {
		snprintf(c->rx_lost, sizeof(c->rx_lost), "cannot keep it in the spool: %s",
		    strerror(errno));
		c->fax_doc[0] = '\0';
	}
}

static void
run_call(void *arg)
{
	struct call *c = arg;
	char std[PATH_MAX];
	int fd;

	c->rc = dial(c, c->tx_path);
	if (c->rc == 0 && c->res.outcome == LINE_CONNECTED && c->job.fine &&
	    faxcall_class(c->res.fax.completion) == FAXCALL_NO_FINE && !atomic_load(&c->abort)) {
		/* The far machine takes standard resolution only: as a fax machine would, send
		 * the same pages again at once at 204x98. (Our own numbers take fine, so nothing
		 * was received on this call.) */
		if (c->res.rx_tiff[0])
			unlink(c->res.rx_tiff);
		c->res.rx_tiff[0] = '\0';
		if ((fd = spool_tmp_create(c->q->srv->spool, std, sizeof(std))) >= 0) {
			close(fd);
			if (tiffdoc_normalise(c->tx_path, std, 98, c->err, sizeof(c->err)) >= 0) {
				c->restandard = 1;
				c->rc = dial(c, std);
			}
			unlink(std);
		}
	}
	keep_received(c->q->srv->spool, c);
}

/* Loop side */

static void
on_progress(void *arg)
{
	struct progress *pr = arg;
	struct call *c = pr->c;
	struct faxqueue *q = c->q;
	struct store_note n;
	int before = pages_before(&c->job), rc;
	char earlier[64] = "", from[96] = "";

	/* The call may have ended, or been cancelled, since: report only a live one. */
	if (!c->busy || c->job.id != pr->job || atomic_load(&c->abort)) {
		free(pr);
		return;
	}
	memset(&n, 0, sizeof(n));
	n.user = c->job.owner;
	n.job = c->job.id;
	n.event = NCFX_EV_JOB_PAGE;
	n.state = NCFX_JOB_ACTIVE;
	/* The call counts its own pages; the job counts those confirmed on earlier calls too.
	 * (A "connected" note carries no page, as before any call.) */
	n.page = pr->p.event == FAXCALL_PAGE ? before + pr->p.page : 0;
	n.pages = pr->p.pages;
	if (before > 0) {
		char first[32];

		first_pages(before, first, sizeof(first));
		snprintf(earlier, sizeof(earlier), "; %s went on an earlier call", first);
		snprintf(from, sizeof(from), "; sending from page %d, %s went on an earlier call",
		    before + 1, first);
	}
	n.bit_rate = pr->p.bit_rate;
	n.ecm = pr->p.ecm;
	snprintf(n.remote_id, sizeof(n.remote_id), "%s", pr->p.remote_id);
	snprintf(n.media, sizeof(n.media), "%s", pr->p.media);
	if (pr->p.event == FAXCALL_CONNECTED)
		snprintf(n.text, sizeof(n.text), "connected to %s%s%s at %d bit/s%s%s%s%s",
		    pr->p.remote_id[0] ? "'" : "", pr->p.remote_id[0] ? pr->p.remote_id :
		    c->job.dest, pr->p.remote_id[0] ? "'" : "", pr->p.bit_rate,
		    pr->p.media[0] ? " over " : "", pr->p.media, pr->p.ecm ? ", ECM" : "", from);
	else
		snprintf(n.text, sizeof(n.text), "page %d of %d sent at %d bit/s%s%s%s%s", n.page,
		    pr->p.pages, pr->p.bit_rate, pr->p.media[0] ? " over " : "", pr->p.media,
		    pr->p.ecm ? ", ECM" : "", earlier);
	log_debug("%s: %s", c->tag, n.text);
	if (pr->p.event == FAXCALL_CONNECTED) {
		c->shown.connected = 1;
		snprintf(c->shown.remote_id, sizeof(c->shown.remote_id), "%s", pr->p.remote_id);
	}
	c->shown.pages_sent = before + pr->p.page;
	c->shown.bit_rate = pr->p.bit_rate;
	show_line(q, &c->shown, c->tag);
	if (pr->p.event == FAXCALL_PAGE && c->count_pages) {
		/* The page is the far end's now: the job says so with the note, in one
		 * transaction, so that a crash from here on takes up after it. */
		struct store_job j = c->job;

		j.pages_sent = n.page < j.pages ? n.page : j.pages;
		j.bit_rate = n.bit_rate;
		j.ecm = n.ecm;
		snprintf(j.remote_id, sizeof(j.remote_id), "%s", n.remote_id);
		snprintf(j.media, sizeof(j.media), "%s", n.media);
		rc = store_job_save(q->srv->store, &j, NCFX_JOB_ACTIVE, &n);
	} else
		rc = store_note_add(q->srv->store, &n);
	if (rc == STORE_ERR)
		log_warnx("%s: store: %s", c->tag, store_errmsg(q->srv->store));
	else if (rc != STORE_STALE)    /* cancelled meanwhile; the hang-up is on its way */
		notify_user(q->srv->outbox, n.user);
	free(pr);
}

/* Files a received fax in its user's inbox, with the fax_received notification. 0 when it
 * was filed or there was nothing to file; -1 when pages arrived that could not be kept
 * (c->rx_lost says why). */
static int
file_received(struct server *srv, struct call *c)
{
	const struct line_result *r = &c->res;
	struct store_user u;
	struct store_fax f;
	struct store_note n;
	int pages = r->fax.pages_received;

	if (c->rx_lost[0]) {
		log_warnx("fax to %s for '%s' not kept: %s", c->number, r->received_by,
		    c->rx_lost);
		return -1;
	}
	if (c->fax_doc[0] == '\0')
		return 0;
	if (store_user_get(srv->store, r->received_by, &u) != STORE_OK) {
		log_warnx("user=%s: a fax to %s for this user, who does not exist, was not kept "
		    "(fix fax_numbers, or netcfax-admin user add %s)", r->received_by, c->number,
		    r->received_by);
		spool_remove(srv->spool, c->fax_doc);
		return 0;
	}
	memset(&f, 0, sizeof(f));
	f.owner = u.id;
	snprintf(f.number, sizeof(f.number), "%s", c->number);
	snprintf(f.remote_id, sizeof(f.remote_id), "%s", r->fax.caller_seen);
	snprintf(f.doc, sizeof(f.doc), "%s", c->fax_doc);
	f.pages = pages;
	f.size = c->fax_size;
	f.fine = c->job.fine && !c->restandard;
	f.bit_rate = r->fax.bit_rate;
	f.ecm = r->fax.ecm;
	snprintf(f.media, sizeof(f.media), "%s", r->fax.media);
	if (c->ended[0] || r->fax.callee_completion != 0)
		/* A call from outside was ours to answer: its reason is ours, with the line's
		 * detail ("the far end hung up"); a call from inside has the caller's there. */
		snprintf(f.note, sizeof(f.note), "%d page%s; the call ended early: %s", pages,
		    plural(pages), c->ended[0] ? c->ended : c->incoming && r->fax.reason[0] ?
		    r->fax.reason : faxcall_reason(r->fax.callee_completion));
	memset(&n, 0, sizeof(n));
	n.user = u.id;
	n.event = NCFX_EV_FAX_RECEIVED;
	n.pages = pages;
	n.bit_rate = f.bit_rate;
	n.ecm = f.ecm;
	snprintf(n.remote_id, sizeof(n.remote_id), "%s", f.remote_id);
	snprintf(n.media, sizeof(n.media), "%s", f.media);
	snprintf(n.text, sizeof(n.text), "fax received on %s from %s: %d page%s%s%s", f.number,
	    f.remote_id[0] ? f.remote_id : "an unidentified sender", pages, plural(pages),
	    f.note[0] ? " (the call ended early)" : "", "");
	if (store_fax_insert(srv->store, &f, &n) != STORE_OK) {
		snprintf(c->rx_lost, sizeof(c->rx_lost), "cannot file it in the inbox: store: %s",
		    store_errmsg(srv->store));
		log_warnx("user=%s: a fax to %s was not kept: %s", u.name, c->number, c->rx_lost);
		spool_remove(srv->spool, c->fax_doc);
		return -1;
	}
	log_info("user=%s fax=%" PRId64 ": received on %s from %s: %d page%s%s", u.name, f.id,
	    f.number, f.remote_id[0] ? f.remote_id : "an unidentified sender", pages,
	    plural(pages), f.note[0] ? " (the call ended early)" : "");
	notify_user(srv->outbox, u.id);
	return 0;
}

/* Saves a job that left the line, with its notification; the document of a finished job is
 * removed (it will not be sent again). */
static void
save_outcome(struct faxqueue *q, struct store_job *j, int event, const char *text)
{
	struct server *srv = q->srv;
	struct store_note n;
	char tag[JOB_TAG_MAX];
	int rc, late = 0;

	job_tag(q, j, tag, sizeof(tag));
	memset(&n, 0, sizeof(n));
	n.user = j->owner;
	n.event = event;
	n.pages = j->pages;
	n.page = j->pages_sent;
	n.bit_rate = j->bit_rate;
	n.ecm = j->ecm;
	snprintf(n.remote_id, sizeof(n.remote_id), "%s", j->remote_id);
	snprintf(n.media, sizeof(n.media), "%s", j->media);
	snprintf(n.text, sizeof(n.text), "%s", text);
	rc = store_job_save(srv->store, j, NCFX_JOB_ACTIVE, &n);
	if (rc == STORE_STALE && j->state == NCFX_JOB_DONE) {
		/* Cancelled while its last page was already through: the truth is that it was
		 * sent, and the user is told so. */
		snprintf(n.text, sizeof(n.text), "%s (it went through before the cancel took "
		    "effect)", text);
		n.seq = 0;
		rc = store_job_save(srv->store, j, NCFX_JOB_CANCELLED, &n);
		late = 1;
	}
	if (rc == STORE_STALE) {
		log_info("%s: left the line after it was cancelled", tag);
		return;
	}
	if (rc == STORE_ERR) {
		/* Still active in the store: the next start dials it again. Never lost. */
		log_warnx("%s: store: %s", tag, store_errmsg(srv->store));
		return;
	}
	log_info("%s: %s: %s to %s: %s%s", tag, ncfx_job_state_name(j->state), j->filename,
	    j->dest, j->reason, late ? " (it went through before the cancel took effect)" : "");
	if ((j->state == NCFX_JOB_DONE || j->state == NCFX_JOB_FAILED) &&
	    spool_remove(srv->spool, j->doc) < 0)
		log_warnx("%s: spool: cannot remove %s", tag, j->doc);
	notify_user(srv->outbox, j->owner);
}

static void
fail_job(struct faxqueue *q, struct store_job *j, const char *why)
{
	char text[NCFX_STR_MAX];

	j->state = NCFX_JOB_FAILED;
	j->next_try = 0;
	snprintf(j->reason, sizeof(j->reason), "%s", why);
	snprintf(text, sizeof(text), "%s to %s failed: %s", j->filename, j->dest, why);
	save_outcome(q, j, NCFX_EV_JOB_FAILED, text);
}

/* Another try after delay seconds, unless the job has used its tries or dials, or the try
 * would come after its kill time. */
static void
retry_or_fail(struct faxqueue *q, struct store_job *j, const char *what, long long delay)
{
	int64_t next = (int64_t)time(NULL) + delay;
	char why[256], at[32], text[NCFX_STR_MAX];

	if (j->tries >= j->max_tries) {
		snprintf(why, sizeof(why), "%s; gave up after %d call%s that reached the fax machine",
		    what, j->tries, plural(j->tries));
		fail_job(q, j, why);
		return;
	}
	if (j->dials >= j->max_dials) {
		snprintf(why, sizeof(why), "%s; gave up after %d dial%s", what, j->dials,
		    plural(j->dials));
		fail_job(q, j, why);
		return;
	}
	if (j->kill_at > 0 && next >= j->kill_at) {
		snprintf(why, sizeof(why), "%s; the next try would come after the job's kill time",
		    what);
		fail_job(q, j, why);
		return;
	}
	clock_words(next, at, sizeof(at));
	j->state = NCFX_JOB_SLEEPING;
	j->next_try = next;
	snprintf(j->reason, sizeof(j->reason), "%s; next try at %s (dial %d of %d)", what, at,
	    j->dials + 1, j->max_dials);
	snprintf(text, sizeof(text), "%s to %s: %s", j->filename, j->dest, j->reason);
	save_outcome(q, j, NCFX_EV_JOB_RETRY, text);
}

/* The server stops: a job we hung up on (or never got to dial) waits for the next start,
 * no try counted; the far end did nothing wrong. */
static void
back_to_pending(struct faxqueue *q, struct store_job *j)
{
	struct store_note n;
	char tag[JOB_TAG_MAX];

	job_tag(q, j, tag, sizeof(tag));
	memset(&n, 0, sizeof(n));
	n.user = j->owner;
	n.event = NCFX_EV_JOB_RETRY;
	j->state = NCFX_JOB_PENDING;
	j->next_try = 0;
	snprintf(j->reason, sizeof(j->reason), "the server stopped during the call; it will be "
	    "dialled again");
	snprintf(n.text, sizeof(n.text), "%s to %s: %s", j->filename, j->dest, j->reason);
	if (store_job_save(q->srv->store, j, NCFX_JOB_ACTIVE, &n) == STORE_ERR)
		log_warnx("%s: store: %s", tag, store_errmsg(q->srv->store));
	else
		log_info("%s: pending: %s", tag, j->reason);
}

static void
call_done(void *arg)
{
	struct call *c = arg;
	struct faxqueue *q = c->q;
	struct store_job j = c->job;
	const struct line_result *r = &c->res;
	const struct server_config *cfg = &q->srv->cfg;
	char what[400], text[NCFX_STR_MAX];
	int sent = c->rc == 0 && r->outcome == LINE_CONNECTED &&
	    faxcall_class(r->fax.completion) == FAXCALL_SENT;
	int kept, own_failed, before = pages_before(&c->job), now, total;
	char earlier[32] = "", these[32] = "", next[64] = "";

	c->delivered = 1;
	kept = file_received(q->srv, c) == 0;
	/* A call to one of our own numbers where our answering side could not write its file
	 * (the caller only sees a far machine that stopped answering). */
	own_failed = r->received_by[0] && faxcall_class(r->fax.callee_completion) ==
	    FAXCALL_DOCUMENT;
	/* The pages the far end confirmed, this call's after the earlier calls'. Pages one of
	 * our own numbers confirmed but could not keep count for nothing: nobody has them. */
	now = c->rc == 0 && r->outcome == LINE_CONNECTED && !(r->received_by[0] && !kept) ?
	    r->fax.pages_sent : 0;
	total = before + now > j.pages ? j.pages : before + now;
	if (!sent && now > 0 && total == j.pages && j.pages > 0 &&
	    faxcall_class(r->fax.completion) == FAXCALL_RETRY) {
		/* The far end confirmed every page and the call broke while it was ending: the
		 * fax is there, as HylaFAX also counts it. */
		log_info("%s: every page was confirmed before the call ended: %s", c->tag,
		    r->fax.reason);
		sent = 1;
	}
	if (atomic_load(&c->abort) && !sent) {
		/* We hung up: for a cancel the store already says cancelled; for a stop the job
		 * waits for the next start, no try counted (the far end did nothing wrong), and
		 * takes up after the pages the far end confirmed. */
		j.pages_sent = total;
		if (q->stopping)
			back_to_pending(q, &j);
		else
			log_info("%s: left the line after it was cancelled", c->tag);
		return;
	}
	j.dials++;
	if (c->rc < 0) {
		snprintf(what, sizeof(what), "the call could not be placed: %s", r->words);
		retry_or_fail(q, &j, what, cfg->retry_failed);
		return;
	}
	switch (r->outcome) {
	case LINE_NO_SUCH_NUMBER:
	case LINE_REFUSED:
		fail_job(q, &j, r->words);
		return;
	case LINE_BUSY:
		retry_or_fail(q, &j, r->words[0] ? r->words : "busy", cfg->retry_busy);
		return;
	case LINE_NO_ANSWER:
		retry_or_fail(q, &j, r->words[0] ? r->words : "no answer", cfg->retry_no_answer);
		return;
	default:
		break;
	}
	j.tries++;
	j.pages_sent = total;
	if (before > 0) {
		first_pages(before, earlier, sizeof(earlier));
		last_pages(before + 1, j.pages_sent, these, sizeof(these));
	}
	j.bit_rate = r->fax.bit_rate;
	j.ecm = r->fax.ecm;
	snprintf(j.remote_id, sizeof(j.remote_id), "%s", r->fax.remote_id);
	snprintf(j.media, sizeof(j.media), "%s", r->fax.media);
	switch (sent ? FAXCALL_SENT : faxcall_class(r->fax.completion)) {
	case FAXCALL_SENT:
		if (!kept) {
			/* Our own number took every page but could not keep them: nobody has
			 * this fax, so it has not been sent. (The log has the details.) */
			retry_or_fail(q, &j, "this server received the fax on this number but "
			    "could not keep it (is its disk full?)", cfg->retry_failed);
			return;
		}
		j.state = NCFX_JOB_DONE;
		j.next_try = 0;
		snprintf(j.reason, sizeof(j.reason), "sent %d page%s to %s%s%s at %d bit/s%s%s%s%s%s%s"
		    "%s%s%s", j.pages_sent, plural(j.pages_sent), j.remote_id[0] ? "'" : "",
		    j.remote_id[0] ? j.remote_id : j.dest, j.remote_id[0] ? "'" : "", j.bit_rate,
		    r->fax.media[0] ? " over " : "", r->fax.media, j.ecm ? " with ECM" : "", c->restandard ? ", at standard resolution (the far "
		    "machine takes no fine)" : "", before > 0 ? "; " : "", these,
		    before > 0 ? " on this call, " : "", earlier,
		    before > 0 ? " on an earlier call" : "");
		snprintf(text, sizeof(text), "%s to %s done: %s", j.filename, j.dest, j.reason);
		save_outcome(q, &j, NCFX_EV_JOB_DONE, text);
		return;
	case FAXCALL_RETRY:
		if (pages_before(&j) > 0)
			snprintf(next, sizeof(next), "; the next call sends from page %d",
			    pages_before(&j) + 1);
		snprintf(what, sizeof(what), "call failed after %d of %d page%s: %s%s", j.pages_sent,
		    j.pages, plural(j.pages), own_failed ? "this server could not store the fax it "
		    "was receiving on this number (is its disk full?)" : r->fax.reason, next);
		retry_or_fail(q, &j, what, cfg->retry_failed);
		return;
	default:
		snprintf(what, sizeof(what), "%s%s%s", r->fax.reason, c->err[0] ? "; " : "", c->err);
		fail_job(q, &j, what);
		return;
	}
}

static void
call_release(void *arg)
{
	struct call *c = arg;
	struct faxqueue *q = c->q;

	/* A call the stop caught before a worker took it: as if hung up at once. */
	if (q->stopping && !c->delivered) {
		if (c->incoming) {
			c->ql->ops->drop(c->ql->line, c->token);
		} else {
			struct store_job j = c->job;
			back_to_pending(q, &j);
		}
	}
	c->busy = 0;
	c->wj = NULL;
	q->active--;
	c->ql->busy--;
	shown_fresh(q, c);
	show_line(q, &c->shown, c->tag);
	/* A line came free: the next job may go (not from inside faxqueue_free). */
	if (q->timer)
		event_active(q->timer, EV_TIMEOUT, 0);
}

/* A free slot of line ql, cleared and marked busy; NULL when its channels are all in use. */
static struct call *
take_slot(struct faxqueue *q, struct qline *ql)
{
	for (int i = ql->first; i < ql->first + ql->channels; i++)
		if (!q->calls[i].busy) {
			struct call *c = &q->calls[i];

			memset(c, 0, sizeof(*c));
			c->q = q;
			c->ql = ql;
			atomic_init(&c->abort, 0);
			c->busy = 1;
			q->active++;
			ql->busy++;
			return c;
		}
	return NULL;
}

static void
give_slot(struct faxqueue *q, struct call *c)
{
	c->busy = 0;
	q->active--;
	c->ql->busy--;
}

/* Puts a job on a free channel of line ql: marked active (with its notification) before
 * the dial. 1 started, 0 not (moved on meanwhile, or no channel), -1 store error. */
static int
start_call(struct faxqueue *q, struct qline *ql, struct store_job *j)
{
	struct call *c = NULL;
	struct store_note n;
	int from = j->state, rc, before = pages_before(j);
	char resume[96] = "", first[32];

	if (ql->busy >= ql->channels)
		return 0;
	if (before > 0) {
		first_pages(before, first, sizeof(first));
		snprintf(resume, sizeof(resume), " to send from page %d of %d (%s went on an "
		    "earlier call)", before + 1, j->pages, first);
	}
	j->state = NCFX_JOB_ACTIVE;
	snprintf(j->reason, sizeof(j->reason), "dialling %s%s%s (dial %d of at most %d)%s",
	    j->dest, ql->trunk ? " on trunk " : ql == q->vmodems ? " on a virtual modem" :
	    ql->modem ? " on " : "", ql->trunk ? ql->trunk->name : ql->modem ? ql->name : "",
	    j->dials + 1, j->max_dials, resume);
	memset(&n, 0, sizeof(n));
	n.user = j->owner;
	n.event = NCFX_EV_JOB_ACTIVE;
	n.pages = j->pages;
	snprintf(n.text, sizeof(n.text), "%s to %s: %s", j->filename, j->dest, j->reason);
	rc = store_job_save(q->srv->store, j, from, &n);
	if (rc != STORE_OK)
		return rc == STORE_STALE ? 0 : -1;
	c = take_slot(q, ql);
	c->job = *j;
	/* A call to one of our own numbers is received by this server: a crash loses its
	 * pages on both sides, so the job counts only what a finished call confirmed. */
	c->count_pages = own_user(q, j->dest) == NULL;
	snprintf(c->number, sizeof(c->number), "%s", j->dest);
	job_tag(q, j, c->tag, sizeof(c->tag));
	spool_doc_path(q->srv->spool, j->doc, c->tx_path, sizeof(c->tx_path));
	c->wj = workpool_submit(q->pool, run_call, call_done, call_release, c);
	if (c->wj == NULL) {
		/* Cannot happen (one worker per channel); the job is dialled at the next start. */
		log_warnx("%s: no line worker free", c->tag);
		give_slot(q, c);
		return -1;
	}
	log_info("%s: %s", c->tag, j->reason);
	shown_fresh(q, c);
	c->shown.job = j->id;
	c->shown.owner = j->owner;
	snprintf(c->shown.dest, sizeof(c->shown.dest), "%s", j->dest);
	c->shown.pages = j->pages;
	c->shown.pages_sent = before;
	show_line(q, &c->shown, c->tag);
	notify_user(q->srv->outbox, j->owner);
	return 1;
}

/* The user one of our numbers belongs to, or NULL. */
static const char *
own_user(struct faxqueue *q, const char *number)
{
	return q->soft ? q->soft->ops->own_number_user(q->soft->line, number) : NULL;
}

/* The line that carries a number: ours stay on the software line; one routed to the
 * virtual modems rings a fax program there; any other goes to the first trunk whose route
 * takes it, else to the first real modem whose route does, else to the software line (a
 * simulated remote, or "not in service"). NULL when no line would. */
static struct qline *
route(struct faxqueue *q, const char *number)
{
	if (own_user(q, number) != NULL)
		return q->soft;
	if (q->vmodems != NULL && vmodemline_routes(q->vmodems->line, number))
		return q->vmodems;
	for (int i = 0; i < q->nlines; i++)
		if (q->lines[i].trunk && trunk_routes(q->lines[i].trunk, number))
			return &q->lines[i];
	for (int i = 0; i < q->nlines; i++)
		if (q->lines[i].modem && modemline_routes(q->lines[i].line, number))
			return &q->lines[i];
	return q->soft;
}

/* Ends a job before dialling, saying why (no owner for our number, no line for it). 1 when
 * ended (or moved on meanwhile), -1 store error. */
static int
end_undialled(struct faxqueue *q, struct store_job *j, const char *why)
{
	struct store_note n;
	char tag[JOB_TAG_MAX];
	int from = j->state;

	job_tag(q, j, tag, sizeof(tag));
	log_warnx("%s: failed: %s", tag, why);
	memset(&n, 0, sizeof(n));
	n.user = j->owner;
	n.event = NCFX_EV_JOB_FAILED;
	j->state = NCFX_JOB_FAILED;
	j->next_try = 0;
	snprintf(j->reason, sizeof(j->reason), "%s", why);
	snprintf(n.text, sizeof(n.text), "%s to %s failed: %s", j->filename, j->dest, why);
	switch (store_job_save(q->srv->store, j, from, &n)) {
	case STORE_OK:
		spool_remove(q->srv->spool, j->doc);
		notify_user(q->srv->outbox, j->owner);
		return 1;
	case STORE_STALE:
		return 1;                  /* moved on meanwhile: look again */
	default:
		log_warnx("%s: store: %s", tag, store_errmsg(q->srv->store));
		return -1;
	}
}

/* A fax to one of our numbers whose user has no account would be received and then have
 * nowhere to go: the job fails before dialling, saying why, rather than end "sent". 1 when
 * the job was ended, -1 when it could not be (store error), 0 to dial. */
static int
no_owner(struct faxqueue *q, struct store_job *j)
{
	const char *user = own_user(q, j->dest);
	struct store_user u;
	char why[200];

	if (user == NULL || store_user_get(q->srv->store, user, &u) != STORE_NONE)
		return 0;
	snprintf(why, sizeof(why), "%s is this server's number for user '%s', who has no "
	    "account (ask the operator: fax_numbers or netcfax-admin user add)", j->dest, user);
	return end_undialled(q, j, why);
}

/* A job past its kill time ends, saying so. 1 ended, 0 not (moved on meanwhile). */
static int
killed(struct faxqueue *q, struct store_job *j)
{
	char why[200];
	struct store_note n;
	char tag[JOB_TAG_MAX];

	snprintf(why, sizeof(why), "not sent by its kill time%s%s", j->reason[0] ?
	    "; last: " : "", j->reason);
	memset(&n, 0, sizeof(n));
	n.user = j->owner;
	n.event = NCFX_EV_JOB_FAILED;
	snprintf(n.text, sizeof(n.text), "%s to %s failed: %s", j->filename, j->dest, why);
	if (store_job_transition(q->srv->store, j->owner, j->id,
	    STATE_BIT(NCFX_JOB_PENDING) | STATE_BIT(NCFX_JOB_SLEEPING),
	    NCFX_JOB_FAILED, why, j, &n) != STORE_OK)
		return 0;
	job_tag(q, j, tag, sizeof(tag));
	log_info("%s: failed: %s to %s: %s", tag, j->filename, j->dest, why);
	spool_remove(q->srv->spool, j->doc);
	notify_user(q->srv->outbox, j->owner);
	return 1;
}

/* Fills free channels with due jobs, in the queue's order, each on its own line; a job whose
 * line is full waits without holding up jobs for other lines. */
static void
pump(struct faxqueue *q)
{
	int64_t now = (int64_t)time(NULL), wake = 0;
	struct timeval tv = { RECHECK_S, 0 };
	struct store_job *due;
	int n, moved = 1;

	if (q->nlines == 0)
		return;
	if ((due = calloc(DUE_MAX, sizeof(*due))) == NULL) {
		log_warnx("fax queue: out of memory");
		evtimer_add(q->timer, &tv);
		return;
	}
	/* Each round starts or ends at least one job, or stops: bounded by the jobs due. */
	while (moved && q->active < q->ncalls) {
		moved = 0;
		if ((n = store_job_due(q->srv->store, now, due, DUE_MAX)) <= 0) {
			if (n < 0)
				log_warnx("fax queue: store: %s", store_errmsg(q->srv->store));
			break;
		}
		for (int i = 0; i < n && q->active < q->ncalls; i++) {
			struct store_job *j = &due[i];
			struct qline *ql;
			int rc;

			if (j->kill_at > 0 && now >= j->kill_at) {
				moved += killed(q, j);
				continue;
			}
			if ((rc = no_owner(q, j)) != 0) {
				if (rc < 0)
					goto out;
				moved++;
				continue;
			}
			if ((ql = route(q, j->dest)) == NULL) {
				char why[200];

				snprintf(why, sizeof(why), "no line carries %s (the software line is "
				    "off and no trunk's route takes it)", j->dest);
				if (end_undialled(q, j, why) < 0)
					goto out;
				moved++;
				continue;
			}
			if ((rc = start_call(q, ql, j)) < 0)
				goto out;
			moved += rc;
		}
		if (n < DUE_MAX && q->active < q->ncalls)
			break;             /* every due job was looked at */
	}
out:
	free(due);
	/* Asked once, after the lines are filled: when the next waiting job falls due. */
	if (store_job_wake(q->srv->store, now, &wake) == STORE_OK && wake > now && wake - now < RECHECK_S)
		tv.tv_sec = (time_t)(wake - now);
	evtimer_add(q->timer, &tv);
}

/* Incoming calls */


/* Empties and removes an incoming call's directory (its files are ours: the fax, the note). */
static void
in_dir_remove(const char *dir)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

/* The directory an incoming call is received in, with its note, so that a crash leaves the
 * pages with whom they are for. 0, or -1 (the call is then received in the tmp directory
 * itself, as before, and a crash loses its pages). */
static int
in_dir_make(struct call *c)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(c->in_dir, sizeof(c->in_dir), "%s/" IN_PREFIX "XXXXXX",
	    spool_tmp_dir(c->q->srv->spool));
	if (mkdtemp(c->in_dir) == NULL) {
		c->in_dir[0] = '\0';
		return -1;
	}
	snprintf(path, sizeof(path), "%s/" IN_NOTE, c->in_dir);
	if ((f = fopen(path, "wx")) == NULL) {
		in_dir_remove(c->in_dir);
		c->in_dir[0] = '\0';
		return -1;
	}
	fprintf(f, "%s\n%s\n%s\n%s", c->res.received_by, c->number, c->from,
	    c->onward ? IN_ONWARD "\n" : "");
	if (fclose(f) != 0) {
		in_dir_remove(c->in_dir);
		c->in_dir[0] = '\0';
		return -1;
	}
	return 0;
}

/* A fax a program sent to a number not ours is sent on only when its call ended well: the
 * program counts a broken call as not sent and sends it again, whole, so pages of a broken
 * call sent on would reach the far end twice. Pages of a program's page size other than a
 * fax's (B4, say) are made into the fax page every line sends. On the worker. */
static void
onward_prepare(struct call *c)
{
	struct line_result *r = &c->res;
	char tmp[PATH_MAX + 8], why[200];
	int fine, n;

	if (r->rx_tiff[0] == '\0')
		return;
	if (c->rc != 0 || r->fax.pages_received == 0 || r->fax.callee_completion != 0 ||
	    atomic_load(&c->abort)) {
		if (r->fax.pages_received > 0)
			log_info("%s: not sent on: the call ended early (%s) after %d page%s; the "
			    "program will send it again", c->tag, c->rc != 0 ? r->words :
			    faxcall_reason(r->fax.callee_completion), r->fax.pages_received,
			    plural(r->fax.pages_received));
		unlink(r->rx_tiff);
		r->rx_tiff[0] = '\0';
		r->fax.pages_received = 0;
		return;
	}
	fine = tiffdoc_fine(r->rx_tiff);
	snprintf(tmp, sizeof(tmp), "%s.fax", r->rx_tiff);
	n = tiffdoc_normalise(r->rx_tiff, tmp, fine > 0 ? 196 : 98, why, sizeof(why));
	if (n != r->fax.pages_received || rename(tmp, r->rx_tiff) != 0) {
		snprintf(c->rx_lost, sizeof(c->rx_lost), "its pages cannot be made into a fax to "
		    "send on: %s", n < 0 ? why : "pages lost");
		unlink(tmp);
		unlink(r->rx_tiff);
		r->rx_tiff[0] = '\0';
		return;
	}
	c->onward_fine = fine > 0;
}

/* A fax received for sending on becomes the account's job. 0, or -1 when it was lost. */
static int
file_onward(struct server *srv, struct call *c)
{
	struct onward_fax f = { 0 };
	char why[300];

	if (c->rx_lost[0]) {
		log_warnx("%s: the fax to send on was not kept: %s", c->tag, c->rx_lost);
		return -1;
	}
	if (c->fax_doc[0] == '\0')
		return 0;
	f.user = c->res.received_by;
	f.number = c->number;
	f.doc = c->fax_doc;
	f.size = c->fax_size;
	f.pages = c->res.fax.pages_received;
	f.fine = c->onward_fine;
	f.modem = c->from;
	f.sender = c->res.fax.caller_seen;
	if (onward_queue(srv, &f, why, sizeof(why)) < 0) {
		log_warnx("%s: the fax to send on, %d page%s, was not kept: %s", c->tag, f.pages,
		    plural(f.pages), why);
		spool_remove(srv->spool, c->fax_doc);
		return -1;
	}
	return 0;
}

static void
run_incoming(void *arg)
{
	struct call *c = arg;
	struct line_call lc = { 0 };

	if (in_dir_make(c) < 0)
		log_warn("%s: cannot make a directory to receive into", c->tag);
	lc.number = c->number;
	lc.caller_id = c->q->station_id[0] ? c->q->station_id : NULL;
	lc.rx_dir = c->in_dir[0] ? c->in_dir : spool_tmp_dir(c->q->srv->spool);
	lc.abort = &c->abort;
	c->rc = c->ql->ops->answer(c->ql->line, c->token, &lc, &c->res);
	/* We answered: the receiving side's outcome, which the inbox notes, is our own. */
	if (c->rc == 0)
		c->res.fax.callee_completion = c->res.fax.completion;
	if (c->onward)
		onward_prepare(c);
	keep_received(c->q->srv->spool, c);
	/* The directory stays until incoming_done has filed the fax: its note is what a crash
	 * before then leaves to faxqueue_recover. */
}

static void
incoming_done(void *arg)
{
	struct call *c = arg;
	const struct line_result *r = &c->res;

	c->delivered = 1;
	if (c->rc < 0)
		log_warnx("%s: not received: %s", c->tag, r->words);
	else if (c->onward)
		file_onward(c->q->srv, c);
	else if (file_received(c->q->srv, c) == 0 && r->fax.pages_received == 0)
		log_warnx("%s: no page came: %s", c->tag, r->fax.reason);
	/* Filed, or nothing to file: the note has done its work. */
	if (c->in_dir[0]) {
		in_dir_remove(c->in_dir);
		c->in_dir[0] = '\0';
	}
}

/* One incoming call's directory left by a crash: the pages in it are filed for the user its
 * note names, as a fax whose call ended early. 1 filed, 0 nothing to file. */
static int
recover_one(struct server *srv, const char *dir)
{
	struct call c;
	char path[PATH_MAX + 300], note[IN_NOTE_MAX], why[160], *line[4] = { 0 }, *p, *doc;
	struct dirent *de;
	DIR *d;
	FILE *f;
	size_t n;
	int pages = 0, filed = 0;

	memset(&c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/" IN_NOTE, dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(note, 1, sizeof(note) - 1, f);
	fclose(f);
	note[n] = '\0';
	if ((doc = strstr(note, IN_DOC)) != NULL) {
		*doc = '\0';                  /* the three lines above it stay as they were */
		doc += strlen(IN_DOC);
		doc[strcspn(doc, "\n")] = '\0';
		if (!spool_valid_name(doc))
			doc = NULL;
	}
	/* line by line, an empty one (no caller's number) kept in its place */
	p = note;
	for (int i = 0; i < 4 && p != NULL && *p != '\0'; i++) {
		line[i] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	if (line[0] == NULL || line[1] == NULL || line[0][0] == '\0' || line[1][0] == '\0')
		return 0;
	c.onward = line[3] != NULL && strcmp(line[3], IN_ONWARD) == 0;
	snprintf(c.res.received_by, sizeof(c.res.received_by), "%s", line[0]);
	snprintf(c.number, sizeof(c.number), "%s", line[1]);
	snprintf(c.from, sizeof(c.from), "%s", line[2] ? line[2] : "");
	snprintf(c.ended, sizeof(c.ended), "this server stopped during the call");
	if (doc != NULL && store_doc_in_use(srv->store, doc) != STORE_OK) {
		struct stat st;

		/* The fax had moved into the spool under the noted name, and its inbox row was
		 * not written: file it from there (the spool sweep would remove it). Whether it
		 * is already filed is asked of the store, so a crash after the row files nothing
		 * twice. */
		spool_doc_path(srv->spool, doc, path, sizeof(path));
		if (stat(path, &st) == 0 && (pages = tiffdoc_inspect(path, why, sizeof(why))) > 0) {
			snprintf(c.fax_doc, sizeof(c.fax_doc), "%s", doc);
			c.fax_size = (int64_t)st.st_size;
			c.res.fax.pages_received = pages;
			if (c.onward) {
				/* whole: only a call that ended well moves to the spool */
				c.onward_fine = tiffdoc_fine(path) > 0;
				snprintf(c.tag, sizeof(c.tag), "user=%s fax to %s to send on",
				    c.res.received_by, c.number);
				return file_onward(srv, &c) == 0;
			}
			return file_received(srv, &c) == 0;
		}
	}
	if (c.onward) {
		/* The call was cut: the program counts the fax as not sent, and sends it again. */
		log_info("user=%s: a fax from a virtual modem to %s, to send on, was cut by a "
		    "crash; not sent on (the program sends it again)", c.res.received_by, c.number);
		return 0;
	}
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, IN_NOTE) == 0)
			continue;
		snprintf(c.res.rx_tiff, sizeof(c.res.rx_tiff), "%s/%s", dir, de->d_name);
		/* The pages written before the crash: a page is written whole before it is
		 * confirmed, so every page the far end saw confirmed is here. */
		if ((pages = tiffdoc_inspect(c.res.rx_tiff, why, sizeof(why))) <= 0) {
			log_warnx("user=%s: a fax to %s from %s cut by a crash holds no page that can "
			    "be read (%s); removed", c.res.received_by, c.number,
			    c.from[0] ? c.from : "an unknown caller", pages < 0 ? why : "none");
			unlink(c.res.rx_tiff);
			continue;
		}
		c.res.fax.pages_received = pages;
		keep_received(srv->spool, &c);
		if (file_received(srv, &c) == 0 && c.fax_doc[0])
			filed++;
		break;
	}
	closedir(d);
	return filed;
}

int
faxqueue_recover(struct server *srv)
{
	const char *tmp = spool_tmp_dir(srv->spool);
	char dir[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int filed = 0;

	if ((d = opendir(tmp)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, IN_PREFIX, strlen(IN_PREFIX)) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", tmp, de->d_name);
		filed += recover_one(srv, dir);
		in_dir_remove(dir);
	}
	closedir(d);
	return filed;
}

/* A line offers a call from outside to one of our numbers (line.h's line_host). */
static int
host_incoming(void *arg, void *line, const struct line_incoming *in)
{
	struct faxqueue *q = arg;
	struct qline *ql = NULL;
	struct store_user u;
	struct call *c;

	if (in->onward && store_user_get(q->srv->store, in->user, &u) != STORE_OK) {
		log_warnx("a fax program's call to %s refused: virtual_modem_account '%s' is no "
		    "user of this server (netcfax-admin user add %s)", in->number, in->user,
		    in->user);
		return -2;
	}
	for (int i = 0; i < q->nlines; i++)
		if (q->lines[i].line == line)
			ql = &q->lines[i];
	if (ql == NULL || q->stopping || q->timer == NULL || (c = take_slot(q, ql)) == NULL)
		return -1;
	c->incoming = 1;
	c->onward = in->onward;
	c->token = in->token;
	snprintf(c->number, sizeof(c->number), "%s", in->number);
	snprintf(c->from, sizeof(c->from), "%s", in->from);
	snprintf(c->res.received_by, sizeof(c->res.received_by), "%s", in->user);
	snprintf(c->tag, sizeof(c->tag), "user=%s call from %s to %s%s", in->user,
	    in->from[0] ? in->from : "?", in->number, in->onward ? " (to send on)" : "");
	c->wj = workpool_submit(q->pool, run_incoming, incoming_done, call_release, c);
	if (c->wj == NULL) {
		give_slot(q, c);
		return -1;
	}
	shown_fresh(q, c);
	snprintf(c->shown.dest, sizeof(c->shown.dest), "%s", in->number);
	snprintf(c->shown.remote_id, sizeof(c->shown.remote_id), "%s", in->from);
	show_line(q, &c->shown, c->tag);
	return 0;
}

static const char *
host_number_user(void *arg, const char *number)
{
	return own_user(arg, number);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

/* A job found active at start: its call died with the server that made it. */
static int
recover(struct store_job *j, void *arg)
{
	struct faxqueue *q = arg;
	struct store_note n;
	char tag[JOB_TAG_MAX];
	int rc;

	job_tag(q, j, tag, sizeof(tag));
	memset(&n, 0, sizeof(n));
	n.user = j->owner;
	/* Counted as a dial and a try, whatever stage the call was at: a job whose call kills
	 * the server every time must still come to an end. */
	j->dials++;
	j->tries++;
	if (j->pages_sent >= j->pages && j->pages > 0) {
		/* The far end had confirmed every page (each is saved with the job as it is
		 * confirmed): the fax is there. */
		j->state = NCFX_JOB_DONE;
		j->next_try = 0;
		snprintf(j->reason, sizeof(j->reason), "sent %d page%s to %s; the far end confirmed "
		    "every page before the server stopped during the call", j->pages_sent,
		    plural(j->pages_sent), j->remote_id[0] ? j->remote_id : j->dest);
		n.event = NCFX_EV_JOB_DONE;
	} else if (j->tries >= j->max_tries || j->dials >= j->max_dials) {
		j->state = NCFX_JOB_FAILED;
		snprintf(j->reason, sizeof(j->reason), "the server stopped during the last call "
		    "allowed (call %d of %d, dial %d of %d)", j->tries, j->max_tries, j->dials,
		    j->max_dials);
		n.event = NCFX_EV_JOB_FAILED;
	} else {
		j->state = NCFX_JOB_PENDING;
		j->next_try = 0;
		snprintf(j->reason, sizeof(j->reason), "the server stopped during the call; "
		    "dialling again");
		n.event = NCFX_EV_JOB_RETRY;
	}
	snprintf(n.text, sizeof(n.text), "%s to %s: %s", j->filename, j->dest, j->reason);
	rc = store_job_save(q->srv->store, j, NCFX_JOB_ACTIVE, &n);
	if (rc == STORE_ERR)
		log_warnx("%s: store: %s", tag, store_errmsg(q->srv->store));
	else {
		log_info("%s: %s: %s", tag, ncfx_job_state_name(j->state), j->reason);
		if (j->state == NCFX_JOB_FAILED || j->state == NCFX_JOB_DONE)
			spool_remove(q->srv->spool, j->doc);
	}
	return 0;
}

/* Adds a line with its channels; 0, or -1 when there are more lines than fit. */
static struct qline *
add_line(struct faxqueue *q, const struct line_ops *ops, void *line, int channels,
    const char *name)
{
	struct qline *ql;

	if (q->nlines == LINES_MAX)
		return NULL;
	ql = &q->lines[q->nlines++];
	ql->ops = ops;
	ql->line = line;
	ql->channels = channels;
	ql->first = q->ncalls;
	q->ncalls += channels;
	snprintf(ql->name, sizeof(ql->name), "%s", name);
	return ql;
}

/* A trunk's row for the operator's status: which one, its provider, and how it stands. */
static void
set_trunk_row(struct faxqueue *q, struct qline *ql, int up, const char *words)
{
	struct store_trunk t;
	int n = 0;

	memset(&t, 0, sizeof(t));
	for (struct qline *x = q->lines; x <= ql; x++)
		n += x->trunk != NULL;
	t.trunk = n;
	snprintf(t.name, sizeof(t.name), "%s", ql->trunk->name);
	snprintf(t.registrar, sizeof(t.registrar), "%s", ql->trunk->registrar);
	t.up = up;
	snprintf(t.words, sizeof(t.words), "%s", words);
	t.since = (int64_t)time(NULL);
	if (store_trunk_set(q->srv->store, &t) != STORE_OK)
		log_warnx("trunk %s: store: %s", t.name, store_errmsg(q->srv->store));
}

/* A trunk registered, or lost its registration (line.h's line_host). */
static void
host_standing(void *arg, void *line, int up, const char *words)
{
	struct faxqueue *q = arg;

	for (int i = 0; i < q->nlines; i++)
		if (q->lines[i].line == line && q->lines[i].trunk != NULL)
			set_trunk_row(q, &q->lines[i], up, words);
}

/* Every trunk file of sip_trunks: loaded, its line started (it registers at once). */
static int
add_trunks(struct faxqueue *q, char *err, size_t errlen)
{
	const struct server_config *cfg = &q->srv->cfg;
	char list[sizeof(cfg->sip_trunks)], *save = NULL, *path;
	struct sipline_opts so = { 0 };

	snprintf(list, sizeof(list), "%s", cfg->sip_trunks);
	for (path = strtok_r(list, ", ", &save); path; path = strtok_r(NULL, ", ", &save)) {
		struct trunk_config *t = calloc(1, sizeof(*t));
		struct qline *ql;
		char name[48];
		void *line;

		if (t == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (trunk_config_load(t, path, err, errlen) < 0) {
			free(t);
			return -1;
		}
		so.trunk = t;
		so.ecm = cfg->fax_ecm;
		so.state_dir = cfg->state_dir;
		so.pcp_mapped_port = strcmp(cfg->portmap, "off") != 0 ? (int)cfg->pcp_port : 0;
		if ((line = sipline_new(q->srv->base, &so, err, errlen)) == NULL) {
			free(t);
			return -1;
		}
		snprintf(name, sizeof(name), "trunk %s", t->name);
		if ((ql = add_line(q, &sipline_ops, line, (int)t->channels, name)) == NULL) {
			sipline_ops.free(line);
			free(t);
			snprintf(err, errlen, "sip_trunks: more than %d trunks", TRUNKS_MAX);
			return -1;
		}
		ql->trunk = t;
		set_trunk_row(q, ql, 0, "registering");
	}
	return 0;
}

/* Every modem file of modems: loaded, its line made (the modem looked at once). */
static int
add_modems(struct faxqueue *q, char *err, size_t errlen)
{
	const struct server_config *cfg = &q->srv->cfg;
	char list[sizeof(cfg->modems)], *save = NULL, *path;

	snprintf(list, sizeof(list), "%s", cfg->modems);
	for (path = strtok_r(list, ", ", &save); path; path = strtok_r(NULL, ", ", &save)) {
		struct modem_config m;
		struct modemline_opts mo = { &m, q->srv->base };
		struct qline *ql;
		char name[48];
		void *line;

		if (modemconf_load(&m, path, err, errlen) < 0)
			return -1;
		if (m.number[0] && own_user(q, m.number) == NULL) {
			snprintf(err, errlen, "%s: number: %s is not one of fax_numbers; a modem answers "
			    "for a user's number (add \"%s USER\" to fax_numbers)", m.path, m.number,
			    m.number);
			return -1;
		}
		if ((line = modemline_new(&mo, err, errlen)) == NULL)
			return -1;
		snprintf(name, sizeof(name), "modem %s", m.name);
		if ((ql = add_line(q, &modemline_ops, line, 1, name)) == NULL) {
			modemline_ops.free(line);
			snprintf(err, errlen, "modems: too many lines");
			return -1;
		}
		ql->modem = 1;
		log_info("modem %s: %s, route '%s'", m.name, m.device, m.route[0] ? m.route :
		    "every number no trunk takes");
	}
	return 0;
}

/* The virtual modems, when virtual_modems asks for them: their devices made, their
 * threads idle until a program opens one. */
static int
add_vmodems(struct faxqueue *q, char *err, size_t errlen)
{
	const struct server_config *cfg = &q->srv->cfg;
	struct vmodemline_opts vo = { 0 };
	char dir[CONFIG_PATH_MAX + 16];
	void *line;

	if (cfg->virtual_modem_dir[0])
		snprintf(dir, sizeof(dir), "%s", cfg->virtual_modem_dir);
	else
		snprintf(dir, sizeof(dir), "%s/modems", cfg->state_dir);
	vo.base = q->srv->base;
	vo.modems = (int)cfg->virtual_modems;
	vo.numbers = cfg->virtual_modem_numbers;
	vo.dir = dir;
	vo.group = cfg->virtual_modem_group;
	vo.ring_timeout = (int)cfg->virtual_modem_ring_timeout;
	vo.ecm = cfg->fax_ecm;
	vo.account = cfg->virtual_modem_account;
	if ((line = vmodemline_new(&vo, err, errlen)) == NULL)
		return -1;
	if ((q->vmodems = add_line(q, &vmodemline_ops, line, vo.modems, "virtual modems")) ==
	    NULL) {
		vmodemline_ops.free(line);
		snprintf(err, errlen, "virtual modems: too many lines");
		return -1;
	}
	log_info("virtual modems: %d in %s (ttyNCFX0%s), numbers '%s'; %s%s", vo.modems, dir,
	    vo.modems > 1 ? " and on" : "", cfg->virtual_modem_numbers,
	    vo.account[0] ? "faxes to other numbers are sent on as jobs of user=" :
	    "faxes to other numbers are refused (no virtual_modem_account)", vo.account);
	if (vo.account[0]) {
		struct store_user u;

		if (store_user_get(q->srv->store, vo.account, &u) != STORE_OK)
			log_warnx("virtual_modem_account '%s' is no user of this server: a fax "
			    "program's calls to numbers not ours are refused until it is "
			    "(netcfax-admin user add %s)", vo.account, vo.account);
	}
	return 0;
}

struct faxqueue *
faxqueue_new(struct server *srv, char *err, size_t errlen)
{
	const struct server_config *cfg = &srv->cfg;
	struct faxqueue *q = calloc(1, sizeof(*q));
	struct softline_opts so = { 0 };

	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->srv = srv;
	q->host.number_user = host_number_user;
	q->host.incoming = host_incoming;
	q->host.standing = host_standing;
	q->host.arg = q;
	/* Rows of a server before this one (killed, perhaps) describe no trunk of this one. */
	if (store_trunk_reset(srv->store) != STORE_OK)
		log_warnx("trunks: store: %s", store_errmsg(srv->store));
	station_id(cfg, q->station_id, sizeof(q->station_id));
	if (store_job_each_active(srv->store, recover, q) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_errmsg(srv->store));
		goto fail;
	}
	if (cfg->fax_numbers[0] || cfg->fax_remotes[0]) {
		void *line;

		so.own_numbers = cfg->fax_numbers;
		so.remotes = cfg->fax_remotes;
		so.alaw = cfg->fax_alaw;
		so.ecm = cfg->fax_ecm;
		so.paced = cfg->fax_paced;
		if ((line = softline_new(&so, err, errlen)) == NULL)
			goto fail;
		q->soft = add_line(q, &softline_ops, line, (int)cfg->fax_lines, "software");
	}
	if (add_trunks(q, err, errlen) < 0 || add_modems(q, err, errlen) < 0)
		goto fail;
	if (cfg->virtual_modems > 0 && add_vmodems(q, err, errlen) < 0)
		goto fail;
	if (q->nlines == 0) {
		snprintf(q->off, sizeof(q->off), "no fax line is configured (fax_numbers, "
		    "fax_remotes, sip_trunks and modems are empty, virtual_modems is 0): jobs "
		    "wait");
		log_warnx("%s", q->off);
		if (store_line_reset(srv->store, 0) != STORE_OK)
			log_warnx("fax lines: store: %s", store_errmsg(srv->store));
		return q;
	}
	q->calls = calloc((size_t)q->ncalls, sizeof(*q->calls));
	q->pool = workpool_new(srv->base, q->ncalls, q->ncalls, "line");
	q->timer = evtimer_new(srv->base, on_timer, q);
	if (q->calls == NULL || q->pool == NULL || q->timer == NULL) {
		snprintf(err, errlen, "out of memory for %d lines", q->ncalls);
		goto fail;
	}
	for (int i = 0; i < q->nlines; i++)
		for (int k = q->lines[i].first; k < q->lines[i].first + q->lines[i].channels; k++) {
			q->calls[k].q = q;
			q->calls[k].ql = &q->lines[i];
		}
	if (store_line_reset(srv->store, q->ncalls) != STORE_OK)
		log_warnx("fax lines: store: %s", store_errmsg(srv->store));
	/* each row named by its line, for the operator */
	for (int k = 0; k < q->ncalls; k++) {
		shown_fresh(q, &q->calls[k]);
		show_line(q, &q->calls[k].shown, "fax lines");
	}
	if (q->soft)
		log_info("software line: %d line%s, station id '%s'%s%s", q->soft->channels,
		    plural(q->soft->channels), q->station_id, cfg->fax_alaw ? ", A-law" : "",
		    cfg->fax_paced ? ", paced" : "");
	/* Calls from outside may come from now on. */
	for (int i = 0; i < q->nlines; i++)
		if (q->lines[i].ops->attach &&
		    q->lines[i].ops->attach(q->lines[i].line, &q->host, err, errlen) < 0)
			goto fail;
	event_active(q->timer, EV_TIMEOUT, 0);
	return q;
fail:
	faxqueue_free(q);
	return NULL;
}

void
faxqueue_free(struct faxqueue *q)
{
	if (q == NULL)
		return;
	if (q->timer) {
		event_free(q->timer);
		q->timer = NULL;
	}
	q->stopping = 1;
	for (int i = 0; i < q->ncalls && q->calls; i++)
		if (q->calls[i].busy)
			atomic_store(&q->calls[i].abort, 1);
	/* Each call ends at its next block of audio; what came of it is then recorded as the
	 * loop would have: a fax that went through is done, the others wait for the next start
	 * (call_done), and a received fax is filed. */
	workpool_drain(q->pool);
	workpool_free(q->pool);
	/* No server, no lines: the operator's status must not show calls from the past. */
	if (q->nlines && store_line_reset(q->srv->store, 0) != STORE_OK)
		log_warnx("fax lines: store: %s", store_errmsg(q->srv->store));
	if (store_trunk_reset(q->srv->store) != STORE_OK)
		log_warnx("trunks: store: %s", store_errmsg(q->srv->store));
	/* A trunk's user agent stops (un-REGISTERs) here, after its calls ended: every line
	 * begins at once, so a server stops in the time of its slowest line, not of all. */
	for (int i = 0; i < q->nlines; i++)
		if (q->lines[i].ops->stop)
			q->lines[i].ops->stop(q->lines[i].line);
	for (int i = 0; i < q->nlines; i++) {
		q->lines[i].ops->free(q->lines[i].line);
		free(q->lines[i].trunk);
	}
	free(q->calls);
	free(q);
}

void
faxqueue_kick(struct faxqueue *q)
{
	if (q != NULL && q->timer != NULL)
		event_active(q->timer, EV_TIMEOUT, 0);
}

int
faxqueue_hangup(struct faxqueue *q, int64_t job)
{
	if (q == NULL || q->calls == NULL)
		return 0;
	for (int i = 0; i < q->ncalls; i++)
		if (q->calls[i].busy && q->calls[i].job.id == job) {
			atomic_store(&q->calls[i].abort, 1);
			return 1;
		}
	return 0;
}

const char *
faxqueue_off_reason(const struct faxqueue *q)
{
	return q == NULL ? "the fax queue is not running" : q->off[0] ? q->off : NULL;
}

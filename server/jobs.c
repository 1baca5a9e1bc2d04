/* jobs.c: submit, list, cancel, suspend and resume for a logged-in session. A document becomes
 * a job only after it arrived whole, matched its checksum, was made into a fax image by intake
 * (on a worker thread: ghostscript can take seconds) and sits fsynced in the spool. */
#include "jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto.h"
#include "faxqueue.h"
#include "intake.h"
#include "jobspec.h"
#include "log.h"
#include "outbox.h"
#include "requests.h"
#include "server.h"
#include "session.h"
#include "spool.h"
#include "store.h"
#include "tiffdoc.h"
#include "workpool.h"

#define JOBS_PARTS_MAX NCFX_PARTS_MAX     /* documents in one job */

struct upload {
	uint32_t              id;
	int                   fd;
	char                  path[PATH_MAX];
	uint64_t              size;     /* announced */
	uint64_t              got;
	struct crypto_sha256 *sha;
	uint8_t               want_sha[32];
	int                   format;
	char                  filename[NCFX_FILENAME_MAX + 1];
	char                  failed[160];    /* set when a chunk was refused */
	int                   failed_code;    /* and the error code to answer UPLOAD_END with */
	int                   part, parts;    /* this is document part of parts */
};

/* The documents of one job, sent one after another on one connection. Each is made into a
 * fax image as it arrives; with the last, a cover page (if asked for) and all of them are
 * joined into the job's one image. Dropped, with its files, if any part fails or the
 * connection goes. */
struct assembly {
	struct jobspec spec;
	uint64_t       gen;                   /* which job: a request for another is ignored */
	int            format;                /* the first document's, for the job's FORMAT */
	int            parts, done;           /* announced, and converted so far */
	int            pages;
	uint64_t       sent_bytes;            /* of the documents as uploaded */
	uint64_t       image_bytes;           /* of their fax images */
	char          *images[JOBS_PARTS_MAX];
	char           names[NCFX_FILENAME_MAX + 1];
};

/* A finished upload being made into a fax image on a worker. */
struct intake_req {
	struct workpool_job *wj;
	struct session      *s;
	uint32_t             reqid;
	struct upload       *u;
	struct jobspec       spec;            /* a copy: the worker reads no session state */
	uint64_t             gen;             /* the assembly it belongs to */
	int                  last;            /* the job's last document */
	int                  join;            /* join cover and parts into out */
	int                  prior_pages;     /* of the parts before this one */
	int                  nprior;
	char                *prior[JOBS_PARTS_MAX];   /* their images (copies of the paths) */
	char                 out[PATH_MAX];   /* the fax image, a spool temporary file */
	int                  pages;
	int                  io_error;        /* pages < 0 because the spool failed us: errno */
	char                 err[300];
};

static uint32_t next_upload_id = 1;
static uint64_t next_assembly_gen = 1;

static uint64_t
larger(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* What a client is told when the spool failed us with errno e: a full disk is the one cause
 * the user can do something about (wait), so it is named. */
static const char *
spool_trouble(int e)
{
	return e == ENOSPC || e == EDQUOT ? "the server's disk is full; try again later" :
	    "the server could not store the document; try again later";
}

static void
upload_drop_file(struct upload *u)
{
	if (u->fd >= 0) {
		spool_discard(u->path, u->fd);
		u->fd = -1;
	}
}

void
jobs_assembly_free(struct assembly *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < a->done; i++) {
		unlink(a->images[i]);
		free(a->images[i]);
	}
	free(a);
}

/* The job being sent on this connection failed or starts over: its documents go. */
static void
drop_assembly(struct session *s)
{
	requests_drop_assembly(session_requests(s));
}

void
jobs_upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	upload_drop_file(u);
	crypto_sha256_free(u->sha);
	free(u);
}

static void
put_job_info(struct ncfx_wbuf *w, const struct store_job *j)
{
	ncfx_put_u64(w, NCFX_T_JOB_ID, (uint64_t)j->id);
	ncfx_put_u8(w, NCFX_T_STATE, (uint8_t)j->state);
	ncfx_put_str(w, NCFX_T_DEST, j->dest);
	ncfx_put_text(w, NCFX_T_FILENAME, j->filename);
	ncfx_put_u64(w, NCFX_T_SIZE, (uint64_t)j->size);
	ncfx_put_u8(w, NCFX_T_FORMAT, (uint8_t)j->format);
	ncfx_put_u32(w, NCFX_T_PAGES, (uint32_t)j->pages);
	ncfx_put_u64(w, NCFX_T_CREATED, (uint64_t)j->created);
	ncfx_put_u64(w, NCFX_T_UPDATED, (uint64_t)j->updated);
	/* The reason may quote what a far fax machine sent (its station id). */
	if (j->reason[0])
		ncfx_put_text(w, NCFX_T_TEXT, j->reason);
	ncfx_put_u8(w, NCFX_T_RESOLUTION, (uint8_t)(j->fine != 0));
	ncfx_put_u8(w, NCFX_T_PRIORITY, (uint8_t)j->priority);
	if (j->send_at)
		ncfx_put_u64(w, NCFX_T_SEND_AT, (uint64_t)j->send_at);
	if (j->kill_at)
		ncfx_put_u64(w, NCFX_T_KILL_AT, (uint64_t)j->kill_at);
	ncfx_put_u8(w, NCFX_T_MAX_TRIES, (uint8_t)j->max_tries);
	ncfx_put_u8(w, NCFX_T_MAX_DIALS, (uint8_t)j->max_dials);
	ncfx_put_u8(w, NCFX_T_TRIES, (uint8_t)j->tries);
	ncfx_put_u8(w, NCFX_T_DIALS, (uint8_t)j->dials);
	if (j->next_try && (j->state == NCFX_JOB_SLEEPING || j->state == NCFX_JOB_SUSPENDED))
		ncfx_put_u64(w, NCFX_T_NEXT_TRY, (uint64_t)j->next_try);
	ncfx_put_u32(w, NCFX_T_PAGE, (uint32_t)j->pages_sent);
	if (j->bit_rate)
		ncfx_put_u32(w, NCFX_T_BIT_RATE, (uint32_t)j->bit_rate);
	if (j->remote_id[0])
		ncfx_put_text(w, NCFX_T_REMOTE_ID, j->remote_id);
	ncfx_put_u8(w, NCFX_T_ECM, (uint8_t)(j->ecm != 0));
	if (j->media[0])              /* read into NCFX_MEDIA_MAX bytes, within the cap */
		ncfx_put_text(w, NCFX_T_MEDIA, j->media);
}

static void
reply_job(struct session *s, uint32_t reqid, uint16_t flags, const struct store_job *j)
{
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, flags, reqid);
	put_job_info(&w, j);
	session_send(s, &w);
}

/* The per-user limits, checked when an upload starts and again when it ends (another
 * connection of the same user may have queued jobs meanwhile), for a job that would hold size
 * bytes; and the free-space reserve, for the bytes still to be written (at the end, the image
 * is on the disk already). 0 ok, or an error code. */
static int
check_quota(struct session *s, uint64_t size, uint64_t to_write, char *why, size_t whylen)
{
	struct server *srv = session_server(s);
	int64_t jobs = 0, bytes = 0;
	long long avail = spool_free_bytes(srv->spool);

	if (store_job_unfinished(srv->store, session_user_id(s), &jobs, &bytes) != STORE_OK) {
		log_warnx("%s: quota: store: %s", session_tag(s), store_errmsg(srv->store));
		snprintf(why, whylen, "%s", store_trouble(srv->store));
		return NCFX_E_INTERNAL;
	}
	if (jobs >= srv->cfg.max_jobs_per_user) {
		snprintf(why, whylen, "you have %" PRId64 " unfinished jobs, the most this server "
		    "allows", jobs);
		return NCFX_E_QUOTA;
	}
	if ((uint64_t)bytes + size > (uint64_t)srv->cfg.max_spool_per_user) {
		snprintf(why, whylen, "your unfinished jobs hold %" PRId64 " bytes; with this "
		    "document that would pass this server's limit of %lld", bytes,
		    srv->cfg.max_spool_per_user);
		return NCFX_E_QUOTA;
	}
	if (avail >= 0 && (unsigned long long)avail < to_write +
	    (unsigned long long)srv->cfg.spool_reserve) {
		log_warnx("%s: spool nearly full: %lld bytes free (spool_reserve %lld), refusing a "
		    "%" PRIu64 "-byte document", session_tag(s), avail, srv->cfg.spool_reserve, size);
		snprintf(why, whylen, "the server is short of disk space; try again later");
		return NCFX_E_INTERNAL;
	}
	return 0;
}

static void
handle_submit(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	struct requests *rq = session_requests(s);
	struct upload *u;
	struct assembly *a = requests_assembly(rq);
	struct jobspec_doc d;
	char why[200];
	struct ncfx_wbuf w;
	int code;

	if (requests_upload(rq) != NULL) {
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD,
		    "an upload is already in progress on this connection");
		return;
	}
	if ((code = jobspec_doc(m, &d, why, sizeof(why))) != 0) {
		session_reply_error(s, m->reqid, code, why);
		return;
	}
	if (requests_intake(rq) != NULL) {
		/* The documents of a job go one after another: the previous one first. */
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, "the previous document on this "
		    "connection is still being converted");
		return;
	}
	if (d.part == 1) {
		/* A new job: whatever an unfinished one left on this connection goes. */
		drop_assembly(s);
		if ((a = calloc(1, sizeof(*a))) == NULL) {
			session_reply_error(s, m->reqid, NCFX_E_INTERNAL, "out of memory");
			return;
		}
		if ((code = jobspec_parse(m, (int)srv->cfg.job_max_tries,
		    (int)srv->cfg.job_max_dials, (uint64_t)time(NULL), &a->spec, why,
		    sizeof(why))) != 0) {
			session_reply_error(s, m->reqid, code, why);
			free(a);
			return;
		}
		a->parts = d.parts;
		a->gen = next_assembly_gen++;
		a->format = d.format;
		requests_set_assembly(rq, a);
	} else if (a == NULL || a->parts != d.parts || a->done != d.part - 1 ||
	    strcmp(a->spec.dest, d.dest) != 0) {
		snprintf(why, sizeof(why), "document %d of %d does not follow the documents sent "
		    "before it on this connection; send the job again from its first", d.part,
		    d.parts);
		drop_assembly(s);
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD, why);
		return;
	}
	if (d.size == 0) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_DOCUMENT, "the document is empty");
		drop_assembly(s);
		return;
	}
	if (d.size > (uint64_t)srv->cfg.max_document_size) {
		snprintf(why, sizeof(why), "document is %" PRIu64 " bytes; this server accepts "
		    "at most %lld", d.size, srv->cfg.max_document_size);
		session_reply_error(s, m->reqid, NCFX_E_DOC_TOO_LARGE, why);
		drop_assembly(s);
		return;
	}
	/* The images of the documents before it already sit in the spool. */
	if ((code = check_quota(s, larger(a->sent_bytes, a->image_bytes) + d.size, d.size, why,
	    sizeof(why))) != 0) {
		session_reply_error(s, m->reqid, code, why);
		drop_assembly(s);
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL || (u->sha = crypto_sha256_new()) == NULL) {
		jobs_upload_free(u);
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, "out of memory");
		drop_assembly(s);
		return;
	}
	u->fd = spool_tmp_create(srv->spool, u->path, sizeof(u->path));
	if (u->fd < 0) {
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, spool_trouble(errno));
		jobs_upload_free(u);
		drop_assembly(s);
		return;
	}
	u->id = next_upload_id++;
	u->size = d.size;
	u->format = d.format;
	u->part = d.part;
	u->parts = d.parts;
	memcpy(u->want_sha, d.sha256, sizeof(u->want_sha));
	snprintf(u->filename, sizeof(u->filename), "%s", d.filename);
	requests_set_upload(rq, u);
	ncfx_wbuf_begin(&w, NCFX_MSG_UPLOAD_READY, 0, m->reqid);
	ncfx_put_u32(&w, NCFX_T_UPLOAD_ID, u->id);
	session_send(s, &w);
}

static void
upload_fail(struct upload *u, int code, const char *why)
{
	if (u->failed[0] == '\0') {
		snprintf(u->failed, sizeof(u->failed), "%s", why);
		u->failed_code = code;
	}
	upload_drop_file(u);    /* free the disk now; the error is reported at UPLOAD_END */
}

static void
handle_chunk(struct session *s, const struct ncfx_msg *m)
{
	struct upload *u = requests_upload(session_requests(s));
	uint64_t off = ncfx_msg_uint(m, NCFX_T_OFFSET);
	const uint8_t *data;
	size_t len, done = 0;
	char why[160];

	if (u == NULL || u->id != ncfx_msg_uint(m, NCFX_T_UPLOAD_ID)) {
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD, "no such upload in progress");
		return;
	}
	if (u->failed[0])
		return;
	data = ncfx_msg_bytes(m, NCFX_T_DATA, &len);
	if (off != u->got) {
		snprintf(why, sizeof(why), "chunk at offset %" PRIu64 ", expected %" PRIu64, off,
		    u->got);
		upload_fail(u, NCFX_E_UPLOAD, why);
		return;
	}
	if (len > u->size - u->got) {
		upload_fail(u, NCFX_E_UPLOAD, "more data than the announced size");
		return;
	}
	/* Disk writes on the loop thread: spool files are local and small next to a TLS read. */
	while (done < len) {
		ssize_t n = write(u->fd, data + done, len - done);
		if (n < 0) {
			log_warn("%s: spool: writing %s", session_tag(s), u->path);
			upload_fail(u, NCFX_E_INTERNAL, spool_trouble(errno));
			return;
		}
		done += (size_t)n;
	}
	crypto_sha256_update(u->sha, data, len);
	u->got += len;
}

/* The end of the worker's part. A failure that was the server's (intake could not write, or
 * the disk is full) is set apart from the document's, so the user is not told to fix a good
 * document. The job's image is made durable here, on the worker, while the loop serves
 * others: the commit on the loop then has only the rename and the store left. (The image of a
 * document with more to come is joined into the job's later, and only that one needs to
 * last.) */
static void
image_done(struct intake_req *r)
{
	if (r->pages == INTAKE_ENOSPC || r->pages == INTAKE_EIO) {
		r->io_error = r->pages == INTAKE_ENOSPC ? ENOSPC : EIO;
		r->pages = -1;
		return;
	}
	if (r->last && r->pages >= 0 && spool_sync(r->out) != 0) {
		r->io_error = errno;         /* the server's trouble, not the document's */
		snprintf(r->err, sizeof(r->err), "cannot sync the fax image: %s", strerror(errno));
		r->pages = -1;
	}
}

static void
convert(void *arg)
{
	struct intake_req *r = arg;
	struct intake_opts o = { 0 };
	char part[PATH_MAX + 16], cover[PATH_MAX + 16];
	const char *srcs[JOBS_PARTS_MAX + 1];
	int n = 0, pages;

	o.fine = r->spec.fine;
	o.paper = r->spec.paper;
	if (!r->join) {
		r->pages = intake_convert(r->u->path, r->u->format, &o, r->out, r->err,
		    sizeof(r->err));
		image_done(r);
		return;
	}
	/* The last document: made into its image, then the cover page (which counts every
	 * page) and all the images are joined into out, the job's image. */
	snprintf(part, sizeof(part), "%s.part.tif", r->out);
	snprintf(cover, sizeof(cover), "%s.cover.tif", r->out);
	if ((r->pages = pages = intake_convert(r->u->path, r->u->format, &o, part, r->err,
	    sizeof(r->err))) < 0)
		goto out;
	if (r->spec.cover) {
		struct intake_cover cv = { 0 };

		cv.from = r->spec.cover_from;
		cv.to = r->spec.cover_to;
		cv.subject = r->spec.subject;
		cv.dest = r->spec.dest;
		cv.pages = r->prior_pages + pages + 1;
		cv.when = time(NULL);
		if ((r->pages = intake_cover(&cv, &o, cover, r->err, sizeof(r->err))) < 0)
			goto out;
		srcs[n++] = cover;
	}
	for (int i = 0; i < r->nprior; i++)
		srcs[n++] = r->prior[i];
	srcs[n++] = part;
	r->pages = tiffdoc_join(srcs, n, r->out, r->spec.fine ? 196 : 98, r->err,
	    sizeof(r->err));
out:
	unlink(part);
	unlink(cover);
	image_done(r);
}

static void
release_intake(void *arg)
{
	struct intake_req *r = arg;

	if (r->out[0])
		unlink(r->out);            /* not committed: a refusal, a cancel, a failure */
	for (int i = 0; i < r->nprior; i++)
		free(r->prior[i]);
	jobs_upload_free(r->u);
	free(r);
}

/* A document of a job with more to come: its image joins the assembly. */
static void
keep_part(struct session *s, struct intake_req *r, uint64_t image_bytes)
{
	struct assembly *a = requests_assembly(session_requests(s));
	struct ncfx_wbuf w;
	char why[300];
	int code;

	if (a == NULL || a->gen != r->gen) {
		session_reply_error(s, r->reqid, NCFX_E_UPLOAD, "this document's job was dropped "
		    "meanwhile; send the job again from its first document");
		return;
	}
	if (a->pages + r->pages > TIFFDOC_MAX_PAGES) {
		snprintf(why, sizeof(why), "the documents come to more than %d pages",
		    TIFFDOC_MAX_PAGES);
		drop_assembly(s);
		session_reply_error(s, r->reqid, NCFX_E_BAD_DOCUMENT, why);
		return;
	}
	/* What the job holds in the spool so far counts against the quota now, not only when
	 * the last document arrives. */
	if ((code = check_quota(s, larger(a->sent_bytes + r->u->size, a->image_bytes +
	    image_bytes), 0, why, sizeof(why))) != 0) {
		drop_assembly(s);
		session_reply_error(s, r->reqid, code, why);
		return;
	}
	if ((a->images[a->done] = strdup(r->out)) == NULL) {
		drop_assembly(s);
		session_reply_error(s, r->reqid, NCFX_E_INTERNAL, "out of memory");
		return;
	}
	r->out[0] = '\0';                 /* the assembly owns the file now */
	a->done++;
	a->pages += r->pages;
	a->sent_bytes += r->u->size;
	a->image_bytes += image_bytes;
	if (a->names[0] == '\0')
		snprintf(a->names, sizeof(a->names), "%s", r->u->filename);
	else {
		size_t len = strlen(a->names);
		snprintf(a->names + len, sizeof(a->names) - len, " + %s", r->u->filename);
	}
	ncfx_wbuf_begin(&w, NCFX_MSG_OK, 0, r->reqid);
	ncfx_put_u32(&w, NCFX_T_PAGES, (uint32_t)r->pages);
	session_send(s, &w);
}

/* Back on the loop with the fax image (or the reason there is none): the job is made. */
static void
finish_intake(void *arg)
{
	struct intake_req *r = arg;
	struct session *s = r->s;
	struct server *srv = session_server(s);
	struct upload *u = r->u;
	struct requests *rq = session_requests(s);
	struct assembly *a = requests_assembly(rq);
	struct jobspec *js = &r->spec;
	struct store_job j;
	struct store_note note;
	struct stat st;
	uint64_t kept = 0, sent;  /* what the quota counts: the larger of upload and image */
	char why[400], names[NCFX_FILENAME_MAX + 1];
	int code = 0, format;
	int64_t now;

	requests_set_intake(rq, NULL);     /* the workpool releases r after this */
	if (a == NULL || a->gen != r->gen) {
		/* Cannot happen (no JOB_SUBMIT is taken while a document converts); never let
		 * one job's document touch another's. */
		session_reply_error(s, r->reqid, NCFX_E_UPLOAD, "this document's job was dropped "
		    "meanwhile; send the job again from its first document");
		return;
	}
	if (r->pages < 0 && r->io_error) {
		log_warnx("%s: spool: job image: %s", session_tag(s), r->err);
		session_reply_error(s, r->reqid, NCFX_E_INTERNAL, spool_trouble(r->io_error));
		drop_assembly(s);
		return;
	}
	if (r->pages < 0) {
		snprintf(why, sizeof(why), "%s cannot be faxed: %s", u->filename, r->err);
		log_info("%s: submitted an unusable document: %s", session_tag(s), r->err);
		session_reply_error(s, r->reqid, NCFX_E_BAD_DOCUMENT, why);
		drop_assembly(s);
		return;
	}
	if (stat(r->out, &st) != 0) {
		log_warn("spool: job image %s", r->out);
		session_reply_error(s, r->reqid, NCFX_E_INTERNAL, spool_trouble(errno));
		drop_assembly(s);
		return;
	}
	if (!r->last) {
		keep_part(s, r, (uint64_t)st.st_size);
		return;
	}
	/* Checked again: another connection of the user may have queued jobs meanwhile. It
	 * counts the larger of the documents as sent and the fax image: a small upload must
	 * not get around the limits by becoming a large image. */
	sent = u->size + a->sent_bytes;
	kept = larger((uint64_t)st.st_size, sent);
	if (kept == 0 || (code = check_quota(s, kept, 0, why, sizeof(why))) != 0) {
		if (code == 0) {
			code = NCFX_E_INTERNAL;
			snprintf(why, sizeof(why), "%s", spool_trouble(EIO));
		}
		session_reply_error(s, r->reqid, code, why);
		drop_assembly(s);
		return;
	}
	if (a->names[0])
		snprintf(names, sizeof(names), "%s + %s", a->names, u->filename);
	else
		snprintf(names, sizeof(names), "%s", u->filename);
	format = a->format;
	drop_assembly(s);                  /* its images are in this one now */
	memset(&j, 0, sizeof(j));
	if (spool_commit_synced(srv->spool, r->out, "tif", j.doc, sizeof(j.doc)) < 0) {
		r->out[0] = '\0';          /* spool_commit removed it */
		session_reply_error(s, r->reqid, NCFX_E_INTERNAL, spool_trouble(EIO));
		return;
	}
	r->out[0] = '\0';
	j.owner = session_user_id(s);
	snprintf(j.dest, sizeof(j.dest), "%s", js->dest);
	snprintf(j.filename, sizeof(j.filename), "%s", names);
	j.size = (int64_t)kept;
	j.pages = r->pages;
	j.format = format;
	j.fine = js->fine;
	j.priority = js->priority;
	j.max_tries = js->max_tries;
	j.max_dials = js->max_dials;
	now = (int64_t)time(NULL);
	j.send_at = js->send_at > now ? js->send_at : 0;
	j.kill_at = js->kill_at ? js->kill_at : (j.send_at ? j.send_at : now) +
	    srv->cfg.job_kill_time;
	/* A job for later sleeps until then; pending ones are dialled as lines come free. */
	j.state = j.send_at ? NCFX_JOB_SLEEPING : NCFX_JOB_PENDING;
	j.next_try = j.send_at;
	if (j.send_at) {
		char at[64];
		time_t t = (time_t)j.send_at;
		struct tm tm;
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm) == 0)
			snprintf(at, sizeof(at), "%" PRId64, j.send_at);
		snprintf(j.reason, sizeof(j.reason), "to be sent at %s", at);
	} else if (faxqueue_off_reason(srv->faxq))
		snprintf(j.reason, sizeof(j.reason), "%s", faxqueue_off_reason(srv->faxq));
	memset(&note, 0, sizeof(note));
	note.user = j.owner;
	note.event = NCFX_EV_JOB_QUEUED;
	note.state = j.state;
	note.pages = r->pages;
	snprintf(note.text, sizeof(note.text), "%s to %s queued, %d page%s%s%s%s", j.filename,
	    j.dest, r->pages, r->pages == 1 ? "" : "s", js->cover ? " with a cover page" : "",
	    j.send_at ? ", " : "", j.send_at ? j.reason : "");
	if (store_job_insert(srv->store, &j, &note) != STORE_OK) {
		log_warnx("%s: submit: store: %s", session_tag(s), store_errmsg(srv->store));
		spool_remove(srv->spool, j.doc);
		session_reply_error(s, r->reqid, NCFX_E_INTERNAL, store_trouble(srv->store));
		return;
	}
	log_info("%s job=%" PRId64 ": queued (%s): %s to %s, %d page%s (%s, %s%s)", session_tag(s),
	    j.id,
	    ncfx_job_state_name(j.state), j.filename, j.dest, r->pages, r->pages == 1 ? "" : "s",
	    js->fine ? "fine" : "standard", js->paper == INTAKE_LETTER ? "letter" : "A4",
	    js->cover ? ", cover page" : "");
	reply_job(s, r->reqid, 0, &j);
	notify_user(srv->outbox, j.owner);
	faxqueue_kick(srv->faxq);
}

static void
handle_end(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	struct requests *rq = session_requests(s);
	struct upload *u = requests_upload(rq);
	struct assembly *a = requests_assembly(rq);
	struct intake_req *r;
	uint8_t got_sha[32];
	char why[300];
	int fd = -1;

	if (u == NULL || u->id != ncfx_msg_uint(m, NCFX_T_UPLOAD_ID)) {
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD, "no such upload in progress");
		return;
	}
	requests_take_upload(rq);          /* ours now, whatever becomes of it */
	if (u->failed[0]) {
		session_reply_error(s, m->reqid, u->failed_code, u->failed);
		goto out;
	}
	if (u->got != u->size) {
		snprintf(why, sizeof(why), "received %" PRIu64 " of %" PRIu64 " bytes", u->got,
		    u->size);
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD, why);
		goto out;
	}
	crypto_sha256_final(u->sha, got_sha);
	if (!crypto_equal(got_sha, u->want_sha, sizeof(got_sha))) {
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD,
		    "checksum mismatch: the document was damaged in transit");
		goto out;
	}
	if (requests_intake(rq) != NULL) {
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, "the previous document on this "
		    "connection is still being converted");
		goto out;
	}
	if (a == NULL || a->done != u->part - 1) {
		session_reply_error(s, m->reqid, NCFX_E_UPLOAD, "this document's job was dropped "
		    "meanwhile; send the job again from its first document");
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (fd = spool_tmp_create(srv->spool, r->out, sizeof(r->out))) < 0) {
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, r ? spool_trouble(errno) :
		    "out of memory");
		free(r);
		goto out;
	}
	close(fd);                         /* intake writes it by name */
	r->s = s;
	r->reqid = m->reqid;
	r->u = u;
	r->spec = a->spec;
	r->gen = a->gen;
	r->last = u->part == u->parts;
	r->join = r->last && (u->parts > 1 || a->spec.cover);
	r->prior_pages = a->pages;
	for (int i = 0; r->join && i < a->done; i++) {
		if ((r->prior[i] = strdup(a->images[i])) == NULL) {
			release_intake(r);         /* frees u too */
			session_reply_error(s, m->reqid, NCFX_E_INTERNAL, "out of memory");
			drop_assembly(s);
			return;
		}
		r->nprior++;
	}
	r->wj = workpool_submit(srv->intakepool, convert, finish_intake, release_intake, r);
	if (r->wj == NULL) {
		release_intake(r);         /* frees u too */
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, "the server is busy converting "
		    "other documents; try again in a minute");
		drop_assembly(s);
		return;
	}
	requests_set_intake(rq, r);
	return;
out:
	jobs_upload_free(u);
	drop_assembly(s);
}

void
jobs_intake_cancel(struct intake_req *r)
{
	/* The session is going: its document is dropped when the worker is done with it. */
	if (r != NULL)
		workpool_cancel(r->wj);
}

struct list_ctx {
	struct session *s;
	uint32_t        reqid;
	uint32_t        count;
};

static int
list_one(const struct store_job *j, void *arg)
{
	struct list_ctx *c = arg;

	reply_job(c->s, c->reqid, NCFX_F_MORE, j);
	c->count++;
	return 0;
}

static void
handle_list(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	struct list_ctx c = { s, m->reqid, 0 };
	struct ncfx_wbuf w;

	if (store_job_list(srv->store, session_user_id(s), list_one, &c) != STORE_OK) {
		log_warnx("%s: job list: store: %s", session_tag(s), store_errmsg(srv->store));
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, store_trouble(srv->store));
		return;
	}
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_LIST_END, 0, m->reqid);
	ncfx_put_u32(&w, NCFX_T_COUNT, c.count);
	session_send(s, &w);
}

#define STATE_BIT(st) (1u << (st))

/* The answer to a job request whose store_job_transition gave rc, unless it succeeded:
 * no such job, the job's state (in_state says why), or a store failure. 1 when it replied. */
static int
refused(struct session *s, uint32_t reqid, enum store_rc rc, int64_t id, const char *action,
    const char *in_state)
{
	struct server *srv = session_server(s);
	char why[100];

	switch (rc) {
	case STORE_OK:
		return 0;
	case STORE_NONE:
		snprintf(why, sizeof(why), "no job %" PRId64 " among your jobs", id);
		session_reply_error(s, reqid, NCFX_E_NO_SUCH_JOB, why);
		return 1;
	case STORE_STALE:
		session_reply_error(s, reqid, NCFX_E_JOB_STATE, in_state);
		return 1;
	default:
		log_warnx("%s job=%" PRId64 ": %s: store: %s", session_tag(s), id, action,
		    store_errmsg(srv->store));
		session_reply_error(s, reqid, NCFX_E_INTERNAL, store_trouble(srv->store));
		return 1;
	}
}

static void
handle_cancel(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	int64_t id = (int64_t)(ncfx_msg_uint(m, NCFX_T_JOB_ID) & INT64_MAX);
	struct store_job j = { 0 };
	struct store_note note;
	char why[200];
	enum store_rc rc;

	memset(&note, 0, sizeof(note));
	note.user = session_user_id(s);
	note.event = NCFX_EV_JOB_CANCELLED;
	snprintf(note.text, sizeof(note.text), "job %" PRId64 " cancelled", id);
	rc = store_job_transition(srv->store, session_user_id(s), id,
	    STATE_BIT(NCFX_JOB_PENDING) | STATE_BIT(NCFX_JOB_SLEEPING) |
	    STATE_BIT(NCFX_JOB_ACTIVE) | STATE_BIT(NCFX_JOB_SUSPENDED),
	    NCFX_JOB_CANCELLED, "cancelled by the user", &j, &note);
	snprintf(why, sizeof(why), "job %" PRId64 " is already %s", id,
	    ncfx_job_state_name(j.state));
	if (refused(s, m->reqid, rc, id, "cancel", why))
		return;
	log_info("%s job=%" PRId64 ": cancelled", session_tag(s), id);
	if (faxqueue_hangup(srv->faxq, id))
		log_info("%s job=%" PRId64 ": hanging up the call", session_tag(s), id);
	/* A cancelled job will never be sent: its document only costs disk now. */
	if (spool_remove(srv->spool, j.doc) < 0)
		log_warnx("%s job=%" PRId64 ": spool: cannot remove %s", session_tag(s), id,
		    j.doc);
	reply_job(s, m->reqid, 0, &j);
	notify_user(srv->outbox, note.user);
}

/* Suspend holds a waiting job (it keeps its place and tries); resume lets it go again,
 * sleeping on if its next try or send-at time is still ahead. */
static void
handle_hold(struct session *s, const struct ncfx_msg *m, int suspend)
{
	struct server *srv = session_server(s);
	int64_t id = (int64_t)(ncfx_msg_uint(m, NCFX_T_JOB_ID) & INT64_MAX);
	struct store_job j = { 0 };
	struct store_note note;
	char why[200];
	enum store_rc rc;

	memset(&note, 0, sizeof(note));
	note.user = session_user_id(s);
	note.event = NCFX_EV_MESSAGE;
	snprintf(note.text, sizeof(note.text), "job %" PRId64 " %s", id, suspend ? "suspended" :
	    "resumed");
	if (suspend)
		rc = store_job_transition(srv->store, session_user_id(s), id,
		    STATE_BIT(NCFX_JOB_PENDING) | STATE_BIT(NCFX_JOB_SLEEPING), NCFX_JOB_SUSPENDED,
		    "suspended by the user", &j, &note);
	else {
		/* Back to sleep when its next try (or send-at time) is still ahead; one commit. */
		rc = store_job_get(srv->store, session_user_id(s), id, &j);
		if (rc == STORE_OK) {
			int later = j.next_try > (int64_t)time(NULL);
			rc = store_job_transition(srv->store, session_user_id(s), id,
			    STATE_BIT(NCFX_JOB_SUSPENDED), later ? NCFX_JOB_SLEEPING : NCFX_JOB_PENDING,
			    later ? "resumed; waiting for its next try" : "", &j, &note);
		}
	}
	snprintf(why, sizeof(why), "job %" PRId64 " is %s: only a %s job can be %s", id,
	    ncfx_job_state_name(j.state), suspend ? "pending or sleeping" : "suspended",
	    suspend ? "suspended" : "resumed");
	if (refused(s, m->reqid, rc, id, suspend ? "suspend" : "resume", why))
		return;
	log_info("%s job=%" PRId64 ": %s", session_tag(s), id, suspend ? "suspended" :
	    "resumed");
	reply_job(s, m->reqid, 0, &j);
	notify_user(srv->outbox, note.user);
	if (!suspend)
		faxqueue_kick(srv->faxq);
}

void
jobs_handle(struct session *s, const struct ncfx_msg *m)
{
	switch (m->type) {
	case NCFX_MSG_JOB_SUBMIT:   handle_submit(s, m); break;
	case NCFX_MSG_UPLOAD_CHUNK: handle_chunk(s, m); break;
	case NCFX_MSG_UPLOAD_END:   handle_end(s, m); break;
	case NCFX_MSG_JOB_LIST:     handle_list(s, m); break;
	case NCFX_MSG_JOB_CANCEL:   handle_cancel(s, m); break;
	case NCFX_MSG_JOB_SUSPEND:  handle_hold(s, m, 1); break;
	case NCFX_MSG_JOB_RESUME:   handle_hold(s, m, 0); break;
	default: break;
	}
}

/* inbox.c: a logged-in user's received faxes: list, mark read or unread, delete, and fetch as
 * the TIFF that was received or as a PDF (made by tiff2pdf on a worker thread). Every lookup
 * is scoped to the user, like jobs: another user's fax is "no such fax". */
#include "inbox.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "intake.h"
#include "log.h"
#include "requests.h"
#include "server.h"
#include "session.h"
#include "spool.h"
#include "store.h"
#include "workpool.h"

/* NCFX_FILE_MAX bounds one fetched file: a 30-minute call's fax is a few MiB, and the whole
 * is queued at once. */

/* A PDF being made on a worker for one FILE_GET. */
struct fetch_req {
	struct workpool_job *wj;
	struct session      *s;
	uint32_t             reqid;
	int64_t              fax;
	char                 tiff[PATH_MAX];
	char                 pdf[PATH_MAX];
	char                 err[300];
	int                  rc;
};

static void
put_fax(struct ncfx_wbuf *w, const struct store_fax *f)
{
	ncfx_put_u64(w, NCFX_T_FAX_ID, (uint64_t)f->id);
	ncfx_put_str(w, NCFX_T_DEST, f->number);
	if (f->remote_id[0])          /* what a far machine sent is not trusted text */
		ncfx_put_text(w, NCFX_T_REMOTE_ID, f->remote_id);
	ncfx_put_u32(w, NCFX_T_PAGES, (uint32_t)f->pages);
	ncfx_put_u64(w, NCFX_T_SIZE, (uint64_t)f->size);
	ncfx_put_u64(w, NCFX_T_CREATED, (uint64_t)f->received);
	ncfx_put_u8(w, NCFX_T_READ, (uint8_t)(f->read != 0));
	ncfx_put_u32(w, NCFX_T_BIT_RATE, (uint32_t)f->bit_rate);
	ncfx_put_u8(w, NCFX_T_ECM, (uint8_t)(f->ecm != 0));
	ncfx_put_u8(w, NCFX_T_RESOLUTION, (uint8_t)(f->fine != 0));
	if (f->media[0])              /* read into NCFX_MEDIA_MAX bytes, within the cap */
		ncfx_put_text(w, NCFX_T_MEDIA, f->media);
	if (f->note[0])
		ncfx_put_str(w, NCFX_T_TEXT, f->note);
}

static void
reply_fax(struct session *s, uint32_t reqid, uint16_t flags, const struct store_fax *f)
{
	struct ncfx_wbuf w;

	ncfx_wbuf_begin(&w, NCFX_MSG_INBOX_INFO, flags, reqid);
	put_fax(&w, f);
	session_send(s, &w);
}

static void
store_failed(struct session *s, uint32_t reqid, const char *what)
{
	struct server *srv = session_server(s);

	log_warnx("%s: %s: store: %s", session_tag(s), what, store_errmsg(srv->store));
	session_reply_error(s, reqid, NCFX_E_INTERNAL, store_trouble(srv->store));
}

static void
no_such_fax(struct session *s, uint32_t reqid, int64_t id)
{
	char why[100];

	snprintf(why, sizeof(why), "no fax %" PRId64 " in your inbox", id);
	session_reply_error(s, reqid, NCFX_E_NO_SUCH_JOB, why);
}

struct list_ctx {
	struct session *s;
	uint32_t        reqid;
	uint32_t        count;
};

static int
list_one(const struct store_fax *f, void *arg)
{
	struct list_ctx *c = arg;

	reply_fax(c->s, c->reqid, NCFX_F_MORE, f);
	c->count++;
	return 0;
}

static void
handle_list(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	struct list_ctx c = { s, m->reqid, 0 };
	struct ncfx_wbuf w;

	/* READ = 0 asks for the unread ones only. */
	if (store_fax_list(srv->store, session_user_id(s), ncfx_msg_has(m, NCFX_T_READ) &&
	    ncfx_msg_uint(m, NCFX_T_READ) == 0, list_one, &c) != STORE_OK) {
		store_failed(s, m->reqid, "inbox list");
		return;
	}
	ncfx_wbuf_begin(&w, NCFX_MSG_INBOX_LIST_END, 0, m->reqid);
	ncfx_put_u32(&w, NCFX_T_COUNT, c.count);
	session_send(s, &w);
}

static int64_t
fax_id(const struct ncfx_msg *m)
{
	return (int64_t)(ncfx_msg_uint(m, NCFX_T_FAX_ID) & INT64_MAX);
}

static void
handle_mark(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	int64_t id = fax_id(m);
	struct store_fax f;
	int rc = store_fax_mark(srv->store, session_user_id(s), id,
	    ncfx_msg_uint(m, NCFX_T_READ) != 0);

	if (rc == STORE_OK)
		rc = store_fax_get(srv->store, session_user_id(s), id, &f);
	if (rc == STORE_ERR)
		store_failed(s, m->reqid, "inbox mark");
	else if (rc == STORE_NONE)
		no_such_fax(s, m->reqid, id);
	else
		reply_fax(s, m->reqid, 0, &f);
}

static void
handle_delete(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	int64_t id = fax_id(m);
	char doc[SPOOL_NAME_MAX + 8];
	struct ncfx_wbuf w;
	int rc = store_fax_delete(srv->store, session_user_id(s), id, doc, sizeof(doc));

	if (rc == STORE_ERR) {
		store_failed(s, m->reqid, "inbox delete");
		return;
	}
	if (rc == STORE_NONE) {
		no_such_fax(s, m->reqid, id);
		return;
	}
	if (spool_remove(srv->spool, doc) < 0)
		log_warnx("%s fax=%" PRId64 ": spool: cannot remove %s", session_tag(s), id, doc);
	log_info("%s fax=%" PRId64 ": deleted", session_tag(s), id);
	ncfx_wbuf_begin(&w, NCFX_MSG_OK, 0, m->reqid);
	session_send(s, &w);
}

/* Sends path as FILE_CHUNKs, the last without MORE and with the SHA-256 of the whole. The
 * output buffer takes it all: NCFX_FILE_MAX bounds what one request can queue. */
static void
send_file(struct session *s, uint32_t reqid, int64_t id, int format, const char *path)
{
	static uint8_t buf[NCFX_CHUNK_MAX];
	struct crypto_sha256 *sha = crypto_sha256_new();
	struct ncfx_wbuf w;
	struct stat st;
	uint64_t off = 0;
	uint8_t digest[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || sha == NULL || fstat(fd, &st) != 0 || st.st_size > (off_t)NCFX_FILE_MAX) {
		if (fd >= 0)
			close(fd);
		crypto_sha256_free(sha);
		log_warnx("%s fax=%" PRId64 ": fetch: cannot read %s", session_tag(s), id, path);
		session_reply_error(s, reqid, NCFX_E_INTERNAL, "the server cannot read that fax");
		return;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		int last;

		if (n < 0) {
			close(fd);
			crypto_sha256_free(sha);
			session_reply_error(s, reqid, NCFX_E_INTERNAL, "the server cannot read that "
			    "fax");
			return;
		}
		crypto_sha256_update(sha, buf, (size_t)n);
		last = off + (uint64_t)n >= (uint64_t)st.st_size || n == 0;
		ncfx_wbuf_begin(&w, NCFX_MSG_FILE_CHUNK, last ? 0 : NCFX_F_MORE, reqid);
		ncfx_put_u64(&w, NCFX_T_FAX_ID, (uint64_t)id);
		ncfx_put_u8(&w, NCFX_T_FORMAT, (uint8_t)format);
		ncfx_put_u64(&w, NCFX_T_OFFSET, off);
		ncfx_put_u64(&w, NCFX_T_SIZE, (uint64_t)st.st_size);
		ncfx_put_bytes(&w, NCFX_T_DATA, buf, (size_t)n);
		if (last) {
			crypto_sha256_final(sha, digest);
			ncfx_put_bytes(&w, NCFX_T_SHA256, digest, sizeof(digest));
		}
		session_send(s, &w);
		off += (uint64_t)n;
		if (last)
			break;
	}
	close(fd);
	crypto_sha256_free(sha);
}

static void
make_pdf(void *arg)
{
	struct fetch_req *r = arg;

	r->rc = intake_to_pdf(r->tiff, r->pdf, r->err, sizeof(r->err));
}

static void
pdf_ready(void *arg)
{
	struct fetch_req *r = arg;

	requests_set_fetch(session_requests(r->s), NULL);   /* the workpool releases r next */
	if (r->rc < 0) {
		char why[400];
		log_warnx("%s fax=%" PRId64 ": as PDF: %s", session_tag(r->s), r->fax, r->err);
		snprintf(why, sizeof(why), "cannot make a PDF of fax %" PRId64 ": %s", r->fax,
		    r->err);
		session_reply_error(r->s, r->reqid, NCFX_E_INTERNAL, why);
		return;
	}
	send_file(r->s, r->reqid, r->fax, NCFX_FMT_PDF, r->pdf);
}

static void
pdf_release(void *arg)
{
	struct fetch_req *r = arg;

	if (r->pdf[0])
		unlink(r->pdf);
	free(r);
}

void
inbox_fetch_cancel(struct fetch_req *r)
{
	if (r != NULL)
		workpool_cancel(r->wj);
}

static void
handle_get(struct session *s, const struct ncfx_msg *m)
{
	struct server *srv = session_server(s);
	int64_t id = fax_id(m);
	int format = ncfx_msg_has(m, NCFX_T_FORMAT) ? (int)ncfx_msg_uint(m, NCFX_T_FORMAT) :
	    NCFX_FMT_TIFF;
	struct fetch_req *r;
	struct store_fax f;
	char path[PATH_MAX];
	int rc, fd;

	if (!ncfx_msg_has(m, NCFX_T_FAX_ID)) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "FILE_GET needs a FAX_ID");
		return;
	}
	if (format != NCFX_FMT_TIFF && format != NCFX_FMT_PDF) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "a fax is fetched as TIFF or "
		    "PDF");
		return;
	}
	if (ncfx_msg_uint(m, NCFX_T_OFFSET) != 0) {
		session_reply_error(s, m->reqid, NCFX_E_BAD_REQUEST, "fetching from an offset is "
		    "not supported; ask for the whole file");
		return;
	}
	rc = store_fax_get(srv->store, session_user_id(s), id, &f);
	if (rc == STORE_ERR) {
		store_failed(s, m->reqid, "fetch");
		return;
	}
	if (rc == STORE_NONE) {
		no_such_fax(s, m->reqid, id);
		return;
	}
	spool_doc_path(srv->spool, f.doc, path, sizeof(path));
	if (format == NCFX_FMT_TIFF) {
		send_file(s, m->reqid, id, format, path);
		return;
	}
	if (requests_fetch(session_requests(s)) != NULL) {
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, "a PDF is already being made on "
		    "this connection; wait for it");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (fd = spool_tmp_create(srv->spool, r->pdf, sizeof(r->pdf))) < 0) {
		free(r);
		session_reply_error(s, m->reqid, NCFX_E_INTERNAL, "server spool unavailable");
		return;
	}
	close(fd);
	r->s = s;
	r->reqid = m->reqid;
	r->fax = id;
	snprintf(r->tiff, sizeof(r->tiff), "%s", path);
	r->wj = workpool_submit(srv->intakepool, make_pdf, pdf_ready, pdf_release, r);
	if (r->wj == NULL) {
		pdf_release(r);
		session_reply_error(s, m->reqid, NCFX_E_LIMIT, "the server is busy converting "
		    "documents; try again in a minute");
		return;
	}
	requests_set_fetch(session_requests(s), r);
}

void
inbox_handle(struct session *s, const struct ncfx_msg *m)
{
	switch (m->type) {
	case NCFX_MSG_INBOX_LIST:   handle_list(s, m); break;
	case NCFX_MSG_INBOX_MARK:   handle_mark(s, m); break;
	case NCFX_MSG_INBOX_DELETE: handle_delete(s, m); break;
	case NCFX_MSG_FILE_GET:     handle_get(s, m); break;
	default: break;
	}
}

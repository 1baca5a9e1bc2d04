/* client.c: the netcfax client library: the PCP protocol over a blocking TLS stream. */
#include "netcfax/netcfax.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "client_internal.h"
#include "crypto.h"
#include "known_servers.h"
#include "proto.h"
#include "reply.h"
#include "tls.h"

#define DEFAULT_TIMEOUT_MS 30000
#define RBUF_SIZE (2 * NCFX_FRAME_MAX)
#define CLIENT_STASH_MAX (4u << 20)
#define SUBMIT_WAIT_MS   150000   /* the server's document intake is bounded well inside */

struct ncfx_client {
	struct tls_stream *tls;
	uint32_t           next_reqid;
	uint8_t            rbuf[RBUF_SIZE];
	size_t             rlen;        /* bytes in rbuf */
	size_t             rconsumed;   /* bytes of the last frame, dropped at the next read */
	char               err[512];
	int                server_code;
	uint32_t           retry_after;
	char               fingerprint[TLS_FP_LEN];
	char               pinned[TLS_FP_LEN];
	char               host[256];       /* as connected to, for the SCP's TLS checks */
	int                timeout_ms;      /* of each read */
	char               ca_file[1024];   /* "" in pinning mode */
	int                newly_pinned;
	char               server_name[NCFX_SERVER_NAME_MAX + 1];
	int                has_resume_point;
	uint64_t           resume_point;
	int                token_wanted;    /* LOGIN asks for a resume token (a watcher) */
	int                has_token;
	uint8_t            token[32];       /* from the last LOGIN_OK, for the next LOGIN */
	/* Relayed notifications that arrived during blocking requests, kept for the watcher. */
	uint8_t           *stash;
	size_t             stash_len;
	uint64_t           max_document;
	struct ncfx_wbuf   w;
};

static ncfx_status
fail(ncfx_client *c, ncfx_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return st;
}

ncfx_client *
ncfx_client_new(void)
{
	return calloc(1, sizeof(ncfx_client));
}

void
ncfx_close(ncfx_client *c)
{
	char err[128];

	if (c == NULL || c->tls == NULL)
		return;
	ncfx_wbuf_begin(&c->w, NCFX_MSG_BYE, 0, 0);
	size_t n = ncfx_wbuf_end(&c->w);
	tls_stream_write(c->tls, c->w.data, n, err, sizeof(err));
	tls_stream_free(c->tls);
	c->tls = NULL;
}

void
ncfx_client_free(ncfx_client *c)
{
	if (c == NULL)
		return;
	ncfx_close(c);
	free(c->stash);
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
}

static ncfx_status
send_frame(ncfx_client *c)
{
	size_t n = ncfx_wbuf_end(&c->w);
	char err[256];

	if (c->tls == NULL)
		return fail(c, NCFX_ERR_USAGE, "not connected");
	if (n == 0)
		return fail(c, NCFX_ERR_USAGE, "request does not fit in a frame");
	if (tls_stream_write(c->tls, c->w.data, n, err, sizeof(err)) < 0)
		return fail(c, NCFX_ERR_CLOSED, "%s", err);
	return NCFX_OK;
}

static void
server_error(ncfx_client *c, const struct ncfx_msg *m)
{
	reply_error(m, &c->server_code, &c->retry_after, c->err, sizeof(c->err));
}

/* Reads the next frame into m (valid until the next call). Answers server PINGs itself. */
static ncfx_status
recv_frame(ncfx_client *c, struct ncfx_msg *m)
{
	for (;;) {
		struct ncfx_frame f;
		const char *reason = NULL;
		size_t used = 0;
		int err = 0, rc;
		long n;
		char why[256];

		if (c->rconsumed) {
			memmove(c->rbuf, c->rbuf + c->rconsumed, c->rlen - c->rconsumed);
			c->rlen -= c->rconsumed;
			c->rconsumed = 0;
		}
		rc = ncfx_frame_parse(c->rbuf, c->rlen, &f, &used, &err, &reason);
		if (rc < 0)
			return fail(c, NCFX_ERR_PROTOCOL, "server sent a bad frame: %s", reason);
		if (rc == 1) {
			c->rconsumed = used;
			if (ncfx_msg_decode(&f, m, &err, &reason) < 0)
				return fail(c, NCFX_ERR_PROTOCOL, "server sent a bad %s: %s",
				    ncfx_msg_type_name(f.type), reason);
			if (m->type == NCFX_MSG_PING) {
				ncfx_wbuf_begin(&c->w, NCFX_MSG_PONG, 0, m->reqid);
				if (send_frame(c) != NCFX_OK)
					return NCFX_ERR_CLOSED;
				continue;
			}
			return NCFX_OK;
		}
		n = tls_stream_read(c->tls, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, why,
		    sizeof(why));
		if (n == 0)
			return fail(c, NCFX_ERR_CLOSED, "the server closed the connection");
		if (n < 0)
			return fail(c, NCFX_ERR_CLOSED, "%s", why);
		c->rlen += (size_t)n;
	}
}

static void
stash_frame(ncfx_client *c)
{
	uint8_t *p;

	/* The server keeps at most a window of 64 unacknowledged notifications in flight. */
	if (c->stash_len + c->rconsumed > CLIENT_STASH_MAX)
		return;
	p = realloc(c->stash, c->stash_len + c->rconsumed);
	if (p == NULL)
		return;
	memcpy(p + c->stash_len, c->rbuf, c->rconsumed);
	c->stash = p;
	c->stash_len += c->rconsumed;
}

/* Waits for the reply to reqid: a frame with that reqid, or a connection-level ERROR. */
static ncfx_status
recv_reply(ncfx_client *c, uint32_t reqid, struct ncfx_msg *m)
{
	ncfx_status st;

	for (;;) {
		if ((st = recv_frame(c, m)) != NCFX_OK)
			return st;
		if (m->type == NCFX_MSG_ERROR && (m->reqid == reqid || m->reqid == 0)) {
			server_error(c, m);
			return NCFX_ERR_SERVER;
		}
		if (m->reqid == reqid)
			return NCFX_OK;
		/* Notifications relayed on this connection while we wait for a reply: kept whole
		 * for the watcher (the server only resends after a reconnect). The server sends at
		 * most a window of 64 before an ack, far below the stash's cap. */
		if (m->reqid == 0 && (m->type == NCFX_MSG_NOTIFY || m->type == NCFX_MSG_NOTIFY_PATH))
			stash_frame(c);
	}
}

static uint32_t
begin(ncfx_client *c, uint16_t type)
{
	uint32_t id = ++c->next_reqid;

	if (id == 0)
		id = c->next_reqid = 1;
	c->server_code = 0;
	c->retry_after = 0;
	ncfx_wbuf_begin(&c->w, type, 0, id);
	return id;
}

static ncfx_status
check_identity(ncfx_client *c, const struct ncfx_client_options *o, const char *hostport)
{
	char err[256];
	int found;

	if (o->ca_file && *o->ca_file)
		return NCFX_OK;      /* the handshake verified chain and name */
	if (o->fingerprint && *o->fingerprint && !o->replace_pin) {
		snprintf(c->pinned, sizeof(c->pinned), "%s", o->fingerprint);
	} else if (o->known_servers && !o->replace_pin) {
		found = known_servers_lookup(o->known_servers, hostport, c->pinned,
		    sizeof(c->pinned));
		if (found < 0)
			return fail(c, NCFX_ERR_USAGE, "cannot read %s", o->known_servers);
		if (found == 0) {
			if (!o->accept_new)
				return fail(c, NCFX_ERR_UNTRUSTED, "%s is not a known server; its "
				    "certificate is %s. If that is right, run: netcfax trust",
				    hostport, c->fingerprint);
			if (known_servers_store(o->known_servers, hostport, c->fingerprint, err,
			    sizeof(err)) < 0)
				return fail(c, NCFX_ERR_USAGE, "%s", err);
			snprintf(c->pinned, sizeof(c->pinned), "%s", c->fingerprint);
			c->newly_pinned = 1;
			return NCFX_OK;
		}
	} else if (o->replace_pin) {
		/* netcfax trust: accept what is presented, or exactly the fingerprint given. */
		if (o->fingerprint && *o->fingerprint &&
		    strcasecmp(o->fingerprint, c->fingerprint) != 0)
			return fail(c, NCFX_ERR_IDENTITY, "%s presents %s, not the %s you gave",
			    hostport, c->fingerprint, o->fingerprint);
		if (o->known_servers && known_servers_store(o->known_servers, hostport,
		    c->fingerprint, err, sizeof(err)) < 0)
			return fail(c, NCFX_ERR_USAGE, "%s", err);
		snprintf(c->pinned, sizeof(c->pinned), "%s", c->fingerprint);
		c->newly_pinned = 1;
		return NCFX_OK;
	} else {
		return fail(c, NCFX_ERR_UNTRUSTED, "no way to check the server's identity: "
		    "configure ca_file, server_fingerprint or known_servers");
	}
	if (strcasecmp(c->pinned, c->fingerprint) != 0)
		return fail(c, NCFX_ERR_IDENTITY,
		    "SERVER IDENTITY CHANGED: %s presented certificate %s but %s was pinned. "
		    "Someone may be intercepting the connection, or the server got a new "
		    "certificate. Check with the server's operator (netcfax-admin fingerprint), "
		    "then accept it with: netcfax trust --fingerprint %s",
		    hostport, c->fingerprint, c->pinned, c->fingerprint);
	return NCFX_OK;
}

ncfx_status
ncfx_connect(ncfx_client *c, const struct ncfx_client_options *o)
{
	int port = o->port ? o->port : NCFX_DEFAULT_PCP_PORT;
	int timeout = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	char err[512], hostport[300];
	struct ncfx_msg m;
	uint32_t id;
	ncfx_status st;
	int why = 0;

	if (o->host == NULL || *o->host == '\0')
		return fail(c, NCFX_ERR_USAGE, "no server given (set server in client.conf or "
		    "use --server)");
	ncfx_close(c);
	c->rlen = c->rconsumed = 0;
	c->stash_len = 0;
	c->newly_pinned = 0;
	c->pinned[0] = '\0';
	snprintf(hostport, sizeof(hostport), strchr(o->host, ':') ? "[%s]:%d" : "%s:%d",
	    o->host, port);
	c->tls = tls_stream_connect(o->host, port, o->ca_file, timeout, &why, err, sizeof(err));
	if (c->tls == NULL) {
		if (why == TLS_FAIL_VERIFY)
			return fail(c, NCFX_ERR_IDENTITY, "%s (ca_file is %s; check that it holds "
			    "the CA that signed the server's certificate, and that the name you "
			    "connect to is in it)", err, o->ca_file);
		if (why == TLS_FAIL_HANDSHAKE)
			return fail(c, NCFX_ERR_TLS, "%s (is %s a netcfax server? a server at its "
			    "connection limit also closes new connections)", err, hostport);
		if (strstr(err, "unreachable"))
			return fail(c, NCFX_ERR_CONNECT, "%s (no route to the server: is this "
			    "machine's network up?)", err);
		return fail(c, NCFX_ERR_CONNECT, "%s (is netcfaxd running there, and is TCP "
		    "port %d open on the server's firewall?)", err, port);
	}
	snprintf(c->fingerprint, sizeof(c->fingerprint), "%s", tls_stream_fingerprint(c->tls));
	snprintf(c->host, sizeof(c->host), "%s", o->host);
	c->timeout_ms = timeout;
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", o->ca_file ? o->ca_file : "");
	/* Nothing, not even HELLO, goes to a server whose identity is not confirmed. */
	if ((st = check_identity(c, o, hostport)) != NCFX_OK) {
		tls_stream_free(c->tls);
		c->tls = NULL;
		return st;
	}
	id = begin(c, NCFX_MSG_HELLO);
	ncfx_put_u16(&c->w, NCFX_T_VERSION_MIN, NCFX_PROTO_MIN);
	ncfx_put_u16(&c->w, NCFX_T_VERSION_MAX, NCFX_PROTO_MAX);
	ncfx_put_str(&c->w, NCFX_T_SOFTWARE, o->software ? o->software : "libnetcfax");
	if ((st = send_frame(c)) != NCFX_OK || (st = recv_reply(c, id, &m)) != NCFX_OK)
		return st;
	if (m.type != NCFX_MSG_HELLO_OK)
		return fail(c, NCFX_ERR_PROTOCOL, "server answered HELLO with %s",
		    ncfx_msg_type_name(m.type));
	reply_hello(&m, c->server_name, sizeof(c->server_name), &c->max_document);
	return NCFX_OK;
}

ncfx_status
ncfx_login(ncfx_client *c, const char *user, const char *password, uint16_t scp_port,
    int scp_mode, struct ncfx_session_info *out)
{
	return ncfx_login_ex(c, user, password, scp_port, scp_mode, -1, 0, 0, out, NULL);
}

ncfx_status
ncfx_login_ex(ncfx_client *c, const char *user, const char *password, uint16_t scp_port,
    int scp_mode, int path, int has_resume, uint64_t resume_seq, struct ncfx_session_info *out,
    uint8_t scp_secret[32])
{
	struct reply_login r;
	struct ncfx_msg m;
	char why[100];
	uint32_t id;
	ncfx_status st;

	if (user == NULL || *user == '\0' || strlen(user) > NCFX_USER_MAX)
		return fail(c, NCFX_ERR_USAGE, "no user name (set user in client.conf or use "
		    "--user)");
	if (password == NULL || strlen(password) > NCFX_PASSWORD_MAX)
		return fail(c, NCFX_ERR_USAGE, "password missing or too long");
	id = begin(c, NCFX_MSG_LOGIN);
	ncfx_put_str(&c->w, NCFX_T_USER, user);
	ncfx_put_bytes(&c->w, NCFX_T_PASSWORD, password, strlen(password));
	ncfx_put_u16(&c->w, NCFX_T_SCP_PORT, scp_port);
	ncfx_put_u8(&c->w, NCFX_T_SCP_MODE, (uint8_t)scp_mode);
	if (has_resume)
		ncfx_put_u64(&c->w, NCFX_T_SEQ, resume_seq);
	if (path >= 0)
		ncfx_put_u8(&c->w, NCFX_T_PATH, (uint8_t)path);
	if (c->token_wanted)
		ncfx_put_bytes(&c->w, NCFX_T_RESUME_TOKEN, c->token, c->has_token ? 32 : 0);
	c->has_token = 0;                  /* used up, whatever the answer */
	st = send_frame(c);
	/* The frame held the password: do not leave it in memory. */
	explicit_bzero(c->w.data, sizeof(c->w.data));
	explicit_bzero(c->token, sizeof(c->token));
	if (st != NCFX_OK || (st = recv_reply(c, id, &m)) != NCFX_OK)
		return st;
	if (m.type != NCFX_MSG_LOGIN_OK)
		return fail(c, NCFX_ERR_PROTOCOL, "server answered LOGIN with %s",
		    ncfx_msg_type_name(m.type));
	if (reply_login(&m, &r, why, sizeof(why)) < 0)
		return fail(c, NCFX_ERR_PROTOCOL, "server sent %s", why);
	if (out) {
		*out = r.info;
		out->local_port = (uint16_t)tls_stream_local_port(c->tls);
	}
	c->has_resume_point = r.has_seq;
	c->resume_point = r.seq;
	if (c->token_wanted && r.has_token) {
		memcpy(c->token, r.token, sizeof(c->token));
		c->has_token = 1;
	}
	if (scp_secret)
		memcpy(scp_secret, r.secret, sizeof(r.secret));
	explicit_bzero(&r, sizeof(r));
	return NCFX_OK;
}

struct bufferevent *
ncfx_client_detach(ncfx_client *c, struct event_base *base, struct evbuffer *pending)
{
	struct bufferevent *bev;

	if (c->rconsumed) {
		memmove(c->rbuf, c->rbuf + c->rconsumed, c->rlen - c->rconsumed);
		c->rlen -= c->rconsumed;
		c->rconsumed = 0;
	}
	/* What arrived while the client blocked, in order: stashed notifications, then bytes
	 * read past the last reply. */
	evbuffer_add(pending, c->stash, c->stash_len);
	evbuffer_add(pending, c->rbuf, c->rlen);
	c->stash_len = 0;
	c->rlen = 0;
	bev = tls_stream_to_bev(c->tls, base);
	c->tls = NULL;
	return bev;
}

static ncfx_status
expect_job(ncfx_client *c, uint32_t id, struct ncfx_job *out)
{
	struct ncfx_msg m;
	ncfx_status st = recv_reply(c, id, &m);

	if (st != NCFX_OK)
		return st;
	if (m.type != NCFX_MSG_JOB_INFO)
		return fail(c, NCFX_ERR_PROTOCOL, "expected JOB_INFO, got %s",
		    ncfx_msg_type_name(m.type));
	if (out)
		reply_job(&m, out);
	return NCFX_OK;
}

/* What the first bytes say the file is; the server checks again. */
static int
sniff_format(const uint8_t *p, size_t n)
{
	if (n >= 4 && ((p[0] == 'I' && p[1] == 'I' && p[2] == 42 && p[3] == 0) ||
	    (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && p[3] == 42)))
		return NCFX_FMT_TIFF;
	if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
		return NCFX_FMT_PDF;
	if (n >= 2 && memcmp(p, "%!", 2) == 0)
		return NCFX_FMT_PS;
	return NCFX_FMT_TEXT;
}

ncfx_status
ncfx_submit(ncfx_client *c, const char *path, const char *dest, ncfx_progress_fn progress,
    void *arg, struct ncfx_job *out)
{
	return ncfx_submit_ex(c, path, dest, NULL, progress, arg, out);
}

/* One document of a job of parts documents: JOB_SUBMIT (the job's options with the first),
 * the chunks, UPLOAD_END; the reply is OK for all but the last, then the job. */
/* The connection went after the last UPLOAD_END left: the server may have committed the
 * job and lost only its reply (a crash, a cut network). Sending again could fax it twice, so
 * say how to find out first. */
static ncfx_status
upload_in_doubt(ncfx_client *c)
{
	size_t n = strlen(c->err);

	snprintf(c->err + n, sizeof(c->err) - n, "; the whole document had been sent, so the "
	    "server may have queued the job: check 'netcfax jobs' before sending it again");
	return NCFX_ERR_IN_DOUBT;
}

static ncfx_status
submit_part(ncfx_client *c, const struct ncfx_document *doc, const char *dest,
    const struct ncfx_submit_options *so, int part, int parts, ncfx_progress_fn progress,
    void *arg, struct ncfx_job *out)
{
	const char *path = doc->path ? doc->path : doc->name ? doc->name : "document";
	uint8_t *buf = NULL;
	struct crypto_sha256 *h = NULL;
	uint8_t sha[32], head[8];
	struct ncfx_msg m;
	struct stat sb;
	uint64_t size, sent = 0, upload_id;
	const char *base;
	ncfx_status st;
	uint32_t id;
	ssize_t n;
	int fd, fmt;

	if (dest == NULL || *dest == '\0' || strlen(dest) > NCFX_DEST_MAX)
		return fail(c, NCFX_ERR_USAGE, "no fax number to send to (use --to NUMBER)");
	/* One buffer per call, so clients in different threads do not share it. */
	if ((buf = malloc(NCFX_CHUNK_MAX)) == NULL)
		return fail(c, NCFX_ERR_NOMEM, "out of memory");
	/* A descriptor is the caller's, read from its start and left open. */
	fd = doc->path ? open(path, O_RDONLY | O_CLOEXEC) : doc->fd;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		st = fail(c, NCFX_ERR_DOCUMENT, "cannot read %s: %s", path,
		    fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	if (!doc->path && lseek(fd, 0, SEEK_SET) != 0) {
		st = fail(c, NCFX_ERR_DOCUMENT, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	size = (uint64_t)sb.st_size;
	if (size == 0) {
		st = fail(c, NCFX_ERR_DOCUMENT, "%s is empty", path);
		goto out;
	}
	if (c->max_document && size > c->max_document) {
		st = fail(c, NCFX_ERR_DOCUMENT, "%s is %" PRIu64 " bytes; the server accepts at "
		    "most %" PRIu64, path, size, c->max_document);
		goto out;
	}
	/* First pass: checksum, so the server can prove it stored exactly this file. */
	if ((h = crypto_sha256_new()) == NULL) {
		st = fail(c, NCFX_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(head, 0, sizeof(head));
	for (uint64_t total = 0; (n = read(fd, buf, NCFX_CHUNK_MAX)) > 0; total += (uint64_t)n) {
		if (total == 0)
			memcpy(head, buf, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head));
		crypto_sha256_update(h, buf, (size_t)n);
	}
	if (n < 0) {
		st = fail(c, NCFX_ERR_DOCUMENT, "reading %s: %s", path, strerror(errno));
		goto out;
	}
	crypto_sha256_final(h, sha);
	fmt = sniff_format(head, sizeof(head));
	base = doc->name ? doc->name : strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	id = begin(c, NCFX_MSG_JOB_SUBMIT);
	ncfx_put_u64(&c->w, NCFX_T_SIZE, size);
	ncfx_put_u8(&c->w, NCFX_T_FORMAT, (uint8_t)fmt);
	ncfx_put_str(&c->w, NCFX_T_DEST, dest);
	ncfx_put_bytes(&c->w, NCFX_T_SHA256, sha, sizeof(sha));
	if (strlen(base) <= NCFX_FILENAME_MAX)
		ncfx_put_str(&c->w, NCFX_T_FILENAME, base);
	if (parts > 1) {
		ncfx_put_u32(&c->w, NCFX_T_COUNT, (uint32_t)parts);
		ncfx_put_u8(&c->w, NCFX_T_PART, (uint8_t)part);
	}
	if (part > 1)
		so = NULL;                 /* the job's options go with its first document */
	if (so && so->cover_from && *so->cover_from)
		ncfx_put_str(&c->w, NCFX_T_COVER_FROM, so->cover_from);
	if (so && so->cover_to && *so->cover_to)
		ncfx_put_str(&c->w, NCFX_T_COVER_TO, so->cover_to);
	if (so && so->subject && *so->subject)
		ncfx_put_str(&c->w, NCFX_T_SUBJECT, so->subject);
	if (so && so->resolution != NCFX_RES_DEFAULT)
		ncfx_put_u8(&c->w, NCFX_T_RESOLUTION, so->resolution == NCFX_RES_FINE);
	if (so && so->paper != NCFX_PAPER_DEFAULT)
		ncfx_put_u8(&c->w, NCFX_T_PAPER, so->paper == NCFX_PAPER_LETTER);
	if (so && so->priority > 0)
		ncfx_put_u8(&c->w, NCFX_T_PRIORITY, (uint8_t)(so->priority > 255 ? 255 :
		    so->priority));
	if (so && so->send_at > 0)
		ncfx_put_u64(&c->w, NCFX_T_SEND_AT, (uint64_t)so->send_at);
	if (so && so->kill_at > 0)
		ncfx_put_u64(&c->w, NCFX_T_KILL_AT, (uint64_t)so->kill_at);
	if (so && so->max_tries > 0)
		ncfx_put_u8(&c->w, NCFX_T_MAX_TRIES, (uint8_t)(so->max_tries > 255 ? 255 :
		    so->max_tries));
	if (so && so->max_dials > 0)
		ncfx_put_u8(&c->w, NCFX_T_MAX_DIALS, (uint8_t)(so->max_dials > 255 ? 255 :
		    so->max_dials));
	if ((st = send_frame(c)) != NCFX_OK || (st = recv_reply(c, id, &m)) != NCFX_OK)
		goto out;
	if (m.type != NCFX_MSG_UPLOAD_READY) {
		st = fail(c, NCFX_ERR_PROTOCOL, "server answered JOB_SUBMIT with %s",
		    ncfx_msg_type_name(m.type));
		goto out;
	}
	upload_id = ncfx_msg_uint(&m, NCFX_T_UPLOAD_ID);
	if (lseek(fd, 0, SEEK_SET) != 0) {
		st = fail(c, NCFX_ERR_DOCUMENT, "rewinding %s: %s", path, strerror(errno));
		goto out;
	}
	while (sent < size) {
		n = read(fd, buf, NCFX_CHUNK_MAX);
		if (n <= 0) {
			st = fail(c, NCFX_ERR_DOCUMENT, "%s changed while being sent", path);
			goto out;
		}
		begin(c, NCFX_MSG_UPLOAD_CHUNK);
		ncfx_put_u32(&c->w, NCFX_T_UPLOAD_ID, (uint32_t)upload_id);
		ncfx_put_u64(&c->w, NCFX_T_OFFSET, sent);
		ncfx_put_bytes(&c->w, NCFX_T_DATA, buf, (size_t)n);
		if ((st = send_frame(c)) != NCFX_OK)
			goto out;
		sent += (uint64_t)n;
		if (progress)
			progress(sent, size, arg);
	}
	id = begin(c, NCFX_MSG_UPLOAD_END);
	ncfx_put_u32(&c->w, NCFX_T_UPLOAD_ID, (uint32_t)upload_id);
	if ((st = send_frame(c)) != NCFX_OK)
		goto out;
	/* Rendering takes the server a while: wait for it longer than for other replies. */
	tls_stream_set_read_timeout(c->tls, c->timeout_ms > SUBMIT_WAIT_MS ? c->timeout_ms :
	    SUBMIT_WAIT_MS);
	if (part == parts) {
		st = expect_job(c, id, out);
		if (st == NCFX_ERR_CLOSED)
			st = upload_in_doubt(c);
	} else if ((st = recv_reply(c, id, &m)) == NCFX_OK && m.type != NCFX_MSG_OK)
		st = fail(c, NCFX_ERR_PROTOCOL, "server answered UPLOAD_END of document %d with %s",
		    part, ncfx_msg_type_name(m.type));
	if (c->tls)
		tls_stream_set_read_timeout(c->tls, c->timeout_ms);
out:
	crypto_sha256_free(h);
	free(buf);
	if (fd >= 0 && doc->path)
		close(fd);
	return st;
}

ncfx_status
ncfx_submit_files(ncfx_client *c, const char *const *paths, int n, const char *dest,
    const struct ncfx_submit_options *so, ncfx_progress_fn progress, void *arg,
    struct ncfx_job *out)
{
	struct ncfx_document docs[NCFX_PARTS_MAX];

	if (n < 1 || n > (int)NCFX_PARTS_MAX)
		return fail(c, NCFX_ERR_USAGE, "a fax takes 1 to %u documents, not %d",
		    NCFX_PARTS_MAX, n);
	for (int i = 0; i < n; i++) {
		docs[i].path = paths[i];
		docs[i].fd = -1;
		docs[i].name = NULL;
	}
	return ncfx_submit_docs(c, docs, n, dest, so, progress, arg, out);
}

ncfx_status
ncfx_submit_docs(ncfx_client *c, const struct ncfx_document *docs, int n, const char *dest,
    const struct ncfx_submit_options *so, ncfx_progress_fn progress, void *arg,
    struct ncfx_job *out)
{
	ncfx_status st = NCFX_OK;

	if (n < 1 || n > (int)NCFX_PARTS_MAX)
		return fail(c, NCFX_ERR_USAGE, "a fax takes 1 to %u documents, not %d",
		    NCFX_PARTS_MAX, n);
	if (so && ((so->cover_from && strlen(so->cover_from) > NCFX_COVER_MAX) ||
	    (so->cover_to && strlen(so->cover_to) > NCFX_COVER_MAX) ||
	    (so->subject && strlen(so->subject) > NCFX_SUBJECT_MAX)))
		return fail(c, NCFX_ERR_USAGE, "cover page lines are at most %u characters (the "
		    "subject %u)", NCFX_COVER_MAX, NCFX_SUBJECT_MAX);
	if (so && ((so->cover_from && !ncfx_text_valid(so->cover_from, strlen(so->cover_from))) ||
	    (so->cover_to && !ncfx_text_valid(so->cover_to, strlen(so->cover_to))) ||
	    (so->subject && !ncfx_text_valid(so->subject, strlen(so->subject)))))
		return fail(c, NCFX_ERR_USAGE, "cover page lines must be printable UTF-8 text (no "
		    "tabs or control characters)");
	for (int i = 0; i < n; i++)
		if (docs[i].path == NULL && (docs[i].fd < 0 || docs[i].name == NULL ||
		    strlen(docs[i].name) > NCFX_FILENAME_MAX))
			return fail(c, NCFX_ERR_USAGE, "document %d: a descriptor needs a name of at "
			    "most %u bytes", i + 1, NCFX_FILENAME_MAX);
	for (int i = 0; i < n && st == NCFX_OK; i++)
		st = submit_part(c, &docs[i], dest, so, i + 1, n, progress, arg, out);
	return st;
}

ncfx_status
ncfx_submit_ex(ncfx_client *c, const char *path, const char *dest,
    const struct ncfx_submit_options *so, ncfx_progress_fn progress, void *arg,
    struct ncfx_job *out)
{
	return ncfx_submit_files(c, &path, 1, dest, so, progress, arg, out);
}

ncfx_status
ncfx_jobs(ncfx_client *c, ncfx_job_fn cb, void *arg)
{
	struct ncfx_msg m;
	struct ncfx_job j;
	uint32_t id = begin(c, NCFX_MSG_JOB_LIST);
	ncfx_status st;
	int stop = 0;

	if ((st = send_frame(c)) != NCFX_OK)
		return st;
	for (;;) {
		if ((st = recv_reply(c, id, &m)) != NCFX_OK)
			return st;
		if (m.type == NCFX_MSG_JOB_LIST_END)
			return NCFX_OK;
		if (m.type != NCFX_MSG_JOB_INFO)
			return fail(c, NCFX_ERR_PROTOCOL, "unexpected %s in a job list",
			    ncfx_msg_type_name(m.type));
		/* Read to the end even after the caller stops, so the stream stays in step. */
		if (!stop) {
			reply_job(&m, &j);
			stop = cb(&j, arg);
		}
	}
}

ncfx_status
ncfx_cancel(ncfx_client *c, uint64_t job_id, struct ncfx_job *out)
{
	uint32_t id = begin(c, NCFX_MSG_JOB_CANCEL);
	ncfx_status st;

	ncfx_put_u64(&c->w, NCFX_T_JOB_ID, job_id);
	if ((st = send_frame(c)) != NCFX_OK)
		return st;
	return expect_job(c, id, out);
}

static ncfx_status
job_request(ncfx_client *c, uint16_t type, uint64_t job_id, struct ncfx_job *out)
{
	uint32_t id = begin(c, type);
	ncfx_status st;

	ncfx_put_u64(&c->w, NCFX_T_JOB_ID, job_id);
	if ((st = send_frame(c)) != NCFX_OK)
		return st;
	return expect_job(c, id, out);
}

ncfx_status
ncfx_suspend(ncfx_client *c, uint64_t job_id, struct ncfx_job *out)
{
	return job_request(c, NCFX_MSG_JOB_SUSPEND, job_id, out);
}

ncfx_status
ncfx_resume(ncfx_client *c, uint64_t job_id, struct ncfx_job *out)
{
	return job_request(c, NCFX_MSG_JOB_RESUME, job_id, out);
}

ncfx_status
ncfx_inbox(ncfx_client *c, int unread_only, ncfx_fax_fn cb, void *arg)
{
	struct ncfx_msg m;
	struct ncfx_fax f;
	uint32_t id = begin(c, NCFX_MSG_INBOX_LIST);
	ncfx_status st;
	int stop = 0;

	if (unread_only)
		ncfx_put_u8(&c->w, NCFX_T_READ, 0);
	if ((st = send_frame(c)) != NCFX_OK)
		return st;
	for (;;) {
		if ((st = recv_reply(c, id, &m)) != NCFX_OK)
			return st;
		if (m.type == NCFX_MSG_INBOX_LIST_END)
			return NCFX_OK;
		if (m.type != NCFX_MSG_INBOX_INFO)
			return fail(c, NCFX_ERR_PROTOCOL, "unexpected %s in the inbox list",
			    ncfx_msg_type_name(m.type));
		if (!stop) {
			reply_fax(&m, &f);
			stop = cb(&f, arg);
		}
	}
}

ncfx_status
ncfx_inbox_mark(ncfx_client *c, uint64_t fax_id, int read, struct ncfx_fax *out)
{
	struct ncfx_msg m;
	uint32_t id = begin(c, NCFX_MSG_INBOX_MARK);
	ncfx_status st;

	ncfx_put_u64(&c->w, NCFX_T_FAX_ID, fax_id);
	ncfx_put_u8(&c->w, NCFX_T_READ, read ? 1 : 0);
	if ((st = send_frame(c)) != NCFX_OK || (st = recv_reply(c, id, &m)) != NCFX_OK)
		return st;
	if (m.type != NCFX_MSG_INBOX_INFO)
		return fail(c, NCFX_ERR_PROTOCOL, "server answered INBOX_MARK with %s",
		    ncfx_msg_type_name(m.type));
	if (out)
		reply_fax(&m, out);
	return NCFX_OK;
}

ncfx_status
ncfx_inbox_delete(ncfx_client *c, uint64_t fax_id)
{
	struct ncfx_msg m;
	uint32_t id = begin(c, NCFX_MSG_INBOX_DELETE);
	ncfx_status st;

	ncfx_put_u64(&c->w, NCFX_T_FAX_ID, fax_id);
	if ((st = send_frame(c)) != NCFX_OK || (st = recv_reply(c, id, &m)) != NCFX_OK)
		return st;
	if (m.type != NCFX_MSG_OK)
		return fail(c, NCFX_ERR_PROTOCOL, "server answered INBOX_DELETE with %s",
		    ncfx_msg_type_name(m.type));
	return NCFX_OK;
}

ncfx_status
ncfx_fetch(ncfx_client *c, uint64_t fax_id, int format, const char *path,
    ncfx_progress_fn progress, void *arg)
{
	struct crypto_sha256 *h = NULL;
	struct reply_fetch rf = { 0 };
	char tmp[PATH_MAX], why[160];
	uint8_t sha[32];
	struct ncfx_msg m;
	ncfx_status st = NCFX_OK;
	uint32_t id;
	int fd = -1, made = 0, more;

	if (format != NCFX_FETCH_TIFF && format != NCFX_FETCH_PDF)
		return fail(c, NCFX_ERR_USAGE, "fetch as TIFF or PDF");
	if (snprintf(tmp, sizeof(tmp), "%s.partXXXXXX", path) >= (int)sizeof(tmp))
		return fail(c, NCFX_ERR_USAGE, "%s: path too long", path);
	if ((h = crypto_sha256_new()) == NULL)
		return fail(c, NCFX_ERR_NOMEM, "out of memory");
	id = begin(c, NCFX_MSG_FILE_GET);
	ncfx_put_u64(&c->w, NCFX_T_FAX_ID, fax_id);
	ncfx_put_u8(&c->w, NCFX_T_FORMAT, format == NCFX_FETCH_PDF ? NCFX_FMT_PDF : NCFX_FMT_TIFF);
	if ((st = send_frame(c)) != NCFX_OK)
		goto out;
	/* Making a PDF takes the server a moment: wait as for a submission. */
	tls_stream_set_read_timeout(c->tls, c->timeout_ms > SUBMIT_WAIT_MS ? c->timeout_ms :
	    SUBMIT_WAIT_MS);
	do {
		const uint8_t *data;
		size_t len;

		if ((st = recv_reply(c, id, &m)) != NCFX_OK)
			goto out;
		if ((more = reply_chunk(&rf, &m, &data, &len, why, sizeof(why))) < 0) {
			st = fail(c, NCFX_ERR_PROTOCOL, "%s", why);
			goto out;
		}
		if (fd < 0) {
			if ((fd = mkstemp(tmp)) < 0) {
				st = fail(c, NCFX_ERR_DOCUMENT, "cannot write beside %s: %s", path,
				    strerror(errno));
				goto out;
			}
			made = 1;
		}
		if (len > 0 && write(fd, data, len) != (ssize_t)len) {
			st = fail(c, NCFX_ERR_DOCUMENT, "writing %s: %s", tmp, strerror(errno));
			goto out;
		}
		crypto_sha256_update(h, data, len);
		if (progress)
			progress(rf.got, rf.size, arg);
	} while (more);
	crypto_sha256_final(h, sha);
	if (reply_fetch_whole(&rf, &m, sha) < 0) {
		st = fail(c, NCFX_ERR_PROTOCOL, "the fax arrived damaged (size or checksum "
		    "differs); try again");
		goto out;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		st = fail(c, NCFX_ERR_DOCUMENT, "writing %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		st = fail(c, NCFX_ERR_DOCUMENT, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	made = 0;
out:
	if (c->tls)
		tls_stream_set_read_timeout(c->tls, c->timeout_ms);
	if (fd >= 0)
		close(fd);
	if (made)                  /* made, not renamed into place */
		unlink(tmp);
	crypto_sha256_free(h);
	return st;
}

const char *ncfx_client_errmsg(const ncfx_client *c) { return c->err; }
int ncfx_client_server_code(const ncfx_client *c) { return c->server_code; }
uint32_t ncfx_client_retry_after(const ncfx_client *c) { return c->retry_after; }
const char *ncfx_client_fingerprint(const ncfx_client *c) { return c->fingerprint; }
const char *ncfx_client_pinned(const ncfx_client *c) { return c->pinned; }
int ncfx_client_newly_pinned(const ncfx_client *c) { return c->newly_pinned; }
const char *ncfx_client_server_name(const ncfx_client *c) { return c->server_name; }
uint64_t ncfx_client_max_document(const ncfx_client *c) { return c->max_document; }
void
ncfx_client_keep_resume_token(ncfx_client *c)
{
	c->token_wanted = 1;
}

int
ncfx_client_resume_point(const ncfx_client *c, uint64_t *seq)
{
	*seq = c->resume_point;
	return c->has_resume_point;
}

const char *ncfx_client_host(const ncfx_client *c) { return c->host; }
const char *ncfx_client_ca_file(const ncfx_client *c) { return c->ca_file; }
const char *ncfx_client_peer_addr(const ncfx_client *c) { return c->tls ? tls_stream_peer_addr(c->tls) : ""; }

const char *
ncfx_client_server_code_name(int code)
{
	return ncfx_error_name(code);
}

const char *
ncfx_status_str(ncfx_status s)
{
	switch (s) {
	case NCFX_OK: return "ok";
	case NCFX_ERR_USAGE: return "usage";
	case NCFX_ERR_CONNECT: return "connect";
	case NCFX_ERR_TLS: return "tls";
	case NCFX_ERR_IDENTITY: return "identity";
	case NCFX_ERR_UNTRUSTED: return "untrusted";
	case NCFX_ERR_PROTOCOL: return "protocol";
	case NCFX_ERR_CLOSED: return "closed";
	case NCFX_ERR_SERVER: return "server";
	case NCFX_ERR_DOCUMENT: return "document";
	case NCFX_ERR_NOMEM: return "nomem";
	case NCFX_ERR_IN_DOUBT: return "in_doubt";
	}
	return "unknown";
}

/* notify_fakes.h: what the notification subsystem's unit tests drive it with instead of the
 * daemon: an outbox store in memory, and frames captured as their type and seq, so a test can
 * say exactly which notifications went out, and on which path. */
#ifndef NETCFAX_NOTIFY_FAKES_H
#define NETCFAX_NOTIFY_FAKES_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "outbox.h"
#include "path.h"
#include "proto.h"

#define MEM_NOTES 1024
#define MEM_USERS 512      /* user ids below this */
#define LOG_FRAMES 4096

/* Every user's notifications in one array, in seq order per user. */
struct memstore {
	struct { int64_t user; uint64_t seq; } note[MEM_NOTES];
	int      n;
	uint64_t last[MEM_USERS], acked[MEM_USERS];
	int      lists;          /* list calls: what the kept read saves */
	int      fail;           /* list fails */
};

static inline int
mem_list(void *impl, int64_t user, uint64_t after, int limit, outbox_note_fn fn, void *arg)
{
	struct memstore *ms = impl;
	struct store_note n;
	int got = 0;

	ms->lists++;
	if (ms->fail)
		return -1;
	for (int i = 0; i < ms->n && got < limit; i++) {
		if (ms->note[i].user != user || ms->note[i].seq <= after)
			continue;
		memset(&n, 0, sizeof(n));
		n.user = user;
		n.seq = ms->note[i].seq;
		n.event = NCFX_EV_MESSAGE;
		n.created = 1;
		got++;
		if (fn(&n, arg) != 0)
			break;
	}
	return got;
}

static inline void
mem_ack(void *impl, int64_t user, uint64_t seq)
{
	struct memstore *ms = impl;

	if (seq > ms->acked[user])
		ms->acked[user] = seq;
}

static inline int
mem_seqs(void *impl, int64_t user, uint64_t *last, uint64_t *acked)
{
	struct memstore *ms = impl;

	*last = ms->last[user];
	*acked = ms->acked[user];
	return 0;
}

static inline const char *
mem_errmsg(void *impl)
{
	(void)impl;
	return "memory store failed";
}

static inline struct outbox *
mem_outbox(struct memstore *ms)
{
	struct outbox_store st = { mem_list, mem_ack, mem_seqs, mem_errmsg, ms };

	memset(ms, 0, sizeof(*ms));
	return outbox_new(&st);
}

/* Adds count notifications for user (without telling anyone: notify_user does that). */
static inline void
mem_add(struct memstore *ms, int64_t user, int count)
{
	while (count-- > 0 && ms->n < MEM_NOTES) {
		ms->note[ms->n].user = user;
		ms->note[ms->n].seq = ++ms->last[user];
		ms->n++;
	}
}

/* Frames as the client would see them: type, and the seq of a NOTIFY or the path of a
 * NOTIFY_PATH. */
struct framelog {
	uint16_t type[LOG_FRAMES];
	uint64_t val[LOG_FRAMES];
	int      n;
};

static inline int
framelog_add(struct framelog *fl, struct ncfx_wbuf *w)
{
	struct ncfx_frame f;
	struct ncfx_msg m;
	const char *reason = NULL;
	size_t used = 0, len = ncfx_wbuf_end(w);
	int err = 0;

	if (len == 0 || fl->n >= LOG_FRAMES ||
	    ncfx_frame_parse(w->data, len, &f, &used, &err, &reason) != 1 ||
	    ncfx_msg_decode(&f, &m, &err, &reason) != 0)
		return -1;
	fl->type[fl->n] = m.type;
	fl->val[fl->n] = m.type == NCFX_MSG_NOTIFY ? ncfx_msg_uint(&m, NCFX_T_SEQ) :
	    m.type == NCFX_MSG_NOTIFY_PATH ? ncfx_msg_uint(&m, NCFX_T_PATH) : 0;
	fl->n++;
	return 0;
}

/* How many frames of type, and the value of the last one (0 if none). */
static inline int
framelog_count(const struct framelog *fl, uint16_t type, uint64_t *last)
{
	int c = 0;

	if (last)
		*last = 0;
	for (int i = 0; i < fl->n; i++)
		if (fl->type[i] == type) {
			c++;
			if (last)
				*last = fl->val[i];
		}
	return c;
}

/* A path that keeps what it is given. */
struct fakepath {
	struct path_ops ops;
	struct framelog log;
	int             fail;     /* send refuses */
	int             wakes;
};

static inline int
fake_send(void *impl, struct ncfx_wbuf *w)
{
	struct fakepath *p = impl;

	if (p->fail)
		return -1;
	return framelog_add(&p->log, w);
}

static inline void
fake_wake(void *impl)
{
	struct fakepath *p = impl;

	p->wakes++;
}

static inline void
fakepath_init(struct fakepath *p, int kind, int wakeable)
{
	memset(p, 0, sizeof(*p));
	p->ops.kind = kind;
	p->ops.send = fake_send;
	p->ops.wake = wakeable ? fake_wake : NULL;
}

/* A session as the subsystem sees it: frames it queues on the PCP connection are kept, so are
 * its row in the operator's list and a close. */
struct fakehost {
	struct notify_host      h;
	struct sockaddr_storage sa;
	uint8_t                 secret[32];
	struct framelog         log;
	int                     closing;    /* queue refuses, as a closing session does */
	int                     closed;
	int                     close_code;
	char                    close_why[200];
	int                     row_path;
	char                    row[500];
};

static inline int
host_queue(void *arg, struct ncfx_wbuf *w)
{
	struct fakehost *fh = arg;

	if (fh->closing)
		return -1;
	return framelog_add(&fh->log, w);
}

static inline void
host_close(void *arg, int code, const char *reason)
{
	struct fakehost *fh = arg;

	fh->closed++;
	fh->close_code = code;
	snprintf(fh->close_why, sizeof(fh->close_why), "%s", reason);
	fh->closing = 1;
}

static inline void
host_set_row(void *arg, int path, const char *row)
{
	struct fakehost *fh = arg;

	fh->row_path = path;
	snprintf(fh->row, sizeof(fh->row), "%s", row);
}

static inline void
fakehost_init(struct fakehost *fh, int64_t user, uint16_t port, int pref, int wanted)
{
	memset(fh, 0, sizeof(*fh));
	fh->sa.ss_family = AF_INET;
	fh->h.queue = host_queue;
	fh->h.close = host_close;
	fh->h.set_row = host_set_row;
	fh->h.arg = fh;
	fh->h.tag = "session=test";
	fh->h.user = user;
	fh->h.session_id = 42;
	fh->h.scp_secret = fh->secret;
	fh->h.addr = "192.0.2.1";
	fh->h.addr_key = "192.0.2.1";
	fh->h.sa = &fh->sa;
	fh->h.salen = sizeof(struct sockaddr_in);
	fh->h.scp_port = port;
	fh->h.path_pref = pref;
	fh->h.notify_wanted = wanted;
	fh->row_path = -1;
}

#endif

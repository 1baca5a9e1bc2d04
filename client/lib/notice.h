/* notice.h: what a watcher hears on its notification paths, judged and decoded without I/O:
 * the frames of a bound SCP connection, and those on the PCP after login (relayed NOTIFY,
 * NOTIFY_PATH, replies). The watcher acts on the verdict; fuzz/fuzz_scp.c runs the same
 * functions on arbitrary bytes. */
#ifndef NETCFAX_NOTICE_H
#define NETCFAX_NOTICE_H

#include <stddef.h>
#include <stdint.h>

#include "netcfax/netcfax.h"
#include "proto.h"

/* What one connection carried: its acknowledgements never go beyond that. */
struct notice_acks {
	uint64_t max_seq;
	int      due;             /* a NOTIFY came since the last NOTIFY_ACK went out */
};

/* The highest seq shown, across connections and logins. */
struct notice_seen {
	int      has;
	uint64_t last;
};

enum notice_verdict {
	NOTICE_DROP,      /* SCP: not allowed there; why says what came */
	NOTICE_SHOW,      /* a notification not shown before: out->n */
	NOTICE_SEEN,      /* one shown before (sent again after a reconnect): acknowledge only */
	NOTICE_PING,      /* SCP: answer PONG to out->reqid, with out->seq if out->has_seq */
	NOTICE_PATH,      /* PCP: notifications take out->path now; out->text says why */
	NOTICE_CLOSED,    /* PCP: the server ends the session (ERROR, reqid 0); out->text */
	NOTICE_REFUSED,   /* PCP: ERROR for our request out->reqid; out->text */
	NOTICE_DONE,      /* PCP: OK for our request out->reqid */
	NOTICE_NONE,      /* nothing to act on: PONG, or a reply that only keeps us alive */
};

struct notice {
	struct ncfx_notification n;      /* its strings point into the buffers below */
	uint32_t reqid;
	int      has_seq;
	uint64_t seq;
	int      path;                   /* NCFX_PATH_* */
	char     text[NCFX_STR_MAX + 1]; /* n.text, or the server's reason */
	char     dest[NCFX_DEST_MAX + 1];
	char     filename[NCFX_FILENAME_MAX + 1];
	char     remote_id[NCFX_REMOTE_ID_MAX + 1];
	char     media[NCFX_MEDIA_MAX + 1];
};

/* A frame on an SCP connection whose SCP_BIND checked out: NOTIFY or PING, anything else is
 * NOTICE_DROP. A NOTIFY moves a and, when new, seen. */
int notice_scp(struct notice_acks *a, struct notice_seen *seen, const struct ncfx_msg *m,
               struct notice *out, char *why, size_t whylen);
/* A frame on the PCP of a logged-in watcher. Never NOTICE_DROP: what a watcher does not act
 * on there (PONG, replies to PING and PATH_RETRY) is NOTICE_NONE. */
int notice_pcp(struct notice_acks *a, struct notice_seen *seen, const struct ncfx_msg *m,
               struct notice *out);

#endif

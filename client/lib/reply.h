/* reply.h: the server's replies read into the client API's structures, without I/O, so that
 * fuzz/fuzz_reply.c runs exactly what the client runs. */
#ifndef NETCFAX_REPLY_H
#define NETCFAX_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "netcfax/netcfax.h"
#include "proto.h"

/* ERROR: its code, the seconds to wait (THROTTLED) and the reason, or the code's own words
 * when the server gave none. */
void reply_error(const struct ncfx_msg *m, int *code, uint32_t *retry_after, char *reason,
                 size_t cap);
/* HELLO_OK: the server's name and the largest document it takes (0: not said). */
void reply_hello(const struct ncfx_msg *m, char *server_name, size_t cap,
                 uint64_t *max_document);

/* What LOGIN_OK gives a client. */
struct reply_login {
	struct ncfx_session_info info;  /* all but local_port, which is ours to know */
	uint8_t  secret[32];            /* the SCP secret */
	int      has_seq;               /* the server says where notifications start */
	uint64_t seq;
	int      has_token;             /* a resume token for the next login */
	uint8_t  token[32];
};
/* 0, or -1 with why when it lacks a 32-byte SCP secret. */
int  reply_login(const struct ncfx_msg *m, struct reply_login *out, char *why, size_t whylen);

void reply_job(const struct ncfx_msg *m, struct ncfx_job *j);          /* JOB_INFO */
void reply_fax(const struct ncfx_msg *m, struct ncfx_fax *f);          /* INBOX_INFO */
/* SCP_PROBE_RESULT: the server's side of r (result, reason, target, time, relay). */
void reply_probe(const struct ncfx_msg *m, struct ncfx_probe_result *r);

/* A file arriving in FILE_CHUNKs: in order, and never more than the first chunk announced
 * (and NCFX_FILE_MAX at most). */
struct reply_fetch {
	int      started;
	uint64_t size;                  /* announced by the first chunk */
	uint64_t got;
};
/* One FILE_CHUNK: *data and *len are its bytes. 1 when more follow, 0 for the last, -1 with
 * why. */
int  reply_chunk(struct reply_fetch *f, const struct ncfx_msg *m, const uint8_t **data,
                 size_t *len, char *why, size_t whylen);
/* After the last chunk (last): all announced bytes came, and sha, the SHA-256 of what came,
 * is the one the server sent. 0, or -1. */
int  reply_fetch_whole(const struct reply_fetch *f, const struct ncfx_msg *last,
                       const uint8_t sha[32]);

#endif

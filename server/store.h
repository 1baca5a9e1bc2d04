/* store.h: the durable state of netcfaxd in one SQLite file: accounts, jobs, the inbox, the
 * notifications, resume tokens, and the live rows of sessions, lines and trunks. */
#ifndef NETCFAX_STORE_H
#define NETCFAX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "proto.h"

struct store;

/* What a store function says happened. Every function that does not return a count returns
 * one of these; which of them it can give is said at each function. A function that counts
 * (store_job_due, store_note_list, store_note_prune, store_token_purge) returns how many, or
 * STORE_ERR. */
enum store_rc {
	STORE_ERR = -1,     /* the database failed: store_errmsg says why for the log,
	                     * store_trouble for a client; nothing was changed */
	STORE_OK = 0,       /* done: the row was found, added, changed or removed */
	STORE_NONE = 1,     /* no such row (a user, a job of this owner, a fax, a token) */
	STORE_EXISTS = 2,   /* not added: a row with that key is there already (a user name) */
	STORE_STALE = 3,    /* not done: the row is not in the state the call requires, or no
	                     * longer (a job in another state, or moved on meanwhile, as by a
	                     * cancel; a password changed since it was read) */
	STORE_IN_USE = 4,   /* not removed: other rows still need it (a user's unfinished jobs) */
};

struct store_user {
	int64_t id;
	char    name[NCFX_USER_MAX + 1];
	char    pwhash[CRYPTO_PWHASH_MAX];
	int64_t created;
	int64_t jobs;          /* all jobs, filled by store_user_list */
	int64_t cred_gen;      /* moves with every password change (store_user_get) */
};

struct store_job {
	int64_t id;
	int64_t owner;
	char    dest[NCFX_DEST_MAX + 1];
	char    filename[NCFX_FILENAME_MAX + 1];
	char    doc[64];       /* spool name of the document */
	int64_t size;
	int     pages;
	int     format;        /* enum ncfx_doc_format */
	int     state;         /* enum ncfx_job_state */
	int64_t created;
	int64_t updated;
	char    reason[256];
	/* sending (schema 3) */
	int     fine;          /* 204x196, else 204x98 */
	int     priority;      /* 0 most urgent .. 255 */
	int64_t send_at;       /* not before; 0 at once */
	int64_t kill_at;       /* give up when not sent by then */
	int     max_tries;     /* calls that reached a fax machine */
	int     max_dials;     /* dials of any outcome */
	int     tries, dials;
	int64_t next_try;      /* a sleeping job's wake-up */
	int     pages_sent;    /* confirmed by the far machine, over all the job's calls: a
	                        * call that broke off is taken up after them */
	int     bit_rate;
	int     ecm;
	char    remote_id[NCFX_REMOTE_ID_MAX + 1];
	char    media[NCFX_MEDIA_MAX + 1];   /* what carried the last call: "T.38", "G.711", or
	                                      * "" (not known, the software line) (schema 9) */
};

/* A received fax in a user's inbox. */
struct store_fax {
	int64_t id;
	int64_t owner;
	char    number[NCFX_DEST_MAX + 1];        /* ours, as dialled */
	char    remote_id[NCFX_REMOTE_ID_MAX + 1];/* the sender's station id (TSI) */
	char    doc[64];                          /* spool name of the TIFF */
	int     pages;
	int64_t size;
	int     fine;
	int     bit_rate;
	int     ecm;
	int     read;
	int64_t received;
	char    note[256];                        /* e.g. "2 of 3 pages: the call dropped" */
	char    media[NCFX_MEDIA_MAX + 1];        /* "T.38", "G.711" or "" (schema 9) */
};

/* One notification in a user's outbox. */
struct store_note {
	int64_t  user;
	uint64_t seq;          /* per user, from 1; assigned by the store */
	int      event;        /* enum ncfx_event */
	int64_t  job;          /* 0 when not about a job */
	int      state;        /* the job's state after the event, or 0 */
	char     text[NCFX_STR_MAX + 1];
	int64_t  created;
	/* progress detail (schema 3), 0 or "" when not given */
	int      page, pages, bit_rate, ecm;
	char     remote_id[NCFX_REMOTE_ID_MAX + 1];
	int64_t  fax;          /* a received fax, for fax_received */
	char     media[NCFX_MEDIA_MAX + 1];        /* "T.38", "G.711" or "" (schema 9) */
	/* filled when listing, from the job */
	char     dest[NCFX_DEST_MAX + 1];
	char     filename[NCFX_FILENAME_MAX + 1];
};

/* A live session, for the operator's list. */
struct store_session {
	uint64_t id;
	char     user[NCFX_USER_MAX + 1];
	char     addr[80];
	int      scp_port;
	int      scp_mode;
	int64_t  created;
	int      path;          /* enum ncfx_path in use: none, direct or relay */
	char     scp_state[256];
};

/* A fax line of the running server, for the operator's status. */
struct store_line {
	int      line;          /* 1 .. fax_lines */
	char     name[48];      /* the line it is a channel of: "software", "trunk NAME", "modem
	                         * NAME", "virtual modems" (schema 10) */
	int64_t  job;           /* the call's job; 0 when the line is idle */
	int64_t  owner;
	char     user[NCFX_USER_MAX + 1];          /* the owner's name (store_line_list) */
	char     dest[NCFX_DEST_MAX + 1];
	char     remote_id[NCFX_REMOTE_ID_MAX + 1];
	int      connected;     /* the far machine answered (T.30 phase B done) */
	int      pages_sent, pages;
	int      bit_rate;
	int64_t  since;         /* the call began, or the line went idle */
};

/* Opens (creating and migrating) the database; WAL with synchronous=FULL so a committed
 * row survives a crash of the process or the machine. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *st);
/* Why the last call failed, for the log. */
const char *store_errmsg(struct store *st);
/* The same for a client whose request failed with it: the disk is full, another program
 * holds the database locked, it cannot be written, or else; each says whether trying again
 * helps. */
const char *store_trouble(struct store *st);

/* Users. Every function may return STORE_ERR. */
/* STORE_OK, STORE_EXISTS. */
enum store_rc store_user_add(struct store *st, const char *name, const char *pwhash);
/* STORE_OK, STORE_NONE. */
enum store_rc store_user_get(struct store *st, const char *name, struct store_user *u);
/* The name of user id, for log lines: STORE_OK, STORE_NONE. */
enum store_rc store_user_name(struct store *st, int64_t id, char *name, size_t cap);
/* STORE_OK, STORE_NONE. */
enum store_rc store_user_set_password(struct store *st, const char *name,
                                      const char *pwhash);
/* STORE_OK removed, STORE_NONE, STORE_IN_USE refused because of unfinished jobs (unless
 * force). The documents of removed jobs are reported through doc_cb before the rows go. */
enum store_rc store_user_del(struct store *st, const char *name, int force,
                             void (*doc_cb)(const char *doc, void *arg), void *arg);
/* STORE_OK. */
enum store_rc store_user_list(struct store *st, int (*cb)(const struct store_user *, void *),
                              void *arg);

/* Jobs: every lookup is scoped to its owner, so no code path can reach another user's job.
 * Every function may return STORE_ERR. */
/* Inserts the job and, when note is given, its notification (job id filled in) in the same
 * transaction: a job is never queued without its "queued" notification. STORE_OK, sets
 * j->id. */
enum store_rc store_job_insert(struct store *st, struct store_job *j, struct store_note *note);
/* STORE_OK, STORE_NONE. */
enum store_rc store_job_get(struct store *st, int64_t owner, int64_t id, struct store_job *j);
/* STORE_OK. */
enum store_rc store_job_list(struct store *st, int64_t owner,
                             int (*cb)(const struct store_job *, void *), void *arg);
/* Moves a job from one of the states in from_mask (bit 1 << state) to state. STORE_OK moved,
 * STORE_NONE no such job for this owner, STORE_STALE the job is in another state. j gets the
 * row (afterwards, when moved). */
enum store_rc store_job_transition(struct store *st, int64_t owner, int64_t id,
                                   unsigned from_mask, int state, const char *reason,
                                   struct store_job *j, struct store_note *note);
/* Saves what the sender changed in a job it holds (state, reason, tries, dials, next_try,
 * pages_sent, bit_rate, ecm, remote_id), only if the job is still in state expect, with an
 * optional notification in the same transaction. STORE_OK saved, STORE_STALE the job moved
 * on meanwhile (a cancel). */
enum store_rc store_job_save(struct store *st, const struct store_job *j, int expect,
                             struct store_note *note);
/* The next job to dial: pending or sleeping and due by now (or past its kill time), most
 * urgent first, then oldest. STORE_OK found, STORE_NONE none. */
enum store_rc store_job_next(struct store *st, int64_t now, struct store_job *j);
/* Up to limit jobs due by now (or past their kill time), in store_job_next's order, into
 * out: how many, or STORE_ERR. (The queue looks past a job whose line is full to the
 * next.) */
int store_job_due(struct store *st, int64_t now, struct store_job *out, int limit);
/* The earliest future next_try (or kill time before it) of a waiting job, 0 if none, for
 * the dispatcher's timer. STORE_OK. */
enum store_rc store_job_wake(struct store *st, int64_t now, int64_t *wake);
/* Jobs found active at start (the server stopped during their calls): each is given to cb,
 * which saves it as it sees fit. STORE_OK. */
enum store_rc store_job_each_active(struct store *st, int (*cb)(struct store_job *, void *),
                                    void *arg);
/* How many jobs of owner are unfinished, and how many document bytes they hold: STORE_OK. */
enum store_rc store_job_unfinished(struct store *st, int64_t owner, int64_t *count,
                                   int64_t *bytes);
/* STORE_OK when an unfinished job or a received fax refers to this spool document,
 * STORE_NONE when nothing does. */
enum store_rc store_doc_in_use(struct store *st, const char *doc);

/* The inbox. Every function may return STORE_ERR. */
/* Inserts the fax and its fax_received notification (note may be NULL) in one transaction:
 * STORE_OK and f->id set. */
enum store_rc store_fax_insert(struct store *st, struct store_fax *f, struct store_note *note);
/* STORE_OK, STORE_NONE. */
enum store_rc store_fax_get(struct store *st, int64_t owner, int64_t id, struct store_fax *f);
/* Newest first; unread_only lists those not read yet. STORE_OK. */
enum store_rc store_fax_list(struct store *st, int64_t owner, int unread_only,
                             int (*cb)(const struct store_fax *, void *), void *arg);
/* STORE_OK, STORE_NONE. */
enum store_rc store_fax_mark(struct store *st, int64_t owner, int64_t id, int read);
/* STORE_OK deleted (doc filled so the caller removes the file), STORE_NONE no such fax. */
enum store_rc store_fax_delete(struct store *st, int64_t owner, int64_t id, char *doc,
                               size_t doccap);

/* Notifications. store_note_add appends one (assigning its seq) in a transaction of its own:
 * STORE_OK or STORE_ERR. */
enum store_rc store_note_add(struct store *st, struct store_note *n);
/* Up to limit notifications of user with seq > after, oldest first; cb returns non-zero to
 * stop. Returns how many were passed to cb, or STORE_ERR. */
int store_note_list(struct store *st, int64_t user, uint64_t after, int limit,
                    int (*cb)(const struct store_note *, void *), void *arg);
/* The user's highest assigned and highest acknowledged sequence numbers: STORE_OK,
 * STORE_NONE (no such user), STORE_ERR. */
enum store_rc store_user_seqs(struct store *st, int64_t user, uint64_t *last,
                              uint64_t *acked);
/* Records an acknowledgement (only ever moves forward): STORE_OK or STORE_ERR. */
enum store_rc store_user_ack(struct store *st, int64_t user, uint64_t seq);
/* Several users' acknowledgements in one transaction: STORE_OK or STORE_ERR. */
enum store_rc store_user_ack_batch(struct store *st, const int64_t *users,
                                   const uint64_t *seqs, int n);
/* Deletes acknowledged notifications created before cutoff, and any beyond the newest
 * keep_max of a user (acknowledged or not). Returns how many, or STORE_ERR. */
int store_note_prune(struct store *st, int64_t cutoff, int64_t keep_max);
/* Changes whenever another connection (netcfax-admin) commits: cheap to poll. -1 when it
 * cannot be read. */
int64_t store_data_version(struct store *st);

/* Live sessions: rows exist while the PCP connection does; the table is cleared at start.
 * These, the lines and the trunks below return STORE_OK or STORE_ERR. */
enum store_rc store_session_add(struct store *st, uint64_t id, int64_t user, const char *addr,
                                int scp_port, int scp_mode);
/* The notification path in use (enum ncfx_path) and in words. */
enum store_rc store_session_set_scp(struct store *st, uint64_t id, int path,
                                    const char *state);
enum store_rc store_session_set_port(struct store *st, uint64_t id, int scp_port,
                                     int scp_mode);
enum store_rc store_session_del(struct store *st, uint64_t id);
enum store_rc store_session_clear(struct store *st);
enum store_rc store_session_list(struct store *st,
                                 int (*cb)(const struct store_session *, void *), void *arg);

/* Fax lines: like the sessions, rows exist while the server runs. store_line_reset replaces
 * them with n idle lines (0: none, at a stop); store_line_set writes one line's state. */
enum store_rc store_line_reset(struct store *st, int n);
enum store_rc store_line_set(struct store *st, const struct store_line *l);
enum store_rc store_line_list(struct store *st, int (*cb)(const struct store_line *, void *),
                              void *arg);

/* A SIP trunk's standing with its provider, for the operator's status: rows exist while the
 * server runs (store_trunk_reset empties them at a start and a stop), one per trunk of
 * sip_trunks, written when its registration comes or goes. */
struct store_trunk {
	int      trunk;         /* 1 .. the trunks, in sip_trunks' order */
	char     name[64];
	char     registrar[256];
	int      up;            /* the provider holds our registration */
	char     words[512];    /* as what, or why not and when the next try is */
	int64_t  since;
};
enum store_rc store_trunk_reset(struct store *st);
enum store_rc store_trunk_set(struct store *st, const struct store_trunk *t);
enum store_rc store_trunk_list(struct store *st, int (*cb)(const struct store_trunk *, void *),
                               void *arg);

/* The operator's view of the queue, across users: STORE_OK or STORE_ERR. */
/* How many jobs are in each state: counts[state] for states up to NCFX_JOB_SUSPENDED. */
enum store_rc store_job_counts(struct store *st, int64_t counts[NCFX_JOB_SUSPENDED + 1]);
/* The next limit jobs to be dialled, in the queue's order (those due by now by priority,
 * then the rest by their next try), with their owners' names. */
enum store_rc store_job_upcoming(struct store *st, int64_t now, int limit,
                                 int (*cb)(const struct store_job *, const char *user, void *),
                                 void *arg);
/* Jobs that failed at or after since, newest first, at most limit. */
enum store_rc store_job_failed_since(struct store *st, int64_t since, int limit,
                                     int (*cb)(const struct store_job *, const char *user,
                                               void *),
                                     void *arg);

/* Resume tokens, by their SHA-256 (resume.c makes and checks them). born is the time of the
 * password login that began the token's chain. */
/* STORE_OK added; STORE_STALE not, because the user's password changed since cred_gen was
 * read; STORE_ERR. */
enum store_rc store_token_add(struct store *st, const uint8_t hash[32], int64_t user,
                              int64_t cred_gen, int64_t born);
/* Replaces the user's token old_hash, if born after born_after, by new_hash with the same
 * born: STORE_OK done (the old one is used up), STORE_NONE no such token, STORE_ERR. */
enum store_rc store_token_rotate(struct store *st, const uint8_t old_hash[32],
                                 const uint8_t new_hash[32], int64_t user, int64_t born_after);
/* Removes tokens born before born_before: how many, or STORE_ERR. */
int store_token_purge(struct store *st, int64_t born_before);

#endif

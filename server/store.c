/* store.c: SQLite behind netcfaxd: the connection (opening, errors, the statement cache) and
 * the helpers the store's files share (store_int.h); the schema is in store_schema.c. The
 * store's files are the only ones that include sqlite3.h. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
st_copy(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Keeps why the statement just run failed, before another statement clears it (see struct
 * store). */
void
st_keep_error(struct store *st)
{
	st->errcode = sqlite3_extended_errcode(st->db);
	snprintf(st->errmsg, sizeof(st->errmsg), "%s", sqlite3_errmsg(st->db));
}

/* Ends a failed transaction, keeping why it failed. After some errors (a full disk, an I/O
 * error) SQLite has rolled it back already, and a ROLLBACK would only fail and leave
 * "no transaction is active" as the reason. */
void
st_rollback(struct store *st)
{
	st_keep_error(st);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The primary result code of the last failure: the connection's own, unless a rollback has
 * since cleared it. */
int
st_last_error(struct store *st)
{
	int rc = sqlite3_errcode(st->db);

	return (rc == SQLITE_OK ? st->errcode : rc) & 0xff;
}

static void
say_unwritable(const char *path, const char *why, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: cannot write the database (%s): it, its -wal and -shm files "
	    "and its directory must be writable by this user (uid %ld) on a file system mounted "
	    "read-write", path, why, (long)getuid());
}

/* Why the store cannot be opened, with what the operator can do about it. detail is
 * SQLite's message. */
static void
open_error(struct store *st, const char *path, const char *detail, char *err, size_t errlen)
{
	int rc = st->db ? st_last_error(st) : SQLITE_CANTOPEN;
	int sys = st->db ? sqlite3_system_errno(st->db) : 0;
	char why[300];

	if (sys != 0)
		snprintf(why, sizeof(why), "%s: %s", detail, strerror(sys));
	else
		snprintf(why, sizeof(why), "%s", detail);
	if (rc == SQLITE_IOERR && (sys == EROFS || sys == EACCES || sys == EPERM))
		rc = SQLITE_READONLY;
	if (rc == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT))
		rc = SQLITE_FULL;
	switch (rc) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(err, errlen, "%s: another program holds the database locked (waited %d s "
		    "for it): stop that program (an sqlite3 shell, a backup, a stuck "
		    "netcfax-admin) and try again", path, STORE_BUSY_MS / 1000);
		break;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		say_unwritable(path, why, err, errlen);
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		snprintf(err, errlen, "%s is not a netcfax database, or it is damaged (%s); it was "
		    "left as it is: restore it from a backup, or move it away to start with an "
		    "empty one", path, why);
		break;
	case SQLITE_FULL:
		snprintf(err, errlen, "%s: the disk is full (%s): free some space and try again",
		    path, why);
		break;
	default:
		snprintf(err, errlen, "%s: %s", path, why);
		break;
	}
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	char *msg = NULL;
	int version = -1;

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		open_error(st, path, st->db ? sqlite3_errmsg(st->db) : "cannot open", err, errlen);
		goto fail;
	}
	/* SQLite quietly opens a file it may not write read-only; the first write would fail. */
	if (sqlite3_db_readonly(st->db, "main") == 1) {
		say_unwritable(path, access(path, W_OK) != 0 ? strerror(errno) : "opened "
		    "read-only", err, errlen);
		goto fail;
	}
	/* The admin tool writes while the server runs: wait for the other writer. */
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	switch (st_schema_upgrade(st, path, &version, &msg, err, errlen)) {
	case 0:
		break;
	case 1:
		goto fail;
	default:
		goto sqlfail;
	}
	if (sqlite3_exec(st->db, "PRAGMA foreign_keys=ON", NULL, NULL, &msg) != SQLITE_OK)
		goto sqlfail;
	return st;
sqlfail:
	open_error(st, path, msg ? msg : st->errmsg[0] ? st->errmsg : sqlite3_errmsg(st->db), err,
	    errlen);
	if (version >= 0 && version < SCHEMA_VERSION) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (while bringing the store up to date; it was "
		    "left as it was)");
	}
	sqlite3_free(msg);
fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].q);
	sqlite3_close_v2(st->db);
	free(st);
}

const char *
store_errmsg(struct store *st)
{
	if (sqlite3_errcode(st->db) == SQLITE_OK && st->errmsg[0])
		return st->errmsg;
	return sqlite3_errmsg(st->db);
}

const char *
store_trouble(struct store *st)
{
	switch (st_last_error(st)) {
	case SQLITE_FULL:
		return "the server's disk is full; try again later";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "the server's database is locked by another program; try again in a minute";
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return "the server cannot write its database; try again later (its operator must "
		    "fix it)";
	default:
		return "server store unavailable; try again later";
	}
}

/* The statement for sql, ready to bind: from the cache, reset, or prepared now and kept.
 * Callers hand it back with st_release(), never finalize it. NULL on an SQL error. */
sqlite3_stmt *
st_prep(struct store *st, const char *sql)
{
	sqlite3_stmt *q = NULL;

	for (int i = 0; i < st->ncache; i++)
		if (st->cache[i].sql == sql) {
			sqlite3_reset(st->cache[i].q);
			return st->cache[i].q;
		}
	if (st->ncache == STMT_CACHE)
		return NULL;            /* cannot happen: STMT_CACHE exceeds the statements here */
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL) != SQLITE_OK)
		return NULL;
	st->cache[st->ncache].sql = sql;
	st->cache[st->ncache++].q = q;
	return q;
}

/* Done with a statement from st_prep(): reset for its next use, and its bound strings (bound
 * SQLITE_STATIC, so pointers into the caller's memory) dropped. */
void
st_release(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

int
store_user_add(struct store *st, const char *name, const char *pwhash)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO users(name, pwhash, created) VALUES(?, ?, ?)");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	st_release(q);
	if (rc == SQLITE_CONSTRAINT)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_get(struct store *st, const char *name, struct store_user *u)
{
	sqlite3_stmt *q = st_prep(st, "SELECT id, name, pwhash, created, cred_gen FROM users WHERE "
	    "name = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(q, 0);
		st_copy(u->name, sizeof(u->name), sqlite3_column_text(q, 1));
		st_copy(u->pwhash, sizeof(u->pwhash), sqlite3_column_text(q, 2));
		u->created = sqlite3_column_int64(q, 3);
		u->cred_gen = sqlite3_column_int64(q, 4);
	}
	st_release(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_name(struct store *st, int64_t id, char *name, size_t cap)
{
	sqlite3_stmt *q = st_prep(st, "SELECT name FROM users WHERE id = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		st_copy(name, cap, sqlite3_column_text(q, 0));
	st_release(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_set_password(struct store *st, const char *name, const char *pwhash)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE users SET pwhash = ? WHERE name = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int
store_user_del(struct store *st, const char *name, int force,
    void (*doc_cb)(const char *, void *), void *arg)
{
	struct store_user u;
	sqlite3_stmt *q = NULL;
	int64_t count = 0, bytes = 0;
	int rc, result = -1;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	rc = store_user_get(st, name, &u);
	if (rc <= 0) {
		result = rc;
		goto rollback;
	}
	if (!force && (store_job_unfinished(st, u.id, &count, &bytes) < 0 || count > 0)) {
		result = 2;
		goto rollback;
	}
	if ((q = st_prep(st, "SELECT doc FROM jobs WHERE owner = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (doc_cb)
			doc_cb((const char *)sqlite3_column_text(q, 0), arg);
	st_release(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto rollback;
	if ((q = st_prep(st, "SELECT doc FROM inbox WHERE owner = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (doc_cb)
			doc_cb((const char *)sqlite3_column_text(q, 0), arg);
	st_release(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto rollback;
	if ((q = st_prep(st, "DELETE FROM inbox WHERE owner = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	rc = sqlite3_step(q);
	st_release(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto rollback;
	if ((q = st_prep(st, "DELETE FROM notifications WHERE user = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	rc = sqlite3_step(q);
	st_release(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto rollback;
	if ((q = st_prep(st, "DELETE FROM jobs WHERE owner = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	rc = sqlite3_step(q);
	st_release(q);
	q = NULL;
	if (rc != SQLITE_DONE || (q = st_prep(st, "DELETE FROM users WHERE id = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		goto rollback;
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	return 1;
rollback:
	st_rollback(st);
	return result;
}

int
store_user_list(struct store *st, int (*cb)(const struct store_user *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT u.id, u.name, u.created, "
	    "(SELECT COUNT(*) FROM jobs j WHERE j.owner = u.id) FROM users u ORDER BY u.name");
	int rc;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_user u = { 0 };
		u.id = sqlite3_column_int64(q, 0);
		st_copy(u.name, sizeof(u.name), sqlite3_column_text(q, 1));
		u.created = sqlite3_column_int64(q, 2);
		u.jobs = sqlite3_column_int64(q, 3);
		if (cb(&u, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

#define JOB_COLUMNS "id, owner, dest, filename, doc, size, pages, format, state, created, " \
                    "updated, reason, fine, priority, send_at, kill_at, max_tries, max_dials, " \
                    "tries, dials, next_try, pages_sent, bit_rate, ecm, remote_id, media"

#define JOB_NCOLUMNS 26

static void
job_row(sqlite3_stmt *q, struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(q, 0);
	j->owner = sqlite3_column_int64(q, 1);
	st_copy(j->dest, sizeof(j->dest), sqlite3_column_text(q, 2));
	st_copy(j->filename, sizeof(j->filename), sqlite3_column_text(q, 3));
	st_copy(j->doc, sizeof(j->doc), sqlite3_column_text(q, 4));
	j->size = sqlite3_column_int64(q, 5);
	j->pages = sqlite3_column_int(q, 6);
	j->format = sqlite3_column_int(q, 7);
	j->state = sqlite3_column_int(q, 8);
	j->created = sqlite3_column_int64(q, 9);
	j->updated = sqlite3_column_int64(q, 10);
	st_copy(j->reason, sizeof(j->reason), sqlite3_column_text(q, 11));
	j->fine = sqlite3_column_int(q, 12);
	j->priority = sqlite3_column_int(q, 13);
	j->send_at = sqlite3_column_int64(q, 14);
	j->kill_at = sqlite3_column_int64(q, 15);
	j->max_tries = sqlite3_column_int(q, 16);
	j->max_dials = sqlite3_column_int(q, 17);
	j->tries = sqlite3_column_int(q, 18);
	j->dials = sqlite3_column_int(q, 19);
	j->next_try = sqlite3_column_int64(q, 20);
	j->pages_sent = sqlite3_column_int(q, 21);
	j->bit_rate = sqlite3_column_int(q, 22);
	j->ecm = sqlite3_column_int(q, 23);
	st_copy(j->remote_id, sizeof(j->remote_id), sqlite3_column_text(q, 24));
	st_copy(j->media, sizeof(j->media), sqlite3_column_text(q, 25));
}

static void
job_decode(sqlite3_stmt *q, void *out)
{
	job_row(q, out);
}

/* Steps q for at most one row, decoded into out, and releases q: 1 a row, 0 none, -1. */
int
st_step_one(sqlite3_stmt *q, void (*decode)(sqlite3_stmt *, void *), void *out)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		decode(q, out);
	st_release(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Runs the bound INSERT q (finalizing it) and, when note is given, writes the notification
 * about the new row (its id put in *note_id first), all in one transaction: a job or a fax is
 * never there without its notification. The new row's id, or -1. */
int64_t
st_insert_with_note(struct store *st, sqlite3_stmt *q, struct store_note *note, int64_t *note_id)
{
	int64_t id;
	int rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		st_release(q);
		return -1;
	}
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		goto rollback;
	id = sqlite3_last_insert_rowid(st->db);
	if (note) {
		*note_id = id;
		if (st_note_insert(st, note) < 0)
			goto rollback;
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	return id;
rollback:
	st_rollback(st);
	return -1;
}

int
store_job_insert(struct store *st, struct store_job *j, struct store_note *note)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO jobs(owner, dest, filename, doc, size, pages, "
	    "format, state, created, updated, reason, fine, priority, send_at, kill_at, max_tries, "
	    "max_dials, next_try) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	j->created = j->updated = (int64_t)time(NULL);
	sqlite3_bind_int64(q, 1, j->owner);
	sqlite3_bind_text(q, 2, j->dest, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, j->filename, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, j->doc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, j->size);
	sqlite3_bind_int(q, 6, j->pages);
	sqlite3_bind_int(q, 7, j->format);
	sqlite3_bind_int(q, 8, j->state);
	sqlite3_bind_int64(q, 9, j->created);
	sqlite3_bind_int64(q, 10, j->updated);
	sqlite3_bind_text(q, 11, j->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 12, j->fine);
	sqlite3_bind_int(q, 13, j->priority);
	sqlite3_bind_int64(q, 14, j->send_at);
	sqlite3_bind_int64(q, 15, j->kill_at);
	sqlite3_bind_int(q, 16, j->max_tries);
	sqlite3_bind_int(q, 17, j->max_dials);
	sqlite3_bind_int64(q, 18, j->next_try);
	j->id = st_insert_with_note(st, q, note, note ? &note->job : NULL);
	if (j->id < 0)
		j->id = 0;
	return j->id > 0 ? 0 : -1;
}

int
store_job_get(struct store *st, int64_t owner, int64_t id, struct store_job *j)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ? AND owner = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	return st_step_one(q, job_decode, j);
}

int
store_job_list(struct store *st, int64_t owner, int (*cb)(const struct store_job *, void *),
    void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE owner = ? ORDER BY id");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, owner);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_job j;
		job_row(q, &j);
		if (cb(&j, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_job_transition(struct store *st, int64_t owner, int64_t id, unsigned from_mask, int state,
    const char *reason, struct store_job *j, struct store_note *note)
{
	sqlite3_stmt *q;
	int rc, found;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	found = store_job_get(st, owner, id, j);
	if (found <= 0) {
		st_rollback(st);
		return found;
	}
	if (!(from_mask & (1u << j->state))) {
		st_rollback(st);
		return 2;
	}
	q = st_prep(st, "UPDATE jobs SET state = ?, reason = ?, updated = ? WHERE id = ?");
	if (q == NULL) {
		st_rollback(st);
		return -1;
	}
	sqlite3_bind_int(q, 1, state);
	sqlite3_bind_text(q, 2, reason ? reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(q, 4, id);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc == SQLITE_DONE && note) {
		note->job = id;
		note->state = state;
		if (st_note_insert(st, note) < 0)
			rc = SQLITE_ERROR;
	}
	if (rc != SQLITE_DONE || sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return -1;
	}
	return store_job_get(st, owner, id, j) == 1 ? 1 : -1;
}

int
store_job_unfinished(struct store *st, int64_t owner, int64_t *count, int64_t *bytes)
{
	sqlite3_stmt *q = st_prep(st, "SELECT jobs, bytes FROM usage WHERE owner = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, owner);
	*count = *bytes = 0;               /* no row: the user never had a job */
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(q, 0);
		*bytes = sqlite3_column_int64(q, 1);
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_doc_in_use(struct store *st, const char *doc)
{
	/* A finished job's document is not needed (it will not be sent again): one the server
	 * did not get to remove before a crash goes at the next start. */
	sqlite3_stmt *q = st_prep(st, "SELECT 1 FROM jobs WHERE doc = ?1 AND state IN " UNFINISHED
	    " UNION ALL SELECT 1 FROM inbox WHERE doc = ?1 LIMIT 1");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_job_save(struct store *st, const struct store_job *j, int expect, struct store_note *note)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	q = st_prep(st, "UPDATE jobs SET state = ?, reason = ?, updated = ?, tries = ?, dials = ?, "
	    "next_try = ?, pages_sent = ?, bit_rate = ?, ecm = ?, remote_id = ?, media = ? "
	    "WHERE id = ? AND owner = ? AND state = ?");
	if (q == NULL) {
		st_rollback(st);
		return -1;
	}
	sqlite3_bind_int(q, 1, j->state);
	sqlite3_bind_text(q, 2, j->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int(q, 4, j->tries);
	sqlite3_bind_int(q, 5, j->dials);
	sqlite3_bind_int64(q, 6, j->next_try);
	sqlite3_bind_int(q, 7, j->pages_sent);
	sqlite3_bind_int(q, 8, j->bit_rate);
	sqlite3_bind_int(q, 9, j->ecm);
	sqlite3_bind_text(q, 10, j->remote_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 11, j->media, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, j->id);
	sqlite3_bind_int64(q, 13, j->owner);
	sqlite3_bind_int(q, 14, expect);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE) {
		st_rollback(st);
		return -1;
	}
	if (sqlite3_changes(st->db) == 0) {
		st_rollback(st);
		return 2;
	}
	if (note) {
		note->job = j->id;
		note->state = j->state;
		if (st_note_insert(st, note) < 0) {
			st_rollback(st);
			return -1;
		}
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return -1;
	}
	return 1;
}

int
store_job_next(struct store *st, int64_t now, struct store_job *j)
{
	/* Past its kill time counts as due: the dispatcher ends it with the reason. */
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE state IN (1, 2) AND "
	    "(next_try <= ?1 OR (kill_at > 0 AND kill_at <= ?1)) ORDER BY priority, id LIMIT 1");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, now);
	return st_step_one(q, job_decode, j);
}

int
store_job_due(struct store *st, int64_t now, struct store_job *out, int limit)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE state IN (1, 2) AND "
	    "(next_try <= ?1 OR (kill_at > 0 AND kill_at <= ?1)) ORDER BY priority, id LIMIT ?2");
	int rc = SQLITE_DONE, n = 0;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, limit);
	while (n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
		job_row(q, &out[n++]);
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

int
store_job_wake(struct store *st, int64_t now, int64_t *wake)
{
	sqlite3_stmt *q = st_prep(st, "SELECT MIN(CASE WHEN kill_at > 0 AND kill_at < next_try "
	    "THEN kill_at ELSE next_try END) FROM jobs WHERE state IN (1, 2) AND next_try > ?");
	int rc;

	*wake = 0;
	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, now);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*wake = sqlite3_column_int64(q, 0);
	st_release(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_job_each_active(struct store *st, int (*cb)(struct store_job *, void *), void *arg)
{
	struct store_job *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE state = 3 ORDER BY id");
	int rc;

	if (q == NULL)
		return -1;
	/* Collected first: the callback writes to the table being read. */
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			struct store_job *more = realloc(list, (cap = cap ? cap * 2 : 8) *
			    sizeof(*list));
			if (more == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			list = more;
		}
		job_row(q, &list[n++]);
	}
	st_release(q);
	if (rc != SQLITE_DONE) {
		free(list);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (cb(&list[i], arg) != 0)
			break;
	free(list);
	return 0;
}

/* The operator's view of the queue */

int
store_job_counts(struct store *st, int64_t counts[NCFX_JOB_SUSPENDED + 1])
{
	sqlite3_stmt *q = st_prep(st, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
	int rc;

	if (q == NULL)
		return -1;
	for (int i = 0; i <= NCFX_JOB_SUSPENDED; i++)
		counts[i] = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int state = sqlite3_column_int(q, 0);
		if (state >= 0 && state <= NCFX_JOB_SUSPENDED)
			counts[state] = sqlite3_column_int64(q, 1);
	}
	st_release(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs q, bound, over jobs joined with their owner's name (the column after the job's). */
static int
each_job_named(sqlite3_stmt *q, int (*cb)(const struct store_job *, const char *, void *),
    void *arg)
{
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_job j;
		char user[NCFX_USER_MAX + 1];

		job_row(q, &j);
		st_copy(user, sizeof(user), sqlite3_column_text(q, JOB_NCOLUMNS));
		if (cb(&j, user, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_job_upcoming(struct store *st, int64_t now, int limit,
    int (*cb)(const struct store_job *, const char *, void *), void *arg)
{
	/* store_job_next's order, looked further ahead: a job due by now (or past its kill
	 * time, which the queue ends at once) goes by priority, the others when they fall due. */
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS ", COALESCE((SELECT name FROM users u "
	    "WHERE u.id = jobs.owner), '') FROM jobs WHERE state IN (1, 2) ORDER BY "
	    "CASE WHEN next_try <= ?1 OR (kill_at > 0 AND kill_at <= ?1) THEN 0 ELSE "
	    "next_try END, priority, id LIMIT ?2");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, limit);
	return each_job_named(q, cb, arg);
}

int
store_job_failed_since(struct store *st, int64_t since, int limit,
    int (*cb)(const struct store_job *, const char *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS ", COALESCE((SELECT name FROM users u "
	    "WHERE u.id = jobs.owner), '') FROM jobs WHERE state = 5 AND updated >= ? "
	    "ORDER BY updated DESC, id DESC LIMIT ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, since);
	sqlite3_bind_int(q, 2, limit);
	return each_job_named(q, cb, arg);
}

/* The inbox */

#define FAX_COLUMNS "id, owner, number, remote_id, doc, pages, size, fine, bit_rate, ecm, " \
                    "read, received, note, media"

static void fax_row(sqlite3_stmt *q, struct store_fax *f);

static void
fax_decode(sqlite3_stmt *q, void *out)
{
	fax_row(q, out);
}

static void
fax_row(sqlite3_stmt *q, struct store_fax *f)
{
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(q, 0);
	f->owner = sqlite3_column_int64(q, 1);
	st_copy(f->number, sizeof(f->number), sqlite3_column_text(q, 2));
	st_copy(f->remote_id, sizeof(f->remote_id), sqlite3_column_text(q, 3));
	st_copy(f->doc, sizeof(f->doc), sqlite3_column_text(q, 4));
	f->pages = sqlite3_column_int(q, 5);
	f->size = sqlite3_column_int64(q, 6);
	f->fine = sqlite3_column_int(q, 7);
	f->bit_rate = sqlite3_column_int(q, 8);
	f->ecm = sqlite3_column_int(q, 9);
	f->read = sqlite3_column_int(q, 10);
	f->received = sqlite3_column_int64(q, 11);
	st_copy(f->note, sizeof(f->note), sqlite3_column_text(q, 12));
	st_copy(f->media, sizeof(f->media), sqlite3_column_text(q, 13));
}

int
store_fax_insert(struct store *st, struct store_fax *f, struct store_note *note)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO inbox(owner, number, remote_id, doc, pages, size, "
	    "fine, bit_rate, ecm, read, received, note, media) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)");

	if (q == NULL)
		return -1;
	if (f->received == 0)
		f->received = (int64_t)time(NULL);
	sqlite3_bind_int64(q, 1, f->owner);
	sqlite3_bind_text(q, 2, f->number, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, f->remote_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, f->doc, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, f->pages);
	sqlite3_bind_int64(q, 6, f->size);
	sqlite3_bind_int(q, 7, f->fine);
	sqlite3_bind_int(q, 8, f->bit_rate);
	sqlite3_bind_int(q, 9, f->ecm);
	sqlite3_bind_int64(q, 10, f->received);
	sqlite3_bind_text(q, 11, f->note, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 12, f->media, -1, SQLITE_STATIC);
	f->id = st_insert_with_note(st, q, note, note ? &note->fax : NULL);
	if (f->id < 0)
		f->id = 0;
	return f->id > 0 ? 0 : -1;
}

int
store_fax_get(struct store *st, int64_t owner, int64_t id, struct store_fax *f)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " FAX_COLUMNS " FROM inbox WHERE id = ? AND owner = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	return st_step_one(q, fax_decode, f);
}

int
store_fax_list(struct store *st, int64_t owner, int unread_only,
    int (*cb)(const struct store_fax *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " FAX_COLUMNS " FROM inbox WHERE owner = ? AND "
	    "(? = 0 OR read = 0) ORDER BY id DESC");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, owner);
	sqlite3_bind_int(q, 2, unread_only);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_fax f;
		fax_row(q, &f);
		if (cb(&f, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_fax_mark(struct store *st, int64_t owner, int64_t id, int read)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE inbox SET read = ? WHERE id = ? AND owner = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int(q, 1, read ? 1 : 0);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_int64(q, 3, owner);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int
store_fax_delete(struct store *st, int64_t owner, int64_t id, char *doc, size_t doccap)
{
	struct store_fax f;
	sqlite3_stmt *q;
	int rc = store_fax_get(st, owner, id, &f);

	if (rc <= 0)
		return rc;
	if ((q = st_prep(st, "DELETE FROM inbox WHERE id = ? AND owner = ?")) == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		return -1;
	snprintf(doc, doccap, "%s", f.doc);
	return 1;
}

/* Notifications */

/* Inside a transaction: takes the user's next sequence number and appends the row. */
int
st_note_insert(struct store *st, struct store_note *n)
{
	sqlite3_stmt *q;
	int rc;

	q = st_prep(st, "UPDATE users SET next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq - 1");
	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, n->user);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		n->seq = (uint64_t)sqlite3_column_int64(q, 0);
	st_release(q);
	if (rc != SQLITE_ROW)
		return -1;
	q = st_prep(st, "INSERT INTO notifications(user, seq, event, job, state, text, created, "
	    "page, pages, bit_rate, ecm, remote_id, fax, media) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (q == NULL)
		return -1;
	if (n->created == 0)
		n->created = (int64_t)time(NULL);
	sqlite3_bind_int64(q, 1, n->user);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)n->seq);
	sqlite3_bind_int(q, 3, n->event);
	sqlite3_bind_int64(q, 4, n->job);
	sqlite3_bind_int(q, 5, n->state);
	sqlite3_bind_text(q, 6, n->text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, n->created);
	sqlite3_bind_int(q, 8, n->page);
	sqlite3_bind_int(q, 9, n->pages);
	sqlite3_bind_int(q, 10, n->bit_rate);
	sqlite3_bind_int(q, 11, n->ecm);
	sqlite3_bind_text(q, 12, n->remote_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 13, n->fax);
	sqlite3_bind_text(q, 14, n->media, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_note_add(struct store *st, struct store_note *n)
{
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (st_note_insert(st, n) < 0 ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return -1;
	}
	return 0;
}

int
store_note_list(struct store *st, int64_t user, uint64_t after, int limit,
    int (*cb)(const struct store_note *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT n.seq, n.event, n.job, n.state, n.text, n.created, "
	    "j.dest, j.filename, n.page, n.pages, n.bit_rate, n.ecm, n.remote_id, n.fax, n.media "
	    "FROM notifications n LEFT JOIN jobs j ON j.id = n.job "
	    "WHERE n.user = ? AND n.seq > ? ORDER BY n.seq LIMIT ?");
	int rc, count = 0;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, user);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)after);
	sqlite3_bind_int(q, 3, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_note n;
		memset(&n, 0, sizeof(n));
		n.user = user;
		n.seq = (uint64_t)sqlite3_column_int64(q, 0);
		n.event = sqlite3_column_int(q, 1);
		n.job = sqlite3_column_int64(q, 2);
		n.state = sqlite3_column_int(q, 3);
		st_copy(n.text, sizeof(n.text), sqlite3_column_text(q, 4));
		n.created = sqlite3_column_int64(q, 5);
		st_copy(n.dest, sizeof(n.dest), sqlite3_column_text(q, 6));
		st_copy(n.filename, sizeof(n.filename), sqlite3_column_text(q, 7));
		n.page = sqlite3_column_int(q, 8);
		n.pages = sqlite3_column_int(q, 9);
		n.bit_rate = sqlite3_column_int(q, 10);
		n.ecm = sqlite3_column_int(q, 11);
		st_copy(n.remote_id, sizeof(n.remote_id), sqlite3_column_text(q, 12));
		n.fax = sqlite3_column_int64(q, 13);
		st_copy(n.media, sizeof(n.media), sqlite3_column_text(q, 14));
		count++;
		if (cb(&n, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? count : -1;
}

int
store_user_seqs(struct store *st, int64_t user, uint64_t *last, uint64_t *acked)
{
	sqlite3_stmt *q = st_prep(st, "SELECT next_seq - 1, acked_seq FROM users WHERE id = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, user);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*last = (uint64_t)sqlite3_column_int64(q, 0);
		*acked = (uint64_t)sqlite3_column_int64(q, 1);
	}
	st_release(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_ack(struct store *st, int64_t user, uint64_t seq)
{
	/* Never past what was assigned, never backwards. */
	sqlite3_stmt *q = st_prep(st, "UPDATE users SET acked_seq = ? WHERE id = ? AND acked_seq < ? "
	    "AND ? < next_seq");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(q, 2, user);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)seq);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)seq);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_ack_batch(struct store *st, const int64_t *users, const uint64_t *seqs, int n)
{
	int rc;

	/* The write lock is taken here, so only here is there anything to wait for. */
	sqlite3_busy_timeout(st->db, STORE_QUICK_BUSY_MS);
	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if (rc != SQLITE_OK)
		return -1;
	for (int i = 0; i < n; i++)
		if (store_user_ack(st, users[i], seqs[i]) < 0) {
			st_rollback(st);
			return -1;
		}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return -1;
	}
	return 0;
}

int
store_note_prune(struct store *st, int64_t cutoff, int64_t keep_max)
{
	sqlite3_stmt *q = st_prep(st, "DELETE FROM notifications WHERE (created < ? AND seq <= "
	    "(SELECT acked_seq FROM users u WHERE u.id = notifications.user)) OR seq <= "
	    "(SELECT next_seq - 1 - ? FROM users u WHERE u.id = notifications.user)");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, cutoff);
	sqlite3_bind_int64(q, 2, keep_max);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? sqlite3_changes(st->db) : -1;
}

int64_t
store_data_version(struct store *st)
{
	sqlite3_stmt *q = st_prep(st, "PRAGMA data_version");
	int64_t v = -1;

	if (q == NULL)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	st_release(q);
	return v;
}

/* Sessions */

/* The sessions table only mirrors live connections for the operator (it is emptied at every
 * start), so its writes are not worth an fsync each: they commit without one, in WAL order
 * behind everything durable. Thousands of clients logging in at once after a restart would
 * otherwise wait on two fsyncs apiece. Nor are they worth a long wait for another program's
 * lock (STORE_QUICK_BUSY_MS). */
int
st_exec_bound(struct store *st, sqlite3_stmt *q)
{
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_exec(st->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	sqlite3_busy_timeout(st->db, STORE_QUICK_BUSY_MS);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		st_keep_error(st);               /* the statements below would clear it */
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_session_add(struct store *st, uint64_t id, int64_t user, const char *addr, int scp_port,
    int scp_mode)
{
	sqlite3_stmt *q = st_prep(st, "INSERT OR REPLACE INTO sessions(id, user, addr, scp_port, "
	    "scp_mode, created, scp_state) VALUES(?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(q, 2, user);
	sqlite3_bind_text(q, 3, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, scp_port);
	sqlite3_bind_int(q, 5, scp_mode);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(q, 7, scp_port ? "registered" : "none", -1, SQLITE_STATIC);
	return st_exec_bound(st, q);
}

int
store_session_set_scp(struct store *st, uint64_t id, int path, const char *state)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE sessions SET path = ?, scp_state = ? WHERE id = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int(q, 1, path);
	sqlite3_bind_text(q, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)id);
	return st_exec_bound(st, q);
}

int
store_session_set_port(struct store *st, uint64_t id, int scp_port, int scp_mode)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE sessions SET scp_port = ?, scp_mode = ? WHERE id = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int(q, 1, scp_port);
	sqlite3_bind_int(q, 2, scp_mode);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)id);
	return st_exec_bound(st, q);
}

int
store_session_del(struct store *st, uint64_t id)
{
	sqlite3_stmt *q = st_prep(st, "DELETE FROM sessions WHERE id = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	return st_exec_bound(st, q);
}

int
store_session_clear(struct store *st)
{
	return sqlite3_exec(st->db, "DELETE FROM sessions", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int
store_session_list(struct store *st, int (*cb)(const struct store_session *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT s.id, u.name, s.addr, s.scp_port, s.scp_mode, "
	    "s.created, s.scp_state, s.path FROM sessions s JOIN users u ON u.id = s.user "
	    "ORDER BY u.name, s.created");
	int rc;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_session x;
		memset(&x, 0, sizeof(x));
		x.id = (uint64_t)sqlite3_column_int64(q, 0);
		st_copy(x.user, sizeof(x.user), sqlite3_column_text(q, 1));
		st_copy(x.addr, sizeof(x.addr), sqlite3_column_text(q, 2));
		x.scp_port = sqlite3_column_int(q, 3);
		x.scp_mode = sqlite3_column_int(q, 4);
		x.created = sqlite3_column_int64(q, 5);
		st_copy(x.scp_state, sizeof(x.scp_state), sqlite3_column_text(q, 6));
		x.path = sqlite3_column_int(q, 7);
		if (cb(&x, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Fax lines: written like the session rows, without an fsync each (they are rewritten at
 * every start), and only when a call starts, is answered, confirms a page or ends. */

int
store_line_reset(struct store *st, int n)
{
	sqlite3_stmt *q;
	int rc = SQLITE_DONE;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(st->db, "DELETE FROM lines", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	for (int i = 1; i <= n && rc == SQLITE_DONE; i++) {
		if ((q = st_prep(st, "INSERT INTO lines(line, since) VALUES(?, ?)")) == NULL)
			goto rollback;
		sqlite3_bind_int(q, 1, i);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)time(NULL));
		rc = sqlite3_step(q);
		st_release(q);
	}
	if (rc != SQLITE_DONE || sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	return 0;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
store_line_set(struct store *st, const struct store_line *l)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE lines SET job = ?, owner = ?, dest = ?, remote_id = ?, "
	    "connected = ?, pages_sent = ?, pages = ?, bit_rate = ?, since = ?, name = ? "
	    "WHERE line = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, l->job);
	sqlite3_bind_int64(q, 2, l->owner);
	sqlite3_bind_text(q, 3, l->dest, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, l->remote_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, l->connected);
	sqlite3_bind_int(q, 6, l->pages_sent);
	sqlite3_bind_int(q, 7, l->pages);
	sqlite3_bind_int(q, 8, l->bit_rate);
	sqlite3_bind_int64(q, 9, l->since);
	sqlite3_bind_text(q, 10, l->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 11, l->line);
	return st_exec_bound(st, q);
}

int
store_line_list(struct store *st, int (*cb)(const struct store_line *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT l.line, l.job, l.owner, COALESCE(u.name, ''), l.dest, "
	    "l.remote_id, l.connected, l.pages_sent, l.pages, l.bit_rate, l.since, l.name "
	    "FROM lines l "
	    "LEFT JOIN users u ON u.id = l.owner ORDER BY l.line");
	int rc;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_line l;
		memset(&l, 0, sizeof(l));
		l.line = sqlite3_column_int(q, 0);
		l.job = sqlite3_column_int64(q, 1);
		l.owner = sqlite3_column_int64(q, 2);
		st_copy(l.user, sizeof(l.user), sqlite3_column_text(q, 3));
		st_copy(l.dest, sizeof(l.dest), sqlite3_column_text(q, 4));
		st_copy(l.remote_id, sizeof(l.remote_id), sqlite3_column_text(q, 5));
		l.connected = sqlite3_column_int(q, 6);
		l.pages_sent = sqlite3_column_int(q, 7);
		l.pages = sqlite3_column_int(q, 8);
		l.bit_rate = sqlite3_column_int(q, 9);
		l.since = sqlite3_column_int64(q, 10);
		st_copy(l.name, sizeof(l.name), sqlite3_column_text(q, 11));
		if (cb(&l, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_trunk_reset(struct store *st)
{
	return sqlite3_exec(st->db, "DELETE FROM trunks", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int
store_trunk_set(struct store *st, const struct store_trunk *t)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO trunks(trunk, name, registrar, up, words, since) "
	    "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(trunk) DO UPDATE SET name = excluded.name, "
	    "registrar = excluded.registrar, up = excluded.up, words = excluded.words, "
	    "since = excluded.since");

	if (q == NULL)
		return -1;
	sqlite3_bind_int(q, 1, t->trunk);
	sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->registrar, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, t->up);
	sqlite3_bind_text(q, 5, t->words, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, t->since);
	return st_exec_bound(st, q);
}

int
store_trunk_list(struct store *st, int (*cb)(const struct store_trunk *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT trunk, name, registrar, up, words, since FROM trunks "
	    "ORDER BY trunk");
	int rc;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_trunk t;

		memset(&t, 0, sizeof(t));
		t.trunk = sqlite3_column_int(q, 0);
		st_copy(t.name, sizeof(t.name), sqlite3_column_text(q, 1));
		st_copy(t.registrar, sizeof(t.registrar), sqlite3_column_text(q, 2));
		t.up = sqlite3_column_int(q, 3);
		st_copy(t.words, sizeof(t.words), sqlite3_column_text(q, 4));
		t.since = sqlite3_column_int64(q, 5);
		if (cb(&t, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Resume tokens. Like the session rows, they are written without an fsync each, so that a
 * storm of reconnects does not wait on the disk. A power cut may lose the last changes: a
 * token issued just before costs its client one password check, and a rotation undone makes
 * the token before it valid again (for its holder, whom TLS kept it to) and the newer one
 * not, which again costs a password check. */

int
store_token_add(struct store *st, const uint8_t hash[32], int64_t user, int64_t cred_gen,
    int64_t born)
{
	/* Only while the password that was checked is still the user's: a change committed
	 * during the check (it takes a while, on a worker thread) leaves no token behind. */
	sqlite3_stmt *q = st_prep(st, "INSERT INTO resume_tokens(hash, user, born) SELECT ?, id, ? "
	    "FROM users WHERE id = ? AND cred_gen = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, born);
	sqlite3_bind_int64(q, 3, user);
	sqlite3_bind_int64(q, 4, cred_gen);
	if (st_exec_bound(st, q) < 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

int
store_token_rotate(struct store *st, const uint8_t old_hash[32], const uint8_t new_hash[32],
    int64_t user, int64_t born_after)
{
	/* One statement: a password change lands wholly before it (no token to rotate) or
	 * after it (the new token is deleted with the rest). */
	sqlite3_stmt *q = st_prep(st, "UPDATE resume_tokens SET hash = ? WHERE hash = ? AND user = ? "
	    "AND born > ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_blob(q, 1, new_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, old_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, user);
	sqlite3_bind_int64(q, 4, born_after);
	if (st_exec_bound(st, q) < 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int
store_token_purge(struct store *st, int64_t born_before)
{
	sqlite3_stmt *q = st_prep(st, "DELETE FROM resume_tokens WHERE born < ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, born_before);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? sqlite3_changes(st->db) : -1;
}

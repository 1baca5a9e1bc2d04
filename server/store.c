/* store.c: SQLite behind netcfaxd: the connection (opening, errors, the statement cache) and
 * the helpers the store's files share (store_int.h). The schema and its history are in
 * store_schema.c, the queries by what they are about in store_users.c, store_jobs.c,
 * store_inbox.c, store_notes.c and store_live.c. The store's files are the only ones that
 * include sqlite3.h. */
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

/* Steps q for at most one row, decoded into out, and releases q: STORE_OK a row, STORE_NONE
 * none, STORE_ERR. */
enum store_rc
st_step_one(sqlite3_stmt *q, void (*decode)(sqlite3_stmt *, void *), void *out)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		decode(q, out);
	st_release(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NONE : STORE_ERR;
}

/* Writes that are not worth an fsync each (the sessions and lines rows mirror the live server
 * and are rewritten at every start; resume tokens cost a password check at worst) commit
 * without one, in WAL order behind everything durable. Thousands of clients logging in at once
 * after a restart would otherwise wait on two fsyncs apiece. Nor are they worth a long wait
 * for another program's lock (STORE_QUICK_BUSY_MS). */
enum store_rc
st_exec_bound(struct store *st, sqlite3_stmt *q)
{
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_exec(st->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	sqlite3_busy_timeout(st->db, STORE_QUICK_BUSY_MS);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		st_keep_error(st);               /* the pragmas after it would clear it */
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
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

/* store.c: SQLite behind netcfaxd. The only file that includes sqlite3.h. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define SCHEMA_VERSION 1

struct store {
	sqlite3 *db;
};

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  pwhash TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  owner INTEGER NOT NULL REFERENCES users(id),"
    "  dest TEXT NOT NULL,"
    "  filename TEXT NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  pages INTEGER NOT NULL,"
    "  format INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, id);"
    "CREATE INDEX IF NOT EXISTS jobs_doc ON jobs(doc);";

static void
copy(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	char *msg = NULL;
	int version = 0;
	sqlite3_stmt *q;

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) :
		    "cannot open");
		goto fail;
	}
	/* The admin tool writes while the server runs: wait for the other writer. */
	sqlite3_busy_timeout(st->db, 5000);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;", NULL, NULL, &msg) != SQLITE_OK)
		goto sqlfail;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		goto sqlfail;
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: database schema %d is newer than this netcfaxd (%d)",
		    path, version, SCHEMA_VERSION);
		goto fail;
	}
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(st->db, "PRAGMA user_version=1", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto sqlfail;
	return st;
sqlfail:
	snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(st->db));
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
	sqlite3_close_v2(st->db);
	free(st);
}

const char *
store_errmsg(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

static sqlite3_stmt *
prep(struct store *st, const char *sql)
{
	sqlite3_stmt *q = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	return q;
}

int
store_user_add(struct store *st, const char *name, const char *pwhash)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO users(name, pwhash, created) VALUES(?, ?, ?)");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_CONSTRAINT)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_get(struct store *st, const char *name, struct store_user *u)
{
	sqlite3_stmt *q = prep(st, "SELECT id, name, pwhash, created FROM users WHERE name = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(q, 0);
		copy(u->name, sizeof(u->name), sqlite3_column_text(q, 1));
		copy(u->pwhash, sizeof(u->pwhash), sqlite3_column_text(q, 2));
		u->created = sqlite3_column_int64(q, 3);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_set_password(struct store *st, const char *name, const char *pwhash)
{
	sqlite3_stmt *q = prep(st, "UPDATE users SET pwhash = ? WHERE name = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

#define UNFINISHED "(1, 2, 3, 7)"   /* pending, sleeping, active, suspended */

int
store_user_del(struct store *st, const char *name, int force,
    void (*doc_cb)(const char *, void *), void *arg)
{
	struct store_user u;
	sqlite3_stmt *q = NULL;
	int rc, result = -1;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	rc = store_user_get(st, name, &u);
	if (rc <= 0) {
		result = rc;
		goto rollback;
	}
	if (!force && store_job_count_unfinished(st, u.id) > 0) {
		result = 2;
		goto rollback;
	}
	if ((q = prep(st, "SELECT doc FROM jobs WHERE owner = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (doc_cb)
			doc_cb((const char *)sqlite3_column_text(q, 0), arg);
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto rollback;
	if ((q = prep(st, "DELETE FROM jobs WHERE owner = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE || (q = prep(st, "DELETE FROM users WHERE id = ?")) == NULL)
		goto rollback;
	sqlite3_bind_int64(q, 1, u.id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		goto rollback;
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	return 1;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return result;
}

int
store_user_list(struct store *st, int (*cb)(const struct store_user *, void *), void *arg)
{
	sqlite3_stmt *q = prep(st, "SELECT u.id, u.name, u.created, "
	    "(SELECT COUNT(*) FROM jobs j WHERE j.owner = u.id) FROM users u ORDER BY u.name");
	int rc;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_user u = { 0 };
		u.id = sqlite3_column_int64(q, 0);
		copy(u.name, sizeof(u.name), sqlite3_column_text(q, 1));
		u.created = sqlite3_column_int64(q, 2);
		u.jobs = sqlite3_column_int64(q, 3);
		if (cb(&u, arg) != 0)
			break;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

#define JOB_COLUMNS "id, owner, dest, filename, doc, size, pages, format, state, created, " \
                    "updated, reason"

static void
job_row(sqlite3_stmt *q, struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(q, 0);
	j->owner = sqlite3_column_int64(q, 1);
	copy(j->dest, sizeof(j->dest), sqlite3_column_text(q, 2));
	copy(j->filename, sizeof(j->filename), sqlite3_column_text(q, 3));
	copy(j->doc, sizeof(j->doc), sqlite3_column_text(q, 4));
	j->size = sqlite3_column_int64(q, 5);
	j->pages = sqlite3_column_int(q, 6);
	j->format = sqlite3_column_int(q, 7);
	j->state = sqlite3_column_int(q, 8);
	j->created = sqlite3_column_int64(q, 9);
	j->updated = sqlite3_column_int64(q, 10);
	copy(j->reason, sizeof(j->reason), sqlite3_column_text(q, 11));
}

int
store_job_insert(struct store *st, struct store_job *j)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO jobs(owner, dest, filename, doc, size, pages, "
	    "format, state, created, updated, reason) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	int rc;

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
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	j->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
store_job_get(struct store *st, int64_t owner, int64_t id, struct store_job *j)
{
	sqlite3_stmt *q = prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ? AND owner = ?");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		job_row(q, j);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_job_list(struct store *st, int64_t owner, int (*cb)(const struct store_job *, void *),
    void *arg)
{
	sqlite3_stmt *q = prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE owner = ? ORDER BY id");
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
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_job_transition(struct store *st, int64_t owner, int64_t id, unsigned from_mask, int state,
    const char *reason, struct store_job *j)
{
	sqlite3_stmt *q;
	int rc, found;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	found = store_job_get(st, owner, id, j);
	if (found <= 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return found;
	}
	if (!(from_mask & (1u << j->state))) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return 2;
	}
	q = prep(st, "UPDATE jobs SET state = ?, reason = ?, updated = ? WHERE id = ?");
	if (q == NULL) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	sqlite3_bind_int(q, 1, state);
	sqlite3_bind_text(q, 2, reason ? reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(q, 4, id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE || sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return store_job_get(st, owner, id, j) == 1 ? 1 : -1;
}

int64_t
store_job_count_unfinished(struct store *st, int64_t owner)
{
	sqlite3_stmt *q = prep(st, "SELECT COUNT(*) FROM jobs WHERE owner = ? AND state IN "
	    UNFINISHED);
	int64_t n = -1;

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, owner);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

int
store_doc_in_use(struct store *st, const char *doc)
{
	sqlite3_stmt *q = prep(st, "SELECT 1 FROM jobs WHERE doc = ? LIMIT 1");
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

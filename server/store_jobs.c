/* store_jobs.c: the fax jobs: each user's queue, the fax queue's view of it, and the
 * operator's across users. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum store_rc
store_job_insert(struct store *st, struct store_job *j, struct store_note *note)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO jobs(owner, dest, filename, doc, size, pages, "
	    "format, state, created, updated, reason, fine, priority, send_at, kill_at, max_tries, "
	    "max_dials, next_try) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return STORE_ERR;
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
	return j->id > 0 ? STORE_OK : STORE_ERR;
}

enum store_rc
store_job_get(struct store *st, int64_t owner, int64_t id, struct store_job *j)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ? AND owner = ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	return st_step_one(q, job_decode, j);
}

enum store_rc
store_job_list(struct store *st, int64_t owner, int (*cb)(const struct store_job *, void *),
    void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE owner = ? ORDER BY id");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, owner);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_job j;
		job_row(q, &j);
		if (cb(&j, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_job_transition(struct store *st, int64_t owner, int64_t id, unsigned from_mask, int state,
    const char *reason, struct store_job *j, struct store_note *note)
{
	sqlite3_stmt *q;
	enum store_rc found;
	int rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return STORE_ERR;
	found = store_job_get(st, owner, id, j);
	if (found != STORE_OK) {
		st_rollback(st);
		return found;
	}
	if (!(from_mask & (1u << j->state))) {
		st_rollback(st);
		return STORE_STALE;
	}
	q = st_prep(st, "UPDATE jobs SET state = ?, reason = ?, updated = ? WHERE id = ?");
	if (q == NULL) {
		st_rollback(st);
		return STORE_ERR;
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
		if (st_note_insert(st, note) != STORE_OK)
			rc = SQLITE_ERROR;
	}
	if (rc != SQLITE_DONE || sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return STORE_ERR;
	}
	return store_job_get(st, owner, id, j) == STORE_OK ? STORE_OK : STORE_ERR;
}

enum store_rc
store_job_unfinished(struct store *st, int64_t owner, int64_t *count, int64_t *bytes)
{
	sqlite3_stmt *q = st_prep(st, "SELECT jobs, bytes FROM usage WHERE owner = ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, owner);
	*count = *bytes = 0;               /* no row: the user never had a job */
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(q, 0);
		*bytes = sqlite3_column_int64(q, 1);
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_doc_in_use(struct store *st, const char *doc)
{
	/* A finished job's document is not needed (it will not be sent again): one the server
	 * did not get to remove before a crash goes at the next start. */
	sqlite3_stmt *q = st_prep(st, "SELECT 1 FROM jobs WHERE doc = ?1 AND state IN " UNFINISHED
	    " UNION ALL SELECT 1 FROM inbox WHERE doc = ?1 LIMIT 1");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NONE : STORE_ERR;
}

enum store_rc
store_job_save(struct store *st, const struct store_job *j, int expect, struct store_note *note)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return STORE_ERR;
	q = st_prep(st, "UPDATE jobs SET state = ?, reason = ?, updated = ?, tries = ?, dials = ?, "
	    "next_try = ?, pages_sent = ?, bit_rate = ?, ecm = ?, remote_id = ?, media = ? "
	    "WHERE id = ? AND owner = ? AND state = ?");
	if (q == NULL) {
		st_rollback(st);
		return STORE_ERR;
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
		return STORE_ERR;
	}
	if (sqlite3_changes(st->db) == 0) {
		st_rollback(st);
		return STORE_STALE;
	}
	if (note) {
		note->job = j->id;
		note->state = j->state;
		if (st_note_insert(st, note) != STORE_OK) {
			st_rollback(st);
			return STORE_ERR;
		}
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return STORE_ERR;
	}
	return STORE_OK;
}

enum store_rc
store_job_next(struct store *st, int64_t now, struct store_job *j)
{
	/* Past its kill time counts as due: the dispatcher ends it with the reason. */
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE state IN (1, 2) AND "
	    "(next_try <= ?1 OR (kill_at > 0 AND kill_at <= ?1)) ORDER BY priority, id LIMIT 1");

	if (q == NULL)
		return STORE_ERR;
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
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, limit);
	while (n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
		job_row(q, &out[n++]);
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : STORE_ERR;
}

enum store_rc
store_job_wake(struct store *st, int64_t now, int64_t *wake)
{
	sqlite3_stmt *q = st_prep(st, "SELECT MIN(CASE WHEN kill_at > 0 AND kill_at < next_try "
	    "THEN kill_at ELSE next_try END) FROM jobs WHERE state IN (1, 2) AND next_try > ?");
	int rc;

	*wake = 0;
	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, now);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*wake = sqlite3_column_int64(q, 0);
	st_release(q);
	return rc == SQLITE_ROW ? STORE_OK : STORE_ERR;
}

enum store_rc
store_job_each_active(struct store *st, int (*cb)(struct store_job *, void *), void *arg)
{
	struct store_job *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE state = 3 ORDER BY id");
	int rc;

	if (q == NULL)
		return STORE_ERR;
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
		return STORE_ERR;
	}
	for (size_t i = 0; i < n; i++)
		if (cb(&list[i], arg) != 0)
			break;
	free(list);
	return STORE_OK;
}

/* The operator's view of the queue */

enum store_rc
store_job_counts(struct store *st, int64_t counts[NCFX_JOB_SUSPENDED + 1])
{
	sqlite3_stmt *q = st_prep(st, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	for (int i = 0; i <= NCFX_JOB_SUSPENDED; i++)
		counts[i] = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int state = sqlite3_column_int(q, 0);
		if (state >= 0 && state <= NCFX_JOB_SUSPENDED)
			counts[state] = sqlite3_column_int64(q, 1);
	}
	st_release(q);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

/* Runs q, bound, over jobs joined with their owner's name (the column after the job's). */
static enum store_rc
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
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
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
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, limit);
	return each_job_named(q, cb, arg);
}

enum store_rc
store_job_failed_since(struct store *st, int64_t since, int limit,
    int (*cb)(const struct store_job *, const char *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " JOB_COLUMNS ", COALESCE((SELECT name FROM users u "
	    "WHERE u.id = jobs.owner), '') FROM jobs WHERE state = 5 AND updated >= ? "
	    "ORDER BY updated DESC, id DESC LIMIT ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, since);
	sqlite3_bind_int(q, 2, limit);
	return each_job_named(q, cb, arg);
}

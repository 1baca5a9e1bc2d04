/* store_users.c: the accounts (users) and their resume tokens. */
#include "store_int.h"

#include <string.h>
#include <time.h>

enum store_rc
store_user_add(struct store *st, const char *name, const char *pwhash)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO users(name, pwhash, created) VALUES(?, ?, ?)");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	st_release(q);
	if (rc == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_user_get(struct store *st, const char *name, struct store_user *u)
{
	sqlite3_stmt *q = st_prep(st, "SELECT id, name, pwhash, created, cred_gen FROM users WHERE "
	    "name = ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
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
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NONE : STORE_ERR;
}

enum store_rc
store_user_name(struct store *st, int64_t id, char *name, size_t cap)
{
	sqlite3_stmt *q = st_prep(st, "SELECT name FROM users WHERE id = ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		st_copy(name, cap, sqlite3_column_text(q, 0));
	st_release(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NONE : STORE_ERR;
}

enum store_rc
store_user_set_password(struct store *st, const char *name, const char *pwhash)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE users SET pwhash = ? WHERE name = ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_text(q, 1, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		return STORE_ERR;
	return sqlite3_changes(st->db) > 0 ? STORE_OK : STORE_NONE;
}

enum store_rc
store_user_del(struct store *st, const char *name, int force,
    void (*doc_cb)(const char *, void *), void *arg)
{
	struct store_user u;
	sqlite3_stmt *q = NULL;
	int64_t count = 0, bytes = 0;
	enum store_rc result = STORE_ERR, found;
	int rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return STORE_ERR;
	found = store_user_get(st, name, &u);
	if (found != STORE_OK) {
		result = found;
		goto rollback;
	}
	if (!force && (store_job_unfinished(st, u.id, &count, &bytes) != STORE_OK ||
	    count > 0)) {
		result = STORE_IN_USE;
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
	return STORE_OK;
rollback:
	st_rollback(st);
	return result;
}

enum store_rc
store_user_list(struct store *st, int (*cb)(const struct store_user *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT u.id, u.name, u.created, "
	    "(SELECT COUNT(*) FROM jobs j WHERE j.owner = u.id) FROM users u ORDER BY u.name");
	int rc;

	if (q == NULL)
		return STORE_ERR;
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
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

/* Resume tokens. Like the session rows, they are written without an fsync each, so that a
 * storm of reconnects does not wait on the disk. A power cut may lose the last changes: a
 * token issued just before costs its client one password check, and a rotation undone makes
 * the token before it valid again (for its holder, whom TLS kept it to) and the newer one
 * not, which again costs a password check. */

enum store_rc
store_token_add(struct store *st, const uint8_t hash[32], int64_t user, int64_t cred_gen,
    int64_t born)
{
	/* Only while the password that was checked is still the user's: a change committed
	 * during the check (it takes a while, on a worker thread) leaves no token behind. */
	sqlite3_stmt *q = st_prep(st, "INSERT INTO resume_tokens(hash, user, born) SELECT ?, id, ? "
	    "FROM users WHERE id = ? AND cred_gen = ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, born);
	sqlite3_bind_int64(q, 3, user);
	sqlite3_bind_int64(q, 4, cred_gen);
	if (st_exec_bound(st, q) != STORE_OK)
		return STORE_ERR;
	return sqlite3_changes(st->db) > 0 ? STORE_OK : STORE_STALE;
}

enum store_rc
store_token_rotate(struct store *st, const uint8_t old_hash[32], const uint8_t new_hash[32],
    int64_t user, int64_t born_after)
{
	/* One statement: a password change lands wholly before it (no token to rotate) or
	 * after it (the new token is deleted with the rest). */
	sqlite3_stmt *q = st_prep(st, "UPDATE resume_tokens SET hash = ? WHERE hash = ? AND user = ? "
	    "AND born > ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_blob(q, 1, new_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, old_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, user);
	sqlite3_bind_int64(q, 4, born_after);
	if (st_exec_bound(st, q) != STORE_OK)
		return STORE_ERR;
	return sqlite3_changes(st->db) > 0 ? STORE_OK : STORE_NONE;
}

int
store_token_purge(struct store *st, int64_t born_before)
{
	sqlite3_stmt *q = st_prep(st, "DELETE FROM resume_tokens WHERE born < ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, born_before);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? sqlite3_changes(st->db) : STORE_ERR;
}

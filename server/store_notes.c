/* store_notes.c: each user's outbox of notifications, with its sequence numbers and
 * acknowledgements. */
#include "store_int.h"

#include <string.h>
#include <time.h>

/* Inside a transaction: takes the user's next sequence number and appends the row. */
enum store_rc
st_note_insert(struct store *st, struct store_note *n)
{
	sqlite3_stmt *q;
	int rc;

	q = st_prep(st, "UPDATE users SET next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq - 1");
	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, n->user);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		n->seq = (uint64_t)sqlite3_column_int64(q, 0);
	st_release(q);
	if (rc != SQLITE_ROW)
		return STORE_ERR;
	q = st_prep(st, "INSERT INTO notifications(user, seq, event, job, state, text, created, "
	    "page, pages, bit_rate, ecm, remote_id, fax, media) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (q == NULL)
		return STORE_ERR;
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
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_note_add(struct store *st, struct store_note *n)
{
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return STORE_ERR;
	if (st_note_insert(st, n) != STORE_OK ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return STORE_ERR;
	}
	return STORE_OK;
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
		return STORE_ERR;
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
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? count : STORE_ERR;
}

enum store_rc
store_user_seqs(struct store *st, int64_t user, uint64_t *last, uint64_t *acked)
{
	sqlite3_stmt *q = st_prep(st, "SELECT next_seq - 1, acked_seq FROM users WHERE id = ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, user);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*last = (uint64_t)sqlite3_column_int64(q, 0);
		*acked = (uint64_t)sqlite3_column_int64(q, 1);
	}
	st_release(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NONE : STORE_ERR;
}

enum store_rc
store_user_ack(struct store *st, int64_t user, uint64_t seq)
{
	/* Never past what was assigned, never backwards. */
	sqlite3_stmt *q = st_prep(st, "UPDATE users SET acked_seq = ? WHERE id = ? AND acked_seq < ? "
	    "AND ? < next_seq");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(q, 2, user);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)seq);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)seq);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_user_ack_batch(struct store *st, const int64_t *users, const uint64_t *seqs, int n)
{
	int rc;

	/* The write lock is taken here, so only here is there anything to wait for. */
	sqlite3_busy_timeout(st->db, STORE_QUICK_BUSY_MS);
	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if (rc != SQLITE_OK)
		return STORE_ERR;
	for (int i = 0; i < n; i++)
		if (store_user_ack(st, users[i], seqs[i]) != STORE_OK) {
			st_rollback(st);
			return STORE_ERR;
		}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st_rollback(st);
		return STORE_ERR;
	}
	return STORE_OK;
}

int
store_note_prune(struct store *st, int64_t cutoff, int64_t keep_max)
{
	sqlite3_stmt *q = st_prep(st, "DELETE FROM notifications WHERE (created < ? AND seq <= "
	    "(SELECT acked_seq FROM users u WHERE u.id = notifications.user)) OR seq <= "
	    "(SELECT next_seq - 1 - ? FROM users u WHERE u.id = notifications.user)");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, cutoff);
	sqlite3_bind_int64(q, 2, keep_max);
	rc = sqlite3_step(q);
	st_release(q);
	return rc == SQLITE_DONE ? sqlite3_changes(st->db) : STORE_ERR;
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
		if (st_note_insert(st, note) != STORE_OK)
			goto rollback;
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	return id;
rollback:
	st_rollback(st);
	return -1;
}

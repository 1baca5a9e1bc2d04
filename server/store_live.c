/* store_live.c: the live mirror of the running server for the operator: its sessions,
 * fax lines and SIP trunks. The rows exist while the server runs. */
#include "store_int.h"

#include <string.h>
#include <time.h>

/* Sessions: the table only mirrors live connections (it is emptied at every start), so its
 * writes go through st_exec_bound, without an fsync each. */

enum store_rc
store_session_add(struct store *st, uint64_t id, int64_t user, const char *addr, int scp_port,
    int scp_mode)
{
	sqlite3_stmt *q = st_prep(st, "INSERT OR REPLACE INTO sessions(id, user, addr, scp_port, "
	    "scp_mode, created, scp_state) VALUES(?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(q, 2, user);
	sqlite3_bind_text(q, 3, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, scp_port);
	sqlite3_bind_int(q, 5, scp_mode);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(q, 7, scp_port ? "registered" : "none", -1, SQLITE_STATIC);
	return st_exec_bound(st, q);
}

enum store_rc
store_session_set_scp(struct store *st, uint64_t id, int path, const char *state)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE sessions SET path = ?, scp_state = ? WHERE id = ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int(q, 1, path);
	sqlite3_bind_text(q, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)id);
	return st_exec_bound(st, q);
}

enum store_rc
store_session_set_port(struct store *st, uint64_t id, int scp_port, int scp_mode)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE sessions SET scp_port = ?, scp_mode = ? WHERE id = ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int(q, 1, scp_port);
	sqlite3_bind_int(q, 2, scp_mode);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)id);
	return st_exec_bound(st, q);
}

enum store_rc
store_session_del(struct store *st, uint64_t id)
{
	sqlite3_stmt *q = st_prep(st, "DELETE FROM sessions WHERE id = ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	return st_exec_bound(st, q);
}

enum store_rc
store_session_clear(struct store *st)
{
	return sqlite3_exec(st->db, "DELETE FROM sessions", NULL, NULL, NULL) == SQLITE_OK ? STORE_OK :
	    STORE_ERR;
}

enum store_rc
store_session_list(struct store *st, int (*cb)(const struct store_session *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT s.id, u.name, s.addr, s.scp_port, s.scp_mode, "
	    "s.created, s.scp_state, s.path FROM sessions s JOIN users u ON u.id = s.user "
	    "ORDER BY u.name, s.created");
	int rc;

	if (q == NULL)
		return STORE_ERR;
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
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

/* Fax lines: written like the session rows, without an fsync each (they are rewritten at
 * every start), and only when a call starts, is answered, confirms a page or ends. */

enum store_rc
store_line_reset(struct store *st, int n)
{
	sqlite3_stmt *q;
	int rc = SQLITE_DONE;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return STORE_ERR;
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
	return STORE_OK;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return STORE_ERR;
}

enum store_rc
store_line_set(struct store *st, const struct store_line *l)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE lines SET job = ?, owner = ?, dest = ?, remote_id = ?, "
	    "connected = ?, pages_sent = ?, pages = ?, bit_rate = ?, since = ?, name = ? "
	    "WHERE line = ?");

	if (q == NULL)
		return STORE_ERR;
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

enum store_rc
store_line_list(struct store *st, int (*cb)(const struct store_line *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT l.line, l.job, l.owner, COALESCE(u.name, ''), l.dest, "
	    "l.remote_id, l.connected, l.pages_sent, l.pages, l.bit_rate, l.since, l.name "
	    "FROM lines l "
	    "LEFT JOIN users u ON u.id = l.owner ORDER BY l.line");
	int rc;

	if (q == NULL)
		return STORE_ERR;
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
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_trunk_reset(struct store *st)
{
	return sqlite3_exec(st->db, "DELETE FROM trunks", NULL, NULL, NULL) == SQLITE_OK ? STORE_OK :
	    STORE_ERR;
}

enum store_rc
store_trunk_set(struct store *st, const struct store_trunk *t)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO trunks(trunk, name, registrar, up, words, since) "
	    "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(trunk) DO UPDATE SET name = excluded.name, "
	    "registrar = excluded.registrar, up = excluded.up, words = excluded.words, "
	    "since = excluded.since");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int(q, 1, t->trunk);
	sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->registrar, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, t->up);
	sqlite3_bind_text(q, 5, t->words, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, t->since);
	return st_exec_bound(st, q);
}

enum store_rc
store_trunk_list(struct store *st, int (*cb)(const struct store_trunk *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT trunk, name, registrar, up, words, since FROM trunks "
	    "ORDER BY trunk");
	int rc;

	if (q == NULL)
		return STORE_ERR;
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
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

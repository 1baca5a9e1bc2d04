/* test_store_upgrade.c: a store of every schema netcfaxd has written, from the first, opened
 * by this netcfaxd: every row kept, the schema the same as a new store's, a second open
 * changes nothing, a failed step leaves the old store as it was, and a store from a newer
 * netcfax is refused untouched. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store.h"

#define CURRENT_SCHEMA 10
#define DUMP_MAX (256 * 1024)
#define FILE_MAX (8 * 1024 * 1024)

/* The DDL each schema was created with, exactly as netcfaxd ran it then. */

/* Schema 1, the first release: users and jobs. User ids had no AUTOINCREMENT. */
static const char *const ddl_v1 =
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

/* Later stores of schema 2 were created with user ids that are never reused. */
static const char *const ddl_v1_autoinc =
    "CREATE TABLE IF NOT EXISTS users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
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

static const char *const ddl_v2 =
    "ALTER TABLE users ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE users ADD COLUMN acked_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE notifications ("
    "  user INTEGER NOT NULL REFERENCES users(id),"
    "  seq INTEGER NOT NULL,"
    "  event INTEGER NOT NULL,"
    "  job INTEGER NOT NULL DEFAULT 0,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  text TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY(user, seq)) WITHOUT ROWID;"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY,"
    "  user INTEGER NOT NULL,"
    "  addr TEXT NOT NULL,"
    "  scp_port INTEGER NOT NULL,"
    "  scp_mode INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  scp_state TEXT NOT NULL DEFAULT '');";

static const char *const ddl_v3 =
    "ALTER TABLE jobs ADD COLUMN fine INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 127;"
    "ALTER TABLE jobs ADD COLUMN send_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN kill_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN max_tries INTEGER NOT NULL DEFAULT 3;"
    "ALTER TABLE jobs ADD COLUMN max_dials INTEGER NOT NULL DEFAULT 12;"
    "ALTER TABLE jobs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN dials INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN next_try INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN pages_sent INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN bit_rate INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN ecm INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN remote_id TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX jobs_queue ON jobs(state, priority, id);"
    "ALTER TABLE notifications ADD COLUMN page INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE notifications ADD COLUMN pages INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE notifications ADD COLUMN bit_rate INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE notifications ADD COLUMN ecm INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE notifications ADD COLUMN remote_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE notifications ADD COLUMN fax INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE inbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  owner INTEGER NOT NULL REFERENCES users(id),"
    "  number TEXT NOT NULL,"
    "  remote_id TEXT NOT NULL DEFAULT '',"
    "  doc TEXT NOT NULL,"
    "  pages INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  fine INTEGER NOT NULL DEFAULT 0,"
    "  bit_rate INTEGER NOT NULL DEFAULT 0,"
    "  ecm INTEGER NOT NULL DEFAULT 0,"
    "  read INTEGER NOT NULL DEFAULT 0,"
    "  received INTEGER NOT NULL,"
    "  note TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX inbox_owner ON inbox(owner, id);"
    "CREATE INDEX inbox_doc ON inbox(doc);";

static const char *const ddl_v4 =
    "CREATE TABLE usage ("
    "  owner INTEGER PRIMARY KEY,"
    "  jobs INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL);"
    "INSERT INTO usage SELECT owner, COUNT(*), SUM(size) FROM jobs WHERE state IN (1, 2, 3, 7)"
    "  GROUP BY owner;"
    "CREATE TRIGGER usage_insert AFTER INSERT ON jobs WHEN NEW.state IN (1, 2, 3, 7) BEGIN"
    "  INSERT INTO usage VALUES (NEW.owner, 1, NEW.size) ON CONFLICT(owner) DO UPDATE SET"
    "    jobs = jobs + 1, bytes = bytes + excluded.bytes;"
    "  END;"
    "CREATE TRIGGER usage_delete AFTER DELETE ON jobs WHEN OLD.state IN (1, 2, 3, 7) BEGIN"
    "  UPDATE usage SET jobs = jobs - 1, bytes = bytes - OLD.size WHERE owner = OLD.owner;"
    "  END;"
    "CREATE TRIGGER usage_update AFTER UPDATE OF owner, size, state ON jobs BEGIN"
    "  UPDATE usage SET jobs = jobs - 1, bytes = bytes - OLD.size"
    "    WHERE owner = OLD.owner AND OLD.state IN (1, 2, 3, 7);"
    "  INSERT INTO usage SELECT NEW.owner, 1, NEW.size WHERE NEW.state IN (1, 2, 3, 7)"
    "    ON CONFLICT(owner) DO UPDATE SET jobs = jobs + 1, bytes = bytes + excluded.bytes;"
    "  END;";

/* Some stores of schema 4 also had resume tokens, with an expiry instead of a birth. */
static const char *const ddl_v4_tokens =
    "CREATE TABLE resume_tokens ("
    "  hash BLOB PRIMARY KEY,"
    "  user INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX resume_tokens_user ON resume_tokens(user);"
    "CREATE TRIGGER resume_tokens_password AFTER UPDATE OF pwhash ON users BEGIN"
    "  DELETE FROM resume_tokens WHERE user = NEW.id;"
    "  END;"
    "CREATE TRIGGER resume_tokens_user AFTER DELETE ON users BEGIN"
    "  DELETE FROM resume_tokens WHERE user = OLD.id;"
    "  END;";

static const char *const ddl_v5 =
    "DROP TRIGGER IF EXISTS resume_tokens_password;"
    "DROP TRIGGER IF EXISTS resume_tokens_user;"
    "DROP TABLE IF EXISTS resume_tokens;"
    "ALTER TABLE users ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE resume_tokens ("
    "  hash BLOB PRIMARY KEY,"
    "  user INTEGER NOT NULL,"
    "  born INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX resume_tokens_user ON resume_tokens(user);"
    "CREATE TRIGGER users_password AFTER UPDATE OF pwhash ON users BEGIN"
    "  UPDATE users SET cred_gen = cred_gen + 1 WHERE id = NEW.id;"
    "  DELETE FROM resume_tokens WHERE user = NEW.id;"
    "  END;"
    "CREATE TRIGGER users_removed AFTER DELETE ON users BEGIN"
    "  DELETE FROM resume_tokens WHERE user = OLD.id;"
    "  DELETE FROM usage WHERE owner = OLD.id;"
    "  END;";

/* What a server of each schema left behind: accounts (one since deleted), jobs in every
 * state, and then the outbox, live sessions, the sending detail, the inbox and tokens. */
/* Schema 6: each session's notification path, and the fax lines, for the operator's status. */
static const char *const ddl_v6 =
    "ALTER TABLE sessions ADD COLUMN path INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE lines ("
    "  line INTEGER PRIMARY KEY,"
    "  job INTEGER NOT NULL DEFAULT 0,"
    "  owner INTEGER NOT NULL DEFAULT 0,"
    "  dest TEXT NOT NULL DEFAULT '',"
    "  remote_id TEXT NOT NULL DEFAULT '',"
    "  connected INTEGER NOT NULL DEFAULT 0,"
    "  pages_sent INTEGER NOT NULL DEFAULT 0,"
    "  pages INTEGER NOT NULL DEFAULT 0,"
    "  bit_rate INTEGER NOT NULL DEFAULT 0,"
    "  since INTEGER NOT NULL);";

/* Schema 7 rebuilt a users table without AUTOINCREMENT; one with it (autoinc) needed no
 * change. Schema 8: each SIP trunk's standing with its provider. */
static const char *const ddl_v8 =
    "CREATE TABLE trunks ("
    "  trunk INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  registrar TEXT NOT NULL DEFAULT '',"
    "  up INTEGER NOT NULL DEFAULT 0,"
    "  words TEXT NOT NULL DEFAULT '',"
    "  since INTEGER NOT NULL);";

/* Schema 9: what carried each fax (T.38, G.711) on jobs, received faxes and notifications. */
static const char *const ddl_v9 =
    "ALTER TABLE jobs ADD COLUMN media TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE inbox ADD COLUMN media TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE notifications ADD COLUMN media TEXT NOT NULL DEFAULT '';";

static const char *const rows_v1 =
    "INSERT INTO users(id, name, pwhash, created) VALUES"
    " (1, 'alice', '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
    "K2Vtb3JlLWJ5dGVzLW9mLWEtaGFzaC1oZXJlLTMyYnl0ZXM', 1763900000),"
    " (2, 'bob', '$scrypt$ln=15,r=8,p=1$b3RoZXJzYWx0b3RoZXJzYQ$"
    "YW5vdGhlci1oYXNoLW9mLXRoaXJ0eS10d28tYnl0ZXMhIQ', 1763900100),"
    " (3, 'carol', '$scrypt$ln=16,r=8,p=1$dGhpcmRzYWx0dGhpcmRzYQ$"
    "Y2Fyb2wncy1oYXNoLXdpdGgtYS1oaWdoZXItY29zdC0xNg', 1763900200),"
    " (4, 'dave', '$scrypt$ln=15,r=8,p=1$ZGF2ZXNhbHRkYXZlc2FsdA$"
    "ZGF2ZS1sZWF2ZXMtc29vbi1hbmQtaXMtZGVsZXRlZC0hIQ', 1763900300);"
    "INSERT INTO jobs(owner, dest, filename, doc, size, pages, format, state, created, updated,"
    " reason) VALUES"
    " (1, '+44 20 7946 0000', 'letter.tif', 'j-0001.tif', 48213, 2, 1, 1, 1763901000,"
    "  1763901000, ''),"
    " (1, '5550199', 'report.tif', 'j-0002.tif', 1048576, 12, 1, 4, 1763901100, 1763901400,"
    "  'sent: 12 pages'),"
    " (2, '5550188', 'Rechnung \"März\".tif', 'j-0003.tif', 20480, 1, 1, 5, 1763901200,"
    "  1763901500, 'busy: given up after 12 dials'),"
    " (2, '5550177', 'memo.tif', 'j-0004.tif', 30000, 3, 1, 6, 1763901300, 1763901310,"
    "  'cancelled by the user'),"
    " (3, '5550166', 'plans.tif', 'j-0005.tif', 77777, 5, 1, 7, 1763901350, 1763901360, ''),"
    " (3, '5550155', 'later.tif', 'j-0006.tif', 4096, 1, 1, 2, 1763901370, 1763901370, ''),"
    " (1, '5550144', 'now.tif', 'j-0007.tif', 9000, 1, 1, 3, 1763901380, 1763901390, '');"
    "DELETE FROM users WHERE id = 4;";

static const char *const rows_v2 =
    "UPDATE users SET next_seq = 6, acked_seq = 3 WHERE id = 1;"
    "UPDATE users SET next_seq = 3, acked_seq = 2 WHERE id = 2;"
    "INSERT INTO notifications(user, seq, event, job, state, text, created) VALUES"
    " (1, 1, 1, 1, 1, 'job 1 queued: letter.tif to +44 20 7946 0000', 1763901000),"
    " (1, 2, 1, 2, 1, 'job 2 queued: report.tif to 5550199', 1763901100),"
    " (1, 3, 5, 2, 4, 'job 2 done: 12 pages sent', 1763901400),"
    " (1, 4, 9, 0, 0, 'The fax line is down until 14:00', 1763901450),"
    " (1, 5, 1, 7, 1, 'job 7 queued: now.tif to 5550144', 1763901380),"
    " (2, 1, 1, 3, 1, 'job 3 queued', 1763901200),"
    " (2, 2, 2, 4, 6, 'job 4 cancelled', 1763901310);"
    /* rows a killed server left: one for dave, whose account is gone */
    "INSERT INTO sessions(id, user, addr, scp_port, scp_mode, created, scp_state) VALUES"
    " (8123456789012345678, 1, '192.0.2.10', 7485, 1, 1763901000, 'connected to 192.0.2.10:7485'),"
    " (912345, 4, '2001:db8::7', 0, 2, 1763901001, '');";

static const char *const rows_v3 =
    "UPDATE jobs SET fine = 0, priority = 50, send_at = 1763990000, kill_at = 1764000000,"
    " max_tries = 5, max_dials = 10, next_try = 1763990000 WHERE id = 6;"
    "UPDATE jobs SET tries = 1, dials = 1, pages_sent = 12, bit_rate = 14400, ecm = 1,"
    " remote_id = '+1 212 555 0199' WHERE id = 2;"
    "UPDATE jobs SET tries = 3, dials = 12 WHERE id = 3;"
    "UPDATE notifications SET page = 12, pages = 12, bit_rate = 14400, ecm = 1,"
    " remote_id = '+1 212 555 0199' WHERE user = 1 AND seq = 3;"
    "INSERT INTO jobs(owner, dest, filename, doc, size, pages, format, state, created, updated,"
    " reason, fine, priority, send_at, kill_at, max_tries, max_dials, tries, dials, next_try,"
    " pages_sent, bit_rate, ecm, remote_id) VALUES"
    " (2, '5550102', 'notes.txt', 'j-0008.tif', 1234, 1, 4, 1, 1763902000, 1763902000, '', 1,"
    "  127, 0, 1763912800, 3, 12, 0, 0, 0, 0, 0, 0, '');"
    "INSERT INTO inbox(owner, number, remote_id, doc, pages, size, fine, bit_rate, ecm, read,"
    " received, note) VALUES"
    " (2, '5550102', '+44 20 7946 0001', 'r-0001.tif', 2, 40000, 1, 9600, 1, 0, 1763902100,"
    "  ''),"
    " (2, '5550102', '', 'r-0002.tif', 2, 30000, 0, 14400, 0, 1, 1763902200,"
    "  '2 of 3 pages: the call dropped'),"
    " (1, '+44 20 7946 0001', 'BOB', 'r-0003.tif', 1, 9000, 1, 14400, 1, 0, 1763902300, '');"
    "UPDATE users SET next_seq = 4 WHERE id = 2;"
    "INSERT INTO notifications(user, seq, event, job, state, text, created, fax) VALUES"
    " (2, 3, 8, 0, 0, 'fax received from +44 20 7946 0001: 2 pages', 1763902100, 1);";

static const char *const rows_v4_tokens =
    "INSERT INTO resume_tokens(hash, user, expires) VALUES"
    " (x'0101010101010101010101010101010101010101010101010101010101010101', 1, 1763990000);";

static const char *const rows_v5 =
    "UPDATE users SET cred_gen = 2 WHERE id = 2;"
    "INSERT INTO resume_tokens(hash, user, born) VALUES"
    " (x'0202020202020202020202020202020202020202020202020202020202020202', 2, 1763903000),"
    " (x'0303030303030303030303030303030303030303030303030303030303030303', 1, 1763903100);";

static const char *const rows_v6 =
    "UPDATE sessions SET path = 1 WHERE scp_port = 7485;"
    "INSERT INTO lines(line, job, owner, dest, remote_id, connected, pages_sent, pages,"
    " bit_rate, since) VALUES (1, 7, 1, '5550144', 'FAX 1', 1, 1, 3, 14400, 1763901390),"
    " (2, 0, 0, '', '', 0, 0, 0, 0, 1763901000);";

static const char *const rows_v8 =
    "INSERT INTO trunks(trunk, name, registrar, up, words, since) VALUES"
    " (1, 'provider', 'sip.example.net', 1, 'registered', 1763901000);";

enum { HAS_V2 = 1, HAS_V3 = 2, HAS_V4 = 4, HAS_TOKENS4 = 8, HAS_V5 = 16, HAS_V6 = 32,
       HAS_V8 = 64, HAS_V9 = 128 };

struct era {
	const char *name;
	int         version;
	int         autoinc;    /* the users table was created with AUTOINCREMENT */
	int         has;
};

static const struct era eras[] = {
	{ "schema 1", 1, 0, 0 },
	{ "schema 2 as first written", 2, 0, HAS_V2 },
	{ "schema 2", 2, 1, HAS_V2 },
	{ "schema 3", 3, 1, HAS_V2 | HAS_V3 },
	{ "schema 4", 4, 1, HAS_V2 | HAS_V3 | HAS_V4 },
	{ "schema 4 with resume tokens", 4, 1, HAS_V2 | HAS_V3 | HAS_V4 | HAS_TOKENS4 },
	{ "schema 5", 5, 1, HAS_V2 | HAS_V3 | HAS_V4 | HAS_V5 },
	{ "schema 6", 6, 1, HAS_V2 | HAS_V3 | HAS_V4 | HAS_V5 | HAS_V6 },
	{ "schema 8", 8, 1, HAS_V2 | HAS_V3 | HAS_V4 | HAS_V5 | HAS_V6 | HAS_V8 },
	{ "schema 9", 9, 1, HAS_V2 | HAS_V3 | HAS_V4 | HAS_V5 | HAS_V6 | HAS_V8 | HAS_V9 },
};

static int
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fprintf(stderr, "SQL error: %s\n  in: %.120s\n", msg ? msg : "?", sql);
	sqlite3_free(msg);
	return rc;
}

/* A store as the netcfaxd of era e left it, with e's rows. */
static int
make_store(const char *path, const struct era *e)
{
	char sql[64];
	sqlite3 *db;
	int bad = 0;

	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	bad |= exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; BEGIN");
	bad |= exec(db, e->autoinc ? ddl_v1_autoinc : ddl_v1);
	if (e->has & HAS_V2)
		bad |= exec(db, ddl_v2);
	if (e->has & HAS_V3)
		bad |= exec(db, ddl_v3);
	if (e->has & HAS_V4)
		bad |= exec(db, ddl_v4);
	if (e->has & HAS_TOKENS4)
		bad |= exec(db, ddl_v4_tokens);
	if (e->has & HAS_V5)
		bad |= exec(db, ddl_v5);
	if (e->has & HAS_V6)
		bad |= exec(db, ddl_v6);
	if (e->has & HAS_V8)
		bad |= exec(db, ddl_v8);
	if (e->has & HAS_V9)
		bad |= exec(db, ddl_v9);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d; COMMIT", e->version);
	bad |= exec(db, sql);
	/* The rows as the server of that time wrote them, with its foreign keys on. */
	bad |= exec(db, rows_v1);
	if (e->has & HAS_V2)
		bad |= exec(db, rows_v2);
	if (e->has & HAS_V3)
		bad |= exec(db, rows_v3);
	if (e->has & HAS_TOKENS4)
		bad |= exec(db, rows_v4_tokens);
	if (e->has & HAS_V5)
		bad |= exec(db, rows_v5);
	if (e->has & HAS_V6)
		bad |= exec(db, rows_v6);
	if (e->has & HAS_V8)
		bad |= exec(db, rows_v8);
	sqlite3_close(db);
	return bad ? -1 : 0;
}

/* Appends every row of sql's result to buf, each value with its type, so that an integer
 * that became text (or a NULL) shows. */
static void
dump_query(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
	sqlite3_stmt *q;
	size_t n = strlen(buf);

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		snprintf(buf + n, cap - n, "[cannot prepare %s: %s]", sql, sqlite3_errmsg(db));
		return;
	}
	while (sqlite3_step(q) == SQLITE_ROW && n < cap - 1) {
		for (int i = 0; i < sqlite3_column_count(q) && n < cap - 1; i++) {
			int t = sqlite3_column_type(q, i);
			if (t == SQLITE_BLOB) {
				const unsigned char *b = sqlite3_column_blob(q, i);
				int len = sqlite3_column_bytes(q, i);
				n += (size_t)snprintf(buf + n, cap - n, "b:");
				for (int k = 0; k < len && n < cap - 3; k++)
					n += (size_t)snprintf(buf + n, cap - n, "%02x", b[k]);
				n += (size_t)snprintf(buf + n, cap - n, "|");
			} else
				n += (size_t)snprintf(buf + n, cap - n, "%d:%s|", t,
				    t == SQLITE_NULL ? "" : (const char *)sqlite3_column_text(q, i));
		}
		if (n < cap - 1)
			n += (size_t)snprintf(buf + n, cap - n, "\n");
	}
	sqlite3_finalize(q);
	CHECK(n < cap - 1);
}

/* Every row of era e's tables, in the columns e had: what an upgrade must keep. */
static void
dump_rows(const char *path, const struct era *e, char *buf, size_t cap)
{
	sqlite3 *db;

	buf[0] = '\0';
	CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	dump_query(db, e->has & HAS_V5 ?
	    "SELECT id, name, pwhash, created, next_seq, acked_seq, cred_gen FROM users ORDER BY id" :
	    e->has & HAS_V2 ?
	    "SELECT id, name, pwhash, created, next_seq, acked_seq FROM users ORDER BY id" :
	    "SELECT id, name, pwhash, created FROM users ORDER BY id", buf, cap);
	dump_query(db, e->has & HAS_V3 ?
	    "SELECT id, owner, dest, filename, doc, size, pages, format, state, created, updated, "
	    "reason, fine, priority, send_at, kill_at, max_tries, max_dials, tries, dials, "
	    "next_try, pages_sent, bit_rate, ecm, remote_id FROM jobs ORDER BY id" :
	    "SELECT id, owner, dest, filename, doc, size, pages, format, state, created, updated, "
	    "reason FROM jobs ORDER BY id", buf, cap);
	if (e->has & HAS_V2) {
		dump_query(db, e->has & HAS_V3 ?
		    "SELECT user, seq, event, job, state, text, created, page, pages, bit_rate, "
		    "ecm, remote_id, fax FROM notifications ORDER BY user, seq" :
		    "SELECT user, seq, event, job, state, text, created FROM notifications "
		    "ORDER BY user, seq", buf, cap);
		dump_query(db, e->has & HAS_V6 ?
		    "SELECT id, user, addr, scp_port, scp_mode, created, scp_state, path "
		    "FROM sessions ORDER BY id" :
		    "SELECT id, user, addr, scp_port, scp_mode, created, scp_state "
		    "FROM sessions ORDER BY id", buf, cap);
	}
	if (e->has & HAS_V3)
		dump_query(db, "SELECT id, owner, number, remote_id, doc, pages, size, fine, "
		    "bit_rate, ecm, read, received, note FROM inbox ORDER BY id", buf, cap);
	if (e->has & HAS_V4)
		dump_query(db, "SELECT * FROM usage ORDER BY owner", buf, cap);
	if (e->has & HAS_V5)
		dump_query(db, "SELECT * FROM resume_tokens ORDER BY hash", buf, cap);
	if (e->has & HAS_V6)
		dump_query(db, "SELECT line, job, owner, dest, remote_id, connected, pages_sent, "
		    "pages, bit_rate, since FROM lines ORDER BY line", buf, cap);
	if (e->has & HAS_V8)
		dump_query(db, "SELECT * FROM trunks ORDER BY trunk", buf, cap);
	sqlite3_close(db);
}

/* The schema as SQLite understands it: every table's columns (type, NOT NULL, default, key),
 * foreign keys, AUTOINCREMENT and WITHOUT ROWID; every index's columns; every trigger's SQL;
 * and the version. Two stores with the same shape behave the same for every query. */
static void
schema_shape(const char *path, char *buf, size_t cap)
{
	sqlite3 *db;

	buf[0] = '\0';
	CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	dump_query(db, "PRAGMA user_version", buf, cap);
	dump_query(db, "SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk, "
	    "p.hidden FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p "
	    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
	    buf, cap);
	dump_query(db, "SELECT m.name, instr(upper(m.sql), 'AUTOINCREMENT') > 0, "
	    "instr(upper(m.sql), 'WITHOUT ROWID') > 0 FROM sqlite_master m "
	    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name", buf, cap);
	dump_query(db, "SELECT m.name, f.id, f.seq, f.\"table\", f.\"from\", f.\"to\", "
	    "f.on_update, f.on_delete FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f "
	    "WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq", buf, cap);
	dump_query(db, "SELECT m.name, i.name, i.\"unique\", i.origin, i.partial, x.seqno, x.name, "
	    "x.\"desc\", x.key FROM sqlite_master m JOIN pragma_index_list(m.name) i "
	    "JOIN pragma_index_xinfo(i.name) x WHERE m.type = 'table' "
	    "ORDER BY m.name, i.name, x.seqno", buf, cap);
	dump_query(db, "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
	    "ORDER BY name", buf, cap);
	sqlite3_close(db);
}

static long long
query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			v = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return v;
}

static void
query_text(const char *path, const char *sql, char *buf, size_t cap)
{
	sqlite3 *db;
	sqlite3_stmt *q;

	snprintf(buf, cap, "(no answer)");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
}

/* The file's bytes (at most FILE_MAX), to prove that an open changed nothing. */
static size_t
read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return 0;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	close(fd);
	return n;
}

static int
exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

struct notes {
	int  n;
	char text[8][128];
	int  page[8];
	int64_t fax[8];
	char media[8][NCFX_MEDIA_MAX + 1];
};

static int
collect_note(const struct store_note *n, void *arg)
{
	struct notes *x = arg;

	if (x->n < 8) {
		snprintf(x->text[x->n], sizeof(x->text[0]), "%s", n->text);
		x->page[x->n] = n->page;
		x->fax[x->n] = n->fax;
		snprintf(x->media[x->n], sizeof(x->media[0]), "%s", n->media);
	}
	x->n++;
	return 0;
}

/* What the server reads through its own functions after the upgrade. */
static void
check_through_store(struct store *st, const struct era *e)
{
	struct store_user alice, bob, carol, erin, frank;
	struct store_job j;
	struct store_fax f;
	struct notes notes;
	uint64_t last = 99, acked = 99;
	int64_t count = -1, bytes = -1, job_id;
	uint8_t h[32], h2[32];

	CHECK_INT(store_user_get(st, "alice", &alice), STORE_OK);
	CHECK_INT(store_user_get(st, "bob", &bob), STORE_OK);
	CHECK_INT(store_user_get(st, "carol", &carol), STORE_OK);
	CHECK_INT(store_user_get(st, "dave", &erin), STORE_NONE);
	CHECK_INT(alice.id, 1);
	CHECK_INT(bob.id, 2);
	CHECK_INT(carol.id, 3);
	CHECK_INT(alice.created, 1763900000);
	CHECK_CONTAINS(carol.pwhash, "$scrypt$ln=16,r=8,p=1$");
	CHECK_INT(bob.cred_gen, e->has & HAS_V5 ? 2 : 0);

	/* jobs: what schema 1 had, and the defaults of what came later */
	CHECK_INT(store_job_get(st, alice.id, 1, &j), STORE_OK);
	CHECK_STR(j.dest, "+44 20 7946 0000");
	CHECK_STR(j.doc, "j-0001.tif");
	CHECK_INT(j.state, NCFX_JOB_PENDING);
	CHECK_INT(j.size, 48213);
	CHECK_INT(j.fine, 1);
	CHECK_INT(j.priority, 127);
	CHECK_INT(j.max_tries, 3);
	CHECK_INT(j.max_dials, 12);
	CHECK_INT(j.kill_at, 0);
	CHECK_INT(store_job_get(st, bob.id, 3, &j), STORE_OK);
	CHECK_STR(j.filename, "Rechnung \"März\".tif");
	CHECK_STR(j.reason, "busy: given up after 12 dials");
	CHECK_INT(j.dials, e->has & HAS_V3 ? 12 : 0);
	CHECK_INT(store_job_get(st, alice.id, 3, &j), STORE_NONE);      /* still bob's alone */
	CHECK_INT(store_job_get(st, carol.id, 6, &j), STORE_OK);
	CHECK_INT(j.state, NCFX_JOB_SLEEPING);
	CHECK_INT(j.fine, e->has & HAS_V3 ? 0 : 1);
	CHECK_INT(j.priority, e->has & HAS_V3 ? 50 : 127);
	CHECK_INT(j.next_try, e->has & HAS_V3 ? 1763990000 : 0);
	CHECK_INT(store_job_get(st, alice.id, 2, &j), STORE_OK);
	CHECK_STR(j.remote_id, e->has & HAS_V3 ? "+1 212 555 0199" : "");
	CHECK_INT(j.bit_rate, e->has & HAS_V3 ? 14400 : 0);
	CHECK_STR(j.media, "");                 /* not known for a call before schema 9 */

	/* the quota's tally, counted from the jobs when it did not exist */
	CHECK_INT(store_job_unfinished(st, alice.id, &count, &bytes), STORE_OK);
	CHECK_INT(count, 2);                          /* jobs 1 (pending) and 7 (active) */
	CHECK_INT(bytes, 48213 + 9000);
	CHECK_INT(store_job_unfinished(st, carol.id, &count, &bytes), STORE_OK);
	CHECK_INT(count, 2);                          /* suspended and sleeping */
	CHECK_INT(bytes, 77777 + 4096);
	CHECK_INT(store_job_unfinished(st, bob.id, &count, &bytes), STORE_OK);
	CHECK_INT(count, e->has & HAS_V3 ? 1 : 0);
	CHECK_INT(bytes, e->has & HAS_V3 ? 1234 : 0);

	/* the outbox: numbering and acknowledgements go on where they were */
	CHECK_INT(store_user_seqs(st, alice.id, &last, &acked), STORE_OK);
	CHECK_INT(last, e->has & HAS_V2 ? 5 : 0);
	CHECK_INT(acked, e->has & HAS_V2 ? 3 : 0);
	memset(&notes, 0, sizeof(notes));
	CHECK_INT(store_note_list(st, alice.id, 0, 100, collect_note, &notes),
	    e->has & HAS_V2 ? 5 : 0);
	if (e->has & HAS_V2) {
		CHECK_STR(notes.text[2], "job 2 done: 12 pages sent");
		CHECK_INT(notes.page[2], e->has & HAS_V3 ? 12 : 0);
		CHECK_STR(notes.text[3], "The fax line is down until 14:00");
	}
	memset(&notes, 0, sizeof(notes));
	CHECK_INT(store_note_list(st, bob.id, 2, 100, collect_note, &notes),
	    e->has & HAS_V3 ? 1 : 0);
	if (e->has & HAS_V3)
		CHECK_INT(notes.fax[0], 1);

	/* the inbox */
	CHECK_INT(store_fax_get(st, bob.id, 2, &f), e->has & HAS_V3 ? STORE_OK : STORE_NONE);
	if (e->has & HAS_V3) {
		CHECK_STR(f.note, "2 of 3 pages: the call dropped");
		CHECK_INT(f.read, 1);
		CHECK_INT(f.bit_rate, 14400);
		CHECK_STR(f.media, "");
	}

	/* tokens of schema 5 stay valid; the older kind is ended (tokens are ephemeral) */
	memset(h, 3, sizeof(h));
	memset(h2, 4, sizeof(h2));
	CHECK_INT(store_token_rotate(st, h, h2, alice.id, 0), e->has & HAS_V5 ? STORE_OK : STORE_NONE);
	memset(h, 1, sizeof(h));
	CHECK_INT(store_token_rotate(st, h, h2, alice.id, 0), STORE_NONE);

	/* What runs on from here: new jobs count in the tally, foreign keys hold, and a user id
	 * is never given out twice, even after the newest user is deleted. */
	memset(&j, 0, sizeof(j));
	j.owner = bob.id;
	snprintf(j.dest, sizeof(j.dest), "5550100");
	snprintf(j.filename, sizeof(j.filename), "after.pdf");
	snprintf(j.doc, sizeof(j.doc), "j-0100.tif");
	j.size = 100;
	j.pages = 1;
	j.format = NCFX_FMT_PDF;
	j.state = NCFX_JOB_PENDING;
	j.fine = 1;
	j.priority = 127;
	j.max_tries = 3;
	j.max_dials = 12;
	CHECK_INT(store_job_insert(st, &j, NULL), STORE_OK);
	job_id = j.id;
	CHECK_INT(store_job_unfinished(st, bob.id, &count, &bytes), STORE_OK);
	CHECK_INT(count, e->has & HAS_V3 ? 2 : 1);
	j.owner = 999;
	CHECK_INT(store_job_insert(st, &j, NULL), STORE_ERR);
	CHECK_INT(store_user_add(st, "erin", "$scrypt$ln=15,r=8,p=1$eA$eA"), STORE_OK);
	CHECK_INT(store_user_get(st, "erin", &erin), STORE_OK);
	/* dave (4) is gone without a trace in schema 1; a killed server's session row of his
	 * outlives him from schema 2 on, and no new user may inherit it */
	CHECK(erin.id > (e->has & HAS_V2 ? 4 : 3));
	CHECK_INT(store_user_del(st, "erin", 1, NULL, NULL), STORE_OK);
	CHECK_INT(store_user_add(st, "frank", "$scrypt$ln=15,r=8,p=1$Zg$Zg"), STORE_OK);
	CHECK_INT(store_user_get(st, "frank", &frank), STORE_OK);
	CHECK(frank.id > erin.id);
	CHECK_INT(store_user_del(st, "frank", 1, NULL, NULL), STORE_OK);
	CHECK_INT(store_job_get(st, bob.id, job_id, &j), STORE_OK);
	CHECK_STR(j.filename, "after.pdf");
	CHECK_STR(j.media, "");

	/* What carried a call (schema 9) is kept with the job, the received fax and the
	 * notification, and read back as written. */
	j.bit_rate = 14400;
	j.ecm = 1;
	snprintf(j.media, sizeof(j.media), "T.38");
	{
		struct store_note n;
		struct store_fax got;

		memset(&n, 0, sizeof(n));
		n.user = bob.id;
		n.event = NCFX_EV_JOB_PAGE;
		n.page = 1;
		n.pages = 1;
		n.bit_rate = 14400;
		snprintf(n.media, sizeof(n.media), "T.38");
		CHECK_INT(store_job_save(st, &j, NCFX_JOB_PENDING, &n), STORE_OK);
		CHECK_INT(store_job_get(st, bob.id, job_id, &j), STORE_OK);
		CHECK_STR(j.media, "T.38");
		CHECK_INT(j.bit_rate, 14400);

		memset(&f, 0, sizeof(f));
		f.owner = bob.id;
		snprintf(f.number, sizeof(f.number), "5550102");
		snprintf(f.doc, sizeof(f.doc), "r-0100.tif");
		f.pages = 1;
		f.size = 5000;
		f.bit_rate = 9600;
		snprintf(f.media, sizeof(f.media), "G.711");
		memset(&n, 0, sizeof(n));
		n.user = bob.id;
		n.event = NCFX_EV_FAX_RECEIVED;
		n.pages = 1;
		snprintf(n.media, sizeof(n.media), "G.711");
		CHECK_INT(store_fax_insert(st, &f, &n), STORE_OK);
		CHECK_INT(store_fax_get(st, bob.id, f.id, &got), STORE_OK);
		CHECK_STR(got.media, "G.711");
		CHECK_INT(got.bit_rate, 9600);
		CHECK(n.seq > 0);
		memset(&notes, 0, sizeof(notes));
		CHECK_INT(store_note_list(st, bob.id, n.seq - 2, 100, collect_note, &notes), 2);
		CHECK_STR(notes.media[0], "T.38");
		CHECK_STR(notes.media[1], "G.711");
		CHECK_INT(notes.fax[1], f.id);
	}
}

int
main(void)
{
	char dir[] = "/tmp/netcfax-upgrade-XXXXXX", path[128], fresh[128], wal[140], err[512];
	char *before = malloc(DUMP_MAX), *after = malloc(DUMP_MAX), *want = malloc(DUMP_MAX);
	char *file1 = malloc(FILE_MAX), *file2 = malloc(FILE_MAX);
	struct store *st;
	size_t n1, n2;

	if (before == NULL || after == NULL || want == NULL || file1 == NULL || file2 == NULL ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr, "test_store_upgrade: cannot set up: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/netcfax.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(fresh, sizeof(fresh), "%s/fresh.db", dir);

	/* The shape every upgrade must reach: a store this netcfaxd creates. */
	st = store_open(fresh, err, sizeof(err));
	CHECK(st != NULL);
	store_close(st);
	schema_shape(fresh, want, DUMP_MAX);
	CHECK_INT(query_int(fresh, "PRAGMA user_version"), CURRENT_SCHEMA);

	for (size_t i = 0; i < sizeof(eras) / sizeof(eras[0]); i++) {
		const struct era *e = &eras[i];

		printf("upgrading a store of %s\n", e->name);
		CHECK_INT(make_store(path, e), 0);
		CHECK_INT(query_int(path, "PRAGMA user_version"), e->version);
		dump_rows(path, e, before, DUMP_MAX);
		CHECK(strlen(before) > 500);

		st = store_open(path, err, sizeof(err));
		CHECK(st != NULL);
		if (st == NULL) {
			fprintf(stderr, "%s: %s\n", e->name, err);
			continue;
		}
		store_close(st);
		CHECK_INT(query_int(path, "PRAGMA user_version"), CURRENT_SCHEMA);
		query_text(path, "PRAGMA integrity_check", after, DUMP_MAX);
		CHECK_STR(after, "ok");
		CHECK_INT(query_int(path, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
		/* every row, in the columns it had, is still there and the same */
		dump_rows(path, e, after, DUMP_MAX);
		CHECK_STR(after, before);
		/* and the schema is that of a new store */
		schema_shape(path, after, DUMP_MAX);
		CHECK_STR(after, want);
		if (e->has & HAS_TOKENS4)
			CHECK_INT(query_int(path, "SELECT COUNT(*) FROM resume_tokens"), 0);

		/* A second open changes nothing, not one byte. */
		CHECK(!exists(wal));
		n1 = read_file(path, file1, FILE_MAX);
		CHECK(n1 > 0 && n1 < FILE_MAX);
		st = store_open(path, err, sizeof(err));
		CHECK(st != NULL);
		store_close(st);
		n2 = read_file(path, file2, FILE_MAX);
		CHECK_INT(n2, n1);
		CHECK(n1 == n2 && memcmp(file1, file2, n1) == 0);

		/* The server's functions see all of it, and the store works on. */
		st = store_open(path, err, sizeof(err));
		CHECK(st != NULL);
		if (st != NULL) {
			check_through_store(st, e);
			store_close(st);
		}
		schema_shape(path, after, DUMP_MAX);
		CHECK_STR(after, want);
	}

	/* A step that fails (here: a table in the way of schema 4's) leaves the store exactly
	 * as it was, at its old version, and says which file. */
	CHECK_INT(make_store(path, &eras[3]), 0);
	{
		sqlite3 *db;
		CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
		CHECK_INT(exec(db, "CREATE TABLE usage(x)"), SQLITE_OK);
		sqlite3_close(db);
	}
	dump_rows(path, &eras[3], before, DUMP_MAX);
	st = store_open(path, err, sizeof(err));
	CHECK(st == NULL);
	store_close(st);
	CHECK_CONTAINS(err, path);
	CHECK_INT(query_int(path, "PRAGMA user_version"), 3);
	CHECK_INT(query_int(path, "SELECT COUNT(*) FROM pragma_table_info('users') "
	    "WHERE name = 'cred_gen'"), 0);
	dump_rows(path, &eras[3], after, DUMP_MAX);
	CHECK_STR(after, before);

	/* A store from a newer netcfax (a rollback journal, say, and the next schema) is refused
	 * with what to do, and left byte for byte as it was: not even its journal mode changes. */
	unlink(path);
	{
		sqlite3 *db;
		char sql[300];

		snprintf(sql, sizeof(sql), "PRAGMA journal_mode=DELETE; CREATE TABLE users(id "
		    "INTEGER PRIMARY KEY, name TEXT, future TEXT); INSERT INTO users VALUES(1, "
		    "'alice', 'x'); PRAGMA user_version=%d;", CURRENT_SCHEMA + 1);
		CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
		CHECK_INT(exec(db, sql), SQLITE_OK);
		sqlite3_close(db);
	}
	n1 = read_file(path, file1, FILE_MAX);
	CHECK(n1 > 0);
	st = store_open(path, err, sizeof(err));
	CHECK(st == NULL);
	store_close(st);
	{
		char need[32];

		CHECK_CONTAINS(err, path);
		snprintf(need, sizeof(need), "schema %d", CURRENT_SCHEMA + 1);
		CHECK_CONTAINS(err, need);
		CHECK_CONTAINS(err, "newer netcfax");
		snprintf(need, sizeof(need), "up to %d", CURRENT_SCHEMA);
		CHECK_CONTAINS(err, need);
		CHECK_CONTAINS(err, "not changed");
	}
	n2 = read_file(path, file2, FILE_MAX);
	CHECK(n1 == n2 && memcmp(file1, file2, n1) == 0);
	CHECK(!exists(wal));
	CHECK_INT(query_int(path, "PRAGMA user_version"), CURRENT_SCHEMA + 1);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK_INT(system(path), 0);
	free(before);
	free(after);
	free(want);
	free(file1);
	free(file2);
	return check_report("test_store_upgrade");
}

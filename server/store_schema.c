/* store_schema.c: the store's tables and their history: the schema of version 1 and each later
 * version's step, run once in one transaction with the version when a store is opened. */
#include "store_int.h"

#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: old sessions reach nothing */
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

/* Version 2: each user's durable outbox of notifications, and the live sessions. */
static const char *const schema_v2 =
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

/* Version 3: the fax engine: how each job is to be sent and how its tries went, progress
 * detail in notifications, and the inbox of received faxes. */
static const char *const schema_v3 =
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

/* Version 4: each user's unfinished jobs and the bytes they hold, which the quota reads at
 * every submission. Counting them each time costs as many rows as the user has jobs queued;
 * this tally is kept by the database itself, in the same transaction as every change of a
 * job, so it cannot drift from the jobs table. (Jobs are never written with INSERT OR REPLACE:
 * its implicit delete fires no trigger.) */
static const char *const schema_v4 =
    "CREATE TABLE usage ("
    "  owner INTEGER PRIMARY KEY,"
    "  jobs INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL);"
    "INSERT INTO usage SELECT owner, COUNT(*), SUM(size) FROM jobs WHERE state IN " UNFINISHED
    "  GROUP BY owner;"
    "CREATE TRIGGER usage_insert AFTER INSERT ON jobs WHEN NEW.state IN " UNFINISHED " BEGIN"
    "  INSERT INTO usage VALUES (NEW.owner, 1, NEW.size) ON CONFLICT(owner) DO UPDATE SET"
    "    jobs = jobs + 1, bytes = bytes + excluded.bytes;"
    "  END;"
    "CREATE TRIGGER usage_delete AFTER DELETE ON jobs WHEN OLD.state IN " UNFINISHED " BEGIN"
    "  UPDATE usage SET jobs = jobs - 1, bytes = bytes - OLD.size WHERE owner = OLD.owner;"
    "  END;"
    "CREATE TRIGGER usage_update AFTER UPDATE OF owner, size, state ON jobs BEGIN"
    "  UPDATE usage SET jobs = jobs - 1, bytes = bytes - OLD.size"
    "    WHERE owner = OLD.owner AND OLD.state IN " UNFINISHED ";"
    "  INSERT INTO usage SELECT NEW.owner, 1, NEW.size WHERE NEW.state IN " UNFINISHED
    "    ON CONFLICT(owner) DO UPDATE SET jobs = jobs + 1, bytes = bytes + excluded.bytes;"
    "  END;";

/* A user's triggers: a new password moves cred_gen and ends the user's resume tokens; a
 * removed user's tokens and quota tally go with the user. */
#define USERS_TRIGGERS \
    "CREATE TRIGGER users_password AFTER UPDATE OF pwhash ON users BEGIN" \
    "  UPDATE users SET cred_gen = cred_gen + 1 WHERE id = NEW.id;" \
    "  DELETE FROM resume_tokens WHERE user = NEW.id;" \
    "  END;" \
    "CREATE TRIGGER users_removed AFTER DELETE ON users BEGIN" \
    "  DELETE FROM resume_tokens WHERE user = OLD.id;" \
    "  DELETE FROM usage WHERE owner = OLD.id;" \
    "  END;"

/* Version 5: resume tokens, a reconnecting client's proof that it logged in a moment ago, by
 * the SHA-256 of the token (the token itself is a bearer secret and is never stored), with
 * the time of the password login that began its chain of tokens. cred_gen counts password
 * changes, so that a token is only issued for a password that is still the user's. A new
 * password ends every token; a removed user's tokens and quota tally go with them. (A store
 * made by a development build may have an older resume_tokens table: tokens are ephemeral, so
 * it is replaced.) */
static const char *const schema_v5 =
    "DROP TRIGGER IF EXISTS resume_tokens_password;"
    "DROP TRIGGER IF EXISTS resume_tokens_user;"
    "DROP TABLE IF EXISTS resume_tokens;"
    "ALTER TABLE users ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE resume_tokens ("
    "  hash BLOB PRIMARY KEY,"
    "  user INTEGER NOT NULL,"
    "  born INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX resume_tokens_user ON resume_tokens(user);"
    USERS_TRIGGERS;

/* Version 8: each SIP trunk's standing with its provider (registered, or why not), for the
 * operator's status. Like the lines, the rows mirror the live process. */
static const char *const schema_v8 =
    "CREATE TABLE trunks ("
    "  trunk INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  registrar TEXT NOT NULL DEFAULT '',"
    "  up INTEGER NOT NULL DEFAULT 0,"
    "  words TEXT NOT NULL DEFAULT '',"
    "  since INTEGER NOT NULL);";

/* Version 9: what carried each fax over the network, "T.38" or "G.711" ('' when not known,
 * and on the software line), beside the bit rate and ECM of jobs, received faxes and their
 * notifications. */
static const char *const schema_v9 =
    "ALTER TABLE jobs ADD COLUMN media TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE inbox ADD COLUMN media TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE notifications ADD COLUMN media TEXT NOT NULL DEFAULT '';";

/* Version 10: each fax line's row names the line it is a channel of (a trunk, a modem), for
 * the operator's status. */
static const char *const schema_v10 =
    "ALTER TABLE lines ADD COLUMN name TEXT NOT NULL DEFAULT '';";

/* Version 7: user ids that are never given out again. Stores created with schema 1 (and the
 * first stores of schema 2) have a users table without AUTOINCREMENT, where SQLite hands the
 * id of a deleted newest user to the next one, who would then inherit whatever still names
 * that id. Such a table is rebuilt with AUTOINCREMENT, its rows as they were, and its
 * counter starts past every user id the store still mentions. A table that has it already
 * is left alone (rebuild_users decides). */
static const char *const schema_v7_users =
    "CREATE TABLE users_v7 ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  pwhash TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  next_seq INTEGER NOT NULL DEFAULT 1,"
    "  acked_seq INTEGER NOT NULL DEFAULT 0,"
    "  cred_gen INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO users_v7(id, name, pwhash, created, next_seq, acked_seq, cred_gen)"
    "  SELECT id, name, pwhash, created, next_seq, acked_seq, cred_gen FROM users;"
    "DROP TABLE users;"
    "ALTER TABLE users_v7 RENAME TO users;"
    USERS_TRIGGERS
    "DELETE FROM sqlite_sequence WHERE name = 'users';"
    "INSERT INTO sqlite_sequence(name, seq) SELECT 'users', COALESCE(MAX(id), 0) FROM ("
    "  SELECT MAX(id) AS id FROM users UNION ALL SELECT MAX(owner) FROM jobs"
    "  UNION ALL SELECT MAX(owner) FROM inbox UNION ALL SELECT MAX(user) FROM notifications"
    "  UNION ALL SELECT MAX(owner) FROM usage UNION ALL SELECT MAX(user) FROM resume_tokens"
    "  UNION ALL SELECT MAX(user) FROM sessions);";

/* Version 6: what the operator's status shows of the running server besides its sessions:
 * the notification path of each session as a number, and each fax line's call. Like the
 * sessions, the lines mirror the live process (rewritten at every start, emptied at a stop). */
static const char *const schema_v6 =
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

/* PRAGMA user_version: the schema the store was last written with, or -1. */
static int
read_version(sqlite3 *db)
{
	sqlite3_stmt *q;
	int version = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return version;
}

static void
newer_schema(const char *path, int version, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: the store has schema %d, written by a newer netcfax; this one "
	    "knows schemas up to %d, so it was not changed: run the newer netcfaxd and "
	    "netcfax-admin, or restore the state directory from before that upgrade", path,
	    version, SCHEMA_VERSION);
}

/* An upgrade that would leave a row pointing at nothing is not committed. */
static int
check_foreign_keys(sqlite3 *db, char **msg)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &q, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*msg = sqlite3_mprintf("a row of table %s refers to a missing row of %s",
		    (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 2));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Schema 7's step: 1 if the users table was rebuilt, 0 if it needed no rebuild, -1. */
static int
rebuild_users(sqlite3 *db, char **msg)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
	    "name = 'users' AND instr(upper(sql), 'AUTOINCREMENT') = 0", -1, &q, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	return sqlite3_exec(db, schema_v7_users, NULL, NULL, msg) == SQLITE_OK ? 1 : -1;
}

int
st_schema_upgrade(struct store *st, const char *path, int *version, char **msg, char *err,
    size_t errlen)
{
	/* A store from a newer netcfax is left exactly as it is, down to its journal mode. */
	if ((*version = read_version(st->db)) < 0)
		return -1;
	if (*version > SCHEMA_VERSION) {
		newer_schema(path, *version, err, errlen);
		return 1;
	}
	/* Foreign keys are switched on after the upgrade: schema 7 rebuilds a table that
	 * others refer to, which SQLite allows only with them off (and checks below). Off is
	 * said, not assumed: a library built with them on by default would fail the rebuild,
	 * and the pragma does nothing once the transaction has begun. */
	if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
	    "PRAGMA foreign_keys=OFF;", NULL, NULL, msg) != SQLITE_OK)
		return -1;
	/* Each step of the schema's history runs once, in one transaction with the version, and
	 * the version is read inside it: the server and netcfax-admin opening an old store at
	 * the same moment upgrade it once. */
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, msg) != SQLITE_OK)
		return -1;
	if ((*version = read_version(st->db)) < 0) {
		st_rollback(st);
		return -1;
	}
	if (*version > SCHEMA_VERSION) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		newer_schema(path, *version, err, errlen);
		return 1;
	}
	if ((*version < 1 && sqlite3_exec(st->db, schema, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 2 && sqlite3_exec(st->db, schema_v2, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 3 && sqlite3_exec(st->db, schema_v3, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 4 && sqlite3_exec(st->db, schema_v4, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 5 && sqlite3_exec(st->db, schema_v5, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 6 && sqlite3_exec(st->db, schema_v6, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 7 && rebuild_users(st->db, msg) < 0) ||
	    (*version < 8 && sqlite3_exec(st->db, schema_v8, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 9 && sqlite3_exec(st->db, schema_v9, NULL, NULL, msg) != SQLITE_OK) ||
	    (*version < 10 && sqlite3_exec(st->db, schema_v10, NULL, NULL, msg) != SQLITE_OK) ||
	    /* Not rewritten when current: that would look like a change to the server's poll. */
	    (*version < SCHEMA_VERSION && check_foreign_keys(st->db, msg) < 0) ||
	    (*version < SCHEMA_VERSION && sqlite3_exec(st->db, "PRAGMA user_version="
	    STR(SCHEMA_VERSION), NULL, NULL, msg) != SQLITE_OK) ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, msg) != SQLITE_OK) {
		st_rollback(st);
		return -1;
	}
	return 0;
}

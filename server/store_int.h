/* store_int.h: what the store's files share behind store.h: the connection with its statement
 * cache, and the helpers every query uses. Only the store's own files include it (and with it
 * sqlite3.h). */
#ifndef NETCFAX_STORE_INT_H
#define NETCFAX_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

#define SCHEMA_VERSION 10
#define UNFINISHED "(1, 2, 3, 7)"   /* pending, sleeping, active, suspended */

#define STMT_CACHE 96
#define STORE_BUSY_MS 5000      /* how long a statement waits for another writer's lock */
/* The same for writes that can do without: acknowledgements, tried again every second, and the
 * sessions table, only a list for the operator. The server's loop waits with them, and while
 * another program holds the store for long, waiting the whole STORE_BUSY_MS at every one would
 * leave no time to serve anyone. */
#define STORE_QUICK_BUSY_MS 200           /* more than the distinct statements below */

/* Each statement is prepared once and kept: preparing SQL again for every session's outbox
 * read and acknowledgement was most of the server's time under load. Keyed by the address of
 * its SQL, always a string literal here. */
struct stmt_slot {
	const char   *sql;
	sqlite3_stmt *q;
};

struct store {
	sqlite3         *db;
	struct stmt_slot cache[STMT_CACHE];
	int              ncache;
	/* Why the last transaction that was rolled back failed: the ROLLBACK's own success
	 * leaves the connection saying "not an error". */
	int              errcode;
	char             errmsg[200];
};

/* store.c: the connection */
void st_copy(char *dst, size_t cap, const unsigned char *src);
void st_keep_error(struct store *st);
void st_rollback(struct store *st);
int st_last_error(struct store *st);
sqlite3_stmt *st_prep(struct store *st, const char *sql);
void st_release(sqlite3_stmt *q);
enum store_rc st_step_one(sqlite3_stmt *q, void (*decode)(sqlite3_stmt *, void *), void *out);
enum store_rc st_exec_bound(struct store *st, sqlite3_stmt *q);

/* store_schema.c: brings the store just opened up to SCHEMA_VERSION, each step of the schema's
 * history once. 0 done; 1 the store has a newer schema, left as it was (err says so); -1 an
 * SQL failure, said by *msg (sqlite3_free it) or else by the store's error. *version is the
 * schema the store had, or -1 when it could not be read. */
int st_schema_upgrade(struct store *st, const char *path, int *version, char **msg, char *err,
                      size_t errlen);

/* store_notes.c: a notification written inside the caller's transaction, and an INSERT with
 * its notification in one of its own. */
enum store_rc st_note_insert(struct store *st, struct store_note *n);
int64_t st_insert_with_note(struct store *st, sqlite3_stmt *q, struct store_note *note,
                            int64_t *note_id);

#endif

/* store_inbox.c: the inbox: each user's received faxes. */
#include "store_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

enum store_rc
store_fax_insert(struct store *st, struct store_fax *f, struct store_note *note)
{
	sqlite3_stmt *q = st_prep(st, "INSERT INTO inbox(owner, number, remote_id, doc, pages, size, "
	    "fine, bit_rate, ecm, read, received, note, media) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)");

	if (q == NULL)
		return STORE_ERR;
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
	return f->id > 0 ? STORE_OK : STORE_ERR;
}

enum store_rc
store_fax_get(struct store *st, int64_t owner, int64_t id, struct store_fax *f)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " FAX_COLUMNS " FROM inbox WHERE id = ? AND owner = ?");

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	return st_step_one(q, fax_decode, f);
}

enum store_rc
store_fax_list(struct store *st, int64_t owner, int unread_only,
    int (*cb)(const struct store_fax *, void *), void *arg)
{
	sqlite3_stmt *q = st_prep(st, "SELECT " FAX_COLUMNS " FROM inbox WHERE owner = ? AND "
	    "(? = 0 OR read = 0) ORDER BY id DESC");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, owner);
	sqlite3_bind_int(q, 2, unread_only);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_fax f;
		fax_row(q, &f);
		if (cb(&f, arg) != 0)
			break;
	}
	st_release(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc
store_fax_mark(struct store *st, int64_t owner, int64_t id, int read)
{
	sqlite3_stmt *q = st_prep(st, "UPDATE inbox SET read = ? WHERE id = ? AND owner = ?");
	int rc;

	if (q == NULL)
		return STORE_ERR;
	sqlite3_bind_int(q, 1, read ? 1 : 0);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_int64(q, 3, owner);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		return STORE_ERR;
	return sqlite3_changes(st->db) > 0 ? STORE_OK : STORE_NONE;
}

enum store_rc
store_fax_delete(struct store *st, int64_t owner, int64_t id, char *doc, size_t doccap)
{
	struct store_fax f;
	sqlite3_stmt *q;
	enum store_rc found = store_fax_get(st, owner, id, &f);
	int rc;

	if (found != STORE_OK)
		return found;
	if ((q = st_prep(st, "DELETE FROM inbox WHERE id = ? AND owner = ?")) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, owner);
	rc = sqlite3_step(q);
	st_release(q);
	if (rc != SQLITE_DONE)
		return STORE_ERR;
	snprintf(doc, doccap, "%s", f.doc);
	return STORE_OK;
}

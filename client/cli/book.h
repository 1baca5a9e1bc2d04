/* book.h: the address book of named recipients, one file in the client's configuration. */
#ifndef NETCFAX_BOOK_H
#define NETCFAX_BOOK_H

#include <stddef.h>

#include "proto.h"

#define BOOK_ENTRIES_MAX 1000
#define BOOK_NAME_MAX    32
#define BOOK_NOTE_MAX    200
#define BOOK_FILE_MAX    (256 * 1024)   /* bytes: more is not a book netcfax wrote */

struct book_entry {
	char name[BOOK_NAME_MAX + 1];
	char number[NCFX_DEST_MAX + 1];
	char note[BOOK_NOTE_MAX + 1];
};

struct book;

/* A fax number as the server takes it: digits and + - ( ) . * # and spaces, at least one
 * digit, at most NCFX_DEST_MAX bytes. Whatever is not one is taken as a name. */
int  book_is_number(const char *s);
/* A name: a letter, then letters, digits, '.', '_' or '-'; at most BOOK_NAME_MAX. 1 or 0,
 * with the reason in why. */
int  book_valid_name(const char *s, char *why, size_t whylen);

/* Reads path (a missing file is an empty book). NULL with "path:line: why" in err. */
struct book *book_load(const char *path, char *err, size_t errlen);
void book_free(struct book *b);
int  book_count(const struct book *b);
const struct book_entry *book_get(const struct book *b, int i);   /* sorted by name */
/* The entry of name (compared without regard to case), or NULL. */
const struct book_entry *book_find(const struct book *b, const char *name);
/* 0, or -1 with the reason (bad name, bad number, bad note, a duplicate, full). */
int  book_add(struct book *b, const char *name, const char *number, const char *note,
              char *err, size_t errlen);
/* 1 removed, 0 no such name. */
int  book_remove(struct book *b, const char *name);
/* Writes the book to its path atomically (a temporary file, fsync, rename, mode 0600),
 * making the directory (0700) if need be. 0 or -1. */
int  book_save(const struct book *b, char *err, size_t errlen);
/* Takes the book's lock (path.lock, flock) for a read-modify-write; the descriptor to close,
 * or -1 with err. */
int  book_lock(const char *path, char *err, size_t errlen);

#endif

/* keytab.h: a bounded hash table from short strings (user names, addresses) to counters. */
#ifndef NETCFAX_KEYTAB_H
#define NETCFAX_KEYTAB_H

#include <stddef.h>
#include <time.h>

#define KEYTAB_KEY_MAX 72

struct keytab;

/* The caller's fields: keytab only stores them. */
struct keytab_entry {
	char   key[KEYTAB_KEY_MAX];
	long   count;
	long   pending;   /* started, not yet finished (throttle: logins being checked) */
	time_t first;     /* when count started */
	time_t last;      /* last change */
	void  *data;      /* the caller's; freed by the caller before the entry is deleted */
};

struct keytab *keytab_new(size_t max_entries);
void keytab_free(struct keytab *kt);
/* Finds key; with create, adds a zeroed entry. NULL when absent, or when the table is full
 * of entries that keytab_sweep() could not free. Keys longer than the cap are truncated. An
 * entry stays at its address until it is deleted, so a caller may keep a pointer to it. */
struct keytab_entry *keytab_get(struct keytab *kt, const char *key, int create);
void keytab_del(struct keytab *kt, const char *key);
/* Removes every entry for which idle(entry, arg) is true. */
void keytab_sweep(struct keytab *kt, int (*idle)(const struct keytab_entry *, void *), void *arg);
/* Calls fn on every entry, which it may change; removes those for which fn returns 1. */
void keytab_walk(struct keytab *kt, int (*fn)(struct keytab_entry *, void *), void *arg);
size_t keytab_count(const struct keytab *kt);

#endif

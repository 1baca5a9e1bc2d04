/* keytab.c: chained hash table with a hard entry cap, so a flood of distinct user names or
 * addresses cannot grow the server's memory without bound. */
#include "keytab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct keytab_entry e;
	struct node        *next;
};

struct keytab {
	struct node **buckets;
	size_t        nbuckets;
	size_t        count;
	size_t        max;
	uint64_t      seed;
};

static uint64_t
hash(const struct keytab *kt, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ kt->seed;   /* FNV-1a, seeded */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct keytab *
keytab_new(size_t max_entries)
{
	struct keytab *kt = calloc(1, sizeof(*kt));

	if (kt == NULL)
		return NULL;
	kt->nbuckets = 1024;
	while (kt->nbuckets < max_entries / 2 && kt->nbuckets < (1u << 20))
		kt->nbuckets <<= 1;
	kt->buckets = calloc(kt->nbuckets, sizeof(*kt->buckets));
	if (kt->buckets == NULL) {
		free(kt);
		return NULL;
	}
	kt->max = max_entries;
	kt->seed = (uint64_t)(uintptr_t)kt ^ (uint64_t)time(NULL);
	return kt;
}

void
keytab_free(struct keytab *kt)
{
	if (kt == NULL)
		return;
	for (size_t i = 0; i < kt->nbuckets; i++) {
		struct node *n = kt->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(kt->buckets);
	free(kt);
}

struct keytab_entry *
keytab_get(struct keytab *kt, const char *key, int create)
{
	char k[KEYTAB_KEY_MAX];
	size_t b;
	struct node *n;

	strncpy(k, key, sizeof(k) - 1);
	k[sizeof(k) - 1] = '\0';
	b = hash(kt, k) & (kt->nbuckets - 1);
	for (n = kt->buckets[b]; n; n = n->next)
		if (strcmp(n->e.key, k) == 0)
			return &n->e;
	if (!create || kt->count >= kt->max)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	memcpy(n->e.key, k, sizeof(k));
	n->next = kt->buckets[b];
	kt->buckets[b] = n;
	kt->count++;
	return &n->e;
}

void
keytab_del(struct keytab *kt, const char *key)
{
	char k[KEYTAB_KEY_MAX];
	struct node **pp;

	strncpy(k, key, sizeof(k) - 1);
	k[sizeof(k) - 1] = '\0';
	for (pp = &kt->buckets[hash(kt, k) & (kt->nbuckets - 1)]; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->e.key, k) == 0) {
			struct node *dead = *pp;
			*pp = dead->next;
			free(dead);
			kt->count--;
			return;
		}
}

void
keytab_sweep(struct keytab *kt, int (*idle)(const struct keytab_entry *, void *), void *arg)
{
	for (size_t i = 0; i < kt->nbuckets; i++) {
		struct node **pp = &kt->buckets[i];
		while (*pp) {
			if (idle(&(*pp)->e, arg)) {
				struct node *dead = *pp;
				*pp = dead->next;
				free(dead);
				kt->count--;
			} else
				pp = &(*pp)->next;
		}
	}
}

void
keytab_walk(struct keytab *kt, int (*fn)(struct keytab_entry *, void *), void *arg)
{
	for (size_t i = 0; i < kt->nbuckets; i++) {
		struct node **pp = &kt->buckets[i];
		while (*pp) {
			if (fn(&(*pp)->e, arg)) {
				struct node *dead = *pp;
				*pp = dead->next;
				free(dead);
				kt->count--;
			} else
				pp = &(*pp)->next;
		}
	}
}

size_t
keytab_count(const struct keytab *kt)
{
	return kt->count;
}

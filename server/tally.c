/* tally.c: events counted per kind and address, said once an interval: the listener's
 * refusals and displacements, which a flood makes by the thousand. */
#include "tally.h"

#include <stdio.h>
#include <stdlib.h>

#include "keytab.h"

#define TALLY_KINDS 10

/* An entry, keyed "KIND ADDRESS", exists from the event logged in full to the first summary
 * of an interval with nothing new: count is what the next summary says, first when its
 * interval began. */
struct tally {
	struct keytab *kt;
	long           other[TALLY_KINDS];       /* from addresses the table had no room for */
	time_t         other_first[TALLY_KINDS];
};

struct tally *
tally_new(size_t max_keys)
{
	struct tally *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->kt = keytab_new(max_keys)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
tally_free(struct tally *t)
{
	if (t == NULL)
		return;
	keytab_free(t->kt);
	free(t);
}

int
tally_note(struct tally *t, int kind, const char *key, time_t now)
{
	char k[KEYTAB_KEY_MAX];
	struct keytab_entry *e;

	if (kind < 0 || kind >= TALLY_KINDS)
		return 1;
	snprintf(k, sizeof(k), "%d %s", kind, key);
	if ((e = keytab_get(t->kt, k, 0)) != NULL) {
		if (e->count++ == 0)
			e->first = now;
		return 0;
	}
	if ((e = keytab_get(t->kt, k, 1)) != NULL) {
		e->first = now;
		return 1;
	}
	/* The table is full (a flood from many addresses): one count for all the others. */
	if (t->other[kind]++ == 0)
		t->other_first[kind] = now;
	return 0;
}

struct summary {
	time_t       now;
	tally_say_fn say;
	void        *arg;
};

static int
say_one(struct keytab_entry *e, void *arg)
{
	struct summary *x = arg;
	int kind = e->key[0] - '0';

	if (e->count == 0)
		return 1;               /* a quiet interval: the next event is news again */
	x->say(kind, e->key + 2, e->count, x->now > e->first ? (long)(x->now - e->first) : 1,
	    x->arg);
	e->count = 0;
	e->first = x->now;
	return 0;
}

void
tally_summary(struct tally *t, time_t now, tally_say_fn say, void *arg)
{
	struct summary x = { now, say, arg };

	if (t == NULL)
		return;
	keytab_walk(t->kt, say_one, &x);
	for (int k = 0; k < TALLY_KINDS; k++) {
		if (t->other[k] == 0)
			continue;
		say(k, NULL, t->other[k], now > t->other_first[k] ?
		    (long)(now - t->other_first[k]) : 1, arg);
		t->other[k] = 0;
	}
}

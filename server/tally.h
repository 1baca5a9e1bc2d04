/* tally.h: events counted per kind and address between two summaries, so that a flood is one
 * log line per address an interval rather than a line per event. */
#ifndef NETCFAX_TALLY_H
#define NETCFAX_TALLY_H

#include <stddef.h>
#include <time.h>

struct tally;

/* Says one summary: n events of kind from key (NULL: from addresses the table had no room
 * for) in the last secs seconds, none of them logged on its own. */
typedef void (*tally_say_fn)(int kind, const char *key, long n, long secs, void *arg);

/* Counts for at most max_keys (kind, key) pairs at once; beyond that, for each kind, one
 * count for every other address. kind: 0 to 9. */
struct tally *tally_new(size_t max_keys);
void tally_free(struct tally *t);
/* Counts one event. 1 when the caller should log it in full now: the first of its kind and
 * key since that pair was last quiet for an interval (so an operator sees a flood start);
 * else 0: it is counted for the next summary. */
int tally_note(struct tally *t, int kind, const char *key, time_t now);
/* Calls say for each (kind, key) with events counted since the last summary, then begins the
 * next interval. A pair with nothing to say is forgotten, so its next event is logged in full
 * again. Called once an interval, and at shutdown so the last counts are not lost. */
void tally_summary(struct tally *t, time_t now, tally_say_fn say, void *arg);

#endif

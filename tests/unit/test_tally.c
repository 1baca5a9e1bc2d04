/* test_tally.c: refusals counted per kind and address, the first of each logged at once, the
 * rest said once an interval; a full table sums the other addresses. */
#include <stdio.h>

#include "check.h"
#include "tally.h"

struct said {
	int  n;
	int  kind[8];
	char key[8][32];
	long count[8];
	long secs[8];
};

static void
say(int kind, const char *key, long n, long secs, void *arg)
{
	struct said *x = arg;

	if (x->n >= 8)
		return;
	x->kind[x->n] = kind;
	snprintf(x->key[x->n], sizeof(x->key[0]), "%s", key ? key : "(other)");
	x->count[x->n] = n;
	x->secs[x->n] = secs;
	x->n++;
}

static void
test_first_at_once_then_summed(void)
{
	struct tally *t = tally_new(16);
	struct said x = { 0 };
	time_t now = 1000000;
	long logged = 0;

	for (int i = 0; i < 500; i++)
		logged += tally_note(t, 0, "10.0.0.1", now + i / 100);
	CHECK_INT(logged, 1);
	/* another kind from the same address, and another address, are news of their own */
	CHECK_INT(tally_note(t, 1, "10.0.0.1", now), 1);
	CHECK_INT(tally_note(t, 0, "10.0.0.2", now), 1);
	tally_summary(t, now + 60, say, &x);
	/* only the pair with events not yet logged speaks, with every one of them */
	CHECK_INT(x.n, 1);
	CHECK_INT(x.kind[0], 0);
	CHECK_STR(x.key[0], "10.0.0.1");
	CHECK_INT(x.count[0], 499);
	CHECK_INT(x.secs[0], 60);
	/* a flood still going: counted, not logged at once again */
	CHECK_INT(tally_note(t, 0, "10.0.0.1", now + 70), 0);
	/* the quiet pairs were forgotten: their next event is logged at once */
	CHECK_INT(tally_note(t, 0, "10.0.0.2", now + 70), 1);
	x.n = 0;
	tally_summary(t, now + 120, say, &x);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.count[0], 1);
	CHECK_INT(x.secs[0], 50);
	/* a quiet interval ends the flood: the next one is news */
	x.n = 0;
	tally_summary(t, now + 180, say, &x);
	CHECK_INT(x.n, 0);
	CHECK_INT(tally_note(t, 0, "10.0.0.1", now + 190), 1);
	tally_free(t);
}

static void
test_full_table(void)
{
	struct tally *t = tally_new(2);
	struct said x = { 0 };
	time_t now = 2000000;
	char key[32];
	long logged = 0, total = 0;

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "10.1.0.%d", i);
		logged += tally_note(t, 2, key, now);
	}
	CHECK_INT(logged, 2);
	tally_summary(t, now + 5, say, &x);
	CHECK_INT(x.n, 1);
	CHECK_STR(x.key[0], "(other)");
	for (int i = 0; i < x.n; i++)
		total += x.count[i];
	CHECK_INT(total + logged, 100);
	tally_free(t);
	tally_summary(NULL, now, say, &x);
	tally_free(NULL);
}

int
main(void)
{
	test_first_at_once_then_summed();
	test_full_table();
	return check_report("test_tally");
}

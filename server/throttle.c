/* throttle.c: lockouts after repeated login failures, per user name and per address. */
#include "throttle.h"

#include <stdlib.h>

#include "keytab.h"

/* Enough for a large office; a flood of distinct names beyond it is still caught per address. */
#define THROTTLE_MAX_KEYS 65536

struct throttle {
	struct throttle_limits lim;
	struct keytab         *users;
	struct keytab         *addrs;
};

struct throttle *
throttle_new(const struct throttle_limits *lim)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->lim = *lim;
	t->users = keytab_new(THROTTLE_MAX_KEYS);
	t->addrs = keytab_new(THROTTLE_MAX_KEYS);
	if (t->users == NULL || t->addrs == NULL) {
		throttle_free(t);
		return NULL;
	}
	return t;
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	keytab_free(t->users);
	keytab_free(t->addrs);
	free(t);
}

/* Seconds left of a lockout, or 0. */
static long
locked(const struct throttle *t, struct keytab_entry *e, long max, time_t now)
{
	if (e == NULL)
		return 0;
	if (e->count > 0 && now - e->first > t->lim.window && now - e->last >= t->lim.lockout)
		e->count = 0;    /* the window has passed: start afresh */
	if (e->count + e->pending < max)
		return 0;
	if (e->count < max)
		return 1;        /* full of attempts in flight: wait for their verdict */
	long left = (long)(e->last + t->lim.lockout - now);
	return left > 0 ? left : 0;
}

int
throttle_check(struct throttle *t, const char *user, const char *addr, time_t now,
    long *retry_after)
{
	long u = locked(t, keytab_get(t->users, user, 0), t->lim.max_user, now);
	long a = locked(t, keytab_get(t->addrs, addr, 0), t->lim.max_addr, now);

	*retry_after = u > a ? u : a;
	return *retry_after > 0;
}

static void
count(const struct throttle *t, struct keytab_entry *e, time_t now)
{
	if (e == NULL)
		return;
	if (e->count == 0 || now - e->first > t->lim.window) {
		e->count = 0;
		e->first = now;
	}
	e->count++;
	e->last = now;
}

void
throttle_failure(struct throttle *t, const char *user, const char *addr, time_t now)
{
	/* When the user table is full the address limit still applies. */
	count(t, keytab_get(t->users, user, 1), now);
	count(t, keytab_get(t->addrs, addr, 1), now);
}

void
throttle_success(struct throttle *t, const char *user)
{
	struct keytab_entry *e = keytab_get(t->users, user, 0);

	if (e == NULL)
		return;
	if (e->pending > 0)
		e->count = 0;   /* others are still in flight: keep the entry for their end */
	else
		keytab_del(t->users, user);
}

void
throttle_begin(struct throttle *t, const char *user, const char *addr)
{
	struct keytab_entry *u = keytab_get(t->users, user, 1);
	struct keytab_entry *a = keytab_get(t->addrs, addr, 1);

	if (u)
		u->pending++;
	if (a)
		a->pending++;
}

void
throttle_end(struct throttle *t, const char *user, const char *addr, int ok, time_t now)
{
	struct keytab_entry *u = keytab_get(t->users, user, 0);
	struct keytab_entry *a = keytab_get(t->addrs, addr, 0);

	if (u && u->pending > 0)
		u->pending--;
	if (a && a->pending > 0)
		a->pending--;
	if (ok)
		throttle_success(t, user);
	else
		throttle_failure(t, user, addr, now);
}

struct expire_arg {
	const struct throttle *t;
	time_t now;
};

static int
expired(const struct keytab_entry *e, void *arg)
{
	const struct expire_arg *x = arg;

	return e->pending == 0 && x->now - e->first > x->t->lim.window &&
	    x->now - e->last >= x->t->lim.lockout;
}

void
throttle_expire(struct throttle *t, time_t now)
{
	struct expire_arg x = { t, now };

	keytab_sweep(t->users, expired, &x);
	keytab_sweep(t->addrs, expired, &x);
}

/* test_throttle.c: login lockouts per user and per address, and the bounded key table. */
#include <stdio.h>

#include "check.h"
#include "keytab.h"
#include "throttle.h"

static void
test_user_lockout(void)
{
	struct throttle_limits lim = { .max_user = 3, .max_addr = 100, .window = 300,
	    .lockout = 60 };
	struct throttle *t = throttle_new(&lim);
	long retry = 0;
	time_t now = 1000000;

	for (int i = 0; i < 2; i++) {
		CHECK_INT(throttle_check(t, "alice", "10.0.0.1", now, &retry), 0);
		throttle_failure(t, "alice", "10.0.0.1", now);
	}
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", now, &retry), 0);
	throttle_failure(t, "alice", "10.0.0.1", now);
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", now + 1, &retry), 1);
	CHECK_INT(retry, 59);
	/* the lockout is on the name: another address is refused too, another user is not */
	CHECK_INT(throttle_check(t, "alice", "10.9.9.9", now + 1, &retry), 1);
	CHECK_INT(throttle_check(t, "bob", "10.0.0.1", now + 1, &retry), 0);
	/* after the lockout one try is allowed; a failure locks again */
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", now + 61, &retry), 0);
	throttle_failure(t, "alice", "10.0.0.1", now + 61);
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", now + 62, &retry), 1);
	/* a success clears the user */
	throttle_success(t, "alice");
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", now + 62, &retry), 0);
	/* expiry drops entries whose window and lockout passed */
	throttle_failure(t, "carol", "10.0.0.2", now);
	throttle_expire(t, now + 1000);
	CHECK_INT(throttle_check(t, "carol", "10.0.0.2", now + 1000, &retry), 0);
	throttle_free(t);
}

static void
test_addr_lockout(void)
{
	struct throttle_limits lim = { .max_user = 100, .max_addr = 4, .window = 300,
	    .lockout = 30 };
	struct throttle *t = throttle_new(&lim);
	char name[16];
	long retry = 0;

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		throttle_failure(t, name, "2001:db8:1:2::/64", 500);
	}
	CHECK_INT(throttle_check(t, "fresh", "2001:db8:1:2::/64", 501, &retry), 1);
	CHECK_INT(throttle_check(t, "fresh", "192.0.2.7", 501, &retry), 0);
	/* a success for one user does not clear the address */
	throttle_success(t, "u0");
	CHECK_INT(throttle_check(t, "fresh", "2001:db8:1:2::/64", 502, &retry), 1);
	throttle_free(t);
}

static void
test_in_flight(void)
{
	struct throttle_limits lim = { .max_user = 3, .max_addr = 100, .window = 300,
	    .lockout = 60 };
	struct throttle *t = throttle_new(&lim);
	long retry = 0;

	/* three attempts being checked fill the user's allowance before any verdict */
	for (int i = 0; i < 3; i++) {
		CHECK_INT(throttle_check(t, "alice", "10.0.0.1", 100, &retry), 0);
		throttle_begin(t, "alice", "10.0.0.1");
	}
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", 100, &retry), 1);
	/* one succeeds: the user is cleared, the others still count until they end */
	throttle_end(t, "alice", "10.0.0.1", 1, 100);
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", 100, &retry), 0);
	throttle_end(t, "alice", "10.0.0.1", 0, 100);
	throttle_end(t, "alice", "10.0.0.1", 0, 100);
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", 100, &retry), 0);   /* 2 of 3 */
	throttle_begin(t, "alice", "10.0.0.1");
	throttle_end(t, "alice", "10.0.0.1", 0, 101);
	CHECK_INT(throttle_check(t, "alice", "10.0.0.1", 101, &retry), 1);
	CHECK_INT(retry, 60);
	throttle_free(t);
}

static int
zero(const struct keytab_entry *e, void *arg)
{
	(void)arg;
	return e->count == 0;
}

static void
test_keytab(void)
{
	struct keytab *kt = keytab_new(3);
	struct keytab_entry *e;

	CHECK(keytab_get(kt, "a", 1) != NULL);
	CHECK(keytab_get(kt, "b", 1) != NULL);
	e = keytab_get(kt, "c", 1);
	CHECK(e != NULL);
	e->count = 5;
	CHECK(keytab_get(kt, "d", 1) == NULL);       /* full: refused, not grown */
	CHECK(keytab_get(kt, "a", 0) != NULL);
	keytab_sweep(kt, zero, NULL);
	CHECK_INT(keytab_count(kt), 1);
	CHECK_INT(keytab_get(kt, "c", 0)->count, 5);
	CHECK(keytab_get(kt, "d", 1) != NULL);
	keytab_del(kt, "c");
	CHECK(keytab_get(kt, "c", 0) == NULL);
	keytab_free(kt);
}

int
main(void)
{
	test_user_lockout();
	test_addr_lockout();
	test_keytab();
	test_in_flight();
	return check_report("test_throttle");
}

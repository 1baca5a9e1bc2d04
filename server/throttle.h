/* throttle.h: failed-login accounting per user name and per client address. */
#ifndef NETCFAX_THROTTLE_H
#define NETCFAX_THROTTLE_H

#include <time.h>

struct throttle;

struct throttle_limits {
	long max_user;      /* failures per user name within window */
	long max_addr;      /* failures per address (IPv6 /64) within window */
	long window;        /* seconds */
	long lockout;       /* seconds after the last failure */
};

struct throttle *throttle_new(const struct throttle_limits *lim);
void throttle_free(struct throttle *t);
/* 0 may try; 1 locked out, *retry_after set. Checked before the password is looked at. */
int  throttle_check(struct throttle *t, const char *user, const char *addr, time_t now,
                    long *retry_after);
/* An attempt whose password is being checked counts against the limits until it ends, so
 * parallel connections cannot all guess at once. Every begin is followed by one end. */
void throttle_begin(struct throttle *t, const char *user, const char *addr);
/* ok: the user's failures are cleared; the address keeps its own, so one valid account
 * cannot be used to reset an address that is guessing at others. */
void throttle_end(struct throttle *t, const char *user, const char *addr, int ok, time_t now);
void throttle_failure(struct throttle *t, const char *user, const char *addr, time_t now);
void throttle_success(struct throttle *t, const char *user);
/* Drops entries whose window and lockout have passed; call now and then. */
void throttle_expire(struct throttle *t, time_t now);

#endif

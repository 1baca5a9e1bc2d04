/* pathsel.h: which path carries a session's notifications, and why: direct when the server can
 * connect back, the relay when it cannot and the client and the server both allow it; the
 * client and the operator are told the path in use and the reason. */
#ifndef NETCFAX_PATHSEL_H
#define NETCFAX_PATHSEL_H

#include <stdint.h>
#include <time.h>

#include "path.h"

/* A relayed session whose notifications wait this long for an ack is closed and starts over. */
#define NOTIFY_RELAY_ACK_TIMEOUT 30

/* The server's settings the policy follows. */
struct notify_config {
	int       relay;               /* the server relays notifications */
	long long direct_retry_min;    /* the direct path's backoff while the relay works */
	long long direct_retry_max;
};

struct pathsel;

/* Whether a session will receive notifications at all: a port to connect back to, or a relay
 * the client asked for (or accepts) and this server offers. */
int pathsel_wanted(const struct notify_host *h, const struct notify_config *cfg);

/* h, paths and cfg must outlive it (notify.c keeps them). Nothing starts until pathsel_start. */
struct pathsel *pathsel_new(const struct notify_host *h, const struct notify_paths *paths,
                            const struct notify_config *cfg);
/* Frees its paths (each detaches from the delivery), not the delivery. */
void pathsel_free(struct pathsel *ps);
/* At login: the path the client asked for, as far as this server allows, for d. */
void pathsel_start(struct pathsel *ps, struct delivery *d);
/* SCP_REGISTER after the start: the client listens on h->scp_port now (0: none). The direct
 * path starts over there; a relay in use stays until it works. */
void pathsel_register(struct pathsel *ps);
/* PATH_RETRY: a direct path waiting to retry retries now. */
void pathsel_retry_now(struct pathsel *ps);
/* The relay's ack deadline, checked every few seconds: 1 when notifications relayed have
 * waited NOTIFY_RELAY_ACK_TIMEOUT for an ack and the session was closed for it (a new login
 * resends from the last ack), else 0. busy: the client cannot ack now (it is uploading). */
int  pathsel_check(struct pathsel *ps, time_t now, int busy);

#endif

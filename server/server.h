/* server.h: what every part of netcfaxd shares: one struct server for the running daemon. */
#ifndef NETCFAX_SERVER_H
#define NETCFAX_SERVER_H

#include <stddef.h>

#include "config.h"
#include "crypto.h"

#define NETCFAX_SOFTWARE "netcfaxd/" NETCFAX_VERSION
/* Interval the server suggests for client PINGs; liveness comes with the relay. */
#define SERVER_HEARTBEAT 25
/* A client that fails this many logins on one connection is disconnected. */
#define SERVER_LOGIN_TRIES 3
/* Password checks run on this many threads; more waiting than the cap are answered "busy". */
#define SERVER_HASH_THREADS 2
#define SERVER_HASH_QUEUE   512

struct event_base;
struct tls_ctx;
struct store;
struct spool;
struct throttle;
struct keytab;
struct hashpool;
struct listener;
struct session;

struct server {
	struct event_base    *base;
	struct server_config  cfg;
	struct tls_ctx       *tls;
	struct store         *store;
	struct spool         *spool;
	struct throttle      *throttle;
	struct hashpool      *hashpool;        /* password checks off the loop thread */
	struct keytab        *conns_per_addr;  /* open connections per address */
	struct listener      *listener;
	struct session       *sessions;        /* every live connection, for shutdown */
	size_t                nconns;
	int                   stopping;
	/* Verified against when a user does not exist, so both cases cost the same time. */
	char                  dummy_hash[CRYPTO_PWHASH_MAX];
};

#endif

/* server.h: what every part of netcfaxd shares: one struct server for the running daemon. */
#ifndef NETCFAX_SERVER_H
#define NETCFAX_SERVER_H

#include <stddef.h>
#include <sys/queue.h>

#include "config.h"
#include "crypto.h"

#define NETCFAX_SOFTWARE "netcfaxd/" NETCFAX_VERSION
/* Interval the server suggests for client PINGs; a logged-in connection silent for
 * idle_timeout seconds is closed. */
#define SERVER_HEARTBEAT 25
/* A client that fails this many logins on one connection is disconnected. */
#define SERVER_LOGIN_TRIES 3
/* Password checks run on this many threads; more waiting than the cap are answered "busy".
 * The cap is high enough for every client of a site reconnecting at once after a restart: a
 * login that waits past preauth_timeout is closed, and its queued check skipped, so the queue
 * costs a password copy per waiting login and nothing more. */
#define SERVER_HASH_THREADS 2
#define SERVER_HASH_QUEUE   8192
/* Documents converted at once (ghostscript is CPU-bound), and waiting at most. */
#define SERVER_INTAKE_THREADS 2
#define SERVER_INTAKE_QUEUE   64
/* Connect-backs in progress to one address at a time (a terminal server has many sessions). */
#define SERVER_SCP_CONNECTING_PER_ADDR 8

struct event_base;
struct tls_ctx;
struct store;
struct spool;
struct throttle;
struct keytab;
struct hashpool;
struct workpool;
struct listener;
struct wakeup;
struct ackbatch;
struct outbox;
struct memtrim;
struct pcpmap;
struct session;
struct faxqueue;

struct server {
	struct event_base    *base;
	struct server_config  cfg;
	struct tls_ctx       *tls;
	struct store         *store;
	struct spool         *spool;
	struct throttle      *throttle;
	struct hashpool      *hashpool;        /* password checks off the loop thread */
	struct workpool      *intakepool;      /* documents made into fax images, likewise */
	struct keytab        *conns_per_addr;  /* open connections per address */
	struct keytab        *scp_connecting;  /* connect-backs in progress per address */
	int64_t               data_version;    /* store changes by other processes */
	struct wakeup        *wakeup;          /* their "look now" (netcfax-admin notify) */
	struct ackbatch      *acks;            /* NOTIFY_ACKs, written once per loop turn */
	struct memtrim       *memtrim;         /* freed heap back to the system after a wave */
	struct outbox        *outbox;          /* notifications: reads, fan-out (notify/) */
	struct listener      *listener;
	struct pcpmap        *pcpmap;          /* our own router mapping of the PCP, if on */
	struct faxqueue      *faxq;            /* jobs onto lines, received faxes to inboxes */
	struct session       *sessions;        /* every live connection, for shutdown */
	size_t                nconns;
	/* Connections not logged in, oldest first, one queue per step they are stuck at
	 * (session.c): what a full server closes to make room, queue by queue. */
	TAILQ_HEAD(session_queue, session) waiting[4];
	int                   stopping;
	/* Verified against when a user does not exist, so both cases cost the same time. */
	char                  dummy_hash[CRYPTO_PWHASH_MAX];
};

#endif

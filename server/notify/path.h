/* path.h: what a notification path is to the rest of the subsystem. A path carries NOTIFY
 * frames to the client: the direct SCP (server/scp.c) or the relay over the client's own PCP
 * connection (relay/relay.c). Paths know neither the session nor each other: they send for a
 * delivery (path_ops) and report to whoever made them (path_events). */
#ifndef NETCFAX_PATH_H
#define NETCFAX_PATH_H

#include <stdint.h>
#include <sys/socket.h>

struct ncfx_wbuf;
struct delivery;

/* A path as the delivery drives it. */
struct path_ops {
	int   kind;                                     /* NCFX_PATH_DIRECT or NCFX_PATH_RELAY */
	/* Queues one frame; 0, or -1 when the frame could not be queued. */
	int (*send)(void *impl, struct ncfx_wbuf *w);
	/* For a path that can sleep (delivery_sleep): there is something to send, so connect
	 * again; it attaches itself when ready, or detaches if it cannot. NULL: never sleeps. */
	void (*wake)(void *impl);
};

/* What a path that comes and goes on its own (the direct one) reports, given at creation. */
struct path_events {
	/* It reached the client and attached itself to the delivery. */
	void (*up)(void *arg, const char *target);
	/* It lost the client or never reached it (it detached itself, and retries). */
	void (*failed)(void *arg, const char *target, const char *why);
	/* Its own state in words changed (for the operator's session list). */
	void (*state)(void *arg, const char *desc);
	void *arg;
};

/* The session as the subsystem and its paths see it: how to reach the client on its PCP
 * connection, and what identifies it. The pointers point into the session, which outlives
 * everything made from this; the values are fixed at login, but for scp_port, which the
 * subsystem keeps up to date from SCP_REGISTER. */
struct notify_host {
	/* Queues a frame on the client's PCP connection: 0, or -1 when it is closing. */
	int  (*queue)(void *arg, struct ncfx_wbuf *w);
	/* Ends the session with ERROR(code, reason). */
	void (*close)(void *arg, int code, const char *reason);
	/* The session's row in the operator's list: the path in use and the path in words. */
	void (*set_row)(void *arg, int path, const char *row);
	void *arg;
	const char    *tag;            /* what its log lines start with */
	int64_t        user;
	uint64_t       session_id;
	const uint8_t *scp_secret;     /* 32 bytes, the SCP proofs' key */
	const char    *addr;           /* the observed source address */
	const char    *addr_key;       /* IPv4 address or IPv6 /64: per-address limits */
	const struct sockaddr_storage *sa;  /* the peer: where connect-backs go */
	socklen_t      salen;
	uint16_t       scp_port;       /* 0: the client listens on none */
	int            path_pref;      /* NCFX_PATH_AUTO, _DIRECT or _RELAY, from LOGIN */
	int            notify_wanted;  /* LOGIN said how it wants notifications (had a PATH) */
};

/* A probe's outcome (enum ncfx_probe_outcome), why in words, the time it took and the address
 * it tried. The receiver frees the probe. */
typedef void (*path_probe_fn)(void *probe, int result, const char *why, long elapsed_ms,
                              const char *target, void *arg);

/* How paths are made: the daemon's are server/scp.c's and relay/relay.c's, a unit test's are
 * fakes. Each part is filled by its path (scp_paths, relay_paths). */
struct notify_paths {
	/* A direct path to port that attaches itself to d once it has reached the client, and
	 * reports to ev; env is direct_env. NULL when out of memory. */
	void *(*direct_new)(void *env, const struct notify_host *h, struct delivery *d,
	                    uint16_t port, const struct path_events *ev);
	/* Frees a direct path or a probe (detaching it if it was the path in use). */
	void  (*direct_free)(void *p);
	/* Backoff bounds in seconds: short while it is the only hope, long while the relay
	 * works. */
	void  (*direct_set_retry)(void *p, long min_s, long max_s);
	/* If waiting to retry, retry now (the client asked). */
	void  (*direct_retry_now)(void *p);
	/* One connect-back to port that carries nothing, and calls done. */
	void *(*probe_new)(void *env, const struct notify_host *h, uint16_t port,
	                   path_probe_fn done, void *arg);
	void *direct_env;
	/* The relay: attaches itself to d at once. */
	void *(*relay_new)(const struct notify_host *h, struct delivery *d);
	void  (*relay_free)(void *r);
};

#endif

/* session.h: one client connection on the PCP, from TLS handshake to close. */
#ifndef NETCFAX_SESSION_H
#define NETCFAX_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include "proto.h"

struct server;
struct session;
struct requests;

/* Takes ownership of fd. NULL if the connection could not be set up (fd closed). */
struct session *session_new(struct server *srv, int fd, const struct sockaddr *sa,
                            socklen_t salen);
/* Ends the connection: sends ERROR(code, reason) with reqid 0 when code != 0, logs the reason,
 * and frees the session once the error is flushed. Safe to call from any callback: the free
 * is deferred, so the caller may still touch s until it returns. */
void session_close(struct session *s, int code, const char *reason);
/* Sets up srv->waiting, before the first connection. */
void session_queues_init(struct server *srv);
/* Closes the oldest connection not yet logged in, to make room for a new one: at
 * max_connections from any address (key NULL), at max_connections_per_address from that
 * address (key, as addr_limit_key makes it). 1 if one was closed, with its log tag and the
 * step it was stuck at ("in its TLS handshake", ...) for the caller's log; 0 if every one is
 * logged in or having its password checked. Not for use inside a session's callbacks. */
int session_evict_preauth(struct server *srv, const char *key, char *tag, size_t len,
                          const char **step);
/* Frees every session at once (shutdown). */
void session_free_all(struct server *srv);

void session_send(struct session *s, struct ncfx_wbuf *w);
/* session_send for the notifications (notify_host.queue): 0, or -1 when it is closing. */
int  session_queue(struct session *s, struct ncfx_wbuf *w);
void session_reply_error(struct session *s, uint32_t reqid, int code, const char *reason);

struct server *session_server(const struct session *s);
int64_t     session_user_id(const struct session *s);
const char *session_user(const struct session *s);
/* What every log line about this session starts with: "session=ID user=NAME addr=ADDR:PORT"
 * once logged in (the id as netcfax-admin shows it), else "addr=ADDR:PORT". */
const char *session_tag(const struct session *s);
/* What this connection has in progress for its client (jobs.c, inbox.c); the session frees
 * it, and ends it at LOGOUT and close. */
struct requests *session_requests(struct session *s);

#endif

/* client_internal.h: what the watch engine needs from the blocking client, inside the library. */
#ifndef NETCFAX_CLIENT_INTERNAL_H
#define NETCFAX_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "netcfax/netcfax.h"

struct event_base;
struct bufferevent;
struct evbuffer;

/* LOGIN with the notification path wanted (NCFX_PATH_*, or -1 for none) and an optional
 * resume point: the client already has every notification up to resume_seq. scp_secret
 * receives the session's 32-byte secret. */
ncfx_status ncfx_login_ex(ncfx_client *c, const char *user, const char *password,
                          uint16_t scp_port, int scp_mode, int path, int has_resume,
                          uint64_t resume_seq, struct ncfx_session_info *out,
                          uint8_t scp_secret[32]);
/* From now on each LOGIN asks for a resume token and presents the one from the last LOGIN_OK,
 * so that a reconnect after a server restart costs the server no password check. For a
 * client that logs in again and again (the watcher); the token lives in memory only. */
void ncfx_client_keep_resume_token(ncfx_client *c);
/* After a login that gets notifications: where the server starts the stream. 0 if the server
 * did not say. */
int ncfx_client_resume_point(const ncfx_client *c, uint64_t *seq);
/* The server name as connected to, and the CA file ("" when pinning). */
const char *ncfx_client_host(const ncfx_client *c);
const char *ncfx_client_ca_file(const ncfx_client *c);
/* The server address the connection went to ("192.0.2.1" or "2001:db8::1"). */
const char *ncfx_client_peer_addr(const ncfx_client *c);
/* Moves the connection under libevent. Frames that arrived meanwhile (notifications relayed
 * during blocking requests, bytes read past the last reply) are appended to pending, to be
 * read before anything else. The client is disconnected afterwards. */
struct bufferevent *ncfx_client_detach(ncfx_client *c, struct event_base *base,
                                       struct evbuffer *pending);

#endif

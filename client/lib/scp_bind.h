/* scp_bind.h: the client's half of the SCP handshake, shared by the watcher and the probe. */
#ifndef NETCFAX_SCP_BIND_H
#define NETCFAX_SCP_BIND_H

#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct ncfx_msg;

/* scp_bind_verify() and scp_bind_answer(): SCP_BIND named another session than ours (while
 * we have one): the server's connect-back for another client reached this one. */
#define SCP_BIND_OTHER_SESSION (-2)

/* The check of an SCP connection's first frame, without I/O: m must be SCP_BIND for
 * session_id carrying want, the proof the server must have made over this connection.
 * 0, or -1 (SCP_BIND_OTHER_SESSION for another session) with why. */
int scp_bind_verify(const struct ncfx_msg *m, uint64_t session_id, const uint8_t want[32],
                    char *why, size_t whylen);
/* m is the first frame on an accepted SCP connection. It must be SCP_BIND for session_id with
 * the server's proof over this connection (scp_bind_verify); then our proof goes back in
 * SCP_BIND_OK and 0 is returned. Otherwise -1 or SCP_BIND_OTHER_SESSION with why (nothing is
 * sent: the caller decides whether to tell the server it reached another client). */
int scp_bind_answer(struct bufferevent *bev, const struct ncfx_msg *m, uint64_t session_id,
                    const uint8_t secret[32], char *why, size_t whylen);

/* Pinning mode: the SCP peer must present exactly the certificate pinned for the PCP.
 * 0, or -1 with why. pinned NULL or "" (CA mode, verified by TLS itself): always 0. */
int scp_bind_check_peer(struct bufferevent *bev, const char *pinned, char *why, size_t whylen);

#endif

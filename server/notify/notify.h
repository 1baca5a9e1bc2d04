/* notify.h: the notification subsystem as a session sees it. A logged-in session holds one
 * notify_session and calls these at its events; everything else (the stream, the paths and
 * the choice between them) happens behind it, reaching the session only through the
 * notify_host it gave. */
#ifndef NETCFAX_NOTIFY_H
#define NETCFAX_NOTIFY_H

#include <stdint.h>
#include <time.h>

#include "path.h"
#include "pathsel.h"

struct outbox;
struct notify_session;

/* At login. host, paths and cfg are copied; what they point to must outlive the result. */
struct notify_session *notify_session_new(struct outbox *ob, const struct notify_host *host,
                                          const struct notify_paths *paths,
                                          const struct notify_config *cfg);
/* Frees the paths (each detaches), the probe and the stream. */
void notify_session_free(struct notify_session *n);
/* For LOGIN_OK, given the SEQ the client sent (has_seq: it sent one): 1 if notifications
 * will start, with *seq where they start (after what the client has, or else after what the
 * user last acknowledged), else 0. */
int  notify_login(struct notify_session *n, int has_seq, uint64_t client_seq, uint64_t *seq);
/* After LOGIN_OK is queued: starts the stream and its path, if notify_login said so. */
void notify_start(struct notify_session *n);
/* NOTIFY_ACK on the PCP (relayed notifications): 0, or -1 for an ack of what was never sent
 * (a protocol error: the session closes). */
int  notify_ack(struct notify_session *n, uint64_t seq);
/* SCP_REGISTER with a port the session's policy allows (0: none). */
void notify_scp_register(struct notify_session *n, uint16_t port);
/* PATH_RETRY. */
void notify_retry(struct notify_session *n);
/* SCP_PROBE: NULL if one may start now, else why not (answered with ERROR LIMIT). */
const char *notify_probe_refused(const struct notify_session *n);
/* Starts the probe to port (allowed by the session's policy); its SCP_PROBE_RESULT goes to the
 * host with reqid. -1 when out of memory. */
int  notify_probe(struct notify_session *n, uint16_t port, uint32_t reqid);
/* Every few seconds: 1 if the session was closed (the relay's ack deadline), else 0. busy:
 * the client cannot acknowledge now. */
int  notify_tick(struct notify_session *n, time_t now, int busy);
/* The session is closing: new notifications are no longer pushed to it. */
void notify_quiet(struct notify_session *n);

#endif

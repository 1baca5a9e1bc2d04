/* scp.h: the direct Secondary Connection Port path of one session: the server connects back
 * to the client's observed address and registered port and proves itself; the session's
 * delivery then sends notifications through it. */
#ifndef NETCFAX_SCP_H
#define NETCFAX_SCP_H

#include <stdint.h>

struct session;
struct scp;

/* Starts connecting back (now). Once the client has proved itself the connection becomes the
 * session's notification path (delivery_attach); failures are reported to the session
 * (session_direct_failed) and retried with backoff. */
struct scp *scp_new(struct session *s);
void scp_free(struct scp *p);
/* A probe: connects back once to port (on the session's observed address), proves itself and
 * checks the client's proof like the SCP would, and then calls done with the outcome (enum
 * ncfx_probe_outcome), why in words, the time taken and the address it tried. It carries no
 * notifications; done may scp_free it. */
typedef void (*scp_probe_fn)(struct scp *p, int result, const char *why, long elapsed_ms,
                             const char *target, void *arg);
struct scp *scp_probe_new(struct session *s, uint16_t port, scp_probe_fn done, void *arg);
/* Backoff bounds in seconds: short while this is the only hope, long while the relay works. */
void scp_set_retry(struct scp *p, long min_s, long max_s);
/* The client asked: if waiting to retry, retry now. */
void scp_retry_now(struct scp *p);
int  scp_ready(const struct scp *p);
/* A short description for logs and the session list ("connected", "retry in 4 s: ..."). */
const char *scp_describe(const struct scp *p);

#endif

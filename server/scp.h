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
/* Backoff bounds in seconds: short while this is the only hope, long while the relay works. */
void scp_set_retry(struct scp *p, long min_s, long max_s);
/* The client asked: if waiting to retry, retry now. */
void scp_retry_now(struct scp *p);
int  scp_ready(const struct scp *p);
/* A short description for logs and the session list ("connected", "retry in 4 s: ..."). */
const char *scp_describe(const struct scp *p);

#endif

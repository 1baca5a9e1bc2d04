/* scp.h: the direct Secondary Connection Port path of one session: the server connects back
 * to the client's observed address and registered port and proves itself; the session's
 * delivery then sends notifications through it. */
#ifndef NETCFAX_SCP_H
#define NETCFAX_SCP_H

#include <stdint.h>

#include "path.h"

struct server;
struct scp;
struct delivery;

/* Starts connecting back to port (now). Once the client has proved itself the connection
 * becomes d's path (delivery_attach) and ev->up is called; failures detach it, are reported
 * to ev->failed and retried with backoff; ev->state follows its state in words. */
struct scp *scp_new(struct server *srv, const struct notify_host *h, struct delivery *d,
                    uint16_t port, const struct path_events *ev);
void scp_free(struct scp *p);
/* A probe: connects back once to port (on the session's observed address), proves itself and
 * checks the client's proof like the SCP would, and then calls done with the outcome (enum
 * ncfx_probe_outcome), why in words, the time taken and the address it tried. It carries no
 * notifications; done may scp_free it. */
struct scp *scp_probe_new(struct server *srv, const struct notify_host *h, uint16_t port,
                          path_probe_fn done, void *arg);
/* Backoff bounds in seconds: short while this is the only hope, long while the relay works. */
void scp_set_retry(struct scp *p, long min_s, long max_s);
/* The client asked: if waiting to retry, retry now. */
void scp_retry_now(struct scp *p);
int  scp_ready(const struct scp *p);
/* A short description for logs and the session list ("connected", "retry in 4 s: ..."). */
const char *scp_describe(const struct scp *p);
/* Fills the direct part of np (path.h) with these, on srv. */
void scp_paths(struct notify_paths *np, struct server *srv);

#endif

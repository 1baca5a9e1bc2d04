/* scp.h: the direct Secondary Connection Port path of one session: the server connects back
 * to the client's observed address and registered port, proves itself, and pushes the user's
 * notifications with a window of unacknowledged ones. */
#ifndef NETCFAX_SCP_H
#define NETCFAX_SCP_H

#include <stdint.h>

struct session;
struct scp;

/* Starts connecting back (now). resume: the highest seq the client already has. */
struct scp *scp_new(struct session *s, uint64_t resume);
void scp_free(struct scp *p);
/* New notifications may exist for this session's user: send what the window allows. */
void scp_pump(struct scp *p);
/* A short description for logs and the session list ("connected", "retry in 4 s: ..."). */
const char *scp_describe(const struct scp *p);

#endif

/* admin.h: what the files of netcfax-admin share: its exit codes and the commands kept
 * outside admin.c. */
#ifndef NETCFAX_ADMIN_H
#define NETCFAX_ADMIN_H

#include "config.h"
#include "store.h"

enum { EX_OK_ = 0, EX_REFUSED = 1, EX_USAGE_ = 64, EX_INTERNAL = 70 };

/* netcfax-admin sessions [--json]: the live sessions. */
int admin_sessions(struct store *st, int argc, char **argv);
/* netcfax-admin status [--json]: sessions, fax lines, the queue and recent failures. */
int admin_status(const struct server_config *cfg, struct store *st, int argc, char **argv);

#endif

/* spanlog.h: spandsp's own protocol trace (T.30 frames, T.31 and modem events) into our log
 * at debug level, so a failing call can be read frame by frame as the engine saw it. */
#ifndef NETCFAX_SPANLOG_H
#define NETCFAX_SPANLOG_H

#include <spandsp.h>

/* When the log level is debug, ls's protocol and flow messages go to log_debug with tag in
 * front (spandsp keeps the pointer: tag must outlive ls). Otherwise nothing changes. */
void spanlog_attach(logging_state_t *ls, const char *tag);

#endif

/* backoff.h: retry delays for everything that reconnects (SCP connect-backs, watchers). */
#ifndef NETCFAX_BACKOFF_H
#define NETCFAX_BACKOFF_H

/* Milliseconds before retry number attempts (0 = first): 1, 2, 4 ... max_s seconds, each
 * scaled by a random 0.5..1.0 so that peers that failed together do not retry together. */
long backoff_delay_ms(int attempts, long max_s);

#endif

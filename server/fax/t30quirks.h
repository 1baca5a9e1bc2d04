/* t30quirks.h: the places where spandsp 0.0.6's T.30 ends a call that T.30 itself would
 * carry on, and a receiving fax machine does, put back on T.30's path. */
#ifndef NETCFAX_T30QUIRKS_H
#define NETCFAX_T30QUIRKS_H

#include <spandsp.h>

/* Watches the frames t receives (it takes t's real-time frame handler). One quirk today:
 * a DCS repeated because the far end never heard our answer to its training check (TCF)
 * is taken as a fresh DCS, as spandsp already does once we have answered, instead of
 * ending the call as "Unexpected message received". On a lossy audio path the TCF is
 * what a lost packet most often breaks, since its modem trains only once. */
void t30quirks_attach(t30_state_t *t);

#endif

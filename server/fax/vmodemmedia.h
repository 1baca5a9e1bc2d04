/* vmodemmedia.h: the media of a call to or from a fax program on a virtual modem (vmodem.h):
 * G.711 frames of our fax engine to and from the modem's 8 kHz audio, in memory, paced by
 * the modem's own 20 ms steps. */
#ifndef NETCFAX_VMODEMMEDIA_H
#define NETCFAX_VMODEMMEDIA_H

#include "media.h"
#include "vmodem.h"

extern const struct media_ops vmodemmedia_ops;

/* The media of the call modem m has up (answered or connected); start it with the codec
 * (MEDIA_PCMA or MEDIA_PCMU; its peer has no address). NULL when out of memory. Free with
 * vmodemmedia_ops.free; the modem stays the caller's. */
void *vmodemmedia_new(struct vmodem *m);

#endif

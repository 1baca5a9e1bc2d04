/* rtpaudio.h: G.711 audio over RTP, the first media of a call (media.h). */
#ifndef NETCFAX_RTPAUDIO_H
#define NETCFAX_RTPAUDIO_H

#include <stddef.h>

#include "media.h"

extern const struct media_ops rtpaudio_ops;

#define RTPAUDIO_DEPTH_MS 80          /* the jitter buffer's fixed delay by default */

struct rtpaudio_opts {
	const char *bind_addr;            /* a numeric IPv4 or IPv6 address; NULL: 0.0.0.0 */
	int         port_min, port_max;   /* an even port in this range; 0, 0: any the kernel gives */
	int         depth_ms;             /* jitter buffer, 20..200 in steps of 20; 0: the default */
};

/* A socket bound to receive (and send) the call's RTP, not yet started. NULL with the reason
 * in err (a bad address, no free port in the range). Free with rtpaudio_ops.free. */
void *rtpaudio_new(const struct rtpaudio_opts *o, char *err, size_t errlen);

#endif

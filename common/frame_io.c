/* frame_io.c: the one place frames meet libevent buffers, for the server's sessions, its SCP
 * connections and the client's watch loop alike. */
#include "frame_io.h"

#include <inttypes.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

int
frame_next(struct evbuffer *in, struct ncfx_msg *m, size_t *len, int *err, char *why,
    size_t whylen)
{
	size_t avail = evbuffer_get_length(in), used = 0;
	const char *reason = NULL;
	struct ncfx_frame f;
	uint8_t hdr[4];
	const uint8_t *p;
	uint32_t flen;

	if (avail < sizeof(hdr))
		return 0;
	evbuffer_copyout(in, hdr, sizeof(hdr));
	flen = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
	    hdr[3];
	if (flen > NCFX_FRAME_MAX || flen < NCFX_FRAME_HDR) {
		ncfx_frame_parse(hdr, sizeof(hdr), &f, &used, err, &reason);
		snprintf(why, whylen, "%s (length %" PRIu32 ")", reason, flen);
		return -1;
	}
	if (avail < flen)
		return 0;
	p = evbuffer_pullup(in, (ssize_t)flen);
	if (p == NULL) {
		*err = NCFX_E_INTERNAL;
		snprintf(why, whylen, "out of memory reading a frame");
		return -1;
	}
	if (ncfx_frame_parse(p, flen, &f, &used, err, &reason) != 1 ||
	    ncfx_msg_decode(&f, m, err, &reason) < 0) {
		if (*err == NCFX_E_UNKNOWN_TYPE)
			snprintf(why, whylen, "unknown message type 0x%04x", f.type);
		else
			snprintf(why, whylen, "malformed %s frame: %s", ncfx_msg_type_name(f.type),
			    reason ? reason : "bad frame");
		return -1;
	}
	*len = flen;
	return 1;
}

int
frame_send(struct bufferevent *bev, struct ncfx_wbuf *w)
{
	size_t n = ncfx_wbuf_end(w);

	if (n == 0)
		return -1;
	return bufferevent_write(bev, w->data, n) == 0 ? 0 : -1;
}

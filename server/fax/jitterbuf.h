/* jitterbuf.h: a fixed-depth jitter buffer for fax audio: frames go in as they arrive, by
 * sequence number, and come out one per 20 ms in order, a gap filled with silence. */
#ifndef NETCFAX_JITTERBUF_H
#define NETCFAX_JITTERBUF_H

#include <stddef.h>
#include <stdint.h>

#define JITTERBUF_FRAME_MAX 160       /* bytes in a frame: 20 ms of G.711 */
#define JITTERBUF_DEPTH_MAX 10        /* frames of delay: 200 ms at most */

struct jitterbuf;

enum jitterbuf_put {
	JITTERBUF_TAKEN = 0,
	JITTERBUF_LATE,                   /* its time to be played has passed: dropped */
	JITTERBUF_DUPLICATE,              /* that frame is already held: dropped */
	JITTERBUF_BAD,                    /* not one frame long: dropped */
};

struct jitterbuf_stats {
	uint64_t taken;
	uint64_t reordered;               /* taken, but after a frame with a higher number */
	uint64_t late;
	uint64_t duplicates;
	uint64_t bad;
	uint64_t lost;                    /* played as silence: a later frame came, this one not */
	uint64_t underruns;               /* played as silence: nothing newer had come */
	uint64_t resyncs;                 /* the far end's numbering jumped: started again */
};

/* A buffer that holds depth frames (1..JITTERBUF_DEPTH_MAX) of frame bytes each before it
 * plays the first; silence is the byte played where a frame is missing. The depth never
 * changes: fax modems take a constant delay far better than a varying one. NULL when out of
 * memory or a size is out of range. */
struct jitterbuf *jitterbuf_new(int depth, size_t frame, uint8_t silence);
void jitterbuf_free(struct jitterbuf *j);

/* A frame that arrived: enum jitterbuf_put. */
int jitterbuf_put(struct jitterbuf *j, uint16_t seq, const uint8_t *data, size_t len);

/* The next frame to play, into out (frame bytes): the one due, or silence. */
void jitterbuf_get(struct jitterbuf *j, uint8_t *out);

void jitterbuf_stats(const struct jitterbuf *j, struct jitterbuf_stats *s);

#endif

/* jitterbuf.c: a ring of slots indexed by sequence number. Playing starts depth frames after
 * the first arrival and then advances one slot per call, whatever arrives: a frame that comes
 * after its slot was played is late. The depth is fixed; only when the far end's numbering
 * jumps (a new stream, or clocks drifted by more than the ring) does the buffer start again
 * from the frame in hand, with the same depth. */
#include "jitterbuf.h"

#include <stdlib.h>
#include <string.h>

#define RING        32               /* slots: ahead of the one playing by at most this */
#define LATE_RESYNC 8                /* late frames in a row that mean the stream moved */

struct slot {
	int      full;
	uint16_t seq;
	uint8_t  data[JITTERBUF_FRAME_MAX];
};

struct jitterbuf {
	int         depth;
	size_t      frame;
	uint8_t     silence;
	int         anchored;            /* a first frame came */
	int         hold;                /* silent plays left before the first frame */
	uint16_t    play;                /* the sequence number of the next slot played */
	uint16_t    high;                /* the highest sequence number taken */
	int         late_run;
	struct slot ring[RING];
	struct jitterbuf_stats st;
};

struct jitterbuf *
jitterbuf_new(int depth, size_t frame, uint8_t silence)
{
	struct jitterbuf *j;

	if (depth < 1 || depth > JITTERBUF_DEPTH_MAX || frame < 1 || frame > JITTERBUF_FRAME_MAX)
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->depth = depth;
	j->frame = frame;
	j->silence = silence;
	return j;
}

void
jitterbuf_free(struct jitterbuf *j)
{
	free(j);
}

static void
anchor(struct jitterbuf *j, uint16_t seq)
{
	for (int i = 0; i < RING; i++)
		j->ring[i].full = 0;
	j->anchored = 1;
	j->hold = j->depth;
	j->play = seq;
	j->high = seq;
	j->late_run = 0;
}

int
jitterbuf_put(struct jitterbuf *j, uint16_t seq, const uint8_t *data, size_t len)
{
	struct slot *s;
	int ahead;

	if (len != j->frame) {
		j->st.bad++;
		return JITTERBUF_BAD;
	}
	if (!j->anchored)
		anchor(j, seq);
	ahead = (int16_t)(uint16_t)(seq - j->play);
	if (ahead < 0 && ++j->late_run >= LATE_RESYNC) {
		j->st.resyncs++;
		anchor(j, seq);
		ahead = 0;
	} else if (ahead < 0) {
		j->st.late++;
		return JITTERBUF_LATE;
	}
	if (ahead >= RING) {
		j->st.resyncs++;
		anchor(j, seq);
	}
	j->late_run = 0;
	s = &j->ring[seq % RING];
	if (s->full && s->seq == seq) {
		j->st.duplicates++;
		return JITTERBUF_DUPLICATE;
	}
	s->full = 1;
	s->seq = seq;
	memcpy(s->data, data, len);
	if ((int16_t)(uint16_t)(seq - j->high) < 0)
		j->st.reordered++;
	else
		j->high = seq;
	j->st.taken++;
	return JITTERBUF_TAKEN;
}

void
jitterbuf_get(struct jitterbuf *j, uint8_t *out)
{
	struct slot *s;

	if (!j->anchored || j->hold > 0) {
		if (j->hold > 0)
			j->hold--;
		memset(out, j->silence, j->frame);
		return;
	}
	s = &j->ring[j->play % RING];
	if (s->full && s->seq == j->play) {
		memcpy(out, s->data, j->frame);
		s->full = 0;
	} else {
		memset(out, j->silence, j->frame);
		if ((int16_t)(uint16_t)(j->high - j->play) > 0)
			j->st.lost++;
		else
			j->st.underruns++;
	}
	j->play++;
	/* Playing past the highest frame taken (the far end fell silent or slowed): high stays
	 * just behind play, so it never looks ahead of it once the numbers wrap. */
	if ((int16_t)(uint16_t)(j->high - j->play) < -1)
		j->high = (uint16_t)(j->play - 1);
}

void
jitterbuf_stats(const struct jitterbuf *j, struct jitterbuf_stats *s)
{
	*s = j->st;
}

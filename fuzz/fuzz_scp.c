/* fuzz_scp.c: libFuzzer harness for what a watcher hears from the server. The input is read
 * twice, as the watcher reads its two streams: as an SCP connection (frames cut by frame_next,
 * the first judged by scp_bind_verify against the proof this connection expects, the rest by
 * notice_scp) and as the PCP after login (notice_pcp: relayed NOTIFY, NOTIFY_PATH, replies).
 * The proof a real connection expects comes from its TLS exporter; here it is PROOF, which the
 * seeds carry. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame_io.h"
#include "notice.h"
#include "proto.h"
#include "scp_bind.h"

#define SESSION_ID UINT64_C(0x5eed5eed00000001)

static const uint8_t PROOF[32] = {
	0x50, 0x52, 0x4f, 0x4f, 0x46, 0x2d, 0x6f, 0x66, 0x2d, 0x74, 0x68, 0x65, 0x2d, 0x73,
	0x65, 0x72, 0x76, 0x65, 0x72, 0x2d, 0x66, 0x6f, 0x72, 0x2d, 0x66, 0x75, 0x7a, 0x7a,
	0x69, 0x6e, 0x67, 0x21,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the watcher promises whatever comes: a notification is shown once, in rising seq
 * order, and a connection's acknowledgement covers what it carried, never more. */
static void
check_verdict(int v, const struct notice *nt, const struct notice_acks *a,
    const struct notice_seen *before, const struct notice_seen *after)
{
	if (v == NOTICE_SHOW) {
		if ((before->has && nt->n.seq <= before->last) || !after->has ||
		    after->last != nt->n.seq || a->max_seq < nt->n.seq || !a->due ||
		    nt->n.event_name == NULL || nt->n.state_name == NULL || nt->n.text == NULL ||
		    nt->n.dest == NULL || nt->n.filename == NULL || nt->n.remote_id == NULL ||
		    nt->n.media == NULL || strlen(nt->n.media) > NCFX_MEDIA_MAX)
			abort();
	} else if (before->has != after->has || before->last != after->last)
		abort();
	if (v == NOTICE_SEEN && !a->due)
		abort();
}

static void
scp_stream(struct evbuffer *in)
{
	struct notice_acks acks = { 0, 0 };
	struct notice_seen seen = { 0, 0 };
	int bound = 0;

	for (;;) {
		struct notice_seen before = seen;
		struct ncfx_msg m;
		struct notice nt;
		char why[160];
		size_t len = 0;
		int err = 0, v;

		if (frame_next(in, &m, &len, &err, why, sizeof(why)) != 1)
			return;
		if (!bound) {
			if (scp_bind_verify(&m, SESSION_ID, PROOF, why, sizeof(why)) < 0)
				return;
			bound = 1;
		} else {
			v = notice_scp(&acks, &seen, &m, &nt, why, sizeof(why));
			if (v == NOTICE_DROP)
				return;
			check_verdict(v, &nt, &acks, &before, &seen);
		}
		evbuffer_drain(in, len);
	}
}

static void
pcp_stream(struct evbuffer *in)
{
	struct notice_acks acks = { 0, 0 };
	/* As after a login that resumed at seq 3. */
	struct notice_seen seen = { 1, 3 };

	for (;;) {
		struct notice_seen before = seen;
		struct ncfx_msg m;
		struct notice nt;
		char why[160];
		size_t len = 0;
		int err = 0, v;

		if (frame_next(in, &m, &len, &err, why, sizeof(why)) != 1)
			return;
		v = notice_pcp(&acks, &seen, &m, &nt);
		if (v == NOTICE_DROP)
			abort();
		check_verdict(v, &nt, &acks, &before, &seen);
		evbuffer_drain(in, len);
		if (v == NOTICE_CLOSED)
			return;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in = evbuffer_new();

	if (in == NULL)
		return 0;
	evbuffer_add(in, data, size);
	scp_stream(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, data, size);
	pcp_stream(in);
	evbuffer_free(in);
	return 0;
}

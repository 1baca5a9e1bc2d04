/* vmodemmedia.c: a call's media over a virtual modem (media.h's interface): no socket, the
 * modem's thread is the clock. A step waits for the modem's next 20 ms; the frame our
 * engine sends is decoded to linear audio for the modem to hear, and the modem's 20 ms are
 * encoded for our engine. The G.711 on the way is what a telephone line between a fax
 * program's modem and a fax machine would carry. */
#include "vmodemmedia.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

struct vmodemmedia {
	struct vmodem      *m;
	int                 codec;
	uint64_t            seen;        /* the modem's steps taken */
	struct media_stats  st;
};

void *
vmodemmedia_new(struct vmodem *m)
{
	struct vmodemmedia *v = calloc(1, sizeof(*v));

	if (v != NULL)
		v->m = m;
	return v;
}

static int
vm_local(void *media, struct sockaddr_storage *addr, socklen_t *len)
{
	(void)media;
	(void)addr;
	*len = 0;
	return -1;                      /* in memory: no address to offer */
}

static int
vm_start(void *media, const struct media_peer *peer, char *err, size_t errlen)
{
	struct vmodemmedia *v = media;

	if (peer->codec != MEDIA_PCMA && peer->codec != MEDIA_PCMU) {
		snprintf(err, errlen, "a virtual modem carries G.711 (PCMA, PCMU) only");
		return -1;
	}
	v->codec = peer->codec;
	return 0;
}

static int
vm_step(void *media, const atomic_int *abort)
{
	struct vmodemmedia *v = media;

	if (v->codec == 0)
		return -1;
	return vmodem_audio_wait(v->m, &v->seen, abort);
}

static int
vm_send(void *media, const uint8_t *unit, size_t len)
{
	struct vmodemmedia *v = media;
	int16_t amp[VMODEM_SAMPLES];

	if (v->codec == 0 || len != MEDIA_FRAME_BYTES) {
		v->st.send_errors++;
		return -1;
	}
	for (int i = 0; i < VMODEM_SAMPLES; i++)
		amp[i] = v->codec == MEDIA_PCMA ? alaw_to_linear(unit[i]) : ulaw_to_linear(unit[i]);
	vmodem_audio_put(v->m, amp);
	v->st.sent++;
	return 0;
}

static int
vm_recv(void *media, uint8_t *buf, size_t cap)
{
	struct vmodemmedia *v = media;
	int16_t amp[VMODEM_SAMPLES];

	if (v->codec == 0 || cap < MEDIA_FRAME_BYTES)
		return 0;
	vmodem_audio_get(v->m, amp);
	for (int i = 0; i < VMODEM_SAMPLES; i++)
		buf[i] = v->codec == MEDIA_PCMA ? linear_to_alaw(amp[i]) : linear_to_ulaw(amp[i]);
	v->st.received++;
	return MEDIA_FRAME_BYTES;
}

static int
vm_codec(void *media)
{
	return ((struct vmodemmedia *)media)->codec;
}

static void
vm_stats(void *media, struct media_stats *s)
{
	struct vmodemmedia *v = media;
	struct vmodem_stats ms;

	*s = v->st;
	vmodem_stats(v->m, &ms);
	s->underruns = ms.underruns;
	s->lost = ms.overruns;
}

static void
vm_free(void *media)
{
	free(media);
}

const struct media_ops vmodemmedia_ops = {
	.name = "vmodem-g711",
	.kind = MEDIA_AUDIO,
	.local = vm_local,
	.start = vm_start,
	.step = vm_step,
	.send = vm_send,
	.recv = vm_recv,
	.codec = vm_codec,
	.stats = vm_stats,
	.free = vm_free,
};

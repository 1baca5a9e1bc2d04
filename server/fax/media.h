/* media.h: the media of a call behind one small interface: G.711 audio over RTP (rtpaudio.c),
 * T.38 over UDPTL (t38media.c), and a virtual modem's audio (vmodemmedia.c). The fax engine
 * (faxcall_media_run) drives a media object on the call's worker thread: one step every
 * 20 ms, taking in what the far end sent and sending what the modem made. */
#ifndef NETCFAX_MEDIA_H
#define NETCFAX_MEDIA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MEDIA_TICK_MS     20          /* one step: 160 samples at 8 kHz */
#define MEDIA_FRAME_BYTES 160         /* a G.711 frame of one step */

enum media_kind {
	MEDIA_AUDIO = 1,                  /* a unit is one 20 ms G.711 frame (160 bytes) */
	MEDIA_IFP,                        /* a unit is one T.38 IFP packet */
};

enum media_codec {
	MEDIA_PCMU = 1,                   /* G.711 µ-law (North America, Japan) */
	MEDIA_PCMA,                       /* G.711 A-law (everywhere else) */
	MEDIA_T38,                        /* T.38 over UDPTL */
};

/* What the offer and answer agreed: where the far end receives, and how. */
struct media_peer {
	struct sockaddr_storage addr;
	socklen_t               addrlen;
	int                     codec;    /* enum media_codec */
	int                     pt;       /* the RTP payload type for it (0 for PCMU, 8 for PCMA) */
};

struct media_stats {
	uint64_t sent;                    /* packets */
	uint64_t send_errors;
	uint64_t received;                /* packets from the peer, taken */
	uint64_t strangers;               /* packets from any other address: dropped */
	uint64_t malformed;               /* not a packet of this media: dropped */
	uint64_t other_payload;           /* from the peer, another payload type: dropped */
	uint64_t late, duplicates, reordered;
	uint64_t lost;                    /* frames the far end sent that never came in time */
	uint64_t underruns;               /* steps with nothing from the far end to play */
	uint64_t resyncs;                 /* the far end's stream jumped: the buffer restarted */
	uint64_t latched;                 /* the far end came from another port of its address
	                                  * (a NAT's), and was taken there (rtpaudio.c) */
	uint64_t keepalives;              /* sent while the far end was silent (t38media.c) */
};

struct media_ops {
	const char *name;
	int         kind;                 /* enum media_kind */
	/* The address packets are received on (and sent from): what the SDP offers. */
	int  (*local)(void *m, struct sockaddr_storage *addr, socklen_t *len);
	/* Starts the media towards the negotiated peer; the first step's clock starts here.
	 * 0, or -1 with the reason in err (a codec this media does not carry). */
	int  (*start)(void *m, const struct media_peer *peer, char *err, size_t errlen);
	/* Starts again, towards peer, media started on an early answer (a 183's SDP) now that
	 * the final one (the 200's) came: what was received so far (ring-back, an
	 * announcement) is dropped, so the fax engine hears only the answered call; the stream
	 * we send goes on. A peer like the started one keeps the port latched meanwhile. 0, or
	 * -1 with the reason. NULL in a media that cannot (it is then started at the answer
	 * only). */
	int  (*restart)(void *m, const struct media_peer *peer, char *err, size_t errlen);
	/* Waits for the next step on the monotonic clock, taking in every packet that arrives
	 * meanwhile. 0; -1 when abort was set or the socket failed. */
	int  (*step)(void *m, const atomic_int *abort);
	/* Sends one unit. 0, or -1 (counted in send_errors). */
	int  (*send)(void *m, const uint8_t *unit, size_t len);
	/* The next unit received, into buf: its length; 0 when there is none. Audio always gives
	 * one frame, silence where the far end's did not come. */
	int  (*recv)(void *m, uint8_t *buf, size_t cap);
	/* The codec started with (enum media_codec), 0 before start. */
	int  (*codec)(void *m);
	void (*stats)(void *m, struct media_stats *s);
	/* Closes the socket and frees the object; NULL is fine. */
	void (*free)(void *m);
};

#endif

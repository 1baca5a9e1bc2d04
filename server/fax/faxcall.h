/* faxcall.h: one fax call, run to its end: two T.30 endpoints (spandsp) exchanging 8 kHz audio
 * in memory, the caller sending a TIFF-F document and the answering side writing what it
 * receives. The audio between them can pass through A-law and added noise, as on a telephone
 * line, and the answering side can behave like a particular fax machine (no fine resolution,
 * hanging up after page N). Time exists only as samples: a call runs as fast as the CPU allows
 * unless it is paced to real time. One side of a call can also run over the network, on a
 * call's media (faxcall_media_run), in real time: G.711 audio or T.38, switching from the
 * first to the second mid-call when the signalling asks. Blocking; a call is independent of
 * every other, so calls may run on several threads at once. */
#ifndef NETCFAX_FAXCALL_H
#define NETCFAX_FAXCALL_H

#include <stdatomic.h>
#include <stdint.h>

#include "media.h"

#define FAXCALL_ID_MAX 21            /* T.30 station identity: 20 characters */
#define FAXCALL_MEDIA_MAX 8          /* "G.711", "T.38" and the NUL */

enum faxcall_event {
	FAXCALL_CONNECTED = 1,           /* phase B done: the machines agreed how to send */
	FAXCALL_PAGE,                    /* a page went through (page of pages) */
};

struct faxcall_progress {
	int  event;                      /* enum faxcall_event */
	int  page;                       /* pages sent so far on this call (from first_page) */
	int  pages;                      /* pages in the document, all of them */
	int  bit_rate;                   /* bit/s */
	int  ecm;                        /* error correction in use */
	char remote_id[FAXCALL_ID_MAX];  /* the answering machine's CSI */
	char media[FAXCALL_MEDIA_MAX];   /* over the network: "G.711" or "T.38"; else "" */
};

struct t30_state_s;

/* Where a T.30 session stands, as a progress event: the pages sent (calling) or received so
 * far, the document's pages (calling), bit rate, ECM, the far end's id, and media (may be
 * ""). Every engine that runs spandsp's T.30 reports through it. */
void faxcall_progress_of(struct t30_state_s *t, int calling, int event, const char *media,
                         struct faxcall_progress *p);

struct faxcall_opts {
	const char *tx_tiff;             /* the caller's document (TIFF-F) */
	int         first_page;          /* the first page of it to send, from 1; 0: from 1 */
	const char *rx_tiff;             /* where the answering side writes; NULL: discard */
	const char *caller_id;           /* TSI; may be NULL */
	const char *callee_id;           /* CSI; may be NULL */
	const char *page_header;         /* printed atop each sent page; NULL: none */
	int         ecm;                 /* offer error correction (both sides) */
	int         alaw;                /* the audio passes through G.711 A-law both ways */
	float       noise_dbm0;          /* added white noise, e.g. -50; 0: none */
	int         callee_no_fine;      /* the answering machine takes standard resolution only */
	int         hangup_after_page;   /* the answering side drops the line after page N; 0 never */
	int         paced;               /* run in real time (a demonstration), else flat out */
	int         max_seconds;         /* of line time before the call is cut; 0: 30 minutes */
	const atomic_int *abort;         /* set from another thread: the line is cut at once */
	void      (*progress)(const struct faxcall_progress *p, void *arg);
	void       *arg;
};

struct faxcall_result {
	int    completion;               /* the caller's T.30 completion code (0: sent) */
	int    callee_completion;        /* the answering side's */
	char   reason[160];              /* the completion in words */
	int    pages_sent;               /* confirmed by the answering side on this call (a call
	                                  * from first_page k counts from there: 1 is page k) */
	int    pages_received;           /* written by the answering side */
	int    bit_rate;
	int    ecm;
	char   remote_id[FAXCALL_ID_MAX];    /* the answering machine's CSI, as the caller saw it */
	char   caller_seen[FAXCALL_ID_MAX];  /* the caller's TSI, as the answering side saw it */
	double line_seconds;             /* simulated time the call took */
	char   media[FAXCALL_MEDIA_MAX]; /* faxcall_media_run: what carried the fax at its end,
	                                  * "G.711" or "T.38"; faxcall_run: "" */
	int    switched;                 /* faxcall_media_run: the call moved from G.711 to T.38 */
};

/* Runs the call. 0 when it ran (the outcome is in r, sent or not), -1 when it could not start
 * (out of memory) with r->reason saying so. */
int faxcall_run(const struct faxcall_opts *o, struct faxcall_result *r);

/* What the offer and answer agreed for T.38 (sdp_t38's figures), for a media of kind
 * MEDIA_IFP. All zero is T.38 version 0 at up to 14400 bit/s, transferredTCF. */
struct faxcall_t38 {
	int      version;                /* T38FaxVersion agreed, 0..3 */
	unsigned max_bit_rate;           /* T38MaxBitRate agreed; 0: 14400. Below 14400 the
	                                  * modems offered are cut to fit (no V.17 under 14400,
	                                  * V.27ter only at 4800 and under) */
	int      local_tcf;              /* T38FaxRateManagement localTCF (never over UDPTL);
	                                  * 0: transferredTCF */
	unsigned max_buffer;             /* the far end's T38FaxMaxBuffer; 0: unsaid */
	unsigned max_datagram;           /* the far end's T38FaxMaxDatagram; 0: unsaid */
};

/* A call's media replaced mid-way, from G.711 to T.38 (the far end's re-INVITE, or ours,
 * accepted). The signalling fills ops, media (started) and t38, then sets ready; the engine
 * looks at ready before every step and, once set, stops the audio fax engine and goes on
 * with T.38 on the new media, never touching the old one again. The T.30 session starts
 * again there: before training (the usual case: a re-INVITE on CED or the V.21 preamble)
 * nothing is lost, as both ends begin again with DIS; after a page has gone through, the
 * call ends as dropped (a retry) with the pages done so far. taken says which, once the
 * engine has seen it: 1 switched, -1 ended (also for a media not started as T.38). A call
 * already on T.38 never looks at it (taken stays 0). Both media stay the caller's. */
struct faxcall_switch {
	const struct media_ops *ops;     /* of kind MEDIA_IFP */
	void       *media;
	struct faxcall_t38 t38;
	atomic_int  ready;
	atomic_int  taken;
};

/* One side of a fax call over the network: a spandsp T.30 endpoint on a call's media
 * (media.h), sending a document (calling) or receiving one. The media must be started; the
 * engine steps it every 20 ms, in real time, until this side's phase E, max_seconds or
 * abort. On G.711 audio (MEDIA_AUDIO) the endpoint is spandsp's audio fax modem; on T.38
 * (MEDIA_IFP: t38media.c) it is spandsp's T.38 terminal, with the agreed figures in t38.
 * Ownership of the media stays with the caller (who hangs up and frees it). */
struct faxcall_media_opts {
	const struct media_ops *ops;
	void       *media;
	int         calling;             /* 1: we placed the call and send tx_tiff; 0: we receive */
	const char *tx_tiff;             /* when calling */
	int         first_page;          /* when calling: the first page to send, from 1; 0: 1 */
	const char *rx_tiff;             /* when receiving: where the pages are written */
	const char *ident;               /* our station id (TSI calling, CSI answering); may be NULL */
	const char *page_header;         /* atop each sent page; NULL: none */
	const char *log_tag;             /* names the call in the T.30 trace logged at debug
	                                  * level ("trunk us call 7"); NULL: "fax" */
	int         ecm;                 /* offer error correction */
	int         max_seconds;         /* of line time before the call is cut; 0: 30 minutes */
	const atomic_int *abort;         /* set from another thread: the call ends at the next step */
	const atomic_int *hangup;        /* the same, set by the signalling when the far end hangs
	                                  * up (a BYE): two flags, so neither owner shares the other's */
	void      (*progress)(const struct faxcall_progress *p, void *arg);
	void       *arg;
	struct faxcall_t38 t38;          /* when the media is T.38 */
	struct faxcall_switch *to;       /* a switch to T.38 the signalling may ask for; NULL:
	                                  * none */
	/* On G.711: called once, on this thread, when the far end's fax tones are heard (CED
	 * or V.21 flags when calling, CNG or V.21 flags when answering): the moment to ask for
	 * T.38. NULL: not listened for. */
	void      (*tones)(void *arg);
	void       *tones_arg;
};

/* Runs this side of the call. r->completion is this side's T.30 completion code (the far
 * end's, callee_completion, is unknown here: -1); pages_sent are those the far end
 * confirmed, pages_received those written to rx_tiff; remote_id is the far end's station id
 * (its CSI when calling, its TSI when answering), caller_seen the same when answering. A
 * media that fails, an abort or a hangup ends the call as dropped (T30_ERR_CALLDROPPED) with
 * the pages done so far. 0 when it ran, -1 when it could not start (r->reason says why). */
int faxcall_media_run(const struct faxcall_media_opts *o, struct faxcall_result *r);

/* The words for a T.30 completion code. */
const char *faxcall_reason(int completion);

/* What a completion code means for the job that made the call. */
enum faxcall_class {
	FAXCALL_SENT = 0,
	FAXCALL_RETRY,            /* the call failed on the way (training, timeouts, a dropped
	                           * line, a machine that hung up): try again later */
	FAXCALL_NO_FINE,          /* the far machine takes standard resolution only */
	FAXCALL_REFUSED,          /* the far end cannot receive, or not this page size */
	FAXCALL_DOCUMENT,         /* our document is unusable: no retry will help */
};
int faxcall_class(int completion);

#endif

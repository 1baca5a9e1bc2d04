/* faxcall.c: the calls of spandsp's fax engine (0.0.6) over audio and T.38 (class1.c runs
 * spandsp's T.30 alone over a modem's HDLC, vmodem.c its T.31 modem for the virtual modems,
 * and t30quirks.c reaches into T.30's state). The pattern is that of spandsp's own fax tests: every
 * 20 ms block (160 samples) each side's fax_tx output goes to the other's fax_rx, silence
 * padded in, until both ends have reached phase E. One side over the network runs spandsp's
 * audio fax modem on G.711 or its T.38 terminal on T.38. */
#include "faxcall.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spandsp.h>

#include "spanlog.h"
#include "t30quirks.h"
#include "t38media.h"

#define BLOCK           160          /* samples: 20 ms at 8 kHz */
#define DEFAULT_MAX_S   1800

struct call {
	const struct faxcall_opts *o;
	struct faxcall_result     *r;
	t30_state_t               *tx_t30, *rx_t30;
	int                        tx_done, rx_done;
	int                        cut;           /* the answering side hung up */
	int                        rx_pages;
};

const char *
faxcall_reason(int completion)
{
	return completion == T30_ERR_OK ? "sent" : t30_completion_code_to_str(completion);
}

int
faxcall_class(int completion)
{
	switch (completion) {
	case T30_ERR_OK:
		return FAXCALL_SENT;
	case T30_ERR_NORESSUPPORT:
		return FAXCALL_NO_FINE;
	case T30_ERR_RX_INCAPABLE:
	case T30_ERR_NOSIZESUPPORT:
	case T30_ERR_INCOMPATIBLE:
		return FAXCALL_REFUSED;
	case T30_ERR_FILEERROR:
	case T30_ERR_NOPAGE:
	case T30_ERR_BADTIFF:
	case T30_ERR_BADPAGE:
	case T30_ERR_BADTAG:
	case T30_ERR_BADTIFFHDR:
		return FAXCALL_DOCUMENT;
	default:
		return FAXCALL_RETRY;
	}
}

void
faxcall_progress_of(t30_state_t *t, int calling, int event, const char *media,
                    struct faxcall_progress *p)
{
	t30_stats_t st;
	const char *id = t30_get_rx_ident(t);

	memset(p, 0, sizeof(*p));
	t30_get_transfer_statistics(t, &st);
	p->event = event;
	p->page = calling ? st.pages_tx : st.pages_rx;
	p->pages = calling ? st.pages_in_file : 0;
	p->bit_rate = st.bit_rate;
	p->ecm = st.error_correcting_mode;
	snprintf(p->remote_id, sizeof(p->remote_id), "%s", id ? id : "");
	snprintf(p->media, sizeof(p->media), "%s", media ? media : "");
}

static void
report(struct call *c, int event)
{
	struct faxcall_progress p;

	if (c->o->progress == NULL)
		return;
	faxcall_progress_of(c->tx_t30, 1, event, "", &p);
	c->o->progress(&p, c->o->arg);
}

static int
tx_phase_b(t30_state_t *s, void *user, int result)
{
	(void)s;
	(void)result;
	report(user, FAXCALL_CONNECTED);
	return T30_ERR_OK;
}

static int
tx_phase_d(t30_state_t *s, void *user, int result)
{
	(void)s;
	(void)result;
	report(user, FAXCALL_PAGE);
	return T30_ERR_OK;
}

static void
tx_phase_e(t30_state_t *s, void *user, int completion)
{
	struct call *c = user;

	(void)s;
	c->r->completion = completion;
	c->tx_done = 1;
}

static int
rx_phase_d(t30_state_t *s, void *user, int result)
{
	struct call *c = user;

	(void)s;
	(void)result;
	/* A machine that hangs up after page N: it takes page N, then the line goes dead. */
	if (++c->rx_pages >= c->o->hangup_after_page && c->o->hangup_after_page > 0)
		c->cut = 1;
	return T30_ERR_OK;
}

static void
rx_phase_e(t30_state_t *s, void *user, int completion)
{
	struct call *c = user;

	(void)s;
	c->r->callee_completion = completion;
	c->rx_done = 1;
}

static void
setup(t30_state_t *t, const struct faxcall_opts *o, const char *ident)
{
	if (ident && *ident)
		t30_set_tx_ident(t, ident);
	t30quirks_attach(t);
	t30_set_ecm_capability(t, o->ecm);
	t30_set_supported_compressions(t, T30_SUPPORT_T4_1D_COMPRESSION |
	    T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION);
}

/* The document to send, from its page first (counting from 1; spandsp counts from 0): a
 * call that takes up a fax where an earlier one broke off sends only the pages the far end
 * has not confirmed. */
static void
tx_file(t30_state_t *t, const char *file, int first)
{
	t30_set_tx_file(t, file, first > 1 ? first - 1 : -1, -1);
}

/* The line between the two: A-law both ways if asked, and noise. */
static void
line(int16_t *amp, int n, const struct faxcall_opts *o, awgn_state_t *noise)
{
	for (int i = 0; i < n; i++) {
		int v = amp[i];

		if (o->alaw)
			v = alaw_to_linear(linear_to_alaw((int16_t)v));
		if (noise)
			v += awgn(noise);
		amp[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
	}
}

static void
pace(const struct timespec *t0, long samples)
{
	struct timespec now, want;
	long ns = (long)(samples % 8000) * 125000L;

	want.tv_sec = t0->tv_sec + samples / 8000 + (t0->tv_nsec + ns) / 1000000000L;
	want.tv_nsec = (t0->tv_nsec + ns) % 1000000000L;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < want.tv_sec || (now.tv_sec == want.tv_sec && now.tv_nsec < want.tv_nsec))
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &want, NULL);
}

int
faxcall_run(const struct faxcall_opts *o, struct faxcall_result *r)
{
	struct call c = { o, r, NULL, NULL, 0, 0, 0, 0 };
	fax_state_t *tx = fax_init(NULL, 1), *rx = fax_init(NULL, 0);
	awgn_state_t *noise[2] = { NULL, NULL };
	long samples = 0, max = (long)(o->max_seconds > 0 ? o->max_seconds : DEFAULT_MAX_S) * 8000;
	struct timespec t0;
	t30_stats_t st;
	char scratch[64] = "";

	memset(r, 0, sizeof(*r));
	r->completion = r->callee_completion = -1;
	/* spandsp keeps file names in 256 bytes and would cut a longer one silently. */
	if (strlen(o->tx_tiff) >= 256 || (o->rx_tiff && strlen(o->rx_tiff) >= 256)) {
		snprintf(r->reason, sizeof(r->reason), "file name too long for the fax modem");
		return -1;
	}
	if (o->noise_dbm0 != 0.0f) {
		noise[0] = awgn_init_dbm0(NULL, 1234567, o->noise_dbm0);
		noise[1] = awgn_init_dbm0(NULL, 7654321, o->noise_dbm0);
	}
	if (tx == NULL || rx == NULL || (o->noise_dbm0 != 0.0f && (!noise[0] || !noise[1]))) {
		snprintf(r->reason, sizeof(r->reason), "out of memory for the fax modems");
		if (tx)
			fax_free(tx);
		if (rx)
			fax_free(rx);
		for (int i = 0; i < 2; i++)
			if (noise[i])
				awgn_free(noise[i]);
		return -1;
	}
	c.tx_t30 = fax_get_t30_state(tx);
	c.rx_t30 = fax_get_t30_state(rx);
	setup(c.tx_t30, o, o->caller_id);
	setup(c.rx_t30, o, o->callee_id);
	t30_set_supported_resolutions(c.rx_t30, o->callee_no_fine ?
	    T30_SUPPORT_STANDARD_RESOLUTION :
	    T30_SUPPORT_STANDARD_RESOLUTION | T30_SUPPORT_FINE_RESOLUTION);
	if (o->page_header && *o->page_header)
		t30_set_tx_page_header_info(c.tx_t30, o->page_header);
	tx_file(c.tx_t30, o->tx_tiff, o->first_page);
	/* spandsp writes a TIFF with seeks: a machine whose pages we do not keep still needs a
	 * real file, removed at the end. */
	if (o->rx_tiff == NULL) {
		int fd;

		snprintf(scratch, sizeof(scratch), "/tmp/netcfax-rx-XXXXXX");
		if ((fd = mkstemp(scratch)) >= 0)
			close(fd);
		else
			scratch[0] = '\0';
	}
	t30_set_rx_file(c.rx_t30, o->rx_tiff ? o->rx_tiff : scratch[0] ? scratch : "/dev/null",
	    -1);
	t30_set_rx_encoding(c.rx_t30, T4_COMPRESSION_ITU_T6);
	t30_set_phase_b_handler(c.tx_t30, tx_phase_b, &c);
	t30_set_phase_d_handler(c.tx_t30, tx_phase_d, &c);
	t30_set_phase_e_handler(c.tx_t30, tx_phase_e, &c);
	t30_set_phase_d_handler(c.rx_t30, rx_phase_d, &c);
	t30_set_phase_e_handler(c.rx_t30, rx_phase_e, &c);
	fax_set_transmit_on_idle(tx, 1);
	fax_set_transmit_on_idle(rx, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	while (!c.tx_done && samples < max && !(o->abort && atomic_load(o->abort))) {
		int16_t a[BLOCK], b[BLOCK];
		int n;

		/* caller -> line -> answering side */
		n = fax_tx(tx, a, BLOCK);
		memset(a + n, 0, sizeof(int16_t) * (size_t)(BLOCK - n));
		line(a, BLOCK, o, noise[0]);
		if (!c.cut && !c.rx_done) {
			fax_rx(rx, a, BLOCK);
			n = fax_tx(rx, b, BLOCK);
			memset(b + n, 0, sizeof(int16_t) * (size_t)(BLOCK - n));
			line(b, BLOCK, o, noise[1]);
		} else
			memset(b, 0, sizeof(b));    /* a line that went dead, or a machine that hung up */
		fax_rx(tx, b, BLOCK);
		samples += BLOCK;
		if (o->paced)
			pace(&t0, samples);
	}
	/* The answering side's view once the line is dead: let it finish on silence. */
	for (long extra = 0; !c.rx_done && !c.cut && extra < 60L * 8000; extra += BLOCK) {
		int16_t s[BLOCK];

		memset(s, 0, sizeof(s));
		fax_rx(rx, s, BLOCK);
		fax_tx(rx, s, BLOCK);
	}
	if (!c.tx_done) {
		t30_terminate(c.tx_t30);
		if (!c.tx_done)
			r->completion = T30_ERR_CALLDROPPED;
	}
	if (!c.rx_done)
		t30_terminate(c.rx_t30);    /* closes its file: the pages it got stay in it */
	t30_get_transfer_statistics(c.tx_t30, &st);
	r->pages_sent = st.pages_tx;
	r->bit_rate = st.bit_rate;
	r->ecm = st.error_correcting_mode;
	t30_get_transfer_statistics(c.rx_t30, &st);
	r->pages_received = st.pages_rx;
	snprintf(r->remote_id, sizeof(r->remote_id), "%s",
	    t30_get_rx_ident(c.tx_t30) ? t30_get_rx_ident(c.tx_t30) : "");
	snprintf(r->caller_seen, sizeof(r->caller_seen), "%s",
	    t30_get_rx_ident(c.rx_t30) ? t30_get_rx_ident(c.rx_t30) : "");
	r->line_seconds = (double)samples / 8000.0;
	snprintf(r->reason, sizeof(r->reason), "%s", faxcall_reason(r->completion));
	fax_free(tx);
	fax_free(rx);
	for (int i = 0; i < 2; i++)
		if (noise[i])
			awgn_free(noise[i]);
	if (scratch[0])
		unlink(scratch);
	return 0;
}

/* One side over a call's media. On G.711 the T.30 endpoint is spandsp's audio fax modem,
 * whose 8 kHz audio passes through G.711 here, with spandsp's coder, and the media carries
 * the G.711 frames. On T.38 it is spandsp's T.38 terminal, whose IFPs the media carries
 * (UDPTL and its redundancy are the media's). Both engines drive the same T.30 setup
 * (side_setup), and a call may move from the first to the second mid-way (take_switch). */
struct side {
	const struct faxcall_media_opts *o;
	t30_state_t *t30;
	int          done;
	int          completion;
	int          connected;   /* reported: a retrain runs phase B again, the call is one */
	const struct media_ops *ops;   /* the media now: the call's, or the one switched to */
	void        *media;
	int          codec;
	fax_state_t *fs;          /* the audio engine, or */
	t38_terminal_state_t *ts; /* the T.38 one */
	int          pages;       /* phase D seen: a page went through */
	int          closing;     /* an engine being put away: its phase E is not the call's */
	int          switched;
	modem_connect_tones_rx_state_t *tone[2];  /* o->tones: what is listened for */
	int          heard;
};

static const char *
side_media(const struct side *s)
{
	return s->ts != NULL ? "T.38" : "G.711";
}

static void
side_report(struct side *s, int event)
{
	struct faxcall_progress p;

	if (s->o->progress == NULL)
		return;
	faxcall_progress_of(s->t30, s->o->calling, event, side_media(s), &p);
	s->o->progress(&p, s->o->arg);
}

static int
side_phase_b(t30_state_t *t, void *user, int result)
{
	struct side *s = user;

	(void)t;
	(void)result;
	if (!s->connected++)
		side_report(s, FAXCALL_CONNECTED);
	return T30_ERR_OK;
}

static int
side_phase_d(t30_state_t *t, void *user, int result)
{
	struct side *s = user;

	(void)t;
	(void)result;
	s->pages++;
	side_report(s, FAXCALL_PAGE);
	return T30_ERR_OK;
}

static void
side_phase_e(t30_state_t *t, void *user, int completion)
{
	struct side *s = user;

	(void)t;
	if (s->closing)
		return;
	s->completion = completion;
	s->done = 1;
}

/* The T.30 of this side, whichever engine holds it: identity, ECM, the document or the
 * file to receive into, the handlers. */
static void
side_setup(struct side *s, t30_state_t *t)
{
	const struct faxcall_media_opts *o = s->o;
	const char *file = o->calling ? o->tx_tiff : o->rx_tiff;

	s->t30 = t;
	spanlog_attach(t30_get_logging_state(t), o->log_tag ? o->log_tag : "fax");
	setup(t, &(struct faxcall_opts){ .ecm = o->ecm }, o->ident);
	if (o->calling) {
		if (o->page_header && *o->page_header)
			t30_set_tx_page_header_info(t, o->page_header);
		tx_file(t, file, o->first_page);
	} else {
		t30_set_supported_resolutions(t, T30_SUPPORT_STANDARD_RESOLUTION |
		    T30_SUPPORT_FINE_RESOLUTION);
		t30_set_rx_file(t, file, -1);
		t30_set_rx_encoding(t, T4_COMPRESSION_ITU_T6);
	}
	t30_set_phase_b_handler(t, side_phase_b, s);
	t30_set_phase_d_handler(t, side_phase_d, s);
	t30_set_phase_e_handler(t, side_phase_e, s);
}

/* A detector heard its tone: reported once (a detector also reports a tone's end). */
static void
tone_heard(void *user, int code, int level, int delay)
{
	struct side *s = user;

	(void)level;
	(void)delay;
	if (code == MODEM_CONNECT_TONES_NONE || s->heard)
		return;
	s->heard = 1;
	s->o->tones(s->o->tones_arg);
}

static int
audio_open(struct side *s)
{
	if ((s->fs = fax_init(NULL, s->o->calling)) == NULL)
		return -1;
	/* The caller listens for the answering machine's CED or its V.21 flags; the answering
	 * side for the caller's CNG or its V.21 flags (a caller that sends no CNG). */
	if (s->o->tones != NULL) {
		s->tone[0] = modem_connect_tones_rx_init(NULL, s->o->calling ?
		    MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE : MODEM_CONNECT_TONES_FAX_CNG,
		    tone_heard, s);
		if (!s->o->calling)
			s->tone[1] = modem_connect_tones_rx_init(NULL,
			    MODEM_CONNECT_TONES_FAX_PREAMBLE, tone_heard, s);
		if (s->tone[0] == NULL || (!s->o->calling && s->tone[1] == NULL))
			return -1;
	}
	side_setup(s, fax_get_t30_state(s->fs));
	fax_set_transmit_on_idle(s->fs, 1);   /* keep sending: the far end's NAT and SBC latch on it */
	return 0;
}

/* One 20 ms step of audio: the frame received into the modem, the modem's frame out. */
static void
audio_step(struct side *s)
{
	uint8_t g[MEDIA_FRAME_BYTES];
	int16_t amp[BLOCK];
	int n;

	n = s->ops->recv(s->media, g, sizeof(g));
	for (int i = 0; i < BLOCK; i++)
		amp[i] = i >= n ? 0 : s->codec == MEDIA_PCMA ? alaw_to_linear(g[i]) :
		    ulaw_to_linear(g[i]);
	fax_rx(s->fs, amp, BLOCK);
	for (int i = 0; i < 2 && !s->heard; i++)
		if (s->tone[i] != NULL)
			modem_connect_tones_rx(s->tone[i], amp, BLOCK);
	n = fax_tx(s->fs, amp, BLOCK);
	memset(amp + n, 0, sizeof(int16_t) * (size_t)(BLOCK - n));
	for (int i = 0; i < BLOCK; i++)
		g[i] = s->codec == MEDIA_PCMA ? linear_to_alaw(amp[i]) : linear_to_ulaw(amp[i]);
	(void)s->ops->send(s->media, g, sizeof(g));   /* a lost packet is the line's noise */
}

/* The T.38 terminal's packets, each sent once: its repeat count is set to 1 for every kind
 * of packet, since UDPTL's redundancy carries each IFP again in the packets after it, and a
 * copy sent again would take a sequence number of its own. A send that fails is the line's
 * loss (the media counts it). */
static int
t38_tx(t38_core_state_t *core, void *user, const uint8_t *buf, int len, int count)
{
	struct side *s = user;

	(void)core;
	(void)count;
	if (len > 0)
		(void)s->ops->send(s->media, buf, (size_t)len);
	return 0;
}

/* The T.38 terminal, made before anything is put away so that a failure leaves the call as
 * it was; side_setup then gives it the T.30 setup. */
static int
t38_new(struct side *s)
{
	return (s->ts = t38_terminal_init(NULL, s->o->calling, t38_tx, s)) == NULL ? -1 : 0;
}

/* The figures the SDP agreed, on the terminal made by t38_new. */
static void
t38_setup(struct side *s, const struct faxcall_t38 *a)
{
	t38_core_state_t *core = t38_terminal_get_t38_core_state(s->ts);
	t30_state_t *t30 = t38_terminal_get_t30_state(s->ts);
	int rate = a->max_bit_rate > 0 && a->max_bit_rate < 14400 ? (int)a->max_bit_rate : 14400;
	int modems = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17;

	t38_set_t38_version(core, a->version >= 0 && a->version <= 3 ? a->version : 0);
	t38_set_data_rate_management_method(core, a->local_tcf ?
	    T38_DATA_RATE_MANAGEMENT_LOCAL_TCF : T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF);
	if (a->max_datagram > 0)
		t38_set_max_datagram_size(core, (int)(a->max_datagram < 65535 ? a->max_datagram :
		    65535));
	if (a->max_buffer > 0)
		t38_set_max_buffer_size(core, (int)(a->max_buffer < 65535 ? a->max_buffer : 65535));
	t38_set_fastest_image_data_rate(core, rate);
	for (int c = T38_PACKET_CATEGORY_INDICATOR; c <= T38_PACKET_CATEGORY_IMAGE_DATA_END; c++)
		t38_set_redundancy_control(core, c, 1);
	/* The sequence numbers let the core see what UDPTL gave up: only t38media has them. */
	t38_set_sequence_number_handling(core, s->ops == &t38media_ops);
	t38_terminal_set_config(s->ts, 0);      /* paced, with indicators: UDPTL */
	t38_terminal_set_tep_mode(s->ts, 0);
	t38_terminal_set_fill_bit_removal(s->ts, 0);   /* never agreed (sdp.c) */
	side_setup(s, t30);
	if (rate < 14400)
		modems &= ~T30_SUPPORT_V17;
	if (rate < 7200)
		modems = T30_SUPPORT_V27TER;
	t30_set_supported_modems(t30, modems);
}

/* One 20 ms step of T.38: every IFP the media has, in sequence, into the terminal, then its
 * clock moved on by the step's samples (it sends what is due then). */
static void
t38_step(struct side *s)
{
	t38_core_state_t *core = t38_terminal_get_t38_core_state(s->ts);
	uint8_t ifp[UDPTL_IFP_MAX];
	int n;

	/* Bounded: the media holds a window of IFPs; what is left waits for the next step. */
	for (int i = 0; i < 4 * UDPTL_WINDOW &&
	    (n = s->ops->recv(s->media, ifp, sizeof(ifp))) > 0; i++)
		t38_core_rx_ifp_packet(core, ifp, n, s->ops == &t38media_ops ?
		    t38media_last_seq(s->media) : 0);
	t38_terminal_send_timeout(s->ts, BLOCK);
}

static void
engine_free(struct side *s)
{
	if (s->fs != NULL)
		fax_free(s->fs);
	if (s->ts != NULL)
		t38_terminal_free(s->ts);
	for (int i = 0; i < 2; i++)
		if (s->tone[i] != NULL)
			modem_connect_tones_rx_free(s->tone[i]);
	s->tone[0] = s->tone[1] = NULL;
	s->fs = NULL;
	s->ts = NULL;
}

/* A switch to T.38 the signalling asked for (faxcall.h): 0 to go on (switched, or nothing
 * asked), -1 to end the call here. */
static int
take_switch(struct side *s)
{
	struct faxcall_switch *w = s->o->to;
	fax_state_t *old;

	if (w == NULL || s->ts != NULL || !atomic_load(&w->ready) || atomic_load(&w->taken))
		return 0;
	/* A page through: a new T.30 session would send or take it again. */
	if (s->pages > 0 || w->ops == NULL || w->ops->kind != MEDIA_IFP || w->media == NULL ||
	    w->ops->codec(w->media) != MEDIA_T38 || t38_new(s) != 0) {
		atomic_store(&w->taken, -1);
		return -1;
	}
	/* The audio session is put away: its files closed, its verdict not the call's. */
	s->closing = 1;
	t30_terminate(s->t30);
	s->closing = 0;
	old = s->fs;
	s->fs = NULL;
	fax_free(old);
	s->ops = w->ops;
	s->media = w->media;
	s->codec = MEDIA_T38;
	t38_setup(s, &w->t38);
	s->switched = 1;
	atomic_store(&w->taken, 1);
	return 0;
}

int
faxcall_media_run(const struct faxcall_media_opts *o, struct faxcall_result *r)
{
	struct side s;
	const char *file = o->calling ? o->tx_tiff : o->rx_tiff, *id;
	long samples = 0, max = (long)(o->max_seconds > 0 ? o->max_seconds : DEFAULT_MAX_S) * 8000;
	t30_stats_t st;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&s, 0, sizeof(s));
	r->completion = r->callee_completion = -1;
	s.o = o;
	s.completion = -1;
	s.ops = o->ops;
	s.media = o->media;
	s.codec = o->ops && o->media ? o->ops->codec(o->media) : 0;
	if (o->ops == NULL || (o->ops->kind == MEDIA_IFP ? s.codec != MEDIA_T38 :
	    s.codec != MEDIA_PCMA && s.codec != MEDIA_PCMU)) {
		snprintf(r->reason, sizeof(r->reason),
		    "the call's media is not started G.711 audio or T.38");
		return -1;
	}
	if (file == NULL || strlen(file) >= 256) {
		snprintf(r->reason, sizeof(r->reason), "no file, or its name too long for the modem");
		return -1;
	}
	if (s.codec == MEDIA_T38) {
		if ((rc = t38_new(&s)) == 0)
			t38_setup(&s, &o->t38);
	} else
		rc = audio_open(&s);
	if (rc != 0) {
		engine_free(&s);
		snprintf(r->reason, sizeof(r->reason), "out of memory for the fax modem");
		return -1;
	}

	while (!s.done && samples < max && !(o->hangup && atomic_load(o->hangup))) {
		if (take_switch(&s) != 0 || s.ops->step(s.media, o->abort) != 0)
			break;
		if (s.ts != NULL)
			t38_step(&s);
		else
			audio_step(&s);
		samples += BLOCK;
	}
	if (!s.done) {
		/* Closes the rx file (the pages received stay in it) and says how the call stood:
		 * a far end that hangs up as soon as it has our DCN leaves us still sending it,
		 * every page confirmed, which spandsp reports as a call that went through; at
		 * any other point it is a call dropped. */
		t30_terminate(s.t30);
		if (!s.done)
			s.completion = T30_ERR_CALLDROPPED;
	}
	t30_get_transfer_statistics(s.t30, &st);
	r->completion = s.completion;
	r->pages_sent = st.pages_tx;
	r->pages_received = st.pages_rx;
	r->bit_rate = st.bit_rate;
	r->ecm = st.error_correcting_mode;
	id = t30_get_rx_ident(s.t30);
	snprintf(r->remote_id, sizeof(r->remote_id), "%s", id ? id : "");
	if (!o->calling)
		snprintf(r->caller_seen, sizeof(r->caller_seen), "%s", id ? id : "");
	r->line_seconds = (double)samples / 8000.0;
	snprintf(r->reason, sizeof(r->reason), "%s", faxcall_reason(r->completion));
	snprintf(r->media, sizeof(r->media), "%s", side_media(&s));
	r->switched = s.switched;
	engine_free(&s);
	return 0;
}

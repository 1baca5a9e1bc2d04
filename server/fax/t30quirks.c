/* t30quirks.c: see t30quirks.h. The only file besides vmodem.c that sees spandsp's
 * internal structures: the state a received frame meets is not in its API.
 *
 * The case: we received DCS and listen for the TCF on the fast modem (state F_TCF). A lost
 * packet breaks the modem's training, so no TCF is heard and we send nothing; the sender
 * waits T4 and sends DCS and TCF again. spandsp accepts a repeated DCS in F_CFR and F_FTT
 * (we answered and the sender missed it) but not in F_TCF, where it sends DCN. A fax
 * machine, and T.30's flow charts, treat it as the DCS it is. Moving the state from F_TCF
 * to F_FTT just before spandsp dispatches the frame sends it down that same path: the
 * DCS is checked again, the fast modem restarts and T2 runs afresh. */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include "t30quirks.h"

#include <stdint.h>

/* spandsp numbers its T.30 states in an enum inside t30.c, not a header; these are the
 * same in 0.0.6 and every later release. unit.t30quirks fails if they ever move. */
#define STATE_F_TCF 7
#define STATE_F_FTT 9

#define CONTROL_FINAL 0x10        /* the control field's final-frame bit */

static void
frame_seen(t30_state_t *s, void *user, int incoming, const uint8_t *msg, int len)
{
	(void)user;
	if (!incoming || len < 3 || (msg[1] & CONTROL_FINAL) == 0)
		return;
	if ((msg[2] & 0xFE) == T30_DCS && s->state == STATE_F_TCF) {
		span_log(&s->logging, SPAN_LOG_FLOW,
		    "DCS again while waiting for TCF: the sender heard no answer; taken afresh\n");
		s->state = STATE_F_FTT;
	}
}

void
t30quirks_attach(t30_state_t *t)
{
	t30_set_real_time_frame_handler(t, frame_seen, NULL);
}

/* test_t30quirks.c: a call whose training check (TCF) the line swallows whole. Two spandsp
 * fax engines talk over audio in memory; the sender's audio is silenced from the moment
 * the receiver takes the first DCS until the TCF is over, so the receiver hears no TCF and
 * answers nothing, and the sender sends DCS and TCF again. Without t30quirks spandsp ends
 * that call "Unexpected message received" (checked, so the test shows the case is real and
 * that the quirk's state numbers still match the library); with it the page goes through,
 * pixel-exact. Time is counted in samples: nothing here depends on the machine's speed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>
#include <tiffio.h>

#include "check.h"
#include "faxpages.h"
#include "t30quirks.h"

#define BLOCK     160                       /* 20 ms at 8000 samples/s */
#define LIMIT     (120 * 8000)              /* samples: two minutes of line time at most */

static char dir[] = "/tmp/ncfx-t30quirks-XXXXXX";

struct end {
	fax_state_t *fs;
	int          done;
	int          completion;
	int          dcs;                       /* the receiver: DCSs taken */
	long         silence_until;             /* the receiver: sender silenced until then */
	long        *now;
};

static int
phase_b(t30_state_t *t, void *user, int result)
{
	struct end *e = user;

	(void)t;
	if ((result & 0xFE) == T30_DCS && e->dcs++ == 0)
		e->silence_until = *e->now + 4 * 8000;   /* the training and TCF, 3 s, and more */
	return T30_ERR_OK;
}

static void
phase_e(t30_state_t *t, void *user, int completion)
{
	struct end *e = user;

	(void)t;
	e->done = 1;
	e->completion = completion;
}

/* One call: tx sends doc, rx receives into out; quirks on both ends or neither. */
static void
run(int quirks, const char *doc, const char *out, struct end *tx, struct end *rx)
{
	int16_t a[BLOCK], b[BLOCK];
	long now = 0;
	t30_state_t *tt, *rt;

	memset(tx, 0, sizeof(*tx));
	memset(rx, 0, sizeof(*rx));
	tx->now = rx->now = &now;
	tx->completion = rx->completion = -1;
	tx->fs = fax_init(NULL, 1);
	rx->fs = fax_init(NULL, 0);
	tt = fax_get_t30_state(tx->fs);
	rt = fax_get_t30_state(rx->fs);
	if (quirks) {
		t30quirks_attach(tt);
		t30quirks_attach(rt);
	}
	t30_set_tx_ident(tt, "sender");
	t30_set_tx_ident(rt, "receiver");
	t30_set_tx_file(tt, doc, -1, -1);
	t30_set_rx_file(rt, out, -1);
	t30_set_phase_b_handler(rt, phase_b, rx);
	t30_set_phase_e_handler(tt, phase_e, tx);
	t30_set_phase_e_handler(rt, phase_e, rx);
	fax_set_transmit_on_idle(tx->fs, 1);
	fax_set_transmit_on_idle(rx->fs, 1);
	while (!(tx->done && rx->done) && now < LIMIT) {
		int n = fax_tx(tx->fs, a, BLOCK), m = fax_tx(rx->fs, b, BLOCK);

		if (n < BLOCK)
			memset(a + n, 0, (size_t)(BLOCK - n) * sizeof(a[0]));
		if (m < BLOCK)
			memset(b + m, 0, (size_t)(BLOCK - m) * sizeof(b[0]));
		if (now < rx->silence_until)
			memset(a, 0, sizeof(a));
		fax_rx(rx->fs, a, BLOCK);
		fax_rx(tx->fs, b, BLOCK);
		now += BLOCK;
	}
	fprintf(stderr, "quirks %d: %.1f s of line time, DCS taken %d times, completion %d/%d\n", quirks, now / 8000.0, rx->dcs, tx->completion, rx->completion);
	/* fax_free runs phase E of an unfinished call: the sample counter must still be here */
	fax_free(tx->fs);
	fax_free(rx->fs);
}

int
main(void)
{
	char doc[100], out[100], cmd[160];
	struct end tx, rx;
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(doc, sizeof(doc), "%s/doc.tif", dir);
	write_doc(doc, 1, 98.0f);

	/* spandsp alone: the repeated DCS ends the call */
	snprintf(out, sizeof(out), "%s/without.tif", dir);
	run(0, doc, out, &tx, &rx);
	CHECK_INT(rx.dcs, 1);
	CHECK_INT(rx.completion, T30_ERR_UNEXPECTED);

	/* with the quirk: the DCS is taken again, the training passes, the page arrives */
	snprintf(out, sizeof(out), "%s/with.tif", dir);
	run(1, doc, out, &tx, &rx);
	CHECK(rx.dcs >= 2);
	CHECK_INT(tx.completion, T30_ERR_OK);
	CHECK_INT(rx.completion, T30_ERR_OK);
	CHECK(matching_pages(out, 1, 98.0f));

	rc = check_report("t30quirks");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (rc == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}

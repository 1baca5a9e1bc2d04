/* test_faxcall.c: real T.30 calls between two spandsp endpoints: a document goes through and
 * each received page's pixels equal the sent ones; A-law with noise still delivers; a machine
 * that hangs up after page 1 leaves a failed call with that page kept; a call from page 3
 * sends page 3 alone; a machine without fine resolution refuses a fine document; ten calls
 * run at once. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "faxcall.h"
#include "faxpages.h"

static char dir[] = "/tmp/ncfx-faxcall-XXXXXX";

struct seen {
	int connected, pages, last_page, of, bit_rate;
	char remote[FAXCALL_ID_MAX];
};

static void
progress(const struct faxcall_progress *p, void *arg)
{
	struct seen *s = arg;

	if (p->event == FAXCALL_CONNECTED) {
		s->connected++;
		snprintf(s->remote, sizeof(s->remote), "%s", p->remote_id);
	} else if (p->event == FAXCALL_PAGE) {
		s->pages++;
		s->last_page = p->page;
		s->of = p->pages;
		s->bit_rate = p->bit_rate;
	}
}

static void
test_clean_line(void)
{
	char tx[100], rx[100];
	struct faxcall_opts o = { 0 };
	struct faxcall_result r;
	struct seen s = { 0 };

	snprintf(tx, sizeof(tx), "%s/clean-tx.tif", dir);
	snprintf(rx, sizeof(rx), "%s/clean-rx.tif", dir);
	write_doc(tx, 2, 196.0f);
	o.tx_tiff = tx;
	o.rx_tiff = rx;
	o.caller_id = "+44 20 7946 0000";
	o.callee_id = "+1 212 555 0100";
	o.ecm = 1;
	o.progress = progress;
	o.arg = &s;
	CHECK_INT(faxcall_run(&o, &r), 0);
	CHECK_INT(r.completion, 0);
	CHECK_INT(faxcall_class(r.completion), FAXCALL_SENT);
	CHECK_STR(r.reason, "sent");
	CHECK_INT(r.pages_sent, 2);
	CHECK_INT(r.pages_received, 2);
	CHECK_INT(r.bit_rate, 14400);
	CHECK_INT(r.ecm, 1);
	CHECK_STR(r.remote_id, "+1 212 555 0100");
	CHECK_INT(matching_pages(rx, 2, 196.0f), 2);
	CHECK_INT(s.connected, 1);
	CHECK_INT(s.pages, 2);
	CHECK_INT(s.last_page, 2);
	CHECK_STR(s.remote, "+1 212 555 0100");
	CHECK(r.line_seconds > 1.0);
}

static void
test_alaw_and_noise(void)
{
	char tx[100], rx[100];
	struct faxcall_opts o = { 0 };
	struct faxcall_result r;

	snprintf(tx, sizeof(tx), "%s/noisy-tx.tif", dir);
	snprintf(rx, sizeof(rx), "%s/noisy-rx.tif", dir);
	write_doc(tx, 2, 98.0f);
	o.tx_tiff = tx;
	o.rx_tiff = rx;
	o.alaw = 1;
	o.noise_dbm0 = -50.0f;      /* ~36 dB below the modems' signal; at -45 V.17 loses its frames */
	o.ecm = 1;
	CHECK_INT(faxcall_run(&o, &r), 0);
	CHECK_INT(r.completion, 0);
	CHECK_INT(r.pages_received, 2);
	/* With ECM every page arrives intact even on a noisy line. */
	CHECK_INT(matching_pages(rx, 2, 98.0f), 2);
}

static void
test_hangup_after_page_one(void)
{
	char tx[100], rx[100];
	struct faxcall_opts o = { 0 };
	struct faxcall_result r;

	snprintf(tx, sizeof(tx), "%s/hangup-tx.tif", dir);
	snprintf(rx, sizeof(rx), "%s/hangup-rx.tif", dir);
	write_doc(tx, 3, 196.0f);
	o.tx_tiff = tx;
	o.rx_tiff = rx;
	o.ecm = 1;
	o.hangup_after_page = 1;
	CHECK_INT(faxcall_run(&o, &r), 0);
	CHECK_INT(faxcall_class(r.completion), FAXCALL_RETRY);     /* never "sent" */
	CHECK(strcmp(r.reason, "sent") != 0);
	CHECK_INT(r.pages_received, 1);
	CHECK(r.pages_sent <= 1);
	CHECK_INT(matching_pages(rx, 1, 196.0f), 1);
}

/* A call that takes up a fax where an earlier one broke off: from page 3 of 3, only page 3
 * goes, and it arrives as page 3 was; progress counts the pages of this call. */
static void
test_from_page_three(void)
{
	char tx[100], rx[100];
	struct faxcall_opts o = { 0 };
	struct faxcall_result r;
	struct seen s = { 0 };

	snprintf(tx, sizeof(tx), "%s/resume-tx.tif", dir);
	snprintf(rx, sizeof(rx), "%s/resume-rx.tif", dir);
	write_doc(tx, 3, 196.0f);
	o.tx_tiff = tx;
	o.first_page = 3;
	o.rx_tiff = rx;
	o.ecm = 1;
	o.progress = progress;
	o.arg = &s;
	CHECK_INT(faxcall_run(&o, &r), 0);
	CHECK_INT(r.completion, 0);
	CHECK_INT(r.pages_sent, 1);
	CHECK_INT(r.pages_received, 1);
	CHECK_INT(s.pages, 1);
	CHECK_INT(s.last_page, 1);
	CHECK_INT(s.of, 3);                         /* the document's pages, all of them */
	CHECK_INT(matching_pages_from(rx, 2, 1, 196.0f), 1);
}

/* An 8-bit grey page is not a fax image: spandsp refuses the file (the intake must catch it
 * before this). */
static void
test_grey_document(void)
{
	char tx[100];
	struct faxcall_opts o = { 0 };
	struct faxcall_result r;
	TIFF *t;
	uint8_t row[WIDTH];

	snprintf(tx, sizeof(tx), "%s/grey-tx.tif", dir);
	t = TIFFOpen(tx, "w");
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, WIDTH);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, 10);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
	TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
	TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.0f);
	TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
	memset(row, 128, sizeof(row));
	for (uint32_t y = 0; y < 10; y++)
		TIFFWriteScanline(t, row, y, 0);
	TIFFClose(t);
	o.tx_tiff = tx;
	CHECK_INT(faxcall_run(&o, &r), 0);
	CHECK_INT(faxcall_class(r.completion), FAXCALL_DOCUMENT);
	CHECK_INT(r.pages_received, 0);
}

static void
test_no_fine_resolution(void)
{
	char tx[100];
	struct faxcall_opts o = { 0 };
	struct faxcall_result r;

	snprintf(tx, sizeof(tx), "%s/fine-tx.tif", dir);
	write_doc(tx, 1, 196.0f);
	o.tx_tiff = tx;
	o.callee_no_fine = 1;
	CHECK_INT(faxcall_run(&o, &r), 0);
	CHECK_INT(faxcall_class(r.completion), FAXCALL_NO_FINE);
	CHECK_CONTAINS(r.reason, "resolution");
	CHECK_INT(r.pages_received, 0);
}

struct job {
	int  n;
	struct faxcall_result r;
	int  match;
};

static void *
one_call(void *arg)
{
	struct job *j = arg;
	char tx[100], rx[100];
	struct faxcall_opts o = { 0 };

	snprintf(tx, sizeof(tx), "%s/many-%d-tx.tif", dir, j->n);
	snprintf(rx, sizeof(rx), "%s/many-%d-rx.tif", dir, j->n);
	write_doc(tx, 2, 196.0f);
	o.tx_tiff = tx;
	o.rx_tiff = rx;
	o.ecm = j->n % 2;
	if (faxcall_run(&o, &j->r) == 0)
		j->match = matching_pages(rx, 2, 196.0f);
	return NULL;
}

static void
test_ten_at_once(void)
{
	pthread_t th[10];
	struct job jobs[10];

	for (int i = 0; i < 10; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].n = i;
		pthread_create(&th[i], NULL, one_call, &jobs[i]);
	}
	for (int i = 0; i < 10; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(jobs[i].r.completion, 0);
		CHECK_INT(jobs[i].match, 2);
	}
}

int
main(void)
{
	char cmd[200];
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_clean_line();
	test_alaw_and_noise();
	test_hangup_after_page_one();
	test_from_page_three();
	test_no_fine_resolution();
	test_grey_document();
	test_ten_at_once();
	rc = check_report("faxcall");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (rc == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}

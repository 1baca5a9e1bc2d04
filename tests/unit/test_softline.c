/* test_softline.c: the software line routes a dialled number: to a user of this server (the
 * fax is received into a file for them), or to a simulated machine that answers, is busy, does
 * not answer, hangs up after page N, sits on a noisy line, or takes no fine resolution; an
 * unknown number is not in service; a bad routing entry is refused with its name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "softline.h"

static char dir[] = "/tmp/ncfx-softline-XXXXXX";

static void
write_doc(const char *path, int pages, float yres)
{
	TIFF *t = TIFFOpen(path, "w");
	uint8_t row[1728 / 8];

	for (int p = 0; p < pages; p++) {
		TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
		TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 1728);
		TIFFSetField(t, TIFFTAG_IMAGELENGTH, 200);
		TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
		TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
		TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
		TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
		TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
		TIFFSetField(t, TIFFTAG_YRESOLUTION, yres);
		TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 200);
		TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
		for (int y = 0; y < 200; y++) {
			memset(row, 0, sizeof(row));
			row[(y + p * 17) % sizeof(row)] = 0xff;
			TIFFWriteScanline(t, row, (uint32_t)y, 0);
		}
		TIFFWriteDirectory(t);
	}
	TIFFClose(t);
}

static int
pages_in(const char *path)
{
	TIFF *t = TIFFOpen(path, "r");
	int n = 0;

	if (t == NULL)
		return -1;
	do
		n++;
	while (TIFFReadDirectory(t));
	TIFFClose(t);
	return n;
}

static void
test_config_errors(void)
{
	struct softline_opts o = { 0 };
	char err[300];

	o.remotes = "5550100 answer, 5550101 explode";
	CHECK(softline_new(&o, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "explode");
	o.remotes = "5550100 answer, +555-0100 busy";
	CHECK(softline_new(&o, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "twice");
	o.remotes = "answer";
	CHECK(softline_new(&o, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "want a number");
	o.remotes = "5550100 hangup-after-0";
	CHECK(softline_new(&o, err, sizeof(err)) == NULL);
	o.remotes = "5550100 hangup-after-2junk";
	CHECK(softline_new(&o, err, sizeof(err)) == NULL);
	o.remotes = "123456789012345678901234567890123 answer";      /* 33 digits */
	CHECK(softline_new(&o, err, sizeof(err)) == NULL);
}

int
main(void)
{
	struct softline_opts o = { 0 };
	struct line_call c = { 0 };
	struct line_result r;
	char doc[200], fine[200], err[300], cmd[200];
	void *line;
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(doc, sizeof(doc), "%s/doc.tif", dir);
	snprintf(fine, sizeof(fine), "%s/fine.tif", dir);
	write_doc(doc, 3, 98.0f);
	write_doc(fine, 1, 196.0f);
	test_config_errors();

	o.own_numbers = "+44 20 7946 0001 alice, 5550102 bob";
	o.remotes = "5550199 answer, 5550188 busy, 5550177 no-answer, 5550166 hangup-after-2, "
	    "5550155 noisy, 5550144 no-fine";
	o.alaw = 1;
	o.ecm = 1;
	line = softline_new(&o, err, sizeof(err));
	CHECK(line != NULL);
	if (line == NULL)
		return check_report("softline");
	c.tx_tiff = doc;
	c.caller_id = "netcfax test";
	c.rx_dir = dir;

	/* to one of our own numbers: received, for alice, whatever way the number is written */
	c.number = "+44 (20) 7946-0001";
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_CONNECTED);
	CHECK_INT(r.fax.completion, 0);
	CHECK_STR(r.received_by, "alice");
	CHECK_INT(pages_in(r.rx_tiff), 3);
	CHECK_STR(r.fax.remote_id, "+44 (20) 7946-0001");

	c.number = "5550199";
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_CONNECTED);
	CHECK_INT(r.fax.pages_sent, 3);
	CHECK_STR(r.received_by, "");
	CHECK_STR(r.rx_tiff, "");

	c.number = "5550188";
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_BUSY);
	c.number = "5550177";
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_NO_ANSWER);
	c.number = "5559999";
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_NO_SUCH_NUMBER);
	/* a longer number that starts like one of ours is not ours */
	c.number = "5550102000000000000000000000000000000";
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_NO_SUCH_NUMBER);
	CHECK_CONTAINS(r.words, "not in service");

	c.number = "5550166";                    /* hangs up after page 2 of 3: never "sent" */
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.outcome, LINE_CONNECTED);
	CHECK_INT(faxcall_class(r.fax.completion), FAXCALL_RETRY);
	CHECK_INT(r.fax.pages_received, 2);

	c.number = "5550155";                    /* noisy, and it still delivers */
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.fax.completion, 0);
	CHECK_INT(r.fax.pages_sent, 3);

	c.number = "5550144";                    /* fine resolution refused */
	c.tx_tiff = fine;
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(faxcall_class(r.fax.completion), FAXCALL_NO_FINE);
	c.tx_tiff = doc;                         /* standard goes through */
	CHECK_INT(softline_ops.call(line, &c, &r), 0);
	CHECK_INT(r.fax.completion, 0);

	softline_ops.free(line);
	rc = check_report("softline");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (rc == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}

/* test_intake.c: documents made into fax images with the real ghostscript: PostScript, PDF,
 * plain text and TIFF come out as 1728-pixel-wide pages at 204x98 or 204x196 (A4 or letter
 * length), a fax page stays pixel for pixel what it was, and grey images, unreadable files and
 * a document that never finishes rendering are refused with a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "intake.h"
#include "proto.h"

static char dir[] = "/tmp/ncfx-intake-XXXXXX";

static void
put(const char *name, const char *text, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Every page's width, height and vertical resolution must be as expected. */
static int
pages_are(const char *path, uint32_t height, float yres)
{
	TIFF *t = TIFFOpen(path, "r");
	int n = 0;

	if (t == NULL)
		return -1;
	do {
		uint32_t w = 0, h = 0;
		uint16_t bps = 0;
		float yr = 0;

		TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
		TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
		TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
		TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
		if (w != 1728 || bps != 1 || yr != yres || (height && (h + 4 < height ||
		    h > height + 4))) {
			fprintf(stderr, "%s page %d: %ux%u, %u bit, %.0f lpi\n", path, n + 1, w, h,
			    bps, yr);
			TIFFClose(t);
			return -1;
		}
		n++;
	} while (TIFFReadDirectory(t));
	TIFFClose(t);
	return n;
}

static const char two_pages_ps[] =
    "%!PS\n/Helvetica findfont 24 scalefont setfont\n"
    "72 700 moveto (page one) show showpage\n72 700 moveto (page two) show showpage\n";

static void
test_postscript_and_pdf(void)
{
	struct intake_opts o = { 0 };
	char ps[200], pdf[200], out[200], err[300], cmd[700];

	put("two.ps", two_pages_ps, ps, sizeof(ps));
	snprintf(out, sizeof(out), "%s/two-fine.tif", dir);
	o.fine = 1;
	CHECK_INT(intake_convert(ps, NCFX_FMT_PS, &o, out, err, sizeof(err)), 2);
	CHECK_INT(pages_are(out, 2292, 196.0f), 2);          /* A4 at fine resolution */

	snprintf(out, sizeof(out), "%s/two-letter.tif", dir);
	o.fine = 0;
	o.paper = INTAKE_LETTER;
	CHECK_INT(intake_convert(ps, NCFX_FMT_PS, &o, out, err, sizeof(err)), 2);
	CHECK_INT(pages_are(out, 1078, 98.0f), 2);           /* letter at standard */

	/* A PDF, made by ghostscript from the same pages plus one. */
	snprintf(pdf, sizeof(pdf), "%s/three.pdf", dir);
	snprintf(cmd, sizeof(cmd), "gs -q -dNOPAUSE -dBATCH -dSAFER -sDEVICE=pdfwrite "
	    "-sOutputFile=%s %s %s/more.ps", pdf, ps, dir);
	put("more.ps", "%!PS\n72 700 moveto /Courier findfont 12 scalefont setfont (three) show "
	    "showpage\n", out, sizeof(out));
	CHECK_INT(system(cmd), 0);
	snprintf(out, sizeof(out), "%s/three.tif", dir);
	o.fine = 1;
	o.paper = INTAKE_A4;
	CHECK_INT(intake_convert(pdf, NCFX_FMT_PDF, &o, out, err, sizeof(err)), 3);
	CHECK_INT(pages_are(out, 2292, 196.0f), 3);
}

static void
test_text(void)
{
	struct intake_opts o = { 0 };
	char txt[200], out[200], err[300];
	char *text = malloc(20000);
	size_t n = 0;

	/* 130 lines (one of them far longer than 80 columns, one with UTF-8 and parentheses):
	 * 60 lines a page makes 3 pages. */
	for (int i = 0; i < 129; i++)
		n += (size_t)snprintf(text + n, 20000 - n, "line %d (caf\xc3\xa9) \\ tab\there\n", i);
	memset(text + n, 'x', 100);
	n += 100;
	text[n++] = '\n';
	text[n] = '\0';
	put("letter.txt", text, txt, sizeof(txt));
	free(text);
	snprintf(out, sizeof(out), "%s/text.tif", dir);
	CHECK_INT(intake_convert(txt, NCFX_FMT_TEXT, &o, out, err, sizeof(err)), 3);
	CHECK_INT(pages_are(out, 1146, 98.0f), 3);
	/* a full line, then a tab, then a long run without a newline: wrapped, never overrun */
	{
		char *t = malloc(6000);

		memset(t, 'a', 80);
		t[80] = '\t';
		memset(t + 81, 'b', 5000);
		t[5081] = '\0';
		put("tab.txt", t, txt, sizeof(txt));
		free(t);
		CHECK_INT(intake_convert(txt, NCFX_FMT_TEXT, &o, out, err, sizeof(err)), 2);
	}
	/* a form feed starts a page */
	put("ff.txt", "first\n\fsecond\n", txt, sizeof(txt));
	CHECK_INT(intake_convert(txt, NCFX_FMT_TEXT, &o, out, err, sizeof(err)), 2);
}

/* A TIFF, w x h at xres x yres, with a diagonal line (black where photo says 1 or 0 is). */
static void
make_tiff_photo(const char *path, uint32_t w, uint32_t h, float xres, float yres, int bps,
    int photo)
{
	TIFF *t = TIFFOpen(path, "w");
	size_t rowlen = bps == 1 ? (w + 7) / 8 : w;
	unsigned char *row = calloc(1, rowlen);

	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bps);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
	TIFFSetField(t, TIFFTAG_COMPRESSION, bps == 1 ? COMPRESSION_CCITTFAX4 : COMPRESSION_NONE);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, photo);
	TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
	TIFFSetField(t, TIFFTAG_XRESOLUTION, xres);
	TIFFSetField(t, TIFFTAG_YRESOLUTION, yres);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
	for (uint32_t y = 0; y < h; y++) {
		memset(row, 0, rowlen);
		if (bps == 1)
			row[(y % w) / 8] |= (unsigned char)(0x80 >> (y % w % 8));
		else
			row[y % w] = 200;
		TIFFWriteScanline(t, row, y, 0);
	}
	free(row);
	TIFFClose(t);
}

static void
make_tiff(const char *path, uint32_t w, uint32_t h, float xres, float yres, int bps)
{
	make_tiff_photo(path, w, h, xres, yres, bps, PHOTOMETRIC_MINISWHITE);
}

/* Each row of out (a fax-width image) is row y / repeat of in, every bit flipped if invert.
 * (Rows are read in order: a compressed strip cannot be read backwards.) */
static int
rows_from(const char *in, const char *out, uint32_t repeat, int invert)
{
	TIFF *x = TIFFOpen(in, "r"), *y = TIFFOpen(out, "r");
	uint32_t h = 0;
	unsigned char ra[216], rb[216];
	int same = x && y;

	if (same)
		TIFFGetField(y, TIFFTAG_IMAGELENGTH, &h);
	for (uint32_t i = 0; same && i < h; i++) {
		if (i % repeat == 0)
			same = TIFFReadScanline(x, ra, i / repeat, 0) >= 0;
		same = same && TIFFReadScanline(y, rb, i, 0) >= 0;
		for (size_t k = 0; same && k < sizeof(ra); k++)
			same = (unsigned char)(invert ? ~ra[k] : ra[k]) == rb[k];
	}
	if (x)
		TIFFClose(x);
	if (y)
		TIFFClose(y);
	return same;
}

static void
test_tiff(void)
{
	struct intake_opts o = { 0 };
	char in[200], out[200], err[300];

	/* A4 scanned at 200 dpi: scaled to the fax line and fine lines. */
	snprintf(in, sizeof(in), "%s/scan200.tif", dir);
	snprintf(out, sizeof(out), "%s/scan200-fax.tif", dir);
	make_tiff(in, 1654, 2339, 200, 200, 1);
	o.fine = 1;
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), 1);
	CHECK_INT(pages_are(out, 2292, 196.0f), 1);

	/* A fax page already: it stays pixel for pixel what it was. */
	snprintf(in, sizeof(in), "%s/faxpage.tif", dir);
	snprintf(out, sizeof(out), "%s/faxpage-fax.tif", dir);
	make_tiff(in, 1728, 500, 204, 196, 1);
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), 1);
	CHECK_INT(pages_are(out, 500, 196.0f), 1);
	CHECK(rows_from(in, out, 1, 0));

	/* Fine lines asked of a standard page: twice as many lines, same proportions. */
	snprintf(in, sizeof(in), "%s/std.tif", dir);
	make_tiff(in, 1728, 300, 204, 98, 1);
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), 1);
	CHECK_INT(pages_are(out, 600, 196.0f), 1);
	CHECK(rows_from(in, out, 2, 0));      /* each line twice, as it was */

	/* A page that says 1 is white (min-is-black) is turned into the fax's 1-is-black. */
	snprintf(in, sizeof(in), "%s/minisblack.tif", dir);
	make_tiff_photo(in, 1728, 100, 204, 196, 1, PHOTOMETRIC_MINISBLACK);
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), 1);
	CHECK_INT(pages_are(out, 100, 196.0f), 1);
	CHECK(rows_from(in, out, 1, 1));
	CHECK(!rows_from(in, out, 1, 0));

	/* A page that would be over 20 inches long at fax resolution (a tiny vertical
	 * resolution): refused, not made into a huge image. */
	snprintf(in, sizeof(in), "%s/long.tif", dir);
	make_tiff(in, 1728, 200, 204, 0.5f, 1);
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "inches long");

	/* 8-bit grey: refused, saying why. */
	snprintf(in, sizeof(in), "%s/grey.tif", dir);
	make_tiff(in, 1728, 100, 204, 196, 8);
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "grey");
	CHECK(access(out, F_OK) != 0);        /* nothing half-written left behind */
}

static void
test_refusals(void)
{
	struct intake_opts o = { 0 };
	char in[200], out[200], err[300];

	snprintf(out, sizeof(out), "%s/refused.tif", dir);
	put("bad.pdf", "%PDF-1.4\nthis is not a PDF at all\n", in, sizeof(in));
	CHECK_INT(intake_convert(in, NCFX_FMT_PDF, &o, out, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "ghostscript");

	put("forever.ps", "%!PS\n{ } loop\n", in, sizeof(in));
	o.timeout_s = 2;
	CHECK_INT(intake_convert(in, NCFX_FMT_PS, &o, out, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "longer than 2 s");
	o.timeout_s = 0;

	/* -dSAFER: a document may not read files on the server. */
	put("peek.ps", "%!PS\n(/etc/passwd) (r) file 100 string readstring pop pop\n"
	    "72 700 moveto /Courier findfont 10 scalefont setfont (read it) show showpage\n",
	    in, sizeof(in));
	CHECK_INT(intake_convert(in, NCFX_FMT_PS, &o, out, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "ghostscript");

	put("empty.tif", "II*\0garbage", in, sizeof(in));
	CHECK_INT(intake_convert(in, NCFX_FMT_TIFF, &o, out, err, sizeof(err)), -1);
	CHECK_INT(intake_convert(in, 99, &o, out, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not a document");
}

int
main(void)
{
	char cmd[200];
	int rc;

	if (access("/usr/bin/gs", X_OK) != 0) {
		printf("intake: skipped: ghostscript (/usr/bin/gs) is not installed "
		    "(scripts/install-deps installs it)\n");
		return 77;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	TIFFSetWarningHandler(NULL);
	test_postscript_and_pdf();
	test_text();
	test_tiff();
	test_refusals();
	rc = check_report("intake");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (rc == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}

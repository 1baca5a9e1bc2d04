/* tiffdoc.c: the only libtiff file. Intake checks (refuse what is not a readable image at
 * submit time, so a user never learns of it from a failed fax) and the normalisation of pages
 * to what fax machines take: a page with another resolution goes out squashed without any
 * error (spandsp falls back to 204x98), so every page is made exactly right here. */
#include "tiffdoc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

/* libtiff reports through global handlers; keep the last message for the user instead of
 * letting it print to stderr, per thread, since intake may run on several. */
static _Thread_local char tiff_last_error[256];

static void
tiff_error_handler(const char *module, const char *fmt, va_list ap)
{
	char msg[200];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(tiff_last_error, sizeof(tiff_last_error), "%s%s%s", module ? module : "",
	    module ? ": " : "", msg);
}

static void
tiff_warning_handler(const char *module, const char *fmt, va_list ap)
{
	(void)module;
	(void)fmt;
	(void)ap;
}

/* Adds what the current page decodes to (from its strip or tile sizes, without decoding it)
 * to *total, so the whole document stays under TIFFDOC_MAX_DECODED before anything is decoded:
 * normalisation then decodes every page once, and a damaged strip fails there. */
static int
check_page(TIFF *t, int page, long long *total, char *err, size_t errlen)
{
	int tiled = TIFFIsTiled(t);
	tmsize_t n = tiled ? TIFFTileSize(t) : TIFFStripSize(t);
	uint32_t count = tiled ? TIFFNumberOfTiles(t) : TIFFNumberOfStrips(t);

	if (n <= 0 || n > TIFFDOC_MAX_STRIP) {
		snprintf(err, errlen, "page %d has %s of an unsupported size", page,
		    tiled ? "tiles" : "strips");
		return -1;
	}
	if ((long long)n * count > TIFFDOC_MAX_DECODED - *total) {
		snprintf(err, errlen, "the document is too large once decoded (over %lld MiB); "
		    "send fewer or smaller pages", TIFFDOC_MAX_DECODED >> 20);
		return -1;
	}
	*total += (long long)n * count;
	return 0;
}

int
tiffdoc_inspect(const char *path, char *err, size_t errlen)
{
	TIFF *t;
	int pages = 0;
	long long decoded = 0;

	TIFFSetErrorHandler(tiff_error_handler);
	TIFFSetWarningHandler(tiff_warning_handler);
	tiff_last_error[0] = '\0';
	t = TIFFOpen(path, "r");
	if (t == NULL) {
		snprintf(err, errlen, "not a TIFF image%s%s", tiff_last_error[0] ? ": " : "",
		    tiff_last_error);
		return -1;
	}
	do {
		uint32_t w = 0, h = 0;
		uint16_t bps = 1, spp = 1;

		if (++pages > TIFFDOC_MAX_PAGES) {
			snprintf(err, errlen, "more than %d pages", TIFFDOC_MAX_PAGES);
			goto fail;
		}
		if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) ||
		    !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h) || w == 0 || h == 0) {
			snprintf(err, errlen, "page %d has no image size", pages);
			goto fail;
		}
		if (w > TIFFDOC_MAX_WIDTH || h > TIFFDOC_MAX_HEIGHT) {
			snprintf(err, errlen, "page %d is %ux%u pixels, over the %dx%d limit",
			    pages, w, h, TIFFDOC_MAX_WIDTH, TIFFDOC_MAX_HEIGHT);
			goto fail;
		}
		TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
		TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
		if (bps > 16 || spp > 4) {
			snprintf(err, errlen, "page %d has an unsupported pixel format", pages);
			goto fail;
		}
		if (check_page(t, pages, &decoded, err, errlen) < 0)
			goto fail;
	} while (TIFFReadDirectory(t));
	if (tiff_last_error[0]) {
		snprintf(err, errlen, "damaged TIFF: %s", tiff_last_error);
		goto fail;
	}
	TIFFClose(t);
	return pages;
fail:
	TIFFClose(t);
	return -1;
}

/* Writing the image failed (errno e, 0 when libtiff lost it): the server's fault. A full disk
 * is told apart, since the user can do something about that: try again later. */
static int
write_failed(int e, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot write the fax image: %s", e ? strerror(e) :
	    tiff_last_error[0] ? tiff_last_error : "write error");
	return e == ENOSPC || e == EDQUOT ? TIFFDOC_ENOSPC : TIFFDOC_EIO;
}

/* Resolution of the current page in dots per inch, with a guess where the file has none. */
static float
dpi(TIFF *t, int tag, uint32_t w)
{
	float r = 0;
	uint16_t unit = RESUNIT_INCH;

	TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
	if (!TIFFGetField(t, tag, &r) || !(r > 0) || unit == RESUNIT_NONE)
		/* A fax-wide page without resolution is a fax page; anything else: 200 dpi. */
		return w == TIFFDOC_FAX_WIDTH ? (tag == TIFFTAG_XRESOLUTION ? 204.0f : 196.0f) :
		    200.0f;
	if (unit == RESUNIT_CENTIMETER)
		r *= 2.54f;
	/* Anything outside what scanners and fax machines use is a damaged tag. */
	return r < 10.0f ? 10.0f : r > 2400.0f ? 2400.0f : r;
}

int
tiffdoc_fine(const char *path)
{
	uint32_t w = 0;
	float yr;
	TIFF *t;

	TIFFSetErrorHandler(tiff_error_handler);
	TIFFSetWarningHandler(tiff_warning_handler);
	if ((t = TIFFOpen(path, "r")) == NULL)
		return -1;
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
	yr = dpi(t, TIFFTAG_YRESOLUTION, w);
	TIFFClose(t);
	/* fine is 196 lines per inch (7.7 per mm), standard 98 (3.85): the middle parts them */
	return yr > 147.0f;
}

/* One page: read as bits (1 = black), scaled and centred into the fax page. */
static int
normalise_page(TIFF *in, TIFF *out, int page, int pages, int yres, char *err, size_t errlen)
{
	uint32_t w = 0, h = 0, ow, oh, pad;
	uint16_t bps = 1, spp = 1, photo = PHOTOMETRIC_MINISWHITE;
	double xr, yr, sx, sy, fw, fh;
	tmsize_t line = TIFFScanlineSize(in);
	int identity = 1;
	unsigned char *src = NULL, *row = NULL;
	uint32_t *col = NULL;       /* source column of each output column, or UINT32_MAX */
	int rc = -1;

	TIFFGetField(in, TIFFTAG_IMAGEWIDTH, &w);
	TIFFGetField(in, TIFFTAG_IMAGELENGTH, &h);
	TIFFGetFieldDefaulted(in, TIFFTAG_BITSPERSAMPLE, &bps);
	TIFFGetFieldDefaulted(in, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetFieldDefaulted(in, TIFFTAG_PHOTOMETRIC, &photo);
	if (bps != 1 || spp != 1) {
		snprintf(err, errlen, "page %d has %s pixels (%u bits, %u samples each); a fax is "
		    "black and white: save it as a 1-bit (bilevel) TIFF, or send a PDF", page,
		    spp > 1 ? "colour" : "grey", bps, spp);
		return -1;
	}
	if (TIFFIsTiled(in)) {
		snprintf(err, errlen, "page %d is stored in tiles; save it with strips (as scanners "
		    "and fax software do), or send a PDF", page);
		return -1;
	}
	xr = dpi(in, TIFFTAG_XRESOLUTION, w);
	yr = dpi(in, TIFFTAG_YRESOLUTION, w);
	/* Keep the page's physical size; shrink what is wider than a fax line. */
	sx = TIFFDOC_FAX_XRES / xr;
	if (w * sx > TIFFDOC_FAX_WIDTH)
		sx = (double)TIFFDOC_FAX_WIDTH / w;
	sy = yres / yr * (sx * xr / TIFFDOC_FAX_XRES);
	fw = w * sx + 0.5;
	fh = h * sy + 0.5;
	/* Bounded before any conversion to an integer: a page longer than a fax page would be
	 * a way to turn a small upload into a huge image. */
	if (fh < 1.0 || fh > TIFFDOC_MAX_FAX_LINES * (yres / 196.0)) {
		snprintf(err, errlen, "page %d would be %.0f inches long; a fax page is at most %d "
		    "inches", page, fh / yres, TIFFDOC_MAX_FAX_LINES / 196);
		return -1;
	}
	ow = fw < 1.0 ? 1 : fw > TIFFDOC_FAX_WIDTH ? TIFFDOC_FAX_WIDTH : (uint32_t)fw;
	oh = (uint32_t)fh;
	pad = (TIFFDOC_FAX_WIDTH - ow) / 2;
	if ((src = malloc((size_t)line * h)) == NULL || (row = calloc(1, TIFFDOC_FAX_WIDTH / 8)) ==
	    NULL || (col = malloc(sizeof(*col) * ow)) == NULL) {
		snprintf(err, errlen, "out of memory for page %d", page);
		goto out;
	}
	for (uint32_t y = 0; y < h; y++)
		if (TIFFReadScanline(in, src + (size_t)line * y, y, 0) < 0) {
			snprintf(err, errlen, "page %d cannot be decoded%s%s", page,
			    tiff_last_error[0] ? ": " : "", tiff_last_error);
			goto out;
		}
	TIFFSetField(out, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
	TIFFSetField(out, TIFFTAG_IMAGEWIDTH, TIFFDOC_FAX_WIDTH);
	TIFFSetField(out, TIFFTAG_IMAGELENGTH, oh);
	TIFFSetField(out, TIFFTAG_BITSPERSAMPLE, 1);
	TIFFSetField(out, TIFFTAG_SAMPLESPERPIXEL, 1);
	TIFFSetField(out, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
	TIFFSetField(out, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
	TIFFSetField(out, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
	TIFFSetField(out, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	TIFFSetField(out, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
	TIFFSetField(out, TIFFTAG_XRESOLUTION, (float)TIFFDOC_FAX_XRES);
	TIFFSetField(out, TIFFTAG_YRESOLUTION, (float)yres);
	TIFFSetField(out, TIFFTAG_ROWSPERSTRIP, oh);
	TIFFSetField(out, TIFFTAG_PAGENUMBER, (uint16_t)(page - 1), (uint16_t)pages);
	/* The scaling is worked out once per page, not per pixel: a column table, and each
	 * output row made only when its source row changes. A page already at the fax width
	 * and resolution (what scanners and fax software send) is copied row for row. */
	for (uint32_t ox = 0; ox < ow; ox++) {
		uint32_t sx0 = (uint32_t)(ox / sx);
		col[ox] = sx0 < w ? sx0 : UINT32_MAX;
		if (col[ox] != ox)
			identity = 0;
	}
	identity = identity && ow == w && pad == 0 && (size_t)line == TIFFDOC_FAX_WIDTH / 8;
	for (uint32_t oy = 0, made = UINT32_MAX; oy < oh; oy++) {
		uint32_t sy0 = (uint32_t)(oy / sy);
		const unsigned char *s;

		sy0 = sy0 < h ? sy0 : h - 1;
		s = src + (size_t)line * sy0;
		if (sy0 != made && identity) {
			memcpy(row, s, TIFFDOC_FAX_WIDTH / 8);
			if (photo == PHOTOMETRIC_MINISBLACK)
				for (size_t i = 0; i < TIFFDOC_FAX_WIDTH / 8; i++)
					row[i] = (unsigned char)~row[i];   /* 1 must mean black */
		} else if (sy0 != made) {
			memset(row, 0, TIFFDOC_FAX_WIDTH / 8);
			for (uint32_t ox = 0; ox < ow; ox++) {
				int bit;

				if (col[ox] == UINT32_MAX)
					continue;
				bit = (s[col[ox] / 8] >> (7 - col[ox] % 8)) & 1;
				if (photo == PHOTOMETRIC_MINISBLACK)
					bit = !bit;     /* 1 must mean black */
				if (bit)
					row[(pad + ox) / 8] |= (unsigned char)(0x80 >> ((pad + ox) % 8));
			}
		}
		made = sy0;
		errno = 0;
		if (TIFFWriteScanline(out, row, oy, 0) < 0) {
			rc = write_failed(errno, err, errlen);
			goto out;
		}
	}
	/* The page's one strip is written here: where a full disk shows. */
	errno = 0;
	if (!TIFFWriteDirectory(out)) {
		rc = write_failed(errno, err, errlen);
		goto out;
	}
	rc = 0;
out:
	free(src);
	free(row);
	free(col);
	return rc;
}

int
tiffdoc_join(const char *const *srcs, int nsrcs, const char *dst, int yres, char *err,
    size_t errlen)
{
	TIFF *in[TIFFDOC_JOIN_MAX], *out = NULL;
	int pages = 0, n = 0, opened = 0;

	TIFFSetErrorHandler(tiff_error_handler);
	TIFFSetWarningHandler(tiff_warning_handler);
	tiff_last_error[0] = '\0';
	if (nsrcs < 1 || nsrcs > TIFFDOC_JOIN_MAX) {
		snprintf(err, errlen, "%d documents in one fax; at most %d", nsrcs,
		    TIFFDOC_JOIN_MAX);
		return -1;
	}
	/* Every source is opened first: the page numbers count the whole fax. */
	for (; opened < nsrcs; opened++) {
		if ((in[opened] = TIFFOpen(srcs[opened], "r")) == NULL) {
			snprintf(err, errlen, "not a TIFF image%s%s", tiff_last_error[0] ? ": " : "",
			    tiff_last_error);
			n = -1;
			goto out;
		}
		pages += TIFFNumberOfDirectories(in[opened]);
	}
	if (pages > TIFFDOC_MAX_PAGES) {
		snprintf(err, errlen, "more than %d pages", TIFFDOC_MAX_PAGES);
		n = -1;
		goto out;
	}
	errno = 0;
	if ((out = TIFFOpen(dst, "w")) == NULL) {
		n = write_failed(errno, err, errlen);
		goto out;
	}
	for (int i = 0; i < nsrcs && n >= 0; i++) {
		do {
			int rc = 0;

			if (++n > TIFFDOC_MAX_PAGES || (rc = normalise_page(in[i], out, n, pages,
			    yres, err, errlen)) < 0) {
				if (n > TIFFDOC_MAX_PAGES)
					snprintf(err, errlen, "more than %d pages", TIFFDOC_MAX_PAGES);
				n = rc < 0 ? rc : -1;
				break;
			}
		} while (TIFFReadDirectory(in[i]));
	}
out:
	for (int i = 0; i < opened; i++)
		TIFFClose(in[i]);
	if (out)
		TIFFClose(out);
	if (n < 0 && out)
		unlink(dst);
	return n;
}

int
tiffdoc_normalise(const char *src, const char *dst, int yres, char *err, size_t errlen)
{
	return tiffdoc_join(&src, 1, dst, yres, err, errlen);
}

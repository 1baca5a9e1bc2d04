/* tiffdoc.c: libtiff intake checks. The fax engine normalises pages later; here we refuse what
 * is not a readable image at submit time, so a user never learns of it from a failed fax. */
#include "tiffdoc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

/* libtiff reports through global handlers; keep the last message for the user instead of
 * letting it print to stderr. Intake runs on the event loop thread only. */
static char tiff_last_error[256];

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

/* Decodes every strip or tile of the current page into a scratch buffer, adding what it
 * decodes to *total so the whole document stays under TIFFDOC_MAX_DECODED. */
static int
check_page(TIFF *t, int page, long long *total, char *err, size_t errlen)
{
	int tiled = TIFFIsTiled(t);
	tmsize_t n = tiled ? TIFFTileSize(t) : TIFFStripSize(t);
	uint32_t count = tiled ? TIFFNumberOfTiles(t) : TIFFNumberOfStrips(t);
	unsigned char *buf;
	int rc = 0;

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
	if ((buf = malloc((size_t)n)) == NULL) {
		snprintf(err, errlen, "out of memory reading page %d", page);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		tmsize_t got = tiled ? TIFFReadEncodedTile(t, i, buf, n) :
		    TIFFReadEncodedStrip(t, i, buf, n);
		if (got < 0) {
			snprintf(err, errlen, "page %d cannot be decoded%s%s", page,
			    tiff_last_error[0] ? ": " : "", tiff_last_error);
			rc = -1;
			break;
		}
	}
	free(buf);
	return rc;
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
		/* Read the whole page once: a truncated or corrupt strip fails here, at submit. */
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

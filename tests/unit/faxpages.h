/* faxpages.h: fax pages the tests write and compare: TIFF-F pages, 1728 pixels wide, with
 * something on every row and different per page, and a row-by-row comparison of a received
 * file with what was sent. */
#ifndef NETCFAX_FAXPAGES_H
#define NETCFAX_FAXPAGES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#define WIDTH 1728
#define ROWS  300                    /* short pages keep the test quick */

/* A page with something on every row, different per page: bars, a ramp, a diagonal. */
static void
page_row(int page, int y, uint8_t *row)
{
	memset(row, 0, WIDTH / 8);
	for (int x = 0; x < WIDTH; x++) {
		int black = ((x / (8 + page * 3)) + (y / 10)) % 5 == 0 || (x + page * 37) % 400 == y ||
		    (y > 100 && y < 120 && x > 200 && x < 200 + y * 4);
		if (black)
			row[x / 8] |= (uint8_t)(0x80 >> (x % 8));
	}
}

static void
write_doc(const char *path, int pages, float yres)
{
	TIFF *t = TIFFOpen(path, "w");
	uint8_t row[WIDTH / 8];

	for (int p = 0; p < pages; p++) {
		TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
		TIFFSetField(t, TIFFTAG_IMAGEWIDTH, WIDTH);
		TIFFSetField(t, TIFFTAG_IMAGELENGTH, ROWS);
		TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
		TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
		TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
		TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
		TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
		TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
		TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
		TIFFSetField(t, TIFFTAG_YRESOLUTION, yres);
		TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, ROWS);
		TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
		for (int y = 0; y < ROWS; y++) {
			page_row(p, y, row);
			TIFFWriteScanline(t, row, (uint32_t)y, 0);
		}
		TIFFWriteDirectory(t);
	}
	TIFFClose(t);
}

/* Pages in the received file, each compared row by row with page first + i of what was sent
 * (counting from 0): the number of pages that match exactly, or -1 when the file cannot be
 * read. */
static int
matching_pages_from(const char *path, int first, int pages, float yres)
{
	TIFF *t = TIFFOpen(path, "r");
	uint8_t want[WIDTH / 8], *got;
	int ok = 0;

	if (t == NULL)
		return -1;
	got = malloc((size_t)TIFFScanlineSize(t) + WIDTH / 8);
	for (int p = 0; p < pages; p++) {
		uint32_t w = 0, h = 0;
		float yr = 0;
		int same = 1;

		if (p > 0 && !TIFFReadDirectory(t))
			break;
		TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
		TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
		TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
		if (w != WIDTH || h != ROWS || yr < yres * 0.95f || yr > yres * 1.05f) {
			fprintf(stderr, "page %d: %ux%u at %.0f dpi\n", p + 1, w, h, yr);
			continue;
		}
		for (uint32_t y = 0; y < h && same; y++) {
			page_row(first + p, (int)y, want);
			if (TIFFReadScanline(t, got, y, 0) < 0 || memcmp(got, want, WIDTH / 8) != 0)
				same = 0;
		}
		ok += same;
	}
	free(got);
	TIFFClose(t);
	return ok;
}

static int
matching_pages(const char *path, int pages, float yres)
{
	return matching_pages_from(path, 0, pages, yres);
}

#endif

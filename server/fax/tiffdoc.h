/* tiffdoc.h: TIFF documents for fax: checks that an uploaded file is a TIFF image a fax can be
 * made of, makes pages into the fax page every line sends, and joins documents. */
#ifndef NETCFAX_TIFFDOC_H
#define NETCFAX_TIFFDOC_H

#include <stddef.h>

/* Caps on what intake accepts; a fax rarely has more than a few dozen pages. */
#define TIFFDOC_MAX_PAGES  1000
#define TIFFDOC_MAX_WIDTH  10000
#define TIFFDOC_MAX_HEIGHT 20000
#define TIFFDOC_MAX_STRIP  (64L << 20)   /* bytes of one decoded strip or tile */
/* Decoded bytes of a whole document: bounds the time intake can take (every page of a small
 * file may point at the same compressed data). 256 MiB is ~500 fine A4 fax pages. */
#define TIFFDOC_MAX_DECODED (256LL << 20)

/* Opens path with libtiff and checks every page's header against the caps above, without
 * decoding: what the document would decode to is bounded before tiffdoc_normalise decodes it
 * (once). Returns the page count, or -1 with a reason fit to show the user in err. */
int tiffdoc_inspect(const char *path, char *err, size_t errlen);

/* The width of every fax page (A4, letter and legal), and its horizontal resolution. */
#define TIFFDOC_FAX_WIDTH 1728
#define TIFFDOC_FAX_XRES  204
/* The longest page normalisation makes, in lines at 196 per inch: 20 inches, longer than legal
 * paper; a document with longer pages is refused rather than made into a huge image. */
#define TIFFDOC_MAX_FAX_LINES 3920

/* What tiffdoc_normalise and tiffdoc_join return instead of a page count when the fault is
 * the server's, not the document's: the image could not be written (err says why, for the
 * log). TIFFDOC_ENOSPC when for lack of disk space. Any other failure is -1: the document's. */
#define TIFFDOC_EIO    (-2)
#define TIFFDOC_ENOSPC (-3)

/* Writes dst as a TIFF-F that a fax machine takes: every page of src (already inspected)
 * 1 bit, TIFFDOC_FAX_WIDTH wide at 204 dpi, yres (98 or 196) lines per inch, G4. Pages of
 * another resolution or width are scaled, keeping their proportions, and centred; a page of
 * grey or colour pixels is refused (a fax is black and white: convert it first). Returns the
 * page count, or -1 with a reason fit for the user in err, or TIFFDOC_EIO or TIFFDOC_ENOSPC. */
int tiffdoc_normalise(const char *src, const char *dst, int yres, char *err, size_t errlen);

/* 1 when the first page of path is at fine resolution (about 196 lines per inch), 0 when
 * at standard or coarser, -1 when it cannot be opened: what a received fax sent on keeps. */
int tiffdoc_fine(const char *path);

/* tiffdoc_normalise over several sources, their pages one after the other in dst: a cover page
 * and the documents of one job. At most TIFFDOC_JOIN_MAX sources. */
#define TIFFDOC_JOIN_MAX 17
int tiffdoc_join(const char *const *srcs, int nsrcs, const char *dst, int yres, char *err,
                 size_t errlen);

#endif

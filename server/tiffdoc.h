/* tiffdoc.h: checks that an uploaded file is a TIFF image a fax can be made of. */
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

/* Opens path with libtiff and walks every page. Returns the page count, or -1 with a reason
 * fit to show the user in err. */
int tiffdoc_inspect(const char *path, char *err, size_t errlen);

#endif

/* intake.h: an uploaded document made into a fax image, or refused with a reason, at submit
 * time: TIFF (checked, normalised), PDF and PostScript (ghostscript, sandboxed and timed),
 * plain text (set in Courier, then as PostScript). Blocking: ghostscript can take seconds, so
 * the server calls this off its event loop. */
#ifndef NETCFAX_INTAKE_H
#define NETCFAX_INTAKE_H

#include <stddef.h>
#include <time.h>

enum intake_paper { INTAKE_A4 = 0, INTAKE_LETTER = 1 };

struct intake_opts {
	int         fine;          /* 204x196 lines per inch, else 204x98 */
	int         paper;         /* enum intake_paper: PDF, PostScript and text pages */
	int         timeout_s;     /* ghostscript's time limit; 0: 60 s */
	const char *gs_path;       /* NULL: /usr/bin/gs */
};

/* The server is stopping: conversions under way end now (ghostscript is killed) with an
 * error, and new ones fail at once. Safe from any thread. */
void intake_stop(void);

/* What intake_convert, intake_cover and intake_to_pdf return when the fault is the server's,
 * not the document's (err is then for the log): INTAKE_ENOSPC for lack of disk space (the
 * user can try again later), INTAKE_EIO for anything else (a file that cannot be written, a
 * converter that cannot be started, a server that is stopping). */
#define INTAKE_EIO    (-2)
#define INTAKE_ENOSPC (-3)

/* Converts src, of format (NCFX_FMT_*), into the TIFF-F dst (temporary files beside dst).
 * Returns the page count, or -1 with a reason fit for the user in err, or INTAKE_EIO or
 * INTAKE_ENOSPC. */
int intake_convert(const char *src, int format, const struct intake_opts *o, const char *dst,
                   char *err, size_t errlen);

/* A cover page: what goes on it. Strings may be empty; non-ASCII shows as '?'. */
struct intake_cover {
	const char *from, *to, *subject;
	const char *dest;          /* the number dialled */
	int         pages;         /* of the whole fax, the cover included */
	time_t      when;
};
/* Renders the cover page into the TIFF dst (ghostscript, as for documents). 0, or -1,
 * INTAKE_EIO or INTAKE_ENOSPC. */
int intake_cover(const struct intake_cover *cv, const struct intake_opts *o, const char *dst,
                 char *err, size_t errlen);

/* A received fax (TIFF) as a PDF whose pages have the fax's true size, by tiff2pdf under
 * the same limits as ghostscript. 0, or -1 (or INTAKE_EIO or INTAKE_ENOSPC) with why in err. */
int intake_to_pdf(const char *tiff, const char *pdf, char *err, size_t errlen);

#endif

/* jobspec.h: what a JOB_SUBMIT asks for, checked without I/O before anything is stored: the
 * fax number, the document's format and place in its job, and with a job's first document,
 * how the job is to be sent. fuzz/fuzz_frame.c runs the same checks on arbitrary frames. */
#ifndef NETCFAX_JOBSPEC_H
#define NETCFAX_JOBSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define JOBSPEC_AHEAD_MAX (366LL * 86400)   /* SEND_AT at most this far ahead, KILL_AT twice */

/* One document as its JOB_SUBMIT announces it. */
struct jobspec_doc {
	uint64_t size;
	int      format;                        /* NCFX_FMT_* */
	int      part, parts;                   /* this is document part of parts */
	char     dest[NCFX_DEST_MAX + 1];
	char     filename[NCFX_FILENAME_MAX + 1];   /* the last path component, for display */
	uint8_t  sha256[32];
};

/* How a job is to be made and sent: from the JOB_SUBMIT of its first document. */
struct jobspec {
	char    dest[NCFX_DEST_MAX + 1];
	int     fine;                   /* 204x196, else 204x98 */
	int     paper;                  /* enum intake_paper */
	int     priority;
	int64_t send_at, kill_at;
	int     max_tries, max_dials;
	int     cover;                  /* a cover page goes first */
	char    cover_from[NCFX_COVER_MAX + 1];
	char    cover_to[NCFX_COVER_MAX + 1];
	char    subject[NCFX_SUBJECT_MAX + 1];
};

/* Every JOB_SUBMIT: 0, or the NCFX_E_* code to answer with and why. */
int jobspec_doc(const struct ncfx_msg *m, struct jobspec_doc *d, char *why, size_t whylen);
/* The first document's JOB_SUBMIT: the job's options, MAX_TRIES and MAX_DIALS defaulting to
 * the server's; send-at and kill times are judged against now. 0, or NCFX_E_BAD_REQUEST and
 * why. */
int jobspec_parse(const struct ncfx_msg *m, int max_tries, int max_dials, uint64_t now,
                  struct jobspec *js, char *why, size_t whylen);

#endif

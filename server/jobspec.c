/* jobspec.c: the checks of a JOB_SUBMIT that need nothing but the message: every value that
 * reaches the spool, the store or the fax engine from a submission passes here first. */
#include "jobspec.h"

#include <stdio.h>
#include <string.h>

/* Digits and the characters people write phone numbers with; at least one digit. */
static int
valid_dest(const char *d)
{
	int digits = 0;

	for (; *d; d++) {
		if (*d >= '0' && *d <= '9')
			digits++;
		else if (!strchr("+-() .*#", *d))
			return 0;
	}
	return digits > 0;
}

/* Only the last path component of what the client called its file, for display. */
static void
base_name(const char *in, char *out, size_t cap)
{
	const char *slash = strrchr(in, '/');

	snprintf(out, cap, "%s", slash ? slash + 1 : in);
	if (out[0] == '\0')
		snprintf(out, cap, "document");
}

int
jobspec_doc(const struct ncfx_msg *m, struct jobspec_doc *d, char *why, size_t whylen)
{
	uint64_t parts = ncfx_msg_has(m, NCFX_T_COUNT) ? ncfx_msg_uint(m, NCFX_T_COUNT) : 1;
	uint64_t part = ncfx_msg_has(m, NCFX_T_PART) ? ncfx_msg_uint(m, NCFX_T_PART) : 1;
	uint64_t format = ncfx_msg_uint(m, NCFX_T_FORMAT);
	char name[NCFX_FILENAME_MAX + 1];
	const uint8_t *sha;
	size_t len;

	memset(d, 0, sizeof(*d));
	ncfx_msg_str(m, NCFX_T_DEST, d->dest, sizeof(d->dest));
	if (!valid_dest(d->dest)) {
		snprintf(why, whylen, "'%s' is not a fax number (digits, +, -, spaces, "
		    "parentheses)", d->dest);
		return NCFX_E_BAD_REQUEST;
	}
	if (format < NCFX_FMT_TIFF || format > NCFX_FMT_TEXT) {
		snprintf(why, whylen, "not a document netcfax can fax (TIFF, PDF, PostScript or "
		    "plain text)");
		return NCFX_E_BAD_DOCUMENT;
	}
	if (parts < 1 || parts > NCFX_PARTS_MAX || part < 1 || part > parts) {
		snprintf(why, whylen, "document %llu of %llu: a job has 1 to %u documents",
		    (unsigned long long)part, (unsigned long long)parts, NCFX_PARTS_MAX);
		return NCFX_E_BAD_REQUEST;
	}
	/* Required by the decoder with exactly 32 bytes; checked again for whoever built m. */
	sha = ncfx_msg_bytes(m, NCFX_T_SHA256, &len);
	if (sha == NULL || len != sizeof(d->sha256)) {
		snprintf(why, whylen, "JOB_SUBMIT needs the document's SHA256");
		return NCFX_E_BAD_REQUEST;
	}
	memcpy(d->sha256, sha, sizeof(d->sha256));
	d->size = ncfx_msg_uint(m, NCFX_T_SIZE);
	d->format = (int)format;
	d->part = (int)part;
	d->parts = (int)parts;
	base_name(ncfx_msg_str(m, NCFX_T_FILENAME, name, sizeof(name)), d->filename,
	    sizeof(d->filename));
	return 0;
}

int
jobspec_parse(const struct ncfx_msg *m, int max_tries, int max_dials, uint64_t now,
    struct jobspec *js, char *why, size_t whylen)
{
	uint64_t send_at = ncfx_msg_uint(m, NCFX_T_SEND_AT);
	uint64_t kill_at = ncfx_msg_uint(m, NCFX_T_KILL_AT);

	memset(js, 0, sizeof(*js));
	if (ncfx_msg_uint(m, NCFX_T_RESOLUTION) > 1 || ncfx_msg_uint(m, NCFX_T_PAPER) > 1) {
		snprintf(why, whylen, "unknown RESOLUTION or PAPER");
		return NCFX_E_BAD_REQUEST;
	}
	if ((ncfx_msg_has(m, NCFX_T_MAX_TRIES) && ncfx_msg_uint(m, NCFX_T_MAX_TRIES) == 0) ||
	    (ncfx_msg_has(m, NCFX_T_MAX_DIALS) && ncfx_msg_uint(m, NCFX_T_MAX_DIALS) == 0)) {
		snprintf(why, whylen, "MAX_TRIES and MAX_DIALS must be at least 1");
		return NCFX_E_BAD_REQUEST;
	}
	/* At most a year ahead: beyond that a fax is a mistake, and dates stay printable. */
	if (send_at > now + JOBSPEC_AHEAD_MAX || kill_at > now + 2 * JOBSPEC_AHEAD_MAX) {
		snprintf(why, whylen, "SEND_AT is more than a year ahead (or KILL_AT more than "
		    "two)");
		return NCFX_E_BAD_REQUEST;
	}
	if (ncfx_msg_has(m, NCFX_T_KILL_AT) && kill_at <= (send_at > now ? send_at : now)) {
		snprintf(why, whylen, "the kill time is already past (or before the send-at time)");
		return NCFX_E_BAD_REQUEST;
	}
	ncfx_msg_str(m, NCFX_T_DEST, js->dest, sizeof(js->dest));
	/* Fine unless asked otherwise: it is what office documents need to stay legible. */
	js->fine = ncfx_msg_has(m, NCFX_T_RESOLUTION) ? (int)ncfx_msg_uint(m, NCFX_T_RESOLUTION) :
	    1;
	js->paper = (int)ncfx_msg_uint(m, NCFX_T_PAPER);
	js->priority = ncfx_msg_has(m, NCFX_T_PRIORITY) ? (int)ncfx_msg_uint(m, NCFX_T_PRIORITY) :
	    NCFX_PRIORITY_DEFAULT;
	js->send_at = (int64_t)send_at;
	js->kill_at = (int64_t)kill_at;
	js->max_tries = ncfx_msg_has(m, NCFX_T_MAX_TRIES) ?
	    (int)ncfx_msg_uint(m, NCFX_T_MAX_TRIES) : max_tries;
	js->max_dials = ncfx_msg_has(m, NCFX_T_MAX_DIALS) ?
	    (int)ncfx_msg_uint(m, NCFX_T_MAX_DIALS) : max_dials;
	js->cover = ncfx_msg_has(m, NCFX_T_COVER_FROM) || ncfx_msg_has(m, NCFX_T_COVER_TO) ||
	    ncfx_msg_has(m, NCFX_T_SUBJECT);
	ncfx_msg_str(m, NCFX_T_COVER_FROM, js->cover_from, sizeof(js->cover_from));
	ncfx_msg_str(m, NCFX_T_COVER_TO, js->cover_to, sizeof(js->cover_to));
	ncfx_msg_str(m, NCFX_T_SUBJECT, js->subject, sizeof(js->subject));
	return 0;
}

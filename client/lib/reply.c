/* reply.c: reading the server's replies. The decoder has already checked every attribute's
 * type and length; what is left is to copy within the API's buffers and to judge what only a
 * sequence of replies can get wrong (a file's chunks). */
#include "reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void
reply_error(const struct ncfx_msg *m, int *code, uint32_t *retry_after, char *reason,
    size_t cap)
{
	char text[NCFX_STR_MAX + 1];

	*code = (int)ncfx_msg_uint(m, NCFX_T_ERROR_CODE);
	*retry_after = (uint32_t)ncfx_msg_uint(m, NCFX_T_RETRY_AFTER);
	ncfx_msg_str(m, NCFX_T_REASON, text, sizeof(text));
	snprintf(reason, cap, "%s", text[0] ? text : ncfx_strerror(*code));
}

void
reply_hello(const struct ncfx_msg *m, char *server_name, size_t cap, uint64_t *max_document)
{
	ncfx_msg_str(m, NCFX_T_SERVER_NAME, server_name, cap);
	*max_document = ncfx_msg_uint(m, NCFX_T_MAX_DOCUMENT);
}

int
reply_login(const struct ncfx_msg *m, struct reply_login *out, char *why, size_t whylen)
{
	const uint8_t *p;
	size_t len;

	memset(out, 0, sizeof(*out));
	/* The decoder requires it, exactly 32 bytes; checked again so that no message built
	 * another way can make this copy read past its end. */
	p = ncfx_msg_bytes(m, NCFX_T_SCP_SECRET, &len);
	if (p == NULL || len != sizeof(out->secret)) {
		snprintf(why, whylen, "LOGIN_OK without a 32-byte SCP_SECRET");
		return -1;
	}
	memcpy(out->secret, p, sizeof(out->secret));
	out->info.session_id = ncfx_msg_uint(m, NCFX_T_SESSION_ID);
	ncfx_msg_str(m, NCFX_T_USER, out->info.user, sizeof(out->info.user));
	ncfx_msg_str(m, NCFX_T_OBSERVED_ADDR, out->info.observed_addr,
	    sizeof(out->info.observed_addr));
	out->info.observed_port = (uint16_t)ncfx_msg_uint(m, NCFX_T_OBSERVED_PORT);
	out->info.relay_offered = ncfx_msg_uint(m, NCFX_T_RELAY) != 0;
	out->has_seq = ncfx_msg_has(m, NCFX_T_SEQ);
	out->seq = ncfx_msg_uint(m, NCFX_T_SEQ);
	/* An empty token means the server issues none (resume_token_lifetime = 0). */
	p = ncfx_msg_bytes(m, NCFX_T_RESUME_TOKEN, &len);
	if (p != NULL && len == sizeof(out->token)) {
		memcpy(out->token, p, sizeof(out->token));
		out->has_token = 1;
	}
	return 0;
}

void
reply_job(const struct ncfx_msg *m, struct ncfx_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = ncfx_msg_uint(m, NCFX_T_JOB_ID);
	j->state = (int)ncfx_msg_uint(m, NCFX_T_STATE);
	snprintf(j->state_name, sizeof(j->state_name), "%s", ncfx_job_state_name(j->state));
	ncfx_msg_str(m, NCFX_T_DEST, j->dest, sizeof(j->dest));
	ncfx_msg_str(m, NCFX_T_FILENAME, j->filename, sizeof(j->filename));
	j->size = ncfx_msg_uint(m, NCFX_T_SIZE);
	j->pages = (uint32_t)ncfx_msg_uint(m, NCFX_T_PAGES);
	snprintf(j->format, sizeof(j->format), "%s",
	    ncfx_doc_format_name((int)ncfx_msg_uint(m, NCFX_T_FORMAT)));
	j->created = (int64_t)ncfx_msg_uint(m, NCFX_T_CREATED);
	j->updated = (int64_t)ncfx_msg_uint(m, NCFX_T_UPDATED);
	ncfx_msg_str(m, NCFX_T_TEXT, j->text, sizeof(j->text));
	j->fine = ncfx_msg_uint(m, NCFX_T_RESOLUTION) != 0;
	j->priority = ncfx_msg_has(m, NCFX_T_PRIORITY) ? (int)ncfx_msg_uint(m, NCFX_T_PRIORITY) :
	    NCFX_PRIORITY_DEFAULT;
	j->send_at = (int64_t)ncfx_msg_uint(m, NCFX_T_SEND_AT);
	j->kill_at = (int64_t)ncfx_msg_uint(m, NCFX_T_KILL_AT);
	j->next_try = (int64_t)ncfx_msg_uint(m, NCFX_T_NEXT_TRY);
	j->tries = (int)ncfx_msg_uint(m, NCFX_T_TRIES);
	j->max_tries = (int)ncfx_msg_uint(m, NCFX_T_MAX_TRIES);
	j->dials = (int)ncfx_msg_uint(m, NCFX_T_DIALS);
	j->max_dials = (int)ncfx_msg_uint(m, NCFX_T_MAX_DIALS);
	j->pages_sent = (uint32_t)ncfx_msg_uint(m, NCFX_T_PAGE);
	j->bit_rate = (uint32_t)ncfx_msg_uint(m, NCFX_T_BIT_RATE);
	j->ecm = ncfx_msg_uint(m, NCFX_T_ECM) != 0;
	ncfx_msg_str(m, NCFX_T_REMOTE_ID, j->remote_id, sizeof(j->remote_id));
	ncfx_msg_str(m, NCFX_T_MEDIA, j->media, sizeof(j->media));
}

void
reply_fax(const struct ncfx_msg *m, struct ncfx_fax *f)
{
	memset(f, 0, sizeof(*f));
	f->id = ncfx_msg_uint(m, NCFX_T_FAX_ID);
	ncfx_msg_str(m, NCFX_T_DEST, f->number, sizeof(f->number));
	ncfx_msg_str(m, NCFX_T_REMOTE_ID, f->remote_id, sizeof(f->remote_id));
	f->pages = (uint32_t)ncfx_msg_uint(m, NCFX_T_PAGES);
	f->size = ncfx_msg_uint(m, NCFX_T_SIZE);
	f->received = (int64_t)ncfx_msg_uint(m, NCFX_T_CREATED);
	f->read = ncfx_msg_uint(m, NCFX_T_READ) != 0;
	f->bit_rate = (uint32_t)ncfx_msg_uint(m, NCFX_T_BIT_RATE);
	f->ecm = ncfx_msg_uint(m, NCFX_T_ECM) != 0;
	f->fine = ncfx_msg_uint(m, NCFX_T_RESOLUTION) != 0;
	ncfx_msg_str(m, NCFX_T_TEXT, f->note, sizeof(f->note));
	ncfx_msg_str(m, NCFX_T_MEDIA, f->media, sizeof(f->media));
}

void
reply_probe(const struct ncfx_msg *m, struct ncfx_probe_result *r)
{
	r->result = (int)ncfx_msg_uint(m, NCFX_T_PROBE_RESULT);
	ncfx_msg_str(m, NCFX_T_REASON, r->reason, sizeof(r->reason));
	ncfx_msg_str(m, NCFX_T_OBSERVED_ADDR, r->target, sizeof(r->target));
	r->elapsed_ms = (uint32_t)ncfx_msg_uint(m, NCFX_T_ELAPSED_MS);
	r->relay = ncfx_msg_uint(m, NCFX_T_RELAY) != 0;
}

int
reply_chunk(struct reply_fetch *f, const struct ncfx_msg *m, const uint8_t **data,
    size_t *len, char *why, size_t whylen)
{
	if (m->type != NCFX_MSG_FILE_CHUNK) {
		snprintf(why, whylen, "the server answered FILE_GET with %s",
		    ncfx_msg_type_name(m->type));
		return -1;
	}
	if (!f->started) {
		f->size = ncfx_msg_uint(m, NCFX_T_SIZE);
		if (f->size > NCFX_FILE_MAX) {
			snprintf(why, whylen, "the server announced a file of %" PRIu64 " bytes; "
			    "a fax is at most %u", f->size, NCFX_FILE_MAX);
			return -1;
		}
		f->started = 1;
	}
	if (ncfx_msg_uint(m, NCFX_T_OFFSET) != f->got) {
		snprintf(why, whylen, "the server sent the fax out of order");
		return -1;
	}
	*data = ncfx_msg_bytes(m, NCFX_T_DATA, len);
	/* Not a byte beyond what was announced: a server that keeps sending fills no disk. */
	if (*len > f->size - f->got) {
		snprintf(why, whylen, "the server sent more than the %" PRIu64 " bytes it "
		    "announced", f->size);
		return -1;
	}
	f->got += *len;
	return (m->flags & NCFX_F_MORE) ? 1 : 0;
}

int
reply_fetch_whole(const struct reply_fetch *f, const struct ncfx_msg *last, const uint8_t sha[32])
{
	const uint8_t *want;
	size_t len;

	want = ncfx_msg_bytes(last, NCFX_T_SHA256, &len);
	if (want == NULL || len != 32 || memcmp(want, sha, 32) != 0 || f->got != f->size)
		return -1;
	return 0;
}

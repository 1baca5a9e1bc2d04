/* fuzz_reply.c: libFuzzer harness for the client's reading of the server's replies. A byte
 * stream is cut into frames and decoded as the client's recv_frame does, and each reply is
 * read by the function the client uses for its type: reply_error, reply_hello, reply_login,
 * reply_job (job lists, submit, cancel), reply_fax (inbox), reply_probe; the FILE_CHUNKs make
 * one fetch through reply_chunk and, after the last, reply_fetch_whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "proto.h"
#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every text the client hands on must end inside its buffer. */
#define TERMINATED(a) (strnlen((a), sizeof(a)) < sizeof(a))

static void
read_reply(const struct ncfx_msg *m)
{
	struct ncfx_probe_result pr;
	struct reply_login lg;
	struct ncfx_job j;
	struct ncfx_fax f;
	char text[512], why[160];
	uint64_t max_doc;
	uint32_t retry;
	int code;

	switch (m->type) {
	case NCFX_MSG_ERROR:
		reply_error(m, &code, &retry, text, sizeof(text));
		if (!TERMINATED(text) || text[0] == '\0')
			abort();
		break;
	case NCFX_MSG_HELLO_OK:
		reply_hello(m, text, sizeof(text), &max_doc);
		if (!TERMINATED(text))
			abort();
		break;
	case NCFX_MSG_LOGIN_OK:
		if (reply_login(m, &lg, why, sizeof(why)) == 0 && (!TERMINATED(lg.info.user) ||
		    !TERMINATED(lg.info.observed_addr)))
			abort();
		break;
	case NCFX_MSG_JOB_INFO:
		reply_job(m, &j);
		if (!TERMINATED(j.state_name) || !TERMINATED(j.dest) || !TERMINATED(j.filename) ||
		    !TERMINATED(j.format) || !TERMINATED(j.text) || !TERMINATED(j.remote_id) ||
		    !TERMINATED(j.media))
			abort();
		break;
	case NCFX_MSG_INBOX_INFO:
		reply_fax(m, &f);
		if (!TERMINATED(f.number) || !TERMINATED(f.remote_id) || !TERMINATED(f.note) ||
		    !TERMINATED(f.media))
			abort();
		break;
	case NCFX_MSG_SCP_PROBE_RESULT:
		memset(&pr, 0, sizeof(pr));
		reply_probe(m, &pr);
		if (!TERMINATED(pr.reason) || !TERMINATED(pr.target))
			abort();
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_sha256 *h = crypto_sha256_new();
	struct reply_fetch rf = { 0, 0, 0 };
	uint64_t total = 0;
	int fetching = 1;

	if (h == NULL)
		return 0;
	while (size > 0) {
		struct ncfx_frame fr;
		struct ncfx_msg m;
		const char *reason = NULL;
		const uint8_t *chunk;
		uint8_t sha[32];
		size_t used = 0, len;
		char why[160];
		int err = 0, more;

		if (ncfx_frame_parse(data, size, &fr, &used, &err, &reason) != 1 ||
		    ncfx_msg_decode(&fr, &m, &err, &reason) < 0)
			break;
		data += used;
		size -= used;
		if (m.type != NCFX_MSG_FILE_CHUNK) {
			read_reply(&m);
			continue;
		}
		if (!fetching)
			continue;
		if ((more = reply_chunk(&rf, &m, &chunk, &len, why, sizeof(why))) < 0) {
			fetching = 0;
			continue;
		}
		crypto_sha256_update(h, chunk, len);
		total += len;
		if (rf.got != total || rf.got > rf.size || rf.size > NCFX_FILE_MAX)
			abort();
		if (more)
			continue;
		crypto_sha256_final(h, sha);
		/* Whole means: every announced byte came and the checksum is the server's. */
		if (reply_fetch_whole(&rf, &m, sha) == 0 && (rf.got != rf.size ||
		    !ncfx_msg_has(&m, NCFX_T_SHA256)))
			abort();
		fetching = 0;
	}
	crypto_sha256_free(h);
	return 0;
}

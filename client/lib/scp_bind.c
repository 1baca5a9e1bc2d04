/* scp_bind.c: proving both ways that an SCP connection belongs to our session (protocol
 * section 9.2): the server's proof is checked first, and only then do we send ours. */
#include "scp_bind.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "frame_io.h"
#include "proto.h"
#include "scp_proof.h"
#include "tls.h"

int
scp_bind_verify(const struct ncfx_msg *m, uint64_t session_id, const uint8_t want[32],
    char *why, size_t whylen)
{
	const uint8_t *proof;
	size_t len;

	if (m->type != NCFX_MSG_SCP_BIND) {
		snprintf(why, whylen, "it did not start with SCP_BIND");
		return -1;
	}
	if (session_id == 0 || ncfx_msg_uint(m, NCFX_T_SESSION_ID) != session_id) {
		snprintf(why, whylen, "SCP_BIND for another session");
		return session_id == 0 ? -1 : SCP_BIND_OTHER_SESSION;
	}
	/* The decoder holds SCP_PROOF to 32 bytes; the length is checked again here so that
	 * this function stays safe whoever built m. */
	proof = ncfx_msg_bytes(m, NCFX_T_SCP_PROOF, &len);
	if (proof == NULL || len != 32 || !crypto_equal(want, proof, 32)) {
		snprintf(why, whylen, "wrong proof of the session secret (an impostor, or a "
		    "replay)");
		return -1;
	}
	return 0;
}

int
scp_bind_answer(struct bufferevent *bev, const struct ncfx_msg *m, uint64_t session_id,
    const uint8_t secret[32], char *why, size_t whylen)
{
	uint8_t want[32], mine[32];
	struct ncfx_wbuf wb;
	int rc;

	if (scp_proof(bev, secret, session_id, NCFX_SCP_LABEL_SERVER, want) < 0) {
		snprintf(why, whylen, "cannot derive the server's proof over this connection");
		return -1;
	}
	if ((rc = scp_bind_verify(m, session_id, want, why, whylen)) < 0)
		return rc;
	if (scp_proof(bev, secret, session_id, NCFX_SCP_LABEL_CLIENT, mine) < 0) {
		snprintf(why, whylen, "cannot derive our proof");
		return -1;
	}
	ncfx_wbuf_begin(&wb, NCFX_MSG_SCP_BIND_OK, 0, 0);
	ncfx_put_bytes(&wb, NCFX_T_SCP_PROOF, mine, sizeof(mine));
	frame_send(bev, &wb);
	return 0;
}

int
scp_bind_check_peer(struct bufferevent *bev, const char *pinned, char *why, size_t whylen)
{
	char fp[TLS_FP_LEN];

	if (pinned == NULL || *pinned == '\0')
		return 0;
	tls_bev_peer_fingerprint(bev, fp);
	if (strcmp(fp, pinned) != 0) {
		snprintf(why, whylen, "its certificate is not the server's");
		return -1;
	}
	return 0;
}

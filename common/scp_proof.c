/* scp_proof.c: computing SCP proofs. Tying the proof to the TLS exporter means a recorded
 * SCP_BIND is worthless on any other connection, and the secret itself never travels. */
#include "scp_proof.h"

#include <string.h>

#include "crypto.h"
#include "proto.h"
#include "tls.h"

int
scp_proof(struct bufferevent *bev, const uint8_t secret[32], uint64_t session_id,
    const char *label, uint8_t out[32])
{
	uint8_t ekm[32], id[8];
	const void *parts[3];
	size_t lens[3];

	if (tls_bev_exporter(bev, NCFX_SCP_EXPORTER, ekm, sizeof(ekm)) < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(session_id >> (56 - 8 * i));
	parts[0] = label;
	lens[0] = strlen(label);
	parts[1] = id;
	lens[1] = sizeof(id);
	parts[2] = ekm;
	lens[2] = sizeof(ekm);
	return crypto_hmac_sha256(secret, 32, parts, lens, 3, out);
}

/* scp_proof.h: the proofs that bind an SCP connection to a session (see proto.h). */
#ifndef NETCFAX_SCP_PROOF_H
#define NETCFAX_SCP_PROOF_H

#include <stdint.h>

struct bufferevent;

/* proof = HMAC-SHA256(secret, label || u64 session_id || TLS exporter of bev). 0 or -1. */
int scp_proof(struct bufferevent *bev, const uint8_t secret[32], uint64_t session_id,
              const char *label, uint8_t out[32]);

#endif

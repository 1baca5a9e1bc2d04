/* tls.h: the one place netcfax talks to OpenSSL's TLS: contexts, certificates, fingerprints, a
 * libevent bufferevent for the server and a blocking stream for clients. */
#ifndef NETCFAX_TLS_H
#define NETCFAX_TLS_H

#include <stddef.h>

struct event_base;
struct bufferevent;
struct tls_ctx;
struct tls_stream;

/* "SHA256:" + 32 colon-separated hex pairs + NUL */
#define TLS_FP_LEN 104

enum tls_min { TLS_MIN_12 = 12, TLS_MIN_13 = 13 };

/* Creates a self-signed certificate and key (ECDSA P-256, 10 years) when either file is missing.
 * Both are written mode 0600 through a temporary file and rename. 1 created, 0 existed,
 * -1 error. */
int  tls_ensure_selfsigned(const char *cert_path, const char *key_path, const char *common_name,
                           char *err, size_t errlen);
/* SHA-256 of the DER certificate in a PEM file, as "SHA256:AB:CD:...". */
int  tls_cert_file_fingerprint(const char *cert_path, char out[TLS_FP_LEN], char *err,
                               size_t errlen);

struct tls_ctx *tls_server_ctx_new(const char *cert_path, const char *key_path, int min_version,
                                   char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);
/* The fingerprint of the certificate this context presents. */
const char *tls_ctx_fingerprint(const struct tls_ctx *ctx);

/* A TLS bufferevent in the server role over a connected socket (accepted, or opened by us
 * for an SCP connect-back); it owns fd and its SSL. Both roles turn off Nagle's delay on fd
 * (netopt_nodelay): frames are written whole. */
struct bufferevent *tls_bev_accept(struct event_base *base, int fd, struct tls_ctx *ctx);
/* A client-role context for connections the peer opened to us (the SCP): any certificate is
 * accepted during the handshake and checked by fingerprint afterwards, or verified against
 * ca_file when given. */
struct tls_ctx *tls_client_ctx_new(const char *ca_file, char *err, size_t errlen);
/* A TLS bufferevent in the client role over a connected socket; verify_name (CA mode) is the
 * server's host name or address. */
struct bufferevent *tls_bev_connect(struct event_base *base, int fd, struct tls_ctx *ctx,
                                    const char *verify_name);
/* The peer certificate's fingerprint once the handshake is done; "" if none. */
void tls_bev_peer_fingerprint(struct bufferevent *bev, char out[TLS_FP_LEN]);
/* RFC 5705 keying material for this connection: 0 or -1. */
int  tls_bev_exporter(struct bufferevent *bev, const char *label, unsigned char *out,
                      size_t len);
/* Fills buf with the TLS errors queued on bev (or "connection reset" style text). */
void tls_bev_error(struct bufferevent *bev, char *buf, size_t len);
/* Sends TLS close_notify on a connection that is being closed on purpose, so that the peer
 * sees a clean end rather than a truncated stream. Best effort, never blocks. */
void tls_bev_close_notify(struct bufferevent *bev);

/* Client side. With ca_file the chain and host name are verified during the handshake; without
 * it the handshake accepts any certificate and the caller must compare tls_stream_fingerprint()
 * with its pin before sending anything. */
enum tls_fail { TLS_FAIL_CONNECT = 1, TLS_FAIL_HANDSHAKE, TLS_FAIL_VERIFY };
/* On failure *fail says which step failed: TCP, the TLS handshake, or certificate checks. */
struct tls_stream *tls_stream_connect(const char *host, int port, const char *ca_file,
                                      int timeout_ms, int *fail, char *err, size_t errlen);
const char *tls_stream_fingerprint(const struct tls_stream *s);
const char *tls_stream_peer_addr(const struct tls_stream *s);
/* How long a read may wait from now on (a reply that takes the server a while). */
void tls_stream_set_read_timeout(struct tls_stream *s, int timeout_ms);
/* Our end's port of the connection (what a NAT on the way may change). */
int tls_stream_local_port(const struct tls_stream *s);
/* 0 or -1 */
int  tls_stream_write(struct tls_stream *s, const void *buf, size_t len, char *err,
                      size_t errlen);
/* Reads up to len bytes: >0 bytes read, 0 peer closed, -1 error or timeout. */
long tls_stream_read(struct tls_stream *s, void *buf, size_t len, char *err, size_t errlen);
void tls_stream_free(struct tls_stream *s);
/* Moves an established stream under libevent; the stream is consumed. NULL on failure (the
 * stream is freed then too). */
struct bufferevent *tls_stream_to_bev(struct tls_stream *s, struct event_base *base);

#endif

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
 * The key is written mode 0600 through a temporary file and rename. 1 created, 0 existed, -1 error. */
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

/* A server-side TLS bufferevent over an accepted socket; it owns fd and its SSL. */
struct bufferevent *tls_bev_accept(struct event_base *base, int fd, struct tls_ctx *ctx);
/* Fills buf with the TLS errors queued on bev (or "connection reset" style text). */
void tls_bev_error(struct bufferevent *bev, char *buf, size_t len);

/* Client side. With ca_file the chain and host name are verified during the handshake; without
 * it the handshake accepts any certificate and the caller must compare tls_stream_fingerprint()
 * with its pin before sending anything. */
enum tls_fail { TLS_FAIL_CONNECT = 1, TLS_FAIL_HANDSHAKE, TLS_FAIL_VERIFY };
/* On failure *fail says which step failed: TCP, the TLS handshake, or certificate checks. */
struct tls_stream *tls_stream_connect(const char *host, int port, const char *ca_file,
                                      int timeout_ms, int *fail, char *err, size_t errlen);
const char *tls_stream_fingerprint(const struct tls_stream *s);
const char *tls_stream_peer_addr(const struct tls_stream *s);
/* 0 or -1 */
int  tls_stream_write(struct tls_stream *s, const void *buf, size_t len, char *err,
                      size_t errlen);
/* Reads up to len bytes: >0 bytes read, 0 peer closed, -1 error or timeout. */
long tls_stream_read(struct tls_stream *s, void *buf, size_t len, char *err, size_t errlen);
void tls_stream_free(struct tls_stream *s);

#endif

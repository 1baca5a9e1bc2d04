/* tls.c: OpenSSL TLS for netcfax. Every other file sees only the opaque types in tls.h. */
#include "tls.h"
#include "netopt.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct tls_ctx {
	SSL_CTX *ssl;
	char     fingerprint[TLS_FP_LEN];
};

struct tls_stream {
	int      fd;
	SSL_CTX *ctx;
	SSL     *ssl;
	char     fingerprint[TLS_FP_LEN];
	char     peer[64];
};

static void
ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", buf);
}

static void
fingerprint_x509(X509 *x, char out[TLS_FP_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *p = out;

	X509_digest(x, EVP_sha256(), md, &n);
	p += sprintf(p, "SHA256:");
	for (unsigned int i = 0; i < n; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", md[i]);
}

static int
write_pem_atomic(const char *path, int mode, int (*writer)(FILE *, void *), void *obj,
    char *err, size_t errlen)
{
	char tmp[4200];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!writer(f, obj) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		ssl_err(err, errlen, "writing PEM");
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
write_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int
write_cert(FILE *f, void *x)
{
	return PEM_write_X509(f, x);
}

int
tls_ensure_selfsigned(const char *cert_path, const char *key_path, const char *cn, char *err,
    size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[300];
	int rc = -1;

	if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
		return 0;
	key = EVP_EC_gen("P-256");
	x = X509_new();
	if (key == NULL || x == NULL) {
		ssl_err(err, errlen, "generating key");
		goto out;
	}
	X509_set_version(x, 2);
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"netcfax", -1,
	    -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", cn);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san)) != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256())) {
		ssl_err(err, errlen, "signing certificate");
		goto out;
	}
	/* Key first: a certificate without its key would be useless after a crash. Then the
	 * directory, or a power cut could lose both and change the server's identity. Both are
	 * the server's alone, whatever the umask: the certificate is no secret, but nobody else
	 * has a use for the file, and the state directory is closed as a whole. */
	if (write_pem_atomic(key_path, 0600, write_key, key, err, errlen) < 0 ||
	    write_pem_atomic(cert_path, 0600, write_cert, x, err, errlen) < 0)
		goto out;
	{
		char dir[4200], *slash;
		int dfd;
		snprintf(dir, sizeof(dir), "%s", cert_path);
		if ((slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			if ((dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
				fsync(dfd);
				close(dfd);
			}
		}
	}
	rc = 1;
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
tls_cert_file_fingerprint(const char *cert_path, char out[TLS_FP_LEN], char *err, size_t errlen)
{
	FILE *f = fopen(cert_path, "r");
	X509 *x;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", cert_path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ssl_err(err, errlen, "reading certificate");
		return -1;
	}
	fingerprint_x509(x, out);
	X509_free(x);
	return 0;
}

struct tls_ctx *
tls_server_ctx_new(const char *cert_path, const char *key_path, int min_version, char *err,
    size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof(*c));
	X509 *x;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->ssl = SSL_CTX_new(TLS_server_method());
	if (c->ssl == NULL) {
		ssl_err(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(c->ssl, min_version == TLS_MIN_13 ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	/* Renegotiation and compression only widen the attack surface of a long-lived session. */
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
	/* netcfax clients never resume a TLS session (a connection lives as long as the login),
	 * so neither a server-side cache nor tickets: each would cost memory per connection. */
	SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(c->ssl, 0);
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert_path) != 1) {
		ssl_err(err, errlen, cert_path);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key_path, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, key_path);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		ssl_err(err, errlen, "certificate and key do not match");
		goto fail;
	}
	x = SSL_CTX_get0_certificate(c->ssl);
	fingerprint_x509(x, c->fingerprint);
	return c;
fail:
	tls_ctx_free(c);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

const char *
tls_ctx_fingerprint(const struct tls_ctx *c)
{
	return c->fingerprint;
}

struct bufferevent *
tls_bev_accept(struct event_base *base, int fd, struct tls_ctx *ctx)
{
	SSL *ssl = SSL_new(ctx->ssl);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	netopt_nodelay(fd);
	/* BEV_OPT_CLOSE_ON_FREE makes the bufferevent free the SSL and close fd. */
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

struct tls_ctx *
tls_client_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->ssl = SSL_CTX_new(TLS_client_method());
	if (c->ssl == NULL) {
		ssl_err(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	if (ca_file && *ca_file) {
		if (SSL_CTX_load_verify_locations(c->ssl, ca_file, NULL) != 1) {
			ssl_err(err, errlen, ca_file);
			goto fail;
		}
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	return c;
fail:
	tls_ctx_free(c);
	return NULL;
}

static void
set_verify_name(SSL *ssl, const char *name)
{
	unsigned char ip[16];

	if (name == NULL || *name == '\0')
		return;
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
	else
		SSL_set1_host(ssl, name);
}

struct bufferevent *
tls_bev_connect(struct event_base *base, int fd, struct tls_ctx *ctx, const char *verify_name)
{
	SSL *ssl = SSL_new(ctx->ssl);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	netopt_nodelay(fd);
	set_verify_name(ssl, verify_name);
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

void
tls_bev_close_notify(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	/* Written straight to the non-blocking socket: a few bytes, after what the
	 * bufferevent already flushed. The descriptor is closed right after, unread. */
	if (ssl != NULL && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

void
tls_bev_peer_fingerprint(struct bufferevent *bev, char out[TLS_FP_LEN])
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *x = ssl ? SSL_get1_peer_certificate(ssl) : NULL;

	out[0] = '\0';
	if (x) {
		fingerprint_x509(x, out);
		X509_free(x);
	}
}

int
tls_bev_exporter(struct bufferevent *bev, const char *label, unsigned char *out, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL)
		return -1;
	return SSL_export_keying_material(ssl, out, len, label, strlen(label), NULL, 0, 0) == 1 ?
	    0 : -1;
}

void
tls_bev_error(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long e;
	size_t off = 0;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(bev)) != 0 && off + 2 < len) {
		const char *r = ERR_reason_error_string(e);
		int n = snprintf(buf + off, len - off, "%s%s", off ? "; " : "",
		    r ? r : "TLS error");
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (buf[0] == '\0') {
		int se = EVUTIL_SOCKET_ERROR();
		snprintf(buf, len, "%s", se ? strerror(se) : "connection closed by peer");
	}
}

/* Client side: a blocking stream with socket timeouts, enough for a command-line client. */

static int
connect_timeout(const char *host, int port, int timeout_ms, char *peer, size_t peerlen,
    char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, gai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((gai = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	snprintf(err, errlen, "cannot connect to %s port %d", host, port);
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			soerr = errno;
		} else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			int pr = poll(&pfd, 1, timeout_ms);
			if (pr == 0)
				soerr = ETIMEDOUT;
			else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
				soerr = errno;
		}
		if (soerr == 0) {
			char a[INET6_ADDRSTRLEN] = "?";
			void *sa = ai->ai_family == AF_INET6 ?
			    (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
			    (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
			inet_ntop(ai->ai_family, sa, a, sizeof(a));
			snprintf(peer, peerlen, "%s", a);
			break;
		}
		snprintf(err, errlen, "cannot connect to %s port %d: %s", host, port,
		    strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		netopt_nodelay(fd);
		netopt_keepalive(fd);
	}
	return fd;
}

struct tls_stream *
tls_stream_connect(const char *host, int port, const char *ca_file, int timeout_ms, int *fail,
    char *err, size_t errlen)
{
	struct tls_stream *s = calloc(1, sizeof(*s));
	X509 *peer;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*fail = TLS_FAIL_CONNECT;
	s->fd = connect_timeout(host, port, timeout_ms, s->peer, sizeof(s->peer), err, errlen);
	if (s->fd < 0)
		goto fail;
	*fail = TLS_FAIL_HANDSHAKE;
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL) {
		ssl_err(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	if (ca_file && *ca_file) {
		if (SSL_CTX_load_verify_locations(s->ctx, ca_file, NULL) != 1) {
			ssl_err(err, errlen, ca_file);
			goto fail;
		}
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		/* Pinning mode: the caller checks the fingerprint before any secret is sent. */
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
	}
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL) {
		ssl_err(err, errlen, "SSL_new");
		goto fail;
	}
	SSL_set_fd(s->ssl, s->fd);
	{
		unsigned char ip[16];
		/* SNI carries names only (RFC 6066); an address is checked against IP SANs. */
		if (inet_pton(AF_INET, host, ip) != 1 && inet_pton(AF_INET6, host, ip) != 1)
			SSL_set_tlsext_host_name(s->ssl, host);
		if (ca_file && *ca_file)
			set_verify_name(s->ssl, host);
	}
	if (SSL_connect(s->ssl) != 1) {
		long vr = SSL_get_verify_result(s->ssl);
		if (vr != X509_V_OK) {
			*fail = TLS_FAIL_VERIFY;
			snprintf(err, errlen, "the certificate of %s cannot be verified: %s", host,
			    X509_verify_cert_error_string(vr));
		} else
			ssl_err(err, errlen, "TLS handshake failed");
		goto fail;
	}
	peer = SSL_get1_peer_certificate(s->ssl);
	if (peer == NULL) {
		snprintf(err, errlen, "server sent no certificate");
		goto fail;
	}
	fingerprint_x509(peer, s->fingerprint);
	X509_free(peer);
	return s;
fail:
	tls_stream_free(s);
	return NULL;
}

const char *
tls_stream_fingerprint(const struct tls_stream *s)
{
	return s->fingerprint;
}

const char *
tls_stream_peer_addr(const struct tls_stream *s)
{
	return s->peer;
}

void
tls_stream_set_read_timeout(struct tls_stream *s, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int
tls_stream_local_port(const struct tls_stream *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
}

int
tls_stream_write(struct tls_stream *s, const void *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = buf;

	while (len > 0) {
		int n = SSL_write(s->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n <= 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				snprintf(err, errlen, "timed out sending to the server");
			else
				ssl_err(err, errlen, "sending to the server failed");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long
tls_stream_read(struct tls_stream *s, void *buf, size_t len, char *err, size_t errlen)
{
	int n = SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

	if (n > 0)
		return n;
	switch (SSL_get_error(s->ssl, n)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			snprintf(err, errlen, "timed out waiting for the server");
			ERR_clear_error();
			return -1;
		}
		if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
			ERR_clear_error();
			return 0;
		}
		snprintf(err, errlen, "reading from the server failed: %s", strerror(errno));
		ERR_clear_error();
		return -1;
	default:
		ssl_err(err, errlen, "reading from the server failed");
		return -1;
	}
}

void
tls_stream_free(struct tls_stream *s)
{
	if (s == NULL)
		return;
	if (s->ssl) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

struct bufferevent *
tls_stream_to_bev(struct tls_stream *s, struct event_base *base)
{
	struct bufferevent *bev;

	/* libevent drives a non-blocking socket; the blocking timeouts no longer apply. */
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	bev = bufferevent_openssl_socket_new(base, s->fd, s->ssl, BUFFEREVENT_SSL_OPEN,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		tls_stream_free(s);
		return NULL;
	}
	/* The bufferevent owns the socket and the SSL now; the context is reference-counted. */
	s->ssl = NULL;
	s->fd = -1;
	tls_stream_free(s);
	return bev;
}

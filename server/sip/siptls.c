/* siptls.c: TLS to the provider: the certificate directory sofia-sip reads, the checks of the
 * files it is built from, and why a handshake fails, in words.
 *
 * sofia-sip takes one directory (TPTAG_CERTIFICATE) and reads fixed names in it: cafile.pem,
 * the CAs a peer's certificate must be signed by, and agent.pem, our certificate and key in
 * one file. The trunk file names the operator's own files instead; they are copied into a
 * private directory at start. When sofia-sip refuses a provider it only closes the
 * connection, and the REGISTER fails as a transport error; siptls_explain then shakes hands
 * once more with OpenSSL, the same way, to tell the operator what is wrong. */
#include "siptls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define COPY_MAX     (8 * 1024 * 1024)   /* a CA bundle is a few hundred kB */
#define EXPLAIN_WAIT_MS 3000             /* connect, then the handshake, each at most this */

/* An OpenSSL context with ca loaded (and cert and key when given): NULL with the reason. */
static SSL_CTX *
context(const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ERR_clear_error();
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "tls_ca %s: %s", ca, access(ca, R_OK) != 0 ? strerror(errno) :
		    "holds no PEM certificate (the CAs that sign the provider's certificate)");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cert && *cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			snprintf(err, errlen, "tls_cert %s: %s", cert, access(cert, R_OK) != 0 ?
			    strerror(errno) : "not a PEM certificate");
			SSL_CTX_free(ctx);
			return NULL;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(err, errlen, "tls_key %s: %s", key, access(key, R_OK) != 0 ?
			    strerror(errno) : "not the PEM private key (unencrypted) of tls_cert");
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	ERR_clear_error();
	return ctx;
}

int
siptls_check_files(const char *ca, const char *cert, const char *key, char *err,
                   size_t errlen)
{
	struct stat st;
	SSL_CTX *ctx;

	/* a key others can read is no secret: refused, as the password file is */
	if (cert && *cert && stat(key, &st) == 0 && (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "tls_key %s: must be readable by its owner only (chmod 600)",
		         key);
		return -1;
	}
	if ((ctx = context(ca, cert, key, err, errlen)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* Appends the file at path to fd: 0, or -1 with the reason. */
static int
append(int fd, const char *what, const char *path, char *err, size_t errlen)
{
	char buf[16384];
	ssize_t n;
	size_t total = 0;
	int in = open(path, O_RDONLY | O_CLOEXEC);

	if (in < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (total > COPY_MAX || write(fd, buf, (size_t)n) != n) {
			snprintf(err, errlen, "%s %s: %s", what, path, total > COPY_MAX ?
			         "larger than 8 MB" : strerror(errno));
			close(in);
			return -1;
		}
	}
	/* a PEM file need not end in a newline; the next one must start on its own line */
	if (n == 0 && write(fd, "\n", 1) != 1)
		n = -1;
	if (n < 0)
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
	close(in);
	return n < 0 ? -1 : 0;
}

/* dir/name, written whole from one or two files, or not at all. */
static int
build(const char *dir, const char *name, const char *what1, const char *f1, const char *what2,
      const char *f2, char *err, size_t errlen)
{
	char path[1100], tmp[1110];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	rc = append(fd, what1, f1, err, errlen);
	if (rc == 0 && f2)
		rc = append(fd, what2, f2, err, errlen);
	if (close(fd) != 0 && rc == 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		(void)unlink(tmp);
	return rc;
}

int
siptls_prepare(const char *dir, const char *ca, const char *cert, const char *key, char *err,
               size_t errlen)
{
	struct stat st;
	char path[1100];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* our own directory, not a link someone put there */
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    chmod(dir, 0700) != 0) {
		snprintf(err, errlen, "%s: not a directory of this user's", dir);
		return -1;
	}
	if (build(dir, "cafile.pem", "tls_ca", ca, NULL, NULL, err, errlen) != 0)
		return -1;
	if (cert && *cert)
		return build(dir, "agent.pem", "tls_cert", cert, "tls_key", key, err, errlen);
	snprintf(path, sizeof(path), "%s/agent.pem", dir);
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A TCP connection to host:port within EXPLAIN_WAIT_MS, or -1 with the reason. */
static int
dial(const char *host, const char *port, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { EXPLAIN_WAIT_MS / 1000, 0 };
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "the registrar's host %s: %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		e = errno;
		if (e == EINPROGRESS) {
			p.fd = fd;
			p.events = POLLOUT;
			e = poll(&p, 1, EXPLAIN_WAIT_MS) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 ? e : ETIMEDOUT;
		}
	}
	freeaddrinfo(res);
	if (fd < 0 || e != 0) {
		snprintf(why, whylen, "cannot connect to %s port %s over TCP (%s): is it the "
		         "provider's TLS port?", host, port, strerror(fd < 0 ? errno : e));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* the handshake below is blocking, with a limit on each wait */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The name the certificate is made out to: its first DNS or IP subjectAltName, else its CN. */
static void
cert_name(X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i;

	snprintf(out, outlen, "?");
	for (i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS) {
			snprintf(out, outlen, "%.*s", ASN1_STRING_length(g->d.dNSName) > 200 ? 200 :
			         ASN1_STRING_length(g->d.dNSName),
			         (const char *)ASN1_STRING_get0_data(g->d.dNSName));
			break;
		}
		if (g->type == GEN_IPADD && (ASN1_STRING_length(g->d.iPAddress) == 4 ||
		    ASN1_STRING_length(g->d.iPAddress) == 16)) {
			(void)inet_ntop(ASN1_STRING_length(g->d.iPAddress) == 4 ? AF_INET :
			                AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), out,
			                (socklen_t)outlen);
			break;
		}
	}
	if (sans)
		GENERAL_NAMES_free(sans);
	else
		(void)X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out,
		                                (int)outlen);
	/* the name is the peer's to choose: print it tame */
	for (char *p = out; *p; p++)
		if (*p < ' ' || *p >= 127)
			*p = '?';
}

/* Notes a CertificateRequest from the server: it wants a certificate of ours. */
static void
on_message(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
           void *arg)
{
	(void)version;
	(void)ssl;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_CERTIFICATE_REQUEST)
		*(int *)arg = 1;
}

/* After a handshake in which the server asked for our certificate: under TLS 1.3 it says
 * whether it takes ours (or our lack of one) only afterwards, with an alert. -1 with the
 * reason when it refuses, 0 when nothing comes within a second. */
static int
client_cert_refused(SSL *ssl, int fd, const char *cert, char *why, size_t whylen)
{
	struct timeval tv = { 1, 0 };
	char c;
	int n, e;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ERR_clear_error();
	errno = 0;
	if ((n = SSL_peek(ssl, &c, 1)) > 0)
		return 0;
	/* the wait ran out: a blocking socket's timeout reads as "try again" */
	e = SSL_get_error(ssl, n);
	if (e == SSL_ERROR_WANT_READ || (e == SSL_ERROR_SYSCALL && (errno == EAGAIN ||
	    errno == EWOULDBLOCK)))
		return 0;
	if (cert && *cert)
		snprintf(why, whylen, "the provider refused our certificate (tls_cert %s): ask "
		         "it which CA it takes", cert);
	else
		snprintf(why, whylen, "the provider asks for a client certificate (mutual TLS): "
		         "set tls_cert and tls_key");
	return -1;
}

int
siptls_explain(const char *host, const char *port, const char *ca, int verify,
               const char *cert, const char *key, char *why, size_t whylen)
{
	unsigned char ip[16];
	char name[256];
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	X509 *peer = NULL;
	long v;
	int fd, rc = -1, isip, asked = 0;

	if ((ctx = context(ca, cert, key, why, whylen)) == NULL)
		return -1;
	if ((fd = dial(host, port, why, whylen)) < 0) {
		SSL_CTX_free(ctx);
		return -1;
	}
	isip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	/* the result is read after the handshake, so that it says which check failed */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_msg_callback(ssl, on_message);
	SSL_set_msg_callback_arg(ssl, &asked);
	if (isip)
		(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	else
		(void)SSL_set1_host(ssl, host);
	ERR_clear_error();
	if (SSL_connect(ssl) != 1) {
		unsigned long e = ERR_peek_last_error();
		int r = ERR_GET_REASON(e);

		if (asked)
			(void)client_cert_refused(ssl, fd, cert, why, whylen);
		else if (r == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)
			snprintf(why, whylen, "TLS handshake refused by %s:%s (%s)", host, port,
			         ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?");
		else
			snprintf(why, whylen, "no TLS handshake with %s:%s (%s): is it the "
			         "provider's TLS port?", host, port, e && ERR_reason_error_string(e) ?
			         ERR_reason_error_string(e) : "the connection closed");
		goto out;
	}
	if (asked && client_cert_refused(ssl, fd, cert, why, whylen) != 0)
		goto out;
	if (!verify) {
		rc = 0;
		goto out;
	}
	peer = SSL_get1_peer_certificate(ssl);
	if (peer == NULL) {
		snprintf(why, whylen, "the provider at %s:%s shows no certificate", host, port);
		goto out;
	}
	cert_name(peer, name, sizeof(name));
	switch ((v = SSL_get_verify_result(ssl))) {
	case X509_V_OK:
		rc = 0;
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		snprintf(why, whylen, "the provider's certificate is not signed by a CA in tls_ca "
		         "(%s): add the provider's CA to it", ca);
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(why, whylen, "the provider's certificate is made out to %s, not to %s: "
		         "give registrar the name on the certificate", name, host);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(why, whylen, "the provider's certificate (%s) %s: check this host's "
		         "clock, or ask the provider", name, v == X509_V_ERR_CERT_HAS_EXPIRED ?
		         "has expired" : "is not valid yet");
		break;
	default:
		snprintf(why, whylen, "the provider's certificate (%s) is refused: %s", name,
		         X509_verify_cert_error_string(v));
		break;
	}
out:
	X509_free(peer);
	if (ssl)
		SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

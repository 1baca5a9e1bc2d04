/* siptls.h: TLS to the provider: the files sofia-sip reads, and a failed handshake in words. */
#ifndef NETCFAX_SIPTLS_H
#define NETCFAX_SIPTLS_H

#include <stddef.h>

#define SIPTLS_PORT "5061"     /* the SIP over TLS port, when the registrar names none */

/* Checks that the CA file holds certificates and, when cert is given, that cert and key are
 * a readable PEM pair whose key only its owner can read (as netcfaxd -n does). 0, or -1 with
 * the file and what to do. */
int siptls_check_files(const char *ca, const char *cert, const char *key, char *err,
                       size_t errlen);

/* Makes dir (0700, emptied of what an earlier start left) the certificate directory sofia-sip
 * reads: cafile.pem, a copy of ca; agent.pem, cert and key together, when cert is given.
 * 0, or -1 with the reason. */
int siptls_prepare(const char *dir, const char *ca, const char *cert, const char *key,
                   char *err, size_t errlen);

/* Connects to host:port and shakes hands as the user agent does (ca, the host name check
 * when verify, the client certificate when cert), waiting a few seconds at most, to say why
 * it fails: -1 with the reason and what to do in why, or 0 when the handshake works now. */
int siptls_explain(const char *host, const char *port, const char *ca, int verify,
                   const char *cert, const char *key, char *why, size_t whylen);

#endif

/* sipua.h: the SIP user agent (sofia-sip on a thread of its own) as the libevent loop sees it. */
#ifndef NETCFAX_SIPUA_H
#define NETCFAX_SIPUA_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sipua;

#define SIPUA_ERR_MAX     240
#define SIPUA_REASON_MAX  320
#define SIPUA_CONTACT_MAX 256
#define SIPUA_PASSWORD_MAX 128

/* What the trunk is and how to reach it. Strings are copied by sipua_new. */
struct sipua_options {
	const char *registrar;     /* host[:port] of the provider's registrar */
	const char *user;          /* the account: From/To user and digest user name */
	const char *domain;        /* the account's domain (From/To host); NULL = registrar's host */
	const char *password_file; /* the digest password, first line; must not be readable by
	                            * group or others */
	const char *transport;     /* "udp", "tcp" or "tls" */
	const char *bind_addr;     /* local address to listen and send from */
	uint16_t    bind_port;     /* 0 = any */
	unsigned    expires;       /* seconds asked for in REGISTER; 0 = 3600 */
	unsigned    keepalive;     /* seconds between keepalives; 0 = sofia-sip's default */
	unsigned    t1_ms;         /* SIP timer T1; 0 = 500 (RFC 3261); a request goes
	                            * unanswered after 64 * T1 */
	const char *caller_id;     /* the user part of From on calls we place (the number the
	                            * called party sees); NULL or "" = user */
	const char *peers;         /* the addresses INVITEs are taken from, comma-separated
	                            * (names resolved at start); NULL or "" = the registrar's
	                            * host. Any other source gets 403. */
	/* transport "tls" only: */
	const char *tls_ca;        /* PEM file of the CAs the provider's certificate must be
	                            * signed by */
	int         tls_verify;    /* 1: refuse a provider whose certificate is not signed by
	                            * them or not made out to the registrar's host */
	const char *tls_cert;      /* our certificate (PEM) when the provider wants one; NULL or
	                            * "" = none */
	const char *tls_key;       /* its private key (PEM) */
	const char *tls_dir;       /* a private directory (made 0700) for sofia-sip's copy of
	                            * these files */
	int         reinvites;     /* 1: a re-INVITE on a call is reported (CALL_REINVITE) and
	                            * answered by sipua_answer; 0: it is refused with 488, which
	                            * keeps the call as it is */
};

#define SIPUA_NUMBER_MAX  64
#define SIPUA_SDP_MAX     2048       /* a longer SDP is refused (488), never cut */

enum sipua_event_kind {
	SIPUA_REGISTERED = 1,      /* the registrar took (or refreshed) our contact */
	SIPUA_REG_FAILED,          /* REGISTER failed; another try in retry_in seconds */
	SIPUA_CALL_PROGRESS,       /* our INVITE rings: 180, or 183 with early media (sdp) */
	SIPUA_CALL_ANSWERED,       /* 200 to our INVITE (ACK sent), sdp the answer; or our 2xx to
	                            * an incoming call was ACKed */
	SIPUA_CALL_FAILED,         /* our INVITE ended with a final failure (status), 487 when we
	                            * cancelled it */
	SIPUA_CALL_ENDED,          /* a call ended: BYE either way, the caller cancelled, or an
	                            * incoming call we refused is over (reason says which); every
	                            * call gets exactly one CALL_FAILED or CALL_ENDED */
	SIPUA_CALL_INCOMING,       /* an INVITE for number `to`; answer with sipua_answer */
	SIPUA_STRANGER,            /* an INVITE from outside the trunk's peers was refused with
	                            * 403 (from: its address); told for the first and every
	                            * 100th */
	SIPUA_CALL_REINVITE,       /* (reinvites on) a re-INVITE on an established call, sdp its
	                            * offer ("" when it has none: ours goes in the 200); answer
	                            * it with sipua_answer */
	SIPUA_CALL_REINVITED,      /* the final answer to our re-INVITE (sipua_reinvite): status,
	                            * and for a 2xx (ACKed) sdp the far end's answer */
};

struct sipua_event {
	int      kind;
	int      status;                     /* the SIP status, 0 when none */
	char     reason[SIPUA_REASON_MAX];   /* the status and what it means, in words */
	unsigned expires;                    /* REGISTERED: seconds granted */
	unsigned retry_in;                   /* REG_FAILED: seconds to the next try */
	char     contact[SIPUA_CONTACT_MAX]; /* REGISTERED: the contact the registrar holds */
	unsigned call;                       /* CALL_*: the call's id */
	char     from[SIPUA_NUMBER_MAX];     /* CALL_INCOMING: the caller's user part */
	char     to[SIPUA_NUMBER_MAX];       /* CALL_INCOMING: the number called */
	char     sdp[SIPUA_SDP_MAX];         /* the far end's SDP, "" when none */
};

/* Called on the loop's thread, never on the SIP thread. */
typedef void (*sipua_event_fn)(const struct sipua_event *ev, void *arg);

/* Reads the password file (the first line, at most SIPUA_PASSWORD_MAX - 1 bytes): 0, or -1
 * with the reason when it is missing, empty, too long or open to group or others. */
int sipua_read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* Starts the SIP thread, which binds the transport and sends the first REGISTER. NULL with the
 * reason in err on bad options, an unreadable password or a transport that cannot bind. */
struct sipua *sipua_new(struct event_base *base, const struct sipua_options *o,
                        sipua_event_fn cb, void *arg, char *err, size_t errlen);

/* Begins stopping without waiting: un-REGISTERs, then closes sofia-sip's transactions, on
 * the SIP thread, a few seconds at most. So several trunks stop at once, each its own time
 * rather than one after the other. Calls no callback; accepts NULL; once is enough. */
void sipua_stop(struct sipua *ua);

/* Stops (sipua_stop, if not yet done), waits for the SIP thread's end and frees. No callback
 * runs after it returns. The un-REGISTER's final status (200 when the registrar let the
 * contact go), or 0 when none came in time or none was sent. Accepts NULL. */
int sipua_free(struct sipua *ua);

/* Places a call to number (digits, '+', '*', '#') through the registrar with sdp as the
 * offer; *call gets its id, which later events carry. 0, or -1 with the reason. */
int sipua_call(struct sipua *ua, const char *number, const char *sdp, unsigned *call,
               char *err, size_t errlen);

/* The Contact our REGISTERs, INVITEs and answers give: host (numeric) and port, the router's
 * external address and the port it forwards to ours; NULL or "" for sofia-sip's own (the
 * address the registrar saw, by rport). A registered contact that changes is un-REGISTERed
 * and the new one REGISTERed. 0, or -1 with the reason. */
int sipua_set_contact(struct sipua *ua, const char *host, uint16_t port, char *err,
                      size_t errlen);

/* Ends a call: CANCEL while ours rings, BYE once answered, a 480 to an incoming call not yet
 * answered. Unknown or ended calls are ignored. */
void sipua_hangup(struct sipua *ua, unsigned call);

/* Answers an incoming call with status (e.g. 404, 486; 200 needs sdp, the answer), or the
 * re-INVITE a CALL_REINVITE reported (200 with our SDP, 488 to stay as we are). */
int sipua_answer(struct sipua *ua, unsigned call, int status, const char *sdp, char *err,
                 size_t errlen);

/* Sends a re-INVITE on an established call with sdp as the offer; one at a time, and not
 * while the far end's is being answered. The outcome comes as CALL_REINVITED. 0, or -1
 * with the reason. */
int sipua_reinvite(struct sipua *ua, unsigned call, const char *sdp, char *err,
                   size_t errlen);

const char *sipua_event_name(int kind);

#endif

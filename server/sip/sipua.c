/* sipua.c: the SIP user agent, the one file that talks to sofia-sip. Sofia runs its own loop
 * (su_root) on a thread of its own; it never touches libevent. Events for the loop are queued
 * and announced by a byte on a pipe the loop watches; commands from the loop are a flag and a
 * byte on a second pipe the su_root watches (the same pattern as nat/service.c).
 *
 * What it does so far: REGISTER to one registrar with refresh (sofia-sip refreshes before the
 * granted expiry), digest authentication on 401 and 407, keepalives that hold a NAT binding,
 * rport (RFC 3581) on UDP, TCP and TLS (the provider's certificate checked, a refusal said in
 * words by siptls.c), and on a failure another try at 2, 4, 8 ... RETRY_MAX_S
 * seconds. Calls both ways with the SDP carried, not read: an INVITE out with the offer we are
 * given (18x, 200 with ACK, final failures, CANCEL or BYE on request), an INVITE in reported to
 * the loop and answered with the status (and SDP) it says, BYE either way; re-INVITEs both
 * ways, the far end's reported and answered as the loop says (T.38, session refreshes), ours
 * sent with the offer given. A contact of our own (the router's mapped SIP port) replaces
 * sofia-sip's in REGISTER, INVITE and 2xx. */
#include "sipua.h"
#include "siptls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

/* sofia-sip's callbacks carry typed "magic" pointers: ours is the user agent itself. */
#define SU_ROOT_MAGIC_T   struct sipua
#define SU_WAKEUP_ARG_T   struct sipua
#define SU_TIMER_ARG_T    struct sipua
#define NUA_MAGIC_T       struct sipua
#define NUA_HMAGIC_T      struct sipcall

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

/* sofia-sip's transport log (exported, not in its headers) */
extern su_log_t tport_log[];

#define RETRY_FIRST_S     2      /* after a failed REGISTER, try again this much later,
                                  * doubling... */
#define RETRY_MAX_S       120    /* ...up to this */
#define AUTH_TRIES_MAX    2      /* answers to challenges before the credentials are called
                                  * wrong (a second one covers a stale nonce) */
#define UNREGISTER_WAIT_MS 3000  /* sipua_free waits this long for the un-REGISTER's answer... */
#define SHUTDOWN_WAIT_MS  3000   /* ...and this long for sofia-sip to close its transactions */
#define URL_MAX           320
#define PEERS_MAX         16     /* addresses INVITEs are taken from */
#define TLS_DEPTH_MAX     9      /* CAs between the provider's certificate and a trusted
                                  * one (sofia-sip's own limit is 2) */

static int same_host(const struct sockaddr *a, const struct sockaddr *b);

struct queued {
	struct sipua_event ev;
	struct queued     *next;
};

/* What the loop asks of the SIP thread. */
enum { CMD_CALL = 1, CMD_HANGUP, CMD_ANSWER, CMD_CONTACT, CMD_REINVITE };

struct command {
	int             kind;
	unsigned        call;
	int             status;
	char            number[SIPUA_NUMBER_MAX];   /* CMD_CONTACT: the host, "" = none */
	char           *sdp;        /* owned; NULL when none */
	struct command *next;
};

/* A call (SIP thread only); its nua handle's magic points back here. */
struct sipcall {
	unsigned        id;
	nua_handle_t   *nh;
	int             incoming;
	int             answered;   /* 2xx sent or received */
	int             ended;      /* CALL_FAILED or CALL_ENDED posted */
	int             auth_tries;
	int             reinvited;  /* the far end's re-INVITE waits for our answer */
	int             reinviting; /* our re-INVITE waits for its final answer */
	struct sipcall *next;
};

struct sipua {
	/* fixed at creation */
	char              registrar_url[URL_MAX];
	char              bind_url[URL_MAX];
	char              aor[URL_MAX];
	char              from_call[URL_MAX];   /* From of calls we place */
	char              user[128];
	char              password[SIPUA_PASSWORD_MAX];
	char              transport[8];
	int               tls;          /* transport tls: the fields below are set */
	int               tls_verify;
	char              tls_fault[SIPUA_REASON_MAX];  /* why the last handshake failed, ""
	                                                 * when it worked (SIP thread) */
	char              tls_dir[URL_MAX];
	char              tls_ca[URL_MAX * 4];
	char              tls_cert[URL_MAX * 4];
	char              tls_key[URL_MAX * 4];
	char              reg_host[128];  /* the registrar's host and port, for siptls_explain */
	char              reg_port[8];
	char              expires[16];
	unsigned          keepalive_ms;
	unsigned          t1_ms;
	int               reinvites;
	sipua_event_fn    cb;
	void             *arg;

	/* shared between the threads, under lock */
	pthread_mutex_t   lock;
	pthread_cond_t    ready_cond;
	int               ready;        /* 1 up, -1 failed to start */
	char              start_err[SIPUA_ERR_MAX];
	int               stopping;
	struct queued    *head, *tail;
	struct command   *cmd_head, *cmd_tail;
	unsigned          next_call;

	int               evpipe[2];    /* SIP thread -> loop */
	int               cmdpipe[2];   /* loop -> SIP thread */
	struct event     *ev;
	pthread_t         thread;
	int               started;

	/* SIP thread only */
	su_home_t         home[1];
	su_root_t        *root;
	nua_t            *nua;
	nua_handle_t     *nh;
	su_timer_t       *retry_timer;
	su_timer_t       *stop_timer;
	unsigned          retry_s;
	int               auth_tries;
	int               registered;   /* the registrar holds our contact */
	int               phase;        /* 0 running, 1 un-registering, 2 shutting down */
	int               unreg_status; /* the un-REGISTER's final answer when stopping, 0 when
	                                 * none came (or none was sent) */
	int               stop_sent;    /* sipua_stop told the thread */
	int               shutdown_done;
	struct sipcall   *calls;
	char              domain[128];
	/* the Contact we give (a port mapped on the router), "" = sofia-sip's own (rport) */
	char              contact[URL_MAX];
	char              reg_contact[URL_MAX]; /* the one the current REGISTER handle gives */
	int               reg_pending;  /* a first REGISTER is on its way (challenges included) */
	int               recontact;    /* un-REGISTERing to REGISTER another contact */
	/* where INVITEs may come from: the trunk's own peers, so that no one else can have the
	 * server answer (or, later, place) calls; fixed at creation */
	struct sockaddr_storage peers[PEERS_MAX];
	int               npeers;
	unsigned long     strangers;    /* INVITEs refused for their source (SIP thread) */
};

const char *
sipua_event_name(int kind)
{
	switch (kind) {
	case SIPUA_REGISTERED:   return "registered";
	case SIPUA_REG_FAILED:   return "failed";
	case SIPUA_CALL_PROGRESS: return "call-progress";
	case SIPUA_CALL_ANSWERED: return "call-answered";
	case SIPUA_CALL_FAILED:  return "call-failed";
	case SIPUA_CALL_ENDED:   return "call-ended";
	case SIPUA_CALL_INCOMING: return "call-incoming";
	case SIPUA_STRANGER:     return "stranger";
	case SIPUA_CALL_REINVITE: return "call-reinvite";
	case SIPUA_CALL_REINVITED: return "call-reinvited";
	}
	return "?";
}

int
sipua_read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	char buf[SIPUA_PASSWORD_MAX + 2];
	size_t n;
	int fd;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "no password file given");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* A password others can read is no secret: refuse it, as ssh does a private key. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: must be a regular file readable by its owner only "
		         "(chmod 600)", path);
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (n >= outlen || n >= SIPUA_PASSWORD_MAX || (buf[n] == '\0' && n == sizeof(buf) - 1)) {
		snprintf(err, errlen, "%s: password longer than %d bytes", path,
		         SIPUA_PASSWORD_MAX - 1);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: empty password", path);
		return -1;
	}
	/* sofia-sip takes credentials as one string, scheme:"realm":user:password, cut at the
	 * next colon: a password with one would be sent cut short, so say so instead */
	if (memchr(buf, ':', n) != NULL || strcspn(buf, " \t") < n) {
		snprintf(err, errlen, "%s: a SIP password cannot hold ':' or blanks", path);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(out, buf, n);
	out[n] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ---- the bridge: SIP thread -> loop ---- */

static void
post(struct sipua *ua, const struct sipua_event *ev)
{
	struct queued *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return;
	q->ev = *ev;
	pthread_mutex_lock(&ua->lock);
	if (ua->tail)
		ua->tail->next = q;
	else
		ua->head = q;
	ua->tail = q;
	pthread_mutex_unlock(&ua->lock);
	(void)!write(ua->evpipe[1], "x", 1);
}

static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct sipua *ua = arg;
	struct queued *q, *next;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&ua->lock);
	q = ua->head;
	ua->head = ua->tail = NULL;
	pthread_mutex_unlock(&ua->lock);
	for (; q; q = next) {
		next = q->next;
		ua->cb(&q->ev, ua->arg);
		free(q);
	}
}

/* ---- the SIP thread ---- */


static void register_failed(struct sipua *ua, int status, const char *phrase,
                            const char *meaning);

/* TLS: 0 when a handshake with the registrar works now, else -1 with ua->tls_fault set.
 * sofia-sip closes a connection whose certificate it refuses without failing the requests
 * queued on it, which then go unanswered until they time out (64 * T1): a handshake of our
 * own first says why at once. It holds this thread a few seconds at most, and runs only
 * before a first REGISTER or a retry, not before each refresh. */
static int
tls_ready(struct sipua *ua)
{
	if (siptls_explain(ua->reg_host, ua->reg_port, ua->tls_ca, ua->tls_verify, ua->tls_cert,
	                   ua->tls_key, ua->tls_fault, sizeof(ua->tls_fault)) == 0) {
		ua->tls_fault[0] = '\0';
		return 0;
	}
	return -1;
}

static void
start_register(struct sipua *ua)
{
	ua->auth_tries = 0;
	if (ua->tls && tls_ready(ua) != 0) {
		register_failed(ua, 503, "Service Unavailable", ua->tls_fault);
		return;
	}
	/* a fresh handle for each first REGISTER: one left waiting for an answer to a challenge
	 * would hold any new request behind it */
	if (ua->nh == NULL &&
	    (ua->nh = nua_handle(ua->nua, NULL, SIPTAG_TO_STR(ua->aor), SIPTAG_FROM_STR(ua->aor),
	                         TAG_END())) == NULL)
		return;
	snprintf(ua->reg_contact, sizeof(ua->reg_contact), "%s", ua->contact);
	ua->reg_pending = 1;
	/* A contact of our own (the router's mapped address) is registered as it is: sofia-sip
	 * neither replaces it with the address the registrar saw (natify) nor adds another. */
	nua_register(ua->nh, NUTAG_REGISTRAR(URL_STRING_MAKE(ua->registrar_url)),
	             SIPTAG_EXPIRES_STR(ua->expires), NUTAG_M_USERNAME(ua->user),
	             TAG_IF(ua->reg_contact[0], SIPTAG_CONTACT_STR(ua->reg_contact)), TAG_END());
}

/* Un-REGISTERs the current handle's contact. One of our own is named (sofia-sip names only
 * a contact it made itself). */
static void
unregister(struct sipua *ua)
{
	nua_unregister(ua->nh, TAG_IF(ua->reg_contact[0], SIPTAG_CONTACT_STR(ua->reg_contact)),
	               TAG_END());
}

/* The Contact to give from now on: host and port ("" for sofia-sip's own, the address the
 * registrar sees). A registered contact that changes is un-REGISTERed, then the new one
 * REGISTERed on a fresh handle, so the registrar never holds both (it would ring both). */
static void
set_contact(struct sipua *ua, const char *host, int port)
{
	char m[URL_MAX] = "";

	if (host[0])
		snprintf(m, sizeof(m), "<sip:%s@%s:%d;transport=%s>", ua->user, host, port,
		         ua->transport);
	if (strcmp(m, ua->contact) == 0)
		return;
	snprintf(ua->contact, sizeof(ua->contact), "%s", m);
	if (ua->nh == NULL || ua->recontact)
		return;                 /* the next REGISTER gives it */
	if (ua->registered) {
		ua->recontact = 1;
		unregister(ua);
		return;
	}
	/* A REGISTER on its way may still be taken by the registrar, and its contact would
	 * stay there unnamed by us until it expired (and be rung beside the new one): let it
	 * end; on_registered then changes the contact, a failure retries with the new one. */
	if (ua->reg_pending)
		return;
	/* not registered and not trying: this try starts again with the new contact */
	nua_handle_destroy(ua->nh);
	ua->nh = NULL;
	su_timer_reset(ua->retry_timer);
	start_register(ua);
}

static void
on_retry(struct sipua *ua, su_timer_t *t, struct sipua *arg)
{
	(void)t;
	(void)arg;
	if (ua->phase == 0)
		start_register(ua);
}

/* A REGISTER failed for good: say so (the status, its phrase and what it means), and try
 * again after a back-off that doubles. */
static void
register_failed(struct sipua *ua, int status, const char *phrase, const char *meaning)
{
	struct sipua_event ev;

	ua->registered = 0;
	ua->reg_pending = 0;
	if (ua->retry_s == 0)
		ua->retry_s = RETRY_FIRST_S;
	else if (ua->retry_s < RETRY_MAX_S)
		ua->retry_s = ua->retry_s * 2 > RETRY_MAX_S ? RETRY_MAX_S : ua->retry_s * 2;
	memset(&ev, 0, sizeof(ev));
	ev.kind = SIPUA_REG_FAILED;
	ev.status = status;
	snprintf(ev.reason, sizeof(ev.reason), "%d %s%s%s", status, phrase ? phrase : "",
	         meaning ? ": " : "", meaning ? meaning : "");
	ev.retry_in = ua->retry_s;
	post(ua, &ev);
	if (ua->nh) {
		nua_handle_destroy(ua->nh);
		ua->nh = NULL;
	}
	su_timer_set_interval(ua->retry_timer, on_retry, ua, (su_duration_t)ua->retry_s * 1000);
}

/* Answers a 401 or 407 with our credentials for the realm the challenge names. */
static int
authenticate(struct sipua *ua, nua_handle_t *nh, sip_t const *sip, int status)
{
	msg_auth_t const *ch = NULL;
	char const *realm;
	char cred[URL_MAX + SIPUA_PASSWORD_MAX];

	if (sip)
		ch = status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
	if (ch == NULL || ch->au_scheme == NULL ||
	    (realm = msg_params_find(ch->au_params, "realm=")) == NULL)
		return -1;
	/* sofia-sip's credential string: scheme:"realm":user:password (realm keeps its quotes) */
	snprintf(cred, sizeof(cred), "%s:%s:%s:%s", ch->au_scheme, realm, ua->user, ua->password);
	nua_authenticate(nh, NUTAG_AUTH(cred), TAG_END());
	explicit_bzero(cred, sizeof(cred));
	return 0;
}

/* A challenge after our answer means wrong credentials, unless it only says the nonce we
 * used has expired (stale=true). */
static int
stale(sip_t const *sip, int status)
{
	msg_auth_t const *ch = NULL;
	char const *v;

	if (sip)
		ch = status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
	return ch && (v = msg_params_find(ch->au_params, "stale=")) != NULL &&
	    (strcasecmp(v, "true") == 0 || strcasecmp(v, "\"true\"") == 0);
}

static void
on_registered(struct sipua *ua, sip_t const *sip)
{
	struct sipua_event ev;
	sip_contact_t const *m;
	url_t const *u;

	memset(&ev, 0, sizeof(ev));
	ev.kind = SIPUA_REGISTERED;
	ev.status = 200;
	snprintf(ev.reason, sizeof(ev.reason), "registered");
	ev.expires = sip && sip->sip_expires ? (unsigned)sip->sip_expires->ex_delta : 0;
	/* The registrar lists every contact of the account; ours carries our user name. */
	for (m = sip ? sip->sip_contact : NULL; m; m = m->m_next) {
		u = m->m_url;
		if (u->url_user == NULL || strcmp(u->url_user, ua->user) != 0)
			continue;
		if (m->m_expires)
			ev.expires = (unsigned)strtoul(m->m_expires, NULL, 10);
		snprintf(ev.contact, sizeof(ev.contact), "sip:%s@%s%s%s", u->url_user,
		         u->url_host ? u->url_host : "", u->url_port ? ":" : "",
		         u->url_port ? u->url_port : "");
		break;
	}
	ua->registered = 1;
	ua->reg_pending = 0;
	ua->retry_s = 0;
	ua->auth_tries = 0;
	post(ua, &ev);
	/* The contact changed while this REGISTER was on its way: the one it registered goes,
	 * the new one comes, as for a registered contact that changes */
	if (ua->phase == 0 && !ua->recontact && strcmp(ua->contact, ua->reg_contact) != 0) {
		ua->recontact = 1;
		unregister(ua);
	}
}

static void
begin_shutdown(struct sipua *ua)
{
	ua->phase = 2;
	nua_shutdown(ua->nua);
	su_timer_reset(ua->stop_timer);
}

static void
on_stop_timer(struct sipua *ua, su_timer_t *t, struct sipua *arg)
{
	(void)t;
	(void)arg;
	if (ua->phase == 1) {
		begin_shutdown(ua);
		su_timer_set_interval(ua->stop_timer, on_stop_timer, ua, SHUTDOWN_WAIT_MS);
	} else {
		su_root_break(ua->root);   /* sofia-sip did not finish: leave it */
	}
}

/* ---- calls (SIP thread) ---- */

static unsigned
new_call_id(struct sipua *ua)
{
	unsigned id;

	pthread_mutex_lock(&ua->lock);
	id = ++ua->next_call;
	pthread_mutex_unlock(&ua->lock);
	return id;
}

static struct sipcall *
find_call(struct sipua *ua, unsigned id)
{
	struct sipcall *c;

	for (c = ua->calls; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void
free_call(struct sipua *ua, struct sipcall *call)
{
	struct sipcall **pp;

	for (pp = &ua->calls; *pp; pp = &(*pp)->next)
		if (*pp == call) {
			*pp = call->next;
			break;
		}
	if (call->nh)
		nua_handle_destroy(call->nh);
	free(call);
}

/* Copies a user part we pass on to the loop: printable, capped, else "?". */
static void
copy_user(char *out, size_t outlen, url_t const *u)
{
	const char *p;

	snprintf(out, outlen, "?");
	if (u == NULL || u->url_user == NULL || strlen(u->url_user) >= outlen)
		return;
	for (p = u->url_user; *p; p++)
		if (*p <= ' ' || *p >= 127)
			return;
	snprintf(out, outlen, "%s", u->url_user);
}

/* The message's SDP into out: 0 (out "" when there is none), -1 when it is too long. */
static int
copy_sdp(char *out, size_t outlen, sip_t const *sip)
{
	out[0] = '\0';
	if (sip == NULL || sip->sip_payload == NULL || sip->sip_payload->pl_len == 0)
		return 0;
	if (sip->sip_content_type == NULL || sip->sip_content_type->c_type == NULL ||
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0)
		return 0;
	if (sip->sip_payload->pl_len >= outlen)
		return -1;
	memcpy(out, sip->sip_payload->pl_data, sip->sip_payload->pl_len);
	out[sip->sip_payload->pl_len] = '\0';
	return 0;
}

static void
post_call(struct sipua *ua, struct sipcall *call, int kind, int status, const char *phrase,
          const char *meaning, sip_t const *sip)
{
	struct sipua_event *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return;
	ev->kind = kind;
	ev->call = call->id;
	ev->status = status;
	if (status)
		snprintf(ev->reason, sizeof(ev->reason), "%d %s%s%s", status, phrase ? phrase : "",
		         meaning ? ": " : "", meaning ? meaning : "");
	else
		snprintf(ev->reason, sizeof(ev->reason), "%s", meaning ? meaning : "");
	if (copy_sdp(ev->sdp, sizeof(ev->sdp), sip) != 0)
		ev->sdp[0] = '\0';
	if (kind == SIPUA_CALL_FAILED || kind == SIPUA_CALL_ENDED)
		call->ended = 1;
	post(ua, ev);
	free(ev);
}

static void
place_call(struct sipua *ua, struct command *cmd)
{
	struct sipcall *call = calloc(1, sizeof(*call));
	char to[URL_MAX];

	if (call == NULL)
		return;
	call->id = cmd->call;
	snprintf(to, sizeof(to), "sip:%s@%s", cmd->number, ua->domain);
	call->nh = nua_handle(ua->nua, call, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(ua->from_call),
	                      TAG_END());
	if (call->nh == NULL) {
		post_call(ua, call, SIPUA_CALL_FAILED, 500, "Internal Error", "out of memory", NULL);
		free(call);
		return;
	}
	if (ua->tls_fault[0]) {
		/* the provider's certificate was refused: the INVITE would only time out */
		post_call(ua, call, SIPUA_CALL_FAILED, 503, "Service Unavailable", ua->tls_fault,
		          NULL);
		nua_handle_destroy(call->nh);
		free(call);
		return;
	}
	call->next = ua->calls;
	ua->calls = call;
	nua_invite(call->nh, NUTAG_M_USERNAME(ua->user),
	           TAG_IF(ua->contact[0], SIPTAG_CONTACT_STR(ua->contact)),
	           SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(cmd->sdp),
	           TAG_END());
}

static void
take_incoming(struct sipua *ua, nua_handle_t *nh, sip_t const *sip)
{
	struct sipcall *call = calloc(1, sizeof(*call));
	struct sipua_event *ev = calloc(1, sizeof(*ev));

	if (call == NULL || ev == NULL) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		nua_handle_destroy(nh);
		free(call);
		free(ev);
		return;
	}
	if (copy_sdp(ev->sdp, sizeof(ev->sdp), sip) != 0) {
		/* an offer longer than we take: refused whole, never cut */
		nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
		nua_handle_destroy(nh);
		free(call);
		free(ev);
		return;
	}
	call->id = new_call_id(ua);
	call->nh = nh;
	call->incoming = 1;
	nua_handle_bind(nh, call);
	call->next = ua->calls;
	ua->calls = call;
	ev->kind = SIPUA_CALL_INCOMING;
	ev->call = call->id;
	copy_user(ev->from, sizeof(ev->from), sip && sip->sip_from ? sip->sip_from->a_url : NULL);
	/* the number called is in To: a provider's proxy rewrites the request URI to our
	 * contact */
	copy_user(ev->to, sizeof(ev->to), sip && sip->sip_to ? sip->sip_to->a_url : NULL);
	snprintf(ev->reason, sizeof(ev->reason), "incoming call");
	post(ua, ev);
	free(ev);
}

static void
run_command(struct sipua *ua, struct command *cmd)
{
	struct sipcall *call;

	if (cmd->kind == CMD_CALL) {
		place_call(ua, cmd);
		return;
	}
	if (cmd->kind == CMD_CONTACT) {
		set_contact(ua, cmd->number, cmd->status);
		return;
	}
	if ((call = find_call(ua, cmd->call)) == NULL || call->ended)
		return;
	if (cmd->kind == CMD_ANSWER && call->reinvited) {
		call->reinvited = 0;
		nua_respond(call->nh, cmd->status, sip_status_phrase(cmd->status),
		            TAG_IF(cmd->sdp && ua->contact[0], SIPTAG_CONTACT_STR(ua->contact)),
		            TAG_IF(cmd->sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		            TAG_IF(cmd->sdp, SIPTAG_PAYLOAD_STR(cmd->sdp)), TAG_END());
	} else if (cmd->kind == CMD_REINVITE) {
		if (!call->answered || call->reinviting || call->reinvited) {
			post_call(ua, call, SIPUA_CALL_REINVITED, 491, "Request Pending",
			          "a re-INVITE is already under way on the call", NULL);
			return;
		}
		call->reinviting = 1;
		nua_invite(call->nh, TAG_IF(ua->contact[0], SIPTAG_CONTACT_STR(ua->contact)),
		           SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(cmd->sdp),
		           TAG_END());
	} else if (cmd->kind == CMD_ANSWER) {
		if (!call->incoming || call->answered)
			return;
		if (cmd->status >= 200 && cmd->status < 300)
			call->answered = 1;
		nua_respond(call->nh, cmd->status, sip_status_phrase(cmd->status),
		            TAG_IF(cmd->sdp && ua->contact[0], SIPTAG_CONTACT_STR(ua->contact)),
		            TAG_IF(cmd->sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		            TAG_IF(cmd->sdp, SIPTAG_PAYLOAD_STR(cmd->sdp)), TAG_END());
	} else if (call->answered) {
		nua_bye(call->nh, TAG_END());
	} else if (call->incoming) {
		nua_respond(call->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
	} else {
		nua_cancel(call->nh, TAG_END());
	}
}

static void
on_call_event(struct sipua *ua, nua_event_t event, int status, char const *phrase,
              nua_handle_t *nh, struct sipcall *call, sip_t const *sip, tagi_t tags[])
{
	int state = nua_callstate_init;

	switch (event) {
	case nua_i_invite: {
		struct sipua_event *ev;

		/* a re-INVITE. Without reinvites: "stay as we are", which a fax call survives */
		if (!ua->reinvites || call->ended) {
			nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
			break;
		}
		/* RFC 3261 14.2: ours is pending (491), or theirs still is (500) */
		if (call->reinviting) {
			nua_respond(nh, SIP_491_REQUEST_PENDING, TAG_END());
			break;
		}
		if (call->reinvited) {
			nua_respond(nh, 500, "Server Internal Error", SIPTAG_RETRY_AFTER_STR("1"),
			            TAG_END());
			break;
		}
		if ((ev = calloc(1, sizeof(*ev))) == NULL) {
			nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
			break;
		}
		if (copy_sdp(ev->sdp, sizeof(ev->sdp), sip) != 0) {
			/* an offer longer than we take: refused whole, the call goes on */
			nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
			free(ev);
			break;
		}
		call->reinvited = 1;
		ev->kind = SIPUA_CALL_REINVITE;
		ev->call = call->id;
		snprintf(ev->reason, sizeof(ev->reason), "re-INVITE");
		post(ua, ev);
		free(ev);
		break;
	}
	case nua_r_invite:
		if (call->reinviting) {
			/* our re-INVITE: its final answer, whatever it is, leaves the call up
			 * (sofia-sip ACKs a 2xx) */
			if (status < 200)
				break;
			call->reinviting = 0;
			post_call(ua, call, SIPUA_CALL_REINVITED, status, phrase, NULL,
			          status < 300 ? sip : NULL);
			break;
		}
		if (status == 401 || status == 407) {
			if (call->auth_tries++ < 1 && authenticate(ua, nh, sip, status) == 0)
				return;
			post_call(ua, call, SIPUA_CALL_FAILED, status, phrase,
			          "the credentials were refused", NULL);
		} else if (status >= 180 && status < 200) {
			post_call(ua, call, SIPUA_CALL_PROGRESS, status, phrase, NULL, sip);
		} else if (status >= 200 && status < 300) {
			call->answered = 1;
			post_call(ua, call, SIPUA_CALL_ANSWERED, status, phrase, NULL, sip);
		} else if (status >= 300 && !call->ended) {
			post_call(ua, call, SIPUA_CALL_FAILED, status, phrase, NULL, NULL);
		}
		break;
	case nua_i_ack:
		if (call->incoming && call->answered)
			post_call(ua, call, SIPUA_CALL_ANSWERED, 200, "OK", "ACK received", NULL);
		break;
	case nua_i_cancel:
		if (!call->ended)
			post_call(ua, call, SIPUA_CALL_ENDED, 0, NULL, "cancelled by the caller",
			          NULL);
		break;
	case nua_i_bye:
		if (!call->ended)
			post_call(ua, call, SIPUA_CALL_ENDED, 0, NULL, "the far end hung up (BYE)",
			          NULL);
		break;
	case nua_r_bye:
		if (status >= 200 && !call->ended)
			post_call(ua, call, SIPUA_CALL_ENDED, status, phrase, "we hung up (BYE)",
			          NULL);
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
		if (state == nua_callstate_terminated) {
			/* every call ends with one CALL_FAILED or CALL_ENDED, so the loop can
			 * let go of it (an incoming call we refused ends here) */
			if (!call->ended)
				post_call(ua, call, SIPUA_CALL_ENDED, 0, NULL, "call ended", NULL);
			free_call(ua, call);
		}
		break;
	default:
		break;
	}
}

/* 1 when the request being handled came from one of the trunk's peers (its address; any
 * port, as a provider's proxies send from several). */
static int
from_peer(struct sipua *ua, nua_t *nua)
{
	msg_t *m = nua_current_request(nua);
	su_addrinfo_t *ai = m ? msg_addrinfo(m) : NULL;

	if (ai == NULL || ai->ai_addr == NULL)
		return 0;
	for (int i = 0; i < ua->npeers; i++)
		if (same_host((const struct sockaddr *)&ua->peers[i], ai->ai_addr))
			return 1;
	return 0;
}

/* Tells the loop of an INVITE refused for its source: the first, then every 100th, so a
 * flood costs the loop almost nothing. */
static void
stranger(struct sipua *ua, nua_t *nua)
{
	msg_t *m = nua_current_request(nua);
	su_addrinfo_t *ai = m ? msg_addrinfo(m) : NULL;
	struct sipua_event ev;
	char host[64] = "?";

	if (ua->strangers++ % 100 != 0)
		return;
	if (ai && ai->ai_addr)
		(void)getnameinfo(ai->ai_addr, (socklen_t)ai->ai_addrlen, host, sizeof(host), NULL,
		                  0, NI_NUMERICHOST);
	memset(&ev, 0, sizeof(ev));
	ev.kind = SIPUA_STRANGER;
	ev.status = 403;
	snprintf(ev.from, sizeof(ev.from), "%s", host);
	snprintf(ev.reason, sizeof(ev.reason), "INVITE from %s refused (403): not one of the "
	         "trunk's peers (%lu so far)", host, ua->strangers);
	post(ua, &ev);
}

static void
on_nua(nua_event_t event, int status, char const *phrase, nua_t *nua, struct sipua *ua,
       nua_handle_t *nh, struct sipcall *call, sip_t const *sip, tagi_t tags[])
{
	(void)nua;
	if (event == nua_i_invite && call == NULL) {
		if (!from_peer(ua, nua)) {
			nua_respond(nh, SIP_403_FORBIDDEN, TAG_END());
			nua_handle_destroy(nh);
			stranger(ua, nua);
		} else if (ua->phase != 0) {
			nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, TAG_END());
			nua_handle_destroy(nh);
		} else {
			take_incoming(ua, nh, sip);
		}
		return;
	}
	if (call) {
		on_call_event(ua, event, status, phrase, nh, call, sip, tags);
		return;
	}
	switch (event) {
	case nua_r_register:
		if (status < 200 || ua->phase != 0)
			return;
		if (status < 300) {
			on_registered(ua, sip);
		} else if (status == 401 || status == 407) {
			if (ua->auth_tries >= AUTH_TRIES_MAX ||
			    (ua->auth_tries > 0 && !stale(sip, status)))
				register_failed(ua, status, phrase, "the credentials were refused "
				                "(wrong user or password)");
			else if (ua->auth_tries++, authenticate(ua, ua->nh, sip, status) != 0)
				register_failed(ua, status, phrase, "a challenge without a realm");
		} else if (status == 904) {
			/* sofia-sip's own: asked to answer a challenge it already answered */
			register_failed(ua, status, phrase, "the credentials were refused "
			                "(wrong user or password)");
		} else if (ua->tls && (status == 408 || status == 503 || status >= 900)) {
			/* sofia-sip closes a connection whose certificate it refuses and says
			 * only that the request could not be sent: find out why (a few seconds of
			 * this thread, on a trunk that is down anyway) */
			if (tls_ready(ua) != 0)
				register_failed(ua, status, phrase, ua->tls_fault);
			else
				register_failed(ua, status, phrase, "no answer from the registrar");
		} else if (status == 408 || status == 503) {
			/* sofia-sip says 408 or 503 itself when nothing answers or nothing can be
			 * reached; a registrar may send them too */
			register_failed(ua, status, phrase, "no answer from the registrar");
		} else {
			register_failed(ua, status, phrase, NULL);
		}
		break;
	case nua_r_unregister:
		if (status >= 200 && ua->phase == 0 && ua->recontact) {
			/* the old contact is gone (or the registrar did not answer: it expires);
			 * the new one on a fresh handle */
			ua->recontact = 0;
			ua->registered = 0;
			nua_handle_destroy(ua->nh);
			ua->nh = NULL;
			start_register(ua);
		} else if (status >= 200 && ua->phase == 1) {
			ua->registered = 0;
			ua->unreg_status = status;
			begin_shutdown(ua);
			su_timer_set_interval(ua->stop_timer, on_stop_timer, ua, SHUTDOWN_WAIT_MS);
		}
		break;
	case nua_r_shutdown:
		if (status >= 200) {
			ua->shutdown_done = 1;
			su_root_break(ua->root);
		}
		break;
	default:
		break;
	}
}

/* A command from the loop: so far only "stop". */
static int
on_command(struct sipua *ua, su_wait_t *w, struct sipua *arg)
{
	char buf[16];
	int stop;

	(void)w;
	(void)arg;
	struct command *cmd, *next;

	while (read(ua->cmdpipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&ua->lock);
	stop = ua->stopping;
	cmd = ua->cmd_head;
	ua->cmd_head = ua->cmd_tail = NULL;
	pthread_mutex_unlock(&ua->lock);
	for (; cmd; cmd = next) {
		next = cmd->next;
		if (ua->phase == 0)
			run_command(ua, cmd);
		free(cmd->sdp);
		free(cmd);
	}
	if (!stop || ua->phase != 0)
		return 0;
	su_timer_reset(ua->retry_timer);
	if (ua->registered) {
		ua->phase = 1;
		unregister(ua);
		su_timer_set_interval(ua->stop_timer, on_stop_timer, ua, UNREGISTER_WAIT_MS);
	} else {
		begin_shutdown(ua);
		su_timer_set_interval(ua->stop_timer, on_stop_timer, ua, SHUTDOWN_WAIT_MS);
	}
	return 0;
}

static void
started(struct sipua *ua, int ok, const char *why)
{
	pthread_mutex_lock(&ua->lock);
	ua->ready = ok ? 1 : -1;
	if (why)
		snprintf(ua->start_err, sizeof(ua->start_err), "%s", why);
	pthread_cond_broadcast(&ua->ready_cond);
	pthread_mutex_unlock(&ua->lock);
}

static void *
sip_thread(void *arg)
{
	struct sipua *ua = arg;
	su_wait_t w[1] = { SU_WAIT_INIT };
	int reg = -1;

	su_init();
	su_home_init(ua->home);
	if ((ua->root = su_root_create(ua)) == NULL) {
		started(ua, 0, "cannot create the SIP loop");
		goto out;
	}
	if (su_wait_create(w, ua->cmdpipe[0], SU_WAIT_IN) != 0 ||
	    (reg = su_root_register(ua->root, w, on_command, ua, 0)) < 0) {
		started(ua, 0, "cannot watch the command pipe");
		goto out;
	}
	/* sofia-sip's transport log would print its TLS complaints (no client certificate of
	 * ours, a refused peer) to stderr; the trunk's own log line says what matters */
	if (ua->tls && getenv("TPORT_DEBUG") == NULL)
		su_log_set_level(tport_log, 0);
	ua->nua = nua_create(ua->root, on_nua, ua,
	                     NUTAG_URL(URL_STRING_MAKE(ua->bind_url)),
	                     /* the registrar is the outbound proxy too, as a trunk's is: every
	                      * request, keepalives included, goes to it whatever its URI */
	                     NUTAG_PROXY(URL_STRING_MAKE(ua->registrar_url)),
	                     NTATAG_SIP_T1(ua->t1_ms), NTATAG_SIP_T1X64(64 * ua->t1_ms),
	                     /* rport (RFC 3581): answers come back through the NAT binding the
	                      * request opened, on UDP, TCP and TLS */
	                     NTATAG_CLIENT_RPORT(1), NTATAG_TCP_RPORT(1),
	                     NTATAG_TLS_RPORT(1),
	                     /* TLS: sofia-sip's certificate directory (built by sipua_new);
	                      * the provider's certificate is checked (its chain, and that it
	                      * is made out to the registrar's host) unless told not to. Only
	                      * the connections we open are checked: the provider's requests
	                      * come back over the one the REGISTER opened */
	                     TAG_IF(ua->tls, TPTAG_CERTIFICATE(ua->tls_dir)),
	                     TAG_IF(ua->tls, TPTAG_TLS_VERIFY_POLICY(ua->tls_verify ?
	                            TPTLS_VERIFY_SUBJECTS_OUT : TPTLS_VERIFY_NONE)),
	                     TAG_IF(ua->tls, TPTAG_TLS_VERIFY_DEPTH(TLS_DEPTH_MAX)),
	                     /* natify: when the registrar sees another address than ours,
	                      * register that one; keepalives hold the binding open */
	                     NUTAG_OUTBOUND("natify use-rport options-keepalive no-validate"),
	                     TAG_IF(ua->keepalive_ms, NUTAG_KEEPALIVE(ua->keepalive_ms)),
	                     /* the SDP is the media side's to write and read: sofia-sip only
	                      * carries it */
	                     NUTAG_MEDIA_ENABLE(0),
	                     TAG_END());
	if (ua->nua == NULL) {
		char why[SIPUA_ERR_MAX];

		snprintf(why, sizeof(why), "cannot listen on %s", ua->bind_url);
		started(ua, 0, why);
		goto out;
	}
	ua->retry_timer = su_timer_create(su_root_task(ua->root), 0);
	ua->stop_timer = su_timer_create(su_root_task(ua->root), 0);
	if (ua->retry_timer == NULL || ua->stop_timer == NULL) {
		started(ua, 0, "out of memory");
		goto out;
	}
	started(ua, 1, NULL);
	start_register(ua);
	su_root_run(ua->root);
out:
	while (ua->calls)
		free_call(ua, ua->calls);
	if (ua->nh)
		nua_handle_destroy(ua->nh);
	/* nua_destroy must follow a finished shutdown; after a timed-out one, leaving sofia-sip's
	 * memory is better than waiting longer */
	if (ua->nua && ua->shutdown_done)
		nua_destroy(ua->nua);
	su_timer_destroy(ua->retry_timer);
	su_timer_destroy(ua->stop_timer);
	if (ua->root) {
		if (reg >= 0)
			su_root_deregister(ua->root, reg);
		su_root_destroy(ua->root);
	}
	su_home_deinit(ua->home);
	su_deinit();
	return NULL;
}

/* ---- the loop's side ---- */

static int
check_token(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	const char *p;

	if (s == NULL || *s == '\0' || strlen(s) >= max) {
		snprintf(err, errlen, "%s: missing or longer than %zu bytes", what, max - 1);
		return -1;
	}
	/* These go into URLs and headers: nothing that would end or split one. */
	for (p = s; *p; p++)
		if (*p <= ' ' || *p >= 127 || strchr("<>\"@;?,", *p)) {
			snprintf(err, errlen, "%s: '%s' has a character not allowed here", what, s);
			return -1;
		}
	return 0;
}

/* 1 when a and b are the same IP address (an IPv4-mapped IPv6 address matches its IPv4). */
static int
same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	struct in_addr a4 = { 0 }, b4 = { 0 };
	int ha, hb;

	ha = a->sa_family == AF_INET ? (a4 = ((const struct sockaddr_in *)a)->sin_addr, 1) : 0;
	hb = b->sa_family == AF_INET ? (b4 = ((const struct sockaddr_in *)b)->sin_addr, 1) : 0;
	if (a->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)a)->sin6_addr)) {
		memcpy(&a4, &((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr[12], 4);
		ha = 1;
	}
	if (b->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)b)->sin6_addr)) {
		memcpy(&b4, &((const struct sockaddr_in6 *)b)->sin6_addr.s6_addr[12], 4);
		hb = 1;
	}
	if (ha || hb)
		return ha && hb && a4.s_addr == b4.s_addr;
	return a->sa_family == AF_INET6 && b->sa_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	           &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Adds the addresses of host (a name is resolved now, at start, never from the wire) to the
 * peers INVITEs are taken from. 0, or -1 with the reason. */
static int
add_peer(struct sipua *ua, const char *host, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "trunk peer '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ua->npeers == PEERS_MAX) {
			freeaddrinfo(res);
			snprintf(err, errlen, "more than %d trunk peer addresses", PEERS_MAX);
			return -1;
		}
		memcpy(&ua->peers[ua->npeers++], ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	return 0;
}

/* The peers: the list given, else the registrar's host. */
static int
set_peers(struct sipua *ua, const char *peers, const char *registrar, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

	if (peers == NULL || *peers == '\0') {
		/* "host:port", "[v6]:port", "host" */
		if (registrar[0] == '[') {
			snprintf(buf, sizeof(buf), "%s", registrar + 1);
			buf[strcspn(buf, "]")] = '\0';
		} else {
			snprintf(buf, sizeof(buf), "%s", registrar);
			if (strchr(buf, ':') == strrchr(buf, ':'))
				buf[strcspn(buf, ":")] = '\0';
		}
		return add_peer(ua, buf, err, errlen);
	}
	if (strlen(peers) >= sizeof(buf)) {
		snprintf(err, errlen, "trunk peers: longer than %zu bytes", sizeof(buf) - 1);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", peers);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		if (add_peer(ua, tok, err, errlen) != 0)
			return -1;
	return 0;
}

/* Binds the configured address and port once and lets go: sofia-sip only says that its
 * start failed (and leaves some memory behind when it does), so say why ourselves first. */
static int
probe_bind(const char *addr, uint16_t port, int tcp, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char service[8];
	int fd, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(addr, service, &hints, &ai)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	rc = -1;
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) >= 0) {
		/* as sofia-sip's own TCP socket does, so a port in TIME_WAIT is not "in use" */
		if (tcp)
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	}
	if (rc != 0)
		snprintf(err, errlen, "cannot listen on %s port %u (%s): %s", addr, port,
		         tcp ? "tcp" : "udp", strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* 1 when a registrar "host:port", "[v6]:port" names its port. */
static int
has_port(const char *registrar)
{
	if (registrar[0] == '[')
		return strstr(registrar, "]:") != NULL;
	return strchr(registrar, ':') != NULL && strchr(registrar, ':') == strrchr(registrar, ':');
}

/* The registrar's host (no brackets) and port (dflt when it names none). */
static void
split_registrar(struct sipua *ua, const char *registrar, const char *dflt)
{
	const char *colon = NULL;

	if (registrar[0] == '[') {
		snprintf(ua->reg_host, sizeof(ua->reg_host), "%s", registrar + 1);
		ua->reg_host[strcspn(ua->reg_host, "]")] = '\0';
		colon = strstr(registrar, "]:");
		colon = colon ? colon + 1 : NULL;
	} else {
		snprintf(ua->reg_host, sizeof(ua->reg_host), "%s", registrar);
		if (has_port(registrar)) {
			ua->reg_host[strcspn(ua->reg_host, ":")] = '\0';
			colon = strchr(registrar, ':');
		}
	}
	snprintf(ua->reg_port, sizeof(ua->reg_port), "%s", colon ? colon + 1 : dflt);
}

struct sipua *
sipua_new(struct event_base *base, const struct sipua_options *o, sipua_event_fn cb, void *arg,
          char *err, size_t errlen)
{
	struct sipua *ua;
	char host[128];
	const char *tp = o->transport ? o->transport : "udp";
	const char *bind = o->bind_addr ? o->bind_addr : "0.0.0.0";
	char port[8];
	int ok, tls_port;

	if (strcmp(tp, "udp") != 0 && strcmp(tp, "tcp") != 0 && strcmp(tp, "tls") != 0) {
		snprintf(err, errlen, "transport '%s': udp, tcp or tls", tp);
		return NULL;
	}
	if (check_token("registrar", o->registrar, 128, err, errlen) != 0 ||
	    check_token("user", o->user, 128, err, errlen) != 0 ||
	    (o->domain && check_token("domain", o->domain, 128, err, errlen) != 0) ||
	    check_token("bind address", bind, 64, err, errlen) != 0 ||
	    (o->caller_id && *o->caller_id &&
	     check_token("caller id", o->caller_id, 64, err, errlen) != 0))
		return NULL;
	if (probe_bind(bind, o->bind_port, strcmp(tp, "udp") != 0, err, errlen) != 0)
		return NULL;
	if (strcmp(tp, "tls") == 0 && (o->tls_ca == NULL || o->tls_dir == NULL ||
	    siptls_check_files(o->tls_ca, o->tls_cert, o->tls_key, err, errlen) != 0 ||
	    siptls_prepare(o->tls_dir, o->tls_ca, o->tls_cert, o->tls_key, err, errlen) != 0)) {
		if (o->tls_ca == NULL || o->tls_dir == NULL)
			snprintf(err, errlen, "transport tls: no CA file or no directory for it");
		return NULL;
	}
	if ((ua = calloc(1, sizeof(*ua))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ua->evpipe[0] = ua->evpipe[1] = ua->cmdpipe[0] = ua->cmdpipe[1] = -1;
	pthread_mutex_init(&ua->lock, NULL);
	pthread_cond_init(&ua->ready_cond, NULL);
	if (sipua_read_password(o->password_file, ua->password, sizeof(ua->password), err,
	                        errlen) != 0 || set_peers(ua, o->peers, o->registrar, err,
	                        errlen) != 0) {
		sipua_free(ua);
		return NULL;
	}
	/* the domain defaults to the registrar's host (without its port) */
	snprintf(host, sizeof(host), "%s", o->domain ? o->domain : o->registrar);
	if (!o->domain && host[0] != '[')
		host[strcspn(host, ":")] = '\0';
	snprintf(ua->user, sizeof(ua->user), "%s", o->user);
	snprintf(ua->transport, sizeof(ua->transport), "%s", tp);
	snprintf(ua->aor, sizeof(ua->aor), "sip:%s@%s", o->user, host);
	snprintf(ua->from_call, sizeof(ua->from_call), "sip:%s@%s",
	         o->caller_id && *o->caller_id ? o->caller_id : o->user, host);
	snprintf(ua->domain, sizeof(ua->domain), "%s", host);
	split_registrar(ua, o->registrar, strcmp(tp, "tls") == 0 ? SIPTLS_PORT : "5060");
	/* TLS has a port of its own: named, so that no resolver of sofia-sip's guesses 5060 */
	tls_port = strcmp(tp, "tls") == 0 && !has_port(o->registrar);
	snprintf(ua->registrar_url, sizeof(ua->registrar_url), "sip:%s%s%s;transport=%s",
	         o->registrar, tls_port ? ":" : "", tls_port ? SIPTLS_PORT : "", tp);
	if (strcmp(tp, "tls") == 0) {
		ua->tls = 1;
		ua->tls_verify = o->tls_verify;
		snprintf(ua->tls_dir, sizeof(ua->tls_dir), "%s", o->tls_dir);
		snprintf(ua->tls_ca, sizeof(ua->tls_ca), "%s", o->tls_ca);
		snprintf(ua->tls_cert, sizeof(ua->tls_cert), "%s", o->tls_cert ? o->tls_cert : "");
		snprintf(ua->tls_key, sizeof(ua->tls_key), "%s", o->tls_key ? o->tls_key : "");
	}
	if (o->bind_port)
		snprintf(port, sizeof(port), "%u", o->bind_port);
	else
		snprintf(port, sizeof(port), "*");
	/* sofia-sip binds TLS only for a sips: URL ("sip:...;transport=tls" is refused) */
	if (strcmp(tp, "tls") == 0)
		snprintf(ua->bind_url, sizeof(ua->bind_url), "sips:%s:%s", bind, port);
	else
		snprintf(ua->bind_url, sizeof(ua->bind_url), "sip:%s:%s;transport=%s", bind,
		         port, tp);
	snprintf(ua->expires, sizeof(ua->expires), "%u", o->expires ? o->expires : 3600);
	ua->keepalive_ms = o->keepalive * 1000;
	ua->t1_ms = o->t1_ms ? o->t1_ms : 500;
	ua->reinvites = o->reinvites;
	ua->cb = cb;
	ua->arg = arg;
	if (pipe2(ua->evpipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    pipe2(ua->cmdpipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    (ua->ev = event_new(base, ua->evpipe[0], EV_READ | EV_PERSIST, deliver, ua)) == NULL ||
	    event_add(ua->ev, NULL) != 0 || pthread_create(&ua->thread, NULL, sip_thread, ua) != 0) {
		snprintf(err, errlen, "cannot start the SIP thread: %s", strerror(errno));
		sipua_free(ua);
		return NULL;
	}
	ua->started = 1;
	pthread_mutex_lock(&ua->lock);
	while (ua->ready == 0)
		pthread_cond_wait(&ua->ready_cond, &ua->lock);
	ok = ua->ready > 0;
	if (!ok)
		snprintf(err, errlen, "%s", ua->start_err);
	pthread_mutex_unlock(&ua->lock);
	if (!ok) {
		sipua_free(ua);
		return NULL;
	}
	return ua;
}

static int
queue_command(struct sipua *ua, int kind, unsigned call, int status, const char *number,
              const char *sdp, char *err, size_t errlen)
{
	struct command *cmd = calloc(1, sizeof(*cmd));

	if (cmd == NULL || (sdp && (cmd->sdp = strdup(sdp)) == NULL)) {
		free(cmd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cmd->kind = kind;
	cmd->call = call;
	cmd->status = status;
	if (number)
		snprintf(cmd->number, sizeof(cmd->number), "%s", number);
	pthread_mutex_lock(&ua->lock);
	if (ua->cmd_tail)
		ua->cmd_tail->next = cmd;
	else
		ua->cmd_head = cmd;
	ua->cmd_tail = cmd;
	pthread_mutex_unlock(&ua->lock);
	(void)!write(ua->cmdpipe[1], "c", 1);
	return 0;
}

static int
check_sdp(const char *sdp, char *err, size_t errlen)
{
	if (sdp == NULL || *sdp == '\0' || strlen(sdp) >= SIPUA_SDP_MAX) {
		snprintf(err, errlen, "SDP missing or longer than %d bytes", SIPUA_SDP_MAX - 1);
		return -1;
	}
	return 0;
}

int
sipua_call(struct sipua *ua, const char *number, const char *sdp, unsigned *call, char *err,
           size_t errlen)
{
	const char *p;

	if (number == NULL || *number == '\0' || strlen(number) >= SIPUA_NUMBER_MAX) {
		snprintf(err, errlen, "number missing or longer than %d characters",
		         SIPUA_NUMBER_MAX - 1);
		return -1;
	}
	for (p = number; *p; p++)
		if (!strchr("0123456789+*#", *p)) {
			snprintf(err, errlen, "number '%s': digits, +, * and # only", number);
			return -1;
		}
	if (check_sdp(sdp, err, errlen) != 0)
		return -1;
	*call = new_call_id(ua);
	return queue_command(ua, CMD_CALL, *call, 0, number, sdp, err, errlen);
}

int
sipua_set_contact(struct sipua *ua, const char *host, uint16_t port, char *err, size_t errlen)
{
	if (host && *host && (strlen(host) >= SIPUA_NUMBER_MAX || port == 0 ||
	    strspn(host, "0123456789abcdefABCDEF.:[]") != strlen(host))) {
		snprintf(err, errlen, "contact address '%.80s' port %u: a numeric address and a "
		         "port", host, port);
		return -1;
	}
	return queue_command(ua, CMD_CONTACT, 0, host && *host ? port : 0, host ? host : "",
	                     NULL, err, errlen);
}

void
sipua_hangup(struct sipua *ua, unsigned call)
{
	char err[64];

	(void)queue_command(ua, CMD_HANGUP, call, 0, NULL, NULL, err, sizeof(err));
}

int
sipua_reinvite(struct sipua *ua, unsigned call, const char *sdp, char *err, size_t errlen)
{
	if (check_sdp(sdp, err, errlen) != 0)
		return -1;
	return queue_command(ua, CMD_REINVITE, call, 0, NULL, sdp, err, errlen);
}

int
sipua_answer(struct sipua *ua, unsigned call, int status, const char *sdp, char *err,
             size_t errlen)
{
	if (status < 180 || status > 699) {
		snprintf(err, errlen, "status %d: 180 to 699", status);
		return -1;
	}
	if (status >= 200 && status < 300 && check_sdp(sdp, err, errlen) != 0)
		return -1;
	return queue_command(ua, CMD_ANSWER, call, status, NULL,
	                     status >= 200 && status < 300 ? sdp : NULL, err, errlen);
}

void
sipua_stop(struct sipua *ua)
{
	if (ua == NULL || !ua->started || ua->stop_sent)
		return;
	ua->stop_sent = 1;
	pthread_mutex_lock(&ua->lock);
	ua->stopping = 1;
	pthread_mutex_unlock(&ua->lock);
	(void)!write(ua->cmdpipe[1], "s", 1);
}

int
sipua_free(struct sipua *ua)
{
	struct queued *q, *next;
	int unreg = 0;

	if (ua == NULL)
		return 0;
	if (ua->started) {
		sipua_stop(ua);
		pthread_join(ua->thread, NULL);
		unreg = ua->unreg_status;    /* the thread has ended: no lock needed */
	}
	for (q = ua->head; q; q = next) {
		next = q->next;
		free(q);
	}
	while (ua->cmd_head) {
		struct command *c = ua->cmd_head;

		ua->cmd_head = c->next;
		free(c->sdp);
		free(c);
	}
	if (ua->ev)
		event_free(ua->ev);
	if (ua->evpipe[0] >= 0)
		close(ua->evpipe[0]);
	if (ua->evpipe[1] >= 0)
		close(ua->evpipe[1]);
	if (ua->cmdpipe[0] >= 0)
		close(ua->cmdpipe[0]);
	if (ua->cmdpipe[1] >= 0)
		close(ua->cmdpipe[1]);
	explicit_bzero(ua->password, sizeof(ua->password));
	pthread_cond_destroy(&ua->ready_cond);
	pthread_mutex_destroy(&ua->lock);
	free(ua);
	return unreg;
}

/* notify.c: one session's notifications: its stream (delivery.c), the choice of its path
 * (pathsel.c) and the diagnostic probes it asks for, behind the handful of calls notify.h
 * gives the session. */
#include "notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "delivery.h"
#include "log.h"
#include "outbox.h"
#include "proto.h"

/* SCP_PROBEs one connection may ask for. */
#define NOTIFY_PROBES_PER_SESSION 32

struct notify_session {
	struct outbox        *ob;
	struct notify_host    h;       /* h.scp_port follows SCP_REGISTER */
	struct notify_paths   paths;
	struct notify_config  cfg;
	struct pathsel       *ps;
	struct delivery      *d;       /* the stream, once started */
	int                   wanted;  /* notify_login said they start */
	int                   has_seq;
	uint64_t              client_seq;  /* the SEQ from LOGIN */
	uint64_t              resume;
	void                 *probe;   /* an SCP_PROBE in progress */
	uint32_t              probe_reqid;
	int                   probes;  /* SCP_PROBEs this session has asked for */
};

struct notify_session *
notify_session_new(struct outbox *ob, const struct notify_host *host,
    const struct notify_paths *paths, const struct notify_config *cfg)
{
	struct notify_session *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->ob = ob;
	n->h = *host;
	n->paths = *paths;
	n->cfg = *cfg;
	if ((n->ps = pathsel_new(&n->h, &n->paths, &n->cfg)) == NULL) {
		free(n);
		return NULL;
	}
	return n;
}

void
notify_session_free(struct notify_session *n)
{
	if (n == NULL)
		return;
	/* The paths first (each detaches from the delivery it carries), then the delivery. */
	pathsel_free(n->ps);
	if (n->probe)
		n->paths.direct_free(n->probe);
	delivery_free(n->d);
	free(n);
}

/* Notifications start after what the client says it has, or else after what the user last
 * acknowledged: an offline client gets its backlog at the next login. */
static uint64_t
resume_point(struct notify_session *n)
{
	uint64_t last = 0, acked = 0, resume;

	if (outbox_seqs(n->ob, n->h.user, &last, &acked) < 0)
		log_warnx("%s: store: %s", n->h.tag, outbox_errmsg(n->ob));
	resume = n->has_seq ? n->client_seq : acked;
	return resume > last ? last : resume;   /* a client from before a store reset */
}

int
notify_login(struct notify_session *n, int has_seq, uint64_t client_seq, uint64_t *seq)
{
	n->has_seq = has_seq;
	n->client_seq = client_seq;
	n->wanted = pathsel_wanted(&n->h, &n->cfg);
	if (!n->wanted)
		return 0;
	/* Told in LOGIN_OK, so the client's de-duplication follows a store that was reset or a
	 * user that was re-created. */
	*seq = n->resume = resume_point(n);
	return 1;
}

static void
start(struct notify_session *n)
{
	n->d = delivery_new(n->ob, n->h.user, n->resume, n->h.tag);
	if (n->d == NULL) {
		log_warnx("%s: out of memory for notifications", n->h.tag);
		return;
	}
	pathsel_start(n->ps, n->d);
}

void
notify_start(struct notify_session *n)
{
	if (n->wanted && n->d == NULL)
		start(n);
}

int
notify_ack(struct notify_session *n, uint64_t seq)
{
	return n->d == NULL ? -1 : delivery_ack(n->d, seq);
}

void
notify_scp_register(struct notify_session *n, uint16_t port)
{
	n->h.scp_port = port;
	if (n->d == NULL) {
		/* A session that had no notifications: they start where a login would. */
		n->resume = resume_point(n);
		start(n);
		return;
	}
	pathsel_register(n->ps);
}

void
notify_retry(struct notify_session *n)
{
	pathsel_retry_now(n->ps);
}

const char *
notify_probe_refused(const struct notify_session *n)
{
	if (n->probe != NULL)
		return "a probe is already running on this connection";
	if (n->probes >= NOTIFY_PROBES_PER_SESSION)
		return "too many probes on this connection; log in again";
	return NULL;
}

static void
probe_done(void *p, int result, const char *why, long elapsed_ms, const char *target,
    void *arg)
{
	struct notify_session *n = arg;
	struct ncfx_wbuf w;

	log_info("%s: SCP probe of %s: %s (%ld ms)", n->h.tag, target, why, elapsed_ms);
	ncfx_wbuf_begin(&w, NCFX_MSG_SCP_PROBE_RESULT, 0, n->probe_reqid);
	ncfx_put_u8(&w, NCFX_T_PROBE_RESULT, (uint8_t)result);
	ncfx_put_str(&w, NCFX_T_REASON, why);
	ncfx_put_str(&w, NCFX_T_OBSERVED_ADDR, target);
	ncfx_put_u32(&w, NCFX_T_ELAPSED_MS, (uint32_t)elapsed_ms);
	ncfx_put_u8(&w, NCFX_T_RELAY, (uint8_t)(n->cfg.relay != 0));
	n->h.queue(n->h.arg, &w);
	n->paths.direct_free(p);
	n->probe = NULL;
}

int
notify_probe(struct notify_session *n, uint16_t port, uint32_t reqid)
{
	n->probes++;
	n->probe_reqid = reqid;
	n->probe = n->paths.probe_new(n->paths.direct_env, &n->h, port, probe_done, n);
	return n->probe == NULL ? -1 : 0;
}

int
notify_tick(struct notify_session *n, time_t now, int busy)
{
	return pathsel_check(n->ps, now, busy);
}

void
notify_quiet(struct notify_session *n)
{
	if (n != NULL && n->d != NULL)
		delivery_quiet(n->d);
}

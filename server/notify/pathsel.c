/* pathsel.c: the path policy of one session. Paths report up, failed and their state here
 * (path_events); the session is reached only through its notify_host. */
#include "pathsel.h"

#include <stdio.h>
#include <stdlib.h>

#include "delivery.h"
#include "log.h"
#include "proto.h"

/* The direct path's backoff once it works again: prompt, as nothing else carries. */
#define DIRECT_RETRY_MAX 60

struct pathsel {
	const struct notify_host   *h;
	const struct notify_paths  *paths;
	const struct notify_config *cfg;
	struct delivery            *d;
	struct path_events          ev;     /* what the direct path reports to */
	void                       *direct; /* when the client registered a port */
	void                       *relay;  /* while in use */
	int                         path_told;  /* the path last reported to the client */
	char                        why[200];   /* ... and why */
	char                        direct_desc[200];
};

int
pathsel_wanted(const struct notify_host *h, const struct notify_config *cfg)
{
	return h->scp_port != 0 || (cfg->relay && h->notify_wanted &&
	    (h->path_pref == NCFX_PATH_RELAY || h->path_pref == NCFX_PATH_AUTO));
}

/* The operator's session list shows the path in use, why, and what the direct path does. */
static void
update_row(struct pathsel *ps)
{
	char row[460];
	int path = ps->d ? delivery_path(ps->d) : NCFX_PATH_NONE;

	if (path == NCFX_PATH_RELAY)
		snprintf(row, sizeof(row), "relay (%s)%s%s", ps->why,
		    ps->direct ? "; direct: " : "", ps->direct ? ps->direct_desc : "");
	else if (path == NCFX_PATH_DIRECT)
		snprintf(row, sizeof(row), "direct: %s", ps->direct_desc);
	else if (ps->direct)
		snprintf(row, sizeof(row), "none yet: %s", ps->direct_desc);
	else
		snprintf(row, sizeof(row), "none");
	ps->h->set_row(ps->h->arg, path, row);
}

/* Tells the client which path its notifications take now, and why, when that changes. */
static void
report_path(struct pathsel *ps)
{
	struct ncfx_wbuf w;
	int path = delivery_path(ps->d);

	update_row(ps);
	if (path == ps->path_told)
		return;
	ps->path_told = path;
	log_info("%s: notifications %s: %s", ps->h->tag,
	    path == NCFX_PATH_DIRECT ? "direct" : path == NCFX_PATH_RELAY ? "relayed" : "stopped",
	    ps->why);
	ncfx_wbuf_begin(&w, NCFX_MSG_NOTIFY_PATH, 0, 0);
	ncfx_put_u8(&w, NCFX_T_PATH, (uint8_t)path);
	ncfx_put_str(&w, NCFX_T_REASON, ps->why);
	ps->h->queue(ps->h->arg, &w);
}

static void
start_relay(struct pathsel *ps, const char *why)
{
	snprintf(ps->why, sizeof(ps->why), "%s", why);
	if (ps->relay == NULL)
		ps->relay = ps->paths->relay_new(ps->h, ps->d);
	if (ps->relay == NULL)
		log_warnx("%s: out of memory for the relay", ps->h->tag);
	/* The direct path keeps being tried, but patiently: the relay works meanwhile. */
	if (ps->direct)
		ps->paths->direct_set_retry(ps->direct, ps->cfg->direct_retry_min,
		    ps->cfg->direct_retry_max);
	report_path(ps);
}

static void
direct_up(void *arg, const char *target)
{
	struct pathsel *ps = arg;

	snprintf(ps->why, sizeof(ps->why), "the server reached %s", target);
	/* The direct path attached itself; the relay is no longer needed. */
	if (ps->relay) {
		ps->paths->relay_free(ps->relay);
		ps->relay = NULL;
	}
	ps->paths->direct_set_retry(ps->direct, 0, DIRECT_RETRY_MAX);
	report_path(ps);
}

static void
direct_failed(void *arg, const char *target, const char *why)
{
	struct pathsel *ps = arg;
	char msg[200];

	snprintf(msg, sizeof(msg), "connect-back to %s failed: %s", target, why);
	if (ps->relay)
		return;                     /* relayed already; the direct path is only retried */
	if (ps->h->path_pref == NCFX_PATH_AUTO && ps->cfg->relay) {
		start_relay(ps, msg);
		return;
	}
	snprintf(ps->why, sizeof(ps->why), "%s", msg);
	report_path(ps);
}

static void
direct_state(void *arg, const char *desc)
{
	struct pathsel *ps = arg;

	snprintf(ps->direct_desc, sizeof(ps->direct_desc), "%s", desc);
	if (ps->d)
		update_row(ps);
}

struct pathsel *
pathsel_new(const struct notify_host *h, const struct notify_paths *paths,
    const struct notify_config *cfg)
{
	struct pathsel *ps = calloc(1, sizeof(*ps));

	if (ps == NULL)
		return NULL;
	ps->h = h;
	ps->paths = paths;
	ps->cfg = cfg;
	ps->ev.up = direct_up;
	ps->ev.failed = direct_failed;
	ps->ev.state = direct_state;
	ps->ev.arg = ps;
	ps->path_told = -1;
	return ps;
}

void
pathsel_free(struct pathsel *ps)
{
	if (ps == NULL)
		return;
	if (ps->direct)
		ps->paths->direct_free(ps->direct);
	if (ps->relay)
		ps->paths->relay_free(ps->relay);
	free(ps);
}

static void
open_direct(struct pathsel *ps)
{
	ps->direct = ps->paths->direct_new(ps->paths->direct_env, ps->h, ps->d, ps->h->scp_port,
	    &ps->ev);
	if (ps->direct == NULL)
		log_warnx("%s: out of memory for its SCP", ps->h->tag);
}

void
pathsel_start(struct pathsel *ps, struct delivery *d)
{
	ps->d = d;
	ps->path_told = -1;
	if (ps->h->path_pref == NCFX_PATH_RELAY) {
		start_relay(ps, "the client asked for the relay");
		return;
	}
	if (ps->h->scp_port == 0) {
		if (ps->h->path_pref == NCFX_PATH_AUTO && ps->cfg->relay)
			start_relay(ps, "the client listens on no SCP port");
		return;
	}
	open_direct(ps);
}

void
pathsel_register(struct pathsel *ps)
{
	if (ps->direct) {
		ps->paths->direct_free(ps->direct);   /* detaches itself if it carried them */
		ps->direct = NULL;
	}
	/* The next path, even direct again, is news: it runs to another port. */
	ps->path_told = -1;
	if (ps->h->path_pref == NCFX_PATH_RELAY) {
		/* The client asked for the relay: a port does not change that. */
	} else if (ps->h->scp_port != 0) {
		open_direct(ps);
		if (ps->direct != NULL && ps->relay != NULL)
			ps->paths->direct_set_retry(ps->direct, 0, ps->cfg->direct_retry_max);
	} else if (ps->h->path_pref == NCFX_PATH_AUTO && ps->cfg->relay && ps->relay == NULL) {
		start_relay(ps, "the client withdrew its SCP port");
	} else {
		snprintf(ps->why, sizeof(ps->why), "the client withdrew its SCP port");
		report_path(ps);
	}
}

void
pathsel_retry_now(struct pathsel *ps)
{
	if (ps->direct)
		ps->paths->direct_retry_now(ps->direct);
}

int
pathsel_check(struct pathsel *ps, time_t now, int busy)
{
	char why[96];

	/* (During an upload the client cannot acknowledge: it is busy sending.) */
	if (ps->d == NULL || delivery_path(ps->d) != NCFX_PATH_RELAY || busy ||
	    delivery_stalled(ps->d, now) < NOTIFY_RELAY_ACK_TIMEOUT)
		return 0;
	/* Alive but not acknowledging: start over; a new login resends from the last
	 * acknowledged notification. */
	snprintf(why, sizeof(why), "relayed notifications unacknowledged for %d s",
	    NOTIFY_RELAY_ACK_TIMEOUT);
	ps->h->close(ps->h->arg, NCFX_E_TIMEOUT, why);
	return 1;
}

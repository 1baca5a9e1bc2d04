/* sipua_probe.c: registers with a SIP registrar through server/sip/sipua, places or answers
 * a call when asked, and prints each event as one line, so integration tests can drive the
 * user agent without netcfaxd. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "sipua.h"

struct probe {
	struct event_base *base;
	int  registered, failed;    /* counts so far */
	int  until_registered;      /* stop after this many REGISTERED events (0 = never) */
	int  until_failed;          /* stop after this many REG_FAILED events (0 = never) */
	struct sipua *ua;
	const char *call_to;        /* --call: the number to call once registered */
	char *sdp;                  /* --sdp-file: the offer, or the answer to an incoming call */
	const char *hangup_on;      /* --hangup-on progress|answered */
	int   answer;               /* --answer: the status for incoming calls */
	int   placed;
};

static void
on_event(const struct sipua_event *ev, void *arg)
{
	struct probe *p = arg;

	char err[SIPUA_ERR_MAX];
	unsigned id;

	printf("event %s status=%d expires=%u retry_in=%u contact=%s call=%u from=%s to=%s "
	       "sdp=%zu reason=%s\n",
	       sipua_event_name(ev->kind), ev->status, ev->expires, ev->retry_in,
	       ev->contact[0] ? ev->contact : "-", ev->call, ev->from[0] ? ev->from : "-",
	       ev->to[0] ? ev->to : "-", strlen(ev->sdp), ev->reason);
	if (ev->sdp[0])
		printf("sdp %u %s\n", ev->call, strstr(ev->sdp, "m=") ? strstr(ev->sdp, "m=") : "");
	fflush(stdout);
	if (ev->kind == SIPUA_REGISTERED && ++p->registered == p->until_registered)
		event_base_loopbreak(p->base);
	if (ev->kind == SIPUA_REGISTERED && p->call_to && !p->placed) {
		p->placed = 1;
		if (sipua_call(p->ua, p->call_to, p->sdp, &id, err, sizeof(err)) != 0)
			printf("call-error %s\n", err);
		else
			printf("calling %u\n", id);
		fflush(stdout);
	}
	if (p->hangup_on && ((ev->kind == SIPUA_CALL_PROGRESS &&
	    strcmp(p->hangup_on, "progress") == 0) || (ev->kind == SIPUA_CALL_ANSWERED &&
	    strcmp(p->hangup_on, "answered") == 0)))
		sipua_hangup(p->ua, ev->call);
	if (ev->kind == SIPUA_CALL_INCOMING && p->answer &&
	    sipua_answer(p->ua, ev->call, p->answer, p->sdp, err, sizeof(err)) != 0) {
		printf("answer-error %s\n", err);
		fflush(stdout);
	}
	if (ev->kind == SIPUA_REG_FAILED && ++p->failed == p->until_failed)
		event_base_loopbreak(p->base);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, SIPUA_SDP_MAX);
	size_t n;

	if (f == NULL || buf == NULL) {
		fprintf(stderr, "sipua_probe: %s: cannot read\n", path);
		exit(2);
	}
	n = fread(buf, 1, SIPUA_SDP_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sipua_probe --registrar HOST:PORT --user U --password-file F\n"
	        "  [--domain D] [--transport udp|tcp] [--bind ADDR] [--port N] [--expires S]\n"
	        "  [--keepalive S] [--t1-ms MS] [--until-registered N] [--until-failed N]\n"
	        "  [--run-for S] [--call NUMBER --sdp-file F [--hangup-on progress|answered]]\n"
	        "  [--answer STATUS [--sdp-file F]]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sipua_options o;
	struct probe p;
	struct sipua *ua;
	struct event *sigint, *sigterm, *timer = NULL;
	struct timeval tv = { 0, 0 };
	char err[SIPUA_ERR_MAX];
	int i;

	memset(&o, 0, sizeof(o));
	memset(&p, 0, sizeof(p));
	o.bind_addr = "127.0.0.1";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(a, "--registrar") == 0) o.registrar = v;
		else if (strcmp(a, "--user") == 0) o.user = v;
		else if (strcmp(a, "--domain") == 0) o.domain = v;
		else if (strcmp(a, "--password-file") == 0) o.password_file = v;
		else if (strcmp(a, "--transport") == 0) o.transport = v;
		else if (strcmp(a, "--bind") == 0) o.bind_addr = v;
		else if (strcmp(a, "--port") == 0) o.bind_port = (uint16_t)atoi(v);
		else if (strcmp(a, "--expires") == 0) o.expires = (unsigned)atoi(v);
		else if (strcmp(a, "--keepalive") == 0) o.keepalive = (unsigned)atoi(v);
		else if (strcmp(a, "--t1-ms") == 0) o.t1_ms = (unsigned)atoi(v);
		else if (strcmp(a, "--until-registered") == 0) p.until_registered = atoi(v);
		else if (strcmp(a, "--until-failed") == 0) p.until_failed = atoi(v);
		else if (strcmp(a, "--run-for") == 0) tv.tv_sec = atoi(v);
		else if (strcmp(a, "--call") == 0) p.call_to = v;
		else if (strcmp(a, "--sdp-file") == 0) p.sdp = read_file(v);
		else if (strcmp(a, "--hangup-on") == 0) p.hangup_on = v;
		else if (strcmp(a, "--answer") == 0) p.answer = atoi(v);
		else usage();
		i++;
	}
	if ((p.base = event_base_new()) == NULL)
		return 1;
	sigint = evsignal_new(p.base, SIGINT, on_signal, p.base);
	sigterm = evsignal_new(p.base, SIGTERM, on_signal, p.base);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	if (tv.tv_sec > 0) {
		timer = evtimer_new(p.base, on_signal, p.base);
		evtimer_add(timer, &tv);
	}
	if ((ua = p.ua = sipua_new(p.base, &o, on_event, &p, err, sizeof(err))) == NULL) {
		printf("error %s\n", err);
		return 1;
	}
	printf("started\n");
	fflush(stdout);
	event_base_dispatch(p.base);
	sipua_free(ua);
	printf("stopped\n");
	if (timer)
		event_free(timer);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(p.base);
	free(p.sdp);
	return 0;
}

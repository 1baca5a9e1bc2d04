/* watch_common.c: what watch and send --wait share: watcher options from client.conf, and
 * printing notifications and status for people (text) or scripts (JSON lines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "password.h"
#include "proto.h"

void
cli_print_notification(struct cli *cli, const struct ncfx_notification *n)
{
	char when[16];
	time_t t = (time_t)n->created;

	if (cli->json) {
		printf("{\"type\":\"notification\",\"seq\":%llu,\"event\":",
		    (unsigned long long)n->seq);
		json_print_str(stdout, n->event_name);
		if (n->job_id) {
			printf(",\"job\":%llu,\"state\":", (unsigned long long)n->job_id);
			json_print_str(stdout, n->state_name);
		}
		printf(",\"text\":");
		json_print_str(stdout, n->text);
		if (n->dest[0]) {
			printf(",\"dest\":");
			json_print_str(stdout, n->dest);
		}
		if (n->filename[0]) {
			printf(",\"filename\":");
			json_print_str(stdout, n->filename);
		}
		if (n->pages)
			printf(",\"page\":%u,\"pages\":%u", n->page, n->pages);
		if (n->bit_rate)
			printf(",\"bit_rate\":%u,\"ecm\":%s", n->bit_rate, n->ecm ? "true" : "false");
		if (n->remote_id && n->remote_id[0]) {
			printf(",\"remote_id\":");
			json_print_str(stdout, n->remote_id);
		}
		if (n->media && n->media[0]) {
			printf(",\"media\":");
			json_print_str(stdout, n->media);
		}
		if (n->fax_id)
			printf(",\"fax\":%llu", (unsigned long long)n->fax_id);
		printf(",\"created\":%lld}\n", (long long)n->created);
	} else {
		struct tm tmv;

		if (localtime_r(&t, &tmv) == NULL ||
		    strftime(when, sizeof(when), "%H:%M:%S", &tmv) == 0)
			snprintf(when, sizeof(when), "?");
		printf("%s  #%-5llu %-14s %s\n", when, (unsigned long long)n->seq, n->event_name,
		    n->text);
	}
	fflush(stdout);
}

void
cli_print_path(struct cli *cli, int path, const char *why)
{
	const char *name = path == NCFX_WATCH_PATH_DIRECT ? "direct" :
	    path == NCFX_WATCH_PATH_RELAY ? "relay" : "none";

	if (cli->json) {
		printf("{\"type\":\"path\",\"path\":\"%s\",\"reason\":", name);
		json_print_str(stdout, why);
		printf("}\n");
		fflush(stdout);
	} else if (path == NCFX_WATCH_PATH_DIRECT)
		fprintf(stderr, "netcfax: notifications come direct to this machine (%s)\n", why);
	else if (path == NCFX_WATCH_PATH_RELAY)
		fprintf(stderr, "netcfax: notifications are relayed over the connection to the "
		    "server (%s)\n", why);
	else
		fprintf(stderr, "netcfax: no way for notifications to reach this machine now (%s)\n",
		    why);
}

void
cli_print_status(struct cli *cli, int level, const char *what)
{
	if (cli->json) {
		printf("{\"type\":\"status\",\"level\":\"%s\",\"message\":",
		    level == NCFX_WATCH_WARN ? "warn" : "info");
		json_print_str(stdout, what);
		printf("}\n");
		fflush(stdout);
	} else
		fprintf(stderr, "netcfax: %s\n", what);
}

int
cli_watch_options(struct cli *cli, struct ncfx_watch_options *o, char *pw, size_t pwcap)
{
	char prompt[128], err[300];
	int lo, hi;

	memset(o, 0, sizeof(*o));
	if (cli->cfg.server[0] == '\0')
		return cli_error(cli, CLI_USAGE, "no server: set 'server' in %s or use --server "
		    "HOST", cli->config_path);
	if (cli->cfg.user[0] == '\0')
		return cli_error(cli, CLI_USAGE, "no user: set 'user' in %s or use --user NAME",
		    cli->config_path);
	cli_conn_options(cli, &o->conn);
	o->user = cli->cfg.user;
	if (strcmp(cli->cfg.scp_mode, "fixed") == 0) {
		o->scp_mode = NCFX_SCP_SET_FIXED;
		o->scp_port = (int)cli->cfg.scp_port;
	} else if (strcmp(cli->cfg.scp_mode, "range") == 0) {
		if (sscanf(cli->cfg.scp_range, "%d-%d", &lo, &hi) != 2)
			return cli_error(cli, CLI_USAGE, "scp_range '%s' is not LOW-HIGH, e.g. "
			    "7500-7599", cli->cfg.scp_range);
		o->scp_mode = NCFX_SCP_SET_RANGE;
		o->scp_port_min = lo;
		o->scp_port_max = hi;
	} else
		o->scp_mode = NCFX_SCP_SET_DYNAMIC;
	o->scp_listen = cli->cfg.scp_listen;
	o->portmap = cli->cfg.portmap;
	o->portmap_lease = (int)cli->cfg.portmap_lease;
	o->want_path = strcmp(cli->cfg.scp, "relay") == 0 ? NCFX_WATCH_WANT_RELAY :
	    strcmp(cli->cfg.scp, "direct") == 0 ? NCFX_WATCH_WANT_DIRECT : NCFX_WATCH_WANT_AUTO;
	o->heartbeat = (int)cli->cfg.heartbeat;
	o->handle_signals = 1;
	snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", cli->cfg.user, cli->cfg.server);
	if (password_obtain(cli->cfg.password_file, prompt, 0, pw, pwcap, err, sizeof(err)) < 0)
		return cli_error(cli, CLI_USAGE, "%s", err);
	o->password = pw;
	return CLI_OK;
}

int
cli_watch_fail(struct cli *cli, ncfx_watch *w, ncfx_status st)
{
	return cli_report(cli, st, ncfx_watch_server_code(w), ncfx_watch_errmsg(w), 0);
}

int
cli_watch_run(struct cli *cli, const struct ncfx_watch_options *cb,
    int (*done)(struct cli *, ncfx_watch *, ncfx_status, void *), void *arg)
{
	struct ncfx_watch_options o;
	char pw[NCFX_PASSWORD_MAX + 1], err[400];
	ncfx_watch *w;
	ncfx_status st;
	int rc;

	cli->stream = 1;
	if ((rc = cli_watch_options(cli, &o, pw, sizeof(pw))) != CLI_OK)
		return rc;
	o.on_notify = cb->on_notify;
	o.on_status = cb->on_status;
	o.on_login = cb->on_login;
	o.on_path = cb->on_path;
	o.arg = cb->arg;
	if ((w = ncfx_watch_new(&o, err, sizeof(err))) == NULL)
		rc = cli_error(cli, CLI_USAGE, "%s", err);
	else {
		st = ncfx_watch_run(w);
		rc = done ? done(cli, w, st, arg) :
		    st == NCFX_OK ? CLI_OK : cli_watch_fail(cli, w, st);
		ncfx_watch_free(w);
	}
	explicit_bzero(pw, sizeof(pw));
	return rc;
}

/* cmd_send.c: netcfax send FILE... --to NUMBER: upload documents as one new fax job (a cover
 * page first with --cover-from, --cover-to or --subject); with --wait,
 * follow it to its end (a live progress line on a terminal). */
#include "cli.h"

#include <string.h>
#include <unistd.h>

#include "proto.h"

static void
progress(uint64_t sent, uint64_t total, void *arg)
{
	struct cli *cli = arg;

	/* A progress line only for a person watching; scripts get the final result. */
	if (cli->json || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\ruploading: %3u%% (%llu of %llu bytes)", (unsigned)(sent * 100 / total),
	    (unsigned long long)sent, (unsigned long long)total);
	if (sent == total)
		fputc('\n', stderr);
}

static void
print_job(struct cli *cli, const struct ncfx_job *j)
{
	if (cli->json) {
		printf("{\"job\":");
		cli_print_job_json(stdout, j);
		printf("}\n");
	} else
		printf("job %llu queued: %s to %s (%llu bytes, %u page%s)\n",
		    (unsigned long long)j->id, j->filename, j->dest, (unsigned long long)j->size,
		    j->pages, j->pages == 1 ? "" : "s");
	fflush(stdout);
}

/* send --wait: submit right after the watcher's first login, then wait for the job's end. */
struct wait_ctx {
	struct cli     *cli;
	struct ncfx_job job;
	int             submitted;
	int             failed_rc;
	int             line_shown;    /* a progress line is on the terminal */
};

static int
wait_login(ncfx_watch *w, ncfx_client *c, int first, void *arg)
{
	struct wait_ctx *x = arg;
	ncfx_status st;

	if (!first)
		return 0;
	st = ncfx_submit_files(c, (const char *const *)x->cli->argv, x->cli->argc, x->cli->to,
	    &x->cli->submit, progress, x->cli, &x->job);
	if (st != NCFX_OK) {
		x->failed_rc = cli_fail(x->cli, c, st);
		ncfx_watch_stop(w, x->failed_rc);
		return 1;
	}
	x->submitted = 1;
	print_job(x->cli, &x->job);
	return 0;
}

/* On a terminal, the job's call is one line that changes: dialling, connected, page 2 of 5
 * at 14400 bit/s. Returns 1 when n was shown that way. */
static int
progress_line(struct wait_ctx *x, const struct ncfx_notification *n)
{
	char line[300];

	if (x->cli->json || !isatty(STDERR_FILENO))
		return 0;
	if (!x->submitted || n->job_id != x->job.id) {
		if (x->line_shown)
			fputs("\r\033[K", stderr);    /* the other notification gets a clean line */
		x->line_shown = 0;
		return 0;
	}
	if (n->event == NCFX_EV_JOB_ACTIVE)
		snprintf(line, sizeof(line), "job %llu: %s", (unsigned long long)n->job_id, n->text);
	else if (n->event == NCFX_EV_JOB_PAGE && n->page == 0)
		snprintf(line, sizeof(line), "job %llu: %s", (unsigned long long)n->job_id, n->text);
	else if (n->event == NCFX_EV_JOB_PAGE)
		snprintf(line, sizeof(line), "job %llu: page %u/%u at %u bit/s%s%s%s",
		    (unsigned long long)n->job_id, n->page, n->pages, n->bit_rate,
		    n->ecm ? ", ECM" : "", n->remote_id[0] ? " to " : "", n->remote_id);
	else {
		if (x->line_shown)
			fputs("\r\033[K", stderr);
		x->line_shown = 0;
		return 0;
	}
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	x->line_shown = 1;
	return 1;
}

static void
wait_notify(ncfx_watch *w, const struct ncfx_notification *n, void *arg)
{
	struct wait_ctx *x = arg;

	/* Everything that arrives is shown: it is acknowledged, so a later watch will not. */
	if (!progress_line(x, n))
		cli_print_notification(x->cli, n);
	if (!x->submitted || n->job_id != x->job.id)
		return;
	switch (n->state) {
	case NCFX_JOB_DONE:
		ncfx_watch_stop(w, CLI_OK);
		break;
	case NCFX_JOB_FAILED:
		ncfx_watch_stop(w, CLI_JOB_FAILED);
		break;
	case NCFX_JOB_CANCELLED:
		ncfx_watch_stop(w, CLI_JOB_CANCELLED);
		break;
	default:
		break;
	}
}

static void
wait_status(ncfx_watch *w, int level, const char *what, void *arg)
{
	struct wait_ctx *x = arg;

	(void)w;
	/* Only trouble is worth a line here; the job's own progress comes as notifications. */
	if (level == NCFX_WATCH_WARN || x->cli->verbose)
		cli_print_status(x->cli, level, what);
}

static int
wait_done(struct cli *cli, ncfx_watch *w, ncfx_status st, void *arg)
{
	struct wait_ctx *x = arg;

	if (x->line_shown)
		fputc('\n', stderr);
	if (x->failed_rc)
		return x->failed_rc;
	if (st != NCFX_OK)
		return cli_watch_fail(cli, w, st);
	if (ncfx_watch_stop_code(w) < 0) {
		/* Interrupted before the job ended: it goes on at the server. */
		fprintf(stderr, "netcfax: stopped waiting; job %llu continues (netcfax jobs)\n",
		    (unsigned long long)x->job.id);
		return CLI_INTERRUPTED;
	}
	return ncfx_watch_stop_code(w);
}

static int
send_and_wait(struct cli *cli)
{
	struct ncfx_watch_options cb = { 0 };
	struct wait_ctx x;

	memset(&x, 0, sizeof(x));
	x.cli = cli;
	cb.on_login = wait_login;
	cb.on_notify = wait_notify;
	cb.on_status = wait_status;
	cb.arg = &x;
	return cli_watch_run(cli, &cb, wait_done, &x);
}

int
cmd_send(struct cli *cli)
{
	struct ncfx_job j;
	ncfx_client *c;
	ncfx_status st;
	int rc;

	if (cli->argc < 1 || cli->argc > (int)NCFX_PARTS_MAX)
		return cli_error(cli, CLI_USAGE, "send takes 1 to %u documents: netcfax send "
		    "FILE... --to NUMBER", NCFX_PARTS_MAX);
	if (cli->to == NULL)
		return cli_error(cli, CLI_USAGE, "send needs a fax number: --to NUMBER");
	for (int i = 0; i < cli->argc; i++)
		if (access(cli->argv[i], R_OK) != 0)
			return cli_error(cli, CLI_NOINPUT, "cannot read %s", cli->argv[i]);
	if (cli->wait)
		return send_and_wait(cli);
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	st = ncfx_submit_files(c, (const char *const *)cli->argv, cli->argc, cli->to,
	    &cli->submit, progress, cli, &j);
	if (st != NCFX_OK) {
		rc = cli_fail(cli, c, st);
		ncfx_client_free(c);
		return rc;
	}
	print_job(cli, &j);
	ncfx_client_free(c);
	return CLI_OK;
}

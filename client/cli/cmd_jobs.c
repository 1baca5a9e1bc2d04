/* cmd_jobs.c: netcfax jobs (or status): the user's own jobs, newest last. */
#include "cli.h"

#include <time.h>

struct jobs_ctx {
	struct cli *cli;
	int         n;
};

static int
one_job(const struct ncfx_job *j, void *arg)
{
	struct jobs_ctx *x = arg;
	char when[32];
	struct tm tmv;
	time_t t = (time_t)j->created;

	if (x->cli->json) {
		if (x->n)
			putchar(',');
		cli_print_job_json(stdout, j);
	} else {
		if (x->n == 0)
			printf("%-6s %-10s %-20s %5s  %-16s %s\n", "ID", "STATE", "TO", "PAGES",
			    "SUBMITTED", "FILE");
		if (localtime_r(&t, &tmv) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tmv) == 0)
			snprintf(when, sizeof(when), "?");
		printf("%-6llu %-10s %-20s %5u  %-16s %s\n", (unsigned long long)j->id,
		    j->state_name, j->dest, j->pages, when, j->filename);
		/* What it is doing or waiting for, or how it ended. */
		if (j->text[0])
			printf("       %s\n", j->text);
	}
	x->n++;
	return 0;
}

int
cmd_jobs(struct cli *cli)
{
	struct jobs_ctx x = { cli, 0 };
	ncfx_client *c;
	ncfx_status st;
	int rc;

	if ((rc = cli_no_options(cli)) >= 0)
		return rc;
	if (cli->argc != 0)
		return cli_error(cli, CLI_USAGE, "jobs takes no arguments");
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	if (cli->json)
		printf("{\"jobs\":[");
	st = ncfx_jobs(c, one_job, &x);
	if (st != NCFX_OK) {
		if (cli->json)
			printf("],\"incomplete\":true}\n");
		rc = cli_fail(cli, c, st);
		ncfx_client_free(c);
		return rc;
	}
	if (cli->json)
		printf("]}\n");
	else if (x.n == 0)
		printf("no jobs\n");
	ncfx_client_free(c);
	return CLI_OK;
}

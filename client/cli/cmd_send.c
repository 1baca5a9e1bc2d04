/* cmd_send.c: netcfax send FILE --to NUMBER: upload a document as a new fax job. */
#include "cli.h"

#include <unistd.h>

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

int
cmd_send(struct cli *cli)
{
	struct ncfx_job j;
	ncfx_client *c;
	ncfx_status st;
	int rc;

	if (cli->argc != 1)
		return cli_error(cli, CLI_USAGE, "send needs exactly one document: netcfax send "
		    "FILE --to NUMBER");
	if (cli->to == NULL)
		return cli_error(cli, CLI_USAGE, "send needs a fax number: --to NUMBER");
	if (access(cli->argv[0], R_OK) != 0)
		return cli_error(cli, CLI_NOINPUT, "cannot read %s", cli->argv[0]);
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	st = ncfx_submit(c, cli->argv[0], cli->to, progress, cli, &j);
	if (st != NCFX_OK) {
		rc = cli_fail(cli, c, st);
		ncfx_client_free(c);
		return rc;
	}
	if (cli->json) {
		printf("{\"job\":");
		cli_print_job_json(stdout, &j);
		printf("}\n");
	} else
		printf("job %llu queued: %s to %s (%llu bytes, %u page%s)\n",
		    (unsigned long long)j.id, j.filename, j.dest, (unsigned long long)j.size,
		    j.pages, j.pages == 1 ? "" : "s");
	ncfx_client_free(c);
	return CLI_OK;
}

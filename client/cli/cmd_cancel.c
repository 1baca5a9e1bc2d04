/* cmd_cancel.c: netcfax cancel ID: cancel one of the user's own jobs. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

int
cmd_cancel(struct cli *cli)
{
	struct ncfx_job j;
	unsigned long long id;
	char *end;
	ncfx_client *c;
	ncfx_status st;
	int rc;

	if (cli->argc != 1)
		return cli_error(cli, CLI_USAGE, "cancel needs a job id: netcfax cancel ID");
	errno = 0;
	id = strtoull(cli->argv[0], &end, 10);
	if (*end != '\0' || end == cli->argv[0] || errno != 0 || id == 0)
		return cli_error(cli, CLI_USAGE, "'%s' is not a job id (see: netcfax jobs)",
		    cli->argv[0]);
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	st = ncfx_cancel(c, id, &j);
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
		printf("job %llu cancelled\n", id);
	ncfx_client_free(c);
	return CLI_OK;
}

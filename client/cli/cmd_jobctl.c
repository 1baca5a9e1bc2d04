/* cmd_jobctl.c: netcfax cancel|suspend|resume ID: act on one of the user's own jobs. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A job or fax id as typed: 1 or more. 0 when it is not one. */
unsigned long long
cli_parse_id(const char *s)
{
	unsigned long long id;
	char *end;

	errno = 0;
	id = strtoull(s, &end, 10);
	if (*end != '\0' || end == s || errno != 0 || s[0] == '-')
		return 0;
	return id;
}

static int
job_action(struct cli *cli, const char *verb, const char *done,
    ncfx_status (*fn)(ncfx_client *, uint64_t, struct ncfx_job *))
{
	struct ncfx_job j;
	unsigned long long id;
	ncfx_client *c;
	ncfx_status st;
	int rc;

	if ((rc = cli_no_options(cli)) >= 0)
		return rc;
	if (cli->argc != 1)
		return cli_error(cli, CLI_USAGE, "%s needs a job id: netcfax %s ID", verb, verb);
	if ((id = cli_parse_id(cli->argv[0])) == 0)
		return cli_error(cli, CLI_USAGE, "'%s' is not a job id (see: netcfax jobs)",
		    cli->argv[0]);
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	st = fn(c, id, &j);
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
		printf("job %llu %s%s%s\n", id, done, j.text[0] ? ": " : "", j.text);
	ncfx_client_free(c);
	return CLI_OK;
}

int
cmd_cancel(struct cli *cli)
{
	return job_action(cli, "cancel", "cancelled", ncfx_cancel);
}

int
cmd_suspend(struct cli *cli)
{
	return job_action(cli, "suspend", "suspended", ncfx_suspend);
}

int
cmd_resume(struct cli *cli)
{
	return job_action(cli, "resume", "resumed", ncfx_resume);
}

/* cmd_trust.c: netcfax trust: pin the certificate the server presents now (after the operator
 * confirmed a change), or exactly the fingerprint given with --fingerprint. */
#include "cli.h"

#include "json.h"

int
cmd_trust(struct cli *cli)
{
	ncfx_client *c;
	int rc;

	if (cli->argc != 0)
		return cli_error(cli, CLI_USAGE, "trust takes no arguments (maybe --fingerprint "
		    "SHA256:...)");
	if (cli->cfg.ca_file[0])
		return cli_error(cli, CLI_USAGE, "ca_file is set: the server is verified against "
		    "that CA, not pinned");
	cli->trust = 1;
	if ((rc = cli_open(cli, 0, &c)) != CLI_OK)
		return rc;
	if (cli->json) {
		printf("{\"pinned\":");
		json_print_str(stdout, ncfx_client_fingerprint(c));
		printf(",\"server\":");
		json_print_str(stdout, cli->cfg.server);
		printf(",\"port\":%lld}\n", cli->cfg.port);
	} else
		printf("pinned %s:%lld %s\n", cli->cfg.server, cli->cfg.port,
		    ncfx_client_fingerprint(c));
	ncfx_client_free(c);
	return CLI_OK;
}

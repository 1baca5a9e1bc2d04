/* cmd_trust.c: netcfax trust: pin the certificate the server presents now (after the operator
 * confirmed a change), or exactly the fingerprint given with --fingerprint. */
#include "cli.h"

#include "json.h"

enum { O_FP = 256 };

const struct cli_option trust_options[] = {
	{ "fingerprint", required_argument, O_FP, "SHA256:...", "pin only if the server presents "
	  "this one" },
	{ NULL, 0, 0, NULL, NULL }
};

int
cmd_trust(struct cli *cli)
{
	const char *fingerprint = NULL;
	ncfx_client *c;
	int rc;

	while (cli_getopt(cli, trust_options) != -1)
		fingerprint = optarg;    /* --fingerprint, the only one */
	if ((rc = cli_ready(cli)) >= 0)
		return rc;

	if (cli->argc != 0)
		return cli_error(cli, CLI_USAGE, "trust takes no arguments (maybe --fingerprint "
		    "SHA256:...)");
	if (cli->cfg.ca_file[0])
		return cli_error(cli, CLI_USAGE, "ca_file is set: the server is verified against "
		    "that CA, not pinned");
	if ((rc = cli_open_repin(cli, fingerprint, &c)) != CLI_OK)
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

/* cmd_login.c: netcfax login: check that the server is reachable and the credentials work. */
#include "cli.h"

#include <inttypes.h>

#include "json.h"

int
cmd_login(struct cli *cli)
{
	ncfx_client *c;
	int rc;

	if ((rc = cli_no_options(cli)) >= 0)
		return rc;
	if (cli->argc != 0)
		return cli_error(cli, CLI_USAGE, "login takes no arguments");
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	if (cli->json) {
		printf("{\"ok\":true,\"server\":");
		json_print_str(stdout, cli->cfg.server);
		printf(",\"port\":%lld,\"user\":", cli->cfg.port);
		json_print_str(stdout, cli->session.user);
		/* A string of 16 hex digits, as the server's log and netcfax-admin show it. */
		printf(",\"session_id\":\"%016" PRIx64 "\",\"observed_addr\":",
		    cli->session.session_id);
		json_print_str(stdout, cli->session.observed_addr);
		printf(",\"server_name\":");
		json_print_str(stdout, ncfx_client_server_name(c));
		printf(",\"fingerprint\":");
		json_print_str(stdout, ncfx_client_fingerprint(c));
		printf("}\n");
	} else
		printf("logged in to %s:%lld as %s (session %016" PRIx64 ")\n", cli->cfg.server,
		    cli->cfg.port, cli->session.user, cli->session.session_id);
	ncfx_client_free(c);
	return CLI_OK;
}

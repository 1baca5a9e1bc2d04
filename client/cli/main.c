/* main.c: netcfax, the command-line fax client: the commands, the overall help, and finding
 * the command on the line; the command parses its options (args.c) and runs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

const struct cli_command cli_commands[] = {
	{ "login", cmd_login, 1, "", "check that you can log in to the server", NULL, NULL },
	{ "send", cmd_send, 1, "FILE... --to NUMBER|NAME [--wait]",
	  "fax documents (PDF, PostScript, TIFF or plain text; up to 16, as one fax; - reads one "
	  "from standard input) to NUMBER, or to the number of NAME in your address book; "
	  "--resolution fine|standard (default fine), --paper a4|letter (default a4), --at TIME, "
	  "--retries N, --dials N, --kill-after DURATION, --priority 1-255, a cover page with "
	  "--cover-from TEXT, --cover-to TEXT, --subject TEXT; --wait: show its progress until "
	  "it ends",
	  "With - the document comes from standard input (a pipe): e.g.\n"
	  "  pdftops report.pdf - | netcfax send - --to 5550100\n"
	  "It is read whole first, up to the server's max_document_size.\n", send_options },
	{ "jobs", cmd_jobs, 1, "", "list your fax jobs and their states", NULL, NULL },
	{ "status", cmd_jobs, 1, "", "the same as jobs", NULL, NULL },
	{ "cancel", cmd_cancel, 1, "ID", "cancel one of your jobs (hangs up if it is on a line)",
	  NULL, NULL },
	{ "suspend", cmd_suspend, 1, "ID", "hold a waiting job until you resume it", NULL, NULL },
	{ "resume", cmd_resume, 1, "ID", "let a suspended job go again", NULL, NULL },
	{ "inbox", cmd_inbox, 1, "[--unread | read ID | unread ID | delete ID]",
	  "the faxes received for you (* marks new ones)", NULL, inbox_options },
	{ "fetch", cmd_fetch, 1, "ID [-o FILE] [--format pdf|tiff]",
	  "save a received fax (default fax-ID.pdf) and mark it read", NULL, fetch_options },
	{ "watch", cmd_watch, 1, "[--exec CMD]",
	  "stay logged in and print notifications as they arrive", NULL, watch_options },
	{ "book", cmd_book, 0, "[list | add NAME NUMBER [--note TEXT] | remove NAME]",
	  "your address book of named recipients, for send --to NAME",
	  "A name starts with a letter (then letters, digits, '.', '_', '-'); a number has\n"
	  "digits and + - ( ) . * # or spaces. So 'send --to' knows which it got. The book is\n"
	  "~/.config/netcfax/addressbook (address_book in client.conf), at most 1000 names.\n",
	  book_options },
	{ "portmap", cmd_portmap, 0, "status|open PORT|list|remove PORT",
	  "router port mappings by hand (UPnP, NAT-PMP; --via, --lease S, --all)", NULL,
	  portmap_options },
	{ "trust", cmd_trust, 0, "[--fingerprint SHA256:...]",
	  "pin the server's current certificate (after its operator confirmed a change)",
	  "Without --fingerprint, pins whatever the server presents: compare it with\n"
	  "'netcfax-admin fingerprint' on the server first.\n", trust_options },
	{ NULL, NULL, 0, NULL, NULL, NULL, NULL }
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: netcfax [OPTIONS] COMMAND [ARGS]\n"
	    "\n"
	    "The netcfax fax client.\n"
	    "\n"
	    "Commands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(out, "  %-7s %-28s %s\n", c->name, c->args, c->help);
	fprintf(out,
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE        client configuration (default ~/.config/netcfax/client.conf)\n"
	    "  -S, --server HOST        server host name or address\n"
	    "  -P, --port PORT          server's Primary Connection Port (default 7488)\n"
	    "  -u, --user NAME          your user name\n"
	    "      --password-file FILE read the password from FILE\n"
	    "      --known-servers FILE pinned server certificates\n"
	    "      --ca-file FILE       verify the server against a CA instead of pinning\n"
	    "      --json               machine-readable output on stdout\n"
	    "      --scp PATH           notifications: auto (default), direct or relay\n"
	    "      --scp-mode MODE      notifications port: dynamic (default), fixed or range\n"
	    "      --portmap HOW        map the SCP on the router: auto (default), upnp, natpmp, off\n"
	    "      --scp-port PORT      the port in fixed mode (default 7485)\n"
	    "      --scp-range LOW-HIGH the ports in range mode (default 7500-7599)\n"
	    "  -v, --verbose            say more about what happens\n"
	    "  -h, --help               this help; 'netcfax COMMAND --help' for one command\n"
	    "\n"
	    "Each setting comes from the command line, else the environment (NETCFAX_SERVER,\n"
	    "NETCFAX_PORT, NETCFAX_USER), else client.conf, else its default.\n"
	    "The password comes from NETCFAX_PASSWORD, --password-file or a prompt.\n"
	    "Exit codes: 0 ok, 1 refused by the server, 2 server unreachable, 3 server identity\n"
	    "changed, 4 login failed, 5 fax failed (send --wait), 6 job cancelled (send --wait),\n"
	    "7 connection lost after the document was sent (the job may exist: see 'jobs'),\n"
	    "64 usage, 66 document unreadable, 70 internal error.\n"
	    "Times for --at: +30m, 14:30 (the next one), \"2026-12-01 09:00\", @UNIXTIME.\n");
}

int
main(int argc, char **argv)
{
	static char default_conf[1100];
	struct cli cli = { 0 };
	const struct cli_command *cmd;
	const char *home = getenv("HOME");
	int at, help;

	log_init("netcfax", LOG_LVL_WARN);
	/* A server that vanishes mid-write must be an error we report, not a signal that kills. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(default_conf, sizeof(default_conf), "%s/.config/netcfax/client.conf",
	    home ? home : ".");
	cli.config_path = default_conf;
	if ((at = cli_args_find(argc, argv, &help)) < 0)
		return CLI_USAGE;
	if (at == 0) {
		usage(help ? stdout : stderr);
		return help ? CLI_OK : CLI_USAGE;
	}
	for (cmd = cli_commands; cmd->name; cmd++)
		if (strcmp(cmd->name, argv[at]) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "netcfax: unknown command '%s' (see netcfax --help)\n", argv[at]);
		return CLI_USAGE;
	}
	/* The command parses the whole line again: its options and the global ones. */
	cli_args_start(cmd, argc, argv);
	return cmd->fn(&cli);
}

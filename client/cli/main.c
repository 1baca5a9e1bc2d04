/* main.c: netcfax, the command-line fax client: options, client.conf, then one command. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "cli.h"
#include "log.h"

struct command {
	const char *name;
	int       (*fn)(struct cli *);
	int         needs_login;
	const char *args;
	const char *help;
};

static const struct command commands[] = {
	{ "login", cmd_login, 1, "", "check that you can log in to the server" },
	{ "send", cmd_send, 1, "FILE... --to NUMBER|NAME [--wait]",
	  "fax documents (PDF, PostScript, TIFF or plain text; up to 16, as one fax; - reads one "
	  "from standard input) to NUMBER, or to the number of NAME in your address book; "
	  "--resolution fine|standard (default fine), --paper a4|letter (default a4), --at TIME, "
	  "--retries N, --dials N, --kill-after DURATION, --priority 1-255, a cover page with "
	  "--cover-from TEXT, --cover-to TEXT, --subject TEXT; --wait: show its progress until "
	  "it ends" },
	{ "jobs", cmd_jobs, 1, "", "list your fax jobs and their states" },
	{ "status", cmd_jobs, 1, "", "the same as jobs" },
	{ "cancel", cmd_cancel, 1, "ID", "cancel one of your jobs (hangs up if it is on a line)" },
	{ "suspend", cmd_suspend, 1, "ID", "hold a waiting job until you resume it" },
	{ "resume", cmd_resume, 1, "ID", "let a suspended job go again" },
	{ "inbox", cmd_inbox, 1, "[--unread | read ID | unread ID | delete ID]",
	  "the faxes received for you (* marks new ones)" },
	{ "fetch", cmd_fetch, 1, "ID [-o FILE] [--format pdf|tiff]",
	  "save a received fax (default fax-ID.pdf) and mark it read" },
	{ "watch", cmd_watch, 1, "[--exec CMD]",
	  "stay logged in and print notifications as they arrive" },
	{ "book", cmd_book, 0, "[list | add NAME NUMBER [--note TEXT] | remove NAME]",
	  "your address book of named recipients, for send --to NAME" },
	{ "portmap", cmd_portmap, 0, "status|open PORT|list|remove PORT",
	  "router port mappings by hand (UPnP, NAT-PMP; --via, --lease S, --all)" },
	{ "trust", cmd_trust, 0, "[--fingerprint SHA256:...]",
	  "pin the server's current certificate (after its operator confirmed a change)" },
	{ NULL, NULL, 0, NULL, NULL }
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
	for (const struct command *c = commands; c->name; c++)
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

static void
command_usage(const struct command *c)
{
	printf("usage: netcfax [OPTIONS] %s %s\n\n%s.\n", c->name, c->args, c->help);
	if (c->needs_login)
		printf("\nLogs in as the configured user; see 'netcfax --help' for options.\n");
	if (strcmp(c->name, "book") == 0)
		printf("\nA name starts with a letter (then letters, digits, '.', '_', '-'); a number "
		    "has\ndigits and + - ( ) . * # or spaces. So 'send --to' knows which it got. The "
		    "book is\n~/.config/netcfax/addressbook (address_book in client.conf), at most "
		    "1000 names.\n");
	if (strcmp(c->name, "send") == 0)
		printf("\nWith - the document comes from standard input (a pipe): e.g.\n"
		    "  pdftops report.pdf - | netcfax send - --to 5550100\n"
		    "It is read whole first, up to the server's max_document_size.\n");
	if (strcmp(c->name, "trust") == 0)
		printf("\nWithout --fingerprint, pins whatever the server presents: compare it with\n"
		    "'netcfax-admin fingerprint' on the server first.\n");
}

int
main(int argc, char **argv)
{
	enum { O_PWFILE = 256, O_KNOWN, O_CA, O_JSON, O_TO, O_FP, O_WAIT, O_EXEC, O_SCPMODE,
	       O_SCPPORT, O_SCPRANGE, O_SCP, O_VIA, O_LEASE, O_ALL, O_PORTMAP, O_RES, O_PAPER,
	       O_AT, O_RETRIES, O_DIALS, O_KILL, O_PRIO, O_FORMAT, O_UNREAD, O_CFROM, O_CTO,
	       O_SUBJECT, O_NOTE };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "server", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'P' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "known-servers", required_argument, NULL, O_KNOWN },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "json", no_argument, NULL, O_JSON },
		{ "to", required_argument, NULL, O_TO },
		{ "fingerprint", required_argument, NULL, O_FP },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "exec", required_argument, NULL, O_EXEC },
		{ "scp", required_argument, NULL, O_SCP },
		{ "via", required_argument, NULL, O_VIA },
		{ "portmap", required_argument, NULL, O_PORTMAP },
		{ "lease", required_argument, NULL, O_LEASE },
		{ "all", no_argument, NULL, O_ALL },
		{ "resolution", required_argument, NULL, O_RES },
		{ "paper", required_argument, NULL, O_PAPER },
		{ "at", required_argument, NULL, O_AT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "dials", required_argument, NULL, O_DIALS },
		{ "kill-after", required_argument, NULL, O_KILL },
		{ "priority", required_argument, NULL, O_PRIO },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "unread", no_argument, NULL, O_UNREAD },
		{ "cover-from", required_argument, NULL, O_CFROM },
		{ "cover-to", required_argument, NULL, O_CTO },
		{ "subject", required_argument, NULL, O_SUBJECT },
		{ "note", required_argument, NULL, O_NOTE },
		{ "scp-mode", required_argument, NULL, O_SCPMODE },
		{ "scp-port", required_argument, NULL, O_SCPPORT },
		{ "scp-range", required_argument, NULL, O_SCPRANGE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct { const char *key, *val; } over[16];
	static char default_conf[1100];
	struct cli cli = { 0 };
	const struct command *cmd = NULL;
	const char *home = getenv("HOME");
	char err[1200];
	int ch, nover = 0, explicit_conf = 0, sending = 0;
	long long kill_after = 0, n;
	int64_t now = (int64_t)time(NULL);

	log_init("netcfax", LOG_LVL_WARN);
	/* A server that vanishes mid-write must be an error we report, not a signal that kills. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(default_conf, sizeof(default_conf), "%s/.config/netcfax/client.conf",
	    home ? home : ".");
	cli.config_path = default_conf;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:S:P:u:o:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli.config_path = optarg; explicit_conf = 1; break;
		case 'S': over[nover].key = "server"; over[nover++].val = optarg; break;
		case 'P': over[nover].key = "port"; over[nover++].val = optarg; break;
		case 'u': over[nover].key = "user"; over[nover++].val = optarg; break;
		case O_PWFILE: over[nover].key = "password_file"; over[nover++].val = optarg; break;
		case O_KNOWN: over[nover].key = "known_servers"; over[nover++].val = optarg; break;
		case O_CA: over[nover].key = "ca_file"; over[nover++].val = optarg; break;
		case O_JSON: cli.json = 1; break;
		case O_TO: cli.to = optarg; break;
		case O_FP: cli.fingerprint = optarg; break;
		case O_WAIT: cli.wait = 1; break;
		case O_EXEC: cli.exec = optarg; break;
		case O_SCP: over[nover].key = "scp"; over[nover++].val = optarg; break;
		case O_VIA: cli.via = optarg; break;
		case O_PORTMAP: over[nover].key = "portmap"; over[nover++].val = optarg; break;
		case O_LEASE: cli.lease = strtol(optarg, NULL, 10); break;
		case O_ALL: cli.all = 1; break;
		case O_RES:
			if (strcmp(optarg, "fine") != 0 && strcmp(optarg, "standard") != 0)
				return cli_error(&cli, CLI_USAGE, "--resolution takes fine or standard");
			cli.submit.resolution = optarg[0] == 'f' ? NCFX_RES_FINE : NCFX_RES_STANDARD;
			break;
		case O_PAPER:
			if (strcmp(optarg, "a4") != 0 && strcmp(optarg, "letter") != 0)
				return cli_error(&cli, CLI_USAGE, "--paper takes a4 or letter");
			cli.submit.paper = optarg[0] == 'a' ? NCFX_PAPER_A4 : NCFX_PAPER_LETTER;
			break;
		case O_AT:
			if ((cli.submit.send_at = cli_parse_time(optarg, now)) < 0)
				return cli_error(&cli, CLI_USAGE, "--at: '%s' is not a time (+30m, "
				    "14:30, \"2026-12-01 09:00\", @UNIXTIME)", optarg);
			sending = 1;
			break;
		case O_RETRIES:
		case O_DIALS:
		case O_PRIO:
			n = (long long)cli_parse_id(optarg);
			if (n < 1 || n > 255)
				return cli_error(&cli, CLI_USAGE, "--%s takes a number from 1 to 255",
				    ch == O_RETRIES ? "retries" : ch == O_DIALS ? "dials" : "priority");
			if (ch == O_RETRIES)
				cli.submit.max_tries = (int)n;
			else if (ch == O_DIALS)
				cli.submit.max_dials = (int)n;
			else
				cli.submit.priority = (int)n;
			sending = 1;
			break;
		case O_KILL:
			if ((kill_after = cli_parse_duration(optarg)) <= 0)
				return cli_error(&cli, CLI_USAGE, "--kill-after: '%s' is not a duration "
				    "(90s, 30m, 2h, 1d)", optarg);
			sending = 1;
			break;
		case 'o': cli.output = optarg; break;
		case O_FORMAT:
			if (strcmp(optarg, "pdf") != 0 && strcmp(optarg, "tiff") != 0)
				return cli_error(&cli, CLI_USAGE, "--format takes pdf or tiff");
			cli.format = optarg;
			break;
		case O_UNREAD: cli.unread = 1; break;
		case O_CFROM: cli.submit.cover_from = optarg; sending = 1; break;
		case O_CTO: cli.submit.cover_to = optarg; sending = 1; break;
		case O_SUBJECT: cli.submit.subject = optarg; sending = 1; break;
		case O_NOTE: cli.note = optarg; break;
		case O_SCPMODE: over[nover].key = "scp_mode"; over[nover++].val = optarg; break;
		case O_SCPPORT: over[nover].key = "scp_port"; over[nover++].val = optarg; break;
		case O_SCPRANGE: over[nover].key = "scp_range"; over[nover++].val = optarg; break;
		case 'v': cli.verbose = 1; break;
		case 'h': cli.help = 1; break;
		default:
			fprintf(stderr, "netcfax: unknown or incomplete option '%s' (see netcfax "
			    "--help)\n", argv[optind - 1]);
			return CLI_USAGE;
		}
		if (nover == (int)(sizeof(over) / sizeof(over[0])))
			return cli_error(&cli, CLI_USAGE, "too many options");
	}
	if (optind < argc) {
		for (cmd = commands; cmd->name; cmd++)
			if (strcmp(cmd->name, argv[optind]) == 0)
				break;
		if (cmd->name == NULL) {
			fprintf(stderr, "netcfax: unknown command '%s' (see netcfax --help)\n",
			    argv[optind]);
			return CLI_USAGE;
		}
		cli.argc = argc - optind - 1;
		cli.argv = argv + optind + 1;
	}
	if (cmd == NULL) {
		usage(cli.help ? stdout : stderr);
		return cli.help ? CLI_OK : CLI_USAGE;
	}
	if (cli.help) {
		command_usage(cmd);
		return CLI_OK;
	}
	/* The command line over the environment over client.conf over the defaults. */
	if (client_config_load(&cli.cfg, cli.config_path, !explicit_conf, err, sizeof(err)) < 0 ||
	    client_config_env(&cli.cfg, err, sizeof(err)) < 0)
		return cli_error(&cli, CLI_USAGE, "%s", err);
	for (int i = 0; i < nover; i++)
		if (client_config_set(&cli.cfg, over[i].key, over[i].val, err, sizeof(err)) < 0)
			return cli_error(&cli, CLI_USAGE, "%s", err);
	if (client_config_check(&cli.cfg, err, sizeof(err)) < 0)
		return cli_error(&cli, CLI_USAGE, "%s", err);
	log_set_level(cli.verbose ? LOG_LVL_DEBUG : log_level_parse(cli.cfg.log_level));
	if (cli.to && strcmp(cmd->name, "send") != 0)
		return cli_error(&cli, CLI_USAGE, "--to only goes with send");
	if (cli.fingerprint && strcmp(cmd->name, "trust") != 0)
		return cli_error(&cli, CLI_USAGE, "--fingerprint only goes with trust");
	if ((cli.submit.resolution || cli.submit.paper || sending) && strcmp(cmd->name, "send") != 0)
		return cli_error(&cli, CLI_USAGE, "--resolution, --paper, --at, --retries, --dials, "
		    "--kill-after, --priority, --cover-from, --cover-to and --subject go with send");
	/* The kill time counts from the send-at time, if there is one. */
	if (kill_after)
		cli.submit.kill_at = (cli.submit.send_at ? cli.submit.send_at : now) + kill_after;
	if ((cli.output || cli.format) && strcmp(cmd->name, "fetch") != 0)
		return cli_error(&cli, CLI_USAGE, "-o and --format go with fetch");
	if (cli.unread && strcmp(cmd->name, "inbox") != 0)
		return cli_error(&cli, CLI_USAGE, "--unread goes with inbox");
	if (cli.wait && strcmp(cmd->name, "send") != 0)
		return cli_error(&cli, CLI_USAGE, "--wait only goes with send");
	if (cli.note && strcmp(cmd->name, "book") != 0)
		return cli_error(&cli, CLI_USAGE, "--note only goes with book add");
	if (cli.exec && strcmp(cmd->name, "watch") != 0)
		return cli_error(&cli, CLI_USAGE, "--exec only goes with watch");
	if ((cli.via || cli.lease || cli.all) && strcmp(cmd->name, "portmap") != 0)
		return cli_error(&cli, CLI_USAGE, "--via, --lease and --all go with portmap");
	return cmd->fn(&cli);
}

/* main.c: netcfax-portcheck, the diagnostic for "my notifications do not arrive". It reads the
 * client's own configuration, measures each step from this machine to the server and back,
 * and ends with a verdict, an exit code, and the rule that fixes what is broken. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "password.h"
#include "portcheck.h"
#include "proto.h"
#include "config.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: netcfax-portcheck [OPTIONS]\n"
	    "\n"
	    "Checks why notifications do (or do not) reach this netcfax client, in order: this\n"
	    "machine, the server, the router (UPnP IGD, NAT-PMP), the topology between, the\n"
	    "server's connect-back to this client's SCP, and the relay. Ends with a verdict and,\n"
	    "when the direct path does not work, the router rule that fixes it.\n"
	    "\n"
	    "It uses the client's configuration (~/.config/netcfax/client.conf) and logs in as\n"
	    "its user; the password comes from NETCFAX_PASSWORD, password_file or a prompt.\n"
	    "NETCFAX_SERVER, NETCFAX_PORT and NETCFAX_USER override client.conf, as for netcfax;\n"
	    "the options below override both.\n"
	    "\n"
	    "  -c, --config FILE        client configuration\n"
	    "  -S, --host HOST          the server's host name or address\n"
	    "  -P, --port PORT          server's Primary Connection Port (default 7488)\n"
	    "  -u, --user NAME          user to log in as\n"
	    "      --password-file FILE read the password from FILE\n"
	    "      --known-servers FILE pinned server certificates\n"
	    "      --ca-file FILE       verify the server against a CA instead of pinning\n"
	    "      --scp-mode MODE      dynamic, fixed or range (as the client uses it)\n"
	    "      --scp-port PORT      the port in fixed mode\n"
	    "      --scp-range LOW-HIGH the ports in range mode\n"
	    "      --portmap HOW        auto (ask the router), upnp, natpmp, or off (do not)\n"
	    "      --timeout SECONDS    longest wait for the server's verdict (default 30)\n"
	    "      --json               one JSON document (schema " PC_SCHEMA ") on stdout\n"
	    "      --open               first ask the router (UPnP, NAT-PMP) to forward the SCP\n"
	    "                           port here (it stays, lease 3600 s), then check\n"
	    "      --close              first remove that mapping, then check\n"
	    "      --server             run on the server host instead: the PCP listening on every\n"
	    "                           address, the host firewall, the router, each SIP trunk's\n"
	    "                           ports, and the rules\n"
	    "      --server-config FILE netcfaxd's configuration (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -V, --version            print the version and exit\n"
	    "  -h, --help               this help\n"
	    "\n"
	    "Exit codes: 0 the direct path works; 1 only the relay works; 2 nothing works;\n"
	    "3 the server cannot be reached, verified or logged in to; 64 usage; 70 internal.\n"
	    "With --server: 0 the PCP (and each SIP trunk's side) is open on this host; 2 it is\n"
	    "not; 64 usage.\n");
}

enum { O_PWFILE = 256, O_KNOWN, O_CA, O_JSON, O_SCPMODE, O_SCPPORT, O_SCPRANGE, O_PORTMAP,
       O_TIMEOUT, O_SERVER, O_SERVERCONF, O_OPEN, O_CLOSE };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'P' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "known-servers", required_argument, NULL, O_KNOWN },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "json", no_argument, NULL, O_JSON },
		{ "scp-mode", required_argument, NULL, O_SCPMODE },
		{ "scp-port", required_argument, NULL, O_SCPPORT },
		{ "scp-range", required_argument, NULL, O_SCPRANGE },
		{ "portmap", required_argument, NULL, O_PORTMAP },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "server", no_argument, NULL, O_SERVER },
		{ "open", no_argument, NULL, O_OPEN },
		{ "close", no_argument, NULL, O_CLOSE },
		{ "server-config", required_argument, NULL, O_SERVERCONF },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct portcheck pcs;          /* large: static, not on the stack */
	struct portcheck *pc = &pcs;
	struct { const char *key, *val; } over[16];
	static char default_conf[1100], pw[NCFX_PASSWORD_MAX + 1];
	const char *home = getenv("HOME");
	char err[1200], prompt[400];
	int ch, nover = 0, explicit_conf = 0, rc;
	const char *server_conf = CONFIG_DEFAULT_PATH;
	ncfx_client *c = NULL;

	log_init("netcfax-portcheck", LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	snprintf(default_conf, sizeof(default_conf), "%s/.config/netcfax/client.conf",
	    home ? home : ".");
	pc->cli.config_path = default_conf;
	pc->timeout_s = 30;
	while ((ch = getopt_long(argc, argv, "c:S:P:u:Vh", longopts, NULL)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'c': pc->cli.config_path = optarg; explicit_conf = 1; break;
		case 'S': key = "server"; break;
		case 'P': key = "port"; break;
		case 'u': key = "user"; break;
		case O_PWFILE: key = "password_file"; break;
		case O_KNOWN: key = "known_servers"; break;
		case O_CA: key = "ca_file"; break;
		case O_SCPMODE: key = "scp_mode"; break;
		case O_SCPPORT: key = "scp_port"; break;
		case O_SCPRANGE: key = "scp_range"; break;
		case O_PORTMAP: key = "portmap"; break;
		case O_JSON: pc->cli.json = 1; break;
		case O_SERVER: pc->server_mode = 1; break;
		case O_OPEN: pc->open = 1; break;
		case O_CLOSE: pc->close = 1; break;
		case O_SERVERCONF: server_conf = optarg; pc->server_mode = 1; break;
		case O_TIMEOUT:
			pc->timeout_s = atoi(optarg);
			if (pc->timeout_s < 1 || pc->timeout_s > 600) {
				fprintf(stderr, "netcfax-portcheck: --timeout takes 1 to 600 seconds\n");
				return PC_EXIT_USAGE;
			}
			break;
		case 'V': printf("netcfax-portcheck %s\n", NETCFAX_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return PC_EXIT_USAGE;
		}
		if (key) {
			if (nover == (int)(sizeof(over) / sizeof(over[0]))) {
				fprintf(stderr, "netcfax-portcheck: too many options\n");
				return PC_EXIT_USAGE;
			}
			over[nover].key = key;
			over[nover++].val = optarg;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return PC_EXIT_USAGE;
	}
	if (pc->open && pc->close) {
		fprintf(stderr, "netcfax-portcheck: --open and --close exclude each other\n");
		return PC_EXIT_USAGE;
	}
	if (pc->server_mode) {
		if (nover > 0) {
			fprintf(stderr, "netcfax-portcheck: --server takes no client options\n");
			return PC_EXIT_USAGE;
		}
		return pc_server_mode(pc, server_conf);
	}
	if (client_config_load(&pc->cli.cfg, pc->cli.config_path, !explicit_conf, err,
	    sizeof(err)) < 0 || client_config_env(&pc->cli.cfg, err, sizeof(err)) < 0)
		return cli_error(&pc->cli, PC_EXIT_USAGE, "%s", err);
	for (int i = 0; i < nover; i++)
		if (client_config_set(&pc->cli.cfg, over[i].key, over[i].val, err, sizeof(err)) < 0)
			return cli_error(&pc->cli, PC_EXIT_USAGE, "%s", err);
	if (client_config_check(&pc->cli.cfg, err, sizeof(err)) < 0)
		return cli_error(&pc->cli, PC_EXIT_USAGE, "%s", err);
	if (pc->cli.cfg.server[0] == '\0' || pc->cli.cfg.user[0] == '\0')
		return cli_error(&pc->cli, PC_EXIT_USAGE, "no %s: set it in %s or use %s",
		    pc->cli.cfg.server[0] ? "user" : "server", pc->cli.config_path,
		    pc->cli.cfg.server[0] ? "--user NAME" : "--server HOST");
	snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", pc->cli.cfg.user,
	    pc->cli.cfg.server);
	if (password_obtain(pc->cli.cfg.password_file, prompt, 0, pw, sizeof(pw), err,
	    sizeof(err)) < 0)
		return cli_error(&pc->cli, PC_EXIT_USAGE, "%s", err);
	pc->password = pw;

	/* The router first: the server's connection waits for its login only so long. */
	pc_check_local(pc);
	pc_check_routers(pc);
	pc_open_close(pc);
	pc_map_first(pc);
	if (pc->server_ip[0])
		pc_check_server_connect(pc, &c);
	if (c != NULL)
		pc_check_direct(pc, c);
	pc_automap_end(pc);                 /* the temporary mapping goes in every case */
	pc_judge(pc);
	rc = pc_report(pc);
	ncfx_client_free(c);
	if (pc->scp_fd >= 0)
		close(pc->scp_fd);
	return rc;
}

/* args.c: the command line of netcfax. Global options may stand anywhere, before or after the
 * command's name (as getopt_long has always taken them); each command parses its own options
 * with its own table through cli_getopt, which takes care of the global ones, so that every
 * command reads its words the same way, and an option of another command is refused with the
 * command it goes with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

/* Ids below 256 and not letters: they cannot clash with a command's. */
enum { O_PWFILE = 1, O_KNOWN, O_CA, O_JSON, O_SCP, O_SCPMODE, O_SCPPORT, O_SCPRANGE,
       O_PORTMAP };

static const struct cli_option global_options[] = {
	{ "config", required_argument, 'c', NULL, NULL },
	{ "server", required_argument, 'S', NULL, NULL },
	{ "port", required_argument, 'P', NULL, NULL },
	{ "user", required_argument, 'u', NULL, NULL },
	{ "password-file", required_argument, O_PWFILE, NULL, NULL },
	{ "known-servers", required_argument, O_KNOWN, NULL, NULL },
	{ "ca-file", required_argument, O_CA, NULL, NULL },
	{ "json", no_argument, O_JSON, NULL, NULL },
	{ "scp", required_argument, O_SCP, NULL, NULL },
	{ "portmap", required_argument, O_PORTMAP, NULL, NULL },
	{ "scp-mode", required_argument, O_SCPMODE, NULL, NULL },
	{ "scp-port", required_argument, O_SCPPORT, NULL, NULL },
	{ "scp-range", required_argument, O_SCPRANGE, NULL, NULL },
	{ "verbose", no_argument, 'v', NULL, NULL },
	{ "help", no_argument, 'h', NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

/* The client.conf keys the global options set, by id; the others are handled by hand. */
static const struct { int id; const char *key; } conf_keys[] = {
	{ 'S', "server" }, { 'P', "port" }, { 'u', "user" }, { O_PWFILE, "password_file" },
	{ O_KNOWN, "known_servers" }, { O_CA, "ca_file" }, { O_SCP, "scp" },
	{ O_PORTMAP, "portmap" }, { O_SCPMODE, "scp_mode" }, { O_SCPPORT, "scp_port" },
	{ O_SCPRANGE, "scp_range" },
};

#define OPTIONS_MAX 64

static struct {
	const struct cli_command *cmd;
	int           argc;
	char        **argv;
	const struct cli_option *options;   /* the command's, as it passed them */
	struct option longopts[OPTIONS_MAX + 1];
	char          shortopts[2 * OPTIONS_MAX + 2];
	int           n;
	int           started;
	struct { const char *key, *val; } over[16];
	int           nover;
	int           explicit_conf;
	int           help;
	int           failed;       /* an unknown or incomplete option, said: exit 64 */
	char          refused[300]; /* another command's option, said once --json is known */
} args;

/* Adds a table to getopt_long's, each name once. */
static void
add_options(const struct cli_option *o)
{
	for (; o != NULL && o->name != NULL; o++) {
		int dup = 0;

		for (int i = 0; i < args.n && !dup; i++)
			dup = strcmp(args.longopts[i].name, o->name) == 0;
		if (dup || args.n == OPTIONS_MAX)
			continue;
		args.longopts[args.n].name = o->name;
		args.longopts[args.n].has_arg = o->has_arg;
		args.longopts[args.n].flag = NULL;
		args.longopts[args.n++].val = o->id;
		if (o->id < 256 && ((o->id >= 'a' && o->id <= 'z') || (o->id >= 'A' && o->id <= 'Z'))) {
			size_t len = strlen(args.shortopts);
			args.shortopts[len++] = (char)o->id;
			if (o->has_arg == required_argument)
				args.shortopts[len++] = ':';
			args.shortopts[len] = '\0';
		}
	}
	memset(&args.longopts[args.n], 0, sizeof(args.longopts[0]));
}

static void
reset_options(const char *mode)
{
	args.n = 0;
	snprintf(args.shortopts, sizeof(args.shortopts), "%s", mode);
	add_options(global_options);
	/* glibc starts over, permutation mode and all, at optind 0 */
	optind = 0;
	opterr = 0;
}

int
cli_args_find(int argc, char **argv, int *help)
{
	int ch;

	/* Every command's options are known here, only so that their values are not taken for
	 * the command's name: they are parsed, and refused where they do not belong, by the
	 * command itself. */
	reset_options("+");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		add_options(c->options);
	*help = 0;
	while ((ch = getopt_long(argc, argv, args.shortopts, args.longopts, NULL)) != -1) {
		if (ch == '?') {
			fprintf(stderr, "netcfax: unknown or incomplete option '%s' (see netcfax "
			    "--help)\n", argv[optind - 1]);
			return -1;
		}
		if (ch == 'h')
			*help = 1;
	}
	return optind < argc ? optind : 0;
}

void
cli_args_start(const struct cli_command *cmd, int argc, char **argv)
{
	args.cmd = cmd;
	args.argc = argc;
	args.argv = argv;
}

/* In the table o: the option called name (len bytes), else one whose name begins so; with
 * name NULL, the one whose id is letter. NULL when there is none. */
static const struct cli_option *
find_option(const struct cli_option *o, const char *name, size_t len, int letter)
{
	const struct cli_option *found = NULL;

	for (; o != NULL && o->name != NULL; o++) {
		if (name == NULL) {
			if (o->id == letter)
				return o;
		} else if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
		else if (strncmp(o->name, name, len) == 0)
			found = o;
	}
	return found;
}

/* An option getopt_long did not take: an unknown or incomplete one (said now), or another
 * command's, kept to be refused naming that command. */
static void
not_taken(const char *word, int letter)
{
	const char *name = NULL;
	size_t len = 0, at;
	const struct cli_option *o = NULL;
	int nwith = 0;

	if (letter == 0 && strncmp(word, "--", 2) == 0) {
		name = word + 2;
		len = strcspn(name, "=");
	}
	/* The command's own or a global one: its value is missing, or the name is ambiguous. */
	if ((letter != 0 || name != NULL) && find_option(global_options, name, len, letter) == NULL &&
	    find_option(args.options, name, len, letter) == NULL) {
		for (const struct cli_command *c = cli_commands; c->name && o == NULL; c++)
			o = find_option(c->options, name, len, letter);
	}
	if (o == NULL) {
		fprintf(stderr, "netcfax: unknown or incomplete option '%s' (see netcfax --help)\n",
		    word);
		args.failed = 1;
		return;
	}
	if (args.refused[0])
		return;
	if (o->id < 256)
		at = (size_t)snprintf(args.refused, sizeof(args.refused), "-%c only goes with", o->id);
	else
		at = (size_t)snprintf(args.refused, sizeof(args.refused), "--%s only goes with",
		    o->name);
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		const struct cli_option *mine = find_option(c->options, o->name, strlen(o->name), 0);

		if (mine != NULL && strcmp(mine->name, o->name) == 0 && at < sizeof(args.refused))
			at += (size_t)snprintf(args.refused + at, sizeof(args.refused) - at, "%s %s",
			    nwith++ ? " or" : "", c->name);
	}
}

int
cli_getopt(struct cli *cli, const struct cli_option *options)
{
	int ch;

	if (!args.started) {
		args.started = 1;
		args.options = options;
		reset_options("");
		add_options(options);
	}
	while ((ch = getopt_long(args.argc, args.argv, args.shortopts, args.longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			cli->config_path = optarg;
			args.explicit_conf = 1;
			break;
		case O_JSON:
			cli->json = 1;
			break;
		case 'v':
			cli->verbose = 1;
			break;
		case 'h':
			args.help = 1;
			break;
		case '?':
			not_taken(args.argv[optind - 1], optopt);
			if (args.failed)
				return -1;
			break;
		default:
			for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
				if (conf_keys[i].id == ch) {
					args.over[args.nover].key = conf_keys[i].key;
					args.over[args.nover++].val = optarg;
					break;
				}
			if (find_option(global_options, NULL, 0, ch) == NULL)
				return ch;
		}
		if (args.nover == (int)(sizeof(args.over) / sizeof(args.over[0]))) {
			args.failed = 1;
			cli_error(cli, CLI_USAGE, "too many options");
			return -1;
		}
	}
	/* The words left, in order: the command's name, then its arguments. */
	cli->argc = args.argc - optind - 1;
	cli->argv = args.argv + optind + 1;
	return -1;
}

static void
command_usage(const struct cli_command *c)
{
	char lhs[64];

	printf("usage: netcfax [OPTIONS] %s %s\n\n%s.\n", c->name, c->args, c->help);
	if (c->needs_login)
		printf("\nLogs in as the configured user; see 'netcfax --help' for options.\n");
	if (c->more)
		printf("\n%s", c->more);
	if (c->options == NULL)
		return;
	printf("\nOptions of %s:\n", c->name);
	for (const struct cli_option *o = c->options; o->name; o++) {
		snprintf(lhs, sizeof(lhs), "%c%c%c --%s%s%s", o->id < 256 ? '-' : ' ',
		    o->id < 256 ? o->id : ' ', o->id < 256 ? ',' : ' ', o->name, o->arg ? " " : "",
		    o->arg ? o->arg : "");
		printf("  %-30s %s\n", lhs, o->help);
	}
}

int
cli_ready(struct cli *cli)
{
	char err[1200];

	if (args.failed)
		return CLI_USAGE;
	if (args.help) {
		command_usage(args.cmd);
		return CLI_OK;
	}
	/* The command line over the environment over client.conf over the defaults. */
	if (client_config_load(&cli->cfg, cli->config_path, !args.explicit_conf, err,
	    sizeof(err)) < 0 || client_config_env(&cli->cfg, err, sizeof(err)) < 0)
		return cli_error(cli, CLI_USAGE, "%s", err);
	for (int i = 0; i < args.nover; i++)
		if (client_config_set(&cli->cfg, args.over[i].key, args.over[i].val, err,
		    sizeof(err)) < 0)
			return cli_error(cli, CLI_USAGE, "%s", err);
	if (client_config_check(&cli->cfg, err, sizeof(err)) < 0)
		return cli_error(cli, CLI_USAGE, "%s", err);
	log_set_level(cli->verbose ? LOG_LVL_DEBUG : log_level_parse(cli->cfg.log_level));
	if (args.refused[0])
		return cli_error(cli, CLI_USAGE, "%s", args.refused);
	return -1;
}

int
cli_no_options(struct cli *cli)
{
	while (cli_getopt(cli, NULL) != -1)
		;
	return cli_ready(cli);
}

/* cli.h: what the netcfax commands share: parsed options, the connection, output helpers. */
#ifndef NETCFAX_CLI_H
#define NETCFAX_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "netcfax/netcfax.h"

/* Exit codes, documented in the README and stable for scripts. */
enum cli_exit {
	CLI_OK = 0,
	CLI_REFUSED = 1,      /* the server refused the request */
	CLI_UNREACHABLE = 2,  /* cannot reach or talk to the server */
	CLI_IDENTITY = 3,     /* server identity changed or unverified */
	CLI_AUTH = 4,         /* wrong credentials or locked out */
	CLI_USAGE = 64,
	CLI_JOB_FAILED = 5,   /* send --wait: the fax failed */
	CLI_JOB_CANCELLED = 6,/* send --wait: the job was cancelled */
	CLI_IN_DOUBT = 7,     /* send: connection lost after the document went; the job may exist */
	CLI_NOINPUT = 66,     /* a local document cannot be read */
	CLI_INTERNAL = 70,
	CLI_INTERRUPTED = 130,/* send --wait stopped by a signal before the job ended */
};

struct client_config {
	char      server[256];
	long long port;
	char      user[65];
	char      password_file[1024];
	char      ca_file[1024];
	char      server_fingerprint[128];
	char      known_servers[1024];
	int       trust_on_first_use;
	char      scp[16];
	char      scp_mode[16];
	long long scp_port;
	char      scp_range[32];
	char      scp_listen[64];
	char      portmap[16];
	long long portmap_lease;
	long long heartbeat;
	long long timeout;
	char      log_level[16];
	char      address_book[1024];
	/* where each option was set, for messages: the file, and per row of the option table
	 * its line there, or 0 (default), CLIENT_FROM_ENV, CLIENT_FROM_COMMAND_LINE */
	char      conf_path[1024];
	int       conf_line[32];
};

#define CLIENT_FROM_ENV          (-2)
#define CLIENT_FROM_COMMAND_LINE (-1)

struct cli {
	struct client_config cfg;
	const char *config_path;
	int         json;
	int         stream;       /* output is JSON lines (watch, send --wait): errors get a type */
	int         verbose;
	/* filled by cli_open */
	struct ncfx_session_info session;
	/* positional arguments after the command name */
	int         argc;
	char      **argv;
};

/* One option of a command, in the table the command parses its words with. id is what
 * cli_getopt returns for it: the short letter when it has one, else 256 or more. */
struct cli_option {
	const char *name;
	int         has_arg;      /* no_argument or required_argument */
	int         id;
	const char *arg;          /* the value's name, for the command's --help */
	const char *help;
};

/* A command: its function, which parses its own options with cli_getopt and cli_ready. */
struct cli_command {
	const char *name;
	int       (*fn)(struct cli *);
	int         needs_login;
	const char *args;
	const char *help;
	const char *more;         /* a paragraph more for 'netcfax COMMAND --help', or NULL */
	const struct cli_option *options;   /* its own options, or NULL */
};

/* Every command, ended by a NULL name (main.c). */
extern const struct cli_command cli_commands[];

/* The command line (args.c). cli_args_find: the index in argv of the command's name, 0 when
 * there is none (*help: -h was given), or -1 after saying an option is unknown. */
int  cli_args_find(int argc, char **argv, int *help);
void cli_args_start(const struct cli_command *cmd, int argc, char **argv);
/* The next of the command's own options (its id; optarg holds the value), the global options
 * being taken care of wherever they stand; -1 at the end, then cli->argc and cli->argv are the
 * words after the command name. */
int  cli_getopt(struct cli *cli, const struct cli_option *options);
/* After cli_getopt's -1: --help, then the configuration (the command line over the
 * environment over client.conf), then an option of another command refused. -1 when the
 * command is to run, else the exit code to return now. */
int  cli_ready(struct cli *cli);
/* Both, for a command without options of its own. */
int  cli_no_options(struct cli *cli);

/* send --to: as typed, and when it was a name of the address book, the name and its number. */
struct cli_recipient {
	const char *to;
	char        name[33];     /* BOOK_NAME_MAX + 1 */
	char        number[65];   /* NCFX_DEST_MAX + 1 */
};

/* Defaults, then path (missing_ok: the default path may be absent). */
int  client_config_load(struct client_config *c, const char *path, int missing_ok, char *err,
                        size_t errlen);
/* NETCFAX_SERVER, NETCFAX_USER and NETCFAX_PORT over the file's values (an empty variable
 * counts as unset); command-line options go on top with client_config_set. */
int  client_config_env(struct client_config *c, char *err, size_t errlen);
/* One option from the command line. */
int  client_config_set(struct client_config *c, const char *name, const char *value,
                       char *err, size_t errlen);
/* The option table itself, for the sample client.conf and its manual page (man/confdoc.c). */
struct conf_opt;
const struct conf_opt *client_config_options(void);
/* What one value alone cannot show (scp_range, scp_listen), said with where it was set. */
int  client_config_check(const struct client_config *c, char *err, size_t errlen);

/* The connection settings of client.conf and the command line, as the library wants them. */
void cli_conn_options(struct cli *cli, struct ncfx_client_options *o);
/* Connects (pinning as configured) and, with login, logs in. Returns CLI_OK, or prints the
 * error and returns the exit code. On success *out is the connected client. */
int  cli_open(struct cli *cli, int login, ncfx_client **out);
/* For trust: connects replacing the pin with what the server presents, or with fingerprint
 * (when not NULL) only if that is what it presents. */
int  cli_open_repin(struct cli *cli, const char *fingerprint, ncfx_client **out);
/* Prints the client's last error (text on stderr, or JSON on stdout) and returns the exit
 * code for status st. */
int  cli_fail(struct cli *cli, ncfx_client *c, ncfx_status st);
/* The same from parts: the exit code and message for status st with the server's code. */
int  cli_report(struct cli *cli, ncfx_status st, int code, const char *detail,
                uint32_t retry_after);
/* A local error (usage, missing file): printed the same way. */
int  cli_error(struct cli *cli, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cli_print_job_json(FILE *out, const struct ncfx_job *j);

/* The commands, one file each. */
int cmd_login(struct cli *cli);
int cmd_send(struct cli *cli);
int cmd_jobs(struct cli *cli);
int cmd_cancel(struct cli *cli);
int cmd_suspend(struct cli *cli);
int cmd_resume(struct cli *cli);
int cmd_inbox(struct cli *cli);
int cmd_fetch(struct cli *cli);
int cmd_book(struct cli *cli);
/* send --to NAME: a name of the address book becomes its number (r->to then points at
 * r->number, and r->name keeps the name); a number stays as it is. CLI_OK, or the exit code
 * after saying why. */
int cli_resolve_to(struct cli *cli, struct cli_recipient *r);

/* A job or fax id as typed, or 0. */
unsigned long long cli_parse_id(const char *s);
/* "90", "90s", "30m", "2h", "1d": seconds, or -1. */
long long cli_parse_duration(const char *s);
/* "+30m", "14:30" (the next one), "2026-12-01 09:00", "@UNIX": unix seconds, or -1. */
int64_t   cli_parse_time(const char *s, int64_t now);
void cli_print_fax_json(FILE *out, const struct ncfx_fax *f);
int cmd_trust(struct cli *cli);
int cmd_watch(struct cli *cli);
int cmd_portmap(struct cli *cli);
/* Their own options, for the table of commands. */
extern const struct cli_option send_options[], inbox_options[], fetch_options[],
    watch_options[], book_options[], portmap_options[], trust_options[];

/* The watcher options from the configuration (SCP mode, port or range, heartbeat), with the
 * connection and credentials filled in. 0, or an exit code after printing why. */
int  cli_watch_options(struct cli *cli, struct ncfx_watch_options *o, char *pw, size_t pwcap);
/* Runs a watcher configured from client.conf with cb's callbacks and argument; the exit code
 * comes from done, or (done NULL) is 0 unless the watcher stopped on an error. */
int  cli_watch_run(struct cli *cli, const struct ncfx_watch_options *cb,
                   int (*done)(struct cli *, ncfx_watch *, ncfx_status, void *), void *arg);
/* Exit code and message for a watcher that stopped on an error. */
int  cli_watch_fail(struct cli *cli, ncfx_watch *w, ncfx_status st);
void cli_print_notification(struct cli *cli, const struct ncfx_notification *n);
void cli_print_status(struct cli *cli, int level, const char *what);
void cli_print_path(struct cli *cli, int path, const char *why);

#endif

/* cmd_watch.c: netcfax watch: stay logged in and print each notification as it arrives,
 * optionally running a command for each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "proto.h"

enum { O_EXEC = 256 };

const struct cli_option watch_options[] = {
	{ "exec", required_argument, O_EXEC, "CMD", "run CMD (with sh -c) for each notification" },
	{ NULL, 0, 0, NULL, NULL }
};

/* What the callbacks get: the command line, and --exec's command or NULL. */
struct watch_ctx {
	struct cli *cli;
	const char *exec;
};

static void
run_command(struct cli *cli, const char *exec, const struct ncfx_notification *n)
{
	char seq[24], job[24];
	pid_t pid;
	int st;

	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)n->seq);
	snprintf(job, sizeof(job), "%llu", (unsigned long long)n->job_id);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		cli_print_status(cli, NCFX_WATCH_WARN, "cannot run --exec command: fork failed");
		return;
	}
	if (pid == 0) {
		/* The notification reaches the command through its environment, never through
		 * the shell's parser. */
		setenv("NETCFAX_SEQ", seq, 1);
		setenv("NETCFAX_EVENT", n->event_name, 1);
		setenv("NETCFAX_JOB", job, 1);
		setenv("NETCFAX_STATE", n->state_name, 1);
		setenv("NETCFAX_TEXT", n->text, 1);
		setenv("NETCFAX_DEST", n->dest, 1);
		setenv("NETCFAX_FILENAME", n->filename, 1);
		execl("/bin/sh", "sh", "-c", exec, (char *)NULL);
		_exit(127);
	}
	/* Notifications are handled in order: the next waits for this command. */
	while (waitpid(pid, &st, 0) < 0)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "--exec command for notification #%s failed (status %d)",
		    seq, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		cli_print_status(cli, NCFX_WATCH_WARN, msg);
	}
}

static void
on_notify(ncfx_watch *w, const struct ncfx_notification *n, void *arg)
{
	struct watch_ctx *x = arg;

	(void)w;
	cli_print_notification(x->cli, n);
	if (x->exec)
		run_command(x->cli, x->exec, n);
}

static void
on_status(ncfx_watch *w, int level, const char *what, void *arg)
{
	(void)w;
	cli_print_status(((struct watch_ctx *)arg)->cli, level, what);
}

static void
on_path(ncfx_watch *w, int path, const char *why, void *arg)
{
	(void)w;
	cli_print_path(((struct watch_ctx *)arg)->cli, path, why);
}

int
cmd_watch(struct cli *cli)
{
	struct ncfx_watch_options cb = { 0 };
	struct watch_ctx x = { cli, NULL };
	int rc;

	while (cli_getopt(cli, watch_options) != -1)
		x.exec = optarg;    /* --exec, the only one */
	if ((rc = cli_ready(cli)) >= 0)
		return rc;
	if (cli->argc != 0)
		return cli_error(cli, CLI_USAGE, "watch takes no arguments");
	cb.on_notify = on_notify;
	cb.on_status = on_status;
	cb.on_path = on_path;
	cb.arg = &x;
	return cli_watch_run(cli, &cb, NULL, NULL);
}

/* cmd_send.c: netcfax send FILE... --to NUMBER: upload documents as one new fax job (a cover
 * page first with --cover-from, --cover-to or --subject); "-" is standard input, so that
 * programs can print to a fax; with --wait, follow it to its end (a live progress line on a
 * terminal). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "proto.h"

enum { O_TO = 256, O_WAIT, O_RES, O_PAPER, O_AT, O_RETRIES, O_DIALS, O_KILL, O_PRIO, O_CFROM,
       O_CTO, O_SUBJECT };

const struct cli_option send_options[] = {
	{ "to", required_argument, O_TO, "NUMBER|NAME", "the fax number, or a name of your "
	  "address book" },
	{ "wait", no_argument, O_WAIT, NULL, "show the job's progress until it ends" },
	{ "resolution", required_argument, O_RES, "fine|standard", "default fine" },
	{ "paper", required_argument, O_PAPER, "a4|letter", "default a4" },
	{ "at", required_argument, O_AT, "TIME", "send it then, not now" },
	{ "retries", required_argument, O_RETRIES, "N", "tries at most (1-255)" },
	{ "dials", required_argument, O_DIALS, "N", "dials at most (1-255)" },
	{ "kill-after", required_argument, O_KILL, "DURATION", "give up after (90s, 30m, 2h, 1d)" },
	{ "priority", required_argument, O_PRIO, "1-255", "the job's priority" },
	{ "cover-from", required_argument, O_CFROM, "TEXT", "a cover page, from" },
	{ "cover-to", required_argument, O_CTO, "TEXT", "a cover page, to" },
	{ "subject", required_argument, O_SUBJECT, "TEXT", "a cover page, subject" },
	{ NULL, 0, 0, NULL, NULL }
};

/* What the options asked for. */
struct send_opts {
	struct cli_recipient       to;
	int                        wait;
	struct ncfx_submit_options submit;
};

static void
progress(uint64_t sent, uint64_t total, void *arg)
{
	struct cli *cli = arg;

	/* A progress line only for a person watching; scripts get the final result. */
	if (cli->json || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\ruploading: %3u%% (%llu of %llu bytes)", (unsigned)(sent * 100 / total),
	    (unsigned long long)sent, (unsigned long long)total);
	if (sent == total)
		fputc('\n', stderr);
}

static void
print_job(struct cli *cli, const struct send_opts *o, const struct ncfx_job *j)
{
	if (cli->json) {
		printf("{\"job\":");
		cli_print_job_json(stdout, j);
		if (o->to.name[0]) {
			printf(",\"to_name\":");
			json_print_str(stdout, o->to.name);
		}
		printf("}\n");
	} else
		printf("job %llu queued: %s to %s%s%s (%llu bytes, %u page%s)\n",
		    (unsigned long long)j->id, j->filename, o->to.name, o->to.name[0] ? " at " : "",
		    j->dest, (unsigned long long)j->size, j->pages, j->pages == 1 ? "" : "s");
	fflush(stdout);
}

/* Standard input is kept whole before anything is sent: the upload needs its size and
 * checksum first. When the server does not say its limit, this one (its own highest). */
#define STDIN_MAX_FALLBACK (4ULL << 30)
#define STDIN_NAME "stdin"

/* send --wait: submit right after the watcher's first login, then wait for the job's end. */
struct wait_ctx {
	struct cli     *cli;
	const struct send_opts *opts;
	const struct ncfx_document *docs;
	int             ndocs;
	struct ncfx_job job;
	int             submitted;
	int             failed_rc;
	int             line_shown;    /* a progress line is on the terminal */
};

static int
wait_login(ncfx_watch *w, ncfx_client *c, int first, void *arg)
{
	struct wait_ctx *x = arg;
	ncfx_status st;

	if (!first)
		return 0;
	st = ncfx_submit_docs(c, x->docs, x->ndocs, x->opts->to.to, &x->opts->submit, progress,
	    x->cli, &x->job);
	if (st != NCFX_OK) {
		x->failed_rc = cli_fail(x->cli, c, st);
		ncfx_watch_stop(w, x->failed_rc);
		return 1;
	}
	x->submitted = 1;
	print_job(x->cli, x->opts, &x->job);
	return 0;
}

/* On a terminal, the job's call is one line that changes: dialling, connected, page 2 of 5
 * at 14400 bit/s. Returns 1 when n was shown that way. */
static int
progress_line(struct wait_ctx *x, const struct ncfx_notification *n)
{
	char line[300];

	if (x->cli->json || !isatty(STDERR_FILENO))
		return 0;
	if (!x->submitted || n->job_id != x->job.id) {
		if (x->line_shown)
			fputs("\r\033[K", stderr);    /* the other notification gets a clean line */
		x->line_shown = 0;
		return 0;
	}
	if (n->event == NCFX_EV_JOB_ACTIVE)
		snprintf(line, sizeof(line), "job %llu: %s", (unsigned long long)n->job_id, n->text);
	else if (n->event == NCFX_EV_JOB_PAGE && n->page == 0)
		snprintf(line, sizeof(line), "job %llu: %s", (unsigned long long)n->job_id, n->text);
	else if (n->event == NCFX_EV_JOB_PAGE)
		snprintf(line, sizeof(line), "job %llu: page %u/%u at %u bit/s%s%s%s%s%s",
		    (unsigned long long)n->job_id, n->page, n->pages, n->bit_rate,
		    n->media[0] ? " over " : "", n->media, n->ecm ? ", ECM" : "",
		    n->remote_id[0] ? " to " : "", n->remote_id);
	else {
		if (x->line_shown)
			fputs("\r\033[K", stderr);
		x->line_shown = 0;
		return 0;
	}
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	x->line_shown = 1;
	return 1;
}

static void
wait_notify(ncfx_watch *w, const struct ncfx_notification *n, void *arg)
{
	struct wait_ctx *x = arg;

	/* Everything that arrives is shown: it is acknowledged, so a later watch will not. */
	if (!progress_line(x, n))
		cli_print_notification(x->cli, n);
	if (!x->submitted || n->job_id != x->job.id)
		return;
	switch (n->state) {
	case NCFX_JOB_DONE:
		ncfx_watch_stop(w, CLI_OK);
		break;
	case NCFX_JOB_FAILED:
		ncfx_watch_stop(w, CLI_JOB_FAILED);
		break;
	case NCFX_JOB_CANCELLED:
		ncfx_watch_stop(w, CLI_JOB_CANCELLED);
		break;
	default:
		break;
	}
}

static void
wait_status(ncfx_watch *w, int level, const char *what, void *arg)
{
	struct wait_ctx *x = arg;

	(void)w;
	/* Only trouble is worth a line here; the job's own progress comes as notifications. */
	if (level == NCFX_WATCH_WARN || x->cli->verbose)
		cli_print_status(x->cli, level, what);
}

static int
wait_done(struct cli *cli, ncfx_watch *w, ncfx_status st, void *arg)
{
	struct wait_ctx *x = arg;

	if (x->line_shown)
		fputc('\n', stderr);
	if (x->failed_rc)
		return x->failed_rc;
	if (st != NCFX_OK)
		return cli_watch_fail(cli, w, st);
	if (ncfx_watch_stop_code(w) < 0) {
		/* Interrupted before the job ended: it goes on at the server. */
		fprintf(stderr, "netcfax: stopped waiting; job %llu continues (netcfax jobs)\n",
		    (unsigned long long)x->job.id);
		return CLI_INTERRUPTED;
	}
	return ncfx_watch_stop_code(w);
}

static int
send_and_wait(struct cli *cli, const struct send_opts *o, const struct ncfx_document *docs,
    int ndocs)
{
	struct ncfx_watch_options cb = { 0 };
	struct wait_ctx x;

	memset(&x, 0, sizeof(x));
	x.cli = cli;
	x.opts = o;
	x.docs = docs;
	x.ndocs = ndocs;
	cb.on_login = wait_login;
	cb.on_notify = wait_notify;
	cb.on_status = wait_status;
	cb.arg = &x;
	return cli_watch_run(cli, &cb, wait_done, &x);
}

/* An unnamed file in TMPDIR (or /tmp), gone when closed, even after a crash. */
static int
open_spool(char *dir, size_t cap)
{
	const char *t = getenv("TMPDIR");
	char path[4200];
	int fd;

	snprintf(dir, cap, "%s", t && t[0] == '/' ? t : "/tmp");
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600)) >= 0)
		return fd;
	/* a file system without O_TMPFILE: a private name, unlinked at once */
	snprintf(path, sizeof(path), "%s/netcfax-stdin-XXXXXX", dir);
	if ((fd = mkstemp(path)) >= 0)
		unlink(path);
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads standard input whole into *out (an unnamed temporary file), at most the server's
 * max_document_size, asked for on a connection of its own before anything is read, so that
 * a document over the limit is refused as soon as it goes past it. */
static int
read_stdin(struct cli *cli, int *out)
{
	char dir[4100], *buf;
	uint64_t cap, total = 0;
	ncfx_client *c;
	ssize_t n;
	int fd, rc;

	*out = -1;
	if (isatty(STDIN_FILENO))
		return cli_error(cli, CLI_USAGE, "standard input is a terminal: pipe a document into "
		    "'netcfax send -', e.g. pdftops report.pdf - | netcfax send - --to 5550100");
	if ((rc = cli_open(cli, 0, &c)) != CLI_OK)
		return rc;
	cap = ncfx_client_max_document(c);
	ncfx_client_free(c);
	if (cap == 0 || cap > STDIN_MAX_FALLBACK)
		cap = STDIN_MAX_FALLBACK;
	if ((buf = malloc(NCFX_CHUNK_MAX)) == NULL)
		return cli_error(cli, CLI_INTERNAL, "out of memory");
	if ((fd = open_spool(dir, sizeof(dir))) < 0) {
		rc = cli_error(cli, CLI_NOINPUT, "cannot keep standard input in %s: %s (set TMPDIR "
		    "to a directory you can write)", dir, strerror(errno));
		goto out;
	}
	for (;;) {
		n = read(STDIN_FILENO, buf, NCFX_CHUNK_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cli_error(cli, CLI_NOINPUT, "reading standard input: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((total += (uint64_t)n) > cap) {
			rc = cli_error(cli, CLI_NOINPUT, "standard input holds more than %llu bytes, "
			    "the most the server takes (its max_document_size): send a smaller "
			    "document", (unsigned long long)cap);
			goto out;
		}
		if (write_all(fd, buf, (size_t)n) < 0) {
			rc = cli_error(cli, CLI_NOINPUT, "cannot keep standard input in %s: %s (set "
			    "TMPDIR to a directory with room)", dir, strerror(errno));
			goto out;
		}
	}
	if (total == 0) {
		rc = cli_error(cli, CLI_NOINPUT, "standard input is empty: pipe a document (PDF, "
		    "PostScript, TIFF or text) into 'netcfax send -'");
		goto out;
	}
	*out = fd;
	fd = -1;
	rc = CLI_OK;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* One option's value into o; CLI_OK, or the exit code after saying what is wrong. */
static int
set_option(struct cli *cli, struct send_opts *o, int ch, int64_t now, long long *kill_after)
{
	long long n;

	switch (ch) {
	case O_TO: o->to.to = optarg; break;
	case O_WAIT: o->wait = 1; break;
	case O_RES:
		if (strcmp(optarg, "fine") != 0 && strcmp(optarg, "standard") != 0)
			return cli_error(cli, CLI_USAGE, "--resolution takes fine or standard");
		o->submit.resolution = optarg[0] == 'f' ? NCFX_RES_FINE : NCFX_RES_STANDARD;
		break;
	case O_PAPER:
		if (strcmp(optarg, "a4") != 0 && strcmp(optarg, "letter") != 0)
			return cli_error(cli, CLI_USAGE, "--paper takes a4 or letter");
		o->submit.paper = optarg[0] == 'a' ? NCFX_PAPER_A4 : NCFX_PAPER_LETTER;
		break;
	case O_AT:
		if ((o->submit.send_at = cli_parse_time(optarg, now)) < 0)
			return cli_error(cli, CLI_USAGE, "--at: '%s' is not a time (+30m, 14:30, "
			    "\"2026-12-01 09:00\", @UNIXTIME)", optarg);
		break;
	case O_RETRIES:
	case O_DIALS:
	case O_PRIO:
		n = (long long)cli_parse_id(optarg);
		if (n < 1 || n > 255)
			return cli_error(cli, CLI_USAGE, "--%s takes a number from 1 to 255",
			    ch == O_RETRIES ? "retries" : ch == O_DIALS ? "dials" : "priority");
		if (ch == O_RETRIES)
			o->submit.max_tries = (int)n;
		else if (ch == O_DIALS)
			o->submit.max_dials = (int)n;
		else
			o->submit.priority = (int)n;
		break;
	case O_KILL:
		if ((*kill_after = cli_parse_duration(optarg)) <= 0)
			return cli_error(cli, CLI_USAGE, "--kill-after: '%s' is not a duration (90s, "
			    "30m, 2h, 1d)", optarg);
		break;
	case O_CFROM: o->submit.cover_from = optarg; break;
	case O_CTO: o->submit.cover_to = optarg; break;
	case O_SUBJECT: o->submit.subject = optarg; break;
	}
	return CLI_OK;
}

int
cmd_send(struct cli *cli)
{
	struct ncfx_document docs[NCFX_PARTS_MAX];
	struct send_opts o;
	struct ncfx_job j;
	ncfx_client *c;
	ncfx_status st;
	long long kill_after = 0;
	int64_t now = (int64_t)time(NULL);
	int ch, rc, from_stdin = -1, spool = -1;

	memset(&o, 0, sizeof(o));
	while ((ch = cli_getopt(cli, send_options)) != -1)
		if ((rc = set_option(cli, &o, ch, now, &kill_after)) != CLI_OK)
			return rc;
	if ((rc = cli_ready(cli)) >= 0)
		return rc;
	/* The kill time counts from the send-at time, if there is one. */
	if (kill_after)
		o.submit.kill_at = (o.submit.send_at ? o.submit.send_at : now) + kill_after;
	if (cli->argc < 1 || cli->argc > (int)NCFX_PARTS_MAX)
		return cli_error(cli, CLI_USAGE, "send takes 1 to %u documents: netcfax send "
		    "FILE... --to NUMBER ('-' for standard input)", NCFX_PARTS_MAX);
	if (o.to.to == NULL)
		return cli_error(cli, CLI_USAGE, "send needs a fax number: --to NUMBER, or --to "
		    "NAME from your address book");
	if ((rc = cli_resolve_to(cli, &o.to)) != CLI_OK)
		return rc;
	for (int i = 0; i < cli->argc; i++) {
		if (strcmp(cli->argv[i], "-") == 0) {
			if (from_stdin >= 0)
				return cli_error(cli, CLI_USAGE, "standard input ('-') can be only one "
				    "of the documents");
			from_stdin = i;
		} else if (access(cli->argv[i], R_OK) != 0)
			return cli_error(cli, CLI_NOINPUT, "cannot read %s", cli->argv[i]);
	}
	if (from_stdin >= 0 && (rc = read_stdin(cli, &spool)) != CLI_OK)
		return rc;
	for (int i = 0; i < cli->argc; i++) {
		docs[i].path = i == from_stdin ? NULL : cli->argv[i];
		docs[i].fd = i == from_stdin ? spool : -1;
		docs[i].name = i == from_stdin ? STDIN_NAME : NULL;
	}
	if (o.wait) {
		rc = send_and_wait(cli, &o, docs, cli->argc);
		goto out;
	}
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		goto out;
	st = ncfx_submit_docs(c, docs, cli->argc, o.to.to, &o.submit, progress, cli, &j);
	if (st != NCFX_OK) {
		rc = cli_fail(cli, c, st);
		ncfx_client_free(c);
		goto out;
	}
	print_job(cli, &o, &j);
	ncfx_client_free(c);
	rc = CLI_OK;
out:
	if (spool >= 0)
		close(spool);
	return rc;
}

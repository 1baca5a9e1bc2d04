/* log.c: levelled log lines, one per event, to stderr (timestamped, or with the journal's
 * priority prefixes) or to syslog. */
#include "log.h"
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "netcfax";
static int log_lvl = LOG_LVL_INFO;
static int log_dest = LOG_DEST_STDERR;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/* The syslog priority of each level; the journal's "<N>" prefixes use the same numbers. */
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

static const struct {
	const char *name;
	int         facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_lvl = level;
}

void
log_set_level(int level)
{
	log_lvl = level;
}

int
log_get_level(void)
{
	return log_lvl;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

/* systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connects stderr to; a child
 * whose stderr was redirected elsewhere inherits the variable, hence the comparison. */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char end;

	if (v == NULL || sscanf(v, "%ju:%ju%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

int
log_dest_parse(const char *name)
{
	if (strcasecmp(name, "stderr") == 0)
		return LOG_DEST_STDERR;
	if (strcasecmp(name, "journal") == 0)
		return LOG_DEST_JOURNAL;
	if (strcasecmp(name, "syslog") == 0)
		return LOG_DEST_SYSLOG;
	if (strcasecmp(name, "auto") == 0)
		return stderr_is_journal() ? LOG_DEST_JOURNAL : LOG_DEST_STDERR;
	return -1;
}

int
log_facility_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

int
log_set_dest(int dest, int facility)
{
	struct stat st;

	if (log_dest == LOG_DEST_SYSLOG && dest != LOG_DEST_SYSLOG)
		closelog();
	log_dest = dest;
	if (dest != LOG_DEST_SYSLOG)
		return 0;
	openlog(log_prog, LOG_PID | LOG_NDELAY, facility);
	return stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode) ? 0 : -1;
}

int
log_get_dest(void)
{
	return log_dest;
}

/* One event, one line: a newline or other control byte from a peer's text must not start a
 * line of its own (it would look like another event, and lose the journal's priority). */
static void
flatten(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : '?';
}

static void
to_stderr(int level, const char *msg)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line so lines from concurrent processes do not interleave. */
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s\n", stamp, ts.tv_nsec / 1000000, log_prog,
	    (long)getpid(), level_names[level], msg);
}

static void
log_vemit(int level, int with_errno, int saved_errno, int fatal_line, const char *fmt,
    va_list ap)
{
	char msg[1024];
	size_t len;

	if (level > log_lvl)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved_errno));
	}
	flatten(msg);
	/* Valid UTF-8 only: the journal shows any other line as a blob, and a line cut at
	 * its buffer's end may end inside a character. */
	ncfx_text_sanitize(msg);
	switch (log_dest) {
	case LOG_DEST_JOURNAL:
		/* The journal stamps the time, the program and its pid itself. */
		fprintf(stderr, "<%d>%s: %s\n", level_prio[level], level_names[level], msg);
		break;
	case LOG_DEST_SYSLOG:
		syslog(level_prio[level], "%s: %s", level_names[level], msg);
		if (fatal_line)
			to_stderr(level, msg);
		break;
	default:
		to_stderr(level, msg);
		break;
	}
}

#define LOG_BODY(level, with_errno, fatal_line) do {                         \
	int saved = errno;                                                   \
	va_list ap;                                                          \
	va_start(ap, fmt);                                                   \
	log_vemit((level), (with_errno), saved, (fatal_line), fmt, ap);      \
	va_end(ap);                                                          \
	errno = saved;                                                       \
} while (0)

void log_warn(const char *fmt, ...)   { LOG_BODY(LOG_LVL_WARN, 1, 0); }
void log_warnx(const char *fmt, ...)  { LOG_BODY(LOG_LVL_WARN, 0, 0); }
void log_errorx(const char *fmt, ...) { LOG_BODY(LOG_LVL_ERROR, 0, 0); }
void log_info(const char *fmt, ...)   { LOG_BODY(LOG_LVL_INFO, 0, 0); }
void log_debug(const char *fmt, ...)  { LOG_BODY(LOG_LVL_DEBUG, 0, 0); }

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 1, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 0, 1);
	exit(1);
}

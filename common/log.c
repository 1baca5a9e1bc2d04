/* log.c: timestamped, levelled log lines on stderr, which systemd and tests both capture. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "netcfax";
static int log_lvl = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

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

static void
log_vemit(int level, int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	char msg[1024], stamp[32];
	struct timespec ts;
	struct tm tm;

	if (level > log_lvl)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line so lines from concurrent processes do not interleave. */
	if (with_errno)
		fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s: %s\n", stamp, ts.tv_nsec / 1000000,
		    log_prog, (long)getpid(), level_names[level], msg, strerror(saved_errno));
	else
		fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s\n", stamp, ts.tv_nsec / 1000000,
		    log_prog, (long)getpid(), level_names[level], msg);
}

#define LOG_BODY(level, with_errno) do {                         \
	int saved = errno;                                       \
	va_list ap;                                              \
	va_start(ap, fmt);                                       \
	log_vemit((level), (with_errno), saved, fmt, ap);        \
	va_end(ap);                                              \
	errno = saved;                                           \
} while (0)

void log_warn(const char *fmt, ...)   { LOG_BODY(LOG_LVL_WARN, 1); }
void log_warnx(const char *fmt, ...)  { LOG_BODY(LOG_LVL_WARN, 0); }
void log_errorx(const char *fmt, ...) { LOG_BODY(LOG_LVL_ERROR, 0); }
void log_info(const char *fmt, ...)   { LOG_BODY(LOG_LVL_INFO, 0); }
void log_debug(const char *fmt, ...)  { LOG_BODY(LOG_LVL_DEBUG, 0); }

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 0);
	exit(1);
}

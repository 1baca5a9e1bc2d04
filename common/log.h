/* log.h: one logging module for every netcfax program (levels, errno-aware variants, fatal). */
#ifndef NETCFAX_LOG_H
#define NETCFAX_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* progname prefixes every line; level is the most verbose level printed. */
void log_init(const char *progname, int level);
void log_set_level(int level);
int  log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int  log_level_parse(const char *name);

/* log_warn appends strerror(errno); log_warnx does not (OpenSMTPD's convention). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Startup failures and broken invariants only: a bad peer never reaches these. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

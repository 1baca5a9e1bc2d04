/* log.h: one logging module for every netcfax program (levels, destinations, errno-aware
 * variants, fatal). */
#ifndef NETCFAX_LOG_H
#define NETCFAX_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Where lines go. stderr: each line with a UTC timestamp, the program and its pid. journal:
 * stderr read by systemd's journal, each line with an sd-daemon "<N>" priority prefix and
 * nothing the journal records itself. syslog: the local syslog daemon (/dev/log). */
enum log_dest { LOG_DEST_STDERR = 0, LOG_DEST_JOURNAL, LOG_DEST_SYSLOG };

/* progname prefixes every line; level is the most verbose level printed. Lines go to stderr
 * until log_set_dest says otherwise. */
void log_init(const char *progname, int level);
void log_set_level(int level);
int  log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int  log_level_parse(const char *name);
/* Parses "stderr", "journal", "syslog", or "auto": journal when stderr is the journal's
 * stream (JOURNAL_STREAM names its device and inode), else stderr. -1 for anything else. */
int  log_dest_parse(const char *name);
/* Parses a syslog facility: "daemon", "user", "local0" .. "local7"; -1 otherwise. */
int  log_facility_parse(const char *name);
/* From now on lines go to dest; syslog connects at once (ident progname, with the pid, at
 * facility, a value from log_facility_parse), so a later drop of privileges does not cut it
 * off. -1 when dest is syslog and no socket is there to take the lines (they are lost until
 * a syslog daemon listens), else 0. */
int  log_set_dest(int dest, int facility);
int  log_get_dest(void);

/* log_warn appends strerror(errno); log_warnx does not (OpenSMTPD's convention). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Startup failures and broken invariants only: a bad peer never reaches these. With syslog,
 * the line also goes to stderr, for whoever started the program by hand. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

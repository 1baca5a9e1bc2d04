/* when.c: the times and durations people type for send --at and --kill-after. */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long long
cli_parse_duration(const char *s)
{
	char *end;
	long long n;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	n = strtoll(s, &end, 10);
	if (n < 0 || n > 366LL * 86400)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': n *= 60; break;
	case 'h': n *= 3600; break;
	case 'd': n *= 86400; break;
	default: return -1;
	}
	if (*end && end[1] != '\0')
		return -1;
	return n;
}

int64_t
cli_parse_time(const char *s, int64_t now)
{
	struct tm tm;
	time_t t = (time_t)now;
	const char *end;
	long long d;

	if (s[0] == '+')
		return (d = cli_parse_duration(s + 1)) < 0 ? -1 : now + d;
	if (s[0] == '@') {
		char *e;
		long long v = strtoll(s + 1, &e, 10);
		return *e == '\0' && v > 0 ? v : -1;
	}
	localtime_r(&t, &tm);
	/* "YYYY-MM-DD HH:MM", or "HH:MM" today (tomorrow when that is past). */
	if ((end = strptime(s, "%Y-%m-%d %H:%M", &tm)) != NULL && *end == '\0') {
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		return (int64_t)mktime(&tm);
	}
	localtime_r(&t, &tm);
	if ((end = strptime(s, "%H:%M", &tm)) != NULL && *end == '\0') {
		int64_t at;
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		at = (int64_t)mktime(&tm);
		return at <= now ? at + 86400 : at;
	}
	return -1;
}

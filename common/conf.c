/* conf.c: the configuration file parser behind netcfaxd.conf and client.conf. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONF_LINE_MAX 4096

static const struct conf_opt *
find_opt(const struct conf_opt *opts, const char *name)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

int
conf_parse_size(const char *s, long long *out)
{
	char *end;
	long long v, mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K': mul = 1024LL; break;
		case 'M': mul = 1024LL * 1024; break;
		case 'G': mul = 1024LL * 1024 * 1024; break;
		default: return -1;
		}
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v > LLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int
choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		if (!bar)
			break;
		p = bar + 1;
	}
	return 0;
}

/* "1 to 65535", or for sizes "1K to 4G": an option's bounds as a person writes them. */
static const char *
range(const struct conf_opt *o, char *buf, size_t cap)
{
	static const char unit[] = "KMG";
	char lo[24], hi[24];
	long long v[2] = { o->min, o->max };
	char *out[2] = { lo, hi };

	for (int i = 0; i < 2; i++) {
		int u = -1;
		long long x = v[i];
		while (o->type == CONF_SIZE && u < 2 && x >= 1024 && x % 1024 == 0) {
			x /= 1024;
			u++;
		}
		if (u >= 0)
			snprintf(out[i], sizeof(lo), "%lld%c", x, unit[u]);
		else
			snprintf(out[i], sizeof(lo), "%lld", x);
	}
	snprintf(buf, cap, "%s to %s", lo, hi);
	return buf;
}

/* Edits from a to b (insert, delete, substitute, case ignored), or a large number when
 * either is longer than any option name. */
static int
distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	int prev[MAXLEN + 1], cur[MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAXLEN || lb > MAXLEN)
		return 1000;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[lb];
}

/* "unknown option 'x'", the nearest option when one is close, and where the options are
 * listed: the help of the table's last row, else every name. */
static void
unknown_option(const struct conf_opt *opts, const char *name, char *err, size_t errlen)
{
	const struct conf_opt *o, *best = NULL;
	int best_d = 3;
	size_t n;

	for (o = opts; o->name; o++) {
		int d = distance(name, o->name);
		if (d < best_d) {
			best_d = d;
			best = o;
		}
	}
	n = (size_t)snprintf(err, errlen, "unknown option '%s'", name);
	if (best && n < errlen)
		n += (size_t)snprintf(err + n, errlen - n, " (did you mean '%s'?)", best->name);
	if (o->help) {
		if (n < errlen)
			snprintf(err + n, errlen - n, "; %s", o->help);
		return;
	}
	if (n < errlen)
		n += (size_t)snprintf(err + n, errlen - n, "; the options are:");
	for (o = opts; o->name && n < errlen; o++)
		n += (size_t)snprintf(err + n, errlen - n, "%s %s", o == opts ? "" : ",", o->name);
}

void
conf_file_stem(const char *path, char *out, size_t cap)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
		n -= 5;
	if (n >= cap)
		n = cap - 1;
	snprintf(out, cap, "%.*s", (int)n, base);
}

int
conf_index(const struct conf_opt *opts, const char *name)
{
	for (int i = 0; opts[i].name; i++)
		if (strcmp(opts[i].name, name) == 0)
			return i;
	return -1;
}

static int
apply(const struct conf_opt *o, void *target, const char *v, char *err, size_t errlen)
{
	char *dst = (char *)target + o->offset;
	char buf[64];
	long long n;
	char *end;

	switch (o->type) {
	case CONF_INT:
	case CONF_SIZE:
		if (o->type == CONF_SIZE) {
			if (conf_parse_size(v, &n) < 0) {
				snprintf(err, errlen, "%s: '%s' is not a size; allowed: %s, in bytes "
				    "or with K, M or G (e.g. 64M)", o->name, v, range(o, buf,
				    sizeof(buf)));
				return -1;
			}
		} else {
			errno = 0;
			n = strtoll(v, &end, 10);
			if (end == v || *end != '\0' || errno != 0) {
				snprintf(err, errlen, "%s: '%s' is not a whole number; allowed: %s",
				    o->name, v, range(o, buf, sizeof(buf)));
				return -1;
			}
		}
		if (n < o->min || n > o->max) {
			snprintf(err, errlen, "%s: %s is out of range; allowed: %s", o->name, v,
			    range(o, buf, sizeof(buf)));
			return -1;
		}
		memcpy(dst, &n, sizeof(n));
		return 0;
	case CONF_CHOICE:
		if (!choice_ok(o->choices, v)) {
			snprintf(err, errlen, "%s: '%s' is not one of %s", o->name, v, o->choices);
			return -1;
		}
		/* FALLTHROUGH */
	case CONF_STR:
		if (strlen(v) >= o->size) {
			snprintf(err, errlen, "%s: value longer than %zu characters", o->name,
			    o->size - 1);
			return -1;
		}
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	case CONF_BOOL: {
		int b;
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
		    !strcmp(v, "1"))
			b = 1;
		else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
		    !strcasecmp(v, "off") || !strcmp(v, "0"))
			b = 0;
		else {
			snprintf(err, errlen, "%s: '%s' is not yes or no (true/false, on/off and "
			    "1/0 also do)", o->name, v);
			return -1;
		}
		memcpy(dst, &b, sizeof(b));
		return 0;
	}
	}
	snprintf(err, errlen, "%s: bad option type", o->name);
	return -1;
}

int
conf_defaults(const struct conf_opt *opts, void *target, char *err, size_t errlen)
{
	for (const struct conf_opt *o = opts; o->name; o++)
		if (apply(o, target, o->def, err, errlen) < 0)
			return -1;
	return 0;
}

int
conf_set(const struct conf_opt *opts, void *target, const char *name, const char *value,
    char *err, size_t errlen)
{
	const struct conf_opt *o = find_opt(opts, name);

	if (o == NULL) {
		unknown_option(opts, name, err, errlen);
		return -1;
	}
	return apply(o, target, value, err, errlen);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
conf_load(const struct conf_opt *opts, void *target, const char *path, int missing_ok,
    int *lines, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = conf_load_stream(opts, target, f, path, lines, err, errlen);
	fclose(f);
	return rc;
}

int
conf_load_stream(const struct conf_opt *opts, void *target, FILE *f, const char *path,
    int *lines, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 2], why[1024];
	int seen_line[CONF_MAX_OPTS] = { 0 };
	int lineno = 0, rc = -1;

	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *eq;
		const struct conf_opt *o;

		lineno++;
		/* A line longer than the cap is refused, never silently split in two. */
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %d characters", path, lineno,
			    CONF_LINE_MAX);
			goto out;
		}
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected 'name = value', found '%.60s%s'", path,
			    lineno, key, strlen(key) > 60 ? "..." : "");
			goto out;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (*key == '\0') {
			snprintf(err, errlen, "%s:%d: expected 'name = value', found no name before "
			    "'='", path, lineno);
			goto out;
		}
		if (val[0] == '"') {
			/* A quoted value keeps '#' and spaces; only a comment may follow it. */
			char *close = strchr(val + 1, '"'), *rest;
			if (close == NULL) {
				snprintf(err, errlen, "%s:%d: unterminated quote", path, lineno);
				goto out;
			}
			*close = '\0';
			rest = trim(close + 1);
			if (*rest != '\0' && *rest != '#') {
				snprintf(err, errlen, "%s:%d: text after the closing quote", path,
				    lineno);
				goto out;
			}
			val++;
		} else {
			/* Trailing comments: "port = 7488   # PCP". Only whitespace-then-# starts
			 * one, so a value like "a#b" needs no quotes. */
			for (char *h = val; (h = strchr(h, '#')) != NULL; h++)
				if (h > val && isspace((unsigned char)h[-1])) {
					*h = '\0';
					val = trim(val);
					break;
				}
		}
		o = find_opt(opts, key);
		if (o == NULL) {
			unknown_option(opts, key, why, sizeof(why));
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto out;
		}
		size_t idx = (size_t)(o - opts);
		if (idx < CONF_MAX_OPTS && seen_line[idx]) {
			snprintf(err, errlen, "%s:%d: '%s' already set on line %d", path, lineno,
			    key, seen_line[idx]);
			goto out;
		}
		if (idx < CONF_MAX_OPTS)
			seen_line[idx] = lineno;
		if (lines)
			lines[idx] = lineno;
		if (apply(o, target, val, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

void
conf_print_sample(const struct conf_opt *opts, const char *title)
{
	printf("# %s\n# Every option with its default; uncomment to change.\n\n", title);
	for (const struct conf_opt *o = opts; o->name; o++) {
		printf("# %s\n", o->help);
		if (o->type == CONF_INT || o->type == CONF_SIZE)
			printf("# range %lld..%lld\n", o->min, o->max);
		else if (o->type == CONF_CHOICE)
			printf("# one of: %s\n", o->choices);
		printf("#%s = %s\n\n", o->name, o->def);
	}
}

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
#define CONF_MAX_OPTS 128

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

static int
apply(const struct conf_opt *o, void *target, const char *v, char *err, size_t errlen)
{
	char *dst = (char *)target + o->offset;
	long long n;
	char *end;

	switch (o->type) {
	case CONF_INT:
	case CONF_SIZE:
		if (o->type == CONF_SIZE) {
			if (conf_parse_size(v, &n) < 0) {
				snprintf(err, errlen, "%s: '%s' is not a size (e.g. 64M)", o->name, v);
				return -1;
			}
		} else {
			errno = 0;
			n = strtoll(v, &end, 10);
			if (end == v || *end != '\0' || errno != 0) {
				snprintf(err, errlen, "%s: '%s' is not a number", o->name, v);
				return -1;
			}
		}
		if (n < o->min || n > o->max) {
			snprintf(err, errlen, "%s: %lld is out of range %lld..%lld", o->name, n,
			    o->min, o->max);
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
			snprintf(err, errlen, "%s: '%s' is not yes or no", o->name, v);
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
		snprintf(err, errlen, "unknown option '%s'", name);
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
    char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = conf_load_stream(opts, target, f, path, err, errlen);
	fclose(f);
	return rc;
}

int
conf_load_stream(const struct conf_opt *opts, void *target, FILE *f, const char *path,
    char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 2], why[512];
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
			snprintf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
			goto out;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
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
			snprintf(err, errlen, "%s:%d: unknown option '%s'", path, lineno, key);
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

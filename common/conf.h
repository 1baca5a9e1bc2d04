/* conf.h: table-driven "key = value" configuration files with file:line errors. */
#ifndef NETCFAX_CONF_H
#define NETCFAX_CONF_H

#include <stddef.h>
#include <stdio.h>

enum conf_type {
	CONF_INT,     /* long long within [min, max] */
	CONF_SIZE,    /* long long with an optional K/M/G suffix, within [min, max] */
	CONF_STR,     /* char[size] */
	CONF_CHOICE,  /* char[size], one of the '|'-separated words in choices */
	CONF_BOOL,    /* int: yes/no, true/false, on/off, 1/0 */
};

/* One row per option, like Redis's config table: the whole truth about an option. */
struct conf_opt {
	const char    *name;
	enum conf_type type;
	const char    *def;      /* default, as it would be written in the file */
	long long      min, max;
	const char    *choices;  /* CONF_CHOICE only */
	size_t         offset;   /* where the value lives in the caller's struct */
	size_t         size;     /* CONF_STR / CONF_CHOICE buffer size */
	const char    *help;
};

#define CONF_END { NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL }
/* The last row may say where a reader finds every option, for "unknown option" errors
 * (without it, the error lists the option names). */
#define CONF_END_HINT(h) { NULL, 0, NULL, 0, 0, NULL, 0, 0, h }
#define CONF_MAX_OPTS 128          /* rows in one table at most */

/* Sets every option to its default. Returns 0, or -1 if a default is invalid (a bug). */
int  conf_defaults(const struct conf_opt *opts, void *target, char *err, size_t errlen);
/* Parses path over the current values. A missing file is an error unless missing_ok.
 * The file is rejected whole: on error target may be partly set, and err says "path:line:
 * option: what is wrong; what is allowed". When lines is given (one int per row of opts),
 * lines[i] is set to the line that set option i, so that a check across options can name
 * it too; options the file does not set are left as they were. */
int  conf_load(const struct conf_opt *opts, void *target, const char *path, int missing_ok,
               int *lines, char *err, size_t errlen);
/* The same from an open stream; name stands for the path in messages. f is not closed. */
int  conf_load_stream(const struct conf_opt *opts, void *target, FILE *f, const char *name,
                      int *lines, char *err, size_t errlen);
/* The row of name in opts, or -1. */
int  conf_index(const struct conf_opt *opts, const char *name);
/* Sets one option from text (command-line overrides). */
int  conf_set(const struct conf_opt *opts, void *target, const char *name, const char *value,
              char *err, size_t errlen);
/* Writes a commented sample file listing every option with its default and help. */
void conf_print_sample(const struct conf_opt *opts, const char *title);

/* The name a file of its own gives what it configures (a trunk, a modem): "NAME" of
 * ".../NAME.conf", cut to cap. */
void conf_file_stem(const char *path, char *out, size_t cap);

/* Parses "64M"-style sizes; 0 or -1. */
int  conf_parse_size(const char *s, long long *out);

#endif

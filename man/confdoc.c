/* confdoc.c: the OPTIONS sections of netcfaxd.conf(5), netcfax-trunk.conf(5) and client.conf(5), and the sample
 * client.conf, written from the programs' own option tables, so the pages cannot drift from
 * what the programs accept. A build tool; it is not installed. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "conf.h"
#include "config.h"
#include "modemconf.h"
#include "trunk.h"

/* Text as scdoc reads it: its markup characters escaped. */
static void
put_text(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '*' || *s == '_')
			putchar('\\');
		putchar(*s);
	}
}

/* A size bound the way the file would say it: 4G rather than 4294967296. */
static void
put_size(long long v)
{
	static const char suffix[] = "GMK";
	static const int shift[] = { 30, 20, 10 };

	for (int i = 0; i < 3; i++) {
		if (v != 0 && v % (1LL << shift[i]) == 0) {
			printf("%lld%c", v >> shift[i], suffix[i]);
			return;
		}
	}
	printf("%lld", v);
}

/* The choices of a CONF_CHOICE, "a|b|c", as *a*, *b* or *c*. */
static void
put_choices(const char *choices)
{
	const char *p = choices;

	while (*p) {
		size_t n = strcspn(p, "|");
		const char *next = p + n + (p[n] == '|');

		printf("%s*", p == choices ? "" : p[n] == '\0' ? " or " : ", ");
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\\' || p[i] == '*' || p[i] == '_')
				putchar('\\');
			putchar(p[i]);
		}
		putchar('*');
		p = next;
	}
}

static void
print_scdoc(const struct conf_opt *opts)
{
	for (const struct conf_opt *o = opts; o->name; o++) {
		printf("*");
		put_text(o->name);
		printf("* = ");
		switch (o->type) {
		case CONF_INT:
			printf("_number_ (%lld to %lld)", o->min, o->max);
			break;
		case CONF_SIZE:
			printf("_size_ (bytes, or with K, M or G: ");
			put_size(o->min);
			printf(" to ");
			put_size(o->max);
			printf(")");
			break;
		case CONF_CHOICE:
			put_choices(o->choices);
			break;
		case CONF_BOOL:
			printf("*yes* or *no*");
			break;
		case CONF_STR:
			printf("_text_");
			break;
		}
		printf("\n\t");
		put_text(o->help);
		if (o->def[0]) {
			printf(". Default: *");
			put_text(o->def);
			printf("*.\n\n");
		} else {
			printf(". Empty by default.\n\n");
		}
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: confdoc scdoc server|client|trunk|modem\n"
	    "       confdoc sample client\n");
	return 64;
}

int
main(int argc, char **argv)
{
	const struct conf_opt *opts;

	if (argc != 3)
		return usage();
	if (strcmp(argv[2], "server") == 0)
		opts = config_options();
	else if (strcmp(argv[2], "client") == 0)
		opts = client_config_options();
	else if (strcmp(argv[2], "trunk") == 0)
		opts = trunk_options();
	else if (strcmp(argv[2], "modem") == 0)
		opts = modemconf_options();
	else
		return usage();
	if (strcmp(argv[1], "scdoc") == 0)
		print_scdoc(opts);
	else if (strcmp(argv[1], "sample") == 0 && opts == client_config_options())
		conf_print_sample(opts, "client.conf: netcfax client configuration "
		    "(~/.config/netcfax/client.conf)");
	else
		return usage();
	return fflush(stdout) == 0 ? 0 : 1;
}

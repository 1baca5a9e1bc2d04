/* cmd_inbox.c: netcfax inbox [--unread] | inbox read|unread|delete ID: the faxes received for
 * the user. */
#include "cli.h"

#include <string.h>
#include <time.h>

#include "json.h"

void
cli_print_fax_json(FILE *out, const struct ncfx_fax *f)
{
	fprintf(out, "{\"id\":%llu,\"number\":", (unsigned long long)f->id);
	json_print_str(out, f->number);
	fprintf(out, ",\"from\":");
	json_print_str(out, f->remote_id);
	fprintf(out, ",\"pages\":%u,\"size\":%llu,\"received\":%lld,\"read\":%s,"
	    "\"resolution\":\"%s\",\"bit_rate\":%u,\"ecm\":%s", f->pages,
	    (unsigned long long)f->size, (long long)f->received, f->read ? "true" : "false",
	    f->fine ? "fine" : "standard", f->bit_rate, f->ecm ? "true" : "false");
	if (f->media[0]) {
		fprintf(out, ",\"media\":");
		json_print_str(out, f->media);
	}
	if (f->note[0]) {
		fprintf(out, ",\"note\":");
		json_print_str(out, f->note);
	}
	fputc('}', out);
}

enum { O_UNREAD = 256 };

const struct cli_option inbox_options[] = {
	{ "unread", no_argument, O_UNREAD, NULL, "list only the faxes not read yet" },
	{ NULL, 0, 0, NULL, NULL }
};

struct inbox_ctx {
	struct cli *cli;
	int         n;
};

static int
one_fax(const struct ncfx_fax *f, void *arg)
{
	struct inbox_ctx *x = arg;
	char when[32];
	struct tm tmv;
	time_t t = (time_t)f->received;

	if (x->cli->json) {
		if (x->n)
			putchar(',');
		cli_print_fax_json(stdout, f);
	} else {
		if (x->n == 0)
			printf("%-6s %-4s %-16s %-20s %-20s %5s  %s\n", "ID", "NEW", "RECEIVED", "ON",
			    "FROM", "PAGES", "NOTE");
		if (localtime_r(&t, &tmv) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tmv) == 0)
			snprintf(when, sizeof(when), "?");
		printf("%-6llu %-4s %-16s %-20s %-20s %5u  %s\n", (unsigned long long)f->id,
		    f->read ? "" : "*", when, f->number, f->remote_id[0] ? f->remote_id : "-",
		    f->pages, f->note);
	}
	x->n++;
	return 0;
}

static int
list(struct cli *cli, ncfx_client *c, int unread)
{
	struct inbox_ctx x = { cli, 0 };
	ncfx_status st;

	if (cli->json)
		printf("{\"faxes\":[");
	st = ncfx_inbox(c, unread, one_fax, &x);
	if (st != NCFX_OK) {
		if (cli->json)
			printf("],\"incomplete\":true}\n");
		return cli_fail(cli, c, st);
	}
	if (cli->json)
		printf("]}\n");
	else if (x.n == 0)
		printf(unread ? "no unread faxes\n" : "no faxes\n");
	return CLI_OK;
}

static int
act(struct cli *cli, ncfx_client *c, const char *verb, uint64_t id)
{
	struct ncfx_fax f;
	ncfx_status st;

	if (strcmp(verb, "delete") == 0)
		st = ncfx_inbox_delete(c, id);
	else
		st = ncfx_inbox_mark(c, id, strcmp(verb, "read") == 0, &f);
	if (st != NCFX_OK)
		return cli_fail(cli, c, st);
	if (cli->json) {
		if (strcmp(verb, "delete") == 0)
			printf("{\"deleted\":%llu}\n", (unsigned long long)id);
		else {
			printf("{\"fax\":");
			cli_print_fax_json(stdout, &f);
			printf("}\n");
		}
	} else
		printf("fax %llu %s\n", (unsigned long long)id, strcmp(verb, "delete") == 0 ?
		    "deleted" : strcmp(verb, "read") == 0 ? "marked read" : "marked unread");
	return CLI_OK;
}

int
cmd_inbox(struct cli *cli)
{
	const char *verb;
	unsigned long long id = 0;
	ncfx_client *c;
	int rc, unread = 0;

	while (cli_getopt(cli, inbox_options) != -1)
		unread = 1;       /* --unread, the only one */
	if ((rc = cli_ready(cli)) >= 0)
		return rc;
	verb = cli->argc > 0 ? cli->argv[0] : NULL;

	if (verb && strcmp(verb, "read") != 0 && strcmp(verb, "unread") != 0 &&
	    strcmp(verb, "delete") != 0)
		return cli_error(cli, CLI_USAGE, "inbox takes read ID, unread ID or delete ID "
		    "(or nothing, to list)");
	if (verb && (cli->argc != 2 || (id = cli_parse_id(cli->argv[1])) == 0))
		return cli_error(cli, CLI_USAGE, "inbox %s needs a fax id (see: netcfax inbox)",
		    verb);
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	rc = verb ? act(cli, c, verb, id) : list(cli, c, unread);
	ncfx_client_free(c);
	return rc;
}

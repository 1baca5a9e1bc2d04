/* cmd_book.c: netcfax book [list | add NAME NUMBER [--note TEXT] | remove NAME], and the
 * lookup that lets send --to take a name. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "book.h"
#include "json.h"

_Static_assert(sizeof(((struct cli_recipient *)0)->name) == BOOK_NAME_MAX + 1, "name");
_Static_assert(sizeof(((struct cli_recipient *)0)->number) == NCFX_DEST_MAX + 1, "number");

enum { O_NOTE = 256 };

const struct cli_option book_options[] = {
	{ "note", required_argument, O_NOTE, "TEXT", "book add: a note kept with the name" },
	{ NULL, 0, 0, NULL, NULL }
};

/* address_book from client.conf, else ~/.config/netcfax/addressbook. */
static int
book_path(struct cli *cli, char *buf, size_t cap)
{
	const char *home = getenv("HOME");

	if (cli->cfg.address_book[0]) {
		snprintf(buf, cap, "%s", cli->cfg.address_book);
		return 0;
	}
	if (home == NULL || *home == '\0')
		return cli_error(cli, CLI_USAGE, "no address book: HOME is not set; set "
		    "address_book in %s", cli->config_path);
	if ((size_t)snprintf(buf, cap, "%s/.config/netcfax/addressbook", home) >= cap)
		return cli_error(cli, CLI_USAGE, "HOME is too long for the address book's path");
	return 0;
}

static int
list(struct cli *cli, const struct book *b, const char *path)
{
	int n = book_count(b);

	if (cli->json) {
		printf("{\"book\":[");
		for (int i = 0; i < n; i++) {
			const struct book_entry *e = book_get(b, i);
			printf("%s{\"name\":", i ? "," : "");
			json_print_str(stdout, e->name);
			printf(",\"number\":");
			json_print_str(stdout, e->number);
			printf(",\"note\":");
			json_print_str(stdout, e->note);
			putchar('}');
		}
		printf("]}\n");
		return CLI_OK;
	}
	if (n == 0) {
		printf("the address book is empty (%s): add a name with 'netcfax book add NAME "
		    "NUMBER'\n", path);
		return CLI_OK;
	}
	printf("%-16s %-24s %s\n", "NAME", "NUMBER", "NOTE");
	for (int i = 0; i < n; i++) {
		const struct book_entry *e = book_get(b, i);
		printf("%-16s %-24s %s\n", e->name, e->number, e->note);
	}
	return CLI_OK;
}

/* add and remove: under the lock, read, change, write the whole book. */
static int
change(struct cli *cli, const char *path, int add, const char *note)
{
	char err[PATH_MAX + 400];
	struct book *b = NULL;
	const struct book_entry *e;
	struct book_entry gone;
	int lock, rc = CLI_OK;

	if ((lock = book_lock(path, err, sizeof(err))) < 0)
		return cli_error(cli, CLI_USAGE, "%s", err);
	if ((b = book_load(path, err, sizeof(err))) == NULL) {
		rc = cli_error(cli, CLI_USAGE, "%s", err);
		goto out;
	}
	if (add) {
		if (book_add(b, cli->argv[1], cli->argv[2], note, err, sizeof(err)) < 0) {
			rc = cli_error(cli, CLI_USAGE, "%s", err);
			goto out;
		}
	} else {
		if ((e = book_find(b, cli->argv[1])) == NULL) {
			rc = cli_error(cli, CLI_USAGE, "'%s' is not in the address book (see 'netcfax "
			    "book list')", cli->argv[1]);
			goto out;
		}
		gone = *e;
		book_remove(b, cli->argv[1]);
	}
	if (book_save(b, err, sizeof(err)) < 0) {
		rc = cli_error(cli, CLI_INTERNAL, "%s", err);
		goto out;
	}
	if (!add && !cli->json)
		printf("removed %s (%s)\n", gone.name, gone.number);
	if (add && (e = book_find(b, cli->argv[1])) != NULL) {
		if (cli->json) {
			printf("{\"added\":{\"name\":");
			json_print_str(stdout, e->name);
			printf(",\"number\":");
			json_print_str(stdout, e->number);
			printf("}}\n");
		} else
			printf("added %s: %s\n", e->name, e->number);
	} else if (!add && cli->json)
		printf("{\"removed\":true}\n");
out:
	book_free(b);
	close(lock);
	return rc;
}

int
cmd_book(struct cli *cli)
{
	char path[PATH_MAX], err[PATH_MAX + 400];
	const char *sub, *note = NULL;
	struct book *b;
	int rc;

	while (cli_getopt(cli, book_options) != -1)
		note = optarg;    /* --note, the only one */
	if ((rc = cli_ready(cli)) >= 0)
		return rc;
	sub = cli->argc > 0 ? cli->argv[0] : "list";
	if ((rc = book_path(cli, path, sizeof(path))) != 0)
		return rc;
	if (note && strcmp(sub, "add") != 0)
		return cli_error(cli, CLI_USAGE, "--note goes with book add");
	if (strcmp(sub, "list") == 0) {
		if (cli->argc > 1)
			return cli_error(cli, CLI_USAGE, "book list takes no arguments");
		if ((b = book_load(path, err, sizeof(err))) == NULL)
			return cli_error(cli, CLI_USAGE, "%s", err);
		rc = list(cli, b, path);
		book_free(b);
		return rc;
	}
	if (strcmp(sub, "add") == 0) {
		if (cli->argc != 3)
			return cli_error(cli, CLI_USAGE, "usage: netcfax book add NAME NUMBER [--note "
			    "TEXT] (quote a number with spaces)");
		return change(cli, path, 1, note);
	}
	if (strcmp(sub, "remove") == 0) {
		if (cli->argc != 2)
			return cli_error(cli, CLI_USAGE, "usage: netcfax book remove NAME");
		return change(cli, path, 0, NULL);
	}
	return cli_error(cli, CLI_USAGE, "unknown book command '%s': list, add or remove", sub);
}

int
cli_resolve_to(struct cli *cli, struct cli_recipient *r)
{
	char path[PATH_MAX], err[PATH_MAX + 400], why[200];
	const struct book_entry *e;
	struct book *b;
	int rc;

	if (r->to == NULL || book_is_number(r->to))
		return CLI_OK;
	/* Not a number, so a name: a mistyped number must not be faxed as something else. */
	if (!book_valid_name(r->to, why, sizeof(why)))
		return cli_error(cli, CLI_USAGE, "--to '%s' is neither a fax number (digits, with "
		    "+, -, spaces, parentheses) nor a name (a letter, then letters, digits, '.', '_' "
		    "or '-')", r->to);
	if ((rc = book_path(cli, path, sizeof(path))) != 0)
		return rc;
	if ((b = book_load(path, err, sizeof(err))) == NULL)
		return cli_error(cli, CLI_USAGE, "%s", err);
	if ((e = book_find(b, r->to)) == NULL) {
		book_free(b);
		return cli_error(cli, CLI_USAGE, "--to '%s' is not in the address book (see "
		    "'netcfax book list'; add it with 'netcfax book add %s NUMBER') and is not a "
		    "fax number", r->to, r->to);
	}
	snprintf(r->name, sizeof(r->name), "%s", e->name);
	snprintf(r->number, sizeof(r->number), "%s", e->number);
	r->to = r->number;
	book_free(b);
	return CLI_OK;
}

/* cmd_fetch.c: netcfax fetch ID [-o FILE] [--format pdf|tiff]: save a received fax, as a PDF
 * whose pages have the fax's true size (the default) or as the TIFF received, and mark it
 * read. */
#include "cli.h"

#include <string.h>
#include <unistd.h>

#include "json.h"

enum { O_FORMAT = 256 };

const struct cli_option fetch_options[] = {
	{ "output", required_argument, 'o', "FILE", "save it as FILE (a .tif name: as TIFF)" },
	{ "format", required_argument, O_FORMAT, "pdf|tiff", "default pdf" },
	{ NULL, 0, 0, NULL, NULL }
};

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int
cmd_fetch(struct cli *cli)
{
	unsigned long long id;
	char path[1100];
	const char *output = NULL, *want = NULL;
	int ch, format;
	ncfx_client *c;
	ncfx_status st;
	int rc;

	while ((ch = cli_getopt(cli, fetch_options)) != -1) {
		if (ch == 'o')
			output = optarg;
		else if (strcmp(optarg, "pdf") != 0 && strcmp(optarg, "tiff") != 0)
			return cli_error(cli, CLI_USAGE, "--format takes pdf or tiff");
		else
			want = optarg;
	}
	if ((rc = cli_ready(cli)) >= 0)
		return rc;

	if (cli->argc != 1 || (id = cli_parse_id(cli->argv[0])) == 0)
		return cli_error(cli, CLI_USAGE, "fetch needs a fax id: netcfax fetch ID "
		    "[-o FILE] (see: netcfax inbox)");
	if (want)
		format = strcmp(want, "tiff") == 0 ? NCFX_FETCH_TIFF : NCFX_FETCH_PDF;
	else if (output && (ends_with(output, ".tif") || ends_with(output, ".tiff")))
		format = NCFX_FETCH_TIFF;
	else
		format = NCFX_FETCH_PDF;
	if (output)
		snprintf(path, sizeof(path), "%s", output);
	else
		snprintf(path, sizeof(path), "fax-%llu.%s", id, format == NCFX_FETCH_PDF ? "pdf" :
		    "tif");
	if ((rc = cli_open(cli, 1, &c)) != CLI_OK)
		return rc;
	st = ncfx_fetch(c, id, format, path, NULL, NULL);
	if (st == NCFX_OK)
		st = ncfx_inbox_mark(c, id, 1, NULL);
	if (st != NCFX_OK) {
		rc = cli_fail(cli, c, st);
		ncfx_client_free(c);
		return rc;
	}
	if (cli->json) {
		printf("{\"fax\":%llu,\"file\":", id);
		json_print_str(stdout, path);
		printf(",\"format\":\"%s\"}\n", format == NCFX_FETCH_PDF ? "pdf" : "tiff");
	} else
		printf("fax %llu saved as %s\n", id, path);
	ncfx_client_free(c);
	return CLI_OK;
}

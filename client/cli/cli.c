/* cli.c: connecting, logging in and reporting errors the same way in every command. */
#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "password.h"
#include "proto.h"

/* Errors on stdout with --json ("type":"error" too where output is a stream of JSON lines,
 * as for watch), else one line on stderr. */
static void
print_error(struct cli *cli, int code, const char *name, const char *msg)
{
	if (cli->json) {
		printf("{%s\"error\":{\"code\":%d,\"name\":", cli->stream ? "\"type\":\"error\"," :
		    "", code);
		json_print_str(stdout, name);
		printf(",\"message\":");
		json_print_str(stdout, msg);
		printf("}}\n");
	} else
		fprintf(stderr, "netcfax: %s\n", msg);
}

int
cli_error(struct cli *cli, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error(cli, 0, code == CLI_USAGE ? "USAGE" : code == CLI_NOINPUT ? "NOINPUT" :
	    "LOCAL", msg);
	return code;
}

int
cli_report(struct cli *cli, ncfx_status st, int code, const char *detail, uint32_t retry_after)
{
	char msg[1200];
	int rc;

	snprintf(msg, sizeof(msg), "%s", detail);
	switch (st) {
	case NCFX_ERR_SERVER:
		if (code == NCFX_E_AUTH) {
			snprintf(msg, sizeof(msg), "login failed: wrong user name or password "
			    "(check 'user' in your client.conf, or ask the server's operator)");
			rc = CLI_AUTH;
		} else if (code == NCFX_E_THROTTLED) {
			snprintf(msg, sizeof(msg), "login refused: too many failed attempts; try "
			    "again in %u seconds", retry_after);
			rc = CLI_AUTH;
		} else if (code == NCFX_E_LIMIT || code == NCFX_E_SHUTDOWN ||
		    code == NCFX_E_TIMEOUT || code == NCFX_E_VERSION ||
		    code == NCFX_E_PROTOCOL || code == NCFX_E_UNEXPECTED)
			rc = CLI_UNREACHABLE;
		else
			rc = CLI_REFUSED;
		break;
	case NCFX_ERR_IDENTITY:
	case NCFX_ERR_UNTRUSTED:
		rc = CLI_IDENTITY;
		break;
	case NCFX_ERR_USAGE:
		rc = CLI_USAGE;
		break;
	case NCFX_ERR_DOCUMENT:
		rc = CLI_NOINPUT;
		break;
	case NCFX_ERR_NOMEM:
		rc = CLI_INTERNAL;
		break;
	case NCFX_ERR_IN_DOUBT:
		rc = CLI_IN_DOUBT;
		break;
	default:
		rc = CLI_UNREACHABLE;
		break;
	}
	print_error(cli, st == NCFX_ERR_SERVER ? code : 0,
	    st == NCFX_ERR_SERVER ? ncfx_client_server_code_name(code) : ncfx_status_str(st), msg);
	return rc;
}

int
cli_fail(struct cli *cli, ncfx_client *c, ncfx_status st)
{
	return cli_report(cli, st, ncfx_client_server_code(c), ncfx_client_errmsg(c),
	    ncfx_client_retry_after(c));
}

void
cli_conn_options(struct cli *cli, struct ncfx_client_options *o)
{
	const char *home = getenv("HOME");

	if (cli->cfg.known_servers[0] == '\0' && home != NULL)
		snprintf(cli->cfg.known_servers, sizeof(cli->cfg.known_servers),
		    "%s/.config/netcfax/known_servers", home);
	memset(o, 0, sizeof(*o));
	o->host = cli->cfg.server;
	o->port = (int)cli->cfg.port;
	o->ca_file = cli->cfg.ca_file;
	o->known_servers = cli->cfg.known_servers;
	o->fingerprint = cli->cfg.server_fingerprint;
	o->accept_new = cli->cfg.trust_on_first_use;
	o->timeout_ms = (int)cli->cfg.timeout * 1000;
	o->software = "netcfax/" NETCFAX_VERSION;
}

static int
open_client(struct cli *cli, int login, int repin, const char *fingerprint, ncfx_client **out)
{
	struct ncfx_client_options o;
	char pw[NCFX_PASSWORD_MAX + 1], prompt[128], err[300];
	ncfx_client *c;
	ncfx_status st;

	*out = NULL;
	if (cli->cfg.server[0] == '\0')
		return cli_error(cli, CLI_USAGE, "no server: set 'server' in %s or use --server "
		    "HOST", cli->config_path);
	if (login && cli->cfg.user[0] == '\0')
		return cli_error(cli, CLI_USAGE, "no user: set 'user' in %s or use --user NAME",
		    cli->config_path);
	cli_conn_options(cli, &o);
	if (repin) {
		o.replace_pin = 1;
		o.fingerprint = fingerprint;
	}
	if ((c = ncfx_client_new()) == NULL)
		return cli_error(cli, CLI_INTERNAL, "out of memory");
	if (login) {
		/* Ask before connecting, so a slow typist does not hit the login deadline. */
		snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", cli->cfg.user,
		    cli->cfg.server);
		if (password_obtain(cli->cfg.password_file, prompt, 0, pw, sizeof(pw), err,
		    sizeof(err)) < 0) {
			ncfx_client_free(c);
			return cli_error(cli, CLI_USAGE, "%s", err);
		}
	}
	st = ncfx_connect(c, &o);
	if (st == NCFX_OK && ncfx_client_newly_pinned(c) && !o.replace_pin)
		fprintf(stderr, "netcfax: first connection to %s port %lld: pinned its certificate "
		    "%s in %s\n", cli->cfg.server, cli->cfg.port, ncfx_client_fingerprint(c),
		    cli->cfg.known_servers);
	if (st == NCFX_OK && login) {
		st = ncfx_login(c, cli->cfg.user, pw, 0, 0, &cli->session);
		if (st == NCFX_OK && cli->verbose)
			fprintf(stderr, "netcfax: logged in as %s (session %016" PRIx64
			    ", seen from %s)\n", cli->session.user, cli->session.session_id,
			    cli->session.observed_addr);
	}
	if (login)
		explicit_bzero(pw, sizeof(pw));
	if (st != NCFX_OK) {
		int rc = cli_fail(cli, c, st);
		ncfx_client_free(c);
		return rc;
	}
	*out = c;
	return CLI_OK;
}

int
cli_open(struct cli *cli, int login, ncfx_client **out)
{
	return open_client(cli, login, 0, NULL, out);
}

int
cli_open_repin(struct cli *cli, const char *fingerprint, ncfx_client **out)
{
	return open_client(cli, 0, 1, fingerprint, out);
}

void
cli_print_job_json(FILE *out, const struct ncfx_job *j)
{
	fprintf(out, "{\"id\":%llu,\"state\":", (unsigned long long)j->id);
	json_print_str(out, j->state_name);
	fprintf(out, ",\"dest\":");
	json_print_str(out, j->dest);
	fprintf(out, ",\"filename\":");
	json_print_str(out, j->filename);
	fprintf(out, ",\"size\":%llu,\"pages\":%u,\"format\":", (unsigned long long)j->size,
	    j->pages);
	json_print_str(out, j->format);
	fprintf(out, ",\"created\":%lld,\"updated\":%lld", (long long)j->created,
	    (long long)j->updated);
	if (j->text[0]) {
		fprintf(out, ",\"text\":");
		json_print_str(out, j->text);
	}
	fprintf(out, ",\"resolution\":\"%s\",\"priority\":%d,\"tries\":%d,\"max_tries\":%d,"
	    "\"dials\":%d,\"max_dials\":%d,\"pages_sent\":%u", j->fine ? "fine" : "standard",
	    j->priority, j->tries, j->max_tries, j->dials, j->max_dials, j->pages_sent);
	if (j->send_at)
		fprintf(out, ",\"send_at\":%lld", (long long)j->send_at);
	if (j->kill_at)
		fprintf(out, ",\"kill_at\":%lld", (long long)j->kill_at);
	if (j->next_try)
		fprintf(out, ",\"next_try\":%lld", (long long)j->next_try);
	if (j->bit_rate)
		fprintf(out, ",\"bit_rate\":%u,\"ecm\":%s", j->bit_rate, j->ecm ? "true" : "false");
	if (j->remote_id[0]) {
		fprintf(out, ",\"remote_id\":");
		json_print_str(out, j->remote_id);
	}
	if (j->media[0]) {
		fprintf(out, ",\"media\":");
		json_print_str(out, j->media);
	}
	fputc('}', out);
}

/* cmd_portmap.c: netcfax portmap: router rule setup by hand. Shows what UPnP and NAT-PMP find
 * on the local router, and opens, lists and removes netcfax's own mappings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "portmap.h"

#define DISCOVER_MS 2000

static const char *const backends[] = { "upnp", "natpmp" };

enum { O_VIA = 256, O_LEASE, O_ALL };

const struct cli_option portmap_options[] = {
	{ "via", required_argument, O_VIA, "upnp|natpmp|auto", "open, remove: the protocol "
	  "(default: UPnP, then NAT-PMP)" },
	{ "lease", required_argument, O_LEASE, "S", "open: the lease, 60 to 86400 seconds "
	  "(default 3600)" },
	{ "all", no_argument, O_ALL, NULL, "list: every mapping, not only netcfax's" },
	{ NULL, 0, 0, NULL, NULL }
};

/* What the options asked for. */
struct portmap_opts {
	const char *via;
	long        lease;
	int         all;
};

static int
parse_port(struct cli *cli, const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < 1024 || v > 65535) {
		cli_error(cli, CLI_USAGE, "'%s' is not a port from 1024 to 65535", s);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* The backends to try, in order: --via names one, else UPnP then NAT-PMP. */
static int
pick(struct cli *cli, const char *via, const char **list, int *n)
{
	*n = 0;
	if (via == NULL || strcmp(via, "auto") == 0) {
		list[(*n)++] = "upnp";
		list[(*n)++] = "natpmp";
		return 0;
	}
	if (portmap_backend(via) == NULL)
		return cli_error(cli, CLI_USAGE, "--via takes upnp, natpmp or auto");
	list[(*n)++] = via;
	return 0;
}

static void
verdict(const struct portmap_gateway *gw, char *out, size_t cap)
{
	switch (gw->ext_class) {
	case PORTMAP_ADDR_PUBLIC:
		snprintf(out, cap, "single NAT: a mapping on this router makes the port reachable");
		break;
	case PORTMAP_ADDR_CGNAT:
		snprintf(out, cap, "carrier-grade NAT upstream (100.64/10): a mapping here cannot "
		    "help; notifications will be relayed");
		break;
	case PORTMAP_ADDR_PRIVATE:
		snprintf(out, cap, "double NAT: the router's own external address is private; map "
		    "the port on the upstream router too, or rely on the relay");
		break;
	default:
		snprintf(out, cap, "the router reports no usable external address (its WAN is "
		    "down, or another NAT sits upstream)");
	}
}

static int
cmd_status(struct cli *cli)
{
	int found = 0;

	if (cli->json)
		printf("{\"gateways\":[");
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct portmap_ops *ops = portmap_backend(backends[i]);
		struct portmap_gateway gw;
		char err[256], v[200];
		void *st = NULL;
		int rc = ops->discover(&st, DISCOVER_MS, &gw, err, sizeof(err));

		if (rc == 0)
			verdict(&gw, v, sizeof(v));
		if (cli->json) {
			printf("%s{\"protocol\":\"%s\",\"found\":%s", i ? "," : "", ops->name,
			    rc == 0 ? "true" : "false");
			if (rc == 0) {
				printf(",\"gateway\":");
				json_print_str(stdout, gw.gateway);
				printf(",\"lan_addr\":");
				json_print_str(stdout, gw.lan_addr);
				printf(",\"external_addr\":");
				json_print_str(stdout, gw.ext_addr);
				printf(",\"external_class\":\"%s\",\"usable\":%s,\"verdict\":",
				    portmap_class_name(gw.ext_class), gw.connected ? "true" : "false");
				json_print_str(stdout, v);
			} else {
				printf(",\"reason\":");
				json_print_str(stdout, err);
			}
			printf("}");
		} else if (rc == 0)
			printf("%-7s %s\n        our address %s; %s\n", ops->name, gw.detail,
			    gw.lan_addr, v);
		else
			printf("%-7s not available: %s\n", ops->name, err);
		found += rc == 0;
		if (st)
			ops->close(st);
	}
	if (cli->json)
		printf("]}\n");
	return found ? CLI_OK : CLI_UNREACHABLE;
}

static int
cmd_open_remove(struct cli *cli, const struct portmap_opts *o, int open)
{
	const char *list[2];
	uint16_t port, granted = 0;
	long lease = o->lease ? o->lease : 3600, got = 0;
	char err[300] = "", desc[PORTMAP_DESC_MAX], host[64] = "";
	int n;

	if (cli->argc != 2)
		return cli_error(cli, CLI_USAGE, "usage: netcfax portmap %s PORT",
		    open ? "open" : "remove");
	if (parse_port(cli, cli->argv[1], &port) < 0 || pick(cli, o->via, list, &n) != 0)
		return CLI_USAGE;
	if (lease < 60 || lease > 86400)
		return cli_error(cli, CLI_USAGE, "--lease takes 60 to 86400 seconds");
	gethostname(host, sizeof(host) - 1);
	snprintf(desc, sizeof(desc), PORTMAP_DESC_PREFIX " SCP %s", host);
	for (int i = 0; i < n; i++) {
		const struct portmap_ops *ops = portmap_backend(list[i]);
		struct portmap_gateway gw;
		void *st = NULL;
		int rc;

		if (ops->discover(&st, DISCOVER_MS, &gw, err, sizeof(err)) != 0)
			continue;
		rc = open ? ops->add(st, PORTMAP_TCP, port, port, lease, desc, &granted, &got, err,
		    sizeof(err)) : ops->remove(st, PORTMAP_TCP, port, port, err, sizeof(err));
		ops->close(st);
		if (rc != 0)
			return cli_error(cli, CLI_REFUSED, "%s: %s", ops->name, err);
		if (cli->json)
			printf(open ? "{\"protocol\":\"%s\",\"external_addr\":\"%s\","
			    "\"external_port\":%u,\"internal\":\"%s:%u\",\"lease\":%ld}\n" :
			    "{\"protocol\":\"%s\",\"external_addr\":\"%s\",\"removed\":%u}\n",
			    ops->name, gw.ext_addr, open ? granted : port, gw.lan_addr, port, got);
		else if (open)
			printf("%s: %s:%u now forwards to %s:%u (%s)\n", ops->name, gw.ext_addr,
			    granted, gw.lan_addr, port, got ? "lease renewable" : "permanent until "
			    "removed");
		else
			printf("%s: removed the mapping of external port %u\n", ops->name, port);
		return CLI_OK;
	}
	return cli_error(cli, CLI_UNREACHABLE, "no router answered UPnP or NAT-PMP%s%s "
	    "(see: netcfax portmap status)", err[0] ? ": " : "", err);
}

struct list_ctx {
	struct cli *cli;
	int         all;
	int         n;
};

static int
one_mapping(const struct portmap_mapping *m, void *arg)
{
	struct list_ctx *x = arg;

	/* The mappings this command opens and removes: TCP ones (a SCP, a PCP). */
	if (m->transport != PORTMAP_TCP)
		return 0;
	if (!x->all && strncmp(m->desc, PORTMAP_DESC_PREFIX, strlen(PORTMAP_DESC_PREFIX)))
		return 0;
	if (x->cli->json) {
		printf("%s{\"external_port\":%u,\"internal\":\"%s:%u\",\"lease\":%ld,\"desc\":",
		    x->n ? "," : "", m->ext_port, m->int_client, m->int_port, m->lease);
		json_print_str(stdout, m->desc);
		printf("}");
	} else
		printf("%5u -> %s:%u  %-8s %s\n", m->ext_port, m->int_client, m->int_port,
		    m->lease ? "leased" : "permanent", m->desc);
	x->n++;
	return 0;
}

static int
cmd_list(struct cli *cli, const struct portmap_opts *o)
{
	const struct portmap_ops *ops = &portmap_upnp_ops;
	struct portmap_gateway gw;
	struct list_ctx x = { cli, o->all, 0 };
	char err[256];
	void *st = NULL;

	if (ops->discover(&st, DISCOVER_MS, &gw, err, sizeof(err)) != 0)
		return cli_error(cli, CLI_UNREACHABLE, "%s (listing needs UPnP; NAT-PMP cannot list)",
		    err);
	if (cli->json)
		printf("{\"mappings\":[");
	ops->list(st, one_mapping, &x, err, sizeof(err));
	ops->close(st);
	if (cli->json)
		printf("]}\n");
	else if (x.n == 0)
		printf("no %smappings on the router\n", o->all ? "" : "netcfax ");
	return CLI_OK;
}

int
cmd_portmap(struct cli *cli)
{
	struct portmap_opts o = { NULL, 0, 0 };
	const char *sub;
	int ch, rc;

	while ((ch = cli_getopt(cli, portmap_options)) != -1) {
		if (ch == O_VIA)
			o.via = optarg;
		else if (ch == O_LEASE)
			o.lease = strtol(optarg, NULL, 10);
		else
			o.all = 1;
	}
	if ((rc = cli_ready(cli)) >= 0)
		return rc;
	sub = cli->argc > 0 ? cli->argv[0] : "status";
	if (strcmp(sub, "status") == 0)
		return cmd_status(cli);
	if (strcmp(sub, "open") == 0)
		return cmd_open_remove(cli, &o, 1);
	if (strcmp(sub, "remove") == 0)
		return cmd_open_remove(cli, &o, 0);
	if (strcmp(sub, "list") == 0)
		return cmd_list(cli, &o);
	return cli_error(cli, CLI_USAGE, "portmap takes status, open PORT, list or remove PORT");
}

/* server_mode.c: netcfax-portcheck --server, run on the server host: is the PCP listening on
 * every address the configuration names (and is it netcfaxd that answers), does the host's
 * own firewall let it in, does the router forward it, and which rules would; then each SIP
 * trunk's side (trunkcheck.c). */
#include "portcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tls.h"

#define DISCOVER_MS 2000

/* The report's sections in this mode (report.c names them so). */
#define SEC_CONFIG   PC_LOCAL
#define SEC_LISTEN   PC_SERVER
#define SEC_FIREWALL PC_ROUTER
#define SEC_ROUTER   PC_TOPOLOGY

/* One listen address: does netcfaxd (with its own certificate) answer on it? */
static void
check_listen(struct portcheck *pc, const char *addr, long port, const char *fp_want)
{
	char err[300];
	int fail = 0;
	struct tls_stream *t = tls_stream_connect(addr, (int)port, NULL, 3000, &fail, err,
	    sizeof(err));

	if (t == NULL) {
		pc_add(pc, SEC_LISTEN, "listen", PC_FAIL, fail == TLS_FAIL_HANDSHAKE ? "another "
		    "program holds the port, or a proxy answers: check with ss -ltnp" : "start "
		    "netcfaxd (netcfaxd -n -c FILE checks its configuration first)",
		    "%s port %ld: %s", addr, port, err);
		return;
	}
	if (fp_want[0] && strcmp(tls_stream_fingerprint(t), fp_want) != 0)
		pc_add(pc, SEC_LISTEN, "listen", PC_WARN, "another TLS server answers there, not "
		    "this netcfaxd", "%s port %ld: a TLS server with certificate %s", addr, port,
		    tls_stream_fingerprint(t));
	else
		pc_add(pc, SEC_LISTEN, "listen", PC_PASS, "", "%s port %ld: netcfaxd answers%s",
		    addr, port, fp_want[0] ? " with its own certificate" : "");
	tls_stream_free(t);
}

struct pcp_scan {
	struct portcheck *pc;
	long        port;
	const char *lan;
	char        owner[200];
	int         ours;
};

/* Every mapping in turn: the PCP's, and those to this host (a trunk's SIP and RTP ports). */
static int
pcp_mapping(const struct portmap_mapping *m, void *arg)
{
	struct pcp_scan *x = arg;
	struct portcheck *pc = x->pc;

	if (strcmp(m->int_client, x->lan) == 0 &&
	    pc->nhost_maps < (int)(sizeof(pc->host_maps) / sizeof(pc->host_maps[0])))
		pc->host_maps[pc->nhost_maps++] = *m;
	/* The PCP is TCP: a UDP mapping of the same port number does not carry it. */
	if (m->transport != PORTMAP_TCP || m->ext_port != x->port || x->owner[0])
		return 0;
	x->ours = strcmp(m->int_client, x->lan) == 0 && m->int_port == x->port;
	snprintf(x->owner, sizeof(x->owner), "%s:%u (\"%s\")", m->int_client, m->int_port,
	    m->desc);
	return 0;
}

/* What the router offers, and (UPnP) whether it forwards the PCP to this host. */
static void
check_router(struct portcheck *pc, long port, const char *portmap)
{
	for (int i = 0; i < 2; i++) {
		const struct portmap_ops *ops = i ? &portmap_natpmp_ops : &portmap_upnp_ops;
		struct pc_router *r = i ? &pc->natpmp : &pc->upnp;
		struct pcp_scan x = { pc, port, r->gw.lan_addr, "", 0 };
		char err[200];
		void *st = NULL;

		if (ops->discover(&st, DISCOVER_MS, &r->gw, r->err, sizeof(r->err)) != 0) {
			pc_add(pc, SEC_ROUTER, ops->name, PC_SKIP, "", "no answer: %s", r->err);
			continue;
		}
		r->found = 1;
		x.lan = r->gw.lan_addr;
		if (i == 0 && ops->list(st, pcp_mapping, &x, err, sizeof(err)) == 0)
			pc->maps_listed = 1;
		if (i == 0 && pc->maps_listed && x.owner[0])
			pc_add(pc, SEC_ROUTER, ops->name, x.ours ? PC_PASS : PC_FAIL, x.ours ? "" :
			    "the router sends the PCP to another machine: point it at this host",
			    "%s; external port %ld forwards to %s", r->gw.detail, port, x.owner);
		else
			pc_add(pc, SEC_ROUTER, ops->name, i == 0 ? PC_WARN : PC_PASS, i == 0 ?
			    "unless a rule made on the router's own pages forwards it (those do not "
			    "always show here), add the forward below" : "", "%s%s%s%s", r->gw.detail,
			    i == 0 ? "; no mapping of the PCP's port shows" : "",
			    strcmp(portmap, "off") ? "; netcfaxd maps the PCP itself, portmap = " : "",
			    strcmp(portmap, "off") ? portmap : "");
		ops->close(st);
	}
}

/* The rules grouped by device (this host's first), each group in the order given: the PCP's,
 * then each trunk's. */
static void
sort_rules(struct portcheck *pc)
{
	for (int i = 1; i < pc->nrules; i++) {
		struct pc_rule r = pc->rules[i];
		int j = i;

		for (; j > 0 && pc->rules[j - 1].device > r.device; j--)
			pc->rules[j] = pc->rules[j - 1];
		pc->rules[j] = r;
	}
}

int
pc_server_mode(struct portcheck *pc, const char *conf_path)
{
	struct server_config cfg;
	char err[1200], buf[600], *save = NULL, cert[CONFIG_PATH_MAX + 32], fp[TLS_FP_LEN] = "";
	char lan[PORTMAP_ADDR_MAX] = "", gw[PORTMAP_ADDR_MAX] = "", why[400];
	char where[300], portstr[16];
	const char *ext;
	long port;
	int fw;

	if (config_load(&cfg, conf_path, 0, err, sizeof(err)) < 0 ||
	    config_finish(&cfg, err, sizeof(err)) < 0) {
		pc_add(pc, SEC_CONFIG, "config", PC_FAIL, "fix the line named, then run netcfaxd -n",
		    "%s", err);
		return pc_report(pc);
	}
	port = cfg.pcp_port;
	pc_add(pc, SEC_CONFIG, "config", PC_PASS, "", "%s: pcp_port %ld, listen %s, portmap %s",
	    conf_path, port, cfg.listen, cfg.portmap);
	snprintf(cert, sizeof(cert), "%s", cfg.tls_cert[0] ? cfg.tls_cert : "");
	if (!cert[0])
		snprintf(cert, sizeof(cert), "%s/tls/server.crt", cfg.state_dir);
	if (tls_cert_file_fingerprint(cert, fp, err, sizeof(err)) < 0)
		fp[0] = '\0';
	portmap_route(gw, lan);

	/* Every intended address; a wildcard is tried on loopback and on the LAN address. */
	snprintf(buf, sizeof(buf), "%s", cfg.listen);
	for (char *a = strtok_r(buf, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
		if (strcmp(a, "0.0.0.0") == 0) {
			check_listen(pc, "127.0.0.1", port, fp);
			if (lan[0])
				check_listen(pc, lan, port, fp);
		} else if (strcmp(a, "::") == 0)
			check_listen(pc, "::1", port, fp);
		else
			check_listen(pc, a, port, fp);
	}

	fw = pc_host_firewall(port, 0, NULL, where, sizeof(where), why, sizeof(why));
	pc_add(pc, SEC_FIREWALL, "firewall", fw == 1 ? PC_PASS : fw == 0 ? PC_FAIL : PC_SKIP,
	    fw == 0 ? "let the port in: the rule below" : "", "%s", why);

	check_router(pc, port, cfg.portmap);

	/* The server-side rules, with this host's addresses. */
	ext = pc->upnp.found && pc->upnp.gw.ext_class == PORTMAP_ADDR_PUBLIC ?
	    pc->upnp.gw.ext_addr : pc->natpmp.found && pc->natpmp.gw.ext_class ==
	    PORTMAP_ADDR_PUBLIC ? pc->natpmp.gw.ext_addr : "ROUTER_PUBLIC_ADDRESS";
	snprintf(portstr, sizeof(portstr), "%ld", port);
	snprintf(pc->device_label[PC_DEV_HOST], sizeof(pc->device_label[0]), "this host");
	snprintf(pc->device_label[PC_DEV_ROUTER], sizeof(pc->device_label[0]), "the router in "
	    "front of this server (%s)", gw[0] ? gw : "the default gateway");
	if (fw == 0)
		pc_rule_input(pc, where, portstr);
	if (lan[0]) {
		snprintf(pc->fix_words, sizeof(pc->fix_words), "On the router in front of this "
		    "server (%s, external address %s): forward TCP port %ld to %s (service \"netcfax "
		    "PCP\", protocol TCP, port %ld, internal address %s).%s Every client's port must "
		    "be %ld.", gw[0] ? gw : "the default gateway", ext, port, lan, port, lan,
		    fw == 0 ? " On this host: let the port in through its firewall." : "", port);
		pc_rule_dnat(pc, PC_DEV_ROUTER, ext, NULL, portstr, lan);
		pc_rule_forward(pc, PC_DEV_ROUTER, lan, portstr);
	}
	pc_check_trunks(pc, cfg.sip_trunks, lan, gw, ext);
	sort_rules(pc);
	return pc_report(pc);
}

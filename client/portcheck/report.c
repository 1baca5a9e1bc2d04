/* report.c: the findings in words (default) or as one JSON document (--json, schema
 * netcfax-portcheck/1), and the exit code they come to. The fix's rules are grouped by the
 * device they go on. */
#include "portcheck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static const char *const status_names[] = { "pass", "warn", "fail", "skip" };
static const char *const section_names[] = { "", "Local", "Server", "Router", "Topology",
                                             "Direct path (SCP)", "Relay" };
static const char *const server_section_names[] = { "", "Configuration", "Listening",
                                                    "Host firewall", "Router", "SIP trunks",
                                                    "" };

static const char *
section_name(const struct portcheck *pc, int s)
{
	return pc->server_mode ? server_section_names[s] : section_names[s];
}

void
pc_add(struct portcheck *pc, int section, const char *id, int status, const char *todo,
    const char *fmt, ...)
{
	struct pc_check *c;
	va_list ap;

	if (pc->nchecks >= PC_MAX_CHECKS)
		return;
	c = &pc->checks[pc->nchecks++];
	c->section = section;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->status = status;
	snprintf(c->todo, sizeof(c->todo), "%s", todo ? todo : "");
	va_start(ap, fmt);
	vsnprintf(c->evidence, sizeof(c->evidence), fmt, ap);
	va_end(ap);
}

static int
exit_code(const struct portcheck *pc, const char **verdict)
{
	if (pc->server_mode) {
		int pcp = 0, trunk = 0, trunks = 0;

		/* The router's own findings are advice (a rule made on its pages may not show);
		 * anything else that fails is something the server needs. */
		for (int i = 0; i < pc->nchecks; i++) {
			trunks |= pc->checks[i].section == PC_SEC_TRUNK;
			if (pc->checks[i].status != PC_FAIL || pc->checks[i].section == PC_TOPOLOGY)
				continue;
			if (pc->checks[i].section == PC_SEC_TRUNK)
				trunk = 1;
			else
				pcp = 1;
		}
		*verdict = pcp ? "clients cannot reach the PCP on this host: see the failed checks" :
		    trunk ? "the PCP is open on this host, but a SIP trunk is not ready: see the "
		    "failed checks" : trunks ? "the PCP and the SIP trunks' ports are open on this "
		    "host" : "the PCP is open on this host";
		return pcp || trunk ? PC_EXIT_NOTHING : PC_EXIT_DIRECT;
	}
	if (!pc->reached || !pc->verified || !pc->logged_in) {
		*verdict = !pc->reached ? "the server cannot be reached" : !pc->verified ?
		    "the server's identity is not confirmed" : "the server refused the login";
		return PC_EXIT_NO_SERVER;
	}
	if (pc->direct_ok) {
		static char words[200];

		if (pc->watchers > 0)
			snprintf(words, sizeof(words), "notifications come direct: the server reaches "
			    "the running watcher (pid %ld)", pc->watcher.pid);
		else if (pc->automap_state > 0)
			snprintf(words, sizeof(words), "notifications come direct through an automatic "
			    "router mapping (%s, external port %u)", pc->automap_proto,
			    pc->automap_port);
		else
			snprintf(words, sizeof(words), "notifications come direct: the server reaches "
			    "this client's SCP");
		*verdict = words;
		return PC_EXIT_DIRECT;
	}
	if (pc->relay_ok) {
		*verdict = pc->watchers > 0 ? "only the relay works: the running watcher's "
		    "notifications come over its own connection" : "only the relay works: "
		    "notifications come over this client's own connection";
		return PC_EXIT_RELAY_ONLY;
	}
	*verdict = "nothing works: the server can neither connect back nor relay";
	return PC_EXIT_NOTHING;
}

static const char *
verdict_key(const struct portcheck *pc, int code)
{
	if (pc->server_mode)
		return code == PC_EXIT_DIRECT ? "open" : "closed";
	switch (code) {
	case PC_EXIT_DIRECT: return "direct";
	case PC_EXIT_RELAY_ONLY: return "relay";
	case PC_EXIT_NOTHING: return "none";
	default: return "no-server";
	}
}

/* "watcher": the running watcher that was judged, or null. */
static void
print_json_watcher(const struct portcheck *pc)
{
	const struct watch_state_info *w = &pc->watcher;

	printf("\"watcher\":");
	if (pc->watchers == 0) {
		printf("null");
		return;
	}
	printf("{\"pid\":%ld,\"session\":\"%016" PRIx64 "\",\"scp_port\":%u,"
	    "\"registered_port\":%u,\"mapping\":", w->pid, w->session_id, w->scp_port,
	    w->reg_port);
	json_print_str(stdout, w->mapping);
	printf(",\"path\":\"%s\",\"reason\":", watch_state_path_name(w->path));
	json_print_str(stdout, w->reason);
	printf(",\"written\":%lld,\"running\":%d}", w->written, pc->watchers);
}

static void
print_json(const struct portcheck *pc, int code, const char *verdict)
{
	printf("{\"schema\":\"" PC_SCHEMA "\",\"server\":");
	json_print_str(stdout, pc->cli.cfg.server);
	printf(",\"mode\":\"%s\",\"port\":%d,\"verdict\":\"%s\",\"summary\":",
	    pc->server_mode ? "server" : "client", (int)pc->cli.cfg.port, verdict_key(pc, code));
	json_print_str(stdout, verdict);
	printf(",\"exit\":%d,\"topology\":", code);
	json_print_str(stdout, pc->topology ? pc_topology_name(pc->topology) : "unknown");
	printf(",\"local_addr\":");
	json_print_str(stdout, pc->local_addr);
	printf(",\"observed_addr\":");
	json_print_str(stdout, pc->observed);
	printf(",\"observed_port\":%u,\"scp_port\":%u,\"probe_port\":%u,",
	    pc->probe.session.observed_port, pc->scp_port, pc->probe_port);
	print_json_watcher(pc);
	printf(",\"automap\":");
	if (pc->automap_state == 0)
		printf("null");
	else {
		printf("{\"mapped\":%s,\"protocol\":", pc->automap_state > 0 ? "true" : "false");
		json_print_str(stdout, pc->automap_proto);
		printf(",\"ext_addr\":");
		json_print_str(stdout, pc->automap_addr);
		printf(",\"ext_port\":%u,\"why\":", pc->automap_port);
		json_print_str(stdout, pc->automap_state > 0 ? "" : pc->automap_why);
		printf("}");
	}
	printf(",\"checks\":[");
	for (int i = 0; i < pc->nchecks; i++) {
		const struct pc_check *c = &pc->checks[i];

		printf("%s{\"section\":\"%s\",\"id\":\"%s\",\"status\":\"%s\",\"evidence\":",
		    i ? "," : "", section_name(pc, c->section), c->id, status_names[c->status]);
		json_print_str(stdout, c->evidence);
		printf(",\"todo\":");
		json_print_str(stdout, c->todo);
		printf("}");
	}
	printf("],\"hops\":[");
	for (int i = 0; i < pc->nhops; i++) {
		printf("%s{\"ttl\":%d,\"addr\":", i ? "," : "", i + 1);
		json_print_str(stdout, pc->hops[i].addr);
		printf(",\"class\":\"%s\",\"server\":%s}", !pc->hops[i].addr[0] ? "" :
		    portmap_class_name(pc->hops[i].cls), pc->hops[i].is_server ? "true" : "false");
	}
	printf("],\"fix\":{\"words\":");
	json_print_str(stdout, pc->fix_words);
	/* Each rule with the device it goes on; the flat lists are the same commands, in order. */
	printf(",\"rules\":[");
	for (int i = 0; i < pc->nrules; i++) {
		const struct pc_rule *r = &pc->rules[i];

		printf("%s{\"device\":\"%s\",\"on\":", i ? "," : "", pc_device_key(r->device));
		json_print_str(stdout, pc->device_label[r->device]);
		printf(",\"nftables\":");
		json_print_str(stdout, r->nft);
		printf(",\"iptables\":");
		json_print_str(stdout, r->ipt);
		printf("}");
	}
	printf("],\"fill\":{");
	if (pc->fill_how[0]) {
		printf("\"" PC_ROUTER_WAN "\":");
		json_print_str(stdout, pc->fill_how);
	}
	printf("},\"nftables\":[");
	for (int i = 0; i < pc->nrules; i++) {
		printf("%s", i ? "," : "");
		json_print_str(stdout, pc->rules[i].nft);
	}
	printf("],\"iptables\":[");
	for (int i = 0; i < pc->nrules; i++) {
		printf("%s", i ? "," : "");
		json_print_str(stdout, pc->rules[i].ipt);
	}
	printf("]}}\n");
}

/* Text from elsewhere (a router's mapping descriptions) must not steer the terminal. */
static void
put_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void
print_text(const struct portcheck *pc, int code, const char *verdict)
{
	if (pc->server_mode)
		printf("netcfax-portcheck: the server's side, on this host\n");
	else
		printf("netcfax-portcheck: from this client to %s port %d\n", pc->cli.cfg.server,
		    (int)pc->cli.cfg.port);
	for (int s = PC_LOCAL; s <= PC_RELAY; s++) {
		int shown = 0;

		for (int i = 0; i < pc->nchecks; i++) {
			const struct pc_check *c = &pc->checks[i];

			if (c->section != s)
				continue;
			if (!shown++)
				printf("\n%s\n", section_name(pc, s));
			printf("  %-4s  %-10s ", status_names[c->status], c->id);
			put_clean(c->evidence);
			putchar('\n');
			if (c->todo[0] && c->status != PC_PASS)
				printf("  %-4s  %-10s -> %s\n", "", "", c->todo);
		}
	}
	printf("\nVerdict: %s (exit %d)\n", verdict, code);
	if (pc->fix_words[0]) {
		printf("\nThe fix: %s\n", pc->fix_words);
		/* The rules by device, in the order given: each group says where it goes. */
		for (int i = 0; i < pc->nrules; ) {
			int dev = pc->rules[i].device, j;

			printf("\n  On %s, with nftables:\n", pc->device_label[dev]);
			for (j = i; j < pc->nrules && pc->rules[j].device == dev; j++)
				printf("    %s\n", pc->rules[j].nft);
			printf("  or with iptables:\n");
			for (j = i; j < pc->nrules && pc->rules[j].device == dev; j++)
				printf("    %s\n", pc->rules[j].ipt);
			i = j;
		}
		if (pc->fill_how[0])
			printf("\n  " PC_ROUTER_WAN ": %s.\n", pc->fill_how);
		printf("\nMore in docs/firewall.md.\n");
	}
}

int
pc_report(struct portcheck *pc)
{
	const char *verdict;
	int code = exit_code(pc, &verdict);

	if (pc->cli.json)
		print_json(pc, code, verdict);
	else
		print_text(pc, code, verdict);
	return code;
}

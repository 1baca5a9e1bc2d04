/* remote.c: the checks that talk to the server: reaching the PCP (TCP and TLS, timed), its
 * certificate against the pinned one, the address it sees us at, and the end-to-end check of
 * the SCP (the server connects back to that address and proves itself, and so do we). */
#include "portcheck.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto.h"

void
pc_check_server_connect(struct portcheck *pc, ncfx_client **out)
{
	struct ncfx_client_options o;
	struct timespec t0, t1;
	ncfx_client *c = ncfx_client_new();
	ncfx_status st;
	const char *err;

	*out = NULL;
	if (c == NULL)
		return;
	cli_conn_options(&pc->cli, &o);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = ncfx_connect(c, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pc->connect_ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
	err = ncfx_client_errmsg(c);
	if (st == NCFX_ERR_IDENTITY || st == NCFX_ERR_UNTRUSTED) {
		pc->reached = 1;
		pc_add(pc, PC_SERVER, "pcp", PC_PASS, "", "TCP and TLS to %s port %d in %ld ms",
		    pc->cli.cfg.server, (int)pc->cli.cfg.port, pc->connect_ms);
		pc_add(pc, PC_SERVER, "identity", PC_FAIL, st == NCFX_ERR_IDENTITY ?
		    "if the server's operator confirms the new fingerprint, run 'netcfax trust'; "
		    "otherwise something between you and the server pretends to be it" :
		    "run 'netcfax trust' after checking the fingerprint with the operator",
		    "%s", err);
		ncfx_client_free(c);
		return;
	}
	if (st != NCFX_OK) {
		pc_add(pc, PC_SERVER, "pcp", PC_FAIL, "check that netcfaxd runs on the server and "
		    "that the server's firewall and router let TCP port in (docs/firewall.md, the "
		    "server's site)", "%s", err);
		ncfx_client_free(c);
		return;
	}
	pc->reached = pc->verified = 1;
	pc_add(pc, PC_SERVER, "pcp", PC_PASS, "", "TCP and TLS to %s port %d in %ld ms",
	    pc->cli.cfg.server, (int)pc->cli.cfg.port, pc->connect_ms);
	if (ncfx_client_newly_pinned(c))
		pc_add(pc, PC_SERVER, "identity", PC_WARN, "compare it with the fingerprint the "
		    "operator gives you (netcfax-admin fingerprint on the server)", "first contact: "
		    "pinned the server's certificate %s", ncfx_client_fingerprint(c));
	else
		pc_add(pc, PC_SERVER, "identity", PC_PASS, "", "certificate %s as %s",
		    ncfx_client_fingerprint(c), *pc->cli.cfg.ca_file ? "verified by ca_file" :
		    "pinned");
	*out = c;
}

static const char *
result_words(int r)
{
	switch (r) {
	case NCFX_PROBE_RESULT_OK: return "reached";
	case NCFX_PROBE_RESULT_REFUSED: return "refused";
	case NCFX_PROBE_RESULT_TIMEOUT: return "timed out";
	case NCFX_PROBE_RESULT_OTHER_PEER: return "something else answered";
	default: return "unreachable";
	}
}

/* Connects and logs in again (a probe consumes its connection): 0, or -1 (a check says
 * why). */
static int
reconnect(struct portcheck *pc, ncfx_client *c)
{
	struct ncfx_client_options o;

	cli_conn_options(&pc->cli, &o);
	if (ncfx_connect(c, &o) == NCFX_OK)
		return 0;
	pc_add(pc, PC_DIRECT, "direct", PC_FAIL, "", "cannot connect again for the check through "
	    "the mapping: %s", ncfx_client_errmsg(c));
	return -1;
}

/* A running watcher of this user: its path, as the server last told it, is the verdict. */
static void
judge_watcher(struct portcheck *pc)
{
	const struct watch_state_info *w = &pc->watcher;
	char todo[300];

	snprintf(todo, sizeof(todo), "make the direct path work (the fix below), then ask the "
	    "server to try it again: kill -USR1 %ld (or restart the watcher)", w->pid);
	switch (w->path) {
	case NCFX_WATCH_PATH_DIRECT:
		pc->direct_ok = pc->probed = 1;
		pc_add(pc, PC_DIRECT, "direct", PC_PASS, "", "the running watcher (pid %ld) gets its "
		    "notifications direct%s%s%s: %s", w->pid, w->mapping[0] ? " through an automatic "
		    "router mapping (" : "", w->mapping, w->mapping[0] ? ")" : "", w->reason[0] ?
		    w->reason : "so the server said");
		return;
	case NCFX_WATCH_PATH_RELAY:
		/* A watcher that listens on no port (scp = relay) asked for the relay. */
		pc->probed = w->scp_port != 0;
		pc_add(pc, PC_DIRECT, "direct", w->scp_port ? PC_FAIL : PC_SKIP, w->scp_port ?
		    todo : "", "the server relays the "
		    "running watcher's (pid %ld) notifications over its own connection: %s", w->pid,
		    w->reason[0] ? w->reason : "so the server said");
		return;
	default:
		pc_add(pc, PC_DIRECT, "direct", PC_WARN, "check again in a minute", "the running "
		    "watcher (pid %ld) %s", w->pid, w->session_id == 0 ? "is not logged in now "
		    "(it reconnects by itself)" : "has not been told its path by the server yet");
		return;
	}
}

/* The mapping a watcher would make, when nothing of ours forwards the port yet and the
 * router may be asked. */
static int
may_automap(const struct portcheck *pc)
{
	return strcmp(pc->cli.cfg.portmap, "off") != 0 && !pc->open && !pc->close &&
	    pc->scp_fd >= 0 && pc->upnp.ours_ext == 0 && (pc->upnp.found || pc->natpmp.found);
}

/* What a watcher would do: map the port through the router (portmap = auto) and register
 * what the router granted. In dynamic mode the port was picked just now, so nothing else can
 * lead to it: map it first. A fixed port or range is tried as it is first (a manual forward,
 * or a NAT-PMP mapping the router does not list and a removal would take away), unless the
 * router says another host holds it. Before the server is reached: a connection kept
 * waiting through the router's answers would be closed for want of a login. */
void
pc_map_first(struct portcheck *pc)
{
	if (strcmp(pc->cli.cfg.scp, "relay") == 0 || pc->watchers > 0 || !may_automap(pc))
		return;
	if (pc->scp_mode == NCFX_SCP_DYNAMIC || pc->upnp.other_owner[0])
		if (pc_automap_begin(pc) < 0)
			pc_automap_end(pc);
}

void
pc_check_direct(struct portcheck *pc, ncfx_client *c)
{
	struct ncfx_probe_result *r = &pc->probe, first;
	ncfx_status st;
	const char *todo;
	char before[400] = "";
	int relay_only = strcmp(pc->cli.cfg.scp, "relay") == 0, automap_after;

	/* Not mapped first (pc_map_first): the port as it is, then through a mapping. */
	automap_after = !relay_only && pc->watchers == 0 && pc->automap_state == 0 &&
	    may_automap(pc);
	/* The port the server would be told: the router's mapping's external port if there is
	 * one for our SCP, else the SCP port itself; none for a client that uses the relay, or
	 * when a running watcher is judged instead (a connect-back to its port would disturb
	 * it, and it refuses this check's session anyway). */
	pc->probe_port = relay_only || pc->watchers > 0 ? 0 : pc->automap_state > 0 ?
	    pc->automap_port : pc->upnp.ours_ext ? (uint16_t)pc->upnp.ours_ext : pc->scp_port;
	st = ncfx_probe_scp(c, pc->cli.cfg.user, pc->password, pc->scp_fd, pc->probe_port,
	    pc->timeout_s, r);
	if (st != NCFX_OK && r->session.session_id == 0) {
		/* The login itself failed. */
		pc_add(pc, PC_SERVER, "login", PC_FAIL, st == NCFX_ERR_SERVER ? "check 'user' in "
		    "client.conf and the password" : "", "%s", ncfx_client_errmsg(c));
		pc_automap_end(pc);
		return;
	}
	pc->logged_in = 1;
	snprintf(pc->observed, sizeof(pc->observed), "%s", r->session.observed_addr);
	pc_add(pc, PC_SERVER, "observed", PC_PASS, "", "the server sees this client as %s port "
	    "%u (this machine: %s port %u)%s", pc->observed, r->session.observed_port,
	    pc->local_addr, r->session.local_port, strcmp(pc->observed, pc->local_addr) != 0 ?
	    "; the address is translated on the way" : r->session.observed_port !=
	    r->session.local_port ? "; the port is translated on the way" : "");
	if (st != NCFX_OK) {
		pc_add(pc, PC_DIRECT, "direct", PC_FAIL, "", "the check did not finish: %s",
		    r->reason);
		pc_automap_end(pc);
		return;
	}
	pc->relay_known = 1;
	pc->relay_ok = r->relay;
	if (relay_only) {
		pc_add(pc, PC_DIRECT, "direct", PC_SKIP, "", "scp = relay: this client asks for the "
		    "relay and listens on no port, so the server never connects back");
		return;
	}
	if (pc->watchers > 0) {
		judge_watcher(pc);
		return;
	}
	if (automap_after && r->result != NCFX_PROBE_RESULT_OK) {
		/* The port as it is did not work: now as the watcher would have it. */
		first = *r;
		snprintf(before, sizeof(before), "port %u as it is: %s; ", pc->probe_port,
		    first.reason);
		if (pc_automap_begin(pc) == 0 && reconnect(pc, c) == 0) {
			pc->probe_port = pc->automap_port;
			st = ncfx_probe_scp(c, pc->cli.cfg.user, pc->password, pc->scp_fd,
			    pc->probe_port, pc->timeout_s, r);
			if (st != NCFX_OK) {
				pc_add(pc, PC_DIRECT, "direct", PC_FAIL, "", "the check through the "
				    "mapping did not finish: %s", r->reason);
				pc_automap_end(pc);
				return;
			}
		} else if (pc->automap_state > 0) {
			pc_automap_end(pc);
			return;                     /* reconnect() said why */
		} else {
			*r = first;                 /* the automap check says why */
			before[0] = '\0';
		}
	}
	/* The mapping has served its purpose: away with it before the verdict is printed. */
	pc_automap_end(pc);
	pc->probed = 1;
	/* Only this check's own session, answered on this check's own listener, proves the
	 * path: another netcfax client answering (another machine behind the same router, or
	 * another watcher) proves nothing about this one. */
	pc->direct_ok = r->result == NCFX_PROBE_RESULT_OK && r->answered;
	if (pc->direct_ok) {
		if (pc->automap_state > 0)
			pc_add(pc, PC_DIRECT, "direct", PC_PASS, "", "direct through an automatic "
			    "router mapping: %s external port %u (%s%s); %sthe server connected back "
			    "to %s and both sides proved the session (%u ms)", pc->automap_proto,
			    pc->automap_port, pc->automap_addr, pc->automap_lease ? ", a lease the "
			    "watcher renews" : ", permanent while the watcher runs", before, r->target,
			    r->elapsed_ms);
		else
			pc_add(pc, PC_DIRECT, "direct", PC_PASS, "", "the server connected back to %s "
			    "and both sides proved the session (%u ms)%s%s", r->target, r->elapsed_ms,
			    r->answered ? "; this check answered it from " : "",
			    r->answered ? r->answered_from : "");
		return;
	}
	switch (r->result) {
	case NCFX_PROBE_RESULT_REFUSED:
		todo = "the router or a firewall rejects the connection, or forwards it to a port "
		    "where nothing listens: add the forward below";
		break;
	case NCFX_PROBE_RESULT_TIMEOUT:
		todo = "a firewall drops the connection without answering: allow it (rules below)";
		break;
	case NCFX_PROBE_RESULT_OTHER_PEER:
	case NCFX_PROBE_RESULT_OK:
		if (strstr(r->reason, "another netcfax client") != NULL)
			todo = "the port leads to another netcfax client (another machine behind the "
			    "same router, or another watcher), not this one: give this client a port "
			    "of its own (scp_mode = range lets the watcher map a free one)";
		else if (pc->scp_fd >= 0 && r->accepted == 0)
			todo = "the connection went to another machine or program, not to this one: "
			    "the router forwards this port elsewhere (see the router checks); give "
			    "this client a port of its own, or point the forward at this machine";
		else
			todo = pc->scp_holder[0] ? "the port is held by another program on this "
			    "machine: see the SCP port check" : "the port leads to a program that is "
			    "not this client: a forward to another machine or port? Point it at this "
			    "machine";
		break;
	default:
		todo = "the server has no route back to that address";
		break;
	}
	pc_add(pc, PC_DIRECT, "direct", PC_FAIL, todo, "%sthe server's connect-back to %s: %s "
	    "(%s)%s%s", before, r->target, r->result == NCFX_PROBE_RESULT_OK ? "answered, but "
	    "not by this check" : result_words(r->result), r->reason, r->dropped[0] ?
	    "; this check dropped a connection: " : "", r->dropped);
}

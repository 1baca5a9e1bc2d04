/* remote.c: the checks that talk to the server: reaching the PCP (TCP and TLS, timed), its
 * certificate against the pinned one, the address it sees us at, and the end-to-end check of
 * the SCP (the server connects back to that address and proves itself, and so do we). */
#include "portcheck.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

void
pc_check_direct(struct portcheck *pc, ncfx_client *c)
{
	struct ncfx_probe_result *r = &pc->probe;
	ncfx_status st;
	const char *todo;

	int relay_only = strcmp(pc->cli.cfg.scp, "relay") == 0;

	/* The port the server would be told: our router mapping's external port if there is
	 * one for our SCP, else the SCP port itself; none for a client that uses the relay. */
	pc->probe_port = relay_only ? 0 : pc->upnp.ours_ext ? (uint16_t)pc->upnp.ours_ext :
	    pc->scp_port;
	st = ncfx_probe_scp(c, pc->cli.cfg.user, pc->password, pc->scp_fd, pc->probe_port,
	    pc->timeout_s, r);
	if (st != NCFX_OK && r->session.session_id == 0) {
		/* The login itself failed. */
		pc_add(pc, PC_SERVER, "login", PC_FAIL, st == NCFX_ERR_SERVER ? "check 'user' in "
		    "client.conf and the password" : "", "%s", ncfx_client_errmsg(c));
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
		return;
	}
	pc->relay_known = 1;
	pc->relay_ok = r->relay;
	if (relay_only) {
		pc_add(pc, PC_DIRECT, "direct", PC_SKIP, "", "scp = relay: this client asks for the "
		    "relay and listens on no port, so the server never connects back");
		return;
	}
	pc->probed = 1;
	pc->direct_ok = r->result == NCFX_PROBE_RESULT_OK;
	if (r->result == NCFX_PROBE_RESULT_OTHER_PEER && pc->scp_fd < 0 &&
	    strncmp(pc->scp_holder, "netcfax ", 8) == 0) {
		/* Our own running watcher holds the port and refused this check's session, as it
		 * must: the connection got all the way to this machine's port. */
		pc->direct_ok = 1;
		pc_add(pc, PC_DIRECT, "direct", PC_WARN, "stop the running watcher to check the port "
		    "with this check's own session", "the server's connect-back to %s reached port "
		    "%u on this machine, where %s listens (it refused this check's session, as it "
		    "must): the path to it works", r->target, pc->probe_port, pc->scp_holder);
		return;
	}
	if (pc->direct_ok) {
		pc_add(pc, PC_DIRECT, "direct", PC_PASS, "", "the server connected back to %s and "
		    "both sides proved the session (%u ms)%s%s", r->target, r->elapsed_ms,
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
		todo = pc->scp_holder[0] ? "the port is held by another program on this machine: "
		    "see the SCP port check" : "the port leads to a program that is not this "
		    "client: a forward to another machine or port? Point it at this machine";
		break;
	default:
		todo = "the server has no route back to that address";
		break;
	}
	pc_add(pc, PC_DIRECT, "direct", PC_FAIL, todo, "the server's connect-back to %s: %s (%s)"
	    "%s%s", r->target, result_words(r->result), r->reason, r->dropped[0] ?
	    "; this check dropped a connection: " : "", r->dropped);
}

/* portcheck.h: netcfax-portcheck's findings, filled by one file per group of checks and
 * printed by report.c. Each check is pass, warn, fail or skip, with its evidence and, when it
 * is not a pass, what to do. */
#ifndef NETCFAX_PORTCHECK_H
#define NETCFAX_PORTCHECK_H

#include <signal.h>
#include <stdint.h>

#include "cli.h"
#include "portmap.h"
#include "watch_state.h"

struct event_base;
struct portmap_service;

#define PC_SCHEMA "netcfax-portcheck/1"

enum pc_status { PC_PASS, PC_WARN, PC_FAIL, PC_SKIP };

/* The sections, in the order the report shows them. */
enum pc_section { PC_LOCAL = 1, PC_SERVER, PC_ROUTER, PC_TOPOLOGY, PC_DIRECT, PC_RELAY };

/* Exit codes, documented in the README and stable for scripts. */
enum pc_exit {
	PC_EXIT_DIRECT = 0,        /* the server reached our SCP: notifications come direct */
	PC_EXIT_RELAY_ONLY = 1,    /* it did not, but the relay carries them */
	PC_EXIT_NOTHING = 2,       /* neither works */
	PC_EXIT_NO_SERVER = 3,     /* the server cannot be reached, verified or logged in to */
	/* --server: 0 the PCP is open on this host, 2 it is not (a failed check says why) */
	PC_EXIT_USAGE = 64,
	PC_EXIT_INTERNAL = 70,
};

enum pc_topology { PC_TOPO_UNKNOWN = 0, PC_TOPO_NONE, PC_TOPO_NAT, PC_TOPO_SINGLE,
                   PC_TOPO_DOUBLE, PC_TOPO_CGNAT, PC_TOPO_DIFFERS };

#define PC_MAX_CHECKS 24
#define PC_MAX_RULES  6

struct pc_check {
	int  section;
	char id[24];
	int  status;
	char evidence[700];
	char todo[700];
};

struct pc_router {
	int  found;                       /* the protocol answered */
	struct portmap_gateway gw;
	char err[300];
	int  ours;                        /* netcfax mappings to this host */
	int  ours_ext;                    /* the external port of ours for our SCP, 0 if none */
	char other_owner[120];            /* "ADDR:PORT (desc)" holding our SCP's external port */
};

struct portcheck {
	struct cli  cli;                  /* configuration, --json */
	int         server_mode;          /* --server: the checks of server_mode.c */
	const char *password;
	int         timeout_s;
	/* local */
	char     server_ip[64];           /* the server's address we route to */
	char     local_addr[64];
	int      v6;                      /* the server is reached over IPv6 */
	char     local_if[32];
	char     gateway[64];
	int      scp_fd;                  /* bound SCP listener, -1 if none */
	uint16_t scp_port;                /* the port the client would use */
	int      scp_mode;                /* NCFX_SCP_FIXED/_DYNAMIC/_RANGE */
	int      range_lo, range_hi;
	char     scp_holder[200];         /* who holds the port when we could not bind it */
	/* a running watcher of this user for this server (watch_state.c): its path is judged
	 * instead of a fresh port's */
	int                     watchers; /* how many run; 0: none */
	struct watch_state_info watcher;  /* the newest of them */
	/* server */
	int      reached, verified, logged_in;
	long     connect_ms;
	char     observed[66];
	/* routers */
	int                 routers_checked;
	int                 open, close;    /* --open / --close: map or unmap our SCP first */
	struct pc_router    upnp, natpmp;
	/* the temporary mapping a watcher would make (router.c pc_automap_begin) */
	struct event_base      *automap_base;
	struct portmap_service *automap;
	int      automap_state;           /* 0 not tried, 1 mapped, -1 refused or no answer */
	char     automap_proto[8];
	char     automap_addr[PORTMAP_ADDR_MAX];
	uint16_t automap_port;            /* the external port granted */
	long     automap_lease;
	char     automap_why[400];
	int      automap_masked;          /* SIGINT, SIGTERM, SIGHUP held while it exists */
	sigset_t automap_oldmask;
	/* verdicts */
	int      topology;
	int      probed, direct_ok, relay_ok, relay_known;
	uint16_t probe_port;
	struct ncfx_probe_result probe;
	/* the fix */
	char     fix_words[1200];
	char     nft[PC_MAX_RULES][300];
	char     ipt[PC_MAX_RULES][300];
	int      nrules;
	struct pc_check checks[PC_MAX_CHECKS];
	int             nchecks;
};

void pc_add(struct portcheck *pc, int section, const char *id, int status, const char *todo,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* rules.c: one suggested rule in both languages; a router's port forward (DNAT to `to`, for
 * packets to daddr, or to any address when NULL) and its filter accept. port is "N" or
 * "LOW-HIGH"; note is appended to each line ("" or a comment). */
void pc_rule(struct portcheck *pc, const char *nft, const char *ipt);
void pc_rule_dnat(struct portcheck *pc, const char *daddr, const char *port, const char *to,
                  const char *note);
void pc_rule_forward(struct portcheck *pc, const char *lan, const char *port,
                     const char *note);

/* The checks, in the order they run. */
void pc_check_local(struct portcheck *pc);
void pc_check_server_connect(struct portcheck *pc, ncfx_client **c);
void pc_check_routers(struct portcheck *pc);
void pc_open_close(struct portcheck *pc);   /* --open or --close, after the router checks */
/* A temporary mapping of the bound SCP port, as the watcher makes one: 0 mapped
 * (automap_proto, automap_port), -1 not (automap_why); a check says which. */
int  pc_automap_begin(struct portcheck *pc);
void pc_automap_end(struct portcheck *pc);  /* removes it */
void pc_map_first(struct portcheck *pc);    /* the mapping, when it comes before any probe */
void pc_check_direct(struct portcheck *pc, ncfx_client *c);
void pc_judge(struct portcheck *pc);        /* topology, relay, the fix */

/* --server: the server host's checks, reported; returns the exit code. */
int  pc_server_mode(struct portcheck *pc, const char *conf_path);

/* Prints the report (text or JSON) and returns the exit code. */
int  pc_report(struct portcheck *pc);

const char *pc_topology_name(int t);

#endif

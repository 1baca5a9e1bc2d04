/* portcheck.h: netcfax-portcheck's findings, filled by one file per group of checks and
 * printed by report.c. Each check is pass, warn, fail or skip, with its evidence and, when it
 * is not a pass, what to do. */
#ifndef NETCFAX_PORTCHECK_H
#define NETCFAX_PORTCHECK_H

#include <signal.h>
#include <stddef.h>
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
	/* --server: 0 the PCP (and every SIP trunk's side) is open on this host, 2 it is not
	 * (a failed check says why) */
	PC_EXIT_USAGE = 64,
	PC_EXIT_INTERNAL = 70,
};

enum pc_topology { PC_TOPO_UNKNOWN = 0, PC_TOPO_NONE, PC_TOPO_NAT, PC_TOPO_SINGLE,
                   PC_TOPO_DOUBLE, PC_TOPO_CGNAT, PC_TOPO_DIFFERS };

#define PC_MAX_CHECKS 80             /* --server: a few for the PCP, up to 8 per trunk */
#define PC_MAX_RULES  48
#define PC_MAX_HOPS   4

/* The device a printed rule goes on: this machine, the router in front of it, or the device
 * upstream of that router (double NAT). */
enum pc_device { PC_DEV_HOST = 0, PC_DEV_ROUTER, PC_DEV_UPSTREAM, PC_DEV_COUNT };

/* A placeholder the tool cannot fill: the rules carry it, the words say how to find it. */
#define PC_ROUTER_WAN "ROUTER_WAN_ADDRESS"

struct pc_check {
	int  section;
	char id[24];
	int  status;
	char evidence[700];
	char todo[700];
};

struct pc_rule {
	int  device;                      /* enum pc_device */
	char nft[300];
	char ipt[300];
};

/* One router on the way to the server, as a datagram with that TTL found it. */
struct pc_hop {
	char addr[64];                    /* who sent the time-exceeded, "" if nobody answered */
	int  cls;                         /* portmap_classify(addr) */
	int  is_server;                   /* the server itself answered: the path ends here */
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
	char     local_net[68];           /* this machine's network, "192.168.1.0/24" */
	char     gateway[64];
	int      scp_fd;                  /* bound SCP listener, -1 if none */
	uint16_t scp_port;                /* the port the client would use */
	int      scp_mode;                /* NCFX_SCP_FIXED/_DYNAMIC/_RANGE */
	int      range_lo, range_hi;
	int      hostfw;                  /* this host's input filter: 1 lets the SCP in, 0 drops
	                                   * it (in hostfw_chain), -1 unknown */
	char     hostfw_chain[300];       /* "inet filter input" */
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
	/* the hops towards the server (hops.c) */
	int           hops_probed;
	int           nhops;              /* TTLs tried, up to the server */
	struct pc_hop hops[PC_MAX_HOPS];
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
	/* the fix: words, then rules grouped by device, each device named for people */
	char     fix_words[2000];
	char     device_label[PC_DEV_COUNT][200];
	struct pc_rule rules[PC_MAX_RULES];
	int      nrules;
	char     fill_how[400];           /* how to find PC_ROUTER_WAN when a rule carries it */
	/* --server: the router's mappings to this host, UDP and TCP, as UPnP listed them
	 * (trunkcheck.c looks for the SIP and RTP ports among them) */
	int      maps_listed;             /* 1 the list was read */
	struct portmap_mapping host_maps[64];
	int      nhost_maps;
	struct pc_check checks[PC_MAX_CHECKS];
	int             nchecks;
};

void pc_add(struct portcheck *pc, int section, const char *id, int status, const char *todo,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* rules.c: one suggested rule in both languages, for one device. A router's port forward
 * (DNAT to `to` for packets to daddr or, when daddr is NULL, for packets addressed to the
 * router itself that do not come from its LAN `lan_net`) and its forward filter's accept; a
 * host's input accept in its own table and chain ("FAMILY TABLE CHAIN"). port is "N" or
 * "LOW-HIGH". */
void pc_rule(struct portcheck *pc, int device, const char *nft, const char *ipt);
void pc_rule_dnat(struct portcheck *pc, int device, const char *daddr, const char *lan_net,
                  const char *port, const char *to);
void pc_rule_forward(struct portcheck *pc, int device, const char *to, const char *port);
void pc_rule_input(struct portcheck *pc, const char *chains, const char *port);
const char *pc_device_key(int device);      /* "this-host", "router", "upstream" */
/* A SIP trunk's rules: proto from saddr only (an address or an nft set "{ A, B }" of one
 * family, v6 says which): the router's port forward to `to` of packets for daddr, its forward
 * filter's accept, and this host's input accept in each of chains. */
void pc_rule_peer_dnat(struct portcheck *pc, int device, const char *proto, const char *saddr,
                       int v6, const char *daddr, const char *port, const char *to);
void pc_rule_peer_forward(struct portcheck *pc, int device, const char *proto,
                          const char *saddr, int v6, const char *to, const char *port);
void pc_rule_peer_input(struct portcheck *pc, const char *chains, const char *proto,
                        const char *saddr, int v6, const char *port);

/* hostfw.c: this host's nftables input filter for TCP port, in the tables that see family
 * (AF_INET, AF_INET6, or 0 for both), from peer (the server's address; NULL: from anyone):
 * 1 lets it in, 0 drops it (every chain that does, "FAMILY TABLE CHAIN" joined by ", ", in
 * where), -1 cannot tell (why says why). */
int  pc_host_firewall(long port, int family, const char *peer, char *where, size_t wherelen,
                      char *why, size_t whylen);
/* The same for proto ("tcp" or "udp") and every port of port-port_hi, which one accept must
 * cover whole. */
int  pc_host_firewall_proto(const char *proto, long port, long port_hi, int family,
                            const char *peer, char *where, size_t wherelen, char *why,
                            size_t whylen);

/* local.c: "PROGRAM (pid N)" of the process holding proto ("tcp": listening, "udp": bound)
 * port on this host, or "" when it cannot be told; *pid 0 then. */
void pc_port_holder(const char *proto, uint16_t port, char *out, size_t outlen, long *pid);

/* hops.c: the routers between here and the server, by TTL (a few datagrams, bounded). */
void pc_check_hops(struct portcheck *pc);

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
/* trunkcheck.c, for --server: each SIP trunk of sip_trunks (comma-separated trunk files):
 * its file, SIP port, registrar, host firewall, router (after the router checks, with this
 * host's LAN address lan, the router gw and its external address ext), SIP ALG, and rules. */
#define PC_SEC_TRUNK PC_DIRECT      /* --server's section "SIP trunks" */
void pc_check_trunks(struct portcheck *pc, const char *sip_trunks, const char *lan,
                     const char *gw, const char *ext);

/* Prints the report (text or JSON) and returns the exit code. */
int  pc_report(struct portcheck *pc);

const char *pc_topology_name(int t);

#endif

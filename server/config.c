/* config.c: every netcfaxd option in one table: name, type, default, bounds, help. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"

#define OFF(f) offsetof(struct server_config, f)
#define SZ(f)  sizeof(((struct server_config *)0)->f)
#define INT(n, d, lo, hi, h)  { #n, CONF_INT, d, lo, hi, NULL, OFF(n), 0, h }
#define SIZE(n, d, lo, hi, h) { #n, CONF_SIZE, d, lo, hi, NULL, OFF(n), 0, h }
#define STR(n, d, h)          { #n, CONF_STR, d, 0, 0, NULL, OFF(n), SZ(n), h }
#define CHOICE(n, d, c, h)    { #n, CONF_CHOICE, d, 0, 0, c, OFF(n), SZ(n), h }

static const struct conf_opt options[] = {
	STR(listen, "0.0.0.0, ::",
	    "Addresses to accept clients on, comma-separated (IPv4 and IPv6)"),
	INT(pcp_port, "7488", 1, 65535,
	    "Primary Connection Port: every client must use this same TCP port"),
	STR(state_dir, "/var/lib/netcfax",
	    "Directory for the database, spool and generated TLS files"),
	STR(user, "",
	    "Account to run as, e.g. netcfax: started as root, netcfaxd binds its ports, then "
	    "becomes this user (with its groups) before it opens any state, and state_dir must "
	    "belong to it; empty = keep running as started (as root: a warning)"),
	STR(tls_cert, "", "PEM certificate chain; empty = self-signed one in state_dir/tls"),
	STR(tls_key, "", "PEM private key for tls_cert"),
	CHOICE(tls_min_version, "1.2", "1.2|1.3", "Lowest TLS version accepted"),
	STR(server_name, "", "Name shown to clients; empty = this host's name"),
	INT(preauth_timeout, "10", 1, 600,
	    "Seconds a new connection has to finish TLS, HELLO and LOGIN"),
	INT(idle_timeout, "80", 10, 3600,
	    "Seconds a logged-in client may stay silent: three missed 25-second heartbeats and "
	    "a little grace"),
	INT(max_connections, "4096", 1, 1000000,
	    "Connections accepted at once; at the limit a new one takes the place of the oldest "
	    "that has not logged in"),
	INT(max_connections_per_address, "64", 1, 100000,
	    "Connections from one address at once (an office behind NAT and a terminal server are "
	    "one address each); at the limit a new one takes the place of that address's oldest "
	    "that has not logged in"),
	INT(login_max_failures_user, "5", 1, 1000,
	    "Failed logins for one user name within the window before it is locked out"),
	INT(login_max_failures_address, "20", 1, 100000,
	    "Failed logins from one address (IPv6: one /64) within the window before lockout"),
	INT(login_failure_window, "300", 1, 86400, "Seconds over which failures are counted"),
	INT(login_lockout, "60", 1, 86400, "Seconds a locked-out user or address must wait"),
	SIZE(max_document_size, "64M", 1024, 4LL << 30, "Largest document a client may upload"),
	INT(max_jobs_per_user, "1000", 1, 1000000, "Unfinished jobs one user may have"),
	SIZE(max_spool_per_user, "1G", 1024, 1LL << 40,
	    "Bytes of documents of unfinished jobs one user may have in the spool"),
	SIZE(spool_reserve, "256M", 0, 1LL << 40,
	    "Free disk space the spool always leaves; uploads that would eat into it are refused"),
	INT(password_hash_cost, "15", 10, 18,
	    "scrypt cost for new password hashes, log2(N): 15 uses 32 MiB and ~0.1 s"),
	INT(resume_token_lifetime, "86400", 0, 2592000,
	    "Seconds after a watching client's password login during which its reconnects may "
	    "log in by resume token instead of a password check (0 = always check the password)"),
	STR(scp_ports, "1024-65535",
	    "Ports a client may register for its SCP (lowest-highest); never below 1024"),
	{ "relay", CONF_BOOL, "yes", 0, 0, NULL, OFF(relay), 0,
	  "Carry notifications over a client's own connection when the server cannot connect "
	  "back to it" },
	INT(scp_keepalive, "60", 1, 3600,
	    "Seconds an open connect-back may be silent before the server PINGs it: the PONG "
	    "proves the path, and keeps NAT and firewall state along it from expiring"),
	INT(scp_idle_close, "300", 0, 86400,
	    "Seconds a connect-back may carry nothing before it is closed, to save the server's "
	    "memory and descriptors; it connects again for the next notification (0 = keep it "
	    "open)"),
	INT(direct_retry_min, "30", 1, 86400,
	    "While relayed: seconds before the first new try of the direct connect-back"),
	INT(direct_retry_max, "600", 1, 86400,
	    "While relayed: the longest wait between tries of the direct connect-back"),
	INT(notify_retention, "30", 1, 3650,
	    "Days an acknowledged notification is kept before it is deleted"),
	INT(notify_keep_max, "10000", 100, 10000000,
	    "Notifications kept per user at most, read or not; older ones are deleted first"),
	INT(notify_poll, "500", 50, 60000,
	    "Milliseconds between checks for notifications written by netcfax-admin"),
	CHOICE(portmap, "off", "off|auto|upnp|natpmp",
	    "Ask the local router to forward the PCP to this host (UPnP IGD, NAT-PMP); off "
	    "unless the operator wants it: a rule made by hand is easier to audit"),
	INT(portmap_lease, "3600", 30, 86400,
	    "Seconds of router mapping asked for; renewed at half, checked in between"),
	STR(fax_numbers, "",
	    "This server's own fax numbers and the user each belongs to: \"+44 20 7946 0001 alice, "
	    "5550102 bob\". A fax to one of them lands in that user's inbox. With no numbers and "
	    "no remotes the software line is off and jobs wait"),
	STR(fax_remotes, "",
	    "Simulated fax machines on the software line and how each behaves: \"5550199 answer, "
	    "5550188 busy, 5550177 no-answer, 5550166 hangup-after-2, 5550155 noisy, 5550144 "
	    "no-fine\". Any other number is not in service"),
	INT(fax_lines, "4", 1, 64, "Calls the software line carries at once"),
	STR(fax_station_id, "",
	    "Station id sent to the far machine (TSI), at most 20 characters; empty = the first "
	    "of fax_numbers"),
	{ "fax_alaw", CONF_BOOL, "yes", 0, 0, NULL, OFF(fax_alaw), 0,
	  "Pass the software line's audio through G.711 A-law, as a telephone line does" },
	{ "fax_ecm", CONF_BOOL, "yes", 0, 0, NULL, OFF(fax_ecm), 0,
	  "Offer T.30 error correction (ECM): pages arrive exact or are resent" },
	{ "fax_paced", CONF_BOOL, "no", 0, 0, NULL, OFF(fax_paced), 0,
	  "Run software-line calls in real time (a demonstration); else as fast as the CPU allows" },
	INT(retry_busy, "180", 1, 86400, "Seconds before dialling again after a busy signal"),
	INT(retry_no_answer, "300", 1, 86400, "Seconds before dialling again after no answer"),
	INT(retry_failed, "300", 1, 86400,
	    "Seconds before calling again after a call that failed on the way (training, a "
	    "dropped line)"),
	INT(job_max_tries, "3", 1, 255,
	    "Default for calls that reach a fax machine before a job fails; a client may ask for "
	    "fewer or more"),
	INT(job_max_dials, "12", 1, 255,
	    "Default for dials of any outcome (busy and no answer included) before a job fails"),
	INT(job_kill_time, "10800", 60, 2592000,
	    "Default seconds after submission (or its send-at time) a job may take before it "
	    "fails as not sent"),
	STR(sip_trunks, "",
	    "SIP trunks, comma-separated paths of trunk files (see netcfaxd --sample-trunk-config): "
	    "faxes to numbers that are not this server's own go out on the first trunk whose "
	    "route takes them, and calls to fax_numbers come in on any of them; empty = the "
	    "software line only"),
	STR(modems, "",
	    "Real Class 1 fax modems on serial devices, comma-separated paths of modem files (see "
	    "netcfaxd --sample-modem-config): faxes to numbers that are not this server's own and "
	    "that no SIP trunk's route takes go out on the first modem whose route takes them; "
	    "empty = none. A modem whose file names one of fax_numbers answers the calls that "
	    "ring on it too"),
	INT(virtual_modems, "0", 0, 16,
	    "Virtual Class 1 fax modems for fax programs on this host (efax, HylaFAX): each is a "
	    "pseudo-terminal with a stable name, virtual_modem_dir/ttyNCFX0 and on. A fax to one "
	    "of virtual_modem_numbers rings the program; a program that dials one of fax_numbers "
	    "is received into that user's inbox; one that dials any other number is sent on "
	    "as a job of virtual_modem_account (refused without one); 0 = off"),
	STR(virtual_modem_numbers, "",
	    "Numbers that ring the virtual modems, comma-separated: \"5550123, 5550124\". A fax "
	    "to one of them goes to the first modem a fax program has open and is not on a call"),
	STR(virtual_modem_dir, "",
	    "Directory of the virtual modems' device names (links to their pseudo-terminals, "
	    "made afresh at each start); empty = state_dir/modems"),
	STR(virtual_modem_group, "",
	    "Group whose members (the fax program's account) may open the virtual modems' "
	    "devices (mode 0660); empty = the server's own user only (0600)"),
	STR(virtual_modem_account, "",
	    "User whose jobs the virtual modems' faxes to numbers not ours become: the program's "
	    "fax is received whole, then queued as this user's job to the number it dialled and "
	    "sent on the lines as any job (retries, T.38, notifications to this user); empty = "
	    "such dials are refused (NO CARRIER)"),
	INT(virtual_modem_ring_timeout, "60", 6, 600,
	    "Seconds a fax to a virtual modem rings (RING every 6 s) before it counts as no "
	    "answer and is tried again later"),
	CHOICE(log_level, "info", "error|warn|info|debug", "Most verbose log level printed"),
	{ "log", CONF_CHOICE, "auto", 0, 0, "auto|stderr|journal|syslog", OFF(log_to),
	  SZ(log_to),
	  "Where log lines go: stderr (each line with a UTC timestamp, netcfaxd[PID] and the "
	  "level); journal (stderr read by systemd's journal: each line starts with its "
	  "priority as <N>, and the journal adds time and pid); syslog (the local syslog daemon "
	  "through /dev/log, ident netcfaxd with the pid, facility log_facility); auto = journal "
	  "when stderr is the journal's stream (JOURNAL_STREAM), else stderr" },
	CHOICE(log_facility, "daemon",
	    "daemon|user|local0|local1|local2|local3|local4|local5|local6|local7",
	    "Syslog facility of the log lines when log = syslog"),
	CONF_END_HINT("every option is listed, with its default and what it does, by "
	    "netcfaxd --sample-config")
};
_Static_assert(sizeof(options) / sizeof(options[0]) <=
    sizeof(((struct server_config *)0)->conf_line) / sizeof(int), "conf_line too short");

_Static_assert(sizeof(options) / sizeof(options[0]) <= CONFIG_OPTIONS_MAX,
    "server_config.conf_line has a slot per row of the option table");

static void
origin_reset(struct server_config *c, const char *path)
{
	snprintf(c->conf_path, sizeof(c->conf_path), "%s", path ? path : "");
	for (size_t i = 0; i < sizeof(c->conf_line) / sizeof(c->conf_line[0]); i++)
		c->conf_line[i] = 0;
}

int
config_load(struct server_config *c, const char *path, int missing_ok, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	origin_reset(c, path);
	if (conf_defaults(options, c, err, errlen) < 0)
		return -1;
	if (path == NULL)
		return 0;
	return conf_load(options, c, path, missing_ok, c->conf_line, err, errlen);
}

int
config_load_stream(struct server_config *c, FILE *f, const char *name, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	origin_reset(c, name);
	if (conf_defaults(options, c, err, errlen) < 0)
		return -1;
	return conf_load_stream(options, c, f, name, c->conf_line, err, errlen);
}

int
config_set(struct server_config *c, const char *name, const char *value, char *err,
    size_t errlen)
{
	int i = conf_index(options, name);
	char why[512];

	if (conf_set(options, c, name, value, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "command line: %s", why);
		return -1;
	}
	c->conf_line[i] = CONFIG_FROM_COMMAND_LINE;
	return 0;
}

const char *
config_where_line(const struct server_config *c, const char *name, char *buf, size_t len)
{
	int i = conf_index(options, name), line = i >= 0 ? c->conf_line[i] : 0;

	if (line == CONFIG_FROM_COMMAND_LINE)
		snprintf(buf, len, "command line");
	else if (line > 0)
		snprintf(buf, len, "%s:%d", c->conf_path, line);
	else
		snprintf(buf, len, "%s", c->conf_path[0] ? c->conf_path : "defaults");
	return buf;
}

const char *
config_where(const struct server_config *c, const char *name, char *buf, size_t len)
{
	int i = conf_index(options, name);
	size_t n;

	config_where_line(c, name, buf, len);
	n = strlen(buf);
	snprintf(buf + n, len - n, ": %s%s", name, i >= 0 && c->conf_line[i] == 0 ?
	    " (default)" : "");
	return buf;
}

#define LISTEN_ALLOWED "allowed: IPv4 or IPv6 addresses or host names, comma-separated, e.g. " \
    "0.0.0.0, :: or 127.0.0.1"

/* An IP address, or what could be a host name; a text with only digits and dots (or with a
 * colon) that is no address is a mistyped one. Pure, so the configuration fuzzer can run it. */
static int
listen_entry_ok(const char *tok)
{
	unsigned char addr[sizeof(struct in6_addr)];
	size_t len = strlen(tok);

	const char *pct = strchr(tok, '%');

	if (inet_pton(AF_INET, tok, addr) == 1 || inet_pton(AF_INET6, tok, addr) == 1)
		return 1;
	/* A link-local IPv6 address with its zone, fe80::1%eth0: the address before the '%',
	 * an interface name after it (which the listener's getaddrinfo resolves). */
	if (pct != NULL && pct > tok && pct[1] != '\0' && strlen(pct + 1) < 16 &&
	    (size_t)(pct - tok) < 64) {
		char a[64];

		memcpy(a, tok, (size_t)(pct - tok));
		a[pct - tok] = '\0';
		if (inet_pton(AF_INET6, a, addr) == 1 && strspn(pct + 1, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(pct + 1))
			return 1;
	}
	if (len == 0 || len > 253 || strchr(tok, ':') || strspn(tok, "0123456789.") == len)
		return 0;
	for (const char *p = tok; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return 0;
	return 1;
}

static int
check_listen(const struct server_config *c, char *err, size_t errlen)
{
	char list[sizeof(c->listen)], *save = NULL, where[CONFIG_PATH_MAX + 64];
	int n = 0;

	snprintf(list, sizeof(list), "%s", c->listen);
	for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (!listen_entry_ok(tok)) {
			snprintf(err, errlen, "%s: '%s' is not an address; " LISTEN_ALLOWED,
			    config_where(c, "listen", where, sizeof(where)), tok);
			return -1;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no address; " LISTEN_ALLOWED, config_where(c, "listen",
		    where, sizeof(where)));
		return -1;
	}
	return 0;
}

int
config_resolve_listen(const struct server_config *c, char *err, size_t errlen)
{
	char list[sizeof(c->listen)], *save = NULL, where[CONFIG_PATH_MAX + 64];

	snprintf(list, sizeof(list), "%s", c->listen);
	for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct addrinfo hints, *res = NULL;
		int gai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		if ((gai = getaddrinfo(tok, NULL, &hints, &res)) != 0) {
			snprintf(err, errlen, "%s: '%s' cannot be resolved (%s); " LISTEN_ALLOWED,
			    config_where(c, "listen", where, sizeof(where)), tok, gai_strerror(gai));
			return -1;
		}
		freeaddrinfo(res);
	}
	return 0;
}

int
config_finish(struct server_config *c, char *err, size_t errlen)
{
	char w1[CONFIG_PATH_MAX + 64], w2[CONFIG_PATH_MAX + 64];

	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		snprintf(err, errlen, "%s: set without %s; set both (a PEM certificate chain and its "
		    "key), or neither for a self-signed certificate in state_dir/tls",
		    config_where(c, c->tls_cert[0] ? "tls_cert" : "tls_key", w1, sizeof(w1)),
		    c->tls_cert[0] ? "tls_key" : "tls_cert");
		return -1;
	}
	if (c->state_dir[0] == '\0') {
		snprintf(err, errlen, "%s: must not be empty; allowed: a directory, e.g. "
		    "/var/lib/netcfax", config_where(c, "state_dir", w1, sizeof(w1)));
		return -1;
	}
	if (sscanf(c->scp_ports, "%lld-%lld", &c->scp_port_min, &c->scp_port_max) != 2 ||
	    c->scp_port_min < 1024 || c->scp_port_max > 65535 ||
	    c->scp_port_min > c->scp_port_max) {
		snprintf(err, errlen, "%s: '%s' is not a range; allowed: LOW-HIGH within "
		    "1024-65535, e.g. 1024-65535 or 7485-7599",
		    config_where(c, "scp_ports", w1, sizeof(w1)), c->scp_ports);
		return -1;
	}
	if (c->direct_retry_min > c->direct_retry_max) {
		int maxline = c->conf_line[conf_index(options, "direct_retry_max")];
		if (maxline > 0)
			snprintf(w2, sizeof(w2), "set on line %d", maxline);
		else
			snprintf(w2, sizeof(w2), "%s", maxline == 0 ? "the default" :
			    "from the command line");
		snprintf(err, errlen, "%s: %lld is more than direct_retry_max (%lld, %s); allowed: "
		    "at most direct_retry_max", config_where(c, "direct_retry_min", w1, sizeof(w1)),
		    c->direct_retry_min, c->direct_retry_max, w2);
		return -1;
	}
	if (strlen(c->fax_station_id) > 20) {
		snprintf(err, errlen, "%s: '%s' is longer than the 20 characters T.30 allows",
		    config_where(c, "fax_station_id", w1, sizeof(w1)), c->fax_station_id);
		return -1;
	}
	if (c->virtual_modem_account[0] && c->virtual_modems == 0) {
		snprintf(err, errlen, "%s: set while virtual_modems is 0; set virtual_modems to "
		    "the number of modems, or leave virtual_modem_account empty",
		    config_where(c, "virtual_modem_account", w1, sizeof(w1)));
		return -1;
	}
	if (c->virtual_modem_numbers[0] && c->virtual_modems == 0) {
		snprintf(err, errlen, "%s: set while virtual_modems is 0; set virtual_modems to "
		    "the number of modems, or leave virtual_modem_numbers empty",
		    config_where(c, "virtual_modem_numbers", w1, sizeof(w1)));
		return -1;
	}
	if (check_listen(c, err, errlen) < 0)
		return -1;
	if (c->server_name[0] == '\0' &&
	    gethostname(c->server_name, sizeof(c->server_name) - 1) != 0)
		snprintf(c->server_name, sizeof(c->server_name), "netcfaxd");
	return 0;
}

void
config_print_sample(void)
{
	conf_print_sample(options, "netcfaxd.conf: netcfax server configuration");
}

const struct conf_opt *
config_options(void)
{
	return options;
}

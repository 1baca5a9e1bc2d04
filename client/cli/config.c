/* config.c: client.conf options, in the same table form as the server's. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conf.h"

#define OFF(f) offsetof(struct client_config, f)
#define SZ(f)  sizeof(((struct client_config *)0)->f)
#define STR(n, d, h) { #n, CONF_STR, d, 0, 0, NULL, OFF(n), SZ(n), h }

static const struct conf_opt options[] = {
	STR(server, "", "Host name or address of the netcfax server"),
	{ "port", CONF_INT, "7488", 1, 65535, NULL, OFF(port), 0,
	  "The server's Primary Connection Port" },
	STR(user, "", "Your user name on the server"),
	STR(password_file, "", "File whose first line is your password (mode 0600!)"),
	STR(ca_file, "", "Verify the server against this CA bundle instead of pinning"),
	STR(server_fingerprint, "", "Expected SHA256 fingerprint of the server certificate"),
	STR(known_servers, "", "Pin file; empty = ~/.config/netcfax/known_servers"),
	{ "trust_on_first_use", CONF_BOOL, "yes", 0, 0, NULL, OFF(trust_on_first_use), 0,
	  "Pin an unknown server's certificate at first contact (no: refuse until 'netcfax "
	  "trust' or server_fingerprint)" },
	{ "scp", CONF_CHOICE, "auto", 0, 0, "auto|direct|relay", OFF(scp), SZ(scp),
	  "How notifications reach this client: direct (the server connects to our SCP), relay "
	  "(over our own connection to the server), or auto (direct when it works, else relay)" },
	{ "scp_mode", CONF_CHOICE, "dynamic", 0, 0, "fixed|dynamic|range", OFF(scp_mode),
	  SZ(scp_mode), "How this client picks its Secondary Connection Port for notifications" },
	{ "scp_port", CONF_INT, "7485", 1024, 65535, NULL, OFF(scp_port), 0,
	  "The SCP port in fixed mode" },
	STR(scp_range, "7500-7599", "The ports to choose from in range mode (lowest-highest)"),
	STR(scp_listen, "", "Local address to listen on for the SCP; empty = all"),
	{ "portmap", CONF_CHOICE, "auto", 0, 0, "auto|upnp|natpmp|off", OFF(portmap),
	  SZ(portmap), "Ask the local router to forward the SCP (UPnP IGD, NAT-PMP) while watching" },
	{ "portmap_lease", CONF_INT, "3600", 30, 86400, NULL, OFF(portmap_lease), 0,
	  "Seconds of router mapping asked for; renewed at half, checked in between" },
	{ "heartbeat", CONF_INT, "25", 2, 60, NULL, OFF(heartbeat), 0,
	  "Seconds between heartbeats to the server while watching (the server drops a "
	  "session silent for 80 s by default)" },
	{ "timeout", CONF_INT, "30", 1, 600, NULL, OFF(timeout), 0,
	  "Seconds to wait for the server" },
	{ "log_level", CONF_CHOICE, "warn", 0, 0, "error|warn|info|debug", OFF(log_level),
	  SZ(log_level), "How much the client prints about what it does" },
	STR(address_book, "", "The address book of named recipients; empty = "
	    "~/.config/netcfax/addressbook"),
	CONF_END
};
_Static_assert(sizeof(options) / sizeof(options[0]) <=
    sizeof(((struct client_config *)0)->conf_line) / sizeof(int), "conf_line too short");

/* The environment variables that stand for options, between client.conf and the command
 * line. */
static const struct { const char *var, *name; } env_options[] = {
	{ "NETCFAX_SERVER", "server" },
	{ "NETCFAX_PORT", "port" },
	{ "NETCFAX_USER", "user" },
};

int
client_config_load(struct client_config *c, const char *path, int missing_ok, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->conf_path, sizeof(c->conf_path), "%s", path);
	if (conf_defaults(options, c, err, errlen) < 0)
		return -1;
	return conf_load(options, c, path, missing_ok, c->conf_line, err, errlen);
}

int
client_config_env(struct client_config *c, char *err, size_t errlen)
{
	char why[512];

	for (size_t i = 0; i < sizeof(env_options) / sizeof(env_options[0]); i++) {
		const char *v = getenv(env_options[i].var);

		if (v == NULL || *v == '\0')
			continue;
		if (conf_set(options, c, env_options[i].name, v, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "environment variable %s: %s (unset it, or fix it)",
			    env_options[i].var, why);
			return -1;
		}
		c->conf_line[conf_index(options, env_options[i].name)] = CLIENT_FROM_ENV;
	}
	return 0;
}

int
client_config_set(struct client_config *c, const char *name, const char *value, char *err,
    size_t errlen)
{
	char why[512];

	if (conf_set(options, c, name, value, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "command line: %s", why);
		return -1;
	}
	c->conf_line[conf_index(options, name)] = CLIENT_FROM_COMMAND_LINE;
	return 0;
}

/* "FILE:LINE: name", "environment variable NETCFAX_X", "command line: name" or
 * "FILE: name (default)". */
static const char *
where(const struct client_config *c, const char *name, char *buf, size_t len)
{
	int line = c->conf_line[conf_index(options, name)];

	if (line > 0)
		snprintf(buf, len, "%s:%d: %s", c->conf_path, line, name);
	else if (line == CLIENT_FROM_COMMAND_LINE)
		snprintf(buf, len, "command line: %s", name);
	else if (line == CLIENT_FROM_ENV) {
		snprintf(buf, len, "environment: %s", name);
		for (size_t i = 0; i < sizeof(env_options) / sizeof(env_options[0]); i++)
			if (strcmp(env_options[i].name, name) == 0)
				snprintf(buf, len, "environment variable %s", env_options[i].var);
	} else
		snprintf(buf, len, "%s: %s (default)", c->conf_path, name);
	return buf;
}

int
client_config_check(const struct client_config *c, char *err, size_t errlen)
{
	char w[1100], tail;
	unsigned char addr[sizeof(struct in6_addr)];
	int lo, hi;

	if (sscanf(c->scp_range, "%d-%d%c", &lo, &hi, &tail) != 2 || lo < 1024 || hi > 65535 ||
	    lo > hi) {
		snprintf(err, errlen, "%s: '%s' is not a range; allowed: LOW-HIGH within "
		    "1024-65535, e.g. 7500-7599", where(c, "scp_range", w, sizeof(w)), c->scp_range);
		return -1;
	}
	if (c->scp_listen[0] && inet_pton(AF_INET, c->scp_listen, addr) != 1 &&
	    inet_pton(AF_INET6, c->scp_listen, addr) != 1) {
		snprintf(err, errlen, "%s: '%s' is not an IP address; allowed: an address of this "
		    "machine, e.g. 192.168.1.20 or ::, or empty for all", where(c, "scp_listen", w,
		    sizeof(w)), c->scp_listen);
		return -1;
	}
	return 0;
}

const struct conf_opt *
client_config_options(void)
{
	return options;
}

/* config.c: client.conf options, in the same table form as the server's. */
#include <stddef.h>
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
	CONF_END
};

int
client_config_load(struct client_config *c, const char *path, int missing_ok, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (conf_defaults(options, c, err, errlen) < 0)
		return -1;
	return conf_load(options, c, path, missing_ok, err, errlen);
}

int
client_config_set(struct client_config *c, const char *name, const char *value, char *err,
    size_t errlen)
{
	return conf_set(options, c, name, value, err, errlen);
}

const struct conf_opt *
client_config_options(void)
{
	return options;
}

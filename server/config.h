/* config.h: netcfaxd's settings, filled from the option table in config.c. */
#ifndef NETCFAX_SERVER_CONFIG_H
#define NETCFAX_SERVER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_PATH_MAX 1024
#define CONFIG_DEFAULT_PATH "/etc/netcfax/netcfaxd.conf"

#define CONFIG_OPTIONS_MAX 96      /* rows of the option table, at most */

struct server_config {
	char      listen[512];
	long long pcp_port;
	char      state_dir[CONFIG_PATH_MAX];
	char      user[64];                  /* PRIVDROP_NAME_MAX */
	char      tls_cert[CONFIG_PATH_MAX];
	char      tls_key[CONFIG_PATH_MAX];
	char      tls_min_version[8];
	char      server_name[256];
	long long preauth_timeout;
	long long idle_timeout;
	long long max_connections;
	long long max_connections_per_address;
	long long login_max_failures_user;
	long long login_max_failures_address;
	long long login_failure_window;
	long long login_lockout;
	long long max_document_size;
	long long max_jobs_per_user;
	long long max_spool_per_user;
	long long spool_reserve;
	long long password_hash_cost;
	long long resume_token_lifetime;
	long long scp_idle_close;
	long long scp_keepalive;
	char      scp_ports[32];
	int       relay;
	long long direct_retry_min;
	long long direct_retry_max;
	long long notify_retention;
	long long notify_keep_max;
	long long notify_poll;
	char      portmap[16];
	long long portmap_lease;
	/* the fax engine */
	char      fax_numbers[2048];
	char      fax_remotes[2048];
	long long fax_lines;
	char      fax_station_id[32];
	int       fax_alaw;
	int       fax_ecm;
	int       fax_paced;
	long long retry_busy;
	long long retry_no_answer;
	long long retry_failed;
	long long job_max_tries;
	long long job_max_dials;
	long long job_kill_time;
	char      sip_trunks[2048];
	char      modems[2048];
	long long virtual_modems;
	char      virtual_modem_numbers[2048];
	char      virtual_modem_dir[CONFIG_PATH_MAX];
	char      virtual_modem_group[64];
	char      virtual_modem_account[65];   /* a user name: NCFX_USER_MAX + 1 */
	long long virtual_modem_ring_timeout;
	/* logging */
	char      log_level[16];
	char      log_to[16];                /* the option "log" */
	char      log_facility[16];
	/* derived */
	long long scp_port_min, scp_port_max;
	/* where each option was set, for messages (config_where): the file, and per row of the
	 * option table its line there, 0 for a default, CONFIG_FROM_COMMAND_LINE for -s, -l, -p */
	char      conf_path[CONFIG_PATH_MAX];
	int       conf_line[CONFIG_OPTIONS_MAX];
};

#define CONFIG_FROM_COMMAND_LINE (-1)

/* Defaults, then the file (missing_ok for the default path), then nothing else: command-line
 * overrides go through config_set(). 0 or -1 with "file:line: why" in err. */
int  config_load(struct server_config *c, const char *path, int missing_ok, char *err,
                 size_t errlen);
/* The same from an open stream (the configuration fuzzer reads from memory). */
int  config_load_stream(struct server_config *c, FILE *f, const char *name, char *err,
                        size_t errlen);
int  config_set(struct server_config *c, const char *name, const char *value, char *err,
                size_t errlen);
/* Fills derived values (server_name) and checks what spans options and what one value
 * alone cannot show (a range, the form of the listen addresses), naming the file and line.
 * Touches nothing outside the structure. */
int  config_finish(struct server_config *c, char *err, size_t errlen);
/* Resolves each listen entry (host names too), as the listener will: netcfaxd calls it at
 * -n and before a start, so a name that does not resolve is named with its line. */
int  config_resolve_listen(const struct server_config *c, char *err, size_t errlen);
/* "FILE:LINE: name", "FILE: name (default)" or "command line: name": where an option's value
 * came from, to begin a message about it. Returns buf. */
const char *config_where(const struct server_config *c, const char *name, char *buf,
                         size_t len);
/* The same without the name: "FILE:LINE", "FILE" or "command line". */
const char *config_where_line(const struct server_config *c, const char *name, char *buf,
                              size_t len);
void config_print_sample(void);
/* The option table itself, for generated documentation (man/confdoc.c). */
struct conf_opt;
const struct conf_opt *config_options(void);

#endif

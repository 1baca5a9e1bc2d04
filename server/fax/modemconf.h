/* modemconf.h: one real fax modem's settings, a file of its own ("key = value"), read
 * through an option table as a SIP trunk's are; netcfaxd.conf's modems lists the files. */
#ifndef NETCFAX_MODEMCONF_H
#define NETCFAX_MODEMCONF_H

#include <stddef.h>

struct conf_opt;

#define MODEMCONF_PATH_MAX   1024
#define MODEMCONF_NAME_MAX   32
#define MODEMS_MAX           8         /* modem files netcfaxd takes */
#define MODEMCONF_ROUTES_MAX 32

struct modem_config {
	char      name[MODEMCONF_NAME_MAX];  /* the file's name without directory and ".conf" */
	char      path[MODEMCONF_PATH_MAX];
	char      device[MODEMCONF_PATH_MAX];
	long long speed;
	char      flow_control[8];
	char      init[64];
	char      dial[8];
	char      dial_prefix[16];
	char      route[512];
	char      lock_dir[MODEMCONF_PATH_MAX];
	long long dial_timeout;
	char      number[32];
	long long rings;
	long long send_rate;
	long long receive_rate;
	/* derived by modemconf_load */
	char      routes[MODEMCONF_ROUTES_MAX][20];  /* route, as prefixes of digits */
	int       nroutes;
};

/* Defaults, then the file at path (which must exist). 0, or -1 with "path:line: why". */
int modemconf_load(struct modem_config *m, const char *path, char *err, size_t errlen);

/* 1 when this modem carries number (its digits start with one of route's, or route is
 * empty), else 0. */
int modemconf_routes(const struct modem_config *m, const char *number);

/* The ATD command for number (tone or pulse, dial_prefix in front), into out. 0, or -1
 * with the reason (not a phone number, too long). */
int modemconf_dial_command(const struct modem_config *m, const char *number, char *out,
                           size_t cap, char *err, size_t errlen);

/* The option table, for the manual page's generator. */
const struct conf_opt *modemconf_options(void);

/* Prints the commented sample modem file (netcfaxd --sample-modem-config). */
void modemconf_print_sample(void);

#endif

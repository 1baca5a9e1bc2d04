/* modemconf.c: one real fax modem's settings: the option table (the whole truth about each
 * setting, as in config.c and trunk.c), the checks across options, its routing and dial
 * command. */
#include "modemconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "dialnum.h"

#define OFF(f) offsetof(struct modem_config, f)
#define SZ(f)  sizeof(((struct modem_config *)0)->f)
#define INT(n, d, lo, hi, h)  { #n, CONF_INT, d, lo, hi, NULL, OFF(n), 0, h }
#define STR(n, d, h)          { #n, CONF_STR, d, 0, 0, NULL, OFF(n), SZ(n), h }
#define CHOICE(n, d, c, h)    { #n, CONF_CHOICE, d, 0, 0, c, OFF(n), SZ(n), h }

static const struct conf_opt options[] = {
	STR(device, "",
	    "The modem's serial device (required), best by its stable name, e.g. "
	    "/dev/serial/by-id/usb-...; the server's user must be able to open it (group dialout)"),
	INT(speed, "115200", 9600, 230400,
	    "Bit/s between this host and the modem (not the fax's speed on the line): 9600, "
	    "19200, 38400, 57600, 115200 or 230400"),
	CHOICE(flow_control, "rtscts", "rtscts|xonxoff|none",
	    "How the modem holds back the data we send: rtscts (hardware, what USB modems do), "
	    "xonxoff (software), none"),
	STR(init, "ATZ",
	    "Command sent to reset the modem before each call; the server then turns echo off and "
	    "selects fax Class 1 itself (ATE0V1, AT+FCLASS=1)"),
	CHOICE(dial, "tone", "tone|pulse", "How numbers are dialled: ATDT or ATDP"),
	STR(dial_prefix, "",
	    "Digits dialled before every number (an outside-line prefix, for example, \"9,\" with "
	    "the modem's comma pause)"),
	STR(route, "",
	    "Numbers this modem carries, as prefixes of their digits, comma-separated (\"0044, "
	    "01\"); empty = every number that is not one of this server's own. SIP trunks are "
	    "asked first, then the modems in the order of netcfaxd.conf's modems"),
	STR(lock_dir, "/var/lock",
	    "Directory of the UUCP lock files (LCK..ttyACM0) that keep other programs (getty, "
	    "HylaFAX, efax) off the device while the server has it"),
	INT(dial_timeout, "90", 10, 300,
	    "Seconds from the dial to the far machine's answer before the call counts as no answer"),
	STR(number, "",
	    "The telephone line's number, one of netcfaxd.conf's fax_numbers: calls that ring on "
	    "the modem are answered and received into the inbox of the user it belongs to, and "
	    "the server keeps the device open (and locked) to hear them; empty = the modem only "
	    "dials out and is opened for each call"),
	INT(rings, "2", 1, 10, "With number set: rings before the modem answers"),
	INT(send_rate, "14400", 4800, 14400,
	    "The highest bit/s this modem sends a fax at, 4800 (V.27ter), 9600 (V.29) or 14400 "
	    "(V.17); a noisy line that fails training at the top speed every call does better "
	    "starting lower"),
	INT(receive_rate, "9600", 4800, 14400,
	    "With number set: the highest bit/s offered to a caller, 4800 (V.27ter), 9600 (V.29) "
	    "or 14400 (V.17). 9600 by default: receiving V.17 (AT+FRM=145) has been tried "
	    "against spandsp's T.31 only, not a modem in hardware, so 14400 is for a modem "
	    "known to train on it"),
	CONF_END_HINT("see netcfaxd --sample-modem-config for every modem option"),
};

static int
check(struct modem_config *m, const int *lines, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

#define WHERE(opt) m->path, lines[conf_index(options, opt)]
	if (m->device[0] == '\0') {
		snprintf(err, errlen, "%s: device is required (the modem's serial device, e.g. "
		    "/dev/ttyACM0; `ls -l /dev/serial/by-id/` lists them)", m->path);
		return -1;
	}
	if (m->speed != 9600 && m->speed != 19200 && m->speed != 38400 && m->speed != 57600 &&
	    m->speed != 115200 && m->speed != 230400) {
		snprintf(err, errlen, "%s:%d: speed: %lld; allowed: 9600, 19200, 38400, 57600, "
		    "115200, 230400", WHERE("speed"), m->speed);
		return -1;
	}
	if (strncasecmp(m->init, "AT", 2) != 0 || strpbrk(m->init, "\r\n") != NULL) {
		snprintf(err, errlen, "%s:%d: init: '%s' is not an AT command", WHERE("init"),
		    m->init);
		return -1;
	}
	if (strspn(m->dial_prefix, "0123456789*#,W") != strlen(m->dial_prefix)) {
		snprintf(err, errlen, "%s:%d: dial_prefix: '%s'; allowed: digits, *, #, ',' and W",
		    WHERE("dial_prefix"), m->dial_prefix);
		return -1;
	}
	if (m->number[0] && (strspn(m->number, "0123456789+-() ") != strlen(m->number) ||
	    strpbrk(m->number, "0123456789") == NULL)) {
		snprintf(err, errlen, "%s:%d: number: '%s' is not a phone number", WHERE("number"),
		    m->number);
		return -1;
	}
	if (m->send_rate != 4800 && m->send_rate != 9600 && m->send_rate != 14400) {
		snprintf(err, errlen, "%s:%d: send_rate: %lld; allowed: 4800, 9600, 14400",
		    WHERE("send_rate"), m->send_rate);
		return -1;
	}
	if (m->receive_rate != 4800 && m->receive_rate != 9600 && m->receive_rate != 14400) {
		snprintf(err, errlen, "%s:%d: receive_rate: %lld; allowed: 4800, 9600, 14400",
		    WHERE("receive_rate"), m->receive_rate);
		return -1;
	}
	m->nroutes = 0;
	snprintf(buf, sizeof(buf), "%s", m->route);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		if (m->nroutes == MODEMCONF_ROUTES_MAX ||
		    strspn(tok, "0123456789+-() ") != strlen(tok) ||
		    dialnum_digits(tok, m->routes[m->nroutes], sizeof(m->routes[0])) != 0 ||
		    m->routes[m->nroutes][0] == '\0') {
			snprintf(err, errlen, "%s:%d: route: '%s' is not a number prefix, or more "
			    "than %d of them", WHERE("route"), tok, MODEMCONF_ROUTES_MAX);
			return -1;
		}
		m->nroutes++;
	}
#undef WHERE
	return 0;
}

int
modemconf_load(struct modem_config *m, const char *path, char *err, size_t errlen)
{
	int lines[CONF_MAX_OPTS] = { 0 };

	memset(m, 0, sizeof(*m));
	if (conf_defaults(options, m, err, errlen) < 0)
		return -1;
	snprintf(m->path, sizeof(m->path), "%s", path);
	conf_file_stem(path, m->name, sizeof(m->name));
	if (conf_load(options, m, path, 0, lines, err, errlen) < 0)
		return -1;
	return check(m, lines, err, errlen);
}

int
modemconf_routes(const struct modem_config *m, const char *number)
{
	char d[64];

	if (dialnum_digits(number, d, sizeof(d)) != 0 || d[0] == '\0')
		return 0;
	if (m->nroutes == 0)
		return 1;
	for (int i = 0; i < m->nroutes; i++)
		if (strncmp(d, m->routes[i], strlen(m->routes[i])) == 0)
			return 1;
	return 0;
}

int
modemconf_dial_command(const struct modem_config *m, const char *number, char *out,
                       size_t cap, char *err, size_t errlen)
{
	char d[64];
	int n;

	/* A '+' cannot be dialled on an analogue line: the number must be written as dialled. */
	if (strspn(number, "0123456789 -().") != strlen(number) ||
	    dialnum_digits(number, d, sizeof(d)) != 0 || d[0] == '\0') {
		snprintf(err, errlen, "'%s' cannot be dialled on a modem (digits only, as dialled "
		    "from this line; spaces and dashes are fine)", number);
		return -1;
	}
	n = snprintf(out, cap, "ATD%c%s%s", strcmp(m->dial, "pulse") == 0 ? 'P' : 'T',
	    m->dial_prefix, d);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "'%s' is too long to dial", number);
		return -1;
	}
	return 0;
}

const struct conf_opt *
modemconf_options(void)
{
	return options;
}

void
modemconf_print_sample(void)
{
	conf_print_sample(options, "A Class 1 fax modem of netcfaxd: one file per modem, listed "
	    "in netcfaxd.conf's modems");
}

/* test_modemconf.c: a modem file read through its option table: the defaults, a file that
 * sets every kind of option, each check across options refused with file:line (no device, a
 * speed no serial line has, an init that is not AT, a route that is not a prefix, a number
 * that is not one), its routing by digit prefixes and the ATD command it makes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "modemconf.h"

static char dir[] = "/tmp/ncfx-modemconf-XXXXXX";

static int
load(const char *text, struct modem_config *m, char *err, size_t errlen)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/usb.conf", dir);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return modemconf_load(m, path, err, errlen);
}

int
main(void)
{
	struct modem_config m;
	char err[512], cmd[96];

	if (mkdtemp(dir) == NULL)
		return 1;
	CHECK_INT(load("device = /dev/ttyACM0\n", &m, err, sizeof(err)), 0);
	CHECK_STR(m.name, "usb");
	CHECK_INT(m.speed, 115200);
	CHECK_STR(m.flow_control, "rtscts");
	CHECK_STR(m.init, "ATZ");
	CHECK_STR(m.lock_dir, "/var/lock");
	CHECK_INT(m.rings, 2);
	CHECK_INT(m.receive_rate, 9600);
	CHECK_INT(m.send_rate, 14400);
	CHECK_INT(m.nroutes, 0);
	CHECK_INT(modemconf_routes(&m, "+44 20 7946 0123"), 1);
	CHECK_INT(modemconf_routes(&m, "no digits"), 0);
	CHECK_INT(modemconf_dial_command(&m, "020 7946-0123", cmd, sizeof(cmd), err,
	    sizeof(err)), 0);
	CHECK_STR(cmd, "ATDT02079460123");
	CHECK_INT(modemconf_dial_command(&m, "+44 20 7946 0123", cmd, sizeof(cmd), err,
	    sizeof(err)), -1);
	CHECK_CONTAINS(err, "cannot be dialled on a modem");

	CHECK_INT(load("device = /dev/ttyS0\nspeed = 19200\nflow_control = none\ndial = pulse\n"
	    "dial_prefix = 9,\nroute = 0044, 01\nnumber = 555 0111\nrings = 1\n"
	    "receive_rate = 14400\nsend_rate = 4800\n", &m, err, sizeof(err)), 0);
	CHECK_INT(m.send_rate, 4800);
	CHECK_INT(m.nroutes, 2);
	CHECK_INT(modemconf_routes(&m, "01632 960000"), 1);
	CHECK_INT(modemconf_routes(&m, "0044 20 7946 0123"), 1);
	CHECK_INT(modemconf_routes(&m, "020 7946 0123"), 0);
	CHECK_INT(modemconf_dial_command(&m, "01632 960000", cmd, sizeof(cmd), err,
	    sizeof(err)), 0);
	CHECK_STR(cmd, "ATDP9,01632960000");

	CHECK_INT(load("speed = 19200\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "device is required");
	CHECK_CONTAINS(err, "/dev/serial/by-id/");
	CHECK_INT(load("device = /dev/ttyS0\n\nspeed = 12345\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "usb.conf:3: speed: 12345");
	CHECK_INT(load("device = /dev/ttyS0\ninit = ZZZ\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "usb.conf:2: init: 'ZZZ' is not an AT command");
	CHECK_INT(load("device = /dev/ttyS0\nroute = 44, abc\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "usb.conf:2: route: 'abc'");
	CHECK_INT(load("device = /dev/ttyS0\nnumber = alice\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "usb.conf:2: number: 'alice' is not a phone number");
	CHECK_INT(load("device = /dev/ttyS0\nreceive_rate = 7200\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "receive_rate: 7200");
	CHECK_INT(load("device = /dev/ttyS0\n\nsend_rate = 12000\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "usb.conf:3: send_rate: 12000; allowed: 4800, 9600, 14400");
	CHECK_INT(load("device = /dev/ttyS0\nflow_control = maybe\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "usb.conf:2");
	CHECK_INT(load("device = /dev/ttyS0\ndial_prefix = 9;\n", &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "dial_prefix");

	{
		char path[128];

		snprintf(path, sizeof(path), "%s/usb.conf", dir);
		unlink(path);
	}
	rmdir(dir);
	return check_report("test_modemconf");
}

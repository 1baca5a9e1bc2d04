/* test_conf.c: configuration files are accepted whole or refused with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "config.h"

static char path[64];

static void
write_conf(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static int
load(struct server_config *c, const char *text, char *err, size_t errlen)
{
	write_conf(text);
	return config_load(c, path, 0, err, errlen);
}

int
main(void)
{
	struct server_config c;
	char err[512], want[128];
	long long v;
	int fd;

	snprintf(path, sizeof(path), "/tmp/netcfax-conf-XXXXXX");
	fd = mkstemp(path);
	close(fd);

	CHECK_INT(config_load(&c, NULL, 0, err, sizeof(err)), 0);
	CHECK_INT(c.pcp_port, 7488);
	CHECK_INT(c.max_document_size, 64LL << 20);
	CHECK_STR(c.tls_min_version, "1.2");

	CHECK_INT(load(&c, "# comment\n\npcp_port = 9000   # trailing\nlisten = 127.0.0.1\n"
	    "max_document_size = 2M\nserver_name = \"fax #1\"\n", err, sizeof(err)), 0);
	CHECK_INT(c.pcp_port, 9000);
	CHECK_STR(c.listen, "127.0.0.1");
	CHECK_INT(c.max_document_size, 2LL << 20);
	CHECK_STR(c.server_name, "fax #1");

	snprintf(want, sizeof(want), "%s:3: unknown option 'no_such_thing'; ", path);
	CHECK_INT(load(&c, "pcp_port = 1\n\nno_such_thing = 1\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, want);
	CHECK_CONTAINS(err, "netcfaxd --sample-config");
	CHECK(strstr(err, "did you mean") == NULL);
	/* a near miss is named */
	CHECK_INT(load(&c, "Pcp_prot = 1\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":1: unknown option 'Pcp_prot' (did you mean 'pcp_port'?)");

	/* what is allowed comes with what is wrong */
	CHECK_INT(load(&c, "preauth_timeout = soon\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":1: preauth_timeout: 'soon' is not a whole number; allowed: 1 to 600");
	CHECK_INT(load(&c, "\nmax_document_size = 100\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":2: max_document_size: 100 is out of range; allowed: 1K to 4G");
	CHECK_INT(load(&c, "relay = maybe\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "relay: 'maybe' is not yes or no");
	CHECK_INT(load(&c, "= 3\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":1: expected 'name = value', found no name before '='");

	/* Checks across options, and of what one value alone cannot show, name the line too. */
	snprintf(want, sizeof(want), "%s:3: scp_ports: '2000-1000' is not a range", path);
	CHECK_INT(load(&c, "# ports\nlisten = 127.0.0.1\nscp_ports = 2000-1000\n", err,
	    sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, want);
	CHECK_INT(load(&c, "direct_retry_max = 100\nlisten = ::1\ndirect_retry_min = 700\n", err,
	    sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":3: direct_retry_min: 700 is more than direct_retry_max (100, set on "
	    "line 1)");
	CHECK_INT(load(&c, "\n\nlisten = 127.0.0.1, 999.1.2.3\n", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":3: listen: '999.1.2.3' is not an address");
	/* a host name passes the pure check; netcfaxd resolves it before it starts */
	CHECK_INT(load(&c, "listen = localhost, fax.example.invalid\n", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), 0);
	CHECK_INT(load(&c, "listen = 10.0.0.1:7488\n", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":1: listen: '10.0.0.1:7488' is not an address");
	CHECK_INT(load(&c, "listen = 127.0.0.1\ntls_key = /etc/k.pem\n", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, ":2: tls_key: set without tls_cert");
	/* a default is named as one, a command-line value as such */
	CHECK_INT(load(&c, "listen = ::1\ndirect_retry_min = 700\n", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "(600, the default)");
	CHECK_INT(load(&c, "listen = ::1\n", err, sizeof(err)), 0);
	CHECK_INT(config_set(&c, "listen", "999.1.2.3", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "command line: listen: '999.1.2.3'");
	CHECK_INT(config_set(&c, "pcp_port", "0", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "command line: pcp_port: 0 is out of range; allowed: 1 to 65535");
	CHECK_INT(load(&c, "listen = 127.0.0.1\n", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&c, err, sizeof(err)), 0);

	snprintf(want, sizeof(want), "%s:2:", path);
	CHECK_INT(load(&c, "listen = ::1\npcp_port = 70000\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, want);
	CHECK_CONTAINS(err, "out of range");

	snprintf(want, sizeof(want), "%s:3: 'pcp_port' already set on line 1", path);
	CHECK_INT(load(&c, "pcp_port = 1\nlisten = ::1\npcp_port = 2\n", err, sizeof(err)), -1);
	CHECK_STR(err, want);

	CHECK_INT(load(&c, "tls_min_version = 1.1\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not one of 1.2|1.3");
	CHECK_INT(load(&c, "pcp_port 7488\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "expected 'name = value'");
	CHECK_INT(load(&c, "max_document_size = 12Q\n", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not a size");

	CHECK_INT(config_load(&c, "/nonexistent/netcfaxd.conf", 0, err, sizeof(err)), -1);
	CHECK_INT(config_load(&c, "/nonexistent/netcfaxd.conf", 1, err, sizeof(err)), 0);

	CHECK_INT(conf_parse_size("10K", &v), 0);
	CHECK_INT(v, 10240);
	CHECK_INT(conf_parse_size("1GB", &v), 0);
	CHECK_INT(v, 1LL << 30);
	CHECK_INT(conf_parse_size("-1", &v), -1);
	CHECK_INT(conf_parse_size("99999999999999999999G", &v), -1);

	unlink(path);
	return check_report("test_conf");
}

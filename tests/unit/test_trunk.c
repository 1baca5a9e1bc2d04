/* test_trunk.c: a SIP trunk's settings (trunk.c): a file as an operator writes one, the
 * defaults, each refusal with its file:line and words, the routes a trunk takes and the dial
 * plan's forms of a number. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "media.h"
#include "trunk.h"

static int
load(struct trunk_config *t, const char *text, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (f == NULL)
		return -2;
	rc = trunk_config_load_stream(t, f, "/etc/netcfax/trunk-uk.conf", err, errlen);
	fclose(f);
	return rc;
}

static void
test_file_and_defaults(void)
{
	struct trunk_config t;
	char err[300] = "";

	CHECK_INT(load(&t, "registrar = sip.example.net\nuser = 442079460000\n"
	    "password_file = /etc/netcfax/uk.secret\nroute = +44, 0044\ncodecs = PCMU, PCMA\n",
	    err, sizeof(err)), 0);
	CHECK_STR(t.name, "trunk-uk");
	CHECK_STR(t.transport, "udp");
	CHECK_INT(t.port, 5060);
	CHECK_INT(t.channels, 2);
	CHECK_INT(t.rtp_min, 16384);
	CHECK_INT(t.rtp_max, 16999);
	CHECK_STR(t.portmap, "off");
	CHECK_INT(t.ncodecs, 2);
	CHECK_INT(t.codec_list[0], MEDIA_PCMU);
	CHECK_INT(t.codec_list[1], MEDIA_PCMA);
	CHECK_INT(t.nroutes, 2);
	CHECK_STR(t.routes[0], "+44");
	CHECK_STR(t.routes[1], "0044");
}

static void
refused(const char *text, const char *want)
{
	struct trunk_config t;
	char err[300] = "";

	CHECK_INT(load(&t, text, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, want);
}

#define BASE "registrar = sip.example.net\nuser = u1\npassword_file = /x\n"

static void
test_refusals(void)
{
	refused("user = u1\npassword_file = /x\n", "registrar is required");
	refused("registrar = a\npassword_file = /x\n", "user is required");
	refused(BASE "rtp_ports = 70000-80000\n", "trunk-uk.conf:4: rtp_ports");
	refused(BASE "codecs = G729\n", "trunk-uk.conf:4: codecs");
	refused(BASE "codecs = PCMA, PCMA\n", "each once");
	refused(BASE "route = +44, abc\n", "'abc' is not a number prefix");
	refused(BASE "dial_prefix = 9x\n", "dial_prefix");
	refused(BASE "caller_id = alice\n", "caller_id");
	refused(BASE "jitter_buffer = 30\n", "multiple of 20");
	refused(BASE "transport = sctp\n", "transport");
	refused(BASE "channels = 0\n", "channels");
	refused(BASE "portmap = auto\nchannels = 4\nrtp_ports = 20000-20005\n",
	    "fewer even ports");
	/* with T.38 (the default accept) two ports a channel: 20000-20005 holds 3 for 2 */
	refused(BASE "portmap = auto\nchannels = 2\nrtp_ports = 20000-20005\n",
	    "two with t38 on");
	{
		struct trunk_config t;
		char err[300] = "";

		CHECK_INT(load(&t, BASE "portmap = auto\nchannels = 2\nt38 = off\n"
		    "rtp_ports = 20000-20005\n", err, sizeof(err)), 0);
	}
	refused(BASE "nonsense = 1\n", "nonsense");
	refused(BASE "transport = tls\ntls_cert = /c.pem\n", "tls_cert is set but tls_key is not");
	refused(BASE "transport = tls\ntls_key = /k.pem\n", "tls_key is set but tls_cert is not");
	refused(BASE "transport = tls\ntls_ca =\n", "trunk-uk.conf:5: tls_ca: empty");
	refused(BASE "tls_verify = maybe\n", "tls_verify");
}

/* TLS: verification on by default, against the system's CAs. */
static void
test_tls(void)
{
	struct trunk_config t;
	char err[300];

	CHECK_INT(load(&t, BASE "transport = tls\n", err, sizeof(err)), 0);
	CHECK_STR(t.transport, "tls");
	CHECK_STR(t.tls_verify, "yes");
	CHECK_STR(t.tls_ca, "/etc/ssl/certs/ca-certificates.crt");
	CHECK_STR(t.tls_cert, "");
	CHECK_INT(load(&t, BASE "transport = tls\ntls_cert = /c.pem\ntls_key = /k.pem\n"
	    "tls_verify = no\n", err, sizeof(err)), 0);
	CHECK_STR(t.tls_key, "/k.pem");
	CHECK_STR(t.tls_verify, "no");
}

static void
test_routes_and_dial_plan(void)
{
	struct trunk_config t;
	char err[300] = "", out[64];

	CHECK_INT(load(&t, BASE "route = +44, 0044\n", err, sizeof(err)), 0);
	CHECK_INT(trunk_routes(&t, "+44 20 7946 0001"), 1);
	CHECK_INT(trunk_routes(&t, "0044 20 7946 0001"), 1);
	CHECK_INT(trunk_routes(&t, "+1 212 555 0101"), 0);
	CHECK_INT(trunk_routes(&t, "not a number"), 0);
	/* an empty route takes every number */
	CHECK_INT(load(&t, BASE, err, sizeof(err)), 0);
	CHECK_INT(trunk_routes(&t, "+1 212 555 0101"), 1);

	CHECK_INT(trunk_dial_string(&t, "+44 20 7946-0001", out, sizeof(out), err,
	    sizeof(err)), 0);
	CHECK_STR(out, "+442079460001");                 /* international = plus */
	CHECK_INT(load(&t, BASE "international = 00\ndial_prefix = 9\n", err, sizeof(err)), 0);
	CHECK_INT(trunk_dial_string(&t, "+44 (20) 7946 0001", out, sizeof(out), err,
	    sizeof(err)), 0);
	CHECK_STR(out, "00442079460001");
	CHECK_INT(trunk_dial_string(&t, "020 7946 0001", out, sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "902079460001");                  /* the prefix on a national number */
	CHECK_INT(load(&t, BASE "international = 011\n", err, sizeof(err)), 0);
	CHECK_INT(trunk_dial_string(&t, "+44 20 7946 0001", out, sizeof(out), err,
	    sizeof(err)), 0);
	CHECK_STR(out, "011442079460001");
	CHECK_INT(load(&t, BASE "international = digits\n", err, sizeof(err)), 0);
	CHECK_INT(trunk_dial_string(&t, "+44 20 7946 0001", out, sizeof(out), err,
	    sizeof(err)), 0);
	CHECK_STR(out, "442079460001");
	CHECK_INT(trunk_dial_string(&t, "44+1", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not a phone number");
	CHECK_INT(trunk_dial_string(&t, "+", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_INT(trunk_dial_string(&t, "1234567890123456789012345678901234567890", out, 16, err,
	    sizeof(err)), -1);
}

int
main(void)
{
	test_file_and_defaults();
	test_refusals();
	test_tls();
	test_routes_and_dial_plan();
	return check_report("trunk");
}

/* trunk.c: one SIP trunk's settings: the option table (the whole truth about each setting, as
 * in config.c), the checks across options, and the trunk's routing and dial plan. */
#include "trunk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "media.h"

#define OFF(f) offsetof(struct trunk_config, f)
#define SZ(f)  sizeof(((struct trunk_config *)0)->f)
#define INT(n, d, lo, hi, h)  { #n, CONF_INT, d, lo, hi, NULL, OFF(n), 0, h }
#define STR(n, d, h)          { #n, CONF_STR, d, 0, 0, NULL, OFF(n), SZ(n), h }
#define CHOICE(n, d, c, h)    { #n, CONF_CHOICE, d, 0, 0, c, OFF(n), SZ(n), h }

static const struct conf_opt options[] = {
	STR(registrar, "",
	    "The provider's registrar and outbound proxy, host[:port] (required): every request "
	    "goes there, and INVITEs are taken only from its addresses (or from peers' instead)"),
	STR(user, "", "The account's user name: From/To of the REGISTER and the digest user "
	    "(required)"),
	STR(domain, "", "The account's domain; empty = the registrar's host"),
	STR(password_file, "",
	    "File whose first line is the account's password (required); it must be readable by "
	    "its owner only (chmod 600), and is read once at start"),
	CHOICE(transport, "udp", "udp|tcp|tls",
	    "Transport to the provider: tls encrypts the signalling (port 5061 when registrar "
	    "names none) and checks the provider's certificate; the media (RTP) stays plain, as "
	    "SRTP is not offered"),
	STR(tls_ca, "/etc/ssl/certs/ca-certificates.crt",
	    "With transport = tls: PEM file of the certificate authorities the provider's "
	    "certificate must be signed by (the system's store by default; the provider's own "
	    "CA when it uses one)"),
	CHOICE(tls_verify, "yes", "yes|no",
	    "With transport = tls: refuse a provider whose certificate is not signed by a CA in "
	    "tls_ca or is not made out to the registrar's host name (no = encrypt without "
	    "knowing who answers: for a test only)"),
	STR(tls_cert, "",
	    "With transport = tls, when the provider asks for a client certificate (mutual "
	    "TLS): PEM file of this server's certificate; empty = none"),
	STR(tls_key, "",
	    "The private key of tls_cert, a PEM file readable by its owner only (chmod 600)"),
	STR(listen, "0.0.0.0",
	    "Numeric address the trunk's SIP and RTP sockets are bound to"),
	INT(port, "5060", 1, 65535,
	    "Local SIP port of this trunk (each trunk needs its own)"),
	STR(peers, "",
	    "Addresses INVITEs are accepted from, comma-separated (names resolved at start), in "
	    "place of the registrar's (list the registrar too if calls come from it); empty = "
	    "the registrar's addresses. Any other source is refused (403): no stranger can make "
	    "the server answer calls"),
	STR(rtp_ports, "16384-16999",
	    "UDP port range for the media of calls (RTP); a call takes an even port of it"),
	INT(channels, "2", 1, 256,
	    "Calls this trunk carries at once, both directions together; an INVITE beyond it "
	    "is answered 486 Busy Here"),
	STR(route, "",
	    "Numbers this trunk carries, as prefixes of the dialled number written with '+' or "
	    "digits only, comma-separated (\"+44, 0044\"); empty = every number that is not "
	    "one of this server's own. The first trunk (in sip_trunks order) that routes a "
	    "number carries it"),
	STR(dial_prefix, "",
	    "Digits put before every number that is not written with '+' (an outside-line "
	    "prefix, for example)"),
	CHOICE(international, "plus", "plus|00|011|digits",
	    "How a number written with '+' is sent: +4420..., 004420..., 0114420..., or "
	    "4420... (E.164 digits)"),
	STR(caller_id, "",
	    "The number shown to the called party (user part of From); empty = the account's "
	    "user"),
	STR(codecs, "PCMA, PCMU",
	    "G.711 laws offered and taken, in order of preference: PCMA (A-law, Europe), PCMU "
	    "(mu-law, North America)"),
	INT(expires, "600", 60, 86400, "Seconds of registration asked for; refreshed before"),
	INT(keepalive, "25", 5, 600,
	    "Seconds between keepalives that hold the office router's NAT binding open"),
	INT(ring_timeout, "60", 10, 300,
	    "Seconds an outgoing call may ring before it is cancelled as no answer"),
	INT(jitter_buffer, "80", 20, 200,
	    "Milliseconds of fixed jitter buffer on received audio (a multiple of 20): more "
	    "rides out a rougher network, at the cost of delay"),
	CHOICE(portmap, "off", "off|auto|upnp|natpmp",
	    "Ask the office router to forward one RTP port per channel (two with t38 on, the "
	    "second for the UDPTL of a switch to T.38; UDP, the first ports of rtp_ports) and "
	    "the SIP port to this host by UPnP IGD or NAT-PMP, give the "
	    "router's external address and port in each call's SDP and register the mapped SIP "
	    "port as the contact; off = the router forwards rtp_ports by hand, or the provider "
	    "sends media to where ours comes from, and calls come in through the NAT binding "
	    "the keepalives hold"),
	CHOICE(t38, "accept", "off|accept|reinvite|offer",
	    "T.38 fax over UDPTL. accept (the default) = take the far end's re-INVITE to T.38 "
	    "during an audio call, and an incoming INVITE that offers T.38: carriers and "
	    "fax-over-IP providers switch a fax call this way, and accepting costs nothing when "
	    "they do not; reinvite = that, and send a re-INVITE to T.38 ourselves when the fax "
	    "tones are heard (the far end's CED or V.21 flags on a call we placed, the caller's "
	    "CNG or V.21 flags on one we answered): a 488 or 606 keeps the call on G.711, where "
	    "the fax completes; offer = that, and calls we place offer T.38 alone in their "
	    "INVITE (for a provider or peer that speaks T.38 natively), calling again in audio "
	    "at once when that offer is refused (488, 606, 415); off = every offer of T.38 is "
	    "refused and faxes go as G.711 audio"),
	INT(t38_redundancy, "3", 0, 8,
	    "With t38 on: earlier fax packets repeated in each UDPTL packet we send "
	    "(t38UDPRedundancy), so that as many lost in a row are restored at the far end"),
	CHOICE(t38_ec, "redundancy", "redundancy|fec",
	    "With t38 on: the error correction our T.38 offers ask for (T38FaxUdpEC). "
	    "redundancy (t38UDPRedundancy, what most carriers use) = each UDPTL packet repeats "
	    "the last t38_redundancy ones; fec (t38UDPFEC) = parity over spans of earlier packets "
	    "instead, fewer bytes for the same cover. An offer from the far end is answered with "
	    "the correction it asked for"),
	CONF_END_HINT("see netcfaxd --sample-trunk-config for every trunk option"),
};

/* The digits of a number, '+' kept in front: 0, or -1 when it is not a phone number. */
static int
canonical(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		if (*p == ' ' || *p == '-' || *p == '.' || *p == '(' || *p == ')')
			continue;
		if (!(isdigit((unsigned char)*p) || (*p == '+' && n == 0)))
			return -1;
		if (n + 1 >= cap)
			return -1;
		out[n++] = *p;
	}
	out[n] = '\0';
	return n == 0 || (n == 1 && out[0] == '+') ? -1 : 0;
}

static int
check(struct trunk_config *t, const int *lines, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

#define WHERE(opt) t->path, lines[conf_index(options, opt)]
	if (t->registrar[0] == '\0' || t->user[0] == '\0' || t->password_file[0] == '\0') {
		snprintf(err, errlen, "%s: %s is required (the provider gives registrar, user and "
		    "password)", t->path, t->registrar[0] == '\0' ? "registrar" : t->user[0] ==
		    '\0' ? "user" : "password_file");
		return -1;
	}
	if (sscanf(t->rtp_ports, "%lld-%lld", &t->rtp_min, &t->rtp_max) != 2 ||
	    t->rtp_min < 1024 || t->rtp_max > 65535 || t->rtp_max - t->rtp_min < 1) {
		snprintf(err, errlen, "%s:%d: rtp_ports: '%s' is not a range; allowed: LOW-HIGH "
		    "within 1024-65535 holding at least one even and odd pair, e.g. 16384-16999",
		    WHERE("rtp_ports"), t->rtp_ports);
		return -1;
	}
	/* with T.38 each channel's switch needs a second mapped port for its UDPTL */
	if (strcmp(t->portmap, "off") != 0 && (t->rtp_max - t->rtp_min + 1) / 2 < t->channels *
	    (strcmp(t->t38, "off") != 0 ? 2 : 1)) {
		snprintf(err, errlen, "%s:%d: rtp_ports: '%s' holds fewer even ports than portmap "
		    "maps for %lld channels (one each, two with t38 on)", WHERE("rtp_ports"),
		    t->rtp_ports, t->channels);
		return -1;
	}
	if (t->jitter_buffer % 20 != 0) {
		snprintf(err, errlen, "%s:%d: jitter_buffer: %lld is not a multiple of 20",
		    WHERE("jitter_buffer"), t->jitter_buffer);
		return -1;
	}
	t->ncodecs = 0;
	snprintf(buf, sizeof(buf), "%s", t->codecs);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		int c = strcasecmp(tok, "PCMA") == 0 ? MEDIA_PCMA : strcasecmp(tok, "PCMU") == 0 ?
		    MEDIA_PCMU : 0;

		if (c == 0 || t->ncodecs == 2 || (t->ncodecs == 1 && t->codec_list[0] == c)) {
			snprintf(err, errlen, "%s:%d: codecs: '%s'; allowed: PCMA and PCMU, each "
			    "once, in order of preference", WHERE("codecs"), t->codecs);
			return -1;
		}
		t->codec_list[t->ncodecs++] = c;
	}
	if (t->ncodecs == 0) {
		snprintf(err, errlen, "%s:%d: codecs: empty; allowed: PCMA, PCMU or both",
		    WHERE("codecs"));
		return -1;
	}
	t->nroutes = 0;
	save = NULL;
	snprintf(buf, sizeof(buf), "%s", t->route);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		if (t->nroutes == TRUNK_ROUTES_MAX ||
		    canonical(tok, t->routes[t->nroutes], sizeof(t->routes[0])) != 0) {
			snprintf(err, errlen, "%s:%d: route: '%s' is not a number prefix (digits, "
			    "'+' first), or more than %d of them", WHERE("route"), tok,
			    TRUNK_ROUTES_MAX);
			return -1;
		}
		t->nroutes++;
	}
	if (strspn(t->dial_prefix, "0123456789*#") != strlen(t->dial_prefix)) {
		snprintf(err, errlen, "%s:%d: dial_prefix: '%s'; allowed: digits, * and #",
		    WHERE("dial_prefix"), t->dial_prefix);
		return -1;
	}
	if (t->caller_id[0] && strspn(t->caller_id, "+0123456789") != strlen(t->caller_id)) {
		snprintf(err, errlen, "%s:%d: caller_id: '%s'; allowed: a number (digits, '+' "
		    "first)", WHERE("caller_id"), t->caller_id);
		return -1;
	}
	if ((t->tls_cert[0] == '\0') != (t->tls_key[0] == '\0')) {
		snprintf(err, errlen, "%s:%d: %s is set but %s is not: a client certificate "
		    "needs both", WHERE(t->tls_cert[0] ? "tls_cert" : "tls_key"), t->tls_cert[0] ?
		    "tls_cert" : "tls_key", t->tls_cert[0] ? "tls_key" : "tls_cert");
		return -1;
	}
	if (strcmp(t->transport, "tls") == 0 && t->tls_ca[0] == '\0') {
		snprintf(err, errlen, "%s:%d: tls_ca: empty; transport = tls needs the CAs that "
		    "sign the provider's certificate", WHERE("tls_ca"));
		return -1;
	}
#undef WHERE
	return 0;
}

static int
load(struct trunk_config *t, const char *path, FILE *f, char *err, size_t errlen)
{
	int lines[CONF_MAX_OPTS] = { 0 };

	memset(t, 0, sizeof(*t));
	if (conf_defaults(options, t, err, errlen) < 0)
		return -1;
	snprintf(t->path, sizeof(t->path), "%s", path);
	conf_file_stem(path, t->name, sizeof(t->name));
	if ((f ? conf_load_stream(options, t, f, path, lines, err, errlen) :
	    conf_load(options, t, path, 0, lines, err, errlen)) < 0)
		return -1;
	return check(t, lines, err, errlen);
}

int
trunk_config_load(struct trunk_config *t, const char *path, char *err, size_t errlen)
{
	return load(t, path, NULL, err, errlen);
}

int
trunk_config_load_stream(struct trunk_config *t, void *stream, const char *name, char *err,
                         size_t errlen)
{
	return load(t, name, stream, err, errlen);
}

int
trunk_routes(const struct trunk_config *t, const char *number)
{
	char d[64];

	if (canonical(number, d, sizeof(d)) != 0)
		return 0;
	if (t->nroutes == 0)
		return 1;
	for (int i = 0; i < t->nroutes; i++)
		if (strncmp(d, t->routes[i], strlen(t->routes[i])) == 0)
			return 1;
	return 0;
}

int
trunk_dial_string(const struct trunk_config *t, const char *number, char *out, size_t cap,
                  char *err, size_t errlen)
{
	char d[64];
	const char *intl = "";
	int n;

	if (canonical(number, d, sizeof(d)) != 0) {
		snprintf(err, errlen, "'%s' is not a phone number (digits, '+' first; spaces and "
		    "dashes are fine)", number);
		return -1;
	}
	if (d[0] == '+') {
		intl = strcmp(t->international, "plus") == 0 ? "+" :
		    strcmp(t->international, "00") == 0 ? "00" :
		    strcmp(t->international, "011") == 0 ? "011" : "";
		n = snprintf(out, cap, "%s%s", intl, d + 1);
	} else {
		n = snprintf(out, cap, "%s%s", t->dial_prefix, d);
	}
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "'%s' is too long to dial", number);
		return -1;
	}
	return 0;
}

const struct conf_opt *
trunk_options(void)
{
	return options;
}

void
trunk_print_sample(void)
{
	conf_print_sample(options, "A SIP trunk of netcfaxd: one file per trunk, listed in "
	    "netcfaxd.conf's sip_trunks");
}

"""siplab: the SIP side of the integration tests, shared by every test of a SIP line.

- Kamailio: Debian's kamailio as the provider, in one of two configurations written here:
  "registrar" (on loopback: a registrar with a few fixed behaviours and a proxy to a far end
  played by SIPp) or "carrier" (a SIP trunk provider: accounts, DIDs routed to the account that
  registered, NAT handling). Every request it takes is logged on one line (requests()); its
  location table is read with kamcmd (contacts(), bindings()).
- Sipp: Debian's SIPp playing one call from a scenario.
- Probe: tests/tools/sipua_probe driving server/sip/sipua from its command line; each event it
  prints is read as it comes (events(), wait_events()).
- CarrierLab: the carrier on a WAN of network namespaces between two offices, "us" and "uk",
  each a LAN behind an nftables NAT router with no port forward (ncfxtest.NetLab, nat_router).

Every process runs in a session of its own and is stopped at cleanup; every wait is bounded
(WAIT seconds, SIP_TEST_WAIT in the environment).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import ncfxtest as nt

PROBE = os.path.join(nt.BIN_DIR, "sipua_probe")
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
DOMAIN = "netcfax.test"
PASSWORD = "s3cret-Pw.42"
WAIT = float(os.environ.get("SIP_TEST_WAIT", "60"))


def check_tools():
    """Fails (not skips) unless the probe, kamailio, kamcmd and SIPp are there."""
    nt.check_binaries(PROBE)
    for tool in (KAMAILIO, KAMCMD, SIPP):
        if not os.access(tool, os.X_OK):
            raise AssertionError("%s not found: scripts/install-deps --test installs "
                                 "kamailio and sip-tester" % tool)


def check_tls_module():
    """Fails (not skips) unless kamailio's tls module is there."""
    if not os.path.exists(os.path.join(MODULES, "tls.so")):
        raise AssertionError("kamailio's tls module not found: scripts/install-deps --test "
                             "installs kamailio-tls-modules")


def free_udp_tcp_port():
    """A port free on 127.0.0.1 for both UDP and TCP a moment ago."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((nt.HOST, 0))
            port = t.getsockname()[1]
            u.bind((nt.HOST, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise AssertionError("no port free for both UDP and TCP")


def password_file(owner, password=PASSWORD, name="trunk.password"):
    """A 0600 file holding password, as the user agent demands; removed at cleanup."""
    path = os.path.join(nt.make_temp_dir(owner, prefix="ncfx-sippw-"), name)
    with open(path, "w") as f:
        f.write(password + "\n")
    os.chmod(path, 0o600)
    return path


# What both configurations share: the process, the modules, the control socket for kamcmd.
CFG_HEAD = r'''#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
listen=udp:%(host)s:%(port)d
listen=tcp:%(host)s:%(port)d
mpath="%(modules)s/"
loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:%(ctl)s")
'''

# A TLS listener besides (Debian's kamailio-tls-modules): the server certificate and key of
# %(tlscfg)s, a file of the tls module's (TLS_MODULE_CFG); clients must show a certificate
# signed by a CA of client_ca when one is given, else are not asked for one.
TLS_HEAD = r'''enable_tls=yes
listen=tls:%(host)s:%(tls_port)d
'''
TLS_LOAD = r'''loadmodule "tls.so"
modparam("tls", "config", "%(tlscfg)s")
'''

TLS_MODULE_CFG = """[server:default]
method = TLSv1.2+
verify_certificate = %(want)s
require_certificate = %(want)s
%(ca_list)scertificate = %(cert)s
private_key = %(key)s

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""

# The registrar on loopback: it challenges alice, dave and erin with 401 (WWW-Authenticate),
# bob with 407 (Proxy-Authenticate, as a provider's proxy does), forbids carol outright, and
# answers every OPTIONS (the user agent's keepalives) with 200. It proxies calls: a request
# URI of digits goes to the far end (SIPp on FAR port), an INVITE from the far end to the user
# registered under its user part, in-dialog requests to their request URI. The password is
# checked by pv_www_authenticate against a fixed string: no database needed.
REGISTRAR_CFG = CFG_HEAD + r'''
# short registrations are allowed, so a refresh happens within a test
modparam("registrar", "min_expires", 10)
request_route {
	xlog("L_NOTICE", "REQ $rm user=$fU src=$si:$sp proto=$pr callid=$ci cseq=$cs expires=$hdr(Expires) auth=$au via=$hdr(Via)\n");
	if ($rm == "OPTIONS") {
		sl_send_reply("200", "OK");
		exit;
	}
	if ($rm == "CANCEL" || $rm == "ACK") {
		if (t_check_trans())
			t_relay();
		else if ($rm == "ACK")
			t_relay();
		exit;
	}
	if ($rm == "INVITE" && $rU == "4420794699") {
		# a number that rings until cancelled: the proxy answers 487 to the CANCEL itself
		t_newtran();
		t_reply("180", "Ringing");
		exit;
	}
	if ($rm == "INVITE" || $rm == "BYE") {
		if ($rU =~ "^[0-9]+$") {
			$du = "sip:127.0.0.1:%(far)d";
		} else if ($rm == "INVITE" && $sp == %(far)d) {
			if (!lookup("location")) {
				sl_send_reply("404", "Not Found");
				exit;
			}
		}
		t_relay();
		exit;
	}
	if ($rm != "REGISTER") {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}
	if ($fU == "carol") {
		sl_send_reply("403", "Forbidden");
		exit;
	}
	if ($fU == "bob") {
		if (!pv_proxy_authenticate("$td", "%(password)s", "0") || $au != $fU) {
			proxy_challenge("$td", "0");
			exit;
		}
	} else if (!pv_www_authenticate("$td", "%(password)s", "0") || $au != $fU) {
		www_challenge("$td", "0");
		exit;
	}
	if (!save("location"))
		sl_reply_error();
	exit;
}
'''

# The carrier: a SIP trunk provider as an office meets one.
# - Accounts (user -> password, in the hash table "pw") REGISTER with digest auth (401); an
#   INVITE is challenged with 407, as a provider's proxy does: the caller is the account whose
#   credentials answer it (the From user must be that account), never a source address.
# - DIDs (E.164 digits, in the hash table "did") each belong to an account. An INVITE to a DID
#   goes to the contact its account registered: the request URI becomes that contact, the DID
#   stays in To. A number that is no DID gets 404; a DID whose account has no contact, 480.
# - NAT (nathelper): a REGISTER with a private address in its Contact is saved with the source
#   address as "received", so calls to the account go to the router's binding that the
#   REGISTER made; a public Contact is taken as it is (an office whose router forwards its SIP
#   port registers the router's address and that port, as sofia-sip registers the address
#   the carrier saw once it learns it: either way calls go there), except over TCP and TLS,
#   where calls always go over the connection the REGISTER came on (the office has no
#   certificate for a connection opened to it); other requests and replies from
#   behind NAT get the source as an alias in their Contact (add_contact_alias), which in-dialog
#   requests are sent to (handle_ruri_alias). rport is honoured in every reply (force_rport).
#   The office keeps its binding alive with OPTIONS (answered 200) or CRLF; the carrier does
#   not ping.
# - Early media (the hash table "early", set by Kamailio.set_early): an INVITE to a DID listed
#   there goes first to the SIP URI given (SIPp, playing the carrier's announcement server:
#   183 with SDP, then a failure), and only on its failure to the account, as a carrier plays
#   an announcement before it connects the call.
# - record_route: in-dialog requests (ACK, BYE) pass the carrier too.
# - The SDP is left alone: media goes end to end (no media relay yet).
# One line per request: method, From user, the DID (To user), the request URI, the source.
CARRIER_CFG = CFG_HEAD + r'''
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "sanity.so"
loadmodule "siputils.so"
loadmodule "htable.so"
loadmodule "nathelper.so"
loadmodule "textops.so"
modparam("registrar", "min_expires", 10)
modparam("usrloc", "nat_bflag", 6)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("htable", "htable", "pw=>size=4;")
modparam("htable", "htable", "did=>size=4;")
modparam("htable", "htable", "early=>size=4;")
modparam("rr", "append_fromtag", 1)

event_route[htable:mod-init] {
%(tables)s}

request_route {
	force_rport();
	xlog("L_NOTICE", "REQ $rm user=$fU did=$tU ruri=$ru src=$si:$sp proto=$pr callid=$ci cseq=$cs expires=$hdr(Expires) auth=$au via=$hdr(Via)\n");
	if ($rm == "OPTIONS" && !has_totag()) {
		# an office's keepalive (sofia-sip's has Max-Forwards 0: it is for the first hop)
		sl_send_reply("200", "OK");
		exit;
	}
	if (!mf_process_maxfwd_header("10")) {
		$var(code) = 483; $var(why) = "Too Many Hops";
		route(REFUSE);
	}
	if (!sanity_check("17895", "7")) {
		xlog("L_NOTICE", "DROP malformed src=$si:$sp\n");
		exit;
	}
	route(NATDETECT);
	if ($rm == "CANCEL") {
		if (t_check_trans())
			t_relay();
		exit;
	}
	if (has_totag()) {
		route(WITHINDLG);
		exit;
	}
	t_check_trans();
	if ($rm == "REGISTER") {
		route(REGISTRAR);
		exit;
	}
	if ($rm != "INVITE") {
		$var(code) = 405; $var(why) = "Method Not Allowed";
		route(REFUSE);
	}
	route(AUTH);
	remove_hf("Route");
	record_route();
	route(DID);
}

# A reply made here, logged first so a test sees what the carrier refused and why.
route[REFUSE] {
	xlog("L_NOTICE", "REFUSE $var(code) $rm user=$fU did=$tU callid=$ci src=$si:$sp\n");
	sl_send_reply("$var(code)", "$var(why)");
	exit;
}

route[NATDETECT] {
	# 1: a private address in Contact; 2: Via's address is not the source; 16: rport differs
	if (nat_uac_test("19")) {
		if ($rm == "REGISTER") {
			# over TCP or TLS the binding is the connection the REGISTER came on,
			# whatever the Contact says: a provider cannot open one to an office
			if (nat_uac_test("1") || $pr == "tcp" || $pr == "tls")
				fix_nated_register();
		}
		else if (is_first_hop())
			add_contact_alias();
		setflag(5);
	}
}

route[REGISTRAR] {
	if ($sht(pw=>$fU) == $null) {
		$var(code) = 403; $var(why) = "Forbidden";
		route(REFUSE);
	}
	if (!pv_www_authenticate("$td", "$sht(pw=>$fU)", "0") || $au != $fU) {
		www_challenge("$td", "0");
		exit;
	}
	if (isflagset(5))
		setbflag(6);
	if (!save("location"))
		sl_reply_error();
}

route[AUTH] {
	if ($sht(pw=>$fU) == $null) {
		$var(code) = 403; $var(why) = "Forbidden";
		route(REFUSE);
	}
	if (!pv_proxy_authenticate("$td", "$sht(pw=>$fU)", "0") || $au != $fU) {
		proxy_challenge("$td", "0");
		exit;
	}
	consume_credentials();
}

route[DID] {
	if ($sht(did=>$rU) == $null) {
		$var(code) = 404; $var(why) = "Not Found";
		route(REFUSE);
	}
	$var(account) = $sht(did=>$rU);
	$var(did) = $rU;
	if ($sht(early=>$var(did)) != $null) {
		xlog("L_NOTICE", "EARLY did=$var(did) callid=$ci to=$sht(early=>$var(did))\n");
		$ru = $sht(early=>$var(did));
		t_on_failure("AFTER_EARLY");
		if (!t_relay())
			sl_reply_error();
		exit;
	}
	$ru = "sip:" + $var(account) + "@%(domain)s";
	if (!lookup("location")) {
		$var(code) = 480; $var(why) = "Temporarily Unavailable";
		route(REFUSE);
	}
	xlog("L_NOTICE", "ROUTE did=$var(did) account=$var(account) callid=$ci ruri=$ru dst=$du\n");
	t_on_reply("NATREPLY");
	if (!t_relay())
		sl_reply_error();
}

route[WITHINDLG] {
	if (loose_route()) {
		handle_ruri_alias();
		if (is_method("INVITE|UPDATE"))
			t_on_reply("NATREPLY");
		t_relay();
		exit;
	}
	if ($rm == "ACK" && t_check_trans())
		t_relay();
	else if ($rm != "ACK") {
		$var(code) = 404; $var(why) = "Not Here";
		route(REFUSE);
	}
}

# The announcement is over: the call goes to the account's contact.
failure_route[AFTER_EARLY] {
	if (t_is_canceled())
		exit;
	$ru = "sip:" + $sht(did=>$tU) + "@%(domain)s";
	if (!lookup("location")) {
		t_reply("480", "Temporarily Unavailable");
		exit;
	}
	xlog("L_NOTICE", "ROUTE did=$tU account=$sht(did=>$tU) callid=$ci ruri=$ru dst=$du\n");
	t_on_reply("NATREPLY");
	t_relay();
}

onreply_route[NATREPLY] {
	if (nat_uac_test("17"))
		add_contact_alias();
}
'''


class Kamailio:
    """kamailio in the foreground (-DD) with its own config, control socket and log in a
    temporary directory; stopped by its process id at cleanup.

    mode "registrar": REGISTRAR_CFG on a free loopback port, with far_port where SIPp plays
    the far end. mode "carrier": CARRIER_CFG on host:port (default 5060), accounts (user ->
    password) and dids (number -> user); prefix runs it elsewhere (a lab namespace's
    `ip netns exec`; kamcmd reaches its control socket through the file system from here).
    tls, (certificate file, key file[, client CA file]): a TLS listener too, on tls_port
    (tls_registrar names it), which wants a client certificate from that CA when given.
    media (carrier mode): a mediagw.Rtpengine that anchors the media of every call
    (mediagw.carrier_cfg)."""

    def __init__(self, owner, mode="registrar", host=nt.HOST, port=None, prefix=(),
                 accounts=None, dids=None, tls=None, media=None):
        self.dir = nt.make_temp_dir(owner, prefix="ncfx-kam-")
        self.host = host
        self.port = port or (free_udp_tcp_port() if host == nt.HOST else 5060)
        self.ctl = os.path.join(self.dir, "ctl.sock")
        self.cfg = os.path.join(self.dir, "kamailio.cfg")
        self.log_path = os.path.join(self.dir, "kamailio.log")
        values = {"host": host, "port": self.port, "modules": MODULES, "ctl": self.ctl,
                  "domain": DOMAIN}
        if mode == "registrar":
            self.far_port = free_udp_tcp_port()     # where SIPp plays the far end
            values.update(password=PASSWORD, far=self.far_port)
            text = REGISTRAR_CFG % values
        elif mode == "carrier":
            self.accounts, self.dids = dict(accounts or {}), dict(dids or {})
            values["tables"] = carrier_tables(self.accounts, self.dids)
            text = CARRIER_CFG % values
            if media:
                import mediagw
                text = mediagw.carrier_cfg(text, media.sock)
        else:
            raise ValueError("mode: registrar or carrier")
        if tls:
            self.tls_port = free_udp_tcp_port()
            tlscfg = os.path.join(self.dir, "tls.cfg")
            with open(tlscfg, "w") as f:
                client_ca = tls[2] if len(tls) > 2 else None
                f.write(TLS_MODULE_CFG % {
                    "cert": tls[0], "key": tls[1], "want": "yes" if client_ca else "no",
                    "ca_list": "ca_list = %s\n" % client_ca if client_ca else ""})
            tv = dict(values, tls_port=self.tls_port, tlscfg=tlscfg)
            head, first = text.index("mpath="), text.index('loadmodule "kex.so"')
            # the listener among the others; the tls module loaded first of all
            text = (text[:head] + TLS_HEAD % tv + text[head:first] + TLS_LOAD % tv +
                    text[first:])
        with open(self.cfg, "w") as f:
            f.write(text)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            list(prefix) +
            [KAMAILIO, "-f", self.cfg, "-DD", "-E", "-m", "16", "-M", "4", "-Y", self.dir],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        nt._live_procs.append(self.proc)
        nt._register_cleanup(owner, self.stop)
        deadline = time.monotonic() + WAIT
        while not os.path.exists(self.ctl):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("kamailio did not start:\n" + self.text())
            time.sleep(0.1)
        self.registrar = "%s:%d" % (host, self.port)
        self.tls_registrar = "%s:%d" % (host, self.tls_port) if tls else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()

    def text(self, since=0):
        """The log from byte offset since (a mark())."""
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def mark(self):
        """Where the log ends now: lines(), requests() and wait_requests() take it as since,
        to see only what came after."""
        return os.path.getsize(self.log_path)

    def lines(self, word, since=0):
        """The fields of each logged line that begins with word (REQ, REFUSE, ROUTE), as
        dicts; a REQ's method is "method", its Via (which holds spaces, so it is logged last)
        "via", a REFUSE's status "status" and method "method"."""
        out = []
        for line in self.text(since).splitlines():
            m = re.search(r"\b%s (.*)$" % word, line)
            if not m:
                continue
            rest, via = m.group(1), ""
            if " via=" in rest:
                rest, via = rest.split(" via=", 1)
            fields = dict(re.findall(r"(\w+)=(\S+)", rest))
            words = rest.split(" ")
            if word == "REQ":
                fields["method"] = words[0]
            elif word == "REFUSE":
                fields["status"], fields["method"] = words[0], words[1]
            fields["via"] = via
            out.append(fields)
        return out

    def requests(self, method, user=None, since=0):
        """The logged requests of one method (from one user, or from any)."""
        return [r for r in self.lines("REQ", since)
                if r["method"] == method and (user is None or r.get("user") == user)]

    def wait_requests(self, method, user, n, since=0):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            got = self.requests(method, user, since)
            if len(got) >= n:
                return got
            time.sleep(0.2)
        raise AssertionError("kamailio saw fewer than %d %s from %s:\n%s" %
                             (n, method, user, self.text(since)[-4000:]))

    def set_early(self, did, uri):
        """Calls to did go to uri first (the carrier's announcement server), then, when that
        fails, to the account; uri None: straight to the account again."""
        # "s:": strings, which kamcmd would otherwise take a number of digits not to be
        args = (["htable.sets", "early", "s:" + did, "s:" + uri] if uri else
                ["htable.delete", "early", "s:" + did])
        rc, out, err = nt.run_cmd([KAMCMD, "-s", "unix:" + self.ctl] + args)
        if rc != 0 or not out.startswith("Ok."):
            raise AssertionError("kamcmd %s failed: %s%s" % (args[0], out, err))

    def bindings(self, user):
        """The location table's entries for user (kamcmd ul.dump), each a dict of its fields
        with lower-case names: address (the contact as registered), received (the source
        address a NATed REGISTER came from, "[not set]" when none), expires..."""
        rc, out, err = nt.run_cmd([KAMCMD, "-s", "unix:" + self.ctl, "ul.dump"])
        if rc != 0:
            raise AssertionError("kamcmd ul.dump failed: " + err)
        found, aor = [], None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("AoR:"):
                aor = line.split(":", 1)[1].strip()
            elif line.startswith("Address:") and aor == user:
                found.append({})
            if aor == user and found and ":" in line:
                key, value = line.split(":", 1)
                found[-1][key.strip().lower()] = value.strip()
        return found

    def contacts(self, user):
        """The contact addresses kamailio's location table holds for user."""
        return [b["address"] for b in self.bindings(user)]


def carrier_tables(accounts, dids):
    """The carrier's hash tables, filled when kamailio starts: account passwords and DIDs."""
    lines = []
    for user, pw in sorted(accounts.items()):
        if not re.match(r"^[a-z0-9-]+$", user) or '"' in pw or "\\" in pw:
            raise ValueError("account %r: lower-case letters, digits and '-', and a password "
                             "without quotes or backslashes" % user)
        lines.append('\t$sht(pw=>%s) = "%s";\n' % (user, pw))
    for did, user in sorted(dids.items()):
        if not re.match(r"^[0-9]{6,15}$", did) or user not in accounts:
            raise ValueError("DID %r: E.164 digits, of one of the accounts" % did)
        lines.append('\t$sht(did=>%s) = "%s";\n' % (did, user))
    return "".join(lines)


# SIPp's scenarios, shared by the SIP tests. A reply copies the request's headers
# ([last_...]); the To tag is SIPp's.
OFFER = """v=0\r
o=- 1 1 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio 41000 RTP/AVP 8 0\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:0 PCMU/8000\r
a=ptime:20\r
"""

# SIPp's far ends. A reply copies the request's headers ([last_...]); the To tag is SIPp's.
REPLY = """SIP/2.0 %s\r
[last_Via:]\r
[last_From:]\r
[last_To:];tag=[pid]SIPpTag01[call_number]\r
[last_Call-ID:]\r
%s\r
Contact: <sip:[local_ip]:[local_port];transport=[transport]>\r
Content-Length: 0\r
\r
"""
def uas_final(status):
    """A far end that answers every INVITE with status (e.g. "486 Busy Here") and takes the
    ACK."""
    return """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="final">
<recv request="INVITE"/>
<send><![CDATA[
%s]]></send>
<recv request="ACK"/>
</scenario>
""" % (REPLY % (status, "[last_CSeq:]"))


UAS_BUSY = uas_final("486 Busy Here")


def uas_early(addr, port, pt, name, millis=2000):
    """The carrier's announcement server: a 183 whose SDP gives addr:port and payload type pt
    (name: PCMA or PCMU), then after millis a failure (480), on which the carrier connects
    the call (Kamailio.set_early)."""
    return """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="early media">
<recv request="INVITE"/>
<send><![CDATA[
SIP/2.0 183 Session Progress\r
[last_Via:]\r
[last_From:]\r
[last_To:];tag=[pid]SIPpTag01[call_number]\r
[last_Call-ID:]\r
[last_CSeq:]\r
[last_Record-Route:]\r
Contact: <sip:[local_ip]:[local_port];transport=[transport]>\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
v=0\r
o=- 3 3 IN IP4 %(addr)s\r
s=-\r
c=IN IP4 %(addr)s\r
t=0 0\r
m=audio %(port)d RTP/AVP %(pt)d\r
a=rtpmap:%(pt)d %(name)s/8000\r
a=ptime:20\r
]]></send>
<pause milliseconds="%(millis)d"/>
<send><![CDATA[
SIP/2.0 480 Temporarily Unavailable\r
[last_Via:]\r
[last_From:]\r
[last_To:];tag=[pid]SIPpTag01[call_number]\r
[last_Call-ID:]\r
[last_CSeq:]\r
Content-Length: 0\r
\r
]]></send>
<recv request="ACK"/>
</scenario>
""" % {"addr": addr, "port": port, "pt": pt, "name": name, "millis": millis}
# answers with SDP, takes the ACK (and any repeat of it: our side ACKs every retransmitted
# 200, which a loaded machine provokes), then the BYE; no pause, so a late ACK cannot abort it.
# The ACK is optional: the carrier's worker processes may pass on a BYE sent right after the
# ACK before it.
UAS_ANSWER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer">
<recv request="INVITE"/>
<send><![CDATA[
%s]]></send>
<send retrans="500"><![CDATA[
SIP/2.0 200 OK\r
[last_Via:]\r
[last_From:]\r
[last_To:];tag=[pid]SIPpTag01[call_number]\r
[last_Call-ID:]\r
[last_CSeq:]\r
[last_Record-Route:]\r
Contact: <sip:[local_ip]:[local_port];transport=[transport]>\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
v=0\r
o=- 2 2 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio 41004 RTP/AVP 8\r
a=rtpmap:8 PCMA/8000\r
a=ptime:20\r
]]></send>
<label id="1"/>
<recv request="ACK" optional="true" next="1"/>
<recv request="BYE"/>
<send><![CDATA[
SIP/2.0 200 OK\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
[last_CSeq:]\r
Content-Length: 0\r
\r
]]></send>
</scenario>
""" % (REPLY % ("180 Ringing", "[last_CSeq:]\r\n[last_Record-Route:]"))
UAC_CALL = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call [service]">
<send retrans="500"><![CDATA[
INVITE sip:[service]@netcfax.test SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
From: <sip:4420794600@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\r
To: <sip:[service]@netcfax.test>\r
Call-ID: [call_id]\r
CSeq: 1 INVITE\r
Contact: <sip:4420794600@[local_ip]:[local_port]>\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%s]]></send>
<recv response="100" optional="true"/>
%s
</scenario>
"""
UAC_REFUSED = UAC_CALL % (OFFER, """<recv response="404"/>
<send><![CDATA[
ACK sip:[service]@netcfax.test SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>""")
UAC_ANSWERED = UAC_CALL % (OFFER, """<recv response="200" rrs="true"/>
<send><![CDATA[
ACK [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<pause milliseconds="500"/>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200"/>""")

T38_OFFER = """v=0\r
o=- 1 2 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=image 41002 udptl t38\r
a=T38FaxVersion:0\r
a=T38FaxUdpEC:t38UDPRedundancy\r
"""
# answered, then a re-INVITE to T.38 (refused with 488 for now), then BYE
UAC_REINVITE = UAC_CALL % (OFFER, """<recv response="200" rrs="true"/>
<send><![CDATA[
ACK [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<send retrans="500"><![CDATA[
INVITE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 INVITE\r
Contact: <sip:4420794600@[local_ip]:[local_port]>\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%s]]></send>
<recv response="100" optional="true"/>
<recv response="488"/>
<send><![CDATA[
ACK [next_url] SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 3 BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200"/>""" % T38_OFFER)

def uac_refused(status, offer=None):
    """A call expecting a refusal with status (a number), ACKed."""
    return UAC_CALL % (offer or OFFER, """<recv response="%d"/>
<send><![CDATA[
ACK sip:[service]@netcfax.test SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>""" % status)


# several of these at once against a limit of channels: each is answered (ACK, 4 s on the
# line, BYE) or refused busy (486, ACKed); either way the scenario ends well
UAC_ANSWERED_OR_BUSY = UAC_CALL % (OFFER, """<recv response="180" optional="true"/>
<recv response="486" optional="true" next="busy"/>
<recv response="200" rrs="true"/>
<send><![CDATA[
ACK [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<pause milliseconds="4000"/>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200" next="end"/>
<label id="busy"/>
<send><![CDATA[
ACK sip:[service]@netcfax.test SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<label id="end"/>""")


class Sipp:
    """SIPp playing one call on the far end's port (kam.far_port; with no kam, any port of
    host), bounded by its own -timeout."""

    def __init__(self, owner, kam, scenario=None, builtin=None, service=None, dest=None,
                 host=nt.HOST, calls=1, at_once=1):
        d = nt.make_temp_dir(owner, prefix="ncfx-sipp-")
        port = self.port = kam.far_port if kam else free_udp_tcp_port()
        args = [SIPP, "-i", host, "-p", str(port), "-m", str(calls), "-l", str(at_once),
                "-r", "20", "-nostdin",
                "-timeout", "60s", "-timeout_error", "-trace_err",
                "-error_file", os.path.join(d, "errors.log")]
        if scenario:
            path = os.path.join(d, "scenario.xml")
            with open(path, "w") as f:
                f.write(scenario)
            args += ["-sf", path]
        else:
            args += ["-sn", builtin]
        if service:
            args += ["-s", service]
        if dest:
            args.append(dest)
        self.dir = d
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, cwd=d, start_new_session=True)
        nt._live_procs.append(self.proc)
        owner.addCleanup(self.kill)
        # wait until SIPp holds its port
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.proc.poll() is None:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind((host, port))
            except OSError:
                break
            finally:
                u.close()
            time.sleep(0.1)

    def wait(self):
        """SIPp's exit status: 0 when its scenario ran to the end."""
        try:
            rc = self.proc.wait(timeout=WAIT + 30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("SIPp did not end")
        return rc

    def errors(self):
        path = os.path.join(self.dir, "errors.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stderr.close()


def parse_event(line):
    """One `event ...` line of sipua_probe as a dict."""
    m = re.match(r"event (\S+) status=(\d+) expires=(\d+) retry_in=(\d+) contact=(\S+) "
                 r"call=(\d+) from=(\S+) to=(\S+) sdp=(\d+) reason=(.*)$", line)
    assert m, "unparsable event line: " + line
    return {"kind": m.group(1), "status": int(m.group(2)), "expires": int(m.group(3)),
            "retry_in": int(m.group(4)), "contact": m.group(5), "call": int(m.group(6)),
            "from": m.group(7), "to": m.group(8), "sdp": int(m.group(9)),
            "reason": m.group(10)}


class Probe:
    """sipua_probe running in the background (prefix: where, e.g. a lab namespace); its event
    lines read as they come."""

    def __init__(self, owner, args, prefix=()):
        self.lines = []
        self.err = None
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(list(prefix) + [PROBE] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        nt._live_procs.append(self.proc)
        owner.addCleanup(self.kill)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def events(self, kind=None):
        with self.cond:
            evs = [parse_event(line) for line in self.lines if line.startswith("event ")]
        return [e for e in evs if kind is None or e["kind"] == kind]

    def wait_events(self, kind, n):
        deadline = time.monotonic() + WAIT
        with self.cond:
            while time.monotonic() < deadline:
                if len([1 for line in self.lines if line.startswith("event %s " % kind)]) >= n:
                    return self.events(kind)
                if self.proc.poll() is not None and not self.reader.is_alive():
                    break
                self.cond.wait(0.5)
        raise AssertionError("fewer than %d '%s' events:\n%s\n%s" %
                             (n, kind, "\n".join(self.lines), self.stderr_text()[-3000:]))

    def stop(self):
        """SIGTERM: the probe frees the user agent (un-REGISTER first) and exits 0."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=WAIT)
        self.reader.join(timeout=10)
        self.stderr_text()      # a sanitizer report fails the test
        return rc

    def stderr_text(self):
        if self.proc.poll() is None:
            return ""
        if self.err is None:
            self.err = self.proc.stderr.read()
            nt.check_sanitizer_report(PROBE, self.err)
        return self.err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


# --- the carrier lab (root only) ---

# The carrier's WAN address, and each office: its router's WAN address, the LAN, the router's
# LAN address and the office host's.
CARRIER_ADDR = "11.22.33.50"
OFFICES = {
    "us": {"wan": nt.US_WAN, "lan": nt.US_LAN, "gw": nt.US_GW, "host": "192.168.10.2"},
    "uk": {"wan": nt.UK_WAN, "lan": nt.UK_LAN, "gw": nt.UK_GW, "host": "192.168.20.2"},
}


class CarrierLab:
    """       us-host 192.168.10.2 -- us-rtr 192.168.10.1 | 11.22.33.10 --+
                                                                      carrier 11.22.33.50
           uk-host 192.168.20.2 -- uk-rtr 192.168.20.1 | 11.22.33.20 --+   (kamailio :5060)

    The WAN is a bridge in the carrier's namespace, where kamailio runs as a SIP trunk
    provider (Kamailio mode "carrier", with the accounts and DIDs given). Each office router
    is an ncfxtest.nat_router (nftables masquerade, a forward policy that lets in only what the
    LAN opened, miniupnpd with UPnP and NAT-PMP, so a program with portmap on may map ports)
    with no port forward; its masquerade of UDP picks a random source port (`masquerade
    random`, as a carrier-grade or busy NAT does), so an address the carrier learnt from the
    network is never the office's own port by chance. Nothing is made in the root namespace;
    the namespaces (and the processes in them) go at cleanup.

    media "rtpengine": Debian's rtpengine in the carrier's namespace (mediagw.Rtpengine, as
    self.rtpe) anchors the media of every call at the carrier's address, the T.38 <-> G.711
    translation set per office by mediagw.translate_t38; None: media end to end."""

    def __init__(self, owner, accounts, dids, media=None):
        lab = self.lab = nt.NetLab(owner, ["carrier", "us-rtr", "us-host", "uk-rtr",
                                           "uk-host"])
        lab.run("carrier", "ip", "link", "add", "wan0", "type", "bridge")
        lab.run("carrier", "ip", "link", "set", "wan0", "up")
        lab.addr("carrier", "wan0", CARRIER_ADDR + "/24")
        self.upnpd = {}     # each office router's Miniupnpd
        for office, o in OFFICES.items():
            rtr, host = self.router(office), office + "-host"
            lab.link(rtr, "wan0", "carrier", "to-" + office)
            lab.run("carrier", "ip", "link", "set", "to-" + office, "master", "wan0")
            lab.addr(rtr, "wan0", o["wan"] + "/24")
            lab.link(host, "eth0", rtr, "lan0")
            lab.addr(host, "eth0", o["host"] + "/24")
            lab.addr(rtr, "lan0", o["gw"] + "/24")
            lab.route(host, "default", o["gw"])
            self.upnpd[office] = nt.nat_router(lab, owner, rtr, "lan0", o["lan"], "wan0")
            # UDP masqueraded to a random port, ahead of the plain masquerade
            handle = re.search(r'oifname "wan0" masquerade # handle (\d+)',
                               lab.run(rtr, "nft", "-a", "list", "chain", "inet", "nat",
                                       "postrouting")).group(1)
            lab.run(rtr, "nft", "insert", "rule", "inet", "nat", "postrouting", "position",
                    handle, "oifname", "wan0", "meta", "l4proto", "udp", "masquerade",
                    "random")
        self.rtpe = None
        if media == "rtpengine":
            import mediagw
            mediagw.check_tools()
            self.rtpe = mediagw.Rtpengine(owner, addr=CARRIER_ADDR, prefix=lab.prefix("carrier"))
        elif media is not None:
            raise ValueError("media: None or \"rtpengine\"")
        self.kam = Kamailio(owner, mode="carrier", host=CARRIER_ADDR, port=5060,
                            prefix=lab.prefix("carrier"), accounts=accounts, dids=dids,
                            media=self.rtpe)
        self.registrar = self.kam.registrar

    @staticmethod
    def router(office):
        return office + "-rtr"

    def prefix(self, office):
        """The command prefix that runs a program on the office's host."""
        return self.lab.prefix(office + "-host")

    def run_in(self, office, *argv):
        """Runs argv on the office's host; its stdout (a failure raises)."""
        return self.lab.run(office + "-host", *argv)

    def host_addr(self, office):
        return OFFICES[office]["host"]

    def public_addr(self, office):
        """The office router's WAN address: the office as the carrier sees it."""
        return OFFICES[office]["wan"]

    def probe(self, owner, office, user, password_file, *extra):
        """sipua_probe on the office's host, registering as user with the carrier."""
        return Probe(owner, ["--registrar", self.registrar, "--user", user, "--domain", DOMAIN,
                             "--password-file", password_file, "--bind",
                             self.host_addr(office)] + list(extra),
                     prefix=self.prefix(office))

    def nat_binding(self, office, port, proto="udp"):
        """The router's translation of the office host's port to the carrier's SIP port:
        (public port, seconds left) from its connection tracking, or None when it has none."""
        out = self.lab.run(self.router(office), "conntrack", "-L", "-p", proto,
                           "--orig-src", self.host_addr(office), "--orig-dst", CARRIER_ADDR)
        for line in out.splitlines():
            m = re.search(r"^\S+\s+\d+\s+(\d+) .*sport=%d dport=%d .*src=%s dst=%s sport=%d "
                          r"dport=(\d+)" % (port, self.kam.port, CARRIER_ADDR,
                                            self.public_addr(office), self.kam.port), line)
            if m:
                return int(m.group(2)), int(m.group(1))
        return None

    def set_udp_timeout(self, owner, office, seconds):
        """The office router forgets an idle UDP binding after seconds, until owner's cleanup
        puts its timeouts back. The router's namespace has connection tracking timeouts of its
        own: the machine's are not touched."""
        rtr = self.router(office)
        keys = ("net.netfilter.nf_conntrack_udp_timeout",
                "net.netfilter.nf_conntrack_udp_timeout_stream")
        before = ["%s=%s" % (k, self.lab.run(rtr, "sysctl", "-n", k).strip()) for k in keys]
        owner.addCleanup(self.lab.run, rtr, "sysctl", "-qw", *before)
        self.lab.run(rtr, "sysctl", "-qw", *["%s=%d" % (k, seconds) for k in keys])


# ---- T.38: re-INVITEs from a far end that answered in audio ----

def _ack_2xx(cseq):
    return """<send><![CDATA[
ACK [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: %d ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
""" % cseq


def uac_reinvites(steps, pause_ms=1500, offer=None):
    """A call answered in audio (offer, else OFFER), then one re-INVITE per step, each
    (sdp, status, body regex or None): the answer must have that status and, when a regex is
    given, a body it matches (SIPp fails the scenario otherwise); then BYE. pause_ms before
    each re-INVITE lets the answering side's fax engine start."""
    body = _ack_2xx(1)
    cseq = 2
    for sdp, status, regex in steps:
        check = ""
        if regex:
            check = ("<action><ereg regexp=\"%s\" search_in=\"body\" check_it=\"true\" "
                     "assign_to=\"m%d\"/><log message=\"[$m%d]\"/></action>" %
                     (regex, cseq, cseq))
        body += """<pause milliseconds="%d"/>
<send retrans="500"><![CDATA[
INVITE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: %d INVITE\r
Contact: <sip:4420794600@[local_ip]:[local_port]>\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%s]]></send>
<recv response="100" optional="true"/>
<recv response="%d">%s</recv>
""" % (pause_ms, cseq, sdp, status, check)
        if 200 <= status < 300:
            body += _ack_2xx(cseq)
        else:
            body += """<send><![CDATA[
ACK [next_url] SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: %d ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
""" % cseq
        cseq += 1
    body += """<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: %d BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200"/>""" % cseq
    return UAC_CALL % (offer or OFFER, """<recv response="200" rrs="true"/>
""" + body)


def _alaw(sample):
    """One 16-bit linear sample as G.711 A-law (ITU-T G.711's segments)."""
    sign = 0x80 if sample >= 0 else 0
    mag = min(abs(sample) >> 3, 0xFFF)
    if mag < 32:
        code = mag >> 1
    else:
        seg = mag.bit_length() - 5
        code = (seg << 4) | ((mag >> seg) & 0x0F)
    return (code | sign) ^ 0x55


def cng_pcap(path, seconds=10):
    """A capture SIPp can play (play_pcap_audio): RTP, PCMA, 20 ms a packet, carrying a fax
    caller's CNG (1100 Hz, 0.5 s on, 3 s off, at about -10 dBm0) for seconds."""
    import math
    import struct
    frames = []
    for n in range(seconds * 50):
        payload = bytearray()
        for i in range(160):
            t = n * 160 + i
            on = (t % 28000) < 4000
            s = int(10000 * math.sin(2 * math.pi * 1100 * t / 8000)) if on else 0
            payload.append(_alaw(s))
        frames.append(bytes(payload))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n, payload in enumerate(frames):
        rtp = struct.pack("!BBHII", 0x80, 8, n & 0xFFFF, n * 160, 0x4E43) + payload
        udp = struct.pack("!HHHH", 6000, 41000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        eth = b"\x00" * 12 + b"\x08\x00" + ip
        usec = n * 20000
        out.append(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(eth), len(eth)))
        out.append(eth)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def uac_tones_then_answer_reinvites(pcap, statuses, t38_answer=None, via=None, dest=None):
    """A fax caller that sends CNG (pcap, from cng_pcap) once answered, then waits for the
    answering side's re-INVITEs and answers them in turn with statuses (e.g. [491, 488]:
    the second must come, after the RFC 3261 wait); 200 answers with t38_answer. Then BYE.
    via: a carrier proxy's host:port put in the INVITE's Record-Route, as if it had passed
    the call on: the answering side's requests in the dialog go through it, and SIPp
    answers them there (setdest), then sends its BYE to dest (host:port, where the INVITE
    went) again."""
    def setdest(hostport):
        host, port = hostport.rsplit(":", 1)
        return ("<nop><action><setdest host=\"%s\" port=\"%s\" protocol=\"udp\"/>"
                "</action></nop>\n" % (host, port))
    body = _ack_2xx(1) + """<nop><action><exec play_pcap_audio="%s"/></action></nop>
""" % pcap
    for status in statuses:
        if 200 <= status < 300:
            reply = """SIP/2.0 %d OK\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
[last_CSeq:]\r
Contact: <sip:4420794600@[local_ip]:[local_port]>\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%s""" % (status, t38_answer)
        else:
            reply = """SIP/2.0 %d Refused\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
[last_CSeq:]\r
Content-Length: 0\r
\r
""" % status
        body += """<recv request="INVITE"/>
%s<send><![CDATA[
%s]]></send>
<recv request="ACK"/>
""" % (setdest(via) if via else "", reply)
    if via:
        body += setdest(dest)
    body += """<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
From: <sip:4420794600@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\r
To: [$peer_to]\r
[last_Call-ID:]\r
CSeq: 2 BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200"/>"""
    call = UAC_CALL
    if via:
        call = call.replace("Max-Forwards: 70\r\nContent-Type",
                            "Record-Route: <sip:%s;lr>\r\nMax-Forwards: 70\r\nContent-Type"
                            % via, 1)
        assert "Record-Route" in call
    return call % (OFFER, """<recv response="200" rrs="true"><action><ereg regexp=".*" \
search_in="hdr" header="To:" check_it="true" assign_to="peer_to"/></action></recv>
""" + body)


def uac_tones_then_glare(pcap, t38_answer, via, dest):
    """A fax caller (as uac_tones_then_answer_reinvites, through the carrier via) whose own
    re-INVITE to T.38 crosses the answering side's: on that side's re-INVITE it sends its own
    (to dest), which that side refuses 491 as its own is pending, and only then answers
    theirs 491 too (RFC 3261 14.2). By 14.1 the answering side, which does not own the
    Call-ID, waits at most 2 s and sends its re-INVITE again, while this caller would wait
    2.1 to 4 s: it sends nothing more and answers that one 200 (t38_answer). BYE 4.5 s later,
    so that any further re-INVITE reaches it first and fails the scenario (an unexpected
    message)."""
    def setdest(hostport):
        host, port = hostport.rsplit(":", 1)
        return ("<nop><action><setdest host=\"%s\" port=\"%s\" protocol=\"udp\"/>"
                "</action></nop>\n" % (host, port))

    def keep(header, var, occurrence=1):
        return ("<ereg regexp=\".*\" search_in=\"hdr\" header=\"%s:\" occurrence=\"%d\" "
                "check_it=\"true\" assign_to=\"%s\"/>" % (header, occurrence, var))
    ours = "From: <sip:4420794600@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\r"
    body = _ack_2xx(1) + """<nop><action><exec play_pcap_audio="%(pcap)s"/></action></nop>
<recv request="INVITE"><action>%(keep)s</action></recv>
%(to_dest)s<send><![CDATA[
INVITE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
%(ours)s
To: [$peer_to]\r
[last_Call-ID:]\r
CSeq: 2 INVITE\r
Contact: <sip:4420794600@[local_ip]:[local_port]>\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%(offer)s]]></send>
<recv response="100" optional="true"/>
<recv response="491"/>
<send><![CDATA[
ACK [next_url] SIP/2.0\r
[last_Via:]\r
%(ours)s
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
%(to_via)s<send><![CDATA[
SIP/2.0 491 Request Pending\r
Via: [$g_via]\r
Via: [$g_via2]\r
From: [$g_from]\r
To: [$g_to]\r
Call-ID: [$g_callid]\r
CSeq: [$g_cseq]\r
Content-Length: 0\r
\r
]]></send>
<recv request="ACK"/>
<recv request="INVITE"/>
<send><![CDATA[
SIP/2.0 200 OK\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
[last_CSeq:]\r
Contact: <sip:4420794600@[local_ip]:[local_port]>\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%(answer)s]]></send>
<recv request="ACK"/>
<pause milliseconds="4500"/>
%(to_dest)s<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
%(ours)s
To: [$peer_to]\r
[last_Call-ID:]\r
CSeq: 3 BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200"/>""" % {"pcap": pcap, "to_dest": setdest(dest), "to_via": setdest(via),
                             "ours": ours, "offer": T38_OFFER, "answer": t38_answer,
                             "keep": keep("Via", "g_via") + keep("Via", "g_via2", 2) +
                             keep("From", "g_from") +
                             keep("To", "g_to") + keep("Call-ID", "g_callid") +
                             keep("CSeq", "g_cseq")}
    call = UAC_CALL.replace("Max-Forwards: 70\r\nContent-Type",
                            "Record-Route: <sip:%s;lr>\r\nMax-Forwards: 70\r\nContent-Type"
                            % via, 1)
    return call % (OFFER, """<recv response="200" rrs="true"><action><ereg regexp=".*" \
search_in="hdr" header="To:" check_it="true" assign_to="peer_to"/></action></recv>
""" + body)

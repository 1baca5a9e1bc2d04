"""mediagw: the carrier's media gateway in the SIP lab, Debian's rtpengine beside kamailio.

- Rtpengine: rtpengine 10.5 in userspace only (--table=-1: no kernel module), in the carrier's
  namespace (or on loopback), its ng control socket (UDP) and CLI on the carrier's loopback,
  its media ports in a range of its own, its log in a file the test reads (sessions(),
  final_stats(), sdp_sent()); stopped by its process id at cleanup.
- carrier_cfg(): the carrier's kamailio configuration (siplab.CARRIER_CFG) with kamailio's
  rtpengine module loaded and the media of every call anchored at the carrier: every INVITE's
  offer and every answer (200, 18x with SDP) rewritten by rtpengine_manage, every BYE, CANCEL
  and failed INVITE deleting the session. Both offices then send their RTP (or UDPTL) to the
  carrier's address, as they do to a real carrier's SBC. Used by siplab.CarrierLab(...,
  media="rtpengine").
- T.38 <-> G.711 translation, per office: an offer (an INVITE or a re-INVITE) arriving from an
  office takes the ng flags set for that office's public address (the hash table "media",
  set at run time by set_translation() through kamcmd), e.g. for the office on T.38
  "T.38-decode" (its image offers reach the other office as audio) and for the office on
  G.711 "T.38-force" (its audio offers reach the T.38 office as image). translate_t38() sets
  both in one call:

      lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS, media="rtpengine")
      mediagw.translate_t38(lab, t38="us", audio="uk")   # US on T.38, UK on G.711 only

  (test_sip_media_gateway.gateway_offices() builds the lab, both offices' netcfaxd with trunk
  keys of their own and the translation in one call.)

  What the flags do in rtpengine 10.5 (daemon/call_interfaces.c, ng_t38_option; decode,
  force, FEC, no-ECM and no-V.17 checked in tests/integration/test_sip_media_gateway.py): on
  an offer (an answer ignores them), the ng dictionary key "T.38" takes a list of options;
  kamailio's rtpengine module turns each flag "T.38-<option>" it is given into an entry of
  that list. Options: decode (an m=image udptl t38 offer goes on as m=audio RTP/AVP with PCMU
  and PCMA, rtpengine's spandsp gateway between), force (an m=audio offer goes on as m=image
  udptl t38 only, the first audio codec offered carrying T.30 on the audio side; the T.38 it
  offers: T38FaxVersion 0, 14400 bit/s, transferredTCF, T38FaxMaxBuffer 1800,
  T38FaxMaxDatagram 512, redundancy), stop (back to pass-through, after a refused T.38
  re-INVITE), no-ECM, no-V.17, no-V.27ter, no-V.29, no-V.34, no-IAF (what the gateway's T.30
  offers), FEC (t38UDPFEC rather than redundancy, with force). With no flags, T.38 passes
  end to end, rtpengine relaying the UDPTL.

Run as `python3 mediagw.py ng HOST PORT JSON` (in the carrier's namespace), it sends one ng
command and prints the reply as JSON: how the test asks rtpengine for a call's state.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

RTPENGINE = shutil.which("rtpengine") or "/usr/bin/rtpengine"
RTPENGINE_CTL = shutil.which("rtpengine-ctl") or "/usr/bin/rtpengine-ctl"
WAIT = float(os.environ.get("SIP_TEST_WAIT", "60"))
NG_PORT, CLI_PORT = 2223, 2224          # on the carrier's loopback, in its own namespace
MEDIA_PORTS = (30000, 30199)


def check_tools():
    """Fails (not skips) unless rtpengine and rtpengine-ctl are there."""
    for tool in (RTPENGINE, RTPENGINE_CTL):
        if not os.access(tool, os.X_OK):
            raise AssertionError("%s not found: scripts/install-deps --test installs "
                                 "rtpengine-daemon" % tool)


class Rtpengine:
    """rtpengine in the foreground, userspace forwarding only, media on addr (the carrier's
    WAN address, or 127.0.0.1), ng and CLI on 127.0.0.1 of the namespace prefix runs it in
    (ng_port, cli_port; with no prefix, free loopback ports), media ports in ports; its log
    (stderr, log level 6, control messages at 7 so each offer and answer is dumped with its
    SDP) in a temporary directory. No configuration file is read (--config-file=none), so the
    machine's /etc/rtpengine is not used."""

    def __init__(self, owner, addr=nt.HOST, prefix=(), ports=MEDIA_PORTS, ng_port=None,
                 cli_port=None):
        self.dir = nt.make_temp_dir(owner, prefix="ncfx-rtpe-")
        self.addr, self.prefix, self.ports = addr, list(prefix), ports
        self.ng_port = ng_port or (NG_PORT if prefix else nt.free_port())
        self.cli_port = cli_port or (CLI_PORT if prefix else nt.free_port())
        self.log_path = os.path.join(self.dir, "rtpengine.log")
        self.log = open(self.log_path, "w")
        args = [RTPENGINE, "--config-file=none", "--table=-1", "--foreground", "--log-stderr",
                "--no-log-timestamps", "--log-level=6", "--log-level-control=7",
                "--interface=" + addr, "--listen-ng=127.0.0.1:%d" % self.ng_port,
                "--listen-cli=127.0.0.1:%d" % self.cli_port,
                "--port-min=%d" % ports[0], "--port-max=%d" % ports[1],
                "--num-threads=2", "--delete-delay=0", "--pidfile=" + os.path.join(
                    self.dir, "rtpengine.pid")]
        self.proc = subprocess.Popen(self.prefix + args, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        nt._live_procs.append(self.proc)
        nt._register_cleanup(owner, self.stop)
        deadline = time.monotonic() + WAIT
        while "Startup complete" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("rtpengine did not start:\n" + self.text()[-3000:])
            time.sleep(0.1)
        self.sock = "udp:127.0.0.1:%d" % self.ng_port    # kamailio's rtpengine_sock

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
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def mark(self):
        return os.path.getsize(self.log_path)

    def ctl(self, *command):
        """rtpengine-ctl's output for command (e.g. "list", "totals")."""
        rc, out, err = nt.run_cmd(self.prefix + [RTPENGINE_CTL, "-ip", "127.0.0.1", "-port",
                                                 str(self.cli_port)] + list(command))
        if rc != 0:
            raise AssertionError("rtpengine-ctl %s: %s%s" % (" ".join(command), out, err))
        return out

    def ng(self, command, **args):
        """One ng command (e.g. "ping", "query" with call_id=...), its reply as a dict."""
        args["command"] = command
        rc, out, err = nt.run_cmd(self.prefix + [sys.executable, os.path.abspath(__file__),
                                                 "ng", "127.0.0.1", str(self.ng_port),
                                                 json.dumps(args)])
        if rc != 0:
            raise AssertionError("ng %s: %s" % (command, err))
        return json.loads(out)

    def final_stats(self, since=0):
        """Each stream of each call rtpengine ended since the mark, from its "Final packet
        stats" lines: dicts of call (Call-ID), local, remote (addr:port) and packets, bytes."""
        out, call = [], None
        for line in self.text(since).splitlines():
            m = re.match(r"^\S+: \[([^\]/ ]+)", line)
            if m:
                call = m.group(1)
            m = re.search(r"--------- Port\s+(\S+)\s+<>\s+(\S+?)\s*(?:\(RTCP\))?, SSRC \S+, "
                          r"(\d+) p, (\d+) b, (\d+) e", line)
            if m:
                out.append({"call": call, "local": m.group(1), "remote": m.group(2),
                            "packets": int(m.group(3)), "bytes": int(m.group(4))})
        return out

    def sdp_sent(self, command, since=0):
        """The SDP bodies rtpengine handed back for command ("offer": what the called side
        was sent; "answer": what the caller was sent), in order."""
        out = []
        for m in re.finditer(r"Response dump for '%s'.*?\"sdp\": \"(.*?)\"" % command,
                             self.text(since), re.S):
            out.append(m.group(1).replace("\\r\\n", "\n").replace("\r\n", "\n"))
        return out

    def received_flags(self, since=0):
        """The ng dictionaries kamailio sent with each offer (their dumps), as text."""
        return re.findall(r"Dump for 'offer' from [^:]+:\d+: (.*?)(?=\n\S+: \[|\Z)",
                          self.text(since), re.S)


# The carrier's kamailio configuration with the media anchored at rtpengine: inserted at
# fixed places of siplab.CARRIER_CFG, each of which must be found (carrier_cfg() fails loudly
# if CARRIER_CFG changed under it).
MEDIA_LOAD = r'''loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "%(sock)s")
modparam("htable", "htable", "media=>size=4;")
'''
# An offer from an office takes that office's flags ($sht(media=>SOURCE ADDRESS)): the T.38
# translation. SIP-source-address is not set: the offices' SDP already gives their routers'
# mapped addresses, and rtpengine learns the source of the first packet anyway.
MEDIA_ROUTES = r'''
route[MEDIA] {
	$var(mflags) = "replace-origin replace-session-connection";
	if (is_method("INVITE") && has_body("application/sdp") && $sht(media=>$si) != $null)
		$var(mflags) = $var(mflags) + " " + $sht(media=>$si);
	if (is_method("INVITE|BYE|CANCEL"))
		xlog("L_NOTICE", "MEDIA $rm callid=$ci src=$si flags=$var(mflags)\n");
	rtpengine_manage("$var(mflags)");
}

onreply_route[MEDIAREPLY] {
	if (nat_uac_test("17"))
		add_contact_alias();
	rtpengine_manage("replace-origin replace-session-connection");
}
'''


def carrier_cfg(text, sock):
    """CARRIER_CFG's text with the media anchored at the rtpengine whose ng socket is sock."""
    edits = [
        # the module and the table of per-office flags, with the other modules
        ('loadmodule "nathelper.so"\n', 'loadmodule "nathelper.so"\n' + MEDIA_LOAD % {
            "sock": sock}),
        # a CANCEL ends the session
        ('if ($rm == "CANCEL") {\n', 'if ($rm == "CANCEL") {\n\t\troute(MEDIA);\n'),
        # in-dialog requests: a re-INVITE's offer, a BYE
        ('if (loose_route()) {\n\t\thandle_ruri_alias();\n',
         'if (loose_route()) {\n\t\thandle_ruri_alias();\n\t\troute(MEDIA);\n'),
        # replies: answers anchored, failures end the session
        ('t_on_reply("NATREPLY");', 't_on_reply("MEDIAREPLY");'),
        # the first INVITE once it is routed to an account
        ('\tt_on_reply("MEDIAREPLY");\n\tif (!t_relay())',
         '\troute(MEDIA);\n\tt_on_reply("MEDIAREPLY");\n\tif (!t_relay())'),
        ('\tt_on_reply("MEDIAREPLY");\n\tt_relay();\n}',
         '\troute(MEDIA);\n\tt_on_reply("MEDIAREPLY");\n\tt_relay();\n}'),
    ]
    for old, new in edits:
        if old not in text:
            raise AssertionError("carrier configuration changed: %r not found" % old)
        text = text.replace(old, new)
    return text + MEDIA_ROUTES


def set_translation(lab, office, flags):
    """Offers from office (its router's public address) take these rtpengine flags (a string
    of flags separated by spaces, e.g. "T.38-decode T.38-no-ECM"); None: none again."""
    addr = lab.public_addr(office)
    kam = lab.kam
    args = (["htable.sets", "media", addr, flags] if flags else
            ["htable.delete", "media", addr])
    rc, out, err = nt.run_cmd([kam_cmd(), "-s", "unix:" + kam.ctl] + args)
    if rc != 0 or (flags and not out.startswith("Ok.")):
        raise AssertionError("kamcmd %s failed: %s%s" % (args[0], out, err))


def translate_t38(lab, t38, audio, t38_options=(), audio_options=()):
    """One office on T.38, the other on G.711 only, rtpengine translating between them: the
    T.38 office's offers are decoded (image -> audio), the G.711 office's forced (audio ->
    image). *_options: more T.38 options for that office's offers (e.g. ("no-ECM",) or
    ("FEC",)). translate_t38(lab, None, None) would not do: clear_translation() does that."""
    set_translation(lab, t38, " ".join(["T.38-decode"] + ["T.38-" + o for o in t38_options]))
    set_translation(lab, audio, " ".join(["T.38-force"] + ["T.38-" + o for o in audio_options]))


def clear_translation(lab):
    for office in ("us", "uk"):
        set_translation(lab, office, None)


def kam_cmd():
    return shutil.which("kamcmd") or "/usr/sbin/kamcmd"


# --- a minimal bencode, for the ng protocol ---

def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, (list, tuple)):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    if isinstance(x, dict):
        return b"d" + b"".join(bencode(k) + bencode(x[k]) for k in sorted(x)) + b"e"
    raise TypeError(type(x))


def bdecode(data, i=0):
    """(value, next index); strings decoded as UTF-8 (replaced where not)."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        i += 1
        items = []
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    if n > len(data):
        raise ValueError("bencode string longer than the message")
    return data[colon + 1:colon + 1 + n].decode(errors="replace"), colon + 1 + n


def ng_command(host, port, args, timeout=10):
    cookie = b"%08x" % random.getrandbits(32)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(cookie + b" " + bencode(args), (host, port))
        data, _ = s.recvfrom(65535)
    finally:
        s.close()
    if not data.startswith(cookie + b" "):
        raise ValueError("ng reply with another cookie")
    return bdecode(data, len(cookie) + 1)[0]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "ng":
    print(json.dumps(ng_command(sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]))))

#!/usr/bin/env python3
"""The carrier lab with its media anchored at a media gateway no one here wrote: Debian's
rtpengine (userspace, no kernel module) beside the kamailio carrier (siplab.CarrierLab(...,
media="rtpengine"), mediagw). Each office's netcfaxd sits behind its NAT router as in
test_sip_trunk_nat.py.

- A G.711 fax from the US to the UK and one back arrive pixel-exact with rtpengine in the
  middle: each office's SDP named the carrier's address (rtpengine's answer and offer), each
  office's router carried its RTP to the carrier's address only, never to the other office,
  and rtpengine's final statistics of each call count the packets both ways.
- The T.38 <-> G.711 translation set per office (mediagw.translate_t38: the US on T.38, the UK
  on G.711 only): a T.38 offer from the US (SIPp, m=image udptl t38) reaches the UK's netcfaxd
  as audio, which it answers in G.711, and the US is answered with T.38 by rtpengine's
  gateway (T.38-decode); an audio offer from the UK (SIPp) reaches the US's netcfaxd as
  m=image udptl t38 only (T.38-force), which it refuses with 488 until it speaks T.38 on its
  trunk, and rtpengine's session ends with the refusal.

gateway_offices() builds this lab for other tests: both offices with trunk keys of their own,
and the translation set in the same call (the US on T.38, the UK on G.711 only)."""
import os
import re
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import mediagw  # noqa: E402
import siplab  # noqa: E402
from test_fax import make_pdf  # noqa: E402
from test_sip_trunk import digits, wait_text  # noqa: E402
import test_sip_trunk_nat as nat_test  # noqa: E402
from test_sip_trunk_nat import ACCOUNTS, DIDS, UK_BOB, US_ALICE, ClassOwner  # noqa: E402

# SIPp placing one call from an office as its carrier account: the INVITE challenged (407),
# sent again with credentials; then either answered (200, checked against ANSWER_RE, ACK, a
# moment, BYE) or refused (the status given, ACKed). The offer is the SDP given.
SIPP_CALL = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="office call">
<send retrans="500"><![CDATA[
INVITE sip:[service]@%(domain)s SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
From: <sip:%(user)s@%(domain)s>;tag=[pid]SIPpTag00[call_number]\r
To: <sip:[service]@%(domain)s>\r
Call-ID: [call_id]\r
CSeq: 1 INVITE\r
Contact: <sip:%(user)s@[local_ip]:[local_port]>\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%(sdp)s]]></send>
<recv response="100" optional="true"/>
<recv response="407" auth="true"/>
<send><![CDATA[
ACK sip:[service]@%(domain)s SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 1 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<send retrans="500"><![CDATA[
INVITE sip:[service]@%(domain)s SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
From: <sip:%(user)s@%(domain)s>;tag=[pid]SIPpTag00[call_number]\r
To: <sip:[service]@%(domain)s>\r
Call-ID: [call_id]\r
CSeq: 2 INVITE\r
Contact: <sip:%(user)s@[local_ip]:[local_port]>\r
[authentication]\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: [len]\r
\r
%(sdp)s]]></send>
<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="183" optional="true"/>
%(end)s
</scenario>
"""
ANSWERED = """<recv response="200" rrs="true">
<action><ereg regexp="%s" search_in="body" check_it="true" assign_to="1"/></action>
</recv>
<send><![CDATA[
ACK [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[routes]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<pause milliseconds="1500"/>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0\r
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\r
[routes]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 3 BYE\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>
<recv response="200"/>
<Reference variables="1"/>"""
REFUSED = """<recv response="%d"/>
<send><![CDATA[
ACK sip:[service]@%%(domain)s SIP/2.0\r
[last_Via:]\r
[last_From:]\r
[last_To:]\r
[last_Call-ID:]\r
CSeq: 2 ACK\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
]]></send>"""
T38_SDP = """v=0\r
o=- 1 1 IN IP4 [local_ip]\r
s=-\r
c=IN IP4 [local_ip]\r
t=0 0\r
m=image [media_port] udptl t38\r
a=T38FaxVersion:0\r
a=T38MaxBitRate:14400\r
a=T38FaxRateManagement:transferredTCF\r
a=T38FaxMaxDatagram:400\r
a=T38FaxUdpEC:t38UDPRedundancy\r
"""
AUDIO_SDP = """v=0\r
o=- 1 1 IN IP4 [local_ip]\r
s=-\r
c=IN IP4 [local_ip]\r
t=0 0\r
m=audio [media_port] RTP/AVP 8 0\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:0 PCMU/8000\r
a=ptime:20\r
"""
SIPP_PORT = 5070          # SIPp's SIP port on the office host (netcfaxd holds 5060)


def sipp_call(owner, lab, office, did, sdp, end):
    """SIPp on the office's host calling did as the office's carrier account; its exit status
    (0: the scenario ran to its end) and its error log."""
    account = office + "-office"
    d = nt.make_temp_dir(owner, prefix="ncfx-sipp-")
    path = os.path.join(d, "call.xml")
    with open(path, "w") as f:
        f.write(SIPP_CALL % {"domain": siplab.DOMAIN, "user": account, "sdp": sdp,
                             "end": end % {"domain": siplab.DOMAIN} if "%(domain)s" in end
                             else end})
    args = lab.prefix(office) + [
        siplab.SIPP, "-i", lab.host_addr(office), "-p", str(SIPP_PORT), "-m", "1", "-nostdin",
        "-timeout", "60s", "-timeout_error", "-trace_err", "-error_file",
        os.path.join(d, "errors.log"), "-au", account, "-ap", ACCOUNTS[account],
        "-sf", path, "-s", did, lab.registrar]
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       cwd=d, timeout=siplab.WAIT + 30)
    errors = ""
    if os.path.exists(os.path.join(d, "errors.log")):
        with open(os.path.join(d, "errors.log"), errors="replace") as f:
            errors = f.read()
    return p.returncode, errors + p.stderr


def wait_for(pred, what, timeout=None):
    deadline = time.monotonic() + (timeout or siplab.WAIT)
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("never saw " + what)


def gateway_offices(owner, trunk_extra=None, t38=None, audio=None):
    """The carrier lab with rtpengine anchoring the media, and both offices' netcfaxd on it
    (test_sip_trunk_nat.office_server, alice in the US, bob and carol in the UK); returns
    (lab, {"us": Server, "uk": Server}). trunk_extra: more trunk file keys for both offices,
    or {"us": {...}, "uk": {...}} for each. t38 and audio (offices): rtpengine translates
    between them (mediagw.translate_t38), e.g. for the US on T.38 and the UK on G.711 only:

        lab, srv = gateway_offices(cls, {"us": {T.38 keys}, "uk": {}}, t38="us", audio="uk")
    """
    lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS, media="rtpengine")
    per = trunk_extra or {}
    if not set(per) <= {"us", "uk"} or not per:
        per = {"us": per, "uk": per}
    srv = {}
    for office in ("us", "uk"):
        keys = {"keepalive": 600}      # the SIP ports are mapped: no NAT binding to keep
        keys.update(per.get(office) or {})
        srv[office] = nat_test.office_server(owner, lab, office, trunk_extra=keys)
        for user in nat_test.USERS[office]:
            srv[office].add_user(user, user + "-pw-secret")
    if t38:
        mediagw.translate_t38(lab, t38=t38, audio=audio)
    return lab, srv


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class MediaGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        mediagw.check_tools()
        # T.38 off on both trunks: the offices speak G.711 only, as the translation assumes
        cls.lab, cls.srv = gateway_offices(ClassOwner(cls), {"t38": "off"})
        cls.kam, cls.rtpe = cls.lab.kam, cls.lab.rtpe

    # the fax helpers of the NAT test, on this lab (its class is not imported by name, so
    # its tests do not run here)
    client = nat_test.TrunkThroughNat.client
    send = nat_test.TrunkThroughNat.send
    received_whole = nat_test.TrunkThroughNat.received_whole
    fax_ids = nat_test.TrunkThroughNat.fax_ids

    def rtp_flows(self, office):
        """The (address, port) of the far end of each UDP flow the office's router tracks to
        or from its host's RTP ports (20000-20099): a flow the host opened (its original
        direction) or one that came in through the port mapping (its reply direction)."""
        out = self.lab.lab.run(self.lab.router(office), "conntrack", "-L", "-p", "udp")
        host, flows = self.lab.host_addr(office), []
        for line in out.splitlines():
            for src, dst, sport, dport in re.findall(
                    r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)", line):
                if src == host and 20000 <= int(sport) <= 20099:
                    flows.append((dst, int(dport)))
        return flows

    def fax_through_gateway(self, sender, recipient, pdf_pages, dest):
        src_user, dst_user = {"us": "alice", "uk": "bob"}[sender], {"us": "alice",
                                                                    "uk": "bob"}[recipient]
        src, dst = self.client(sender, src_user), self.client(recipient, dst_user)
        watcher = nt.Watcher(dst, owner=self, prefix=self.lab.prefix(recipient))
        watcher.wait_status("logged in")
        seen = self.fax_ids(dst)
        rmark, kmark = self.rtpe.mark(), self.kam.mark()
        self.lab.lab.run(self.lab.router(sender), "conntrack", "-F")
        self.lab.lab.run(self.lab.router(recipient), "conntrack", "-F")
        pdf = make_pdf(src.home, "gw-%s.pdf" % sender, pdf_pages)
        job, notes = self.send(src, pdf, dest)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        # whole: in one entry, or in runs of consecutive pages after a call broke off
        self.received_whole(dst, watcher, seen, pdf, len(pdf_pages),
                            nat_test.OFFICE_SETUPS[sender][4])

        # what each office was told: the carrier's address, never the other office's
        carrier = siplab.CARRIER_ADDR
        offers, answers = self.rtpe.sdp_sent("offer", rmark), self.rtpe.sdp_sent("answer", rmark)
        self.assertTrue(offers and answers, self.rtpe.text(rmark)[-4000:])
        for sdp in offers + answers:
            self.assertIn("c=IN IP4 %s" % carrier, sdp)
            for office in ("us", "uk"):
                self.assertNotIn(self.lab.public_addr(office), sdp)
        # where each office's RTP went: the carrier's address, at rtpengine's ports
        lo, hi = mediagw.MEDIA_PORTS
        for office in (sender, recipient):
            flows = self.rtp_flows(office)
            self.assertTrue([f for f in flows if f[0] == carrier and lo <= f[1] <= hi], flows)
            self.assertEqual([f for f in flows if f[0] != carrier], [], flows)
        # rtpengine carried it: its final statistics once the BYE ended the session
        stats = wait_for(lambda: self.rtpe.final_stats(rmark), "rtpengine's final stats")
        by_peer = {}
        for s in stats:
            peer = s["remote"].rsplit(":", 1)[0]
            by_peer[peer] = by_peer.get(peer, 0) + s["packets"]
        for office in (sender, recipient):
            # a page takes several seconds: thousands of 20 ms packets from each office
            self.assertGreater(by_peer.get(self.lab.public_addr(office), 0), 500, stats)
        self.assertTrue(self.kam.lines("MEDIA", kmark), self.kam.text(kmark)[-3000:])
        print("\n%s -> %s: rtpengine relayed %s packets" % (sender, recipient, {
            o: by_peer.get(self.lab.public_addr(o)) for o in (sender, recipient)}),
            file=sys.stderr)

    def test_g711_faxes_both_ways_through_rtpengine(self):
        mediagw.clear_translation(self.lab)
        self.fax_through_gateway("us", "uk", ["through the gateway", "page two"], UK_BOB)
        self.fax_through_gateway("uk", "us", ["and back"], US_ALICE)
        self.assertEqual(self.rtpe.ctl("list", "numsessions").count("Current sessions own: 0"), 1)

    def test_t38_translated_per_office(self):
        mediagw.translate_t38(self.lab, t38="us", audio="uk")
        self.addCleanup(mediagw.clear_translation, self.lab)

        # US (T.38) -> UK (G.711 only): the UK's netcfaxd gets an audio offer and answers it in
        # G.711; the US gets rtpengine's T.38 answer
        rmark, uk_log = self.rtpe.mark(), self.srv["uk"].log_size()
        rc, errors = sipp_call(self, self.lab, "us", digits(UK_BOB), T38_SDP,
                               ANSWERED % r"m=image [0-9]+ udptl t38")
        self.assertEqual(rc, 0, errors)
        wait_text(self.srv["uk"], lambda t: "answered the call from" in t, uk_log,
                  "the UK answering")
        self.assertRegex(self.srv["uk"].log_since(uk_log),
                         r"answered the call from \S+ to \S+, G\.711 PCM[AU]")
        [offer] = self.rtpe.sdp_sent("offer", rmark)
        self.assertRegex(offer, r"m=audio \d+ RTP/AVP [0-9 ]+\n")
        self.assertRegex(offer, r"a=rtpmap:\d+ PCM[AU]/8000")
        self.assertNotIn("m=image", offer)
        [answer] = self.rtpe.sdp_sent("answer", rmark)
        self.assertRegex(answer, r"m=image \d+ udptl t38")
        # kamailio's rtpengine module passes the flag T.38-decode as the ng key "T.38": ["decode"]
        self.assertIn('"T.38": [ "decode" ]', self.rtpe.received_flags(rmark)[0])
        wait_for(lambda: self.rtpe.final_stats(rmark), "the session ended by the BYE")

        # UK (G.711) -> US (T.38): the US's netcfaxd gets an image-only offer
        rmark, us_log = self.rtpe.mark(), self.srv["us"].log_size()
        rc, errors = sipp_call(self, self.lab, "uk", digits(US_ALICE), AUDIO_SDP, REFUSED % 488)
        self.assertEqual(rc, 0, errors)
        [offer] = self.rtpe.sdp_sent("offer", rmark)
        self.assertRegex(offer, r"m=image \d+ udptl t38")
        self.assertIn("a=T38FaxVersion:0", offer)
        self.assertNotIn("m=audio", offer)
        self.assertIn('"T.38": [ "force" ]', self.rtpe.received_flags(rmark)[0])
        self.assertRegex(self.srv["us"].log_since(us_log),
                         r"refused \(488\): the offer has no audio stream, only T\.38")
        wait_for(lambda: "Final packet stats" in self.rtpe.text(rmark),
                 "the session ended by the refusal")
        self.assertIn("a=T38FaxUdpEC:t38UDPRedundancy", offer)

        # with FEC asked for the UK's offers, the T.38 offered to the US is FEC's; no-ECM and
        # no-V.17 (what the gateway's T.30 offers) are taken as flags rtpengine knows
        mediagw.translate_t38(self.lab, t38="us", audio="uk",
                              audio_options=("FEC", "no-ECM", "no-V.17"))
        rmark = self.rtpe.mark()
        rc, errors = sipp_call(self, self.lab, "uk", digits(US_ALICE), AUDIO_SDP, REFUSED % 488)
        self.assertEqual(rc, 0, errors)
        [offer] = self.rtpe.sdp_sent("offer", rmark)
        self.assertIn("a=T38FaxUdpEC:t38UDPFEC", offer)
        self.assertIn('"T.38": [ "force", "FEC", "no-ECM", "no-V.17" ]',
                      self.rtpe.received_flags(rmark)[0])
        self.assertNotIn("Unknown 'T.38' flag", self.rtpe.text())


if __name__ == "__main__":
    nt.main()

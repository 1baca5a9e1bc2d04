#!/usr/bin/env python3
"""T.38 through the carrier's media gateway (test_sip_media_gateway.gateway_offices: kamailio
with Debian's rtpengine anchoring the media, each office's netcfaxd behind its NAT router with
portmap), faxes of 3 pages each checked pixel-exact in the recipient's inbox:

- translated: the US office on T.38 (its trunk's t38 = offer), the UK office on G.711 only (t38
  = off), rtpengine's gateway between them (mediagw.translate_t38: T.38-decode on the US's
  offers, T.38-force on the UK's): a fax US -> UK and one UK -> US. The US job says T.38 and
  the UK answered in G.711; the UK job says G.711 and the US answered the image-only offer in
  T.38; rtpengine was given the flags, offered each office its own media and counted packets
  from both.
- end to end: both offices on T.38 (the UK's trunk t38 = accept), no translation flags: the
  US's image-only offer reaches the UK as T.38 through rtpengine, both sides say T.38."""
import os
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import mediagw  # noqa: E402
import siplab  # noqa: E402
import test_sip_trunk as st  # noqa: E402
import test_sip_trunk_nat as nat_test  # noqa: E402
from test_fax import make_pdf  # noqa: E402
from test_sip_trunk_nat import UK_BOB, US_ALICE, ClassOwner  # noqa: E402
from test_sip_media_gateway import gateway_offices, wait_for  # noqa: E402

PAGES = ["page %d through the gateway" % (i + 1) for i in range(3)]
USER = {"us": "alice", "uk": "bob"}
DEST = {"us": US_ALICE, "uk": UK_BOB}


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class T38ThroughGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        mediagw.check_tools()
        cls.owner = ClassOwner(cls)
        cls.lab, cls.srv = gateway_offices(cls.owner, {"us": {"t38": "offer"},
                                                       "uk": {"t38": "off"}})
        cls.uk_t38 = "off"
        cls.rtpe = cls.lab.rtpe

    client = nat_test.TrunkThroughNat.client
    send = nat_test.TrunkThroughNat.send
    received_whole = nat_test.TrunkThroughNat.received_whole
    fax_ids = nat_test.TrunkThroughNat.fax_ids
    job = st.Trunk.job

    def uk_on(self, t38):
        """The UK office's netcfaxd with its trunk's t38 as given (started again only when
        it differs: the other office and the lab stay)."""
        cls = type(self)
        if cls.uk_t38 == t38:
            return
        cls.srv["uk"].stop()
        cls.srv["uk"] = nat_test.office_server(cls.owner, self.lab, "uk", trunk_extra={
            "keepalive": 600, "t38": t38})
        for user in nat_test.USERS["uk"]:
            cls.srv["uk"].add_user(user, user + "-pw-secret")
        cls.uk_t38 = t38

    def fax(self, sender, recipient):
        """A 3-page fax from sender's user to recipient's, checked pixel-exact: the sender's
        job record, the recipient's log since the call, and rtpengine's mark before it."""
        src, dst = self.client(sender, USER[sender]), self.client(recipient, USER[recipient])
        watcher = nt.Watcher(dst, owner=self, prefix=self.lab.prefix(recipient))
        watcher.wait_status("logged in")
        seen = self.fax_ids(dst)
        rmark, log = self.rtpe.mark(), self.srv[recipient].log_size()
        for office in (sender, recipient):       # no flow of an earlier call in the way
            self.lab.lab.run(self.lab.router(office), "conntrack", "-F")
        pdf = make_pdf(src.home, "t38gw-%s.pdf" % sender, PAGES)
        job, notes = self.send(src, pdf, DEST[recipient])
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        # in one entry, or in runs of consecutive pages when a call broke off on a loaded
        # machine and the retry took up after the confirmed pages
        self.received_whole(dst, watcher, seen, pdf, len(PAGES),
                            nat_test.OFFICE_SETUPS[sender][4])   # its station id
        return self.job(src, job["id"]), self.srv[recipient].log_since(log), rmark

    def relayed(self, rmark):
        """rtpengine's packet counts, by office, of the call ended since the mark; each
        office sent it a run of packets (thousands of 20 ms RTP packets; UDPTL's come with
        the fax's messages and data, some dozens from a receiver)."""
        stats = wait_for(lambda: self.rtpe.final_stats(rmark), "rtpengine's final stats")
        by = {o: sum(s["packets"] for s in stats
                     if s["remote"].rsplit(":", 1)[0] == self.lab.public_addr(o))
              for o in ("us", "uk")}
        for n in by.values():
            self.assertGreater(n, 20, stats)
        return by

    def sdps(self, kind, rmark):
        """Every SDP rtpengine handed out in an offer or answer since rmark: at least one
        (a call retried on a loaded machine, or an INVITE the carrier resent, brings more)."""
        got = self.rtpe.sdp_sent(kind, rmark)
        self.assertTrue(got, "rtpengine handed out no %s" % kind)
        return got

    def test_translated_us_t38_to_uk_g711(self):
        self.uk_on("off")
        mediagw.translate_t38(self.lab, t38="us", audio="uk")
        self.addCleanup(mediagw.clear_translation, self.lab)
        done, uk, rmark = self.fax("us", "uk")
        self.assertRegex(done["text"], r"at \d+ bit/s over T\.38", done)
        self.assertRegex(uk, r"answered the call from \S+ to \S+, G\.711 PCM[AU]", uk[-3000:])
        self.assertNotIn("T.38", uk)
        # rtpengine decoded: the US's image-only offer went on to the UK as audio
        self.assertIn('"T.38": [ "decode" ]', self.rtpe.received_flags(rmark)[0])
        for offer in self.sdps("offer", rmark):
            self.assertRegex(offer, r"m=audio \d+ RTP/AVP")
            self.assertNotIn("m=image", offer)
        for answer in self.sdps("answer", rmark):
            self.assertRegex(answer, r"m=image \d+ udptl t38")
        print("\nUS (T.38) -> UK (G.711): rtpengine relayed %s" % self.relayed(rmark),
              file=sys.stderr)

    def test_translated_uk_g711_to_us_t38(self):
        self.uk_on("off")
        mediagw.translate_t38(self.lab, t38="us", audio="uk")
        self.addCleanup(mediagw.clear_translation, self.lab)
        done, us, rmark = self.fax("uk", "us")
        self.assertRegex(done["text"], r"at \d+ bit/s over G\.711", done)
        self.assertRegex(us, r"answered the call from \S+ to \S+, T\.38", us[-3000:])
        # rtpengine forced: the UK's audio offer went on to the US as image only
        self.assertIn('"T.38": [ "force" ]', self.rtpe.received_flags(rmark)[0])
        for offer in self.sdps("offer", rmark):
            self.assertRegex(offer, r"m=image \d+ udptl t38")
            self.assertNotIn("m=audio", offer)
        for answer in self.sdps("answer", rmark):
            self.assertRegex(answer, r"m=audio \d+ RTP/AVP")
        print("\nUK (G.711) -> US (T.38): rtpengine relayed %s" % self.relayed(rmark),
              file=sys.stderr)

    def test_untranslated_t38_end_to_end_through_the_carrier(self):
        self.uk_on("accept")
        mediagw.clear_translation(self.lab)
        done, uk, rmark = self.fax("us", "uk")
        self.assertRegex(done["text"], r"at \d+ bit/s over T\.38", done)
        self.assertRegex(uk, r"answered the call from \S+ to \S+, T\.38", uk[-3000:])
        # rtpengine anchored the UDPTL and passed it on as T.38 both ways, with no flags
        self.assertNotIn('"T.38"', self.rtpe.received_flags(rmark)[0])
        for sdp in self.rtpe.sdp_sent("offer", rmark) + self.rtpe.sdp_sent("answer", rmark):
            self.assertRegex(sdp, r"m=image \d+ udptl t38")
            self.assertIn("c=IN IP4 %s" % siplab.CARRIER_ADDR, sdp)
            self.assertNotIn("m=audio", sdp)
        print("\nUS (T.38) -> UK (T.38): rtpengine relayed %s" % self.relayed(rmark),
              file=sys.stderr)


if __name__ == "__main__":
    nt.main()

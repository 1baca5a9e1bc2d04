#!/usr/bin/env python3
"""T.38 on the SIP trunk, with the parts of test_sip_trunk.py (two netcfaxd servers and
Debian's kamailio as the carrier, on loopback): the switch by re-INVITE on the fax tones, an
offer of T.38 from the start, a refusal that leaves the fax on G.711, and SIPp playing a far
end that re-INVITEs, refreshes the session, answers our re-INVITE 491, or sends its own
re-INVITE across ours (glare)."""
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab  # noqa: E402
from test_fax import make_pdf  # noqa: E402
# the module, not its TestCases by name: those would run here as well
import test_sip_trunk as st  # noqa: E402
from test_sip_trunk import (RETRIES, T38_ACCOUNTS, T38_DIDS, UK_BOB, UK_BOB_2,  # noqa: E402
                            UK_DAVE, UK_DAVE_2, US_ALICE, digits, fax_received,
                            trunk_file, wait_registered, wait_text)


class TrunkT38(unittest.TestCase):
    """T.38 on the trunk. The US server has two trunks: one with t38 = reinvite (it asks for
    T.38 when it hears the fax tones), and one with t38 = offer for the second numbers of bob
    and dave (its INVITEs offer T.38 alone). The UK server has two trunks on the carrier:
    bob's with t38 = accept, dave's with t38 = off. A fax to bob and one back switch to T.38
    mid-call, one to bob's second number is T.38 from the start, each pixel-exact; dave's
    trunk refuses T.38 (488) and the fax completes on G.711. SIPp plays a far end that
    re-INVITEs to T.38 and refreshes the session, and one that answers our re-INVITE 491."""

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        cls.kam = siplab.Kamailio(cls, mode="carrier", accounts=T38_ACCOUNTS, dids=T38_DIDS)
        us_conf, cls.us_trunk = trunk_file(cls, "us-t38", cls.kam.registrar, "PCMU, PCMA",
                                           t38="reinvite")
        offer_conf, _ = trunk_file(cls, "us-offer", cls.kam.registrar, "PCMU, PCMA",
                                   t38="offer", route="%s, %s" % (UK_BOB_2, UK_DAVE_2))
        uk_conf, cls.uk_trunk = trunk_file(cls, "uk-t38", cls.kam.registrar, "PCMA, PCMU",
                                           t38="accept")
        off_conf, cls.off_trunk = trunk_file(cls, "uk-audio", cls.kam.registrar, "PCMA",
                                             t38="off")
        cls.us = nt.Server(cls, extra=dict(RETRIES, fax_numbers="%s alice" % US_ALICE,
                                           fax_station_id="US office",
                                           sip_trunks="%s, %s" % (offer_conf, us_conf)))
        cls.uk = nt.Server(cls, extra=dict(RETRIES, fax_numbers="%s bob, %s dave, %s bob, %s dave"
                                           % (UK_BOB, UK_DAVE, UK_BOB_2, UK_DAVE_2),
                                           fax_station_id="UK office",
                                           sip_trunks="%s, %s" % (uk_conf, off_conf)))
        for srv, name in ((cls.us, "us-t38"), (cls.us, "us-offer"), (cls.uk, "uk-t38"),
                          (cls.uk, "uk-audio")):
            wait_registered(cls, srv, name)
        cls.us.add_user("alice", "alice-pw-secret")
        cls.uk.add_user("bob", "bob-pw-secret")
        cls.uk.add_user("dave", "dave-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.us, "alice", "alice-pw-secret", owner=self)
        self.bob = nt.Client(self.uk, "bob", "bob-pw-secret", owner=self)
        self.dave = nt.Client(self.uk, "dave", "dave-pw-secret", owner=self)

    send = st.Trunk.send
    job = st.Trunk.job
    check_pixels = st.Trunk.check_pixels

    def fax(self, sender, receiver, dest, pages, name, media):
        """A fax of pages from sender to dest, received by receiver: the sender's job and
        notes, and the received fax's inbox entry, checked pixel-exact. The job, its page
        and done notes, the inbox entry and the fax_received notification all say that
        media ("T.38" or "G.711") carried it."""
        w = nt.Watcher(receiver, owner=self)
        w.wait_status("logged in")
        pdf = make_pdf(sender.home, name + ".pdf", ["%s page %d" % (name, i + 1)
                                                    for i in range(pages)])
        job, notes = self.send(sender, pdf, dest)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        w.wait_for(lambda x: fax_received(x), what="fax_received")
        rc, data, err = receiver.run("inbox", json=True)
        [fax] = [f for f in data["faxes"] if f["id"] == fax_received(w)[0]["fax"]]
        self.assertEqual(fax["pages"], pages)
        self.check_pixels(receiver, fax["id"], pdf)
        done = self.job(sender, job["id"])
        self.assertEqual(done.get("media"), media, done)
        self.assertEqual(fax.get("media"), media, fax)
        self.assertEqual(fax_received(w)[0].get("media"), media, fax_received(w))
        self.assertEqual(notes[-1].get("media"), media, notes)
        paged = [n for n in notes if n["event"] == "job_page" and n.get("page")]
        self.assertTrue(paged and all(n.get("media") == media for n in paged), notes)
        return done, notes

    def test_reinvite_on_fax_tones_switches_to_t38_both_ways(self):
        # US to UK: the US placed the call and asks on the UK's CED or V.21 flags
        us_log, uk_log = self.us.log_size(), self.uk.log_size()
        done, notes = self.fax(self.alice, self.bob, UK_BOB, 2, "to-bob", "T.38")
        self.assertRegex(done["text"], r"at \d+ bit/s over T\.38", done)
        pages = [n["text"] for n in notes if n["event"] == "job_page" and n.get("page")]
        self.assertEqual(len(pages), 2, notes)
        for t in pages:
            self.assertRegex(t, r"page \d of 2 sent at \d+ bit/s over T\.38", notes)
        us = self.us.log_since(us_log)
        self.assertIn("fax tones heard: re-INVITE to T.38", us)
        self.assertIn("the far end took T.38", us)
        self.assertIn("re-INVITE to T.38 accepted", self.uk.log_since(uk_log))
        # and back: the US answered and asks on the caller's CNG or V.21 flags
        us_log, uk_log = self.us.log_size(), self.uk.log_size()
        done, notes = self.fax(self.bob, self.alice, US_ALICE, 1, "to-alice", "T.38")
        self.assertRegex(done["text"], r"over T\.38", done)
        self.assertIn("fax tones heard: re-INVITE to T.38", self.us.log_since(us_log))
        self.assertIn("re-INVITE to T.38 accepted", self.uk.log_since(uk_log))

    def test_reinvite_refused_488_fax_completes_on_g711(self):
        us_log, uk_log = self.us.log_size(), self.uk.log_size()
        done, notes = self.fax(self.alice, self.dave, UK_DAVE, 1, "to-dave", "G.711")
        self.assertRegex(done["text"], r"at \d+ bit/s over G\.711", done)
        self.assertIn("re-INVITE to T.38 refused (488", self.us.log_since(us_log))
        self.assertIn("re-INVITE refused (488): T.38 is off", self.uk.log_since(uk_log))

    def test_offer_answered_t38_from_the_start(self):
        us_log, uk_log = self.us.log_size(), self.uk.log_size()
        done, notes = self.fax(self.alice, self.bob, UK_BOB_2, 2, "offer-bob", "T.38")
        self.assertRegex(done["text"], r"at \d+ bit/s over T\.38", done)
        connected = [n["text"] for n in notes if n["event"] == "job_page" and
                     "connected" in n["text"]]
        self.assertTrue(connected and all("over T.38" in t for t in connected), notes)
        self.assertIn("answered, T.38 version 0 at 14400 bit/s", self.us.log_since(us_log))
        uk = self.uk.log_since(uk_log)
        self.assertRegex(uk, r"answered the call from \S+ to 442079460004, T\.38", uk[-3000:])
        self.assertNotIn("re-INVITE", uk)

    def test_offer_refused_calls_again_in_audio(self):
        us_log = self.us.log_size()
        done, notes = self.fax(self.alice, self.dave, UK_DAVE_2, 1, "offer-dave", "G.711")
        self.assertRegex(done["text"], r"at \d+ bit/s over G\.711", done)
        self.assertEqual(done["dials"], 1, done)       # one dial: the audio call came at once
        us = self.us.log_since(us_log)
        self.assertIn("the T.38 offer was refused (488", us)
        self.assertIn("calling again with audio", us)

    def test_far_end_reinvite_to_t38_then_refresh_keeps_it(self):
        # SIPp calls bob in audio, re-INVITEs to T.38 (200 with our image stream), then
        # refreshes with the same offer (200 with our image stream again), then hangs up
        uk_log = self.uk.log_size()
        far = siplab.Sipp(self, None, scenario=siplab.uac_reinvites(
            [(siplab.T38_OFFER, 200, "m=image [1-9][0-9]* udptl t38"),
             (siplab.T38_OFFER, 200, "m=image [1-9][0-9]* udptl t38")]),
            service=digits(UK_BOB), dest="%s:%s" % (nt.HOST, self.uk_trunk["port"]))
        self.assertEqual(far.wait(), 0, far.errors())
        text = wait_text(self.uk, lambda t: "re-INVITE to T.38 accepted" in t, uk_log)
        self.assertEqual(text.count("re-INVITE to T.38 accepted"), 1, text)

    def test_our_reinvite_gets_491_and_is_sent_once_more(self):
        # SIPp calls alice with CNG: the US (answering, t38 = reinvite) re-INVITEs to T.38;
        # SIPp answers 491, the US waits (up to 2 s: the Call-ID is the caller's) and sends
        # it once more; SIPp refuses that one with 488, the call stays in audio; SIPp hangs up
        pcap = os.path.join(nt.make_temp_dir(self, prefix="ncfx-cng-"), "cng.pcap")
        siplab.cng_pcap(pcap)
        us_log = self.us.log_size()
        us = "%s:%s" % (nt.HOST, self.us_trunk["port"])
        far = siplab.Sipp(self, None, scenario=siplab.uac_tones_then_answer_reinvites(
            pcap, [491, 488], via=self.kam.registrar, dest=us), service=digits(US_ALICE),
            dest=us)
        self.assertEqual(far.wait(), 0, far.errors() + self.us.log_since(us_log)[-3000:] + self.kam.text()[-3000:])
        text = wait_text(self.us, lambda t: "re-INVITE to T.38 refused (488" in t, us_log)
        self.assertEqual(text.count("fax tones heard: re-INVITE to T.38"), 1, text)
        m = re.search(r"crossed one of the far end's \(491\): again in (\d+) ms", text)
        self.assertIsNotNone(m, text)
        self.assertLessEqual(int(m.group(1)), 2000)   # the chosen wait, not a measured time

    def test_glare_our_reinvite_crosses_theirs_ours_again_first(self):
        # SIPp calls alice with CNG: the US (answering, t38 = reinvite) re-INVITEs to T.38
        # and SIPp's own re-INVITE to T.38 crosses it; each is refused 491. The US does not
        # own the Call-ID: it waits at most 2 s and sends its re-INVITE once more, before
        # SIPp's 2.1 s would be over; SIPp takes it (200, T.38), and hangs up 4.5 s later
        pcap = os.path.join(nt.make_temp_dir(self, prefix="ncfx-cng-"), "cng.pcap")
        siplab.cng_pcap(pcap)
        us_log = self.us.log_size()
        us = "%s:%s" % (nt.HOST, self.us_trunk["port"])
        far = siplab.Sipp(self, None, scenario=siplab.uac_tones_then_glare(
            pcap, siplab.T38_OFFER, via=self.kam.registrar, dest=us),
            service=digits(US_ALICE), dest=us)
        self.assertEqual(far.wait(), 0, far.errors() + self.us.log_since(us_log)[-3000:])
        text = wait_text(self.us, lambda t: "the far end hung up" in t, us_log)
        self.assertEqual(text.count("fax tones heard: re-INVITE to T.38"), 1, text)
        m = re.search(r"crossed one of the far end's \(491\): again in (\d+) ms", text)
        self.assertIsNotNone(m, text)
        self.assertLessEqual(int(m.group(1)), 2000)   # the chosen wait, not a measured time
        self.assertEqual(text.count("the far end took T.38"), 1, text)
        self.assertNotIn("re-INVITE to T.38 accepted", text)

    def test_session_refresh_in_audio_answered_with_ours(self):
        # a session timer's refresh: the same audio offer again, 200 with our audio stream
        uk_log = self.uk.log_size()
        far = siplab.Sipp(self, None, scenario=siplab.uac_reinvites(
            [(siplab.OFFER, 200, "m=audio [1-9][0-9]* RTP/AVP 8")]),
            service=digits(UK_BOB), dest="%s:%s" % (nt.HOST, self.uk_trunk["port"]))
        self.assertEqual(far.wait(), 0, far.errors())
        wait_text(self.uk, lambda t: "answered the call from 4420794600" in t, uk_log)
        self.assertNotIn("T.38", self.uk.log_since(uk_log))


if __name__ == "__main__":
    nt.main()

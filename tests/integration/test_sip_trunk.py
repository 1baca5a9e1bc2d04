#!/usr/bin/env python3
"""The SIP trunk line end to end on loopback: two netcfaxd servers, "US" and "UK", each
registered with Debian's kamailio playing the provider (siplab.Kamailio, carrier mode:
accounts, DIDs routed to the account that registered), fax each other's users by their
numbers; each fax arrives pixel-exact in the recipient's inbox. Then what the network can say
to a call: a number the carrier does not know, a number the server does not own, a stranger's
INVITE, more calls than channels, a far end that hangs up mid-fax, and SIPp playing a far end
that is busy or never answers. Then T.38 (TrunkT38): the switch by re-INVITE on the fax tones,
an offer of T.38 from the start, a refusal that leaves the fax on G.711, and SIPp playing a far
end that re-INVITEs, refreshes the session or answers our re-INVITE 491."""
import os
import random
import re
import socket
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab  # noqa: E402
from test_fax import GS_TIFF, make_pdf, stream  # noqa: E402

US_ALICE = "+1 212 555 0101"
UK_BOB = "+44 20 7946 0001"
UK_CAROL = "+44 20 7946 0002"
UK_NOBODY = "+44 20 7946 0099"       # routed to the UK office by the carrier, not its number
NOWHERE = "+33 1 99 00 00 00"        # a DID the carrier does not have
ACCOUNTS = {"us-office": "us-Trunk-pw1", "uk-office": "uk-Trunk-pw2"}
DIDS = {"12125550101": "us-office", "442079460001": "uk-office",
        "442079460002": "uk-office", "442079460099": "uk-office"}
RETRIES = {"retry_busy": 2, "retry_no_answer": 2, "retry_failed": 2}


def digits(number):
    return re.sub(r"\D", "", number)


def free_rtp_range(n=20):
    """An even-started range of n UDP ports on loopback free a moment ago."""
    for _ in range(50):
        base = siplab.free_udp_tcp_port() & ~1
        if base + n > 65535:
            continue
        return "%d-%d" % (base, base + n - 1)
    raise AssertionError("no free port range")


def trunk_file(owner, account, registrar, codecs, channels=2, **more):
    d = nt.make_temp_dir(owner, prefix="ncfx-trunk-")
    pw = os.path.join(d, "trunk.secret")
    with open(pw, "w") as f:
        f.write(ACCOUNTS.get(account, T38_ACCOUNTS.get(account, siplab.PASSWORD)) + "\n")
    os.chmod(pw, 0o600)
    path = os.path.join(d, account + ".conf")
    keys = {"registrar": registrar, "user": account, "domain": siplab.DOMAIN,
            "password_file": pw, "listen": nt.HOST, "port": siplab.free_udp_tcp_port(),
            "rtp_ports": free_rtp_range(), "channels": channels, "codecs": codecs,
            "international": "digits", "expires": 60, "ring_timeout": 15}
    keys.update(more)
    with open(path, "w") as f:
        for k, v in keys.items():
            f.write("%s = %s\n" % (k, v))
    return path, keys


def wait_text(srv, pred, offset=0, what="the log line"):
    """Waits until pred holds for the server's log from offset (all of it, not line by
    line); fails, with the log's end, when it never does."""
    deadline = time.monotonic() + siplab.WAIT
    while time.monotonic() < deadline:
        text = srv.log_since(offset)
        if pred(text):
            return text
        time.sleep(0.1)
    raise AssertionError("never saw %s in the netcfaxd log:\n%s" % (what,
                         srv.log_since(offset)[-4000:]))


def wait_registered(owner, srv, name, offset=0):
    wait_text(srv, lambda t: "trunk %s: registered" % name in t, offset,
              "trunk %s registered" % name)


def fax_received(watcher):
    return [n for n in watcher.notifications() if n["event"] == "fax_received"]


class Trunk(unittest.TestCase):
    """The US and UK servers on one carrier. US offers PCMU first, UK takes PCMA first: a call
    goes in the caller's preferred law, so both laws are carried."""

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        cls.kam = siplab.Kamailio(cls, mode="carrier", accounts=ACCOUNTS, dids=DIDS)
        us_conf, cls.us_trunk = trunk_file(cls, "us-office", cls.kam.registrar, "PCMU, PCMA")
        uk_conf, cls.uk_trunk = trunk_file(cls, "uk-office", cls.kam.registrar, "PCMA, PCMU",
                                           channels=2)
        # the US waits 10 s before calling again after a failed call: time enough for the UK
        # server to start again in the test that stops it mid-fax
        cls.us = nt.Server(cls, extra=dict(RETRIES, retry_failed=10,
                                           fax_numbers="%s alice" % US_ALICE,
                                           fax_station_id="US office",
                                           sip_trunks=us_conf))
        cls.uk = nt.Server(cls, extra=dict(RETRIES, fax_numbers="%s bob, %s carol"
                                           % (UK_BOB, UK_CAROL), fax_station_id="UK office",
                                           sip_trunks=uk_conf))
        for srv, name in ((cls.us, "us-office"), (cls.uk, "uk-office")):
            wait_registered(cls, srv, name)
        cls.us.add_user("alice", "alice-pw-secret")
        cls.uk.add_user("bob", "bob-pw-secret")
        cls.uk.add_user("carol", "carol-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.us, "alice", "alice-pw-secret", owner=self)
        self.bob = nt.Client(self.uk, "bob", "bob-pw-secret", owner=self)
        self.carol = nt.Client(self.uk, "carol", "carol-pw-secret", owner=self)

    def send(self, client, path, dest, wait=True, expect=0):
        args = ["send", path, "--to", dest] + (["--wait"] if wait else [])
        rc, out, err = client.run(*args, global_opts=("--json",), timeout=300)
        self.assertEqual(rc, expect, client.describe())
        lines = stream(out)
        job = [o for o in lines if "job" in o and isinstance(o["job"], dict)][0]["job"]
        return job, [o for o in lines if o.get("type") == "notification" and
                     o.get("job") == job["id"]]

    def job(self, client, jid):
        rc, data, err = client.run("jobs", json=True)
        self.assertEqual(rc, 0, client.describe())
        return [j for j in data["jobs"] if j["id"] == jid][0]

    def wait_job(self, client, jid, pred, what):
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            j = self.job(client, jid)
            if pred(j):
                return j
            time.sleep(0.5)
        self.fail("job %d never %s: %s" % (jid, what, self.job(client, jid)))

    def check_pixels(self, client, fax_id, pdf):
        tif = os.path.join(client.home, "got-%d.tif" % fax_id)
        rc, out, err = client.run("fetch", str(fax_id), "-o", tif)
        self.assertEqual(rc, 0, client.describe())
        expect = os.path.join(client.home, "expect-%d.tif" % fax_id)
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, client.home)
        got = nt.tiff_bitmaps(tif, client.home)
        self.assertEqual(len(got), len(sent))
        for i, (a, b) in enumerate(zip(sent, got)):
            self.assertEqual(a, b, "page %d differs from what was sent" % (i + 1))

    def test_us_to_uk_and_back_pixel_exact_in_both_laws(self):
        bobw = nt.Watcher(self.bob, owner=self)
        bobw.wait_status("logged in")
        us_log, uk_log = self.us.log_size(), self.uk.log_size()
        pdf = make_pdf(self.alice.home, "three.pdf", ["first page", "second page", "third"])
        job, notes = self.send(self.alice, pdf, UK_BOB)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        self.assertEqual([n["page"] for n in notes if n["event"] == "job_page" and
                          n.get("page")], [1, 2, 3], notes)
        done = self.job(self.alice, job["id"])
        self.assertEqual((done["state"], done["pages_sent"]), ("done", 3))
        self.assertIn("UK office", done["text"])             # the far end's CSI
        # audio all the way: the job, its notes, the inbox entry and its notification say so
        self.assertEqual(done.get("media"), "G.711", done)
        self.assertTrue(all(n.get("media") == "G.711" for n in notes
                            if n["event"] in ("job_page", "job_done") and n.get("page")), notes)
        bobw.wait_for(lambda w: fax_received(w), what="fax_received")
        got = fax_received(bobw)[0]
        self.assertEqual(got.get("media"), "G.711", got)
        rc, data, err = self.bob.run("inbox", json=True)
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["from"]), (3, "US office"))
        self.assertEqual(fax.get("media"), "G.711", fax)
        self.assertEqual(digits(fax["number"]), digits(UK_BOB))
        self.check_pixels(self.bob, fax["id"], pdf)
        # the US offered PCMU first, the UK took it
        self.assertIn("answered, G.711 PCMU", self.us.log_since(us_log))
        self.assertIn("G.711 PCMU", self.uk.log_since(uk_log))
        # the carrier saw the INVITE from the US account to the UK's DID
        invites = [r for r in self.kam.requests("INVITE", "us-office")
                   if r.get("did") == digits(UK_BOB)]
        self.assertGreaterEqual(len(invites), 1, self.kam.text()[-3000:])

        # and back: bob faxes alice, in A-law (the UK's first choice)
        alicew = nt.Watcher(self.alice, owner=self)
        alicew.wait_status("logged in")
        us_log, uk_log = self.us.log_size(), self.uk.log_size()
        pdf2 = make_pdf(self.bob.home, "two.pdf", ["reply one", "reply two"])
        job, notes = self.send(self.bob, pdf2, US_ALICE)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        alicew.wait_for(lambda w: fax_received(w), what="fax_received")
        rc, data, err = self.alice.run("inbox", json=True)
        [fax] = [f for f in data["faxes"] if f["id"] == fax_received(alicew)[0]["fax"]]
        self.assertEqual((fax["pages"], fax["from"]), (2, "UK office"))
        self.check_pixels(self.alice, fax["id"], pdf2)
        self.assertIn("answered, G.711 PCMA", self.uk.log_since(uk_log))

    def test_two_calls_at_once(self):
        bobw = nt.Watcher(self.bob, owner=self)
        carolw = nt.Watcher(self.carol, owner=self)
        bobw.wait_status("logged in")
        carolw.wait_status("logged in")
        uk_log = self.uk.log_size()
        jobs = []
        for dest, name in ((UK_BOB, "b"), (UK_CAROL, "c")):
            tif = os.path.join(self.alice.home, name + ".tif")
            nt.make_tiff(tif, pages=2, seed=len(jobs) + 7)
            jobs.append(self.send(self.alice, tif, dest, wait=False)[0])
        for j in jobs:
            end = self.wait_job(self.alice, j["id"], lambda x: x["state"] in ("done", "failed"),
                                "ended")
            self.assertEqual((end["state"], end["dials"]), ("done", 1), end)
        bobw.wait_for(lambda w: fax_received(w), what="bob's fax")
        carolw.wait_for(lambda w: fax_received(w), what="carol's fax")
        # both calls were up at once: the UK server answered the second before it filed the
        # first
        text = self.uk.log_since(uk_log)
        answered = [m.start() for m in re.finditer(r"answered the call from", text)]
        filed = [m.start() for m in re.finditer(r"fax=\d+: received on", text)]
        self.assertEqual((len(answered), len(filed)), (2, 2), text)
        self.assertLess(answered[1], filed[0], text)

    def test_number_the_carrier_does_not_know_fails_at_once(self):
        tif = os.path.join(self.alice.home, "x.tif")
        nt.make_tiff(tif, pages=1)
        job, notes = self.send(self.alice, tif, NOWHERE, expect=5)
        j = self.job(self.alice, job["id"])
        self.assertEqual((j["state"], j["dials"]), ("failed", 1))
        self.assertIn("not in service (404", j["text"])
        self.assertEqual([n["event"] for n in notes].count("job_active"), 1, notes)

    def test_number_not_ours_is_refused_and_nothing_filed(self):
        before = self.uk.db_query("SELECT COUNT(*) FROM inbox")[0][0]
        uk_log = self.uk.log_size()
        tif = os.path.join(self.alice.home, "y.tif")
        nt.make_tiff(tif, pages=1)
        job, notes = self.send(self.alice, tif, UK_NOBODY, expect=5)
        j = self.job(self.alice, job["id"])
        self.assertEqual(j["state"], "failed")
        self.assertIn("not in service (404", j["text"])
        self.assertIn("refused (404): not one of this server's numbers",
                      self.uk.log_since(uk_log))
        self.assertEqual(self.uk.db_query("SELECT COUNT(*) FROM inbox")[0][0], before)

    def test_invite_from_a_stranger_is_refused(self):
        # SIPp sends from 127.0.0.2, an address that is not the carrier's, straight to the UK
        # server's SIP port: 403, no call, and the server says so
        uk_log = self.uk.log_size()
        before = self.uk.db_query("SELECT COUNT(*) FROM inbox")[0][0]
        far = siplab.Sipp(self, None, scenario=siplab.uac_refused(403), service="442079460001",
                          dest="%s:%s" % (nt.HOST, self.uk_trunk["port"]), host="127.0.0.2")
        self.assertEqual(far.wait(), 0, far.errors())
        wait_text(self.uk, lambda t: "INVITE from 127.0.0.2 refused (403)" in t, uk_log)
        self.assertEqual(self.uk.db_query("SELECT COUNT(*) FROM inbox")[0][0], before)

    def test_more_calls_than_channels_are_refused_busy(self):
        # three INVITEs at once for bob, from the carrier's address, to the UK's two channels:
        # two are answered, the third gets 486; nothing crashes, nothing is filed
        uk_log = self.uk.log_size()
        before = self.uk.db_query("SELECT COUNT(*) FROM inbox")[0][0]
        far = siplab.Sipp(self, None, scenario=siplab.UAC_ANSWERED_OR_BUSY,
                          service=digits(UK_BOB), calls=3, at_once=3,
                          dest="%s:%s" % (nt.HOST, self.uk_trunk["port"]))
        self.assertEqual(far.wait(), 0, far.errors())
        wait_text(self.uk, lambda t: t.count("answered the call from 4420794600") == 2 and
                  "refused (486): every channel is busy" in t, uk_log, "two answered, one busy")
        # both answered calls end (no fax came: SIPp sends no audio) and free their channels
        wait_text(self.uk, lambda t: t.count("no page came") == 2, uk_log, "two calls ended")
        self.assertEqual(self.uk.db_query("SELECT COUNT(*) FROM inbox")[0][0], before)
        self.assertTrue(self.uk.running())

    def test_offer_without_g711_is_refused_488(self):
        uk_log = self.uk.log_size()
        g729 = siplab.OFFER.replace("RTP/AVP 8 0", "RTP/AVP 18").replace(
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000")
        self.assertIn("G729", g729)
        far = siplab.Sipp(self, None, scenario=siplab.uac_refused(488, g729),
                          service=digits(UK_BOB), dest="%s:%s" % (nt.HOST, self.uk_trunk["port"]))
        self.assertEqual(far.wait(), 0, far.errors())
        wait_text(self.uk, lambda t: "refused (488)" in t and "G729" in t, uk_log, "488")

    def early_fax(self, scenario, seed):
        """A one-page fax from alice to bob while the carrier plays early media first (SIPp's
        scenario: 183 with SDP, then a failure, on which the carrier connects the call to the
        UK): the US log from the call's start once bob has the fax."""
        far = siplab.Sipp(self, None, scenario=scenario)
        self.kam.set_early(digits(UK_BOB), "sip:%s:%d" % (nt.HOST, far.port))
        self.addCleanup(self.kam.set_early, digits(UK_BOB), None)
        bobw = nt.Watcher(self.bob, owner=self)
        bobw.wait_status("logged in")
        us_log = self.us.log_size()
        tif = os.path.join(self.alice.home, "early-%d.tif" % seed)
        nt.make_tiff(tif, pages=1, seed=seed)
        job, notes = self.send(self.alice, tif, UK_BOB)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        bobw.wait_for(lambda w: fax_received(w), what="fax_received")
        self.assertEqual(far.wait(), 0, far.errors())
        return self.us.log_since(us_log)

    def test_early_media_then_the_answer(self):
        # the 183's SDP is the media the UK's 200 gives (its first RTP port, the US's law):
        # media starts at the 183 and goes on at the 200, the fax only from the 200
        uk_rtp = int(self.uk_trunk["rtp_ports"].split("-")[0])
        text = self.early_fax(siplab.uas_early(nt.HOST, uk_rtp, 0, "PCMU"), 31)
        self.assertIn("rings with early media (183): media started towards it", text)
        self.assertIn("answered, G.711 PCMU (the early media's)", text)

    def test_early_media_elsewhere_the_answer_wins(self):
        # the 183's SDP points at a socket of the test's: our RTP goes there while the
        # announcement plays; the 200's answer (the UK) wins, and the fax arrives
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind((nt.HOST, 0))
        text = self.early_fax(siplab.uas_early(nt.HOST, s.getsockname()[1], 8, "PCMA"), 32)
        self.assertIn("rings with early media (183): media started towards it", text)
        self.assertIn("answered, G.711 PCMU (media moved from the early answer's to the "
                      "answer's)", text)
        s.setblocking(False)
        got = []
        while len(got) < 500:           # bounded: the 2 s announcement is 100 packets
            try:
                got.append(s.recv(2048))
            except BlockingIOError:
                break
        self.assertTrue(got, "no RTP went to the early answer's address")
        self.assertEqual(got[0][1] & 0x7f, 8, got[0][:12])     # A-law, as the 183 said

    def test_garbage_is_ignored_and_faxes_go_on(self):
        # datagrams of noise at the UK's SIP port and across its RTP range (a bounded 400),
        # then a fax as before
        rng = random.Random(7)
        lo, hi = (int(x) for x in self.uk_trunk["rtp_ports"].split("-"))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        for i in range(400):
            port = self.uk_trunk["port"] if i % 2 == 0 else rng.randint(lo, hi)
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400)))
            if i % 8 == 0:
                junk = b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\n" + junk
            s.sendto(junk, (nt.HOST, port))
        bobw = nt.Watcher(self.bob, owner=self)
        bobw.wait_status("logged in")
        tif = os.path.join(self.alice.home, "after-noise.tif")
        nt.make_tiff(tif, pages=1, seed=21)
        job, notes = self.send(self.alice, tif, UK_BOB)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        bobw.wait_for(lambda w: fax_received(w), what="fax_received")
        self.assertTrue(self.uk.running())

    def test_cancel_while_connected_sends_bye(self):
        tif = os.path.join(self.alice.home, "cancel.tif")
        nt.make_tiff(tif, pages=3, seed=41)
        alicew = nt.Watcher(self.alice, owner=self)
        alicew.wait_status("logged in")
        mark = self.kam.mark()
        rc, data, err = self.alice.run("send", tif, "--to", UK_CAROL, json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        jid = data["job"]["id"]
        alicew.wait_for(lambda w: any(n["event"] == "job_page" and n.get("job") == jid and
                                      n.get("page", 0) >= 1 for n in w.notifications()),
                        timeout=120, what="page 1 sent")
        rc, data, err = self.alice.run("cancel", str(jid), json=True)
        self.assertEqual((rc, data["job"]["state"]), (0, "cancelled"), self.alice.describe())
        self.assertGreaterEqual(len(self.kam.wait_requests("BYE", "us-office", 1, since=mark)),
                                1)
        wait_text(self.us, lambda t: "left the line after it was cancelled" in t)

    def inbox(self, client, after=0):
        """The client's faxes with an id above after, oldest first."""
        rc, data, err = client.run("inbox", json=True)
        self.assertEqual(rc, 0, client.describe())
        return sorted((f for f in data["faxes"] if f["id"] > after), key=lambda f: f["id"])

    def fetched_pages(self, client, fax_id):
        tif = os.path.join(client.home, "got-%d.tif" % fax_id)
        rc, out, err = client.run("fetch", str(fax_id), "-o", tif)
        self.assertEqual(rc, 0, client.describe())
        return nt.tiff_bitmaps(tif, client.home)

    def test_zz_far_end_hangs_up_mid_fax_then_retried(self):
        # the UK server stops during page 2 (its calls end with a BYE) and files the pages it
        # got, as a fax machine prints them; the US job is tried again with the cause and the
        # pages the UK confirmed, and once the UK is back the next call sends only the pages
        # after those: carol's inbox holds pages 1..k, then k+1..3, each page once, every
        # page pixel-exact
        pdf = make_pdf(self.alice.home, "long.pdf", ["long one", "long two", "long three"])
        alicew = nt.Watcher(self.alice, owner=self)
        alicew.wait_status("logged in")
        last = max([f["id"] for f in self.inbox(self.carol)] or [0])
        rc, data, err = self.alice.run("send", pdf, "--to", UK_CAROL, json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        jid = data["job"]["id"]
        alicew.wait_for(lambda w: any(n["event"] == "job_page" and n.get("job") == jid and
                                      n.get("page", 0) >= 1 for n in w.notifications()),
                        timeout=120, what="page 1 sent")
        # (a loaded machine may have failed a call before, with no page: not this retry)
        retries = lambda w: [n for n in w.notifications()  # noqa: E731
                             if n["event"] == "job_retry" and n.get("job") == jid]
        before = len(retries(alicew))
        mark = self.kam.mark()
        self.uk.stop()
        restart = self.uk.log_size()
        alicew.wait_for(lambda w: len(retries(w)) > before, timeout=120, what="retry")
        retry = retries(alicew)[before]
        m = re.search(r"call failed after ([12]) of 3 pages: The call dropped.*; the next "
                      r"call sends from page (\d)", retry["text"])
        self.assertIsNotNone(m, retry["text"])
        k = int(m.group(1))
        self.assertEqual(int(m.group(2)), k + 1, retry["text"])
        # the UK's stop hung up with a BYE (through the carrier) and un-registered
        self.assertGreaterEqual(len(self.kam.requests("BYE", None, since=mark)), 1,
                                self.kam.text(mark))
        self.uk.start()
        wait_registered(self, self.uk, "uk-office", restart)
        j = self.wait_job(self.alice, jid, lambda j: j["state"] in ("done", "failed"), "ended")
        # done once the UK is back, with every page counted sent; a loaded machine (the
        # sanitizer build) may need one more call than the second, within the job's tries
        self.assertEqual((j["state"], j["pages_sent"]), ("done", 3), j)
        self.assertGreaterEqual(j["tries"], 2, j)
        first = "page 1" if k == 1 else "pages 1-%d" % k
        self.assertRegex(j["text"], r"; pages? \d(-3)? on this call, pages? 1(-\d)? on an "
                         r"earlier call", j)
        # each call after the first sent from the page after those confirmed before it
        rows = self.us.db_query("SELECT event, page, text FROM notifications WHERE job = ? "
                                "ORDER BY seq", (jid,))
        confirmed, calls = 0, 0
        for event, page, text in rows:
            if "dialling %s" % UK_CAROL in text:
                calls += 1
                if confirmed:
                    self.assertIn("to send from page %d of 3" % (confirmed + 1), text)
            elif re.search(r"page \d of 3 sent", text or ""):
                self.assertGreater(page, confirmed, text)
                confirmed = page
                if calls > 1:
                    self.assertRegex(text, r"; pages? 1(-\d)? went on an earlier call")
        self.assertEqual(confirmed, 3, rows)
        self.assertIn("to send from page %d of 3 (%s went on an earlier call)" % (k + 1, first),
                      [t for e, p, t in rows if "dialling %s" % UK_CAROL in t][1])
        # carol's inbox: the pages of each call in turn, together the document once
        faxes = self.inbox(self.carol, last)
        self.assertGreaterEqual(len(faxes), 2, faxes)
        self.assertEqual(faxes[0]["pages"], k, faxes)
        self.assertIn("the call ended early", faxes[0]["note"], faxes)
        self.assertEqual(sum(f["pages"] for f in faxes), 3, faxes)
        expect = os.path.join(self.carol.home, "expect-long.tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, self.carol.home)
        got = [pg for f in faxes for pg in self.fetched_pages(self.carol, f["id"])]
        self.assertEqual(len(got), len(sent))
        for i, (a, b) in enumerate(zip(sent, got)):
            self.assertEqual(a, b, "page %d differs from what was sent" % (i + 1))


class FarEnd(unittest.TestCase):
    """One server whose trunk's provider (over TCP) is kamailio in registrar mode: a number of digits
    goes to SIPp playing the far end, 4420794699 rings until cancelled (kamailio answers 180,
    then 487 to the CANCEL). What the far end says decides what happens to the job."""

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        cls.kam = siplab.Kamailio(cls)
        # over TCP, where the Trunk cases use UDP
        conf, cls.trunk = trunk_file(cls, "dora", cls.kam.registrar, "PCMA, PCMU",
                                     ring_timeout=10, transport="tcp")
        cls.srv = nt.Server(cls, extra=dict(RETRIES, fax_numbers="%s alice" % US_ALICE,
                                            sip_trunks=conf))
        wait_registered(cls, cls.srv, "dora")
        cls.srv.add_user("alice", "alice-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.tif = os.path.join(self.alice.home, "one.tif")
        nt.make_tiff(self.tif, pages=1)

    def send(self, dest, *opts, expect=5):
        rc, out, err = self.alice.run("send", self.tif, "--to", dest, "--wait", *opts,
                                      global_opts=("--json",), timeout=300)
        self.assertEqual(rc, expect, self.alice.describe())
        lines = stream(out)
        job = [o for o in lines if "job" in o and isinstance(o["job"], dict)][0]["job"]
        return job, [o for o in lines if o.get("type") == "notification" and
                     o.get("job") == job["id"]]

    def test_busy_is_retried_then_fails(self):
        far = siplab.Sipp(self, self.kam, scenario=siplab.uas_final("486 Busy Here"), calls=2)
        job, notes = self.send("5550188", "--dials", "2")
        events = [n["event"] for n in notes]
        self.assertEqual((events.count("job_active"), events.count("job_retry")), (2, 1),
                         notes)
        self.assertIn("busy (486 Busy Here)", notes[-1]["text"])
        self.assertIn("gave up after 2 dials", notes[-1]["text"])
        self.assertEqual(far.wait(), 0, far.errors())

    def test_provider_trouble_is_retried(self):
        far = siplab.Sipp(self, self.kam, scenario=siplab.uas_final("503 Service Unavailable"),
                          calls=2)
        job, notes = self.send("5550189", "--dials", "2")
        retry = [n for n in notes if n["event"] == "job_retry"]
        self.assertEqual(len(retry), 1, notes)
        # a proxy passes a 503 on as 500 (RFC 3261 16.7): either is the provider's trouble
        self.assertIn("the provider could not place it (500 Service Unavailable",
                      retry[0]["text"])
        self.assertIn("gave up after 2 dials", notes[-1]["text"])
        self.assertEqual(far.wait(), 0, far.errors())

    def test_refusal_fails_at_once_in_words(self):
        far = siplab.Sipp(self, self.kam, scenario=siplab.uas_final("403 Forbidden"))
        job, notes = self.send("5550190", "--dials", "5")
        events = [n["event"] for n in notes]
        self.assertEqual((events.count("job_active"), events.count("job_retry")), (1, 0), notes)
        self.assertIn("refused by the network (403 Forbidden)", notes[-1]["text"])
        self.assertEqual(far.wait(), 0, far.errors())

    def test_no_answer_is_cancelled_and_retried(self):
        mark = self.kam.mark()
        job, notes = self.send("4420794699", "--dials", "2")
        events = [n["event"] for n in notes]
        self.assertEqual((events.count("job_active"), events.count("job_retry")), (2, 1), notes)
        self.assertIn("no answer within 10 s", notes[-1]["text"])
        self.assertIn("gave up after 2 dials", notes[-1]["text"])
        # each ring ended with our CANCEL
        self.assertGreaterEqual(len(self.kam.wait_requests("CANCEL", "dora", 2, since=mark)), 2)

    def test_cancel_while_ringing_sends_cancel(self):
        mark = self.kam.mark()
        rc, data, err = self.alice.run("send", self.tif, "--to", "4420794699", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        jid = data["job"]["id"]
        self.kam.wait_requests("INVITE", "dora", 1, since=mark)
        rc, data, err = self.alice.run("cancel", str(jid), json=True)
        self.assertEqual((rc, data["job"]["state"]), (0, "cancelled"), self.alice.describe())
        self.assertGreaterEqual(len(self.kam.wait_requests("CANCEL", "dora", 1, since=mark)), 1)
        wait_text(self.srv, lambda t: "left the line after it was cancelled" in t)


T38_ACCOUNTS = {"us-t38": "us-T38-pw1", "us-offer": "us-Offer-pw4", "uk-t38": "uk-T38-pw2",
                "uk-audio": "uk-Audio-pw3"}
UK_DAVE = "+44 20 7946 0003"          # on the UK's trunk with t38 = off
UK_BOB_2 = "+44 20 7946 0004"         # bob's second number, which the US calls offering T.38
UK_DAVE_2 = "+44 20 7946 0005"        # dave's, the same
T38_DIDS = {"12125550101": "us-t38", "442079460001": "uk-t38", "442079460003": "uk-audio",
            "442079460004": "uk-t38", "442079460005": "uk-audio"}


if __name__ == "__main__":
    nt.main()

#!/usr/bin/env python3
"""kill -9 of either end of a fax call on the SIP trunk, on loopback with Debian's kamailio as
the carrier (the offices of test_sip_trunk.py). The receiving UK server killed while a fax
comes in: at its next start it files the pages it had confirmed, as a fax whose call ended
early, the US call fails, and its retry sends only the pages after those; the fax arrives
complete and pixel-exact, each page once, with no corrupt or empty inbox entry and nothing
left in the spool's tmp, and the UK serves logins again. The sending US server killed during
a call: each page the UK confirmed was saved with the job as it came, so at the next start the
job is dialled again from the page after them and done, and the UK has each page once."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab  # noqa: E402
from test_fax import GS_TIFF, make_pdf  # noqa: E402
from test_sip_trunk import (ACCOUNTS, DIDS, RETRIES, UK_BOB, US_ALICE,  # noqa: E402
                            trunk_file, wait_registered, wait_text)

ACTIVE = 3                           # enum ncfx_job_state


class Kill9(unittest.TestCase):
    """The US and UK servers on one carrier; each test kills one of them mid-fax."""

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        cls.kam = siplab.Kamailio(cls, mode="carrier", accounts=ACCOUNTS, dids=DIDS)
        us_conf, cls.us_trunk = trunk_file(cls, "us-office", cls.kam.registrar, "PCMU, PCMA")
        uk_conf, cls.uk_trunk = trunk_file(cls, "uk-office", cls.kam.registrar, "PCMA, PCMU")
        # the US waits 10 s before calling again after a failed call: time enough for the UK
        # server to start again
        cls.us = nt.Server(cls, extra=dict(RETRIES, retry_failed=10,
                                           fax_numbers="%s alice" % US_ALICE,
                                           fax_station_id="US office", sip_trunks=us_conf))
        cls.uk = nt.Server(cls, extra=dict(RETRIES, fax_numbers="%s bob" % UK_BOB,
                                           fax_station_id="UK office", sip_trunks=uk_conf))
        for srv, name in ((cls.us, "us-office"), (cls.uk, "uk-office")):
            wait_registered(cls, srv, name)
        cls.us.add_user("alice", "alice-pw-secret")
        cls.uk.add_user("bob", "bob-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.us, "alice", "alice-pw-secret", owner=self)
        self.bob = nt.Client(self.uk, "bob", "bob-pw-secret", owner=self)

    def job(self, jid):
        rc, data, err = self.alice.run("jobs", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        return [j for j in data["jobs"] if j["id"] == jid][0]

    def wait_job(self, jid, pred, what, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            j = self.job(jid)
            if pred(j):
                return j
            time.sleep(0.5)
        self.fail("job %d never %s: %s" % (jid, what, self.job(jid)))

    def page_confirmed(self, jid):
        """Waits until the US has page 1 confirmed on the call (the UK is then receiving
        page 2)."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            rows = self.us.db_query("SELECT page FROM notifications WHERE job = ? AND page > 0 "
                                    "AND text LIKE 'page %% of 3 sent%%'", (jid,))
            if rows:
                return
            time.sleep(0.05)
        self.fail("page 1 never confirmed:\n%s" % self.us.log_text()[-3000:])

    def uk_receiving(self):
        """Waits until netcfax-admin status shows a UK line receiving a call."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            rc, out, err = self.uk.admin("status", "--json")
            self.assertEqual(rc, 0, err)
            if any(l["state"] == "receiving" for l in json.loads(out)["lines"]):
                return
            time.sleep(0.1)
        self.fail("the UK never showed a line receiving")

    def inbox(self, after=0):
        rc, data, err = self.bob.run("inbox", json=True)
        self.assertEqual(rc, 0, self.bob.describe())
        return sorted((f for f in data["faxes"] if f["id"] > after), key=lambda f: f["id"])

    def pages_of(self, fax_id):
        tif = os.path.join(self.bob.home, "got-%d.tif" % fax_id)
        rc, out, err = self.bob.run("fetch", str(fax_id), "-o", tif)
        self.assertEqual(rc, 0, self.bob.describe())
        return nt.tiff_bitmaps(tif, self.bob.home)

    def expected(self, pdf):
        tif = os.path.join(self.bob.home, os.path.basename(pdf) + ".tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + tif, pdf], check=True, timeout=60)
        return nt.tiff_bitmaps(tif, self.bob.home)

    def spool_tmp(self):
        return sorted(os.listdir(os.path.join(self.uk.spool_dir, "tmp")))

    def test_receiver_killed_mid_fax_files_what_it_confirmed_and_the_retry_sends_the_rest(self):
        last = max([f["id"] for f in self.inbox()] or [0])
        pdf = make_pdf(self.alice.home, "k9-rx.pdf", ["killed one", "killed two", "three"])
        rc, data, err = self.alice.run("send", pdf, "--to", UK_BOB, json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        jid = data["job"]["id"]
        self.uk_receiving()
        self.page_confirmed(jid)
        self.assertEqual(self.uk.kill9(), -9)
        # the crash left the call's directory: its note and the pages written so far
        left = [d for d in self.spool_tmp() if d.startswith("in-")]
        self.assertEqual(len(left), 1, self.spool_tmp())
        restart = self.uk.log_size()
        self.uk.start()
        wait_registered(self, self.uk, "uk-office", restart)
        self.assertIn("inbox: filed 1 fax cut short when this server stopped",
                      self.uk.log_since(restart))
        # the UK serves a login again, and bob has the pages that came before the crash
        faxes = self.inbox(last)
        self.assertEqual(len(faxes), 1, faxes)
        self.assertIn("the call ended early: this server stopped during the call",
                      faxes[0]["note"])
        # the US call failed without a word from the UK (no BYE came) and is tried again,
        # from the page after those the UK confirmed
        j = self.wait_job(jid, lambda j: j["state"] in ("done", "failed"), "ended")
        self.assertEqual((j["state"], j["pages_sent"]), ("done", 3), j)
        self.assertGreaterEqual(j["tries"], 2, j)
        texts = [r[0] for r in self.us.db_query("SELECT text FROM notifications WHERE job = ? "
                                                "ORDER BY seq", (jid,))]
        retry = [t for t in texts if "call failed after" in t][0]
        k = int(re.search(r"call failed after (\d) of 3 pages", retry).group(1))
        self.assertGreaterEqual(k, 1, retry)
        self.assertIn("the next call sends from page %d" % (k + 1), retry)
        self.assertTrue(any("to send from page %d of 3" % (k + 1) in t for t in texts), texts)
        # bob's inbox: pages 1..k from before the crash, then the rest; each page once,
        # every page pixel-exact, no empty entry
        wait_text(self.uk, lambda t: "fax=%d: received on" % (faxes[0]["id"] + 1) in t or
                  len(self.inbox(last)) >= 2, restart, "the rest of the fax filed")
        faxes = self.inbox(last)
        self.assertEqual(faxes[0]["pages"], k, faxes)
        self.assertTrue(all(f["pages"] > 0 for f in faxes), faxes)
        self.assertEqual(sum(f["pages"] for f in faxes), 3, faxes)
        sent = self.expected(pdf)
        got = [pg for f in faxes for pg in self.pages_of(f["id"])]
        self.assertEqual(len(got), len(sent))
        for i, (a, b) in enumerate(zip(sent, got)):
            self.assertEqual(a, b, "page %d differs from what was sent" % (i + 1))
        # every inbox entry of the UK is a readable fax with pages; nothing stray in tmp
        for f in self.inbox():
            self.assertGreater(f["pages"], 0, f)
            self.assertEqual(len(self.pages_of(f["id"])), f["pages"], f)
        self.assertEqual(self.spool_tmp(), [])

    def test_sender_killed_mid_call_dials_again_at_start_after_the_confirmed_pages(self):
        last = max([f["id"] for f in self.inbox()] or [0])
        pdf = make_pdf(self.alice.home, "k9-tx.pdf", ["sender one", "sender two", "three"])
        rc, data, err = self.alice.run("send", pdf, "--to", UK_BOB, json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        jid = data["job"]["id"]
        self.page_confirmed(jid)
        self.assertEqual(self.us.kill9(), -9)
        # the job is still on the line in the store, with the page the UK confirmed
        self.assertEqual(self.us.db_query("SELECT state, pages_sent FROM jobs WHERE id = ?",
                                          (jid,)), [(ACTIVE, 1)])
        restart = self.us.log_size()
        self.us.start()
        wait_registered(self, self.us, "us-office", restart)
        j = self.wait_job(jid, lambda j: j["state"] in ("done", "failed"), "ended")
        self.assertEqual((j["state"], j["pages_sent"], j["tries"]), ("done", 3, 2), j)
        texts = [r[0] for r in self.us.db_query("SELECT text FROM notifications WHERE job = ? "
                                                "ORDER BY seq", (jid,))]
        self.assertTrue(any("the server stopped during the call" in t for t in texts), texts)
        self.assertTrue(any("to send from page 2 of 3 (page 1 went on an earlier call)" in t
                            for t in texts), texts)
        # bob has page 1 from the call cut by the crash (the UK files it when it gives up
        # on the silent line) and pages 2-3 from the call after the restart: each once,
        # pixel-exact
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and sum(f["pages"] for f in self.inbox(last)) < 3:
            time.sleep(0.5)
        faxes = sorted(self.inbox(last), key=lambda f: (not f.get("note"), f["id"]))
        self.assertEqual([(f["pages"], "ended early" in f.get("note", "")) for f in faxes],
                         [(1, True), (2, False)], faxes)
        sent = self.expected(pdf)
        got = [pg for f in faxes for pg in self.pages_of(f["id"])]
        self.assertEqual(len(got), len(sent))
        for i, (a, b) in enumerate(zip(sent, got)):
            self.assertEqual(a, b, "page %d differs from what was sent" % (i + 1))


if __name__ == "__main__":
    nt.main()

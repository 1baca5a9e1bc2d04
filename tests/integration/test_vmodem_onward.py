#!/usr/bin/env python3
"""A fax program's fax goes out on netcfax's own lines: efax on server A's virtual modem
dials alice's number, which is not A's. A receives the fax whole (store and forward), queues
it as a job of virtual_modem_account (bob), and sends it on its modem line, which drives
server B's virtual modem; alice's inbox on B gets efax's pages, pixel for pixel. Then:
efax -> A's T.31 -> A's fax engine -> bob's job -> A's Class 1 modem line -> B's T.31 ->
B's fax engine -> alice. A server whose virtual_modem_account is no user refuses such a dial
(NO CARRIER) and says what to do."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
from test_fax import make_pdf, stream  # noqa: E402
from test_modem_line import write_modem_file  # noqa: E402
from test_vmodem_efax import EFAX, EFAX_ID, EFAX_TOP, GS_TIFF_F, start_efax  # noqa: E402

ALICE_NUMBER = "5550101"          # alice's, on server B
FAX_TIMEOUT = 300                 # seconds, a bound: each leg of 2 pages takes under a minute


class VirtualModemOnward(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(EFAX, os.X_OK):
            raise AssertionError("efax is not installed (scripts/install-deps --test)")
        cls.b = nt.Server(cls, extra={
            "fax_numbers": "%s alice" % ALICE_NUMBER,
            "virtual_modems": 1,
        })
        cls.b.add_user("alice", "alice-pw-secret")
        cls.dir = nt.make_temp_dir(cls, prefix="ncfx-onward-")
        lock_dir = os.path.join(cls.dir, "lock")
        os.mkdir(lock_dir)
        modem_file = os.path.join(cls.dir, "b.conf")
        write_modem_file(modem_file, os.path.join(cls.b.state_dir, "modems", "ttyNCFX0"),
                         lock_dir)
        cls.a = nt.Server(cls, extra={
            "modems": modem_file,
            "virtual_modems": 1,
            "virtual_modem_account": "bob",
            "retry_no_answer": 600,
            "retry_failed": 600,
        })
        cls.a.add_user("bob", "bob-pw-secret")
        cls.dev = os.path.join(cls.a.state_dir, "modems", "ttyNCFX0")

    def wait_exit(self, proc, path):
        try:
            return proc.wait(timeout=FAX_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            with open(path) as f:
                self.fail("efax did not finish within %d s:\n%s" % (FAX_TIMEOUT, f.read()))

    def test_efax_on_a_reaches_alice_on_b_through_a_modem_line(self):
        bob = nt.Client(self.a, "bob", "bob-pw-secret", owner=self)
        alice = nt.Client(self.b, "alice", "alice-pw-secret", owner=self)
        pdf = make_pdf(bob.home, "out.pdf", ["sent on, one", "sent on, two"])
        pattern = os.path.join(bob.home, "out-%d.tif")
        subprocess.run(GS_TIFF_F + ["-sOutputFile=" + pattern, pdf], check=True, timeout=60)
        tifs = [pattern % n for n in (1, 2)]
        bob_watch = nt.Watcher(bob, owner=self)
        bob_watch.wait_status("logged in")
        alice_watch = nt.Watcher(alice, owner=self)
        alice_watch.wait_status("logged in")
        start = time.monotonic()
        proc = start_efax(self, self.dev, bob.home, ["-t", "T" + ALICE_NUMBER] + tifs)
        log = os.path.join(bob.home, "efax.log")
        # The operator sees each leg on its own line: the program's call coming in on the
        # virtual modems, then bob's job going out on the modem line.
        seen = set()
        deadline = time.monotonic() + FAX_TIMEOUT
        while len(seen) < 2 and time.monotonic() < deadline:
            rc, out, err = self.a.admin("status", "--json")
            self.assertEqual(rc, 0, err)
            for ln in json.loads(out)["lines"]:
                if (ln["name"], ln["state"], ln["dest"]) == ("virtual modems", "receiving",
                                                             ALICE_NUMBER):
                    self.assertEqual(ln["remote_id"], "ttyNCFX0", ln)
                    seen.add("in")
                if ln["name"].startswith("modem ") and ln["state"] == "busy":
                    self.assertEqual((ln["user"], ln["dest"]), ("bob", ALICE_NUMBER), ln)
                    seen.add("out")
            time.sleep(0.5)
        self.assertEqual(seen, {"in", "out"}, self.a.log_text()[-4000:])
        rc = self.wait_exit(proc, log)
        with open(log) as f:
            self.assertEqual(rc, 0, f.read() + self.a.log_text()[-4000:])
        handed = time.monotonic() - start
        # the fax became bob's job to alice's number, and went out on A's modem line
        bob_watch.wait_for(lambda w: any(n["event"] == "job_done" for n in w.notifications()),
                           timeout=FAX_TIMEOUT, what="job_done")
        sent_on = time.monotonic() - start
        queued = [n for n in bob_watch.notifications() if n["event"] == "job_queued"]
        self.assertEqual(len(queued), 1, bob_watch.notifications())
        rc, data, err = bob.run("jobs", json=True)
        self.assertEqual(rc, 0, bob.describe())
        [job] = [j for j in data["jobs"] if j["id"] == queued[0]["job"]]
        self.assertEqual((job["state"], job["pages_sent"], job["dest"], job.get("media")),
                         ("done", 2, ALICE_NUMBER, "modem"), job)
        self.assertIn("fax from %s on virtual modem ttyNCFX0" % EFAX_ID, job["filename"], job)
        self.assertIn("sent on as a job", self.a.log_text())
        print("efax -> A: handed over in %.1f s; A's modem line -> alice on B: done at %.1f s"
              % (handed, sent_on), flush=True)
        # alice has efax's pages, as efax put them on the line
        alice_watch.wait_for(
            lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
            timeout=60, what="fax_received")
        got = [n for n in alice_watch.notifications() if n["event"] == "fax_received"][0]
        rc, data, err = alice.run("inbox", json=True)
        self.assertEqual(rc, 0, alice.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"]), (2, ALICE_NUMBER), fax)
        out = os.path.join(alice.home, "got.tif")
        rc, _, err = alice.run("fetch", str(fax["id"]), "-o", out)
        self.assertEqual(rc, 0, alice.describe())
        sent = [nt.tiff_bitmaps(t, bob.home)[0] for t in tifs]
        received = nt.tiff_bitmaps(out, alice.home)
        self.assertEqual(len(received), 2)
        for i, (a, b) in enumerate(zip(sent, received)):
            # efax's header space atop, and the page but its last (white) scan line, as in
            # test_vmodem_efax.py
            w, h, bits = a
            row = (w + 7) // 8
            self.assertEqual(b[:2], (w, EFAX_TOP + h - 1), "page %d's size" % (i + 1))
            self.assertEqual(b[2][:row * EFAX_TOP], bytes(row * EFAX_TOP))
            self.assertEqual(b[2][row * EFAX_TOP:], bits[:-row],
                             "page %d differs from what efax sent" % (i + 1))
        self.assertNotEqual(received[0][2], received[1][2])

    def test_an_account_that_is_no_user_refuses(self):
        c = nt.Server(self, extra={
            "virtual_modems": 1,
            "virtual_modem_account": "nobody",
        })
        self.assertIsNotNone(c.wait_log(
            lambda ln: "virtual_modem_account 'nobody' is no user of this server" in ln, 0,
            timeout=10), c.log_text())
        home = nt.make_temp_dir(self, prefix="ncfx-onward-")
        dev = os.path.join(c.state_dir, "modems", "ttyNCFX0")
        offset = c.log_size()
        log = os.path.join(home, "efax-no.log")
        proc = start_efax(self, dev, home, ["-t", "T5557777", "/dev/null"], "efax-no.log")
        rc = self.wait_exit(proc, log)
        with open(log) as f:
            text = f.read()
        self.assertNotEqual(rc, 0, text)
        self.assertIn("NO CARRIER", text)
        self.assertIsNotNone(c.wait_log(
            lambda ln: "refused: virtual_modem_account 'nobody' is no user of this server "
                       "(netcfax-admin user add nobody)" in ln, offset, timeout=10),
            c.log_text())


if __name__ == "__main__":
    nt.main()

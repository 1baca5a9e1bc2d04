#!/usr/bin/env python3
"""A fax program on a virtual modem: Debian's efax drives netcfaxd's virtual Class 1 modem
(a pseudo-terminal, spandsp's T.31 behind it) in real time, both ways. efax sends three
one-page TIFF-F files to alice's number and they land in her inbox as a three-page fax,
pixel for pixel (allowing for what efax itself adds and drops); netcfax
faxes a PDF to the number routed to the modem while efax waits to answer, and efax's
received pages are the PDF's, pixel for pixel. A dial to a number that is not ours is
refused with NO CARRIER when the modems have no account to send it on as
(test_vmodem_onward.py has one)."""
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
from test_fax import GS_TIFF, make_pdf, stream  # noqa: E402

EFAX = shutil.which("efax") or "/usr/bin/efax"
ALICE_NUMBER = "5550101"
MODEM_NUMBER = "5550150"          # routed to the virtual modems
# Rendered as efax wants its input: TIFF-F, one-dimensional (MH) G3, fine resolution.
GS_TIFF_F = [a if a != "-sDEVICE=tiffg4" else "-sDEVICE=tiffg3" for a in GS_TIFF]
# efax on a virtual modem. -o1: Class 1, without probing (the modem is Class 1 only).
# -h "": no page header; efax still puts its header space, 20 white scan lines, atop every
# page it sends (HDRSPCE in efax.c), which the comparison below allows for. -l: the station
# id efax sends (TSI). -v: what efax logs (errors, warnings, info, negotiation, commands,
# frames, modem responses, reception errors), for a failure's report.
EFAX_ID = "5550199"
EFAX_OPTS = ["-o1", "-h", "", "-l", EFAX_ID, "-v", "ewinchmr"]
EFAX_TOP = 20                     # white scan lines efax adds atop each page it sends
FAX_TIMEOUT = 240                 # seconds, a bound: a 3-page fax takes about a minute


def start_efax(owner, device, home, args, log_name="efax.log"):
    """Starts efax on a virtual modem, in home; its output goes to home/log_name. owner's
    cleanup kills it if it is still running."""
    log = open(os.path.join(home, log_name), "w")
    proc = subprocess.Popen([EFAX, "-d", device] + EFAX_OPTS + list(args),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=home, start_new_session=True)
    owner.addCleanup(log.close)

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    owner.addCleanup(stop)
    return proc


def efax_version():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "efax"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


class VirtualModemEfax(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(EFAX, os.X_OK):
            raise AssertionError("efax is not installed (scripts/install-deps --test)")
        print("efax %s" % efax_version(), flush=True)
        cls.srv = nt.Server(cls, extra={
            "fax_numbers": "%s alice" % ALICE_NUMBER,
            "virtual_modems": 1,
            "virtual_modem_numbers": MODEM_NUMBER,
            "virtual_modem_ring_timeout": 60,
            "retry_no_answer": 5,
            "retry_failed": 5,
        })
        cls.srv.add_user("alice", "alice-pw-secret")
        cls.dev = os.path.join(cls.srv.state_dir, "modems", "ttyNCFX0")

    def setUp(self):
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.assertTrue(os.path.islink(self.dev), self.dev)

    def efax(self, *args, log_name="efax.log"):
        """Starts efax on the virtual modem; its output goes to a file of the test."""
        return start_efax(self, self.dev, self.alice.home, args, log_name)

    def efax_log(self, name="efax.log"):
        with open(os.path.join(self.alice.home, name)) as f:
            return f.read()

    def wait_exit(self, proc, name="efax.log"):
        try:
            return proc.wait(timeout=FAX_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            self.fail("efax did not finish within %d s:\n%s" % (FAX_TIMEOUT, self.efax_log(name)))

    def test_efax_sends_three_pages_to_alice(self):
        pdf = make_pdf(self.alice.home, "out.pdf", ["from efax one", "from efax two",
                                                     "from efax three"])
        # One file per page: efax 0.9a reads a page's G3 data up to its RTC, which
        # ghostscript does not write, so in a multi-page file a page would run on into the
        # next pages' data (and their TIFF directories) to the end of the file.
        pattern = os.path.join(self.alice.home, "out-%d.tif")
        subprocess.run(GS_TIFF_F + ["-sOutputFile=" + pattern, pdf], check=True, timeout=60)
        tifs = [pattern % n for n in (1, 2, 3)]
        watch = nt.Watcher(self.alice, owner=self)
        watch.wait_status("logged in")
        start = time.monotonic()
        proc = self.efax("-t", "T" + ALICE_NUMBER, *tifs)
        rc = self.wait_exit(proc)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, self.efax_log())
        watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                       timeout=60, what="fax_received")
        got = [n for n in watch.notifications() if n["event"] == "fax_received"][0]
        rc, data, err = self.alice.run("inbox", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"]), (3, ALICE_NUMBER), fax)
        print("efax -> alice: 3 pages in %.1f s at %s bit/s" % (took, got.get("bit_rate")),
              flush=True)
        out = os.path.join(self.alice.home, "got.tif")
        rc, _, err = self.alice.run("fetch", str(fax["id"]), "-o", out)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(fax["from"].strip(), EFAX_ID, fax)
        sent = [nt.tiff_bitmaps(t, self.alice.home)[0] for t in tifs]
        received = nt.tiff_bitmaps(out, self.alice.home)
        self.assertEqual(len(received), 3)
        for i, (a, b) in enumerate(zip(sent, received)):
            # efax's header space, white, then the page as efax read it from the file: all
            # but its last scan line, which efax 0.9a drops (its reader ends a line at the
            # next EOL, and ghostscript's G3 has no RTC after the last line); that line is
            # the white of the bottom margin
            w, h, bits = a
            row = (w + 7) // 8
            self.assertEqual(bits[-row:], bytes(row), "page %d's last line" % (i + 1))
            self.assertEqual(b[:2], (w, EFAX_TOP + h - 1), "page %d's size" % (i + 1))
            self.assertEqual(b[2][:row * EFAX_TOP], bytes(row * EFAX_TOP),
                             "page %d's top is not white" % (i + 1))
            self.assertEqual(b[2][row * EFAX_TOP:], bits[:-row],
                             "page %d differs from what efax sent" % (i + 1))
        self.assertNotEqual(received[0][2], received[1][2])

    def test_netcfax_sends_to_efax_answering(self):
        prefix = os.path.join(self.alice.home, "rx")
        offset = self.srv.log_size()
        proc = self.efax("-w", "-iS0=1", "-r", prefix, log_name="efax-rx.log")
        self.assertIsNotNone(self.srv.wait_log(lambda ln: "a program opened" in ln, offset,
                                               timeout=30), self.efax_log("efax-rx.log"))
        # efax has set the modem up and waits for a call: a ring before that would come in
        # the middle of its set-up commands, as on a real line
        deadline = time.monotonic() + 30
        while "waiting for activity" not in self.efax_log("efax-rx.log"):
            self.assertLess(time.monotonic(), deadline, self.efax_log("efax-rx.log"))
            self.assertIsNone(proc.poll(), self.efax_log("efax-rx.log"))
            time.sleep(0.1)
        pdf = make_pdf(self.alice.home, "in.pdf", ["to efax one", "to efax two",
                                                    "to efax three"])
        start = time.monotonic()
        rc, out, err = self.alice.run("send", pdf, "--to", MODEM_NUMBER, "--wait",
                                      global_opts=("--json",), timeout=FAX_TIMEOUT)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, self.alice.describe() + self.efax_log("efax-rx.log"))
        lines = stream(out)
        job = [o for o in lines if "job" in o and isinstance(o["job"], dict)][0]["job"]
        rc, data, err = self.alice.run("jobs", json=True)
        [done] = [j for j in data["jobs"] if j["id"] == job["id"]]
        self.assertEqual((done["state"], done["pages_sent"]), ("done", 3), done)
        print("netcfax -> efax: 3 pages in %.1f s at %s bit/s" % (took, done.get("bit_rate")),
              flush=True)
        rc = self.wait_exit(proc, "efax-rx.log")
        self.assertEqual(rc, 0, self.efax_log("efax-rx.log"))
        files = sorted(f for f in os.listdir(self.alice.home) if f.startswith("rx."))
        self.assertEqual(len(files), 3, (files, self.efax_log("efax-rx.log")))
        expect = os.path.join(self.alice.home, "expect.tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, self.alice.home)
        for i, name in enumerate(files):
            [page] = nt.tiff_bitmaps(os.path.join(self.alice.home, name), self.alice.home)
            self.assertEqual(page[:2], sent[i][:2], "page %d's size" % (i + 1))
            self.assertEqual(page, sent[i], "page %d differs from what was sent" % (i + 1))

    def test_a_number_not_ours_is_refused(self):
        offset = self.srv.log_size()
        proc = self.efax("-t", "T5559999", "/dev/null", log_name="efax-no.log")
        rc = self.wait_exit(proc, "efax-no.log")
        self.assertNotEqual(rc, 0, self.efax_log("efax-no.log"))
        self.assertIn("NO CARRIER", self.efax_log("efax-no.log"))
        self.assertIsNotNone(self.srv.wait_log(
            lambda ln: "not one of this server's numbers: refused (NO CARRIER); set "
                       "virtual_modem_account" in ln, offset, timeout=10))


if __name__ == "__main__":
    nt.main()

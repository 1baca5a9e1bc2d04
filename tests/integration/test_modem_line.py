#!/usr/bin/env python3
"""A fax modem line: server A drives a Class 1 fax modem on a serial device with its own
T.30 (class1.c). The modem is server B's virtual modem (spandsp's T.31 on a pseudo-terminal),
so a fax from A's user goes A's modem line -> B's T.31 -> B's fax engine -> alice's inbox on
B, and is compared pixel for pixel with what was sent. A number B does not have is refused
by B's modem (NO CARRIER), which A reports as no answer; a modem device that is missing and
one whose lock file a live process holds are refused with words that say what to do.

Faults on the line: a fax cancelled mid-page on either side (the receiving side files the
pages confirmed, noted as ended early), a modem that answers no command (B stopped), a
modem device that goes away mid-page (B killed, the retry sending the pages left), and a
dial answered BUSY while a call rings in on the same modem."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
from test_fax import GS_TIFF, make_pdf, stream  # noqa: E402

ALICE_NUMBER = "5550101"          # alice's, on server B
MODEM_NUMBER = "5550150"          # B's virtual modem's own number (not used here)
FAX_TIMEOUT = 300                 # seconds, a bound: a 2-page fax takes well under a minute


def write_modem_file(path, device, lock_dir):
    with open(path, "w") as f:
        f.write("device = %s\n" % device)
        f.write("speed = 115200\n")
        f.write("flow_control = none\n")
        f.write("lock_dir = %s\n" % lock_dir)
        f.write("dial_timeout = 60\n")


def start_pair(cls, a_extra, b_extra=None, modem_lines=""):
    """Server B (alice's number, a virtual modem with MODEM_NUMBER) and server A, whose modem
    line drives B's virtual modem (its modem file gets modem_lines too), with bob on A. Sets
    cls.a, cls.b, cls.dev (B's modem), cls.dir, cls.lock_dir and cls.modem_file."""
    cls.b = nt.Server(cls, extra=dict({
        "fax_numbers": "%s alice" % ALICE_NUMBER,
        "virtual_modems": 1,
        "virtual_modem_numbers": MODEM_NUMBER,
    }, **(b_extra or {})))
    cls.b.add_user("alice", "alice-pw-secret")
    cls.dev = os.path.join(cls.b.state_dir, "modems", "ttyNCFX0")
    cls.dir = nt.make_temp_dir(cls, prefix="ncfx-modem-")
    cls.lock_dir = os.path.join(cls.dir, "lock")
    os.mkdir(cls.lock_dir)
    cls.modem_file = os.path.join(cls.dir, "b.conf")
    write_modem_file(cls.modem_file, cls.dev, cls.lock_dir)
    with open(cls.modem_file, "a") as f:
        f.write(modem_lines)
    cls.a = nt.Server(cls, extra=dict({"modems": cls.modem_file}, **a_extra))
    cls.a.add_user("bob", "bob-pw-secret")


class ModemLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_pair(cls, {"retry_no_answer": 600, "retry_failed": 600})

    def setUp(self):
        self.bob = nt.Client(self.a, "bob", "bob-pw-secret", owner=self)
        self.alice = nt.Client(self.b, "alice", "alice-pw-secret", owner=self)

    def job(self, client, job_id):
        rc, data, err = client.run("jobs", json=True)
        self.assertEqual(rc, 0, client.describe())
        [j] = [j for j in data["jobs"] if j["id"] == job_id]
        return j

    def submit(self, pdf, number):
        rc, out, err = self.bob.run("send", pdf, "--to", number, global_opts=("--json",))
        self.assertEqual(rc, 0, self.bob.describe())
        return [o for o in stream(out) if "job" in o and isinstance(o["job"], dict)][0]["job"]

    def wait_reason(self, job_id, text, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(self.bob, job_id)
            if text in j.get("text", ""):
                return j
            self.assertLess(time.monotonic(), deadline, (j, self.a.log_text()[-4000:]))
            time.sleep(0.5)

    def wait_job(self, client, job_id, pred, what, timeout=FAX_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(client, job_id)
            if pred(j):
                return j
            self.assertLess(time.monotonic(), deadline, (what, j, self.a.log_text()[-4000:]))
            time.sleep(0.3)

    def test_a_cancel_mid_page(self):
        """bob cancels his 3-page fax while page 2 is on the line: A hangs up mid-page, the
        job is cancelled with page 1 confirmed, B files page 1 for alice noting that the call
        ended early, and A lets the modem go. The tests after this one (2 pages to alice)
        show both servers still serve."""
        pdf = make_pdf(self.bob.home, "cancel.pdf", ["cancel one", "cancel two", "cancel three"])
        watch = nt.Watcher(self.alice, owner=self)
        watch.wait_status("logged in")
        mark = self.a.log_size()
        job = self.submit(pdf, ALICE_NUMBER)
        # page 1 confirmed: page 2 follows on the line at once (same modulation, no new DCS)
        self.wait_job(self.bob, job["id"], lambda j: j.get("pages_sent", 0) >= 1, "page 1 sent")
        rc, _, err = self.bob.run("cancel", str(job["id"]))
        self.assertEqual(rc, 0, self.bob.describe())
        self.assertIsNotNone(self.a.wait_log(lambda ln: "left the line after it was cancelled"
                                             in ln, mark, timeout=60), self.a.log_text()[-6000:])
        j = self.job(self.bob, job["id"])
        self.assertEqual((j["state"], j["pages_sent"]), ("cancelled", 1), j)
        watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                       timeout=90, what="fax_received")
        got = [n for n in watch.notifications() if n["event"] == "fax_received"][0]
        self.assertIn("(the call ended early)", got["text"], got)
        rc, data, err = self.alice.run("inbox", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"]), (1, ALICE_NUMBER), fax)
        self.assertIn("1 page; the call ended early", fax.get("note", ""), fax)
        print("cancelled mid-page 2: alice's inbox says '%s'" % fax["note"], flush=True)
        # what B filed is page 1 as it was sent, nothing of the page cut short
        self.assertEqual(fetched_pages(self.alice, fax["id"]), sent_pages(self.bob, pdf)[:1])
        # the modem was let go
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_a_frozen_modem(self):
        """B stopped (SIGSTOP): its virtual modem's device stays open and takes A's bytes but
        answers nothing, as a modem switched off behind a cable would. A's try ends saying
        what to check and is retried later; A serves meanwhile."""
        os.kill(self.b.proc.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, self.b.proc.pid, signal.SIGCONT)
        pdf = make_pdf(self.bob.home, "frozen.pdf", ["frozen"])
        job = self.submit(pdf, ALICE_NUMBER)
        j = self.wait_reason(job["id"], "did not answer ATZ in 3 s")
        self.assertIn("is it on and cabled, does it take 115200 bit/s, is another program "
                      "using it?", j["text"], j)
        self.assertIn("the call could not be placed", j["text"], j)
        self.assertIn("next try at", j["text"], j)
        self.assertEqual((j["state"], j["pages_sent"]), ("sleeping", 0), j)
        # A answers its users and its operator while B is still stopped
        rc, out, err = self.a.admin("status")
        self.assertEqual(rc, 0, (out, err))
        rc, data, err = self.bob.run("jobs", json=True)
        self.assertEqual(rc, 0, self.bob.describe())
        self.assertEqual(os.listdir(self.lock_dir), [])
        os.kill(self.b.proc.pid, signal.SIGCONT)
        rc, _, err = self.bob.run("cancel", str(job["id"]))
        self.assertEqual(rc, 0, self.bob.describe())

    def test_a_sends_two_pages_to_alice_on_b(self):
        self.assertIn("answers as a Class 1 fax modem", self.a.log_text())
        pdf = make_pdf(self.bob.home, "out.pdf", ["modem page one", "modem page two"])
        watch = nt.Watcher(self.alice, owner=self)
        watch.wait_status("logged in")
        start = time.monotonic()
        rc, out, err = self.bob.run("send", pdf, "--to", ALICE_NUMBER, "--wait",
                                    global_opts=("--json",), timeout=FAX_TIMEOUT)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, self.bob.describe() + self.a.log_text()[-6000:])
        job = [o for o in stream(out) if "job" in o and isinstance(o["job"], dict)][0]["job"]
        done = self.job(self.bob, job["id"])
        self.assertEqual((done["state"], done["pages_sent"]), ("done", 2), done)
        self.assertEqual(done.get("media"), "modem", done)
        print("A modem -> B alice: 2 pages in %.1f s at %s bit/s" % (took, done.get("bit_rate")),
              flush=True)
        watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                       timeout=60, what="fax_received")
        got = [n for n in watch.notifications() if n["event"] == "fax_received"][0]
        rc, data, err = self.alice.run("inbox", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"]), (2, ALICE_NUMBER), fax)
        out = os.path.join(self.alice.home, "got.tif")
        rc, _, err = self.alice.run("fetch", str(fax["id"]), "-o", out)
        self.assertEqual(rc, 0, self.alice.describe())
        expect = os.path.join(self.bob.home, "expect.tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, self.bob.home)
        received = nt.tiff_bitmaps(out, self.alice.home)
        self.assertEqual(len(received), 2)
        for i, (a, b) in enumerate(zip(sent, received)):
            self.assertEqual(b[:2], a[:2], "page %d's size" % (i + 1))
            self.assertEqual(b, a, "page %d differs from what was sent" % (i + 1))
        self.assertNotEqual(received[0][2], received[1][2])
        # the modem was let go: its lock file is gone
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_a_number_b_does_not_have(self):
        pdf = make_pdf(self.bob.home, "nobody.pdf", ["to nobody"])
        job = self.submit(pdf, "5559999")
        j = self.wait_reason(job["id"], "the modem said NO CARRIER")
        self.assertNotEqual(j["state"], "done", j)
        self.assertIn("no answer", j["text"], j)
        rc, _, err = self.bob.run("cancel", str(job["id"]))

    def test_a_lock_held_by_a_live_process(self):
        holder = subprocess.Popen(["sleep", "300"])
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        lock = os.path.join(self.lock_dir, "LCK..ttyNCFX0")
        with open(lock, "w") as f:
            f.write("%10d\n" % holder.pid)
        self.addCleanup(lambda: os.path.exists(lock) and os.unlink(lock))
        pdf = make_pdf(self.bob.home, "locked.pdf", ["locked"])
        job = self.submit(pdf, ALICE_NUMBER)
        j = self.wait_reason(job["id"], "is in use by PID %d" % holder.pid)
        self.assertNotEqual(j["state"], "done", j)
        # the lock is the holder's still
        with open(lock) as f:
            self.assertEqual(int(f.read()), holder.pid)
        rc, _, err = self.bob.run("cancel", str(job["id"]))

    def test_a_missing_device_says_what_to_do(self):
        path = os.path.join(self.dir, "gone.conf")
        write_modem_file(path, "/dev/ttyNCFXgone", self.lock_dir)
        c = nt.Server(self, extra={"modems": path})
        self.assertIsNotNone(c.wait_log(
            lambda ln: "no such device /dev/ttyNCFXgone: is the modem plugged in? "
                       "`ls -l /dev/serial/by-id/`" in ln, 0, timeout=10), c.log_text())


class ModemAnswers(unittest.TestCase):
    """Server C's modem has carol's number: D's virtual modem rings it (dave faxes the number
    D routes to its virtual modems), C answers after one RING and the fax lands in carol's
    inbox on C, pixel for pixel."""

    @classmethod
    def setUpClass(cls):
        cls.d = nt.Server(cls, extra={
            "fax_numbers": "5550102 dave",
            "virtual_modems": 1,
            "virtual_modem_numbers": "5550160",
            "virtual_modem_ring_timeout": 30,
        })
        cls.d.add_user("dave", "dave-pw-secret")
        cls.dir = nt.make_temp_dir(cls, prefix="ncfx-modem-")
        lock_dir = os.path.join(cls.dir, "lock")
        os.mkdir(lock_dir)
        cls.modem_file = os.path.join(cls.dir, "d.conf")
        write_modem_file(cls.modem_file, os.path.join(cls.d.state_dir, "modems", "ttyNCFX0"),
                         lock_dir)
        with open(cls.modem_file, "a") as f:
            f.write("number = 5550111\nrings = 1\n")
        cls.c = nt.Server(cls, extra={
            "fax_numbers": "5550111 carol",
            "modems": cls.modem_file,
        })
        cls.c.add_user("carol", "carol-pw-secret")

    def test_carol_receives_on_the_modem(self):
        self.assertIsNotNone(self.c.wait_log(lambda ln: "waiting for calls to 5550111" in ln,
                                             0, timeout=15), self.c.log_text())
        dave = nt.Client(self.d, "dave", "dave-pw-secret", owner=self)
        carol = nt.Client(self.c, "carol", "carol-pw-secret", owner=self)
        pdf = make_pdf(dave.home, "in.pdf", ["answered one", "answered two"])
        watch = nt.Watcher(carol, owner=self)
        watch.wait_status("logged in")
        start = time.monotonic()
        rc, out, err = dave.run("send", pdf, "--to", "5550160", "--wait",
                                global_opts=("--json",), timeout=FAX_TIMEOUT)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, dave.describe() + self.c.log_text()[-6000:])
        watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                       timeout=60, what="fax_received")
        got = [n for n in watch.notifications() if n["event"] == "fax_received"][0]
        print("D virtual modem -> C modem -> carol: 2 pages in %.1f s" % took, flush=True)
        rc, data, err = carol.run("inbox", json=True)
        self.assertEqual(rc, 0, carol.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"]), (2, "5550111"), fax)
        out = os.path.join(carol.home, "got.tif")
        rc, _, err = carol.run("fetch", str(fax["id"]), "-o", out)
        self.assertEqual(rc, 0, carol.describe())
        expect = os.path.join(dave.home, "expect.tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, dave.home)
        received = nt.tiff_bitmaps(out, carol.home)
        self.assertEqual(len(received), 2)
        for i, (a, b) in enumerate(zip(sent, received)):
            self.assertEqual(b, a, "page %d differs from what was sent" % (i + 1))
        self.assertIn("RING 1 of 1", self.c.log_text())


    def test_cancelled_mid_page_on_d(self):
        """dave cancels his 3-page fax while page 2 is on the line: D's virtual modem hangs
        up mid-page, C's modem line hears the far end go, files page 1 for carol noting that
        the call ended early, and its watcher waits for calls again."""
        self.assertIsNotNone(self.c.wait_log(lambda ln: "waiting for calls to 5550111" in ln,
                                             0, timeout=15), self.c.log_text())
        dave = nt.Client(self.d, "dave", "dave-pw-secret", owner=self)
        carol = nt.Client(self.c, "carol", "carol-pw-secret", owner=self)
        pdf = make_pdf(dave.home, "cut.pdf", ["cut one", "cut two", "cut three"])
        watch = nt.Watcher(carol, owner=self)
        watch.wait_status("logged in")
        rc, out, err = dave.run("send", pdf, "--to", "5550160", global_opts=("--json",))
        self.assertEqual(rc, 0, dave.describe())
        jid = [o for o in stream(out) if "job" in o and isinstance(o["job"], dict)][0]["job"]["id"]

        def job():
            rc, data, err = dave.run("jobs", json=True)
            self.assertEqual(rc, 0, dave.describe())
            [j] = [j for j in data["jobs"] if j["id"] == jid]
            return j
        deadline = time.monotonic() + FAX_TIMEOUT
        while job().get("pages_sent", 0) < 1:
            self.assertLess(time.monotonic(), deadline, (job(), self.d.log_text()[-4000:]))
            time.sleep(0.3)
        mark = self.c.log_size()
        start = time.monotonic()
        rc, _, err = dave.run("cancel", str(jid))
        self.assertEqual(rc, 0, dave.describe())
        watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                       timeout=120, what="fax_received")
        took = time.monotonic() - start
        got = [n for n in watch.notifications() if n["event"] == "fax_received"][0]
        self.assertIn("(the call ended early)", got["text"], got)
        rc, data, err = carol.run("inbox", json=True)
        self.assertEqual(rc, 0, carol.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"]), (1, "5550111"), fax)
        self.assertIn("1 page; the call ended early", fax.get("note", ""), fax)
        # the line's own words, not only T.30's
        self.assertIn("far end hung up", fax.get("note", ""), fax)
        print("D cancelled mid-page 2: carol's fax filed %.1f s after the cancel: '%s'"
              % (took, fax["note"]), flush=True)
        j = job()
        self.assertEqual((j["state"], j["pages_sent"]), ("cancelled", 1), j)
        # C's modem heard the far end go (its modem refused to receive once D's was on-hook)
        # and C's line let the call go and listens for the next one
        ended = [ln for ln in self.c.log_since(mark).splitlines()
                 if "modem d: call to 5550111: " in ln]
        self.assertEqual(len(ended), 1, self.c.log_since(mark))
        self.assertIn("the far end hung up", ended[0])
        self.assertIn("1 page received", ended[0])
        self.assertIsNotNone(self.c.wait_log(lambda ln: "waiting for calls to 5550111" in ln,
                                             mark, timeout=30), self.c.log_since(mark))

def sent_pages(client, pdf):
    """The pixels of each page of pdf as a fax machine gets them."""
    expect = os.path.join(client.home, "expect-%s.tif" % os.path.basename(pdf))
    subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
    return nt.tiff_bitmaps(expect, client.home)


def fetched_pages(client, fax_id):
    """The pixels of each page of a fax in client's inbox."""
    out = os.path.join(client.home, "fax-%d.tif" % fax_id)
    rc, _, err = client.run("fetch", str(fax_id), "-o", out)
    if rc != 0:
        raise AssertionError(client.describe())
    return nt.tiff_bitmaps(out, client.home)


def job_of(test, client, job_id):
    rc, data, err = client.run("jobs", json=True)
    test.assertEqual(rc, 0, client.describe())
    [j] = [j for j in data["jobs"] if j["id"] == job_id]
    return j


def wait_job_of(test, client, job_id, pred, what, log, timeout=FAX_TIMEOUT):
    """The job once pred(job) holds, polled (bounded); log() is shown if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        j = job_of(test, client, job_id)
        if pred(j):
            return j
        test.assertLess(time.monotonic(), deadline, (what, j, log()[-4000:]))
        time.sleep(0.3)


def submit_to(test, client, pdf, number):
    rc, out, err = client.run("send", pdf, "--to", number, global_opts=("--json",))
    test.assertEqual(rc, 0, client.describe())
    return [o for o in stream(out) if "job" in o and isinstance(o["job"], dict)][0]["job"]["id"]


class ModemGoesAway(unittest.TestCase):
    """The modem device disappears in the middle of a page: B, whose virtual modem A's modem
    line is using, is killed (SIGKILL) while page 2 is on the line. A ends that call saying
    the modem went away, keeps page 1 as confirmed and lets its lock go; once a new B runs
    on the same state dir, A's retry sends page 2 only."""

    @classmethod
    def setUpClass(cls):
        start_pair(cls, {"retry_failed": 5})    # the retry comes soon, once B is back

    def test_b_killed_mid_page(self):
        bob = nt.Client(self.a, "bob", "bob-pw-secret", owner=self)
        alice = nt.Client(self.b, "alice", "alice-pw-secret", owner=self)
        pdf = make_pdf(bob.home, "gone.pdf", ["gone one", "gone two"])
        jid = submit_to(self, bob, pdf, ALICE_NUMBER)
        wait_job_of(self, bob, jid, lambda j: j.get("pages_sent", 0) >= 1, "page 1 sent",
                    self.a.log_text)
        self.b.kill9()
        j = wait_job_of(self, bob, jid, lambda j: "went away" in j.get("text", ""),
                        "the modem went away", self.a.log_text, timeout=90)
        self.assertRegex(j["text"], r"^call failed after 1 of 2 pages: The call dropped "
                         r"prematurely: the modem on \S+ttyNCFX0 went away", j)
        self.assertEqual((j["state"], j["pages_sent"]), ("sleeping", 1), j)
        print("B killed mid-page 2: %s" % j["text"], flush=True)
        # A let the modem go and serves meanwhile
        self.assertEqual(os.listdir(self.lock_dir), [])
        rc, out, err = self.a.admin("status")
        self.assertEqual(rc, 0, (out, err))
        # a new B on the same state dir: its virtual modem is there again, and the retry
        # sends from the first page the first call left unconfirmed
        self.b.start()
        j = wait_job_of(self, bob, jid, lambda j: j["state"] in ("done", "failed"), "ended",
                        self.a.log_text)
        self.assertEqual((j["state"], j["pages_sent"]), ("done", 2), j)
        self.assertIn("page 2 on this call, page 1 on an earlier call", j["text"], j)
        self.assertEqual(os.listdir(self.lock_dir), [])
        # alice has page 1 (filed by the new B from what the killed one had received, noted
        # as ended early) and page 2 (the retry's)
        rc, data, err = alice.run("inbox", json=True)
        self.assertEqual(rc, 0, alice.describe())
        faxes = sorted(data["faxes"], key=lambda f: f["id"])
        self.assertEqual([f["pages"] for f in faxes], [1, 1], faxes)
        self.assertIn("the call ended early: this server stopped during the call",
                      faxes[0].get("note", ""), faxes)
        self.assertNotIn("ended early", faxes[1].get("note", ""), faxes)
        # pixel for pixel, page 1 then page 2: the retry sent the page the first call left
        sent = sent_pages(bob, pdf)
        self.assertEqual(fetched_pages(alice, faxes[0]["id"]), sent[:1])
        self.assertEqual(fetched_pages(alice, faxes[1]["id"]), sent[1:])


class ModemBusy(unittest.TestCase):
    """A's modem both answers (it has a number of A's, answered at the tenth ring) and
    dials. While B rings it with a call (alice faxes B's virtual modem number), bob's fax
    dials out on it: the virtual modem's line is taken by the call ringing in, so it answers
    the dial BUSY, and A's job is retried later as busy. (A virtual modem refuses a dial
    with BUSY in one other case, when its line has no free channel; but a line has one
    channel per modem and a modem on a call takes no dial, so that one cannot happen.)"""

    @classmethod
    def setUpClass(cls):
        start_pair(cls, {"fax_numbers": "5550111 carol", "retry_busy": 600},
                   b_extra={"virtual_modem_ring_timeout": 60},
                   modem_lines="number = 5550111\nrings = 10\n")

    def test_dialling_while_a_call_rings_in(self):
        self.assertIsNotNone(self.a.wait_log(lambda ln: "waiting for calls to 5550111" in ln,
                                             0, timeout=15), self.a.log_text())
        bob = nt.Client(self.a, "bob", "bob-pw-secret", owner=self)
        alice = nt.Client(self.b, "alice", "alice-pw-secret", owner=self)
        pdf = make_pdf(alice.home, "ringing.pdf", ["ringing in"])
        mark = self.a.log_size()
        ringing = submit_to(self, alice, pdf, MODEM_NUMBER)
        self.addCleanup(alice.run, "cancel", str(ringing))
        self.assertIsNotNone(self.a.wait_log(lambda ln: "modem b: RING 1 of 10" in ln, mark,
                                             timeout=30), self.a.log_text()[-4000:])
        jid = submit_to(self, bob, pdf, ALICE_NUMBER)
        j = wait_job_of(self, bob, jid, lambda j: "the modem said BUSY" in j.get("text", ""),
                        "busy", self.a.log_text, timeout=60)
        self.assertTrue(j["text"].startswith("busy (the modem said BUSY); next try at "), j)
        self.assertEqual((j["state"], j["dials"], j["pages_sent"]), ("sleeping", 1, 0), j)
        rc, _, err = bob.run("cancel", str(jid))
        self.assertEqual(rc, 0, bob.describe())
        # A let the dial go: its watcher has the modem again
        self.assertIsNotNone(self.a.wait_log(lambda ln: "waiting for calls to 5550111" in ln,
                                             mark, timeout=30), self.a.log_text()[-4000:])

if __name__ == "__main__":
    nt.main()

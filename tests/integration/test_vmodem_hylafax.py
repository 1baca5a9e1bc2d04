#!/usr/bin/env python3
"""HylaFAX on a virtual modem: Debian's HylaFAX (faxq, hfaxd and faxgetty, with a spool of
their own) takes netcfaxd's virtual Class 1 modem (group uucp may open it) as its modem.
- faxgetty answers a fax netcfax sends to the modem's number; the three pages it files are
  the PDF's, pixel for pixel;
- hylafax-client's sendfax hands hfaxd a 3-page PostScript document for alice's number;
  HylaFAX renders it (its own ps2fax), dials out on the virtual modem, and the pages land in
  alice's inbox equal, pixel for pixel, to what ps2fax makes of the document; HylaFAX's
  queue records the job done with 3 pages.
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
from test_fax import GS_TIFF, make_pdf, stream  # noqa: E402

FAXGETTY = shutil.which("faxgetty") or "/usr/sbin/faxgetty"
FAXQ = shutil.which("faxq") or "/usr/sbin/faxq"
HFAXD = shutil.which("hfaxd") or "/usr/sbin/hfaxd"
SENDFAX = shutil.which("sendfax") or "/usr/bin/sendfax"
ALICE_NUMBER = "5550101"
MODEM_NUMBER = "5550150"
HYLAFAX_ID = "HylaFAX on NCFX0"
SYSTEM_SPOOL = "/var/spool/hylafax"
FAX_TIMEOUT = 240                 # seconds, a bound: three pages take about half a minute
# The modem's configuration, from HylaFAX's own template for iaxmodem (spandsp's T.31 too).
CONFIG = """CountryCode:		1
AreaCode:		555
FAXNumber:		%s
LongDistancePrefix:	1
InternationalPrefix:	011
ServerTracing:		1
SessionTracing:		0xFFF
RecvFileMode:		0644
LogFileMode:		0644
RingsBeforeAnswer:	1
LocalIdentifier:	"%s"
ModemType:		Class1
ModemRate:		19200
ModemFlowControl:	rtscts
ModemResetCmds:		"ATH1"
ModemReadyCmds:		ATH0
Class1Cmd:		AT+FCLASS=1
Class1AdaptRecvCmd:	AT+FAR=1
Class1TMConnectDelay:	400
TagLineFont:		""
""" % (MODEM_NUMBER, HYLAFAX_ID)


def hylafax_version():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "hylafax-server"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


@unittest.skipUnless(os.geteuid() == 0, "faxgetty starts as root and runs as uucp")
class HylafaxOnVirtualModem(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(FAXGETTY, os.X_OK):
            raise AssertionError("hylafax-server is not installed (scripts/install-deps "
                                 "--test)")
        print("hylafax-server %s" % hylafax_version(), flush=True)
        uucp = pwd.getpwnam("uucp")
        # HylaFAX names a modem after its device's path, '/' made '_' and back: a directory
        # of the modems' links without '_' in its path
        cls.vdir = "/tmp/ncfxvm%d" % os.getpid()
        cls.srv = nt.Server(cls, extra={
            "fax_numbers": "%s alice" % ALICE_NUMBER,
            "virtual_modems": 1,
            "virtual_modem_numbers": MODEM_NUMBER,
            "virtual_modem_dir": cls.vdir,
            "virtual_modem_group": "uucp",
        })
        cls.addClassCleanup(shutil.rmtree, cls.vdir, True)
        cls.srv.add_user("alice", "alice-pw-secret")
        cls.dev = os.path.join(cls.vdir, "ttyNCFX0")
        devid = cls.dev.replace("/", "_")
        cls.spool = nt.make_temp_dir(cls, prefix="ncfx-hylafax-")
        for d in ("etc", "recvq", "log", "status", "info", "tmp", "client", "sendq", "doneq",
                  "docq", "pollq", "archive", "dev"):
            os.mkdir(os.path.join(cls.spool, d))
        # the conversion scripts and what faxsetup found at install (setup.cache), from
        # Debian's own spool; the server-wide config of this spool: no dial rules, so the
        # number is dialled as given
        os.symlink(os.path.join(SYSTEM_SPOOL, "bin"), os.path.join(cls.spool, "bin"))
        for name in ("setup.cache", "setup.modem", "typerules", "pagesizes"):
            src = [d for d in ("/etc/hylafax", os.path.join(SYSTEM_SPOOL, "etc"))
                   if os.path.exists(os.path.join(d, name))]
            if not src:
                raise AssertionError("HylaFAX's %s is missing: hylafax-server's set-up "
                                     "(faxsetup) did not run" % name)
            shutil.copy(os.path.join(src[0], name), os.path.join(cls.spool, "etc", name))
        with open(os.path.join(cls.spool, "etc", "config"), "w") as f:
            f.write("LogFacility:\tdaemon\nServerTracing:\t1\n")
        with open(os.path.join(cls.spool, "etc", "hosts.hfaxd"), "w") as f:
            f.write("127.0.0.1\n")
        os.chmod(os.path.join(cls.spool, "etc", "hosts.hfaxd"), 0o600)
        with open(os.path.join(cls.spool, "etc", "config." + devid), "w") as f:
            f.write(CONFIG)
        for root, dirs, files in os.walk(cls.spool):
            for name in dirs + files + ["."]:
                os.lchown(os.path.join(root, name), uucp.pw_uid, uucp.pw_gid)
        cls.log = open(os.path.join(cls.spool, "hylafax.out"), "w")
        cls.hfaxd_port = nt.free_port()
        # the queue first: faxgetty then tells it the modem is there
        cls.procs = []
        for argv in ([FAXQ, "-D", "-q", cls.spool],
                     [HFAXD, "-d", "-q", cls.spool, "-l", "127.0.0.1",
                      "-i", str(cls.hfaxd_port)],
                     [FAXGETTY, "-q", cls.spool, cls.dev]):
            if not os.access(argv[0], os.X_OK):
                raise AssertionError("%s is not installed (scripts/install-deps --test)"
                                     % argv[0])
            cls.procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=cls.log,
                                              stderr=subprocess.STDOUT,
                                              start_new_session=True, cwd=cls.spool))
            time.sleep(0.5)
        cls.faxgetty = cls.procs[-1]

        def stop():
            for p in reversed(cls.procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(timeout=10)
            cls.log.close()
            # faxgetty's UUCP lock of the device, by its last name, if it left it behind
            lock = "/var/lock/LCK..ttyNCFX0"
            try:
                with open(lock) as f:
                    pid = int(f.read().strip() or 0)
                if pid > 0:
                    os.kill(pid, 0)
            except (OSError, ValueError):
                if os.path.exists(lock):
                    os.unlink(lock)
        cls.addClassCleanup(stop)
        cls.status = os.path.join(cls.spool, "status", devid)

    def session_logs(self):
        out = []
        with open(os.path.join(self.spool, "hylafax.out"), errors="replace") as f:
            out.append("== faxq, hfaxd, faxgetty ==\n%s" % f.read()[-3000:])
        logdir = os.path.join(self.spool, "log")
        for name in sorted(os.listdir(logdir)):
            with open(os.path.join(logdir, name), errors="replace") as f:
                out.append("== %s ==\n%s" % (name, f.read()[-4000:]))
        return "\n".join(out)

    def transfers(self, kind):
        """HylaFAX's own record of its transfers (log/xferfaxlog), the rows of one kind (SEND
        or RECV), each a list of its tab-separated fields: 10 is the pages, 13 the reason
        for a failure ("" when there was none)."""
        path = os.path.join(self.spool, "log", "xferfaxlog")
        if not os.path.exists(path):
            return []
        with open(path, errors="replace") as f:
            rows = [line.rstrip("\n").split("\t") for line in f]
        return [r for r in rows if len(r) > 13 and r[1] == kind]

    def wait_idle(self):
        """Until faxgetty has set the modem up and waits (its status file says so)."""
        deadline = time.monotonic() + 60
        while True:
            state = ""
            if os.path.exists(self.status):
                with open(self.status, errors="replace") as f:
                    state = f.read()
            if "Running and idle" in state:
                break
            self.assertIsNone(self.faxgetty.poll(), "faxgetty exited")
            self.assertLess(time.monotonic(), deadline, "faxgetty's status: %r" % state)
            time.sleep(0.2)

    def test_netcfax_sends_to_faxgetty(self):
        self.wait_idle()
        alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        pdf = make_pdf(alice.home, "h.pdf", ["to hylafax one", "to hylafax two",
                                             "to hylafax three"])
        start = time.monotonic()
        rc, out, err = alice.run("send", pdf, "--to", MODEM_NUMBER, "--wait",
                                 global_opts=("--json",), timeout=FAX_TIMEOUT)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, alice.describe() + self.session_logs())
        lines = stream(out)
        job = [o for o in lines if "job" in o and isinstance(o["job"], dict)][0]["job"]
        rc, data, err = alice.run("jobs", json=True)
        [done] = [j for j in data["jobs"] if j["id"] == job["id"]]
        self.assertEqual((done["state"], done["pages_sent"], done["remote_id"]),
                         ("done", 3, HYLAFAX_ID), done)
        print("netcfax -> faxgetty: 3 pages in %.1f s at %s bit/s%s" % (
            took, done.get("bit_rate"), ", ECM" if done.get("ecm") else ""), flush=True)
        recvq = os.path.join(self.spool, "recvq")
        deadline = time.monotonic() + 30
        while not [f for f in os.listdir(recvq) if f.endswith(".tif")]:
            self.assertLess(time.monotonic(), deadline, self.session_logs())
            time.sleep(0.2)
        [fax] = [os.path.join(recvq, f) for f in os.listdir(recvq) if f.endswith(".tif")]
        expect = os.path.join(alice.home, "expect.tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, alice.home)
        got = nt.tiff_bitmaps(fax, alice.home)
        self.assertEqual(len(got), 3)
        for i, (a, b) in enumerate(zip(sent, got)):
            self.assertEqual(a, b, "page %d differs from what was sent" % (i + 1))
        # and HylaFAX's own record says so: 3 pages received, no reason for a failure
        self.assertEqual([(r[10], r[13]) for r in self.transfers("RECV")], [("3", '""')],
                         self.session_logs())

    def test_sendfax_to_a_netcfax_user(self):
        self.wait_idle()
        alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        watch = nt.Watcher(alice, owner=self)
        watch.wait_status("logged in")
        make_pdf(alice.home, "s.pdf", ["from hylafax one", "from hylafax two",
                                       "from hylafax three"])
        ps = os.path.join(alice.home, "s.pdf.ps")
        start = time.monotonic()
        r = subprocess.run([SENDFAX, "-h", "127.0.0.1:%d" % self.hfaxd_port, "-n", "-m",
                            "-s", "a4", "-d", ALICE_NUMBER, ps],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.session_logs())
        m = re.search(r"request id is (\d+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        # HylaFAX's queue files the job in doneq when it ends, done or failed
        qfile = os.path.join(self.spool, "doneq", "q" + m.group(1))
        deadline = time.monotonic() + FAX_TIMEOUT
        while not os.path.exists(qfile):
            self.assertLess(time.monotonic(), deadline, self.session_logs())
            time.sleep(0.5)
        took = time.monotonic() - start
        job = {}
        with open(qfile, errors="replace") as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition(":")
                job.setdefault(k, v)
        # state 7 is done (8 failed); status is empty when all went well
        self.assertEqual((job.get("state"), job.get("npages"), job.get("status")),
                         ("7", "3", ""), "%s\n%s" % (job, self.session_logs()))
        self.assertEqual([(r[7], r[10], r[13]) for r in self.transfers("SEND")],
                         [('"%s"' % ALICE_NUMBER, "3", '""')], self.session_logs())
        watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                       timeout=60, what="fax_received")
        got = [n for n in watch.notifications() if n["event"] == "fax_received"][0]
        rc, data, err = alice.run("inbox", json=True)
        self.assertEqual(rc, 0, alice.describe())
        [fax] = [f for f in data["faxes"] if f["id"] == got["fax"]]
        self.assertEqual((fax["pages"], fax["number"], fax["from"].strip()),
                         (3, ALICE_NUMBER, HYLAFAX_ID), fax)
        print("sendfax -> HylaFAX -> alice: 3 pages in %.1f s at %s bit/s" % (
            took, got.get("bit_rate")), flush=True)
        out = os.path.join(alice.home, "got.tif")
        rc, _, err = alice.run("fetch", str(fax["id"]), "-o", out)
        self.assertEqual(rc, 0, alice.describe())
        # what HylaFAX's own ps2fax makes of the document at fine resolution on A4
        expect = os.path.join(alice.home, "expect.tif")
        subprocess.run([os.path.join(self.spool, "bin", "ps2fax"), "-o", expect, "-r", "196",
                        "-w", "1728", "-l", "297", "-3", ps], check=True, timeout=60,
                       cwd=self.spool, stdout=subprocess.DEVNULL)
        sent = nt.tiff_bitmaps(expect, alice.home)
        received = nt.tiff_bitmaps(out, alice.home)
        self.assertEqual((len(sent), len(received)), (3, 3))
        for i, (a, b) in enumerate(zip(sent, received)):
            self.assertEqual(a, b, "page %d differs from what HylaFAX sent" % (i + 1))


if __name__ == "__main__":
    nt.main()

#!/usr/bin/env python3
"""HylaFAX on a virtual modem: Debian's faxgetty, with a spool of its own, takes netcfaxd's
virtual Class 1 modem (group uucp may open it) as its modem and answers a fax netcfax sends
to the modem's number; the three pages it files are the PDF's, pixel for pixel."""
import os
import pwd
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
ALICE_NUMBER = "5550101"
MODEM_NUMBER = "5550150"
HYLAFAX_ID = "HylaFAX on NCFX0"
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
        for d in ("etc", "recvq", "log", "status", "info", "tmp", "client", "bin"):
            os.mkdir(os.path.join(cls.spool, d))
        with open(os.path.join(cls.spool, "etc", "config." + devid), "w") as f:
            f.write(CONFIG)
        for root, dirs, files in os.walk(cls.spool):
            for name in dirs + files + ["."]:
                os.chown(os.path.join(root, name), uucp.pw_uid, uucp.pw_gid)
        cls.log = open(os.path.join(cls.spool, "faxgetty.out"), "w")
        cls.faxgetty = subprocess.Popen([FAXGETTY, "-q", cls.spool, cls.dev],
                                        stdin=subprocess.DEVNULL, stdout=cls.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

        def stop():
            if cls.faxgetty.poll() is None:
                cls.faxgetty.send_signal(signal.SIGTERM)
                try:
                    cls.faxgetty.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    cls.faxgetty.kill()
                    cls.faxgetty.wait(timeout=10)
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
        logdir = os.path.join(self.spool, "log")
        for name in sorted(os.listdir(logdir)):
            with open(os.path.join(logdir, name), errors="replace") as f:
                out.append("== %s ==\n%s" % (name, f.read()[-4000:]))
        return "\n".join(out)

    def test_netcfax_sends_to_faxgetty(self):
        # faxgetty has set the modem up and waits for a call (its status file says so)
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


if __name__ == "__main__":
    nt.main()

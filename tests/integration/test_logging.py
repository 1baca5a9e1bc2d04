#!/usr/bin/env python3
"""netcfaxd's log: one line per event, each carrying the ids of its session and job; the
journal's <N> priority prefixes (log = journal, or auto when JOURNAL_STREAM names stderr);
syslog through a /dev/log of the test's own, in a private mount namespace (as root)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

LINE = {"fax_remotes": "5550199 answer"}
PRIORITY = {"error": 3, "warn": 4, "info": 6, "debug": 7}
STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z netcfaxd\[(\d+)\] "
                     r"(error|warn|info|debug): ")


def not_tls(srv):
    """A connection that speaks HTTP instead of TLS: the server logs a warning and closes."""
    s = socket.create_connection((nt.HOST, srv.port), timeout=10)
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while s.recv(4096):
            pass
    except OSError:
        pass
    finally:
        s.close()


def job_of(out):
    """The job id from the JSON lines of send --wait --json."""
    for line in out.splitlines():
        if line.strip():
            o = json.loads(line)
            if isinstance(o.get("job"), dict):
                return o["job"]["id"]
    raise AssertionError("no job in: %r" % out)


class Lifecycle(unittest.TestCase):
    """A session's life (login, path, end) and a job's (submit, call, done), each a line per
    event with the same ids, on stderr with timestamps (the default)."""

    def test_session_and_job_lines_carry_their_ids(self):
        srv = nt.Server(self, extra=dict(LINE, log_level="debug"))
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        w = nt.Watcher(alice, "--scp", "relay", owner=self)
        deadline = time.monotonic() + 30
        rows = []
        while time.monotonic() < deadline:
            rc, out, err = srv.admin("sessions", "--json")
            rows = [r for r in json.loads(out)["sessions"] if r["path"] == "relay"]
            if rows:
                break
            time.sleep(0.1)
        self.assertEqual(len(rows), 1, out)
        sid = rows[0]["session"]
        path = os.path.join(alice.home, "two.tif")
        nt.make_tiff(path, pages=2, seed=3)
        rc, out, err = alice.run("send", path, "--to", "5550199", "--wait",
                                 global_opts=("--json",), timeout=120)
        self.assertEqual(rc, 0, alice.describe())
        jid = job_of(out)
        self.assertEqual(w.stop(), 0)
        self.assertIsNotNone(srv.wait_log(lambda l: "session=%s " % sid in l and
                                          ": disconnected" in l, timeout=15), srv.log_text())
        log = srv.log_text().splitlines()
        for line in log:
            self.assertRegex(line, STAMPED)

        # the session: every line starts with the same ids; login, path, end in order
        about = [l for l in log if "session=%s " % sid in l]
        m = re.search(r"session=%s user=alice addr=(127\.0\.0\.1:\d+): " % sid, about[0])
        self.assertIsNotNone(m, about)
        ids = "session=%s user=alice addr=%s: " % (sid, m.group(1))
        events = []
        for line in about:
            self.assertIn(ids, line)
            events.append(line.split(ids, 1)[1])
        self.assertTrue(events[0].startswith("logged in by password"), events)
        self.assertIn("notifications relayed: the client asked for the relay", events[1:])
        self.assertTrue(events[-1].startswith("disconnected"), events)

        # the job: every line names its user and id; submitted by a session, which is named
        about = [l for l in log if re.search(r"\bjob=%d\b" % jid, l)]
        events = []
        for line in about:
            self.assertRegex(line, r" (session=[0-9a-f]{16} )?user=alice (addr=\S+ )?job=%d: "
                             % jid)
            events.append(line.split("job=%d: " % jid, 1)[1])
        self.assertRegex(about[0], r"session=[0-9a-f]{16} user=alice addr=127\.0\.0\.1:\d+ "
                         r"job=%d: queued \(pending\): two\.tif to 5550199, 2 pages" % jid)
        self.assertTrue(events[1].startswith("dialling 5550199"), events)
        self.assertIn("page 2 of 2 sent at", " ".join(events))
        self.assertTrue(events[-1].startswith("done: two.tif to 5550199: sent 2 pages"), events)


class Journal(unittest.TestCase):
    """Under systemd, stderr is the journal's stream: each line starts with its priority."""

    def server(self, journal_inode_offset):
        srv = nt.Server(self, extra={"log_level": "debug"}, start=False)
        open(srv.log_path, "ab").close()
        st = os.stat(srv.log_path)
        srv.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino + journal_inode_offset)
        srv.start()
        return srv

    def test_journal_stream_gives_priority_prefixes(self):
        srv = self.server(0)
        not_tls(srv)
        self.assertIsNotNone(srv.wait_log(lambda l: l.startswith("<4>warn: addr=127.0.0.1:")
                                          and "TLS handshake failed" in l, timeout=10),
                             srv.log_text())
        # A second server on the same state stops: an error, prefixed the same way, also
        # with log = journal given on the command line.
        p = subprocess.run([nt.NETCFAXD, "-c", srv.conf, "--log", "journal"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        nt.check_sanitizer_report("the second netcfaxd", p.stderr)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, re.compile(r"^<3>error: another netcfaxd \(pid %d\) is "
                                              r"running" % srv.proc.pid, re.M))
        self.assertEqual(srv.stop(), 0, srv.log_text())
        seen = set()
        for line in srv.log_text().splitlines():
            m = re.match(r"^<(\d)>(error|warn|info|debug): \S", line)
            self.assertIsNotNone(m, "a line without its priority: %r" % line)
            self.assertEqual(int(m.group(1)), PRIORITY[m.group(2)], line)
            seen.add(m.group(2))
        self.assertEqual(seen, {"warn", "info", "debug"})
        # the journal stamps time and pid itself
        self.assertNotRegex(srv.log_text(), r"\d{4}-\d\d-\d\dT\d\d:\d\d|netcfaxd\[\d+\]")

    def test_another_stream_keeps_timestamps(self):
        # JOURNAL_STREAM inherited by a process whose stderr went elsewhere names another
        # stream: that stderr gets the usual lines.
        srv = self.server(1)
        self.assertEqual(srv.stop(), 0, srv.log_text())
        for line in srv.log_text().splitlines():
            self.assertRegex(line, STAMPED)


def can_unshare_mounts():
    return os.geteuid() == 0 and shutil.which("unshare") and shutil.which("mount")


# Inside a private mount namespace: a /dev of its own (a tmpfs with the few device nodes a
# netcfaxd needs bound from the real one), and the test's socket as /dev/log. Nothing leaves
# the namespace, and the namespace ends with netcfaxd, which the script becomes.
NS_SCRIPT = r"""set -e
old=$1 sock=$2
shift 2
mount --rbind /dev "$old"
mount -t tmpfs -o mode=0755,size=1m netcfax-test-dev /dev
for n in null zero full random urandom; do
    : > "/dev/$n"
    mount --bind "$old/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
: > /dev/log
mount --bind "$sock" /dev/log
umount -l "$old"
exec "$@"
"""

SYSLOG_RE = re.compile(r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^\[\]: ]+)\[(\d+)\]: "
                       r"(error|warn|info|debug): (.*)$", re.S)


class SyslogMessage:
    def __init__(self, raw):
        self.raw = raw
        m = SYSLOG_RE.match(raw)
        if m is None:
            raise AssertionError("not a syslog message from netcfaxd: %r" % raw)
        pri = int(m.group(1))
        self.facility, self.severity = pri >> 3, pri & 7
        self.ident, self.pid = m.group(2), int(m.group(3))
        self.level, self.text = m.group(4), m.group(5)


class SyslogSink:
    """A Unix datagram socket that stands in for /dev/log, collecting what arrives."""

    def __init__(self, path, owner):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.2)
        self.raw = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        owner.addCleanup(self.close)

    def _read(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.raw.append(data.decode("utf-8", "replace").rstrip("\n"))

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()

    def messages(self):
        with self._lock:
            return [SyslogMessage(r) for r in self.raw]

    def wait(self, pred, timeout=30.0, what="a message"):
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages():
                if pred(m):
                    return m
            if time.monotonic() >= deadline:
                raise AssertionError("syslog: %s did not arrive within %.0f s; got:\n%s"
                                     % (what, timeout, "\n".join(self.raw)))
            time.sleep(0.05)


@unittest.skipUnless(can_unshare_mounts(), "needs root, unshare and mount (a private mount "
                     "namespace with /dev/log of its own)")
class Syslog(unittest.TestCase):
    LOCAL3 = 19
    DAEMON = 3

    def server(self, extra):
        d = nt.make_temp_dir(self, prefix="ncfx-syslog-")
        sink = SyslogSink(os.path.join(d, "log.sock"), self)
        old = os.path.join(d, "dev")
        os.mkdir(old)
        prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", NS_SCRIPT,
                  "sh", old, sink.path]
        srv = nt.Server(self, extra=extra, prefix=prefix,
                        ready=lambda s: any(" ready (state in " in m for m in sink.raw))
        return srv, sink

    def test_lines_reach_syslog_with_priority_facility_ident_pid_and_ids(self):
        srv, sink = self.server(dict(LINE, log="syslog", log_facility="local3"))
        ready = sink.wait(lambda m: " ready (state in " in m.text)
        self.assertEqual((ready.facility, ready.severity, ready.level),
                         (self.LOCAL3, 6, "info"), ready.raw)
        self.assertEqual((ready.ident, ready.pid), ("netcfaxd", srv.proc.pid), ready.raw)
        not_tls(srv)
        warn = sink.wait(lambda m: "TLS handshake failed" in m.text, what="the TLS warning")
        self.assertEqual((warn.facility, warn.severity, warn.level), (self.LOCAL3, 4, "warn"))
        self.assertTrue(warn.text.startswith("addr=127.0.0.1:"), warn.raw)

        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        rc, data, err = alice.run("login", json=True)
        self.assertEqual(rc, 0, alice.describe())
        sid = data["session_id"]
        self.assertRegex(sid, r"^[0-9a-f]{16}$", data)
        sink.wait(lambda m: re.match(r"session=%s user=alice addr=127\.0\.0\.1:\d+: logged in "
                                     r"by password" % sid, m.text), what="the login")
        path = os.path.join(alice.home, "one.tif")
        nt.make_tiff(path, pages=1, seed=5)
        rc, out, err = alice.run("send", path, "--to", "5550199", "--wait",
                                 global_opts=("--json",), timeout=120)
        self.assertEqual(rc, 0, alice.describe())
        jid = job_of(out)
        sink.wait(lambda m: re.match(r"session=[0-9a-f]{16} user=alice addr=\S+ job=%d: "
                                     r"queued" % jid, m.text), what="the job's submission")
        sink.wait(lambda m: m.text.startswith("user=alice job=%d: dialling 5550199" % jid),
                  what="the job's call")
        done = sink.wait(lambda m: m.text.startswith("user=alice job=%d: done: " % jid),
                         what="the job's end")
        self.assertEqual((done.facility, done.severity), (self.LOCAL3, 6))
        self.assertEqual(srv.stop(), 0, srv.log_text())
        sink.wait(lambda m: m.text == "stopped", what="the stop")
        for m in sink.messages():
            self.assertEqual((m.ident, m.pid, m.facility), ("netcfaxd", srv.proc.pid,
                                                            self.LOCAL3), m.raw)
            self.assertEqual(m.severity, PRIORITY[m.level], m.raw)
            self.assertNotIn("\n", m.text)
        # After the switch nothing went to stderr.
        self.assertNotIn("ready", srv.log_text())

    def test_default_facility_is_daemon(self):
        srv, sink = self.server({"log": "syslog"})
        ready = sink.wait(lambda m: " ready (state in " in m.text)
        self.assertEqual((ready.facility, ready.severity), (self.DAEMON, 6), ready.raw)
        self.assertEqual(srv.stop(), 0, srv.log_text())


if __name__ == "__main__":
    nt.main()

#!/usr/bin/env python3
"""Hostile and broken peers: malformed frames, wrong versions, garbage, slow clients and too many
connections. After each the server keeps serving, logs a warn line with the peer address and a
reason, and its store (users and jobs tables) is unchanged."""
import os
import re
import signal
import socket
import ssl
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

CLOSE_BOUND = 10.0      # seconds for the server to close after an error frame
SLOW_BOUND = 30.0       # seconds for the preauth timeout (configured to 2) to strike


class ServerCase(unittest.TestCase):
    extra = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls, extra=cls.extra)
        cls.srv.add_user("alice", "alice-pw-secret")
        # one job in the store so that the jobs table has something to compare
        home = nt.make_temp_dir(cls, prefix="ncfx-home-")
        cls.cli = nt.Client(cls.srv, "alice", "alice-pw-secret", home=home)
        doc = os.path.join(home, "d.tif")
        nt.make_tiff(doc, seed=99)
        rc, out, err = cls.cli.run("send", doc, "--to", "5550199")
        if rc != 0:
            raise AssertionError("setup send failed:\n" + cls.cli.describe())

    def setUp(self):
        self.log_off = self.srv.log_size()
        self.dump_before = self.srv.db_dump()

    def assert_still_serving(self, local_port=None, check_warn=True):
        """Store unchanged, warn line logged, a normal login works."""
        self.assertEqual(self.srv.db_dump(), self.dump_before, "the store changed")
        if check_warn:
            self.assert_warn_logged(local_port)
        self.assertTrue(self.srv.running(), "netcfaxd died:\n" + self.srv.log_text())
        rc, out, err = self.cli.run("login")
        self.assertEqual(rc, 0, self.cli.describe() + "\nlog:\n" + self.srv.log_since(self.log_off))

    def assert_warn_logged(self, local_port=None):
        def is_warn(line):
            return re.search(r"netcfaxd\[\d+\] warn: ", line) and "127.0.0.1" in line

        def ours(line):
            return is_warn(line) and (local_port is None or
                                      "127.0.0.1:%d" % local_port in line or
                                      not re.search(r"127\.0\.0\.1:\d+", line))
        line = self.srv.wait_log(ours, self.log_off, timeout=5.0)
        self.assertIsNotNone(line, "no warn line with the peer address; log since the test:\n"
                             + self.srv.log_since(self.log_off))
        msg = line.split(" warn: ", 1)[1]
        rest = re.sub(r"127\.0\.0\.1(:\d+)?", "", msg)
        self.assertGreaterEqual(len(re.findall(r"[A-Za-z]{3,}", rest)), 2,
                                "warn line gives no reason: %r" % line)
        return line


class BadFrames(ServerCase):
    # long enough that nothing below is closed by the timeout instead of the error under test
    extra = {"preauth_timeout": 30}

    def expect_error_close(self, r, code, reqid0=False):
        f = r.recv_frame(CLOSE_BOUND)
        self.assertIsNotNone(f, "connection closed (or silent) without an ERROR frame")
        self.assertEqual(f.type, nt.MSG_ERROR, f)
        self.assertEqual(f.error_code, code, f)
        self.assertTrue(f.has(nt.T_REASON) and f.str(nt.T_REASON), f)
        if reqid0:
            self.assertEqual(f.reqid, 0, f)
        self.assertTrue(r.wait_closed(CLOSE_BOUND), "server did not close after ERROR")
        for extra in r.frames:
            self.assertNotEqual(extra.type, nt.MSG_HELLO_OK, extra)

    def hello_ok(self, r):
        f = r.request(nt.hello(), CLOSE_BOUND)
        self.assertIsNotNone(f)
        self.assertEqual(f.type, nt.MSG_HELLO_OK, f)
        self.assertEqual(f.uint(nt.T_VERSION), 1, f)
        self.assertEqual(f.uint(nt.T_MAX_FRAME), nt.FRAME_MAX, f)
        return f

    def test_good_hello_and_ping(self):
        with nt.raw_connect(self.srv) as r:
            self.hello_ok(r)
            f = r.request(nt.frame(nt.MSG_PING, [nt.a_u64(nt.T_SEQ, 42)], reqid=5), CLOSE_BOUND)
            self.assertEqual(f.type, nt.MSG_PONG, f)
            self.assertEqual(f.reqid, 5, f)
        self.assert_still_serving(check_warn=False)

    def test_frames_split_byte_by_byte_and_pipelined(self):
        with nt.raw_connect(self.srv) as r:
            data = nt.hello(reqid=3) + nt.frame(nt.MSG_PING, reqid=4)
            for i in range(len(data)):
                r.send(data[i:i + 1])
                if i % 4 == 0:
                    time.sleep(0.005)
            f1 = r.recv_frame(CLOSE_BOUND)
            f2 = r.recv_frame(CLOSE_BOUND)
            self.assertEqual((f1.type, f1.reqid), (nt.MSG_HELLO_OK, 3), f1)
            self.assertEqual((f2.type, f2.reqid), (nt.MSG_PONG, 4), f2)
        self.assert_still_serving(check_warn=False)

    def test_requests_pipelined_behind_login_keep_their_order(self):
        # The password is checked on a worker thread; what follows LOGIN in the same write
        # must wait for it and be answered after LOGIN_OK, in order, as the logged-in user.
        with nt.raw_connect(self.srv) as r:
            r.send(nt.hello(reqid=1) + nt.login_frame("alice", "alice-pw-secret", reqid=2)
                   + nt.frame(nt.MSG_JOB_LIST, reqid=3) + nt.frame(nt.MSG_PING, reqid=4))
            got = []
            while True:
                f = r.recv_frame(CLOSE_BOUND)
                got.append((f.type, f.reqid))
                if f.type == nt.MSG_PONG:
                    break
            self.assertEqual(got[0], (nt.MSG_HELLO_OK, 1), got)
            self.assertEqual(got[1], (nt.MSG_LOGIN_OK, 2), got)
            self.assertTrue(all(t == nt.MSG_JOB_INFO and q == 3 for t, q in got[2:-2]), got)
            self.assertEqual(got[-2], (nt.MSG_JOB_LIST_END, 3), got)
            self.assertEqual(got[-1], (nt.MSG_PONG, 4), got)
            self.assertGreaterEqual(len(got), 5, "alice's job was not listed: %r" % got)
        self.assert_still_serving(check_warn=False)

    def test_ping_before_hello(self):
        # Before HELLO nothing is answered: a peer cannot make us queue PONGs for free.
        with nt.raw_connect(self.srv) as r:
            r.send(nt.frame(nt.MSG_PING, reqid=9))
            self.expect_error_close(r, 4, reqid0=True)
        self.assert_still_serving()

    def test_oversized_frame_length(self):
        with nt.raw_connect(self.srv) as r:
            r.send(struct.pack(">IHHI", 0x7FFFFFFF, nt.MSG_HELLO, 0, 7))
            self.expect_error_close(r, nt.E_TOO_LARGE, reqid0=True)
            port = r.local_port
        line = self.assert_warn_logged(port)
        self.assertRegex(line, r"65536|cap|large|long", line)
        self.assert_still_serving(port)

    def test_frame_one_over_cap(self):
        with nt.raw_connect(self.srv) as r:
            r.send(struct.pack(">IHHI", nt.FRAME_MAX + 1, nt.MSG_HELLO, 0, 7))
            self.expect_error_close(r, nt.E_TOO_LARGE, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_frame_shorter_than_header(self):
        with nt.raw_connect(self.srv) as r:
            r.send(struct.pack(">IHHI", 5, nt.MSG_HELLO, 0, 7))
            self.expect_error_close(r, nt.E_PROTOCOL, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_no_common_version(self):
        with nt.raw_connect(self.srv) as r:
            r.send(nt.hello(99, 99, reqid=7))
            self.expect_error_close(r, nt.E_VERSION)
            port = r.local_port
        self.assert_still_serving(port)

    def test_inverted_version_range(self):
        with nt.raw_connect(self.srv) as r:
            r.send(nt.hello(5, 0, reqid=7))
            f = r.recv_frame(CLOSE_BOUND)
            self.assertIsNotNone(f)
            self.assertEqual(f.type, nt.MSG_ERROR, f)
            self.assertIn(f.error_code, (nt.E_VERSION, nt.E_PROTOCOL), f)
            self.assertTrue(r.wait_closed(CLOSE_BOUND))
            port = r.local_port
        self.assert_still_serving(port)

    def test_unknown_message_type_after_login(self):
        with nt.raw_connect(self.srv) as r:
            self.hello_ok(r)
            f = r.request(nt.login_frame("alice", "alice-pw-secret"), CLOSE_BOUND)
            self.assertEqual(f.type, nt.MSG_LOGIN_OK, f)
            self.assertGreater(f.uint(nt.T_SESSION_ID), 0, f)
            self.dump_before = self.srv.db_dump()   # a login may touch the users table
            r.send(nt.frame(0x7777, reqid=9))
            self.expect_error_close(r, nt.E_UNKNOWN_TYPE, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_job_list_before_login(self):
        with nt.raw_connect(self.srv) as r:
            self.hello_ok(r)
            r.send(nt.frame(nt.MSG_JOB_LIST, reqid=9))
            self.expect_error_close(r, nt.E_NOT_LOGGED_IN)
            for f in r.frames:
                self.assertNotIn(f.type, (nt.MSG_JOB_INFO, nt.MSG_JOB_LIST_END), f)
            port = r.local_port
        self.assert_still_serving(port)

    def test_job_cancel_before_login(self):
        job_id = self.dump_before["jobs"][0][0] if self.dump_before["jobs"] else 1
        with nt.raw_connect(self.srv) as r:
            self.hello_ok(r)
            r.send(nt.frame(nt.MSG_JOB_CANCEL, [nt.a_u64(nt.T_JOB_ID, job_id)], reqid=9))
            self.expect_error_close(r, nt.E_NOT_LOGGED_IN)
            port = r.local_port
        self.assert_still_serving(port)

    def test_truncated_attribute_in_hello(self):
        body = nt.a_u16(nt.T_VERSION_MIN, 1) + struct.pack(">HH", nt.T_VERSION_MAX, 10) + b"\x00\x01"
        with nt.raw_connect(self.srv) as r:
            r.send(nt.frame(nt.MSG_HELLO, [body], reqid=7))
            self.expect_error_close(r, nt.E_PROTOCOL, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_truncated_attribute_header(self):
        body = nt.a_u16(nt.T_VERSION_MIN, 1) + nt.a_u16(nt.T_VERSION_MAX, 1) + b"\x00"
        with nt.raw_connect(self.srv) as r:
            r.send(nt.frame(nt.MSG_HELLO, [body], reqid=7))
            self.expect_error_close(r, nt.E_PROTOCOL, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_unknown_flags(self):
        with nt.raw_connect(self.srv) as r:
            f = nt.frame(nt.MSG_HELLO, [nt.a_u16(nt.T_VERSION_MIN, 1), nt.a_u16(nt.T_VERSION_MAX, 1)],
                         flags=0x8000, reqid=7)
            r.send(f)
            self.expect_error_close(r, nt.E_PROTOCOL, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_hello_missing_attribute(self):
        with nt.raw_connect(self.srv) as r:
            r.send(nt.frame(nt.MSG_HELLO, [nt.a_u16(nt.T_VERSION_MIN, 1)], reqid=7))
            self.expect_error_close(r, nt.E_PROTOCOL, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_login_before_hello(self):
        with nt.raw_connect(self.srv) as r:
            r.send(nt.login_frame("alice", "alice-pw-secret", reqid=7))
            self.expect_error_close(r, nt.E_UNEXPECTED)
            for f in r.frames:
                self.assertNotEqual(f.type, nt.MSG_LOGIN_OK, f)
            port = r.local_port
        self.assert_still_serving(port)

    def test_second_hello(self):
        with nt.raw_connect(self.srv) as r:
            self.hello_ok(r)
            r.send(nt.hello(reqid=8))
            self.expect_error_close(r, nt.E_UNEXPECTED)
            port = r.local_port
        self.assert_still_serving(port)

    def test_user_attribute_over_cap(self):
        with nt.raw_connect(self.srv) as r:
            self.hello_ok(r)
            r.send(nt.login_frame("a" * 200, "x", reqid=8))
            self.expect_error_close(r, nt.E_TOO_LARGE, reqid0=True)
            port = r.local_port
        self.assert_still_serving(port)

    def test_plain_text_instead_of_tls(self):
        with nt.raw_connect(self.srv, use_tls=False) as r:
            r.send(b"GET / HTTP/1.0\r\n\r\n")
            # preauth_timeout is 30 here, so a close within 20 s comes from the TLS failure
            self.assertTrue(r.wait_closed(20.0), "server kept a plain-text connection open")
            self.assertNotIn(b"HTTP/", r.buf)
            port = r.local_port
        self.assert_still_serving(port)

    def test_tls_then_garbage_frames(self):
        with nt.raw_connect(self.srv) as r:
            r.send(b"\x00\x00\x00\x20" + os.urandom(28))
            f = r.recv_frame(CLOSE_BOUND)
            self.assertIsNotNone(f, "no ERROR frame")
            self.assertEqual(f.type, nt.MSG_ERROR, f)
            self.assertTrue(r.wait_closed(CLOSE_BOUND))
            port = r.local_port
        self.assert_still_serving(port)


class SlowClients(ServerCase):
    extra = {"preauth_timeout": 2}

    def test_tcp_without_client_hello(self):
        with nt.raw_connect(self.srv, use_tls=False) as r:
            self.assertTrue(r.wait_closed(SLOW_BOUND), "server never closed a silent connection")
            port = r.local_port
        self.assert_still_serving(port)

    def test_hello_but_no_login(self):
        with nt.raw_connect(self.srv) as r:
            f = r.request(nt.hello(), CLOSE_BOUND)
            self.assertEqual(f.type, nt.MSG_HELLO_OK, f)
            self.assertTrue(r.wait_closed(SLOW_BOUND), "server never closed an idle unauthenticated"
                            " connection")
            for f in r.frames:
                self.assertEqual(f.type, nt.MSG_ERROR, f)
                self.assertEqual(f.error_code, nt.E_TIMEOUT, f)
            port = r.local_port
        self.assert_still_serving(port)

    def test_pings_do_not_extend_preauth(self):
        with nt.raw_connect(self.srv) as r:
            f = r.request(nt.hello(), CLOSE_BOUND)
            self.assertEqual(f.type, nt.MSG_HELLO_OK, f)
            deadline = time.monotonic() + SLOW_BOUND
            seq = 0
            while time.monotonic() < deadline and not r.closed:
                seq += 1
                try:
                    r.send(nt.frame(nt.MSG_PING, [nt.a_u64(nt.T_SEQ, seq)], reqid=seq))
                except (OSError, ssl.SSLError):
                    break
                r.wait_closed(0.5)
            self.assertTrue(r.wait_closed(1.0), "PINGs kept an unauthenticated connection alive")
            port = r.local_port
        self.assert_still_serving(port)

    def test_logged_in_connection_outlives_preauth(self):
        with nt.raw_connect(self.srv) as r:
            self.assertEqual(r.request(nt.hello(), CLOSE_BOUND).type, nt.MSG_HELLO_OK)
            f = r.request(nt.login_frame("alice", "alice-pw-secret"), CLOSE_BOUND)
            self.assertEqual(f.type, nt.MSG_LOGIN_OK, f)
            self.assertFalse(r.wait_closed(4.0), "logged-in connection closed by preauth_timeout")
            f = r.request(nt.frame(nt.MSG_JOB_LIST, reqid=3), CLOSE_BOUND)
            self.assertIsNotNone(f)
            self.assertIn(f.type, (nt.MSG_JOB_INFO, nt.MSG_JOB_LIST_END), f)


def tcp_closed(sock, timeout):
    """True if the server closed this plain TCP connection within timeout (it sends nothing
    to a peer that has not begun TLS, so any read that returns is the close)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def counted(log, pattern):
    """The lines of log that match pattern (a regex whose group 1, if any, is a count), and
    the sum of those counts (1 for a line without one)."""
    lines = [l for l in log.splitlines() if re.search(pattern, l)]
    total = 0
    for l in lines:
        m = re.search(pattern, l)
        total += int(m.group(1)) if m.groups() and m.group(1) else 1
    return lines, total


class AddressLimit(unittest.TestCase):
    """max_connections_per_address (8 here, 64 by default): an office behind one NAT address
    is one address. At the limit a new connection from it takes the place of that address's
    oldest connection not logged in, in the order max_connections uses (closing, in TLS, no
    HELLO, not logged in); only when every one is logged in is it refused. Refusals and
    displacements are one line at once and then a count per address an interval (said at
    shutdown too), not a line each."""
    CAP = 8

    def server(self, **extra):
        keys = {"max_connections_per_address": self.CAP, "preauth_timeout": 60}
        keys.update(extra)
        srv = nt.Server(self, extra=keys)
        srv.add_user("alice", "alice-pw-secret")
        return srv, nt.Client(srv, "alice", "alice-pw-secret", owner=self)

    def stalled(self, srv, n):
        socks = []
        for _ in range(n):
            s = socket.create_connection((nt.HOST, srv.port), timeout=10)
            self.addCleanup(s.close)
            socks.append(s)
        return socks

    def logged_in(self, srv, n):
        conns = []
        for i in range(n):
            r = nt.raw_connect(srv, owner=self)
            self.assertEqual(r.request(nt.hello(), CLOSE_BOUND).type, nt.MSG_HELLO_OK)
            f = r.request(nt.login_frame("alice", "alice-pw-secret"), 30)
            self.assertIsNotNone(f, "login %d: no answer" % (i + 1))
            self.assertEqual(f.type, nt.MSG_LOGIN_OK, f)
            conns.append(r)
        return conns

    def assert_alive(self, conns):
        for i, r in enumerate(conns):
            f = r.request(nt.frame(nt.MSG_PING, [nt.a_u64(nt.T_SEQ, i)], reqid=100 + i),
                          CLOSE_BOUND)
            self.assertIsNotNone(f, "connection %d was closed" % (i + 1))
            self.assertEqual(f.type, nt.MSG_PONG, f)

    def test_stalled_connections_make_room_for_a_real_client_oldest_first(self):
        srv, alice = self.server()
        # The oldest two got as far as HELLO; the six after them are stuck before TLS.
        helloed = []
        for i in range(2):
            r = nt.raw_connect(srv, owner=self)
            self.assertEqual(r.request(nt.hello(), CLOSE_BOUND).type, nt.MSG_HELLO_OK)
            helloed.append(r)
        stalled = self.stalled(srv, self.CAP - 2)

        def closed():
            return [i for i, s in enumerate(stalled) if tcp_closed(s, 0.2)]
        # The address is at its limit: a real client still logs in, sends and lists.
        rc, out, err = alice.run("login")
        self.assertEqual(rc, 0, alice.describe() + "\nlog:\n" + srv.log_text()[-3000:])
        doc = os.path.join(alice.home, "d.tif")
        nt.make_tiff(doc, seed=7)
        rc, out, err = alice.run("send", doc, "--to", "5550199")
        self.assertEqual(rc, 0, alice.describe() + "\nlog:\n" + srv.log_text()[-3000:])
        rc, jobs, err = alice.run("jobs", json=True)
        self.assertEqual(rc, 0, alice.describe())
        self.assertEqual(len(jobs.get("jobs", [])), 1, jobs)
        # Its first connection took the oldest stalled one's place (the others found the
        # place it left); the two past HELLO, older still, stay.
        self.assertTrue(tcp_closed(stalled[0], CLOSE_BOUND), "the oldest stalled connection "
                        "was not displaced:\n" + srv.log_text()[-3000:])
        self.assertEqual(closed(), [0], srv.log_text()[-3000:])
        self.assert_alive(helloed)
        # Sessions that stay: the first fills the place, each next one displaces the oldest
        # stalled connection left, and only then the oldest past HELLO.
        sessions = self.logged_in(srv, 1)
        self.assertEqual(closed(), [0])
        for k in range(1, self.CAP - 2):
            sessions += self.logged_in(srv, 1)
            self.assertEqual(closed(), list(range(k + 1)), srv.log_text()[-3000:])
            self.assert_alive(helloed)
        sessions += self.logged_in(srv, 1)
        self.assertTrue(helloed[0].wait_closed(CLOSE_BOUND), "the oldest past HELLO stayed")
        self.assert_alive(helloed[1:])
        sessions += self.logged_in(srv, 1)
        self.assertTrue(helloed[1].wait_closed(CLOSE_BOUND), "the second past HELLO stayed")
        # Every place is a logged-in session now: the next connection is refused.
        self.assertEqual(len(sessions), self.CAP)
        s = socket.create_connection((nt.HOST, srv.port), timeout=10)
        self.addCleanup(s.close)
        self.assertTrue(tcp_closed(s, CLOSE_BOUND), "a logged-in session was displaced")
        self.assert_alive(sessions)
        self.assertEqual(srv.stop(), 0)
        log = srv.log_text()
        first, n_first = counted(log, r"addr=127\.0\.0\.1:%d: closing \(in its TLS handshake\) "
                                 r"to make room for 127\.0\.0\.1:\d+: max_connections_per_address"
                                 r" \(8\) reached" % stalled[0].getsockname()[1])
        self.assertEqual(len(first), 1, log[-3000:])
        summary, n_more = counted(log, r"addr=127\.0\.0\.1: displaced (\d+) more connections? not "
                                  r"logged in, oldest first, in the last \d+ s: "
                                  r"max_connections_per_address \(8\) reached")
        self.assertGreaterEqual(len(summary), 1, log[-3000:])
        # Six stalled and two past HELLO, each displaced once, in a line and a summary.
        self.assertEqual(n_first + n_more, 8, log[-3000:])
        self.assertEqual(log.count("to make room for"), 1, "a displacement line each")
        refused, n_refused = counted(log, r"addr=127\.0\.0\.1:\d+: closing: "
                                     r"max_connections_per_address \(8\) reached, all of them "
                                     r"logged in or checking a password")
        self.assertEqual(n_refused, 1, log[-3000:])

    def flood_refused(self, srv, alice, conns, n, line):
        """Every connection of the address (or server) is logged in: a real client is
        refused, then n more; the sessions go on. Returns the log after a stop, and checks the
        refusals came as a bounded number of lines whose counts add up to n + 1."""
        rc, out, err = alice.run("login")
        self.assertNotEqual(rc, 0, alice.describe())
        for i in range(n):
            s = socket.create_connection((nt.HOST, srv.port), timeout=10)
            try:
                self.assertTrue(tcp_closed(s, CLOSE_BOUND), "connection %d not refused" % i)
            finally:
                s.close()
        self.assert_alive(conns)
        self.assertEqual(srv.stop(), 0)
        log = srv.log_text()
        first, n_first = counted(log, r"addr=127\.0\.0\.1:\d+: closing: " + line)
        more, n_more = counted(log, r"addr=127\.0\.0\.1: refused (\d+) more connections? in the "
                               r"last \d+ s: " + line)
        # One line at once, one summary an interval (a minute's timer may split the flood).
        self.assertEqual(len(first), 1, log[-3000:])
        self.assertGreaterEqual(len(more), 1, log[-3000:])
        self.assertLessEqual(len(first) + len(more), 4, log[-3000:])
        self.assertEqual(n_first + n_more, n + 1, log[-3000:])
        print("%d refused connections: %d log lines" % (n + 1, len(first) + len(more)),
              file=sys.stderr)
        return log

    def test_logged_in_address_refuses_in_one_counted_line(self):
        srv, alice = self.server()
        conns = self.logged_in(srv, self.CAP)
        log = self.flood_refused(srv, alice, conns, 400,
                                 r"max_connections_per_address \(8\) reached, all of them "
                                 r"logged in or checking a password")
        self.assertEqual(log.count("to make room for"), 0, "a logged-in session displaced")

    def test_full_server_refuses_in_one_counted_line(self):
        srv, alice = self.server(max_connections=4, max_connections_per_address=64)
        conns = self.logged_in(srv, 4)
        log = self.flood_refused(srv, alice, conns, 300,
                                 r"server at max_connections \(4\), all logged in or checking a "
                                 r"password")
        self.assertEqual(log.count("to make room for"), 0, "a logged-in session displaced")


def client_hello_bytes():
    """The first flight of a real TLS client: its ClientHello record(s)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Flood(unittest.TestCase):
    """A thousand connections from a thousand addresses (loopback has all of 127/8) that never
    finish: half send nothing after TCP's handshake, half stop in the middle of their TLS
    ClientHello. With max_connections far below that, a real user still logs in, a session that
    was logged in before keeps working, connections that got further (TLS and HELLO done) are
    kept, and the stalled ones displace each other oldest first, logged as a count, not a line
    each."""
    FLOOD = 1000
    CAP = 300
    HELLOED = 50

    def test_stalled_connections_do_not_lock_out_a_real_login(self):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = self.FLOOD + self.HELLOED + 200
        if hard < need:
            self.skipTest("this test needs %d file descriptors; the hard limit is %d"
                          % (need, hard))
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        srv = nt.Server(self, extra={"max_connections": self.CAP, "preauth_timeout": 60})
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        early = nt.raw_connect(srv, owner=self)
        self.assertEqual(early.request(nt.hello(), CLOSE_BOUND).type, nt.MSG_HELLO_OK)
        self.assertEqual(early.request(nt.login_frame("alice", "alice-pw-secret"), 30).type,
                         nt.MSG_LOGIN_OK)
        helloed = []
        for i in range(self.HELLOED):
            r = nt.RawConn(srv.port)
            self.addCleanup(r.close)
            self.assertEqual(r.request(nt.hello(), CLOSE_BOUND).type, nt.MSG_HELLO_OK)
            helloed.append(r)
        hello = client_hello_bytes()
        self.assertGreater(len(hello), 100)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(self.FLOOD):
            s = socket.socket()
            s.bind(("127.77.%d.%d" % (i // 250, i % 250 + 1), 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", srv.port))
            if i % 2:
                s.sendall(hello[:len(hello) // 2])
            socks.append(s)
        # The flood is all there, and the server is full: now a real client.
        rc, out, err = alice.run("login")
        self.assertEqual(rc, 0, alice.describe() + "\nlog:\n" + srv.log_text()[-3000:])
        f = early.request(nt.frame(nt.MSG_PING, [nt.a_u64(nt.T_SEQ, 1)], reqid=9), CLOSE_BOUND)
        self.assertIsNotNone(f, "the session logged in before the flood was closed")
        self.assertEqual(f.type, nt.MSG_PONG, f)
        for r in helloed:
            self.assertFalse(r.wait_closed(0.01), "a connection past HELLO was displaced "
                             "while stalled handshakes were there to take")

        def is_open(sock):
            sock.settimeout(0.01)
            try:
                return sock.recv(1) != b""
            except socket.timeout:
                return True
            except OSError:
                return False
        # Oldest first: the first of the flood are gone, the last are still there.
        self.assertEqual([i for i in range(100) if is_open(socks[i])], [])
        self.assertEqual([i for i in range(self.FLOOD - 100, self.FLOOD)
                          if not is_open(socks[i])], [])
        # The displacements: the first of each step on a line of its own, the rest counted
        # (said at the latest at the stop).
        self.assertEqual(srv.stop(), 0)
        log = srv.log_text()
        first, n_first = counted(log, r"closing \(in its TLS handshake\) to make room for "
                                 r"\S+: server at max_connections \(%d\)" % self.CAP)
        more, n_more = counted(log, r"displaced (\d+) more connections? \(in its TLS "
                               r"handshake\), oldest first, in the last \d+ s to make room: "
                               r"server at max_connections \(%d\)" % self.CAP)
        made_room = n_first + n_more
        self.assertGreaterEqual(made_room, self.FLOOD + self.HELLOED + 2 - self.CAP,
                                "the flood did not fill the server: nothing was tested")
        self.assertEqual(log.count("to make room"), len(first) + len(more), log[-3000:])
        self.assertLessEqual(len(first) + len(more), 4, "a line per displacement")
        # (counts, not assertNotIn: the log is long)
        self.assertEqual(log.count("all logged in"), 0)
        self.assertEqual(log.count("no HELLO yet"), 0)
        self.assertEqual(log.count("(not logged in)"), 0, "connections past HELLO displaced")
        print("%d stalled connections against max_connections %d: %d displaced, oldest "
              "first; %d past HELLO kept; login ok" % (self.FLOOD, self.CAP, made_room,
                                                       self.HELLOED), file=sys.stderr)


class StopAfterBurst(unittest.TestCase):
    """300 connections closed at once and SIGTERM straight after: the server frees what the
    closes left for its next loop turn before it exits (in the sanitizer build, a leak there
    fails the test through the log check at stop)."""

    def test_sigterm_right_after_a_burst_of_closes(self):
        for _ in range(2):
            srv = nt.Server(self, extra={"preauth_timeout": 60})
            socks = []
            try:
                for i in range(300):
                    s = socket.socket()
                    s.bind(("127.79.%d.%d" % (i // 250, i % 250 + 1), 0))
                    s.connect(("127.0.0.1", srv.port))
                    socks.append(s)
                time.sleep(1.0)      # all accepted; then every one closes at once
            finally:
                for s in socks:
                    s.close()
            self.assertEqual(srv.stop(), 0, srv.log_text()[-3000:])
            nt.check_sanitizer_report("the netcfaxd log", srv.log_text())


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class NonReader(unittest.TestCase):
    """Clients that never read what the server sends them cannot make its memory grow: replies
    are held up to a cap and then the server stops reading that client's requests; at most a
    window of notifications is in flight, and the store holds the rest."""
    # Far below what each flood would cost unbounded (about 1 GB of replies; 36 MB of
    # notifications), with room for the sanitizer build's own overhead.
    REPLY_GROWTH_KIB = 64 * 1024
    NOTIFY_GROWTH_KIB = 24 * 1024

    def setUp(self):
        # notify_keep_max above the flood's 40,000: a slow run must not meet the minute's
        # pruning of what is beyond a user's newest 10,000 (the default) before delivery.
        self.srv = nt.Server(self, extra={"idle_timeout": 3600, "notify_poll": 100,
                                          "notify_keep_max": 100000})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)

    def test_requests_whose_replies_are_never_read(self):
        doc = os.path.join(self.alice.home, "d.tif")
        nt.make_tiff(doc, seed=5)
        for i in range(20):   # every JOB_LIST is answered with 20 JOB_INFOs: 100 times its size
            rc, out, err = self.alice.run("send", doc, "--to", "5550199")
            self.assertEqual(rc, 0, self.alice.describe())
        r = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(r.request(nt.hello(), CLOSE_BOUND).type, nt.MSG_HELLO_OK)
        self.assertEqual(r.request(nt.login_frame("alice", "alice-pw-secret"), 30).type,
                         nt.MSG_LOGIN_OK)
        before = rss_kib(self.srv.proc.pid)
        batch = b"".join(nt.frame(nt.MSG_JOB_LIST, reqid=3 + i) for i in range(1000))
        r.sock.settimeout(5.0)
        sent = 0
        blocked = False
        for _ in range(2000):           # at most 2,000,000 requests
            try:
                r.sock.sendall(batch)
            except (socket.timeout, ssl.SSLWantWriteError):
                blocked = True
                break
            sent += 1000
        grown = rss_kib(self.srv.proc.pid) - before
        self.assertTrue(blocked, "the server read %d requests whose replies piled up" % sent)
        self.assertLess(grown, self.REPLY_GROWTH_KIB, "the server grew %d KiB for %d unread "
                        "replies" % (grown, sent * 20))
        rc, out, err = self.alice.run("jobs")
        self.assertEqual(rc, 0, self.alice.describe())
        print("requests sent before the server stopped reading: %d; server grew %d KiB"
              % (sent, grown), file=sys.stderr)

    def notify_flood(self, *watch_args):
        w = nt.Watcher(self.alice, *watch_args, owner=self)
        if "relay" in watch_args:
            w.wait_for(lambda wt: any(p["path"] == "relay" for p in wt.of_type("path")), 30,
                       "the relay path")
        else:
            w.wait_status("notifications connected", 30)
        os.killpg(w.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: w.proc.poll() is None and os.killpg(w.proc.pid, signal.SIGCONT))
        before = rss_kib(self.srv.proc.pid)
        total, size = 40000, 900      # 36 MB of notifications
        text = "x" * (size - 8)
        for start in range(0, total, 10000):
            # 10,000 rows a command: a sanitizer build on a loaded machine needs more than the
            # usual 30 s (a bound on a hang, not a measure of speed).
            rc, out, err = self.srv.admin(
                "notify", "alice", "--stdin", timeout=300,
                stdin_data="".join("%07d %s\n" % (i, text) for i in range(start, start + 10000)))
            self.assertEqual(rc, 0, err)
        stored = self.srv.db_query("SELECT COUNT(*) FROM notifications")[0][0]
        self.assertEqual(stored, total)
        # Give the server every chance to read the outbox into memory.
        time.sleep(3.0)
        grown = rss_kib(self.srv.proc.pid) - before
        self.assertLess(grown, self.NOTIFY_GROWTH_KIB,
                        "the server grew %d KiB for a client that reads nothing" % grown)
        os.killpg(w.proc.pid, signal.SIGCONT)
        # A bound on a hang, not a measure of speed: the release build delivers the 40,000
        # in well under a minute; the sanitizer build on a 2-core machine running other work
        # once took just over 300 s, so three times that.
        ns = w.wait_notifications(total, 900)
        time.sleep(1.0)
        ns = w.notifications()
        self.assertEqual([n["seq"] for n in ns], list(range(1, total + 1)))
        self.assertEqual(ns[-1]["text"], "%07d %s" % (total - 1, text))
        print("%d notifications of %d bytes to a stopped watcher (%s): server grew %d KiB; "
              "all delivered once when it went on" % (total, size, " ".join(watch_args) or
                                                       "direct", grown), file=sys.stderr)

    def test_stopped_watcher_direct(self):
        self.notify_flood("--scp", "direct")

    def test_stopped_watcher_relayed(self):
        self.notify_flood("--scp", "relay")


class IdleSession(unittest.TestCase):
    def test_silent_logged_in_client_is_dropped(self):
        srv = nt.Server(self, extra={"idle_timeout": 10, "preauth_timeout": 30})
        srv.add_user("alice", "alice-pw-secret")
        quiet = nt.raw_connect(srv, owner=self)
        talky = nt.raw_connect(srv, owner=self)
        for r in (quiet, talky):
            self.assertEqual(r.request(nt.hello(), 10).type, nt.MSG_HELLO_OK)
            self.assertEqual(r.request(nt.login_frame("alice", "alice-pw-secret"), 30).type,
                             nt.MSG_LOGIN_OK)
        # talky sends a heartbeat every 3 s and must outlive quiet, which sends nothing
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not quiet.closed:
            f = talky.request(nt.frame(nt.MSG_PING, reqid=3), 10)
            self.assertIsNotNone(f, "the heartbeating connection was dropped")
            self.assertEqual(f.type, nt.MSG_PONG, f)
            quiet.wait_closed(3)
        self.assertTrue(quiet.closed, "a silent session was never dropped")
        self.assertIn("no heartbeat for 10 s", srv.log_text())
        f = talky.request(nt.frame(nt.MSG_PING, reqid=4), 10)
        self.assertEqual(f.type, nt.MSG_PONG, f)


if __name__ == "__main__":
    nt.main()

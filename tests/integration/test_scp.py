#!/usr/bin/env python3
"""The Secondary Connection Port on loopback: modes, registration, notifications, acks,
restarts, backlog, several instances on one address, and connections that must be refused."""
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

FAST = {"notify_poll": 100, "password_hash_cost": 10}


def free_range(n):
    """n consecutive ports that are free on 127.0.0.1 right now, below the kernel's ephemeral
    range (32768 and up here): there, no connection another test makes meanwhile, nor a port
    a test server is given, can take one between this check and the watchers' binds."""
    import random
    rnd = random.Random()
    for _ in range(200):
        base = rnd.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base, base + n - 1
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


def texts(w):
    return [n["text"] for n in w.notifications()]


class ScpCase(unittest.TestCase):
    extra = {}

    def setUp(self):
        extra = dict(FAST)
        extra.update(self.extra)
        self.srv = nt.Server(self, extra=extra)
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)

    def notify(self, user, *messages):
        rc, out, err = self.srv.admin("notify", user, "--stdin",
                                      stdin_data="".join(m + "\n" for m in messages))
        self.assertEqual(rc, 0, err)

    def sessions(self):
        rc, out, err = self.srv.admin("sessions", "--json")
        self.assertEqual(rc, 0, err)
        import json
        return json.loads(out)["sessions"]

    def watch(self, client, *args, **kw):
        w = nt.Watcher(client, *args, owner=self, **kw)
        w.wait_status("notifications connected", 30)
        return w


class Modes(ScpCase):
    def test_dynamic_mode_is_default(self):
        w = self.watch(self.alice)
        port = w.scp_port()
        self.assertIsNotNone(port, w.describe())
        self.assertGreaterEqual(port, 1024)
        [s] = self.sessions()
        self.assertEqual((s["user"], s["addr"], s["scp_port"], s["scp_mode"]),
                         ("alice", "127.0.0.1", port, "dynamic"), s)
        self.assertIn("connected to 127.0.0.1:%d" % port, s["scp"])
        self.notify("alice", "hello dynamic")
        [n] = w.wait_notifications(1)
        self.assertEqual((n["event"], n["text"]), ("message", "hello dynamic"), n)

    def test_fixed_mode(self):
        port = nt.free_port()
        w = self.watch(self.alice, global_opts=("--scp-mode", "fixed", "--scp-port", str(port)))
        self.assertEqual(w.scp_port(), port)
        self.assertEqual(self.sessions()[0]["scp_mode"], "fixed")
        self.notify("alice", "hello fixed")
        self.assertEqual(texts(w) if w.wait_notifications(1) else [], ["hello fixed"])

    def test_fixed_port_taken_says_so_and_suggests_a_range(self):
        port = nt.free_port()
        opts = ("--scp-mode", "fixed", "--scp-port", str(port))
        self.watch(self.alice, global_opts=opts)
        second = nt.Watcher(self.alice, owner=self, global_opts=opts)
        self.assertEqual(second.wait_exit(30), 64, second.describe())
        err = [o for o in second.lines if o.get("type") == "error"]
        self.assertTrue(err, second.describe())
        msg = err[0]["error"]["message"]
        self.assertIn("already in use", msg)
        self.assertIn("range", msg)

    def test_range_mode_takes_next_free_port(self):
        lo, hi = free_range(10)
        blocker = socket.socket()
        blocker.bind(("0.0.0.0", lo))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        w = self.watch(self.alice, global_opts=("--scp-mode", "range", "--scp-range",
                                                "%d-%d" % (lo, hi)))
        self.assertEqual(w.scp_port(), lo + 1, w.describe())
        self.notify("alice", "hello range")
        self.assertEqual(len(w.wait_notifications(1)), 1)

    def test_ports_below_1024_refused_by_client(self):
        rc, out, err = self.alice.run("watch", global_opts=("--scp-mode", "fixed",
                                                            "--scp-port", "22"))
        self.assertEqual(rc, 64, self.alice.describe())
        self.assertIn("1024", err)

    def test_well_known_port_warns(self):
        if not self._port_free(5432):
            self.skipTest("port 5432 is in use on this machine")
        w = self.watch(self.alice, global_opts=("--scp-mode", "fixed", "--scp-port", "5432"))
        self.assertTrue(any("PostgreSQL" in m for m in w.statuses()), w.describe())

    @staticmethod
    def _port_free(port):
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False
        finally:
            s.close()


class ServerPolicy(ScpCase):
    extra = {"scp_ports": "20000-20100"}

    def login_with_port(self, port):
        r = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(r.request(nt.hello(), 10).type, nt.MSG_HELLO_OK)
        f = r.request(nt.frame(nt.MSG_LOGIN, [nt.a_str(nt.T_USER, "alice"),
                                              nt.attr(nt.T_PASSWORD, b"alice-pw-secret"),
                                              nt.a_u16(nt.T_SCP_PORT, port),
                                              nt.a_u8(nt.T_SCP_MODE, 1)], reqid=2), 30)
        return f

    def test_server_refuses_ports_below_1024_and_outside_policy(self):
        for port, words in ((22, "below 1024"), (80, "below 1024"), (7485, "20000-20100")):
            f = self.login_with_port(port)
            self.assertEqual(f.type, nt.MSG_ERROR, f)
            self.assertEqual(f.error_code, 7, f)
            self.assertIn(words, f.str(nt.T_REASON))
        self.assertEqual(self.sessions(), [])
        f = self.login_with_port(20050)
        self.assertEqual(f.type, nt.MSG_LOGIN_OK, f)

    def probe(self, port, reqid=3):
        r = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(r.request(nt.hello(), 10).type, nt.MSG_HELLO_OK)
        f = r.request(nt.login_frame("alice", "alice-pw-secret"), 30)
        self.assertEqual(f.type, nt.MSG_LOGIN_OK, f)
        return r, r.request(nt.frame(nt.MSG_SCP_PROBE, [nt.a_u16(nt.T_SCP_PORT, port)],
                                     reqid=reqid), 30)

    def test_probe_follows_the_port_policy(self):
        for port, words in ((80, "below 1024"), (7485, "20000-20100")):
            r, f = self.probe(port)
            self.assertEqual((f.type, f.error_code), (nt.MSG_ERROR, 7), f)
            self.assertIn(words, f.str(nt.T_REASON))
            # request-level: the connection goes on
            self.assertEqual(r.request(nt.frame(nt.MSG_PING, reqid=9), 10).type, nt.MSG_PONG)

    def test_probe_results(self):
        # Nothing listens: refused, with where the server connected (our observed address).
        port = 20000 + nt.free_port() % 100
        r, f = self.probe(port)
        self.assertEqual(f.type, nt.MSG_SCP_PROBE_RESULT, f)
        self.assertEqual(f.reqid, 3)
        self.assertEqual(f.uint(nt.T_PROBE_RESULT), 1, f.str(nt.T_REASON))
        self.assertEqual(f.str(nt.T_OBSERVED_ADDR), "127.0.0.1:%d" % port)
        self.assertEqual(f.uint(nt.T_RELAY), 1)
        # Something that is not a netcfax client: it accepts and closes.
        import socket
        import threading
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(4)
        self.addCleanup(ls.close)

        def answer():
            c, _ = ls.accept()
            c.close()
        t = threading.Thread(target=answer, daemon=True)
        t.start()
        r2, f = self.probe(port)
        self.assertEqual(f.uint(nt.T_PROBE_RESULT), 3, f.str(nt.T_REASON))
        t.join(10)
        # The sessions carry no notifications, and the probes left no port or state on them.
        rows = self.sessions()
        self.assertEqual(len(rows), 2, rows)
        for row in rows:
            self.assertEqual(row["scp_port"], 0, row)
            self.assertNotIn("connect", row["scp"], row)

    def test_watch_outside_policy_exits_with_the_reason(self):
        w = nt.Watcher(self.alice, owner=self, global_opts=("--scp-mode", "fixed",
                                                            "--scp-port", "7485"))
        self.assertEqual(w.wait_exit(30), 1, w.describe())
        err = [o for o in w.lines if o.get("type") == "error"]
        self.assertIn("20000-20100", err[0]["error"]["message"], w.describe())


class Delivery(ScpCase):
    def test_job_events_and_messages_in_order(self):
        w = self.watch(self.alice)
        doc = os.path.join(self.alice.home, "d.tif")
        nt.make_tiff(doc, pages=2)
        rc, data, err = self.alice.run("send", doc, "--to", "5550100", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        job = data["job"]["id"]
        rc, out, err = self.alice.run("cancel", str(job))
        self.assertEqual(rc, 0, self.alice.describe())
        ns = w.wait_notifications(2)
        self.assertEqual([(n["seq"], n["event"], n.get("job"), n.get("state")) for n in ns],
                         [(1, "job_queued", job, "pending"),
                          (2, "job_cancelled", job, "cancelled")], ns)
        self.assertEqual(ns[0]["dest"], "5550100")

    def test_operator_message_must_be_clean_text(self):
        for bad in ("tab\there", "esc \x1b[2J", "\u202eevil"):
            rc, out, err = self.srv.admin("notify", "alice", bad)
            self.assertEqual(rc, 1, (bad, out, err))
            self.assertIn("control characters", err)
        rc, out, err = self.srv.admin("notify", "alice", "--stdin",
                                      stdin_data="fine\n" + "x" * 2000 + "\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("longer than 1024", err)
        w = self.watch(self.alice)
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "fine")

    def test_offline_client_gets_backlog_at_next_login(self):
        self.notify("alice", "while you were out 1", "while you were out 2")
        w = self.watch(self.alice)
        w.wait_notifications(2)
        self.assertEqual(texts(w), ["while you were out 1", "while you were out 2"])
        self.assertEqual(w.stop(), 0)
        # acknowledged: a later login does not show them again, only what is new
        self.notify("alice", "new since")
        w2 = self.watch(self.alice)
        w2.wait_notifications(1)
        time.sleep(0.5)
        self.assertEqual(texts(w2), ["new since"])

    def test_every_session_of_a_user_receives(self):
        a = self.watch(self.alice)
        b = self.watch(self.alice)
        self.assertNotEqual(a.scp_port(), b.scp_port())
        self.notify("alice", "to both")
        self.assertEqual(texts(a) if a.wait_notifications(1) else None, ["to both"])
        self.assertEqual(texts(b) if b.wait_notifications(1) else None, ["to both"])

    def test_exec_runs_a_command_per_notification(self):
        out = os.path.join(self.alice.home, "exec.out")
        w = self.watch(self.alice, "--exec",
                       'printf "%s|%s|%s\\n" "$NETCFAX_SEQ" "$NETCFAX_EVENT" "$NETCFAX_TEXT" >> '
                       + out)
        self.notify("alice", "run me; rm -rf / $(echo not-expanded)")
        w.wait_notifications(1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(out):
            time.sleep(0.05)
        with open(out) as f:
            self.assertEqual(f.read(), "1|message|run me; rm -rf / $(echo not-expanded)\n")

    def test_send_wait_ends_with_the_job(self):
        doc = os.path.join(self.alice.home, "w.tif")
        nt.make_tiff(doc, pages=1)
        w = nt.Watcher(self.alice, doc, "--to", "5550101", "--wait", owner=self,
                       command="send")
        w.wait_for(lambda x: any("job" in o for o in x.lines), 30, "job queued")
        job = [o for o in w.lines if "job" in o][0]["job"]["id"]
        rc, out, err = self.alice.run("cancel", str(job))
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(w.wait_exit(30), 6, w.describe())
        self.assertEqual([n["event"] for n in w.notifications()],
                         ["job_queued", "job_cancelled"], w.describe())


class RelayLoopback(ScpCase):
    extra = {"idle_timeout": 10, "preauth_timeout": 30}

    def relayed_raw_login(self):
        r = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(r.request(nt.hello(), 10).type, nt.MSG_HELLO_OK)
        f = r.request(nt.frame(nt.MSG_LOGIN, [nt.a_str(nt.T_USER, "alice"),
                                              nt.attr(nt.T_PASSWORD, b"alice-pw-secret"),
                                              nt.a_u8(nt.T_PATH, 2)], reqid=2), 30)
        self.assertEqual(f.type, nt.MSG_LOGIN_OK, f)
        f = r.recv_frame(10)
        self.assertEqual((f.type, f.uint(nt.T_PATH)), (nt.MSG_NOTIFY_PATH, 2), f)
        return r

    def test_relayed_notifications_and_acks_on_the_pcp(self):
        r = self.relayed_raw_login()
        self.notify("alice", "one", "two")
        seqs = []
        while len(seqs) < 2:
            f = r.recv_frame(10)
            self.assertIsNotNone(f, "relayed NOTIFY missing")
            self.assertEqual(f.type, nt.MSG_NOTIFY, f)
            seqs.append(f.uint(nt.T_SEQ))
        self.assertEqual(seqs, [1, 2])
        r.send(nt.frame(nt.MSG_NOTIFY_ACK, [nt.a_u64(nt.T_SEQ, 2)], reqid=0))
        # an ack of what was never sent is a protocol error
        r.send(nt.frame(nt.MSG_NOTIFY_ACK, [nt.a_u64(nt.T_SEQ, 9)], reqid=0))
        f = r.recv_frame(10)
        self.assertEqual((f.type, f.error_code), (nt.MSG_ERROR, 1), f)
        self.assertTrue(r.wait_closed(10))

    def test_unacknowledged_relay_is_restarted(self):
        r = self.relayed_raw_login()
        self.notify("alice", "never acknowledged")
        f = r.recv_frame(10)
        self.assertEqual(f.type, nt.MSG_NOTIFY, f)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not r.closed:
            r.send(nt.frame(nt.MSG_PING, reqid=5))   # alive, but never an ack
            r.wait_closed(2)
        self.assertTrue(r.closed, "a relay that is never acknowledged was never restarted")
        self.assertIn("relayed notifications unacknowledged for 30 s", self.srv.log_text())


class WaitInterrupted(ScpCase):
    def test_send_wait_interrupted_says_the_job_continues(self):
        doc = os.path.join(self.alice.home, "i.tif")
        nt.make_tiff(doc, pages=1)
        w = nt.Watcher(self.alice, doc, "--to", "5550102", "--wait", owner=self,
                       command="send")
        w.wait_for(lambda x: any(n.get("event") == "job_queued" for n in x.notifications()),
                   30, "the job_queued notification")
        self.assertEqual(w.stop(), 130, w.describe())
        self.assertIn("continues", w.describe())
        rc, data, err = self.alice.run("jobs", json=True)
        self.assertEqual([j["state"] for j in data["jobs"]], ["pending"])


class ManyInstances(ScpCase):
    """Terminal servers: many client instances on one address, each with its own port,
    each receiving only its own user's notifications."""

    def run_instances(self, n):
        lo, hi = free_range(n)
        users = ["user%d" % i for i in range(n)]
        watchers = []
        for u in users:
            self.srv.add_user(u, u + "-pw-secret")
            c = nt.Client(self.srv, u, u + "-pw-secret", owner=self)
            watchers.append(nt.Watcher(c, owner=self, global_opts=(
                "--scp-mode", "range", "--scp-range", "%d-%d" % (lo, hi))))
        for w in watchers:
            w.wait_status("notifications connected", 60)
        ports = [w.scp_port() for w in watchers]
        self.assertEqual(len(set(ports)), n, ports)
        self.assertTrue(all(lo <= p <= hi for p in ports), ports)
        for u in users:
            self.notify(u, "for " + u)
        for u, w in zip(users, watchers):
            w.wait_notifications(1)
        time.sleep(0.5)
        for u, w in zip(users, watchers):
            self.assertEqual(texts(w), ["for " + u], w.describe())
        self.assertEqual(len(self.sessions()), n)

    def test_two_instances(self):
        self.run_instances(2)

    def test_ten_instances_in_a_range_of_ten(self):
        self.run_instances(10)


class Restart(ScpCase):
    def test_kill9_during_a_burst_delivers_each_exactly_once(self):
        # The command run per notification appends its seq to a file and takes a little
        # time, so the server is certainly killed in the middle of the burst.
        log = os.path.join(self.alice.home, "seen.log")
        w = self.watch(self.alice, "--exec", 'echo "$NETCFAX_SEQ" >> %s; sleep 0.005' % log)
        total = 1000
        self.notify("alice", *["burst %d" % i for i in range(1, total + 1)])
        w.wait_notifications(50, 60)
        self.srv.kill9()
        at_kill = len(w.notifications())
        self.assertLess(at_kill, total, "the burst ended before the kill: nothing was tested")
        self.srv.start()
        w.wait_notifications(total, 180)
        time.sleep(1.0)
        seqs = [n["seq"] for n in w.notifications()]
        self.assertEqual(seqs, list(range(1, total + 1)), "duplicates or gaps")
        self.assertEqual(texts(w)[-1], "burst %d" % total)
        with open(log) as f:
            ran = [int(x) for x in f.read().split()]
        self.assertEqual(ran, list(range(1, total + 1)), "a command ran twice or not at all")
        self.assertTrue(any("reconnecting" in m for m in w.statuses()), w.describe())


class WakeUp(ScpCase):
    """netcfax-admin notify tells the server to look at once: with a poll of a minute, its
    notifications still arrive well within it."""
    extra = {"notify_poll": "60000"}

    def test_admin_notification_goes_out_without_the_poll(self):
        sock = os.path.join(self.srv.state_dir, "netcfaxd.wake")
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o600)
        w = self.watch(self.alice)
        for i in range(1, 4):
            self.notify("alice", "at once %d" % i)
            self.assertTrue(w.wait_notifications(i, 20), w.describe())
        self.assertEqual(texts(w), ["at once 1", "at once 2", "at once 3"])
        self.assertEqual(w.stop(), 0)
        # A watcher that stops closes its TLS connection properly: no "cut short" in the log.
        time.sleep(0.5)
        self.assertNotIn("TLS error", self.srv.log_text(), w.describe())
        self.srv.stop()
        self.assertFalse(os.path.exists(sock), "the socket outlived the server")

    def test_second_server_on_the_same_state_dir_is_refused(self):
        w = self.watch(self.alice)
        other = nt.Server(self, extra={"state_dir": self.srv.state_dir}, start=False)
        with self.assertRaises(AssertionError) as cm:
            other.start()
        self.assertIn("another netcfaxd (pid %d) is running with state_dir" % self.srv.proc.pid,
                      str(cm.exception))
        # The first one lost nothing: its wake-up socket, its sessions, its delivery.
        self.notify("alice", "still here")
        self.assertTrue(w.wait_notifications(1, 20), w.describe())
        self.assertEqual(len(self.sessions()), 1)
        self.assertEqual(w.stop(), 0)


class IdleClose(ScpCase):
    """An SCP with nothing to carry for scp_idle_close seconds is closed, and connected again
    for the next notification: the client sees its notifications, and no trouble. The
    keepalive PINGs it meanwhile (every tick here): their PONGs are not use."""
    extra = {"scp_idle_close": "12", "scp_keepalive": "1"}

    def wait_scp(self, prefix, what):
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            states = [x["scp"] for x in self.sessions()]
            if states and all(st.startswith("direct: " + prefix) for st in states):
                return
            time.sleep(0.2)
        self.fail("the SCP did not become %s: %r" % (what, self.sessions()))

    def test_idle_scp_closes_and_connects_again_to_deliver(self):
        w = self.watch(self.alice)
        for round_ in (1, 2):
            self.wait_scp("idle", "idle")
            self.notify("alice", "after a quiet spell %d" % round_)
            w.wait_for(lambda w: ("after a quiet spell %d" % round_) in texts(w), 20,
                       "the notification after idle %d" % round_)
            self.wait_scp("connected", "connected again")
        self.assertEqual(texts(w), ["after a quiet spell 1", "after a quiet spell 2"])
        bad = [m for m in w.statuses() if any(x in m for x in ("dropped", "relay", "lost",
                                                              "closed", "error"))]
        self.assertEqual(bad, [], w.describe())
        self.assertEqual(w.stop(), 0)


class ResumeAfterRestart(ScpCase):
    def test_watcher_comes_back_by_resume_token(self):
        w = self.watch(self.alice)
        self.assertTrue(nt.logins(self.srv.log_text(), "alice", "password"),
                        self.srv.log_text())
        for round_ in (1, 2):         # each login's token is good for the next one only
            self.srv.restart()
            w.wait_for(lambda w: nt.logins(self.srv.log_text(since_start=True), "alice",
                                           "resume token"), 60, "a login by resume token")
            self.assertNotIn("by password", self.srv.log_text(since_start=True))
            self.notify("alice", "after restart %d" % round_)
            w.wait_for(lambda w: ("after restart %d" % round_) in texts(w), 60,
                       "the notification after restart %d" % round_)
        self.assertEqual(w.stop(), 0)


class NoResumeTokens(ScpCase):
    extra = {"resume_token_lifetime": "0"}

    def test_watcher_comes_back_by_password(self):
        w = self.watch(self.alice)
        self.srv.restart()
        w.wait_for(lambda w: nt.logins(self.srv.log_text(since_start=True), "alice",
                                       "password"), 60, "a login by password")
        self.assertNotIn("resume token", self.srv.log_text())
        self.assertEqual(w.stop(), 0)


class Spoofing(ScpCase):
    """Connections to the SCP that are not this session's server are dropped unread."""

    def setUp(self):
        super().setUp()
        self.w = self.watch(self.alice)
        self.port = self.w.scp_port()

    def tls_server_conn(self, certfile, keyfile):
        """Connects to the client's SCP and takes the TLS server role, as netcfaxd does."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return ctx.wrap_socket(raw, server_side=True)

    def assert_dropped_and_nothing_shown(self, needle):
        self.w.wait_for(lambda w: any(needle in m for m in w.statuses()), 20,
                        "a log line about the dropped connection")
        self.assertEqual(self.w.notifications(), [])
        # the real server still gets through
        self.notify("alice", "genuine")
        self.assertEqual(texts(self.w) if self.w.wait_notifications(1) else None, ["genuine"])

    def test_plain_connection_dropped(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(nt.frame(nt.MSG_NOTIFY, [nt.a_u64(nt.T_SEQ, 1), nt.a_u16(nt.T_EVENT, 9),
                                           nt.a_str(nt.T_TEXT, "forged")]))
        s.settimeout(20)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
        self.assert_dropped_and_nothing_shown("dropped a connection to the SCP")

    def test_other_certificate_dropped(self):
        d = nt.make_temp_dir(self, prefix="ncfx-evil-")
        key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
        rc, out, err = nt.run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                                   "-out", crt, "-days", "1", "-subj", "/CN=impostor"])
        self.assertEqual(rc, 0, err)
        try:
            s = self.tls_server_conn(crt, key)
            s.sendall(nt.frame(nt.MSG_NOTIFY, [nt.a_u64(nt.T_SEQ, 1),
                                               nt.a_u16(nt.T_EVENT, 9),
                                               nt.a_str(nt.T_TEXT, "forged")]))
            s.close()
        except (ssl.SSLError, OSError):
            pass    # the client may hang up mid-handshake
        self.assert_dropped_and_nothing_shown("not the server's")

    def test_server_certificate_without_the_secret_dropped(self):
        # Even the server's own key is not enough: the session secret is needed too.
        [sess] = self.sessions()
        s = self.tls_server_conn(os.path.join(self.srv.tls_dir, "server.crt"),
                                 os.path.join(self.srv.tls_dir, "server.key"))
        s.sendall(nt.frame(nt.MSG_SCP_BIND, [nt.a_u64(nt.T_SESSION_ID, int(sess["session"], 16)),
                                             nt.attr(nt.T_SCP_PROOF, os.urandom(32))]))
        s.sendall(nt.frame(nt.MSG_NOTIFY, [nt.a_u64(nt.T_SEQ, 1), nt.a_u16(nt.T_EVENT, 9),
                                           nt.a_str(nt.T_TEXT, "forged")]))
        s.settimeout(20)
        try:
            data = s.recv(4096)
        except (ssl.SSLError, OSError):
            data = b""
        s.close()
        self.assertEqual(data, b"", "the client answered an unproven SCP_BIND")
        self.assert_dropped_and_nothing_shown("wrong proof")

    def test_bind_for_another_session_dropped(self):
        s = self.tls_server_conn(os.path.join(self.srv.tls_dir, "server.crt"),
                                 os.path.join(self.srv.tls_dir, "server.key"))
        s.sendall(nt.frame(nt.MSG_SCP_BIND, [nt.a_u64(nt.T_SESSION_ID, 12345),
                                             nt.attr(nt.T_SCP_PROOF, b"\0" * 32)]))
        # The peer has the server's certificate: it is told, in one ERROR frame, that it
        # reached another client (NOT_THIS_SESSION), and the connection ends cleanly.
        s.settimeout(20)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        frames, rest = nt.decode_frames(data)
        self.assertEqual([(f.type, f.reqid, f.uint(nt.T_ERROR_CODE)) for f in frames],
                         [(nt.MSG_ERROR, 0, 40)], frames)
        self.assertEqual(rest, b"")
        self.assertEqual(frames[0].str(nt.T_REASON),
                         "another netcfax client answers on this port")
        self.assert_dropped_and_nothing_shown("connect-back for another netcfax client")

    def test_silent_connection_times_out(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.addCleanup(s.close)
        self.w.wait_for(lambda w: any("dropped a connection" in m for m in w.statuses()),
                        40, "the idle connection to be dropped")
        self.assertEqual(self.w.notifications(), [])


class StoreReset(ScpCase):
    def test_watcher_follows_a_reset_store(self):
        # A running watcher saw seq 1..3; the server then starts over with an empty store.
        # Its new seq 1 must be shown, not hidden as a duplicate.
        w = self.watch(self.alice)
        self.notify("alice", "old 1", "old 2", "old 3")
        w.wait_notifications(3)
        self.srv.stop()
        for f in os.listdir(self.srv.state_dir):
            if f.startswith("netcfax.db"):
                os.unlink(os.path.join(self.srv.state_dir, f))
        self.srv.start()
        self.srv.add_user("alice", "alice-pw-secret")
        w.wait_status("store was reset", 60)
        w.wait_status("notifications connected", 60)
        self.notify("alice", "new 1")
        w.wait_notifications(4)
        self.assertEqual([(n["seq"], n["text"]) for n in w.notifications()],
                         [(1, "old 1"), (2, "old 2"), (3, "old 3"), (1, "new 1")])


if __name__ == "__main__":
    nt.main()

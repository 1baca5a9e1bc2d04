#!/usr/bin/env python3
"""The SCP between hosts on different addresses: server, client and a stranger each in a
network namespace of their own, joined by a bridge in a fourth. Every interface is made inside
the lab's namespaces (never in the root namespace) and the lab is deleted afterwards. Also:
the client's network cut, briefly and for longer than the timeouts."""
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

NET = "10.99.0"     # exists only inside the lab's namespaces
HOSTS = {"srv": NET + ".1", "cli": NET + ".2", "evil": NET + ".3"}


def make_lab(owner):
    """Three hosts on one bridged LAN: the server, the client and a stranger."""
    lab = nt.NetLab(owner, list(HOSTS) + ["lan"])
    lab.run("lan", "ip", "link", "add", "br0", "type", "bridge")
    lab.run("lan", "ip", "link", "set", "br0", "up")
    for host, addr in HOSTS.items():
        lab.link("lan", "to-" + host, host, "eth0")
        lab.run("lan", "ip", "link", "set", "to-" + host, "master", "br0")
        lab.addr(host, "eth0", addr + "/24")
    return lab


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class AcrossHosts(unittest.TestCase):
    def setUp(self):
        self.lab = make_lab(self)
        self.srv = nt.Server(self, prefix=self.lab.prefix("srv"),
                             extra={"listen": HOSTS["srv"], "notify_poll": 100})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=self.lab.prefix("cli"), host=HOSTS["srv"])

    def notify(self, text):
        rc, out, err = self.srv.admin("notify", "alice", text)
        self.assertEqual(rc, 0, err)

    def test_connect_back_to_the_observed_address(self):
        w = nt.Watcher(self.alice, owner=self)
        w.wait_status("notifications connected", 30)
        rc, out, err = self.srv.admin("sessions", "--json")
        [s] = json.loads(out)["sessions"]
        self.assertEqual(s["addr"], HOSTS["cli"], s)
        self.assertIn("connected to %s:%d" % (HOSTS["cli"], w.scp_port()), s["scp"])
        self.assertTrue(any("from %s:" % HOSTS["srv"] in m for m in w.statuses()), w.describe())
        self.notify("across the lab")
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "across the lab")

    def test_a_stranger_on_another_host_is_dropped(self):
        w = nt.Watcher(self.alice, owner=self)
        w.wait_status("notifications connected", 30)
        port = w.scp_port()
        # From the third host: a forged NOTIFY in the clear, then a TLS attempt with its own
        # certificate. Neither may show anything.
        script = (
            "import socket, ssl, struct, subprocess, tempfile, os\n"
            "def attr(t, v): return struct.pack('>HH', t, len(v)) + v\n"
            "body = attr(27, struct.pack('>Q', 1)) + attr(28, struct.pack('>H', 9)) + "
            "attr(29, b'forged')\n"
            "frame = struct.pack('>IHHI', 12 + len(body), 0x0302, 0, 0) + body\n"
            "s = socket.create_connection(('%s', %d), timeout=10)\n"
            "s.sendall(frame)\n"
            "s.settimeout(20)\n"
            "try:\n"
            "    while s.recv(4096): pass\n"
            "except OSError: pass\n"
            "s.close()\n"
            "d = tempfile.mkdtemp()\n"
            "k, c = os.path.join(d, 'k'), os.path.join(d, 'c')\n"
            "subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', "
            "'ec_paramgen_curve:P-256', '-nodes', '-keyout', k, '-out', c, '-days', '1', "
            "'-subj', '/CN=stranger'], check=True, capture_output=True)\n"
            "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
            "ctx.load_cert_chain(c, k)\n"
            "try:\n"
            "    t = ctx.wrap_socket(socket.create_connection(('%s', %d), timeout=10), "
            "server_side=True)\n"
            "    t.sendall(frame)\n"
            "    t.close()\n"
            "except (ssl.SSLError, OSError): pass\n"
            "import shutil; shutil.rmtree(d)\n"
        ) % (HOSTS["cli"], port, HOSTS["cli"], port)
        rc, out, err = nt.run_cmd(self.lab.prefix("evil") + [sys.executable, "-c", script],
                                  timeout=60)
        self.assertEqual(rc, 0, err)
        w.wait_for(lambda x: sum("from %s:" % HOSTS["evil"] in m and "dropped" in m
                                 for m in x.statuses()) >= 2, 30,
                   "both of the stranger's connections dropped")
        self.assertEqual(w.notifications(), [])
        self.notify("genuine")
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "genuine")

    def test_unreachable_scp_is_retried_with_backoff(self):
        # The client's host drops inbound connections to its SCP port: the server must report
        # the failure and keep retrying; once the rule goes, notifications arrive.
        fixed = str(nt.free_port())
        rules = ("table inet ncfxlab {\n chain input {\n  type filter hook input priority 0;\n"
                 "  tcp dport %s drop\n }\n}\n" % fixed)
        self.lab.nft("cli", rules)
        w2 = nt.Watcher(self.alice, owner=self, global_opts=("--scp", "direct",
                                                             "--scp-mode", "fixed",
                                                             "--scp-port", fixed))
        w2.wait_status("logged in", 30)
        self.notify("held back by the firewall")

        def scp_state():
            rc, out, err = self.srv.admin("sessions", "--json")
            ss = json.loads(out)["sessions"]
            return ss[0]["scp"] if ss else ""
        deadline_ok = False
        for _ in range(300):
            state = scp_state()
            if "timed out" in state and "retry in" in state:
                deadline_ok = True
                break
            time.sleep(0.1)
        self.assertTrue(deadline_ok, "session list never said the connect-back timed out: %r"
                        % scp_state())
        self.assertEqual(w2.notifications(), [])
        self.lab.run("cli", "nft", "delete", "table", "inet", "ncfxlab")
        [n] = w2.wait_notifications(1, 90)
        self.assertEqual(n["text"], "held back by the firewall")


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class NetworkCut(unittest.TestCase):
    """The client's network goes away (its cable pulled: the bridge port goes down, packets
    vanish without an error) while notifications are being sent. Whether TCP rides out the
    cut or both ends give up and the client logs in again, each notification reaches it once.
    Short heartbeats and idle timeouts make the long cut take seconds, not minutes."""

    def start(self, heartbeat, idle_timeout):
        self.lab = make_lab(self)
        self.srv = nt.Server(self, prefix=self.lab.prefix("srv"),
                             extra={"listen": HOSTS["srv"], "notify_poll": 100,
                                    "idle_timeout": idle_timeout})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=self.lab.prefix("cli"), host=HOSTS["srv"])
        os.makedirs(self.alice.config_dir, exist_ok=True)
        with open(os.path.join(self.alice.config_dir, "client.conf"), "w") as f:
            f.write("heartbeat = %d\n" % heartbeat)
        self.w = nt.Watcher(self.alice, owner=self)
        self.w.wait_status("notifications connected", 30)

    def cable(self, plugged):
        self.lab.set_link("lan", "to-cli", plugged)

    def notify_batch(self, first, n):
        texts = ["n%04d" % i for i in range(first, first + n)]
        rc, out, err = self.srv.admin("notify", "alice", "--stdin",
                                      stdin_data="".join(t + "\n" for t in texts))
        self.assertEqual(rc, 0, err)
        return texts

    def check_all_once(self, texts):
        self.w.wait_notifications(len(texts), 90)
        time.sleep(1.0)       # a duplicate would arrive now
        ns = self.w.notifications()
        self.assertEqual([n["seq"] for n in ns], list(range(1, len(texts) + 1)))
        self.assertEqual([n["text"] for n in ns], texts)

    def test_short_cut_is_ridden_out(self):
        # Heartbeats every 5 s (the client gives up after 15 s) and a 30 s idle timeout: a
        # cut of about 5 s is well inside both, however slow the machine.
        self.start(heartbeat=5, idle_timeout=30)
        sent = self.notify_batch(0, 100)
        self.w.wait_notifications(100, 30)
        cut = time.monotonic()
        self.cable(False)
        sent += self.notify_batch(100, 200)
        time.sleep(max(0.0, 5.0 - (time.monotonic() - cut)))
        self.cable(True)
        self.check_all_once(sent)
        self.assertFalse(any("no answer from the server" in m for m in self.w.statuses()),
                         self.w.describe())
        self.assertEqual(sum("logged in" in m for m in self.w.statuses()), 1, self.w.describe())
        self.assertNotIn("no heartbeat", self.srv.log_text())

    def test_long_cut_logs_in_again_and_loses_nothing(self):
        self.start(heartbeat=3, idle_timeout=10)
        sent = self.notify_batch(0, 100)
        self.w.wait_notifications(100, 30)
        self.cable(False)
        sent += self.notify_batch(100, 200)
        # A submission while cut off fails and says why; the server never saw it.
        doc = os.path.join(self.alice.home, "d.tif")
        nt.make_tiff(doc, seed=3)
        rc, out, err = self.alice.run("send", doc, "--to", "5550199", timeout=120)
        self.assertNotEqual(rc, 0, self.alice.describe())
        self.assertRegex(err, r"(?i)cannot|timed out|unreachable", self.alice.describe())
        # Both ends notice: the server drops the session, the client starts over.
        self.assertIsNotNone(self.srv.wait_log(lambda line: "no heartbeat for 10 s" in line,
                                               0, 60), self.srv.log_text())
        self.w.wait_status("no answer from the server", 60)
        sent += self.notify_batch(300, 50)     # while the user has no session at all
        self.cable(True)
        self.check_all_once(sent)
        self.assertEqual(self.srv.db_query("SELECT COUNT(*) FROM jobs")[0][0], 0)
        rc, out, err = self.alice.run("send", doc, "--to", "5550199")
        self.assertEqual(rc, 0, self.alice.describe())


if __name__ == "__main__":
    nt.main()

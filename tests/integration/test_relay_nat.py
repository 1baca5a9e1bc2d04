#!/usr/bin/env python3
"""The relay, behind a NAT router that offers no port mapping (nftables masquerade only).

    client 192.168.77.2 --lan-- router 192.168.77.1 | 10.98.0.1 --wan-- server 10.98.0.2

The server can only reach the client through the router, which forwards nothing inbound until
the test adds a rule. All of it lives in network namespaces the test makes and deletes."""
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

CLIENT, ROUTER_LAN, ROUTER_WAN, SERVER = "192.168.77.2", "192.168.77.1", "10.98.0.1", "10.98.0.2"

ROUTER_RULES = """
table inet nat {
  chain prerouting { type nat hook prerouting priority -100; }
  chain postrouting { type nat hook postrouting priority 100; oifname "wan0" masquerade; }
}
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" accept
  }
}
"""


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class RelayBehindNat(unittest.TestCase):
    def setUp(self):
        lab = self.lab = nt.NetLab(self, ["cli", "rtr", "srv"])
        lab.link("cli", "eth0", "rtr", "lan0")
        lab.link("rtr", "wan0", "srv", "eth0")
        lab.addr("cli", "eth0", CLIENT + "/24")
        lab.addr("rtr", "lan0", ROUTER_LAN + "/24")
        lab.addr("rtr", "wan0", ROUTER_WAN + "/24")
        lab.addr("srv", "eth0", SERVER + "/24")
        lab.route("cli", "default", ROUTER_LAN)
        lab.run("rtr", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        lab.nft("rtr", ROUTER_RULES)
        self.srv = nt.Server(self, prefix=lab.prefix("srv"), extra={
            "listen": SERVER, "notify_poll": 100, "idle_timeout": 10,
            "direct_retry_min": 1, "direct_retry_max": 3})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=lab.prefix("cli"), host=SERVER)
        os.makedirs(self.alice.config_dir, exist_ok=True)
        with open(os.path.join(self.alice.config_dir, "client.conf"), "w") as f:
            f.write("heartbeat = 2\ntimeout = 5\n")
        self.port = nt.free_port()

    def notify(self, *texts):
        rc, out, err = self.srv.admin("notify", "alice", "--stdin",
                                      stdin_data="".join(t + "\n" for t in texts))
        self.assertEqual(rc, 0, err)

    def session_row(self):
        rc, out, err = self.srv.admin("sessions", "--json")
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)["sessions"]
        return rows[0] if rows else None

    def paths(self, w):
        return w.of_type("path")

    def test_auto_relays_then_returns_to_direct(self):
        log = os.path.join(self.alice.home, "seen.log")
        w = nt.Watcher(self.alice, "--exec", 'echo "$NETCFAX_SEQ" >> %s; sleep 0.003' % log,
                       owner=self, global_opts=("--scp", "auto", "--scp-mode", "fixed",
                                                "--scp-port", str(self.port)))

        # 1. auto ends up relayed, and says why
        w.wait_for(lambda x: any(p["path"] == "relay" for p in self.paths(x)), 30,
                   "the relay path")
        why = [p for p in self.paths(w) if p["path"] == "relay"][0]["reason"]
        self.assertIn("connect-back to %s:%d failed" % (ROUTER_WAN, self.port), why)
        self.assertRegex(why, "refused|timed out")
        row = self.session_row()
        self.assertEqual(row["addr"], ROUTER_WAN, row)
        self.assertTrue(row["scp"].startswith("relay ("), row)
        self.assertTrue(any("heartbeat every 2 s" in m for m in w.statuses()), w.describe())

        # 2. a burst of 1000, relayed, with the server killed in the middle of it
        total = 1000
        self.notify(*["burst %d" % i for i in range(1, total + 1)])
        w.wait_notifications(50, 60)
        self.srv.kill9()
        self.assertLess(len(w.notifications()), total, "the burst ended before the kill")
        self.srv.start()
        w.wait_notifications(total, 180)
        w.wait_for(lambda x: any(p["path"] == "relay" for p in self.paths(x)[1:]), 30,
                   "relayed again after the restart")

        # 3. the client's link goes down for longer than the heartbeat window
        self.lab.set_link("cli", "eth0", False)
        self.notify("while cut 1", "while cut 2")
        w.wait_status("no answer from the server", 40)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and "no heartbeat" not in self.srv.log_text():
            time.sleep(0.2)
        self.assertIn("no heartbeat", self.srv.log_text(), "the server never noticed")
        self.lab.set_link("cli", "eth0", True)
        # the kernel dropped the default route with the link; a real network's DHCP restores it
        self.lab.route("cli", "default", ROUTER_LAN)
        w.wait_notifications(total + 2, 90)

        # 4. the router starts forwarding the client's SCP port: back to direct
        self.lab.nft("rtr", """
add rule inet nat prerouting iifname "wan0" tcp dport %d dnat ip to %s
add rule inet filter forward ip daddr %s tcp dport %d accept
""" % (self.port, CLIENT, CLIENT, self.port))
        w.wait_for(lambda x: self.paths(x) and self.paths(x)[-1]["path"] == "direct", 60,
                   "the direct path")
        self.assertIn("reached %s:%d" % (ROUTER_WAN, self.port), self.paths(w)[-1]["reason"])
        self.assertTrue(self.session_row()["scp"].startswith("direct: connected"),
                        self.session_row())
        self.notify("direct again")
        w.wait_notifications(total + 3, 30)

        # every notification exactly once, in order, across every path and failure
        time.sleep(1.0)
        seqs = [n["seq"] for n in w.notifications()]
        self.assertEqual(seqs, list(range(1, total + 4)), "duplicates or gaps")
        self.assertEqual([n["text"] for n in w.notifications()][-3:],
                         ["while cut 1", "while cut 2", "direct again"])
        with open(log) as f:
            self.assertEqual([int(x) for x in f.read().split()], list(range(1, total + 4)))

    def test_client_asks_for_a_direct_retry(self):
        # The server would wait a minute before trying direct again; the client, having just
        # gained a forwarded port, asks at once (SIGUSR1 to netcfax watch).
        self.srv.stop()
        self.srv = nt.Server(self, prefix=self.lab.prefix("srv"), extra={
            "listen": SERVER, "notify_poll": 100, "direct_retry_min": 60,
            "direct_retry_max": 120})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice.server = self.srv
        w = nt.Watcher(self.alice, owner=self, global_opts=(
            "--scp-mode", "fixed", "--scp-port", str(self.port)))
        w.wait_for(lambda x: any(p["path"] == "relay" for p in self.paths(x)), 30,
                   "the relay path")
        self.lab.nft("rtr", """
add rule inet nat prerouting iifname "wan0" tcp dport %d dnat ip to %s
add rule inet filter forward ip daddr %s tcp dport %d accept
""" % (self.port, CLIENT, CLIENT, self.port))
        os.kill(w.proc.pid, 10)    # SIGUSR1
        w.wait_status("asked the server to try the direct path again", 10)
        w.wait_for(lambda x: self.paths(x)[-1]["path"] == "direct", 20,
                   "the direct path well before the server's own retry")

    def test_relay_setting_skips_the_connect_back(self):
        w = nt.Watcher(self.alice, owner=self, global_opts=("--scp", "relay"))
        w.wait_for(lambda x: self.paths(x), 30, "a path")
        self.assertEqual(self.paths(w)[0], {"type": "path", "path": "relay",
                                            "reason": "the client asked for the relay"})
        self.assertIsNone(w.scp_port(), "relay mode listens on no port")
        self.notify("relayed")
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "relayed")
        self.assertNotIn("connect", self.session_row()["scp"].split("(")[1])


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class RelayForbidden(unittest.TestCase):
    def test_server_without_relay(self):
        srv = nt.Server(self, extra={"relay": "no", "notify_poll": 100})
        srv.add_user("alice", "alice-pw-secret")
        c = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        rc, out, err = c.run("watch", global_opts=("--scp", "relay"))
        self.assertEqual(rc, 1, c.describe())
        self.assertIn("does not relay", err)


if __name__ == "__main__":
    nt.main()

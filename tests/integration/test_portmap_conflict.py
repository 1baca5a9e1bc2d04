#!/usr/bin/env python3
"""Two machines on one LAN behind one router, both on the fixed SCP port 7485 (ncfxtest.TwoSites
with two US clients), the server at the UK site:

    us-cli 192.168.10.2, us-cli2 192.168.10.3 -- us-rtr 11.22.33.10 == uk-rtr -- uk-srv

With automatic mapping, the second machine's request for external port 7485 is refused (UPnP
718) or answered with another port (NAT-PMP): it maps another external port, says which, and
registers it with the server; both get their notifications direct. A second machine without a
mapping, registered on the port the first one holds, has its connect-backs answered by the
first machine's watcher, which tells the server: both sides then name the situation."""
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

FIXED = ("--scp-mode", "fixed", "--scp-port", "7485")
OTHER_CLIENT = "another netcfax client answers on this port"


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class PortConflict(unittest.TestCase):
    def build(self, us):
        self.sites = nt.TwoSites(self, us=us, uk="natpmp", us_clients=2)
        lab = self.sites.lab
        self.srv = nt.Server(self, prefix=lab.prefix("uk-srv"), extra={
            "listen": "0.0.0.0", "notify_poll": 100, "portmap": "natpmp",
            "direct_retry_min": 2, "direct_retry_max": 5})
        self.assertIsNotNone(self.srv.wait_log(lambda x: "port mapping: the router (" in x,
                                               timeout=30), self.srv.log_text())
        self.clients = {}
        for host in ("us-cli", "us-cli2"):
            user = host.replace("-", "")
            self.srv.add_user(user, user + "-pw-secret")
            c = nt.Client(self.srv, user, user + "-pw-secret", owner=self,
                          prefix=lab.prefix(host), host=nt.UK_WAN)
            c.portmap = us
            os.makedirs(c.config_dir, exist_ok=True)
            with open(os.path.join(c.config_dir, "client.conf"), "w") as f:
                f.write("timeout = 5\n")     # the default heartbeat: no reconnects under load
            self.clients[host] = c

    def watch(self, host, *opts):
        return nt.Watcher(self.clients[host], owner=self, global_opts=tuple(opts))

    @staticmethod
    def directs(w):
        return [p for p in w.of_type("path") if p["path"] == "direct"]

    def notify(self, host, text):
        rc, out, err = self.srv.admin("notify", self.clients[host].user, text)
        self.assertEqual(rc, 0, err)

    def check_both_direct(self, via, taken):
        self.build(via)
        first = self.watch("us-cli", "--scp", "direct", *FIXED)
        first.wait_status("router mapping by %s: %s:7485 " % (via, nt.US_WAN), 30)
        second = self.watch("us-cli2", "--scp", "direct", *FIXED)
        second.wait_status("router mapping by %s" % via, 30)
        self.assertEqual(second.scp_port(), 7485)
        [line] = [m for m in second.statuses() if "instead" in m]
        g = re.search(r"; mapped %s:(\d+) instead" % re.escape(nt.US_WAN), line)
        self.assertIsNotNone(g, line)
        ext = int(g.group(1))
        self.assertNotEqual(ext, 7485)
        self.assertGreaterEqual(ext, 1024)
        self.assertIn(taken, line)
        print("\n%s: %s" % (via, line), file=sys.stderr)

        # The server was told, and connects back through the other port.
        second.wait_status("registered port %d with the server" % ext, 30)
        second.wait_for(lambda x: any("reached %s:%d" % (nt.US_WAN, ext) in p["reason"]
                                      for p in self.directs(x)), 60,
                        "the direct path through port %d" % ext)
        first.wait_for(lambda x: any("reached %s:7485" % nt.US_WAN in p["reason"]
                                     for p in self.directs(x)), 60,
                       "the first machine's direct path")
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "SCP now port %d (was 7485)" % ext in x, timeout=10), self.srv.log_text())
        rules = self.sites.ruleset("us-rtr")
        self.assertIn("dport 7485 dnat ip to %s:7485" % nt.US_CLIENT, rules)
        self.assertIn("dport %d dnat ip to %s:7485" % (ext, self.sites.client_addr["us-cli2"]),
                      rules)
        self.notify("us-cli", "for the first")
        self.notify("us-cli2", "for the second")
        self.assertEqual([n["text"] for n in first.wait_notifications(1)], ["for the first"])
        self.assertEqual([n["text"] for n in second.wait_notifications(1)], ["for the second"])
        # Both stay direct: no path change after the direct one.
        for w in (first, second):
            self.assertEqual(w.of_type("path")[-1]["path"], "direct", w.describe())

        # A restart asks for the same ports in the same order: the same external port.
        self.assertEqual(second.stop(), 0, second.describe())
        again = self.watch("us-cli2", "--scp", "direct", *FIXED)
        again.wait_status("router mapping by %s" % via, 30)
        self.assertTrue(any("; mapped %s:%d instead" % (nt.US_WAN, ext) in m
                            for m in again.statuses()), again.describe())
        return first, second

    def test_upnp(self):
        self.check_both_direct("upnp", "external port 7485 is taken by another host on this "
                               "network (%s)" % nt.US_CLIENT)

    def test_natpmp(self):
        self.check_both_direct("natpmp", "the router did not grant external port 7485")

    def test_other_client_answers(self):
        # The first machine holds the router's 7485; the second, without a mapping, registers
        # 7485 too: the server's connect-backs for it reach the first machine's watcher.
        self.build("upnp")
        first = self.watch("us-cli", "--scp", "direct", *FIXED)
        first.wait_for(lambda x: self.directs(x), 30, "the first machine's direct path")
        self.clients["us-cli2"].portmap = "off"
        second = self.watch("us-cli2", "--scp", "auto", *FIXED)
        second.wait_for(lambda x: any(OTHER_CLIENT in p["reason"] for p in x.of_type("path")),
                        60, "the path's reason naming the other client")
        [path] = [p for p in second.of_type("path") if OTHER_CLIENT in p["reason"]][:1]
        self.assertEqual(path["path"], "relay", second.describe())
        self.assertIn("%s:7485" % nt.US_WAN, path["reason"])
        self.assertNotIn("SSL", path["reason"])
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "SCP %s:7485: %s" % (nt.US_WAN, OTHER_CLIENT) in x, timeout=10),
            self.srv.log_text())
        # The second machine still gets its notifications (relayed), the first its own.
        self.notify("us-cli2", "relayed")
        self.assertEqual([n["text"] for n in second.wait_notifications(1)], ["relayed"])
        self.notify("us-cli", "direct")
        self.assertEqual([n["text"] for n in first.wait_notifications(1)], ["direct"])
        # The first machine's watcher said so once as a warning, and not as the old
        # "dropped a connection" warning.
        first.wait_status("connect-back for another netcfax client", 30)
        warnings = [o["message"] for o in first.of_type("status") if o.get("level") == "warn"]
        self.assertEqual(len([m for m in warnings if "another netcfax client" in m]), 1,
                         first.describe())
        self.assertFalse([m for m in warnings if "another session" in m], first.describe())
        self.assertEqual(self.directs(first)[-1], first.of_type("path")[-1], first.describe())


if __name__ == "__main__":
    nt.main()

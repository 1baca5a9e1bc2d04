#!/usr/bin/env python3
"""The two-site lab (ncfxtest.TwoSites): a US client and the UK server, each behind its own NAT
router running Debian's miniupnpd, joined by a WAN.

The server maps its own PCP on the UK router (setting portmap); the client maps its SCP on the
US router; the server's connect-back through both routers is the proof. A router reboot
(miniupnpd killed, its chains and connection tracking flushed, restarted) loses the client's
mapping: the client hears the router announce its start (or finds out at its next check), maps
again, and the mapping carries notifications again; none is lost."""
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

PROTO_WORDS = {"upnp": "UPnP", "natpmp": "NAT-PMP"}


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class TwoSites(unittest.TestCase):
    def build(self, us, uk, client_conf="", us_clients=1, heartbeat=2):
        self.sites = nt.TwoSites(self, us=us, uk=uk, us_clients=us_clients)
        lab = self.sites.lab
        self.srv = nt.Server(self, prefix=lab.prefix("uk-srv"), extra={
            "listen": "0.0.0.0", "notify_poll": 100, "portmap": uk,
            "direct_retry_min": 2, "direct_retry_max": 5})
        self.srv.add_user("alice", "alice-pw-secret")
        line = self.srv.wait_log(lambda x: "port mapping: the router (" in x, timeout=30)
        self.assertIsNotNone(line, "the server mapped no PCP:\n" + self.srv.log_text())
        port = self.srv.port
        self.assertIn("(%s) forwards %s port %d" % (PROTO_WORDS[uk], nt.UK_WAN, port), line)
        self.assertIn("clients outside this network connect to %s port %d" % (nt.UK_WAN, port),
                      line)
        self.assertIn("dport %d dnat ip to %s:%d" % (port, nt.UK_SERVER, port),
                      self.sites.ruleset("uk-rtr"))
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=lab.prefix("us-cli"), host=nt.UK_WAN)
        self.alice.portmap = us
        os.makedirs(self.alice.config_dir, exist_ok=True)
        with open(os.path.join(self.alice.config_dir, "client.conf"), "w") as f:
            f.write("heartbeat = %d\ntimeout = 5\n" % heartbeat + client_conf)

    def notify(self, text):
        rc, out, err = self.srv.admin("notify", "alice", text)
        self.assertEqual(rc, 0, err)

    @staticmethod
    def directs(w):
        return [p for p in w.of_type("path") if p["path"] == "direct"]

    def watch_direct(self, via, opts=()):
        w = nt.Watcher(self.alice, owner=self, global_opts=("--scp", "direct") + tuple(opts))
        w.wait_status("router mapping by %s" % via, 30)
        w.wait_for(lambda x: self.directs(x), 30, "the direct path through both routers")
        self.assertIn("reached %s:" % nt.US_WAN, self.directs(w)[0]["reason"])
        return w

    def client_rule(self, w):
        return "dnat ip to %s:%d" % (nt.US_CLIENT, w.scp_port())

    def check_direct(self, us, uk):
        self.build(us, uk)
        w = self.watch_direct(us)
        self.assertIn(self.client_rule(w), self.sites.ruleset("us-rtr"))
        self.notify("from the UK office")
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "from the UK office")
        self.assertEqual(w.stop(), 0, w.describe())
        self.assertNotIn(self.client_rule(w), self.sites.ruleset("us-rtr"),
                         "the client's mapping outlived its clean exit")
        port = self.srv.port
        self.assertEqual(self.srv.stop(), 0)
        self.assertNotIn("dport %d dnat" % port, self.sites.ruleset("uk-rtr"),
                         "the server's mapping outlived its clean exit")

    def test_upnp_client_natpmp_server(self):
        self.check_direct("upnp", "natpmp")

    def test_natpmp_client_natpmp_server(self):
        self.check_direct("natpmp", "natpmp")

    def test_natpmp_client_upnp_server(self):
        self.check_direct("natpmp", "upnp")

    def check_reboot(self, via, settle=0):
        # What a user has: the default lease (3600 s) and heartbeat (25 s). The router loses
        # its mappings and its connection tracking; a notification is sent while it is down
        # and one as soon as it answers again. Recovery is measured and printed (see
        # docs/reliability.md), not asserted.
        self.build(via, "natpmp", heartbeat=25)
        w = self.watch_direct(via)
        rule = self.client_rule(w)
        self.notify("before the reboot")
        w.wait_notifications(1)

        time.sleep(settle)
        router = self.sites.us_router
        router.stop()
        router.flush()
        router.flush_conntrack()
        self.assertNotIn(rule, self.sites.ruleset("us-rtr"))
        self.notify("during the reboot")
        seen = len(w.statuses())
        t0 = time.monotonic()    # miniupnpd answers within milliseconds of its start
        router.start()
        self.notify("after the reboot")
        mapped_at = direct_at = pcp_at = None
        deadline = t0 + 200      # generous: the figure, not the bound, is what matters
        while time.monotonic() < deadline and (mapped_at is None or direct_at is None):
            if mapped_at is None and rule in self.sites.ruleset("us-rtr"):
                mapped_at = time.monotonic() - t0
            if direct_at is None and len(w.notifications()) >= 3:
                direct_at = time.monotonic() - t0
            if pcp_at is None and any("reconnecting in" in m for m in w.statuses()[seen:]):
                pcp_at = time.monotonic() - t0
            time.sleep(0.1)
        self.assertIsNotNone(mapped_at, "the mapping was not made again\n" + w.describe())
        self.assertIsNotNone(direct_at, "no notification after the reboot\n" + w.describe())
        after = w.statuses()[seen:]
        reconnects = [m for m in after if "reconnecting in" in m]
        print("\nrouter reboot (%s, connection tracking flushed): mapping back after %.1f s, "
              "direct again (notifications delivered) after %.1f s from the router's start; "
              "PCP %s" % (via, mapped_at, direct_at, "found dead after %.1f s: %s" %
                          (pcp_at, reconnects[0]) if reconnects and pcp_at is not None
                          else "kept"), file=sys.stderr)

        # Used again: a restarted server must connect back through the new mapping.
        before = len(self.directs(w))
        self.srv.stop()
        self.notify("while the server was down")
        self.srv.start()
        w.wait_for(lambda x: len(self.directs(x)) > before, 60, "the direct path after restart")
        self.assertIn("reached %s:" % nt.US_WAN, self.directs(w)[-1]["reason"])
        self.notify("after the server restart")
        got = [n["text"] for n in w.wait_notifications(5)]
        self.assertEqual(got, ["before the reboot", "during the reboot", "after the reboot",
                               "while the server was down", "after the server restart"])
        self.assertEqual([p["path"] for p in w.of_type("path")].count("relay"), 0,
                         w.describe())
        return after

    def test_router_reboot_upnp(self):
        # miniupnpd comes back on another HTTP port: the check goes unanswered, discovery
        # finds the router again.
        after = self.check_reboot("upnp")
        self.assertTrue(any("did not answer" in m for m in after), after)

    def test_router_reboot_natpmp(self):
        # NAT-PMP has no query for one mapping: the router's epoch going back says it, and the
        # check's refresh of the mapping makes it again even before that can be proven (by
        # RFC 6886's rule a restart is proven only once the router had been up some seconds).
        self.check_reboot("natpmp", settle=5)

    def test_port_taken_while_direct(self):
        # After a router reboot another host gets our external port first. The client walks
        # its range to a new one and registers it while the old direct connection is still
        # up; the server moves the direct path to the new port.
        self.build("upnp", "natpmp", client_conf="portmap_lease = 30\n", us_clients=2,
                   heartbeat=25)     # the pause below must not look like a dead server
        w = self.watch_direct("upnp", ("--scp-mode", "range", "--scp-range", "7485-7494"))
        self.assertEqual(w.scp_port(), 7485)
        self.notify("first")
        w.wait_notifications(1)

        os.kill(w.proc.pid, signal.SIGSTOP)     # so that the other host is certainly first
        try:
            self.sites.us_router.reboot()
            rc, out, err = nt.run_cmd(self.sites.lab.prefix("us-cli2") + [
                "upnpc", "-e", "someone else", "-a", self.sites.client_addr["us-cli2"],
                "7485", "7485", "TCP", "120"], timeout=60)
            self.assertEqual(rc, 0, out + err)
        finally:
            os.kill(w.proc.pid, signal.SIGCONT)
        w.wait_status("registered port 74", 40)
        [reg] = [m for m in w.statuses() if "registered port" in m]
        new = int(reg.split("registered port ")[1].split()[0])
        self.assertTrue(7486 <= new <= 7494, reg)
        w.wait_for(lambda x: any("reached %s:%d" % (nt.US_WAN, new) in p["reason"]
                                 for p in self.directs(x)), 30, "the direct path on the new port")
        self.notify("second")
        self.assertEqual([n["text"] for n in w.wait_notifications(2)], ["first", "second"])
        rules = self.sites.ruleset("us-rtr")
        self.assertIn("dport %d dnat ip to %s:7485" % (new, nt.US_CLIENT), rules)
        self.assertIn("dport 7485 dnat ip to %s:7485" % self.sites.client_addr["us-cli2"], rules)
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "SCP now port %d (was 7485)" % new in x, timeout=5), self.srv.log_text())

if __name__ == "__main__":
    nt.main()

#!/usr/bin/env python3
"""netcfax-portcheck in the topologies where the rule it prints must name the right device: a
router that routes without NAT but filters what it forwards, a host firewall on the client, and
double NAT with and without a mapping service on the inner router. In each, every rule it
prints is applied, as printed, on the device it names (the JSON's rules[].device), and the next
check passes direct. Where the tool says it cannot know an address (fix.fill), the test puts in
the lab's address, as the user would after looking it up.

    client 192.168.77.2 -- router 192.168.77.1 | 11.22.33.1 -- server 11.22.33.2
    (double NAT: router 10.200.0.1 -- upstream 10.200.0.254 | 11.22.33.1 -- server)"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

CLIENT, LAN_GW, WAN, SERVER = "192.168.77.2", "192.168.77.1", "11.22.33.1", "11.22.33.2"
INNER_WAN, UPSTREAM_LAN = "10.200.0.1", "10.200.0.254"
DEVICE_HOST = {"this-host": "cli", "router": "rtr", "upstream": "up"}

# A router that routes between its LAN and the server's network without translating, and
# forwards only what its LAN opened.
FORWARD_FILTER = """
table inet filter {
  chain forward { type filter hook forward priority 0; policy drop;
                  ct state established,related accept; iifname "lan0" accept; }
}
"""
# A client's own firewall: nothing in that it did not ask for.
HOST_FIREWALL = """
table inet hostfw {
  chain input { type filter hook input priority 0; policy drop;
                ct state established,related accept; iifname "lo" accept; }
}
"""


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class Topology(unittest.TestCase):
    def iptables_router(self, router):
        """A NAT router in iptables' words instead (no miniupnpd): masquerade out of wan0,
        forward only what the LAN opened."""
        self.lab.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for rule in ("-t nat -A POSTROUTING -o wan0 -j MASQUERADE", "-P FORWARD DROP",
                     "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                     "-A FORWARD -i lan0 -j ACCEPT"):
            self.lab.run(router, "iptables", *rule.split())

    def build(self, nat=True, double=False, upnp=False, natpmp=False, router_filter=False,
              iptables=False):
        hosts = ["cli", "rtr", "srv"] + (["up"] if double else [])
        lab = self.lab = nt.NetLab(self, hosts)
        lab.link("cli", "eth0", "rtr", "lan0")
        lab.addr("cli", "eth0", CLIENT + "/24")
        lab.addr("rtr", "lan0", LAN_GW + "/24")
        lab.route("cli", "default", LAN_GW)
        if double:
            lab.link("rtr", "wan0", "up", "lan0")
            lab.addr("rtr", "wan0", INNER_WAN + "/24")
            lab.addr("up", "lan0", UPSTREAM_LAN + "/24")
            lab.route("rtr", "default", UPSTREAM_LAN)
            lab.link("up", "wan0", "srv", "eth0")
            lab.addr("up", "wan0", WAN + "/24")
            if iptables:
                self.iptables_router("up")
            else:
                nt.nat_router(lab, self, "up", "lan0", "10.200.0.0/24", "wan0", upnp=False,
                              natpmp=False)
        else:
            lab.link("rtr", "wan0", "srv", "eth0")
            lab.addr("rtr", "wan0", WAN + "/24")
        lab.addr("srv", "eth0", SERVER + "/24")
        if nat and iptables:
            self.iptables_router("rtr")
        elif nat:
            nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0", upnp=upnp,
                          natpmp=natpmp)
        else:
            # Routed: the server's network knows the way back to the LAN.
            lab.run("rtr", "sysctl", "-qw", "net.ipv4.ip_forward=1")
            lab.route("srv", "192.168.77.0/24", WAN)
            if router_filter:
                lab.nft("rtr", FORWARD_FILTER)
        self.srv = nt.Server(self, prefix=lab.prefix("srv"), extra={"listen": SERVER})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=lab.prefix("cli"), host=SERVER)

    def portcheck(self):
        argv = self.lab.prefix("cli") + [
            nt.NETCFAX_PORTCHECK, "-S", SERVER, "-P", str(self.srv.port), "-u", "alice",
            "--scp-mode", "fixed", "--scp-port", "7485", "--timeout", "20", "--json"]
        rc, out, err = nt.run_cmd(argv, env=self.alice.env(), timeout=90)
        try:
            data = json.loads(out)
        except ValueError:
            raise AssertionError("portcheck printed no JSON (exit %d)\n%s\n%s" % (rc, out, err))
        self.assertEqual((data["schema"], data["exit"]), ("netcfax-portcheck/1", rc), data)
        # The flat lists are the rules' commands, in the same order.
        self.assertEqual(data["fix"]["nftables"], [r["nftables"] for r in data["fix"]["rules"]])
        self.assertEqual(data["fix"]["iptables"], [r["iptables"] for r in data["fix"]["rules"]])
        return rc, data

    @staticmethod
    def check(data, cid):
        [c] = [c for c in data["checks"] if c["id"] == cid]
        return c

    def apply(self, data, fill=None, kind="nftables"):
        """Every rule (nftables or iptables) on the device it names, as printed (a shell's
        word splitting), with the placeholders the tool asked the user to look up filled in."""
        fill = fill or {}
        self.assertEqual(sorted(data["fix"]["fill"]), sorted(fill), data["fix"])
        for rule in data["fix"]["rules"]:
            cmd = rule[kind]
            for name, value in fill.items():
                cmd = cmd.replace(name, value)
            self.lab.run(DEVICE_HOST[rule["device"]], *shlex.split(cmd))

    def direct_after(self, data, fill=None, kind="nftables"):
        self.apply(data, fill, kind)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertEqual(d["fix"]["rules"], [], d)
        return d

    def test_no_nat_router_filters_forwarding(self):
        self.build(nat=False, router_filter=True)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "no NAT"), d)
        self.assertIn("the router %s routes between" % LAN_GW, self.check(d, "topology")["evidence"])
        self.assertEqual(self.check(d, "firewall")["status"], "pass", d)
        # A forward rule on the router, said to be one; no input rule anywhere.
        self.assertEqual(d["fix"]["rules"], [{
            "device": "router", "on": "the router %s (its forward filter)" % LAN_GW,
            "nftables": "nft insert rule inet filter forward ip daddr %s tcp dport 7485 ct "
                        "state new accept" % CLIENT,
            "iptables": "iptables -I FORWARD -d %s -p tcp --dport 7485 -m conntrack "
                        "--ctstate NEW -j ACCEPT" % CLIENT}], d)
        self.assertIn("forward chain", d["fix"]["words"])
        self.assertIn("inet filter", d["fix"]["words"])
        self.direct_after(d)

    def test_no_nat_host_firewall_on_the_client(self):
        self.build(nat=False)
        self.lab.nft("cli", HOST_FIREWALL)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "no NAT"), d)
        fw = self.check(d, "firewall")
        self.assertEqual(fw["status"], "fail", d)
        self.assertIn("inet hostfw input", fw["evidence"])
        # The rule names this machine's real table and chain, and nothing else is asked for.
        self.assertEqual([(r["device"], r["nftables"]) for r in d["fix"]["rules"]], [
            ("this-host", "nft insert rule inet hostfw input tcp dport 7485 accept")], d)
        self.assertEqual(d["fix"]["rules"][0]["iptables"],
                         "iptables -I INPUT -p tcp --dport 7485 -j ACCEPT")
        d = self.direct_after(d)
        self.assertEqual(self.check(d, "firewall")["status"], "pass", d)

    def test_host_firewall_layouts(self):
        # A chain with policy accept that ends in reject (firewalld's layout), a second chain
        # that drops by policy, and an ip6 table that drops everything (not IPv4's business):
        # both IPv4 chains are named, one rule each, and the two applied make the path work.
        self.build(nat=False)
        self.lab.nft("cli", """
table inet fwd_like {
  chain filter_INPUT { type filter hook input priority 10; policy accept;
                       ct state established,related accept; iifname "lo" accept;
                       reject with icmpx admin-prohibited; }
}
table ip extra {
  chain INPUT { type filter hook input priority 20; policy drop;
                ct state established,related accept; }
}
table ip6 v6only {
  chain input { type filter hook input priority 0; policy drop; }
}
""")
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        fw = self.check(d, "firewall")
        self.assertEqual(fw["status"], "fail", d)
        self.assertIn("inet fwd_like filter_INPUT, ip extra INPUT", fw["evidence"], d)
        self.assertNotIn("v6only", fw["evidence"], d)
        self.assertEqual([(r["device"], r["nftables"]) for r in d["fix"]["rules"]], [
            ("this-host", "nft insert rule inet fwd_like filter_INPUT tcp dport 7485 accept"),
            ("this-host", "nft insert rule ip extra INPUT tcp dport 7485 accept")], d)
        self.direct_after(d)
        # An accept for the server's address alone is enough: no failure, no rule.
        self.lab.run("cli", "nft", "flush", "ruleset")
        self.lab.nft("cli", """
table inet hostfw {
  chain input { type filter hook input priority 0; policy drop;
                ct state established,related accept; iifname "lo" accept;
                ip saddr %s tcp dport 7485 accept; }
}
""" % SERVER)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertEqual(self.check(d, "firewall")["status"], "pass", d)

    def check_router_rule_spares_the_lan(self):
        """The inner router's forward catches only what is addressed to the router itself: a
        connection from the LAN to port 7485 elsewhere (here the server) still goes there."""
        listener = subprocess.Popen(self.lab.prefix("srv") + [
            sys.executable, "-c", "import socket\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('%s', 7485)); s.listen(1); print('ok', flush=True)\n"
            "c, a = s.accept(); c.sendall(b'server'); c.close()" % SERVER],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(listener.wait, 10)
        self.addCleanup(listener.stdout.close)
        self.addCleanup(listener.kill)
        self.assertEqual(listener.stdout.readline().strip(), "ok")
        got = self.lab.run("cli", sys.executable, "-c", "import socket\n"
                           "c=socket.create_connection(('%s', 7485), timeout=10)\n"
                           "print(c.recv(64).decode())" % SERVER)
        self.assertEqual(got.strip(), "server")

    def check_double_nat_rules(self, d):
        rules = d["fix"]["rules"]
        self.assertEqual([r["device"] for r in rules], ["upstream"] * 2 + ["router"] * 2, d)
        up, rtr = rules[:2], rules[2:]
        # Upstream: the port, to the inner router's WAN address (which the tool cannot know
        # and says so), and let through its forward filter.
        self.assertEqual([r["nftables"] for r in up], [
            "nft add rule inet nat prerouting ip daddr %s tcp dport 7485 dnat ip to "
            "ROUTER_WAN_ADDRESS" % WAN,
            "nft insert rule inet filter forward ip daddr ROUTER_WAN_ADDRESS tcp dport 7485 ct "
            "state new accept"], d)
        self.assertIn("status page", d["fix"]["fill"]["ROUTER_WAN_ADDRESS"])
        self.assertIn(UPSTREAM_LAN, d["fix"]["fill"]["ROUTER_WAN_ADDRESS"])
        self.assertIn("the server sees as %s" % WAN, up[0]["on"])
        # The inner router: what is addressed to itself and not from its LAN, then let through.
        self.assertEqual([r["nftables"] for r in rtr], [
            "nft add rule inet nat prerouting fib daddr type local ip saddr != 192.168.77.0/24 "
            "tcp dport 7485 dnat ip to %s" % CLIENT,
            "nft insert rule inet filter forward ip daddr %s tcp dport 7485 ct state new "
            "accept" % CLIENT], d)
        self.assertIn(LAN_GW, rtr[0]["on"])
        self.assertIn("-m addrtype --dst-type LOCAL ! -s 192.168.77.0/24", rtr[0]["iptables"])

    def test_double_nat_with_upnp_and_natpmp_on_the_inner_router(self):
        # miniupnpd 2.3.1 on a private WAN address: UPnP gives an empty external address,
        # NAT-PMP result 3 and none: the inner router's WAN address cannot be learned.
        self.build(double=True, upnp=True, natpmp=True)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "double NAT"), d)
        self.assertIn("private", self.check(d, "topology")["evidence"])
        self.check_double_nat_rules(d)
        self.direct_after(d, fill={"ROUTER_WAN_ADDRESS": INNER_WAN})
        self.check_router_rule_spares_the_lan()

    def test_double_nat_without_mapping_service(self):
        self.build(double=True)
        rc, d = self.portcheck()
        # Not a plain "NAT": the hops show a private router past the first one.
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "double NAT"), d)
        self.assertEqual([(h["ttl"], h["addr"]) for h in d["hops"][:3]],
                         [(1, LAN_GW), (2, UPSTREAM_LAN), (3, SERVER)], d)
        self.assertTrue(d["hops"][2]["server"], d)
        topo = self.check(d, "topology")["evidence"]
        for said in ("the server sees %s" % WAN, "your router %s does not say its external "
                     "address" % LAN_GW, "the next hop %s is private" % UPSTREAM_LAN):
            self.assertIn(said, topo)
        # No guessed address anywhere: the outer one is not named as the inner router's.
        self.assertNotIn("external address %s" % WAN, d["fix"]["words"])
        self.check_double_nat_rules(d)
        self.direct_after(d, fill={"ROUTER_WAN_ADDRESS": INNER_WAN})
        self.check_router_rule_spares_the_lan()

    @unittest.skipUnless(shutil.which("iptables"), "iptables is not installed "
                         "(scripts/install-deps --test installs it)")
    def test_double_nat_iptables_rules(self):
        # The same topology with both routers in iptables, and the iptables rules applied.
        self.build(double=True, iptables=True)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "double NAT"), d)
        self.assertEqual([(r["device"], r["iptables"]) for r in d["fix"]["rules"]], [
            ("upstream", "iptables -t nat -A PREROUTING -d %s -p tcp --dport 7485 -j DNAT "
                         "--to-destination ROUTER_WAN_ADDRESS" % WAN),
            ("upstream", "iptables -I FORWARD -d ROUTER_WAN_ADDRESS -p tcp --dport 7485 -m "
                         "conntrack --ctstate NEW -j ACCEPT"),
            ("router", "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL ! -s "
                       "192.168.77.0/24 -p tcp --dport 7485 -j DNAT --to-destination %s"
                       % CLIENT),
            ("router", "iptables -I FORWARD -d %s -p tcp --dport 7485 -m conntrack --ctstate "
                       "NEW -j ACCEPT" % CLIENT)], d)
        self.direct_after(d, fill={"ROUTER_WAN_ADDRESS": INNER_WAN}, kind="iptables")
        self.check_router_rule_spares_the_lan()

    def test_single_nat_without_mapping_service_names_the_routers_address(self):
        # The server is the second hop: the router is the only NAT, so the address the
        # server sees is the router's, and the rule says it (no placeholder).
        self.build()
        self.lab.nft("cli", HOST_FIREWALL)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "NAT"), d)
        self.assertIn("no other router between", self.check(d, "topology")["evidence"])
        self.assertEqual([(r["device"], r["nftables"]) for r in d["fix"]["rules"]], [
            ("router", "nft add rule inet nat prerouting ip daddr %s tcp dport 7485 dnat ip "
                       "to %s" % (WAN, CLIENT)),
            ("router", "nft insert rule inet filter forward ip daddr %s tcp dport 7485 ct "
                       "state new accept" % CLIENT),
            ("this-host", "nft insert rule inet hostfw input tcp dport 7485 accept")], d)
        self.direct_after(d)


if __name__ == "__main__":
    nt.main()

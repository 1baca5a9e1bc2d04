#!/usr/bin/env python3
"""`netcfax portmap` against Debian's real miniupnpd in a namespace router: discovery and the
external address's class, mappings opened, listed and removed by UPnP and by NAT-PMP (checked
in the router's nftables ruleset), only our own mappings touched, and double NAT recognised.

    client 192.168.77.2 -- router 192.168.77.1 | 11.22.33.1 -- (WAN 11.22.33.0/24)

The WAN range must be ordinary unicast (miniupnpd refuses private ones); it exists only inside
the lab's namespaces, which have no route to anywhere else."""
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

CLIENT, LAN_GW, WAN = "192.168.77.2", "192.168.77.1", "11.22.33.1"


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class PortmapLab(unittest.TestCase):
    def site(self, upnp=True, natpmp=True, wan=WAN):
        # client -- router -- a WAN host (whose only job is to be the router's other side)
        lab = self.lab = nt.NetLab(self, ["cli", "rtr", "wan"])
        lab.link("cli", "eth0", "rtr", "lan0")
        lab.link("rtr", "wan0", "wan", "eth0")
        lab.addr("cli", "eth0", CLIENT + "/24")
        lab.addr("rtr", "lan0", LAN_GW + "/24")
        lab.addr("rtr", "wan0", wan + "/24")
        lab.route("cli", "default", LAN_GW)
        self.upnpd = nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0",
                                   upnp=upnp, natpmp=natpmp)

    def portmap(self, *args):
        rc, out, err = nt.run_cmd(self.lab.prefix("cli") + [nt.NETCFAX, "--json", "portmap"] +
                                  list(args), timeout=60)
        return rc, (json.loads(out) if out.strip() else None), err

    def ruleset(self):
        return self.lab.run("rtr", "nft", "list", "ruleset")

    def test_upnp_and_natpmp_open_list_remove(self):
        self.site()
        rc, st, err = self.portmap("status")
        self.assertEqual(rc, 0, err)
        by = {g["protocol"]: g for g in st["gateways"]}
        for proto in ("upnp", "natpmp"):
            self.assertTrue(by[proto]["found"], st)
            self.assertEqual(by[proto]["external_addr"], WAN, st)
            self.assertEqual(by[proto]["external_class"], "public", st)
            self.assertEqual(by[proto]["lan_addr"], CLIENT, st)
            self.assertTrue(by[proto]["verdict"].startswith("single NAT"), st)

        rc, m, err = self.portmap("open", "7485", "--via", "upnp", "--lease", "120")
        self.assertEqual(rc, 0, err)
        self.assertEqual((m["external_port"], m["internal"]), (7485, CLIENT + ":7485"), m)
        self.assertIn("dport 7485 dnat ip to %s:7485" % CLIENT, self.ruleset())
        rc, m2, err = self.portmap("open", "7500", "--via", "natpmp", "--lease", "120")
        self.assertEqual(rc, 0, err)
        self.assertEqual(m2["external_port"], 7500, m2)
        self.assertIn("dport 7500 dnat ip to %s:7500" % CLIENT, self.ruleset())

        rc, lst, err = self.portmap("list")
        self.assertEqual(rc, 0, err)
        ours = {x["external_port"]: x for x in lst["mappings"]}
        self.assertTrue(ours[7485]["desc"].startswith("netcfax"), lst)
        self.assertEqual(ours[7485]["internal"], CLIENT + ":7485")

        for port, via in ((7485, "upnp"), (7500, "natpmp")):
            rc, r, err = self.portmap("remove", str(port), "--via", via)
            self.assertEqual(rc, 0, err)
        rules = self.ruleset()
        self.assertNotIn("dport 7485", rules)
        self.assertNotIn("dport 7500", rules)

    def test_another_hosts_mapping_is_left_alone(self):
        self.site()
        rc, out, err = nt.run_cmd(self.lab.prefix("cli") + [
            "upnpc", "-e", "someone else", "-a", CLIENT, "7600", "7600", "TCP", "120"], timeout=60)
        self.assertEqual(rc, 0, out + err)
        rc, r, err = self.portmap("remove", "7600", "--via", "upnp")
        self.assertEqual(rc, 1, err)
        self.assertIn("left alone", r["error"]["message"])
        self.assertIn("dport 7600", self.ruleset())
        rc, lst, err = self.portmap("list")
        self.assertEqual([x["external_port"] for x in lst["mappings"]], [], lst)
        rc, lst, err = self.portmap("list", "--all")
        self.assertEqual([x["external_port"] for x in lst["mappings"]], [7600], lst)

    def test_double_nat_is_recognised(self):
        # The router's own WAN address is private: another NAT sits upstream.
        self.site(wan="10.200.0.1")
        rc, st, err = self.portmap("status")
        by = {g["protocol"]: g for g in st["gateways"]}
        # miniupnpd's UPnP side reports no external address at all when its own is private;
        # NAT-PMP names the condition (result 3), and that is what the verdict rests on.
        self.assertTrue(by["upnp"]["found"], st)
        self.assertFalse(by["upnp"]["usable"], st)
        self.assertIn(by["upnp"]["external_class"], ("private", "empty"), st)
        self.assertTrue(by["natpmp"]["found"], st)
        self.assertEqual(by["natpmp"]["external_class"], "private", st)
        self.assertTrue(by["natpmp"]["verdict"].startswith("double NAT"), st)
        rc, r, err = self.portmap("open", "7485", "--via", "natpmp")
        self.assertEqual(rc, 1, err)
        self.assertIn("another NAT upstream", r["error"]["message"])

    def test_no_mapping_service(self):
        self.site(upnp=False, natpmp=False)
        rc, st, err = self.portmap("status")
        self.assertEqual(rc, 2, err)
        self.assertFalse(any(g["found"] for g in st["gateways"]), st)
        rc, r, err = self.portmap("open", "7485")
        self.assertEqual(rc, 2, err)
        self.assertIn("no router answered", r["error"]["message"])


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class MappedNotifications(unittest.TestCase):
    """A client behind a router with miniupnpd maps its SCP itself and gets its notifications
    direct from a server on the WAN; a clean exit removes the mapping from the router."""

    SERVER = "11.22.33.2"

    def lab_with(self, upnp, natpmp):
        lab = self.lab = nt.NetLab(self, ["cli", "rtr", "srv"])
        lab.link("cli", "eth0", "rtr", "lan0")
        lab.link("rtr", "wan0", "srv", "eth0")
        lab.addr("cli", "eth0", CLIENT + "/24")
        lab.addr("rtr", "lan0", LAN_GW + "/24")
        lab.addr("rtr", "wan0", WAN + "/24")
        lab.addr("srv", "eth0", self.SERVER + "/24")
        lab.route("cli", "default", LAN_GW)
        nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0", upnp=upnp,
                      natpmp=natpmp)
        srv = nt.Server(self, prefix=lab.prefix("srv"), extra={"listen": self.SERVER,
                                                                "notify_poll": 100})
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self,
                          prefix=lab.prefix("cli"), host=self.SERVER)
        return srv, alice

    def check(self, via):
        srv, alice = self.lab_with(upnp=via == "upnp", natpmp=via == "natpmp")
        alice.portmap = via
        w = nt.Watcher(alice, owner=self, global_opts=("--scp", "direct"))
        w.wait_status("router mapping by %s" % via, 30)
        w.wait_for(lambda x: any(p["path"] == "direct" for p in x.of_type("path")), 30,
                   "the direct path through the mapping")
        direct = [p for p in w.of_type("path") if p["path"] == "direct"][0]
        self.assertIn("reached %s:" % WAN, direct["reason"])
        port = w.scp_port()
        rules = self.lab.run("rtr", "nft", "list", "ruleset")
        self.assertIn("dnat ip to %s:%d" % (CLIENT, port), rules)
        rc, out, err = srv.admin("notify", "alice", "through the router")
        self.assertEqual(rc, 0, err)
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "through the router")
        self.assertEqual(w.stop(), 0, w.describe())
        rules = self.lab.run("rtr", "nft", "list", "ruleset")
        self.assertNotIn("dnat ip to %s:%d" % (CLIENT, port), rules,
                         "the mapping outlived a clean exit")

    def test_upnp(self):
        self.check("upnp")

    def test_lan_address_change(self):
        # The client's LAN address changes (a new DHCP lease): its next check notices, it maps
        # again for the new address (the old mapping still holds 7485 until its lease ends, so
        # the range walk gives another port), registers that, and notifications come direct.
        srv, alice = self.lab_with(upnp=True, natpmp=False)
        alice.portmap = "upnp"
        os.makedirs(alice.config_dir, exist_ok=True)
        with open(os.path.join(alice.config_dir, "client.conf"), "w") as f:
            f.write("heartbeat = 2\ntimeout = 5\nportmap_lease = 30\n")
        w = nt.Watcher(alice, owner=self, global_opts=(
            "--scp", "direct", "--scp-mode", "range", "--scp-range", "7485-7494"))
        w.wait_for(lambda x: any(p["path"] == "direct" for p in x.of_type("path")), 30,
                   "the direct path")
        rc, out, err = srv.admin("notify", "alice", "at the old address")
        w.wait_notifications(1)

        new_addr = "192.168.77.9"
        self.lab.run("cli", "ip", "addr", "del", CLIENT + "/24", "dev", "eth0")
        self.lab.addr("cli", "eth0", new_addr + "/24")
        self.lab.route("cli", "default", LAN_GW)     # went with the old address
        w.wait_status("router mapping lost: the network changed", 30)
        [lost] = [m for m in w.statuses() if "the network changed" in m]
        self.assertIn("our address %s" % new_addr, lost)
        w.wait_for(lambda x: len([p for p in x.of_type("path") if p["path"] == "direct"]) >= 2,
                   60, "the direct path from the new address")
        rules = self.lab.run("rtr", "nft", "list", "ruleset")
        self.assertIn("dnat ip to %s:7485" % new_addr, rules, w.describe())
        rc, out, err = srv.admin("notify", "alice", "at the new address")
        self.assertEqual([n["text"] for n in w.wait_notifications(2)],
                         ["at the old address", "at the new address"])

    def test_natpmp(self):
        self.check("natpmp")


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class TwoClientsOneLan(unittest.TestCase):
    """Two clients on one LAN both want external port 7485: the second is told the port is
    taken (UPnP 718), walks its range, and both get their notifications direct."""

    SERVER = "11.22.33.2"

    def test_both_get_a_port(self):
        lab = nt.NetLab(self, ["a", "b", "rtr", "srv"])
        lab.run("rtr", "ip", "link", "add", "brlan", "type", "bridge")
        lab.run("rtr", "ip", "link", "set", "brlan", "up")
        for host, addr in (("a", CLIENT), ("b", "192.168.77.3")):
            lab.link(host, "eth0", "rtr", "to-" + host)
            lab.run("rtr", "ip", "link", "set", "to-" + host, "master", "brlan")
            lab.addr(host, "eth0", addr + "/24")
            lab.route(host, "default", LAN_GW)
        lab.addr("rtr", "brlan", LAN_GW + "/24")
        lab.link("rtr", "wan0", "srv", "eth0")
        lab.addr("rtr", "wan0", WAN + "/24")
        lab.addr("srv", "eth0", self.SERVER + "/24")
        nt.nat_router(lab, self, "rtr", "brlan", "192.168.77.0/24", "wan0", upnp=True,
                      natpmp=False)
        srv = nt.Server(self, prefix=lab.prefix("srv"), extra={"listen": self.SERVER,
                                                                "notify_poll": 100})
        watchers = {}
        for host in ("a", "b"):
            srv.add_user(host, host + "-pw-secret")
            c = nt.Client(srv, host, host + "-pw-secret", owner=self, prefix=lab.prefix(host),
                          host=self.SERVER)
            c.portmap = "upnp"
            watchers[host] = nt.Watcher(c, owner=self, global_opts=(
                "--scp", "direct", "--scp-mode", "range", "--scp-range", "7485-7494"))
            # one after the other, so that the second certainly meets the first's mapping
            watchers[host].wait_status("router mapping by upnp", 30)
        ext = {}
        for host, w in watchers.items():
            self.assertEqual(w.scp_port(), 7485, w.describe())
            [line] = [m for m in w.statuses() if "router mapping by upnp" in m]
            ext[host] = int(line.split(WAN + ":")[1].split()[0])
        self.assertEqual(ext["a"], 7485)
        self.assertNotEqual(ext["b"], 7485)
        self.assertTrue(7486 <= ext["b"] <= 7494, ext)
        for host, w in watchers.items():
            w.wait_for(lambda x: any(p["path"] == "direct" for p in x.of_type("path")), 60,
                       "the direct path for " + host)
            rc, out, err = srv.admin("notify", host, "for " + host)
            self.assertEqual(rc, 0, err)
        for host, w in watchers.items():
            [n] = w.wait_notifications(1)
            self.assertEqual(n["text"], "for " + host)
        rules = lab.run("rtr", "nft", "list", "ruleset")
        self.assertIn("dport 7485 dnat ip to %s:7485" % CLIENT, rules)
        self.assertIn("dport %d dnat ip to 192.168.77.3:7485" % ext["b"], rules)


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class DoubleNat(unittest.TestCase):
    """The client's router (with miniupnpd) sits behind another NAT router that maps nothing:

        client 192.168.77.2 -- rtr 192.168.77.1 | 10.200.0.1 -- up 10.200.0.254 | 11.22.33.1
                                                                    -- server 11.22.33.2

    The client recognises double NAT, makes no useless mapping, and ends up relayed."""

    SERVER = "11.22.33.2"

    def test_double_nat_client_is_relayed(self):
        lab = nt.NetLab(self, ["cli", "rtr", "up", "srv"])
        lab.link("cli", "eth0", "rtr", "lan0")
        lab.link("rtr", "wan0", "up", "lan0")
        lab.link("up", "wan0", "srv", "eth0")
        lab.addr("cli", "eth0", CLIENT + "/24")
        lab.addr("rtr", "lan0", LAN_GW + "/24")
        lab.addr("rtr", "wan0", "10.200.0.1/24")
        lab.addr("up", "lan0", "10.200.0.254/24")
        lab.addr("up", "wan0", WAN + "/24")
        lab.addr("srv", "eth0", self.SERVER + "/24")
        lab.route("cli", "default", LAN_GW)
        lab.route("rtr", "default", "10.200.0.254")
        nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0")
        nt.nat_router(lab, self, "up", "lan0", "10.200.0.0/24", "wan0", upnp=False,
                      natpmp=False)
        srv = nt.Server(self, prefix=lab.prefix("srv"), extra={"listen": self.SERVER,
                                                                "notify_poll": 100})
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self,
                          prefix=lab.prefix("cli"), host=self.SERVER)
        alice.portmap = "auto"
        os.makedirs(alice.config_dir, exist_ok=True)
        with open(os.path.join(alice.config_dir, "client.conf"), "w") as f:
            f.write("heartbeat = 2\ntimeout = 5\n")
        w = nt.Watcher(alice, owner=self, global_opts=("--scp", "auto"))
        w.wait_status("no router port mapping: double NAT", 30)
        w.wait_for(lambda x: any(p["path"] == "relay" for p in x.of_type("path")), 60,
                   "the relay")
        rc, out, err = srv.admin("notify", "alice", "over the relay")
        self.assertEqual(rc, 0, err)
        [n] = w.wait_notifications(1)
        self.assertEqual(n["text"], "over the relay")
        self.assertFalse([m for m in w.statuses() if "router mapping by" in m], w.describe())
        self.assertNotIn("dnat", lab.run("rtr", "nft", "list", "ruleset"))
        self.assertEqual(w.stop(), 0, w.describe())


PROBE = os.path.join(nt.BIN_DIR, "portmap_probe")

# In a namespace of the lab: bound to the port before it says "ready", answers the first
# datagram with "echo:" and what came, prints what came and from where, and exits (a minute
# at most).
UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
s.settimeout(60)
data, peer = s.recvfrom(2048)
s.sendto(b"echo:" + data, peer)
print("got %s from %s" % (data.decode(), peer[0]), flush=True)
"""

# From the WAN: a datagram to ADDR:PORT every half second until its echo comes back (a minute
# at most), then prints the echo and the address it came from.
UDP_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(120):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        continue
    print("%s from %s:%d" % (data.decode(), peer[0], peer[1]), flush=True)
    sys.exit(0)
sys.exit(1)
"""


class Probe:
    """tests/tools/portmap_probe in the client's namespace: one mapping kept by
    nat/service.c, its events read as JSON lines. stop() closes its stdin, which makes it
    remove the mapping and exit, as a program using the service does at a clean exit."""

    def __init__(self, owner, lab, port, via, udp):
        argv = lab.prefix("cli") + [PROBE, "--port", str(port), "--via", via, "--lease", "600"]
        self.argv = argv + (["--udp"] if udp else [])
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events, self.lines = [], queue.Queue()
        self.err = ""
        threading.Thread(target=self._read, daemon=True).start()
        owner.addCleanup(self.kill)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_event(self, kind, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e["event"] == kind:
                    self.events.remove(e)
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s event from %s within %ds; events: %r; stderr: %s"
                                     % (kind, " ".join(self.argv), timeout, self.events,
                                        self.err))
            try:
                self.events.append(json.loads(self.lines.get(timeout=min(left, 1.0))))
            except queue.Empty:
                pass

    def stop(self):
        self.proc.stdin.close()
        self.wait_event("stopped", 60)
        self.proc.wait(timeout=30)
        self.err = self.proc.stderr.read()
        nt.check_sanitizer_report(self.argv, self.err)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class UdpMappings(unittest.TestCase):
    """UDP mappings made through nat/service.c (as netcfaxd's RTP ports are) by UPnP and by
    NAT-PMP: they really forward datagrams from the WAN to the LAN host, a TCP and a UDP
    mapping of the same port live side by side and each is removed on its own, and a clean
    stop removes the UDP one from the router.

        client 192.168.77.2 -- router 192.168.77.1 | 11.22.33.1 -- wan 11.22.33.2"""

    OUTSIDE = "11.22.33.2"

    def setUp(self):
        lab = self.lab = nt.NetLab(self, ["cli", "rtr", "wan"])
        lab.link("cli", "eth0", "rtr", "lan0")
        lab.link("rtr", "wan0", "wan", "eth0")
        lab.addr("cli", "eth0", CLIENT + "/24")
        lab.addr("rtr", "lan0", LAN_GW + "/24")
        lab.addr("rtr", "wan0", WAN + "/24")
        lab.addr("wan", "eth0", self.OUTSIDE + "/24")
        lab.route("cli", "default", LAN_GW)
        nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0")

    # How nft prints the protocol of miniupnpd's rules: as the IP header's protocol byte
    # ("@nh,72,8 0x11 th dport 7600"), or by name in other versions.
    PROTO_MARK = {"tcp": ("@nh,72,8 0x6 ", "tcp "), "udp": ("@nh,72,8 0x11 ", "udp ")}

    def rule_lines(self, transport, port, what):
        text = self.lab.run("rtr", "nft", "list", "ruleset")
        return [line.strip() for line in text.splitlines()
                if re.search(r"dport %d\b" % port, line) and what in line and
                any(m in line for m in self.PROTO_MARK[transport])]

    def rules(self, transport, port):
        """The internal ports of the router's forwards of transport ("tcp"/"udp") external
        port to the client (miniupnpd's dnat rules)."""
        return [re.search(r":(\d+)$", line).group(1) for line in
                self.rule_lines(transport, port, "dnat ip to %s:" % CLIENT)]

    def mapped(self, probe, port, transport):
        ev = probe.wait_event("mapped")
        self.assertEqual((ev["transport"], ev["ext_addr"], ev["ext_port"]),
                         (transport, WAN, port), ev)
        self.assertEqual(ev["instead"], "", ev)
        return ev

    def datagram_through(self, port, text):
        """A datagram from the WAN host to the router's external address and port reaches a
        UDP socket on the client bound to the port, and its answer comes back from there."""
        echo = subprocess.Popen(self.lab.prefix("cli") + ["python3", "-c", UDP_ECHO, str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: echo.poll() is None and (echo.kill(), echo.wait(10)))
        if echo.stdout.readline().strip() != "ready":
            echo.kill()
            self.fail("the UDP socket on the LAN host: %s" % echo.communicate(timeout=30)[1])
        rc, out, err = nt.run_cmd(self.lab.prefix("wan") + [
            "python3", "-c", UDP_SEND, WAN, str(port), text], timeout=90)
        if rc != 0:
            echo.kill()
            got, gerr = echo.communicate(timeout=30)
            self.fail("no answer through the router's UDP port %d: %s %s; on the LAN host: %s "
                      "%s; ruleset:\n%s" % (port, out, err, got, gerr,
                                             self.lab.run("rtr", "nft", "list", "ruleset")))
        # The answer comes from the router's external address and the same port.
        self.assertEqual(out.strip(), "echo:%s from %s:%d" % (text, WAN, port))
        got, _ = echo.communicate(timeout=30)
        self.assertIn("got %s from %s" % (text, self.OUTSIDE), got)

    def check_udp(self, via):
        udp = Probe(self, self.lab, 7600, via, udp=True)
        self.mapped(udp, 7600, "UDP")
        self.assertEqual(self.rules("udp", 7600), ["7600"])
        self.assertEqual(self.rules("tcp", 7600), [], "a UDP mapping made a TCP forward")
        # The forward chain drops what the LAN did not open; miniupnpd's chain lets it in.
        self.assertEqual(len(self.rule_lines("udp", 7600, "accept")), 1,
                         self.lab.run("rtr", "nft", "list", "chain", "inet", "filter",
                                      "miniupnpd"))
        self.datagram_through(7600, "over " + via)
        self.assertEqual(udp.stop(), 0, udp.err)
        self.assertEqual(self.rules("udp", 7600), [], "the UDP mapping outlived a clean stop")

    def test_udp_upnp(self):
        self.check_udp("upnp")

    def test_udp_natpmp(self):
        self.check_udp("natpmp")

    def tcp_portmap(self, *args):
        rc, out, err = nt.run_cmd(self.lab.prefix("cli") + [nt.NETCFAX, "--json", "portmap"] +
                                  list(args), timeout=60)
        self.assertEqual(rc, 0, out + err)

    def check_side_by_side(self, via):
        # The TCP mapping is made once (netcfax portmap open), the UDP one kept by the
        # service. Debian 12's miniupnpd-nftables (2.3.1) removes the forward-chain rule of
        # the port's newest mapping whichever transport is removed: so forwarding is checked
        # while the newest mapping is the UDP one, and the removal of the older TCP one only
        # in the router's mapping table.
        self.tcp_portmap("open", "7602", "--via", via, "--lease", "600")
        udp = Probe(self, self.lab, 7602, via, udp=True)
        self.mapped(udp, 7602, "UDP")
        self.assertEqual((self.rules("tcp", 7602), self.rules("udp", 7602)),
                         (["7602"], ["7602"]))
        self.assertEqual([len(self.rule_lines(t, 7602, "accept")) for t in ("tcp", "udp")],
                         [1, 1])
        self.datagram_through(7602, "beside TCP")
        # The UDP one goes; the TCP one stays, forward rule and all.
        self.assertEqual(udp.stop(), 0, udp.err)
        self.assertEqual((self.rules("tcp", 7602), self.rules("udp", 7602)), (["7602"], []))
        self.assertEqual([len(self.rule_lines(t, 7602, "accept")) for t in ("tcp", "udp")],
                         [1, 0])
        # And the other way round: removing the TCP one leaves the UDP one mapped.
        udp = Probe(self, self.lab, 7602, via, udp=True)
        self.mapped(udp, 7602, "UDP")
        self.datagram_through(7602, "again beside TCP")
        self.tcp_portmap("remove", "7602", "--via", via)
        self.assertEqual((self.rules("tcp", 7602), self.rules("udp", 7602)), ([], ["7602"]))
        self.assertEqual(udp.stop(), 0, udp.err)
        self.assertEqual((self.rules("tcp", 7602), self.rules("udp", 7602)), ([], []))

    def test_tcp_and_udp_side_by_side_upnp(self):
        self.check_side_by_side("upnp")

    def test_tcp_and_udp_side_by_side_natpmp(self):
        self.check_side_by_side("natpmp")

    def test_tcp_commands_leave_udp_mappings_alone(self):
        # `netcfax portmap` and its listing deal in TCP mappings: a UDP mapping of the same
        # port is neither listed as one nor removed for one.
        udp = Probe(self, self.lab, 7604, "upnp", udp=True)
        self.mapped(udp, 7604, "UDP")
        rc, out, err = nt.run_cmd(self.lab.prefix("cli") + [
            nt.NETCFAX, "--json", "portmap", "list", "--all"], timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["mappings"], [], out)
        rc, out, err = nt.run_cmd(self.lab.prefix("cli") + [
            nt.NETCFAX, "--json", "portmap", "remove", "7604", "--via", "upnp"], timeout=60)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("no mapping of external port 7604", json.loads(out)["error"]["message"])
        self.assertEqual(self.rules("udp", 7604), ["7604"])
        self.assertEqual(udp.stop(), 0, udp.err)
        self.assertEqual(self.rules("udp", 7604), [])


if __name__ == "__main__":
    nt.main()

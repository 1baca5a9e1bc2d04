#!/usr/bin/env python3
"""netcfax-portcheck --json in network-namespace labs, against Debian's real miniupnpd: its
verdict, topology and exit code in each situation, and the rule it prints, applied to the
router, turning the next run into a direct pass.

    client 192.168.77.2 -- router 192.168.77.1 | 11.22.33.1 -- server 11.22.33.2
    (no NAT: client 11.22.33.3 on the server's own network; two hosts: a second client
    192.168.77.3 on the router's LAN bridge)"""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

CLIENT, LAN_GW, WAN, SERVER = "192.168.77.2", "192.168.77.1", "11.22.33.1", "11.22.33.2"
CLIENT2 = "192.168.77.3"


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class Portcheck(unittest.TestCase):
    def build(self, nat=True, upnp=False, natpmp=False, double=False, two_hosts=False):
        hosts = (["cli", "srv"] + (["rtr"] if nat else []) + (["up"] if double else []) +
                 (["cli2"] if two_hosts else []))
        lab = self.lab = nt.NetLab(self, hosts)
        if not nat:
            lab.link("cli", "eth0", "srv", "eth0")
            lab.addr("cli", "eth0", "11.22.33.3/24")
            lab.addr("srv", "eth0", SERVER + "/24")
        else:
            if two_hosts:
                # Two hosts on one LAN: the router's LAN side is a bridge.
                lab.run("rtr", "ip", "link", "add", "lan0", "type", "bridge")
                lab.run("rtr", "ip", "link", "set", "lan0", "up")
                for i, (host, addr) in enumerate((("cli", CLIENT), ("cli2", CLIENT2))):
                    lab.link(host, "eth0", "rtr", "to-%d" % i)
                    lab.run("rtr", "ip", "link", "set", "to-%d" % i, "master", "lan0")
                    lab.addr(host, "eth0", addr + "/24")
                    lab.route(host, "default", LAN_GW)
            else:
                lab.link("cli", "eth0", "rtr", "lan0")
                lab.addr("cli", "eth0", CLIENT + "/24")
                lab.route("cli", "default", LAN_GW)
            lab.addr("rtr", "lan0", LAN_GW + "/24")
            if double:
                lab.link("rtr", "wan0", "up", "lan0")
                lab.addr("rtr", "wan0", "10.200.0.1/24")
                lab.addr("up", "lan0", "10.200.0.254/24")
                lab.route("rtr", "default", "10.200.0.254")
                lab.link("up", "wan0", "srv", "eth0")
                lab.addr("up", "wan0", WAN + "/24")
                nt.nat_router(lab, self, "up", "lan0", "10.200.0.0/24", "wan0", upnp=False,
                              natpmp=False)
            else:
                lab.link("rtr", "wan0", "srv", "eth0")
                lab.addr("rtr", "wan0", WAN + "/24")
            lab.addr("srv", "eth0", SERVER + "/24")
            self.router = nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0",
                                        upnp=upnp, natpmp=natpmp)
        self.srv = nt.Server(self, prefix=lab.prefix("srv"), extra={"listen": SERVER})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=lab.prefix("cli"), host=SERVER)
        if two_hosts:
            # The same user on the other machine: a home (and state files) of its own.
            self.alice2 = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                                    prefix=lab.prefix("cli2"), host=SERVER)

    def portcheck(self, *args, portmap="auto", expect_json=True, client=None):
        client = client or self.alice
        argv = client.prefix + [
            nt.NETCFAX_PORTCHECK, "-S", SERVER, "-P", str(self.srv.port), "-u", "alice",
            "--portmap", portmap, "--timeout", "20", "--json"] + list(args)
        rc, out, err = nt.run_cmd(argv, env=client.env(), timeout=90)
        try:
            data = json.loads(out)
        except ValueError:
            raise AssertionError("portcheck printed no JSON (exit %d)\n%s\n%s" % (rc, out, err))
        self.assertEqual(data["schema"], "netcfax-portcheck/1")
        self.assertEqual(data["exit"], rc, data)
        return rc, data

    @staticmethod
    def check(data, cid):
        [c] = [c for c in data["checks"] if c["id"] == cid]
        return c

    def assert_clean_ends(self, offset):
        """Every session portcheck opened since offset (its logins ask for no SCP port) ended
        with a proper TLS close: the server logged the disconnect, and no warning about it."""
        pat = re.compile(r"session=([0-9a-f]+) user=alice \S+: logged in by password "
                         r"\(SCP port 0\)")
        sessions = pat.findall(self.srv.log_since(offset))
        self.assertTrue(sessions, self.srv.log_since(offset))
        for sid in sessions:
            line = self.srv.wait_log(lambda x: "session=%s " % sid in x and (
                "disconnected" in x or "closing" in x), offset, timeout=30)
            self.assertIsNotNone(line, self.srv.log_since(offset))
        warns = [x for x in self.srv.log_since(offset).splitlines() if " warn: " in x and
                 any("session=%s " % sid in x for sid in sessions)]
        self.assertEqual(warns, [], self.srv.log_since(offset))

    def assert_no_mapping_left(self):
        rules = self.lab.run("rtr", "nft", "list", "ruleset")
        self.assertNotIn("dnat ip to %s" % CLIENT, rules, "the temporary mapping stayed")

    @staticmethod
    def wait_path(w, path):
        w.wait_for(lambda x: any(p["path"] == path for p in x.of_type("path")), 60,
                   "the %s path" % path)

    @staticmethod
    def session_of(w):
        for m in w.statuses():
            g = re.search(r"\(session ([0-9a-f]{16}),", m)
            if g:
                return g.group(1)
        raise AssertionError("no session in the watcher's output\n" + w.describe())

    @staticmethod
    def warnings_of(w):
        return [o for o in w.of_type("status") if o.get("level") == "warn"]

    def test_no_nat(self):
        self.build(nat=False)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"], d["topology"]), (0, "direct", "no NAT"), d)
        self.assertEqual(self.check(d, "direct")["status"], "pass", d)
        self.assertEqual(self.check(d, "relay")["status"], "pass", d)
        self.assertEqual(d["observed_addr"], "11.22.33.3")
        self.assertGreater(d["observed_port"], 0)
        self.assertIn("port %d (this machine: 11.22.33.3 port %d)" % (
            d["observed_port"], d["observed_port"]), self.check(d, "observed")["evidence"])
        self.assertEqual(d["fix"]["nftables"], [])

    def test_upnp_router_with_mapping(self):
        self.build(upnp=True)
        rc, out, err = self.alice.run("portmap", "open", "7485", "--via", "upnp",
                                      global_opts=("--portmap", "upnp"))
        self.assertEqual(rc, 0, out + err)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"], d["topology"]), (0, "direct", "single NAT"), d)
        upnp = self.check(d, "upnp")
        self.assertEqual(upnp["status"], "pass", d)
        self.assertIn("1 netcfax mapping to this machine", upnp["evidence"])
        self.assertIn("reached", self.check(d, "direct")["evidence"] + "reached")
        self.assertEqual(d["probe_port"], 7485)

    def test_natpmp_router(self):
        # NAT-PMP only: found, external address public. Asked not to map (portmap = off), a
        # fixed port with no forward is relayed; a mapping made by hand with NAT-PMP (which
        # the router cannot list) is found by trying the port as it is, and left in place.
        self.build(natpmp=True)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="off")
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "NAT"), d)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="natpmp")
        self.assertIn("NAT-PMP router 192.168.77.1, external address 11.22.33.1",
                      self.check(d, "natpmp")["evidence"])
        self.assertEqual(d["topology"], "single NAT", d)
        rc, out, err = self.alice.run("portmap", "open", "7485", "--via", "natpmp",
                                      global_opts=("--portmap", "natpmp"))
        self.assertEqual(rc, 0, out + err)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertIsNone(d["automap"], d)
        self.assertIn("dnat ip to %s:7485" % CLIENT, self.lab.run("rtr", "nft", "list",
                                                                    "ruleset"))

    def default_client_behind(self, via):
        # The default client.conf (dynamic SCP, portmap = auto): the check maps its port as
        # the watcher would, goes direct through it, and leaves nothing on the router.
        self.build(upnp=via == "upnp", natpmp=via == "natpmp")
        offset = self.srv.log_size()
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"], d["topology"]), (0, "direct", "single NAT"), d)
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "pass", d)
        self.assertIn("direct through an automatic router mapping: %s" % via,
                      direct["evidence"])
        self.assertIn("automatic router mapping (%s, external port %d)" % (
            via, d["automap"]["ext_port"]), d["summary"])
        self.assertEqual((d["automap"]["mapped"], d["automap"]["protocol"]), (True, via), d)
        self.assertEqual(d["probe_port"], d["automap"]["ext_port"], d)
        self.assertEqual(self.check(d, "automap")["status"], "pass", d)
        self.assertEqual((d["fix"]["words"], d["fix"]["nftables"]), ("", []), d)
        self.assert_no_mapping_left()
        self.assert_clean_ends(offset)

    def test_default_client_behind_upnp(self):
        self.default_client_behind("upnp")

    def test_default_client_behind_natpmp(self):
        self.default_client_behind("natpmp")

    def test_stopped_check_removes_its_mapping(self):
        # SIGTERM while the temporary mapping exists (the server's connect-back is dropped on
        # its way, so the check waits for the verdict): the check still removes the mapping,
        # then ends by that signal.
        self.build(upnp=True)
        self.lab.nft("srv", "table inet hold {\n chain out { type filter hook output priority "
                     "0; ip daddr %s tcp flags syn tcp dport != %d drop; }\n}\n"
                     % (WAN, self.srv.port))
        argv = self.alice.prefix + [
            nt.NETCFAX_PORTCHECK, "-S", SERVER, "-P", str(self.srv.port), "-u", "alice",
            "--portmap", "upnp", "--timeout", "60", "--json"]
        proc = subprocess.Popen(argv, env=self.alice.env(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        self.addCleanup(stop)
        deadline = time.monotonic() + 60
        while "dnat ip to %s" % CLIENT not in self.lab.run("rtr", "nft", "list", "ruleset"):
            self.assertLess(time.monotonic(), deadline, "no mapping appeared")
            self.assertIsNone(proc.poll(), "the check ended before it mapped")
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=90), -signal.SIGTERM)
        self.assert_no_mapping_left()

    def test_fixed_port_behind_upnp_is_mapped_as_the_watcher_would(self):
        # A fixed port with no forward: tried as it is (refused), then through the mapping.
        self.build(upnp=True)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertIn("port 7485 as it is: ", self.check(d, "direct")["evidence"])
        self.assertEqual(d["automap"]["ext_port"], 7485, d)
        self.assert_no_mapping_left()

    def test_router_refuses_the_mapping(self):
        # A router that maps only low ports for this LAN refuses the default client's:
        # the check says why, and goes on to the forward to add by hand.
        self.build(upnp=True)
        with open(self.router.conf) as f:
            conf = f.read()
        self.router.stop()
        with open(self.router.conf, "w") as f:
            f.write(conf.replace("allow 1024-65535 192.168.77.0/24 1024-65535",
                                 "allow 1024-2000 192.168.77.0/24 1024-2000"))
        self.router.start()
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        automap = self.check(d, "automap")
        self.assertEqual((automap["status"], d["automap"]["mapped"]), ("fail", False), d)
        self.assertIn("the router refused the mapping (UPnP 606", automap["evidence"])
        self.assertIn("by hand", automap["todo"])
        self.assertIn("forward TCP port", d["fix"]["words"])
        self.assert_no_mapping_left()

    def test_no_mapping_service_then_the_printed_rule(self):
        self.build()
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "NAT"), d)
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "fail", d)
        self.assertIn("refused", direct["evidence"])
        self.assertIn("forward TCP port 7485 to %s" % CLIENT, d["fix"]["words"])
        self.assertEqual(d["fix"]["nftables"], [
            "nft add rule inet nat prerouting ip daddr %s tcp dport 7485 dnat ip to %s"
            % (WAN, CLIENT),
            "nft insert rule inet filter forward ip daddr %s tcp dport 7485 ct state new accept"
            % CLIENT])
        for rule in d["fix"]["nftables"]:
            self.lab.run("rtr", *rule.split())
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertEqual(d["fix"]["nftables"], [])

    def test_range_rule_for_iptables_uses_a_colon(self):
        self.build()
        rc, d = self.portcheck("--scp-mode", "range", "--scp-range", "7500-7509",
                               portmap="off")
        self.assertEqual(rc, 1, d)
        self.assertEqual(self.check(d, "upnp")["status"], "skip")
        self.assertIn("--dport 7500:7509", " ".join(d["fix"]["iptables"]))
        self.assertIn("tcp dport 7500-7509", " ".join(d["fix"]["nftables"]))

    def test_relay_only_client(self):
        self.build(nat=False)
        os.makedirs(self.alice.config_dir, exist_ok=True)
        with open(os.path.join(self.alice.config_dir, "client.conf"), "w") as f:
            f.write("scp = relay\n")
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        self.assertEqual(self.check(d, "direct")["status"], "skip", d)
        self.assertEqual(self.check(d, "relay")["status"], "pass", d)
        self.assertEqual(d["fix"]["nftables"], [])

    def test_port_held_by_the_running_watcher(self):
        # The user's own watcher holds the fixed port: the check names it (pid, session,
        # port), judges the path the server gave it, and sends no connect-back to its port,
        # so the watcher sees nothing and the server logs no warning.
        self.build(nat=False)
        w = nt.Watcher(self.alice, owner=self, global_opts=(
            "--scp", "direct", "--scp-mode", "fixed", "--scp-port", "7485"))
        self.wait_path(w, "direct")
        sid = self.session_of(w)
        offset = self.srv.log_size()
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        scp = self.check(d, "scp_port")
        self.assertEqual(scp["status"], "warn", d)
        self.assertIn("held by netcfax (pid %d): this user's running watcher (session %s)"
                      % (w.proc.pid, sid), scp["evidence"])
        self.assertIn("a watcher is running: pid %d, session %s, port 7485" % (w.proc.pid, sid),
                      self.check(d, "watcher")["evidence"])
        self.assertEqual((d["watcher"]["pid"], d["watcher"]["session"], d["watcher"]["path"]),
                         (w.proc.pid, sid, "direct"), d)
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "pass", d)
        self.assertIn("the running watcher (pid %d) gets its notifications direct"
                      % w.proc.pid, direct["evidence"])
        self.assertEqual((rc, d["verdict"], d["probe_port"]), (0, "direct", 0), d)
        self.assert_clean_ends(offset)
        self.assertNotIn("SCP probe of", self.srv.log_since(offset))
        # and the watcher was not disturbed: its notifications still come, and it warned
        # of nothing
        rc2, out, err = self.srv.admin("notify", "alice", "still here")
        self.assertEqual(w.wait_notifications(1)[0]["text"], "still here")
        self.assertEqual(self.warnings_of(w), [], w.describe())

    def test_running_watcher_through_an_automatic_mapping(self):
        # The default client's watcher behind a UPnP router: direct through its own mapping,
        # which the check reports and leaves alone. Its state file is private, and goes with
        # a clean exit.
        self.build(upnp=True)
        self.alice.portmap = "auto"
        w = nt.Watcher(self.alice, owner=self)
        self.wait_path(w, "direct")
        state_dir = os.path.join(self.alice.home, ".cache", "netcfax")
        state = os.path.join(state_dir, "watch-%d.state" % w.proc.pid)
        self.assertEqual(stat.S_IMODE(os.stat(state_dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o600)
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertEqual((d["watcher"]["pid"], d["watcher"]["mapping"],
                          d["watcher"]["scp_port"]), (w.proc.pid, "upnp", w.scp_port()), d)
        self.assertIsNone(d["automap"], d)
        self.assertIn("through an automatic router mapping (upnp)",
                      self.check(d, "direct")["evidence"])
        self.assertIn("dnat ip to %s:%d" % (CLIENT, w.scp_port()),
                      self.lab.run("rtr", "nft", "list", "ruleset"))
        self.assertEqual(self.warnings_of(w), [], w.describe())
        self.assertEqual(w.stop(), 0, w.describe())
        self.assertFalse(os.path.exists(state), "the state file outlived a clean exit")
        # With the watcher gone, the check maps a port of its own again.
        rc, d = self.portcheck()
        self.assertIsNone(d["watcher"], d)
        self.assertEqual((rc, d["automap"]["mapped"]), (0, True), d)

    def test_running_watcher_relayed(self):
        # A watcher with no mapping and no forward is relayed: the check says so (exit 1),
        # with the server's reason and the fix.
        self.build()
        w = nt.Watcher(self.alice, owner=self, global_opts=(
            "--scp-mode", "fixed", "--scp-port", "7485"))
        self.wait_path(w, "relay")
        offset = self.srv.log_size()
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="off")
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        self.assertEqual((d["watcher"]["pid"], d["watcher"]["path"]), (w.proc.pid, "relay"), d)
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "fail", d)
        self.assertIn("the server relays the running watcher's (pid %d) notifications"
                      % w.proc.pid, direct["evidence"])
        self.assertIn("kill -USR1 %d" % w.proc.pid, direct["todo"])
        self.assertIn("forward TCP port 7485 to %s" % CLIENT, d["fix"]["words"])
        self.assert_clean_ends(offset)
        self.assertNotIn("SCP probe of", self.srv.log_since(offset))
        # The printed fix, applied, and the watcher told to try again: direct, and the next
        # check says so.
        for rule in d["fix"]["nftables"]:
            self.lab.run("rtr", *rule.split("#")[0].split())
        os.kill(w.proc.pid, signal.SIGUSR1)
        self.wait_path(w, "direct")
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="off")
        self.assertEqual((rc, d["verdict"], d["watcher"]["path"]), (0, "direct", "direct"), d)

    def test_forged_watcher_state_is_ignored(self):
        # State files are checked: one naming a live process that did not write it (another
        # start time), and one that is garbage, are not taken for a watcher.
        self.build(nat=False)
        sleeper = subprocess.Popen(["sleep", "300"])
        def stop():
            sleeper.kill()
            sleeper.wait(timeout=10)
        self.addCleanup(stop)
        state_dir = os.path.join(self.alice.home, ".cache", "netcfax")
        os.makedirs(state_dir, mode=0o700)
        os.chmod(os.path.join(self.alice.home, ".cache"), 0o700)
        with open(os.path.join(state_dir, "watch-%d.state" % sleeper.pid), "w") as f:
            f.write("netcfax-watch-state 1\npid %d\nstart 1\nnetns \nhost %s\nport %d\n"
                    "user alice\nsession 00000000000000aa\nscp_port 7485\nreg_port 7485\n"
                    "mapping \npath direct\nreason forged\nwritten 1\n"
                    % (sleeper.pid, SERVER, self.srv.port))
        with open(os.path.join(state_dir, "watch-%d.state" % os.getpid()), "w") as f:
            f.write("netcfax-watch-state 1\npid %d\n" % os.getpid() + "x" * 5000 + "\n")
        for pid in (sleeper.pid, os.getpid()):     # private, as a watcher writes them
            os.chmod(os.path.join(state_dir, "watch-%d.state" % pid), 0o600)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertIsNone(d["watcher"], d)
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertEqual(self.check(d, "direct")["status"], "pass", d)

    def test_two_hosts_one_fixed_port(self):
        # Two machines behind one UPnP router, both on fixed 7485. The first one's watcher
        # holds the router's 7485. The check on the second one (no watcher there, no mapping
        # of its own) reaches the first machine's watcher: that is no direct path for this
        # one, and the check says where the port leads.
        self.build(upnp=True, two_hosts=True)
        self.alice.portmap = "upnp"
        w = nt.Watcher(self.alice, owner=self, global_opts=(
            "--scp", "direct", "--scp-mode", "fixed", "--scp-port", "7485"))
        self.wait_path(w, "direct")
        self.assertIn("dnat ip to %s:7485" % CLIENT, self.lab.run("rtr", "nft", "list",
                                                                    "ruleset"))
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="off",
                               client=self.alice2)
        self.assertIsNone(d["watcher"], d)
        self.assertNotEqual(d["verdict"], "direct", d)
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "fail", d)
        # The first machine's watcher told the server it is another client (ERROR 40).
        self.assertIn("another netcfax client", direct["todo"], d)
        self.assertIn("another netcfax client answers on this port", direct["evidence"], d)
        # Allowed to ask the router, it sees the port held by the other host and, as the
        # watcher would, maps another external port, which the server reaches direct.
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="upnp",
                               client=self.alice2)
        self.assertIn("192.168.77.2:7485", self.check(d, "upnp")["evidence"], d)
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        automap = self.check(d, "automap")
        self.assertEqual(automap["status"], "pass", d)
        self.assertNotEqual(d["automap"]["ext_port"], 7485, d)
        self.assertIn("taken by another host on this network (192.168.77.2)",
                      automap["evidence"], d)
        self.assertEqual(d["probe_port"], d["automap"]["ext_port"], d)
        # ...and removed it after: only the first machine's mapping is left.
        self.assertNotIn("dnat ip to %s" % CLIENT2, self.lab.run("rtr", "nft", "list",
                                                                   "ruleset"))
        # The second host's own watcher on 7485, with no mapping: the server's connect-backs
        # for it land on the first host's watcher, so it is relayed, and the check says that
        # (the watcher's path), not "direct" because some netcfax answered on the port.
        self.alice2.portmap = "off"
        w2 = nt.Watcher(self.alice2, owner=self, global_opts=(
            "--scp-mode", "fixed", "--scp-port", "7485"))
        self.wait_path(w2, "relay")
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", portmap="off",
                               client=self.alice2)
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        self.assertEqual((d["watcher"]["pid"], d["watcher"]["path"]), (w2.proc.pid, "relay"), d)
        self.assertIn("another netcfax client answers on this port", d["watcher"]["reason"], d)
        self.assertEqual(self.check(d, "direct")["status"], "fail", d)

    def test_open_then_close(self):
        self.build(upnp=True)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", "--open")
        self.assertEqual(self.check(d, "open")["status"], "pass", d)
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        self.assertIn("dport 7485 dnat ip to %s:7485" % CLIENT,
                      self.lab.run("rtr", "nft", "list", "ruleset"))
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485", "--close")
        self.assertEqual(self.check(d, "close")["status"], "pass", d)
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)
        self.assertNotIn("dport 7485", self.lab.run("rtr", "nft", "list", "ruleset"))
        rc, d = self.portcheck("--open", portmap="upnp")     # dynamic: refused, says why
        self.assertEqual(self.check(d, "open")["status"], "fail", d)
        self.assertIn("dynamic", self.check(d, "open")["evidence"])

    def test_double_nat(self):
        self.build(upnp=True, natpmp=True, double=True)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "double NAT"), d)
        self.assertEqual(self.check(d, "topology")["status"], "warn")
        self.assertIn("upstream device", d["fix"]["words"])

    def test_server_down(self):
        self.build(nat=False)
        self.srv.stop()
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (3, "no-server"), d)
        self.assertEqual(self.check(d, "pcp")["status"], "fail", d)
        self.assertIn("netcfaxd", self.check(d, "pcp")["todo"])

    def test_wrong_pinned_certificate(self):
        self.build(nat=False)
        os.makedirs(self.alice.config_dir, exist_ok=True)
        with open(self.alice.known_servers, "w") as f:
            f.write("%s:%d SHA256:%s\n" % (SERVER, self.srv.port, ":".join(["AB"] * 32)))
        rc, d = self.portcheck()
        self.assertEqual((rc, d["verdict"]), (3, "no-server"), d)
        ident = self.check(d, "identity")
        self.assertEqual(ident["status"], "fail", d)
        self.assertIn("netcfax trust", ident["todo"])

    def test_scp_port_already_taken(self):
        self.build(nat=False)
        # Another program listens on 7485 in the client's namespace.
        holder = subprocess.Popen(self.lab.prefix("cli") + [
            sys.executable, "-c", "import socket,time\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', 7485)); s.listen(8); print('ok', flush=True)\n"
            "c=[]\nwhile True: c.append(s.accept())"], stdout=subprocess.PIPE, text=True)
        def stop():
            holder.kill()
            holder.wait(timeout=10)
            holder.stdout.close()
        self.addCleanup(stop)
        self.assertEqual(holder.stdout.readline().strip(), "ok")
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        scp = self.check(d, "scp_port")
        self.assertEqual(scp["status"], "fail", d)
        self.assertIn("held by python", scp["evidence"])
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "fail", d)
        self.assertIn("something else answered", direct["evidence"])
        self.assertEqual((rc, d["verdict"]), (1, "relay"), d)


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class ServerSide(unittest.TestCase):
    """netcfax-portcheck --server on the UK server host of the two-site lab, whose router runs
    miniupnpd with UPnP and which maps its own PCP."""

    def run_check(self):
        rc, out, err = nt.run_cmd(self.sites.lab.prefix("uk-srv") + [
            nt.NETCFAX_PORTCHECK, "--server", "--server-config", self.srv.conf, "--json"],
            timeout=60)
        d = json.loads(out)
        self.assertEqual((d["schema"], d["mode"], d["exit"]), ("netcfax-portcheck/1", "server",
                                                               rc), d)
        return rc, d

    def test_server_side(self):
        self.sites = nt.TwoSites(self, us="none", uk="upnp")
        self.srv = nt.Server(self, prefix=self.sites.lab.prefix("uk-srv"), extra={
            "listen": "0.0.0.0", "portmap": "upnp"})
        self.assertIsNotNone(self.srv.wait_log(lambda x: "port mapping: the router (" in x,
                                               timeout=30), self.srv.log_text())
        port = self.srv.port
        rc, d = self.run_check()
        self.assertEqual((rc, d["verdict"]), (0, "open"), d)
        listen = [c for c in d["checks"] if c["id"] == "listen"]
        self.assertEqual([c["status"] for c in listen], ["pass", "pass"], d)
        self.assertIn("127.0.0.1 port %d: netcfaxd answers with its own certificate" % port,
                      listen[0]["evidence"])
        self.assertIn("%s port %d" % (nt.UK_SERVER, port), listen[1]["evidence"])
        [upnp] = [c for c in d["checks"] if c["id"] == "upnp"]
        self.assertEqual(upnp["status"], "pass", d)
        self.assertIn("forwards to %s:%d" % (nt.UK_SERVER, port), upnp["evidence"])

        # A host firewall that drops what it did not ask for: found, and its fix works.
        self.sites.lab.nft("uk-srv", "table inet hostfw {\n chain input { type filter hook "
                           "input priority 0; policy drop; ct state established,related "
                           "accept; }\n}\n")
        rc, d = self.run_check()
        self.assertEqual((rc, d["verdict"]), (2, "closed"), d)
        [fw] = [c for c in d["checks"] if c["id"] == "firewall"]
        self.assertEqual(fw["status"], "fail", d)
        fix = d["fix"]["nftables"][0]
        self.assertTrue(fix.startswith("nft insert rule inet hostfw input tcp dport %d accept"
                                       % port), fix)
        self.sites.lab.run("uk-srv", *fix.split("#")[0].split())
        rc, d = self.run_check()
        self.assertEqual((rc, d["verdict"]), (0, "open"), d)

        # The server down: nothing listens.
        self.srv.stop()
        rc, d = self.run_check()
        self.assertEqual(rc, 2, d)
        self.assertTrue(all(c["status"] == "fail" for c in d["checks"] if c["id"] == "listen"))


# The US router's WAN address stands for the provider: nothing there answers SIP.
PROVIDER = "11.22.33.10"
RTP = "20000-20099"


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class ServerTrunk(unittest.TestCase):
    """netcfax-portcheck --server on the UK server host with SIP trunks: the trunk's file, its
    SIP port held by netcfaxd, the router's RTP mappings (portmap, miniupnpd) or the forward to
    add, the host firewall for UDP, and a trunk file with a bad line."""

    def trunk(self, name, portmap, port=5060, channels="2"):
        pw = os.path.join(self.dir, name + ".secret")
        with open(pw, "w") as f:
            f.write("Trunk-pw.5\n")
        os.chmod(pw, 0o600)
        path = os.path.join(self.dir, name + ".conf")
        with open(path, "w") as f:
            f.write("# %s\nregistrar = %s:5060\nuser = uk-office\npassword_file = %s\n"
                    "port = %d\nrtp_ports = %s\nchannels = %s\nportmap = %s\n"
                    % (name, PROVIDER, pw, port, RTP, channels, portmap))
        return path

    def run_check(self, conf):
        rc, out, err = nt.run_cmd(self.sites.lab.prefix("uk-srv") + [
            nt.NETCFAX_PORTCHECK, "--server", "--server-config", conf, "--json"], timeout=60)
        d = json.loads(out)
        self.assertEqual((d["mode"], d["exit"]), ("server", rc), d)
        self.assertNotIn("Trunk-pw.5", out)      # the password is never shown
        return rc, d

    def checks(self, d, cid):
        return [c for c in d["checks"] if c["id"] == cid and c["section"] == "SIP trunks"]

    def test_sip_port_of_the_pcp_number_is_not_mapped(self):
        # Debian's miniupnpd 2.3.1 cannot remove both of a TCP and a UDP mapping of one port
        # number: a UDP trunk on the number of the PCP, which the server maps (TCP), keeps its
        # SIP port unmapped, and the log and the check say so; its RTP ports are mapped.
        self.sites = nt.TwoSites(self, us="none", uk="upnp")
        self.dir = nt.make_temp_dir(self, prefix="ncfx-pct-")
        conf = self.trunk("office", "upnp", port=5070)
        self.srv = nt.Server(self, prefix=self.sites.lab.prefix("uk-srv"), extra={
            "listen": "0.0.0.0", "portmap": "upnp", "pcp_port": 5070, "sip_trunks": conf})
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "SIP port 5070 (UDP) is not mapped on the router: the router already "
            "forwards TCP port 5070 to this host (the server's PCP port)" in x, timeout=30),
            self.srv.log_text())
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "forwards UDP %s port 20002 to RTP port" % nt.UK_WAN in x, timeout=60),
            self.srv.log_text())
        rc, d = self.run_check(self.srv.conf)
        [sipr] = self.checks(d, "sip_router")
        self.assertEqual(sipr["status"], "warn", d)
        self.assertIn("does not forward UDP port 5070 to this host", sipr["evidence"])
        self.assertNotIn("0x11 th dport 5070", self.sites.ruleset("uk-rtr"))

    def test_trunk_side(self):
        self.sites = nt.TwoSites(self, us="none", uk="upnp")
        self.dir = nt.make_temp_dir(self, prefix="ncfx-pct-")
        mapped = self.trunk("office", "upnp")
        self.srv = nt.Server(self, prefix=self.sites.lab.prefix("uk-srv"), extra={
            "listen": "0.0.0.0", "portmap": "upnp", "sip_trunks": mapped})
        # Registration goes nowhere (nothing answers at the registrar); the mapping is made
        # all the same.
        for port in (20000, 20002, 20004, 20006):     # two per channel: t38 (accept) is on
            self.assertIsNotNone(self.srv.wait_log(
                lambda x: "forwards UDP %s port %d to RTP port" % (nt.UK_WAN, port) in x,
                timeout=60), self.srv.log_text())
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "forwards UDP %s port 5060 to SIP port 5060" % nt.UK_WAN in x,
            timeout=60), self.srv.log_text())
        self.assertIsNotNone(self.srv.wait_log(
            lambda x: "registration with %s:5060 failed" % PROVIDER in x, timeout=30))

        # (a) portmap on: the RTP ports (two per channel with t38 on) mapped to this host, SIP
        # port held.
        rc, d = self.run_check(self.srv.conf)
        self.assertEqual((rc, d["verdict"]), (0, "open"), d)
        [cfg] = self.checks(d, "trunk")
        self.assertEqual(cfg["status"], "pass", d)
        [pw] = self.checks(d, "password")
        self.assertEqual(pw["status"], "pass", d)
        [sip] = self.checks(d, "sip_port")
        self.assertEqual(sip["status"], "pass", d)
        self.assertIn("UDP port 5060 on 0.0.0.0 is held by netcfaxd (pid %d)"
                      % self.srv.proc.pid, sip["evidence"])
        [reg] = self.checks(d, "registrar")
        self.assertIn("is %s (resolved here" % PROVIDER, reg["evidence"])
        [sipr] = self.checks(d, "sip_router")          # the SIP port's mapping, beside them
        self.assertEqual(sipr["status"], "pass", d)
        self.assertIn("forwards UDP %s port 5060->5060 to this host: the SIP port, registered "
                      "as the contact" % nt.UK_WAN, sipr["evidence"])
        [rtr] = self.checks(d, "rtp_router")
        self.assertEqual(rtr["status"], "pass", d)
        self.assertRegex(rtr["evidence"], r"forwards UDP %s ports \d+->20000, \d+->20002, "
                         r"\d+->20004, \d+->20006 to this host: the 4 RTP ports of the 2 "
                         r"channels \(two a channel: t38 is on\)" % re.escape(nt.UK_WAN))
        [alg] = self.checks(d, "sip_alg")
        self.assertEqual(alg["status"], "warn", d)
        self.assertIn("cannot be seen from this host", alg["evidence"])
        self.assertFalse([r for r in d["fix"]["rules"] if "udp" in r["nftables"]], d)

        # (c) A host firewall that drops UDP: the SIP port and the RTP range fail, and the
        # printed input rules (only from the provider) let them in.
        self.sites.lab.nft("uk-srv", "table inet hostfw {\n chain input { type filter hook "
                           "input priority 0; policy drop; ct state established,related "
                           "accept; tcp dport %d accept; }\n}\n" % self.srv.port)
        rc, d = self.run_check(self.srv.conf)
        self.assertEqual((rc, d["verdict"]), (2, "closed"), d)
        self.assertIn("a SIP trunk is not ready", d["summary"])
        [fw] = self.checks(d, "sip_fw")
        self.assertEqual(fw["status"], "fail", d)
        self.assertIn("lets nothing in for UDP port 5060 from %s" % PROVIDER, fw["evidence"])
        [fw] = self.checks(d, "rtp_fw")
        self.assertEqual(fw["status"], "fail", d)
        host = [r for r in d["fix"]["rules"] if r["device"] == "this-host"]
        self.assertEqual([r["nftables"] for r in host], [
            "nft insert rule inet hostfw input ip saddr %s udp dport 5060 accept" % PROVIDER,
            "nft insert rule inet hostfw input ip saddr %s udp dport %s accept"
            % (PROVIDER, RTP)], d)
        self.assertEqual(host[1]["iptables"], "iptables -I INPUT -s %s -p udp --dport "
                         "20000:20099 -j ACCEPT" % PROVIDER)
        for r in host:
            self.sites.lab.run("uk-srv", *r["nftables"].split())
        rc, d = self.run_check(self.srv.conf)
        self.assertEqual((rc, d["verdict"]), (0, "open"), d)
        self.assertEqual([c["status"] for c in self.checks(d, "sip_fw") +
                          self.checks(d, "rtp_fw")], ["pass", "pass"], d)

        # (b) portmap off, and (d) a trunk file with a bad line, in another configuration.
        self.sites.lab.run("uk-srv", "nft", "delete", "table", "inet", "hostfw")
        by_hand = self.trunk("byhand", "off", port=5062)
        bad = self.trunk("bad", "off", channels="lots")
        os.chmod(os.path.join(self.dir, "byhand.secret"), 0o640)   # a group may read it
        conf = os.path.join(self.dir, "netcfaxd.conf")
        with open(conf, "w") as f:
            f.write("listen = 0.0.0.0\npcp_port = %d\nstate_dir = %s\nsip_trunks = %s, %s\n"
                    % (self.srv.port, self.srv.state_dir, by_hand, bad))
        rc, d = self.run_check(conf)
        self.assertEqual((rc, d["verdict"]), (2, "closed"), d)
        cfgs = self.checks(d, "trunk")
        self.assertEqual([c["status"] for c in cfgs], ["pass", "fail"], d)
        self.assertEqual(cfgs[1]["evidence"], "%s:7: channels: 'lots' is not a whole number; "
                         "allowed: 1 to 256" % bad)
        [pw] = self.checks(d, "password")
        self.assertEqual(pw["status"], "fail", d)
        self.assertIn("byhand.secret is not a regular file readable by its owner only (mode "
                      "640)", pw["evidence"])
        self.assertEqual(pw["todo"], "chmod 600 the file (netcfaxd refuses a password others "
                         "can read)")
        [sip] = self.checks(d, "sip_port")
        self.assertEqual(sip["status"], "fail", d)        # nothing holds 5062
        [rtr] = self.checks(d, "rtp_router")
        self.assertEqual(rtr["status"], "warn", d)
        self.assertIn("a provider that latches needs no forward", rtr["evidence"])
        router = [r for r in d["fix"]["rules"] if r["device"] == "router" and "udp" in
                  r["nftables"]]
        self.assertEqual([r["nftables"] for r in router], [
            "nft add rule inet nat prerouting ip daddr %s ip saddr %s udp dport %s dnat ip to "
            "%s" % (nt.UK_WAN, PROVIDER, RTP, nt.UK_SERVER),
            "nft insert rule inet filter forward ip saddr %s ip daddr %s udp dport %s ct state "
            "new accept" % (PROVIDER, nt.UK_SERVER, RTP)], d)
        self.assertIn("forwards UDP %s from the provider" % RTP, d["fix"]["words"])

        # The printed forward works: the provider's datagram to the router's port 20050
        # reaches this host's port 20050.
        for r in router:
            self.sites.lab.run("uk-rtr", *r["nftables"].split())
        self.srv.stop()
        listen = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                  "s.bind(('0.0.0.0', 20050)); s.settimeout(30); "
                  "print(s.recvfrom(64)[0].decode())")
        recv = subprocess.Popen(self.sites.lab.prefix("uk-srv") + [sys.executable, "-c", listen],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(recv.kill)
        # The sender repeats (bounded) until the receiver, started alongside, has one.
        send = ("import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "for i in range(100):\n    s.sendto(b'rtp', ('%s', 20050)); time.sleep(0.1)\n"
                % nt.UK_WAN)
        sender = subprocess.Popen(self.sites.lab.prefix("us-rtr") + [sys.executable, "-c", send])
        self.addCleanup(sender.kill)
        out, _ = recv.communicate(timeout=40)
        sender.kill()
        sender.wait(timeout=10)
        self.assertEqual((recv.returncode, out.strip()), (0, "rtp"))


if __name__ == "__main__":
    nt.main()

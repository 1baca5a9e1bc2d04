#!/usr/bin/env python3
"""netcfax-portcheck --json in network-namespace labs, against Debian's real miniupnpd: its
verdict, topology and exit code in each situation, and the rule it prints, applied to the
router, turning the next run into a direct pass.

    client 192.168.77.2 -- router 192.168.77.1 | 11.22.33.1 -- server 11.22.33.2
    (no NAT: client 11.22.33.3 on the server's own network)"""
import json
import os
import socket
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

CLIENT, LAN_GW, WAN, SERVER = "192.168.77.2", "192.168.77.1", "11.22.33.1", "11.22.33.2"


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class Portcheck(unittest.TestCase):
    def build(self, nat=True, upnp=False, natpmp=False, double=False):
        hosts = ["cli", "srv"] + (["rtr"] if nat else []) + (["up"] if double else [])
        lab = self.lab = nt.NetLab(self, hosts)
        if not nat:
            lab.link("cli", "eth0", "srv", "eth0")
            lab.addr("cli", "eth0", "11.22.33.3/24")
            lab.addr("srv", "eth0", SERVER + "/24")
        else:
            lab.link("cli", "eth0", "rtr", "lan0")
            lab.addr("cli", "eth0", CLIENT + "/24")
            lab.addr("rtr", "lan0", LAN_GW + "/24")
            lab.route("cli", "default", LAN_GW)
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
            nt.nat_router(lab, self, "rtr", "lan0", "192.168.77.0/24", "wan0", upnp=upnp,
                          natpmp=natpmp)
        self.srv = nt.Server(self, prefix=lab.prefix("srv"), extra={"listen": SERVER})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self,
                               prefix=lab.prefix("cli"), host=SERVER)

    def portcheck(self, *args, portmap="auto", expect_json=True):
        argv = self.lab.prefix("cli") + [
            nt.NETCFAX_PORTCHECK, "-S", SERVER, "-P", str(self.srv.port), "-u", "alice",
            "--portmap", portmap, "--timeout", "20", "--json"] + list(args)
        rc, out, err = nt.run_cmd(argv, env=self.alice.env(), timeout=90)
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
        # NAT-PMP only: found, external address public; the mapping made by hand with it.
        self.build(natpmp=True)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"], d["topology"]), (1, "relay", "single NAT"), d)
        self.assertIn("NAT-PMP router 192.168.77.1, external address 11.22.33.1",
                      self.check(d, "natpmp")["evidence"])
        self.assertEqual(self.check(d, "upnp")["status"], "skip", d)
        rc, out, err = self.alice.run("portmap", "open", "7485", "--via", "natpmp",
                                      global_opts=("--portmap", "natpmp"))
        self.assertEqual(rc, 0, out + err)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)

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
        # The user's own watcher holds the fixed port: the check says so, and the server's
        # connect-back reaching it counts as the path working.
        self.build(nat=False)
        w = nt.Watcher(self.alice, owner=self, global_opts=(
            "--scp", "direct", "--scp-mode", "fixed", "--scp-port", "7485"))
        w.wait_status("notifications connected", 30)
        rc, d = self.portcheck("--scp-mode", "fixed", "--scp-port", "7485")
        scp = self.check(d, "scp_port")
        self.assertEqual(scp["status"], "warn", d)
        self.assertIn("held by netcfax (pid %d)" % w.proc.pid, scp["evidence"])
        direct = self.check(d, "direct")
        self.assertEqual(direct["status"], "warn", d)
        self.assertIn("the path to it works", direct["evidence"])
        self.assertEqual((rc, d["verdict"]), (0, "direct"), d)
        # and the watcher was not disturbed: its notifications still come
        rc2, out, err = self.srv.admin("notify", "alice", "still here")
        self.assertEqual(w.wait_notifications(1)[0]["text"], "still here")

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
        holder = nt.subprocess.Popen(self.lab.prefix("cli") + [
            sys.executable, "-c", "import socket,time\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', 7485)); s.listen(8); print('ok', flush=True)\n"
            "c=[]\nwhile True: c.append(s.accept())"], stdout=nt.subprocess.PIPE, text=True)
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


if __name__ == "__main__":
    nt.main()

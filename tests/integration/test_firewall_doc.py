#!/usr/bin/env python3
"""docs/firewall.md's worked example, run: every command block marked `<!-- lab: ROUTER KIND -->`
is taken from the document and run on that router of a two-site lab (ncfxtest.TwoSites), with
nftables and then with iptables; then the UK server reaches both US clients direct (the desk PC
on its fixed port, the terminal server in its range), and each gets its notification. Nothing but
the example's rules forwards anything: the routers map nothing and the clients ask for nothing."""
import os
import re
import shlex
import shutil
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

DOC = os.path.join(nt.HERE, "..", "..", "docs", "firewall.md")
# The document's addresses that differ from the lab's: the routers' WAN addresses.
ADDRS = {"203.0.113.20": nt.UK_WAN, "198.51.100.10": nt.US_WAN}


def lab_blocks(kind):
    """{router: [argv, ...]} from the document's blocks of this kind."""
    with open(DOC) as f:
        text = f.read()
    blocks = {}
    for router, k, body in re.findall(r"<!-- lab: (\S+) (\S+) -->\n```sh\n(.*?)```", text, re.S):
        if k != kind:
            continue
        for line in body.splitlines():
            if line.strip() and not line.startswith("#"):
                for doc, lab in ADDRS.items():
                    line = line.replace(doc, lab)
                blocks.setdefault(router, []).append(shlex.split(line))
    return blocks


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class WorkedExample(unittest.TestCase):
    def run_example(self, kind):
        blocks = lab_blocks(kind)
        self.assertEqual(sorted(blocks), ["uk-rtr", "us-rtr"], "no %s blocks found" % kind)
        self.assertEqual(blocks["us-rtr"][0][0], kind)
        sites = nt.TwoSites(self, us="none", uk="none", us_clients=2, firewall=kind)
        lab = sites.lab
        srv = nt.Server(self, prefix=lab.prefix("uk-srv"), extra={
            "listen": "0.0.0.0", "pcp_port": 7488, "notify_poll": 100})
        srv.port = 7488
        watchers = {}
        opts = {"us-cli": ("--scp-mode", "fixed", "--scp-port", "7485"),
                "us-cli2": ("--scp-mode", "range", "--scp-range", "7500-7519")}
        # Before the rules: not even the PCP is reachable from the US office.
        probe = nt.Client(srv, "nobody", "x", owner=self, prefix=lab.prefix("us-cli"),
                          host=nt.UK_WAN)
        os.makedirs(probe.config_dir, exist_ok=True)
        with open(os.path.join(probe.config_dir, "client.conf"), "w") as f:
            f.write("timeout = 3\n")
        rc, out, err = probe.run("login")
        self.assertEqual(rc, 2, out + err)
        for router, cmds in blocks.items():
            for argv in cmds:
                lab.run(router, *argv)
        for host, user in (("us-cli", "desk"), ("us-cli2", "terminal")):
            srv.add_user(user, user + "-pw-secret")
            c = nt.Client(srv, user, user + "-pw-secret", owner=self, prefix=lab.prefix(host),
                          host=nt.UK_WAN)
            watchers[user] = nt.Watcher(c, owner=self, global_opts=("--scp", "direct") +
                                        opts[host])
        for user, w in watchers.items():
            w.wait_for(lambda x: any(p["path"] == "direct" for p in x.of_type("path")), 30,
                       "the direct path for " + user)
            direct = [p for p in w.of_type("path") if p["path"] == "direct"][0]
            self.assertIn("reached %s:" % nt.US_WAN, direct["reason"])
            rc, out, err = srv.admin("notify", user, "through the documented rules")
            self.assertEqual(rc, 0, err)
            [n] = w.wait_notifications(1)
            self.assertEqual(n["text"], "through the documented rules")
        self.assertEqual(watchers["desk"].scp_port(), 7485)
        self.assertEqual(watchers["terminal"].scp_port(), 7500)

    def test_nftables(self):
        self.run_example("nft")

    @unittest.skipUnless(shutil.which("iptables"), "iptables is not installed "
                         "(scripts/install-deps --test installs it)")
    def test_iptables(self):
        self.run_example("iptables")


if __name__ == "__main__":
    nt.main()

"""ncfx_netlab: namespaces for the tests that run as root.

MountNamespace holds a private mount namespace for a test's mounts. NetLab builds hosts and
routers as network namespaces (veth links, addresses, routes, nftables) and deletes them at
cleanup; nat_router makes a lab router a NAT router with Debian's miniupnpd (Miniupnpd);
TwoSites is the two-site lab, a US client and a UK server each behind its own NAT router.
"""

import os
import subprocess
import time

from ncfx_proc import CMD_TIMEOUT, _live_procs, _register_cleanup, make_temp_dir


# --- private mounts (root only) ---

class MountNamespace:
    """A private mount namespace for a test's mounts (tmpfs, read-only binds). A small shell
    holds it: it runs `setup` (shell commands) inside, then waits on its stdin, which only this
    test process holds, and exits when that closes (at cleanup, or when this process dies).
    Mounts made in it exist nowhere else, so however the test ends nothing stays mounted: the
    namespace and its mounts go with the last process inside. prefix() runs a command inside;
    path() reaches a file inside from here, through /proc/PID/root (SQLite resolves that
    symbolic link back to our own namespace: open a database with run() instead)."""

    def __init__(self, owner, setup):
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
             setup + "\necho ready\nexec cat >/dev/null"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        _live_procs.append(self.proc)
        _register_cleanup(owner, self.close)
        line = self.proc.stdout.readline()     # bounded: the shell prints or exits
        if line.strip() != b"ready":
            self.proc.wait(timeout=10)
            raise AssertionError("mount namespace setup failed: %s"
                                 % self.proc.stderr.read().decode(errors="replace"))

    def prefix(self):
        return ["nsenter", "--mount=/proc/%d/ns/mnt" % self.proc.pid, "--"]

    def path(self, p):
        return "/proc/%d/root%s" % (self.proc.pid, os.path.abspath(p))

    def run(self, *argv, stdin=None, timeout=CMD_TIMEOUT):
        """(exit code, stdout, stderr) of argv run inside."""
        p = subprocess.run(self.prefix() + list(argv), input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()
        if self.proc in _live_procs:
            _live_procs.remove(self.proc)


# --- network namespace labs (root only) ---

class NetLab:
    """Hosts and routers as network namespaces of their own. Every interface is created inside
    the lab's namespaces (a veth's two ends straight into the two namespaces), never in the
    root namespace; destroy() (registered as a cleanup) deletes every namespace."""

    def __init__(self, owner, hosts):
        self.tag = "ncfx%d-%d" % (os.getpid(), id(self) % 10000)
        self.ns = {h: "%s-%s" % (self.tag, h) for h in hosts}
        owner.addCleanup(self.destroy)
        for name in self.ns.values():
            self.sh("ip", "netns", "add", name)
            self.sh("ip", "-n", name, "link", "set", "lo", "up")

    @staticmethod
    def sh(*argv, stdin=None):
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("%s: %s" % (" ".join(argv), p.stderr))
        return p.stdout

    def link(self, a, a_if, b, b_if):
        self.sh("ip", "-n", self.ns[a], "link", "add", a_if, "type", "veth", "peer", "name",
                b_if, "netns", self.ns[b])
        self.sh("ip", "-n", self.ns[a], "link", "set", a_if, "up")
        self.sh("ip", "-n", self.ns[b], "link", "set", b_if, "up")

    def addr(self, host, ifname, cidr):
        self.sh("ip", "-n", self.ns[host], "addr", "add", cidr, "dev", ifname)

    def route(self, host, dest, via):
        self.sh("ip", "-n", self.ns[host], "route", "add", dest, "via", via)

    def run(self, host, *argv, stdin=None):
        return self.sh("ip", "netns", "exec", self.ns[host], *argv, stdin=stdin)

    def nft(self, host, rules):
        return self.run(host, "nft", "-f", "-", stdin=rules)

    def set_link(self, host, ifname, up):
        self.sh("ip", "-n", self.ns[host], "link", "set", ifname, "up" if up else "down")

    def prefix(self, host):
        return ["ip", "netns", "exec", self.ns[host]]

    def destroy(self):
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)


ROUTER_CHAINS = (("nat", "prerouting_miniupnpd"), ("nat", "postrouting_miniupnpd"),
                 ("filter", "miniupnpd"))


class Miniupnpd:
    """Debian's miniupnpd in a router namespace, with UPnP and/or NAT-PMP, and a pid file of
    its own (the default one would let only one lab router run at a time). reboot() does what a
    router's reboot does to its mappings: the daemon dies, its chains are flushed, it starts
    again with an empty table (and a NAT-PMP epoch back at zero); with conntrack=True the
    router's connection tracking is flushed too (`conntrack -F`), as a real reboot loses it."""

    def __init__(self, lab, owner, router, lan_if, lan_cidr, wan_if, upnp, natpmp):
        self.lab, self.router = lab, router
        self.dir = make_temp_dir(owner, prefix="ncfx-upnpd-")
        self.conf = os.path.join(self.dir, "miniupnpd.conf")
        self.log_path = os.path.join(self.dir, "miniupnpd.log")
        with open(self.conf, "w") as f:
            f.write("ext_ifname=%s\nlistening_ip=%s\nenable_upnp=%s\nenable_natpmp=%s\n"
                    "secure_mode=yes\nupnp_nat_table_name=nat\nupnp_table_name=filter\n"
                    "uuid=3b8f1d72-5c2e-4a4a-9c9c-%012d\n"
                    "allow 1024-65535 %s 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n"
                    % (wan_if, lan_if, "yes" if upnp else "no", "yes" if natpmp else "no",
                       (os.getpid() * 1000 + id(self)) % 10**12, lan_cidr))
        self.proc = None
        owner.addCleanup(self.stop)
        self.start()

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.lab.prefix(self.router) +
                                         ["miniupnpd", "-f", self.conf, "-d", "-P",
                                          os.path.join(self.dir, "miniupnpd.pid")],
                                         stdout=log, stderr=log, start_new_session=True)
        _live_procs.append(self.proc)
        time.sleep(0.5)     # its listening sockets; the clients retry discovery anyway

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc in _live_procs:
            _live_procs.remove(self.proc)

    def flush(self):
        for table, chain in ROUTER_CHAINS:
            self.lab.run(self.router, "nft", "flush", "chain", "inet", table, chain)

    def flush_conntrack(self):
        self.lab.run(self.router, "conntrack", "-F")

    def reboot(self, conntrack=False):
        self.stop()
        self.flush()
        if conntrack:
            self.flush_conntrack()
        self.start()

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()


def nat_router(lab, owner, router, lan_if, lan_cidr, wan_if, upnp=True, natpmp=True):
    """Makes `router` a NAT router (nftables masquerade on wan_if) running Debian's miniupnpd
    with UPnP and/or NAT-PMP, in the chains miniupnpd's nftables backend expects
    (prerouting_miniupnpd, postrouting_miniupnpd; miniupnpd in inet filter). Returns the
    Miniupnpd; it is killed at cleanup. With upnp and natpmp both False, no miniupnpd runs
    (and None is returned)."""
    lab.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    lab.nft(router, """
table inet nat {
  chain prerouting { type nat hook prerouting priority -100; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; jump postrouting_miniupnpd;
                      oifname "%s" masquerade; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
table inet filter {
  chain forward { type filter hook forward priority 0; policy drop;
                  ct state established,related accept; iifname "%s" accept; jump miniupnpd; }
  chain miniupnpd { }
}
""" % (wan_if, lan_if))
    if not (upnp or natpmp):
        return None
    return Miniupnpd(lab, owner, router, lan_if, lan_cidr, wan_if, upnp, natpmp)


# The two-site lab: offices in the US and the UK, each a LAN behind its own NAT router, the
# routers joined by a WAN. 11.22.33.0/24 is ordinary unicast (miniupnpd refuses to map on a
# private WAN address) that exists only inside the lab's namespaces.
US_LAN, US_GW, US_CLIENT, US_WAN = "192.168.10.0/24", "192.168.10.1", "192.168.10.2", "11.22.33.10"
UK_LAN, UK_GW, UK_SERVER, UK_WAN = "192.168.20.0/24", "192.168.20.1", "192.168.20.2", "11.22.33.20"


class TwoSites:
    """    us-cli 192.168.10.2 -- us-rtr 192.168.10.1 | 11.22.33.10 ==WAN==
           11.22.33.20 | 192.168.20.1 uk-rtr -- uk-srv 192.168.20.2

    us / uk: what each router's miniupnpd offers: "upnp", "natpmp", "both" or "none".
    firewall: "nft" (nftables rules and miniupnpd) or "iptables" (iptables rules only).
    us_clients: US hosts, us-cli, us-cli2, ... at .2, .3, ... on a bridge in the router."""

    def __init__(self, owner, us="upnp", uk="natpmp", us_clients=1, firewall="nft"):
        self.hosts = ["us-cli"] + ["us-cli%d" % i for i in range(2, us_clients + 1)]
        lab = self.lab = NetLab(owner, self.hosts + ["us-rtr", "uk-rtr", "uk-srv"])
        lab.run("us-rtr", "ip", "link", "add", "lan0", "type", "bridge")
        lab.run("us-rtr", "ip", "link", "set", "lan0", "up")
        self.client_addr = {}
        for i, host in enumerate(self.hosts):
            addr = "192.168.10.%d" % (2 + i)
            lab.link(host, "eth0", "us-rtr", "to-%d" % i)
            lab.run("us-rtr", "ip", "link", "set", "to-%d" % i, "master", "lan0")
            lab.addr(host, "eth0", addr + "/24")
            lab.route(host, "default", US_GW)
            self.client_addr[host] = addr
        lab.addr("us-rtr", "lan0", US_GW + "/24")
        lab.link("us-rtr", "wan0", "uk-rtr", "wan0")
        lab.addr("us-rtr", "wan0", US_WAN + "/24")
        lab.addr("uk-rtr", "wan0", UK_WAN + "/24")
        lab.link("uk-srv", "eth0", "uk-rtr", "lan0")
        lab.addr("uk-srv", "eth0", UK_SERVER + "/24")
        lab.addr("uk-rtr", "lan0", UK_GW + "/24")
        lab.route("uk-srv", "default", UK_GW)
        if firewall == "iptables":
            # The routers' base rules in iptables instead (no miniupnpd: its backend here is
            # nftables): masquerade out of wan0, forward only what the LAN opened.
            for router in ("us-rtr", "uk-rtr"):
                lab.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
                for rule in ("-t nat -A POSTROUTING -o wan0 -j MASQUERADE", "-P FORWARD DROP",
                             "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                             "-A FORWARD -i lan0 -j ACCEPT"):
                    lab.run(router, "iptables", *rule.split())
            self.us_router = self.uk_router = None
            return
        self.us_router = nat_router(lab, owner, "us-rtr", "lan0", US_LAN, "wan0",
                                    upnp=us in ("upnp", "both"), natpmp=us in ("natpmp", "both"))
        self.uk_router = nat_router(lab, owner, "uk-rtr", "lan0", UK_LAN, "wan0",
                                    upnp=uk in ("upnp", "both"), natpmp=uk in ("natpmp", "both"))

    def ruleset(self, router):
        return self.lab.run(router, "nft", "list", "ruleset")

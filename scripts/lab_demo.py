#!/usr/bin/env python3
"""The two-site lab demonstration (run it through scripts/lab-demo, which builds first)."""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import ncfxtest as nt  # noqa: E402


class Owner:
    """What the lab helpers expect of their owner: somewhere to register cleanups."""

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def doCleanups(self):
        while self.cleanups:
            fn, args = self.cleanups.pop()
            try:
                fn(*args)
            except Exception as e:         # tear down the rest regardless
                print("cleanup: %s" % e, file=sys.stderr)


def step(text):
    print("\n\033[1m==> %s\033[0m" % text, flush=True)


class Follow:
    """Prints a watcher's JSON lines as a person would want to read them."""

    def __init__(self, w):
        self.w, self.seen = w, 0

    def show(self):
        with self.w._lock:
            new = self.w.lines[self.seen:]
            self.seen = len(self.w.lines)
        for o in new:
            t = o.get("type")
            if t == "notification":
                print("   [US client] NOTIFICATION #%s: %s" % (o["seq"], o["text"]))
            elif t == "path":
                print("   [US client] notification path: %s (%s)" % (o["path"], o["reason"]))
            elif t == "status":
                print("   [US client] %s" % o["message"])

    def until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.show()
            if pred(self.w):
                return
            time.sleep(0.2)
        self.show()
        raise SystemExit("lab-demo: %s did not happen within %d s" % (what, timeout))


def server_lines(srv, needle, offset):
    for line in srv.log_since(offset).splitlines():
        if needle in line:
            print("   [UK server] " + line.split(": ", 1)[-1])


def main():
    if os.geteuid() != 0:
        raise SystemExit("lab-demo: network namespaces need root")
    owner = Owner()
    try:
        run(owner)
    finally:
        step("Tearing the lab down (namespaces, routers, processes)")
        owner.doCleanups()


def run(owner):
    step("Building the lab: US office 192.168.10.0/24 behind us-rtr (UPnP IGD), UK office "
         "192.168.20.0/24 behind uk-rtr (NAT-PMP), the routers' WAN 11.22.33.0/24")
    sites = nt.TwoSites(owner, us="upnp", uk="natpmp")
    print("   us-cli %s -> us-rtr %s | WAN %s   ===   WAN %s | uk-rtr %s <- uk-srv %s"
          % (nt.US_CLIENT, nt.US_GW, nt.US_WAN, nt.UK_WAN, nt.UK_GW, nt.UK_SERVER))

    step("UK: netcfaxd with portmap = natpmp asks its router to forward the PCP")
    srv = nt.Server(owner, prefix=sites.lab.prefix("uk-srv"), extra={
        "listen": "0.0.0.0", "portmap": "natpmp", "notify_poll": 100,
        "direct_retry_min": 5, "direct_retry_max": 10})
    if srv.wait_log(lambda x: "port mapping: the router (" in x, timeout=30) is None:
        raise SystemExit("lab-demo: the UK server got no mapping:\n" + srv.log_text())
    server_lines(srv, "port mapping", 0)
    for line in sites.ruleset("uk-rtr").splitlines():
        if "dnat" in line:
            print("   [uk-rtr nft] " + line.strip())
    srv.add_user("alice", "alice-lab-pw")

    step("US: alice runs 'netcfax watch' (portmap = upnp) against %s port %d"
         % (nt.UK_WAN, srv.port))
    alice = nt.Client(srv, "alice", "alice-lab-pw", owner=owner,
                      prefix=sites.lab.prefix("us-cli"), host=nt.UK_WAN)
    alice.portmap = "upnp"
    os.makedirs(alice.config_dir, exist_ok=True)
    with open(os.path.join(alice.config_dir, "client.conf"), "w") as f:
        f.write("heartbeat = 5\n")
    w = nt.Watcher(alice, owner=owner, global_opts=("--scp", "auto"))
    f = Follow(w)
    f.until(lambda x: any(p["path"] == "direct" for p in x.of_type("path")), 60,
            "the direct path")
    for line in sites.ruleset("us-rtr").splitlines():
        if "dnat" in line:
            print("   [us-rtr nft] " + line.strip())

    step("UK: three notifications for alice")
    for i in range(1, 4):
        srv.admin("notify", "alice", "fax %d to alice delivered (through the router mappings)"
                  % i)
    f.until(lambda x: len(x.notifications()) >= 3, 30, "three notifications")

    step("US: the router's mapping service is turned off (miniupnpd stopped, its rules "
         "flushed); alice's client starts again")
    w.stop()
    f.show()
    sites.us_router.stop()
    sites.us_router.flush()
    w2 = nt.Watcher(alice, owner=owner, global_opts=("--scp", "auto"))
    f2 = Follow(w2)
    f2.until(lambda x: any(p["path"] == "relay" for p in x.of_type("path")), 60,
             "the relay")

    step("UK: three more notifications for alice")
    for i in range(4, 7):
        srv.admin("notify", "alice", "fax %d to alice delivered (over the relay)" % i)
    f2.until(lambda x: len(x.notifications()) >= 3, 30, "three notifications over the relay")
    w2.stop()
    f2.show()

    step("US: netcfax-portcheck says what is wrong and which rule fixes it")
    argv = sites.lab.prefix("us-cli") + [
        nt.NETCFAX_PORTCHECK, "-S", nt.UK_WAN, "-P", str(srv.port), "-u", "alice",
        "--portmap", "off", "--scp-mode", "fixed", "--scp-port", "7485"]
    rc, out, err = nt.run_cmd(argv, env=alice.env(), timeout=90)
    print("\n".join("   " + line for line in out.splitlines()))
    rc, js, err = nt.run_cmd(argv + ["--json"], env=alice.env(), timeout=90)
    import json
    rules = json.loads(js)["fix"]["nftables"]

    step("US: the operator adds the printed nftables rules to the US router, and checks again")
    for rule in rules:
        print("   [us-rtr] $ " + rule)
        sites.lab.run("us-rtr", *rule.split())
    rc, out, err = nt.run_cmd(argv, env=alice.env(), timeout=90)
    print("\n".join("   " + line for line in out.splitlines()
                    if "direct" in line or "Verdict" in line))

    step("Done: direct through UPnP and NAT-PMP mappings, relayed when no mapping could be "
         "had, and direct again through the rule netcfax-portcheck printed")


if __name__ == "__main__":
    main()

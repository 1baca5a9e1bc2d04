#!/usr/bin/env python3
"""The SIP trunk demonstration (run it through scripts/sip-demo, which builds first): the
carrier lab of the integration tests (siplab.CarrierLab), shown to a person."""
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
import ncfxtest as nt  # noqa: E402
import siplab  # noqa: E402
from lab_demo import Owner, step  # noqa: E402
from test_fax import make_pdf  # noqa: E402
from test_sip_trunk import digits, fax_received  # noqa: E402
from test_sip_trunk_nat import (ACCOUNTS, DIDS, OFFICE_SETUPS, UK_BOB,  # noqa: E402
                                office_server)

WAIT = 180      # seconds that bound the wait for the fax (it takes about 25 s)


def say(text):
    """A line of explanation under a heading."""
    print("   " + text, flush=True)


def show(tag, text):
    for line in text.splitlines():
        if line.strip():
            print("   [%s] %s" % (tag, line.rstrip()), flush=True)


def server_lines(srv, tag, needles, offset=0):
    for line in srv.log_since(offset).splitlines():
        if any(n in line for n in needles):
            show(tag, line.split(": ", 1)[-1])


def carrier_line(r):
    """One request the carrier logged, as a person reads it."""
    text = "%-8s from %-10s to %-13s came from %s" % (r["method"], r.get("user", "?"),
                                                      r.get("did", "?"), r.get("src", "?"))
    if r["method"] in ("REGISTER", "INVITE"):
        text += ("  (no credentials yet: challenged)" if r.get("auth") in (None, "<null>")
                 else "  (digest credentials of %s)" % r["auth"])
    return text


def router_mappings(lab, office):
    """What the office's router forwards, and where each rule came from."""
    rtr = lab.router(office)
    mapped = lab.lab.run(rtr, "nft", "list", "chain", "inet", "nat", "prerouting_miniupnpd")
    rules = [line.strip() for line in mapped.splitlines() if "dnat" in line]
    for rule in rules:
        show(rtr + " miniupnpd", rule)
    # every chain but miniupnpd's: the rules an administrator wrote
    ruleset = lab.lab.run(rtr, "nft", "list", "ruleset")
    chain, by_hand = None, []
    for line in ruleset.splitlines():
        m = re.match(r"\s*chain (\S+) \{", line)
        if m:
            chain = m.group(1)
        elif "dnat" in line and "miniupnpd" not in chain:
            by_hand.append(line.strip())
    show(rtr, "port forwards written by hand: %s" % (", ".join(by_hand) or "none"))
    if not rules or by_hand:
        raise SystemExit("sip-demo: the %s router's mappings are not as expected:\n%s"
                         % (office, ruleset))


def main():
    if os.geteuid() != 0:
        raise SystemExit("sip-demo: network namespaces need root")
    # a SIGTERM (or a Ctrl-C) unwinds through the cleanups like an error does
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    owner = Owner()
    started = time.monotonic()
    try:
        run(owner)
    except KeyboardInterrupt:
        print("\nsip-demo: interrupted", file=sys.stderr)
        raise SystemExit(130)
    except AssertionError as e:         # a lab helper's wait that failed, with what it saw
        print("sip-demo: %s" % e, file=sys.stderr)
        raise SystemExit(1)
    finally:
        # a second Ctrl-C must not leave namespaces behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        step("Tearing the lab down (namespaces, routers, carrier, servers)")
        owner.doCleanups()
        say("done in %.0f s" % (time.monotonic() - started))


def run(owner):
    siplab.check_tools()
    step("What this shows")
    say("A SIP trunk is an office's telephone line over the internet: the office's fax server")
    say("signs in to a carrier (REGISTER, with a password) and the carrier sends it every call")
    say("for the office's numbers (its DIDs), and places the calls it makes. Here a US office")
    say("and a UK office each have a netcfaxd behind a NAT router, and Debian's kamailio plays")
    say("the carrier between them. Alice (US) faxes Bob (UK) by his UK number.")

    step("Building the lab in network namespaces: two offices behind NAT routers, the carrier "
         "on the WAN")
    lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS)
    for office in ("us", "uk"):
        o = siplab.OFFICES[office]
        say("%s office: %s-host %s  ->  %s-rtr %s | WAN %s" % (office.upper(), office,
                                                            o["host"], office, o["gw"], o["wan"]))
    say("carrier: kamailio at %s port 5060 (accounts %s; DIDs %s)"
        % (siplab.CARRIER_ADDR, ", ".join(sorted(ACCOUNTS)),
           ", ".join("+%s -> %s" % kv for kv in sorted(DIDS.items()))))
    say("Each router masquerades its office (NAT) and forwards nothing from the WAN: no port")
    say("forward. It runs miniupnpd, so a program in the office may ask it for a mapping.")

    step("Starting both servers: each maps its SIP and RTP ports and REGISTERs with the carrier")
    say("netcfaxd asks its router (UPnP in the US, NAT-PMP in the UK) to forward its SIP port")
    say("and registers the router's address and that port as its contact, so calls come in")
    say("through the mapping even when the NAT binding its REGISTER made is gone. The fax")
    say("audio (RTP) needs ports of its own: mapped the same way, the router's address in the")
    say("offers.")
    srv = {}
    for office in ("us", "uk"):
        account, codecs, portmap, numbers, station = OFFICE_SETUPS[office]
        srv[office] = office_server(owner, lab, office)
        say("%s: netcfaxd, trunk account %s, numbers %s, codecs %s, portmap = %s"
            % (office.upper(), account, numbers, codecs, portmap))
        server_lines(srv[office], office + " netcfaxd", ("trunk ",))

    step("The carrier's view of the sign-ins (kamailio's log, its location table)")
    for r in lab.kam.requests("REGISTER"):
        show("carrier", carrier_line(r))
    for account in sorted(ACCOUNTS):
        for b in lab.kam.bindings(account):
            received = b.get("received", "[not set]")
            if received == "[not set]":     # a public Contact: the router's mapped SIP port
                show("carrier", "%s is reached at its Contact, %s"
                     % (account, b.get("address", "?")))
            else:
                show("carrier", "%s is reached at %s (its Contact said %s)"
                     % (account, received, b.get("address", "?")))

    step("Each router's mappings: asked for by netcfaxd, none written by hand")
    for office in ("us", "uk"):
        router_mappings(lab, office)

    srv["us"].add_user("alice", "alice-pw-secret")
    srv["uk"].add_user("bob", "bob-pw-secret")
    alice = nt.Client(srv["us"], "alice", "alice-pw-secret", owner=owner,
                      prefix=lab.prefix("us"), host=lab.host_addr("us"))
    bob = nt.Client(srv["uk"], "bob", "bob-pw-secret", owner=owner,
                    prefix=lab.prefix("uk"), host=lab.host_addr("uk"))

    step("UK: bob runs 'netcfax watch' to be told when a fax arrives")
    bobw = nt.Watcher(bob, owner=owner)
    bobw.wait_status("logged in", timeout=60)
    say("bob's watcher is logged in to the UK server")

    step("US: alice makes a 3-page PDF (ghostscript) and faxes it to bob's number %s"
         % UK_BOB)
    pdf = make_pdf(alice.home, "letter.pdf", ["Dear Bob,", "the figures you asked for",
                                              "regards, Alice"])
    say("$ netcfax send letter.pdf --to '%s' --wait" % UK_BOB)
    say("(US netcfaxd -> its router -> INVITE to the carrier -> UK router -> UK netcfaxd;")
    say(" the fax audio then goes straight between the two routers' mapped ports)")
    mark = lab.kam.mark()
    t0 = time.monotonic()
    p = subprocess.run(alice.argv(["send", pdf, "--to", UK_BOB, "--wait"]), env=alice.env(),
                       stdin=subprocess.DEVNULL, timeout=WAIT + 120)
    sent_in = time.monotonic() - t0
    if p.returncode == 130:             # Ctrl-C reached netcfax too
        raise KeyboardInterrupt
    if p.returncode != 0:
        raise SystemExit("sip-demo: netcfax send exited %d:\n%s" % (p.returncode,
                                                                   srv["us"].log_text()[-3000:]))
    say("sent in %.1f s" % sent_in)

    step("UK: bob's watcher shows the fax_received notification, then his inbox")
    bobw.wait_for(lambda w: fax_received(w), timeout=WAIT, what="fax_received")
    for n in bobw.notifications():
        show("bob's watcher", "%s: %s" % (n["event"], n.get("text", "")))
    got = fax_received(bobw)[0]["fax"]
    rc, data, err = bob.run("inbox", json=True)
    if rc != 0 or not [f for f in data["faxes"] if f["id"] == got and f["pages"] == 3 and
                       f["from"] == "US office"]:
        raise SystemExit("sip-demo: bob's inbox has no 3-page fax from the US office: %r %s"
                         % (data, err))
    rc, out, err = bob.run("inbox")
    say("$ netcfax inbox")
    show("bob", out)

    step("The carrier's view of the call (kamailio's log)")
    say("The INVITE is challenged (407) and sent again with the US account's credentials;")
    say("the carrier looks the number up (a DID of uk-office) and sends it to the contact the")
    say("UK office registered: the UK router's public address and mapped SIP port. The BYE")
    say("ends the call.")
    route = [r for r in lab.kam.lines("ROUTE", mark) if r.get("did") == digits(UK_BOB)]
    if not route or lab.public_addr("uk") not in route[0].get("ruri", "") + \
            route[0].get("dst", ""):
        raise SystemExit("sip-demo: the carrier did not route the call to the UK router:\n"
                         + lab.kam.text(mark)[-3000:])
    callid = route[0]["callid"]
    lab.kam.wait_requests("BYE", None, 1, since=mark)    # the call's end, logged by now
    for r in lab.kam.lines("REQ", mark):
        if r.get("callid") != callid:
            continue
        show("carrier", carrier_line(r))
        if r["method"] == "INVITE" and r.get("auth") not in (None, "<null>"):
            dst = route[0].get("dst")
            show("carrier", "ROUTE    DID +%s belongs to %s: sent to %s"
                 % (route[0]["did"], route[0]["account"],
                    dst if dst not in (None, "<null>") else route[0]["ruri"]))

    step("Done: a fax from the US to the UK over a SIP trunk, through two NAT routers that "
         "nobody configured")
    say("the call: %.1f s from 'netcfax send' to its end" % sent_in)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The SIP trunk line across the carrier lab (siplab.CarrierLab): Debian's kamailio as the
provider on a WAN between two offices, each office's netcfaxd behind an nftables NAT router
with no port forward (Debian's miniupnpd on it, as on an office router). Each server registers
through its NAT (rport, keepalives) and maps one RTP port per channel on its router with
portmap (the US by UPnP IGD, the UK by NAT-PMP), so that its SDP gives the router's external
address: the US faxes a 3-page PDF to a UK user's DID and the UK faxes back, each pixel-exact
in the recipient's inbox, one call in mu-law and one in A-law, and two calls at once."""
import os
import re
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab  # noqa: E402
from test_fax import GS_TIFF, make_pdf, stream  # noqa: E402
from test_sip_trunk import digits, fax_received, wait_registered, wait_text  # noqa: E402

ACCOUNTS = {"us-office": "us-Trunk.pw7", "uk-office": "uk-Trunk.pw9"}
US_ALICE = "+1 212 555 0147"
UK_BOB = "+44 20 7946 0123"
UK_CAROL = "+44 20 7946 0124"
DIDS = {digits(US_ALICE): "us-office", digits(UK_BOB): "uk-office",
        digits(UK_CAROL): "uk-office"}


class ClassOwner:
    """Lets the lab's cleanups run once the class is done (one lab for every test)."""

    def __init__(self, cls):
        self.addCleanup = cls.addClassCleanup


def trunk_file(owner, lab, office, account, codecs, portmap, channels=2, trunk_extra=None):
    d = nt.make_temp_dir(owner, prefix="ncfx-trunk-")
    pw = os.path.join(d, "trunk.secret")
    with open(pw, "w") as f:
        f.write(ACCOUNTS[account] + "\n")
    os.chmod(pw, 0o600)
    path = os.path.join(d, account + ".conf")
    # a key given twice is refused: rtp_ports in trunk_extra replaces the default range (a
    # trunk with many channels and T.38 maps two even ports per channel), portmap the office's
    extra = dict(trunk_extra or {})
    rtp_ports = extra.pop("rtp_ports", "20000-20099")
    portmap = extra.pop("portmap", portmap)
    with open(path, "w") as f:
        f.write("registrar = %s\nuser = %s\ndomain = %s\npassword_file = %s\n"
                "listen = %s\nport = 5060\nrtp_ports = %s\nchannels = %d\n"
                "codecs = %s\ninternational = digits\nexpires = 120\nportmap = %s\n"
                % (lab.registrar, account, siplab.DOMAIN, pw, lab.host_addr(office), rtp_ports,
                   channels, codecs, portmap))
        for k, v in extra.items():
            f.write("%s = %s\n" % (k, v))
    return path


# Each office: its carrier account, its codecs in order of preference, how its server maps
# ports on its router, its numbers (fax_numbers) and its station id.
OFFICE_SETUPS = {
    "us": ("us-office", "PCMU, PCMA", "upnp", "%s alice" % US_ALICE, "US office"),
    "uk": ("uk-office", "PCMA, PCMU", "natpmp", "%s bob, %s carol" % (UK_BOB, UK_CAROL),
           "UK office"),
}


def office_server(owner, lab, office, channels=2, extra=None, trunk_extra=None):
    """The office's netcfaxd on its host with its trunk to the lab's carrier (OFFICE_SETUPS),
    once it has registered and has one RTP port per channel mapped on the office's router.
    extra: more configuration keys; trunk_extra: more trunk file keys."""
    account, codecs, portmap, numbers, station = OFFICE_SETUPS[office]
    conf = trunk_file(owner, lab, office, account, codecs, portmap, channels, trunk_extra)
    keys = {"listen": lab.host_addr(office), "fax_numbers": numbers,
            "fax_station_id": station, "sip_trunks": conf, "retry_failed": 5}
    keys.update(extra or {})
    srv = nt.Server(owner, prefix=lab.prefix(office), extra=keys)
    wait_registered(owner, srv, account)
    mapped = r"forwards UDP %s port \d+ to RTP port" % re.escape(lab.public_addr(office))
    wait_text(srv, lambda t: len(re.findall(mapped, t)) >= channels, 0,
              "%d RTP ports mapped on the %s router" % (channels, office))
    return srv


USERS = {"us": ("alice",), "uk": ("bob", "carol")}


def start_offices(owner, lab, channels=2, extra=None, trunk_extra=None):
    """Both offices' servers (office_server), with alice in the US and bob and carol in the
    UK. channels: for both, or {office: channels}. extra: more configuration keys for both;
    trunk_extra: more trunk file keys for both. Returns {"us": Server, "uk": Server}."""
    per = channels if isinstance(channels, dict) else {"us": channels, "uk": channels}
    srvs = {office: office_server(owner, lab, office, per[office], extra, trunk_extra)
            for office in OFFICE_SETUPS}
    for office, users in USERS.items():
        for user in users:
            srvs[office].add_user(user, user + "-pw-secret")
    return srvs


def sip_mapping(srv, lab, office):
    """The external port the office router forwards to the server's SIP port (portmap), once
    the server says it registered it as its contact."""
    m = re.search(r"forwards UDP %s port (\d+) to SIP port 5060: the contact registered is "
                  % re.escape(lab.public_addr(office)),
                  wait_text(srv, lambda t: "to SIP port 5060: the contact" in t, 0,
                            "the SIP port mapped on the %s router" % office))
    return int(m.group(1))


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class TrunkThroughNat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        owner = ClassOwner(cls)
        cls.lab = lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS)
        cls.kam = lab.kam
        # keepalives far apart: the SIP port's mapping, not a NAT binding, brings calls in
        cls.srv = start_offices(owner, lab, trunk_extra={"keepalive": 600})

    def client(self, office, user):
        return nt.Client(self.srv[office], user, user + "-pw-secret", owner=self,
                         prefix=self.lab.prefix(office), host=self.lab.host_addr(office))

    def send(self, client, path, dest, wait=True):
        args = ["send", path, "--to", dest] + (["--wait"] if wait else [])
        rc, out, err = client.run(*args, global_opts=("--json",), timeout=300)
        self.assertEqual(rc, 0, client.describe())
        lines = stream(out)
        job = [o for o in lines if "job" in o and isinstance(o["job"], dict)][0]["job"]
        return job, [o for o in lines if o.get("type") == "notification" and
                     o.get("job") == job["id"]]

    def inbox_fax(self, client, watcher, seen):
        """The inbox entry of the first fax_received the watcher shows beyond those in seen
        (the ids of faxes already there)."""
        new = lambda w: [n for n in fax_received(w) if n["fax"] not in seen]  # noqa: E731
        watcher.wait_for(lambda w: new(w), timeout=120, what="fax_received")
        rc, data, err = client.run("inbox", json=True)
        self.assertEqual(rc, 0, client.describe())
        return [f for f in data["faxes"] if f["id"] == new(watcher)[0]["fax"]][0]

    def received_whole(self, client, watcher, seen, pdf, pages, sender):
        """The fax of pdf, sent by sender, in client's inbox beyond the faxes in seen: one
        entry, or (when a call broke off and the retry took up after the confirmed pages)
        runs of consecutive pages in order, where a run that ended early may end with the
        page the next begins with (received whole, its confirmation lost); every page
        pixel-exact. The entries."""
        deadline = time.monotonic() + 120
        while True:
            rc, data, err = client.run("inbox", json=True)
            self.assertEqual(rc, 0, client.describe())
            new = sorted((f for f in data["faxes"] if f["id"] not in seen and
                          f["from"] == sender), key=lambda f: f["id"])
            if sum(f["pages"] for f in new) >= pages:
                break
            self.assertLess(time.monotonic(), deadline, new)
            time.sleep(0.5)
        watcher.wait_for(lambda w: {f["id"] for f in new} <= {n["fax"] for n in
                                                              fax_received(w)},
                         timeout=60, what="fax_received for each fax filed")
        expect = os.path.join(client.home, "expect-%s.tif" % os.path.basename(pdf))
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        got, broke = [], False
        for f in new:
            tif = os.path.join(client.home, "got-%d.tif" % f["id"])
            rc, out, err = client.run("fetch", str(f["id"]), "-o", tif)
            self.assertEqual(rc, 0, client.describe())
            pages_f = nt.tiff_bitmaps(tif, client.home)
            # a call that broke just after a page came whole, its confirmation lost on the
            # way, is filed with that page, and the retry sends the page again (the sender
            # counts only confirmed pages): once in the document
            if broke and got and pages_f and pages_f[0] == got[-1]:
                pages_f = pages_f[1:]
            got += pages_f
            broke = "ended early" in f.get("note", "")
        sent = nt.tiff_bitmaps(expect, client.home)
        self.assertEqual(len(got), len(sent), new)
        for i, (a, b) in enumerate(zip(sent, got)):
            self.assertEqual(a, b, "page %d differs from what was sent" % (i + 1))
        return new

    def fax_ids(self, client):
        rc, data, err = client.run("inbox", json=True)
        self.assertEqual(rc, 0, client.describe())
        return {f["id"] for f in data["faxes"]}

    def test_us_to_uk_and_back_through_both_nats(self):
        alice, bob = self.client("us", "alice"), self.client("uk", "bob")
        bobw = nt.Watcher(bob, owner=self, prefix=self.lab.prefix("uk"))
        bobw.wait_status("logged in")
        seen = self.fax_ids(bob)
        mark = self.kam.mark()
        us_log = self.srv["us"].log_size()
        pdf = make_pdf(alice.home, "three.pdf", ["first page", "second page", "third"])
        job, notes = self.send(alice, pdf, UK_BOB)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        self.received_whole(bob, bobw, seen, pdf, 3, "US office")
        self.assertIn("answered, G.711 PCMU", self.srv["us"].log_since(us_log))
        # the carrier routed the UK DID to the UK router's public address (the NAT binding
        # the UK's REGISTER made), and both SDPs gave routers' external addresses: no
        # private address crossed the WAN
        routes = [r for r in self.kam.lines("ROUTE", mark) if r.get("did") == digits(UK_BOB)]
        self.assertTrue(routes, self.kam.text(mark)[-3000:])
        self.assertIn(self.lab.public_addr("uk"), routes[0].get("ruri", "") +
                      routes[0].get("dst", ""))

        # and back, in A-law
        alicew = nt.Watcher(alice, owner=self, prefix=self.lab.prefix("us"))
        alicew.wait_status("logged in")
        seen = self.fax_ids(alice)
        uk_log = self.srv["uk"].log_size()
        pdf2 = make_pdf(bob.home, "two.pdf", ["reply one", "reply two"])
        job, notes = self.send(bob, pdf2, US_ALICE)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        self.received_whole(alice, alicew, seen, pdf2, 2, "UK office")
        self.assertIn("answered, G.711 PCMA", self.srv["uk"].log_since(uk_log))

    def test_sip_port_mapped_calls_come_in_without_a_nat_binding(self):
        ext = {}
        for office in OFFICE_SETUPS:            # the US router by UPnP, the UK's by NAT-PMP
            ext[office] = sip_mapping(self.srv[office], self.lab, office)
            self.assertRegex(self.lab.lab.run(self.lab.router(office), "nft", "list", "ruleset"),
                             r"@nh,72,8 0x11 th dport %d dnat ip to %s:5060\b"  # UDP
                             % (ext[office], re.escape(self.lab.host_addr(office))))
            # the carrier holds the router's external address and mapped port as the contact
            want = "%s:%d" % (self.lab.public_addr(office), ext[office])
            account = OFFICE_SETUPS[office][0]
            deadline = time.monotonic() + 60
            while not [b for b in self.kam.bindings(account) if want in b["address"]]:
                self.assertLess(time.monotonic(), deadline, self.kam.bindings(account))
                time.sleep(0.5)
            [b] = self.kam.bindings(account)
            self.assertEqual(b.get("received", "[not set]"), "[not set]", b)

        # The UK router forgets every binding (its keepalives are 10 minutes apart): a call
        # from the US still comes in, through the mapping, and the fax arrives.
        self.lab.lab.run(self.lab.router("uk"), "conntrack", "-F")
        self.assertIsNone(self.lab.nat_binding("uk", 5060))
        alice, bob = self.client("us", "alice"), self.client("uk", "bob")
        bobw = nt.Watcher(bob, owner=self, prefix=self.lab.prefix("uk"))
        bobw.wait_status("logged in")
        seen = self.fax_ids(bob)
        mark = self.kam.mark()
        tif = os.path.join(alice.home, "one.tif")
        nt.make_tiff(tif, pages=1, seed=7)
        job, notes = self.send(alice, tif, UK_BOB)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        self.assertEqual(self.inbox_fax(bob, bobw, seen)["pages"], 1)
        routes = [r for r in self.kam.lines("ROUTE", mark) if r.get("did") == digits(UK_BOB)]
        self.assertTrue(routes, self.kam.text(mark)[-3000:])
        self.assertIn("%s:%d" % (self.lab.public_addr("uk"), ext["uk"]),
                      routes[0].get("ruri", "") + routes[0].get("dst", ""))

        # netcfaxd stopping takes its SIP mapping off the router; a new one makes it again
        uk = self.srv["uk"]
        uk.stop()
        self.assertNotRegex(self.lab.lab.run(self.lab.router("uk"), "nft", "list", "ruleset"),
                            r"dnat ip to %s:5060\b" % re.escape(self.lab.host_addr("uk")))
        self.srv["uk"] = office_server(ClassOwner(type(self)), self.lab, "uk",
                                       trunk_extra={"keepalive": 600})
        for user in USERS["uk"]:
            self.srv["uk"].add_user(user, user + "-pw-secret")
        sip_mapping(self.srv["uk"], self.lab, "uk")

    def test_sip_port_mapping_lost_then_registered_again(self):
        # The US router restarts with no mappings: netcfaxd finds its SIP port no longer
        # forwarded (a check every 30 s at most), takes its contact back to the address the
        # carrier sees (registered unless the mapping is back first), maps the port again
        # and registers the mapped port again, the only contact the carrier then holds.
        us = self.srv["us"]
        ext = sip_mapping(us, self.lab, "us")
        mark = us.log_size()
        self.lab.upnpd["us"].reboot()
        text = wait_text(us, lambda t: re.search(r"forwards UDP %s port \d+ to SIP port 5060"
                                                 % re.escape(self.lab.public_addr("us")), t),
                         mark, "the SIP port mapped again")
        self.assertIn("SIP port 5060 (UDP) is not mapped on the router: ", text)
        again = int(re.search(r"forwards UDP \S+ port (\d+) to SIP port", text).group(1))
        want = "%s:%d" % (self.lab.public_addr("us"), again)
        wait_text(us, lambda t: "registered with %s as sip:us-office@%s" % (
            self.lab.registrar, want) in t, mark, "the mapped contact registered again")
        deadline = time.monotonic() + 30
        while [want in b["address"] for b in self.kam.bindings("us-office")] != [True]:
            self.assertLess(time.monotonic(), deadline, self.kam.bindings("us-office"))
            time.sleep(0.5)
        self.assertEqual(again, ext)      # the same port asked for first, and free again
        # the RTP ports are mapped again too before the next test calls
        rtp = r"forwards UDP %s port \d+ to RTP port" % re.escape(self.lab.public_addr("us"))
        wait_text(us, lambda t: len(re.findall(rtp, t)) >= 2, mark, "the RTP ports mapped again")

    def test_two_calls_at_once_through_the_nats(self):
        alice = self.client("us", "alice")
        uk_log = self.srv["uk"].log_size()
        jobs = []
        for dest, seed in ((UK_BOB, 3), (UK_CAROL, 4)):
            tif = os.path.join(alice.home, "p%d.tif" % seed)
            nt.make_tiff(tif, pages=2, seed=seed)
            jobs.append(self.send(alice, tif, dest, wait=False)[0])
        text = wait_text(self.srv["uk"], lambda t: len(re.findall(r"fax=\d+: received on", t))
                         >= 2, uk_log, "two faxes filed")
        answered = [m.start() for m in re.finditer(r"answered the call from", text)]
        filed = [m.start() for m in re.finditer(r"fax=\d+: received on", text)]
        self.assertLess(answered[1], filed[0], text)
        for j in jobs:
            rc, data, err = alice.run("jobs", json=True)
            [end] = [x for x in data["jobs"] if x["id"] == j["id"]]
            self.assertIn(end["state"], ("active", "done"), end)


if __name__ == "__main__":
    nt.main()

#!/usr/bin/env python3
"""The carrier lab (siplab.CarrierLab): Debian's kamailio as a SIP trunk provider on a WAN
between two offices, each behind an nftables NAT router with no port forward, and the SIP user
agent (server/sip/sipua, driven by tests/tools/sipua_probe) in each office.

Each office registers through its router with digest authentication, and the carrier holds
the router's public address and the port the router chose; a call from one office to the
other's DID goes through the carrier (challenged with 407, routed by the DID to the contact the
called account registered, the DID kept in To), is answered with an SDP and hung up, both ways
(and by either end);
an unknown DID gets 404 and an account with no contact 480; and a binding held only by the
user agent's keepalives still takes a call after the router's UDP timeout has passed."""
import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab as sl  # noqa: E402

# The carrier's accounts and the DIDs it routes to each. uk-branch never registers; uk-spare
# (no DID) registers only as the idle test's control.
ACCOUNTS = {"us-office": "us-Trunk.pw7", "uk-office": "uk-Trunk.pw9",
            "uk-branch": "ukb-Trunk.pw3", "uk-spare": "uks-Trunk.pw5"}
US_DID, UK_DID, BRANCH_DID = "12125550147", "442079460123", "442079460999"
DIDS = {US_DID: "us-office", UK_DID: "uk-office", BRANCH_DID: "uk-branch"}
NOT_A_DID = "15550000000"
SIP_PORT = 5060           # each office's user agent listens here on its own host
NAT_UDP_TIMEOUT = 10      # the UK router's UDP timeout in the idle test

SDP = """v=0\r
o=- 1 1 IN IP4 %(addr)s\r
s=-\r
c=IN IP4 %(addr)s\r
t=0 0\r
m=audio %(port)d RTP/AVP 8 0\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:0 PCMU/8000\r
a=ptime:20\r
"""


class ClassOwner:
    """Lets the lab's cleanups run once the class is done (one lab for every test)."""

    def __init__(self, cls):
        self.addCleanup = cls.addClassCleanup


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class SipCarrier(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sl.check_tools()
        owner = ClassOwner(cls)
        cls.started = time.monotonic()
        cls.lab = sl.CarrierLab(owner, ACCOUNTS, DIDS)
        cls.kam = cls.lab.kam
        cls.pw = {user: sl.password_file(owner, pw) for user, pw in ACCOUNTS.items()}
        cls.sdp = {}
        d = nt.make_temp_dir(owner, prefix="ncfx-sdp-")
        for office in ("us", "uk"):
            cls.sdp[office] = os.path.join(d, office + ".sdp")
            with open(cls.sdp[office], "w", newline="") as f:
                f.write(SDP % {"addr": cls.lab.host_addr(office), "port": 41000})

    @classmethod
    def tearDownClass(cls):
        print("\ncarrier lab: %.1f s from its start to the last test's end"
              % (time.monotonic() - cls.started), file=sys.stderr)

    def office_probe(self, office, *extra, port=SIP_PORT, user=None):
        user = user or office + "-office"
        return self.lab.probe(self, office, user, self.pw[user], "--port", str(port), *extra)

    def registered(self, office, *extra, port=SIP_PORT):
        """A probe in the office, registered; the carrier's location table checked: the
        contact is reached at the router's public address and the port the router chose."""
        user = office + "-office"
        p = self.office_probe(office, *extra, port=port)
        p.wait_events("registered", 1)
        binding = self.lab.nat_binding(office, port)
        self.assertIsNotNone(binding, "no NAT binding for %s port %d" % (office, port))
        public = "%s:%d" % (self.lab.public_addr(office), binding[0])
        bindings = self.kam.bindings(user)
        self.assertEqual(len(bindings), 1, bindings)
        b = bindings[0]
        # where the carrier sends a call: the source address the REGISTER came from when
        # nathelper fixed a private contact (received), else the contact itself (natify
        # registered the address the carrier saw)
        reach = b["received"] if b.get("received", "[not set]") != "[not set]" else b["address"]
        self.assertEqual(re.sub(r"^sip:([^@;]*@)?", "", reach.split(";")[0]), public, b)
        self.assertNotIn(self.lab.host_addr(office), reach)
        return p, binding

    def stop(self, *probes):
        for p in probes:
            self.assertEqual(p.stop(), 0)
            self.assertIn("stopped", p.lines)

    def test_register_through_nat_with_digest(self):
        since = self.kam.mark()
        us, us_nat = self.registered("us")
        uk, uk_nat = self.registered("uk")
        for office, nat in (("us", us_nat), ("uk", uk_nat)):
            user = office + "-office"
            regs = self.kam.wait_requests("REGISTER", user, 2, since)
            # challenged (401), then answered; every REGISTER came from the router's public
            # address and the port it chose, with rport asked for
            self.assertEqual(regs[0]["auth"], "<null>")
            self.assertIn(user, [r["auth"] for r in regs])
            for r in regs:
                self.assertEqual(r["src"], "%s:%d" % (self.lab.public_addr(office), nat[0]))
                self.assertIn(";rport", r["via"])
        self.stop(us, uk)
        self.assertEqual(self.kam.contacts("us-office"), [])
        self.assertEqual(self.kam.contacts("uk-office"), [])

    def call(self, caller, callee, did, hangup):
        """caller's office calls the DID of callee's account; callee answers 200 with an SDP;
        hangup (caller or callee) hangs up once the call is answered (the callee once it has
        the ACK)."""
        since = self.kam.mark()
        bye = ["--hangup-on", "answered"]
        answering, answering_nat = self.registered(callee, "--answer", "200",
                                                   "--sdp-file", self.sdp[callee],
                                                   *(bye if hangup == callee else []))
        calling = self.office_probe(caller, "--call", did, "--sdp-file", self.sdp[caller],
                                    *(bye if hangup == caller else []))
        inc = answering.wait_events("call-incoming", 1)[0]
        self.assertEqual(inc["to"], did)
        self.assertEqual(inc["from"], caller + "-office")
        self.assertGreater(inc["sdp"], 0)
        ans = calling.wait_events("call-answered", 1)[0]
        self.assertEqual(ans["status"], 200)
        self.assertGreater(ans["sdp"], 0)           # the answer's SDP came through
        ended = {caller: calling.wait_events("call-ended", 1)[0],
                 callee: answering.wait_events("call-ended", 1)[0]}
        self.assertEqual(ended[callee]["call"], inc["call"])
        self.assertEqual(ended[caller]["call"], ans["call"])
        self.assertIn("we hung up (BYE)", ended[hangup]["reason"])
        other = callee if hangup == caller else caller
        self.assertIn("the far end hung up (BYE)", ended[other]["reason"])
        # what the carrier saw: the INVITE challenged (407) and answered by the caller's
        # account from its router, routed by the DID to the binding the callee's REGISTER
        # made; the BYE passed the carrier too (record_route), from whichever end hung up
        invites = self.kam.wait_requests("INVITE", caller + "-office", 2, since)
        caller_nat = self.lab.nat_binding(caller, SIP_PORT)
        for r in invites:
            self.assertEqual(r["did"], did)
            self.assertEqual(r["src"], "%s:%d" % (self.lab.public_addr(caller), caller_nat[0]))
        self.assertEqual(invites[0]["auth"], "<null>")
        authed = [r for r in invites if r["auth"] == caller + "-office"]
        self.assertTrue(authed, invites)
        routes = [r for r in self.kam.lines("ROUTE", since) if r["callid"] == authed[0]["callid"]]
        self.assertEqual(len(routes), 1, routes)
        self.assertEqual(routes[0]["did"], did)
        self.assertEqual(routes[0]["account"], callee + "-office")
        # to the callee's binding: the destination set from received, or the request URI
        # rewritten to the contact natify registered
        goes = routes[0]["dst"] if routes[0]["dst"] != "<null>" else routes[0]["ruri"]
        self.assertEqual(re.sub(r"^sip:([^@;]*@)?", "", goes.split(";")[0]),
                         "%s:%d" % (self.lab.public_addr(callee), answering_nat[0]), routes)
        byes = [r for r in self.kam.wait_requests("BYE", None, 1, since)
                if r["callid"] == authed[0]["callid"]]
        self.assertTrue(byes)
        self.assertEqual(byes[0]["src"].split(":")[0], self.lab.public_addr(hangup))
        self.stop(calling, answering)

    def test_call_us_to_uk(self):
        self.call("us", "uk", UK_DID, hangup="us")

    def test_call_uk_to_us_hung_up_by_us(self):
        # the BYE goes the other way: from the called office to the caller's, through the
        # carrier, into the caller's NAT binding
        self.call("uk", "us", US_DID, hangup="us")

    def refused(self, did, status):
        since = self.kam.mark()
        calling = self.office_probe("us", "--call", did, "--sdp-file", self.sdp["us"])
        failed = calling.wait_events("call-failed", 1)[0]
        self.assertEqual(failed["status"], status)
        self.assertEqual(calling.events("call-answered"), [])
        refusals = [r for r in self.kam.lines("REFUSE", since) if r["method"] == "INVITE"]
        # (a slow machine may see the INVITE retransmitted: refused again, the same way)
        self.assertEqual({r["status"] for r in refusals}, {str(status)}, refusals)
        self.assertEqual(refusals[0]["user"], "us-office")
        self.assertEqual(refusals[0]["did"], did)
        self.stop(calling)

    def test_unknown_did_404(self):
        self.refused(NOT_A_DID, 404)

    def test_did_of_unregistered_account_480(self):
        self.assertEqual(self.kam.contacts("uk-branch"), [])
        self.refused(BRANCH_DID, 480)

    def test_keepalives_hold_the_binding_past_the_nat_timeout(self):
        self.lab.set_udp_timeout(self, "uk", NAT_UDP_TIMEOUT)
        since = self.kam.mark()
        # the account's contact held by keepalives every 3 s, nothing else (an hour's
        # registration); beside it a control on another port, keepalives 10 minutes apart
        uk, nat = self.registered("uk", "--answer", "200", "--sdp-file", self.sdp["uk"],
                                  "--keepalive", "3", "--expires", "3600")
        control = self.lab.probe(self, "uk", "uk-spare", self.pw["uk-spare"],
                                 "--port", str(SIP_PORT + 2), "--keepalive", "600",
                                 "--expires", "3600")
        control.wait_events("registered", 1)
        self.assertLessEqual(self.lab.nat_binding("uk", SIP_PORT)[1], NAT_UDP_TIMEOUT)
        # idle (no call, no REGISTER) until the router would have forgotten an idle binding:
        # the control's binding goes, the keepalives keep the account's
        deadline = time.monotonic() + sl.WAIT
        while self.lab.nat_binding("uk", SIP_PORT + 2) is not None:
            self.assertLess(time.monotonic(), deadline, "the control's binding never expired")
            time.sleep(0.5)
        binding = self.lab.nat_binding("uk", SIP_PORT)
        self.assertIsNotNone(binding, "the keepalives did not hold the router's binding")
        self.assertEqual(binding[0], nat[0])
        regs = len(self.kam.requests("REGISTER", "uk-office", since))
        keepalives = self.kam.wait_requests("OPTIONS", "uk-office", 3, since)
        self.assertEqual({k["src"] for k in keepalives},
                         {"%s:%d" % (self.lab.public_addr("uk"), nat[0])})
        calling = self.office_probe("us", "--call", UK_DID, "--sdp-file", self.sdp["us"],
                                    "--hangup-on", "answered")
        inc = uk.wait_events("call-incoming", 1)[0]
        self.assertEqual(inc["to"], UK_DID)
        calling.wait_events("call-answered", 1)
        uk.wait_events("call-ended", 1)
        # the call came through the binding the REGISTER made, not a new one
        self.assertEqual(len(self.kam.requests("REGISTER", "uk-office", since)), regs)
        self.stop(calling, uk, control)


if __name__ == "__main__":
    unittest.main(verbosity=2)

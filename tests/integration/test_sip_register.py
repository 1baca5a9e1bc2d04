#!/usr/bin/env python3
"""The SIP user agent (server/sip/sipua) against Debian's kamailio as the provider's registrar
and proxy, on loopback: REGISTER with digest authentication (401 and 407), refresh, keepalives,
rport, UDP and TCP, un-REGISTER on stop; the failures: a wrong password, a registrar that
answers 403, one that never answers (each retried with a growing back-off). Calls through
kamailio to and from SIPp (Debian's sip-tester) as the far end: answered and hung up (BYE),
busy (486), cancelled while ringing (CANCEL), an incoming call refused (404) or answered."""
import os
import re
import socket
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab as sl  # noqa: E402


def ok_for(request):
    """A 200 to a REGISTER that grants its contact for an hour (a registrar in four lines)."""
    head = request.decode(errors="replace").split("\r\n\r\n")[0].split("\r\n")
    keep = [h for h in head[1:] if re.match(r"(?i)(via|from|to|call-id|cseq|contact|v|f|t|i|m):",
                                            h)]
    keep = [h + (";tag=reg1" if re.match(r"(?i)(to|t):", h) else "") for h in keep]
    keep = [re.sub(r"(?i)^(contact|m):(.*)$", r"\1:\2;expires=3600", h) for h in keep]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


class SipRegisterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sl.check_tools()
        cls.kam = sl.Kamailio(cls)
        cls.dir = nt.make_temp_dir(cls, prefix="ncfx-sip-")
        cls.pwfile = os.path.join(cls.dir, "trunk.password")
        with open(cls.pwfile, "w") as f:
            f.write(sl.PASSWORD + "\n")
        os.chmod(cls.pwfile, 0o600)

    def probe(self, user, *extra, password_file=None):
        return sl.Probe(self, ["--registrar", self.kam.registrar, "--user", user,
                               "--domain", sl.DOMAIN,
                            "--password-file", password_file or self.pwfile] + list(extra))

    def registered_cycle(self, user, transport):
        """Registers with a short expiry and keepalives; checks the contact in kamailio's
        table, a refresh before expiry, the keepalives and the un-REGISTER on stop."""
        p = self.probe(user, "--transport", transport, "--expires", "10", "--keepalive", "1")
        regs = p.wait_events("registered", 2)      # the first and a refresh
        for ev in regs[:2]:
            self.assertEqual(ev["status"], 200)
            self.assertEqual(ev["expires"], 10)
            self.assertTrue(ev["contact"].startswith("sip:%s@127.0.0.1:" % user), ev)
        contacts = self.kam.contacts(user)
        self.assertEqual(len(contacts), 1, contacts)
        self.assertTrue(contacts[0].startswith(regs[0]["contact"]), (contacts, regs[0]))
        if transport == "tcp":
            self.assertIn("transport=tcp", contacts[0])
        # what kamailio saw: a challenge answered, then the refresh in the same dialog (the
        # same Call-ID, a higher CSeq), each REGISTER with rport in its Via, over the
        # transport asked for
        reqs = self.kam.wait_requests("REGISTER", user, 3)
        self.assertEqual(reqs[0]["auth"], "<null>")
        # (a slow machine may see retransmissions: the same CSeq again, counted once)
        authed = sorted({int(r["cseq"]) for r in reqs if r["auth"] == user})
        self.assertGreaterEqual(len(authed), 2, reqs)
        self.assertEqual(len({r["callid"] for r in reqs}), 1, reqs)
        for r in reqs:
            self.assertEqual(r["proto"], transport)
            self.assertIn(";rport", r["via"])
        # keepalives: OPTIONS from the same address as the REGISTERs, holding that binding
        opts = self.kam.wait_requests("OPTIONS", user, 2)
        self.assertEqual({o["src"] for o in opts}, {reqs[-1]["src"]})
        self.assertEqual(p.stop(), 0)
        self.assertIn("stopped", p.lines)
        last = self.kam.wait_requests("REGISTER", user, len(reqs) + 1)[-1]
        self.assertEqual(last["expires"], "0")
        self.assertEqual(self.kam.contacts(user), [])

    def test_udp_register_refresh_keepalive_unregister(self):
        self.registered_cycle("alice", "udp")

    def test_tcp_register_refresh_keepalive_unregister(self):
        self.registered_cycle("dave", "tcp")

    def test_proxy_challenge_407(self):
        p = self.probe("bob", "--expires", "60")
        ev = p.wait_events("registered", 1)[0]
        self.assertEqual(ev["status"], 200)
        self.assertEqual(len(self.kam.contacts("bob")), 1)
        self.assertEqual(p.stop(), 0)
        self.assertEqual(self.kam.contacts("bob"), [])

    def test_wrong_password_fails_clearly_and_retries(self):
        bad = os.path.join(self.dir, "wrong.password")
        with open(bad, "w") as f:
            f.write("not-the-password\n")
        os.chmod(bad, 0o600)
        p = self.probe("erin", "--t1-ms", "100", password_file=bad)
        fails = p.wait_events("failed", 2)
        self.assertEqual(fails[0]["status"], 401)
        self.assertIn("wrong user or password", fails[0]["reason"])
        self.assertEqual([f["retry_in"] for f in fails[:2]], [2, 4])
        self.assertEqual(p.events("registered"), [])
        self.assertEqual(self.kam.contacts("erin"), [])
        self.assertEqual(p.stop(), 0)

    def test_forbidden_403_reported_and_retried_with_backoff(self):
        p = self.probe("carol")
        fails = p.wait_events("failed", 2)
        for f in fails[:2]:
            self.assertEqual(f["status"], 403)
            self.assertIn("403 Forbidden", f["reason"])
        self.assertEqual([f["retry_in"] for f in fails[:2]], [2, 4])
        # a second REGISTER did reach the registrar: the retry is real
        self.assertGreaterEqual(len(self.kam.wait_requests("REGISTER", "carol", 2)), 2)
        self.assertEqual(p.stop(), 0)

    def test_silent_registrar_reported_and_retried(self):
        # a UDP socket that takes every REGISTER and answers none; T1 of 50 ms makes the
        # transaction give up after 64 * T1 = 3.2 s instead of 32 s
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind((nt.HOST, 0))
        s.settimeout(sl.WAIT)
        p = sl.Probe(self, ["--registrar", "%s:%d" % s.getsockname(), "--user", "frank",
                            "--domain", sl.DOMAIN, "--password-file", self.pwfile,
                            "--t1-ms", "50"])
        data, _ = s.recvfrom(4096)
        self.assertTrue(data.startswith(b"REGISTER "), data[:80])
        fails = p.wait_events("failed", 2)
        for f in fails[:2]:
            self.assertEqual(f["status"], 408)
            self.assertIn("no answer from the registrar", f["reason"])
        self.assertEqual([f["retry_in"] for f in fails[:2]], [2, 4])
        self.assertEqual(p.stop(), 0)

    def test_stop_bounded_when_registrar_went_silent(self):
        # registered with a registrar that then stops answering: stop still ends (the
        # un-REGISTER and sofia's shutdown are each waited for a bounded time)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind((nt.HOST, 0))
        s.settimeout(sl.WAIT)
        p = sl.Probe(self, ["--registrar", "%s:%d" % s.getsockname(), "--user", "grace",
                            "--domain", sl.DOMAIN, "--password-file", self.pwfile])
        data, peer = s.recvfrom(4096)
        self.assertTrue(data.startswith(b"REGISTER "), data[:80])
        s.sendto(ok_for(data), peer)
        ev = p.wait_events("registered", 1)[0]
        self.assertEqual(ev["contact"].split("@")[0], "sip:grace")
        self.assertEqual(p.stop(), 0)
        self.assertIn("stopped", p.lines)
        # the un-REGISTER was sent, never answered (among keepalive OPTIONS and, on a slow
        # machine, retransmissions of the first REGISTER)
        unreg = None
        for _ in range(50):
            data, _ = s.recvfrom(4096)
            text = data.decode(errors="replace")
            if (data.startswith(b"REGISTER ") and
                    re.search(r"(?im)^(expires|contact|m):.*\bexpires=0\b|^expires: *0\s*$",
                              text)):
                unreg = text
                break
        self.assertIsNotNone(unreg, "no un-REGISTER arrived")

    def test_port_in_use_is_a_clear_error(self):
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(busy.close)
        busy.bind((nt.HOST, 0))
        rc, out, err = nt.run_cmd([sl.PROBE, "--registrar", self.kam.registrar,
                                   "--user", "alice",
                                   "--password-file", self.pwfile,
                                   "--port", str(busy.getsockname()[1])])
        self.assertEqual(rc, 1)
        self.assertIn("error cannot listen on 127.0.0.1 port %d (udp): Address already in use"
                      % busy.getsockname()[1], out)

    def sdp_file(self):
        path = os.path.join(self.dir, "offer.sdp")
        with open(path, "w", newline="") as f:
            f.write(sl.OFFER)
        return path

    def test_call_answered_then_bye(self):
        far = sl.Sipp(self, self.kam, scenario=sl.UAS_ANSWER)
        p = self.probe("henry", "--call", "4420794601", "--sdp-file", self.sdp_file(),
                       "--hangup-on", "answered")
        ans = p.wait_events("call-answered", 1)[0]
        self.assertEqual(ans["status"], 200)
        self.assertGreater(ans["sdp"], 0)           # SIPp's answer came through
        self.assertIn("call-progress", [e["kind"] for e in p.events()])
        self.assertEqual(p.events("call-progress")[0]["status"], 180)
        ended = p.wait_events("call-ended", 1)[0]
        self.assertEqual(ended["call"], ans["call"])
        self.assertIn("we hung up (BYE)", ended["reason"])
        self.assertEqual(far.wait(), 0, far.errors())   # SIPp got ACK and BYE
        # one call (a slow machine may see the INVITE retransmitted: the same Call-ID)
        invites = self.kam.wait_requests("INVITE", "henry", 1)
        self.assertEqual(len({r["callid"] for r in invites}), 1)
        self.assertEqual(p.stop(), 0)

    def test_call_busy(self):
        far = sl.Sipp(self, self.kam, scenario=sl.UAS_BUSY)
        p = self.probe("ivan", "--call", "4420794602", "--sdp-file", self.sdp_file())
        failed = p.wait_events("call-failed", 1)[0]
        self.assertEqual(failed["status"], 486)
        self.assertIn("486 Busy Here", failed["reason"])
        self.assertEqual(p.events("call-answered"), [])
        self.assertEqual(far.wait(), 0, far.errors())
        self.assertEqual(p.stop(), 0)

    def test_call_cancelled_while_ringing(self):
        # kamailio plays this far end itself: 180, then 487 once cancelled
        p = self.probe("judy", "--call", "4420794699", "--sdp-file", self.sdp_file(),
                       "--hangup-on", "progress")
        failed = p.wait_events("call-failed", 1)[0]
        self.assertEqual(failed["status"], 487)
        self.assertGreaterEqual(len(self.kam.wait_requests("CANCEL", "judy", 1)), 1)
        self.assertEqual(p.stop(), 0)

    def test_incoming_call_refused_404(self):
        p = self.probe("kate", "--answer", "404")
        p.wait_events("registered", 1)
        far = sl.Sipp(self, self.kam, scenario=sl.UAC_REFUSED, service="kate",
                   dest=self.kam.registrar)
        inc = p.wait_events("call-incoming", 1)[0]
        self.assertEqual(inc["to"], "kate")
        self.assertEqual(inc["from"], "4420794600")
        self.assertGreater(inc["sdp"], 0)
        self.assertEqual(far.wait(), 0, far.errors())   # SIPp got the 404
        self.assertEqual(p.wait_events("call-ended", 1)[0]["call"], inc["call"])
        self.assertEqual(p.events("call-answered"), [])
        self.assertEqual(p.stop(), 0)

    def test_incoming_call_answered_then_bye_from_far_end(self):
        p = self.probe("liam", "--answer", "200", "--sdp-file", self.sdp_file())
        p.wait_events("registered", 1)
        far = sl.Sipp(self, self.kam, scenario=sl.UAC_ANSWERED, service="liam",
                   dest=self.kam.registrar)
        inc = p.wait_events("call-incoming", 1)[0]
        self.assertEqual(inc["to"], "liam")
        ans = p.wait_events("call-answered", 1)[0]
        self.assertEqual(ans["call"], inc["call"])
        ended = p.wait_events("call-ended", 1)[0]
        self.assertIn("the far end hung up (BYE)", ended["reason"])
        self.assertEqual(far.wait(), 0, far.errors())
        self.assertEqual(p.stop(), 0)

    def test_reinvite_refused_488_call_goes_on(self):
        p = self.probe("mona", "--answer", "200", "--sdp-file", self.sdp_file())
        p.wait_events("registered", 1)
        far = sl.Sipp(self, self.kam, scenario=sl.UAC_REINVITE, service="mona",
                   dest=self.kam.registrar)
        ended = p.wait_events("call-ended", 1)[0]
        # the call survived the refused re-INVITE: it ended by the far end's BYE
        self.assertIn("the far end hung up (BYE)", ended["reason"])
        self.assertEqual(far.wait(), 0, far.errors())   # SIPp got its 488, then 200 to BYE
        self.assertEqual(p.stop(), 0)

    def test_password_file_open_to_others_refused(self):
        loose = os.path.join(self.dir, "loose.password")
        with open(loose, "w") as f:
            f.write(sl.PASSWORD + "\n")
        os.chmod(loose, 0o644)
        rc, out, err = nt.run_cmd([sl.PROBE, "--registrar", self.kam.registrar,
                                   "--user", "alice",
                                   "--password-file", loose])
        self.assertEqual(rc, 1)
        self.assertIn("readable by its owner only", out)
        self.assertNotIn("started", out)

    def test_password_with_colon_refused(self):
        # sofia-sip's credential string would cut it at the colon: refused with the reason
        colon = os.path.join(self.dir, "colon.password")
        with open(colon, "w") as f:
            f.write("s3cret:more\n")
        os.chmod(colon, 0o600)
        rc, out, err = nt.run_cmd([sl.PROBE, "--registrar", self.kam.registrar,
                                   "--user", "alice",
                                   "--password-file", colon])
        self.assertEqual(rc, 1)
        self.assertIn("cannot hold ':'", out)


if __name__ == "__main__":
    unittest.main()

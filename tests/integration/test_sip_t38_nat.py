#!/usr/bin/env python3
"""T.38 between the two offices of the carrier lab (siplab.CarrierLab: kamailio on the WAN,
each office's netcfaxd behind an nftables NAT router running miniupnpd, no port forward),
each trunk with portmap and one channel: the US (t38 = reinvite) switches its call to the UK
(t38 = accept) to T.38 when it hears the fax tones. The UDPTL socket of the switch takes a
second port of the channel's mapped on the router while the call's RTP holds the first, so
both SDPs' image lines name their router's public address and a mapped port, never the
office's private one: the fax arrives pixel-exact over T.38. The SIP messages are read as
they reach the UK host (a packet socket in its namespace)."""
import ast
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
import test_sip_trunk as st  # noqa: E402
import test_sip_trunk_nat as nat_test  # noqa: E402
from test_fax import make_pdf  # noqa: E402
from test_sip_trunk_nat import ACCOUNTS, DIDS, UK_BOB, ClassOwner  # noqa: E402

# Says "ready" once its packet socket is open, then prints each UDP datagram to or from port
# 5060 that carries an image stream's SDP, as one line (Python's repr of the bytes), for as
# long as it runs (bounded by its argument).
SNIFF = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.settimeout(1)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        frame, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    ip = frame[14:] if addr[1] == 0x0800 else b""
    if len(ip) < 28 or ip[9] != 17:
        continue
    udp = ip[(ip[0] & 15) * 4:]
    sport, dport = struct.unpack("!HH", udp[:4])
    if 5060 in (sport, dport) and b"m=image" in udp[8:]:
        print(repr(udp[8:]), flush=True)
"""


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class T38ThroughNat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        owner = ClassOwner(cls)
        cls.lab = lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS)
        cls.srv = {}
        for office, t38 in (("us", "reinvite"), ("uk", "accept")):
            cls.srv[office] = nat_test.office_server(owner, lab, office, channels=1,
                                                     trunk_extra={"keepalive": 600,
                                                                  "t38": t38})
            for user in nat_test.USERS[office]:
                cls.srv[office].add_user(user, user + "-pw-secret")

    client = nat_test.TrunkThroughNat.client
    send = nat_test.TrunkThroughNat.send
    received_whole = nat_test.TrunkThroughNat.received_whole
    fax_ids = nat_test.TrunkThroughNat.fax_ids
    job = st.Trunk.job

    def mapped_ports(self, office):
        """The external ports the office's router forwards to its RTP ports (portmap)."""
        return {int(p) for p in re.findall(
            r"forwards UDP %s port (\d+) to RTP port" % re.escape(self.lab.public_addr(office)),
            self.srv[office].log_since(0))}

    def test_t38_fax_between_mapped_offices(self):
        # one channel, two ports mapped on each router: its RTP's and its UDPTL's
        for office in ("us", "uk"):
            st.wait_text(self.srv[office], lambda t: len(self.mapped_ports(office)) >= 2, 0,
                      "2 ports mapped on the %s router" % office)
        sniff = subprocess.Popen(self.lab.prefix("uk") + [sys.executable, "-c", SNIFF, "300"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: sniff.poll() is None and (sniff.kill(), sniff.wait(10)))
        if sniff.stdout.readline() != "ready\n":
            self.fail("the packet socket: " + sniff.communicate(timeout=10)[1])

        alice, bob = self.client("us", "alice"), self.client("uk", "bob")
        watcher = nt.Watcher(bob, owner=self, prefix=self.lab.prefix("uk"))
        watcher.wait_status("logged in")
        seen = self.fax_ids(bob)
        us_log, uk_log = self.srv["us"].log_size(), self.srv["uk"].log_size()
        pdf = make_pdf(alice.home, "t38nat.pdf", ["T.38 through both NATs", "page two"])
        job, notes = self.send(alice, pdf, UK_BOB)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        # whole: in one entry, or in runs of consecutive pages after a call broke off
        self.received_whole(bob, watcher, seen, pdf, 2, nat_test.OFFICE_SETUPS["us"][4])
        done = self.job(alice, job["id"])
        self.assertRegex(done["text"], r"at \d+ bit/s over T\.38", done)
        us = self.srv["us"].log_since(us_log)
        self.assertIn("fax tones heard: re-INVITE to T.38", us)
        self.assertIn("the far end took T.38", us)
        self.assertIn("re-INVITE to T.38 accepted", self.srv["uk"].log_since(uk_log))

        sniff.kill()
        out, err = sniff.communicate(timeout=10)
        sdps = [ast.literal_eval(line).decode("latin-1") for line in out.splitlines()]
        images = {}
        for sdp in sdps:
            m = re.search(r"c=IN IP4 (\S+)\r\n(?:.*\r\n)*?m=image (\d+) udptl t38", sdp)
            self.assertTrue(m, sdp)
            images.setdefault(m.group(1), set()).add(int(m.group(2)))
        # the US's re-INVITE and the UK's answer: each its router's public address and a
        # port mapped there; no private address
        for office in ("us", "uk"):
            self.assertIn(self.lab.public_addr(office), images, (images, err))
            self.assertLessEqual(images[self.lab.public_addr(office)],
                                 self.mapped_ports(office), images)
            self.assertNotIn(self.lab.host_addr(office), images)
        print("\nT.38 through both NATs: image streams at %s" % images, file=sys.stderr)


if __name__ == "__main__":
    nt.main()

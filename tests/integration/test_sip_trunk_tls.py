#!/usr/bin/env python3
"""The SIP trunk over TLS (transport = tls) on loopback: kamailio's tls module plays the
provider with a certificate from a throw-away CA made here with the openssl command. Two
netcfaxd servers that trust that CA register over TLS and fax each other pixel-exact; a
provider whose certificate comes from a CA the server does not trust, or is made out to
another name, is refused: no REGISTER and no call reach it, the log says why in words, and
the server goes on serving."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import siplab  # noqa: E402
import test_sip_trunk as st  # noqa: E402
from test_fax import make_pdf  # noqa: E402


# sofia-sip's own leaks of each TLS connection (see the file), suppressed by function name in
# the sanitizer build: that needs whole stacks recorded at each allocation.
SOFIA_TLS_LEAKS = {
    "ASAN_OPTIONS": "fast_unwind_on_malloc=0",
    "LSAN_OPTIONS": "suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "sofia-tls.supp")}


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    """A self-signed CA in d: (certificate, key)."""
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=%s" % name, "-keyout", key, "-out", crt,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    return crt, key


def make_cert(d, name, ca, san):
    """A server certificate for san ("IP:127.0.0.1", "DNS:x"), signed by ca: (cert, key)."""
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    csr = os.path.join(d, name + ".csr")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" % san)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=%s" % san.split(":", 1)[1], "-keyout", key, "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", crt)
    return crt, key


class Pki:
    """The provider's CA and certificate for the loopback address, a CA no one trusts with
    a certificate of its own, and a certificate of the trusted CA made out to another name."""

    def __init__(self, owner):
        d = nt.make_temp_dir(owner, prefix="ncfx-pki-")
        self.ca = make_ca(d, "provider-ca")
        self.good = make_cert(d, "sip", self.ca, "IP:%s" % nt.HOST)
        self.rogue_ca = make_ca(d, "rogue-ca")
        self.rogue = make_cert(d, "rogue", self.rogue_ca, "IP:%s" % nt.HOST)
        self.wrong_name = make_cert(d, "elsewhere", self.ca, "DNS:sip.elsewhere.example")
        self.client = make_cert(d, "office", self.ca, "DNS:office.example")
        os.chmod(self.client[1], 0o600)


class TlsTrunk(unittest.TestCase):
    """The US and UK servers on one carrier, each over TLS, trusting the carrier's CA."""

    send = st.Trunk.send
    job = st.Trunk.job
    check_pixels = st.Trunk.check_pixels

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        siplab.check_tls_module()
        pki = Pki(cls)
        cls.kam = siplab.Kamailio(cls, mode="carrier", accounts=st.ACCOUNTS, dids=st.DIDS,
                                  tls=pki.good)
        us_conf, cls.us_trunk = st.trunk_file(cls, "us-office", cls.kam.tls_registrar,
                                              "PCMU, PCMA", transport="tls", tls_ca=pki.ca[0])
        uk_conf, cls.uk_trunk = st.trunk_file(cls, "uk-office", cls.kam.tls_registrar,
                                              "PCMA, PCMU", transport="tls", tls_ca=pki.ca[0])
        cls.us = nt.Server(cls, extra=dict(st.RETRIES, fax_numbers="%s alice" % st.US_ALICE,
                                           fax_station_id="US office", sip_trunks=us_conf),
                           env=SOFIA_TLS_LEAKS)
        cls.uk = nt.Server(cls, extra=dict(st.RETRIES, fax_numbers="%s bob" % st.UK_BOB,
                                           fax_station_id="UK office", sip_trunks=uk_conf),
                           env=SOFIA_TLS_LEAKS)
        for srv, name in ((cls.us, "us-office"), (cls.uk, "uk-office")):
            st.wait_registered(cls, srv, name)
        cls.us.add_user("alice", "alice-pw-secret")
        cls.uk.add_user("bob", "bob-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.us, "alice", "alice-pw-secret", owner=self)
        self.bob = nt.Client(self.uk, "bob", "bob-pw-secret", owner=self)

    def fax(self, sender, receiver, src_srv, dest, station):
        w = nt.Watcher(receiver, owner=self)
        w.wait_status("logged in")
        mark = self.kam.mark()
        pdf = make_pdf(sender.home, "tls.pdf", ["over TLS from %s" % station])
        job, notes = self.send(sender, pdf, dest)
        self.assertEqual(notes[-1]["event"], "job_done", notes)
        w.wait_for(lambda x: st.fax_received(x), what="fax_received")
        rc, data, err = receiver.run("inbox", json=True)
        [fax] = [f for f in data["faxes"] if f["id"] == st.fax_received(w)[0]["fax"]]
        self.assertEqual((fax["pages"], fax["from"]), (1, station))
        self.check_pixels(receiver, fax["id"], pdf)
        # the INVITE reached the carrier over TLS
        invites = self.kam.requests("INVITE", since=mark)
        self.assertTrue(invites, self.kam.text(mark)[-3000:])
        self.assertTrue(all(r["proto"] == "tls" for r in invites), invites)

    def test_registered_over_tls(self):
        for user in ("us-office", "uk-office"):
            regs = self.kam.requests("REGISTER", user)
            self.assertTrue(regs and all(r["proto"] == "tls" for r in regs), regs)
            [b] = self.kam.bindings(user)
            # held on the TLS connection the REGISTER came over
            self.assertTrue(b["socket"].startswith("tls:"), b)
            self.assertIn("transport=tls", b["received"], b)

    def test_us_to_uk_pixel_exact(self):
        self.fax(self.alice, self.bob, self.us, st.UK_BOB, "US office")

    def test_uk_to_us_pixel_exact(self):
        self.fax(self.bob, self.alice, self.uk, st.US_ALICE, "UK office")


class TlsRefused(unittest.TestCase):
    """One server with two TLS trunks it must refuse: "rogue", whose provider shows a
    certificate from a CA not in tls_ca, and "uk-office", whose provider's certificate is
    signed by the trusted CA but made out to another name than the registrar's; and a third,
    "noverify", to the rogue provider with tls_verify = no, which it takes."""

    job = st.Trunk.job
    wait_job = st.Trunk.wait_job

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        siplab.check_tls_module()
        pki = Pki(cls)
        cls.rogue = siplab.Kamailio(cls, mode="carrier", accounts=st.ACCOUNTS, dids=st.DIDS,
                                    tls=pki.rogue)
        cls.elsewhere = siplab.Kamailio(cls, mode="carrier", accounts=st.ACCOUNTS,
                                        dids=st.DIDS, tls=pki.wrong_name)
        rogue_conf, _ = st.trunk_file(cls, "us-office", cls.rogue.tls_registrar, "PCMA",
                                      transport="tls", tls_ca=pki.ca[0], route="+1")
        # the same account's file under another name: a trunk is named by its file
        d = os.path.dirname(rogue_conf)
        os.rename(rogue_conf, os.path.join(d, "rogue.conf"))
        rogue_conf = os.path.join(d, "rogue.conf")
        else_conf, _ = st.trunk_file(cls, "uk-office", cls.elsewhere.tls_registrar, "PCMA",
                                     transport="tls", tls_ca=pki.ca[0], route="+44")
        # and "noverify", the rogue provider again with tls_verify = no: encrypted, unchecked
        nov_conf, _ = st.trunk_file(cls, "uk-office", cls.rogue.tls_registrar, "PCMA",
                                    transport="tls", tls_ca=pki.ca[0], tls_verify="no",
                                    route="+33")
        os.rename(nov_conf, os.path.join(os.path.dirname(nov_conf), "noverify.conf"))
        nov_conf = os.path.join(os.path.dirname(nov_conf), "noverify.conf")
        cls.srv = nt.Server(cls, extra=dict(
            retry_failed=5, fax_numbers="%s alice" % st.US_ALICE,
            sip_trunks="%s, %s, %s" % (rogue_conf, else_conf, nov_conf)), env=SOFIA_TLS_LEAKS)
        cls.srv.add_user("alice", "alice-pw-secret")

    def test_untrusted_ca_is_refused_with_the_reason(self):
        text = st.wait_text(self.srv, lambda t: "trunk rogue: registration" in t and
                            "not signed by a CA in tls_ca" in t, 0, "the rogue CA refused")
        self.assertIn("add the provider's CA to it", text)
        self.assertNotIn("trunk rogue: registered", text)
        # the handshake failed before any SIP: the provider saw no request
        self.assertEqual(self.rogue.requests("REGISTER", "us-office"), [],
                         self.rogue.text()[-2000:])

    def test_wrong_name_is_refused_with_the_reason(self):
        text = st.wait_text(self.srv, lambda t: "trunk uk-office: registration" in t and
                            "made out to sip.elsewhere.example, not to %s" % nt.HOST in t, 0,
                            "the certificate's name refused")
        self.assertNotIn("trunk uk-office: registered", text)
        self.assertEqual(self.elsewhere.requests("REGISTER"), [],
                         self.elsewhere.text()[-2000:])

    def test_without_verification_the_same_provider_is_taken(self):
        st.wait_registered(self, self.srv, "noverify")
        regs = self.rogue.requests("REGISTER", "uk-office")
        self.assertTrue(regs and all(r["proto"] == "tls" for r in regs), regs)

    def test_status_shows_each_trunk_and_why_it_is_not_registered(self):
        # netcfax-admin status: one row per trunk, in sip_trunks' order, registered or not
        # with the reason the log gives
        deadline = time.monotonic() + 60
        while True:
            rc, out, err = self.srv.admin("status", "--json")
            self.assertEqual(rc, 0, err)
            trunks = {t["trunk"]: t for t in json.loads(out)["trunks"]}
            if (trunks.get("noverify", {}).get("registered") and
                    "not signed" in trunks.get("rogue", {}).get("detail", "") and
                    "made out to" in trunks.get("uk-office", {}).get("detail", "")):
                break
            self.assertLess(time.monotonic(), deadline, out)
            time.sleep(0.2)
        self.assertEqual([t["trunk"] for t in json.loads(out)["trunks"]],
                         ["rogue", "uk-office", "noverify"])
        self.assertFalse(trunks["rogue"]["registered"])
        self.assertIn("add the provider's CA to it", trunks["rogue"]["detail"])
        self.assertIn("next try in", trunks["rogue"]["detail"])
        self.assertEqual(trunks["rogue"]["registrar"], self.rogue.tls_registrar)
        self.assertFalse(trunks["uk-office"]["registered"])
        self.assertTrue(trunks["noverify"]["detail"].startswith("registered as sip:"),
                        trunks["noverify"])
        rc, out, err = self.srv.admin("status")
        self.assertEqual(rc, 0, err)
        self.assertIn("SIP trunks: 3, 1 registered", out)
        self.assertRegex(out, r"rogue +\S+ +not registered .*not signed by a CA in tls_ca")

    def test_no_call_is_placed_and_the_server_serves_on(self):
        st.wait_text(self.srv, lambda t: "trunk rogue: registration" in t, 0,
                     "the rogue trunk's failure")
        alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        tif = os.path.join(alice.home, "x.tif")
        nt.make_tiff(tif, pages=1)
        rc, out, err = alice.run("send", tif, "--to", "+1 212 555 0199", global_opts=("--json",),
                                 timeout=120)
        self.assertEqual(rc, 0, alice.describe())
        jid = [o for o in st.stream(out) if "job" in o][0]["job"]["id"]
        # the call is tried and fails before a word of SIP reaches the provider
        j = self.wait_job(alice, jid, lambda x: x["dials"] >= 1 and
                              x["state"] != "active", "tried")
        self.assertNotEqual(j["state"], "done", j)
        self.assertIn("not signed by a CA in tls_ca", j["text"], j)
        self.assertEqual(self.rogue.requests("INVITE"), [], self.rogue.text()[-2000:])
        # and the server still answers its clients
        rc, data, err = alice.run("jobs", json=True)
        self.assertEqual(rc, 0, alice.describe())


class TlsMutual(unittest.TestCase):
    """A provider that wants a client certificate signed by its CA (mutual TLS): the trunk
    with tls_cert and tls_key registers; one without is refused, and says what it lacks."""

    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        siplab.check_tls_module()
        cls.pki = pki = Pki(cls)
        cls.kam = siplab.Kamailio(cls, mode="carrier", accounts=st.ACCOUNTS, dids=st.DIDS,
                                  tls=pki.good + (pki.ca[0],))
        with_conf, _ = st.trunk_file(cls, "us-office", cls.kam.tls_registrar, "PCMA",
                                     transport="tls", tls_ca=pki.ca[0], route="+1",
                                     tls_cert=pki.client[0], tls_key=pki.client[1])
        without_conf, _ = st.trunk_file(cls, "uk-office", cls.kam.tls_registrar, "PCMA",
                                        transport="tls", tls_ca=pki.ca[0], route="+44")
        cls.srv = nt.Server(cls, extra=dict(sip_trunks="%s, %s" % (with_conf, without_conf)),
                            env=SOFIA_TLS_LEAKS)

    def test_with_a_client_certificate_registers(self):
        st.wait_registered(self, self.srv, "us-office")
        regs = self.kam.requests("REGISTER", "us-office")
        self.assertTrue(regs and all(r["proto"] == "tls" for r in regs), regs)

    def test_without_one_is_refused_with_the_reason(self):
        text = st.wait_text(self.srv, lambda t: "trunk uk-office: registration" in t and
                            "asks for a client certificate" in t, 0,
                            "the missing client certificate")
        self.assertIn("set tls_cert and tls_key", text)
        self.assertNotIn("trunk uk-office: registered", text)
        self.assertEqual(self.kam.requests("REGISTER", "uk-office"), [])


class TlsFiles(unittest.TestCase):
    """netcfaxd -n checks a TLS trunk's files before anything starts."""

    def check(self, **tls):
        conf, _ = st.trunk_file(self, "us-office", "%s:5061" % nt.HOST, "PCMA",
                                transport="tls", **tls)
        srv = nt.Server(self, extra=dict(sip_trunks=conf), start=False)
        return nt.run_cmd([nt.NETCFAXD, "-n", "-c", srv.conf])

    def test_missing_and_unreadable_files_are_named(self):
        d = nt.make_temp_dir(self, prefix="ncfx-pki-")
        pki = Pki(self)
        rc, out, err = self.check(tls_ca=os.path.join(d, "missing.pem"))
        self.assertNotEqual(rc, 0)
        self.assertIn("tls_ca %s: No such file" % os.path.join(d, "missing.pem"), err)
        notpem = os.path.join(d, "notpem.txt")
        with open(notpem, "w") as f:
            f.write("not a certificate\n")
        rc, out, err = self.check(tls_ca=notpem)
        self.assertNotEqual(rc, 0)
        self.assertIn("holds no PEM certificate", err)
        os.chmod(pki.client[1], 0o644)
        rc, out, err = self.check(tls_ca=pki.ca[0], tls_cert=pki.client[0],
                                  tls_key=pki.client[1])
        self.assertNotEqual(rc, 0)
        self.assertIn("readable by its owner only", err)
        os.chmod(pki.client[1], 0o600)
        rc, out, err = self.check(tls_ca=pki.ca[0], tls_cert=pki.client[0],
                                  tls_key=pki.ca[1])
        self.assertNotEqual(rc, 0)
        self.assertIn("not the PEM private key (unencrypted) of tls_cert", err)
        rc, out, err = self.check(tls_ca=pki.ca[0], tls_cert=pki.client[0],
                                  tls_key=pki.client[1])
        self.assertEqual(rc, 0, err)


class TlsPortcheck(unittest.TestCase):
    """netcfax-portcheck --server on a host (a namespace of its own, nothing but loopback) whose
    trunk is over TLS: the SIP port and the host firewall are checked as TCP, and the trunk's
    line names the registrar's TLS port. The registrar does not listen: the log says so."""

    def test_tls_trunk_is_checked_as_tcp(self):
        lab = nt.NetLab(self, ["srv"])
        pki = Pki(self)
        conf, _ = st.trunk_file(self, "us-office", nt.HOST, "PCMA", transport="tls",
                                tls_ca=pki.ca[0], port=5070)
        srv = nt.Server(self, prefix=lab.prefix("srv"), extra=dict(sip_trunks=conf))
        self.assertIsNotNone(srv.wait_log(
            lambda x: "cannot connect to %s port 5061 over TCP" % nt.HOST in x, timeout=30),
            srv.log_text())

        def run_check():
            rc, out, err = nt.run_cmd(lab.prefix("srv") + [
                nt.NETCFAX_PORTCHECK, "--server", "--server-config", srv.conf, "--json"],
                timeout=60)
            d = json.loads(out)
            return {c["id"]: c for c in d["checks"] if c["section"] == "SIP trunks"}, d

        checks, d = run_check()
        self.assertIn("registrar %s (TLS: TCP port 5061), tls port 5070" % nt.HOST,
                      checks["trunk"]["evidence"], d)
        self.assertEqual(checks["sip_port"]["status"], "pass", d)
        self.assertIn("TCP port 5070 on %s is held by netcfaxd" % nt.HOST,
                      checks["sip_port"]["evidence"], d)
        lab.nft("srv", "table inet hostfw {\n chain input { type filter hook input priority 0; "
                "policy drop; iifname lo ip daddr != %s accept; ct state established,related "
                "accept; }\n}\n" % nt.HOST)
        checks, d = run_check()
        self.assertEqual(checks["sip_fw"]["status"], "fail", d)
        self.assertIn("TCP port 5070", checks["sip_fw"]["evidence"], d)
        self.assertTrue([r for r in d["fix"]["rules"] if "tcp dport 5070" in r["nftables"]], d)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""Server identity: certificate fingerprint, trust on first use, mismatch, netcfax trust."""
import os
import shutil
import ssl
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402


def read_known(path):
    with open(path) as f:
        return [l.split() for l in f if l.strip() and not l.lstrip().startswith("#")]


class Identity(unittest.TestCase):
    def setUp(self):
        self.srv = nt.Server(self)
        self.srv.add_user("alice", "alice-pw-secret")
        self.c = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.hostport = "127.0.0.1:%d" % self.srv.port

    def pinned(self, client=None):
        c = client or self.c
        return [f for f in read_known(c.known_servers) if f and f[0] == self.hostport]

    def test_fingerprint_matches_certificate(self):
        fp = self.srv.fingerprint
        self.assertRegex(fp, nt.FP_FORMAT_RE)
        with nt.raw_connect(self.srv) as r:
            self.assertEqual(nt.cert_fingerprint_der(r.peer_der), fp)
        with open(os.path.join(self.srv.tls_dir, "server.crt")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        self.assertEqual(nt.cert_fingerprint_der(der), fp)
        self.assertTrue(os.path.exists(os.path.join(self.srv.tls_dir, "server.key")))
        rc, out, err = self.srv.admin("fingerprint")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), fp)
        self.assertIn("listening on 127.0.0.1 port %d" % self.srv.port, self.srv.log_text())

    def test_pin_mismatch_and_trust(self):
        fp1 = self.srv.fingerprint
        rc, out, err = self.c.run("login")
        self.assertEqual(rc, 0, self.c.describe())
        self.assertIn("pinned", err, self.c.describe())
        self.assertTrue(os.path.isfile(self.c.known_servers), self.c.describe())
        self.assertEqual(self.pinned(), [[self.hostport, fp1]])

        rc, out, err = self.c.run("login")
        self.assertEqual(rc, 0, self.c.describe())
        self.assertNotIn("pinned", err, self.c.describe())
        self.assertEqual(self.pinned(), [[self.hostport, fp1]])

        # new certificate on the same address and port
        self.assertEqual(self.srv.stop(), 0, self.srv.log_text())
        shutil.rmtree(self.srv.tls_dir)
        self.srv.start()
        fp2 = self.srv.fingerprint
        self.assertNotEqual(fp1, fp2)

        with open(self.c.known_servers) as f:
            known_before = f.read()
        rc, out, err = self.c.run("login")
        self.assertEqual(rc, nt.EXIT_IDENTITY, self.c.describe())
        self.assertIn("netcfax trust", err, self.c.describe())
        self.assertNotIn("logged in", out)
        rc, data, err = self.c.run("login", json=True)
        self.assertEqual(rc, nt.EXIT_IDENTITY, self.c.describe())
        self.assertIn("error", data)
        with open(self.c.known_servers) as f:
            self.assertEqual(f.read(), known_before, "a mismatch must not change the pin")
        # every command checks the identity, not only login
        rc, out, err = self.c.run("jobs")
        self.assertEqual(rc, nt.EXIT_IDENTITY, self.c.describe())

        # trust with a wrong fingerprint is refused and changes nothing
        wrong = "SHA256:" + ":".join(["00"] * 32)
        rc, out, err = self.c.run("trust", "--fingerprint", wrong)
        self.assertNotEqual(rc, 0, self.c.describe())
        with open(self.c.known_servers) as f:
            self.assertEqual(f.read(), known_before)

        rc, out, err = self.c.run("trust")
        self.assertEqual(rc, 0, self.c.describe())
        self.assertIn("pinned %s %s" % (self.hostport, fp2), out)
        self.assertEqual(self.pinned(), [[self.hostport, fp2]])

        rc, out, err = self.c.run("login")
        self.assertEqual(rc, 0, self.c.describe())

    def test_trust_with_matching_fingerprint(self):
        fp = self.srv.fingerprint
        rc, out, err = self.c.run("trust", "--fingerprint", fp)
        self.assertEqual(rc, 0, self.c.describe())
        self.assertIn("pinned %s %s" % (self.hostport, fp), out)
        self.assertEqual(self.pinned(), [[self.hostport, fp]])
        rc, out, err = self.c.run("login")
        self.assertEqual(rc, 0, self.c.describe())
        self.assertNotIn("pinned", err)

    def test_wrong_preexisting_pin(self):
        os.makedirs(self.c.config_dir, exist_ok=True)
        wrong = "SHA256:" + ":".join(["AB"] * 32)
        with open(self.c.known_servers, "w") as f:
            f.write("%s %s\n" % (self.hostport, wrong))
        rc, out, err = self.c.run("login")
        self.assertEqual(rc, nt.EXIT_IDENTITY, self.c.describe())
        self.assertIn("netcfax trust", err)

    def test_known_servers_option(self):
        ks = os.path.join(self.c.home, "elsewhere", "ks")
        os.makedirs(os.path.dirname(ks))
        rc, out, err = self.c.run("login", global_opts=["--known-servers", ks])
        self.assertEqual(rc, 0, self.c.describe())
        self.assertEqual([f for f in read_known(ks) if f[0] == self.hostport],
                         [[self.hostport, self.srv.fingerprint]])
        self.assertFalse(os.path.exists(self.c.known_servers),
                         "the default known_servers file was written despite --known-servers")


def make_ca_and_cert(d, name):
    """A CA and a server certificate it signs for 127.0.0.1, made with the openssl tool."""
    ca_key, ca_crt = os.path.join(d, name + "-ca.key"), os.path.join(d, name + "-ca.crt")
    key, csr, crt = (os.path.join(d, name + x) for x in (".key", ".csr", ".crt"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=" + name + " CA"],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
    ]
    for argv in steps:
        rc, out, err = nt.run_cmd(argv, timeout=60)
        if rc != 0:
            raise AssertionError("%s failed: %s" % (" ".join(argv), err))
    return ca_crt, crt, key


class CaVerification(unittest.TestCase):
    """With ca_file the client verifies chain and address instead of pinning."""

    def test_ca_file(self):
        d = nt.make_temp_dir(self, prefix="ncfx-ca-")
        ca, crt, key = make_ca_and_cert(d, "good")
        other_ca, _, _ = make_ca_and_cert(d, "other")
        srv = nt.Server(self, extra={"tls_cert": crt, "tls_key": key})
        self.assertFalse(os.path.exists(srv.tls_dir), "a certificate was generated anyway")
        srv.add_user("alice", "alice-pw-secret")
        c = nt.Client(srv, "alice", "alice-pw-secret", owner=self)

        rc, out, err = c.run("login", global_opts=("--ca-file", ca))
        self.assertEqual(rc, 0, c.describe())
        self.assertNotIn("pinned", err, c.describe())
        self.assertFalse(os.path.exists(c.known_servers), "CA mode must not pin")

        rc, out, err = c.run("login", global_opts=("--ca-file", other_ca))
        self.assertEqual(rc, 3, c.describe())
        self.assertIn("cannot be verified", err, c.describe())
        # nothing was sent before the failed verification: no login in the server's log
        self.assertEqual(len(nt.logins(srv.log_text(), "alice")), 1, srv.log_text())


if __name__ == "__main__":
    nt.main()

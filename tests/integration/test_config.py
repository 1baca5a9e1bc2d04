#!/usr/bin/env python3
"""netcfaxd -n / --check and client config files: accepted configs, FILE:LINE errors."""
import os
import signal
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402


class ServerConfigCheck(unittest.TestCase):
    def setUp(self):
        nt.check_binaries(nt.NETCFAXD)
        self.dir = nt.make_temp_dir(self)
        self.state = os.path.join(self.dir, "state")

    def write(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def check(self, *args):
        return nt.run_cmd([nt.NETCFAXD] + list(args), env=nt._base_env())

    def good_lines(self):
        return [
            "# netcfaxd test config",
            "",
            "listen = 127.0.0.1",
            "pcp_port = %d" % nt.free_port(),
            "state_dir = %s" % self.state,
            "   # an indented comment",
            "tls_min_version = 1.3",
            "preauth_timeout = 5",
            "max_connections_per_address = 8",
            "login_max_failures_user = 3",
            "login_lockout = 2",
            "max_document_size = 10M",
            "password_hash_cost = 10",
            "log_level = debug",
        ]

    def test_good_config(self):
        path = self.write("good.conf", self.good_lines())
        rc, out, err = self.check("-n", "-c", path)
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("configuration OK", out)

    def test_good_config_long_option(self):
        path = self.write("good.conf", self.good_lines())
        rc, out, err = self.check("--check", "-c", path)
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("configuration OK", out)

    def test_empty_config_is_ok(self):
        path = self.write("empty.conf", ["# nothing but a comment", ""])
        rc, out, err = self.check("-n", "-c", path)
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("configuration OK", out)

    def assert_rejected_at(self, name, lines, lineno):
        path = self.write(name, lines)
        rc, out, err = self.check("-n", "-c", path)
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("%s:%d:" % (name, lineno), err)
        self.assertNotIn("configuration OK", out)
        return err

    def test_unknown_key_names_its_line(self):
        err = self.assert_rejected_at("bad.conf", [
            "listen = 127.0.0.1",
            "pcp_port = 7488",
            "frobnicate = yes",
            "log_level = info",
        ], 3)
        self.assertIn("frobnicate", err)

    def test_bad_port_names_its_line(self):
        self.assert_rejected_at("port.conf", [
            "# comment",
            "listen = 127.0.0.1",
            "",
            "pcp_port = 70000",
        ], 4)

    def test_duplicate_key_names_second_line(self):
        err = self.assert_rejected_at("dup.conf", [
            "listen = 127.0.0.1",
            "login_lockout = 30",
            "# again:",
            "log_level = warn",
            "login_lockout = 60",
        ], 5)
        self.assertIn("login_lockout", err)

    def test_bad_values_name_their_line(self):
        cases = [
            ("max_document_size = 12X", "size"),
            ("password_hash_cost = 9", "cost-low"),
            ("password_hash_cost = 21", "cost-high"),
            ("tls_min_version = 1.1", "tls"),
            ("log_level = chatty", "level"),
            ("preauth_timeout = soon", "timeout"),
            ("login_lockout", "noequals"),
        ]
        for line, tag in cases:
            with self.subTest(line=line):
                self.assert_rejected_at("v-%s.conf" % tag, ["listen = 127.0.0.1", line], 2)

    def test_missing_named_file_is_an_error(self):
        path = os.path.join(self.dir, "does-not-exist.conf")
        rc, out, err = self.check("-n", "-c", path)
        self.assertNotEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("does-not-exist.conf", err)
        self.assertNotIn("configuration OK", out)

    def test_bad_config_does_not_start_daemon(self):
        path = self.write("bad.conf", ["listen = 127.0.0.1", "state_dir = %s" % self.state,
                                       "pcp_port = 0x"])
        rc, out, err = nt.run_cmd([nt.NETCFAXD, "-c", path], env=nt._base_env(), timeout=20)
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("bad.conf:3:", err)


class CommandLineOverrides(unittest.TestCase):
    def test_port_and_state_dir_overrides_and_sigint(self):
        srv = nt.Server(self, start=False)
        port = nt.free_port()
        state = os.path.join(srv.dir, "other-state")
        srv.args = ["-p", str(port), "-s", state]
        srv.port = port
        srv.state_dir = state
        srv.start()
        self.assertIn("listening on 127.0.0.1 port %d" % port, srv.log_text())
        self.assertTrue(os.path.isfile(os.path.join(state, "netcfax.db")), srv.log_text())
        self.assertTrue(os.path.isfile(os.path.join(state, "tls", "server.crt")))
        with nt.raw_connect(srv) as r:
            f = r.request(nt.hello())
            self.assertEqual(f.type, nt.MSG_HELLO_OK, f)
        self.assertEqual(srv.stop(sig=signal.SIGINT), 0, srv.log_text())


class ClientConfigCheck(unittest.TestCase):
    def setUp(self):
        nt.check_binaries(nt.NETCFAX)
        self.home = nt.make_temp_dir(self, prefix="ncfx-home-")
        self.cfgdir = os.path.join(self.home, ".config", "netcfax")
        os.makedirs(self.cfgdir)

    def run_client(self, *args):
        env = nt._base_env()
        env["HOME"] = self.home
        env["NETCFAX_PASSWORD"] = "x"
        return nt.run_cmd([nt.NETCFAX] + list(args), env=env)

    def test_unknown_key_in_client_config(self):
        path = os.path.join(self.cfgdir, "client.conf")
        with open(path, "w") as f:
            f.write("server = 127.0.0.1\nfrobnicate = 1\n")
        rc, out, err = self.run_client("-c", path, "login")
        self.assertNotEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("client.conf:2:", err)

    def test_default_client_config_is_read(self):
        # the default file is $HOME/.config/netcfax/client.conf: its error must show up
        path = os.path.join(self.cfgdir, "client.conf")
        with open(path, "w") as f:
            f.write("# c\nuser = alice\nport = 99999\n")
        rc, out, err = self.run_client("login")
        self.assertNotEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("client.conf:3:", err)


if __name__ == "__main__":
    nt.main()

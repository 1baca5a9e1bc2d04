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

    def test_unknown_key_names_a_near_miss_and_where_options_are(self):
        err = self.assert_rejected_at("typo.conf", ["listen = 127.0.0.1", "pcp_prot = 7488"], 2)
        self.assertIn("unknown option 'pcp_prot' (did you mean 'pcp_port'?)", err)
        self.assertIn("netcfaxd --sample-config", err)

    def test_bad_values_say_what_is_allowed(self):
        cases = [
            ("pcp_port = 70000", "pcp_port: 70000 is out of range; allowed: 1 to 65535"),
            ("max_document_size = 12X", "max_document_size: '12X' is not a size; allowed: "
             "1K to 4G"),
            ("preauth_timeout = soon", "preauth_timeout: 'soon' is not a whole number; "
             "allowed: 1 to 600"),
            ("tls_min_version = 1.1", "tls_min_version: '1.1' is not one of 1.2|1.3"),
            ("relay = maybe", "relay: 'maybe' is not yes or no"),
            ("login_lockout", "expected 'name = value', found 'login_lockout'"),
        ]
        for line, want in cases:
            with self.subTest(line=line):
                err = self.assert_rejected_at("allowed.conf", ["# c", "listen = 127.0.0.1",
                                                               line], 3)
                self.assertIn("allowed.conf:3: " + want, err)

    # Values that only make sense together, or that need more than their syntax to check:
    # each names its file and line, what is wrong and what is allowed, both for -n and at a
    # real start, which stops before it makes anything of its state.
    CROSS_CASES = [
        (["scp_ports = 2000-1000"], 1, "scp_ports: '2000-1000' is not a range; allowed: "
         "LOW-HIGH within 1024-65535"),
        (["direct_retry_max = 100", "# between", "direct_retry_min = 700"], 3,
         "direct_retry_min: 700 is more than direct_retry_max (100, set on line 1); allowed: "
         "at most direct_retry_max"),
        (["fax_numbers = +44 20 7946 0001 alice, 5550102"], 1,
         "fax_numbers: '5550102': want a number and a user name; allowed: NUMBER USER"),
        (["fax_numbers = 5550102 bob", "fax_remotes = 5550199 answer, 5550188 explode"], 2,
         "fax_remotes: '5550188': behaviour 'explode' is none of answer, busy, no-answer, "
         "hangup-after-N, noisy, no-fine"),
        (["fax_numbers = 5550102 bob", "fax_remotes = 555-0102 busy"], 2,
         "fax_remotes: number 555-0102 appears twice"),
        (["fax_station_id = +44 20 7946 0001 extension 12"], 1,
         "fax_station_id: '+44 20 7946 0001 extension 12' is longer than the 20 characters"),
        (["tls_key = /etc/ssl/private/fax.key"], 1, "tls_key: set without tls_cert; set both"),
        (["virtual_modem_account = office"], 1, "virtual_modem_account: set while "
         "virtual_modems is 0; set virtual_modems to the number of modems, or leave "
         "virtual_modem_account empty"),
        (["user = ncfx-no-such-account"], 1, "user = ncfx-no-such-account: there is no such "
         "account on this system; create it as root with: useradd"),
    ]

    def test_checks_across_options_name_their_line(self):
        for extra, at, want in self.CROSS_CASES:
            with self.subTest(lines=extra):
                port = nt.free_port()
                lines = extra + ["listen = 127.0.0.1", "pcp_port = %d" % port,
                                 "state_dir = %s" % self.state]
                path = self.write("cross.conf", lines)
                rc, out, err = self.check("-n", "-c", path)
                self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
                self.assertIn("cross.conf:%d: %s" % (at, want), err)
                self.assertNotIn("configuration OK", out)
                rc, out, err = nt.run_cmd([nt.NETCFAXD, "-c", path], env=nt._base_env(),
                                          timeout=20)
                self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
                self.assertIn("cross.conf:%d: %s" % (at, want), err)
                self.assertFalse(os.path.exists(self.state), "state made: " + err)

    def test_listen_address_names_its_line(self):
        path = self.write("listen.conf", ["state_dir = %s" % self.state, "",
                                          "listen = 127.0.0.1, 999.1.2.3"])
        rc, out, err = self.check("-n", "-c", path)
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("listen.conf:3: listen: '999.1.2.3' is not an address", err)
        self.assertIn("allowed: IPv4 or IPv6 addresses or host names", err)
        # a link-local IPv6 address with its zone is an address
        path = self.write("listen4.conf", ["state_dir = %s" % self.state,
                                           "listen = 127.0.0.1, fe80::1%lo"])
        rc, out, err = self.check("-n", "-c", path)
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        # a host name that does not resolve, found before the start
        path = self.write("listen3.conf", ["state_dir = %s" % self.state,
                                           "listen = no-such-host.invalid"])
        for args in (("-n", "-c", path), ("-c", path)):
            rc, out, err = self.check(*args)
            self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
            self.assertIn("listen3.conf:2: listen: 'no-such-host.invalid' cannot be resolved", err)
        self.assertFalse(os.path.exists(self.state))
        # the same value from the command line is named as such
        path = self.write("listen2.conf", ["state_dir = %s" % self.state])
        rc, out, err = self.check("-n", "-c", path, "-l", "999.1.2.3")
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("command line: listen: '999.1.2.3' is not an address", err)
        rc, out, err = self.check("-n", "-c", path, "-p", "0")
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("command line: pcp_port: 0 is out of range; allowed: 1 to 65535", err)

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

    def write_conf(self, lines):
        path = os.path.join(self.cfgdir, "client.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_bad_values_say_where_and_what_is_allowed(self):
        cases = [
            ("port = 99999", "client.conf:3: port: 99999 is out of range; allowed: 1 to 65535"),
            ("scp = sometimes", "client.conf:3: scp: 'sometimes' is not one of "
             "auto|direct|relay"),
            ("heartbeat = fast", "client.conf:3: heartbeat: 'fast' is not a whole number; "
             "allowed: 2 to 60"),
            ("sever = fax.example.org", "client.conf:3: unknown option 'sever' (did you mean "
             "'server'?); the options are: server, port, user,"),
            ("scp_range = 7599-7500", "client.conf:3: scp_range: '7599-7500' is not a range; "
             "allowed: LOW-HIGH within 1024-65535"),
            ("scp_listen = my-laptop", "client.conf:3: scp_listen: 'my-laptop' is not an IP "
             "address"),
        ]
        for line, want in cases:
            with self.subTest(line=line):
                self.write_conf(["# mine", "server = 127.0.0.1", line])
                rc, out, err = self.run_client("login")
                self.assertEqual(rc, 64, "stdout: %s\nstderr: %s" % (out, err))
                self.assertIn(want, err)

    def test_environment_and_command_line_values_are_named(self):
        self.write_conf(["server = 127.0.0.1"])
        env = nt._base_env()
        env.update(HOME=self.home, NETCFAX_PASSWORD="x", NETCFAX_PORT="seventy")
        rc, out, err = nt.run_cmd([nt.NETCFAX, "login"], env=env)
        self.assertEqual(rc, 64, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("environment variable NETCFAX_PORT: port: 'seventy' is not a whole "
                      "number; allowed: 1 to 65535", err)
        rc, out, err = self.run_client("--scp-range", "80-90", "login")
        self.assertEqual(rc, 64, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("command line: scp_range: '80-90' is not a range", err)

    def test_default_client_config_is_read(self):
        # the default file is $HOME/.config/netcfax/client.conf: its error must show up
        path = os.path.join(self.cfgdir, "client.conf")
        with open(path, "w") as f:
            f.write("# c\nuser = alice\nport = 99999\n")
        rc, out, err = self.run_client("login")
        self.assertNotEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("client.conf:3:", err)


class ClientEnvironment(unittest.TestCase):
    """NETCFAX_SERVER, NETCFAX_PORT and NETCFAX_USER: the command line wins over them, and
    they win over client.conf, which wins over the defaults."""

    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls)
        cls.srv.add_user("alice", "alice-password")
        cls.srv.add_user("bob", "bob-password")

    def setUp(self):
        self.home = nt.make_temp_dir(self, prefix="ncfx-home-")
        os.makedirs(os.path.join(self.home, ".config", "netcfax"))
        self.closed_port = nt.free_port()    # nothing listens there

    def conf(self, **keys):
        with open(os.path.join(self.home, ".config", "netcfax", "client.conf"), "w") as f:
            f.write("portmap = off\n")
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))

    def run_client(self, *args, **env_vars):
        env = nt._base_env()
        env["HOME"] = self.home
        env.update(env_vars)
        return nt.run_cmd([nt.NETCFAX] + list(args), env=env)

    def logged_in_as(self, err):
        for line in err.splitlines():
            if "logged in as " in line:
                return line.split("logged in as ")[1].split()[0]
        return None

    def test_environment_over_file(self):
        self.conf(server="no-such-host.invalid", port=self.closed_port, user="bob")
        rc, out, err = self.run_client("-v", "login", NETCFAX_SERVER="127.0.0.1",
                                       NETCFAX_PORT=str(self.srv.port), NETCFAX_USER="alice",
                                       NETCFAX_PASSWORD="alice-password")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertEqual(self.logged_in_as(err), "alice", err)

    def test_command_line_over_environment(self):
        self.conf(server="127.0.0.1", port=self.srv.port)
        rc, out, err = self.run_client("-v", "-u", "bob", "login", NETCFAX_USER="alice",
                                       NETCFAX_PASSWORD="bob-password")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertEqual(self.logged_in_as(err), "bob", err)
        # -P beats NETCFAX_PORT: the closed port is tried, and fails
        rc, out, err = self.run_client("-P", str(self.closed_port), "-u", "bob", "login",
                                       NETCFAX_PORT=str(self.srv.port),
                                       NETCFAX_PASSWORD="bob-password")
        self.assertEqual(rc, 2, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn(str(self.closed_port), err)
        # -S beats NETCFAX_SERVER
        rc, out, err = self.run_client("-S", "no-such-host.invalid", "-u", "bob", "login",
                                       NETCFAX_SERVER="127.0.0.1",
                                       NETCFAX_PASSWORD="bob-password")
        self.assertEqual(rc, 2, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("no-such-host.invalid", err)

    def test_file_over_defaults_and_empty_variables_count_as_unset(self):
        self.conf(server="127.0.0.1", port=self.srv.port, user="alice")
        rc, out, err = self.run_client("-v", "login", NETCFAX_USER="", NETCFAX_SERVER="",
                                       NETCFAX_PORT="", NETCFAX_PASSWORD="alice-password")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertEqual(self.logged_in_as(err), "alice", err)

    def test_environment_alone_is_enough(self):
        # no client.conf at all
        rc, out, err = self.run_client("--portmap", "off", "--json", "jobs",
                                       NETCFAX_SERVER="127.0.0.1",
                                       NETCFAX_PORT=str(self.srv.port), NETCFAX_USER="bob",
                                       NETCFAX_PASSWORD="bob-password")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))

    def test_help_names_the_variables(self):
        rc, out, err = self.run_client("--help")
        self.assertEqual(rc, 0)
        for var in ("NETCFAX_SERVER", "NETCFAX_PORT", "NETCFAX_USER", "NETCFAX_PASSWORD"):
            self.assertIn(var, out)
        self.assertIn("command line, else the environment", out)


if __name__ == "__main__":
    nt.main()

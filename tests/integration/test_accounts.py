#!/usr/bin/env python3
"""Accounts: netcfax-admin user add/list/passwd/del and netcfax login."""
import json
import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402


class Accounts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls)

    def client(self, user, password):
        return nt.Client(self.srv, user, password, owner=self)

    def list_users_json(self):
        rc, out, err = self.srv.admin("user", "list", "--json")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        data = json.loads(out)
        self.assertIsInstance(data.get("users"), list, out)
        return {u["name"]: u for u in data["users"]}

    def list_users_text(self):
        rc, out, err = self.srv.admin("user", "list")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        users = {}
        for line in out.splitlines():
            f = line.split()
            if f:
                users[f[0]] = f
        return users, out

    # --- netcfax-admin ---

    def test_user_add_and_list(self):
        before = time.time()
        rc, out, err = self.srv.add_user("ann", "ann-pw-1")
        self.assertIn("user ann added", out)

        users, text = self.list_users_text()
        self.assertIn("ann", users, text)
        f = users["ann"]
        self.assertEqual(len(f), 3, text)
        self.assertRegex(f[1], r"^created=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", text)
        self.assertEqual(f[2], "jobs=0", text)

        j = self.list_users_json()
        self.assertIn("ann", j)
        u = j["ann"]
        self.assertIsInstance(u["created"], int)
        self.assertLessEqual(abs(u["created"] - before), 120, u)
        self.assertEqual(u["jobs"], 0)

    def test_add_existing_user_fails(self):
        self.srv.add_user("bea", "bea-pw-1")
        rc, out, err = self.srv.admin("user", "add", "bea", password="other-password")
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("exist", (out + err).lower())
        # the original password still works
        c = self.client("bea", "bea-pw-1")
        rc, out, err = c.run("login")
        self.assertEqual(rc, 0, c.describe())

    def test_add_user_with_password_file(self):
        pwf = os.path.join(nt.make_temp_dir(self), "pw")
        with open(pwf, "w") as f:
            f.write("file-pw-1\n")
        rc, out, err = self.srv.admin("user", "add", "fay", "--password-file", pwf)
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        c = self.client("fay", "file-pw-1")
        rc, out, err = c.run("login")
        self.assertEqual(rc, 0, c.describe())

    def test_passwd(self):
        self.srv.add_user("cat", "cat-old-pass")
        rc, out, err = self.srv.admin("user", "passwd", "cat", password="cat-new-pass")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("password for cat changed", out)
        c = self.client("cat", "cat-old-pass")
        rc, out, err = c.run("login")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())
        rc, out, err = c.run("login", password="cat-new-pass")
        self.assertEqual(rc, 0, c.describe())

    def test_passwd_unknown_user_fails(self):
        rc, out, err = self.srv.admin("user", "passwd", "nobody-here", password="long-enough-pw")
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))

    def test_del_unknown_user_fails(self):
        rc, out, err = self.srv.admin("user", "del", "nobody-here")
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))

    def test_del_user_without_jobs(self):
        self.srv.add_user("dan", "dan-pw-secret")
        rc, out, err = self.srv.admin("user", "del", "dan")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("user dan removed", out)
        self.assertNotIn("dan", self.list_users_json())
        c = self.client("dan", "dan-pw-secret")
        rc, out, err = c.run("login")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())

    def test_del_refuses_pending_job_then_force(self):
        self.srv.add_user("eve", "eve-pw-secret")
        c = self.client("eve", "eve-pw-secret")
        doc = os.path.join(c.home, "eve.tif")
        nt.make_tiff(doc, pages=1, seed=41)
        spool_before = self.srv.spool_files()
        rc, data, err = c.run("send", doc, "--to", "5550100", json=True)
        self.assertEqual(rc, 0, c.describe())
        job_id = data["job"]["id"]
        self.assertEqual(self.list_users_json()["eve"]["jobs"], 1)
        self.assertGreater(len(self.srv.spool_files()), len(spool_before))

        rc, out, err = self.srv.admin("user", "del", "eve")
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("eve", self.list_users_json())
        rc, data, err = c.run("jobs", json=True)
        self.assertEqual(rc, 0, c.describe())
        self.assertEqual([j["state"] for j in data["jobs"] if j["id"] == job_id], ["pending"])

        rc, out, err = self.srv.admin("user", "del", "eve", "--force")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("user eve removed", out)
        self.assertNotIn("eve", self.list_users_json())
        self.assertEqual(self.srv.spool_files(), spool_before, "eve's document left in the spool")
        rows = self.srv.db_query("SELECT COUNT(*) FROM jobs WHERE id = ?", (job_id,))
        self.assertEqual(rows[0][0], 0, "eve's job row left in the store")
        rc, out, err = c.run("login")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())

    def test_del_allowed_when_jobs_cancelled(self):
        self.srv.add_user("gus", "gus-pw-secret")
        c = self.client("gus", "gus-pw-secret")
        doc = os.path.join(c.home, "gus.tif")
        nt.make_tiff(doc, seed=42)
        rc, data, err = c.run("send", doc, "--to", "5550101", json=True)
        self.assertEqual(rc, 0, c.describe())
        rc, data, err = c.run("cancel", str(data["job"]["id"]), json=True)
        self.assertEqual(rc, 0, c.describe())
        rc, out, err = self.srv.admin("user", "del", "gus")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertNotIn("gus", self.list_users_json())

    def test_admin_state_dir_option(self):
        self.srv.add_user("sam", "sam-pw-secret")
        rc, out, err = nt.run_cmd([nt.NETCFAX_ADMIN, "-s", self.srv.state_dir, "user", "list",
                                   "--json"], env=nt._base_env())
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertIn("sam", [u["name"] for u in json.loads(out)["users"]])

    def test_admin_usage_error(self):
        rc, out, err = self.srv.admin("user", "frobnicate", "x")
        self.assertEqual(rc, 64, "stdout: %s\nstderr: %s" % (out, err))
        rc, out, err = self.srv.admin("no-such-command")
        self.assertEqual(rc, 64, "stdout: %s\nstderr: %s" % (out, err))

    def test_admin_fingerprint(self):
        rc, out, err = self.srv.admin("fingerprint")
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        self.assertEqual(out.strip(), self.srv.fingerprint)

    # --- netcfax login ---

    def test_login_text(self):
        self.srv.add_user("hal", "hal-pw-secret")
        c = self.client("hal", "hal-pw-secret")
        rc, out, err = c.run("login")
        self.assertEqual(rc, 0, c.describe())
        m = re.search(r"logged in to 127\.0\.0\.1:(\d+) as hal \(session ([0-9a-f]{16})\)",
                      out)
        self.assertIsNotNone(m, c.describe())
        self.assertEqual(int(m.group(1)), self.srv.port)
        sid = m.group(2)
        self.assertGreater(int(sid, 16), 0)
        # the same string the server logs for that session
        line = self.srv.wait_log(lambda l: re.search(r"session=(\S+) user=hal addr=\S+: logged "
                                                     r"in by password", l), timeout=10.0)
        self.assertIsNotNone(line, self.srv.log_text()[-3000:])
        self.assertEqual(re.search(r"session=(\S+) ", line).group(1), sid, line)

    def test_login_json(self):
        self.srv.add_user("ida", "ida-pw-secret")
        c = self.client("ida", "ida-pw-secret")
        rc, data, err = c.run("login", json=True)
        self.assertEqual(rc, 0, c.describe())
        self.assertIs(data.get("ok"), True, data)
        self.assertEqual(data.get("server"), "127.0.0.1")
        self.assertEqual(data.get("port"), self.srv.port)
        self.assertEqual(data.get("user"), "ida")
        self.assertRegex(data.get("session_id"), r"^[0-9a-f]{16}$", data)
        self.assertGreater(int(data["session_id"], 16), 0)
        line = self.srv.wait_log(lambda l: "session=%s user=ida " % data["session_id"] in l and
                                 "logged in by password" in l, timeout=10.0)
        self.assertIsNotNone(line, self.srv.log_text()[-3000:])
        self.assertEqual(data.get("fingerprint"), self.srv.fingerprint)
        # a second login is another session
        rc, data2, err = c.run("login", json=True)
        self.assertEqual(rc, 0, c.describe())
        self.assertNotEqual(data2["session_id"], data["session_id"])

    def test_login_password_file(self):
        self.srv.add_user("jo", "jo-pw-secret")
        c = self.client("jo", "unused")
        pwf = os.path.join(c.home, "pw")
        with open(pwf, "w") as f:
            f.write("jo-pw-secret\n")
        os.chmod(pwf, 0o600)
        rc, out, err = c.run("login", password=False, global_opts=["--password-file", pwf])
        self.assertEqual(rc, 0, c.describe())

    def test_login_from_client_config(self):
        self.srv.add_user("kim", "kim-pw-secret")
        c = self.client("kim", "unused")
        os.makedirs(c.config_dir, exist_ok=True)
        pwf = os.path.join(c.home, "pw")
        with open(pwf, "w") as f:
            f.write("kim-pw-secret\n")
        os.chmod(pwf, 0o600)
        with open(os.path.join(c.config_dir, "client.conf"), "w") as f:
            f.write("server = 127.0.0.1\nport = %d\nuser = kim\npassword_file = %s\n"
                    % (self.srv.port, pwf))
        rc, out, err = c.run(raw_argv=[nt.NETCFAX, "login"], password=False)
        self.assertEqual(rc, 0, c.describe())
        self.assertIn("as kim", out)

    def test_no_password_without_terminal_is_usage_error(self):
        self.srv.add_user("lou", "lou-pw-secret")
        c = self.client("lou", "unused")
        rc, out, err = c.run("login", password=False)
        self.assertEqual(rc, nt.EXIT_USAGE, c.describe())

    def test_wrong_password_and_unknown_user_look_the_same(self):
        self.srv.add_user("max", "max-pw-secret")
        c = self.client("max", "max-pw-secret")
        # pin the server first so that no first-connection notice differs between the two
        rc, out, err = c.run("login")
        self.assertEqual(rc, 0, c.describe())
        rc, out, err_wrong = c.run("login", password="not-it")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())
        self.assertTrue(err_wrong.startswith("netcfax:"), c.describe())
        rc, out, err_unknown = c.run("login", user="maz", password="not-it")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())
        self.assertEqual(err_wrong.replace("max", "USER"), err_unknown.replace("maz", "USER"))

        rc, dw, _ = c.run("login", json=True, password="not-it")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())
        rc, du, _ = c.run("login", json=True, user="maz", password="not-it")
        self.assertEqual(rc, nt.EXIT_AUTH, c.describe())
        self.assertEqual(dw["error"]["code"], nt.E_AUTH, dw)
        self.assertEqual(du["error"]["code"], nt.E_AUTH, du)
        self.assertEqual(dw["error"]["name"], du["error"]["name"])
        self.assertEqual(dw["error"]["message"].replace("max", "USER"),
                         du["error"]["message"].replace("maz", "USER"))
        # after those failures the right password still works (below the lockout threshold)
        rc, out, err = c.run("login")
        self.assertEqual(rc, 0, c.describe())

    def test_client_usage_errors(self):
        c = self.client("nobody", "x")
        rc, out, err = c.run("no-such-command")
        self.assertEqual(rc, nt.EXIT_USAGE, c.describe())
        rc, out, err = c.run(raw_argv=[nt.NETCFAX, "--help"])
        self.assertEqual(rc, 0, c.describe())
        self.assertIn("login", out)
        rc, out, err = c.run(raw_argv=[nt.NETCFAX, "send", "--help"])
        self.assertEqual(rc, 0, c.describe())
        self.assertIn("--to", out + err)

    def test_server_unreachable_exit_2(self):
        port = nt.free_port()
        c = self.client("nobody", "x")
        argv = [nt.NETCFAX, "-S", "127.0.0.1", "-P", str(port), "-u", "nobody", "login"]
        rc, out, err = c.run(raw_argv=argv)
        self.assertEqual(rc, nt.EXIT_UNREACHABLE, c.describe())


class DualStack(unittest.TestCase):
    """The PCP listens on IPv4 and IPv6 at once; a client reaches it over either."""

    def test_ipv4_and_ipv6(self):
        srv = nt.Server(self, extra={"listen": "127.0.0.1, ::1"})
        log = srv.log_text()
        self.assertIn("listening on 127.0.0.1 port %d" % srv.port, log)
        self.assertIn("listening on ::1 port %d" % srv.port, log)
        srv.add_user("alice", "alice-pw-secret")
        c = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        rc, out, err = c.run("login", json=True, global_opts=("-S", "::1"))
        self.assertEqual(rc, 0, c.describe())
        self.assertEqual(out["observed_addr"], "::1", out)
        rc, out, err = c.run("login", json=True)
        self.assertEqual(rc, 0, c.describe())
        self.assertEqual(out["observed_addr"], "127.0.0.1", out)
        with open(c.known_servers) as f:
            pins = sorted(l.split()[0] for l in f if l.strip())
        self.assertEqual(pins, sorted(["[::1]:%d" % srv.port, "127.0.0.1:%d" % srv.port]))


class DeletedUser(unittest.TestCase):
    def test_open_session_of_deleted_user_sees_nothing_new(self):
        srv = nt.Server(self, extra={"preauth_timeout": 30})
        srv.add_user("bob", "bob-pw-secret")
        r = nt.raw_connect(srv, owner=self)
        self.assertEqual(r.request(nt.hello(), 10).type, nt.MSG_HELLO_OK)
        self.assertEqual(r.request(nt.login_frame("bob", "bob-pw-secret"), 30).type,
                         nt.MSG_LOGIN_OK)
        rc, out, err = srv.admin("user", "del", "bob")
        self.assertEqual(rc, 0, err)
        srv.add_user("carol", "carol-pw-secret")
        carol = nt.Client(srv, "carol", "carol-pw-secret", owner=self)
        doc = os.path.join(carol.home, "c.tif")
        nt.make_tiff(doc, pages=1)
        rc, data, err = carol.run("send", doc, "--to", "5550199", json=True)
        self.assertEqual(rc, 0, carol.describe())
        # bob's old connection lists jobs: carol's job must not be among them
        r.send(nt.frame(nt.MSG_JOB_LIST, reqid=7))
        seen = []
        while True:
            f = r.recv_frame(10)
            self.assertIsNotNone(f, "no JOB_LIST reply")
            if f.type != nt.MSG_JOB_INFO:
                break
            seen.append(f)
        self.assertEqual(seen, [], "a deleted user's session saw another user's job")


class ResumeToken(unittest.TestCase):
    """A watcher's reconnect proves itself with the token of its last login, not scrypt."""

    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls)

    def raw_login(self, user, password, token=None):
        """LOGIN on a fresh connection, with RESUME_TOKEN when token is not None; the reply."""
        c = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(c.request(nt.hello()).type, nt.MSG_HELLO_OK)
        attrs = [nt.a_str(nt.T_USER, user), nt.attr(nt.T_PASSWORD, password.encode())]
        if token is not None:
            attrs.append(nt.attr(nt.T_RESUME_TOKEN, token))
        reply = c.request(nt.frame(nt.MSG_LOGIN, attrs, reqid=2))
        self.assertIsNotNone(reply, "no answer to LOGIN")
        c.close()
        return reply

    def test_resume_token(self):
        self.srv.add_user("rita", "rita-pass-1")
        self.srv.add_user("ross", "ross-pass-1")
        # Asked for with an empty one: given, 32 bytes. Not asked for: not given.
        r = self.raw_login("rita", "rita-pass-1", b"")
        self.assertEqual(r.type, nt.MSG_LOGIN_OK, r)
        t1 = r.bytes(nt.T_RESUME_TOKEN)
        self.assertEqual(len(t1 or b""), 32, r)
        r = self.raw_login("rita", "rita-pass-1")
        self.assertEqual(r.type, nt.MSG_LOGIN_OK, r)
        self.assertFalse(r.has(nt.T_RESUME_TOKEN), r)
        # A valid token stands in for the password check (the wrong password shows it was
        # not checked), and gives the next token.
        r = self.raw_login("rita", "not-her-password", t1)
        self.assertEqual(r.type, nt.MSG_LOGIN_OK, r)
        t2 = r.bytes(nt.T_RESUME_TOKEN)
        self.assertEqual(len(t2 or b""), 32, r)
        self.assertNotEqual(t1, t2)
        self.assertTrue(nt.logins(self.srv.log_text(), "rita", "resume token"),
                        self.srv.log_text())
        # Used once: replayed, the password decides, and it is wrong.
        r = self.raw_login("rita", "not-her-password", t1)
        self.assertEqual(r.error_code, nt.E_AUTH, r)
        # It is rita's: no use for ross.
        r = self.raw_login("ross", "not-his-password", t2)
        self.assertEqual(r.error_code, nt.E_AUTH, r)
        # An unknown token is no failure of its own: the right password still logs in.
        r = self.raw_login("rita", "rita-pass-1", os.urandom(32))
        self.assertEqual(r.type, nt.MSG_LOGIN_OK, r)
        t3 = r.bytes(nt.T_RESUME_TOKEN)
        # A token of another length is a malformed request.
        r = self.raw_login("rita", "rita-pass-1", b"short")
        self.assertEqual(r.error_code, nt.E_BAD_REQUEST, r)
        # A new password ends every token of the user, even one set by another process.
        rc, out, err = self.srv.admin("user", "passwd", "rita", password="rita-pass-1")
        self.assertEqual(rc, 0, err)
        r = self.raw_login("rita", "not-her-password", t3)
        self.assertEqual(r.error_code, nt.E_AUTH, r)
        # t2 was never used, and is no more use than t3 after the new password.
        r = self.raw_login("rita", "not-her-password", t2)
        self.assertEqual(r.error_code, nt.E_AUTH, r)

    def test_lockout_applies_to_tokens(self):
        self.srv.add_user("lena", "lena-pass-1")
        r = self.raw_login("lena", "lena-pass-1", b"")
        token = r.bytes(nt.T_RESUME_TOKEN)
        self.assertEqual(len(token or b""), 32, r)
        for _ in range(5):             # login_max_failures_user
            r = self.raw_login("lena", "wrong")
            self.assertIn(r.error_code, (nt.E_AUTH, nt.E_THROTTLED), r)
        r = self.raw_login("lena", "wrong", token)
        self.assertEqual(r.error_code, nt.E_THROTTLED, r)

    def test_token_longer_than_32_bytes_is_a_malformed_frame(self):
        self.srv.add_user("olga", "olga-pass-1")
        c = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(c.request(nt.hello()).type, nt.MSG_HELLO_OK)
        r = c.request(nt.frame(nt.MSG_LOGIN, [nt.a_str(nt.T_USER, "olga"),
                                              nt.attr(nt.T_PASSWORD, b"olga-pass-1"),
                                              nt.attr(nt.T_RESUME_TOKEN, b"x" * 33)]))
        self.assertEqual(r.type, nt.MSG_ERROR, r)
        self.assertTrue(c.wait_closed(10), "the connection stayed open")
        # and the server goes on serving
        self.assertEqual(self.raw_login("olga", "olga-pass-1").type, nt.MSG_LOGIN_OK)


class ResumeTokenLifetime(unittest.TestCase):
    """A chain of tokens ends resume_token_lifetime after the password login that began it."""

    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls, extra={"resume_token_lifetime": "1"})

    raw_login = ResumeToken.raw_login

    def test_token_of_an_old_chain_is_refused(self):
        self.srv.add_user("tom", "tom-pass-1")
        r = self.raw_login("tom", "tom-pass-1", b"")
        token = r.bytes(nt.T_RESUME_TOKEN)
        self.assertEqual(len(token or b""), 32, r)
        time.sleep(2.5)
        r = self.raw_login("tom", "not-his-password", token)
        self.assertEqual(r.error_code, nt.E_AUTH, r)


if __name__ == "__main__":
    nt.main()

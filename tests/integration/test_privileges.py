#!/usr/bin/env python3
"""Who netcfaxd runs as, and who may read what it writes: started as root with `user` set, it
binds a port below 1024 and then runs as that account, with every file of its state the
account's and closed to everyone else; netcfax-admin run as root leaves nothing of root's
there; wrong setups stop with the command that fixes them. And without any switch, the
server's state and the client's files are closed to group and others."""
import json
import os
import socket
import stat
import subprocess
import sys
import unittest
import uuid

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

BOB_NUMBER = "5550102"
LINE = {"fax_numbers": "5550101 alice, %s bob" % BOB_NUMBER}


def listening(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((nt.HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def walk(top):
    """(path, lstat) of top and of everything below it; links are not followed."""
    out = [(top, os.lstat(top))]
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(root, name)
            try:
                out.append((p, os.lstat(p)))
            except FileNotFoundError:
                pass                  # a temporary file the server removed meanwhile
    return out


def open_to_others(entries):
    return ["%s %04o" % (p, st.st_mode & 0o7777) for p, st in entries
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077]


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def text_file(client):
    path = os.path.join(client.home, "notes.txt")
    with open(path, "w") as f:
        f.write("Minutes of the meeting\n\nEveryone agreed.\n")
    return path


def queue_for_tomorrow(case, client, dest):
    """A job whose fax image (ghostscript's, then ours) stays in the spool."""
    rc, out, err = client.run("send", text_file(client), "--to", dest, "--at", "+1d")
    case.assertEqual(rc, 0, client.describe())


def send_text(case, client, dest):
    """A plain-text fax (set and rendered by ghostscript on the server), sent and waited for."""
    rc, out, err = client.run("send", text_file(client), "--to", dest, "--wait",
                              global_opts=("--json",), timeout=120)
    case.assertEqual(rc, 0, client.describe())
    events = [o.get("event") for o in map(json.loads, filter(str.strip, out.splitlines()))
              if o.get("type") == "notification"]
    case.assertIn("job_done", events, client.describe())


def fax_bob(case, srv):
    """alice faxes bob's number while bob watches; returns (alice, bob, bob's watcher) once
    bob has heard of the fax."""
    alice = nt.Client(srv, "alice", "alice-pw-secret", owner=case)
    bob = nt.Client(srv, "bob", "bob-pw-secret", owner=case)
    watch = nt.Watcher(bob, owner=case)
    watch.wait_status("logged in")
    send_text(case, alice, BOB_NUMBER)
    watch.wait_for(lambda w: any(n["event"] == "fax_received" for n in w.notifications()),
                   what="fax_received")
    return alice, bob, watch


@unittest.skipUnless(os.geteuid() == 0, "starting netcfaxd as root needs root")
class Switch(unittest.TestCase):
    """netcfaxd started as root with `user` set, against a throwaway system account."""

    @classmethod
    def setUpClass(cls):
        nt.check_binaries()
        cls.user = "ncfx-it-" + uuid.uuid4().hex[:8]
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", cls.user], check=True, timeout=60)
        cls.addClassCleanup(subprocess.run, ["userdel", cls.user], timeout=60)
        import pwd
        pw = pwd.getpwnam(cls.user)
        cls.uid, cls.gid = pw.pw_uid, pw.pw_gid

    def server(self, user=True, start=False, **extra):
        keys = dict(LINE, **extra)
        if user:
            keys["user"] = self.user
        # Started in root's group, as a supplementary group, which the switch must not keep.
        srv = nt.Server(self, extra=keys, start=False, prefix=["setpriv", "--groups=0"])
        os.chmod(srv.dir, 0o711)          # the account must get through to its state
        srv.port = nt.free_low_port(range(600, 1000))
        srv.write_conf(pcp_port=srv.port)
        if start:
            srv.start()
        return srv

    def not_the_accounts(self, srv):
        return ["%s %d:%d" % (p, st.st_uid, st.st_gid) for p, st in walk(srv.state_dir)
                if st.st_uid != self.uid or st.st_gid != self.gid]

    def assert_state_is_the_accounts(self, srv):
        entries = walk(srv.state_dir)
        names = {os.path.relpath(p, srv.state_dir) for p, _ in entries}
        self.assertTrue({"netcfax.db", "tls/server.key", "tls/server.crt", "spool/docs"} <= names,
                        sorted(names))
        self.assertEqual(self.not_the_accounts(srv), [])
        self.assertEqual(open_to_others(entries), [])

    def admin_without_user(self, srv, *args, password=None):
        """netcfax-admin with a configuration that does not name the account: it must
        find the account from the state directory's owner."""
        conf = os.path.join(srv.dir, "admin.conf")
        with open(conf, "w") as f:
            f.write("state_dir = %s\npassword_hash_cost = 10\n" % srv.state_dir)
        env = dict(os.environ, NETCFAX_PASSWORD=password or "")
        return nt.run_cmd([nt.NETCFAX_ADMIN, "-c", conf] + list(args), env=env)

    def test_binds_below_1024_then_runs_as_the_account(self):
        srv = self.server()
        # Accounts made as root before the first start: the state directory is the account's.
        srv.add_user("alice", "alice-pw-secret")
        self.assertEqual(self.not_the_accounts(srv), [])
        srv.start()
        self.assertLess(srv.port, 1024)
        self.assertIn("running as %s" % self.user, srv.log_text())
        self.assertNotIn("running as root", srv.log_text())

        st = proc_status(srv.proc.pid)
        for key, want in (("Uid", self.uid), ("Gid", self.gid)):
            self.assertEqual([int(x) for x in st[key].split()], [want] * 4, st)
        self.assertEqual([int(g) for g in st["Groups"].split()], [self.gid], st)
        self.assertEqual(int(st["CapEff"], 16), 0, st)
        self.assertEqual(int(st["CapPrm"], 16), 0, st)
        self.assertEqual(st["NoNewPrivs"].strip(), "1", st)

        # netcfax-admin as root while it runs: no root-owned -wal, -shm or anything else.
        srv.add_user("bob", "bob-pw-secret")
        self.assertEqual(self.not_the_accounts(srv), [])

        # A real client logs in on the low port and faxes bob, who hears of it.
        alice, bob, watch = fax_bob(self, srv)
        self.assertEqual(watch.stop(), 0)
        queue_for_tomorrow(self, alice, BOB_NUMBER)
        self.assert_state_is_the_accounts(srv)
        self.assertEqual(len(os.listdir(os.path.join(srv.spool_dir, "docs"))), 2)

        # Between runs, netcfax-admin as root with a configuration that does not name the
        # account takes the owner of the state; the server starts again as before.
        self.assertEqual(srv.stop(), 0)
        rc, out, err = self.admin_without_user(srv, "user", "add", "carol",
                                               password="carol-pw-secret")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.admin_without_user(srv, "notify", "--all", "back soon")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.not_the_accounts(srv), [])
        srv.start()
        carol = nt.Client(srv, "carol", "carol-pw-secret", owner=self)
        rc, out, err = carol.run("login")
        self.assertEqual(rc, 0, carol.describe())
        self.assert_state_is_the_accounts(srv)

    def test_state_left_by_a_root_run_is_refused_with_the_fix(self):
        srv = self.server(user=False, start=True)
        self.assertIn("running as root: set user in", srv.log_text())
        self.assertEqual(proc_status(srv.proc.pid)["Uid"].split()[1], "0")
        self.assertEqual(srv.stop(), 0)
        self.assertEqual(os.stat(srv.db_path).st_uid, 0)

        srv.write_conf(user=self.user)
        rc, out, err = nt.run_cmd([nt.NETCFAXD, "-c", srv.conf])
        self.assertNotEqual(rc, 0, err)
        self.assertIn("belongs to root, not to %s" % self.user, err)
        self.assertIn("chown -R %s: %s" % (self.user, srv.state_dir), err)
        self.assertNotIn("listening on", err)
        self.assertNotIn("ready", err)
        self.assertFalse(listening(srv.port))
        # netcfax-admin refuses it likewise, rather than adding files of root's.
        rc, out, err = srv.admin("user", "add", "dave", password="dave-pw-secret")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("chown -R %s: %s" % (self.user, srv.state_dir), err)

        # The fix it names works.
        subprocess.run(["chown", "-R", self.user + ":", srv.state_dir], check=True, timeout=60)
        srv.start()
        self.assertIn("running as %s" % self.user, srv.log_text(since_start=True))
        self.assert_state_is_the_accounts(srv)

    def test_unknown_user_is_refused(self):
        srv = self.server(user=False)
        srv.write_conf(user="ncfx-no-such-" + uuid.uuid4().hex[:8])
        for argv in ([nt.NETCFAXD, "-c", srv.conf], [nt.NETCFAXD, "-n", "-c", srv.conf]):
            rc, out, err = nt.run_cmd(argv)
            self.assertEqual(rc, 1, err)
            self.assertIn("there is no such account on this system", err)
            self.assertIn("useradd --system", err)
        self.assertFalse(listening(srv.port))
        self.assertFalse(os.path.exists(srv.state_dir))

    def test_started_as_another_account_is_refused(self):
        srv = self.server()
        port = nt.free_port()                 # an unprivileged start binds no low port
        srv.port = port
        srv.write_conf(pcp_port=port)
        rc, out, err = nt.run_cmd(["setpriv", "--reuid=nobody", "--regid=nogroup",
                                   "--clear-groups", nt.NETCFAXD, "-c", srv.conf])
        self.assertEqual(rc, 1, err)
        self.assertIn("user = %s, but netcfaxd was started as uid" % self.user, err)
        self.assertIn("start it as root", err)
        self.assertFalse(listening(port))


class Modes(unittest.TestCase):
    """Without any switch: what the server and the client write is closed to group and
    others, with the usual umask of whoever runs them (022)."""

    def setUp(self):
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)

    def test_state_and_client_files_are_private(self):
        srv = nt.Server(self, extra=LINE, start=False)
        srv.add_user("alice", "alice-pw-secret")      # the store is netcfax-admin's first
        srv.add_user("bob", "bob-pw-secret")
        srv.start()
        alice, bob, watch = fax_bob(self, srv)
        fax = [n for n in watch.notifications() if n["event"] == "fax_received"][0]["fax"]
        rc, out, err = srv.admin("notify", "bob", "hello")
        self.assertEqual(rc, 0, err)
        watch.wait_for(lambda w: any(n.get("text") == "hello" for n in w.notifications()),
                       what="the message")
        self.assertEqual(watch.stop(), 0)
        queue_for_tomorrow(self, alice, BOB_NUMBER)
        fetched = os.path.join(bob.home, "fax.pdf")
        rc, out, err = bob.run("fetch", str(fax), "-o", fetched)
        self.assertEqual(rc, 0, bob.describe())

        # While the server runs: its store with -wal and -shm, lock, socket, spool, TLS.
        entries = walk(srv.state_dir)
        names = {os.path.relpath(p, srv.state_dir) for p, _ in entries}
        self.assertTrue({".", "netcfax.db", "netcfax.db-wal", "netcfax.db-shm", "netcfaxd.lock",
                         "netcfaxd.wake", "tls/server.key", "tls/server.crt", "spool/docs",
                         "spool/tmp"} <= names, sorted(names))
        # the fax bob received, and the image of alice's job for tomorrow
        self.assertEqual(len(os.listdir(os.path.join(srv.spool_dir, "docs"))), 2)
        self.assertEqual(open_to_others(entries), [])

        # The client's: its configuration directory and pins, and the fax it saved.
        home = [(p, st) for p, st in walk(bob.home) if p.startswith(
            os.path.join(bob.home, ".config"))]
        self.assertIn(bob.known_servers, [p for p, _ in home])
        self.assertEqual(open_to_others(home + [(fetched, os.lstat(fetched))]), [])

    def test_a_store_the_server_made_is_private(self):
        srv = nt.Server(self)                         # the store is the server's first
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        rc, out, err = alice.run("login")
        self.assertEqual(rc, 0, alice.describe())
        entries = walk(srv.state_dir)
        self.assertIn(srv.db_path, [p for p, _ in entries])
        self.assertEqual(open_to_others(entries), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

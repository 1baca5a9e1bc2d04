#!/usr/bin/env python3
"""Bash completion (client/cli/netcfax.bash-completion): sourced in a real bash, the
completion function is called with COMP_WORDS and COMP_CWORD set as bash sets them, and
COMPREPLY is checked: commands, options and their values, documents, address book names,
and job ids read from a real server."""
import os
import stat
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

SCRIPT = os.path.join(nt.SRC_DIR, "client", "cli", "netcfax.bash-completion")

# Sources the script and completes the words given as arguments, the last being the word
# under the cursor; prints COMPREPLY one per line.
DRIVER = r'''
set -u
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_netcfax
printf '%s\n' "${COMPREPLY[@]}"
'''


class Completion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(SCRIPT):
            raise AssertionError("no completion script at " + SCRIPT)
        cls.srv = nt.Server(cls)
        cls.srv.add_user("alice", "alice-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.home = self.alice.home
        self.work = os.path.join(self.home, "docs")
        os.makedirs(self.work)
        self.conf = os.path.join(self.alice.config_dir, "client.conf")

    def complete(self, *words, env=None):
        """COMPREPLY for the command line words (the last one is being completed)."""
        e = nt._base_env()
        e["HOME"] = self.home
        e.update(env or {})
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "complete", SCRIPT,
                            nt.NETCFAX] + list(words), cwd=self.work, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        nt.check_sanitizer_report("completion", p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return sorted(w for w in p.stdout.split("\n") if w)

    def configure(self, password_file=True):
        os.makedirs(self.alice.config_dir, exist_ok=True)
        pw = os.path.join(self.alice.config_dir, "password")
        with open(pw, "w") as f:
            f.write("alice-pw-secret\n")
        os.chmod(pw, 0o600)
        with open(self.conf, "w") as f:
            f.write("server = 127.0.0.1\nport = %d\nuser = alice\nportmap = off\n"
                    % self.srv.port)
            if password_file:
                f.write("password_file = %s\n" % pw)

    def test_commands_and_options(self):
        self.assertEqual(self.complete(""), sorted(
            "login send jobs status cancel suspend resume inbox fetch watch book portmap "
            "trust".split()))
        self.assertEqual(self.complete("s"), ["send", "status", "suspend"])
        self.assertEqual(self.complete("--scp"), ["--scp", "--scp-mode", "--scp-port",
                                                  "--scp-range"])
        # a command after global options and their values
        self.assertEqual(self.complete("-S", "fax.example.org", "--scp", "relay", "jo"),
                         ["jobs"])
        self.assertIn("--wait", self.complete("send", "--w"))
        self.assertEqual(self.complete("inbox", ""), ["delete", "read", "unread"])
        self.assertEqual(self.complete("portmap", ""), ["list", "open", "remove", "status"])
        self.assertEqual(self.complete("book", "a"), ["add"])
        self.assertEqual(self.complete("book", "add", "bob", "5550102", "--n"), ["--note"])

    def test_option_values(self):
        self.assertEqual(self.complete("--scp", ""), ["auto", "direct", "relay"])
        self.assertEqual(self.complete("--scp", "r"), ["relay"])
        self.assertEqual(self.complete("--scp", "=", "d"), ["direct"])   # --scp=d
        self.assertEqual(self.complete("watch", "--scp-mode", ""), ["dynamic", "fixed", "range"])
        self.assertEqual(self.complete("send", "a.pdf", "--resolution", ""),
                         ["fine", "standard"])
        self.assertEqual(self.complete("send", "--paper", "l"), ["letter"])
        self.assertEqual(self.complete("fetch", "7", "--format", ""), ["pdf", "tiff"])
        self.assertEqual(self.complete("portmap", "open", "7485", "--via", ""),
                         ["auto", "natpmp", "upnp"])
        self.assertEqual(self.complete("--portmap", "o"), ["off"])
        # free-form values get no guesses
        self.assertEqual(self.complete("send", "--subject", ""), [])

    def test_documents_for_send(self):
        for name in ("report.pdf", "notes.txt", "scan.tif"):
            open(os.path.join(self.work, name), "w").close()
        os.makedirs(os.path.join(self.work, "old"))
        self.assertEqual(self.complete("send", ""), ["notes.txt", "old", "report.pdf",
                                                     "scan.tif"])
        self.assertEqual(self.complete("send", "notes.txt", "r"), ["report.pdf"])
        self.assertIn("-", self.complete("send", "-"))
        self.assertEqual(self.complete("fetch", "3", "-o", "s"), ["scan.tif"])

    def test_address_book_names(self):
        for name, number in (("bob", "5550102"), ("Barbara", "5550103"), ("carol", "5550104")):
            rc, out, err = self.alice.run("book", "add", name, number)
            self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(self.complete("send", "a.pdf", "--to", ""), ["Barbara", "bob", "carol"])
        self.assertEqual(self.complete("send", "--to", "b"), ["bob"])
        self.assertEqual(self.complete("book", "remove", "c"), ["carol"])
        # a book named by the configuration that -c gives
        other = os.path.join(self.home, "other.conf")
        with open(other, "w") as f:
            f.write("address_book = %s\n" % os.path.join(self.home, "none"))
        self.assertEqual(self.complete("-c", other, "send", "--to", ""), [])

    def test_job_ids_from_the_server(self):
        self.configure()
        doc = os.path.join(self.work, "page.tif")
        nt.make_tiff(doc, pages=1, seed=4)
        ids = []
        for _ in range(3):
            rc, data, err = self.alice.run("send", doc, "--to", "5550199", json=True)
            self.assertEqual(rc, 0, self.alice.describe())
            ids.append(str(data["job"]["id"]))
        pending, held, gone = ids
        for cmd, job in (("suspend", held), ("cancel", gone)):
            rc, out, err = self.alice.run(cmd, job)
            self.assertEqual(rc, 0, self.alice.describe())
        # Asking the server is a login: only when the user turned it on.
        before = self.srv.log_size()
        self.assertEqual(self.complete("cancel", ""), [])
        self.assertNotIn("logged in", self.srv.log_since(before))
        on = {"NETCFAX_COMPLETE_JOBS": "1"}
        self.assertEqual(self.complete("cancel", "", env=on), sorted([pending, held]))
        self.assertEqual(self.complete("suspend", "", env=on), [pending])
        self.assertEqual(self.complete("resume", "", env=on), [held])
        self.assertEqual(self.complete("cancel", pending, "", env=on), [])
        # Nor when the line names another server or account than the configuration's.
        before = self.srv.log_size()
        self.assertEqual(self.complete("-u", "bob", "cancel", "", env=on), [])
        self.assertEqual(self.complete("-S", "127.0.0.1", "resume", "", env=on), [])
        self.assertNotIn("logged in", self.srv.log_since(before))
        # with the password in the environment instead of a file
        self.configure(password_file=False)
        self.assertEqual(self.complete("resume", "", env=dict(on, NETCFAX_PASSWORD="alice-pw-"
                                                              "secret")), [held])

    def test_no_server_asked_without_a_config_or_a_password(self):
        on = {"NETCFAX_COMPLETE_JOBS": "1"}
        # no client.conf: nothing is asked, nothing offered
        self.assertEqual(self.complete("cancel", "", env=on), [])
        # a config, but the password would need a prompt: not asked either
        self.configure(password_file=False)
        before = self.srv.log_size()
        self.assertEqual(self.complete("cancel", "", env=on), [])
        self.assertNotIn("logged in", self.srv.log_since(before))

    def test_install_rule(self):
        # cmake --install of this very build under a scratch DESTDIR (so that nothing of it,
        # /etc included, lands on this machine) puts the script where bash-completion looks
        # for it, under the command's name.
        build = os.path.dirname(nt.BIN_DIR)
        dest = nt.make_temp_dir(self, prefix="ncfx-install-")
        env = dict(os.environ, DESTDIR=dest)
        p = subprocess.run(["cmake", "--install", build], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:])
        found = [os.path.join(d, f) for d, _, files in os.walk(dest) for f in files
                 if d.endswith("/share/bash-completion/completions")]
        self.assertEqual([os.path.basename(f) for f in found], ["netcfax"], p.stdout[-2000:])
        with open(found[0]) as a, open(SCRIPT) as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    nt.main()

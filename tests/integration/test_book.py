#!/usr/bin/env python3
"""The address book: netcfax book add, list, remove; send --to NAME through a real server;
the file private, written whole, capped, and its mistakes named by line."""
import json
import os
import stat
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402


class Book(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls)
        cls.srv.add_user("alice", "alice-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.path = os.path.join(self.alice.config_dir, "addressbook")

    def book(self, *args, expect=0, json_out=False):
        rc, out, err = self.alice.run("book", *args, json=json_out)
        self.assertEqual(rc, expect, self.alice.describe())
        return out if expect == 0 else (out["error"]["message"] if json_out else err)

    def entries(self):
        return [(e["name"], e["number"], e["note"])
                for e in self.book("list", json_out=True)["book"]]

    def test_add_list_remove(self):
        out = self.book()
        self.assertIn("the address book is empty", out)
        self.assertEqual(self.entries(), [])
        self.assertIn("added bob: +44 20 7946 0002",
                      self.book("add", "bob", "+44 20 7946 0002", "--note", "Bob Jones, sales"))
        self.book("add", "Alice.Smith", "5550101")
        self.book("add", "carol-2", "(0)20 7946-0003")
        self.assertEqual(self.entries(), [("Alice.Smith", "5550101", ""),
                                          ("bob", "+44 20 7946 0002", "Bob Jones, sales"),
                                          ("carol-2", "(0)20 7946-0003", "")])
        lines = self.book("list").splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "NUMBER", "NOTE"])
        self.assertEqual(lines[2].split(), ["bob", "+44", "20", "7946", "0002", "Bob", "Jones,",
                                            "sales"])
        # names compare without regard to case
        self.assertIn("removed bob (+44 20 7946 0002)", self.book("remove", "BOB"))
        self.assertEqual([e[0] for e in self.entries()], ["Alice.Smith", "carol-2"])
        # private, and nothing left over from writing it
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.alice.config_dir).st_mode), 0o700)
        self.assertEqual(sorted(os.listdir(self.alice.config_dir)),
                         ["addressbook", "addressbook.lock"])
        with open(self.path) as f:
            body = f.read()
        self.assertIn("Alice.Smith\t5550101\t\n", body)

    def test_mistakes_are_refused_with_what_to_do(self):
        self.book("add", "bob", "5550102")
        cases = [
            (("add", "Bob", "5550103"), "'bob' is already in the address book (5550102); to "
             "change it: netcfax book remove bob"),
            (("add", "9lives", "5550103"), "does not start with a letter"),
            (("add", "bob smith", "5550103"), "has a character a name cannot have"),
            (("add", "x" * 33, "5550103"), "a name has 1 to 32 characters"),
            (("add", "carol", "555-CALL-NOW"), "'555-CALL-NOW' is not a fax number"),
            (("add", "carol", "1" * 65), "at most 64 characters"),
            (("add", "carol", "5550103", "--note", "tab\there"), "a note is at most 200 bytes"),
            (("add", "carol"), "usage: netcfax book add NAME NUMBER"),
            (("remove", "zed"), "'zed' is not in the address book (see 'netcfax book list')"),
            (("rename", "bob"), "unknown book command 'rename'"),
            (("list", "--note", "x"), "--note goes with book add"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.assertIn(want, self.book(*args, expect=64))
        self.assertEqual(self.entries(), [("bob", "5550102", "")])

    def test_options_stand_anywhere_and_other_commands_options_are_refused(self):
        # global options before or after the command's name, the command's own before it
        self.book("add", "bob", "5550102", "--note", "first")
        want = self.book("list", json_out=True)
        self.assertEqual(json.loads(self.book("list", "--json")), want)
        rc, out, err = self.alice.run("--note", "x", "book", "add", "carol", "5550103")
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertIn(("carol", "5550103", "x"), self.entries())
        # another command's option: named, with the command it goes with, as JSON with --json
        cases = [
            (("list", "--to", "5550100"), "--to only goes with send"),
            (("--wait",), "--wait only goes with send"),
            (("--exec", "true"), "--exec only goes with watch"),
            (("-o", "f.pdf"), "-o only goes with fetch"),
            (("--fingerprint", "SHA256:00"), "--fingerprint only goes with trust"),
            (("--unread",), "--unread only goes with inbox"),
            (("--lease", "60"), "--lease only goes with portmap"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.assertIn(want, self.book(*args, expect=64))
                self.assertEqual(self.book(*args, "--json", expect=64, json_out=True), want)
        self.assertIn("unknown or incomplete option '--no-such'", self.book("--no-such",
                                                                           expect=64))
        # each command's --help lists its own options
        out = self.book("--help")
        self.assertIn("--note TEXT", out)
        self.assertNotIn("--to NUMBER", out)
        self.assertEqual(self.entries(), [("bob", "5550102", "first"),
                                          ("carol", "5550103", "x")])

    def test_concurrent_adds_all_land(self):
        # twenty at once: the lock makes each read-modify-write whole
        procs = [subprocess.Popen(self.alice.argv(["book", "add", "n%02d" % i, "55501%02d" % i]),
                                  env=self.alice.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for i in range(20)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            nt.check_sanitizer_report("netcfax book add", err.decode())
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual([e[0] for e in self.entries()], ["n%02d" % i for i in range(20)])

    def write_book(self, text):
        os.makedirs(self.alice.config_dir, exist_ok=True)
        with open(self.path, "w") as f:
            f.write(text)

    def test_file_is_checked_and_capped(self):
        self.write_book("# mine\nbob\t5550102\tBob\n\nbob\t5550103\t\n")
        self.assertIn("addressbook:4: 'bob' is there twice", self.book(expect=64))
        self.write_book("bob 5550102\n")
        self.assertIn("addressbook:1: expected NAME<TAB>NUMBER<TAB>NOTE", self.book(expect=64))
        self.write_book("bob\tfive\t\n")
        self.assertIn("addressbook:1: 'five' is not a fax number", self.book(expect=64))
        self.write_book("bob\t5550102\t" + "x" * 600 + "\n")
        self.assertIn("addressbook:1: line longer than 512 bytes", self.book(expect=64))
        self.write_book("".join("n%04d\t%d\t\n" % (i, 5550000 + i) for i in range(1001)))
        self.assertIn("addressbook:1001: more than 1000 entries", self.book(expect=64))
        self.write_book("#" * (300 * 1024) + "\n")
        self.assertIn("larger than 256 KiB", self.book(expect=64))
        # a full book takes no more, and says what to do
        self.write_book("".join("n%04d\t%d\t\n" % (i, 5550000 + i) for i in range(1000)))
        self.assertIn("the address book is full (1000 entries); remove one first",
                      self.book("add", "zed", "5550999", expect=64))
        self.book("remove", "n0000")
        self.book("add", "zed", "5550999")
        self.assertEqual(len(self.entries()), 1000)

    def test_address_book_option(self):
        other = os.path.join(self.alice.home, "shared", "fax-numbers")
        with open(os.path.join(self.alice.home, "book.conf"), "w") as f:
            f.write("address_book = %s\n" % other)
        conf = ("-c", os.path.join(self.alice.home, "book.conf"))
        rc, out, err = self.alice.run("book", "add", "dan", "5550104", global_opts=conf)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertTrue(os.path.isfile(other))
        self.assertFalse(os.path.exists(self.path))
        rc, data, err = self.alice.run("send", self.tiff(), "--to", "dan", json=True,
                                       global_opts=conf)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(data["job"]["dest"], "5550104")

    def tiff(self):
        path = os.path.join(self.alice.home, "page.tif")
        nt.make_tiff(path, pages=1, seed=3)
        return path

    def test_send_to_a_name(self):
        self.book("add", "bob", "+44 20 7946 0002")
        doc = self.tiff()
        rc, out, err = self.alice.run("send", doc, "--to", "Bob")
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertIn("queued: page.tif to bob at +44 20 7946 0002 (", out)
        rc, data, err = self.alice.run("send", doc, "--to", "bob", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual((data["job"]["dest"], data["to_name"]), ("+44 20 7946 0002", "bob"))
        # the server's own record of the job has the number
        rc, jobs, err = self.alice.run("jobs", json=True)
        [job] = [j for j in jobs["jobs"] if j["id"] == data["job"]["id"]]
        self.assertEqual(job["dest"], "+44 20 7946 0002")
        # a number stays a number, whatever the book holds
        rc, data, err = self.alice.run("send", doc, "--to", "5550199", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(data["job"]["dest"], "5550199")
        self.assertNotIn("to_name", data)

    def test_unknown_names_are_not_sent(self):
        doc = self.tiff()
        before = len(self.srv.spool_files())
        rc, data, err = self.alice.run("send", doc, "--to", "bobb", json=True)
        self.assertEqual(rc, 64, self.alice.describe())
        self.assertIn("--to 'bobb' is not in the address book (see 'netcfax book list'; add it "
                      "with 'netcfax book add bobb NUMBER')", data["error"]["message"])
        # a mistyped number (a letter O for a zero) is neither, and says so
        rc, data, err = self.alice.run("send", doc, "--to", "555O100", json=True)
        self.assertEqual(rc, 64, self.alice.describe())
        self.assertIn("is neither a fax number", data["error"]["message"])
        self.assertEqual(len(self.srv.spool_files()), before)


if __name__ == "__main__":
    nt.main()

#!/usr/bin/env python3
"""The Debian package end to end. cpack builds it from this build; apt-get installs it (dpkg
underneath: it waits for the dpkg lock and fetches a missing dependency); systemd-analyze
verifies the installed unit; the installed netcfaxd is started the way netcfaxd.service starts
it, with the account, capabilities, umask, descriptor limit and seccomp filters (system calls,
address families, no writable and executable memory) read from the installed unit file; the
installed client faxes through it on the software line (ghostscript and tiff2pdf run inside
those filters); in a lab of network namespaces the same sandboxed netcfaxd maps its port on a
miniupnpd router by UPnP and by NAT-PMP. Then dpkg purges the package, and nothing of it may
be left: no file, no state, no configuration, no account, no systemd link.

The unit's mount-namespace options (ProtectSystem=strict, PrivateTmp, ...) need systemd to
run; instead the test checks that netcfaxd wrote nothing outside its state directory.

It needs root and a build configured with -DCMAKE_INSTALL_PREFIX=/usr (scripts/test does
both), and it refuses to run where netcfax is installed or has left anything behind, since the
purge at its end would remove what it did not install."""
import errno
import grp
import json
import os
import pwd
import resource
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import ncfxtest as nt  # noqa: E402

BUILD_DIR = os.environ.get("NETCFAX_BUILD_DIR", "")
CPACK = os.environ.get("NETCFAX_CPACK", "cpack")
UNIT = "/lib/systemd/system/netcfaxd.service"
CONF = "/etc/netcfax/netcfaxd.conf"
STATE = "/var/lib/netcfax"
ACCOUNT = "netcfax"
SYSTEM_PYTHON = "/usr/bin/python3"      # Debian's, with python3-seccomp
CMD_TIMEOUT = 300
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
BOB = ("bob", "bob-pw-secret", "5550102")

# The test's own settings, appended to the installed netcfaxd.conf (removed with it at purge).
TEST_CONF = """
# --- test_package.py ---
password_hash_cost = 10
fax_numbers = %s %s
fax_remotes = 5550199 answer
""" % (BOB[2], BOB[0])

# Run by Debian's python as the service account, after setpriv gave it the unit's
# credentials: loads the seccomp filters systemd would load for the unit, then executes
# ExecStart. Separate filters, as systemd loads them, in its order; the kernel applies the
# strictest answer of all.
SANDBOX = r"""
import errno, json, os, sys
import seccomp

spec = json.loads(sys.argv[1])
argv = sys.argv[2:]

if spec["families"] is not None:
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    for fam in range(0, spec["af_max"]):
        if fam not in spec["families"]:
            f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, fam))
    f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket",
               seccomp.Arg(0, seccomp.GE, spec["af_max"]))
    f.load()

if spec["mdwe"]:
    PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    wx = PROT_WRITE | PROT_EXEC
    f.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
    for name in ("mprotect", "pkey_mprotect"):
        f.add_rule(seccomp.ERRNO(errno.EPERM), name,
                   seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
    f.add_rule(seccomp.ERRNO(errno.EPERM), "shmat",
               seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
    f.load()

# Last, as systemd does: the allow-list has no seccomp() in it.
if spec["allow"] is not None:
    f = seccomp.SyscallFilter(seccomp.ERRNO(spec["errno"]) if spec["errno"] else
                              seccomp.KILL_PROCESS)
    for name in spec["allow"]:
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError):
            pass        # not a system call of this architecture: systemd skips it too
    f.load()

os.execve(argv[0], argv, os.environ)
"""

CAPS = {"CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
        "CAP_SETUID": 7, "CAP_SETGID": 6, "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1,
        "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SYS_ADMIN": 21}


def run(argv, check=True, timeout=CMD_TIMEOUT, env=None, stdin_data=""):
    p = subprocess.run(argv, input=stdin_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, env=env, start_new_session=True)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def apt_env():
    env = dict(os.environ)
    env["DEBIAN_FRONTEND"] = "noninteractive"
    return env


APT = ["apt-get", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"]


def package_status():
    """dpkg's word for the netcfax package ("ii", "rc", ...), or None when dpkg knows none."""
    p = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "netcfax"], check=False, timeout=60)
    status = p.stdout.strip() if p.returncode == 0 else ""
    return None if status[:2] in ("", "un", "pn") else status


def account_exists():
    try:
        pwd.getpwnam(ACCOUNT)
        return True
    except KeyError:
        pass
    try:
        grp.getgrnam(ACCOUNT)
        return True
    except KeyError:
        return False


def systemd_snapshot():
    """Every entry under the trees deb-systemd-helper writes, with its kind and link target."""
    out = set()
    for top in ("/etc/systemd", "/var/lib/systemd"):
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                p = os.path.join(root, name)
                link = os.readlink(p) if os.path.islink(p) else ""
                out.add((p, link))
    return out


def named_netcfax():
    """Paths named like netcfax in the places a package writes."""
    p = run(["find", "/etc", "/usr", "/var/lib", "/var/cache", "/run", "-xdev", "-name",
             "*netcfax*", "-not", "-path", "/var/cache/man/*"], check=False, timeout=120)
    return set(p.stdout.split())


def expand_syscalls(group, seen=None):
    """The system calls of a systemd group, its nested groups included."""
    seen = seen if seen is not None else set()
    if group in seen:
        return set()
    seen.add(group)
    out = run(["systemd-analyze", "syscall-filter", group], timeout=60).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= expand_syscalls(word, seen) if word.startswith("@") else {word}
    return calls


def parse_unit(path):
    """section -> list of (key, value) in file order, continuation lines joined."""
    sections, cur, pending = {}, None, ""
    with open(path) as f:
        for raw in f:
            line = pending + raw.rstrip("\n")
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.startswith("[") and s.endswith("]"):
                cur = sections.setdefault(s[1:-1], [])
                continue
            key, _, value = s.partition("=")
            cur.append((key.strip(), value.strip()))
    return sections


class Unit:
    def __init__(self, path):
        self.service = parse_unit(path).get("Service", [])

    def get(self, key, default=None):
        vals = [v for k, v in self.service if k == key]
        return vals[-1] if vals else default

    def words(self, key):
        """A list setting: each line adds its words, an empty assignment empties it."""
        out = []
        for k, v in self.service:
            if k == key:
                out = [] if v == "" else out + v.split()
        return out

    def yes(self, key):
        return (self.get(key) or "no").lower() in ("yes", "true", "on", "1")

    def exec_start(self):
        value = self.get("ExecStart")
        if value is None:
            raise AssertionError("the unit has no ExecStart")
        if value[0] in "-@+!:" or "%" in value or "$" in value:
            raise AssertionError("ExecStart=%s: prefixes, specifiers and variables are "
                                 "not something this test runs the way systemd would" % value)
        return shlex.split(value)

    def caps_mask(self, key):
        mask = 0
        for name in self.words(key):
            if name not in CAPS:
                raise AssertionError("%s=%s: capability %s is not in the test's table"
                                     % (key, self.get(key), name))
            mask |= 1 << CAPS[name]
        return mask

    def syscall_filter(self):
        """The system calls the unit allows, the way systemd reads SystemCallFilter=: an
        allow-list first (which brings @default with it), then ~ lines taking calls away."""
        entries = [v for k, v in self.service if k == "SystemCallFilter"]
        if not entries:
            return None
        if entries[0].startswith("~"):
            raise AssertionError("SystemCallFilter starts with a deny list; the test runs "
                                 "allow-lists only")
        allow = expand_syscalls("@default")
        for e in entries:
            deny = e.startswith("~")
            calls = set()
            for word in e.lstrip("~").split():
                calls |= expand_syscalls(word) if word.startswith("@") else {word}
            allow = allow - calls if deny else allow | calls
        return sorted(allow)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


@unittest.skipUnless(os.geteuid() == 0, "installing a package needs root")
class Package(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ncfx-pkg-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.daemons = []

    # --- the sandboxed daemon ---

    def daemon_argv(self, unit):
        """ExecStart behind setpriv (the unit's account, groups, capabilities, no new
        privileges) and the seccomp filters of SANDBOX."""
        user = unit.get("User")
        group = unit.get("Group") or user
        argv = ["setpriv"]
        if user:
            argv += ["--reuid=" + user, "--regid=" + group, "--init-groups"]
        ambient = [c.lower().replace("cap_", "") for c in unit.words("AmbientCapabilities")]
        if ambient:
            caps = ",".join("+" + c for c in ambient)
            argv += ["--inh-caps=-all," + caps, "--ambient-caps=-all," + caps]
        if unit.get("CapabilityBoundingSet") is not None:
            bound = [c.lower().replace("cap_", "") for c in unit.words("CapabilityBoundingSet")]
            argv += ["--bounding-set=-all" + "".join(",+" + c for c in bound)]
        if unit.yes("NoNewPrivileges"):
            argv += ["--no-new-privs"]
        families = unit.words("RestrictAddressFamilies")
        err = unit.get("SystemCallErrorNumber")
        spec = {
            "allow": unit.syscall_filter(),
            "errno": getattr(errno, err) if err else 0,
            "families": [int(getattr(socket, f)) for f in families] if families else None,
            "af_max": 46,
            "mdwe": unit.yes("MemoryDenyWriteExecute"),
        }
        return argv + ["--", SYSTEM_PYTHON, "-c", SANDBOX, json.dumps(spec)] + unit.exec_start()

    def start_daemon(self, unit, prefix=()):
        pw = pwd.getpwnam(unit.get("User", "root"))
        umask = int(unit.get("UMask", "0022"), 8)
        nofile = unit.get("LimitNOFILE")
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
               "SHELL": pw.pw_shell, "LANG": "C.UTF-8"}

        def as_systemd_would():
            os.umask(umask)
            if nofile:
                # systemd may raise the hard limit; a root without CAP_SYS_RESOURCE (in a
                # container) may not, and then this runs with what it has.
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                want = min(int(nofile), hard) if hard != resource.RLIM_INFINITY else int(nofile)
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))

        log_path = os.path.join(self.tmp, "netcfaxd-%d.log" % len(self.daemons))
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(list(prefix) + self.daemon_argv(unit), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, env=env, cwd="/",
                                    preexec_fn=as_systemd_would, start_new_session=True)
        self.daemons.append(proc)
        proc.log_path = log_path
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if " ready (state in " in self.log(proc):
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("the installed netcfaxd did not start (exit %r); its log:\n%s"
                             % (proc.poll(), self.log(proc)))

    @staticmethod
    def log(proc):
        with open(proc.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, proc, needle, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log(proc).splitlines():
                if needle in line:
                    return line
            time.sleep(0.1)
        raise AssertionError("no '%s' in the log within %.0f s:\n%s"
                             % (needle, timeout, self.log(proc)))

    def stop_daemon(self, proc):
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise AssertionError("netcfaxd did not stop within %.0f s of SIGTERM:\n%s"
                                 % (STOP_TIMEOUT, self.log(proc)))
        self.assertEqual(rc, 0, self.log(proc))
        self.assertIn(" stopped", self.log(proc).splitlines()[-1])

    def set_test_conf(self, lines):
        """The installed configuration with the test's settings after it."""
        with open(CONF) as f:
            text = f.read().split("\n# --- test_package.py ---\n")[0]
        with open(CONF, "w") as f:
            f.write(text + TEST_CONF + lines)

    # --- the steps ---

    def build_deb(self):
        if not os.path.isfile(os.path.join(BUILD_DIR, "CPackConfig.cmake")):
            raise AssertionError("no CPackConfig.cmake in NETCFAX_BUILD_DIR=%r" % BUILD_DIR)
        out = os.path.join(self.tmp, "deb")
        run([CPACK, "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
             "-B", out])
        debs = [os.path.join(out, n) for n in os.listdir(out) if n.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(out))
        deb = debs[0]
        depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
        for dep in ("ghostscript", "libtiff-tools", "libssl3", "libevent-2.1-7", "libspandsp2",
                    "libsqlite3-0", "libminiupnpc17", "libnatpmp1", "libtiff6"):
            self.assertIn(dep, depends, "Depends of the package")
        conffiles = run(["dpkg-deb", "--info", deb, "conffiles"]).stdout.split()
        self.assertEqual(conffiles, [CONF])
        return deb

    def check_installed(self, files):
        for path in ("/usr/sbin/netcfaxd", "/usr/sbin/netcfax-admin", "/usr/bin/netcfax",
                     "/usr/bin/netcfax-portcheck", CONF,
                     "/usr/share/doc/netcfax/examples/client.conf",
                     "/usr/share/bash-completion/completions/netcfax",
                     "/usr/share/man/man8/netcfaxd.8", "/usr/share/man/man8/netcfax-admin.8",
                     "/usr/share/man/man1/netcfax.1", "/usr/share/man/man1/netcfax-portcheck.1",
                     "/usr/share/man/man5/netcfaxd.conf.5", "/usr/share/man/man5/client.conf.5"):
            self.assertTrue(any(os.path.realpath(f) == os.path.realpath(path) for f in files),
                            "%s is not in dpkg -L netcfax" % path)
            self.assertTrue(os.path.exists(path), path)
        self.assertTrue(os.path.isfile(UNIT), "no unit at %s" % UNIT)
        # The account and its state directory, made by postinst.
        pw = pwd.getpwnam(ACCOUNT)
        self.assertLess(pw.pw_uid, 1000, "not a system account: %r" % (pw,))
        self.assertEqual(pw.pw_shell, "/usr/sbin/nologin")
        self.assertEqual(grp.getgrgid(pw.pw_gid).gr_name, ACCOUNT)
        st = os.stat(STATE)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (pw.pw_uid, pw.pw_gid, 0o700))
        # The configuration as installed is valid and names the account.
        p = run(["/usr/sbin/netcfaxd", "-n", "-c", CONF])
        self.assertEqual(p.stdout.strip(), "configuration OK")
        with open(CONF) as f:
            self.assertIn("\nuser = netcfax\n", f.read())
        # Enabled, although no systemd runs here.
        self.assertTrue(os.path.islink(
            "/etc/systemd/system/multi-user.target.wants/netcfaxd.service"))
        for page in ("netcfaxd", "netcfax-admin", "netcfax", "netcfax-portcheck",
                     "netcfaxd.conf", "client.conf"):
            self.assertTrue(run(["man", "-w", page]).stdout.startswith("/usr/share/man/"),
                            page)

    def check_unit(self):
        p = run(["systemd-analyze", "verify", UNIT], check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("netcfaxd", p.stdout + p.stderr)
        unit = Unit(UNIT)
        self.assertEqual(unit.get("User"), ACCOUNT)
        self.assertEqual(unit.get("StateDirectory"), os.path.basename(STATE))
        self.assertEqual(unit.exec_start()[-2:], ["-c", CONF])
        return unit

    def fax_through_installed(self, unit):
        # From the top down: test_privileges takes its low ports from 600 up.
        if "CAP_NET_BIND_SERVICE" in unit.words("AmbientCapabilities"):
            port = nt.free_low_port(range(1023, 899, -1))
        else:
            port = nt.free_port()
        self.set_test_conf("listen = %s\npcp_port = %d\n" % (nt.HOST, port))
        proc = self.start_daemon(unit)
        pw = pwd.getpwnam(ACCOUNT)
        st = proc_status(proc.pid)
        ids = "%d\t%d\t%d\t%d"
        self.assertEqual(st["Uid"], ids % ((pw.pw_uid,) * 4), st)
        self.assertEqual(st["Gid"], ids % ((pw.pw_gid,) * 4), st)
        self.assertEqual(st["Groups"], str(pw.pw_gid), st)
        amb = unit.caps_mask("AmbientCapabilities")
        self.assertEqual(int(st["CapEff"], 16), amb, st)
        self.assertEqual(int(st["CapAmb"], 16), amb, st)
        self.assertEqual(int(st["CapBnd"], 16), unit.caps_mask("CapabilityBoundingSet"), st)
        self.assertEqual(st["NoNewPrivs"], "1", st)
        self.assertEqual(st["Seccomp"], "2", st)
        self.assertEqual(st["Umask"], unit.get("UMask"), st)

        # The operator's tool as root: it works on the state as netcfax.
        name, password, number = BOB
        env = dict(os.environ, NETCFAX_PASSWORD=password)
        p = run(["/usr/sbin/netcfax-admin", "user", "add", name], env=env)
        self.assertIn("user bob added", p.stdout)

        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        ps, pdf = os.path.join(home, "letter.ps"), os.path.join(home, "letter.pdf")
        with open(ps, "w") as f:
            f.write("%!PS\n/Helvetica findfont 28 scalefont setfont\n"
                    "72 700 moveto (netcfax, as packaged) show showpage\n")
        run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
             "-sOutputFile=" + pdf, ps])
        cenv = dict(env, HOME=home)
        client = ["/usr/bin/netcfax", "-S", nt.HOST, "-P", str(port), "-u", name,
                  "--portmap", "off"]
        p = run(client + ["--json", "send", pdf, "--to", number, "--wait"], env=cenv,
                check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.log(proc))
        events = [json.loads(x).get("event") for x in p.stdout.splitlines() if x.strip()]
        self.assertIn("fax_received", events, p.stdout)
        self.assertEqual(events[-1], "job_done", p.stdout)
        p = run(client + ["--json", "inbox"], env=cenv)
        faxes = json.loads(p.stdout)["faxes"]
        self.assertEqual(len(faxes), 1, p.stdout)
        out = os.path.join(home, "received.pdf")
        run(client + ["fetch", str(faxes[0]["id"]), "-o", out], env=cenv)
        with open(out, "rb") as f:
            self.assertEqual(f.read(5), b"%PDF-", "tiff2pdf's output")

        # Everything netcfaxd wrote is netcfax's and closed to others, and it wrote
        # nowhere but its state directory (what ProtectSystem=strict would enforce).
        for root, dirs, files in os.walk(STATE):
            for n in dirs + files:
                s = os.lstat(os.path.join(root, n))
                self.assertEqual(s.st_uid, pw.pw_uid, os.path.join(root, n))
                self.assertEqual(stat.S_IMODE(s.st_mode) & 0o077, 0, os.path.join(root, n))
        p = run(["find", "/etc", "/usr", "/var", "/tmp", "/run", "/dev/shm", "/opt", "/srv",
                 "/home", "/root", "-xdev", "-user", ACCOUNT, "-not", "-path", STATE,
                 "-not", "-path", STATE + "/*"], check=False, timeout=300)
        self.assertEqual(p.stdout.split(), [], "files of %s outside %s" % (ACCOUNT, STATE))
        self.stop_daemon(proc)

    def portmap_in_lab(self, unit):
        """The sandboxed netcfaxd behind a miniupnpd router maps its port, by UPnP and by
        NAT-PMP (SSDP multicast, HTTP and UDP to the gateway, /proc/net/route), and removes
        the mapping when it stops."""
        sites = nt.TwoSites(self, us="none", uk="both")
        port = 7488
        for via, words in (("upnp", "UPnP"), ("natpmp", "NAT-PMP")):
            self.set_test_conf("listen = 0.0.0.0\npcp_port = %d\nportmap = %s\n" % (port, via))
            proc = self.start_daemon(unit, prefix=sites.lab.prefix("uk-srv"))
            line = self.wait_log(proc, "port mapping: the router (", 30)
            self.assertIn("(%s) forwards %s port %d" % (words, nt.UK_WAN, port), line)
            rule = "dport %d dnat ip to %s:%d" % (port, nt.UK_SERVER, port)
            self.assertIn(rule, sites.ruleset("uk-rtr"))
            self.stop_daemon(proc)
            self.assertNotIn(rule, sites.ruleset("uk-rtr"), "the mapping outlived the stop")

    # --- cleaning up ---

    def stop_all(self):
        for proc in self.daemons:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    def purge(self, before, pre_existing, files):
        """Purges the package; returns what is left that should not be."""
        left = []
        if package_status() is not None:
            p = run(APT + ["purge", "netcfax"], check=False, env=apt_env())
            if p.returncode != 0:
                left.append("apt-get purge netcfax: exit %d: %s" % (p.returncode, p.stderr))
        status = package_status()
        if status is not None:
            left.append("dpkg still knows netcfax: %s" % status)
        for path in files:
            path = os.path.normpath(path)
            if path not in pre_existing and os.path.lexists(path):
                left.append("left from the package: " + path)
        for path in (STATE, os.path.dirname(CONF)):
            if os.path.lexists(path):
                left.append("left: " + path)
        if account_exists():
            left.append("the account or group %s is still there" % ACCOUNT)
        snap, named = systemd_snapshot(), named_netcfax()
        left += ["systemd: new %s" % (p,) for p in sorted(snap - before["systemd"])]
        left += ["systemd: gone %s" % (p,) for p in sorted(before["systemd"] - snap)]
        left += ["new: %s" % p for p in sorted(named - before["named"])]
        return left

    @staticmethod
    def scrub(before, pre_existing, files):
        """What a failed purge left, removed by the test itself, so that a failing run does
        not leave the machine changed either: only what was not there before the test, files
        one by one and directories only when empty, but for the package's own two."""
        def remove(path):
            path = os.path.normpath(path)
            if not path.startswith("/") or path == "/":
                return
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)
            except OSError:
                pass
        if package_status() is not None:
            run(["dpkg", "--purge", "--force-all", "netcfax"], check=False)
        for path in (STATE, os.path.dirname(CONF)):
            shutil.rmtree(path, ignore_errors=True)
        new = set(files) - pre_existing
        new |= {p for p, _link in systemd_snapshot() - before["systemd"]}
        new |= named_netcfax() - before["named"]
        for path in sorted(new, reverse=True):      # a directory after what is in it
            remove(path)
        run(["userdel", ACCOUNT], check=False)
        run(["groupdel", ACCOUNT], check=False)

    def test_install_run_purge(self):
        status = package_status()
        if status is not None or account_exists() or os.path.lexists(STATE) or \
                os.path.lexists(os.path.dirname(CONF)):
            self.fail("netcfax is already here (package: %s; account: %s; %s: %s; %s: %s); "
                      "the test purges what it installs and so will not run over another "
                      "installation: remove it first (apt-get purge netcfax)" % (
                          status, account_exists(), STATE, os.path.lexists(STATE),
                          os.path.dirname(CONF), os.path.lexists(os.path.dirname(CONF))))
        deb = self.build_deb()
        contents = [os.path.normpath("/" + line.split(None, 5)[5].split(" -> ")[0])
                    for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines()]
        pre_existing = {p for p in contents if os.path.lexists(p)}
        before = {"systemd": systemd_snapshot(), "named": named_netcfax()}
        files, ok = [], False
        try:
            run(APT + ["install", os.path.abspath(deb)], env=apt_env())
            files = [os.path.normpath(p) for p in
                     run(["dpkg", "-L", "netcfax"]).stdout.splitlines()]
            self.check_installed(files)
            unit = self.check_unit()
            self.fax_through_installed(unit)
            self.portmap_in_lab(unit)
            ok = True
        finally:
            self.stop_all()
            left = self.purge(before, pre_existing, files or contents)
            if left:
                self.scrub(before, pre_existing, files or contents)
                if not ok:
                    sys.stderr.write("after the purge:\n  " + "\n  ".join(left) + "\n")
        self.assertEqual(left, [], "the purge left these behind")


if __name__ == "__main__":
    unittest.main(verbosity=2)

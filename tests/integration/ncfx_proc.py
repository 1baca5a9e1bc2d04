"""ncfx_proc: what every netcfax integration test stands on (Python 3 standard library only).

Where the binaries and the source tree are ($NETCFAX_BIN_DIR, default <source>/build/bin;
$NETCFAX_SRC_DIR, default <source>), the one registry of the processes and temporary
directories the tests start (removed at a test's cleanup, and at exit when a test aborts),
free loopback ports, and run_cmd, which runs a program with bounded time and fails the test
on any sanitizer report in its output.
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BIN_DIR = os.environ.get("NETCFAX_BIN_DIR") or os.path.join(HERE, "..", "..", "build", "bin")
BIN_DIR = os.path.abspath(BIN_DIR)
SRC_DIR = os.path.abspath(os.environ.get("NETCFAX_SRC_DIR") or os.path.join(HERE, "..", ".."))
NETCFAXD = os.path.join(BIN_DIR, "netcfaxd")
NETCFAX = os.path.join(BIN_DIR, "netcfax")
NETCFAX_ADMIN = os.path.join(BIN_DIR, "netcfax-admin")
NETCFAX_PORTCHECK = os.path.join(BIN_DIR, "netcfax-portcheck")

HOST = "127.0.0.1"
CMD_TIMEOUT = 30.0        # seconds for one client or admin command


# --- cleanup of everything we start, even when a test aborts ---

_live_procs = []
_live_dirs = []


def _atexit_cleanup():
    for p in list(_live_procs):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass
    for d in list(_live_dirs):
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_atexit_cleanup)


def _register_cleanup(owner, fn):
    """owner: a TestCase instance (per test), a TestCase class (per class), None (atexit), or
    anything else with an addCleanup method (scripts/lab_demo.py's)."""
    if owner is None:
        return
    if isinstance(owner, unittest.TestCase) or (not isinstance(owner, type) and
                                                hasattr(owner, "addCleanup")):
        owner.addCleanup(fn)
    elif isinstance(owner, type) and issubclass(owner, unittest.TestCase):
        owner.addClassCleanup(fn)
    else:
        raise TypeError("owner must be a TestCase, a TestCase class or None")


def make_temp_dir(owner=None, prefix="ncfx-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _live_dirs.append(d)

    def rm():
        shutil.rmtree(d, ignore_errors=True)
        if d in _live_dirs:
            _live_dirs.remove(d)
    _register_cleanup(owner, rm)
    return d


def free_port():
    """A TCP port that was free on every address a moment ago, below the kernel's ephemeral
    range: a port the kernel hands out (bind to port 0) is one it also gives the outgoing
    connections other tests make meanwhile, and one of those took a fixed SCP port between
    this check and a watcher's bind. 10000-19999: test_scp's free_range takes from
    20000-31999."""
    import random
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(10000, 20000)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("0.0.0.0", port))
            return port
        except OSError:
            pass
        finally:
            s.close()
    raise AssertionError("no free port in 10000-19999")


def free_low_port(ports):
    """The first port of ports (below 1024, for a server that binds as root or with
    CAP_NET_BIND_SERVICE) that was free on 127.0.0.1 a moment ago."""
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port in %d-%d on %s" % (min(ports), max(ports), HOST))


def check_binaries(*paths):
    """Fails (not skips: a wrong NETCFAX_BIN_DIR must not pass) unless the binaries exist."""
    missing = [p for p in (paths or (NETCFAXD, NETCFAX, NETCFAX_ADMIN))
               if not os.access(p, os.X_OK)]
    if missing:
        raise AssertionError("netcfax binaries not found (set NETCFAX_BIN_DIR): "
                             + ", ".join(missing))


def _base_env():
    env = dict(os.environ)
    for k in ("NETCFAX_PASSWORD", "NETCFAX_SERVER", "NETCFAX_PORT", "NETCFAX_USER",
              "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
        env.pop(k, None)
    return env


def run_cmd(argv, env=None, timeout=CMD_TIMEOUT, stdin_data=None):
    """Runs argv detached from any terminal (so no password prompt can block);
    returns (exit code, stdout, stderr) as text. stdin_data may be text or bytes."""
    if isinstance(stdin_data, bytes):
        p = subprocess.run(argv, env=env, input=stdin_data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, start_new_session=True)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
    else:
        try:
            p = subprocess.run(argv, env=env, input=stdin_data if stdin_data is not None else "",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as e:
            # A client that got no answer: what each running server was doing says why
            raise AssertionError("%s\n%s" % (e, server_stacks())) from None
        out, err = p.stdout, p.stderr
    check_sanitizer_report(argv, err)
    return p.returncode, out, err


def server_stacks(limit=30000):
    """The thread stacks of every netcfaxd this test started and is still running (gdb, where
    installed), as text for a failure message: a server that stopped answering shows where
    its threads wait."""
    gdb = shutil.which("gdb")
    procs = [p for p in _live_procs if p.poll() is None and NETCFAXD in p.args]
    if not gdb or not procs:
        return "(no server thread stacks: %s)" % ("gdb is not installed" if not gdb else
                                                    "no server running")
    out = []
    for p in procs:
        try:
            r = subprocess.run([gdb, "-p", str(p.pid), "-batch", "-nx",
                                "-ex", "thread apply all bt"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=60)
            out.append("== netcfaxd pid %d ==\n%s" % (p.pid, r.stdout))
        except subprocess.TimeoutExpired:
            out.append("== netcfaxd pid %d: gdb did not finish ==" % p.pid)
    return "\n".join(out)[-limit:]


SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def check_sanitizer_report(what, text):
    """In the sanitizer build every netcfax program reports memory errors and leaks on stderr.
    Called on the output of everything run through run_cmd, of Watchers and of the server's
    log: any report fails the test, whatever the program's exit status (a refusal must not
    leak either). Tests that start a program another way call it themselves."""
    for marker in SANITIZER_MARKERS:
        if marker in text:
            raise AssertionError("sanitizer report from %s:\n%s" % (
                " ".join(what) if isinstance(what, (list, tuple)) else what, text[-6000:]))

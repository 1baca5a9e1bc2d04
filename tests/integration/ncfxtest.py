"""ncfxtest: helpers for the netcfax integration tests (Python 3 standard library only).

- Server: a netcfaxd on 127.0.0.1 with a fresh state dir, config and log.
- Client: runs the netcfax command-line client with its own HOME.
- RawConn: speaks the wire protocol (common/proto.h) over TLS or plain TCP, byte by byte.
- make_tiff: writes a minimal uncompressed bilevel fax TIFF by hand.

Binaries come from $NETCFAX_BIN_DIR (default: <source>/build/bin). Every wait is bounded and
every process and temporary directory is cleaned up, also when a test fails.
"""

import atexit
import hashlib
import json as jsonmod
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import tempfile
import time
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
START_TIMEOUT = 20.0      # seconds for netcfaxd to log "ready"
STOP_TIMEOUT = 15.0       # seconds for netcfaxd to exit after SIGTERM
CMD_TIMEOUT = 30.0        # seconds for one client or admin command

FP_RE = re.compile(r"certificate fingerprint (SHA256:(?:[0-9A-F]{2}:){31}[0-9A-F]{2})")
FP_FORMAT_RE = re.compile(r"^SHA256:(?:[0-9A-F]{2}:){31}[0-9A-F]{2}$")

# --- wire protocol constants (common/proto.h) ---
FRAME_HDR = 12
FRAME_MAX = 65536

MSG_HELLO = 0x0001
MSG_HELLO_OK = 0x0002
MSG_ERROR = 0x0003
MSG_OK = 0x0004
MSG_PING = 0x0005
MSG_PONG = 0x0006
MSG_BYE = 0x0007
MSG_LOGIN = 0x0101
MSG_LOGIN_OK = 0x0102
MSG_LOGOUT = 0x0103
MSG_JOB_SUBMIT = 0x0201
MSG_UPLOAD_READY = 0x0202
MSG_UPLOAD_CHUNK = 0x0203
MSG_UPLOAD_END = 0x0204
MSG_JOB_LIST = 0x0205
MSG_JOB_INFO = 0x0206
MSG_JOB_LIST_END = 0x0207
MSG_JOB_CANCEL = 0x0208
MSG_SCP_BIND = 0x0301
MSG_NOTIFY = 0x0302
MSG_NOTIFY_ACK = 0x0303
MSG_SCP_BIND_OK = 0x0304
MSG_NOTIFY_PATH = 0x0401
MSG_PATH_RETRY = 0x0402
MSG_SCP_PROBE = 0x0105
MSG_SCP_PROBE_RESULT = 0x0106

T_VERSION_MIN = 1
T_VERSION_MAX = 2
T_VERSION = 3
T_SOFTWARE = 4
T_ERROR_CODE = 5
T_REASON = 6
T_USER = 7
T_PASSWORD = 8
T_SESSION_ID = 9
T_SCP_PORT = 10
T_SCP_MODE = 11
T_SCP_SECRET = 12
T_JOB_ID = 13
T_STATE = 22
T_SEQ = 27
T_EVENT = 28
T_TEXT = 29
T_MAX_FRAME = 31
T_RETRY_AFTER = 35
T_SCP_PROOF = 37
T_PATH = 38
T_OBSERVED_ADDR = 34
T_PROBE_RESULT = 39
T_ELAPSED_MS = 40
T_RELAY = 41
T_RESUME_TOKEN = 63

E_PROTOCOL = 1
E_VERSION = 2
E_TOO_LARGE = 3
E_UNEXPECTED = 4
E_UNKNOWN_TYPE = 5
E_TIMEOUT = 6
E_BAD_REQUEST = 7
E_AUTH = 10
E_THROTTLED = 11
E_NOT_LOGGED_IN = 12
E_NO_SUCH_JOB = 20
E_BAD_DOCUMENT = 21
E_JOB_STATE = 23
E_LIMIT = 30

# Exit codes of the netcfax client.
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
EXIT_IDENTITY = 3
EXIT_AUTH = 4
EXIT_USAGE = 64
EXIT_INTERNAL = 70


# --- cleanup of everything we start, even when a test aborts ---

_live_procs = []
_live_dirs = []
_live_servers = []     # every Server not yet cleaned up, for the logs of a failed test


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
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


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


def cert_fingerprint_der(der):
    """OpenSSL-style SHA256 fingerprint of a DER certificate: SHA256:AA:BB:..."""
    h = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(h[i:i + 2] for i in range(0, len(h), 2))


# --- the server's log lines ---

def logins(text, user, how=None):
    """The lines of a netcfaxd log that say user logged in (how: "password" or "resume
    token", or either)."""
    pat = re.compile(r"session=[0-9a-f]{16} user=%s addr=\S+: logged in by %s( |$)"
                     % (re.escape(user), re.escape(how) if how else r"(password|resume token)"))
    return [line for line in text.splitlines() if pat.search(line)]


# --- the server ---

class Server:
    """A netcfaxd on 127.0.0.1 with its own temporary state dir, config file and log file.

    owner: TestCase instance or class whose cleanup stops the server and removes the files.
    extra: additional config keys (dict, written in order) that override the defaults below.
    env: environment variables to add for netcfaxd.
    ready: a function of the server that says it is ready, for a server that does not log
    to its stderr (default: a line with "ready" in the log file).
    """

    def __init__(self, owner=None, extra=None, start=True, args=(), prefix=(), env=None,
                 ready=None):
        check_binaries(NETCFAXD, NETCFAX_ADMIN)
        self.args = list(args)          # extra netcfaxd command-line arguments
        self.prefix = list(prefix)      # e.g. ["ip", "netns", "exec", NS]
        self.env = dict(env or {})
        self.ready = ready
        self.dir = make_temp_dir(owner, prefix="ncfx-srv-")
        self.state_dir = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "netcfaxd.conf")
        self.log_path = os.path.join(self.dir, "netcfaxd.log")
        self.port = free_port()
        self.proc = None
        self._log_offset = 0
        keys = {
            "listen": HOST,
            "pcp_port": str(self.port),
            "state_dir": self.state_dir,
            "password_hash_cost": "10",
        }
        if os.environ.get("NCFX_LOG_LEVEL"):   # e.g. debug: spandsp's T.30 trace too
            keys["log_level"] = os.environ["NCFX_LOG_LEVEL"]
        for k, v in (extra or {}).items():
            keys[k] = str(v)
        self.keys = keys
        self.write_conf()
        _live_servers.append(self)
        _register_cleanup(owner, self.cleanup)
        if start:
            self.start()

    def write_conf(self, **changes):
        """Writes the config file, with changes to self.keys (taken at the next start)."""
        for k, v in changes.items():
            self.keys[k] = str(v)
        with open(self.conf, "w") as f:
            f.write("# written by ncfxtest.Server\n")
            for k, v in self.keys.items():
                f.write("%s = %s\n" % (k, v))

    # paths
    @property
    def db_path(self):
        return os.path.join(self.state_dir, "netcfax.db")

    @property
    def spool_dir(self):
        return os.path.join(self.state_dir, "spool")

    @property
    def tls_dir(self):
        return os.path.join(self.state_dir, "tls")

    # process control
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT):
        if self.running():
            raise RuntimeError("server already running")
        logf = open(self.log_path, "ab")
        self._log_offset = logf.tell()
        env = dict(os.environ)
        env.update(self.env)
        try:
            self.proc = subprocess.Popen(self.prefix + [NETCFAXD, "-c", self.conf] + self.args,
                                         stdin=subprocess.DEVNULL, env=env,
                                         stdout=logf, stderr=logf, start_new_session=True)
        finally:
            logf.close()
        _live_procs.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready is not None:
                if self.ready(self):
                    return
            elif any("ready" in line for line in self.log_text(since_start=True).splitlines()):
                return
            if self.proc.poll() is not None:
                raise AssertionError("netcfaxd exited with %d before ready; log:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            time.sleep(0.05)
        self.kill9()
        raise AssertionError("netcfaxd not ready within %.0f s; log:\n%s" % (timeout, self.log_text()))

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """SIGTERM (or sig) and wait; returns the exit status (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError("netcfaxd did not exit within %.0f s of SIGTERM" % timeout)
        return self._reap()

    def kill9(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return self._reap()

    def _reap(self):
        rc = self.proc.returncode
        if self.proc in _live_procs:
            _live_procs.remove(self.proc)
        return rc

    def restart(self):
        if self.running():
            rc = self.stop()
            if rc != 0:
                raise AssertionError("netcfaxd exited %r on SIGTERM" % rc)
        self.start()

    def cleanup(self):
        """Stops the server; a clean SIGTERM exit and a log free of sanitizer reports are part
        of every test, so memory errors in an ASan build fail the test that caused them."""
        rc = 0
        if self in _live_servers:
            _live_servers.remove(self)
        if self.running():
            try:
                rc = self.stop()
            except Exception:
                self.kill9()
                raise
        elif self.proc is not None:
            self._reap()
        text = self.log_text()
        keep = os.environ.get("NCFX_KEEP_LOGS")     # a directory: a copy of every server log
        if keep and os.path.isdir(keep):
            shutil.copy(self.log_path, os.path.join(keep, "netcfaxd-%d-%s.log"
                                                    % (os.getpid(), os.path.basename(self.dir))))
        check_sanitizer_report("the netcfaxd log", text)
        if rc != 0:
            raise AssertionError("netcfaxd exited %r on SIGTERM; log:\n%s" % (rc, text[-3000:]))

    # log
    def log_text(self, since_start=False):
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pred, offset=0, timeout=5.0):
        """Polls the log from offset until a line satisfies pred; returns it or None."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_since(offset).splitlines():
                if pred(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    @property
    def fingerprint(self):
        """The fingerprint logged by the most recent start."""
        m = FP_RE.findall(self.log_text(since_start=True))
        if not m:
            raise AssertionError("no 'certificate fingerprint SHA256:' line in the log:\n"
                                 + self.log_text())
        return m[-1]

    # admin tool
    def admin(self, *args, password=None, timeout=CMD_TIMEOUT, stdin_data=None):
        env = _base_env()
        if password is not None:
            env["NETCFAX_PASSWORD"] = password
        return run_cmd([NETCFAX_ADMIN, "-c", self.conf] + list(args), env=env, timeout=timeout,
                       stdin_data=stdin_data)

    def add_user(self, name, password):
        rc, out, err = self.admin("user", "add", name, password=password)
        if rc != 0:
            raise AssertionError("netcfax-admin user add %s: exit %d\nstdout: %s\nstderr: %s"
                                 % (name, rc, out, err))
        return rc, out, err

    # store (read-only)
    def db_query(self, sql, params=()):
        uri = "file:%s?mode=ro" % self.db_path
        con = sqlite3.connect(uri, uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def db_tables(self):
        return [r[0] for r in self.db_query("SELECT name FROM sqlite_master WHERE type='table'")]

    def db_dump(self, tables=("users", "jobs")):
        """Every row of the given tables, sorted, as a dict table -> list of rows."""
        out = {}
        for t in tables:
            rows = self.db_query('SELECT * FROM "%s"' % t.replace('"', '""'))
            out[t] = sorted(rows, key=repr)
        return out

    def spool_files(self):
        """Relative paths of all regular files under the spool dir."""
        res = []
        if not os.path.isdir(self.spool_dir):
            return res
        for root, _dirs, files in os.walk(self.spool_dir):
            for fn in files:
                p = os.path.join(root, fn)
                if os.path.isfile(p):
                    res.append(os.path.relpath(p, self.spool_dir))
        return sorted(res)

    def spool_hashes(self):
        res = {}
        for rel in self.spool_files():
            with open(os.path.join(self.spool_dir, rel), "rb") as f:
                res[rel] = hashlib.sha256(f.read()).hexdigest()
        return res


# --- the command-line client ---

class Client:
    """Runs netcfax as USER against server with HOME set to a private temporary dir."""

    def __init__(self, server, user, password, owner=None, home=None, prefix=(), host=None):
        check_binaries(NETCFAX)
        self.server = server
        self.user = user
        self.password = password
        self.home = home or make_temp_dir(owner, prefix="ncfx-home-")
        self.last = None
        self.prefix = list(prefix)      # e.g. ["ip", "netns", "exec", NS]
        self.host = host or HOST
        # Port mapping talks to the default gateway and multicasts SSDP: only inside a lab
        # (portmap="auto" there); in the root namespace that would reach a real network.
        self.portmap = "off"

    @property
    def config_dir(self):
        return os.path.join(self.home, ".config", "netcfax")

    @property
    def known_servers(self):
        return os.path.join(self.config_dir, "known_servers")

    def env(self, password=None):
        env = _base_env()
        env["HOME"] = self.home
        pw = self.password if password is None else password
        if pw is not False and pw is not None:
            env["NETCFAX_PASSWORD"] = pw
        return env

    def argv(self, args, json=False, user=None, global_opts=()):
        argv = self.prefix + [NETCFAX, "-S", self.host, "-P", str(self.server.port),
                "-u", user if user is not None else self.user, "--portmap", self.portmap]
        argv += list(global_opts)
        if json:
            argv.append("--json")
        return argv + list(args)

    def run(self, *args, json=False, password=None, user=None, global_opts=(),
            timeout=CMD_TIMEOUT, raw_argv=None, stdin_data=None, env=None):
        """Returns (exit code, stdout, stderr); with json=True, (exit code, parsed stdout, stderr).
        password=False runs without NETCFAX_PASSWORD. stdin_data (text or bytes) is the
        command's standard input; env adds variables to its environment."""
        argv = raw_argv if raw_argv is not None else self.argv(args, json, user, global_opts)
        full_env = self.env(password)
        full_env.update(env or {})
        rc, out, err = run_cmd(argv, env=full_env, timeout=timeout, stdin_data=stdin_data)
        self.last = (argv, rc, out, err)
        if not json:
            return rc, out, err
        try:
            data = jsonmod.loads(out)
        except ValueError:
            raise AssertionError("netcfax %s: stdout is not JSON (exit %d)\nstdout: %r\nstderr: %r"
                                 % (" ".join(args), rc, out, err))
        return rc, data, err

    def describe(self):
        """The last command and its result, for assertion messages."""
        if self.last is None:
            return ""
        argv, rc, out, err = self.last
        return "command: %s\nexit: %d\nstdout: %s\nstderr: %s" % (" ".join(argv), rc, out, err)


# --- raw protocol ---

def attr(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def a_u8(tag, v):
    return attr(tag, struct.pack(">B", v))


def a_u16(tag, v):
    return attr(tag, struct.pack(">H", v))


def a_u32(tag, v):
    return attr(tag, struct.pack(">I", v))


def a_u64(tag, v):
    return attr(tag, struct.pack(">Q", v))


def a_str(tag, s):
    return attr(tag, s.encode("utf-8") if isinstance(s, str) else s)


def frame(mtype, attrs=(), flags=0, reqid=1, length=None):
    """Encodes a frame; length overrides the length field (for malformed frames)."""
    body = b"".join(attrs)
    n = FRAME_HDR + len(body) if length is None else length
    return struct.pack(">IHHI", n, mtype, flags, reqid) + body


def hello(vmin=1, vmax=1, reqid=1):
    return frame(MSG_HELLO, [a_u16(T_VERSION_MIN, vmin), a_u16(T_VERSION_MAX, vmax)], reqid=reqid)


def login_frame(user, password, reqid=2):
    return frame(MSG_LOGIN, [a_str(T_USER, user), attr(T_PASSWORD, password.encode())],
                 reqid=reqid)


class Frame:
    def __init__(self, mtype, flags, reqid, body):
        self.type = mtype
        self.flags = flags
        self.reqid = reqid
        self.body = body
        self.attrs = {}
        off = 0
        while off + 4 <= len(body):
            tag, alen = struct.unpack(">HH", body[off:off + 4])
            off += 4
            self.attrs.setdefault(tag, []).append(body[off:off + alen])
            off += alen

    def has(self, tag):
        return tag in self.attrs

    def bytes(self, tag):
        return self.attrs[tag][0] if tag in self.attrs else None

    def uint(self, tag):
        v = self.bytes(tag)
        if v is None:
            return None
        return int.from_bytes(v, "big")

    def str(self, tag):
        v = self.bytes(tag)
        return None if v is None else v.decode("utf-8", "replace")

    @property
    def error_code(self):
        return self.uint(T_ERROR_CODE) if self.type == MSG_ERROR else None

    def __repr__(self):
        parts = ["type=0x%04x" % self.type, "flags=%d" % self.flags, "reqid=%d" % self.reqid]
        for tag, vals in sorted(self.attrs.items()):
            for v in vals:
                parts.append("%d=%r" % (tag, v[:64]))
        return "Frame(%s)" % ", ".join(parts)


def decode_frames(buf):
    """Splits buf into complete frames; returns (frames, remaining bytes)."""
    frames = []
    while len(buf) >= FRAME_HDR:
        n, mtype, flags, reqid = struct.unpack(">IHHI", buf[:FRAME_HDR])
        if n < FRAME_HDR:
            raise ValueError("server sent a frame with length %d" % n)
        if len(buf) < n:
            break
        frames.append(Frame(mtype, flags, reqid, buf[FRAME_HDR:n]))
        buf = buf[n:]
    return frames, buf


class RawConn:
    """One connection to the server, TLS (default) or plain TCP, with bounded reads."""

    def __init__(self, port, use_tls=True, timeout=10.0, host=HOST):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.local_port = self.sock.getsockname()[1]
        self.tls = use_tls
        self.closed = False
        self.buf = b""
        self.frames = []
        if use_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname=None)
            self.sock.settimeout(timeout)

    @property
    def peer_der(self):
        return self.sock.getpeercert(binary_form=True) if self.tls else None

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, *a, **kw):
        self.send(frame(*a, **kw))

    def _recv_some(self, timeout):
        """Reads once; False on timeout, True if data arrived or the peer closed."""
        if self.closed:
            return True
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True
            return True
        if not data:
            self.closed = True
            return True
        self.buf += data
        frames, self.buf = decode_frames(self.buf) if self.tls else ([], self.buf)
        self.frames.extend(frames)
        return True

    def recv_frame(self, timeout=10.0):
        """Next frame, or None if the connection closed or nothing came within timeout."""
        deadline = time.monotonic() + timeout
        while not self.frames:
            if self.closed:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._recv_some(left)
        return self.frames.pop(0)

    def wait_closed(self, timeout=10.0):
        """Reads (keeping frames) until the peer closes; True if it closed within timeout."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._recv_some(left)
        return True

    def request(self, data, timeout=10.0):
        self.send(data)
        return self.recv_frame(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_connect(server, use_tls=True, timeout=10.0, owner=None):
    c = RawConn(server.port, use_tls=use_tls, timeout=timeout)
    if owner is not None:
        _register_cleanup(owner, c.close)
    return c


# --- documents ---

def make_tiff(path, pages=1, height=200, seed=0, noise=False):
    """Writes a valid little-endian, uncompressed, 1-bit min-is-white TIFF, 1728 pixels wide,
    204x196 dpi, one strip per page, one IFD per page. seed varies the pixels so that two
    documents made with different seeds differ. noise makes every pixel random (from seed): a
    page that compresses badly, so its fax image is about twice the upload. Returns the file
    size."""
    import random
    width = 1728
    rowbytes = width // 8
    entries_per_ifd = 15
    rnd = random.Random(seed)
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))   # first IFD offset patched below
    prev_next_ptr = 4
    for page in range(pages):
        if noise:
            strip = bytearray(rnd.randbytes(rowbytes * height))
        else:
            # white, with a few black bars whose position depends on page and seed
            strip = bytearray(rowbytes * height)
            for row in range(height):
                if (row + page * 7 + seed * 13) % 23 < 3:
                    start = row * rowbytes + ((page * 5 + seed * 11 + row) % (rowbytes - 40))
                    for i in range(start, start + 32):
                        strip[i] = 0xFF
        strip_off = len(out)
        out += strip
        if len(out) % 2:
            out += b"\x00"
        ifd_off = len(out)
        rat_off = ifd_off + 2 + entries_per_ifd * 12 + 4
        struct.pack_into("<I", out, prev_next_ptr, ifd_off)

        def short(tag, v, v2=0):
            return struct.pack("<HHI", tag, 3, 2 if v2 or tag == 297 else 1) + struct.pack("<HH", v, v2)

        def long_(tag, v):
            return struct.pack("<HHII", tag, 4, 1, v)

        def rational(tag, off):
            return struct.pack("<HHII", tag, 5, 1, off)

        ents = [
            long_(254, 2),                       # NewSubfileType: page of a multi-page image
            long_(256, width),                   # ImageWidth
            long_(257, height),                  # ImageLength
            short(258, 1),                       # BitsPerSample
            short(259, 1),                       # Compression: none
            short(262, 0),                       # Photometric: min-is-white
            short(266, 1),                       # FillOrder: msb2lsb
            long_(273, strip_off),               # StripOffsets
            short(277, 1),                       # SamplesPerPixel
            long_(278, height),                  # RowsPerStrip
            long_(279, len(strip)),              # StripByteCounts
            rational(282, rat_off),              # XResolution
            rational(283, rat_off + 8),          # YResolution
            short(296, 2),                       # ResolutionUnit: inch
            short(297, page, pages),             # PageNumber
        ]
        assert len(ents) == entries_per_ifd
        out += struct.pack("<H", len(ents)) + b"".join(ents)
        prev_next_ptr = len(out)
        out += struct.pack("<I", 0)              # next IFD, patched by the next page
        out += struct.pack("<II", 204, 1) + struct.pack("<II", 196, 1)
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


def tiff_pages(path):
    """[(width, height, xres, yres, bits), ...] for each page, read by libtiff's tiffinfo."""
    import re
    out = subprocess.run(["tiffinfo", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=30).stdout
    pages = []
    for block in out.split("TIFF Directory")[1:]:
        w, h = re.search(r"Image Width: (\d+) Image Length: (\d+)", block).groups()
        xr, yr = re.search(r"Resolution: ([\d.]+), ([\d.]+)", block).groups()
        bits = re.search(r"Bits/Sample: (\d+)", block).group(1)
        pages.append((int(w), int(h), round(float(xr)), round(float(yr)), int(bits)))
    return pages


def tiff_bitmaps(path, scratch_dir):
    """The pixels of every page: [(width, height, bytes of 1-bit rows, MSB first), ...].
    libtiff's tiffcp decodes (G3, G4, any fill order) into an uncompressed copy, whose strips
    are then read here; photometric is normalised so 0 bits are white."""
    flat = os.path.join(scratch_dir, "flat-%d.tif" % os.getpid())
    subprocess.run(["tiffcp", "-c", "none", "-f", "msb2lsb", "-r", "1000000", path, flat],
                   check=True, timeout=60)
    with open(flat, "rb") as f:
        data = f.read()
    os.unlink(flat)
    endian = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", data[4:8])
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8}
    pages = []
    while ifd:
        (n,) = struct.unpack(endian + "H", data[ifd:ifd + 2])
        tags = {}
        for i in range(n):
            e = ifd + 2 + 12 * i
            tag, typ, count = struct.unpack(endian + "HHI", data[e:e + 8])
            size = sizes.get(typ, 1) * count
            where = e + 8 if size <= 4 else struct.unpack(endian + "I", data[e + 8:e + 12])[0]
            if typ in (3, 4):
                fmt = endian + ("H" if typ == 3 else "I") * count
                tags[tag] = struct.unpack(fmt, data[where:where + size])
        w, h = tags[256][0], tags[257][0]
        pixels = b"".join(data[o:o + c] for o, c in zip(tags[273], tags[279]))
        if tags.get(262, (0,))[0] == 1:            # min-is-black: make 0 white
            pixels = bytes(255 - b for b in pixels)
        pages.append((w, h, pixels))
        (ifd,) = struct.unpack(endian + "I", data[ifd + 2 + 12 * n:ifd + 6 + 12 * n])
    return pages


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def server_log_tails(lines=60, limit=400):
    """The last lines of every live server's log, and its warnings and errors before them
    (at most limit lines each), as text: what a failed test shows of the servers, since CI
    keeps only the test's output."""
    out = []
    for srv in _live_servers:
        text = srv.log_text().splitlines()
        tail = text[-lines:]
        before = [ln for ln in text[:-lines] if "] warn: " in ln or "] error: " in ln]
        shown = (before[-(limit - len(tail)):] if limit > len(tail) else []) + tail
        out.append("== netcfaxd log %s (%d lines; warnings and errors, then the last %d) ==\n%s"
                   % (srv.log_path, len(text), len(tail), "\n".join(shown)))
    return "\n".join(out)


class _LogTailResult(unittest.TextTestResult):
    """Prints the servers' logs (server_log_tails) when a test fails or errs."""

    def _tails(self):
        text = server_log_tails()
        if text:
            self.stream.write("\n" + text + "\n")
            self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._tails()

    def addError(self, test, err):
        super().addError(test, err)
        self._tails()


def main():
    unittest.main(verbosity=2, testRunner=unittest.TextTestRunner(resultclass=_LogTailResult,
                                                                  verbosity=2))


# --- long-running watchers ---

class Watcher:
    """`netcfax watch --json` (or `send --wait --json`) in the background. A reader thread
    collects its output lines; notifications() and statuses() give what arrived so far."""

    def __init__(self, client, *args, owner=None, prefix=(), global_opts=(), command="watch"):
        import threading
        self.client = client
        argv = list(prefix) + client.argv([command] + list(args), json=True,
                                          global_opts=global_opts)
        self.stderr_path = os.path.join(client.home, "watch-%d.err" % id(self))
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, env=client.env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True,
                                     start_new_session=True)
        _live_procs.append(self.proc)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _register_cleanup(owner, self.stop)

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                obj = jsonmod.loads(line)
            except ValueError:
                obj = {"type": "garbage", "line": line}
            with self._lock:
                self.lines.append(obj)

    def of_type(self, t):
        with self._lock:
            return [o for o in self.lines if o.get("type") == t]

    def notifications(self):
        return self.of_type("notification")

    def statuses(self):
        return [o["message"] for o in self.of_type("status")]

    def wait_for(self, pred, timeout=30.0, what="condition"):
        """Waits (bounded) until pred(self) is true; fails with the watcher's output if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self):
                return
            if self.proc.poll() is not None and not pred(self):
                break
            time.sleep(0.05)
        raise AssertionError("watcher: %s not reached within %.0f s (exit %r)\n%s"
                             % (what, timeout, self.proc.poll(), self.describe()))

    def wait_notifications(self, n, timeout=30.0):
        self.wait_for(lambda w: len(w.notifications()) >= n, timeout,
                      "%d notifications" % n)
        return self.notifications()

    def wait_status(self, needle, timeout=30.0):
        self.wait_for(lambda w: any(needle in m for m in w.statuses()), timeout,
                      "status containing %r" % needle)

    def scp_port(self):
        import re
        for m in self.statuses():
            g = re.search(r"listening for notifications on TCP port (\d+)", m)
            if g:
                return int(g.group(1))
        return None

    def wait_exit(self, timeout=30.0):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("watcher did not exit within %.0f s\n%s"
                                 % (timeout, self.describe()))
        self._reader.join(timeout=10)    # every line it printed is in self.lines now
        return rc

    def describe(self):
        with self._lock:
            out = "\n".join(jsonmod.dumps(o) for o in self.lines[-40:])
        try:
            with open(self.stderr_path) as f:
                err = f.read()[-3000:]
        except OSError:
            err = ""
        return "stdout (last lines):\n%s\nstderr:\n%s" % (out, err)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if not self._err.closed:
            self._err.close()
        if self.proc in _live_procs:
            _live_procs.remove(self.proc)
        with open(self.stderr_path) as f:
            err = f.read()
        check_sanitizer_report("netcfax " + " ".join(self.proc.args[-3:]), err)
        return self.proc.returncode


# --- private mounts (root only) ---

class MountNamespace:
    """A private mount namespace for a test's mounts (tmpfs, read-only binds). A small shell
    holds it: it runs `setup` (shell commands) inside, then waits on its stdin, which only this
    test process holds, and exits when that closes (at cleanup, or when this process dies).
    Mounts made in it exist nowhere else, so however the test ends nothing stays mounted: the
    namespace and its mounts go with the last process inside. prefix() runs a command inside;
    path() reaches a file inside from here, through /proc/PID/root (SQLite resolves that
    symbolic link back to our own namespace: open a database with run() instead)."""

    def __init__(self, owner, setup):
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
             setup + "\necho ready\nexec cat >/dev/null"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        _live_procs.append(self.proc)
        _register_cleanup(owner, self.close)
        line = self.proc.stdout.readline()     # bounded: the shell prints or exits
        if line.strip() != b"ready":
            self.proc.wait(timeout=10)
            raise AssertionError("mount namespace setup failed: %s"
                                 % self.proc.stderr.read().decode(errors="replace"))

    def prefix(self):
        return ["nsenter", "--mount=/proc/%d/ns/mnt" % self.proc.pid, "--"]

    def path(self, p):
        return "/proc/%d/root%s" % (self.proc.pid, os.path.abspath(p))

    def run(self, *argv, stdin=None, timeout=CMD_TIMEOUT):
        """(exit code, stdout, stderr) of argv run inside."""
        p = subprocess.run(self.prefix() + list(argv), input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()
        if self.proc in _live_procs:
            _live_procs.remove(self.proc)


# --- network namespace labs (root only) ---

class NetLab:
    """Hosts and routers as network namespaces of their own. Every interface is created inside
    the lab's namespaces (a veth's two ends straight into the two namespaces), never in the
    root namespace; destroy() (registered as a cleanup) deletes every namespace."""

    def __init__(self, owner, hosts):
        self.tag = "ncfx%d-%d" % (os.getpid(), id(self) % 10000)
        self.ns = {h: "%s-%s" % (self.tag, h) for h in hosts}
        owner.addCleanup(self.destroy)
        for name in self.ns.values():
            self.sh("ip", "netns", "add", name)
            self.sh("ip", "-n", name, "link", "set", "lo", "up")

    @staticmethod
    def sh(*argv, stdin=None):
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("%s: %s" % (" ".join(argv), p.stderr))
        return p.stdout

    def link(self, a, a_if, b, b_if):
        self.sh("ip", "-n", self.ns[a], "link", "add", a_if, "type", "veth", "peer", "name",
                b_if, "netns", self.ns[b])
        self.sh("ip", "-n", self.ns[a], "link", "set", a_if, "up")
        self.sh("ip", "-n", self.ns[b], "link", "set", b_if, "up")

    def addr(self, host, ifname, cidr):
        self.sh("ip", "-n", self.ns[host], "addr", "add", cidr, "dev", ifname)

    def route(self, host, dest, via):
        self.sh("ip", "-n", self.ns[host], "route", "add", dest, "via", via)

    def run(self, host, *argv, stdin=None):
        return self.sh("ip", "netns", "exec", self.ns[host], *argv, stdin=stdin)

    def nft(self, host, rules):
        return self.run(host, "nft", "-f", "-", stdin=rules)

    def set_link(self, host, ifname, up):
        self.sh("ip", "-n", self.ns[host], "link", "set", ifname, "up" if up else "down")

    def prefix(self, host):
        return ["ip", "netns", "exec", self.ns[host]]

    def destroy(self):
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)


ROUTER_CHAINS = (("nat", "prerouting_miniupnpd"), ("nat", "postrouting_miniupnpd"),
                 ("filter", "miniupnpd"))


class Miniupnpd:
    """Debian's miniupnpd in a router namespace, with UPnP and/or NAT-PMP, and a pid file of
    its own (the default one would let only one lab router run at a time). reboot() does what a
    router's reboot does to its mappings: the daemon dies, its chains are flushed, it starts
    again with an empty table (and a NAT-PMP epoch back at zero); with conntrack=True the
    router's connection tracking is flushed too (`conntrack -F`), as a real reboot loses it."""

    def __init__(self, lab, owner, router, lan_if, lan_cidr, wan_if, upnp, natpmp):
        self.lab, self.router = lab, router
        self.dir = make_temp_dir(owner, prefix="ncfx-upnpd-")
        self.conf = os.path.join(self.dir, "miniupnpd.conf")
        self.log_path = os.path.join(self.dir, "miniupnpd.log")
        with open(self.conf, "w") as f:
            f.write("ext_ifname=%s\nlistening_ip=%s\nenable_upnp=%s\nenable_natpmp=%s\n"
                    "secure_mode=yes\nupnp_nat_table_name=nat\nupnp_table_name=filter\n"
                    "uuid=3b8f1d72-5c2e-4a4a-9c9c-%012d\n"
                    "allow 1024-65535 %s 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n"
                    % (wan_if, lan_if, "yes" if upnp else "no", "yes" if natpmp else "no",
                       (os.getpid() * 1000 + id(self)) % 10**12, lan_cidr))
        self.proc = None
        owner.addCleanup(self.stop)
        self.start()

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.lab.prefix(self.router) +
                                         ["miniupnpd", "-f", self.conf, "-d", "-P",
                                          os.path.join(self.dir, "miniupnpd.pid")],
                                         stdout=log, stderr=log, start_new_session=True)
        _live_procs.append(self.proc)
        time.sleep(0.5)     # its listening sockets; the clients retry discovery anyway

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc in _live_procs:
            _live_procs.remove(self.proc)

    def flush(self):
        for table, chain in ROUTER_CHAINS:
            self.lab.run(self.router, "nft", "flush", "chain", "inet", table, chain)

    def flush_conntrack(self):
        self.lab.run(self.router, "conntrack", "-F")

    def reboot(self, conntrack=False):
        self.stop()
        self.flush()
        if conntrack:
            self.flush_conntrack()
        self.start()

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()


def nat_router(lab, owner, router, lan_if, lan_cidr, wan_if, upnp=True, natpmp=True):
    """Makes `router` a NAT router (nftables masquerade on wan_if) running Debian's miniupnpd
    with UPnP and/or NAT-PMP, in the chains miniupnpd's nftables backend expects
    (prerouting_miniupnpd, postrouting_miniupnpd; miniupnpd in inet filter). Returns the
    Miniupnpd; it is killed at cleanup. With upnp and natpmp both False, no miniupnpd runs
    (and None is returned)."""
    lab.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    lab.nft(router, """
table inet nat {
  chain prerouting { type nat hook prerouting priority -100; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; jump postrouting_miniupnpd;
                      oifname "%s" masquerade; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
table inet filter {
  chain forward { type filter hook forward priority 0; policy drop;
                  ct state established,related accept; iifname "%s" accept; jump miniupnpd; }
  chain miniupnpd { }
}
""" % (wan_if, lan_if))
    if not (upnp or natpmp):
        return None
    return Miniupnpd(lab, owner, router, lan_if, lan_cidr, wan_if, upnp, natpmp)


# The two-site lab: offices in the US and the UK, each a LAN behind its own NAT router, the
# routers joined by a WAN. 11.22.33.0/24 is ordinary unicast (miniupnpd refuses to map on a
# private WAN address) that exists only inside the lab's namespaces.
US_LAN, US_GW, US_CLIENT, US_WAN = "192.168.10.0/24", "192.168.10.1", "192.168.10.2", "11.22.33.10"
UK_LAN, UK_GW, UK_SERVER, UK_WAN = "192.168.20.0/24", "192.168.20.1", "192.168.20.2", "11.22.33.20"


class TwoSites:
    """    us-cli 192.168.10.2 -- us-rtr 192.168.10.1 | 11.22.33.10 ==WAN==
           11.22.33.20 | 192.168.20.1 uk-rtr -- uk-srv 192.168.20.2

    us / uk: what each router's miniupnpd offers: "upnp", "natpmp", "both" or "none".
    firewall: "nft" (nftables rules and miniupnpd) or "iptables" (iptables rules only).
    us_clients: US hosts, us-cli, us-cli2, ... at .2, .3, ... on a bridge in the router."""

    def __init__(self, owner, us="upnp", uk="natpmp", us_clients=1, firewall="nft"):
        self.hosts = ["us-cli"] + ["us-cli%d" % i for i in range(2, us_clients + 1)]
        lab = self.lab = NetLab(owner, self.hosts + ["us-rtr", "uk-rtr", "uk-srv"])
        lab.run("us-rtr", "ip", "link", "add", "lan0", "type", "bridge")
        lab.run("us-rtr", "ip", "link", "set", "lan0", "up")
        self.client_addr = {}
        for i, host in enumerate(self.hosts):
            addr = "192.168.10.%d" % (2 + i)
            lab.link(host, "eth0", "us-rtr", "to-%d" % i)
            lab.run("us-rtr", "ip", "link", "set", "to-%d" % i, "master", "lan0")
            lab.addr(host, "eth0", addr + "/24")
            lab.route(host, "default", US_GW)
            self.client_addr[host] = addr
        lab.addr("us-rtr", "lan0", US_GW + "/24")
        lab.link("us-rtr", "wan0", "uk-rtr", "wan0")
        lab.addr("us-rtr", "wan0", US_WAN + "/24")
        lab.addr("uk-rtr", "wan0", UK_WAN + "/24")
        lab.link("uk-srv", "eth0", "uk-rtr", "lan0")
        lab.addr("uk-srv", "eth0", UK_SERVER + "/24")
        lab.addr("uk-rtr", "lan0", UK_GW + "/24")
        lab.route("uk-srv", "default", UK_GW)
        if firewall == "iptables":
            # The routers' base rules in iptables instead (no miniupnpd: its backend here is
            # nftables): masquerade out of wan0, forward only what the LAN opened.
            for router in ("us-rtr", "uk-rtr"):
                lab.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
                for rule in ("-t nat -A POSTROUTING -o wan0 -j MASQUERADE", "-P FORWARD DROP",
                             "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                             "-A FORWARD -i lan0 -j ACCEPT"):
                    lab.run(router, "iptables", *rule.split())
            self.us_router = self.uk_router = None
            return
        self.us_router = nat_router(lab, owner, "us-rtr", "lan0", US_LAN, "wan0",
                                    upnp=us in ("upnp", "both"), natpmp=us in ("natpmp", "both"))
        self.uk_router = nat_router(lab, owner, "uk-rtr", "lan0", UK_LAN, "wan0",
                                    upnp=uk in ("upnp", "both"), natpmp=uk in ("natpmp", "both"))

    def ruleset(self, router):
        return self.lab.run(router, "nft", "list", "ruleset")

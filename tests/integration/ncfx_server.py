"""ncfx_server: a netcfaxd for a test (Python 3 standard library only).

Server starts netcfaxd on 127.0.0.1 with a fresh state directory, config file and log, waits
until it is ready, runs netcfax-admin on its config, reads its store (read-only) and spool,
and at cleanup stops it and fails the test on an unclean exit or a sanitizer report in its
log. logins() and the fingerprint helpers read what a server logs; server_log_tails() is what
a failed test prints of every server still running.
"""

import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

from ncfx_proc import (CMD_TIMEOUT, HOST, NETCFAX_ADMIN, NETCFAXD, _base_env, _live_procs,
                       _register_cleanup, check_binaries, check_sanitizer_report, free_port,
                       make_temp_dir, run_cmd)

START_TIMEOUT = 20.0      # seconds for netcfaxd to log "ready"
STOP_TIMEOUT = 15.0       # seconds for netcfaxd to exit after SIGTERM

FP_RE = re.compile(r"certificate fingerprint (SHA256:(?:[0-9A-F]{2}:){31}[0-9A-F]{2})")
FP_FORMAT_RE = re.compile(r"^SHA256:(?:[0-9A-F]{2}:){31}[0-9A-F]{2}$")

_live_servers = []     # every Server not yet cleaned up, for the logs of a failed test


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

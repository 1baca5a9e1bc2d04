"""ncfx_client: the netcfax command-line client in a test (Python 3 standard library only).

Client runs netcfax as one user against a Server, with a private HOME (its known_servers and
config), and returns exit code, output and errors (parsed JSON with json=True). Watcher keeps
`netcfax watch --json` (or `send --wait --json`) running in the background and collects the
lines it prints. EXIT_* are the client's exit codes.
"""

import json as jsonmod
import os
import re
import signal
import subprocess
import threading
import time

from ncfx_proc import (CMD_TIMEOUT, HOST, NETCFAX, _base_env, _live_procs, _register_cleanup,
                       check_binaries, check_sanitizer_report, make_temp_dir, run_cmd)

# Exit codes of the netcfax client.
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
EXIT_IDENTITY = 3
EXIT_AUTH = 4
EXIT_USAGE = 64
EXIT_INTERNAL = 70


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


# --- long-running watchers ---

class Watcher:
    """`netcfax watch --json` (or `send --wait --json`) in the background. A reader thread
    collects its output lines; notifications() and statuses() give what arrived so far."""

    def __init__(self, client, *args, owner=None, prefix=(), global_opts=(), command="watch"):
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

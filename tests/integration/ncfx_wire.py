"""ncfx_wire: the netcfax wire protocol, byte by byte, for hostile and exact tests.

Frames and attributes are built by hand (attr, a_u8 ... a_str, frame, hello, login_frame) so
that a test can send what no netcfax program would; Frame and decode_frames read the replies;
RawConn is one connection over TLS or plain TCP with bounded reads.

The protocol's numbers are read from common/proto.h when this module is imported (under
$NETCFAX_SRC_DIR, default the source tree this file is in), by common/proto_header.py, the
reader fuzz/make_seeds.py uses too: MSG_<name> for each NCFX_MSG_<name>, T_<name> for each
NCFX_T_<name>, E_<name> for each NCFX_E_<name>, and <name> for each integer #define
NCFX_<name> (FRAME_HDR, FRAME_MAX, ...). A name in NEEDED that the header no longer has fails
the import, naming it.
"""

import importlib.util
import os
import socket
import ssl
import struct
import time

from ncfx_proc import HOST, SRC_DIR, _register_cleanup

PROTO_H = os.path.join(SRC_DIR, "common", "proto.h")

# What the tests use: a header without one of these fails here, not in the middle of a test.
NEEDED = {
    "NCFX_": ("FRAME_HDR", "FRAME_MAX"),
    "NCFX_MSG_": ("HELLO", "HELLO_OK", "ERROR", "OK", "PING", "PONG", "BYE", "LOGIN", "LOGIN_OK",
                  "LOGOUT", "SCP_PROBE", "SCP_PROBE_RESULT", "JOB_SUBMIT", "UPLOAD_READY",
                  "UPLOAD_CHUNK", "UPLOAD_END", "JOB_LIST", "JOB_INFO", "JOB_LIST_END",
                  "JOB_CANCEL", "SCP_BIND", "NOTIFY", "NOTIFY_ACK", "SCP_BIND_OK",
                  "NOTIFY_PATH", "PATH_RETRY"),
    "NCFX_T_": ("VERSION_MIN", "VERSION_MAX", "VERSION", "SOFTWARE", "ERROR_CODE", "REASON",
                "USER", "PASSWORD", "SESSION_ID", "SCP_PORT", "SCP_MODE", "SCP_SECRET", "JOB_ID",
                "STATE", "SEQ", "EVENT", "TEXT", "MAX_FRAME", "OBSERVED_ADDR", "RETRY_AFTER",
                "SCP_PROOF", "PATH", "PROBE_RESULT", "ELAPSED_MS", "RELAY", "RESUME_TOKEN"),
    "NCFX_E_": ("PROTOCOL", "VERSION", "TOO_LARGE", "UNEXPECTED", "UNKNOWN_TYPE", "TIMEOUT",
                "BAD_REQUEST", "AUTH", "THROTTLED", "NOT_LOGGED_IN", "NO_SUCH_JOB",
                "BAD_DOCUMENT", "JOB_STATE", "LIMIT"),
}


def _protocol_constants(path):
    """{Python name: value} of proto.h's defines, message types, tags and error codes."""
    spec = importlib.util.spec_from_file_location(
        "proto_header", os.path.join(os.path.dirname(path), "proto_header.py"))
    proto_header = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(proto_header)
    header = proto_header.ProtoHeader(path)
    tables = {"NCFX_": header.defines("NCFX_"),
              "NCFX_MSG_": header.enum("ncfx_msg_type", "NCFX_MSG_"),
              "NCFX_T_": header.enum("ncfx_tag", "NCFX_T_"),
              "NCFX_E_": header.enum("ncfx_error", "NCFX_E_")}
    lacking = [n for prefix, table in tables.items()
               for n in proto_header.missing(table, NEEDED[prefix], prefix)]
    if lacking:
        raise ImportError("%s has no %s" % (path, ", ".join(lacking)))
    out = {}
    for prefix, table in tables.items():
        py = prefix[len("NCFX_"):]
        out.update((py + name, value) for name, value in table.items() if name != "_COUNT")
    return out


_CONSTANTS = _protocol_constants(PROTO_H)
globals().update(_CONSTANTS)
# What this module uses itself, bound by name too, so that readers and linters see them.
(FRAME_HDR, MSG_HELLO, MSG_LOGIN, MSG_ERROR, T_VERSION_MIN, T_VERSION_MAX, T_USER, T_PASSWORD,
 T_ERROR_CODE) = (_CONSTANTS[n] for n in (
     "FRAME_HDR", "MSG_HELLO", "MSG_LOGIN", "MSG_ERROR", "T_VERSION_MIN", "T_VERSION_MAX",
     "T_USER", "T_PASSWORD", "T_ERROR_CODE"))


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

#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_scp, fuzz_reply, fuzz_natpmp, fuzz_rtp and fuzz_udptl, and the JOB_SUBMIT
seeds of fuzz_frame, into fuzz/corpus/. Message types and attribute tags are read from common/proto.h
(by common/proto_header.py), so the seeds follow the protocol header. Run from anywhere:
python3 fuzz/make_seeds.py"""
import hashlib
import importlib.util
import os
import struct
import sys

sys.dont_write_bytecode = True   # no __pycache__ beside common/proto.h
HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "proto_header", os.path.join(HERE, "..", "common", "proto_header.py"))
proto_header = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proto_header)
PROTO = proto_header.ProtoHeader()

MSG = PROTO.enum("ncfx_msg_type", "NCFX_MSG_")
TAG = PROTO.enum("ncfx_tag", "NCFX_T_")
U8 = {"SCP_MODE", "FORMAT", "STATE", "PATH", "PROBE_RESULT", "RELAY", "RESOLUTION", "PAPER",
      "PRIORITY", "MAX_TRIES", "MAX_DIALS", "TRIES", "DIALS", "READ", "ECM", "PART"}
U16 = {"VERSION_MIN", "VERSION_MAX", "VERSION", "SCP_PORT", "EVENT", "OBSERVED_PORT"}
U32 = {"ERROR_CODE", "UPLOAD_ID", "PAGES", "COUNT", "HEARTBEAT", "MAX_FRAME", "RETRY_AFTER",
       "ELAPSED_MS", "PAGE", "BIT_RATE"}
U64 = {"SESSION_ID", "JOB_ID", "SIZE", "OFFSET", "CREATED", "UPDATED", "SEQ", "MAX_DOCUMENT",
       "SEND_AT", "KILL_AT", "NEXT_TRY", "FAX_ID"}
STR = {"SOFTWARE", "REASON", "USER", "FILENAME", "DEST", "TEXT", "SERVER_NAME", "OBSERVED_ADDR",
       "OWNER", "REMOTE_ID", "COVER_FROM", "COVER_TO", "SUBJECT", "MEDIA"}
BYTES = {"PASSWORD", "SCP_SECRET", "DATA", "SHA256", "SCP_PROOF", "RESUME_TOKEN"}
# Every tag of proto.h has its type here: a new tag must be added to one of the sets.
_typed = [U8, U16, U32, U64, STR, BYTES]
for _name in TAG:
    if _name != "_COUNT" and sum(_name in t for t in _typed) != 1:
        raise SystemExit("make_seeds.py: give tag %s one type (U8 ... BYTES)" % _name)
MORE = 0x0001

# fuzz_scp.c's session and the proof it expects.
SESSION_ID = 0x5EED5EED00000001
PROOF = b"PROOF-of-the-server-for-fuzzing!"
assert len(PROOF) == 32
NOW = 1700000000  # fuzz_frame.c's clock


def attr(name, value):
    if name in U8:
        v = struct.pack(">B", value)
    elif name in U16:
        v = struct.pack(">H", value)
    elif name in U32:
        v = struct.pack(">I", value)
    elif name in U64:
        v = struct.pack(">Q", value)
    elif name in STR:
        v = value.encode()
    elif name in BYTES:
        v = bytes(value)
    else:
        raise KeyError(name)
    return struct.pack(">HH", TAG[name], len(v)) + v


def frame(msg, *attrs, reqid=0, flags=0, raw_tail=b""):
    body = b"".join(attr(n, v) for n, v in attrs) + raw_tail
    return struct.pack(">IHHI", 12 + len(body), MSG[msg], flags, reqid) + body


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def notify(seq, event, **kw):
    attrs = [("SEQ", seq), ("EVENT", event)] + [(k.upper(), v) for k, v in kw.items()]
    return frame("NOTIFY", *attrs)


def scp_seeds():
    bind = frame("SCP_BIND", ("SESSION_ID", SESSION_ID), ("SCP_PROOF", PROOF))
    job = notify(4, 1, job_id=17, state=1, text="queued", dest="+44 20 7946 0001",
                 filename="letter.pdf", created=NOW)
    page = notify(5, 4, job_id=17, state=3, page=1, pages=3, bit_rate=14400, ecm=1,
                  remote_id="+44 20 7946 0001", media="T.38")
    done = notify(6, 5, job_id=17, state=4, pages=3, text="sent")
    fax = notify(7, 8, fax_id=9, pages=2, dest="5550102", remote_id="ACME", media="G.711")
    msg = notify(8, 9, text="server maintenance at 22:00 \u00e9t\u00e9")
    write("scp", "bind_only", bind)
    write("scp", "bind_notifies", bind + job + page + done + fax + msg)
    write("scp", "bind_ping", bind + frame("PING", ("SEQ", 42)) + frame("PING") + job)
    write("scp", "resent_and_old", bind + job + job + notify(2, 1) + page)
    write("scp", "unknown_event", bind + notify(10, 999, text="from a newer server"))
    write("scp", "wrong_session", frame("SCP_BIND", ("SESSION_ID", SESSION_ID + 1),
                                        ("SCP_PROOF", PROOF)) + job)
    write("scp", "wrong_proof", frame("SCP_BIND", ("SESSION_ID", SESSION_ID),
                                      ("SCP_PROOF", bytes(32))) + job)
    write("scp", "notify_first", job + bind)
    write("scp", "unexpected_after_bind", bind + frame("JOB_LIST_END", ("COUNT", 0)) + job)
    write("scp", "truncated", (bind + job)[:-5])
    # The PCP's own frames, relayed: what notice_pcp reads (notice_scp stops at the first).
    path = frame("NOTIFY_PATH", ("PATH", 2),
                 ("REASON", "connect-back to 192.0.2.7:7485 failed: timed out"))
    write("scp", "pcp_relayed", path + notify(4, 1, job_id=3) + frame("PONG") +
          frame("OK", reqid=5) + frame("ERROR", ("ERROR_CODE", 7),
                                       ("REASON", "SCP port 80 refused"), reqid=6) +
          frame("NOTIFY_PATH", ("PATH", 1)) + notify(5, 5, job_id=3))
    write("scp", "pcp_closed", notify(4, 9, text="hello") +
          frame("ERROR", ("ERROR_CODE", 6), ("REASON", "idle"), reqid=0) + notify(5, 9))
    # The frame a watcher sends back when an SCP_BIND for another session reached it
    # (ERROR NOT_THIS_SESSION), as the first frame of a stream and relayed on the PCP.
    other = frame("ERROR", ("ERROR_CODE", 40),
                  ("REASON", "another netcfax client answers on this port"), reqid=0)
    write("scp", "not_this_session", other + bind + job)


def reply_seeds():
    write("reply", "hello_ok", frame("HELLO_OK", ("VERSION", 1), ("MAX_FRAME", 65536),
                                     ("SOFTWARE", "netcfaxd 0.1.0"), ("SERVER_NAME", "fax.example"),
                                     ("HEARTBEAT", 25), ("MAX_DOCUMENT", 64 << 20), reqid=1))
    write("reply", "login_ok", frame("LOGIN_OK", ("SESSION_ID", 0x1122334455667788),
                                     ("USER", "alice"), ("SCP_SECRET", bytes(range(32))),
                                     ("OBSERVED_ADDR", "2001:db8::7"), ("SEQ", 41),
                                     ("OBSERVED_PORT", 50123), ("RELAY", 1),
                                     ("RESUME_TOKEN", bytes(range(32, 64))), reqid=2))
    write("reply", "login_ok_no_token", frame("LOGIN_OK", ("SESSION_ID", 1), ("USER", "bob"),
                                              ("SCP_SECRET", b"s" * 32),
                                              ("OBSERVED_ADDR", "192.0.2.7"),
                                              ("RESUME_TOKEN", b""), reqid=2))
    jobs = b"".join(frame("JOB_INFO", ("JOB_ID", i), ("STATE", i % 7 + 1),
                          ("DEST", "+1 (555) 010-%04d" % i), ("FILENAME", "doc%d.pdf" % i),
                          ("SIZE", 1000 * i), ("FORMAT", 2), ("PAGES", i), ("CREATED", NOW),
                          ("UPDATED", NOW + i), ("OWNER", "alice"), ("TEXT", "waiting for line"),
                          ("PRIORITY", 127), ("SEND_AT", NOW + 60), ("KILL_AT", NOW + 3600),
                          ("MAX_TRIES", 3), ("MAX_DIALS", 12), ("TRIES", 1), ("DIALS", 2),
                          ("NEXT_TRY", NOW + 300), ("PAGE", 1), ("BIT_RATE", 9600),
                          ("REMOTE_ID", "+44 20 7946 0001"), ("ECM", 1), ("RESOLUTION", 1),
                          ("MEDIA", ("T.38", "G.711", "")[i - 1]),
                          reqid=3, flags=MORE) for i in range(1, 4))
    write("reply", "job_list", jobs + frame("JOB_LIST_END", ("COUNT", 3), reqid=3))
    write("reply", "job_info_minimal", frame("JOB_INFO", ("JOB_ID", 5), ("STATE", 99), reqid=4))
    write("reply", "inbox", frame("INBOX_INFO", ("FAX_ID", 9), ("DEST", "5550102"),
                                  ("REMOTE_ID", "ACME"), ("PAGES", 2), ("SIZE", 40000),
                                  ("CREATED", NOW), ("READ", 0), ("BIT_RATE", 14400), ("ECM", 1),
                                  ("RESOLUTION", 0), ("TEXT", "the call ended after page 2"),
                                  ("MEDIA", "T.38"), reqid=5, flags=MORE) +
          frame("INBOX_LIST_END", ("COUNT", 1), reqid=5))
    write("reply", "probe_result", frame("SCP_PROBE_RESULT", ("PROBE_RESULT", 2),
                                         ("OBSERVED_ADDR", "198.51.100.4:7485"),
                                         ("ELAPSED_MS", 3000), ("RELAY", 1),
                                         ("REASON", "no answer to the TCP connect"), reqid=1))
    write("reply", "errors", frame("ERROR", ("ERROR_CODE", 11),
                                   ("REASON", "too many failed logins"), ("RETRY_AFTER", 300),
                                   reqid=2) +
          frame("ERROR", ("ERROR_CODE", 20), reqid=3) + frame("ERROR", ("ERROR_CODE", 12345)))
    data = bytes((i * 7) & 0xFF for i in range(3000))
    sha = hashlib.sha256(data).digest()

    def chunk(off, part, last, **extra):
        attrs = [("FAX_ID", 9), ("FORMAT", 1), ("OFFSET", off), ("SIZE", len(data)),
                 ("DATA", part)]
        if last:
            attrs.append(("SHA256", extra.get("sha", sha)))
        return frame("FILE_CHUNK", *attrs, reqid=6, flags=0 if last else MORE)

    write("reply", "fetch", chunk(0, data[:1000], False) + chunk(1000, data[1000:2500], False) +
          chunk(2500, data[2500:], True))
    write("reply", "fetch_bad_sha", chunk(0, data, True, sha=bytes(32)))
    write("reply", "fetch_out_of_order", chunk(0, data[:1000], False) +
          chunk(2000, data[2000:], True))
    # More than the first chunk announced: the client takes no byte beyond it.
    write("reply", "fetch_overrun", chunk(0, data, False) + chunk(len(data), data[:100], True))
    write("reply", "fetch_empty", frame("FILE_CHUNK", ("OFFSET", 0), ("SIZE", 0), ("DATA", b""),
                                        ("SHA256", hashlib.sha256(b"").digest()), reqid=6))


def natpmp_seeds():
    def rec(kind, dt, payload):
        return bytes([kind | (dt << 2), len(payload)]) + payload

    def addr(epoch, ip=(203, 0, 113, 9), result=0):
        return struct.pack(">BBHI", 0, 128, result, epoch) + bytes(ip)

    def mapping(epoch, priv=7485, pub=7485, life=3600, result=0, op=130):
        return struct.pack(">BBHIHHI", 0, op, result, epoch, priv, pub, life)

    write("natpmp", "address", rec(0, 0, addr(5000)))
    write("natpmp", "map_then_check", rec(0, 0, addr(5000)) + rec(1, 1, mapping(5001)) +
          rec(0, 30, addr(5031)) + rec(1, 0, mapping(5031)))
    write("natpmp", "map_other_port", rec(1, 0, mapping(100, pub=40000, life=1800)))
    write("natpmp", "remove", rec(2, 0, mapping(100, pub=0, life=0)))
    write("natpmp", "restarted", rec(0, 0, addr(90000)) + rec(0, 60, addr(12)))
    write("natpmp", "double_nat", rec(0, 0, addr(7, result=3)))
    write("natpmp", "refused", rec(1, 0, mapping(7, result=2)) + rec(1, 0, mapping(7, result=4)))
    write("natpmp", "wrong_type", rec(1, 0, addr(7)) + rec(0, 0, mapping(7)))
    write("natpmp", "wrong_port", rec(1, 0, mapping(7, priv=7486)))
    write("natpmp", "granted_nothing", rec(1, 0, mapping(7, pub=0)) + rec(1, 0, mapping(7, life=0)))
    write("natpmp", "udp_answer", rec(1, 0, mapping(7, op=129)))
    write("natpmp", "bad_version", rec(0, 0, b"\x01\x80\x00\x00\x00\x00\x00\x07"))
    # A whole answer, then the same cut short: judged on what came, not on the bytes before.
    full = mapping(9)
    write("natpmp", "short_after_full",
          rec(1, 0, full) + rec(1, 0, full[:12]) + rec(1, 0, full[:8]))
    write("natpmp", "empty", rec(0, 0, b"") + rec(1, 0, b"\x00"))
    write("natpmp", "long", rec(1, 0, full + bytes(200)))


def frame_seeds():
    sha = hashlib.sha256(b"hello").digest()
    write("frame", "submit_options", frame(
        "JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 4), ("DEST", "+44 (20) 7946-0001"), ("SHA256", sha),
        ("FILENAME", "/home/alice/notes.txt"), ("RESOLUTION", 0), ("PAPER", 1), ("PRIORITY", 10),
        ("SEND_AT", NOW + 3600), ("KILL_AT", NOW + 7200), ("MAX_TRIES", 2), ("MAX_DIALS", 5),
        ("COVER_FROM", "Alice"), ("COVER_TO", "Bob"), ("SUBJECT", "Minutes"), reqid=7))
    write("frame", "submit_parts", b"".join(frame(
        "JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 1 + p % 4), ("DEST", "5550102"), ("SHA256", sha),
        ("COUNT", 3), ("PART", p), ("FILENAME", "part%d/" % p), reqid=8 + p) for p in (1, 2, 3)))
    write("frame", "submit_refused", frame(
        "JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 9), ("DEST", "call me"), ("SHA256", sha), reqid=1) +
          frame("JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 1), ("DEST", "555"), ("SHA256", sha),
                ("COUNT", 17), ("PART", 1), reqid=2) +
          frame("JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 1), ("DEST", "555"), ("SHA256", sha),
                ("KILL_AT", NOW - 1), reqid=3) +
          frame("JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 1), ("DEST", "555"), ("SHA256", sha),
                ("SEND_AT", NOW + 400 * 86400), reqid=4) +
          frame("JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 1), ("DEST", "555"), ("SHA256", sha),
                ("MAX_TRIES", 0), reqid=5))
    # Tags from 64 up (MEDIA, and ones no build knows) where the message does not take them:
    # skipped, as the first word's foreign tags are.
    high = struct.pack(">HHB", 127, 1, 1) + struct.pack(">HH", 0xFFFF, 0)
    write("frame", "high_tags", frame(
        "JOB_SUBMIT", ("SIZE", 5), ("FORMAT", 1), ("DEST", "5550102"), ("SHA256", sha),
        ("MEDIA", "T.38"), reqid=1, raw_tail=high) +
          frame("JOB_CANCEL", ("JOB_ID", 1), ("MEDIA", "G.711"), ("MEDIA", "x" * 40), reqid=2))


def rtp(pt=8, seq=1, ts=160, ssrc=0x11223344, payload=b"\xd5" * 160, marker=0, csrc=(),
        ext=None, pad=0):
    b0 = 0x80 | len(csrc) | (0x10 if ext is not None else 0) | (0x20 if pad else 0)
    h = struct.pack(">BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    h += b"".join(struct.pack(">I", c) for c in csrc)
    if ext is not None:
        h += struct.pack(">HH", 0xBEDE, len(ext) // 4) + ext
    body = h + payload
    if pad:
        body += b"\0" * (pad - 1) + bytes([pad])
    return body


def rtp_seeds():
    """fuzz_rtp.c: one datagram; the same bytes then drive a jitter buffer (depth from the
    first byte, then records of sequence number and a play/length byte)."""
    write("rtp", "pcma", rtp())
    write("rtp", "pcmu_marker", rtp(pt=0, marker=1, payload=b"\xff" * 160))
    write("rtp", "csrc_ext_pad", rtp(csrc=(1, 2, 3), ext=b"\x01\x02\x03\x04" * 2, pad=4,
                                     payload=b"abc"))
    p = bytearray(rtp(payload=b"\x00\x00\x00\x40"))
    p[0] |= 0x20                      # padding claims 64 bytes of a 4-byte payload
    write("rtp", "padding_too_big", bytes(p))
    e = bytearray(rtp(ext=b"", payload=b""))
    e[14] = e[15] = 0xFF              # an extension of 65535 words
    write("rtp", "ext_too_long", bytes(e))
    write("rtp", "csrc_too_many", bytes([0x8F]) + rtp()[1:20])
    write("rtp", "short", b"\x80\x08\x00")
    write("rtp", "version1", bytes([0x40]) + rtp()[1:])
    write("rtp", "comfort_noise", rtp(pt=13, payload=b"\x40"))
    write("rtp", "dtmf_event", rtp(pt=101, payload=b"\x05\x0a\x00\xa0"))
    write("rtp", "stun_binding", bytes.fromhex("000100002112a442") + b"\x01" * 12)
    write("rtp", "empty", b"")
    run = b"\x03"
    for seq, flag in [(1, 0), (2, 0x80), (4, 0), (3, 0x80), (3, 0), (5, 0x80), (0, 0x80),
                      (40000, 0x80), (40001, 0x8F)]:
        run += struct.pack(">HB", seq, flag)
    write("rtp", "jitter_run", run)


def per_len(n):
    """An unconstrained length determinant of aligned PER, below 16384."""
    return bytes([n]) if n < 128 else bytes([0x80 | n >> 8, n & 0xFF])


def udptl(seq, ifp, secondaries=(), fec=None):
    """A UDPTL packet: redundancy with the secondaries given (the most recent first), or FEC
    when fec is (span, [entries])."""
    b = struct.pack(">H", seq) + per_len(len(ifp)) + ifp
    if fec is None:
        b += b"\x00" + per_len(len(secondaries))
        b += b"".join(per_len(len(x)) + x for x in secondaries)
    else:
        span, entries = fec
        b += b"\x80\x01" + bytes([span]) + per_len(len(entries))
        b += b"".join(per_len(len(x)) + x for x in entries)
    return b


def udptl_seeds():
    """fuzz_udptl.c: a selector byte (error recovery, loss pattern), then bytes read as one
    datagram, as a stream of datagrams (a length byte before each) and as IFPs written and
    read back."""
    red, fec = 0x05, 0x16            # selector: sel % 3 is 1 (redundancy) or 2 (FEC)
    ifps = [bytes([0x00, 0x06]), bytes([0xC0, 0x01, 0x80, 0x00, 0x00, 0xFF]),
            bytes([0x40, 0x02]), bytes(range(60))]
    write("udptl", "one_primary", bytes([red]) + udptl(1, ifps[0]))
    write("udptl", "redundancy_3", bytes([red]) + udptl(3, ifps[3], ifps[2::-1]))
    write("udptl", "long_ifp", bytes([red]) + udptl(7, bytes(range(200)), [ifps[1]]))
    write("udptl", "fec_2_1", bytes([fec]) + udptl(2, ifps[2], fec=(2, [b"\x33", b"\x01\x02"])))
    write("udptl", "fragmented", bytes([red]) + b"\x00\x01\xC1\x00\x00")
    write("udptl", "trailing", bytes([red]) + udptl(1, ifps[0]) + b"\x00")
    write("udptl", "too_many_entries", bytes([red]) + b"\x00\x01\x01\x06\x00\x11")
    write("udptl", "negative_span", bytes([fec]) + b"\x00\x01\x01\x06\x80\x01\x80\x00")
    # a stream: reordered, a duplicate, a jump, the wrap
    pk = [udptl(s, bytes([s & 0xFF, 1, 2]), [bytes([(s - 1) & 0xFF, 1, 2])])
          for s in (0, 2, 1, 1, 3, 0x8000, 0xFFFF, 0, 1)]
    write("udptl", "stream", bytes([red]) + b"".join(bytes([len(p)]) + p for p in pk))
    # IFPs to write and read back: lengths then bytes
    write("udptl", "round_trip_fec", bytes([0x2C]) + b"".join(
        bytes([len(x) - 1]) + x for x in ifps * 4))
    write("udptl", "empty", b"")


if __name__ == "__main__":
    scp_seeds()
    reply_seeds()
    natpmp_seeds()
    frame_seeds()
    rtp_seeds()
    udptl_seeds()

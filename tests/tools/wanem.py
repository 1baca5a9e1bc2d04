#!/usr/bin/env python3
"""wanem: loss, delay and jitter for packets that netfilter queues to userspace (NFQUEUE), for
a lab router whose kernel has no sch_netem (the kind tc netem needs).

Run inside the router's namespace with a rule that queues what leaves its WAN side, e.g.
`iptables-legacy -t mangle -A POSTROUTING -o wan0 -j NFQUEUE --queue-num 7` (no
--queue-bypass: with no wanem reading, the packets are dropped, never passed clean). Each
packet is dropped with probability LOSS percent; the others are released after a delay drawn
from a normal distribution (DELAY ms, JITTER ms standard deviation, never below 0), so, as
with netem, packets may leave out of order. Speaks nfnetlink_queue over a raw netlink socket
(no library needed). Every STATS_EVERY seconds, and at exit (SIGTERM), writes
"queued N dropped N released N" to --stats. Stops after --max-seconds in any case."""
import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
STATS_EVERY = 1.0


def attr(kind, payload):
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)


def message(msg, queue, attrs, seq=0):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg,
                       NLM_F_REQUEST, seq, 0) + body


def packet_ids(buf):
    """The packet ids of the NFQNL_MSG_PACKET messages in one datagram from the kernel; an
    error message other than an acknowledgement stops the program."""
    ids, off = [], 0
    while off + 16 <= len(buf):
        length, kind = struct.unpack_from("=IH", buf, off)
        if length < 16 or off + length > len(buf):
            break
        if kind == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", buf, off + 16)
            if err != 0:
                sys.exit("wanem: netlink error %d" % -err)
        elif kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20
            while a + 4 <= off + length:
                alen, atype = struct.unpack_from("=HH", buf, a)
                if alen < 4:
                    break
                if atype & 0x7fff == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from(">I", buf, a + 4)[0])
                a += (alen + 3) & ~3
        off += (length + 3) & ~3
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--loss", type=float, default=0.0, help="percent")
    ap.add_argument("--delay", type=float, default=0.0, help="ms")
    ap.add_argument("--jitter", type=float, default=0.0, help="ms, standard deviation")
    ap.add_argument("--stats", required=True)
    ap.add_argument("--max-seconds", type=float, default=3600)
    o = ap.parse_args()

    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((0, 0))
    s.send(message(NFQNL_MSG_CONFIG, o.queue,
                   [attr(NFQA_CFG_CMD, struct.pack(">BBH", NFQNL_CFG_CMD_BIND, 0, 0))]))
    s.send(message(NFQNL_MSG_CONFIG, o.queue,
                   [attr(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META) + b"\0" * 3)]))

    count = {"queued": 0, "dropped": 0, "released": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    pending = []        # (release time, packet id)
    end = time.monotonic() + o.max_seconds
    next_stats = 0.0

    def verdict(pid, v):
        s.send(message(NFQNL_MSG_VERDICT, o.queue,
                       [attr(NFQA_VERDICT_HDR, struct.pack(">II", v, pid))]))

    def write_stats():
        tmp = o.stats + ".tmp"
        with open(tmp, "w") as f:
            f.write("queued %(queued)d dropped %(dropped)d released %(released)d\n" % count)
        os.replace(tmp, o.stats)

    while not stop and time.monotonic() < end:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            verdict(heapq.heappop(pending)[1], NF_ACCEPT)
            count["released"] += 1
        if now >= next_stats:
            write_stats()
            next_stats = now + STATS_EVERY
        wait = min(next_stats, pending[0][0] if pending else next_stats) - now
        try:
            ready = select.select([s], [], [], max(0.0, wait))[0]
        except InterruptedError:
            continue
        if not ready:
            continue
        try:
            buf = s.recv(1 << 16)
        except OSError:     # ENOBUFS: the kernel dropped what did not fit; go on
            continue
        now = time.monotonic()
        for pid in packet_ids(buf):
            count["queued"] += 1
            if random.random() * 100.0 < o.loss:
                verdict(pid, NF_DROP)
                count["dropped"] += 1
                continue
            d = max(0.0, random.gauss(o.delay, o.jitter)) / 1000.0
            heapq.heappush(pending, (now + d, pid))
    for _, pid in pending:
        verdict(pid, NF_ACCEPT)
        count["released"] += 1
    write_stats()


if __name__ == "__main__":
    main()

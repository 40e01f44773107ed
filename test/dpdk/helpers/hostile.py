"""Crafted hostile traffic against the stack's echo app (port 7), for test/dpdk/hostile-*.test.ts.

Run with Debian's python3 (python3-scapy) inside the peer namespace:

    hostile.py IFACE STACK_IP MY_IP SCENARIO

Frames go out through an AF_PACKET socket (scapy's L2 socket), so they bypass the namespace's
netfilter output hook, where the test drops the kernel's own RSTs (the kernel has no socket for
scapy's handshakes). Each scenario prints one JSON object on stdout and exits 0; a failed
expectation is reported in the JSON, never by an exception, so the test can show it.
"""
import json
import random
import select
import sys
import time

from scapy.all import ICMP, IP, TCP, Ether, conf, getmacbyip, get_if_hwaddr, raw  # noqa: E402

conf.verb = 0
IFACE, STACK_IP, MY_IP, SCENARIO = sys.argv[1:5]
PORT = 7
MY_MAC = get_if_hwaddr(IFACE)
STACK_MAC = None
for _ in range(5):
    STACK_MAC = getmacbyip(STACK_IP)
    if STACK_MAC:
        break
    time.sleep(0.2)
if not STACK_MAC:
    print(json.dumps({"error": "no ARP answer from " + STACK_IP}))
    sys.exit(0)
SOCK = conf.L2socket(iface=IFACE, filter="ether src " + STACK_MAC)


def tx(pkt):
    SOCK.send(Ether(src=MY_MAC, dst=STACK_MAC) / pkt)


def rx_until(pred, timeout=2.0):
    """Frames from the stack until pred(frame) is true or the time is up: (match or None, frames seen)."""
    end = time.time() + timeout
    seen = []
    while True:
        left = end - time.time()
        if left <= 0:
            break
        r, _, _ = select.select([SOCK], [], [], left)
        if not r:
            break
        p = SOCK.recv()
        if p is None:
            continue
        seen.append(p)
        if pred(p):
            return p, seen
    return None, seen


def rx_for(seconds):
    """Every frame from the stack during `seconds`."""
    _, seen = rx_until(lambda p: False, seconds)
    return seen


def tcp_data(p):
    """The TCP payload without Ethernet padding (frames under 60 bytes are padded with zeros)."""
    n = p[IP].len - p[IP].ihl * 4 - p[TCP].dataofs * 4
    return bytes(p[TCP].payload)[:max(0, n)]


def tcp_of(p, sport):
    return p.haslayer(TCP) and p[TCP].dport == sport and p[TCP].sport == PORT


class Conn:
    """A scapy-driven TCP connection to the echo port: our side's sequence numbers and the stream we got."""

    def __init__(self, window=65535):
        self.sport = random.randint(20000, 60000)
        self.seq = random.randint(0, 2**32 - 1)
        self.window = window
        self.ack = 0
        self.stack_iss = 0
        self.got = {}

    def seg(self, flags, seq=None, ack=None, payload=b"", window=None):
        return IP(src=MY_IP, dst=STACK_IP) / TCP(
            sport=self.sport, dport=PORT, flags=flags, seq=(self.seq if seq is None else seq) % 2**32,
            ack=(self.ack if ack is None else ack) % 2**32, window=self.window if window is None else window,
        ) / payload

    def open(self):
        tx(self.seg("S", ack=0))
        sa, _ = rx_until(lambda p: tcp_of(p, self.sport) and p[TCP].flags & 0x12 == 0x12)
        if sa is None:
            return False
        self.stack_iss = sa[TCP].seq
        self.seq = (self.seq + 1) % 2**32
        self.ack = (sa[TCP].seq + 1) % 2**32
        tx(self.seg("A"))
        return True

    def send(self, data, seq=None):
        tx(self.seg("PA", seq=seq, payload=data))

    def collect(self, want, timeout=3.0):
        """Read the stack's data segments until `want` bytes of stream arrived in order; ACK as we go."""
        end = time.time() + timeout
        base = (self.stack_iss + 1) % 2**32
        while time.time() < end:
            p, _ = rx_until(lambda p: tcp_of(p, self.sport), max(0.05, end - time.time()))
            if p is None:
                break
            data = tcp_data(p)
            if data:
                off = (p[TCP].seq - base) % 2**32
                for i, b in enumerate(data):
                    self.got.setdefault(off + i, b)
                n = 0
                while n in self.got:
                    n += 1
                self.ack = (base + n) % 2**32
                tx(self.seg("A"))
                if n >= want:
                    break
        n = 0
        while n in self.got:
            n += 1
        return bytes(self.got[i] for i in range(n))

    def close(self):
        tx(self.seg("RA"))


def echo_check(tag):
    c = Conn()
    if not c.open():
        return {"ok": False, "why": "no SYN-ACK"}
    msg = ("fresh-" + tag).encode()
    c.send(msg)
    c.seq += len(msg)
    got = c.collect(len(msg))
    c.close()
    return {"ok": got == msg, "got": got.decode(errors="replace")}


def land():
    # Source = destination = the stack's own address and port (the land attack).
    for _ in range(5):
        tx(IP(src=STACK_IP, dst=STACK_IP) / TCP(sport=PORT, dport=PORT, flags="S", seq=1000))
    replies = [p for p in rx_for(0.5) if p.haslayer(TCP)]
    return {"sent": 5, "tcpReplies": len(replies), "after": echo_check("land")}


def overlap():
    """Overlapping and conflicting retransmissions: the stack keeps the first copy of every byte."""
    c = Conn()
    if not c.open():
        return {"error": "no SYN-ACK"}
    s0 = c.seq
    # Out of order first: bytes 10..19, then a conflicting copy of 10..19, then 0..9, then a copy of
    # 5..24 that conflicts with what is held (5..19) and adds 20..24.
    c.send(b"BBBBBBBBBB", seq=s0 + 10)
    c.send(b"XXXXXXXXXX", seq=s0 + 10)
    c.send(b"AAAAAAAAAA", seq=s0)
    c.send(b"YYYYYYYYYYYYYYYCCCCC", seq=s0 + 5)
    # An old duplicate of 0..4 with other bytes, after the stack has it all.
    c.send(b"ZZZZZ", seq=s0)
    c.seq = s0 + 25
    got = c.collect(25)
    c.close()
    return {"got": got.decode(errors="replace"), "expect": "AAAAAAAAAABBBBBBBBBBCCCCC", "after": echo_check("overlap")}


def zerowin():
    """A peer that advertises window 0 forever and acknowledges every probe: persist probes back off."""
    c = Conn(window=0)
    if not c.open():
        return {"error": "no SYN-ACK"}
    data = b"Z" * 1000
    # Our data has to be ACKed by the stack even though we offer no window: the echo is what it cannot send.
    c.send(data)
    c.seq += len(data)
    probes = []
    end = time.time() + float(sys.argv[5] if len(sys.argv) > 5 else 8)
    while time.time() < end:
        p, _ = rx_until(lambda p: tcp_of(p, c.sport), end - time.time())
        if p is None:
            break
        if len(tcp_data(p)) > 0:
            probes.append(time.time())
            # Acknowledge nothing new, window still 0 (the abuse).
            tx(c.seg("A", window=0))
    gaps = [round(b - a, 3) for a, b in zip(probes, probes[1:])]
    c.close()
    return {"probes": len(probes), "gaps": gaps, "after": echo_check("zerowin")}


def blind():
    """RFC 5961: blind RST, SYN and ACK injection in and out of the window."""
    c = Conn()
    if not c.open():
        return {"error": "no SYN-ACK"}
    out = {}
    win = 65535

    def answers(flag_mask=None, t=0.3):
        return [p for p in rx_for(t) if tcp_of(p, c.sport)]

    # RST in the window but not at RCV.NXT: challenge ACK (an ACK at RCV.NXT), connection kept.
    tx(c.seg("R", seq=c.seq + 1000))
    a = answers()
    out["rstInWindow"] = {"replies": len(a), "challengeAck": any(p[TCP].flags == 0x10 and p[TCP].ack == c.seq for p in a)}
    # RST out of the window: silently dropped.
    tx(c.seg("R", seq=c.seq + 10 * win))
    out["rstOutOfWindow"] = {"replies": len(answers())}
    # SYN in the window on the established 4-tuple: challenge ACK.
    tx(c.seg("S", seq=c.seq + 100))
    a = answers()
    out["synInWindow"] = {"replies": len(a), "challengeAck": any(p[TCP].flags == 0x10 and p[TCP].ack == c.seq for p in a)}
    # Data with an ACK beyond SND.NXT (blind data injection): dropped, answered with an ACK.
    tx(c.seg("PA", ack=c.ack + 100000, payload=b"EVIL"))
    a = answers()
    out["ackTooNew"] = {"replies": len(a), "echoed": any(b"EVIL" in tcp_data(p) for p in a)}
    # Data with an ACK far below SND.UNA - MAX.SND.WND: dropped, answered with an ACK.
    tx(c.seg("PA", ack=c.ack - 2**30, payload=b"EVIL"))
    a = answers()
    out["ackTooOld"] = {"replies": len(a), "echoed": any(b"EVIL" in tcp_data(p) for p in a)}
    # The connection still works.
    c.send(b"still-here")
    c.seq += 10
    got = c.collect(10)
    out["stillEchoes"] = got == b"still-here"
    # The exact RST closes it: afterwards data to the 4-tuple is answered with a RST.
    tx(c.seg("R"))
    time.sleep(0.1)
    tx(c.seg("PA", payload=b"gone?"))
    a = answers()
    out["exactRstClosed"] = any(p[TCP].flags & 0x04 for p in a)
    out["after"] = echo_check("blind")
    return out


def badlen():
    """IPv4 total length beyond the frame: dropped without an answer."""
    n = 20
    for i in range(n):
        ip = IP(src=MY_IP, dst=STACK_IP, len=1200) / TCP(sport=40000 + i, dport=PORT, flags="S", seq=i)
        b = bytearray(raw(ip))  # 40 bytes with a total length of 1200 (checksum over that header)
        SOCK.send(Ether(src=MY_MAC, dst=STACK_MAC, type=0x0800) / bytes(b))
    replies = [p for p in rx_for(0.5) if p.haslayer(TCP)]
    return {"sent": n, "tcpReplies": len(replies), "after": echo_check("badlen")}


SCENARIOS = {"land": land, "overlap": overlap, "zerowin": zerowin, "blind": blind, "badlen": badlen, "echo": lambda: echo_check("plain")}
print(json.dumps(SCENARIOS[SCENARIO]()), flush=True)

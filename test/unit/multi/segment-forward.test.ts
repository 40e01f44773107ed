/**
 * Active opens from every stack thread where the device's flow hash is unknown
 * (segment-forward.ts): ports partitioned by p mod N, and a segment that reaches
 * a thread without its connection forwarded once to the port's owner over the
 * segment mailbox. The last tests run two stack threads on one port in virtual
 * time with an adversarial spread (every TCP frame for us lands on the thread that
 * does NOT own its port) and check that every connection carries its data intact.
 */
import { describe, expect, test } from "bun:test";
import { Stack } from "../../../src/api/stack";
import { TcpSockets } from "../../../src/api/tcp-sockets";
import type { Device, DeviceCaps, DeviceStats } from "../../../src/net/device";
import { PacketBatch } from "../../../src/net/packet-batch";
import { ManualClock, PairDevice } from "../../../src/net/pair-device";
import { SeededRng } from "../../../src/net/seeded-rng";
import { ArpMailboxEnd, createArpMailbox } from "../../../src/sched/multi/arp-mailbox";
import { QueueDevice } from "../../../src/sched/multi/queue-device";
import { keepActiveOpensHome, PartitionPortProbe, SegmentForwarder } from "../../../src/sched/multi/segment-forward";
import { createSegmentMailbox, SegmentMailboxEnd } from "../../../src/sched/multi/segment-mailbox";
import { makeTcpConfig } from "../../../src/tcp/config";
import { EADDRINUSE } from "../../../src/tcp/errno";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import { parseIpv4 } from "../../../src/wire/ip-addr";
import { NullTx, seededRng } from "../../helpers/tcp-fixtures";

const LOCAL = 0x0a000001;
const REMOTE = 0x0a000002;

function layer(): TcpLayer {
  const cfg = makeTcpConfig({ maxConnections: 256, chunkCount: 256 });
  return new TcpLayer({ config: cfg, tx: new NullTx(), rng: seededRng(7), nowUs: 0, events: { event() {} } });
}

describe("PartitionPortProbe", () => {
  test("thread k of N picks only ephemeral ports p with p mod N == k", () => {
    for (const [n, k] of [[2, 0], [2, 1], [3, 2]] as const) {
      const tcp = layer();
      const probe = new PartitionPortProbe(tcp, n, k);
      tcp.portProbe = probe;
      for (let i = 0; i < 100; i++) {
        const c = tcp.connect(0, LOCAL, 0, REMOTE, 80);
        expect(c).toBeGreaterThanOrEqual(0);
        expect(tcp.conns.localPort[c]! % n).toBe(k);
      }
      expect(probe.otherThread).toBeGreaterThan(0);
    }
  });

  test("an explicit local port of another thread is refused with EADDRINUSE; one of its own works", () => {
    const tcp = layer();
    tcp.portProbe = new PartitionPortProbe(tcp, 2, 1);
    expect(tcp.connect(0, LOCAL, 5000, REMOTE, 80)).toBe(-EADDRINUSE);
    expect(tcp.connect(0, LOCAL, 5001, REMOTE, 80)).toBeGreaterThanOrEqual(0);
  });
});

/** An Ethernet + IPv4 (20 B) + TCP (20 B) frame to local port `dstPort`, with 4 payload bytes; returns its L4 offset. */
function frame(mem: Uint8Array, off: number, dstPort: number): number {
  mem.fill(0, off, off + 58);
  mem[off + 12] = 0x08;
  const ip = off + 14;
  mem[ip] = 0x45;
  mem[ip + 3] = 44; // total length
  const l4 = ip + 20;
  mem[l4] = 0x1f;
  mem[l4 + 1] = 0x90; // source port 8080
  mem[l4 + 2] = dstPort >> 8;
  mem[l4 + 3] = dstPort & 0xff;
  mem[l4 + 12] = 0x50;
  mem[l4 + 13] = 0x12; // SYN|ACK
  mem.set([1, 2, 3, 4], l4 + 20);
  return l4;
}

describe("SegmentForwarder: which segments go to another thread", () => {
  test("a segment for another thread's port goes to its owner, intact; one for our own port is left to TCP (RST)", () => {
    const share = createSegmentMailbox(2, 1024);
    const m0 = new SegmentMailboxEnd(0, share);
    const m1 = new SegmentMailboxEnd(1, share);
    const f0 = new SegmentForwarder(m0, 0, 2);
    const mem = new Uint8Array(256);
    const l4 = frame(mem, 10, 40001);
    expect(f0.take(mem, l4, 24, 40001)).toBe(true);
    expect(m0.sent).toBe(1);
    // Port 40000 is thread 0's own: no forward, TCP answers.
    const l4b = frame(mem, 100, 40000);
    expect(f0.take(mem, l4b, 24, 40000)).toBe(false);
    expect(m0.sent).toBe(1);
    // Thread 1 gets the frame byte for byte (Ethernet + IPv4 + TCP + payload, 58 bytes).
    expect(m1.waiting()).toBe(true);
    const dst = new Uint8Array(2048);
    expect(m1.take(dst, 0, 2048)).toBe(58);
    expect(Array.from(dst.subarray(0, 58))).toEqual(Array.from(mem.subarray(10, 68)));
    expect(m1.take(dst, 0, 2048)).toBe(0);
  });

  test("frames of every length up to a full one cross the ring byte for byte, also where the ring wraps", () => {
    const share = createSegmentMailbox(2, 1024);
    const m0 = new SegmentMailboxEnd(0, share);
    const m1 = new SegmentMailboxEnd(1, share);
    const mem = new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff);
    const dst = new Uint8Array(2048);
    for (let len = 1; len <= 1514; len += 37) {
      expect(m0.forward(mem, 5 + (len & 3), len, 1)).toBe(true);
      dst.fill(0);
      expect(m1.take(dst, 3, 2040)).toBe(len);
      expect(Array.from(dst.subarray(3, 3 + len))).toEqual(Array.from(mem.subarray(5 + (len & 3), 5 + (len & 3) + len)));
    }
    expect(m1.received).toBe(m0.sent);
    expect(m0.dropped + m1.dropped).toBe(0);
  });

  test("the owner never forwards its own port again (at most one forward per segment)", () => {
    const share = createSegmentMailbox(3, 1024);
    const f1 = new SegmentForwarder(new SegmentMailboxEnd(1, share), 1, 3);
    const mem = new Uint8Array(256);
    const l4 = frame(mem, 0, 40000); // 40000 mod 3 == 1
    expect(f1.take(mem, l4, 24, 40000)).toBe(false);
    expect(f1.taken).toBe(0);
  });

  test("a segment not behind Ethernet + a 20-byte IPv4 header is left to TCP", () => {
    const share = createSegmentMailbox(2, 1024);
    const f0 = new SegmentForwarder(new SegmentMailboxEnd(0, share), 0, 2);
    const mem = new Uint8Array(256);
    const l4 = frame(mem, 0, 40001);
    mem[14] = 0x46; // IHL 6
    expect(f0.take(mem, l4, 24, 40001)).toBe(false);
    expect(f0.take(mem, 10, 24, 40001)).toBe(false); // no room for the headers before it
    expect(f0.notFramed).toBe(2);
  });

  test("a full ring drops the segment (counted) and still takes it: no RST from a thread that is not the owner", () => {
    const share = createSegmentMailbox(2, 32);
    const m0 = new SegmentMailboxEnd(0, share);
    const f0 = new SegmentForwarder(m0, 0, 2);
    const mem = new Uint8Array(256);
    const l4 = frame(mem, 0, 40001);
    // 58 bytes: 16 words per record; two fit in 32 words.
    for (let i = 0; i < 3; i++) expect(f0.take(mem, l4, 24, 40001)).toBe(true);
    expect(m0.sent).toBe(2);
    expect(m0.dropped).toBe(1);
  });
});

// ---- two stack threads on one port, in virtual time ----

const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x10]);
const OUR_IP = parseIpv4("10.9.0.1");
const PEER_IP = parseIpv4("10.9.0.2");

/**
 * One port with two queues over a PairDevice end: every received frame is staged for the
 * queue `queueFor` names; both queues transmit on the port.
 */
class TwoQueuePort {
  readonly staged: number[][] = [[], []];
  private readonly b = new PacketBatch(64);
  constructor(
    readonly inner: PairDevice,
    readonly queueFor: (mem: Uint8Array, off: number, len: number) => number,
  ) {}
  pull(): void {
    const b = this.b;
    for (;;) {
      b.count = 0;
      const n = this.inner.rxBurst(b);
      if (n === 0) return;
      for (let i = 0; i < n; i++) this.staged[this.queueFor(this.inner.mem, b.off[i]!, b.len[i]!)]!.push(b.handle[i]!, b.off[i]!, b.len[i]!);
    }
  }
  stagedFrames(): number {
    return (this.staged[0]!.length + this.staged[1]!.length) / 3;
  }
}

class PortQueue implements Device {
  readonly caps: DeviceCaps;
  readonly mem: Uint8Array;
  readonly dv: DataView;
  constructor(
    readonly port: TwoQueuePort,
    readonly k: number,
  ) {
    this.caps = { ...port.inner.caps, queues: 2 };
    this.mem = port.inner.mem;
    this.dv = port.inner.dv;
  }
  rxBurst(batch: PacketBatch): number {
    this.port.pull();
    const s = this.port.staged[this.k]!;
    let n = 0;
    while (s.length > 0 && batch.count < batch.capacity) {
      batch.push(s[0]!, s[1]!, s[2]!);
      s.splice(0, 3);
      n++;
    }
    return n;
  }
  txBurst(batch: PacketBatch): number {
    return this.port.inner.txBurst(batch);
  }
  alloc(batch: PacketBatch, n: number): number {
    return this.port.inner.alloc(batch, n);
  }
  free(batch: PacketBatch): void {
    this.port.inner.free(batch);
  }
  freeOne(handle: number): void {
    this.port.inner.freeOne(handle);
  }
  linkUp(): boolean {
    return true;
  }
  stats(): DeviceStats {
    return this.port.inner.stats();
  }
  close(): void {}
}

/** TCP frames for us land on the thread that does NOT own their destination port (p mod 2); ARP on queue 0. */
function wrongThread(mem: Uint8Array, off: number, len: number): number {
  if (len < 54 || mem[off + 12] !== 0x08 || mem[off + 13] !== 0x00 || mem[off + 23] !== 6) return 0;
  const dport = (mem[off + 36]! << 8) | mem[off + 37]!;
  return 1 - (dport & 1);
}

interface Thread {
  stack: Stack;
  sockets: TcpSockets;
  qd: QueueDevice;
}

function setup(forward: boolean) {
  const clock = new ManualClock(1_000_000);
  const [peerDev, portDev] = PairDevice.create({ clock, macB: OUR_MAC, faults: { delayUs: 50 } });
  const port = new TwoQueuePort(portDev, wrongThread);
  const arp = createArpMailbox(2, 16);
  const segs = createSegmentMailbox(2, 4096);
  const now = () => clock.nowUs;
  const peer = new Stack(peerDev, { ip: PEER_IP, prefixLen: 24 }, { clock: now });
  const peerRng = new SeededRng(3);
  const ps = new TcpSockets(peer, {}, { rng: () => peerRng.nextU32() });
  ps.listen({
    port: 7,
    socket: {
      data(s, d) {
        s.write(d);
      },
      end(s) {
        s.end();
      },
    },
  });
  const threads: Thread[] = [];
  for (let k = 0; k < 2; k++) {
    const qd = new QueueDevice(new PortQueue(port, k), new ArpMailboxEnd(k, arp), k, forward ? new SegmentMailboxEnd(k, segs) : null);
    const stack = new Stack(qd, { ip: OUR_IP, prefixLen: 24 }, { clock: now });
    const rng = new SeededRng(10 + k);
    const sockets = new TcpSockets(stack, {}, { rng: () => rng.nextU32() });
    expect(keepActiveOpensHome(sockets.tcp, qd)).toBe(forward ? "forward" : "none");
    threads.push({ stack, sockets, qd });
  }
  const stacks = [peer, threads[0]!.stack, threads[1]!.stack];
  const settle = () => {
    for (let i = 0; i < 100_000; i++) {
      let w = 0;
      for (const s of stacks) w += s.poll(clock.nowUs);
      if (w === 0 && port.stagedFrames() === 0) return;
    }
    throw new Error("no quiescence");
  };
  const run = (untilUs: number, done: () => boolean) => {
    settle();
    for (let g = 0; g < 1_000_000; g++) {
      if (done()) return;
      let next = Math.min(peerDev.nextArrivalUs(), portDev.nextArrivalUs());
      for (const s of stacks) next = Math.min(next, s.pollAt());
      if (next > untilUs) {
        clock.nowUs = untilUs;
        settle();
        return;
      }
      clock.nowUs = Math.max(clock.nowUs, Math.ceil(next));
      settle();
    }
  };
  return { threads, run };
}

/** Connect, send `payload`, half-close, collect the echo. */
function echoClient(sockets: TcpSockets, payload: Uint8Array) {
  const st = { got: [] as number[], closed: false, error: null as unknown, lport: -1 };
  sockets.connect({
    hostname: "10.9.0.2",
    port: 7,
    socket: {
      open(s) {
        s.write(payload);
        s.shutdown();
      },
      data(_s, d) {
        for (let i = 0; i < d.length; i++) st.got.push(d[i]!);
      },
      end(s) {
        s.end();
      },
      close(_s, e) {
        st.closed = true;
        if (e) st.error = e;
      },
    },
  }).catch((e) => {
    st.closed = true;
    st.error = e;
  });
  return st;
}

describe("two stack threads, every returning segment delivered to the other thread", () => {
  test("with forwarding, every connection from every thread completes and echoes its bytes intact", async () => {
    const { threads, run } = setup(true);
    const clients: { st: ReturnType<typeof echoClient>; payload: Uint8Array }[] = [];
    for (let i = 0; i < 6; i++) {
      const payload = new Uint8Array(3000 + i * 517).map((_, j) => (j * 31 + i) & 0xff);
      clients.push({ st: echoClient(threads[i % 2]!.sockets, payload), payload });
    }
    await Promise.resolve();
    run(30_000_000, () => clients.every((c) => c.st.closed));
    for (const c of clients) {
      expect(c.st.error).toBeNull();
      expect(c.st.got.length).toBe(c.payload.length);
      expect(Array.from(c.st.got)).toEqual(Array.from(c.payload));
    }
    for (const t of threads) {
      // Each thread's connections were all served by forwarded segments; it sent no RST.
      expect(t.qd.segments!.sent).toBeGreaterThan(0);
      expect(t.qd.segInjected).toBeGreaterThan(0);
      expect(t.qd.segments!.dropped).toBe(0);
      expect(t.sockets.tcp.counters.rstsSent).toBe(0);
    }
  });

  test("without forwarding (control), connections whose SYN-ACK reaches the other thread fail", async () => {
    const { threads, run } = setup(false);
    const clients: ReturnType<typeof echoClient>[] = [];
    for (let i = 0; i < 6; i++) clients.push(echoClient(threads[i % 2]!.sockets, new Uint8Array(100)));
    await Promise.resolve();
    run(120_000_000, () => clients.every((c) => c.closed));
    const failed = clients.filter((c) => c.error !== null || c.got.length !== 100).length;
    expect(failed).toBeGreaterThan(0);
    expect(threads[0]!.sockets.tcp.counters.rstsSent + threads[1]!.sockets.tcp.counters.rstsSent).toBeGreaterThan(0);
  });
});

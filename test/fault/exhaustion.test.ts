/**
 * Exhaustion in virtual time with small capacities: the connection table, the
 * buffer pool, ephemeral ports and device buffers (mbufs). Each must refuse
 * cleanly (no throw, established connections unharmed), be counted, and
 * recover once the resource is given back.
 */
import { describe, expect, test } from "bun:test";
import type { SocketError, TcpSocket } from "../../src/api/tcp-sockets";
import { TcpState } from "../../src/tcp/state";
import { Stack } from "../../src/api/stack";
import { TcpSockets } from "../../src/api/tcp-sockets";
import { ManualClock, PairDevice } from "../../src/net/pair-device";
import { SeededRng } from "../../src/net/seeded-rng";
import type { TcpConfig } from "../../src/tcp/config";

/**
 * Two full stacks like test/helpers/stack-pair.ts, but with separate TCP
 * configurations, so only the side under test (B, the server) is small.
 */
class StackPair {
  readonly clock = new ManualClock(1_000_000);
  readonly devA: PairDevice;
  readonly devB: PairDevice;
  readonly a: Stack;
  readonly b: Stack;
  readonly sa: TcpSockets;
  readonly sb: TcpSockets;

  constructor(opts: { nbufs?: number; tcpA?: Partial<TcpConfig>; tcpB?: Partial<TcpConfig> } = {}) {
    const [da, db] = PairDevice.create({ clock: this.clock, seed: 1, faults: { delayUs: 100 }, nbufs: opts.nbufs });
    this.devA = da;
    this.devB = db;
    const clock = () => this.clock.nowUs;
    this.a = new Stack(da, { ip: 0x0a000001, prefixLen: 24 }, { clock });
    this.b = new Stack(db, { ip: 0x0a000002, prefixLen: 24 }, { clock });
    const ra = new SeededRng(8);
    const rb = new SeededRng(9);
    this.sa = new TcpSockets(this.a, opts.tcpA ?? {}, { rng: () => ra.nextU32() });
    this.sb = new TcpSockets(this.b, opts.tcpB ?? {}, { rng: () => rb.nextU32() });
  }

  settle(): void {
    for (let i = 0; i < 100_000; i++) {
      const now = this.clock.nowUs;
      if (this.a.poll(now) + this.b.poll(now) === 0) return;
    }
    throw new Error("no quiescence");
  }

  run(untilUs: number, done?: () => boolean): void {
    this.settle();
    for (let guard = 0; guard < 10_000_000; guard++) {
      if (done !== undefined && done()) return;
      const next = Math.min(this.devA.nextArrivalUs(), this.devB.nextArrivalUs(), this.a.pollAt(), this.b.pollAt());
      if (next > untilUs) {
        this.clock.nowUs = untilUs;
        this.settle();
        return;
      }
      this.clock.nowUs = Math.max(this.clock.nowUs, Math.ceil(next));
      this.settle();
    }
    throw new Error("too many events");
  }
}

interface Cl {
  sock: TcpSocket<undefined> | null;
  err: SocketError | null;
  got: number;
  closed: boolean;
}

function echoServer(p: StackPair, port = 7): void {
  p.sb.listen({ port, socket: { data: (s, d) => void s.write(d), end: (s) => s.end() } });
}

function connect(p: StackPair, port = 7): Cl {
  const cl: Cl = { sock: null, err: null, got: 0, closed: false };
  p.sa
    .connect({
      hostname: "10.0.0.2",
      port,
      socket: {
        open: (s) => void (cl.sock = s),
        data: (_s, d) => void (cl.got += d.length),
        close: () => void (cl.closed = true),
        connectError: (_s, e) => void (cl.err = e),
      },
    })
    .catch((e: SocketError) => void (cl.err = e));
  return cl;
}

function echoes(p: StackPair, cl: Cl, n: number): boolean {
  const before = cl.got;
  cl.sock!.write(new Uint8Array(n).fill(7));
  p.run(p.clock.nowUs + 5_000_000, () => cl.got - before >= n);
  return cl.got - before === n;
}

describe("exhaustion: refuse cleanly, count, recover", () => {
  test("connection table full: new SYNs are refused and counted, established ones keep working, space comes back", () => {
    const p = new StackPair({ tcpB: { maxConnections: 8, synCookies: false } });
    echoServer(p);
    const cls: Cl[] = [];
    for (let i = 0; i < 8; i++) cls.push(connect(p));
    p.run(p.clock.nowUs + 1_000_000, () => cls.every((c) => c.sock !== null));
    expect(cls.every((c) => c.sock !== null)).toBe(true);
    const extra = connect(p);
    p.run(p.clock.nowUs + 2_000_000);
    expect(extra.sock).toBeNull();
    expect(p.sb.tcp.counters.connTableFull).toBeGreaterThan(0);
    expect(echoes(p, cls[0]!, 1000)).toBe(true);
    // Give one back: close it from the client; the server side frees its id after the FIN exchange.
    cls[1]!.sock!.end();
    p.run(p.clock.nowUs + 3_000_000, () => extra.sock !== null);
    // The SYN of `extra` is retried by A and now fits.
    p.run(p.clock.nowUs + 10_000_000, () => extra.sock !== null);
    expect(extra.sock).not.toBeNull();
    expect(echoes(p, extra, 1000)).toBe(true);
  });

  test("connection table full with SYN cookies: the cookie handshake completes once an id is free", () => {
    const p = new StackPair({ tcpB: { maxConnections: 4, synCookies: true } });
    echoServer(p);
    const cls: Cl[] = [];
    for (let i = 0; i < 4; i++) cls.push(connect(p));
    p.run(p.clock.nowUs + 1_000_000, () => cls.every((c) => c.sock !== null));
    const extra = connect(p);
    p.run(p.clock.nowUs + 200_000);
    expect(p.sb.tcp.counters.connTableFull).toBeGreaterThan(0);
    expect(p.sb.tcp.counters.synCookiesSent).toBeGreaterThan(0);
    expect(echoes(p, cls[0]!, 100)).toBe(true);
    cls[2]!.sock!.end();
    p.run(p.clock.nowUs + 20_000_000, () => extra.sock !== null && p.sb.tcp.state(p.sb.tcp.flows.lookup(0x0a000002, 7, 0x0a000001, extra.sock.localPort)) === TcpState.Established);
    expect(extra.sock).not.toBeNull();
    expect(echoes(p, extra, 100)).toBe(true);
  });

  test("buffer pool exhausted: senders stall (counted), nothing is lost, everything flows once readers drain", () => {
    // 16 chunks of 2 KiB shared by both directions of 4 connections.
    const p = new StackPair({ tcpB: { chunkBytes: 2048, chunkCount: 16 } });
    const held: TcpSocket<undefined>[] = [];
    let serverGot = 0;
    p.sb.listen({
      port: 9,
      socket: {
        open: (s) => {
          held.push(s);
          s.pause();
        },
        data: (_s, d) => void (serverGot += d.length),
      },
    });
    const cls: Cl[] = [];
    for (let i = 0; i < 4; i++) cls.push(connect(p, 9));
    p.run(p.clock.nowUs + 1_000_000, () => cls.every((c) => c.sock !== null));
    const chunk = new Uint8Array(16 * 1024).fill(1);
    let written = 0;
    for (const c of cls) written += Math.max(0, c.sock!.write(chunk));
    p.run(p.clock.nowUs + 2_000_000);
    const t = p.sb.tcp;
    // The pool is full and the rest was refused (counted), not buffered beyond it.
    expect(t.chunksInUse()).toBe(16);
    expect(t.counters.rcvBufFull).toBeGreaterThan(0);
    expect(serverGot).toBe(0);
    for (const s of held) s.resume();
    p.run(p.clock.nowUs + 60_000_000, () => serverGot >= written);
    expect(serverGot).toBe(written);
    expect(cls.every((c) => c.sock!.readyState === "open")).toBe(true);
  });

  test("ephemeral ports exhausted: connect fails with EADDRNOTAVAIL, works again once a port is free", async () => {
    const p = new StackPair({ tcpA: { ephemeralLo: 40000, ephemeralHi: 40003 } });
    echoServer(p);
    const cls: Cl[] = [];
    for (let i = 0; i < 4; i++) cls.push(connect(p));
    p.run(p.clock.nowUs + 1_000_000, () => cls.every((c) => c.sock !== null));
    expect(cls.every((c) => c.sock !== null)).toBe(true);
    const extra = connect(p);
    p.run(p.clock.nowUs + 100_000);
    await Bun.sleep(0); // the rejection is delivered as a microtask
    expect(extra.sock).toBeNull();
    expect(extra.err?.code).toBe("EADDRNOTAVAIL");
    // Abort one (no TIME-WAIT for the aborting side): its port is free at once.
    cls[0]!.sock!.terminate();
    p.run(p.clock.nowUs + 100_000);
    const again = connect(p);
    p.run(p.clock.nowUs + 1_000_000, () => again.sock !== null);
    expect(again.sock).not.toBeNull();
    expect(echoes(p, again, 500)).toBe(true);
  });

  test("device buffers (mbufs) exhausted: receive misses and transmit failures are counted, the stack recovers", () => {
    const p = new StackPair({ nbufs: 96 });
    echoServer(p);
    const cl = connect(p);
    p.run(p.clock.nowUs + 1_000_000, () => cl.sock !== null);
    expect(cl.sock).not.toBeNull();
    // Take most of B's buffers away, as a leaking or bursting app would.
    const { PacketBatch } = require("../../src/net/packet-batch") as typeof import("../../src/net/packet-batch");
    const hog = new PacketBatch(128);
    p.devB.alloc(hog, 96);
    expect(p.devB.buffersFree()).toBe(0);
    cl.sock!.write(new Uint8Array(20_000).fill(3));
    p.run(p.clock.nowUs + 300_000);
    const st = p.devB.stats();
    expect(st.rxNoBuf + p.b.netif.counters.txNoBuffer + p.sb.tcp.counters.txNoBuf).toBeGreaterThan(0);
    expect(st.rxNoBuf).toBeGreaterThan(0);
    // Give the buffers back: retransmissions carry the data through.
    p.devB.free(hog);
    const before = cl.got;
    p.run(p.clock.nowUs + 30_000_000, () => cl.got - before >= 20_000);
    expect(cl.got - before).toBe(20_000);
    expect(echoes(p, cl, 1000)).toBe(true);
  });
});

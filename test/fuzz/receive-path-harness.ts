/**
 * The stack under attack for the receive-path fuzz test and bench/fuzz.ts:
 * a StackPair where B (10.0.0.2) runs an echo server on port 7 and A holds two
 * established connections to it (the victim and the sentinel). Hostile frames
 * are written straight into B's device memory and handed to B's NetInterface,
 * as if they had arrived from A's side of the wire; B's replies go to A for
 * real. Accounting reads B's NetCounters and TcpCounters.
 */
import fc from "fast-check";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { NetCounters } from "../../src/net/counters";
import { PacketBatch } from "../../src/net/packet-batch";
import type { TcpCounters } from "../../src/tcp/counters";
import { TcpState } from "../../src/tcp/state";
import { IP_A, IP_B, StackPair } from "../helpers/stack-pair";
import { encodeFrame, frameSpecArb, Target, type ConnNumbers, type FrameContext, type FrameSpec } from "./receive-path-frames";

export const ECHO_PORT = 7;
export const CLOSED_PORT = 9;

interface Client {
  sock: TcpSocket<undefined> | null;
  got: number[];
  closed: boolean;
}

export interface Accounting {
  frames: number;
  drops: number;
  arp: number;
  icmp: number;
  tcp: number;
  /** Frames that came through B's device (real traffic from A). */
  legit: number;
}

export interface AccountingBase {
  net: Record<string, number>;
  segsIn: number;
  tcpOutcomes: number;
  ipackets: number;
}

export class ConnHarness {
  readonly p: StackPair;
  readonly arb: fc.Arbitrary<FrameSpec> = frameSpecArb;
  readonly ctx: FrameContext;
  victim!: Client;
  sentinel!: Client;
  readonly batch = new PacketBatch(32);
  private id = 0;

  constructor(seed: number, tcp: Record<string, unknown> = {}) {
    this.p = new StackPair({ seed, tcp: { synQueueSize: 64, ...tcp } });
    this.ctx = {
      ourMac: this.p.devB.caps.mac,
      peerMac: this.p.devA.caps.mac,
      ourIp: IP_B,
      peerIp: IP_A,
      listenPort: ECHO_PORT,
      closedPort: CLOSED_PORT,
      conns: [emptyNumbers(), emptyNumbers()],
    };
  }

  /** Echo server on B, two connections from A, a little traffic on each. */
  setUp(): void {
    const p = this.p;
    p.sb.listen({
      port: ECHO_PORT,
      socket: {
        data(s, d) {
          s.write(d);
        },
        end(s) {
          s.end();
        },
      },
    });
    this.victim = this.connect()!;
    this.sentinel = this.connect()!;
    if (!this.echo(this.victim, 1000, 1) || !this.echo(this.sentinel, 1000, 2)) throw new Error("harness: set-up echo failed");
  }

  /** A new client connection to the echo port, or null when it does not open. */
  connect(): Client | null {
    const cl: Client = { sock: null, got: [], closed: false };
    this.p.sa
      .connect({
        hostname: "10.0.0.2",
        port: ECHO_PORT,
        socket: {
          open(s) {
            cl.sock = s;
          },
          data(_s, d) {
            for (let i = 0; i < d.length; i++) cl.got.push(d[i]!);
          },
          close() {
            cl.closed = true;
          },
        },
      })
      .catch(() => {});
    this.p.run(this.p.clock.nowUs + 2_000_000, () => cl.sock !== null);
    return cl.sock !== null ? cl : null;
  }

  /** Send n pattern bytes on `cl` and check they come back intact (virtual time, at most 20 s). */
  echo(cl: Client, n: number, seed: number): boolean {
    const s = cl.sock;
    if (s === null) return false;
    cl.got.length = 0;
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 31 + seed) & 0xff;
    let off = 0;
    const deadline = this.p.clock.nowUs + 20_000_000;
    while (this.p.clock.nowUs < deadline && cl.got.length < n) {
      if (off < n) {
        const w = s.write(data, off, n - off);
        if (w > 0) off += w;
      }
      this.p.run(this.p.clock.nowUs + 10_000, () => cl.got.length >= n);
    }
    if (cl.got.length !== n) return false;
    for (let i = 0; i < n; i++) if (cl.got[i] !== data[i]) return false;
    return true;
  }

  /** B's connection id for a client socket. */
  serverConn(cl: Client): number {
    return this.p.sb.tcp.flows.lookup(IP_B, ECHO_PORT, IP_A, cl.sock!.localPort);
  }

  sentinelState(): number {
    const c = this.serverConn(this.sentinel);
    return c < 0 ? TcpState.Closed : this.p.sb.tcp.state(c);
  }

  victimState(): number {
    const c = this.serverConn(this.victim);
    return c < 0 ? TcpState.Closed : this.p.sb.tcp.state(c);
  }

  /** Refresh the sequence numbers frames are built against. */
  refresh(): void {
    this.fill(this.ctx.conns[Target.Victim]!, this.victim);
    this.fill(this.ctx.conns[Target.Sentinel]!, this.sentinel);
  }

  private fill(n: ConnNumbers, cl: Client): void {
    const t = this.p.sb.tcp;
    n.localPort = ECHO_PORT;
    n.remotePort = cl.sock!.localPort;
    const c = this.serverConn(cl);
    if (c < 0) return;
    const k = t.conns;
    n.rcvNxt = k.rcvNxt[c]!;
    n.rcvWnd = Math.max(0, (k.rcvAdv[c]! - k.rcvNxt[c]!) | 0);
    n.sndUna = k.sndUna[c]!;
    n.sndNxt = k.sndMax[c]!;
    n.maxSndWnd = k.maxSndWnd[c]!;
    n.tsRecent = k.tsRecent[c]!;
  }

  encode(spec: FrameSpec, out: Uint8Array, dv: DataView, id: number): number {
    return encodeFrame(spec, this.ctx, out, dv, id);
  }

  /**
   * Build and receive frames on B one at a time, checking that each ends in
   * exactly one outcome (a named drop or an acceptance), then let both stacks
   * settle. Returns frames injected.
   */
  inject(specs: FrameSpec[]): number {
    this.refresh();
    const dev = this.p.devB;
    const netif = this.p.b.netif;
    const b = this.batch;
    let n = 0;
    for (let i = 0; i < specs.length; i++) {
      b.count = 0;
      if (dev.alloc(b, 1) !== 1) break;
      const len = encodeFrame(specs[i]!, this.ctx, SCRATCH, SCRATCH_DV, this.id++ & 0xffff);
      dev.mem.set(SCRATCH.subarray(0, len), b.off[0]!);
      b.len[0] = len;
      const tc = this.p.sb.tcp.counters;
      const before = outcomes(netif.counters);
      const segsBefore = tc.segsIn;
      const tcpBefore = tcpOutcomes(tc);
      const snap = CHECK_EACH ? netif.counters.snapshot() : null;
      const tsnap = CHECK_EACH ? { ...tc } : null;
      netif.receive(this.p.clock.nowUs, b);
      const d = outcomes(netif.counters) - before;
      const segs = tc.segsIn - segsBefore;
      const td = tcpOutcomes(tc) - tcpBefore;
      if (td !== segs) {
        const moved: Record<string, number> = {};
        if (tsnap !== null) {
          const now = tc as unknown as Record<string, number>;
          for (const k of Object.keys(tsnap)) if (now[k] !== (tsnap as unknown as Record<string, number>)[k]) moved[k] = now[k]! - (tsnap as unknown as Record<string, number>)[k]!;
        }
        throw new Error(`frame ${JSON.stringify(specs[i])}: TCP saw ${segs} segments but counted ${td} outcomes (${JSON.stringify(moved)})`);
      }
      if (d !== 1) {
        const moved: Record<string, number> = {};
        if (snap !== null) {
          const now = netif.counters.snapshot();
          for (const k of Object.keys(now)) if (now[k] !== snap[k]) moved[k] = now[k]! - snap[k]!;
        }
        throw new Error(`frame ${JSON.stringify(specs[i])} ended in ${d} outcomes (${JSON.stringify(moved)})`);
      }
      n++;
    }
    this.p.clock.nowUs += 100;
    this.p.settle();
    return n;
  }

  /** Receive the first `len` bytes of `frame` on B. */
  injectBytes(frame: Uint8Array, len: number): void {
    const dev = this.p.devB;
    const b = this.batch;
    b.count = 0;
    if (dev.alloc(b, 1) !== 1) throw new Error("harness: no buffer");
    dev.mem.set(frame.subarray(0, len), b.off[0]!);
    b.len[0] = len;
    this.p.b.netif.receive(this.p.clock.nowUs, b);
    this.p.settle();
  }

  accountingBefore(): AccountingBase {
    const tc = this.p.sb.tcp.counters;
    return { net: this.p.b.netif.counters.snapshot(), segsIn: tc.segsIn, tcpOutcomes: tcpOutcomes(tc), ipackets: this.p.devB.stats().ipackets };
  }

  /**
   * Every frame B received since `base` ended in exactly one place: a named
   * drop, ARP or ICMP acceptance, or delivery to TCP (which counted it).
   */
  checkAccounting(base: AccountingBase): Accounting {
    const c = this.p.b.netif.counters;
    const d = (k: keyof NetCounters & string) => (c[k] as number) - (base.net[k] ?? 0);
    let baseDrops = 0;
    for (const k of Object.keys(base.net)) if (k.startsWith("drop")) baseDrops += base.net[k]!;
    const acc: Accounting = {
      frames: d("rxFrames"),
      drops: c.totalDrops() - baseDrops,
      arp: d("arpAccepted"),
      icmp: d("icmpAccepted"),
      tcp: d("tcpDelivered"),
      legit: this.p.devB.stats().ipackets - base.ipackets,
    };
    if (acc.frames !== acc.drops + acc.arp + acc.icmp + acc.tcp) {
      throw new Error(`accounting: ${acc.frames} frames != ${acc.drops} drops + ${acc.arp} arp + ${acc.icmp} icmp + ${acc.tcp} tcp`);
    }
    const segs = this.p.sb.tcp.counters.segsIn - base.segsIn;
    if (segs !== acc.tcp) throw new Error(`accounting: TCP counted ${segs} segments, ${acc.tcp} delivered`);
    const tcpOut = tcpOutcomes(this.p.sb.tcp.counters) - base.tcpOutcomes;
    if (tcpOut !== segs) throw new Error(`accounting: TCP saw ${segs} segments, ${tcpOut} ended accepted or dropped by a named reason`);
    return acc;
  }

  dropsByReason(base: AccountingBase): Record<string, number> {
    const out: Record<string, number> = {};
    const snap = this.p.b.netif.counters.snapshot();
    for (const k of Object.keys(snap)) {
      if (!k.startsWith("drop")) continue;
      const v = snap[k]! - (base.net[k] ?? 0);
      if (v > 0) out[k] = v;
    }
    return out;
  }

  tcpSummary(): Record<string, number> {
    const t = this.p.sb.tcp.counters as unknown as Record<string, number>;
    const out: Record<string, number> = {};
    for (const k of Object.keys(t)) if (t[k]! > 0) out[k] = t[k]!;
    return out;
  }
}

function emptyNumbers(): ConnNumbers {
  return { localPort: 0, remotePort: 0, rcvNxt: 0, rcvWnd: 0, sndUna: 0, sndNxt: 0, maxSndWnd: 0, tsRecent: 0 };
}

/** Snapshot counters around every frame to name what moved on a failure (slower). */
const CHECK_EACH = process.env.FUZZ_CHECK_EACH === "1";

/** Outcomes so far: every named drop plus every acceptance. */
function outcomes(c: NetCounters): number {
  return c.totalDrops() + c.arpAccepted + c.icmpAccepted + c.tcpDelivered;
}

/** TCP outcomes so far: segments accepted plus segments dropped by a named reason. */
function tcpOutcomes(c: TcpCounters): number {
  return c.segsAccepted + c.segmentDrops();
}

const SCRATCH = new Uint8Array(2048);
const SCRATCH_DV = new DataView(SCRATCH.buffer);

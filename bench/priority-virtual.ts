/**
 * bench/priority --virtual: the priority benchmark in virtual time (issue 5).
 *
 * Set-up: one process, two stacks joined by a PairDevice on a virtual clock
 * (test/netsim's arrangement). Not the DPDK path: every run is deterministic
 * and the queueing the priority machinery acts on is modelled exactly. The
 * server's work per message is a fixed service time W (virtual) during which
 * the stack keeps polling (as if the app ran on its own core), one message at
 * a time, so its capacity is 1/W; it is measured first by saturating it.
 *
 * Load: C connections; B bursts of 1 s at R x the measured capacity, each
 * followed by 1 s of quiet; a fraction `high` of messages are high priority
 * (iotep format: 100-byte messages, payload byte 5 = 0x01 for a request (high),
 * 0x00 otherwise, byte 6 = 0x02). Latency = reply arrival - intended send
 * time (so a late send is charged: no coordinated omission).
 *
 * priority on : server stack classifies with the iotep rule; sockets in message
 *               mode; the app serves its high queue first (re-checked before each
 *               low message); high replies are written SEND_AHEAD (class 0).
 * priority off: no classifier, byte-stream sockets, one FIFO queue.
 */
import { Stack } from "../src/api/stack";
import { SEND_AHEAD, TcpSockets, type TcpSocket } from "../src/api/tcp-sockets";
import { classifierFromSpec } from "../src/api/classifier-spec";
import { ManualClock, PairDevice } from "../src/net/pair-device";
import { SeededRng } from "../src/net/seeded-rng";
import type { PollStage } from "../src/sched/poll-loop";
import { SpscRing } from "../src/mem/spsc-ring";

export interface VirtualParams {
  conns: number;
  serviceUs: number;
  bursts: number;
  ratio: number;
  high: number;
}

let CONNS = 400;
let SERVICE_US = 100;
let BURSTS = 2;
let HIGH = 0.05;
const MSG = 100;

class Pair {
  readonly clock = new ManualClock(1_000_000);
  readonly a: Stack;
  readonly b: Stack;
  readonly sa: TcpSockets;
  readonly sb: TcpSockets;
  private readonly devA: PairDevice;
  private readonly devB: PairDevice;
  constructor(priority: boolean) {
    const [da, db] = PairDevice.create({ clock: this.clock, seed: 1, faults: { delayUs: 20 }, nbufs: 16384 });
    this.devA = da;
    this.devB = db;
    const clock = () => this.clock.nowUs;
    this.a = new Stack(da, { ip: 0x0a000001, prefixLen: 24 }, { clock });
    this.b = new Stack(db, { ip: 0x0a000002, prefixLen: 24 }, { clock });
    const ra = new SeededRng(11);
    const rb = new SeededRng(12);
    const tcp = { maxConnections: CONNS + 16, chunkCount: 65536 };
    this.sa = new TcpSockets(this.a, tcp, { rng: () => ra.nextU32() });
    if (priority) this.b.setClassifier(classifierFromSpec("iotep"));
    this.sb = new TcpSockets(this.b, tcp, { rng: () => rb.nextU32() });
  }
  settle(): void {
    for (let i = 0; i < 1_000_000; i++) {
      const now = this.clock.nowUs;
      if (this.a.poll(now) + this.b.poll(now) === 0) return;
    }
    throw new Error("no quiescence");
  }
  run(untilUs: number, done?: () => boolean): void {
    this.settle();
    for (;;) {
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
  }
}

/** The server: reassembles 100-byte messages, serves them one at a time for SERVICE_US each. */
class Server implements PollStage {
  readonly hi: { s: TcpSocket<Uint8Array[]>; m: Uint8Array }[] = [];
  readonly lo: { s: TcpSocket<Uint8Array[]>; m: Uint8Array }[] = [];
  private cur: { s: TcpSocket<Uint8Array[]>; m: Uint8Array } | null = null;
  private doneAt = 0;
  private now = 0;
  served = 0;
  malformed = 0;
  constructor(readonly priority: boolean) {}
  take(s: TcpSocket<Uint8Array[]>, d: Uint8Array): void {
    // Stream bytes: reassemble; an express message (messageClass >= 0) is whole.
    let buf = d;
    const pend = s.data;
    if (s.messageClass < 0 && pend.length > 0) {
      const p = pend.pop()!;
      buf = new Uint8Array(p.length + d.length);
      buf.set(p);
      buf.set(d, p.length);
    }
    let off = 0;
    for (; off + MSG <= buf.length; off += MSG) {
      const m = buf.slice(off, off + MSG);
      if (m[6] !== 0x02) this.malformed++;
      const high = m[5] === 0x01;
      if (this.priority && high) this.hi.push({ s, m });
      else this.lo.push({ s, m });
    }
    if (off < buf.length) {
      if (s.messageClass >= 0) this.malformed++;
      else pend.push(buf.slice(off));
    }
  }
  poll(nowUs: number): number {
    this.now = nowUs;
    let w = 0;
    for (;;) {
      if (this.cur !== null) {
        if (nowUs < this.doneAt) return w;
        const { s, m } = this.cur;
        m[6] = 0x03;
        if (this.priority && m[5] === 0x01) s.write(m, 0, MSG, SEND_AHEAD);
        else s.write(m);
        this.cur = null;
        this.served++;
        w++;
      }
      // QStack's workers: the request queue first, re-checked before each low message.
      const next = this.hi.length > 0 ? this.hi.shift()! : this.lo.length > 0 ? this.lo.shift()! : null;
      if (next === null) return w;
      this.cur = next;
      this.doneAt = Math.max(this.doneAt, nowUs) + SERVICE_US;
    }
  }
  pollAt(): number {
    return this.cur !== null ? this.doneAt : this.hi.length + this.lo.length > 0 ? this.now : Infinity;
  }
}

/** The load generator: scheduled sends, latency per class from the intended send time. */
class Client implements PollStage {
  socks: TcpSocket<Uint8Array[]>[] = [];
  private sched: Float64Array = new Float64Array(0);
  private high: Uint8Array = new Uint8Array(0);
  private i = 0;
  sentAt = new Float64Array(0);
  lat: number[][] = [[], []];
  replies = 0;
  private readonly msg = new Uint8Array(MSG);
  constructor(readonly p: Pair) {}
  plan(times: Float64Array, high: Uint8Array): void {
    this.sched = times;
    this.high = high;
    this.i = 0;
    this.sentAt = new Float64Array(times.length);
    this.lat = [[], []];
    this.replies = 0;
  }
  get pending(): boolean {
    return this.i < this.sched.length;
  }
  poll(nowUs: number): number {
    let w = 0;
    while (this.i < this.sched.length && this.sched[this.i]! <= nowUs) {
      const k = this.i++;
      const m = this.msg;
      m.fill(0);
      new DataView(m.buffer).setUint32(0, k);
      m[5] = this.high[k]! ? 0x01 : 0x00;
      m[6] = 0x02;
      this.socks[k % this.socks.length]!.write(m);
      w++;
    }
    return w;
  }
  pollAt(): number {
    return this.i < this.sched.length ? this.sched[this.i]! : Infinity;
  }
  reply(s: TcpSocket<Uint8Array[]>, d: Uint8Array): void {
    let buf = d;
    if (s.data.length > 0) {
      const p = s.data.pop()!;
      buf = new Uint8Array(p.length + d.length);
      buf.set(p);
      buf.set(d, p.length);
    }
    let off = 0;
    const dv = new DataView(buf.buffer, buf.byteOffset);
    for (; off + MSG <= buf.length; off += MSG) {
      const k = dv.getUint32(off);
      this.lat[this.high[k]! ? 0 : 1]!.push(this.p.clock.nowUs - this.sched[k]!);
      this.replies++;
    }
    if (off < buf.length) s.data.push(buf.slice(off));
  }
}

function pct(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const i = Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1));
  return xs[i]!;
}

function setup(priority: boolean): { p: Pair; server: Server; client: Client } {
  const p = new Pair(priority);
  const server = new Server(priority);
  p.sb.listen<Uint8Array[]>({ port: 80, noDelay: true, messageMode: priority, data: [], socket: { data: (s, d) => server.take(s, d) } });
  p.b.addAppStage(server);
  const client = new Client(p);
  p.a.addAppStage(client);
  for (let i = 0; i < CONNS; i++) {
    void p.sa.connect<Uint8Array[]>({ hostname: "10.0.0.2", port: 80, noDelay: true, data: [], socket: { open: (s) => void client.socks.push(s), data: (s, d) => client.reply(s, d) } });
  }
  p.run(p.clock.nowUs + 2_000_000, () => client.socks.length === CONNS);
  if (client.socks.length !== CONNS) throw new Error(`only ${client.socks.length} of ${CONNS} connections opened`);
  return { p, server, client };
}

/** Saturate the server (4x its nominal rate for 0.5 s) and count messages served per second. */
function measureCapacity(): number {
  const { p, server, client } = setup(false);
  const n = Math.ceil((4 * 1e6) / SERVICE_US / 2);
  const t0 = p.clock.nowUs + 1000;
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = t0 + (i * 500_000) / n;
  client.plan(times, new Uint8Array(n));
  const s0 = server.served;
  p.run(t0 + 500_000);
  return ((server.served - s0) / 0.5) | 0;
}

function runLoad(priority: boolean, rate: number, rng: SeededRng) {
  const { p, server, client } = setup(priority);
  const perBurst = Math.round(rate);
  const n = perBurst * BURSTS;
  const times = new Float64Array(n);
  const high = new Uint8Array(n);
  const t0 = p.clock.nowUs + 10_000;
  for (let b = 0; b < BURSTS; b++) {
    for (let i = 0; i < perBurst; i++) {
      const k = b * perBurst + i;
      times[k] = t0 + b * 2_000_000 + (i * 1e6) / perBurst;
      high[k] = rng.nextU32() / 2 ** 32 < HIGH ? 1 : 0;
    }
  }
  client.plan(times, high);
  const wall0 = performance.now();
  p.run(t0 + BURSTS * 2_000_000 + 60_000_000, () => !client.pending && client.replies === n);
  const wallS = (performance.now() - wall0) / 1000;
  const res: Record<string, unknown> = { priority, messages: n, replies: client.replies, malformed: server.malformed, simWallS: +wallS.toFixed(2) };
  for (const [ci, name] of [[0, "high"], [1, "low"]] as const) {
    const xs = client.lat[ci]!.sort((x, y) => x - y);
    res[name] = { count: xs.length, p50Us: pct(xs, 0.5), p99Us: pct(xs, 0.99), p999Us: pct(xs, 0.999), maxUs: xs[xs.length - 1] ?? NaN };
  }
  return res;
}

/** SpscRing throughput in one thread (batches of 32 and single items): an upper bound of the datapath exchange. */
export function ringThroughput(): { batch32MItemsPerS: number; singleMItemsPerS: number } {
  const r = SpscRing.create(4096);
  const buf = new Uint32Array(32);
  const out = new Uint32Array(32);
  const go = (batch: boolean, ms: number): number => {
    let items = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      for (let j = 0; j < 1000; j++) {
        if (batch) {
          r.pushBatch(buf, 32);
          items += r.popBatch(out, 32);
        } else {
          r.push(j);
          r.pop();
          items++;
        }
      }
    }
    return items / ((performance.now() - t0) * 1000);
  };
  go(true, 300);
  go(false, 300);
  return { batch32MItemsPerS: +go(true, 700).toFixed(1), singleMItemsPerS: +go(false, 700).toFixed(1) };
}

/** The virtual-time case: capacity, then priority on and off at ratio x capacity. */
export function runVirtual(p: VirtualParams) {
  CONNS = p.conns;
  SERVICE_US = p.serviceUs;
  BURSTS = p.bursts;
  HIGH = p.high;
  const capacity = measureCapacity();
  const rate = p.ratio * capacity;
  const on = runLoad(true, rate, new SeededRng(5));
  const off = runLoad(false, rate, new SeededRng(5));
  return { capacity, rate, on, off };
}

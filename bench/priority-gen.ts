/**
 * The load generator of bench/priority: an app stage on our stack that sends
 * 100-byte iotep-format messages (bench/priority-server.ts) over many
 * connections at planned times and measures each reply from the message's
 * INTENDED send time (so a late send is charged: no coordinated omission),
 * in one HDR histogram per class.
 *
 * Message k goes on connection k mod C; bytes 12..15 carry k, byte 5 is 0x01
 * for a high-priority message. High messages are written SEND_AHEAD, so each
 * starts its own segment and the server's payload classifier sees byte 5 (the
 * same in both cases of the benchmark: only the server differs).
 */
import { SEND_AHEAD, type TcpSocket } from "../src/api/tcp-socket";
import { SeededRng } from "../src/net/seeded-rng";
import type { PollStage } from "../src/sched/poll-loop";
import { newLatencyHistogram, recordUs, summarize, type Histogram, type LatencySummary } from "../apps/iotep/latency";
import { wallUs } from "../src/api/clock";
import type { TcpLayer } from "../src/tcp/tcp-layer";
import { SlowLog } from "./priority-tail";
import { LABEL_REPLY, LABEL_REQUEST, MSG, OFF_LABEL, OFF_PRIO, OFF_READ, OFF_REPLIED, OFF_SENT, OFF_SEQ, PRIO_HIGH, writeInPlace } from "./priority-server";

/** Per-socket reassembly of replies cut by segment boundaries. */
export interface GenConn {
  part: Uint8Array;
  len: number;
}

export interface LoadPlan {
  /** Intended send time of message k, us (non-decreasing). */
  times: Float64Array;
  /** 1 when message k is high priority. */
  high: Uint8Array;
}

/**
 * `bursts` bursts of `burstS` seconds at `rate` messages/s, each followed by
 * `quietS` seconds of nothing; a fraction `highFrac` of messages (drawn with a
 * seeded generator) high priority.
 */
export function burstPlan(startUs: number, rate: number, bursts: number, burstS: number, quietS: number, highFrac: number, seed: number): LoadPlan {
  const per = Math.max(1, Math.round(rate * burstS));
  const n = per * bursts;
  const times = new Float64Array(n);
  const high = new Uint8Array(n);
  const rng = new SeededRng(seed);
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < per; i++) {
      const k = b * per + i;
      times[k] = startUs + b * (burstS + quietS) * 1e6 + (i * burstS * 1e6) / per;
      high[k] = rng.next() < highFrac ? 1 : 0;
    }
  }
  return { times, high };
}

export class LoadGen implements PollStage {
  readonly socks: TcpSocket<GenConn>[] = [];
  private plan: LoadPlan = { times: new Float64Array(0), high: new Uint8Array(0) };
  private next = 0;
  private readonly msg = new Uint8Array(MSG);
  private readonly dv = new DataView(this.msg.buffer);
  /** Latency per class from the intended send time, us: [high, low]. */
  lat: [Histogram, Histogram] = [newLatencyHistogram(), newLatencyHistogram()];
  /** How late each send happened after its intended time, us. */
  sendLag: Histogram = newLatencyHistogram();
  /**
   * The legs of each latency per class ([high, low]), from the wall-clock
   * stamps in the message: sent -> read by the server (the wire and the wait
   * for the server's next receive), read -> replied (the server's queue and
   * service), replied -> reply received (the server's flush, the wire, our receive).
   */
  legs = LoadGen.newLegs();
  /** High-priority messages slower than 1 ms, with their stamps (bench/priority-tail.ts). */
  readonly slow = new SlowLog(1000);
  private readonly scratch = new Uint8Array(MSG);
  private readonly sdv = new DataView(this.scratch.buffer);
  sent = 0;
  replies = 0;
  /** Wall-clock us of the last counted reply. */
  lastReplyWallUs = 0;
  sendFailed = 0;
  badReplies = 0;
  /** Replies that arrived inside [winFrom, winTo) (capacity measurement). */
  winFrom = 0;
  winTo = 0;
  inWindow = 0;
  /** Closed loop (capacity): each reply sends the next message until this time, us. */
  private closedUntil = 0;

  /** Microseconds slept between sends (with a sleeper). */
  sleptUs = 0;

  /** sendReserve span (writeInPlace). */
  private readonly span = new Int32Array(2);

  /**
   * `sleep`: when given, rounds that send nothing sleep until shortly before the next send (at most 100 us).
   * `tcp`: the sockets' TcpLayer; when given, low messages are written in place into the send
   * buffer by socket id (writeInPlace: no view allocated per message) instead of TcpSocket.write.
   */
  constructor(
    private readonly clock: () => number,
    private readonly sleep: ((us: number) => void) | null = null,
    private readonly tcp: TcpLayer | null = null,
  ) {}

  /** Write one message on socket s: SEND_AHEAD when high, else in place when `tcp` is given. */
  private send(s: TcpSocket<GenConn>, m: Uint8Array, hi: boolean): number {
    if (hi) return s.write(m, 0, MSG, SEND_AHEAD);
    if (this.tcp === null || s.isReleased) return s.write(m, 0, MSG);
    return writeInPlace(this.tcp, s.id, m, 0, MSG, this.span);
  }

  private static newLegs() {
    const two = (): [Histogram, Histogram] => [newLatencyHistogram(), newLatencyHistogram()];
    return { toServer: two(), inServer: two(), back: two() };
  }

  /** Start sending `plan` (resets the counters and histograms). */
  start(plan: LoadPlan): void {
    this.plan = plan;
    this.closedUntil = 0;
    this.next = 0;
    this.sent = this.replies = this.sendFailed = this.badReplies = this.inWindow = 0;
    this.lat = [newLatencyHistogram(), newLatencyHistogram()];
    this.sendLag = newLatencyHistogram();
    this.legs = LoadGen.newLegs();
    this.slow.reset();
  }

  /**
   * Saturate the server without building a backlog: keep `outstanding` low
   * messages in flight (each reply sends the next) until `untilUs`; replies
   * that arrive in [winFrom, winTo) are counted in `inWindow`.
   */
  startClosed(outstanding: number, untilUs: number): void {
    const n = Math.max(1, outstanding);
    this.start({ times: new Float64Array(n), high: new Uint8Array(n) });
    this.closedUntil = untilUs;
  }

  get total(): number {
    return this.plan.times.length;
  }

  get finished(): boolean {
    return this.next === this.plan.times.length && this.replies + this.sendFailed >= this.plan.times.length;
  }

  poll(nowUs: number): number {
    const { times, high } = this.plan;
    const socks = this.socks;
    const m = this.msg;
    let w = 0;
    while (this.next < times.length && times[this.next]! <= nowUs) {
      const k = this.next++;
      const hi = high[k] === 1;
      m[OFF_PRIO] = hi ? PRIO_HIGH : 0;
      m[OFF_LABEL] = LABEL_REQUEST;
      this.dv.setUint32(OFF_SEQ, k, true);
      this.dv.setFloat64(OFF_SENT, wallUs(), true);
      const n = this.send(socks[k % socks.length]!, m, hi);
      if (n === MSG) this.sent++;
      else this.sendFailed++;
      recordUs(this.sendLag, nowUs - times[k]!);
      w++;
    }
    if (w === 0 && this.sleep !== null) {
      // ~20 us of wake-up overshoot (microSleeper): aim that much early.
      const gap = Math.min(this.pollAt() - nowUs, 120);
      if (gap > 45) {
        this.sleep(gap - 25);
        this.sleptUs += gap - 25;
      }
    }
    return w;
  }

  pollAt(): number {
    return this.next < this.plan.times.length ? this.plan.times[this.next]! : Number.POSITIVE_INFINITY;
  }

  /** Socket data handler: replies, possibly cut or coalesced. */
  reply(s: TcpSocket<GenConn>, d: Uint8Array): void {
    const g = s.data;
    let off = 0;
    if (g.len > 0) {
      const take = Math.min(MSG - g.len, d.length);
      g.part.set(d.subarray(0, take), g.len);
      g.len += take;
      off = take;
      if (g.len < MSG) return;
      this.one(g.part, 0);
      g.len = 0;
    }
    for (; off + MSG <= d.length; off += MSG) this.one(d, off);
    if (off < d.length) {
      g.part.set(d.subarray(off), 0);
      g.len = d.length - off;
    }
  }

  private one(b: Uint8Array, off: number): void {
    const k = (b[off + OFF_SEQ]! | (b[off + OFF_SEQ + 1]! << 8) | (b[off + OFF_SEQ + 2]! << 16) | (b[off + OFF_SEQ + 3]! << 24)) >>> 0;
    const { times, high } = this.plan;
    if (b[off + OFF_LABEL] !== LABEL_REPLY || k >= times.length) {
      this.badReplies++;
      return;
    }
    const now = this.clock();
    if (now >= this.winFrom && now < this.winTo) this.inWindow++;
    if (now < this.closedUntil) {
      // Closed loop: message k again, on its connection (not counted as a reply yet).
      const m = this.msg;
      for (let i = 0; i < MSG; i++) m[i] = b[off + i]!;
      m[OFF_LABEL] = LABEL_REQUEST;
      this.dv.setFloat64(OFF_SENT, wallUs(), true);
      if (this.send(this.socks[k % this.socks.length]!, m, false) === MSG) return;
      this.sendFailed++;
      return;
    }
    this.replies++;
    const cls = high[k] === 1 ? 0 : 1;
    recordUs(this.lat[cls], now - times[k]!);
    const w = wallUs();
    this.lastReplyWallUs = w;
    const sc = this.scratch;
    for (let i = OFF_SENT; i < OFF_REPLIED + 8; i++) sc[i] = b[off + i]!;
    const sent = this.sdv.getFloat64(OFF_SENT, true);
    const read = this.sdv.getFloat64(OFF_READ, true);
    const replied = this.sdv.getFloat64(OFF_REPLIED, true);
    recordUs(this.legs.toServer[cls], read - sent);
    recordUs(this.legs.inServer[cls], replied - read);
    recordUs(this.legs.back[cls], w - replied);
    if (cls === 0) this.slow.note(k, now - times[k]!, sent, read, replied, w);
  }

  /** Sockets with unsent/unacknowledged bytes or a cut reply at the end (diagnosis). */
  leftovers(tcp: { sendQueued(c: number): number; state(c: number): number; localPort(c: number): number; rtoUs(c: number): number; cwnd(c: number): number }) {
    let sendQueued = 0;
    let cut = 0;
    const examples: Record<string, number>[] = [];
    for (const s of this.socks) {
      const q = tcp.sendQueued(s.id);
      if (q > 0) sendQueued++;
      if (s.data.len > 0) cut++;
      if ((q > 0 || s.data.len > 0) && examples.length < 5) {
        examples.push({ c: s.id, port: tcp.localPort(s.id), state: tcp.state(s.id), sendQueued: q, cut: s.data.len, rtoUs: tcp.rtoUs(s.id), cwnd: tcp.cwnd(s.id) });
      }
    }
    return { sendQueued, cut, examples };
  }

  results() {
    const l = this.legs;
    const leg = (i: number) => ({ toServer: summarize(l.toServer[i]!), inServer: summarize(l.inServer[i]!), back: summarize(l.back[i]!) });
    return {
      sent: this.sent, replies: this.replies, sendFailed: this.sendFailed, badReplies: this.badReplies,
      high: summarize(this.lat[0]), low: summarize(this.lat[1]), sendLag: summarize(this.sendLag), legs: { high: leg(0), low: leg(1) },
    };
  }
}

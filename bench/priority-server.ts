/**
 * The server app of bench/priority (real devices, and the virtual-time test of
 * the same mechanism): a run-to-completion server on our stack through
 * TcpEpoll whose capacity is small and well defined, so that what is measured
 * is the priority machinery, not the two shared cores.
 *
 * Each 100-byte message costs a fixed service time W of CPU (a busy-wait on the
 * clock, `spin`), one message at a time; the reply is the message with byte 6
 * set to 0x03. The app is written as QStack's server apps are: an app stage of
 * the stack that asks the prioritized event framework (`ep.poll.wait`: events
 * of high-priority frames first) which connections have data, reads them into
 * its queues, and coroutines of the priority Scheduler (src/sched/coroutine.ts)
 * that serve the queues, each message one coroutine step:
 *
 *   priority on : the stack classifies with the iotep rule (payload byte 5 ==
 *                 0x01: class 0), connections are in message mode (a high
 *                 segment is read before earlier unread stream bytes), high
 *                 messages go to the high queue served by a class-0 coroutine,
 *                 the rest to the low queue served by a class-1 coroutine, so
 *                 the Scheduler re-checks the high queue before each low message;
 *                 high replies are written SEND_AHEAD (class 0). After the high
 *                 queue empties the app hands the turn back to the stack (both
 *                 coroutines park until the next round), so the high replies
 *                 leave now and not after the rest of the budget.
 *   priority off: no classifier, byte-stream connections, one FIFO served by
 *                 one coroutine, plain writes.
 *
 * While saturated the coroutines run back to back; the Scheduler returns to the
 * poll loop when the stack has not polled for `budgetUs` (QStack: 1,000 us,
 * checked about every 200 us), which is when high-priority arrivals are
 * received, classified and queued ahead of the low backlog: the mechanism under
 * test. The poll loop reads the clock once per round; `clock` is injected.
 */
import { EAGAIN } from "../src/tcp/errno";
import type { TcpLayer } from "../src/tcp/tcp-layer";
import { EPOLLIN, EPOLLRDHUP, type TcpEpoll } from "../src/api/tcp-epoll";
import { PARK, Scheduler, type Coroutine } from "../src/sched/coroutine";
import type { PollStage } from "../src/sched/poll-loop";
import { newLatencyHistogram, recordUs, summarize, type Histogram } from "../apps/iotep/latency";
import { wallUs } from "../src/api/clock";

/** Message bytes and offsets (iotep format: byte 5 = 0x01 high, byte 6 = 0x02 request, 0x03 reply). */
export const MSG = 100;
export const OFF_PRIO = 5;
export const OFF_LABEL = 6;
/** The generator's message number (u32, little endian). */
export const OFF_SEQ = 12;
/**
 * Wall-clock stamps (f64 us, little endian; both processes read the same
 * clock, wallUs): sent by the generator, read by the server, replied by the
 * server. They split a latency into its legs (bench/priority-gen.ts).
 */
export const OFF_SENT = 16;
export const OFF_READ = 24;
export const OFF_REPLIED = 32;
export const PRIO_HIGH = 0x01;
export const LABEL_REQUEST = 0x02;
export const LABEL_REPLY = 0x03;

const CONN_EVENTS = EPOLLIN | EPOLLRDHUP;

/**
 * Queue src[off, off + len) on connection c by writing it straight into the
 * send buffer (sendReserve/sendCommit, a plain loop; `span` is scratch) rather
 * than tcp.send(), whose copy allocates a subarray view per call unless both
 * buffers are registered for native copies (src/mem/native-mem.ts): one view
 * per message on each side. Returns the bytes queued (fewer when the buffer is full).
 */
export function writeInPlace(tcp: TcpLayer, c: number, src: Uint8Array, off: number, len: number, span: Int32Array): number {
  const mem = tcp.pool.mem;
  let done = 0;
  while (done < len) {
    const got = tcp.sendReserve(c, len - done, span);
    if (got <= 0) break;
    const from = off + done;
    const shift = span[0]! - from;
    for (let i = from; i < from + got; i++) mem[shift + i] = src[i]!;
    tcp.sendCommit(c, got);
    done += got;
  }
  return done;
}
const WAIT_MAX = 64;

/** A FIFO of whole messages with their connection and arrival time, in typed arrays (no allocation per message). */
export class MsgFifo {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly conn: Int32Array;
  readonly at: Float64Array;
  private head = 0;
  length = 0;
  /** Messages refused because the FIFO was full. */
  dropped = 0;
  constructor(readonly capacity: number) {
    this.bytes = new Uint8Array(capacity * MSG);
    this.dv = new DataView(this.bytes.buffer);
    this.conn = new Int32Array(capacity);
    this.at = new Float64Array(capacity);
  }
  push(c: number, src: Uint8Array, off: number, atUs: number): boolean {
    if (this.length === this.capacity) {
      this.dropped++;
      return false;
    }
    let slot = this.head + this.length;
    if (slot >= this.capacity) slot -= this.capacity;
    const d = this.bytes;
    const at = slot * MSG;
    for (let i = 0; i < MSG; i++) d[at + i] = src[off + i]!;
    this.dv.setFloat64(at + OFF_READ, wallUs(), true);
    this.conn[slot] = c;
    this.at[slot] = atUs;
    this.length++;
    return true;
  }
  /** Take the oldest message; returns its slot (valid until the next push wraps onto it). */
  shift(): number {
    const slot = this.head;
    this.head = slot + 1 === this.capacity ? 0 : slot + 1;
    this.length--;
    return slot;
  }
}

export interface PriorityServerOptions {
  priority: boolean;
  /** CPU per message, us. */
  serviceUs: number;
  /** Monotonic integer microseconds (the stack's clock). */
  clock: () => number;
  /** Burn `us` of CPU: a busy-wait on `clock` unless given (tests advance a manual clock). */
  spin?: (us: number) => void;
  /** Scheduler budget and clock-check interval (default 1,000 / 200 us, QStack's). */
  budgetUs?: number;
  checkEveryUs?: number;
  /** The budget while only low-priority work runs (Scheduler lowBudgetUs; default budgetUs). */
  lowBudgetUs?: number;
  /** Messages each queue holds (default 1 << 17). */
  queueMessages?: number;
  /** Connection ids (TcpEpoll.listenerBase). */
  maxConnections: number;
  /** Diagnosis: marks 2 (events taken) and 3 (Scheduler done) of each round (bench/priority-gaps.ts). */
  probe?: { mark(i: number): void } | null;
}

export class PriorityServer implements PollStage {
  readonly sched: Scheduler;
  readonly hi: MsgFifo;
  readonly lo: MsgFifo;
  private readonly out = new Int32Array(2 * WAIT_MAX);
  private readonly buf = new Uint8Array(64 * 1024);
  /** recvView / sendReserve spans: offset in the buffer pool, length. */
  private readonly span = new Int32Array(2);
  /** Per connection: bytes of a message cut by a segment boundary (byte stream). */
  private readonly part: Uint8Array;
  private readonly partLen: Int32Array;
  private readonly spin: (us: number) => void;
  private readonly hiId: number;
  private readonly loId: number;
  private readonly listener: number;
  /** Set by the high coroutine when its queue empties: both park until the next round. */
  private endTurn = false;
  private now = 0;
  /** In-server latency per class (read into a queue -> reply written), us. */
  readonly inServer: [Histogram, Histogram] = [newLatencyHistogram(), newLatencyHistogram()];
  accepted = 0;
  served = 0;
  servedHigh = 0;
  expressIn = 0;
  sendFailed = 0;
  malformed = 0;
  /** Rounds the app ended early to let high replies out. */
  turnsHandedBack = 0;

  constructor(
    private readonly ep: TcpEpoll,
    port: number,
    private readonly o: PriorityServerOptions,
  ) {
    const clock = o.clock;
    this.spin =
      o.spin ??
      ((us: number) => {
        const end = clock() + us;
        while (clock() < end);
      });
    this.sched = new Scheduler({ classes: 2, budgetUs: o.budgetUs ?? 1000, lowBudgetUs: o.lowBudgetUs ?? o.budgetUs ?? 1000, checkEveryUs: o.checkEveryUs ?? 200, clock });
    const q = o.queueMessages ?? 1 << 17;
    this.hi = new MsgFifo(o.priority ? q : 1);
    this.lo = new MsgFifo(q);
    this.part = new Uint8Array(o.maxConnections * MSG);
    this.partLen = new Int32Array(o.maxConnections);
    this.hiId = this.sched.spawn(this.highWorker(), 0);
    this.loId = this.sched.spawn(this.lowWorker(), 1);
    const l = ep.listen(0, port, 65535);
    if (l < 0) throw new Error(`listen on port ${port} failed (errno ${-l})`);
    ep.poll.ctl("add", l, EPOLLIN, 0);
    this.listener = l;
  }

  get queued(): number {
    return this.hi.length + this.lo.length;
  }

  poll(nowUs: number): number {
    this.now = nowUs;
    const work = this.takeEvents();
    const probe = this.o.probe ?? null;
    probe?.mark(2);
    this.endTurn = false;
    if (this.hi.length > 0) this.sched.wake(this.hiId);
    if (this.lo.length > 0) this.sched.wake(this.loId);
    const resumed = this.sched.poll(nowUs);
    probe?.mark(3);
    return work + resumed;
  }

  pollAt(): number {
    return this.sched.pollAt();
  }

  private *highWorker(): Coroutine {
    for (;;) {
      while (this.hi.length === 0) yield PARK;
      this.serve(this.hi, true);
      if (this.hi.length === 0) {
        this.endTurn = true;
        this.turnsHandedBack++;
      }
      yield;
    }
  }

  private *lowWorker(): Coroutine {
    for (;;) {
      while (this.lo.length === 0 || this.endTurn) yield PARK;
      this.serve(this.lo, false);
      yield;
    }
  }

  private serve(q: MsgFifo, high: boolean): void {
    const slot = q.shift();
    const off = slot * MSG;
    const b = q.bytes;
    this.spin(this.o.serviceUs);
    b[off + OFF_LABEL] = LABEL_REPLY;
    q.dv.setFloat64(off + OFF_REPLIED, wallUs(), true);
    const c = q.conn[slot]!;
    const tcp = this.ep.tcp;
    const n = high ? tcp.sendAhead(c, b, off, MSG, 0) : writeInPlace(tcp, c, b, off, MSG, this.span);
    if (n !== MSG) this.sendFailed++;
    this.served++;
    if (high) this.servedHigh++;
    recordUs(this.inServer[high ? 0 : 1], this.o.clock() - q.at[slot]!);
  }

  /** Ready connections, high-priority frames' events first: accept, read everything into the queues. */
  private takeEvents(): number {
    const ep = this.ep;
    const out = this.out;
    let work = 0;
    for (;;) {
      const n = ep.poll.wait(out, WAIT_MAX);
      if (n === 0) return work;
      work += n;
      for (let i = 0; i < n; i++) {
        const id = out[2 * i]!;
        if (id === this.listener) this.acceptAll();
        else this.readAll(id);
      }
    }
  }

  private acceptAll(): void {
    const ep = this.ep;
    for (;;) {
      const c = ep.accept(this.listener);
      if (c < 0) return;
      this.accepted++;
      this.partLen[c] = 0;
      ep.tcp.setNoDelay(c, true);
      if (this.o.priority) ep.tcp.setMessageMode(c, true);
      ep.poll.ctl("add", c, CONN_EVENTS, 1);
      this.readAll(c);
    }
  }

  private readAll(c: number): void {
    const tcp = this.ep.tcp;
    const buf = this.buf;
    const span = this.span;
    for (;;) {
      const express = this.o.priority && tcp.nextMessageBytes(c) >= 0;
      if (!express) {
        // Stream bytes in place (recvView): a recv() into our buffer would copy through a
        // subarray view per call (ChunkQueues.copyOut on an unregistered buffer), one per message.
        const v = tcp.recvView(c, span);
        if (v > 0) {
          this.frame(c, tcp.pool.mem, span[0]!, v);
          tcp.recvRelease(c, v);
          continue;
        }
      }
      // An express message, or nothing readable: recv() tells EAGAIN, EOF or the error.
      const n = tcp.recv(c, buf, 0, buf.length);
      if (n <= 0) {
        // 0: the peer's FIN after its data; other negatives but EAGAIN: reset.
        if (n !== -EAGAIN) {
          this.ep.poll.ctl("del", c);
          tcp.close(c);
        }
        return;
      }
      if (express) {
        // One segment of the high class: whole messages.
        this.expressIn++;
        if (n % MSG !== 0) this.malformed++;
        for (let off = 0; off + MSG <= n; off += MSG) this.queue(c, buf, off);
      } else {
        this.frame(c, buf, 0, n);
      }
    }
  }

  /** Cut stream bytes src[at, at + n) into messages, keeping a cut message's head per connection (no views). */
  private frame(c: number, src: Uint8Array, at: number, n: number): void {
    const part = this.part;
    const end = at + n;
    let off = at;
    let have = this.partLen[c]!;
    if (have > 0) {
      const take = Math.min(MSG - have, n);
      const p = c * MSG + have;
      for (let i = 0; i < take; i++) part[p + i] = src[off + i]!;
      have += take;
      off += take;
      if (have < MSG) {
        this.partLen[c] = have;
        return;
      }
      this.queue(c, part, c * MSG);
      have = 0;
    }
    for (; off + MSG <= end; off += MSG) this.queue(c, src, off);
    if (off < end) {
      have = end - off;
      const p = c * MSG;
      for (let i = 0; i < have; i++) part[p + i] = src[off + i]!;
    }
    this.partLen[c] = have;
  }

  private queue(c: number, src: Uint8Array, off: number): void {
    if (src[off + OFF_LABEL] !== LABEL_REQUEST) this.malformed++;
    const high = this.o.priority && src[off + OFF_PRIO] === PRIO_HIGH;
    (high ? this.hi : this.lo).push(c, src, off, this.now);
  }

  /** Start counting afresh (after the capacity phase). */
  resetStats(): void {
    this.inServer[0].reset();
    this.inServer[1].reset();
    this.served = this.servedHigh = this.expressIn = this.sendFailed = this.malformed = this.turnsHandedBack = 0;
    this.sched.budgetYields = 0;
    this.sched.resumes = 0;
    this.sched.clockReads = 0;
  }

  /** Connections with bytes the app has not read, a cut message, or unsent/unacknowledged bytes (diagnosis). */
  leftovers(): Record<string, unknown> {
    const tcp = this.ep.tcp;
    let unread = 0;
    let unreadBytes = 0;
    let cut = 0;
    let sendQueued = 0;
    const examples: Record<string, number>[] = [];
    for (let c = 0; c < this.o.maxConnections; c++) {
      if (!tcp.conns.isUsed(c)) continue;
      const r = tcp.recvAvailable(c);
      const q = tcp.sendQueued(c);
      if (r > 0) (unread++, (unreadBytes += r));
      if (this.partLen[c]! > 0) cut++;
      if (q > 0) sendQueued++;
      if ((r > 0 || this.partLen[c]! > 0 || q > 0) && examples.length < 5) {
        examples.push({ c, port: tcp.remotePort(c), state: tcp.state(c), recvAvailable: r, cut: this.partLen[c]!, sendQueued: q, express: tcp.nextMessageBytes(c) });
      }
    }
    return { unread, unreadBytes, cut, sendQueued, examples };
  }

  stats(): Record<string, unknown> {
    const s = this.sched;
    return {
      accepted: this.accepted, served: this.served, servedHigh: this.servedHigh, expressIn: this.expressIn, sendFailed: this.sendFailed,
      malformed: this.malformed, dropped: this.hi.dropped + this.lo.dropped, queuedAtEnd: this.queued, turnsHandedBack: this.turnsHandedBack,
      scheduler: { resumes: s.resumes, budgetYields: s.budgetYields, clockReads: s.clockReads },
      inServerHigh: summarize(this.inServer[0]), inServerLow: summarize(this.inServer[1]),
      leftovers: this.leftovers(),
    };
  }
}

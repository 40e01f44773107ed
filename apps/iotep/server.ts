/**
 * iotepserver logic, independent of the transport (our stack or Bun's kernel
 * sockets): frames each connection's bytes into fixed-length messages, runs
 * the three Redis commands per message (DESIGN.md "iotep workload"; QStack's
 * apps/iotepserver.c simpQuerytest):
 *
 *   GET key in db 1; absent -> SET key <first 6 payload bytes>,
 *                    present -> SET key <value with its first byte + 1>;
 *   then GET key in db 2.            (key = connection id in decimal)
 *
 * and, for requests only, writes the 146-byte reply when the third command
 * has completed. A store with message() (store-script.ts) runs all three in
 * one call (one Lua script, one round trip); the stages below then collapse
 * into one. Heartbeats then go through messageBatched() when the store has
 * it: the store sends the heartbeats of one event-loop turn as one call,
 * after the requests of that turn.
 *
 * Priority ("requests are served before queued heartbeats at every stage";
 * QStack's workers drain the request queue first and re-check it after each
 * heartbeat): messages wait in two queues, and a bounded set of slots (the
 * messages being worked on in Redis, like QStack's coroutines) takes them,
 * requests first. When a Redis command completes, its slot's next command is
 * not sent from the callback: it goes to a per-class ready list, and one pump
 * per event-loop turn sends every ready request command, admits waiting
 * requests, and only then does the same for heartbeats. Commands sent in one
 * turn travel in one ioredis auto-pipeline, so within every pipeline the
 * request commands come first. Heartbeats may hold at most `heartbeatSlots` of
 * the slots, so a heartbeat burst never leaves a request waiting for a slot.
 *
 * Messages of one connection go through Redis one after another (a later
 * one waits in its slot, linked behind the earlier one), so two messages of a
 * connection never both read the key before either writes it: every
 * increment lands, as in QStack, whose workers run each message's commands
 * to completion.
 *
 * Redis failures never throw: the affected message counts as failed (no
 * reply), its slot is freed, connections are not touched, and service resumes
 * when the store reconnects. A full queue drops the message (counted as
 * dropped and failed) rather than growing without bound.
 *
 * Per connection the server keeps 28 bytes in typed arrays (framer state, a
 * generation number that stops replies to a closed connection reaching a new
 * one with the same id, and the last slot holding one of its messages); per slot, preallocated callbacks and a 6-byte
 * value buffer; nothing is allocated per message by this file (ioredis
 * allocates its command objects).
 */
import { monotonicUs } from "../../src/api/clock";
import { newLatencyHistogram, recordUs, type Histogram } from "./latency";
import { MSG_HEARTBEAT, MSG_REQUEST, MessageFramer, REPLY_LEN, ReplyBuilder, VALUE_BYTES, checkMsgLen, classifyMessage, type FrameSink } from "./protocol";
import type { IotepStore } from "./store";
import { RequestBreakdown } from "./breakdown";

export interface ReplySink {
  /** Write `len` bytes of `buf` on connection `conn`; false when it can no longer send. Must copy or send before returning. */
  reply(conn: number, buf: Uint8Array, len: number): boolean;
}

export interface IotepServerOptions {
  msgLen: number;
  store: IotepStore;
  /** Where replies go; may also be set later through `server.sink`. */
  sink?: ReplySink;
  /** Added to the connection id to form the Redis key (one range per process when several serve one Redis). */
  keyBase?: number;
  /** Monotonic clock, integer microseconds (latency of messages inside the server). */
  clockUs?: () => number;
  /** Wall clock in ms (the reply's Date header). */
  wallMs?: () => number;
  /** Messages worked on in Redis at once (default 512). */
  slots?: number;
  /** Of those, at most this many heartbeats (default DEFAULT_HEARTBEAT_SLOTS, at most 3/4 of slots). */
  heartbeatSlots?: number;
  /** Waiting messages per class before new ones are dropped (default 65536). */
  queueCapacity?: number;
  /** Connection ids expected (arrays grow past it). */
  initialConns?: number;
  /** How to run the pump later in this event-loop turn (default setImmediate). */
  schedule?: (f: () => void) => void;
  /** Record where requests' time goes (breakdown.ts). */
  breakdown?: boolean;
}

/**
 * Heartbeats in Redis at once, by default. Redis runs one connection's
 * commands in order, so every heartbeat script already sent is ahead of a
 * request sent after it: a deep heartbeat window puts up to that many scripts
 * between a request and Redis. 32 in flight carry far more than the workload
 * needs (32 per Redis round trip of ~0.2-0.5 ms), and measured at 200,000
 * connections / 16,667 messages/s (bench iotep --conns 200000 --setup 50
 * --epoch 12 --duration 20 --kernel-conns 0 --huge, two runs each on a busy
 * shared machine): wire request p99 2.7 and 5.1 ms with 32 against 14.4 and
 * 38.8 ms with 384 (the former 3/4 of 512 slots).
 */
export const DEFAULT_HEARTBEAT_SLOTS = 32;

/** Counters (fixed shape; read them, never replace them). */
export class ServerCounters {
  connections = 0;
  accepted = 0;
  messages = 0;
  requests = 0;
  heartbeats = 0;
  /** Messages matching neither pattern exactly (served as heartbeats). */
  other = 0;
  doneRequests = 0;
  doneHeartbeats = 0;
  failedRequests = 0;
  failedHeartbeats = 0;
  /** Of the failed: dropped because a queue was full. */
  dropped = 0;
  /** Redis command errors (including timeouts and "not connected"). */
  redisErrors = 0;
  newKeys = 0;
  updatedKeys = 0;
  replies = 0;
  /** Replies not written (connection closed or could not send). */
  repliesLost = 0;
}

/** A FIFO of waiting messages on typed arrays: connection, generation, arrival time, first payload bytes. */
class MessageQueue {
  readonly conn: Int32Array;
  readonly gen: Uint32Array;
  readonly tUs: Float64Array;
  readonly value: Uint8Array;
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.conn = new Int32Array(capacity);
    this.gen = new Uint32Array(capacity);
    this.tUs = new Float64Array(capacity);
    this.value = new Uint8Array(capacity * VALUE_BYTES);
  }

  push(conn: number, gen: number, tUs: number, src: Uint8Array, srcOff: number): boolean {
    if (this.size === this.capacity) return false;
    let i = this.head + this.size;
    if (i >= this.capacity) i -= this.capacity;
    this.conn[i] = conn;
    this.gen[i] = gen;
    this.tUs[i] = tUs;
    const v = this.value;
    const b = i * VALUE_BYTES;
    for (let k = 0; k < VALUE_BYTES; k++) v[b + k] = src[srcOff + k]!;
    this.size++;
    return true;
  }

  /** Index of the oldest entry (valid until the next push after shift). */
  peek(): number {
    return this.head;
  }

  shift(): void {
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.size--;
  }
}

/** A FIFO of slot indices (capacity = slot count, so it never overflows). */
class SlotFifo {
  private readonly items: Int32Array;
  private head = 0;
  size = 0;
  constructor(private readonly capacity: number) {
    this.items = new Int32Array(capacity);
  }
  push(s: number): void {
    let i = this.head + this.size;
    if (i >= this.capacity) i -= this.capacity;
    this.items[i] = s;
    this.size++;
  }
  shift(): number {
    const s = this.items[this.head]!;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.size--;
    return s;
  }
}

const STAGE_FREE = 0;
const STAGE_GET1 = 1;
const STAGE_SET = 2;
const STAGE_GET2 = 3;
/** Admitted, waiting behind an earlier message of the same connection. */
const STAGE_WAIT = 4;
/** The whole message in one store call (store.message). */
const STAGE_MESSAGE = 5;

export class IotepServer implements FrameSink {
  readonly counters = new ServerCounters();
  /** Time from a message's arrival to its completion (reply written / last command done), per class, in us. */
  readonly latencyHigh: Histogram = newLatencyHistogram();
  readonly latencyLow: Histogram = newLatencyHistogram();
  readonly msgLen: number;
  readonly slotCount: number;
  readonly heartbeatSlots: number;
  /** Per-request time split (null unless asked for). */
  readonly breakdown: RequestBreakdown | null;

  private readonly store: IotepStore;
  /** Where replies go (set by the transport). */
  sink: ReplySink;
  private readonly keyBase: number;
  private readonly clockUs: () => number;
  private readonly wallMs: () => number;
  private readonly schedule: (f: () => void) => void;
  private readonly framer: MessageFramer;
  private readonly replies = new ReplyBuilder();
  private gen: Uint32Array;
  /** Per connection: the newest slot holding one of its messages, or -1. */
  private connTail: Int32Array;
  private nowUs = 0;

  private readonly reqQ: MessageQueue;
  private readonly hbQ: MessageQueue;

  // Slots: struct of arrays.
  private readonly sConn: Int32Array;
  private readonly sGen: Uint32Array;
  private readonly sTUs: Float64Array;
  private readonly sHigh: Uint8Array;
  private readonly sStage: Uint8Array;
  /** The next slot of the same connection waiting for this one, or -1. */
  private readonly sNext: Int32Array;
  /** The first payload bytes (the SET value for a new key), one Buffer per slot, allocated once. */
  private readonly sPayload: Buffer[];
  /** The value to SET: sPayload[s] or the Buffer GET returned, first byte incremented. */
  private readonly sValue: (Buffer | null)[];
  private readonly onGet1: ((err: Error | null | undefined, v?: Buffer | null) => void)[] = [];
  private readonly onSet: ((err: Error | null | undefined) => void)[] = [];
  private readonly onGet2: ((err: Error | null | undefined, v?: Buffer | null) => void)[] = [];
  private readonly onMessage1: ((err: Error | null | undefined, r?: unknown) => void)[] = [];
  /** The store runs a whole message per call. */
  private readonly whole: boolean;
  /** The store batches heartbeats (store.messageBatched). */
  private readonly batched: boolean;
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  private heartbeatsInFlight = 0;
  /** Requests admitted and not yet done (in Redis, or waiting behind their connection's earlier message). */
  requestsInFlight = 0;
  private readonly readyHigh: SlotFifo;
  private readonly readyLow: SlotFifo;
  private pumpScheduled = false;
  private readonly pumpLater: () => void;
  /** Store calls made (a transport compares it across a poll round: see EpollServer). */
  storeCalls = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: IotepServerOptions) {
    checkMsgLen(opts.msgLen);
    this.msgLen = opts.msgLen;
    this.store = opts.store;
    this.whole = typeof opts.store.message === "function";
    this.batched = this.whole && typeof opts.store.messageBatched === "function";
    this.sink = opts.sink ?? { reply: () => false };
    this.keyBase = opts.keyBase ?? 0;
    this.clockUs = opts.clockUs ?? monotonicUs;
    this.wallMs = opts.wallMs ?? Date.now;
    this.schedule = opts.schedule ?? ((f) => void setImmediate(f));
    const S = opts.slots ?? 512;
    if (!Number.isInteger(S) || S < 1) throw new RangeError(`slots must be a positive integer, got ${S}`);
    this.slotCount = S;
    this.heartbeatSlots = Math.max(1, Math.min(S, opts.heartbeatSlots ?? Math.min(DEFAULT_HEARTBEAT_SLOTS, Math.max(1, Math.floor((S * 3) / 4)))));
    const conns = opts.initialConns ?? 1024;
    this.framer = new MessageFramer(opts.msgLen, conns);
    this.gen = new Uint32Array(Math.max(1, conns));
    this.connTail = new Int32Array(Math.max(1, conns)).fill(-1);
    const qcap = opts.queueCapacity ?? 65536;
    this.reqQ = new MessageQueue(qcap);
    this.hbQ = new MessageQueue(qcap);
    this.sConn = new Int32Array(S);
    this.sGen = new Uint32Array(S);
    this.sTUs = new Float64Array(S);
    this.sHigh = new Uint8Array(S);
    this.sStage = new Uint8Array(S);
    this.sNext = new Int32Array(S).fill(-1);
    this.sPayload = [];
    this.sValue = [];
    this.freeSlots = new Int32Array(S);
    for (let s = 0; s < S; s++) {
      this.sPayload.push(Buffer.alloc(VALUE_BYTES));
      this.sValue.push(null);
      this.freeSlots[s] = S - 1 - s;
      this.onGet1.push((err, v) => this.afterGet1(s, err, v));
      this.onSet.push((err) => this.afterSet(s, err));
      this.onGet2.push((err) => this.afterGet2(s, err));
      this.onMessage1.push((err, r) => this.afterMessage(s, err, r));
    }
    this.freeCount = S;
    const st = opts.store;
    const atWrite = typeof st.afterNextWrite === "function" ? (f: () => void) => st.afterNextWrite!(f) : undefined;
    this.breakdown = opts.breakdown === true ? new RequestBreakdown(S, this.clockUs, atWrite) : null;
    this.readyHigh = new SlotFifo(S);
    this.readyLow = new SlotFifo(S);
    this.pumpLater = () => {
      this.pumpScheduled = false;
      this.pump();
    };
  }

  // ---- transport side ------------------------------------------------------------

  /** A connection with id `conn` was accepted. */
  open(conn: number): void {
    this.ensure(conn);
    this.gen[conn] = (this.gen[conn]! + 1) >>> 0;
    this.framer.reset(conn);
    this.counters.connections++;
    this.counters.accepted++;
  }

  /** Connection `conn` is gone: a reply still in the works for it is not sent (to a later connection with the same id). */
  close(conn: number): void {
    if (conn >= this.gen.length) return;
    this.gen[conn] = (this.gen[conn]! + 1) >>> 0;
    this.framer.reset(conn);
    this.counters.connections--;
  }

  /** Bytes buf[off..off+len) arrived on `conn`. */
  data(conn: number, buf: Uint8Array, off: number, len: number): void {
    this.nowUs = this.clockUs();
    this.framer.push(conn, buf, off, len, this);
    this.pump();
  }

  /** @internal FrameSink: one complete message. */
  onMessage(conn: number, src: Uint8Array, srcOff: number): void {
    const c = this.counters;
    c.messages++;
    const kind = classifyMessage(src, srcOff);
    const high = kind === MSG_REQUEST;
    if (high) c.requests++;
    else if (kind === MSG_HEARTBEAT) c.heartbeats++;
    else c.other++;
    if (!(high ? this.reqQ : this.hbQ).push(conn, this.gen[conn]!, this.nowUs, src, srcOff)) {
      c.dropped++;
      if (high) c.failedRequests++;
      else c.failedHeartbeats++;
    }
  }

  private ensure(conn: number): void {
    if (conn < this.gen.length) return;
    let n = this.gen.length;
    while (n <= conn) n *= 2;
    const g = new Uint32Array(n);
    g.set(this.gen);
    this.gen = g;
    const t = new Int32Array(n).fill(-1);
    t.set(this.connTail);
    this.connTail = t;
    this.framer.ensure(conn);
  }

  // ---- the pump: requests first at every stage -----------------------------------

  /** Send ready request commands, admit requests, then the same for heartbeats. */
  pump(): void {
    const rh = this.readyHigh;
    while (rh.size > 0) this.issueNext(rh.shift());
    const rq = this.reqQ;
    while (rq.size > 0 && this.freeCount > 0) this.admit(rq, 1);
    const rl = this.readyLow;
    while (rl.size > 0) this.issueNext(rl.shift());
    const hq = this.hbQ;
    while (hq.size > 0 && this.freeCount > 0 && this.heartbeatsInFlight < this.heartbeatSlots) this.admit(hq, 0);
    if (this.idleWaiters.length > 0 && this.isIdle()) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    this.schedule(this.pumpLater);
  }

  private admit(q: MessageQueue, high: number): void {
    const s = this.freeSlots[--this.freeCount]!;
    const i = q.peek();
    const conn = q.conn[i]!;
    this.sConn[s] = conn;
    this.sGen[s] = q.gen[i]!;
    this.sTUs[s] = q.tUs[i]!;
    this.sHigh[s] = high;
    const p = this.sPayload[s]!;
    const b = i * VALUE_BYTES;
    for (let k = 0; k < VALUE_BYTES; k++) p[k] = q.value[b + k]!;
    q.shift();
    if (high === 0) this.heartbeatsInFlight++;
    else this.requestsInFlight++;
    this.sNext[s] = -1;
    const prev = this.connTail[conn]!;
    this.connTail[conn] = s;
    if (prev >= 0) {
      // Same connection still in Redis: wait behind it.
      this.sNext[prev] = s;
      this.sStage[s] = STAGE_WAIT;
      return;
    }
    this.start(s);
  }

  /** Send a slot's first command (or its whole message). */
  private start(s: number): void {
    const key = this.keyBase + this.sConn[s]!;
    this.storeCalls++;
    // Messages in Redis now besides this one (slots waiting behind their connection's earlier message are few).
    if (this.breakdown !== null && this.sHigh[s] === 1) this.breakdown.issued(s, this.sTUs[s]!, this.slotCount - this.freeCount - 1);
    if (this.whole) {
      this.sStage[s] = STAGE_MESSAGE;
      if (this.sHigh[s] === 0 && this.batched) this.store.messageBatched!(key, this.sPayload[s]!, this.onMessage1[s]!);
      else this.store.message!(key, this.sPayload[s]!, this.onMessage1[s]!);
    } else {
      this.sStage[s] = STAGE_GET1;
      this.store.get(1, key, this.onGet1[s]!);
    }
  }

  private issueNext(s: number): void {
    const stage = this.sStage[s];
    const key = this.keyBase + this.sConn[s]!;
    if (stage !== STAGE_WAIT) this.storeCalls++;
    if (stage === STAGE_WAIT) this.start(s);
    else if (stage === STAGE_GET1) this.store.get(1, key, this.onGet1[s]!);
    else if (stage === STAGE_SET) this.store.set(1, key, this.sValue[s]!, this.onSet[s]!);
    else if (stage === STAGE_GET2) this.store.get(2, key, this.onGet2[s]!);
  }

  private ready(s: number, stage: number): void {
    this.sStage[s] = stage;
    (this.sHigh[s] === 1 ? this.readyHigh : this.readyLow).push(s);
    this.schedulePump();
  }

  private afterGet1(s: number, err: Error | null | undefined, v: Buffer | null | undefined): void {
    if (err) return this.fail(s);
    if (v === null || v === undefined || v.length === 0) {
      this.sValue[s] = this.sPayload[s]!;
      this.counters.newKeys++;
    } else {
      v[0] = (v[0]! + 1) & 0xff;
      this.sValue[s] = v;
      this.counters.updatedKeys++;
    }
    this.ready(s, STAGE_SET);
  }

  private afterSet(s: number, err: Error | null | undefined): void {
    if (err) return this.fail(s);
    this.ready(s, STAGE_GET2);
  }

  private afterMessage(s: number, err: Error | null | undefined, r: unknown): void {
    if (err) return this.fail(s);
    if (r === 1) this.counters.updatedKeys++;
    else this.counters.newKeys++;
    this.afterGet2(s, null);
  }

  private afterGet2(s: number, err: Error | null | undefined): void {
    if (err) return this.fail(s);
    const c = this.counters;
    const high = this.sHigh[s] === 1;
    if (high) {
      const conn = this.sConn[s]!;
      if (conn < this.gen.length && this.gen[conn] === this.sGen[s] && this.sink.reply(conn, this.replies.at(this.wallMs()), REPLY_LEN)) c.replies++;
      else c.repliesLost++;
      c.doneRequests++;
      recordUs(this.latencyHigh, this.clockUs() - this.sTUs[s]!);
      if (this.breakdown !== null) this.breakdown.done(s);
    } else {
      c.doneHeartbeats++;
      recordUs(this.latencyLow, this.clockUs() - this.sTUs[s]!);
    }
    this.release(s);
  }

  private fail(s: number): void {
    const c = this.counters;
    c.redisErrors++;
    if (this.sHigh[s] === 1) c.failedRequests++;
    else c.failedHeartbeats++;
    this.release(s);
  }

  private release(s: number): void {
    if (this.sHigh[s] === 0) this.heartbeatsInFlight--;
    else this.requestsInFlight--;
    const next = this.sNext[s]!;
    if (next >= 0) {
      this.sNext[s] = -1;
      this.ready(next, STAGE_WAIT);
    } else {
      const conn = this.sConn[s]!;
      if (this.connTail[conn] === s) this.connTail[conn] = -1;
    }
    this.sStage[s] = STAGE_FREE;
    this.sValue[s] = null;
    this.freeSlots[this.freeCount++] = s;
    this.schedulePump();
  }

  // ---- state -------------------------------------------------------------------------

  /** Messages in Redis now. */
  get inFlight(): number {
    return this.slotCount - this.freeCount;
  }

  get queuedRequests(): number {
    return this.reqQ.size;
  }

  get queuedHeartbeats(): number {
    return this.hbQ.size;
  }

  isIdle(): boolean {
    return this.freeCount === this.slotCount && this.reqQ.size === 0 && this.hbQ.size === 0;
  }

  /** Resolve when every received message is done or failed (true), or after `timeoutMs` (false). */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.idleWaiters.indexOf(f);
        if (i >= 0) this.idleWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      const f = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.idleWaiters.push(f);
    });
  }
}

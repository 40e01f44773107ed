/**
 * The iotep load generator's logic (MCC's behaviour), independent of the
 * transport (our stack or Bun's kernel sockets):
 *
 *  - connections 0..c-1 are opened evenly over the setup time (-s), with at
 *    most `maxConnecting` handshakes outstanding;
 *  - after a further wait (-w), messages go out at b per second (-b; default
 *    c / e, so each connection sends once per epoch -e), message j on
 *    connection j mod c at its scheduled time sendStart + j / b: one message
 *    per connection per c / b seconds, staggered evenly across the epoch;
 *  - each message is a request with probability r (-r; seeded RNG), else a
 *    heartbeat; bytes 0-3 carry the connection's own message counter;
 *  - replies (146 bytes, byte 6 = 0x03) are framed per connection and paired
 *    with that connection's outstanding request.
 *
 * An optional warm-up (sending that is not measured) comes first, so the
 * JIT has compiled the hot paths on both sides before anything is recorded.
 *
 * Latency is measured from the request's SCHEDULED send time (coordinated
 * omission corrected, as wrk2 does): if the generator falls behind, the delay
 * counts as latency instead of silently thinning the samples. The schedule is
 * quantized to the driver's tick (`tickUs`): a message due inside a tick is
 * scheduled at the tick's end, the earliest the driver can send it; how late
 * the driver actually was is kept in a separate histogram (`sendLag`).
 *
 * Per connection: a state byte, a message counter, the scheduled time of the
 * outstanding request and the reply framer's bytes, in typed arrays (~40 B);
 * no JS object per connection here (the transport may hold a socket object).
 * One message buffer per kind, reused (protocol.ts MessageBuilder).
 */
import { newLatencyHistogram, recordUs, type Histogram } from "./latency";
import { MessageBuilder, MessageFramer, REPLY_LEN, isReply, type FrameSink } from "./protocol";

export interface GenTransport {
  /** Start opening connection `i`; answer later with gen.opened(i) or gen.connectFailed(i). */
  connect(i: number): void;
  /** Write `len` bytes of `buf` on connection `i` (copy or send before returning); false if it cannot. */
  send(i: number, buf: Uint8Array, len: number): boolean;
  /** Close connection `i` gracefully. */
  close(i: number): void;
}

/**
 * What a transport reports back (Generator implements it; with --smp on our
 * stack the stack thread's router, smp-router.ts, forwards it to the app
 * thread that owns the connection).
 */
export interface GenEvents {
  opened(i: number): void;
  connectFailed(i: number): void;
  closed(i: number): void;
  /** Bytes from the server on connection i, received at `nowUs` (the caller's clock). */
  data(i: number, buf: Uint8Array, off: number, len: number, nowUs: number): void;
}

export interface GeneratorOptions {
  /** -c: connections. */
  conns: number;
  /** -s: seconds over which connections are opened. */
  setupS: number;
  /** -w: seconds to wait after the setup time before sending. */
  waitS: number;
  /** -e: seconds between two messages of one connection (used for the default rate). */
  epochS: number;
  /** -b: messages per second (connections per block); default ceil(c / e). */
  perSecond?: number;
  /** -l: message length. */
  msgLen: number;
  /** -r: fraction of messages that are requests (high priority). */
  ratio: number;
  /** Seconds of sending that is measured. */
  durationS: number;
  /** Seconds of sending before that, not measured (JIT warm-up; default 0). */
  warmupS?: number;
  /** After sending, how long to wait for outstanding replies (s, default 2). */
  drainS?: number;
  /** Handshakes outstanding at once (default 1024). */
  maxConnecting?: number;
  /** The driver's timer granularity (us); the schedule is quantized to it (default 0: exact). */
  tickUs?: number;
  seed?: number;
  /** First connection index this generator owns and the total (several generators share one schedule with --smp). */
  shard?: { index: number; count: number };
}

export const ConnState = { Idle: 0, Connecting: 1, Open: 2, Failed: 3, Closed: 4 } as const;

export type GenPhase = "connecting" | "waiting" | "sending" | "draining" | "done";

/** Counters (fixed shape). */
export class GenCounters {
  connectStarted = 0;
  connected = 0;
  connectFailed = 0;
  /** Open connections that closed before the end. */
  closedEarly = 0;
  sent = 0;
  sentRequests = 0;
  sentHeartbeats = 0;
  /** Messages due on a connection that was not open (not sent). */
  skipped = 0;
  sendFailed = 0;
  replies = 0;
  /** Replies with no outstanding request, or not carrying the reply label. */
  badReplies = 0;
  /** Requests that got no reply before the connection's next request or the end. */
  unanswered = 0;
}

/** xorshift32: a small seeded RNG, uniform in [0, 1). */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

export class Generator implements FrameSink, GenEvents {
  readonly counters = new GenCounters();
  /** Request round trip at the client, from the scheduled send time, us. */
  readonly rttHigh: Histogram = newLatencyHistogram();
  /** How late the driver sent messages relative to their (tick-quantized) schedule, us. */
  readonly sendLag: Histogram = newLatencyHistogram();
  readonly conns: number;
  readonly perSecond: number;
  phase: GenPhase = "connecting";
  /** Called once when the run ends, before the connections are closed (the end-of-run counters). */
  onFinish: (() => void) | null = null;

  private readonly t: GenTransport;
  private readonly opts: Required<Omit<GeneratorOptions, "shard" | "perSecond">>;
  private readonly state: Uint8Array;
  private readonly counter: Uint32Array;
  private readonly reqDueUs: Float64Array;
  private readonly reqPending: Uint8Array;
  private readonly framer: MessageFramer;
  private readonly builder: MessageBuilder;
  private readonly rng: () => number;
  private readonly shardIndex: number;
  private readonly shardCount: number;
  private t0 = 0;
  private setupUs = 0;
  private sendStartUs = 0;
  /** Requests scheduled before this are not measured (warm-up). */
  private measureFromUs = 0;
  private sendEndUs = 0;
  private drainEndUs = 0;
  private readonly intervalUs: number;
  private nextConn = 0;
  private connecting = 0;
  /** Global message index of the next message this shard sends. */
  private nextMsg = 0;
  private openNow = 0;
  private nowUs = 0;

  constructor(opts: GeneratorOptions, transport: GenTransport) {
    if (!Number.isInteger(opts.conns) || opts.conns < 1) throw new RangeError(`connections must be a positive integer, got ${opts.conns}`);
    if (!(opts.ratio >= 0 && opts.ratio <= 1)) throw new RangeError(`ratio must be 0..1, got ${opts.ratio}`);
    if (!(opts.epochS > 0)) throw new RangeError(`epoch must be > 0 s, got ${opts.epochS}`);
    this.t = transport;
    this.conns = opts.conns;
    this.perSecond = opts.perSecond ?? Math.ceil(opts.conns / opts.epochS);
    if (!(this.perSecond > 0)) throw new RangeError(`messages per second must be > 0, got ${this.perSecond}`);
    this.opts = {
      conns: opts.conns,
      setupS: opts.setupS,
      waitS: opts.waitS,
      epochS: opts.epochS,
      msgLen: opts.msgLen,
      ratio: opts.ratio,
      durationS: opts.durationS,
      drainS: opts.drainS ?? 2,
      warmupS: opts.warmupS ?? 0,
      maxConnecting: opts.maxConnecting ?? 1024,
      tickUs: opts.tickUs ?? 0,
      seed: opts.seed ?? 1,
    };
    this.shardIndex = opts.shard?.index ?? 0;
    this.shardCount = opts.shard?.count ?? 1;
    if (!(this.shardIndex >= 0 && this.shardIndex < this.shardCount && this.shardCount <= opts.conns)) {
      throw new RangeError(`bad shard ${this.shardIndex}/${this.shardCount} for ${opts.conns} connections`);
    }
    this.intervalUs = 1e6 / this.perSecond;
    const n = opts.conns;
    this.state = new Uint8Array(n);
    this.counter = new Uint32Array(n);
    this.reqDueUs = new Float64Array(n);
    this.reqPending = new Uint8Array(n);
    this.framer = new MessageFramer(REPLY_LEN, n);
    this.builder = new MessageBuilder(opts.msgLen);
    this.rng = xorshift((opts.seed ?? 1) * 2654435761 + this.shardIndex);
    this.nextConn = this.shardIndex;
    this.nextMsg = this.firstMsgFrom(0);
  }

  /** Does this shard own connection i? */
  private owns(i: number): boolean {
    return i % this.shardCount === this.shardIndex;
  }

  /** The first global message index >= j whose connection this shard owns. */
  private firstMsgFrom(j: number): number {
    while (!this.owns(j % this.conns)) j++;
    return j;
  }

  /** Connections this shard opens. */
  get shardConns(): number {
    return Math.floor((this.conns - 1 - this.shardIndex) / this.shardCount) + 1;
  }

  get openConnections(): number {
    return this.openNow;
  }

  get connectingNow(): number {
    return this.connecting;
  }

  /** Time sending starts, measuring starts and sending ends (us, on the clock passed to start). */
  get sendWindow(): [number, number, number] {
    return [this.sendStartUs, this.measureFromUs, this.sendEndUs];
  }

  /** Is the run past its warm-up? */
  get measuring(): boolean {
    return this.nowUs >= this.measureFromUs;
  }

  start(nowUs: number): void {
    this.t0 = nowUs;
    this.setupUs = this.opts.setupS * 1e6;
    this.sendStartUs = nowUs + this.setupUs + this.opts.waitS * 1e6;
    this.measureFromUs = this.sendStartUs + this.opts.warmupS * 1e6;
    this.sendEndUs = this.measureFromUs + this.opts.durationS * 1e6;
    this.drainEndUs = this.sendEndUs + this.opts.drainS * 1e6;
    this.nowUs = nowUs;
  }

  /** Scheduled time of global message j (quantized up to the tick). */
  private dueOf(j: number): number {
    const exact = j * this.intervalUs;
    const tick = this.opts.tickUs;
    return this.sendStartUs + (tick > 0 ? Math.ceil(exact / tick) * tick : exact);
  }

  /** Is global message j inside the sending window (by its exact, unquantized time)? */
  private inWindow(j: number): boolean {
    return this.sendStartUs + j * this.intervalUs < this.sendEndUs;
  }

  /** Do everything due by `nowUs`. Returns the time of the next thing to do (us), or +Infinity when done. */
  tick(nowUs: number): number {
    this.nowUs = nowUs;
    const c = this.conns;
    let next = Number.POSITIVE_INFINITY;
    // Connect phase (runs until every connection was started, even into the sending phase).
    while (this.nextConn < c) {
      const due = this.t0 + Math.floor((this.nextConn * this.setupUs) / c);
      if (due > nowUs) {
        next = due;
        break;
      }
      if (this.connecting >= this.opts.maxConnecting) {
        next = nowUs + 1000;
        break;
      }
      const i = this.nextConn;
      this.nextConn += this.shardCount;
      this.state[i] = ConnState.Connecting;
      this.connecting++;
      this.counters.connectStarted++;
      this.t.connect(i);
    }
    if (nowUs < this.sendStartUs) {
      if (this.phase === "connecting" && this.nextConn >= c && this.connecting === 0) this.phase = "waiting";
      return Math.min(next, this.sendStartUs);
    }
    if (this.inWindow(this.nextMsg)) {
      this.phase = "sending";
      for (;;) {
        const j = this.nextMsg;
        if (!this.inWindow(j)) break;
        const due = this.dueOf(j);
        if (due > nowUs) {
          next = Math.min(next, due);
          break;
        }
        this.sendOne(j % c, due, nowUs);
        this.nextMsg = this.firstMsgFrom(j + 1);
      }
      if (this.inWindow(this.nextMsg)) return next;
    }
    if (nowUs < this.sendEndUs) {
      this.phase = "sending";
      return Math.min(next, this.sendEndUs);
    }
    if (nowUs < this.drainEndUs && this.outstanding() > 0) {
      this.phase = "draining";
      return Math.min(next, this.drainEndUs);
    }
    if (this.phase !== "done") this.finish();
    return Number.POSITIVE_INFINITY;
  }

  private sendOne(i: number, dueUs: number, nowUs: number): void {
    const ct = this.counters;
    if (this.state[i] !== ConnState.Open) {
      ct.skipped++;
      return;
    }
    const n = (this.counter[i] = (this.counter[i]! + 1) >>> 0);
    const high = this.rng() < this.opts.ratio;
    const buf = high ? this.builder.request(n) : this.builder.heartbeat(n);
    if (!this.t.send(i, buf, this.opts.msgLen)) {
      ct.sendFailed++;
      return;
    }
    ct.sent++;
    if (dueUs >= this.measureFromUs) recordUs(this.sendLag, nowUs - dueUs);
    if (high) {
      ct.sentRequests++;
      if (this.reqPending[i] === 1) ct.unanswered++;
      this.reqPending[i] = 1;
      this.reqDueUs[i] = dueUs;
    } else {
      ct.sentHeartbeats++;
    }
  }

  /** Requests sent and not yet answered. */
  outstanding(): number {
    let n = 0;
    const p = this.reqPending;
    for (let i = this.shardIndex; i < p.length; i += this.shardCount) n += p[i]!;
    return n;
  }

  private finish(): void {
    this.onFinish?.();
    this.phase = "done";
    this.counters.unanswered += this.outstanding();
    this.reqPending.fill(0);
    for (let i = this.shardIndex; i < this.conns; i += this.shardCount) {
      const s = this.state[i];
      if (s === ConnState.Open || s === ConnState.Connecting) this.t.close(i);
    }
  }

  // ---- transport callbacks -----------------------------------------------------------

  opened(i: number): void {
    if (this.state[i] !== ConnState.Connecting) return;
    this.state[i] = ConnState.Open;
    this.connecting--;
    this.openNow++;
    this.counters.connected++;
    this.framer.reset(i);
  }

  connectFailed(i: number): void {
    if (this.state[i] !== ConnState.Connecting) return;
    this.state[i] = ConnState.Failed;
    this.connecting--;
    this.counters.connectFailed++;
  }

  closed(i: number): void {
    const s = this.state[i];
    if (s === ConnState.Connecting) return this.connectFailed(i);
    if (s !== ConnState.Open) return;
    this.state[i] = ConnState.Closed;
    this.openNow--;
    if (this.phase !== "done") this.counters.closedEarly++;
    if (this.reqPending[i] === 1) {
      this.reqPending[i] = 0;
      this.counters.unanswered++;
    }
  }

  /** Bytes from the server on connection i at `nowUs`. */
  data(i: number, buf: Uint8Array, off: number, len: number, nowUs: number): void {
    this.nowUs = nowUs;
    this.framer.push(i, buf, off, len, this);
  }

  /** @internal FrameSink: one 146-byte reply. */
  onMessage(i: number, src: Uint8Array, srcOff: number): void {
    if (!isReply(src, srcOff, 16) || this.reqPending[i] !== 1) {
      this.counters.badReplies++;
      return;
    }
    this.reqPending[i] = 0;
    this.counters.replies++;
    const due = this.reqDueUs[i]!;
    if (due >= this.measureFromUs) recordUs(this.rttHigh, this.nowUs - due);
  }
}

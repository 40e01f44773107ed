/**
 * mcc --smp N on our stack: the wire between the stack thread (main thread:
 * device, TcpLayer, IdClient) and app thread k (a Bun Worker running the
 * Generator for shard k of N: connections i with i mod N = k).
 *
 * Per app thread two lanes (src/sched/split/channel.ts: an SpscRing of 4-word
 * records plus a ByteRing for payloads, on SharedArrayBuffers, one producer
 * and one consumer, no locks):
 *   commands (app -> stack): Connect i, Send i (payload in the byte ring),
 *     Close i, Finishing (the generator's run ended; closes follow);
 *   events (stack -> app): Opened i, ConnectFailed i, Closed i, Data i
 *     (payload in the byte ring).
 * Record words: w0 kind, w1 connection index i (the generator's, not TCP's
 * id), w2 payload position, w3 payload length.
 *
 * The app side (this file) blocks when a command lane is full: it is a Worker
 * with nothing else to do, and its schedule keeps the time each message was
 * due, so a wait shows up as latency (coordinated omission stays corrected).
 * The stack side never blocks (smp-router.ts).
 *
 * ThreadStats: one small SharedArrayBuffer per app thread with its counters,
 * phase and a recent request p50/p99, written by the app thread as it runs,
 * so the main thread's status line reads them without a message; and the
 * main thread's stop flag.
 */
import { Lane, RecordWriter, REC_WORDS, type LaneShare } from "../../src/sched/split/channel";
import { GenCounters, type GenEvents, type GenPhase, type GenTransport, type Generator } from "./generator";

/** App -> stack. */
export const GenCommand = { Connect: 1, Send: 2, Close: 3, Finishing: 4 } as const;
/** Stack -> app. */
export const GenEvent = { Opened: 1, ConnectFailed: 2, Closed: 3, Data: 4 } as const;

/** Both lanes of one app thread. */
export interface ThreadLanes {
  events: Lane;
  commands: Lane;
}

export interface ThreadLanesShare {
  events: LaneShare;
  commands: LaneShare;
}

/** Records per lane and payload bytes per lane (a message is at most MAX_MSG_LEN = 64 KiB - 1, so >= 128 KiB). */
export function createThreadLanes(records = 16384, bytes = 1 << 20): ThreadLanes {
  return { events: Lane.create(records, bytes), commands: Lane.create(records, bytes) };
}

export function shareThreadLanes(l: ThreadLanes): ThreadLanesShare {
  return { events: l.events.share(), commands: l.commands.share() };
}

export function attachThreadLanes(s: ThreadLanesShare): ThreadLanes {
  return { events: Lane.attach(s.events), commands: Lane.attach(s.commands) };
}

/**
 * The app thread's GenTransport: commands into its lane. Staged records are
 * published by flush() (the app thread's loop calls it once per pass) or when
 * the staging batch is full. Never refuses: a full lane blocks until the
 * stack thread has taken some (Worker only).
 */
export class LaneTransport implements GenTransport {
  private readonly out: RecordWriter;
  /** Times the lane was full and this thread waited. */
  fullWaits = 0;

  constructor(private readonly lane: Lane) {
    this.out = new RecordWriter(lane.records, 64);
  }

  connect(i: number): void {
    this.room();
    this.out.put(GenCommand.Connect, 0, 0, i, 0, 0);
  }

  send(i: number, buf: Uint8Array, len: number): boolean {
    const bytes = this.lane.bytes;
    let pos = bytes.reserve(len);
    while (pos < 0) {
      // Publish what is staged (the stack releases bytes as it runs those), then wait for a release.
      this.out.flush();
      this.fullWaits++;
      bytes.waitRelease(1);
      pos = bytes.reserve(len);
    }
    const dst = bytes.u8;
    const at = pos & bytes.mask;
    if (len <= 256) for (let k = 0; k < len; k++) dst[at + k] = buf[k]!;
    else dst.set(buf.subarray(0, len), at);
    bytes.commit(pos, len);
    this.room();
    this.out.put(GenCommand.Send, 0, 0, i, pos, len);
    return true;
  }

  close(i: number): void {
    this.room();
    this.out.put(GenCommand.Close, 0, 0, i, 0, 0);
  }

  /** The generator's run ended (Generator.onFinish: before its closes). */
  finishing(): void {
    this.room();
    this.out.put(GenCommand.Finishing, 0, 0, 0, 0, 0);
  }

  flush(): void {
    this.out.flush();
  }

  private room(): void {
    while (!this.out.hasRoom()) {
      this.out.flush();
      this.fullWaits++;
      this.lane.records.waitNotFull(1);
    }
  }
}

const EVENT_BATCH = 64;

/** The app thread's end of its event lane: hands each record to the generator. */
export class EventPump {
  private readonly rec = new Uint32Array(EVENT_BATCH * REC_WORDS);
  events = 0;

  constructor(private readonly lane: Lane) {}

  /**
   * Handle the events there now, at most about `max` (so a flood of replies
   * does not hold back due sends); `nowUs` is this thread's clock, read once.
   * Returns how many were handled.
   */
  pump(g: GenEvents, nowUs: number, max = 4096): number {
    const rec = this.rec;
    const ring = this.lane.records;
    const bytes = this.lane.bytes;
    const u8 = bytes.u8;
    const mask = bytes.mask;
    let total = 0;
    while (total < max) {
      const n = ring.popBatch(rec, rec.length) / REC_WORDS;
      if (n === 0) break;
      let releaseTo = 0;
      let release = false;
      for (let r = 0; r < n; r++) {
        const k = r * REC_WORDS;
        const i = rec[k + 1]!;
        switch (rec[k]! & 0xff) {
          case GenEvent.Data: {
            const pos = rec[k + 2]! | 0;
            const len = rec[k + 3]!;
            g.data(i, u8, pos & mask, len, nowUs);
            releaseTo = (pos + len) | 0;
            release = true;
            break;
          }
          case GenEvent.Opened:
            g.opened(i);
            break;
          case GenEvent.ConnectFailed:
            g.connectFailed(i);
            break;
          case GenEvent.Closed:
            g.closed(i);
            break;
        }
      }
      if (release) bytes.release(releaseTo);
      total += n;
    }
    this.events += total;
    return total;
  }

  /** Sleep until the stack publishes an event or `ms` pass (Worker only). */
  wait(ms: number): void {
    this.lane.records.waitNotEmpty(ms);
  }
}

// ---- ThreadStats ----

export const PHASES: GenPhase[] = ["connecting", "waiting", "sending", "draining", "done"];
/** GenCounters' fields, in declaration order (the same in every thread). */
export const COUNTER_NAMES = Object.keys(new GenCounters()) as (keyof GenCounters)[];

const CTRL_WORDS = 16;
const C_STOP = 0;
/** A word nobody notifies: a timed sleep that events do not cut short. */
const C_SLEEP = 1;
const V_PHASE = COUNTER_NAMES.length;
const V_OPEN = V_PHASE + 1;
const V_CONNECTING = V_PHASE + 2;
const V_P50 = V_PHASE + 3;
const V_P99 = V_PHASE + 4;
const V_WORDS = V_PHASE + 5;

/** One app thread's live figures on a SharedArrayBuffer (plain stores: a status line may read a value one pass old). */
export class ThreadStats {
  readonly sab: SharedArrayBuffer;
  private readonly ctrl: Int32Array;
  private readonly v: Float64Array;

  static create(): ThreadStats {
    return new ThreadStats(new SharedArrayBuffer(CTRL_WORDS * 4 + V_WORDS * 8));
  }

  static attach(sab: SharedArrayBuffer): ThreadStats {
    return new ThreadStats(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS);
    this.v = new Float64Array(sab, CTRL_WORDS * 4, V_WORDS);
  }

  // ---- app thread ----

  /** Counters, phase, open and connecting connections of `g`. */
  publish(g: Generator): void {
    const v = this.v;
    const c = g.counters as unknown as Record<string, number>;
    for (let k = 0; k < COUNTER_NAMES.length; k++) v[k] = c[COUNTER_NAMES[k]!]!;
    v[V_PHASE] = PHASES.indexOf(g.phase);
    v[V_OPEN] = g.openConnections;
    v[V_CONNECTING] = g.connectingNow;
  }

  setRequestSummary(p50Us: number, p99Us: number): void {
    this.v[V_P50] = p50Us;
    this.v[V_P99] = p99Us;
  }

  /** Sleep `ms` whatever arrives on the lanes (Worker only). */
  sleep(ms: number): void {
    Atomics.wait(this.ctrl, C_SLEEP, 0, ms);
  }

  stopRequested(): boolean {
    return Atomics.load(this.ctrl, C_STOP) !== 0;
  }

  // ---- main thread ----

  requestStop(): void {
    Atomics.store(this.ctrl, C_STOP, 1);
  }

  /** Add this thread's counters into `into`. */
  addCounters(into: GenCounters): void {
    const c = into as unknown as Record<string, number>;
    for (let k = 0; k < COUNTER_NAMES.length; k++) c[COUNTER_NAMES[k]!] = c[COUNTER_NAMES[k]!]! + this.v[k]!;
  }

  phaseIndex(): number {
    return this.v[V_PHASE]!;
  }

  openConnections(): number {
    return this.v[V_OPEN]!;
  }

  connectingNow(): number {
    return this.v[V_CONNECTING]!;
  }

  requestSummary(): { p50Us: number; p99Us: number } {
    return { p50Us: this.v[V_P50]!, p99Us: this.v[V_P99]! };
  }
}

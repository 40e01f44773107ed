/**
 * The app thread's end of a split-mode channel (design: split.ts). Runs in a
 * Bun Worker: pops event records, calls the handler, stages commands and
 * publishes them once per batch. When there is nothing to do it blocks in
 * Atomics.wait (the Worker has nothing else to run), so an idle app thread
 * costs no CPU; the stack's next publish wakes it.
 */
import { FLAG_SEND_AHEAD, Lane, RecordWriter, REC_WORDS, SplitCommand, SplitEvent } from "./channel";

export interface SplitAppHandler {
  /** A new connection for this thread; `port` is the local port it came in on. */
  open?(app: SplitApp, conn: number, port: number, cls: number): void;
  /**
   * Received bytes, `bytesShared[off, off + len)`: a view into the shared ring,
   * valid only during the call (copy what must outlive it). Return false when a
   * command did not fit (trySend etc.): the same event is offered again later.
   */
  data(app: SplitApp, conn: number, bytesShared: Uint8Array, off: number, len: number, cls: number): boolean | void;
  /** The peer sent FIN (after all data). false: offer again later. */
  peerFin?(app: SplitApp, conn: number): boolean | void;
  /** The connection is closed (err 0 or a negative errno); the app must close(conn). false: offer again later. */
  closed?(app: SplitApp, conn: number, err: number): boolean | void;
}

const EVENT_BATCH = 64;
const BLOCKED_NONE = 0;
const BLOCKED_RECORDS = 1;
const BLOCKED_BYTES = 2;

export class SplitApp {
  private readonly out: RecordWriter;
  private readonly rec = new Uint32Array(EVENT_BATCH * REC_WORDS);
  private recN = 0;
  private recI = 0;
  private stopped = false;
  /** Why the last handler refused (a full command lane), or 0. */
  private blocked = BLOCKED_NONE;
  /** Events handled, commands sent, waits on a full command lane, idle sleeps. */
  events = 0;
  commands = 0;
  fullWaits = 0;
  idleWaits = 0;

  constructor(
    private readonly evLane: Lane,
    private readonly cmdLane: Lane,
    private readonly handler: SplitAppHandler,
  ) {
    this.out = new RecordWriter(cmdLane.records, 64);
  }

  /**
   * Handle the events at hand (one batch); returns how many. Never blocks: when a
   * handler refuses (command lane full) the rest waits for the next call.
   */
  pollOnce(): number {
    const rec = this.rec;
    if (this.recI >= this.recN) {
      this.recN = this.evLane.records.popBatch(rec, rec.length) / REC_WORDS;
      this.recI = 0;
      if (this.recN === 0) return 0;
    }
    this.blocked = BLOCKED_NONE;
    const h = this.handler;
    const bytes = this.evLane.bytes;
    const u8 = bytes.u8;
    const mask = bytes.mask;
    let releaseTo = 0;
    let release = false;
    let i = this.recI;
    const n = this.recN;
    for (; i < n; i++) {
      const k = i * REC_WORDS;
      const w0 = rec[k]!;
      const kind = w0 & 0xff;
      const cls = (w0 >>> 8) & 0xff;
      const conn = rec[k + 1]!;
      let ok: boolean | void = true;
      switch (kind) {
        case SplitEvent.Data: {
          const pos = rec[k + 2]! | 0;
          const len = rec[k + 3]!;
          ok = h.data(this, conn, u8, pos & mask, len, cls);
          if (ok !== false) {
            releaseTo = (pos + len) | 0;
            release = true;
          }
          break;
        }
        case SplitEvent.Open:
          h.open?.(this, conn, rec[k + 3]!, cls);
          break;
        case SplitEvent.PeerFin:
          if (h.peerFin !== undefined) ok = h.peerFin(this, conn);
          break;
        case SplitEvent.Closed:
          ok = h.closed !== undefined ? h.closed(this, conn, rec[k + 3]! | 0) : this.close(conn);
          break;
        case SplitEvent.Stop:
          this.stopped = true;
          break;
      }
      if (ok === false) break;
    }
    const handled = i - this.recI;
    this.recI = i;
    if (release) bytes.release(releaseTo);
    this.events += handled;
    this.out.flush();
    return handled;
  }

  /**
   * Run until a Stop record arrives (Worker only: it blocks). Idle, it sleeps in
   * Atomics.wait until the stack publishes (at most idleWaitMs); when a handler
   * refused, it sleeps until the stack frees command space.
   */
  run(idleWaitMs = 100): void {
    while (!this.stopped) {
      const n = this.pollOnce();
      if (this.blocked !== BLOCKED_NONE) {
        this.fullWaits++;
        if (this.blocked === BLOCKED_BYTES) this.cmdLane.bytes.waitRelease(1);
        else this.cmdLane.records.waitNotFull(1);
      } else if (n === 0) {
        this.idleWaits++;
        this.evLane.records.waitNotEmpty(idleWaitMs);
      }
    }
    this.out.flush();
  }

  isStopped(): boolean {
    return this.stopped;
  }

  // ---- commands: staged, published at the end of the event batch; false when the lane is full ----

  /** Largest trySend. */
  maxSend(): number {
    return this.cmdLane.bytes.maxPayload();
  }

  /**
   * Send src[off, off + len) on `conn`, copied into the shared ring now; all or
   * nothing (false: the command lane is full, try again later). `ahead`: queue
   * ahead of low-priority data in class `cls` (message mode's send-ahead).
   */
  trySend(conn: number, src: Uint8Array, off: number, len: number, cls = 0, ahead = false): boolean {
    const bytes = this.cmdLane.bytes;
    if (len > bytes.maxPayload()) throw new RangeError("SplitApp.trySend: more than maxSend() bytes");
    if (!this.room()) return false;
    const pos = bytes.reserve(len);
    if (pos < 0) {
      this.blocked = BLOCKED_BYTES;
      return false;
    }
    const dst = bytes.u8;
    const at = pos & bytes.mask;
    if (len <= 256) for (let i = 0; i < len; i++) dst[at + i] = src[off + i]!;
    else dst.set(src.subarray(off, off + len), at);
    bytes.commit(pos, len);
    this.out.put(SplitCommand.Send, cls, ahead ? FLAG_SEND_AHEAD : 0, conn, pos, len);
    this.commands++;
    return true;
  }

  shutdown(conn: number): boolean {
    return this.cmd(SplitCommand.Shutdown, conn);
  }

  close(conn: number): boolean {
    return this.cmd(SplitCommand.Close, conn);
  }

  abort(conn: number): boolean {
    return this.cmd(SplitCommand.Abort, conn);
  }

  /** Publish staged commands now (also done after each event batch). */
  flush(): void {
    this.out.flush();
  }

  private room(): boolean {
    if (this.out.hasRoom()) return true;
    this.blocked = BLOCKED_RECORDS;
    return false;
  }

  private cmd(kind: number, conn: number): boolean {
    if (!this.room()) return false;
    this.out.put(kind, 0, 0, conn, 0, 0);
    this.commands++;
    return true;
  }
}

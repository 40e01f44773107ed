/**
 * Transmit side of one interface: a cache of fresh buffers (refilled from the
 * device in bulk, so taking a buffer costs no FFI call) and one transmit batch
 * per priority class. `flush()` hands the batches to the device class 0 first:
 * class 0 is the highest priority, so high-priority frames leave first.
 *
 * Backpressure: `full()` says when a new frame could not be queued without
 * dropping it (a class batch full and the device ring full too); Ipv4Output
 * then refuses to hand out a buffer (L4Tx.begin() returns -1), so transports
 * keep their data and retry instead of losing frames here.
 */
import type { Device } from "./device";
import type { BurstTap } from "./interface";
import { PacketBatch } from "./packet-batch";

export const MAX_CLASSES = 8;
export const PRIO_HIGH = 0;
export const PRIO_LOW = 1;

export class TxQueues {
  readonly classes: number;
  readonly batches: PacketBatch[];
  private readonly fresh: PacketBatch;
  private readonly refill: number;
  /** Frames put into a batch since the last flush, all classes. */
  queued = 0;
  /** Frames the device sent / dropped, all classes. */
  sent = 0;
  dropped = 0;
  /** begin() calls refused because the backlog was at its limit (see full()). */
  refused = 0;
  /** Flushes that left frames for the next round (the device's ring was full). */
  deferred = 0;
  /** Observer of every transmit burst (NetInterface.setBurstTap); null: off. */
  tap: BurstTap | null = null;

  constructor(
    readonly dev: Device,
    opts: { classes?: number; batchCapacity?: number; refill?: number } = {},
  ) {
    const classes = opts.classes ?? 2;
    if (classes < 1 || classes > MAX_CLASSES) throw new RangeError(`classes must be 1..${MAX_CLASSES}`);
    this.classes = classes;
    const cap = opts.batchCapacity ?? 512;
    this.batches = [];
    for (let i = 0; i < classes; i++) this.batches.push(new PacketBatch(cap));
    this.refill = opts.refill ?? Math.min(64, dev.caps.maxBurst * 2);
    this.fresh = new PacketBatch(this.refill);
  }

  /**
   * Take a fresh buffer. Returns the frame offset in dev.mem and stores the
   * handle in `lastHandle`, or returns -1 when the pool is exhausted.
   */
  lastHandle = 0;
  take(): number {
    const f = this.fresh;
    if (f.count === 0) {
      this.dev.alloc(f, this.refill);
      if (f.count === 0) return -1;
    }
    const i = --f.count;
    this.lastHandle = f.handle[i]!;
    return f.off[i]!;
  }

  /** Return a buffer taken with take() but not sent. */
  giveBack(handle: number, off: number): void {
    if (this.fresh.push(handle, off, 0) < 0) this.dev.freeOne(handle);
  }

  /**
   * Queue a frame of `len` bytes at `off` for transmission in class `prio`.
   * When the class's batch is full even after a transmit attempt (the device
   * ring is full too), the frame is freed and counted in `dropped`.
   */
  enqueue(handle: number, off: number, len: number, prio: number): void {
    const c = prio < this.classes ? prio : this.classes - 1;
    const b = this.batches[c]!;
    if (b.count >= b.capacity) this.flushClass(c);
    if (b.push(handle, off, len) < 0) {
      this.dev.freeOne(handle);
      this.dropped++;
      return;
    }
    this.queued++;
  }

  /**
   * Hand class `c` to the device. What the device cannot take now stays
   * queued, in order, ahead of later frames (retried next round).
   */
  private flushClass(c: number): void {
    const b = this.batches[c]!;
    if (b.count === 0) return;
    const tap = this.tap;
    if (tap !== null) tap.txOffer(b);
    const s = this.dev.txBurst(b);
    if (tap !== null) tap.txTaken(s);
    this.sent += s;
    if (b.count > 0) this.deferred++;
  }

  /**
   * True when the transmit backlog is at its limit: some class's batch is full
   * and stays full after a transmit attempt (the device ring is full too). A frame
   * queued now might be dropped, whatever its class, so callers should wait.
   */
  full(): boolean {
    // Once the device refused this round, say so without another transmit
    // attempt (an FFI call) per refused segment; flush() tries again next round.
    if (this.blocked) return true;
    for (let c = 0; c < this.classes; c++) {
      const b = this.batches[c]!;
      if (b.count < b.capacity) continue;
      this.flushClass(c);
      if (b.count >= b.capacity) {
        this.blocked = true;
        return true;
      }
    }
    return false;
  }

  /** Set when full() found the device ring and a class batch full; cleared by flush(). */
  private blocked = false;

  /** Frames waiting in the batches (deferred by a full device ring, or not yet flushed). */
  backlog(): number {
    let n = 0;
    for (let c = 0; c < this.classes; c++) n += this.batches[c]!.count;
    return n;
  }

  /**
   * Transmit everything queued, highest class first; a lower class waits while
   * a higher one could not go out completely. Returns frames sent.
   */
  flush(): number {
    this.blocked = false;
    const before = this.sent;
    for (let c = 0; c < this.classes; c++) {
      this.flushClass(c);
      if (this.batches[c]!.count > 0) break;
    }
    this.queued = this.backlog();
    return this.sent - before;
  }

  /** Free cached fresh buffers and anything still queued (at shutdown). */
  release(): void {
    for (let c = 0; c < this.classes; c++) this.dev.free(this.batches[c]!);
    this.dev.free(this.fresh);
  }
}

/**
 * The wire between a stack thread and one app thread in split mode (issue 5,
 * "Flexible thread allocation"). See src/sched/split/split.ts for the design.
 *
 * One direction is a `Lane`: an SpscRing of 4-word records (src/mem/spsc-ring.ts)
 * plus a `ByteRing` holding the payload bytes the records point at. Both live in
 * SharedArrayBuffers; each side attaches its own objects. No locks: the record
 * ring's Atomics.store of its tail publishes the bytes written before it, and the
 * byte ring's head (bytes released by the consumer) is published the same way.
 *
 * Record (4 x uint32):
 *   w0  kind | class << 8 | flags << 16
 *   w1  connection id
 *   w2  payload start: free-running byte position in the lane's ByteRing (or an argument)
 *   w3  payload length in bytes (or an argument, e.g. a negative errno as int32)
 * A payload never wraps: when it would run past the end of the byte ring the producer
 * skips to the start, and the consumer's release (head = start + length) frees the gap.
 */
import { SpscRing } from "../../mem/spsc-ring";

export const REC_WORDS = 4;

/** Stack -> app record kinds. */
export const SplitEvent = {
  /** A new connection (accepted) now belongs to this app thread. w3 = local port. */
  Open: 1,
  /** Received bytes (w2, w3). */
  Data: 2,
  /** The peer sent FIN after the data already delivered. */
  PeerFin: 3,
  /** The connection is closed; w3 = 0 or a negative errno. The app must answer with Close. */
  Closed: 4,
  /** Stop: the app thread finishes its loop. */
  Stop: 5,
} as const;

/** App -> stack record kinds. */
export const SplitCommand = {
  /** Send the payload (w2, w3). Flag SEND_AHEAD: ahead of queued low-priority data, in the record's class. */
  Send: 1,
  /** Half-close after the queued data (FIN). */
  Shutdown: 2,
  /** Give up the id (graceful). */
  Close: 3,
  /** Give up the id with a reset. */
  Abort: 4,
} as const;

export const FLAG_SEND_AHEAD = 1;

// ByteRing header (Int32 words): head on its own cache line, then flags and capacity.
const B_HEAD = 0;
const B_FLAGS = 16;
const B_CAP = 17;
const B_HEADER_BYTES = 128;
const PRODUCER_WAITING = 1;

/**
 * Bytes on a SharedArrayBuffer with one producer and one consumer. The producer
 * keeps its tail to itself (records carry positions); the consumer publishes how
 * far it has released. Positions are free-running int32 counters.
 */
export class ByteRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  /** The bytes: payload at position p is at u8[p & mask]. */
  readonly u8: Uint8Array;
  readonly mask: number;
  private readonly hdr: Int32Array;
  /** Producer: next free position. */
  private tail = 0;
  /** Producer: last seen head. */
  private cachedHead = 0;

  static create(capacity: number): ByteRing {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > 1 << 30 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError("ByteRing capacity must be a power of two between 64 and 2^30");
    }
    const sab = new SharedArrayBuffer(B_HEADER_BYTES + capacity);
    new Int32Array(sab, 0, B_HEADER_BYTES / 4)[B_CAP] = capacity;
    return new ByteRing(sab);
  }

  static attach(sab: SharedArrayBuffer): ByteRing {
    return new ByteRing(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    this.hdr = new Int32Array(sab, 0, B_HEADER_BYTES / 4);
    const cap = Atomics.load(this.hdr, B_CAP);
    if (cap < 64 || (cap & (cap - 1)) !== 0 || sab.byteLength < B_HEADER_BYTES + cap) throw new RangeError("ByteRing.attach: not a byte ring");
    this.sab = sab;
    this.capacity = cap;
    this.mask = cap - 1;
    this.u8 = new Uint8Array(sab, B_HEADER_BYTES, cap);
    this.tail = Atomics.load(this.hdr, B_HEAD);
    this.cachedHead = this.tail;
  }

  // ---- producer ----

  /**
   * Start of a contiguous run of `len` bytes (a free-running position; the bytes
   * are at u8[pos & mask ...]), or -1 when there is no room now. Nothing is taken
   * until commit(pos, n).
   */
  reserve(len: number): number {
    const cap = this.capacity;
    if (len > cap >> 1) return -1;
    let pos = this.tail;
    const idx = pos & this.mask;
    if (idx + len > cap) pos = (pos + (cap - idx)) | 0; // skip to the start: payloads never wrap
    const end = (pos + len) | 0;
    if (((end - this.cachedHead) | 0) > cap) {
      this.cachedHead = Atomics.load(this.hdr, B_HEAD);
      if (((end - this.cachedHead) | 0) > cap) return -1;
    }
    return pos;
  }

  /** Take the `n` bytes written at `pos` (from reserve). */
  commit(pos: number, n: number): void {
    this.tail = (pos + n) | 0;
  }

  /** Largest payload reserve() could ever give. */
  maxPayload(): number {
    return this.capacity >> 1;
  }

  /** Producer: block (Worker only) until the consumer releases something or timeoutMs passes. */
  waitRelease(timeoutMs: number): void {
    const hdr = this.hdr;
    Atomics.or(hdr, B_FLAGS, PRODUCER_WAITING);
    const head = Atomics.load(hdr, B_HEAD);
    if (head === this.cachedHead) Atomics.wait(hdr, B_HEAD, head, timeoutMs);
    Atomics.and(hdr, B_FLAGS, ~PRODUCER_WAITING);
    this.cachedHead = Atomics.load(hdr, B_HEAD);
  }

  // ---- consumer ----

  /** Release everything before position `end` (start + length of the last consumed payload). */
  release(end: number): void {
    const hdr = this.hdr;
    Atomics.store(hdr, B_HEAD, end);
    if ((Atomics.load(hdr, B_FLAGS) & PRODUCER_WAITING) !== 0) Atomics.notify(hdr, B_HEAD, 1);
  }
}

/** What crosses postMessage to attach a lane in another thread. */
export interface LaneShare {
  records: SharedArrayBuffer;
  bytes: SharedArrayBuffer;
}

/** One direction: records and their payload bytes. */
export class Lane {
  constructor(
    readonly records: SpscRing,
    readonly bytes: ByteRing,
  ) {}

  static create(recordCapacity: number, byteCapacity: number): Lane {
    return new Lane(SpscRing.create(recordCapacity * REC_WORDS), ByteRing.create(byteCapacity));
  }

  static attach(s: LaneShare): Lane {
    return new Lane(SpscRing.attach(s.records), ByteRing.attach(s.bytes));
  }

  share(): LaneShare {
    return { records: this.records.sab, bytes: this.bytes.sab };
  }
}

/**
 * Producer-side record staging: records are written into a local batch and
 * published with one pushBatch (one Atomics.store of the tail) per flush.
 */
export class RecordWriter {
  private readonly stage: Uint32Array;
  private n = 0;
  /** Record slots known free in the ring (refreshed when it runs out). */
  private free = 0;

  constructor(
    private readonly ring: SpscRing,
    readonly maxRecords = 64,
  ) {
    this.stage = new Uint32Array(maxRecords * REC_WORDS);
  }

  /** Room for one more record (in the ring, counting what is staged)? */
  hasRoom(): boolean {
    if (this.n * REC_WORDS >= this.stage.length) this.flush();
    if (this.free > this.n) return true;
    this.free = ((this.ring.capacity - this.ring.size()) / REC_WORDS) | 0;
    return this.free > this.n;
  }

  /** Stage a record; the caller checked hasRoom(). */
  put(kind: number, cls: number, flags: number, conn: number, w2: number, w3: number): void {
    const s = this.stage;
    const i = this.n * REC_WORDS;
    s[i] = kind | (cls << 8) | (flags << 16);
    s[i + 1] = conn;
    s[i + 2] = w2;
    s[i + 3] = w3;
    this.n++;
  }

  staged(): number {
    return this.n;
  }

  /** Publish the staged records. */
  flush(): void {
    const words = this.n * REC_WORDS;
    if (words === 0) return;
    // hasRoom() guaranteed the space, so the whole batch goes in.
    const pushed = this.ring.pushBatch(this.stage, words);
    this.free -= pushed / REC_WORDS;
    this.n = 0;
  }
}

// SpscRing's shared header (src/mem/spsc-ring.ts): tail at word 16, waiting flags at word 32.
const RING_TAIL = 16;
const RING_FLAGS = 32;
const RING_CONSUMER_WAITING = 1;

/**
 * Wake a consumer that must not block (the stack thread, on Bun's event loop):
 * arm() announces the consumer as waiting and starts an Atomics.waitAsync on the
 * ring's tail; the producer's next publish notifies it and `onWake` runs. While
 * the consumer is busy it does not arm, so producers pay no notify.
 */
export class AsyncWaker {
  private readonly hdr: Int32Array;
  private armed = false;
  wakes = 0;

  constructor(
    ring: SpscRing,
    private readonly onWake: () => void,
    private readonly timeoutMs = 1000,
  ) {
    this.hdr = new Int32Array(ring.sab, 0, 48);
  }

  /** Arm when the ring is empty; no-op when armed already or when items are there. */
  arm(): void {
    if (this.armed) return;
    const hdr = this.hdr;
    Atomics.or(hdr, RING_FLAGS, RING_CONSUMER_WAITING);
    const tail = Atomics.load(hdr, RING_TAIL);
    const r = Atomics.waitAsync(hdr, RING_TAIL, tail, this.timeoutMs);
    if (!r.async) {
      // Published between the caller's check and now: no need to sleep.
      Atomics.and(hdr, RING_FLAGS, ~RING_CONSUMER_WAITING);
      this.onWake();
      return;
    }
    this.armed = true;
    r.value.then(this.done);
  }

  private readonly done = (v: string): void => {
    this.armed = false;
    Atomics.and(this.hdr, RING_FLAGS, ~RING_CONSUMER_WAITING);
    if (v === "ok") {
      this.wakes++;
      this.onWake();
    }
  };
}

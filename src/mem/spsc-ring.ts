/**
 * Lock-free single-producer / single-consumer ring of uint32 items on a
 * SharedArrayBuffer, for passing work (packet handles, connection ids, offsets)
 * between Bun Workers.
 *
 * Layout of the SharedArrayBuffer (Int32 words; head, tail and flags on separate
 * 64-byte cache lines so the two sides do not false-share):
 *   word 0   head: items consumed (free-running uint32 counter, written by the consumer only)
 *   word 16  tail: items produced (free-running, written by the producer only)
 *   word 32  waiting flags: bit 0 the consumer sleeps in waitNotEmpty, bit 1 the producer in waitNotFull
 *   word 33  capacity (a power of two)
 *   byte 192 items: Uint32Array(capacity), item k at index k & (capacity - 1)
 *
 * Memory ordering: the producer writes items, then publishes tail with
 * Atomics.store; the consumer reads tail with Atomics.load before reading items
 * (and symmetrically for head). Atomics cost ~6 ns each here, so each side keeps
 * a cached copy of the other side's index and publishes once per batch.
 * A ring object is used from one side (or both sides on one thread); each Worker
 * attaches its own object to the shared buffer.
 */

const HEAD = 0;
const TAIL = 16;
const FLAGS = 32;
const CAP = 33;
const HEADER_BYTES = 192;
const CONSUMER_WAITING = 1;
const PRODUCER_WAITING = 2;

export class SpscRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  private readonly mask: number;
  private readonly hdr: Int32Array;
  private readonly items: Uint32Array;
  /** Producer's last seen head. */
  private cachedHead: number;
  /** Consumer's last seen tail. */
  private cachedTail: number;

  /** Bytes of SharedArrayBuffer a ring of `capacity` items needs. */
  static bytesFor(capacity: number): number {
    return HEADER_BYTES + 4 * capacity;
  }

  /** A new ring; capacity must be a power of two in [2, 2^28]. */
  static create(capacity: number): SpscRing {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > 1 << 28 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError("SpscRing capacity must be a power of two between 2 and 2^28");
    }
    const sab = new SharedArrayBuffer(SpscRing.bytesFor(capacity));
    new Int32Array(sab, 0, HEADER_BYTES / 4)[CAP] = capacity;
    return new SpscRing(sab);
  }

  /** Attach to a ring made by create() (e.g. in another Worker). */
  static attach(sab: SharedArrayBuffer): SpscRing {
    return new SpscRing(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    const hdr = new Int32Array(sab, 0, HEADER_BYTES / 4);
    const capacity = Atomics.load(hdr, CAP);
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0 || sab.byteLength < SpscRing.bytesFor(capacity)) {
      throw new RangeError("SpscRing.attach: not a ring buffer");
    }
    this.sab = sab;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.hdr = hdr;
    this.items = new Uint32Array(sab, HEADER_BYTES, capacity);
    this.cachedHead = Atomics.load(hdr, HEAD);
    this.cachedTail = Atomics.load(hdr, TAIL);
  }

  // ---- producer side ----

  /** Push up to n items of src; returns how many were pushed (fewer when the ring is full). */
  pushBatch(src: Uint32Array, n: number): number {
    const hdr = this.hdr;
    const tail = hdr[TAIL]!; // written only by this side
    let free = this.capacity - ((tail - this.cachedHead) | 0);
    if (free < n) {
      this.cachedHead = Atomics.load(hdr, HEAD);
      free = this.capacity - ((tail - this.cachedHead) | 0);
    }
    const m = n < free ? n : free;
    if (m <= 0) return 0;
    const items = this.items;
    const mask = this.mask;
    for (let i = 0; i < m; i++) items[(tail + i) & mask] = src[i]!;
    this.publishTail((tail + m) | 0);
    return m;
  }

  /** Push one item; false when the ring is full. */
  push(v: number): boolean {
    const hdr = this.hdr;
    const tail = hdr[TAIL]!;
    if (((tail - this.cachedHead) | 0) >= this.capacity) {
      this.cachedHead = Atomics.load(hdr, HEAD);
      if (((tail - this.cachedHead) | 0) >= this.capacity) return false;
    }
    this.items[tail & this.mask] = v;
    this.publishTail((tail + 1) | 0);
    return true;
  }

  private publishTail(tail: number): void {
    const hdr = this.hdr;
    Atomics.store(hdr, TAIL, tail);
    if ((Atomics.load(hdr, FLAGS) & CONSUMER_WAITING) !== 0) Atomics.notify(hdr, TAIL, 1);
  }

  /**
   * Producer: block (Atomics.wait) until there is room or timeoutMs passes; returns
   * whether there is room. Only for Workers that may block.
   */
  waitNotFull(timeoutMs: number): boolean {
    const hdr = this.hdr;
    const tail = hdr[TAIL]!;
    let head = Atomics.load(hdr, HEAD);
    if (((tail - head) | 0) < this.capacity) return true;
    Atomics.or(hdr, FLAGS, PRODUCER_WAITING);
    head = Atomics.load(hdr, HEAD);
    if (((tail - head) | 0) >= this.capacity) Atomics.wait(hdr, HEAD, head, timeoutMs);
    Atomics.and(hdr, FLAGS, ~PRODUCER_WAITING);
    this.cachedHead = Atomics.load(hdr, HEAD);
    return ((tail - this.cachedHead) | 0) < this.capacity;
  }

  // ---- consumer side ----

  /** Pop up to max items into dst; returns how many. */
  popBatch(dst: Uint32Array, max: number): number {
    const hdr = this.hdr;
    const head = hdr[HEAD]!; // written only by this side
    let avail = (this.cachedTail - head) | 0;
    if (avail < max) {
      this.cachedTail = Atomics.load(hdr, TAIL);
      avail = (this.cachedTail - head) | 0;
    }
    const m = max < avail ? max : avail;
    if (m <= 0) return 0;
    const items = this.items;
    const mask = this.mask;
    for (let i = 0; i < m; i++) dst[i] = items[(head + i) & mask]!;
    this.publishHead((head + m) | 0);
    return m;
  }

  /** Pop one item (a uint32), or -1 when empty. */
  pop(): number {
    const hdr = this.hdr;
    const head = hdr[HEAD]!;
    if (this.cachedTail === head) {
      this.cachedTail = Atomics.load(hdr, TAIL);
      if (this.cachedTail === head) return -1;
    }
    const v = this.items[head & this.mask]!;
    this.publishHead((head + 1) | 0);
    return v;
  }

  private publishHead(head: number): void {
    const hdr = this.hdr;
    Atomics.store(hdr, HEAD, head);
    if ((Atomics.load(hdr, FLAGS) & PRODUCER_WAITING) !== 0) Atomics.notify(hdr, HEAD, 1);
  }

  /**
   * Consumer: block (Atomics.wait) until an item is available or timeoutMs passes;
   * returns whether the ring is non-empty. For an idle consumer Worker (a wake costs ~14 us).
   */
  waitNotEmpty(timeoutMs: number): boolean {
    const hdr = this.hdr;
    const head = hdr[HEAD]!;
    if (Atomics.load(hdr, TAIL) !== head) return true;
    Atomics.or(hdr, FLAGS, CONSUMER_WAITING);
    // Re-check after announcing: a producer that published before seeing the flag is caught here.
    const tail = Atomics.load(hdr, TAIL);
    if (tail === head) Atomics.wait(hdr, TAIL, tail, timeoutMs);
    Atomics.and(hdr, FLAGS, ~CONSUMER_WAITING);
    this.cachedTail = Atomics.load(hdr, TAIL);
    return this.cachedTail !== head;
  }

  // ---- either side ----

  /** Items in the ring (a snapshot). */
  size(): number {
    return (Atomics.load(this.hdr, TAIL) - Atomics.load(this.hdr, HEAD)) | 0;
  }
}

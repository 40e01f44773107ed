/**
 * A batch of packet descriptors, laid out as one Uint32Array so a device can
 * hand the whole batch across the FFI boundary as a single pointer.
 *
 * Layout (capacity = C): words [0, C) buffer handles, [C, 2C) frame offsets,
 * [2C, 3C) frame lengths. A handle is device-specific (for DPDK: the mbuf's
 * byte offset from the pool base); an offset is the byte offset of the first
 * frame byte inside the device's `mem`; a length is the frame length in bytes.
 *
 * Ownership: whoever holds a descriptor in a batch owns the buffer. rxBurst
 * gives buffers to the caller; txBurst takes them all (sent or freed).
 */
export class PacketBatch {
  readonly capacity: number;
  readonly words: Uint32Array;
  readonly handle: Uint32Array;
  readonly off: Uint32Array;
  readonly len: Uint32Array;
  /** Number of valid descriptors, from index 0. */
  count = 0;

  constructor(capacity: number, words?: Uint32Array) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError("PacketBatch capacity must be a positive integer");
    this.capacity = capacity;
    this.words = words ?? new Uint32Array(capacity * 3);
    if (this.words.length < capacity * 3) throw new RangeError("PacketBatch backing array too small");
    this.handle = this.words.subarray(0, capacity);
    this.off = this.words.subarray(capacity, capacity * 2);
    this.len = this.words.subarray(capacity * 2, capacity * 3);
  }

  /** Append one descriptor; returns its index, or -1 when full. */
  push(handle: number, off: number, len: number): number {
    const i = this.count;
    if (i >= this.capacity) return -1;
    this.handle[i] = handle;
    this.off[i] = off;
    this.len[i] = len;
    this.count = i + 1;
    return i;
  }

  /** Copy descriptor `from` of `src` into this batch; returns the new index or -1 when full. */
  pushFrom(src: PacketBatch, from: number): number {
    return this.push(src.handle[from]!, src.off[from]!, src.len[from]!);
  }

  clear(): void {
    this.count = 0;
  }
}

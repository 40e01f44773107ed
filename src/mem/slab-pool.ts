/**
 * A fixed-capacity pool of equal-sized objects on one typed-array region.
 *
 * Objects are addressed by index (0 .. count-1); `offsetOf(idx)` gives the byte
 * offset of the object inside `mem`/`dv`. Nothing is a JS object per element.
 *
 * Layout of the region (all inside one ArrayBuffer, from `byteOffset`):
 *   [objects: objBytes * count][free list: Int32 * count][in-use bits: 1 bit per object]
 * The object area comes first so that, over hugepage memory, objects keep the
 * alignment of the backing buffer (objBytes multiple of 64 => cache-line aligned).
 *
 * Free list: a LIFO stack of indices (the most recently freed object is handed
 * out next: its cache lines are likely still warm). alloc/free are O(1).
 * Exhaustion is a return value (-1, counted in `allocFailures`), never a throw.
 * A double free, or freeing an index out of range, is detected with the in-use
 * bits, counted in `badFrees` and ignored: the pool stays consistent.
 *
 * alloc() does not clear the object: callers initialise what they use.
 */
export interface SlabPoolOptions {
  /** Bytes per object (> 0). */
  objBytes: number;
  /** Number of objects (> 0). */
  count: number;
  /** Memory to carve the pool from (e.g. a hugepage region); default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  /** Where the pool starts inside `backing`; must be a multiple of 8. Default 0. */
  byteOffset?: number;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

export class SlabPool {
  /** The object area: object idx occupies [offsetOf(idx), offsetOf(idx) + objBytes). */
  readonly mem: Uint8Array;
  /** A DataView over the same bytes as `mem` (same offsets). */
  readonly dv: DataView;
  readonly objBytes: number;
  readonly count: number;
  /** alloc() calls that found the pool empty. */
  allocFailures = 0;
  /** free() calls with an index that was not allocated (double free) or out of range. */
  badFrees = 0;

  private readonly freeList: Int32Array;
  private readonly inUseBits: Uint8Array;
  /** Number of indices on the free list (stack top). */
  private top: number;

  /** Bytes a pool of `count` objects of `objBytes` bytes needs in a backing buffer (objects + metadata). */
  static bytesFor(objBytes: number, count: number): number {
    return align8(objBytes * count) + align8(4 * count) + align8(Math.ceil(count / 8));
  }

  constructor(opts: SlabPoolOptions) {
    const objBytes = opts.objBytes;
    const count = opts.count;
    if (!Number.isInteger(objBytes) || objBytes <= 0) throw new RangeError("SlabPool objBytes must be a positive integer");
    if (!Number.isInteger(count) || count <= 0 || count > 0x7fffffff) {
      throw new RangeError("SlabPool count must be a positive integer below 2^31");
    }
    const base = opts.byteOffset ?? 0;
    if (!Number.isInteger(base) || base < 0 || base % 8 !== 0) throw new RangeError("SlabPool byteOffset must be a non-negative multiple of 8");
    const need = SlabPool.bytesFor(objBytes, count);
    const buf = opts.backing ?? new ArrayBuffer(base + need);
    if (buf.byteLength < base + need) {
      throw new RangeError(`SlabPool backing too small: need ${need} bytes at offset ${base}, have ${buf.byteLength - base}`);
    }
    this.objBytes = objBytes;
    this.count = count;
    this.mem = new Uint8Array(buf, base, objBytes * count);
    this.dv = new DataView(buf, base, objBytes * count);
    let off = base + align8(objBytes * count);
    this.freeList = new Int32Array(buf, off, count);
    off += align8(4 * count);
    this.inUseBits = new Uint8Array(buf, off, Math.ceil(count / 8));
    this.inUseBits.fill(0);
    // Index 0 on top: a fresh pool hands out 0, 1, 2, ...
    for (let i = 0; i < count; i++) this.freeList[i] = count - 1 - i;
    this.top = count;
  }

  /** Take an object; returns its index, or -1 when the pool is exhausted (counted in allocFailures). */
  alloc(): number {
    if (this.top === 0) {
      this.allocFailures++;
      return -1;
    }
    const idx = this.freeList[--this.top]!;
    this.inUseBits[idx >> 3] |= 1 << (idx & 7);
    return idx;
  }

  /**
   * Return an object. Returns false (and counts it in badFrees, changing nothing)
   * when idx is out of range or not currently allocated.
   */
  free(idx: number): boolean {
    if (!(idx >= 0 && idx < this.count)) {
      this.badFrees++;
      return false;
    }
    const byte = idx >> 3;
    const bit = 1 << (idx & 7);
    const bits = this.inUseBits[byte]!;
    if ((bits & bit) === 0) {
      this.badFrees++;
      return false;
    }
    this.inUseBits[byte] = bits & ~bit;
    this.freeList[this.top++] = idx;
    return true;
  }

  /** Whether idx is currently allocated. */
  isAllocated(idx: number): boolean {
    return idx >= 0 && idx < this.count && (this.inUseBits[idx >> 3]! & (1 << (idx & 7))) !== 0;
  }

  /** Byte offset of object idx in `mem` / `dv`. */
  offsetOf(idx: number): number {
    return idx * this.objBytes;
  }

  inUse(): number {
    return this.count - this.top;
  }

  available(): number {
    return this.top;
  }
}

/**
 * Carving typed arrays out of one backing buffer (a hugepage region or a fresh
 * ArrayBuffer): each array starts on an 8-byte boundary, in the order asked.
 * Structures use it to lay their struct-of-arrays state into memory the caller
 * provides (`backing` / `byteOffset`) and to state their size (`bytesFor`).
 */

/** Bytes an array of `count` elements of `elemBytes` takes, rounded up to 8. */
export function arrayBytes(elemBytes: number, count: number): number {
  return Math.ceil((elemBytes * count) / 8) * 8;
}

/** A function that hands out `bytes` of zeroed memory at buffer[offset ...] (offset a multiple of 8). */
export type MemoryProvider = (bytes: number, name: string) => { buffer: ArrayBuffer; offset: number };

/** The default provider: a fresh ArrayBuffer per request. */
export const heapMemory: MemoryProvider = (bytes) => ({ buffer: new ArrayBuffer(bytes > 0 ? bytes : 8), offset: 0 });

export class Carver {
  readonly buffer: ArrayBuffer;
  private off: number;

  /**
   * Carve from backing[byteOffset ...], which must hold `need` bytes; without a
   * backing a fresh ArrayBuffer of `need` bytes is used. Throws RangeError naming `what`.
   */
  constructor(what: string, need: number, backing?: ArrayBuffer, byteOffset = 0) {
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
      throw new RangeError(what + " byteOffset must be a non-negative multiple of 8");
    }
    this.buffer = backing ?? new ArrayBuffer(byteOffset + need);
    if (this.buffer.byteLength < byteOffset + need) {
      throw new RangeError(`${what} backing too small: need ${need} bytes at offset ${byteOffset}, have ${this.buffer.byteLength - byteOffset}`);
    }
    this.off = byteOffset;
  }

  /** Bytes carved so far, from the start of the buffer. */
  get offset(): number {
    return this.off;
  }

  i32(n: number): Int32Array {
    const a = new Int32Array(this.buffer, this.off, n);
    this.off += arrayBytes(4, n);
    return a;
  }

  i16(n: number): Int16Array {
    const a = new Int16Array(this.buffer, this.off, n);
    this.off += arrayBytes(2, n);
    return a;
  }

  u16(n: number): Uint16Array {
    const a = new Uint16Array(this.buffer, this.off, n);
    this.off += arrayBytes(2, n);
    return a;
  }

  u8(n: number): Uint8Array {
    const a = new Uint8Array(this.buffer, this.off, n);
    this.off += arrayBytes(1, n);
    return a;
  }

  f64(n: number): Float64Array {
    const a = new Float64Array(this.buffer, this.off, n);
    this.off += arrayBytes(8, n);
    return a;
  }
}

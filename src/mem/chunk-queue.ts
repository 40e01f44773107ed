/**
 * Per-connection byte queues built from fixed-size chunks of a SlabPool: the TCP
 * send buffer (append at the tail, read at any offset for (re)transmission,
 * consume when acknowledged) and receive buffer (sparse writes for out-of-order
 * segments, RFC 9293 3.10.7.4 "segment text", RFC 2018 SACK blocks).
 *
 * State per queue id (= connection id) is one 20-byte record in an Int32Array:
 *   [head chunk, tail chunk, contiguous length, chunk count << 16 | head offset, out-of-order record]
 * Chunks of one queue form a singly linked list (links in an Int32Array indexed by
 * chunk, 4 B per chunk). Positions are byte offsets from the head (the first
 * unconsumed byte); the chunk list covers [0, chunkCount * chunkBytes - headOffset).
 * An empty queue (no readable byte, no out-of-order data) holds no chunk, so an idle
 * connection costs 20 bytes per queue.
 *
 * Out-of-order data: writeAt() stores bytes at pos >= length(q), allocating the
 * chunks up to it, and records the present ranges in a small record taken from a
 * shared free list only while a queue has such ranges: up to maxRanges disjoint
 * ranges, kept most recently updated first (RFC 2018 4: the first SACK block
 * reports the most recent segment, the others repeat recent blocks). When a write
 * makes data contiguous with the head, length grows and writeAt returns by how
 * much (so TCP advances RCV.NXT).
 *
 * Reads at an offset (the sender copies out segment after segment far from the
 * head) start from a read cursor: the chunk and its index from the head chunk,
 * cached for the last copyOut of a queue in a small direct-mapped table shared by
 * all queues (CURSOR_SLOTS entries, keyed by queue id), so an idle queue costs
 * nothing more. consume() shifts or drops the cursor of its queue; reset() drops it.
 *
 * Nothing throws on the hot path: a full pool or too many ranges is a return value
 * (fewer bytes appended, or -1 from writeAt, counted in `drops`).
 * Chunk bytes are at pool.mem[memOffset ...]; headSpan/spanAt give zero-copy views.
 */
import { nativeCopy } from "./native-mem";
import type { SlabPool } from "./slab-pool";

export interface ChunkQueuesOptions {
  /** Number of queues (ids 0 .. queues-1). */
  queues: number;
  /** Pool the chunks come from; chunk size = pool.objBytes (<= 65536). */
  pool: SlabPool;
  /** Out-of-order ranges kept per queue (default 4; RFC 2018 fits at most 4 SACK blocks). */
  maxRanges?: number;
  /** Queues that can hold out-of-order data at once (default min(queues, pool.count)). */
  oooRecords?: number;
  /** Memory for the queue records, chunk links and range records; default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  /** Where this structure starts inside `backing`; must be a multiple of 8. */
  byteOffset?: number;
}

const STRIDE = 5;
const W_HEAD = 0;
const W_TAIL = 1;
const W_LEN = 2;
/** chunk count << 16 | head offset in the head chunk. */
const W_HC = 3;
const W_REC = 4;

/** Read-cursor cache entries (a power of two); a fixed cost, not per queue. */
const CURSOR_SLOTS = 1024;
const CURSOR_MASK = CURSOR_SLOTS - 1;

/** Below this many bytes a plain loop beats subarray()+set() (which allocates a view). */
const LOOP_COPY_MAX = 64;

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * Copy n bytes; no allocation for small copies, nor for large ones between two
 * registered big buffers (device memory and the buffer pool: one native memmove,
 * native-mem.ts); otherwise one view and a native set().
 */
function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i]!;
  } else if (!nativeCopy(dst, dstOff, src, srcOff, n)) {
    dst.set(src.subarray(srcOff, srcOff + n), dstOff);
  }
}

export class ChunkQueues {
  readonly queues: number;
  readonly pool: SlabPool;
  readonly chunkBytes: number;
  readonly maxRanges: number;
  /** Largest number of chunks one queue may hold. */
  readonly maxChunks: number;
  /** writeAt() calls refused (pool empty, too many ranges, no free range record, too far). */
  drops = 0;

  private readonly q: Int32Array;
  private readonly nextChunk: Int32Array;
  private readonly recWords: number;
  private readonly recs: Int32Array;
  private recFree: number;
  private readonly mem: Uint8Array;
  /** Read cursors: queue id (-1: free), chunk, chunk index from the head chunk. */
  private readonly curQ = new Int32Array(CURSOR_SLOTS).fill(-1);
  private readonly curChunk = new Int32Array(CURSOR_SLOTS);
  private readonly curIdx = new Int32Array(CURSOR_SLOTS);

  /** Bytes of queue state per queue id. */
  static readonly bytesPerQueue = STRIDE * 4;

  static bytesFor(opts: { queues: number; poolCount: number; maxRanges?: number; oooRecords?: number }): number {
    const maxRanges = opts.maxRanges ?? 4;
    const recs = opts.oooRecords ?? Math.min(opts.queues, opts.poolCount);
    return align8(STRIDE * 4 * opts.queues) + align8(4 * opts.poolCount) + align8(4 * (1 + 2 * maxRanges) * recs);
  }

  constructor(opts: ChunkQueuesOptions) {
    const queues = opts.queues;
    const pool = opts.pool;
    if (!Number.isInteger(queues) || queues <= 0) throw new RangeError("ChunkQueues queues must be a positive integer");
    if (pool.objBytes > 65536) throw new RangeError("ChunkQueues chunk size (pool.objBytes) must be <= 65536");
    const maxRanges = opts.maxRanges ?? 4;
    if (!Number.isInteger(maxRanges) || maxRanges < 1 || maxRanges > 64) throw new RangeError("ChunkQueues maxRanges must be in [1, 64]");
    const oooRecords = opts.oooRecords ?? Math.min(queues, pool.count);
    if (!Number.isInteger(oooRecords) || oooRecords < 0) throw new RangeError("ChunkQueues oooRecords must be a non-negative integer");
    const base = opts.byteOffset ?? 0;
    if (!Number.isInteger(base) || base < 0 || base % 8 !== 0) throw new RangeError("ChunkQueues byteOffset must be a non-negative multiple of 8");
    const need = ChunkQueues.bytesFor({ queues, poolCount: pool.count, maxRanges, oooRecords });
    const buf = opts.backing ?? new ArrayBuffer(base + need);
    if (buf.byteLength < base + need) {
      throw new RangeError(`ChunkQueues backing too small: need ${need} bytes at offset ${base}, have ${buf.byteLength - base}`);
    }
    this.queues = queues;
    this.pool = pool;
    this.mem = pool.mem;
    this.chunkBytes = pool.objBytes;
    this.maxRanges = maxRanges;
    this.maxChunks = Math.min(65535, Math.floor(0x7fffffff / pool.objBytes));
    this.recWords = 1 + 2 * maxRanges;
    let off = base;
    this.q = new Int32Array(buf, off, STRIDE * queues);
    off += align8(STRIDE * 4 * queues);
    this.nextChunk = new Int32Array(buf, off, pool.count);
    off += align8(4 * pool.count);
    this.recs = new Int32Array(buf, off, this.recWords * oooRecords);
    for (let i = 0; i < queues; i++) {
      const b = i * STRIDE;
      this.q[b + W_HEAD] = -1;
      this.q[b + W_TAIL] = -1;
      this.q[b + W_LEN] = 0;
      this.q[b + W_HC] = 0;
      this.q[b + W_REC] = -1;
    }
    // Free records linked through their first word.
    for (let r = 0; r < oooRecords; r++) this.recs[r * this.recWords] = r + 1 < oooRecords ? r + 1 : -1;
    this.recFree = oooRecords > 0 ? 0 : -1;
  }

  /** Contiguous bytes readable from the head. */
  length(q: number): number {
    return this.q[q * STRIDE + W_LEN]!;
  }

  /** Chunks held by queue q (0 when empty). */
  chunksHeld(q: number): number {
    return this.q[q * STRIDE + W_HC]! >>> 16;
  }

  /** Number of out-of-order ranges of queue q. */
  rangeCount(q: number): number {
    const r = this.q[q * STRIDE + W_REC]!;
    return r < 0 ? 0 : this.recs[r * this.recWords]!;
  }

  /** Append len bytes of src at the end of the readable data; returns the bytes appended (fewer when chunks run out). */
  append(q: number, src: Uint8Array, srcOff: number, len: number): number {
    if (len <= 0) return 0;
    const b = q * STRIDE;
    const st = this.q;
    if (st[b + W_REC]! >= 0) {
      // Out-of-order data present (a receive queue): all or nothing, merging with the ranges.
      return this.writeAt(q, st[b + W_LEN]!, src, srcOff, len) < 0 ? 0 : len;
    }
    const C = this.chunkBytes;
    const pool = this.pool;
    const mem = this.mem;
    const next = this.nextChunk;
    let tail = st[b + W_TAIL]!;
    const hc = st[b + W_HC]!;
    let nC = hc >>> 16;
    const hOff = hc & 0xffff;
    const L = st[b + W_LEN]!;
    let written = 0;
    const space = nC * C - hOff - L;
    if (space > 0) {
      const k = space < len ? space : len;
      copyBytes(mem, pool.offsetOf(tail) + C - space, src, srcOff, k);
      written = k;
    }
    while (written < len && nC < this.maxChunks) {
      const c = pool.alloc();
      if (c < 0) break;
      next[c] = -1;
      if (tail < 0) st[b + W_HEAD] = c;
      else next[tail] = c;
      tail = c;
      nC++;
      const rest = len - written;
      const k = rest < C ? rest : C;
      copyBytes(mem, pool.offsetOf(c), src, srcOff + written, k);
      written += k;
    }
    st[b + W_TAIL] = tail;
    st[b + W_HC] = (nC << 16) | hOff;
    st[b + W_LEN] = L + written;
    return written;
  }

  /**
   * Copy up to len readable bytes starting `skip` bytes after the head into dst, without consuming;
   * returns the count. Starts from the queue's read cursor when it is at or before the first chunk
   * needed, and leaves the cursor on the last chunk read.
   */
  copyOut(q: number, skip: number, dst: Uint8Array, dstOff: number, len: number): number {
    const b = q * STRIDE;
    const L = this.q[b + W_LEN]!;
    if (skip < 0 || skip >= L || len <= 0) return 0;
    const n = len < L - skip ? len : L - skip;
    const C = this.chunkBytes;
    const next = this.nextChunk;
    let pos = (this.q[b + W_HC]! & 0xffff) + skip;
    const slot = q & CURSOR_MASK;
    let c = this.q[b + W_HEAD]!;
    let k = 0;
    if (this.curQ[slot] === q) {
      const ck = this.curIdx[slot]!;
      if (ck * C <= pos) {
        c = this.curChunk[slot]!;
        k = ck;
        pos -= ck * C;
      }
    }
    while (pos >= C) {
      c = next[c]!;
      pos -= C;
      k++;
    }
    const mem = this.mem;
    const pool = this.pool;
    let copied = 0;
    for (;;) {
      const room = C - pos;
      const rest = n - copied;
      const m = room < rest ? room : rest;
      copyBytes(dst, dstOff + copied, mem, pool.offsetOf(c) + pos, m);
      copied += m;
      if (copied >= n) break;
      c = next[c]!;
      k++;
      pos = 0;
    }
    this.curQ[slot] = q;
    this.curChunk[slot] = c;
    this.curIdx[slot] = k;
    return n;
  }

  /** Drop n readable bytes from the head (clamped to length), returning emptied chunks to the pool. */
  consume(q: number, n: number): void {
    const b = q * STRIDE;
    const st = this.q;
    const L = st[b + W_LEN]!;
    if (n > L) n = L;
    if (n <= 0) return;
    const C = this.chunkBytes;
    const pool = this.pool;
    const next = this.nextChunk;
    const hc = st[b + W_HC]!;
    let nC = hc >>> 16;
    let hOff = (hc & 0xffff) + n;
    let head = st[b + W_HEAD]!;
    let freed = 0;
    while (hOff >= C) {
      const nx = next[head]!;
      pool.free(head);
      head = nx;
      nC--;
      hOff -= C;
      freed++;
    }
    const rec = st[b + W_REC]!;
    const slot = q & CURSOR_MASK;
    if (this.curQ[slot] === q) {
      const k = this.curIdx[slot]! - freed;
      if (k < 0 || (L - n === 0 && rec < 0)) this.curQ[slot] = -1;
      else this.curIdx[slot] = k;
    }
    if (L - n === 0 && rec < 0) {
      // Empty: give back the partly used chunk(s) too.
      while (head >= 0) {
        const nx = next[head]!;
        pool.free(head);
        head = nx;
      }
      nC = 0;
      hOff = 0;
    }
    st[b + W_HEAD] = head;
    if (head < 0) st[b + W_TAIL] = -1;
    st[b + W_HC] = (nC << 16) | hOff;
    st[b + W_LEN] = L - n;
    if (rec >= 0) {
      const recs = this.recs;
      const rb = rec * this.recWords;
      const cnt = recs[rb]!;
      for (let i = 0; i < cnt; i++) {
        recs[rb + 1 + 2 * i] -= n;
        recs[rb + 2 + 2 * i] -= n;
      }
    }
  }

  /** Free every chunk and range of q. */
  reset(q: number): void {
    const b = q * STRIDE;
    const st = this.q;
    let c = st[b + W_HEAD]!;
    while (c >= 0) {
      const nx = this.nextChunk[c]!;
      this.pool.free(c);
      c = nx;
    }
    const rec = st[b + W_REC]!;
    if (rec >= 0) this.freeRec(rec);
    if (this.curQ[q & CURSOR_MASK] === q) this.curQ[q & CURSOR_MASK] = -1;
    st[b + W_HEAD] = -1;
    st[b + W_TAIL] = -1;
    st[b + W_LEN] = 0;
    st[b + W_HC] = 0;
    st[b + W_REC] = -1;
  }

  /**
   * Store len bytes of src at position pos (relative to the head). Bytes below
   * length(q) are already readable and are skipped. Returns the number of bytes
   * newly made contiguous from the head (0 if the data stays out of order), or -1
   * when it cannot be stored (pool too empty, more than maxRanges disjoint ranges,
   * no free range record, beyond maxChunks): the write is then dropped whole.
   */
  writeAt(q: number, pos: number, src: Uint8Array, srcOff: number, len: number): number {
    const b = q * STRIDE;
    const st = this.q;
    const L = st[b + W_LEN]!;
    if (len <= 0) return 0;
    const end = pos + len;
    if (end <= L) return 0;
    if (pos < L) {
      srcOff += L - pos;
      pos = L;
    }
    len = end - pos;
    const C = this.chunkBytes;
    const hc = st[b + W_HC]!;
    const nC = hc >>> 16;
    const hOff = hc & 0xffff;
    const needTotal = Math.ceil((hOff + end) / C);
    if (needTotal > this.maxChunks) {
      this.drops++;
      return -1;
    }
    const needNew = needTotal > nC ? needTotal - nC : 0;

    // Merge [pos, end) with the existing ranges it overlaps or touches.
    let rec = st[b + W_REC]!;
    const recs = this.recs;
    const rb = rec * this.recWords;
    const cnt = rec >= 0 ? recs[rb]! : 0;
    let newL = pos;
    let newR = end;
    let merged = 0;
    for (let i = 0; i < cnt; i++) {
      const l = recs[rb + 1 + 2 * i]!;
      const r = recs[rb + 2 + 2 * i]!;
      if (l <= newR && r >= newL) {
        if (l < newL) newL = l;
        if (r > newR) newR = r;
        merged++;
      }
    }
    const joinsHead = newL === L;
    const after = cnt - merged + (joinsHead ? 0 : 1);
    if (after > this.maxRanges || (!joinsHead && rec < 0 && this.recFree < 0) || needNew > this.pool.available()) {
      this.drops++;
      return -1;
    }

    // Chunks up to `end` (cannot fail: availability checked).
    if (needNew > 0) this.growTo(b, needTotal);

    // Copy the bytes, except those an out-of-order range already holds: the first copy of a
    // byte is kept (a conflicting retransmission never changes data once held, as in Linux).
    if (merged === 0) {
      this.copyIn(b, hOff + pos, src, srcOff, len);
    } else {
      let x = pos;
      while (x < end) {
        let gapEnd = end;
        let covered = -1;
        for (let i = 0; i < cnt; i++) {
          const l = recs[rb + 1 + 2 * i]!;
          const r = recs[rb + 2 + 2 * i]!;
          if (l <= x && r > x) covered = r;
          else if (l > x && l < gapEnd) gapEnd = l;
        }
        if (covered >= 0) {
          x = covered;
          continue;
        }
        this.copyIn(b, hOff + x, src, srcOff + (x - pos), gapEnd - x);
        x = gapEnd;
      }
    }

    // Update the ranges: drop the merged ones, then either extend the readable
    // data or put the union first (most recently updated).
    if (rec < 0 && !joinsHead) {
      rec = this.recFree;
      this.recFree = recs[rec * this.recWords]!;
      recs[rec * this.recWords] = 0;
      st[b + W_REC] = rec;
    }
    if (rec >= 0) {
      const base = rec * this.recWords;
      const tmpL = this.tmpL;
      const tmpR = this.tmpR;
      const n0 = recs[base]!;
      let w = 0;
      if (!joinsHead) {
        tmpL[0] = newL;
        tmpR[0] = newR;
        w = 1;
      }
      for (let i = 0; i < n0; i++) {
        const l = recs[base + 1 + 2 * i]!;
        const r = recs[base + 2 + 2 * i]!;
        if (l <= newR && r >= newL) continue; // merged into [newL, newR)
        tmpL[w] = l;
        tmpR[w] = r;
        w++;
      }
      for (let i = 0; i < w; i++) {
        recs[base + 1 + 2 * i] = tmpL[i]!;
        recs[base + 2 + 2 * i] = tmpR[i]!;
      }
      recs[base] = w;
      if (w === 0) {
        this.freeRec(rec);
        st[b + W_REC] = -1;
      }
    }
    if (!joinsHead) return 0;
    st[b + W_LEN] = newR;
    return newR - L;
  }

  /** Out-of-order ranges [outLeft[i], outRight[i]) relative to the head, most recently updated first; returns the count. */
  ranges(q: number, outLeft: Int32Array, outRight: Int32Array): number {
    const rec = this.q[q * STRIDE + W_REC]!;
    if (rec < 0) return 0;
    const base = rec * this.recWords;
    let n = this.recs[base]!;
    if (n > outLeft.length) n = outLeft.length;
    if (n > outRight.length) n = outRight.length;
    for (let i = 0; i < n; i++) {
      outLeft[i] = this.recs[base + 1 + 2 * i]!;
      outRight[i] = this.recs[base + 2 + 2 * i]!;
    }
    return n;
  }

  /** Zero-copy read of the head: out[0] = offset in pool.mem, out[1] = length of the contiguous span; returns out[1]. */
  headSpan(q: number, out: Int32Array): number {
    return this.spanAt(q, 0, out);
  }

  /** Like headSpan, for the span starting `skip` readable bytes after the head (0 when skip >= length). */
  spanAt(q: number, skip: number, out: Int32Array): number {
    const b = q * STRIDE;
    const L = this.q[b + W_LEN]!;
    if (skip < 0 || skip >= L) {
      out[0] = 0;
      out[1] = 0;
      return 0;
    }
    const C = this.chunkBytes;
    let pos = (this.q[b + W_HC]! & 0xffff) + skip;
    let c = this.q[b + W_HEAD]!;
    while (pos >= C) {
      c = this.nextChunk[c]!;
      pos -= C;
    }
    const room = C - pos;
    const n = room < L - skip ? room : L - skip;
    out[0] = this.pool.offsetOf(c) + pos;
    out[1] = n;
    return n;
  }

  /**
   * Zero-copy write, step 1: writable space at the tail, taking a fresh chunk
   * when the last one is full. out[0] = offset in pool.mem, out[1] = bytes
   * that may be written there contiguously (at most `want`). Returns out[1]:
   * 0 when no chunk can be had, or while out-of-order data is held (a receive
   * queue). Nothing becomes readable until commitAppend.
   */
  tailSpan(q: number, want: number, out: Int32Array): number {
    out[0] = 0;
    out[1] = 0;
    if (want <= 0) return 0;
    const b = q * STRIDE;
    const st = this.q;
    if (st[b + W_REC]! >= 0) return 0;
    const C = this.chunkBytes;
    const hc = st[b + W_HC]!;
    let nC = hc >>> 16;
    const hOff = hc & 0xffff;
    const L = st[b + W_LEN]!;
    let space = nC * C - hOff - L;
    let off: number;
    if (space > 0) {
      off = this.pool.offsetOf(st[b + W_TAIL]!) + C - space;
    } else {
      if (nC >= this.maxChunks) return 0;
      const c = this.pool.alloc();
      if (c < 0) return 0;
      this.nextChunk[c] = -1;
      const tail = st[b + W_TAIL]!;
      if (tail < 0) st[b + W_HEAD] = c;
      else this.nextChunk[tail] = c;
      st[b + W_TAIL] = c;
      nC++;
      // A fresh queue starts at offset 0 of its first chunk.
      st[b + W_HC] = (nC << 16) | (L === 0 && nC === 1 ? 0 : hOff);
      space = C;
      off = this.pool.offsetOf(c);
    }
    out[0] = off;
    out[1] = space < want ? space : want;
    return out[1];
  }

  /** Zero-copy write, step 2: make `n` bytes written into the last tailSpan readable. */
  commitAppend(q: number, n: number): void {
    if (n <= 0) return;
    const b = q * STRIDE;
    const st = this.q;
    const hc = st[b + W_HC]!;
    const space = (hc >>> 16) * this.chunkBytes - (hc & 0xffff) - st[b + W_LEN]!;
    if (n > space) throw new RangeError(`commitAppend: ${n} bytes but only ${space} reserved`);
    st[b + W_LEN] = st[b + W_LEN]! + n;
  }

  // ---- internals ----

  /** Copy n bytes of src to byte p of queue (record at b)'s chunk chain, p counted from the head chunk's start. */
  private copyIn(b: number, p: number, src: Uint8Array, srcOff: number, n: number): void {
    const C = this.chunkBytes;
    let c = this.q[b + W_HEAD]!;
    while (p >= C) {
      c = this.nextChunk[c]!;
      p -= C;
    }
    let copied = 0;
    while (copied < n) {
      const room = C - p;
      const k = room < n - copied ? room : n - copied;
      copyBytes(this.mem, this.pool.offsetOf(c) + p, src, srcOff + copied, k);
      copied += k;
      c = this.nextChunk[c]!;
      p = 0;
    }
  }

  /** Scratch for writeAt's range update (maxRanges + 1 entries; allocated once). */
  private readonly tmpL = new Int32Array(65);
  private readonly tmpR = new Int32Array(65);

  /** Extend queue (record at b) to `total` chunks. The caller checked pool.available(). */
  private growTo(b: number, total: number): void {
    const st = this.q;
    const next = this.nextChunk;
    const hc = st[b + W_HC]!;
    let nC = hc >>> 16;
    let tail = st[b + W_TAIL]!;
    while (nC < total) {
      const c = this.pool.alloc();
      next[c] = -1;
      if (tail < 0) st[b + W_HEAD] = c;
      else next[tail] = c;
      tail = c;
      nC++;
    }
    st[b + W_TAIL] = tail;
    st[b + W_HC] = (nC << 16) | (hc & 0xffff);
  }

  private freeRec(rec: number): void {
    this.recs[rec * this.recWords] = this.recFree;
    this.recFree = rec;
  }
}

/**
 * The sender's SACK scoreboard: RFC 2018 (SACK option) and RFC 6675 (SACK-based
 * loss recovery: IsLost, SetPipe, NextSeg).
 *
 * Per connection up to 4 SACKed ranges [left, right) as int32 sequence numbers,
 * sorted, disjoint and not adjacent, all above SND.UNA. The ranges live in a side
 * table: a record (4 lefts, 4 rights, a count: 33 B, plus 4 B of free list) is taken
 * from a fixed pool only while a connection holds SACK information and given back
 * when the cumulative ACK covers it (or on clear()); every connection keeps only a
 * record index: 4 bytes per connection (`SackScoreboard.bytesPerConn`).
 * When the pool is empty the new blocks are ignored (counted in `exhausted`): the
 * sender then recovers as without SACK, which RFC 2018 8 allows (SACK is advisory).
 *
 * When more than 4 ranges would be known, the scoreboard keeps the three lowest
 * (the holes next to SND.UNA are the next to repair) and the highest (it decides
 * IsLost for everything below and bounds NextSeg). Forgetting a middle range is
 * conservative: its bytes count as not SACKed, so less is declared lost and
 * pipe is overestimated; at worst SACKed data is resent.
 *
 * Sequence numbers are int32 (src/wire/seq.ts). `highRxt` in pipe() and nextSeg()
 * is the END (exclusive) of what was retransmitted in this recovery: every
 * un-SACKed byte in [SND.UNA, highRxt) has been retransmitted; start it at
 * SND.UNA. (RFC 6675's HighRxt is the last such byte, i.e. highRxt - 1.)
 *
 * RACK state (RFC 8985, rack.ts) rides in the same record, 5 words, so only
 * connections with SACK information (outstanding loss) pay for it: lostEnd (every
 * un-SACKed byte below it is lost by RACK's time rule, on top of IsLost), a
 * pending edge and the time it was seen (it becomes lostEnd a reordering window
 * later), and the time and SND.MAX of the first retransmission of the current
 * pass (a retransmission is lost when data sent after it was delivered).
 *
 * DupThresh is 3 (RFC 6675 2). The rescue retransmission (RFC 6675 4 NextSeg
 * rule 4) is not part of nextSeg(): rack.ts sends it from a probe timer
 * (highestUnsacked, lastRightIn). Not implemented: D-SACK (RFC 2883) use: a
 * D-SACK block below SND.UNA is ignored as any other, one inside a SACKed range
 * changes nothing.
 */

import { seqLt } from "../wire/seq";

/** Ranges kept per connection. */
export const SACK_MAX_RANGES = 4;
/** RFC 6675 2: DupThresh. */
export const DUP_THRESH = 3;

/** RACK words per record (see the file comment). */
export const RACK_WORDS = 5;
export const RK_LOST_END = 0;
export const RK_PEND_END = 1;
export const RK_PEND_US = 2;
export const RK_RXT_US = 3;
export const RK_RXT_HIGH = 4;

/** Most SACK blocks one update() looks at (a SACK option holds at most 4, RFC 2018 3). */
const MAX_BLOCKS = 8;

export interface SackScoreboardOptions {
  /** Connections that can hold SACK ranges at once (default: capacity). */
  records?: number;
  /** Memory to carve the scoreboard from; default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  /** Where it starts inside `backing`; a multiple of 8. */
  byteOffset?: number;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

export class SackScoreboard {
  /** Bytes per connection (the record index); records cost `bytesPerRecord` each. */
  static readonly bytesPerConn = 4;
  static readonly bytesPerRecord = SACK_MAX_RANGES * 4 * 2 + 1 + 4 + RACK_WORDS * 4;

  readonly capacity: number;
  readonly records: number;
  /** update() calls whose blocks were ignored because no record was free. */
  exhausted = 0;
  /** Record index per connection, -1 for none. */
  private readonly rec: Int32Array;
  private readonly lefts: Int32Array;
  private readonly rights: Int32Array;
  /** Ranges held per record. */
  private readonly counts: Uint8Array;
  /** Free records: a stack. */
  private readonly freeRecs: Int32Array;
  private freeTop: number;
  /** RACK_WORDS per record (RK_*). */
  readonly rack: Int32Array;
  /** update() scratch: offsets from SND.UNA, kept sorted. */
  private readonly scratchLo = new Int32Array(SACK_MAX_RANGES + MAX_BLOCKS);
  private readonly scratchHi = new Int32Array(SACK_MAX_RANGES + MAX_BLOCKS);

  static bytesFor(capacity: number, records = capacity): number {
    return align8(4 * capacity) + 2 * align8(4 * SACK_MAX_RANGES * records) + align8(records) + align8(4 * records) + align8(4 * RACK_WORDS * records);
  }

  constructor(capacity: number, opts: SackScoreboardOptions = {}) {
    const records = opts.records ?? capacity;
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError("SackScoreboard capacity must be a positive integer");
    if (!Number.isInteger(records) || records < 0) throw new RangeError("SackScoreboard records must be a non-negative integer");
    const base = opts.byteOffset ?? 0;
    const need = SackScoreboard.bytesFor(capacity, records);
    const buf = opts.backing ?? new ArrayBuffer(base + need);
    if (base % 8 !== 0 || buf.byteLength < base + need) throw new RangeError("SackScoreboard backing too small or misaligned");
    this.capacity = capacity;
    this.records = records;
    let off = base;
    this.rec = new Int32Array(buf, off, capacity);
    off += align8(4 * capacity);
    this.lefts = new Int32Array(buf, off, SACK_MAX_RANGES * records);
    off += align8(4 * SACK_MAX_RANGES * records);
    this.rights = new Int32Array(buf, off, SACK_MAX_RANGES * records);
    off += align8(4 * SACK_MAX_RANGES * records);
    this.counts = new Uint8Array(buf, off, records);
    off += align8(records);
    this.freeRecs = new Int32Array(buf, off, records);
    off += align8(4 * records);
    this.rack = new Int32Array(buf, off, RACK_WORDS * records);
    this.rec.fill(-1);
    for (let i = 0; i < records; i++) this.freeRecs[i] = records - 1 - i;
    this.freeTop = records;
  }

  /** Forget all SACK information (new connection; RFC 6675 5.1 after an RTO); the record goes back to the pool. */
  clear(id: number): void {
    const r = this.rec[id]!;
    if (r < 0) return;
    this.rec[id] = -1;
    this.freeRecs[this.freeTop++] = r;
  }

  /** The connection's record (index into `rack` times RACK_WORDS), -1 when it holds no SACK information. */
  record(id: number): number {
    return this.rec[id]!;
  }

  /** RACK (RFC 8985 6.2): seq is un-SACKed and below the edge RACK has declared lost. */
  rackLost(id: number, seq: number): boolean {
    const rec = this.rec[id]!;
    if (rec < 0) return false;
    if (((seq - this.rack[rec * RACK_WORDS + RK_LOST_END]!) | 0) >= 0) return false;
    return !this.isSacked(id, seq);
  }

  /** Number of SACKed ranges held (0..4). */
  count(id: number): number {
    const r = this.rec[id]!;
    return r < 0 ? 0 : this.counts[r]!;
  }

  /** Records in use (connections holding SACK ranges). */
  recordsInUse(): number {
    return this.records - this.freeTop;
  }

  /** Left edge of range i (0 = lowest). */
  left(id: number, i: number): number {
    return this.lefts[this.rec[id]! * SACK_MAX_RANGES + i]!;
  }

  /** Right edge (exclusive) of range i. */
  right(id: number, i: number): number {
    return this.rights[this.rec[id]! * SACK_MAX_RANGES + i]!;
  }

  /**
   * Merge the SACK blocks of one ACK (RFC 2018 3: [left, right) pairs) into the
   * scoreboard and drop what SND.UNA now covers. Blocks that are empty, end at
   * or below sndUna (old or D-SACK, RFC 2883), or, when sndNxt is given, end
   * beyond it (never sent: bogus) are ignored; a block straddling sndUna is cut
   * at sndUna. At most 8 blocks are read.
   */
  update(id: number, sndUna: number, lefts: Int32Array, rights: Int32Array, n: number, sndNxt?: number): void {
    const lo = this.scratchLo;
    const hi = this.scratchHi;
    let rec = this.rec[id]!;
    let base = rec * SACK_MAX_RANGES;
    const limit = sndNxt === undefined ? 0x7fffffff : (sndNxt - sndUna) | 0;
    let m = 0;
    // Existing ranges, trimmed to SND.UNA (RFC 6675 5: cumulative ACK supersedes SACK).
    const have = rec < 0 ? 0 : this.counts[rec]!;
    for (let i = 0; i < have; i++) {
      const r = (this.rights[base + i]! - sndUna) | 0;
      if (r <= 0) continue;
      let l = (this.lefts[base + i]! - sndUna) | 0;
      if (l < 0) l = 0;
      m = insertSorted(lo, hi, m, l, r);
    }
    if (n > MAX_BLOCKS) n = MAX_BLOCKS;
    for (let i = 0; i < n; i++) {
      const bl = lefts[i]! | 0;
      const br = rights[i]! | 0;
      if (!seqLt(bl, br)) continue; // empty or inverted
      const r = (br - sndUna) | 0;
      if (r <= 0) continue; // at or below SND.UNA: old or D-SACK
      if (r > limit) continue; // beyond SND.NXT
      let l = (bl - sndUna) | 0;
      if (l < 0) l = 0;
      m = insertSorted(lo, hi, m, l, r);
    }
    // Coalesce overlapping and adjacent ranges.
    let k = 0;
    for (let i = 0; i < m; i++) {
      if (k > 0 && lo[i]! <= hi[k - 1]!) {
        if (hi[i]! > hi[k - 1]!) hi[k - 1] = hi[i]!;
      } else {
        lo[k] = lo[i]!;
        hi[k] = hi[i]!;
        k++;
      }
    }
    // Keep the three lowest and the highest.
    if (k > SACK_MAX_RANGES) {
      lo[SACK_MAX_RANGES - 1] = lo[k - 1]!;
      hi[SACK_MAX_RANGES - 1] = hi[k - 1]!;
      k = SACK_MAX_RANGES;
    }
    if (k === 0) {
      this.clear(id);
      return;
    }
    if (rec < 0) {
      if (this.freeTop === 0) {
        this.exhausted++;
        return;
      }
      rec = this.freeRecs[--this.freeTop]!;
      this.rec[id] = rec;
      base = rec * SACK_MAX_RANGES;
      const rb = rec * RACK_WORDS;
      this.rack[rb + RK_LOST_END] = sndUna;
      this.rack[rb + RK_PEND_END] = sndUna;
      this.rack[rb + RK_PEND_US] = 0;
      this.rack[rb + RK_RXT_US] = 0;
      this.rack[rb + RK_RXT_HIGH] = sndUna;
    }
    for (let i = 0; i < k; i++) {
      this.lefts[base + i] = (sndUna + lo[i]!) | 0;
      this.rights[base + i] = (sndUna + hi[i]!) | 0;
    }
    this.counts[rec] = k;
  }

  /** Whether sequence number `seq` lies in a SACKed range. */
  isSacked(id: number, seq: number): boolean {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    for (let i = 0; i < n; i++) {
      if (((seq - this.lefts[base + i]!) | 0) >= 0 && ((seq - this.rights[base + i]!) | 0) < 0) return true;
    }
    return false;
  }

  /** SACKed bytes above sndUna. */
  sackedBytes(id: number, sndUna: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const r = (this.rights[base + i]! - sndUna) | 0;
      if (r <= 0) continue;
      let l = (this.lefts[base + i]! - sndUna) | 0;
      if (l < 0) l = 0;
      sum += r - l;
    }
    return sum;
  }

  /**
   * One past the highest SACKed sequence number (the right edge of the highest
   * range), RFC 6675's "highest octet covered by any received SACK" + 1.
   * Only meaningful when count(id) > 0 (returns 0 otherwise).
   */
  highestSacked(id: number): number {
    const rec = this.rec[id]!;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    return n === 0 ? 0 : this.rights[rec * SACK_MAX_RANGES + n - 1]!;
  }

  /**
   * RFC 6675 IsLost(seq): true when DupThresh (3) discontiguous SACKed ranges lie
   * above seq, or more than (DupThresh - 1) * MSS SACKed bytes do. A SACKed
   * sequence number is not lost.
   */
  isLost(id: number, seq: number, mss: number): boolean {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    let ranges = 0;
    let bytes = 0;
    for (let i = n - 1; i >= 0; i--) {
      const l = this.lefts[base + i]!;
      const r = this.rights[base + i]!;
      if (((r - seq) | 0) <= 0) break; // this and lower ranges end at or below seq
      if (((l - seq) | 0) <= 0) return false; // seq is SACKed
      ranges++;
      bytes += (r - l) | 0;
    }
    return ranges >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss;
  }

  /**
   * RFC 6675 SetPipe(): bytes estimated in the network. For every un-SACKed byte
   * in [sndUna, sndNxt): one if it is not lost (IsLost), plus one if it has been
   * retransmitted (below highRxt, the end of retransmitted data). Computed hole
   * by hole: every byte of a hole has the same SACKed data above it, so IsLost
   * is the same for the whole hole.
   */
  pipe(id: number, sndUna: number, sndNxt: number, mss: number, highRxt: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    const end = (sndNxt - sndUna) | 0;
    if (end <= 0) return 0;
    let rxt = (highRxt - sndUna) | 0;
    if (rxt < 0) rxt = 0;
    if (rxt > end) rxt = end;
    const first = this.firstAbove(id, sndUna);
    const rackEnd = rec < 0 ? 0 : (this.rack[rec * RACK_WORDS + RK_LOST_END]! - sndUna) | 0;
    // SACKed bytes above the current hole.
    let above = this.sackedBytes(id, sndUna);
    let pipe = 0;
    let holeStart = 0;
    for (let i = first; i <= n; i++) {
      let holeEnd: number;
      let lost: boolean;
      if (i < n) {
        holeEnd = (this.lefts[base + i]! - sndUna) | 0;
        lost = n - i >= DUP_THRESH || above > (DUP_THRESH - 1) * mss || holeEnd <= rackEnd;
      } else {
        holeEnd = end; // above the highest SACK: nothing SACKed above, never lost
        lost = false;
      }
      if (holeEnd > end) holeEnd = end;
      if (holeEnd > holeStart) {
        if (!lost) pipe += holeEnd - holeStart;
        const r = rxt < holeEnd ? rxt : holeEnd;
        if (r > holeStart) pipe += r - holeStart;
      }
      if (i < n) {
        let l = (this.lefts[base + i]! - sndUna) | 0;
        if (l < 0) l = 0;
        const r = (this.rights[base + i]! - sndUna) | 0;
        above -= r - l;
        holeStart = r;
      }
    }
    return pipe;
  }

  /**
   * RFC 6675 NextSeg(): the next segment to send during SACK recovery, written
   * as out[0] = seq, out[1] = length (and out[2] = the rule, 1..3, when out has
   * room). Returns false when there is none.
   *   (1) the lowest un-SACKed seq >= highRxt below the highest SACK that IsLost:
   *       up to one MSS of it, not crossing into SACKed data;
   *   (2) else, if `canSendNew` (the caller has unsent data the receiver window
   *       admits; default true): new data, out = [sndNxt, mss];
   *   (3) else the lowest un-SACKed seq >= highRxt below the highest SACK, even
   *       if not lost, up to one MSS.
   * A caller that handles new data itself can stop when out[0] == sndNxt.
   */
  nextSeg(id: number, sndUna: number, sndNxt: number, highRxt: number, mss: number, out: Int32Array, canSendNew = true): boolean {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    let start = (highRxt - sndUna) | 0;
    if (start < 0) start = 0;
    let above = this.sackedBytes(id, sndUna);
    const rackEnd = rec < 0 ? 0 : (this.rack[rec * RACK_WORDS + RK_LOST_END]! - sndUna) | 0;
    // The first hole (below the highest SACK) that reaches past `start`.
    let candSeq = 0;
    let candLen = 0;
    let candLost = false;
    let holeStart = 0;
    for (let i = this.firstAbove(id, sndUna); i < n; i++) {
      const holeEnd = (this.lefts[base + i]! - sndUna) | 0;
      const s = holeStart > start ? holeStart : start;
      if (holeEnd > s) {
        const len = holeEnd - s;
        candSeq = (sndUna + s) | 0;
        candLen = len < mss ? len : mss;
        // IsLost is the same for every byte of the hole; holes higher up are lost only if this one is.
        candLost = n - i >= DUP_THRESH || above > (DUP_THRESH - 1) * mss || holeEnd <= rackEnd;
        break;
      }
      const r = (this.rights[base + i]! - sndUna) | 0;
      above -= r - (holeEnd > 0 ? holeEnd : 0);
      holeStart = r;
    }
    if (candLen > 0 && candLost) return emit(out, candSeq, candLen, 1);
    if (canSendNew) return emit(out, sndNxt, mss, 2);
    if (candLen > 0) return emit(out, candSeq, candLen, 3);
    return false;
  }

  /**
   * Going back after an RTO with the scoreboard kept (RFC 6675 5.1, output.ts): the end of the
   * SACKed range holding `seq` (where resending continues), or `seq` when it is not SACKed.
   */
  sackedEnd(id: number, seq: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    for (let i = 0; i < n; i++) {
      if (((seq - this.lefts[base + i]!) | 0) >= 0 && ((seq - this.rights[base + i]!) | 0) < 0) return this.rights[base + i]!;
    }
    return seq;
  }

  /**
   * The end (exclusive) of the highest un-SACKed stretch below sndMax: sndMax unless the
   * top is SACKed, then the left edge of the SACKed run ending there; sndUna when
   * everything above it is SACKed.
   */
  highestUnsacked(id: number, sndUna: number, sndMax: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    let e = sndMax;
    for (let i = n - 1; i >= 0; i--) {
      const l = this.lefts[base + i]!;
      const r = this.rights[base + i]!;
      if (((r - e) | 0) < 0) break; // ends below e: e is un-SACKed
      if (((l - e) | 0) < 0) e = l;
    }
    return ((e - sndUna) | 0) < 0 ? sndUna : e;
  }

  /** The highest right edge of a SACKed range inside (from, to), or -1 when none. */
  lastRightIn(id: number, from: number, to: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    for (let i = n - 1; i >= 0; i--) {
      const r = this.rights[base + i]!;
      if (((r - from) | 0) > 0 && ((r - to) | 0) < 0) return r;
    }
    return -1;
  }

  /** Bytes from `seq` (not SACKed) to the next SACKed range above it, or -1 when none lies above. */
  holeAfter(id: number, seq: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    for (let i = 0; i < n; i++) {
      const d = (this.lefts[base + i]! - seq) | 0;
      if (d > 0) return d;
    }
    return -1;
  }

  /** SACKed bytes in [sndUna, seq). */
  sackedBelow(id: number, sndUna: number, seq: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    const end = (seq - sndUna) | 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let l = (this.lefts[base + i]! - sndUna) | 0;
      let r = (this.rights[base + i]! - sndUna) | 0;
      if (l < 0) l = 0;
      if (r > end) r = end;
      if (r > l) sum += r - l;
    }
    return sum;
  }

  /** Index of the lowest range that ends above sndUna (ranges are sorted; lower ones are stale). */
  private firstAbove(id: number, sndUna: number): number {
    const rec = this.rec[id]!;
    const base = rec * SACK_MAX_RANGES;
    const n = rec < 0 ? 0 : this.counts[rec]!;
    let i = 0;
    while (i < n && ((this.rights[base + i]! - sndUna) | 0) <= 0) i++;
    return i;
  }

}

/** Insert [l, r) into the sorted (by l) scratch lists of length m; returns m + 1. */
function insertSorted(lo: Int32Array, hi: Int32Array, m: number, l: number, r: number): number {
  let j = m;
  while (j > 0 && lo[j - 1]! > l) {
    lo[j] = lo[j - 1]!;
    hi[j] = hi[j - 1]!;
    j--;
  }
  lo[j] = l;
  hi[j] = r;
  return m + 1;
}

function emit(out: Int32Array, seq: number, len: number, rule: number): boolean {
  out[0] = seq;
  out[1] = len;
  if (out.length > 2) out[2] = rule;
  return true;
}

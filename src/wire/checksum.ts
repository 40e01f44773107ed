/**
 * The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental
 * update), RFC 9293 3.1 and RFC 768 (the TCP/UDP pseudo header).
 *
 * Conventions used across the stack:
 * - A "partial sum" is the ones-complement sum of big-endian 16-bit words,
 *   kept unfolded (end-around carries not yet applied) as a non-negative
 *   integer below 2^31. Partial sums of consecutive byte ranges add up
 *   (RFC 1071 (2)(C) "parallel summation"), provided every range but the last
 *   has an even length.
 * - checksumFold() turns a partial sum into the 16-bit value written into a
 *   header (the ones complement of the folded sum). A received header whose
 *   covered bytes include its checksum verifies when the fold yields 0.
 *
 * Fast path (FACTS.md): the bulk of the range is summed as native-order 16-bit
 * words through a Uint16Array over the whole underlying ArrayBuffer, unrolled
 * 16 words per step into four int32 accumulators (measured faster than two here),
 * and byte-swapped once at the end. This is exact on a
 * little-endian host because the ones-complement sum is byte-order independent
 * (RFC 1071 (2)(B)). The Uint16Array is created once per distinct buffer and
 * cached (see wordsFor: the stack uses one buffer, the device mem); a range starting at
 * an odd address is handled by taking its first byte alone, which leaves the
 * rest word aligned and its native sum already in network byte order
 * (RFC 1071 (2)(B): swapping bytes before and after summing is the same).
 */

import { nativeSum } from "../mem/native-mem";

/** True on little-endian hosts (x86, arm64): the Uint16Array fast path applies. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Below this many bytes the plain byte loop is as fast as the fast path's setup. */
const SMALL_BYTES = 32;
/** From this many bytes a native sum (src/mem/native-mem.ts, when installed) beats the word loop. */
const NATIVE_BYTES = 128;

/** Words summed per chunk before folding: each accumulator pair adds at most 16384 * 0xffff < 2^31. */
const CHUNK_WORDS = 16384;

/**
 * A few buffers' aligned word views, most recent first checked by identity.
 * A stack thread uses one buffer (its device's `mem`); several entries keep
 * netsim (two devices in one process) and tests from re-creating views per call.
 */
const CACHE_SIZE = 4;
const cacheBufs: (Uint8Array | null)[] = [null, null, null, null];
const cacheWords: Uint16Array[] = [new Uint16Array(0), new Uint16Array(0), new Uint16Array(0), new Uint16Array(0)];
/** The Uint8Array's byteOffset: byte `off` of the Uint8Array is byte base + off of the ArrayBuffer. */
const cacheBase: number[] = [0, 0, 0, 0];
let cacheNext = 0;
/** Set by wordsFor(): the base of the returned word view's buffer. */
let foundBase = 0;

/** Fold end-around carries until the sum fits in 16 bits (RFC 1071 (4.1) "fold 32-bit sum to 16 bits"). */
function fold16(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Reduce an arbitrary non-negative partial sum (possibly above 2^32) to below 2^17 without changing it mod 0xffff. */
function reduce(sum: number): number {
  while (sum > 0x7fffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return (sum & 0xffff) + (sum >>> 16);
}

/** Byte loop over [off, off+len): the reference-shaped path for short ranges and big-endian hosts. */
function sumBytes(buf: Uint8Array, off: number, len: number): number {
  let sum = 0;
  const end = off + (len & ~1);
  let i = off;
  for (; i < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if ((len & 1) !== 0) sum += buf[i]! << 8; // RFC 1071 (4.1): pad the odd byte with zero
  return sum;
}

function wordsFor(buf: Uint8Array): Uint16Array {
  for (let k = 0; k < CACHE_SIZE; k++) {
    if (cacheBufs[k] === buf) {
      foundBase = cacheBase[k]!;
      return cacheWords[k]!;
    }
  }
  const k = cacheNext;
  cacheNext = (k + 1) % CACHE_SIZE;
  const ab = buf.buffer;
  cacheBufs[k] = buf;
  cacheWords[k] = new Uint16Array(ab, 0, ab.byteLength >>> 1);
  cacheBase[k] = buf.byteOffset;
  foundBase = buf.byteOffset;
  return cacheWords[k]!;
}

/**
 * Native-order sum of `n` aligned 16-bit words starting at word index `w`.
 * Returns a value below 2^17 (folded per chunk so int32 accumulators never overflow).
 */
function sumWords(words: Uint16Array, w: number, n: number): number {
  let total = 0;
  while (n > 0) {
    const chunk = n < CHUNK_WORDS ? n : CHUNK_WORDS;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    let i = w;
    const end16 = w + (chunk & ~15);
    for (; i < end16; i += 16) {
      a = (a + words[i]! + words[i + 1]! + words[i + 2]! + words[i + 3]!) | 0;
      b = (b + words[i + 4]! + words[i + 5]! + words[i + 6]! + words[i + 7]!) | 0;
      c = (c + words[i + 8]! + words[i + 9]! + words[i + 10]! + words[i + 11]!) | 0;
      d = (d + words[i + 12]! + words[i + 13]! + words[i + 14]! + words[i + 15]!) | 0;
    }
    const end = w + chunk;
    for (; i < end; i++) a = (a + words[i]!) | 0;
    a = (a + c) | 0;
    b = (b + d) | 0;
    total = fold16(total + fold16(a) + fold16(b));
    w += chunk;
    n -= chunk;
  }
  return total;
}

/**
 * Ones-complement accumulate the big-endian 16-bit words of buf[off, off+len)
 * onto `initial` (a previous partial sum, or 0). An odd trailing byte is
 * padded with a zero byte (RFC 1071 (4.1)). Returns an unfolded partial sum
 * (below 2^17) to pass as `initial` again or to checksumFold().
 */
export function checksumPartial(buf: Uint8Array, off: number, len: number, initial: number): number {
  if (len < SMALL_BYTES || !LITTLE_ENDIAN) return reduce(initial + sumBytes(buf, off, len));
  if (len >= NATIVE_BYTES) {
    const ns = nativeSum(buf, off, len);
    if (ns >= 0) return reduce(initial + ns);
  }
  const words = wordsFor(buf);
  const abs = foundBase + off;
  let sum: number;
  if ((abs & 1) === 0) {
    // Even address: words[k] holds (b1 << 8 | b0) for logical word (b0 << 8 | b1); swap the folded sum once.
    const n = len >>> 1;
    const s = sumWords(words, abs >>> 1, n);
    const f = fold16(s);
    sum = ((f & 0xff) << 8) | (f >>> 8);
    if ((len & 1) !== 0) sum += buf[off + len - 1]! << 8;
  } else {
    // Odd address: the first byte is the high byte of logical word 0; the rest starts aligned,
    // and its native little-endian words are exactly the logical words shifted by one byte,
    // which contribute to the big-endian sum unswapped (b1 + (b2 << 8) + b3 + (b4 << 8) ...).
    const n = (len - 1) >>> 1;
    sum = (buf[off]! << 8) + sumWords(words, (abs + 1) >>> 1, n);
    // A byte left after the aligned words sits at logical odd position len-1 (len even): low byte.
    if ((len & 1) === 0) sum += buf[off + len - 1]!;
  }
  return reduce(initial + sum);
}

/**
 * The same sum as checksumPartial() read through a DataView: for writers that
 * hold only a DataView (short headers; 5-9 ns for 20 bytes either way).
 */
export function checksumPartialDv(dv: DataView, off: number, len: number, initial: number): number {
  let sum = 0;
  const end = off + (len & ~1);
  let i = off;
  for (; i < end; i += 2) sum += dv.getUint16(i);
  if ((len & 1) !== 0) sum += dv.getUint8(i) << 8;
  return reduce(initial + sum);
}

/** Fold a partial sum to 16 bits and complement it: the value to write into a checksum field. */
export function checksumFold(sum: number): number {
  return ~fold16(reduce(sum)) & 0xffff;
}

/** The Internet checksum of buf[off, off+len): checksumFold(checksumPartial(buf, off, len, 0)). */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  return checksumFold(checksumPartial(buf, off, len, 0));
}

/**
 * Partial sum of the IPv4 pseudo header (RFC 9293 3.1 "TCP Checksum", RFC 768):
 * source address, destination address, zero, protocol, L4 length (header + data).
 * Addresses are IPv4 addresses as uint32 values (int32 bit patterns work too).
 */
export function pseudoHeaderSum(srcIp: number, dstIp: number, proto: number, l4Len: number): number {
  return (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + (proto & 0xff) + (l4Len & 0xffff);
}

/**
 * Incremental update of a checksum field when one 16-bit word of the covered
 * data changes from `oldWord` to `newWord` (RFC 1624 (3), eqn. 3: HC' = ~(~HC + ~m + m')).
 */
export function checksumUpdate16(check: number, oldWord: number, newWord: number): number {
  const sum = (~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold16(sum) & 0xffff;
}

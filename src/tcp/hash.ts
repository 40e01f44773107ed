/**
 * Keyed 32-bit hashes of a few 32-bit words, for the places where TCP needs a
 * secret pseudo-random function: initial sequence numbers (RFC 6528 3, "F()"),
 * SYN cookies and ephemeral port selection (RFC 6056 3.3.4, "F()" and "G()").
 *
 * Two PRFs from Aumasson and Bernstein's SipHash family, both on int32
 * arithmetic with no BigInt and no allocation:
 *   - SipHash-2-4 with a 128-bit key (4 words), its 64-bit result truncated to
 *     the low 32 bits: `keyedHash`. RFC 6528 3 recommends a secret of at least
 *     128 bits, so this is the one TCP uses.
 *   - HalfSipHash-2-4 with a 64-bit key (2 words) and a 32-bit result:
 *     `halfSipHash24`, about twice as fast, for uses that can live with a
 *     64-bit key (hash tables hardened against flooding).
 *
 * The message is `n` (0..4) little-endian 32-bit words, i.e. exactly the bytes
 * the reference implementations hash when given 4*n bytes, so both are checked
 * against the published reference vectors (key 00 01 .. , message 00 01 ..).
 * Keys are Uint32Array words in little-endian byte order (word 0 = key bytes 0..3).
 */

/*
 * SipHash-2-4 on 64-bit lanes kept as (hi, lo) int32 pairs. Additions carry
 * with the int32-only formula carry = ((a & b) | ((a | b) & ~sum)) >>> 31.
 * Blocks 0..full-1 are message words in pairs, block `full` holds a trailing
 * odd word and the length byte, and the last pass is the finalization
 * (v2 ^= 0xff, 4 rounds).
 */

/**
 * SipHash-2-4 over `n` words (n in 0..4) with a 128-bit key (key[0..3]).
 * Writes the 64-bit result as [low word, high word] into out (uint32 values)
 * and returns the low word.
 */
export function sipHash24(key: Uint32Array, n: number, w0: number, w1: number, w2: number, w3: number, out: Uint32Array): number {
  const k0lo = key[0]! | 0;
  const k0hi = key[1]! | 0;
  const k1lo = key[2]! | 0;
  const k1hi = key[3]! | 0;
  // "somepseudorandomlygeneratedbytes" xored with the key halves.
  let v0lo = k0lo ^ 0x70736575;
  let v0hi = k0hi ^ 0x736f6d65;
  let v1lo = k1lo ^ 0x6e646f6d;
  let v1hi = k1hi ^ 0x646f7261;
  let v2lo = k0lo ^ 0x6e657261;
  let v2hi = k0hi ^ 0x6c796765;
  let v3lo = k1lo ^ 0x79746573;
  let v3hi = k1hi ^ 0x74656462;
  const full = n >> 1; // two words make one 64-bit block
  for (let b = 0; b <= full + 1; b++) {
    let mlo: number;
    let mhi: number;
    let rounds = 2; // c = 2 compression rounds per block
    if (b < full) {
      mlo = b === 0 ? w0 | 0 : w2 | 0;
      mhi = b === 0 ? w1 | 0 : w3 | 0;
    } else if (b === full) {
      // Last block: a trailing odd word in the low half, the length in bytes in the top byte.
      mlo = (n & 1) === 0 ? 0 : n === 1 ? w0 | 0 : w2 | 0;
      mhi = (n * 4) << 24;
    } else {
      mlo = 0;
      mhi = 0;
      v2lo ^= 0xff;
      rounds = 4; // d = 4 finalization rounds
    }
    v3lo ^= mlo;
    v3hi ^= mhi;
    for (let r = 0; r < rounds; r++) {
      // v0 += v1
      let lo = (v0lo + v1lo) | 0;
      v0hi = (v0hi + v1hi + (((v0lo & v1lo) | ((v0lo | v1lo) & ~lo)) >>> 31)) | 0;
      v0lo = lo;
      // v1 = rotl(v1, 13) ^ v0
      let t = v1hi;
      v1hi = ((v1hi << 13) | (v1lo >>> 19)) ^ v0hi;
      v1lo = ((v1lo << 13) | (t >>> 19)) ^ v0lo;
      // v0 = rotl(v0, 32)
      t = v0hi;
      v0hi = v0lo;
      v0lo = t;
      // v2 += v3
      lo = (v2lo + v3lo) | 0;
      v2hi = (v2hi + v3hi + (((v2lo & v3lo) | ((v2lo | v3lo) & ~lo)) >>> 31)) | 0;
      v2lo = lo;
      // v3 = rotl(v3, 16) ^ v2
      t = v3hi;
      v3hi = ((v3hi << 16) | (v3lo >>> 16)) ^ v2hi;
      v3lo = ((v3lo << 16) | (t >>> 16)) ^ v2lo;
      // v0 += v3
      lo = (v0lo + v3lo) | 0;
      v0hi = (v0hi + v3hi + (((v0lo & v3lo) | ((v0lo | v3lo) & ~lo)) >>> 31)) | 0;
      v0lo = lo;
      // v3 = rotl(v3, 21) ^ v0
      t = v3hi;
      v3hi = ((v3hi << 21) | (v3lo >>> 11)) ^ v0hi;
      v3lo = ((v3lo << 21) | (t >>> 11)) ^ v0lo;
      // v2 += v1
      lo = (v2lo + v1lo) | 0;
      v2hi = (v2hi + v1hi + (((v2lo & v1lo) | ((v2lo | v1lo) & ~lo)) >>> 31)) | 0;
      v2lo = lo;
      // v1 = rotl(v1, 17) ^ v2
      t = v1hi;
      v1hi = ((v1hi << 17) | (v1lo >>> 15)) ^ v2hi;
      v1lo = ((v1lo << 17) | (t >>> 15)) ^ v2lo;
      // v2 = rotl(v2, 32)
      t = v2hi;
      v2hi = v2lo;
      v2lo = t;
    }
    v0lo ^= mlo;
    v0hi ^= mhi;
  }
  const outLo = (v0lo ^ v1lo ^ v2lo ^ v3lo) >>> 0;
  out[0] = outLo;
  out[1] = (v0hi ^ v1hi ^ v2hi ^ v3hi) >>> 0;
  return outLo;
}

const scratch64 = new Uint32Array(2);

/**
 * The keyed hash TCP uses: SipHash-2-4 (128-bit key, key[0..3]) of the words
 * w0..w3, truncated to the low 32 bits. Returns a uint32. Always hashes all four
 * words (pass 0 for unused ones; give each use its own constant in a spare word
 * so two uses of one key never collide by construction).
 */
export function keyedHash(key: Uint32Array, w0: number, w1: number, w2: number, w3: number): number {
  return sipHash24(key, 4, w0, w1, w2, w3, scratch64);
}

/**
 * HalfSipHash-2-4 over `n` words (n in 0..4) with a 64-bit key (key[0..1]),
 * 32-bit output. Returns a uint32.
 */
export function halfSipHash24(key: Uint32Array, n: number, w0: number, w1: number, w2: number, w3: number): number {
  const k0 = key[0]! | 0;
  const k1 = key[1]! | 0;
  let v0 = k0;
  let v1 = k1;
  let v2 = k0 ^ 0x6c796765;
  let v3 = k1 ^ 0x74656462;
  // Blocks 0..n-1 are the words, block n the length byte, then finalization.
  for (let b = 0; b <= n + 1; b++) {
    let m: number;
    let rounds = 2;
    if (b < n) {
      m = b === 0 ? w0 | 0 : b === 1 ? w1 | 0 : b === 2 ? w2 | 0 : w3 | 0;
    } else if (b === n) {
      m = (n * 4) << 24;
    } else {
      m = 0;
      v2 ^= 0xff;
      rounds = 4;
    }
    v3 ^= m;
    for (let r = 0; r < rounds; r++) {
      // HalfSipRound: rotations 5, 16, 8, 7, 13, 16.
      v0 = (v0 + v1) | 0;
      v1 = ((v1 << 5) | (v1 >>> 27)) ^ v0;
      v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0;
      v3 = ((v3 << 8) | (v3 >>> 24)) ^ v2;
      v0 = (v0 + v3) | 0;
      v3 = ((v3 << 7) | (v3 >>> 25)) ^ v0;
      v2 = (v2 + v1) | 0;
      v1 = ((v1 << 13) | (v1 >>> 19)) ^ v2;
      v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
  }
  return (v1 ^ v3) >>> 0;
}

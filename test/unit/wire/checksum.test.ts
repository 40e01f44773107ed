import { describe, expect, test } from "bun:test";
import {
  checksumFold,
  checksumPartial,
  checksumPartialDv,
  checksumUpdate16,
  internetChecksum,
  pseudoHeaderSum,
} from "../../../src/wire/checksum";

/** The textbook definition: 32-bit sum of big-endian words, odd byte padded, fold, complement. */
function referenceChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < len; i += 2) {
    const hi = buf[off + i]!;
    const lo = i + 1 < len ? buf[off + i + 1]! : 0;
    sum += (hi << 8) | lo;
  }
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("RFC 1071 example", () => {
  // RFC 1071 (3) "Numerical Examples": bytes 00 01 f2 03 f4 f5 f6 f7 sum to 2ddf0, folded ddf2.
  const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);

  test("the folded sum is ddf2 and the checksum its complement 220d", () => {
    expect(internetChecksum(bytes, 0, 8)).toBe(0x220d);
    expect(checksumFold(checksumPartial(bytes, 0, 8, 0))).toBe(0x220d);
    expect(~checksumFold(checksumPartial(bytes, 0, 8, 0)) & 0xffff).toBe(0xddf2);
  });

  test("byte-swapped data gives the byte-swapped sum (RFC 1071 (2)(B))", () => {
    const swapped = new Uint8Array([0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6]);
    expect(internetChecksum(swapped, 0, 8)).toBe(0x0d22);
  });

  test("partial sums of even-length pieces add up (RFC 1071 (2)(C))", () => {
    const s = checksumPartial(bytes, 4, 4, checksumPartial(bytes, 0, 4, 0));
    expect(checksumFold(s)).toBe(0x220d);
  });

  test("a buffer carrying its own checksum folds to 0", () => {
    const withSum = new Uint8Array(10);
    withSum.set(bytes, 0);
    withSum[8] = 0x22;
    withSum[9] = 0x0d;
    expect(internetChecksum(withSum, 0, 10)).toBe(0);
  });
});

describe("edge values", () => {
  test("empty range: partial 0, checksum ffff", () => {
    const b = new Uint8Array(4);
    expect(checksumPartial(b, 0, 0, 0)).toBe(0);
    expect(internetChecksum(b, 0, 0)).toBe(0xffff);
  });

  test("odd trailing byte is padded with zero (RFC 1071 (4.1))", () => {
    const b = new Uint8Array([0x12, 0x34, 0x56]);
    expect(internetChecksum(b, 0, 3)).toBe(~(0x1234 + 0x5600) & 0xffff);
  });

  test("all-ones data folds to ffff and checksums to 0", () => {
    const b = new Uint8Array(1500).fill(0xff);
    for (let off = 0; off < 4; off++) expect(internetChecksum(b, off, 1400)).toBe(0);
  });

  test("a large initial sum (above 2^32) is folded, not truncated", () => {
    const b = new Uint8Array([0, 1]);
    const big = 0xffff * 0x20001 + 5; // == 5 mod 0xffff, and well above 2^32
    expect(checksumFold(checksumPartial(b, 0, 2, big))).toBe(~(5 + 1) & 0xffff);
  });

  test("partial sums stay small enough to chain", () => {
    const b = new Uint8Array(4096).fill(0xff);
    let s = 0;
    for (let k = 0; k < 1000; k++) s = checksumPartial(b, 0, 4096, s);
    expect(s).toBeLessThan(0x20000);
    expect(checksumFold(s)).toBe(0);
  });
});

describe("against the reference implementation", () => {
  test("random data, random odd/even offsets and lengths, fresh and subarray buffers", () => {
    const r = rng(1071);
    const backing = new Uint8Array(8192 + 3);
    for (let i = 0; i < backing.length; i++) backing[i] = (r() * 256) | 0;
    // Views with even and odd byteOffset over the same memory exercise the aligned-word cache.
    const views = [backing, backing.subarray(1), backing.subarray(2), backing.subarray(3)];
    for (let trial = 0; trial < 4000; trial++) {
      const buf = views[trial & 3]!;
      const len = trial % 5 === 0 ? (r() * 40) | 0 : (r() * 3000) | 0;
      const off = (r() * (buf.length - len)) | 0;
      const init = trial % 3 === 0 ? (r() * 0x7fffffff) | 0 : 0;
      const want = referenceChecksum(buf, off, len, init);
      expect(checksumFold(checksumPartial(buf, off, len, init))).toBe(want);
      expect(checksumFold(checksumPartialDv(new DataView(buf.buffer, buf.byteOffset), off, len, init))).toBe(want);
    }
  });

  test("ranges longer than one accumulation chunk (128 KiB+), at both parities", () => {
    const r = rng(7);
    const buf = new Uint8Array(300001);
    for (let i = 0; i < buf.length; i++) buf[i] = r() < 0.5 ? 0xff : (r() * 256) | 0;
    for (const [off, len] of [[0, 300000], [1, 300000], [3, 131073], [2, 262144]] as const) {
      expect(internetChecksum(buf, off, len)).toBe(referenceChecksum(buf, off, len));
    }
  });

  test("splitting at any even boundary gives the same result", () => {
    const r = rng(99);
    const buf = new Uint8Array(1600);
    for (let i = 0; i < buf.length; i++) buf[i] = (r() * 256) | 0;
    const whole = internetChecksum(buf, 5, 1501);
    for (let cut = 0; cut <= 1500; cut += 34) {
      expect(checksumFold(checksumPartial(buf, 5 + cut, 1501 - cut, checksumPartial(buf, 5, cut, 0)))).toBe(whole);
    }
  });
});

describe("pseudo header and incremental update", () => {
  test("pseudoHeaderSum equals the sum of the 12 pseudo-header bytes (RFC 9293 3.1)", () => {
    const src = 0xc0a80001;
    const dst = 0x0a4d0002;
    const ph = new Uint8Array([0xc0, 0xa8, 0x00, 0x01, 0x0a, 0x4d, 0x00, 0x02, 0x00, 6, 0x05, 0xdc]);
    expect(checksumFold(pseudoHeaderSum(src, dst, 6, 1500))).toBe(internetChecksum(ph, 0, 12));
    // int32 bit patterns of the same addresses give the same sum
    expect(pseudoHeaderSum(src | 0, dst | 0, 6, 1500)).toBe(pseudoHeaderSum(src, dst, 6, 1500));
  });

  test("checksumUpdate16 matches a full recomputation (RFC 1624 eqn. 3)", () => {
    const r = rng(1624);
    const buf = new Uint8Array(40);
    for (let trial = 0; trial < 500; trial++) {
      for (let i = 0; i < 40; i++) buf[i] = (r() * 256) | 0;
      const before = internetChecksum(buf, 0, 40);
      const w = ((r() * 20) | 0) * 2;
      const oldWord = (buf[w]! << 8) | buf[w + 1]!;
      const newWord = (r() * 65536) | 0;
      buf[w] = newWord >>> 8;
      buf[w + 1] = newWord & 0xff;
      const after = internetChecksum(buf, 0, 40);
      const inc = checksumUpdate16(before, oldWord, newWord);
      // +0 and -0 (0000/ffff) are the same ones-complement number
      expect(inc === after || (inc ^ after) === 0xffff).toBe(true);
    }
  });
});

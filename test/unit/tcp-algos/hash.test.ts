import { describe, expect, test } from "bun:test";
import { halfSipHash24, keyedHash, sipHash24 } from "../../../src/tcp/hash";

// Reference key 00 01 .. 0f and messages 00 01 .. (len-1), as little-endian words.
const KEY = new Uint32Array([0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c]);
const W = [0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c];

// Published SipHash-2-4 64-bit vectors (reference implementation, vectors.h) for 0, 4, 8, 12, 16 bytes.
const SIP64 = [
  [0x726fdb47, 0xdd0e0e31],
  [0xcf2794e0, 0x277187b7],
  [0x93f5f579, 0x9a932462],
  [0x751e8fbc, 0x860ee5fb],
  [0x3f2acc7f, 0x57c29bdb],
];
// Published HalfSipHash-2-4 32-bit vectors for 0, 4, 8, 12, 16 bytes.
const HSIP32 = [0x5b9f35a9, 0x89466e2a, 0x8f84b8d0, 0x2f87f057, 0x84acb5d9];

/** Straightforward BigInt SipHash-2-4 over bytes, as an independent reference (test only). */
function sipRef(key: Uint8Array, msg: Uint8Array): bigint {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M;
  const u64 = (b: Uint8Array, o: number) => {
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[o + i]!);
    return v;
  };
  const k0 = u64(key, 0);
  const k1 = u64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const full = msg.length - (msg.length % 8);
  for (let o = 0; o < full; o += 8) {
    const m = u64(msg, o);
    v3 ^= m; round(); round(); v0 ^= m;
  }
  let b = BigInt(msg.length & 0xff) << 56n;
  for (let i = full; i < msg.length; i++) b |= BigInt(msg[i]!) << BigInt(8 * (i - full));
  v3 ^= b; round(); round(); v0 ^= b;
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

function wordsToBytes(words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  return b;
}

describe("SipHash-2-4 (128-bit key)", () => {
  test("matches the published reference vectors for 0..16 byte messages", () => {
    const out = new Uint32Array(2);
    for (let n = 0; n <= 4; n++) {
      const lo = sipHash24(KEY, n, W[0]!, W[1]!, W[2]!, W[3]!, out);
      expect([out[1], out[0]]).toEqual(SIP64[n]!);
      expect(lo).toBe(SIP64[n]![1]!);
    }
  });

  test("matches a BigInt reference on random keys and words", () => {
    let s = 12345;
    const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
    const out = new Uint32Array(2);
    for (let iter = 0; iter < 300; iter++) {
      const keyWords = [rnd(), rnd(), rnd(), rnd()];
      const key = new Uint32Array(keyWords);
      const n = iter % 5;
      const w = [rnd(), rnd(), rnd(), rnd()];
      sipHash24(key, n, w[0]!, w[1]!, w[2]!, w[3]!, out);
      const ref = sipRef(wordsToBytes(keyWords), wordsToBytes(w.slice(0, n)));
      expect(BigInt(out[1]!) * 2n ** 32n + BigInt(out[0]!)).toBe(ref);
    }
  });

  test("keyedHash is the low word of SipHash over all four words", () => {
    const out = new Uint32Array(2);
    expect(keyedHash(KEY, W[0]!, W[1]!, W[2]!, W[3]!)).toBe(SIP64[4]![1]!);
    expect(keyedHash(KEY, 1, 2, 3, 4)).toBe(sipHash24(KEY, 4, 1, 2, 3, 4, out));
  });

  test("keyedHash is a uint32 and depends on key and every word", () => {
    const base = keyedHash(KEY, 10, 20, 30, 40);
    expect(base).toBeGreaterThanOrEqual(0);
    expect(base).toBeLessThan(2 ** 32);
    expect(keyedHash(KEY, 11, 20, 30, 40)).not.toBe(base);
    expect(keyedHash(KEY, 10, 21, 30, 40)).not.toBe(base);
    expect(keyedHash(KEY, 10, 20, 31, 40)).not.toBe(base);
    expect(keyedHash(KEY, 10, 20, 30, 41)).not.toBe(base);
    expect(keyedHash(new Uint32Array([1, 2, 3, 5]), 10, 20, 30, 40)).not.toBe(base);
  });
});

describe("HalfSipHash-2-4 (64-bit key, 32-bit output)", () => {
  test("matches the published reference vectors for 0..16 byte messages", () => {
    for (let n = 0; n <= 4; n++) {
      expect(halfSipHash24(KEY, n, W[0]!, W[1]!, W[2]!, W[3]!)).toBe(HSIP32[n]!);
    }
  });

  test("unused words do not affect the result", () => {
    expect(halfSipHash24(KEY, 2, W[0]!, W[1]!, 999, 888)).toBe(HSIP32[2]!);
  });
});

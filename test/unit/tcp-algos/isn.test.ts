import { describe, expect, test } from "bun:test";
import { IsnGenerator } from "../../../src/tcp/isn";

const SECRET = new Uint32Array([0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d]);
const A = 0x0a000001; // 10.0.0.1
const B = 0x0a000002;

describe("RFC 6528 ISN = M + F(4-tuple, secret)", () => {
  test("M ticks once per 4 microseconds", () => {
    const g = new IsnGenerator(SECRET);
    const t = 1_000_000_000;
    const i0 = g.isn(A, 80, B, 40000, t);
    expect((g.isn(A, 80, B, 40000, t + 3) - i0) | 0).toBe(0);
    expect((g.isn(A, 80, B, 40000, t + 4) - i0) | 0).toBe(1);
    expect((g.isn(A, 80, B, 40000, t + 4_000_000) - i0) | 0).toBe(1_000_000);
  });

  test("the result is an int32 and wraps modulo 2^32 (M period ~4.77 h)", () => {
    const g = new IsnGenerator(SECRET);
    const t = 2 ** 45; // ~1.1 years of microseconds
    const v = g.isn(A, 80, B, 40000, t);
    expect(v).toBe(v | 0);
    expect(g.isn(A, 80, B, 40000, t + 4 * 2 ** 32)).toBe(v);
  });

  test("deterministic for one secret and 4-tuple", () => {
    expect(new IsnGenerator(SECRET).isn(A, 80, B, 40000, 123456)).toBe(new IsnGenerator(SECRET).isn(A, 80, B, 40000, 123456));
  });

  test("F depends on every element of the 4-tuple", () => {
    const g = new IsnGenerator(SECRET);
    const v = g.isn(A, 80, B, 40000, 0);
    expect(g.isn(A + 1, 80, B, 40000, 0)).not.toBe(v);
    expect(g.isn(A, 81, B, 40000, 0)).not.toBe(v);
    expect(g.isn(A, 80, B + 1, 40000, 0)).not.toBe(v);
    expect(g.isn(A, 80, B, 40001, 0)).not.toBe(v);
    expect(g.isn(B, 40000, A, 80, 0)).not.toBe(v); // the reverse direction
  });

  test("F depends on the secret", () => {
    const other = new IsnGenerator(new Uint32Array([0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00e]));
    expect(other.isn(A, 80, B, 40000, 0)).not.toBe(new IsnGenerator(SECRET).isn(A, 80, B, 40000, 0));
  });

  test("offsets of neighbouring 4-tuples look uniform (no sequential pattern)", () => {
    const g = new IsnGenerator(SECRET);
    const buckets = new Array(16).fill(0);
    const seen = new Set<number>();
    for (let p = 0; p < 4096; p++) {
      const v = g.isn(A, 80, B, 30000 + p, 0) >>> 0;
      seen.add(v);
      buckets[v >>> 28]++;
    }
    expect(seen.size).toBe(4096);
    // each of 16 top-nibble buckets expects 256; allow generous +-35 %
    for (const b of buckets) {
      expect(b).toBeGreaterThan(166);
      expect(b).toBeLessThan(346);
    }
  });

  test("the secret is copied, and a short one is rejected", () => {
    const s = new Uint32Array(SECRET);
    const g = new IsnGenerator(s);
    const v = g.isn(A, 80, B, 40000, 0);
    s[0] = 0;
    expect(g.isn(A, 80, B, 40000, 0)).toBe(v);
    expect(() => new IsnGenerator(new Uint32Array(2))).toThrow(/128 bits/);
  });
});

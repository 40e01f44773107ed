import { describe, expect, test } from "bun:test";
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub } from "../../../src/wire/seq";

const MAX = 0x7fffffff;
const MIN = -0x80000000;

describe("comparisons modulo 2^32 (RFC 9293 3.4)", () => {
  test("plain ordering away from the wrap", () => {
    expect(seqLt(1, 2)).toBe(true);
    expect(seqLt(2, 1)).toBe(false);
    expect(seqLt(5, 5)).toBe(false);
    expect(seqLe(5, 5)).toBe(true);
    expect(seqGt(2, 1)).toBe(true);
    expect(seqGe(5, 5)).toBe(true);
    expect(seqGe(4, 5)).toBe(false);
  });

  test("across the uint32 wrap: 0xfffffff0 < 0x10", () => {
    const a = 0xfffffff0 | 0;
    expect(seqLt(a, 0x10)).toBe(true);
    expect(seqGt(0x10, a)).toBe(true);
    expect(seqLe(a, 0x10)).toBe(true);
    expect(seqGe(0x10, a)).toBe(true);
    // uint32 inputs are coerced the same way
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
  });

  test("across the int32 sign boundary: MAX < MIN", () => {
    expect(seqLt(MAX, MIN)).toBe(true);
    expect(seqGt(MIN, MAX)).toBe(true);
  });

  test("numbers 2^31 - 1 apart still order; the antipode is 'less' both ways (RFC 1982 undefined case)", () => {
    expect(seqLt(0, MAX)).toBe(true);
    expect(seqGt(MAX, 0)).toBe(true);
    expect(seqLt(0, MIN)).toBe(true);
    expect(seqLt(MIN, 0)).toBe(true);
  });
});

describe("arithmetic returns int32", () => {
  test("seqAdd wraps", () => {
    expect(seqAdd(MAX, 1)).toBe(MIN);
    expect(seqAdd(-1, 1)).toBe(0);
    expect(seqAdd(0xffffffff, 2)).toBe(1);
    expect(seqAdd(10, -20)).toBe(-10);
  });

  test("seqSub is the signed distance", () => {
    expect(seqSub(0x10, 0xfffffff0 | 0)).toBe(0x20);
    expect(seqSub(0xfffffff0 | 0, 0x10)).toBe(-0x20);
    expect(seqSub(MIN, MAX)).toBe(1);
  });

  test("seqMax/seqMin pick by sequence order, not numeric order", () => {
    const a = 0xfffffff0 | 0;
    expect(seqMax(a, 0x10)).toBe(0x10);
    expect(seqMin(a, 0x10)).toBe(a);
    expect(seqMax(0xfffffff0, 0x10)).toBe(0x10);
    expect(seqMin(0xfffffff0, 0x10)).toBe(a); // returned as int32
    expect(seqMax(3, 3)).toBe(3);
  });
});

describe("seqInWindow (lo <= x < lo + len)", () => {
  test("edges are half-open", () => {
    expect(seqInWindow(100, 100, 10)).toBe(true);
    expect(seqInWindow(109, 100, 10)).toBe(true);
    expect(seqInWindow(110, 100, 10)).toBe(false);
    expect(seqInWindow(99, 100, 10)).toBe(false);
  });

  test("an empty window contains nothing", () => {
    expect(seqInWindow(100, 100, 0)).toBe(false);
  });

  test("a window straddling the wrap", () => {
    const lo = 0xfffffffa | 0;
    expect(seqInWindow(lo, lo, 16)).toBe(true);
    expect(seqInWindow(0, lo, 16)).toBe(true);
    expect(seqInWindow(9, lo, 16)).toBe(true);
    expect(seqInWindow(10, lo, 16)).toBe(false);
    expect(seqInWindow(lo - 1, lo, 16)).toBe(false);
  });

  test("agrees with a BigInt model on random inputs", () => {
    let s = 12345;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) | 0);
    for (let i = 0; i < 5000; i++) {
      const x = next();
      const lo = next();
      const len = (next() >>> 2) & 0x3fffffff;
      const d = (BigInt(x >>> 0) - BigInt(lo >>> 0) + (1n << 32n)) % (1n << 32n);
      expect(seqInWindow(x, lo, len)).toBe(d < BigInt(len));
    }
  });
});

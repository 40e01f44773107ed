/**
 * Native bulk-byte operations (c-shim/qs_mem.c through ffi/native-mem.ts):
 * the checksum sum and copies agree with the TypeScript paths on random
 * ranges (odd and even offsets and lengths), and buffers that are not
 * registered fall back.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { shimBuilt } from "../../../ffi/shim";
import { installNativeMem, nativeCopy, nativeMemInstalled, nativeSum } from "../../../src/mem/native-mem";
import { checksumPartial } from "../../../src/wire/checksum";
import { SeededRng } from "../../../src/net/seeded-rng";

const skip = !shimBuilt();
if (skip) console.log("native-mem tests skipped: the DPDK shim is not built (npm run setup)");

/** Reference: RFC 1071 sum of big-endian words, odd byte padded. */
function refSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  if (len & 1) s += b[off + len - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe.skipIf(skip)("native-mem", () => {
  const a = new Uint8Array(2 << 20);
  const b = new Uint8Array(2 << 20);
  beforeAll(async () => {
    const { enableNativeMem } = await import("../../../ffi/native-mem");
    enableNativeMem();
  });
  afterAll(() => installNativeMem(null));

  test("installed", () => {
    expect(nativeMemInstalled()).toBe(true);
  });

  test("sum equals the RFC 1071 reference and the TypeScript path on random ranges", () => {
    const rng = new SeededRng(7);
    for (let i = 0; i < a.length; i++) a[i] = rng.nextU32() & 0xff;
    for (let k = 0; k < 300; k++) {
      const off = rng.below(100_000);
      const len = rng.below(20_000);
      const ns = nativeSum(a, off, len);
      expect(ns).toBeGreaterThanOrEqual(0);
      expect(fold(ns)).toBe(refSum(a, off, len));
      expect(fold(checksumPartial(a, off, len, 0))).toBe(refSum(a, off, len));
    }
  });

  test("copy moves exactly the bytes asked for", () => {
    const rng = new SeededRng(9);
    for (let k = 0; k < 100; k++) {
      const so = rng.below(50_000);
      const d0 = rng.below(50_000);
      const n = 1 + (rng.below(10_000));
      b.fill(0xee, d0 - (d0 > 0 ? 1 : 0), d0 + n + 1);
      expect(nativeCopy(b, d0, a, so, n)).toBe(true);
      for (let i = 0; i < n; i++) if (b[d0 + i] !== a[so + i]) throw new Error(`byte ${i} differs`);
      if (d0 > 0) expect(b[d0 - 1]).toBe(0xee);
      expect(b[d0 + n]).toBe(0xee);
    }
  });

  test("small buffers are not registered: callers fall back", () => {
    const small = new Uint8Array(4096);
    expect(nativeCopy(small, 0, a, 0, 100)).toBe(false);
    expect(nativeSum(small, 0, 200)).toBe(-1);
  });
});

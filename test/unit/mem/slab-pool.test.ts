import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { SlabPool } from "../../../src/mem/slab-pool";

describe("SlabPool", () => {
  test("hands out every index once, then reports exhaustion as -1 and counts it", () => {
    const p = new SlabPool({ objBytes: 64, count: 10 });
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const idx = p.alloc();
      expect(idx).toBeGreaterThanOrEqual(0);
      expect(idx).toBeLessThan(10);
      seen.add(idx);
    }
    expect(seen.size).toBe(10);
    expect(p.inUse()).toBe(10);
    expect(p.available()).toBe(0);
    expect(p.alloc()).toBe(-1);
    expect(p.alloc()).toBe(-1);
    expect(p.allocFailures).toBe(2);
  });

  test("recovers after frees; LIFO: the last freed object is reused first", () => {
    const p = new SlabPool({ objBytes: 32, count: 4 });
    const a = [p.alloc(), p.alloc(), p.alloc(), p.alloc()];
    expect(p.alloc()).toBe(-1);
    expect(p.free(a[1]!)).toBe(true);
    expect(p.free(a[3]!)).toBe(true);
    expect(p.available()).toBe(2);
    expect(p.alloc()).toBe(a[3]!);
    expect(p.alloc()).toBe(a[1]!);
    expect(p.alloc()).toBe(-1);
    for (const i of a) p.free(i);
    expect(p.inUse()).toBe(0);
    expect(p.available()).toBe(4);
  });

  test("double free and out-of-range free are detected, counted and harmless", () => {
    const p = new SlabPool({ objBytes: 16, count: 3 });
    const x = p.alloc();
    expect(p.free(x)).toBe(true);
    expect(p.free(x)).toBe(false);
    expect(p.free(-1)).toBe(false);
    expect(p.free(3)).toBe(false);
    expect(p.free(1.5)).toBe(false);
    expect(p.badFrees).toBe(4);
    // The pool is not corrupted: exactly 3 distinct objects come out.
    const got = new Set([p.alloc(), p.alloc(), p.alloc()]);
    expect(got.size).toBe(3);
    expect(got.has(-1)).toBe(false);
    expect(p.alloc()).toBe(-1);
  });

  test("objects do not overlap: offsetOf spaces them objBytes apart inside mem", () => {
    const p = new SlabPool({ objBytes: 48, count: 5 });
    expect(p.mem.byteLength).toBe(48 * 5);
    const ids = [p.alloc(), p.alloc(), p.alloc(), p.alloc(), p.alloc()];
    for (const i of ids) p.mem.fill(i + 1, p.offsetOf(i), p.offsetOf(i) + p.objBytes);
    for (const i of ids) {
      expect(p.offsetOf(i)).toBe(i * 48);
      for (let b = 0; b < 48; b++) expect(p.mem[p.offsetOf(i) + b]).toBe(i + 1);
      expect(p.dv.getUint8(p.offsetOf(i))).toBe(i + 1);
    }
  });

  test("lives inside a caller-supplied backing buffer at an offset, metadata included", () => {
    const off = 128;
    const need = SlabPool.bytesFor(100, 7);
    expect(need).toBeGreaterThanOrEqual(700 + 7 * 4 + 1);
    const buf = new ArrayBuffer(off + need + 16);
    const guard = new Uint8Array(buf);
    guard.fill(0xee);
    const p = new SlabPool({ objBytes: 100, count: 7, backing: buf, byteOffset: off });
    for (let i = 0; i < 7; i++) {
      const idx = p.alloc();
      p.mem.fill(0x11, p.offsetOf(idx), p.offsetOf(idx) + 100);
    }
    expect(p.alloc()).toBe(-1);
    expect(p.mem.byteOffset).toBe(off);
    // Nothing written before the offset or after the computed size.
    for (let i = 0; i < off; i++) expect(guard[i]).toBe(0xee);
    for (let i = off + need; i < buf.byteLength; i++) expect(guard[i]).toBe(0xee);
    expect(() => new SlabPool({ objBytes: 100, count: 7, backing: new ArrayBuffer(need - 1) })).toThrow(RangeError);
    expect(() => new SlabPool({ objBytes: 100, count: 7, backing: buf, byteOffset: 3 })).toThrow(RangeError);
    expect(() => new SlabPool({ objBytes: 0, count: 7 })).toThrow(RangeError);
  });

  test("random alloc/free sequence against a set model", () => {
    const count = 200;
    const p = new SlabPool({ objBytes: 8, count });
    const live = new Set<number>();
    let seed = 7;
    for (let step = 0; step < 50_000; step++) {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      const k = (seed >>> 16) & 3;
      if (k < 2) {
        const idx = p.alloc();
        if (live.size === count) expect(idx).toBe(-1);
        else {
          expect(live.has(idx)).toBe(false);
          live.add(idx);
        }
      } else {
        const idx = (seed >>> 4) % count;
        expect(p.free(idx)).toBe(live.has(idx));
        live.delete(idx);
      }
      expect(p.inUse()).toBe(live.size);
    }
  });

  test("allocation guard: alloc/free allocate no heap objects", () => {
    const p = new SlabPool({ objBytes: 2048, count: 1024 });
    const held = new Int32Array(1024);
    const round = (): void => {
      for (let r = 0; r < 20; r++) {
        let n = 0;
        for (;;) {
          const i = p.alloc();
          if (i < 0) break;
          held[n++] = i;
        }
        for (let j = 0; j < n; j++) p.free(held[j]!);
        p.free(held[0]!); // a double free on the hot path too
      }
    };
    round();
    Bun.gc(true);
    const before = heapStats().objectCount;
    for (let k = 0; k < 20; k++) round();
    Bun.gc(true);
    const after = heapStats().objectCount;
    console.log(`SlabPool allocation guard: heap objects ${before} -> ${after} over ${20 * 20 * 1025 * 2} operations`);
    expect(after - before).toBeLessThan(50);
    expect(p.inUse()).toBe(0);
  });
});

/**
 * The shed-SYN filter (src/sched/syn-retry-filter.ts): a time-generational
 * blocked Bloom filter with lazily cleared, stamped lines. Lifetimes in
 * generations, the false-match rate against the header's arithmetic, the line
 * cap, and the table's memory (taken at the first insert, given back when idle;
 * or reserved at once and kept).
 * Virtual time only.
 */
import { describe, expect, test } from "bun:test";
import { SynRetryFilter } from "../../../src/sched/syn-retry-filter";

const G = 1_100_000;

/** Two independent-looking 32-bit hashes of i (the tests' keys). */
function h1(i: number): number {
  let h = Math.imul(i ^ 0x5bd1e995, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
function h2(i: number): number {
  let h = Math.imul(i ^ 0x27d4eb2f, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return h ^ (h >>> 16);
}

/** P(a key not added matches one line) averaged over a Poisson(lam) load: the header's formula. */
function fpLine(lam: number, k: number, bits = 480): number {
  let p = Math.exp(-lam);
  let s = 0;
  for (let l = 0; l < lam * 4 + 60; l++) {
    if (l > 0) p *= lam / l;
    s += p * (1 - (1 - 1 / bits) ** (k * l)) ** k;
  }
  return s;
}

describe("generations: a key lives (Q - 1) to Q generations, then is gone", () => {
  test("added at the last microsecond of generation 0: found through generation Q - 1 (>= (Q - 1) * genUs later), gone in generation Q", () => {
    const f = new SynRetryFilter({ blocks: 1 << 10, generations: 4, genUs: G });
    f.setTime(G - 1);
    expect(f.add(h1(1), h2(1))).toBe(true);
    for (const t of [G - 1, G, 2 * G, 3 * G, G - 1 + 3 * G, 4 * G - 1]) {
      f.setTime(t);
      expect(f.has(h1(1), h2(1))).toBe(true);
    }
    f.setTime(4 * G);
    expect(f.has(h1(1), h2(1))).toBe(false);
  });

  test("added at the first microsecond of a generation: gone exactly Q generations later (at most Q * genUs)", () => {
    const f = new SynRetryFilter({ blocks: 1 << 10, generations: 3, genUs: G });
    f.setTime(5 * G);
    f.add(h1(2), h2(2));
    f.setTime(8 * G - 1);
    expect(f.has(h1(2), h2(2))).toBe(true);
    f.setTime(8 * G);
    expect(f.has(h1(2), h2(2))).toBe(false);
  });

  test("the lazy clear: a line reused Q generations later holds none of its old keys, and its count starts again", () => {
    // One block, so every key shares it: 20 keys in generation 0, then in generation 4 (same line) 5 others.
    const f = new SynRetryFilter({ blocks: 1, generations: 4, genUs: G, lineCap: 20 });
    f.setTime(0);
    for (let i = 0; i < 20; i++) expect(f.add(h1(i), h2(i))).toBe(true);
    expect(f.add(h1(99), h2(99))).toBe(false); // the line is at its cap for this generation
    expect(f.refused).toBe(1);
    f.setTime(4 * G);
    for (let i = 100; i < 105; i++) expect(f.add(h1(i), h2(i))).toBe(true);
    for (let i = 0; i < 20; i++) expect(f.has(h1(i), h2(i))).toBe(false);
    for (let i = 100; i < 105; i++) expect(f.has(h1(i), h2(i))).toBe(true);
  });

  test("stale lines are skipped without any sweep: after a pause of many generations nothing old is found", () => {
    const f = new SynRetryFilter({ blocks: 1 << 8, generations: 4, genUs: G, idleReleaseUs: 1e12 });
    f.setTime(0);
    for (let i = 0; i < 1000; i++) f.add(h1(i), h2(i));
    f.setTime(100 * G);
    let found = 0;
    for (let i = 0; i < 1000; i++) if (f.has(h1(i), h2(i))) found++;
    expect(found).toBe(0);
    expect(f.bytes()).toBeGreaterThan(0); // still allocated: the stamps alone hide the old keys
  });
});

describe("false matches against the arithmetic", () => {
  test("10 M keys never added, against Q - 1 full generations at the load of 3.5 M SYN/s: within the formula's rate", () => {
    // Scaled: 2^14 blocks (4 MiB) at the default table's per-line load (14.7 keys per line per generation
    // = 3.5 M/s * 1.1 s / 2^18 blocks); the rate per lookup depends only on the per-line load.
    const blocks = 1 << 14;
    const lam = (3_500_000 * 1.1) / (1 << 18);
    const f = new SynRetryFilter({ blocks, generations: 4, genUs: G });
    let key = 1;
    for (let g = 0; g < 3; g++) {
      f.setTime(g * G);
      const n = Math.round(lam * blocks);
      for (let i = 0; i < n; i++, key++) f.add(h1(key), h2(key));
    }
    expect(f.refused).toBe(0);
    // Generation 3: the three filled ones are live, the current one is empty.
    f.setTime(3 * G);
    let hits = 0;
    const N = 10_000_000;
    for (let i = 0; i < N; i++) if (f.has(h1(0x40000000 + i), h2(0x40000000 + i))) hits++;
    const expected = 3 * fpLine(lam, f.hashes) * N; // 3 * 7.9e-6 * 1e7 = 236
    expect(expected).toBeGreaterThan(200);
    expect(expected).toBeLessThan(280);
    // Poisson sd ~15: the measured count is within 30 % of the formula.
    expect(hits).toBeGreaterThan(expected * 0.7);
    expect(hits).toBeLessThan(expected * 1.3);
  });

  test("at lineCap a line's false-match rate stays bounded whatever the load", () => {
    const f = new SynRetryFilter({ blocks: 1 << 8, generations: 2, genUs: G });
    f.setTime(0);
    for (let i = 0; i < 100_000; i++) f.add(h1(i), h2(i)); // 390 per block offered, 48 taken
    expect(f.added).toBe(48 * 256);
    expect(f.refused).toBe(100_000 - 48 * 256);
    let hits = 0;
    const N = 1_000_000;
    for (let i = 0; i < N; i++) if (f.has(h1(0x40000000 + i), h2(0x40000000 + i))) hits++;
    const bound = (1 - (1 - 1 / 480) ** (f.hashes * 48)) ** f.hashes; // 1.0e-2
    expect(hits / N).toBeLessThan(bound * 1.2);
    expect(hits / N).toBeGreaterThan(bound * 0.5);
  });
});

describe("memory only while remembering", () => {
  test("no table before the first add; given back idleReleaseUs after the last one (through the memory hook), taken again by the next", () => {
    let allocs = 0;
    let frees = 0;
    const f = new SynRetryFilter({
      blocks: 1 << 10,
      memory: {
        alloc: (b) => {
          allocs++;
          return new ArrayBuffer(b);
        },
        free: () => void frees++,
      },
    });
    f.setTime(1_000);
    expect(f.bytes()).toBe(0);
    expect(f.has(h1(1), h2(1))).toBe(false);
    f.add(h1(1), h2(1));
    expect(f.bytes()).toBe((1 << 10) * 4 * 64);
    expect(allocs).toBe(1);
    f.setTime(1_000 + 9_999_999);
    expect(f.bytes()).toBeGreaterThan(0);
    f.setTime(1_000 + 10_000_000);
    expect(f.bytes()).toBe(0);
    expect(frees).toBe(1);
    expect(f.has(h1(1), h2(1))).toBe(false);
    f.add(h1(2), h2(2));
    expect(allocs).toBe(2);
    expect(f.has(h1(2), h2(2))).toBe(true);
  });

  test("reserve(): the table is taken at once with every 4 KiB page written, and kept however long nothing is added", () => {
    let allocs = 0;
    let frees = 0;
    let buf: ArrayBuffer | null = null;
    const f = new SynRetryFilter({
      blocks: 1 << 10,
      memory: {
        alloc: (b) => {
          allocs++;
          // Not zero, so the test sees which words reserve() wrote.
          buf = new ArrayBuffer(b);
          new Int32Array(buf).fill(7);
          return buf;
        },
        free: () => void frees++,
      },
    });
    f.setTime(1_000);
    f.reserve();
    expect(allocs).toBe(1);
    expect(f.bytes()).toBe((1 << 10) * 4 * 64);
    const words = new Int32Array(buf!);
    for (let i = 0; i < words.length; i += 1024) expect(words[i]).toBe(0);
    expect(words[1]).toBe(7);
    f.setTime(1_000 + 60_000_000);
    expect(f.bytes()).toBeGreaterThan(0);
    expect(frees).toBe(0);
    // Still a working filter on the kept table, no second allocation.
    f.add(h1(3), h2(3));
    expect(f.has(h1(3), h2(3))).toBe(true);
    expect(allocs).toBe(1);
    f.setTime(1_000 + 120_000_000);
    expect(f.bytes()).toBeGreaterThan(0);
    expect(f.has(h1(3), h2(3))).toBe(false);
    new SynRetryFilter({ blocks: 0 }).reserve(); // off: nothing to take
  });

  test("blocks 0 is off; bad options are RangeErrors", () => {
    const off = new SynRetryFilter({ blocks: 0 });
    expect(off.add(1, 2)).toBe(false);
    expect(off.bytes()).toBe(0);
    expect(() => new SynRetryFilter({ blocks: 3 })).toThrow(RangeError);
    expect(() => new SynRetryFilter({ generations: 1 })).toThrow(RangeError);
    expect(() => new SynRetryFilter({ genUs: 10 })).toThrow(RangeError);
    expect(() => new SynRetryFilter({ hashes: 0 })).toThrow(RangeError);
    expect(() => new SynRetryFilter({ lineCap: 256 })).toThrow(RangeError);
    expect(() => new SynRetryFilter({ idleReleaseUs: 1_000_000 })).toThrow(RangeError); // < 4 * 1.1 s
  });
});

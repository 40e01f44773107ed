/**
 * apps/iotep/flow-index.ts: the wire monitor's typed-array flow table, against
 * a JS Map as the reference, with collisions, growth and keys that differ
 * only in the port or the server port offset.
 */
import { describe, expect, test } from "bun:test";
import { FlowIndex } from "../../../apps/iotep/flow-index";

describe("FlowIndex", () => {
  test("sized from the expected count: 100 k flows, no growth, every key found", () => {
    const t = new FlowIndex(100_000);
    expect(t.slots).toBe(262_144);
    for (let k = 0; k < 100_000; k++) {
      // 10.0.0.0/16 addresses with 50 ports each, as mcc spreads its connections.
      const ip = (0x0a000000 + (k % 2000)) | 0;
      expect(t.getOrInsert(ip, 1024 + Math.floor(k / 2000), 0, k)).toBe(k);
    }
    expect(t.size).toBe(100_000);
    expect(t.grows).toBe(0);
    for (let k = 0; k < 100_000; k++) {
      const ip = (0x0a000000 + (k % 2000)) | 0;
      expect(t.getOrInsert(ip, 1024 + Math.floor(k / 2000), 0, -5)).toBe(k);
      expect(t.get(ip, 1024 + Math.floor(k / 2000), 0)).toBe(k);
    }
    expect(t.get(0x0a000000, 9999, 0)).toBe(-1);
  });

  test("grows past the expected count and keeps every entry; matches a Map on random keys", () => {
    const t = new FlowIndex(0);
    const ref = new Map<number, number>();
    let seed = 12345;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    for (let k = 0; k < 20_000; k++) {
      // Few addresses, ports and offsets: many keys share parts, some repeat.
      const ip = 0xc0a80000 + (rnd() % 64); // above 2^31: negative as int32
      const port = rnd() % 512;
      const off = rnd() % 32;
      const key = (ip * 65536 + port) * 32 + off;
      const had = ref.get(key);
      if (had === undefined) {
        const fresh = ref.size;
        ref.set(key, fresh);
        expect(t.getOrInsert(ip, port, off, fresh)).toBe(fresh);
      } else {
        expect(t.getOrInsert(ip, port, off, -9)).toBe(had);
      }
    }
    expect(t.size).toBe(ref.size);
    expect(ref.size).toBeGreaterThan(5000);
    expect(t.grows).toBeGreaterThan(0);
    for (const [key, v] of ref) {
      const off = key % 32;
      const rest = (key - off) / 32;
      const port = rest % 65536;
      const ip = (rest - port) / 65536;
      expect(t.get(ip, port, off)).toBe(v);
    }
  });

  test("port, offset and address each tell keys apart", () => {
    const t = new FlowIndex(4);
    expect(t.getOrInsert(1, 80, 0, 0)).toBe(0);
    expect(t.getOrInsert(1, 80, 1, 1)).toBe(1);
    expect(t.getOrInsert(1, 81, 0, 2)).toBe(2);
    expect(t.getOrInsert(2, 80, 0, 3)).toBe(3);
    expect(t.getOrInsert(1, 0, 0, 4)).toBe(4);
    expect(t.getOrInsert(0, 0, 0, 5)).toBe(5);
    expect([t.get(1, 80, 0), t.get(1, 80, 1), t.get(1, 81, 0), t.get(2, 80, 0), t.get(1, 0, 0), t.get(0, 0, 0)]).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

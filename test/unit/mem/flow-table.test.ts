import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { FLOW_MAX_LOAD, FlowTable, ListenTable, flowHash } from "../../../src/mem/flow-table";

const IP_A = 0x0a000001; // 10.0.0.1
const IP_B = 0xc0a80102; // 192.168.1.2 (above 2^31: exercises uint32 vs int32)

function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Up to `count` client ports (IP_B:port -> IP_A:80) whose home slot among `m` slots is `home`. */
function portsWithHome(seed: number, m: number, home: number, count: number): number[] {
  const ports: number[] = [];
  for (let port = 1; ports.length < count && port < 65536; port++) {
    const h = flowHash(seed, IP_A, IP_B | 0, (80 << 16) | port);
    if (Math.floor(((h >>> 0) / 4294967296) * m) === home) ports.push(port);
  }
  return ports;
}

describe("FlowTable", () => {
  test("insert, lookup, remove; uint32 and int32 spellings of an IP are the same key", () => {
    const t = new FlowTable({ capacity: 16 });
    expect(t.insert(IP_A, 80, IP_B, 40000, 5)).toBe(true);
    expect(t.size).toBe(1);
    expect(t.lookup(IP_A, 80, IP_B, 40000)).toBe(5);
    expect(t.lookup(IP_A, 80, IP_B | 0, 40000)).toBe(5);
    expect(t.lookup(IP_A, 80, IP_B, 40001)).toBe(-1);
    expect(t.lookup(IP_A, 81, IP_B, 40000)).toBe(-1);
    expect(t.lookup(IP_B, 80, IP_A, 40000)).toBe(-1);
    expect(t.lookup(IP_A, 40000, IP_B, 80)).toBe(-1);
    expect(t.remoteIp(5) >>> 0).toBe(IP_B);
    expect(t.localIp(5)).toBe(IP_A);
    expect(t.localPort(5)).toBe(80);
    expect(t.remotePort(5)).toBe(40000);
    expect(t.remove(IP_A, 80, IP_B, 40000)).toBe(5);
    expect(t.remove(IP_A, 80, IP_B, 40000)).toBe(-1);
    expect(t.lookup(IP_A, 80, IP_B, 40000)).toBe(-1);
    expect(t.size).toBe(0);
  });

  test("rejects a present key, a value in use and a value out of range", () => {
    const t = new FlowTable({ capacity: 4 });
    expect(t.insert(IP_A, 1, IP_B, 2, 0)).toBe(true);
    expect(t.insert(IP_A, 1, IP_B, 2, 1)).toBe(false); // key present
    expect(t.insert(IP_A, 1, IP_B, 3, 0)).toBe(false); // value 0 in use
    expect(t.insert(IP_A, 1, IP_B, 3, 4)).toBe(false);
    expect(t.insert(IP_A, 1, IP_B, 3, -1)).toBe(false);
    expect(t.insert(IP_A, 1, IP_B, 3, 1.5)).toBe(false);
    expect(t.size).toBe(1);
    expect(t.remotePort(0)).toBe(2); // untouched by the rejected inserts
  });

  test("exhaustion: a full table refuses inserts, recovers after removals", () => {
    const cap = 100;
    const t = new FlowTable({ capacity: cap });
    for (let i = 0; i < cap; i++) expect(t.insert(IP_A, 80, IP_B + i, 1024 + i, i)).toBe(true);
    expect(t.size).toBe(cap);
    // All values are in use, so any insert fails.
    expect(t.insert(IP_A, 80, IP_B, 9, 0)).toBe(false);
    expect(t.remove(IP_A, 80, IP_B + 7, 1024 + 7)).toBe(7);
    expect(t.insert(IP_A, 80, IP_B, 9, 7)).toBe(true);
    for (let i = 0; i < cap; i++) if (i !== 7) expect(t.lookup(IP_A, 80, IP_B + i, 1024 + i)).toBe(i);
    expect(t.lookup(IP_A, 80, IP_B, 9)).toBe(7);
    expect(t.removeValue(7)).toBe(true);
    expect(t.removeValue(7)).toBe(false);
    expect(t.has(7)).toBe(false);
    expect(t.size).toBe(cap - 1);
  });

  test("backward-shift deletion across the end of the slot array (wrap-around)", () => {
    const cap = 8;
    const seed = 42;
    const t = new FlowTable({ capacity: cap, seed });
    const m = t.slotCount;
    // Find keys whose home slot is the last one.
    const keys = portsWithHome(seed, m, m - 1, 4);
    expect(keys.length).toBe(4);
    for (let i = 0; i < 4; i++) expect(t.insert(IP_A, 80, IP_B, keys[i]!, i)).toBe(true);
    for (let i = 0; i < 4; i++) expect(t.probeLength(IP_A, 80, IP_B, keys[i]!)).toBe(i + 1);
    // Remove the one in the home slot: the others shift back across the wrap.
    expect(t.remove(IP_A, 80, IP_B, keys[0]!)).toBe(0);
    for (let i = 1; i < 4; i++) {
      expect(t.lookup(IP_A, 80, IP_B, keys[i]!)).toBe(i);
      expect(t.probeLength(IP_A, 80, IP_B, keys[i]!)).toBe(i);
    }
    expect(t.remove(IP_A, 80, IP_B, keys[2]!)).toBe(2);
    expect(t.lookup(IP_A, 80, IP_B, keys[1]!)).toBe(1);
    expect(t.lookup(IP_A, 80, IP_B, keys[3]!)).toBe(3);
    expect(t.probeLength(IP_A, 80, IP_B, keys[3]!)).toBe(2);
  });

  test("a run longer than the stored distance (saturated at 63): lookups, probe lengths and removals stay exact", () => {
    const cap = 200;
    const seed = 7;
    const t = new FlowTable({ capacity: cap, seed });
    const m = t.slotCount;
    // 80 keys with the same home slot: distances 0..79, the last 17 past the 6-bit field.
    const ports = portsWithHome(seed, m, 17, 80);
    expect(ports.length).toBe(80);
    for (let i = 0; i < 80; i++) expect(t.insert(IP_A, 80, IP_B, ports[i]!, i)).toBe(true);
    for (let i = 0; i < 80; i++) {
      expect(t.lookup(IP_A, 80, IP_B, ports[i]!)).toBe(i);
      expect(t.probeLength(IP_A, 80, IP_B, ports[i]!)).toBe(i + 1);
    }
    expect(t.probeStats().max).toBe(80);
    expect(t.insert(IP_A, 80, IP_B, ports[70]!, 150)).toBe(false); // present, found past the saturation
    expect(t.lookup(IP_A, 80, IP_B, 1)).toBe(ports.includes(1) ? 0 : -1);
    // Remove every other one from the front: the saturated entries move back and become exact again.
    for (let i = 0; i < 80; i += 2) expect(t.remove(IP_A, 80, IP_B, ports[i]!)).toBe(i);
    for (let i = 1; i < 80; i += 2) {
      expect(t.lookup(IP_A, 80, IP_B, ports[i]!)).toBe(i);
      expect(t.probeLength(IP_A, 80, IP_B, ports[i]!)).toBe((i + 1) / 2);
    }
    for (let i = 0; i < 80; i += 2) expect(t.lookup(IP_A, 80, IP_B, ports[i]!)).toBe(-1);
    expect(t.size).toBe(40);
  });

  test("verifies keys against the caller's arrays (e.g. the connection table)", () => {
    const cap = 32;
    const conn = {
      localIp: new Int32Array(cap),
      remoteIp: new Int32Array(cap),
      localPort: new Uint16Array(cap),
      remotePort: new Uint16Array(cap),
    };
    const t = new FlowTable({ capacity: cap, keys: conn });
    expect(t.insert(IP_A, 443, IP_B, 5555, 9)).toBe(true);
    expect(conn.localPort[9]).toBe(443);
    expect(conn.remoteIp[9]! >>> 0).toBe(IP_B);
    expect(t.lookup(IP_A, 443, IP_B, 5555)).toBe(9);
    // The keys ARE the caller's: changing them (a bug elsewhere) makes the entry unreachable.
    conn.remotePort[9] = 5556;
    expect(t.lookup(IP_A, 443, IP_B, 5555)).toBe(-1);
    conn.remotePort[9] = 5555;
    expect(t.removeValue(9)).toBe(true);
    expect(FlowTable.bytesFor(cap, false)).toBeLessThan(FlowTable.bytesFor(cap, true));
    expect(() => new FlowTable({ capacity: cap + 1, keys: conn })).toThrow(RangeError);
  });

  test("random operations against a Map model (small key space: clusters, wrap-around, refills)", () => {
    for (let seed = 1; seed <= 5; seed++) {
      const r = rng(seed);
      const cap = 40;
      const t = new FlowTable({ capacity: cap, seed: seed * 7919 });
      const model = new Map<string, number>();
      const valueKey = new Map<number, string>();
      const keyOf = (i: number): [number, number, number, number] => [IP_A + (i & 1), 80 + ((i >> 1) & 1), IP_B + ((i >> 2) & 3), 1000 + (i >> 4)];
      const domain = 160;
      for (let step = 0; step < 6000; step++) {
        const ki = Math.floor(r() * domain);
        const [a, b, c, d] = keyOf(ki);
        const ks = `${ki}`;
        const op = r();
        if (op < 0.5) {
          const v = Math.floor(r() * cap);
          const expectOk = !model.has(ks) && !valueKey.has(v) && model.size < cap;
          expect(t.insert(a, b, c, d, v)).toBe(expectOk);
          if (expectOk) {
            model.set(ks, v);
            valueKey.set(v, ks);
          }
        } else if (op < 0.85) {
          const want = model.get(ks) ?? -1;
          expect(t.remove(a, b, c, d)).toBe(want);
          if (want >= 0) {
            model.delete(ks);
            valueKey.delete(want);
          }
        } else {
          for (let i = 0; i < domain; i++) {
            const [a2, b2, c2, d2] = keyOf(i);
            expect(t.lookup(a2, b2, c2, d2)).toBe(model.get(`${i}`) ?? -1);
          }
        }
        expect(t.size).toBe(model.size);
      }
    }
  });

  test("1 M entries: bytes per entry, probe lengths, lookup cost (own keys and caller's arrays)", () => {
    const n = 1_000_000;
    const port = (i: number): number => 1024 + (i & 63) * 997;
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = (i * 7919) % n;
    const conn = { localIp: new Int32Array(n), remoteIp: new Int32Array(n), localPort: new Uint16Array(n), remotePort: new Uint16Array(n) };
    for (const mode of ["own keys", "caller's arrays"]) {
      const t = new FlowTable({ capacity: n, seed: 0x1234567, keys: mode === "own keys" ? undefined : conn });
      // Server-like keys: one local address and port, remote addresses over a /16 and many ports.
      let ok = 0;
      for (let i = 0; i < n; i++) if (t.insert(IP_A, 8080, IP_B + (i >>> 6), port(i), i)) ok++;
      expect(ok).toBe(n);
      let maxProbe = 0;
      let sumProbe = 0;
      let samples = 0;
      for (let i = 0; i < n; i += 101) {
        const p = t.probeLength(IP_A, 8080, IP_B + (i >>> 6), port(i));
        sumProbe += p;
        samples++;
        if (p > maxProbe) maxProbe = p;
      }
      let hits = 0;
      const t0 = performance.now();
      for (let rep = 0; rep < 2; rep++) {
        for (let i = 0; i < n; i++) {
          const k = perm[i]!;
          if (t.lookup(IP_A, 8080, IP_B + (k >>> 6), port(k)) === k) hits++;
        }
      }
      const ns = ((performance.now() - t0) * 1e6) / (2 * n);
      let misses = 0;
      for (let i = 0; i < n; i += 3) if (t.lookup(IP_A, 8081, IP_B + (i >>> 6), port(i)) === -1) misses++;
      expect(hits).toBe(2 * n);
      expect(misses).toBe(Math.ceil(n / 3));
      // Full table: load FLOW_MAX_LOAD. Linear probing's mean successful probe there is
      // (1 + 1 / (1 - 0.8)) / 2 = 3 (Knuth); Robin Hood keeps the same mean and a short tail.
      const st = t.probeStats();
      expect(st.load).toBeGreaterThan(FLOW_MAX_LOAD - 0.01);
      expect(st.mean).toBeLessThan(3.5);
      expect(Math.abs(st.mean - sumProbe / samples)).toBeLessThan(0.3);
      expect(st.max).toBeLessThan(64);
      expect(maxProbe).toBeLessThanOrEqual(st.max);
      const bytes = FlowTable.bytesFor(n, mode === "own keys") / n;
      console.log(
        `FlowTable (${mode}): ${bytes.toFixed(2)} B/entry at load ${st.load.toFixed(3)}; mean probe ${st.mean.toFixed(2)}, max ${st.max}; ` +
          `random hit lookup ~${ns.toFixed(0)} ns at 1e6 entries (4 KiB pages: TLB-miss bound)`,
      );
      let removed = 0;
      for (let i = 0; i < n; i += 2) if (t.remove(IP_A, 8080, IP_B + (i >>> 6), port(i)) === i) removed++;
      let left = 0;
      for (let i = 1; i < n; i += 2) if (t.lookup(IP_A, 8080, IP_B + (i >>> 6), port(i)) === i) left++;
      expect(removed).toBe(n / 2);
      expect(left).toBe(n / 2);
      expect(t.size).toBe(n / 2);
    }
    expect(FlowTable.bytesFor(n, false) / n).toBeLessThanOrEqual(5.2);
    expect(FlowTable.bytesFor(n, true) / n).toBeLessThanOrEqual(17.2);
  }, 30_000); // 2 x 1 M inserts + lookups over 4 KiB pages: seconds on a loaded 2-core machine

  test("allocation guard: insert/lookup/remove allocate no heap objects", () => {
    const cap = 4096;
    const t = new FlowTable({ capacity: cap });
    const round = (): void => {
      for (let i = 0; i < cap; i++) t.insert(IP_A, 80, IP_B + i, 1000 + (i & 255), i);
      for (let i = 0; i < cap; i++) t.lookup(IP_A, 80, IP_B + i, 1000 + (i & 255));
      for (let i = 0; i < cap; i++) t.lookup(IP_A, 81, IP_B + i, 1000 + (i & 255));
      for (let i = 0; i < cap; i++) t.remove(IP_A, 80, IP_B + i, 1000 + (i & 255));
    };
    round();
    Bun.gc(true);
    const before = heapStats().objectCount;
    for (let k = 0; k < 30; k++) round();
    Bun.gc(true);
    const after = heapStats().objectCount;
    console.log(`FlowTable allocation guard: heap objects ${before} -> ${after} over ${30 * 4 * cap} operations`);
    expect(after - before).toBeLessThan(50);
    expect(t.size).toBe(0);
  });
});

describe("ListenTable", () => {
  test("exact binding wins over the wildcard; remove falls back to the wildcard", () => {
    const l = new ListenTable({ capacity: 4 });
    expect(l.add(0, 80, 1)).toBe(true);
    expect(l.add(IP_A, 80, 2)).toBe(true);
    expect(l.add(IP_A, 80, 3)).toBe(false);
    expect(l.lookup(IP_A, 80)).toBe(2);
    expect(l.lookup(IP_B, 80)).toBe(1);
    expect(l.lookup(IP_B, 81)).toBe(-1);
    expect(l.get(IP_B, 80)).toBe(-1);
    expect(l.remove(IP_A, 80)).toBe(2);
    expect(l.lookup(IP_A, 80)).toBe(1);
    expect(l.remove(0, 80)).toBe(1);
    expect(l.lookup(IP_A, 80)).toBe(-1);
    expect(l.size).toBe(0);
  });

  test("exhaustion and recovery", () => {
    const l = new ListenTable({ capacity: 3 });
    expect(l.add(IP_A, 1, 10)).toBe(true);
    expect(l.add(IP_A, 2, 11)).toBe(true);
    expect(l.add(IP_B, 1, 12)).toBe(true);
    expect(l.add(IP_B, 2, 13)).toBe(false);
    expect(l.remove(IP_A, 2)).toBe(11);
    expect(l.remove(IP_A, 2)).toBe(-1);
    expect(l.add(IP_B, 2, 13)).toBe(true);
    expect(l.lookup(IP_B, 2)).toBe(13);
    expect(l.lookup(IP_A, 1)).toBe(10);
    expect(l.lookup(IP_B, 1)).toBe(12);
    expect(l.size).toBe(3);
  });
});

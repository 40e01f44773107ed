import { describe, expect, test } from "bun:test";
import { SpscRing } from "../../../src/mem/spsc-ring";

describe("SpscRing (one thread)", () => {
  test("push/pop in order; full is a return value; recovers after pops", () => {
    const r = SpscRing.create(4);
    expect(r.capacity).toBe(4);
    expect(r.pop()).toBe(-1);
    for (let i = 0; i < 4; i++) expect(r.push(100 + i)).toBe(true);
    expect(r.push(999)).toBe(false);
    expect(r.size()).toBe(4);
    expect(r.pop()).toBe(100);
    expect(r.push(104)).toBe(true);
    for (let i = 1; i <= 4; i++) expect(r.pop()).toBe(100 + i);
    expect(r.pop()).toBe(-1);
    expect(r.size()).toBe(0);
  });

  test("uint32 items above 2^31 come back unchanged (not confused with -1)", () => {
    const r = SpscRing.create(2);
    expect(r.push(0xffffffff)).toBe(true);
    expect(r.push(0x80000000)).toBe(true);
    expect(r.pop()).toBe(0xffffffff);
    expect(r.pop()).toBe(0x80000000);
  });

  test("batches wrap around the item array and are partial when space runs out", () => {
    const r = SpscRing.create(8);
    const src = new Uint32Array(8);
    const dst = new Uint32Array(8);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 100; round++) {
      const want = 1 + (round % 8);
      for (let i = 0; i < want; i++) src[i] = next + i;
      const free = 8 - r.size();
      const m = r.pushBatch(src, want);
      expect(m).toBe(Math.min(want, free));
      next += m;
      const k = r.popBatch(dst, 1 + ((round * 3) % 8));
      for (let i = 0; i < k; i++) expect(dst[i]).toBe(expected++);
    }
    while (r.size() > 0) {
      const k = r.popBatch(dst, 8);
      for (let i = 0; i < k; i++) expect(dst[i]).toBe(expected++);
    }
    expect(expected).toBe(next);
    expect(r.popBatch(dst, 8)).toBe(0);
  });

  test("the free-running head/tail counters wrap past 2^32", () => {
    const made = SpscRing.create(4);
    const hdr = new Int32Array(made.sab, 0, 48);
    hdr[0] = -3; // head = tail = 2^32 - 3
    hdr[16] = -3;
    const r = SpscRing.attach(made.sab);
    for (let v = 0; v < 40; v++) {
      expect(r.push(v)).toBe(true);
      expect(r.push(v + 1000)).toBe(true);
      expect(r.size()).toBe(2);
      expect(r.pop()).toBe(v);
      expect(r.pop()).toBe(v + 1000);
    }
    expect(hdr[0]).toBe(77); // -3 + 80
  });

  test("waitNotEmpty returns at once when items are there and times out when none come", () => {
    const r = SpscRing.create(4);
    expect(r.waitNotEmpty(0)).toBe(false);
    r.push(1);
    expect(r.waitNotEmpty(1000)).toBe(true);
    expect(r.waitNotFull(0)).toBe(true);
    r.push(2);
    r.push(3);
    r.push(4);
    expect(r.waitNotFull(0)).toBe(false);
  });

  test("rejects a bad capacity and a foreign buffer", () => {
    expect(() => SpscRing.create(3)).toThrow(RangeError);
    expect(() => SpscRing.create(1)).toThrow(RangeError);
    expect(() => SpscRing.attach(new SharedArrayBuffer(256))).toThrow(RangeError);
  });
});

describe("SpscRing across Workers", () => {
  test("a producer Worker and a consumer Worker pass 10 million items in order", async () => {
    const count = 10_000_000;
    const ring = SpscRing.create(1024);
    const url = new URL("./spsc-ring.worker.ts", import.meta.url).href;
    const run = (role: string): Promise<any> =>
      new Promise((resolve, reject) => {
        const w = new Worker(url);
        w.onmessage = (e) => {
          resolve(e.data);
          w.terminate();
        };
        w.onerror = (e) => {
          reject(e);
          w.terminate();
        };
        w.postMessage({ role, sab: ring.sab, count, batch: 32 });
      });
    const t0 = performance.now();
    const [cons, prod] = await Promise.all([run("consumer"), run("producer")]);
    const ms = performance.now() - t0;
    expect(cons.received).toBe(count);
    expect(cons.disorder).toBe(0);
    expect(cons.sum).toBe((count * (count - 1)) / 2);
    expect(ring.size()).toBe(0);
    console.log(
      `SpscRing: 1e7 items producer->consumer Worker in ${ms.toFixed(0)} ms wall ` +
        `(consumer ${cons.ms.toFixed(0)} ms, ${(count / cons.ms / 1000).toFixed(1)} M items/s; waits: producer ${prod.waits}, consumer ${cons.waits})`,
    );
  }, 30_000);

  test("a consumer sleeping in waitNotEmpty is woken by the producer's push, not by its timeout", async () => {
    const ring = SpscRing.create(8);
    const w = new Worker(new URL("./spsc-ring.worker.ts", import.meta.url).href);
    const res: any = await new Promise((resolve, reject) => {
      w.onmessage = (e) => {
        if (e.data.role === "ready") ring.push(42);
        else resolve(e.data);
      };
      w.onerror = reject;
      w.postMessage({ role: "waiter", sab: ring.sab, count: 0, batch: 1 });
    });
    w.terminate();
    expect(res.ok).toBe(true);
    expect(res.value).toBe(42);
    expect(res.ms).toBeLessThan(5000);
  }, 20_000);
});

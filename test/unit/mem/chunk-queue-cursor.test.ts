import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ChunkQueues } from "../../../src/mem/chunk-queue";
import { SlabPool } from "../../../src/mem/slab-pool";

/**
 * The read cursor of ChunkQueues.copyOut: reads far from the head start where the last
 * read ended; consume/reset move or drop it; queues sharing a cursor slot (ids equal
 * modulo the slot count) never read each other's chunks.
 */
describe("ChunkQueues read cursor", () => {
  test("sequential reads through a long queue, then a read behind the cursor, after consume and reset", () => {
    const pool = new SlabPool({ objBytes: 64, count: 256 });
    const cq = new ChunkQueues({ queues: 2, pool });
    const other = new Uint8Array(8000).fill(0xee);
    const data = new Uint8Array(8000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >> 8)) & 255;
    expect(cq.append(0, data, 0, data.length)).toBe(data.length);
    const out = new Uint8Array(100);
    for (let off = 0; off + 100 <= 8000; off += 100) {
      expect(cq.copyOut(0, off, out, 0, 100)).toBe(100);
      expect(out).toEqual(data.subarray(off, off + 100));
    }
    // Behind the cursor (a retransmission from the head).
    expect(cq.copyOut(0, 10, out, 0, 100)).toBe(100);
    expect(out).toEqual(data.subarray(10, 110));
    expect(cq.copyOut(0, 7000, out, 0, 100)).toBe(100);
    // Consume 1000 bytes (15 chunks and a part): the cursor shifts with the head.
    cq.consume(0, 1000);
    expect(cq.copyOut(0, 6100, out, 0, 100)).toBe(100);
    expect(out).toEqual(data.subarray(7100, 7200));
    // Consume past the cursor's chunk: it is dropped, reads still correct even when another
    // queue reuses the freed chunks (their links change).
    cq.consume(0, 6500);
    expect(cq.append(1, other, 0, 8000)).toBe(8000);
    expect(cq.copyOut(0, 0, out, 0, 100)).toBe(100);
    expect(out).toEqual(data.subarray(7500, 7600));
    cq.reset(0);
    expect(cq.append(0, data, 0, 500)).toBe(500);
    expect(cq.copyOut(0, 300, out, 0, 100)).toBe(100);
    expect(out).toEqual(data.subarray(300, 400));
  });

  test("random appends, reads, consumes and resets on queues sharing a cursor slot match a model", () => {
    const ids = [0, 1024, 2048, 5];
    // A small pool: freed chunks are soon reused by another queue, so a stale cursor would read wrong bytes.
    const op = fc.oneof(
      fc.record({ k: fc.constant("append" as const), q: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 1, max: 700 }) }),
      fc.record({ k: fc.constant("read" as const), q: fc.integer({ min: 0, max: 3 }), at: fc.nat(3000), n: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ k: fc.constant("consume" as const), q: fc.integer({ min: 0, max: 3 }), n: fc.nat(500) }),
      fc.record({ k: fc.constant("reset" as const), q: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const pool = new SlabPool({ objBytes: 48, count: 60 });
        const cq = new ChunkQueues({ queues: 2049, pool });
        const model: number[][] = [[], [], [], []];
        let stamp = 1;
        const out = new Uint8Array(400);
        for (const o of ops) {
          const q = ids[o.q]!;
          const m = model[o.q]!;
          if (o.k === "append") {
            const src = new Uint8Array(o.n);
            for (let i = 0; i < o.n; i++) src[i] = (stamp + i * 31) & 255;
            stamp += 7;
            const got = cq.append(q, src, 0, o.n);
            for (let i = 0; i < got; i++) m.push(src[i]!);
          } else if (o.k === "read") {
            const got = cq.copyOut(q, o.at, out, 0, o.n);
            const want = o.at < m.length ? Math.min(o.n, m.length - o.at) : 0;
            expect(got).toBe(want);
            for (let i = 0; i < got; i++) if (out[i] !== m[o.at + i]) throw new Error(`byte ${o.at + i} of queue ${q}`);
          } else if (o.k === "consume") {
            cq.consume(q, o.n);
            m.splice(0, Math.min(o.n, m.length));
          } else {
            cq.reset(q);
            m.length = 0;
          }
          expect(cq.length(q)).toBe(m.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

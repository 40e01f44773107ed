/**
 * Zero-copy variants of the sockets API over two full stacks in virtual time:
 * receive views of the receive buffer itself (released after the callback, or
 * explicitly with readView/release), and sends written into stack-provided
 * space (reserve/commit).
 */
import { describe, expect, test } from "bun:test";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { ChunkQueues } from "../../src/mem/chunk-queue";
import { SlabPool } from "../../src/mem/slab-pool";
import { StackPair } from "../helpers/stack-pair";

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

describe("zero-copy sockets", () => {
  test("reserve/commit sends and zeroCopy data views receive 300 KiB intact; views point into the stack's buffer pool", () => {
    const p = new StackPair();
    const payload = pattern(300 * 1024, 3);
    const got: number[] = [];
    let inPool = 0;
    let closed = false;
    p.sb.listen({
      port: 9,
      zeroCopy: true,
      socket: {
        data(_s, d) {
          if (d.buffer === p.sb.tcp.pool.mem.buffer) inPool++;
          for (let i = 0; i < d.length; i++) got.push(d[i]!);
        },
        end: (s) => s.end(),
        close: () => void (closed = true),
      },
    });
    let off = 0;
    const pump = (s: TcpSocket<undefined>) => {
      while (off < payload.length) {
        const view = s.reserve(payload.length - off);
        if (view === null) return;
        view.set(payload.subarray(off, off + view.length));
        s.commit(view.length);
        off += view.length;
      }
      s.shutdown();
    };
    void p.sa.connect({ hostname: "10.0.0.2", port: 9, socket: { open: pump, drain: pump, end: (s) => s.end() } });
    p.run(p.clock.nowUs + 30_000_000, () => closed);
    expect(got.length).toBe(payload.length);
    expect(Buffer.from(got).equals(Buffer.from(payload))).toBe(true);
    expect(inPool).toBeGreaterThan(0);
    expect(closed).toBe(true);
    // Released views left no buffer chunks behind on either side.
    expect(p.sb.tcp.chunksInUse()).toBe(0);
  });

  test("a paused socket reads in place with readView and gives bytes back with release", () => {
    const p = new StackPair();
    let srv: TcpSocket<undefined> | null = null;
    p.sb.listen({ port: 9, socket: { open: (s) => { srv = s; s.pause(); } } });
    void p.sa.connect({ hostname: "10.0.0.2", port: 9, socket: { open: (s) => void s.write("hello, zero copy") } });
    p.run(p.clock.nowUs + 1_000_000);
    expect(srv).not.toBeNull();
    const v = srv!.readView();
    expect(v).not.toBeNull();
    expect(new TextDecoder().decode(v!)).toBe("hello, zero copy");
    srv!.release(5);
    expect(new TextDecoder().decode(srv!.readView()!)).toBe(", zero copy");
    srv!.release(11);
    expect(srv!.readView()).toBeNull();
  });
});

describe("ChunkQueues tail spans", () => {
  test("tailSpan reserves at most one chunk, commitAppend makes bytes readable in order", () => {
    const pool = new SlabPool({ objBytes: 64, count: 8 });
    const q = new ChunkQueues({ queues: 2, pool });
    const span = new Int32Array(2);
    expect(q.append(0, pattern(40, 1), 0, 40)).toBe(40);
    expect(q.tailSpan(0, 100, span)).toBe(24); // the rest of the first chunk
    pool.mem.set(pattern(24, 9), span[0]!);
    q.commitAppend(0, 24);
    expect(q.tailSpan(0, 100, span)).toBe(64); // a fresh chunk
    q.commitAppend(0, 10);
    expect(q.length(0)).toBe(74);
    const out = new Uint8Array(74);
    q.copyOut(0, 0, out, 0, 74);
    expect(Array.from(out.subarray(40, 64))).toEqual(Array.from(pattern(24, 9)));
    expect(() => q.commitAppend(0, 100)).toThrow(RangeError);
    q.consume(0, 74);
    expect(pool.inUse()).toBe(0);
  });
});

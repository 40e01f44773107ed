/**
 * STYLE.md allocation guard: the per-segment path (input of a data segment with
 * timestamps, delayed-ACK decisions, output of data with options, ACK processing)
 * must not allocate. Two TcpLayers exchange data in place through a zero-copy link.
 */
import { expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { makeTcpConfig } from "../../../src/tcp/config";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import type { L4Tx } from "../../../src/net/l4-tx";
import { seededRng } from "../../helpers/tcp-fixtures";

class CountingSink {
  n = 0;
  event(_c: number, _k: number, _a: number): void {
    this.n++;
  }
}

/** Queues committed segments in preallocated slots; deliver() feeds them to the peer in place. */
class QueueTx implements L4Tx {
  readonly mem = new Uint8Array(2048 * 64);
  readonly dv = new DataView(this.mem.buffer);
  readonly maxL4Bytes = 1480;
  readonly lens = new Int32Array(64);
  readonly srcs = new Int32Array(64);
  readonly dsts = new Int32Array(64);
  count = 0;
  peer: TcpLayer | null = null;
  begin(): number {
    return this.count < 64 ? this.count * 2048 : -1;
  }
  commit(src: number, dst: number, _p: number, len: number, _prio: number): void {
    this.lens[this.count] = len;
    this.srcs[this.count] = src;
    this.dsts[this.count] = dst;
    this.count++;
  }
  abort(): void {}
  /** Deliver what is queued; returns how many. Segments sent in reply go to the other queue. */
  deliver(now: number): number {
    const n = this.count;
    for (let i = 0; i < n; i++) this.peer!.input(now, this.mem, this.dv, i * 2048, this.lens[i]!, this.srcs[i]!, this.dsts[i]!);
    this.count = 0;
    return n;
  }
}

test("no heap growth per segment on the established data path", () => {
  const cfg = makeTcpConfig({ maxConnections: 8, chunkCount: 1024 });
  const ta = new QueueTx();
  const tb = new QueueTx();
  const a = new TcpLayer({ config: cfg, tx: ta, rng: seededRng(1), nowUs: 0, events: new CountingSink() });
  const b = new TcpLayer({ config: cfg, tx: tb, rng: seededRng(2), nowUs: 0, events: new CountingSink() });
  ta.peer = b;
  tb.peer = a;
  const settle = (now: number): void => {
    for (let k = 0; k < 100; k++) if (ta.deliver(now) + tb.deliver(now) === 0) break;
  };
  const lb = b.listen(0x0a000002, 80, 8);
  const ca = a.connect(0, 0x0a000001, 5555, 0x0a000002, 80);
  settle(0);
  const cb = b.accept(lb);
  expect(cb).toBeGreaterThanOrEqual(0);
  const buf = new Uint8Array(8192);
  let now = 1000;
  const round = (): void => {
    now += 100;
    a.send(ca, buf, 0, 8192);
    a.flush(now);
    settle(now);
    while (b.recv(cb, buf, 0, buf.length) > 0);
    b.send(cb, buf, 0, 100);
    b.flush(now);
    settle(now);
    while (a.recv(ca, buf, 0, buf.length) > 0);
    a.flush(now);
    b.flush(now);
    settle(now);
    now += 50_000; // let delayed ACKs fire
    a.timers(now);
    b.timers(now);
    settle(now);
  };
  for (let i = 0; i < 2000; i++) round(); // warm up (JIT, lazily created structures)
  Bun.gc(true);
  const before = heapStats().objectCount;
  const segsBefore = a.counters.segsOut + b.counters.segsOut;
  for (let i = 0; i < 5000; i++) round();
  Bun.gc(true);
  const after = heapStats().objectCount;
  const segs = a.counters.segsOut + b.counters.segsOut - segsBefore;
  console.log("segments:", segs, "heap objects before/after:", before, after);
  expect(segs).toBeGreaterThan(20_000);
  expect(after - before).toBeLessThan(200);
});

/**
 * The per-segment copies allocate no views: with the native bulk-byte
 * operations installed (ffi/native-mem.ts, the DPDK shim), segment payloads
 * move between packet memory and the buffer pool by address, so a bulk
 * transfer creates no Uint8Array per segment. Counted without a GC in between
 * (a collected temporary view would not show in a live-object count after
 * Bun.gc(), which is what alloc-guard.test.ts checks).
 */
import { afterAll, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { shimBuilt } from "../../../ffi/shim";
import { installNativeMem } from "../../../src/mem/native-mem";
import { makeTcpConfig } from "../../../src/tcp/config";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import type { L4Tx } from "../../../src/net/l4-tx";
import { seededRng } from "../../helpers/tcp-fixtures";

const skip = !shimBuilt();
if (skip) console.log("alloc-views skipped: the DPDK shim is not built (npm run setup)");

const SLOT = 2048;
const SLOTS = 1024; // 2 MiB of packet memory: big enough to be registered for native copies

class Sink {
  event(_c: number, _k: number, _a: number): void {}
}

class QueueTx implements L4Tx {
  readonly mem = new Uint8Array(SLOT * SLOTS);
  readonly dv = new DataView(this.mem.buffer);
  readonly maxL4Bytes = 1480;
  readonly lens = new Int32Array(SLOTS);
  readonly srcs = new Int32Array(SLOTS);
  readonly dsts = new Int32Array(SLOTS);
  count = 0;
  peer: TcpLayer | null = null;
  begin(): number {
    return this.count < SLOTS ? this.count * SLOT : -1;
  }
  commit(src: number, dst: number, _p: number, len: number, _prio: number): void {
    this.lens[this.count] = len;
    this.srcs[this.count] = src;
    this.dsts[this.count] = dst;
    this.count++;
  }
  abort(): void {}
  deliver(now: number): number {
    const n = this.count;
    for (let i = 0; i < n; i++) this.peer!.input(now, this.mem, this.dv, i * SLOT, this.lens[i]!, this.srcs[i]!, this.dsts[i]!);
    this.count = 0;
    return n;
  }
}

afterAll(() => installNativeMem(null));

test.skipIf(skip)("bulk data path: no Uint8Array per segment with native copies", async () => {
  const { enableNativeMem } = await import("../../../ffi/native-mem");
  enableNativeMem();
  const cfg = makeTcpConfig({ maxConnections: 8, chunkCount: 1024, chunkBytes: 16384, sndBufBytes: 1 << 20, rcvBufBytes: 1 << 20 });
  const ta = new QueueTx();
  const tb = new QueueTx();
  const a = new TcpLayer({ config: cfg, tx: ta, rng: seededRng(1), nowUs: 0, events: new Sink() });
  const b = new TcpLayer({ config: cfg, tx: tb, rng: seededRng(2), nowUs: 0, events: new Sink() });
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
  const span = new Int32Array(2);
  let now = 1000;
  const round = (): void => {
    now += 100;
    // Zero-copy send of 64 KiB and zero-copy receive of everything.
    for (let left = 65536; left > 0; ) {
      const n = a.sendReserve(ca, left, span);
      if (n <= 0) break;
      a.sendCommit(ca, n);
      left -= n;
    }
    a.flush(now);
    settle(now);
    for (let n = b.recvView(cb, span); n > 0; n = b.recvView(cb, span)) b.recvRelease(cb, n);
    b.flush(now);
    settle(now);
    a.flush(now);
    settle(now);
  };
  for (let i = 0; i < 300; i++) round();
  Bun.gc(true);
  const views = (): number => heapStats().objectTypeCounts.Uint8Array ?? 0;
  const before = views();
  const segsBefore = a.counters.segsOut;
  for (let i = 0; i < 100; i++) round();
  const after = views();
  const segs = a.counters.segsOut - segsBefore;
  console.log("data segments:", segs, "Uint8Array objects before/after (no GC between):", before, after);
  expect(segs).toBeGreaterThan(4000);
  expect(after - before).toBeLessThan(20);
});

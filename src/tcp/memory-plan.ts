/**
 * The memory a TcpLayer takes, as named blocks a MemoryProvider places (hugepage
 * regions or the JS heap): tables sized for maxConnections, side tables sized for
 * the connections that can hold loss or reordering state at once, and the buffer
 * pool (which does not grow with maxConnections). Capacity planning
 * (src/api/capacity.ts) and the benchmarks' bytes-per-connection figures read it.
 */
import { ChunkQueues } from "../mem/chunk-queue";
import { FlowTable } from "../mem/flow-table";
import { SlabPool } from "../mem/slab-pool";
import type { TcpConfig } from "./config";
import { congestionBytesFor } from "./congestion";
import { ConnTable } from "./conn-table";
import { dirtySlots } from "./dirty-list";
import { RttEstimator } from "./rtt";
import { SackScoreboard } from "./sack-scoreboard";
import { TIMER_KINDS } from "./timers";
import { TimerWheel } from "./timer-wheel";

/** One block of memory the TcpLayer asks its provider for. */
export interface MemoryPart {
  name: string;
  bytes: number;
  /** Whether the block grows with maxConnections (false: the buffer pool). */
  perConnection: boolean;
}

/**
 * Side-table records (SACK scoreboards, out-of-order receive ranges) for n
 * connections: only connections with outstanding loss or reordering hold one.
 */
export function sideRecords(n: number): number {
  return Math.min(n, Math.max(256, Math.ceil(n / 16)));
}

/** The memory blocks a TcpLayer for `cfg` takes (tables sized for maxConnections, and the buffer pool). */
export function memoryPlan(cfg: TcpConfig): MemoryPart[] {
  const n = cfg.maxConnections;
  const side = sideRecords(n);
  return [
    { name: "tcp-conns", bytes: ConnTable.bytesFor(n), perConnection: true },
    { name: "tcp-chunks", bytes: SlabPool.bytesFor(cfg.chunkBytes, cfg.chunkCount), perConnection: false },
    { name: "tcp-sndq", bytes: ChunkQueues.bytesFor({ queues: n, poolCount: cfg.chunkCount, maxRanges: 1, oooRecords: 0 }), perConnection: true },
    { name: "tcp-rcvq", bytes: ChunkQueues.bytesFor({ queues: n, poolCount: cfg.chunkCount, maxRanges: cfg.maxOooRanges, oooRecords: side }), perConnection: true },
    { name: "tcp-timers", bytes: TimerWheel.bytesFor(n * TIMER_KINDS, true, TIMER_KINDS), perConnection: true },
    { name: "tcp-rtt", bytes: RttEstimator.bytesFor(n), perConnection: true },
    { name: "tcp-cc", bytes: congestionBytesFor(cfg.cc, n), perConnection: true },
    { name: "tcp-sack", bytes: SackScoreboard.bytesFor(n, side), perConnection: true },
    { name: "tcp-flows", bytes: FlowTable.bytesFor(n, false), perConnection: true },
    { name: "tcp-dirty", bytes: 4 * dirtySlots(n), perConnection: true },
  ];
}

/** Total bytes of memoryPlan(cfg): [tables, buffer pool]. */
export function memoryBytes(cfg: TcpConfig): { tables: number; buffers: number } {
  const plan = memoryPlan(cfg);
  let tables = 0;
  let buffers = 0;
  for (let i = 0; i < plan.length; i++) {
    if (plan[i]!.perConnection) tables += plan[i]!.bytes;
    else buffers += plan[i]!.bytes;
  }
  return { tables, buffers };
}

/**
 * Table bytes per connection (everything memoryPlan allocates for maxConnections, side
 * tables and fixed parts included, divided by maxConnections); the buffer pool's share
 * is in `bufferPool`, not in the total.
 */
export function bytesPerConnection(cfg: TcpConfig): { total: number; parts: Record<string, number>; bufferPool: number } {
  const plan = memoryPlan(cfg);
  const n = cfg.maxConnections;
  const parts: Record<string, number> = {};
  let total = 0;
  let bufferPool = 0;
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i]!;
    if (!p.perConnection) {
      bufferPool += p.bytes / n;
      continue;
    }
    parts[p.name] = p.bytes / n;
    total += p.bytes / n;
  }
  return { total, parts, bufferPool };
}

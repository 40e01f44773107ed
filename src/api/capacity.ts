/**
 * Capacity as configuration (issue 4): how many connections the stack holds and
 * how much buffer memory it has, turned into TCP settings and a memory plan,
 * checked at start against the memory this machine has free: free 2 MB
 * hugepages, or MemAvailable with --no-huge. A plan that does not fit is a
 * ConfigError with one line naming what is needed, what is free and the fix.
 *
 * The stack's tables (TcpLayer.memoryPlan: connection table, timers, flow table,
 * queues, ...) and its buffer pool then live in regions from the shim
 * (ffi/region.ts): hugetlb pages when reserved ones are free, normal pages with
 * --no-huge.
 */
import { readFileSync } from "node:fs";
import type { MemoryProvider } from "../mem/carve";
import { makeTcpConfig, type TcpConfig } from "../tcp/config";
import { type MemoryPart, TcpLayer } from "../tcp/tcp-layer";
import type { FlagValues } from "./cli";
import { ConfigError } from "./errors";

export const DEFAULT_MAX_CONNS = 65536;
export const DEFAULT_BUF_MB = 32;
const MB = 1024 * 1024;
const HUGE_PAGE = 2 * MB;

export interface Capacity {
  /** --max-conns: connection ids (any state, TIME-WAIT included). */
  maxConns: number;
  /** Whether --max-conns was given (else an app's own maxConnections wins over the default). */
  maxConnsGiven: boolean;
  /** --buf-mb: send + receive buffer pool, MB. */
  bufMb: number;
  /** --huge-budget-mb: most hugepage memory the stack may take, MB (0: no limit but what is free). */
  hugeBudgetMb: number;
  noHuge: boolean;
}

export interface CapacityPlan {
  cap: Capacity;
  /** TCP settings the capacity implies (merged over the app's own). */
  tcp: TcpConfig;
  /** Bytes of the per-connection tables and of the buffer pool, each region rounded up to a 2 MB page. */
  tableBytes: number;
  bufferBytes: number;
  totalBytes: number;
  /** Table bytes per connection (the stack's state for one connection at full capacity). */
  bytesPerConn: number;
}

/** Free memory this plan is checked against. */
export interface MemoryInfo {
  hugeFreeBytes: number;
  hugeTotalPages: number;
  memAvailableBytes: number;
}

export function capacityFrom(v: FlagValues): Capacity {
  const maxConns = (v["max-conns"] as number | undefined) ?? DEFAULT_MAX_CONNS;
  const bufMb = (v["buf-mb"] as number | undefined) ?? DEFAULT_BUF_MB;
  const hugeBudgetMb = (v["huge-budget-mb"] as number | undefined) ?? 0;
  if (!Number.isInteger(maxConns) || maxConns < 1 || maxConns > 100_000_000) {
    throw new ConfigError(`--max-conns ${maxConns}: expected a connection count from 1 to 100000000`);
  }
  if (!Number.isInteger(bufMb) || bufMb < 1) throw new ConfigError(`--buf-mb ${bufMb}: expected a positive number of MB`);
  return { maxConns, maxConnsGiven: v["max-conns"] !== undefined, bufMb, hugeBudgetMb, noHuge: v["no-huge"] === true };
}

function roundPage(n: number): number {
  return Math.ceil(n / HUGE_PAGE) * HUGE_PAGE;
}

/** Largest region the tables are packed into (one ArrayBuffer each; offsets stay well below 2^31). */
const TABLE_REGION_MAX = 1024 * MB;

/**
 * Where each per-connection table goes: the tables are packed in plan order into
 * as few regions as fit TABLE_REGION_MAX (each table on an 8-byte boundary), so
 * only the last page of each region is partly empty rather than one per table
 * (at 1 M connections that was ~6 B per connection of page rounding).
 */
export function tableLayout(parts: MemoryPart[]): { at: Map<string, { region: number; offset: number }>; regionBytes: number[] } {
  const at = new Map<string, { region: number; offset: number }>();
  const regionBytes: number[] = [];
  let cur = -1;
  for (const p of parts) {
    if (!p.perConnection) continue;
    const b = Math.ceil(Math.max(8, p.bytes) / 8) * 8;
    if (cur < 0 || (regionBytes[cur]! > 0 && regionBytes[cur]! + b > TABLE_REGION_MAX)) {
      regionBytes.push(0);
      cur++;
    }
    at.set(p.name, { region: cur, offset: regionBytes[cur]! });
    regionBytes[cur]! += b;
  }
  return { at, regionBytes: regionBytes.map(roundPage) };
}

/** The TCP config and memory a capacity needs; `tcp` are the app's own TCP settings. */
export function planCapacity(capIn: Capacity, tcp: Partial<TcpConfig> = {}): CapacityPlan {
  const cap = !capIn.maxConnsGiven && tcp.maxConnections !== undefined ? { ...capIn, maxConns: tcp.maxConnections } : capIn;
  const chunkBytes = tcp.chunkBytes ?? 2048;
  const cfg = makeTcpConfig({ ...tcp, maxConnections: cap.maxConns, chunkCount: Math.max(1, Math.floor((cap.bufMb * MB) / chunkBytes)), chunkBytes });
  const plan = TcpLayer.memoryPlan(cfg);
  let bufferBytes = 0;
  let rawTables = 0;
  for (const p of plan) {
    if (p.perConnection) rawTables += p.bytes;
    else bufferBytes += roundPage(p.bytes);
  }
  let tableBytes = 0;
  for (const b of tableLayout(plan).regionBytes) tableBytes += b;
  return { cap, tcp: cfg, tableBytes, bufferBytes, totalBytes: tableBytes + bufferBytes, bytesPerConn: rawTables / cap.maxConns };
}

/** Free hugepage memory and MemAvailable, from /proc/meminfo. */
export function readMemoryInfo(text?: string): MemoryInfo {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync("/proc/meminfo", "utf8");
    } catch {
      t = "";
    }
  }
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(t!);
    return m ? Number(m[1]) : 0;
  };
  const pageKb = kb("Hugepagesize") || 2048;
  return {
    hugeFreeBytes: kb("HugePages_Free") * pageKb * 1024,
    hugeTotalPages: kb("HugePages_Total"),
    memAvailableBytes: kb("MemAvailable") * 1024,
  };
}

function fmt(bytes: number): string {
  return bytes >= 1024 * MB ? (bytes / (1024 * MB)).toFixed(2) + " GiB" : (bytes / MB).toFixed(0) + " MiB";
}

/** Headroom left for the JS heap and the runtime with --no-huge. */
const NO_HUGE_HEADROOM = 512 * MB;

/** Throw a one-line ConfigError when the plan does not fit in `mem`. */
export function checkCapacity(plan: CapacityPlan, mem: MemoryInfo): void {
  const cap = plan.cap;
  const what = `--max-conns ${cap.maxConns} --buf-mb ${cap.bufMb} need ${fmt(plan.totalBytes)} (${fmt(plan.tableBytes)} of tables, ${plan.bytesPerConn.toFixed(0)} B per connection, + ${fmt(plan.bufferBytes)} of buffers)`;
  if (cap.noHuge) {
    const avail = mem.memAvailableBytes - NO_HUGE_HEADROOM;
    if (plan.totalBytes > avail) {
      throw new ConfigError(`${what} but only ${fmt(Math.max(0, avail))} of MemAvailable is left after ${fmt(NO_HUGE_HEADROOM)} for the runtime: lower --max-conns or --buf-mb`);
    }
    return;
  }
  if (cap.hugeBudgetMb > 0 && plan.totalBytes > cap.hugeBudgetMb * MB) {
    throw new ConfigError(`${what}, over --huge-budget-mb ${cap.hugeBudgetMb}: raise the budget or lower --max-conns or --buf-mb`);
  }
  if (plan.totalBytes > mem.hugeFreeBytes) {
    const pages = Math.ceil((plan.totalBytes - mem.hugeFreeBytes) / HUGE_PAGE);
    throw new ConfigError(
      `${what} of hugepage memory but ${fmt(mem.hugeFreeBytes)} is free (${mem.hugeTotalPages} x 2 MB pages reserved): reserve ${pages} more (QSTACK_HUGEPAGES=${mem.hugeTotalPages + pages} scripts/setup), lower --max-conns or --buf-mb, or pass --no-huge`,
    );
  }
}

/**
 * A MemoryProvider handing out shim regions (hugetlb pages unless noHuge); keeps
 * a tally. With `plan`, the per-connection tables are packed into shared regions
 * (tableLayout); without it, and for the buffer pool, each block gets its own.
 */
export async function regionMemory(
  noHuge: boolean,
  plan?: CapacityPlan,
): Promise<{ provider: MemoryProvider; regions: ArrayBuffer[]; bytes: () => number; hugeBytes: () => number }> {
  const { allocRegion, regionIsHuge } = await import("../../ffi/region");
  const regions: ArrayBuffer[] = [];
  let total = 0;
  let huge = 0;
  const region = (name: string, size: number): ArrayBuffer => {
    const buffer = allocRegion("qs-" + name, size, { huge: !noHuge });
    regions.push(buffer);
    total += size;
    if (regionIsHuge(buffer)) huge += size;
    return buffer;
  };
  const layout = plan !== undefined ? tableLayout(TcpLayer.memoryPlan(plan.tcp)) : null;
  const tables: (ArrayBuffer | null)[] = layout !== null ? layout.regionBytes.map(() => null) : [];
  const provider: MemoryProvider = (bytes, name) => {
    const at = layout?.at.get(name);
    if (at !== undefined) {
      const r = at.region;
      if (tables[r] === null) tables[r] = region(`tcp-tables-${r}`, layout!.regionBytes[r]!);
      return { buffer: tables[r]!, offset: at.offset };
    }
    return { buffer: region(name, roundPage(Math.max(8, bytes))), offset: 0 };
  };
  return { provider, regions, bytes: () => total, hugeBytes: () => huge };
}
